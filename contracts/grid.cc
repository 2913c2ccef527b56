#include "contracts/grid.h"

#include <algorithm>
#include <map>

#include "common/bytes.h"
#include "common/checked.h"
#include "common/limits.h"
#include "contracts/escrow.h"
#include "contracts/market.h"
#include "contracts/meters.h"
#include "contracts/pools.h"
#include "contracts/state.h"

namespace v2g {
namespace {

constexpr std::string_view kTariffEnrollPrefix = "s/tariff_e/";
constexpr std::string_view kClaimPrefix = "s/claim/";
constexpr std::string_view kCursorKey = "s/grid_cursor";
// s/grid_charge/<meter> TariffCharge: the meter's charge in the interval being settled, for the
// programs phase (one per tariff-enrolled meter, overwritten each interval it is billed).
constexpr std::string_view kChargePrefix = "s/grid_charge/";
constexpr std::string_view kSeqKey = "s/grid_seq";
constexpr std::string_view kEventEnrollPrefix = "s/event_e/";
constexpr std::string_view kEventOpenPrefix = "s/event_open/";
constexpr std::string_view kEventMemberPrefix = "s/event_pm/";  // a pool member's part of a pool enrollment
constexpr std::string_view kProgramMemberPrefix = "s/program_m/";
constexpr std::string_view kProgramOpenPrefix = "s/program_open/";
// s/meter_enr/<meter>/<'e' event | 'p' program><id 8B> "": a meter's own enrollments, so a transfer
// can find the open ones without scanning every event. Closed entries are pruned at the next
// enrollment, which also caps the open ones: every entry was open at the last enrollment, so the
// index never holds more than the cap.
constexpr std::string_view kMeterEnrollPrefix = "s/meter_enr/";
constexpr int64_t kHoursPerDay = 24;

std::string Num(int64_t v) { return std::to_string(v); }
std::string UNum(uint64_t v) { return std::to_string(v); }

std::string IdKey(std::string_view prefix, uint64_t id) {
  std::string k(prefix);
  AppendBigEndian64(k, id);
  return k;
}
std::string IdMeterKey(std::string_view prefix, uint64_t id, std::string_view meter) {
  std::string k = IdKey(prefix, id);
  k += meter;
  return k;
}
std::string MeterEnrollPrefix(std::string_view meter) {
  std::string k(kMeterEnrollPrefix);
  k += meter;
  k += '/';
  return k;
}
std::string MeterEnrollKey(std::string_view meter, char kind, uint64_t id) {
  std::string k = MeterEnrollPrefix(meter);
  k += kind;
  AppendBigEndian64(k, id);
  return k;
}

// Whether index entry (kind, id) still binds its meter: the event is not settled / the program
// has not closed.
bool EnrollmentOpen(const KvReader& kv, char kind, uint64_t id);

struct MeterEnrollments {
  std::vector<std::pair<char, uint64_t>> open;
  std::vector<std::string> closed_keys;
};

MeterEnrollments ScanMeterEnrollments(const KvReader& kv, std::string_view meter) {
  MeterEnrollments out;
  const std::string prefix = MeterEnrollPrefix(meter);
  kv.Scan(prefix, [&](std::string_view key, std::string_view) {
    V2G_ASSERT(key.size() == prefix.size() + 9);  // ids hold no '/', so no other meter's keys
    const char kind = key[prefix.size()];
    const uint64_t id = ReadBigEndian64(key.substr(prefix.size() + 1));
    if (EnrollmentOpen(kv, kind, id)) {
      out.open.emplace_back(kind, id);
    } else {
      out.closed_keys.emplace_back(key);
    }
    return true;
  });
  return out;
}

// Records a new enrollment of `meter` in the index, pruning closed entries; refuses when the
// meter already has the most open enrollments allowed.
Status IndexMeterEnrollment(Overlay& st, std::string_view meter, char kind, uint64_t id) {
  MeterEnrollments e = ScanMeterEnrollments(st, meter);
  for (const auto& k : e.closed_keys) st.Delete(k);
  if (static_cast<int64_t>(e.open.size()) >= limits::kMeterOpenEnrollmentsMax) {
    return Error(Code::kTooLarge, "meter '" + std::string(meter) + "' already has " + std::to_string(e.open.size()) +
                                      " open event enrollments and program memberships, the most allowed");
  }
  st.Put(MeterEnrollKey(meter, kind, id), "");
  return Status::Ok();
}

std::string TariffKey(std::string_view zone, int64_t from_s) {
  std::string k(kTariffPrefix);
  k += zone;
  k += '/';
  AppendBigEndian64(k, static_cast<uint64_t>(from_s));
  return k;
}
std::string ClaimKey(std::string_view meter, int64_t interval_start_s) {
  std::string k(kClaimPrefix);
  k += meter;
  k += '/';
  AppendBigEndian64(k, static_cast<uint64_t>(interval_start_s));
  return k;
}
std::string DebtKey(const Address& debtor, const Address& creditor) {
  return std::string(kDebtPrefix) + AddressBytes(debtor) + AddressBytes(creditor);
}
std::string StatementKey(const Address& owner, int64_t interval_start_s) {
  std::string k = std::string(kStatementPrefix) + AddressBytes(owner);
  AppendBigEndian64(k, static_cast<uint64_t>(interval_start_s));
  return k;
}



// Charges, feed-in and program amounts: energy x price in 128 bits, clamped at int64 max. Each
// input is bounded at admission (prices <= kOrderPriceMax, a meter's energy by its power), but a
// vehicle's billable import sums what every charger naming it attested, so the product is not
// provably below 2^63; clamped, it is still more than anyone holds, and what is paid is then
// capped by the payer's balance (PayUpTo), a budget or a program's remaining funds.
int64_t MulDiv(int64_t a, int64_t b, int64_t c) { return MulDivSaturating(a, b, c); }

void StoreClaim(Overlay& st, std::string_view meter, int64_t interval_start_s, const pb::EnergyClaim& c) {
  st.Put(ClaimKey(meter, interval_start_s), Encode(c));
}

void AddDebt(Overlay& st, const Address& debtor, const Address& creditor, std::string_view denom, int64_t amount) {
  if (amount == 0) return;
  pb::DebtRecord d;
  if (auto v = st.Get(DebtKey(debtor, creditor))) d = DecodeRecord<pb::DebtRecord>(*v);
  d.set_denom(std::string(denom));
  // A debt only grows while it is unpaid: saturated at int64 max (more than any supply) rather
  // than wrapping or halting the chain (tests/contracts/extreme_values_test.cc).
  d.set_amount(SaturatingAdd(d.amount(), amount));
  st.Put(DebtKey(debtor, creditor), Encode(d));
}

// ------------------------------------------------------------------ field checks

Status Range(std::string_view what, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi) {
    return Error(Code::kInvalidArgument, std::string(what) + " must be " + Num(lo) + ".." + Num(hi) + ", got " + Num(v));
  }
  return Status::Ok();
}

// Range() for a time: the bounds and the value as times, never Unix seconds.
Status TimeRange(std::string_view what, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi) {
    return Error(Code::kInvalidArgument, Text(std::string(what) + " must be from {lo} to {hi}, got {v}")
                                             .Time("lo", lo)
                                             .Time("hi", hi)
                                             .Time("v", v));
  }
  return Status::Ok();
}

// Range() for money in `denom`: shown in display units.
Status MoneyRange(std::string_view what, int64_t v, int64_t lo, int64_t hi, const std::string& denom) {
  if (v < lo || v > hi) {
    return Error(Code::kInvalidArgument, Text(std::string(what) + " must be from {lo} to {hi}, got {v}")
                                             .Amount("lo", denom, lo)
                                             .Amount("hi", denom, hi)
                                             .Amount("v", denom, v));
  }
  return Status::Ok();
}

Status CheckZone(std::string_view what, std::string_view zone) {
  if (!ValidZone(zone)) return Error(Code::kInvalidArgument, std::string(what) + " zone must be 1-32 of A-Z a-z 0-9 . _ -");
  return Status::Ok();
}

Status CheckMeterId(std::string_view what, std::string_view id) {
  if (!ValidMeterId(id)) return Error(Code::kInvalidArgument, std::string(what) + ": meter id is not 1-64 of A-Z a-z 0-9 . _ : -");
  return Status::Ok();
}

Status RequireEnabled(const pb::ParamsRecord& params) {
  if (params.market_denom().empty() || params.settlement_interval_s() <= 0) {
    return Error(Code::kMarketDisabled, "this chain has no market denomination, so no grid services (genesis params.market_denom)");
  }
  return Status::Ok();
}

Status RequireRole(const KvReader& st, std::string_view role, const Address& who, std::string_view action) {
  if (!HasRole(st, role, who)) {
    return Error(Code::kUnauthorized, EncodeAddress(who) + " does not hold the " + std::string(role) + " role needed to " +
                                          std::string(action));
  }
  return Status::Ok();
}

// Only the grid company that owns `zone` (its ZoneRecord) publishes its tariffs and events.
Status RequireZoneOwner(const KvReader& st, std::string_view zone, const Address& who, std::string_view action) {
  auto z = RequireZone(st, zone, action);
  if (!z.ok()) return z.status();
  if (z->grid_company() != AddressBytes(who)) {
    return Error(Code::kUnauthorized, std::string(action) + ": zone " + std::string(zone) + " belongs to grid company " +
                                          EncodeAddress(StoredAddress(z->grid_company())) + ", not to " + EncodeAddress(who));
  }
  return Status::Ok();
}

Status RequireAligned(std::string_view what, int64_t t, int64_t len) {
  if (t % len != 0) {
    return Error(Code::kInvalidArgument, Text(std::string(what) + " {t} is not aligned to the " + DurationWords(len) +
                                              " settlement intervals (the interval holding it starts at {earlier})")
                                             .Time("t", t)
                                             .Time("earlier", t - t % len));
  }
  return Status::Ok();
}

// The first interval that has not started at block time.
int64_t NextIntervalStart(const BlockContext& ctx, int64_t len) {
  return SettlementIntervalStart(ctx.time_ms / 1000, len) + len;
}


// Refuses a start more than the grid horizon ahead of the block time.
Status RequireWithinHorizon(std::string_view what, int64_t start_s, const BlockContext& ctx,
                            const pb::ParamsRecord& params) {
  const int64_t horizon = GridHorizonS(params);
  // start_s <= 2^40 (CheckGridOp) and time_ms is a block time: no overflow.
  if (start_s * 1000 > ctx.time_ms + horizon * 1000) {
    return Error(Code::kInvalidArgument, Text(std::string(what) + " {start} is more than the grid horizon (" +
                                              DurationWords(horizon) + ", params.grid_horizon_s) ahead; the latest allowed is {latest}")
                                             .Time("start", start_s)
                                             .Time("latest", ctx.time_ms / 1000 + horizon));
  }
  return Status::Ok();
}

// ------------------------------------------------------------------ ops

Status ApplySetTariff(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params, Overlay& st,
                      pb::TxResult* result) {
  const auto& t = tx.body.set_tariff();
  V2G_RETURN_IF_ERROR(RequireRole(st, "grid_company", tx.signer, "publish a tariff"));
  V2G_RETURN_IF_ERROR(RequireZoneOwner(st, t.zone(), tx.signer, "set_tariff"));
  const int64_t len = params.settlement_interval_s();
  V2G_RETURN_IF_ERROR(RequireAligned("set_tariff effective_from_s", t.effective_from_s(), len));
  if (t.effective_from_s() < NextIntervalStart(ctx, len)) {
    return Error(Code::kDeadlinePassed, Text("set_tariff: a tariff cannot start in the past or the current interval (the next "
                                             "interval starts at {next})")
                                            .Time("next", NextIntervalStart(ctx, len)));
  }
  V2G_RETURN_IF_ERROR(RequireWithinHorizon("set_tariff effective_from_s", t.effective_from_s(), ctx, params));
  pb::TariffRecord r;
  r.set_zone(t.zone());
  r.set_effective_from_s(t.effective_from_s());
  r.set_grid_company(AddressBytes(tx.signer));
  *r.mutable_import_prices() = t.import_prices();
  r.set_export_price(t.export_price());
  r.set_set_height(ctx.height);
  st.Put(TariffKey(t.zone(), t.effective_from_s()), Encode(r));
  if (result) SetLog(result, Text("tariff for zone " + t.zone() + " from {from} published").Time("from", t.effective_from_s()));
  return Status::Ok();
}

Status ApplyEnrollTariff(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params, Overlay& st,
                         pb::TxResult* result) {
  const std::string& id = tx.body.enroll_tariff().meter_id();
  auto m = RequireOwnedMeter(st, id, tx.signer);
  if (!m.ok()) return m.status();
  if (LoadTariffEnrollment(st, id)) return Error(Code::kAlreadyExists, "meter '" + id + "' is already billed under its zone's tariff");
  pb::TariffEnrollment e;
  e.set_meter_id(id);
  e.set_from_s(NextIntervalStart(ctx, params.settlement_interval_s()));
  st.Put(std::string(kTariffEnrollPrefix) + id, Encode(e));
  if (result) SetLog(result, Text("meter '" + id + "' billed under the " + m->zone() + " tariff from {from}").Time("from", e.from_s()));
  return Status::Ok();
}

Status ApplyPayDebt(const CheckedTx& tx, const pb::ParamsRecord& params, pb::AccountRecord& signer_rec, Overlay& st,
                    pb::TxResult* result) {
  const std::string& denom = params.market_denom();
  if (tx.body.pay_debt().denom() != denom) {
    return Error(Code::kInvalidArgument, "pay_debt: debts are in " + denom + ", not '" + tx.body.pay_debt().denom() + "'");
  }
  auto debts = LoadDebts(st, tx.signer);
  if (debts.empty()) return Error(Code::kNotFound, EncodeAddress(tx.signer) + " owes nothing");
  ModuleFunds funds(st, GridModuleAddress(), &tx.signer, &signer_rec);
  if (funds.BalanceOf(tx.signer, denom) == 0) {
    return Error(Code::kInsufficientFunds, EncodeAddress(tx.signer) + " has no " + denom + " to pay its debts with");
  }
  int64_t paid = 0, left = 0;
  for (auto& [creditor, d] : debts) {
    const int64_t moved = funds.PayUpTo(tx.signer, creditor, denom, d.amount());
    paid += moved;
    d.set_amount(d.amount() - moved);
    left = SaturatingAdd(left, d.amount());  // debts saturate at int64 max, so may their sum
    if (d.amount() == 0) {
      st.Delete(DebtKey(tx.signer, creditor));
    } else {
      st.Put(DebtKey(tx.signer, creditor), Encode(d));
    }
  }
  if (result) SetLog(result, Text("paid {paid} of debts; {left} still owed").Amount("paid", denom, paid).Amount("left", denom, left));
  return Status::Ok();
}

Status ApplyCreateEvent(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params,
                        pb::AccountRecord& signer_rec, Overlay& st, pb::TxResult* result) {
  const auto& e = tx.body.create_event();
  V2G_RETURN_IF_ERROR(RequireRole(st, "grid_company", tx.signer, "create a demand-response event"));
  V2G_RETURN_IF_ERROR(RequireZoneOwner(st, e.zone(), tx.signer, "create_event"));
  const int64_t len = params.settlement_interval_s();
  V2G_RETURN_IF_ERROR(RequireAligned("create_event start_s", e.start_s(), len));
  V2G_RETURN_IF_ERROR(RequireAligned("create_event end_s", e.end_s(), len));
  if (e.start_s() < NextIntervalStart(ctx, len)) {
    return Error(Code::kDeadlinePassed, Text("create_event: start {start} has passed or is under way (the next interval starts at {next})")
                                            .Time("start", e.start_s())
                                            .Time("next", NextIntervalStart(ctx, len)));
  }
  if (e.enrollment_deadline_s() * 1000 <= ctx.time_ms) {
    return Error(Code::kDeadlinePassed, Text("create_event: enrollment deadline {deadline} has passed (block time {now})")
                                            .Time("deadline", e.enrollment_deadline_s())
                                            .Time("now", ctx.time_ms / 1000));
  }
  // An enrollment holds the meter (or the pool's members) until the event ends: at most the
  // horizon plus kEventDurationSMax from now.
  V2G_RETURN_IF_ERROR(RequireWithinHorizon("create_event start_s", e.start_s(), ctx, params));
  ModuleFunds funds(st, GridModuleAddress(), &tx.signer, &signer_rec);
  V2G_RETURN_IF_ERROR(funds.Lock(tx.signer, params.market_denom(), e.budget(), "for this event's budget"));
  pb::EventRecord r;
  r.set_id(NextSequence(st, kSeqKey));
  r.set_grid_company(AddressBytes(tx.signer));
  r.set_kind(e.kind());
  r.set_zone(e.zone());
  r.set_start_s(e.start_s());
  r.set_end_s(e.end_s());
  r.set_target_power_w(e.target_power_w());
  r.set_price(e.price());
  r.set_budget(e.budget());
  r.set_enrollment_deadline_s(e.enrollment_deadline_s());
  r.set_baseline(e.baseline());
  r.set_status(pb::EVENT_OPEN);
  r.set_created_height(ctx.height);
  r.set_denom(params.market_denom());
  st.Put(IdKey(kEventPrefix, r.id()), Encode(r));
  st.Put(IdKey(kEventOpenPrefix, r.id()), "");
  if (result) {
    result->set_created_id(r.id());
    SetLog(result, Text(std::string(EventKindName(e.kind())) + " event " + UNum(r.id()) + " created; budget {budget} escrowed")
                       .Amount("budget", params.market_denom(), e.budget()));
  }
  return Status::Ok();
}

// The aggregator enrolls its pool: committed power up to the members' combined limit in the
// event's zone at its start; the baseline is each member's own history (prior_days events) or
// none (reverse discharge).
Status EnrollPool(const CheckedTx& tx, pb::EventRecord& ev, const pb::ParamsRecord& params, Overlay& st,
                  pb::TxResult* result) {
  const auto& en = tx.body.enroll_event();
  auto pool = RequirePoolAggregator(st, en.pool_id(), tx.signer);
  if (!pool.ok()) return pool.status();
  if (ev.baseline() == pb::BASELINE_DECLARED) {
    return Error(Code::kInvalidArgument, "enroll_event: a pool's baseline comes from its members' history; event " +
                                             UNum(ev.id()) + " uses declared baselines");
  }
  if (en.declared_baseline_wh() != 0) return Error(Code::kInvalidArgument, "enroll_event: a pool declares no baseline");
  int64_t max_w = 0;
  for (const auto& m : PoolMembersIn(st, en.pool_id(), ev.zone(), ev.start_s())) {
    auto meter = LoadMeter(st, m.meter_id());
    max_w += ev.kind() == pb::EVENT_REVERSE_DISCHARGE ? meter->max_export_w() : meter->max_import_w();
  }
  V2G_RETURN_IF_ERROR(Range("enroll_event committed_power_w (the pool members' combined limit in " + ev.zone() + ")",
                            en.committed_power_w(), 1, std::min(max_w, limits::kMeterPowerWMax)));
  const std::string key = IdMeterKey(kEventEnrollPrefix, ev.id(), PoolObligationKey(en.pool_id()));
  if (st.Get(key)) return Error(Code::kAlreadyExists, "pool " + UNum(en.pool_id()) + " is already enrolled in event " + UNum(ev.id()));
  pb::EventEnrollment e;
  e.set_event_id(ev.id());
  e.set_owner(AddressBytes(tx.signer));
  e.set_committed_power_w(en.committed_power_w());
  e.set_pool_id(en.pool_id());
  st.Put(key, Encode(e));
  NotePoolObligation(st, en.pool_id(), ev.end_s());
  ev.set_enrollments(ev.enrollments() + 1);
  st.Put(IdKey(kEventPrefix, ev.id()), Encode(ev));
  if (result) result->set_log("pool " + UNum(en.pool_id()) + " enrolled in event " + UNum(ev.id()));
  (void)params;
  return Status::Ok();
}

Status ApplyEnrollEvent(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params, Overlay& st,
                        pb::TxResult* result) {
  const auto& en = tx.body.enroll_event();
  auto ev = LoadEvent(st, en.event_id());
  if (!ev) return Error(Code::kNotFound, "no event " + UNum(en.event_id()));
  if (ctx.time_ms >= ev->enrollment_deadline_s() * 1000) {
    return Error(Code::kDeadlinePassed, Text("enrollment in event " + UNum(ev->id()) + " closed at {deadline}")
                                            .Time("deadline", ev->enrollment_deadline_s()));
  }
  if (en.pool_id() != 0) return EnrollPool(tx, *ev, params, st, result);
  auto m = RequireOwnedMeter(st, en.meter_id(), tx.signer);
  if (!m.ok()) return m.status();
  V2G_RETURN_IF_ERROR(RequireNotPooled(st, en.meter_id()));
  if (m->zone() != ev->zone()) {
    return Error(Code::kInvalidArgument, "meter '" + en.meter_id() + "' is in zone " + m->zone() + ", event " +
                                             UNum(ev->id()) + " in " + ev->zone());
  }
  const int64_t max_w = ev->kind() == pb::EVENT_REVERSE_DISCHARGE ? m->max_export_w() : m->max_import_w();
  V2G_RETURN_IF_ERROR(Range("enroll_event committed_power_w (the meter's limit)", en.committed_power_w(), 1, max_w));
  if (ev->baseline() == pb::BASELINE_DECLARED && ev->kind() != pb::EVENT_REVERSE_DISCHARGE) {
    V2G_RETURN_IF_ERROR(Range("enroll_event declared_baseline_wh", en.declared_baseline_wh(), 0,
                              m->max_import_w() * params.settlement_interval_s() / 3600));
  } else if (en.declared_baseline_wh() != 0) {
    return Error(Code::kInvalidArgument, "enroll_event: event " + UNum(ev->id()) + " takes no declared baseline");
  }
  const std::string key = IdMeterKey(kEventEnrollPrefix, ev->id(), en.meter_id());
  if (st.Get(key)) return Error(Code::kAlreadyExists, "meter '" + en.meter_id() + "' is already enrolled in event " + UNum(ev->id()));
  V2G_RETURN_IF_ERROR(IndexMeterEnrollment(st, en.meter_id(), 'e', ev->id()));
  pb::EventEnrollment e;
  e.set_event_id(ev->id());
  e.set_meter_id(en.meter_id());
  e.set_owner(AddressBytes(tx.signer));
  e.set_committed_power_w(en.committed_power_w());
  e.set_declared_baseline_wh(en.declared_baseline_wh());
  st.Put(key, Encode(e));
  ev->set_enrollments(ev->enrollments() + 1);
  st.Put(IdKey(kEventPrefix, ev->id()), Encode(*ev));
  if (result) result->set_log("meter '" + en.meter_id() + "' enrolled in event " + UNum(ev->id()));
  return Status::Ok();
}

Status ApplyCreateProgram(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params,
                          pb::AccountRecord& signer_rec, Overlay& st, pb::TxResult* result) {
  const auto& p = tx.body.create_program();
  V2G_RETURN_IF_ERROR(RequireRole(st, "operator", tx.signer, "sponsor an incentive program"));
  if (!p.zone().empty()) V2G_RETURN_IF_ERROR(RequireZone(st, p.zone(), "create_program").status());
  if (!LoadDenom(st, p.denom())) return Error(Code::kUnknownDenom, "create_program: unknown denomination '" + p.denom() + "'");
  const int64_t len = params.settlement_interval_s();
  V2G_RETURN_IF_ERROR(RequireAligned("create_program end_s", p.end_s(), len));
  if (p.end_s() < NextIntervalStart(ctx, len) || p.end_s() * 1000 > ctx.time_ms + limits::kProgramDurationSMax * 1000) {
    return Error(Code::kInvalidArgument, Text("create_program end {end} must lie between the next interval ({next}) and " +
                                              DurationWords(limits::kProgramDurationSMax) + " from now ({latest})")
                                             .Time("end", p.end_s())
                                             .Time("next", NextIntervalStart(ctx, len))
                                             .Time("latest", ctx.time_ms / 1000 + limits::kProgramDurationSMax));
  }
  ModuleFunds funds(st, GridModuleAddress(), &tx.signer, &signer_rec);
  V2G_RETURN_IF_ERROR(funds.Lock(tx.signer, p.denom(), p.budget(), "for this program's budget"));
  pb::ProgramRecord r;
  r.set_id(NextSequence(st, kSeqKey));
  r.set_sponsor(AddressBytes(tx.signer));
  r.set_kind(p.kind());
  r.set_denom(p.denom());
  r.set_rate(p.rate());
  r.set_hours_mask(p.hours_mask());
  r.set_zone(p.zone());
  r.set_budget(p.budget());
  r.set_remaining(p.budget());
  r.set_end_s(p.end_s());
  r.set_status(pb::PROGRAM_OPEN);
  st.Put(IdKey(kProgramPrefix, r.id()), Encode(r));
  st.Put(IdKey(kProgramOpenPrefix, r.id()), "");
  if (result) {
    result->set_created_id(r.id());
    SetLog(result, Text(std::string(ProgramKindName(p.kind())) + " program " + UNum(r.id()) + " created; budget {budget} escrowed")
                       .Amount("budget", p.denom(), p.budget()));
  }
  return Status::Ok();
}

Status ApplyJoinProgram(const CheckedTx& tx, Overlay& st, pb::TxResult* result) {
  const auto& j = tx.body.join_program();
  auto p = LoadProgram(st, j.program_id());
  if (!p) return Error(Code::kNotFound, "no program " + UNum(j.program_id()));
  if (p->status() != pb::PROGRAM_OPEN) return Error(Code::kOrderNotOpen, "program " + UNum(p->id()) + " has closed");
  auto m = RequireOwnedMeter(st, j.meter_id(), tx.signer);
  if (!m.ok()) return m.status();
  if (!p->zone().empty() && p->zone() != m->zone()) {
    return Error(Code::kInvalidArgument, "program " + UNum(p->id()) + " is for zone " + p->zone() + "; meter '" + j.meter_id() +
                                             "' is in " + m->zone());
  }
  const std::string key = IdMeterKey(kProgramMemberPrefix, p->id(), j.meter_id());
  if (st.Get(key)) return Error(Code::kAlreadyExists, "meter '" + j.meter_id() + "' already takes part in program " + UNum(p->id()));
  V2G_RETURN_IF_ERROR(IndexMeterEnrollment(st, j.meter_id(), 'p', p->id()));
  pb::ProgramMember mem;
  mem.set_program_id(p->id());
  mem.set_meter_id(j.meter_id());
  mem.set_owner(AddressBytes(tx.signer));
  st.Put(key, Encode(mem));
  p->set_members(p->members() + 1);
  st.Put(IdKey(kProgramPrefix, p->id()), Encode(*p));
  if (result) result->set_log("meter '" + j.meter_id() + "' joined program " + UNum(p->id()));
  return Status::Ok();
}

// ------------------------------------------------------------------ the interval pass

int64_t Baseline(const KvReader& st, const pb::EventRecord& ev, const pb::EventEnrollment& e, int64_t interval_start_s,
                 const pb::ParamsRecord& params) {
  if (ev.baseline() == pb::BASELINE_DECLARED) return e.declared_baseline_wh();
  const int64_t days = params.baseline_days() > 0 ? params.baseline_days() : limits::kBaselineDaysDefault;
  // The figure the owner cannot move in its favour (contracts/meters.h): a peak-relief baseline
  // pays more the higher it is, so it counts only corroborated import; a valley-fill baseline pays
  // more the lower it is, so it counts at least the charger's figure.
  const bool peak = ev.kind() == pb::EVENT_PEAK_RELIEF;
  Int128 sum = 0;  // of up to kBaselineDaysMax int64 figures
  for (int64_t d = 1; d <= days; ++d) {
    const IntervalMoneyEnergy r = LoadIntervalMoneyEnergy(st, e.meter_id(), interval_start_s - d * 86400);
    sum += peak ? r.payable_import_wh : r.billable_import_wh;
  }
  return static_cast<int64_t>(sum / days);
}

std::string PoolPartPrefix(uint64_t event_id, uint64_t pool_id) {
  std::string k = IdKey(kEventMemberPrefix, event_id);
  AppendBigEndian64(k, pool_id);
  return k;
}

}  // namespace

std::vector<pb::EventEnrollment> LoadPoolParts(const KvReader& st, uint64_t event_id, uint64_t pool_id) {
  return LoadRecords<pb::EventEnrollment>(st, PoolPartPrefix(event_id, pool_id));
}

namespace {

// A pool's performance in one interval: the members' contributions summed, floored at 0, capped
// at the committed power; then shared back to the members by their positive contributions, claimed
// on their meters and added to their parts.
int64_t PoolPerformance(const pb::ParamsRecord& params, Overlay& st, const pb::EventRecord& ev,
                        const pb::EventEnrollment& e, int64_t interval_start_s) {
  // No member is also enrolled in the event on its own: a pooled meter cannot enroll (the
  // aggregator enrolls for it) and a meter with an open enrollment cannot join (ApplyPoolOp).
  const std::vector<pb::PoolMember> members = PoolMembersIn(st, e.pool_id(), ev.zone(), interval_start_s);
  std::vector<int64_t> weights;
  Int128 sum = 0;  // members' contributions, each a difference of two int64 figures
  for (const auto& m : members) {
    const IntervalMoneyEnergy en = LoadIntervalMoneyEnergy(st, m.meter_id(), interval_start_s);
    pb::EventEnrollment as_member;
    as_member.set_meter_id(m.meter_id());
    int64_t c = 0;
    switch (ev.kind()) {
      case pb::EVENT_PEAK_RELIEF:
        c = en.attested ? Baseline(st, ev, as_member, interval_start_s, params) - en.billable_import_wh : 0;
        break;
      case pb::EVENT_VALLEY_FILL: c = en.payable_import_wh - Baseline(st, ev, as_member, interval_start_s, params); break;
      case pb::EVENT_REVERSE_DISCHARGE: {
        const pb::EnergyClaim claim = LoadClaim(st, m.meter_id(), interval_start_s);
        c = en.payable_export_wh - claim.market_wh() - claim.event_export_wh();
        break;
      }
      default: break;
    }
    sum += c;
    weights.push_back(std::max<int64_t>(0, c));
  }
  const int64_t cap = e.committed_power_w() * params.settlement_interval_s() / 3600;  // <= 10^8 x 86400
  const int64_t perf = sum <= 0 ? 0 : sum >= cap ? cap : static_cast<int64_t>(sum);
  const std::vector<int64_t> parts = SplitProRata(perf, weights);
  for (size_t i = 0; i < members.size(); ++i) {
    if (parts[i] == 0) continue;
    pb::EnergyClaim claim = LoadClaim(st, members[i].meter_id(), interval_start_s);
    claim.set_event_wh(claim.event_wh() + parts[i]);
    if (ev.kind() == pb::EVENT_REVERSE_DISCHARGE) claim.set_event_export_wh(claim.event_export_wh() + parts[i]);
    StoreClaim(st, members[i].meter_id(), interval_start_s, claim);
    const std::string key = PoolPartPrefix(ev.id(), e.pool_id()) + members[i].meter_id();
    pb::EventEnrollment part;
    if (auto v = st.Get(key)) {
      part = DecodeRecord<pb::EventEnrollment>(*v);
    } else {
      part.set_event_id(ev.id());
      part.set_meter_id(members[i].meter_id());
      part.set_owner(members[i].owner());
      part.set_pool_id(e.pool_id());
    }
    part.set_performance_wh(part.performance_wh() + parts[i]);
    st.Put(key, Encode(part));
  }
  return perf;
}

// The performance of a meter's own enrollment `e` in event `ev` over one interval, claimed in the
// meter's energy claim so no other payment (market, another event, feed-in) counts the same energy.
int64_t MeasureMeterEnrollment(const pb::ParamsRecord& params, Overlay& st, const pb::EventRecord& ev,
                               const pb::EventEnrollment& e, int64_t interval_start_s) {
  const int64_t len = params.settlement_interval_s();
  const IntervalMoneyEnergy en = LoadIntervalMoneyEnergy(st, e.meter_id(), interval_start_s);
  pb::EnergyClaim claim = LoadClaim(st, e.meter_id(), interval_start_s);
  int64_t perf = 0;
  // Each side with the figure the owner cannot move in its favour (contracts/meters.h).
  switch (ev.kind()) {
    // No attested reading in the interval proves no reduction: a silent meter earns nothing.
    case pb::EVENT_PEAK_RELIEF:
      perf = en.attested ? Baseline(st, ev, e, interval_start_s, params) - en.billable_import_wh : 0;
      break;
    case pb::EVENT_VALLEY_FILL: perf = en.payable_import_wh - Baseline(st, ev, e, interval_start_s, params); break;
    case pb::EVENT_REVERSE_DISCHARGE:
      perf = en.payable_export_wh - claim.market_wh() - claim.event_export_wh();
      break;
    default: break;
  }
  perf = std::clamp<int64_t>(perf, 0, e.committed_power_w() * len / 3600);
  if (perf == 0) return 0;
  claim.set_event_wh(claim.event_wh() + perf);
  if (ev.kind() == pb::EVENT_REVERSE_DISCHARGE) claim.set_event_export_wh(claim.event_export_wh() + perf);
  StoreClaim(st, e.meter_id(), interval_start_s, claim);
  return perf;
}

// ---- the block's work bound and the cursor
//
// One interval's pass runs in phases (pb::GridPhase) and may stop after any record when the
// block's work bound is spent; the cursor (s/grid_cursor) then says where it resumes. Every record
// is done exactly once and in the same order whatever the bound, so the results are the same as
// one pass in one block (tests/contracts/abuse_test.cc GridWorkTest checks it byte for byte).

// Records visited by this block's grid pass, against limits::kGridWorkPerBlockMax.
struct GridWork {
  int64_t max = limits::kGridWorkPerBlockMax;
  int64_t done = 0;
  // Takes a step of `cost` records if it fits; the block's first step always does (so the pass
  // always moves). No step is larger than the default bound (the largest, a pool's enrollment, is
  // at most 1 + limits::kPoolMembersMax: asserted in limits.h), so only a smaller `work_max` (the
  // tests') lets a block's first step pass it.
  bool Take(int64_t cost) {
    V2G_ASSERT(cost > 0);
    if (done > 0 && done + cost > max) return false;
    done += cost;
    return true;
  }
};

// What each phase works with: the interval is cur.next_interval_s().
struct GridPass {
  const pb::ParamsRecord& params;
  Overlay& st;
  ModuleFunds& funds;
  pb::GridCursor& cur;
  GridWork& work;
  int64_t interval() const { return cur.next_interval_s(); }
};

// The first key under `prefix` after the one whose suffix is `after` ("" = from the start).
std::string KeyAfter(std::string_view prefix, const std::string& after) {
  std::string k(prefix);
  if (after.empty()) return k;
  k += after;
  k += '\0';
  return k;
}

// The records under `prefix` after the cursor's `after`, in key order, as long as the block's work
// allows: cost(value) records each. Returns their key suffixes and values, and whether more are
// left (the bound stopped the scan). Reads only what it returns, plus one.
struct Batch {
  std::vector<std::pair<std::string, std::string>> items;
  bool more = false;
};
Batch TakeBatch(GridPass& p, std::string_view prefix, const std::function<int64_t(std::string_view)>& cost) {
  Batch b;
  p.st.ScanFrom(prefix, KeyAfter(prefix, p.cur.after()), /*reverse=*/false,
                [&](std::string_view k, std::string_view v) {
    if (!p.work.Take(cost(v))) {
      b.more = true;
      return false;
    }
    b.items.emplace_back(std::string(k.substr(prefix.size())), std::string(v));
    return true;
  });
  return b;
}

// The first id >= `from` under an open-records index (s/event_open/, s/program_open/).
std::optional<uint64_t> NextOpenId(const KvReader& st, std::string_view prefix, uint64_t from) {
  std::optional<uint64_t> id;
  st.ScanFrom(prefix, IdKey(prefix, from), /*reverse=*/false, [&](std::string_view k, std::string_view) {
    id = ReadBigEndian64(k.substr(prefix.size()));
    return false;
  });
  return id;
}

void ClearPhaseState(pb::GridCursor& cur) {
  cur.clear_id();
  cur.clear_after();
  cur.clear_paying();
  cur.clear_owed_hi();
  cur.clear_owed_lo();
  cur.clear_id_started();
}

// An event's dues summed so far (128 bits, see PayEnrollments), kept in the cursor between blocks.
Int128 CursorOwed(const pb::GridCursor& cur) {
  V2G_ASSERT(cur.owed_hi() >= 0);
  return static_cast<Int128>(cur.owed_hi()) * (Int128{1} << 64) + static_cast<Int128>(cur.owed_lo());
}
void SetCursorOwed(pb::GridCursor& cur, Int128 owed) {
  V2G_ASSERT(owed >= 0);
  cur.set_owed_hi(static_cast<int64_t>(owed >> 64));
  cur.set_owed_lo(static_cast<uint64_t>(owed & ~uint64_t{0}));
  V2G_ASSERT(CursorOwed(cur) == owed);
}

// A pool's enrollment is one step of 1 + its members (PoolPerformance shares over all of them):
// at most 1 + kPoolMembersMax (JoinPool refuses more), the largest step of the pass.
int64_t EnrollmentCost(const KvReader& st, const pb::EventEnrollment& e) {
  if (e.pool_id() == 0) return 1;
  auto pool = LoadPool(st, e.pool_id());
  V2G_ASSERT(pool.has_value());
  V2G_ASSERT(static_cast<int64_t>(pool->members()) <= limits::kPoolMembersMax);
  return 1 + static_cast<int64_t>(pool->members());
}

// ---- events

// Arithmetic: an enrollment's performance is at most kMeterPowerWMax x kEventDurationSMax / 3600
// = 1.68 x 10^10 Wh and the price at most kOrderPriceMax = 10^12 per kWh, so one enrollment's due
// (< 1.7 x 10^19) may not fit in int64 and their sum over many enrollments even less: both are
// kept in 128 bits (the sum in the cursor between blocks). Pro rata, due x budget <= 1.7 x 10^19 x
// 10^15 < 2^127, and the shares add up to at most the budget. `owed` is recorded saturated at
// int64 max.
Int128 Due(const pb::EventRecord& ev, const pb::EventEnrollment& e) {
  static_assert(static_cast<Int128>(limits::kMeterPowerWMax) * limits::kEventDurationSMax / 3600 *
                    limits::kOrderPriceMax / 1000 * limits::kBudgetMax <
                std::numeric_limits<Int128>::max() / 2);
  return static_cast<Int128>(e.performance_wh()) * ev.price() / 1000;
}

// Measures event `ev`'s enrollments in the interval, from the cursor on, as far as the block's
// work allows; in the event's last interval also sums their dues. Each enrollment is stored as
// it is measured. Returns whether all are done.
bool MeasureEnrollments(GridPass& p, pb::EventRecord& ev, bool last) {
  const std::string prefix = IdKey(kEventEnrollPrefix, ev.id());
  const Batch b = TakeBatch(p, prefix, [&](std::string_view v) {
    return EnrollmentCost(p.st, DecodeRecord<pb::EventEnrollment>(std::string(v)));
  });
  Int128 owed = CursorOwed(p.cur);
  for (const auto& [suffix, value] : b.items) {
    pb::EventEnrollment e = DecodeRecord<pb::EventEnrollment>(value);
    const int64_t perf = e.pool_id() != 0 ? PoolPerformance(p.params, p.st, ev, e, p.interval())
                                          : MeasureMeterEnrollment(p.params, p.st, ev, e, p.interval());
    e.set_performance_wh(e.performance_wh() + perf);  // <= committed power x duration, see Due
    ev.set_performance_wh(SaturatingAdd(ev.performance_wh(), perf));  // a sum over enrollments
    if (last) owed += Due(ev, e);
    // A pool's enrollment is keyed by its PoolObligationKey (its meter_id is empty): it goes back
    // under the key it was read from, or the pool would be enrolled twice from the next interval.
    p.st.Put(prefix + suffix, Encode(e));
  }
  SetCursorOwed(p.cur, owed);
  if (!b.items.empty()) p.cur.set_after(b.items.back().first);
  return !b.more;
}

// Pays event `ev`'s enrollments after its last interval, from the cursor on, as far as the block's
// work allows: each its due (pro rata, rounded down, when the event owes more than its budget), a
// pool's payout split by fee and members' own performance. Returns whether all are paid.
bool PayEnrollments(GridPass& p, pb::EventRecord& ev) {
  const std::string prefix = IdKey(kEventEnrollPrefix, ev.id());
  const Int128 owed = CursorOwed(p.cur);
  const Batch b = TakeBatch(p, prefix, [&](std::string_view v) {
    const auto e = DecodeRecord<pb::EventEnrollment>(std::string(v));
    return e.pool_id() == 0 ? 1 : 1 + static_cast<int64_t>(LoadPoolParts(p.st, ev.id(), e.pool_id()).size());
  });
  const int64_t interval_start_s = p.interval();
  auto release = [&](const Address& to, int64_t amount) {
    p.funds.Release(to, ev.denom(), amount);
    if (amount > 0) {
      AddToStatement(p.st, to, interval_start_s, [amount](pb::StatementEntry& s) { s.set_event_payout(SaturatingAdd(s.event_payout(), amount)); });
    }
  };
  for (const auto& [suffix, value] : b.items) {
    pb::EventEnrollment e = DecodeRecord<pb::EventEnrollment>(value);
    // Pro rata, rounded down, when the event owes more than its budget; else each due in full
    // (then every due <= owed <= budget fits).
    const int64_t pay = static_cast<int64_t>(owed > ev.budget() ? Due(ev, e) * ev.budget() / owed : Due(ev, e));
    e.set_payout(pay);
    ev.set_paid(ev.paid() + pay);
    V2G_ASSERT(ev.paid() <= ev.budget());
    p.st.Put(prefix + suffix, Encode(e));
    if (e.pool_id() == 0) {
      release(StoredAddress(e.owner()), pay);
      continue;
    }
    // A pool's payout: the fee to the aggregator, the rest by each member's own performance.
    std::vector<pb::PoolMember> members;
    std::vector<int64_t> weights;
    for (const auto& part : LoadPoolParts(p.st, ev.id(), e.pool_id())) {
      pb::PoolMember m;
      m.set_pool_id(e.pool_id());
      m.set_meter_id(part.meter_id());
      m.set_owner(part.owner());
      members.push_back(m);
      weights.push_back(part.performance_wh());
    }
    PayPool(p.st, e.pool_id(), members, weights, pay, [&](const Address& to, int64_t amount, bool) { release(to, amount); });
  }
  if (!b.items.empty()) p.cur.set_after(b.items.back().first);
  return !b.more;
}

// Event `id`'s part of the interval: measure its enrollments if the interval is in the event; after
// its last interval, pay them, return the rest of the budget to the grid company and settle it.
// An event being paid stays open (paid so far in `paid`) until its last enrollment is paid.
// Returns whether the event is done for this interval.
bool SettleEvent(GridPass& p, uint64_t id) {
  pb::EventRecord ev = *LoadEvent(p.st, id);
  V2G_ASSERT(ev.id() == id && ev.status() == pb::EVENT_OPEN);
  // The event itself is one record visited, counted once per interval.
  if (!p.cur.id_started()) {
    if (!p.work.Take(1)) return false;
    p.cur.set_id_started(true);
  }
  const int64_t interval_start_s = p.interval();
  if (interval_start_s < ev.start_s() || interval_start_s >= ev.end_s()) return true;
  const bool last = interval_start_s + p.params.settlement_interval_s() >= ev.end_s();
  if (!p.cur.paying()) {
    const bool measured = MeasureEnrollments(p, ev, last);
    if (measured && last) {
      ev.set_owed(SaturateToInt64(CursorOwed(p.cur)));
      p.cur.set_paying(true);
      p.cur.clear_after();
    }
    if (!measured || !last) {
      p.st.Put(IdKey(kEventPrefix, id), Encode(ev));
      return measured;
    }
  }
  const bool paid = PayEnrollments(p, ev);
  if (paid) {
    ev.set_returned(ev.budget() - ev.paid());
    p.funds.Release(StoredAddress(ev.grid_company()), ev.denom(), ev.returned());
    ev.set_status(pb::EVENT_SETTLED);
    p.st.Delete(IdKey(kEventOpenPrefix, ev.id()));
  }
  p.st.Put(IdKey(kEventPrefix, id), Encode(ev));
  return paid;
}

// The open records under `open_prefix` (events or programs) in id order, from the cursor's on,
// each run by `run` until it says it is done; false when the work bound stopped one part-way.
bool RunOpenRecordsPhase(GridPass& p, std::string_view open_prefix, bool (*run)(GridPass&, uint64_t)) {
  for (;;) {
    const std::optional<uint64_t> id = NextOpenId(p.st, open_prefix, p.cur.id());
    if (!id) return true;
    if (*id != p.cur.id()) {
      V2G_ASSERT(!p.cur.id_started());  // a record in progress stays open
      p.cur.set_id(*id);
    }
    if (!run(p, *id)) return false;
    ClearPhaseState(p.cur);
    p.cur.set_id(*id + 1);
  }
}

bool RunEventsPhase(GridPass& p) { return RunOpenRecordsPhase(p, kEventOpenPrefix, SettleEvent); }

// ---- tariffs

std::string ChargeKey(std::string_view meter) { return std::string(kChargePrefix) + std::string(meter); }

// Bills one tariff-enrolled meter; its charge is kept (s/grid_charge/) for the programs phase.
void BillTariff(GridPass& p, const pb::TariffEnrollment& en) {
  const int64_t interval_start_s = p.interval();
  if (en.from_s() > interval_start_s) return;
  const std::string& denom = p.params.market_denom();
  const int64_t hour = (interval_start_s % 86400) / 3600;
  auto meter = LoadMeter(p.st, en.meter_id());
  V2G_ASSERT(meter.has_value());
  auto tariff = TariffAt(p.st, meter->zone(), interval_start_s);
  if (!tariff) return;
  const IntervalMoneyEnergy energy = LoadIntervalMoneyEnergy(p.st, en.meter_id(), interval_start_s);
  if (!energy.attested) return;
  const Address owner = StoredAddress(meter->owner());
  const Address grid = StoredAddress(tariff->grid_company());
  // Billed once: a vehicle at least the charger's figure, the charger without what it lent.
  const int64_t charge = MulDiv(energy.billable_import_wh, tariff->import_prices(static_cast<int>(hour)), 1000);
  const int64_t collected = p.funds.PayUpTo(owner, grid, denom, charge);
  AddDebt(p.st, owner, grid, denom, charge - collected);
  if (charge > 0) {  // a charge of 0 discounts nothing: a missing or stale record reads as 0
    pb::TariffCharge c;
    c.set_interval_s(interval_start_s);
    c.set_charge(charge);
    p.st.Put(ChargeKey(en.meter_id()), Encode(c));
  }
  pb::EnergyClaim claim = LoadClaim(p.st, en.meter_id(), interval_start_s);
  const int64_t unclaimed =
      std::max<int64_t>(0, energy.payable_export_wh - claim.market_wh() - claim.event_export_wh());
  int64_t feed_in = 0;
  if (unclaimed > 0 && tariff->export_price() > 0) {
    feed_in = p.funds.PayUpTo(grid, owner, denom, MulDiv(unclaimed, tariff->export_price(), 1000));
    claim.set_feed_in_wh(claim.feed_in_wh() + unclaimed);
    StoreClaim(p.st, en.meter_id(), interval_start_s, claim);
  }
  if (charge > 0 || feed_in > 0) {
    AddToStatement(p.st, owner, interval_start_s, [&](pb::StatementEntry& s) {
      s.set_tariff_charge(SaturatingAdd(s.tariff_charge(), charge));
      s.set_debt_incurred(SaturatingAdd(s.debt_incurred(), charge - collected));
      s.set_feed_in(SaturatingAdd(s.feed_in(), feed_in));
    });
  }
}

// Tariff enrollments in meter order, from the cursor's on.
bool RunTariffsPhase(GridPass& p) {
  const Batch b = TakeBatch(p, kTariffEnrollPrefix, [](std::string_view) { return int64_t{1}; });
  for (const auto& [meter, value] : b.items) BillTariff(p, DecodeRecord<pb::TariffEnrollment>(value));
  if (!b.items.empty()) p.cur.set_after(b.items.back().first);
  return !b.more;
}

// ---- programs

void CloseProgram(ModuleFunds& funds, Overlay& st, pb::ProgramRecord& p) {
  funds.Release(StoredAddress(p.sponsor()), p.denom(), p.remaining());
  p.set_returned(p.remaining());
  p.set_remaining(0);
  p.set_status(pb::PROGRAM_CLOSED);
  st.Delete(IdKey(kProgramOpenPrefix, p.id()));
}

// This interval's tariff charge of `meter` (0 if it was not billed in it).
int64_t TariffChargeIn(const KvReader& st, std::string_view meter, int64_t interval_start_s) {
  auto c = LoadRecord<pb::TariffCharge>(st, ChargeKey(meter));
  return c && c->interval_s() == interval_start_s ? c->charge() : 0;
}

// Pays member `m` of program `pr` for the interval, up to what is left of the budget.
void PayMember(GridPass& p, pb::ProgramRecord& pr, pb::ProgramMember& m) {
  const int64_t interval_start_s = p.interval();
  const int64_t hour = (interval_start_s % 86400) / 3600;
  const pb::EnergyClaim claim = LoadClaim(p.st, m.meter_id(), interval_start_s);
  int64_t amount = 0;
  switch (pr.kind()) {
    case pb::PROGRAM_CHARGING_DISCOUNT:
      if (pr.hours_mask() == 0 || (pr.hours_mask() >> hour) & 1u) {
        amount = MulDiv(TariffChargeIn(p.st, m.meter_id(), interval_start_s), pr.rate(), limits::kBpsMax);
      }
      break;
    case pb::PROGRAM_DISCHARGE_SUBSIDY:
      amount = MulDiv(claim.market_wh() + claim.event_export_wh(), pr.rate(), 1000);
      break;
    case pb::PROGRAM_REWARD_POINTS:
      amount = MulDiv(claim.market_wh() + claim.event_wh(), pr.rate(), 1000);
      break;
    default:
      break;
  }
  const int64_t pay = std::min(amount, pr.remaining());
  if (pay == 0) return;
  const Address owner = StoredAddress(m.owner());
  p.funds.Release(owner, pr.denom(), pay);
  pr.set_remaining(pr.remaining() - pay);
  pr.set_paid(pr.paid() + pay);
  m.set_paid(m.paid() + pay);
  p.st.Put(IdMeterKey(kProgramMemberPrefix, pr.id(), m.meter_id()), Encode(m));
  const bool cash = pr.denom() == p.params.market_denom();
  AddToStatement(p.st, owner, interval_start_s, [&](pb::StatementEntry& s) {
    if (cash) {
      s.set_subsidy(SaturatingAdd(s.subsidy(), pay));
    } else {
      s.set_points(SaturatingAdd(s.points(), pay));
    }
  });
}

// Program `id`'s part of the interval: close it if it has ended, else pay its members from the
// cursor's on until the budget runs out (then it closes). Returns whether it is done.
bool RunProgram(GridPass& p, uint64_t id) {
  pb::ProgramRecord pr = *LoadProgram(p.st, id);
  V2G_ASSERT(pr.id() == id && pr.status() == pb::PROGRAM_OPEN);
  if (!p.cur.id_started()) {  // the program itself, counted once per interval
    if (!p.work.Take(1)) return false;
    p.cur.set_id_started(true);
  }
  if (p.interval() >= pr.end_s()) {
    CloseProgram(p.funds, p.st, pr);
    p.st.Put(IdKey(kProgramPrefix, id), Encode(pr));
    return true;
  }
  const std::string prefix = IdKey(kProgramMemberPrefix, id);
  const Batch b = TakeBatch(p, prefix, [](std::string_view) { return int64_t{1}; });
  bool done = !b.more;
  for (const auto& [meter, value] : b.items) {
    if (pr.remaining() == 0) {
      done = true;
      break;
    }
    pb::ProgramMember m = DecodeRecord<pb::ProgramMember>(value);
    PayMember(p, pr, m);
  }
  if (!b.items.empty()) p.cur.set_after(b.items.back().first);
  if (pr.remaining() == 0) {
    done = true;
    CloseProgram(p.funds, p.st, pr);  // out of budget: nothing left to return
  }
  p.st.Put(IdKey(kProgramPrefix, id), Encode(pr));
  return done;
}

// Open programs in id order, from the cursor's on.
bool RunProgramsPhase(GridPass& p) { return RunOpenRecordsPhase(p, kProgramOpenPrefix, RunProgram); }

// ---- the interval

// Pool members whose leave falls due with the interval, as many as the block's work allows.
bool RunPoolDeparturesPhase(GridPass& p) {
  if (p.work.done > 0 && p.work.done >= p.work.max) return false;
  const int64_t room = p.work.done == 0 ? p.work.max : p.work.max - p.work.done;
  const int64_t n = CompletePoolDepartures(p.st, p.interval() + p.params.settlement_interval_s(), room);
  V2G_ASSERT(n >= 0 && n <= room);
  p.work.done += n;
  return n < room;
}

// Runs (or resumes) the pass of interval cursor.next_interval_s() as far as `work` allows. When it
// completes, the cursor moves to the next interval (its phase fields cleared) and this returns
// true; else the cursor says where the pass stopped.
bool SettleGridInterval(const pb::ParamsRecord& params, Overlay& st, pb::GridCursor& cursor, GridWork& work) {
  ModuleFunds funds(st, GridModuleAddress(), nullptr, nullptr);
  GridPass p{params, st, funds, cursor, work};
  auto next_phase = [&](pb::GridPhase phase) {
    ClearPhaseState(cursor);
    cursor.set_phase(phase);
  };
  if (cursor.phase() == pb::GRID_PHASE_EVENTS) {
    if (!RunEventsPhase(p)) return false;
    next_phase(pb::GRID_PHASE_TARIFFS);
  }
  if (cursor.phase() == pb::GRID_PHASE_TARIFFS) {
    if (!RunTariffsPhase(p)) return false;
    next_phase(pb::GRID_PHASE_PROGRAMS);
  }
  if (cursor.phase() == pb::GRID_PHASE_PROGRAMS) {
    if (!RunProgramsPhase(p)) return false;
    next_phase(pb::GRID_PHASE_POOL_DEPARTURES);
  }
  V2G_ASSERT(cursor.phase() == pb::GRID_PHASE_POOL_DEPARTURES);
  if (!RunPoolDeparturesPhase(p)) return false;
  const int64_t next = cursor.next_interval_s() + params.settlement_interval_s();
  cursor.Clear();  // between intervals the cursor is next_interval_s alone, as before phases existed
  cursor.set_next_interval_s(next);
  return true;
}

}  // namespace

// ------------------------------------------------------------------ records

Address GridModuleAddress() {
  static const Address a = ModuleAddress(kGridModule);
  return a;
}

std::optional<pb::TariffRecord> TariffAt(const KvReader& kv, std::string_view zone, int64_t t_s) {
  std::optional<pb::TariffRecord> out;
  const std::string prefix = std::string(kTariffPrefix) + std::string(zone) + "/";
  kv.Scan(prefix, [&](std::string_view k, std::string_view v) {
    if (static_cast<int64_t>(ReadBigEndian64(k.substr(prefix.size()))) > t_s) return false;
    out = DecodeRecord<pb::TariffRecord>(std::string(v));
    return true;
  });
  return out;
}

std::vector<pb::TariffRecord> LoadTariffs(const KvReader& kv, std::string_view zone) {
  return LoadRecords<pb::TariffRecord>(kv, std::string(kTariffPrefix) + std::string(zone) + "/");
}

std::optional<pb::TariffEnrollment> LoadTariffEnrollment(const KvReader& kv, std::string_view meter_id) {
  return LoadRecord<pb::TariffEnrollment>(kv, std::string(kTariffEnrollPrefix) + std::string(meter_id));
}

std::optional<pb::EventRecord> LoadEvent(const KvReader& kv, uint64_t id) {
  return LoadRecord<pb::EventRecord>(kv, IdKey(kEventPrefix, id));
}

std::vector<pb::EventEnrollment> LoadEventEnrollments(const KvReader& kv, uint64_t id) {
  return LoadRecords<pb::EventEnrollment>(kv, IdKey(kEventEnrollPrefix, id));
}

OwnerShares EventOwnerShares(const KvReader& kv, uint64_t id, int64_t rows_max) {
  return ScanOwnerShares<pb::EventEnrollment>(
      kv, IdKey(kEventEnrollPrefix, id), rows_max,
      [](const pb::EventEnrollment& e) { return e.performance_wh(); });
}

OwnerShares ProgramOwnerShares(const KvReader& kv, uint64_t id, int64_t rows_max) {
  return ScanOwnerShares<pb::ProgramMember>(
      kv, IdKey(kProgramMemberPrefix, id), rows_max,
      [](const pb::ProgramMember& m) { return m.paid() - m.paid_before_owner(); });
}

std::optional<pb::ProgramRecord> LoadProgram(const KvReader& kv, uint64_t id) {
  return LoadRecord<pb::ProgramRecord>(kv, IdKey(kProgramPrefix, id));
}

std::vector<pb::ProgramMember> LoadProgramMembers(const KvReader& kv, uint64_t id) {
  return LoadRecords<pb::ProgramMember>(kv, IdKey(kProgramMemberPrefix, id));
}

namespace {
bool EnrollmentOpen(const KvReader& kv, char kind, uint64_t id) {
  if (kind == 'e') {
    auto ev = LoadEvent(kv, id);
    return ev && ev->status() == pb::EVENT_OPEN;
  }
  V2G_ASSERT(kind == 'p');
  auto p = LoadProgram(kv, id);
  return p && p->status() == pb::PROGRAM_OPEN;
}
}  // namespace

std::vector<uint64_t> OpenEventsOfMeter(const KvReader& kv, std::string_view meter_id) {
  std::vector<uint64_t> out;
  for (const auto& [kind, id] : ScanMeterEnrollments(kv, meter_id).open) {
    if (kind == 'e') out.push_back(id);
  }
  return out;
}

int MoveProgramMemberships(Overlay& st, std::string_view meter_id, const std::string& new_owner) {
  int moved = 0;
  for (const auto& [kind, id] : ScanMeterEnrollments(st, meter_id).open) {
    if (kind != 'p') continue;
    const std::string key = IdMeterKey(kProgramMemberPrefix, id, meter_id);
    auto m = LoadRecord<pb::ProgramMember>(st, key);
    V2G_ASSERT(m.has_value());  // the index entry is written with the membership, never alone
    m->set_owner(new_owner);
    m->set_paid_before_owner(m->paid());
    st.Put(key, Encode(*m));
    ++moved;
  }
  return moved;
}

pb::EnergyClaim LoadClaim(const KvReader& kv, std::string_view meter_id, int64_t interval_start_s) {
  auto v = kv.Get(ClaimKey(meter_id, interval_start_s));
  if (!v) return {};
  return DecodeRecord<pb::EnergyClaim>(*v);
}

std::vector<std::pair<Address, pb::DebtRecord>> LoadDebts(const KvReader& kv, const Address& debtor) {
  std::vector<std::pair<Address, pb::DebtRecord>> out;
  const std::string prefix = std::string(kDebtPrefix) + AddressBytes(debtor);
  kv.Scan(prefix, [&](std::string_view k, std::string_view v) {
    out.emplace_back(StoredAddress(std::string(k.substr(prefix.size()))), DecodeRecord<pb::DebtRecord>(std::string(v)));
    return true;
  });
  return out;
}

int64_t GridSettledBefore(const KvReader& kv) {
  auto v = kv.Get(std::string(kCursorKey));
  if (!v) return 0;
  return DecodeRecord<pb::GridCursor>(*v).next_interval_s();
}

bool HasOpenEventEnrollment(const KvReader& kv, std::string_view meter) {
  // At most kMeterOpenEnrollmentsMax open entries plus the closed ones not yet pruned.
  for (const auto& [kind, id] : ScanMeterEnrollments(kv, meter).open) {
    if (kind == 'e') return true;
  }
  return false;
}

int64_t GridHorizonS(const pb::ParamsRecord& params) {
  return params.grid_horizon_s() > 0 ? params.grid_horizon_s() : limits::kGridHorizonSDefault;
}

bool HasDebt(const KvReader& kv, const Address& debtor) {
  bool any = false;
  kv.Scan(std::string(kDebtPrefix) + AddressBytes(debtor), [&](std::string_view, std::string_view) {
    any = true;
    return false;
  });
  return any;
}

pb::StatementEntry LoadStatement(const KvReader& kv, const Address& owner, int64_t from_s, int64_t to_s) {
  pb::StatementEntry sum;
  const std::string prefix = std::string(kStatementPrefix) + AddressBytes(owner);
  // Seek to from_s: the owner's entries before it are never read (the API asks for a period).
  kv.ScanFrom(prefix, StatementKey(owner, std::max<int64_t>(from_s, 0)), /*reverse=*/false,
              [&](std::string_view k, std::string_view v) {
    const int64_t t = static_cast<int64_t>(ReadBigEndian64(k.substr(prefix.size())));
    if (t < from_s) return true;
    if (t >= to_s) return false;
    auto e = DecodeRecord<pb::StatementEntry>(std::string(v));
    sum.set_market_revenue(SaturatingAdd(sum.market_revenue(), e.market_revenue()));
    sum.set_market_penalty(SaturatingAdd(sum.market_penalty(), e.market_penalty()));
    sum.set_market_spent(SaturatingAdd(sum.market_spent(), e.market_spent()));
    sum.set_event_payout(SaturatingAdd(sum.event_payout(), e.event_payout()));
    sum.set_subsidy(SaturatingAdd(sum.subsidy(), e.subsidy()));
    sum.set_points(SaturatingAdd(sum.points(), e.points()));
    sum.set_tariff_charge(SaturatingAdd(sum.tariff_charge(), e.tariff_charge()));
    sum.set_feed_in(SaturatingAdd(sum.feed_in(), e.feed_in()));
    sum.set_debt_incurred(SaturatingAdd(sum.debt_incurred(), e.debt_incurred()));
    return true;
  });
  return sum;
}

std::string_view EventKindName(pb::EventKind k) {
  switch (k) {
    case pb::EVENT_PEAK_RELIEF: return "peak_relief";
    case pb::EVENT_VALLEY_FILL: return "valley_fill";
    case pb::EVENT_REVERSE_DISCHARGE: return "reverse_discharge";
    default: return "unknown";
  }
}
std::optional<pb::EventKind> ParseEventKind(std::string_view n) {
  if (n == "peak_relief") return pb::EVENT_PEAK_RELIEF;
  if (n == "valley_fill") return pb::EVENT_VALLEY_FILL;
  if (n == "reverse_discharge") return pb::EVENT_REVERSE_DISCHARGE;
  return std::nullopt;
}
std::string_view BaselineName(pb::BaselineMethod b) {
  switch (b) {
    case pb::BASELINE_DECLARED: return "declared";
    case pb::BASELINE_PRIOR_DAYS: return "prior_days";
    default: return "none";
  }
}
std::optional<pb::BaselineMethod> ParseBaseline(std::string_view n) {
  if (n == "declared") return pb::BASELINE_DECLARED;
  if (n == "prior_days") return pb::BASELINE_PRIOR_DAYS;
  return std::nullopt;
}
std::string_view ProgramKindName(pb::ProgramKind k) {
  switch (k) {
    case pb::PROGRAM_CHARGING_DISCOUNT: return "charging_discount";
    case pb::PROGRAM_DISCHARGE_SUBSIDY: return "discharge_subsidy";
    case pb::PROGRAM_REWARD_POINTS: return "reward_points";
    default: return "unknown";
  }
}
std::optional<pb::ProgramKind> ParseProgramKind(std::string_view n) {
  if (n == "charging_discount") return pb::PROGRAM_CHARGING_DISCOUNT;
  if (n == "discharge_subsidy") return pb::PROGRAM_DISCHARGE_SUBSIDY;
  if (n == "reward_points") return pb::PROGRAM_REWARD_POINTS;
  return std::nullopt;
}

void ClaimMarketDelivery(Overlay& state, std::string_view meter_id, int64_t interval_start_s, int64_t delivered_wh) {
  if (delivered_wh == 0) return;
  pb::EnergyClaim c = LoadClaim(state, meter_id, interval_start_s);
  c.set_market_wh(c.market_wh() + delivered_wh);
  StoreClaim(state, meter_id, interval_start_s, c);
}

void AddToStatement(Overlay& state, const Address& owner, int64_t interval_start_s,
                    const std::function<void(pb::StatementEntry&)>& fn) {
  const std::string key = StatementKey(owner, interval_start_s);
  pb::StatementEntry e;
  if (auto v = state.Get(key)) e = DecodeRecord<pb::StatementEntry>(*v);
  fn(e);
  state.Put(key, Encode(e));
}

// ------------------------------------------------------------------ execution

bool IsGridOp(pb::TxBody::OpCase op) {
  return op == pb::TxBody::kSetTariff || op == pb::TxBody::kEnrollTariff || op == pb::TxBody::kPayDebt ||
         op == pb::TxBody::kCreateEvent || op == pb::TxBody::kEnrollEvent || op == pb::TxBody::kCreateProgram ||
         op == pb::TxBody::kJoinProgram;
}

Status CheckGridOp(const pb::TxBody& body, const pb::ParamsRecord& params) {
  const std::string& denom = params.market_denom();
  switch (body.op_case()) {
    case pb::TxBody::kSetTariff: {
      const auto& t = body.set_tariff();
      V2G_RETURN_IF_ERROR(CheckZone("set_tariff", t.zone()));
      if (const int hours = t.import_prices_size(); hours != kHoursPerDay) {
        return Error(Code::kInvalidArgument, "set_tariff needs 24 hourly import prices, got " + Num(hours));
      }
      for (int h = 0; h < kHoursPerDay; ++h) {
        V2G_RETURN_IF_ERROR(MoneyRange("set_tariff import price (per kWh) for hour " + Num(h) + " UTC", t.import_prices(h), 0,
                                       limits::kOrderPriceMax, denom));
      }
      V2G_RETURN_IF_ERROR(MoneyRange("set_tariff export price (per kWh)", t.export_price(), 0, limits::kOrderPriceMax, denom));
      return TimeRange("set_tariff effective_from", t.effective_from_s(), 1, int64_t{1} << 40);
    }
    case pb::TxBody::kEnrollTariff:
      return CheckMeterId("enroll_tariff", body.enroll_tariff().meter_id());
    case pb::TxBody::kPayDebt:
      return Status::Ok();
    case pb::TxBody::kCreateEvent: {
      const auto& e = body.create_event();
      if (!ParseEventKind(EventKindName(e.kind()))) {
        return Error(Code::kInvalidArgument, "create_event kind must be peak_relief, valley_fill or reverse_discharge");
      }
      V2G_RETURN_IF_ERROR(CheckZone("create_event", e.zone()));
      V2G_RETURN_IF_ERROR(TimeRange("create_event start", e.start_s(), 1, int64_t{1} << 40));
      // end_s is checked against start_s (<= 2^40) before any arithmetic on it.
      V2G_RETURN_IF_ERROR(TimeRange("create_event end", e.end_s(), e.start_s() + 1, e.start_s() + limits::kEventDurationSMax));
      V2G_RETURN_IF_ERROR(TimeRange("create_event enrollment deadline", e.enrollment_deadline_s(), 1, e.start_s()));
      V2G_RETURN_IF_ERROR(Range("create_event target_power_w", e.target_power_w(), 1, limits::kMeterPowerWMax));
      V2G_RETURN_IF_ERROR(MoneyRange("create_event price (per kWh)", e.price(), 1, limits::kOrderPriceMax, denom));
      V2G_RETURN_IF_ERROR(MoneyRange("create_event budget", e.budget(), 1, limits::kBudgetMax, denom));
      if (e.kind() != pb::EVENT_REVERSE_DISCHARGE && e.baseline() != pb::BASELINE_DECLARED &&
          e.baseline() != pb::BASELINE_PRIOR_DAYS) {
        return Error(Code::kInvalidArgument, "create_event baseline must be declared or prior_days");
      }
      if (e.kind() == pb::EVENT_REVERSE_DISCHARGE && e.baseline() != pb::BASELINE_UNSPECIFIED) {
        return Error(Code::kInvalidArgument, "create_event: reverse discharge is measured by export and takes no baseline");
      }
      return Status::Ok();
    }
    case pb::TxBody::kEnrollEvent: {
      const auto& e = body.enroll_event();
      if (e.event_id() == 0) return Error(Code::kInvalidArgument, "enroll_event: event_id is required");
      if (e.pool_id() != 0) {
        if (!e.meter_id().empty()) return Error(Code::kInvalidArgument, "enroll_event: name a meter or a pool, not both");
      } else {
        V2G_RETURN_IF_ERROR(CheckMeterId("enroll_event", e.meter_id()));
      }
      return Range("enroll_event declared_baseline_wh", e.declared_baseline_wh(), 0, limits::kOrderEnergyWhMax);
    }
    case pb::TxBody::kCreateProgram: {
      const auto& p = body.create_program();
      if (!ParseProgramKind(ProgramKindName(p.kind()))) {
        return Error(Code::kInvalidArgument, "create_program kind must be charging_discount, discharge_subsidy or reward_points");
      }
      // The denomination's name first: the messages below carry it (and echo it to people).
      const std::string& d = p.denom();
      const bool name_ok = d.size() >= limits::kDenomNameMin && d.size() <= limits::kDenomNameMax && d[0] >= 'A' &&
                           d[0] <= 'Z' && std::all_of(d.begin(), d.end(), [](char c) {
                             return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
                           });
      if (!name_ok) return Error(Code::kInvalidArgument, "create_program denom is not a denomination name (2-16 of A-Z, 0-9)");
      V2G_RETURN_IF_ERROR(MoneyRange("create_program budget", p.budget(), 1, limits::kBudgetMax, p.denom()));
      if (p.kind() == pb::PROGRAM_CHARGING_DISCOUNT) {
        V2G_RETURN_IF_ERROR(Range("create_program rate (basis points)", p.rate(), 1, limits::kBpsMax));
      } else {
        V2G_RETURN_IF_ERROR(MoneyRange("create_program rate (per kWh)", p.rate(), 1, limits::kOrderPriceMax, p.denom()));
      }
      if (p.hours_mask() >= (1u << kHoursPerDay)) return Error(Code::kInvalidArgument, "create_program hours_mask has bits past hour 23");
      if (p.kind() != pb::PROGRAM_CHARGING_DISCOUNT && p.hours_mask() != 0) {
        return Error(Code::kInvalidArgument, "create_program: hours apply to charging discounts only");
      }
      if (!p.zone().empty()) V2G_RETURN_IF_ERROR(CheckZone("create_program", p.zone()));
      return TimeRange("create_program end", p.end_s(), 1, int64_t{1} << 40);
    }
    case pb::TxBody::kJoinProgram:
      if (body.join_program().program_id() == 0) return Error(Code::kInvalidArgument, "join_program: program_id is required");
      return CheckMeterId("join_program", body.join_program().meter_id());
    default:
      break;
  }
  V2G_ASSERT(!IsGridOp(body.op_case()));
  return Error(Code::kInvalidArgument, "not a grid services operation");
}

Status ApplyGridOp(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params,
                   pb::AccountRecord& signer_rec, Overlay& state, pb::TxResult* result) {
  V2G_RETURN_IF_ERROR(RequireEnabled(params));
  switch (tx.body.op_case()) {
    case pb::TxBody::kSetTariff: return ApplySetTariff(tx, ctx, params, state, result);
    case pb::TxBody::kEnrollTariff: return ApplyEnrollTariff(tx, ctx, params, state, result);
    case pb::TxBody::kPayDebt: return ApplyPayDebt(tx, params, signer_rec, state, result);
    case pb::TxBody::kCreateEvent: return ApplyCreateEvent(tx, ctx, params, signer_rec, state, result);
    case pb::TxBody::kEnrollEvent: return ApplyEnrollEvent(tx, ctx, params, state, result);
    case pb::TxBody::kCreateProgram: return ApplyCreateProgram(tx, ctx, params, signer_rec, state, result);
    case pb::TxBody::kJoinProgram: return ApplyJoinProgram(tx, state, result);
    default: break;
  }
  V2G_ASSERT(false && "ApplyGridOp called for a non-grid op");
  return Error(Code::kInternal, "not a grid services operation");
}

void InitGridServices(const pb::ParamsRecord& params, int64_t genesis_time_ms, Overlay& state) {
  if (params.market_denom().empty() || params.settlement_interval_s() <= 0) return;
  pb::GridCursor cursor;
  cursor.set_next_interval_s(SettlementIntervalStart(genesis_time_ms / 1000, params.settlement_interval_s()));
  state.Put(kCursorKey, Encode(cursor));
}

int64_t RunGridTimers(const BlockContext& ctx, const pb::ParamsRecord& params, Overlay& state, int64_t work_max) {
  V2G_ASSERT(work_max > 0);
  if (params.market_denom().empty() || params.settlement_interval_s() <= 0) return 0;
  const int64_t len = params.settlement_interval_s();
  pb::GridCursor cursor;
  auto stored = state.Get(kCursorKey);
  if (stored) {
    cursor = DecodeRecord<pb::GridCursor>(*stored);
  } else {
    cursor.set_next_interval_s(SettlementIntervalStart(ctx.time_ms / 1000, len));
  }
  int64_t n = 0;
  GridWork work{work_max};
  // A market clearing or settlement due by an interval's settlement time and not run yet (the
  // market's per-block work bound deferred it) holds that interval back: its claims are not in yet.
  // (An interval whose pass is under way passed this check when it started, and no market timer
  // due before then can appear later.)
  const std::optional<int64_t> market_due = FirstMarketTimerDueS(state);
  while ((cursor.next_interval_s() + len + params.market_grace_s()) * 1000 <= ctx.time_ms &&
         n < limits::kGridIntervalsPerBlockMax &&
         !(market_due && *market_due <= cursor.next_interval_s() + len + params.market_grace_s())) {
    if (!SettleGridInterval(params, state, cursor, work)) break;  // the rest in the next block
    ++n;
  }
  std::string encoded = Encode(cursor);
  if (!stored || *stored != encoded) state.Put(kCursorKey, std::move(encoded));
  return work.done;
}

Status CheckGridEscrow(const KvReader& state) {
  std::map<std::string, Int128> locked;
  Status bad;
  state.Scan(kEventPrefix, [&](std::string_view, std::string_view v) {
    auto e = DecodeRecord<pb::EventRecord>(std::string(v));
    if (e.status() == pb::EVENT_OPEN) {
      // An event whose payout is spread over blocks (kGridWorkPerBlockMax) has paid part of it.
      locked[e.denom()] += e.budget() - e.paid();
    } else if (e.paid() + e.returned() != e.budget()) {
      bad = Error(Code::kCorruption, "event " + UNum(e.id()) + " paid " + Num(e.paid()) + " and returned " + Num(e.returned()) +
                                         " of a budget of " + Num(e.budget()));
      return false;
    }
    return true;
  });
  if (!bad.ok()) return bad;
  state.Scan(kProgramPrefix, [&](std::string_view, std::string_view v) {
    auto p = DecodeRecord<pb::ProgramRecord>(std::string(v));
    if (p.paid() + p.remaining() + p.returned() != p.budget() || (p.status() != pb::PROGRAM_OPEN && p.remaining() != 0)) {
      bad = Error(Code::kCorruption, "program " + UNum(p.id()) + " budget does not add up");
      return false;
    }
    locked[p.denom()] += p.remaining();
    return true;
  });
  if (!bad.ok()) return bad;
  const pb::AccountRecord mod = LoadAccount(state, GridModuleAddress());
  for (const auto& c : mod.balances()) locked[c.denom()] -= c.amount();
  for (const auto& [denom, diff] : locked) {
    if (diff != 0) {
      return Error(Code::kCorruption, "grid module account and open budgets differ by " + Num(static_cast<int64_t>(diff)) +
                                          " " + denom);
    }
  }
  return Status::Ok();
}

}  // namespace v2g
