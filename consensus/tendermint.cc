#include "consensus/tendermint.h"

#include <algorithm>
#include <numeric>

#include "common/bech32.h"
#include "common/checked.h"
#include "common/limits.h"
#include "consensus/block.h"
#include "proto/encode.h"

namespace v2g {

std::string_view StepName(Step s) {
  switch (s) {
    case Step::kPropose: return "propose";
    case Step::kPrevote: return "prevote";
    case Step::kPrecommit: return "precommit";
    case Step::kTick: return "tick";
  }
  return "unknown";
}

namespace {

// Turns of one validator (power w out of total t) whose key is <= x: its turn k has the key
// floor((2k+1) t / 2w), so the count is the number of odd m with m t < 2w (x+1).
int64_t TurnsUpTo(int64_t w, int64_t t, int64_t x) {
  if (x < 0) return 0;
  const Int128 m_max = (static_cast<Int128>(2) * w * (x + 1) - 1) / t;
  return static_cast<int64_t>((m_max + 1) / 2);
}

}  // namespace

const pb::ValidatorRecord& ProposerFor(const pb::ValidatorSet& vals, int64_t height, int32_t round) {
  V2G_ASSERT(vals.validators_size() > 0 && height > 0 && round >= 0);
  // t <= 150 validators x 2^50 (genesis limits), so 2 w (x + 1) < 2^110 fits in an Int128.
  const int64_t t = TotalPower(vals);
  const int64_t slot = static_cast<int64_t>((static_cast<uint64_t>(height) + static_cast<uint64_t>(round)) %
                                            static_cast<uint64_t>(t));
  auto turns = [&](int64_t x) {
    int64_t n = 0;
    for (const auto& v : vals.validators()) n += TurnsUpTo(v.power(), t, x);
    return n;
  };
  // The smallest key x with more than `slot` turns at or below it holds this slot's turn. Each
  // validator's count up to x is within one of w (x + 1) / t + 1/2, so the key lies within n + 1 of
  // the slot: search there (O(n log n), cheap enough to run before a proposal's signature check),
  // and the whole range only if that window does not bracket it.
  const int64_t n = vals.validators_size();
  int64_t lo = std::max<int64_t>(0, slot - 2 * n - 2), hi = std::min<int64_t>(t - 1, slot + 2 * n + 2);
  if (turns(hi) <= slot || turns(lo - 1) > slot) {
    lo = 0;
    hi = t - 1;
  }
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (turns(mid) > slot) hi = mid;
    else lo = mid + 1;
  }
  // Turns sharing key lo go in validator order; this slot is the (slot - turns below lo)-th.
  int64_t skip = slot - turns(lo - 1);
  for (const auto& v : vals.validators()) {
    if (TurnsUpTo(v.power(), t, lo) == TurnsUpTo(v.power(), t, lo - 1)) continue;
    if (skip-- == 0) return v;
  }
  V2G_ASSERT(false);
  return vals.validators(0);
}

Status VerifyVote(const std::string& chain_id, const pb::ValidatorSet& vals, const pb::Vote& v) {
  if (v.type() != static_cast<int32_t>(VoteType::kPrevote) && v.type() != static_cast<int32_t>(VoteType::kPrecommit)) {
    return Error(Code::kInvalidArgument, "vote type " + std::to_string(v.type()) + " is neither prevote nor precommit");
  }
  if (v.height() <= 0 || v.round() < 0) return Error(Code::kInvalidArgument, "vote height/round out of range");
  if (!v.block_id().empty() && v.block_id().size() != 32) return Error(Code::kInvalidArgument, "vote block id is not 32 bytes");
  const pb::ValidatorRecord* val = nullptr;
  for (const auto& r : vals.validators()) {
    if (r.address() == v.validator_address()) val = &r;
  }
  if (!val) return Error(Code::kUnauthorized, "vote from a non-validator");
  std::string msg = VoteSignBytes(chain_id, static_cast<VoteType>(v.type()), v.height(), v.round(), v.block_id(),
                                  v.timestamp_ms());
  if (!VerifyRawCached(val->consensus_pubkey(), msg, v.signature())) {
    return Error(Code::kBadSignature, "vote signature of " + val->name() + " does not verify");
  }
  return Status::Ok();
}

TendermintEngine::TendermintEngine(std::string chain_id, std::string my_address, EngineTimeouts timeouts,
                                   EngineEnv& env)
    : chain_id_(std::move(chain_id)), my_address_(std::move(my_address)), timeouts_(timeouts), env_(env) {}

bool TendermintEngine::TwoThirds(int64_t power) const {
  return static_cast<Int128>(power) * 3 > static_cast<Int128>(total_power_) * 2;
}
bool TendermintEngine::OneThird(int64_t power) const {
  return static_cast<Int128>(power) * 3 > static_cast<Int128>(total_power_);
}

int64_t TendermintEngine::PowerOf(const std::string& address) const {
  for (const auto& v : vals_.validators()) {
    if (v.address() == address) return v.power();
  }
  return 0;
}

int64_t TendermintEngine::RoundTimeout(int64_t base, int64_t delta, int32_t round) const {
  return base + delta * std::min<int32_t>(round, 1000);
}

void TendermintEngine::StartHeight(int64_t height, const pb::ValidatorSet& vals) {
  StartHeight(height, vals, vals);
}

void TendermintEngine::StartHeight(int64_t height, const pb::ValidatorSet& vals,
                                   const pb::ValidatorSet& next_vals) {
  V2G_ASSERT(height > height_);
  V2G_ASSERT(vals.validators_size() > 0 && next_vals.validators_size() > 0);
  height_ = height;
  vals_ = vals;
  next_vals_ = next_vals;
  total_power_ = TotalPower(vals_);
  decided_ = false;
  locked_value_.reset();
  locked_block_id_.clear();
  locked_round_ = -1;
  valid_value_.reset();
  valid_round_ = -1;
  rounds_.clear();
  validity_.clear();
  not_yet_.clear();
  own_.clear();
  evidence_seen_.clear();
  seen_signatures_.clear();
  StartRound(0);
  env_.ScheduleTimeout({height_, 0, Step::kTick}, timeouts_.tick_ms);
  std::deque<pb::ConsensusMessage> early;
  early.swap(future_);
  future_bytes_ = 0;
  future_per_validator_.clear();
  future_bytes_per_validator_.clear();
  future_proposals_.clear();
  future_signatures_.clear();
  for (const auto& m : early) HandleMessage(m);
}

// StartRound (paper lines 11-21).
void TendermintEngine::StartRound(int32_t round) {
  round_ = round;
  step_ = Step::kPropose;
  prevote_timeout_scheduled_ = false;
  precommit_timeout_scheduled_ = false;
  l36_done_ = false;
  // Rounds below the current one are kept: L49 may still decide on them and L28 reads old
  // prevotes. Only far-future rounds are dropped by HandleVote.
  const pb::ValidatorRecord& proposer = ProposerFor(vals_, height_, round_);
  if (!my_address_.empty() && proposer.address() == my_address_) {
    pb::Block block = valid_value_ ? *valid_value_ : env_.CreateBlock(height_);
    const std::string block_id = HashString(BlockId(block.header()));
    auto sig = env_.SignProposal(height_, round_, valid_round_, block_id, block.header().time_ms());
    if (sig.ok()) {
      pb::ConsensusMessage msg;
      pb::Proposal* p = msg.mutable_proposal();
      p->set_height(height_);
      p->set_round(round_);
      p->set_pol_round(valid_round_);
      *p->mutable_block() = std::move(block);
      p->set_timestamp_ms(sig->timestamp_ms);
      p->set_proposer_address(my_address_);
      p->set_signature(sig->signature);
      // Only a proposal that is durable counts as made (EngineEnv::Broadcast).
      if (env_.Broadcast(msg)) HandleProposal(msg.proposal());
    }
  }
  env_.ScheduleTimeout({height_, round_, Step::kPropose},
                       RoundTimeout(timeouts_.propose_ms, timeouts_.propose_delta_ms, round_));
  CheckRules();
}

void TendermintEngine::HandleMessage(const pb::ConsensusMessage& msg) {
  int64_t h = msg.has_proposal() ? msg.proposal().height() : msg.has_vote() ? msg.vote().height() : 0;
  if (h == height_ + 1 && height_ > 0) {
    HoldForNextHeight(msg);
    return;
  }
  if (h != height_ || height_ == 0) return;
  if (msg.has_proposal()) {
    HandleProposal(msg.proposal());
  } else if (msg.has_vote()) {
    HandleVote(msg.vote());
  }
  CheckRules();
}

// Only messages that verify are held, each validator's up to a quota of messages and a share of
// the byte budget (enough for one full block), one proposal per round: peers cannot fill the hold
// with garbage, and one validator (say, an equivocating proposer) cannot crowd out the others.
// They are verified against the next height's set, which the chain knows a height ahead (a change
// takes effect two heights after the block that makes it: contracts/gov.h).
void TendermintEngine::HoldForNextHeight(const pb::ConsensusMessage& msg) {
  std::string sender;
  std::string signature;
  if (msg.has_vote()) {
    const pb::Vote& v = msg.vote();
    if (v.round() < 0 || v.round() > limits::kConsensusRoundsAheadMax) return;
    if (future_signatures_.count(v.signature()) || !VerifyVote(chain_id_, next_vals_, v).ok())
      return;
    sender = v.validator_address();
    signature = v.signature();
  } else if (msg.has_proposal()) {
    const pb::Proposal& p = msg.proposal();
    if (p.round() < 0 || p.round() > limits::kConsensusRoundsAheadMax) return;
    std::string block_id;
    if (future_signatures_.count(p.signature()) || future_proposals_.count({p.proposer_address(), p.round()})) return;
    if (!VerifyProposal(next_vals_, p, &block_id)) return;
    sender = p.proposer_address();
    signature = p.signature();
  } else {
    return;
  }
  const int64_t bytes = static_cast<int64_t>(msg.ByteSizeLong());
  if (future_.size() >= limits::kConsensusHeldMessagesMax || future_bytes_ + bytes > limits::kConsensusHeldBytesMax) return;
  const int64_t share =
      std::max<int64_t>(limits::kConsensusHeldBytesMax / next_vals_.validators_size(),
                        limits::kBlockBytesCeiling + 1024 * 1024);
  size_t& held = future_per_validator_[sender];
  int64_t& held_bytes = future_bytes_per_validator_[sender];
  if (held >= limits::kConsensusHeldPerValidatorMax || held_bytes + bytes > share) return;
  ++held;
  held_bytes += bytes;
  if (msg.has_proposal()) future_proposals_.insert({sender, msg.proposal().round()});
  future_bytes_ += bytes;
  future_signatures_.insert(signature);
  future_.push_back(msg);
}

// The proposer of (p.height, p.round) signed this proposal, and its body is the one its header
// commits to. Stateless apart from the validator set.
bool TendermintEngine::VerifyProposal(const pb::ValidatorSet& vals, const pb::Proposal& p,
                                      std::string* block_id) const {
  if (p.height() <= 0 || p.round() < 0) return false;
  if (p.pol_round() < -1 || p.pol_round() >= p.round()) return false;
  const pb::ValidatorRecord& proposer = ProposerFor(vals, p.height(), p.round());
  if (p.proposer_address() != proposer.address()) return false;
  if (p.block().header().height() != p.height()) return false;
  if (p.timestamp_ms() != p.block().header().time_ms()) return false;
  *block_id = HashString(BlockId(p.block().header()));
  std::string msg = ProposalSignBytes(chain_id_, p.height(), p.round(), p.pol_round(), *block_id, p.timestamp_ms());
  if (!VerifyRawCached(proposer.consensus_pubkey(), msg, p.signature())) return false;
  // The signature covers the header only. A body that does not match it is not this proposal
  // (the proposer, or a peer, forged it): it must neither take the round's proposal slot, which
  // would shut out the real body, nor ever make the block id look invalid.
  return CheckBlockBody(p.block()).ok();
}

void TendermintEngine::HandleProposal(const pb::Proposal& p) {
  if (p.round() < 0 || p.round() > round_ + limits::kConsensusRoundsAheadMax) return;
  auto have = rounds_.find(p.round());
  if (have != rounds_.end() && have->second.proposal) return;  // first valid proposal of a round wins
  std::string block_id;
  if (!VerifyProposal(vals_, p, &block_id)) return;
  pb::ConsensusMessage input;
  *input.mutable_proposal() = p;
  if (p.proposer_address() != my_address_) {
    env_.Persist(input);
  } else {
    // Our own (durable already: Broadcast, or the WAL we are replaying) is re-sent every tick,
    // also after a restart.
    own_.push_back(std::move(input));
  }
  RoundState& rs = rounds_[p.round()];
  rs.proposal = p;
  rs.proposal_block_id = block_id;
}

// Nothing about a vote is stored, counted or relayed before its signature verifies: unverified
// votes naming real validators must not move us to another round (L55) or grow any state.
void TendermintEngine::HandleVote(const pb::Vote& v) {
  if (v.round() < 0 || v.round() > round_ + limits::kConsensusRoundsAheadMax) return;
  const bool precommit = v.type() == static_cast<int32_t>(VoteType::kPrecommit);
  if (!precommit && v.type() != static_cast<int32_t>(VoteType::kPrevote)) return;
  const int64_t power = PowerOf(v.validator_address());
  if (power == 0) return;  // not a validator
  // Every vote is verified once: a signature already accepted means this vote (or a forgery
  // reusing its signature, which would not verify anyway) was handled before.
  if (seen_signatures_.count(v.signature())) return;
  // Two votes of a validator here are enough to prove equivocation; more only cost CPU and
  // memory, so they are dropped unverified -- unless they are for nil or for a block some proposal
  // of this height carries: those are the votes every honest node must be able to count alike
  // (an equivocator may have sent each node a different pair), and there are few of them.
  int kept = 0;
  if (auto rit = rounds_.find(v.round()); rit != rounds_.end()) {
    const Votes& existing = precommit ? rit->second.precommits : rit->second.prevotes;
    auto have = existing.by_block.find(v.block_id());
    if (have != existing.by_block.end() && have->second.count(v.validator_address())) return;  // one per block
    if (auto k = existing.votes_of.find(v.validator_address()); k != existing.votes_of.end()) kept = k->second;
  }
  if (kept >= 2 && !v.block_id().empty() && !KnownProposalBlock(v.block_id())) return;
  if (!VerifyVote(chain_id_, vals_, v).ok()) return;
  seen_signatures_.insert(v.signature());
  pb::ConsensusMessage input;
  *input.mutable_vote() = v;
  if (v.validator_address() != my_address_) {
    env_.Persist(input);
    env_.Relay(input);
  } else {
    // Our own (durable already: Broadcast, or the WAL we are replaying) is re-sent every tick,
    // also after a restart.
    own_.push_back(std::move(input));
  }
  RoundState& rs = rounds_[v.round()];
  Votes& votes = precommit ? rs.precommits : rs.prevotes;
  if (kept >= 1) {
    // Two signed votes for different blocks: equivocation. Report it once per pair.
    for (const auto& [id, voters] : votes.by_block) {
      auto it = voters.find(v.validator_address());
      if (it == voters.end() || id == v.block_id()) continue;
      pb::DuplicateVoteEvidence ev;
      const bool first_smaller = it->second.block_id() < v.block_id();
      *ev.mutable_vote_a() = first_smaller ? it->second : v;
      *ev.mutable_vote_b() = first_smaller ? v : it->second;
      if (evidence_seen_.insert(Encode(ev)).second) env_.OnEvidence(ev);
      break;
    }
  }
  votes.by_block[v.block_id()].emplace(v.validator_address(), v);
  votes.power_by_block[v.block_id()] += power;
  if (kept == 0) votes.total += power;
  votes.votes_of[v.validator_address()] = kept + 1;
}

bool TendermintEngine::KnownProposalBlock(const std::string& block_id) const {
  for (const auto& [r, rs] : rounds_) {
    if (rs.proposal && rs.proposal_block_id == block_id) return true;
  }
  return false;
}

bool TendermintEngine::Valid(const pb::Block& block, const std::string& block_id) {
  if (auto it = validity_.find(block_id); it != validity_.end()) return it->second;
  // "Cannot tell yet" is asked again once per round, not on every message.
  if (auto it = not_yet_.find(block_id); it != not_yet_.end() && it->second == round_) return false;
  Status st = env_.ValidateBlock(block);
  if (st.code() == Code::kUnavailable) {
    not_yet_[block_id] = round_;
    return false;
  }
  validity_[block_id] = st.ok();
  return st.ok();
}

void TendermintEngine::SignAndSendVote(VoteType type, const std::string& block_id, int64_t not_before_ms) {
  if (my_address_.empty() || PowerOf(my_address_) == 0) return;
  auto sig = env_.SignVote(type, height_, round_, block_id, std::max(env_.NowMs(), not_before_ms));
  if (!sig.ok()) return;  // the safety module refused (e.g. after a crash): stay silent, safely
  pb::ConsensusMessage msg;
  pb::Vote* v = msg.mutable_vote();
  v->set_type(static_cast<int32_t>(type));
  v->set_height(height_);
  v->set_round(round_);
  v->set_block_id(block_id);
  v->set_timestamp_ms(sig->timestamp_ms);
  v->set_validator_address(my_address_);
  v->set_signature(sig->signature);
  // A vote that could not be made durable was never cast: not counted, not re-sent.
  if (!env_.Broadcast(msg)) return;
  HandleVote(*v);
}

void TendermintEngine::CheckRules() {
  // Each rule fires at most once per state change; loop until nothing more applies.
  for (int guard = 0; guard < 1000 && ApplyOneRule(); ++guard) {
  }
}

// Long on purpose: it is Algorithm 1's upon-rules in the paper's order (each tagged with its line),
// and reading them top to bottom against the paper is how this function is reviewed.
bool TendermintEngine::ApplyOneRule() {
  if (decided_) return false;
  // L49: a proposal with 2f+1 precommits for it, in any round, decides.
  for (auto& [r, rs] : rounds_) {
    if (!rs.proposal) continue;
    auto it = rs.precommits.power_by_block.find(rs.proposal_block_id);
    if (it != rs.precommits.power_by_block.end() && TwoThirds(it->second) &&
        Valid(rs.proposal->block(), rs.proposal_block_id)) {
      Decide(r, rs);
      return false;
    }
  }
  // L55: f+1 messages of a higher round: skip to it.
  for (auto it = rounds_.upper_bound(round_); it != rounds_.end(); ++it) {
    std::set<std::string> senders;
    for (const auto& [a, _] : it->second.prevotes.votes_of) senders.insert(a);
    for (const auto& [a, _] : it->second.precommits.votes_of) senders.insert(a);
    int64_t power = 0;
    for (const auto& a : senders) power += PowerOf(a);
    if (OneThird(power)) {
      StartRound(it->first);
      return true;
    }
  }
  RoundState& rs = rounds_[round_];
  const pb::Proposal* p = rs.proposal ? &*rs.proposal : nullptr;
  if (step_ == Step::kPropose && p) {
    const std::string& id = rs.proposal_block_id;
    if (p->pol_round() == -1) {  // L22
      bool ok = Valid(p->block(), id) && (locked_round_ == -1 || locked_block_id_ == id);
      step_ = Step::kPrevote;
      SignAndSendVote(VoteType::kPrevote, ok ? id : "");
      return true;
    }
    auto pol = rounds_.find(p->pol_round());
    if (pol != rounds_.end()) {  // L28
      auto it = pol->second.prevotes.power_by_block.find(id);
      if (it != pol->second.prevotes.power_by_block.end() && TwoThirds(it->second)) {
        bool ok = Valid(p->block(), id) && (locked_round_ <= p->pol_round() || locked_block_id_ == id);
        step_ = Step::kPrevote;
        SignAndSendVote(VoteType::kPrevote, ok ? id : "");
        return true;
      }
    }
  }
  if (step_ == Step::kPrevote && !prevote_timeout_scheduled_ && TwoThirds(rs.prevotes.total)) {  // L34
    prevote_timeout_scheduled_ = true;
    env_.ScheduleTimeout({height_, round_, Step::kPrevote},
                         RoundTimeout(timeouts_.prevote_ms, timeouts_.prevote_delta_ms, round_));
    return true;
  }
  if (p && !l36_done_ && (step_ == Step::kPrevote || step_ == Step::kPrecommit)) {  // L36
    const std::string& id = rs.proposal_block_id;
    auto it = rs.prevotes.power_by_block.find(id);
    if (it != rs.prevotes.power_by_block.end() && TwoThirds(it->second) && Valid(p->block(), id)) {
      l36_done_ = true;
      if (step_ == Step::kPrevote) {
        locked_value_ = p->block();
        locked_block_id_ = id;
        locked_round_ = round_;
        step_ = Step::kPrecommit;
        const int64_t block_time = p->block().header().time_ms();
        SignAndSendVote(VoteType::kPrecommit, id, block_time < INT64_MAX ? block_time + 1 : block_time);
      }
      valid_value_ = p->block();
      valid_round_ = round_;
      return true;
    }
  }
  if (step_ == Step::kPrevote) {  // L44
    auto it = rs.prevotes.power_by_block.find("");
    if (it != rs.prevotes.power_by_block.end() && TwoThirds(it->second)) {
      step_ = Step::kPrecommit;
      SignAndSendVote(VoteType::kPrecommit, "");
      return true;
    }
  }
  if (!precommit_timeout_scheduled_ && TwoThirds(rs.precommits.total)) {  // L47
    precommit_timeout_scheduled_ = true;
    env_.ScheduleTimeout({height_, round_, Step::kPrecommit},
                         RoundTimeout(timeouts_.precommit_ms, timeouts_.precommit_delta_ms, round_));
    return true;
  }
  return false;
}

void TendermintEngine::Decide(int32_t round, const RoundState& rs) {
  decided_ = true;
  pb::Commit commit;
  commit.set_height(height_);
  commit.set_round(round);
  commit.set_block_id(rs.proposal_block_id);
  // Signatures in validator-set order so every node's commit for the same votes encodes alike.
  const auto& voters = rs.precommits.by_block.at(rs.proposal_block_id);
  for (const auto& val : vals_.validators()) {
    auto it = voters.find(val.address());
    if (it == voters.end()) continue;
    pb::CommitSig* s = commit.add_signatures();
    s->set_validator_address(val.address());
    s->set_timestamp_ms(it->second.timestamp_ms());
    s->set_signature(it->second.signature());
  }
  env_.Decide(rs.proposal->block(), commit);
}

void TendermintEngine::HandleTimeout(const TimeoutEvent& t) {
  if (t.height != height_ || decided_) return;
  switch (t.step) {
    case Step::kPropose:  // L57
      if (t.round == round_ && step_ == Step::kPropose) {
        step_ = Step::kPrevote;
        SignAndSendVote(VoteType::kPrevote, "");
      }
      break;
    case Step::kPrevote:  // L61
      if (t.round == round_ && step_ == Step::kPrevote) {
        step_ = Step::kPrecommit;
        SignAndSendVote(VoteType::kPrecommit, "");
      }
      break;
    case Step::kPrecommit:  // L65
      if (t.round == round_) StartRound(round_ + 1);
      break;
    case Step::kTick:
      Rebroadcast();
      env_.ScheduleTimeout({height_, 0, Step::kTick}, timeouts_.tick_ms);
      break;
  }
  CheckRules();
}

// Gossip for liveness: after the network heals every honest node must eventually receive every
// message that matters. We resend our own messages of this height, the votes of the current round
// we hold, and the prevotes that justify our valid value (the "proof of lock" a re-proposal
// needs: it may contain another node's vote that some peers never got).
void TendermintEngine::Rebroadcast() {
  for (const auto& m : own_) env_.Relay(m);  // durable already: re-sends never touch the WAL
  auto resend = [&](const Votes& votes, const std::string* only_block) {
    for (const auto& [id, voters] : votes.by_block) {
      if (only_block && id != *only_block) continue;
      for (const auto& [addr, vote] : voters) {
        if (addr == my_address_) continue;
        pb::ConsensusMessage m;
        *m.mutable_vote() = vote;
        env_.Relay(m);
      }
    }
  };
  auto cur = rounds_.find(round_);
  if (cur != rounds_.end()) {
    resend(cur->second.prevotes, nullptr);
    resend(cur->second.precommits, nullptr);
  }
  if (valid_round_ >= 0 && valid_round_ != round_ && valid_value_) {
    const std::string id = HashString(BlockId(valid_value_->header()));
    resend(rounds_[valid_round_].prevotes, &id);
  }
}

EngineInfo TendermintEngine::Info() const {
  EngineInfo info;
  info.height = height_;
  info.round = round_;
  info.step = step_;
  info.locked_round = locked_round_;
  info.locked_block_id = locked_block_id_;
  info.valid_round = valid_round_;
  info.decided = decided_;
  for (const auto& [r, rs] : rounds_) {
    info.rounds[r] = {rs.prevotes.total, rs.precommits.total, rs.prevotes.power_by_block,
                      rs.precommits.power_by_block, rs.proposal ? rs.proposal_block_id : std::string()};
  }
  return info;
}

EngineStats TendermintEngine::Stats() const {
  EngineStats s;
  s.rounds = rounds_.size();
  for (const auto& [r, rs] : rounds_) {
    for (const Votes* votes : {&rs.prevotes, &rs.precommits}) {
      for (const auto& [id, voters] : votes->by_block) s.votes += voters.size();
    }
    s.proposals += rs.proposal ? 1 : 0;
  }
  s.held_messages = future_.size();
  s.held_bytes = future_bytes_;
  s.seen_signatures = seen_signatures_.size();
  s.verdicts = validity_.size() + not_yet_.size();
  s.own_messages = own_.size();
  return s;
}

}  // namespace v2g
