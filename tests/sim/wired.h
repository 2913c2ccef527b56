// The wired simulation: the node's real consensus wiring (node/bft's BftEngine: its WAL, signer,
// block sync, inbox and timers, over a real Chain on a real LevelDB store) for every validator,
// stepped deterministically on one thread by a simulated clock and network. The consensus WAL and
// the signer's state live on a simulated disk (SimDisk) whose unsynced writes a crash loses or
// tears, whose operations can fail, and where a crash can fall at any operation: before or after
// the signer's save, the WAL append, the WAL sync. Byzantine validators run the same stack with a
// behaviour on what they send (equivocation, forged round-skip votes, withholding) or forget
// their WAL and signer state on restart (amnesia).
//
// The model simulation (sim.h) explores the engine against the full Byzantine library cheaply;
// this one checks that the code between the engine and the disk and network keeps its promises:
// agreement, no honest validator ever sends two conflicting signed messages (across crashes),
// liveness after the network stabilises, a WAL bounded per height, inboxes within their bounds.
#pragma once

#include <cstdint>
#include <string>

namespace v2g::sim {

struct WiredOptions {
  uint64_t seed = 1;
  int64_t duration_ms = 30000;
  bool verbose = false;
};

struct WiredResult {
  bool ok = false;
  std::string failure;  // names the seed, the scenario and what broke
  int64_t min_honest_height = 0;
  int64_t max_height = 0;
  int64_t crashes = 0;          // honest crashes (at a disk operation or between steps)
  int64_t torn_writes = 0;      // crashes that left a torn WAL tail
  int64_t disk_failures = 0;    // disk operations that failed
  int64_t refused_signatures = 0;  // messages an honest node's own code withheld (signer refused, WAL failed)
  int64_t evidence = 0;         // equivocations on chain or pending, over honest nodes
  int64_t max_decide_gap_ms = 0;
  std::string summary;
};

WiredResult RunWiredSimulation(const WiredOptions& opts);

}  // namespace v2g::sim
