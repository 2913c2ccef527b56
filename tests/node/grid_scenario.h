// The grid-services scenario the API tests share (grid_api_test.cc checks its numbers,
// api_privacy_test.cc who may read them): a market sale, a tariff, a reverse-discharge event with
// a single meter's and a pool's enrollment, a reward-points program and a pool, through
// settlement, over a real Store and Chain whose blocks are committed by hand at chosen times.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "common/amount.h"
#include "common/limits.h"
#include "common/time.h"
#include "contracts/grid.h"
#include "node/api/api.h"
#include "tests/node/api_test_util.h"

namespace v2g::nodetest {

constexpr int64_t kT0 = kGenesisTimeMs / 1000;  // 2026-01-01T00:00:00Z
constexpr int64_t kLen = 900;
constexpr int64_t kGate = 300;
constexpr int64_t kGrace = 300;
constexpr int64_t kS = kT0 + 3600;  // 01:00 UTC: the event's interval
constexpr int64_t kS2 = kS + kLen;  // 01:15 UTC: the billing interval
constexpr int64_t kTariffFrom = kT0 + kLen;
constexpr int64_t kGridCny = 1000000;  // 10,000.00 CNY for event budgets and feed-in
constexpr int64_t kIssuerPts = 1000;

inline KeyPair GridKey() { return Key(20); }
inline KeyPair AggKey() { return Key(21); }

static_assert(kLen == 900 && kGate == 300 && kGrace == 300, "the market EnableMarket sets");

inline void GridGenesis(GenesisState& g) {
  EnableMarket(g);
  g.roles.push_back({"grid_company", AddrOf(GridKey())});
  g.roles.push_back({"aggregator", AddrOf(AggKey())});
  for (auto& z : g.zones) z.grid_company = AddrOf(GridKey());  // Z1's tariffs and events are its
  g.balances.push_back({AddrOf(GridKey()), "CNY", kGridCny});
  g.balances.push_back({AddrOf(Key(3)), "PTS", kIssuerPts});  // the operator (issuer) sponsors points
}

// Import price per kWh by hour of day (UTC): 0.60 + 0.01 per hour.
inline std::vector<int64_t> Prices() {
  std::vector<int64_t> p;
  for (int64_t h = 0; h < 24; ++h) p.push_back(60 + h);
  return p;
}

class GridApiTest : public ManualApiTest {
 protected:
  void SetUp() override { StartNode(GridGenesis, "grid-api-test"); }

  // Contiguous readings of `meter`: (start, end, import total, export total) each, and the same
  // from the operator's charger it is plugged into, naming it (so the car's energy counts).
  void Attest(const KeyPair& owner, const KeyPair& device, const std::string& meter, uint64_t seq,
              const std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t>>& spans,
              int64_t at_s = 0) {
    std::vector<pb::MeterReading> rs;
    for (const auto& [start, end, imp, exp] : spans) {
      rs.push_back(SignedReading(device, meter, seq, start, end, imp, exp));
      rs.push_back(SignedReading(chargers_.at(meter), ChargerOf(meter), seq, start, end, imp, exp, meter));
      ++seq;
    }
    Approach(at_s);
    json t = RunOk(owner, MakeSubmitReadings(0, rs), at_s);
    EXPECT_FALSE(t.contains("rejected_readings")) << t.dump();
  }

  static json Cny(int64_t amount) {
    return {{"denom", "CNY"}, {"amount", std::to_string(amount)},
            {"display", FormatAmount(amount, 2)}};
  }

  // The whole scenario (see the test below); ids of what it created.
  struct Ids {
    uint64_t event = 0, program = 0, pool = 0, pool_sell = 0;
    json tariff_tx, enroll_pool_tx, pool_tx, join_tx, program_tx, pool_sell_tx, event_tx;
  };
  Ids Scenario();

  // The operator's (issuer's) charger of car `meter`, its device key Key(seed).
  void RegisterCharger(const std::string& meter, uint8_t seed) {
    chargers_.emplace(meter, Key(seed));
    RunOk(k().issuer, MakeRegisterMeter(0, kChainId, AddrOf(k().issuer), ChargerOf(meter), chargers_.at(meter),
                                        pb::METER_KIND_CHARGER, "Z1", AddrOf(k().issuer), 20000, 20000, 0));
  }
  static std::string ChargerOf(const std::string& meter) { return "ch-" + meter; }

  KeyPair grid_ = GridKey(), agg_ = AggKey();
  KeyPair dev_bob_ = Key(30), dev_alice_ = Key(31), dev_carol_ = Key(32);
  std::map<std::string, KeyPair> chargers_;
};

// bob's car sells 1 kWh in the market and enrolls on its own in a reverse-discharge event at kS
// (2.00 CNY/kWh); alice's and carol's cars enroll through agg's pool (10 % fee). bob and carol are
// billed under the zone's tariff; bob earns reward points (10 PTS per kWh sold or performed).
inline GridApiTest::Ids GridApiTest::Scenario() {
  Ids ids;
  RunOk(k().alice, MakeTransfer(0, AddrOf(k().bob), "CNY", 10000));
  RunOk(k().alice, MakeTransfer(0, AddrOf(agg_), "CNY", 1000));
  RunOk(k().issuer, MakeRegisterMeter(0, kChainId, AddrOf(k().issuer), "ev-bob", dev_bob_, pb::METER_KIND_VEHICLE,
                                      "Z1", AddrOf(k().bob), 20000, 20000, 60000));
  RunOk(k().issuer, MakeRegisterMeter(0, kChainId, AddrOf(k().issuer), "ev-alice", dev_alice_,
                                      pb::METER_KIND_VEHICLE, "Z1", AddrOf(k().alice), 20000, 20000,
                                      75000));
  RunOk(k().issuer, MakeRegisterMeter(0, kChainId, AddrOf(k().issuer), "ev-carol", dev_carol_,
                                      pb::METER_KIND_VEHICLE, "Z1", AddrOf(k().carol), 20000, 7000,
                                      40000));
  RegisterCharger("ev-bob", 40);
  RegisterCharger("ev-alice", 41);
  RegisterCharger("ev-carol", 42);
  ids.tariff_tx = RunOk(grid_, MakeSetTariff(0, "Z1", kTariffFrom, Prices(), 30));
  RunOk(grid_, MakeSetTariff(0, "Z1", kT0 + 86400, std::vector<int64_t>(24, 90), 20));  // tomorrow
  RunOk(k().bob, MakeEnrollTariff(0, "ev-bob"));
  RunOk(k().carol, MakeEnrollTariff(0, "ev-carol"));
  ids.pool_tx = RunOk(agg_, MakeCreatePool(0, "Z1 VPP", 1000));
  ids.pool = ids.pool_tx.value("created_id", uint64_t{0});
  ids.join_tx = RunOk(k().alice, MakeJoinPool(0, ids.pool, "ev-alice"));
  RunOk(k().carol, MakeJoinPool(0, ids.pool, "ev-carol"));
  ids.event_tx = RunOk(grid_, MakeCreateEvent(0, pb::EVENT_REVERSE_DISCHARGE, "Z1", kS, kS + kLen,
                                              50000, 200, 5000, kS - kLen, pb::BASELINE_UNSPECIFIED));
  ids.event = ids.event_tx.value("created_id", uint64_t{0});
  RunOk(k().bob, MakeEnrollEvent(0, ids.event, "ev-bob", 20000));
  ids.enroll_pool_tx = RunOk(agg_, MakeEnrollEvent(0, ids.event, "", 20000, 0, ids.pool));
  ids.program_tx = RunOk(k().issuer, MakeCreateProgram(0, pb::PROGRAM_REWARD_POINTS, "PTS", 10, 0,
                                                       "Z1", 1000, kS2 + kLen));
  ids.program = ids.program_tx.value("created_id", uint64_t{0});
  RunOk(k().bob, MakeJoinProgram(0, ids.program, "ev-bob"));
  RunOk(k().bob, MakePlaceOrder(0, pb::SIDE_SELL, "Z1", kS, 1000, 100, "ev-bob"));
  RunOk(k().alice, MakePlaceOrder(0, pb::SIDE_BUY, "Z1", kS, 1000, 100));
  ids.pool_sell_tx = RunOk(agg_, MakePoolSell(0, ids.pool, "Z1", kS2, 1000, 500));  // no buyer
  ids.pool_sell = ids.pool_sell_tx.value("created_id", uint64_t{0});
  Tick(kS - kGate);  // kS clears
  // kS: bob exports 4 kWh (1 to the market, 3 to the event); alice 2 and carol 1 for the pool.
  // kS2: bob imports 2 kWh and exports 0.5 (feed-in); carol imports 5 kWh.
  Attest(k().bob, dev_bob_, "ev-bob", 1, {{kS, kS + 1, 0, 0}, {kS + 1, kS2, 0, 4000}}, kS2);
  Attest(k().alice, dev_alice_, "ev-alice", 1, {{kS, kS + 1, 0, 0}, {kS + 1, kS2, 0, 2000}});
  Attest(k().carol, dev_carol_, "ev-carol", 1, {{kS, kS + 1, 0, 0}, {kS + 1, kS2, 0, 1000}});
  Tick(kS2 + kGrace);  // kS settles: market, event, tariffs, program
  Attest(k().bob, dev_bob_, "ev-bob", 3, {{kS2, kS2 + kLen, 2000, 4500}}, kS2 + kLen);
  Attest(k().carol, dev_carol_, "ev-carol", 3, {{kS2, kS2 + kLen, 5000, 1000}});
  Tick(kS2 + kLen + kGrace);      // kS2 settles
  Tick(kS2 + 2 * kLen + kGrace);  // the program's end passes: it closes
  return ids;
}

}  // namespace v2g::nodetest
