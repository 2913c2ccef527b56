// A secret sealed under a passphrase: Argon2id13 (libsodium's crypto_pwhash) derives a 32-byte key
// from the passphrase and a random salt, and XChaCha20-Poly1305-IETF encrypts the secret under it
// with a random nonce and the caller's associated data. What the wallet keystore
// (wallet/keystore.h) and the node's key files (node/keys.h) keep on disk; each file format binds
// its own public fields (name, address, key type, public key) as the associated data, so a
// ciphertext moved into another file, or a file given another public key, fails to open.
//
// A wrong passphrase and a modified salt, nonce, ciphertext or associated data cannot be told
// apart: all fail the AEAD tag (kUnauthorized). The KDF cost is stored with the secret, and a
// reader checks it against the ceilings below before running the KDF: a sealed secret is input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/bytes.h"
#include "common/status.h"

namespace v2g {

// The names files record for the KDF and the cipher, so a future change can be recognised.
inline constexpr std::string_view kSealKdfName = "argon2id13";
inline constexpr std::string_view kSealCipherName = "xchacha20poly1305-ietf";
inline constexpr size_t kSealSaltBytes = 16;   // crypto_pwhash_SALTBYTES
inline constexpr size_t kSealNonceBytes = 24;  // crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
inline constexpr size_t kSealTagBytes = 16;    // crypto_aead_xchacha20poly1305_ietf_ABYTES

// A sealed secret may not ask for more than this: a hostile file should not make its reader
// allocate gigabytes or spin for minutes. 1 GiB is libsodium's SENSITIVE level.
inline constexpr uint64_t kKdfOpsLimitMax = 16;
inline constexpr size_t kKdfMemLimitMax = size_t{1} << 30;

// Argon2id cost for new seals. Sealed secrets record their own, so opening uses what they say
// (within kKdfOpsLimitMax / kKdfMemLimitMax).
struct KdfLimits {
  uint64_t opslimit = 0;
  size_t memlimit = 0;
  static KdfLimits Interactive();  // libsodium's INTERACTIVE: about 64 MiB, ~0.1-0.5 s
  static KdfLimits Min();          // libsodium's MIN: weak, for tests only
};

// Secret bytes that wipe themselves (sodium_memzero) however the scope is left.
class SecretBytes {
 public:
  explicit SecretBytes(size_t n) : bytes_(n, 0) {}
  ~SecretBytes();
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  Bytes& bytes() { return bytes_; }
  const Bytes& bytes() const { return bytes_; }

 private:
  Bytes bytes_;
};

struct SealedSecret {
  Bytes salt;  // kSealSaltBytes
  uint64_t opslimit = 0;
  size_t memlimit = 0;
  Bytes nonce;       // kSealNonceBytes
  Bytes ciphertext;  // the secret's length + kSealTagBytes
};

// What can be checked without the passphrase: salt and nonce lengths, a ciphertext of
// `secret_bytes` + tag, the KDF cost within [libsodium's minimum, the ceilings above]. The error
// (kCorruption) names the field as files spell it ("kdf.opslimit 99 is out of range"); the caller
// adds which file.
Status ValidateSealed(const SealedSecret& sealed, size_t secret_bytes);

// Seals `secret` under `passphrase` (not empty: kInvalidArgument) with fresh random salt and
// nonce. kInternal when the KDF cannot run (out of memory for `limits.memlimit`).
Result<SealedSecret> SealWithPassphrase(ByteView secret, std::string_view passphrase,
                                        std::string_view associated_data, KdfLimits limits);

// Opens `sealed` (which must pass ValidateSealed) into `out`, which must have the secret's length.
// kUnauthorized "wrong passphrase" when the tag does not verify (or anything sealed was changed);
// `out` is then all zero.
Status OpenWithPassphrase(const SealedSecret& sealed, std::string_view passphrase,
                          std::string_view associated_data, SecretBytes& out);

}  // namespace v2g
