// Runs the deterministic consensus simulation over many seeds, and the regression cases that show
// it finds the defects of issue 10. Sharded so ctest can run shards in parallel; scripts/sim runs
// any number of seeds. A failure prints the seed and the scenario:
//   build-release/tests/sim/v2g_sim --seed N --verbose   (plus the forcing flags of the case)
#include <gtest/gtest.h>

#include "tests/sim/sim.h"

namespace v2g::sim {
namespace {

constexpr uint64_t kSeedsPerShard = 50;

// With the seed's governance schedule of validator set changes (the default).
SimOptions Seed(uint64_t seed) {
  SimOptions o;
  o.seed = seed;
  return o;
}

// One fixed set of every node, drawn as before set changes existed: the regression cases below
// were found, and their seeds chosen, so.
SimOptions Fixed(uint64_t seed) {
  SimOptions o = Seed(seed);
  o.set_changes = false;
  return o;
}

class SimShard : public ::testing::TestWithParam<uint64_t> {};

// Every seed chooses its pool, validator sets and their changes, powers, Byzantine behaviours,
// scheduler and faults; every check of checks.cc must hold in each.
TEST_P(SimShard, SafeLiveBoundedAndEvidenced) {
  const uint64_t first = GetParam() * kSeedsPerShard + 1;
  int64_t evidence = 0, equivocating_runs = 0, set_changes = 0;
  uint32_t behaviours = 0;
  for (uint64_t seed = first; seed < first + kSeedsPerShard; ++seed) {
    SimResult r = RunSimulation(Seed(seed));
    ASSERT_TRUE(r.ok) << r.failure;
    EXPECT_GE(r.min_honest_height, 5) << "seed " << seed << ": " << r.summary;
    evidence += r.evidence;
    equivocating_runs += (r.behaviours & kEquivocate) != 0;
    behaviours |= r.behaviours;
    set_changes += r.set_changes;
  }
  // The sweep runs with set changes: a schedule that stopped changing sets fails here.
  EXPECT_GT(set_changes, 0);
  // Equivocators sign two versions of everything; with some in these seeds, evidence must show.
  if (equivocating_runs > 0) {
    EXPECT_GT(evidence, 0);
  }
  // 50 seeds draw behaviours often enough that every shard sees most of the library.
  EXPECT_GE(__builtin_popcount(behaviours), kBehaviourCount - 3) << BehaviourNames(behaviours);
}

// 10 shards x 50 seeds = 500 seeds in the default test run.
INSTANTIATE_TEST_SUITE_P(Seeds, SimShard, ::testing::Range<uint64_t>(0, 10));

TEST(Sim, SameSeedReplaysExactly) {
  for (const SimOptions& o : {Seed(424242), Fixed(424242)}) {
    SimResult a = RunSimulation(o);
    SimResult b = RunSimulation(o);
    ASSERT_TRUE(a.ok) << a.failure;
    EXPECT_EQ(a.messages, b.messages);
    EXPECT_EQ(a.max_height, b.max_height);
    EXPECT_EQ(a.min_honest_height, b.min_honest_height);
    EXPECT_EQ(a.evidence, b.evidence);
    EXPECT_EQ(a.max_decide_gap_ms, b.max_decide_gap_ms);
    EXPECT_EQ(a.set_changes, b.set_changes);
    EXPECT_EQ(a.summary, b.summary);
  }
}

// Validator set changes by governance (issue 14): over these seeds (outside the shards' 1-500)
// the schedule changes the set, Byzantine nodes join it and leave it, and every check holds:
// agreement and validity against the set of each height, locks, memory, evidence, and liveness of
// every honest node, validator or follower. The counts fail this test if the schedule silently
// stopped changing sets or stopped moving Byzantine members.
TEST(Sim, ValidatorSetChanges) {
  int64_t changes = 0, byzantine_joins = 0, byzantine_leaves = 0;
  for (uint64_t seed = 5001; seed <= 5040; ++seed) {
    SimResult r = RunSimulation(Seed(seed));
    ASSERT_TRUE(r.ok) << r.failure;
    EXPECT_GE(r.min_honest_height, 5) << "seed " << seed << ": " << r.summary;
    changes += r.set_changes;
    byzantine_joins += r.byzantine_joins;
    byzantine_leaves += r.byzantine_leaves;
  }
  EXPECT_GE(changes, 40);  // a change every 2 to 6 heights: several per run on average
  EXPECT_GT(byzantine_joins, 0);
  EXPECT_GT(byzantine_leaves, 0);
}

// The fixed set stays available (and safe and live) for cases that need it.
TEST(Sim, FixedSetHasNoChanges) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    SimResult r = RunSimulation(Fixed(seed));
    ASSERT_TRUE(r.ok) << r.failure;
    EXPECT_EQ(r.set_changes, 0);
    EXPECT_EQ(r.summary.find("changes="), std::string::npos) << r.summary;
  }
}

// Every Byzantine behaviour and scheduler, forced alone, on a few seeds.
TEST(Sim, EachBehaviourAndSchedulerAlone) {
  for (int b = 0; b < kBehaviourCount; ++b) {
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      SimOptions o = Seed(seed);
      o.force_behaviours = 1u << b;
      SimResult r = RunSimulation(o);
      ASSERT_TRUE(r.ok) << BehaviourNames(1u << b) << ": " << r.failure;
      EXPECT_EQ(r.behaviours, 1u << b);
    }
  }
  for (int s = 0; s < kSchedulerCount; ++s) {
    SimOptions o = Seed(7);
    o.force_scheduler = s;
    SimResult r = RunSimulation(o);
    ASSERT_TRUE(r.ok) << SchedulerName(static_cast<Scheduler>(s)) << ": " << r.failure;
    EXPECT_NE(r.summary.find("scheduler=" + SchedulerName(static_cast<Scheduler>(s))), std::string::npos);
  }
}

// Regression cases: each runs what made the simulation fail while one fix of issue 10 was
// reverted (the reverted code is named in each case); with the fix, every check holds. The
// proposer schedule change (ProposerFor: turns spread by share) changed what every seed does; the
// seeds below were re-checked, or re-found, on 2026-12-05 after it, with each fix reverted alone.
// They run on a fixed set (Fixed), whose draws are those they were found with.
void ExpectOk(const SimOptions& o) {
  SimResult r = RunSimulation(o);
  EXPECT_TRUE(r.ok) << r.failure;
  EXPECT_GE(r.min_honest_height, 5) << r.summary;
}

// Defect 1: without CheckBlockBody in VerifyProposal, a proposal whose body does not match its
// header (sent to some nodes only) took the round's slot; honest nodes decided a block whose body
// does not match its header (VALIDITY: body does not match header, seeds 122, 166 and 322 with
// kBadBody and one Byzantine forced; re-found on 2026-12-05, the old seeds 35 and 54 no longer
// fail without the check).
TEST(SimRegression, Defect1BodyNotMatchingHeaderToSomeNodes) {
  for (uint64_t seed : {122, 166, 322}) {
    SimOptions o = Fixed(seed);
    o.force_behaviours = kBadBody;
    o.force_byzantine = 1;
    ExpectOk(o);
  }
}

// Defect 2: with the per-validator vote slot created before the signature check, garbage-signed
// high-round votes naming real validators moved honest nodes past round 60 within seconds
// (MEMORY: round-skip) on 97 of 100 seeds with kRoundSkip forced. Re-checked on 2026-12-05:
// seeds 94-100 below still fail so (rounds 66-133 within 6 s) with the slot made before the check.
TEST(SimRegression, Defect2GarbageSignedRoundSkip) {
  for (uint64_t seed : {94, 95, 97, 98, 99, 100}) {
    SimOptions o = Fixed(seed);
    o.force_behaviours = kRoundSkip;
    SimResult r = RunSimulation(o);
    EXPECT_TRUE(r.ok) << r.failure;
    EXPECT_LT(r.max_round, 10) << r.summary;
  }
}

// Defect 3: when held next-height messages were not persisted as they were replayed into the new
// height, a node that locked on a held proposal and crashed right after its precommit restarted
// without the lock and prevoted another block (SAFETY: prevoted against its lock, seed 133, before
// the proposer schedule change). Re-found on 2026-12-05 (seed 133 no longer fails without the
// fix): with the held messages not persisted, the restarted node lacks the held proposal behind
// its own votes, casts them again when the proposal comes back, and logs them twice (WAL: logged a
// message twice, seeds 37, 151 and 385 with kAfterPrecommit and two crashes forced; no SAFETY
// failure showed in seeds 1-1000).
TEST(SimRegression, Defect3LockOnHeldProposalSurvivesCrash) {
  for (uint64_t seed : {37, 151, 385}) {
    SimOptions o = Fixed(seed);
    o.force_crash_point = static_cast<int>(CrashPoint::kAfterPrecommit);
    o.force_crashes = 2;
    ExpectOk(o);
  }
}

// Defect 4: when the engine counted and re-sent its own vote although Broadcast reported that the
// WAL write failed, a node on a failing disk re-sent a vote its WAL never got (DURABILITY, seeds
// 52 and 76, whose disks fail, before the proposer schedule change). On 2026-12-05 no seed of
// 1-1000 failed with only this fix reverted (nor 52 and 76 with the WAL sync before signing
// reverted too): the sim's node syncs the WAL before the signer saves anything and its disk fails
// for a time window, so a Broadcast whose WAL append fails is no longer reached. The seeds below
// only check that failing disks stay safe; the defect itself is covered by the engine test
// (tests/consensus/engine_test.cc, fail_broadcast).
TEST(SimRegression, Defect4NothingLeavesWithoutTheWal) {
  for (uint64_t seed : {52, 76}) {
    SimResult r = RunSimulation(Fixed(seed));
    EXPECT_TRUE(r.ok) << r.failure;
    EXPECT_GT(r.disk_failures, 0) << r.summary;
  }
}

// Defect 5: when re-sends went through Broadcast, every tick logged the node's own messages again
// (WAL: logged a message twice, every seed within the first second; re-checked on 2026-12-05:
// seed 1 still fails so at 300 ms).
TEST(SimRegression, Defect5ResendsDoNotTouchTheWal) { ExpectOk(Fixed(1)); }

// Defect 6 (in the simulation's sync model, which mirrors node/bft's policy): asking always the
// highest claim, without penalties, a peer claiming a huge height and never answering kept a
// restarted node behind for good (LIVENESS, seeds 2, 3 and 4 with kSyncLiar and two crashes forced).
// Re-checked on 2026-12-05 with MaybeRequestSync asking the highest claim and SyncFailed neither
// penalising nor forgetting the claim: seed 2 still fails so, 3 and 4 no longer do; 6 and 10 (of
// seeds 5-23, most of which fail) replace them (LIVENESS: an honest node stuck at height 2-3).
TEST(SimRegression, Defect6LyingPeerCannotStopCatchUp) {
  for (uint64_t seed : {2, 6, 10}) {
    SimOptions o = Fixed(seed);
    o.force_behaviours = kSyncLiar;
    o.force_crashes = 2;
    ExpectOk(o);
  }
}

// Found by the simulation (not in the issue): a crash after the signer saved a vote and before the
// WAL got it, with the inputs behind that vote still unsynced, left the restarted validator wanting
// another value at that step, which the signer refuses: a round never gathered 2/3 prevotes when
// its power was needed and the height halted for good (LIVENESS, seeds 445, 849 and 3485 before
// the proposer schedule change). A first fix, re-sending the signer's saved vote, made a node
// prevote against the lock it announced (SAFETY, seed 6650, found before the schedule change and
// not re-checked since: that fix is gone). node/bft and the sim's node now sync the WAL before the
// signer saves anything, so replay reaches the same vote and the signer re-signs it identically.
// Re-checked on 2026-12-05 with HonestEnv::SyncBeforeSigning not syncing: 849 still fails
// (LIVENESS, stuck at height 2), 445 and 3485 no longer do; 231 and 624 replace them (LIVENESS,
// stuck at heights 2 and 5; 231, 624, 849 and 1716 are the seeds of 1-2000 that fail so).
TEST(SimRegression, CrashBetweenSignerAndWalDoesNotSilenceTheNode) {
  for (uint64_t seed : {231, 624, 849, 6650}) {
    SimResult r = RunSimulation(Fixed(seed));
    EXPECT_TRUE(r.ok) << r.failure;
    EXPECT_NE(r.summary.find("before-wal-append"), std::string::npos) << r.summary;
  }
}

}  // namespace
}  // namespace v2g::sim
