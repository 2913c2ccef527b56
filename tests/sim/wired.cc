#include "tests/sim/wired.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "common/bech32.h"
#include "common/crypto.h"
#include "common/signbytes.h"
#include "consensus/block.h"
#include "contracts/app.h"
#include "contracts/state.h"
#include "genesis/genesis.h"
#include "node/bft/bft.h"
#include "node/chain.h"
#include "node/mempool.h"
#include "node/store/store.h"
#include "node/store/wal.h"

namespace v2g::sim {
namespace {

constexpr char kWiredChain[] = "v2g-wired";
constexpr int64_t kGenesisMs = 1767225600000;
constexpr int64_t kGstMs = 10000;          // crashes, disk failures, partitions and loss end here
constexpr int64_t kSettleMs = 4000;        // restarted nodes catch up by block sync meanwhile
constexpr int64_t kDecideGapMaxMs = 9000;  // as the model simulation (world.h says why)
constexpr int64_t kPostGstDelayMaxMs = 50;
constexpr int kMinProgressAfterGst = 5;
// The WAL holds one height's inputs and own messages: a stalled height's re-sends are not logged
// (defect 5), so even the longest height here stays far below this.
constexpr size_t kWalBytesMax = 1 << 20;
constexpr int kAdvanceMax = 64;  // Advance calls per delivery (each takes a bounded batch)

struct SimCrash {};  // thrown by the disk operation a crash was set to fall at

enum WiredBehaviour : uint32_t {
  kWEquivocate = 1u << 0,  // a validly signed conflicting twin of each own vote, to some peers
  kWForge = 1u << 1,       // garbage-signed votes naming honest validators at high rounds
  kWWithhold = 1u << 2,    // each own message withheld from each peer with probability 1/2
  kWAmnesia = 1u << 3,     // restarts (twice) with its WAL and signer state wiped
};
std::string WiredBehaviourNames(uint32_t m) {
  std::string s;
  const char* names[] = {"equivocate", "forge", "withhold", "amnesia"};
  for (int i = 0; i < 4; ++i) {
    if (m & (1u << i)) s += (s.empty() ? "" : "+") + std::string(names[i]);
  }
  return s.empty() ? "none" : s;
}

// One node's disk for the consensus WAL and the signer's state. A write is durable only once
// synced; a crash keeps the durable bytes plus a random prefix of what was appended after them
// (a torn tail), and forgets a truncation not yet synced. Every operation is a possible crash
// point (before it, or after it took effect) and, while the disk is failing, an error.
class SimDisk {
 public:
  struct File {
    std::string durable;
    std::string current;
  };
  explicit SimDisk(std::mt19937_64& rng) : rng_(rng) {}

  template <typename F>
  Status Do(F&& op) {
    ++ops_;
    const bool crash_here = ops_ == crash_at_op_;
    // A crash set for this operation falls even when the disk fails it.
    if (crash_here && (!crash_after_ || failing_)) throw SimCrash{};
    if (failing_) {
      ++failures_;
      return Error(Code::kIo, "simulated disk failure");
    }
    op();
    if (crash_here) throw SimCrash{};
    return Status::Ok();
  }
  // The next `k`-th operation crashes (before or after it takes effect).
  void CrashAtOp(int64_t k, bool after) {
    crash_at_op_ = ops_ + k;
    crash_after_ = after;
  }
  void Disarm() {
    crash_at_op_ = -1;
    crash_after_save_ = false;
  }
  // The next signer save crashes right after it took effect.
  void CrashAfterNextSave() { crash_after_save_ = true; }
  bool TakeCrashAfterSave() { return std::exchange(crash_after_save_, false); }
  // Power loss: what was not synced is lost, except a random prefix of appended bytes.
  int64_t Crash() {
    int64_t torn = 0;
    for (auto& [name, f] : files_) {
      if (f.current.size() > f.durable.size() && f.current.compare(0, f.durable.size(), f.durable) == 0) {
        const size_t extra = f.current.size() - f.durable.size();
        const size_t keep = std::uniform_int_distribution<size_t>(0, extra)(rng_);
        torn += keep > 0 && keep < extra;
        f.durable = f.current.substr(0, f.durable.size() + keep);
      }
      f.current = f.durable;
    }
    Disarm();
    return torn;
  }
  void Wipe() { files_.clear(); }
  int64_t relogged = 0;  // records appended to the WAL a second time in one height
  File& file(const std::string& name) { return files_[name]; }
  void set_failing(bool f) { failing_ = f; }
  bool failing() const { return failing_; }
  int64_t failures() const { return failures_; }

 private:
  std::mt19937_64& rng_;
  std::map<std::string, File> files_;
  int64_t ops_ = 0;
  int64_t crash_at_op_ = -1;
  bool crash_after_ = false;
  bool crash_after_save_ = false;
  bool failing_ = false;
  int64_t failures_ = 0;
};

class SimWalFile : public WalFile {
 public:
  SimWalFile(SimDisk& disk, size_t* peak) : disk_(disk), peak_(peak) {}
  Result<std::string> ReadAll() override {
    std::string out;
    V2G_RETURN_IF_ERROR(disk_.Do([&] { out = f().current; }));
    return out;
  }
  Status Truncate(size_t size) override {
    return disk_.Do([&] { f().current.resize(std::min(size, f().current.size())); });
  }
  Status Append(const std::string& data) override {
    // One height's WAL is a set: each input, timeout and own message logged once. A record logged
    // again (a re-send that went through the WAL, defect 5) grows it with every tick.
    if (f().current.find(data) != std::string::npos) ++disk_.relogged;
    V2G_RETURN_IF_ERROR(disk_.Do([&] { f().current += data; }));
    *peak_ = std::max(*peak_, f().current.size());
    return Status::Ok();
  }
  Status Sync() override {
    return disk_.Do([&] { f().durable = f().current; });
  }
  const std::string& name() const override { return name_; }

 private:
  SimDisk::File& f() { return disk_.file("wal"); }
  SimDisk& disk_;
  size_t* peak_;
  const std::string name_ = "sim:wal";
};

// As FileSignStateStore: an atomic, synced replace (the node writes a temp file, syncs, renames).
class SimSignStore : public SignStateStore {
 public:
  explicit SimSignStore(SimDisk& disk) : disk_(disk) {}
  Result<pb::SignState> Load() override {
    std::string data;
    V2G_RETURN_IF_ERROR(disk_.Do([&] { data = disk_.file("signer").current; }));
    pb::SignState s;
    if (data.empty()) return s;
    if (!s.ParseFromString(data) || s.height() <= 0) return Error(Code::kCorruption, "signer state is corrupt");
    return s;
  }
  Status Save(const pb::SignState& state) override {
    V2G_RETURN_IF_ERROR(disk_.Do([&] {
      SimDisk::File& f = disk_.file("signer");
      f.durable = f.current = Encode(state);
    }));
    // The crash the WAL's sync-before-signing exists for: the signature is saved, the WAL append
    // of the message (and of any input not yet synced) is not.
    if (disk_.TakeCrashAfterSave()) throw SimCrash{};
    return Status::Ok();
  }

 private:
  SimDisk& disk_;
};

class Wired;

class NodeClock : public Clock {
 public:
  NodeClock(const Wired& w, int64_t skew) : w_(w), skew_(skew) {}
  int64_t NowMs() const override;
  int64_t MonotonicMs() const override;

 private:
  const Wired& w_;
  const int64_t skew_;
};

class NodeNet : public ConsensusNetwork {
 public:
  NodeNet(Wired& w, int index) : w_(w), index_(index) {}
  void Broadcast(uint8_t channel, std::string payload) override;
  bool Send(const PublicKey& peer, uint8_t channel, std::string payload) override;
  void ResumeReads(const PublicKey& peer) override;

 private:
  Wired& w_;
  const int index_;
};

struct WNode {
  int index = 0;
  bool byzantine = false;
  uint32_t behaviours = 0;
  int64_t power = 0;
  KeyPair key = KeyPair::FromSeed(Bytes(kSeedBytes, 0));
  KeyPair node_key = KeyPair::FromSeed(Bytes(kSeedBytes, 0));
  std::string address;  // raw 20 bytes
  std::string dir;
  std::unique_ptr<SimDisk> disk;
  size_t wal_peak = 0;
  std::unique_ptr<NodeClock> clock;
  std::unique_ptr<NodeNet> net;
  std::unique_ptr<Store> store;
  std::unique_ptr<Mempool> mempool;
  std::unique_ptr<Chain> chain;
  std::unique_ptr<Signer> signer;
  std::unique_ptr<BftEngine> engine;
  bool up = false;
  uint64_t epoch = 0;  // bumped by each crash: messages and wakes of an earlier life are void
  int64_t height = 0;
  int64_t last_decision_ms = 0;
  int64_t max_decide_gap_ms = 0;
  int64_t scheduled_wake = INT64_MAX;
  int64_t down_until = 0;
  std::map<int, bool> paused_from;  // reads from that peer paused (TCP back-pressure)
  std::map<int, std::deque<std::pair<uint8_t, std::string>>> held_from;
};

struct WEvent {
  int64_t time = 0;
  uint64_t seq = 0;
  enum Kind { kDeliver, kWake, kCrash, kRestart, kDiskFail, kDiskHeal, kResume } kind = kDeliver;
  int node = 0;
  int from = 0;
  uint64_t node_epoch = 0;
  uint64_t from_epoch = 0;
  uint8_t channel = 0;
  std::shared_ptr<std::string> payload;
  int64_t crash_op = 0;  // kCrash: 0 = between steps, k > 0 = at the k-th disk operation from now, -1 = after the next signer save
  bool crash_after = false;
};
struct WEventOrder {
  bool operator()(const WEvent& a, const WEvent& b) const {
    return a.time != b.time ? a.time > b.time : a.seq > b.seq;
  }
};

class Wired {
 public:
  explicit Wired(const WiredOptions& o) : opts_(o), rng_(o.seed * 0x9E3779B97F4A7C15ull + 7) {}
  WiredResult Run();
  int64_t now() const { return now_; }

  void Broadcast(int from, uint8_t channel, const std::string& payload);
  void SendTo(int from, const PublicKey& peer, uint8_t channel, const std::string& payload);
  void Resume(int node, const PublicKey& peer);

 private:
  int64_t Rand(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng_); }
  bool Chance(int percent) { return Rand(0, 99) < percent; }
  void Push(WEvent e) {
    e.seq = seq_++;
    events_.push(std::move(e));
  }
  void Choose();
  void Boot(WNode& n, bool fresh);
  void CrashNode(WNode& n, const std::string& why);
  void Shutdown(WNode& n);
  void Retry(WNode& n);
  void Deliver(WNode& to, int from, uint8_t channel, const std::string& payload);
  void Step(WNode& n);
  void AfterStep(WNode& n, bool more);
  void Link(int from, int to, uint8_t channel, const std::string& payload);
  void CheckOwnMessage(WNode& n, const std::string& payload);
  void ByzantineExtras(WNode& n, const std::string& payload);
  void CheckHeights(WNode& n);
  void Fail(const std::string& why) {
    if (failure_.empty()) failure_ = "seed " + std::to_string(opts_.seed) + " at " + std::to_string(now_) + " ms: " + why;
  }
  int IndexOf(const PublicKey& pk) const {
    for (const auto& n : nodes_) {
      if (n.node_key.public_key() == pk) return n.index;
    }
    return -1;
  }

  const WiredOptions opts_;
  std::mt19937_64 rng_;
  std::filesystem::path root_;
  GenesisState genesis_;
  std::vector<WNode> nodes_;
  std::priority_queue<WEvent, std::vector<WEvent>, WEventOrder> events_;
  uint64_t seq_ = 0;
  int64_t now_ = 0;
  std::string failure_;
  WiredResult result_;
  // Network before GST.
  int64_t delay_max_ms_ = 100;
  int loss_percent_ = 0;
  int dup_percent_ = 0;
  int slow_node_ = -1;  // its messages take up to the vote timeouts before GST
  std::set<int> partition_;  // one side of a partition, while now_ < partition_end_
  int64_t partition_start_ = 0, partition_end_ = 0;
  // Checks.
  std::map<int64_t, std::string> decided_;                        // height -> block id
  std::map<std::tuple<std::string, int64_t, int32_t, int>, std::string> signed_;  // honest own messages
  int64_t height_at_gst_ = -1;
  // Every validly signed vote on the wire (own messages of every validator and the Byzantine
  // twins): (height, round, type) -> block id -> voters. What any node can have seen is a subset.
  std::map<std::tuple<int64_t, int32_t, int>, std::map<std::string, std::set<std::string>>> votes_;
  std::map<std::string, int64_t> power_;
  int64_t total_power_ = 0;
  int64_t twins_after_gst_ = 0;  // equivocations sent once every message arrives
  void RecordVote(const pb::Vote& v) {
    votes_[{v.height(), v.round(), v.type()}][v.block_id()].insert(v.validator_address());
  }
  bool Pol(int64_t h, int32_t r, const std::string& id) {
    auto it = votes_.find({h, r, static_cast<int>(VoteType::kPrevote)});
    if (it == votes_.end()) return false;
    auto b = it->second.find(id);
    if (b == it->second.end()) return false;
    int64_t p = 0;
    for (const auto& a : b->second) p += power_[a];
    return p * 3 > total_power_ * 2;
  }
  void CheckLock(WNode& n, const pb::Vote& v);
};

int64_t NodeClock::NowMs() const { return kGenesisMs + w_.now() + skew_; }
int64_t NodeClock::MonotonicMs() const { return w_.now(); }
void NodeNet::Broadcast(uint8_t channel, std::string payload) { w_.Broadcast(index_, channel, payload); }
bool NodeNet::Send(const PublicKey& peer, uint8_t channel, std::string payload) {
  w_.SendTo(index_, peer, channel, payload);
  return true;
}
void NodeNet::ResumeReads(const PublicKey& peer) { w_.Resume(index_, peer); }

void Wired::Choose() {
  const int n = static_cast<int>(Rand(4, 7));
  // Unequal powers; the Byzantine validator (one, when n >= 4) has less than a third of the total.
  std::vector<int64_t> powers(n);
  for (auto& p : powers) p = Rand(5, 20);
  const int byz = static_cast<int>(Rand(0, n - 1));
  int64_t total = 0;
  for (auto p : powers) total += p;
  while (powers[byz] * 3 >= total) {
    --powers[byz];
    --total;
  }
  genesis_.chain_id = kWiredChain;
  genesis_.genesis_time_ms = kGenesisMs;
  genesis_.params = DefaultParams();
  nodes_.resize(n);
  for (int i = 0; i < n; ++i) {
    WNode& w = nodes_[i];
    w.index = i;
    w.power = powers[i];
    w.key = KeyPair::FromSeed(Bytes(kSeedBytes, static_cast<uint8_t>(100 + i)));
    w.node_key = KeyPair::FromSeed(Bytes(kSeedBytes, static_cast<uint8_t>(150 + i)));
    w.address = AddressBytes(AddressFromPublicKey(w.key.public_key()));
    w.disk = std::make_unique<SimDisk>(rng_);
    w.clock = std::make_unique<NodeClock>(*this, Rand(-200, 200));
    w.net = std::make_unique<NodeNet>(*this, i);
    w.dir = (root_ / ("node" + std::to_string(i))).string();
    GenesisValidator v;
    v.name = "v" + std::to_string(i);
    v.address = AddressFromPublicKey(w.key.public_key());
    v.consensus_pubkey = w.key.public_key();
    v.node_pubkey = w.node_key.public_key();
    v.power = powers[i];
    genesis_.validators.push_back(v);
  }
  for (const auto& w : nodes_) {
    power_[w.address] = w.power;
    total_power_ += w.power;
  }
  nodes_[byz].byzantine = true;
  nodes_[byz].behaviours = static_cast<uint32_t>(Rand(1, 15));
  delay_max_ms_ = Rand(20, 400);
  loss_percent_ = static_cast<int>(Rand(0, 5));
  dup_percent_ = static_cast<int>(Rand(0, 5));
  if (Chance(30)) slow_node_ = static_cast<int>(Rand(0, n - 1));
  if (Chance(40)) {
    partition_start_ = Rand(1000, 6000);
    partition_end_ = partition_start_ + Rand(500, 3000);
    for (int i = 0; i < n; ++i) {
      if (Chance(50)) partition_.insert(i);
    }
  }
  // Honest faults, all before GST: crashes (between steps, or at a chosen disk operation, before
  // or after it takes effect), and one disk that fails for a while (its node stops signing and
  // its operator restarts it once the disk works again).
  std::string faults;
  const int crashes = static_cast<int>(Rand(0, 3));
  for (int c = 0; c < crashes; ++c) {
    int victim = static_cast<int>(Rand(0, n - 1));
    if (victim == byz) victim = (victim + 1) % n;
    WEvent e;
    e.kind = WEvent::kCrash;
    e.node = victim;
    e.time = Rand(500, kGstMs - 3000);
    // Between steps, at the k-th disk operation from then (before or after it), or right after
    // the signer's next save.
    const int64_t where = Rand(0, 9);
    e.crash_op = where < 3 ? 0 : where < 7 ? Rand(1, 12) : -1;
    e.crash_after = Chance(50);
    faults += " crash v" + std::to_string(victim) + "@" + std::to_string(e.time) +
              (e.crash_op > 0 ? "(op+" + std::to_string(e.crash_op) + (e.crash_after ? ",after)" : ",before)")
               : e.crash_op < 0 ? "(after-sign)" : "");
    Push(e);
  }
  if (Chance(30)) {
    int victim = static_cast<int>(Rand(0, n - 1));
    if (victim == byz) victim = (victim + 1) % n;
    WEvent f;
    f.kind = WEvent::kDiskFail;
    f.node = victim;
    f.time = Rand(1000, kGstMs - 4000);
    WEvent h = f;
    h.kind = WEvent::kDiskHeal;
    h.time = f.time + Rand(200, 2000);
    faults += " disk-fail v" + std::to_string(victim) + "@" + std::to_string(f.time) + ".." + std::to_string(h.time);
    Push(f);
    Push(h);
  }
  if (nodes_[byz].behaviours & kWAmnesia) {
    for (int c = 0; c < 2; ++c) {
      WEvent e;
      e.kind = WEvent::kCrash;
      e.node = byz;
      e.time = Rand(1000, opts_.duration_ms - 5000);
      Push(e);
    }
  }
  std::string p;
  for (int i = 0; i < n; ++i) p += (i ? "," : "") + std::to_string(powers[i]) + (i == byz ? "b" : "");
  result_.summary = "n=" + std::to_string(n) + " powers=" + p + " v" + std::to_string(byz) + ":" +
                    WiredBehaviourNames(nodes_[byz].behaviours) + " delay<=" + std::to_string(delay_max_ms_) +
                    "ms loss=" + std::to_string(loss_percent_) + "% dup=" + std::to_string(dup_percent_) + "%" +
                    (slow_node_ >= 0 ? " slow=v" + std::to_string(slow_node_) : "") +
                    (partition_end_ ? " partition@" + std::to_string(partition_start_) + ".." + std::to_string(partition_end_)
                                    : "") +
                    faults;
}

void Wired::Boot(WNode& n, bool fresh) {
  auto store = Store::Open(n.dir);
  V2G_ASSERT(store.ok());
  n.store = std::move(*store);
  if (fresh) {
    Overlay init(&n.store->state());
    auto app = InitChain(genesis_, init);
    V2G_ASSERT(app.ok());
    V2G_ASSERT(n.store->InitGenesis(Blake2b256(GenesisToJson(genesis_)), *app, init.writes()).ok());
  }
  n.mempool = std::make_unique<Mempool>(kWiredChain, MempoolLimits{1000, 16 << 20, 100});
  n.chain = std::make_unique<Chain>(*n.store, *n.mempool, kWiredChain, kGenesisMs);
  n.height = n.chain->Tip().height;
  n.up = true;
  n.scheduled_wake = INT64_MAX;
  try {
    if (n.byzantine && (n.behaviours & kWAmnesia)) n.disk->Wipe();
    auto signer = Signer::Create(n.key, kWiredChain, std::make_unique<SimSignStore>(*n.disk));
    if (!signer.ok()) return Retry(n);  // a failing disk: the operator tries again shortly
    n.signer = std::move(*signer);
    BftConfig cfg;
    cfg.chain_id = kWiredChain;
    cfg.my_address = n.address;
    cfg.timeouts = EngineTimeouts{400, 100, 200, 50, 200, 50, 500};
    cfg.block_interval_ms = 200;
    cfg.sync_request_timeout_ms = 600;
    SimDisk* disk = n.disk.get();
    size_t* peak = &n.wal_peak;
    cfg.wal_file = [disk, peak]() -> Result<std::unique_ptr<WalFile>> {
      return std::unique_ptr<WalFile>(new SimWalFile(*disk, peak));
    };
    n.engine = std::make_unique<BftEngine>(cfg, *n.chain, *n.store, *n.mempool, n.signer.get(), *n.clock, *n.net);
    if (!n.engine->StartStepped().ok()) return Retry(n);
  } catch (const SimCrash&) {
    CrashNode(n, "at a disk operation while starting");
    return;
  }
  n.last_decision_ms = now_;
  for (auto& o : nodes_) {
    if (o.index == n.index || !o.up) continue;
    n.engine->OnPeerConnected(o.node_key.public_key());
    o.engine->OnPeerConnected(n.node_key.public_key());
    Step(o);
  }
  Step(n);
}

void Wired::Shutdown(WNode& n) {
  n.engine.reset();
  n.signer.reset();
  n.chain.reset();
  n.mempool.reset();
  n.store.reset();
  n.up = false;
  ++n.epoch;
  n.paused_from.clear();
  n.held_from.clear();
}

void Wired::Retry(WNode& n) {
  Shutdown(n);
  WEvent r;
  r.kind = WEvent::kRestart;
  r.node = n.index;
  r.node_epoch = n.epoch;
  r.time = now_ + 500;
  Push(r);
}

void Wired::CrashNode(WNode& n, const std::string& why) {
  if (!n.byzantine) ++result_.crashes;
  if (opts_.verbose) std::fprintf(stderr, "%lld: v%d crashes %s at height %lld\n", (long long)now_, n.index, why.c_str(), (long long)n.height);
  Shutdown(n);
  result_.torn_writes += n.disk->Crash();
  for (auto& o : nodes_) {
    o.paused_from.erase(n.index);
    o.held_from.erase(n.index);
    if (o.up && o.index != n.index) {
      o.engine->OnPeerDisconnected(n.node_key.public_key());
      Step(o);
    }
  }
  WEvent r;
  r.kind = WEvent::kRestart;
  r.node = n.index;
  r.node_epoch = n.epoch;
  r.time = std::max(now_ + Rand(300, 2000), n.down_until);
  Push(r);
}

void Wired::Step(WNode& n) {
  if (!n.up) return;
  bool more = false;
  try {
    for (int i = 0; i < kAdvanceMax && n.up && (more = n.engine->Advance()); ++i) {
    }
  } catch (const SimCrash&) {
    CrashNode(n, "at a disk operation");
    return;
  }
  AfterStep(n, more);
}

void Wired::AfterStep(WNode& n, bool more) {
  if (!n.up) return;
  CheckHeights(n);
  // Messages still queued: go on at once, as the engine's thread would.
  const int64_t wake = more ? now_ + 1 : std::max(n.engine->NextWakeMs(), now_ + 1);
  if (wake < n.scheduled_wake || n.scheduled_wake <= now_) {
    n.scheduled_wake = wake;
    WEvent e;
    e.kind = WEvent::kWake;
    e.node = n.index;
    e.node_epoch = n.epoch;
    e.time = wake;
    Push(e);
  }
}

// Agreement: every honest node's block at each height is the first one decided there.
void Wired::CheckHeights(WNode& n) {
  const int64_t h = n.chain->Tip().height;
  if (h <= n.height) return;
  for (int64_t k = n.height + 1; k <= h; ++k) {
    auto b = n.store->LoadBlock(k);
    if (!b) return Fail("v" + std::to_string(n.index) + " has no block " + std::to_string(k) + " below its tip");
    const std::string id = HashString(BlockId(b->header()));
    if (n.byzantine) continue;
    auto [it, fresh] = decided_.emplace(k, id);
    if (!fresh && it->second != id) {
      Fail("AGREEMENT: v" + std::to_string(n.index) + " committed another block at height " + std::to_string(k));
    }
  }
  if (!n.byzantine && now_ >= kGstMs + kSettleMs) {
    n.max_decide_gap_ms = std::max(n.max_decide_gap_ms, now_ - std::max(n.last_decision_ms, kGstMs + kSettleMs));
  }
  n.height = h;
  n.last_decision_ms = now_;
}

// An honest node's own signed message on the wire: never two different ones for one (height,
// round, step), across crashes; and durable in its WAL before it leaves.
void Wired::CheckOwnMessage(WNode& n, const std::string& payload) {
  pb::ConsensusMessage m;
  if (!m.ParseFromString(payload)) return Fail("v" + std::to_string(n.index) + " sent an unparsable consensus message");
  std::string id;
  std::tuple<std::string, int64_t, int32_t, int> key;
  if (m.has_vote()) {
    if (m.vote().validator_address() != n.address) return;  // relayed
    key = {n.address, m.vote().height(), m.vote().round(), m.vote().type()};
    id = m.vote().block_id();
  } else if (m.has_proposal()) {
    if (m.proposal().proposer_address() != n.address) return;
    key = {n.address, m.proposal().height(), m.proposal().round(), 0};
    id = HashString(BlockId(m.proposal().block().header())) + std::to_string(m.proposal().pol_round());
  } else {
    return;
  }
  if (m.has_vote()) CheckLock(n, m.vote());
  auto [it, fresh] = signed_.emplace(key, id);
  if (!fresh && it->second != id) {
    Fail("DOUBLE-SIGN: honest v" + std::to_string(n.index) + " sent two different messages at height " +
         std::to_string(std::get<1>(key)) + " round " + std::to_string(std::get<2>(key)) + " step " +
         std::to_string(std::get<3>(key)));
  }
  if (n.disk->file("wal").durable.find(payload) == std::string::npos) {
    Fail("DURABILITY: honest v" + std::to_string(n.index) + " sent its message at height " +
         std::to_string(std::get<1>(key)) + " round " + std::to_string(std::get<2>(key)) +
         " before it was synced to its WAL");
  }
}

// An honest validator that precommitted block B at round r (locking it) prevotes another block at
// a later round r' only after a proof-of-lock for that block at a round in (r, r'): 2/3 of the
// power prevoted it there (L28). A node that lost its lock in a crash breaks this first.
void Wired::CheckLock(WNode& n, const pb::Vote& v) {
  if (v.type() != static_cast<int>(VoteType::kPrevote) || v.block_id().empty()) return;
  const int precommit = static_cast<int>(VoteType::kPrecommit);
  int32_t lock_round = -1;
  std::string lock_id;
  for (auto it = signed_.lower_bound({n.address, v.height(), 0, 0});
       it != signed_.end() && std::get<0>(it->first) == n.address && std::get<1>(it->first) == v.height() &&
       std::get<2>(it->first) < v.round();
       ++it) {
    if (std::get<3>(it->first) == precommit && !it->second.empty()) {
      lock_round = std::get<2>(it->first);
      lock_id = it->second;
    }
  }
  if (lock_round < 0 || lock_id == v.block_id()) return;
  for (int32_t r = lock_round + 1; r < v.round(); ++r) {
    if (Pol(v.height(), r, v.block_id())) return;
  }
  Fail("LOCK: honest v" + std::to_string(n.index) + " locked at height " + std::to_string(v.height()) + " round " +
       std::to_string(lock_round) + " prevoted another block at round " + std::to_string(v.round()) +
       " without a proof-of-lock in between");
}

void Wired::Broadcast(int from, uint8_t channel, const std::string& payload) {
  WNode& n = nodes_[from];
  if (channel == kChannelConsensus) {
    pb::ConsensusMessage m;
    if (m.ParseFromString(payload) && m.has_vote() && m.vote().validator_address() == n.address) RecordVote(m.vote());
    if (!n.byzantine) CheckOwnMessage(n, payload);
    if (n.byzantine) ByzantineExtras(n, payload);
  }
  for (const auto& o : nodes_) {
    if (o.index == from) continue;
    if (n.byzantine && (n.behaviours & kWWithhold) && channel == kChannelConsensus && Chance(50)) continue;
    Link(from, o.index, channel, payload);
  }
}

void Wired::SendTo(int from, const PublicKey& peer, uint8_t channel, const std::string& payload) {
  const int to = IndexOf(peer);
  if (to < 0) return Fail("v" + std::to_string(from) + " sent to an unknown peer");
  Link(from, to, channel, payload);
}

// What a Byzantine validator adds to its own votes: a validly signed twin for another block to
// some peers (evidence must follow), and garbage-signed votes in its victims' names at high rounds
// (they must count toward nothing).
void Wired::ByzantineExtras(WNode& n, const std::string& payload) {
  pb::ConsensusMessage m;
  if (!m.ParseFromString(payload) || !m.has_vote() || m.vote().validator_address() != n.address) return;
  const pb::Vote& v = m.vote();
  if (n.behaviours & kWEquivocate) {
    // Its twin votes for nil when it voted for a block, so the twins can make a real quorum (a
    // nil one); for a made-up block otherwise.
    pb::ConsensusMessage twin = m;
    pb::Vote* t = twin.mutable_vote();
    std::string other;
    if (v.block_id().empty()) {
      other.assign(32, '\0');
      for (auto& c : other) c = static_cast<char>(Rand(0, 255));
    }
    t->set_block_id(other);
    RecordVote(*t);
    if (now_ >= kGstMs) ++twins_after_gst_;
    Signature s = n.key.Sign(AsBytes(VoteSignBytes(kWiredChain, static_cast<VoteType>(t->type()), t->height(),
                                                  t->round(), t->block_id(), t->timestamp_ms())));
    t->set_signature(std::string(s.begin(), s.end()));
    const std::string enc = Encode(twin);
    for (const auto& o : nodes_) {
      if (o.index != n.index && Chance(50)) Link(n.index, o.index, kChannelConsensus, enc);
    }
  }
  if (n.behaviours & kWForge) {
    const WNode& victim = nodes_[static_cast<size_t>(Rand(0, static_cast<int64_t>(nodes_.size()) - 1))];
    if (victim.byzantine) return;
    pb::ConsensusMessage forged = m;
    pb::Vote* f = forged.mutable_vote();
    f->set_validator_address(victim.address);
    f->set_round(v.round() + static_cast<int32_t>(Rand(1, 50)));
    f->set_signature(std::string(64, static_cast<char>(Rand(0, 255))));
    const std::string enc = Encode(forged);
    for (const auto& o : nodes_) {
      if (o.index != n.index) Link(n.index, o.index, kChannelConsensus, enc);
    }
  }
}

void Wired::Link(int from, int to, uint8_t channel, const std::string& payload) {
  int64_t delay;
  if (now_ >= kGstMs) {
    delay = Rand(1, kPostGstDelayMaxMs);
  } else {
    if (Chance(loss_percent_)) return;
    if (partition_end_ && now_ >= partition_start_ && now_ < partition_end_ &&
        partition_.count(from) != partition_.count(to)) {
      return;
    }
    delay = Rand(1, delay_max_ms_);
    if (from == slow_node_) delay += Rand(0, 300);
  }
  auto body = std::make_shared<std::string>(payload);
  const int copies = now_ < kGstMs && Chance(dup_percent_) ? 2 : 1;
  for (int c = 0; c < copies; ++c) {
    WEvent e;
    e.kind = WEvent::kDeliver;
    e.node = to;
    e.from = from;
    e.node_epoch = nodes_[to].epoch;
    e.from_epoch = nodes_[from].epoch;
    e.channel = channel;
    e.payload = body;
    e.time = now_ + delay + c * Rand(1, 100);
    Push(e);
  }
}

// TCP: while a node has paused reads from a peer, what the peer sent waits in order.
void Wired::Deliver(WNode& to, int from, uint8_t channel, const std::string& payload) {
  if (to.paused_from[from]) {
    to.held_from[from].emplace_back(channel, payload);
    return;
  }
  if (to.engine->OnPeerMessage(nodes_[from].node_key.public_key(), channel, payload) == ReadFlow::kPause) {
    to.paused_from[from] = true;
  }
}

void Wired::Resume(int node, const PublicKey& peer) {
  const int from = IndexOf(peer);
  if (from < 0) return;
  WEvent e;
  e.kind = WEvent::kResume;
  e.node = node;
  e.from = from;
  e.node_epoch = nodes_[node].epoch;
  e.time = now_;
  Push(e);
}

WiredResult Wired::Run() {
  InitCrypto();
  spdlog::set_level(spdlog::level::off);
  root_ = std::filesystem::path(std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp") /
          ("v2g-wired-" + std::to_string(::getpid()) + "-" + std::to_string(opts_.seed));
  std::filesystem::remove_all(root_);
  std::filesystem::create_directories(root_);
  Choose();
  for (auto& n : nodes_) Boot(n, true);
  while (!events_.empty() && failure_.empty()) {
    WEvent e = events_.top();
    if (e.time > opts_.duration_ms) break;
    events_.pop();
    now_ = e.time;
    if (height_at_gst_ < 0 && now_ >= kGstMs) {
      height_at_gst_ = 0;
      for (const auto& n : nodes_) height_at_gst_ = std::max(height_at_gst_, n.height);
    }
    WNode& n = nodes_[e.node];
    switch (e.kind) {
      case WEvent::kDeliver:
        if (!n.up || e.node_epoch != n.epoch || !nodes_[e.from].up || e.from_epoch != nodes_[e.from].epoch) break;
        Deliver(n, e.from, e.channel, *e.payload);
        Step(n);
        break;
      case WEvent::kResume: {
        if (!n.up || e.node_epoch != n.epoch) break;
        n.paused_from[e.from] = false;
        auto& held = n.held_from[e.from];
        while (!held.empty() && !n.paused_from[e.from]) {
          auto [ch, body] = std::move(held.front());
          held.pop_front();
          Deliver(n, e.from, ch, body);
        }
        Step(n);
        break;
      }
      case WEvent::kWake:
        if (!n.up || e.node_epoch != n.epoch || e.time != n.scheduled_wake) break;
        n.scheduled_wake = INT64_MAX;
        Step(n);
        break;
      case WEvent::kCrash:
        if (!n.up) break;
        if (e.crash_op > 0) {
          n.disk->CrashAtOp(e.crash_op, e.crash_after);  // falls inside a later step
        } else if (e.crash_op < 0) {
          n.disk->CrashAfterNextSave();
        } else {
          CrashNode(n, "between steps");
        }
        break;
      case WEvent::kRestart:
        if (n.up || e.node_epoch != n.epoch) break;
        Boot(n, false);
        break;
      case WEvent::kDiskFail:
        n.disk->set_failing(true);
        break;
      case WEvent::kDiskHeal:
        n.disk->set_failing(false);
        // Its node stopped signing when a write failed: the operator restarts it.
        if (n.up && n.engine->SigningStopped()) {
          n.down_until = now_ + 200;
          CrashNode(n, "restarted by its operator after the disk failure");
        }
        break;
    }
  }
  now_ = opts_.duration_ms;
  result_.min_honest_height = INT64_MAX;
  for (auto& n : nodes_) {
    result_.max_height = std::max(result_.max_height, n.height);
    if (n.byzantine) continue;
    result_.min_honest_height = std::min(result_.min_honest_height, n.height);
    result_.disk_failures += n.disk->failures();
    if (n.disk->relogged > 0) {
      Fail("WAL: v" + std::to_string(n.index) + " logged " + std::to_string(n.disk->relogged) +
           " records a second time in their height");
    }
    if (n.wal_peak > kWalBytesMax) {
      Fail("WAL: v" + std::to_string(n.index) + "'s WAL reached " + std::to_string(n.wal_peak) + " bytes");
    }
    int64_t evidence = 0;
    if (n.up) {
      const InboxStats in = n.engine->Inbox();
      if (in.peak_bytes > limits::kConsensusInboxBytesMax) {
        Fail("MEMORY: v" + std::to_string(n.index) + "'s inbox held " + std::to_string(in.peak_bytes) + " bytes");
      }
      evidence += static_cast<int64_t>(n.engine->PendingEvidence().size());
    }
    for (int64_t h = 1; h <= n.height && n.store; ++h) {
      if (auto b = n.store->LoadBlock(h)) evidence += b->evidence_size();
    }
    result_.evidence += evidence;
    // Equivocations sent after GST reach every honest node's engine at their height (twins go to
    // some peers, the first valid sight of a vote is relayed): each must have evidence.
    if (twins_after_gst_ > 0 && n.up && evidence == 0) {
      Fail("EVIDENCE: v" + std::to_string(n.index) + " has no evidence of " + std::to_string(twins_after_gst_) +
           " equivocations sent after GST");
    }
    if (now_ >= kGstMs + kSettleMs) {
      const int64_t gap = now_ - std::max(n.last_decision_ms, kGstMs + kSettleMs);
      n.max_decide_gap_ms = std::max(n.max_decide_gap_ms, gap);
    }
    result_.max_decide_gap_ms = std::max(result_.max_decide_gap_ms, n.max_decide_gap_ms);
    if (n.max_decide_gap_ms > kDecideGapMaxMs) {
      Fail("LIVENESS: v" + std::to_string(n.index) + " waited " + std::to_string(n.max_decide_gap_ms) +
           " ms for a decision after GST");
    }
  }
  if (height_at_gst_ >= 0 && result_.min_honest_height < height_at_gst_ + kMinProgressAfterGst) {
    Fail("LIVENESS: an honest node is at height " + std::to_string(result_.min_honest_height) +
         ", the network was at " + std::to_string(height_at_gst_) + " when it healed");
  }
  if (opts_.verbose) {
    for (auto& n : nodes_) {
      std::fprintf(stderr, "v%d%s height=%lld up=%d wal_peak=%zu disk_failures=%lld gap=%lld\n", n.index,
                   n.byzantine ? " (byz)" : "", (long long)n.height, n.up ? 1 : 0, n.wal_peak,
                   (long long)n.disk->failures(), (long long)n.max_decide_gap_ms);
    }
  }
  for (auto& n : nodes_) {
    n.engine.reset();
    n.signer.reset();
    n.chain.reset();
    n.mempool.reset();
    n.store.reset();
  }
  std::filesystem::remove_all(root_);
  result_.ok = failure_.empty();
  result_.failure = failure_.empty() ? "" : failure_ + " [" + result_.summary + "]";
  return result_;
}

}  // namespace

WiredResult RunWiredSimulation(const WiredOptions& opts) {
  Wired w(opts);
  return w.Run();
}

}  // namespace v2g::sim
