#include "contracts/app.h"

#include <algorithm>
#include <map>

#include "common/checked.h"
#include "common/limits.h"
#include "common/signbytes.h"
#include "contracts/escrow.h"
#include "contracts/gov.h"
#include "contracts/grid.h"
#include "contracts/market.h"
#include "contracts/meters.h"
#include "contracts/params.h"
#include "contracts/pools.h"
#include "contracts/state.h"
#include "contracts/state_tree.h"

namespace v2g {
namespace {

// True when `bytes` is exactly the deterministic encoding of `msg` with no unknown fields: this
// makes every tx's encoding (and so its hash) unique, which stops a relayer from re-encoding a
// signed tx into a "different" tx with the same signature.
template <typename M>
bool ParseCanonical(std::string_view bytes, M& msg) {
  if (!msg.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  M copy = msg;
  copy.DiscardUnknownFields();
  return Encode(copy) == bytes;
}

bool ValidDenomName(std::string_view d) {
  if (d.size() < limits::kDenomNameMin || d.size() > limits::kDenomNameMax) return false;
  for (char c : d) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  }
  return d[0] >= 'A' && d[0] <= 'Z';
}

Status CheckCoinFields(std::string_view what, std::string_view denom, int64_t amount) {
  if (!ValidDenomName(denom)) {
    return Error(Code::kInvalidArgument, std::string(what) + " denomination '" + std::string(denom) +
                                             "' is not a valid name (2-16 of A-Z, 0-9)");
  }
  if (amount <= 0) {
    return Error(Code::kInvalidArgument, Text(std::string(what) + " amount must be positive, got {amount}")
                                             .Amount("amount", denom, amount));
  }
  return Status::Ok();
}

// A transfer or mint recipient. Not a module account (market escrow, grid budgets): each holds
// exactly what its records lock (CheckMarketEscrow, CheckGridEscrow), so anything sent there by
// hand would be stuck for good and make every later audit report corruption.
Status CheckRecipient(std::string_view what, const std::string& to) {
  auto a = AddressFromBytes(to);
  if (!a.ok()) return Error(Code::kInvalidArgument, std::string(what) + " recipient: " + a.status().message());
  if (IsModuleAddress(*a)) {
    return Error(Code::kInvalidArgument, std::string(what) + " recipient is a module account (market escrow or grid "
                                                             "budgets), which only the ledger's own rules pay into");
  }
  return Status::Ok();
}

// The fee rule of params.fee_min (docs/DESIGN.md "The cost of state"): stateless, so a tx that
// does not offer enough is refused before its signature is checked.
Status CheckFee(const pb::TxBody& body, const pb::ParamsRecord& params) {
  if (body.has_fee()) V2G_RETURN_IF_ERROR(CheckCoinFields("fee", body.fee().denom(), body.fee().amount()));
  if (params.fee_min() <= 0) return Status::Ok();
  const int64_t need = RequiredFee(params, body);
  const std::string want = "at least {need} ({fee_min} per fee unit x " + std::to_string(TxFeeUnits(body)) + " fee units)";
  auto fee_text = [&](const std::string& tmpl) {
    return Text(tmpl + want).Amount("need", params.market_denom(), need).Amount("fee_min", params.market_denom(), params.fee_min());
  };
  if (!body.has_fee()) return Error(Code::kFeeTooLow, fee_text("tx carries no fee; this chain requires "));
  if (body.fee().denom() != params.market_denom()) {
    return Error(Code::kFeeTooLow, fee_text("fee is in " + body.fee().denom() + "; this chain requires "));
  }
  if (body.fee().amount() < need) {
    return Error(Code::kFeeTooLow, fee_text("fee is {fee}; this chain requires ").Amount("fee", body.fee().denom(), body.fee().amount()));
  }
  return Status::Ok();
}

Status CheckBody(const pb::TxBody& body, const pb::ParamsRecord& params) {
  if (static_cast<int64_t>(body.memo().size()) > params.memo_bytes_max()) {
    return Error(Code::kTooLarge, "memo is " + std::to_string(body.memo().size()) +
                                      " bytes, limit " + std::to_string(params.memo_bytes_max()));
  }
  if (body.nonce() == 0) return Error(Code::kInvalidArgument, "nonce must start at 1");
  V2G_RETURN_IF_ERROR(CheckFee(body, params));
  switch (body.op_case()) {
    case pb::TxBody::kTransfer: {
      const auto& t = body.transfer();
      V2G_RETURN_IF_ERROR(CheckRecipient("transfer", t.to()));
      return CheckCoinFields("transfer", t.denom(), t.amount());
    }
    case pb::TxBody::kMint: {
      const auto& m = body.mint();
      V2G_RETURN_IF_ERROR(CheckRecipient("mint", m.to()));
      return CheckCoinFields("mint", m.denom(), m.amount());
    }
    case pb::TxBody::kBurn:
      return CheckCoinFields("burn", body.burn().denom(), body.burn().amount());
    case pb::TxBody::kRegisterMeter:
    case pb::TxBody::kRegisterMeters:
    case pb::TxBody::kRotateMeterKey:
    case pb::TxBody::kTransferMeter:
    case pb::TxBody::kDeactivateMeter:
    case pb::TxBody::kSubmitReadings:
    case pb::TxBody::kSubmitOcmf:
      return CheckMeterOp(body);
    case pb::TxBody::kPlaceOrder:
    case pb::TxBody::kCancelOrder:
    case pb::TxBody::kProposeContract:
    case pb::TxBody::kAcceptContract:
    case pb::TxBody::kCancelContract:
      return CheckMarketOp(body, params);
    case pb::TxBody::kSetTariff:
    case pb::TxBody::kEnrollTariff:
    case pb::TxBody::kPayDebt:
    case pb::TxBody::kCreateEvent:
    case pb::TxBody::kEnrollEvent:
    case pb::TxBody::kCreateProgram:
    case pb::TxBody::kJoinProgram:
      return CheckGridOp(body, params);
    case pb::TxBody::kCreatePool:
    case pb::TxBody::kJoinPool:
    case pb::TxBody::kLeavePool:
      return CheckPoolOp(body);
    case pb::TxBody::kSubmitProposal:
    case pb::TxBody::kVoteProposal:
    case pb::TxBody::kRotateValidatorKey:
      return CheckGovOp(body);
    case pb::TxBody::OP_NOT_SET:
      break;
  }
  return Error(Code::kInvalidArgument, "tx has no operation");
}

Result<pb::DenomRecord> RequireDenom(const KvReader& state, std::string_view denom) {
  auto d = LoadDenom(state, denom);
  if (!d) return Error(Code::kUnknownDenom, "unknown denomination '" + std::string(denom) + "'");
  return *d;
}

Status ApplyOp(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params,
               pb::AccountRecord& signer_rec, Overlay& state, std::vector<std::function<Status()>>& credits,
               pb::TxResult* result) {
  const pb::TxBody& body = tx.body;
  switch (body.op_case()) {
    case pb::TxBody::kRegisterMeter:
    case pb::TxBody::kRegisterMeters:
    case pb::TxBody::kRotateMeterKey:
    case pb::TxBody::kTransferMeter:
    case pb::TxBody::kDeactivateMeter:
    case pb::TxBody::kSubmitReadings:
    case pb::TxBody::kSubmitOcmf:
      return ApplyMeterOp(tx, ctx, params, state, result);
    case pb::TxBody::kPlaceOrder:
    case pb::TxBody::kCancelOrder:
    case pb::TxBody::kProposeContract:
    case pb::TxBody::kAcceptContract:
    case pb::TxBody::kCancelContract:
      return ApplyMarketOp(tx, ctx, params, signer_rec, state, result);
    case pb::TxBody::kSetTariff:
    case pb::TxBody::kEnrollTariff:
    case pb::TxBody::kPayDebt:
    case pb::TxBody::kCreateEvent:
    case pb::TxBody::kEnrollEvent:
    case pb::TxBody::kCreateProgram:
    case pb::TxBody::kJoinProgram:
      return ApplyGridOp(tx, ctx, params, signer_rec, state, result);
    case pb::TxBody::kCreatePool:
    case pb::TxBody::kJoinPool:
    case pb::TxBody::kLeavePool:
      return ApplyPoolOp(tx, ctx, params, state, result);
    case pb::TxBody::kSubmitProposal:
    case pb::TxBody::kVoteProposal:
    case pb::TxBody::kRotateValidatorKey:
      return ApplyGovOp(tx, ctx, params, state, result);
    case pb::TxBody::kTransfer: {
      const auto& t = body.transfer();
      auto d = RequireDenom(state, t.denom());
      if (!d.ok()) return d.status();
      V2G_RETURN_IF_ERROR(DebitRecord(signer_rec, tx.signer, t.denom(), t.amount(), "to transfer"));
      Address to = *AddressFromBytes(t.to());
      credits.push_back([&state, to, &t] { return CreditAccount(state, to, t.denom(), t.amount()); });
      return Status::Ok();
    }
    case pb::TxBody::kMint: {
      const auto& m = body.mint();
      auto d = RequireDenom(state, m.denom());
      if (!d.ok()) return d.status();
      if (d->issuer() != AddressBytes(tx.signer)) {
        return Error(Code::kUnauthorized, EncodeAddress(tx.signer) + " is not the issuer of " + m.denom());
      }
      pb::SupplyRecord supply = LoadSupply(state, m.denom());
      auto minted = CheckedAdd(supply.minted(), m.amount());
      if (!minted) {
        return Error(Code::kOverflow, Text("minting {amount} would overflow its supply").Amount("amount", m.denom(), m.amount()));
      }
      supply.set_minted(*minted);
      state.Put(SupplyKey(m.denom()), Encode(supply));
      Address to = *AddressFromBytes(m.to());
      credits.push_back([&state, to, &m] { return CreditAccount(state, to, m.denom(), m.amount()); });
      return Status::Ok();
    }
    case pb::TxBody::kBurn: {
      const auto& b = body.burn();
      auto d = RequireDenom(state, b.denom());
      if (!d.ok()) return d.status();
      if (d->issuer() != AddressBytes(tx.signer)) {
        return Error(Code::kUnauthorized, EncodeAddress(tx.signer) + " is not the issuer of " + b.denom());
      }
      V2G_RETURN_IF_ERROR(DebitRecord(signer_rec, tx.signer, b.denom(), b.amount(), "to burn"));
      pb::SupplyRecord supply = LoadSupply(state, b.denom());
      auto burned = CheckedAdd(supply.burned(), b.amount());
      V2G_ASSERT(burned.has_value());  // burned <= minted always
      supply.set_burned(*burned);
      state.Put(SupplyKey(b.denom()), Encode(supply));
      return Status::Ok();
    }
    case pb::TxBody::OP_NOT_SET:
      break;
  }
  return Error(Code::kInvalidArgument, "tx has no operation");
}

// The half of a tx every path pays, whether its operation then succeeds (ApplyTx) or fails in a
// block (ChargeFailedTx), kept in one place so the two cannot drift: the nonce must be exactly the
// signer's last + 1 and is used, and the fee (if any) is debited from `signer_rec` and burned, in
// `state`'s supply record of its denomination. The caller stores `signer_rec`. On error `state`
// is untouched (`signer_rec` may not be: the caller drops it).
//
// Burned, not paid to the block's proposer (docs/DESIGN.md "The cost of state"): validators of a
// permissioned chain are paid off-chain, and a fee its own proposer pocketed would make a Byzantine
// validator's spam in its own blocks free. Burned, it costs whoever sends it the same in any block.
Status PayFeeAndUseNonce(const CheckedTx& tx, pb::AccountRecord& signer_rec, Overlay& state) {
  if (tx.body.nonce() <= signer_rec.nonce()) {
    return Error(Code::kNonceReplayed, "nonce " + std::to_string(tx.body.nonce()) +
                                           " already used; next is " + std::to_string(signer_rec.nonce() + 1));
  }
  if (tx.body.nonce() != signer_rec.nonce() + 1) {
    return Error(Code::kNonceGap, "nonce " + std::to_string(tx.body.nonce()) + " skips ahead; next is " +
                                      std::to_string(signer_rec.nonce() + 1));
  }
  signer_rec.set_nonce(tx.body.nonce());
  if (!tx.body.has_fee()) return Status::Ok();
  const auto& fee = tx.body.fee();
  V2G_ASSERT(fee.amount() > 0);  // CheckBody refused any other
  auto d = RequireDenom(state, fee.denom());
  if (!d.ok()) return d.status();
  V2G_RETURN_IF_ERROR(DebitRecord(signer_rec, tx.signer, fee.denom(), fee.amount(), "for the fee"));
  pb::SupplyRecord supply = LoadSupply(state, fee.denom());
  auto burned = CheckedAdd(supply.burned(), fee.amount());
  // The fee came out of a balance, so burned stays <= minted: the sum cannot overflow.
  V2G_ASSERT(burned.has_value() && *burned <= supply.minted());
  supply.set_burned(*burned);
  state.Put(SupplyKey(fee.denom()), Encode(supply));
  return Status::Ok();
}

// Pays the fee of a tx whose operation failed in a block, and uses its nonce (ExecuteBlock).
// Nothing when the tx carries no fee, or its nonce or fee would not have passed: then the tx was
// never valid (a faulty proposer's) and changes nothing at all.
bool ChargeFailedTx(const CheckedTx& tx, Overlay& state) {
  if (!tx.body.has_fee()) return false;
  Overlay scratch(&state);
  pb::AccountRecord signer_rec = LoadAccount(scratch, tx.signer);
  if (!PayFeeAndUseNonce(tx, signer_rec, scratch).ok()) return false;
  StoreAccount(scratch, tx.signer, signer_rec);
  scratch.MergeInto(state);
  return true;
}

}  // namespace

int64_t TxFeeUnits(const pb::TxBody& body) {
  switch (body.op_case()) {
    case pb::TxBody::kSubmitReadings:
      return 1 + body.submit_readings().readings_size();
    case pb::TxBody::kSubmitOcmf:
      return 1 + body.submit_ocmf().records_size();
    case pb::TxBody::kRegisterMeters:
      return 1 + body.register_meters().meters_size();
    case pb::TxBody::kSubmitProposal:
      // Kept in state for good and read by everyone: one more unit per KiB of text.
      return 1 + static_cast<int64_t>(body.submit_proposal().title().size() +
                                      body.submit_proposal().description().size()) /
                     1024;
    default:
      return 1;
  }
}

int64_t TxBytesFeeUnits(std::string_view tx_bytes) {
  pb::Tx tx;
  pb::TxBody body;
  if (!ParseCanonical(tx_bytes, tx) || !ParseCanonical(tx.body(), body)) return 1;
  return TxFeeUnits(body);
}

int64_t RequiredFee(const pb::ParamsRecord& params, const pb::TxBody& body) {
  // Bounded before the product: a record outside the genesis range, or a batch past the tx size
  // limit that CheckBody has not refused yet, saturates instead of wrapping.
  return MulSaturating(std::clamp<int64_t>(params.fee_min(), 0, limits::kFeeMinMax), TxFeeUnits(body));
}

Result<CheckedTx> CheckTxStateless(std::string_view bytes, std::string_view chain_id,
                                   const pb::ParamsRecord& params, bool verify_signature) {
  if (static_cast<int64_t>(bytes.size()) > params.tx_bytes_max()) {
    return Error(Code::kTooLarge, "tx is " + std::to_string(bytes.size()) + " bytes, limit " +
                                      std::to_string(params.tx_bytes_max()));
  }
  CheckedTx out;
  if (!ParseCanonical(bytes, out.tx)) {
    return Error(Code::kMalformed, "tx is not a canonically encoded protobuf Tx");
  }
  if (out.tx.signer_pubkey().size() != kPublicKeyBytes) {
    return Error(Code::kMalformed, "signer_pubkey must be 32 bytes, got " + std::to_string(out.tx.signer_pubkey().size()));
  }
  if (out.tx.signature().size() != kSignatureBytes) {
    return Error(Code::kMalformed, "signature must be 64 bytes, got " + std::to_string(out.tx.signature().size()));
  }
  if (!ParseCanonical(out.tx.body(), out.body)) {
    return Error(Code::kMalformed, "tx body is not a canonically encoded protobuf TxBody");
  }
  if (out.body.chain_id() != chain_id) {
    return Error(Code::kWrongChainId, "tx is for chain '" + out.body.chain_id() + "', this is '" +
                                          std::string(chain_id) + "'");
  }
  V2G_RETURN_IF_ERROR(CheckBody(out.body, params));
  std::copy(out.tx.signer_pubkey().begin(), out.tx.signer_pubkey().end(), out.signer_pubkey.begin());
  if (verify_signature &&
      // Cached, also when it fails: the same forged tx resent to the API, re-gossiped or put in a
      // block by a faulty proposer costs a hash, not another Ed25519 verification.
      !VerifyRawCached(out.tx.signer_pubkey(), TxSignBytes(chain_id, out.tx.body()), out.tx.signature())) {
    return Error(Code::kBadSignature, "signature does not verify against signer_pubkey");
  }
  out.signer = AddressFromPublicKey(out.signer_pubkey);
  out.bytes = std::string(bytes);
  out.hash = Blake2b256(bytes);
  return out;
}

Status ApplyTx(const CheckedTx& tx, const BlockContext& ctx, Overlay& state, pb::TxResult* result) {
  return ApplyTx(tx, ctx, LoadParams(state), state, result);
}

Status ApplyTx(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params, Overlay& state,
               pb::TxResult* result) {
  V2G_ASSERT(tx.body.chain_id() == ctx.chain_id);
  Overlay scratch(&state);
  pb::AccountRecord signer_rec = LoadAccount(scratch, tx.signer);
  V2G_RETURN_IF_ERROR(PayFeeAndUseNonce(tx, signer_rec, scratch));
  // Credits are applied after the signer's record is stored, so a self-transfer reads the debited
  // balance instead of overwriting it.
  std::vector<std::function<Status()>> credits;
  V2G_RETURN_IF_ERROR(ApplyOp(tx, ctx, params, signer_rec, scratch, credits, result));
  StoreAccount(scratch, tx.signer, signer_rec);
  for (auto& credit : credits) V2G_RETURN_IF_ERROR(credit());
  scratch.MergeInto(state);
  return Status::Ok();
}

BlockOutcome ExecuteBlock(const BlockContext& ctx, const std::vector<std::string>& txs,
                          const std::function<bool(const Hash256&)>& already_verified,
                          Overlay& state) {
  // Governance first: what passed in the block before applies to everything in this one (a
  // changed parameter to its txs; block limits were fixed when it was proposed, so those from the
  // next block), and a suspended market is suspended before its gate closure is handled.
  RunGovTimers(ctx, state);
  const pb::ParamsRecord params = LoadParams(state);
  // Clearings and settlements due at this block's time run before its txs, so an order placed
  // in this block can never join a market that is already past gate closure.
  RunMarketTimers(ctx, params, state);
  // Then grid services for every interval the market has just settled (contracts/grid.h).
  RunGridTimers(ctx, params, state);
  BlockOutcome out;
  out.results.reserve(txs.size());
  for (const std::string& bytes : txs) {
    Hash256 hash = Blake2b256(bytes);
    out.tx_hashes.push_back(hash);
    bool verified = already_verified && already_verified(hash);
    auto checked = CheckTxStateless(bytes, ctx.chain_id, params, !verified);
    pb::TxResult r;
    Status st = checked.ok() ? ApplyTx(*checked, ctx, params, state, &r) : checked.status();
    if (!st.ok()) {
      r.Clear();  // a failed tx changed nothing but its fee and nonce, so it reports nothing but why
      Text why = st.text();
      if (checked.ok() && ChargeFailedTx(*checked, state)) why = Text(why.tmpl() + " (the fee was charged)", why.fields());
      SetLog(&r, why);
    }
    r.set_code(static_cast<uint32_t>(st.code()));
    out.results.push_back(std::move(r));
  }
  // The set that signs the next block: a change executed in the block before this one takes
  // effect at the next height. Last, so this block's txs and governance count the set of this
  // block's own height.
  ShiftValidators(state, ctx.height);
  return out;
}

Result<Hash256> InitChain(const GenesisState& g, Overlay& state) {
  for (const auto& d : g.denoms) {
    if (LoadDenom(state, d.name)) return Error(Code::kAlreadyExists, "denomination " + d.name + " listed twice");
    pb::DenomRecord rec;
    rec.set_name(d.name);
    rec.set_decimals(d.decimals);
    rec.set_issuer(AddressBytes(d.issuer));
    state.Put(DenomKey(d.name), Encode(rec));
  }
  for (const auto& b : g.balances) {
    if (!LoadDenom(state, b.denom)) return Error(Code::kUnknownDenom, "balance in unknown denomination " + b.denom);
    if (IsModuleAddress(b.address)) {
      return Error(Code::kInvalidArgument, "genesis balance for a module account, which holds escrow and budgets only");
    }
    pb::SupplyRecord supply = LoadSupply(state, b.denom);
    auto minted = CheckedAdd(supply.minted(), b.amount);
    if (!minted) return Error(Code::kOverflow, "genesis balances of " + b.denom + " overflow");
    supply.set_minted(*minted);
    state.Put(SupplyKey(b.denom), Encode(supply));
    V2G_RETURN_IF_ERROR(CreditAccount(state, b.address, b.denom, b.amount));
  }
  for (const auto& d : g.denoms) {  // every denomination has a supply record, even at zero
    if (!state.Get(SupplyKey(d.name))) state.Put(SupplyKey(d.name), Encode(pb::SupplyRecord()));
  }
  for (const auto& r : g.roles) state.Put(RoleKey(r.role, r.address), "");
  for (const auto& z : g.zones) {
    if (LoadZone(state, z.name)) return Error(Code::kAlreadyExists, "zone " + z.name + " listed twice");
    pb::ZoneRecord rec;
    rec.set_name(z.name);
    rec.set_grid_company(AddressBytes(z.grid_company));
    state.Put(ZoneKey(z.name), Encode(rec));
  }
  pb::ValidatorSet vs;
  for (const auto& v : g.validators) {
    auto* r = vs.add_validators();
    r->set_name(v.name);
    r->set_address(AddressBytes(v.address));
    r->set_consensus_pubkey(std::string(v.consensus_pubkey.begin(), v.consensus_pubkey.end()));
    r->set_node_pubkey(std::string(v.node_pubkey.begin(), v.node_pubkey.end()));
    r->set_power(v.power);
  }
  state.Put(kValidatorsKey, Encode(vs));
  state.Put(ValidatorSetKey(1), Encode(vs));
  const pb::ParamsRecord p = ParamsRecordOf(g.params);
  state.Put(kParamsKey, Encode(p));
  InitGridServices(p, g.genesis_time_ms, state);
  MemKv empty;
  auto tree = UpdateStateTree(empty, 0, state.writes());
  if (!tree.ok()) return tree.status();
  return tree->root;
}

Status CheckConservation(const KvReader& state) {
  std::map<std::string, Int128> sums;
  state.Scan(kAccountPrefix, [&](std::string_view, std::string_view v) {
    auto rec = DecodeRecord<pb::AccountRecord>(std::string(v));
    for (const auto& c : rec.balances()) sums[c.denom()] += c.amount();
    return true;
  });
  Status result;
  state.Scan(kSupplyPrefix, [&](std::string_view k, std::string_view v) {
    std::string denom(k.substr(kSupplyPrefix.size()));
    auto s = DecodeRecord<pb::SupplyRecord>(std::string(v));
    Int128 want = static_cast<Int128>(s.minted()) - s.burned();
    if (sums[denom] != want) {
      result = Error(Code::kCorruption, "conservation broken for " + denom + ": balances sum to " +
                                            std::to_string(static_cast<int64_t>(sums[denom])) +
                                            ", minted - burned is " + std::to_string(static_cast<int64_t>(want)));
      return false;
    }
    sums.erase(denom);
    return true;
  });
  if (!result.ok()) return result;
  for (const auto& [denom, sum] : sums) {
    if (sum != 0) return Error(Code::kCorruption, "balances in " + denom + " with no supply record");
  }
  return Status::Ok();
}

}  // namespace v2g
