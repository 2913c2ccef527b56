// Meter readings validated and executed per second on one core, next to libsodium's Ed25519
// verify rate measured in the same run (the cost floor: one device-signature verify per reading).
// Prints both rates and the ratio in integer percent.
//   build-release/bench/v2g_meters_bench [--benchmark_min_time=2]
//
// The signature cache (common/crypto.h VerifyRawCached) remembers every reading signature that
// verified, so replaying the same signed readings would measure a cache lookup, not a verify.
// Every iteration therefore gets a SubmitReadings tx built and signed just before it (untimed):
// each reading carries the meter's next seq and a new interval, so its sign bytes, and thus its
// cache key, have never been seen. No tx or reading is ever submitted twice.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "bench/reporter.h"
#include "common/signbytes.h"
#include "contracts/app.h"
#include "contracts/meters.h"
#include "contracts/state.h"
#include "genesis/genesis.h"
#include "wallet/tx_builder.h"

namespace v2g {
namespace {

constexpr int kMeters = 1000;           // a fleet; each batch takes the next kBatch of them
constexpr int kBatch = 100;             // readings per SubmitReadings tx (limit 256)
constexpr int64_t kReadingSpanS = 60;   // one reading per meter per minute
constexpr int64_t kMaxImportW = 11000;  // 183 Wh per minute at most; readings use 150
constexpr int64_t kT0 = 1795658400;     // a multiple of 900 s: starts a settlement interval
const std::string kChain = "v2g-meters-bench";

struct Meter {
  KeyPair device;
  uint64_t seq = 0;
  int64_t import_wh = 0;
};

struct Fixture {
  MemKv base;
  KeyPair submitter = KeyPair::Generate();  // an aggregator: any account may submit
  uint64_t submitter_nonce = 0;
  std::vector<Meter> meters;
  size_t next_meter = 0;
  pb::ParamsRecord params;
  BlockContext ctx;
  // Chain state for the whole process: google-benchmark calls a benchmark several times (to size
  // the iteration count), and each call continues the meters' seqs and the submitter's nonce.
  std::unique_ptr<Overlay> state;

  Fixture() {
    InitCrypto();
    KeyPair op = KeyPair::Generate();
    GenesisState g;
    g.chain_id = kChain;
    g.genesis_time_ms = kT0 * 1000;
    g.validators.push_back({"v0", AddressFromPublicKey(op.public_key()), op.public_key(), op.public_key(), 1});
    g.denoms.push_back({"CNY", 2, AddressFromPublicKey(op.public_key())});
    g.roles.push_back({"operator", AddressFromPublicKey(op.public_key())});
    g.roles.push_back({"grid_company", AddressFromPublicKey(op.public_key())});
    g.zones.push_back({"GD-SZ", AddressFromPublicKey(op.public_key())});
    g.params = DefaultParams();
    Overlay init(&base);
    V2G_ASSERT(InitChain(g, init).ok());
    for (const auto& [k, v] : init.writes()) base.Put(k, *v);
    params = LoadParams(base);
    // Block time ten years on: no reading the bench makes lies in the future.
    ctx = BlockContext{kChain, 2, (kT0 + 10 * 365 * 86400) * 1000, Address{}};
    Overlay reg(&base);
    for (int i = 0; i < kMeters; ++i) {
      meters.push_back({KeyPair::Generate(), 0, 0});
      auto body = MakeRegisterMeter(static_cast<uint64_t>(i + 1), kChain, AddressFromPublicKey(op.public_key()),
                                    "ev-" + std::to_string(i), meters.back().device, pb::METER_KIND_VEHICLE, "GD-SZ",
                                    AddressFromPublicKey(op.public_key()), kMaxImportW, kMaxImportW, 60000);
      auto checked = CheckTxStateless(SignTx(op, kChain, body), kChain, params, true);
      V2G_ASSERT(checked.ok());
      V2G_ASSERT(ApplyTx(*checked, ctx, reg).ok());
    }
    for (const auto& [k, v] : reg.writes()) base.Put(k, *v);
    state = std::make_unique<Overlay>(&base);
  }

  // A fresh signed batch: the next kBatch meters, each with its next reading.
  std::string NextTx() {
    std::vector<pb::MeterReading> rs;
    rs.reserve(kBatch);
    for (int i = 0; i < kBatch; ++i) {
      Meter& m = meters[next_meter];
      pb::MeterReading r;
      r.set_meter_id("ev-" + std::to_string(next_meter));
      r.set_seq(++m.seq);
      r.set_interval_start_s(kT0 + static_cast<int64_t>(m.seq) * kReadingSpanS);
      r.set_interval_end_s(r.interval_start_s() + kReadingSpanS);
      m.import_wh += 150;
      r.set_import_wh_total(m.import_wh);
      r.set_export_wh_total(0);
      r.set_soc_permille(static_cast<int32_t>(200 + m.seq % 700));
      r.set_soh_permille(980);
      SignReading(m.device, kChain, r);
      rs.push_back(std::move(r));
      next_meter = (next_meter + 1) % kMeters;
    }
    return SignTx(submitter, kChain, MakeSubmitReadings(++submitter_nonce, std::move(rs)));
  }
};

Fixture& F() {
  static Fixture f;
  return f;
}

void BM_Ed25519Verify(benchmark::State& state) {
  KeyPair k = KeyPair::Generate();
  std::string msg(150, 'x');  // about a reading's sign bytes
  Signature sig = k.Sign(AsBytes(msg));
  for (auto _ : state) benchmark::DoNotOptimize(Verify(k.public_key(), AsBytes(msg), sig));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ed25519Verify);

// Full path of a readings tx in a block on a node that never saw it: decode, tx signature, then
// per reading the rules, a (cache-missing) device-signature verify and the state writes
// (meter record, interval record, battery). Items are readings.
void BM_ReadingsValidateExecute(benchmark::State& state) {
  Fixture& f = F();
  int64_t rejected = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string tx = f.NextTx();
    state.ResumeTiming();
    auto checked = CheckTxStateless(tx, kChain, f.params, true);
    pb::TxResult result;
    const bool ok = checked.ok() && ApplyTx(*checked, f.ctx, *f.state, &result).ok();
    rejected += ok ? result.rejected_readings_size() : kBatch;
  }
  // Every tx and reading must be accepted, or the bench measured the rejection path.
  V2G_ASSERT(rejected == 0);
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_ReadingsValidateExecute);


}  // namespace
}  // namespace v2g

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  v2g::CaptureReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  auto& r = reporter.rates;
  long long verify = r["BM_Ed25519Verify"];
  long long readings = r["BM_ReadingsValidateExecute"];
  std::printf("\nmachine bound (one core): Ed25519 verify %lld/s\n", verify);
  std::printf("readings validated+executed (batches of %d, %d meters): %lld/s\n", v2g::kBatch, v2g::kMeters,
              readings);
  if (verify > 0 && readings > 0) {
    // Integer percent: the project keeps floating point out even of reports.
    std::printf("readings/s = %lld%% of the verify bound\n", readings * 100 / verify);
  }
  std::printf("cores on this machine: %u\n", std::thread::hardware_concurrency());
  benchmark::Shutdown();
  return 0;
}
