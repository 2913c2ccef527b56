// BftEngine: runs the Tendermint engine (consensus/tendermint.h) for a node. It owns the consensus
// thread, the timers, the consensus WAL, the evidence pool and block sync, and talks to peers
// through a ConsensusNetwork (the P2P layer in the node, an in-memory fake in tests).
//
// Threads: every engine call happens on the consensus thread. Peer messages arrive on the P2P
// thread and are queued to it in a PeerInbox (node/p2p/inbox.h): bounded in bytes per peer and in
// all, taken round-robin over peers, with back-pressure (a peer over its share has its reads paused
// until the consensus thread has made room). Info() and the pool snapshots may be read from any
// thread. Txs are not handled here: node.cc hands the mempool channel to a TxRelay.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "consensus/tendermint.h"
#include "node/bft/engine.h"
#include "node/bft/signer.h"
#include "node/chain.h"
#include "node/metrics.h"
#include "node/p2p/inbox.h"
#include "node/p2p/p2p.h"
#include "node/store/wal.h"

namespace v2g {

class ConsensusNetwork {
 public:
  virtual ~ConsensusNetwork() = default;
  virtual void Broadcast(uint8_t channel, std::string payload) = 0;
  virtual bool Send(const PublicKey& peer, uint8_t channel, std::string payload) = 0;
  // The engine has room again for a peer whose message it answered with ReadFlow::kPause. Called
  // from the consensus thread; the default (a network without back-pressure) does nothing.
  virtual void ResumeReads(const PublicKey& peer) { (void)peer; }
};

struct BftConfig {
  std::string chain_id;
  std::string my_address;  // raw 20-byte validator address; empty for a node that only follows
  EngineTimeouts timeouts;
  int64_t block_interval_ms = 1000;  // from a decision to the next height (execution overlaps it)
  bool create_empty_blocks = true;   // false: the next height waits for a tx (or a peer's proposal)
  std::string wal_path;
  // When set, the WAL lives here instead of at wal_path (the simulation's disk).
  std::function<Result<std::unique_ptr<WalFile>>()> wal_file;
  // A block request with no answer after this long counts against the peer asked, and the next
  // request goes to another peer that is ahead.
  int64_t sync_request_timeout_ms = 2000;
  // The inbound queue toward the consensus thread (common/limits.h says why these numbers); tests
  // shrink them. peer_bytes_max must hold one message of message_bytes_max plus its overhead.
  int64_t inbox_peer_bytes_max = limits::kConsensusInboxPeerBytesMax;
  int64_t inbox_bytes_max = limits::kConsensusInboxBytesMax;
  int64_t inbox_message_bytes_max = limits::kPeerMessageBytesMax;
  // Called on the consensus thread before each height starts, with that height's set (the node
  // switches to a rotated consensus key here: node/node.cc).
  std::function<void(int64_t height, const pb::ValidatorSet& vals)> before_height;
  // Called on the consensus thread before a height is started or a block of it is synced: a reason
  // this node must not run `height` (a software upgrade needs a later version: node/node.cc)
  // halts consensus and block sync there for good (until a restart); nothing lets it go on.
  std::function<std::optional<std::string>(int64_t height)> halt_before;
};

// Pending evidence kept in memory until a block carries it. A Byzantine validator cannot flood
// it: the engine reports at most one piece per validator, round and vote type.
constexpr size_t kEvidencePoolMax = 1000;
// How often the node tells its peers its height (block sync uses it to find who is ahead).
constexpr int64_t kSyncStatusIntervalMs = 1000;
// A peer that did not answer a block request, or answered with a wrong or invalid block, is not
// asked again for a while: first this long, doubling with each further failure up to the max.
// Claimed heights are never trusted: they only say whom to ask; an honest peer that serves the
// blocks is always among those asked in turn.
constexpr int64_t kSyncPeerPenaltyMsMin = 4000;
constexpr int64_t kSyncPeerPenaltyMsMax = 300000;
// Peers tracked for block sync (the allowed peers are far fewer; a bound all the same).
constexpr size_t kSyncPeersMax = 1024;
// With create_empty_blocks = false, an empty height still starts after this long.
constexpr int64_t kEmptyBlockIntervalMs = 30000;

// What the engine measures (GET /metrics, node/node_metrics.cc). Any thread may read it.
struct BftMetrics {
  // Time spent in each step of a height, by the monotonic clock, observed when the step ends:
  // propose, prevote, precommit (the engine's), commit (from the decision to the next height,
  // the block interval). kStepNames in the same order.
  static constexpr std::array<const char*, 4> kStepNames = {"propose", "prevote", "precommit",
                                                            "commit"};
  std::array<metrics::Histogram, 4> step_us{metrics::Histogram(metrics::LatencyBucketsUs()),
                                            metrics::Histogram(metrics::LatencyBucketsUs()),
                                            metrics::Histogram(metrics::LatencyBucketsUs()),
                                            metrics::Histogram(metrics::LatencyBucketsUs())};
  // Rounds a height needed beyond its first (0 when the first proposal was decided).
  metrics::Counter rounds_extra;
  // WAL appends, the synced ones (before a signature leaves) apart.
  metrics::Histogram wal_append_us{metrics::LatencyBucketsUs()};
  metrics::Histogram wal_sync_us{metrics::LatencyBucketsUs()};
  metrics::Counter blocks_synced;  // committed from block sync, not decided here
};

class BftEngine : public ConsensusEngine, public EngineEnv {
 public:
  BftEngine(BftConfig config, Chain& chain, Store& store, Mempool& mempool, Signer* signer, const Clock& clock,
            ConsensusNetwork& net);
  ~BftEngine() override;

  // Opens the WAL, replays it if it belongs to the next height, and starts the consensus thread.
  Status Start() override;
  void Stop() override;
  // Without a thread, for the simulation: StartStepped does what Start does but does not start
  // the thread;
  // then the caller runs Advance whenever it delivered a message (OnPeerMessage) or the clock reached
  // NextWakeMs. Advance handles one batch of queued messages and the due timers, and says whether
  // messages are still queued. Never mixed with Start.
  Status StartStepped();
  bool Advance();
  int64_t NextWakeMs() const { return NextWake(); }
  ConsensusInfo Info() const override;

  // From the P2P layer (any thread; never blocks for long). Consensus, block sync and evidence
  // messages are queued for the consensus thread; kPause means this peer is at its share (or the
  // queue at its total): read nothing more from it until ConsensusNetwork::ResumeReads. A message
  // that does not fit at all (its sender ignored the pause) is dropped. Other channels (txs
  // included) are ignored.
  ReadFlow OnPeerMessage(const PublicKey& from, uint8_t channel, std::string payload);
  void OnPeerConnected(const PublicKey& peer);
  void OnPeerDisconnected(const PublicKey& peer);

  std::vector<pb::DuplicateVoteEvidence> PendingEvidence() const;
  int64_t MaxPeerHeight() const;
  // True once the consensus WAL or the store failed: the node signs nothing more until restarted.
  bool SigningStopped() const { return wal_failed_.load(); }
  // Why consensus and block sync stopped before a height (config halt_before), or empty.
  std::string HaltReason() const {
    std::lock_guard<std::mutex> lock(halt_mu_);
    return halt_reason_;
  }
  // Called once, on the consensus thread, when storage fails (the WAL, the signer's state or a
  // block commit): v2gd stops cleanly with exit code 74 so that its supervisor restarts it once the
  // disk works again (a LevelDB that failed a write refuses every later one until reopened). Set
  // before Start.
  void SetStorageFailureHandler(std::function<void(const std::string&)> f) { on_storage_failure_ = std::move(f); }
  // Block-sync answers that counted against their peer (wrong, invalid or missing), since start.
  int64_t SyncPenalties() const { return sync_penalties_.load(); }
  EngineInfo Detail() const;
  const BftMetrics& metrics() const { return metrics_; }
  // The inbound queue: now and its high-water marks, in all and for one peer.
  InboxStats Inbox() const;
  InboxPeerStats InboxPeer(const PublicKey& peer) const;

 public:
  // EngineEnv: called by the engine on the consensus thread only.
  int64_t NowMs() override;
  pb::Block CreateBlock(int64_t height) override;
  Status ValidateBlock(const pb::Block& block) override;
  Result<SignedMessage> SignVote(VoteType type, int64_t height, int32_t round, const std::string& block_id,
                                 int64_t timestamp_ms) override;
  Result<SignedMessage> SignProposal(int64_t height, int32_t round, int32_t pol_round, const std::string& block_id,
                                     int64_t timestamp_ms) override;
  bool Broadcast(const pb::ConsensusMessage& msg) override;
  void Persist(const pb::ConsensusMessage& input) override;
  void ScheduleTimeout(const TimeoutEvent& t, int64_t delay_ms) override;
  void Decide(const pb::Block& block, const pb::Commit& commit) override;
  void OnEvidence(const pb::DuplicateVoteEvidence& evidence) override;
  void Relay(const pb::ConsensusMessage& msg) override;

 private:
  int64_t Mono() const { return clock_.MonotonicMs(); }
  Status Open();
  void Run();
  void Post(std::function<void()> fn);
  int64_t NextWake() const;
  void HandleQueued();
  void HandleTimers();
  void Dispatch(const InboxMessage& m);
  void StartNextHeight();
  void HandleConsensus(const PublicKey& from, const std::string& payload);
  void HandleSync(const PublicKey& from, const std::string& payload);
  void HandleEvidence(const std::string& payload);
  void MaybeRequestBlocks();
  const PublicKey* PickSyncPeer(int64_t tip, int64_t now) const;
  void PenalizeSyncPeer(const PublicKey& peer, const std::string& why);
  void NoteClaimedHeight(const PublicKey& peer, int64_t height);
  void HandleSyncResponse(const PublicKey& from, const pb::BlockSyncMessage& m);
  void AddEvidence(const pb::DuplicateVoteEvidence& ev, bool gossip);
  // Resets the WAL for a new height; on failure signing stops for good, loudly.
  void WalStartHeight(int64_t height);
  void StartEngineHeight(int64_t height);
  void PruneEvidence(int64_t height);
  std::string my_address_;  // consensus thread; starts as config_.my_address (StartEngineHeight)
  // Syncs the WAL's inputs before the signer saves a signature; false when the disk fails.
  bool WalSyncBeforeSigning();
  // Appends to the WAL; false (and signing stops for good, loudly) when the disk fails.
  bool WalAppend(const pb::WalRecord& rec, bool sync);
  void WalFailed(const std::string& why);
  // After every input the engine handled: ends the step in metrics_ when it changed.
  void NoteStep();

  const BftConfig config_;
  Chain& chain_;
  Store& store_;
  Mempool& mempool_;
  Signer* signer_;
  const Clock& clock_;
  ConsensusNetwork& net_;
  std::unique_ptr<TendermintEngine> engine_;
  std::unique_ptr<Wal> wal_;
  std::atomic<bool> wal_failed_{false};
  // A decided block failed to apply for another reason than I/O: this node's state differs from
  // the network's. It stops signing and asks for no blocks (each would fail alike and count
  // against the honest peer that served it). Consensus thread only.
  bool diverged_ = false;
  // Halted before a height (halt_before said why): no height starts, no block is synced.
  bool Halted(int64_t height);  // consensus thread
  bool halted_ = false;         // consensus thread
  mutable std::mutex halt_mu_;  // guards halt_reason_ (read by the API)
  std::string halt_reason_;
  std::function<void(const std::string&)> on_storage_failure_;
  std::atomic<int64_t> sync_penalties_{0};
  bool replaying_ = false;
  bool stepped_ = false;  // StartStepped: the caller runs Advance, there is no thread
  bool genesis_wait_logged_ = false;  // feeding the WAL back in: nothing is logged again

  // Consensus thread state.
  std::thread thread_;
  mutable std::mutex mu_;         // guards inbox_, events_ and stop_; taken after engine_mu_
  mutable std::mutex engine_mu_;  // held while the engine runs; Info() reads under it
  std::condition_variable cv_;
  PeerInbox inbox_;                          // peer messages
  std::deque<std::function<void()>> events_;  // peer (dis)connections, at most kConsensusEventsMax
  bool stop_ = false;
  std::multimap<int64_t, TimeoutEvent> timers_;  // monotonic ms
  int64_t next_height_at_ = 0;
  bool next_height_pending_ = false;
  int64_t waiting_since_ = 0;
  int64_t next_status_at_ = 0;
  // Block sync: what each peer claims (a hint of whom to ask, never trusted), its failures, and
  // the one request outstanding.
  struct SyncPeer {
    int64_t claimed_height = 0;
    int failures = 0;
    int64_t retry_at = 0;
  };
  struct SyncRequest {
    int64_t height = 0;
    PublicKey peer{};
    int64_t deadline = 0;
  };
  std::map<PublicKey, SyncPeer> sync_peers_;
  std::optional<SyncRequest> sync_request_;
  PublicKey last_asked_{};
  // Everyone asked for sync_height_ so far: a late answer from any of them is still taken (a slow
  // honest peer is not shut out by the timeout), and retries of one height wait longer each time.
  int64_t sync_height_ = 0;
  std::set<PublicKey> sync_asked_;
  int sync_retries_ = 0;
  // Signatures of the messages in the recovered WAL: while replaying, an own message that is not
  // among them (signed after its inputs were logged, before it was) is appended then.
  std::set<std::string> recovered_signatures_;
  // Timeouts of this height in the WAL (replayed or logged): one record each, however often the
  // timer fires (bounded by the height's rounds x 3 steps).
  std::set<std::tuple<int64_t, int32_t, int>> logged_timeouts_;
  // Evidence not yet on chain, keyed by its state key.
  std::map<std::string, pb::DuplicateVoteEvidence> evidence_;

  BftMetrics metrics_;
  // The step being timed (consensus thread): height, round, index into kStepNames, since when.
  int64_t step_height_ = -1;
  int32_t step_round_ = 0;
  size_t step_index_ = 0;
  int64_t step_since_ms_ = 0;
};

}  // namespace v2g
