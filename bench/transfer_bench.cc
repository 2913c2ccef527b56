// Transfers validated and executed per second on one core, next to libsodium's Ed25519 verify
// rate measured in the same run (the cost floor: one verify per tx). Prints the ratio.
//   build-release/bench/v2g_bench [--benchmark_min_time=2]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <thread>
#include <vector>

#include "bench/reporter.h"
#include "common/signbytes.h"
#include "contracts/app.h"
#include "contracts/state.h"
#include "genesis/genesis.h"
#include "wallet/tx_builder.h"

namespace v2g {
namespace {

constexpr int kAccounts = 1000;
constexpr int kTxs = 20000;
const std::string kChain = "v2g-bench";

struct Fixture {
  MemKv base;
  std::vector<KeyPair> keys;
  std::vector<std::string> txs;  // kTxs signed transfers, valid in order
  pb::ParamsRecord params;

  Fixture() {
    InitCrypto();
    GenesisState g;
    g.chain_id = kChain;
    KeyPair issuer = KeyPair::Generate();
    g.validators.push_back({"v0", AddressFromPublicKey(issuer.public_key()), issuer.public_key(), issuer.public_key(), 1});
    g.denoms.push_back({"CNY", 2, AddressFromPublicKey(issuer.public_key())});
    for (int i = 0; i < kAccounts; ++i) {
      keys.push_back(KeyPair::Generate());
      g.balances.push_back({AddressFromPublicKey(keys.back().public_key()), "CNY", 1'000'000'000});
    }
    g.params = DefaultParams();
    Overlay init(&base);
    V2G_ASSERT(InitChain(g, init).ok());
    for (const auto& [k, v] : init.writes()) base.Put(k, *v);
    params = LoadParams(base);
    std::vector<uint64_t> nonce(kAccounts, 0);
    for (int i = 0; i < kTxs; ++i) {
      int from = i % kAccounts;
      int to = (i * 7 + 3) % kAccounts;
      txs.push_back(SignTx(keys[from], kChain,
                           MakeTransfer(++nonce[from], AddressFromPublicKey(keys[to].public_key()), "CNY", 1 + i % 100)));
    }
  }
};

Fixture& F() {
  static Fixture f;
  return f;
}

void BM_Ed25519Verify(benchmark::State& state) {
  KeyPair k = KeyPair::Generate();
  std::string msg(200, 'x');
  Signature sig = k.Sign(AsBytes(msg));
  for (auto _ : state) benchmark::DoNotOptimize(Verify(k.public_key(), AsBytes(msg), sig));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ed25519Verify);

// Full path of a tx in a block: decode, canonical check, chain id, signature, nonce, balances.
void BM_TransferValidateExecute(benchmark::State& state) {
  Fixture& f = F();
  BlockContext ctx{kChain, 1, 1, Address{}};
  size_t i = 0;
  auto overlay = std::make_unique<Overlay>(&f.base);
  for (auto _ : state) {
    if (i == f.txs.size()) {  // nonces are used up: start again on fresh state (untimed)
      state.PauseTiming();
      overlay = std::make_unique<Overlay>(&f.base);
      i = 0;
      state.ResumeTiming();
    }
    auto checked = CheckTxStateless(f.txs[i++], kChain, f.params, true);
    benchmark::DoNotOptimize(ApplyTx(*checked, ctx, *overlay).ok());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TransferValidateExecute);

// The same with the signature already verified (mempool admission did it): what a block costs
// a node that saw its txs first.
void BM_TransferExecutePreverified(benchmark::State& state) {
  Fixture& f = F();
  BlockContext ctx{kChain, 1, 1, Address{}};
  size_t i = 0;
  auto overlay = std::make_unique<Overlay>(&f.base);
  for (auto _ : state) {
    if (i == f.txs.size()) {
      state.PauseTiming();
      overlay = std::make_unique<Overlay>(&f.base);
      i = 0;
      state.ResumeTiming();
    }
    auto checked = CheckTxStateless(f.txs[i++], kChain, f.params, false);
    benchmark::DoNotOptimize(ApplyTx(*checked, ctx, *overlay).ok());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TransferExecutePreverified);


}  // namespace
}  // namespace v2g

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  v2g::CaptureReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  auto& r = reporter.rates;
  long long verify = r["BM_Ed25519Verify"];
  long long full = r["BM_TransferValidateExecute"];
  long long pre = r["BM_TransferExecutePreverified"];
  std::printf("\nmachine bound (one core): Ed25519 verify %lld/s\n", verify);
  if (verify > 0 && full > 0) {
    // Percentages in integers: this is a report, but the project keeps floating point out anyway.
    std::printf("transfers validated+executed: %lld/s = %lld%% of the verify bound\n", full, full * 100 / verify);
  }
  if (pre > 0) std::printf("transfers executed with signature pre-verified: %lld/s\n", pre);
  std::printf("cores on this machine: %u\n", std::thread::hardware_concurrency());
  benchmark::Shutdown();
  return 0;
}
