#include "wallet/ocmf_signer.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cctype>
#include <cstdio>

#include "common/assert.h"
#include "common/bytes.h"
#include "common/time.h"

namespace v2g {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};


std::string PublicDer(EVP_PKEY* pkey) {
  unsigned char* out = nullptr;
  const int n = i2d_PUBKEY(pkey, &out);
  V2G_ASSERT(n > 0);
  std::string der(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  OPENSSL_free(out);
  return der;
}

std::string Base64(std::string_view raw) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < raw.size(); i += 3) {
    uint32_t acc = static_cast<uint8_t>(raw[i]) << 16;
    if (i + 1 < raw.size()) acc |= static_cast<uint32_t>(static_cast<uint8_t>(raw[i + 1])) << 8;
    if (i + 2 < raw.size()) acc |= static_cast<uint8_t>(raw[i + 2]);
    out += kAlphabet[acc >> 18 & 63];
    out += kAlphabet[acc >> 12 & 63];
    out += i + 1 < raw.size() ? kAlphabet[acc >> 6 & 63] : '=';
    out += i + 2 < raw.size() ? kAlphabet[acc & 63] : '=';
  }
  return out;
}

}  // namespace

Result<OcmfSigner> OcmfSigner::Generate(OcmfCurve curve) {
  const std::string group(OcmfCurveOpenSslGroup(curve));
  std::shared_ptr<EVP_PKEY> pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", group.c_str()),
                                 EVP_PKEY_free);
  if (!pkey) {
    ERR_clear_error();
    return Error(Code::kInternal, "cannot generate an EC key on " + group);
  }
  auto key = ParseOcmfPublicKeyDer(PublicDer(pkey.get()));
  V2G_ASSERT(key.ok() && key->curve == curve);
  return OcmfSigner(std::move(pkey), curve, key->der);
}

Result<OcmfSigner> OcmfSigner::FromPem(std::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  V2G_ASSERT(bio != nullptr);
  std::shared_ptr<EVP_PKEY> pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr),
                                 EVP_PKEY_free);
  if (!pkey) {
    ERR_clear_error();
    return Error(Code::kInvalidArgument, "not a PEM private key");
  }
  auto key = ParseOcmfPublicKeyDer(PublicDer(pkey.get()));
  if (!key.ok()) return Error(Code::kInvalidArgument, "private key: " + key.status().message());
  return OcmfSigner(std::move(pkey), key->curve, key->der);
}

std::string OcmfSigner::Algorithm() const {
  return "ECDSA-" + std::string(OcmfCurveName(curve_)) + "-SHA256";
}

std::string OcmfSigner::PrivateKeyPem() const {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  V2G_ASSERT(bio != nullptr);
  V2G_ASSERT(
      PEM_write_bio_PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  V2G_ASSERT(n > 0);
  return std::string(data, static_cast<size_t>(n));
}

std::string OcmfSigner::PublicKeyHex() const { return HexEncode(spki_der_); }

std::string OcmfSigner::PublicKeyPem() const {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  V2G_ASSERT(bio != nullptr);
  V2G_ASSERT(PEM_write_bio_PUBKEY(bio.get(), pkey_.get()) == 1);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  V2G_ASSERT(n > 0);
  return std::string(data, static_cast<size_t>(n));
}

std::string OcmfSigner::Sign(std::string_view payload) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
  V2G_ASSERT(md != nullptr);
  V2G_ASSERT(EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, pkey_.get()) == 1);
  const auto* data = reinterpret_cast<const unsigned char*>(payload.data());
  size_t len = 0;
  V2G_ASSERT(EVP_DigestSign(md.get(), nullptr, &len, data, payload.size()) == 1);
  std::string sig(len, '\0');
  V2G_ASSERT(EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data,
                            payload.size()) == 1);
  sig.resize(len);
  return sig;
}

std::string OcmfSigner::SignRecord(std::string_view payload, const OcmfSignOptions& o) const {
  V2G_ASSERT(o.encoding == "hex" || o.encoding == "base64");
  const std::string sig = Sign(payload);
  std::string sd;
  if (o.encoding == "hex") {
    sd = HexEncode(sig);
    for (char& c : sd) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  } else {
    sd = Base64(sig);
  }
  std::string section = "{";
  if (o.write_sa) section += "\"SA\":\"" + Algorithm() + "\",";
  if (o.write_se_sm) section += "\"SE\":\"" + o.encoding + "\",\"SM\":\"application/x-der\",";
  section += "\"SD\":\"" + sd + "\"}";
  return "OCMF|" + std::string(payload) + "|" + section;
}

Result<std::string> OcmfPublicKeyDerFromPem(std::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  V2G_ASSERT(bio != nullptr);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (!pkey) {
    ERR_clear_error();
    return Error(Code::kInvalidArgument, "not a PEM public key (-----BEGIN PUBLIC KEY-----)");
  }
  return PublicDer(pkey.get());
}

std::string BuildOcmfPayload(const OcmfPayloadSpec& s) {
  auto field = [](std::string& out, const char* k, const std::string& v) {
    if (v.empty()) return;
    if (out.back() != '{') out += ',';
    out += "\"" + std::string(k) + "\":\"" + v + "\"";
  };
  std::string out = "{";
  field(out, "FV", s.fv);
  field(out, "GI", s.gi);
  field(out, "GS", s.gs);
  field(out, "PG", s.pg);
  field(out, "MV", s.mv);
  field(out, "MS", s.ms);
  field(out, "IT", s.it);
  field(out, "ID", s.id);
  out += ",\"RD\":[";
  for (size_t i = 0; i < s.readings.size(); ++i) {
    const OcmfReadingSpec& r = s.readings[i];
    std::string obj = "{";
    field(obj, "TM", r.tm);
    field(obj, "TX", r.tx);
    obj += ",\"RV\":" + r.rv;
    field(obj, "RI", r.ri);
    field(obj, "RU", r.ru);
    field(obj, "ST", r.st);
    out += (i > 0 ? "," : "") + obj + "}";
  }
  return out + "]}";
}

std::string SignOcmfProofRecord(const OcmfSigner& meter, const std::string& ms, const std::string& id, int64_t time_ms) {
  OcmfPayloadSpec spec;
  spec.ms = ms;
  spec.it = "CENTRAL";
  spec.id = id;
  spec.pg = "T1";
  spec.readings = {{FormatOcmfTime(time_ms, 0, 'S'), "B", "0", "1-b:1.8.0", "kWh", "G"}};
  return meter.SignRecord(BuildOcmfPayload(spec));
}

std::string FormatOcmfTime(int64_t unix_ms, int offset_minutes, char status) {
  V2G_ASSERT(offset_minutes >= -840 && offset_minutes <= 840);
  const int64_t local_ms = unix_ms + int64_t{offset_minutes} * 60000;
  V2G_ASSERT(local_ms >= 0);
  const std::string rfc = FormatRfc3339Ms(local_ms);  // "YYYY-MM-DDTHH:MM:SS[.fff]Z"
  const int abs_min = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  char tail[32];
  std::snprintf(tail, sizeof(tail), ",%03d%c%02d%02d %c", static_cast<int>(local_ms % 1000),
                offset_minutes < 0 ? '-' : '+', abs_min / 60, abs_min % 60, status);
  return rfc.substr(0, 19) + tail;
}

}  // namespace v2g
