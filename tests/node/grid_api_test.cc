// The grid services' HTTP API (docs/API.md "Grid services") over a real Store and Chain whose
// blocks are committed by hand at chosen times: a tariff, a reverse-discharge event with a single
// meter's and a pool's enrollment, a reward-points program and a pool go through settlement, and
// the statements, debts, records and tx ops come out as the numbers worked out here. Every bad
// parameter gets a 400 that names it; missing records get a 404. The scenario is grid_scenario.h.
#include <gtest/gtest.h>

#include <string>

#include "tests/node/grid_scenario.h"

namespace v2g::nodetest {
namespace {

using json = nlohmann::json;

TEST_F(GridApiTest, TariffEventProgramAndPoolThroughSettlement) {
  const Ids ids = Scenario();
  ASSERT_FALSE(HasFatalFailure());
  const std::string alice = Addr(k().alice), bob = Addr(k().bob), carol = Addr(k().carol),
                    grid = Addr(grid_), agg = Addr(agg_);

  // ---- tariffs: both listed; the first is in effect at the latest block time (02:00 hour)
  HttpReply tr = Get("/v1/tariffs/Z1");
  ASSERT_EQ(tr.status, 200) << tr.raw;
  EXPECT_EQ(tr.body["zone"], "Z1");
  EXPECT_EQ(tr.body["denom"], "CNY");
  ASSERT_EQ(tr.body["tariffs"].size(), 2u);
  const json& t0 = tr.body["tariffs"][0];
  EXPECT_EQ(t0["effective_from_s"], kTariffFrom);
  EXPECT_EQ(t0["effective_from"], FormatRfc3339Ms(kTariffFrom * 1000));
  EXPECT_EQ(t0["grid_company"], grid);
  ASSERT_EQ(t0["import_prices"].size(), 24u);
  EXPECT_EQ(t0["import_prices"][0], Cny(60));
  EXPECT_EQ(t0["import_prices"][23], Cny(83));
  EXPECT_EQ(t0["export_price"], Cny(30));
  EXPECT_EQ(tr.body["tariffs"][1]["effective_from_s"], kT0 + 86400);
  const int64_t now_s = node_->chain().Tip().time_ms / 1000;
  EXPECT_EQ(tr.body["now_s"], now_s);
  EXPECT_EQ(tr.body["in_effect"]["effective_from_s"], kTariffFrom);
  EXPECT_EQ(tr.body["in_effect"]["hour"], (now_s % 86400) / 3600);
  EXPECT_EQ(tr.body["in_effect"]["import_price"], Cny(60 + (now_s % 86400) / 3600));
  EXPECT_EQ(tr.body["in_effect"]["export_price"], Cny(30));

  // ---- the event: owed (3 + 3 kWh) x 2.00 = 12.00 within the 50.00 budget
  HttpReply ev = Get("/v1/events/" + std::to_string(ids.event));
  ASSERT_EQ(ev.status, 200) << ev.raw;
  EXPECT_EQ(ev.body["id"], ids.event);
  EXPECT_EQ(ev.body["kind"], "reverse_discharge");
  EXPECT_EQ(ev.body["baseline"], "none");
  EXPECT_EQ(ev.body["zone"], "Z1");
  EXPECT_EQ(ev.body["start_s"], kS);
  EXPECT_EQ(ev.body["end_s"], kS + kLen);
  EXPECT_EQ(ev.body["enrollment_deadline_s"], kS - kLen);
  EXPECT_EQ(ev.body["grid_company"], grid);
  EXPECT_EQ(ev.body["status"], "settled");
  EXPECT_EQ(ev.body["price"], Cny(200));
  EXPECT_EQ(ev.body["budget"], Cny(5000));
  EXPECT_EQ(ev.body["enrollment_count"], 2);
  EXPECT_EQ(ev.body["performance_wh"], 6000);
  EXPECT_EQ(ev.body["owed"], Cny(1200));
  EXPECT_EQ(ev.body["paid"], Cny(1200));
  EXPECT_EQ(ev.body["returned"], Cny(3800));
  ASSERT_EQ(ev.body["enrollments"].size(), 2u);
  json single, pooled;
  for (const auto& e : ev.body["enrollments"]) (e["pool_id"].is_null() ? single : pooled) = e;
  EXPECT_EQ(single, json({{"meter_id", "ev-bob"},
                          {"pool_id", nullptr},
                          {"owner", bob},
                          {"committed_power_w", 20000},
                          {"declared_baseline_wh", 0},
                          {"performance_wh", 3000},  // 4 kWh exported, 1 already sold
                          {"payout", Cny(600)}}));
  EXPECT_TRUE(pooled["meter_id"].is_null());
  EXPECT_EQ(pooled["pool_id"], ids.pool);
  EXPECT_EQ(pooled["owner"], agg);
  EXPECT_EQ(pooled["performance_wh"], 3000);
  EXPECT_EQ(pooled["payout"], Cny(600));
  EXPECT_EQ(pooled["fee"], Cny(60));  // 10 %; the other 5.40 by performance 2 : 1
  EXPECT_EQ(pooled["members"], json::array({{{"meter_id", "ev-alice"},
                                             {"owner", alice},
                                             {"performance_wh", 2000},
                                             {"payout", Cny(360)}},
                                            {{"meter_id", "ev-carol"},
                                             {"owner", carol},
                                             {"performance_wh", 1000},
                                             {"payout", Cny(180)}}}));
  HttpReply evs = Get("/v1/events?status=settled&zone=Z1");
  ASSERT_EQ(evs.status, 200) << evs.raw;
  ASSERT_EQ(evs.body["events"].size(), 1u);
  EXPECT_EQ(evs.body["events"][0]["id"], ids.event);
  EXPECT_FALSE(evs.body["events"][0].contains("enrollments"));
  EXPECT_TRUE(evs.body["next_before"].is_null());
  EXPECT_EQ(Get("/v1/events?status=open").body["events"], json::array());
  EXPECT_EQ(Get("/v1/events?zone=Z2").body["events"], json::array());

  // ---- the program: bob's 1 kWh sold + 3 kWh performed = 40 PTS; closed, 960 back
  HttpReply pg = Get("/v1/programs/" + std::to_string(ids.program));
  ASSERT_EQ(pg.status, 200) << pg.raw;
  EXPECT_EQ(pg.body["kind"], "reward_points");
  EXPECT_EQ(pg.body["sponsor"], Addr(k().issuer));
  EXPECT_EQ(pg.body["denom"], "PTS");
  EXPECT_EQ(pg.body["rate"], 10);
  EXPECT_EQ(pg.body["rate_unit"], "minimal_units_per_kwh");
  EXPECT_EQ(pg.body["hours"], json::array());
  EXPECT_EQ(pg.body["zone"], "Z1");
  EXPECT_EQ(pg.body["status"], "closed");
  EXPECT_EQ(pg.body["member_count"], 1);
  const json pts40 = {{"denom", "PTS"}, {"amount", "40"}, {"display", "40"}};
  EXPECT_EQ(pg.body["paid"], pts40);
  EXPECT_EQ(pg.body["returned"], json({{"denom", "PTS"}, {"amount", "960"}, {"display", "960"}}));
  EXPECT_EQ(pg.body["remaining"]["amount"], "0");
  EXPECT_EQ(pg.body["members"],
            json::array({{{"meter_id", "ev-bob"}, {"owner", bob}, {"paid", pts40}}}));
  EXPECT_EQ(Get("/v1/programs?status=closed").body["programs"].size(), 1u);
  EXPECT_EQ(Get("/v1/programs?status=open").body["programs"], json::array());

  // ---- the pool
  HttpReply pl = Get("/v1/pools/" + std::to_string(ids.pool));
  ASSERT_EQ(pl.status, 200) << pl.raw;
  EXPECT_EQ(pl.body["aggregator"], agg);
  EXPECT_EQ(pl.body["name"], "Z1 VPP");
  EXPECT_EQ(pl.body["fee_bps"], 1000);
  EXPECT_EQ(pl.body["member_count"], 2);
  EXPECT_EQ(pl.body["fees_earned"], Cny(60));
  EXPECT_EQ(pl.body["members_earned"], Cny(540));
  EXPECT_GE(pl.body["obligations_until_s"].get<int64_t>(), kS + kLen);
  ASSERT_EQ(pl.body["members"].size(), 2u);
  const json& m0 = pl.body["members"][0];
  EXPECT_EQ(m0["meter_id"], "ev-alice");
  EXPECT_EQ(m0["owner"], alice);
  EXPECT_EQ(m0["earned"], Cny(360));
  EXPECT_EQ(m0["delivered_wh"], 2000);
  EXPECT_EQ(m0["leaving"], false);
  EXPECT_TRUE(m0["leave_after_s"].is_null());
  EXPECT_EQ(m0["from_s"].get<int64_t>() % kLen, 0);
  EXPECT_EQ(pl.body["members"][1]["earned"], Cny(180));
  HttpReply pls = Get("/v1/pools");
  ASSERT_EQ(pls.status, 200) << pls.raw;
  ASSERT_EQ(pls.body["pools"].size(), 1u);
  EXPECT_FALSE(pls.body["pools"][0].contains("members"));
  EXPECT_EQ(pls.body["pools"][0]["id"], ids.pool);

  // ---- statements. bob: +1.00 market, +6.00 event, -1.22 tariff (2 kWh at 0.61), +0.15 feed-in
  const std::string period = "?from=" + std::to_string(kS) + "&to=" + std::to_string(kS2 + kLen);
  HttpReply sb = Get("/v1/accounts/" + bob + "/statement" + period);
  ASSERT_EQ(sb.status, 200) << sb.raw;
  EXPECT_EQ(sb.body["address"], bob);
  EXPECT_EQ(sb.body["from_s"], kS);
  EXPECT_EQ(sb.body["to_s"], kS2 + kLen);
  EXPECT_EQ(sb.body["denom"], "CNY");
  EXPECT_GE(sb.body["settled_before_s"].get<int64_t>(), kS2 + kLen);
  EXPECT_EQ(sb.body["tiers"], json({{"market_revenue", Cny(100)},
                                    {"market_penalty", Cny(0)},
                                    {"market_spent", Cny(0)},
                                    {"event_payout", Cny(600)},
                                    {"subsidy", Cny(0)},
                                    {"tariff_charge", Cny(122)},
                                    {"feed_in", Cny(15)},
                                    {"debt_incurred", Cny(0)}}));
  EXPECT_EQ(sb.body["net"], Cny(593));
  EXPECT_EQ(sb.body["points"], pts40);
  EXPECT_EQ(sb.body["points_denoms"], json::array({"PTS"}));
  EXPECT_EQ(sb.body["debts"], json::array());
  EXPECT_EQ(sb.body["vehicles"], json::array({{{"meter_id", "ev-bob"},
                                               {"zone", "Z1"},
                                               {"active", true},
                                               {"battery_capacity_wh", 60000},
                                               {"export_wh", 4500},
                                               {"import_wh", 2000},
                                               {"intervals", 2},
                                               {"owner_from", nullptr}}}));  // its first owner
  EXPECT_EQ(sb.body["vehicles_truncated"], false);
  // Only kS2 (RFC 3339 times): the event and the market are in kS.
  HttpReply sb2 = Get("/v1/accounts/" + bob + "/statement?from=2026-01-01T01:15:00Z&to=" +
                      std::to_string(kS2 + kLen));
  ASSERT_EQ(sb2.status, 200) << sb2.raw;
  EXPECT_EQ(sb2.body["tiers"]["event_payout"], Cny(0));
  EXPECT_EQ(sb2.body["net"], Cny(-107));
  EXPECT_EQ(sb2.body["vehicles"][0]["export_wh"], 500);
  // Default period: the 24 h up to the latest block time.
  HttpReply sbd = Get("/v1/accounts/" + bob + "/statement");
  ASSERT_EQ(sbd.status, 200) << sbd.raw;
  EXPECT_EQ(sbd.body["to_s"], now_s);
  EXPECT_EQ(sbd.body["net"], Cny(593));

  // alice bought 1 kWh and earned her pool share; carol's 3.05 bill left 1.25 unpaid.
  HttpReply sa = Get("/v1/accounts/" + alice + "/statement" + period);
  EXPECT_EQ(sa.body["tiers"]["market_spent"], Cny(100));
  EXPECT_EQ(sa.body["tiers"]["event_payout"], Cny(360));
  EXPECT_EQ(sa.body["net"], Cny(260));
  HttpReply sc = Get("/v1/accounts/" + carol + "/statement" + period);
  EXPECT_EQ(sc.body["tiers"]["event_payout"], Cny(180));
  EXPECT_EQ(sc.body["tiers"]["tariff_charge"], Cny(305));
  EXPECT_EQ(sc.body["tiers"]["debt_incurred"], Cny(125));
  EXPECT_EQ(sc.body["net"], Cny(-125));
  json debt = Cny(125);
  debt["creditor"] = grid;
  EXPECT_EQ(sc.body["debts"], json::array({debt}));
  HttpReply dc = Get("/v1/accounts/" + carol + "/debts");
  ASSERT_EQ(dc.status, 200) << dc.raw;
  EXPECT_EQ(dc.body, json({{"address", carol}, {"in_debt", true}, {"debts", {debt}}}));
  EXPECT_EQ(Get("/v1/accounts/" + bob + "/debts").body["in_debt"], false);

  // carol pays part of it; then alice asks to leave the pool.
  RunOk(k().alice, MakeTransfer(0, AddrOf(k().carol), "CNY", 50));
  json pay = RunOk(k().carol, MakePayDebt(0, "CNY"));
  EXPECT_EQ(pay["op"], json({{"type", "pay_debt"}, {"denom", "CNY"}}));
  EXPECT_EQ(Get("/v1/accounts/" + carol + "/debts").body["debts"][0]["amount"], "75");
  json leave = RunOk(k().alice, MakeLeavePool(0, ids.pool, "ev-alice"));
  EXPECT_EQ(leave["op"],
            json({{"type", "leave_pool"}, {"pool_id", ids.pool}, {"meter_id", "ev-alice"}}));
  const json alice_member = Get("/v1/pools/" + std::to_string(ids.pool)).body["members"][0];
  EXPECT_EQ(alice_member["leaving"], true);
  EXPECT_GT(alice_member["leave_after_s"].get<int64_t>(), now_s);
}

TEST_F(GridApiTest, GridTxsRenderTheirOps) {
  const Ids ids = Scenario();
  ASSERT_FALSE(HasFatalFailure());
  json prices = json::array();
  for (int64_t p : Prices()) prices.push_back(Cny(p));
  EXPECT_EQ(ids.tariff_tx["op"], json({{"type", "set_tariff"},
                                       {"zone", "Z1"},
                                       {"effective_from", FormatRfc3339Ms(kTariffFrom * 1000)},
                                       {"effective_from_s", kTariffFrom},
                                       {"import_prices", prices},
                                       {"export_price", Cny(30)}}));
  EXPECT_FALSE(ids.tariff_tx.contains("created_id"));
  EXPECT_EQ(ids.event_tx["created_id"], ids.event);
  EXPECT_EQ(ids.event_tx["op"], json({{"type", "create_event"},
                                      {"kind", "reverse_discharge"},
                                      {"zone", "Z1"},
                                      {"start", FormatRfc3339Ms(kS * 1000)},
                                      {"start_s", kS},
                                      {"end_s", kS + kLen},
                                      {"enrollment_deadline_s", kS - kLen},
                                      {"baseline", "none"},
                                      {"target_power_w", 50000},
                                      {"price", Cny(200)},
                                      {"budget", Cny(5000)}}));
  EXPECT_EQ(ids.enroll_pool_tx["op"], json({{"type", "enroll_event"},
                                            {"event_id", ids.event},
                                            {"meter_id", nullptr},
                                            {"pool_id", ids.pool},
                                            {"committed_power_w", 20000},
                                            {"declared_baseline_wh", 0}}));
  EXPECT_EQ(ids.pool_tx["created_id"], ids.pool);
  EXPECT_EQ(ids.pool_tx["op"], json({{"type", "create_pool"}, {"name", "Z1 VPP"}, {"fee_bps", 1000}}));
  EXPECT_EQ(ids.join_tx["op"],
            json({{"type", "join_pool"}, {"pool_id", ids.pool}, {"meter_id", "ev-alice"}}));
  EXPECT_EQ(ids.program_tx["created_id"], ids.program);
  EXPECT_EQ(ids.program_tx["op"], json({{"type", "create_program"},
                                        {"kind", "reward_points"},
                                        {"denom", "PTS"},
                                        {"rate", 10},
                                        {"hours_mask", 0},
                                        {"zone", "Z1"},
                                        {"budget", {{"denom", "PTS"}, {"amount", "1000"}, {"display", "1000"}}},
                                        {"end", FormatRfc3339Ms((kS2 + kLen) * 1000)},
                                        {"end_s", kS2 + kLen}}));
  EXPECT_EQ(ids.pool_sell_tx["op"]["type"], "place_order");
  EXPECT_EQ(ids.pool_sell_tx["op"]["pool_id"], ids.pool);
  EXPECT_EQ(ids.pool_sell_tx["op"]["meter_id"], "");
  EXPECT_EQ(Get("/v1/orders/" + std::to_string(ids.pool_sell)).body["pool_id"], ids.pool);
  // A block's txs render the same way.
  const int64_t h = ids.enroll_pool_tx["height"];
  EXPECT_EQ(Get("/v1/blocks/" + std::to_string(h)).body["txs"][0]["op"], ids.enroll_pool_tx["op"]);
  // Single-meter enrollments, tariff enrollments and program joins.
  bool seen_enroll = false, seen_tariff = false, seen_join = false;
  for (int64_t b = 1; b <= node_->chain().Tip().height; ++b) {
    const HttpReply block = Get("/v1/blocks/" + std::to_string(b));
    for (const auto& tx : block.body["txs"]) {
      const json& op = tx["op"];
      if (op["type"] == "enroll_event" && op["meter_id"] == "ev-bob") {
        seen_enroll = true;
        EXPECT_TRUE(op["pool_id"].is_null());
      } else if (op["type"] == "enroll_tariff" && op["meter_id"] == "ev-bob") {
        seen_tariff = true;
      } else if (op["type"] == "join_program") {
        seen_join = true;
        EXPECT_EQ(op, json({{"type", "join_program"},
                            {"program_id", ids.program},
                            {"meter_id", "ev-bob"}}));
      }
    }
  }
  EXPECT_TRUE(seen_enroll);
  EXPECT_TRUE(seen_tariff);
  EXPECT_TRUE(seen_join);
}

TEST_F(GridApiTest, BadParametersAreRefusedByNameAndMissingRecordsAre404) {
  Tick(kT0 + 10);
  RunOk(grid_, MakeSetTariff(0, "Z1", kTariffFrom, Prices(), 30));
  const uint64_t ev = RunOk(grid_, MakeCreateEvent(0, pb::EVENT_REVERSE_DISCHARGE, "Z1", kS,
                                                   kS + kLen, 50000, 200, 5000, kS - kLen,
                                                   pb::BASELINE_UNSPECIFIED))
                          .value("created_id", uint64_t{0});
  const uint64_t prog = RunOk(k().issuer, MakeCreateProgram(0, pb::PROGRAM_REWARD_POINTS, "PTS",
                                                            10, 0, "", 100, kS2))
                            .value("created_id", uint64_t{0});
  const std::string bob = Addr(k().bob);
  // tariffs
  ExpectError(Get("/v1/tariffs/Z%21"), 400, Code::kInvalidArgument, "zone must be a zone name");
  ExpectError(Get("/v1/tariffs/Z2"), 404, Code::kNotFound, "no tariff has been set for zone Z2");
  // events
  EXPECT_EQ(Get("/v1/events").body["events"].size(), 1u);
  EXPECT_EQ(Get("/v1/events?status=open").body["events"][0]["status"], "open");
  ExpectError(Get("/v1/events?status=closed"), 400, Code::kInvalidArgument,
              "status must be open or settled");
  ExpectError(Get("/v1/events?zone=a%20b"), 400, Code::kInvalidArgument, "zone must be");
  ExpectError(Get("/v1/events?limit=0"), 400, Code::kInvalidArgument, "limit must be between 1");
  ExpectError(Get("/v1/events?limit=501"), 400, Code::kInvalidArgument, "limit must be between");
  ExpectError(Get("/v1/events?before=x"), 400, Code::kInvalidArgument, "before must be");
  ExpectError(Get("/v1/events/abc"), 400, Code::kInvalidArgument, "id must be");
  ExpectError(Get("/v1/events/0"), 400, Code::kInvalidArgument, "id must be between 1");
  ExpectError(Get("/v1/events/999"), 404, Code::kNotFound, "no event 999");
  ExpectError(Get("/v1/events/" + std::to_string(prog)), 404, Code::kNotFound,
              "(it is a program: /v1/programs/" + std::to_string(prog) + ")");
  // programs
  ExpectError(Get("/v1/programs?status=settled"), 400, Code::kInvalidArgument,
              "status must be open or closed");
  ExpectError(Get("/v1/programs?limit=-1"), 400, Code::kInvalidArgument, "limit must be");
  ExpectError(Get("/v1/programs/x1"), 400, Code::kInvalidArgument, "id must be");
  ExpectError(Get("/v1/programs/" + std::to_string(ev)), 404, Code::kNotFound,
              "(it is an event: /v1/events/" + std::to_string(ev) + ")");
  HttpReply pg = Get("/v1/programs/" + std::to_string(prog));
  ASSERT_EQ(pg.status, 200) << pg.raw;
  EXPECT_TRUE(pg.body["zone"].is_null());
  EXPECT_EQ(pg.body["status"], "open");
  EXPECT_EQ(pg.body["members"], json::array());
  // pools
  ExpectError(Get("/v1/pools?limit=abc"), 400, Code::kInvalidArgument, "limit must be");
  ExpectError(Get("/v1/pools?before=0"), 400, Code::kInvalidArgument, "before must be between 1");
  ExpectError(Get("/v1/pools/0"), 400, Code::kInvalidArgument, "id must be between 1");
  ExpectError(Get("/v1/pools/7"), 404, Code::kNotFound, "no pool 7");
  EXPECT_EQ(Get("/v1/pools").body,
            json({{"pools", json::array()}, {"next_before", nullptr}, {"private_items", 0}}));
  // statements and debts
  ExpectError(Get("/v1/accounts/v2g1nope/statement"), 400, Code::kInvalidArgument, "address");
  ExpectError(Get("/v1/accounts/v2g1nope/debts"), 400, Code::kInvalidArgument, "address");
  const std::string st = "/v1/accounts/" + bob + "/statement";
  ExpectError(Get(st + "?from=yesterday"), 400, Code::kInvalidArgument,
              "from must be Unix seconds or an RFC 3339 time");
  ExpectError(Get(st + "?to=2026-13-01T00:00:00Z"), 400, Code::kInvalidArgument, "to must be");
  ExpectError(Get(st + "?from=100&to=100"), 400, Code::kInvalidArgument,
              "to (1970-01-01T00:01:40Z) must be later than from (1970-01-01T00:01:40Z)");
  ExpectError(Get(st + "?from=0&to=" + std::to_string(31 * 86400 + 1)), 400,
              Code::kInvalidArgument, "is longer than the 31 days a statement covers");
  HttpReply empty = Get(st + "?from=0&to=" + std::to_string(31 * 86400));
  ASSERT_EQ(empty.status, 200) << empty.raw;
  EXPECT_EQ(empty.body["net"], Cny(0));
  EXPECT_EQ(empty.body["vehicles"], json::array());
  EXPECT_EQ(empty.body["points"]["denom"], "PTS");
  // paging: the newest first, next_before resumes
  RunOk(grid_, MakeCreateEvent(0, pb::EVENT_REVERSE_DISCHARGE, "Z1", kS2, kS2 + kLen, 50000, 200,
                               5000, kS - kLen, pb::BASELINE_UNSPECIFIED));
  HttpReply p1 = Get("/v1/events?limit=1");
  ASSERT_EQ(p1.status, 200) << p1.raw;
  ASSERT_EQ(p1.body["events"].size(), 1u);
  EXPECT_GT(p1.body["events"][0]["id"].get<uint64_t>(), ev);
  ASSERT_FALSE(p1.body["next_before"].is_null());
  HttpReply p2 = Get("/v1/events?limit=1&before=" + p1.body["next_before"].dump());
  ASSERT_EQ(p2.body["events"].size(), 1u);
  EXPECT_EQ(p2.body["events"][0]["id"], ev);
  EXPECT_TRUE(p2.body["next_before"].is_null());
}

}  // namespace
}  // namespace v2g::nodetest
