// The wired simulation over any number of seeds (the default test run does 60):
//   v2g_wired_sim --seeds 1000 [--first 1]
//   v2g_wired_sim --seed 1234 --verbose
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/sim/wired.h"

int main(int argc, char** argv) {
  uint64_t first = 1, count = 100;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "v2g_wired_sim: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--seeds") count = std::stoull(next());
    else if (a == "--first") first = std::stoull(next());
    else if (a == "--seed") { first = std::stoull(next()); count = 1; }
    else if (a == "--verbose") verbose = true;
    else {
      std::fprintf(stderr, "usage: v2g_wired_sim [--seeds N] [--first S] [--seed S] [--verbose]\n");
      return 2;
    }
  }
  const auto start = std::chrono::steady_clock::now();
  uint64_t failed = 0;
  int64_t crashes = 0, torn = 0, disk_failures = 0, evidence = 0, max_gap = 0;
  for (uint64_t s = first; s < first + count; ++s) {
    v2g::sim::WiredOptions o;
    o.seed = s;
    o.verbose = verbose;
    const v2g::sim::WiredResult r = v2g::sim::RunWiredSimulation(o);
    crashes += r.crashes;
    torn += r.torn_writes;
    disk_failures += r.disk_failures;
    evidence += r.evidence;
    max_gap = std::max(max_gap, r.max_decide_gap_ms);
    if (!r.ok) {
      ++failed;
      std::fprintf(stderr, "FAIL %s\n", r.failure.c_str());
    } else if (verbose) {
      std::fprintf(stderr, "ok seed %llu: heights %lld..%lld [%s]\n", static_cast<unsigned long long>(s),
                   static_cast<long long>(r.min_honest_height), static_cast<long long>(r.max_height), r.summary.c_str());
    }
  }
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start).count();
  std::printf("%llu passed, %llu failed (%lld s); honest crashes %lld (torn WAL tails %lld), disk failures %lld, "
              "evidence %lld, longest wait for a decision after GST %lld ms\n",
              static_cast<unsigned long long>(count - failed), static_cast<unsigned long long>(failed),
              static_cast<long long>(secs), static_cast<long long>(crashes), static_cast<long long>(torn),
              static_cast<long long>(disk_failures), static_cast<long long>(evidence), static_cast<long long>(max_gap));
  return failed == 0 ? 0 : 1;
}
