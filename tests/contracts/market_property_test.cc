// Property tests for contracts/market over many seeded random markets.
//
// MarketProperty.AuctionMatchesBruteForce: small random books through ClearCallAuction against a
// reference that finds the largest tradable volume by trying every candidate price, then checks
// the price rule (floor of the midpoint of [max(a_k, b_k+1), min(b_k, a_k+1)]), price-time
// priority and that every matched bid >= price >= every matched ask.
//
// MarketProperty.RandomMarketsKeepEveryInvariant: random worlds (a genesis with a market
// denomination, a few dozen funded accounts, meters in a few zones, a 60 s delivery interval,
// small gate closure and grace) driven block by block through ExecuteBlock: orders, cancels,
// bilateral contracts, transfers and signed meter readings (full, partial, zero or excess
// delivery; prompt or after settlement), many of them invalid on purpose. After every block:
//   - every tx ended with a code its situation allows (the invalid ones with exactly theirs), and
//     running the block again without the failed txs writes exactly the same state (a failed tx
//     changes nothing);
//   - CheckConservation and CheckMarketEscrow;
//   - every order's and contract's bookkeeping, and the meters' commitments equal the open sells,
//     matched sells and accepted contracts on them (so never above a meter's capacity);
//   - a market that cleared: its volume is the brute-force optimum over its book, price and
//     fills as above, escrow and collateral kept exactly for the matched part;
//   - a market that settled: each trade and contract paid by the allocation rule of
//     contracts/market.h against the export attested when it settled (seller_paid ==
//     floor(delivered x price / 1000), seller_paid + buyer_refund == escrow, penalty <=
//     collateral), so no meter is paid for more than it had attested then.
// At the end of a world (time past every settlement): every market settled, every order and
// contract final and empty, the module account at 0, no commitment or timer left, later readings
// added nothing to any settled payment, and each account's balance is its genesis balance plus
// its transfers plus what its order and contract records say it was paid.
//
// Environment: V2G_PROPERTY_MARKETS (markets to run; default 10000, 300 in builds without NDEBUG
// or with a sanitizer), V2G_PROPERTY_SEED (base seed; world i runs seed base + i). A failure
// prints the world's seed: V2G_PROPERTY_SEED=<that seed> V2G_PROPERTY_MARKETS=1 replays it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/bech32.h"
#include "common/bytes.h"
#include "common/checked.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "contracts/app.h"
#include "contracts/gov.h"
#include "contracts/grid.h"
#include "contracts/kv.h"
#include "contracts/market.h"
#include "contracts/meters.h"
#include "contracts/state.h"
#include "genesis/genesis.h"
#include "tests/contracts/property_util.h"
#include "wallet/tx_builder.h"

namespace v2g {
namespace {

using proptest::EnvInt;
using proptest::FloorValue;
using proptest::Rng;

constexpr uint64_t kBaseSeed = 0x5EED'2026'0005ULL;
#ifdef V2G_PROPERTY_SLOW_BUILD
constexpr int64_t kMarketsDefault = 300;  // sanitizer / debug builds run about 20x slower
#else
constexpr int64_t kMarketsDefault = 10000;
#endif
constexpr int64_t kAuctionBooks = 20000;  // brute-force cross-checks per run
constexpr char kChainId[] = "v2g-market-prop";
constexpr int64_t kT0 = 1795658400;     // a multiple of 86400: starts a day and an interval
constexpr int64_t kIntervalS = 60;      // short delivery intervals: many markets per world
constexpr int64_t kTransferMax = 5000;  // per transfer tx
constexpr int64_t kUserTxsPerBlockMax = 10;

int64_t FloorValueBps(int64_t energy_wh, int64_t price, int64_t bps) {
  return static_cast<int64_t>(static_cast<Int128>(energy_wh) * price * bps / 10'000'000);
}

// ------------------------------------------------------------------ the auction reference

// The outcome the rules of contracts/market.h demand of a book: the largest volume any uniform
// price can trade (found by trying every candidate price), each order's share of it by price-time
// priority, and the marginal interval [lo, hi] the price must be the floor midpoint of.
struct Reference {
  int64_t volume_wh = 0;
  int64_t lo = 0, hi = 0;
  std::map<uint64_t, int64_t> alloc_wh;  // order id -> matched energy (0 if unmatched)
  std::map<uint64_t, int64_t> price;     // order id -> limit price
  std::set<uint64_t> bid_ids;
};

Reference ReferenceClearing(std::vector<AuctionOrder> bids, std::vector<AuctionOrder> asks) {
  Reference ref;
  std::set<int64_t> candidates;
  for (const auto& o : bids) candidates.insert(o.price);
  for (const auto& o : asks) candidates.insert(o.price);
  // Demand and supply are step functions changing only at order prices, so the best volume
  // min(demand(p), supply(p)) is reached at one of them.
  for (int64_t p : candidates) {
    Int128 demand = 0, supply = 0;
    for (const auto& o : bids) demand += o.price >= p ? o.energy_wh : 0;
    for (const auto& o : asks) supply += o.price <= p ? o.energy_wh : 0;
    ref.volume_wh = std::max(ref.volume_wh, static_cast<int64_t>(std::min(demand, supply)));
  }
  std::sort(bids.begin(), bids.end(), [](const AuctionOrder& a, const AuctionOrder& b) {
    return a.price != b.price ? a.price > b.price : a.id < b.id;
  });
  std::sort(asks.begin(), asks.end(), [](const AuctionOrder& a, const AuctionOrder& b) {
    return a.price != b.price ? a.price < b.price : a.id < b.id;
  });
  // Allocates the volume in priority order; returns (last matched price, first price left
  // wholly or partly unmatched, if any).
  auto allocate = [&](const std::vector<AuctionOrder>& side) {
    int64_t cum = 0, last = 0;
    std::optional<int64_t> next;
    for (const auto& o : side) {
      const int64_t a = std::clamp<int64_t>(ref.volume_wh - cum, 0, o.energy_wh);
      ref.alloc_wh[o.id] = a;
      ref.price[o.id] = o.price;
      cum += o.energy_wh;
      if (a > 0) last = o.price;
      if (a < o.energy_wh && !next) next = o.price;
    }
    return std::make_pair(last, next);
  };
  const auto [b_k, b_next] = allocate(bids);
  const auto [a_k, a_next] = allocate(asks);
  for (const auto& o : bids) ref.bid_ids.insert(o.id);
  if (ref.volume_wh > 0) {
    ref.lo = b_next ? std::max(a_k, *b_next) : a_k;
    ref.hi = a_next ? std::min(b_k, *a_next) : b_k;
  }
  return ref;
}

// Empty if `r` is what the reference demands of the book, else what is wrong.
std::string CheckAuction(const std::vector<AuctionOrder>& bids,
                         const std::vector<AuctionOrder>& asks, const AuctionResult& r) {
  const Reference ref = ReferenceClearing(bids, asks);
  std::ostringstream err;
  if (r.volume_wh != ref.volume_wh) {
    err << "volume " << r.volume_wh << " Wh, brute-force optimum " << ref.volume_wh << " Wh";
    return err.str();
  }
  std::map<uint64_t, int64_t> filled;
  int64_t sum = 0;
  for (const auto& f : r.fills) {
    if (f.energy_wh <= 0 || !ref.bid_ids.count(f.buy_id) || ref.bid_ids.count(f.sell_id) ||
        !ref.price.count(f.sell_id)) {
      err << "bad fill " << f.buy_id << "/" << f.sell_id << " " << f.energy_wh << " Wh";
      return err.str();
    }
    filled[f.buy_id] += f.energy_wh;
    filled[f.sell_id] += f.energy_wh;
    sum += f.energy_wh;
    if (ref.price.at(f.buy_id) < r.price || ref.price.at(f.sell_id) > r.price) {
      err << "fill " << f.buy_id << "/" << f.sell_id << " at bid " << ref.price.at(f.buy_id)
          << " ask " << ref.price.at(f.sell_id) << " does not bracket the price " << r.price;
      return err.str();
    }
  }
  if (sum != r.volume_wh) {
    err << "fills sum to " << sum << " Wh, volume " << r.volume_wh;
    return err.str();
  }
  for (const auto& [id, want] : ref.alloc_wh) {
    const int64_t got = filled.count(id) ? filled.at(id) : 0;
    if (got != want) {
      err << "order " << id << " (limit " << ref.price.at(id) << ") filled " << got
          << " Wh, priority gives " << want;
      return err.str();
    }
  }
  if (ref.volume_wh == 0) {
    if (r.price != 0 || !r.fills.empty()) err << "nothing crosses but price " << r.price;
    return err.str();
  }
  if (ref.lo > ref.hi || r.price != ref.lo + (ref.hi - ref.lo) / 2) {
    err << "price " << r.price << ", rule gives floor midpoint of [" << ref.lo << ", " << ref.hi
        << "]";
  }
  return err.str();
}

std::string DescribeBook(const std::vector<AuctionOrder>& bids,
                         const std::vector<AuctionOrder>& asks) {
  std::ostringstream os;
  os << "bids";
  for (const auto& o : bids) os << " {" << o.id << ", " << o.price << ", " << o.energy_wh << "}";
  os << " asks";
  for (const auto& o : asks) os << " {" << o.id << ", " << o.price << ", " << o.energy_wh << "}";
  return os.str();
}

TEST(MarketProperty, AuctionMatchesBruteForce) {
  const uint64_t base = proptest::BaseSeed(kBaseSeed);
  const int64_t books = kAuctionBooks;
  for (int64_t n = 0; n < books; ++n) {
    const uint64_t seed = base + static_cast<uint64_t>(n);
    Rng rng(seed);
    // Narrow price ranges make ties and exact crosses common; wide ones test large numbers.
    const int64_t price_max = rng.Chance(80) ? rng.Range(1, 30) : limits::kOrderPriceMax;
    const int64_t energy_max = rng.Chance(80) ? rng.Range(1, 20) : limits::kOrderEnergyWhMax;
    std::vector<uint64_t> ids(static_cast<size_t>(rng.Range(0, 14)));
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = i + 1;
    for (size_t i = ids.size(); i > 1; --i)
      std::swap(ids[i - 1], ids[rng.Index(i)]);  // arrival order
    std::vector<AuctionOrder> bids, asks;
    for (uint64_t id : ids) {
      AuctionOrder o{id, rng.Range(1, price_max), rng.Range(1, energy_max)};
      (rng.Chance(50) ? bids : asks).push_back(o);
    }
    const AuctionResult r = ClearCallAuction(bids, asks);
    const std::string err = CheckAuction(bids, asks, r);
    ASSERT_TRUE(err.empty()) << err << "\n  book: " << DescribeBook(bids, asks) << "\n  seed "
                             << seed << " (V2G_PROPERTY_SEED=" << seed << ")";
  }
  std::printf(
      "[ property ] %lld random books cleared as the brute-force reference says (base seed %llu)\n",
      static_cast<long long>(books), static_cast<unsigned long long>(base));
}

// ------------------------------------------------------------------ the module account

// Regression (found by the random worlds below): a plain transfer to MarketModuleAddress()
// succeeded, after which CheckMarketEscrow reported corruption for ever (the module held more than
// any record locked) and the coins were stuck, as no rule pays out what no record locks. Transfers
// and mints to it are now invalid, and so is a genesis balance for it.
TEST(MarketModuleAccount, NothingIsPaidInByHand) {
  InitCrypto();
  const KeyPair issuer = KeyPair::FromSeed(Bytes(kSeedBytes, 7));
  const Address issuer_addr = AddressFromPublicKey(issuer.public_key());
  GenesisState g;
  g.chain_id = kChainId;
  g.genesis_time_ms = kT0 * 1000;
  g.validators.push_back({"v0", issuer_addr, issuer.public_key(), issuer.public_key(), 1});
  g.denoms.push_back({"CNY", 2, issuer_addr});
  g.balances.push_back({issuer_addr, "CNY", 100000});
  g.params = DefaultParams();
  g.params.market_denom = "CNY";
  MemKv base;
  Overlay state(&base);
  ASSERT_TRUE(InitChain(g, state).ok());
  const pb::ParamsRecord params = LoadParams(state);
  const BlockContext ctx{kChainId, 1, (kT0 + 1) * 1000, issuer_addr};

  for (const pb::TxBody& body : {MakeTransfer(1, MarketModuleAddress(), "CNY", 500),
                                 MakeMint(1, MarketModuleAddress(), "CNY", 500)}) {
    const std::string tx = SignTx(issuer, kChainId, body);
    auto checked = CheckTxStateless(tx, kChainId, params, true);
    EXPECT_EQ(checked.status().code(), Code::kInvalidArgument) << checked.status().ToString();
    EXPECT_NE(checked.status().message().find("module account"), std::string::npos)
        << checked.status().message();
    Overlay block(&state);
    BlockOutcome out = ExecuteBlock(ctx, {tx}, nullptr, block);
    ASSERT_EQ(out.results.size(), 1u);
    EXPECT_EQ(out.results[0].code(), static_cast<uint32_t>(Code::kInvalidArgument));
    EXPECT_TRUE(block.writes().empty()) << "a refused tx changed the state";
  }
  EXPECT_EQ(BalanceOf(LoadAccount(state, MarketModuleAddress()), "CNY"), 0);
  EXPECT_TRUE(CheckMarketEscrow(state).ok());
  // Any other recipient still works.
  Overlay block(&state);
  BlockOutcome out = ExecuteBlock(
      ctx, {SignTx(issuer, kChainId, MakeTransfer(1, ctx.proposer, "CNY", 1))}, nullptr, block);
  EXPECT_EQ(out.results.at(0).code(), 0u) << out.results.at(0).log();

  g.balances.push_back({MarketModuleAddress(), "CNY", 1});
  MemKv base2;
  Overlay state2(&base2);
  auto h = InitChain(g, state2);
  EXPECT_EQ(h.status().code(), Code::kInvalidArgument);
}

// ------------------------------------------------------------------ random worlds

struct Stats {
  int64_t worlds = 0, markets = 0, blocks = 0, txs = 0, failed_txs = 0;
  std::map<std::string, int64_t> codes;  // "<op> <code>" -> count
  int64_t trades = 0, contracts_settled = 0, full = 0, partial = 0, zero = 0, penalties = 0;
  int64_t readings = 0, catch_ups = 0;
  int64_t gov_actions = 0;  // governance proposals passed and executed (GovBlocks)
};

struct Account {
  std::optional<KeyPair> key;  // KeyPair has no empty state
  Address addr{};
  uint64_t nonce = 0;
  int64_t genesis = 0;
  int64_t transfers_net = 0;
};

struct Meter {
  std::string id;
  std::optional<KeyPair> device;
  std::string zone;
  size_t owner = 0;
  int64_t max_export_w = 0, max_import_w = 0;
  pb::MeterKind kind = pb::METER_KIND_CHARGER;
  int lag = 0;  // 0 prompt, 1 random, 2 at the interval's end or later (into the grace, or too late)
  int64_t extra_lag_s = 0;
  uint64_t seq = 0;
  int64_t last_end = 0;  // end of the last accepted reading
  int64_t export_total = 0, import_total = 0;
  int64_t target_interval = -1, target_left = 0;
  int64_t acc_interval = -1, acc_export = 0;  // export attested to acc_interval so far
  int64_t acc_start = 0;                        // start of its first attributed span
  int64_t cap_wh = 0;  // max_export_w x interval
  bool active = true;
  proptest::Plug plug;  // vehicles: the charger every reading is mirrored on (issue 11)
};

enum class Op {
  kSetup,
  kBuy,
  kSell,
  kBadOrder,
  kCancel,
  kPropose,
  kAccept,
  kCancelContract,
  kTransfer,
  kReadings,
  kDeactivate,
  kMeterTransfer,
  kGov
};

const char* OpName(Op op) {
  switch (op) {
    case Op::kSetup:
      return "setup";
    case Op::kBuy:
      return "buy";
    case Op::kSell:
      return "sell";
    case Op::kBadOrder:
      return "bad-order";
    case Op::kCancel:
      return "cancel";
    case Op::kPropose:
      return "propose";
    case Op::kAccept:
      return "accept";
    case Op::kCancelContract:
      return "cancel-contract";
    case Op::kTransfer:
      return "transfer";
    case Op::kReadings:
      return "readings";
    case Op::kDeactivate:
      return "deactivate-meter";
    case Op::kMeterTransfer:
      return "transfer-meter";
    case Op::kGov:
      return "gov";
  }
  return "?";
}

struct Pending {
  Op op = Op::kSetup;
  size_t signer = 0;  // index into accounts_, or kOperator / kAggregator
  std::string bytes;
  std::vector<Code> allowed;
  std::string what;
  size_t to = 0;       // transfer recipient (kModule: the market's module account); new meter owner
  size_t meter = 0;    // deactivate / transfer meter: index into meters_
  int64_t amount = 0;  // transfer amount
  int64_t expect_locked = -1;       // place order: what it must lock
  std::vector<Meter> meters_after;  // readings: the meters' cursors once accepted
};

using MarketId = std::pair<std::string, int64_t>;

constexpr size_t kModule = 999;  // a transfer recipient: the market's module account

std::string CommitmentKeyOf(std::string_view meter_id, int64_t interval_start_s) {
  std::string k = "s/mkt_m/";  // contracts/market.h key layout
  k += meter_id;
  k += '/';
  AppendBigEndian64(k, static_cast<uint64_t>(interval_start_s));
  return k;
}

class World : public proptest::WorldBase<Stats> {
 public:
  World(uint64_t seed, Stats& stats) : WorldBase(seed, stats, "V2G_PROPERTY_MARKETS", kT0) {}

  // Runs the world to the end; false with failure() set on the first broken property.
  bool Run() {
    if (!Genesis()) return false;
    if (!Setup()) return false;
    const int64_t trading_end = intervals_.back() - gate_s_;
    const int64_t end = intervals_.back() + kIntervalS + grace_s_ + 60;
    int64_t t = time_s_;
    while (t < end) {
      // Now and then the chain stalls for a few intervals (clearing and settlement fall due
      // together).
      t += rng_.Chance(2) ? rng_.Range(60, 200) : rng_.Range(2, 12);
      if (t < trading_end && rng_.Chance(2)) {
        if (!RegistryBlock(t)) return false;
        continue;
      }
      if (rng_.Chance(4)) {  // rare enough that most markets trade unsuspended
        if (!GovBlocks(t)) return false;
        t += 1;
        continue;
      }
      if (!Block(t, t < trading_end)) return false;
    }
    // A last block well past everything: any settlement still due runs.
    if (!Block(end + 3600, false)) return false;
    return Final();
  }
  int64_t markets() const { return markets_settled_; }

 private:
  static constexpr size_t kOperator = 1000;
  static constexpr size_t kAggregator = 1001;
  static constexpr size_t kValidator = 1002;  // governance txs (GovBlocks)

  Account& Acct(size_t i) {
    return i == kOperator ? operator_ : i == kAggregator ? aggregator_ : accounts_[i];
  }
  int64_t Balance(const KvReader& kv, const Address& a) const {
    return BalanceOf(LoadAccount(kv, a), "CNY");
  }

  // ---------------------------------------------------------------- genesis and setup

  bool Genesis() {
    gate_s_ = rng_.Range(0, 30);
    grace_s_ = rng_.Range(0, 30);
    horizon_s_ = gate_s_ + kIntervalS + rng_.Range(0, 180);
    const int64_t bps_choices[] = {0, 1, 500, 1000, 2500, 10000};
    collateral_bps_ = rng_.Chance(50) ? bps_choices[rng_.Index(6)] : rng_.Range(0, 10000);
    penalty_bps_ = rng_.Chance(50) ? bps_choices[rng_.Index(6)] : rng_.Range(0, 10000);
    const int zones = static_cast<int>(rng_.Range(1, 6));
    for (int z = 0; z < zones; ++z) zones_.push_back("Z" + std::to_string(z));
    const int64_t k = rng_.Range(3, 8);
    for (int64_t i = 1; i <= k; ++i) intervals_.push_back(kT0 + i * kIntervalS);

    GenesisState g;
    g.chain_id = kChainId;
    g.genesis_time_ms = kT0 * 1000;
    validator_ = proptest::AddValidator(g, rng_);
    proptest::GiveKey(operator_, rng_);
    proptest::GiveKey(aggregator_, rng_);
    g.denoms.push_back({"CNY", 2, operator_.addr});
    g.roles.push_back({"operator", operator_.addr});
    g.roles.push_back({"grid_company", operator_.addr});
    g.roles.push_back({"aggregator", aggregator_.addr});
    for (const auto& z : zones_) g.zones.push_back({z, operator_.addr});
    const size_t n = static_cast<size_t>(rng_.Range(20, 36));
    for (size_t i = 0; i < n; ++i) {
      Account a;
      proptest::GiveKey(a, rng_);
      const int kind = static_cast<int>(rng_.Range(0, 9));
      a.genesis = kind < 3   ? rng_.Range(0, 2000)
                  : kind < 8 ? rng_.Range(2000, 50000)
                             : rng_.Range(50000, 2000000);
      if (a.genesis > 0) g.balances.push_back({a.addr, "CNY", a.genesis});
      accounts_.push_back(std::move(a));
    }
    g.params = DefaultParams();
    g.params.settlement_interval_s = kIntervalS;
    g.params.reading_future_skew_s = rng_.Range(0, 10);
    g.params.market_denom = "CNY";
    g.params.market_gate_closure_s = gate_s_;
    g.params.market_horizon_s = horizon_s_;
    g.params.market_grace_s = grace_s_;
    g.params.market_collateral_bps = collateral_bps_;
    g.params.market_penalty_bps = penalty_bps_;
    time_s_ = kT0;
    return proptest::InitWorld(g, kChainId, state_, params_, ctx_, FailFn());
  }

  // Registers the meters (operator, block 1) and their baseline readings (block 2).
  bool Setup() {
    const int64_t export_choices[] = {0, 600, 3000, 7400, 11000, 22000, 50000};
    std::vector<Pending> txs;
    for (const auto& zone : zones_) {
      const int64_t count = rng_.Range(2, 3);
      for (int64_t i = 0; i < count; ++i) {
        Meter m;
        m.id = zone + (rng_.Chance(50) ? "-ev-" : "-ch-") + std::to_string(i);
        m.kind = m.id.find("-ev-") != std::string::npos ? pb::METER_KIND_VEHICLE
                                                        : pb::METER_KIND_CHARGER;
        m.device = NewKey();
        m.zone = zone;
        m.owner = rng_.Index(accounts_.size());
        m.max_export_w = rng_.Chance(8) ? 0 : export_choices[1 + rng_.Index(6)];
        m.max_import_w = rng_.Range(3000, 22000);
        m.cap_wh = m.max_export_w * kIntervalS / 3600;
        m.lag = rng_.Chance(50) ? 0 : rng_.Chance(60) ? 1 : 2;
        m.extra_lag_s = rng_.Range(0, 30);
        Pending p;
        p.op = Op::kSetup;
        p.signer = kOperator;
        p.allowed = {Code::kOk};
        p.what = "register " + m.id;
        p.bytes =
            SignTx(*operator_.key, kChainId,
                   MakeRegisterMeter(operator_.nonce + 1 + txs.size(), kChainId, operator_.addr, m.id, *m.device,
                                     m.kind, zone, accounts_[m.owner].addr, m.max_import_w,
                                     m.max_export_w, m.kind == pb::METER_KIND_VEHICLE ? 60000 : 0));
        txs.push_back(std::move(p));
        if (m.kind == pb::METER_KIND_VEHICLE) {
          // Its charger: the owner's, so the owner could sell from it, but what it lends to the
          // vehicle is never payable through it.
          m.plug = proptest::NewPlug(m.id, NewKey(), rng_);
          Pending c;
          c.op = Op::kSetup;
          c.signer = kOperator;
          c.allowed.push_back(Code::kOk);  // (an initializer list here trips GCC 12's -Wnonnull)
          c.what = "register " + m.plug.id;
          c.bytes = SignTx(*operator_.key, kChainId,
                           MakeRegisterMeter(operator_.nonce + 1 + txs.size(), kChainId, operator_.addr, m.plug.id,
                                             *m.plug.device, pb::METER_KIND_CHARGER, zone, accounts_[m.owner].addr,
                                             2 * m.max_import_w, m.max_export_w, 0));
          txs.push_back(std::move(c));
        }
        meters_.push_back(std::move(m));
      }
    }
    if (!Execute(kT0 + 1, std::move(txs))) return false;
    std::vector<pb::MeterReading> baselines;
    std::vector<Meter> after = meters_;
    for (Meter& m : after) {
      PushReading(baselines, m, kT0 + 1, kT0 + 2, 0, 0);  // registered at T0 + 1
      m.seq = 1;
      m.last_end = kT0 + 2;
    }
    Pending p;
    p.op = Op::kReadings;
    p.signer = kAggregator;
    p.allowed = {Code::kOk};
    p.what = "baseline readings";
    p.bytes = SignTx(*aggregator_.key, kChainId,
                     MakeSubmitReadings(aggregator_.nonce + 1, std::move(baselines)));
    p.meters_after = std::move(after);
    std::vector<Pending> b2;
    b2.push_back(std::move(p));
    return Execute(kT0 + 2, std::move(b2));
  }

  pb::MeterReading Reading(const Meter& m, int64_t start, int64_t end, int64_t import_total,
                           int64_t export_total) {
    return proptest::SignedReading(m, start, end, import_total, export_total, rng_, kChainId);
  }
  // The meter's reading and, for a vehicle, its plug's naming it.
  void PushReading(std::vector<pb::MeterReading>& rs, Meter& m, int64_t start, int64_t end, int64_t import_total,
                   int64_t export_total) {
    pb::MeterReading r = Reading(m, start, end, import_total, export_total);
    if (m.kind != pb::METER_KIND_VEHICLE) {
      rs.push_back(std::move(r));
      return;
    }
    proptest::PushWithPlug(rs, std::move(r), m.plug, kChainId);
  }

  // ---------------------------------------------------------------- one block

  bool Block(int64_t t, bool trading) {
    std::vector<Pending> txs;
    used_.clear();
    touched_contracts_.clear();
    const int64_t n = rng_.Range(0, kUserTxsPerBlockMax);
    for (int64_t i = 0; i < n; ++i) {
      Pending p;
      if (MakeUserTx(t, trading, p)) txs.push_back(std::move(p));
      if (!failure_.empty()) return false;
    }
    Pending readings;
    if (MakeReadings(t, readings))
      txs.insert(txs.begin() + static_cast<long>(rng_.Index(txs.size() + 1)), std::move(readings));
    return Execute(t, std::move(txs));
  }

  // Governance (contracts/gov.h): the validator, with all the power, proposes to suspend or
  // resume a zone's market, to grant or revoke a world account's aggregator role, to move the
  // market's time zone (display only), or records a decision, and votes in the same block: yes
  // passes it there and it executes at the start of the next block, which holds no txs; now and
  // then it votes no instead (a veto: rejected at once, nothing changes). The model follows:
  // orders and contracts in a suspended zone must be refused, and a market whose gate closes while
  // its zone is suspended must trade nothing and refund every order. Conservation and escrow are
  // checked after each block (Execute).
  bool GovBlocks(int64_t t) {
    pb::GovAction action;
    std::string what;
    const std::string zone = zones_[rng_.Index(zones_.size())];
    const size_t who = rng_.Index(accounts_.size());
    int64_t offset = utc_offset_min_;
    const int64_t kind = rng_.Range(0, 9);
    if (kind < 5) {
      action = GovMarketAction(zone, !suspended_.count(zone));
      what = (suspended_.count(zone) ? "resume " : "suspend ") + zone;
    } else if (kind < 7) {
      const bool holds = aggregators_.count(who) > 0;
      action = GovRoleAction("aggregator", accounts_[who].addr, holds);
      what = (holds ? "revoke aggregator from account " : "grant aggregator to account ") +
             std::to_string(who);
    } else if (kind < 8) {
      while (offset == utc_offset_min_) offset = rng_.Range(-12, 14) * 60;
      action = GovParamAction("utc_offset_min", offset);
      what = "utc_offset_min = " + std::to_string(offset);
    } else {
      what = "a decision";
    }
    const bool veto = rng_.Chance(10);
    std::vector<Pending> txs(2);
    txs[0].op = txs[1].op = Op::kGov;
    txs[0].allowed = txs[1].allowed = {Code::kOk};
    txs[0].what = "propose to " + what;
    txs[1].what = (veto ? "vote against " : "vote for ") + what;
    txs[0].bytes =
        SignTx(*validator_, kChainId, MakeSubmitProposal(validator_nonce_ + 1, what, "", action));
    const uint64_t id = next_proposal_++;
    txs[1].bytes = SignTx(
        *validator_, kChainId,
        MakeVoteProposal(validator_nonce_ + 2, id, veto ? pb::GOV_VOTE_NO : pb::GOV_VOTE_YES));
    validator_nonce_ += 2;
    txs[0].signer = txs[1].signer = kValidator;
    if (!Execute(t, std::move(txs))) return false;
    auto p = LoadProposal(state_, id);
    if (veto) {
      PROP_CHECK(p && p->status() == pb::PROPOSAL_REJECTED,
                 "proposal " << id << " (" << what << ") not vetoed");
    } else {
      PROP_CHECK(p && p->status() == pb::PROPOSAL_PASSED && p->execute_height() == ctx_.height + 1,
                 "proposal " << id << " (" << what << ") did not pass for the next height");
      // In force from the next block on, before anything else in it.
      if (action.has_market()) {
        if (action.market().suspend()) {
          suspended_.insert(zone);
        } else {
          suspended_.erase(zone);
        }
      } else if (action.has_role()) {
        if (action.role().revoke()) {
          aggregators_.erase(who);
        } else {
          aggregators_.insert(who);
        }
      } else if (action.has_param()) {
        utc_offset_min_ = offset;
      }
      ++stats_.gov_actions;
    }
    if (!Execute(t + 1, {})) return false;
    p = LoadProposal(state_, id);
    PROP_CHECK(p && p->status() == (veto ? pb::PROPOSAL_REJECTED : pb::PROPOSAL_EXECUTED),
               "proposal " << id << " (" << what << ") is "
                           << (p ? ProposalStatusName(p->status()) : "missing") << ": "
                           << (p ? p->result_log() : ""));
    PROP_CHECK(
        LoadParams(state_).utc_offset_min() == utc_offset_min_ &&
            LoadZone(state_, zone)->market_suspended() == (suspended_.count(zone) > 0) &&
            HasRole(state_, "aggregator", accounts_[who].addr) == (aggregators_.count(who) > 0),
        "after " << what << " the state does not say so");
    return true;
  }

  // The zone a market tx trades in (an order, a contract proposed or accepted), or "".
  std::string ZoneOfTx(const std::string& bytes) const {
    pb::Tx tx;
    pb::TxBody body;
    if (!tx.ParseFromString(bytes) || !body.ParseFromString(tx.body())) return "";
    if (body.has_place_order()) return body.place_order().zone();
    if (body.has_propose_contract()) return body.propose_contract().zone();
    if (body.has_accept_contract()) {
      auto c = LoadContract(state_, body.accept_contract().contract_id());
      return c ? c->zone() : "";
    }
    return "";
  }

  // A block holding one registry tx alone (so no other tx's outcome depends on its order): the
  // operator deactivates a meter (open sells on it stay and will deliver nothing), or an owner
  // hands a meter over to another account (its open sells stay with the old owner).
  bool RegistryBlock(int64_t t) {
    Pending p;
    p.meter = rng_.Index(meters_.size());
    const Meter& m = meters_[p.meter];
    if (rng_.Chance(30)) {
      p.op = Op::kDeactivate;
      p.signer = kOperator;
      p.allowed = {m.active ? Code::kOk : Code::kMeterDeactivated};
      p.what = "deactivate " + m.id;
      p.bytes = SignTx(*operator_.key, kChainId, MakeDeactivateMeter(operator_.nonce + 1, m.id));
    } else {
      p.op = Op::kMeterTransfer;
      p.signer = m.owner;
      p.to = rng_.Index(accounts_.size());
      // Refused while the meter has sells or contracts not yet settled (they stay with the owner
      // who made them). Clearing at the start of the block may release the last of them, so
      // with commitments now either outcome is allowed; AfterOk checks none was left.
      p.allowed = {!m.active         ? Code::kMeterDeactivated
                   : p.to == m.owner ? Code::kInvalidArgument
                                     : Code::kOk};
      // Also refused while the meter has attested energy grid services have not settled.
      if (p.allowed[0] == Code::kOk && (HasOpenCommitments(m.id) || HasUnsettledReadings(m))) {
        p.allowed.push_back(Code::kMeterBusy);
      }
      p.what = "transfer " + m.id;
      const uint64_t nonce = accounts_[m.owner].nonce + 1;
      p.bytes = SignTx(
          *accounts_[m.owner].key, kChainId,
          MakeTransferMeter(nonce, kChainId, m.id, accounts_[m.owner].addr, *accounts_[p.to].key));
    }
    std::vector<Pending> txs;
    txs.push_back(std::move(p));
    return Execute(t, std::move(txs));
  }

  // Whether any sell or contract still counts against meter `id` (s/mkt_m/<id>/...).
  bool HasOpenCommitments(const std::string& id) const {
    bool any = false;
    state_.Scan("s/mkt_m/" + id + "/", [&](std::string_view, std::string_view) {
      any = true;
      return false;
    });
    return any;
  }

  // Whether meter m's last reading lies in an interval grid services have not settled yet.
  bool HasUnsettledReadings(const Meter& m) const {
    return m.seq > 0 && SettlementIntervalStart(m.last_end - 1, kIntervalS) >= GridSettledBefore(state_);
  }

  // Picks a signer that has no tx in this block yet (so every nonce is predictable).
  std::optional<size_t> FreeSigner() { return proptest::FreeIndex(rng_, accounts_.size(), used_); }

  std::string Sign(size_t signer, pb::TxBody body) {
    used_.insert(signer);
    return proptest::SignNext(Acct(signer), kChainId, std::move(body));
  }

  // Delivery intervals open for orders at time t (within the world's trading range).
  std::vector<int64_t> OpenIntervals(int64_t t) const {
    return proptest::OpenIntervals(intervals_, t, horizon_s_, gate_s_);
  }

  std::vector<size_t> MetersOf(size_t owner, const std::string& zone) const {
    std::vector<size_t> out;
    for (size_t i = 0; i < meters_.size(); ++i) {
      if (meters_[i].owner == owner && (zone.empty() || meters_[i].zone == zone)) out.push_back(i);
    }
    return out;
  }

  bool MakeUserTx(int64_t t, bool trading, Pending& p) {
    auto signer = FreeSigner();
    if (!signer) return false;
    p.signer = *signer;
    const std::vector<int64_t> open = trading ? OpenIntervals(t) : std::vector<int64_t>{};
    const int64_t roll = rng_.Range(0, 99);
    if (roll < 25 && !open.empty()) return MakeBuy(t, open, p);
    if (roll < 50 && !open.empty()) {
      // Sellers are the few meter owners: let one of them sign.
      const size_t owner = meters_[rng_.Index(meters_.size())].owner;
      if (!used_.count(owner)) p.signer = owner;
      return MakeSell(t, open, p);
    }
    if (roll < 58) return MakeBadOrder(t, open, p);
    if (roll < 68) return MakeCancel(t, p);
    if (roll < 90) return MakeContractOp(t, open, p);
    return MakeTransferTx(p);
  }

  int64_t Price(bool buy) {
    if (rng_.Chance(3)) return rng_.Range(1, 1'000'000);
    return buy ? rng_.Range(300, 1500) : rng_.Range(200, 1200);
  }

  bool MakeBuy(int64_t, const std::vector<int64_t>& open, Pending& p) {
    const std::string zone = zones_[rng_.Index(zones_.size())];
    const int64_t s = open[rng_.Index(open.size())];
    const int64_t e = rng_.Range(1, 600);
    const int64_t price = Price(true);
    p.op = Op::kBuy;
    p.allowed = {Code::kOk, Code::kInsufficientFunds};
    p.expect_locked = FloorValue(e, price);
    p.what = "buy " + zone + "/" + std::to_string(s) + " " + std::to_string(e) + " Wh at " +
             std::to_string(price);
    p.bytes = Sign(p.signer, MakePlaceOrder(0, pb::SIDE_BUY, zone, s, e, price));
    return true;
  }

  bool MakeSell(int64_t t, const std::vector<int64_t>& open, Pending& p) {
    const auto mine = MetersOf(p.signer, "");
    if (mine.empty()) return MakeBuy(t, open, p);
    const Meter& m = meters_[mine[rng_.Index(mine.size())]];
    const int64_t s = open[rng_.Index(open.size())];
    const int64_t e =
        m.cap_wh > 0 ? (rng_.Chance(20) ? m.cap_wh : rng_.Range(1, m.cap_wh)) : rng_.Range(1, 100);
    const int64_t price = Price(false);
    p.op = Op::kSell;
    // Capacity: other open sells and contracts on the meter may already hold it.
    p.allowed = !m.active ? std::vector<Code>{Code::kMeterDeactivated}
                : m.cap_wh > 0
                    ? std::vector<Code>{Code::kOk, Code::kInsufficientFunds, Code::kMeterCapacity}
                    : std::vector<Code>{Code::kMeterCapacity};
    p.expect_locked = FloorValueBps(e, price, collateral_bps_);
    p.what = "sell " + m.id + " " + std::to_string(s) + " " + std::to_string(e) + " Wh at " +
             std::to_string(price);
    p.bytes = Sign(p.signer, MakePlaceOrder(0, pb::SIDE_SELL, m.zone, s, e, price, m.id));
    return true;
  }

  // An order that must fail with exactly one code.
  bool MakeBadOrder(int64_t t, const std::vector<int64_t>& open, Pending& p) {
    p.op = Op::kBadOrder;
    const std::string zone = zones_[rng_.Index(zones_.size())];
    const int64_t e = rng_.Range(1, 300);
    const int64_t price = Price(true);
    const auto mine = MetersOf(p.signer, "");
    const int kind = static_cast<int>(rng_.Range(0, 8));
    if (kind == 0) {  // past gate closure (aligned)
      const int64_t s = (t + gate_s_) / kIntervalS * kIntervalS - kIntervalS * rng_.Range(0, 2);
      p.allowed = {Code::kGateClosed};
      p.what = "buy past gate closure of " + std::to_string(s);
      p.bytes = Sign(p.signer, MakePlaceOrder(0, pb::SIDE_BUY, zone, s, e, price));
      return true;
    }
    if (kind == 1) {  // beyond the horizon
      const int64_t s = ((t + horizon_s_) / kIntervalS + 1 + rng_.Range(0, 3)) * kIntervalS;
      p.allowed = {Code::kMarketNotOpen};
      p.what = "buy beyond the horizon " + std::to_string(s);
      p.bytes = Sign(p.signer, MakePlaceOrder(0, pb::SIDE_BUY, zone, s, e, price));
      return true;
    }
    if (open.empty()) return MakeTransferTx(p);
    const int64_t s = open[rng_.Index(open.size())];
    if (kind == 2) {  // misaligned
      const int64_t off = rng_.Range(1, kIntervalS - 1);
      p.allowed = {Code::kInvalidArgument};
      p.what = "misaligned buy";
      p.bytes = Sign(p.signer, MakePlaceOrder(0, pb::SIDE_BUY, zone, s + off, e, price));
      return true;
    }
    if (kind == 3) {  // someone else's meter
      std::vector<size_t> others;
      for (size_t i = 0; i < meters_.size(); ++i) {
        if (meters_[i].owner != p.signer) others.push_back(i);
      }
      if (others.empty()) return MakeTransferTx(p);
      const Meter& m = meters_[others[rng_.Index(others.size())]];
      p.allowed = {m.active ? Code::kUnauthorized : Code::kMeterDeactivated};
      p.what = "sell on another's meter " + m.id;
      p.bytes = Sign(p.signer, MakePlaceOrder(0, pb::SIDE_SELL, m.zone, s,
                                              std::max<int64_t>(1, m.cap_wh / 2), price, m.id));
      return true;
    }
    if (kind == 4 && zones_.size() > 1 && !mine.empty()) {  // own meter, wrong zone
      const Meter& m = meters_[mine[rng_.Index(mine.size())]];
      std::string other = m.zone == zones_[0] ? zones_[1] : zones_[0];
      p.allowed = {m.active ? Code::kInvalidArgument : Code::kMeterDeactivated};
      p.what = "sell " + m.id + " in zone " + other;
      p.bytes = Sign(p.signer, MakePlaceOrder(0, pb::SIDE_SELL, other, s, 1, price, m.id));
      return true;
    }
    if (kind == 5 && !mine.empty()) {  // more than the meter can ever export in an interval
      const Meter& m = meters_[mine[rng_.Index(mine.size())]];
      p.allowed = {m.active ? Code::kMeterCapacity : Code::kMeterDeactivated};
      p.what = "sell over capacity on " + m.id;
      p.bytes = Sign(p.signer, MakePlaceOrder(0, pb::SIDE_SELL, m.zone, s,
                                              m.cap_wh + rng_.Range(1, 500), price, m.id));
      return true;
    }
    if (kind == 8) {
      // Out of range (no energy, a price above the limit), or both at their maximum: an escrow of
      // 10^18, which fits in int64 (the limits are chosen so) but nobody here can pay.
      const int which = static_cast<int>(rng_.Range(0, 2));
      const int64_t energy = which == 0 ? 0 : which == 1 ? e : limits::kOrderEnergyWhMax;
      const int64_t limit = which == 1 ? limits::kOrderPriceMax + 1 : limits::kOrderPriceMax;
      p.allowed = {which == 2 ? Code::kInsufficientFunds : Code::kInvalidArgument};
      p.what = which == 2 ? "buy at the largest energy and price" : "buy out of range";
      p.bytes = Sign(p.signer, MakePlaceOrder(0, pb::SIDE_BUY, zone, s, energy, limit));
      return true;
    }
    if (kind == 6) {  // unregistered meter
      p.allowed = {Code::kMeterUnregistered};
      p.what = "sell on an unregistered meter";
      p.bytes = Sign(p.signer, MakePlaceOrder(0, pb::SIDE_SELL, zone, s, e, price, zone + "-none"));
      return true;
    }
    // Insufficient funds: more escrow than the signer's balance plus everything it could get
    // back from the module account or receive by transfer within this block.
    const int64_t bound = Balance(state_, accounts_[p.signer].addr) +
                          Balance(state_, MarketModuleAddress()) +
                          kTransferMax * kUserTxsPerBlockMax;
    const int64_t want = bound + rng_.Range(1, 1000);
    const int64_t energy = rng_.Range(1, 600);
    const int64_t big_price = want * 1000 / energy + 1;
    p.allowed = {Code::kInsufficientFunds};
    p.what = "buy beyond the signer's means";
    p.bytes = Sign(p.signer, MakePlaceOrder(0, pb::SIDE_BUY, zone, s, energy, big_price));
    return true;
  }

  bool MakeCancel(int64_t t, Pending& p) {
    p.op = Op::kCancel;
    uint64_t id = 0;
    std::optional<pb::OrderRecord> o;
    if (!orders_.empty() && rng_.Chance(95)) {
      id = orders_[rng_.Index(orders_.size())];
      o = LoadOrder(state_, id);
      PROP_CHECK(o.has_value(), "order " << id << " vanished");
      const size_t owner = OwnerIndex(o->owner());
      // Mostly the owner cancels; the owner may already have a tx in this block.
      if (rng_.Chance(75) && !used_.count(owner)) p.signer = owner;
    } else {
      id = 1'000'000 + static_cast<uint64_t>(rng_.Range(0, 1000));
    }
    Code want = Code::kOk;
    if (!o) {
      want = Code::kNotFound;
    } else if (o->owner() != AddressBytes(accounts_[p.signer].addr)) {
      want = Code::kUnauthorized;
    } else if (t >= o->interval_start_s() - gate_s_) {
      want = Code::kGateClosed;
    } else if (o->status() != pb::ORDER_OPEN) {
      want = Code::kOrderNotOpen;
    }
    p.allowed = {want};
    p.what = "cancel order " + std::to_string(id);
    p.bytes = Sign(p.signer, MakeCancelOrder(0, id));
    return true;
  }

  const Meter* FindMeter(const std::string& id) const {
    for (const Meter& m : meters_) {
      if (m.id == id) return &m;
    }
    return nullptr;
  }

  size_t OwnerIndex(const std::string& addr) const {
    for (size_t i = 0; i < accounts_.size(); ++i) {
      if (AddressBytes(accounts_[i].addr) == addr) return i;
    }
    V2G_ASSERT(false && "unknown owner");
    return 0;
  }

  bool MakeContractOp(int64_t t, const std::vector<int64_t>& open, Pending& p) {
    const int64_t roll = rng_.Range(0, 99);
    if (roll < 40 && !open.empty()) return MakePropose(open, p);
    if (contracts_.empty()) return open.empty() ? MakeTransferTx(p) : MakePropose(open, p);
    // Mostly a proposal that can still be accepted or withdrawn, sometimes any.
    std::vector<uint64_t> live;
    for (uint64_t cid : contracts_) {
      auto c = LoadContract(state_, cid);
      if (c->status() == pb::CONTRACT_PROPOSED && t < c->interval_start_s() - gate_s_)
        live.push_back(cid);
    }
    const uint64_t id = !live.empty() && rng_.Chance(80)
                            ? live[rng_.Index(live.size())]
                            : contracts_[rng_.Index(contracts_.size())];
    if (touched_contracts_.count(id)) return MakeTransferTx(p);
    auto c = LoadContract(state_, id);
    PROP_CHECK(c.has_value(), "contract " << id << " vanished");
    // Clearing (run before this block's txs once gate closure has passed) expires a proposal.
    const bool closed = t >= c->interval_start_s() - gate_s_;
    const pb::ContractStatus status =
        c->status() == pb::CONTRACT_PROPOSED && closed ? pb::CONTRACT_EXPIRED : c->status();
    touched_contracts_.insert(id);
    if (roll < 80) {  // accept
      p.op = Op::kAccept;
      const size_t counterparty = OwnerIndex(c->counterparty());
      if (rng_.Chance(85) && !used_.count(counterparty)) p.signer = counterparty;
      std::string meter;
      const bool signer_sells = c->seller() == AddressBytes(accounts_[p.signer].addr);
      if (signer_sells) {
        auto mine = MetersOf(p.signer, c->zone());
        meter = mine.empty() ? c->zone() + "-none" : meters_[mine[rng_.Index(mine.size())]].id;
      }
      // What the meter that would deliver (named now or in the proposal) says of the seller.
      const Meter* dm = FindMeter(signer_sells ? meter : c->meter_id());
      const Code meter_code = !dm           ? Code::kMeterUnregistered
                              : !dm->active ? Code::kMeterDeactivated
                              : AddressBytes(accounts_[dm->owner].addr) != c->seller()
                                  ? Code::kUnauthorized
                              : dm->cap_wh == 0 ? Code::kMeterCapacity
                                                : Code::kOk;
      if (c->counterparty() != AddressBytes(accounts_[p.signer].addr)) {
        p.allowed = {Code::kUnauthorized};
      } else if (closed) {
        p.allowed = {Code::kGateClosed};
      } else if (status != pb::CONTRACT_PROPOSED) {
        p.allowed = {Code::kOrderNotOpen};
      } else if (meter_code != Code::kOk) {
        p.allowed = {meter_code};
      } else {
        p.allowed = {Code::kOk, Code::kMeterCapacity, Code::kInsufficientFunds};
      }
      p.what = "accept contract " + std::to_string(id) + (meter.empty() ? "" : " on " + meter);
      p.bytes = Sign(p.signer, MakeAcceptContract(0, id, meter));
      return true;
    }
    p.op = Op::kCancelContract;
    const size_t proposer = OwnerIndex(c->proposer());
    if (rng_.Chance(80) && !used_.count(proposer)) p.signer = proposer;
    if (c->proposer() != AddressBytes(accounts_[p.signer].addr)) {
      p.allowed = {Code::kUnauthorized};
    } else if (status != pb::CONTRACT_PROPOSED) {
      p.allowed = {Code::kOrderNotOpen};
    } else {
      p.allowed = {Code::kOk};
    }
    p.what = "cancel contract " + std::to_string(id);
    p.bytes = Sign(p.signer, MakeCancelContract(0, id));
    return true;
  }

  bool MakePropose(const std::vector<int64_t>& open, Pending& p) {
    p.op = Op::kPropose;
    auto mine = MetersOf(p.signer, "");
    const bool sell = !mine.empty() && rng_.Chance(50);
    const Meter& some = meters_[rng_.Index(meters_.size())];
    // A buyer mostly asks someone who owns a meter (in that meter's zone).
    const size_t counterparty =
        !sell && rng_.Chance(75) ? some.owner : rng_.Index(accounts_.size());
    const bool to_self = counterparty == p.signer;
    const int64_t s = open[rng_.Index(open.size())];
    const int64_t price = Price(!sell);
    if (sell) {
      const Meter& m = meters_[mine[rng_.Index(mine.size())]];
      const int64_t e = m.cap_wh > 0 ? rng_.Range(1, m.cap_wh) : 1;
      p.allowed = {to_self        ? Code::kInvalidArgument
                   : !m.active    ? Code::kMeterDeactivated
                   : m.cap_wh > 0 ? Code::kOk
                                  : Code::kMeterCapacity};
      p.what = "propose sell on " + m.id;
      p.bytes = Sign(p.signer, MakeProposeContract(0, accounts_[counterparty].addr, pb::SIDE_SELL,
                                                   m.zone, s, e, price, m.id));
      return true;
    }
    const std::string zone =
        counterparty == some.owner ? some.zone : zones_[rng_.Index(zones_.size())];
    p.allowed = {to_self ? Code::kInvalidArgument : Code::kOk};
    p.what = "propose buy in " + zone;
    p.bytes = Sign(p.signer, MakeProposeContract(0, accounts_[counterparty].addr, pb::SIDE_BUY,
                                                 zone, s, rng_.Range(1, 400), price));
    return true;
  }

  bool MakeTransferTx(Pending& p) {
    p.op = Op::kTransfer;
    // The signer's balance only grows before its own (single) tx of the block runs.
    const int64_t balance = Balance(state_, accounts_[p.signer].addr);
    p.to = rng_.Chance(3) && balance > 0 ? kModule : rng_.Index(accounts_.size());
    p.amount = p.to == kModule ? rng_.Range(1, std::min(balance, kTransferMax))
                               : rng_.Range(1, kTransferMax);
    // Nobody pays into the module account by hand: only the market's rules move its funds.
    p.allowed = p.to == kModule ? std::vector<Code>{Code::kInvalidArgument}
                                : std::vector<Code>{Code::kOk, Code::kInsufficientFunds};
    p.what =
        "transfer " + std::to_string(p.amount) + (p.to == kModule ? " to the module account" : "");
    const Address to = p.to == kModule ? MarketModuleAddress() : accounts_[p.to].addr;
    p.bytes = Sign(p.signer, ::v2g::MakeTransfer(0, to, "CNY", p.amount));
    return true;
  }

  // Most energy a meter may report over span_s (contracts/meters.h rule 12).
  int64_t ExportLimit(const Meter& m, int64_t span_s) const {
    return proptest::EnergyLimit(params_, m.max_export_w, span_s);
  }

  // The aggregator's batch for this block: each meter reports per its lag, contiguously.
  bool MakeReadings(int64_t t, Pending& p) {
    std::vector<pb::MeterReading> rs;
    std::vector<Meter> after = meters_;
    const int64_t skew = params_.reading_future_skew_s();
    for (Meter& m : after) {
      if (!m.active) continue;  // a deactivated meter's readings are refused
      if (SettlementIntervalStart(m.last_end, kIntervalS) + kIntervalS + grace_s_ <= t) {
        // The interval of its last reading has settled, so a reading starting there would be
        // refused: the meter starts its next one in the first unsettled interval, and what it
        // measured in between spans a boundary (unattributed).
        const int64_t u = SettlementIntervalStart(t - kIntervalS - grace_s_, kIntervalS) + kIntervalS;
        const int64_t e_max = std::min(u + kIntervalS, t + skew);
        if (u > intervals_.back() || e_max <= u || !rng_.Chance(40)) continue;
        const int64_t e = rng_.Range(u + 1, e_max);
        m.export_total += rng_.Range(0, ExportLimit(m, e - m.last_end));
        PushReading(rs, m, u, e, m.import_total, m.export_total);
        ++m.seq;
        m.last_end = e;
        ++stats_.catch_ups;
        continue;
      }
      for (int rep = 0; rep < 2; ++rep) {
        const int64_t s = SettlementIntervalStart(m.last_end, kIntervalS);
        const int64_t end = s + kIntervalS;
        if (s > intervals_.back()) break;  // no market there: nothing to attest for
        if (end + grace_s_ <= t) break;    // settled: the next block catches up
        const int64_t max_end = std::min(end, t + skew);
        if (max_end <= m.last_end) break;
        int64_t e = 0;
        if (m.lag == 0) {
          e = max_end == end ? end : rng_.Chance(10) ? rng_.Range(m.last_end + 1, max_end) : 0;
        } else if (m.lag == 1) {
          if (rng_.Chance(20))
            e = max_end == end && rng_.Chance(70) ? end : rng_.Range(m.last_end + 1, max_end);
        } else if (t >= end + m.extra_lag_s) {
          e = end;  // late: in the grace window if a block falls there, else caught up later
        }
        if (e == 0) break;
        if (e == end && m.last_end < end && end + 1 <= t + skew && end + kIntervalS + grace_s_ > t &&
            rng_.Chance(3)) {
          // A gap: the next reading starts in the next interval, so its energy spans a boundary
          // and is attested to no interval (contracts/meters.h).
          const int64_t gap_end = rng_.Range(end + 1, std::min(end + kIntervalS, t + skew));
          m.export_total += rng_.Range(0, ExportLimit(m, gap_end - m.last_end));
          PushReading(rs, m, end, gap_end, m.import_total, m.export_total);
          ++m.seq;
          m.last_end = gap_end;
          continue;
        }
        if (m.target_interval != s) {
          // Full, partial, none or more than promised, of what the meter is committed to now.
          auto v = state_.Get(CommitmentKeyOf(m.id, s));
          const int64_t committed = v ? DecodeRecord<pb::MeterCommitment>(*v).committed_wh() : 0;
          const int mode = static_cast<int>(rng_.Range(0, 9));
          m.target_interval = s;
          m.target_left = mode < 4   ? committed
                          : mode < 7 ? rng_.Range(0, committed)
                          : mode < 8 ? 0
                          : mode < 9 ? committed + rng_.Range(1, 50)
                                     : rng_.Range(0, ExportLimit(m, kIntervalS));
        }
        // Within the per-reading bound, and the interval's bound counted once (contracts/meters.h).
        if (m.acc_interval != s) m.acc_interval = s, m.acc_export = 0, m.acc_start = m.last_end;
        const int64_t exp = std::max<int64_t>(
            0, std::min({m.target_left, ExportLimit(m, e - m.last_end), ExportLimit(m, e - m.acc_start) - m.acc_export}));
        m.acc_export += exp;
        m.target_left -= exp;
        m.export_total += exp;
        PushReading(rs, m, m.last_end, e, m.import_total, m.export_total);
        ++m.seq;
        m.last_end = e;
      }
    }
    if (rs.empty()) return false;
    stats_.readings += static_cast<int64_t>(rs.size());
    p.op = Op::kReadings;
    p.signer = kAggregator;
    p.allowed = {Code::kOk};
    p.what = std::to_string(rs.size()) + " readings";
    p.bytes = SignTx(*aggregator_.key, kChainId,
                     MakeSubmitReadings(aggregator_.nonce + 1, std::move(rs)));
    p.meters_after = std::move(after);
    return true;
  }

  // ---------------------------------------------------------------- execution and checks

  bool Execute(int64_t t, std::vector<Pending> txs) {
    // Nothing is traded in a suspended zone: whatever else the tx might have met, it is never
    // accepted (the refusal comes after the trading window's and the fields' checks).
    for (Pending& p : txs) {
      const std::string zone = p.op == Op::kGov ? "" : ZoneOfTx(p.bytes);
      if (zone.empty() || !suspended_.count(zone)) continue;
      std::erase(p.allowed, Code::kOk);
      p.allowed.push_back(Code::kMarketSuspended);
    }
    NextBlock(t);
    if (!SnapshotDueSettlements(t)) return false;
    if (!RunWorldBlock(txs, [this](Pending& p, const pb::TxResult& r) { return AfterOk(p, r); })) return false;
    return CheckBlock();
  }

  bool AfterOk(Pending& p, const pb::TxResult& r) {
    if (p.op == Op::kGov) return true;  // its nonces are counted by GovBlocks
    Acct(p.signer).nonce += 1;
    switch (p.op) {
      case Op::kBuy:
      case Op::kSell: {
        auto o = LoadOrder(state_, r.created_id());
        PROP_CHECK(o.has_value(), p.what << ": no order " << r.created_id());
        PROP_CHECK(o->status() == pb::ORDER_OPEN && o->locked() == p.expect_locked &&
                       o->locked_initial() == p.expect_locked &&
                       o->owner() == AddressBytes(accounts_[p.signer].addr),
                   p.what << ": order " << o->id() << " locks " << o->locked() << ", want "
                          << p.expect_locked);
        orders_.push_back(o->id());
        return true;
      }
      case Op::kPropose:
        contracts_.push_back(r.created_id());
        PROP_CHECK(LoadContract(state_, r.created_id()).has_value(), p.what);
        return true;
      case Op::kTransfer:
        accounts_[p.signer].transfers_net -= p.amount;
        accounts_[p.to].transfers_net += p.amount;
        return true;
      case Op::kDeactivate:
        meters_[p.meter].active = false;
        return true;
      case Op::kMeterTransfer:
        PROP_CHECK(!HasOpenCommitments(meters_[p.meter].id), p.what << ": the meter changed owner with open sells");
        PROP_CHECK(!HasUnsettledReadings(meters_[p.meter]), p.what << ": the meter changed owner with unsettled energy");
        meters_[p.meter].owner = p.to;
        return true;
      case Op::kReadings:
        PROP_CHECK(r.rejected_readings_size() == 0,
                   p.what << ": reading rejected: " << r.rejected_readings(0).message());
        meters_ = std::move(p.meters_after);
        return true;
      default:
        return true;
    }
  }

  // Settlement runs before a block's txs, so the attested export it pays against is what the
  // state holds just before the block: remember it for every market about to settle.
  bool SnapshotDueSettlements(int64_t t) {
    due_.clear();
    state_.Scan(kMarketPrefix, [&](std::string_view, std::string_view v) {
      auto m = DecodeRecord<pb::MarketRecord>(std::string(v));
      if (m.status() == pb::MARKET_CLEARED && t >= m.interval_start_s() + kIntervalS + grace_s_) {
        MarketId id{m.zone(), m.interval_start_s()};
        due_.insert(id);
        auto& snap = snapshot_[id];
        for (const Meter& meter : meters_) {
          if (meter.zone != m.zone()) continue;
          // What settlement pays against: a vehicle's export as far as its plug confirmed it.
          snap[meter.id] = LoadIntervalMoneyEnergy(state_, meter.id, m.interval_start_s()).payable_export_wh;
        }
      }
      return true;
    });
    return true;
  }

  bool CheckBlock() {
    Status st = CheckConservation(state_);
    PROP_CHECK(st.ok(), st.ToString());
    st = CheckMarketEscrow(state_);
    PROP_CHECK(st.ok(), st.ToString());
    if (!CheckRecords()) return false;
    std::vector<pb::MarketRecord> markets;
    state_.Scan(kMarketPrefix, [&](std::string_view, std::string_view v) {
      markets.push_back(DecodeRecord<pb::MarketRecord>(std::string(v)));
      return true;
    });
    for (const auto& m : markets) {
      const MarketId id{m.zone(), m.interval_start_s()};
      const pb::MarketStatus before = status_.count(id) ? status_.at(id) : pb::MARKET_OPEN;
      status_[id] = m.status();
      const bool settled_now = m.status() == pb::MARKET_SETTLED && before == pb::MARKET_CLEARED;
      PROP_CHECK((due_.count(id) > 0) == settled_now, "market " << m.zone() << "/"
                                                                << m.interval_start_s()
                                                                << " settled at the wrong time");
      if (before == m.status()) continue;
      PROP_CHECK(settled_now || (before == pb::MARKET_OPEN && m.status() == pb::MARKET_CLEARED),
                 "market " << m.zone() << "/" << m.interval_start_s() << " skipped a state");
      if (m.status() == pb::MARKET_CLEARED && !CheckCleared(m)) return false;
      if (m.status() == pb::MARKET_SETTLED && !CheckSettled(m)) return false;
    }
    return true;
  }

  // Bookkeeping of every order and contract, and the meters' commitments.
  bool CheckRecords() {
    std::map<std::string, int64_t> want;  // commitment key -> Wh
    bool ok = true;
    std::string err;
    state_.Scan(kOrderPrefix, [&](std::string_view, std::string_view v) {
      auto o = DecodeRecord<pb::OrderRecord>(std::string(v));
      const bool buy = o.side() == pb::SIDE_BUY;
      const int64_t spent = buy ? o.paid() : o.penalty();
      if (o.locked() < 0 || o.refunded() < 0 || o.paid() < 0 || o.penalty() < 0 ||
          o.locked_initial() != o.locked() + o.refunded() + spent ||
          o.filled_wh() > o.energy_wh() || o.delivered_wh() > o.filled_wh()) {
        ok = false;
        err = "order " + std::to_string(o.id()) + " does not add up: " + o.ShortDebugString();
        return false;
      }
      if (!buy && o.status() == pb::ORDER_OPEN)
        want[CommitmentKeyOf(o.meter_id(), o.interval_start_s())] += o.energy_wh();
      if (!buy && o.status() == pb::ORDER_MATCHED)
        want[CommitmentKeyOf(o.meter_id(), o.interval_start_s())] += o.filled_wh();
      return true;
    });
    PROP_CHECK(ok, err);
    state_.Scan(kContractPrefix, [&](std::string_view, std::string_view v) {
      auto c = DecodeRecord<pb::ContractRecord>(std::string(v));
      if (c.escrow() < 0 || c.collateral() < 0) {
        ok = false;
        err = "contract " + std::to_string(c.id()) + " holds a negative amount";
        return false;
      }
      if (c.status() == pb::CONTRACT_ACCEPTED) {
        want[CommitmentKeyOf(c.meter_id(), c.interval_start_s())] += c.energy_wh();
        if (c.escrow() != FloorValue(c.energy_wh(), c.price()) ||
            c.collateral() != FloorValueBps(c.energy_wh(), c.price(), collateral_bps_)) {
          ok = false;
          err = "accepted contract " + std::to_string(c.id()) + " holds the wrong amounts";
          return false;
        }
      }
      return true;
    });
    PROP_CHECK(ok, err);
    std::map<std::string, int64_t> got;
    state_.Scan("s/mkt_m/", [&](std::string_view k, std::string_view v) {
      got[std::string(k)] = DecodeRecord<pb::MeterCommitment>(std::string(v)).committed_wh();
      return true;
    });
    PROP_CHECK(got == want, "meter commitments ("
                                << got.size() << " keys) differ from the open sells, matched sells "
                                << "and accepted contracts (" << want.size() << " keys)");
    for (const Meter& m : meters_) {
      auto it = got.lower_bound("s/mkt_m/" + m.id + "/");
      for (; it != got.end() && it->first.compare(0, 9 + m.id.size(), "s/mkt_m/" + m.id + "/") == 0;
           ++it) {
        PROP_CHECK(it->second <= m.cap_wh,
                   m.id << " committed " << it->second << " Wh, capacity " << m.cap_wh);
      }
    }
    return true;
  }

  bool CheckCleared(const pb::MarketRecord& m) {
    const auto orders = LoadMarketOrders(state_, m.zone(), m.interval_start_s());
    const auto trades = LoadMarketTrades(state_, m.zone(), m.interval_start_s());
    std::vector<AuctionOrder> bids, asks;
    std::map<uint64_t, const pb::OrderRecord*> by_id;
    for (const auto& o : orders) {
      by_id[o.id()] = &o;
      if (o.status() == pb::ORDER_CANCELLED) continue;  // everything else was open at clearing
      (o.side() == pb::SIDE_BUY ? bids : asks).push_back({o.id(), o.limit_price(), o.energy_wh()});
    }
    AuctionResult r;
    r.price = m.clearing_price();
    r.volume_wh = m.cleared_energy_wh();
    std::map<uint64_t, int64_t> escrow;
    for (const auto& t : trades) {
      r.fills.push_back({t.buy_order_id(), t.sell_order_id(), t.energy_wh()});
      PROP_CHECK(t.price() == m.clearing_price() &&
                     t.escrow() == FloorValue(t.energy_wh(), t.price()) && !t.settled(),
                 "trade " << t.index() << " of " << m.zone() << "/" << m.interval_start_s() << ": "
                          << t.ShortDebugString());
      PROP_CHECK(by_id.count(t.buy_order_id()) && by_id.count(t.sell_order_id()),
                 "trade names an unknown order");
      const auto& sell = *by_id.at(t.sell_order_id());
      PROP_CHECK(t.meter_id() == sell.meter_id() && t.seller() == sell.owner() &&
                     t.buyer() == by_id.at(t.buy_order_id())->owner(),
                 "trade " << t.index() << " names the wrong parties or meter");
      escrow[t.buy_order_id()] += t.escrow();
    }
    PROP_CHECK(static_cast<int64_t>(trades.size()) == m.trades(),
               "market counts " << m.trades() << " trades");
    PROP_CHECK(m.suspended() == (suspended_.count(m.zone()) > 0),
               "market " << m.zone() << "/" << m.interval_start_s() << " suspended "
                         << m.suspended() << ", its zone " << suspended_.count(m.zone()));
    if (m.suspended()) {
      PROP_CHECK(trades.empty() && m.clearing_price() == 0 && m.cleared_energy_wh() == 0,
                 "suspended market " << m.zone() << "/" << m.interval_start_s() << " traded");
      r = AuctionResult{};
    }
    const std::string err = m.suspended() ? "" : CheckAuction(bids, asks, r);
    PROP_CHECK(err.empty(), "market " << m.zone() << "/" << m.interval_start_s()
                                      << " cleared wrongly: " << err
                                      << "\n  book: " << DescribeBook(bids, asks));
    for (const auto& o : orders) {
      if (o.status() == pb::ORDER_CANCELLED) continue;
      const bool matched = o.filled_wh() > 0;
      const int64_t keep = o.side() == pb::SIDE_BUY
                               ? (escrow.count(o.id()) ? escrow.at(o.id()) : 0)
                               : FloorValueBps(o.filled_wh(), o.limit_price(), collateral_bps_);
      PROP_CHECK(
          o.status() == (matched ? pb::ORDER_MATCHED : pb::ORDER_EXPIRED) && o.locked() == keep,
          "order after clearing: " << o.ShortDebugString() << " (keeps " << keep << ")");
    }
    for (const auto& c : LoadMarketContracts(state_, m.zone(), m.interval_start_s())) {
      PROP_CHECK(c.status() != pb::CONTRACT_PROPOSED,
                 "contract " << c.id() << " still proposed after clearing");
    }
    return true;
  }

  // One obligation on a meter, as contracts/market.h orders them: (sell order or contract id,
  // trade index).
  struct Obligation {
    uint64_t id;
    uint32_t sub;
    const pb::TradeRecord* trade;
    const pb::ContractRecord* contract;
  };

  bool CheckSettled(const pb::MarketRecord& m) {
    const MarketId mid{m.zone(), m.interval_start_s()};
    PROP_CHECK(snapshot_.count(mid),
               "no export snapshot for " << m.zone() << "/" << m.interval_start_s());
    const auto& snap = snapshot_.at(mid);
    const auto orders = LoadMarketOrders(state_, m.zone(), m.interval_start_s());
    const auto trades = LoadMarketTrades(state_, m.zone(), m.interval_start_s());
    const auto contracts = LoadMarketContracts(state_, m.zone(), m.interval_start_s());
    std::map<uint64_t, const pb::OrderRecord*> by_id;
    std::map<uint64_t, int64_t> collateral_left;  // sell order -> collateral kept at clearing
    for (const auto& o : orders) {
      by_id[o.id()] = &o;
      PROP_CHECK(
          o.locked() == 0 && (o.status() == pb::ORDER_SETTLED || o.status() == pb::ORDER_EXPIRED ||
                              o.status() == pb::ORDER_CANCELLED),
          "order after settlement: " << o.ShortDebugString());
      PROP_CHECK((o.status() == pb::ORDER_SETTLED) == (o.filled_wh() > 0),
                 "order " << o.id() << " status");
      if (o.side() == pb::SIDE_SELL)
        collateral_left[o.id()] = FloorValueBps(o.filled_wh(), o.limit_price(), collateral_bps_);
    }
    std::map<std::string, std::vector<Obligation>> by_meter;
    for (const auto& t : trades)
      by_meter[t.meter_id()].push_back({t.sell_order_id(), t.index(), &t, nullptr});
    for (const auto& c : contracts) {
      const bool had_funds = c.status() == pb::CONTRACT_SETTLED;
      PROP_CHECK(c.escrow() == 0 && c.collateral() == 0 &&
                     (had_funds || c.status() == pb::CONTRACT_EXPIRED ||
                      c.status() == pb::CONTRACT_CANCELLED),
                 "contract after settlement: " << c.ShortDebugString());
      if (had_funds) by_meter[c.meter_id()].push_back({c.id(), 0, nullptr, &c});
    }
    std::map<uint64_t, std::array<int64_t, 3>> per_order;  // paid, penalty, delivered
    int64_t delivered_total = 0;
    for (auto& [meter, obs] : by_meter) {
      std::sort(obs.begin(), obs.end(), [](const Obligation& a, const Obligation& b) {
        return std::tie(a.id, a.sub) < std::tie(b.id, b.sub);
      });
      PROP_CHECK(snap.count(meter), "meter " << meter << " not in zone " << m.zone());
      const int64_t attested = snap.at(meter);
      int64_t available = attested, paid_for = 0;
      for (const Obligation& ob : obs) {
        const int64_t energy = ob.trade ? ob.trade->energy_wh() : ob.contract->energy_wh();
        const int64_t price = ob.trade ? ob.trade->price() : ob.contract->price();
        const int64_t escrow = ob.trade ? ob.trade->escrow() : FloorValue(energy, price);
        const int64_t delivered = ob.trade ? ob.trade->delivered_wh() : ob.contract->delivered_wh();
        const int64_t paid = ob.trade ? ob.trade->seller_paid() : ob.contract->seller_paid();
        const int64_t refund = ob.trade ? ob.trade->buyer_refund() : ob.contract->buyer_refund();
        const int64_t penalty = ob.trade ? ob.trade->penalty() : ob.contract->penalty();
        const int64_t collateral = ob.trade ? collateral_left.at(ob.trade->sell_order_id())
                                            : FloorValueBps(energy, price, collateral_bps_);
        const int64_t want_d = std::min(available, energy);
        const int64_t want_penalty =
            std::min(collateral, FloorValueBps(energy - want_d, price, penalty_bps_));
        PROP_CHECK(delivered == want_d && paid == FloorValue(delivered, price) &&
                       paid + refund == escrow && penalty == want_penalty &&
                       penalty <= collateral && (!ob.trade || ob.trade->settled()),
                   "obligation " << ob.id << "/" << ob.sub << " on " << meter << " (attested "
                                 << attested << " Wh): delivered " << delivered << " (want "
                                 << want_d << "), paid " << paid << ", refund " << refund
                                 << ", escrow " << escrow << ", penalty " << penalty << " (want "
                                 << want_penalty << ", collateral " << collateral << ")");
        if (ob.contract) {
          PROP_CHECK(ob.contract->collateral_returned() + penalty == collateral,
                     "contract " << ob.id << " collateral");
          ++stats_.contracts_settled;
        } else {
          collateral_left[ob.trade->sell_order_id()] -= penalty;
          for (uint64_t id : {ob.trade->buy_order_id(), ob.trade->sell_order_id()}) {
            per_order[id][0] += paid;
            per_order[id][1] += penalty;
            per_order[id][2] += delivered;
          }
          ++stats_.trades;
        }
        available -= delivered;
        paid_for += delivered;
        delivered_total += delivered;
        (delivered == energy ? stats_.full : delivered == 0 ? stats_.zero : stats_.partial) += 1;
        stats_.penalties += penalty > 0 ? 1 : 0;
      }
      // The headline property: no meter is paid for energy it had not attested at settlement.
      PROP_CHECK(paid_for <= attested,
                 meter << " paid for " << paid_for << " Wh, attested " << attested);
      paid_for_[{meter, m.interval_start_s()}] = paid_for;
    }
    for (const auto& [id, sums] : per_order) {
      const auto& o = *by_id.at(id);
      PROP_CHECK(o.paid() == sums[0] && o.penalty() == sums[1] && o.delivered_wh() == sums[2],
                 "order " << id << " totals differ from its trades: " << o.ShortDebugString());
    }
    PROP_CHECK(m.delivered_energy_wh() == delivered_total,
               "market delivered " << m.delivered_energy_wh());
    ++markets_settled_;
    return true;
  }

  bool Final() {
    bool timers = false;
    state_.Scan(kMarketTimerPrefix, [&](std::string_view, std::string_view) {
      timers = true;
      return false;
    });
    PROP_CHECK(!timers, "timers left after the last settlement");
    for (const auto& [id, status] : status_) {
      PROP_CHECK(status == pb::MARKET_SETTLED,
                 "market " << id.first << "/" << id.second << " never settled");
    }
    PROP_CHECK(Balance(state_, MarketModuleAddress()) == 0,
               "the module account still holds " << Balance(state_, MarketModuleAddress()));
    std::map<std::string, int64_t> earned;  // address bytes -> net market income
    bool ok = true;
    std::string err;
    state_.Scan(kOrderPrefix, [&](std::string_view, std::string_view v) {
      auto o = DecodeRecord<pb::OrderRecord>(std::string(v));
      if (o.locked() != 0 || o.status() == pb::ORDER_OPEN || o.status() == pb::ORDER_MATCHED) {
        ok = false;
        err = "order not final: " + o.ShortDebugString();
        return false;
      }
      earned[o.owner()] += (o.side() == pb::SIDE_SELL ? 1 : -1) * (o.paid() - o.penalty());
      return true;
    });
    PROP_CHECK(ok, err);
    state_.Scan(kContractPrefix, [&](std::string_view, std::string_view v) {
      auto c = DecodeRecord<pb::ContractRecord>(std::string(v));
      if (c.escrow() != 0 || c.collateral() != 0 || c.status() == pb::CONTRACT_PROPOSED ||
          c.status() == pb::CONTRACT_ACCEPTED) {
        ok = false;
        err = "contract not final: " + c.ShortDebugString();
        return false;
      }
      earned[c.seller()] += c.seller_paid() - c.penalty();
      earned[c.buyer()] -= c.seller_paid() - c.penalty();
      return true;
    });
    PROP_CHECK(ok, err);
    for (const auto& a : accounts_) {
      const int64_t e = earned.count(AddressBytes(a.addr)) ? earned.at(AddressBytes(a.addr)) : 0;
      const int64_t want = a.genesis + a.transfers_net + e;
      PROP_CHECK(Balance(state_, a.addr) == want,
                 "account balance " << Balance(state_, a.addr) << ", genesis " << a.genesis
                                    << " + transfers " << a.transfers_net << " + market " << e
                                    << " = " << want);
    }
    // A settled interval's attested export never changes (readings for it are refused), and
    // nothing beyond it was paid.
    for (const auto& [mid, snap] : snapshot_) {
      for (const auto& [meter, attested] : snap) {
        const int64_t now = LoadIntervalMoneyEnergy(state_, meter, mid.second).payable_export_wh;
        PROP_CHECK(now == attested, meter << " export of settled interval " << mid.second << " went from "
                                          << attested << " to " << now << " Wh");
        auto it = paid_for_.find({meter, mid.second});
        PROP_CHECK(it == paid_for_.end() || it->second <= attested,
                   meter << " paid beyond attested");
      }
    }
    return true;
  }

  int64_t gate_s_ = 0, grace_s_ = 0, horizon_s_ = 0, collateral_bps_ = 0, penalty_bps_ = 0;
  std::optional<KeyPair> validator_;
  uint64_t validator_nonce_ = 0;
  uint64_t next_proposal_ = 1;
  std::set<std::string> suspended_;  // zones whose market governance suspended
  std::set<size_t> aggregators_;     // world accounts governance made aggregators
  int64_t utc_offset_min_ = 0;
  std::vector<std::string> zones_;
  std::vector<int64_t> intervals_;
  Account operator_, aggregator_;
  std::vector<Account> accounts_;
  std::vector<Meter> meters_;
  std::vector<uint64_t> orders_, contracts_;
  std::set<size_t> used_;
  std::set<uint64_t> touched_contracts_;
  std::set<MarketId> due_;
  std::map<MarketId, pb::MarketStatus> status_;
  std::map<MarketId, std::map<std::string, int64_t>> snapshot_;  // export when each market settled
  std::map<std::pair<std::string, int64_t>, int64_t> paid_for_;  // (meter, interval) -> Wh paid
  int64_t markets_settled_ = 0;
};

TEST(MarketProperty, RandomMarketsKeepEveryInvariant) {
  InitCrypto();
  std::signal(SIGABRT, proptest::PrintReplayOnAbort);
  const uint64_t base = proptest::BaseSeed(kBaseSeed);
  const int64_t target = EnvInt("V2G_PROPERTY_MARKETS", kMarketsDefault);
  Stats stats;
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t i = 0; stats.markets < target; ++i) {
    proptest::SetReplay(base + i, "V2G_PROPERTY_MARKETS");
    World w(base + i, stats);
    const bool ok = w.Run();
    ++stats.worlds;
    stats.markets += w.markets();
    ASSERT_TRUE(ok) << w.failure();
  }
  std::signal(SIGABRT, SIG_DFL);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  std::printf(
      "[ property ] %lld markets in %lld worlds (base seed %llu, %lld ms): %lld blocks, %lld txs "
      "(%lld failed), %lld readings\n",
      static_cast<long long>(stats.markets), static_cast<long long>(stats.worlds),
      static_cast<unsigned long long>(base), static_cast<long long>(ms),
      static_cast<long long>(stats.blocks), static_cast<long long>(stats.txs),
      static_cast<long long>(stats.failed_txs), static_cast<long long>(stats.readings));
  std::printf(
      "[ property ] settled %lld trades and %lld contracts: %lld delivered in full, %lld partly, "
      "%lld not at "
      "all, %lld with a penalty; %lld readings caught up past settled intervals; %lld governance "
      "actions\n",
      static_cast<long long>(stats.trades), static_cast<long long>(stats.contracts_settled),
      static_cast<long long>(stats.full), static_cast<long long>(stats.partial),
      static_cast<long long>(stats.zero), static_cast<long long>(stats.penalties),
      static_cast<long long>(stats.catch_ups), static_cast<long long>(stats.gov_actions));
  proptest::PrintCodes(stats.codes);
}

}  // namespace
}  // namespace v2g
