// OCMF public keys and signature verification (OpenSSL libcrypto; the parsing is in ocmf.cc).
//
// OpenSSL is used only through pure functions here: DER decoding and encoding, ECDSA verification
// over SHA-256. Its thread-local error queue is cleared after every failure so an OpenSSL error
// from here never surfaces in an unrelated caller (the HTTP client shares the library).
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <array>
#include <memory>
#include <utility>

#include "common/bytes.h"
#include "common/fuzz_switch.h"
#include "common/ocmf.h"

namespace v2g {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct SigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
struct OpensslFree {
  void operator()(unsigned char* p) const { OPENSSL_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// A failure, with OpenSSL's error queue emptied.
Status Fail(Code code, std::string message) {
  ERR_clear_error();
  return Error(code, std::move(message));
}

const unsigned char* Uchars(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// OpenSSL's group name of each curve, the one table both directions read.
constexpr std::array<std::pair<std::string_view, OcmfCurve>, 5> kGroups = {{
    {"prime256v1", OcmfCurve::kSecp256r1},
    {"secp256k1", OcmfCurve::kSecp256k1},
    {"brainpoolP256r1", OcmfCurve::kBrainpool256r1},
    {"secp384r1", OcmfCurve::kSecp384r1},
    {"brainpoolP384r1", OcmfCurve::kBrainpool384r1},
}};

std::optional<OcmfCurve> CurveOfGroup(std::string_view group) {
  for (const auto& [name, curve] : kGroups) {
    if (name == group) return curve;
  }
  return std::nullopt;
}

struct DecodedKey {
  PkeyPtr pkey;
  OcmfCurve curve = OcmfCurve::kSecp256r1;
};

// Decodes and validates a DER SubjectPublicKeyInfo (see ParseOcmfPublicKeyDer). `full_check`
// adds OpenSSL's full public-key check (a scalar multiplication by the group order): done once at
// registration. Without it the point is still checked to be on the curve when decoded, which on
// these prime-order curves (cofactor 1) already puts it in the group.
Result<DecodedKey> DecodeKey(std::string_view der, bool full_check) {
  if (der.size() > kOcmfPublicKeyBytesMax)
    return Error(Code::kTooLarge,
                 "public key is longer than " + std::to_string(kOcmfPublicKeyBytesMax) + " bytes");
  const unsigned char* p = Uchars(der);
  PkeyPtr pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!pkey)
    return Fail(Code::kInvalidArgument,
                "public key is not a DER SubjectPublicKeyInfo (or its EC point is not on its "
                "curve)");
  if (p != Uchars(der) + der.size())
    return Fail(Code::kInvalidArgument, "public key has " +
                                            std::to_string(Uchars(der) + der.size() - p) +
                                            " bytes after its DER SubjectPublicKeyInfo");
  if (EVP_PKEY_get_base_id(pkey.get()) != EVP_PKEY_EC)
    return Fail(Code::kInvalidArgument, "public key is not an EC key");
  char encoding[32] = {};
  if (EVP_PKEY_get_utf8_string_param(pkey.get(), OSSL_PKEY_PARAM_EC_ENCODING, encoding,
                                     sizeof(encoding), nullptr) != 1 ||
      std::string_view(encoding) != OSSL_PKEY_EC_ENCODING_GROUP)
    return Fail(Code::kInvalidArgument,
                "public key has explicit curve parameters; only named curves are accepted");
  char group[64] = {};
  size_t group_len = 0;
  if (EVP_PKEY_get_group_name(pkey.get(), group, sizeof(group), &group_len) != 1)
    return Fail(Code::kInvalidArgument,
                "public key has explicit curve parameters; only named curves are accepted");
  auto curve = CurveOfGroup(std::string_view(group, group_len));
  if (!curve)
    return Fail(Code::kInvalidArgument, "public key is on curve " + std::string(group, group_len) +
                                            ", which OCMF verification does not accept");
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!ctx ||
      (full_check ? EVP_PKEY_public_check(ctx.get()) : EVP_PKEY_public_check_quick(ctx.get())) != 1)
    return Fail(Code::kInvalidArgument,
                "public key's point is not a valid point on " + std::string(OcmfCurveName(*curve)));
  return DecodedKey{std::move(pkey), *curve};
}

// The DER SubjectPublicKeyInfo of `pkey` with an uncompressed point.
Result<std::string> CanonicalDer(EVP_PKEY* pkey) {
  if (EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                     OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 1)
    return Fail(Code::kInternal, "cannot set the EC point format");
  unsigned char* out = nullptr;
  const int n = i2d_PUBKEY(pkey, &out);
  if (n <= 0) return Fail(Code::kInternal, "cannot encode the public key");
  std::unique_ptr<unsigned char, OpensslFree> owned(out);
  return std::string(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
}

// Strict DER: an ECDSA-Sig-Value that re-encodes to exactly these bytes (minimal INTEGERs, no
// trailing bytes). Without it, one signature has many encodings and a verifier with another DER
// reader could disagree with ours.
Status CheckStrictDer(std::string_view sig) {
  if (sig.empty()) return Error(Code::kBadSignature, "signature is empty");
  const unsigned char* p = Uchars(sig);
  std::unique_ptr<ECDSA_SIG, SigFree> decoded(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
  if (!decoded)
    return Fail(Code::kBadSignature,
                "signature is not DER: not one SEQUENCE of two minimally encoded INTEGERs r and s "
                "(as SM application/x-der requires)");
  if (p != Uchars(sig) + sig.size())
    return Fail(Code::kBadSignature,
                "signature is not strict DER: " + std::to_string(Uchars(sig) + sig.size() - p) +
                    " bytes after the DER SEQUENCE");
  unsigned char* out = nullptr;
  const int n = i2d_ECDSA_SIG(decoded.get(), &out);
  if (n <= 0) return Fail(Code::kInternal, "cannot re-encode the signature");
  std::unique_ptr<unsigned char, OpensslFree> owned(out);
  if (std::string_view(reinterpret_cast<const char*>(out), static_cast<size_t>(n)) != sig)
    return Fail(Code::kBadSignature,
                "signature is not strict DER: a length or INTEGER is not minimally encoded");
  return Status::Ok();
}

}  // namespace

Result<OcmfPublicKey> ParseOcmfPublicKeyDer(std::string_view der) {
  auto key = DecodeKey(der, true);
  if (!key.ok()) return key.status();
  auto canonical = CanonicalDer(key->pkey.get());
  if (!canonical.ok()) return canonical.status();
  // One key, one byte string: the ledger refuses a device key that another meter uses, which a
  // compressed or otherwise re-encoded copy of the same key would slip past.
  if (*canonical != der)
    return Error(Code::kInvalidArgument,
                 "public key is not in canonical form (DER SubjectPublicKeyInfo, named curve, "
                 "uncompressed point): re-encoded it is " +
                     HexEncode(*canonical));
  return OcmfPublicKey{std::move(*canonical), key->curve};
}

Result<OcmfPublicKey> ParseOcmfPublicKeyHex(std::string_view hex) {
  if (hex.size() > 2 * kOcmfPublicKeyBytesMax)
    return Error(Code::kTooLarge,
                 "public key is longer than " + std::to_string(kOcmfPublicKeyBytesMax) + " bytes");
  auto raw = HexDecode(hex);
  if (!raw.ok()) return Error(Code::kMalformed, "public key is not hex: " + raw.status().message());
  return ParseOcmfPublicKeyDer(ToString(*raw));
}

Status VerifyOcmf(const OcmfRecord& record, std::string_view spki_der) {
  auto key = DecodeKey(spki_der, false);
  if (!key.ok()) return key.status();
  if (key->curve != record.curve)
    return Error(Code::kBadSignature, "SA " + record.signature_algorithm + " needs a " +
                                          std::string(OcmfCurveName(record.curve)) +
                                          " key, but the key is on " +
                                          std::string(OcmfCurveName(key->curve)));
  V2G_RETURN_IF_ERROR(CheckStrictDer(record.signature_der));
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
  if (!md || EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, key->pkey.get()) != 1)
    return Fail(Code::kInternal, "cannot start ECDSA verification");
  const int rc =
      EVP_DigestVerify(md.get(), Uchars(record.signature_der), record.signature_der.size(),
                       Uchars(record.payload), record.payload.size());
  if (rc != 1) {
    // A fuzz target may skip this last step (common/fuzz_switch.h; constant false outside fuzz builds).
    if (FuzzSignatureChecksSkipped()) {
      ERR_clear_error();
      return Status::Ok();
    }
    return Fail(Code::kBadSignature, "signature does not verify over the payload with this key");
  }
  return Status::Ok();
}

std::string_view OcmfCurveOpenSslGroup(OcmfCurve curve) {
  for (const auto& [name, c] : kGroups) {
    if (c == curve) return name;
  }
  V2G_ASSERT(false && "every curve has a group name");
  return "";
}

Status OcmfSelfTest() {
  for (OcmfCurve curve : {OcmfCurve::kSecp256r1, OcmfCurve::kSecp256k1, OcmfCurve::kBrainpool256r1,
                          OcmfCurve::kSecp384r1, OcmfCurve::kBrainpool384r1}) {
    const std::string name(OcmfCurveName(curve));
    const std::string group(OcmfCurveOpenSslGroup(curve));
    auto fail = [&](const std::string& what) {
      return Error(Code::kInternal, "this libcrypto cannot " + what + " on " + name +
                                        ": every validator must verify every curve the ledger accepts "
                                        "(OCMF meters), or it would refuse what the others accept");
    };
    PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", group.c_str()));
    if (!key) return fail("make a key");
    unsigned char* der_buf = nullptr;
    const int der_len = i2d_PUBKEY(key.get(), &der_buf);
    if (der_len <= 0) return fail("encode a public key");
    const std::string der(reinterpret_cast<const char*>(der_buf), static_cast<size_t>(der_len));
    OPENSSL_free(der_buf);
    OcmfRecord rec;
    rec.curve = curve;
    rec.payload = "{\"self-test\":\"" + name + "\"}";
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
    size_t sig_len = 0;
    if (!md || EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
        EVP_DigestSign(md.get(), nullptr, &sig_len, reinterpret_cast<const unsigned char*>(rec.payload.data()),
                       rec.payload.size()) != 1) {
      return fail("sign");
    }
    rec.signature_der.resize(sig_len);
    if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(rec.signature_der.data()), &sig_len,
                       reinterpret_cast<const unsigned char*>(rec.payload.data()), rec.payload.size()) != 1) {
      return fail("sign");
    }
    rec.signature_der.resize(sig_len);
    if (!ParseOcmfPublicKeyDer(der).ok() || !VerifyOcmf(rec, der).ok()) return fail("verify");
    rec.payload[2] ^= 1;  // and a changed byte must fail
    if (VerifyOcmf(rec, der).ok()) return fail("reject a changed payload");
  }
  return Status::Ok();
}

}  // namespace v2g
