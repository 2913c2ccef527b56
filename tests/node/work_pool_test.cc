// WorkPool: jobs run on the pool's threads, at the pool's lower CPU priority when it has one (the
// API's handlers run at nice kApiThreadNice so a flood of requests yields the CPU to consensus).
#include "node/api/work_pool.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <mutex>

namespace v2g::api {
namespace {

int ThreadNice() {
  errno = 0;
  const int n = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
  EXPECT_EQ(errno, 0);
  return n;
}

// Runs one job on `pool` and returns the nice value it ran at.
int NiceOfAJobOn(WorkPool& pool) {
  std::mutex mu;
  std::condition_variable cv;
  int seen = -100;
  bool done = false;
  EXPECT_TRUE(pool.TrySubmit([&] {
    const int n = ThreadNice();
    std::lock_guard<std::mutex> lock(mu);
    seen = n;
    done = true;
    cv.notify_all();
  }));
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  return seen;
}

TEST(WorkPoolTest, JobsRunAtThePoolsNiceAndTheCallerKeepsItsOwn) {
  const int base = ThreadNice();
  WorkPool niced("niced", 2, 4, 10);
  EXPECT_EQ(NiceOfAJobOn(niced), std::max(base, 10));
  EXPECT_EQ(NiceOfAJobOn(niced), std::max(base, 10));  // both threads, whichever runs it
  EXPECT_EQ(ThreadNice(), base);                        // the submitting thread is untouched
  WorkPool plain("plain", 1, 0);
  EXPECT_EQ(NiceOfAJobOn(plain), base);
}

}  // namespace
}  // namespace v2g::api
