// Governance (issue 14): the consortium's decisions as txs, the way Cosmos governance and Fabric
// channel configuration updates do, without giving any single member power over the rest.
//
// A validator (with its current consensus key) or a holder of the `proposer` role submits a
// proposal (SubmitProposal); validators vote (VoteProposal) by voting power, a later vote
// replacing an earlier one while the proposal is open. It passes as soon as more than 2/3 of the
// power of the validator set then in force votes yes (counted at each vote); it is rejected as
// soon as more than 1/3 votes no (a veto: honest validators clear spam that fills the open
// slots at once), or when its voting period (params.gov_voting_period_s, block time) ends. A
// proposal that passed in block H executes at the start of block H+1, before that block's timers
// and txs: an op that needs a revoked role fails from H+1 on, and not before. A passed proposal
// whose action can no longer apply then (the state changed since it was submitted) is FAILED and
// changes nothing.
//
// Actions (pb::GovAction): grant or revoke a role (operator, grid_company, aggregator, proposer);
// set or clear a denomination's issuer; add a zone or move it to another grid company; change a
// parameter that is safe to change on a running chain (GovParams()) within its range
// (contracts/params.h); suspend or resume a zone's market (the emergency brake); none (a text
// proposal, a recorded decision). No action mints, burns or moves funds: governance has no way
// to touch balances, escrow or budgets; plan or cancel a software upgrade (below).
//
// Software upgrades (as Cosmos x/upgrade): a plan names an upgrade, a height and a version
// ("MAJOR.MINOR.PATCH"). From that height only nodes running that version or a later one execute
// blocks: a node running an earlier one stops before the height (consensus and block sync; its
// API keeps answering, /v1/status says why) and goes on once restarted on a new enough version. The
// plan's height is after the block the proposal executes in and at most
// limits::kUpgradeHeightsAheadMax past it. One plan is pending at a time (a new one replaces it; a
// cancel proposal drops it); block `height` records it as done (s/gov/upg/done/<name>, and
// s/gov/upg/last when its version is the latest), and a name is never planned twice; from then on
// a node older than the latest done version runs no block either (a rolled-back binary stops). The
// state machine's rules for a block are those of the version that executes it: a version that
// changes them keeps the old rules for the heights before its upgrade (the plan's height is in
// state), so a node syncing from genesis still agrees with history.
//
// Validator set changes: add a validator (its address is its consensus key's), re-weight one,
// or remove one (power 0). A change executed in block H takes effect at height H+2 (as CometBFT's
// EndBlock updates do): block H+1's proposer has executed H, so header H+1 names the set of H+2
// (next_validators_hash), and every node knows the set of every height it validates. The set of
// H+2 may differ from that of H+1 by at most a third of H+1's power (the sum of every
// validator's change), never falls below limits::kValidatorsMin validators by removal, nor grows
// past kValidatorsMax. Sets are kept by the height they start at (s/valset/, contracts/state.h).
//
// Key rotation (RotateValidatorKey, not a proposal): a validator moves to a new consensus key, a
// new node key or both, from two heights after its block; its address stays. The tx is signed by
// the current consensus key, and the current key and each new key sign ValidatorKeySignBytes. A
// validator whose consensus key rotates counts its power toward the third that may change at
// once; one rotation (of either key) per validator per limits::kValidatorKeyRotationHeightsMin
// heights. A retired node key is kept with its validator's address (kRetiredNodeKeyPrefix).
// A validator's governance txs (proposals, votes, rotations) are signed with its consensus key of
// the block's height (at first the key of its address), so a retired key has no say any more.
//
// Bounds: at most kGovOpenProposalsMax open proposals, kGovOpenProposalsPerProposerMax of one
// proposer; a block's timer pass closes at most those, each counting at most kValidatorsMax
// votes, and executes what passed in the block before (each pass frees its slot at once, so that
// is bounded by what one block's txs can pass: a vote each). A proposal's fee units grow with its
// text (contracts/app.h TxFeeUnits).
//
// Key layout (under s/gov/): p/<id 8B> ProposalRecord; v/<id 8B><voter 20B> GovVoteRecord;
// open/<voting_end_ms 8B><id 8B> the proposer's address (open proposals, by when they close);
// exec/<height 8B><id 8B> "" (passed proposals, by the height they execute at); seq;
// rot/<validator 20B>, nodekey/<node key 32B>, upg/plan, upg/last, upg/done/<name> (below). Open
// proposals' records hold no tally: the API counts their votes (CountVotes); a closed one's is
// its tally at the close.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "contracts/app.h"
#include "contracts/kv.h"
#include "proto/v2g.pb.h"

namespace v2g {

inline constexpr std::string_view kProposalPrefix = "s/gov/p/";
inline constexpr std::string_view kGovVotePrefix = "s/gov/v/";
// s/gov/rot/<validator address 20B>: the height of its last key rotation (8B).
inline constexpr std::string_view kValidatorRotationPrefix = "s/gov/rot/";
// s/gov/nodekey/<retired node key 32B>: the address of the validator that rotated away from it
// (20B): a node that still dials a peer by a retired key finds the validator, and so its key now.
inline constexpr std::string_view kRetiredNodeKeyPrefix = "s/gov/nodekey/";
// s/gov/upg/plan: the pending software upgrade (SoftwareUpgrade); s/gov/upg/done/<name>: a done
// one (SoftwareUpgrade).
inline constexpr std::string_view kUpgradePlanKey = "s/gov/upg/plan";
inline constexpr std::string_view kUpgradeDonePrefix = "s/gov/upg/done/";
// s/gov/upg/last: the done upgrade with the latest version (SoftwareUpgrade): nodes older than it
// run no block after it.
inline constexpr std::string_view kUpgradeLastKey = "s/gov/upg/last";

// A parameter governance may change. The others key records or schedule timers already set
// (settlement_interval_s, market_denom, market_gate_closure_s, market_horizon_s, market_grace_s,
// grid_horizon_s, baseline_days), or are locked into open orders at placement but recomputed at
// clearing (market_collateral_bps), or are read at settlement for trades cleared and contracts
// accepted under the old value (market_penalty_bps: a change would move collateral already in
// escrow): changing them on a running chain would strand or corrupt what is in flight.
struct GovParam {
  std::string_view name;
  int64_t (*get)(const pb::ParamsRecord&);
  void (*set)(pb::ParamsRecord&, int64_t);
};
const std::vector<GovParam>& GovParams();
const GovParam* FindGovParam(std::string_view name);
std::string GovParamNamesText();  // "tx_bytes_max, block_txs_max, ..."

// Stateless checks of SubmitProposal and VoteProposal (sizes, names, addresses, options).
Status CheckGovOp(const pb::TxBody& body);
Status ApplyGovOp(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params,
                  Overlay& state, pb::TxResult* result);

// Executes the proposals due at ctx.height, then closes those whose voting period has ended by
// ctx.time_ms. Runs first in every block (contracts/app.h ExecuteBlock).
void RunGovTimers(const BlockContext& ctx, Overlay& state);

std::string ProposalKey(uint64_t id);
std::string ProposalVotesPrefix(uint64_t id);
std::optional<pb::ProposalRecord> LoadProposal(const KvReader& kv, uint64_t id);
std::vector<pb::GovVoteRecord> LoadProposalVotes(const KvReader& kv, uint64_t id);

// The tally of a proposal's votes by the current validator set's power.
struct GovTally {
  int64_t yes = 0, no = 0, abstain = 0, total = 0;
  bool Passes() const;  // yes > 2/3 of total
  bool Vetoed() const;  // no > 1/3 of total: it can pass only if some of those change their vote
};
GovTally CountVotes(const KvReader& kv, uint64_t id);

std::string_view ProposalStatusName(pb::ProposalStatus s);  // "voting", "passed", ...
std::string_view GovVoteOptionName(pb::GovVoteOption o);    // "yes", "no", "abstain"
std::optional<pb::GovVoteOption> ParseGovVoteOption(std::string_view name);
// "text", "role", "issuer", "zone", "param", "market", "validator", "upgrade"
std::string_view GovActionKind(const pb::GovAction& a);

// Software upgrades: the pending plan, the done one with the latest version, and those done (at
// most `max`: the first by name, in height order).
std::optional<pb::SoftwareUpgrade> LoadUpgradePlan(const KvReader& kv);
std::optional<pb::SoftwareUpgrade> LoadLastUpgrade(const KvReader& kv);
std::vector<pb::SoftwareUpgrade> LoadDoneUpgrades(const KvReader& kv, size_t max);
// Why a node running `version` must not execute block `height` on `state` (the state after
// height - 1): a done upgrade, or a pending plan at or before `height`, needs a later version.
// Nothing when it may.
std::optional<std::string> UpgradeHaltReason(const KvReader& state, int64_t height,
                                             std::string_view version);

}  // namespace v2g
