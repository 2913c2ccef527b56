// Conn: the state of one TCP connection of the P2p transport, from connect/accept to close, and
// the Boost.Asio names the files of node/p2p/ share. Internal to node/p2p/ (impl.h lists what each
// file does); p2p.h is the interface.
#pragma once

#include <sodium.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/crypto.h"
#include "common/status.h"
#include "node/p2p/asio.h"
#include "node/p2p/limiter.h"
#include "node/p2p/outbound.h"
#include "node/p2p/p2p.h"

namespace v2g::p2p {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
template <typename T>
using Awaitable = asio::awaitable<T>;

// For `co_await op(..., Redirect(ec))`: the error lands in `ec` instead of being thrown.
inline auto Redirect(error_code& ec) { return asio::redirect_error(asio::use_awaitable, ec); }

// How logs and errors name a node.
inline std::string KeyHex(const PublicKey& key) { return HexEncode(ByteView(key)); }

// One TCP connection, from connect/accept to close. Socket, timers and crypto state are touched
// only on the P2P thread; the fields under "Guarded by Impl::mu" are shared with Send/Broadcast
// callers.
struct Conn {
  Conn(asio::io_context& io, tcp::socket s, bool is_inbound)
      : socket(std::move(s)), handshake_timer(io), wake(io), read_wake(io), inbound(is_inbound) {}
  ~Conn() {
    sodium_memzero(&push, sizeof(push));
    sodium_memzero(&pull, sizeof(pull));
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  tcp::socket socket;
  asio::steady_timer handshake_timer;  // closes the socket if the handshake is not done in time
  asio::steady_timer wake;             // the writer sleeps on it while the queue is empty
  asio::steady_timer read_wake;        // the reader sleeps on it while its reads are paused
  const bool inbound;
  std::string address = "?";
  HandshakeSource source;  // HandshakeLimiter keys of an inbound connection's remote address
  std::array<uint8_t, 32> dialer_eph{};
  std::array<uint8_t, 32> listener_eph{};
  crypto_secretstream_xchacha20poly1305_state push{};
  crypto_secretstream_xchacha20poly1305_state pull{};
  std::vector<uint8_t> rbuf;
  std::vector<uint8_t> wbuf;
  std::optional<PublicKey> expected;  // outbound: the key dialled
  PublicKey peer{};                   // valid once `authenticated`
  int64_t since_ms = 0;               // Unix ms, for PeerInfo
  std::chrono::steady_clock::time_point registered_at;
  bool authenticated = false;
  bool handshake_done = false;
  bool timed_out = false;
  bool pending_counted = false;  // counted in Impl::pending_inbound and by Impl::limiter
  bool registered = false;       // was in Impl::peers at some point
  bool closed = false;
  std::optional<Status> close_reason;  // why we closed it, if we did
  // Message bytes (channel byte and payload, before encryption) read and written; written on
  // the P2P thread, read by Peers() on any.
  std::atomic<int64_t> bytes_in{0};
  std::atomic<int64_t> bytes_out{0};
  // Guarded by Impl::mu.
  OutboundQueue queue{kP2pQueueMessagesMax, kP2pQueueBytesMax};  // consensus first: outbound.h
  bool writer_waiting = false;
  bool send_closed = false;
  bool read_paused = false;     // the handler said kPause; the reader waits on read_wake
  bool resume_pending = false;  // ResumeReads came before the reader saw its pause
};
using ConnPtr = std::shared_ptr<Conn>;

}  // namespace v2g::p2p
