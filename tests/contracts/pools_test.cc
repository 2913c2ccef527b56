// Unit tests for contracts/pools: an aggregator selling and enrolling for a pool, delivery as the
// sum of members' attested export, the revenue split (fee, then by each member's own delivery,
// rounding that leaves nothing unaccounted for), penalties from the aggregator's collateral,
// members leaving with open obligations, and bad input.
#include "contracts/pools.h"

#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <vector>

#include "common/time.h"
#include "tests/contracts/ledger_fixture.h"

namespace v2g {
namespace {

using namespace testing_ledger;  // NOLINT

TEST(SplitProRata, SumsExactlyWithLargestRemainders) {
  EXPECT_EQ(SplitProRata(10, {1, 1, 1}), (std::vector<int64_t>{4, 3, 3}));
  EXPECT_EQ(SplitProRata(405, {3000, 1500}), (std::vector<int64_t>{270, 135}));
  EXPECT_EQ(SplitProRata(100, {0, 0}), (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(SplitProRata(0, {5, 7}), (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(SplitProRata(7, {0, 2, 1}), (std::vector<int64_t>{0, 5, 2}));  // 4.67 + 2.33: the .67 gets the unit
  for (int64_t total : {1, 2, 999, 1000003}) {
    const std::vector<int64_t> w = {13, 0, 7, 29, 1};
    auto s = SplitProRata(total, w);
    EXPECT_EQ(std::accumulate(s.begin(), s.end(), int64_t{0}), total);
    EXPECT_EQ(s[1], 0);
  }
}

class PoolTest : public LedgerFixture {
 protected:
  void SetUp() override {
    LedgerFixture::SetUp();
    ASSERT_EQ(CodeOf(Run(grid_, MakeTransfer(0, AddrOf(agg_), "CNY", 50'000))), Code::kOk);
    RegisterMeter("ev-d", 33, AddrOf(carol_), 10000);
  }
  uint64_t Ok(const KeyPair& k, pb::TxBody body) {
    auto r = Run(k, std::move(body));
    EXPECT_EQ(CodeOf(r), Code::kOk) << r.log();
    return r.created_id();
  }
  static pb::TxBody CreatePool(const std::string& name, int64_t fee_bps) {
    pb::TxBody b;
    b.mutable_create_pool()->set_name(name);
    b.mutable_create_pool()->set_fee_bps(fee_bps);
    return b;
  }
  static pb::TxBody Join(uint64_t pool, const std::string& meter) {
    pb::TxBody b;
    b.mutable_join_pool()->set_pool_id(pool);
    b.mutable_join_pool()->set_meter_id(meter);
    return b;
  }
  static pb::TxBody Leave(uint64_t pool, const std::string& meter) {
    pb::TxBody b;
    b.mutable_leave_pool()->set_pool_id(pool);
    b.mutable_leave_pool()->set_meter_id(meter);
    return b;
  }
  static pb::TxBody PoolSell(uint64_t pool, int64_t energy, int64_t price, int64_t start = kS) {
    pb::TxBody b = MakePlaceOrder(0, pb::SIDE_SELL, "GD-SZ", start, energy, price);
    b.mutable_place_order()->set_pool_id(pool);
    return b;
  }
  // A pool of ev-a (alice, 20 kW) and ev-b (bob, 7 kW) with a 10 % fee.
  uint64_t MakePool() {
    const uint64_t pool = Ok(agg_, CreatePool("Shenzhen VPP", 1000));
    Ok(alice_, Join(pool, "ev-a"));
    Ok(bob_, Join(pool, "ev-b"));
    return pool;
  }

  KeyPair agg_ = Key(40);
};

TEST_F(PoolTest, PoolSellIsDeliveredByItsMembersAndRevenueIsSplitByOwnDelivery) {
  const uint64_t pool = MakePool();
  // Capacity: (20 + 7) kW x 900 s = 6,750 Wh.
  ExpectRejected(agg_, PoolSell(pool, 6751, 100), Code::kMeterCapacity, "at most 6750 Wh");
  const uint64_t sell = Ok(agg_, PoolSell(pool, 5000, 100));
  Place(grid_, pb::SIDE_BUY, 5000, 100);
  const int64_t alice0 = Bal(alice_), bob0 = Bal(bob_), agg0 = Bal(agg_), grid0 = Bal(grid_);
  Tick(kS - kGate);
  At(kS + kLen);
  Deliver("ev-a", kS, 3000);
  Deliver("ev-b", kS, 1500);  // 4,500 of 5,000: 500 short
  SettleThrough(kS + kLen + kGrace);
  auto t = LoadMarketTrades(state_, "GD-SZ", kS).at(0);
  EXPECT_EQ(t.pool_id(), pool);
  EXPECT_EQ(t.delivered_wh(), 4500);
  EXPECT_EQ(t.seller_paid(), 450);
  EXPECT_EQ(t.penalty(), 5);  // floor(0.5 kWh x 100 x 10 %), from the aggregator's 50 of collateral
  // 450 paid: 45 fee, 405 shared 3,000 : 1,500.
  EXPECT_EQ(Bal(alice_), alice0 + 270);
  EXPECT_EQ(Bal(bob_), bob0 + 135);
  EXPECT_EQ(Bal(agg_), agg0 + 45 + 50 - 5);
  EXPECT_EQ(Bal(grid_), grid0 + 50 + 5);  // escrow 500 back less 450 paid, plus the penalty
  EXPECT_EQ(LoadClaim(state_, "ev-a", kS).market_wh(), 3000);
  EXPECT_EQ(LoadClaim(state_, "ev-b", kS).market_wh(), 1500);
  EXPECT_EQ(Order(sell).status(), pb::ORDER_SETTLED);
  auto p = *LoadPool(state_, pool);
  EXPECT_EQ(p.fees_earned(), 45);
  EXPECT_EQ(p.members_earned(), 405);
  EXPECT_EQ(LoadStatement(state_, AddrOf(alice_), 0, kS + kLen).market_revenue(), 270);
  EXPECT_EQ(LoadStatement(state_, AddrOf(agg_), 0, kS + kLen).market_revenue(), 45);
  EXPECT_EQ(LoadStatement(state_, AddrOf(agg_), 0, kS + kLen).market_penalty(), 5);
  EXPECT_EQ(Module(), 0);
  CheckInvariants();
}

// Members' delivery to a pool sell and their pool event performance count only export a charger
// naming them confirmed (issue 11).
TEST_F(PoolTest, PoolDeliveryAndEventPerformanceUseTheCorroboratedExport) {
  const uint64_t pool = MakePool();
  Ok(agg_, PoolSell(pool, 2000, 100));
  Place(grid_, pb::SIDE_BUY, 2000, 100);
  pb::TxBody ev;
  auto* e = ev.mutable_create_event();
  e->set_kind(pb::EVENT_REVERSE_DISCHARGE);
  e->set_zone("GD-SZ");
  e->set_start_s(kS);
  e->set_end_s(kS + kLen);
  e->set_target_power_w(50000);
  e->set_price(300);
  e->set_budget(100000);
  e->set_enrollment_deadline_s(kS - kLen);
  const uint64_t event = Ok(grid_, ev);
  pb::TxBody enroll;
  enroll.mutable_enroll_event()->set_event_id(event);
  enroll.mutable_enroll_event()->set_pool_id(pool);
  enroll.mutable_enroll_event()->set_committed_power_w(27000);
  Ok(agg_, enroll);
  Tick(kS - kGate);
  At(kS + kLen);
  AttestOwn("ev-a", kS, 0, 4000);
  AttestCharger(ChargerOf("ev-a"), "ev-a", kS, 0, 1800);  // 1.8 kWh of the car's 4 confirmed
  AttestOwn("ev-b", kS, 0, 1000);                         // none of bob's
  SettleThrough(kS + kLen + kGrace);
  const auto a = LoadClaim(state_, "ev-a", kS), b = LoadClaim(state_, "ev-b", kS);
  EXPECT_EQ(LoadMarketTrades(state_, "GD-SZ", kS).at(0).delivered_wh(), 1800);
  EXPECT_EQ(a.market_wh(), 1800);
  EXPECT_EQ(b.market_wh(), 0);
  EXPECT_EQ(a.event_export_wh(), 0);  // nothing corroborated is left for the event
  EXPECT_EQ(b.event_export_wh(), 0);
  EXPECT_EQ(LoadEvent(state_, event)->performance_wh(), 0);
  EXPECT_EQ(Module(), 0);
  CheckInvariants();
}

TEST_F(PoolTest, OverDeliveryIsClaimedInProportionAndNeverPaidTwice) {
  const uint64_t pool = MakePool();
  Ok(agg_, PoolSell(pool, 2000, 100));
  Place(grid_, pb::SIDE_BUY, 2000, 100);
  // A reverse-discharge event takes what the market did not use.
  pb::TxBody ev;
  auto* e = ev.mutable_create_event();
  e->set_kind(pb::EVENT_REVERSE_DISCHARGE);
  e->set_zone("GD-SZ");
  e->set_start_s(kS);
  e->set_end_s(kS + kLen);
  e->set_target_power_w(50000);
  e->set_price(300);
  e->set_budget(100000);
  e->set_enrollment_deadline_s(kS - kLen);
  const uint64_t event = Ok(grid_, ev);
  pb::TxBody enroll;
  enroll.mutable_enroll_event()->set_event_id(event);
  enroll.mutable_enroll_event()->set_pool_id(pool);
  enroll.mutable_enroll_event()->set_committed_power_w(27000);
  Ok(agg_, enroll);
  const int64_t alice0 = Bal(alice_), bob0 = Bal(bob_), agg0 = Bal(agg_);
  Tick(kS - kGate);
  At(kS + kLen);
  Deliver("ev-a", kS, 3000);
  Deliver("ev-b", kS, 1000);  // 4,000 in all: 2,000 to the market, 2,000 to the event
  SettleThrough(kS + kLen + kGrace);
  const auto a = LoadClaim(state_, "ev-a", kS), b = LoadClaim(state_, "ev-b", kS);
  EXPECT_EQ(a.market_wh(), 1500);  // 2,000 x 3 / 4
  EXPECT_EQ(b.market_wh(), 500);
  EXPECT_EQ(a.event_export_wh(), 1500);
  EXPECT_EQ(b.event_export_wh(), 500);
  EXPECT_EQ(a.market_wh() + a.event_export_wh(), 3000);
  EXPECT_EQ(b.market_wh() + b.event_export_wh(), 1000);
  auto evr = *LoadEvent(state_, event);
  EXPECT_EQ(evr.performance_wh(), 2000);
  EXPECT_EQ(evr.paid(), 600);
  // Market 200 and event 600: 10 % fees of 20 and 60; members get 180 and 540 split 3 : 1.
  EXPECT_EQ(Bal(alice_), alice0 + 135 + 405);
  EXPECT_EQ(Bal(bob_), bob0 + 45 + 135);
  EXPECT_EQ(Bal(agg_), agg0 + 20 + 60 + 20);  // fees, and the collateral back
  EXPECT_EQ(LoadStatement(state_, AddrOf(alice_), 0, kS + kLen).event_payout(), 405);
  CheckInvariants();
}

TEST_F(PoolTest, PooledMetersAreTradedOnlyThroughThePool) {
  const uint64_t pool = MakePool();
  ExpectRejected(alice_, MakePlaceOrder(0, pb::SIDE_SELL, "GD-SZ", kS, 1000, 100, "ev-a"), Code::kUnauthorized,
                 "is in pool");
  ExpectRejected(alice_, MakeProposeContract(0, AddrOf(grid_), pb::SIDE_SELL, "GD-SZ", kS, 1000, 100, "ev-a"),
                 Code::kUnauthorized, "is in pool");
  ExpectRejected(alice_, PoolSell(pool, 1000, 100), Code::kUnauthorized, "is run by");
  ExpectRejected(agg_, PoolSell(99, 1000, 100), Code::kNotFound, "no pool 99");
  pb::TxBody both = PoolSell(pool, 1000, 100);
  both.mutable_place_order()->set_meter_id("ev-a");
  ExpectRejected(agg_, both, Code::kInvalidArgument, "names no meter");
  CheckInvariants();
}

TEST_F(PoolTest, BadPoolInput) {
  ExpectRejected(agg_, CreatePool("too dear", 10001), Code::kInvalidArgument, "fee_bps must be 0..10000");
  ExpectRejected(agg_, CreatePool("", 100), Code::kInvalidArgument, "name");
  const uint64_t pool = MakePool();
  const uint64_t other = Ok(grid2_, CreatePool("other", 0));
  ExpectRejected(alice_, Join(pool, "ev-a"), Code::kAlreadyExists, "already in pool");
  ExpectRejected(alice_, Join(other, "ev-a"), Code::kAlreadyExists, "already in pool");
  ExpectRejected(bob_, Join(other, "ev-d"), Code::kUnauthorized, "belongs to");
  ExpectRejected(carol_, Join(77, "ev-d"), Code::kNotFound, "no pool 77");
  ExpectRejected(carol_, Leave(pool, "ev-d"), Code::kNotFound, "is not in pool");
  // A stranger learns nothing of the pool's members: the same answer in or out of it.
  ExpectRejected(carol_, Leave(pool, "ev-a"), Code::kUnauthorized, "does not own meter 'ev-a'");
  ExpectRejected(bob_, Leave(pool, "ev-d"), Code::kUnauthorized, "does not own meter 'ev-d'");
  CheckInvariants();
}

// A pool's enrollment is one indivisible step of the grid pass, 1 + its members records, so a pool
// holds at most limits::kPoolMembersMax meters (issue 12): the (max + 1)th join is refused, changes
// nothing, and the meter can join another pool; a place frees only when a departure completes.
TEST_F(PoolTest, APoolTakesAtMostKPoolMembersMaxMembers) {
  static_assert(limits::kGridWorkPerBlockMax >= 1 + limits::kPoolMembersMax);
  const uint64_t pool = Ok(agg_, CreatePool("big", 0));
  // Meters m0, m1, ... of alice's, each with its own device key (Key() has 256 seeds only).
  auto add = [&](int64_t i) {
    const std::string id = "m" + std::to_string(i);
    Bytes seed(kSeedBytes, 0x5a);
    seed[0] = static_cast<uint8_t>(i & 0xff);
    seed[1] = static_cast<uint8_t>(i >> 8);
    devices_.emplace(id, KeyPair::FromSeed(seed));
    auto r = Run(operator_, MakeRegisterMeter(0, kChainId, AddrOf(operator_), id, devices_.at(id),
                                              pb::METER_KIND_VEHICLE, "GD-SZ", AddrOf(alice_), 7000, 7000, 60000));
    EXPECT_EQ(CodeOf(r), Code::kOk) << r.log();
    return id;
  };
  for (int64_t i = 0; i < limits::kPoolMembersMax; ++i) {
    auto r = Run(alice_, Join(pool, add(i)));
    ASSERT_EQ(CodeOf(r), Code::kOk) << "member " << i << ": " << r.log();
  }
  EXPECT_EQ(LoadPool(state_, pool)->members(), static_cast<uint64_t>(limits::kPoolMembersMax));
  const std::string extra = add(limits::kPoolMembersMax);
  ExpectRejected(alice_, Join(pool, extra), Code::kPoolFull,
                 "pool " + std::to_string(pool) + " has 1000 members, the most a pool may have (1000)");
  EXPECT_FALSE(PoolOfMeter(state_, extra).has_value());
  // The cap is per pool: another takes the meter.
  const uint64_t other = Ok(agg_, CreatePool("second", 0));
  Ok(alice_, Join(other, extra));
  // A member that asks to leave still counts until its departure completes.
  const std::string late = add(limits::kPoolMembersMax + 1);
  Ok(alice_, Leave(pool, "m0"));
  ExpectRejected(alice_, Join(pool, late), Code::kPoolFull, "the most a pool may have");
  const int64_t leave_after_s = (ctx_.time_ms / 1000 / kLen + 1) * kLen;  // no obligations: the next interval
  SettleThrough(leave_after_s + kLen + kGrace);
  EXPECT_FALSE(PoolOfMeter(state_, "m0").has_value());
  EXPECT_EQ(LoadPool(state_, pool)->members(), static_cast<uint64_t>(limits::kPoolMembersMax - 1));
  Ok(alice_, Join(pool, late));
  EXPECT_EQ(LoadPool(state_, pool)->members(), static_cast<uint64_t>(limits::kPoolMembersMax));
  CheckInvariants();
}

TEST_F(PoolTest, MemberLeavingWithOpenObligationsStaysUntilTheySettle) {
  const uint64_t pool = MakePool();
  Ok(agg_, PoolSell(pool, 5000, 100));
  Place(grid_, pb::SIDE_BUY, 5000, 100);
  Ok(bob_, Leave(pool, "ev-b"));  // the pool sold kS: bob counts through kS
  ExpectRejected(bob_, Leave(pool, "ev-b"), Code::kAlreadyExists, "already leaving");
  // For the next interval the pool can only offer alice's 5,000 Wh.
  ExpectRejected(agg_, PoolSell(pool, 5001, 100, kS + kLen), Code::kMeterCapacity, "at most 5000 Wh");
  // bob cannot sell on his own while still in the pool.
  ExpectRejected(bob_, MakePlaceOrder(0, pb::SIDE_SELL, "GD-SZ", kS + 2 * kLen, 1000, 100, "ev-b"),
                 Code::kUnauthorized, "is in pool");
  const int64_t bob0 = Bal(bob_);
  Tick(kS - kGate);
  At(kS + kLen);
  Deliver("ev-a", kS, 3500);
  Deliver("ev-b", kS, 1500);
  SettleThrough(kS + kLen + kGrace);
  EXPECT_EQ(Bal(bob_), bob0 + SplitProRata(450, {3500, 1500})[1]);  // bob's part of the interval he owed
  EXPECT_FALSE(PoolOfMeter(state_, "ev-b").has_value());
  EXPECT_EQ(LoadPool(state_, pool)->members(), 1u);
  Place(bob_, pb::SIDE_SELL, 1000, 100, "ev-b", kS + 3 * kLen);  // free to sell alone now
  CheckInvariants();
}

// Regression: a pool's enrollment in an event of several intervals used to be stored back under
// the key of a meter with an empty id after the first interval, so from the second interval on
// the pool was enrolled twice and its performance counted (and paid) twice.
TEST_F(PoolTest, PoolEnrolledInAMultiIntervalEventIsCountedOncePerInterval) {
  const uint64_t pool = MakePool();
  pb::TxBody ev;
  auto* e = ev.mutable_create_event();
  e->set_kind(pb::EVENT_REVERSE_DISCHARGE);
  e->set_zone("GD-SZ");
  e->set_start_s(kS);
  e->set_end_s(kS + 3 * kLen);
  e->set_target_power_w(50000);
  e->set_price(100);
  e->set_budget(100000);
  e->set_enrollment_deadline_s(kS - kLen);
  const uint64_t event = Ok(grid_, ev);
  pb::TxBody enroll;
  enroll.mutable_enroll_event()->set_event_id(event);
  enroll.mutable_enroll_event()->set_pool_id(pool);
  enroll.mutable_enroll_event()->set_committed_power_w(4000);  // 1,000 Wh per interval
  Ok(agg_, enroll);
  for (int i = 0; i < 3; ++i) {
    At(kS + (i + 1) * kLen);
    Deliver("ev-a", kS + i * kLen, 2000);
  }
  SettleThrough(kS + 3 * kLen + kGrace);
  const auto enrollments = LoadEventEnrollments(state_, event);
  ASSERT_EQ(enrollments.size(), 1u);
  EXPECT_EQ(enrollments[0].pool_id(), pool);
  EXPECT_EQ(enrollments[0].performance_wh(), 3000);  // capped at 1,000 Wh in each of 3 intervals
  auto r = *LoadEvent(state_, event);
  EXPECT_EQ(r.status(), pb::EVENT_SETTLED);
  EXPECT_EQ(r.performance_wh(), 3000);
  EXPECT_EQ(r.paid(), 300);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(LoadClaim(state_, "ev-a", kS + i * kLen).event_export_wh(), 1000);
  CheckInvariants();
}

// Regression: a meter enrolled in an event on its own that then joined a pool enrolled in the same
// event was counted twice: in its own enrollment and as a pool member (the same import paid twice).
// Issue 12 closes the class: such a meter cannot join a pool until its event has settled, so pool
// performance needs no special case for it. Each meter is counted once, in its own enrollment.
TEST_F(PoolTest, AMeterEnrolledOnItsOwnJoinsAPoolOnlyAfterItsEventSettled) {
  pb::TxBody ev;
  auto* e = ev.mutable_create_event();
  e->set_kind(pb::EVENT_VALLEY_FILL);
  e->set_zone("GD-SZ");
  e->set_start_s(kS);
  e->set_end_s(kS + kLen);
  e->set_target_power_w(50000);
  e->set_price(100);
  e->set_budget(100000);
  e->set_enrollment_deadline_s(kS - kLen);
  e->set_baseline(pb::BASELINE_PRIOR_DAYS);  // no history: a baseline of 0
  const uint64_t event = Ok(grid_, ev);
  Ok(bob_, MakeEnrollEvent(0, event, "ev-b", 7000));
  const uint64_t pool = Ok(agg_, CreatePool("Shenzhen VPP", 1000));
  Ok(alice_, Join(pool, "ev-a"));
  ExpectRejected(bob_, Join(pool, "ev-b"), Code::kUnauthorized, "enrolled in an event on its own");
  Ok(agg_, MakeEnrollEvent(0, event, "", 20000, 0, pool));
  At(kS + kLen);
  Attest("ev-a", kS, 1000, 0);
  Attest("ev-b", kS, 1500, 0);
  SettleThrough(kS + kLen + kGrace);
  auto r = *LoadEvent(state_, event);
  ASSERT_EQ(r.status(), pb::EVENT_SETTLED);
  EXPECT_EQ(r.performance_wh(), 2500);  // ev-a 1,000 through the pool, ev-b 1,500 on its own
  EXPECT_EQ(r.paid(), 250);
  for (const auto& en : LoadEventEnrollments(state_, event)) {
    EXPECT_EQ(en.performance_wh(), en.pool_id() != 0 ? 1000 : 1500);
  }
  Ok(bob_, Join(pool, "ev-b"));  // its event has settled
  CheckInvariants();
}

// Issue 12: every time horizon is bounded. An event starting far ahead would let its enrollments
// (a pool's members included) be held until then; the grid horizon bounds it, tariffs too.
TEST_F(PoolTest, EventsAndTariffsStartWithinTheGridHorizon) {
  const int64_t horizon = limits::kGridHorizonSDefault;
  const int64_t far = (ctx_.time_ms / 1000 + horizon) / kLen * kLen + kLen;  // the first start past it
  pb::TxBody ev;
  auto* e = ev.mutable_create_event();
  e->set_kind(pb::EVENT_PEAK_RELIEF);
  e->set_zone("GD-SZ");
  e->set_start_s(far);
  e->set_end_s(far + kLen);
  e->set_target_power_w(50000);
  e->set_price(100);
  e->set_budget(1000);
  e->set_enrollment_deadline_s(kS);
  e->set_baseline(pb::BASELINE_PRIOR_DAYS);
  ExpectRejected(grid_, ev, Code::kInvalidArgument, "more than the grid horizon");
  e->set_start_s(far - kLen);
  e->set_end_s(far);
  Ok(grid_, ev);
  ExpectRejected(grid_, MakeSetTariff(0, "GD-SZ", far, std::vector<int64_t>(24, 10), 0), Code::kInvalidArgument,
                 "set_tariff effective_from_s " + FormatRfc3339Ms(far * 1000) + " is more than the grid horizon");
  Ok(grid_, MakeSetTariff(0, "GD-SZ", far - kLen, std::vector<int64_t>(24, 10), 0));
  CheckInvariants();
}

}  // namespace
}  // namespace v2g
