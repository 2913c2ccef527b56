// ParallelFor (common/parallel.h): every item runs exactly once, from any number of callers at
// once, and the workers take part (the point of it: a node verifies on every core).
#include "common/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace v2g {
namespace {

TEST(ParallelForTest, EveryItemRunsExactlyOnce) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{7}, size_t{10'000}}) {
    std::vector<std::atomic<int>> runs(n);
    ParallelFor(n, [&](size_t i) { runs[i].fetch_add(1); });
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(runs[i].load(), 1) << "item " << i << " of " << n;
  }
}

TEST(ParallelForTest, ManyCallersAtOnceEachGetTheirItemsDone) {
  constexpr int kCallers = 8;
  constexpr size_t kItems = 2'000;
  std::vector<std::vector<std::atomic<int>>> runs(kCallers);
  for (auto& r : runs) r = std::vector<std::atomic<int>>(kItems);
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      for (int round = 0; round < 5; ++round) {
        ParallelFor(kItems, [&](size_t i) { runs[c][i].fetch_add(1); });
      }
    });
  }
  for (auto& t : callers) t.join();
  for (int c = 0; c < kCallers; ++c) {
    for (size_t i = 0; i < kItems; ++i) ASSERT_EQ(runs[c][i].load(), 5) << c << " " << i;
  }
}

TEST(ParallelForTest, TheWorkersTakePart) {
  const size_t cores = std::max<unsigned>(std::thread::hardware_concurrency(), 1);
  ASSERT_LT(ParallelWorkers(), cores);  // usable CPUs (affinity) - 1
  if (ParallelWorkers() == 0) GTEST_SKIP() << "one core: the caller runs every item";
  // The thread that takes item 0 waits until another item has run on another thread; it can only
  // happen if a second thread (a worker, or the caller while a worker holds item 0) takes part.
  // Bounded, so a pool that never helps fails the test instead of hanging it.
  std::atomic<bool> other_thread_ran{false};
  std::atomic<std::thread::id> first_thread{};
  ParallelFor(64, [&](size_t i) {
    if (i == 0) {
      first_thread = std::this_thread::get_id();
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!other_thread_ran && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
      return;
    }
    while (first_thread.load() == std::thread::id{}) std::this_thread::yield();
    if (std::this_thread::get_id() != first_thread.load()) other_thread_ran = true;
  });
  EXPECT_TRUE(other_thread_ran);
}

}  // namespace
}  // namespace v2g
