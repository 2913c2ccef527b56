// The Tendermint consensus algorithm (Buchman, Kwon, Milosevic, "The latest gossip on BFT
// consensus", 2018, Algorithm 1) as a single-threaded state machine. Inputs: StartHeight,
// HandleMessage (proposals and votes from anyone, including our own replayed from the WAL) and
// HandleTimeout. Outputs go through EngineEnv: broadcast, schedule a timeout, decide, evidence.
// No sockets, clocks, threads or storage inside: the same inputs always give the same outputs, which
// is what lets tests/sim replay a whole network from one seed.
//
// Rules are numbered as the paper's lines (L22, L28, ...). Safe with f Byzantine of n > 3f by
// voting power; live once messages arrive within the timeouts. Signing goes through the env's
// safety module, which may refuse (e.g. after a crash): the engine then stays silent for that
// step, which is always safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <string>
#include <vector>

#include "common/signbytes.h"
#include "common/status.h"
#include "proto/v2g.pb.h"

namespace v2g {

enum class Step : int32_t { kPropose = 1, kPrevote = 2, kPrecommit = 3, kTick = 4 };
std::string_view StepName(Step s);

struct TimeoutEvent {
  int64_t height = 0;
  int32_t round = 0;
  Step step = Step::kPropose;  // kTick: periodic re-broadcast of our own messages
};

// Round timeouts grow linearly with the round so that, once the network is synchronous again,
// some round's timeouts are long enough for every honest message to arrive.
struct EngineTimeouts {
  int64_t propose_ms = 1000;
  int64_t propose_delta_ms = 500;
  int64_t prevote_ms = 500;
  int64_t prevote_delta_ms = 250;
  int64_t precommit_ms = 500;
  int64_t precommit_delta_ms = 250;
  int64_t tick_ms = 1000;  // re-broadcast period (messages may be lost)
};

struct SignedMessage {
  std::string signature;
  int64_t timestamp_ms = 0;
};

class EngineEnv {
 public:
  virtual ~EngineEnv() = default;
  virtual int64_t NowMs() = 0;
  // A new block for `height` with this node as proposer (header time set by the env).
  virtual pb::Block CreateBlock(int64_t height) = 0;
  // Full validity of a proposed block for the current height (links, time, commit, txs). The
  // engine remembers the verdict for the block id for the whole height, except kUnavailable,
  // which means "cannot tell yet" (e.g. a condition on the local clock) and is asked again in a
  // later round: only a verdict that can never change may be cached.
  virtual Status ValidateBlock(const pb::Block& block) = 0;
  virtual Result<SignedMessage> SignVote(VoteType type, int64_t height, int32_t round, const std::string& block_id,
                                         int64_t timestamp_ms) = 0;
  virtual Result<SignedMessage> SignProposal(int64_t height, int32_t round, int32_t pol_round,
                                             const std::string& block_id, int64_t timestamp_ms) = 0;
  // Our own new proposal or vote: the env makes it durable (WAL, fsync, together with every input
  // persisted before it) and only then sends it. false: it could not be made durable and was not
  // sent; the engine then treats it as never signed (silence, which is always safe).
  virtual bool Broadcast(const pb::ConsensusMessage& msg) = 0;
  // An input from another validator that the engine has verified and accepted into its state for
  // the current height (whichever path it came by: the network, held early messages, replay).
  // The env logs it; it must be durable before any message it causes leaves the node (the next
  // Broadcast's sync covers it). Duplicates and rejected messages are never persisted, so the log
  // of a height is bounded by what validators validly signed.
  virtual void Persist(const pb::ConsensusMessage& input) = 0;
  virtual void ScheduleTimeout(const TimeoutEvent& t, int64_t delay_ms) = 0;
  // `block` is decided with `commit` (> 2/3 precommits). The env commits it and later calls
  // StartHeight(height + 1).
  virtual void Decide(const pb::Block& block, const pb::Commit& commit) = 0;
  virtual void OnEvidence(const pb::DuplicateVoteEvidence& evidence) = 0;
  // Send only, never logged: a validly signed vote from another validator seen for the first time
  // (including the second half of an equivocation), forwarded so that every honest node sees every
  // vote (and every equivocation) even when the sender reached only some of them; and the periodic
  // re-send of our own messages, which are durable already.
  virtual void Relay(const pb::ConsensusMessage& msg) = 0;
};

// Proposer of (height, round), slot = height + round. The k-th of a validator's `power` turns in
// every `total` consecutive slots is placed at floor((2k+1) x total / (2 x power)), ties in
// validator order; so each proposes exactly `power` times per `total` slots, equal powers take
// plain turns, and between two turns of a validator lie at most total/power + n - 1 others: a
// height in which only one honest validator can lead (it alone holds the lock the others need)
// reaches it within that many rounds (once the network is synchronous). O(n log n) per call,
// stateless.
const pb::ValidatorRecord& ProposerFor(const pb::ValidatorSet& vals, int64_t height, int32_t round);

// Checks a vote's fields and signature against the validator set. Used for votes inside
// evidence too.
Status VerifyVote(const std::string& chain_id, const pb::ValidatorSet& vals, const pb::Vote& vote);

struct RoundTally {
  int64_t prevote_power = 0;
  int64_t precommit_power = 0;
  std::map<std::string, int64_t> prevotes_by_block;  // block id ("" = nil) -> power
  std::map<std::string, int64_t> precommits_by_block;
  std::string proposal_block_id;  // empty when no proposal was accepted for the round
};

struct EngineInfo {
  int64_t height = 0;
  int32_t round = 0;
  Step step = Step::kPropose;
  int32_t locked_round = -1;
  std::string locked_block_id;
  int32_t valid_round = -1;
  bool decided = false;
  std::map<int32_t, RoundTally> rounds;
};

// What the engine holds for the current height, counted cheaply: tests (tests/sim) assert it stays
// within a bound whatever peers send.
struct EngineStats {
  size_t rounds = 0;           // rounds with any state, current and earlier included
  size_t votes = 0;            // votes kept, every round and type
  size_t proposals = 0;
  size_t held_messages = 0;    // next-height messages held
  int64_t held_bytes = 0;
  size_t seen_signatures = 0;  // verified vote signatures of this height
  size_t verdicts = 0;         // cached block verdicts (final and "not yet")
  size_t own_messages = 0;     // own messages re-sent every tick
};

class TendermintEngine {
 public:
  // my_address: this validator's address (raw 20 bytes); empty for a node that only follows.
  TendermintEngine(std::string chain_id, std::string my_address, EngineTimeouts timeouts, EngineEnv& env);

  // Forgets the previous height and starts round 0 of `height` with `vals`, the set of that height;
  // messages for height + 1 that arrive early are checked against `next_vals` and held. Replays
  // messages that arrived early for this height. This node signs only at heights whose set holds
  // its address. The first form: a set that does not change.
  void StartHeight(int64_t height, const pb::ValidatorSet& vals);
  void StartHeight(int64_t height, const pb::ValidatorSet& vals, const pb::ValidatorSet& next_vals);
  // Between heights (before StartHeight): this node signs as `address` from the next height on (a
  // node whose key a set holds under another address than it assumed: node/bft/bft.cc).
  void SetMyAddress(std::string address) { my_address_ = std::move(address); }
  // Any proposal or vote. Verifies it before it changes any state (signature checked once; exact
  // duplicates are dropped before verification). Messages for height+1 are verified and held
  // (bounded per validator, in count and in bytes) until StartHeight reaches it.
  void HandleMessage(const pb::ConsensusMessage& msg);
  void HandleTimeout(const TimeoutEvent& t);

  EngineInfo Info() const;
  EngineStats Stats() const;
  int64_t height() const { return height_; }
  int32_t round() const { return round_; }
  bool decided() const { return decided_; }
  Step step() const { return step_; }

 private:
  // Votes of one round and type. As in the paper, "2f+1 PREVOTE for id(v)" counts every
  // validator that signed a vote for id(v): an equivocating validator counts toward both of its
  // blocks (safety still holds: two quorums intersect in more than f validators, so one of them
  // would have to be an honest validator that signed twice). Per validator, two arbitrary votes
  // are kept, plus its votes for nil and for blocks that some proposal of this height carries.
  struct Votes {
    std::map<std::string, std::map<std::string, pb::Vote>> by_block;  // block id ("" = nil) -> address -> vote
    std::map<std::string, int64_t> power_by_block;
    std::map<std::string, int> votes_of;  // address -> votes kept
    int64_t total = 0;                    // each validator once
  };
  struct RoundState {
    Votes prevotes;
    Votes precommits;
    std::optional<pb::Proposal> proposal;
    std::string proposal_block_id;
  };

  void StartRound(int32_t round);
  void HandleProposal(const pb::Proposal& p);
  void HandleVote(const pb::Vote& v);
  void CheckRules();
  bool ApplyOneRule();
  // `not_before_ms`: the earliest timestamp the vote may carry (a precommit for a block is stamped
  // after the block's time, which keeps BFT time strictly increasing).
  void SignAndSendVote(VoteType type, const std::string& block_id, int64_t not_before_ms = INT64_MIN);
  void Rebroadcast();
  bool Valid(const pb::Block& block, const std::string& block_id);
  bool VerifyProposal(const pb::ValidatorSet& vals, const pb::Proposal& p,
                      std::string* block_id) const;
  void HoldForNextHeight(const pb::ConsensusMessage& msg);
  bool KnownProposalBlock(const std::string& block_id) const;
  bool TwoThirds(int64_t power) const;
  bool OneThird(int64_t power) const;
  int64_t PowerOf(const std::string& address) const;
  int64_t RoundTimeout(int64_t base, int64_t delta, int32_t round) const;
  void Decide(int32_t round, const RoundState& rs);

  const std::string chain_id_;
  std::string my_address_;
  const EngineTimeouts timeouts_;
  EngineEnv& env_;

  int64_t height_ = 0;
  pb::ValidatorSet vals_;
  pb::ValidatorSet next_vals_;  // of height_ + 1, for held messages
  int64_t total_power_ = 0;
  int32_t round_ = 0;
  Step step_ = Step::kPropose;
  bool decided_ = false;
  std::optional<pb::Block> locked_value_;
  std::string locked_block_id_;
  int32_t locked_round_ = -1;
  std::optional<pb::Block> valid_value_;
  int32_t valid_round_ = -1;
  std::map<int32_t, RoundState> rounds_;
  std::map<std::string, bool> validity_;  // block id -> valid (final env verdicts only)
  std::map<std::string, int32_t> not_yet_;  // block id -> round of its last kUnavailable verdict
  // "For the first time" flags of the current round (L34, L36, L47).
  bool prevote_timeout_scheduled_ = false;
  bool precommit_timeout_scheduled_ = false;
  bool l36_done_ = false;
  // Our own messages of this height, every round, for re-broadcast: liveness needs every honest
  // message to arrive eventually (e.g. an old round's prevotes that justify a re-proposal).
  std::vector<pb::ConsensusMessage> own_;
  // Messages for height_ + 1 that arrived early, verified, with their size and count per validator.
  std::deque<pb::ConsensusMessage> future_;
  int64_t future_bytes_ = 0;
  std::map<std::string, size_t> future_per_validator_;
  std::map<std::string, int64_t> future_bytes_per_validator_;
  std::set<std::pair<std::string, int32_t>> future_proposals_;  // (proposer, round) held
  std::set<std::string> future_signatures_;
  std::set<std::string> evidence_seen_;
  std::set<std::string> seen_signatures_;  // of votes verified at this height
};

}  // namespace v2g
