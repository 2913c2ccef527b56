// The fault harness's pure parts: schedules replay from their seed, and the checker catches each
// kind of broken promise it is there to catch (a lost acknowledged tx, a refused tx that
// committed, a tx committed twice, a fork, money that appeared or vanished).
#include <gtest/gtest.h>

#include "common/bech32.h"
#include "common/crypto.h"
#include "tests/faults/checker.h"
#include "tests/faults/schedule.h"

namespace v2g::faults {
namespace {

TEST(FaultSchedule, TheSameSeedGivesTheSameScheduleAndAnotherSeedAnother) {
  auto a = MakeSchedule("random", 7, 5, 120'000);
  auto b = MakeSchedule("random", 7, 5, 120'000);
  auto c = MakeSchedule("random", 8, 5, 120'000);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->ToJson(), b->ToJson());
  EXPECT_NE(a->ToJson(), c->ToJson());
  EXPECT_GE(a->events.size(), 8u) << "two minutes hold several faults";
  for (size_t i = 1; i < a->events.size(); ++i) EXPECT_LE(a->events[i - 1].at_ms, a->events[i].at_ms);
  for (const Event& e : a->events) EXPECT_LT(e.at_ms, 120'000) << "every fault ends before the final heal";
}

TEST(FaultSchedule, EveryNamedScheduleIsBuiltAndUnknownNamesAreRefusedByName) {
  for (const std::string& name : NamedSchedules()) {
    auto s = MakeSchedule(name, 1, 5, 30'000);
    ASSERT_TRUE(s.ok()) << name << ": " << s.status().message();
    EXPECT_FALSE(s->events.empty()) << name;
  }
  auto bad = MakeSchedule("partition-everything", 1, 5, 30'000);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("partition-everything"), std::string::npos);
  EXPECT_NE(bad.status().message().find("majority-partition"), std::string::npos);
}

TEST(FaultSchedule, TheMajorityPartitionLeavesNoSideAboveTwoThirds) {
  for (int n : {4, 5, 7, 9}) {
    auto s = MakeSchedule("majority-partition", 1, n, 30'000);
    ASSERT_TRUE(s.ok());
    const size_t side = s->events.front().nodes.size();
    EXPECT_LE(3 * side, 2u * static_cast<size_t>(n)) << n;
    EXPECT_LE(3 * (static_cast<size_t>(n) - side), 2u * static_cast<size_t>(n)) << n;
  }
}

ChainView Chain(int node, std::vector<std::string> ids) {
  ChainView v;
  v.node = node;
  v.height = static_cast<int64_t>(ids.size());
  v.block_ids = ids;
  v.app_hashes = ids;
  v.times_ms.assign(ids.size(), 0);
  return v;
}

TxRecord Rec(std::string hash, Outcome o, int64_t height = 0, int from = 0, int to = 1, int64_t amount = 10) {
  TxRecord r;
  r.hash = std::move(hash);
  r.outcome = o;
  r.height = height;
  r.from = from;
  r.to = to;
  r.amount = amount;
  return r;
}

TEST(FaultChecker, AForkAtAnyCommonHeightFails) {
  EXPECT_TRUE(CheckSameChain({Chain(0, {"a", "b", "c"}), Chain(1, {"a", "b"})}).ok);
  Verdict v = CheckSameChain({Chain(0, {"a", "b", "c"}), Chain(1, {"a", "x", "c"})});
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.detail.find("height 2"), std::string::npos) << v.detail;
}

// Node 0 stopped first and is the shortest: two longer nodes that differ above its height must
// still be caught.
TEST(FaultChecker, AForkAboveTheShortestNodeIsCaught) {
  Verdict v = CheckSameChain({Chain(0, {"a"}), Chain(1, {"a", "b"}), Chain(2, {"a", "x"})});
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.detail.find("height 2"), std::string::npos) << v.detail;
}

TEST(FaultChecker, ABlockANodeReportedAndLaterLostIsCaught) {
  const ChainView final_chain = Chain(0, {"a", "b", "c"});
  EXPECT_TRUE(CheckObserved({{0, 1, "a"}, {1, 3, "c"}}, final_chain).ok);
  EXPECT_FALSE(CheckObserved({{1, 2, "z"}}, final_chain).ok) << "replaced after a crash";
  EXPECT_FALSE(CheckObserved({{1, 4, "d"}}, final_chain).ok) << "reported, then gone";
  EXPECT_FALSE(CheckObserved({}, final_chain).ok) << "no report at all proves nothing";
}

TEST(FaultChecker, EachBrokenPromiseAboutTxsIsCaught) {
  ChainView c = Chain(0, {"a", "b", "c"});
  c.txs["acked"] = {{2, 0}};
  c.txs["refused"] = {{3, 0}};
  c.txs["twice"] = {{2, 0}, {3, 20}};
  auto verdicts = CheckHistory({Rec("acked", Outcome::kCommitted, 2), Rec("lost", Outcome::kCommitted, 2),
                                Rec("refused", Outcome::kRefused), Rec("twice", Outcome::kUnknown)},
                               c);
  ASSERT_EQ(verdicts.size(), 4u);
  EXPECT_FALSE(verdicts[0].ok) << "an acknowledged tx missing from the chain";
  EXPECT_NE(verdicts[0].detail.find("0 times"), std::string::npos) << verdicts[0].detail;
  EXPECT_FALSE(verdicts[1].ok) << "a refused tx in the chain";
  EXPECT_FALSE(verdicts[2].ok) << "an unknown tx committed twice";
  EXPECT_FALSE(verdicts[3].ok) << "a tx twice in the chain";

  ChainView good = Chain(0, {"a", "b"});
  good.txs["acked"] = {{2, 0}};
  good.txs["maybe"] = {{1, 0}};
  auto ok = CheckHistory({Rec("acked", Outcome::kCommitted, 2), Rec("maybe", Outcome::kUnknown),
                          Rec("never", Outcome::kUnknown), Rec("refused", Outcome::kRefused)},
                         good);
  for (const Verdict& v : ok) EXPECT_TRUE(v.ok) << v.name << ": " << v.detail;
  EXPECT_FALSE(CheckHistory({Rec("never", Outcome::kUnknown)}, good)[0].ok) << "nothing acknowledged proves nothing";
  // Acknowledged at another height than where it is: the client was told something false.
  auto moved = CheckHistory({Rec("acked", Outcome::kCommitted, 1)}, good);
  EXPECT_FALSE(moved[0].ok);
}

TEST(FaultChecker, BalancesMustMatchTheCommittedTransfersAndSumToWhatWasMinted) {
  ChainView c = Chain(0, {"a"});
  c.txs["t1"] = {{1, 0}};
  c.txs["t2"] = {{1, 22}};  // failed in the block: moves nothing
  const std::vector<TxRecord> h = {Rec("t1", Outcome::kCommitted, 1, 0, 1, 30),
                                   Rec("t2", Outcome::kUnknown, 0, 1, 0, 500),
                                   Rec("t3", Outcome::kUnknown, 0, 1, 0, 7)};  // never committed
  EXPECT_TRUE(CheckBalances(h, c, 2, 100, {{70, 130}, {70, 130}}).ok);
  Verdict wrong = CheckBalances(h, c, 2, 100, {{70, 130}, {63, 137}});
  EXPECT_FALSE(wrong.ok);
  EXPECT_NE(wrong.detail.find("node 1"), std::string::npos) << wrong.detail;
  EXPECT_FALSE(CheckBalances(h, c, 2, 100, {{70, 131}}).ok) << "money appeared";
}

TEST(FaultChecker, AttestedEnergyMustBeWhatTheMeterSentAndTheChainAccepted) {
  // Readings of 1 s: seq 1 [101, 102) (the baseline), seq 2 [102, 103), then a gap: seq 3
  // [110, 111), seq 4 [111, 112). With 10 s intervals seq 2's rise is interval 100's and seq 3's
  // (over [103, 111), across a boundary) unattributed.
  std::map<uint64_t, SentReading> meter;
  const int64_t ends[] = {0, 102, 103, 111, 112};
  for (uint64_t seq = 1; seq <= 4; ++seq) {
    SentReading r;
    r.seq = seq;
    r.import_wh_total = 100 + 10 * static_cast<int64_t>(seq);  // 110, 120, 130, 140
    r.export_wh_total = 7 * static_cast<int64_t>(seq);         // 7, 14, 21, 28
    r.versions = {{"sig" + std::to_string(seq), ends[seq] - 1, ends[seq]}};
    r.told_accepted = seq <= 3;
    meter[seq] = r;
  }
  MeterOnChain good;  // the chain accepted 1..3
  good.readings_accepted = 3;
  good.last_seq = 3;
  good.last_import_wh_total = 130;
  good.last_export_wh_total = 21;
  good.last_signature = "sig3";
  good.attested_import_wh = 10;
  good.unattributed_import_wh = 10;
  good.attested_export_wh = 7;
  good.unattributed_export_wh = 7;
  good.import_by_interval = {{100, 10}};
  good.export_by_interval = {{100, 7}};
  Verdict ok = CheckMeters({meter}, {{good}, {good}}, 10);
  EXPECT_TRUE(ok.ok) << ok.detail;
  // Reading 3 made again over a fresh span (its interval settled first): either version may be the
  // chain's, registers alike.
  std::map<uint64_t, SentReading> remade_meter = meter;
  remade_meter[3].versions.push_back({"sig3b", 120, 121});
  MeterOnChain remade = good;
  remade.last_signature = "sig3b";
  EXPECT_TRUE(CheckMeters({remade_meter}, {{remade}}, 10).ok);
  EXPECT_TRUE(CheckMeters({remade_meter}, {{good}}, 10).ok);
  EXPECT_FALSE(CheckMeters({meter}, {{remade}}, 10).ok) << "a version the meter never made";

  MeterOnChain more = good;  // energy out of nowhere
  more.attested_import_wh = 11;
  more.import_by_interval = {{100, 11}};
  EXPECT_FALSE(CheckMeters({meter}, {{more}}, 10).ok);
  MeterOnChain exported = good;  // export out of nowhere
  exported.attested_export_wh = 8;
  exported.export_by_interval = {{100, 8}};
  EXPECT_FALSE(CheckMeters({meter}, {{exported}}, 10).ok);
  MeterOnChain misplaced = good;  // the same energy, on every node, in an interval the spans do not touch
  misplaced.import_by_interval = {{110, 10}};
  misplaced.export_by_interval = {{110, 7}};
  Verdict mv = CheckMeters({meter}, {{misplaced}, {misplaced}}, 10);
  EXPECT_FALSE(mv.ok);
  EXPECT_NE(mv.detail.find("interval 100"), std::string::npos) << mv.detail;
  MeterOnChain shifted = good;  // the gap's rise attributed instead of left unattributed
  shifted.attested_import_wh = 20;
  shifted.unattributed_import_wh = 0;
  shifted.import_by_interval = {{100, 10}, {110, 10}};
  EXPECT_FALSE(CheckMeters({meter}, {{shifted}}, 10).ok);
  MeterOnChain forged = good;  // a reading the meter never signed
  forged.last_signature = "sigX";
  EXPECT_FALSE(CheckMeters({meter}, {{forged}}, 10).ok);
  MeterOnChain lost = good;  // an acknowledged reading missing
  lost.readings_accepted = 2;
  lost.last_seq = 2;
  lost.last_import_wh_total = 120;
  lost.last_export_wh_total = 14;
  lost.last_signature = "sig2";
  lost.unattributed_import_wh = 0;
  lost.unattributed_export_wh = 0;
  Verdict v = CheckMeters({meter}, {{lost}}, 10);
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.detail.find("acknowledged"), std::string::npos) << v.detail;
  MeterOnChain twice = good;  // a seq counted twice
  twice.readings_accepted = 4;
  EXPECT_FALSE(CheckMeters({meter}, {{twice}}, 10).ok);
  EXPECT_FALSE(CheckMeters({meter}, {{good}, {more}}, 10).ok) << "one node of two wrong";
}

// Seq 2 made twice (its interval settled before the first got in): [102, 103), then [115, 116).
// The chain may have taken either, and seq 3 ([116, 117)) lands accordingly; not both at once.
TEST(FaultChecker, AReadingMadeAgainMayBeEitherVersionButTheIntervalsMustFollowOne) {
  std::map<uint64_t, SentReading> meter;
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    SentReading r;
    r.seq = seq;
    r.import_wh_total = 100 + 10 * static_cast<int64_t>(seq);
    r.export_wh_total = 7 * static_cast<int64_t>(seq);
    meter[seq] = r;
  }
  meter[1].versions = {{"s1", 101, 102}};
  meter[2].versions = {{"s2", 102, 103}, {"s2b", 115, 116}};
  meter[3].versions = {{"s3", 116, 117}};
  MeterOnChain c;
  c.readings_accepted = 3;
  c.last_seq = 3;
  c.last_import_wh_total = 130;
  c.last_export_wh_total = 21;
  c.last_signature = "s3";
  c.attested_import_wh = 10;
  c.unattributed_import_wh = 10;
  c.attested_export_wh = 7;
  c.unattributed_export_wh = 7;
  MeterOnChain took_first = c;  // seq 2's rise in interval 100, seq 3's across the gap
  took_first.import_by_interval = {{100, 10}};
  took_first.export_by_interval = {{100, 7}};
  MeterOnChain took_second = c;  // seq 2's across the gap, seq 3's in interval 110
  took_second.import_by_interval = {{110, 10}};
  took_second.export_by_interval = {{110, 7}};
  Verdict first = CheckMeters({meter}, {{took_first}}, 10), second = CheckMeters({meter}, {{took_second}}, 10);
  EXPECT_TRUE(first.ok) << first.detail;
  EXPECT_TRUE(second.ok) << second.detail;
  MeterOnChain both = c;  // each delta where one version would put it: no version puts both there
  both.attested_import_wh = 20;
  both.unattributed_import_wh = 0;
  both.attested_export_wh = 14;
  both.unattributed_export_wh = 0;
  both.import_by_interval = {{100, 10}, {110, 10}};
  both.export_by_interval = {{100, 7}, {110, 7}};
  EXPECT_FALSE(CheckMeters({meter}, {{both}}, 10).ok);
}

// One market (zone Z, interval 100) of a seller (meter m0, sell 1: 100 Wh at 500 or more) and a
// buyer (buy 2: 100 Wh at 1000 or less): they clear at 750, 75 escrowed; 60 Wh attested, so 60
// delivered: the seller is paid 45, the buyer refunded 30 and given a penalty of 40 Wh x 750 x 10 %
// = 3 from the 5 of collateral (100 Wh x 500 x 10 %) the sell kept at clearing.
struct MarketCase {
  std::vector<Address> traders;
  std::vector<TxRecord> history;
  std::map<std::string, SentOrder> sent;
  MarketView view;
  MarketOptions rules;
  std::map<std::string, std::map<int64_t, int64_t>> exported{{"m0", {{100, 60}}}};
  static constexpr int64_t kInitial = 1000;

  MarketCase() {
    rules.zone = "Z";
    rules.initial = kInitial;
    rules.collateral_bps = rules.penalty_bps = 1000;
    for (int i = 0; i < 2; ++i) {
      const Hash256 h = Blake2b256("trader" + std::to_string(i));
      traders.push_back(AddressFromPublicKey(KeyPair::FromSeed(ByteView(h.data(), h.size())).public_key()));
    }
    Place("h1", 1, 0, false, 100, 500, Outcome::kCommitted);
    Place("h2", 2, 1, true, 100, 1000, Outcome::kCommitted);
    OrderView& sell = view.orders[1];
    sell.locked_initial = 5;
    sell.refunded = 2;
    OrderView& buy = view.orders[2];
    buy.locked_initial = 100;
    buy.refunded = 55;  // 25 above the clearing price, 30 undelivered
    const TradeView t{.index = 0, .buy_order_id = 2, .sell_order_id = 1, .meter_id = "m0", .energy_wh = 100,
                      .price = 750, .escrow = 75, .settled = true, .delivered_wh = 60, .seller_paid = 45,
                      .buyer_refund = 30, .penalty = 3};
    view.markets[100] = MarketIntervalView{"settled", 750, {t}};
    view.balances = {kInitial + 42, kInitial - 42};
    view.collateral_bps = view.penalty_bps = 1000;
    view.fingerprint = "x";
  }
  // An order its client sent (tx `hash`), on the chain as settled: filled, 60 Wh delivered, 45 paid, 3 penalty.
  void Place(const std::string& hash, uint64_t id, int who, bool buy, int64_t energy, int64_t price, Outcome outcome) {
    TxRecord r = Rec(hash, outcome, 5);
    r.kind = "place_order";
    r.created_id = outcome == Outcome::kCommitted ? id : 0;
    r.code = 0;
    history.push_back(r);
    sent[hash] = SentOrder{who, buy, 100, energy, price, buy ? "" : "m0"};
    OrderView o;
    o.id = id;
    o.owner = EncodeAddress(traders[static_cast<size_t>(who)]);
    o.side = buy ? "buy" : "sell";
    o.zone = "Z";
    o.meter_id = buy ? "" : "m0";
    o.status = "settled";
    o.interval_s = 100;
    o.energy_wh = energy;
    o.limit_price = price;
    o.filled_wh = 100;
    o.delivered_wh = 60;
    o.paid = 45;
    o.penalty = 3;
    view.orders[id] = o;
  }
  std::vector<Verdict> Check() const { return CheckMarket(history, sent, {view, view}, traders, rules, exported); }
  std::string Failing() const {
    std::string out;
    for (const Verdict& v : Check()) {
      if (!v.ok) out += v.name + ": " + v.detail + "\n";
    }
    return out;
  }
};
enum { kCycle, kClearing, kPaid, kMoney };

TEST(FaultChecker, TheMarketMustClearAndSettleEveryTradeAgainstAttestedExportAndConserveMoney) {
  MarketCase good;
  EXPECT_EQ(good.Failing(), "");

  MarketCase overpaid;  // 70 Wh paid for, 60 attested
  overpaid.view.markets[100].trades[0].delivered_wh = 70;
  EXPECT_FALSE(overpaid.Check()[kPaid].ok);
  MarketCase withheld;  // 80 Wh attested but only 60 paid for: the seller is short-changed
  withheld.exported["m0"][100] = 80;
  Verdict w = withheld.Check()[kPaid];
  EXPECT_FALSE(w.ok);
  EXPECT_NE(w.detail.find("attested 80"), std::string::npos) << w.detail;
  MarketCase beyond;  // more delivered than traded: a verdict, not undefined behaviour
  beyond.view.markets[100].trades[0].delivered_wh = 120;
  beyond.exported["m0"][100] = 200;
  EXPECT_FALSE(beyond.Check()[kPaid].ok);
  MarketCase wrong_price;  // the seller paid more than delivered x price
  wrong_price.view.markets[100].trades[0].seller_paid = 46;
  EXPECT_FALSE(wrong_price.Check()[kPaid].ok);
  MarketCase penalised;  // a penalty above its rate
  penalised.view.markets[100].trades[0].penalty = 4;
  EXPECT_FALSE(penalised.Check()[kPaid].ok);
  MarketCase spared;  // no penalty for a shortfall
  spared.view.markets[100].trades[0].penalty = 0;
  EXPECT_FALSE(spared.Check()[kPaid].ok);

  // A 50 % penalty rate: 40 Wh x 750 x 50 % = 15, capped by the 5 of collateral.
  MarketCase capped;
  capped.rules.penalty_bps = capped.view.penalty_bps = 5000;
  capped.view.markets[100].trades[0].penalty = 5;
  capped.view.orders[1].penalty = capped.view.orders[2].penalty = 5;
  capped.view.orders[1].refunded = 0;
  capped.view.balances = {MarketCase::kInitial + 40, MarketCase::kInitial - 40};
  EXPECT_EQ(capped.Failing(), "");
  MarketCase uncapped = capped;  // the rate paid whole, beyond the collateral
  uncapped.view.markets[100].trades[0].penalty = 15;
  EXPECT_FALSE(uncapped.Check()[kPaid].ok);

  // A sell of 200 Wh filled 100 (the buy takes 100): they clear at 500; the penalty rate (50 %) on
  // the 40 Wh short is 10, capped by the collateral kept at clearing on the 100 Wh filled, 5
  // (not by the 10 locked on all 200).
  MarketCase partial;
  partial.rules.penalty_bps = partial.view.penalty_bps = 5000;
  partial.sent["h1"].energy_wh = 200;
  OrderView& psell = partial.view.orders[1];
  psell.energy_wh = 200;
  psell.locked_initial = 10;
  psell.refunded = 5;
  psell.paid = 30;
  psell.penalty = 5;
  OrderView& pbuy = partial.view.orders[2];
  pbuy.locked_initial = 100;
  pbuy.refunded = 70;
  pbuy.paid = 30;
  pbuy.penalty = 5;
  partial.view.markets[100] = MarketIntervalView{
      "settled", 500,
      {TradeView{.index = 0, .buy_order_id = 2, .sell_order_id = 1, .meter_id = "m0", .energy_wh = 100, .price = 500,
                 .escrow = 50, .settled = true, .delivered_wh = 60, .seller_paid = 30, .buyer_refund = 20,
                 .penalty = 5}}};
  partial.view.balances = {MarketCase::kInitial + 25, MarketCase::kInitial - 25};
  EXPECT_EQ(partial.Failing(), "");
  MarketCase whole_lock = partial;  // the penalty taken from the collateral on all 200 Wh
  whole_lock.view.markets[100].trades[0].penalty = 10;
  EXPECT_FALSE(whole_lock.Check()[kPaid].ok);

  // A second sell on the same meter (3: 50 Wh at 500, placed after sell 1) and a buy of 150: all
  // match at 750. In arrival order sell 1 takes the 60 Wh attested and sell 3 none; its penalty
  // of 50 x 750 x 10 % = 3 is capped by its collateral of 2.
  MarketCase two;
  two.Place("h3", 3, 0, false, 50, 500, Outcome::kCommitted);
  OrderView& sell3 = two.view.orders[3];
  sell3.filled_wh = 50;
  sell3.delivered_wh = 0;
  sell3.paid = 0;
  sell3.penalty = 2;
  sell3.locked_initial = 2;
  sell3.refunded = 0;
  two.sent["h2"].energy_wh = 150;
  OrderView& buy2 = two.view.orders[2];
  buy2.energy_wh = buy2.filled_wh = 150;
  buy2.locked_initial = 150;
  buy2.refunded = 105;  // 38 above the clearing price, 30 + 37 undelivered
  buy2.penalty = 5;
  two.view.markets[100].trades.push_back(TradeView{.index = 1, .buy_order_id = 2, .sell_order_id = 3,
                                                   .meter_id = "m0", .energy_wh = 50, .price = 750, .escrow = 37,
                                                   .settled = true, .delivered_wh = 0, .seller_paid = 0,
                                                   .buyer_refund = 37, .penalty = 2});
  two.view.balances = {MarketCase::kInitial + 40, MarketCase::kInitial - 40};
  EXPECT_EQ(two.Failing(), "");
  MarketCase reversed = two;  // the later sell served first
  auto& tr = reversed.view.markets[100].trades;
  tr[0].delivered_wh = 10;
  tr[0].seller_paid = 7;
  tr[0].buyer_refund = 68;
  tr[0].penalty = 5;
  tr[1].delivered_wh = 50;
  tr[1].seller_paid = 37;
  tr[1].buyer_refund = 0;
  tr[1].penalty = 0;
  EXPECT_FALSE(reversed.Check()[kPaid].ok);

  MarketCase repriced;  // a clearing price the orders do not give, its trade at that price
  repriced.view.markets[100].clearing_price = 760;
  repriced.view.markets[100].trades[0].price = 760;
  EXPECT_FALSE(repriced.Check()[kClearing].ok);
  MarketCase elsewhere;  // the trade on another meter than its sell's
  elsewhere.view.markets[100].trades[0].meter_id = "m1";
  EXPECT_FALSE(elsewhere.Check()[kClearing].ok);
  MarketCase unmatched;  // a cancelled order that still traded
  unmatched.view.orders[2].status = "cancelled";
  EXPECT_FALSE(unmatched.Check()[kClearing].ok);

  MarketCase appeared;  // the seller holds one unit more than its orders leave it
  appeared.view.balances[0] += 1;
  EXPECT_FALSE(appeared.Check()[kMoney].ok);
  MarketCase kept;  // the escrow account holds what no order locks
  kept.view.module_balance = 1;
  EXPECT_FALSE(kept.Check()[kMoney].ok);
  MarketCase unbalanced;  // an order's totals disagree with its trades
  unbalanced.view.orders[1].paid = 44;
  EXPECT_FALSE(unbalanced.Check()[kMoney].ok);
  MarketCase leaked;  // collateral neither paid out nor refunded
  leaked.view.orders[1].refunded = 1;
  EXPECT_FALSE(leaked.Check()[kMoney].ok);
  MarketCase overlocked;  // a buy that escrowed more than its energy at its limit (all of it refunded)
  overlocked.view.orders[2].locked_initial = 101;
  overlocked.view.orders[2].refunded = 56;
  EXPECT_FALSE(overlocked.Check()[kMoney].ok);
  MarketCase rerated;  // the chain runs another penalty rate than genesis set
  rerated.view.penalty_bps = 2000;
  EXPECT_FALSE(rerated.Check()[kMoney].ok);

  MarketCase open;  // settlement due but the market never settled
  open.view.markets[100].status = "cleared";
  EXPECT_FALSE(open.Check()[kCycle].ok);
  MarketCase still_locked;  // an order still holding funds
  still_locked.view.orders[2].status = "matched";
  EXPECT_FALSE(still_locked.Check()[kCycle].ok);
  MarketCase lost_cancel;  // a cancel acknowledged but the order went on to trade
  TxRecord cancel = Rec("h4", Outcome::kCommitted, 6);
  cancel.kind = "cancel_order";
  cancel.created_id = 2;
  lost_cancel.history.push_back(cancel);
  EXPECT_FALSE(lost_cancel.Check()[kCycle].ok);
  MarketCase altered;  // the chain's order is not what its client signed
  altered.sent["h2"].energy_wh = 101;
  EXPECT_FALSE(altered.Check()[kCycle].ok);
  MarketCase lost;  // an acknowledged order missing from the chain
  lost.view.orders.erase(2);
  EXPECT_FALSE(lost.Check()[kCycle].ok);
  MarketCase unknown;  // an order from a tx whose outcome was unknown: on the chain once is fine
  unknown.Place("h9", 9, 1, true, 20, 100, Outcome::kUnknown);
  unknown.view.orders[9].status = "expired";
  unknown.view.orders[9].filled_wh = unknown.view.orders[9].delivered_wh = 0;
  unknown.view.orders[9].paid = unknown.view.orders[9].penalty = 0;
  unknown.view.orders[9].locked_initial = unknown.view.orders[9].refunded = 2;
  EXPECT_EQ(unknown.Failing(), "");
  MarketCase invented = unknown;  // an order no client sent
  invented.history.pop_back();
  EXPECT_FALSE(invented.Check()[kCycle].ok);
  // Two nodes disagree.
  std::vector<MarketView> views{good.view, good.view};
  views[1].fingerprint = "y";
  EXPECT_FALSE(CheckMarket(good.history, good.sent, views, good.traders, good.rules, good.exported)[kCycle].ok);
  MarketCase idle;  // no trade: nothing went through a whole cycle
  idle.view.markets[100].trades.clear();
  EXPECT_FALSE(idle.Check()[kCycle].ok);
}

}  // namespace
}  // namespace v2g::faults
