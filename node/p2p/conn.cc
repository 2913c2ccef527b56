// One connection's life: the handshake timer, handshake -> register -> reader and writer, close.
#include "node/p2p/conn.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "common/assert.h"
#include "node/p2p/impl.h"

namespace v2g {

using p2p::Awaitable;
using p2p::Conn;
using p2p::ConnPtr;
using p2p::error_code;
using p2p::tcp;

void P2p::Impl::ArmHandshakeTimer(const ConnPtr& c) {
  c->handshake_timer.expires_after(std::chrono::milliseconds(config.handshake_timeout_ms));
  c->handshake_timer.async_wait([c](const error_code& ec) {
    if (ec || c->handshake_done) return;
    c->timed_out = true;
    error_code ignored;
    c->socket.close(ignored);  // the pending read/write fails and the coroutine reports it
  });
}

void P2p::Impl::EndHandshake(Conn& c) {
  c.handshake_done = true;
  c.handshake_timer.cancel();
  if (c.pending_counted) {
    c.pending_counted = false;
    V2G_ASSERT(pending_inbound > 0);
    --pending_inbound;
    limiter.Release(c.source);
  }
}

Awaitable<void> P2p::Impl::RunConnection(ConnPtr c, std::optional<PublicKey> expected) {
  Status st;
  try {
    st = co_await Handshake(c, expected);
    EndHandshake(*c);
    if (st.ok()) st = Register(c);
    if (st.ok()) {
      Spawn("writer", WriteLoop(c));
      st = co_await ReadLoop(c);
    }
  } catch (const std::exception& e) {  // a throwing handler, or out of memory
    spdlog::error("p2p: closing the connection with {}: exception: {}", c->address, e.what());
    st = Error(Code::kInternal, std::string("exception: ") + e.what());
  }
  EndHandshake(*c);
  Finish(c, st);
}

// Closes the socket (which ends the reader and writer) and records why. P2P thread only.
void P2p::Impl::Close(const ConnPtr& c, Status why) {
  if (c->closed) return;
  c->closed = true;
  if (!c->close_reason) c->close_reason = std::move(why);
  error_code ec;
  c->socket.shutdown(tcp::socket::shutdown_both, ec);
  c->socket.close(ec);
  c->handshake_timer.cancel();
  c->wake.cancel();
  c->read_wake.cancel();  // a paused reader wakes, sees `closed` and ends
  std::lock_guard<std::mutex> lk(mu);
  c->send_closed = true;
  c->queue.Clear();
}

}  // namespace v2g
