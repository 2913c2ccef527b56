// wallet/market.h: prices and delivery intervals as a person types them, the market parameters
// a node reports, and the formatting of the market commands' tables.
#include "wallet/market.h"

#include <gtest/gtest.h>

#include "common/limits.h"
#include "genesis/genesis.h"
#include "tests/wallet/test_util.h"

namespace v2g {
namespace {

using nlohmann::json;

constexpr int64_t kT = 1767225600;  // 2026-01-01T00:00:00Z, an interval start

MarketParams Cny() {
  MarketParams p = test::CnyMarketParams();
  p.horizon_s = 86400;
  p.grace_s = 300;
  p.collateral_bps = 1000;
  p.penalty_bps = 1000;
  return p;
}

::testing::AssertionResult FailsWith(const Status& st, Code code, const std::string& part) {
  if (st.ok()) return ::testing::AssertionFailure() << "succeeded";
  if (st.code() != code)
    return ::testing::AssertionFailure() << "code " << CodeName(st.code()) << ": " << st.message();
  if (st.message().find(part) == std::string::npos) {
    return ::testing::AssertionFailure() << "'" << st.message() << "' lacks '" << part << "'";
  }
  return ::testing::AssertionSuccess();
}
template <typename T>
::testing::AssertionResult FailsWith(const Result<T>& r, Code code, const std::string& part) {
  return FailsWith(r.ok() ? Status::Ok() : r.status(), code, part);
}

TEST(MarketPrice, HumanUnitsPerKwhBecomeMinimalUnits) {
  const MarketParams p = Cny();
  EXPECT_EQ(*ParsePricePerKwh("0.85", p), 85);
  EXPECT_EQ(*ParsePricePerKwh("1", p), 100);
  EXPECT_EQ(*ParsePricePerKwh("1.5", p), 150);
  EXPECT_EQ(*ParsePricePerKwh("0.01", p), 1);
  EXPECT_TRUE(FailsWith(
      ParsePricePerKwh("0.855", p), Code::kInvalidArgument,
      "--price '0.855' has more than 2 decimal places (a price in CNY per kWh, 2 decimals)"));
  EXPECT_TRUE(FailsWith(ParsePricePerKwh("0", p), Code::kInvalidArgument,
                        "--price must be greater than zero"));
  EXPECT_TRUE(FailsWith(ParsePricePerKwh("0.00", p), Code::kInvalidArgument, "greater than zero"));
  EXPECT_TRUE(FailsWith(ParsePricePerKwh("-1", p), Code::kInvalidArgument,
                        "'-1' is not a plain decimal number"));
  EXPECT_TRUE(
      FailsWith(ParsePricePerKwh("+1", p), Code::kInvalidArgument, "not a plain decimal number"));
  EXPECT_TRUE(FailsWith(ParsePricePerKwh("abc", p), Code::kInvalidArgument,
                        "'abc' is not a plain decimal number"));
  EXPECT_TRUE(
      FailsWith(ParsePricePerKwh("1e3", p), Code::kInvalidArgument, "not a plain decimal number"));
  EXPECT_TRUE(
      FailsWith(ParsePricePerKwh("0,85", p), Code::kInvalidArgument, "not a plain decimal number"));
  EXPECT_TRUE(FailsWith(ParsePricePerKwh("", p), Code::kInvalidArgument, "--price is empty"));
  EXPECT_TRUE(
      FailsWith(ParsePricePerKwh(".5", p), Code::kInvalidArgument, "no digits before the point"));
  EXPECT_TRUE(
      FailsWith(ParsePricePerKwh("5.", p), Code::kInvalidArgument, "no digits after the point"));
  EXPECT_TRUE(FailsWith(ParsePricePerKwh("10000000000.01", p), Code::kInvalidArgument,
                        "above the maximum of 10000000000.00 CNY/kWh"));
  EXPECT_TRUE(
      FailsWith(ParsePricePerKwh("99999999999999999999", p), Code::kInvalidArgument, "too large"));
  EXPECT_EQ(*ParsePricePerKwh("1.5", p, "--limit"), 150);
  EXPECT_TRUE(
      FailsWith(ParsePricePerKwh("x", p, "--limit"), Code::kInvalidArgument, "--limit 'x'"));
  MarketParams whole = p;
  whole.denom = "PTS";
  whole.decimals = 0;
  EXPECT_EQ(*ParsePricePerKwh("7", whole), 7);
  EXPECT_TRUE(FailsWith(ParsePricePerKwh("7.5", whole), Code::kInvalidArgument,
                        "more than 0 decimal places"));
}

TEST(MarketEnergy, Bounds) {
  EXPECT_TRUE(CheckEnergyWh(1).ok());
  EXPECT_TRUE(CheckEnergyWh(limits::kOrderEnergyWhMax).ok());
  EXPECT_TRUE(FailsWith(CheckEnergyWh(0), Code::kInvalidArgument,
                        "--energy-wh must be 1..1000000000 (Wh), got 0"));
  EXPECT_TRUE(FailsWith(CheckEnergyWh(-5), Code::kInvalidArgument, "got -5"));
  EXPECT_TRUE(FailsWith(CheckEnergyWh(limits::kOrderEnergyWhMax + 1), Code::kInvalidArgument,
                        "--energy-wh"));
}

TEST(MarketInterval, UnixSecondsAndRfc3339MustBeIntervalStarts) {
  const MarketParams p = Cny();
  EXPECT_EQ(*ResolveInterval(std::to_string(kT + 3600), p, 0), kT + 3600);
  EXPECT_EQ(*ResolveInterval("2026-01-01T01:00:00Z", p, 0), kT + 3600);
  EXPECT_EQ(*ResolveInterval("2026-01-01T01:15:00.000Z", p, 0), kT + 4500);
  EXPECT_TRUE(FailsWith(
      ResolveInterval(std::to_string(kT + 3601), p, 0), Code::kInvalidArgument,
      "--interval 1767229201 is not the start of a 900 s delivery interval: the one containing it "
      "starts at 1767229200 (2026-01-01 01:00:00Z), the next at 1767230100 (2026-01-01 "
      "01:15:00Z)"));
  EXPECT_TRUE(FailsWith(ResolveInterval("2026-01-01T01:05:00Z", p, 0), Code::kInvalidArgument,
                        "the one containing it starts at 1767229200"));
  EXPECT_TRUE(FailsWith(ResolveInterval("2026-01-01T01:00:00.500Z", p, 0), Code::kInvalidArgument,
                        "not a whole second"));
  EXPECT_TRUE(FailsWith(ResolveInterval("2026-02-30T01:00:00Z", p, 0), Code::kInvalidArgument,
                        "--interval: '2026-02-30T01:00:00Z' is not an RFC 3339 time"));
  // A local time names the same instant as its UTC form.
  EXPECT_EQ(*ResolveInterval("2026-01-01T09:00:00+08:00", p, 0), *ResolveInterval("2026-01-01T01:00:00Z", p, 0));
  EXPECT_TRUE(FailsWith(ResolveInterval("0", p, 0), Code::kInvalidArgument,
                        "--interval must be a positive Unix time"));
  EXPECT_TRUE(FailsWith(ResolveInterval("-900", p, 0), Code::kInvalidArgument, "is not a time"));
  EXPECT_TRUE(FailsWith(ResolveInterval("99999999999999", p, 0), Code::kInvalidArgument,
                        "not a Unix time in seconds"));
  EXPECT_TRUE(FailsWith(
      ResolveInterval("tomorrow", p, 0), Code::kInvalidArgument,
      "--interval 'tomorrow' is not a time: give an RFC 3339 time (e.g. 2026-01-01T09:00:00+08:00 or "
      "2026-01-01T01:00:00Z) or Unix seconds (e.g. 1767229200), next or next+K"));
  EXPECT_TRUE(FailsWith(ResolveInterval("", p, 0), Code::kInvalidArgument, "is not a time"));
  EXPECT_TRUE(
      FailsWith(ResolveInterval("1.5", p, 0, "--from"), Code::kInvalidArgument, "--from '1.5'"));
}

TEST(MarketInterval, NextIsTheFirstWhoseGateIsAtLeastTenSecondsAway) {
  const MarketParams p = Cny();  // 900 s intervals, gate 300 s before
  // Latest block at 00:00:00: the 00:15 interval's gate (00:10) is 10 min away.
  EXPECT_EQ(NextIntervalStart(p, kT * 1000), kT + 900);
  EXPECT_EQ(*ResolveInterval("next", p, kT * 1000), kT + 900);
  // At 00:09:50 exactly 10 s are left before the 00:15 gate: still that one.
  EXPECT_EQ(NextIntervalStart(p, (kT + 590) * 1000), kT + 900);
  // A millisecond later, less than 10 s are left: the 00:30 interval.
  EXPECT_EQ(NextIntervalStart(p, (kT + 590) * 1000 + 1), kT + 1800);
  EXPECT_EQ(NextIntervalStart(p, (kT + 599) * 1000), kT + 1800);
  EXPECT_EQ(*ResolveInterval("next+0", p, kT * 1000), kT + 900);
  EXPECT_EQ(*ResolveInterval("next+1", p, kT * 1000), kT + 1800);
  EXPECT_EQ(*ResolveInterval("next+96", p, kT * 1000), kT + 900 + 96 * 900);
  EXPECT_EQ(*ResolveInterval(std::string("next+") + std::to_string(kNextOffsetMax), p, kT * 1000),
            kT + 900 + kNextOffsetMax * 900);
  for (const char* bad :
       {"next+", "next-1", "next+x", "next1", "next+ 1", "next+673", "next+99999", "nextt"}) {
    EXPECT_TRUE(FailsWith(ResolveInterval(bad, p, kT * 1000), Code::kInvalidArgument,
                          "must be next or next+K with K from 0 to 672"))
        << bad;
  }
  // Without a gate lead the margin alone counts.
  MarketParams no_gate = p;
  no_gate.gate_closure_s = 0;
  EXPECT_EQ(NextIntervalStart(no_gate, (kT + 889) * 1000), kT + 900);
  EXPECT_EQ(NextIntervalStart(no_gate, (kT + 891) * 1000), kT + 1800);
}

TEST(MarketTime, RangeBoundsForResults) {
  EXPECT_EQ(*ParseTimeS("1767225600", "--from"), kT);
  EXPECT_EQ(*ParseTimeS("2026-01-01T00:00:00Z", "--from"), kT);
  EXPECT_EQ(*ParseTimeS("1767225601", "--to"), kT + 1);  // no alignment needed for a range
  EXPECT_TRUE(FailsWith(
      ParseTimeS("next", "--from"), Code::kInvalidArgument,
      "--from 'next' is not a time: give an RFC 3339 time (e.g. 2026-01-01T09:00:00+08:00 or "
      "2026-01-01T01:00:00Z) or Unix seconds (e.g. 1767229200)"));
}

TEST(MarketLock, AsTheChainComputesIt) {
  const MarketParams p = Cny();
  EXPECT_EQ(*OrderLock(false, 3000, 100, p), 300);  // 3 kWh at 1.00: 3.00 escrow
  EXPECT_EQ(*OrderLock(true, 2000, 90, p), 18);     // 10 % of 1.80
  EXPECT_EQ(*OrderLock(false, 333, 85, p), 28);     // floor(28.305)
  EXPECT_EQ(*OrderLock(true, 1, 1, p), 0);
  EXPECT_FALSE(OrderLock(false, INT64_MAX, INT64_MAX, p).has_value());
}

TEST(MarketFormat, PricesEnergyTimesAndTables) {
  const MarketParams p = Cny();
  EXPECT_EQ(FormatPrice(85, p), "0.85 CNY/kWh");
  EXPECT_EQ(FormatMoney(1250, p), "12.50 CNY");
  EXPECT_EQ(FormatKwh(2500), "2.500 kWh");
  EXPECT_EQ(FormatKwh(7), "0.007 kWh");
  EXPECT_EQ(FormatTimeS(kT + 3600), "2026-01-01 01:00:00Z");
  EXPECT_EQ(
      FormatTable({{"ID", "SIDE", "PRICE"}, {"1", "buy", "1.00"}, {"12", "sell", "10.50"}}, {0, 2}),
      "ID  SIDE  PRICE\n"
      " 1  buy    1.00\n"
      "12  sell  10.50\n");
  // Short rows and empty trailing cells leave no trailing spaces.
  EXPECT_EQ(FormatTable({{"A", "B", "C"}, {"x"}, {"y", "", ""}}), "A  B  C\nx\ny\n");
  EXPECT_EQ(FormatTable({}), "");
}

TEST(MarketParamsJson, ReadFromTheNodesParams) {
  json j = {{"settlement_interval_s", 900},
            {"market",
             {{"enabled", true},
              {"denom", "CNY"},
              {"decimals", 2},
              {"interval_s", 900},
              {"gate_closure_s", 300},
              {"horizon_s", 86400},
              {"grace_s", 300},
              {"collateral_bps", 1000},
              {"penalty_bps", 500}}}};
  auto p = MarketParamsFromJson(j);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->enabled);
  EXPECT_EQ(p->denom, "CNY");
  EXPECT_EQ(p->decimals, 2u);
  EXPECT_EQ(p->interval_s, 900);
  EXPECT_EQ(p->gate_closure_s, 300);
  EXPECT_EQ(p->horizon_s, 86400);
  EXPECT_EQ(p->grace_s, 300);
  EXPECT_EQ(p->collateral_bps, 1000);
  EXPECT_EQ(p->penalty_bps, 500);
  EXPECT_TRUE(
      FailsWith(MarketParamsFromJson(json::object()), Code::kMalformed, "no 'market' object"));
  json missing = j;
  missing["market"].erase("gate_closure_s");
  EXPECT_TRUE(
      FailsWith(MarketParamsFromJson(missing), Code::kMalformed, "'gate_closure_s' is missing"));
  json bad = j;
  bad["market"]["interval_s"] = 0;
  EXPECT_TRUE(FailsWith(MarketParamsFromJson(bad), Code::kMalformed, "out of range"));
  bad = j;
  bad["market"]["decimals"] = 40;
  EXPECT_TRUE(FailsWith(MarketParamsFromJson(bad), Code::kMalformed, "decimals"));
}

// A node without a market, and the market's error codes through the client.
TEST(MarketClient, DisabledMarketAndMarketErrorCodes) {
  test::FakeNode node;
  node.server().Get("/v1/params", [](const httplib::Request&, httplib::Response& res) {
    test::ReplyJson(res, 200,
                    {{"market",
                      {{"enabled", false},
                       {"denom", ""},
                       {"decimals", 0},
                       {"interval_s", 900},
                       {"gate_closure_s", 300},
                       {"horizon_s", 86400},
                       {"grace_s", 300},
                       {"collateral_bps", 1000},
                       {"penalty_bps", 1000}}}});
  });
  node.server().Get("/v1/markets", [](const httplib::Request&, httplib::Response& res) {
    test::ReplyJson(res, 400, test::ApiError("gate_closed", 121, "gate closure was at 1"));
  });
  node.server().Get("/v1/status", [](const httplib::Request&, httplib::Response& res) {
    test::ReplyJson(res, 200,
                    {{"chain_id", "c"},
                     {"latest_height", 3},
                     {"latest_block_time", "2026-01-01T00:00:01.500Z"}});
  });
  node.Start();
  auto client = ApiClient::Create(node.url());
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE(FailsWith(FetchMarket(*client), Code::kMarketDisabled, "has no energy market"));
  auto err = client->GetJson("/v1/markets");
  EXPECT_TRUE(FailsWith(err, Code::kGateClosed, "gate_closed: gate closure was at 1"));
  // A node that reports only the RFC 3339 block time.
  auto st = client->GetStatus();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->latest_block_time_ms, kT * 1000 + 1500);
}

}  // namespace
}  // namespace v2g
