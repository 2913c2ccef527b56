// `v2g meter verify-ocmf`: the built binary checks OCMF records offline (no node, no keystore),
// prints a verdict per line with the exact reason, and exits 0 only when every record verifies.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "tests/wallet/test_util.h"
#include "wallet/ocmf_signer.h"

namespace v2g {
namespace {

using nlohmann::json;

constexpr int64_t kT0 = 1796464800000;  // 2026-12-05T10:00:00Z

test::CliResult RunCli(const std::vector<std::string>& args, const std::string& dir,
                       const std::string& input = "") {
  return test::RunProgram(V2G_CLI_PATH, args, {"HOME=" + dir}, dir, input);
}

// Begin and end of an import session, 2.5 kWh.
std::string Payload(const std::string& pg) {
  OcmfPayloadSpec s;
  s.ms = "EMH-0001";
  s.pg = pg;
  s.readings = {{FormatOcmfTime(kT0, 60, 'S'), "B", "10.000", "1-b:1.8.0", "kWh", "G"},
                {FormatOcmfTime(kT0 + 900000, 60, 'S'), "E", "12.5", "1-b:1.8.0", "kWh", "G"}};
  return BuildOcmfPayload(s);
}

class VerifyOcmfCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OcmfSigner::Generate(OcmfCurve::kSecp256r1);
    ASSERT_TRUE(s.ok());
    signer_ = std::make_unique<OcmfSigner>(std::move(*s));
  }
  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }

  test::TempDir dir_;
  std::unique_ptr<OcmfSigner> signer_;
};

TEST_F(VerifyOcmfCliTest, GoodRecordsSayOkWithTheirReadingsAndExitZero) {
  test::WriteAll(Path("records.txt"), signer_->SignRecord(Payload("T1")) + "\n\n" +
                                          signer_->SignRecord(Payload("T2")) + "\r\n");
  auto r =
      RunCli({"meter", "verify-ocmf", "--pubkey", signer_->PublicKeyHex(), Path("records.txt")},
             dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("line 1: ok (meter EMH-0001, PG T1, ECDSA-secp256r1-SHA256)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("line 3: ok (meter EMH-0001, PG T2"), std::string::npos) << r.out;
  // The time as the meter wrote it (+01:00, the zone of its TM), the value as written, aligned.
  EXPECT_NE(r.out.find("2026-12-05T11:15:00+01:00  S     E   1-b:1.8.0  import      12.5  kWh"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("12500000"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "");
}

TEST_F(VerifyOcmfCliTest, EachBadRecordGetsItsReasonAndTheExitIsNonZero) {
  auto other = OcmfSigner::Generate(OcmfCurve::kSecp256r1);
  ASSERT_TRUE(other.ok());
  std::string changed = signer_->SignRecord(Payload("T2"));
  changed.replace(changed.find("12.5"), 4, "13.5");
  const std::vector<std::string> lines = {
      signer_->SignRecord(Payload("T1")),
      changed,
      other->SignRecord(Payload("T3")),
      "OCMF|{}|{}|{}",
      "garbage",
  };
  std::string file;
  for (const auto& l : lines) file += l + "\n";
  test::WriteAll(Path("records.txt"), file);
  auto r =
      RunCli({"meter", "verify-ocmf", "--pubkey", signer_->PublicKeyHex(), Path("records.txt")},
             dir_.path());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("line 1: ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("line 2: FAILED: bad_signature: signature does not verify over the payload "
                       "with this key"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("13.5  kWh"), std::string::npos) << "readings of a failed record: " << r.out;
  EXPECT_NE(r.out.find("line 3: FAILED: bad_signature: signature does not verify"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("line 4: FAILED: malformed: record has 3 '|' separators, not 2"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("line 5: FAILED: malformed: record does not start with 'OCMF|'"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.err.find("error: 4 of 5 records failed verification"), std::string::npos) << r.err;
}

TEST_F(VerifyOcmfCliTest, ReadsStdinAndAPemKeyFileAndAnswersJson) {
  test::WriteAll(Path("key.pem"), signer_->PublicKeyPem());
  const std::string input = signer_->SignRecord(Payload("T1")) + "\nOCMF|x|y\n";
  auto r =
      RunCli({"--output", "json", "meter", "verify-ocmf", "--pubkey-file", Path("key.pem"), "-"},
             dir_.path(), input);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["records"], 2);
  EXPECT_EQ(j["failed"], 1);
  const json& ok = j["results"][0];
  EXPECT_EQ(ok["ok"], true);
  EXPECT_EQ(ok["meter_serial"], "EMH-0001");
  EXPECT_EQ(ok["readings"][1]["value"], "12.5");
  EXPECT_EQ(ok["readings"][1]["value_mwh"], 12500000);
  EXPECT_EQ(ok["readings"][1]["register"], "import");
  EXPECT_EQ(ok["readings"][1]["time"], "2026-12-05T10:15:00Z");
  EXPECT_EQ(ok["readings"][1]["meter_time"], "2026-12-05T11:15:00+01:00");
  const json& bad = j["results"][1];
  EXPECT_EQ(bad["ok"], false);
  EXPECT_EQ(bad["line"], 2);
  EXPECT_EQ(bad["error"]["code"], "malformed");
}

TEST_F(VerifyOcmfCliTest, AKeyOnTheWrongCurveOrABadKeyIsNamed) {
  auto p384 = OcmfSigner::Generate(OcmfCurve::kSecp384r1);
  ASSERT_TRUE(p384.ok());
  test::WriteAll(Path("records.txt"), signer_->SignRecord(Payload("T1")) + "\n");
  auto r = RunCli({"meter", "verify-ocmf", "--pubkey", p384->PublicKeyHex(), Path("records.txt")},
                  dir_.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("line 1: FAILED: bad_signature: SA ECDSA-secp256r1-SHA256 needs a "
                       "secp256r1 key, but the key is on secp384r1"),
            std::string::npos)
      << r.out;
  r = RunCli({"meter", "verify-ocmf", "--pubkey", "3059", Path("records.txt")}, dir_.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error: public key is not a DER SubjectPublicKeyInfo"), std::string::npos)
      << r.err;
  r = RunCli({"meter", "verify-ocmf", Path("records.txt")}, dir_.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("give exactly one of --pubkey and --pubkey-file"), std::string::npos);
  r = RunCli({"meter", "verify-ocmf", "--pubkey", signer_->PublicKeyHex(), Path("missing.txt")},
             dir_.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot read"), std::string::npos) << r.err;
}

// Interoperability: a key made and a payload signed by the OpenSSL command-line tool (not this
// project's signer), as a charger vendor's tooling would, verifies; one changed byte does not.
TEST_F(VerifyOcmfCliTest, RecordsSignedByTheOpensslToolVerify) {
  const std::string openssl = "/usr/bin/openssl";
  auto key = test::RunProgram(openssl, {"ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", Path("k.pem")},
                              {}, dir_.path());
  ASSERT_EQ(key.exit_code, 0) << key.err;
  auto pub = test::RunProgram(openssl, {"ec", "-in", Path("k.pem"), "-pubout", "-out", Path("pub.pem")}, {}, dir_.path());
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  const std::string payload = Payload("T9");
  test::WriteAll(Path("payload"), payload);
  auto sig = test::RunProgram(openssl, {"dgst", "-sha256", "-sign", Path("k.pem"), "-out", Path("sig.der"), Path("payload")},
                              {}, dir_.path());
  ASSERT_EQ(sig.exit_code, 0) << sig.err;
  const std::string der = test::ReadAll(Path("sig.der"));
  const std::string record = "OCMF|" + payload + "|{\"SA\":\"ECDSA-secp256r1-SHA256\",\"SD\":\"" +
                             HexEncode(der) + "\"}";
  test::WriteAll(Path("r.ocmf"), record + "\n");
  auto ok = RunCli({"meter", "verify-ocmf", "--pubkey-file", Path("pub.pem"), Path("r.ocmf")}, dir_.path());
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  std::string tampered = record;
  tampered.replace(tampered.find("12.5"), 4, "13.5");
  test::WriteAll(Path("t.ocmf"), tampered + "\n");
  auto bad = RunCli({"meter", "verify-ocmf", "--pubkey-file", Path("pub.pem"), Path("t.ocmf")}, dir_.path());
  EXPECT_NE(bad.exit_code, 0) << bad.out;
}

}  // namespace
}  // namespace v2g
