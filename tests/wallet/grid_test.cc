// Parsing what a person types for grid services (hours, tariff prices, percentages, kW, kWh,
// budgets) and the `v2g earnings` statement built from a node's answer plus battery wear.
#include "wallet/grid.h"

#include <gtest/gtest.h>

#include "common/limits.h"
#include "tests/wallet/test_util.h"

namespace v2g {
namespace {

using nlohmann::json;

MarketParams Cny() { return test::CnyMarketParams(); }

bool Has(const Status& s, const std::string& text) { return s.message().find(text) != std::string::npos; }

TEST(GridParse, HoursAreInclusiveRangesInUtc) {
  EXPECT_EQ(*ParseHours("0-6,22-23"), 0x7Fu | (1u << 22) | (1u << 23));
  EXPECT_EQ(*ParseHours("18"), 1u << 18);
  EXPECT_EQ(*ParseHours("all"), (1u << 24) - 1);
  EXPECT_EQ(*ParseHours("3,3,2-4"), 0x1Cu);  // overlaps merge
  EXPECT_EQ(FormatHours(*ParseHours("0-6,22-23")), "0-6,22-23");
  EXPECT_EQ(FormatHours(*ParseHours("5,7")), "5,7");
  EXPECT_EQ(FormatHours(0), "none");
  EXPECT_EQ(FormatHours((1u << 24) - 1), "all");
  for (const char* bad : {"", "24", "0-24", "a", "1-", "-3", "1,,2", "1.5", "-1"}) {
    auto r = ParseHours(bad, "--hours");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(Has(r.status(), "--hours")) << r.status().message();
  }
  auto wrap = ParseHours("22-5");
  ASSERT_FALSE(wrap.ok());
  EXPECT_TRUE(Has(wrap.status(), "split it at midnight")) << wrap.status().message();
}

TEST(GridParse, TariffPricesFromAListOrFlatWithPeaks) {
  std::string list;
  for (int h = 0; h < 24; ++h) list += (h ? "," : "") + std::string(h >= 18 && h <= 21 ? "1.2" : "0.6");
  auto a = ParseTariffPrices(list, "", {}, Cny());
  ASSERT_TRUE(a.ok()) << a.status().message();
  auto b = ParseTariffPrices("", "0.60", {"18-21:1.20"}, Cny());
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(*a, *b);
  EXPECT_EQ((*b)[17], 60);
  EXPECT_EQ((*b)[18], 120);
  EXPECT_EQ((*b)[21], 120);
  EXPECT_EQ((*b)[22], 60);
  // Later windows win; zero is a valid tariff price (free hours).
  auto c = ParseTariffPrices("", "0.5", {"0-23:1", "2-3:0"}, Cny());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)[2], 0);
  EXPECT_EQ((*c)[4], 100);

  EXPECT_TRUE(Has(ParseTariffPrices("", "", {}, Cny()).status(), "--prices"));
  EXPECT_TRUE(Has(ParseTariffPrices(list, "0.5", {}, Cny()).status(), "not both"));
  EXPECT_TRUE(Has(ParseTariffPrices("0.5,0.5", "", {}, Cny()).status(), "24 hourly prices"));
  EXPECT_TRUE(Has(ParseTariffPrices(list, "", {"1:1"}, Cny()).status(), "--peak goes with --flat"));
  EXPECT_TRUE(Has(ParseTariffPrices("", "0.5", {"18-21"}, Cny()).status(), "HOURS:PRICE"));
  EXPECT_TRUE(Has(ParseTariffPrices("", "0.5", {"18-25:1"}, Cny()).status(), "--peak"));
  EXPECT_TRUE(Has(ParseTariffPrices("", "0.555", {}, Cny()).status(), "--flat"));
  EXPECT_TRUE(Has(ParseTariffPrices("", "-1", {}, Cny()).status(), "--flat"));
  std::string bad_hour = list;
  bad_hour.replace(bad_hour.rfind(','), std::string::npos, ",x");
  EXPECT_TRUE(Has(ParseTariffPrices(bad_hour, "", {}, Cny()).status(), "hour 23"));
  EXPECT_TRUE(ParseTariffPrice("0", Cny(), "--export-price").ok());
  EXPECT_EQ(*ParseTariffPrice("0.00", Cny(), "--export-price"), 0);
  EXPECT_EQ(*ParseTariffPrice("0.35", Cny(), "--export-price"), 35);
}

TEST(GridParse, PercentKwKwhAndBudgets) {
  EXPECT_EQ(*ParsePercentBps("5", "--fee-percent"), 500);
  EXPECT_EQ(*ParsePercentBps("2.5", "--fee-percent"), 250);
  EXPECT_EQ(*ParsePercentBps("0", "--fee-percent"), 0);
  EXPECT_EQ(*ParsePercentBps("100", "--fee-percent"), 10000);
  for (const char* bad : {"100.01", "1.234", "-1", "5%", ""}) {
    auto r = ParsePercentBps(bad, "--fee-percent");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(Has(r.status(), "--fee-percent")) << r.status().message();
  }
  EXPECT_EQ(*ParseKw("7.4", "--power-kw"), 7400);
  EXPECT_EQ(*ParseKw("0.001", "--power-kw"), 1);
  EXPECT_TRUE(Has(ParseKw("0", "--power-kw").status(), "--power-kw"));
  EXPECT_TRUE(Has(ParseKw("1.0001", "--power-kw").status(), "3 decimals"));
  EXPECT_TRUE(Has(ParseKw("100001", "--target-kw").status(), "--target-kw"));
  EXPECT_EQ(*ParseKwh("3.5", "--baseline-kwh"), 3500);
  EXPECT_EQ(*ParseKwh("0", "--baseline-kwh"), 0);
  EXPECT_EQ(*ParseBudget("500", 2, "CNY", "--budget"), 50000);
  EXPECT_TRUE(Has(ParseBudget("0", 2, "CNY", "--budget").status(), "--budget"));
  EXPECT_TRUE(Has(ParseBudget("1.001", 2, "CNY", "--budget").status(), "CNY"));
  EXPECT_EQ(FormatKw(7400), "7.400 kW");
  EXPECT_EQ(FormatBps(250), "2.50 %");
}

TEST(GridParse, TimesAcceptUnixRfc3339AndNext) {
  EXPECT_EQ(*ResolveTime("1767229200", Cny(), 0, "--deadline"), 1767229200);
  EXPECT_EQ(*ResolveTime("2026-01-01T01:00:00Z", Cny(), 0, "--deadline"), 1767229200);
  const int64_t latest_ms = int64_t{1767229200} * 1000;
  EXPECT_EQ(*ResolveTime("next", Cny(), latest_ms, "--deadline"), NextIntervalStart(Cny(), latest_ms));
  EXPECT_EQ(*ResolveTime("next+2", Cny(), latest_ms, "--deadline"), NextIntervalStart(Cny(), latest_ms) + 1800);
  EXPECT_TRUE(Has(ResolveTime("soon", Cny(), 0, "--deadline").status(), "--deadline"));
}

json Money(int64_t v) { return {{"denom", "CNY"}, {"amount", std::to_string(v)}, {"display", "x"}}; }

json Answer() {
  return {{"tiers",
           {{"market_revenue", Money(12000)},
            {"market_penalty", Money(300)},
            {"market_spent", Money(0)},
            {"event_payout", Money(2500)},
            {"subsidy", Money(400)},
            {"tariff_charge", Money(5200)},
            {"feed_in", Money(150)},
            {"debt_incurred", Money(700)}}},
          {"points", {{"denom", "PTS"}, {"amount", "35"}}},
          {"debts", json::array({{{"denom", "CNY"}, {"amount", "500"}, {"creditor", "v2g1x"}}})}};
}

TEST(Earnings, StatementFromTheNodesAnswer) {
  auto s = StatementFromJson(Answer());
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->market_revenue, 12000);
  EXPECT_EQ(s->event_payout, 2500);
  EXPECT_EQ(s->points, 35);
  EXPECT_EQ(s->debt_incurred, 700);
  EXPECT_EQ(s->debt_outstanding, 500);
  // 120 + 25 + 4 + 1.50 - 3 - 0 - 52 = 95.50
  EXPECT_EQ(s->CashNet(), 9550);
  json bad = Answer();
  bad["tiers"]["feed_in"] = "lots";
  EXPECT_TRUE(Has(StatementFromJson(bad).status(), "feed_in"));
  EXPECT_FALSE(StatementFromJson(json::array()).ok());
}

TEST(Earnings, TextReadsLikeAStatement) {
  const Statement s = *StatementFromJson(Answer());
  const std::vector<WearLine> wear = {{"ev-bob", 20'000, 42, 834}};
  const std::string text = FormatEarnings("bob (v2g1b)", "From A to B", s, wear, {"ev-old"}, Cny(), "35 PTS");
  EXPECT_NE(text.find("Statement for bob (v2g1b)\nFrom A to B\n"), std::string::npos) << text;
  // Every amount ends in the same column with the denomination.
  for (const char* line : {"  Market sales              120.00 CNY\n",
                           "  Demand-response payouts    25.00 CNY\n",
                           "  Delivery penalties         -3.00 CNY\n",
                           "  Cash net                   95.50 CNY\n",
                           "  Total wear                 -8.34 CNY\n",
                           "  Net after battery wear     87.16 CNY\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "in\n" << text;
  }
  EXPECT_NE(text.find("  Tariff charges            -52.00 CNY   (of which 7.00 CNY unpaid)\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("    ev-bob                   -8.34 CNY   (20.000 kWh discharged at 0.42 CNY/kWh)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Outstanding debt: 5.00 CNY (pay with: v2g tariff pay-debt"), std::string::npos) << text;
  EXPECT_NE(text.find("Reward points: 35 PTS\n"), std::string::npos) << text;
  EXPECT_NE(text.find("No battery profile for vehicle 'ev-old'"), std::string::npos) << text;
}

}  // namespace
}  // namespace v2g
