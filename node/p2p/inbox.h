// PeerInbox: messages received from peers that wait for one consumer thread (the consensus thread,
// the tx thread). What each peer has queued is counted in bytes (payload plus a fixed overhead per
// message) and bounded per peer and in all; the consumer takes messages round-robin over the peers
// that have some queued, one message per peer in turn (in key order), never first-in-first-out over
// all. So a peer that floods only ever fills its own share, and a message of any other peer waits
// for at most one message of each peer per message queued ahead of it by its own peer.
//
// With back-pressure on (the consensus inbox), Push tells the caller to pause reading from a peer
// once the peer's next message might not fit, and TakeResumable names the peers whose reads may
// go on again once the consumer has made room, so an honest peer is slowed, never cut off. A peer
// told to keep reading holds a reservation of one largest message against the total, so its next
// message always fits: what a peer that obeys its pauses sends is never dropped, however full
// other peers keep the total (queued bytes plus reservations never pass it). Only a peer's first
// message (or its first after Forget or after being forgotten as idle) has no reservation: if the
// total is full then, it is dropped and the peer paused until there is room. Without back-pressure
// (the tx inbox), what does not fit is dropped and nothing pauses.
//
// Not thread-safe: the owner serialises every call (BftEngine and TxRelay hold their mutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "common/limits.h"

namespace v2g {

struct InboxLimits {
  int64_t peer_bytes_max = 0;   // one peer's queued bytes, overhead included
  int64_t total_bytes_max = 0;  // all peers' (>= peer_bytes_max)
  // The largest payload a peer can send (P2P caps it): with back-pressure, a peer is paused while
  // one more message this large might not fit. peer_bytes_max must hold one (asserted), so a
  // paused peer is always resumed once the queue drains.
  int64_t message_bytes_max = limits::kPeerMessageBytesMax;
  bool back_pressure = false;
  size_t peers_max = limits::kInboxPeersMax;
};

struct InboxMessage {
  PublicKey from{};
  uint8_t channel = 0;
  std::string payload;
};

// Per peer, since the inbox was made (the peer's entry may be forgotten when the inbox tracks
// kInboxPeersMax peers and needs room; its counters go with it).
struct InboxPeerStats {
  int64_t bytes = 0;       // queued now
  int64_t messages = 0;    // queued now
  int64_t peak_bytes = 0;  // the most it ever had queued
  int64_t dropped = 0;     // messages refused because they did not fit
  // The most messages (of any peer) taken between one of this peer's messages being queued and
  // being taken itself: its worst wait, counted in messages, not time.
  int64_t max_wait = 0;
  bool paused = false;  // told to pause and not resumed yet
};

struct InboxStats {
  int64_t bytes = 0;  // queued now, all peers
  int64_t reserved = 0;  // held for the next message of peers told to keep reading
  int64_t messages = 0;
  int64_t peak_bytes = 0;
  int64_t dropped = 0;
  int64_t taken = 0;  // messages handed to the consumer
};

class PeerInbox {
 public:
  enum class Verdict {
    kQueued,       // queued; keep reading from this peer
    kQueuedPause,  // queued; pause reading from this peer until TakeResumable names it
    kDropped,      // did not fit and was dropped (with back-pressure: pause too)
    kDroppedUntracked,  // the inbox tracks kInboxPeersMax peers, all busy: dropped, no pause to lift
  };
  explicit PeerInbox(InboxLimits limits);

  // The bytes `m` counts for: its payload plus limits::kInboxMessageOverheadBytes.
  static int64_t Cost(const InboxMessage& m);

  // Queues `m` when it fits its peer's budget and the total; else drops it (counted).
  Verdict Push(InboxMessage m);
  // The next message, round-robin over peers; nothing when the inbox is empty.
  std::optional<InboxMessage> Pop();
  // Drops what `key` has queued, its reservation and its pause (its connection closed).
  void Forget(const PublicKey& key);
  // Peers told to pause that now have room again (their next message of the largest size fits);
  // each is named once per pause. Always empty without back-pressure.
  std::vector<PublicKey> TakeResumable();

  bool empty() const { return stats_.messages == 0; }
  InboxStats stats() const { return stats_; }
  InboxPeerStats peer(const PublicKey& key) const;  // zeros for a peer it does not know

 private:
  struct Queued {
    InboxMessage msg;
    int64_t cost = 0;
    int64_t queued_at = 0;  // stats_.taken when it was queued
  };
  struct Peer {
    std::deque<Queued> queue;
    InboxPeerStats stats;
    bool reserved = false;  // holds max_cost_ of the total for its next message
  };
  Peer* Find(const PublicKey& key);   // creates it, making room if it must; null when full
  bool HasRoom(const Peer& p) const;  // one more message of the largest size fits
  void Reserve(Peer& p);
  void Unreserve(Peer& p);
  void CollectResumable();

  const InboxLimits limits_;
  const int64_t max_cost_;
  std::map<PublicKey, Peer> peers_;
  std::set<PublicKey> ready_;   // peers with messages queued
  std::set<PublicKey> paused_;  // peers told to pause, not yet resumable
  std::vector<PublicKey> resumable_;
  PublicKey last_{};  // the peer served last: the next turn goes to the next key after it
  InboxStats stats_;
};

}  // namespace v2g
