// v2g_faults: one fault schedule against real v2gd processes, each in its own network namespace
// (docs/DESIGN.md "Fault harness"). Sets up the cluster and the bank workload, plays the schedule
// while acting as the nodes' supervisor, heals everything, lets the chain settle, stops the nodes
// and checks the recorded history and every node's store. Writes <out>/report.json and
// <out>/report.txt; exit 0 when every verdict holds, 1 when one fails, 2 on a setup error.
// Needs root (namespaces, nftables, a tmpfs mount). scripts/faults runs it.
#include <signal.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/bech32.h"
#include "common/crypto.h"
#include "tests/faults/bank.h"
#include "tests/faults/checker.h"
#include "tests/faults/cluster.h"
#include "tests/faults/market.h"
#include "tests/faults/meters.h"
#include "tests/faults/schedule.h"
#include "wallet/client.h"

namespace v2g::faults {
namespace {

std::atomic<bool> g_interrupted{false};

struct Options {
  std::string schedule = "random";
  uint64_t seed = 1;
  int64_t seconds = 30;
  int validators = 5;
  std::string out;
  std::string v2gd;
  std::string liar;  // v2g_liar, for schedules with a Byzantine peer
  int accounts = 8;
  int meters = 4;
  // Liveness bounds, for five validators and the clients sharing two cores (--recover-ms and
  // --settle-ms scale them for another machine).
  int64_t recover_ms = 30'000;  // after the last heal, the chain commits again and every node is at its tip
  int64_t settle_ms = 60'000;   // after the clients stop: every node level, mempools empty
  int64_t block_ahead_ms = 1500;  // a block's time may lead the harness's clock by at most this
};

// What the poller saw of one node at one moment.
struct Sample {
  int64_t t_ms = 0;     // since the run started (monotonic)
  int64_t wall_ms = 0;  // the harness's wall clock
  int64_t height = -1;  // -1: no answer
  int64_t block_time_ms = 0;
  std::string block_id;  // hex, of `height`
  int node = 0;
};

struct Exit {
  int64_t t_ms;
  int node;
  int status;
  bool expected;
};

class Run {
 public:
  explicit Run(Options o) : o_(std::move(o)) {}
  int Main();

 private:
  void Log(const std::string& line);
  int64_t T() const { return MonoMs() - t0_; }
  void Poll(int node);
  int64_t MaxHeight(int64_t at_or_before_ms);
  Status Apply(const Event& e);
  void Supervise();
  bool ExitExpected(int node, int status) const;
  void WriteHistory(const std::vector<TxRecord>& history);
  int Interrupted(Bank* bank, MeterFleet* meters, MarketWorkload* market);
  void SleepUntil(int64_t t_ms);
  int Leader();
  Status HealAll();
  // Every node answers, all at one height, mempools empty, and (when given) every
  // node's latest block is stamped at or after `block_time_ms`.
  Status WaitSettled(int64_t bound_ms, std::string* why, int64_t block_time_ms = 0);

  Options o_;
  Schedule sched_;
  std::unique_ptr<Cluster> cluster_;
  int64_t t0_ = 0;
  int64_t wall_t0_ = 0;
  std::ofstream log_;
  std::mutex mu_;  // samples_
  std::vector<std::vector<Sample>> samples_;
  std::atomic<bool> polling_{false};
  std::vector<std::thread> pollers_;
  std::vector<bool> wanted_;          // the schedule has the node running
  std::vector<int64_t> restart_at_;   // supervisor: restart an exited node at this time (0: none)
  std::vector<Exit> exits_;
  std::vector<std::pair<int64_t, std::string>> applied_;  // (t, what)
  std::vector<int64_t> heals_;        // times a fault ended
  std::vector<std::string> validator_of_;  // node -> validator address
  bool disk_full_ = false;
  int64_t disk_freed_at_ = -1;
  std::vector<std::pair<int, int64_t>> offsets_;  // (node, clock offset ms) started with
  std::vector<std::string> stop_errors_;
};

void Run::Log(const std::string& line) {
  char t[32];
  std::snprintf(t, sizeof t, "[%7.1fs] ", static_cast<double>(T()) / 1000.0);
  std::printf("%s%s\n", t, line.c_str());
  std::fflush(stdout);
  if (log_) log_ << t << line << "\n" << std::flush;
}

void Run::Poll(int node) {
  ClientOptions co;
  co.connect_timeout_ms = 300;
  co.read_timeout_ms = 1000;
  auto api = ApiClient::Create(cluster_->Api(node), co);
  if (!api.ok()) return;
  while (polling_) {
    Sample s;
    s.node = node;
    s.t_ms = T();
    s.wall_ms = NowMs();
    auto st = api->GetStatus();
    if (st.ok()) {
      s.height = st->latest_height;
      s.block_time_ms = st->latest_block_time_ms;
      s.block_id = st->latest_block_id;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto& v = samples_[static_cast<size_t>(node)];
      if (v.size() < 400'000) v.push_back(s);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

int64_t Run::MaxHeight(int64_t at_or_before_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t m = 0;
  for (const auto& v : samples_) {
    for (const Sample& s : v) {
      if (s.t_ms <= at_or_before_ms) m = std::max(m, s.height);
    }
  }
  return m;
}

void Run::SleepUntil(int64_t t_ms) {
  while (T() < t_ms && !g_interrupted) {
    Supervise();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// The harness is the nodes' supervisor: a node that ended on its own is recorded and, when the
// schedule wants it running, started again a second later (as systemd's Restart=on-failure).
// Exit 74 (storage failed) or 1 (the store cannot open) of the disk node while its disk is full,
// or within 5 s of freeing it (a restart already under way); anything else is a crash.
bool Run::ExitExpected(int node, int status) const {
  if (node != sched_.disk_node || (status != kExitStorageFailed && status != 1)) return false;
  return disk_full_ || (disk_freed_at_ >= 0 && T() - disk_freed_at_ <= 5000);
}

void Run::Supervise() {
  for (int i = 0; i < cluster_->size(); ++i) {
    if (auto st = cluster_->Reap(i)) {
      // While its disk is full a node may stop (74: storage failed) or refuse to start (1: its
      // store cannot open); anything else is a crash.
      const bool expected = ExitExpected(i, *st);
      exits_.push_back(Exit{T(), i, *st, expected});
      Log("node " + std::to_string(i) + " exited with status " + std::to_string(*st) +
          (expected ? " (expected of the disk node while its disk is full)" : " (UNEXPECTED)"));
      if (wanted_[static_cast<size_t>(i)]) restart_at_[static_cast<size_t>(i)] = T() + 1000;
    }
    if (restart_at_[static_cast<size_t>(i)] && T() >= restart_at_[static_cast<size_t>(i)]) {
      restart_at_[static_cast<size_t>(i)] = 0;
      if (wanted_[static_cast<size_t>(i)] && cluster_->State(i) == NodeState::kStopped) {
        Log("supervisor: starting node " + std::to_string(i) + " again");
        (void)cluster_->Start(i, cluster_->clock_offset_ms(i));
      }
    }
  }
}

// The next height's proposer (round 0): with equal powers the rotation repeats every N heights.
int Run::Leader() {
  const int n = cluster_->size();
  for (int k = 0; k < n; ++k) {
    ClientOptions co;
    co.connect_timeout_ms = 300;
    co.read_timeout_ms = 1000;
    auto api = ApiClient::Create(cluster_->Api(k), co);
    if (!api.ok()) continue;
    auto st = api->GetStatus();
    if (!st.ok()) continue;
    const int64_t h = st->latest_height + 1 - n;
    if (h < 1) continue;
    auto b = api->GetJson("/v1/blocks/" + std::to_string(h));
    if (!b.ok()) continue;
    const std::string proposer = b->value("header", nlohmann::json::object()).value("proposer_address", "");
    for (int i = 0; i < n; ++i) {
      if (validator_of_[static_cast<size_t>(i)] == proposer) return i;
    }
  }
  return -1;
}

Status Run::Apply(const Event& e) {
  const int n = cluster_->size();
  std::string what = ActionName(e.action);
  for (int i : e.nodes) what += " " + std::to_string(i);
  if (e.arg) what += " (" + std::to_string(e.arg) + ")";
  auto rules = [&](int i) {
    LinkRules r = cluster_->rules(i);
    return r;
  };
  switch (e.action) {
    case Action::kIsolate:
    case Action::kPartition: {
      std::vector<bool> side(static_cast<size_t>(n), false);
      for (int i : e.nodes) side[static_cast<size_t>(i)] = true;
      for (int i = 0; i < n; ++i) {
        LinkRules r = rules(i);
        for (int j = 0; j < n; ++j) {
          if (side[static_cast<size_t>(i)] != side[static_cast<size_t>(j)]) r.cut.insert(j);
        }
        V2G_RETURN_IF_ERROR(cluster_->SetRules(i, r));
      }
      break;
    }
    case Action::kCutLink: {
      LinkRules a = rules(e.nodes[0]), b = rules(e.nodes[1]);
      a.cut.insert(e.nodes[1]);
      b.cut.insert(e.nodes[0]);
      V2G_RETURN_IF_ERROR(cluster_->SetRules(e.nodes[0], a));
      V2G_RETURN_IF_ERROR(cluster_->SetRules(e.nodes[1], b));
      break;
    }
    case Action::kOneWay: {
      LinkRules a = rules(e.nodes[0]);
      a.deaf_to.insert(e.nodes[1]);
      V2G_RETURN_IF_ERROR(cluster_->SetRules(e.nodes[0], a));
      break;
    }
    case Action::kLoss: {
      LinkRules a = rules(e.nodes[0]);
      a.loss_percent = static_cast<int>(e.arg);
      V2G_RETURN_IF_ERROR(cluster_->SetRules(e.nodes[0], a));
      break;
    }
    case Action::kRate: {
      LinkRules a = rules(e.nodes[0]);
      a.rate_kbytes_s = e.arg;
      V2G_RETURN_IF_ERROR(cluster_->SetRules(e.nodes[0], a));
      break;
    }
    case Action::kHeal:
      V2G_RETURN_IF_ERROR(cluster_->ClearAllRules());
      heals_.push_back(T());
      break;
    case Action::kKill:
      wanted_[static_cast<size_t>(e.nodes[0])] = false;
      if (auto st = cluster_->Kill(e.nodes[0])) {  // it had ended on its own: record it
        exits_.push_back(Exit{T(), e.nodes[0], *st, ExitExpected(e.nodes[0], *st)});
      }
      break;
    case Action::kStop:
      Supervise();  // a node that already ended on its own is recorded as such, not as a bad stop
      wanted_[static_cast<size_t>(e.nodes[0])] = false;
      if (Status st = cluster_->Stop(e.nodes[0], 15'000); !st.ok()) stop_errors_.push_back(st.message());
      break;
    case Action::kStart:
      wanted_[static_cast<size_t>(e.nodes[0])] = true;
      restart_at_[static_cast<size_t>(e.nodes[0])] = 0;
      V2G_RETURN_IF_ERROR(cluster_->Start(e.nodes[0], e.arg));
      if (e.arg != 0) offsets_.emplace_back(e.nodes[0], e.arg);
      heals_.push_back(T());
      break;
    case Action::kPause: {
      const int i = e.nodes.empty() ? Leader() : e.nodes[0];
      if (i < 0) return Error(Code::kUnavailable, "no node could say who proposes next");
      what += " node " + std::to_string(i) + (e.nodes.empty() ? " (the next height's proposer)" : "");
      cluster_->Pause(i);
      break;
    }
    case Action::kResume:
      for (int i = 0; i < n; ++i) cluster_->Resume(i);
      heals_.push_back(T());
      break;
    case Action::kFillDisk:
      disk_full_ = true;
      V2G_RETURN_IF_ERROR(cluster_->FillDisk(e.nodes[0]));
      break;
    case Action::kFreeDisk:
      V2G_RETURN_IF_ERROR(cluster_->FreeDisk(e.nodes[0]));
      disk_full_ = false;
      disk_freed_at_ = T();
      heals_.push_back(T());
      break;
  }
  applied_.emplace_back(T(), what);
  Log("fault: " + what);
  return Status::Ok();
}

Status Run::HealAll() {
  heals_.push_back(T());
  V2G_RETURN_IF_ERROR(cluster_->ClearAllRules());
  for (int i = 0; i < cluster_->size(); ++i) cluster_->Resume(i);
  if (sched_.disk_node >= 0) V2G_RETURN_IF_ERROR(cluster_->FreeDisk(sched_.disk_node));
  if (disk_full_) disk_freed_at_ = T();
  disk_full_ = false;
  for (int i = 0; i < cluster_->size(); ++i) {
    wanted_[static_cast<size_t>(i)] = true;
    if (cluster_->State(i) == NodeState::kStopped) V2G_RETURN_IF_ERROR(cluster_->Start(i, 0));
  }
  applied_.emplace_back(T(), "heal everything");
  Log("heal: every rule removed, every node running");
  return Status::Ok();
}

Status Run::WaitSettled(int64_t bound_ms, std::string* why, int64_t block_time_ms) {
  const int64_t until = T() + bound_ms;
  ClientOptions co;
  co.connect_timeout_ms = 500;
  co.read_timeout_ms = 2000;
  while (T() < until && !g_interrupted) {
    Supervise();
    int64_t lo = INT64_MAX, hi = 0, pending = 0, oldest_time = INT64_MAX;
    int answered = 0;
    for (int i = 0; i < cluster_->size(); ++i) {
      auto api = ApiClient::Create(cluster_->Api(i), co);
      if (!api.ok()) continue;
      auto st = api->GetStatus();
      if (!st.ok()) continue;
      ++answered;
      lo = std::min(lo, st->latest_height);
      hi = std::max(hi, st->latest_height);
      pending += st->mempool_txs;
      oldest_time = std::min(oldest_time, st->latest_block_time_ms);
    }
    *why = std::to_string(answered) + " of " + std::to_string(cluster_->size()) + " nodes answer, heights " +
           std::to_string(answered ? lo : 0) + ".." + std::to_string(hi) + ", " + std::to_string(pending) +
           " txs pending";
    if (block_time_ms > 0 && answered > 0 && oldest_time < block_time_ms) {
      *why += ", a node's latest block " + std::to_string(block_time_ms - oldest_time) + " ms before the markets' deadline";
    }
    // One height everywhere: a node a block behind may lack the last tx the others have.
    if (answered == cluster_->size() && hi == lo && pending == 0 && oldest_time >= block_time_ms) {
      return Status::Ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return Error(Code::kTimeout, *why);
}

void Run::WriteHistory(const std::vector<TxRecord>& history) {
  std::ofstream hist(o_.out + "/history.jsonl");
  for (const TxRecord& r : history) {
    hist << nlohmann::json{{"kind", r.kind}, {"client", r.client}, {"hash", r.hash}, {"created_id", r.created_id},
                           {"nonce", r.nonce}, {"from", r.from}, {"to", r.to}, {"amount", r.amount}, {"outcome", OutcomeName(r.outcome)},
                           {"height", r.height}, {"code", r.code}, {"error", r.error}, {"attempts", r.attempts},
                           {"start_ms", r.start_ms}, {"end_ms", r.end_ms}}
                .dump()
         << "\n";
  }
}

// ^C or SIGTERM: no verdicts, everything torn down, exit 130.
int Run::Interrupted(Bank* bank, MeterFleet* meters, MarketWorkload* market) {
  Log("interrupted: stopping the clients and tearing the cluster down (no verdicts)");
  if (bank) bank->Stop();
  if (meters) meters->Stop();
  if (market) market->Stop();
  polling_ = false;
  for (auto& t : pollers_) t.join();
  pollers_.clear();
  if (bank) {
    std::vector<TxRecord> h = bank->History();
    if (market) {
      for (TxRecord& r : market->History()) h.push_back(std::move(r));
    }
    WriteHistory(h);
  }
  cluster_->Destroy();
  return 130;
}

int Run::Main() {
  auto s = MakeSchedule(o_.schedule, o_.seed, o_.validators, o_.seconds * 1000);
  if (!s.ok()) {
    std::fprintf(stderr, "v2g_faults: %s\n", s.status().message().c_str());
    return 2;
  }
  sched_ = *s;
  {
    int rc = std::system(("mkdir -p '" + o_.out + "'").c_str());
    (void)rc;
  }
  log_.open(o_.out + "/run.log");
  std::ofstream(o_.out + "/schedule.json") << sched_.ToJson().dump(2) << "\n";
  t0_ = MonoMs();
  Log("schedule " + sched_.name + " seed " + std::to_string(sched_.seed) + ", " + std::to_string(o_.seconds) +
      " s, " + std::to_string(o_.validators) + " validators; run folder " + o_.out);

  Cluster::RemoveStale();
  ClusterOptions co{o_.validators, o_.v2gd, o_.out, sched_.disk_node, 500, sched_.liar, o_.liar};
  if (!co.liar_mode.empty() && co.liar_bin.empty()) {
    std::fprintf(stderr, "v2g_faults: schedule %s needs the lying peer: give --liar PATH (v2g_liar)\n",
                 sched_.name.c_str());
    return 2;
  }
  cluster_ = std::make_unique<Cluster>(co);
  const int n = o_.validators;
  wanted_.assign(static_cast<size_t>(n), true);
  restart_at_.assign(static_cast<size_t>(n), 0);
  samples_.assign(static_cast<size_t>(n), {});
  validator_of_.assign(static_cast<size_t>(n), "");
  auto setup_failed = [&](const std::string& what, const Status& st) {
    Log("setup failed: " + what + ": " + st.message());
    polling_ = false;
    for (auto& t : pollers_) t.join();
    cluster_->Destroy();
    return g_interrupted ? 130 : 2;
  };
  if (Status st = cluster_->Create(); !st.ok()) return setup_failed("cluster", st);
  for (int i = 0; i < n; ++i) {
    if (Status st = cluster_->Start(i); !st.ok()) return setup_failed("start node " + std::to_string(i), st);
  }
  if (Status st = cluster_->StartLiar(); !st.ok()) return setup_failed("lying peer", st);
  std::string why;
  if (Status st = WaitSettled(60'000, &why); !st.ok()) return setup_failed("nodes up", st);
  for (int i = 0; i < n; ++i) {
    auto api = ApiClient::Create(cluster_->Api(i));
    if (!api.ok()) return setup_failed("api", api.status());
    auto st = api->GetStatus();
    if (!st.ok()) return setup_failed("status", st.status());
    validator_of_[static_cast<size_t>(i)] = st->validator_address;
  }
  BankOptions bo;
  bo.accounts = o_.accounts;
  const int64_t bank_wall0 = NowMs();  // the bank's records count from here
  Bank bank(*cluster_, bo, o_.seed, bank_wall0);
  if (Status st = bank.Setup(); !st.ok()) return setup_failed("bank", st);
  MeterOptions mo;
  mo.meters = o_.meters;
  MeterFleet meters(*cluster_, mo, o_.seed);
  if (Status st = meters.Setup(); !st.ok()) return setup_failed("meters", st);
  MarketOptions mko;
  MarketWorkload market(*cluster_, meters, mko, o_.seed, bank_wall0);
  if (Status st = market.Setup(); !st.ok()) return setup_failed("market", st);
  // The first market's orders are in before the faults start (a majority partition from 3 s on
  // would otherwise leave no market with both sides).
  const int64_t first_market = market.Start();
  if (Status st = market.WaitOrdersFor(first_market); !st.ok()) return setup_failed("market", st);
  Log("cluster up: " + std::to_string(n) + " validators in their own namespaces" +
      (sched_.liar.empty() ? std::string() : " and a lying peer (" + sched_.liar + ")") + "; bank of " +
      std::to_string(o_.accounts) + " accounts funded; " + std::to_string(o_.meters) + " meters registered; " +
      std::to_string(market.participants().size()) + " market traders funded");

  t0_ = MonoMs();  // the schedule's clock
  wall_t0_ = NowMs();
  polling_ = true;
  for (int i = 0; i < n; ++i) pollers_.emplace_back([this, i] { Poll(i); });
  // Markets whose settlement is due by 8 s after the final heal get orders: the run watches them
  // settle (and the first market's, whose orders are in already).
  const int64_t market_deadline_s =
      std::max((wall_t0_ + sched_.length_ms + 8000) / 1000, first_market + kMarketIntervalS + kMarketGraceS);
  bank.Start();
  meters.Start();
  market.SetDeadline(market_deadline_s);
  for (const Event& e : sched_.events) {
    SleepUntil(e.at_ms);
    if (g_interrupted) return Interrupted(&bank, &meters, &market);
    if (Status st = Apply(e); !st.ok()) {
      Log("fault could not be applied: " + st.message());
      bank.Stop();
      meters.Stop();
      market.Stop();
      polling_ = false;
      for (auto& t : pollers_) t.join();
      pollers_.clear();
      WriteHistory(bank.History());
      if (sched_.disk_node >= 0) {
        cluster_->Kill(sched_.disk_node);  // a still store to copy
        cluster_->SaveDisk(sched_.disk_node);
      }
      cluster_->Destroy();
      return 2;
    }
  }
  SleepUntil(sched_.length_ms);
  if (g_interrupted) return Interrupted(&bank, &meters, &market);
  if (Status st = HealAll(); !st.ok()) Log("heal failed: " + st.message());
  const int64_t final_heal = heals_.back();
  // The clients go on for a while on the healed network: it must commit again.
  SleepUntil(final_heal + 5000);
  // And until the chain shows it recovered (2 blocks past the heal's tip), or the bound passed,
  // plus 2 s: clients that commit again are what "recovered" means to them.
  const int64_t heal_tip = MaxHeight(final_heal);
  while (!g_interrupted && MaxHeight(T()) < heal_tip + 2 && T() < final_heal + o_.recover_ms) SleepUntil(T() + 250);
  SleepUntil(T() + 2000);
  if (g_interrupted) return Interrupted(&bank, &meters, &market);
  bank.Stop();
  market.Stop();
  // The meters go on until the last market's settlement is due: its delivery is theirs to attest.
  while (!g_interrupted && NowMs() < market_deadline_s * 1000 + 1000) SleepUntil(T() + 250);
  meters.Stop();
  const std::vector<TxRecord> history = bank.History();
  const std::vector<TxRecord> market_history = market.History();
  std::vector<TxRecord> all_history = history;
  all_history.insert(all_history.end(), market_history.begin(), market_history.end());
  const auto sent = meters.Sent();
  int64_t readings_sent = 0, readings_acked = 0;
  for (const auto& per_meter : sent) {
    for (const auto& [seq, r] : per_meter) {
      ++readings_sent;
      readings_acked += r.told_accepted ? 1 : 0;
    }
  }
  Log("clients stopped: " + std::to_string(all_history.size()) + " txs and " + std::to_string(readings_sent) +
      " readings recorded");

  std::vector<Verdict> verdicts;
  // Liveness after the final heal: the chain commits again and every node reaches the tip.
  Status settled = WaitSettled(o_.settle_ms, &why, market_deadline_s * 1000 + 1000);
  verdicts.push_back({"after the faults heal, every node is at the tip with nothing pending", settled.ok(),
                      settled.ok() ? why + " at +" + std::to_string(T() - final_heal) + " ms" : why});
  if (g_interrupted) {
    WriteHistory(all_history);
    return Interrupted(nullptr, nullptr, nullptr);
  }
  // The clients kept working after the last heal: the healed network serves them again.
  {
    int64_t after = 0;
    for (const TxRecord& r : history) {
      after += r.outcome == Outcome::kCommitted && bank_wall0 + r.end_ms > wall_t0_ + final_heal ? 1 : 0;
    }
    verdicts.push_back({"clients' txs commit again after the last heal", after > 0,
                        std::to_string(after) + " acknowledged after it"});
  }
  polling_ = false;
  for (auto& t : pollers_) t.join();
  pollers_.clear();

  // Recovery after each heal: until the highest node is 2 blocks past where it was.
  std::vector<std::pair<int64_t, int64_t>> recoveries;  // (heal time, ms to recover or -1)
  std::vector<std::vector<int64_t>> catch_up;            // per heal, per node: ms to the heal's tip
  std::vector<std::tuple<int, int64_t, std::string>> observed;  // (node, height, block id)
  int64_t longest_stall = 0, stall_at = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::pair<int64_t, int64_t>> tip;  // (t, max height so far)
    std::vector<Sample> all;
    for (const auto& v : samples_) all.insert(all.end(), v.begin(), v.end());
    std::sort(all.begin(), all.end(), [](const Sample& a, const Sample& b) { return a.t_ms < b.t_ms; });
    int64_t best = -1, since = 0;
    for (const Sample& smp : all) {
      if (smp.height > best) {
        if (best >= 0 && smp.t_ms - since > longest_stall) {
          longest_stall = smp.t_ms - since;
          stall_at = since;
        }
        best = smp.height;
        since = smp.t_ms;
        tip.emplace_back(smp.t_ms, best);
      }
    }
    for (int64_t h : heals_) {
      int64_t base = -1;
      for (const auto& [t, ht] : tip) {
        if (t <= h) base = ht;
      }
      int64_t rec = -1;
      for (const auto& [t, ht] : tip) {
        if (t > h && ht >= base + 2) {
          rec = t - h;
          break;
        }
      }
      recoveries.emplace_back(h, rec);
      // Each node: until it reports the height the highest node had at the heal (-1: never).
      std::vector<int64_t> per_node;
      for (const auto& v : samples_) {
        int64_t caught = -1;
        for (const Sample& smp : v) {
          if (smp.t_ms >= h && smp.height >= std::max<int64_t>(base, 0)) {
            caught = smp.t_ms - h;
            break;
          }
        }
        per_node.push_back(caught);
      }
      catch_up.push_back(per_node);
    }
    // Block time never runs ahead of the honest clocks (a node 30 s ahead signs votes 30 s ahead).
    Verdict bt{"no block's time runs ahead of the harness's clock", true, ""};
    int64_t worst = INT64_MIN;
    for (const Sample& smp : all) {
      if (smp.height < 1) continue;
      worst = std::max(worst, smp.block_time_ms - smp.wall_ms);
      if (smp.block_time_ms > smp.wall_ms + o_.block_ahead_ms && bt.ok) {
        bt.ok = false;
        bt.detail = "at +" + std::to_string(smp.t_ms) + " ms a node's latest block was stamped " +
                    std::to_string(smp.block_time_ms - smp.wall_ms) + " ms ahead of the harness's clock";
      }
    }
    if (bt.ok) bt.detail = "latest block at most " + std::to_string(worst) + " ms ahead of the clock (bound " +
                           std::to_string(o_.block_ahead_ms) + ")";
    if (worst == INT64_MIN) {
      bt.ok = false;
      bt.detail = "no node ever answered the poller";
    }
    verdicts.push_back(bt);
    for (const Sample& smp : all) {
      if (smp.height > 0) observed.emplace_back(smp.node, smp.height, smp.block_id);
    }
  }
  int64_t final_recovery = -1;
  for (const auto& [h, r] : recoveries) {
    if (h == final_heal) final_recovery = r;
  }
  verdicts.push_back({"after the last heal the chain commits again within " + std::to_string(o_.recover_ms) + " ms",
                      final_recovery >= 0 && final_recovery <= o_.recover_ms,
                      final_recovery >= 0 ? std::to_string(final_recovery) + " ms" : "never"});
  if (sched_.name == "majority-partition") {
    // No side holds more than 2/3 of the power: nothing may commit while split (a block whose
    // votes were under way when the cut came may still land, so one block is allowed).
    const Event& cut = sched_.events.front();
    const int64_t before = MaxHeight(cut.at_ms + 500), after = MaxHeight(sched_.events.back().at_ms - 100);
    verdicts.push_back({"with no side above 2/3 of the power the chain halts", before > 0 && after - before <= 1,
                        before > 0 ? "height " + std::to_string(before) + " -> " + std::to_string(after) + " while split"
                                   : "no node answered before the split"});
  }

  // Balances on every node (the clients are stopped and nothing is pending).
  std::vector<std::vector<int64_t>> balances(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto api = ApiClient::Create(cluster_->Api(i));
    if (!api.ok()) continue;
    for (const Address& a : bank.accounts()) {
      auto acct = api->GetAccount(EncodeAddress(a));
      if (!acct.ok()) break;
      int64_t amount = 0;
      for (const auto& b : acct->balances) {
        if (b.denom == bank.denom()) amount = b.amount;
      }
      balances[static_cast<size_t>(i)].push_back(amount);
    }
  }
  std::vector<std::vector<MeterOnChain>> meters_on(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    for (int m = 0; m < meters.size(); ++m) {
      auto got = ReadMeter(cluster_->Api(i), meters.MeterId(m));
      if (!got.ok()) break;
      meters_on[static_cast<size_t>(i)].push_back(*got);
    }
  }
  verdicts.push_back(CheckMeters(sent, meters_on, kMarketIntervalS));
  {
    std::map<std::string, std::map<int64_t, int64_t>> export_by_meter;
    if (!meters_on.empty()) {
      for (int m = 0; m < meters.size() && m < static_cast<int>(meters_on[0].size()); ++m) {
        export_by_meter[meters.MeterId(m)] = meters_on[0][static_cast<size_t>(m)].export_by_interval;
      }
    }
    std::vector<MarketView> views;
    for (int i = 0; i < n; ++i) {
      Result<MarketView> mv = Error(Code::kUnavailable, "not read");
      for (int attempt = 0; attempt < 3 && !mv.ok(); ++attempt) {
        if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1000));
        mv = ReadMarket(cluster_->Api(i), market.zone(), market.denom(), market.participants(), 100'000);
      }
      if (!mv.ok()) {
        Log("node " + std::to_string(i) + ": market not read: " + mv.status().message());
        views.clear();
        break;
      }
      views.push_back(std::move(*mv));
    }
    for (Verdict& v : CheckMarket(market_history, market.Orders(), views, market.participants(), market.options(),
                                  export_by_meter)) {
      verdicts.push_back(std::move(v));
    }
  }
  // Stop every node cleanly, then read their stores.
  for (int i = 0; i < n; ++i) {
    if (Status st = cluster_->Stop(i, 20'000); !st.ok()) stop_errors_.push_back(st.message());
  }
  verdicts.push_back({"every node stops cleanly on SIGTERM", stop_errors_.empty(),
                      stop_errors_.empty() ? std::to_string(n) + " nodes" : stop_errors_.front()});
  {
    Verdict ex{"no node exited on its own but for a full disk", true, ""};
    int expected = 0;
    for (const Exit& e : exits_) {
      if (e.expected) {
        ++expected;
      } else if (ex.ok) {
        ex.ok = false;
        ex.detail = "node " + std::to_string(e.node) + " exited with status " + std::to_string(e.status) + " at +" +
                    std::to_string(e.t_ms) + " ms";
      }
    }
    if (ex.ok) ex.detail = std::to_string(expected) + " storage-failure exits";
    verdicts.push_back(ex);
  }
  const bool disk_schedule = sched_.name == "disk-full";
  std::vector<ChainView> chains;
  for (int i = 0; i < n; ++i) {
    auto c = ReadChain(i, cluster_->Home(i));
    if (!c.ok()) {
      verdicts.push_back({"every store opens and holds whole blocks", false, c.status().message()});
      continue;
    }
    chains.push_back(std::move(*c));
  }
  verdicts.push_back(CheckSameChain(chains));
  if (disk_schedule) {
    // It stopped for its full disk, and once the disk was freed it signed again: its precommit is
    // in a commit of a height the chain reached after the free.
    bool stopped = false;
    for (const Exit& e : exits_) stopped = stopped || (e.node == sched_.disk_node && e.status == kExitStorageFailed);
    const std::string me = validator_of_[static_cast<size_t>(sched_.disk_node)];
    const int64_t from = MaxHeight(disk_freed_at_) + 1;
    int64_t signed_at = 0;
    for (const ChainView& c : chains) {
      for (int64_t h = std::max<int64_t>(from, 1); h <= static_cast<int64_t>(c.signers.size()) && !signed_at; ++h) {
        for (const std::string& a : c.signers[static_cast<size_t>(h - 1)]) {
          if (a == me) signed_at = h;
        }
      }
    }
    verdicts.push_back({"a node whose disk fills stops (exit 74) and, restarted once it is freed, signs again",
                        stopped && signed_at > 0,
                        !stopped ? "node " + std::to_string(sched_.disk_node) + " never stopped for its full disk"
                        : signed_at == 0
                            ? "node " + std::to_string(sched_.disk_node) + " signed no commit after height " +
                                  std::to_string(from)
                            : "node " + std::to_string(sched_.disk_node) + " exited 74, then signed the commit of height " +
                                  std::to_string(signed_at)});
  }
  if (!offsets_.empty()) {
    Verdict off{"every clock offset took effect", true, ""};
    for (const auto& [node, ms] : offsets_) {
      std::ifstream lf(o_.out + "/node" + std::to_string(node) + ".log");
      const std::string want = "clock runs " + std::to_string(ms) + " ms off";
      std::string line;
      bool found = false;
      while (!found && std::getline(lf, line)) found = line.find(want) != std::string::npos;
      if (!found && off.ok) {
        off.ok = false;
        off.detail = "node " + std::to_string(node) + " never logged \"" + want + "\"";
      }
    }
    if (off.ok) off.detail = std::to_string(offsets_.size()) + " offsets";
    verdicts.push_back(off);
  }
  const ChainView* longest = nullptr;
  for (const ChainView& c : chains) {
    if (!longest || c.height > longest->height) longest = &c;
  }
  if (longest) {
    verdicts.push_back(CheckObserved(observed, *longest));
    for (Verdict& v : CheckHistory(all_history, *longest)) verdicts.push_back(v);
    verdicts.push_back(CheckBalances(history, *longest, o_.accounts, bank.initial(), balances));
    Verdict ds{"no validator double-signed (no evidence committed, none reported)", true, ""};
    for (const ChainView& c : chains) {
      if (c.evidence > 0 && ds.ok) {
        ds.ok = false;
        ds.detail = "node " + std::to_string(c.node) + "'s chain holds " + std::to_string(c.evidence) + " evidence";
      }
    }
    for (int i = 0; i < n && ds.ok; ++i) {
      std::ifstream lf(o_.out + "/node" + std::to_string(i) + ".log");
      std::string line;
      while (std::getline(lf, line)) {
        if (line.find("equivocated") != std::string::npos) {
          ds.ok = false;
          ds.detail = "node " + std::to_string(i) + ": " + line;
          break;
        }
      }
    }
    if (ds.ok) ds.detail = std::to_string(longest->height) + " blocks";
    verdicts.push_back(ds);
  }
  {
    Verdict vc{"every node's store re-verifies from genesis (v2gd verify-chain)", true, ""};
    for (int i = 0; i < n; ++i) {
      const std::string cmd = "'" + o_.v2gd + "' verify-chain --home '" + cluster_->Home(i) + "' >>'" + o_.out +
                              "/verify-node" + std::to_string(i) + ".log' 2>&1";
      if (std::system(cmd.c_str()) != 0 && vc.ok) {
        vc.ok = false;
        vc.detail = "node " + std::to_string(i) + " (see verify-node" + std::to_string(i) + ".log)";
      }
    }
    if (vc.ok) vc.detail = std::to_string(n) + " nodes";
    verdicts.push_back(vc);
  }

  // The report.
  int64_t acked = 0, refused = 0, unknown = 0;
  for (const TxRecord& r : all_history) {
    (r.outcome == Outcome::kCommitted ? acked : r.outcome == Outcome::kRefused ? refused : unknown)++;
  }
  int64_t orders_acked = 0, cancels_acked = 0;
  for (const TxRecord& r : market_history) {
    if (r.outcome != Outcome::kCommitted || r.code != 0) continue;
    (r.kind == "place_order" ? orders_acked : cancels_acked)++;
  }
  nlohmann::json rep{{"schedule", sched_.name},
                     {"seed", sched_.seed},
                     {"seconds", o_.seconds},
                     {"validators", n},
                     {"txs", {{"acknowledged", acked}, {"refused", refused}, {"unknown", unknown}}},
                     {"readings", {{"made", readings_sent}, {"acknowledged_accepted", readings_acked}}},
                     {"market", {{"txs", market_history.size()}, {"orders_acknowledged", orders_acked},
                                 {"cancels_acknowledged", cancels_acked}}},
                     {"longest_stall_ms", longest_stall},
                     // history.jsonl times count from bank_wall0_ms, fault times from schedule_wall0_ms
                     {"bank_wall0_ms", bank_wall0},
                     {"schedule_wall0_ms", wall_t0_},
                     {"longest_stall_at_ms", stall_at}};
  rep["faults"] = nlohmann::json::array();
  for (const auto& [t, what] : applied_) rep["faults"].push_back({{"at_ms", t}, {"what", what}});
  rep["recoveries"] = nlohmann::json::array();
  for (size_t k = 0; k < recoveries.size(); ++k) {
    rep["recoveries"].push_back({{"heal_at_ms", recoveries[k].first},
                                 {"recovered_after_ms", recoveries[k].second},
                                 {"node_caught_up_after_ms", catch_up[k]}});
  }
  rep["exits"] = nlohmann::json::array();
  for (const Exit& e : exits_) {
    rep["exits"].push_back({{"at_ms", e.t_ms}, {"node", e.node}, {"status", e.status}, {"expected", e.expected}});
  }
  rep["verdicts"] = nlohmann::json::array();
  bool all_ok = true;
  for (const Verdict& v : verdicts) {
    rep["verdicts"].push_back({{"name", v.name}, {"ok", v.ok}, {"detail", v.detail}});
    all_ok = all_ok && v.ok;
  }
  rep["ok"] = all_ok;
  if (!all_ok && sched_.disk_node >= 0) cluster_->SaveDisk(sched_.disk_node);
  cluster_->Destroy();
  std::ofstream(o_.out + "/report.json") << rep.dump(2) << "\n";
  WriteHistory(all_history);
  std::ostringstream txt;
  txt << "schedule " << sched_.name << " (seed " << sched_.seed << ", " << o_.seconds << " s, " << n
      << " validators" << (sched_.liar.empty() ? "" : ", a lying peer: " + sched_.liar) << ")\n";
  txt << "faults applied: " << applied_.size() << "\n";
  for (const auto& [t, what] : applied_) txt << "  +" << t << " ms  " << what << "\n";
  txt << "txs: " << acked << " acknowledged committed, " << refused << " refused, " << unknown << " unknown\n";
  txt << "readings: " << readings_sent << " made, " << readings_acked << " acknowledged accepted\n";
  txt << "market: " << market_history.size() << " txs (in the counts above), " << orders_acked << " orders and "
      << cancels_acked << " cancels acknowledged\n";
  txt << "longest stall: " << longest_stall << " ms (from +" << stall_at << " ms)\n";
  txt << "recovery after each heal (ms until 2 more blocks):";
  for (const auto& [h, r] : recoveries) txt << " +" << h << ":" << (r < 0 ? std::string("never") : std::to_string(r));
  txt << "\n";
  txt << "slowest node to reach the heal's tip after each heal (ms):";
  for (size_t k = 0; k < recoveries.size(); ++k) {
    int64_t worst = 0;
    for (int64_t c : catch_up[k]) worst = c < 0 || worst < 0 ? -1 : std::max(worst, c);
    txt << " +" << recoveries[k].first << ":" << (worst < 0 ? std::string("never") : std::to_string(worst));
  }
  txt << "\n";
  for (const Verdict& v : verdicts) txt << (v.ok ? "  ok    " : "  FAIL  ") << v.name << ": " << v.detail << "\n";
  txt << "replay: v2g_faults --schedule " << sched_.name << " --seed " << sched_.seed << " --seconds " << o_.seconds
      << " --validators " << n << " --accounts " << o_.accounts << " --meters " << o_.meters << " (schedule.json)\n";
  txt << (all_ok ? "PASS" : "FAIL") << "\n";
  std::ofstream(o_.out + "/report.txt") << txt.str();
  std::printf("%s", txt.str().c_str());
  return all_ok ? 0 : 1;
}

}  // namespace
}  // namespace v2g::faults

int main(int argc, char** argv) {
  v2g::InitCrypto();
  v2g::faults::Options o;
  CLI::App app{"v2g_faults - one fault schedule against v2gd validators in network namespaces (needs root)"};
  app.add_option("--schedule", o.schedule, "random, or a named schedule")->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of the random schedule and the workload")->capture_default_str();
  app.add_option("--seconds", o.seconds, "Length of the fault schedule")->capture_default_str()->check(CLI::Range(10, 7200));
  app.add_option("--validators", o.validators, "Validators")->capture_default_str()->check(CLI::Range(4, v2g::faults::kValidatorsMax));
  app.add_option("--accounts", o.accounts, "Bank accounts (one client each)")->capture_default_str()->check(CLI::Range(2, 64));
  app.add_option("--meters", o.meters, "Site meters (one client each)")->capture_default_str()->check(CLI::Range(1, 64));
  app.add_option("--out", o.out, "Run folder (history, logs, schedule, report)")->required();
  app.add_option("--v2gd", o.v2gd, "Path of v2gd")->required();
  app.add_option("--liar", o.liar, "Path of v2g_liar (the Byzantine peer some schedules run)");
  app.add_option("--recover-ms", o.recover_ms, "Bound: the chain commits again after the last heal")->capture_default_str();
  app.add_option("--settle-ms", o.settle_ms, "Bound: every node level and mempools empty after the clients stop")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  struct sigaction sa {};
  sa.sa_handler = [](int) { v2g::faults::g_interrupted = true; };
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return v2g::faults::Run(o).Main();
}
