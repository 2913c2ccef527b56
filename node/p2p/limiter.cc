#include "node/p2p/limiter.h"

#include <algorithm>
#include <array>

#include "common/assert.h"
#include "common/bytes.h"

namespace v2g::p2p {

namespace {

constexpr int64_t kMilli = 1000;  // tokens_milli of one handshake

HandshakeSource Ipv4Source(const boost::asio::ip::address_v4& v4) {
  auto bytes = v4.to_bytes();
  bytes[3] = 0;
  return {v4.to_string(), boost::asio::ip::address_v4(bytes).to_string() + "/24"};
}

}  // namespace

HandshakeSource SourceKey(const boost::asio::ip::address& address) {
  namespace ip = boost::asio::ip;
  if (address.is_v4()) return Ipv4Source(address.to_v4());
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) return Ipv4Source(ip::make_address_v4(ip::v4_mapped, v6));
  const auto b = v6.to_bytes();
  if (b[0] == 0x20 && b[1] == 0x02) {  // 6to4, 2002::/16: the IPv4 address follows
    return Ipv4Source(ip::address_v4(ip::address_v4::bytes_type{b[2], b[3], b[4], b[5]}));
  }
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) {  // Teredo, 2001:0::/32
    const auto client = [&](int i) { return static_cast<uint8_t>(b[i] ^ 0xff); };
    return Ipv4Source(
        ip::address_v4(ip::address_v4::bytes_type{client(12), client(13), client(14), client(15)}));
  }
  return {HexEncode(ByteView(b.data(), 8)) + "::/64", HexEncode(ByteView(b.data(), 6)) + "::/48"};
}

HandshakeLimiter::HandshakeLimiter(HandshakeLimits limits) : limits_(limits) {
  V2G_ASSERT(limits_.pending_per_source_max >= 1 && limits_.burst >= 1);
  V2G_ASSERT(limits_.per_second >= 1 && limits_.sources_max >= 1);
  V2G_ASSERT(limits_.pending_per_prefix_max >= 1 && limits_.prefix_burst >= 1);
  V2G_ASSERT(limits_.prefix_per_second >= 1 && limits_.prefixes_max >= 1);
  V2G_ASSERT(limits_.global_burst >= 1 && limits_.global_per_second >= 1);
  global_.tokens_milli = limits_.global_burst * kMilli;
}

void HandshakeLimiter::Refill(Bucket& b, Rate rate, int64_t now_ms) {
  const int64_t cap = rate.burst * kMilli;
  const int64_t elapsed = std::max<int64_t>(0, now_ms - b.refilled_ms);
  // per_second tokens a second is per_second milli-tokens a millisecond; clamp before multiplying
  // so a long idle time cannot overflow.
  const int64_t full_after_ms = (cap + rate.per_second - 1) / rate.per_second;
  b.tokens_milli =
      elapsed >= full_after_ms ? cap : std::min(cap, b.tokens_milli + elapsed * rate.per_second);
  b.refilled_ms = std::max(b.refilled_ms, now_ms);
}

// Whether the entry under `key` would take one more handshake (refilled to now_ms and marked seen
// first). A missing entry would: it starts full with none in progress.
bool HandshakeLimiter::Allows(Buckets& m, const std::string& key, int64_t pending_max, Rate rate,
                              int64_t now_ms) {
  auto it = m.find(key);
  if (it == m.end()) return true;
  Bucket& b = it->second;
  b.seen_ms = std::max(b.seen_ms, now_ms);
  Refill(b, rate, now_ms);
  return b.pending < pending_max && b.tokens_milli >= kMilli;
}

// Whether Track(m, key, entries_max, ...) will find or make room for `key`.
bool HandshakeLimiter::HasRoom(const Buckets& m, const std::string& key, size_t entries_max) {
  if (m.size() < entries_max || m.contains(key)) return true;
  return std::any_of(m.begin(), m.end(), [](const auto& e) { return e.second.pending == 0; });
}

// The entry under `key`, added full when missing (forgetting another if the map is full: the
// caller checked HasRoom).
HandshakeLimiter::Bucket& HandshakeLimiter::Track(Buckets& m, const std::string& key,
                                                  size_t entries_max, Rate rate, int64_t now_ms) {
  auto it = m.find(key);
  if (it != m.end()) return it->second;
  if (m.size() >= entries_max) {
    const bool made_room = MakeRoom(m);
    V2G_ASSERT(made_room);
  }
  it = m.emplace(key, Bucket{0, rate.burst * kMilli, now_ms, now_ms}).first;
  V2G_ASSERT(m.size() <= entries_max);
  return it->second;
}

// Forgets the least recently seen entry with no handshake in progress. False when every entry
// has one in progress.
bool HandshakeLimiter::MakeRoom(Buckets& m) {
  auto victim = m.end();
  for (auto it = m.begin(); it != m.end(); ++it) {
    if (it->second.pending > 0) continue;
    if (victim == m.end() || it->second.seen_ms < victim->second.seen_ms) victim = it;
  }
  if (victim == m.end()) return false;
  m.erase(victim);
  return true;
}

bool HandshakeLimiter::Admit(const HandshakeSource& source, int64_t now_ms) {
  const Rate source_rate{limits_.burst, limits_.per_second};
  const Rate prefix_rate{limits_.prefix_burst, limits_.prefix_per_second};
  Refill(global_, Rate{limits_.global_burst, limits_.global_per_second}, now_ms);
  // Every check before anything is added, so a refused connection adds nothing (and forgets
  // nothing) either; both maps are asked so both entries count as seen.
  const bool source_ok =
      Allows(sources_, source.address, limits_.pending_per_source_max, source_rate, now_ms);
  const bool prefix_ok =
      Allows(prefixes_, source.prefix, limits_.pending_per_prefix_max, prefix_rate, now_ms);
  if (!source_ok || !prefix_ok || global_.tokens_milli < kMilli) return false;
  if (!HasRoom(sources_, source.address, limits_.sources_max) ||
      !HasRoom(prefixes_, source.prefix, limits_.prefixes_max)) {
    return false;
  }
  Bucket& s = Track(sources_, source.address, limits_.sources_max, source_rate, now_ms);
  Bucket& p = Track(prefixes_, source.prefix, limits_.prefixes_max, prefix_rate, now_ms);
  for (Bucket* b : {&s, &p, &global_}) {
    V2G_ASSERT(b->tokens_milli >= kMilli);
    b->tokens_milli -= kMilli;
  }
  ++s.pending;
  ++p.pending;
  V2G_ASSERT(s.pending <= limits_.pending_per_source_max);
  V2G_ASSERT(p.pending <= limits_.pending_per_prefix_max);
  return true;
}

void HandshakeLimiter::Release(const HandshakeSource& source) {
  // Never forgotten while pending.
  auto s = sources_.find(source.address);
  auto p = prefixes_.find(source.prefix);
  V2G_ASSERT(s != sources_.end() && s->second.pending > 0);
  V2G_ASSERT(p != prefixes_.end() && p->second.pending > 0);
  --s->second.pending;
  --p->second.pending;
}

int64_t HandshakeLimiter::pending(const std::string& address_key) const {
  auto it = sources_.find(address_key);
  return it == sources_.end() ? 0 : it->second.pending;
}

int64_t HandshakeLimiter::prefix_pending(const std::string& prefix_key) const {
  auto it = prefixes_.find(prefix_key);
  return it == prefixes_.end() ? 0 : it->second.pending;
}

}  // namespace v2g::p2p
