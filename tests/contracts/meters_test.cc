// Unit tests for contracts/meters: the registry (who may register, rotate, transfer, deactivate),
// every rule a reading must pass (each with its own reason code), batches that mix good and bad
// readings, and the state later modules settle against (attested energy per settlement interval,
// battery history and cycles). Every rejected reading must leave the meter's state unchanged.
#include "contracts/meters.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/bech32.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "common/signbytes.h"
#include "contracts/app.h"
#include "contracts/kv.h"
#include "contracts/state.h"
#include "genesis/genesis.h"
#include "common/ocmf.h"
#include "wallet/ocmf_signer.h"
#include "wallet/tx_builder.h"

namespace v2g {
namespace {

constexpr char kChainId[] = "v2g-meters-1";
// 2026-11-26T02:00:00Z: a multiple of 900 s and of 3600 s, so T0 starts a settlement interval.
constexpr int64_t kT0 = 1795658400;
constexpr int64_t kDay = 86400;

KeyPair Key(uint8_t n) {
  InitCrypto();
  return KeyPair::FromSeed(Bytes(kSeedBytes, n));
}
Address AddrOf(const KeyPair& k) { return AddressFromPublicKey(k.public_key()); }

class MetersTest : public ::testing::Test {
 protected:
  MetersTest()
      : validator_(Key(1)),
        issuer_(Key(2)),
        operator_(Key(3)),
        alice_(Key(10)),
        bob_(Key(11)),
        mallory_(Key(12)),
        state_(&base_) {}

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
    g.balances.push_back({AddrOf(alice_), "CNY", 100000});
    g.balances.push_back({AddrOf(operator_), "CNY", 5000});
    g.roles.push_back({"operator", AddrOf(operator_)});
    g.roles.push_back({"grid_company", AddrOf(operator_)});
    for (const char* z : {"GD-SZ", "GD-GZ"}) g.zones.push_back({z, AddrOf(operator_)});
    g.params = DefaultParams();
    // A day's grace: batches below span up to a few intervals and stay inside it.
    g.params.market_grace_s = kDay;
    ASSERT_TRUE(ValidateGenesis(g).ok());
    ASSERT_TRUE(InitChain(g, state_).ok());
    params_ = LoadParams(state_);
    ctx_.chain_id = kChainId;
    ctx_.height = 2;
    ctx_.time_ms = kT0 * 1000;  // meters register at genesis time; Submit moves the clock on
    ctx_.proposer = AddrOf(validator_);
  }

  // Signs with `k` at its next nonce and runs the tx through ExecuteBlock on the chain state.
  pb::TxResult Run(const KeyPair& k, pb::TxBody body) {
    body.set_nonce(LoadAccount(state_, AddrOf(k)).nonce() + 1);
    return RunBytes(SignTx(k, kChainId, std::move(body)));
  }
  pb::TxResult RunBytes(const std::string& bytes) {
    BlockOutcome out = ExecuteBlock(ctx_, {bytes}, nullptr, state_);
    V2G_ASSERT(out.results.size() == 1);
    return out.results[0];
  }
  static Code CodeOf(const pb::TxResult& r) { return static_cast<Code>(r.code()); }

  // Registers `id` with a device key made from `seed`; kind charger unless told.
  void Register(const std::string& id, uint8_t seed, pb::MeterKind kind = pb::METER_KIND_CHARGER,
                int64_t max_import_w = 7000, int64_t max_export_w = 7000, int64_t capacity_wh = 0,
                const std::string& zone = "GD-SZ") {
    devices_.emplace(id, Key(seed));
    if (kind == pb::METER_KIND_VEHICLE && capacity_wh == 0) capacity_wh = 60000;
    auto r = Run(operator_, MakeRegisterMeter(0, kChainId, AddrOf(operator_), id, devices_.at(id), kind, zone, AddrOf(alice_),
                                              max_import_w, max_export_w, capacity_wh));
    ASSERT_EQ(CodeOf(r), Code::kOk) << r.log();
  }

  // The operator's rotation of `id` to `new_device`, with the new device's proof for the owner.
  pb::TxBody Rotate(const std::string& id, const KeyPair& new_device) {
    auto m = LoadMeter(state_, id);
    V2G_ASSERT(m.has_value());
    return MakeRotateMeterKey(0, kChainId, AddrOf(operator_), id, *AddressFromBytes(m->owner()), new_device);
  }

  pb::MeterReading Reading(const std::string& id, uint64_t seq, int64_t start, int64_t end, int64_t imp,
                           int64_t exp, int32_t soc = 500, int32_t soh = 980, const std::string& plugged = "") {
    pb::MeterReading r;
    r.set_plugged_meter_id(plugged);
    r.set_meter_id(id);
    r.set_seq(seq);
    r.set_interval_start_s(start);
    r.set_interval_end_s(end);
    r.set_import_wh_total(imp);
    r.set_export_wh_total(exp);
    r.set_soc_permille(soc);
    r.set_soh_permille(soh);
    auto it = devices_.find(id);
    SignReading(it != devices_.end() ? it->second : mallory_, kChainId, r);
    return r;
  }

  // Runs the batch in a block stamped when its last reading ends (while auto_time_), the moment
  // a real meter would send it: inside every reading's interval grace unless a test wants
  // otherwise. Tests that set the block time themselves clear auto_time_.
  pb::TxResult Submit(std::vector<pb::MeterReading> readings, const KeyPair* submitter = nullptr) {
    if (auto_time_) {
      int64_t end_s = 0;
      for (const auto& r : readings) end_s = std::max(end_s, r.interval_end_s());
      if (end_s > 0 && end_s < int64_t{1} << 40) ctx_.time_ms = std::max(ctx_.time_ms, end_s * 1000);
    }
    return Run(submitter ? *submitter : bob_, MakeSubmitReadings(0, std::move(readings)));
  }

  // Submits one reading that must be rejected with `code`. A batch with no accepted reading fails
  // (issue 12: it would be free block space) with that reading's code, and the meter (and
  // everything else) stays as it was.
  void ExpectReadingRejected(const pb::MeterReading& r, Code code) {
    const auto before = LoadMeter(state_, r.meter_id());
    const auto nonce = LoadAccount(state_, AddrOf(bob_)).nonce();
    Overlay::Writes writes_before = state_.writes();
    pb::TxResult res = Submit({r});
    EXPECT_EQ(CodeOf(res), code) << CodeName(CodeOf(res)) << ": " << res.log();
    EXPECT_EQ(res.log().rfind("no reading of the batch was accepted; reading 0: ", 0), 0u) << res.log();
    EXPECT_GT(res.log().size(), std::string("no reading of the batch was accepted; reading 0: ").size());
    EXPECT_EQ(res.rejected_readings_size(), 0) << "a failed tx reports nothing but why";
    const auto after = LoadMeter(state_, r.meter_id());
    EXPECT_EQ(before.has_value(), after.has_value());
    if (before && after) {
      EXPECT_EQ(Encode(*before), Encode(*after)) << "a rejected reading changed the meter";
    }
    // The tx carried no fee (fee_min 0): it changed nothing at all, not even the nonce.
    EXPECT_EQ(LoadAccount(state_, AddrOf(bob_)).nonce(), nonce);
    for (const auto& [k, v] : state_.writes()) {
      auto it = writes_before.find(k);
      EXPECT_TRUE(it != writes_before.end() && it->second == v) << "a rejected reading wrote a state key";
    }
  }

  int64_t LastSeq(const std::string& id) { return static_cast<int64_t>(LoadMeter(state_, id)->last_reading().seq()); }
  pb::MeterIntervalRecord Interval(const std::string& id, int64_t start) {
    auto r = LoadMeterInterval(state_, id, start);
    return r.value_or(pb::MeterIntervalRecord());
  }
  void ExpectConserved() {
    Status st = CheckConservation(state_);
    EXPECT_TRUE(st.ok()) << st.ToString();
  }

  KeyPair validator_, issuer_, operator_, alice_, bob_, mallory_;
  MemKv base_;
  Overlay state_;
  pb::ParamsRecord params_;
  BlockContext ctx_;
  std::map<std::string, KeyPair> devices_;
  bool auto_time_ = true;
};

// A charger (7 kW each way) with a baseline reading [T0, T0+300) at registers 1000 / 0 and one
// contiguous reading [T0+300, T0+900) that imports 1000 Wh (1200 Wh allowed in 600 s).
class ReadingRulesTest : public MetersTest {
 protected:
  void SetUp() override {
    MetersTest::SetUp();
    Register("CH-1", 40);
    auto r = Submit({Reading("CH-1", 1, kT0, kT0 + 300, 1000, 0), Reading("CH-1", 2, kT0 + 300, kT0 + 900, 2000, 0)});
    ASSERT_EQ(r.rejected_readings_size(), 0) << r.rejected_readings(0).message();
    ASSERT_EQ(LastSeq("CH-1"), 2);
  }
};

// ------------------------------------------------------------------------------ registry

TEST_F(MetersTest, OperatorRegistersAMeter) {
  Register("CN-GD-SZ-0001:ccs1", 40, pb::METER_KIND_CHARGER, 120000, 60000);
  auto m = LoadMeter(state_, "CN-GD-SZ-0001:ccs1");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->device_pubkey(), std::string(devices_.at("CN-GD-SZ-0001:ccs1").public_key().begin(),
                                            devices_.at("CN-GD-SZ-0001:ccs1").public_key().end()));
  EXPECT_EQ(m->kind(), pb::METER_KIND_CHARGER);
  EXPECT_EQ(m->zone(), "GD-SZ");
  EXPECT_EQ(m->owner(), AddressBytes(AddrOf(alice_)));
  EXPECT_EQ(m->operator_address(), AddressBytes(AddrOf(operator_)));
  EXPECT_EQ(m->max_import_w(), 120000);
  EXPECT_EQ(m->max_export_w(), 60000);
  EXPECT_TRUE(m->active());
  EXPECT_EQ(m->registered_height(), ctx_.height);
  EXPECT_FALSE(m->has_last_reading());
  EXPECT_FALSE(LoadBattery(state_, "CN-GD-SZ-0001:ccs1").has_value()) << "only vehicles have a battery";
  ExpectConserved();
}

TEST_F(MetersTest, VehicleGetsABatteryRecord) {
  Register("EV-1", 41, pb::METER_KIND_VEHICLE, 11000, 11000, 75000);
  auto b = LoadBattery(state_, "EV-1");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->capacity_wh(), 75000);
  EXPECT_EQ(b->last_sample_day(), -1);
}

TEST_F(MetersTest, NonOperatorCannotRegister) {
  KeyPair dev = Key(40);
  const auto writes = state_.writes();
  auto r = Run(alice_, MakeRegisterMeter(0, kChainId, AddrOf(alice_), "CH-X", dev, pb::METER_KIND_CHARGER, "GD-SZ",
                                         AddrOf(alice_), 7000, 0, 0));
  EXPECT_EQ(CodeOf(r), Code::kUnauthorized) << r.log();
  EXPECT_NE(r.log().find("operator"), std::string::npos) << r.log();
  EXPECT_FALSE(LoadMeter(state_, "CH-X").has_value());
  EXPECT_TRUE(state_.writes() == writes) << "a rejected registration changed the state";
}

TEST_F(MetersTest, MeterIdCannotBeRegisteredTwice) {
  Register("CH-1", 40);
  KeyPair other = Key(41);
  auto r = Run(operator_, MakeRegisterMeter(0, kChainId, AddrOf(operator_), "CH-1", other, pb::METER_KIND_SITE, "GD-GZ",
                                             AddrOf(bob_), 1000, 1000, 0));
  EXPECT_EQ(CodeOf(r), Code::kAlreadyExists) << r.log();
  EXPECT_EQ(LoadMeter(state_, "CH-1")->zone(), "GD-SZ");
}

// ---- RegisterMeters: a fleet in one tx (issue 13 item 5), each meter on its own.

// The register_meter of a MakeRegisterMeter body: `id` with `device`'s proof for alice, operator_.
pb::RegisterMeter OneMeter(const std::string& id, const KeyPair& device, const std::string& zone = "GD-SZ") {
  return MakeRegisterMeter(0, kChainId, AddrOf(Key(3)), id, device, pb::METER_KIND_CHARGER, zone, AddrOf(Key(10)),
                           7000, 7000, 0)
      .register_meter();
}

TEST_F(MetersTest, RegisterMetersTakesOrRefusesEachMeterOnItsOwn) {
  ASSERT_EQ(AddrOf(Key(3)), AddrOf(operator_));
  Register("pre", 41);
  pb::RegisterMeter forged = OneMeter("b-2", Key(42));
  forged.set_device_signature(OneMeter("b-2", Key(43)).device_signature());  // another key's proof
  std::vector<pb::RegisterMeter> batch = {
      OneMeter("b-0", Key(40)),
      OneMeter("pre", Key(50)),           // 1: the id is taken
      forged,                             // 2: the proof does not verify
      OneMeter("b-3", Key(51), "XX-YY"),  // 3: no such zone
      OneMeter("b-0", Key(52)),           // 4: taken by meter 0 of this batch
      OneMeter("b-5", Key(45)),
      OneMeter("b-6", Key(40)),           // 6: meter 0's device key
  };
  const pb::TxBody body = MakeRegisterMeters(0, batch);
  EXPECT_EQ(TxFeeUnits(body), 8);  // 1 + a unit per meter
  auto r = Run(operator_, body);
  ASSERT_EQ(CodeOf(r), Code::kOk) << r.log();
  EXPECT_EQ(r.log(), "2 of 7 meters registered");
  std::vector<std::pair<uint32_t, Code>> refused;
  for (const auto& rej : r.rejected_readings()) refused.emplace_back(rej.index(), static_cast<Code>(rej.code()));
  EXPECT_EQ(refused, (std::vector<std::pair<uint32_t, Code>>{{1, Code::kAlreadyExists},
                                                             {2, Code::kBadSignature},
                                                             {3, Code::kNotFound},
                                                             {4, Code::kAlreadyExists},
                                                             {6, Code::kAlreadyExists}}));
  for (const char* id : {"b-0", "b-5"}) {
    auto m = LoadMeter(state_, id);
    ASSERT_TRUE(m.has_value()) << id;
    EXPECT_EQ(m->operator_address(), AddressBytes(AddrOf(operator_)));
    EXPECT_TRUE(m->active());
  }
  EXPECT_EQ(LoadMeter(state_, "b-0")->device_pubkey(), OneMeter("b-0", Key(40)).device_pubkey());
  for (const char* id : {"b-2", "b-3", "b-6"}) EXPECT_FALSE(LoadMeter(state_, id).has_value()) << id;
  const PublicKey pre = devices_.at("pre").public_key();
  EXPECT_EQ(LoadMeter(state_, "pre")->device_pubkey(), std::string(pre.begin(), pre.end()));
}

TEST_F(MetersTest, RegisterMetersFailsWhenNoMeterIsRegisteredAndNeedsTheOperatorRole) {
  Register("pre", 41);
  const auto writes = state_.writes();
  auto none = Run(operator_, MakeRegisterMeters(0, {OneMeter("pre", Key(50)), OneMeter("x-1", Key(51), "XX-YY")}));
  EXPECT_EQ(CodeOf(none), Code::kAlreadyExists) << none.log();
  EXPECT_NE(none.log().find("no meter of the batch was registered; meter 0:"), std::string::npos) << none.log();
  auto stranger = Run(alice_, MakeRegisterMeters(0, {OneMeter("x-2", Key(52))}));
  EXPECT_EQ(CodeOf(stranger), Code::kUnauthorized) << stranger.log();
  EXPECT_FALSE(LoadMeter(state_, "x-2").has_value());
  // Only the fee and nonce moved (no fee here): no meter record was written.
  for (const auto& [key, value] : state_.writes()) {
    if (!writes.count(key)) {
      EXPECT_NE(key.rfind(std::string(kMeterPrefix), 0), 0u) << key;
    }
  }
}

// A meter id is a pseudonym every validator sees: registration refuses one that has the form of
// a VIN or of a Chinese plate (docs/DESIGN.md "Who may read what"), alone or in a batch.
TEST_F(MetersTest, RegistrationRefusesIdsThatIdentifyAVehicle) {
  // Upper case as printed; in lower case with a valid check digit; between separators.
  for (const char* vin : {"LSVAU2180N2183294", "1HGCM82633A004352", "1hgcm82633a004352", "ev-LSVAU2180N2183294",
                          "car.1HGCM82633A004352.x"}) {
    EXPECT_EQ(PersonalIdForm(vin), "a vehicle identification number (VIN)") << vin;
  }
  for (const char* plate : {"A12345", "BD12345", "B12345D", "AF98765", "E6K123"}) {
    EXPECT_EQ(PersonalIdForm(plate), "a licence plate") << plate;
  }
  // Not such forms: too short or long, I/O/Q in a VIN, lower case or separators in a plate, too
  // few digits, an id of the operator's own.
  for (const char* id : {"LSVAU2180N218329", "LSVAU2180N21832945", "LSVAU2180N2I83294", "12345678901234567",
                         "ABCDEFGHJKLMNPRST", "a12345", "B-12345", "EMH-0001", "OC0001", "ABCDE1", "ev-bob",
                         "CH-1", "BX12345", "car-0001", "1hgcm82643a004352", "shenzhenchargers1",
                         "ev-shenzhenchargers1"}) {
    EXPECT_EQ(PersonalIdForm(id), "") << id;
  }
  pb::TxBody vin;
  *vin.mutable_register_meter() = OneMeter("LSVAU2180N2183294", Key(62));
  Status one = CheckMeterOp(vin);
  EXPECT_EQ(one.code(), Code::kInvalidArgument);
  EXPECT_NE(one.message().find("meter id 'LSVAU2180N2183294' has the form of a vehicle identification number (VIN): "
                               "ids on the ledger are pseudonyms"),
            std::string::npos)
      << one.message();
  Status batch = CheckMeterOp(MakeRegisterMeters(0, {OneMeter("ok-9", Key(63)), OneMeter("BD12345", Key(64))}));
  EXPECT_EQ(batch.code(), Code::kInvalidArgument);
  EXPECT_NE(batch.message().find("register_meters meter 1: register_meter: meter id 'BD12345' has the form of a "
                                 "licence plate"),
            std::string::npos)
      << batch.message();
  auto refused = Run(operator_, MakeRegisterMeters(0, {OneMeter("BD12345", Key(64))}));
  EXPECT_EQ(CodeOf(refused), Code::kInvalidArgument) << refused.log();
  EXPECT_FALSE(LoadMeter(state_, "BD12345").has_value());
}

TEST_F(MetersTest, RegisterMetersIsBoundedAndAMalformedMeterFailsTheTx) {
  auto empty = Run(operator_, MakeRegisterMeters(0, {}));
  EXPECT_EQ(CodeOf(empty), Code::kInvalidArgument) << empty.log();
  std::vector<pb::RegisterMeter> many;
  for (int64_t i = 0; i <= limits::kMetersPerTxMax; ++i) many.push_back(OneMeter("m" + std::to_string(i), Key(1)));
  // The count bound (the default tx_bytes_max, 16 KiB, holds ~110 meters and binds first).
  Status over = CheckMeterOp(MakeRegisterMeters(0, many));
  EXPECT_EQ(over.code(), Code::kTooLarge) << over.message();
  EXPECT_NE(over.message().find("limit " + std::to_string(limits::kMetersPerTxMax)), std::string::npos)
      << over.message();
  many.pop_back();
  EXPECT_TRUE(CheckMeterOp(MakeRegisterMeters(0, many)).ok());
  pb::RegisterMeter bad = OneMeter("ok-1", Key(60));
  bad.set_meter_id("a/b");
  auto malformed = Run(operator_, MakeRegisterMeters(0, {OneMeter("ok-0", Key(61)), bad}));
  EXPECT_EQ(CodeOf(malformed), Code::kInvalidArgument) << malformed.log();
  EXPECT_NE(malformed.log().find("register_meters meter 1:"), std::string::npos) << malformed.log();
  EXPECT_FALSE(LoadMeter(state_, "ok-0").has_value());
}

// At admission a batch with nothing registered yet is refused at its first meter refused after its
// proof was verified: a batch of forged proofs costs the pool one verification. Refusals before
// the proof (a taken id, an unknown zone) do not stop it. The mempool warms the proofs before its
// locks, so the application under them verifies nothing.
TEST_F(MetersTest, AtAdmissionARefusedMetersBatchCostsOneVerification) {
  std::vector<pb::RegisterMeter> forged;
  for (int i = 0; i < 8; ++i) {
    pb::RegisterMeter m = OneMeter("f-" + std::to_string(i), Key(static_cast<uint8_t>(70 + i)));
    m.set_device_signature(OneMeter("f-" + std::to_string(i), Key(90)).device_signature());
    forged.push_back(m);
  }
  auto checked = CheckTxStateless(SignTx(operator_, kChainId, [&] {
                                    pb::TxBody b = MakeRegisterMeters(0, forged);
                                    b.set_nonce(1);
                                    return b;
                                  }()),
                                  kChainId, params_, true);
  ASSERT_TRUE(checked.ok()) << checked.status().message();
  BlockContext admission = ctx_;
  admission.admission = true;
  Overlay pending(&state_);
  uint64_t before = Ed25519Verifications();
  Status st = ApplyTx(*checked, admission, pending, nullptr);
  EXPECT_EQ(Ed25519Verifications() - before, 1u);
  EXPECT_EQ(st.code(), Code::kBadSignature) << st.message();
  EXPECT_NE(st.message().find("refused at admission"), std::string::npos) << st.message();

  std::vector<pb::RegisterMeter> good = {OneMeter("g-0", Key(80), "XX-YY"), OneMeter("g-1", Key(81)),
                                         OneMeter("g-2", Key(82))};
  pb::TxBody body = MakeRegisterMeters(0, good);
  body.set_nonce(1);
  // Warming verifies nothing for a signer without the operator role (admission refuses it before
  // any proof) nor for a meter refused before its proof (g-0's unknown zone).
  before = Ed25519Verifications();
  WarmReadingSignatures(body, state_, kChainId, AddrOf(alice_));
  EXPECT_EQ(Ed25519Verifications() - before, 0u);
  WarmReadingSignatures(body, state_, kChainId, AddrOf(operator_));
  EXPECT_EQ(Ed25519Verifications() - before, 2u);
  auto ok = CheckTxStateless(SignTx(operator_, kChainId, body), kChainId, params_, true);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  Overlay pending2(&state_);
  before = Ed25519Verifications();
  EXPECT_TRUE(ApplyTx(*ok, admission, pending2, nullptr).ok());
  EXPECT_EQ(Ed25519Verifications() - before, 0u);  // every proof it checks was cached
  EXPECT_TRUE(LoadMeter(pending2, "g-1").has_value());
  EXPECT_FALSE(LoadMeter(pending2, "g-0").has_value());
}

TEST_F(MetersTest, RegistrationFieldsAreValidated) {
  KeyPair dev = Key(40);
  struct Case {
    const char* what;
    std::function<void(pb::RegisterMeter&)> mutate;
  };
  const std::vector<Case> cases = {
      {"empty id", [](pb::RegisterMeter& r) { r.set_meter_id(""); }},
      {"id with slash", [](pb::RegisterMeter& r) { r.set_meter_id("a/b"); }},
      {"id too long", [](pb::RegisterMeter& r) { r.set_meter_id(std::string(65, 'a')); }},
      {"short pubkey", [](pb::RegisterMeter& r) { r.set_device_pubkey("abc"); }},
      {"short device signature", [](pb::RegisterMeter& r) { r.set_device_signature("abc"); }},
      {"no kind", [](pb::RegisterMeter& r) { r.set_kind(pb::METER_KIND_UNSPECIFIED); }},
      {"unknown kind", [](pb::RegisterMeter& r) { r.set_kind(static_cast<pb::MeterKind>(9)); }},
      {"bad zone", [](pb::RegisterMeter& r) { r.set_zone("GD SZ"); }},
      {"bad owner", [](pb::RegisterMeter& r) { r.set_owner("xx"); }},
      {"negative power", [](pb::RegisterMeter& r) { r.set_max_import_w(-1); }},
      {"huge power", [](pb::RegisterMeter& r) { r.set_max_export_w(limits::kMeterPowerWMax + 1); }},
      {"no power at all", [](pb::RegisterMeter& r) { r.set_max_import_w(0); r.set_max_export_w(0); }},
      {"charger with battery", [](pb::RegisterMeter& r) { r.set_battery_capacity_wh(50000); }},
      {"vehicle without battery", [](pb::RegisterMeter& r) { r.set_kind(pb::METER_KIND_VEHICLE); }},
      {"vehicle with tiny battery", [](pb::RegisterMeter& r) {
         r.set_kind(pb::METER_KIND_VEHICLE);
         r.set_battery_capacity_wh(999);
       }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    pb::TxBody body = MakeRegisterMeter(LoadAccount(state_, AddrOf(operator_)).nonce() + 1, kChainId,
                                        AddrOf(operator_), "CH-1", dev, pb::METER_KIND_CHARGER, "GD-SZ", AddrOf(alice_), 7000, 7000, 0);
    c.mutate(*body.mutable_register_meter());
    auto checked = CheckTxStateless(SignTx(operator_, kChainId, body), kChainId, params_, true);
    ASSERT_FALSE(checked.ok());
    EXPECT_EQ(checked.status().code(), Code::kInvalidArgument) << checked.status().ToString();
  }
}

TEST_F(MetersTest, TransferNeedsTheNewOwnersSignature) {
  Register("CH-1", 40);
  // Co-signed by the wrong key: mallory signs, but the tx names bob's key.
  {
    const uint64_t nonce = LoadAccount(state_, AddrOf(alice_)).nonce() + 1;
    pb::TxBody forged = MakeTransferMeter(nonce, kChainId, "CH-1", AddrOf(alice_), mallory_);
    forged.mutable_transfer_meter()->set_new_owner_pubkey(
        std::string(bob_.public_key().begin(), bob_.public_key().end()));
    auto r = RunBytes(SignTx(alice_, kChainId, forged));
    EXPECT_EQ(CodeOf(r), Code::kBadSignature) << r.log();
    EXPECT_EQ(LoadMeter(state_, "CH-1")->owner(), AddressBytes(AddrOf(alice_)));
  }
  // Co-signed for a different nonce (a stale consent cannot be replayed).
  {
    const uint64_t nonce = LoadAccount(state_, AddrOf(alice_)).nonce() + 1;
    pb::TxBody stale = MakeTransferMeter(nonce + 5, kChainId, "CH-1", AddrOf(alice_), bob_);
    stale.set_nonce(nonce);
    auto r = RunBytes(SignTx(alice_, kChainId, stale));
    EXPECT_EQ(CodeOf(r), Code::kBadSignature) << r.log();
  }
  // Not the owner: the operator cannot give the owner's meter away.
  {
    const uint64_t nonce = LoadAccount(state_, AddrOf(operator_)).nonce() + 1;
    auto r = RunBytes(SignTx(operator_, kChainId, MakeTransferMeter(nonce, kChainId, "CH-1", AddrOf(operator_), bob_)));
    EXPECT_EQ(CodeOf(r), Code::kUnauthorized) << r.log();
  }
  // The owner signs, the new owner co-signs: done.
  const uint64_t nonce = LoadAccount(state_, AddrOf(alice_)).nonce() + 1;
  auto r = RunBytes(SignTx(alice_, kChainId, MakeTransferMeter(nonce, kChainId, "CH-1", AddrOf(alice_), bob_)));
  ASSERT_EQ(CodeOf(r), Code::kOk) << r.log();
  EXPECT_EQ(LoadMeter(state_, "CH-1")->owner(), AddressBytes(AddrOf(bob_)));
  // Alice no longer owns it.
  const uint64_t n2 = LoadAccount(state_, AddrOf(alice_)).nonce() + 1;
  r = RunBytes(SignTx(alice_, kChainId, MakeTransferMeter(n2, kChainId, "CH-1", AddrOf(alice_), mallory_)));
  EXPECT_EQ(CodeOf(r), Code::kUnauthorized) << r.log();
  ExpectConserved();
}

TEST_F(MetersTest, RotatedKeyInvalidatesTheOldKeysReadings) {
  Register("CH-1", 40);
  ASSERT_EQ(Submit({Reading("CH-1", 1, kT0, kT0 + 900, 0, 0)}).rejected_readings_size(), 0);
  KeyPair new_key = Key(50);
  ASSERT_EQ(CodeOf(Run(operator_, Rotate("CH-1", new_key))), Code::kOk);
  EXPECT_EQ(LoadMeter(state_, "CH-1")->key_rotations(), 1u);
  // A reading signed by the old key is rejected...
  ExpectReadingRejected(Reading("CH-1", 2, kT0 + 900, kT0 + 1800, 100, 0), Code::kReadingBadSignature);
  // ...and the same reading signed by the new key is accepted.
  devices_.erase("CH-1");
  devices_.emplace("CH-1", new_key);
  auto r = Submit({Reading("CH-1", 2, kT0 + 900, kT0 + 1800, 100, 0)});
  EXPECT_EQ(r.rejected_readings_size(), 0);
  EXPECT_EQ(LastSeq("CH-1"), 2);
}

// The attack this closes: the owner, who is paid for the meter's export, swaps the device key
// for one of its own and signs whatever export it likes.
TEST_F(MetersTest, OwnerCannotRotateDeactivateOrReRegisterItsMetersKey) {
  Register("EV-1", 40, pb::METER_KIND_VEHICLE);  // owned by alice
  const KeyPair alices_key = Key(60);
  for (const KeyPair* who : {&alice_, &mallory_}) {
    auto r = Run(*who, Rotate("EV-1", alices_key));
    EXPECT_EQ(CodeOf(r), Code::kUnauthorized) << r.log();
    EXPECT_NE(r.log().find("only its operator"), std::string::npos) << r.log();
    r = Run(*who, MakeDeactivateMeter(0, "EV-1"));
    EXPECT_EQ(CodeOf(r), Code::kUnauthorized) << r.log();
  }
  // Re-registering the id (even by an operator) or registering the key elsewhere is refused.
  EXPECT_EQ(CodeOf(Run(operator_, MakeRegisterMeter(0, kChainId, AddrOf(operator_), "EV-1", alices_key,
                                                    pb::METER_KIND_VEHICLE, "GD-SZ", AddrOf(alice_), 7000, 7000,
                                                    60000))),
            Code::kAlreadyExists);
  EXPECT_EQ(CodeOf(Run(alice_, MakeRegisterMeter(0, kChainId, AddrOf(alice_), "EV-2", alices_key,
                                                 pb::METER_KIND_VEHICLE, "GD-SZ", AddrOf(alice_), 7000, 7000, 60000))),
            Code::kUnauthorized);
  const auto m = LoadMeter(state_, "EV-1");
  EXPECT_TRUE(m->active());
  EXPECT_EQ(m->key_rotations(), 0u);
  EXPECT_EQ(m->device_pubkey(), std::string(devices_.at("EV-1").public_key().begin(), devices_.at("EV-1").public_key().end()));
  // A reading signed by any key but the device's is rejected, whoever submits it.
  ASSERT_EQ(Submit({Reading("EV-1", 1, kT0, kT0 + 300, 0, 0)}).rejected_readings_size(), 0);
  pb::MeterReading forged = Reading("EV-1", 2, kT0 + 300, kT0 + 900, 0, 1000);
  SignReading(alices_key, kChainId, forged);
  ExpectReadingRejected(forged, Code::kReadingBadSignature);
  SignReading(operator_, kChainId, forged);
  ExpectReadingRejected(forged, Code::kReadingBadSignature);
  EXPECT_EQ(Interval("EV-1", kT0).export_wh(), 0);
}

TEST_F(MetersTest, RegistrationNeedsTheDevicesProofOfPossession) {
  const KeyPair dev = Key(40);
  auto reg = [&](const Signature& proof) {
    return Run(operator_, MakeRegisterMeterWithProof(0, "CH-1", dev.public_key(), proof, pb::METER_KIND_CHARGER,
                                                     "GD-SZ", AddrOf(alice_), 7000, 7000, 0));
  };
  struct Case {
    const char* name;
    Signature proof;
  };
  const Case cases[] = {
      {"signed by another key", SignMeterKeyProof(Key(41), kChainId, "CH-1", AddrOf(alice_), AddrOf(operator_))},
      {"for another chain", SignMeterKeyProof(dev, "v2g-other", "CH-1", AddrOf(alice_), AddrOf(operator_))},
      {"for another meter", SignMeterKeyProof(dev, kChainId, "CH-2", AddrOf(alice_), AddrOf(operator_))},
      {"for another owner", SignMeterKeyProof(dev, kChainId, "CH-1", AddrOf(bob_), AddrOf(operator_))},
      // Another operator's statement lifted from the mempool (front-running a registration).
      {"for another operator", SignMeterKeyProof(dev, kChainId, "CH-1", AddrOf(alice_), AddrOf(mallory_))},
  };
  for (const auto& c : cases) {
    auto r = reg(c.proof);
    EXPECT_EQ(CodeOf(r), Code::kBadSignature) << c.name << ": " << r.log();
    EXPECT_NE(r.log().find("device signature"), std::string::npos) << r.log();
    EXPECT_FALSE(LoadMeter(state_, "CH-1").has_value()) << c.name;
  }
  // No proof at all is malformed before execution.
  pb::TxBody body = MakeRegisterMeterWithProof(LoadAccount(state_, AddrOf(operator_)).nonce() + 1, "CH-1",
                                               dev.public_key(), Signature{}, pb::METER_KIND_CHARGER, "GD-SZ",
                                               AddrOf(alice_), 7000, 7000, 0);
  body.mutable_register_meter()->clear_device_signature();
  auto checked = CheckTxStateless(SignTx(operator_, kChainId, body), kChainId, params_, true);
  EXPECT_EQ(checked.status().code(), Code::kInvalidArgument);
  EXPECT_NE(checked.status().message().find("device_signature"), std::string::npos) << checked.status().message();
  // The right proof registers.
  auto r = reg(SignMeterKeyProof(dev, kChainId, "CH-1", AddrOf(alice_), AddrOf(operator_)));
  EXPECT_EQ(CodeOf(r), Code::kOk) << r.log();
  // A rotation needs the new device's proof, for the meter's current owner.
  pb::TxBody rot = Rotate("CH-1", Key(42));
  const Signature wrong = SignMeterKeyProof(Key(42), kChainId, "CH-1", AddrOf(bob_), AddrOf(operator_));
  rot.mutable_rotate_meter_key()->set_new_device_signature(std::string(wrong.begin(), wrong.end()));
  EXPECT_EQ(CodeOf(Run(operator_, rot)), Code::kBadSignature);
  EXPECT_EQ(LoadMeter(state_, "CH-1")->key_rotations(), 0u);
}

TEST_F(MetersTest, DeviceKeysAreNeverSharedOrReused) {
  Register("CH-1", 40);
  Register("CH-2", 41);
  // Another meter with CH-1's key.
  auto r = Run(operator_, MakeRegisterMeter(0, kChainId, AddrOf(operator_), "CH-3", Key(40), pb::METER_KIND_CHARGER,
                                            "GD-SZ", AddrOf(alice_), 7000, 7000, 0));
  EXPECT_EQ(CodeOf(r), Code::kAlreadyExists) << r.log();
  EXPECT_NE(r.log().find("CH-1"), std::string::npos) << r.log();
  // Rotating CH-2 to CH-1's key.
  EXPECT_EQ(CodeOf(Run(operator_, Rotate("CH-2", Key(40)))), Code::kAlreadyExists);
  // A key rotated away from, or of a deactivated meter, stays taken.
  ASSERT_EQ(CodeOf(Run(operator_, Rotate("CH-1", Key(50)))), Code::kOk);
  EXPECT_EQ(CodeOf(Run(operator_, Rotate("CH-2", Key(40)))), Code::kAlreadyExists);
  ASSERT_EQ(CodeOf(Run(operator_, MakeDeactivateMeter(0, "CH-2"))), Code::kOk);
  EXPECT_EQ(CodeOf(Run(operator_, MakeRegisterMeter(0, kChainId, AddrOf(operator_), "CH-4", Key(41),
                                                    pb::METER_KIND_CHARGER, "GD-SZ", AddrOf(alice_), 7000, 7000, 0))),
            Code::kAlreadyExists);
  const PublicKey pk50 = Key(50).public_key();
  EXPECT_EQ(LoadMeter(state_, "CH-1")->device_pubkey(), std::string(pk50.begin(), pk50.end()));
}

TEST_F(MetersTest, DeactivateByOperatorOnly) {
  Register("CH-1", 40);
  EXPECT_EQ(CodeOf(Run(mallory_, MakeDeactivateMeter(0, "CH-1"))), Code::kUnauthorized);
  EXPECT_EQ(CodeOf(Run(alice_, MakeDeactivateMeter(0, "CH-1"))), Code::kUnauthorized);
  EXPECT_TRUE(LoadMeter(state_, "CH-1")->active());
  EXPECT_EQ(CodeOf(Run(operator_, MakeDeactivateMeter(0, "CH-1"))), Code::kOk);
  auto m = LoadMeter(state_, "CH-1");
  EXPECT_FALSE(m->active());
  EXPECT_EQ(m->deactivated_height(), ctx_.height);
  // Deactivation is final: no second time, no rotation, no transfer, no re-registration of the id.
  EXPECT_EQ(CodeOf(Run(operator_, MakeDeactivateMeter(0, "CH-1"))), Code::kMeterDeactivated);
  EXPECT_EQ(CodeOf(Run(operator_, Rotate("CH-1", Key(51)))), Code::kMeterDeactivated);
  EXPECT_EQ(CodeOf(Run(operator_, MakeRegisterMeter(0, kChainId, AddrOf(operator_), "CH-1", Key(51), pb::METER_KIND_CHARGER, "GD-SZ",
                                                    AddrOf(alice_), 7000, 0, 0))),
            Code::kAlreadyExists);
  EXPECT_EQ(CodeOf(Run(operator_, MakeDeactivateMeter(0, "NOPE"))), Code::kMeterUnregistered);
}

// ------------------------------------------------------------------------------ readings

TEST_F(ReadingRulesTest, AcceptedReadingsAttestEnergyInTheirInterval) {
  // The baseline (seq 1) attests nothing; seq 2 attests its register delta.
  auto iv = Interval("CH-1", kT0);
  EXPECT_EQ(iv.import_wh(), 1000);
  EXPECT_EQ(iv.export_wh(), 0);
  EXPECT_EQ(iv.readings(), 1u);
  auto m = LoadMeter(state_, "CH-1");
  EXPECT_EQ(m->readings_accepted(), 2u);
  EXPECT_EQ(m->last_reading().import_wh_total(), 2000);
  EXPECT_EQ(m->last_reading().interval_end_s(), kT0 + 900);
  ExpectConserved();
}

TEST_F(ReadingRulesTest, ForgedSignatureIsRejected) {
  pb::MeterReading r = Reading("CH-1", 3, kT0 + 900, kT0 + 1800, 2100, 0);
  SignReading(mallory_, kChainId, r);  // someone else's key
  ExpectReadingRejected(r, Code::kReadingBadSignature);
  // A field changed after signing.
  r = Reading("CH-1", 3, kT0 + 900, kT0 + 1800, 2100, 0);
  r.set_import_wh_total(2500);
  ExpectReadingRejected(r, Code::kReadingBadSignature);
  // Signed by the right device for another chain.
  r = Reading("CH-1", 3, kT0 + 900, kT0 + 1800, 2100, 0);
  SignReading(devices_.at("CH-1"), "v2g-other-chain", r);
  ExpectReadingRejected(r, Code::kReadingBadSignature);
  // No signature at all.
  r.clear_signature();
  ExpectReadingRejected(r, Code::kReadingBadSignature);
}

TEST_F(ReadingRulesTest, ReplayedReadingIsRejected) {
  ExpectReadingRejected(Reading("CH-1", 2, kT0 + 300, kT0 + 900, 2000, 0), Code::kReadingReplayed);
  ExpectReadingRejected(Reading("CH-1", 1, kT0 + 900, kT0 + 1000, 2000, 0), Code::kReadingReplayed);
  ExpectReadingRejected(Reading("CH-1", 0, kT0 + 900, kT0 + 1000, 2000, 0), Code::kReadingReplayed);
  EXPECT_EQ(Interval("CH-1", kT0).import_wh(), 1000) << "a replay must not count twice";
}

TEST_F(ReadingRulesTest, SkippedSeqIsRejected) {
  ExpectReadingRejected(Reading("CH-1", 4, kT0 + 900, kT0 + 1800, 2100, 0), Code::kReadingSeqGap);
}

TEST_F(ReadingRulesTest, CounterRollbackIsRejected) {
  ExpectReadingRejected(Reading("CH-1", 3, kT0 + 900, kT0 + 1800, 1999, 0), Code::kReadingRegisterDecreased);
  ExpectReadingRejected(Reading("CH-1", 3, kT0 + 900, kT0 + 1800, 0, 0), Code::kReadingRegisterDecreased);
}

TEST_F(ReadingRulesTest, OverlappingIntervalIsRejected) {
  // Starts before the last reading ended (kT0 + 900).
  ExpectReadingRejected(Reading("CH-1", 3, kT0 + 850, kT0 + 900, 2100, 0), Code::kReadingOverlap);
  ExpectReadingRejected(Reading("CH-1", 3, kT0 + 899, kT0 + 900, 2100, 0), Code::kReadingOverlap);
  ExpectReadingRejected(Reading("CH-1", 3, kT0 + 300, kT0 + 600, 2100, 0), Code::kReadingOverlap);
}

TEST_F(ReadingRulesTest, EmptyOrBackwardsIntervalIsRejected) {
  ExpectReadingRejected(Reading("CH-1", 3, kT0 + 1000, kT0 + 1000, 2100, 0), Code::kReadingIntervalInvalid);
  ExpectReadingRejected(Reading("CH-1", 3, kT0 + 1000, kT0 + 950, 2100, 0), Code::kReadingIntervalInvalid);
  ExpectReadingRejected(Reading("CH-1", 3, -5, 10, 2100, 0), Code::kReadingIntervalInvalid);
}

TEST_F(ReadingRulesTest, IntervalAcrossASettlementBoundaryIsRejected) {
  ExpectReadingRejected(Reading("CH-1", 3, kT0 + 900, kT0 + 1801, 2100, 0), Code::kReadingCrossesBoundary);
  ExpectReadingRejected(Reading("CH-1", 3, kT0 + 1700, kT0 + 1900, 2100, 0), Code::kReadingCrossesBoundary);
  // Ending exactly on the boundary is inside (the end is exclusive).
  auto r = Submit({Reading("CH-1", 3, kT0 + 900, kT0 + 1800, 2100, 0)});
  EXPECT_EQ(r.rejected_readings_size(), 0);
}

TEST_F(ReadingRulesTest, FutureIntervalIsRejected) {
  auto_time_ = false;
  const int64_t now_s = ctx_.time_ms / 1000;
  const int64_t skew = params_.reading_future_skew_s();
  ASSERT_EQ(now_s % 900, 0);
  // Ends beyond block time + skew.
  ExpectReadingRejected(Reading("CH-1", 3, now_s, now_s + skew + 1, 2100, 0), Code::kReadingInFuture);
  // Within the skew is fine (block time lags the validators' clocks, meters drift).
  auto r = Submit({Reading("CH-1", 3, now_s, now_s + skew, 2100, 0)});
  EXPECT_EQ(r.rejected_readings_size(), 0) << (r.rejected_readings_size() ? r.rejected_readings(0).message() : "");
}

TEST_F(ReadingRulesTest, ImpossibleEnergyIsRejected) {
  // 7 kW for 900 s is 1750 Wh; with 2 % and 10 Wh tolerance the limit is 1795 Wh.
  const int64_t limit = int64_t{7000} * 900 * 1020 / 3600000 + 10;
  ASSERT_EQ(limit, 1795);
  ExpectReadingRejected(Reading("CH-1", 3, kT0 + 900, kT0 + 1800, 2000 + limit + 1, 0), Code::kReadingEnergyImpossible);
  ExpectReadingRejected(Reading("CH-1", 3, kT0 + 900, kT0 + 1800, 2000, limit + 1), Code::kReadingEnergyImpossible);
  auto r = Submit({Reading("CH-1", 3, kT0 + 900, kT0 + 1800, 2000 + limit, limit)});
  EXPECT_EQ(r.rejected_readings_size(), 0) << "exactly at the limit is allowed";
  EXPECT_EQ(Interval("CH-1", kT0 + 900).import_wh(), limit);
  EXPECT_EQ(Interval("CH-1", kT0 + 900).export_wh(), limit);
}

TEST_F(ReadingRulesTest, UnregisteredMeterIsRejected) {
  ExpectReadingRejected(Reading("CH-404", 1, kT0, kT0 + 900, 0, 0), Code::kMeterUnregistered);
  pb::MeterReading bad_id = Reading("CH-1", 3, kT0 + 900, kT0 + 1800, 2100, 0);
  bad_id.set_meter_id("bad/id");
  ExpectReadingRejected(bad_id, Code::kMeterUnregistered);
}

TEST_F(ReadingRulesTest, DeactivatedMeterIsRejected) {
  ASSERT_EQ(CodeOf(Run(operator_, MakeDeactivateMeter(0, "CH-1"))), Code::kOk);
  ExpectReadingRejected(Reading("CH-1", 3, kT0 + 900, kT0 + 1800, 2100, 0), Code::kMeterDeactivated);
}

TEST_F(ReadingRulesTest, OutOfRangeStateOfChargeOrHealthIsRejected) {
  ExpectReadingRejected(Reading("CH-1", 3, kT0 + 900, kT0 + 1800, 2100, 0, 1001, 900), Code::kReadingOutOfRange);
  ExpectReadingRejected(Reading("CH-1", 3, kT0 + 900, kT0 + 1800, 2100, 0, -1, 900), Code::kReadingOutOfRange);
  ExpectReadingRejected(Reading("CH-1", 3, kT0 + 900, kT0 + 1800, 2100, 0, 500, 1001), Code::kReadingOutOfRange);
  ExpectReadingRejected(Reading("CH-1", 3, kT0 + 900, kT0 + 1800, -1, 0), Code::kReadingOutOfRange);
  // The bounds themselves are valid.
  EXPECT_EQ(Submit({Reading("CH-1", 3, kT0 + 900, kT0 + 1800, 2100, 0, 1000, 0)}).rejected_readings_size(), 0);
}

TEST_F(ReadingRulesTest, GapEnergyIsAttributedOnlyWhenTheSpanIsInOneInterval) {
  // Gap inside one interval: last ended kT0+900, this covers [kT0+1200, kT0+1800): the delta's
  // span [kT0+900, kT0+1800) is one interval, so it is attested there.
  ASSERT_EQ(Submit({Reading("CH-1", 3, kT0 + 1200, kT0 + 1800, 2500, 0)}).rejected_readings_size(), 0);
  EXPECT_EQ(Interval("CH-1", kT0 + 900).import_wh(), 500);
  // Gap across boundaries: [kT0+1800, kT0+3600) unmetered, then [kT0+3600, kT0+3700). The delta
  // may have flowed in any of three intervals: none of them gets it.
  ASSERT_EQ(Submit({Reading("CH-1", 4, kT0 + 3600, kT0 + 3700, 3000, 0)}).rejected_readings_size(), 0);
  EXPECT_FALSE(LoadMeterInterval(state_, "CH-1", kT0 + 3600).has_value());
  EXPECT_FALSE(LoadMeterInterval(state_, "CH-1", kT0 + 1800).has_value());
  EXPECT_EQ(LoadMeter(state_, "CH-1")->unattributed_import_wh(), 500);
  // The power limit still holds over the whole span: 1900 s at 7 kW is ~3.8 kWh.
  ExpectReadingRejected(Reading("CH-1", 5, kT0 + 5400, kT0 + 5500, 3000 + 7000, 0), Code::kReadingEnergyImpossible);
}

// The per-reading tolerance (2 % + 10 Wh) counts once per interval, not once per reading: 1-second
// readings could otherwise attest many times the meter's power.
TEST_F(MetersTest, OneSecondReadingsCannotAttestMoreThanTheIntervalAllows) {
  Register("CH-9", 40, pb::METER_KIND_CHARGER, 3600, 3600);  // 3.6 kW: 1 Wh per second
  // Baseline at T0+1, then one reading a second, each claiming 11 Wh: inside the per-reading
  // limit (1 Wh x 1.02 + 10 Wh tolerance = 11 Wh), far past 1 Wh/s over the interval.
  std::vector<pb::MeterReading> batch{Reading("CH-9", 1, kT0, kT0 + 1, 0, 0)};
  for (int i = 1; i <= 60; ++i) {
    batch.push_back(Reading("CH-9", static_cast<uint64_t>(i + 1), kT0 + i, kT0 + i + 1, 0, 11 * i));
  }
  auto r = Submit(batch);
  // Interval limit at the reading ending at T0+e: floor(3600 x e x 1.02 / 3600) + 10 = floor(1.02 e) + 10.
  // 11 i <= floor(1.02 (i + 1)) + 10 holds only for i = 1 (11 <= 12): every later reading is refused
  // (each then breaks the seq rule or the bound, never attesting).
  int64_t attested = Interval("CH-9", kT0).export_wh();
  EXPECT_LE(attested, 3600 * 61 * 1020 / 3600000 + 10);
  EXPECT_EQ(attested, 11);
  ASSERT_GE(r.rejected_readings_size(), 1);
  EXPECT_EQ(static_cast<Code>(r.rejected_readings(0).code()), Code::kReadingEnergyImpossible)
      << r.rejected_readings(0).message();
  EXPECT_NE(r.rejected_readings(0).message().find("interval"), std::string::npos);
  // Honest 1-second readings (1 Wh each) all count.
  Register("CH-10", 41, pb::METER_KIND_CHARGER, 3600, 3600);
  batch = {Reading("CH-10", 1, kT0 + 900, kT0 + 901, 0, 0)};
  for (int i = 1; i <= 60; ++i) {
    batch.push_back(Reading("CH-10", static_cast<uint64_t>(i + 1), kT0 + 900 + i, kT0 + 901 + i, 0, i));
  }
  r = Submit(batch);
  EXPECT_EQ(r.rejected_readings_size(), 0) << r.rejected_readings(0).message();
  EXPECT_EQ(Interval("CH-10", kT0 + 900).export_wh(), 60);
}

// The bound runs from the first span attributed to the interval, not from the interval's start:
// a meter silent until late in the interval cannot pack the whole interval's allowance into its
// last seconds.
TEST_F(MetersTest, ALateStartCannotClaimTheWholeIntervalsAllowance) {
  Register("CH-9", 40, pb::METER_KIND_CHARGER, 3600, 3600);  // 1 Wh per second
  std::vector<pb::MeterReading> batch{Reading("CH-9", 1, kT0 + 800, kT0 + 801, 0, 0)};
  for (int i = 1; i <= 90; ++i) {
    batch.push_back(Reading("CH-9", static_cast<uint64_t>(i + 1), kT0 + 800 + i, kT0 + 801 + i, 0, 11 * i));
  }
  Submit(batch);
  // From T0+801 on, at most floor(1.02 x span) + 10 Wh: the first 11 Wh reading only.
  EXPECT_EQ(Interval("CH-9", kT0).export_wh(), 11);
  EXPECT_EQ(Interval("CH-9", kT0).span_start_s(), kT0 + 801);
}

TEST_F(MetersTest, ReadingBeforeRegistrationIsRejected) {
  ctx_.time_ms = (kT0 + 900) * 1000 + 1;  // registered 1 ms after an interval began
  Register("CH-1", 40);
  ExpectReadingRejected(Reading("CH-1", 1, kT0 + 900, kT0 + 1000, 0, 0), Code::kReadingBeforeRegistration);
  ExpectReadingRejected(Reading("CH-1", 1, kT0, kT0 + 300, 0, 0), Code::kReadingBeforeRegistration);
  // The first whole second after registration is fine.
  auto r = Submit({Reading("CH-1", 1, kT0 + 901, kT0 + 1000, 0, 0)});
  EXPECT_EQ(r.rejected_readings_size(), 0) << r.rejected_readings(0).message();
}

// A reading for interval I counts only before the block that settles I (I + 900 s + grace):
// after that the market and grid results of I are final, and a late reading could also reshape
// a prior-days baseline.
TEST_F(MetersTest, ReadingForASettledIntervalIsRejected) {
  Register("CH-1", 40);
  ASSERT_EQ(Submit({Reading("CH-1", 1, kT0, kT0 + 10, 0, 0)}).rejected_readings_size(), 0);
  auto_time_ = false;
  const int64_t settles_s = kT0 + 900 + params_.market_grace_s();
  // Backfilling interval T0 in the block that settles it (or later) is refused.
  ctx_.time_ms = settles_s * 1000;
  ExpectReadingRejected(Reading("CH-1", 2, kT0 + 10, kT0 + 900, 1000, 0), Code::kReadingIntervalSettled);
  ctx_.time_ms = (settles_s + 5 * kDay) * 1000;
  ExpectReadingRejected(Reading("CH-1", 2, kT0 + 10, kT0 + 900, 1000, 0), Code::kReadingIntervalSettled);
  EXPECT_EQ(Interval("CH-1", kT0).readings(), 0u);
  // One millisecond earlier it still counts.
  ctx_.time_ms = settles_s * 1000 - 1;
  auto r = Submit({Reading("CH-1", 2, kT0 + 10, kT0 + 900, 1000, 0)});
  EXPECT_EQ(r.rejected_readings_size(), 0) << r.rejected_readings(0).message();
  EXPECT_EQ(Interval("CH-1", kT0).import_wh(), 1000);
}

// A forged reading is checked at mempool admission, at each re-check and in the block: its
// signature is verified once, its verdict remembered like a good one's.
TEST_F(ReadingRulesTest, AForgedReadingIsVerifiedOnlyOnce) {
  pb::MeterReading forged = Reading("CH-1", 3, kT0 + 900, kT0 + 1000, 2100, 0);
  SignReading(mallory_, kChainId, forged);
  auto meter = LoadMeter(state_, "CH-1");
  const uint64_t before = SigCacheVerifications();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(CheckReading(forged, meter, kChainId, params_, (kT0 + 1000) * 1000).code(), Code::kReadingBadSignature);
  }
  ExpectReadingRejected(forged, Code::kReadingBadSignature);
  // The reading once, and the one tx that carried it (its signature goes through the cache too).
  EXPECT_EQ(SigCacheVerifications(), before + 2);
}

// ------------------------------------------------------------------------------ batches

TEST_F(MetersTest, BatchMixingGoodAndBadReadingsFromSeveralMeters) {
  Register("CH-1", 40);
  Register("CH-2", 41);
  Register("EV-1", 42, pb::METER_KIND_VEHICLE, 11000, 11000, 60000);
  Register("CH-OFF", 43);
  ASSERT_EQ(CodeOf(Run(operator_, MakeDeactivateMeter(0, "CH-OFF"))), Code::kOk);
  pb::MeterReading forged = Reading("CH-2", 2, kT0 + 900, kT0 + 1800, 600, 0);
  SignReading(mallory_, kChainId, forged);
  std::vector<pb::MeterReading> batch = {
      Reading("CH-1", 1, kT0, kT0 + 900, 100, 0),                 // 0 ok (baseline)
      Reading("CH-2", 1, kT0, kT0 + 900, 500, 0),                 // 1 ok (baseline)
      Reading("CH-1", 3, kT0 + 900, kT0 + 1800, 200, 0),          // 2 seq gap
      Reading("CH-1", 2, kT0 + 900, kT0 + 1800, 300, 0),          // 3 ok: +200
      forged,                                                      // 4 bad signature
      Reading("CH-2", 2, kT0 + 900, kT0 + 1800, 400, 0),          // 5 register decreased
      Reading("EV-1", 1, kT0, kT0 + 900, 0, 0, 800, 990),         // 6 ok (baseline)
      Reading("EV-1", 2, kT0 + 900, kT0 + 1800, 0, 2000, 700, 990),  // 7 ok: 2 kWh V2G export
      Reading("CH-OFF", 1, kT0, kT0 + 900, 0, 0),                 // 8 deactivated
      Reading("NOPE", 1, kT0, kT0 + 900, 0, 0),                   // 9 unregistered
      Reading("CH-1", 3, kT0 + 1800, kT0 + 2700, 400, 0),         // 10 ok: +100, after a rejection
      Reading("CH-2", 2, kT0 + 900, kT0 + 1800, 600, 0),          // 11 ok: the honest CH-2 reading
  };
  pb::TxResult r = Submit(batch, &operator_);
  ASSERT_EQ(CodeOf(r), Code::kOk) << r.log();
  EXPECT_EQ(r.log(), "7 of 12 readings accepted");
  std::vector<std::pair<uint32_t, Code>> want = {{2, Code::kReadingSeqGap},
                                                 {4, Code::kReadingBadSignature},
                                                 {5, Code::kReadingRegisterDecreased},
                                                 {8, Code::kMeterDeactivated},
                                                 {9, Code::kMeterUnregistered}};
  ASSERT_EQ(r.rejected_readings_size(), static_cast<int>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(r.rejected_readings(static_cast<int>(i)).index(), want[i].first);
    EXPECT_EQ(static_cast<Code>(r.rejected_readings(static_cast<int>(i)).code()), want[i].second)
        << r.rejected_readings(static_cast<int>(i)).message();
  }
  EXPECT_EQ(LastSeq("CH-1"), 3);
  EXPECT_EQ(LastSeq("CH-2"), 2);
  EXPECT_EQ(LastSeq("EV-1"), 2);
  EXPECT_EQ(Interval("CH-1", kT0 + 900).import_wh(), 200);
  EXPECT_EQ(Interval("CH-1", kT0 + 1800).import_wh(), 100);
  EXPECT_EQ(Interval("CH-2", kT0 + 900).import_wh(), 100);
  EXPECT_EQ(Interval("EV-1", kT0 + 900).export_wh(), 2000);
  EXPECT_FALSE(LoadMeterInterval(state_, "CH-1", kT0).has_value()) << "baselines attest nothing";
  EXPECT_FALSE(LoadMeter(state_, "CH-OFF")->has_last_reading());
  ExpectConserved();
}

TEST_F(MetersTest, BatchSizeIsBounded) {
  Register("CH-1", 40);
  pb::TxBody empty = MakeSubmitReadings(1, {});
  auto c = CheckTxStateless(SignTx(bob_, kChainId, empty), kChainId, params_, true);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
  // With the largest tx a genesis may allow, the count limit is what stops the batch.
  pb::ParamsRecord big = params_;
  big.set_tx_bytes_max(limits::kTxBytesCeiling);
  std::vector<pb::MeterReading> many(limits::kReadingsPerTxMax + 1, Reading("CH-1", 1, kT0, kT0 + 1, 0, 0));
  c = CheckTxStateless(SignTx(bob_, kChainId, MakeSubmitReadings(1, many)), kChainId, big, true);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kTooLarge) << c.status().ToString();
  EXPECT_NE(c.status().message().find("readings, limit"), std::string::npos) << c.status().ToString();
  many.pop_back();
  c = CheckTxStateless(SignTx(bob_, kChainId, MakeSubmitReadings(1, many)), kChainId, big, true);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
}

TEST_F(MetersTest, FailedSubmitReportsNoReadings) {
  Register("CH-1", 40);
  // A nonce gap fails the whole tx: nothing applies and the result lists no readings.
  pb::TxBody body = MakeSubmitReadings(LoadAccount(state_, AddrOf(bob_)).nonce() + 2, {Reading("CH-1", 1, kT0, kT0 + 900, 0, 0)});
  auto r = RunBytes(SignTx(bob_, kChainId, body));
  EXPECT_EQ(CodeOf(r), Code::kNonceGap);
  EXPECT_EQ(r.rejected_readings_size(), 0);
  EXPECT_FALSE(LoadMeter(state_, "CH-1")->has_last_reading());
}

TEST_F(MetersTest, MetersDisabledWithoutSettlementInterval) {
  pb::ParamsRecord p = LoadParams(state_);
  p.set_settlement_interval_s(0);  // a chain whose genesis predates meters
  state_.Put(kParamsKey, Encode(p));
  Register("CH-1", 40);
  auto r = Submit({Reading("CH-1", 1, kT0, kT0 + 900, 0, 0)});
  EXPECT_EQ(CodeOf(r), Code::kInvalidArgument) << r.log();
}

// ------------------------------------------------------------------------------ battery

TEST_F(MetersTest, BatteryThroughputCyclesAndDailyHistory) {
  Register("EV-1", 42, pb::METER_KIND_VEHICLE, 11000, 11000, 60000);
  // Day 0: baseline, then two readings (2 kWh each exported).
  ASSERT_EQ(Submit({Reading("EV-1", 1, kT0, kT0 + 900, 5000, 1000, 800, 990),
                    Reading("EV-1", 2, kT0 + 900, kT0 + 1800, 5000, 3000, 770, 990),
                    Reading("EV-1", 3, kT0 + 1800, kT0 + 2700, 6000, 5000, 750, 989)})
                .rejected_readings_size(),
            0);
  auto b = LoadBattery(state_, "EV-1");
  EXPECT_EQ(b->export_wh(), 4000);
  EXPECT_EQ(b->import_wh(), 1000);
  EXPECT_EQ(b->cycles_milli(), 4000 * 1000 / 60000);  // 66 milli-cycles, rounded down
  EXPECT_EQ(b->last_soc_permille(), 750);
  EXPECT_EQ(b->last_soh_permille(), 989);
  auto h = LoadBatteryHistory(state_, "EV-1");
  ASSERT_EQ(h.samples_size(), 1) << "one sample per day";
  EXPECT_EQ(h.samples(0).day(), kT0 / kDay);
  EXPECT_EQ(h.samples(0).soh_permille(), 990) << "the day's first reading";
  // Next day: a new sample.
  ASSERT_EQ(Submit({Reading("EV-1", 4, kT0 + kDay, kT0 + kDay + 900, 6000, 5000, 750, 985)}).rejected_readings_size(), 0);
  h = LoadBatteryHistory(state_, "EV-1");
  ASSERT_EQ(h.samples_size(), 2);
  EXPECT_EQ(h.samples(1).day(), kT0 / kDay + 1);
  EXPECT_EQ(h.samples(1).soh_permille(), 985);
  EXPECT_EQ(h.samples(1).export_wh(), 4000);
  EXPECT_EQ(h.samples(1).cycles_milli(), 66);
}

TEST_F(MetersTest, BatteryHistoryIsBounded) {
  Register("EV-1", 42, pb::METER_KIND_VEHICLE, 11000, 11000, 60000);
  const int64_t days = limits::kBatterySamplesMax + 5;
  int64_t exp = 0;
  for (int64_t d = 0; d < days; ++d) {  // one reading a day, each in a block as it ends
    auto r = Submit({Reading("EV-1", static_cast<uint64_t>(d + 1), kT0 + d * kDay, kT0 + d * kDay + 900, 0, exp, 500,
                             static_cast<int32_t>(1000 - d / 10))});
    ASSERT_EQ(r.rejected_readings_size(), 0) << r.rejected_readings(0).message();
    exp += 30000;  // one half cycle a day, well within 11 kW over a day-long span
  }
  auto h = LoadBatteryHistory(state_, "EV-1");
  ASSERT_EQ(h.samples_size(), limits::kBatterySamplesMax);
  EXPECT_EQ(h.samples(0).day(), kT0 / kDay + 5) << "the oldest samples dropped off";
  EXPECT_EQ(h.samples(h.samples_size() - 1).day(), kT0 / kDay + days - 1);
  for (int i = 1; i < h.samples_size(); ++i) EXPECT_LT(h.samples(i - 1).day(), h.samples(i).day());
  auto b = LoadBattery(state_, "EV-1");
  EXPECT_EQ(b->export_wh(), (days - 1) * 30000);
  EXPECT_EQ(b->cycles_milli(), (days - 1) * 30000 * 1000 / 60000);
  // Gap spans cross interval boundaries: all of it is unattributed, none attested per interval.
  EXPECT_EQ(LoadMeter(state_, "EV-1")->unattributed_export_wh(), (days - 1) * 30000);
}

// ------------------------------------------------------------------------------ invariants

TEST_F(MetersTest, MeterActivityLeavesBalancesAndSupplyAlone) {
  const int64_t alice_before = BalanceOf(LoadAccount(state_, AddrOf(alice_)), "CNY");
  const int64_t minted = LoadSupply(state_, "CNY").minted();
  Register("CH-1", 40);
  Register("EV-1", 42, pb::METER_KIND_VEHICLE, 11000, 11000, 60000);
  ASSERT_EQ(Submit({Reading("CH-1", 1, kT0, kT0 + 900, 0, 0), Reading("EV-1", 1, kT0, kT0 + 900, 0, 0),
                    Reading("CH-1", 2, kT0 + 900, kT0 + 1800, 1500, 0)})
                .rejected_readings_size(),
            0);
  ASSERT_EQ(CodeOf(Run(operator_, MakeDeactivateMeter(0, "EV-1"))), Code::kOk);
  EXPECT_EQ(BalanceOf(LoadAccount(state_, AddrOf(alice_)), "CNY"), alice_before);
  EXPECT_EQ(LoadSupply(state_, "CNY").minted(), minted);
  ExpectConserved();
}

TEST_F(MetersTest, SubmitReadingsCanPayAFee) {
  Register("CH-1", 40);
  ctx_.time_ms = std::max(ctx_.time_ms, (kT0 + 900) * 1000);
  pb::TxBody body = MakeSubmitReadings(0, {Reading("CH-1", 1, kT0 + 1, kT0 + 900, 0, 0)});
  body.mutable_fee()->set_denom("CNY");
  body.mutable_fee()->set_amount(5);
  const int64_t op = BalanceOf(LoadAccount(state_, AddrOf(operator_)), "CNY");
  const int64_t burned = LoadSupply(state_, "CNY").burned();
  auto r = Run(operator_, body);
  ASSERT_EQ(CodeOf(r), Code::kOk) << r.log();
  EXPECT_EQ(BalanceOf(LoadAccount(state_, AddrOf(operator_)), "CNY"), op - 5);
  EXPECT_EQ(LoadSupply(state_, "CNY").burned(), burned + 5);  // burned, not paid to the proposer
  EXPECT_EQ(BalanceOf(LoadAccount(state_, AddrOf(validator_)), "CNY"), 0);
  ExpectConserved();
}

// ------------------------------------------------------------------------------ corroboration

// CH-1 (charger) and EV-1 (vehicle) in GD-SZ, each with a baseline reading ending at T0 + 300.
class CorroborationTest : public MetersTest {
 protected:
  void SetUp() override {
    MetersTest::SetUp();
    Register("CH-1", 40, pb::METER_KIND_CHARGER, 7000, 7000);
    Register("EV-1", 41, pb::METER_KIND_VEHICLE, 7000, 7000);
    auto r = Submit({Reading("CH-1", 1, kT0, kT0 + 300, 0, 0), Reading("EV-1", 1, kT0, kT0 + 300, 0, 0)});
    ASSERT_EQ(r.rejected_readings_size(), 0) << r.rejected_readings(0).message();
  }
};

TEST_F(CorroborationTest, ChargerReadingNamingAVehicleLendsItsEnergyToIt) {
  // The charger's reading comes first: EV-1's record for T0 is created by it, own span unset.
  auto r = Submit({Reading("CH-1", 2, kT0 + 300, kT0 + 600, 100, 400, 500, 980, "EV-1")});
  ASSERT_EQ(r.rejected_readings_size(), 0) << r.rejected_readings(0).message();
  EXPECT_EQ(Interval("CH-1", kT0).export_wh(), 400);
  EXPECT_EQ(Interval("CH-1", kT0).lent_export_wh(), 400);
  EXPECT_EQ(Interval("CH-1", kT0).lent_import_wh(), 100);
  const pb::MeterIntervalRecord ev = Interval("EV-1", kT0);
  EXPECT_EQ(ev.corroborated_export_wh(), 400);
  EXPECT_EQ(ev.corroborated_import_wh(), 100);
  EXPECT_EQ(ev.export_wh(), 0);
  EXPECT_EQ(ev.readings(), 0u);
  // EV-1's own bound (rule 15) still runs from its own first span (T0 + 300), not from 0: two
  // 1-second readings of 11 Wh each pass the per-reading bound (1 + 10 Wh) but not, together,
  // the interval's (3 + 10 Wh in 2 s).
  r = Submit({Reading("EV-1", 2, kT0 + 300, kT0 + 301, 0, 11)});
  ASSERT_EQ(r.rejected_readings_size(), 0) << r.rejected_readings(0).message();
  ExpectReadingRejected(Reading("EV-1", 3, kT0 + 301, kT0 + 302, 0, 22), Code::kReadingEnergyImpossible);
  EXPECT_EQ(Interval("EV-1", kT0).span_start_s(), kT0 + 300);
  EXPECT_EQ(Interval("EV-1", kT0).export_wh(), 11);
  EXPECT_EQ(Interval("EV-1", kT0).corroborated_export_wh(), 400);
  r = Submit({Reading("EV-1", 3, kT0 + 301, kT0 + 600, 0, 590)});
  ASSERT_EQ(r.rejected_readings_size(), 0) << r.rejected_readings(0).message();
  // What earns money: the vehicle up to the charger; the charger nothing it lent.
  const auto ch = LoadMeter(state_, "CH-1"), v = LoadMeter(state_, "EV-1");
  const auto ch_rec = Interval("CH-1", kT0), v_rec = Interval("EV-1", kT0);
  EXPECT_EQ(PayableExportWh(*v, &v_rec), 400);
  EXPECT_EQ(PayableExportWh(*ch, &ch_rec), 0);
  EXPECT_EQ(PayableImportWh(*v, &v_rec), 0);    // min(0 own, 100 charger)
  EXPECT_EQ(BillableImportWh(*v, &v_rec), 100);  // max: under-reporting its own import bills the charger's
  EXPECT_EQ(BillableImportWh(*ch, &ch_rec), 0);  // billed once, through the vehicle
  // A charger reading naming nobody is the charger's own.
  r = Submit({Reading("CH-1", 3, kT0 + 600, kT0 + 900, 100, 700)});
  ASSERT_EQ(r.rejected_readings_size(), 0) << r.rejected_readings(0).message();
  const auto ch_rec2 = Interval("CH-1", kT0);
  EXPECT_EQ(PayableExportWh(*ch, &ch_rec2), 300);
  EXPECT_EQ(Interval("EV-1", kT0).corroborated_export_wh(), 400);
  ExpectConserved();
}

TEST_F(CorroborationTest, BaselineAndUnattributedChargerReadingsLendNothing) {
  Register("CH-2", 42);
  // CH-2's first reading is its baseline: it attests nothing, so it lends nothing.
  auto r = Submit({Reading("CH-2", 1, kT0 + 300, kT0 + 600, 500, 500, 500, 980, "EV-1")});
  ASSERT_EQ(r.rejected_readings_size(), 0) << r.rejected_readings(0).message();
  EXPECT_FALSE(LoadMeterInterval(state_, "EV-1", kT0).has_value());
  // A span across a boundary is unattributed: no interval, no lending.
  r = Submit({Reading("CH-2", 2, kT0 + 900, kT0 + 1200, 600, 600, 500, 980, "EV-1")});
  ASSERT_EQ(r.rejected_readings_size(), 0) << r.rejected_readings(0).message();
  EXPECT_FALSE(LoadMeterInterval(state_, "EV-1", kT0 + 900).has_value());
  EXPECT_EQ(LoadMeter(state_, "CH-2")->unattributed_export_wh(), 100);
}

TEST_F(CorroborationTest, PluggedMeterMustBeAnActiveVehicleInTheSameZone) {
  Register("CH-2", 42);
  Register("EV-GZ", 43, pb::METER_KIND_VEHICLE, 7000, 7000, 0, "GD-GZ");
  Register("EV-OFF", 44, pb::METER_KIND_VEHICLE);
  ASSERT_EQ(CodeOf(Run(operator_, MakeDeactivateMeter(0, "EV-OFF"))), Code::kOk);
  const int64_t s = kT0 + 300, e = kT0 + 600;
  // A vehicle's own reading cannot name anyone (its owner holds the key).
  ExpectReadingRejected(Reading("EV-1", 2, s, e, 0, 100, 500, 980, "EV-GZ"), Code::kReadingPluggedMeterInvalid);
  ExpectReadingRejected(Reading("CH-1", 2, s, e, 0, 100, 500, 980, "EV-NONE"), Code::kReadingPluggedMeterInvalid);
  ExpectReadingRejected(Reading("CH-1", 2, s, e, 0, 100, 500, 980, "EV-OFF"), Code::kReadingPluggedMeterInvalid);
  ExpectReadingRejected(Reading("CH-1", 2, s, e, 0, 100, 500, 980, "CH-2"), Code::kReadingPluggedMeterInvalid);
  ExpectReadingRejected(Reading("CH-1", 2, s, e, 0, 100, 500, 980, "EV-GZ"), Code::kReadingPluggedMeterInvalid);
  ExpectReadingRejected(Reading("CH-1", 2, s, e, 0, 100, 500, 980, "no/such"), Code::kReadingPluggedMeterInvalid);
  // A site meter measures a whole connection: it cannot lend all of it to one car.
  Register("SITE-1", 45, pb::METER_KIND_SITE);
  const int64_t t = ctx_.time_ms / 1000 + 1;
  ExpectReadingRejected(Reading("SITE-1", 1, t, t + 1, 0, 100, 500, 980, "EV-1"), Code::kReadingPluggedMeterInvalid);
  // The id is signed: changing it after signing breaks the signature.
  pb::MeterReading moved = Reading("CH-1", 2, s, e, 0, 100, 500, 980, "EV-1");
  moved.set_plugged_meter_id("EV-OFF");
  ExpectReadingRejected(moved, Code::kReadingBadSignature);
  EXPECT_FALSE(LoadMeterInterval(state_, "EV-1", kT0).has_value());
  auto r = Submit({Reading("CH-1", 2, s, e, 0, 100, 500, 980, "EV-1")});
  ASSERT_EQ(r.rejected_readings_size(), 0) << r.rejected_readings(0).message();
  EXPECT_EQ(Interval("EV-1", kT0).corroborated_export_wh(), 100);
}

// ------------------------------------------------------------------------------ encodings

TEST(ReadingSignBytesTest, CoverEveryFieldAndTheChain) {
  pb::MeterReading r;
  r.set_meter_id("CH-1");
  r.set_seq(7);
  r.set_interval_start_s(kT0);
  r.set_interval_end_s(kT0 + 900);
  r.set_import_wh_total(10);
  r.set_export_wh_total(20);
  r.set_soc_permille(300);
  r.set_soh_permille(950);
  const std::string base = ReadingSignBytes("c1", ReadingFieldsOf(r));
  EXPECT_EQ(base.rfind("v2gledger/reading/v1", 0), 0u);
  EXPECT_NE(ReadingSignBytes("c2", ReadingFieldsOf(r)), base);
  std::vector<std::function<void(pb::MeterReading&)>> changes = {
      [](pb::MeterReading& m) { m.set_meter_id("CH-2"); },
      [](pb::MeterReading& m) { m.set_seq(8); },
      [](pb::MeterReading& m) { m.set_interval_start_s(kT0 + 1); },
      [](pb::MeterReading& m) { m.set_interval_end_s(kT0 + 899); },
      [](pb::MeterReading& m) { m.set_import_wh_total(11); },
      [](pb::MeterReading& m) { m.set_export_wh_total(21); },
      [](pb::MeterReading& m) { m.set_soc_permille(301); },
      [](pb::MeterReading& m) { m.set_soh_permille(951); },
      [](pb::MeterReading& m) { m.set_plugged_meter_id("EV-1"); },
      [](pb::MeterReading& m) { m.set_signature("x"); },  // not covered: the only exception
  };
  for (size_t i = 0; i < changes.size(); ++i) {
    pb::MeterReading m = r;
    changes[i](m);
    if (i + 1 == changes.size()) {
      EXPECT_EQ(ReadingSignBytes("c1", ReadingFieldsOf(m)), base);
    } else {
      EXPECT_NE(ReadingSignBytes("c1", ReadingFieldsOf(m)), base) << "change " << i;
    }
  }
  // Fixed layout: tag, 8+2 chain, 8+4 id, 7 integers of 8 bytes; nothing more without a plugged
  // meter, so readings signed before plugged_meter_id existed still verify.
  EXPECT_EQ(base.size(), std::string("v2gledger/reading/v1").size() + 10 + 12 + 56);
  // With one: the same bytes, then 0x01 || len (8 bytes) || id.
  pb::MeterReading plugged = r;
  plugged.set_plugged_meter_id("EV-1");
  const std::string with = ReadingSignBytes("c1", ReadingFieldsOf(plugged));
  EXPECT_EQ(with, base + std::string("\x01", 1) + std::string("\0\0\0\0\0\0\0\x04", 8) + "EV-1");
}

TEST(MeterGenesisParamsTest, DefaultsAndValidation) {
  GenesisParams p = DefaultParams();
  EXPECT_EQ(p.settlement_interval_s, 900);
  EXPECT_EQ(p.reading_future_skew_s, limits::kReadingFutureSkewSDefault);
  EXPECT_EQ(p.reading_energy_tolerance_permille, limits::kReadingEnergyTolerancePermilleDefault);
  EXPECT_EQ(p.reading_energy_tolerance_wh, limits::kReadingEnergyToleranceWhDefault);
  const std::string doc = R"({"chain_id": "c", "genesis_time": "2026-01-01T00:00:00Z",
    "validators": [{"name": "v", "address": "ADDR", "consensus_pubkey": "PK", "node_pubkey": "NK", "power": 1}],
    "denominations": [], "params": PARAMS})";
  InitCrypto();
  KeyPair k = Key(1);
  auto make = [&](const std::string& params) {
    std::string d = doc;
    d.replace(d.find("ADDR"), 4, EncodeAddress(AddrOf(k)));
    d.replace(d.find("PK"), 2, HexEncode(k.public_key()));
    d.replace(d.find("NK"), 2, HexEncode(Key(2).public_key()));
    d.replace(d.find("PARAMS"), 6, params);
    return ParseGenesis(d);
  };
  auto g = make(R"({"settlement_interval_s": 3600, "reading_future_skew_s": 5,
                    "reading_energy_tolerance_permille": 0, "reading_energy_tolerance_wh": 1})");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->params.settlement_interval_s, 3600);
  EXPECT_EQ(g->params.reading_future_skew_s, 5);
  EXPECT_EQ(g->params.reading_energy_tolerance_permille, 0);
  EXPECT_EQ(g->params.reading_energy_tolerance_wh, 1);
  // Round trip through JSON keeps them.
  auto back = ParseGenesis(GenesisToJson(*g));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->params.settlement_interval_s, 3600);
  EXPECT_EQ(back->params.reading_energy_tolerance_wh, 1);
  for (const char* bad : {R"({"settlement_interval_s": 1000})", R"({"settlement_interval_s": 5})",
                          R"({"settlement_interval_s": 172800})", R"({"reading_future_skew_s": -1})",
                          R"({"reading_energy_tolerance_permille": 1001})", R"({"reading_energy_tolerance_wh": -1})"}) {
    auto r = make(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("params."), std::string::npos) << r.status().ToString();
  }
  // InitChain stores them in the params record.
  MemKv base;
  Overlay st(&base);
  ASSERT_TRUE(InitChain(*g, st).ok());
  EXPECT_EQ(LoadParams(st).settlement_interval_s(), 3600);
  EXPECT_EQ(LoadParams(st).reading_future_skew_s(), 5);
}

// ------------------------------------------------------------------------------ OCMF meters

// A certified charger "OC-1" (serial "SN-1", 11 kW each way) that signs OCMF records with a P-256
// key, registered at T0. Records are built from (unix ms, register, kWh text) points.
class OcmfMeterTest : public MetersTest {
 protected:
  struct Point {
    int64_t ms;
    std::string rv;                   // kWh, as the meter writes it
    std::string ri = "1-b:1.8.0";     // import; "1-b:2.8.0" export
    char status = 'S';
    std::string st = "G";
  };

  void SetUp() override {
    MetersTest::SetUp();
    auto signer = OcmfSigner::Generate(OcmfCurve::kSecp256r1);
    ASSERT_TRUE(signer.ok()) << signer.status().ToString();
    signer_ = std::make_unique<OcmfSigner>(std::move(*signer));
    auto r = Run(operator_, MakeRegisterOcmfMeterSigned(0, kChainId, AddrOf(operator_), "OC-1", *signer_, "SN-1", pb::METER_KIND_CHARGER,
                                                  "GD-SZ", AddrOf(alice_), 11000, 11000, ctx_.time_ms));
    ASSERT_EQ(CodeOf(r), Code::kOk) << r.log();
  }

  std::string Record(const std::string& pg, const std::vector<Point>& points, const OcmfSigner* key = nullptr,
                     const std::string& ms = "SN-1") {
    OcmfPayloadSpec spec;
    spec.pg = pg;
    spec.ms = ms;
    for (size_t i = 0; i < points.size(); ++i) {
      OcmfReadingSpec rd;
      rd.tm = FormatOcmfTime(points[i].ms, 60, points[i].status);
      rd.tx = i == 0 ? "B" : i + 1 == points.size() ? "E" : "T";
      rd.rv = points[i].rv;
      rd.ri = points[i].ri;
      rd.st = points[i].st;
      spec.readings.push_back(rd);
    }
    return (key ? *key : *signer_).SignRecord(BuildOcmfPayload(spec));
  }

  // Runs the records in a block at `now_ms` (default: the newest reading's time, as a charger
  // would send them).
  pb::TxResult SubmitOcmf(const std::vector<std::string>& records, int64_t now_ms = 0) {
    if (now_ms == 0) {
      for (const auto& text : records) {
        auto rec = ParseOcmf(text);
        if (rec.ok()) now_ms = std::max(now_ms, rec->readings.back().time_ms);
      }
    }
    ctx_.time_ms = std::max(ctx_.time_ms, now_ms);
    return Run(bob_, MakeSubmitOcmf(0, "OC-1", records));
  }

  // One record that must be rejected with `code`. A batch with no accepted record fails with that
  // record's code (issue 12) and changes nothing (no fee at fee_min 0, so not even the nonce).
  void ExpectOcmfRejected(const std::string& record, Code code, int64_t now_ms = 0) {
    const auto before = LoadMeter(state_, "OC-1");
    Overlay::Writes writes_before = state_.writes();
    pb::TxResult res = SubmitOcmf({record}, now_ms);
    EXPECT_EQ(CodeOf(res), code) << CodeName(CodeOf(res)) << ": " << res.log();
    const std::string prefix = "no OCMF record of the batch was accepted; record 0: ";
    EXPECT_EQ(res.log().rfind(prefix, 0), 0u) << res.log();
    EXPECT_GT(res.log().size(), prefix.size());
    EXPECT_EQ(Encode(*before), Encode(*LoadMeter(state_, "OC-1"))) << "a rejected record changed the meter";
    for (const auto& [k, v] : state_.writes()) {
      auto it = writes_before.find(k);
      EXPECT_TRUE(it != writes_before.end() && it->second == v) << "a rejected record wrote " << k;
    }
  }

  static int64_t Ms(int64_t s) { return s * 1000; }
  std::unique_ptr<OcmfSigner> signer_;
};

TEST_F(OcmfMeterTest, RegistrationKeepsTheKeyTypeSerialAndKeyUniqueness) {
  auto m = LoadMeter(state_, "OC-1");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->key_type(), pb::METER_KEY_OCMF);
  EXPECT_EQ(m->device_pubkey(), signer_->PublicKeyDer());
  EXPECT_EQ(m->ocmf().meter_serial(), "SN-1");
  // The same key on a second meter: refused like any reused device key.
  auto dup = Run(operator_, MakeRegisterOcmfMeterSigned(0, kChainId, AddrOf(operator_), "OC-2", *signer_, "SN-2", pb::METER_KIND_CHARGER,
                                                  "GD-SZ", AddrOf(alice_), 11000, 11000, ctx_.time_ms));
  EXPECT_EQ(CodeOf(dup), Code::kAlreadyExists) << dup.log();
  // Only an operator registers; an OCMF meter is never a vehicle; the key must be a valid key.
  auto other = OcmfSigner::Generate(OcmfCurve::kSecp256r1);
  ASSERT_TRUE(other.ok());
  auto by_owner = Run(alice_, MakeRegisterOcmfMeterSigned(0, kChainId, AddrOf(operator_), "OC-3", *other, "SN-3", pb::METER_KIND_CHARGER,
                                                    "GD-SZ", AddrOf(alice_), 11000, 11000, ctx_.time_ms));
  EXPECT_EQ(CodeOf(by_owner), Code::kUnauthorized) << by_owner.log();
  auto vehicle = Run(operator_, MakeRegisterOcmfMeterSigned(0, kChainId, AddrOf(operator_), "OC-3", *other, "SN-3", pb::METER_KIND_VEHICLE,
                                                      "GD-SZ", AddrOf(alice_), 11000, 11000, ctx_.time_ms));
  EXPECT_EQ(CodeOf(vehicle), Code::kInvalidArgument) << vehicle.log();
  std::string bad_key = other->PublicKeyDer();
  bad_key.back() ^= 1;  // a point off the curve
  auto bad = Run(operator_, MakeRegisterOcmfMeter(0, "OC-3", bad_key, "SN-3", "OCMF|{}|{}", pb::METER_KIND_CHARGER,
                                                  "GD-SZ", AddrOf(alice_), 11000, 11000));
  EXPECT_EQ(CodeOf(bad), Code::kInvalidArgument) << bad.log();
  // The key is the certified meter's: no rotation.
  pb::TxBody rot;
  rot.mutable_rotate_meter_key()->set_meter_id("OC-1");
  rot.mutable_rotate_meter_key()->set_new_device_pubkey(std::string(32, 'k'));
  rot.mutable_rotate_meter_key()->set_new_device_signature(std::string(64, 's'));
  EXPECT_EQ(CodeOf(Run(operator_, rot)), Code::kInvalidArgument);
  // A native reading for it is not signed by its key.
  ExpectReadingRejected(Reading("OC-1", 1, kT0, kT0 + 60, 0, 0), Code::kReadingBadSignature);
}

TEST_F(OcmfMeterTest, ASessionRecordAttestsEnergyPerSettlementInterval) {
  const int64_t L = params_.settlement_interval_s();
  // Import from T0+60 s: 1.5 kWh in each of the first two intervals, 0.2 kWh in the third; export
  // 0.3 kWh in the second interval only. The first point of each register is its baseline.
  const std::string rec = Record("T1", {{Ms(kT0 + 60), "1000.0000"},
                                        {Ms(kT0 + 60), "20.000", "1-b:2.8.0"},
                                        {Ms(kT0 + L), "1001.5000"},
                                        {Ms(kT0 + L), "20.000", "1-b:2.8.0"},
                                        {Ms(kT0 + 2 * L), "1003.0000"},
                                        {Ms(kT0 + 2 * L), "20.300", "1-b:2.8.0"},
                                        {Ms(kT0 + 2 * L + 120), "1003.2000"}});
  auto res = SubmitOcmf({rec});
  ASSERT_EQ(CodeOf(res), Code::kOk) << res.log();
  ASSERT_EQ(res.rejected_readings_size(), 0) << res.rejected_readings(0).message();
  EXPECT_EQ(Interval("OC-1", kT0).import_wh(), 1500);
  EXPECT_EQ(Interval("OC-1", kT0).export_wh(), 0);
  EXPECT_EQ(Interval("OC-1", kT0 + L).import_wh(), 1500);
  EXPECT_EQ(Interval("OC-1", kT0 + L).export_wh(), 300);
  EXPECT_EQ(Interval("OC-1", kT0 + 2 * L).import_wh(), 200);
  auto m = LoadMeter(state_, "OC-1");
  EXPECT_EQ(m->ocmf().records_accepted(), 1u);
  EXPECT_EQ(m->ocmf().import().baseline_mwh(), 1'000'000'000);
  EXPECT_EQ(m->ocmf().last_time_ms(), Ms(kT0 + 2 * L + 120));
  EXPECT_FALSE(m->has_last_reading());
  // The exact text is kept for offline re-verification, under the canonical PG.
  auto kept = LoadOcmfRecord(state_, "OC-1", "T1");
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->record(), rec);
  EXPECT_EQ(kept->first_time_ms(), Ms(kT0 + 60));
  ExpectConserved();
}

TEST_F(OcmfMeterTest, RoundingFromTheBaselineNeverCreatesEnergy) {
  // mWh registers 400, 1300, 2700, 3100 and 4399: 3999 mWh measured in all, each span under 1.5 Wh.
  // Truncating each span alone would attest 0+1+0+1 = 2 Wh; truncating from the baseline attests
  // floor(900/1000)=0, floor(2300/1000)-0=2, floor(2700/1000)-2=0, floor(3999/1000)-2=1: 3 Wh,
  // never more than measured at any point.
  auto res = SubmitOcmf({Record("T1", {{Ms(kT0 + 10), "0.0004"},
                                       {Ms(kT0 + 20), "0.0013"},
                                       {Ms(kT0 + 30), "0.0027"},
                                       {Ms(kT0 + 40), "0.00310009"},
                                       {Ms(kT0 + 50), "0.0043999"}})});
  ASSERT_EQ(res.rejected_readings_size(), 0) << res.rejected_readings(0).message();
  EXPECT_EQ(Interval("OC-1", kT0).import_wh(), 3);
  EXPECT_EQ(Interval("OC-1", kT0).readings(), 4u);
}

TEST_F(OcmfMeterTest, ConsecutiveRecordsContinueTheRegistersAndGapsAreUnattributed) {
  const int64_t L = params_.settlement_interval_s();
  ASSERT_EQ(SubmitOcmf({Record("T1", {{Ms(kT0 + 10), "5.000"}, {Ms(kT0 + 100), "5.100"}})}).rejected_readings_size(), 0);
  // The next session starts in the next interval: the span from the last point (T0+100) to its
  // begin crosses a boundary, so the 0.05 kWh between sessions counts for no interval.
  ASSERT_EQ(SubmitOcmf({Record("T2", {{Ms(kT0 + L + 10), "5.150"}, {Ms(kT0 + L + 200), "5.650"}})})
                .rejected_readings_size(),
            0);
  EXPECT_EQ(Interval("OC-1", kT0).import_wh(), 100);
  EXPECT_EQ(Interval("OC-1", kT0 + L).import_wh(), 500);
  EXPECT_EQ(LoadMeter(state_, "OC-1")->unattributed_import_wh(), 50);
  EXPECT_EQ(LoadMeter(state_, "OC-1")->ocmf().records_accepted(), 2u);
}

TEST_F(OcmfMeterTest, TheSameRecordIsAcceptedOnce) {
  const std::string rec = Record("T7", {{Ms(kT0 + 10), "1.000"}, {Ms(kT0 + 100), "1.100"}});
  ASSERT_EQ(SubmitOcmf({rec}).rejected_readings_size(), 0);
  ExpectOcmfRejected(rec, Code::kOcmfDuplicate);
  // Another text with the same pagination (re-signed, later readings) is the same record.
  ExpectOcmfRejected(Record("T7", {{Ms(kT0 + 200), "1.100"}, {Ms(kT0 + 300), "1.200"}}), Code::kOcmfDuplicate);
  // Within one batch too.
  const std::string next = Record("T8", {{Ms(kT0 + 400), "1.200"}, {Ms(kT0 + 500), "1.300"}});
  auto res = SubmitOcmf({next, next});
  ASSERT_EQ(res.rejected_readings_size(), 1);
  EXPECT_EQ(res.rejected_readings(0).index(), 1u);
  EXPECT_EQ(static_cast<Code>(res.rejected_readings(0).code()), Code::kOcmfDuplicate);
  // T7's 100 Wh, the 100 Wh between T7's end and T8's begin (one interval: attributed) and T8's 100.
  EXPECT_EQ(Interval("OC-1", kT0).import_wh(), 300);
}

TEST_F(OcmfMeterTest, EveryBadRecordIsRejectedWithItsReason) {
  const int64_t L = params_.settlement_interval_s();
  ASSERT_EQ(SubmitOcmf({Record("T1", {{Ms(kT0 + 10), "1.000"}, {Ms(kT0 + 100), "1.100"}})}).rejected_readings_size(), 0);
  // A point past block time + skew (60 s): block at T0 + 200 s, point at T0 + 300 s.
  ExpectOcmfRejected(Record("T2", {{Ms(kT0 + 200), "1.100"}, {Ms(kT0 + 300), "1.200"}}),
                     Code::kReadingInFuture, Ms(kT0 + 200));
  // A changed byte in the signed payload.
  std::string tampered = Record("T2", {{Ms(kT0 + 200), "1.100"}, {Ms(kT0 + 300), "1.200"}});
  tampered.replace(tampered.find("1.200"), 5, "9.200");
  ExpectOcmfRejected(tampered, Code::kReadingBadSignature);
  // Signed by another key, and by a key on another curve.
  auto other = OcmfSigner::Generate(OcmfCurve::kSecp256r1);
  auto k1 = OcmfSigner::Generate(OcmfCurve::kSecp256k1);
  ASSERT_TRUE(other.ok() && k1.ok());
  ExpectOcmfRejected(Record("T2", {{Ms(kT0 + 200), "1.100"}, {Ms(kT0 + 300), "1.200"}}, &*other),
                     Code::kReadingBadSignature);
  ExpectOcmfRejected(Record("T2", {{Ms(kT0 + 200), "1.100"}, {Ms(kT0 + 300), "1.200"}}, &*k1),
                     Code::kReadingBadSignature);
  // Another meter's serial; text that is no record.
  ExpectOcmfRejected(Record("T2", {{Ms(kT0 + 200), "1.100"}, {Ms(kT0 + 300), "1.200"}}, nullptr, "SN-9"),
                     Code::kOcmfInvalid);
  ExpectOcmfRejected("OCMF|{}|{}", Code::kOcmfInvalid);
  // Time status unknown or relative; an error flag or a status other than good.
  ExpectOcmfRejected(Record("T2", {{Ms(kT0 + 200), "1.100"}, {Ms(kT0 + 300), "1.200", "1-b:1.8.0", 'U'}}),
                     Code::kOcmfTimeUnreliable);
  ExpectOcmfRejected(Record("T2", {{Ms(kT0 + 200), "1.100", "1-b:1.8.0", 'R'}, {Ms(kT0 + 300), "1.200"}}),
                     Code::kOcmfTimeUnreliable);
  ExpectOcmfRejected(Record("T2", {{Ms(kT0 + 200), "1.100"}, {Ms(kT0 + 300), "1.200", "1-b:1.8.0", 'S', "T"}}),
                     Code::kOcmfMeterError);
  // Before the meter's registration.
  ExpectOcmfRejected(Record("T2", {{Ms(kT0 - 5), "1.100"}, {Ms(kT0 + 300), "1.200"}}),
                     Code::kReadingBeforeRegistration);
  // Values that go backwards across records; times before the last accepted reading.
  ExpectOcmfRejected(Record("T2", {{Ms(kT0 + 200), "1.050"}, {Ms(kT0 + 300), "1.200"}}),
                     Code::kReadingRegisterDecreased);
  ExpectOcmfRejected(Record("T2", {{Ms(kT0 + 50), "1.100"}, {Ms(kT0 + 300), "1.200"}}), Code::kReadingOverlap);
  // More than 11 kW: 1 kWh in 60 s.
  ExpectOcmfRejected(Record("T2", {{Ms(kT0 + 200), "1.100"}, {Ms(kT0 + 260), "2.100"}}),
                     Code::kReadingEnergyImpossible);
  // None of it changed anything: the next good record still continues from 1.100 kWh.
  ASSERT_EQ(SubmitOcmf({Record("T2", {{Ms(kT0 + 200), "1.100"}, {Ms(kT0 + 300), "1.200"}})}).rejected_readings_size(), 0);
  EXPECT_EQ(Interval("OC-1", kT0).import_wh(), 200);
  // Once the interval has settled (at T0 + L + grace), nothing more counts for it.
  ExpectOcmfRejected(Record("T3", {{Ms(kT0 + 400), "1.200"}, {Ms(kT0 + 500), "1.300"}}),
                     Code::kReadingIntervalSettled, Ms(kT0 + L + params_.market_grace_s()));
}

TEST_F(OcmfMeterTest, AReadingBeforeRegistrationIsRejected) {
  // A second meter registered later: its first record starts before its registration.
  auto k = OcmfSigner::Generate(OcmfCurve::kSecp256r1);
  ASSERT_TRUE(k.ok());
  ctx_.time_ms = Ms(kT0 + 500);
  ASSERT_EQ(CodeOf(Run(operator_, MakeRegisterOcmfMeterSigned(0, kChainId, AddrOf(operator_), "OC-2", *k, "SN-2", pb::METER_KIND_CHARGER,
                                                        "GD-SZ", AddrOf(alice_), 11000, 11000, ctx_.time_ms))),
            Code::kOk);
  OcmfPayloadSpec spec;
  spec.ms = "SN-2";
  spec.readings = {{FormatOcmfTime(Ms(kT0 + 400), 0, 'S'), "B", "1.000"}, {FormatOcmfTime(Ms(kT0 + 600), 0, 'S'), "E", "1.100"}};
  auto res = Run(bob_, MakeSubmitOcmf(0, "OC-2", {k->SignRecord(BuildOcmfPayload(spec))}));
  EXPECT_EQ(CodeOf(res), Code::kReadingBeforeRegistration) << res.log();
}

TEST_F(OcmfMeterTest, ThePerIntervalBoundHoldsForManyShortReadings) {
  // 11 kW: 183 Wh per minute plus the per-interval tolerance. Readings every second, each at the
  // full per-reading allowance (power x 1 s + tolerance), would attest several times that.
  const int64_t tol = params_.reading_energy_tolerance_wh();
  std::vector<Point> pts = {{Ms(kT0 + 10), "0.000"}};
  int64_t mwh = 0;
  for (int i = 1; i <= 60; ++i) {
    mwh += 3000 + tol * 1000;  // each second inside its own bound: 3 Wh (11 kW x 1 s) + the tolerance
    pts.push_back({Ms(kT0 + 10 + i), std::to_string(mwh / 1000000) + "." + [&] {
                     std::string f = std::to_string(mwh % 1000000);
                     return std::string(6 - f.size(), '0') + f;
                   }()});
  }
  ExpectOcmfRejected(Record("T1", pts), Code::kReadingEnergyImpossible);
  auto res = SubmitOcmf({Record("T1", pts)});
  EXPECT_EQ(CodeOf(res), Code::kReadingEnergyImpossible) << res.log();
  EXPECT_NE(res.log().find("interval"), std::string::npos) << res.log();
}

TEST_F(OcmfMeterTest, AForgedRecordIsVerifiedOnlyOnce) {
  auto other = OcmfSigner::Generate(OcmfCurve::kSecp256r1);
  ASSERT_TRUE(other.ok());
  const std::string forged = Record("T1", {{Ms(kT0 + 10), "1.000"}, {Ms(kT0 + 100), "1.100"}}, &*other);
  const uint64_t before = SigCacheVerifications();
  ExpectOcmfRejected(forged, Code::kReadingBadSignature);
  ExpectOcmfRejected(forged, Code::kReadingBadSignature);
  // The record once, and the tx that carried it once: it failed (nothing accepted) without a fee,
  // so it used no nonce and the second is the same bytes, whose signature is cached too.
  EXPECT_EQ(SigCacheVerifications(), before + 2);
}

TEST_F(OcmfMeterTest, StatelessChecksBoundTheBatch) {
  pb::TxBody empty;
  empty.mutable_submit_ocmf();
  EXPECT_EQ(CheckMeterOp(empty).code(), Code::kInvalidArgument);
  std::vector<std::string> many(limits::kOcmfRecordsPerTxMax + 1, "OCMF|{}|{}");
  EXPECT_EQ(CheckMeterOp(MakeSubmitOcmf(0, "OC-1", many)).code(), Code::kTooLarge);
  EXPECT_EQ(CheckMeterOp(MakeSubmitOcmf(0, "OC-1", {std::string(kOcmfRecordBytesMax + 1, 'x')})).code(), Code::kTooLarge);
  EXPECT_TRUE(CheckMeterOp(MakeSubmitOcmf(0, "OC-1", {"OCMF|{}|{}"})).ok());
}

TEST_F(OcmfMeterTest, RegistrationNeedsTheMetersProofForThisMeterOwnerAndOperator) {
  auto k = OcmfSigner::Generate(OcmfCurve::kSecp256r1);
  auto other = OcmfSigner::Generate(OcmfCurve::kSecp256r1);
  ASSERT_TRUE(k.ok() && other.ok());
  const std::string id = OcmfRegistrationId(kChainId, "OC-2", AddressBytes(AddrOf(alice_)), AddressBytes(AddrOf(operator_)));
  ASSERT_EQ(id.size(), 32u);
  auto reg = [&](const std::string& proof) {
    return Run(operator_, MakeRegisterOcmfMeter(0, "OC-2", k->PublicKeyDer(), "SN-2", proof, pb::METER_KIND_CHARGER,
                                                "GD-SZ", AddrOf(alice_), 11000, 11000));
  };
  // Signed by another key; for another owner (or operator: the same digest changes); another serial;
  // no ID at all.
  EXPECT_EQ(CodeOf(reg(SignOcmfProofRecord(*other, "SN-2", id, ctx_.time_ms))), Code::kBadSignature);
  const std::string for_bob = OcmfRegistrationId(kChainId, "OC-2", AddressBytes(AddrOf(bob_)), AddressBytes(AddrOf(operator_)));
  EXPECT_EQ(CodeOf(reg(SignOcmfProofRecord(*k, "SN-2", for_bob, ctx_.time_ms))), Code::kBadSignature);
  EXPECT_EQ(CodeOf(reg(SignOcmfProofRecord(*k, "SN-9", id, ctx_.time_ms))), Code::kBadSignature);
  EXPECT_EQ(CodeOf(reg(SignOcmfProofRecord(*k, "SN-2", "", ctx_.time_ms))), Code::kBadSignature);
  EXPECT_FALSE(LoadMeter(state_, "OC-2").has_value());
  // A second operator that copies the proof from the mempool cannot use it: the ID names the first.
  auto lifted = Run(operator_, MakeRegisterOcmfMeter(0, "OC-2", k->PublicKeyDer(), "SN-2",
                                                     SignOcmfProofRecord(*k, "SN-2", id, ctx_.time_ms),
                                                     pb::METER_KIND_CHARGER, "GD-SZ", AddrOf(bob_), 11000, 11000));
  EXPECT_EQ(CodeOf(lifted), Code::kBadSignature) << "the proof binds the owner too";
  auto ok = reg(SignOcmfProofRecord(*k, "SN-2", id, ctx_.time_ms));
  ASSERT_EQ(CodeOf(ok), Code::kOk) << ok.log();
  EXPECT_EQ(LoadMeter(state_, "OC-2")->ocmf().curve(), static_cast<uint32_t>(OcmfCurve::kSecp256r1));
}

TEST_F(OcmfMeterTest, PaginationIsASequencePerContext) {
  ASSERT_EQ(SubmitOcmf({Record("T5", {{Ms(kT0 + 10), "1.000"}, {Ms(kT0 + 100), "1.100"}})}).rejected_readings_size(), 0);
  // Skipping T6 would let a submitter drop its energy out of the intervals.
  ExpectOcmfRejected(Record("T7", {{Ms(kT0 + 200), "1.200"}, {Ms(kT0 + 300), "1.300"}}), Code::kReadingSeqGap);
  ExpectOcmfRejected(Record("T4", {{Ms(kT0 + 200), "1.200"}, {Ms(kT0 + 300), "1.300"}}), Code::kOcmfDuplicate);
  // The fiscal context has its own counter, starting anywhere.
  ASSERT_EQ(SubmitOcmf({Record("F40", {{Ms(kT0 + 150), "1.150"}})}).rejected_readings_size(), 0);
  ASSERT_EQ(SubmitOcmf({Record("T6", {{Ms(kT0 + 200), "1.200"}, {Ms(kT0 + 300), "1.300"}})}).rejected_readings_size(), 0);
  auto m = LoadMeter(state_, "OC-1");
  EXPECT_EQ(m->ocmf().next_pg_t(), 7u);
  EXPECT_EQ(m->ocmf().first_pg_t(), 5u);
  EXPECT_EQ(m->ocmf().next_pg_f(), 41u);
  EXPECT_EQ(Interval("OC-1", kT0).import_wh(), 300);
}

TEST_F(OcmfMeterTest, ReadingEdgeCases) {
  const int64_t L = params_.settlement_interval_s();
  // A register going down inside one record; informative (I) times are placed like synchronised.
  ExpectOcmfRejected(Record("T1", {{Ms(kT0 + 10), "1.000"}, {Ms(kT0 + 20), "0.900"}}), Code::kReadingRegisterDecreased);
  ASSERT_EQ(SubmitOcmf({Record("T1", {{Ms(kT0 + 10), "1.000", "1-b:1.8.0", 'I'}, {Ms(kT0 + L), "1.100", "1-b:1.8.0", 'I'}})})
                .rejected_readings_size(),
            0);
  EXPECT_EQ(Interval("OC-1", kT0).import_wh(), 100);  // a point at the interval's end closes it
  // The same register under another OBIS id.
  ExpectOcmfRejected(Record("T2", {{Ms(kT0 + L + 10), "1.100", "1-0:1.8.0"}}), Code::kOcmfInvalid);
  // A point exactly at an interval's end belongs to that interval: once it settled, refused.
  ExpectOcmfRejected(Record("T2", {{Ms(kT0 + 2 * L), "1.200"}}), Code::kReadingIntervalSettled,
                     Ms(kT0 + 2 * L + params_.market_grace_s()));
}

TEST_F(OcmfMeterTest, EachRegistersIntervalBoundRunsFromItsOwnFirstSpan) {
  // Import from T0 + 1 s; export's first point only at T0 + 200 s: export's bound in the interval
  // runs from its own first span (T0 + 200 s), so 600 Wh in 60 ms is refused though import's first
  // span began 199 s earlier (a shared start allowed it).
  ASSERT_EQ(SubmitOcmf({Record("T1", {{Ms(kT0 + 1), "1.000"}, {Ms(kT0 + 100), "1.010"}})}).rejected_readings_size(), 0);
  // 60 export spans of 1 ms, each inside its own bound (0 Wh of power + the 10 Wh tolerance).
  std::vector<Point> pts = {{Ms(kT0 + 200), "5.000", "1-b:2.8.0"}};
  for (int i = 1; i <= 60; ++i) {
    pts.push_back({Ms(kT0 + 200) + i, std::to_string(5000 + 10 * i) + "0", "1-b:2.8.0"});  // Wh*10 as "x.yyy0"
    pts.back().rv = std::to_string((5000 + 10 * i) / 1000) + "." + std::to_string((5000 + 10 * i) % 1000 + 1000).substr(1);
  }
  ExpectOcmfRejected(Record("T2", pts), Code::kReadingEnergyImpossible);
  auto res = SubmitOcmf({Record("T2", pts)});
  EXPECT_EQ(CodeOf(res), Code::kReadingEnergyImpossible) << res.log();
  EXPECT_NE(res.log().find("would hold"), std::string::npos) << res.log();
}

TEST_F(OcmfMeterTest, WhatIsKeptIsTheSignedPayloadWithACanonicalSignatureSection) {
  const std::string rec = Record("T1", {{Ms(kT0 + 10), "1.000"}, {Ms(kT0 + 100), "1.100"}});
  // Unsigned padding in the signature section (a vendor field, whitespace) still verifies...
  std::string padded = rec;
  padded.insert(padded.rfind('}'), ",\"UX\":\"" + std::string(200, 'z') + "\",\"UY\":\"" + std::string(200, 'y') + "\"");
  ASSERT_EQ(SubmitOcmf({padded}).rejected_readings_size(), 0);
  // ...but is not kept: the payload byte for byte, SA and SD only.
  auto kept = LoadOcmfRecord(state_, "OC-1", "T1");
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->record().find("UX"), std::string::npos);
  EXPECT_LT(kept->record().size(), rec.size() + 40);
  const size_t payload_end = rec.rfind('|');
  EXPECT_EQ(kept->record().substr(0, payload_end), rec.substr(0, payload_end));
  auto parsed = ParseOcmf(kept->record());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(VerifyOcmf(*parsed, signer_->PublicKeyDer()).ok());
}

}  // namespace
}  // namespace v2g
