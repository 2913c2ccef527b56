#include "node/api/work_pool.h"

#include <sys/resource.h>
#include <cerrno>
#include <sys/syscall.h>
#include <unistd.h>

#include <utility>

#include "common/assert.h"

namespace v2g::api {

WorkPool::WorkPool(std::string name, int64_t threads, int64_t queue_max, int nice)
    : name_(std::move(name)), threads_max_(threads), queue_max_(queue_max), nice_(nice) {
  V2G_ASSERT(threads >= 1 && queue_max >= 0);
  threads_.reserve(static_cast<size_t>(threads));
  for (int64_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

WorkPool::~WorkPool() { Stop(); }

bool WorkPool::TrySubmit(std::function<void()> job) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto waiting = static_cast<int64_t>(queue_.size());
  // Admitted while a thread is free or the queue has room: running + waiting stays within
  // threads + queue_max.
  if (stopping_ || busy_.load() + waiting >= threads_max_ + queue_max_) return false;
  queue_.push_back(std::move(job));
  queued_.store(waiting + 1);
  cv_.notify_one();
  return true;
}

void WorkPool::Stop() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    dropped.swap(queue_);
    queued_.store(0);
  }
  cv_.notify_all();
  for (std::thread& t : threads_) {
    V2G_ASSERT(t.get_id() != std::this_thread::get_id());
    t.join();
  }
  threads_.clear();
  dropped.clear();
}

void WorkPool::Run() {
  // Below the process's other threads (never above them): on Linux a nice value is per thread.
  if (nice_ > 0) {
    const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
    errno = 0;
    const int now = ::getpriority(PRIO_PROCESS, tid);
    if (errno == 0 && now < nice_) (void)::setpriority(PRIO_PROCESS, tid, nice_);
  }
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    std::function<void()> job = std::move(queue_.front());
    queue_.pop_front();
    queued_.store(static_cast<int64_t>(queue_.size()));
    busy_.fetch_add(1);
    lock.unlock();
    job();
    job = nullptr;  // its captures go before the slot is freed
    lock.lock();
    busy_.fetch_sub(1);
    V2G_ASSERT(busy_.load() >= 0);
  }
}

}  // namespace v2g::api
