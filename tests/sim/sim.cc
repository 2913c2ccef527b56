#include "tests/sim/sim.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <variant>
#include <vector>

#include "common/bech32.h"
#include "common/crypto.h"
#include "consensus/block.h"
#include "consensus/tendermint.h"
#include "contracts/state.h"
#include "genesis/genesis.h"
#include "node/bft/signer.h"

namespace v2g::sim {
namespace {

const std::string kChain = "v2g-sim";
constexpr int64_t kGstMs = 12000;           // the network is well-behaved from here on
constexpr int64_t kCommitDelayMs = 500;     // pause between deciding and starting the next height
constexpr int64_t kMinProgressAfterGst = 5; // heights every honest node must add after healing
constexpr int kSyncBatch = 10;

struct SyncRequest {
  int64_t from_height = 0;
};
struct SyncResponse {
  std::vector<std::pair<pb::Block, pb::Commit>> blocks;
};
using Payload = std::variant<pb::ConsensusMessage, SyncRequest, SyncResponse>;

struct Event {
  int64_t time = 0;
  uint64_t seq = 0;
  enum Kind { kDeliver, kTimeout, kStartHeight, kCrash, kRestart } kind = kDeliver;
  int node = 0;
  int from = 0;
  uint64_t epoch = 0;
  TimeoutEvent timeout;
  int64_t height = 0;
  std::shared_ptr<Payload> payload;
};
struct EventOrder {
  bool operator()(const Event& a, const Event& b) const {
    return a.time != b.time ? a.time > b.time : a.seq > b.seq;
  }
};

// Keeps the signer's record across simulated crashes (the durable part of a validator).
class ForwardingStore : public SignStateStore {
 public:
  explicit ForwardingStore(MemorySignStateStore* s) : s_(s) {}
  Result<pb::SignState> Load() override { return s_->Load(); }
  Status Save(const pb::SignState& st) override { return s_->Save(st); }

 private:
  MemorySignStateStore* s_;
};

using WalEntry = std::variant<pb::ConsensusMessage, TimeoutEvent>;

class Sim;

struct Node {
  int index = 0;
  KeyPair key = KeyPair::Generate();
  std::string address;
  bool byzantine = false;
  bool up = true;
  uint64_t epoch = 0;
  int64_t clock_skew_ms = 0;
  std::mt19937_64 rng;
  // Durable across crashes.
  std::vector<pb::Block> blocks;
  std::vector<pb::Commit> commits;
  std::vector<std::string> app_hashes;  // after each block
  MemorySignStateStore sign_store;
  std::vector<WalEntry> wal;
  // Volatile.
  std::unique_ptr<Signer> signer;
  std::unique_ptr<EngineEnv> env;
  std::unique_ptr<TendermintEngine> engine;
  bool replaying = false;
  int64_t sync_requested_at = -1;
  // Observations for the checks.
  std::vector<pb::Vote> votes_seen_at_height;  // votes handed to the engine at their height
  std::set<std::string> vote_signatures_seen;
  std::set<std::string> evidence_keys;         // "addr/height/round/type"

  int64_t height() const { return static_cast<int64_t>(blocks.size()); }
};

class Sim {
 public:
  explicit Sim(const SimOptions& o);
  SimResult Run();

  // Used by the envs.
  int64_t now() const { return now_; }
  void Send(int from, int to, Payload p);
  void SendAll(int from, const Payload& p);
  void Schedule(Event e, int64_t delay) {
    e.time = now_ + delay;
    e.seq = seq_++;
    queue_.push(std::move(e));
  }
  Status ValidateFor(Node& n, const pb::Block& b);
  pb::Block CreateBlockFor(Node& n, int64_t height);
  void Commit(Node& n, const pb::Block& b, const pb::Commit& c, bool from_sync);
  void Fail(const std::string& what) {
    if (failure_.empty()) failure_ = "seed " + std::to_string(opts_.seed) + ": " + what;
  }
  const pb::ValidatorSet& vals() const { return vals_; }
  std::vector<Node>& nodes() { return nodes_; }
  void RecordHonestVote(const pb::Vote& v);
  void RecordEvidence(Node& n, const pb::DuplicateVoteEvidence& ev);

 private:
  void Boot(Node& n);
  void Deliver(Node& n, int from, const Payload& p);
  void HandleSync(Node& n, int from, const SyncResponse& r);
  bool Connected(int a, int b) const;
  void CheckEvidence();

  SimOptions opts_;
  std::mt19937_64 rng_;
  int64_t now_ = 0;
  uint64_t seq_ = 0;
  std::priority_queue<Event, std::vector<Event>, EventOrder> queue_;
  std::vector<Node> nodes_;
  pb::ValidatorSet vals_;
  std::string genesis_app_hash_;
  // Network model (before GST).
  int loss_pct_ = 0, dup_pct_ = 0;
  int64_t max_delay_ms_ = 10;
  int64_t partition_start_ = -1, partition_end_ = -1;
  std::vector<int> side_;  // partition side per node
  // Checks.
  std::map<int64_t, std::string> decided_;  // height -> block id
  std::map<std::string, std::string> honest_votes_;  // "addr/h/r/type" -> block id
  std::string failure_;
  SimResult result_;
};

class HonestEnv : public EngineEnv {
 public:
  HonestEnv(Sim& sim, Node& n) : sim_(sim), n_(n) {}
  int64_t NowMs() override { return sim_.now() + n_.clock_skew_ms; }
  pb::Block CreateBlock(int64_t height) override { return sim_.CreateBlockFor(n_, height); }
  Status ValidateBlock(const pb::Block& b) override { return sim_.ValidateFor(n_, b); }
  Result<SignedMessage> SignVote(VoteType type, int64_t h, int32_t r, const std::string& id, int64_t ts) override {
    auto s = n_.signer->SignVote(type, h, r, id, ts);
    if (!s.ok()) return s.status();
    return SignedMessage{std::string(s->signature.begin(), s->signature.end()), s->timestamp_ms};
  }
  Result<SignedMessage> SignProposal(int64_t h, int32_t r, int32_t pol, const std::string& id, int64_t ts) override {
    auto s = n_.signer->SignProposal(h, r, pol, id, ts);
    if (!s.ok()) return s.status();
    return SignedMessage{std::string(s->signature.begin(), s->signature.end()), s->timestamp_ms};
  }
  bool Broadcast(const pb::ConsensusMessage& m) override {
    if (!n_.replaying) n_.wal.push_back(m);  // own messages are logged before they leave
    if (m.has_vote()) sim_.RecordHonestVote(m.vote());
    SendOwn(m);
    return true;
  }
  void Persist(const pb::ConsensusMessage& m) override {
    if (!n_.replaying) n_.wal.push_back(m);  // accepted inputs, whichever path they came by
  }
  void ScheduleTimeout(const TimeoutEvent& t, int64_t delay) override {
    Event e;
    e.kind = Event::kTimeout;
    e.node = n_.index;
    e.epoch = n_.epoch;
    e.timeout = t;
    sim_.Schedule(e, delay);
  }
  void Decide(const pb::Block& b, const pb::Commit& c) override { sim_.Commit(n_, b, c, false); }
  void OnEvidence(const pb::DuplicateVoteEvidence& ev) override { sim_.RecordEvidence(n_, ev); }
  void Relay(const pb::ConsensusMessage& m) override { sim_.SendAll(n_.index, m); }

 protected:
  virtual void SendOwn(const pb::ConsensusMessage& m) { sim_.SendAll(n_.index, m); }
  Sim& sim_;
  Node& n_;
};

// Runs the honest algorithm but equivocates on everything it sends: each proposal and vote gets a
// conflicting twin, signed directly with the key (no safety rules), and the peers are split
// between the two versions.
class ByzantineEnv : public HonestEnv {
 public:
  using HonestEnv::HonestEnv;
  Result<SignedMessage> SignVote(VoteType type, int64_t h, int32_t r, const std::string& id, int64_t ts) override {
    return Raw(VoteSignBytes(kChain, type, h, r, id, ts), ts);
  }
  Result<SignedMessage> SignProposal(int64_t h, int32_t r, int32_t pol, const std::string& id, int64_t ts) override {
    return Raw(ProposalSignBytes(kChain, h, r, pol, id, ts), ts);
  }
  bool Broadcast(const pb::ConsensusMessage& m) override {
    SendOwn(m);
    return true;
  }
  // The engine re-sends its own messages through Relay: equivocate on those too (a fresh twin to
  // half the peers each time), as before re-sends stopped going through Broadcast.
  void Relay(const pb::ConsensusMessage& m) override {
    const std::string& from = m.has_vote() ? m.vote().validator_address() : m.proposal().proposer_address();
    if (from == n_.address) {
      SendOwn(m);
    } else {
      HonestEnv::Relay(m);
    }
  }

 protected:
  void SendOwn(const pb::ConsensusMessage& m) override {
    pb::ConsensusMessage twin = m;
    if (m.has_vote()) {
      pb::Vote* v = twin.mutable_vote();
      std::string other = v->block_id().empty() ? RandomId() : (n_.rng() % 2 ? std::string() : RandomId());
      v->set_block_id(other);
      v->set_signature(Raw(VoteSignBytes(kChain, static_cast<VoteType>(v->type()), v->height(), v->round(), other,
                                         v->timestamp_ms()), 0)->signature);
    } else if (m.has_proposal()) {
      pb::Proposal* p = twin.mutable_proposal();
      p->mutable_block()->add_txs("byzantine-" + std::to_string(n_.rng()));
      std::vector<std::string> txs(p->block().txs().begin(), p->block().txs().end());
      p->mutable_block()->mutable_header()->set_data_hash(HashString(MerkleRoot(txs)));
      std::string id = HashString(BlockId(p->block().header()));
      p->set_signature(Raw(ProposalSignBytes(kChain, p->height(), p->round(), p->pol_round(), id, p->timestamp_ms()), 0)->signature);
    }
    for (size_t i = 0; i < sim_.nodes().size(); ++i) {
      if (static_cast<int>(i) == n_.index) continue;
      sim_.Send(n_.index, static_cast<int>(i), n_.rng() % 2 ? Payload(m) : Payload(twin));
    }
  }

 private:
  Result<SignedMessage> Raw(const std::string& bytes, int64_t ts) {
    Signature s = n_.key.Sign(AsBytes(bytes));
    return SignedMessage{std::string(s.begin(), s.end()), ts};
  }
  std::string RandomId() {
    std::string id(32, '\0');
    for (auto& c : id) c = static_cast<char>(n_.rng() & 0xff);
    return id;
  }
};

Sim::Sim(const SimOptions& o) : opts_(o), rng_(o.seed) {
  const int n = 4 + static_cast<int>(rng_() % 4);
  const int max_byz = (n - 1) / 3;
  const int byz = static_cast<int>(rng_() % (max_byz + 1));
  nodes_.resize(static_cast<size_t>(n));
  std::vector<int> order(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  std::shuffle(order.begin(), order.end(), rng_);
  for (int i = 0; i < n; ++i) {
    Node& nd = nodes_[static_cast<size_t>(i)];
    nd.index = i;
    Bytes seed(32);
    for (auto& b : seed) b = static_cast<uint8_t>(rng_() & 0xff);
    nd.key = KeyPair::FromSeed(seed);
    nd.address = AddressBytes(AddressFromPublicKey(nd.key.public_key()));
    nd.clock_skew_ms = static_cast<int64_t>(rng_() % 200);
    nd.rng.seed(rng_());
    auto* v = vals_.add_validators();
    v->set_name("v" + std::to_string(i));
    v->set_address(nd.address);
    v->set_consensus_pubkey(std::string(nd.key.public_key().begin(), nd.key.public_key().end()));
    v->set_node_pubkey(v->consensus_pubkey());
    v->set_power(10);
  }
  for (int i = 0; i < byz; ++i) nodes_[static_cast<size_t>(order[static_cast<size_t>(i)])].byzantine = true;
  loss_pct_ = static_cast<int>(rng_() % 25);
  dup_pct_ = static_cast<int>(rng_() % 10);
  max_delay_ms_ = 5 + static_cast<int64_t>(rng_() % 400);
  side_.assign(static_cast<size_t>(n), 0);
  if (rng_() % 2) {
    partition_start_ = static_cast<int64_t>(rng_() % 6000);
    partition_end_ = partition_start_ + 1000 + static_cast<int64_t>(rng_() % 6000);
    for (auto& s : side_) s = static_cast<int>(rng_() % 2);
  }
  genesis_app_hash_ = HashString(Blake2b256("sim-genesis-" + std::to_string(opts_.seed)));
  // Crashes of honest nodes, all restarted before GST (so > 2/3 are up after it).
  int crashes = static_cast<int>(rng_() % 3);
  for (int c = 0; c < crashes; ++c) {
    int victim = static_cast<int>(rng_() % static_cast<uint64_t>(n));
    if (nodes_[static_cast<size_t>(victim)].byzantine) continue;
    int64_t at = 500 + static_cast<int64_t>(rng_() % 9000);
    int64_t back = at + 300 + static_cast<int64_t>(rng_() % 4000);
    Event e;
    e.kind = Event::kCrash;
    e.node = victim;
    e.time = at;
    e.seq = seq_++;
    queue_.push(e);
    e.kind = Event::kRestart;
    e.time = back;
    e.seq = seq_++;
    queue_.push(e);
    result_.crashes++;
  }
  result_.validators = n;
  result_.byzantine = byz;
  result_.summary = "n=" + std::to_string(n) + " byzantine=" + std::to_string(byz) + " loss=" +
                    std::to_string(loss_pct_) + "% dup=" + std::to_string(dup_pct_) + "% delay<=" +
                    std::to_string(max_delay_ms_) + "ms partition=" +
                    (partition_start_ >= 0 ? std::to_string(partition_start_) + ".." + std::to_string(partition_end_) + "ms"
                                           : std::string("none")) +
                    " crashes=" + std::to_string(result_.crashes);
}

bool Sim::Connected(int a, int b) const {
  if (partition_start_ < 0 || now_ < partition_start_ || now_ >= partition_end_) return true;
  return side_[static_cast<size_t>(a)] == side_[static_cast<size_t>(b)];
}

void Sim::Send(int from, int to, Payload p) {
  result_.messages++;
  const bool before_gst = now_ < kGstMs;
  if (!Connected(from, to)) return;
  if (before_gst && static_cast<int>(rng_() % 100) < loss_pct_) return;
  auto shared = std::make_shared<Payload>(std::move(p));
  int copies = before_gst && static_cast<int>(rng_() % 100) < dup_pct_ ? 2 : 1;
  for (int c = 0; c < copies; ++c) {
    Event e;
    e.kind = Event::kDeliver;
    e.node = to;
    e.from = from;
    e.payload = shared;
    // Independent random delays reorder messages.
    int64_t max_delay = before_gst ? max_delay_ms_ : 50;
    Schedule(e, 1 + static_cast<int64_t>(rng_() % static_cast<uint64_t>(max_delay)));
  }
}

void Sim::SendAll(int from, const Payload& p) {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (static_cast<int>(i) != from) Send(from, static_cast<int>(i), p);
  }
}

pb::Block Sim::CreateBlockFor(Node& n, int64_t height) {
  V2G_ASSERT(height == n.height() + 1);
  pb::Block b;
  const int txs = static_cast<int>(n.rng() % 4);
  std::vector<std::string> items;
  for (int i = 0; i < txs; ++i) {
    items.push_back("tx-" + std::to_string(n.index) + "-" + std::to_string(n.rng()));
    b.add_txs(items.back());
  }
  pb::Header* h = b.mutable_header();
  h->set_chain_id(kChain);
  h->set_height(height);
  h->set_last_block_id(n.blocks.empty() ? "" : HashString(BlockId(n.blocks.back().header())));
  if (!n.commits.empty()) *b.mutable_last_commit() = n.commits.back();
  // BFT time: fixed by the last commit (genesis time is 0 here).
  h->set_time_ms(n.blocks.empty() ? 1 : WeightedMedianTime(b.last_commit(), vals_));
  h->set_last_commit_hash(HashString(CommitHash(b.last_commit())));
  h->set_data_hash(HashString(MerkleRoot(items)));
  h->set_app_hash(n.app_hashes.empty() ? genesis_app_hash_ : n.app_hashes.back());
  h->set_validators_hash(HashString(ValidatorSetHash(vals_)));
  h->set_proposer_address(n.address);
  h->set_evidence_hash(HashString(EvidenceHash(b)));
  return b;
}

Status Sim::ValidateFor(Node& n, const pb::Block& b) {
  ChainTip tip;
  tip.chain_id = kChain;
  tip.height = n.height();
  tip.block_id = n.blocks.empty() ? "" : HashString(BlockId(n.blocks.back().header()));
  tip.time_ms = n.blocks.empty() ? 0 : n.blocks.back().header().time_ms();
  tip.app_hash = n.app_hashes.empty() ? genesis_app_hash_ : n.app_hashes.back();
  tip.validators_hash = HashString(ValidatorSetHash(vals_));
  pb::ParamsRecord params;
  params.set_block_txs_max(100);
  params.set_block_bytes_max(1 << 20);
  return ValidateBlock(b, tip, vals_, params);
}

void Sim::Commit(Node& n, const pb::Block& b, const pb::Commit& c, bool from_sync) {
  const int64_t h = b.header().height();
  V2G_ASSERT(h == n.height() + 1);
  const std::string id = HashString(BlockId(b.header()));
  if (Status st = VerifyCommit(kChain, vals_, h, id, c); !st.ok()) {
    Fail("node " + std::to_string(n.index) + " committed height " + std::to_string(h) + " with a bad commit: " + st.message());
  }
  if (!n.byzantine) {
    auto [it, fresh] = decided_.emplace(h, id);
    if (!fresh && it->second != id) {
      Fail("SAFETY: two different blocks decided at height " + std::to_string(h) + " (node " + std::to_string(n.index) + ")");
    }
  }
  n.blocks.push_back(b);
  n.commits.push_back(c);
  std::string prev = n.app_hashes.empty() ? genesis_app_hash_ : n.app_hashes.back();
  n.app_hashes.push_back(HashString(Blake2b256(prev + id)));
  n.wal.clear();  // the block is durable; the WAL only ever holds the current height
  if (from_sync) return;
  Event e;
  e.kind = Event::kStartHeight;
  e.node = n.index;
  e.epoch = n.epoch;
  e.height = h + 1;
  Schedule(e, kCommitDelayMs);
}

void Sim::RecordHonestVote(const pb::Vote& v) {
  std::string key = HexEncode(v.validator_address()) + "/" + std::to_string(v.height()) + "/" +
                    std::to_string(v.round()) + "/" + std::to_string(v.type());
  auto [it, fresh] = honest_votes_.emplace(key, v.block_id());
  if (!fresh && it->second != v.block_id()) Fail("SAFETY: an honest validator double-signed " + key);
}

void Sim::RecordEvidence(Node& n, const pb::DuplicateVoteEvidence& ev) {
  const pb::Vote& a = ev.vote_a();
  const pb::Vote& b = ev.vote_b();
  if (!VerifyVote(kChain, vals_, a).ok() || !VerifyVote(kChain, vals_, b).ok() ||
      a.validator_address() != b.validator_address() || a.height() != b.height() || a.round() != b.round() ||
      a.type() != b.type() || a.block_id() == b.block_id()) {
    Fail("node " + std::to_string(n.index) + " reported bogus evidence");
  }
  for (const auto& other : nodes_) {
    if (other.address == a.validator_address() && !other.byzantine) Fail("evidence against an honest validator");
  }
  n.evidence_keys.insert(HexEncode(a.validator_address()) + "/" + std::to_string(a.height()) + "/" +
                         std::to_string(a.round()) + "/" + std::to_string(a.type()));
  result_.evidence++;
}

void Sim::Boot(Node& n) {
  n.signer = *Signer::Create(n.key, kChain, std::make_unique<ForwardingStore>(&n.sign_store));
  if (n.byzantine) {
    n.env = std::make_unique<ByzantineEnv>(*this, n);
  } else {
    n.env = std::make_unique<HonestEnv>(*this, n);
  }
  n.engine = std::make_unique<TendermintEngine>(kChain, n.address,
                                                EngineTimeouts{400, 100, 200, 50, 200, 50, 300}, *n.env);
  n.engine->StartHeight(n.height() + 1, vals_);
  // Replay the WAL of the current height: the engine rebuilds its round, lock and votes. Our own
  // messages in it are re-signed identically or refused by the safety rules.
  n.replaying = true;
  std::vector<WalEntry> wal = n.wal;
  for (const auto& e : wal) {
    if (auto* m = std::get_if<pb::ConsensusMessage>(&e)) {
      n.engine->HandleMessage(*m);
    } else {
      n.engine->HandleTimeout(std::get<TimeoutEvent>(e));
    }
  }
  n.replaying = false;
}

void Sim::Deliver(Node& n, int from, const Payload& p) {
  if (auto* m = std::get_if<pb::ConsensusMessage>(&p)) {
    int64_t h = m->has_proposal() ? m->proposal().height() : m->vote().height();
    if (h > n.height() + 1 && (n.sync_requested_at < 0 || now_ - n.sync_requested_at > 300)) {
      n.sync_requested_at = now_;  // behind: fetch decided blocks from whoever is ahead
      Send(n.index, from, SyncRequest{n.height() + 1});
    }
    if (m->has_vote() && m->vote().height() == n.engine->height() &&
        n.vote_signatures_seen.insert(m->vote().signature()).second) {
      n.votes_seen_at_height.push_back(m->vote());
    }
    n.engine->HandleMessage(*m);  // the engine persists what it accepts (HonestEnv::Persist)
  } else if (auto* req = std::get_if<SyncRequest>(&p)) {
    SyncResponse r;
    for (int64_t h = req->from_height; h <= n.height() && h < req->from_height + kSyncBatch; ++h) {
      r.blocks.emplace_back(n.blocks[static_cast<size_t>(h - 1)], n.commits[static_cast<size_t>(h - 1)]);
    }
    if (!r.blocks.empty()) Send(n.index, from, std::move(r));
  } else {
    HandleSync(n, from, std::get<SyncResponse>(p));
  }
}

void Sim::HandleSync(Node& n, int from, const SyncResponse& r) {
  bool advanced = false;
  for (const auto& [block, commit] : r.blocks) {
    if (block.header().height() != n.height() + 1) continue;
    const std::string id = HashString(BlockId(block.header()));
    // A synced block is only as good as its commit: verify it against the validator set.
    if (!VerifyCommit(kChain, vals_, block.header().height(), id, commit).ok()) return;
    // History is checked like a proposal.
    if (!ValidateFor(n, block).ok()) return;
    Commit(n, block, commit, true);
    advanced = true;
  }
  n.sync_requested_at = -1;
  if (advanced) {
    n.engine->StartHeight(n.height() + 1, vals_);
    Send(n.index, from, SyncRequest{n.height() + 1});  // maybe more to fetch
  }
}

SimResult Sim::Run() {
  for (auto& n : nodes_) Boot(n);
  int64_t height_at_gst = -1;
  while (!queue_.empty() && failure_.empty()) {
    Event e = queue_.top();
    queue_.pop();
    if (e.time > opts_.duration_ms) break;
    if (height_at_gst < 0 && e.time >= kGstMs) {
      height_at_gst = 0;
      for (auto& n : nodes_) height_at_gst = std::max(height_at_gst, n.height());
    }
    now_ = e.time;
    Node& n = nodes_[static_cast<size_t>(e.node)];
    switch (e.kind) {
      case Event::kDeliver:
        if (n.up) Deliver(n, e.from, *e.payload);
        break;
      case Event::kTimeout:
        if (n.up && e.epoch == n.epoch) {
          if (e.timeout.step != Step::kTick) n.wal.push_back(e.timeout);  // ticks carry no state
          n.engine->HandleTimeout(e.timeout);
        }
        break;
      case Event::kStartHeight:
        if (n.up && e.epoch == n.epoch && n.engine->height() < e.height && e.height == n.height() + 1) {
          n.engine->StartHeight(e.height, vals_);
        }
        break;
      case Event::kCrash:
        n.up = false;
        n.engine.reset();
        n.env.reset();
        n.signer.reset();
        n.epoch++;
        break;
      case Event::kRestart:
        n.up = true;
        n.epoch++;
        Boot(n);
        break;
    }
  }
  result_.max_height = 0;
  result_.min_honest_height = INT64_MAX;
  for (auto& n : nodes_) {
    result_.max_height = std::max(result_.max_height, n.height());
    if (!n.byzantine) result_.min_honest_height = std::min(result_.min_honest_height, n.height());
  }
  if (failure_.empty() && height_at_gst >= 0 && result_.min_honest_height < height_at_gst + kMinProgressAfterGst) {
    Fail("LIVENESS: after the network healed at " + std::to_string(kGstMs) + " ms (max height " +
         std::to_string(height_at_gst) + "), an honest node only reached height " +
         std::to_string(result_.min_honest_height));
  }
  if (failure_.empty()) CheckEvidence();
  if (opts_.verbose) {
    for (auto& n : nodes_) {
      if (!n.engine) continue;
      EngineInfo info = n.engine->Info();
      std::string rounds;
      for (const auto& [r, t] : info.rounds) {
        rounds += " r" + std::to_string(r) + ":" + std::to_string(t.prevote_power) + "/" + std::to_string(t.precommit_power);
        if (r <= 1 || r == info.round) {
          rounds += "[prop " + HexEncode(t.proposal_block_id).substr(0, 4) + " pv";
          for (const auto& [id, p] : t.prevotes_by_block) rounds += " " + HexEncode(id).substr(0, 4) + "=" + std::to_string(p);
          rounds += " pc";
          for (const auto& [id, p] : t.precommits_by_block) rounds += " " + HexEncode(id).substr(0, 4) + "=" + std::to_string(p);
          rounds += "]";
        }
      }
      rounds += " locked_id=" + HexEncode(info.locked_block_id).substr(0, 4);
      std::fprintf(stderr, "node %d%s chain=%lld engine h=%lld r=%d step=%s locked=%d valid=%d decided=%d%s\n",
                   n.index, n.byzantine ? " (byz)" : "", static_cast<long long>(n.height()),
                   static_cast<long long>(info.height), info.round, std::string(StepName(info.step)).c_str(),
                   info.locked_round, info.valid_round, info.decided ? 1 : 0, rounds.c_str());
    }
  }
  result_.ok = failure_.empty();
  result_.failure = failure_.empty() ? "" : failure_ + " [" + result_.summary + "]";
  return result_;
}

// Every equivocation an honest node received at its height must have produced evidence there.
void Sim::CheckEvidence() {
  for (const auto& n : nodes_) {
    if (n.byzantine) continue;
    std::map<std::string, std::set<std::string>> ids;
    // Every vote in the simulation is validly signed (Byzantine nodes sign their twins too), so
    // the check need not verify them again.
    for (const auto& v : n.votes_seen_at_height) {
      ids[HexEncode(v.validator_address()) + "/" + std::to_string(v.height()) + "/" + std::to_string(v.round()) +
          "/" + std::to_string(v.type())]
          .insert(v.block_id());
    }
    for (const auto& [key, set] : ids) {
      if (set.size() > 1 && !n.evidence_keys.count(key)) {
        Fail("EVIDENCE: node " + std::to_string(n.index) + " saw an equivocation " + key + " but reported none");
        return;
      }
    }
  }
}

}  // namespace

SimResult RunSimulation(const SimOptions& opts) {
  InitCrypto();
  Sim sim(opts);
  return sim.Run();
}

}  // namespace v2g::sim
