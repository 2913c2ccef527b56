#include "common/parallel.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace v2g {
namespace {

struct Job {
  const std::function<void(size_t)>* fn = nullptr;  // the caller's; valid until every item is done
  size_t n = 0;
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  std::mutex mu;
  std::condition_variable cv;
};

// Takes items until none is left. A worker that comes late finds next >= n and never touches fn,
// which may be gone by then (its caller returned once done reached n).
void Work(Job& job) {
  for (;;) {
    const size_t i = job.next.fetch_add(1, std::memory_order_relaxed);
    if (i >= job.n) return;
    (*job.fn)(i);
    if (job.done.fetch_add(1, std::memory_order_acq_rel) + 1 == job.n) {
      std::lock_guard<std::mutex> lock(job.mu);
      job.cv.notify_all();
    }
  }
}

class Pool {
 public:
  explicit Pool(size_t workers) {
    for (size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { Run(); });
  }
  size_t workers() const { return threads_.size(); }

  // Offers `job` to up to `helpers` workers; false when too many jobs are queued already.
  bool Offer(const std::shared_ptr<Job>& job, size_t helpers) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.size() >= kParallelJobsQueuedMax) return false;
      for (size_t i = 0; i < helpers; ++i) queue_.push_back(job);
    }
    cv_.notify_all();
    return true;
  }

 private:
  void Run() {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return !queue_.empty(); });
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      Work(*job);
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;  // at most kParallelJobsQueuedMax x workers entries
  std::vector<std::thread> threads_;
};

// The CPUs this process may run on (its affinity mask: a container or taskset limit), which can be
// far fewer than the machine's: more workers than that only contend.
size_t UsableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<size_t>(n);
  }
  return std::max<size_t>(std::thread::hardware_concurrency(), 1);
}

Pool& ThePool() {
  // Never destroyed: its threads run until the process exits (a static's destructor would have to
  // join threads that never return).
  static Pool* pool = new Pool(UsableCpus() - 1);
  return *pool;
}

}  // namespace

size_t ParallelWorkers() { return ThePool().workers(); }

void ParallelFor(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  Pool& pool = ThePool();
  const size_t helpers = std::min(pool.workers(), n - 1);
  if (helpers == 0) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  auto job = std::make_shared<Job>();
  job->fn = &fn;
  job->n = n;
  (void)pool.Offer(job, helpers);  // refused: the caller does every item below
  Work(*job);
  std::unique_lock<std::mutex> lock(job->mu);
  job->cv.wait(lock, [&] { return job->done.load(std::memory_order_acquire) == n; });
}

}  // namespace v2g
