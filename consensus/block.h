// Block and commit rules shared by block production, block sync and verify-chain. Pure
// functions: no I/O, no clock.
#pragma once

#include <functional>
#include <string>

#include "common/crypto.h"
#include "common/status.h"
#include "proto/v2g.pb.h"

namespace v2g {

// Block id = BLAKE2b-256 of the deterministically encoded header.
Hash256 BlockId(const pb::Header& header);
// Hash of a commit (goes into the next header's last_commit_hash); H("") for an empty commit.
Hash256 CommitHash(const pb::Commit& commit);
// Hash of the validator set record as stored.
Hash256 ValidatorSetHash(const pb::ValidatorSet& set);
int64_t TotalPower(const pb::ValidatorSet& set);
// Merkle root of the block's encoded evidence.
Hash256 EvidenceHash(const pb::Block& block);

// What a header must agree with: the chain's state after the previous block.
struct ChainTip {
  std::string chain_id;
  int64_t height = 0;          // last committed height (0 = only genesis)
  std::string block_id;        // last committed block id (empty at genesis)
  int64_t time_ms = 0;         // last block time (genesis time at height 0)
  std::string app_hash;        // state root after the last committed block
  std::string validators_hash;       // of the set that signs height + 1
  std::string next_validators_hash;  // of the set that signs height + 2
};

// The validator set of a height as the chain knows it (contracts/state.h ValidatorsAt): up to two
// heights past the last block executed.
using ValidatorSetsAt = std::function<pb::ValidatorSet(int64_t height)>;

// The body is the one the header commits to: data_hash covers the txs, evidence_hash the
// evidence and last_commit_hash the last commit, so a block id (the header's hash) names one
// whole block. Pure and stateless: a block that fails it is a forgery of its header's body, which
// says nothing about the header itself (the proposer may have sent the right body elsewhere).
Status CheckBlockBody(const pb::Block& block);

// BFT time (as CometBFT before proposer-based timestamps): the time of block H > 1 is the
// voting-power-weighted median of the precommit timestamps in its last_commit, so no proposer
// chooses it. Sorted by timestamp, it is the first whose cumulative power is more than half the
// commit's. The commit holds more than 2/3 of the power and the faulty less than 1/3, so the faulty
// hold less than half the commit's: the median lies between the earliest and the latest timestamp
// an honest validator signed for block H-1, whichever signatures a Byzantine proposer includes and
// whatever times Byzantine validators sign. Honest precommits are stamped with the validator's
// clock but never before the block's time + 1 ms, so block time strictly increases. Block 1 has no
// commit: its time is genesis time + 1 ms. `commit` must be non-empty (verified beforehand).
int64_t WeightedMedianTime(const pb::Commit& commit, const pb::ValidatorSet& vals);
// The one header time a block after `tip` may carry (above), given the last_commit it carries.
int64_t BftTime(const ChainTip& tip, const pb::Commit& last_commit, const pb::ValidatorSet& vals);

// Checks a proposed block at height H = tip + 1 against the tip: chain id, height, links, data
// hash, app hash, validators_hash (the set of H) and next_validators_hash (of H+1), proposer in
// the set of H, last commit (verified against the set of H-1 when H > 1), time equal to BftTime
// over that set (hence strictly later), evidence against the set of its votes' height, tx count
// and bytes within params. Does not execute the txs.
Status ValidateBlock(const pb::Block& block, const ChainTip& tip, const ValidatorSetsAt& sets,
                     const pb::ParamsRecord& params);
// The same for a chain whose set never changes (`vals` at every height).
Status ValidateBlock(const pb::Block& block, const ChainTip& tip, const pb::ValidatorSet& vals,
                     const pb::ParamsRecord& params);

// Most pieces of evidence one block may carry (each costs two signature checks).
constexpr int kBlockEvidenceMax = 100;

// A DuplicateVoteEvidence is valid when both votes are validly signed by one validator of `vals`,
// for one height (below block_height), round and type, with different block ids (a < b).
Status ValidateEvidence(const std::string& chain_id, const pb::ValidatorSet& vals, const pb::DuplicateVoteEvidence& ev,
                        int64_t block_height);

// Verifies that `commit` carries valid precommit signatures for `block_id` at `height` from
// validators of `vals` holding more than 2/3 of the voting power. Each validator counts once.
Status VerifyCommit(const std::string& chain_id, const pb::ValidatorSet& vals, int64_t height,
                    const std::string& block_id, const pb::Commit& commit);

}  // namespace v2g
