#include "node/p2p/inbox.h"

#include <algorithm>
#include <utility>

#include "common/assert.h"

namespace v2g {

PeerInbox::PeerInbox(InboxLimits limits)
    : limits_(limits), max_cost_(limits.message_bytes_max + limits::kInboxMessageOverheadBytes) {
  V2G_ASSERT(limits_.message_bytes_max >= 0 && limits_.peers_max >= 1);
  V2G_ASSERT(limits_.peer_bytes_max >= max_cost_);  // a paused peer can always be resumed
  V2G_ASSERT(limits_.total_bytes_max >= limits_.peer_bytes_max);
}

int64_t PeerInbox::Cost(const InboxMessage& m) {
  return static_cast<int64_t>(m.payload.size()) + limits::kInboxMessageOverheadBytes;
}

bool PeerInbox::HasRoom(const Peer& p) const {
  return p.stats.bytes + max_cost_ <= limits_.peer_bytes_max &&
         stats_.bytes + max_cost_ <= limits_.total_bytes_max;
}

PeerInbox::Peer* PeerInbox::Find(const PublicKey& key) {
  if (auto it = peers_.find(key); it != peers_.end()) return &it->second;
  if (peers_.size() >= limits_.peers_max) {
    // Forget a peer with nothing queued and no pause to lift (the first in key order).
    auto idle = std::find_if(peers_.begin(), peers_.end(), [](const auto& kv) {
      return kv.second.queue.empty() && !kv.second.stats.paused;
    });
    if (idle == peers_.end()) return nullptr;
    peers_.erase(idle);
  }
  return &peers_[key];
}

PeerInbox::Verdict PeerInbox::Push(InboxMessage m) {
  const int64_t cost = Cost(m);
  Peer* p = Find(m.from);
  if (!p) {  // every tracked peer has messages queued or is paused: this one waits its turn
    ++stats_.dropped;
    return Verdict::kDropped;
  }
  const PublicKey key = m.from;
  const bool fits = p->stats.bytes + cost <= limits_.peer_bytes_max &&
                    stats_.bytes + cost <= limits_.total_bytes_max;
  if (fits) {
    p->queue.push_back(Queued{std::move(m), cost, stats_.taken});
    p->stats.bytes += cost;
    ++p->stats.messages;
    p->stats.peak_bytes = std::max(p->stats.peak_bytes, p->stats.bytes);
    stats_.bytes += cost;
    ++stats_.messages;
    stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.bytes);
    ready_.insert(key);
  } else {
    ++p->stats.dropped;
    ++stats_.dropped;
  }
  V2G_ASSERT(p->stats.bytes <= limits_.peer_bytes_max && stats_.bytes <= limits_.total_bytes_max);
  if (!limits_.back_pressure) return fits ? Verdict::kQueued : Verdict::kDropped;
  if (!fits || !HasRoom(*p)) {
    p->stats.paused = true;
    paused_.insert(key);
    return fits ? Verdict::kQueuedPause : Verdict::kDropped;
  }
  return p->stats.paused ? Verdict::kQueuedPause : Verdict::kQueued;
}

std::optional<InboxMessage> PeerInbox::Pop() {
  if (ready_.empty()) return std::nullopt;
  auto next = ready_.upper_bound(last_);
  if (next == ready_.end()) next = ready_.begin();
  last_ = *next;
  Peer& p = peers_.at(last_);
  V2G_ASSERT(!p.queue.empty());
  Queued q = std::move(p.queue.front());
  p.queue.pop_front();
  if (p.queue.empty()) ready_.erase(next);
  p.stats.bytes -= q.cost;
  --p.stats.messages;
  p.stats.max_wait = std::max(p.stats.max_wait, stats_.taken - q.queued_at);
  stats_.bytes -= q.cost;
  --stats_.messages;
  ++stats_.taken;
  V2G_ASSERT(p.stats.bytes >= 0 && stats_.bytes >= 0);
  CollectResumable();
  return std::move(q.msg);
}

// Paused peers are few (at most the connected ones), so each Pop looks at all of them: a peer
// paused by the total bound may be resumed by another peer's message being taken.
void PeerInbox::CollectResumable() {
  for (auto it = paused_.begin(); it != paused_.end();) {
    Peer& p = peers_.at(*it);
    if (!HasRoom(p)) {
      ++it;
      continue;
    }
    p.stats.paused = false;
    resumable_.push_back(*it);
    it = paused_.erase(it);
  }
}

std::vector<PublicKey> PeerInbox::TakeResumable() {
  CollectResumable();  // a pause for a message that was dropped, with nothing queued
  std::vector<PublicKey> out;
  out.swap(resumable_);
  return out;
}

InboxPeerStats PeerInbox::peer(const PublicKey& key) const {
  auto it = peers_.find(key);
  return it == peers_.end() ? InboxPeerStats{} : it->second.stats;
}

}  // namespace v2g
