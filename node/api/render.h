// How the HTTP API renders each object as JSON: one function per object, called wherever that
// object appears (a tx in a block and on its own, an order in a list and alone, a meter in the
// registry and in a statement, ...), so two endpoints cannot show the same thing two ways.
// Conventions (docs/API.md): an amount is {"denom", "amount" (string, minimal units), "display"
// (human units)}; a time is RFC 3339 UTC next to its Unix seconds ("start" and "start_s"); an
// address is bech32m; an absent id or zone is null. Renderers only read: never a write, never a
// failure (what does not decode is shown as hex or flagged). Internal to node/api/.
//
// Implemented by module: render.cc (amounts, chain, txs), render_meters.cc, render_market.cc,
// render_grid.cc (grid services and pools).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/bech32.h"
#include "common/display.h"
#include "contracts/kv.h"
#include "proto/v2g.pb.h"

namespace v2g::api {

using json = nlohmann::json;

// One request's view of the state: the reader, the chain parameters read once from it, and the
// decimals of the market denomination, in which prices, escrow, tariffs, event prices, pool
// earnings and statement tiers are shown. The reader must outlive the view.
struct StateView {
  explicit StateView(const KvReader& s);
  bool market_enabled() const;
  // `amount` in the market denomination.
  json Money(int64_t amount) const;

  const KvReader& state;
  pb::ParamsRecord params;
  uint32_t market_decimals = 0;  // 0 when the market denomination is not registered
};

// ---- common pieces

// How a message's amounts and times are shown to people here: each denomination's decimals from
// the view's state, times in the market's time zone (params.utc_offset_min). Lives as long as `v`.
DisplayUnits DisplayUnitsOf(const StateView& v);
// A stored message (TxResult.log and its template and fields) as a Text.
Text StoredText(const std::string& plain, const std::string& tmpl,
                const google::protobuf::RepeatedPtrField<pb::TextField>& fields);
// The values a message carries, for machines: [{"name", "kind": "amount", "denom", "amount"
// (minimal units, string), "display"} | {"name", "kind": "time", "unix_s", "time" (RFC 3339 in the
// market's time zone)}].
json TextFieldsJson(const std::vector<TextField>& fields, const DisplayUnits& units);
// "+08:00" for minutes east of UTC, null outside RFC 3339's range.
json UtcOffsetJson(int32_t utc_offset_min);

// {"denom", "amount", "display"}; display is the plain amount when `denom` is not registered.
json AmountJson(const KvReader& state, const std::string& denom, int64_t amount);
// A 20-byte address as bech32m; anything else as hex (never fails).
std::string AddressText(const std::string& raw);
// The bech32m address of a raw public key; nothing when it is not a public key's length.
std::optional<std::string> PublicKeyAddressText(const std::string& raw);
// Unix seconds as RFC 3339 UTC, or null outside [0, kRenderTimeMaxS]. A time may come from a
// client (a rejected reading's interval, a failed order's delivery interval) and be anything an
// int64 holds: it is range-checked before it is scaled to milliseconds, so INT64_MAX renders
// as null instead of overflowing (undefined behaviour) into a garbage date.
json Rfc3339S(int64_t s);
// The same for Unix milliseconds: null outside [0, kRenderTimeMaxS * 1000].
json Rfc3339Ms(int64_t ms);
// The UTC date ("2026-01-01") of day `day` since the epoch, null outside the same range.
json DateOfDay(int64_t day);
// The last second rendered as a date: the API's time range (params.h kTimeMaxS, 2^40 s, year
// ~36800), far past any real time, so that x * 86,400,000 and the civil-date arithmetic fit.
inline constexpr int64_t kRenderTimeMaxS = int64_t{1} << 40;
// `id`, or null for 0 (no pool, no meter).
json IdOrNull(uint64_t id);
// `text`, or null when empty (no zone).
json TextOrNull(const std::string& text);
// The "op" object of a tx that names a record by id and, when `meter_id` is given, a meter:
// {"type", "<id_key>": id, "meter_id"} (cancel_order, accept_contract, join_pool, ...).
json IdOpJson(const char* type, const char* id_key, uint64_t id,
              const std::string* meter_id = nullptr);
// A JSON array of render(item) for each item of `items`, in order.
template <typename Range, typename Render>
json JsonList(const Range& items, const Render& render) {
  json out = json::array();
  for (const auto& item : items) out.push_back(render(item));
  return out;
}

// ---- chain (render.cc)

// GET /v1/params: every chain parameter, the market's view of them and the module accounts.
json ParamsJson(const StateView& v);
// A denomination with its supply (GET /v1/denoms).
json DenomJson(const KvReader& state, const pb::DenomRecord& d);
json HeaderJson(const pb::Header& h);
json CommitJson(const pb::Commit& c);
// A block in a list (from its header and tx count): height, id, time, tx count, proposer.
json BlockSummaryJson(const pb::Header& h, int64_t num_txs);
// A whole block at `height` with its txs (each with its result) and the state root after it.
json BlockJson(const StateView& v, int64_t height, const pb::Block& b,
               const pb::BlockResults& results);
// A double-sign: who, height and round, then both votes (`with_votes`, GET /v1/evidence) or the
// vote type (in a block).
json EvidenceJson(const pb::DuplicateVoteEvidence& ev, bool with_votes);
json ValidatorJson(const pb::ValidatorRecord& v);
// The outcome of a committed tx: status "committed", height, index, code, code_name, log (for
// people: display units, local time) with log_fields (its values, for machines) when it carries
// any, and rejected_readings and created_id when it has them. Added to `j`.
void AddTxResult(json& j, const pb::TxLocation& loc, const StateView& v);
// A tx by its bytes: hash, hex, signer, nonce, memo, fee and its op (or "decode_error"); with its
// result (AddTxResult) when `loc` is not null.
json TxJson(const StateView& v, const std::string& tx_bytes, const pb::TxLocation* loc);

// ---- meters (render_meters.cc)

json ReadingJson(const pb::MeterReading& r);
// The readings of a batch that were rejected, with the code that says why.
json RejectedReadingsJson(const pb::TxResult& r, const DisplayUnits& units);
// A registry entry with its last reading and, for a vehicle, its battery (BatteryJson).
json MeterJson(const KvReader& state, const pb::MeterRecord& m);
// A vehicle's battery totals: energy in and out, cycles, last state of charge and health.
json BatteryJson(const pb::BatteryRecord& b);
json BatterySampleJson(const pb::SohSample& s);
// One settlement interval of attested energy; `interval_s` is the settlement interval length.
json MeterIntervalJson(const pb::MeterIntervalRecord& rec, int64_t interval_s);
// The "op" object of a meter tx (register one or a batch, rotate key, transfer, deactivate, submit
// readings or OCMF records).
json MeterOpJson(const pb::TxBody& body);
// An accepted OCMF record (s/meter_ocmf/<id>/<PG>) with its text, for offline re-verification.
json OcmfRecordEntryJson(std::string_view meter_id, std::string_view pg, const pb::OcmfRecordEntry& e);
// Marks each item of a committed batch op JSON (`op`, from MeterOpJson; `items` is "records" for
// SubmitOcmf, "meters" for RegisterMeters) with its verdict: "accepted", or the refusal's code,
// code name and message.
void AddBatchVerdicts(json& op, const char* items, const pb::TxResult& r, const DisplayUnits& units);

// ---- energy market (render_market.cc); amounts in the market denomination

// The market's parameters: enabled, denom, decimals and its times and rates.
json MarketParamsJson(const StateView& v);
json MarketJson(const StateView& v, const pb::MarketRecord& m);
json OrderJson(const StateView& v, const pb::OrderRecord& o);
json ContractJson(const StateView& v, const pb::ContractRecord& k);
json TradeJson(const StateView& v, const pb::TradeRecord& t);
// The "op" object of a market tx (place_order, cancel_order, propose_contract, accept_contract,
// cancel_contract).
json MarketOpJson(const StateView& v, const pb::TxBody& body);

// ---- grid services and pools (render_grid.cc)

json TariffJson(const StateView& v, const pb::TariffRecord& t);
// What tariff `t` charges and pays at `now_s` (its hour of day, UTC).
json TariffInEffectJson(const StateView& v, const pb::TariffRecord& t, int64_t now_s);
json EventJson(const StateView& v, const pb::EventRecord& e);
// An enrollment in `ev`; a pool's also lists its members' parts and their payout split.
json EnrollmentJson(const StateView& v, const pb::EventRecord& ev, const pb::EventEnrollment& e);
json PoolJson(const StateView& v, const pb::PoolRecord& p);
json PoolMemberJson(const StateView& v, const pb::PoolMember& m);
json ProgramJson(const StateView& v, const pb::ProgramRecord& p);
json ProgramMemberJson(const StateView& v, const pb::ProgramRecord& p, const pb::ProgramMember& m);
// What `a` owes, per creditor and denomination.
json DebtsJson(const KvReader& state, const Address& a);
// True for the ops GridOpJson renders (contracts/grid.h and contracts/pools.h txs).
bool IsGridTxOp(pb::TxBody::OpCase op);
// The "op" object of a grid or pool tx (set_tariff, enroll_tariff, pay_debt, create_event,
// enroll_event, create_program, join_program, create_pool, join_pool, leave_pool).
json GridOpJson(const StateView& v, const pb::TxBody& body);

// ---- gov.cc (contracts/gov.h)

// A governance action: {"kind", ...its fields}.
json GovActionJson(const pb::GovAction& a);
// The "op" of SubmitProposal and VoteProposal.
json GovOpJson(const pb::TxBody& body);

}  // namespace v2g::api
