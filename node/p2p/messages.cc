// Messages: Broadcast and Send queue a frame per peer (bounded; a peer that does not keep up is
// dropped), the writer loop sends the queue (consensus and evidence first: outbound.h), the reader
// loop hands messages to the handler.
#include <spdlog/spdlog.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "common/assert.h"
#include "node/p2p/conn.h"
#include "node/p2p/frame.h"
#include "node/p2p/impl.h"
#include "node/p2p/p2p.h"

namespace v2g {

namespace asio = p2p::asio;
using p2p::Awaitable;
using p2p::ConnPtr;
using p2p::error_code;
using p2p::ReadFrame;
using p2p::Redirect;
using p2p::WriteFrame;

namespace p2p {

bool IsPriorityChannel(uint8_t channel) {
  return channel == kChannelConsensus || channel == kChannelEvidence;
}
bool IsGossipChannel(uint8_t channel) { return channel == kChannelMempool; }

}  // namespace p2p

namespace {

std::shared_ptr<const std::string> MakeMessage(uint8_t channel, const std::string& payload) {
  auto msg = std::make_shared<std::string>();
  msg->reserve(1 + payload.size());
  msg->push_back(static_cast<char>(channel));
  msg->append(payload);
  return msg;
}
bool PayloadFits(const std::string& payload) {
  if (payload.size() + 1 <= kP2pMessageBytesMax) return true;
  spdlog::error("p2p: refusing to send a {} byte payload (max {})", payload.size(),
                kP2pMessageBytesMax - 1);
  return false;
}

}  // namespace

Awaitable<Status> P2p::Impl::ReadLoop(ConnPtr c) {
  constexpr size_t kMessageFrameMin = 1 + kP2pFrameOverheadBytes;  // at least a channel byte
  for (;;) {
    Result<std::string> frame = co_await ReadFrame(*c, kMessageFrameMin, kP2pFrameBytesMax);
    if (!frame.ok()) co_return frame.status();
    if (c->closed || stopping) co_return Error(Code::kUnavailable, "closed");
    std::string& plain = frame.value();
    V2G_ASSERT(!plain.empty());
    const auto channel = static_cast<uint8_t>(plain[0]);
    c->bytes_in.fetch_add(static_cast<int64_t>(plain.size()), std::memory_order_relaxed);
    plain.erase(0, 1);
    ++stats.messages_in;
    // An exception closes this connection.
    if (on_message(c->peer, channel, std::move(plain)) == ReadFlow::kPause) {
      co_await PauseReads(c);
    }
  }
}

// Waits until ResumeReads (or Close) lets the reader go on; returns at once when a ResumeReads came
// first. Nothing is read meanwhile, so the peer's sends back up into TCP and its own queue.
Awaitable<void> P2p::Impl::PauseReads(ConnPtr c) {
  {
    std::lock_guard<std::mutex> lk(mu);
    if (c->resume_pending) {
      c->resume_pending = false;
      co_return;
    }
    c->read_paused = true;
  }
  ++stats.readers_paused;
  while (!c->closed && !stopping) {
    {
      std::lock_guard<std::mutex> lk(mu);
      if (!c->read_paused) break;
    }
    // ResumeReads clears read_paused, then cancels this wait on this thread; a cancel left over
    // from an earlier pause only makes the loop look again.
    error_code ec;
    c->read_wake.expires_at(asio::steady_timer::time_point::max());
    co_await c->read_wake.async_wait(Redirect(ec));
  }
  --stats.readers_paused;
}

Awaitable<void> P2p::Impl::WriteLoop(ConnPtr c) {
  while (!c->closed) {
    std::shared_ptr<const std::string> msg;
    {
      std::lock_guard<std::mutex> lk(mu);
      if (c->queue.empty()) {
        c->writer_waiting = true;
      } else {
        bool jumped = false;
        msg = c->queue.Pop(&jumped);  // consensus and evidence first
        if (jumped) ++stats.messages_prioritized;
      }
    }
    if (!msg) {
      // Send/Broadcast cancel `wake` (on this thread) when they queue for a waiting writer.
      error_code ec;
      c->wake.expires_at(asio::steady_timer::time_point::max());
      co_await c->wake.async_wait(Redirect(ec));
      continue;
    }
    Status st = co_await WriteFrame(*c, *msg);
    if (!st.ok()) {
      Close(c, st);
      co_return;
    }
    c->bytes_out.fetch_add(static_cast<int64_t>(msg->size()), std::memory_order_relaxed);
    ++stats.messages_out;
  }
}

// Any thread, with `mu` held.
bool P2p::Impl::Enqueue(const ConnPtr& c, const std::shared_ptr<const std::string>& msg) {
  if (c->send_closed) return false;
  // Gossip past its share is skipped, not queued: it is best effort (the tx stays in this node's
  // mempool), and queued further it would fill the queue and get a merely slow peer dropped.
  if (p2p::IsGossipChannel(static_cast<uint8_t>((*msg)[0])) &&
      (c->queue.gossip_bytes() + msg->size() > kP2pGossipQueueBytesMax ||
       c->queue.gossip_messages() >= kP2pGossipQueueMessagesMax)) {
    ++stats.gossip_skipped;
    return false;
  }
  if (!c->queue.Fits(msg)) {
    c->send_closed = true;
    c->queue.Clear();
    ++stats.peers_dropped_slow;
    asio::post(io, [this, c] {
      Close(c, Error(Code::kUnavailable, "outbound queue full: peer does not keep up"));
    });
    return false;
  }
  c->queue.Push(msg);
  if (c->writer_waiting) {
    c->writer_waiting = false;
    asio::post(io, [c] { c->wake.cancel(); });
  }
  return true;
}

void P2p::Broadcast(uint8_t channel, std::string payload) {
  if (!PayloadFits(payload)) return;
  auto msg = MakeMessage(channel, payload);
  std::lock_guard<std::mutex> lk(impl_->mu);
  for (auto& [key, conn] : impl_->peers) impl_->Enqueue(conn, msg);
}

void P2p::ResumeReads(const PublicKey& peer) {
  std::lock_guard<std::mutex> lk(impl_->mu);
  auto it = impl_->peers.find(peer);
  if (it == impl_->peers.end()) return;
  ConnPtr c = it->second;
  if (!c->read_paused) {
    c->resume_pending = true;  // the reader has not seen its pause yet
    return;
  }
  c->read_paused = false;
  asio::post(impl_->io, [c] { c->read_wake.cancel(); });
}

bool P2p::Send(const PublicKey& peer, uint8_t channel, std::string payload) {
  if (!PayloadFits(payload)) return false;
  auto msg = MakeMessage(channel, payload);
  std::lock_guard<std::mutex> lk(impl_->mu);
  auto it = impl_->peers.find(peer);
  if (it == impl_->peers.end()) return false;
  return impl_->Enqueue(it->second, msg);
}

}  // namespace v2g
