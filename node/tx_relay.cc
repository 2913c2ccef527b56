#include "node/tx_relay.h"

#include <optional>
#include <utility>

#include "common/assert.h"
#include "node/p2p/p2p.h"

namespace v2g {

TxRelay::TxRelay(Mempool& mempool, const KvReader& committed, ConsensusNetwork& net,
                 TxRelayLimits limits)
    : mempool_(mempool),
      committed_(committed),
      net_(net),
      inbox_(InboxLimits{.peer_bytes_max = limits.peer_bytes_max,
                         .total_bytes_max = limits.bytes_max,
                         .message_bytes_max = 0,  // no back-pressure: only Push's fit check counts
                         .back_pressure = false}) {}

TxRelay::~TxRelay() { Stop(); }

void TxRelay::Start() {
  V2G_ASSERT(!thread_.joinable());
  thread_ = std::thread([this] { Run(); });
}

void TxRelay::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

ReadFlow TxRelay::Offer(const PublicKey& from, std::string tx) {
  PeerInbox::Verdict verdict;
  {
    std::lock_guard<std::mutex> lock(mu_);
    verdict = inbox_.Push(InboxMessage{from, kChannelMempool, std::move(tx)});
  }
  if (verdict != PeerInbox::Verdict::kDropped) cv_.notify_one();
  return ReadFlow::kContinue;
}

// One tx at a time, round-robin over peers: the mempool check (signature, nonce, funds) and its
// lock are paid here, never on the P2P thread.
void TxRelay::Run() {
  for (;;) {
    std::optional<InboxMessage> m;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !inbox_.empty(); });
      if (stop_) return;
      m = inbox_.Pop();
    }
    V2G_ASSERT(m.has_value());
    auto added = mempool_.Add(m->payload, committed_);
    if (!added.ok()) continue;  // invalid, duplicate or over a mempool limit: not passed on
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++admitted_;
    }
    net_.Broadcast(kChannelMempool, std::move(m->payload));  // first time here: pass it on
  }
}

InboxStats TxRelay::Inbox() const {
  std::lock_guard<std::mutex> lock(mu_);
  return inbox_.stats();
}

InboxPeerStats TxRelay::InboxPeer(const PublicKey& peer) const {
  std::lock_guard<std::mutex> lock(mu_);
  return inbox_.peer(peer);
}

int64_t TxRelay::admitted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return admitted_;
}

}  // namespace v2g
