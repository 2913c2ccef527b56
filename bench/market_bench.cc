// Clearing one market of 100,000 orders (half bids, half asks, overlapping prices) on one core:
//   - BM_ClearCallAuction: the pure auction (contracts/market.h ClearCallAuction). Target: at most
//     50 ms.
//   - BM_ClearMarketThroughState: the whole clearing path a block runs (RunMarketTimers at gate
//     closure): load the orders from the state, the auction, then a trade record per fill, every
//     order's refund and new status, the meters' commitments, all written into an Overlay over a
//     MemKv holding the 100,000 orders placed beforehand by real PlaceOrder txs.
// Prints both next to the machine's Ed25519 verify rate, like the other benches, and a digest of
// what the clearing writes (keys and orders are deterministic), so a change meant only to make
// clearing faster can show that it left the state alone.
//   build-release/bench/v2g_market_bench [--benchmark_min_time=2]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/reporter.h"
#include "common/signbytes.h"
#include "contracts/app.h"
#include "contracts/market.h"
#include "contracts/state.h"
#include "contracts/state_tree.h"
#include "genesis/genesis.h"
#include "wallet/tx_builder.h"

namespace v2g {
namespace {

constexpr int kOrders = 100'000;       // one market: half bids, half asks
constexpr int kTraders = 1'000;        // per side; each places kOrders / 2 / kTraders orders
constexpr int64_t kBidPriceMin = 500;  // bids 500..1500, asks 400..1400 per kWh: most cross
constexpr int64_t kAskPriceMin = 400;
constexpr int64_t kPriceSpread = 1000;
// 3..1000 Wh: at the lowest price (400 per kWh) 3 Wh is worth 1.2 minimal units, the least an
// order may be worth.
constexpr int64_t kEnergyWhMin = 3;
constexpr int64_t kEnergyWhMax = 1000;
constexpr int64_t kT0 = 1795658400;  // a multiple of 900 s
const std::string kChain = "v2g-market-bench";
const std::string kZone = "GD-SZ";

// Deterministic book: the same orders every run (splitmix64).
struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  int64_t Range(int64_t lo, int64_t n) {
    return lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(n));
  }
};

struct Book {
  std::vector<AuctionOrder> bids, asks;
  Book() {
    Rng rng{2026};
    for (uint64_t id = 1; id <= kOrders; ++id) {
      const bool bid = id % 2 == 0;
      AuctionOrder o{id, rng.Range(bid ? kBidPriceMin : kAskPriceMin, kPriceSpread + 1),
                     rng.Range(kEnergyWhMin, kEnergyWhMax - kEnergyWhMin + 1)};
      (bid ? bids : asks).push_back(o);
    }
  }
};

// Deterministic keys too, so the state (and the digest printed below) is the same every run.
KeyPair Key(uint32_t n) {
  Bytes seed(kSeedBytes, 0);
  for (int i = 0; i < 4; ++i) seed[static_cast<size_t>(i)] = static_cast<uint8_t>(n >> (8 * i));
  seed[31] = 0x4d;
  return KeyPair::FromSeed(seed);
}

const Book& B() {
  static Book b;
  return b;
}

// The same book placed by PlaceOrder txs into the state of a chain with the market on: every
// seller owns one meter in the zone, big enough for all of its sells.
struct Fixture {
  MemKv base;  // genesis, meters and the 100,000 open orders
  pb::ParamsRecord params;
  int64_t interval_start_s = 0;
  int64_t gate_ms = 0;
  int64_t expected_trades = 0;  // what the auction alone makes of the same book
  std::string writes_digest;    // of the clearing's writes

  Fixture() {
    InitCrypto();
    KeyPair op = Key(0);
    const Address op_addr = AddressFromPublicKey(op.public_key());
    std::vector<KeyPair> buyers, sellers;
    GenesisState g;
    g.chain_id = kChain;
    g.genesis_time_ms = kT0 * 1000;
    g.validators.push_back({"v0", op_addr, op.public_key(), op.public_key(), 1});
    g.denoms.push_back({"CNY", 2, op_addr});
    g.roles.push_back({"operator", op_addr});
    g.roles.push_back({"grid_company", op_addr});
    g.zones.push_back({kZone, op_addr});
    for (int i = 0; i < kTraders; ++i) {
      buyers.push_back(Key(static_cast<uint32_t>(1 + 3 * i)));
      sellers.push_back(Key(static_cast<uint32_t>(2 + 3 * i)));
      g.balances.push_back(
          {AddressFromPublicKey(buyers.back().public_key()), "CNY", 1'000'000'000});
      g.balances.push_back(
          {AddressFromPublicKey(sellers.back().public_key()), "CNY", 1'000'000'000});
    }
    g.params = DefaultParams();
    g.params.market_denom = "CNY";
    Overlay st(&base);
    V2G_ASSERT(InitChain(g, st).ok());
    params = LoadParams(st);
    interval_start_s = kT0 + 2 * params.settlement_interval_s();
    gate_ms = (interval_start_s - params.market_gate_closure_s()) * 1000;
    BlockContext ctx{kChain, 1, (kT0 + 1) * 1000, op_addr};
    auto apply = [&](const std::string& tx) {
      auto checked = CheckTxStateless(tx, kChain, params, /*verify_signature=*/false);
      V2G_ASSERT(checked.ok());
      pb::TxResult r;
      Status s = ApplyTx(*checked, ctx, st, &r);
      V2G_ASSERT(s.ok());
    };
    uint64_t op_nonce = 0;
    for (int i = 0; i < kTraders; ++i) {
      apply(SignTx(op, kChain,
                   MakeRegisterMeter(++op_nonce, kChain, AddressFromPublicKey(op.public_key()),
                                     "m-" + std::to_string(i), Key(static_cast<uint32_t>(3 + 3 * i)),
                                     pb::METER_KIND_CHARGER, kZone,
                                     AddressFromPublicKey(sellers[i].public_key()), 1'000'000,
                                     limits::kMeterPowerWMax, 0)));
    }
    std::vector<uint64_t> buyer_nonce(kTraders, 0), seller_nonce(kTraders, 0);
    const Book& b = B();
    for (size_t i = 0; i < b.bids.size(); ++i) {
      const int who = static_cast<int>(i % kTraders);
      const AuctionOrder& bid = b.bids[i];
      const AuctionOrder& ask = b.asks[i];
      apply(SignTx(buyers[who], kChain,
                   MakePlaceOrder(++buyer_nonce[who], pb::SIDE_BUY, kZone, interval_start_s,
                                  bid.energy_wh, bid.price)));
      apply(SignTx(sellers[who], kChain,
                   MakePlaceOrder(++seller_nonce[who], pb::SIDE_SELL, kZone, interval_start_s,
                                  ask.energy_wh, ask.price, "m-" + std::to_string(who))));
    }
    for (const auto& [k, v] : st.writes()) {
      if (v) base.Put(k, *v);
    }
    auto m = LoadMarket(base, kZone, interval_start_s);
    V2G_ASSERT(m && m->buy_orders() + m->sell_orders() == static_cast<uint32_t>(kOrders));
    expected_trades = static_cast<int64_t>(ClearCallAuction(b.bids, b.asks).fills.size());
    // What the clearing writes, as the root of a state tree over them: any change to ClearMarket
    // that is meant to be only faster must leave this the same.
    Overlay cleared(&base);
    RunMarketTimers(BlockContext{kChain, 2, gate_ms, Address{}}, params, cleared);
    MemKv empty_tree;
    auto tree = UpdateStateTree(empty_tree, 0, cleared.writes());
    V2G_ASSERT(tree.ok());
    writes_digest = TxHashHex(tree->root).substr(0, 16);
  }
};

Fixture& F() {
  static Fixture f;
  return f;
}

int64_t g_trades = 0;
int64_t g_volume_wh = 0;

void BM_Ed25519Verify(benchmark::State& state) {
  KeyPair k = KeyPair::Generate();
  std::string msg(200, 'x');
  Signature sig = k.Sign(AsBytes(msg));
  for (auto _ : state) benchmark::DoNotOptimize(Verify(k.public_key(), AsBytes(msg), sig));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ed25519Verify);

// The auction alone. Its inputs are taken by value; the copies are made untimed.
void BM_ClearCallAuction(benchmark::State& state) {
  const Book& b = B();
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<AuctionOrder> bids = b.bids, asks = b.asks;
    state.ResumeTiming();
    AuctionResult r = ClearCallAuction(std::move(bids), std::move(asks));
    benchmark::DoNotOptimize(r.price);
    g_trades = static_cast<int64_t>(r.fills.size());
    g_volume_wh = r.volume_wh;
  }
  state.SetItemsProcessed(state.iterations() * kOrders);
}
BENCHMARK(BM_ClearCallAuction)->Unit(benchmark::kMillisecond);

// The clearing a block runs at gate closure, into a fresh overlay each time (made untimed).
void BM_ClearMarketThroughState(benchmark::State& state) {
  Fixture& f = F();
  const BlockContext ctx{kChain, 2, f.gate_ms, Address{}};
  for (auto _ : state) {
    state.PauseTiming();
    auto block = std::make_unique<Overlay>(&f.base);
    state.ResumeTiming();
    RunMarketTimers(ctx, f.params, *block);
    state.PauseTiming();
    auto m = LoadMarket(*block, kZone, f.interval_start_s);
    V2G_ASSERT(m && m->status() == pb::MARKET_CLEARED &&
               static_cast<int64_t>(m->trades()) == f.expected_trades);
    block.reset();  // freeing the overlay is not part of the clearing
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kOrders);
}
BENCHMARK(BM_ClearMarketThroughState)->Unit(benchmark::kMillisecond);

// "12.3 ms" for kOrders items at `rate` items/s (integers only, like the other reports).
std::string Millis(long long rate) {
  if (rate <= 0) return "n/a";
  const long long us = static_cast<long long>(kOrders) * 1'000'000 / rate;
  return std::to_string(us / 1000) + "." + std::to_string(us % 1000 / 100) + " ms";
}

}  // namespace
}  // namespace v2g

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  v2g::CaptureReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  auto& r = reporter.rates;
  long long verify = r["BM_Ed25519Verify"];
  long long auction = r["BM_ClearCallAuction"];
  long long full = r["BM_ClearMarketThroughState"];
  std::printf("\nmachine bound (one core): Ed25519 verify %lld/s\n", verify);
  std::printf("one market of %d orders, half bids, half asks:\n", v2g::kOrders);
  if (auction > 0) {
    std::printf("  ClearCallAuction: %s (target <= 50 ms%s), %lld trades, %lld Wh matched\n",
                v2g::Millis(auction).c_str(), auction >= v2g::kOrders * 20LL ? ": met" : ": MISSED",
                static_cast<long long>(v2g::g_trades), static_cast<long long>(v2g::g_volume_wh));
  }
  if (full > 0) {
    std::printf(
        "  clearing through state (RunMarketTimers, Overlay over MemKv): %s, %lld trades (writes "
        "digest %s)\n",
        v2g::Millis(full).c_str(), static_cast<long long>(v2g::F().expected_trades),
        v2g::F().writes_digest.c_str());
  }
  std::printf("cores on this machine: %u\n", std::thread::hardware_concurrency());
  benchmark::Shutdown();
  return 0;
}
