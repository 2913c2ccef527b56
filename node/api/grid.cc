// HTTP API of grid services and aggregators (contracts/grid.h, contracts/pools.h; docs/API.md
// "Grid services"): tariffs, demand-response events, incentive programs, pools, per-owner
// statements and debts, and the "op" object of their txs. Read-only: every handler reads one
// store snapshot, validates each parameter with an error that names it, and caps its pages.
#include <algorithm>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "common/amount.h"
#include "common/bytes.h"
#include "common/checked.h"
#include "common/limits.h"
#include "contracts/grid.h"
#include "contracts/meters.h"
#include "contracts/pools.h"
#include "contracts/state.h"
#include "common/time.h"
#include "node/api/util.h"

namespace v2g::api {
namespace {

constexpr int64_t kPageDefault = 100;
// Same ceiling as the market's pages: a page of records with nested amounts stays well under a
// megabyte of JSON.
constexpr int64_t kPageMax = limits::kMarketPageMax;
constexpr int64_t kIdMax = 999'999'999'999'999'999;  // 18 digits: what ParseInt reads
// Times the statement accepts, Unix seconds: the market's interval range (2^40 s).
constexpr int64_t kTimeMaxS = int64_t{1} << 40;
// A statement reads each owned vehicle's attested energy interval by interval, so the period
// bounds the work of one request: 31 days is a billing month.
constexpr int64_t kStatementPeriodMaxS = 31 * 86400;
constexpr int64_t kStatementPeriodDefaultS = 86400;
// Vehicles a statement reports export for (lowest meter ids first): with the period cap, at most
// 32 x 2,976 point reads at 15-minute intervals. An owner with more is a fleet; it asks per meter
// (/v1/meters/{id}/readings).
constexpr size_t kStatementVehiclesMax = 32;
// Denominations listed as points denominations in a statement (programs paying outside the
// market denomination); more than this many are not expected on a permissioned chain.
constexpr size_t kPointsDenomsMax = 16;

std::string Num(int64_t v) { return std::to_string(v); }
std::string Rfc3339S(int64_t s) { return FormatRfc3339Ms(s * 1000); }

int64_t Clamp64(Int128 v) {
  return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : static_cast<int64_t>(v);
}

// The chain's parameters read once per request; amounts of tariffs, events, pools and debts are in
// the market denomination.
struct GridCtx {
  const KvReader& state;
  pb::ParamsRecord params;

  explicit GridCtx(const KvReader& s) : state(s), params(LoadParams(s)) {}
  json Money(int64_t amount) const { return AmountJson(state, params.market_denom(), amount); }
};

Result<std::string> ParseZone(const std::string& name, const std::string& text) {
  if (!ValidZone(text)) {
    return Error(Code::kInvalidArgument,
                 name + " must be a zone name (1-32 of A-Z a-z 0-9 . _ -), got '" +
                     (text.size() > 40 ? text.substr(0, 40) + "..." : text) + "'");
  }
  return text;
}

Result<int64_t> LimitParam(const httplib::Request& req, int64_t def) {
  if (!req.has_param("limit")) return def;
  return ParseInt("limit", req.get_param_value("limit"), 1, kPageMax);
}

// `before` (an id; 0 = from the newest).
Result<uint64_t> BeforeParam(const httplib::Request& req) {
  if (!req.has_param("before")) return uint64_t{0};
  auto b = ParseInt("before", req.get_param_value("before"), 1, kIdMax);
  if (!b.ok()) return b.status();
  return static_cast<uint64_t>(*b);
}

// A time parameter: Unix seconds, or RFC 3339 UTC ("2026-01-01T00:00:00Z", a fraction floored to
// the second).
Result<int64_t> ParseTime(const std::string& name, const std::string& text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    return ParseInt(name, text, 0, kTimeMaxS);
  }
  auto ms = ParseRfc3339Ms(text);
  if (!ms.ok() || *ms / 1000 > kTimeMaxS) {
    return Error(Code::kInvalidArgument,
                 name + " must be Unix seconds or an RFC 3339 UTC time like 2026-01-01T00:00:00Z, got '" +
                     (text.size() > 40 ? text.substr(0, 40) + "..." : text) + "'");
  }
  return *ms / 1000;
}

Result<Address> ParseAddressPath(const std::string& text) {
  auto a = DecodeAddress(text);
  if (!a.ok()) return Error(Code::kInvalidArgument, "address: " + a.status().message());
  return a;
}

// Records under `prefix` keyed by an 8-byte id, newest (highest id) first: at most `limit` of
// those with an id below `before` (0: from the newest) that pass `keep`, and the `before` of the
// next page (null on the last).
template <typename Rec>
std::pair<std::vector<Rec>, json> NewestFirst(const KvReader& st, std::string_view prefix,
                                              uint64_t before, int64_t limit,
                                              const std::function<bool(const Rec&)>& keep) {
  std::deque<Rec> newest;  // ascending ids; at most limit + 1
  st.Scan(prefix, [&](std::string_view k, std::string_view v) {
    if (k.size() != prefix.size() + 8) return true;
    const uint64_t id = ReadBigEndian64(k.substr(prefix.size()));
    if (before != 0 && id >= before) return false;
    auto rec = DecodeRecord<Rec>(std::string(v));
    if (!keep(rec)) return true;
    newest.push_back(std::move(rec));
    if (static_cast<int64_t>(newest.size()) > limit + 1) newest.pop_front();
    return true;
  });
  json next = nullptr;
  if (static_cast<int64_t>(newest.size()) > limit) {
    newest.pop_front();
    next = newest.front().id();
  }
  return {std::vector<Rec>(newest.rbegin(), newest.rend()), next};
}

// ------------------------------------------------------------------ records as JSON

json TariffJson(const GridCtx& g, const pb::TariffRecord& t) {
  json prices = json::array();
  for (int64_t p : t.import_prices()) prices.push_back(g.Money(p));
  return {{"zone", t.zone()},
          {"effective_from", Rfc3339S(t.effective_from_s())},
          {"effective_from_s", t.effective_from_s()},
          {"grid_company", AddressText(t.grid_company())},
          {"import_prices", prices},
          {"export_price", g.Money(t.export_price())},
          {"set_height", t.set_height()}};
}

std::string EventStatusName(pb::EventStatus s) {
  return s == pb::EVENT_OPEN ? "open" : s == pb::EVENT_SETTLED ? "settled" : "unknown";
}
std::string ProgramStatusName(pb::ProgramStatus s) {
  return s == pb::PROGRAM_OPEN ? "open" : s == pb::PROGRAM_CLOSED ? "closed" : "unknown";
}

json EventJson(const GridCtx& g, const pb::EventRecord& e) {
  auto money = [&](int64_t a) { return AmountJson(g.state, e.denom(), a); };
  return {{"id", e.id()},
          {"grid_company", AddressText(e.grid_company())},
          {"kind", std::string(EventKindName(e.kind()))},
          {"zone", e.zone()},
          {"start", Rfc3339S(e.start_s())},
          {"start_s", e.start_s()},
          {"end", Rfc3339S(e.end_s())},
          {"end_s", e.end_s()},
          {"enrollment_deadline", Rfc3339S(e.enrollment_deadline_s())},
          {"enrollment_deadline_s", e.enrollment_deadline_s()},
          {"baseline", std::string(BaselineName(e.baseline()))},
          {"target_power_w", e.target_power_w()},
          {"price", money(e.price())},
          {"budget", money(e.budget())},
          {"status", EventStatusName(e.status())},
          {"enrollment_count", e.enrollments()},
          {"performance_wh", e.performance_wh()},
          {"owed", money(e.owed())},
          {"paid", money(e.paid())},
          {"returned", money(e.returned())},
          {"created_height", e.created_height()}};
}

// A pool's enrollment: its members' parts (s/event_pm/) and, once the event has settled, how the
// pool's payout was split, worked out exactly as settlement split it (contracts/pools.cc PayPool):
// fee = floor(payout x fee_bps / 10^4) (all of it when no member performed), the rest by
// performance with largest remainders.
void AddPoolParts(const GridCtx& g, const pb::EventRecord& ev, const pb::EventEnrollment& e,
                  json& j) {
  auto money = [&](int64_t a) { return AmountJson(g.state, ev.denom(), a); };
  const std::vector<pb::EventEnrollment> parts = LoadPoolParts(g.state, ev.id(), e.pool_id());
  std::vector<int64_t> weights;
  int64_t total = 0;
  for (const auto& p : parts) {
    weights.push_back(p.performance_wh());
    total += p.performance_wh();
  }
  const bool settled = ev.status() == pb::EVENT_SETTLED;
  const auto pool = LoadPool(g.state, e.pool_id());
  const int64_t fee_bps = pool ? pool->fee_bps() : 0;
  int64_t fee = 0;
  std::vector<int64_t> shares(parts.size(), 0);
  if (settled) {
    fee = total == 0 ? e.payout() : *MulDivFloor(e.payout(), fee_bps, limits::kBpsMax);
    shares = SplitProRata(e.payout() - fee, weights);
  }
  V2G_ASSERT(shares.size() == parts.size());
  json members = json::array();
  for (size_t i = 0; i < parts.size(); ++i) {
    members.push_back({{"meter_id", parts[i].meter_id()},
                       {"owner", AddressText(parts[i].owner())},
                       {"performance_wh", parts[i].performance_wh()},
                       {"payout", money(shares[i])}});
  }
  j["fee"] = money(fee);
  j["members"] = members;
}

json EnrollmentJson(const GridCtx& g, const pb::EventRecord& ev, const pb::EventEnrollment& e) {
  const bool pool = e.pool_id() != 0;
  json j = {{"meter_id", pool ? json(nullptr) : json(e.meter_id())},
            {"pool_id", pool ? json(e.pool_id()) : json(nullptr)},
            {"owner", AddressText(e.owner())},
            {"committed_power_w", e.committed_power_w()},
            {"declared_baseline_wh", e.declared_baseline_wh()},
            {"performance_wh", e.performance_wh()},
            {"payout", AmountJson(g.state, ev.denom(), e.payout())}};
  if (pool) AddPoolParts(g, ev, e, j);
  return j;
}

json PoolJson(const GridCtx& g, const pb::PoolRecord& p) {
  return {{"id", p.id()},
          {"aggregator", AddressText(p.aggregator())},
          {"name", p.name()},
          {"fee_bps", p.fee_bps()},
          {"member_count", p.members()},
          {"obligations_until", p.obligations_until_s() > 0
                                    ? json(Rfc3339S(p.obligations_until_s()))
                                    : json(nullptr)},
          {"obligations_until_s", p.obligations_until_s()},
          {"created_height", p.created_height()},
          {"fees_earned", g.Money(p.fees_earned())},
          {"members_earned", g.Money(p.members_earned())}};
}

json PoolMemberJson(const GridCtx& g, const pb::PoolMember& m) {
  const bool leaving = m.leave_after_s() != 0;
  return {{"meter_id", m.meter_id()},
          {"owner", AddressText(m.owner())},
          {"from", Rfc3339S(m.from_s())},
          {"from_s", m.from_s()},
          {"leaving", leaving},
          {"leave_after", leaving ? json(Rfc3339S(m.leave_after_s())) : json(nullptr)},
          {"leave_after_s", leaving ? json(m.leave_after_s()) : json(nullptr)},
          {"earned", g.Money(m.earned())},
          {"delivered_wh", m.delivered_wh()}};
}

json HoursJson(uint32_t mask) {
  json hours = json::array();
  for (int h = 0; h < 24; ++h) {
    if ((mask >> h) & 1u) hours.push_back(h);
  }
  return hours;
}

json ProgramJson(const GridCtx& g, const pb::ProgramRecord& p) {
  auto money = [&](int64_t a) { return AmountJson(g.state, p.denom(), a); };
  return {{"id", p.id()},
          {"sponsor", AddressText(p.sponsor())},
          {"kind", std::string(ProgramKindName(p.kind()))},
          {"denom", p.denom()},
          {"rate", p.rate()},
          {"rate_unit", p.kind() == pb::PROGRAM_CHARGING_DISCOUNT ? "bps_of_tariff_charge"
                                                                   : "minimal_units_per_kwh"},
          {"hours_mask", p.hours_mask()},
          {"hours", HoursJson(p.hours_mask())},
          {"zone", p.zone().empty() ? json(nullptr) : json(p.zone())},
          {"end", Rfc3339S(p.end_s())},
          {"end_s", p.end_s()},
          {"status", ProgramStatusName(p.status())},
          {"member_count", p.members()},
          {"budget", money(p.budget())},
          {"remaining", money(p.remaining())},
          {"paid", money(p.paid())},
          {"returned", money(p.returned())}};
}

json DebtsJson(const KvReader& st, const Address& a) {
  json list = json::array();
  for (const auto& [creditor, d] : LoadDebts(st, a)) {
    json j = AmountJson(st, d.denom(), d.amount());
    j["creditor"] = EncodeAddress(creditor);
    list.push_back(std::move(j));
  }
  return list;
}

// ------------------------------------------------------------------ handlers

// GET /v1/tariffs/{zone}
void GetTariffs(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto zone = ParseZone("zone", req.matches[1]);
  if (!zone.ok()) return ReplyError(res, zone.status());
  const int64_t now_s = c.chain->Tip().time_ms / 1000;
  auto snap = c.store->Snapshot();
  GridCtx g(snap->reader());
  const std::vector<pb::TariffRecord> tariffs = LoadTariffs(g.state, *zone);
  if (tariffs.empty())
    return ReplyError(res, Error(Code::kNotFound, "no tariff has been set for zone " + *zone));
  json list = json::array();
  for (const auto& t : tariffs) list.push_back(TariffJson(g, t));
  json current = nullptr;
  if (auto t = TariffAt(g.state, *zone, now_s)) {
    const int64_t hour = (now_s % 86400) / 3600;
    current = {{"effective_from_s", t->effective_from_s()},
               {"hour", hour},
               {"import_price", t->import_prices_size() == 24
                                    ? g.Money(t->import_prices(static_cast<int>(hour)))
                                    : json(nullptr)},
               {"export_price", g.Money(t->export_price())}};
  }
  Reply(res, 200,
        {{"zone", *zone},
         {"denom", g.params.market_denom()},
         {"now", Rfc3339S(now_s)},
         {"now_s", now_s},
         {"tariffs", list},
         {"in_effect", current}});
}

// GET /v1/events?zone=&status=&before=&limit=: newest first.
void ListEvents(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  std::string zone;
  if (req.has_param("zone")) {
    auto z = ParseZone("zone", req.get_param_value("zone"));
    if (!z.ok()) return ReplyError(res, z.status());
    zone = *z;
  }
  std::optional<pb::EventStatus> status;
  if (req.has_param("status")) {
    const std::string s = req.get_param_value("status");
    if (s != "open" && s != "settled")
      return ReplyError(res, Error(Code::kInvalidArgument,
                                   "status must be open or settled, got '" + s.substr(0, 40) + "'"));
    status = s == "open" ? pb::EVENT_OPEN : pb::EVENT_SETTLED;
  }
  auto before = BeforeParam(req);
  if (!before.ok()) return ReplyError(res, before.status());
  auto limit = LimitParam(req, kPageDefault);
  if (!limit.ok()) return ReplyError(res, limit.status());
  auto snap = c.store->Snapshot();
  GridCtx g(snap->reader());
  auto [events, next] = NewestFirst<pb::EventRecord>(
      g.state, kEventPrefix, *before, *limit, [&](const pb::EventRecord& e) {
        return (zone.empty() || e.zone() == zone) && (!status || e.status() == *status);
      });
  json list = json::array();
  for (const auto& e : events) list.push_back(EventJson(g, e));
  Reply(res, 200, {{"events", list}, {"next_before", next}});
}

Result<uint64_t> IdParam(const httplib::Request& req) {
  auto id = ParseInt("id", req.matches[1], 1, kIdMax);
  if (!id.ok()) return id.status();
  return static_cast<uint64_t>(*id);
}

// GET /v1/events/{id}
void GetEvent(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto id = IdParam(req);
  if (!id.ok()) return ReplyError(res, id.status());
  auto snap = c.store->Snapshot();
  GridCtx g(snap->reader());
  auto ev = LoadEvent(g.state, *id);
  if (!ev) {
    // Events and programs share one id sequence.
    const bool is_program = LoadProgram(g.state, *id).has_value();
    return ReplyError(
        res, Error(Code::kNotFound,
                   "no event " + Num(static_cast<int64_t>(*id)) +
                       (is_program ? " (it is a program: /v1/programs/" +
                                         Num(static_cast<int64_t>(*id)) + ")"
                                   : "")));
  }
  json j = EventJson(g, *ev);
  json list = json::array();
  for (const auto& e : LoadEventEnrollments(g.state, *id)) list.push_back(EnrollmentJson(g, *ev, e));
  j["enrollments"] = list;
  Reply(res, 200, j);
}

// GET /v1/pools?before=&limit=: newest first.
void ListPools(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto before = BeforeParam(req);
  if (!before.ok()) return ReplyError(res, before.status());
  auto limit = LimitParam(req, kPageDefault);
  if (!limit.ok()) return ReplyError(res, limit.status());
  auto snap = c.store->Snapshot();
  GridCtx g(snap->reader());
  auto [pools, next] = NewestFirst<pb::PoolRecord>(g.state, kPoolPrefix, *before, *limit,
                                                   [](const pb::PoolRecord&) { return true; });
  json list = json::array();
  for (const auto& p : pools) list.push_back(PoolJson(g, p));
  Reply(res, 200, {{"pools", list}, {"next_before", next}});
}

// GET /v1/pools/{id}
void GetPool(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto id = IdParam(req);
  if (!id.ok()) return ReplyError(res, id.status());
  auto snap = c.store->Snapshot();
  GridCtx g(snap->reader());
  auto p = LoadPool(g.state, *id);
  if (!p)
    return ReplyError(res, Error(Code::kNotFound, "no pool " + Num(static_cast<int64_t>(*id))));
  json j = PoolJson(g, *p);
  json members = json::array();
  for (const auto& m : LoadPoolMembers(g.state, *id)) members.push_back(PoolMemberJson(g, m));
  j["members"] = members;
  Reply(res, 200, j);
}

// GET /v1/programs?status=&before=&limit=: newest first.
void ListPrograms(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  std::optional<pb::ProgramStatus> status;
  if (req.has_param("status")) {
    const std::string s = req.get_param_value("status");
    if (s != "open" && s != "closed")
      return ReplyError(res, Error(Code::kInvalidArgument,
                                   "status must be open or closed, got '" + s.substr(0, 40) + "'"));
    status = s == "open" ? pb::PROGRAM_OPEN : pb::PROGRAM_CLOSED;
  }
  auto before = BeforeParam(req);
  if (!before.ok()) return ReplyError(res, before.status());
  auto limit = LimitParam(req, kPageDefault);
  if (!limit.ok()) return ReplyError(res, limit.status());
  auto snap = c.store->Snapshot();
  GridCtx g(snap->reader());
  auto [programs, next] = NewestFirst<pb::ProgramRecord>(
      g.state, kProgramPrefix, *before, *limit,
      [&](const pb::ProgramRecord& p) { return !status || p.status() == *status; });
  json list = json::array();
  for (const auto& p : programs) list.push_back(ProgramJson(g, p));
  Reply(res, 200, {{"programs", list}, {"next_before", next}});
}

// GET /v1/programs/{id}
void GetProgram(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto id = IdParam(req);
  if (!id.ok()) return ReplyError(res, id.status());
  auto snap = c.store->Snapshot();
  GridCtx g(snap->reader());
  auto p = LoadProgram(g.state, *id);
  if (!p) {
    const bool is_event = LoadEvent(g.state, *id).has_value();
    return ReplyError(
        res, Error(Code::kNotFound,
                   "no program " + Num(static_cast<int64_t>(*id)) +
                       (is_event ? " (it is an event: /v1/events/" + Num(static_cast<int64_t>(*id)) +
                                       ")"
                                 : "")));
  }
  json j = ProgramJson(g, *p);
  json members = json::array();
  for (const auto& m : LoadProgramMembers(g.state, *id)) {
    members.push_back({{"meter_id", m.meter_id()},
                       {"owner", AddressText(m.owner())},
                       {"paid", AmountJson(g.state, p->denom(), m.paid())}});
  }
  j["members"] = members;
  Reply(res, 200, j);
}

// The statement's period [from, to): default the 24 h up to the latest block time; at most
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
                 "to (" + Num(to) + ") must be later than from (" + Num(from) + ")");
  }
  if (to - from > kStatementPeriodMaxS) {
    return Error(Code::kInvalidArgument,
                 "the period from " + Num(from) + " to " + Num(to) + " is " + Num(to - from) +
                     " s; a statement covers at most " + Num(kStatementPeriodMaxS) +
                     " s (31 days): ask for it in parts");
  }
  return std::make_pair(from, to);
}

// Each vehicle the owner has registered (lowest meter ids first, at most kStatementVehiclesMax)
// with its attested energy in the intervals starting in [from, to).
json VehiclesJson(const GridCtx& g, const Address& owner, int64_t from, int64_t to,
                  bool& truncated) {
  const std::string who = AddressBytes(owner);
  std::vector<pb::MeterRecord> vehicles;
  truncated = false;
  g.state.Scan(kMeterPrefix, [&](std::string_view, std::string_view v) {
    auto m = DecodeRecord<pb::MeterRecord>(std::string(v));
    if (m.owner() != who || m.kind() != pb::METER_KIND_VEHICLE) return true;
    if (vehicles.size() == kStatementVehiclesMax) {
      truncated = true;
      return false;
    }
    vehicles.push_back(std::move(m));
    return true;
  });
  const int64_t len = g.params.settlement_interval_s();
  json list = json::array();
  for (const auto& m : vehicles) {
    int64_t export_wh = 0, import_wh = 0, intervals = 0;
    if (len > 0) {
      for (int64_t s = (from + len - 1) / len * len; s < to; s += len) {
        auto rec = LoadMeterInterval(g.state, m.meter_id(), s);
        if (!rec) continue;
        export_wh += rec->export_wh();
        import_wh += rec->import_wh();
        ++intervals;
      }
    }
    list.push_back({{"meter_id", m.meter_id()},
                    {"zone", m.zone()},
                    {"active", m.active()},
                    {"battery_capacity_wh", m.battery_capacity_wh()},
                    {"export_wh", export_wh},
                    {"import_wh", import_wh},
                    {"intervals", intervals}});
  }
  return list;
}

// The denominations programs pay in other than the market's (reward points), sorted.
std::vector<std::string> PointsDenoms(const GridCtx& g) {
  std::set<std::string> denoms;
  g.state.Scan(kProgramPrefix, [&](std::string_view, std::string_view v) {
    auto p = DecodeRecord<pb::ProgramRecord>(std::string(v));
    if (p.denom() != g.params.market_denom()) denoms.insert(p.denom());
    return denoms.size() < kPointsDenomsMax;
  });
  return {denoms.begin(), denoms.end()};
}

// GET /v1/accounts/{address}/statement?from=&to=
void AccountStatement(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto addr = ParseAddressPath(req.matches[1]);
  if (!addr.ok()) return ReplyError(res, addr.status());
  auto period = ParsePeriod(req, c.chain->Tip().time_ms / 1000);
  if (!period.ok()) return ReplyError(res, period.status());
  const auto [from, to] = *period;
  auto snap = c.store->Snapshot();
  GridCtx g(snap->reader());
  const pb::StatementEntry s = LoadStatement(g.state, *addr, from, to);
  const Int128 net = static_cast<Int128>(s.market_revenue()) - s.market_penalty() -
                     s.market_spent() + s.event_payout() + s.subsidy() - s.tariff_charge() +
                     s.feed_in();
  const std::vector<std::string> points_denoms = PointsDenoms(g);
  bool truncated = false;
  json vehicles = VehiclesJson(g, *addr, from, to, truncated);
  const int64_t settled_before = GridSettledBefore(g.state);
  Reply(res, 200,
        {{"address", EncodeAddress(*addr)},
         {"from", Rfc3339S(from)},
         {"from_s", from},
         {"to", Rfc3339S(to)},
         {"to_s", to},
         {"denom", g.params.market_denom()},
         {"settled_before", settled_before > 0 ? json(Rfc3339S(settled_before)) : json(nullptr)},
         {"settled_before_s", settled_before},
         {"tiers",
          {{"market_revenue", g.Money(s.market_revenue())},
           {"market_penalty", g.Money(s.market_penalty())},
           {"market_spent", g.Money(s.market_spent())},
           {"event_payout", g.Money(s.event_payout())},
           {"subsidy", g.Money(s.subsidy())},
           {"tariff_charge", g.Money(s.tariff_charge())},
           {"feed_in", g.Money(s.feed_in())},
           {"debt_incurred", g.Money(s.debt_incurred())}}},
         {"net", g.Money(Clamp64(net))},
         {"points", AmountJson(g.state, points_denoms.size() == 1 ? points_denoms[0] : "",
                               s.points())},
         {"points_denoms", points_denoms},
         {"debts", DebtsJson(g.state, *addr)},
         {"vehicles", vehicles},
         {"vehicles_truncated", truncated}});
}

// GET /v1/accounts/{address}/debts
void AccountDebts(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto addr = ParseAddressPath(req.matches[1]);
  if (!addr.ok()) return ReplyError(res, addr.status());
  auto snap = c.store->Snapshot();
  json debts = DebtsJson(snap->reader(), *addr);
  const bool in_debt = !debts.empty();
  Reply(res, 200, {{"address", EncodeAddress(*addr)}, {"in_debt", in_debt}, {"debts", debts}});
}

}  // namespace

bool IsGridTxOp(pb::TxBody::OpCase op) { return IsGridOp(op) || IsPoolOp(op); }

json GridOpJson(const KvReader& state, const pb::TxBody& body) {
  const GridCtx g(state);
  switch (body.op_case()) {
    case pb::TxBody::kSetTariff: {
      const auto& t = body.set_tariff();
      json prices = json::array();
      for (int64_t p : t.import_prices()) prices.push_back(g.Money(p));
      return {{"type", "set_tariff"},
              {"zone", t.zone()},
              {"effective_from", Rfc3339S(t.effective_from_s())},
              {"effective_from_s", t.effective_from_s()},
              {"import_prices", prices},
              {"export_price", g.Money(t.export_price())}};
    }
    case pb::TxBody::kEnrollTariff:
      return {{"type", "enroll_tariff"}, {"meter_id", body.enroll_tariff().meter_id()}};
    case pb::TxBody::kPayDebt:
      return {{"type", "pay_debt"}, {"denom", body.pay_debt().denom()}};
    case pb::TxBody::kCreateEvent: {
      const auto& e = body.create_event();
      return {{"type", "create_event"},
              {"kind", std::string(EventKindName(e.kind()))},
              {"zone", e.zone()},
              {"start", Rfc3339S(e.start_s())},
              {"start_s", e.start_s()},
              {"end_s", e.end_s()},
              {"enrollment_deadline_s", e.enrollment_deadline_s()},
              {"baseline", std::string(BaselineName(e.baseline()))},
              {"target_power_w", e.target_power_w()},
              {"price", g.Money(e.price())},
              {"budget", g.Money(e.budget())}};
    }
    case pb::TxBody::kEnrollEvent: {
      const auto& e = body.enroll_event();
      return {{"type", "enroll_event"},
              {"event_id", e.event_id()},
              {"meter_id", e.pool_id() != 0 ? json(nullptr) : json(e.meter_id())},
              {"pool_id", e.pool_id() != 0 ? json(e.pool_id()) : json(nullptr)},
              {"committed_power_w", e.committed_power_w()},
              {"declared_baseline_wh", e.declared_baseline_wh()}};
    }
    case pb::TxBody::kCreateProgram: {
      const auto& p = body.create_program();
      return {{"type", "create_program"},
              {"kind", std::string(ProgramKindName(p.kind()))},
              {"denom", p.denom()},
              {"rate", p.rate()},
              {"hours_mask", p.hours_mask()},
              {"zone", p.zone().empty() ? json(nullptr) : json(p.zone())},
              {"budget", AmountJson(state, p.denom(), p.budget())},
              {"end", Rfc3339S(p.end_s())},
              {"end_s", p.end_s()}};
    }
    case pb::TxBody::kJoinProgram:
      return {{"type", "join_program"},
              {"program_id", body.join_program().program_id()},
              {"meter_id", body.join_program().meter_id()}};
    case pb::TxBody::kCreatePool:
      return {{"type", "create_pool"},
              {"name", body.create_pool().name()},
              {"fee_bps", body.create_pool().fee_bps()}};
    case pb::TxBody::kJoinPool:
      return {{"type", "join_pool"},
              {"pool_id", body.join_pool().pool_id()},
              {"meter_id", body.join_pool().meter_id()}};
    case pb::TxBody::kLeavePool:
      return {{"type", "leave_pool"},
              {"pool_id", body.leave_pool().pool_id()},
              {"meter_id", body.leave_pool().meter_id()}};
    default:
      return {{"type", "none"}};
  }
}

void AddGridRoutes(httplib::Server& s, ApiContext& c) {
  auto route = [&c](void (*fn)(ApiContext&, const httplib::Request&, httplib::Response&)) {
    return [&c, fn](const httplib::Request& req, httplib::Response& res) { fn(c, req, res); };
  };
  s.Get(R"(/v1/tariffs/([^/]+))", route(GetTariffs));
  s.Get("/v1/events", route(ListEvents));
  s.Get(R"(/v1/events/([^/]+))", route(GetEvent));
  s.Get("/v1/pools", route(ListPools));
  s.Get(R"(/v1/pools/([^/]+))", route(GetPool));
  s.Get("/v1/programs", route(ListPrograms));
  s.Get(R"(/v1/programs/([^/]+))", route(GetProgram));
  s.Get(R"(/v1/accounts/([^/]+)/statement)", route(AccountStatement));
  s.Get(R"(/v1/accounts/([^/]+)/debts)", route(AccountDebts));
}

}  // namespace v2g::api
