// TxRelay: tx batches that peers gossip (the mempool channel, format in node/tx_gossip.h) are
// admitted to the mempool on a thread of its own, so the P2P thread never waits for the mempool
// lock (held across a block commit), never decodes a batch and never spends a signature check.
// Batches wait in a PeerInbox without back-pressure: bounded in bytes per peer and in all, taken
// round-robin over peers; a batch that does not fit is dropped (tx gossip is best effort, and a
// peer's txs must never hold up its votes). A batch over limits::kGossipBatchBytesMax (on the P2P
// thread, before it is queued) or kGossipBatchTxsMax, or malformed, is refused whole and counted
// against the peer. Each tx is admitted on its own as before, and each admitted tx goes to
// `on_admitted` with the peer it came from (the node gossips it on, never back to that peer).
//
// Threads: Offer, Inbox, InboxPeer and the counters from any thread; Start and Stop from the owner.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/limits.h"
#include "node/bft/bft.h"
#include "node/mempool.h"
#include "node/p2p/inbox.h"
#include "node/tx_gossip.h"

namespace v2g {

struct TxRelayLimits {
  int64_t peer_bytes_max = limits::kTxInboxPeerBytesMax;
  int64_t bytes_max = limits::kTxInboxBytesMax;
};

class TxRelay {
 public:
  // Called on the relay's thread for each tx it admitted, with the peer it came from.
  using OnAdmitted = std::function<void(std::string tx, const PublicKey& from)>;
  // `committed` is the latest committed state the mempool validates against (Store::state()).
  TxRelay(Mempool& mempool, const KvReader& committed, OnAdmitted on_admitted,
          TxRelayLimits limits = {});
  ~TxRelay();  // Stop()s
  TxRelay(const TxRelay&) = delete;
  TxRelay& operator=(const TxRelay&) = delete;

  void Start();
  void Stop();  // idempotent; txs still queued are dropped

  // Queues a tx batch from `from` for admission. Never blocks beyond a short lock; always lets the
  // transport read on (a batch that does not fit, or is over the size limit, is dropped and
  // counted).
  ReadFlow Offer(const PublicKey& from, std::string batch);

  InboxStats Inbox() const;
  InboxPeerStats InboxPeer(const PublicKey& peer) const;
  int64_t admitted() const;         // txs this relay admitted to the mempool
  // Txs whose checks before the mempool's locks (Mempool::Prepare) ran on every core ahead of
  // their admission in order; read on the relay's thread or after Stop.
  int64_t prepared() const { return prepared_; }
  int64_t batches_refused() const;  // over a limit or malformed, all peers
  int64_t batches_refused(const PublicKey& peer) const;

 private:
  void Run();
  void Admit(const InboxMessage& m);
  void Refuse(const PublicKey& from, const Status& why);

  Mempool& mempool_;
  const KvReader& committed_;
  const OnAdmitted on_admitted_;
  mutable std::mutex mu_;  // guards inbox_, stop_ and the counters
  std::condition_variable cv_;
  PeerInbox inbox_;
  bool stop_ = false;
  int64_t admitted_ = 0;
  int64_t prepared_ = 0;  // the relay's thread only
  int64_t refused_ = 0;
  // Only allowed peers reach the relay (bounded by the allowed set, like PeerInbox's peers).
  std::map<PublicKey, int64_t> refused_by_peer_;
  std::thread thread_;
};

}  // namespace v2g
