// A one-validator chain state for contract tests: genesis with CNY and PTS, a grid company, an
// operator, owners alice, bob and carol, two vehicle meters, and helpers to run blocks at chosen
// times, attest energy with signed readings, place orders and check every ledger invariant.
// Each vehicle `id` comes with the operator's charger "ch-<id>" (owned by the operator, same zone):
// Attest sends the charger's readings naming the vehicle with the same energy, so the vehicle's
// energy is corroborated (contracts/meters.h) and earns as its own readings say; AttestOwn sends
// the vehicle's readings alone and AttestCharger the charger's alone.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/bech32.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "contracts/app.h"
#include "contracts/grid.h"
#include "contracts/kv.h"
#include "contracts/market.h"
#include "contracts/meters.h"
#include "contracts/state.h"
#include "genesis/genesis.h"
#include "wallet/tx_builder.h"

namespace v2g {
namespace testing_ledger {

constexpr char kChainId[] = "v2g-market-1";
constexpr int64_t kT0 = 1795658400;  // a multiple of 900 s
constexpr int64_t kLen = 900;
constexpr int64_t kGate = 300;
constexpr int64_t kGrace = 300;
constexpr int64_t kS = kT0 + 3600;  // the delivery interval most tests trade

inline KeyPair Key(uint8_t n) {
  InitCrypto();
  return KeyPair::FromSeed(Bytes(kSeedBytes, n));
}
inline Address AddrOf(const KeyPair& k) { return AddressFromPublicKey(k.public_key()); }
inline Code CodeOf(const pb::TxResult& r) { return static_cast<Code>(r.code()); }

class LedgerFixture : public ::testing::Test {
 protected:
  LedgerFixture()
      : validator_(Key(1)), issuer_(Key(2)), operator_(Key(3)), grid_(Key(20)), grid2_(Key(21)), alice_(Key(10)),
        bob_(Key(11)), carol_(Key(12)), state_(&base_) {}

  void SetUp() override {
    GenesisState g;
    g.chain_id = kChainId;
    g.genesis_time_ms = kT0 * 1000;
    GenesisValidator v;
    v.name = "val-0";
    v.address = AddrOf(validator_);
    v.consensus_pubkey = validator_.public_key();  // the address is derived from it
    v.node_pubkey = Key(5).public_key();
    v.power = 10;
    g.validators.push_back(v);
    g.denoms.push_back({"CNY", 2, AddrOf(issuer_)});
    g.balances.push_back({AddrOf(grid_), "CNY", 1'000'000});
    g.balances.push_back({AddrOf(grid2_), "CNY", 1'000'000});
    g.balances.push_back({AddrOf(alice_), "CNY", 10'000});
    g.balances.push_back({AddrOf(bob_), "CNY", 10'000});
    g.balances.push_back({AddrOf(carol_), "CNY", 3});
    g.denoms.push_back({"PTS", 0, AddrOf(issuer_)});
    g.balances.push_back({AddrOf(operator_), "CNY", 100'000});
    g.balances.push_back({AddrOf(operator_), "PTS", 1'000'000});
    g.roles.push_back({"operator", AddrOf(operator_)});
    g.roles.push_back({"grid_company", AddrOf(grid_)});
    g.roles.push_back({"grid_company", AddrOf(grid2_)});
    // Pools need the aggregator role: the operator's, grid2_'s, bob's, and Key(40)'s (pools_test's
    // agg_).
    for (const KeyPair* k : {&operator_, &grid2_, &bob_}) g.roles.push_back({"aggregator", AddrOf(*k)});
    g.roles.push_back({"aggregator", AddrOf(Key(40))});
    // grid_ owns the zones the tests trade and bill in; grid2_ owns one of its own.
    for (const char* z : {"GD-SZ", "GD-GZ", "CN-SH", "EV-GZ"}) g.zones.push_back({z, AddrOf(grid_)});
    for (int z = 0; z < 10; ++z) g.zones.push_back({"Z" + std::to_string(z), AddrOf(grid_)});
    g.zones.push_back({"GD-FS", AddrOf(grid2_)});
    g.params = DefaultParams();
    g.params.market_denom = "CNY";
    g.params.settlement_interval_s = kLen;
    g.params.market_gate_closure_s = kGate;
    g.params.market_grace_s = kGrace;
    g.params.market_collateral_bps = 1000;
    g.params.market_penalty_bps = 1000;
    Configure(g);
    ASSERT_TRUE(ValidateGenesis(g).ok()) << ValidateGenesis(g).message();
    ASSERT_TRUE(InitChain(g, state_).ok());
    ctx_.chain_id = kChainId;
    ctx_.height = 1;
    ctx_.time_ms = kT0 * 1000;
    ctx_.proposer = AddrOf(validator_);
    // ev-a: alice's car, 20 kW export = 5,000 Wh per interval. ev-b: bob's, 7 kW = 1,750 Wh.
    RegisterMeter("ev-a", 30, AddrOf(alice_), 20000);
    RegisterMeter("ev-b", 31, AddrOf(bob_), 7000);
  }

  // A test's changes to the genesis before it is validated and applied.
  virtual void Configure(GenesisState&) {}

  void At(int64_t t_s) {
    ASSERT_GE(t_s * 1000, ctx_.time_ms);
    ctx_.time_ms = t_s * 1000;
  }
  // One block with one tx at the current time (timers due run first, as in every block).
  // When the chain charges fees (params.fee_min) and `body` offers none, it pays the required fee
  // unless auto_fee_ is off.
  pb::TxResult Run(const KeyPair& k, pb::TxBody body) {
    body.set_nonce(LoadAccount(state_, AddrOf(k)).nonce() + 1);
    if (const pb::ParamsRecord p = LoadParams(state_); auto_fee_ && p.fee_min() > 0 && !body.has_fee()) {
      body.mutable_fee()->set_denom(p.market_denom());
      body.mutable_fee()->set_amount(RequiredFee(p, body));
    }
    ++ctx_.height;
    BlockOutcome out = ExecuteBlock(ctx_, {SignTx(k, kChainId, std::move(body))}, nullptr, state_);
    V2G_ASSERT(out.results.size() == 1);
    ctx_.time_ms += 1;  // block times strictly increase
    return out.results[0];
  }
  // An empty block at `t_s`.
  void Tick(int64_t t_s) {
    At(t_s);
    ++ctx_.height;
    ExecuteBlock(ctx_, {}, nullptr, state_);
    ctx_.time_ms += 1;
  }

  // Vehicle `id` (device Key(seed)) and its charger ChargerOf(id) (device Key(seed + 100), the
  // operator's, same power and zone).
  // Empty blocks from `t_s` on until the grid pass has settled every interval due by then.
  void SettleThrough(int64_t t_s) {
    for (int i = 0; i < 200; ++i) {
      Tick(t_s + i);
      auto v = state_.Get("s/grid_cursor");
      ASSERT_TRUE(v.has_value());
      auto c = DecodeRecord<pb::GridCursor>(*v);
      if ((c.next_interval_s() + kLen + kGrace) * 1000 > ctx_.time_ms) return;
    }
    FAIL() << "grid services did not catch up";
  }

  void RegisterMeter(const std::string& id, uint8_t seed, const Address& owner, int64_t max_export_w,
                     const std::string& zone = "GD-SZ") {
    RegisterKind(id, seed, owner, max_export_w, zone, pb::METER_KIND_VEHICLE);
    RegisterKind(ChargerOf(id), static_cast<uint8_t>(seed + 100), AddrOf(operator_), max_export_w, zone,
                 pb::METER_KIND_CHARGER);
  }
  void RegisterKind(const std::string& id, uint8_t seed, const Address& owner, int64_t max_w, const std::string& zone,
                    pb::MeterKind kind) {
    devices_.emplace(id, Key(seed));
    auto r = Run(operator_, MakeRegisterMeter(0, kChainId, AddrOf(operator_), id, devices_.at(id), kind, zone, owner,
                                              max_w, max_w, kind == pb::METER_KIND_VEHICLE ? 60000 : 0));
    ASSERT_EQ(CodeOf(r), Code::kOk) << r.log();
  }
  static std::string ChargerOf(const std::string& vehicle_id) { return "ch-" + vehicle_id; }

  // Signed readings that attest `import_wh` and `export_wh` to meter `id` in the interval starting
  // at `start` (after a bridge reading [start, start + 1) when the meter's last reading ended
  // elsewhere, so the energy lands in exactly that interval). Submitted at the current block
  // time, which must be at or after the interval's end minus the skew.
  void Attest(const std::string& id, int64_t start, int64_t import_wh, int64_t export_wh) {
    AttestOwn(id, start, import_wh, export_wh);
    if (devices_.count(ChargerOf(id))) AttestCharger(ChargerOf(id), id, start, import_wh, export_wh);
  }
  // The charger's readings alone, naming `vehicle` (empty: none) on the one carrying the energy.
  void AttestCharger(const std::string& charger, const std::string& vehicle, int64_t start, int64_t import_wh,
                     int64_t export_wh) {
    AttestOwn(charger, start, import_wh, export_wh, vehicle);
  }
  // Meter `id`'s readings alone.
  void AttestOwn(const std::string& id, int64_t start, int64_t import_wh, int64_t export_wh,
                 const std::string& plugged = "") {
    Meter& m = meters_[id];
    std::vector<pb::MeterReading> rs;
    // The bridge lies in the interval itself: a reading for the interval before it may already be
    // too late (that interval settles kGrace after its end).
    int64_t from = start;
    if (m.seq == 0 || m.last_end != start) {
      rs.push_back(Reading(id, ++m.seq, start, start + 1, m.import_total, m.export_total));
      from = start + 1;
    }
    m.import_total += import_wh;
    m.export_total += export_wh;
    rs.push_back(Reading(id, ++m.seq, from, start + kLen, m.import_total, m.export_total, plugged));
    m.last_end = start + kLen;
    auto r = Run(bob_, MakeSubmitReadings(0, rs));
    ASSERT_EQ(CodeOf(r), Code::kOk) << r.log();
    ASSERT_EQ(r.rejected_readings_size(), 0) << r.rejected_readings(0).message();
  }
  void Deliver(const std::string& id, int64_t start, int64_t export_wh) { Attest(id, start, 0, export_wh); }
  pb::MeterReading Reading(const std::string& id, uint64_t seq, int64_t start, int64_t end, int64_t imp, int64_t exp,
                           const std::string& plugged = "") {
    pb::MeterReading r;
    r.set_meter_id(id);
    r.set_seq(seq);
    r.set_interval_start_s(start);
    r.set_interval_end_s(end);
    r.set_import_wh_total(imp);
    r.set_export_wh_total(exp);
    r.set_soc_permille(500);
    r.set_soh_permille(980);
    r.set_plugged_meter_id(plugged);
    SignReading(devices_.at(id), kChainId, r);
    return r;
  }

  uint64_t Place(const KeyPair& k, pb::Side side, int64_t energy, int64_t price, const std::string& meter = "",
                 int64_t start = kS, const std::string& zone = "GD-SZ") {
    auto r = Run(k, MakePlaceOrder(0, side, zone, start, energy, price, meter));
    EXPECT_EQ(CodeOf(r), Code::kOk) << r.log();
    return r.created_id();
  }

  int64_t Bal(const KeyPair& k) const { return BalanceOf(LoadAccount(state_, AddrOf(k)), "CNY"); }
  int64_t Module() const { return BalanceOf(LoadAccount(state_, MarketModuleAddress()), "CNY"); }
  pb::OrderRecord Order(uint64_t id) const { return *LoadOrder(state_, id); }
  pb::MarketRecord Market(int64_t start = kS) const { return *LoadMarket(state_, "GD-SZ", start); }

  // The tx must fail with `code`, mention `needle` in its message, and change nothing.
  void ExpectRejected(const KeyPair& k, pb::TxBody body, Code code, const std::string& needle) {
    const Overlay::Writes before = state_.writes();
    auto r = Run(k, std::move(body));
    EXPECT_EQ(CodeOf(r), code) << CodeName(CodeOf(r)) << ": " << r.log();
    EXPECT_NE(r.log().find(needle), std::string::npos) << "log '" << r.log() << "' lacks '" << needle << "'";
    EXPECT_EQ(state_.writes(), before) << "a rejected tx changed the state";
  }

  void CheckInvariants() {
    EXPECT_TRUE(CheckConservation(state_).ok()) << CheckConservation(state_).message();
    EXPECT_TRUE(CheckMarketEscrow(state_).ok()) << CheckMarketEscrow(state_).message();
    EXPECT_TRUE(CheckGridEscrow(state_).ok()) << CheckGridEscrow(state_).message();
  }

  struct Meter {
    uint64_t seq = 0;
    int64_t import_total = 0;
    int64_t export_total = 0;
    int64_t last_end = 0;
  };

  KeyPair validator_, issuer_, operator_, grid_, grid2_, alice_, bob_, carol_;
  bool auto_fee_ = true;
  MemKv base_;
  Overlay state_;
  BlockContext ctx_;
  std::map<std::string, KeyPair> devices_;
  std::map<std::string, Meter> meters_;
};

}  // namespace testing_ledger
}  // namespace v2g
