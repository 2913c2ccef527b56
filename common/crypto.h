// Hashes (BLAKE2b-256) and Ed25519 keys, signatures (libsodium). All functions are thread-safe
// once InitCrypto() has run (it is idempotent and cheap; every program calls it at start).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"

namespace v2g {

void InitCrypto();  // aborts if libsodium cannot initialise

using Hash256 = std::array<uint8_t, 32>;
Hash256 Blake2b256(ByteView data);
inline Hash256 Blake2b256(std::string_view data) { return Blake2b256(AsBytes(data)); }
inline std::string HashString(const Hash256& h) { return {reinterpret_cast<const char*>(h.data()), 32}; }
// Inverse of HashString; `s` must be exactly 32 bytes (a programmer error otherwise).
Hash256 HashFromString(std::string_view s);

// Merkle root over leaves, RFC 6962 style: leaf = H(0x00 || item), node = H(0x01 || l || r), the
// empty list hashes to H(""). Domain separation stops a leaf from passing as an inner node.
Hash256 MerkleRoot(const std::vector<std::string>& items);

constexpr size_t kPublicKeyBytes = 32;
constexpr size_t kSecretKeyBytes = 64;  // libsodium layout: seed || public key
constexpr size_t kSeedBytes = 32;
constexpr size_t kSignatureBytes = 64;

using PublicKey = std::array<uint8_t, kPublicKeyBytes>;
using Signature = std::array<uint8_t, kSignatureBytes>;

// An Ed25519 key pair. The secret is wiped on destruction.
class KeyPair {
 public:
  static KeyPair Generate();
  static KeyPair FromSeed(ByteView seed);  // seed.size() must be kSeedBytes
  KeyPair(const KeyPair&) = default;
  KeyPair& operator=(const KeyPair&) = default;
  ~KeyPair();

  const PublicKey& public_key() const { return public_; }
  Bytes Seed() const;  // 32 bytes; the caller must wipe it
  Signature Sign(ByteView message) const;

 private:
  KeyPair() = default;
  PublicKey public_{};
  std::array<uint8_t, kSecretKeyBytes> secret_{};
};

// True when `signature` is a valid Ed25519 signature of `message` under `public_key`.
bool Verify(const PublicKey& public_key, ByteView message, const Signature& signature);
// How many Ed25519 verifications this process has run (Verify and everything built on it), for
// tests of the signature work an input can cause, and for metrics.
uint64_t Ed25519Verifications();
// Same, for raw byte strings of any length (wrong lengths verify as false).
bool VerifyRaw(std::string_view public_key, std::string_view message, std::string_view signature);

// Like VerifyRaw, but remembers signatures that verified (after Bitcoin Core's signature cache):
// a consensus vote is seen in gossip, again in the next block's last commit and perhaps in
// evidence, and is checked once; a meter reading is checked at mempool admission, at each
// re-check and in the block. Both verdicts are cached (a forged reading is not verified twice
// either), keyed by BLAKE2b(len(pk) || len(sig) || pk || sig || msg); the verdict is a pure function of the
// key, so the cache can change how fast an answer comes, never what it is. Bounded (two generations
// of kSigCacheEntriesMax / 2) and thread-safe. Used for consensus votes and meter readings; tx
// signatures have their own once-only path (the mempool's verified set).
bool VerifyRawCached(std::string_view public_key, std::string_view message, std::string_view signature);
// The same cache for other signature schemes (OCMF's ECDSA): the verdict of `verify` is cached
// under BLAKE2b(key_material). `key_material` must hold everything the verdict depends on (key,
// signature, message) with a domain prefix that cannot start with a decimal digit (VerifyRawCached's
// material starts with the key length), and `verify` must be a pure function of it.
bool CachedVerdict(std::string_view key_material, const std::function<bool()>& verify);
// How many signatures VerifyRawCached has actually verified (cache misses), for tests and metrics.
uint64_t SigCacheVerifications();
// How many verdicts were asked of the cache (hits are lookups - verifications), for metrics.
uint64_t SigCacheLookups();
constexpr size_t kSigCacheEntriesMax = 1 << 18;  // ~16 MiB; far more than one height's votes

// Wipes memory that held a secret.
void SecureWipe(void* data, size_t size);

}  // namespace v2g
