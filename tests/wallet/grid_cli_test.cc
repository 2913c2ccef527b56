// `v2g tariff|event|pool|program|battery profile|earnings` and the battery-wear floor of
// `v2g market sell`: the built v2g binary against a real node in this process (as
// market_cli_test.cc), whose genesis enables the market and makes carol the grid company. What
// the CLI signs is checked by the real rules and read back from the chain.
#include <gtest/gtest.h>

#include "contracts/grid.h"
#include "contracts/market.h"
#include "contracts/pools.h"
#include "tests/wallet/cli_node_fixture.h"
#include "wallet/keystore.h"

namespace v2g::nodetest {
namespace {

using json = nlohmann::json;

// Carol is the grid company and owns the zones; alice aggregates.
void EnableGrid(GenesisState& g) {
  EnableMarket(g);
  g.roles.push_back({"grid_company", AddrOf(Key(12))});
  g.roles.push_back({"aggregator", AddrOf(Key(10))});
  for (auto& z : g.zones) z.grid_company = AddrOf(Key(12));
}

class GridCliTest : public CliNodeTest {
 protected:
  GridCliTest() : CliNodeTest(EnableGrid, "grid-cli-test") {}
};

TEST_F(GridCliTest, TariffSetShowEnrollAndPayDebt) {
  test::CliResult set = Run({"tariff", "set", "--from", "carol", "--zone", "Z1", "--from-interval", "next", "--flat",
                             "0.60", "--peak", "18-21:1.20", "--export-price", "0.30"});
  ASSERT_EQ(set.exit_code, 0) << set.err << set.out;
  EXPECT_TRUE(Contains(set.out, "Publish the time-of-use tariff of zone Z1 from")) << set.out;
  EXPECT_TRUE(Contains(set.out, "import   00-17 0.60, 18-21 1.20, 22-23 0.60 CNY/kWh (hours UTC)\n")) << set.out;
  EXPECT_TRUE(Contains(set.out, "feed-in  0.30 CNY/kWh")) << set.out;
  const auto tariffs = LoadTariffs(node_->store().state(), "Z1");
  ASSERT_EQ(tariffs.size(), 1u);
  EXPECT_EQ(tariffs[0].effective_from_s(), Next());
  EXPECT_EQ(tariffs[0].import_prices(17), 60);
  EXPECT_EQ(tariffs[0].import_prices(18), 120);
  EXPECT_EQ(tariffs[0].import_prices(21), 120);
  EXPECT_EQ(tariffs[0].import_prices(22), 60);
  EXPECT_EQ(tariffs[0].export_price(), 30);

  test::CliResult show = Run({"tariff", "show", "Z1"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_TRUE(Contains(show.out, "00-17 0.60, 18-21 1.20, 22-23 0.60")) << show.out;
  EXPECT_TRUE(Contains(show.out, "carol")) << show.out;
  EXPECT_EQ(RunJson({"tariff", "show", "Z1"})["tariffs"].size(), 1u);

  const json enrolled = RunJson({"tariff", "enroll", "--from", "bob", kMeter});
  EXPECT_TRUE(LoadTariffEnrollment(node_->store().state(), kMeter).has_value());
  test::CliResult tx = Run({"tx", "show", enrolled.value("hash", ""), "--as", "bob"});
  EXPECT_TRUE(Contains(tx.out, "op      enroll_tariff, meter_id ev-bob\n")) << tx.out;
  // Bob owes nothing: the chain says so (the tx carried the market denomination).
  ExpectError({"tariff", "pay-debt", "--from", "bob"}, "owes nothing");

  // Only the grid company publishes tariffs; bad input names the flag and sends nothing.
  ExpectError({"tariff", "set", "--from", "bob", "--zone", "Z1", "--from-interval", "next+1", "--flat", "1",
               "--export-price", "0"},
              "grid_company");
  ExpectError({"tariff", "set", "--from", "carol", "--zone", "Z1", "--from-interval", "next", "--prices", "1,2,3",
               "--export-price", "0"},
              "--prices needs 24 hourly prices");
  ExpectError({"tariff", "set", "--from", "carol", "--zone", "Z1", "--from-interval", "next", "--flat", "1",
               "--peak", "20-3:2", "--export-price", "0"},
              "--peak");
  ExpectError({"tariff", "set", "--from", "carol", "--zone", "Z1", "--from-interval", "later", "--flat", "1",
               "--export-price", "0"},
              "--from-interval");
  EXPECT_EQ(LoadTariffs(node_->store().state(), "Z1").size(), 1u);
}

TEST_F(GridCliTest, EventCreateEnrollShowListAndResults) {
  ASSERT_EQ(Run({"send", "carol", "100", "CNY", "--from", "alice"}).exit_code, 0);
  test::CliResult create =
      Run({"event", "create", "--from", "carol", "--kind", "peak_relief", "--zone", "Z1", "--start", "next+1",
           "--end", "next+3", "--target-kw", "50", "--price", "1.50", "--budget", "20", "--deadline", "next"});
  ASSERT_EQ(create.exit_code, 0) << create.err << create.out;
  EXPECT_TRUE(Contains(create.out, "Create a peak_relief event in zone Z1 (budget 20.00 CNY escrowed)")) << create.out;
  EXPECT_TRUE(Contains(create.out, "target      50.000 kW\n")) << create.out;
  EXPECT_TRUE(Contains(create.out, "event       1\n")) << create.out;
  auto ev = LoadEvent(node_->store().state(), 1);
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->start_s(), Next() + 900);
  EXPECT_EQ(ev->end_s(), Next() + 2700);
  EXPECT_EQ(ev->price(), 150);
  EXPECT_EQ(ev->budget(), 2000);
  EXPECT_EQ(ev->target_power_w(), 50000);
  EXPECT_EQ(ev->baseline(), pb::BASELINE_DECLARED);

  test::CliResult enroll =
      Run({"event", "enroll", "--from", "bob", "1", "--meter", kMeter, "--power-kw", "7.4", "--baseline-kwh", "2"});
  ASSERT_EQ(enroll.exit_code, 0) << enroll.err << enroll.out;
  EXPECT_TRUE(Contains(enroll.out, "Enroll meter 'ev-bob' in event 1 with 7.400 kW")) << enroll.out;
  const auto ens = LoadEventEnrollments(node_->store().state(), 1);
  ASSERT_EQ(ens.size(), 1u);
  EXPECT_EQ(ens[0].committed_power_w(), 7400);
  EXPECT_EQ(ens[0].declared_baseline_wh(), 2000);

  test::CliResult show = Run({"event", "show", "1"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_TRUE(Contains(show.out, "pays          1.50 CNY/kWh of performance")) << show.out;
  EXPECT_TRUE(Contains(show.out, "ev-bob (bob)   7.400 kW")) << show.out;
  test::CliResult list = Run({"event", "list", "--zone", "Z1", "--status", "open"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(Contains(list.out, "peak_relief")) << list.out;
  EXPECT_TRUE(Contains(Run({"event", "list", "--status", "settled"}).out, "No events"));
  const json results = RunJson({"event", "results", "1"});
  ASSERT_EQ(results["enrollments"].size(), 1u);
  EXPECT_EQ(results["enrollments"][0]["meter_id"], kMeter);
  EXPECT_TRUE(Contains(Run({"event", "results", "1"}).out, "appear once the event's last interval has settled"));

  ExpectError({"event", "enroll", "--from", "bob", "1", "--power-kw", "1"}, "--meter METER");
  ExpectError({"event", "enroll", "--from", "bob", "1", "--meter", kMeter, "--power-kw", "fast"}, "--power-kw");
  ExpectError({"event", "create", "--from", "carol", "--kind", "peak_shaving", "--zone", "Z1", "--start", "next+1",
               "--end", "next+3", "--target-kw", "50", "--price", "1.50", "--budget", "20"},
              "--kind must be peak_relief");
  ExpectError({"event", "create", "--from", "carol", "--kind", "reverse_discharge", "--zone", "Z1", "--start",
               "next+1", "--end", "next+3", "--target-kw", "50", "--price", "1.50", "--budget", "20", "--baseline",
               "declared"},
              "takes no baseline");
  ExpectError({"event", "create", "--from", "carol", "--kind", "valley_fill", "--zone", "Z1", "--start", "next+3",
               "--end", "next+1", "--target-kw", "50", "--price", "1.50", "--budget", "20"},
              "--end must be later than --start");
}

TEST_F(GridCliTest, PoolCreateJoinShowSellAndLeave) {
  test::CliResult create = Run({"pool", "create", "--from", "alice", "--name", "Shenzhen VPP", "--fee-percent", "5"});
  ASSERT_EQ(create.exit_code, 0) << create.err << create.out;
  EXPECT_TRUE(Contains(create.out, "Create pool 'Shenzhen VPP' (aggregator fee 5.00 % of revenue)")) << create.out;
  EXPECT_TRUE(Contains(create.out, "pool    1\n")) << create.out;
  auto pool = LoadPool(node_->store().state(), 1);
  ASSERT_TRUE(pool.has_value());
  EXPECT_EQ(pool->fee_bps(), 500);

  ASSERT_EQ(Run({"pool", "join", "--from", "bob", "1", kMeter}).exit_code, 0);
  EXPECT_EQ(PoolOfMeter(node_->store().state(), kMeter), std::optional<uint64_t>(1));
  test::CliResult show = Run({"pool", "show", "1"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_TRUE(Contains(show.out, "aggregator       alice\n")) << show.out;
  EXPECT_TRUE(Contains(show.out, "ev-bob  bob")) << show.out;
  EXPECT_TRUE(Contains(show.out, "members earned   0.00 CNY\n"))
      << show.out;  // signed as alice, its aggregator
  // A wallet without the aggregator's key reads what the public does.
  test::CliResult anon = test::RunProgram(
      V2G_CLI_PATH, {"pool", "show", "1"},
      {"HOME=" + tmp_.path(), "V2G_HOME=" + tmp_.path() + "/empty", "V2G_NODE=" + url()},
      tmp_.path());
  ASSERT_EQ(anon.exit_code, 0) << anon.err;
  // Nothing earned yet: totals of 0 say nothing of anyone, so they are shown.
  EXPECT_TRUE(Contains(anon.out, "fees earned      0.00 CNY\nmembers earned   0.00 CNY\n")) << anon.out;
  EXPECT_FALSE(Contains(anon.out, "totals hidden")) << anon.out;
  // A wallet of the aggregator alone reads bob's car as its pool's: from the first interval the
  // membership counts for, and says so (docs/DESIGN.md "Entitlement over time").
  {
    const std::string agg_home = tmp_.path() + "/agg-home";
    Keystore ks(agg_home, KdfLimits::Min());
    ASSERT_TRUE(ks.Import("alice", HexEncode(Bytes(kSeedBytes, 10)), kPassphrase).ok());
    const std::vector<std::string> env = {"HOME=" + tmp_.path(), "V2G_HOME=" + agg_home,
                                          "V2G_NODE=" + url(),
                                          std::string("V2G_PASSPHRASE=") + kPassphrase};
    // From the interval after the join, read from the chain (the clock may pass a boundary).
    const auto member = LoadPoolMember(node_->store().state(), 1, kMeter);
    ASSERT_TRUE(member.has_value());
    const std::string note =
        "(this key reads the intervals from " + FormatTimeS(member->from_s()) +
        " on: since the meter became its owner's, or while it was in the key's pool)\n";
    test::CliResult meter =
        test::RunProgram(V2G_CLI_PATH, {"meter", "show", kMeter}, env, tmp_.path());
    ASSERT_EQ(meter.exit_code, 0) << meter.err;
    EXPECT_TRUE(Contains(meter.out, note)) << meter.out;
    test::CliResult readings =
        test::RunProgram(V2G_CLI_PATH, {"meter", "readings", kMeter}, env, tmp_.path());
    ASSERT_EQ(readings.exit_code, 0) << readings.err;
    EXPECT_TRUE(Contains(readings.out, note + "No attested energy in this period\n"))
        << readings.out;
    // bob, its owner, reads it whole: no note.
    test::CliResult own = Run({"meter", "readings", kMeter});
    ASSERT_EQ(own.exit_code, 0) << own.err;
    EXPECT_TRUE(Contains(own.out, "Attested energy of meter 'ev-bob'")) << own.out;
    EXPECT_FALSE(Contains(own.out, "this key reads")) << own.out;
  }

  // The aggregator sells for the pool (no meter; its collateral).
  test::CliResult sell = Run({"market", "sell", "--from", "alice", "--pool", "1", "--zone", "Z1", "--interval",
                              "next+2", "--energy-wh", "1000", "--price", "0.80"});
  ASSERT_EQ(sell.exit_code, 0) << sell.err << sell.out;
  EXPECT_TRUE(Contains(sell.out, "in zone Z1 for pool 1 (alice)")) << sell.out;
  auto order = LoadOrder(node_->store().state(), 1);
  ASSERT_TRUE(order.has_value());
  EXPECT_EQ(order->pool_id(), 1u);
  ExpectError({"market", "sell", "--from", "alice", "--pool", "1", "--meter", kMeter, "--zone", "Z1", "--interval",
               "next+2", "--energy-wh", "1000", "--price", "0.80"},
              "not both");

  ASSERT_EQ(Run({"pool", "leave", "--from", "bob", "1", kMeter}).exit_code, 0);
  EXPECT_TRUE(Contains(Run({"pool", "show", "1"}).out, "after ")) << "the member is leaving";
  ExpectError({"pool", "create", "--from", "alice", "--name", "x", "--fee-percent", "101"}, "--fee-percent");
  ExpectError({"pool", "create", "--from", "alice", "--name", "x"}, "--fee-percent X or --fee-bps N");
}

TEST_F(GridCliTest, ProgramCreateJoinAndShow) {
  ASSERT_EQ(Run({"mint", "issuer", "500", "PTS", "--from", "issuer"}).exit_code, 0);
  test::CliResult create = Run({"program", "create", "--from", "issuer", "--kind", "reward_points", "--denom", "PTS",
                                "--rate", "2", "--zone", "Z1", "--budget", "300", "--end", "next+8"});
  ASSERT_EQ(create.exit_code, 0) << create.err << create.out;
  EXPECT_TRUE(Contains(create.out, "program  1\n")) << create.out;
  auto p = LoadProgram(node_->store().state(), 1);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->rate(), 2);
  EXPECT_EQ(p->budget(), 300);
  ASSERT_EQ(Run({"program", "join", "--from", "bob", "1", kMeter}).exit_code, 0);
  EXPECT_EQ(LoadProgramMembers(node_->store().state(), 1).size(), 1u);
  test::CliResult show = Run({"program", "show", "1"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_TRUE(Contains(show.out, "rate       2 PTS/kWh\n")) << show.out;
  EXPECT_TRUE(Contains(show.out, "ev-bob  bob")) << show.out;

  // A charging discount in the market denomination, off-peak only.
  ASSERT_EQ(Run({"send", "issuer", "50", "CNY", "--from", "alice"}).exit_code, 0);
  test::CliResult disc = Run({"program", "create", "--from", "issuer", "--kind", "charging_discount",
                              "--rebate-percent", "12.5", "--hours", "0-6,22-23", "--budget", "40", "--end", "next+8"});
  ASSERT_EQ(disc.exit_code, 0) << disc.err << disc.out;
  auto d = LoadProgram(node_->store().state(), 2);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->rate(), 1250);
  EXPECT_EQ(d->hours_mask(), 0x7Fu | (1u << 22) | (1u << 23));
  EXPECT_EQ(d->denom(), "CNY");
  ExpectError({"program", "create", "--from", "issuer", "--kind", "charging_discount", "--rate", "1", "--budget",
               "1", "--end", "next+8"},
              "--rebate-percent");
  ExpectError({"program", "create", "--from", "issuer", "--kind", "reward_points", "--rate", "1", "--hours", "1",
               "--budget", "1", "--end", "next+8"},
              "--hours applies to charging_discount");
}

TEST_F(GridCliTest, BatteryWearFloorRefusesCheapSellsUnlessForced) {
  test::CliResult set = Run({"battery", "profile", "set", kMeter, "--replacement-cost", "60000", "--capacity-kwh",
                             "60", "--cycle-life", "3000", "--dod", "80"});
  ASSERT_EQ(set.exit_code, 0) << set.err << set.out;
  EXPECT_TRUE(Contains(set.out, "wear cost         0.42 CNY/kWh discharged\n")) << set.out;
  test::CliResult show = Run({"battery", "profile", "show", kMeter});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_TRUE(Contains(show.out, "0.42 CNY/kWh")) << show.out;
  EXPECT_EQ(RunJson({"battery", "profile", "show", kMeter})["wear_cost_per_kwh"]["amount"], "42");

  const std::vector<std::string> cheap{"market", "sell", "--from", "bob", "--meter", kMeter, "--zone", "Z1",
                                       "--interval", "next", "--energy-wh", "1000", "--price", "0.30"};
  test::CliResult refused = Run(cheap);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(Contains(refused.err, "limit price 0.30 CNY/kWh is below the battery wear cost of meter 'ev-bob', "
                                    "0.42 CNY/kWh"))
      << refused.err;
  EXPECT_TRUE(Contains(refused.err, "--force")) << refused.err;
  EXPECT_FALSE(LoadOrder(node_->store().state(), 1).has_value());

  std::vector<std::string> forced = cheap;
  forced.push_back("--force");
  test::CliResult ok = Run(forced);
  ASSERT_EQ(ok.exit_code, 0) << ok.err << ok.out;
  EXPECT_TRUE(Contains(ok.err, "warning: the limit price 0.30 CNY/kWh is below")) << ok.err;
  EXPECT_TRUE(LoadOrder(node_->store().state(), 1).has_value());

  test::CliResult fair = Run({"market", "sell", "--from", "bob", "--meter", kMeter, "--zone", "Z1", "--interval",
                              "next", "--energy-wh", "1000", "--price", "0.42"});
  ASSERT_EQ(fair.exit_code, 0) << fair.err;
  EXPECT_FALSE(Contains(fair.err, "warning")) << fair.err;

  ExpectError({"battery", "profile", "set", kMeter, "--replacement-cost", "60000", "--capacity-kwh", "60",
               "--cycle-life", "3000", "--dod", "180"},
              "--dod");
  ExpectError({"battery", "profile", "show", "ev-none"}, "no battery profile for meter 'ev-none'");
}

TEST_F(GridCliTest, EarningsStatementWithBatteryWear) {
  ASSERT_EQ(Run({"battery", "profile", "set", kMeter, "--replacement-cost", "60000", "--capacity-wh", "60000",
                 "--cycle-life", "3000", "--dod", "80"})
                .exit_code,
            0);
  test::CliResult r = Run({"earnings", "bob"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  for (const char* line : {"Statement for bob (", "Income\n", "  Market sales ", "Costs\n", "  Tariff charges ",
                           "  Cash net ", "Estimated battery wear\n",
                           "  ev-bob", "(0.000 kWh discharged at 0.42 CNY/kWh)", "  Net after battery wear ",
                           "Outstanding debt: 0.00 CNY\n"}) {
    EXPECT_TRUE(Contains(r.out, line)) << line << " in\n" << r.out;
  }
  const json j = RunJson({"earnings", "bob", "--from", std::to_string(Next() - 86400)});
  EXPECT_EQ(j["battery_wear"]["total"]["amount"], "0");
  EXPECT_EQ(j["battery_wear"]["vehicles"][0]["meter_id"], kMeter);
  EXPECT_EQ(j["net_after_wear"]["amount"], "0");
  ExpectError({"earnings", "bob", "--from", "yesterday"}, "--from");
}

}  // namespace
}  // namespace v2g::nodetest
