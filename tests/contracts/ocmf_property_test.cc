// Property: OCMF meters settle exactly as native ones. For random scenarios (sells, a pool's
// sell, buys, a reverse-discharge event, a valley-fill event on a declared baseline, a discharge
// subsidy, a time-of-use tariff with feed-in, and random energy over three intervals), two ledgers
// run the same txs in the same blocks: one where every meter signs native readings, one where a
// random subset of the meters are OCMF chargers. The OCMF meters measure in mWh with sub-Wh
// remainders that carry from interval to interval; the native meters report what the OCMF mapping
// must attest for that (whole Wh from the baseline). Afterwards every state key outside the meter
// registry (balances, debts, orders, trades, claims, events, programs, pools, tariffs, statements)
// is identical, the attested energy per interval is identical, and every invariant holds on both.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/ocmf.h"
#include "contracts/grid.h"
#include "contracts/pools.h"
#include "tests/contracts/ledger_fixture.h"
#include "wallet/ocmf_signer.h"

namespace v2g {
namespace testing_ledger {
namespace {

constexpr int kMeters = 4;
constexpr int kIntervals = 3;

struct Scenario {
  std::vector<int64_t> max_export_w;            // per meter
  std::vector<int64_t> base_mwh;                // an OCMF register's sub-Wh offset, per meter
  std::vector<std::vector<int64_t>> export_mwh;  // [interval][meter], what the meter measured
  std::vector<std::vector<int64_t>> import_mwh;
  std::vector<std::vector<int64_t>> export_wh;  // [interval][meter], what must be attested for it
  std::vector<std::vector<int64_t>> import_wh;
  int64_t valley_baseline_wh = 0, valley_power_w = 0;
  int64_t tariff_price = 0, feed_in_price = 0;
  std::vector<int64_t> sell_wh, sell_price;     // meters 0 and 1 sell in each interval
  int64_t pool_sell_wh = 0, pool_price = 0;     // meters 2 and 3 are pooled
  int64_t buy_wh = 0, buy_price = 0;
  int64_t event_power_w = 0;
  int64_t subsidy_rate = 0, subsidy_budget = 0;
};

Scenario MakeScenario(uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  Scenario s;
  for (int m = 0; m < kMeters; ++m) {
    s.max_export_w.push_back(pick(4, 20) * 1000);
    s.base_mwh.push_back(pick(0, 999));
  }
  for (int i = 0; i < kIntervals; ++i) {
    s.export_mwh.emplace_back();
    s.import_mwh.emplace_back();
    for (int m = 0; m < kMeters; ++m) {
      const int64_t cap = s.max_export_w[m] * kLen / 3600;  // what the meter can move in an interval
      s.export_mwh[i].push_back(pick(0, 3) == 0 ? 0 : pick(0, cap - 1) * 1000 + pick(0, 999));
      s.import_mwh[i].push_back(pick(0, 1) == 0 ? 0 : pick(0, cap / 4) * 1000 + pick(0, 999));
    }
  }
  // Whole Wh from the baseline: the Wh at the end of an interval minus the Wh at its start.
  for (auto [mwh, wh] : {std::pair{&s.export_mwh, &s.export_wh}, std::pair{&s.import_mwh, &s.import_wh}}) {
    std::vector<int64_t> cum(kMeters, 0);
    for (int i = 0; i < kIntervals; ++i) {
      wh->emplace_back();
      for (int m = 0; m < kMeters; ++m) {
        const int64_t before = cum[m] / 1000;
        cum[m] += (*mwh)[i][m];
        wh->back().push_back(cum[m] / 1000 - before);
      }
    }
  }
  s.valley_baseline_wh = pick(0, 500);
  s.valley_power_w = pick(1, s.max_export_w[1] / 1000) * 1000;
  s.tariff_price = pick(20, 120);
  s.feed_in_price = pick(0, 40);
  for (int m = 0; m < 2; ++m) {
    s.sell_wh.push_back(pick(100, s.max_export_w[m] * kLen / 3600));
    s.sell_price.push_back(pick(50, 150));
  }
  s.pool_sell_wh = pick(100, 3000);
  s.pool_price = pick(50, 150);
  s.buy_wh = pick(1000, 12000);
  s.buy_price = pick(100, 200);
  s.event_power_w = pick(1, s.max_export_w[0] / 1000) * 1000;  // at most meter 0's power
  s.subsidy_rate = pick(1, 60);
  s.subsidy_budget = pick(50, 2000);
  return s;
}

std::string MeterId(int m) { return "ch-" + std::to_string(m); }

// One ledger. `ocmf_mask` bit m: meter m is an OCMF charger.
class Ledger : public LedgerFixture {
 public:
  explicit Ledger(uint32_t ocmf_mask) : ocmf_mask_(ocmf_mask) {}
  void TestBody() override {}

  void Play(const Scenario& s) {
    SetUp();
    const KeyPair* owners[kMeters] = {&alice_, &bob_, &alice_, &bob_};
    for (int m = 0; m < kMeters; ++m) {
      const std::string id = MeterId(m);
      if (ocmf_mask_ & (1u << m)) {
        auto signer = OcmfSigner::Generate(OcmfCurve::kSecp256r1);
        ASSERT_TRUE(signer.ok());
        signers_[id] = std::make_unique<OcmfSigner>(std::move(*signer));
        Ok(operator_, MakeRegisterOcmfMeterSigned(0, kChainId, AddrOf(operator_), id, *signers_[id], "SN-" + id, pb::METER_KIND_CHARGER,
                                            "GD-SZ", AddrOf(*owners[m]), s.max_export_w[m], s.max_export_w[m], ctx_.time_ms));
        ocmf_[id].import_mwh = 5'000'000 + s.base_mwh[m];  // registers far from zero, with sub-Wh digits
        ocmf_[id].export_mwh = 7'000'000 + (999 - s.base_mwh[m]);
      } else {
        devices_.emplace(id, Key(static_cast<uint8_t>(60 + m)));
        Ok(operator_, MakeRegisterMeter(0, kChainId, AddrOf(operator_), id, devices_.at(id), pb::METER_KIND_CHARGER,
                                        "GD-SZ", AddrOf(*owners[m]), s.max_export_w[m], s.max_export_w[m], 0));
      }
    }
    const uint64_t subsidy = Ok(operator_, Subsidy(s));
    for (int m = 0; m < kMeters; ++m) Ok(*owners[m], JoinProgram(subsidy, MeterId(m)));
    const uint64_t pool = Ok(grid2_, MakeCreatePool(0, "vpp", 500));
    Ok(alice_, MakeJoinPool(0, pool, MeterId(2)));
    Ok(bob_, MakeJoinPool(0, pool, MeterId(3)));
    const uint64_t event = Ok(grid_, MakeCreateEvent(0, pb::EVENT_REVERSE_DISCHARGE, "GD-SZ", kS, kS + kIntervals * kLen,
                                                     50000, 40, 100000, kS - kLen, pb::BASELINE_UNSPECIFIED));
    Ok(alice_, MakeEnrollEvent(0, event, MeterId(0), s.event_power_w));
    const uint64_t valley = Ok(grid_, MakeCreateEvent(0, pb::EVENT_VALLEY_FILL, "GD-SZ", kS, kS + kIntervals * kLen, 30000,
                                                      25, 50000, kS - kLen, pb::BASELINE_DECLARED));
    Ok(bob_, MakeEnrollEvent(0, valley, MeterId(1), s.valley_power_w, s.valley_baseline_wh));
    std::vector<int64_t> prices(24, s.tariff_price);
    Ok(grid_, MakeSetTariff(0, "GD-SZ", kS, prices, s.feed_in_price));
    for (int m = 0; m < kMeters; ++m) Ok(*owners[m], MakeEnrollTariff(0, MeterId(m)));
    for (int i = 0; i < kIntervals; ++i) {
      const int64_t start = kS + i * kLen;
      Place(alice_, pb::SIDE_SELL, s.sell_wh[0], s.sell_price[0], MeterId(0), start);
      Place(bob_, pb::SIDE_SELL, s.sell_wh[1], s.sell_price[1], MeterId(1), start);
      Ok(grid2_, MakePoolSell(0, pool, "GD-SZ", start, s.pool_sell_wh, s.pool_price));
      Place(grid_, pb::SIDE_BUY, s.buy_wh, s.buy_price, "", start);
    }
    Tick(kS - kGate);
    for (int i = 0; i < kIntervals; ++i) {
      const int64_t start = kS + i * kLen;
      At(start + kLen);
      for (int m = 0; m < kMeters; ++m) {
        AttestAny(MeterId(m), start, s.import_wh[i][m], s.export_wh[i][m], s.import_mwh[i][m], s.export_mwh[i][m]);
      }
    }
    SettleThrough(kS + kIntervals * kLen + kGrace);
  }

  // Every state key the meters' key type must not change: all of s/ but the registry itself.
  std::map<std::string, std::string> Settled() const {
    std::map<std::string, std::string> out;
    for (const auto& [k, v] : state_.writes()) {
      if (!v || k.rfind("s/", 0) != 0) continue;
      bool registry = false;
      for (std::string_view p : {kMeterPrefix, kMeterKeyIndexPrefix, kMeterOcmfPrefix, kMeterIntervalPrefix}) {
        registry = registry || k.rfind(p, 0) == 0;
      }
      if (!registry) out[k] = *v;
    }
    return out;
  }
  std::pair<int64_t, int64_t> Attested(int m, int i) const {
    auto r = LoadMeterInterval(state_, MeterId(m), kS + i * kLen);
    return r ? std::pair{r->import_wh(), r->export_wh()} : std::pair<int64_t, int64_t>{0, 0};
  }
  int64_t SellerPaid() const {
    int64_t paid = 0;
    for (int i = 0; i < kIntervals; ++i) {
      for (const auto& t : LoadMarketTrades(state_, "GD-SZ", kS + i * kLen)) paid += t.seller_paid();
    }
    return paid;
  }
  void Invariants() { CheckInvariants(); }

 private:
  struct OcmfRegisters {
    int64_t import_mwh = 0, export_mwh = 0;
    int64_t last_end_s = -1;
    int pg = 0;
  };

  uint64_t Ok(const KeyPair& k, pb::TxBody body) {
    auto r = Run(k, std::move(body));
    EXPECT_EQ(CodeOf(r), Code::kOk) << r.log();
    return r.created_id();
  }
  pb::TxBody Subsidy(const Scenario& s) {
    pb::TxBody b;
    auto* p = b.mutable_create_program();
    p->set_kind(pb::PROGRAM_DISCHARGE_SUBSIDY);
    p->set_denom("CNY");
    p->set_rate(s.subsidy_rate);
    p->set_budget(s.subsidy_budget);
    p->set_end_s(kS + (kIntervals + 1) * kLen);
    return b;
  }
  static pb::TxBody JoinProgram(uint64_t program, const std::string& meter) {
    pb::TxBody b;
    b.mutable_join_program()->set_program_id(program);
    b.mutable_join_program()->set_meter_id(meter);
    return b;
  }

  // The fixture's Attest for native meters; for OCMF ones the same energy as one signed record:
  // a bridge point at start + 1 s when the last point was elsewhere (like the native bridge
  // reading), then a point at the interval's end, both registers each time.
  void AttestAny(const std::string& id, int64_t start, int64_t import_wh, int64_t export_wh, int64_t import_mwh,
                 int64_t export_mwh) {
    if (!signers_.count(id)) return Attest(id, start, import_wh, export_wh);
    OcmfRegisters& r = ocmf_[id];
    OcmfPayloadSpec spec;
    spec.pg = "T" + std::to_string(++r.pg);
    spec.ms = "SN-" + id;
    auto point = [&](int64_t t_s, const char* tx) {
      spec.readings.push_back({FormatOcmfTime(t_s * 1000, 60, 'S'), tx, Kwh(r.import_mwh), "1-b:1.8.0"});
      spec.readings.push_back({FormatOcmfTime(t_s * 1000, 60, 'S'), "", Kwh(r.export_mwh), "1-b:2.8.0"});
    };
    if (r.last_end_s != start) point(start + 1, "B");
    r.import_mwh += import_mwh;
    r.export_mwh += export_mwh;
    point(start + kLen, "E");
    r.last_end_s = start + kLen;
    auto res = Run(bob_, MakeSubmitOcmf(0, id, {signers_[id]->SignRecord(BuildOcmfPayload(spec))}));
    ASSERT_EQ(CodeOf(res), Code::kOk) << res.log();
    ASSERT_EQ(res.rejected_readings_size(), 0) << res.rejected_readings(0).message();
  }
  static std::string Kwh(int64_t mwh) {  // mWh -> "12.345678" kWh
    std::string frac = std::to_string(mwh % 1'000'000);
    return std::to_string(mwh / 1'000'000) + "." + std::string(6 - frac.size(), '0') + frac;
  }

  uint32_t ocmf_mask_;
  std::map<std::string, std::unique_ptr<OcmfSigner>> signers_;
  std::map<std::string, OcmfRegisters> ocmf_;
};

TEST(OcmfPropertyTest, OcmfMetersSettleExactlyAsNativeOnes) {
  int traded = 0;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const Scenario s = MakeScenario(seed);
    // A mix in every run (never none, never the same subset twice in a row), all four in one.
    const uint32_t mask = seed == 12 ? 0xF : static_cast<uint32_t>(1 + seed % 14);
    Ledger native(0), mixed(mask);
    native.Play(s);
    mixed.Play(s);
    if (::testing::Test::HasFatalFailure()) return;
    native.Invariants();
    mixed.Invariants();
    for (int m = 0; m < kMeters; ++m) {
      for (int i = 0; i < kIntervals; ++i) {
        EXPECT_EQ(native.Attested(m, i), mixed.Attested(m, i)) << MeterId(m) << " interval " << i;
        EXPECT_EQ(mixed.Attested(m, i), std::pair(s.import_wh[i][m], s.export_wh[i][m]));
      }
    }
    const auto a = native.Settled(), b = mixed.Settled();
    EXPECT_EQ(a.size(), b.size());
    for (const auto& [k, v] : a) {
      auto it = b.find(k);
      if (it == b.end()) {
        ADD_FAILURE() << "only the native ledger has " << k;
      } else if (it->second != v) {
        ADD_FAILURE() << "the ledgers differ at " << k;
      }
    }
    if (native.SellerPaid() > 0) ++traded;
  }
  EXPECT_GE(traded, 6) << "the scenarios should mostly trade, or the property says little";
}

}  // namespace
}  // namespace testing_ledger
}  // namespace v2g
