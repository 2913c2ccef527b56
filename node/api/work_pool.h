// WorkPool: a fixed set of threads running submitted jobs, with a bounded queue. TrySubmit
// refuses (returns false) instead of queueing past the bound, so the caller can answer "busy"
// (the API's 503) rather than let waiting work, and latency, grow without limit.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace v2g::api {

class WorkPool {
 public:
  // `threads` >= 1 run jobs; at most `queue_max` >= 0 more wait for one of them. `nice` > 0 runs
  // the threads at that lower CPU priority (setpriority on each thread; Linux nice values are
  // per thread), so the work they do yields to the process's other threads when CPU is short.
  WorkPool(std::string name, int64_t threads, int64_t queue_max, int nice = 0);
  ~WorkPool();  // Stop()
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // Runs `job` on a pool thread when one is free and `job` is admitted: false (and `job` is not
  // kept) when threads and queue are all taken or the pool is stopping. Any thread.
  bool TrySubmit(std::function<void()> job);
  // Drops the jobs not started (destroying them on this thread), waits for the running ones and
  // joins. Idempotent; not from a pool thread.
  void Stop();

  int64_t busy() const { return busy_.load(); }
  int64_t queued() const { return queued_.load(); }

 private:
  void Run();

  const std::string name_;
  const int64_t threads_max_;
  const int64_t queue_max_;
  const int nice_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::atomic<int64_t> busy_{0};             // jobs running (written under mu_)
  std::atomic<int64_t> queued_{0};           // queue_.size() (written under mu_)
  std::vector<std::thread> threads_;
};

}  // namespace v2g::api
