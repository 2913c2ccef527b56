// Shared by the seeded property tests of the contract modules (market_property_test.cc,
// grid_property_test.cc): the build-speed switch, environment knobs, a portable RNG, PROP_CHECK,
// key and signing helpers, and running a block through ExecuteBlock with the checks every world
// makes of every block (each tx ends with an allowed code; a failed tx changes nothing).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
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

#include "common/bytes.h"
#include "common/checked.h"
#include "common/crypto.h"
#include "contracts/app.h"
#include "contracts/kv.h"
#include "contracts/state.h"
#include "genesis/genesis.h"
#include "wallet/tx_builder.h"

#if defined(__SANITIZE_ADDRESS__)
#define V2G_PROPERTY_SLOW_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define V2G_PROPERTY_SLOW_BUILD 1
#endif
#endif
#if !defined(NDEBUG) && !defined(V2G_PROPERTY_SLOW_BUILD)
#define V2G_PROPERTY_SLOW_BUILD 1
#endif

// Inside a function returning bool that has a `Fail(const std::string&)` in scope (a member or a
// parameter): on a false `cond`, returns Fail("line N: (cond) failed: <msg>").
#define PROP_CHECK(cond, msg)                                             \
  do {                                                                    \
    if (!(cond)) {                                                        \
      std::ostringstream prop_os_;                                        \
      prop_os_ << "line " << __LINE__ << ": (" #cond ") failed: " << msg; \
      return Fail(prop_os_.str());                                        \
    }                                                                     \
  } while (0)

namespace v2g::proptest {

inline int64_t EnvInt(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoll(v, nullptr, 0);
}

// The base seed: V2G_PROPERTY_SEED, or `fallback`.
inline uint64_t BaseSeed(uint64_t fallback) {
  return static_cast<uint64_t>(EnvInt("V2G_PROPERTY_SEED", static_cast<int64_t>(fallback)));
}

// splitmix64: the same sequence on every platform (the std distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi] (modulo bias is irrelevant here).
  int64_t Range(int64_t lo, int64_t hi) {
    V2G_ASSERT(lo <= hi);
    return lo + static_cast<int64_t>(Next() % (static_cast<uint64_t>(hi - lo) + 1));
  }
  bool Chance(int percent) { return Range(0, 99) < percent; }
  size_t Index(size_t n) {
    V2G_ASSERT(n > 0);
    return static_cast<size_t>(Next() % n);
  }

 private:
  uint64_t s_;
};

inline int64_t FloorValue(int64_t energy_wh, int64_t price) {
  return static_cast<int64_t>(static_cast<Int128>(energy_wh) * price / 1000);
}

inline KeyPair NewKey(Rng& rng) {
  Bytes seed(kSeedBytes);
  for (auto& b : seed) b = static_cast<uint8_t>(rng.Next());
  return KeyPair::FromSeed(seed);
}

// Gives a world account (with `key` and `addr`) a new key.
template <typename AccountT>
void GiveKey(AccountT& a, Rng& rng) {
  a.key = NewKey(rng);
  a.addr = AddressFromPublicKey(a.key->public_key());
}

// A single validator with a new key.
// The one validator of a world (all the voting power: its vote alone passes a proposal).
inline KeyPair AddValidator(GenesisState& g, Rng& rng) {
  KeyPair validator = NewKey(rng);
  g.validators.push_back({"v0", AddressFromPublicKey(validator.public_key()), validator.public_key(),
                          validator.public_key(), 1});
  return validator;
}

// Signs `body` with the account's key at its next nonce.
template <typename AccountT>
std::string SignNext(const AccountT& a, const char* chain_id, pb::TxBody body) {
  body.set_nonce(a.nonce + 1);
  return SignTx(*a.key, chain_id, std::move(body));
}

// An index in [0, n) not in `used`, if a few tries find one.
inline std::optional<size_t> FreeIndex(Rng& rng, size_t n, const std::set<size_t>& used) {
  for (int tries = 0; tries < 8; ++tries) {
    const size_t i = rng.Index(n);
    if (!used.count(i)) return i;
  }
  return std::nullopt;
}

// Delivery intervals open for orders at time t.
inline std::vector<int64_t> OpenIntervals(const std::vector<int64_t>& intervals, int64_t t, int64_t horizon_s,
                                          int64_t gate_s) {
  std::vector<int64_t> out;
  for (int64_t s : intervals) {
    if (t >= s - horizon_s && t < s - gate_s) out.push_back(s);
  }
  return out;
}

// Most energy a meter of `w` watts may report over span_s (contracts/meters.h rule 12).
inline int64_t EnergyLimit(const pb::ParamsRecord& params, int64_t w, int64_t span_s) {
  return static_cast<int64_t>(static_cast<Int128>(w) * span_s * (1000 + params.reading_energy_tolerance_permille()) /
                                  3'600'000 +
                              params.reading_energy_tolerance_wh());
}

// A reading of `m` (a world meter: id, device, seq) signed by its device.
template <typename MeterT>
pb::MeterReading SignedReading(const MeterT& m, int64_t start, int64_t end, int64_t import_total,
                               int64_t export_total, Rng& rng, const char* chain_id) {
  pb::MeterReading r;
  r.set_meter_id(m.id);
  r.set_seq(m.seq + 1);
  r.set_interval_start_s(start);
  r.set_interval_end_s(end);
  r.set_import_wh_total(import_total);
  r.set_export_wh_total(export_total);
  r.set_soc_permille(static_cast<int32_t>(rng.Range(100, 900)));
  r.set_soh_permille(980);
  SignReading(*m.device, chain_id, r);
  return r;
}

// The operator's charger a world's vehicle is plugged into (issue 11): its readings cover exactly
// the vehicle's spans and name the vehicle, so the vehicle's energy is corroborated. How much of
// the vehicle's figure the charger confirms varies by plug, so settlement meets every case.
struct Plug {
  std::string id;
  std::optional<KeyPair> device;
  uint64_t seq = 0;
  int64_t import_total = 0, export_total = 0;
  int64_t seen_import = 0, seen_export = 0;  // the vehicle's registers at the last mirrored reading
  int export_quarters = 4;  // the charger confirms floor(export delta x q / 4)
  // 0: import as the car says; 1: floor(x q / 4) of it (the car over-reports); 2: 1.5 x what the
  // car says on readings of >= 100 Wh (the car under-reports; the charger's import power is twice
  // the car's, so 1.5 x stays inside its bounds).
  int import_mode = 0;
  int import_quarters = 4;
};

// A plug for vehicle `vehicle_id` with random fidelity.
inline Plug NewPlug(const std::string& vehicle_id, KeyPair device, Rng& rng) {
  Plug p;
  p.id = vehicle_id + "-plug";
  p.device = std::move(device);
  p.export_quarters = rng.Chance(50) ? 4 : static_cast<int>(rng.Range(0, 3));
  p.import_mode = rng.Chance(50) ? 0 : static_cast<int>(rng.Range(1, 2));
  p.import_quarters = static_cast<int>(rng.Range(0, 3));
  return p;
}

// Appends the vehicle's reading `v`, then its plug's reading over the same span naming it, with
// the vehicle's register deltas since the plug's last reading (scaled by the plug's fidelity).
inline void PushWithPlug(std::vector<pb::MeterReading>& rs, pb::MeterReading v, Plug& plug, const char* chain_id) {
  const int64_t dimp = v.import_wh_total() - plug.seen_import, dexp = v.export_wh_total() - plug.seen_export;
  V2G_ASSERT(dimp >= 0 && dexp >= 0);
  plug.seen_import = v.import_wh_total();
  plug.seen_export = v.export_wh_total();
  plug.export_total += dexp * plug.export_quarters / 4;
  plug.import_total += plug.import_mode == 1 ? dimp * plug.import_quarters / 4
                       : plug.import_mode == 2 && dimp >= 100 ? dimp + dimp / 2
                                                              : dimp;
  pb::MeterReading r;
  r.set_meter_id(plug.id);
  r.set_seq(++plug.seq);
  r.set_interval_start_s(v.interval_start_s());
  r.set_interval_end_s(v.interval_end_s());
  r.set_import_wh_total(plug.import_total);
  r.set_export_wh_total(plug.export_total);
  r.set_plugged_meter_id(v.meter_id());
  SignReading(*plug.device, chain_id, r);
  rs.push_back(std::move(v));
  rs.push_back(std::move(r));
}

// (energy, price) of an order or contract proposal in a signed tx; (0, 0) for other txs.
inline std::pair<int64_t, int64_t> OrderValueOf(const std::string& tx_bytes) {
  pb::Tx tx;
  pb::TxBody body;
  V2G_ASSERT(tx.ParseFromString(tx_bytes) && body.ParseFromString(tx.body()));
  if (body.has_place_order()) return {body.place_order().energy_wh(), body.place_order().limit_price()};
  if (body.has_propose_contract()) return {body.propose_contract().energy_wh(), body.propose_contract().price()};
  return {0, 0};
}

// Validates the genesis, initialises `state` with it and sets up `params` and `ctx` (height 0,
// the first validator proposes); then checks conservation.
template <typename FailFn>
bool InitWorld(const GenesisState& g, const char* chain_id, Overlay& state, pb::ParamsRecord& params,
               BlockContext& ctx, FailFn&& Fail) {
  Status v = ValidateGenesis(g);
  PROP_CHECK(v.ok(), v.ToString());
  auto h = InitChain(g, state);
  PROP_CHECK(h.ok(), h.status().ToString());
  params = LoadParams(state);
  ctx.chain_id = chain_id;
  ctx.height = 0;
  ctx.proposer = g.validators[0].address;
  Status c = CheckConservation(state);
  PROP_CHECK(c.ok(), c.ToString());
  return true;
}

// Runs `txs` (world Pendings: bytes, op, allowed, what, signer) as the block `ctx` on `state`
// (every tx was signed just now by its own key: the verify is skipped, it is not what is tested),
// checks that each ended with a code it allows and that the same block without its failed txs
// writes exactly the same state, counts the outcomes in `stats` (codes, txs, failed_txs, blocks)
// and merges the block into `state`. `out` gets the results.
template <typename PendingT, typename StatsT, typename FailFn>
bool RunBlock(const BlockContext& ctx, Overlay& state, const std::vector<PendingT>& txs, StatsT& stats,
              BlockOutcome& out, FailFn&& Fail) {
  std::vector<std::string> bytes;
  for (const auto& p : txs) bytes.push_back(p.bytes);
  const auto verified = [](const Hash256&) { return true; };
  Overlay block(&state);
  out = ExecuteBlock(ctx, bytes, verified, block);
  PROP_CHECK(out.results.size() == txs.size(), "results " << out.results.size());
  std::vector<std::string> ok_bytes;
  for (size_t i = 0; i < txs.size(); ++i) {
    const Code code = static_cast<Code>(out.results[i].code());
    stats.codes[std::string(OpName(txs[i].op)) + " " + std::string(CodeName(code))] += 1;
    const auto& allowed = txs[i].allowed;
    PROP_CHECK(std::find(allowed.begin(), allowed.end(), code) != allowed.end(),
               "tx " << i << " (" << txs[i].what << ", signer " << txs[i].signer << ") ended " << CodeName(code)
                     << ": " << out.results[i].log());
    if (code == Code::kOk) {
      ok_bytes.push_back(bytes[i]);
    } else {
      ++stats.failed_txs;
    }
  }
  stats.txs += static_cast<int64_t>(txs.size());
  ++stats.blocks;
  if (ok_bytes.size() != bytes.size()) {
    // The same block without its failed txs must write exactly the same state.
    Overlay clean(&state);
    BlockOutcome again = ExecuteBlock(ctx, ok_bytes, verified, clean);
    for (const auto& r : again.results) PROP_CHECK(r.code() == 0, "tx failed without the failed txs: " << r.log());
    PROP_CHECK(clean.writes() == block.writes(), "the failed txs of the block changed the state");
  }
  block.MergeInto(state);
  return true;
}

// The state every random world keeps: its seed and RNG, the chain state and block context, the
// stats it adds to and the first broken property. `count_var` names the test's count knob
// (V2G_PROPERTY_WORLDS, V2G_PROPERTY_MARKETS) for the replay line; `t0` is the world's time 0.
template <typename StatsT>
class WorldBase {
 public:
  const std::string& failure() const { return failure_; }

 protected:
  WorldBase(uint64_t seed, StatsT& stats, const char* count_var, int64_t t0)
      : seed_(seed), rng_(seed), stats_(stats), state_(&base_), count_var_(count_var), t0_(t0) {}

  bool Fail(const std::string& msg) {
    std::ostringstream os;
    const int64_t t = ctx_.time_ms / 1000;
    os << "world seed " << seed_ << " (V2G_PROPERTY_SEED=" << seed_ << " " << count_var_ << "=1), height "
       << ctx_.height << ", time T0" << (t >= t0_ ? "+" : "") << (t - t0_) << " s: " << msg;
    failure_ = os.str();
    return false;
  }
  auto FailFn() {
    return [this](const std::string& msg) { return Fail(msg); };
  }
  KeyPair NewKey() { return proptest::NewKey(rng_); }
  // The next block, at time t.
  void NextBlock(int64_t t) {
    time_s_ = t;
    ctx_.height += 1;
    ctx_.time_ms = t * 1000;
  }

  // The block flow every world shares, after NextBlock: an order or contract proposal worth less
  // than one minimal unit must fail the stateless checks (whatever else its generator had in
  // mind), RunBlock runs and checks the block, then `after_ok(pending, result)` updates the
  // world's model for each tx that succeeded, in block order.
  template <typename PendingT, typename AfterOkFn>
  bool RunWorldBlock(std::vector<PendingT>& txs, AfterOkFn&& after_ok) {
    for (auto& p : txs) {
      const auto [e, price] = OrderValueOf(p.bytes);
      if (e >= 1 && e <= limits::kOrderEnergyWhMax && price >= 1 && price <= limits::kOrderPriceMax &&
          FloorValue(e, price) < 1) {
        p.allowed = {Code::kInvalidArgument};
      }
    }
    BlockOutcome out;
    if (!RunBlock(ctx_, state_, txs, stats_, out, FailFn())) return false;
    for (size_t i = 0; i < txs.size(); ++i) {
      if (out.results[i].code() == 0 && !after_ok(txs[i], out.results[i])) return false;
    }
    return true;
  }

  const uint64_t seed_;
  Rng rng_;
  StatsT& stats_;
  MemKv base_;
  Overlay state_;
  pb::ParamsRecord params_;
  BlockContext ctx_;
  int64_t time_s_ = 0;
  std::string failure_;

 private:
  const char* count_var_;
  int64_t t0_;
};

// The world running now, for a V2G_ASSERT (or sanitizer) abort inside the code under test, which
// never returns to the test to print it. `count_var` is the test's count knob
// (V2G_PROPERTY_WORLDS, V2G_PROPERTY_MARKETS).
inline char g_replay[160] = "";
inline void PrintReplayOnAbort(int) {
  const ssize_t n = write(STDERR_FILENO, g_replay, std::strlen(g_replay));
  (void)n;
}
inline void SetReplay(uint64_t seed, const char* count_var) {
  std::snprintf(g_replay, sizeof g_replay, "\naborted in world seed %llu: V2G_PROPERTY_SEED=%llu %s=1\n",
                static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed), count_var);
}

// "[ property ] tx outcomes: <op> <code>=<count> ..." on one line.
inline void PrintCodes(const std::map<std::string, int64_t>& codes) {
  std::printf("[ property ] tx outcomes:");
  for (const auto& [k, n] : codes) std::printf(" %s=%lld", k.c_str(), static_cast<long long>(n));
  std::printf("\n");
}

}  // namespace v2g::proptest
