// TxGossip: passes the txs this node admitted (from its API and from peers, via TxRelay) on to its
// peers in batches: many txs per mempool-channel message, each tx to each peer once, and never
// back to the peer it came from. Before it, every tx went to every peer as its own encrypted
// message (12 messages per tx in a network of four), which made the P2P thread the busiest.
//
// Life of a tx: Add queues it with its origin peer (none for the API's); the flush thread waits
// until the queue holds limits::kGossipBatchTxsMax txs or kGossipBatchBytesMax bytes, or
// kGossipFlushDelayMs after the oldest queued tx, then takes the whole queue and, for each
// connected peer, sends the txs whose origin is not that peer, in as few batches as the limits
// allow. The queue is bounded in txs and bytes: a tx that does not fit is not gossiped (counted).
// Gossip is best effort; the tx stays in this node's mempool and is proposed from there.
//
// Batch wire format (kChannelMempool payload, node/p2p/p2p.h), integers big-endian:
//   u32 count | count x (u32 length | serialized pb::Tx)
//
// Threads: Add, Flush and stats from any thread; Start and Stop from the owner.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/crypto.h"
#include "common/limits.h"
#include "common/status.h"

namespace v2g {

// A batch's bounds: the sender never builds one past them, the receiver refuses one past them.
struct TxBatchLimits {
  int64_t txs_max = limits::kGossipBatchTxsMax;
  int64_t bytes_max = limits::kGossipBatchBytesMax;  // the whole payload, framing included
};

// The bytes `tx` adds to a batch (its length prefix and itself).
inline int64_t TxBatchCost(std::string_view tx) { return 4 + static_cast<int64_t>(tx.size()); }
// Encodes `txs` (1 or more, within `limits`: asserted, a caller bug otherwise).
std::string EncodeTxBatch(const std::vector<std::string_view>& txs, TxBatchLimits limits = {});
// Decodes a batch. Errors (kInvalidArgument, naming what is wrong): over either limit (checked
// before anything is copied), empty, an empty tx, or lengths that do not add up to the payload.
Result<std::vector<std::string>> DecodeTxBatch(std::string_view payload, TxBatchLimits limits = {});

// Where batches go (the P2P layer in the node, a fake in tests).
class GossipNetwork {
 public:
  virtual ~GossipNetwork() = default;
  virtual std::vector<PublicKey> Peers() const = 0;  // connected now
  // Queues one message for `peer`; false when it could not (not connected, queue full).
  virtual bool Send(const PublicKey& peer, uint8_t channel, std::string payload) = 0;
};

struct TxGossipLimits {
  TxBatchLimits batch{};
  int64_t flush_delay_ms = limits::kGossipFlushDelayMs;
  int64_t queue_txs_max = limits::kGossipQueueTxsMax;
  int64_t queue_bytes_max = limits::kGossipQueueBytesMax;
};

// Counters since construction (queued_* are gauges).
struct TxGossipStats {
  int64_t queued_txs = 0;
  int64_t queued_bytes = 0;
  int64_t added = 0;         // txs accepted by Add
  int64_t dropped = 0;       // txs Add refused: queue full, or a tx too large for any batch
  int64_t batches_sent = 0;  // messages handed to the network
  int64_t txs_sent = 0;      // tx copies in them (a tx to three peers counts three)
  int64_t send_failed = 0;   // batches the network refused (peer gone or dropped)
};

class TxGossip {
 public:
  explicit TxGossip(GossipNetwork& net, TxGossipLimits limits = {});
  ~TxGossip();  // Stop()s
  TxGossip(const TxGossip&) = delete;
  TxGossip& operator=(const TxGossip&) = delete;

  void Start();  // starts the flush thread
  void Stop();   // idempotent; what is still queued is dropped (best effort)

  // Queues `tx` for every peer but `origin`. Never blocks beyond a short lock. False when it did
  // not fit the queue (or no batch): not gossiped, counted in `dropped`.
  bool Add(std::string tx, std::optional<PublicKey> origin);
  // Sends everything queued now, at once. The flush thread calls it; tests call it directly
  // (without Start) so that nothing depends on timing.
  void Flush();
  TxGossipStats stats() const;

 private:
  struct Entry {
    std::string tx;
    std::optional<PublicKey> origin;
  };
  void Run();
  bool FullLocked() const;  // a batch's worth is queued: flush now
  void SendTo(const PublicKey& peer, const std::vector<Entry>& txs);

  GossipNetwork& net_;
  const TxGossipLimits limits_;
  mutable std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  std::vector<Entry> queue_;
  int64_t queue_bytes_ = 0;  // sum of TxBatchCost over queue_
  bool stop_ = false;
  TxGossipStats stats_;
  std::thread thread_;
};

}  // namespace v2g
