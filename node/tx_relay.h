// TxRelay: txs that peers gossip (the mempool channel) are admitted to the mempool on a thread of
// its own, so the P2P thread never waits for the mempool lock (held across a block commit) nor
// spends a signature check per tx. They wait in a PeerInbox without back-pressure: bounded in bytes
// per peer and in all, taken round-robin over peers; a tx that does not fit is dropped (tx gossip
// is best effort, and a peer's txs must never hold up its votes). An admitted tx is gossiped on.
//
// Threads: Offer, Inbox and InboxPeer from any thread; Start and Stop from the owner.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "common/limits.h"
#include "node/bft/bft.h"
#include "node/mempool.h"
#include "node/p2p/inbox.h"

namespace v2g {

struct TxRelayLimits {
  int64_t peer_bytes_max = limits::kTxInboxPeerBytesMax;
  int64_t bytes_max = limits::kTxInboxBytesMax;
};

class TxRelay {
 public:
  // `committed` is the latest committed state the mempool validates against (Store::state()).
  TxRelay(Mempool& mempool, const KvReader& committed, ConsensusNetwork& net,
          TxRelayLimits limits = {});
  ~TxRelay();  // Stop()s
  TxRelay(const TxRelay&) = delete;
  TxRelay& operator=(const TxRelay&) = delete;

  void Start();
  void Stop();  // idempotent; txs still queued are dropped

  // Queues a tx from `from` for admission. Never blocks beyond a short lock; always lets the
  // transport read on (a tx that does not fit is dropped and counted).
  ReadFlow Offer(const PublicKey& from, std::string tx);

  InboxStats Inbox() const;
  InboxPeerStats InboxPeer(const PublicKey& peer) const;
  int64_t admitted() const;  // txs this relay admitted to the mempool

 private:
  void Run();

  Mempool& mempool_;
  const KvReader& committed_;
  ConsensusNetwork& net_;
  mutable std::mutex mu_;  // guards inbox_, stop_, admitted_
  std::condition_variable cv_;
  PeerInbox inbox_;
  bool stop_ = false;
  int64_t admitted_ = 0;
  std::thread thread_;
};

}  // namespace v2g
