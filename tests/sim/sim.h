// Deterministic simulation of a Tendermint network: N validators in one process, a simulated
// network and clock, all driven by one seed. Message delay, loss, duplication and reordering,
// partitions that heal, crashes and restarts (with WAL and safety state kept), and Byzantine
// validators that double-propose and double-vote. Checks safety, liveness after healing, and
// that every equivocation an honest node saw yields evidence. The same seed replays exactly.
#pragma once

#include <cstdint>
#include <string>

namespace v2g::sim {

struct SimOptions {
  uint64_t seed = 1;
  int64_t duration_ms = 30000;   // simulated time
  bool verbose = false;
};

struct SimResult {
  bool ok = false;
  std::string failure;           // empty when ok; names the seed and what broke
  int validators = 0;
  int byzantine = 0;
  int64_t min_honest_height = 0;
  int64_t max_height = 0;
  int64_t messages = 0;
  int64_t evidence = 0;
  int64_t crashes = 0;
  std::string summary;           // one line describing the scenario
};

SimResult RunSimulation(const SimOptions& opts);

}  // namespace v2g::sim
