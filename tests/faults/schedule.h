// Fault schedules (a nemesis in Jepsen's sense): timed events, named or generated from a seed.
// The same name, seed, length and cluster size give the same list; it is written to the run
// folder (schedule.json) before anything runs, so a failed run can be replayed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace v2g::faults {

enum class Action {
  kIsolate,    // nodes: cut from every other node
  kPartition,  // nodes: one side; everyone else the other
  kCutLink,    // nodes[0] <-> nodes[1]
  kOneWay,     // nodes[0] stops hearing nodes[1]
  kLoss,       // nodes: arg % of peer packets dropped
  kRate,       // nodes: peer traffic limited to arg kB/s
  kHeal,       // every rule removed
  kKill,       // nodes: SIGKILL
  kStop,       // nodes: SIGTERM
  kStart,      // nodes: start (arg: clock offset ms)
  kPause,      // nodes (or the next height's proposer when nodes is empty): SIGSTOP
  kResume,     // every paused node: SIGCONT
  kFillDisk,   // nodes: the tmpfs under its data folder fills
  kFreeDisk,   // nodes: the filler is deleted
};
const char* ActionName(Action a);

struct Event {
  int64_t at_ms = 0;
  Action action = Action::kHeal;
  std::vector<int> nodes;
  int64_t arg = 0;
};

struct Schedule {
  std::string name;
  uint64_t seed = 0;
  int64_t length_ms = 0;  // faults happen in [0, length); everything heals at length
  int disk_node = -1;     // the node whose data folder is a small tmpfs (-1: none)
  std::string liar;       // the Byzantine peer's mode for the whole run: "", "silent" or "wrong"
  std::vector<Event> events;
  nlohmann::json ToJson() const;
};

// The named schedules, in the order scripts/test runs them.
const std::vector<std::string>& NamedSchedules();
// A named schedule ("random" takes the seed) for `validators` nodes over `length_ms`.
Result<Schedule> MakeSchedule(const std::string& name, uint64_t seed, int validators, int64_t length_ms);

}  // namespace v2g::faults
