#include "node/tx_relay.h"

#include <spdlog/spdlog.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "common/parallel.h"
#include "node/log.h"
#include "node/p2p/p2p.h"

namespace v2g {

TxRelay::TxRelay(Mempool& mempool, const KvReader& committed, OnAdmitted on_admitted,
                 TxRelayLimits limits)
    : mempool_(mempool),
      committed_(committed),
      on_admitted_(std::move(on_admitted)),
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

ReadFlow TxRelay::Offer(const PublicKey& from, std::string batch) {
  // Only the size here, on the P2P thread; the relay's thread decodes.
  if (static_cast<int64_t>(batch.size()) > limits::kGossipBatchBytesMax) {
    Refuse(from, Error(Code::kInvalidArgument, "tx batch: " + std::to_string(batch.size()) +
                                                   " bytes, over " +
                                                   std::to_string(limits::kGossipBatchBytesMax)));
    return ReadFlow::kContinue;
  }
  PeerInbox::Verdict verdict;
  {
    std::lock_guard<std::mutex> lock(mu_);
    verdict = inbox_.Push(InboxMessage{from, kChannelMempool, std::move(batch)});
  }
  if (verdict != PeerInbox::Verdict::kDropped) cv_.notify_one();
  return ReadFlow::kContinue;
}

void TxRelay::Refuse(const PublicKey& from, const Status& why) {
  int64_t n = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++refused_;
    n = ++refused_by_peer_[from];
  }
  // Logged once per power of two, so a peer that floods bad batches cannot flood the log.
  if ((n & (n - 1)) == 0) {
    const log::PeerScope log_peer(from);
    spdlog::warn("tx relay: refused a batch from peer {} ({} so far): {}",
                 HexEncode(ByteView(from)).substr(0, 16), n, why.message());
  }
}

// One batch at a time, round-robin over peers; each tx of it is admitted on its own. The mempool
// check (signature, nonce, funds) and its lock are paid here, never on the P2P thread.
void TxRelay::Admit(const InboxMessage& m) {
  auto txs = DecodeTxBatch(m.payload);
  if (!txs.ok()) {
    Refuse(m.from, txs.status());
    return;
  }
  // The checks before the mempool's locks, the signature included, on every core; then each tx is
  // admitted in the batch's order (a sender's nonces) on this thread.
  std::vector<std::optional<Result<Mempool::Prepared>>> prepared(txs->size());
  ParallelFor(txs->size(), [&](size_t i) { prepared[i].emplace(mempool_.Prepare((*txs)[i], committed_)); });
  int64_t admitted = 0;
  prepared_ += static_cast<int64_t>(txs->size());
  for (size_t i = 0; i < txs->size(); ++i) {
    std::string& tx = (*txs)[i];
    Result<Mempool::Prepared>& p = *prepared[i];
    if (!p.ok()) continue;  // invalid, duplicate or no room: not passed on
    auto added = mempool_.AddPrepared(std::move(*p), committed_);
    if (!added.ok()) continue;  // invalid, duplicate or over a mempool limit: not passed on
    ++admitted;
    if (on_admitted_) on_admitted_(std::move(tx), m.from);  // first time here: pass it on
  }
  std::lock_guard<std::mutex> lock(mu_);
  admitted_ += admitted;
}

void TxRelay::Run() {
  for (;;) {
    std::optional<InboxMessage> m;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !inbox_.empty(); });
      if (stop_) return;
      m = inbox_.Pop();
    }
    V2G_ASSERT(m.has_value() && m->channel == kChannelMempool);
    Admit(*m);
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

int64_t TxRelay::batches_refused() const {
  std::lock_guard<std::mutex> lock(mu_);
  return refused_;
}

int64_t TxRelay::batches_refused(const PublicKey& peer) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refused_by_peer_.find(peer);
  return it == refused_by_peer_.end() ? 0 : it->second;
}

int64_t TxRelay::admitted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return admitted_;
}

}  // namespace v2g
