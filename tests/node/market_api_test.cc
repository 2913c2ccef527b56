// The energy market's HTTP API (docs/API.md "Energy market") over a real Store and Chain whose
// blocks are committed by hand at chosen times, so a market goes through open, cleared and settled
// deterministically. Every bad parameter gets a 400 that names it; missing records get a 404.
#include <gtest/gtest.h>

#include "common/limits.h"
#include "common/time.h"
#include "contracts/grid.h"
#include "contracts/market.h"
#include "node/api/api.h"
#include "tests/node/api_test_util.h"

namespace v2g::nodetest {
namespace {

using json = nlohmann::json;

constexpr int64_t kT0 = kGenesisTimeMs / 1000;
constexpr int64_t kLen = 900;        // delivery (settlement) interval
constexpr int64_t kGate = 300;       // gate closure lead
constexpr int64_t kGrace = 300;      // settlement waits this long after the interval
constexpr int64_t kS = kT0 + 3600;   // the market under test (zone Z1)
constexpr int64_t kS2 = kS + kLen;   // a later one
// bob's bidirectional charger, 20 kW: 5,000 Wh per interval. A charger (the operator holds its
// key) earns for its own readings; a car's meter would need one corroborating it (issue 11).
constexpr char kMeter[] = "ch-bob";

static_assert(kLen == 900 && kGate == 300 && kGrace == 300, "the market EnableMarket sets");

class MarketApiTest : public ManualApiTest {
 protected:
  void Start(bool market = true) {
    StartNode(market ? std::function<void(GenesisState&)>(EnableMarket) : nullptr, "market-api-test");
  }
  uint64_t Place(const KeyPair& key, pb::Side side, int64_t energy_wh, int64_t price,
                 const std::string& meter = "", const std::string& zone = "Z1",
                 int64_t start = kS) {
    json t = RunOk(key, MakePlaceOrder(0, side, zone, start, energy_wh, price, meter));
    return t.value("created_id", uint64_t{0});
  }

  // Bob gets CNY for collateral and a registered charger in zone Z1 (the issuer is the operator).
  void SetUpTraders() {
    RunOk(k().alice, MakeTransfer(0, AddrOf(k().bob), "CNY", 10000));
    RunOk(k().issuer, MakeRegisterMeter(0, kChainId, AddrOf(k().issuer), kMeter, device_, pb::METER_KIND_CHARGER,
                                        "Z1", AddrOf(k().bob), 20000, 20000, 0));
  }

  // Attests `export_wh` for the interval starting at kS (after a baseline reading [kS, kS + 1)).
  void Deliver(int64_t export_wh, int64_t at_s) {
    std::vector<pb::MeterReading> rs;
    for (auto [seq, start, end, total] :
         {std::tuple<uint64_t, int64_t, int64_t, int64_t>{1, kS, kS + 1, 0},
          {2, kS + 1, kS + kLen, export_wh}}) {
      rs.push_back(SignedReading(device_, kMeter, seq, start, end, 0, total));
    }
    Approach(at_s);
    json t = RunOk(k().bob, MakeSubmitReadings(0, rs), at_s);
    EXPECT_FALSE(t.contains("rejected_readings")) << t.dump();
  }

  static json Money(const std::string& amount, const std::string& display) {
    return {{"denom", "CNY"}, {"amount", amount}, {"display", display}};
  }

  KeyPair device_ = Key(30);
};

TEST_F(MarketApiTest, ParamsAndStatusGiveWhatTheCliNeedsToPickAnInterval) {
  Start();
  ASSERT_FALSE(HasFatalFailure());
  HttpReply p = Get("/v1/params");
  ASSERT_EQ(p.status, 200) << p.raw;
  EXPECT_EQ(p.body["settlement_interval_s"], kLen);
  EXPECT_EQ(p.body["market_denom"], "CNY");
  EXPECT_EQ(p.body["market_gate_closure_s"], kGate);
  EXPECT_EQ(p.body["market_horizon_s"], 86400);
  EXPECT_EQ(p.body["market_grace_s"], kGrace);
  EXPECT_EQ(p.body["market_collateral_bps"], 1000);
  EXPECT_EQ(p.body["market_penalty_bps"], 1000);
  EXPECT_EQ(p.body["tx_bytes_max"], limits::kTxBytesDefault);
  EXPECT_EQ(p.body["module_accounts"]["market"], EncodeAddress(MarketModuleAddress()));
  EXPECT_EQ(p.body["module_accounts"]["grid"], EncodeAddress(GridModuleAddress()));
  EXPECT_NE(p.body["module_accounts"]["market"], p.body["module_accounts"]["grid"]);
  EXPECT_EQ(p.body["market"], json({{"enabled", true},
                                    {"denom", "CNY"},
                                    {"decimals", 2},
                                    {"interval_s", kLen},
                                    {"gate_closure_s", kGate},
                                    {"horizon_s", 86400},
                                    {"grace_s", kGrace},
                                    {"collateral_bps", 1000},
                                    {"penalty_bps", 1000}}));
  Tick();
  HttpReply s = Get("/v1/status");
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(s.body["latest_block_time_ms"], node_->chain().Tip().time_ms);
}

// The mempool judges an order's trading window at the latest block time (it used to assume time
// 0, which refused every order as "not open yet").
TEST_F(MarketApiTest, SubmittedOrdersAreCheckedAgainstTheLatestBlockTime) {
  Start();
  ASSERT_FALSE(HasFatalFailure());
  Tick(kS - kGate - 10);
  auto post = [&](int64_t start) {
    pb::TxBody body = MakePlaceOrder(Nonce(node_->store().state(), k().alice) + 1, pb::SIDE_BUY,
                                     "Z1", start, 100, 60);
    return HttpPost(*cli_, "/v1/txs", TxBody(SignTx(k().alice, kChainId, body)));
  };
  ExpectError(post(kS - kLen), 400, Code::kGateClosed,
              "orders for the interval starting " + FormatRfc3339Ms((kS - kLen) * 1000) + " closed at");
  ExpectError(post(kS + 2 * 86400), 400, Code::kMarketNotOpen, "open at");
  HttpReply ok = post(kS);
  EXPECT_EQ(ok.status, 202) << ok.raw;
  // A block past gate closure does not accept it: nothing stays pending and no market exists.
  Tick(kS - kGate);
  EXPECT_EQ(node_->mempool().Stats().txs, 0);
  EXPECT_EQ(Get("/v1/markets/Z1/" + std::to_string(kS)).body["status"], "empty");
}

TEST_F(MarketApiTest, ChainWithoutAMarketSaysSo) {
  Start(/*market=*/false);
  ASSERT_FALSE(HasFatalFailure());
  HttpReply p = Get("/v1/params");
  ASSERT_EQ(p.status, 200);
  EXPECT_EQ(p.body["market"]["enabled"], false);
  EXPECT_EQ(p.body["market_denom"], "");
  HttpReply m = Get("/v1/markets");
  ASSERT_EQ(m.status, 200) << m.raw;
  EXPECT_EQ(m.body["markets"], json::array());
  EXPECT_TRUE(m.body["next_from"].is_null());
  ExpectError(Get("/v1/markets/Z1/" + std::to_string(kS)), 400, Code::kMarketDisabled,
              "this chain has no energy market");
}

TEST_F(MarketApiTest, OneMarketFromOrdersToSettlement) {
  Start();
  ASSERT_FALSE(HasFatalFailure());
  SetUpTraders();
  ASSERT_FALSE(HasFatalFailure());
  const std::string alice = Addr(k().alice), bob = Addr(k().bob);
  EXPECT_EQ(Place(k().alice, pb::SIDE_BUY, 3000, 100), 1u);        // escrow 3.00
  EXPECT_EQ(Place(k().alice, pb::SIDE_BUY, 1000, 80), 2u);         // escrow 0.80
  EXPECT_EQ(Place(k().bob, pb::SIDE_SELL, 2000, 90, kMeter), 3u);  // collateral 0.18
  EXPECT_EQ(Place(k().alice, pb::SIDE_BUY, 500, 50), 4u);
  RunOk(k().alice, MakeCancelOrder(0, 4));
  json proposed = RunOk(k().bob, MakeProposeContract(0, AddrOf(k().alice), pb::SIDE_SELL, "Z1", kS,
                                                     1000, 95, kMeter));
  EXPECT_EQ(proposed["created_id"], 5);
  EXPECT_EQ(proposed["op"], json({{"type", "propose_contract"},
                                  {"counterparty", alice},
                                  {"side", "sell"},
                                  {"zone", "Z1"},
                                  {"interval_start", FormatRfc3339Ms(kS * 1000)},
                                  {"interval_start_s", kS},
                                  {"energy_wh", 1000},
                                  {"price", Money("95", "0.95")},
                                  {"meter_id", kMeter}}));
  json accepted = RunOk(k().alice, MakeAcceptContract(0, 5));
  EXPECT_EQ(accepted["op"],
            json({{"type", "accept_contract"}, {"contract_id", 5}, {"meter_id", ""}}));
  EXPECT_FALSE(accepted.contains("created_id"));
  EXPECT_EQ(Get("/v1/txs/" + proposed["hash"].get<std::string>()).body["created_id"], 5);
  RunOk(k().alice, MakeProposeContract(0, AddrOf(k().bob), pb::SIDE_BUY, "Z1", kS, 100,
                                       70));  // 6: never accepted
  EXPECT_EQ(Place(k().alice, pb::SIDE_BUY, 100, 60, "", "Z1", kS2), 7u);
  EXPECT_EQ(Place(k().alice, pb::SIDE_BUY, 100, 60, "", "Z2", kS), 8u);

  // ---- open: the book shows the open orders per price level (the cancelled one is gone)
  HttpReply open = Get("/v1/markets/Z1/" + std::to_string(kS));
  ASSERT_EQ(open.status, 200) << open.raw;
  EXPECT_EQ(open.body["status"], "open");
  EXPECT_EQ(open.body["buy_orders"], 3);
  EXPECT_EQ(open.body["sell_orders"], 1);
  EXPECT_EQ(open.body["contracts"], 2);
  EXPECT_EQ(open.body["contract_energy_wh"], 1000);
  EXPECT_EQ(open.body["gate_closure_s"], kS - kGate);
  EXPECT_EQ(open.body["gate_closure"], FormatRfc3339Ms((kS - kGate) * 1000));
  EXPECT_EQ(open.body["interval_end_s"], kS + kLen);
  EXPECT_EQ(open.body["settlement_due_s"], kS + kLen + kGrace);
  EXPECT_EQ(open.body["clearing_price"], Money("0", "0.00"));
  EXPECT_EQ(open.body["params"]["denom"], "CNY");
  EXPECT_EQ(open.body["params"]["gate_closure_s"], kGate);
  const json& depth = open.body["depth"];
  EXPECT_EQ(depth["orders"], "open");
  EXPECT_EQ(depth["bids"], json::parse(R"([
      {"price": {"denom": "CNY", "amount": "100", "display": "1.00"}, "energy_wh": 3000, "orders": 1, "cumulative_wh": 3000},
      {"price": {"denom": "CNY", "amount": "80", "display": "0.80"}, "energy_wh": 1000, "orders": 1, "cumulative_wh": 4000}])"));
  EXPECT_EQ(depth["asks"], json::parse(R"([
      {"price": {"denom": "CNY", "amount": "90", "display": "0.90"}, "energy_wh": 2000, "orders": 1, "cumulative_wh": 2000}])"));
  EXPECT_EQ(depth["bid_levels"], 2);
  EXPECT_EQ(depth["bid_energy_wh"], 4000);
  EXPECT_EQ(Get("/v1/markets/Z1/" + std::to_string(kS) + "?limit=1").body["depth"]["bids"].size(),
            1u);

  HttpReply o1 = Get("/v1/orders/1");
  ASSERT_EQ(o1.status, 200) << o1.raw;
  EXPECT_EQ(o1.body["kind"], "order");
  EXPECT_EQ(o1.body["owner"], alice);
  EXPECT_EQ(o1.body["side"], "buy");
  EXPECT_EQ(o1.body["status"], "open");
  EXPECT_EQ(o1.body["limit_price"], Money("100", "1.00"));
  EXPECT_EQ(o1.body["locked"], Money("300", "3.00"));
  EXPECT_EQ(o1.body["interval_start_s"], kS);
  EXPECT_EQ(Get("/v1/orders/3").body["locked_initial"], Money("18", "0.18"));
  EXPECT_EQ(Get("/v1/orders/3").body["meter_id"], kMeter);
  EXPECT_EQ(Get("/v1/orders/4").body["status"], "cancelled");
  HttpReply place_tx =
      Get("/v1/txs/" + Get("/v1/blocks/3").body["txs"][0]["hash"].get<std::string>());
  EXPECT_EQ(place_tx.body["op"]["type"], "place_order");
  EXPECT_EQ(place_tx.body["op"]["limit_price"], Money("100", "1.00"));
  EXPECT_EQ(place_tx.body["created_id"], 1);

  // ---- gate closure: the auction clears at 1.00 (2,000 Wh); the unaccepted proposal expires
  Tick(kS - kGate);
  HttpReply cleared = Get("/v1/markets/Z1/" + std::to_string(kS));
  ASSERT_EQ(cleared.status, 200) << cleared.raw;
  EXPECT_EQ(cleared.body["status"], "cleared");
  EXPECT_EQ(cleared.body["clearing_price"], Money("100", "1.00"));
  EXPECT_EQ(cleared.body["cleared_energy_wh"], 2000);
  EXPECT_EQ(cleared.body["trades"], 1);
  EXPECT_EQ(cleared.body["depth"]["orders"], "auction");
  EXPECT_EQ(cleared.body["depth"]["bids"][0]["filled_wh"], 2000);
  EXPECT_EQ(cleared.body["depth"]["bids"][1]["filled_wh"], 0);
  EXPECT_EQ(cleared.body["depth"]["asks"][0]["filled_wh"], 2000);
  EXPECT_EQ(Get("/v1/orders/2").body["status"], "expired");
  EXPECT_EQ(Get("/v1/contracts/6").body["status"], "expired");
  EXPECT_EQ(Get("/v1/markets/Z2/" + std::to_string(kS)).body["status"], "cleared");
  EXPECT_EQ(Get("/v1/markets/Z1/" + std::to_string(kS2)).body["status"], "open");

  HttpReply trades = Get("/v1/trades?zone=Z1&interval=" + std::to_string(kS));
  ASSERT_EQ(trades.status, 200) << trades.raw;
  ASSERT_EQ(trades.body["trades"].size(), 1u);
  const json& t = trades.body["trades"][0];
  EXPECT_EQ(t["index"], 0);
  EXPECT_EQ(t["buy_order_id"], 1);
  EXPECT_EQ(t["sell_order_id"], 3);
  EXPECT_EQ(t["buyer"], alice);
  EXPECT_EQ(t["seller"], bob);
  EXPECT_EQ(t["meter_id"], kMeter);
  EXPECT_EQ(t["energy_wh"], 2000);
  EXPECT_EQ(t["price"], Money("100", "1.00"));
  EXPECT_EQ(t["escrow"], Money("200", "2.00"));
  EXPECT_EQ(t["settled"], false);
  EXPECT_EQ(trades.body["market"]["status"], "cleared");
  EXPECT_TRUE(trades.body["next_after"].is_null());
  EXPECT_EQ(Get("/v1/trades?account=" + bob).body["trades"], trades.body["trades"]);
  HttpReply none = Get("/v1/settlements?zone=Z1&interval=" + std::to_string(kS));
  ASSERT_EQ(none.status, 200) << none.raw;
  EXPECT_EQ(none.body["trades"], json::array());
  EXPECT_EQ(none.body["trades_total"], 0);

  // ---- delivery: 2,500 Wh attested; the trade (sell order 3) is served first, the contract
  // (id 5) gets 500 of its 1,000 Wh. Settlement runs after the grace period.
  Deliver(2500, kS + kLen);
  Tick(kS + kLen + kGrace);
  HttpReply settled = Get("/v1/settlements?zone=Z1&interval=" + std::to_string(kS));
  ASSERT_EQ(settled.status, 200) << settled.raw;
  EXPECT_EQ(settled.body["market"]["status"], "settled");
  EXPECT_EQ(settled.body["market"]["delivered_energy_wh"], 2500);
  ASSERT_EQ(settled.body["trades"].size(), 1u);
  EXPECT_EQ(settled.body["trades"][0]["delivered_wh"], 2000);
  EXPECT_EQ(settled.body["trades"][0]["seller_paid"], Money("200", "2.00"));
  EXPECT_EQ(settled.body["trades"][0]["buyer_refund"], Money("0", "0.00"));
  ASSERT_EQ(settled.body["contracts"].size(), 1u);
  const json& c5 = settled.body["contracts"][0];
  EXPECT_EQ(c5["id"], 5);
  EXPECT_EQ(c5["delivered_wh"], 500);
  EXPECT_EQ(c5["seller_paid"], Money("47", "0.47"));
  EXPECT_EQ(c5["buyer_refund"], Money("48", "0.48"));
  EXPECT_EQ(c5["penalty"], Money("4", "0.04"));
  EXPECT_EQ(c5["collateral_returned"], Money("5", "0.05"));
  EXPECT_EQ(settled.body["totals"], json({{"energy_wh", 3000},
                                          {"delivered_wh", 2500},
                                          {"seller_paid", Money("247", "2.47")},
                                          {"buyer_refund", Money("48", "0.48")},
                                          {"penalty", Money("4", "0.04")},
                                          {"collateral_returned", Money("5", "0.05")}}));
  EXPECT_EQ(Get("/v1/settlements?account=" + bob).body["totals"], settled.body["totals"]);
  HttpReply mine =
      Get("/v1/settlements?zone=Z1&interval=" + std::to_string(kS) + "&account=" + Addr(k().carol));
  ASSERT_EQ(mine.status, 200) << mine.raw;
  EXPECT_EQ(mine.body["trades_total"], 0);
  EXPECT_EQ(mine.body["contracts_total"], 0);
  HttpReply c = Get("/v1/contracts/5");
  ASSERT_EQ(c.status, 200) << c.raw;
  EXPECT_EQ(c.body["kind"], "contract");
  EXPECT_EQ(c.body["proposer"], bob);
  EXPECT_EQ(c.body["counterparty"], alice);
  EXPECT_EQ(c.body["buyer"], alice);
  EXPECT_EQ(c.body["seller"], bob);
  EXPECT_EQ(c.body["status"], "settled");
  EXPECT_EQ(c.body["escrow"], Money("0", "0.00"));
  HttpReply sell = Get("/v1/orders/3");
  EXPECT_EQ(sell.body["status"], "settled");
  EXPECT_EQ(sell.body["paid"], Money("200", "2.00"));
  EXPECT_EQ(sell.body["delivered_wh"], 2000);
  EXPECT_EQ(sell.body["locked"], Money("0", "0.00"));
}

TEST_F(MarketApiTest, ListsArePagedNewestFirstWhereItMatters) {
  Start();
  ASSERT_FALSE(HasFatalFailure());
  SetUpTraders();
  ASSERT_FALSE(HasFatalFailure());
  Place(k().alice, pb::SIDE_BUY, 100, 60);                 // 1  Z1 kS
  Place(k().alice, pb::SIDE_BUY, 100, 60, "", "Z2", kS);   // 2  Z2 kS
  Place(k().alice, pb::SIDE_BUY, 100, 60, "", "Z1", kS2);  // 3  Z1 kS2
  RunOk(k().alice, MakeProposeContract(0, AddrOf(k().bob), pb::SIDE_BUY, "Z1", kS, 100, 70));  // 4
  Place(k().bob, pb::SIDE_SELL, 100, 50, kMeter);                                              // 5
  const std::string alice = "/v1/accounts/" + Addr(k().alice) + "/orders";
  auto ids = [](const json& list) {
    std::vector<uint64_t> out;
    for (const auto& x : list) out.push_back(x["id"].get<uint64_t>());
    return out;
  };
  HttpReply all = Get(alice);
  ASSERT_EQ(all.status, 200) << all.raw;
  EXPECT_EQ(all.body["address"], Addr(k().alice));
  EXPECT_EQ(ids(all.body["orders"]), (std::vector<uint64_t>{4, 3, 2, 1}));
  EXPECT_TRUE(all.body["next_before"].is_null());
  EXPECT_EQ(all.body["orders"][0]["kind"], "contract");
  EXPECT_EQ(ids(Get(alice + "?kind=order").body["orders"]), (std::vector<uint64_t>{3, 2, 1}));
  EXPECT_EQ(ids(Get(alice + "?kind=contract").body["orders"]), (std::vector<uint64_t>{4}));
  HttpReply page = Get(alice + "?limit=3");
  EXPECT_EQ(ids(page.body["orders"]), (std::vector<uint64_t>{4, 3, 2}));
  EXPECT_EQ(page.body["next_before"], 2);
  HttpReply rest = Get(alice + "?limit=3&before=2");
  EXPECT_EQ(ids(rest.body["orders"]), (std::vector<uint64_t>{1}));
  EXPECT_TRUE(rest.body["next_before"].is_null());
  // The counterparty sees the contract too; a stranger has nothing.
  EXPECT_EQ(ids(Get("/v1/accounts/" + Addr(k().bob) + "/orders").body["orders"]),
            (std::vector<uint64_t>{5, 4}));
  EXPECT_EQ(Get("/v1/accounts/" + Addr(k().stranger) + "/orders").body["orders"], json::array());

  // Markets by interval, then zone; a page ends at an interval boundary.
  auto keys = [](const json& list) {
    std::vector<std::string> out;
    for (const auto& m : list)
      out.push_back(m["zone"].get<std::string>() + "@" +
                    std::to_string(m["interval_start_s"].get<int64_t>() - kS));
    return out;
  };
  HttpReply markets = Get("/v1/markets");
  ASSERT_EQ(markets.status, 200) << markets.raw;
  EXPECT_EQ(keys(markets.body["markets"]), (std::vector<std::string>{"Z1@0", "Z2@0", "Z1@900"}));
  EXPECT_EQ(markets.body["markets"][0]["buy_orders"], 1);
  EXPECT_EQ(markets.body["markets"][0]["sell_orders"], 1);
  EXPECT_EQ(markets.body["markets"][0]["status"], "open");
  EXPECT_EQ(markets.body["params"]["interval_s"], kLen);
  HttpReply two = Get("/v1/markets?limit=2");
  EXPECT_EQ(keys(two.body["markets"]), (std::vector<std::string>{"Z1@0", "Z2@0"}));
  EXPECT_EQ(two.body["next_from"], kS2);
  EXPECT_EQ(keys(Get("/v1/markets?from=" + std::to_string(kS2)).body["markets"]),
            (std::vector<std::string>{"Z1@900"}));
  HttpReply one = Get("/v1/markets?limit=1");  // one interval alone fills the page
  EXPECT_EQ(keys(one.body["markets"]), (std::vector<std::string>{"Z1@0"}));
  EXPECT_EQ(one.body["next_from"], kS + 1);
  EXPECT_EQ(keys(Get("/v1/markets?zone=Z1").body["markets"]),
            (std::vector<std::string>{"Z1@0", "Z1@900"}));
  EXPECT_EQ(keys(Get("/v1/markets?zone=Z1&to=" + std::to_string(kS2)).body["markets"]),
            (std::vector<std::string>{"Z1@0"}));
  EXPECT_EQ(Get("/v1/markets?zone=Z9").body["markets"], json::array());
}

TEST_F(MarketApiTest, BadParametersAreNamedAndMissingRecordsAre404) {
  Start();
  ASSERT_FALSE(HasFatalFailure());
  SetUpTraders();
  ASSERT_FALSE(HasFatalFailure());
  Place(k().alice, pb::SIDE_BUY, 100, 60);  // order 1
  RunOk(k().alice,
        MakeProposeContract(0, AddrOf(k().bob), pb::SIDE_BUY, "Z1", kS, 100, 70));  // contract 2
  const std::string s = std::to_string(kS);
  const std::string alice = Addr(k().alice);

  ExpectError(Get("/v1/markets?zone=a%21b"), 400, Code::kInvalidArgument,
              "zone must be a zone name");
  ExpectError(Get("/v1/markets?zone="), 400, Code::kInvalidArgument, "zone");
  ExpectError(Get("/v1/markets?from=abc"), 400, Code::kInvalidArgument,
              "from must be Unix seconds or an RFC 3339 time");
  ExpectError(Get("/v1/markets?to=-1"), 400, Code::kInvalidArgument, "to must be");
  ExpectError(Get("/v1/markets?from=5&to=5"), 400, Code::kInvalidArgument,
              "to (1970-01-01T00:00:05Z) must be later than from (1970-01-01T00:00:05Z)");
  ExpectError(Get("/v1/markets?limit=0"), 400, Code::kInvalidArgument,
              "limit must be between 1 and 500");
  ExpectError(Get("/v1/markets?limit=501"), 400, Code::kInvalidArgument,
              "limit must be between 1 and 500");
  ExpectError(Get("/v1/markets/Z1/abc"), 400, Code::kInvalidArgument,
              "interval must be Unix seconds or an RFC 3339 time");
  ExpectError(Get("/v1/markets/Z1/0"), 400, Code::kInvalidArgument, "interval must be after 1970");
  ExpectError(Get("/v1/markets/Z1/" + std::to_string(kS + 1)), 400, Code::kInvalidArgument,
              "interval " + FormatRfc3339Ms((kS + 1) * 1000) +
                  " is not aligned to the 15 minutes delivery intervals (the interval holding it starts at " +
                  FormatRfc3339Ms(kS * 1000) + ")");
  ExpectError(Get("/v1/markets/Z%21/" + s), 400, Code::kInvalidArgument,
              "zone must be a zone name");
  ExpectError(Get("/v1/markets/" + std::string(40, 'z') + "/" + s), 400, Code::kInvalidArgument,
              "zone");
  ExpectError(Get("/v1/markets/Z1/" + s + "?limit=x"), 400, Code::kInvalidArgument, "limit");
  // A market nobody traded is an empty book; a zone that does not exist is a 404.
  HttpReply untraded = Get("/v1/markets/Z1/" + std::to_string(kS + 100 * kLen));
  EXPECT_EQ(untraded.status, 200) << untraded.raw;
  EXPECT_EQ(untraded.body["status"], "empty") << untraded.raw;
  ExpectError(Get("/v1/markets/Z9/" + s), 404, Code::kNotFound, "no zone Z9");

  ExpectError(Get("/v1/orders/abc"), 400, Code::kInvalidArgument,
              "id must be a non-negative integer, got 'abc'");
  ExpectError(Get("/v1/orders/0"), 400, Code::kInvalidArgument, "id must be between 1");
  ExpectError(Get("/v1/orders/99999999999999999999"), 400, Code::kInvalidArgument, "id");
  ExpectError(Get("/v1/orders/999"), 404, Code::kNotFound, "no order 999");
  ExpectError(Get("/v1/orders/2"), 404, Code::kNotFound, "it is a contract: /v1/contracts/2");
  ExpectError(Get("/v1/contracts/1"), 404, Code::kNotFound,
              "no contract 1 (it is an order: /v1/orders/1)");
  ExpectError(Get("/v1/contracts/-4"), 400, Code::kInvalidArgument, "id");

  ExpectError(Get("/v1/accounts/nope/orders"), 400, Code::kInvalidArgument, "bad address 'nope'");
  ExpectError(Get("/v1/accounts/" + alice + "/orders?kind=trade"), 400, Code::kInvalidArgument,
              "kind must be order or contract");
  ExpectError(Get("/v1/accounts/" + alice + "/orders?before=x"), 400, Code::kInvalidArgument,
              "before must be");
  ExpectError(Get("/v1/accounts/" + alice + "/orders?limit=1000"), 400, Code::kInvalidArgument,
              "limit must be between 1 and 500");

  ExpectError(Get("/v1/trades"), 400, Code::kInvalidArgument,
              "give zone and interval (one market) or account");
  ExpectError(Get("/v1/trades?zone=Z1"), 400, Code::kInvalidArgument, "interval is missing");
  ExpectError(Get("/v1/trades?interval=" + s), 400, Code::kInvalidArgument, "zone is missing");
  ExpectError(Get("/v1/trades?zone=Z1&interval=" + s + "&account=" + alice), 400,
              Code::kInvalidArgument, "not both");
  ExpectError(Get("/v1/trades?account=v2g1xyz"), 400, Code::kInvalidArgument, "account: ");
  ExpectError(Get("/v1/trades?zone=Z1&interval=17"), 400, Code::kInvalidArgument, "not aligned");
  ExpectError(Get("/v1/trades?zone=Z1&interval=" + s + "&before=1"), 400, Code::kInvalidArgument,
              "before pages an account");
  ExpectError(Get("/v1/trades?zone=Z1&interval=" + s + "&after=x"), 400, Code::kInvalidArgument,
              "after must be");
  ExpectError(Get("/v1/trades?account=" + alice + "&after=1"), 400, Code::kInvalidArgument,
              "after pages one market");
  ExpectError(Get("/v1/trades?account=" + alice + "&before=zz"), 400, Code::kInvalidArgument,
              "before must be");
  ExpectError(Get("/v1/trades?account=" + alice + "&limit=0"), 400, Code::kInvalidArgument,
              "limit");
  ExpectError(Get("/v1/trades?zone=Z9&interval=" + s), 404, Code::kNotFound, "no zone Z9");
  HttpReply no_trades = Get("/v1/trades?zone=Z2&interval=" + s);
  EXPECT_EQ(no_trades.status, 200) << no_trades.raw;
  EXPECT_EQ(no_trades.body["trades"], json::array()) << no_trades.raw;

  ExpectError(Get("/v1/settlements"), 400, Code::kInvalidArgument,
              "give zone and interval (one market) or account");
  ExpectError(Get("/v1/settlements?zone=Z1&interval=" + s + "&account=bob"), 400,
              Code::kInvalidArgument, "account: ");
  ExpectError(Get("/v1/settlements?zone=%FF&interval=" + s), 400, Code::kInvalidArgument, "zone");
  ExpectError(Get("/v1/settlements?zone=Z9&interval=" + s), 404, Code::kNotFound, "no zone Z9");
  ExpectError(Get("/v1/settlements?account=" + alice + "&limit=-1"), 400, Code::kInvalidArgument,
              "limit");

  // Bytes that are not UTF-8 are echoed safely (still JSON, still a 400).
  HttpReply weird = Get("/v1/orders/%FF%FE");
  EXPECT_EQ(weird.status, 400) << weird.raw;
  EXPECT_TRUE(weird.body.is_object()) << weird.raw;
  EXPECT_EQ(Get("/v1/health").status, 200);
}

}  // namespace
}  // namespace v2g::nodetest
