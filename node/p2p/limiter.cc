#include "node/p2p/limiter.h"

#include <algorithm>
#include <array>

#include "common/assert.h"
#include "common/bytes.h"

namespace v2g::p2p {

std::string SourceKey(const boost::asio::ip::address& address) {
  if (address.is_v4()) return address.to_v4().to_string();
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
  }
  const auto bytes = v6.to_bytes();
  return HexEncode(ByteView(bytes.data(), 8)) + "::/64";
}

HandshakeLimiter::HandshakeLimiter(HandshakeLimits limits) : limits_(limits) {
  V2G_ASSERT(limits_.pending_per_source_max >= 1 && limits_.burst >= 1);
  V2G_ASSERT(limits_.per_second >= 1 && limits_.sources_max >= 1);
}

void HandshakeLimiter::Refill(Source& s, int64_t now_ms) const {
  const int64_t cap = limits_.burst * 1000;
  const int64_t elapsed = std::max<int64_t>(0, now_ms - s.refilled_ms);
  // per_second tokens a second is per_second milli-tokens a millisecond; clamp before multiplying
  // so a long idle time cannot overflow.
  const int64_t full_after_ms = (cap + limits_.per_second - 1) / limits_.per_second;
  s.tokens_milli =
      elapsed >= full_after_ms ? cap : std::min(cap, s.tokens_milli + elapsed * limits_.per_second);
  s.refilled_ms = std::max(s.refilled_ms, now_ms);
}

// Forgets the least recently seen source with no handshake in progress. False when every source
// has one in progress.
bool HandshakeLimiter::MakeRoom() {
  auto victim = sources_.end();
  for (auto it = sources_.begin(); it != sources_.end(); ++it) {
    if (it->second.pending > 0) continue;
    if (victim == sources_.end() || it->second.seen_ms < victim->second.seen_ms) victim = it;
  }
  if (victim == sources_.end()) return false;
  sources_.erase(victim);
  return true;
}

bool HandshakeLimiter::Admit(const std::string& source, int64_t now_ms) {
  auto it = sources_.find(source);
  if (it == sources_.end()) {
    if (sources_.size() >= limits_.sources_max && !MakeRoom()) return false;
    it = sources_.emplace(source, Source{0, limits_.burst * 1000, now_ms, now_ms}).first;
  }
  Source& s = it->second;
  s.seen_ms = std::max(s.seen_ms, now_ms);
  Refill(s, now_ms);
  if (s.pending >= limits_.pending_per_source_max || s.tokens_milli < 1000) return false;
  s.tokens_milli -= 1000;
  ++s.pending;
  V2G_ASSERT(sources_.size() <= limits_.sources_max);
  return true;
}

void HandshakeLimiter::Release(const std::string& source) {
  auto it = sources_.find(source);
  V2G_ASSERT(it != sources_.end() && it->second.pending > 0);  // never forgotten while pending
  --it->second.pending;
}

int64_t HandshakeLimiter::pending(const std::string& source) const {
  auto it = sources_.find(source);
  return it == sources_.end() ? 0 : it->second.pending;
}

}  // namespace v2g::p2p
