// Runs the deterministic consensus simulation over many seeds. Sharded so ctest can run shards in
// parallel; scripts/sim runs any number of seeds. A failure prints the seed and the scenario:
//   build-release/tests/sim/v2g_sim --seed N --verbose
#include <gtest/gtest.h>

#include "tests/sim/sim.h"

namespace v2g::sim {
namespace {

constexpr uint64_t kSeedsPerShard = 50;

class SimShard : public ::testing::TestWithParam<uint64_t> {};

TEST_P(SimShard, SafeLiveAndEquivocationsYieldEvidence) {
  const uint64_t first = GetParam() * kSeedsPerShard + 1;
  int64_t evidence = 0, byzantine_runs = 0;
  for (uint64_t seed = first; seed < first + kSeedsPerShard; ++seed) {
    SimResult r = RunSimulation({seed, 30000, false});
    ASSERT_TRUE(r.ok) << r.failure;
    EXPECT_GE(r.min_honest_height, 5) << "seed " << seed << ": " << r.summary;
    evidence += r.evidence;
    byzantine_runs += r.byzantine > 0;
  }
  // The Byzantine validators equivocate on every message; with some in these seeds, evidence
  // must have been produced.
  if (byzantine_runs > 0) {
    EXPECT_GT(evidence, 0);
  }
}

// 10 shards x 50 seeds = 500 seeds in the default test run.
INSTANTIATE_TEST_SUITE_P(Seeds, SimShard, ::testing::Range<uint64_t>(0, 10));

TEST(Sim, SameSeedReplaysExactly) {
  SimResult a = RunSimulation({424242, 20000, false});
  SimResult b = RunSimulation({424242, 20000, false});
  ASSERT_TRUE(a.ok) << a.failure;
  EXPECT_EQ(a.messages, b.messages);
  EXPECT_EQ(a.max_height, b.max_height);
  EXPECT_EQ(a.min_honest_height, b.min_honest_height);
  EXPECT_EQ(a.evidence, b.evidence);
  EXPECT_EQ(a.summary, b.summary);
}

}  // namespace
}  // namespace v2g::sim
