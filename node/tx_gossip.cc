#include "node/tx_gossip.h"

#include <chrono>
#include <utility>

#include "common/assert.h"
#include "node/p2p/p2p.h"

namespace v2g {
namespace {

void PutU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}
uint32_t GetU32(std::string_view in, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in[at + i]);
  return v;
}
Status Bad(const std::string& why) { return Error(Code::kInvalidArgument, "tx batch: " + why); }

}  // namespace

std::string EncodeTxBatch(const std::vector<std::string_view>& txs, TxBatchLimits limits) {
  V2G_ASSERT(!txs.empty() && static_cast<int64_t>(txs.size()) <= limits.txs_max);
  int64_t bytes = 4;
  for (std::string_view tx : txs) bytes += TxBatchCost(tx);
  V2G_ASSERT(bytes <= limits.bytes_max);
  std::string out;
  out.reserve(static_cast<size_t>(bytes));
  PutU32(out, static_cast<uint32_t>(txs.size()));
  for (std::string_view tx : txs) {
    V2G_ASSERT(!tx.empty());
    PutU32(out, static_cast<uint32_t>(tx.size()));
    out.append(tx);
  }
  V2G_ASSERT(static_cast<int64_t>(out.size()) == bytes);
  return out;
}

Result<std::vector<std::string>> DecodeTxBatch(std::string_view payload, TxBatchLimits limits) {
  if (static_cast<int64_t>(payload.size()) > limits.bytes_max) {
    return Bad(std::to_string(payload.size()) + " bytes, over " + std::to_string(limits.bytes_max));
  }
  if (payload.size() < 4) return Bad("shorter than its count");
  const uint32_t count = GetU32(payload, 0);
  if (count == 0) return Bad("no txs");
  if (count > limits.txs_max) {
    return Bad(std::to_string(count) + " txs, over " + std::to_string(limits.txs_max));
  }
  std::vector<std::string> txs;
  txs.reserve(count);
  size_t at = 4;
  for (uint32_t i = 0; i < count; ++i) {
    if (payload.size() - at < 4) return Bad("tx " + std::to_string(i) + ": length cut short");
    const uint32_t len = GetU32(payload, at);
    at += 4;
    if (len == 0) return Bad("tx " + std::to_string(i) + " is empty");
    if (payload.size() - at < len) return Bad("tx " + std::to_string(i) + " cut short");
    txs.emplace_back(payload.substr(at, len));
    at += len;
  }
  if (at != payload.size()) return Bad("bytes after the last tx");
  V2G_ASSERT(txs.size() == count);
  return txs;
}

TxGossip::TxGossip(GossipNetwork& net, TxGossipLimits limits) : net_(net), limits_(limits) {
  V2G_ASSERT(limits_.batch.txs_max >= 1 && limits_.batch.bytes_max > 8);
  V2G_ASSERT(limits_.queue_txs_max >= 1 && limits_.flush_delay_ms >= 0);
}

TxGossip::~TxGossip() { Stop(); }

void TxGossip::Start() {
  V2G_ASSERT(!thread_.joinable());
  thread_ = std::thread([this] { Run(); });
}

void TxGossip::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool TxGossip::Add(std::string tx, std::optional<PublicKey> origin) {
  const int64_t cost = TxBatchCost(tx);
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const bool fits_batch = !tx.empty() && 4 + cost <= limits_.batch.bytes_max;
    if (!fits_batch || static_cast<int64_t>(queue_.size()) >= limits_.queue_txs_max ||
        queue_bytes_ + cost > limits_.queue_bytes_max) {
      ++stats_.dropped;
      return false;
    }
    wake = queue_.empty() || FullLocked();
    queue_.push_back(Entry{std::move(tx), origin});
    queue_bytes_ += cost;
    ++stats_.added;
    wake = wake || FullLocked();
  }
  // The flusher sleeps until the first tx, then until the delay or a full batch.
  if (wake) cv_.notify_one();
  return true;
}

bool TxGossip::FullLocked() const {
  return static_cast<int64_t>(queue_.size()) >= limits_.batch.txs_max ||
         4 + queue_bytes_ >= limits_.batch.bytes_max;
}

// Sleeps until there is a tx, then until a batch's worth is queued or the oldest has waited the
// flush delay, then flushes. Txs added during a flush wait for the next round.
void TxGossip::Run() {
  const auto delay = std::chrono::milliseconds(limits_.flush_delay_ms);
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      const auto deadline = std::chrono::steady_clock::now() + delay;
      cv_.wait_until(lock, deadline, [&] { return stop_ || FullLocked(); });
      if (stop_) return;
    }
    Flush();
  }
}

void TxGossip::Flush() {
  std::vector<Entry> txs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    txs.swap(queue_);
    queue_bytes_ = 0;
  }
  if (txs.empty()) return;
  for (const PublicKey& peer : net_.Peers()) SendTo(peer, txs);
}

// The txs not from `peer`, in batches as large as the limits allow.
void TxGossip::SendTo(const PublicKey& peer, const std::vector<Entry>& txs) {
  int64_t batches = 0, sent = 0, failed = 0;
  std::vector<std::string_view> batch;
  int64_t bytes = 4;
  auto send = [&] {
    if (batch.empty()) return;
    if (net_.Send(peer, kChannelMempool, EncodeTxBatch(batch, limits_.batch))) {
      ++batches;
      sent += static_cast<int64_t>(batch.size());
    } else {
      ++failed;
    }
    batch.clear();
    bytes = 4;
  };
  for (const Entry& e : txs) {
    if (e.origin == peer) continue;  // never back to where it came from
    const int64_t cost = TxBatchCost(e.tx);
    if (static_cast<int64_t>(batch.size()) >= limits_.batch.txs_max ||
        bytes + cost > limits_.batch.bytes_max) {
      send();
    }
    batch.push_back(e.tx);
    bytes += cost;
  }
  send();
  std::lock_guard<std::mutex> lock(mu_);
  stats_.batches_sent += batches;
  stats_.txs_sent += sent;
  stats_.send_failed += failed;
}

TxGossipStats TxGossip::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  TxGossipStats s = stats_;
  s.queued_txs = static_cast<int64_t>(queue_.size());
  s.queued_bytes = queue_bytes_;
  return s;
}

}  // namespace v2g
