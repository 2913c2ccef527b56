// Renderers of grid services and aggregators (contracts/grid.h, contracts/pools.h): tariffs,
// demand-response events and their enrollments, incentive programs, pools, debts and the "op" of
// their txs. Tariff, pool and debt amounts are in the market denomination; an event's or a
// program's in its own denomination. See render.h.
#include <vector>

#include "common/checked.h"
#include "common/limits.h"
#include "contracts/grid.h"
#include "contracts/pools.h"
#include "node/api/render.h"

namespace v2g::api {
namespace {

// The 24 hourly import prices of a tariff, midnight (UTC) first.
template <typename Prices>
json ImportPricesJson(const StateView& v, const Prices& prices) {
  return JsonList(prices, [&](int64_t p) { return v.Money(p); });
}

std::string EventStatusName(pb::EventStatus s) {
  return s == pb::EVENT_OPEN ? "open" : s == pb::EVENT_SETTLED ? "settled" : "unknown";
}

std::string ProgramStatusName(pb::ProgramStatus s) {
  return s == pb::PROGRAM_OPEN ? "open" : s == pb::PROGRAM_CLOSED ? "closed" : "unknown";
}

// The hours of day (UTC) set in a program's 24-bit mask, ascending.
json HoursJson(uint32_t mask) {
  json hours = json::array();
  for (int h = 0; h < 24; ++h) {
    if ((mask >> h) & 1u) hours.push_back(h);
  }
  return hours;
}

// A pool's enrollment: its members' parts (s/event_pm/) and, once the event has settled, how the
// pool's payout was split, worked out exactly as settlement split it (contracts/pools.cc PayPool):
// fee = floor(payout x fee_bps / 10^4) (all of it when no member performed), the rest by
// performance with largest remainders.
void AddPoolParts(const StateView& v, const pb::EventRecord& ev, const pb::EventEnrollment& e,
                  json& j) {
  auto money = [&](int64_t a) { return AmountJson(v.state, ev.denom(), a); };
  const std::vector<pb::EventEnrollment> parts = LoadPoolParts(v.state, ev.id(), e.pool_id());
  std::vector<int64_t> weights;
  int64_t total = 0;
  for (const auto& p : parts) {
    weights.push_back(p.performance_wh());
    total += p.performance_wh();
  }
  const bool settled = ev.status() == pb::EVENT_SETTLED;
  const auto pool = LoadPool(v.state, e.pool_id());
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

}  // namespace

json TariffJson(const StateView& v, const pb::TariffRecord& t) {
  return {{"zone", t.zone()},
          {"effective_from", Rfc3339S(t.effective_from_s())},
          {"effective_from_s", t.effective_from_s()},
          {"grid_company", AddressText(t.grid_company())},
          {"import_prices", ImportPricesJson(v, t.import_prices())},
          {"export_price", v.Money(t.export_price())},
          {"set_height", t.set_height()}};
}

json TariffInEffectJson(const StateView& v, const pb::TariffRecord& t, int64_t now_s) {
  const int64_t hour = (now_s % 86400) / 3600;
  return {{"effective_from_s", t.effective_from_s()},
          {"hour", hour},
          {"import_price", t.import_prices_size() == 24
                               ? v.Money(t.import_prices(static_cast<int>(hour)))
                               : json(nullptr)},
          {"export_price", v.Money(t.export_price())}};
}

json EventJson(const StateView& v, const pb::EventRecord& e) {
  auto money = [&](int64_t a) { return AmountJson(v.state, e.denom(), a); };
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

json EnrollmentJson(const StateView& v, const pb::EventRecord& ev, const pb::EventEnrollment& e) {
  const bool pool = e.pool_id() != 0;
  json j = {{"meter_id", pool ? json(nullptr) : json(e.meter_id())},
            {"pool_id", IdOrNull(e.pool_id())},
            {"owner", AddressText(e.owner())},
            {"committed_power_w", e.committed_power_w()},
            {"declared_baseline_wh", e.declared_baseline_wh()},
            {"performance_wh", e.performance_wh()},
            {"payout", AmountJson(v.state, ev.denom(), e.payout())}};
  if (pool) AddPoolParts(v, ev, e, j);
  return j;
}

json PoolJson(const StateView& v, const pb::PoolRecord& p) {
  const bool bound = p.obligations_until_s() > 0;
  return {{"id", p.id()},
          {"aggregator", AddressText(p.aggregator())},
          {"name", p.name()},
          {"fee_bps", p.fee_bps()},
          {"member_count", p.members()},
          {"obligations_until", bound ? Rfc3339S(p.obligations_until_s()) : json(nullptr)},
          {"obligations_until_s", p.obligations_until_s()},
          {"created_height", p.created_height()},
          {"fees_earned", v.Money(p.fees_earned())},
          {"members_earned", v.Money(p.members_earned())}};
}

json PoolMemberJson(const StateView& v, const pb::PoolMember& m) {
  const bool leaving = m.leave_after_s() != 0;
  return {{"meter_id", m.meter_id()},
          {"owner", AddressText(m.owner())},
          {"from", Rfc3339S(m.from_s())},
          {"from_s", m.from_s()},
          {"leaving", leaving},
          {"leave_after", leaving ? Rfc3339S(m.leave_after_s()) : json(nullptr)},
          {"leave_after_s", leaving ? json(m.leave_after_s()) : json(nullptr)},
          {"earned", v.Money(m.earned())},
          {"delivered_wh", m.delivered_wh()}};
}

json ProgramJson(const StateView& v, const pb::ProgramRecord& p) {
  auto money = [&](int64_t a) { return AmountJson(v.state, p.denom(), a); };
  return {{"id", p.id()},
          {"sponsor", AddressText(p.sponsor())},
          {"kind", std::string(ProgramKindName(p.kind()))},
          {"denom", p.denom()},
          {"rate", p.rate()},
          {"rate_unit", p.kind() == pb::PROGRAM_CHARGING_DISCOUNT ? "bps_of_tariff_charge"
                                                                  : "minimal_units_per_kwh"},
          {"hours_mask", p.hours_mask()},
          {"hours", HoursJson(p.hours_mask())},
          {"zone", TextOrNull(p.zone())},
          {"end", Rfc3339S(p.end_s())},
          {"end_s", p.end_s()},
          {"status", ProgramStatusName(p.status())},
          {"member_count", p.members()},
          {"budget", money(p.budget())},
          {"remaining", money(p.remaining())},
          {"paid", money(p.paid())},
          {"returned", money(p.returned())}};
}

json ProgramMemberJson(const StateView& v, const pb::ProgramRecord& p, const pb::ProgramMember& m) {
  return {{"meter_id", m.meter_id()},
          {"owner", AddressText(m.owner())},
          {"paid", AmountJson(v.state, p.denom(), m.paid())}};
}

json DebtsJson(const KvReader& state, const Address& a) {
  return JsonList(LoadDebts(state, a), [&](const auto& creditor_debt) {
    const auto& [creditor, d] = creditor_debt;
    json j = AmountJson(state, d.denom(), d.amount());
    j["creditor"] = EncodeAddress(creditor);
    return j;
  });
}

bool IsGridTxOp(pb::TxBody::OpCase op) { return IsGridOp(op) || IsPoolOp(op); }

namespace {

json CreateEventOpJson(const StateView& v, const pb::CreateEvent& e) {
  return {{"type", "create_event"},
          {"kind", std::string(EventKindName(e.kind()))},
          {"zone", e.zone()},
          {"start", Rfc3339S(e.start_s())},
          {"start_s", e.start_s()},
          {"end_s", e.end_s()},
          {"enrollment_deadline_s", e.enrollment_deadline_s()},
          {"baseline", std::string(BaselineName(e.baseline()))},
          {"target_power_w", e.target_power_w()},
          {"price", v.Money(e.price())},
          {"budget", v.Money(e.budget())}};
}

json CreateProgramOpJson(const StateView& v, const pb::CreateProgram& p) {
  return {{"type", "create_program"},
          {"kind", std::string(ProgramKindName(p.kind()))},
          {"denom", p.denom()},
          {"rate", p.rate()},
          {"hours_mask", p.hours_mask()},
          {"zone", TextOrNull(p.zone())},
          {"budget", AmountJson(v.state, p.denom(), p.budget())},
          {"end", Rfc3339S(p.end_s())},
          {"end_s", p.end_s()}};
}

}  // namespace

json GridOpJson(const StateView& v, const pb::TxBody& body) {
  switch (body.op_case()) {
    case pb::TxBody::kSetTariff: {
      const auto& t = body.set_tariff();
      return {{"type", "set_tariff"},
              {"zone", t.zone()},
              {"effective_from", Rfc3339S(t.effective_from_s())},
              {"effective_from_s", t.effective_from_s()},
              {"import_prices", ImportPricesJson(v, t.import_prices())},
              {"export_price", v.Money(t.export_price())}};
    }
    case pb::TxBody::kEnrollTariff:
      return {{"type", "enroll_tariff"}, {"meter_id", body.enroll_tariff().meter_id()}};
    case pb::TxBody::kPayDebt:
      return {{"type", "pay_debt"}, {"denom", body.pay_debt().denom()}};
    case pb::TxBody::kCreateEvent:
      return CreateEventOpJson(v, body.create_event());
    case pb::TxBody::kEnrollEvent: {
      const auto& e = body.enroll_event();
      return {{"type", "enroll_event"},
              {"event_id", e.event_id()},
              {"meter_id", e.pool_id() != 0 ? json(nullptr) : json(e.meter_id())},
              {"pool_id", IdOrNull(e.pool_id())},
              {"committed_power_w", e.committed_power_w()},
              {"declared_baseline_wh", e.declared_baseline_wh()}};
    }
    case pb::TxBody::kCreateProgram:
      return CreateProgramOpJson(v, body.create_program());
    case pb::TxBody::kJoinProgram:
      return IdOpJson("join_program", "program_id", body.join_program().program_id(),
                      &body.join_program().meter_id());
    case pb::TxBody::kCreatePool:
      return {{"type", "create_pool"},
              {"name", body.create_pool().name()},
              {"fee_bps", body.create_pool().fee_bps()}};
    case pb::TxBody::kJoinPool:
      return IdOpJson("join_pool", "pool_id", body.join_pool().pool_id(),
                      &body.join_pool().meter_id());
    case pb::TxBody::kLeavePool:
      return IdOpJson("leave_pool", "pool_id", body.leave_pool().pool_id(),
                      &body.leave_pool().meter_id());
    default:
      return {{"type", "none"}};
  }
}

}  // namespace v2g::api
