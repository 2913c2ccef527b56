#include "node/bft/bft.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "common/bytes.h"
#include "consensus/block.h"
#include "contracts/state.h"
#include "node/log.h"
#include "node/p2p/p2p.h"

namespace v2g {
BftEngine::BftEngine(BftConfig config, Chain& chain, Store& store, Mempool& mempool, Signer* signer,
                     const Clock& clock, ConsensusNetwork& net)
    : config_(std::move(config)), chain_(chain), store_(store), mempool_(mempool), signer_(signer), clock_(clock),
      net_(net),
      inbox_(InboxLimits{.peer_bytes_max = config_.inbox_peer_bytes_max,
                         .total_bytes_max = config_.inbox_bytes_max,
                         .message_bytes_max = config_.inbox_message_bytes_max,
                         .back_pressure = true}) {}

BftEngine::~BftEngine() { Stop(); }

Status BftEngine::Start() {
  V2G_ASSERT(!stepped_);
  V2G_RETURN_IF_ERROR(Open());
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

Status BftEngine::StartStepped() {
  V2G_ASSERT(!thread_.joinable());
  stepped_ = true;
  return Open();
}

bool BftEngine::Advance() {
  std::lock_guard<std::mutex> elock(engine_mu_);
  HandleQueued();
  HandleTimers();
  std::lock_guard<std::mutex> lock(mu_);
  return !inbox_.empty() || !events_.empty();
}

Status BftEngine::Open() {
  auto file = config_.wal_file ? config_.wal_file() : OpenWalFile(config_.wal_path);
  if (!file.ok()) return file.status();
  auto wal = Wal::Open(std::move(*file));
  if (!wal.ok()) return wal.status();
  wal_ = std::move(*wal);
  my_address_ = config_.my_address;
  engine_ = std::make_unique<TendermintEngine>(config_.chain_id, my_address_, config_.timeouts,
                                               static_cast<EngineEnv&>(*this));
  const int64_t next = chain_.Tip().height + 1;
  const auto& recovered = wal_->recovered();
  const bool replay = !recovered.empty() && recovered[0].rec_case() == pb::WalRecord::kHeight &&
                      recovered[0].height() == next && !Halted(next);
  std::lock_guard<std::mutex> lock(engine_mu_);
  if (replay) {
    // Rejoin the height we were in: the engine rebuilds its rounds, lock and votes from the
    // logged inputs; our own logged messages are re-signed identically or refused by the signer.
    std::vector<pb::WalRecord> records(recovered.begin() + 1, recovered.end());
    for (const auto& rec : records) {
      if (rec.has_message()) {
        recovered_signatures_.insert(rec.message().has_vote() ? rec.message().vote().signature()
                                                              : rec.message().proposal().signature());
      }
    }
    replaying_ = true;
    StartEngineHeight(next);
    for (const auto& rec : records) {
      if (rec.has_message()) {
        engine_->HandleMessage(rec.message());
      } else if (rec.has_timeout()) {
        logged_timeouts_.emplace(rec.timeout().height(), rec.timeout().round(), rec.timeout().step());
        engine_->HandleTimeout({rec.timeout().height(), rec.timeout().round(), static_cast<Step>(rec.timeout().step())});
      }
    }
    replaying_ = false;
    recovered_signatures_.clear();
    spdlog::info("consensus: replayed {} WAL records of height {}; at round {}", records.size(), next, engine_->round());
  } else {
    // Start the height from the consensus thread, which also honours create_empty_blocks.
    next_height_pending_ = true;
    next_height_at_ = waiting_since_ = Mono();
  }
  next_status_at_ = Mono();
  return Status::Ok();
}

void BftEngine::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

ConsensusInfo BftEngine::Info() const {
  std::lock_guard<std::mutex> lock(engine_mu_);
  if (!engine_) return {};
  return {engine_->height(), engine_->round(), std::string(StepName(engine_->Info().step))};
}

EngineInfo BftEngine::Detail() const {
  std::lock_guard<std::mutex> lock(engine_mu_);
  return engine_ ? engine_->Info() : EngineInfo{};
}

std::vector<pb::DuplicateVoteEvidence> BftEngine::PendingEvidence() const {
  std::lock_guard<std::mutex> lock(engine_mu_);
  std::vector<pb::DuplicateVoteEvidence> out;
  for (const auto& [k, ev] : evidence_) out.push_back(ev);
  return out;
}

int64_t BftEngine::MaxPeerHeight() const {
  std::lock_guard<std::mutex> lock(engine_mu_);
  int64_t h = 0;
  for (const auto& [p, sp] : sync_peers_) {
    if (sp.failures == 0) h = std::max(h, sp.claimed_height);  // a peer that lied or stalled is not believed
  }
  return h;
}

InboxStats BftEngine::Inbox() const {
  std::lock_guard<std::mutex> lock(mu_);
  return inbox_.stats();
}

InboxPeerStats BftEngine::InboxPeer(const PublicKey& peer) const {
  std::lock_guard<std::mutex> lock(mu_);
  return inbox_.peer(peer);
}

// Peer (dis)connections: small and few (bounded by the allowed set and the handshake limits), so
// a bounded FIFO of their own, taken before the peers' messages.
void BftEngine::Post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (events_.size() >= limits::kConsensusEventsMax) return;
    events_.push_back(std::move(fn));
  }
  cv_.notify_one();
}

int64_t BftEngine::NextWake() const {
  std::lock_guard<std::mutex> elock(engine_mu_);
  auto wake = next_status_at_;
  if (!timers_.empty()) wake = std::min(wake, timers_.begin()->first);
  if (next_height_pending_) wake = std::min(wake, next_height_at_);
  return wake;
}

void BftEngine::Run() {
  while (true) {
    const auto wake = NextWake();  // only this thread changes the timers
    {
      std::unique_lock<std::mutex> lock(mu_);
      const int64_t wait_ms = std::max<int64_t>(0, wake - Mono());
      cv_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                   [&] { return stop_ || !inbox_.empty() || !events_.empty(); });
      if (stop_) return;
    }
    std::lock_guard<std::mutex> elock(engine_mu_);
    HandleQueued();
    HandleTimers();
  }
}

// The queued events, then up to kConsensusBatchMax peer messages, one at a time in the inbox's
// round-robin order, so a long queue delays the timers by a bounded number of messages. A peer
// whose reads were paused is resumed as soon as the message taken makes room for it.
void BftEngine::HandleQueued() {
  std::deque<std::function<void()>> events;
  {
    std::lock_guard<std::mutex> lock(mu_);
    events.swap(events_);
  }
  for (auto& fn : events) fn();
  for (size_t i = 0; i < limits::kConsensusBatchMax; ++i) {
    std::optional<InboxMessage> m;
    std::vector<PublicKey> resume;
    {
      std::lock_guard<std::mutex> lock(mu_);
      m = inbox_.Pop();
      resume = inbox_.TakeResumable();
    }
    for (const PublicKey& peer : resume) net_.ResumeReads(peer);
    if (!m) return;
    Dispatch(*m);
  }
}

void BftEngine::Dispatch(const InboxMessage& m) {
  log::SetConsensus(engine_->height(), engine_->round());
  const log::PeerScope log_peer(m.from);
  switch (m.channel) {
    case kChannelConsensus:
      HandleConsensus(m.from, m.payload);
      break;
    case kChannelBlockSync:
      HandleSync(m.from, m.payload);
      break;
    case kChannelEvidence:
      HandleEvidence(m.payload);
      break;
    default:
      V2G_ASSERT(false);  // OnPeerMessage queues only these
  }
  NoteStep();
}

void BftEngine::NoteStep() {
  if (!engine_) return;
  const int64_t height = engine_->height();
  const int32_t round = engine_->round();
  const Step step = engine_->step();
  const size_t index = next_height_pending_       ? 3
                       : step == Step::kPrevote   ? 1
                       : step == Step::kPrecommit ? 2
                                                  : 0;
  if (height == step_height_ && round == step_round_ && index == step_index_) return;
  log::SetConsensus(height, round);
  const int64_t now = Mono();
  if (step_height_ >= 0) metrics_.step_us[step_index_].Observe((now - step_since_ms_) * 1000);
  if (index == 3 && (step_index_ != 3 || height != step_height_)) {
    metrics_.rounds_extra.Inc(static_cast<uint64_t>(std::max<int32_t>(round, 0)));
  }
  step_height_ = height;
  step_round_ = round;
  step_index_ = index;
  step_since_ms_ = now;
}

void BftEngine::HandleTimers() {
  const auto now = Mono();
  while (!timers_.empty() && timers_.begin()->first <= now) {
    TimeoutEvent t = timers_.begin()->second;
    timers_.erase(timers_.begin());
    if (halted_) continue;  // the engine acts on nothing any more (see HandleConsensus)
    log::SetConsensus(engine_->height(), engine_->round());
    // Ticks only re-send; they carry no state worth replaying. A timer of an earlier height (still
    // armed when that height was decided) is dropped unlogged; a timeout the WAL holds already (its
    // timer was armed again by the replay after a restart) is not logged twice.
    if (t.step != Step::kTick) {
      if (t.height != engine_->height()) continue;
      if (logged_timeouts_.emplace(t.height, t.round, static_cast<int>(t.step)).second) {
        pb::WalRecord rec;
        rec.mutable_timeout()->set_height(t.height);
        rec.mutable_timeout()->set_round(t.round);
        rec.mutable_timeout()->set_step(static_cast<int32_t>(t.step));
        WalAppend(rec, false);
      }
    }
    engine_->HandleTimeout(t);
    NoteStep();
  }
  if (next_height_pending_ && now >= next_height_at_) StartNextHeight();
  NoteStep();
  if (now >= next_status_at_) {
    next_status_at_ = now + kSyncStatusIntervalMs;
    pb::BlockSyncMessage m;
    m.mutable_status()->set_height(chain_.Tip().height);
    net_.Broadcast(kChannelBlockSync, Encode(m));
    MaybeRequestBlocks();
  }
}

void BftEngine::StartNextHeight() {
  const int64_t next = chain_.Tip().height + 1;
  if (engine_->height() >= next) {  // block sync got there first
    next_height_pending_ = false;
    return;
  }
  if (Halted(next)) {
    next_height_pending_ = false;  // for good: nothing but a restart on another version moves on
    return;
  }
  if (next == 1) {
    // As CometBFT: the chain starts at genesis time, not before. Block 1 is stamped genesis + 1 ms
    // and later blocks the validators' clocks; started early, block time would run ahead of them.
    const int64_t wait_ms = chain_.Tip().time_ms - clock_.NowMs();
    if (wait_ms > 0) {
      if (!genesis_wait_logged_) spdlog::info("consensus: waiting {} ms for genesis time", wait_ms);
      genesis_wait_logged_ = true;
      next_height_at_ = Mono() + std::min<int64_t>(wait_ms, 100);
      return;
    }
  }
  if (!config_.create_empty_blocks && mempool_.Stats().txs == 0 &&
      Mono() - waiting_since_ < kEmptyBlockIntervalMs) {
    next_height_at_ = Mono() + 50;  // look again shortly
    return;
  }
  next_height_pending_ = false;
  WalStartHeight(next);
  PruneEvidence(next);
  log::SetConsensus(next, 0);
  StartEngineHeight(next);
}

bool BftEngine::Halted(int64_t height) {
  if (halted_) return true;
  if (!config_.halt_before) return false;
  std::optional<std::string> why = config_.halt_before(height);
  if (!why) return false;
  halted_ = true;
  spdlog::critical("consensus: stopped before height {}: {}", height, *why);
  std::lock_guard<std::mutex> lock(halt_mu_);
  halt_reason_ = std::move(*why);
  return true;
}

// Drops pending evidence that is on chain now, or too old for a block at `height` to carry (else
// evidence minted with old keys would fill the pool for good and crowd out real equivocations).
void BftEngine::PruneEvidence(int64_t height) {
  for (auto it = evidence_.begin(); it != evidence_.end();) {
    const bool stale = height - it->second.vote_a().height() > limits::kEvidenceMaxAgeHeights;
    it = stale || store_.state().Get(it->first) ? evidence_.erase(it) : std::next(it);
  }
}

// With the sets of the height and the next one (known: a change takes effect two heights after
// its block).
void BftEngine::StartEngineHeight(int64_t height) {
  const pb::ValidatorSet vals = chain_.ValidatorsAt(height);
  if (config_.before_height) config_.before_height(height, vals);
  // The validator this node is: the one whose record holds the signer's key (an added validator's
  // address is its key's; a rotated one keeps its address, which a node that restarted with only
  // its new key learns here, as it syncs to the rotation). When this validator's record holds
  // another key (a rotation whose new key the node does not have), it signs nothing: votes with a
  // key the set does not hold would count for nothing anyway.
  if (signer_ != nullptr) {
    const PublicKey k = signer_->public_key();
    const std::string key(k.begin(), k.end());
    std::string address;
    bool mine_moved = false;
    for (const auto& v : vals.validators()) {
      if (v.consensus_pubkey() == key) address = v.address();
      if (!my_address_.empty() && v.address() == my_address_ && v.consensus_pubkey() != key)
        mine_moved = true;
    }
    if (!address.empty() && address != my_address_) {
      spdlog::info("consensus: from height {} this node signs as validator {}", height,
                   EncodeAddress(*AddressFromBytes(address)));
      my_address_ = address;
      engine_->SetMyAddress(my_address_);
    } else if (address.empty() && mine_moved) {
      spdlog::error(
          "consensus: at height {} the validator set holds another consensus key for {} than this "
          "node's signer ({}): not signing (a rotation whose new key is not in "
          "keys/validator_key.next.json?)",
          height, EncodeAddress(*AddressFromBytes(my_address_)), HexEncode(key));
      my_address_.clear();
      engine_->SetMyAddress(my_address_);
    }
  }
  engine_->StartHeight(height, vals, chain_.ValidatorsAt(height + 1));
}

// The engine moves to the next height whether or not the WAL could be reset for it: a node whose
// WAL fails stops signing (WalFailed) but keeps following the chain, so the engine is never left at
// a height the chain has passed (where it would build a block for a committed height).
void BftEngine::WalStartHeight(int64_t height) {
  logged_timeouts_.clear();
  if (wal_failed_) return;
  if (Status st = wal_->StartHeight(height); !st.ok()) {
    WalFailed(st.ToString() + " (starting height " + std::to_string(height) + ")");
  }
}

// Every input that led the engine to this signature is made durable before the signer saves it:
// after a crash between the signer's save and the WAL append, replay reaches the same vote and the
// signer re-signs it identically. (With the inputs lost, the replayed engine could want another
// value at that step, which the signer refuses: the node stayed silent there and a height that
// needed its power halted; found by the simulation.) Replayed inputs are on disk already.
bool BftEngine::WalSyncBeforeSigning() {
  if (wal_failed_) return false;
  if (replaying_) return true;
  const auto started = std::chrono::steady_clock::now();
  if (Status st = wal_->Sync(); !st.ok()) {
    WalFailed(st.ToString());
    return false;
  }
  metrics_.wal_sync_us.Observe(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now() - started)
                                   .count());
  return true;
}

bool BftEngine::WalAppend(const pb::WalRecord& rec, bool sync) {
  if (wal_failed_) return false;
  const auto started = std::chrono::steady_clock::now();
  if (Status st = wal_->Append(rec, sync); !st.ok()) {
    WalFailed(st.ToString());
    return false;
  }
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started);
  (sync ? metrics_.wal_sync_us : metrics_.wal_append_us).Observe(us.count());
  return true;
}

void BftEngine::WalFailed(const std::string& why) {
  // A node that cannot make its inputs and votes durable could contradict itself after a crash:
  // it stops signing (and sending) until an operator restarts it on a working disk.
  if (wal_failed_.exchange(true)) return;
  spdlog::critical("consensus: {}: storage is failing; this validator has STOPPED SIGNING until it "
                   "is restarted on a working disk",
                   why);
  if (on_storage_failure_) on_storage_failure_(why);
}

// ---------------------------------------------------------------- EngineEnv

int64_t BftEngine::NowMs() { return clock_.NowMs(); }

pb::Block BftEngine::CreateBlock(int64_t height) {
  const ChainTip tip = chain_.Tip();
  V2G_ASSERT(height == tip.height + 1);
  pb::Commit last_commit;
  if (tip.height > 0) {
    auto c = store_.LoadCommit(tip.height);
    V2G_ASSERT(c.has_value());
    last_commit = *c;
  }
  std::vector<pb::DuplicateVoteEvidence> evidence;
  for (const auto& [k, ev] : evidence_) {
    const int64_t age = height - ev.vote_a().height();
    if (age > 0 && age <= limits::kEvidenceMaxAgeHeights && !store_.state().Get(k))
      evidence.push_back(ev);
  }
  // The last commit was signed by the set of its own height.
  return chain_.Propose(BftTime(tip, last_commit, chain_.ValidatorsAt(tip.height)), my_address_,
                        last_commit, evidence);
}

// Block time is BFT time (consensus/block.h), fixed by the last commit: the verdict never
// depends on this node's clock, so the engine may cache it for the height.
Status BftEngine::ValidateBlock(const pb::Block& block) { return chain_.Validate(block); }

Result<SignedMessage> BftEngine::SignVote(VoteType type, int64_t height, int32_t round, const std::string& block_id,
                                          int64_t timestamp_ms) {
  if (!signer_ || !WalSyncBeforeSigning()) return Error(Code::kUnavailable, "not signing");
  auto s = signer_->SignVote(type, height, round, block_id, timestamp_ms);
  if (!s.ok() && s.status().code() == Code::kIo) {
    WalFailed("cannot save the signer's state: " + s.status().message());
    return s.status();
  }
  if (!s.ok()) {
    spdlog::warn("consensus: signer refused a vote: {}", s.status().message());
    return s.status();
  }
  return SignedMessage{std::string(s->signature.begin(), s->signature.end()), s->timestamp_ms};
}

Result<SignedMessage> BftEngine::SignProposal(int64_t height, int32_t round, int32_t pol_round,
                                              const std::string& block_id, int64_t timestamp_ms) {
  if (!signer_ || !WalSyncBeforeSigning()) return Error(Code::kUnavailable, "not signing");
  auto s = signer_->SignProposal(height, round, pol_round, block_id, timestamp_ms);
  if (!s.ok() && s.status().code() == Code::kIo) {
    WalFailed("cannot save the signer's state: " + s.status().message());
    return s.status();
  }
  if (!s.ok()) {
    spdlog::warn("consensus: signer refused a proposal: {}", s.status().message());
    return s.status();
  }
  return SignedMessage{std::string(s->signature.begin(), s->signature.end()), s->timestamp_ms};
}

bool BftEngine::Broadcast(const pb::ConsensusMessage& msg) {
  // Our own messages are durable in the WAL before they leave: after a crash we replay them. The
  // sync also covers every input persisted before (same file, in order): what caused this message
  // is on disk before the message is on the wire. While replaying, the WAL has it already, unless
  // the crash fell between logging its inputs and logging it.
  const std::string& sig = msg.has_vote() ? msg.vote().signature() : msg.proposal().signature();
  if (!replaying_ || !recovered_signatures_.count(sig)) {
    pb::WalRecord rec;
    *rec.mutable_message() = msg;
    if (!WalAppend(rec, true)) return false;
  }
  net_.Broadcast(kChannelConsensus, Encode(msg));
  return true;
}

void BftEngine::Persist(const pb::ConsensusMessage& input) {
  if (replaying_) return;
  pb::WalRecord rec;
  *rec.mutable_message() = input;
  WalAppend(rec, false);  // synced by the next Broadcast, before any effect of it leaves
}

void BftEngine::Relay(const pb::ConsensusMessage& msg) { net_.Broadcast(kChannelConsensus, Encode(msg)); }

void BftEngine::ScheduleTimeout(const TimeoutEvent& t, int64_t delay_ms) {
  timers_.emplace(Mono() + delay_ms, t);
}

void BftEngine::Decide(const pb::Block& block, const pb::Commit& commit) {
  // As CometBFT's timeout_commit: the pause runs from the decision, so executing and storing the
  // block overlap it instead of adding to every block's time.
  const int64_t decided_at = Mono();
  Status st = chain_.Commit(block, commit, /*commit_verified=*/true);
  if (st.code() == Code::kIo) {
    WalFailed("cannot commit decided block " + std::to_string(block.header().height()) + ": " + st.ToString());
    return;
  }
  if (!st.ok()) {
    // The block was valid when we voted: failing now is no disk trouble but a bug (this node's
    // state differs from the network's). Stop signing, and do not call it a storage failure: a
    // restart would not cure it, and exit 74 would hide it.
    spdlog::critical("consensus: cannot apply decided block {}: {}; this node's state differs from the network's; "
                     "it has STOPPED SIGNING (a bug: keep its data folder for the report)",
                     block.header().height(), st.ToString());
    wal_failed_ = true;
    diverged_ = true;  // block sync would fetch it again, fail alike and blame honest peers
    return;
  }
  next_height_pending_ = true;
  next_height_at_ = decided_at + config_.block_interval_ms;
  waiting_since_ = Mono();
}

void BftEngine::OnEvidence(const pb::DuplicateVoteEvidence& ev) {
  spdlog::warn("consensus: validator {} equivocated at height {} round {}",
               EncodeAddress(*AddressFromBytes(ev.vote_a().validator_address())), ev.vote_a().height(),
               ev.vote_a().round());
  AddEvidence(ev, true);
}

void BftEngine::AddEvidence(const pb::DuplicateVoteEvidence& ev, bool gossip) {
  std::string key = EvidenceKey(ev.vote_a());
  if (evidence_.count(key) || evidence_.size() >= kEvidencePoolMax || store_.state().Get(key)) return;
  evidence_.emplace(key, ev);
  if (gossip) net_.Broadcast(kChannelEvidence, Encode(ev));
}

// ---------------------------------------------------------------- peers

ReadFlow BftEngine::OnPeerMessage(const PublicKey& from, uint8_t channel, std::string payload) {
  if (channel != kChannelConsensus && channel != kChannelBlockSync && channel != kChannelEvidence) {
    return ReadFlow::kContinue;  // txs go to the TxRelay; unknown channels are ignored
  }
  PeerInbox::Verdict verdict;
  {
    std::lock_guard<std::mutex> lock(mu_);
    verdict = inbox_.Push(InboxMessage{from, channel, std::move(payload)});
  }
  if (verdict == PeerInbox::Verdict::kQueued || verdict == PeerInbox::Verdict::kQueuedPause) cv_.notify_one();
  // An untracked peer's message was dropped with no pause to lift later: pausing it would be for good.
  return verdict == PeerInbox::Verdict::kQueued || verdict == PeerInbox::Verdict::kDroppedUntracked
             ? ReadFlow::kContinue
             : ReadFlow::kPause;
}

void BftEngine::OnPeerConnected(const PublicKey& peer) {
  Post([this, peer] {
    pb::BlockSyncMessage m;
    m.mutable_status()->set_height(chain_.Tip().height);
    net_.Send(peer, kChannelBlockSync, Encode(m));
  });
}

void BftEngine::OnPeerDisconnected(const PublicKey& peer) {
  // Called after the connection's last message: what it still has queued is dropped now, so
  // nothing of it (a height claim, say) is handled after the disconnect is, and its reservation
  // and pause go with it.
  {
    std::lock_guard<std::mutex> lock(mu_);
    inbox_.Forget(peer);
  }
  // Its failures are kept (bounded by kSyncPeersMax): reconnecting does not wipe a bad record.
  Post([this, peer] {
    if (auto it = sync_peers_.find(peer); it != sync_peers_.end()) it->second.claimed_height = 0;
  });
}

void BftEngine::HandleConsensus(const PublicKey& from, const std::string& payload) {
  pb::ConsensusMessage msg;
  if (!msg.ParseFromString(payload) || (!msg.has_proposal() && !msg.has_vote())) return;  // garbage: drop
  const int64_t h = msg.has_proposal() ? msg.proposal().height() : msg.vote().height();
  const int64_t tip = chain_.Tip().height;
  if (h > tip + 1) {  // the sender says it is ahead of us: fetch what we miss
    // Unverified: only a hint that it has the next block, never a height to aim for.
    NoteClaimedHeight(from, tip + 1);
    MaybeRequestBlocks();
  }
  if (h < tip + 1 || h > tip + 2) return;  // old, or too far ahead to buffer
  // A proposal for the next height means the network moved on: don't wait for a tx of our own.
  if (next_height_pending_ && h == tip + 1 && msg.has_proposal()) waiting_since_ = Mono() - kEmptyBlockIntervalMs;
  // Halted: the engine may still be at a height block sync completed; it must not act on it.
  if (halted_) return;
  // The engine persists what it accepts (EngineEnv::Persist), whenever it accepts it: also the
  // messages it held for the next height and replays when that height starts.
  engine_->HandleMessage(msg);
}

void BftEngine::NoteClaimedHeight(const PublicKey& peer, int64_t height) {
  auto it = sync_peers_.find(peer);
  if (it == sync_peers_.end()) {
    if (sync_peers_.size() >= kSyncPeersMax) return;
    it = sync_peers_.emplace(peer, SyncPeer{}).first;
  }
  it->second.claimed_height = std::max(it->second.claimed_height, height);
}

// Among the peers that claim to be ahead and are not serving a penalty, the next one after the
// peer asked last (round-robin, not "the highest claim": a claim costs nothing to make). None
// when all of them are penalised: they are asked again when their penalties end.
const PublicKey* BftEngine::PickSyncPeer(int64_t tip, int64_t now) const {
  const PublicKey* first_ready = nullptr;
  for (const auto& [peer, sp] : sync_peers_) {
    if (sp.claimed_height <= tip || sp.retry_at > now) continue;
    if (last_asked_ < peer) return &peer;
    if (!first_ready) first_ready = &peer;
  }
  return first_ready;
}

void BftEngine::PenalizeSyncPeer(const PublicKey& peer, const std::string& why) {
  const log::PeerScope log_peer(peer);
  auto it = sync_peers_.find(peer);
  if (it == sync_peers_.end()) return;
  SyncPeer& sp = it->second;
  sync_penalties_.fetch_add(1);
  sp.failures = std::min(sp.failures + 1, 16);
  const int64_t penalty_ms = std::min(kSyncPeerPenaltyMsMax, kSyncPeerPenaltyMsMin << std::min(sp.failures - 1, 10));
  sp.retry_at = Mono() + penalty_ms;
  spdlog::warn("block sync: peer {}: {}; not asked again for {} ms", HexEncode(ByteView(peer.data(), 8)), why, penalty_ms);
}

void BftEngine::MaybeRequestBlocks() {
  if (diverged_ || halted_) return;
  const int64_t tip = chain_.Tip().height;
  const auto now = Mono();
  if (sync_height_ != tip + 1) {  // a new height to fetch
    sync_height_ = tip + 1;
    sync_asked_.clear();
    sync_retries_ = 0;
    sync_request_.reset();
  }
  if (sync_request_) {
    if (now < sync_request_->deadline) return;  // one request outstanding
    PenalizeSyncPeer(sync_request_->peer, "no answer to the request for block " + std::to_string(sync_request_->height));
    sync_request_.reset();
    sync_retries_ = std::min(sync_retries_ + 1, 7);
  }
  const PublicKey* peer = PickSyncPeer(tip, now);
  if (!peer) return;
  pb::BlockSyncMessage m;
  m.mutable_request()->set_height(tip + 1);
  // Each retry of the same height waits longer: a block that takes long to arrive still does.
  const int64_t timeout_ms = config_.sync_request_timeout_ms * (1 + sync_retries_);
  sync_request_ = SyncRequest{tip + 1, *peer, now + timeout_ms};
  last_asked_ = *peer;
  if (sync_asked_.size() < kSyncPeersMax) sync_asked_.insert(*peer);
  net_.Send(*peer, kChannelBlockSync, Encode(m));
}

void BftEngine::HandleSync(const PublicKey& from, const std::string& payload) {
  pb::BlockSyncMessage m;
  if (!m.ParseFromString(payload)) return;
  if (m.has_status()) {
    if (m.status().height() < 0) return;
    NoteClaimedHeight(from, m.status().height());
    MaybeRequestBlocks();
  } else if (m.has_request()) {
    const int64_t h = m.request().height();
    if (h < 1 || h > chain_.Tip().height) return;
    auto block = store_.LoadBlock(h);
    auto commit = store_.LoadCommit(h);
    if (!block || !commit) return;
    pb::BlockSyncMessage r;
    *r.mutable_response()->mutable_block() = std::move(*block);
    *r.mutable_response()->mutable_commit() = std::move(*commit);
    net_.Send(from, kChannelBlockSync, Encode(r));
  } else if (m.has_response()) {
    HandleSyncResponse(from, m);
  }
}

// Only answers from peers asked for the height we need are considered: an unasked peer cannot
// make us validate blocks. A late answer (a block we have by now) is no fault; a block of another
// height, or one that does not verify, is, and the peer is penalised.
void BftEngine::HandleSyncResponse(const PublicKey& from, const pb::BlockSyncMessage& m) {
  if (diverged_) return;
  const pb::Block& block = m.response().block();
  const int64_t tip = chain_.Tip().height;
  const int64_t h = block.header().height();
  if (h <= tip) return;  // late or repeated: we have it already
  if (sync_height_ != tip + 1 || !sync_asked_.count(from)) return;  // not asked for it
  // One answer per ask: a wrong one is penalised and the peer is no longer among those asked, so
  // a burst of lies costs one validation, not one per lie.
  auto reject = [&](const std::string& why) {
    PenalizeSyncPeer(from, why);
    sync_asked_.erase(from);
    if (sync_request_ && sync_request_->peer == from) sync_request_.reset();
    MaybeRequestBlocks();
  };
  if (h != tip + 1) {
    return reject("answered with block " + std::to_string(h) + " for a request of " + std::to_string(tip + 1));
  }
  if (Halted(h)) {  // the block may well be valid: this node may not run it (not the peer's fault)
    sync_request_.reset();
    return;
  }
  // The commit is checked against the validator set inside Chain::Commit: a peer cannot make us
  // apply a block that more than 2/3 of the voting power did not sign.
  Status st = chain_.Commit(block, m.response().commit(), /*commit_verified=*/false);
  if (st.code() == Code::kIo) {
    // Our disk, not the peer's answer: the block is not held against it.
    sync_request_.reset();
    WalFailed("cannot commit synced block " + std::to_string(h) + ": " + st.ToString());
    return;
  }
  if (!st.ok()) return reject("served an invalid block " + std::to_string(h) + ": " + st.ToString());
  sync_request_.reset();
  sync_peers_[from].failures = 0;
  metrics_.blocks_synced.Inc();
  spdlog::info("block sync: applied block {}", h);
  next_height_pending_ = false;
  if (Halted(tip + 2)) return;  // the next height is one this node may not run: stop here
  WalStartHeight(tip + 2);
  PruneEvidence(tip + 2);
  StartEngineHeight(tip + 2);
  MaybeRequestBlocks();
}

void BftEngine::HandleEvidence(const std::string& payload) {
  pb::DuplicateVoteEvidence ev;
  if (!ev.ParseFromString(payload)) return;
  // Against the set of the votes' height (a committed one).
  const int64_t next = chain_.Tip().height + 1;
  const int64_t at = ev.vote_a().height();
  if (at < 1 || at >= next || next - at > limits::kEvidenceMaxAgeHeights) return;
  if (!ValidateEvidence(config_.chain_id, chain_.ValidatorsAt(at), ev, next).ok()) return;
  AddEvidence(ev, true);
}

}  // namespace v2g
