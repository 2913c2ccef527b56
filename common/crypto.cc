#include "common/crypto.h"

#include <sodium.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <set>
#include <unordered_map>

#include "common/fuzz_switch.h"

namespace v2g {

void InitCrypto() { V2G_ASSERT(sodium_init() >= 0); }

Hash256 Blake2b256(ByteView data) {
  Hash256 out;
  crypto_generichash(out.data(), out.size(), data.data(), data.size(), nullptr, 0);
  return out;
}

Hash256 HashFromString(std::string_view s) {
  V2G_ASSERT(s.size() == 32);
  Hash256 h;
  std::copy(s.begin(), s.end(), h.begin());
  return h;
}

Hash256 MerkleRoot(const std::vector<std::string>& items) {
  if (items.empty()) return Blake2b256(ByteView{});
  std::vector<Hash256> level;
  level.reserve(items.size());
  for (const auto& item : items) {
    std::string leaf(1, '\0');
    leaf += item;
    level.push_back(Blake2b256(leaf));
  }
  while (level.size() > 1) {
    std::vector<Hash256> next;
    next.reserve((level.size() + 1) / 2);
    for (size_t i = 0; i < level.size(); i += 2) {
      if (i + 1 == level.size()) {  // odd node is promoted unchanged
        next.push_back(level[i]);
        continue;
      }
      uint8_t buf[65];
      buf[0] = 1;
      std::copy(level[i].begin(), level[i].end(), buf + 1);
      std::copy(level[i + 1].begin(), level[i + 1].end(), buf + 33);
      next.push_back(Blake2b256(ByteView(buf, sizeof(buf))));
    }
    level = std::move(next);
  }
  return level[0];
}

KeyPair KeyPair::Generate() {
  KeyPair kp;
  crypto_sign_keypair(kp.public_.data(), kp.secret_.data());
  return kp;
}

KeyPair KeyPair::FromSeed(ByteView seed) {
  V2G_ASSERT(seed.size() == kSeedBytes);
  KeyPair kp;
  crypto_sign_seed_keypair(kp.public_.data(), kp.secret_.data(), seed.data());
  return kp;
}

KeyPair::~KeyPair() { sodium_memzero(secret_.data(), secret_.size()); }

Bytes KeyPair::Seed() const { return Bytes(secret_.begin(), secret_.begin() + kSeedBytes); }

Signature KeyPair::Sign(ByteView message) const {
  Signature sig;
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_.data());
  return sig;
}

namespace {
std::atomic<uint64_t> g_ed25519_verifications{0};
}  // namespace

uint64_t Ed25519Verifications() { return g_ed25519_verifications.load(std::memory_order_relaxed); }

bool Verify(const PublicKey& public_key, ByteView message, const Signature& signature) {
  if (FuzzSignatureChecksSkipped()) return true;  // constant false outside fuzz builds
  g_ed25519_verifications.fetch_add(1, std::memory_order_relaxed);
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                     public_key.data()) == 0;
}

#ifdef V2G_FUZZING
namespace {
std::atomic<bool> g_fuzz_skip_signature_checks{false};
}  // namespace
void FuzzSkipSignatureChecks() { g_fuzz_skip_signature_checks.store(true); }
bool FuzzSignatureChecksSkipped() { return g_fuzz_skip_signature_checks.load(); }
#endif

bool VerifyRaw(std::string_view public_key, std::string_view message, std::string_view signature) {
  if (public_key.size() != kPublicKeyBytes || signature.size() != kSignatureBytes) return false;
  PublicKey pk;
  Signature sig;
  std::copy(public_key.begin(), public_key.end(), pk.begin());
  std::copy(signature.begin(), signature.end(), sig.begin());
  return Verify(pk, AsBytes(message), sig);
}

namespace {
// The keys are BLAKE2b outputs, uniformly random: their first 8 bytes are a perfect hash. A hash
// table instead of a tree: a lookup is one probe, not ~18 key comparisons that each miss the CPU
// cache (the tree was a visible share of every tx's admission). Never iterated, so its order
// cannot reach consensus.
struct Hash256Prefix {
  size_t operator()(const Hash256& h) const {
    uint64_t v = 0;
    std::memcpy(&v, h.data(), sizeof v);
    return static_cast<size_t>(v);
  }
};
struct SigCache {
  SigCache() {
    current.reserve(kSigCacheEntriesMax / 2);
    previous.reserve(kSigCacheEntriesMax / 2);
  }
  std::mutex mu;
  std::unordered_map<Hash256, bool, Hash256Prefix> current, previous;  // verdicts
  uint64_t verifications = 0;
  uint64_t lookups = 0;
};
SigCache& TheSigCache() {
  static SigCache cache;
  return cache;
}
}  // namespace

bool VerifyRawCached(std::string_view public_key, std::string_view message, std::string_view signature) {
  std::string key_material;
  key_material.reserve(public_key.size() + signature.size() + message.size() + 16);
  // Both lengths prefixed: a verdict (also "false") must never be shared by two different
  // (key, signature, message) triples.
  key_material += std::to_string(public_key.size());
  key_material += ':';
  key_material += std::to_string(signature.size());
  key_material += ':';
  key_material += public_key;
  key_material += signature;
  key_material += message;
  return CachedVerdict(key_material, [&] { return VerifyRaw(public_key, message, signature); });
}

bool CachedVerdict(std::string_view key_material, const std::function<bool()>& verify) {
  const Hash256 key = Blake2b256(key_material);
  SigCache& c = TheSigCache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    ++c.lookups;
    if (auto it = c.current.find(key); it != c.current.end()) return it->second;
    if (auto it = c.previous.find(key); it != c.previous.end()) return it->second;
  }
  const bool ok = verify();
  std::lock_guard<std::mutex> lock(c.mu);
  ++c.verifications;
  if (c.current.size() >= kSigCacheEntriesMax / 2) {
    std::swap(c.previous, c.current);  // both keep their buckets: no rehash as it fills again
    c.current.clear();
  }
  c.current.emplace(key, ok);
  return ok;
}

uint64_t SigCacheVerifications() {
  SigCache& c = TheSigCache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.verifications;
}

uint64_t SigCacheLookups() {
  SigCache& c = TheSigCache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.lookups;
}

void SecureWipe(void* data, size_t size) { sodium_memzero(data, size); }

}  // namespace v2g
