// Making OCMF records (common/ocmf.h) as a certified charger would: an EC key, payload JSON with
// readings, and the ECDSA-SHA256 signature over the exact payload bytes. For tests, the meter
// simulator and devnets: a real charger signs inside its meter, and the ledger only verifies.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/ocmf.h"
#include "common/status.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace v2g {

// How the signature section is written. The defaults write SA and SD only (SE and SM take the
// spec's defaults, hex and application/x-der).
struct OcmfSignOptions {
  bool write_sa = true;          // false: omit SA (the verifier applies the default, secp256r1)
  std::string encoding = "hex";  // "hex" (upper case, as chargers write it) or "base64"
  bool write_se_sm = false;      // write SE and SM explicitly
};

class OcmfSigner {
 public:
  // A new random key on `curve` from OpenSSL's generator.
  static Result<OcmfSigner> Generate(OcmfCurve curve);
  // A key from PEM ("-----BEGIN EC PRIVATE KEY-----" as `openssl ecparam -genkey` writes, or
  // PKCS#8 "BEGIN PRIVATE KEY"). Errors: kInvalidArgument (not an EC key on a supported curve).
  static Result<OcmfSigner> FromPem(std::string_view pem);

  OcmfCurve curve() const { return curve_; }
  // "ECDSA-<curve>-SHA256", the SA value for this key.
  std::string Algorithm() const;
  // The private key as PKCS#8 PEM (to save it; FromPem reads it back).
  std::string PrivateKeyPem() const;
  // The canonical DER SubjectPublicKeyInfo (what ParseOcmfPublicKeyDer accepts) and its hex.
  const std::string& PublicKeyDer() const { return spki_der_; }
  std::string PublicKeyHex() const;
  // The public key as PEM ("-----BEGIN PUBLIC KEY-----", as `openssl ec -pubout` writes).
  std::string PublicKeyPem() const;

  // ECDSA over SHA-256 of `payload`, DER-encoded (randomized k, so two calls differ).
  std::string Sign(std::string_view payload) const;
  // "OCMF|" + payload + "|" + the signature section.
  std::string SignRecord(std::string_view payload, const OcmfSignOptions& options = {}) const;

 private:
  OcmfSigner(std::shared_ptr<EVP_PKEY> pkey, OcmfCurve curve, std::string spki_der)
      : pkey_(std::move(pkey)), curve_(curve), spki_der_(std::move(spki_der)) {}
  std::shared_ptr<EVP_PKEY> pkey_;
  OcmfCurve curve_;
  std::string spki_der_;
};

// The DER SubjectPublicKeyInfo in a PEM "PUBLIC KEY" block (as `openssl ec -pubout` writes).
// Errors: kInvalidArgument. The key itself is not validated: ParseOcmfPublicKeyDer does that.
Result<std::string> OcmfPublicKeyDerFromPem(std::string_view pem);

// One reading of a payload built by BuildOcmfPayload. Strings are written as they are (they must
// need no JSON escaping); rv is the number's text ("2935.60"). An empty tx, ri/ru or st is left
// out of the JSON (the reading then inherits it).
struct OcmfReadingSpec {
  std::string tm;  // FormatOcmfTime(...)
  std::string tx = "B";
  std::string rv;
  std::string ri = "1-b:1.8.0";
  std::string ru = "kWh";
  std::string st = "G";
};

struct OcmfPayloadSpec {
  std::string fv = "1.0";
  std::string gi = "v2gledger meter-sim";
  std::string gs;
  std::string pg = "T1";
  std::string mv = "v2gledger";
  std::string ms;  // meter serial
  std::string it;  // identification type (e.g. "CENTRAL"), "" to leave out
  std::string id;  // identification data (e.g. an idTag), "" to leave out
  std::vector<OcmfReadingSpec> readings;
};

// Compact JSON, fields in the spec's order.
std::string BuildOcmfPayload(const OcmfPayloadSpec& spec);

// A meter's proof of possession for its registration: a one-reading record of serial `ms`,
// signed at `time_ms`, whose ID is `id` (OcmfRegistrationId of the registration), as a charger
// signs one when a session is started with that idTag.
std::string SignOcmfProofRecord(const OcmfSigner& meter, const std::string& ms, const std::string& id, int64_t time_ms);

// Unix ms -> "2018-07-24T13:22:04,000+0200 S" at UTC offset `offset_minutes` (-840..840).
std::string FormatOcmfTime(int64_t unix_ms, int offset_minutes, char status);

}  // namespace v2g
