// v2g_seedday: command line and the run (bench/seedday/seedday.h has the life of a run).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <sstream>
#include <thread>

#include "bench/seedday/seedday.h"
#include "common/assert.h"
#include "common/bytes.h"
#include "contracts/meters.h"
#include "wallet/client.h"
#include "wallet/prompt.h"

namespace v2g::seedday {
namespace {

// Each gateway is funded for this many times the fees its readings cost at fee_min (a busy
// mempool may ask more per unit).
constexpr int64_t kFeeHeadroom = 4;
// The first span starts at least this long after the spans are planned (gateways connect).
constexpr int64_t kLeadS = 2;

int Fail(const Status& s) {
  std::fprintf(stderr, "v2g_seedday: %s\n", s.ToString().c_str());
  return 1;
}

Status CheckOptions(const Options& o) {
  auto bad = [](const std::string& why) { return Error(Code::kInvalidArgument, why); };
  if (o.evs < 1 || o.evs > kEvsMax) return bad("--evs must be 1.." + std::to_string(kEvsMax));
  if (o.spans < 1 || o.spans > kSpansMax) return bad("--spans must be 1.." + std::to_string(kSpansMax));
  if (o.span_s < 1 || o.span_s > kSpanSMax) return bad("--span-s must be 1.." + std::to_string(kSpanSMax));
  if (o.gateways < 1 || o.gateways > kGatewaysMax || o.gateways > o.evs) {
    return bad("--gateways must be 1.." + std::to_string(kGatewaysMax) + " and at most --evs");
  }
  if (o.keep_up_s < 0 || o.keep_up_s > 3600) return bad("--keep-up-s must be 0..3600");
  if (o.prefix.empty() || o.prefix.size() > kPrefixCharsMax || !ValidMeterId(EvMeterId(o, o.evs - 1))) {
    return bad("--prefix must be 1-" + std::to_string(kPrefixCharsMax) +
               " characters that make valid meter ids");
  }
  if (!ValidZone(o.zone)) return bad("--zone is not a zone name");
  if (o.window_txs < 1 || o.window_txs > 255) return bad("--window must be 1..255 (under per_sender_max)");
  if (o.poll_ms < 10 || o.poll_ms > 10'000) return bad("--poll-ms must be 10..10000");
  if (o.drain_s < 1 || o.drain_s > 3600) return bad("--drain-seconds must be 1..3600");
  if (o.give_up_s < 0 || o.give_up_s > 86'400) return bad("--give-up-s must be 0..86400");
  if (o.verify_ms < 100 || o.verify_ms > 60'000) return bad("--verify-ms must be 100..60000");
  if (!o.homes.empty() && o.homes.size() != o.nodes.size())
    return bad("--homes: one per node, in the order of --api");
  return Status::Ok();
}

Result<KeyPair> OperatorKey(const std::string& seed_file) {
  if (seed_file.empty()) return Error(Code::kInvalidArgument, "--seed-file is required (the operator)");
  SEEDDAY_ASSIGN_OR_RETURN(line, ReadFirstLineOfFile(seed_file));
  std::string text = line;
  text.erase(text.find_last_not_of(" \t\r\n") + 1);
  auto seed = HexDecode(text);
  SecureWipe(text.data(), text.size());
  if (!seed.ok() || seed->size() != kSeedBytes)
    return Error(Code::kInvalidArgument, "--seed-file: the first line must be 64 hex digits");
  KeyPair k = KeyPair::FromSeed(*seed);
  SecureWipe(seed->data(), seed->size());
  return k;
}

// The node's fee_min and settlement interval.
Status ReadParams(const Options& o, int64_t& fee_min, int64_t& settlement_s) {
  SEEDDAY_ASSIGN_OR_RETURN(c, ApiClient::Create(o.nodes[0].api));
  SEEDDAY_ASSIGN_OR_RETURN(p, c.GetJson("/v1/params"));
  fee_min = p.value("fee_min", int64_t{0});
  settlement_s = p.value("settlement_interval_s", int64_t{0});
  if (settlement_s <= 0 || settlement_s % o.span_s != 0) {
    return Error(Code::kInvalidArgument, "--span-s " + std::to_string(o.span_s) +
                                             " must divide the chain's settlement interval (" +
                                             std::to_string(settlement_s) + " s)");
  }
  return Status::Ok();
}

void SumTraces(const std::vector<GatewayTrace>& traces, int64_t t0_s, RunReport& r) {
  for (const auto& t : traces) {
    r.sign_cpu_s += t.sign_cpu_s;
    r.tx_cpu_s += t.tx_cpu_s;
    for (const auto& [code, n] : t.refusals) r.refusals[code] += n;
    if (!t.error.empty() && r.first_error.empty()) r.first_error = "gateway " + t.address + ": " + t.error;
    if (t.gave_up_at_span >= 0 && (r.gave_up_at_span < 0 || t.gave_up_at_span < r.gave_up_at_span))
      r.gave_up_at_span = t.gave_up_at_span;
  }
  int64_t last_commit_ms = 0;
  for (const auto& t : traces) {
    for (const auto& x : t.txs) last_commit_ms = std::max(last_commit_ms, x.commit_wall_ms);
  }
  for (const auto& s : r.span_reports) {
    r.sent += s.sent;
    r.committed += s.committed;
  }
  if (last_commit_ms > 0) r.spans_wall_s = static_cast<double>(last_commit_ms - t0_s * 1000) / 1e3;
}

int Run(Options& o) {
  RunReport r;
  r.evs = o.evs;
  r.spans = o.spans;
  r.span_s = o.span_s;
  r.gateways = o.gateways;
  r.keep_up_s = o.keep_up_s > 0 ? o.keep_up_s : o.span_s;
  r.bound.cores = o.cores > 0 ? o.cores : static_cast<int64_t>(std::thread::hardware_concurrency());
  r.bound.nodes = static_cast<int64_t>(o.nodes.size());
  loadgen::AddVerifySample(r.bound, loadgen::MeasureVerifyRate(o.verify_ms));
  loadgen::Options lo;
  lo.nodes = o.nodes;
  lo.seed_file = o.seed_file;
  auto chain = loadgen::Setup(lo);
  if (!chain.ok()) return Fail(chain.status());
  int64_t fee_min = 0, settlement_s = 0;
  if (Status s = ReadParams(o, fee_min, settlement_s); !s.ok()) return Fail(s);
  std::printf("chain %s, %zu nodes, operator %s, fee_min %lld, settlement %lld s\n",
              chain->chain_id.c_str(), o.nodes.size(), chain->funder_address.c_str(),
              static_cast<long long>(fee_min), static_cast<long long>(settlement_s));
  const std::vector<KeyPair> gateways = GatewayKeys(o);
  const int64_t readings_per_gateway = (o.evs / o.gateways + 1) * o.spans;
  const int64_t need = std::max<int64_t>(1, fee_min * 2 * readings_per_gateway * kFeeHeadroom);
  if (Status s = loadgen::FundSenders(lo, *chain, gateways, need); !s.ok()) return Fail(s);
  std::printf("deriving %lld device keys\n", static_cast<long long>(o.evs));
  std::fflush(stdout);
  const std::vector<KeyPair> devices = DeviceKeys(o);
  std::printf("registering %lld meters\n", static_cast<long long>(o.evs));
  std::fflush(stdout);
  if (Status s = RegisterFleet(o, *chain, devices, r); !s.ok()) return Fail(s);
  std::printf("registered %lld meters in %lld txs: %.1f s (signing %.1f s, submitted to committed %.1f s)\n",
              static_cast<long long>(r.registered), static_cast<long long>(r.register_txs),
              r.register_total_s, r.register_sign_s, r.register_submit_s);
  // Quiet again: a fair moment for a second sample of V.
  loadgen::AddVerifySample(r.bound, loadgen::MeasureVerifyRate(o.verify_ms));
  r.nodes.resize(o.nodes.size());
  std::vector<double> cpu0(o.nodes.size(), -1);
  for (size_t i = 0; i < o.nodes.size(); ++i) {
    r.nodes[i].api = o.nodes[i].api;
    r.nodes[i].pid = o.nodes[i].pid;
    if (!o.homes.empty()) r.nodes[i].disk_bytes_before = DiskBytes(o.homes[i]);
    if (o.nodes[i].pid > 0) cpu0[i] = loadgen::ProcessCpuSeconds(o.nodes[i].pid);
  }
  const double self0 = loadgen::SelfCpuSeconds();
  const int64_t t0_s = (WallMs() / 1000 + kLeadS + o.span_s - 1) / o.span_s * o.span_s;
  std::printf("spans: %lld of %lld s from %lld, %lld gateways, %.0f readings/s offered\n",
              static_cast<long long>(o.spans), static_cast<long long>(o.span_s),
              static_cast<long long>(t0_s), static_cast<long long>(o.gateways),
              static_cast<double>(o.evs) / static_cast<double>(o.span_s));
  std::fflush(stdout);
  auto traces = RunSpans(o, *chain, devices, gateways, t0_s, settlement_s);
  if (!traces.ok()) return Fail(traces.status());
  r.self_cpu_s = loadgen::SelfCpuSeconds() - self0;
  for (size_t i = 0; i < o.nodes.size(); ++i) {
    if (cpu0[i] >= 0) r.nodes[i].cpu_s_spans = loadgen::ProcessCpuSeconds(o.nodes[i].pid) - cpu0[i];
  }
  r.span_reports = SummarizeSpans(o, t0_s, *traces);
  SumTraces(*traces, t0_s, r);
  r.offered_rps = static_cast<double>(o.evs) / static_cast<double>(o.span_s);
  // Over the time readings were committed in: the spans, or longer when the network fell behind.
  r.committed_rps = static_cast<double>(r.committed) /
                    std::max(static_cast<double>(o.spans * o.span_s), r.spans_wall_s);
  // A gateway that gave up stopped before span gave_up_at; another may have sent it already (it
  // was not behind yet): every meter has at least the spans before it.
  int64_t spans_sent = r.gave_up_at_span >= 0 ? r.gave_up_at_span : o.spans;
  for (const auto& t : *traces) {  // a gateway that failed finished fewer
    if (!t.error.empty()) spans_sent = std::min(spans_sent, static_cast<int64_t>(t.flushed_wall_ms.size()));
  }
  Account(o, spans_sent, r.nodes);
  r.all_kept_up = true;
  for (const auto& s : r.span_reports) r.all_kept_up = r.all_kept_up && s.kept_up;
  r.all_accounted = r.gave_up_at_span >= 0 || r.sent == o.evs * o.spans;
  for (auto& n : r.nodes) {
    ReadRss(n.pid, n.rss_kib, n.rss_peak_kib);
    const size_t i = static_cast<size_t>(&n - r.nodes.data());
    if (!o.homes.empty()) n.disk_bytes_after = DiskBytes(o.homes[i]);
    r.all_accounted = r.all_accounted && n.error.empty() && n.meters == o.evs &&
                      n.meters_short == 0 && n.readings_accepted == r.sent;
  }
  PrintReport(r);
  if (!o.json_path.empty()) {
    if (Status s = WriteJson(o.json_path, r); !s.ok()) return Fail(s);
  }
  if (!r.first_error.empty()) return 1;
  return r.all_accounted ? 0 : 3;
}

}  // namespace
}  // namespace v2g::seedday

int main(int argc, char** argv) {
  using namespace v2g::seedday;
  v2g::InitCrypto();
  CLI::App app{"v2g_seedday - the pilots' day as a live benchmark (docs/DESIGN.md \"The pilots' day\")"};
  Options o;
  std::string apis, pids, homes;
  bool print_address = false;
  app.add_option("--api", apis, "Comma-separated API URLs of the nodes (http://host:port)");
  app.add_option("--pids", pids, "Their process ids, in order (CPU time and RSS)");
  app.add_option("--homes", homes, "Their home directories, in order (disk per node)");
  app.add_option("--seed-file", o.seed_file,
                 "The operator's key seed (64 hex digits): holds the operator role, issues the fee "
                 "denomination, registers the fleet and funds the gateways")
      ->required();
  app.add_flag("--print-address", print_address, "Print the operator's address and exit");
  app.add_option("--evs", o.evs, "EVs (vehicle meters)")->capture_default_str();
  app.add_option("--spans", o.spans, "Readings per EV, one per span")->capture_default_str();
  app.add_option("--span-s", o.span_s, "Span length in seconds (divides the settlement interval)")
      ->capture_default_str();
  app.add_option("--gateways", o.gateways, "Operator gateways, each owning a slice of the fleet")
      ->capture_default_str();
  app.add_option("--keep-up-s", o.keep_up_s,
                 "A span keeps up when all its readings commit within this after its end (0 = span)")
      ->capture_default_str();
  app.add_option("--prefix", o.prefix, "Meter ids are PREFIX-000000...")->capture_default_str();
  app.add_option("--zone", o.zone, "Zone of the meters")->capture_default_str();
  app.add_option("--fleet-seed", o.fleet_seed, "Derives the device, gateway and owner keys")
      ->capture_default_str();
  app.add_option("--window", o.window_txs, "Txs in flight per sender (pipelined nonces)")
      ->capture_default_str();
  app.add_option("--poll-ms", o.poll_ms, "Commit tracker period")->capture_default_str();
  app.add_option("--drain-seconds", o.drain_s, "After the last span, wait at most this for commits")
      ->capture_default_str();
  app.add_option("--give-up-s", o.give_up_s,
                 "Stop sending when a gateway is this far behind a span's end (0 = never)")
      ->capture_default_str();
  app.add_option("--verify-ms", o.verify_ms, "Length of each V sample")->capture_default_str();
  app.add_option("--cores", o.cores, "Cores for the bound B = cores x V / nodes (0 = this machine's)")
      ->capture_default_str();
  app.add_option("--json", o.json_path, "Write the report as JSON here");
  CLI11_PARSE(app, argc, argv);
  if (print_address) {
    auto k = OperatorKey(o.seed_file);
    if (!k.ok()) return Fail(k.status());
    std::printf("%s\n", v2g::EncodeAddress(v2g::AddressFromPublicKey(k->public_key())).c_str());
    return 0;
  }
  auto nodes = v2g::loadgen::NodesFromApiList(apis);
  if (!nodes.ok()) return Fail(nodes.status());
  o.nodes = std::move(nodes).value();
  if (!pids.empty()) {
    if (auto s = v2g::loadgen::AttachPids(pids, o.nodes); !s.ok()) return Fail(s);
  }
  if (!homes.empty()) {
    std::stringstream ss(homes);
    std::string h;
    while (std::getline(ss, h, ',')) {
      if (!h.empty()) o.homes.push_back(h);
    }
  }
  if (auto s = CheckOptions(o); !s.ok()) return Fail(s);
  return Run(o);
}
