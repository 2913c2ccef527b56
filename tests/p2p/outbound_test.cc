// OutboundQueue (node/p2p/outbound.h): consensus and evidence messages leave before queued gossip
// and sync, order is kept within each lane, and the bounds count both lanes.
#include "node/p2p/outbound.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "node/p2p/p2p.h"

namespace v2g::p2p {
namespace {

OutboundQueue::Message Msg(uint8_t channel, const std::string& payload) {
  return std::make_shared<const std::string>(std::string(1, static_cast<char>(channel)) + payload);
}

TEST(OutboundQueueTest, AConsensusMessageQueuedAfterManyGossipMessagesIsSentFirst) {
  OutboundQueue q(kP2pQueueMessagesMax, kP2pQueueBytesMax);
  for (int i = 0; i < 1000; ++i) q.Push(Msg(kChannelMempool, "tx" + std::to_string(i)));
  q.Push(Msg(kChannelBlockSync, "block"));
  q.Push(Msg(kChannelConsensus, "vote"));
  q.Push(Msg(kChannelEvidence, "evidence"));
  q.Push(Msg(kChannelConsensus, "proposal"));
  bool jumped = false;
  EXPECT_EQ(*q.Pop(&jumped), *Msg(kChannelConsensus, "vote"));
  EXPECT_TRUE(jumped);
  EXPECT_EQ(*q.Pop(), *Msg(kChannelEvidence, "evidence"));
  EXPECT_EQ(*q.Pop(&jumped), *Msg(kChannelConsensus, "proposal"));
  EXPECT_TRUE(jumped);
  // Then the bulk lane, in the order it was queued.
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(*q.Pop(&jumped), *Msg(kChannelMempool, "tx" + std::to_string(i)));
    EXPECT_FALSE(jumped);
  }
  EXPECT_EQ(*q.Pop(), *Msg(kChannelBlockSync, "block"));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
  EXPECT_EQ(q.Pop(), nullptr);
}

TEST(OutboundQueueTest, BoundsCountBothLanes) {
  OutboundQueue q(3, 100);
  q.Push(Msg(kChannelMempool, "a"));
  q.Push(Msg(kChannelConsensus, "b"));
  q.Push(Msg(kChannelMempool, "c"));
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.bytes(), 6u);
  // Full in messages: a consensus message does not fit either (the caller drops the peer).
  EXPECT_FALSE(q.Fits(Msg(kChannelConsensus, "d")));
  ASSERT_NE(q.Pop(), nullptr);
  EXPECT_TRUE(q.Fits(Msg(kChannelConsensus, "d")));
  EXPECT_FALSE(q.Fits(Msg(kChannelConsensus, std::string(96, 'x'))));  // 4 + 97 > 100 bytes
  EXPECT_TRUE(q.Fits(Msg(kChannelConsensus, std::string(95, 'x'))));
}

TEST(OutboundQueueTest, TakeFromMovesBothLanes) {
  OutboundQueue old_q(10, 1000), kept(10, 1000);
  old_q.Push(Msg(kChannelMempool, "gossip"));
  old_q.Push(Msg(kChannelConsensus, "vote"));
  kept.TakeFrom(old_q);
  EXPECT_TRUE(old_q.empty());
  EXPECT_EQ(old_q.bytes(), 0u);
  EXPECT_EQ(kept.size(), 2u);
  EXPECT_EQ(*kept.Pop(), *Msg(kChannelConsensus, "vote"));
  EXPECT_EQ(*kept.Pop(), *Msg(kChannelMempool, "gossip"));
}

TEST(OutboundQueueTest, GossipBytesAreCountedOnTheirOwnThroughPushPopAndTake) {
  OutboundQueue q(10, 1000), kept(10, 1000);
  q.Push(Msg(kChannelMempool, "batch1"));     // 7 bytes
  q.Push(Msg(kChannelBlockSync, "block"));    // 6
  q.Push(Msg(kChannelConsensus, "vote"));     // 5
  q.Push(Msg(kChannelMempool, "batch22"));    // 8
  EXPECT_EQ(q.bytes(), 26u);
  EXPECT_EQ(q.gossip_bytes(), 15u);
  EXPECT_EQ(q.gossip_messages(), 2u);
  ASSERT_EQ(*q.Pop(), *Msg(kChannelConsensus, "vote"));
  EXPECT_EQ(q.gossip_bytes(), 15u);
  ASSERT_EQ(*q.Pop(), *Msg(kChannelMempool, "batch1"));
  EXPECT_EQ(q.gossip_bytes(), 8u);
  EXPECT_EQ(q.gossip_messages(), 1u);
  kept.TakeFrom(q);
  EXPECT_EQ(q.gossip_bytes(), 0u);
  EXPECT_EQ(kept.gossip_bytes(), 8u);
  EXPECT_EQ(kept.gossip_messages(), 1u);
  kept.Clear();
  EXPECT_EQ(kept.gossip_bytes(), 0u);
  EXPECT_EQ(kept.gossip_messages(), 0u);
  EXPECT_TRUE(IsGossipChannel(kChannelMempool));
  EXPECT_FALSE(IsGossipChannel(kChannelConsensus));
  EXPECT_FALSE(IsGossipChannel(kChannelBlockSync));
}

TEST(OutboundQueueTest, OnlyConsensusAndEvidenceArePriority) {
  EXPECT_TRUE(IsPriorityChannel(kChannelConsensus));
  EXPECT_TRUE(IsPriorityChannel(kChannelEvidence));
  EXPECT_FALSE(IsPriorityChannel(kChannelMempool));
  EXPECT_FALSE(IsPriorityChannel(kChannelBlockSync));
  EXPECT_FALSE(IsPriorityChannel(0));
  EXPECT_FALSE(IsPriorityChannel(200));
}

}  // namespace
}  // namespace v2g::p2p
