// The fault harness's pure parts: schedules replay from their seed, and the checker catches each
// kind of broken promise it is there to catch (a lost acknowledged tx, a refused tx that
// committed, a tx committed twice, a fork, money that appeared or vanished).
#include <gtest/gtest.h>

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
    r.signature = "sig" + std::to_string(seq);
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
  EXPECT_TRUE(CheckMeters({meter}, {{good}, {good}}).ok);

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
  Verdict v = CheckMeters({meter}, {{lost}});
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.detail.find("acknowledged"), std::string::npos) << v.detail;
  MeterOnChain twice = good;  // a seq counted twice
  twice.readings_accepted = 4;
  EXPECT_FALSE(CheckMeters({meter}, {{twice}}).ok);
  EXPECT_FALSE(CheckMeters({meter}, {{good}, {more}}).ok) << "one node of two wrong";
}

}  // namespace
}  // namespace v2g::faults
