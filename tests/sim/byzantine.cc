// Validators of the simulation: HonestEnv is the node's wiring in miniature (safety module, WAL
// on the simulated disk, durable before sent); ByzantineEnv runs the same engine with the raw key
// (no safety rules, no WAL) and a seed-chosen set of behaviours from the library below.
#include <algorithm>

#include "common/bech32.h"
#include "common/limits.h"
#include "consensus/block.h"
#include "tests/sim/world.h"

namespace v2g::sim {

std::string BehaviourNames(uint32_t mask) {
  static const char* const kNames[kBehaviourCount] = {"equivocate", "bad-body", "withhold", "amnesia", "forge",
                                                     "round-skip", "edge-time", "flood", "sync-liar"};
  std::string s;
  for (int b = 0; b < kBehaviourCount; ++b) {
    if (mask & (1u << b)) s += (s.empty() ? "" : "+") + std::string(kNames[b]);
  }
  return s.empty() ? "none" : s;
}

void SimEnv::ServeSync(int from, const SyncRequest& req) {
  SyncResponse r;
  for (int64_t h = req.from_height; h >= 1 && h <= n_.height() && h < req.from_height + kSyncBatch; ++h) {
    r.blocks.emplace_back(n_.blocks[static_cast<size_t>(h - 1)], n_.commits[static_cast<size_t>(h - 1)]);
  }
  sim_.Send(n_.index, from, std::move(r));
}

int64_t SimEnv::ClaimedHeight() { return n_.height() + 1; }

namespace {

std::string SignatureOf(const pb::ConsensusMessage& m) {
  return m.has_vote() ? m.vote().signature() : m.proposal().signature();
}

class HonestEnv : public SimEnv {
 public:
  HonestEnv(Sim& sim, Node& n) : SimEnv(sim, n) {}
  int64_t NowMs() override { return sim_.now() + n_.clock_skew_ms; }
  pb::Block CreateBlock(int64_t height) override { return sim_.CreateBlockFor(n_, height); }
  Status ValidateBlock(const pb::Block& b) override { return sim_.ValidateFor(n_, b); }
  Result<SignedMessage> SignVote(VoteType type, int64_t h, int32_t r, const std::string& id, int64_t ts) override {
    if (!SyncBeforeSigning()) return Error(Code::kUnavailable, "not signing: the WAL failed");
    auto s = n_.signer->SignVote(type, h, r, id, ts);
    if (!s.ok()) return s.status();
    sim_.RecordSigned(n_, type == VoteType::kPrevote ? Step::kPrevote : Step::kPrecommit, h, r, id);
    return SignedMessage{std::string(s->signature.begin(), s->signature.end()), s->timestamp_ms};
  }
  Result<SignedMessage> SignProposal(int64_t h, int32_t r, int32_t pol, const std::string& id, int64_t ts) override {
    if (!SyncBeforeSigning()) return Error(Code::kUnavailable, "not signing: the WAL failed");
    auto s = n_.signer->SignProposal(h, r, pol, id, ts);
    if (!s.ok()) return s.status();
    sim_.RecordSigned(n_, Step::kPropose, h, r, id);
    return SignedMessage{std::string(s->signature.begin(), s->signature.end()), s->timestamp_ms};
  }
  // As node/bft: every input that led here is synced before the signer saves anything, so a crash
  // between the signer's save and the WAL append replays into the same vote, which the signer
  // re-signs identically (without it, the restarted node could want another value there, which
  // the signer refuses: it stayed silent and a height that needed its power halted).
  bool SyncBeforeSigning() {
    if (n_.signing_stopped) return false;
    if (n_.replaying) return true;  // the replayed inputs are on disk already
    return sim_.WalSync(n_);
  }
  // Durable (appended and synced, with every input before it) before it leaves. On replay an own
  // message the WAL already holds is not logged again.
  bool Broadcast(const pb::ConsensusMessage& m) override {
    if (sim_.CrashDue(n_, CrashPoint::kBeforeWalAppend)) {
      sim_.Crash(n_);  // the signer saved it; the WAL never got it
      return false;
    }
    // On replay the WAL holds it already.
    const bool logged = n_.replaying && n_.wal.signatures.count(SignatureOf(m));
    if (!logged && !sim_.WalAppend(n_, m, true)) return false;
    if (m.has_vote()) sim_.RecordLock(n_, m.vote());
    const bool precommit_for_block = m.has_vote() && m.vote().type() == static_cast<int32_t>(VoteType::kPrecommit) &&
                                     !m.vote().block_id().empty();
    if (precommit_for_block && sim_.CrashDue(n_, CrashPoint::kAfterPrecommit)) {
      // It reached some peers, then the node died.
      for (size_t i = 0; i < sim_.nodes().size(); ++i) {
        if (static_cast<int>(i) != n_.index && n_.rng() % 2) sim_.Send(n_.index, static_cast<int>(i), m);
      }
      sim_.Crash(n_);
      return true;
    }
    sim_.SendAll(n_.index, m);
    return true;
  }
  // Synced by the next Broadcast. Inputs of a height already committed (the engine still takes
  // them until the next height starts) need no logging: the block store holds that height.
  void Persist(const pb::ConsensusMessage& m) override {
    const int64_t h = m.has_vote() ? m.vote().height() : m.proposal().height();
    if (!n_.replaying && h == n_.height() + 1) sim_.WalAppend(n_, m, false);
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
  void Relay(const pb::ConsensusMessage& m) override {
    const std::string& from = m.has_vote() ? m.vote().validator_address() : m.proposal().proposer_address();
    if (from == n_.address) sim_.CheckLeavesDurable(n_, m);  // a re-send of our own
    sim_.SendAll(n_.index, m);
  }
};

// The Byzantine library. Each behaviour is a member function named after it, switched on by its
// bit in Node::behaviours; several combine. Signing uses the raw key, so nothing stops it from
// signing anything; every validly signed prevote goes to the lock check's ledger.
class ByzantineEnv : public HonestEnv {
 public:
  ByzantineEnv(Sim& sim, Node& n) : HonestEnv(sim, n) {
    // kWithhold: a fixed set of victims, and whether proposals, votes or both are kept from them.
    for (size_t i = 0; i < sim.nodes().size(); ++i) {
      if (static_cast<int>(i) != n.index && n.rng() % 2) withhold_from_.insert(static_cast<int>(i));
    }
    withhold_kind_ = static_cast<int>(n.rng() % 3);
    sync_lie_ = static_cast<int>(n.rng() % 4);
  }

  Result<SignedMessage> SignVote(VoteType type, int64_t h, int32_t r, const std::string& id, int64_t ts) override {
    if (Has(kEdgeTime)) ts = EdgeStamp(ts);
    return Raw(VoteSignBytes(kChain, type, h, r, id, ts), ts);
  }
  Result<SignedMessage> SignProposal(int64_t h, int32_t r, int32_t pol, const std::string& id, int64_t ts) override {
    return Raw(ProposalSignBytes(kChain, h, r, pol, id, ts), ts);
  }
  pb::Block CreateBlock(int64_t height) override {
    pb::Block b = sim_.CreateBlockFor(n_, height);
    if (Has(kEdgeTime)) EdgeTime(b);
    return b;
  }
  bool Broadcast(const pb::ConsensusMessage& m) override {
    pb::ConsensusMessage out = m;
    if (Has(kAmnesia)) Amnesia(out);
    if (out.has_vote()) sim_.RecordByzantinePrevote(out.vote());
    SendOwn(out);
    return true;
  }
  void Persist(const pb::ConsensusMessage&) override {}
  // The engine re-sends its own messages through Relay: they get the same treatment as new ones.
  void Relay(const pb::ConsensusMessage& m) override {
    const std::string& from = m.has_vote() ? m.vote().validator_address() : m.proposal().proposer_address();
    if (from == n_.address) return SendOwn(m);
    if (Has(kWithhold) && m.has_vote() && withhold_kind_ != 0) return;  // relays nobody's votes either
    sim_.SendAll(n_.index, m);
  }
  void BeforeTimeout(const TimeoutEvent& t) override {
    if (t.step != Step::kTick || !n_.engine) return;
    if (Has(kForge)) Forge();
    if (Has(kRoundSkip)) RoundSkip();
    if (Has(kFlood)) Flood();
    if (Has(kSyncLiar)) AdvertiseHugeHeight();
  }
  void ServeSync(int from, const SyncRequest& req) override {
    if (!Has(kSyncLiar)) return SimEnv::ServeSync(from, req);
    SyncLiar(from, req);
  }
  int64_t ClaimedHeight() override { return Has(kSyncLiar) ? 1000000000 : SimEnv::ClaimedHeight(); }

 private:
  bool Has(Behaviour b) const { return (n_.behaviours & b) != 0; }

  // Sends one own message (new or re-sent) to each peer, shaped by kWithhold, kEquivocate,
  // kBadBody and kFlood.
  void SendOwn(const pb::ConsensusMessage& m) {
    std::optional<pb::ConsensusMessage> twin;
    if (Has(kEquivocate)) twin = Equivocate(m);
    for (size_t i = 0; i < sim_.nodes().size(); ++i) {
      const int to = static_cast<int>(i);
      if (to == n_.index || Withheld(to, m)) continue;
      pb::ConsensusMessage out = twin && n_.rng() % 2 ? *twin : m;
      if (Has(kBadBody) && out.has_proposal() && n_.rng() % 2) BadBody(out);
      const int copies = Has(kFlood) ? 4 : 1;
      for (int c = 0; c < copies; ++c) sim_.Send(n_.index, to, out);
    }
  }

  // kEquivocate: a conflicting twin of every proposal and vote, validly signed; peers are split
  // between the two versions (a fresh twin each time, re-sends included).
  pb::ConsensusMessage Equivocate(const pb::ConsensusMessage& m) {
    pb::ConsensusMessage twin = m;
    if (m.has_vote()) {
      pb::Vote* v = twin.mutable_vote();
      v->set_block_id(v->block_id().empty() ? RandomId() : (n_.rng() % 2 ? std::string() : RandomId()));
      Resign(*v);
    } else if (m.has_proposal()) {
      pb::Proposal* p = twin.mutable_proposal();
      p->mutable_block()->add_txs("byzantine-" + std::to_string(n_.rng()));
      Rehash(*p->mutable_block());
      Resign(*p);
    }
    return twin;
  }

  // kBadBody: the signed header with another body (an extra tx, the data hash left alone): the
  // signature still verifies, the body does not match. Sent to about half the peers each time.
  void BadBody(pb::ConsensusMessage& m) {
    m.mutable_proposal()->mutable_block()->add_txs("not-in-the-header-" + std::to_string(n_.rng()));
  }

  // kWithhold: proposals (kind 0), votes (kind 1) or both (kind 2) never reach the victims.
  bool Withheld(int to, const pb::ConsensusMessage& m) const {
    if (!Has(kWithhold) || !withhold_from_.count(to)) return false;
    if (m.has_proposal()) return withhold_kind_ != 1;
    return withhold_kind_ != 0;
  }

  // kAmnesia: forgets its lock. When the engine, locked on one block, prevotes nil or its lock in
  // a later round that has a proposal for another block, it prevotes that block instead.
  void Amnesia(pb::ConsensusMessage& m) {
    if (!m.has_vote() || m.vote().type() != static_cast<int32_t>(VoteType::kPrevote)) return;
    const EngineInfo info = n_.engine->Info();
    if (info.locked_round < 0 || m.vote().round() <= info.locked_round) return;
    auto r = info.rounds.find(m.vote().round());
    if (r == info.rounds.end() || r->second.proposal_block_id.empty() ||
        r->second.proposal_block_id == m.vote().block_id()) {
      return;
    }
    m.mutable_vote()->set_block_id(r->second.proposal_block_id);
    Resign(*m.mutable_vote());
  }

  // kForge: each tick, votes naming one honest validator of the height's set (garbage signature,
  // or the Byzantine's own key's) and a proposal naming the round's proposer with a garbage
  // signature. Acts whether or not the Byzantine node is in the set itself.
  void Forge() {
    const int64_t height = n_.engine->height();
    std::vector<const Node*> honest;
    for (const auto& nd : sim_.nodes()) {
      if (!nd.byzantine && sim_.PowerAt(height, nd.address) > 0) honest.push_back(&nd);
    }
    if (honest.empty()) return;
    const Node& victim = *honest[n_.rng() % honest.size()];
    pb::ConsensusMessage m;
    pb::Vote* v = m.mutable_vote();
    v->set_type(static_cast<int32_t>(n_.rng() % 2 ? VoteType::kPrevote : VoteType::kPrecommit));
    v->set_height(n_.engine->height());
    v->set_round(n_.engine->round());
    v->set_block_id(n_.rng() % 2 ? RandomId() : std::string());
    v->set_timestamp_ms(sim_.now());
    v->set_validator_address(victim.address);
    if (n_.rng() % 2) {
      v->set_signature(RandomBytes(64));
    } else {
      Resign(*v);  // signed, but with the Byzantine's own key
    }
    sim_.SendAll(n_.index, m);
    pb::ConsensusMessage pm;
    pb::Proposal* p = pm.mutable_proposal();
    const pb::ValidatorRecord& proposer =
        ProposerFor(sim_.SetAt(height), height, n_.engine->round());
    *p->mutable_block() = sim_.CreateBlockFor(n_, n_.height() + 1);
    p->mutable_block()->mutable_header()->set_proposer_address(proposer.address());
    p->set_height(n_.engine->height());
    p->set_round(n_.engine->round());
    p->set_pol_round(-1);
    p->set_timestamp_ms(p->block().header().time_ms());
    p->set_proposer_address(proposer.address());
    p->set_signature(RandomBytes(64));
    if (p->block().header().height() == p->height()) sim_.SendAll(n_.index, pm);
  }

  // kRoundSkip: votes for rounds above everyone's: garbage-signed ones naming every validator of
  // the height's set (within and beyond the engine's lookahead), and its own validly signed nil
  // votes (counted only while it is in the set). Less than a third of every set's power is
  // Byzantine, so no honest node may move to those rounds.
  void RoundSkip() {
    const int32_t base = n_.engine->round();
    const int32_t r = base + 1 + static_cast<int32_t>(n_.rng() % limits::kConsensusRoundsAheadMax);
    const int32_t far = base + limits::kConsensusRoundsAheadMax + 1 + static_cast<int32_t>(n_.rng() % 1000);
    for (const auto& val : sim_.SetAt(n_.engine->height()).validators()) {
      for (int32_t round : {r, far}) {
        pb::ConsensusMessage m = NilVote(VoteType::kPrevote, round);
        m.mutable_vote()->set_validator_address(val.address());
        m.mutable_vote()->set_signature(RandomBytes(64));
        sim_.SendAll(n_.index, m);
      }
    }
    for (VoteType type : {VoteType::kPrevote, VoteType::kPrecommit}) {
      pb::ConsensusMessage m = NilVote(type, r);
      Resign(*m.mutable_vote());
      sim_.RecordByzantinePrevote(m.vote());
      sim_.SendAll(n_.index, m);
    }
  }

  // kFlood: duplicates of its own messages (SendOwn), junk (an empty message, a vote with an
  // oversized block id) and validly signed votes for the next height at many rounds (which honest
  // nodes hold, within their per-validator quota).
  void Flood() {
    pb::ConsensusMessage junk;
    sim_.SendAll(n_.index, junk);
    pb::ConsensusMessage big = NilVote(VoteType::kPrevote, n_.engine->round());
    big.mutable_vote()->set_block_id(RandomBytes(64 * 1024));
    big.mutable_vote()->set_signature(RandomBytes(64));
    sim_.SendAll(n_.index, big);
    for (int k = 0; k < 3; ++k) {
      pb::ConsensusMessage m = NilVote(k % 2 ? VoteType::kPrecommit : VoteType::kPrevote,
                                       static_cast<int32_t>(n_.rng() % limits::kConsensusRoundsAheadMax));
      m.mutable_vote()->set_height(n_.engine->height() + 1);
      Resign(*m.mutable_vote());
      sim_.RecordByzantinePrevote(m.vote());
      sim_.SendAll(n_.index, m);
    }
  }

  // kSyncLiar: besides claiming a huge height (ClaimedHeight), sends a vote from far in the future
  // (a hint that it is ahead), and answers sync requests with nothing (stall), blocks whose body
  // does not match their header, blocks of the wrong height, or blocks without a valid commit.
  void AdvertiseHugeHeight() {
    pb::ConsensusMessage m = NilVote(VoteType::kPrevote, 0);
    m.mutable_vote()->set_height(1000000000);
    m.mutable_vote()->set_signature(RandomBytes(64));
    sim_.SendAll(n_.index, m);
  }
  void SyncLiar(int from, const SyncRequest& req) {
    if (sync_lie_ == 0) return;  // stall
    SyncResponse r;
    const int64_t first = sync_lie_ == 2 ? req.from_height + 3 : req.from_height;
    for (int64_t h = first; h >= 1 && h <= n_.height() && h < first + kSyncBatch; ++h) {
      pb::Block b = n_.blocks[static_cast<size_t>(h - 1)];
      pb::Commit c = n_.commits[static_cast<size_t>(h - 1)];
      if (sync_lie_ == 1) b.add_txs("served-wrong-" + std::to_string(n_.rng()));
      if (sync_lie_ == 3) c.clear_signatures();
      r.blocks.emplace_back(std::move(b), std::move(c));
    }
    if (r.blocks.empty()) {  // nothing real to distort: invent a block
      pb::Block b = sim_.CreateBlockFor(n_, n_.height() + 1);
      b.mutable_header()->set_height(req.from_height);
      r.blocks.emplace_back(std::move(b), pb::Commit());
    }
    sim_.Send(n_.index, from, std::move(r));
  }

  // kEdgeTime: block time is BFT time, so the proposer cannot choose it: it tries anyway (a header
  // time one off the median, the least the old rules allowed, or extreme), and stamps its own
  // votes at extreme times to drag the median of the commits it signs. The checks hold every
  // decided block's time within the honest stamps of its last commit.
  void EdgeTime(pb::Block& b) {
    const int64_t bft = b.header().time_ms();
    const int64_t prev = n_.blocks.empty() ? 0 : n_.blocks.back().header().time_ms();
    const int64_t choices[] = {bft, bft + 1, bft - 1, prev + 1, INT64_MAX / 2, 0};
    b.mutable_header()->set_time_ms(choices[n_.rng() % 6]);
  }
  int64_t EdgeStamp(int64_t ts) {
    const int64_t choices[] = {ts, INT64_MIN, INT64_MAX, 0, ts + 3600000};
    return choices[n_.rng() % 5];
  }

  pb::ConsensusMessage NilVote(VoteType type, int32_t round) {
    pb::ConsensusMessage m;
    pb::Vote* v = m.mutable_vote();
    v->set_type(static_cast<int32_t>(type));
    v->set_height(n_.engine->height());
    v->set_round(round);
    v->set_timestamp_ms(sim_.now());
    v->set_validator_address(n_.address);
    return m;
  }
  void Resign(pb::Vote& v) {
    v.set_signature(Raw(VoteSignBytes(kChain, static_cast<VoteType>(v.type()), v.height(), v.round(), v.block_id(),
                                      v.timestamp_ms()), 0)->signature);
  }
  void Resign(pb::Proposal& p) {
    const std::string id = HashString(BlockId(p.block().header()));
    p.set_signature(Raw(ProposalSignBytes(kChain, p.height(), p.round(), p.pol_round(), id, p.timestamp_ms()), 0)->signature);
  }
  static void Rehash(pb::Block& b) {
    std::vector<std::string> txs(b.txs().begin(), b.txs().end());
    b.mutable_header()->set_data_hash(HashString(MerkleRoot(txs)));
  }
  Result<SignedMessage> Raw(const std::string& bytes, int64_t ts) {
    Signature s = n_.key.Sign(AsBytes(bytes));
    return SignedMessage{std::string(s.begin(), s.end()), ts};
  }
  std::string RandomBytes(size_t size) {
    std::string id(size, '\0');
    for (auto& c : id) c = static_cast<char>(n_.rng() & 0xff);
    return id;
  }
  std::string RandomId() { return RandomBytes(32); }

  std::set<int> withhold_from_;
  int withhold_kind_ = 0;
  int sync_lie_ = 0;
};

}  // namespace

std::unique_ptr<SimEnv> MakeEnv(Sim& sim, Node& n) {
  if (n.byzantine) return std::make_unique<ByzantineEnv>(sim, n);
  return std::make_unique<HonestEnv>(sim, n);
}

}  // namespace v2g::sim
