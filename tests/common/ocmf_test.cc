// OCMF records (common/ocmf.h): parsing, the spec's defaults, exact RV and TM, and signature
// verification. Vectors are signed at test time with OpenSSL (wallet/ocmf_signer.h), plus one
// fixed record made once with the openssl command line, so a change in how a known-good record
// parses or verifies is caught even if signer and verifier changed together.

#include "common/ocmf.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cctype>
#include <memory>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "wallet/ocmf_signer.h"

namespace v2g {
namespace {

// 2026-12-05T10:00:00Z
constexpr int64_t kT0 = 1796464800000;
constexpr int64_t kQuarterMs = 15 * 60 * 1000;

::testing::AssertionResult Fails(const Status& st, Code code, const std::string& part) {
  if (st.ok()) return ::testing::AssertionFailure() << "succeeded; expected: " << part;
  if (st.code() != code || st.message().find(part) == std::string::npos)
    return ::testing::AssertionFailure()
           << "got " << st.ToString() << "; expected " << CodeName(code) << " with: " << part;
  return ::testing::AssertionSuccess();
}
template <class T>
::testing::AssertionResult Fails(const Result<T>& r, Code code, const std::string& part) {
  if (r.ok()) return ::testing::AssertionFailure() << "succeeded; expected: " << part;
  return Fails(r.status(), code, part);
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from << " not in " << s;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

std::string Tm(int64_t ms, char status = 'S') { return FormatOcmfTime(ms, 60, status); }

// A session on a bidirectional charger: begin, two tariff-change points with import and export,
// end.
OcmfPayloadSpec SessionSpec() {
  OcmfPayloadSpec s;
  s.ms = "EMH-0001";
  s.pg = "T7";
  s.readings = {
      {Tm(kT0), "B", "10.000", "1-b:1.8.0", "kWh", "G"},
      {Tm(kT0), "B", "0.000", "1-b:2.8.0", "kWh", "G"},
      {Tm(kT0 + kQuarterMs), "T", "12.5", "1-b:1.8.0", "kWh", "G"},
      {Tm(kT0 + kQuarterMs), "T", "0.250", "1-b:2.8.0", "kWh", "G"},
      {Tm(kT0 + 2 * kQuarterMs), "E", "14.0005", "1-b:1.8.0", "kWh", "G"},
      {Tm(kT0 + 2 * kQuarterMs), "E", "1.7503", "1-b:2.8.0", "kWh", "G"},
  };
  return s;
}

class OcmfTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    p256_ = new OcmfSigner(*OcmfSigner::Generate(OcmfCurve::kSecp256r1));
    other_p256_ = new OcmfSigner(*OcmfSigner::Generate(OcmfCurve::kSecp256r1));
  }
  static void TearDownTestSuite() {
    delete p256_;
    delete other_p256_;
  }
  // A record of `payload` signed by the P-256 key, SA written.
  static std::string Signed(const std::string& payload) { return p256_->SignRecord(payload); }
  static Status ParseAndVerify(const std::string& text, const std::string& key_der) {
    auto rec = ParseOcmf(text);
    if (!rec.ok()) return rec.status();
    return VerifyOcmf(*rec, key_der);
  }
  // A record whose signature section carries `sig` (any bytes) as SD.
  static std::string WithSignature(const std::string& payload, const std::string& sig) {
    return "OCMF|" + payload + "|{\"SA\":\"ECDSA-secp256r1-SHA256\",\"SD\":\"" + HexEncode(sig) +
           "\"}";
  }
  static OcmfSigner* p256_;
  static OcmfSigner* other_p256_;
};
OcmfSigner* OcmfTest::p256_ = nullptr;
OcmfSigner* OcmfTest::other_p256_ = nullptr;

// ---- valid records ----

TEST_F(OcmfTest, AValidSessionRecordParsesExactlyAndVerifies) {
  const std::string payload = BuildOcmfPayload(SessionSpec());
  const std::string text = Signed(payload);
  auto rec = ParseOcmf(text);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->text, text);
  EXPECT_EQ(rec->payload, payload);
  EXPECT_EQ(rec->ms, "EMH-0001");
  EXPECT_EQ(rec->pg, "T7");
  EXPECT_EQ(rec->pg_context, 'T');
  EXPECT_EQ(rec->pg_counter, 7u);
  EXPECT_EQ(rec->signature_algorithm, "ECDSA-secp256r1-SHA256");
  ASSERT_EQ(rec->readings.size(), 6u);
  const std::vector<std::string> tx = {"B", "B", "T", "T", "E", "E"};
  const std::vector<OcmfRegister> reg = {OcmfRegister::kImport, OcmfRegister::kExport,
                                         OcmfRegister::kImport, OcmfRegister::kExport,
                                         OcmfRegister::kImport, OcmfRegister::kExport};
  const std::vector<int64_t> mwh = {10'000'000, 0, 12'500'000, 250'000, 14'000'500, 1'750'300};
  const std::vector<int64_t> time = {
      kT0, kT0, kT0 + kQuarterMs, kT0 + kQuarterMs, kT0 + 2 * kQuarterMs, kT0 + 2 * kQuarterMs};
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(rec->readings[i].tx, tx[i]) << i;
    EXPECT_EQ(rec->readings[i].reg, reg[i]) << i;
    EXPECT_EQ(rec->readings[i].value_mwh, mwh[i]) << i;
    EXPECT_EQ(rec->readings[i].time_ms, time[i]) << i;
    EXPECT_EQ(rec->readings[i].time_status, 'S') << i;
    EXPECT_EQ(rec->readings[i].st, 'G') << i;
  }
  EXPECT_EQ(rec->readings[4].rv_text, "14.0005");
  EXPECT_TRUE(VerifyOcmf(*rec, p256_->PublicKeyDer()).ok());
}

TEST_F(OcmfTest, WithoutSaTheSpecDefaultSecp256r1Sha256Applies) {
  OcmfSignOptions o;
  o.write_sa = false;
  const std::string text = p256_->SignRecord(BuildOcmfPayload(SessionSpec()), o);
  ASSERT_EQ(text.find("\"SA\""), std::string::npos);
  auto rec = ParseOcmf(text);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->signature_algorithm, "ECDSA-secp256r1-SHA256");
  EXPECT_EQ(rec->curve, OcmfCurve::kSecp256r1);
  EXPECT_EQ(rec->signature_encoding, "hex");
  EXPECT_EQ(rec->signature_mime, "application/x-der");
  EXPECT_TRUE(VerifyOcmf(*rec, p256_->PublicKeyDer()).ok());
  // The default does not stretch to another curve's key.
  auto k1 = OcmfSigner::Generate(OcmfCurve::kSecp256k1);
  ASSERT_TRUE(k1.ok());
  auto k1_rec = ParseOcmf(k1->SignRecord(BuildOcmfPayload(SessionSpec()), o));
  ASSERT_TRUE(k1_rec.ok());
  EXPECT_TRUE(Fails(VerifyOcmf(*k1_rec, k1->PublicKeyDer()), Code::kBadSignature,
                    "SA ECDSA-secp256r1-SHA256 needs a secp256r1 key, but the key is on "
                    "secp256k1"));
}

TEST_F(OcmfTest, Base64AndExplicitSeSmVerify) {
  OcmfSignOptions o;
  o.encoding = "base64";
  o.write_se_sm = true;
  const std::string text = p256_->SignRecord(BuildOcmfPayload(SessionSpec()), o);
  ASSERT_NE(text.find("\"SE\":\"base64\""), std::string::npos);
  EXPECT_TRUE(ParseAndVerify(text, p256_->PublicKeyDer()).ok());
  EXPECT_TRUE(Fails(ParseOcmf(Replace(text, "\"SE\":\"base64\"", "\"SE\":\"base32\"")),
                    Code::kInvalidArgument, "SE 'base32' is not hex or base64"));
  EXPECT_TRUE(Fails(ParseOcmf(Replace(text, "application/x-der", "application/x-raw")),
                    Code::kInvalidArgument, "SM 'application/x-raw' is not application/x-der"));
}

TEST_F(OcmfTest, EveryAcceptedCurveVerifies) {
  for (OcmfCurve c : {OcmfCurve::kSecp256r1, OcmfCurve::kSecp256k1, OcmfCurve::kBrainpool256r1,
                      OcmfCurve::kSecp384r1, OcmfCurve::kBrainpool384r1}) {
    auto signer = OcmfSigner::Generate(c);
    ASSERT_TRUE(signer.ok()) << OcmfCurveName(c);
    const std::string text = signer->SignRecord(BuildOcmfPayload(SessionSpec()));
    auto rec = ParseOcmf(text);
    ASSERT_TRUE(rec.ok()) << rec.status().ToString();
    EXPECT_EQ(rec->curve, c);
    EXPECT_TRUE(VerifyOcmf(*rec, signer->PublicKeyDer()).ok()) << OcmfCurveName(c);
    auto key = ParseOcmfPublicKeyHex(signer->PublicKeyHex());
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    EXPECT_EQ(key->curve, c);
    EXPECT_EQ(key->der, signer->PublicKeyDer());
  }
}

TEST_F(OcmfTest, ASignerKeySurvivesPem) {
  auto again = OcmfSigner::FromPem(p256_->PrivateKeyPem());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->PublicKeyDer(), p256_->PublicKeyDer());
  EXPECT_TRUE(
      ParseAndVerify(again->SignRecord(BuildOcmfPayload(SessionSpec())), p256_->PublicKeyDer())
          .ok());
  EXPECT_TRUE(Fails(OcmfSigner::FromPem("not pem"), Code::kInvalidArgument, "not a PEM"));
}

// ---- signatures that must fail ----

TEST_F(OcmfTest, OneChangedPayloadByteFailsVerification) {
  const std::string text = Signed(BuildOcmfPayload(SessionSpec()));
  ASSERT_TRUE(ParseAndVerify(text, p256_->PublicKeyDer()).ok());
  EXPECT_TRUE(Fails(ParseAndVerify(Replace(text, "EMH-0001", "EMH-0002"), p256_->PublicKeyDer()),
                    Code::kBadSignature, "signature does not verify over the payload"));
  // Whitespace is part of the signed bytes too.
  EXPECT_TRUE(Fails(ParseAndVerify(Replace(text, "{\"FV\"", "{ \"FV\""), p256_->PublicKeyDer()),
                    Code::kBadSignature, "signature does not verify over the payload"));
}

TEST_F(OcmfTest, AnotherKeyFailsVerification) {
  const std::string text = Signed(BuildOcmfPayload(SessionSpec()));
  EXPECT_TRUE(Fails(ParseAndVerify(text, other_p256_->PublicKeyDer()), Code::kBadSignature,
                    "signature does not verify over the payload with this key"));
}

TEST_F(OcmfTest, AKeyOnAnotherCurveThanSaNamesFails) {
  auto p384 = OcmfSigner::Generate(OcmfCurve::kSecp384r1);
  ASSERT_TRUE(p384.ok());
  const std::string text = Signed(BuildOcmfPayload(SessionSpec()));
  EXPECT_TRUE(Fails(ParseAndVerify(text, p384->PublicKeyDer()), Code::kBadSignature,
                    "SA ECDSA-secp256r1-SHA256 needs a secp256r1 key, but the key is on "
                    "secp384r1"));
  // A P-384 signature relabelled as P-256 fails the same way against its own key.
  const std::string relabelled =
      Replace(p384->SignRecord(BuildOcmfPayload(SessionSpec())), "secp384r1", "secp256r1");
  EXPECT_TRUE(Fails(ParseAndVerify(relabelled, p384->PublicKeyDer()), Code::kBadSignature,
                    "needs a secp256r1 key"));
}

TEST_F(OcmfTest, MalformedDerSignaturesAreRefusedWithTheReason) {
  const std::string payload = BuildOcmfPayload(SessionSpec());
  const std::string sig = p256_->Sign(payload);
  const std::string key = p256_->PublicKeyDer();
  ASSERT_TRUE(ParseAndVerify(WithSignature(payload, sig), key).ok());
  // Layout: 30 L 02 lr r.. 02 ls s.. (short-form lengths on P-256).
  ASSERT_EQ(sig[0], 0x30);
  ASSERT_EQ(sig[2], 0x02);
  const auto lr = static_cast<uint8_t>(sig[3]);

  EXPECT_TRUE(Fails(ParseAndVerify(WithSignature(payload, sig.substr(0, sig.size() - 1)), key),
                    Code::kBadSignature, "signature is not DER"));
  EXPECT_TRUE(Fails(ParseAndVerify(WithSignature(payload, sig + std::string(1, '\0')), key),
                    Code::kBadSignature, "signature is not strict DER: 1 bytes after"));
  std::string padded_r = sig;  // r with a superfluous leading zero byte
  padded_r.insert(4, 1, '\0');
  padded_r[3] = static_cast<char>(lr + 1);
  padded_r[1] = static_cast<char>(static_cast<uint8_t>(sig[1]) + 1);
  EXPECT_TRUE(Fails(ParseAndVerify(WithSignature(payload, padded_r), key), Code::kBadSignature,
                    "two minimally encoded INTEGERs"));  // OpenSSL's DER reader refuses it
  std::string long_length = sig;  // the SEQUENCE length in long form: 30 81 L
  long_length.insert(1, 1, static_cast<char>(0x81));
  EXPECT_TRUE(Fails(ParseAndVerify(WithSignature(payload, long_length), key), Code::kBadSignature,
                    "signature is not strict DER: a length or INTEGER is not minimally encoded"));
  // Well-formed DER, wrong numbers: r and s swapped.
  const std::string r = sig.substr(2, 2 + lr), s = sig.substr(4 + lr);
  std::string swapped = sig.substr(0, 2) + s + r;
  EXPECT_TRUE(Fails(ParseAndVerify(WithSignature(payload, swapped), key), Code::kBadSignature,
                    "signature does not verify over the payload"));
  EXPECT_TRUE(Fails(ParseOcmf("OCMF|" + payload + "|{\"SD\":\"\"}"), Code::kInvalidArgument,
                    "SD is empty"));
  EXPECT_TRUE(Fails(ParseOcmf("OCMF|" + payload + "|{\"SD\":\"0x3045\"}"), Code::kMalformed,
                    "SD is not hex"));
  EXPECT_TRUE(Fails(ParseOcmf("OCMF|" + payload + "|{\"SD\":\"30G5\"}"), Code::kMalformed,
                    "SD is not hex"));
  EXPECT_TRUE(Fails(ParseOcmf("OCMF|" + payload + "|{\"SE\":\"base64\",\"SD\":\"MEU\"}"),
                    Code::kMalformed, "SD is not canonical base64"));
  std::string too_long;  // 129 bytes of '0' in base64 (hex would hit the JSON string bound first)
  for (int i = 0; i < 43; ++i) too_long += "MDAw";
  EXPECT_TRUE(
      Fails(ParseOcmf("OCMF|" + payload + "|{\"SE\":\"base64\",\"SD\":\"" + too_long + "\"}"),
            Code::kTooLarge, "SD is longer than 128 bytes"));
}

TEST_F(OcmfTest, UnsupportedAndWeakAlgorithmsAreRefused) {
  const std::string text = Signed(BuildOcmfPayload(SessionSpec()));
  EXPECT_TRUE(Fails(ParseOcmf(Replace(text, "ECDSA-secp256r1-SHA256", "ECDSA-secp192r1-SHA256")),
                    Code::kInvalidArgument, "192-bit curves are too weak"));
  EXPECT_TRUE(Fails(ParseOcmf(Replace(text, "ECDSA-secp256r1-SHA256", "RSA-2048-SHA256")),
                    Code::kInvalidArgument, "SA 'RSA-2048-SHA256' is not a supported"));
  EXPECT_TRUE(Fails(ParseOcmf(Replace(text, "\"ECDSA-secp256r1-SHA256\"", "1")),
                    Code::kInvalidArgument, "SA must be a JSON string, not a number"));
}

// ---- the record split and the JSON ----

TEST_F(OcmfTest, TheSplitNeedsExactlyTwoPipes) {
  const std::string payload = BuildOcmfPayload(SessionSpec());
  const std::string text = Signed(payload);
  EXPECT_TRUE(Fails(ParseOcmf(text + "|"), Code::kMalformed, "record has 3 '|' separators, not 2"));
  // '|' inside a string in the payload: the spec forbids it, so no reader has to guess.
  EXPECT_TRUE(Fails(ParseOcmf(Signed(Replace(payload, "EMH-0001", "EMH|0001"))), Code::kMalformed,
                    "record has 3 '|' separators"));
  EXPECT_TRUE(Fails(ParseOcmf("OCMF|" + payload), Code::kMalformed, "record has 1 '|'"));
  EXPECT_TRUE(Fails(ParseOcmf("ocmf" + text.substr(4)), Code::kMalformed,
                    "record does not start with 'OCMF|'"));
  EXPECT_TRUE(Fails(ParseOcmf(" " + text), Code::kMalformed, "does not start with 'OCMF|'"));
  EXPECT_TRUE(Fails(ParseOcmf(text + "x"), Code::kMalformed,
                    "signature: JSON: unexpected text after the JSON value"));
  // An escaped pipe is a string character like any other.
  EXPECT_TRUE(
      ParseAndVerify(Signed(Replace(payload, "EMH-0001", "EMH\\u007c0001")), p256_->PublicKeyDer())
          .ok());
}

TEST_F(OcmfTest, DuplicateKeysAreRefusedEverywhere) {
  const std::string payload = BuildOcmfPayload(SessionSpec());
  EXPECT_TRUE(Fails(ParseOcmf(Signed(Replace(payload, "\"MS\":\"EMH-0001\"",
                                             "\"MS\":\"EMH-0001\",\"MS\":\"EMH-0002\""))),
                    Code::kMalformed, "payload: JSON: duplicate key \"MS\""));
  EXPECT_TRUE(Fails(ParseOcmf(Signed(Replace(payload, "\"RV\":10.000", "\"RV\":10.000,\"RV\":99"))),
                    Code::kMalformed, "duplicate key \"RV\""));
  // The same key spelled with an escape is the same key.
  EXPECT_TRUE(Fails(ParseOcmf(Signed(Replace(payload, "\"MS\":\"EMH-0001\"",
                                             "\"MS\":\"EMH-0001\",\"\\u004dS\":\"X\""))),
                    Code::kMalformed, "duplicate key \"MS\""));
  const std::string text = Signed(payload);
  EXPECT_TRUE(Fails(ParseOcmf(Replace(text, "{\"SA\"", "{\"SD\":\"00\",\"SA\"")), Code::kMalformed,
                    "signature: JSON: duplicate key \"SD\""));
}

TEST_F(OcmfTest, RootsMustBeObjectsAndFieldsKnown) {
  const std::string payload = BuildOcmfPayload(SessionSpec());
  EXPECT_TRUE(Fails(ParseOcmf(Signed("[1,2]")), Code::kMalformed,
                    "payload is a JSON array, not an object"));
  EXPECT_TRUE(Fails(ParseOcmf("OCMF|" + payload + "|\"SD\""), Code::kMalformed,
                    "signature section is a JSON string, not an object"));
  EXPECT_TRUE(Fails(ParseOcmf(Signed(Replace(payload, "\"FV\"", "\"QQ\":1,\"FV\""))),
                    Code::kInvalidArgument, "payload: unknown field 'QQ'"));
  EXPECT_TRUE(Fails(ParseOcmf(Signed(Replace(payload, "\"RV\":10.000", "\"RV\":10.000,\"XY\":1"))),
                    Code::kInvalidArgument, "RD[0]: unknown field 'XY'"));
  EXPECT_TRUE(Fails(ParseOcmf(Signed(Replace(payload, "\"MS\":\"EMH-0001\"", "\"MS\":7"))),
                    Code::kInvalidArgument, "MS must be a JSON string, not a number"));
  EXPECT_TRUE(Fails(ParseOcmf(Signed(Replace(payload, "\"RV\":10.000", "\"RV\":\"10.000\""))),
                    Code::kInvalidArgument, "RD[0].RV must be a JSON number, not a string"));
  // Vendor extensions (U-Z in the payload; A-F and U-Z in the signature section) are allowed.
  const std::string vendor = Replace(payload, "\"FV\"", "\"XVENDOR\":{\"a\":[1]},\"FV\"");
  const std::string text = Signed(vendor);
  EXPECT_TRUE(
      ParseAndVerify(Replace(text, "{\"SA\"", "{\"AB\":\"later\",\"SA\""), p256_->PublicKeyDer())
          .ok());
  EXPECT_TRUE(Fails(ParseOcmf(Replace(text, "{\"SA\"", "{\"QQ\":\"x\",\"SA\"")),
                    Code::kInvalidArgument, "signature: unknown field 'QQ'"));
}

// ---- required fields, inheritance, order ----

TEST_F(OcmfTest, MissingRequiredFieldsAreNamed) {
  const std::string p = BuildOcmfPayload(SessionSpec());
  auto fails = [&](const std::string& payload, Code code, const std::string& part) {
    return Fails(ParseOcmf(Signed(payload)), code, part);
  };
  const size_t rd = p.find(",\"RD\"");
  EXPECT_TRUE(
      fails(p.substr(0, rd) + "}", Code::kInvalidArgument, "payload: RD (readings) is required"));
  EXPECT_TRUE(fails(Replace(p, "\"PG\":\"T7\",", ""), Code::kInvalidArgument,
                    "PG (pagination) is required"));
  EXPECT_TRUE(fails(Replace(p, "\"MS\":\"EMH-0001\",", ""), Code::kInvalidArgument,
                    "MS (meter serial) is required"));
  EXPECT_TRUE(fails(Replace(p, "\"MS\":\"EMH-0001\"", "\"MS\":\"\""), Code::kInvalidArgument,
                    "MS (meter serial) is required"));
  EXPECT_TRUE(fails(p.substr(0, rd) + ",\"RD\":[]}", Code::kInvalidArgument, "RD has no readings"));
  EXPECT_TRUE(fails(Replace(p, "\"TM\":\"" + Tm(kT0) + "\",", ""), Code::kInvalidArgument,
                    "RD[0]: TM (time) is required"));
  EXPECT_TRUE(fails(Replace(p, "\"RV\":10.000,", ""), Code::kInvalidArgument,
                    "RD[0]: RV (value) is required"));
  EXPECT_TRUE(fails(Replace(p, "\"RI\":\"1-b:1.8.0\",\"RU\":\"kWh\",", ""), Code::kInvalidArgument,
                    "RD[0]: RI (OBIS id) is required in the first reading"));
  EXPECT_TRUE(fails(Replace(p, "\"RU\":\"kWh\",", ""), Code::kInvalidArgument,
                    "RD[0]: RI and RU must both be present or both omitted"));
  EXPECT_TRUE(fails(Replace(p, ",\"ST\":\"G\"}", "}"), Code::kInvalidArgument,
                    "RD[0]: ST (meter status) is required in the first reading"));
  EXPECT_TRUE(fails(Replace(p, "\"PG\":\"T7\"", "\"PG\":\"T07\""), Code::kInvalidArgument,
                    "PG 'T07' is not a pagination"));
  EXPECT_TRUE(
      fails(Replace(p, "\"PG\":\"T7\"", "\"PG\":\"X7\""), Code::kInvalidArgument, "PG 'X7'"));
  EXPECT_TRUE(fails(Replace(p, "\"TX\":\"B\"", "\"TX\":\"Q\""), Code::kInvalidArgument,
                    "RD[0].TX 'Q' is not one of"));
  EXPECT_TRUE(fails(Replace(p, "\"ST\":\"G\"", "\"ST\":\"OK\""), Code::kInvalidArgument,
                    "RD[0].ST 'OK' is not a meter status"));
  EXPECT_TRUE(fails(Replace(p, "\"RU\":\"kWh\"", "\"RU\":\"mOhm\""), Code::kInvalidArgument,
                    "RD[0].RU 'mOhm' is not an energy unit"));
  EXPECT_TRUE(fails(Replace(p, "\"RI\":\"1-b:1.8.0\"", "\"RI\":\"\""), Code::kInvalidArgument,
                    "RD[0].RI is empty"));
  EXPECT_TRUE(fails(Replace(p, "\"RV\":10.000", "\"RV\":10.000,\"RT\":\"HVDC\""),
                    Code::kInvalidArgument, "RD[0].RT 'HVDC' is not AC or DC"));
  EXPECT_TRUE(fails(Replace(p, "\"RV\":10.000", "\"RV\":10.000,\"EF\":\"Ex\""),
                    Code::kInvalidArgument, "RD[0].EF 'Ex' has a flag other than E, t"));
  EXPECT_TRUE(fails(Replace(p, "\"RV\":10.000", "\"RV\":10.000,\"CL\":-0.5"),
                    Code::kInvalidArgument, "RD[0].CL: '-0.5' is negative"));
  EXPECT_TRUE(fails(Replace(p, "\"FV\"", "\"IF\":[\"A\",\"B\",\"C\",\"D\",\"E\"],\"FV\""),
                    Code::kInvalidArgument, "IF has more than 4 flags"));
  EXPECT_TRUE(fails(Replace(p, "\"FV\"", "\"LC\":{\"LN\":\"c\",\"LR\":2},\"FV\""),
                    Code::kInvalidArgument, "LC: LR and LU are required"));
}

TEST_F(OcmfTest, OmittedFieldsKeepThePreviousReadingsValue) {
  // Spec: "fields that have an identical value to the previous reading are omitted".
  OcmfPayloadSpec s;
  s.ms = "EMH-0001";
  s.readings = {{Tm(kT0), "B", "1.000", "1-b:2.8.0", "kWh", "G"},
                {Tm(kT0 + kQuarterMs), "", "2.000", "", "", ""},
                {Tm(kT0 + 2 * kQuarterMs), "E", "3000", "1-b:2.8.0", "Wh", ""}};
  auto rec = ParseOcmf(Signed(BuildOcmfPayload(s)));
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->readings[1].tx, "B");
  EXPECT_EQ(rec->readings[1].ri, "1-b:2.8.0");
  EXPECT_EQ(rec->readings[1].reg, OcmfRegister::kExport);
  EXPECT_EQ(rec->readings[1].ru, "kWh");
  EXPECT_EQ(rec->readings[1].st, 'G');
  EXPECT_EQ(rec->readings[1].value_mwh, 2'000'000);
  EXPECT_EQ(rec->readings[2].ru, "Wh");
  EXPECT_EQ(rec->readings[2].value_mwh, 3'000'000);
}

TEST_F(OcmfTest, TheSpecsOptionalFieldsParse) {
  // User assignment, tariff text, charge point, cable loss compensation (LC, CL), current type and
  // error flags, as in the spec's example.
  std::string p = BuildOcmfPayload(SessionSpec());
  p = Replace(p, "\"FV\"",
              "\"IS\":false,\"IL\":\"NONE\",\"IF\":[],\"IT\":\"NONE\",\"TT\":\"Tarif 1\","
              "\"CT\":\"EVSEID\",\"CI\":\"DE*ABC*E123\",\"CCV\":\"2.1\","
              "\"LC\":{\"LN\":\"cable\",\"LI\":1,\"LR\":2,\"LU\":\"mOhm\"},\"FV\"");
  p = Replace(p, "\"RV\":12.5", "\"RV\":12.5,\"CL\":0.5,\"RT\":\"DC\",\"EF\":\"\"");
  auto rec = ParseOcmf(Signed(p));
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  ASSERT_TRUE(rec->is.has_value());
  EXPECT_FALSE(*rec->is);
  EXPECT_EQ(rec->tt, "Tarif 1");
  EXPECT_EQ(rec->ci, "DE*ABC*E123");
  EXPECT_EQ(rec->ccv, "2.1");
  EXPECT_EQ(rec->readings[2].cl_mwh, std::optional<int64_t>(500'000));
  EXPECT_EQ(rec->readings[2].rt, "DC");
  EXPECT_EQ(rec->readings[3].rt, "DC");               // inherited
  EXPECT_FALSE(rec->readings[3].cl_mwh.has_value());  // CL is per reading
  EXPECT_TRUE(VerifyOcmf(*rec, p256_->PublicKeyDer()).ok());
}

TEST_F(OcmfTest, ARegisterThatGoesDownOrTimeThatGoesBackIsRefused) {
  OcmfPayloadSpec s = SessionSpec();
  s.readings[4].rv = "12.4999";  // import after 12.5 at the previous tariff point
  EXPECT_TRUE(Fails(ParseOcmf(Signed(BuildOcmfPayload(s))), Code::kReadingRegisterDecreased,
                    "RD[4].RV: register 1-b:1.8.0 goes down from 12500000 mWh (RD[2]) to "
                    "12499900 mWh"));
  // Equal is fine (no energy), and another register may be lower.
  s.readings[4].rv = "12.5";
  EXPECT_TRUE(ParseOcmf(Signed(BuildOcmfPayload(s))).ok());
  // A decrease hidden by a unit change is still a decrease.
  s.readings[4].rv = "12499";
  s.readings[4].ru = "Wh";
  EXPECT_TRUE(Fails(ParseOcmf(Signed(BuildOcmfPayload(s))), Code::kReadingRegisterDecreased,
                    "goes down from 12500000 mWh"));
  s = SessionSpec();
  s.readings[3].tm = Tm(kT0 + kQuarterMs - 1);
  EXPECT_TRUE(Fails(ParseOcmf(Signed(BuildOcmfPayload(s))), Code::kReadingRegisterDecreased,
                    "RD[3].TM is before RD[2].TM: time goes backwards"));
}

// ---- RV ----

TEST(OcmfEnergyTest, RvIsReadExactlyAndTruncatedToMilliwattHours) {
  struct Case {
    const char* rv;
    const char* ru;
    int64_t mwh;
  };
  for (const Case& c : std::vector<Case>{
           {"2935.6", "kWh", 2'935'600'000},
           {"2935.60", "kWh", 2'935'600'000},
           {"0", "kWh", 0},
           {"0.000", "kWh", 0},
           {"1.2345678", "kWh", 1'234'567},  // 0.8 mWh dropped
           {"0.0009999", "kWh", 999},        // 999.9 mWh
           {"0.0000009", "kWh", 0},          // below 1 mWh: nothing
           {"12.3456", "Wh", 12'345},
           {"5e3", "Wh", 5'000'000},
           {"1.5E-3", "kWh", 1'500},
           {"15E-4", "kWh", 1'500},
           {"1e-400", "kWh", 0},
           {"0e999999", "kWh", 0},
           {"9223372036854775.807", "Wh", 9'223'372'036'854'775'807},  // INT64_MAX mWh
           {"9223372036854.775807", "kWh", 9'223'372'036'854'775'807},
       }) {
    auto v = ParseOcmfEnergyMwh(c.rv, c.ru);
    ASSERT_TRUE(v.ok()) << c.rv << " " << c.ru << ": " << v.status().ToString();
    EXPECT_EQ(*v, c.mwh) << c.rv << " " << c.ru;
  }
  EXPECT_TRUE(Fails(ParseOcmfEnergyMwh("9223372036854775.808", "Wh"), Code::kOverflow,
                    "past the int64 mWh range"));
  EXPECT_TRUE(Fails(ParseOcmfEnergyMwh("9223372036854776", "kWh"), Code::kOverflow, "past"));
  EXPECT_TRUE(Fails(ParseOcmfEnergyMwh("1e400", "kWh"), Code::kOverflow, "past"));
  EXPECT_TRUE(Fails(ParseOcmfEnergyMwh("-1", "kWh"), Code::kInvalidArgument, "'-1' is negative"));
  EXPECT_TRUE(Fails(ParseOcmfEnergyMwh("-0", "kWh"), Code::kInvalidArgument, "negative"));
  EXPECT_TRUE(Fails(ParseOcmfEnergyMwh("1.", "kWh"), Code::kInvalidArgument, "not a decimal"));
  EXPECT_TRUE(Fails(ParseOcmfEnergyMwh("0x10", "kWh"), Code::kInvalidArgument, "not a decimal"));
  EXPECT_TRUE(Fails(ParseOcmfEnergyMwh("1", "MWh"), Code::kInvalidArgument, "unit 'MWh'"));
}

TEST_F(OcmfTest, HugeAndNegativeValuesInARecordAreRefused) {
  OcmfPayloadSpec s = SessionSpec();
  s.readings[5].rv = "99999999999999999";  // 10^17 kWh
  EXPECT_TRUE(Fails(ParseOcmf(Signed(BuildOcmfPayload(s))), Code::kOverflow,
                    "RD[5].RV: '99999999999999999' kWh is past the int64 mWh range"));
  s.readings[5].rv = "-1.5";
  EXPECT_TRUE(Fails(ParseOcmf(Signed(BuildOcmfPayload(s))), Code::kInvalidArgument,
                    "RD[5].RV: '-1.5' is negative"));
  s.readings[5].rv = std::string(33, '1');
  EXPECT_TRUE(Fails(ParseOcmf(Signed(BuildOcmfPayload(s))), Code::kTooLarge,
                    "number longer than 32 characters"));
}

// ---- TM ----

TEST(OcmfTimeTest, OffsetsAreAppliedExactly) {
  auto t = ParseOcmfTime("2018-07-24T13:22:04,000+0200 S");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->unix_ms, 1532431324000);  // 2018-07-24T11:22:04Z
  EXPECT_EQ(t->status, 'S');
  t = ParseOcmfTime("2026-03-01T00:00:00,250-0530 U");  // 05:30:00.250Z
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->unix_ms, 1772343000250);
  EXPECT_EQ(t->utc_offset_min, -330);  // kept for display: the zone the meter showed
  EXPECT_EQ(t->status, 'U');
  t = ParseOcmfTime("2026-03-01T05:30:00,250+0000 R");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->unix_ms, 1772343000250);
  t = ParseOcmfTime("2026-03-01T19:30:00,250+1400 I");  // across the date line
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->unix_ms, 1772343000250);
  EXPECT_EQ(t->utc_offset_min, 14 * 60);
  // The signer's formatting is the inverse.
  EXPECT_EQ(FormatOcmfTime(1772343000250, -330, 'U'), "2026-03-01T00:00:00,250-0530 U");
  EXPECT_EQ(FormatOcmfTime(1532431324000, 120, 'S'), "2018-07-24T13:22:04,000+0200 S");
}

TEST(OcmfTimeTest, MalformedTimesAndStatusesAreRefused) {
  for (const char* bad : {
           "2018-07-24T13:22:04,000+0200 X",   // unknown time status
           "2018-07-24T13:22:04,000+0200 s",   // lower case
           "2018-07-24T13:22:04,000+0200",     // no status
           "2018-07-24T13:22:04,000+0200  S",  // two spaces
           "2018-07-24T13:22:04.000+0200 S",   // '.' instead of the spec's ','
           "2018-07-24T13:22:04,00+0200 S",    // two-digit milliseconds
           "2018-07-24T13:22:04,000+02:00 S",  // colon in the zone
           "2018-07-24T13:22:04,000Z S",
           "2018-07-24T13:22:04,000+1500 S",  // offset past 14:00
           "2018-07-24T13:22:04,000+0260 S",
           "2018-02-30T13:22:04,000+0200 S",  // no such date
           "2018-07-24T24:00:00,000+0200 S",
           "1970-01-01T00:30:00,000+0100 S",  // before the epoch in UTC
           "2018-07-24 13:22:04,000+0200 S",
       }) {
    EXPECT_TRUE(Fails(ParseOcmfTime(bad), Code::kInvalidArgument, "is not an OCMF time")) << bad;
  }
}

TEST_F(OcmfTest, ABadTimeStatusInARecordNamesTheReading) {
  OcmfPayloadSpec s = SessionSpec();
  s.readings[2].tm = Tm(kT0 + kQuarterMs).substr(0, 29) + "Q";
  EXPECT_TRUE(Fails(ParseOcmf(Signed(BuildOcmfPayload(s))), Code::kInvalidArgument,
                    "RD[2].TM: '" + s.readings[2].tm + "' is not an OCMF time"));
  // Every status the spec defines parses; what the ledger accepts is its own policy.
  for (char st : {'U', 'I', 'S', 'R'}) {
    s.readings[2].tm = Tm(kT0 + kQuarterMs, st);
    auto rec = ParseOcmf(Signed(BuildOcmfPayload(s)));
    ASSERT_TRUE(rec.ok()) << rec.status().ToString();
    EXPECT_EQ(rec->readings[2].time_status, st);
  }
}

// ---- bounds ----

TEST_F(OcmfTest, EveryBoundIsEnforced) {
  OcmfPayloadSpec s = SessionSpec();
  s.readings.clear();
  for (size_t i = 0; i < kOcmfReadingsMax; ++i) {
    s.readings.push_back({Tm(kT0 + static_cast<int64_t>(i) * 1000), "C", std::to_string(i),
                          "1-b:1.8.0", "kWh", "G"});
  }
  auto rec = ParseOcmf(Signed(BuildOcmfPayload(s)));
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->readings.size(), kOcmfReadingsMax);
  s.readings.push_back({Tm(kT0 + 99000), "C", "99", "1-b:1.8.0", "kWh", "G"});
  EXPECT_TRUE(Fails(ParseOcmf(Signed(BuildOcmfPayload(s))), Code::kTooLarge,
                    "more than 64 items in an array"));
  const std::string p = BuildOcmfPayload(SessionSpec());
  EXPECT_TRUE(Fails(ParseOcmf(Signed(Replace(p, "EMH-0001", std::string(257, 'M')))),
                    Code::kTooLarge, "string longer than 256 bytes"));
  EXPECT_TRUE(Fails(ParseOcmf(Signed(Replace(p, "\"FV\"", "\"XA\":[[[[1]]]],\"FV\""))),
                    Code::kTooLarge, "nesting deeper than 4"));
  std::string big = Replace(p, "\"FV\"", "\"XA\":\"" + std::string(200, 'x') + "\",\"FV\"");
  for (int i = 0; i < 45; ++i)
    big = Replace(big, "\"FV\"",
                  "\"X" + std::to_string(i) + "\":\"" + std::string(200, 'x') + "\",\"FV\"");
  ASSERT_GT(big.size(), kOcmfRecordBytesMax);
  EXPECT_TRUE(Fails(ParseOcmf(Signed(big)), Code::kTooLarge, "more than 8192"));
}

// ---- public keys ----

// Made once with: openssl ecparam -name prime256v1 -genkey -noout -out key.pem
//                 openssl ec -in key.pem -pubout -outform DER | xxd -p
constexpr char kFixedKeyHex[] =
    "3059301306072a8648ce3d020106082a8648ce3d03010703420004b4b35b0546cf9a55c53e3d7bb12c41c8e52d83"
    "4105cdf68ee9de97fe6ac17066ccaec81e3db4bbb84212e019129288f7337ff30a76cd05e5c28a51c74d240dd4";
// The same key with a compressed point (openssl ec -conv_form compressed -pubout).
constexpr char kFixedKeyCompressedHex[] =
    "3039301306072a8648ce3d020106082a8648ce3d03010703220002b4b35b0546cf9a55c53e3d7bb12c41c8e52d83"
    "4105cdf68ee9de97fe6ac17066";
// An Ed25519 key (openssl genpkey -algorithm ed25519).
constexpr char kEd25519KeyHex[] =
    "302a300506032b657003210063bf350c4742df3a51bbe3fc0b2037b31602948e30527c2663b637232f981efc";

// The same key with explicit curve parameters (openssl ec -param_enc explicit -pubout).
constexpr char kFixedKeyExplicitHex[] =
    "3082014b3082010306072a8648ce3d02013081f7020101302c06072a8648ce3d0101022100ffffffff00000001"
    "000000000000000000000000ffffffffffffffffffffffff305b0420ffffffff00000001000000000000000000"
    "000000fffffffffffffffffffffffc04205ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e"
    "27d2604b031500c49d360886e704936a6678e1139d26b7819f7e900441046b17d1f2e12c4247f8bce6e563a440"
    "f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb64068"
    "37bf51f5022100ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551020101034200"
    "04b4b35b0546cf9a55c53e3d7bb12c41c8e52d834105cdf68ee9de97fe6ac17066ccaec81e3db4bbb84212e019"
    "129288f7337ff30a76cd05e5c28a51c74d240dd4";

TEST(OcmfKeyTest, OnlyCanonicalEcKeysOnAcceptedCurves) {
  auto key = ParseOcmfPublicKeyHex(kFixedKeyHex);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(key->curve, OcmfCurve::kSecp256r1);
  EXPECT_EQ(HexEncode(key->der), kFixedKeyHex);
  // Upper-case hex is the same key.
  std::string upper = kFixedKeyHex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(ParseOcmfPublicKeyHex(upper).ok());

  EXPECT_TRUE(Fails(ParseOcmfPublicKeyHex(kFixedKeyCompressedHex), Code::kInvalidArgument,
                    "public key is not in canonical form (DER SubjectPublicKeyInfo, named curve, "
                    "uncompressed point): re-encoded it is " +
                        std::string(kFixedKeyHex)));
  // Refused by its size before anything else (explicit parameters are also refused on their own).
  EXPECT_TRUE(Fails(ParseOcmfPublicKeyHex(kFixedKeyExplicitHex), Code::kTooLarge,
                    "public key is longer than 256 bytes"));
  EXPECT_TRUE(Fails(ParseOcmfPublicKeyHex(kEd25519KeyHex), Code::kInvalidArgument,
                    "public key is not an EC key"));
  EXPECT_TRUE(Fails(ParseOcmfPublicKeyHex("zz"), Code::kMalformed, "public key is not hex"));
  EXPECT_TRUE(Fails(ParseOcmfPublicKeyHex("3059"), Code::kInvalidArgument,
                    "public key is not a DER SubjectPublicKeyInfo"));
  EXPECT_TRUE(Fails(ParseOcmfPublicKeyHex(std::string(kFixedKeyHex) + "00"), Code::kInvalidArgument,
                    "public key has 1 bytes after its DER"));
  std::string off_curve = kFixedKeyHex;  // change the point's last byte: y no longer fits x
  off_curve.back() = off_curve.back() == '4' ? '5' : '4';
  EXPECT_TRUE(Fails(ParseOcmfPublicKeyHex(off_curve), Code::kInvalidArgument, "public key"));

  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> p521(
      EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "secp521r1"), EVP_PKEY_free);
  ASSERT_TRUE(p521);
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(p521.get(), &der);
  ASSERT_GT(n, 0);
  const std::string p521_der(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  EXPECT_TRUE(Fails(ParseOcmfPublicKeyDer(p521_der), Code::kInvalidArgument,
                    "public key is on curve secp521r1, which OCMF verification does not accept"));
}

// ---- the fixed vector ----

// Signed once with the openssl command line (the key of kFixedKeyHex):
//   printf '%s' "$payload" > payload.txt
//   openssl dgst -sha256 -sign key.pem -out sig.der payload.txt; xxd -p sig.der
// The payload is the spec's example (Figure 1) as one line, without TT and LC.
constexpr char kFixedRecord[] =
    "OCMF|{\"FV\":\"1.0\",\"GI\":\"ABL SBC-301\",\"GS\":\"808829900001\",\"GV\":\"1.4p3\","
    "\"PG\":\"T12345\",\"MV\":\"Phoenix "
    "Contact\",\"MM\":\"EEM-350-D-MCB\",\"MS\":\"BQ27400330016\","
    "\"MF\":\"1.0\",\"IS\":true,\"IL\":\"VERIFIED\",\"IF\":[\"RFID_PLAIN\",\"OCPP_RS_TLS\"],"
    "\"IT\":\"ISO14443\",\"ID\":\"1F2D3A4F5506C7\",\"RD\":[{\"TM\":\"2018-07-24T13:22:04,000+0200 "
    "S\",\"TX\":\"B\",\"RV\":2935.6,\"RI\":\"1-b:1.8.0\",\"RU\":\"kWh\",\"RT\":\"DC\",\"EF\":\"\","
    "\"ST\":\"G\"},{\"TM\":\"2018-07-24T13:26:04,000+0200 S\",\"TX\":\"E\",\"RV\":2965.1,"
    "\"RI\":\"1-b:1.8.0\",\"RU\":\"kWh\",\"RT\":\"DC\",\"EF\":\"\",\"ST\":\"G\"}]}"
    "|{\"SD\":\"304502201DB66CE2C3D387854191B3DB335595C095AF5C768C829C3E3A269FDB85B2395B022100EEC7"
    "A925878DD76799EA0AA845C94C6FD9995EDC5329A648A1F48CDBE548F0B9\"}";

TEST(OcmfFixedVectorTest, AKnownGoodRecordParsesAndVerifies) {
  auto key = ParseOcmfPublicKeyHex(kFixedKeyHex);
  ASSERT_TRUE(key.ok());
  auto rec = ParseOcmf(kFixedRecord);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_TRUE(VerifyOcmf(*rec, key->der).ok());
  EXPECT_EQ(rec->signature_algorithm, "ECDSA-secp256r1-SHA256");  // SA absent: the default
  EXPECT_EQ(rec->ms, "BQ27400330016");
  EXPECT_EQ(rec->gi, "ABL SBC-301");
  EXPECT_EQ(rec->pg_counter, 12345u);
  ASSERT_TRUE(rec->is.has_value());
  EXPECT_TRUE(*rec->is);
  EXPECT_EQ(rec->identification_flags, (std::vector<std::string>{"RFID_PLAIN", "OCPP_RS_TLS"}));
  ASSERT_EQ(rec->readings.size(), 2u);
  EXPECT_EQ(rec->readings[0].time_ms, 1532431324000);
  EXPECT_EQ(rec->readings[1].time_ms, 1532431564000);
  EXPECT_EQ(rec->readings[0].value_mwh, 2'935'600'000);
  EXPECT_EQ(rec->readings[1].value_mwh, 2'965'100'000);
  EXPECT_EQ(rec->readings[0].reg, OcmfRegister::kImport);
  EXPECT_EQ(rec->readings[0].rt, "DC");
  EXPECT_EQ(rec->readings[1].tx, "E");
}

TEST(OcmfFixedVectorTest, TheKnownRecordWithOneByteChangedFails) {
  auto key = ParseOcmfPublicKeyHex(kFixedKeyHex);
  ASSERT_TRUE(key.ok());
  std::string changed = kFixedRecord;  // 2965.1 kWh -> 2965.2 kWh
  changed = Replace(changed, "2965.1", "2965.2");
  auto rec = ParseOcmf(changed);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->readings[1].value_mwh, 2'965'200'000);
  EXPECT_TRUE(Fails(VerifyOcmf(*rec, key->der), Code::kBadSignature,
                    "signature does not verify over the payload with this key"));
}

// What v2gd runs before it starts: every accepted curve signs and verifies here (the build's
// libcrypto), and a changed payload fails.
TEST(OcmfSelfTestTest, EveryAcceptedCurveWorksWithThisLibcrypto) {
  Status st = OcmfSelfTest();
  EXPECT_TRUE(st.ok()) << st.ToString();
}

}  // namespace
}  // namespace v2g
