#include "consensus/block.h"

#include <algorithm>
#include <set>
#include <vector>

#include "common/bech32.h"
#include "common/checked.h"
#include "common/limits.h"
#include "common/signbytes.h"
#include "consensus/tendermint.h"
#include "proto/encode.h"

namespace v2g {

Hash256 BlockId(const pb::Header& header) { return Blake2b256(Encode(header)); }

Hash256 CommitHash(const pb::Commit& commit) { return Blake2b256(Encode(commit)); }

Hash256 ValidatorSetHash(const pb::ValidatorSet& set) { return Blake2b256(Encode(set)); }

Hash256 EvidenceHash(const pb::Block& block) {
  std::vector<std::string> items;
  for (const auto& e : block.evidence()) items.push_back(Encode(e));
  return MerkleRoot(items);
}

int64_t TotalPower(const pb::ValidatorSet& set) {
  int64_t total = 0;
  for (const auto& v : set.validators()) {
    auto sum = CheckedAdd(total, v.power());
    V2G_ASSERT(sum.has_value());  // genesis bounds each power to 2^50 and the set to 150
    total = *sum;
  }
  return total;
}

int64_t WeightedMedianTime(const pb::Commit& commit, const pb::ValidatorSet& vals) {
  std::vector<std::pair<int64_t, int64_t>> stamps;  // (timestamp, power)
  stamps.reserve(commit.signatures_size());
  Int128 total = 0;
  for (const auto& sig : commit.signatures()) {
    for (const auto& v : vals.validators()) {
      if (v.address() != sig.validator_address()) continue;
      stamps.emplace_back(sig.timestamp_ms(), v.power());
      total += v.power();
      break;
    }
  }
  V2G_ASSERT(!stamps.empty());
  std::sort(stamps.begin(), stamps.end());
  Int128 cumulative = 0;
  for (const auto& [ts, power] : stamps) {
    cumulative += power;
    if (cumulative * 2 > total) return ts;
  }
  return stamps.back().first;  // unreachable: the last one brings cumulative to total
}

int64_t BftTime(const ChainTip& tip, const pb::Commit& last_commit, const pb::ValidatorSet& vals) {
  if (tip.height == 0) return tip.time_ms + 1;
  return WeightedMedianTime(last_commit, vals);
}

Status CheckBlockBody(const pb::Block& block) {
  const pb::Header& h = block.header();
  std::vector<std::string> txs(block.txs().begin(), block.txs().end());
  if (h.data_hash() != HashString(MerkleRoot(txs))) return Error(Code::kInvalidArgument, "data_hash does not match the txs");
  if (h.evidence_hash() != HashString(EvidenceHash(block))) {
    return Error(Code::kInvalidArgument, "evidence_hash does not match the evidence");
  }
  if (h.last_commit_hash() != HashString(CommitHash(block.last_commit()))) {
    return Error(Code::kInvalidArgument, "last_commit_hash does not match last_commit");
  }
  return Status::Ok();
}

Status ValidateBlock(const pb::Block& block, const ChainTip& tip, const pb::ValidatorSet& vals,
                     const pb::ParamsRecord& params) {
  return ValidateBlock(
      block, tip, [&](int64_t) { return vals; }, params);
}

Status ValidateBlock(const pb::Block& block, const ChainTip& tip, const ValidatorSetsAt& sets,
                     const pb::ParamsRecord& params) {
  const pb::Header& h = block.header();
  auto bad = [&](const std::string& what) {
    return Error(Code::kInvalidArgument, "block " + std::to_string(h.height()) + ": " + what);
  };
  if (h.chain_id() != tip.chain_id) return bad("chain id '" + h.chain_id() + "' is not '" + tip.chain_id + "'");
  if (h.height() != tip.height + 1) return bad("height does not follow " + std::to_string(tip.height));
  if (h.last_block_id() != tip.block_id) return bad("last_block_id does not match the previous block");
  if (h.app_hash() != tip.app_hash) return bad("app_hash does not match the state after the previous block");
  const pb::ValidatorSet vals = sets(h.height());
  if (h.validators_hash() != HashString(ValidatorSetHash(vals))) {
    return bad("validators_hash does not match the validator set of its height");
  }
  if (h.next_validators_hash() != HashString(ValidatorSetHash(sets(h.height() + 1)))) {
    return bad("next_validators_hash does not match the validator set of the next height");
  }
  if (block.txs_size() > params.block_txs_max()) return bad("too many txs");
  int64_t bytes = 0;
  std::vector<std::string> txs;
  txs.reserve(block.txs_size());
  for (const auto& tx : block.txs()) {
    bytes += static_cast<int64_t>(tx.size());
    txs.push_back(tx);
  }
  if (bytes > params.block_bytes_max()) return bad("txs exceed block_bytes_max");
  if (Status body = CheckBlockBody(block); !body.ok()) return bad(body.message());
  if (block.evidence_size() > kBlockEvidenceMax) return bad("too much evidence");
  std::set<std::string> evidence_keys;
  for (const auto& ev : block.evidence()) {
    // Each vote is checked against the set of its own height (a validator since removed still
    // answers for what it signed while it was one).
    const int64_t at = ev.vote_a().height();
    if (at < 1 || at >= h.height()) return bad("evidence must be for an earlier height");
    if (h.height() - at > limits::kEvidenceMaxAgeHeights) {
      return bad("evidence of height " + std::to_string(at) + " is older than " +
                 std::to_string(limits::kEvidenceMaxAgeHeights) + " heights");
    }
    if (Status st = ValidateEvidence(tip.chain_id, sets(at), ev, h.height()); !st.ok()) {
      return bad("evidence: " + st.message());
    }
    if (!evidence_keys.insert(EquivocationId(ev.vote_a())).second) return bad("the same equivocation is listed twice");
  }
  bool proposer_known = false;
  for (const auto& v : vals.validators()) proposer_known |= v.address() == h.proposer_address();
  if (!proposer_known) return bad("proposer is not a validator");
  // The previous block was signed by the set of its own height.
  const pb::ValidatorSet last_vals = h.height() > 1 ? sets(tip.height) : vals;
  if (h.height() == 1) {
    if (block.last_commit().ByteSizeLong() != 0) return bad("first block must have an empty last_commit");
  } else {
    Status st =
        VerifyCommit(tip.chain_id, last_vals, tip.height, tip.block_id, block.last_commit());
    if (!st.ok()) return bad("last_commit: " + st.message());
  }
  const int64_t want = BftTime(tip, block.last_commit(), last_vals);
  if (h.time_ms() != want) {
    return bad("time " + std::to_string(h.time_ms()) + " is not the BFT time " + std::to_string(want) +
               " (the weighted median of last_commit's timestamps)");
  }
  // Implied by an honest majority (precommits are stamped after the block); checked all the same.
  if (h.time_ms() <= tip.time_ms) return bad("time is not later than the previous block's");
  return Status::Ok();
}

Status ValidateEvidence(const std::string& chain_id, const pb::ValidatorSet& vals, const pb::DuplicateVoteEvidence& ev,
                        int64_t block_height) {
  const pb::Vote& a = ev.vote_a();
  const pb::Vote& b = ev.vote_b();
  if (a.validator_address() != b.validator_address() || a.height() != b.height() || a.round() != b.round() ||
      a.type() != b.type()) {
    return Error(Code::kInvalidArgument, "the two votes are not from one validator at one height, round and type");
  }
  if (!(a.block_id() < b.block_id())) return Error(Code::kInvalidArgument, "votes must differ, in block id order");
  if (a.height() >= block_height) return Error(Code::kInvalidArgument, "evidence must be for an earlier height");
  V2G_RETURN_IF_ERROR(VerifyVote(chain_id, vals, a));
  return VerifyVote(chain_id, vals, b);
}

Status VerifyCommit(const std::string& chain_id, const pb::ValidatorSet& vals, int64_t height,
                    const std::string& block_id, const pb::Commit& commit) {
  if (commit.height() != height) return Error(Code::kInvalidArgument, "commit is for height " + std::to_string(commit.height()));
  if (commit.block_id() != block_id) return Error(Code::kInvalidArgument, "commit is for another block");
  if (commit.round() < 0) return Error(Code::kInvalidArgument, "commit round is negative");
  std::set<std::string> counted;
  int64_t power = 0;
  for (const auto& sig : commit.signatures()) {
    const pb::ValidatorRecord* val = nullptr;
    for (const auto& v : vals.validators()) {
      if (v.address() == sig.validator_address()) val = &v;
    }
    if (!val) return Error(Code::kInvalidArgument, "commit signed by a non-validator");
    if (!counted.insert(sig.validator_address()).second) {
      return Error(Code::kInvalidArgument, "commit has two signatures from one validator");
    }
    std::string msg = VoteSignBytes(chain_id, VoteType::kPrecommit, height, commit.round(), block_id,
                                    sig.timestamp_ms());
    if (!VerifyRawCached(val->consensus_pubkey(), msg, sig.signature())) {
      return Error(Code::kBadSignature, "commit signature of validator " + val->name() + " does not verify");
    }
    power += val->power();
  }
  // More than 2/3: 3 * power > 2 * total, in 128 bits so no product overflows.
  if (static_cast<Int128>(power) * 3 <= static_cast<Int128>(TotalPower(vals)) * 2) {
    return Error(Code::kInvalidArgument, "commit has " + std::to_string(power) + " of " +
                                             std::to_string(TotalPower(vals)) + " voting power, needs more than 2/3");
  }
  return Status::Ok();
}

}  // namespace v2g
