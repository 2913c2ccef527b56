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

// For a peer without a reservation: one more message of the largest size fits its budget and,
// beside everything queued and reserved, the total.
bool PeerInbox::HasRoom(const Peer& p) const {
  return p.stats.bytes + max_cost_ <= limits_.peer_bytes_max &&
         stats_.bytes + stats_.reserved + max_cost_ <= limits_.total_bytes_max;
}

void PeerInbox::Reserve(Peer& p) {
  V2G_ASSERT(!p.reserved);
  p.reserved = true;
  stats_.reserved += max_cost_;
}

void PeerInbox::Unreserve(Peer& p) {
  if (!p.reserved) return;
  p.reserved = false;
  stats_.reserved -= max_cost_;
}

PeerInbox::Peer* PeerInbox::Find(const PublicKey& key) {
  if (auto it = peers_.find(key); it != peers_.end()) return &it->second;
  if (peers_.size() >= limits_.peers_max) {
    // Forget a peer with nothing queued and no pause to lift (the first in key order).
    auto idle = std::find_if(peers_.begin(), peers_.end(), [](const auto& kv) {
      return kv.second.queue.empty() && !kv.second.stats.paused;
    });
    if (idle == peers_.end()) return nullptr;
    Unreserve(idle->second);  // its next message is then like a new peer's
    peers_.erase(idle);
  }
  return &peers_[key];
}

PeerInbox::Verdict PeerInbox::Push(InboxMessage m) {
  const int64_t cost = Cost(m);
  Peer* p = Find(m.from);
  if (!p) {  // every tracked peer has messages queued or is paused: nothing would ever resume it
    ++stats_.dropped;
    return Verdict::kDroppedUntracked;
  }
  const PublicKey key = m.from;
  const bool had_reservation = p->reserved;
  Unreserve(*p);
  const bool fits = p->stats.bytes + cost <= limits_.peer_bytes_max &&
                    stats_.bytes + stats_.reserved + cost <= limits_.total_bytes_max;
  V2G_ASSERT(fits || !had_reservation);  // a reservation is room for any one message
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
  if (!limits_.back_pressure) return fits ? Verdict::kQueued : Verdict::kDropped;
  if (!p->stats.paused && fits && HasRoom(*p)) {
    Reserve(*p);
    V2G_ASSERT(p->stats.bytes <= limits_.peer_bytes_max && stats_.bytes + stats_.reserved <= limits_.total_bytes_max);
    return Verdict::kQueued;
  }
  // A peer that ignores its pause keeps getting told to pause; what does not fit is dropped.
  p->stats.paused = true;
  paused_.insert(key);
  V2G_ASSERT(p->stats.bytes <= limits_.peer_bytes_max && stats_.bytes + stats_.reserved <= limits_.total_bytes_max);
  return fits ? Verdict::kQueuedPause : Verdict::kDropped;
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
// paused by the total bound may be resumed by another peer's message being taken. A resumed peer
// gets its reservation with its resume, so the message it sends next fits.
void PeerInbox::CollectResumable() {
  for (auto it = paused_.begin(); it != paused_.end();) {
    Peer& p = peers_.at(*it);
    if (!HasRoom(p)) {
      ++it;
      continue;
    }
    p.stats.paused = false;
    Reserve(p);
    resumable_.push_back(*it);
    it = paused_.erase(it);
  }
}

void PeerInbox::Forget(const PublicKey& key) {
  auto it = peers_.find(key);
  if (it == peers_.end()) return;
  Peer& p = it->second;
  Unreserve(p);
  stats_.bytes -= p.stats.bytes;
  stats_.messages -= p.stats.messages;
  ready_.erase(key);
  paused_.erase(key);
  resumable_.erase(std::remove(resumable_.begin(), resumable_.end(), key), resumable_.end());
  peers_.erase(it);
  V2G_ASSERT(stats_.bytes >= 0 && stats_.messages >= 0 && stats_.reserved >= 0);
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
