// Unit tests for contracts/grid: time-of-use tariffs and debt (which blocks sell orders until
// paid), demand-response events (peak relief, valley fill, reverse discharge; declared and
// prior-days baselines; pro-rata scaling over budget; energy counted once across the market and
// reverse discharge), incentive programs (including running out of budget mid-settlement) and
// bad input. Every test checks conservation and that module accounts match their records.
#include "contracts/grid.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/time.h"
#include "tests/contracts/ledger_fixture.h"

namespace v2g {
namespace {

using namespace testing_ledger;  // NOLINT

class GridTest : public LedgerFixture {
 protected:
  // Ticks blocks at `t_s` until grid services have settled every interval due by then.

  pb::TxBody Tariff(int64_t from, int64_t price, int64_t export_price, const std::string& zone = "GD-SZ") {
    pb::TxBody b;
    auto* t = b.mutable_set_tariff();
    t->set_zone(zone);
    t->set_effective_from_s(from);
    for (int h = 0; h < 24; ++h) t->add_import_prices(h >= 18 && h < 22 ? 2 * price : price);  // evening peak
    t->set_export_price(export_price);
    return b;
  }
  pb::TxBody EnrollTariff(const std::string& meter) {
    pb::TxBody b;
    b.mutable_enroll_tariff()->set_meter_id(meter);
    return b;
  }
  pb::TxBody Event(pb::EventKind kind, int64_t start, int64_t end, int64_t price, int64_t budget,
                   pb::BaselineMethod baseline = pb::BASELINE_UNSPECIFIED, int64_t deadline = 0) {
    pb::TxBody b;
    auto* e = b.mutable_create_event();
    e->set_kind(kind);
    e->set_zone("GD-SZ");
    e->set_start_s(start);
    e->set_end_s(end);
    e->set_target_power_w(100000);
    e->set_price(price);
    e->set_budget(budget);
    e->set_enrollment_deadline_s(deadline ? deadline : start - kLen);
    e->set_baseline(baseline);
    return b;
  }
  pb::TxBody Enroll(uint64_t event, const std::string& meter, int64_t power_w, int64_t baseline_wh = 0) {
    pb::TxBody b;
    auto* e = b.mutable_enroll_event();
    e->set_event_id(event);
    e->set_meter_id(meter);
    e->set_committed_power_w(power_w);
    e->set_declared_baseline_wh(baseline_wh);
    return b;
  }
  pb::TxBody Program(pb::ProgramKind kind, const std::string& denom, int64_t rate, int64_t budget, int64_t end,
                     uint32_t hours = 0) {
    pb::TxBody b;
    auto* p = b.mutable_create_program();
    p->set_kind(kind);
    p->set_denom(denom);
    p->set_rate(rate);
    p->set_budget(budget);
    p->set_end_s(end);
    p->set_hours_mask(hours);
    return b;
  }
  pb::TxBody Join(uint64_t program, const std::string& meter) {
    pb::TxBody b;
    b.mutable_join_program()->set_program_id(program);
    b.mutable_join_program()->set_meter_id(meter);
    return b;
  }
  uint64_t Ok(const KeyPair& k, pb::TxBody body) {
    auto r = Run(k, std::move(body));
    EXPECT_EQ(CodeOf(r), Code::kOk) << r.log();
    return r.created_id();
  }
  int64_t Pts(const KeyPair& k) const { return BalanceOf(LoadAccount(state_, AddrOf(k)), "PTS"); }
  pb::StatementEntry Statement(const KeyPair& k) const { return LoadStatement(state_, AddrOf(k), 0, kT0 + 365 * 86400); }
};

// kT0 is 02:00 UTC, so kS = kT0 + 3600 starts at 03:00; kPeak is 21:00 the same day, a
// doubled-price hour.
constexpr int64_t kPeak = kT0 + 19 * 3600;

TEST_F(GridTest, TariffBillsAttestedImportAtTheHourlyPriceAndPaysFeedInForUnsoldExport) {
  Ok(grid_, Tariff(kS, 60, 30));  // 0.60 CNY/kWh, 1.20 in the evening; feed-in 0.30
  Ok(alice_, EnrollTariff("ev-a"));
  const int64_t alice0 = Bal(alice_), grid0 = Bal(grid_);
  At(kS + kLen);
  Attest("ev-a", kS, 2500, 1000);
  SettleThrough(kS + kLen + kGrace);
  EXPECT_EQ(Bal(alice_), alice0 - 150 + 30);  // 2.5 kWh x 60, feed-in 1 kWh x 30
  EXPECT_EQ(Bal(grid_), grid0 + 150 - 30);
  At(kPeak + kLen);
  Attest("ev-a", kPeak, 1000, 0);
  SettleThrough(kPeak + kLen + kGrace);
  EXPECT_EQ(Bal(alice_), alice0 - 150 + 30 - 120);
  pb::StatementEntry s = Statement(alice_);
  EXPECT_EQ(s.tariff_charge(), 270);
  EXPECT_EQ(s.feed_in(), 30);
  EXPECT_EQ(s.debt_incurred(), 0);
  CheckInvariants();
}

TEST_F(GridTest, UnpaidBillBecomesDebtThatBlocksSellingUntilPaid) {
  RegisterMeter("ev-c", 32, AddrOf(carol_), 20000);
  Ok(grid_, Tariff(kS, 100, 0));
  Ok(carol_, EnrollTariff("ev-c"));
  At(kS + kLen);
  Attest("ev-c", kS, 5000, 0);  // 500 owed, carol holds 3
  SettleThrough(kS + kLen + kGrace);
  EXPECT_EQ(Bal(carol_), 0);
  ASSERT_EQ(LoadDebts(state_, AddrOf(carol_)).size(), 1u);
  EXPECT_EQ(LoadDebts(state_, AddrOf(carol_))[0].second.amount(), 497);
  EXPECT_EQ(Statement(carol_).debt_incurred(), 497);
  const int64_t next = kS + 4 * kLen;
  ExpectRejected(carol_, MakePlaceOrder(0, pb::SIDE_SELL, "GD-SZ", next, 1000, 100, "ev-c"), Code::kInDebt,
                 "unpaid tariff bills");
  // Nor by a bilateral contract, proposed or accepted.
  ExpectRejected(carol_, MakeProposeContract(0, AddrOf(grid_), pb::SIDE_SELL, "GD-SZ", next, 1000, 100, "ev-c"),
                 Code::kInDebt, "unpaid tariff bills");
  auto proposal = Run(grid_, MakeProposeContract(0, AddrOf(carol_), pb::SIDE_BUY, "GD-SZ", next, 1000, 100));
  ASSERT_EQ(CodeOf(proposal), Code::kOk) << proposal.log();
  ExpectRejected(carol_, MakeAcceptContract(0, proposal.created_id(), "ev-c"), Code::kInDebt, "unpaid tariff bills");
  pb::TxBody pay;
  pay.mutable_pay_debt()->set_denom("CNY");
  ExpectRejected(carol_, pay, Code::kInsufficientFunds, "no CNY");
  ASSERT_EQ(CodeOf(Run(alice_, MakeTransfer(0, AddrOf(carol_), "CNY", 300))), Code::kOk);
  Ok(carol_, pay);  // pays 300 of 497
  EXPECT_EQ(LoadDebts(state_, AddrOf(carol_))[0].second.amount(), 197);
  ExpectRejected(carol_, MakePlaceOrder(0, pb::SIDE_SELL, "GD-SZ", next, 1000, 100, "ev-c"), Code::kInDebt, "unpaid");
  ASSERT_EQ(CodeOf(Run(alice_, MakeTransfer(0, AddrOf(carol_), "CNY", 1000))), Code::kOk);
  Ok(carol_, pay);
  EXPECT_TRUE(LoadDebts(state_, AddrOf(carol_)).empty());
  EXPECT_EQ(Bal(carol_), 803);
  Place(carol_, pb::SIDE_SELL, 1000, 100, "ev-c", next);
  ExpectRejected(carol_, pay, Code::kNotFound, "owes nothing");
  CheckInvariants();
}

TEST_F(GridTest, ReverseDischargePaysOnlyExportTheMarketDidNotAlreadyPayFor) {
  const int64_t grid0 = Bal(grid_);
  const uint64_t ev = Ok(grid_, Event(pb::EVENT_REVERSE_DISCHARGE, kS, kS + kLen, 200, 100000));
  Ok(alice_, Enroll(ev, "ev-a", 20000));
  Place(alice_, pb::SIDE_SELL, 2000, 100, "ev-a");
  Place(grid2_, pb::SIDE_BUY, 2000, 100);
  const int64_t alice0 = Bal(alice_);
  Tick(kS - kGate);
  At(kS + kLen);
  Deliver("ev-a", kS, 3000);
  SettleThrough(kS + kLen + kGrace);
  EXPECT_EQ(LoadClaim(state_, "ev-a", kS).market_wh(), 2000);
  EXPECT_EQ(LoadClaim(state_, "ev-a", kS).event_export_wh(), 1000);  // never the same 2 kWh twice
  auto e = *LoadEvent(state_, ev);
  EXPECT_EQ(e.status(), pb::EVENT_SETTLED);
  EXPECT_EQ(e.performance_wh(), 1000);
  EXPECT_EQ(e.paid(), 200);
  EXPECT_EQ(e.returned(), 100000 - 200);
  EXPECT_EQ(Bal(grid_), grid0 - 200);
  EXPECT_EQ(Bal(alice_), alice0 + 200 + 200 + 20);  // market 2 kWh x 100, event 1 kWh x 200, collateral back
  pb::StatementEntry s = Statement(alice_);
  EXPECT_EQ(s.market_revenue(), 200);
  EXPECT_EQ(s.event_payout(), 200);
  CheckInvariants();
}

TEST_F(GridTest, PayoutsOverBudgetAreScaledProRata) {
  const uint64_t ev = Ok(grid_, Event(pb::EVENT_REVERSE_DISCHARGE, kS, kS + 2 * kLen, 100, 500));
  Ok(alice_, Enroll(ev, "ev-a", 20000));
  Ok(bob_, Enroll(ev, "ev-b", 5000));
  const int64_t alice0 = Bal(alice_), bob0 = Bal(bob_), grid0 = Bal(grid_);
  At(kS + kLen);
  Deliver("ev-a", kS, 4000);
  Deliver("ev-b", kS, 1750);  // capped at the committed 5 kW x 900 s = 1,250 Wh
  At(kS + 2 * kLen);
  Deliver("ev-a", kS + kLen, 2000);
  SettleThrough(kS + 2 * kLen + kGrace);
  auto e = *LoadEvent(state_, ev);
  EXPECT_EQ(e.performance_wh(), 7250);
  EXPECT_EQ(e.owed(), 725);  // over the 500 budget: each payout x 500 / 725
  auto en = LoadEventEnrollments(state_, ev);
  ASSERT_EQ(en.size(), 2u);
  EXPECT_EQ(en[0].payout(), 413);  // ev-a: 6 kWh -> 600 owed -> floor(600 x 500 / 725)
  EXPECT_EQ(en[1].payout(), 86);   // ev-b: 1.25 kWh -> 125 owed -> floor(125 x 500 / 725)
  EXPECT_EQ(Bal(alice_), alice0 + 413);
  EXPECT_EQ(Bal(bob_), bob0 + 86);
  EXPECT_EQ(e.returned(), 1);  // rounding leftovers go back to the grid company
  EXPECT_EQ(Bal(grid_), grid0 + 1);
  CheckInvariants();
}

TEST_F(GridTest, PeakReliefAgainstABaselineFromPriorDays) {
  // ev-a imported 3,000, 3,000, 2,000, 4,000 and 0 Wh (no record) at 19:00 on the five days
  // before: baseline floor(12,000 / 5) = 2,400 Wh.
  const int64_t day = 86400;
  const int64_t event_day = kPeak + 6 * day;
  const std::vector<int64_t> history = {3000, 3000, 2000, 4000};  // days -5 .. -2
  for (size_t i = 0; i < history.size(); ++i) {
    const int64_t t = event_day - static_cast<int64_t>(5 - i) * day;
    At(t + kLen);
    Attest("ev-a", t, history[i], 0);
  }
  const uint64_t ev = Ok(grid_, Event(pb::EVENT_PEAK_RELIEF, event_day, event_day + kLen, 100, 100000,
                                      pb::BASELINE_PRIOR_DAYS));
  Ok(alice_, Enroll(ev, "ev-a", 20000));
  const int64_t alice0 = Bal(alice_);
  At(event_day + kLen);
  Attest("ev-a", event_day, 900, 0);
  SettleThrough(event_day + kLen + kGrace);
  auto e = *LoadEvent(state_, ev);
  EXPECT_EQ(e.performance_wh(), 2400 - 900);
  EXPECT_EQ(Bal(alice_), alice0 + 150);
  CheckInvariants();
}

TEST_F(GridTest, PeakReliefPaysNothingWithoutAnAttestedReading) {
  // A meter that sends nothing for the interval has not shown that it imported less.
  const uint64_t ev = Ok(grid_, Event(pb::EVENT_PEAK_RELIEF, kS, kS + kLen, 100, 100000, pb::BASELINE_DECLARED));
  Ok(alice_, Enroll(ev, "ev-a", 20000, 3000));
  Ok(bob_, Enroll(ev, "ev-b", 7000, 1000));
  const int64_t alice0 = Bal(alice_), bob0 = Bal(bob_);
  At(kS + kLen);
  Attest("ev-b", kS, 200, 0);  // bob attests 200 Wh against a 1,000 Wh baseline; alice sends nothing
  SettleThrough(kS + kLen + kGrace);
  auto en = LoadEventEnrollments(state_, ev);
  ASSERT_EQ(en.size(), 2u);
  EXPECT_EQ(en[0].meter_id(), "ev-a");
  EXPECT_EQ(en[0].performance_wh(), 0);
  EXPECT_EQ(en[1].performance_wh(), 800);
  EXPECT_EQ(Bal(alice_), alice0);
  EXPECT_EQ(Bal(bob_), bob0 + 80);
  CheckInvariants();
}

TEST_F(GridTest, ValleyFillWithADeclaredBaseline) {
  const uint64_t ev = Ok(grid_, Event(pb::EVENT_VALLEY_FILL, kS, kS + kLen, 50, 100000, pb::BASELINE_DECLARED));
  Ok(alice_, Enroll(ev, "ev-a", 10000, 500));  // committed 10 kW: at most 2,500 Wh per interval
  At(kS + kLen);
  Attest("ev-a", kS, 4000, 0);
  SettleThrough(kS + kLen + kGrace);
  EXPECT_EQ(LoadEventEnrollments(state_, ev)[0].performance_wh(), 2500);  // 3,500 above, capped
  EXPECT_EQ(LoadEventEnrollments(state_, ev)[0].payout(), 125);
  CheckInvariants();
}

// ---------------------------------------------------------------- corroboration (issue 11)

// A vehicle owner signing less import on its own meter than the charger attests is billed the
// charger's figure; the charger, billed without what it lent, does not pay it again.
TEST_F(GridTest, TariffBillsTheChargersFigureWhenAVehicleUnderReportsImport) {
  Ok(grid_, Tariff(kS, 60, 30));
  Ok(alice_, EnrollTariff("ev-a"));
  Ok(operator_, EnrollTariff(ChargerOf("ev-a")));
  const int64_t alice0 = Bal(alice_), op0 = Bal(operator_), grid0 = Bal(grid_);
  At(kS + kLen);
  AttestOwn("ev-a", kS, 500, 1000);                        // the car says 0.5 kWh in, 1 kWh out
  AttestCharger(ChargerOf("ev-a"), "ev-a", kS, 2500, 400);  // the charger: 2.5 in, 0.4 out
  SettleThrough(kS + kLen + kGrace);
  // Billed 2.5 kWh x 60 = 150; feed-in only for the corroborated 0.4 kWh x 30 = 12.
  EXPECT_EQ(Bal(alice_), alice0 - 150 + 12);
  EXPECT_EQ(Bal(operator_), op0);  // the charger lent all of it: nothing billed or paid twice
  EXPECT_EQ(Bal(grid_), grid0 + 150 - 12);
  EXPECT_EQ(LoadClaim(state_, "ev-a", kS).feed_in_wh(), 400);
  CheckInvariants();
}

TEST_F(GridTest, ReverseDischargeCountsOnlyTheCorroboratedExport) {
  const uint64_t ev = Ok(grid_, Event(pb::EVENT_REVERSE_DISCHARGE, kS, kS + kLen, 200, 100000));
  Ok(alice_, Enroll(ev, "ev-a", 20000));
  Ok(bob_, Enroll(ev, "ev-b", 7000));
  const int64_t alice0 = Bal(alice_), bob0 = Bal(bob_);
  At(kS + kLen);
  AttestOwn("ev-a", kS, 0, 3000);
  AttestCharger(ChargerOf("ev-a"), "ev-a", kS, 0, 1000);  // the charger saw 1 kWh of the car's 3
  AttestOwn("ev-b", kS, 0, 1500);                         // no charger reading at all
  SettleThrough(kS + kLen + kGrace);
  auto en = LoadEventEnrollments(state_, ev);
  ASSERT_EQ(en.size(), 2u);
  EXPECT_EQ(en[0].performance_wh(), 1000);
  EXPECT_EQ(en[1].performance_wh(), 0);
  EXPECT_EQ(Bal(alice_), alice0 + 200);
  EXPECT_EQ(Bal(bob_), bob0);
  CheckInvariants();
}

// Import that earns money (valley fill) counts only as far as the charger confirms it; import
// that lowers pay (peak relief's actual) counts at least the charger's figure.
TEST_F(GridTest, ValleyFillAndPeakReliefUseTheFigureTheOwnerCannotMove) {
  const uint64_t vf = Ok(grid_, Event(pb::EVENT_VALLEY_FILL, kS, kS + kLen, 50, 100000, pb::BASELINE_DECLARED));
  Ok(alice_, Enroll(vf, "ev-a", 20000, 500));
  const uint64_t pr = Ok(grid_, Event(pb::EVENT_PEAK_RELIEF, kS + kLen, kS + 2 * kLen, 100, 100000,
                                      pb::BASELINE_DECLARED, kS - kLen));
  Ok(bob_, Enroll(pr, "ev-b", 7000, 1500));
  At(kS + kLen);
  AttestOwn("ev-a", kS, 4000, 0);                         // the car claims 4 kWh charged...
  AttestCharger(ChargerOf("ev-a"), "ev-a", kS, 1500, 0);  // ...the charger delivered 1.5
  At(kS + 2 * kLen);
  AttestOwn("ev-b", kS + kLen, 0, 0);                             // the car claims it charged nothing...
  AttestCharger(ChargerOf("ev-b"), "ev-b", kS + kLen, 1200, 0);  // ...the charger delivered 1.2 kWh
  SettleThrough(kS + 2 * kLen + kGrace);
  EXPECT_EQ(LoadEventEnrollments(state_, vf)[0].performance_wh(), 1000);  // 1,500 - 500, not 3,500
  EXPECT_EQ(LoadEventEnrollments(state_, pr)[0].performance_wh(), 300);   // 1,500 - 1,200, not 1,500
  CheckInvariants();
}

// A prior-days baseline counts, for peak relief, only import a charger confirmed: an owner
// signing extra import on its car in the days before cannot raise it.
TEST_F(GridTest, PeakReliefBaselineCountsOnlyCorroboratedImport) {
  const int64_t day = 86400;
  const int64_t event_day = kPeak + 6 * day;
  for (int64_t d = 5; d >= 1; --d) {
    const int64_t t = event_day - d * day;
    At(t + kLen);
    AttestOwn("ev-a", t, 5000, 0);                         // the car claims 5 kWh each day...
    AttestCharger(ChargerOf("ev-a"), "ev-a", t, 2000, 0);  // ...the charger delivered 2
  }
  const uint64_t ev = Ok(grid_, Event(pb::EVENT_PEAK_RELIEF, event_day, event_day + kLen, 100, 100000,
                                      pb::BASELINE_PRIOR_DAYS));
  Ok(alice_, Enroll(ev, "ev-a", 20000));
  At(event_day + kLen);
  Attest("ev-a", event_day, 500, 0);
  SettleThrough(event_day + kLen + kGrace);
  EXPECT_EQ(LoadEvent(state_, ev)->performance_wh(), 2000 - 500);
  CheckInvariants();
}

TEST_F(GridTest, ProgramRunsOutOfBudgetMidSettlementAndPointsPayInPts) {
  const uint64_t subsidy = Ok(operator_, Program(pb::PROGRAM_DISCHARGE_SUBSIDY, "CNY", 50, 120, kS + 4 * kLen));
  const uint64_t points = Ok(operator_, Program(pb::PROGRAM_REWARD_POINTS, "PTS", 10, 1000, kS + 4 * kLen));
  Ok(alice_, Join(subsidy, "ev-a"));
  Ok(bob_, Join(subsidy, "ev-b"));
  Ok(alice_, Join(points, "ev-a"));
  Place(alice_, pb::SIDE_SELL, 2000, 100, "ev-a");
  Place(bob_, pb::SIDE_SELL, 1000, 100, "ev-b");
  Place(grid_, pb::SIDE_BUY, 3000, 100);
  const int64_t alice0 = Bal(alice_), bob0 = Bal(bob_), op0 = Bal(operator_);
  Tick(kS - kGate);
  At(kS + kLen);
  Deliver("ev-a", kS, 2000);
  Deliver("ev-b", kS, 1000);
  SettleThrough(kS + kLen + kGrace);
  // Subsidy: alice earns 2 kWh x 50 = 100, bob 1 kWh x 50 = 50, but only 120 was funded: bob
  // gets the 20 left and the program closes with nothing to return.
  auto p = *LoadProgram(state_, subsidy);
  EXPECT_EQ(p.status(), pb::PROGRAM_CLOSED);
  EXPECT_EQ(p.paid(), 120);
  EXPECT_EQ(p.returned(), 0);
  EXPECT_EQ(Bal(alice_), alice0 + 200 + 20 + 100);
  EXPECT_EQ(Bal(bob_), bob0 + 100 + 10 + 20);
  EXPECT_EQ(Pts(alice_), 20);  // 2 kWh x 10 points
  EXPECT_EQ(Statement(alice_).points(), 20);
  EXPECT_EQ(Statement(bob_).subsidy(), 20);
  // The points program ends at kS + 4 intervals: the rest returns to the sponsor then.
  SettleThrough(kS + 5 * kLen + kGrace);
  auto q = *LoadProgram(state_, points);
  EXPECT_EQ(q.status(), pb::PROGRAM_CLOSED);
  EXPECT_EQ(q.returned(), 980);
  EXPECT_EQ(Bal(operator_), op0);
  EXPECT_EQ(Pts(operator_), 1'000'000 - 20);
  CheckInvariants();
}

TEST_F(GridTest, ChargingDiscountRebatesTariffChargesInTheGivenHours) {
  Ok(grid_, Tariff(kS, 100, 0));
  Ok(alice_, EnrollTariff("ev-a"));
  // 25 % off imports at 03:00 UTC only.
  const uint64_t p = Ok(operator_, Program(pb::PROGRAM_CHARGING_DISCOUNT, "CNY", 2500, 10000, kS + 8 * kLen, 1u << 3));
  Ok(alice_, Join(p, "ev-a"));
  const int64_t alice0 = Bal(alice_);
  At(kS + kLen);
  Attest("ev-a", kS, 4000, 0);  // 03:00: charge 400, rebate 100
  At(kS + 5 * kLen);
  Attest("ev-a", kS + 4 * kLen, 1000, 0);  // 04:00: charge 100, no rebate
  SettleThrough(kS + 5 * kLen + kGrace);
  EXPECT_EQ(Bal(alice_), alice0 - 400 + 100 - 100);
  EXPECT_EQ(Statement(alice_).subsidy(), 100);
  CheckInvariants();
}

// A meter's open promises stay with the owner who made them: a transfer is refused (naming them)
// while the meter is in a pool, enrolled in an event not yet settled, or has sells not yet
// settled. Program memberships are not promises: they move to the new owner.
TEST_F(GridTest, TransferIsRefusedWhileTheMeterHasOpenObligations) {
  auto transfer = [&](const KeyPair& from, const std::string& meter, const KeyPair& to) {
    const uint64_t nonce = LoadAccount(state_, AddrOf(from)).nonce() + 1;
    return Run(from, MakeTransferMeter(nonce, kChainId, meter, AddrOf(from), to));
  };
  const uint64_t ev = Ok(grid_, Event(pb::EVENT_REVERSE_DISCHARGE, kS, kS + kLen, 200, 100000));
  const uint64_t prog = Ok(operator_, Program(pb::PROGRAM_REWARD_POINTS, "PTS", 10, 1000, kS + 8 * kLen));
  Ok(alice_, Enroll(ev, "ev-a", 20000));
  Ok(alice_, Join(prog, "ev-a"));
  Place(alice_, pb::SIDE_SELL, 2000, 100, "ev-a");
  Place(alice_, pb::SIDE_SELL, 500, 100, "ev-a", kS + kLen);
  auto r = transfer(alice_, "ev-a", carol_);
  EXPECT_EQ(CodeOf(r), Code::kMeterBusy) << r.log();
  EXPECT_NE(r.log().find("3 open obligation(s)"), std::string::npos) << r.log();
  EXPECT_NE(r.log().find("event " + std::to_string(ev)), std::string::npos) << r.log();
  EXPECT_NE(r.log().find("sells for the interval starting " + FormatRfc3339Ms(kS * 1000)), std::string::npos) << r.log();
  EXPECT_NE(r.log().find("sells for the interval starting " + FormatRfc3339Ms((kS + kLen) * 1000)), std::string::npos) << r.log();
  EXPECT_EQ(r.log().find("program"), std::string::npos) << r.log();
  EXPECT_EQ(LoadMeter(state_, "ev-a")->owner(), AddressBytes(AddrOf(alice_)));
  // A pooled meter: refused too.
  pb::TxBody pool;
  pool.mutable_create_pool()->set_name("vpp");
  pool.mutable_create_pool()->set_fee_bps(500);
  const uint64_t pool_id = Ok(bob_, pool);
  pb::TxBody join;
  join.mutable_join_pool()->set_pool_id(pool_id);
  join.mutable_join_pool()->set_meter_id("ev-b");
  Ok(bob_, join);
  r = transfer(bob_, "ev-b", carol_);
  EXPECT_EQ(CodeOf(r), Code::kMeterBusy) << r.log();
  EXPECT_NE(r.log().find("pool " + std::to_string(pool_id)), std::string::npos) << r.log();
  // Once the event and both intervals have settled, the transfer goes through and the program
  // membership pays carol from then on.
  Place(grid_, pb::SIDE_BUY, 2500, 100);
  Place(grid_, pb::SIDE_BUY, 500, 100, "", kS + kLen);
  Tick(kS - kGate);
  At(kS + kLen);
  Deliver("ev-a", kS, 3000);
  SettleThrough(kS + kLen + kGrace);
  r = transfer(alice_, "ev-a", carol_);
  EXPECT_EQ(CodeOf(r), Code::kMeterBusy) << r.log();  // the sell for kS + kLen is still open
  EXPECT_NE(r.log().find("1 open obligation(s): sells for the interval starting " + FormatRfc3339Ms((kS + kLen) * 1000)), std::string::npos)
      << r.log();
  At(kS + 2 * kLen);
  Deliver("ev-a", kS + kLen, 500);
  SettleThrough(kS + 2 * kLen + kGrace);
  const int64_t paid_to_alice = LoadProgramMembers(state_, prog).at(0).paid();
  EXPECT_GT(paid_to_alice, 0);
  r = transfer(alice_, "ev-a", carol_);
  ASSERT_EQ(CodeOf(r), Code::kOk) << r.log();
  EXPECT_EQ(LoadMeter(state_, "ev-a")->owner(), AddressBytes(AddrOf(carol_)));
  // carol's from the first interval grid services had not settled: every one she is billed and
  // paid for, none that was alice's (the API serves her readings from there, access.h).
  EXPECT_EQ(LoadMeter(state_, "ev-a")->owner_from_s(), GridSettledBefore(state_));
  EXPECT_EQ(GridSettledBefore(state_), kS + 2 * kLen);
  auto members = LoadProgramMembers(state_, prog);
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].owner(), AddressBytes(AddrOf(carol_)));
  EXPECT_EQ(members[0].paid_before_owner(), paid_to_alice);  // alice's part, not carol's to read
  CheckInvariants();
}

// Energy attested in an interval grid services have not settled yet is billed (tariff), paid
// (feed-in) to whoever owns the meter when it settles: a transfer waits for it, so the old owner
// pays for its own charging and the new owner is not put into debt for it.
TEST_F(GridTest, TransferWaitsUntilTheOldOwnersEnergyIsSettled) {
  Ok(grid_, Tariff(kS, 60, 30));
  Ok(alice_, EnrollTariff("ev-a"));
  const int64_t alice0 = Bal(alice_), carol0 = Bal(carol_);
  At(kS + kLen);
  Attest("ev-a", kS, 2500, 1000);
  At(kS + kLen + 10);  // inside kS's grace: not settled
  const uint64_t nonce = LoadAccount(state_, AddrOf(alice_)).nonce() + 1;
  auto r = Run(alice_, MakeTransferMeter(nonce, kChainId, "ev-a", AddrOf(alice_), carol_));
  EXPECT_EQ(CodeOf(r), Code::kMeterBusy) << r.log();
  EXPECT_NE(r.log().find("readings for the interval starting " + FormatRfc3339Ms(kS * 1000) + " not yet settled"), std::string::npos)
      << r.log();
  SettleThrough(kS + kLen + kGrace);
  const uint64_t n2 = LoadAccount(state_, AddrOf(alice_)).nonce() + 1;
  r = Run(alice_, MakeTransferMeter(n2, kChainId, "ev-a", AddrOf(alice_), carol_));
  ASSERT_EQ(CodeOf(r), Code::kOk) << r.log();
  EXPECT_EQ(Bal(alice_), alice0 - 150 + 30);  // alice's bill and feed-in, not carol's
  EXPECT_EQ(Bal(carol_), carol0);
  EXPECT_TRUE(LoadDebts(state_, AddrOf(carol_)).empty());
  CheckInvariants();
}

// Energy a charger attested for a car is the car's too: a transfer waits for it to settle even
// when the car's own readings are all settled.
TEST_F(GridTest, TransferWaitsForEnergyAChargerAttestedForTheVehicle) {
  At(kS + kLen);
  Attest("ev-a", kS, 100, 0);
  SettleThrough(kS + kLen + kGrace);
  At(kS + 2 * kLen);
  AttestCharger(ChargerOf("ev-a"), "ev-a", kS + kLen, 500, 0);
  const uint64_t nonce = LoadAccount(state_, AddrOf(alice_)).nonce() + 1;
  auto r = Run(alice_, MakeTransferMeter(nonce, kChainId, "ev-a", AddrOf(alice_), carol_));
  EXPECT_EQ(CodeOf(r), Code::kMeterBusy) << r.log();
  EXPECT_NE(r.log().find("attested energy in the interval starting " + FormatRfc3339Ms((kS + kLen) * 1000)), std::string::npos) << r.log();
  SettleThrough(kS + 2 * kLen + kGrace);
  const uint64_t n2 = LoadAccount(state_, AddrOf(alice_)).nonce() + 1;
  r = Run(alice_, MakeTransferMeter(n2, kChainId, "ev-a", AddrOf(alice_), carol_));
  EXPECT_EQ(CodeOf(r), Code::kOk) << r.log();
  CheckInvariants();
}

TEST_F(GridTest, BadInputIsRejectedWithAClearErrorAndChangesNothing) {
  ExpectRejected(alice_, Event(pb::EVENT_PEAK_RELIEF, kS, kS + kLen, 100, 1000, pb::BASELINE_DECLARED),
                 Code::kUnauthorized, "grid_company role");
  ExpectRejected(alice_, Tariff(kS, 100, 0), Code::kUnauthorized, "grid_company role");
  ExpectRejected(grid_, Tariff(kT0, 100, 0), Code::kDeadlinePassed, "past");
  ExpectRejected(grid_, Tariff(kS + 60, 100, 0), Code::kInvalidArgument, "not aligned");
  pb::TxBody short_tariff = Tariff(kS, 100, 0);
  short_tariff.mutable_set_tariff()->mutable_import_prices()->RemoveLast();
  ExpectRejected(grid_, short_tariff, Code::kInvalidArgument, "24 hourly import prices");
  ExpectRejected(grid_, Event(pb::EVENT_PEAK_RELIEF, kS, kS + kLen, 100, 0, pb::BASELINE_DECLARED),
                 Code::kInvalidArgument, "budget");
  ExpectRejected(grid_, Event(pb::EVENT_PEAK_RELIEF, kS, kS + kLen, 100, 1000), Code::kInvalidArgument,
                 "baseline must be");
  ExpectRejected(grid_, Event(pb::EVENT_REVERSE_DISCHARGE, kS, kS, 100, 1000), Code::kInvalidArgument, "create_event end must be");
  ExpectRejected(grid_, Event(pb::EVENT_REVERSE_DISCHARGE, kS, kS + kLen, 100, 2'000'000), Code::kInsufficientFunds,
                 "needs 2000000");
  const uint64_t ev = Ok(grid_, Event(pb::EVENT_REVERSE_DISCHARGE, kS, kS + kLen, 100, 1000));
  ExpectRejected(bob_, Enroll(ev, "ev-a", 1000), Code::kUnauthorized, "belongs to");
  ExpectRejected(alice_, Enroll(ev, "ev-a", 30000), Code::kInvalidArgument, "committed_power_w");
  ExpectRejected(alice_, Enroll(ev, "ev-a", 1000, 500), Code::kInvalidArgument, "takes no declared baseline");
  ExpectRejected(alice_, Enroll(999, "ev-a", 1000), Code::kNotFound, "no event 999");
  Ok(alice_, Enroll(ev, "ev-a", 1000));
  ExpectRejected(alice_, Enroll(ev, "ev-a", 1000), Code::kAlreadyExists, "already enrolled");
  Tick(kS - kLen);  // the enrollment deadline
  ExpectRejected(bob_, Enroll(ev, "ev-b", 1000), Code::kDeadlinePassed, "closed at");
  ExpectRejected(alice_, Program(pb::PROGRAM_DISCHARGE_SUBSIDY, "CNY", 50, 100, kS + kLen), Code::kUnauthorized,
                 "operator role");
  ExpectRejected(operator_, Program(pb::PROGRAM_DISCHARGE_SUBSIDY, "CNY", 50, 0, kS + kLen), Code::kInvalidArgument,
                 "budget");
  ExpectRejected(operator_, Program(pb::PROGRAM_DISCHARGE_SUBSIDY, "XYZ", 50, 100, kS + kLen), Code::kUnknownDenom, "XYZ");
  ExpectRejected(operator_, Program(pb::PROGRAM_CHARGING_DISCOUNT, "CNY", 10001, 100, kS + kLen), Code::kInvalidArgument,
                 "rate");
  ExpectRejected(operator_, Program(pb::PROGRAM_REWARD_POINTS, "PTS", 5, 100, kS + kLen, 1), Code::kInvalidArgument,
                 "hours apply to charging discounts only");
  const uint64_t prog = Ok(operator_, Program(pb::PROGRAM_REWARD_POINTS, "PTS", 5, 100, kS + 2 * kLen));
  ExpectRejected(bob_, Join(prog, "ev-a"), Code::kUnauthorized, "belongs to");
  Ok(alice_, Join(prog, "ev-a"));
  ExpectRejected(alice_, Join(prog, "ev-a"), Code::kAlreadyExists, "already takes part");
  ExpectRejected(alice_, EnrollTariff("ev-b"), Code::kUnauthorized, "belongs to");
  CheckInvariants();
}

}  // namespace
}  // namespace v2g
