#include "fuzz/world.h"

#include <cstdio>
#include <cstdlib>

#include "common/assert.h"
#include "common/bech32.h"
#include "contracts/state.h"
#include "wallet/tx_builder.h"

namespace v2g::fuzz {
namespace {

KeyPair Seeded(uint8_t n) {
  InitCrypto();
  return KeyPair::FromSeed(Bytes(kSeedBytes, n));
}
Address AddrOf(size_t i) { return AddressFromPublicKey(Account(i).public_key()); }

// A fixed key, so the world (and every seed that names it) is the same in every run.
constexpr char kOcmfPem[] = R"(-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIKWWSAkM5z2Z48Xi0bbHKBbO96qokT4NXBCfD4HbO8uJoAoGCCqGSM49
AwEHoUQDQgAEiHmk4Hqqtm6wtJ5EnsuohcuAJ94K5omlHXuU27nQEX9O7SSOFOkg
3mGxCL3NqAKa4CcunH7kt1MHamWUag62uw==
-----END EC PRIVATE KEY-----)";

// oc-1's two records of the setup, signed once with kOcmfPem: ECDSA picks k at random, so records
// signed at run time would make the world differ from run to run. Its registration proof (ID:
// OcmfRegistrationId of oc-1, owner and operator Account(1), at kT0 + 1 s) and a session in the
// second interval (OcmfSessionRecord("T1", (kT0 + kLen) * 1000 + 20'000)).
constexpr char kOcmfProofRecord[] =
    R"(OCMF|{"FV":"1.0","GI":"v2gledger meter-sim","PG":"T1","MV":"v2gledger","MS":"OC-0001","IT":"CENTRAL","ID":"DDD6DA3C39D6337FDD843114B4248E78","RD":[{"TM":"2026-11-26T02:00:01,000+0000 S","TX":"B","RV":0,"RI":"1-b:1.8.0","RU":"kWh","ST":"G"}]}|{"SA":"ECDSA-secp256r1-SHA256","SD":"30440220501EB8CB3978B6460427551CE5E886B6E2CA688C77F2D7E646D9762DA42EEC17022070292B7817E25E1A559B0F51797E0BB5F1221346D48457E0DDFA8326A519347D"})";
constexpr char kOcmfSetupSession[] =
    R"(OCMF|{"FV":"1.0","GI":"v2gledger meter-sim","PG":"T1","MV":"v2gledger","MS":"OC-0001","RD":[{"TM":"2026-11-26T03:15:20,000+0100 S","TX":"B","RV":10.000,"RI":"1-b:1.8.0","RU":"kWh","ST":"G"},{"TM":"2026-11-26T03:15:20,000+0100 S","TX":"B","RV":0.000,"RI":"1-b:2.8.0","RU":"kWh","ST":"G"},{"TM":"2026-11-26T03:20:20,000+0100 S","TX":"T","RV":11.0,"RI":"1-b:1.8.0","RU":"kWh","ST":"G"},{"TM":"2026-11-26T03:20:20,000+0100 S","TX":"T","RV":0.250,"RI":"1-b:2.8.0","RU":"kWh","ST":"G"},{"TM":"2026-11-26T03:25:20,000+0100 S","TX":"E","RV":11.5005,"RI":"1-b:1.8.0","RU":"kWh","ST":"G"},{"TM":"2026-11-26T03:25:20,000+0100 S","TX":"E","RV":0.5003,"RI":"1-b:2.8.0","RU":"kWh","ST":"G"}]}|{"SA":"ECDSA-secp256r1-SHA256","SD":"304402200E6359FF3CCE559B0995B59370DDB18A4F4395E666EEB70AF15989D6C7E6B04D022003278EB06351889FA1B7ACEA39E7A5D6319C17D7183601ECD4601B42658934B1"})";

}  // namespace

const KeyPair& Account(size_t i) {
  static const std::vector<KeyPair> keys = [] {
    std::vector<KeyPair> k;
    for (int n : {1, 3, 20, 10, 11, 12, 99}) k.push_back(Seeded(static_cast<uint8_t>(n)));
    return k;
  }();
  V2G_ASSERT(i < keys.size());
  return keys[i];
}

const KeyPair* DeviceKey(const std::string& meter_id) {
  static const KeyPair ev_a = Seeded(30), ch_ev_a = Seeded(130), ev_b = Seeded(31),
                       ch_ev_b = Seeded(131);
  if (meter_id == "ev-a") return &ev_a;
  if (meter_id == "ch-ev-a") return &ch_ev_a;
  if (meter_id == "ev-b") return &ev_b;
  if (meter_id == "ch-ev-b") return &ch_ev_b;
  return nullptr;
}

const OcmfSigner& OcmfMeter() {
  static const OcmfSigner signer = [] {
    auto s = OcmfSigner::FromPem(kOcmfPem);
    V2G_ASSERT(s.ok());
    return *s;
  }();
  return signer;
}

GenesisState WorldGenesis() {
  GenesisState g;
  g.chain_id = kChainId;
  g.genesis_time_ms = kT0 * 1000;
  GenesisValidator v;
  v.name = "val-0";
  v.address = AddrOf(0);
  v.consensus_pubkey = Account(0).public_key();
  v.node_pubkey = Seeded(2).public_key();
  v.power = 10;
  g.validators.push_back(v);
  g.denoms.push_back({"CNY", 2, AddrOf(1)});
  g.denoms.push_back({"PTS", 0, AddrOf(1)});
  g.balances.push_back({AddrOf(1), "CNY", 100'000});
  g.balances.push_back({AddrOf(1), "PTS", 1'000'000});
  g.balances.push_back({AddrOf(2), "CNY", 1'000'000});
  g.balances.push_back({AddrOf(3), "CNY", 10'000});
  g.balances.push_back({AddrOf(4), "CNY", 10'000});
  g.balances.push_back({AddrOf(5), "CNY", 3});
  g.roles.push_back({"operator", AddrOf(1)});
  g.roles.push_back({"grid_company", AddrOf(2)});
  g.roles.push_back({"aggregator", AddrOf(5)});
  g.zones.push_back({"GD-SZ", AddrOf(2)});
  g.params = DefaultParams();
  g.params.market_denom = "CNY";
  g.params.settlement_interval_s = kLen;
  g.params.market_gate_closure_s = 300;
  g.params.market_grace_s = 300;
  g.params.market_horizon_s = 86400;
  g.params.market_collateral_bps = 1000;
  g.params.market_penalty_bps = 1000;
  return g;
}

std::string OcmfSessionRecord(const std::string& pg, int64_t start_ms) {
  OcmfPayloadSpec s;
  s.ms = "OC-0001";
  s.pg = pg;
  auto tm = [](int64_t ms) { return FormatOcmfTime(ms, 60, 'S'); };
  const int64_t q = 300'000;  // tariff points 5 minutes apart: a session within one interval
  s.readings = {
      {tm(start_ms), "B", "10.000", "1-b:1.8.0", "kWh", "G"},
      {tm(start_ms), "B", "0.000", "1-b:2.8.0", "kWh", "G"},
      {tm(start_ms + q), "T", "11.0", "1-b:1.8.0", "kWh", "G"},
      {tm(start_ms + q), "T", "0.250", "1-b:2.8.0", "kWh", "G"},
      {tm(start_ms + 2 * q), "E", "11.5005", "1-b:1.8.0", "kWh", "G"},
      {tm(start_ms + 2 * q), "E", "0.5003", "1-b:2.8.0", "kWh", "G"},
  };
  return OcmfMeter().SignRecord(BuildOcmfPayload(s));
}

namespace {

pb::MeterReading Reading(const std::string& id, uint64_t seq, int64_t start, int64_t end,
                         int64_t imp, int64_t exp, const std::string& plugged = "") {
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
  SignReading(*DeviceKey(id), kChainId, r);
  return r;
}

}  // namespace

std::vector<SetupTx> SetupTxs() {
  std::vector<SetupTx> s;
  const int64_t t = kT0 + 1;
  auto reg = [&](const std::string& id, size_t owner, pb::MeterKind kind, int64_t max_w) {
    s.push_back(
        {1,
         MakeRegisterMeter(0, kChainId, AddrOf(1), id, *DeviceKey(id), kind, "GD-SZ", AddrOf(owner),
                           max_w, max_w, kind == pb::METER_KIND_VEHICLE ? 60000 : 0),
         t});
  };
  reg("ev-a", 3, pb::METER_KIND_VEHICLE, 20000);
  reg("ch-ev-a", 1, pb::METER_KIND_CHARGER, 20000);
  reg("ev-b", 4, pb::METER_KIND_VEHICLE, 7000);
  reg("ch-ev-b", 1, pb::METER_KIND_CHARGER, 7000);
  s.push_back(
      {1,
       MakeRegisterOcmfMeter(0, "oc-1", OcmfMeter().PublicKeyDer(), "OC-0001", kOcmfProofRecord,
                             pb::METER_KIND_CHARGER, "GD-SZ", AddrOf(1), 22000, 22000),
       t});
  s.push_back({2, MakeTransfer(0, AddrOf(5), "CNY", 1), t});
  s.push_back({1, MakeTransfer(0, AddrOf(5), "PTS", 500), t});
  s.push_back({2, MakeSetTariff(0, "GD-SZ", kT0 + 1800, std::vector<int64_t>(24, 800), 300), t});
  s.push_back({1, MakeEnrollTariff(0, "ch-ev-a"), t});
  s.push_back({2,
               MakeCreateEvent(0, pb::EVENT_PEAK_RELIEF, "GD-SZ", kS + kLen, kS + 3 * kLen, 10000,
                               500, 100'000, kS, pb::BASELINE_DECLARED),
               t});
  s.push_back(
      {1,
       MakeCreateProgram(0, pb::PROGRAM_REWARD_POINTS, "PTS", 10, 0, "GD-SZ", 10'000, kT0 + 86400),
       t});
  s.push_back({5, MakeCreatePool(0, "carol-pool", 500), t});
  s.push_back({4, MakeJoinPool(0, 1, "ev-b"), t});
  s.push_back({3, MakePlaceOrder(0, pb::SIDE_SELL, "GD-SZ", kS, 3000, 900, "ev-a"), t});
  s.push_back({4, MakePlaceOrder(0, pb::SIDE_BUY, "GD-SZ", kS, 2000, 1000), t});
  s.push_back({4, MakePlaceOrder(0, pb::SIDE_BUY, "GD-SZ", kS + kLen, 1000, 1200), t});
  s.push_back(
      {3, MakeProposeContract(0, AddrOf(4), pb::SIDE_SELL, "GD-SZ", kS + kLen, 500, 950, "ev-a"),
       t});
  s.push_back({3, MakeEnrollEvent(0, 1, "ev-a", 5000, 1000), t});
  // Energy of the second interval (the first began before the meters were registered): the
  // vehicle and its charger agree (corroborated); then the OCMF charger's session in it.
  const int64_t a = kT0 + kLen;
  const int64_t e = a + kLen;
  for (const char* id : {"ev-a", "ch-ev-a"}) {
    const std::string plugged = std::string(id) == "ch-ev-a" ? "ev-a" : "";
    s.push_back({4,
                 MakeSubmitReadings(0, {Reading(id, 1, a, a + 1, 0, 0),
                                        Reading(id, 2, a + 1, e, 1000, 2000, plugged)}),
                 e + 10});
  }
  s.push_back({1, MakeSubmitOcmf(0, "oc-1", {kOcmfSetupSession}), e + 10});
  return s;
}

pb::TxResult RunTx(BlockContext* ctx, Overlay& state, size_t signer, pb::TxBody body,
                   std::string* tx_out) {
  const KeyPair& k = Account(signer);
  body.set_nonce(LoadAccount(state, AddressFromPublicKey(k.public_key())).nonce() + 1);
  std::string tx = SignTx(k, kChainId, std::move(body));
  ++ctx->height;
  BlockOutcome out = ExecuteBlock(*ctx, {tx}, nullptr, state);
  V2G_ASSERT(out.results.size() == 1);
  ctx->time_ms += 1;  // block times strictly increase
  if (tx_out) *tx_out = std::move(tx);
  return out.results[0];
}

void ApplyWrites(const Overlay& o, MemKv& kv) {
  for (const auto& [key, value] : o.writes()) {
    if (value) {
      kv.Put(key, *value);
    } else {
      kv.Delete(key);
    }
  }
}

MemWorld BuildMemWorld() {
  MemWorld w;
  w.kv = std::make_unique<MemKv>();
  Overlay o(w.kv.get());
  V2G_ASSERT(InitChain(WorldGenesis(), o).ok());
  w.ctx.chain_id = kChainId;
  w.ctx.height = 0;
  w.ctx.time_ms = kT0 * 1000 + 1;
  w.ctx.proposer = AddrOf(0);
  for (SetupTx& s : SetupTxs()) {
    if (s.time_s * 1000 > w.ctx.time_ms) w.ctx.time_ms = s.time_s * 1000;
    std::string tx;
    const pb::TxResult r = RunTx(&w.ctx, o, s.signer, std::move(s.body), &tx);
    if (getenv("V2G_FUZZ_WORLD_VERBOSE") != nullptr) {
      fprintf(stderr, "setup tx %zu: code %u %s\n", w.txs.size(), r.code(), r.log().c_str());
      for (const auto& rr : r.rejected_readings())
        fprintf(stderr, "  rejected: %s\n", rr.message().c_str());
    }
    w.txs.push_back(std::move(tx));
  }
  ApplyWrites(o, *w.kv);
  return w;
}

}  // namespace v2g::fuzz
