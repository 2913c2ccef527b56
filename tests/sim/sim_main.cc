// v2g_sim: run the consensus simulation over a range of seeds.
//   v2g_sim --seeds 10000 [--first 1] [--duration-ms 40000]
//   v2g_sim --seed 1234 --verbose
//   v2g_sim --seeds 200 --behaviours 0x2 --byzantine 1   (force behaviours, schedulers, crashes)
//   v2g_sim --seed 231 --fixed-set                        (one fixed set: the regression cases)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tests/sim/sim.h"

int main(int argc, char** argv) {
  uint64_t first = 1, count = 100;
  int64_t duration = 30000;
  bool verbose = false;
  v2g::sim::SimOptions forced;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "v2g_sim: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--seeds") count = std::stoull(next());
    else if (a == "--first") first = std::stoull(next());
    else if (a == "--seed") { first = std::stoull(next()); count = 1; }
    else if (a == "--duration-ms") duration = std::stoll(next());
    else if (a == "--verbose") verbose = true;
    else if (a == "--behaviours") forced.force_behaviours = static_cast<uint32_t>(std::stoul(next(), nullptr, 0));
    else if (a == "--byzantine") forced.force_byzantine = std::stoi(next());
    else if (a == "--scheduler") forced.force_scheduler = std::stoi(next());
    else if (a == "--crash-point") forced.force_crash_point = std::stoi(next());
    else if (a == "--crashes") forced.force_crashes = std::stoi(next());
    else if (a == "--fixed-set")
      forced.set_changes = false;
    else {
      std::fprintf(
          stderr,
          "usage: v2g_sim [--seeds N] [--first S] [--seed S] [--duration-ms MS] [--verbose]\n"
          "               [--behaviours MASK] [--byzantine N] [--scheduler 0-3] [--crash-point "
          "0-2] [--crashes N]\n"
          "               [--fixed-set]\n"
          "  (forcing what the seed would choose: see tests/sim/sim.h)\n");
      return 2;
    }
  }
  auto start = std::chrono::steady_clock::now();
  uint64_t failed = 0;
  uint64_t behaviour_runs[v2g::sim::kBehaviourCount] = {};
  int64_t set_changes = 0, byzantine_joins = 0, byzantine_leaves = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    v2g::sim::SimOptions opts = forced;
    opts.seed = seed;
    opts.duration_ms = duration;
    opts.verbose = verbose;
    v2g::sim::SimResult r = v2g::sim::RunSimulation(opts);
    for (int b = 0; b < v2g::sim::kBehaviourCount; ++b) behaviour_runs[b] += (r.behaviours >> b) & 1;
    set_changes += r.set_changes;
    byzantine_joins += r.byzantine_joins;
    byzantine_leaves += r.byzantine_leaves;
    if (!r.ok) {
      ++failed;
      std::printf("FAIL %s\n", r.failure.c_str());
    } else if (verbose || count == 1) {
      std::printf("ok seed %llu: %s heights %lld..%lld messages %lld evidence %lld max-round %lld "
                  "max-decide-gap %lld ms disk-failures %lld\n",
                  static_cast<unsigned long long>(seed), r.summary.c_str(), static_cast<long long>(r.min_honest_height),
                  static_cast<long long>(r.max_height), static_cast<long long>(r.messages),
                  static_cast<long long>(r.evidence), static_cast<long long>(r.max_round),
                  static_cast<long long>(r.max_decide_gap_ms), static_cast<long long>(r.disk_failures));
    }
    if ((seed - first + 1) % 500 == 0) {
      std::printf("... %llu seeds done, %llu failed\n", static_cast<unsigned long long>(seed - first + 1),
                  static_cast<unsigned long long>(failed));
      std::fflush(stdout);
    }
  }
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start).count();
  std::printf("seeds with each behaviour:");
  for (int b = 0; b < v2g::sim::kBehaviourCount; ++b) {
    std::printf(" %s=%llu", v2g::sim::BehaviourNames(1u << b).c_str(), static_cast<unsigned long long>(behaviour_runs[b]));
  }
  std::printf("\nvalidator set changes: %lld (byzantine joins %lld, leaves %lld)",
              static_cast<long long>(set_changes), static_cast<long long>(byzantine_joins),
              static_cast<long long>(byzantine_leaves));
  std::printf("\n%llu passed, %llu failed (%lld s)\n", static_cast<unsigned long long>(count - failed),
              static_cast<unsigned long long>(failed), static_cast<long long>(secs));
  return failed == 0 ? 0 : 1;
}
