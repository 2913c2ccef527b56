// Deterministic simulation of a Tendermint network: N validators of unequal voting power in one
// process, a simulated network, clock and consensus WAL, all driven by one seed. Each seed picks
// a network scheduler (random delays, PCT-style priorities, targeted delays, proposer isolation),
// partitions, crashes at chosen points (with the unsynced WAL tail lost), failing disks, and for
// each Byzantine validator (less than 1/3 of the power in all) a set of behaviours from the
// library in byzantine.cc. Checks agreement, validity, that no honest validator signs two
// conflicting messages or breaks its lock, that every message leaves only when durable, liveness
// after the network stabilises, bounded engine memory and WAL, and evidence for every
// equivocation seen. The same seed replays exactly.
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
};

struct SimResult {
  bool ok = false;
  std::string failure;           // empty when ok; names the seed and what broke
  int validators = 0;
  int byzantine = 0;
  uint32_t behaviours = 0;       // union over the Byzantine validators
  int64_t min_honest_height = 0;
  int64_t max_height = 0;
  int64_t messages = 0;
  int64_t evidence = 0;
  int64_t crashes = 0;
  int64_t disk_failures = 0;     // WAL writes that failed (the node stopped signing)
  int64_t max_round = 0;         // highest round an honest engine reached
  int64_t max_decide_gap_ms = 0; // longest wait for a decision after GST, honest nodes
  std::string summary;           // the scenario: sizes, powers, scheduler, faults, behaviours
};

SimResult RunSimulation(const SimOptions& opts);

}  // namespace v2g::sim
