// Disk, memory, span summaries, the table and the JSON.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bench/seedday/seedday.h"
#include "common/assert.h"

namespace v2g::seedday {

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t DiskBytes(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  int64_t total = 0;
  fs::recursive_directory_iterator it(dir, ec), end;
  if (ec) return -1;
  for (; it != end; it.increment(ec)) {
    if (ec) return -1;
    if (it->is_regular_file(ec)) total += static_cast<int64_t>(it->file_size(ec));
  }
  return total;
}

void ReadRss(pid_t pid, int64_t& rss_kib, int64_t& peak_kib) {
  rss_kib = peak_kib = -1;
  if (pid <= 0) return;
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string key;
    int64_t v = 0;
    in >> key >> v;
    if (key == "VmRSS:") rss_kib = v;
    if (key == "VmHWM:") peak_kib = v;
  }
}

std::vector<SpanReport> SummarizeSpans(const Options& o, int64_t t0_s,
                                       const std::vector<GatewayTrace>& traces) {
  const int64_t bound_s = o.keep_up_s > 0 ? o.keep_up_s : o.span_s;
  std::vector<SpanReport> out(static_cast<size_t>(o.spans));
  // Per span: (lag ms, readings) of each tx, for the percentile by reading.
  std::vector<std::vector<std::pair<int64_t, int64_t>>> lags(out.size());
  for (size_t k = 0; k < out.size(); ++k) {
    out[k].span = static_cast<int64_t>(k);
    out[k].end_unix_s = t0_s + (static_cast<int64_t>(k) + 1) * o.span_s;
  }
  for (const auto& t : traces) {
    for (size_t k = 0; k < t.flushed_wall_ms.size() && k < out.size(); ++k) {
      if (t.flushed_wall_ms[k] > (out[k].end_unix_s + bound_s) * 1000) ++out[k].late_sends;
    }
    // Sent: every tx handed to the window, also of a span a gateway did not finish (it failed).
    for (const auto& r : t.txs) {
      if (r.span < 0 || r.span >= o.spans) continue;
      auto& s = out[static_cast<size_t>(r.span)];
      s.sent += r.readings;
      if (r.commit_wall_ms == 0) continue;
      s.committed += r.readings;
      lags[static_cast<size_t>(r.span)].emplace_back(r.commit_wall_ms - s.end_unix_s * 1000, r.readings);
    }
  }
  for (size_t k = 0; k < out.size(); ++k) {
    auto& v = lags[k];
    std::sort(v.begin(), v.end());
    int64_t total = 0;
    for (const auto& [lag, n] : v) total += n;
    int64_t seen = 0;
    for (const auto& [lag, n] : v) {
      seen += n;
      if (seen * 100 >= total * 99) {
        out[k].lag_p99_s = static_cast<double>(lag) / 1e3;
        break;
      }
    }
    if (!v.empty()) out[k].lag_max_s = static_cast<double>(v.back().first) / 1e3;
    out[k].kept_up = out[k].sent > 0 && out[k].committed == out[k].sent &&
                     out[k].lag_max_s <= static_cast<double>(bound_s);
  }
  return out;
}

namespace {
double Mib(int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }
}  // namespace

void PrintReport(const RunReport& r) {
  std::printf("\nThe pilots' day: %lld EVs x %lld spans of %lld s (%lld readings), %lld gateways\n",
              static_cast<long long>(r.evs), static_cast<long long>(r.spans),
              static_cast<long long>(r.span_s), static_cast<long long>(r.evs * r.spans),
              static_cast<long long>(r.gateways));
  std::printf("V = %.0f verifications/s (%.1f us), B = %lld cores x V / %lld nodes = %.0f readings/s\n",
              r.bound.verify_per_s, 1e6 / r.bound.verify_per_s, static_cast<long long>(r.bound.cores),
              static_cast<long long>(r.bound.nodes), r.bound.bound_tps);
  std::printf("registration: %lld meters in %lld RegisterMeters txs, %.1f s (%.1f s signing, %.1f s "
              "submitted to all committed)\n",
              static_cast<long long>(r.registered), static_cast<long long>(r.register_txs),
              r.register_total_s, r.register_sign_s, r.register_submit_s);
  std::printf("\n%5s %10s %10s %10s %10s %8s %s\n", "span", "sent", "committed", "lag max s",
              "lag p99 s", "late gw", "kept up");
  for (const auto& s : r.span_reports) {
    std::printf("%5lld %10lld %10lld %10.2f %10.2f %8lld %s\n", static_cast<long long>(s.span),
                static_cast<long long>(s.sent), static_cast<long long>(s.committed), s.lag_max_s,
                s.lag_p99_s, static_cast<long long>(s.late_sends), s.kept_up ? "yes" : "NO");
  }
  std::printf("\nreadings: %lld sent, %lld committed; offered %.0f/s = %.1f%% of B, committed %.0f/s "
              "(from the first span's start to the last commit) = %.1f%% of B\n",
              static_cast<long long>(r.sent), static_cast<long long>(r.committed), r.offered_rps,
              100.0 * r.offered_rps / r.bound.bound_tps, r.committed_rps,
              100.0 * r.committed_rps / r.bound.bound_tps);
  std::printf("kept up (every span committed within %lld s of its end): %s; the last reading "
              "committed %.1f s after the first span began\n",
              static_cast<long long>(r.keep_up_s), r.all_kept_up ? "yes" : "NO", r.spans_wall_s);
  const double per_reading_us = r.sent > 0 ? 1e6 / static_cast<double>(r.sent) : 0;
  std::printf("simulator: device signing %.1f CPU s (%.1f us a reading), gateways' txs %.1f CPU s, "
              "whole process %.1f CPU s\n",
              r.sign_cpu_s, r.sign_cpu_s * per_reading_us, r.tx_cpu_s, r.self_cpu_s);
  std::printf("\n%-26s %12s %8s %8s %10s %10s %10s %8s %8s\n", "node", "accepted", "meters", "short",
              "disk MiB", "B/reading", "CPU us/rd", "RSS MiB", "peak MiB");
  for (const auto& n : r.nodes) {
    const int64_t grown = n.disk_bytes_after - n.disk_bytes_before;
    const double cpu_us = r.committed > 0 && n.cpu_s_spans >= 0
                              ? n.cpu_s_spans * 1e6 / static_cast<double>(r.committed)
                              : -1;
    std::printf("%-26s %12lld %8lld %8lld %10.1f %10.0f %10.1f %8.0f %8.0f\n", n.api.c_str(),
                static_cast<long long>(n.readings_accepted), static_cast<long long>(n.meters),
                static_cast<long long>(n.meters_short), Mib(n.disk_bytes_after),
                r.committed > 0 && n.disk_bytes_before >= 0
                    ? static_cast<double>(grown) / static_cast<double>(r.committed)
                    : -1.0,
                cpu_us, static_cast<double>(n.rss_kib) / 1024.0,
                static_cast<double>(n.rss_peak_kib) / 1024.0);
    if (!n.error.empty()) std::printf("  %s\n", n.error.c_str());
  }
  if (r.bound.verify_per_s > 0 && r.committed > 0) {
    std::printf("(one verify = %.1f us; CPU us/rd is the node's utime + stime over the spans per "
                "committed reading)\n",
                1e6 / r.bound.verify_per_s);
  }
  std::printf("every reading accounted for on every node: %s\n", r.all_accounted ? "yes" : "NO");
  if (!r.refusals.empty()) {
    std::printf("refusals (resubmitted):");
    for (const auto& [code, n] : r.refusals) std::printf(" %s %lld", code.c_str(), static_cast<long long>(n));
    std::printf("\n");
  }
  if (r.gave_up_at_span >= 0) {
    std::printf("GAVE UP: a gateway reached span %lld's end more than --give-up-s behind it; the "
                "spans from there were not sent\n",
                static_cast<long long>(r.gave_up_at_span));
  }
  if (!r.first_error.empty()) std::printf("error: %s\n", r.first_error.c_str());
  std::fflush(stdout);
}

Status WriteJson(const std::string& path, const RunReport& r) {
  using json = nlohmann::json;
  json spans = json::array();
  for (const auto& s : r.span_reports) {
    spans.push_back({{"span", s.span},
                     {"end_unix_s", s.end_unix_s},
                     {"sent", s.sent},
                     {"committed", s.committed},
                     {"lag_max_s", s.lag_max_s},
                     {"lag_p99_s", s.lag_p99_s},
                     {"late_gateways", s.late_sends},
                     {"kept_up", s.kept_up}});
  }
  json nodes = json::array();
  for (const auto& n : r.nodes) {
    nodes.push_back({{"api", n.api},
                     {"readings_accepted", n.readings_accepted},
                     {"meters", n.meters},
                     {"meters_short", n.meters_short},
                     {"disk_bytes_before", n.disk_bytes_before},
                     {"disk_bytes_after", n.disk_bytes_after},
                     {"rss_kib", n.rss_kib},
                     {"rss_peak_kib", n.rss_peak_kib},
                     {"cpu_s_spans", n.cpu_s_spans},
                     {"error", n.error}});
  }
  json doc = {{"evs", r.evs},
              {"spans", r.spans},
              {"span_s", r.span_s},
              {"gateways", r.gateways},
              {"keep_up_s", r.keep_up_s},
              {"verify_per_s", r.bound.verify_per_s},
              {"cores", r.bound.cores},
              {"nodes_for_bound", r.bound.nodes},
              {"bound_rps", r.bound.bound_tps},
              {"register_sign_s", r.register_sign_s},
              {"register_submit_s", r.register_submit_s},
              {"register_total_s", r.register_total_s},
              {"register_txs", r.register_txs},
              {"registered", r.registered},
              {"register_refusals", r.register_refusals},
              {"sent", r.sent},
              {"committed", r.committed},
              {"offered_rps", r.offered_rps},
              {"committed_rps", r.committed_rps},
              {"spans_wall_s", r.spans_wall_s},
              {"sign_cpu_s", r.sign_cpu_s},
              {"tx_cpu_s", r.tx_cpu_s},
              {"self_cpu_s", r.self_cpu_s},
              {"refusals", r.refusals},
              {"all_kept_up", r.all_kept_up},
              {"all_accounted", r.all_accounted},
              {"gave_up_at_span", r.gave_up_at_span},
              {"error", r.first_error},
              {"span_reports", spans},
              {"node_reports", nodes}};
  std::ofstream f(path);
  if (!f) return Error(Code::kIo, "cannot write " + path);
  f << doc.dump(2) << "\n";
  if (!f) return Error(Code::kIo, "writing " + path + " failed");
  return Status::Ok();
}

}  // namespace v2g::seedday
