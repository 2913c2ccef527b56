#include "common/passphrase_seal.h"

#include <sodium.h>

#include <string>

#include "common/assert.h"
#include "common/crypto.h"

namespace v2g {
namespace {

constexpr size_t kAeadKeyBytes = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
static_assert(kSealSaltBytes == crypto_pwhash_SALTBYTES);
static_assert(kSealNonceBytes == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kSealTagBytes == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(kAeadKeyBytes == 32);

const uint8_t* AdBytes(std::string_view ad) { return reinterpret_cast<const uint8_t*>(ad.data()); }

// Argon2id13(passphrase, salt) -> the AEAD key.
Status DeriveKey(std::string_view passphrase, const SealedSecret& s, SecretBytes& key) {
  V2G_ASSERT(s.salt.size() == kSealSaltBytes && key.bytes().size() == kAeadKeyBytes);
  if (crypto_pwhash(key.bytes().data(), key.bytes().size(), passphrase.data(), passphrase.size(),
                    s.salt.data(), s.opslimit, s.memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Error(Code::kInternal, "key derivation failed (out of memory? it needs " +
                                      std::to_string(s.memlimit >> 20) + " MiB)");
  }
  return Status::Ok();
}

}  // namespace

KdfLimits KdfLimits::Interactive() {
  return {crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE, crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE};
}

KdfLimits KdfLimits::Min() {
  return {crypto_pwhash_argon2id_OPSLIMIT_MIN, crypto_pwhash_argon2id_MEMLIMIT_MIN};
}

SecretBytes::~SecretBytes() { SecureWipe(bytes_.data(), bytes_.size()); }

Status ValidateSealed(const SealedSecret& s, size_t secret_bytes) {
  auto corrupt = [](const std::string& why) { return Error(Code::kCorruption, why); };
  if (s.salt.size() != kSealSaltBytes) return corrupt("kdf.salt must be 16 bytes");
  if (s.nonce.size() != kSealNonceBytes) return corrupt("cipher.nonce must be 24 bytes");
  if (s.opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN || s.opslimit > kKdfOpsLimitMax) {
    return corrupt("kdf.opslimit " + std::to_string(s.opslimit) + " is out of range");
  }
  if (s.memlimit < crypto_pwhash_argon2id_MEMLIMIT_MIN || s.memlimit > kKdfMemLimitMax) {
    return corrupt("kdf.memlimit " + std::to_string(s.memlimit) + " is out of range");
  }
  if (s.ciphertext.size() != secret_bytes + kSealTagBytes) {
    return corrupt("ciphertext has the wrong length");
  }
  return Status::Ok();
}

Result<SealedSecret> SealWithPassphrase(ByteView secret, std::string_view passphrase,
                                        std::string_view associated_data, KdfLimits limits) {
  V2G_ASSERT(limits.opslimit >= crypto_pwhash_argon2id_OPSLIMIT_MIN &&
             limits.opslimit <= kKdfOpsLimitMax);
  V2G_ASSERT(limits.memlimit >= crypto_pwhash_argon2id_MEMLIMIT_MIN &&
             limits.memlimit <= kKdfMemLimitMax);
  if (passphrase.empty()) return Error(Code::kInvalidArgument, "passphrase must not be empty");
  SealedSecret s;
  s.opslimit = limits.opslimit;
  s.memlimit = limits.memlimit;
  s.salt.resize(kSealSaltBytes);
  s.nonce.resize(kSealNonceBytes);
  randombytes_buf(s.salt.data(), s.salt.size());
  randombytes_buf(s.nonce.data(), s.nonce.size());
  SecretBytes key(kAeadKeyBytes);
  V2G_RETURN_IF_ERROR(DeriveKey(passphrase, s, key));
  s.ciphertext.resize(secret.size() + kSealTagBytes);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      s.ciphertext.data(), &clen, secret.data(), secret.size(), AdBytes(associated_data),
      associated_data.size(), nullptr, s.nonce.data(), key.bytes().data());
  V2G_ASSERT(clen == s.ciphertext.size());
  return s;
}

Status OpenWithPassphrase(const SealedSecret& s, std::string_view passphrase,
                          std::string_view associated_data, SecretBytes& out) {
  V2G_ASSERT(ValidateSealed(s, out.bytes().size()).ok());
  SecretBytes key(kAeadKeyBytes);
  V2G_RETURN_IF_ERROR(DeriveKey(passphrase, s, key));
  unsigned long long mlen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.bytes().data(), &mlen, nullptr,
                                                 s.ciphertext.data(), s.ciphertext.size(),
                                                 AdBytes(associated_data), associated_data.size(),
                                                 s.nonce.data(), key.bytes().data()) != 0) {
    SecureWipe(out.bytes().data(), out.bytes().size());
    return Error(Code::kUnauthorized, "wrong passphrase");
  }
  V2G_ASSERT(mlen == out.bytes().size());
  return Status::Ok();
}

}  // namespace v2g
