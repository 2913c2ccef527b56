// The bound (V, B), per-step statistics, CPU time from /proc, the table and the JSON.
#include <sodium.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bench/loadgen/loadgen.h"
#include "common/assert.h"
#include "common/bytes.h"

namespace v2g::loadgen {
namespace {

using nlohmann::json;

// The p-th percentile (0..100) of `v` (sorted here), in ms; 0 for none.
double PercentileMs(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return static_cast<double>(v[std::min(i, v.size() - 1)]) / 1e6;
}

}  // namespace

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double MeasureVerifyRate(int64_t ms) {
  V2G_ASSERT(ms > 0);
  const int init = sodium_init();
  V2G_ASSERT(init >= 0);
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  // About the size of a transfer's sign-bytes.
  unsigned char msg[160];
  randombytes_buf(msg, sizeof(msg));
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, msg, sizeof(msg), sk);
  int64_t n = 0;
  const int64_t start = NowNs();
  const int64_t end = start + ms * 1'000'000;
  int64_t now = start;
  while (now < end) {
    for (int i = 0; i < 64; ++i) {
      V2G_ASSERT(crypto_sign_verify_detached(sig, msg, sizeof(msg), pk) == 0);
    }
    n += 64;
    now = NowNs();
  }
  return static_cast<double>(n) * 1e9 / static_cast<double>(now - start);
}

double SelfCpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

void AddVerifySample(Bound& bound, double verify_per_s) {
  V2G_ASSERT(verify_per_s > 0 && bound.cores > 0 && bound.nodes > 0);
  bound.verify_samples.push_back(verify_per_s);
  bound.verify_per_s = *std::max_element(bound.verify_samples.begin(), bound.verify_samples.end());
  bound.bound_tps =
      static_cast<double>(bound.cores) * bound.verify_per_s / static_cast<double>(bound.nodes);
}

double ProcessCpuSeconds(pid_t pid) {
  if (pid <= 0) return -1;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  // The command name (field 2) is in parentheses and may hold spaces: count fields after ')'.
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Fields 3.. : state is 3; utime 14, stime 15.
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

StepReport Summarize(const std::vector<PresignedTx>& txs, const StepTrace& trace,
                     std::vector<SendTally>& tallies, const std::vector<BlockSeen>& blocks,
                     int64_t rate, int64_t seconds, int64_t start_ns, int64_t end_ns) {
  V2G_ASSERT(end_ns > start_ns);
  V2G_ASSERT(trace.verdict.size() == txs.size());
  StepReport r;
  r.rate = rate;
  r.seconds = seconds;
  r.offered = static_cast<int64_t>(txs.size());
  std::vector<int64_t> lags;
  for (auto& t : tallies) {
    r.sent += t.sent;
    r.accepted += t.accepted;
    r.late += t.late;
    for (const auto& [code, n] : t.rejected) {
      r.rejected[code] += n;
      r.rejected_total += n;
    }
    if (r.first_error.empty()) r.first_error = t.first_error;
    lags.insert(lags.end(), t.lag_ns.begin(), t.lag_ns.end());
    std::vector<int64_t>().swap(t.lag_ns);
  }
  r.lag_p99_ms = PercentileMs(lags, 99);
  std::vector<int64_t> latencies;
  for (size_t i = 0; i < txs.size(); ++i) {
    if (trace.verdict[i] != Verdict::kAccepted) ++r.never_admitted;
    if (trace.commit_ns[i] == 0) {
      if (trace.verdict[i] == Verdict::kAccepted) ++r.lost;
      continue;
    }
    ++r.committed_total;
    if (trace.commit_code[i] != 0) ++r.failed_in_block;
    if (trace.commit_ns[i] < end_ns) ++r.committed_in_window;
    // From the scheduled time of the slot that got it admitted (a late send's wait counts):
    // open-loop latency. A tx whose answer was lost (transport) counts from its own slot.
    const int64_t from = trace.sent_ns[i] != 0 ? trace.sent_ns[i] : start_ns + txs[i].send_at_ns;
    latencies.push_back(trace.commit_ns[i] - from);
    if (r.committed_sample.size() < kCommittedSampleMax) {
      r.committed_sample.emplace_back(HexEncode(ByteView(txs[i].hash.data(), txs[i].hash.size())),
                                      trace.commit_height[i]);
    }
  }
  r.committed_tps = static_cast<double>(r.committed_in_window) / static_cast<double>(seconds);
  r.latency_p50_ms = PercentileMs(latencies, 50);
  r.latency_p99_ms = PercentileMs(latencies, 99);
  r.latency_max_ms = latencies.empty() ? 0 : static_cast<double>(latencies.back()) / 1e6;
  int64_t block_txs = 0;
  for (const auto& b : blocks) {
    if (b.seen_ns < start_ns || b.seen_ns >= end_ns) continue;
    ++r.blocks;
    block_txs += b.num_txs;
    r.txs_per_block_max = std::max(r.txs_per_block_max, b.num_txs);
  }
  r.txs_per_block_mean =
      r.blocks == 0 ? 0 : static_cast<double>(block_txs) / static_cast<double>(r.blocks);
  return r;
}

void PrintTable(const Bound& bound, const std::vector<StepReport>& steps, bool with_cpu) {
  std::printf(
      "\nV = %.0f Ed25519 verifications/s on one core (%.1f us each; fastest of %zu samples); "
      "B = %lld cores x V / %lld nodes = %.0f tx/s\n",
      bound.verify_per_s, 1e6 / bound.verify_per_s, bound.verify_samples.size(),
      static_cast<long long>(bound.cores), static_cast<long long>(bound.nodes), bound.bound_tps);
  std::printf("%9s %9s %8s %9s %9s %10s %8s %17s %9s %7s %6s", "offered/s", "sent", "late",
              "accepted", "rejected", "committed/s", "lost", "p50 / p99 ms", "txs/blk", "max",
              "of B");
  if (with_cpu) std::printf(" %16s", "cpu us/tx/node");
  std::printf("\n");
  for (const auto& s : steps) {
    char lat[64];
    std::snprintf(lat, sizeof(lat), "%.0f / %.0f", s.latency_p50_ms, s.latency_p99_ms);
    std::printf("%9lld %9lld %8lld %9lld %9lld %10.0f %8lld %17s %9.1f %7lld %5.1f%%",
                static_cast<long long>(s.rate), static_cast<long long>(s.sent),
                static_cast<long long>(s.late), static_cast<long long>(s.accepted),
                static_cast<long long>(s.rejected_total), s.committed_tps,
                static_cast<long long>(s.lost), lat, s.txs_per_block_mean,
                static_cast<long long>(s.txs_per_block_max),
                bound.bound_tps > 0 ? 100.0 * s.committed_tps / bound.bound_tps : 0.0);
    if (with_cpu) {
      double sum = 0;
      for (double c : s.cpu_us_per_tx) sum += c;
      const double mean =
          s.cpu_us_per_tx.empty() ? 0 : sum / static_cast<double>(s.cpu_us_per_tx.size());
      std::printf(" %7.0f (%4.1fxV)", mean, mean * bound.verify_per_s / 1e6);
    }
    std::printf("\n");
  }
  for (const auto& s : steps) {
    if (s.rejected.empty() && s.failed_in_block == 0) continue;
    std::printf("  at %lld/s:", static_cast<long long>(s.rate));
    for (const auto& [code, n] : s.rejected)
      std::printf(" %s %lld", code.c_str(), static_cast<long long>(n));
    if (s.never_admitted)
      std::printf("; never admitted %lld", static_cast<long long>(s.never_admitted));
    if (s.failed_in_block)
      std::printf("; failed in block %lld", static_cast<long long>(s.failed_in_block));
    if (!s.first_error.empty()) std::printf("\n    first refusal: %s", s.first_error.c_str());
    std::printf("\n");
  }
}

Status WriteJson(const std::string& path, const Options& o, const Bound& bound,
                 const std::vector<StepReport>& steps) {
  json nodes = json::array();
  for (const auto& n : o.nodes) nodes.push_back({{"api", n.api}, {"pid", n.pid}});
  json out = {
      {"nodes", nodes},
      {"connections_per_node", o.conns_per_node},
      {"senders", o.senders},
      {"batch", o.batch},
      {"step_seconds", o.step_seconds},
      {"late_ms", o.late_ms},
      {"poll_ms", o.poll_ms},
      {"verify_per_s", bound.verify_per_s},
      {"verify_samples", bound.verify_samples},
      {"cores", bound.cores},
      {"nodes_for_bound", bound.nodes},
      {"bound_tps", bound.bound_tps},
      {"latency_method",
       "from each tx's scheduled send time to when the watcher's poll (every poll_ms) of " +
           o.nodes[o.watch_node].api + " first saw the block holding it"},
  };
  json js = json::array();
  for (const auto& s : steps) {
    json sample = json::array();
    for (const auto& [hash, height] : s.committed_sample)
      sample.push_back({{"hash", hash}, {"height", height}});
    js.push_back({{"rate", s.rate},
                  {"seconds", s.seconds},
                  {"offered", s.offered},
                  {"sent", s.sent},
                  {"late", s.late},
                  {"lag_p99_ms", s.lag_p99_ms},
                  {"never_admitted", s.never_admitted},
                  {"accepted", s.accepted},
                  {"rejected", s.rejected_total},
                  {"rejected_by_code", s.rejected},
                  {"first_refusal", s.first_error},
                  {"committed_in_window", s.committed_in_window},
                  {"committed_tps", s.committed_tps},
                  {"committed", s.committed_total},
                  {"failed_in_block", s.failed_in_block},
                  {"lost", s.lost},
                  {"latency_p50_ms", s.latency_p50_ms},
                  {"latency_p99_ms", s.latency_p99_ms},
                  {"latency_max_ms", s.latency_max_ms},
                  {"blocks", s.blocks},
                  {"txs_per_block_mean", s.txs_per_block_mean},
                  {"txs_per_block_max", s.txs_per_block_max},
                  {"drain_s", s.drain_s},
                  {"loadgen_cpu_s", s.loadgen_cpu_s},
                  {"share_of_bound", bound.bound_tps > 0 ? s.committed_tps / bound.bound_tps : 0.0},
                  {"cpu_us_per_committed_tx_per_node", s.cpu_us_per_tx},
                  {"committed_sample", sample}});
  }
  out["steps"] = js;
  std::ofstream f(path);
  f << out.dump(2) << "\n";
  f.close();
  if (!f) return Error(Code::kIo, "cannot write --json " + path);
  return Status::Ok();
}

}  // namespace v2g::loadgen
