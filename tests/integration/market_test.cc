// Four real validators, one whole energy-market cycle with one-minute delivery intervals: vehicle
// meters of three owners sell into the next open interval, a grid company buys, the auction
// clears at gate closure, the vehicles' signed readings arrive live during the interval (one
// over-delivers, one delivers exactly, one partly, one not at all), and settlement pays out after
// the grace period. Every node must then hold the same market, the same trades with the same
// numbers and the same balances, and those numbers must be the ones this test works out on its
// own from the rules in contracts/market.h. verify-chain passes on every stopped node.
//
// Block times come from the wall clock, so the test waits on observed chain state (with generous
// deadlines), never on fixed sleeps; the only wall-clock waits are for a reading's interval to be
// over before it is sent, as a real meter would.
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <optional>

#include "common/bech32.h"
#include "common/crypto.h"
#include "contracts/market.h"
#include "tests/integration/harness_chain.h"
#include "wallet/actions.h"
#include "wallet/client.h"
#include "wallet/tx_builder.h"

namespace v2g {
namespace {

using json = nlohmann::json;
using testing::HttpGet;

const std::string kV2gd = V2GD_PATH;
const std::string kV2g = V2G_PATH;
constexpr int kNodes = 4;
constexpr int64_t kIntervalS = 60;  // the shortest settlement interval genesis allows
constexpr int64_t kGateS = 10;
constexpr int64_t kGraceS = 10;
// Orders go in at least this long before gate closure (five txs, each waiting for its commit).
constexpr int64_t kOrderMarginS = 20;
// Readings cover [S, S + kReadingsS) in steps of kStepS; the last one is sent kIntervalS -
// kReadingsS + kGraceS seconds before settlement is due, so a slow commit cannot miss it.
constexpr int64_t kStepS = 10;
constexpr int64_t kSteps = 4;
constexpr int64_t kReadingsS = kStepS * kSteps;
const std::string kZone = "CN-SH";
const std::string kDenom = "CNY";

using testing::Commit;
using testing::MakeParty;
using testing::NowS;
using testing::Party;
using testing::PollUntil;
using testing::SleepUntilWall;

// An int64 the API sends as a number, a decimal string, or a CNY amount.
int64_t Num(const json& v) { return testing::JsonInt(v, kDenom); }

int64_t BalanceOn(ApiClient& client, const std::string& address) {
  return testing::BalanceOn(client, address, kDenom);
}

// One vehicle meter, what it sells and exports, and the operator's charger it is plugged into
// (meter id "<vehicle>-ch"), whose readings name it: only what the charger attests counts.
struct Vehicle {
  std::string meter_id;
  size_t owner = 0;  // index into the sellers
  KeyPair device = KeyPair::Generate();
  KeyPair charger_device = KeyPair::Generate();
  int64_t sell_wh = 0;
  int64_t limit_price = 0;               // minimal CNY units per kWh
  std::array<int64_t, kSteps> export_wh{};  // per reading step inside the delivery interval
  std::array<int64_t, kSteps> charger_export_wh{};  // what the charger attests of it
  uint64_t seq = 0;
  int64_t import_total = 0, export_total = 0;
  int64_t charger_import_total = 0, charger_export_total = 0;
};

Vehicle MakeVehicle(std::string meter_id, size_t owner, int64_t sell_wh, int64_t limit_price,
                    std::array<int64_t, kSteps> export_wh, std::optional<std::array<int64_t, kSteps>> charger = {}) {
  Vehicle v;
  v.meter_id = std::move(meter_id);
  v.owner = owner;
  v.sell_wh = sell_wh;
  v.limit_price = limit_price;
  v.export_wh = export_wh;
  v.charger_export_wh = charger.value_or(export_wh);
  return v;
}

std::string ChargerOf(const Vehicle& v) { return v.meter_id + "-ch"; }

// The charger's reading over `vehicle_reading`'s span (same seq: it mirrors every one), naming it.
pb::MeterReading ChargerReading(Vehicle& v, const pb::MeterReading& vehicle_reading, int64_t import_wh,
                                int64_t export_wh) {
  pb::MeterReading r = vehicle_reading;
  r.set_meter_id(ChargerOf(v));
  v.charger_import_total += import_wh;
  v.charger_export_total += export_wh;
  r.set_import_wh_total(v.charger_import_total);
  r.set_export_wh_total(v.charger_export_total);
  r.set_plugged_meter_id(v.meter_id);
  return r;
}

pb::MeterReading NextReading(Vehicle& v, int64_t start_s, int64_t import_wh, int64_t export_wh) {
  pb::MeterReading r;
  r.set_meter_id(v.meter_id);
  r.set_seq(++v.seq);
  r.set_interval_start_s(start_s);
  r.set_interval_end_s(start_s + kStepS);
  v.import_total += import_wh;
  v.export_total += export_wh;
  r.set_import_wh_total(v.import_total);
  r.set_export_wh_total(v.export_total);
  r.set_soc_permille(700);
  r.set_soh_permille(980);
  return r;
}

// What the test expects of one trade, worked out from contracts/market.h's rules.
struct ExpectedTrade {
  size_t vehicle = 0;
  int64_t energy_wh = 0;
  int64_t escrow = 0, delivered_wh = 0, seller_paid = 0, buyer_refund = 0, penalty = 0;
};

// num >= 0; the test's products stay far below 2^63.
int64_t FloorDiv(int64_t num, int64_t den) { return num / den; }

TEST(MarketOnFourValidators, FullCycleSettlesAlikeOnEveryNode) {
  testing::TempDir dir;
  Party issuer = MakeParty("issuer");  // issuer of CNY, operator and grid company in the testnet genesis
  std::vector<Party> owners{MakeParty("ev-owner-1"), MakeParty("ev-owner-2"), MakeParty("ev-owner-3")};
  Party grid = MakeParty("grid");

  testing::Testnet net;
  testing::Testnet::Options opts;
  opts.v2gd = kV2gd;
  opts.nodes = kNodes;
  opts.issuer = issuer.text;
  opts.extra_args = {"--settlement-interval", std::to_string(kIntervalS), "--gate-closure",
                     std::to_string(kGateS), "--market-grace", std::to_string(kGraceS)};
  ASSERT_TRUE(net.Start(dir.path(), opts));
  const json& genesis = net.genesis();
  ASSERT_EQ(genesis["params"]["market_denom"], kDenom);
  ASSERT_EQ(Num(genesis["params"]["settlement_interval_s"]), kIntervalS);
  const int64_t collateral_bps = Num(genesis["params"]["market_collateral_bps"]);
  const int64_t penalty_bps = Num(genesis["params"]["market_penalty_bps"]);
  ASSERT_GT(penalty_bps, 0);
  const int base = net.port(0);
  ApiClient& api = net.client(0);
  const std::string chain_id = net.chain_id();

  // Four vehicles of three owners (the first owns two), bidirectional 120 kW chargers: up to
  // 2000 Wh in a one-minute interval, 333 Wh in a 10 s reading.
  //   sell            limit  exports in [S, S+40)           delivers
  //   ev1-a  1111 Wh  1.75   300 x 4 = 1200                   all (and more, which pays nothing)
  //   ev1-b   420 Wh  1.80   nothing: it charges instead      none: penalty, capped by collateral
  //   ev2-a   857 Wh  1.90   215 + 215 + 215 + 212 = 857      845: its charger attests 200 of the last 212
  //   ev3-a  1003 Wh  2.40   150 + 150 = 300                  part of its 612 Wh trade
  std::vector<Vehicle> fleet{
      MakeVehicle("ev1-a", 0, 1111, 175, {300, 300, 300, 300}),
      MakeVehicle("ev1-b", 0, 420, 180, {0, 0, 0, 0}),
      MakeVehicle("ev2-a", 1, 857, 190, {215, 215, 215, 212}, std::array<int64_t, kSteps>{215, 215, 215, 200}),
      MakeVehicle("ev3-a", 2, 1003, 240, {150, 150, 0, 0}),
  };
  constexpr int64_t kBuyWh = 3000, kBuyLimit = 260;
  // The auction (bids by price descending, asks ascending): the bid takes 1111 + 420 + 857 Wh
  // and 612 of ev3-a's 1003; ev3-a is left partly unmatched, so the price is
  // floor(mid[max(last ask 240, -), min(last bid 260, next ask 240)]) = 240, volume 3000.
  constexpr int64_t kPrice = 240;
  const std::array<int64_t, 4> kFilledWh{1111, 420, 857, 612};

  for (auto* p : {&owners[0], &owners[1], &owners[2]}) {
    ASSERT_TRUE(Commit(api, issuer.key, MakeMint(0, p->address, kDenom, 100'00)));
  }
  ASSERT_TRUE(Commit(api, issuer.key, MakeMint(0, grid.address, kDenom, 1000'00)));
  for (const auto& v : fleet) {
    ASSERT_TRUE(Commit(api, issuer.key,
                       MakeRegisterMeter(0, chain_id, issuer.address, v.meter_id, v.device, pb::METER_KIND_VEHICLE, kZone,
                                         owners[v.owner].address, 120'000, 120'000, 120'000)));
    ASSERT_TRUE(Commit(api, issuer.key,
                       MakeRegisterMeter(0, chain_id, issuer.address, ChargerOf(v), v.charger_device,
                                         pb::METER_KIND_CHARGER, kZone, issuer.address, 120'000, 120'000, 0)));
  }
  std::map<std::string, int64_t> before;
  for (const auto& p : owners) before[p.text] = BalanceOn(api, p.text);
  before[grid.text] = BalanceOn(api, grid.text);

  // The delivery interval: the first whose gate closes at least kOrderMarginS from now.
  const int64_t now = NowS();
  const int64_t S = (now + kOrderMarginS + kGateS + kIntervalS - 1) / kIntervalS * kIntervalS;
  for (const auto& v : fleet) {
    ASSERT_TRUE(Commit(api, owners[v.owner].key,
                       MakePlaceOrder(0, pb::SIDE_SELL, kZone, S, v.sell_wh, v.limit_price, v.meter_id)))
        << v.meter_id;
  }
  ASSERT_TRUE(Commit(api, grid.key, MakePlaceOrder(0, pb::SIDE_BUY, kZone, S, kBuyWh, kBuyLimit)));
  ASSERT_LT(NowS(), S - kGateS) << "orders took longer than " << kOrderMarginS << " s to commit";

  const std::string market_path = "/v1/markets/" + kZone + "/" + std::to_string(S);
  auto market_status = [&](int port) {
    auto r = HttpGet(port, market_path);
    return r.status == 200 ? r.body.value("status", std::string()) : std::string();
  };
  ASSERT_TRUE(PollUntil(S - kGateS + 90, [&] { return market_status(base) == "cleared"; }))
      << "market " << market_path << " not cleared: " << HttpGet(base, market_path).body.dump();

  // Live readings: a baseline ending at S, then one reading per meter every kStepS, each sent once
  // its interval is over. ev1-b charges instead of discharging.
  // Each vehicle's reading is followed by its charger's.
  std::vector<pb::MeterReading> batch;
  for (auto& v : fleet) {
    batch.push_back(NextReading(v, S - kStepS, 0, 0));
    batch.push_back(ChargerReading(v, batch.back(), 0, 0));
  }
  for (int64_t k = 0; k <= kSteps; ++k) {
    for (size_t i = 0; i < batch.size(); ++i) {
      SignReading(i % 2 == 0 ? fleet[i / 2].device : fleet[i / 2].charger_device, chain_id, batch[i]);
    }
    SubmitResult res;
    ASSERT_TRUE(Commit(api, issuer.key, MakeSubmitReadings(0, batch), &res)) << "step " << k;
    ASSERT_FALSE(res.raw.contains("rejected_readings") && !res.raw["rejected_readings"].empty())
        << res.raw.dump();
    if (k == kSteps) break;
    batch.clear();
    const int64_t start = S + k * kStepS;
    for (auto& v : fleet) {
      const int64_t exp = v.export_wh[static_cast<size_t>(k)];
      batch.push_back(NextReading(v, start, exp == 0 ? 100 : 0, exp));
      batch.push_back(ChargerReading(v, batch.back(), exp == 0 ? 100 : 0, v.charger_export_wh[static_cast<size_t>(k)]));
    }
    SleepUntilWall(start + kStepS);
  }
  ASSERT_LT(NowS(), S + kIntervalS + kGraceS) << "readings committed after settlement was due";

  // Settlement, on every node.
  for (int i = 0; i < kNodes; ++i) {
    ASSERT_TRUE(PollUntil(S + kIntervalS + kGraceS + 90, [&] { return market_status(base + 10 * i) == "settled"; }))
        << "node " << i << ": " << HttpGet(base + 10 * i, market_path).body.dump();
  }

  // What the rules say, worked out here.
  std::vector<ExpectedTrade> want;
  int64_t delivered_total = 0, buyer_pays = 0, buyer_gets_penalties = 0;
  std::map<std::string, int64_t> after = before;
  for (size_t i = 0; i < fleet.size(); ++i) {
    const Vehicle& v = fleet[i];
    ExpectedTrade t;
    t.vehicle = i;
    t.energy_wh = kFilledWh[i];
    int64_t exported = 0, confirmed = 0;
    for (int64_t e : v.export_wh) exported += e;
    for (int64_t e : v.charger_export_wh) confirmed += e;
    t.escrow = FloorDiv(t.energy_wh * kPrice, 1000);
    t.delivered_wh = std::min({exported, confirmed, t.energy_wh});  // a car counts up to its charger
    t.seller_paid = FloorDiv(t.delivered_wh * kPrice, 1000);
    t.buyer_refund = t.escrow - t.seller_paid;
    // The collateral left after clearing is the filled part's, at the sell's own limit price.
    const int64_t collateral = FloorDiv(t.energy_wh * v.limit_price * collateral_bps, 10'000'000);
    t.penalty = std::min(collateral, FloorDiv((t.energy_wh - t.delivered_wh) * kPrice * penalty_bps,
                                              10'000'000));
    delivered_total += t.delivered_wh;
    buyer_pays += t.seller_paid;
    buyer_gets_penalties += t.penalty;
    after[owners[v.owner].text] += t.seller_paid - t.penalty;
    want.push_back(t);
  }
  after[grid.text] += buyer_gets_penalties - buyer_pays;
  // The cases this test is meant to cover really occur.
  EXPECT_EQ(want[0].delivered_wh, want[0].energy_wh);  // over-delivery pays the trade only
  EXPECT_EQ(want[1].delivered_wh, 0);
  EXPECT_LT(want[1].penalty, FloorDiv(want[1].energy_wh * kPrice * penalty_bps, 10'000'000));
  EXPECT_EQ(want[2].delivered_wh, 845);  // capped at its charger's figure, not the car's 857
  EXPECT_GT(want[3].delivered_wh, 0);
  EXPECT_LT(want[3].delivered_wh, want[3].energy_wh);
  EXPECT_GT(want[3].penalty, 0);

  const std::string module = EncodeAddress(MarketModuleAddress());
  const std::string trades_path = "/v1/trades?zone=" + kZone + "&interval=" + std::to_string(S);
  json market0, trades0;
  for (int i = 0; i < kNodes; ++i) {
    SCOPED_TRACE("node " + std::to_string(i));
    const int port = base + 10 * i;
    auto m = HttpGet(port, market_path);
    ASSERT_EQ(m.status, 200) << m.body.dump();
    EXPECT_EQ(Num(m.body["clearing_price"]), kPrice);
    EXPECT_EQ(Num(m.body["cleared_energy_wh"]), kBuyWh);
    EXPECT_EQ(Num(m.body["delivered_energy_wh"]), delivered_total);
    EXPECT_EQ(Num(m.body["trades"]), static_cast<int64_t>(fleet.size()));
    auto tr = HttpGet(port, trades_path);
    ASSERT_EQ(tr.status, 200) << tr.body.dump();
    const json& trades = tr.body["trades"];
    ASSERT_EQ(trades.size(), want.size()) << tr.body.dump();
    for (const auto& t : want) {
      const Vehicle& v = fleet[t.vehicle];
      SCOPED_TRACE(v.meter_id);
      const json* got = nullptr;
      for (const auto& x : trades) {
        if (x["meter_id"] == v.meter_id) got = &x;
      }
      ASSERT_NE(got, nullptr) << tr.body.dump();
      EXPECT_EQ((*got)["seller"], owners[v.owner].text);
      EXPECT_EQ((*got)["buyer"], grid.text);
      EXPECT_EQ(Num((*got)["price"]), kPrice);
      EXPECT_EQ(Num((*got)["energy_wh"]), t.energy_wh);
      EXPECT_EQ(Num((*got)["escrow"]), t.escrow);
      EXPECT_EQ((*got)["settled"], true);
      EXPECT_EQ(Num((*got)["delivered_wh"]), t.delivered_wh);
      EXPECT_EQ(Num((*got)["seller_paid"]), t.seller_paid);
      EXPECT_EQ(Num((*got)["buyer_refund"]), t.buyer_refund);
      EXPECT_EQ(Num((*got)["penalty"]), t.penalty);
    }
    if (i == 0) {
      market0 = m.body;
      trades0 = tr.body;
    } else {
      EXPECT_EQ(m.body, market0);
      EXPECT_EQ(tr.body, trades0);
    }
    for (const auto& [address, amount] : after) EXPECT_EQ(BalanceOn(net.client(i), address), amount) << address;
    EXPECT_EQ(BalanceOn(net.client(i), module), 0) << "the market module account " << module;
    // The attested export backing the trades is what the meters sent.
    for (const auto& v : fleet) {
      auto r = HttpGet(port, "/v1/meters/" + v.meter_id + "/readings?limit=10");
      ASSERT_EQ(r.status, 200) << r.body.dump();
      int64_t attested = 0;
      for (const auto& x : r.body["intervals"]) {
        if (Num(x["interval_start_s"]) == S) attested = Num(x["export_wh"]);
      }
      int64_t sent = 0;
      for (int64_t e : v.export_wh) sent += e;
      EXPECT_EQ(attested, sent) << v.meter_id;
    }
  }

  // The light client (issue 17): each vehicle's attested energy and each trade's settlement,
  // verified against node 2 from a checkpoint taken from node 0, are what the API said.
  {
    const std::string home = dir.path() + "/wallet";
    auto v2g = [&](std::vector<std::string> args) {
      std::vector<std::string> argv = {
          kV2g,       "--node", "http://127.0.0.1:" + std::to_string(base + 20), "--home", home,
          "--output", "json"};
      argv.insert(argv.end(), args.begin(), args.end());
      auto r = testing::Run(argv);
      EXPECT_EQ(r.exit_code, 0) << r.output;
      json j = json::parse(r.output, nullptr, false);
      EXPECT_FALSE(j.is_discarded()) << r.output;
      return j;
    };
    const std::string id1 = HttpGet(base, "/v1/blocks/1").body["block_id"].get<std::string>();
    v2g({"verify", "trust", "1", id1});
    // The state after block H is proven by header H + 1: wait for the header after settlement's.
    const int64_t settled_at = Num(market0["settled_height"]);
    ASSERT_TRUE(PollUntil(NowS() + 30, [&] {
      auto st = net.client(2).GetStatus();
      return st.ok() && st->latest_height >= settled_at + 2;
    }));
    for (const auto& v : fleet) {
      json m = v2g({"verify", "meter", v.meter_id, "--from", std::to_string(S), "--to",
                    std::to_string(S + kIntervalS)});
      ASSERT_EQ(m["intervals"].size(), 1u) << m.dump();
      int64_t sent = 0;
      for (int64_t e : v.export_wh) sent += e;
      EXPECT_EQ(Num(m["export_wh"]), sent) << v.meter_id;
      EXPECT_EQ(m["more"], false);
    }
    for (const auto& x : trades0["trades"]) {
      json t =
          v2g({"verify", "settlement", kZone, std::to_string(S), std::to_string(Num(x["index"]))});
      EXPECT_EQ(t["settled"], true) << t.dump();
      EXPECT_EQ(Num(t["delivered_wh"]), Num(x["delivered_wh"]));
      EXPECT_EQ(Num(t["seller_paid"]), Num(x["seller_paid"]));
      EXPECT_EQ(Num(t["buyer_refund"]), Num(x["buyer_refund"]));
      EXPECT_EQ(Num(t["penalty"]), Num(x["penalty"]));
    }
  }

  ASSERT_TRUE(net.Stop());
  for (int i = 0; i < kNodes; ++i) EXPECT_TRUE(net.VerifyChain(i));
}

}  // namespace
}  // namespace v2g
