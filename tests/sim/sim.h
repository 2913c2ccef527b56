// Deterministic simulation of a Tendermint network: a pool of nodes in one process, a simulated
// network, clock and consensus WAL, all driven by one seed. The validator set is a function of
// height: a governance schedule drawn from the seed changes it every few heights (nodes of the
// pool join and leave, Byzantine ones included, and members are re-weighted, each change within
// the chain's rule of at most a third of the power), and the pool always holds more nodes than
// the set, so some follow without signing; or, for old regression cases, one fixed set of
// everyone. Each seed picks a network scheduler (random delays, PCT-style priorities, targeted
// delays, proposer isolation), partitions, crashes at chosen points (with the unsynced WAL tail
// lost), failing disks, and for each Byzantine node (less than 1/3 of the power of every set) a
// set of behaviours from the library in byzantine.cc. Checks agreement, validity, that no honest
// validator signs two conflicting messages, breaks its lock or signs outside its sets, that every
// message leaves only when durable, liveness of every honest node (validator or follower) after
// the network stabilises, bounded engine memory and WAL, and evidence for every equivocation seen.
// The same seed replays exactly.
#pragma once

#include <cstdint>
#include <string>

namespace v2g::sim {

// The Byzantine behaviours (bits of a mask; byzantine.cc documents each).
enum Behaviour : uint32_t {
  kEquivocate = 1u << 0,   // a conflicting twin of every proposal and vote, peers split between them
  kBadBody = 1u << 1,      // the signed header with another body, to some peers only
  kWithhold = 1u << 2,     // proposals and/or votes withheld from some peers
  kAmnesia = 1u << 3,      // forgets its lock: prevotes the round's proposal whatever it locked on
  kForge = 1u << 4,        // votes and proposals naming honest validators, garbage or wrong-key signed
  kRoundSkip = 1u << 5,    // votes at high rounds: garbage-signed naming everyone, and its own valid ones
  kEdgeTime = 1u << 6,     // header times off BFT time, votes stamped at extreme times
  kFlood = 1u << 7,        // re-sends everything many times, plus junk and oversized messages
  kSyncLiar = 1u << 8,     // claims a huge height, then stalls or serves wrong blocks on sync
};
constexpr int kBehaviourCount = 9;
// "equivocate+bad-body" for a mask.
std::string BehaviourNames(uint32_t mask);

// How messages are delayed before the network stabilises (GST); afterwards every message arrives
// within a small bound.
enum class Scheduler : int {
  kRandom = 0,          // independent random delays (reordering), loss and duplication
  kPct = 1,             // PCT-style: senders ranked by priority, lower priority delayed longer,
                        // with priority change points
  kTargetedDelay = 2,   // some validators' messages delayed to around the timeouts
  kIsolateProposer = 3, // a proposer reaches only some peers, then is cut off for a while
};
constexpr int kSchedulerCount = 4;
std::string SchedulerName(Scheduler s);

// Where a crash may fall.
enum class CrashPoint : int {
  kRandomTime = 0,        // at a random time
  kAfterPrecommit = 1,    // right after a non-nil precommit reached some peers
  kBeforeWalAppend = 2,   // after the signer saved a signature, before the WAL append
};

struct SimOptions {
  uint64_t seed = 1;
  int64_t duration_ms = 30000;   // simulated time
  bool verbose = false;
  // Regression cases force what a seed would otherwise choose (0 / -1: the seed decides).
  uint32_t force_behaviours = 0;     // every Byzantine validator gets exactly these
  int force_byzantine = -1;          // number of Byzantine validators (at least 1 with behaviours)
  int force_scheduler = -1;          // a Scheduler
  int force_crash_point = -1;        // every crash falls at this CrashPoint
  int force_crashes = -1;            // number of honest crashes
  // The validator set changes by a seed-drawn governance schedule. Off: one fixed set of every
  // node, drawn exactly as before set changes existed (the regression cases' seeds).
  bool set_changes = true;
};

struct SimResult {
  bool ok = false;
  std::string failure;           // empty when ok; names the seed and what broke
  int validators = 0;            // nodes in the pool (each height's set is a part of it)
  int byzantine = 0;             // Byzantine nodes in the pool
  uint32_t behaviours = 0;       // union over the Byzantine validators
  int64_t min_honest_height = 0;
  int64_t max_height = 0;
  int64_t messages = 0;
  int64_t evidence = 0;
  int64_t crashes = 0;
  int64_t disk_failures = 0;     // WAL writes that failed (the node stopped signing)
  int64_t max_round = 0;         // highest round an honest engine reached
  int64_t max_decide_gap_ms = 0; // longest wait for a decision after GST, honest nodes
  // Set changes in force by the highest height an honest node decided (each decided by its new
  // set), and the Byzantine nodes those changes added to and removed from the set.
  int64_t set_changes = 0;
  int64_t byzantine_joins = 0;
  int64_t byzantine_leaves = 0;
  std::string summary;  // the scenario: sizes, sets, scheduler, faults, behaviours
};

SimResult RunSimulation(const SimOptions& opts);

}  // namespace v2g::sim
