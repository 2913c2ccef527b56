// Unit tests for contracts/market: the call auction on its own (no cross, exact cross, partial
// fill at the margin, price ties, one side empty, a single order, rounding), and the whole market
// through ExecuteBlock: escrow and collateral at placement, refunds at clearing, settlement on
// full, partial and zero delivery, late readings, two trades on one meter, bilateral contracts,
// cancels before and after gate closure, and every kind of bad input (each changes nothing).
#include "contracts/market.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "common/bech32.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "contracts/app.h"
#include "contracts/grid.h"
#include "contracts/kv.h"
#include "contracts/meters.h"
#include "contracts/state.h"
#include "genesis/genesis.h"
#include "tests/contracts/ledger_fixture.h"
#include "wallet/tx_builder.h"

namespace v2g {
namespace {

// ---------------------------------------------------------------- the auction

AuctionOrder O(uint64_t id, int64_t price, int64_t energy) { return {id, price, energy}; }

TEST(CallAuction, NoCross) {
  AuctionResult r = ClearCallAuction({O(1, 50, 100), O(2, 40, 100)}, {O(3, 60, 100), O(4, 70, 50)});
  EXPECT_EQ(r.volume_wh, 0);
  EXPECT_EQ(r.price, 0);
  EXPECT_TRUE(r.fills.empty());
}

TEST(CallAuction, ExactCrossAtOnePrice) {
  AuctionResult r = ClearCallAuction({O(1, 60, 100)}, {O(2, 60, 100)});
  EXPECT_EQ(r.volume_wh, 100);
  EXPECT_EQ(r.price, 60);
  ASSERT_EQ(r.fills.size(), 1u);
  EXPECT_EQ(r.fills[0].buy_id, 1u);
  EXPECT_EQ(r.fills[0].sell_id, 2u);
  EXPECT_EQ(r.fills[0].energy_wh, 100);
}

TEST(CallAuction, WholeBookClearsAtTheMidpointRoundedDown) {
  // Nothing left on either side: the price range is [a_k, b_k] = [50, 61], midpoint 55.5 -> 55.
  AuctionResult r = ClearCallAuction({O(1, 61, 10)}, {O(2, 50, 10)});
  EXPECT_EQ(r.volume_wh, 10);
  EXPECT_EQ(r.price, 55);
}

TEST(CallAuction, PartialFillAtTheMargin) {
  // Bids 70 x100, 60 x100; asks 50 x150, 65 x100. Matches: 100 (70/50), 50 (60/50); the 60 bid
  // is left with 50 and the 65 ask whole: range [max(50, 60), min(60, 65)] = [60, 60].
  AuctionResult r = ClearCallAuction({O(1, 70, 100), O(2, 60, 100)}, {O(3, 50, 150), O(4, 65, 100)});
  EXPECT_EQ(r.volume_wh, 150);
  EXPECT_EQ(r.price, 60);
  ASSERT_EQ(r.fills.size(), 2u);
  EXPECT_EQ(r.fills[0].buy_id, 1u);
  EXPECT_EQ(r.fills[0].energy_wh, 100);
  EXPECT_EQ(r.fills[1].buy_id, 2u);
  EXPECT_EQ(r.fills[1].sell_id, 3u);
  EXPECT_EQ(r.fills[1].energy_wh, 50);
}

TEST(CallAuction, PartiallyFilledAskBoundsThePriceFromAbove) {
  // One bid 80 x100 against asks 40 x60 and 70 x100: the 70 ask is matched for 40 and left with
  // 60, so the range is [max(70, -), min(80, 70)] = [70, 70].
  AuctionResult r = ClearCallAuction({O(1, 80, 100)}, {O(2, 40, 60), O(3, 70, 100)});
  EXPECT_EQ(r.volume_wh, 100);
  EXPECT_EQ(r.price, 70);
}

TEST(CallAuction, UnmatchedBidBoundsThePriceFromBelow) {
  // Bids 90 x10, 55 x10; ask 50 x10. The 90 bid takes the ask; the 55 bid is left:
  // range [max(50, 55), min(90, -)] = [55, 90] -> 72.
  AuctionResult r = ClearCallAuction({O(1, 90, 10), O(2, 55, 10)}, {O(3, 50, 10)});
  EXPECT_EQ(r.volume_wh, 10);
  EXPECT_EQ(r.price, 72);
}

TEST(CallAuction, PriceTiesGoByArrival) {
  // Two asks at 50 (ids 2 and 3, given out of order) and one bid for 100: the earlier ask fills first.
  AuctionResult r = ClearCallAuction({O(1, 55, 100)}, {O(3, 50, 60), O(2, 50, 60)});
  ASSERT_EQ(r.fills.size(), 2u);
  EXPECT_EQ(r.fills[0].sell_id, 2u);
  EXPECT_EQ(r.fills[0].energy_wh, 60);
  EXPECT_EQ(r.fills[1].sell_id, 3u);
  EXPECT_EQ(r.fills[1].energy_wh, 40);
  EXPECT_EQ(r.price, 50);  // [max(50, -), min(55, 50)]
  // The same on the bid side.
  r = ClearCallAuction({O(5, 55, 100), O(4, 55, 100)}, {O(6, 40, 150)});
  ASSERT_EQ(r.fills.size(), 2u);
  EXPECT_EQ(r.fills[0].buy_id, 4u);
  EXPECT_EQ(r.fills[0].energy_wh, 100);
  EXPECT_EQ(r.fills[1].buy_id, 5u);
  EXPECT_EQ(r.fills[1].energy_wh, 50);
  EXPECT_EQ(r.price, 55);  // the 55 bid is partly unmatched: [max(40, 55), 55]
}

TEST(CallAuction, OneSideEmptyOrASingleOrder) {
  EXPECT_EQ(ClearCallAuction({O(1, 50, 100), O(2, 60, 10)}, {}).volume_wh, 0);
  EXPECT_EQ(ClearCallAuction({}, {O(1, 50, 100)}).volume_wh, 0);
  EXPECT_EQ(ClearCallAuction({O(1, 50, 100)}, {}).fills.size(), 0u);
  EXPECT_EQ(ClearCallAuction({}, {}).price, 0);
}

TEST(CallAuction, MaximisesVolume) {
  // Greedy matching by price priority trades every Wh that any uniform price could trade.
  AuctionResult r = ClearCallAuction({O(1, 100, 30), O(2, 80, 30), O(3, 60, 30), O(4, 40, 30)},
                                     {O(5, 30, 30), O(6, 50, 30), O(7, 70, 30), O(8, 90, 30)});
  EXPECT_EQ(r.volume_wh, 60);
  EXPECT_GE(r.price, 50);  // the last matched ask
  EXPECT_LE(r.price, 80);  // the last matched bid
  EXPECT_EQ(r.price, 65);  // [max(50, 60), min(80, 70)] = [60, 70]
}

// ---------------------------------------------------------------- the market through blocks

using namespace testing_ledger;  // NOLINT
using MarketTest = LedgerFixture;

TEST_F(MarketTest, FullDeliveryPaysTheSellerAtTheClearingPrice) {
  const int64_t grid0 = Bal(grid_), alice0 = Bal(alice_);
  // Alice sells 4,000 Wh at 0.50 CNY/kWh; the grid bids 0.80 for 4,000.
  const uint64_t sell = Place(alice_, pb::SIDE_SELL, 4000, 50, "ev-a");
  const uint64_t buy = Place(grid_, pb::SIDE_BUY, 4000, 80);
  EXPECT_EQ(Order(buy).locked(), 320);   // 4 kWh x 80
  EXPECT_EQ(Order(sell).locked(), 20);   // 10 % of 4 kWh x 50
  EXPECT_EQ(Bal(grid_), grid0 - 320);
  EXPECT_EQ(Bal(alice_), alice0 - 20);
  EXPECT_EQ(Module(), 340);
  CheckInvariants();

  Tick(kS - kGate - 1);  // one second before gate closure: still open
  EXPECT_EQ(Market().status(), pb::MARKET_OPEN);
  Tick(kS - kGate);  // gate closure: the auction runs
  pb::MarketRecord m = Market();
  EXPECT_EQ(m.status(), pb::MARKET_CLEARED);
  EXPECT_EQ(m.clearing_price(), 65);  // midpoint of [50, 80]
  EXPECT_EQ(m.cleared_energy_wh(), 4000);
  EXPECT_EQ(Order(buy).status(), pb::ORDER_MATCHED);
  EXPECT_EQ(Order(buy).locked(), 260);  // escrow above the clearing price went back
  EXPECT_EQ(Bal(grid_), grid0 - 260);
  CheckInvariants();

  At(kS + kLen);
  Deliver("ev-a", kS, 4000);
  Tick(kS + kLen + kGrace);
  m = Market();
  EXPECT_EQ(m.status(), pb::MARKET_SETTLED);
  EXPECT_EQ(m.delivered_energy_wh(), 4000);
  auto trades = LoadMarketTrades(state_, "GD-SZ", kS);
  ASSERT_EQ(trades.size(), 1u);
  EXPECT_TRUE(trades[0].settled());
  EXPECT_EQ(trades[0].delivered_wh(), 4000);
  EXPECT_EQ(trades[0].seller_paid(), 260);
  EXPECT_EQ(trades[0].buyer_refund(), 0);
  EXPECT_EQ(trades[0].penalty(), 0);
  EXPECT_EQ(Bal(grid_), grid0 - 260);
  EXPECT_EQ(Bal(alice_), alice0 + 260);  // collateral back in full
  EXPECT_EQ(Order(sell).status(), pb::ORDER_SETTLED);
  EXPECT_EQ(Order(sell).locked(), 0);
  EXPECT_EQ(Order(buy).status(), pb::ORDER_SETTLED);
  EXPECT_EQ(Module(), 0);
  CheckInvariants();
}

TEST_F(MarketTest, PartialDeliveryRefundsTheBuyerAndPaysAPenaltyFromCollateral) {
  const int64_t grid0 = Bal(grid_), alice0 = Bal(alice_);
  Place(alice_, pb::SIDE_SELL, 5000, 100, "ev-a");  // collateral 50
  Place(grid_, pb::SIDE_BUY, 5000, 100);            // escrow 500, price 100
  Tick(kS - kGate);
  EXPECT_EQ(Market().clearing_price(), 100);
  At(kS + kLen);
  Deliver("ev-a", kS, 3001);
  Tick(kS + kLen + kGrace);
  auto t = LoadMarketTrades(state_, "GD-SZ", kS).at(0);
  EXPECT_EQ(t.delivered_wh(), 3001);
  EXPECT_EQ(t.seller_paid(), 300);   // floor(3001 x 100 / 1000): the 0.1 unit stays with the buyer
  EXPECT_EQ(t.buyer_refund(), 200);
  EXPECT_EQ(t.penalty(), 19);        // floor(1999 Wh x 100 x 10 %)
  EXPECT_EQ(Bal(grid_), grid0 - 500 + 200 + 19);
  EXPECT_EQ(Bal(alice_), alice0 + 300 - 19);
  EXPECT_EQ(Module(), 0);
  CheckInvariants();
}

// ---------------------------------------------------------------- corroboration (issue 11)

// A vehicle's own meter is in its owner's hands: without a charger reading naming it, its export
// delivers nothing.
TEST_F(MarketTest, VehicleExportWithoutAChargerReadingEarnsNothing) {
  const int64_t grid0 = Bal(grid_), alice0 = Bal(alice_);
  Place(alice_, pb::SIDE_SELL, 2000, 100, "ev-a");  // collateral 20
  Place(grid_, pb::SIDE_BUY, 2000, 100);
  Tick(kS - kGate);
  At(kS + kLen);
  AttestOwn("ev-a", kS, 0, 2000);  // signed by the car, confirmed by no charger
  Tick(kS + kLen + kGrace);
  auto t = LoadMarketTrades(state_, "GD-SZ", kS).at(0);
  EXPECT_EQ(t.delivered_wh(), 0);
  EXPECT_EQ(t.seller_paid(), 0);
  EXPECT_EQ(t.penalty(), 20);
  EXPECT_EQ(Bal(alice_), alice0 - 20);
  EXPECT_EQ(Bal(grid_), grid0 + 20);
  EXPECT_EQ(LoadClaim(state_, "ev-a", kS).market_wh(), 0);
  EXPECT_EQ(Module(), 0);
  CheckInvariants();
}

// With the charger naming it, the vehicle delivers min(its own figure, the charger's): a car
// claiming more than the charger saw is capped, a charger seeing more does not raise the car.
TEST_F(MarketTest, VehicleDeliversAtMostWhatTheChargerNamingItAttests) {
  RegisterMeter("ev-c", 32, AddrOf(carol_), 20000);
  ASSERT_EQ(CodeOf(Run(alice_, MakeTransfer(0, AddrOf(carol_), "CNY", 1000))), Code::kOk);
  const int64_t alice0 = Bal(alice_), carol0 = Bal(carol_);
  Place(alice_, pb::SIDE_SELL, 3000, 100, "ev-a");
  Place(carol_, pb::SIDE_SELL, 3000, 100, "ev-c");
  Place(grid_, pb::SIDE_BUY, 6000, 100);
  Tick(kS - kGate);
  At(kS + kLen);
  AttestOwn("ev-a", kS, 0, 3000);                     // the car claims 3 kWh...
  AttestCharger(ChargerOf("ev-a"), "ev-a", kS, 0, 1200);  // ...the charger saw 1.2
  AttestOwn("ev-c", kS, 0, 1000);                     // the car says 1 kWh...
  AttestCharger(ChargerOf("ev-c"), "ev-c", kS, 0, 1500);  // ...the charger 1.5: the car's lower figure counts
  Tick(kS + kLen + kGrace);
  std::map<std::string, int64_t> delivered;
  for (const auto& t : LoadMarketTrades(state_, "GD-SZ", kS)) delivered[t.meter_id()] += t.delivered_wh();
  EXPECT_EQ(delivered["ev-a"], 1200);
  EXPECT_EQ(delivered["ev-c"], 1000);
  EXPECT_EQ(Bal(alice_), alice0 + 120 - 18);  // paid 1.2 kWh x 100; penalty 1.8 kWh x 10 from collateral
  EXPECT_EQ(Bal(carol_), carol0 + 100 - 20);
  EXPECT_EQ(Module(), 0);
  CheckInvariants();
}

// Energy a charger lent to a named vehicle is paid through the vehicle only: the charger's owner
// selling from the charger is not paid for it again.
TEST_F(MarketTest, ChargerOwnerIsNotPaidForEnergyLentToTheVehicle) {
  RegisterKind("ch-bob", 60, AddrOf(bob_), 20000, "GD-SZ", pb::METER_KIND_CHARGER);
  const int64_t alice0 = Bal(alice_), bob0 = Bal(bob_);
  Place(alice_, pb::SIDE_SELL, 2000, 100, "ev-a");
  Place(bob_, pb::SIDE_SELL, 2000, 100, "ch-bob");
  Place(grid_, pb::SIDE_BUY, 4000, 100);
  Tick(kS - kGate);
  At(kS + kLen);
  AttestOwn("ev-a", kS, 0, 2000);
  AttestCharger("ch-bob", "ev-a", kS, 0, 2000);  // the same 2 kWh, through bob's charger
  Tick(kS + kLen + kGrace);
  std::map<std::string, int64_t> delivered;
  for (const auto& t : LoadMarketTrades(state_, "GD-SZ", kS)) delivered[t.meter_id()] += t.delivered_wh();
  EXPECT_EQ(delivered["ev-a"], 2000);
  EXPECT_EQ(delivered["ch-bob"], 0);
  EXPECT_EQ(Bal(alice_), alice0 + 200);
  EXPECT_EQ(Bal(bob_), bob0 - 20);  // bob's collateral pays the shortfall
  EXPECT_EQ(Module(), 0);
  CheckInvariants();
}

TEST_F(MarketTest, ZeroDeliveryRefundsEverythingAndThePenaltyIsCappedByCollateral) {
  // penalty_bps 1000 vs collateral_bps 1000 at the seller's (lower) limit price: the penalty at
  // the clearing price would exceed the collateral, so it is capped.
  const int64_t grid0 = Bal(grid_), alice0 = Bal(alice_);
  Place(alice_, pb::SIDE_SELL, 5000, 40, "ev-a");  // collateral floor(5 x 40 x 10 %) = 20
  Place(grid_, pb::SIDE_BUY, 5000, 200);           // price 120
  Tick(kS - kGate);
  EXPECT_EQ(Market().clearing_price(), 120);
  Tick(kS + kLen + kGrace);  // no readings at all
  auto t = LoadMarketTrades(state_, "GD-SZ", kS).at(0);
  EXPECT_EQ(t.delivered_wh(), 0);
  EXPECT_EQ(t.seller_paid(), 0);
  EXPECT_EQ(t.buyer_refund(), 600);
  EXPECT_EQ(t.penalty(), 20);  // floor(5 x 120 x 10 %) = 60, capped at the 20 of collateral
  EXPECT_EQ(Bal(grid_), grid0 + 20);
  EXPECT_EQ(Bal(alice_), alice0 - 20);
  EXPECT_EQ(Module(), 0);
  CheckInvariants();
}

TEST_F(MarketTest, ReadingsAfterSettlementDoNotCount) {
  const int64_t alice0 = Bal(alice_);
  Place(alice_, pb::SIDE_SELL, 2000, 100, "ev-a");
  Place(grid_, pb::SIDE_BUY, 2000, 100);
  Tick(kS - kGate);
  Tick(kS + kLen + kGrace);  // settles with nothing attested
  const std::string before = Encode(LoadMarketTrades(state_, "GD-SZ", kS).at(0));
  const int64_t alice_after = Bal(alice_);
  EXPECT_EQ(alice_after, alice0 - 20);
  // Readings for kS after its settlement are refused: a settled result never changes.
  At(kS + kLen + kGrace + 10);
  auto r = Run(bob_, MakeSubmitReadings(0, {Reading("ev-a", 1, kS, kS + 1, 0, 0), Reading("ev-a", 2, kS + 1, kS + kLen, 0, 2000)}));
  // Neither is accepted, so the batch fails with the first one's reason.
  EXPECT_EQ(CodeOf(r), Code::kReadingIntervalSettled) << r.log();
  EXPECT_FALSE(LoadMeterInterval(state_, "ev-a", kS).has_value());
  Tick(kS + 4 * kLen);
  EXPECT_EQ(Encode(LoadMarketTrades(state_, "GD-SZ", kS).at(0)), before);
  EXPECT_EQ(Bal(alice_), alice_after);
  CheckInvariants();
}

TEST_F(MarketTest, TwoTradesOnOneMeterNeverShareTheSameEnergy) {
  const int64_t alice0 = Bal(alice_);
  const uint64_t s1 = Place(alice_, pb::SIDE_SELL, 3000, 100, "ev-a");
  const uint64_t s2 = Place(alice_, pb::SIDE_SELL, 2000, 100, "ev-a");
  Place(grid_, pb::SIDE_BUY, 3000, 100);
  Place(grid2_, pb::SIDE_BUY, 2000, 100);
  Tick(kS - kGate);
  EXPECT_EQ(Market().cleared_energy_wh(), 5000);
  At(kS + kLen);
  Deliver("ev-a", kS, 4000);  // 1,000 Wh short of both
  Tick(kS + kLen + kGrace);
  // The earlier sell gets its 3,000 Wh first; the later one only the 1,000 left.
  EXPECT_EQ(Order(s1).delivered_wh(), 3000);
  EXPECT_EQ(Order(s2).delivered_wh(), 1000);
  int64_t paid_wh = 0;
  for (const auto& t : LoadMarketTrades(state_, "GD-SZ", kS)) paid_wh += t.delivered_wh();
  EXPECT_EQ(paid_wh, 4000);
  EXPECT_EQ(Market().delivered_energy_wh(), 4000);
  EXPECT_EQ(Bal(alice_), alice0 + 400 - 10);  // paid for 4 kWh, penalty floor(1 kWh x 100 x 10 %)
  EXPECT_EQ(Module(), 0);
  CheckInvariants();
}

TEST_F(MarketTest, UnmatchedOrdersExpireWithEverythingRefunded) {
  const int64_t grid0 = Bal(grid_), alice0 = Bal(alice_);
  const uint64_t sell = Place(alice_, pb::SIDE_SELL, 1000, 90, "ev-a");
  const uint64_t buy = Place(grid_, pb::SIDE_BUY, 1000, 80);
  Tick(kS - kGate);
  EXPECT_EQ(Market().cleared_energy_wh(), 0);
  EXPECT_EQ(Order(sell).status(), pb::ORDER_EXPIRED);
  EXPECT_EQ(Order(buy).status(), pb::ORDER_EXPIRED);
  EXPECT_EQ(Bal(grid_), grid0);
  EXPECT_EQ(Bal(alice_), alice0);
  EXPECT_EQ(Module(), 0);
  // The meter's capacity is free again for the next interval's orders, and this one's.
  Tick(kS + kLen + kGrace);
  EXPECT_EQ(Market().status(), pb::MARKET_SETTLED);
  CheckInvariants();
}

TEST_F(MarketTest, PartiallyFilledSellKeepsCollateralOnlyForWhatMatched) {
  const int64_t alice0 = Bal(alice_);
  const uint64_t sell = Place(alice_, pb::SIDE_SELL, 5000, 100, "ev-a");  // collateral 50
  Place(grid_, pb::SIDE_BUY, 2000, 150);
  Tick(kS - kGate);
  EXPECT_EQ(Order(sell).filled_wh(), 2000);
  EXPECT_EQ(Order(sell).locked(), 20);
  EXPECT_EQ(Bal(alice_), alice0 - 20);
  // The unmatched 3,000 Wh no longer count against the meter.
  EXPECT_EQ(Market().clearing_price(), 100);  // the ask is partly unmatched: [max(100, -), min(150, 100)]
  CheckInvariants();
}

TEST_F(MarketTest, CancelBeforeGateClosureRefundsInFullAndAfterIsRefused) {
  const int64_t alice0 = Bal(alice_);
  const uint64_t sell = Place(alice_, pb::SIDE_SELL, 5000, 100, "ev-a");
  EXPECT_EQ(Bal(alice_), alice0 - 50);
  auto r = Run(alice_, MakeCancelOrder(0, sell));
  ASSERT_EQ(CodeOf(r), Code::kOk) << r.log();
  EXPECT_EQ(Order(sell).status(), pb::ORDER_CANCELLED);
  EXPECT_EQ(Order(sell).locked(), 0);
  EXPECT_EQ(Bal(alice_), alice0);
  // The meter's full capacity is available again.
  Place(alice_, pb::SIDE_SELL, 5000, 100, "ev-a");
  ExpectRejected(alice_, MakeCancelOrder(0, sell), Code::kOrderNotOpen, "cancelled");

  const uint64_t buy = Place(grid_, pb::SIDE_BUY, 1000, 100);
  Tick(kS - kGate);
  ExpectRejected(grid_, MakeCancelOrder(0, buy), Code::kGateClosed, "can no longer be cancelled");
  CheckInvariants();
}

TEST_F(MarketTest, BilateralContractProposedBySellerSettlesLikeATrade) {
  const int64_t grid0 = Bal(grid_), alice0 = Bal(alice_);
  auto r = Run(alice_, MakeProposeContract(0, AddrOf(grid_), pb::SIDE_SELL, "GD-SZ", kS, 3000, 90, "ev-a"));
  ASSERT_EQ(CodeOf(r), Code::kOk) << r.log();
  const uint64_t id = r.created_id();
  EXPECT_EQ(Bal(alice_), alice0);  // nothing locks before acceptance
  EXPECT_EQ(LoadContract(state_, id)->status(), pb::CONTRACT_PROPOSED);
  // Only the counterparty may accept; the buyer names no meter.
  ExpectRejected(bob_, MakeAcceptContract(0, id), Code::kUnauthorized, "was not proposed to");
  ExpectRejected(grid_, MakeAcceptContract(0, id, "ev-b"), Code::kInvalidArgument, "only the selling side");
  r = Run(grid_, MakeAcceptContract(0, id));
  ASSERT_EQ(CodeOf(r), Code::kOk) << r.log();
  EXPECT_EQ(LoadContract(state_, id)->escrow(), 270);
  EXPECT_EQ(LoadContract(state_, id)->collateral(), 27);
  EXPECT_EQ(Bal(grid_), grid0 - 270);
  EXPECT_EQ(Bal(alice_), alice0 - 27);
  CheckInvariants();
  Tick(kS - kGate);
  At(kS + kLen);
  Deliver("ev-a", kS, 2500);
  Tick(kS + kLen + kGrace);
  auto c = *LoadContract(state_, id);
  EXPECT_EQ(c.status(), pb::CONTRACT_SETTLED);
  EXPECT_EQ(c.delivered_wh(), 2500);
  EXPECT_EQ(c.seller_paid(), 225);
  EXPECT_EQ(c.buyer_refund(), 45);
  EXPECT_EQ(c.penalty(), 4);  // floor(0.5 kWh x 90 x 10 %)
  EXPECT_EQ(c.collateral_returned(), 23);
  EXPECT_EQ(Bal(grid_), grid0 - 225 + 4);
  EXPECT_EQ(Bal(alice_), alice0 + 225 - 4);
  EXPECT_EQ(Module(), 0);
  CheckInvariants();
}

TEST_F(MarketTest, BilateralContractProposedByBuyerAndContractsShareTheMeterWithTrades) {
  const int64_t bob0 = Bal(bob_);
  auto r = Run(grid_, MakeProposeContract(0, AddrOf(bob_), pb::SIDE_BUY, "GD-SZ", kS, 1000, 100));
  ASSERT_EQ(CodeOf(r), Code::kOk) << r.log();
  const uint64_t id = r.created_id();
  ExpectRejected(bob_, MakeAcceptContract(0, id), Code::kInvalidArgument, "must name the meter");
  ExpectRejected(bob_, MakeAcceptContract(0, id, "ev-a"), Code::kUnauthorized, "belongs to");
  r = Run(bob_, MakeAcceptContract(0, id, "ev-b"));
  ASSERT_EQ(CodeOf(r), Code::kOk) << r.log();
  // ev-b can export 1,750 Wh per interval: 1,000 are contracted, so a 1,000 Wh sell is too much.
  ExpectRejected(bob_, MakePlaceOrder(0, pb::SIDE_SELL, "GD-SZ", kS, 1000, 100, "ev-b"), Code::kMeterCapacity,
                 "already offered");
  const uint64_t sell = Place(bob_, pb::SIDE_SELL, 750, 100, "ev-b");  // a later id than the contract
  Place(grid2_, pb::SIDE_BUY, 750, 100);
  Tick(kS - kGate);
  At(kS + kLen);
  Deliver("ev-b", kS, 1200);
  Tick(kS + kLen + kGrace);
  // The contract came first: it takes 1,000 Wh, the trade the remaining 200.
  EXPECT_EQ(LoadContract(state_, id)->delivered_wh(), 1000);
  EXPECT_EQ(Order(sell).delivered_wh(), 200);
  EXPECT_EQ(Bal(bob_), bob0 + 100 + 20 - 5);  // contract 1 kWh + trade 0.2 kWh at 100, penalty 0.55 kWh
  EXPECT_EQ(Module(), 0);
  CheckInvariants();
}

TEST_F(MarketTest, UnacceptedProposalsExpireAtGateClosureAndCanBeWithdrawn) {
  auto r = Run(alice_, MakeProposeContract(0, AddrOf(grid_), pb::SIDE_SELL, "GD-SZ", kS, 1000, 90, "ev-a"));
  const uint64_t expiring = r.created_id();
  r = Run(alice_, MakeProposeContract(0, AddrOf(grid_), pb::SIDE_SELL, "GD-SZ", kS, 1000, 90, "ev-a"));
  const uint64_t withdrawn = r.created_id();
  ExpectRejected(grid_, MakeCancelContract(0, withdrawn), Code::kUnauthorized, "was not proposed by");
  ASSERT_EQ(CodeOf(Run(alice_, MakeCancelContract(0, withdrawn))), Code::kOk);
  EXPECT_EQ(LoadContract(state_, withdrawn)->status(), pb::CONTRACT_CANCELLED);
  ExpectRejected(grid_, MakeAcceptContract(0, withdrawn), Code::kOrderNotOpen, "cancelled");
  Tick(kS - kGate);
  EXPECT_EQ(LoadContract(state_, expiring)->status(), pb::CONTRACT_EXPIRED);
  ExpectRejected(grid_, MakeAcceptContract(0, expiring), Code::kGateClosed, "closed at");
  CheckInvariants();
}

TEST_F(MarketTest, BadInputIsRejectedWithAClearErrorAndChangesNothing) {
  Place(alice_, pb::SIDE_SELL, 4000, 100, "ev-a");  // leaves 1,000 Wh of ev-a's 5,000
  auto sell = [](int64_t energy, int64_t price, const std::string& meter, int64_t start = kS,
                 const std::string& zone = "GD-SZ") {
    return MakePlaceOrder(0, pb::SIDE_SELL, zone, start, energy, price, meter);
  };
  auto buy = [](int64_t energy, int64_t price, int64_t start = kS) {
    return MakePlaceOrder(0, pb::SIDE_BUY, "GD-SZ", start, energy, price);
  };
  ExpectRejected(grid_, buy(0, 100), Code::kInvalidArgument, "energy_wh must be");
  ExpectRejected(grid_, buy(-5, 100), Code::kInvalidArgument, "energy_wh must be");
  ExpectRejected(grid_, buy(1000, 0), Code::kInvalidArgument, "limit_price must be");
  ExpectRejected(grid_, buy(1000, -1), Code::kInvalidArgument, "limit_price must be");
  ExpectRejected(grid_, buy(limits::kOrderEnergyWhMax + 1, 100), Code::kInvalidArgument, "energy_wh must be");
  ExpectRejected(grid_, buy(std::numeric_limits<int64_t>::max(), 100), Code::kInvalidArgument, "energy_wh must be");
  ExpectRejected(grid_, buy(1000, std::numeric_limits<int64_t>::max()), Code::kInvalidArgument, "limit_price must be");
  // The largest order the ranges allow still fits in int64 (1 GWh x 10^12 per kWh = 10^18).
  ExpectRejected(grid_, buy(limits::kOrderEnergyWhMax, limits::kOrderPriceMax), Code::kInsufficientFunds,
                 "needs 1000000000000000000");
  ExpectRejected(grid_, buy(1000, 100, kS + 60), Code::kInvalidArgument, "not aligned");
  ExpectRejected(grid_, buy(1000, 100, kT0), Code::kGateClosed, "closed at");
  ExpectRejected(grid_, buy(1000, 100, kT0 + 2 * 86400), Code::kMarketNotOpen, "open at");
  ExpectRejected(grid_, MakePlaceOrder(0, pb::SIDE_BUY, "GD-SZ", kS, 1000, 100, "ev-a"), Code::kInvalidArgument,
                 "only the selling side");
  ExpectRejected(bob_, sell(1000, 100, "ev-a"), Code::kUnauthorized, "belongs to");
  ExpectRejected(alice_, sell(1000, 100, ""), Code::kInvalidArgument, "must name the meter");
  ExpectRejected(alice_, sell(1000, 100, "no-such-meter"), Code::kMeterUnregistered, "no-such-meter");
  ExpectRejected(alice_, sell(1000, 100, "ev-a", kS, "GD-GZ"), Code::kInvalidArgument, "is in zone GD-SZ");
  ExpectRejected(alice_, sell(1001, 100, "ev-a"), Code::kMeterCapacity, "at most 5000 Wh");
  ExpectRejected(carol_, buy(1000, 100), Code::kInsufficientFunds, "needs 100");
  RegisterMeter("ev-c", 32, AddrOf(carol_), 20000);
  ExpectRejected(carol_, sell(5000, 100, "ev-c"), Code::kInsufficientFunds, "needs 50");
  ExpectRejected(grid_, MakePlaceOrder(0, pb::SIDE_UNSPECIFIED, "GD-SZ", kS, 1000, 100), Code::kInvalidArgument,
                 "side must be");
  ExpectRejected(grid_, MakePlaceOrder(0, pb::SIDE_BUY, "GD/SZ", kS, 1000, 100), Code::kInvalidArgument, "zone");
  ExpectRejected(grid_, MakeCancelOrder(0, 1), Code::kUnauthorized, "is not an order of");
  ExpectRejected(grid_, MakeCancelOrder(0, 999), Code::kNotFound, "no order 999");
  ExpectRejected(grid_, MakeCancelOrder(0, 0), Code::kInvalidArgument, "order_id");
  ExpectRejected(alice_, MakeProposeContract(0, AddrOf(alice_), pb::SIDE_SELL, "GD-SZ", kS, 100, 100, "ev-a"),
                 Code::kInvalidArgument, "counterparty is the proposer");
  ExpectRejected(alice_, MakeProposeContract(0, AddrOf(grid_), pb::SIDE_SELL, "GD-SZ", kS, 100, 0, "ev-a"),
                 Code::kInvalidArgument, "price must be");
  ExpectRejected(grid_, MakeAcceptContract(0, 12345), Code::kNotFound, "no contract 12345");
  CheckInvariants();
}

TEST_F(MarketTest, AcceptanceFailsWhenTheProposerCannotPay) {
  // carol proposes to buy 10 kWh at 1.00 but holds 0.03 CNY: acceptance needs her escrow.
  auto r = Run(carol_, MakeProposeContract(0, AddrOf(alice_), pb::SIDE_BUY, "GD-SZ", kS, 10000, 100));
  ASSERT_EQ(CodeOf(r), Code::kOk) << r.log();
  // ev-a exports at most 5,000 Wh: the capacity check names the meter first.
  ExpectRejected(alice_, MakeAcceptContract(0, r.created_id(), "ev-a"), Code::kMeterCapacity, "at most 5000 Wh");
  r = Run(carol_, MakeProposeContract(0, AddrOf(alice_), pb::SIDE_BUY, "GD-SZ", kS, 5000, 100));
  // alice learns that carol cannot pay, not what carol holds (docs/DESIGN.md "Who may read what").
  ExpectRejected(alice_, MakeAcceptContract(0, r.created_id(), "ev-a"), Code::kInsufficientFunds,
                 "the buyer of contract " + std::to_string(r.created_id()) + " cannot cover its side now");
  CheckInvariants();
}

TEST_F(MarketTest, AcceptanceDoesNotTellTheBuyerWhyTheSellerCannotSell) {
  // alice proposes to sell 1 kWh from ev-a to grid, then falls into debt (an unpaid tariff bill).
  auto r = Run(alice_, MakeProposeContract(0, AddrOf(grid_), pb::SIDE_SELL, "GD-SZ", kS, 1000, 100, "ev-a"));
  ASSERT_EQ(CodeOf(r), Code::kOk) << r.log();
  state_.Put(std::string(kDebtPrefix) + AddressBytes(AddrOf(alice_)) + "bill", "");
  ASSERT_TRUE(HasDebt(state_, AddrOf(alice_)));
  // grid learns that the seller cannot sell now, not that alice owes anything.
  auto refused = Run(grid_, MakeAcceptContract(0, r.created_id()));
  EXPECT_EQ(CodeOf(refused), Code::kMeterBusy) << refused.log();
  EXPECT_EQ(refused.log(), "the seller of contract " + std::to_string(r.created_id()) +
                               " cannot sell from its meter now; the contract stays proposed");
  EXPECT_EQ(LoadContract(state_, r.created_id())->status(), pb::CONTRACT_PROPOSED);
  // alice herself, selling by order, is told why.
  ExpectRejected(alice_, MakePlaceOrder(0, pb::SIDE_SELL, "GD-SZ", kS, 1000, 100, "ev-a"), Code::kInDebt,
                 "unpaid tariff bills");
  // What the public registry says is told as it is: a deactivated meter never delivers.
  state_.Delete(std::string(kDebtPrefix) + AddressBytes(AddrOf(alice_)) + "bill");
  auto m = LoadMeter(state_, "ev-a");
  ASSERT_TRUE(m.has_value());
  m->set_active(false);
  state_.Put(MeterKey("ev-a"), Encode(*m));
  ExpectRejected(grid_, MakeAcceptContract(0, r.created_id()), Code::kMeterDeactivated, "is deactivated");
  CheckInvariants();
}

TEST_F(MarketTest, ChainWithoutAMarketDenomRefusesOrders) {
  pb::ParamsRecord p = LoadParams(state_);
  p.clear_market_denom();
  state_.Put(std::string(kParamsKey), Encode(p));
  ExpectRejected(grid_, MakePlaceOrder(0, pb::SIDE_BUY, "GD-SZ", kS, 1000, 100), Code::kMarketDisabled,
                 "no energy market");
}

TEST_F(MarketTest, MarketsInDifferentZonesAndIntervalsAreIndependent) {
  RegisterMeter("ev-gz", 33, AddrOf(bob_), 20000, "GD-GZ");
  Place(alice_, pb::SIDE_SELL, 1000, 50, "ev-a", kS);
  Place(grid_, pb::SIDE_BUY, 1000, 70, "", kS);
  Place(bob_, pb::SIDE_SELL, 1000, 60, "ev-gz", kS, "GD-GZ");
  Place(grid_, pb::SIDE_BUY, 1000, 100, "", kS, "GD-GZ");
  Place(alice_, pb::SIDE_SELL, 1000, 10, "ev-a", kS + kLen);
  Tick(kS - kGate);
  EXPECT_EQ(Market(kS).clearing_price(), 60);
  EXPECT_EQ(LoadMarket(state_, "GD-GZ", kS)->clearing_price(), 80);
  EXPECT_EQ(Market(kS + kLen).status(), pb::MARKET_OPEN);
  Tick(kS + kLen - kGate);
  EXPECT_EQ(Market(kS + kLen).status(), pb::MARKET_CLEARED);
  EXPECT_EQ(Market(kS + kLen).cleared_energy_wh(), 0);
  CheckInvariants();
}

TEST(MarketGenesis, ParamsAreValidated) {
  GenesisParams p = DefaultParams();
  EXPECT_TRUE(p.market_denom.empty());
  EXPECT_EQ(p.market_gate_closure_s, limits::kGateClosureSDefault);
  auto make = [](const std::string& params) {
    return ParseGenesis(R"({"chain_id": "c", "genesis_time": "2026-11-26T00:00:00Z",
      "validators": [{"name": "v", "address": ")" +
                        EncodeAddress(AddrOf(Key(1))) + R"(", "consensus_pubkey": ")" +
                        HexEncode(Key(1).public_key()) + R"(", "node_pubkey": ")" + HexEncode(Key(2).public_key()) +
                        R"(", "power": 1}],
      "denominations": [{"name": "CNY", "decimals": 2, "issuer": ")" +
                        EncodeAddress(AddrOf(Key(1))) + R"("}], "params": )" + params + "}");
  };
  auto ok = make(R"({"market_denom": "CNY", "settlement_interval_s": 60, "market_gate_closure_s": 10,
                     "market_grace_s": 20, "market_collateral_bps": 500, "market_penalty_bps": 2000})");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->params.market_denom, "CNY");
  EXPECT_EQ(ok->params.market_gate_closure_s, 10);
  auto back = ParseGenesis(GenesisToJson(*ok));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->params.market_penalty_bps, 2000);
  for (const auto& [bad, field] : std::vector<std::pair<std::string, std::string>>{
           {R"({"market_denom": "USD"})", "params.market_denom"},
           {R"({"market_denom": 5})", "params.market_denom"},
           {R"({"market_collateral_bps": 10001})", "params.market_collateral_bps"},
           {R"({"market_penalty_bps": -1})", "params.market_penalty_bps"},
           {R"({"market_grace_s": -1})", "params.market_grace_s"},
           {R"({"market_horizon_s": 100})", "params.market_horizon_s"}}) {
    auto g = make(bad);
    ASSERT_FALSE(g.ok()) << bad;
    EXPECT_NE(g.status().message().find(field), std::string::npos) << g.status().message();
  }
}

}  // namespace
}  // namespace v2g
