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
  std::map<uint64_t, SentReading> meter;
  for (uint64_t seq = 1; seq <= 4; ++seq) {
    SentReading r;
    r.seq = seq;
    r.import_wh_total = 100 + 10 * static_cast<int64_t>(seq);  // 110, 120, 130, 140
    r.export_wh_total = 7 * static_cast<int64_t>(seq);         // 7, 14, 21, 28
    r.signatures = {"sig" + std::to_string(seq)};
    r.told_accepted = seq <= 3;
    meter[seq] = r;
  }
  MeterOnChain good;  // the chain accepted 1..3: 20 Wh above the baseline
  good.readings_accepted = 3;
  good.last_seq = 3;
  good.last_import_wh_total = 130;
  good.last_signature = "sig3";
  good.attested_import_wh = 15;
  good.unattributed_import_wh = 5;
  good.last_export_wh_total = 21;
  good.attested_export_wh = 14;
  good.export_by_interval = {{100, 14}};
  EXPECT_TRUE(CheckMeters({meter}, {{good}, {good}}).ok);
  // Reading 3 made again over a fresh span (its interval settled first): either version may be the
  // chain's, registers alike.
  meter[3].signatures.push_back("sig3b");
  MeterOnChain remade = good;
  remade.last_signature = "sig3b";
  EXPECT_TRUE(CheckMeters({meter}, {{remade}}).ok);
  EXPECT_TRUE(CheckMeters({meter}, {{good}}).ok);
  MeterOnChain exported = good;  // export out of nowhere
  exported.attested_export_wh = 15;
  EXPECT_FALSE(CheckMeters({meter}, {{exported}}).ok);
  MeterOnChain elsewhere = good;  // the same export, but nodes disagree on its interval
  elsewhere.export_by_interval = {{110, 14}};
  EXPECT_FALSE(CheckMeters({meter}, {{good}, {elsewhere}}).ok);

  MeterOnChain more = good;  // energy out of nowhere
  more.attested_import_wh = 16;
  EXPECT_FALSE(CheckMeters({meter}, {{more}}).ok);
  MeterOnChain forged = good;  // a reading the meter never signed
  forged.last_signature = "sigX";
  EXPECT_FALSE(CheckMeters({meter}, {{forged}}).ok);
  MeterOnChain lost = good;  // an acknowledged reading missing
  lost.readings_accepted = 2;
  lost.last_seq = 2;
  lost.last_import_wh_total = 120;
  lost.last_signature = "sig2";
  lost.attested_import_wh = 10;
  lost.unattributed_import_wh = 0;
  lost.last_export_wh_total = 14;
  lost.attested_export_wh = 7;
  Verdict v = CheckMeters({meter}, {{lost}});
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.detail.find("acknowledged"), std::string::npos) << v.detail;
  MeterOnChain twice = good;  // a seq counted twice
  twice.readings_accepted = 4;
  EXPECT_FALSE(CheckMeters({meter}, {{twice}}).ok);
  EXPECT_FALSE(CheckMeters({meter}, {{good}, {more}}).ok) << "one node of two wrong";
}

// One market (interval 100) of a seller (meter m0) and a buyer: 100 Wh traded at 750 per kWh,
// 60 Wh attested, so 60 delivered: seller paid 45 of the escrow 75, buyer refunded 30 and
// given a penalty of 40 Wh x 750 x 10 % = 3 from the seller's collateral of 5.
struct MarketCase {
  std::vector<Address> traders;
  std::vector<TxRecord> history;
  std::map<std::string, SentOrder> sent;
  MarketView view;
  std::map<std::string, std::map<int64_t, int64_t>> exported{{"m0", {{100, 60}}}};
  static constexpr int64_t kInitial = 1000;

  MarketCase() {
    for (int i = 0; i < 2; ++i) {
      const Hash256 h = Blake2b256("trader" + std::to_string(i));
      traders.push_back(AddressFromPublicKey(KeyPair::FromSeed(ByteView(h.data(), h.size())).public_key()));
    }
    auto place = [&](const std::string& hash, uint64_t id, int who, bool buy, int64_t energy, int64_t price) {
      TxRecord r = Rec(hash, Outcome::kCommitted, 5);
      r.kind = "place_order";
      r.created_id = id;
      r.code = 0;
      history.push_back(r);
      sent[hash] = SentOrder{who, buy, 100, energy, price, buy ? "" : "m0"};
      OrderView o;
      o.id = id;
      o.owner = EncodeAddress(traders[static_cast<size_t>(who)]);
      o.side = buy ? "buy" : "sell";
      o.meter_id = buy ? "" : "m0";
      o.status = "settled";
      o.interval_s = 100;
      o.energy_wh = energy;
      o.limit_price = price;
      o.filled_wh = 100;
      o.delivered_wh = 60;
      o.paid = 45;
      o.penalty = 3;
      o.locked_initial = buy ? 150 : 5;
      o.refunded = buy ? 105 : 2;
      view.orders[id] = o;
    };
    place("h1", 1, 0, false, 100, 500);
    place("h2", 2, 1, true, 150, 1000);
    TradeView t;
    t.buy_order_id = 2;
    t.sell_order_id = 1;
    t.meter_id = "m0";
    t.energy_wh = 100;
    t.price = 750;
    t.escrow = 75;
    t.settled = true;
    t.delivered_wh = 60;
    t.seller_paid = 45;
    t.buyer_refund = 30;
    t.penalty = 3;
    view.markets[100] = MarketIntervalView{"settled", 750, {t}};
    view.balances = {kInitial + 42, kInitial - 42};
    view.penalty_bps = 1000;
    view.fingerprint = "x";
  }
  std::vector<Verdict> Check() const { return CheckMarket(history, sent, {view, view}, traders, kInitial, exported); }
};

bool AllOk(const std::vector<Verdict>& vs) {
  for (const Verdict& v : vs) {
    if (!v.ok) return false;
  }
  return vs.size() == 3;
}

TEST(FaultChecker, TheMarketMustSettleEveryTradeAgainstAttestedExportAndConserveMoney) {
  MarketCase good;
  for (const Verdict& v : good.Check()) EXPECT_TRUE(v.ok) << v.name << ": " << v.detail;

  MarketCase overpaid;  // 70 Wh paid for, 60 attested
  overpaid.view.markets[100].trades[0].delivered_wh = 70;
  EXPECT_FALSE(overpaid.Check()[1].ok);
  MarketCase withheld;  // 80 Wh attested but only 60 paid for: the seller is short-changed
  withheld.exported["m0"][100] = 80;
  Verdict w = withheld.Check()[1];
  EXPECT_FALSE(w.ok);
  EXPECT_NE(w.detail.find("attested 80"), std::string::npos) << w.detail;
  MarketCase wrong_price;  // the seller paid more than delivered x price
  wrong_price.view.markets[100].trades[0].seller_paid = 46;
  EXPECT_FALSE(wrong_price.Check()[1].ok);
  MarketCase penalised;  // a penalty above its rate
  penalised.view.markets[100].trades[0].penalty = 4;
  EXPECT_FALSE(penalised.Check()[1].ok);

  MarketCase appeared;  // the seller holds one unit more than its orders leave it
  appeared.view.balances[0] += 1;
  EXPECT_FALSE(appeared.Check()[2].ok);
  MarketCase kept;  // the escrow account holds what no order locks
  kept.view.module_balance = 1;
  EXPECT_FALSE(kept.Check()[2].ok);
  MarketCase unbalanced;  // an order's totals disagree with its trades
  unbalanced.view.orders[1].paid = 44;
  EXPECT_FALSE(unbalanced.Check()[2].ok);

  MarketCase open;  // settlement due but the market never settled
  open.view.markets[100].status = "cleared";
  open.view.orders[2].status = "matched";
  EXPECT_FALSE(open.Check()[0].ok);
  MarketCase lost_cancel;  // a cancel acknowledged but the order went on to trade
  TxRecord cancel = Rec("h3", Outcome::kCommitted, 6);
  cancel.kind = "cancel_order";
  cancel.created_id = 2;
  lost_cancel.history.push_back(cancel);
  EXPECT_FALSE(lost_cancel.Check()[0].ok);
  MarketCase altered;  // the chain's order is not what its client signed
  altered.sent["h2"].energy_wh = 151;
  EXPECT_FALSE(altered.Check()[0].ok);
  // Two nodes disagree.
  std::vector<MarketView> views{good.view, good.view};
  views[1].fingerprint = "y";
  EXPECT_FALSE(CheckMarket(good.history, good.sent, views, good.traders, MarketCase::kInitial, good.exported)[0].ok);
  MarketCase idle;  // no trade: nothing went through a whole cycle
  idle.view.markets[100].trades.clear();
  EXPECT_FALSE(AllOk(idle.Check()));
  EXPECT_FALSE(idle.Check()[0].ok);
}

}  // namespace
}  // namespace v2g::faults
