// Shared by the benchmarks: a console reporter that also keeps each benchmark's items/s so the
// program can print its rate next to the machine's bound (the Ed25519 verify rate).
#pragma once

#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <vector>

namespace v2g {

class CaptureReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      auto it = r.counters.find("items_per_second");
      if (it != r.counters.end()) rates[r.benchmark_name()] = static_cast<long long>(it->second.value);
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, long long> rates;  // benchmark name -> items per second
};

}  // namespace v2g
