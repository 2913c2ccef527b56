// OutboundQueue: one peer's queue of messages waiting for the writer, in two lanes. Consensus and
// evidence messages go in the priority lane, everything else (tx gossip, block sync, channels the
// transport does not know) in the bulk lane; Pop always takes the oldest priority message before
// any bulk one, so a vote never waits behind queued gossip or sync. Order is kept within a lane.
// Bounded in messages and bytes over both lanes together; what happens past the bounds is the
// caller's choice (P2p drops the peer: p2p.h says why). Tx gossip (kChannelMempool) also has a
// share of its own, gossip_bytes() and gossip_messages(): P2p skips a gossip batch past it rather than let best-effort
// gossip fill the queue and get the peer dropped.
//
// Not thread-safe: P2p guards it with Impl::mu.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "common/assert.h"

namespace v2g::p2p {

// True for the channels whose messages jump the bulk lane (kChannelConsensus, kChannelEvidence).
bool IsPriorityChannel(uint8_t channel);
// True for tx gossip (kChannelMempool), whose bytes are also counted on their own.
bool IsGossipChannel(uint8_t channel);

class OutboundQueue {
 public:
  using Message = std::shared_ptr<const std::string>;  // channel byte | payload

  OutboundQueue(size_t messages_max, size_t bytes_max)
      : messages_max_(messages_max), bytes_max_(bytes_max) {}

  // Whether `msg` fits both bounds on top of what is queued.
  bool Fits(const Message& msg) const {
    return size() < messages_max_ && bytes_ + msg->size() <= bytes_max_;
  }
  // Queues `msg` in the lane of its channel (its first byte). The caller checked Fits.
  void Push(Message msg) {
    V2G_ASSERT(msg && !msg->empty() && Fits(msg));
    bytes_ += msg->size();
    if (IsGossipChannel(static_cast<uint8_t>((*msg)[0]))) {
      gossip_bytes_ += msg->size();
      ++gossip_messages_;
    }
    if (IsPriorityChannel(static_cast<uint8_t>((*msg)[0]))) {
      priority_.push_back(std::move(msg));
    } else {
      bulk_.push_back(std::move(msg));
    }
  }
  // The next message to write: the oldest priority one, else the oldest bulk one; null when empty.
  // `*jumped` (optional) is set when a priority message was taken while bulk ones were waiting.
  Message Pop(bool* jumped = nullptr) {
    std::deque<Message>& lane = priority_.empty() ? bulk_ : priority_;
    if (jumped) *jumped = !priority_.empty() && !bulk_.empty();
    if (lane.empty()) return nullptr;
    Message msg = std::move(lane.front());
    lane.pop_front();
    V2G_ASSERT(bytes_ >= msg->size());
    bytes_ -= msg->size();
    if (IsGossipChannel(static_cast<uint8_t>((*msg)[0]))) {
      V2G_ASSERT(gossip_bytes_ >= msg->size() && gossip_messages_ > 0);
      gossip_bytes_ -= msg->size();
      --gossip_messages_;
    }
    return msg;
  }
  void Clear() {
    priority_.clear();
    bulk_.clear();
    bytes_ = 0;
    gossip_bytes_ = 0;
    gossip_messages_ = 0;
  }
  // Moves everything of `other` here (a replaced connection's queue to the kept one); `other` ends
  // empty. This queue must be empty.
  void TakeFrom(OutboundQueue& other) {
    V2G_ASSERT(empty());
    priority_ = std::move(other.priority_);
    bulk_ = std::move(other.bulk_);
    bytes_ = other.bytes_;
    gossip_bytes_ = other.gossip_bytes_;
    gossip_messages_ = other.gossip_messages_;
    other.Clear();
  }

  bool empty() const { return priority_.empty() && bulk_.empty(); }
  size_t size() const { return priority_.size() + bulk_.size(); }
  size_t bytes() const { return bytes_; }
  size_t gossip_bytes() const { return gossip_bytes_; }        // of kChannelMempool messages, in bytes()
  size_t gossip_messages() const { return gossip_messages_; }  // and how many, in size()

 private:
  const size_t messages_max_;
  const size_t bytes_max_;
  std::deque<Message> priority_;
  std::deque<Message> bulk_;
  size_t bytes_ = 0;
  size_t gossip_bytes_ = 0;
  size_t gossip_messages_ = 0;
};

}  // namespace v2g::p2p
