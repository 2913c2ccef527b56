// Renderers of the common pieces (amounts, addresses, times), the chain (params, denominations,
// blocks, commits, evidence, validators) and txs with the dispatch of their op to the module that
// renders it. See render.h.
#include "node/api/render.h"

#include <algorithm>

#include "common/amount.h"
#include "common/bytes.h"
#include "common/crypto.h"
#include "common/signbytes.h"
#include "common/time.h"
#include "consensus/block.h"
#include "contracts/app.h"
#include "contracts/grid.h"
#include "contracts/market.h"
#include "contracts/params.h"
#include "contracts/state.h"

namespace v2g::api {

StateView::StateView(const KvReader& s) : state(s), params(LoadParams(s)) {
  if (auto d = LoadDenom(s, params.market_denom())) market_decimals = d->decimals();
}

bool StateView::market_enabled() const {
  return !params.market_denom().empty() && params.settlement_interval_s() > 0;
}

DisplayUnits DisplayUnitsOf(const StateView& v) {
  DisplayUnits u;
  const KvReader* state = &v.state;
  u.decimals = [state](const std::string& denom) -> std::optional<uint32_t> {
    auto d = LoadDenom(*state, denom);
    if (!d) return std::nullopt;
    return d->decimals();
  };
  u.utc_offset_min = v.params.utc_offset_min();
  return u;
}

Text StoredText(const std::string& plain, const std::string& tmpl,
                const google::protobuf::RepeatedPtrField<pb::TextField>& fields) {
  if (fields.empty()) return Text(plain);
  Text t(tmpl);
  for (const pb::TextField& f : fields) {
    if (f.kind() == static_cast<uint32_t>(TextField::Kind::kTime)) {
      t.Time(f.name(), f.value());
    } else if (f.kind() == static_cast<uint32_t>(TextField::Kind::kTimeMs)) {
      t.TimeMs(f.name(), f.value());
    } else {
      t.Amount(f.name(), f.denom(), f.value());
    }
  }
  return t;
}

json TextFieldsJson(const std::vector<TextField>& fields, const DisplayUnits& units) {
  return JsonList(fields, [&](const TextField& f) {
    if (f.kind == TextField::Kind::kTime) {
      return json{{"name", f.name}, {"kind", "time"}, {"unix_s", f.value}, {"time", DisplayField(f, units)}};
    }
    if (f.kind == TextField::Kind::kTimeMs) {
      return json{{"name", f.name}, {"kind", "time"}, {"unix_ms", f.value}, {"time", DisplayField(f, units)}};
    }
    return json{{"name", f.name},
                {"kind", "amount"},
                {"denom", f.denom},
                {"amount", std::to_string(f.value)},
                {"display", DisplayField(f, units)}};
  });
}

json UtcOffsetJson(int32_t utc_offset_min) {
  if (utc_offset_min < -kUtcOffsetMaxMin || utc_offset_min > kUtcOffsetMaxMin) return nullptr;
  return FormatUtcOffset(utc_offset_min);
}

json StateView::Money(int64_t amount) const {
  return AmountJson(state, params.market_denom(), amount);
}

json AmountJson(const KvReader& state, const std::string& denom, int64_t amount) {
  json j = {{"denom", denom}, {"amount", std::to_string(amount)}};
  auto d = LoadDenom(state, denom);
  j["display"] = d ? FormatAmount(amount, d->decimals()) : std::to_string(amount);
  return j;
}

std::string AddressText(const std::string& raw) {
  auto a = AddressFromBytes(raw);
  return a.ok() ? EncodeAddress(*a) : HexEncode(raw);
}

std::optional<std::string> PublicKeyAddressText(const std::string& raw) {
  if (raw.size() != kPublicKeyBytes) return std::nullopt;
  PublicKey pk;
  std::copy(raw.begin(), raw.end(), pk.begin());
  return EncodeAddress(AddressFromPublicKey(pk));
}

json Rfc3339S(int64_t s) {
  if (s < 0 || s > kRenderTimeMaxS) return nullptr;
  return FormatRfc3339Ms(s * 1000);  // <= 2^40 * 1000 < 2^50: fits
}

json Rfc3339Ms(int64_t ms) {
  if (ms < 0 || ms > kRenderTimeMaxS * 1000) return nullptr;
  return FormatRfc3339Ms(ms);
}

json DateOfDay(int64_t day) {
  if (day < 0 || day > kRenderTimeMaxS / 86400) return nullptr;
  return FormatRfc3339Ms(day * 86'400'000).substr(0, 10);  // "YYYY-MM-DD" of "YYYY-MM-DDT..."
}

json IdOrNull(uint64_t id) { return id != 0 ? json(id) : json(nullptr); }

json TextOrNull(const std::string& text) { return text.empty() ? json(nullptr) : json(text); }

json IdOpJson(const char* type, const char* id_key, uint64_t id, const std::string* meter_id) {
  json j = {{"type", type}, {id_key, id}};
  if (meter_id) j["meter_id"] = *meter_id;
  return j;
}

// ---- chain

json ParamsJson(const StateView& v) {
  const pb::ParamsRecord& p = v.params;
  return {{"tx_bytes_max", p.tx_bytes_max()},
          {"block_txs_max", p.block_txs_max()},
          {"block_bytes_max", p.block_bytes_max()},
          {"memo_bytes_max", p.memo_bytes_max()},
          {"settlement_interval_s", p.settlement_interval_s()},
          {"reading_future_skew_s", p.reading_future_skew_s()},
          {"reading_energy_tolerance_permille", p.reading_energy_tolerance_permille()},
          {"reading_energy_tolerance_wh", p.reading_energy_tolerance_wh()},
          {"market_denom", p.market_denom()},
          {"market_gate_closure_s", p.market_gate_closure_s()},
          {"market_horizon_s", p.market_horizon_s()},
          {"market_grace_s", p.market_grace_s()},
          {"market_collateral_bps", p.market_collateral_bps()},
          {"market_penalty_bps", p.market_penalty_bps()},
          {"baseline_days", p.baseline_days()},
          {"grid_horizon_s", GridHorizonS(p)},
          // Every tx pays at least fee_min x its fee units (1, plus 1 per reading or OCMF
          // record it carries) in market_denom; 0 = no fee.
          {"fee_min", p.fee_min()},
          // The fee units all of a block's txs may carry together; 0 = no bound beyond
          // block_txs_max.
          {"block_units_max", p.block_units_max()},
          // The market's time zone: messages (tx logs, errors) show times in it.
          {"utc_offset", UtcOffsetJson(p.utc_offset_min())},
          // How long a governance proposal is open for votes (docs/API.md "Governance").
          {"gov_voting_period_s", GovVotingPeriodS(p)},
          {"market", MarketParamsJson(v)},
          // Where escrow, collateral and budgets are held (GET /v1/accounts/{address}): anyone
          // can audit the market's against the open orders; the grid module's balances are the
          // node's full readers' (a program's budget alone in its denomination would say what
          // it paid: docs/DESIGN.md "Totals over few owners").
          {"module_accounts",
           {{"market", EncodeAddress(MarketModuleAddress())},
            {"grid", EncodeAddress(GridModuleAddress())}}}};
}

json DenomJson(const KvReader& state, const pb::DenomRecord& d) {
  const pb::SupplyRecord sup = LoadSupply(state, d.name());
  return {{"name", d.name()},
          {"decimals", d.decimals()},
          // null once governance cleared it: nobody may mint or burn it (contracts/gov.h).
          {"issuer", d.issuer().empty() ? json(nullptr) : json(AddressText(d.issuer()))},
          {"minted", std::to_string(sup.minted())},
          {"burned", std::to_string(sup.burned())},
          {"supply", std::to_string(sup.minted() - sup.burned())},
          // The same in the denomination's human units, for people.
          {"minted_display", FormatAmount(sup.minted(), d.decimals())},
          {"burned_display", FormatAmount(sup.burned(), d.decimals())},
          {"supply_display", FormatAmount(sup.minted() - sup.burned(), d.decimals())}};
}

json HeaderJson(const pb::Header& h) {
  return {{"chain_id", h.chain_id()},
          {"height", h.height()},
          {"time", FormatRfc3339Ms(h.time_ms())},
          {"time_ms", h.time_ms()},
          {"last_block_id", HexEncode(h.last_block_id())},
          {"last_commit_hash", HexEncode(h.last_commit_hash())},
          {"data_hash", HexEncode(h.data_hash())},
          {"app_hash", HexEncode(h.app_hash())},
          {"validators_hash", HexEncode(h.validators_hash())},
          {"next_validators_hash", HexEncode(h.next_validators_hash())},
          {"proposer_address", AddressText(h.proposer_address())}};
}

json CommitJson(const pb::Commit& c) {
  json sigs = JsonList(c.signatures(), [](const pb::CommitSig& s) {
    return json{{"validator_address", AddressText(s.validator_address())},
                {"timestamp_ms", s.timestamp_ms()},
                {"signature", HexEncode(s.signature())}};
  });
  return {{"height", c.height()},
          {"round", c.round()},
          {"block_id", HexEncode(c.block_id())},
          {"signatures", sigs}};
}

json BlockSummaryJson(const pb::Header& h, int64_t num_txs) {
  return {{"height", h.height()},
          {"block_id", HexEncode(BlockId(h))},
          {"time", FormatRfc3339Ms(h.time_ms())},
          {"time_ms", h.time_ms()},
          {"num_txs", num_txs},
          {"proposer_address", AddressText(h.proposer_address())}};
}

json BlockJson(const StateView& v, int64_t height, const pb::Block& b,
               const pb::BlockResults& results) {
  json txs = json::array();
  for (int i = 0; i < b.txs_size(); ++i) {
    pb::TxLocation loc;
    loc.set_height(height);
    loc.set_index(static_cast<uint32_t>(i));
    *loc.mutable_result() = results.tx_results(i);
    txs.push_back(TxJson(v, b.txs(i), &loc));
  }
  json evidence = JsonList(b.evidence(), [](const pb::DuplicateVoteEvidence& e) {
    return EvidenceJson(e, /*with_votes=*/false);
  });
  return {{"block_id", HexEncode(BlockId(b.header()))},
          {"header", HeaderJson(b.header())},
          {"txs", txs},
          {"last_commit", CommitJson(b.last_commit())},
          {"evidence", evidence},
          {"app_hash_after", HexEncode(results.app_hash())}};
}

namespace {

json VoteJson(const pb::Vote& v) {
  return {{"type", v.type() == static_cast<int32_t>(VoteType::kPrevote) ? "prevote" : "precommit"},
          {"height", v.height()},
          {"round", v.round()},
          {"block_id", HexEncode(v.block_id())},
          {"timestamp_ms", v.timestamp_ms()},
          {"signature", HexEncode(v.signature())}};
}

}  // namespace

json EvidenceJson(const pb::DuplicateVoteEvidence& ev, bool with_votes) {
  json j = {{"validator_address", AddressText(ev.vote_a().validator_address())},
            {"height", ev.vote_a().height()},
            {"round", ev.vote_a().round()}};
  if (with_votes) {
    j["vote_a"] = VoteJson(ev.vote_a());
    j["vote_b"] = VoteJson(ev.vote_b());
  } else {
    j["type"] = ev.vote_a().type();
  }
  return j;
}

json ValidatorJson(const pb::ValidatorRecord& v) {
  return {{"name", v.name()},
          {"address", AddressText(v.address())},
          {"consensus_pubkey", HexEncode(v.consensus_pubkey())},
          {"node_id", HexEncode(v.node_pubkey())},
          {"power", v.power()}};
}

// ---- txs

void AddTxResult(json& j, const pb::TxLocation& loc, const StateView& v) {
  const pb::TxResult& r = loc.result();
  const DisplayUnits units = DisplayUnitsOf(v);
  j["status"] = "committed";
  j["height"] = loc.height();
  j["index"] = loc.index();
  j["code"] = r.code();
  j["code_name"] = std::string(CodeName(static_cast<Code>(r.code())));
  const Text log = StoredText(r.log(), r.log_template(), r.log_fields());
  j["log"] = DisplayText(log, units);
  if (!log.fields().empty()) j["log_fields"] = TextFieldsJson(log.fields(), units);
  if (r.rejected_readings_size() > 0) j["rejected_readings"] = RejectedReadingsJson(r, units);
  if (r.created_id() != 0) j["created_id"] = r.created_id();
}

namespace {

// A coin op: its amount with type and, for transfer and mint, the recipient.
json CoinOpJson(const StateView& v, const char* type, const std::string& denom, int64_t amount,
                const std::string* to) {
  json op = AmountJson(v.state, denom, amount);
  op["type"] = type;
  if (to) op["to"] = AddressText(*to);
  return op;
}

// The "op" object of a tx, by the module that defines the op.
json TxOpJson(const StateView& v, const pb::TxBody& body) {
  switch (body.op_case()) {
    case pb::TxBody::kTransfer:
      return CoinOpJson(v, "transfer", body.transfer().denom(), body.transfer().amount(),
                        &body.transfer().to());
    case pb::TxBody::kMint:
      return CoinOpJson(v, "mint", body.mint().denom(), body.mint().amount(), &body.mint().to());
    case pb::TxBody::kBurn:
      return CoinOpJson(v, "burn", body.burn().denom(), body.burn().amount(), nullptr);
    case pb::TxBody::kRegisterMeter:
    case pb::TxBody::kRegisterMeters:
    case pb::TxBody::kRotateMeterKey:
    case pb::TxBody::kTransferMeter:
    case pb::TxBody::kDeactivateMeter:
    case pb::TxBody::kSubmitReadings:
    case pb::TxBody::kSubmitOcmf:
      return MeterOpJson(body);
    case pb::TxBody::kPlaceOrder:
    case pb::TxBody::kCancelOrder:
    case pb::TxBody::kProposeContract:
    case pb::TxBody::kAcceptContract:
    case pb::TxBody::kCancelContract:
      return MarketOpJson(v, body);
    case pb::TxBody::kSubmitProposal:
    case pb::TxBody::kVoteProposal:
    case pb::TxBody::kRotateValidatorKey:
      return GovOpJson(body);
    case pb::TxBody::OP_NOT_SET:
      return {{"type", "none"}};
    default:  // grid services and pools; later modules render their own fields
      return IsGridTxOp(body.op_case())
                 ? GridOpJson(v, body)
                 : json{{"type", "other"}, {"op_case", static_cast<int>(body.op_case())}};
  }
}

}  // namespace

json TxJson(const StateView& v, const std::string& tx_bytes, const pb::TxLocation* loc) {
  const Hash256 hash = Blake2b256(tx_bytes);
  json j = {{"hash", TxHashHex(hash)}, {"tx", HexEncode(tx_bytes)}};
  if (loc) AddTxResult(j, *loc, v);
  pb::Tx tx;
  pb::TxBody body;
  const bool parsed = tx.ParseFromString(tx_bytes) && body.ParseFromString(tx.body());
  const std::optional<std::string> signer =
      parsed ? PublicKeyAddressText(tx.signer_pubkey()) : std::nullopt;
  if (!signer) {
    j["decode_error"] = "tx bytes do not decode";
    return j;
  }
  j["signer"] = *signer;
  j["nonce"] = std::to_string(body.nonce());
  j["memo"] = body.memo();
  j["fee"] =
      body.has_fee() ? AmountJson(v.state, body.fee().denom(), body.fee().amount()) : json(nullptr);
  j["op"] = TxOpJson(v, body);
  if (loc && body.op_case() == pb::TxBody::kSubmitOcmf) {
    AddBatchVerdicts(j["op"], "records", loc->result(), DisplayUnitsOf(v));
  }
  if (loc && body.op_case() == pb::TxBody::kRegisterMeters) {
    AddBatchVerdicts(j["op"], "meters", loc->result(), DisplayUnitsOf(v));
  }
  return j;
}

}  // namespace v2g::api
