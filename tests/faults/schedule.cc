#include "tests/faults/schedule.h"

#include <algorithm>

#include "tests/faults/bank.h"

namespace v2g::faults {

const char* ActionName(Action a) {
  switch (a) {
    case Action::kIsolate: return "isolate";
    case Action::kPartition: return "partition";
    case Action::kCutLink: return "cut-link";
    case Action::kOneWay: return "one-way";
    case Action::kLoss: return "loss";
    case Action::kRate: return "rate";
    case Action::kHeal: return "heal";
    case Action::kKill: return "kill";
    case Action::kStop: return "stop";
    case Action::kStart: return "start";
    case Action::kPause: return "pause";
    case Action::kResume: return "resume";
    case Action::kFillDisk: return "fill-disk";
    case Action::kFreeDisk: return "free-disk";
  }
  return "?";
}

nlohmann::json Schedule::ToJson() const {
  nlohmann::json j{{"name", name}, {"seed", seed}, {"length_ms", length_ms}, {"disk_node", disk_node},
                   {"liar", liar}};
  j["events"] = nlohmann::json::array();
  for (const Event& e : events) {
    j["events"].push_back({{"at_ms", e.at_ms}, {"action", ActionName(e.action)}, {"nodes", e.nodes}, {"arg", e.arg}});
  }
  return j;
}

const std::vector<std::string>& NamedSchedules() {
  static const std::vector<std::string> names = {"minority-partition", "majority-partition", "flapping-link",
                                                 "paused-leader",      "rolling-restart",    "disk-full",
                                                 "clock-ahead",        "lying-peer"};
  return names;
}

namespace {

void Add(Schedule& s, int64_t at, Action a, std::vector<int> nodes = {}, int64_t arg = 0) {
  s.events.push_back(Event{at, a, std::move(nodes), arg});
}

// One fault of the random nemesis, from `at` for `len` ms, healed at its end.
void RandomFault(Schedule& s, Rng& rng, int n, int64_t at, int64_t len) {
  const int a = static_cast<int>(rng.Range(0, n - 1));
  int b = static_cast<int>(rng.Range(0, n - 2));
  if (b >= a) ++b;
  switch (rng.Range(0, 11)) {
    case 0: Add(s, at, Action::kIsolate, {a}); Add(s, at + len, Action::kHeal); break;
    case 1: {
      std::vector<int> side;
      for (int i = 0; i < n; ++i) {
        if (rng.Range(0, 1)) side.push_back(i);
      }
      if (side.empty() || static_cast<int>(side.size()) == n) side = {a};
      Add(s, at, Action::kPartition, side);
      Add(s, at + len, Action::kHeal);
      break;
    }
    case 2: Add(s, at, Action::kOneWay, {a, b}); Add(s, at + len, Action::kHeal); break;
    case 3: Add(s, at, Action::kLoss, {a}, rng.Range(10, 50)); Add(s, at + len, Action::kHeal); break;
    case 4: Add(s, at, Action::kRate, {a}, rng.Range(16, 256)); Add(s, at + len, Action::kHeal); break;
    case 5: Add(s, at, Action::kKill, {a}); Add(s, at + len, Action::kStart, {a}); break;
    case 6: Add(s, at, Action::kPause, {}); Add(s, at + len, Action::kResume); break;
    case 7: Add(s, at, Action::kStop, {a}); Add(s, at + len, Action::kStart, {a}); break;
    case 8:
      if (s.disk_node >= 0) {
        Add(s, at, Action::kFillDisk, {s.disk_node});
        Add(s, at + len, Action::kFreeDisk, {s.disk_node});
        break;
      }
      [[fallthrough]];
    case 10: Add(s, at, Action::kCutLink, {a, b}); Add(s, at + len, Action::kHeal); break;
    case 11: {
      // A bridge: two halves that cannot see each other, and one node (a) that sees both.
      std::vector<int> left, right;
      for (int i = 0; i < n; ++i) {
        if (i != a) (rng.Range(0, 1) ? left : right).push_back(i);
      }
      for (int l : left) {
        for (int r : right) Add(s, at, Action::kCutLink, {l, r});
      }
      Add(s, at + len, Action::kHeal);
      break;
    }
    default: {
      // A clock off by 30 s, or by 120 s: past the 60 s a reading's end may lead block time.
      static constexpr int64_t kOffsets[] = {30'000, -30'000, 120'000, -120'000};
      Add(s, at, Action::kStop, {a});
      Add(s, at + 500, Action::kStart, {a}, kOffsets[rng.Range(0, 3)]);
      Add(s, at + len, Action::kStop, {a});
      Add(s, at + len + 500, Action::kStart, {a}, 0);
      break;
    }
  }
}

}  // namespace

Result<Schedule> MakeSchedule(const std::string& name, uint64_t seed, int n, int64_t len) {
  Schedule s;
  s.name = name;
  s.seed = seed;
  s.length_ms = len;
  if (n < 4) return Error(Code::kInvalidArgument, "schedules need at least 4 validators");
  if (len < 10'000) return Error(Code::kInvalidArgument, "a schedule needs at least 10 s");
  const int64_t t0 = 3000, end = len - 1000;  // faults start after 3 s and heal before the end
  if (name == "minority-partition") {
    Add(s, t0, Action::kIsolate, {n - 1});
    Add(s, end, Action::kHeal);
  } else if (name == "majority-partition") {
    // Neither side holds more than 2/3 of the power: the chain must halt, then resume unforked.
    std::vector<int> side;
    for (int i = 0; i < (n + 1) / 2; ++i) side.push_back(i);
    Add(s, t0, Action::kPartition, side);
    Add(s, end, Action::kHeal);
  } else if (name == "flapping-link") {
    bool cut = false;
    for (int64_t t = t0; t < end; t += 1500) {
      if (!cut) {
        Add(s, t, Action::kCutLink, {0, 1});
        Add(s, t, Action::kCutLink, {0, 2});
      } else {
        Add(s, t, Action::kHeal);
      }
      cut = !cut;
    }
    Add(s, end, Action::kHeal);
  } else if (name == "paused-leader") {
    Add(s, t0, Action::kPause, {});
    Add(s, std::min(end, t0 + 8000), Action::kResume);
  } else if (name == "rolling-restart") {
    const int64_t step = std::max<int64_t>(1500, (end - t0) / n);
    for (int i = 0; i < n; ++i) {
      const int64_t t = t0 + i * step;
      Add(s, t, i % 2 ? Action::kKill : Action::kStop, {i});
      Add(s, t + step / 2, Action::kStart, {i});
    }
  } else if (name == "disk-full") {
    s.disk_node = n - 1;
    Add(s, t0, Action::kFillDisk, {n - 1});
    Add(s, end - 3000, Action::kFreeDisk, {n - 1});
  } else if (name == "clock-ahead") {
    Add(s, t0, Action::kStop, {2});
    Add(s, t0 + 500, Action::kStart, {2}, 30'000);
    Add(s, end, Action::kStop, {2});
    Add(s, end + 500, Action::kStart, {2}, 0);
  } else if (name == "lying-peer") {
    // A Byzantine peer lies to block sync while two validators in turn fall behind and catch up.
    s.liar = "wrong";
    const int64_t mid = (t0 + end) / 2;
    Add(s, t0, Action::kStop, {1});
    Add(s, mid - 1000, Action::kStart, {1});
    Add(s, mid, Action::kKill, {2});
    Add(s, end - 2000, Action::kStart, {2});
  } else if (name == "random") {
    s.disk_node = n - 1;
    Rng rng(seed);
    const int64_t liar = rng.Range(0, 2);
    s.liar = liar == 0 ? "" : liar == 1 ? "silent" : "wrong";
    for (int64_t t = t0; t < end - 3000;) {
      const int64_t flen = rng.Range(3000, 9000);
      const int64_t stop = std::min(t + flen, end - 1000);
      RandomFault(s, rng, n, t, stop - t);
      t = stop + rng.Range(2000, 5000);  // quiet between faults: the chain shows it recovered
    }
  } else {
    std::string known = "random";
    for (const auto& k : NamedSchedules()) known += ", " + k;
    return Error(Code::kInvalidArgument, "unknown schedule '" + name + "' (known: " + known + ")");
  }
  std::stable_sort(s.events.begin(), s.events.end(),
                   [](const Event& x, const Event& y) { return x.at_ms < y.at_ms; });
  return s;
}

}  // namespace v2g::faults
