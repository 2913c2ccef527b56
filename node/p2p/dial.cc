// Accepting inbound connections and dialling the configured peers, redialling with backoff.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/p2p/conn.h"
#include "node/p2p/impl.h"
#include "node/p2p/limiter.h"
#include "node/p2p/p2p.h"

namespace v2g {

namespace asio = p2p::asio;
using p2p::Awaitable;
using p2p::Conn;
using p2p::error_code;
using p2p::KeyHex;
using p2p::Redirect;
using p2p::tcp;

namespace {

// TCP keepalive: a peer whose machine died (no FIN, no RST) would otherwise keep its slot for as
// long as we have nothing to send. Probing after 15 s idle, every 5 s, 3 times, finds it in ~30 s;
// TCP_USER_TIMEOUT does the same for a connection with unacknowledged data.
constexpr int kKeepAliveIdleS = 15;
constexpr int kKeepAliveIntervalS = 5;
constexpr int kKeepAliveProbes = 3;
constexpr unsigned kTcpUserTimeoutMs = 30000;
// After a failed accept (e.g. out of file descriptors) wait before trying again, so the loop does
// not spin.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

void TuneSocket(tcp::socket& socket) {
  error_code ec;
  socket.set_option(tcp::no_delay(true), ec);  // votes are small and latency-bound
  socket.set_option(asio::socket_base::keep_alive(true), ec);
#ifdef __linux__
  int fd = socket.native_handle();
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &kKeepAliveIdleS, sizeof(kKeepAliveIdleS));
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &kKeepAliveIntervalS, sizeof(kKeepAliveIntervalS));
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &kKeepAliveProbes, sizeof(kKeepAliveProbes));
  ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &kTcpUserTimeoutMs, sizeof(kTcpUserTimeoutMs));
#endif
}

std::string RemoteAddress(const tcp::socket& socket) {
  error_code ec;
  tcp::endpoint ep = socket.remote_endpoint(ec);
  if (ec) return "?";
  if (ep.address().is_v6())
    return "[" + ep.address().to_string() + "]:" + std::to_string(ep.port());
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace

Awaitable<void> P2p::Impl::AcceptLoop() {
  for (;;) {
    error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(Redirect(ec));
    if (stopping || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      spdlog::warn("p2p: accept failed: {}", ec.message());
      accept_retry.expires_after(kAcceptRetryDelay);
      co_await accept_retry.async_wait(Redirect(ec));
      continue;
    }
    error_code remote_ec;
    const tcp::endpoint remote = socket.remote_endpoint(remote_ec);
    const p2p::HandshakeSource source =
        remote_ec ? p2p::HandshakeSource{"?", "?"} : p2p::SourceKey(remote.address());
    // Refused connections are closed at once, before a byte is read or a key computed. Logged at
    // debug only: a flood of them must not flood the log either.
    if (pending_inbound >= kP2pHandshakesPendingMax) {
      spdlog::debug("p2p: refusing connection from {}: {} handshakes already pending",
                    RemoteAddress(socket), pending_inbound);
      ++stats.connections_refused;
      socket.close(ec);
      continue;
    }
    if (!limiter.Admit(source, MonotonicMs())) {
      spdlog::debug("p2p: refusing connection from {}: over the handshake limits of {} or {}",
                    RemoteAddress(socket), source.address, source.prefix);
      ++stats.connections_refused;
      socket.close(ec);
      continue;
    }
    auto c = std::make_shared<Conn>(io, std::move(socket), true);
    c->address = RemoteAddress(c->socket);
    c->source = source;
    c->pending_counted = true;
    ++pending_inbound;
    conns.insert(c);
    ++stats.connections_open;
    TuneSocket(c->socket);
    ArmHandshakeTimer(c);
    Spawn("inbound connection", RunConnection(c, std::nullopt));
  }
}

Awaitable<void> P2p::Impl::DialLoop(Dialer* d) {
  auto backoff = std::chrono::milliseconds(kP2pDialBackoffMinMs);
  while (!stopping) {
    auto wait = backoff;
    if (!IsAllowed(d->target.key)) {
      // Not allowed (yet, or any more: the allowed set follows the validator set): not dialled,
      // looked at again after the longest backoff.
      if (!d->skipped_logged) {
        spdlog::info(
            "p2p: not dialling configured peer {}: not a validator of the next two heights nor in "
            "[p2p] allowed (yet)",
            KeyHex(d->target.key));
        d->skipped_logged = true;
      }
      backoff = std::chrono::milliseconds(kP2pDialBackoffMinMs);
      wait = std::chrono::milliseconds(kP2pDialBackoffMaxMs);
    } else if (IsConnected(d->target.key)) {
      // Connected (maybe inbound): sleep until the peer disconnects (which cancels the timer).
      backoff = std::chrono::milliseconds(kP2pDialBackoffMinMs);
      wait = std::chrono::milliseconds(kP2pDialBackoffMaxMs);
    } else {
      // A connection that stayed up a while resets the backoff; one that drops right after the
      // handshake does not, so a flapping peer is not redialled in a tight loop.
      const bool stable = co_await DialOnce(d);
      if (stopping) break;
      if (stable) backoff = std::chrono::milliseconds(kP2pDialBackoffMinMs);
      wait = backoff;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(kP2pDialBackoffMaxMs));
    }
    error_code ec;
    d->timer.expires_after(wait);
    co_await d->timer.async_wait(Redirect(ec));
  }
}

// One attempt: resolve, connect, handshake and, if that works, run the connection until it ends.
// True when the connection was established and stayed up for at least the maximum backoff.
Awaitable<bool> P2p::Impl::DialOnce(Dialer* d) {
  const PeerAddress& t = d->target;
  const std::string where = t.host + ":" + std::to_string(t.port);
  error_code ec;
  std::vector<tcp::endpoint> endpoints;
  asio::ip::address literal = asio::ip::make_address(t.host, ec);
  if (!ec) {
    endpoints.emplace_back(literal, static_cast<uint16_t>(t.port));
  } else {  // a name: resolved on every attempt, so a moved peer is found again
    auto results = co_await d->resolver.async_resolve(t.host, std::to_string(t.port), Redirect(ec));
    for (const auto& r : results) endpoints.push_back(r.endpoint());
  }
  if (stopping) co_return false;
  auto c = std::make_shared<Conn>(io, tcp::socket(io), false);
  if (!ec) {
    conns.insert(c);
    ++stats.connections_open;
    ArmHandshakeTimer(c);
    co_await asio::async_connect(c->socket, endpoints, Redirect(ec));
    if (ec && c->timed_out) ec = asio::error::timed_out;
  }
  if (ec || stopping) {
    if (!stopping) {
      auto level = d->failing ? spdlog::level::debug : spdlog::level::info;
      spdlog::log(level, "p2p: cannot connect to {} ({}): {}; retrying with backoff", where,
                  KeyHex(t.key), ec.message());
    }
    d->failing = true;
    Close(c, Error(Code::kIo, "connect failed"));
    if (conns.erase(c) > 0) --stats.connections_open;
    co_return false;
  }
  d->failing = false;
  c->expected = t.key;
  c->address = RemoteAddress(c->socket);
  TuneSocket(c->socket);
  co_await RunConnection(c, t.key);
  co_return c->registered&& std::chrono::steady_clock::now() - c->registered_at >=
      std::chrono::milliseconds(kP2pDialBackoffMaxMs);
}

}  // namespace v2g
