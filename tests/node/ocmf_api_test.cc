// The HTTP API of OCMF meters (docs/API.md): the key type and register state on /v1/meters/{id},
// each record's verdict in the tx view, and the accepted records kept whole for re-verification.
#include <gtest/gtest.h>

#include "common/ocmf.h"
#include "contracts/market.h"
#include "contracts/meters.h"
#include "node/api/api.h"
#include "tests/node/api_test_util.h"
#include "wallet/ocmf_signer.h"

namespace v2g::nodetest {
namespace {

using json = nlohmann::json;

constexpr int64_t kT0 = kGenesisTimeMs / 1000;

class OcmfApiTest : public ManualApiTest {
 protected:
  void SetUp() override {
    StartNode(EnableMarket, "ocmf-api-test");
    ASSERT_FALSE(HasFatalFailure());
    auto s = OcmfSigner::Generate(OcmfCurve::kSecp256r1);
    ASSERT_TRUE(s.ok());
    signer_ = std::make_unique<OcmfSigner>(std::move(*s));
    RunOk(k().issuer, MakeRegisterOcmfMeterSigned(0, kChainId, AddrOf(k().issuer), "OC-1", *signer_, "SN-1",
                                                  pb::METER_KIND_CHARGER, "Z1", AddrOf(k().bob), 22000, 22000,
                                                  kGenesisTimeMs));
  }
  std::string Record(const std::string& pg, int64_t from_s, const std::string& from_kwh, int64_t to_s,
                     const std::string& to_kwh, const OcmfSigner* key = nullptr) {
    OcmfPayloadSpec spec;
    spec.pg = pg;
    spec.ms = "SN-1";
    spec.readings = {{FormatOcmfTime(from_s * 1000, 60, 'S'), "B", from_kwh},
                     {FormatOcmfTime(to_s * 1000, 60, 'S'), "E", to_kwh}};
    return (key ? *key : *signer_).SignRecord(BuildOcmfPayload(spec));
  }
  std::unique_ptr<OcmfSigner> signer_;
};

TEST_F(OcmfApiTest, TheTxViewShowsEachRecordsVerdictAndTheRecordsAreKeptWhole) {
  auto other = OcmfSigner::Generate(OcmfCurve::kSecp256r1);
  ASSERT_TRUE(other.ok());
  const std::string good = Record("T1", kT0 + 20, "10.0000", kT0 + 80, "10.2505");
  const std::string forged = Record("T2", kT0 + 80, "10.2505", kT0 + 90, "99.0", &*other);
  Approach(kT0 + 100);
  json t = RunOk(k().alice, MakeSubmitOcmf(0, "OC-1", {good, forged}), kT0 + 100);
  EXPECT_EQ(t["log"], "1 of 2 OCMF records accepted");
  const json& recs = t["op"]["records"];
  ASSERT_EQ(recs.size(), 2u) << t.dump();
  EXPECT_EQ(t["op"]["type"], "submit_ocmf");
  EXPECT_EQ(recs[0]["verdict"], "accepted");
  EXPECT_EQ(recs[0]["pg"], "T1");
  EXPECT_EQ(recs[0]["record"], good);
  EXPECT_EQ(recs[0]["readings"][1]["value_mwh"], 10'250'500);
  EXPECT_EQ(recs[1]["verdict"]["code_name"], "reading_bad_signature") << recs[1].dump();
  EXPECT_EQ(recs[1]["verdict"]["code"], static_cast<int>(Code::kReadingBadSignature));

  HttpReply m = Get("/v1/meters/OC-1");
  ASSERT_EQ(m.status, 200) << m.raw;
  EXPECT_EQ(m.body["key_type"], "ocmf");
  EXPECT_EQ(m.body["device_pubkey"], signer_->PublicKeyHex());
  EXPECT_EQ(m.body["ocmf"]["meter_serial"], "SN-1");
  EXPECT_EQ(m.body["ocmf"]["curve"], "secp256r1");
  EXPECT_EQ(m.body["ocmf"]["records_accepted"], 1);
  EXPECT_EQ(m.body["ocmf"]["import"]["measured_wh"], 250);  // 250.5 Wh measured: never rounded up
  EXPECT_EQ(m.body["ocmf"]["pg_t"]["first"], "T1");
  EXPECT_EQ(m.body["ocmf"]["pg_t"]["last"], "T1");
  EXPECT_TRUE(m.body["ocmf"]["pg_f"].is_null());
  EXPECT_TRUE(m.body["ocmf"]["export"].is_null());

  HttpReply list = Get("/v1/meters/OC-1/ocmf");
  ASSERT_EQ(list.status, 200) << list.raw;
  ASSERT_EQ(list.body["records"].size(), 1u);
  EXPECT_EQ(list.body["records"][0]["record"], good);
  EXPECT_EQ(list.body["records"][0]["tx_hash"], t["hash"]);
  EXPECT_TRUE(list.body["next_from"].is_null());
  HttpReply one = Get("/v1/meters/OC-1/ocmf/T1");
  ASSERT_EQ(one.status, 200) << one.raw;
  EXPECT_EQ(one.body["record"], good);
  EXPECT_EQ(Get("/v1/meters/OC-1/ocmf/T2").status, 404);  // rejected: not kept
  EXPECT_EQ(Get("/v1/meters/OC-1/ocmf/T01").status, 400);
  EXPECT_EQ(Get("/v1/meters/OC-1/ocmf/X1").status, 400);
  EXPECT_EQ(Get("/v1/meters/OC-1/ocmf?context=X").status, 400);
  EXPECT_EQ(Get("/v1/meters/OC-1/ocmf?from=-1").status, 400);
  EXPECT_EQ(Get("/v1/meters/OC-1/ocmf?context=F").body["records"].size(), 0u);
  EXPECT_EQ(Get("/v1/meters/NOPE/ocmf").status, 404);

  HttpReply r = Get("/v1/meters/OC-1/readings");
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_EQ(r.body["intervals"].size(), 1u) << r.raw;
  EXPECT_EQ(r.body["intervals"][0]["import_wh"], 250);
}

// With private reads (docs/API.md "Signed reads"): a charger's raw records go to its owner and
// operator, and after a transfer the new owner reads only the records of its own intervals
// (docs/DESIGN.md "Entitlement over time"), the previous owner none.
class OcmfPrivateTest : public OcmfApiTest {
 protected:
  void SetUp() override {
    private_reads_ = true;
    OcmfApiTest::SetUp();
  }
};

TEST_F(OcmfPrivateTest, ANewOwnerReadsOnlyTheRecordsOfItsOwnIntervals) {
  const KeyPair &bob = k().bob, &op = k().issuer;
  const KeyPair dave = Key(60);
  const std::string r1 = Record("T1", kT0 + 20, "10.0000", kT0 + 80, "10.2505");
  const std::string r2 = Record("T2", kT0 + 80, "10.2505", kT0 + 140, "10.5000");
  Approach(kT0 + 200);
  RunOk(k().alice, MakeSubmitOcmf(0, "OC-1", {r1, r2}), kT0 + 200);
  Tick(kT0 + 3 * 900);                                          // the records' interval has settled
  RunOk(k().alice, MakeTransfer(0, AddrOf(dave), "CNY", 100));  // its fees
  RunOk(bob, MakeTransferMeter(Nonce(node_->store().state(), bob) + 1, kChainId, "OC-1",
                               AddrOf(bob), dave));
  const int64_t from = LoadMeter(node_->store().state(), "OC-1")->owner_from_s();
  ASSERT_GT(from, kT0 + 140);

  HttpReply none = As(dave, "/v1/meters/OC-1/ocmf");
  ASSERT_EQ(none.status, 200) << none.raw;
  EXPECT_EQ(none.body["records"], json::array()) << none.raw;
  EXPECT_TRUE(none.body["next_from"].is_null()) << none.raw;
  EXPECT_EQ(none.body["readable"][0]["from_s"], from) << none.raw;
  ExpectError(As(dave, "/v1/meters/OC-1/ocmf/T2"), 403, Code::kPermissionDenied,
              "OCMF record T2 of meter 'OC-1' is from before");
  ExpectError(As(bob, "/v1/meters/OC-1/ocmf"), 403, Code::kPermissionDenied,
              Addr(bob) + " may not read the OCMF records of meter 'OC-1'");
  // The registry tells dave the meter's counters, not when bob last charged.
  HttpReply reg = As(dave, "/v1/meters/OC-1");
  ASSERT_EQ(reg.status, 200) << reg.raw;
  EXPECT_TRUE(reg.body["ocmf"]["last_time"].is_null()) << reg.raw;
  EXPECT_TRUE(reg.body["ocmf"]["import"]["last_time"].is_null()) << reg.raw;
  EXPECT_FALSE(As(op, "/v1/meters/OC-1").body["ocmf"]["last_time"].is_null());

  const int64_t now =
      node_->chain().Tip().time_ms / 1000;  // past `from`: intervals not yet settled
  const std::string r3 = Record("T3", now + 20, "10.5000", now + 80, "10.7000");
  Approach(now + 100);
  RunOk(k().alice, MakeSubmitOcmf(0, "OC-1", {r3}), now + 100);
  HttpReply mine = As(dave, "/v1/meters/OC-1/ocmf");
  ASSERT_EQ(mine.status, 200) << mine.raw;
  ASSERT_EQ(mine.body["records"].size(), 1u) << mine.raw;
  EXPECT_EQ(mine.body["records"][0]["record"], r3);
  // Asked from bob's first record on, the page still starts at dave's.
  HttpReply asked = As(dave, "/v1/meters/OC-1/ocmf?from=1&limit=1");
  ASSERT_EQ(asked.body["records"].size(), 1u) << asked.raw;
  EXPECT_EQ(asked.body["records"][0]["record"], r3);
  EXPECT_EQ(As(dave, "/v1/meters/OC-1/ocmf/T3").status, 200);
  EXPECT_FALSE(As(dave, "/v1/meters/OC-1").body["ocmf"]["last_time"].is_null());
  EXPECT_EQ(As(op, "/v1/meters/OC-1/ocmf").body["records"].size(), 3u);
}

}  // namespace
}  // namespace v2g::nodetest
