// Internals of the simulation, shared by sim.cc (the world: clock, network, schedulers, crashes,
// disk, block sync), byzantine.cc (honest and Byzantine validators' envs) and checks.cc (what must
// hold). Single-threaded; every choice comes from the seed's generators.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "common/crypto.h"
#include "consensus/tendermint.h"
#include "node/bft/signer.h"
#include "tests/sim/sim.h"

namespace v2g::sim {

inline const std::string kChain = "v2g-sim";
constexpr int64_t kGstMs = 12000;            // the network is well-behaved from here on
constexpr int64_t kPostGstDelayMaxMs = 50;   // every message's delay after GST...
constexpr int64_t kTargetedDelayAfterGstMs = 150;  // ...except a targeted validator's (< timeouts)
constexpr int64_t kCommitDelayMs = 500;      // pause between deciding and starting the next height
constexpr int64_t kMinProgressAfterGst = 5;  // heights every honest node must add after healing
// Liveness bound: after GST plus kSettleMs (time to catch up by sync), no honest node waits longer
// than this for its next decision. A height with Byzantine proposers in its first rounds costs
// their timeouts (round r: 400 + 100r propose, 2 x (200 + 50r) votes).
constexpr int64_t kSettleMs = 4000;
constexpr int64_t kDecideGapMaxMs = 9000;
constexpr int kSyncBatch = 10;
constexpr int64_t kAnnounceMs = 1000;        // height claims, as the node's status gossip
// No answer within kSyncTimeoutMs x (1 + retries of this height, at most 8): the peer failed, and
// is not asked for kSyncPenaltyMs, doubling per failure up to kSyncPenaltyMaxMs. The node's
// numbers (2 s, 4 s, 5 min) scaled to the simulation's 30 s: honest peers that failed only
// because the network was bad before GST must be asked again soon after it.
constexpr int64_t kSyncTimeoutMs = 600;
constexpr int64_t kSyncPenaltyMs = 500;
constexpr int64_t kSyncPenaltyMaxMs = 4000;
// Memory bound per honest engine (EngineStats): rounds beyond the current one are bounded by the
// engine's lookahead; per round, type and validator at most two arbitrary votes plus nil plus one
// per proposal of the height.
constexpr int64_t kHonestRoundMax = 60;      // a round this high means a round-skip attack worked
// The governance schedule (Sim::PlanSetChanges): a change every kSetChangeGapMin to
// kSetChangeGapMax heights, of up to kSetChangeStepsMax steps (a join, a leave or a re-weight);
// a joining node gets at most kJoinPowerMax, a re-weight stays within 1..kReweightPowerMax (the
// fixed set's powers are 1..20: turns and timeouts stay in the regime the liveness bound was
// measured in).
constexpr int64_t kSetChangeGapMin = 2;
constexpr int64_t kSetChangeGapMax = 6;
constexpr int kSetChangeStepsMax = 3;
constexpr int kSetChangeAttempts = 10;  // draws breaking a rule before the height keeps its set
constexpr int64_t kJoinPowerMax = 20;
constexpr int64_t kReweightPowerMax = 30;

// One entry of the schedule: the set in force from height `from` until the next entry's.
struct SetEntry {
  int64_t from = 1;
  pb::ValidatorSet set;
  std::string hash;  // HashString(ValidatorSetHash(set))
  // Against the entry before (node indices).
  std::vector<int> joined, left, reweighted;
};

struct SyncRequest {
  int64_t from_height = 0;
};
struct SyncResponse {
  std::vector<std::pair<pb::Block, pb::Commit>> blocks;
};
struct HeightClaim {
  int64_t height = 0;
};
using Payload = std::variant<pb::ConsensusMessage, SyncRequest, SyncResponse, HeightClaim>;

struct Event {
  int64_t time = 0;
  uint64_t seq = 0;
  enum Kind { kDeliver, kTimeout, kStartHeight, kCrash, kRestart, kAnnounce, kSyncTimeout } kind = kDeliver;
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

// The consensus WAL on a simulated disk. Appends are buffered until a sync (the node syncs before
// each own message leaves); a crash keeps a random prefix of the unsynced tail (lost or torn
// writes, a torn record being cut at open). Sim::WalAppend fails every append while the node's
// disk is failing.
struct SimWal {
  std::vector<WalEntry> entries;
  size_t synced = 0;
  std::set<std::string> signatures;  // of the messages in it: each is logged once (checks)
};

// Block sync of one node, a model of node/bft's policy: claimed heights are hints of whom to ask,
// peers are asked in turn, one request at a time; no answer in time or a wrong answer penalises
// the peer (doubling), and only the peer asked may answer.
struct SyncState {
  std::map<int, int64_t> claims;           // peer -> claimed height
  std::map<int, int> failures;             // peer -> consecutive failures
  std::map<int, int64_t> penalised_until;  // peer -> not asked before this time
  int asked = -1;                          // peer asked, -1 when none
  int64_t asked_height = 0;
  int retries = 0;                         // requests for asked_height so far
  uint64_t request = 0;                    // id of the outstanding request (for its timeout)
  int next = 0;                            // round-robin cursor
};

class SimEnv;

struct Node {
  int index = 0;
  KeyPair key = KeyPair::Generate();
  std::string address;
  int64_t power = 10;  // drawn at set-up: its power in the genesis set, if it is a member
  bool byzantine = false;
  uint32_t behaviours = 0;
  bool up = true;
  uint64_t epoch = 0;
  int64_t clock_skew_ms = 0;
  std::mt19937_64 rng;
  // Durable across crashes.
  std::vector<pb::Block> blocks;
  std::vector<pb::Commit> commits;
  std::vector<std::string> app_hashes;  // after each block
  MemorySignStateStore sign_store;
  SimWal wal;
  // Volatile.
  std::unique_ptr<Signer> signer;
  std::unique_ptr<SimEnv> env;
  std::unique_ptr<TendermintEngine> engine;
  bool replaying = false;
  bool signing_stopped = false;  // a WAL write failed: silent until restarted
  SyncState sync;
  // Crash plan: crash at the next point of this kind (CrashPoint), then restart after restart_ms.
  int crash_point = -1;
  int64_t crash_not_before_ms = 0;
  int64_t restart_after_ms = 0;
  // Observations for the checks.
  std::vector<pb::Vote> votes_seen_at_height;  // votes handed to the engine at their height
  std::set<std::string> vote_signatures_seen;
  std::set<std::string> evidence_keys;         // "addr/height/round/type"
  int64_t last_decision_ms = 0;

  int64_t height() const { return static_cast<int64_t>(blocks.size()); }
};

class Sim;

// An EngineEnv bound to one simulated node; honest by default (HonestEnv in byzantine.cc).
class SimEnv : public EngineEnv {
 public:
  // Called before the engine handles one of its timeouts (Byzantine behaviours act on ticks).
  virtual void BeforeTimeout(const TimeoutEvent&) {}
  // Answers a peer's SyncRequest; honest nodes serve their blocks.
  virtual void ServeSync(int from, const SyncRequest& req);
  // The height this node announces.
  virtual int64_t ClaimedHeight();

 protected:
  SimEnv(Sim& sim, Node& n) : sim_(sim), n_(n) {}
  Sim& sim_;
  Node& n_;
};

std::unique_ptr<SimEnv> MakeEnv(Sim& sim, Node& n);

// Validly signed votes of everyone, for the lock check: (height, round) -> block id -> signers.
using PrevoteLedger = std::map<std::pair<int64_t, int32_t>, std::map<std::string, std::set<std::string>>>;

class Sim {
 public:
  explicit Sim(const SimOptions& o);
  SimResult Run();

  // World, for the envs.
  int64_t now() const { return now_; }
  uint64_t seed() const { return opts_.seed; }
  void Send(int from, int to, Payload p);
  void SendAll(int from, const Payload& p);
  void Schedule(Event e, int64_t delay);
  Status ValidateFor(Node& n, const pb::Block& b);
  pb::Block CreateBlockFor(Node& n, int64_t height);
  void Commit(Node& n, const pb::Block& b, const pb::Commit& c, bool from_sync);
  // The validator set that signs `height` (the schedule's entry in force there; heights below 1
  // get the genesis set, heights past the schedule its last set).
  const pb::ValidatorSet& SetAt(int64_t height) const { return EntryAt(height).set; }
  const std::string& SetHashAt(int64_t height) const { return EntryAt(height).hash; }
  // `address`'s power in the set of `height`, 0 when it is not a member there.
  int64_t PowerAt(int64_t height, const std::string& address) const;
  std::vector<Node>& nodes() { return nodes_; }
  // The simulated disk under an honest node's WAL: false when the write failed.
  bool WalAppend(Node& n, const WalEntry& e, bool sync);
  // Syncs what was appended (node/bft syncs the inputs before the signer saves a vote).
  bool WalSync(Node& n);
  // False while the node's disk fails (and then the node stops signing until restarted).
  bool DiskWorks(Node& n);
  // Whether the node's planned crash falls at `point` now; Crash stops it at once (it sends and
  // writes nothing more), keeps a random prefix of the WAL's unsynced tail and plans the restart.
  bool CrashDue(const Node& n, CrashPoint point) const;
  void Crash(Node& n);

  // Checks (checks.cc).
  void Fail(const std::string& what);
  // An honest node's signer released this signature (it may be on the wire from now on).
  void RecordSigned(const Node& n, Step step, int64_t height, int32_t round, const std::string& block_id);
  void RecordLock(const Node& n, const pb::Vote& v);
  void RecordByzantinePrevote(const pb::Vote& v);
  void CheckLeavesDurable(const Node& n, const pb::ConsensusMessage& m);
  void RecordEvidence(Node& n, const pb::DuplicateVoteEvidence& ev);
  void CheckDecided(Node& n, const pb::Block& b, const pb::Commit& c, bool from_sync);
  void CheckMemory(const Node& n);
  void CheckEvidence();
  void CheckLiveness();

 private:
  void SetUp();
  void PlanCrashes(int count);
  void PlanSetChanges(std::vector<int64_t> power);
  pb::ValidatorSet MakeSet(const std::vector<int64_t>& power) const;
  const SetEntry& EntryAt(int64_t height) const;
  // Starts the node's engine at `height` with the sets of that height and the next (held early
  // messages are checked against the next one).
  void StartEngine(Node& n, int64_t height);
  void CountSetChanges();
  void Boot(Node& n);
  void Deliver(Node& n, int from, const Payload& p);
  void HandleSync(Node& n, int from, const SyncResponse& r);
  void MaybeRequestSync(Node& n);
  void SyncFailed(Node& n, int peer);
  bool Connected(int a, int b) const;
  int64_t Delay(int from, int to);
  void IsolateProposerMaybe(int from, const Payload& p);
  std::string Describe() const;
  void PrintVerbose();

  SimOptions opts_;
  std::mt19937_64 rng_;
  int64_t now_ = 0;
  uint64_t seq_ = 0;
  std::priority_queue<Event, std::vector<Event>, EventOrder> queue_;
  std::vector<Node> nodes_;
  std::vector<SetEntry> schedule_;  // by `from`, ascending; the first from height 1 (genesis)
  std::string genesis_app_hash_;
  // Network model (before GST).
  Scheduler scheduler_ = Scheduler::kRandom;
  int loss_pct_ = 0, dup_pct_ = 0;
  int64_t max_delay_ms_ = 10;
  int64_t partition_start_ = -1, partition_end_ = -1;
  std::vector<int> side_;                 // partition side per node
  std::vector<int> priority_;             // kPct: rank per node, 0 = highest
  std::vector<int64_t> priority_changes_; // kPct: times the top node drops to the bottom
  std::set<int> targeted_;                // kTargetedDelay: whose messages are delayed
  std::vector<int64_t> isolated_until_;   // kIsolateProposer
  std::set<std::string> isolated_proposals_;  // signatures already handled
  std::map<std::string, std::set<int>> proposal_reach_;  // proposal signature -> who gets it
  int disk_failing_node_ = -1;
  int64_t disk_fail_start_ = -1, disk_fail_end_ = -1;
  // Checks.
  std::map<int64_t, std::string> decided_;              // height -> block id
  std::map<std::string, std::string> honest_signed_;    // "addr/h/r/kind" -> block id
  std::map<std::string, std::pair<int32_t, std::string>> honest_lock_;  // "addr/h" -> last precommit
  PrevoteLedger prevotes_;
  int64_t height_at_gst_ = -1;
  std::string failure_;
  SimResult result_;
};

}  // namespace v2g::sim
