// HTTP API of an owner's bill (contracts/grid.h; docs/API.md "Grid services"): the statement of
// what an account earned and paid over a period, tier by tier, with its vehicles' attested
// energy, and what it owes.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "common/checked.h"
#include "contracts/grid.h"
#include "contracts/meters.h"
#include "node/api/access.h"
#include "node/api/params.h"
#include "node/api/render.h"
#include "node/api/reply.h"
#include "node/api/routes.h"
#include "node/store/index.h"
#include "proto/encode.h"

namespace v2g::api {
namespace {

// A statement reads each owned vehicle's attested energy interval by interval, so the period
// bounds the work of one request: 31 days is a billing month.
constexpr int64_t kStatementPeriodMaxS = 31 * 86400;
// The same default as `v2g earnings` (cli/v2g/earnings.cc): an owner's month.
constexpr int64_t kStatementPeriodDefaultS = 30 * 86400;
// Vehicles a statement reports export for (lowest meter ids first): with the period cap, at most
// 32 x 2,976 point reads at 15-minute intervals. An owner with more is a fleet; it asks per meter
// (/v1/meters/{id}/readings).
constexpr size_t kStatementVehiclesMax = 32;
// Denominations listed as points denominations in a statement (programs paying outside the
// market denomination); more than this many are not expected on a permissioned chain.
constexpr size_t kPointsDenomsMax = 16;


int64_t Clamp64(Int128 v) {
  return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : static_cast<int64_t>(v);
}

// The statement's period [from, to): default the 30 days up to the latest block time; at most
// kStatementPeriodMaxS.
Result<std::pair<int64_t, int64_t>> ParsePeriod(const httplib::Request& req, int64_t now_s) {
  int64_t to = now_s;
  if (req.has_param("to")) {
    auto t = ParseTime("to", req.get_param_value("to"));
    if (!t.ok()) return t.status();
    to = *t;
  }
  int64_t from = std::max<int64_t>(0, to - kStatementPeriodDefaultS);
  if (req.has_param("from")) {
    auto f = ParseTime("from", req.get_param_value("from"));
    if (!f.ok()) return f.status();
    from = *f;
  }
  if (from >= to) {
    return Error(Code::kInvalidArgument,
                 Text("to ({to}) must be later than from ({from})").Time("to", to).Time("from", from));
  }
  if (to - from > kStatementPeriodMaxS) {
    return Error(Code::kInvalidArgument,
                 Text("the period from {from} to {to} is longer than the " + DurationWords(kStatementPeriodMaxS) +
                      " a statement covers: ask for it in parts")
                     .Time("from", from)
                     .Time("to", to));
  }
  return std::make_pair(from, to);
}

// The vehicles `owner` has registered, lowest meter ids first, at most kStatementVehiclesMax;
// `truncated` says whether there are more.
std::vector<pb::MeterRecord> OwnedVehicles(const KvReader& st, const Address& owner,
                                           bool& truncated) {
  const std::string prefix =
      index::MeterOwnerKindPrefix(AddressBytes(owner), pb::METER_KIND_VEHICLE);
  std::vector<pb::MeterRecord> vehicles;
  truncated = false;
  st.ScanFrom(prefix, "", /*reverse=*/false, [&](std::string_view k, std::string_view) {
    if (vehicles.size() == kStatementVehiclesMax) {
      truncated = true;
      return false;
    }
    auto m = LoadMeter(st, k.substr(prefix.size()));
    V2G_ASSERT(m.has_value());  // an index entry is written with its meter
    vehicles.push_back(std::move(*m));
    return true;
  });
  return vehicles;
}

// Vehicle `m` with its attested energy in the settlement intervals starting in [from, to) that are
// its owner's (from MeterRecord owner_from_s on: a previous owner's use is not the new one's to
// read, access.h MeterReadSpans).
json VehicleEnergyJson(const StateView& v, const pb::MeterRecord& m, int64_t from_requested,
                       int64_t to) {
  const int64_t from = std::max(from_requested, m.owner_from_s());
  const int64_t len = v.params.settlement_interval_s();
  int64_t export_wh = 0, import_wh = 0, intervals = 0;
  if (len > 0) {
    // The meter's interval records from `from` on, in time order: only those that exist are read
    // (a vehicle that reported 3 intervals in a month costs 3 reads, not 2,976 probes).
    const int64_t first = (from + len - 1) / len * len;
    v.state.ScanFrom(MeterIntervalPrefix(m.meter_id()), MeterIntervalKey(m.meter_id(), first),
                     /*reverse=*/false, [&](std::string_view, std::string_view val) {
                       auto rec = DecodeRecord<pb::MeterIntervalRecord>(std::string(val));
                       if (rec.interval_start_s() >= to) return false;
                       export_wh += rec.export_wh();
                       import_wh += rec.import_wh();
                       ++intervals;
                       return true;
                     });
  }
  return {{"meter_id", m.meter_id()},
          {"zone", m.zone()},
          {"active", m.active()},
          {"battery_capacity_wh", m.battery_capacity_wh()},
          {"export_wh", export_wh},
          {"import_wh", import_wh},
          {"intervals", intervals},
          {"owner_from", m.owner_from_s() > 0 ? Rfc3339S(m.owner_from_s()) : json(nullptr)}};
}

// The denominations programs pay in other than the market's (reward points), sorted.
std::vector<std::string> PointsDenoms(const StateView& v) {
  // x/program_d/<denom>/<id>: one seek per denomination, past all of its programs.
  const std::string_view prefix = index::kProgramDenomPrefix;
  std::vector<std::string> denoms;
  std::string start;
  for (size_t seen = 0; seen <= kPointsDenomsMax && denoms.size() < kPointsDenomsMax; ++seen) {
    std::string denom;
    v.state.ScanFrom(prefix, start, /*reverse=*/false, [&](std::string_view k, std::string_view) {
      const std::string_view rest = k.substr(prefix.size());
      denom = std::string(rest.substr(0, rest.find('/')));
      return false;
    });
    if (denom.empty()) break;
    if (denom != v.params.market_denom()) denoms.push_back(denom);
    start = std::string(prefix) + denom + "0";  // '0' follows '/': the next denomination
  }
  return denoms;
}

// The statement's money tiers (what was earned and paid, by source) and their net.
json TiersJson(const StateView& v, const pb::StatementEntry& s) {
  return {{"market_revenue", v.Money(s.market_revenue())},
          {"market_penalty", v.Money(s.market_penalty())},
          {"market_spent", v.Money(s.market_spent())},
          {"event_payout", v.Money(s.event_payout())},
          {"subsidy", v.Money(s.subsidy())},
          {"tariff_charge", v.Money(s.tariff_charge())},
          {"feed_in", v.Money(s.feed_in())},
          {"debt_incurred", v.Money(s.debt_incurred())}};
}

}  // namespace

void AccountStatement(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto addr = ParseAddress("address", req.matches[1]);
  if (!addr.ok()) return ReplyError(res, addr.status());
  if (auto ok = RequireReader(c, {AddressBytes(*addr)}, "the statement of " + EncodeAddress(*addr)); !ok.ok()) {
    return ReplyError(res, ok);
  }
  auto period = ParsePeriod(req, c.chain->Tip().time_ms / 1000);
  if (!period.ok()) return ReplyError(res, period.status());
  const int64_t from = period->first;  // not a structured binding: clang 14 cannot capture one
  const int64_t to = period->second;
  auto snap = c.store->Snapshot();
  const StateView v(snap->reader());
  const pb::StatementEntry s = LoadStatement(v.state, *addr, from, to);
  const Int128 net = static_cast<Int128>(s.market_revenue()) - s.market_penalty() -
                     s.market_spent() + s.event_payout() + s.subsidy() - s.tariff_charge() +
                     s.feed_in();
  const std::vector<std::string> points_denoms = PointsDenoms(v);
  bool truncated = false;
  json vehicles = JsonList(OwnedVehicles(v.state, *addr, truncated),
                           [&](const auto& m) { return VehicleEnergyJson(v, m, from, to); });
  const int64_t settled_before = GridSettledBefore(v.state);
  Reply(res, 200,
        {{"address", EncodeAddress(*addr)},
         {"from", Rfc3339S(from)},
         {"from_s", from},
         {"to", Rfc3339S(to)},
         {"to_s", to},
         {"denom", v.params.market_denom()},
         {"settled_before", settled_before > 0 ? Rfc3339S(settled_before) : json(nullptr)},
         {"settled_before_s", settled_before},
         {"tiers", TiersJson(v, s)},
         {"net", v.Money(Clamp64(net))},
         {"points",
          AmountJson(v.state, points_denoms.size() == 1 ? points_denoms[0] : "", s.points())},
         {"points_denoms", points_denoms},
         {"debts", DebtsJson(v.state, *addr)},
         {"vehicles", vehicles},
         {"vehicles_truncated", truncated}});
}

void AccountDebts(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto addr = ParseAddress("address", req.matches[1]);
  if (!addr.ok()) return ReplyError(res, addr.status());
  if (auto ok = RequireReader(c, {AddressBytes(*addr)}, "the debts of " + EncodeAddress(*addr)); !ok.ok()) {
    return ReplyError(res, ok);
  }
  auto snap = c.store->Snapshot();
  json debts = DebtsJson(snap->reader(), *addr);
  const bool in_debt = !debts.empty();
  Reply(res, 200, {{"address", EncodeAddress(*addr)}, {"in_debt", in_debt}, {"debts", debts}});
}

}  // namespace v2g::api
