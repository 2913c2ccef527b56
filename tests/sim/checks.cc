// What must hold in every run, whatever the Byzantine validators and the network do. Every
// quorum, power and signature is judged against the validator set of the height concerned
// (Sim::SetAt), as the chain does once governance changes the set:
// - agreement: no two honest nodes decide different blocks at a height;
// - validity: every decided block has a commit valid for the set of its height, a body matching
//   its header, and is valid against the deciding node's chain;
// - no honest validator signs two conflicting messages (proposal, prevote or precommit for one
//   height and round), signs at a height whose set does not hold it, precommits a block without
//   a prevote quorum for it, or prevotes against its lock (a block other than the one it
//   precommitted, with no prevote quorum for it since);
// - durability: an honest node's own message leaves only once it is in the synced WAL, and the WAL
//   logs each message once (re-sends never touch it);
// - bounded memory: each honest engine's state (EngineStats) and WAL stay within bounds derived
//   from the sizes of the sets of its height and the next and from the round, whatever peers send;
// - liveness after GST: every honest node, in the set or following, keeps deciding, never waiting
//   more than kDecideGapMaxMs;
// - evidence for every equivocation an honest node received at its height.
#include <algorithm>

#include "common/limits.h"
#include "consensus/block.h"
#include "tests/sim/world.h"

namespace v2g::sim {
namespace {

std::string Key(const std::string& addr, int64_t h, int32_t r, const std::string& kind) {
  return HexEncode(addr).substr(0, 8) + "/" + std::to_string(h) + "/" + std::to_string(r) + "/" + kind;
}

}  // namespace

void Sim::Fail(const std::string& what) {
  if (failure_.empty()) failure_ = "seed " + std::to_string(opts_.seed) + " at " + std::to_string(now_) + " ms: " + what;
}

void Sim::RecordByzantinePrevote(const pb::Vote& v) {
  if (v.type() != static_cast<int32_t>(VoteType::kPrevote)) return;
  prevotes_[{v.height(), v.round()}][v.block_id()].insert(v.validator_address());
}

void Sim::RecordSigned(const Node& n, Step step, int64_t height, int32_t round, const std::string& block_id) {
  const bool precommit = step == Step::kPrecommit;
  const std::string key = Key(n.address, height, round, std::string(StepName(step)));
  auto [it, fresh] = honest_signed_.emplace(key, block_id);
  if (!fresh && it->second != block_id) Fail("SAFETY: honest node " + std::to_string(n.index) + " double-signed " + key);
  // A node outside a height's set follows it: a signature there would count nowhere honest, and
  // says its engine took the wrong set.
  if (PowerAt(height, n.address) == 0) {
    Fail("SETS: honest node " + std::to_string(n.index) +
         " signed at a height whose set does not hold it " + key);
  }
  if (step == Step::kPropose) return;
  pb::Vote vote;
  vote.set_height(height);
  vote.set_round(round);
  vote.set_block_id(block_id);
  vote.set_validator_address(n.address);
  const pb::Vote& v = vote;
  const pb::ValidatorSet& vals = SetAt(height);
  auto power_for = [&](int32_t rnd, const std::string& id) {
    int64_t power = 0;
    auto r = prevotes_.find({v.height(), rnd});
    if (r == prevotes_.end()) return power;
    auto b = r->second.find(id);
    if (b == r->second.end()) return power;
    for (const auto& val : vals.validators())
      power += b->second.count(val.address()) ? val.power() : 0;
    return power;
  };
  auto quorum = [&](int64_t power) { return power * 3 > TotalPower(vals) * 2; };
  const std::string lock_key = HexEncode(n.address) + "/" + std::to_string(v.height());
  if (precommit) {
    if (v.block_id().empty()) return;
    if (!quorum(power_for(v.round(), v.block_id()))) {
      Fail("SAFETY: honest node " + std::to_string(n.index) + " precommitted without a prevote quorum " + key);
    }
    return;  // the lock binds once the precommit leaves (RecordLock)
  }
  prevotes_[{v.height(), v.round()}][v.block_id()].insert(v.validator_address());
  auto lock = honest_lock_.find(lock_key);
  if (v.block_id().empty() || lock == honest_lock_.end() || lock->second.second == v.block_id() ||
      lock->second.first >= v.round()) {
    return;
  }
  for (int32_t r = lock->second.first; r < v.round(); ++r) {
    if (quorum(power_for(r, v.block_id()))) return;  // a proof-of-lock round unlocked it (L28)
  }
  Fail("SAFETY: honest node " + std::to_string(n.index) + " prevoted against its lock (precommitted round " +
       std::to_string(lock->second.first) + ", no prevote quorum since) " + key);
}

// A precommit for a block that leaves the node (or may have) locks its sender on that block; one
// that never left (a crash fell before its WAL append) binds nothing.
void Sim::RecordLock(const Node& n, const pb::Vote& v) {
  if (v.type() != static_cast<int32_t>(VoteType::kPrecommit) || v.block_id().empty()) return;
  honest_lock_[HexEncode(n.address) + "/" + std::to_string(v.height())] = {v.round(), v.block_id()};
}

void Sim::CheckLeavesDurable(const Node& n, const pb::ConsensusMessage& m) {
  const std::string& sig = m.has_vote() ? m.vote().signature() : m.proposal().signature();
  for (size_t i = 0; i < n.wal.synced; ++i) {
    const auto* logged = std::get_if<pb::ConsensusMessage>(&n.wal.entries[i]);
    if (logged && (logged->has_vote() ? logged->vote().signature() : logged->proposal().signature()) == sig) return;
  }
  Fail("DURABILITY: node " + std::to_string(n.index) + " sent an own message that is not in its synced WAL");
}

void Sim::CheckDecided(Node& n, const pb::Block& b, const pb::Commit& c, bool from_sync) {
  const int64_t h = b.header().height();
  const std::string id = HashString(BlockId(b.header()));
  const std::string who = "node " + std::to_string(n.index) + " height " + std::to_string(h) + ": ";
  if (Status st = VerifyCommit(kChain, SetAt(h), h, id, c); !st.ok())
    Fail("VALIDITY: " + who + "bad commit: " + st.message());
  if (Status st = CheckBlockBody(b); !st.ok()) Fail("VALIDITY: " + who + "body does not match header: " + st.message());
  if (Status st = ValidateFor(n, b); !st.ok()) Fail("VALIDITY: " + who + "invalid block: " + st.message());
  // BFT time: within the stamps honest validators put on the last commit, whatever the Byzantine
  // ones stamped or the proposer picked (the commit verified against the set of h - 1, where the
  // Byzantine hold less than a third).
  if (h > 1) {
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (const auto& sig : b.last_commit().signatures()) {
      for (const auto& node : nodes_) {
        if (node.address != sig.validator_address() || node.byzantine) continue;
        lo = std::min(lo, sig.timestamp_ms());
        hi = std::max(hi, sig.timestamp_ms());
      }
    }
    const int64_t t = b.header().time_ms();
    if (lo > hi || t < lo || t > hi) {
      Fail("BFT TIME: " + who + "time " + std::to_string(t) + " outside the honest stamps [" + std::to_string(lo) +
           ", " + std::to_string(hi) + "] of its last commit");
    }
  }
  if (n.byzantine) return;
  auto [it, fresh] = decided_.emplace(h, id);
  if (!fresh && it->second != id) Fail("SAFETY: two different blocks decided at height " + std::to_string(h) + " (" + who + ")");
  // Liveness: the wait for this decision, once the network is stable and nodes caught up. A node
  // outside the set decides from the same messages, so it is held to the same bound; a node that
  // just joined the set was following until then, so it is no further behind than a validator.
  const int64_t settled = kGstMs + kSettleMs;
  if (now_ > settled) {
    const int64_t gap = now_ - std::max(n.last_decision_ms, settled);
    result_.max_decide_gap_ms = std::max(result_.max_decide_gap_ms, gap);
    if (gap > kDecideGapMaxMs) {
      Fail("LIVENESS: " + who + "waited " + std::to_string(gap) + " ms for a decision after GST" +
           (from_sync ? " (by sync)" : ""));
    }
  }
}

// The engine keeps, per height: rounds up to its lookahead past the current one; per round, type
// and validator of the height's set two arbitrary votes plus one for nil and one per proposal of
// the height; one proposal per round; held next-height messages within limits.h, per validator of
// the next height's set (only they verify). The WAL holds what the engine accepted (counted in the
// stats), its own messages and the timeouts.
void Sim::CheckMemory(const Node& n) {
  const EngineStats st = n.engine->Stats();
  const int64_t round = n.engine->round();
  const int64_t vals = SetAt(n.engine->height()).validators_size();
  const int64_t next_vals = SetAt(n.engine->height() + 1).validators_size();
  const int64_t rounds_max = round + 1 + limits::kConsensusRoundsAheadMax;
  const int64_t votes_max = static_cast<int64_t>(st.rounds) * 2 * vals * (3 + static_cast<int64_t>(st.proposals));
  const int64_t held_max =
      std::min<int64_t>(next_vals * static_cast<int64_t>(limits::kConsensusHeldPerValidatorMax),
                        static_cast<int64_t>(limits::kConsensusHeldMessagesMax));
  const int64_t wal_max = static_cast<int64_t>(st.votes + st.proposals) + 3 * (round + 1) * 4 + 16;
  result_.max_round = std::max(result_.max_round, round);
  const std::string who = "MEMORY: node " + std::to_string(n.index) + " ";
  if (round > kHonestRoundMax) Fail(who + "reached round " + std::to_string(round) + " (round-skip)");
  if (static_cast<int64_t>(st.rounds) > rounds_max) Fail(who + "keeps " + std::to_string(st.rounds) + " rounds");
  if (static_cast<int64_t>(st.votes) > votes_max) Fail(who + "keeps " + std::to_string(st.votes) + " votes");
  if (st.proposals > st.rounds) Fail(who + "keeps more proposals than rounds");
  if (st.seen_signatures > st.votes) Fail(who + "remembers signatures of votes it does not keep");
  if (static_cast<int64_t>(st.held_messages) > held_max || st.held_bytes > limits::kConsensusHeldBytesMax) {
    Fail(who + "holds " + std::to_string(st.held_messages) + " next-height messages");
  }
  if (st.verdicts > 2 * st.proposals + 2) Fail(who + "caches " + std::to_string(st.verdicts) + " block verdicts");
  // A proposal, a prevote and a precommit per round, plus the vote recovered from the signer after
  // a crash, which may be of a round the engine has not reached yet.
  if (static_cast<int64_t>(st.own_messages) > 3 * (round + 1) + 1) Fail(who + "re-sends " + std::to_string(st.own_messages) + " own messages");
  if (static_cast<int64_t>(n.wal.entries.size()) > wal_max) {
    Fail(who + "WAL holds " + std::to_string(n.wal.entries.size()) + " entries at round " + std::to_string(round));
  }
}

void Sim::RecordEvidence(Node& n, const pb::DuplicateVoteEvidence& ev) {
  const pb::Vote& a = ev.vote_a();
  const pb::Vote& b = ev.vote_b();
  // Against the set of the votes' height: the equivocator was a validator there.
  const pb::ValidatorSet& vals = SetAt(a.height());
  if (!VerifyVote(kChain, vals, a).ok() || !VerifyVote(kChain, vals, b).ok() ||
      a.validator_address() != b.validator_address() || a.height() != b.height() ||
      a.round() != b.round() || a.type() != b.type() || a.block_id() == b.block_id()) {
    Fail("EVIDENCE: node " + std::to_string(n.index) + " reported bogus evidence");
  }
  for (const auto& other : nodes_) {
    if (other.address == a.validator_address() && !other.byzantine) Fail("EVIDENCE: against an honest validator");
  }
  n.evidence_keys.insert(Key(a.validator_address(), a.height(), a.round(), std::to_string(a.type())));
  result_.evidence++;
}

// Every equivocation an honest node received at its height must have produced evidence there.
// Forged votes are among those received, so a pair only counts once both verify, against the set
// of their height (a Byzantine node outside that set signs votes no engine counts).
void Sim::CheckEvidence() {
  for (const auto& n : nodes_) {
    if (n.byzantine) continue;
    std::map<std::string, std::vector<const pb::Vote*>> by_key;
    for (const auto& v : n.votes_seen_at_height) {
      by_key[Key(v.validator_address(), v.height(), v.round(), std::to_string(v.type()))].push_back(&v);
    }
    for (const auto& [key, votes] : by_key) {
      if (votes.size() < 2 || n.evidence_keys.count(key)) continue;
      std::set<std::string> ids;
      for (const pb::Vote* v : votes) {
        if (VerifyVote(kChain, SetAt(v->height()), *v).ok()) ids.insert(v->block_id());
      }
      if (ids.size() > 1) {
        Fail("EVIDENCE: node " + std::to_string(n.index) + " saw an equivocation " + key + " but reported none");
        return;
      }
    }
  }
}

// Over every honest node of the pool, in the current set or not: followers decide from the same
// messages as validators, and must keep up, or they could not join the set later.
void Sim::CheckLiveness() {
  if (height_at_gst_ < 0) return;
  if (result_.min_honest_height < height_at_gst_ + kMinProgressAfterGst) {
    Fail("LIVENESS: after the network healed at " + std::to_string(kGstMs) + " ms (max height " +
         std::to_string(height_at_gst_) + "), an honest node only reached height " +
         std::to_string(result_.min_honest_height));
    return;
  }
  for (const auto& n : nodes_) {
    if (n.byzantine) continue;
    const int64_t gap = opts_.duration_ms - std::max(n.last_decision_ms, kGstMs + kSettleMs);
    result_.max_decide_gap_ms = std::max(result_.max_decide_gap_ms, gap);
    if (gap > kDecideGapMaxMs) {
      Fail("LIVENESS: node " + std::to_string(n.index) + " decided nothing in the last " + std::to_string(gap) + " ms");
    }
  }
}

}  // namespace v2g::sim
