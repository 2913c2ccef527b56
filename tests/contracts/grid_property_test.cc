// Property test of every contract module together (market, grid services, pools) over many seeded
// random worlds driven block by block through ExecuteBlock.
//
// GridProperty.RandomWorldsConserveEverything: a genesis with CNY (the market denomination) and
// PTS, a grid company (role grid_company), an operator (role operator, sponsor of programs),
// a dozen funded accounts (some nearly broke, so tariff bills turn into debt), meters in a few
// zones and a 60 s settlement interval. Some worlds first attest a day of history (imports and
// exports one day earlier) so prior-days baselines are not zero, and then catch the grid cursor
// up over that day. Blocks then carry a random mix of: buy and sell orders (single meters and
// pool sells), bilateral contracts, tariffs and tariff enrollments, signed readings with imports
// and exports (full, partial, zero, over and late delivery), transfers, PayDebt, demand-response
// events of all three kinds with declared and prior-days baselines (some budgets so small that
// payouts are scaled pro rata), enrollments of meters and pools, programs of all three kinds in
// CNY and PTS (some budgets so small they run out mid-settlement), pool create / join / leave
// (also while the pool has open obligations), and bad input that must fail with exactly its code:
// an event by a non-grid account, enrolling someone else's meter, enrolling after the deadline, a
// pool fee over 100 %, a program with no budget, joining a pool twice, selling while in debt,
// selling a pooled meter directly, a transfer into the grid module account, PayDebt in PTS.
// After every block:
//   - every tx ended with a code its situation allows, and the block without its failed txs
//     writes exactly the same state (a failed tx changes nothing);
//   - CheckConservation (per denomination, all balances incl. module accounts == minted - burned),
//     CheckMarketEscrow, CheckGridEscrow;
//   - per (meter, interval) EnergyClaim: market_wh + event_export_wh + feed_in_wh <= attested
//     export (a kWh is paid once across the market, reverse discharge and feed-in);
//   - per event: its enrollments are the ones it counts, their performance sums to the event's,
//     each one's performance <= committed power x interval x intervals settled so far, a pool's
//     member parts sum to the pool's; once settled: owed == sum of floor(perf x price / 1000),
//     payouts by the pro-rata rule, paid <= owed, paid + returned == budget;
//   - per program: paid + remaining + returned == budget, members' pay sums to paid, closed ones
//     hold nothing.
// At the end (time past every event, program and settlement): every market, event and program
// final, both module accounts empty, and for every account the balance (CNY and PTS) is what its
// genesis, transfers and statement (LoadStatement over all time) say, plus the market penalties
// it received as a buyer and less the debts it paid; the grid company's and the operator's
// balances follow from everyone's statements and the event and program records.
//
// Environment: V2G_PROPERTY_WORLDS (worlds to run; default 400, 40 in builds without NDEBUG or
// with a sanitizer), V2G_PROPERTY_SEED (base seed; world i runs seed base + i). A failure prints
// the world's seed: V2G_PROPERTY_SEED=<that seed> V2G_PROPERTY_WORLDS=1 replays it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
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
#include <utility>
#include <vector>

#include "common/bech32.h"
#include "common/bytes.h"
#include "common/checked.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "contracts/app.h"
#include "contracts/grid.h"
#include "contracts/kv.h"
#include "contracts/market.h"
#include "contracts/meters.h"
#include "contracts/pools.h"
#include "contracts/state.h"
#include "genesis/genesis.h"
#include "tests/contracts/property_util.h"
#include "wallet/tx_builder.h"

namespace v2g {
namespace {

using proptest::EnvInt;
using proptest::FloorValue;
using proptest::Rng;

constexpr uint64_t kBaseSeed = 0x5EED'2026'0006ULL;
#ifdef V2G_PROPERTY_SLOW_BUILD
constexpr int64_t kWorldsDefault = 40;  // sanitizer / debug builds run about 20x slower
#else
constexpr int64_t kWorldsDefault = 400;
#endif
constexpr char kChainId[] = "v2g-grid-prop";
constexpr int64_t kT0 = 1795651200;  // a multiple of 86400: midnight UTC, starts a day and an interval
constexpr int64_t kDayS = 86400;
constexpr int64_t kIntervalS = 60;   // short intervals: many settlements per world
constexpr int64_t kTransferMax = 5000;
constexpr int64_t kUserTxsPerBlockMax = 12;
constexpr int64_t kForever = int64_t{1} << 40;  // past every statement interval

struct Stats {
  int64_t worlds = 0, history_worlds = 0, blocks = 0, txs = 0, failed_txs = 0, readings = 0;
  int64_t events_settled = 0, events_scaled = 0, pool_enrollments_paid = 0, programs_ran_out = 0;
  int64_t programs_closed = 0, debts_left = 0, debts_paid = 0, feed_in = 0, tariff_charges = 0;
  int64_t pool_trades = 0, leaves_with_obligations = 0, claims_checked = 0, joins_with_own_event = 0;
  std::map<std::string, int64_t> codes;  // "<op> <code>" -> count
};

struct Account {
  std::optional<KeyPair> key;  // KeyPair has no empty state
  Address addr{};
  uint64_t nonce = 0;
  int64_t genesis_cny = 0, genesis_pts = 0;
  int64_t transfers_net = 0;  // CNY
};

struct Meter {
  std::string id;
  std::optional<KeyPair> device;
  std::string zone;
  size_t owner = 0;
  int64_t max_export_w = 0, max_import_w = 0;
  int lag = 0;  // 0 prompt, 1 random, 2 at the interval's end or later (into the grace, or too late)
  uint64_t seq = 0;
  int64_t last_end = 0;
  int64_t export_total = 0, import_total = 0;
  int64_t target_interval = -1, export_left = 0, import_left = 0;
  int64_t acc_interval = -1, acc_export = 0, acc_import = 0;  // attested to acc_interval so far
  int64_t acc_start = 0;                                        // start of its first attributed span
  proptest::Plug plug;  // the charger every reading of this vehicle is mirrored on
};

enum class Op {
  kSetup, kBuy, kSell, kPoolSell, kPropose, kAccept, kTransfer, kReadings, kSetTariff, kEnrollTariff,
  kPayDebt, kCreateEvent, kEnrollEvent, kEnrollPool, kCreateProgram, kJoinProgram, kCreatePool,
  kJoinPool, kLeavePool, kBad
};

const char* OpName(Op op) {
  switch (op) {
    case Op::kSetup: return "setup";
    case Op::kBuy: return "buy";
    case Op::kSell: return "sell";
    case Op::kPoolSell: return "pool-sell";
    case Op::kPropose: return "propose";
    case Op::kAccept: return "accept";
    case Op::kTransfer: return "transfer";
    case Op::kReadings: return "readings";
    case Op::kSetTariff: return "set-tariff";
    case Op::kEnrollTariff: return "enroll-tariff";
    case Op::kPayDebt: return "pay-debt";
    case Op::kCreateEvent: return "create-event";
    case Op::kEnrollEvent: return "enroll-event";
    case Op::kEnrollPool: return "enroll-pool";
    case Op::kCreateProgram: return "create-program";
    case Op::kJoinProgram: return "join-program";
    case Op::kCreatePool: return "create-pool";
    case Op::kJoinPool: return "join-pool";
    case Op::kLeavePool: return "leave-pool";
    case Op::kBad: return "bad";
  }
  return "?";
}

struct Pending {
  Op op = Op::kSetup;
  size_t signer = 0;
  std::string bytes;
  std::vector<Code> allowed;
  std::string what;
  size_t to = 0;
  int64_t amount = 0;
  std::vector<Meter> meters_after;  // readings: the meters' cursors once accepted
};

class World : public proptest::WorldBase<Stats> {
 public:
  World(uint64_t seed, Stats& stats) : WorldBase(seed, stats, "V2G_PROPERTY_WORLDS", kT0) {}

  bool Run() {
    if (!Genesis() || !Setup()) return false;
    if (history_ && !History()) return false;
    const int64_t trading_end = intervals_.back();
    const int64_t end = intervals_.back() + 3 * kIntervalS + grace_s_;
    int64_t t = std::max(time_s_ + 1, kT0 + 1);
    while (t < end) {
      if (!Block(t, t < trading_end)) return false;
      t += rng_.Chance(2) ? rng_.Range(60, 200) : rng_.Range(2, 12);
    }
    // Past every event, program end and settlement (the grid catches up at most 96 intervals a
    // block, so a few blocks).
    for (int i = 0; i < 3; ++i) {
      if (!Block(end + 3600 + i, false)) return false;
    }
    return Final();
  }

 private:
  static constexpr size_t kGrid = 1000;
  static constexpr size_t kOperator = 1001;
  static constexpr size_t kSubmitter = 1002;

  Account& Acct(size_t i) {
    return i == kGrid ? grid_ : i == kOperator ? operator_ : i == kSubmitter ? submitter_ : accounts_[i];
  }
  static int64_t Bal(const KvReader& kv, const Address& a, const char* denom = "CNY") {
    return BalanceOf(LoadAccount(kv, a), denom);
  }
  int64_t NextStart(int64_t t) const { return SettlementIntervalStart(t, kIntervalS) + kIntervalS; }
  int64_t GridCursor() const {
    auto v = state_.Get("s/grid_cursor");
    return v ? DecodeRecord<pb::GridCursor>(*v).next_interval_s() : 0;
  }
  size_t OwnerIndex(const std::string& addr) const {
    for (size_t i = 0; i < accounts_.size(); ++i) {
      if (AddressBytes(accounts_[i].addr) == addr) return i;
    }
    return kGrid;  // not an ordinary account
  }

  // ---------------------------------------------------------------- genesis and setup

  bool Genesis() {
    history_ = rng_.Chance(50);
    gate_s_ = rng_.Range(0, 20);
    grace_s_ = rng_.Range(0, 20);
    horizon_s_ = gate_s_ + kIntervalS + rng_.Range(0, 240);
    const int zones = static_cast<int>(rng_.Range(1, 3));
    for (int z = 0; z < zones; ++z) zones_.push_back("Z" + std::to_string(z));
    const int64_t k = rng_.Range(6, 12);
    for (int64_t i = 1; i <= k; ++i) intervals_.push_back(kT0 + i * kIntervalS);
    genesis_s_ = history_ ? kT0 - kDayS : kT0;

    GenesisState g;
    g.chain_id = kChainId;
    g.genesis_time_ms = genesis_s_ * 1000;
    proptest::AddValidator(g, rng_);
    for (Account* a : {&grid_, &operator_, &submitter_}) proptest::GiveKey(*a, rng_);
    const KeyPair issuer = NewKey();
    g.denoms.push_back({"CNY", 2, AddressFromPublicKey(issuer.public_key())});
    g.denoms.push_back({"PTS", 0, AddressFromPublicKey(issuer.public_key())});
    g.roles.push_back({"grid_company", grid_.addr});
    g.roles.push_back({"operator", operator_.addr});
    grid_.genesis_cny = 50'000'000;
    operator_.genesis_cny = 2'000'000;
    operator_.genesis_pts = 5'000'000;
    g.balances.push_back({grid_.addr, "CNY", grid_.genesis_cny});
    g.balances.push_back({operator_.addr, "CNY", operator_.genesis_cny});
    g.balances.push_back({operator_.addr, "PTS", operator_.genesis_pts});
    const size_t n = static_cast<size_t>(rng_.Range(8, 16));
    for (size_t i = 0; i < n; ++i) {
      Account a;
      proptest::GiveKey(a, rng_);
      const int kind = static_cast<int>(rng_.Range(0, 9));
      a.genesis_cny = kind < 3 ? rng_.Range(0, 300) : kind < 8 ? rng_.Range(2000, 50000) : rng_.Range(50000, 500000);
      if (a.genesis_cny > 0) g.balances.push_back({a.addr, "CNY", a.genesis_cny});
      accounts_.push_back(std::move(a));
    }
    // Every account may aggregate (the model's pools), and the grid company owns every zone.
    for (const Account* a : {&grid_, &operator_, &submitter_}) g.roles.push_back({"aggregator", a->addr});
    for (const auto& a : accounts_) g.roles.push_back({"aggregator", a.addr});
    for (const auto& z : zones_) g.zones.push_back({z, grid_.addr});
    g.params = DefaultParams();
    g.params.settlement_interval_s = kIntervalS;
    g.params.reading_future_skew_s = 5;
    g.params.market_denom = "CNY";
    g.params.market_gate_closure_s = gate_s_;
    g.params.market_horizon_s = horizon_s_;
    g.params.market_grace_s = grace_s_;
    g.params.market_collateral_bps = rng_.Range(0, 10000);
    g.params.market_penalty_bps = rng_.Range(0, 10000);
    g.params.baseline_days = rng_.Range(1, 3);
    time_s_ = genesis_s_;
    return proptest::InitWorld(g, kChainId, state_, params_, ctx_, FailFn());
  }

  // Registers the meters (block 1) and their baseline readings (block 2).
  bool Setup() {
    const int64_t export_choices[] = {0, 3000, 7400, 11000, 22000, 50000};
    std::vector<Pending> txs;
    for (const auto& zone : zones_) {
      const int64_t count = rng_.Range(2, 4);
      for (int64_t i = 0; i < count; ++i) {
        Meter m;
        m.id = zone + "-m" + std::to_string(i);
        m.device = NewKey();
        m.zone = zone;
        m.owner = rng_.Index(accounts_.size());
        // Nearly broke owners (their tariff bills turn into debt) own a good share of the meters.
        for (int tries = 0; tries < 4 && accounts_[m.owner].genesis_cny > 300 && rng_.Chance(40); ++tries) {
          m.owner = rng_.Index(accounts_.size());
        }
        m.max_export_w = rng_.Chance(8) ? 0 : export_choices[1 + rng_.Index(5)];
        m.max_import_w = rng_.Range(3000, 22000);
        m.lag = rng_.Chance(60) ? 0 : rng_.Chance(60) ? 1 : 2;
        Pending p;
        p.op = Op::kSetup;
        p.signer = kOperator;
        p.allowed = {Code::kOk};
        p.what = "register " + m.id;
        p.bytes = SignTx(*operator_.key, kChainId,
                         MakeRegisterMeter(operator_.nonce + 1 + txs.size(), kChainId, operator_.addr, m.id, *m.device,
                                           pb::METER_KIND_VEHICLE, zone, accounts_[m.owner].addr, m.max_import_w,
                                           m.max_export_w, 60000));
        txs.push_back(std::move(p));
        // Its charger (issue 11): the owner's, twice the car's import power (PushWithPlug).
        m.plug = proptest::NewPlug(m.id, NewKey(), rng_);
        Pending c;
        c.op = Op::kSetup;
        c.signer = kOperator;
        c.allowed.push_back(Code::kOk);
        c.what = "register " + m.plug.id;
        c.bytes = SignTx(*operator_.key, kChainId,
                         MakeRegisterMeter(operator_.nonce + 1 + txs.size(), kChainId, operator_.addr, m.plug.id,
                                           *m.plug.device, pb::METER_KIND_CHARGER, zone, accounts_[m.owner].addr,
                                           2 * m.max_import_w, m.max_export_w, 0));
        txs.push_back(std::move(c));
        meters_.push_back(std::move(m));
      }
    }
    if (!Execute(genesis_s_ + 1, std::move(txs))) return false;
    std::vector<pb::MeterReading> rs;
    std::vector<Meter> after = meters_;
    for (Meter& m : after) {
      PushReading(rs, m, genesis_s_ + 1, genesis_s_ + 2);  // registered at genesis + 1 s
      m.seq = 1;
      m.last_end = genesis_s_ + 2;
    }
    std::vector<Pending> b2;
    b2.push_back(ReadingsTx(std::move(rs), std::move(after)));
    return Execute(genesis_s_ + 2, std::move(b2));
  }

  // A day of history before the trading day: imports and exports in the intervals one day before
  // the world's, each attested in a block as its interval ends (a reading for a settled interval
  // is refused), then blocks until the grid has settled that day.
  bool History() {
    ++stats_.history_worlds;
    const int64_t first = intervals_.front() - kDayS, last = intervals_.back() - kDayS;
    for (int64_t s = first; s <= last; s += kIntervalS) {
      std::vector<pb::MeterReading> rs;
      std::vector<Meter> after = meters_;
      for (Meter& m : after) {
        int64_t from = std::max(s, m.last_end);
        if (m.last_end < s) {  // a bridge with no energy into [s, s + 1): the rest lands in s
          PushReading(rs, m, s, s + 1);
          ++m.seq;
          m.last_end = from = s + 1;
        }
        const int64_t span = s + kIntervalS - from;  // inside the per-interval bound too
        m.import_total += rng_.Chance(20) ? 0 : rng_.Range(0, m.max_import_w * span / 3600);
        m.export_total += rng_.Chance(50) ? 0 : rng_.Range(0, m.max_export_w * span / 3600);
        PushReading(rs, m, from, s + kIntervalS);
        ++m.seq;
        m.last_end = s + kIntervalS;
      }
      std::vector<Pending> b;
      b.push_back(ReadingsTx(std::move(rs), std::move(after)));
      // A second before the interval ends (the reading may end up to the skew ahead): with no
      // grace the interval settles in the block stamped at its end.
      if (!Execute(s + kIntervalS - 1, std::move(b))) return false;
    }
    // The chain "stalls" until the trading day: blocks one second apart catch the grid up.
    for (int64_t t = kT0 - 30; GridCursor() + kIntervalS + grace_s_ <= t; ++t) {
      if (!Execute(t, {})) return false;
    }
    return true;
  }

  pb::MeterReading Reading(const Meter& m, int64_t start, int64_t end) {
    return proptest::SignedReading(m, start, end, m.import_total, m.export_total, rng_, kChainId);
  }
  // The vehicle's reading and its plug's, naming it.
  void PushReading(std::vector<pb::MeterReading>& rs, Meter& m, int64_t start, int64_t end) {
    proptest::PushWithPlug(rs, Reading(m, start, end), m.plug, kChainId);
  }

  Pending ReadingsTx(std::vector<pb::MeterReading> rs, std::vector<Meter> after) {
    stats_.readings += static_cast<int64_t>(rs.size());
    Pending p;
    p.op = Op::kReadings;
    p.signer = kSubmitter;
    p.allowed = {Code::kOk};
    p.what = std::to_string(rs.size()) + " readings";
    p.bytes = SignTx(*submitter_.key, kChainId, MakeSubmitReadings(submitter_.nonce + 1, std::move(rs)));
    p.meters_after = std::move(after);
    return p;
  }

  // ---------------------------------------------------------------- one block

  bool Block(int64_t t, bool trading) {
    std::vector<Pending> txs;
    used_.clear();
    const int64_t n = rng_.Range(0, kUserTxsPerBlockMax);
    for (int64_t i = 0; i < n; ++i) {
      Pending p;
      if (MakeUserTx(t, trading, p)) txs.push_back(std::move(p));
      if (!failure_.empty()) return false;
    }
    Pending readings;
    if (MakeReadings(t, readings)) {
      txs.insert(txs.begin() + static_cast<long>(rng_.Index(txs.size() + 1)), std::move(readings));
    }
    return Execute(t, std::move(txs));
  }

  std::string Sign(size_t signer, pb::TxBody body) {
    used_.insert(signer);
    return proptest::SignNext(Acct(signer), kChainId, std::move(body));
  }
  std::optional<size_t> FreeAccount() { return proptest::FreeIndex(rng_, accounts_.size(), used_); }
  std::vector<int64_t> OpenIntervals(int64_t t) const {
    return proptest::OpenIntervals(intervals_, t, horizon_s_, gate_s_);
  }
  // The pool a meter is in at the start of the block, and whether it is leaving (a departure can
  // complete in the block's own grid pass, so a leaving meter's status is not certain).
  std::optional<pb::PoolMember> MembershipOf(const std::string& meter) const {
    auto pool = PoolOfMeter(state_, meter);
    if (!pool) return std::nullopt;
    for (const auto& m : LoadPoolMembers(state_, *pool)) {
      if (m.meter_id() == meter) return m;
    }
    return std::nullopt;
  }
  std::vector<uint64_t> Ids(std::string_view prefix) const {
    std::vector<uint64_t> out;
    state_.Scan(prefix, [&](std::string_view k, std::string_view) {
      if (k.size() == prefix.size() + 8) out.push_back(ReadBigEndian64(k.substr(prefix.size())));
      return true;
    });
    return out;
  }

  bool MakeUserTx(int64_t t, bool trading, Pending& p) {
    const std::vector<int64_t> open = trading ? OpenIntervals(t) : std::vector<int64_t>{};
    const int64_t roll = rng_.Range(0, 99);
    if (roll < 8 && !used_.count(kGrid) && trading) return MakeGridOp(t, p);
    if (roll < 12 && !used_.count(kOperator) && trading) return MakeProgram(t, p);
    auto signer = FreeAccount();
    if (!signer) return false;
    p.signer = *signer;
    if (roll < 22 && !open.empty()) return MakeBuy(open, p);
    if (roll < 34 && !open.empty()) return MakeSell(open, p);
    if (roll < 40 && !open.empty()) return MakePoolSell(open, p);
    if (roll < 45 && !open.empty()) return MakeContract(t, open, p);
    if (roll < 55) return MakeEnroll(t, p);
    if (roll < 63) return MakePoolOp(t, p);
    if (roll < 68) return MakeJoinProgram(p);
    if (roll < 73) return MakeEnrollTariff(p);
    if (roll < 79) return MakePayDebt(p);
    if (roll < 90) return MakeBad(t, open, p);
    return MakeTransferTx(p);
  }

  int64_t Price() { return rng_.Chance(3) ? rng_.Range(1, 100000) : rng_.Range(200, 1500); }

  bool MakeBuy(const std::vector<int64_t>& open, Pending& p) {
    const std::string zone = zones_[rng_.Index(zones_.size())];
    const int64_t s = open[rng_.Index(open.size())];
    p.op = Op::kBuy;
    p.allowed = {Code::kOk, Code::kInsufficientFunds};
    p.what = "buy " + zone + "/" + std::to_string(s);
    p.bytes = Sign(p.signer, MakePlaceOrder(0, pb::SIDE_BUY, zone, s, rng_.Range(1, 900), Price()));
    return true;
  }

  // A sell on one of the signer's meters (the signer becomes a meter owner when it can).
  bool MakeSell(const std::vector<int64_t>& open, Pending& p) {
    const Meter& m = meters_[rng_.Index(meters_.size())];
    if (used_.count(m.owner)) return MakeBuy(open, p);
    p.signer = m.owner;
    const int64_t cap = m.max_export_w * kIntervalS / 3600;
    const int64_t e = cap > 0 ? rng_.Range(1, cap) : rng_.Range(1, 100);
    const auto member = MembershipOf(m.id);
    p.op = Op::kSell;
    // New debt can arise in this block's own grid pass, before the txs.
    p.allowed = {Code::kInDebt};
    if (cap == 0) {
      p.allowed.push_back(Code::kMeterCapacity);
    } else if (member && member->leave_after_s() == 0) {
      p.allowed.push_back(Code::kUnauthorized);
    } else {
      p.allowed.insert(p.allowed.end(), {Code::kOk, Code::kInsufficientFunds, Code::kMeterCapacity});
      if (member) p.allowed.push_back(Code::kUnauthorized);
    }
    if (HasDebt(state_, accounts_[p.signer].addr)) p.allowed = {Code::kInDebt};
    p.what = "sell on " + m.id;
    p.bytes = Sign(p.signer, MakePlaceOrder(0, pb::SIDE_SELL, m.zone, open[rng_.Index(open.size())], e, Price(), m.id));
    return true;
  }

  bool MakePoolSell(const std::vector<int64_t>& open, Pending& p) {
    if (pools_.empty()) return MakeBuy(open, p);
    const uint64_t pool = pools_[rng_.Index(pools_.size())];
    const size_t agg = OwnerIndex(LoadPool(state_, pool)->aggregator());
    if (used_.count(agg)) return MakeBuy(open, p);
    p.signer = agg;
    const auto members = LoadPoolMembers(state_, pool);
    const std::string zone = !members.empty() && rng_.Chance(90)
                                 ? LoadMeter(state_, members[rng_.Index(members.size())].meter_id())->zone()
                                 : zones_[rng_.Index(zones_.size())];
    const int64_t s = open[rng_.Index(open.size())];
    const int64_t cap = PoolCapacityWh(state_, pool, zone, s, kIntervalS);
    p.op = Op::kPoolSell;
    p.allowed = {Code::kOk, Code::kInsufficientFunds, Code::kMeterCapacity, Code::kInDebt};
    p.what = "pool " + std::to_string(pool) + " sells in " + zone + "/" + std::to_string(s);
    pb::TxBody b = ::v2g::MakePoolSell(0, pool, zone, s, cap > 0 ? rng_.Range(1, cap + cap / 10) : rng_.Range(2, 100), Price());
    p.bytes = Sign(p.signer, std::move(b));
    return true;
  }

  // A buyer proposes a contract to a meter's owner, or the owner accepts one proposed to it.
  bool MakeContract(int64_t t, const std::vector<int64_t>& open, Pending& p) {
    if (!proposals_.empty() && rng_.Chance(50)) {
      std::vector<uint64_t> live;
      for (uint64_t cid : proposals_) {
        auto c = *LoadContract(state_, cid);
        if (c.status() == pb::CONTRACT_PROPOSED && t < c.interval_start_s() - gate_s_) live.push_back(cid);
      }
      const uint64_t id = !live.empty() && rng_.Chance(85) ? live[rng_.Index(live.size())]
                                                           : proposals_[rng_.Index(proposals_.size())];
      auto c = *LoadContract(state_, id);
      const size_t cp = OwnerIndex(c.counterparty());
      if (cp == kGrid || used_.count(cp)) return MakeTransferTx(p);
      p.signer = cp;
      std::string meter;
      for (const Meter& m : meters_) {
        if (m.owner == cp && m.zone == c.zone()) meter = m.id;
      }
      if (meter.empty()) meter = c.zone() + "-none";
      p.op = Op::kAccept;
      // A seller in debt may not accept (kInDebt); its debt can change within the block.
      p.allowed = {Code::kOk, Code::kInsufficientFunds, Code::kMeterCapacity, Code::kUnauthorized,
                   Code::kGateClosed, Code::kOrderNotOpen, Code::kMeterUnregistered, Code::kInDebt};
      p.what = "accept contract " + std::to_string(id) + " on " + meter + " at T0+" + std::to_string(t - kT0);
      p.bytes = Sign(p.signer, MakeAcceptContract(0, id, meter));
      return true;
    }
    const Meter& m = meters_[rng_.Index(meters_.size())];
    if (m.owner == p.signer) return MakeBuy(open, p);
    p.op = Op::kPropose;
    p.allowed = {Code::kOk};
    p.what = "propose a buy from " + m.id + "'s owner";
    p.bytes = Sign(p.signer, MakeProposeContract(0, accounts_[m.owner].addr, pb::SIDE_BUY, m.zone,
                                                 open[rng_.Index(open.size())], rng_.Range(1, 600), Price()));
    return true;
  }

  bool MakeGridOp(int64_t t, Pending& p) {
    p.signer = kGrid;
    const int64_t next = NextStart(t);
    const std::string zone = zones_[rng_.Index(zones_.size())];
    if (rng_.Chance(35)) {
      p.op = Op::kSetTariff;
      std::vector<int64_t> prices;
      for (int h = 0; h < 24; ++h) prices.push_back(rng_.Chance(10) ? 0 : rng_.Range(50, 3000));
      p.allowed = {Code::kOk};
      p.what = "tariff for " + zone;
      p.bytes = Sign(kGrid, MakeSetTariff(0, zone, next + kIntervalS * rng_.Range(0, 3), prices,
                                          rng_.Chance(20) ? 0 : rng_.Range(1, 300)));
      return true;
    }
    const int64_t start = next + kIntervalS * rng_.Range(0, 4);
    const int64_t end = std::min(start + kIntervalS * rng_.Range(1, 3), intervals_.back() + kIntervalS);
    if (end <= start) return MakeGridOp(t, p);  // past the world's last interval: a tariff, likely
    const auto kind = static_cast<pb::EventKind>(rng_.Range(1, 3));
    const pb::BaselineMethod baseline = kind == pb::EVENT_REVERSE_DISCHARGE ? pb::BASELINE_UNSPECIFIED
                                        : rng_.Chance(50)                   ? pb::BASELINE_DECLARED
                                                                            : pb::BASELINE_PRIOR_DAYS;
    // Some budgets so small that payouts over them are scaled pro rata.
    const int64_t budget = rng_.Chance(35) ? rng_.Range(1, 60) : rng_.Range(500, 200000);
    p.op = Op::kCreateEvent;
    p.allowed = {Code::kOk};
    p.what = std::string(EventKindName(kind)) + " event in " + zone;
    p.bytes = Sign(kGrid, MakeCreateEvent(0, kind, zone, start, end, rng_.Range(1000, 100000), rng_.Range(20, 3000),
                                          budget, rng_.Range(t + 1, start), baseline));
    return true;
  }

  bool MakeProgram(int64_t t, Pending& p) {
    p.signer = kOperator;
    const auto kind = static_cast<pb::ProgramKind>(rng_.Range(1, 3));
    const bool cash = rng_.Chance(50);
    const int64_t rate = kind == pb::PROGRAM_CHARGING_DISCOUNT ? rng_.Range(1, 10000) : rng_.Range(1, 2000);
    const uint32_t mask = kind == pb::PROGRAM_CHARGING_DISCOUNT && rng_.Chance(50)
                              ? static_cast<uint32_t>(rng_.Range(1, (1 << 24) - 1))
                              : 0u;
    const std::string zone = rng_.Chance(40) ? "" : zones_[rng_.Index(zones_.size())];
    const int64_t budget = rng_.Chance(35) ? rng_.Range(1, 30) : rng_.Range(100, 100000);
    const int64_t end = std::max(NextStart(t), intervals_.back() + kIntervalS - kIntervalS * rng_.Range(0, 6));
    p.op = Op::kCreateProgram;
    p.allowed = {Code::kOk};
    p.what = std::string(ProgramKindName(kind)) + " program";
    p.bytes = Sign(kOperator, MakeCreateProgram(0, kind, cash ? "CNY" : "PTS", rate, mask, zone, budget, end));
    return true;
  }

  // The signer enrolls one of its meters in an open event, or, as an aggregator, its pool.
  bool MakeEnroll(int64_t t, Pending& p) {
    std::vector<uint64_t> events = Ids(kEventPrefix), taking;
    if (events.empty()) return MakeTransferTx(p);
    for (uint64_t id : events) {
      if (t < LoadEvent(state_, id)->enrollment_deadline_s()) taking.push_back(id);
    }
    if (taking.empty() && rng_.Chance(70)) return MakePoolOp(t, p);
    if (!taking.empty() && rng_.Chance(85)) events = taking;
    const pb::EventRecord ev = *LoadEvent(state_, events[rng_.Index(events.size())]);
    const bool closed = t >= ev.enrollment_deadline_s();
    if (!pools_.empty() && rng_.Chance(30) && ev.baseline() != pb::BASELINE_DECLARED) {
      const uint64_t pool = pools_[rng_.Index(pools_.size())];
      const size_t agg = OwnerIndex(LoadPool(state_, pool)->aggregator());
      if (used_.count(agg)) return MakeTransferTx(p);
      p.signer = agg;
      int64_t max_w = 0;
      for (const auto& m : PoolMembersIn(state_, pool, ev.zone(), ev.start_s())) {
        auto meter = *LoadMeter(state_, m.meter_id());
        max_w += ev.kind() == pb::EVENT_REVERSE_DISCHARGE ? meter.max_export_w() : meter.max_import_w();
      }
      p.op = Op::kEnrollPool;
      p.allowed = closed ? std::vector<Code>{Code::kDeadlinePassed}
                         : std::vector<Code>{Code::kOk, Code::kAlreadyExists, Code::kInvalidArgument};
      p.what = "pool " + std::to_string(pool) + " enrolls in event " + std::to_string(ev.id());
      p.bytes = Sign(p.signer, MakeEnrollEvent(0, ev.id(), "", rng_.Range(1, std::max<int64_t>(1, max_w)), 0, pool));
      return true;
    }
    std::vector<size_t> candidates;
    for (size_t i = 0; i < meters_.size(); ++i) {
      if (meters_[i].zone == ev.zone() && !used_.count(meters_[i].owner)) candidates.push_back(i);
    }
    if (candidates.empty()) return MakeTransferTx(p);
    const Meter& m = meters_[candidates[rng_.Index(candidates.size())]];
    p.signer = m.owner;
    const int64_t max_w = ev.kind() == pb::EVENT_REVERSE_DISCHARGE ? m.max_export_w : m.max_import_w;
    const bool declared = ev.baseline() == pb::BASELINE_DECLARED && ev.kind() != pb::EVENT_REVERSE_DISCHARGE;
    const int64_t baseline = declared ? rng_.Range(0, m.max_import_w * kIntervalS / 3600) : 0;
    const auto member = MembershipOf(m.id);
    bool enrolled = false;
    for (const auto& e : LoadEventEnrollments(state_, ev.id())) enrolled |= e.meter_id() == m.id;
    p.op = Op::kEnrollEvent;
    if (closed) {
      p.allowed = {Code::kDeadlinePassed};
    } else if (member && member->leave_after_s() == 0) {
      p.allowed = {Code::kUnauthorized};
    } else {
      p.allowed = {max_w == 0 ? Code::kInvalidArgument : enrolled ? Code::kAlreadyExists : Code::kOk};
      if (member) p.allowed.push_back(Code::kUnauthorized);  // unless its departure completes first
    }
    p.what = m.id + " enrolls in event " + std::to_string(ev.id());
    p.bytes = Sign(p.signer, MakeEnrollEvent(0, ev.id(), m.id, rng_.Range(1, std::max<int64_t>(1, max_w)), baseline));
    return true;
  }

  bool MakePoolOp(int64_t, Pending& p) {
    const int64_t roll = rng_.Range(0, 99);
    if (pools_.empty() || roll < 15) {
      p.op = Op::kCreatePool;
      p.allowed = {Code::kOk};
      p.what = "create pool";
      const int64_t fee = rng_.Chance(20) ? (rng_.Chance(50) ? 0 : 10000) : rng_.Range(0, 3000);
      p.bytes = Sign(p.signer, MakeCreatePool(0, "vpp-" + std::to_string(rng_.Range(0, 99)), fee));
      return true;
    }
    const Meter& m = meters_[rng_.Index(meters_.size())];
    if (used_.count(m.owner)) return MakeTransferTx(p);
    p.signer = m.owner;
    const auto member = MembershipOf(m.id);
    if (member && roll < 65) {
      p.op = Op::kLeavePool;
      p.allowed = member->leave_after_s() == 0 ? std::vector<Code>{Code::kOk}
                                               : std::vector<Code>{Code::kAlreadyExists, Code::kNotFound};
      if (member->leave_after_s() == 0 && LoadPool(state_, member->pool_id())->obligations_until_s() > NextStart(time_s_)) {
        ++stats_.leaves_with_obligations;
      }
      p.what = m.id + " leaves pool " + std::to_string(member->pool_id());
      p.bytes = Sign(p.signer, MakeLeavePool(0, member->pool_id(), m.id));
      return true;
    }
    const uint64_t pool = member && rng_.Chance(50) ? member->pool_id() : pools_[rng_.Index(pools_.size())];
    p.op = Op::kJoinPool;
    // Joining twice (the same pool or another) fails exactly; a departure may complete first.
    // A meter enrolled in an event on its own joins only once that event has settled (which the
    // timers at the start of this very block may do: then it joins).
    const bool own_event = HasOpenEventEnrollment(state_, m.id);
    if (own_event) ++stats_.joins_with_own_event;
    p.allowed = !member && own_event           ? std::vector<Code>{Code::kUnauthorized, Code::kOk}
                : !member                      ? std::vector<Code>{Code::kOk}
                : member->leave_after_s() == 0 ? std::vector<Code>{Code::kAlreadyExists}
                : own_event                    ? std::vector<Code>{Code::kAlreadyExists, Code::kUnauthorized}
                                               : std::vector<Code>{Code::kAlreadyExists, Code::kOk};
    p.what = m.id + " joins pool " + std::to_string(pool);
    p.bytes = Sign(p.signer, MakeJoinPool(0, pool, m.id));
    return true;
  }

  bool MakeJoinProgram(Pending& p) {
    const std::vector<uint64_t> programs = Ids(kProgramPrefix);
    if (programs.empty()) return MakeTransferTx(p);
    const pb::ProgramRecord pr = *LoadProgram(state_, programs[rng_.Index(programs.size())]);
    const Meter& m = meters_[rng_.Index(meters_.size())];
    if (used_.count(m.owner)) return MakeTransferTx(p);
    p.signer = m.owner;
    bool member = false;
    for (const auto& mm : LoadProgramMembers(state_, pr.id())) member |= mm.meter_id() == m.id;
    p.op = Op::kJoinProgram;
    if (pr.status() != pb::PROGRAM_OPEN) {
      p.allowed = {Code::kOrderNotOpen};
    } else {
      // It may close in this block's grid pass.
      p.allowed = {Code::kOrderNotOpen, !pr.zone().empty() && pr.zone() != m.zone ? Code::kInvalidArgument
                                        : member                                   ? Code::kAlreadyExists
                                                                                   : Code::kOk};
    }
    p.what = m.id + " joins program " + std::to_string(pr.id());
    p.bytes = Sign(p.signer, ::v2g::MakeJoinProgram(0, pr.id(), m.id));
    return true;
  }

  bool MakeEnrollTariff(Pending& p) {
    const Meter& m = meters_[rng_.Index(meters_.size())];
    if (used_.count(m.owner)) return MakeTransferTx(p);
    p.signer = m.owner;
    p.op = Op::kEnrollTariff;
    p.allowed = {LoadTariffEnrollment(state_, m.id) ? Code::kAlreadyExists : Code::kOk};
    p.what = m.id + " enrolls in its tariff";
    p.bytes = Sign(p.signer, ::v2g::MakeEnrollTariff(0, m.id));
    return true;
  }

  bool MakePayDebt(Pending& p) {
    // Mostly someone who owes.
    for (int tries = 0; tries < 6; ++tries) {
      const size_t i = rng_.Index(accounts_.size());
      if (!used_.count(i) && HasDebt(state_, accounts_[i].addr)) {
        p.signer = i;
        break;
      }
    }
    p.op = Op::kPayDebt;
    p.allowed = {Code::kOk, Code::kInsufficientFunds};
    // Debt can arise in this block's own grid pass.
    if (!HasDebt(state_, accounts_[p.signer].addr)) p.allowed.push_back(Code::kNotFound);
    p.what = "pay debts";
    p.bytes = Sign(p.signer, ::v2g::MakePayDebt(0, "CNY"));
    return true;
  }

  // Input that must fail with exactly one code.
  bool MakeBad(int64_t t, const std::vector<int64_t>& open, Pending& p) {
    p.op = Op::kBad;
    const int kind = static_cast<int>(rng_.Range(0, 9));
    const std::string zone = zones_[rng_.Index(zones_.size())];
    if (kind == 0) {
      const int64_t start = NextStart(t) + kIntervalS;
      p.allowed = {Code::kUnauthorized};
      p.what = "an event by a non-grid account";
      p.bytes = Sign(p.signer, MakeCreateEvent(0, pb::EVENT_PEAK_RELIEF, zone, start, start + kIntervalS, 1000, 100,
                                               100, start, pb::BASELINE_DECLARED));
      return true;
    }
    if (kind == 1 || kind == 2) {
      const std::vector<uint64_t> events = Ids(kEventPrefix);
      if (events.empty()) return MakeTransferTx(p);
      const pb::EventRecord ev = *LoadEvent(state_, events[rng_.Index(events.size())]);
      std::vector<size_t> in_zone;
      for (size_t i = 0; i < meters_.size(); ++i) {
        if (meters_[i].zone == ev.zone()) in_zone.push_back(i);
      }
      if (in_zone.empty()) return MakeTransferTx(p);
      const Meter& m = meters_[in_zone[rng_.Index(in_zone.size())]];
      const bool closed = t >= ev.enrollment_deadline_s();
      if (kind == 1) {  // someone else's meter
        if (m.owner == p.signer) return MakeTransferTx(p);
        p.allowed = {closed ? Code::kDeadlinePassed : Code::kUnauthorized};
        p.what = "enroll someone else's meter " + m.id + " in event " + std::to_string(ev.id());
      } else {  // after the deadline (the owner, or anyone)
        if (!closed) return MakeTransferTx(p);
        if (!used_.count(m.owner)) p.signer = m.owner;
        p.allowed = {Code::kDeadlinePassed};
        p.what = "enroll " + m.id + " after event " + std::to_string(ev.id()) + "'s deadline";
      }
      p.bytes = Sign(p.signer, MakeEnrollEvent(0, ev.id(), m.id, 1));
      return true;
    }
    if (kind == 3) {
      p.allowed = {Code::kInvalidArgument};
      p.what = "a pool fee over 100 %";
      p.bytes = Sign(p.signer, MakeCreatePool(0, "greedy", rng_.Range(10001, 20000)));
      return true;
    }
    if (kind == 4) {
      if (!used_.count(kOperator) && rng_.Chance(50)) p.signer = kOperator;
      p.allowed = {Code::kInvalidArgument};
      p.what = "a program with no budget";
      p.bytes = Sign(p.signer, MakeCreateProgram(0, pb::PROGRAM_REWARD_POINTS, "PTS", 10, 0, "", 0,
                                                 intervals_.back() + kIntervalS));
      return true;
    }
    if (kind == 5 || kind == 6) {  // selling while in debt / a pooled meter directly
      if (open.empty()) return MakeTransferTx(p);
      for (const Meter& m : meters_) {
        if (used_.count(m.owner) || m.max_export_w == 0) continue;
        const bool debt = HasDebt(state_, accounts_[m.owner].addr);
        const auto member = MembershipOf(m.id);
        const bool pooled = member && member->leave_after_s() == 0;
        if (kind == 5 ? !debt : !pooled) continue;
        p.signer = m.owner;
        p.allowed = debt ? std::vector<Code>{Code::kInDebt} : std::vector<Code>{Code::kUnauthorized, Code::kInDebt};
        p.what = kind == 5 ? "sell on " + m.id + " while in debt" : "sell the pooled meter " + m.id + " directly";
        p.bytes = Sign(p.signer, MakePlaceOrder(0, pb::SIDE_SELL, m.zone, open[rng_.Index(open.size())], 1, 1000, m.id));
        return true;
      }
      return MakeTransferTx(p);
    }
    if (kind == 7) {
      p.allowed = {Code::kInvalidArgument};
      p.what = "a transfer into the grid module account";
      p.bytes = Sign(p.signer, MakeTransfer(0, GridModuleAddress(), "CNY", 1));
      return true;
    }
    if (kind == 8) {
      p.allowed = {Code::kInvalidArgument};
      p.what = "pay debts in PTS";
      p.bytes = Sign(p.signer, ::v2g::MakePayDebt(0, "PTS"));
      return true;
    }
    // Joining a pool twice.
    for (const Meter& m : meters_) {
      const auto member = MembershipOf(m.id);
      if (used_.count(m.owner) || !member || member->leave_after_s() != 0) continue;
      p.signer = m.owner;
      p.allowed = {Code::kAlreadyExists};
      p.what = "join a pool twice with " + m.id;
      p.bytes = Sign(p.signer, MakeJoinPool(0, pools_[rng_.Index(pools_.size())], m.id));
      return true;
    }
    return MakeTransferTx(p);
  }

  bool MakeTransferTx(Pending& p) {
    p.op = Op::kTransfer;
    p.to = rng_.Index(accounts_.size());
    // The nearly broke stay so, mostly (so their bills turn into debt).
    for (int tries = 0; tries < 4 && accounts_[p.to].genesis_cny <= 300 && rng_.Chance(90); ++tries) {
      p.to = rng_.Index(accounts_.size());
    }
    p.amount = rng_.Range(1, kTransferMax);
    p.allowed = {Code::kOk, Code::kInsufficientFunds};
    p.what = "transfer " + std::to_string(p.amount);
    p.bytes = Sign(p.signer, MakeTransfer(0, accounts_[p.to].addr, "CNY", p.amount));
    return true;
  }

  int64_t Limit(int64_t w, int64_t span_s) const { return proptest::EnergyLimit(params_, w, span_s); }

  // The submitter's batch: each meter reports per its lag, contiguously, imports and exports.
  bool MakeReadings(int64_t t, Pending& p) {
    std::vector<pb::MeterReading> rs;
    std::vector<Meter> after = meters_;
    const int64_t skew = params_.reading_future_skew_s();
    for (Meter& m : after) {
      for (int rep = 0; rep < 3; ++rep) {
        int64_t s = SettlementIntervalStart(m.last_end, kIntervalS);
        if (m.last_end < kT0) s = kT0;
        // No reading may start in a settled interval: a meter that fell behind (or the trading
        // day's start) resumes in the first unsettled one, after a bridge with no energy.
        if (t >= kIntervalS + grace_s_) {
          s = std::max(s, SettlementIntervalStart(t - kIntervalS - grace_s_, kIntervalS) + kIntervalS);
        }
        if (s > intervals_.back()) break;
        const int64_t end = s + kIntervalS;
        if (m.last_end < s) {
          if (s + 1 > t + skew) break;
          PushReading(rs, m, s, s + 1);
          ++m.seq;
          m.last_end = s + 1;
        }
        const int64_t max_end = std::min(end, t + skew);
        if (max_end <= m.last_end) break;
        int64_t e = 0;
        if (m.lag == 0) {
          e = max_end == end ? end : rng_.Chance(10) ? rng_.Range(m.last_end + 1, max_end) : 0;
        } else if (m.lag == 1) {
          if (rng_.Chance(25)) e = max_end == end && rng_.Chance(70) ? end : rng_.Range(m.last_end + 1, max_end);
        } else if (t >= end + 2) {
          e = end;  // late: in the grace window if a block falls there, else caught up later
        }
        if (e == 0) break;
        if (m.target_interval != s) {
          // Full, partial, none or more than the meter (or its pool share) is committed to.
          std::string k = "s/mkt_m/" + m.id + "/";
          AppendBigEndian64(k, static_cast<uint64_t>(s));
          auto v = state_.Get(k);
          const int64_t committed = v ? DecodeRecord<pb::MeterCommitment>(*v).committed_wh() : 0;
          const int mode = static_cast<int>(rng_.Range(0, 9));
          const int64_t cap = Limit(m.max_export_w, kIntervalS);
          m.target_interval = s;
          m.export_left = mode < 3 ? committed : mode < 5 ? rng_.Range(0, committed) : mode < 6 ? 0
                          : mode < 8 ? committed + rng_.Range(1, 200) : rng_.Range(0, cap);
          m.import_left = rng_.Chance(30) ? 0 : rng_.Range(0, Limit(m.max_import_w, kIntervalS));
        }
        // Within the per-reading bound, and the interval's bound counted once (contracts/meters.h).
        if (m.acc_interval != s) m.acc_interval = s, m.acc_export = 0, m.acc_import = 0, m.acc_start = m.last_end;
        const int64_t exp = std::max<int64_t>(0, std::min({m.export_left, Limit(m.max_export_w, e - m.last_end),
                                                           Limit(m.max_export_w, e - m.acc_start) - m.acc_export}));
        const int64_t imp = std::max<int64_t>(0, std::min({m.import_left, Limit(m.max_import_w, e - m.last_end),
                                                           Limit(m.max_import_w, e - m.acc_start) - m.acc_import}));
        m.acc_export += exp;
        m.acc_import += imp;
        m.export_left -= exp;
        m.import_left -= imp;
        m.export_total += exp;
        m.import_total += imp;
        PushReading(rs, m, m.last_end, e);
        ++m.seq;
        m.last_end = e;
      }
    }
    if (rs.empty()) return false;
    p = ReadingsTx(std::move(rs), std::move(after));
    return true;
  }

  // ---------------------------------------------------------------- execution and checks

  bool Execute(int64_t t, std::vector<Pending> txs) {
    NextBlock(t);
    if (!RunWorldBlock(txs, [this](Pending& p, const pb::TxResult& r) { return AfterOk(p, r); })) return false;
    return CheckBlock();
  }

  bool AfterOk(Pending& p, const pb::TxResult& r) {
    Acct(p.signer).nonce += 1;
    switch (p.op) {
      case Op::kTransfer:
        accounts_[p.signer].transfers_net -= p.amount;
        accounts_[p.to].transfers_net += p.amount;
        return true;
      case Op::kReadings:
        PROP_CHECK(r.rejected_readings_size() == 0, p.what << ": reading rejected: " << r.rejected_readings(0).message());
        meters_ = std::move(p.meters_after);
        return true;
      case Op::kCreatePool:
        pools_.push_back(r.created_id());
        return true;
      case Op::kPropose:
        proposals_.push_back(r.created_id());
        return true;
      default:
        return true;
    }
  }

  bool CheckBlock() {
    Status st = CheckConservation(state_);
    PROP_CHECK(st.ok(), st.ToString());
    st = CheckMarketEscrow(state_);
    PROP_CHECK(st.ok(), st.ToString());
    st = CheckGridEscrow(state_);
    PROP_CHECK(st.ok(), st.ToString());
    return CheckClaims() && CheckEvents() && CheckPrograms() && CheckPools();
  }

  // Membership records agree: a pool counts its member records, and a meter's pool holds it.
  bool CheckPools() {
    for (uint64_t id : pools_) {
      const auto members = LoadPoolMembers(state_, id);
      PROP_CHECK(LoadPool(state_, id)->members() == members.size(),
                 "pool " << id << " counts " << LoadPool(state_, id)->members() << " members, " << members.size()
                         << " stored");
      for (const auto& m : members) {
        PROP_CHECK(PoolOfMeter(state_, m.meter_id()) == id, m.meter_id() << " is a member of pool " << id
                                                                         << " but not marked as in it");
      }
    }
    for (const Meter& m : meters_) {
      if (auto pool = PoolOfMeter(state_, m.id)) {
        bool found = false;
        for (const auto& mm : LoadPoolMembers(state_, *pool)) found |= mm.meter_id() == m.id;
        PROP_CHECK(found, m.id << " is marked as in pool " << *pool << " but is no member");
      }
    }
    return true;
  }

  // A kWh of export is paid once: by the market, a reverse-discharge event or the feed-in price.
  bool CheckClaims() {
    bool ok = true;
    std::string err;
    state_.Scan("s/claim/", [&](std::string_view k, std::string_view v) {
      const std::string_view rest = k.substr(std::string_view("s/claim/").size());
      const std::string meter(rest.substr(0, rest.size() - 9));
      const int64_t s = static_cast<int64_t>(ReadBigEndian64(rest.substr(rest.size() - 8)));
      const auto c = DecodeRecord<pb::EnergyClaim>(std::string(v));
      // Payable, not raw: a vehicle's export counts only as far as its charger confirmed it, and
      // a charger's not at all where it lent it (issue 11).
      const int64_t attested = LoadIntervalMoneyEnergy(state_, meter, s).payable_export_wh;
      ++stats_.claims_checked;
      if (c.market_wh() < 0 || c.event_export_wh() < 0 || c.feed_in_wh() < 0 || c.event_export_wh() > c.event_wh() ||
          c.market_wh() + c.event_export_wh() + c.feed_in_wh() > attested) {
        std::ostringstream os;
        os << meter << " interval T0+" << s - kT0 << ": market " << c.market_wh() << " + event export "
           << c.event_export_wh() << " + feed-in " << c.feed_in_wh() << " Wh (event " << c.event_wh()
           << ") against " << attested << " Wh attested";
        err = os.str();
        ok = false;
        return false;
      }
      return true;
    });
    PROP_CHECK(ok, err);
    return true;
  }

  bool CheckEvents() {
    const int64_t cursor = GridCursor();
    std::vector<pb::EventRecord> events;
    state_.Scan(kEventPrefix, [&](std::string_view, std::string_view v) {
      events.push_back(DecodeRecord<pb::EventRecord>(std::string(v)));
      return true;
    });
    for (const auto& ev : events) {
      const auto enrollments = LoadEventEnrollments(state_, ev.id());
      const int64_t intervals = (ev.end_s() - ev.start_s()) / kIntervalS;
      const int64_t settled = std::clamp<int64_t>((cursor - ev.start_s()) / kIntervalS, 0, intervals);
      PROP_CHECK(enrollments.size() == ev.enrollments(),
                 "event " << ev.id() << " counts " << ev.enrollments() << " enrollments, " << enrollments.size()
                          << " stored");
      int64_t perf = 0, owed = 0, payouts = 0;
      for (const auto& e : enrollments) {
        const int64_t cap = e.committed_power_w() * kIntervalS / 3600;
        PROP_CHECK(e.performance_wh() >= 0 && e.performance_wh() <= cap * settled,
                   "event " << ev.id() << " enrollment " << (e.pool_id() ? "pool " + std::to_string(e.pool_id()) : e.meter_id())
                            << " performed " << e.performance_wh() << " Wh, cap " << cap << " Wh x " << settled
                            << " intervals settled");
        if (e.pool_id() != 0) {
          int64_t parts = 0;
          std::string prefix = "s/event_pm/";
          AppendBigEndian64(prefix, ev.id());
          AppendBigEndian64(prefix, e.pool_id());
          state_.Scan(prefix, [&](std::string_view, std::string_view v) {
            parts += DecodeRecord<pb::EventEnrollment>(std::string(v)).performance_wh();
            return true;
          });
          PROP_CHECK(parts == e.performance_wh(), "event " << ev.id() << " pool " << e.pool_id() << " parts sum to "
                                                            << parts << ", pool performed " << e.performance_wh());
        }
        perf += e.performance_wh();
        owed += FloorValue(e.performance_wh(), ev.price());
        payouts += e.payout();
      }
      std::set<std::string> own;
      for (const auto& e : enrollments) {
        if (e.pool_id() == 0) own.insert(e.meter_id());
      }
      bool twice = false;
      std::string which;
      std::string pm_prefix = "s/event_pm/";
      AppendBigEndian64(pm_prefix, ev.id());
      state_.Scan(pm_prefix, [&](std::string_view, std::string_view v) {
        auto part = DecodeRecord<pb::EventEnrollment>(std::string(v));
        if (own.count(part.meter_id()) && part.performance_wh() > 0) {
          twice = true;
          which = part.meter_id();
        }
        return !twice;
      });
      PROP_CHECK(!twice, "event " << ev.id() << " counts " << which
                                  << " both on its own enrollment and as a member of pool enrollment");
      PROP_CHECK(perf == ev.performance_wh(), "event " << ev.id() << " performance " << ev.performance_wh()
                                                        << ", enrollments sum to " << perf);
      if (ev.status() == pb::EVENT_OPEN) {
        PROP_CHECK(ev.paid() == 0 && ev.returned() == 0 && payouts == 0, "open event " << ev.id() << " paid out");
        PROP_CHECK(settled < intervals, "event " << ev.id() << " still open after its last interval settled");
        continue;
      }
      PROP_CHECK(settled == intervals, "event " << ev.id() << " settled early");
      PROP_CHECK(ev.owed() == owed, "event " << ev.id() << " owed " << ev.owed() << ", want " << owed);
      PROP_CHECK(ev.paid() + ev.returned() == ev.budget() && ev.paid() <= ev.owed() && ev.paid() == payouts,
                 "event " << ev.id() << " paid " << ev.paid() << " + returned " << ev.returned() << " of budget "
                          << ev.budget() << ", owed " << ev.owed() << ", payouts " << payouts);
      for (const auto& e : enrollments) {
        const int64_t base = FloorValue(e.performance_wh(), ev.price());
        const int64_t want = owed > ev.budget() ? static_cast<int64_t>(static_cast<Int128>(base) * ev.budget() / owed) : base;
        PROP_CHECK(e.payout() == want, "event " << ev.id() << " payout " << e.payout() << ", want " << want);
      }
      if (!seen_settled_.count(ev.id())) {
        seen_settled_.insert(ev.id());
        ++stats_.events_settled;
        if (owed > ev.budget()) ++stats_.events_scaled;
        for (const auto& e : enrollments) stats_.pool_enrollments_paid += e.pool_id() != 0 && e.payout() > 0;
      }
    }
    return true;
  }

  bool CheckPrograms() {
    std::vector<pb::ProgramRecord> programs;
    state_.Scan(kProgramPrefix, [&](std::string_view, std::string_view v) {
      programs.push_back(DecodeRecord<pb::ProgramRecord>(std::string(v)));
      return true;
    });
    for (const auto& pr : programs) {
      int64_t members = 0;
      for (const auto& m : LoadProgramMembers(state_, pr.id())) members += m.paid();
      PROP_CHECK(pr.paid() + pr.remaining() + pr.returned() == pr.budget() && pr.remaining() >= 0 && pr.paid() >= 0 &&
                     pr.returned() >= 0 && members == pr.paid(),
                 "program " << pr.id() << ": paid " << pr.paid() << " + remaining " << pr.remaining() << " + returned "
                            << pr.returned() << " of " << pr.budget() << "; members paid " << members);
      PROP_CHECK(pr.status() == pb::PROGRAM_OPEN ? pr.returned() == 0 : pr.remaining() == 0,
                 "program " << pr.id() << " status " << pr.status() << " remaining " << pr.remaining());
      if (pr.status() == pb::PROGRAM_CLOSED && !seen_closed_.count(pr.id())) {
        seen_closed_.insert(pr.id());
        ++stats_.programs_closed;
        if (pr.returned() == 0) ++stats_.programs_ran_out;
      }
    }
    return true;
  }

  bool Final() {
    for (uint64_t id : Ids(kEventPrefix)) {
      auto ev = *LoadEvent(state_, id);
      PROP_CHECK(ev.status() == pb::EVENT_SETTLED, "event " << id << " never settled");
    }
    int64_t programs_paid_cny = 0, programs_paid_pts = 0, events_paid = 0;
    for (uint64_t id : Ids(kProgramPrefix)) {
      auto pr = *LoadProgram(state_, id);
      PROP_CHECK(pr.status() == pb::PROGRAM_CLOSED && pr.remaining() == 0, "program " << id << " never closed");
      (pr.denom() == "CNY" ? programs_paid_cny : programs_paid_pts) += pr.paid();
    }
    for (uint64_t id : Ids(kEventPrefix)) events_paid += LoadEvent(state_, id)->paid();
    for (const char* denom : {"CNY", "PTS"}) {
      PROP_CHECK(Bal(state_, GridModuleAddress(), denom) == 0, "grid module holds " << denom);
      PROP_CHECK(Bal(state_, MarketModuleAddress(), denom) == 0, "market module holds " << denom);
    }
    bool ok = true;
    state_.Scan(kMarketPrefix, [&](std::string_view, std::string_view v) {
      ok &= DecodeRecord<pb::MarketRecord>(std::string(v)).status() == pb::MARKET_SETTLED;
      return ok;
    });
    PROP_CHECK(ok, "a market never settled");
    // Penalties a buyer received are in no statement: take them from the order and contract records.
    std::map<std::string, int64_t> penalties_received;
    state_.Scan(kOrderPrefix, [&](std::string_view, std::string_view v) {
      auto o = DecodeRecord<pb::OrderRecord>(std::string(v));
      ok &= o.locked() == 0;
      if (o.side() == pb::SIDE_BUY) penalties_received[o.owner()] += o.penalty();
      if (o.pool_id() != 0) stats_.pool_trades += o.filled_wh() > 0;
      return true;
    });
    state_.Scan(kContractPrefix, [&](std::string_view, std::string_view v) {
      auto c = DecodeRecord<pb::ContractRecord>(std::string(v));
      ok &= c.escrow() == 0 && c.collateral() == 0;
      if (c.status() == pb::CONTRACT_SETTLED) penalties_received[c.buyer()] += c.penalty();
      return true;
    });
    PROP_CHECK(ok, "an order or contract still locks funds");
    // Every account's balance, from its genesis, transfers and statement.
    int64_t grid_income = 0;
    for (const auto& a : accounts_) {
      const pb::StatementEntry s = LoadStatement(state_, a.addr, 0, kForever);
      int64_t debt_left = 0;
      for (const auto& [creditor, d] : LoadDebts(state_, a.addr)) {
        PROP_CHECK(creditor == grid_.addr && d.amount() > 0, "a debt of " << d.amount() << " to someone else");
        debt_left += d.amount();
      }
      const int64_t debt_paid = s.debt_incurred() - debt_left;
      PROP_CHECK(debt_paid >= 0 && debt_left >= 0, "debt paid " << debt_paid << ", left " << debt_left);
      const int64_t pen = penalties_received[AddressBytes(a.addr)];
      const int64_t want = a.genesis_cny + a.transfers_net + s.market_revenue() - s.market_penalty() - s.market_spent() +
                           pen + s.event_payout() + s.subsidy() - (s.tariff_charge() - s.debt_incurred()) - debt_paid +
                           s.feed_in();
      PROP_CHECK(Bal(state_, a.addr) == want,
                 "account " << OwnerIndex(AddressBytes(a.addr)) << " holds " << Bal(state_, a.addr) << " CNY; genesis "
                            << a.genesis_cny << " + transfers " << a.transfers_net << " + revenue "
                            << s.market_revenue() << " - penalties " << s.market_penalty() << " - spent "
                            << s.market_spent() << " + penalties received " << pen << " + events " << s.event_payout()
                            << " + subsidies " << s.subsidy() << " - tariff " << s.tariff_charge() << " + unpaid "
                            << s.debt_incurred() << " - debt paid " << debt_paid << " + feed-in " << s.feed_in()
                            << " = " << want);
      PROP_CHECK(Bal(state_, a.addr, "PTS") == s.points(),
                 "account holds " << Bal(state_, a.addr, "PTS") << " PTS, earned " << s.points() << " points");
      grid_income += s.tariff_charge() - s.debt_incurred() + debt_paid - s.feed_in();
      stats_.debts_left += debt_left > 0;
      stats_.debts_paid += debt_paid > 0;
      stats_.feed_in += s.feed_in() > 0;
      stats_.tariff_charges += s.tariff_charge() > 0;
    }
    PROP_CHECK(Bal(state_, grid_.addr) == grid_.genesis_cny + grid_income - events_paid,
               "grid company holds " << Bal(state_, grid_.addr) << ", want genesis + " << grid_income << " - events "
                                     << events_paid);
    PROP_CHECK(Bal(state_, operator_.addr) == operator_.genesis_cny - programs_paid_cny &&
                   Bal(state_, operator_.addr, "PTS") == operator_.genesis_pts - programs_paid_pts,
               "operator's balances do not match its programs");
    return true;
  }

  bool history_ = false;
  int64_t genesis_s_ = 0;
  int64_t gate_s_ = 0, grace_s_ = 0, horizon_s_ = 0;
  std::vector<std::string> zones_;
  std::vector<int64_t> intervals_;
  Account grid_, operator_, submitter_;
  std::vector<Account> accounts_;
  std::vector<Meter> meters_;
  std::vector<uint64_t> pools_, proposals_;
  std::set<size_t> used_;
  std::set<uint64_t> seen_settled_, seen_closed_;
};

TEST(GridProperty, RandomWorldsConserveEverything) {
  InitCrypto();
  std::signal(SIGABRT, proptest::PrintReplayOnAbort);
  const uint64_t base = proptest::BaseSeed(kBaseSeed);
  const int64_t worlds = EnvInt("V2G_PROPERTY_WORLDS", kWorldsDefault);
  Stats stats;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < worlds; ++i) {
    const uint64_t seed = base + static_cast<uint64_t>(i);
    proptest::SetReplay(seed, "V2G_PROPERTY_WORLDS");
    World w(seed, stats);
    const bool ok = w.Run();
    ++stats.worlds;
    ASSERT_TRUE(ok) << w.failure();
  }
  std::signal(SIGABRT, SIG_DFL);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ property ] %lld worlds (%lld with a day of history; base seed %llu, %lld ms): %lld blocks, %lld txs "
              "(%lld failed), %lld readings, %lld claim checks\n",
              static_cast<long long>(stats.worlds), static_cast<long long>(stats.history_worlds),
              static_cast<unsigned long long>(base), static_cast<long long>(ms), static_cast<long long>(stats.blocks),
              static_cast<long long>(stats.txs), static_cast<long long>(stats.failed_txs),
              static_cast<long long>(stats.readings), static_cast<long long>(stats.claims_checked));
  std::printf("[ property ] %lld events settled (%lld scaled pro rata, %lld pool enrollments paid), %lld programs "
              "closed (%lld ran out of budget), %lld pool sells traded, %lld leaves with open obligations, %lld joins "
              "tried with an own event enrollment; accounts "
              "with tariff charges %lld, feed-in %lld, debt paid %lld, debt left %lld\n",
              static_cast<long long>(stats.events_settled), static_cast<long long>(stats.events_scaled),
              static_cast<long long>(stats.pool_enrollments_paid), static_cast<long long>(stats.programs_closed),
              static_cast<long long>(stats.programs_ran_out), static_cast<long long>(stats.pool_trades),
              static_cast<long long>(stats.leaves_with_obligations), static_cast<long long>(stats.joins_with_own_event),
              static_cast<long long>(stats.tariff_charges),
              static_cast<long long>(stats.feed_in), static_cast<long long>(stats.debts_paid),
              static_cast<long long>(stats.debts_left));
  proptest::PrintCodes(stats.codes);
}

}  // namespace
}  // namespace v2g
