// The peer table: who may connect, the one-connection-per-peer rule, registering and
// unregistering authenticated connections, peer events, Peers().
#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/assert.h"
#include "node/log.h"
#include "node/p2p/conn.h"
#include "node/p2p/impl.h"
#include "node/p2p/p2p.h"

namespace v2g {

using p2p::Conn;
using p2p::ConnPtr;
using p2p::KeyHex;

namespace {

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Status P2p::Impl::Admit(const Conn& c, std::optional<PublicKey> expected) const {
  V2G_ASSERT(c.authenticated);
  if (c.peer == own_key) return Error(Code::kInvalidArgument, "connected to ourselves");
  if (expected && *expected != c.peer) {
    return Error(Code::kUnauthorized,
                 "expected node " + KeyHex(*expected) + " at this address, got " + KeyHex(c.peer));
  }
  std::lock_guard<std::mutex> lk(mu);
  if (!allowed.contains(c.peer)) {
    return Error(Code::kUnauthorized, "node " + KeyHex(c.peer) + " is not in the allowed set");
  }
  auto it = peers.find(c.peer);
  if (it != peers.end() && !KeepNew(*it->second, c)) {
    return Error(Code::kDuplicate, "already connected to " + KeyHex(c.peer));
  }
  return Status::Ok();
}

// See "One connection per peer" in p2p.h. Must give the same answer on both ends.
bool P2p::Impl::KeepNew(const Conn& existing, const Conn& fresh) const {
  if (existing.inbound == fresh.inbound) return true;
  const bool we_are_smaller = own_key < fresh.peer;
  const bool fresh_dialled_by_us = !fresh.inbound;
  return we_are_smaller == fresh_dialled_by_us;
}

Status P2p::Impl::Register(const ConnPtr& c) {
  if (stopping || c->closed) return Error(Code::kUnavailable, "closed during the handshake");
  Status st = Admit(*c, std::nullopt);  // state may have changed while we waited for the ack
  if (!st.ok()) return st;
  ConnPtr replaced;
  {
    std::lock_guard<std::mutex> lk(mu);
    // Again under the lock that SetAllowed takes: a key disallowed since Admit is not registered.
    if (!allowed.contains(c->peer)) {
      return Error(Code::kUnauthorized, "node " + KeyHex(c->peer) + " is not in the allowed set");
    }
    auto [it, inserted] = peers.try_emplace(c->peer, c);
    if (!inserted) {
      replaced = it->second;
      V2G_ASSERT(replaced != c);
      c->queue.TakeFrom(replaced->queue);
      replaced->send_closed = true;
      it->second = c;
    }
    c->registered = true;
    c->since_ms = NowUnixMs();
  }
  c->registered_at = std::chrono::steady_clock::now();
  ++stats.handshakes_ok;
  const log::PeerScope log_peer(c->peer);
  if (replaced) {
    spdlog::info("p2p: node {}: keeping the new {} connection ({}), closing the {} one ({})",
                 KeyHex(c->peer), c->inbound ? "inbound" : "outbound", c->address,
                 replaced->inbound ? "inbound" : "outbound", replaced->address);
    Close(replaced, Error(Code::kDuplicate, "replaced by a newer connection to the same peer"));
  } else {
    spdlog::info("p2p: node {} connected ({} {})", KeyHex(c->peer),
                 c->inbound ? "inbound from" : "outbound to", c->address);
    NotifyPeer(c->peer, true);
  }
  return Status::Ok();
}

// The end of RunConnection: logs, unregisters, tells the handler.
void P2p::Impl::Finish(const ConnPtr& c, const Status& st) {
  const Status why = c->close_reason ? *c->close_reason : st;
  Close(c, why);
  if (conns.erase(c) > 0) --stats.connections_open;
  const std::string who =
      c->authenticated ? "node " + KeyHex(c->peer) + " at " + c->address : c->address;
  const log::PeerScope log_peer(c->authenticated ? std::optional<PublicKey>(c->peer)
                                                 : std::nullopt);
  if (!c->registered) {
    ++stats.handshakes_failed;
    if (stopping) return;
    if (why.code() == Code::kDuplicate) {
      spdlog::info("p2p: dropping duplicate connection with {}: {}", who, why.ToString());
    } else if (c->expected && IsConnected(*c->expected)) {
      // The listener refused our dial because it keeps the connection it already has with us.
      spdlog::info("p2p: dial to {} closed during the handshake; already connected to it",
                   c->address);
    } else {
      spdlog::warn("p2p: handshake with {} ({}) failed: {}", who,
                   c->inbound ? "inbound" : "outbound", why.ToString());
    }
    return;
  }
  bool was_current = false;
  {
    std::lock_guard<std::mutex> lk(mu);
    auto it = peers.find(c->peer);
    if (it != peers.end() && it->second == c) {
      peers.erase(it);
      was_current = true;
    }
  }
  if (!was_current) return;  // replaced by a newer connection: the peer is still connected
  spdlog::info("p2p: {} disconnected: {}", who, why.ToString());
  NotifyPeer(c->peer, false);
  for (auto& d : dialers) {
    if (d->target.key == c->peer) d->timer.cancel();  // redial without waiting for the backoff
  }
}

void P2p::Impl::NotifyPeer(const PublicKey& peer, bool connected) {
  if (stopping) return;
  try {
    on_peer_change(peer, connected);
  } catch (const std::exception& e) {
    spdlog::error("p2p: peer handler threw: {}", e.what());
  }
}

bool P2p::Impl::IsConnected(const PublicKey& peer) const {
  std::lock_guard<std::mutex> lk(mu);
  return peers.contains(peer);
}

std::vector<PeerInfo> P2p::Peers() const {
  std::vector<PeerInfo> out;
  std::lock_guard<std::mutex> lk(impl_->mu);
  for (const auto& [key, conn] : impl_->peers) {
    out.push_back(PeerInfo{.key = key,
                           .node_id = KeyHex(key),
                           .address = conn->address,
                           .inbound = conn->inbound,
                           .connected_since_ms = conn->since_ms,
                           .bytes_in = conn->bytes_in.load(std::memory_order_relaxed),
                           .bytes_out = conn->bytes_out.load(std::memory_order_relaxed),
                           .queue_messages = static_cast<int64_t>(conn->queue.size()),
                           .queue_bytes = static_cast<int64_t>(conn->queue.bytes())});
  }
  return out;
}

}  // namespace v2g
