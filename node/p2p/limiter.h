// HandshakeLimiter: what sources may cost before they have authenticated. Every handshake must pass
// three token buckets, and two bounds on handshakes in progress (see SourceKey for the keys):
//   - per source (an IPv4 address, or an IPv6 /64): `pending_per_source_max` at once and a bucket
//     of `burst` refilled at `per_second`;
//   - per prefix (the source's IPv4 /24 or IPv6 /48): `pending_per_prefix_max` at once and a
//     bucket of `prefix_burst` refilled at `prefix_per_second`, so renting many addresses in one
//     prefix buys little;
//   - over all sources: a bucket of `global_burst` refilled at `global_per_second`, so many
//     prefixes cannot buy unbounded crypto either (the bound on handshakes in progress in all is
//     the caller's, kP2pHandshakesPendingMax).
// A connection over any of them is closed at once, and nothing is counted for it. The sources and
// prefixes it remembers are bounded (`sources_max`, `prefixes_max`); when a map is full it forgets
// its least recently seen entry with no handshake in progress (whose bucket restarts full: only an
// attacker with more than that many sources or prefixes gains from that, and the global bucket and
// pending bound still hold). Numbers and reasons: common/limits.h.
// Internal to node/p2p/. Deterministic: the caller passes a monotonic clock reading. Not
// thread-safe (the P2P thread owns it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "common/limits.h"
#include "node/p2p/asio.h"

namespace v2g::p2p {

struct HandshakeLimits {
  int64_t pending_per_source_max = limits::kHandshakesPendingPerIpMax;
  int64_t burst = limits::kHandshakeBurstPerIp;
  int64_t per_second = limits::kHandshakesPerIpPerSecond;
  size_t sources_max = limits::kHandshakeIpsTrackedMax;
  int64_t pending_per_prefix_max = limits::kHandshakesPendingPerPrefixMax;
  int64_t prefix_burst = limits::kHandshakeBurstPerPrefix;
  int64_t prefix_per_second = limits::kHandshakesPerPrefixPerSecond;
  size_t prefixes_max = limits::kHandshakePrefixesTrackedMax;
  int64_t global_burst = limits::kHandshakeBurstGlobal;
  int64_t global_per_second = limits::kHandshakesGlobalPerSecond;
};

// The keys one connection's limits are counted under.
struct HandshakeSource {
  std::string address;  // "192.0.2.7", or "<16 hex digits>::/64"
  std::string prefix;   // "192.0.2.0/24", or "<12 hex digits>::/48"
};

// The keys of a remote address: for IPv4 the address and its /24; for IPv6 its /64 and /48, except
// that an address embedding an IPv4 one counts as that IPv4 address: IPv4-mapped (::ffff:a.b.c.d),
// 6to4 (2002:AABB:CCDD::/48, the IPv4 in bits 16-47) and Teredo (2001:0::/32, the client's IPv4 in
// the last 32 bits XOR 0xffffffff). Otherwise one IPv4 host would own 65,536 fresh /64s in 6to4 or
// any number of Teredo addresses (server, flags and port are the sender's to vary).
HandshakeSource SourceKey(const boost::asio::ip::address& address);

class HandshakeLimiter {
 public:
  // Asserts every limit is >= 1.
  explicit HandshakeLimiter(HandshakeLimits limits);
  // A new connection from `source` at `now_ms`: true when it may start a handshake, which then
  // counts as pending until Release(source). False (nothing counted) when the source or its prefix
  // has its maximum of handshakes in progress, any of its three buckets is empty, or a map is full
  // with every entry having a handshake in progress.
  bool Admit(const HandshakeSource& source, int64_t now_ms);
  // The end of a handshake Admit let start (whatever its outcome); `source` as given to Admit.
  void Release(const HandshakeSource& source);

  size_t sources() const { return sources_.size(); }
  size_t prefixes() const { return prefixes_.size(); }
  int64_t pending(const std::string& address_key) const;
  int64_t prefix_pending(const std::string& prefix_key) const;

 private:
  struct Bucket {
    int64_t pending = 0;
    int64_t tokens_milli = 0;  // 1000 per handshake
    int64_t refilled_ms = 0;
    int64_t seen_ms = 0;
  };
  struct Rate {
    int64_t burst = 0;
    int64_t per_second = 0;
  };
  using Buckets = std::map<std::string, Bucket>;

  static void Refill(Bucket& b, Rate rate, int64_t now_ms);
  static bool Allows(Buckets& m, const std::string& key, int64_t pending_max, Rate rate,
                     int64_t now_ms);
  static bool HasRoom(const Buckets& m, const std::string& key, size_t entries_max);
  static Bucket& Track(Buckets& m, const std::string& key, size_t entries_max, Rate rate,
                       int64_t now_ms);
  static bool MakeRoom(Buckets& m);

  const HandshakeLimits limits_;
  Buckets sources_;
  Buckets prefixes_;
  Bucket global_;  // its pending is unused (the caller bounds handshakes in progress in all)
};

}  // namespace v2g::p2p
