// v2g_loadgen: command line and the run (bench/loadgen/loadgen.h has the life of a run).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "bench/loadgen/loadgen.h"
#include "common/assert.h"

namespace v2g::loadgen {
namespace {

constexpr char kDevnetPassphrase[] = "devnet-passphrase";  // scripts/devnet's default
// Each sender is funded for this many times the fee it pays now (the node may ask more later).
constexpr int64_t kFeeHeadroom = 10;
// Sending starts this long after the watcher and the connections are set up.
constexpr int64_t kLeadNs = 200'000'000;

int Fail(const Status& s) {
  std::fprintf(stderr, "v2g_loadgen: %s\n", s.ToString().c_str());
  return 1;
}

Status CheckOptions(const Options& o) {
  auto bad = [](const std::string& why) { return Error(Code::kInvalidArgument, why); };
  if (o.rates.empty()) return bad("--rates: give at least one rate");
  if (o.rates.size() > kStepsMax)
    return bad("--rates: at most " + std::to_string(kStepsMax) + " steps");
  for (int64_t r : o.rates) {
    if (r < 1 || r > kRateMax)
      return bad("--rates: each rate must be 1.." + std::to_string(kRateMax) + " tx/s");
    if (r * o.step_seconds > kStepTxsMax) {
      return bad("--rates x --step-seconds: " + std::to_string(r * o.step_seconds) +
                 " txs in one step, more than " + std::to_string(kStepTxsMax));
    }
  }
  const int64_t conns = static_cast<int64_t>(o.nodes.size()) * o.conns_per_node;
  if (o.senders < conns) {
    return bad("--senders: " + std::to_string(o.senders) + " is fewer than the " +
               std::to_string(conns) +
               " connections (each connection sends its own senders' txs, in nonce order)");
  }
  if (o.watch_node >= o.nodes.size())
    return bad("--watch-node: there are only " + std::to_string(o.nodes.size()) + " nodes");
  return Status::Ok();
}

// One step: pre-sign, send open-loop while watching blocks, drain, summarize.
Result<StepReport> RunStep(const Options& o, const Chain& chain,
                           const std::vector<KeyPair>& senders, int64_t rate, size_t step,
                           int64_t verify_ms, Bound& bound) {
  auto fee = TransferFee(o, chain);
  if (!fee.ok()) return fee.status();
  const int64_t t_sign = NowNs();
  auto txs = PresignStep(o, chain, senders, rate, *fee);
  if (!txs.ok()) return txs.status();
  if (!o.quiet) {
    std::printf("step %zu/%zu: %lld tx/s for %lld s: %zu txs signed in %.1f s (fee %lld %s each)\n",
                step + 1, o.rates.size(), static_cast<long long>(rate),
                static_cast<long long>(o.step_seconds), txs->size(),
                static_cast<double>(NowNs() - t_sign) / 1e9, static_cast<long long>(*fee),
                chain.denom.c_str());
    std::fflush(stdout);
  }
  // The network is quiet between steps (the last one drained): a fair moment to sample V.
  AddVerifySample(bound, MeasureVerifyRate(verify_ms));
  StepTrace trace;
  trace.verdict.assign(txs->size(), Verdict::kUnsent);
  trace.sent_ns.assign(txs->size(), 0);
  trace.commit_ns.assign(txs->size(), 0);
  trace.commit_height.assign(txs->size(), 0);
  trace.commit_code.assign(txs->size(), 0);
  auto tip = LatestHeight(o);
  if (!tip.ok()) return tip.status();
  BlockWatcher watcher(o, *txs, trace, *tip + 1);
  watcher.Start();
  std::vector<double> cpu0;
  for (const auto& n : o.nodes) cpu0.push_back(ProcessCpuSeconds(n.pid));
  const double self0 = SelfCpuSeconds();
  const int64_t start = NowNs() + kLeadNs;
  const int64_t end = start + o.step_seconds * 1'000'000'000;
  // CPU times at the end of the window exactly, also when late senders run past it.
  std::vector<double> cpu1;
  double self_cpu = 0;
  std::thread at_end([&] {
    std::this_thread::sleep_for(std::chrono::nanoseconds(end - NowNs()));
    for (const auto& n : o.nodes) cpu1.push_back(ProcessCpuSeconds(n.pid));
    self_cpu = SelfCpuSeconds() - self0;
  });
  std::vector<SendTally> tallies = SendStep(o, senders, *txs, start, trace);
  at_end.join();
  int64_t accepted = 0;
  for (const auto& t : tallies) accepted += t.accepted;
  // Drain: until every accepted tx is seen committed, or drain_seconds_max.
  const int64_t drain_end = NowNs() + o.drain_seconds_max * 1'000'000'000;
  while (watcher.matched() < accepted && NowNs() < drain_end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(o.poll_ms));
  }
  const double drain_s = static_cast<double>(NowNs() - end) / 1e9;
  watcher.Stop();
  if (!watcher.error().empty() && !o.quiet)
    std::printf("  (block watcher: %s)\n", watcher.error().c_str());
  StepReport r =
      Summarize(*txs, trace, tallies, watcher.blocks(), rate, o.step_seconds, start, end);
  r.drain_s = drain_s;
  r.loadgen_cpu_s = self_cpu;
  for (size_t i = 0; i < o.nodes.size(); ++i) {
    if (cpu0[i] < 0 || cpu1[i] < 0 || r.committed_in_window == 0) continue;
    r.cpu_us_per_tx.push_back((cpu1[i] - cpu0[i]) * 1e6 /
                              static_cast<double>(r.committed_in_window));
  }
  if (!o.quiet) {
    std::printf(
        "  sent %lld (late %lld), accepted %lld, rejected %lld, committed %lld in the window "
        "+ %lld in the %.1f s after it, lost %lld; p50 %.0f ms, p99 %.0f ms; this process used "
        "%.1f CPU s in the window\n",
        static_cast<long long>(r.sent), static_cast<long long>(r.late),
        static_cast<long long>(r.accepted), static_cast<long long>(r.rejected_total),
        static_cast<long long>(r.committed_in_window),
        static_cast<long long>(r.committed_total - r.committed_in_window), drain_s,
        static_cast<long long>(r.lost), r.latency_p50_ms, r.latency_p99_ms, r.loadgen_cpu_s);
    std::fflush(stdout);
  }
  return r;
}

int Run(Options& o, int64_t verify_ms) {
  Bound bound;
  bound.cores = o.cores > 0 ? o.cores : std::max<int64_t>(1, std::thread::hardware_concurrency());
  bound.nodes = o.nodes_for_bound > 0 ? o.nodes_for_bound : static_cast<int64_t>(o.nodes.size());
  AddVerifySample(bound, MeasureVerifyRate(verify_ms));
  auto chain = Setup(o);
  if (!chain.ok()) return Fail(chain.status());
  if (!o.quiet) {
    std::printf(
        "chain %s, %zu nodes x %d connections, %lld senders, %lld txs per request; V = %.0f "
        "verifies/s, B = %.0f tx/s\n",
        chain->chain_id.c_str(), o.nodes.size(), o.conns_per_node,
        static_cast<long long>(o.senders), static_cast<long long>(o.batch), bound.verify_per_s,
        bound.bound_tps);
  }
  const std::vector<KeyPair> senders = SenderKeys(o);
  auto fee = TransferFee(o, *chain);
  if (!fee.ok()) return Fail(fee.status());
  int64_t total = 0;
  for (int64_t r : o.rates) total += r * o.step_seconds;
  const int64_t per_sender = total / o.senders + 1;
  const int64_t need = per_sender * (o.amount + std::max<int64_t>(1, *fee) * kFeeHeadroom) + 1000;
  if (Status s = FundSenders(o, *chain, senders, need); !s.ok()) return Fail(s);
  std::vector<StepReport> steps;
  for (size_t i = 0; i < o.rates.size(); ++i) {
    auto r = RunStep(o, *chain, senders, o.rates[i], i, verify_ms, bound);
    if (!r.ok()) return Fail(r.status());
    steps.push_back(std::move(r).value());
  }
  bool with_cpu = false;
  for (const auto& n : o.nodes) with_cpu |= n.pid > 0;
  PrintTable(bound, steps, with_cpu);
  if (!o.json_path.empty()) {
    if (Status s = WriteJson(o.json_path, o, bound, steps); !s.ok()) return Fail(s);
  }
  return 0;
}

// What the command line gives besides Options.
struct Flags {
  std::string api, devnet, pids;
  int64_t verify_ms = 1000;
};

void AddFlags(CLI::App* app, Options& o, Flags& f) {
  o.rates = {500, 1000, 2000, 4000};
  auto* api_opt = app->add_option("--api", f.api,
                                  "Node API URLs, comma-separated (http://127.0.0.1:26657,...)");
  auto* devnet_opt =
      app->add_option("--devnet", f.devnet,
                      "A devnet directory (scripts/devnet): its nodes' APIs and pids, its wallet "
                      "(DIR/wallet) and key 'issuer'");
  api_opt->excludes(devnet_opt);
  app->add_option("--pids", f.pids,
                  "The nodes' process ids, comma-separated, in --api order (CPU per tx)");
  app->add_option("--rates", o.rates, "Offered tx/s, one step each")
      ->delimiter(',')
      ->capture_default_str();
  app->add_option("--step-seconds", o.step_seconds, "Seconds per step")
      ->check(CLI::Range(int64_t{1}, kStepSecondsMax))
      ->capture_default_str();
  app->add_option("--drain-seconds", o.drain_seconds_max,
                  "After a step, wait at most this for its txs to commit")
      ->check(CLI::Range(int64_t{0}, int64_t{600}))
      ->capture_default_str();
  app->add_option("--conns-per-node", o.conns_per_node,
                  "Keep-alive connections to each node (a node takes 8 per client address by "
                  "default: past 7, those to a loopback node come from 127.0.0.2, .3, ...)")
      ->check(CLI::Range(1, kConnsPerNodeMax))
      ->capture_default_str();
  app->add_option("--batch", o.batch,
                  "Txs per request: 1 sends each on its own (POST /v1/txs), more gathers that "
                  "many slots of a connection into one POST /v1/txs/batch sent at the last one's "
                  "time (at most " +
                      std::to_string(kBatchMax) + ", under the node's body limit)")
      ->check(CLI::Range(int64_t{1}, kBatchMax))
      ->capture_default_str();
  app->add_option("--senders", o.senders, "Funded sender accounts (default 8 per connection)")
      ->check(CLI::Range(int64_t{1}, kSendersMax));
  app->add_option("--sender-seed", o.sender_seed,
                  "Senders' keys derive from this (a rerun reuses them)")
      ->capture_default_str();
  app->add_option("--from", o.from,
                  "Funder: a wallet key name (an issuer mints, else it transfers)");
  app->add_option("--home", o.home, "Wallet home for --from (env V2G_HOME, default ~/.v2g)");
  app->add_option("--passphrase-file", o.passphrase_file,
                  "Passphrase of --from (else env V2G_PASSPHRASE)");
  app->add_option("--seed-file", o.seed_file,
                  "Funder: a file whose first line is its seed (64 hex digits)");
  app->add_option("--denom", o.denom,
                  "Denomination sent (default the chain's market denomination)");
  app->add_option("--amount", o.amount, "Minimal units per transfer")
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000'000}))
      ->capture_default_str();
  app->add_option("--fee-per-unit", o.fee_per_unit,
                  "Fee per fee unit (default: what the node asks at each step)")
      ->check(CLI::Range(int64_t{0}, int64_t{1'000'000'000}));
  app->add_option("--late-ms", o.late_ms, "A send this far behind its schedule counts as late")
      ->check(CLI::Range(int64_t{1}, int64_t{10'000}))
      ->capture_default_str();
  app->add_option("--poll-ms", o.poll_ms, "Block polling period")
      ->check(CLI::Range(int64_t{10}, int64_t{5'000}))
      ->capture_default_str();
  app->add_option("--watch-node", o.watch_node, "Index of the node whose blocks are polled")
      ->capture_default_str();
  app->add_option("--cores", o.cores, "Cores for the bound B (default: this machine's)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  app->add_option("--nodes", o.nodes_for_bound,
                  "Nodes sharing the cores, for B (default: the API count)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  app->add_option("--verify-ms", f.verify_ms, "How long to measure V")
      ->check(CLI::Range(int64_t{100}, int64_t{10'000}))
      ->capture_default_str();
  app->add_option("--json", o.json_path, "Also write the results as JSON to this file");
  app->add_flag("--quiet", o.quiet, "Only the table");
}

// Nodes, pids, the devnet's defaults and the checks on everything: kInvalidArgument saying what.
Status Resolve(const Flags& f, Options& o) {
  if (f.api.empty() && f.devnet.empty()) {
    return Error(Code::kInvalidArgument, "give --api URL[,URL...] or --devnet DIR (try --help)");
  }
  auto nodes = f.devnet.empty() ? NodesFromApiList(f.api) : NodesFromDevnet(f.devnet);
  if (!nodes.ok()) return nodes.status();
  o.nodes = std::move(nodes).value();
  if (!f.pids.empty()) V2G_RETURN_IF_ERROR(AttachPids(f.pids, o.nodes));
  if (!f.devnet.empty()) {
    if (o.home.empty()) o.home = f.devnet + "/wallet";
    if (o.from.empty() && o.seed_file.empty()) o.from = "issuer";
    if (o.passphrase_file.empty()) ::setenv("V2G_PASSPHRASE", kDevnetPassphrase, /*overwrite=*/0);
  }
  if (o.home.empty()) {
    const char* h = std::getenv("V2G_HOME");
    const char* home = std::getenv("HOME");
    o.home = h != nullptr && *h != '\0' ? h : std::string(home != nullptr ? home : ".") + "/.v2g";
  }
  if (o.senders == 0) o.senders = 8 * static_cast<int64_t>(o.nodes.size()) * o.conns_per_node;
  return CheckOptions(o);
}

}  // namespace
}  // namespace v2g::loadgen

int main(int argc, char** argv) {
  using namespace v2g::loadgen;
  // A node that closes a keep-alive connection while a sender writes must not kill the run.
  ::signal(SIGPIPE, SIG_IGN);
  Options o;
  Flags f;
  CLI::App app{
      "v2g_loadgen: open-loop transfers against a v2gledger network, stepped rates, "
      "committed tx/s and latency against the machine's bound (docs/DESIGN.md \"The load "
      "generator\")"};
  AddFlags(&app, o, f);
  CLI11_PARSE(app, argc, argv);
  if (v2g::Status s = Resolve(f, o); !s.ok()) {
    std::fprintf(stderr, "v2g_loadgen: %s\n", s.message().c_str());
    return 2;
  }
  return Run(o, f.verify_ms);
}
