// HandshakeLimiter: what one source address may cost before it has authenticated. Per source (an
// IPv4 address, or an IPv6 /64, see SourceKey) at most `pending_per_source_max` handshakes at once
// and a token bucket of `burst` handshakes refilled at `per_second`; a connection over either is
// closed at once. The sources it remembers are bounded; when full it forgets the least recently
// seen source with no handshake in progress (its bucket restarts full: only a host with more than
// `sources_max` addresses gains from that, and the global pending bound still holds).
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
};

// The key a connection's limits are counted under: the IPv4 address (also when written as an
// IPv4-mapped IPv6 address), or the first 64 bits of an IPv6 address.
std::string SourceKey(const boost::asio::ip::address& address);

class HandshakeLimiter {
 public:
  explicit HandshakeLimiter(HandshakeLimits limits);
  // A new connection from `source` at `now_ms`: true when it may start a handshake, which then
  // counts as pending until Release(source). False (nothing counted) when the source has
  // pending_per_source_max handshakes in progress, its bucket is empty, or every remembered source
  // has a handshake in progress.
  bool Admit(const std::string& source, int64_t now_ms);
  // The end of a handshake Admit let start (whatever its outcome).
  void Release(const std::string& source);

  size_t sources() const { return sources_.size(); }
  int64_t pending(const std::string& source) const;

 private:
  struct Source {
    int64_t pending = 0;
    int64_t tokens_milli = 0;  // 1000 per handshake
    int64_t refilled_ms = 0;
    int64_t seen_ms = 0;
  };
  bool MakeRoom();
  void Refill(Source& s, int64_t now_ms) const;

  const HandshakeLimits limits_;
  std::map<std::string, Source> sources_;
};

}  // namespace v2g::p2p
