// Batched tx gossip (node/tx_gossip.h) and the relay's side of it (node/tx_relay.h): many txs per
// message, each to each peer once, never back to the peer it came from, a bounded queue, and
// batches over the limits or malformed refused and counted against the peer. Flush is called by
// hand (the flush thread is not started) so nothing here depends on timing, except the one test of
// the flush thread itself, which waits on a condition with a deadline.
#include "node/tx_gossip.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "node/p2p/p2p.h"
#include "node/tx_relay.h"
#include "tests/node/node_test_util.h"

namespace v2g::nodetest {
namespace {

bool WaitFor(const std::function<bool()>& done, int64_t timeout_ms) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

PublicKey PeerKey(uint8_t b) {
  PublicKey k{};
  k.fill(b);
  return k;
}

// Records every batch sent, per peer, decoded.
class FakeGossipNet : public GossipNetwork {
 public:
  explicit FakeGossipNet(std::vector<PublicKey> peers) : peers_(std::move(peers)) {}
  std::vector<PublicKey> Peers() const override { return peers_; }
  bool Send(const PublicKey& peer, uint8_t channel, std::string payload) override {
    EXPECT_EQ(channel, kChannelMempool);
    auto txs = DecodeTxBatch(payload);
    EXPECT_TRUE(txs.ok()) << txs.status().ToString();
    std::lock_guard<std::mutex> lock(mu_);
    ++messages_[peer];
    for (auto& tx : *txs) txs_[peer].push_back(tx);
    return true;
  }
  int messages(const PublicKey& peer) {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_[peer];
  }
  std::vector<std::string> txs(const PublicKey& peer) {
    std::lock_guard<std::mutex> lock(mu_);
    return txs_[peer];
  }

 private:
  const std::vector<PublicKey> peers_;
  std::mutex mu_;
  std::map<PublicKey, int> messages_;
  std::map<PublicKey, std::vector<std::string>> txs_;
};

std::string FakeTx(int i, size_t bytes = 200) {
  std::string tx = "tx" + std::to_string(i) + ":";
  tx.resize(bytes, 'x');
  return tx;
}

TEST(TxBatchTest, RoundTrips) {
  std::vector<std::string> txs = {"a", std::string(70000, 'b'), FakeTx(3)};
  auto got = DecodeTxBatch(EncodeTxBatch({txs[0], txs[1], txs[2]}));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, txs);
}

TEST(TxBatchTest, RefusesWhatIsOverTheLimitsOrMalformed) {
  const std::string one = EncodeTxBatch({"abc"});
  auto refused = [](const std::string& payload) { return !DecodeTxBatch(payload).ok(); };
  EXPECT_TRUE(refused(""));
  EXPECT_TRUE(refused(std::string("\0\0\0", 3)));
  EXPECT_TRUE(refused(std::string("\0\0\0\0", 4)));                  // no txs
  EXPECT_TRUE(refused(one + "x"));                                   // trailing bytes
  EXPECT_TRUE(refused(one.substr(0, one.size() - 1)));               // cut short
  EXPECT_TRUE(refused(std::string("\0\0\0\1\0\0\0\0", 8)));          // an empty tx
  EXPECT_TRUE(refused(std::string("\0\0\0\1\xff\xff\xff\xff", 8)));  // a length past the end
  // A count over the limit is refused before anything is allocated for it.
  EXPECT_TRUE(refused(std::string("\xff\xff\xff\xff", 4) + std::string(100, 'a')));
  std::string over_count;
  for (int64_t i = 0; i <= limits::kGossipBatchTxsMax; ++i) {
    over_count += std::string("\0\0\0\1x", 5);
  }
  const uint32_t n = static_cast<uint32_t>(limits::kGossipBatchTxsMax + 1);
  std::string count_prefix = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                              static_cast<char>(n >> 8), static_cast<char>(n)};
  EXPECT_TRUE(refused(count_prefix + over_count));
  // The largest batch of the size limit is fine; one byte more is not.
  std::string big(static_cast<size_t>(limits::kGossipBatchBytesMax - 8), 'z');
  ASSERT_TRUE(DecodeTxBatch(EncodeTxBatch({big})).ok());
  EXPECT_TRUE(refused(EncodeTxBatch({big}) + "z"));
}

TEST(TxGossipTest, ManyTxsGoToEachPeerInFewMessages) {
  const PublicKey a = PeerKey(1), b = PeerKey(2), c = PeerKey(3);
  FakeGossipNet net({a, b, c});
  TxGossip gossip(net);
  constexpr int kTxs = 3000;
  for (int i = 0; i < kTxs; ++i) ASSERT_TRUE(gossip.Add(FakeTx(i), std::nullopt));
  gossip.Flush();
  for (const PublicKey& p : {a, b, c}) {
    // 3,000 txs of 204 bytes in batches of at most 1,024 txs and 256 KiB: 3 messages, not 3,000.
    EXPECT_EQ(net.messages(p), 3);
    auto got = net.txs(p);
    ASSERT_EQ(got.size(), static_cast<size_t>(kTxs)) << "each tx to each peer exactly once";
    for (int i = 0; i < kTxs; ++i) EXPECT_EQ(got[static_cast<size_t>(i)], FakeTx(i));
  }
  const TxGossipStats s = gossip.stats();
  EXPECT_EQ(s.batches_sent, 9);
  EXPECT_EQ(s.txs_sent, 3 * kTxs);
  EXPECT_EQ(s.queued_txs, 0);
  gossip.Flush();  // nothing queued: nothing sent again
  EXPECT_EQ(net.messages(a), 3);
}

TEST(TxGossipTest, BatchesStayWithinTheByteLimit) {
  const PublicKey a = PeerKey(1);
  FakeGossipNet net({a});
  TxGossip gossip(net);
  // 70,000-byte txs: four do not fit in 256 KiB, so batches of 3 (and 20 txs: 7 batches).
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(gossip.Add(FakeTx(i, 70000), std::nullopt));
  gossip.Flush();
  EXPECT_EQ(net.messages(a), 7);
  EXPECT_EQ(net.txs(a).size(), 20u);
}

TEST(TxGossipTest, NeverSendsATxBackToThePeerItCameFrom) {
  const PublicKey a = PeerKey(1), b = PeerKey(2), c = PeerKey(3);
  FakeGossipNet net({a, b, c});
  TxGossip gossip(net);
  ASSERT_TRUE(gossip.Add("from-a-1", a));
  ASSERT_TRUE(gossip.Add("from-api", std::nullopt));
  ASSERT_TRUE(gossip.Add("from-b", b));
  ASSERT_TRUE(gossip.Add("from-a-2", a));
  gossip.Flush();
  EXPECT_EQ(net.txs(a), (std::vector<std::string>{"from-api", "from-b"}));
  EXPECT_EQ(net.txs(b), (std::vector<std::string>{"from-a-1", "from-api", "from-a-2"}));
  EXPECT_EQ(net.txs(c), (std::vector<std::string>{"from-a-1", "from-api", "from-b", "from-a-2"}));
  // One message each; a peer with nothing to get gets no (empty) message.
  for (const PublicKey& p : {a, b, c}) EXPECT_EQ(net.messages(p), 1);
  FakeGossipNet only_a({a});
  TxGossip g2(only_a);
  ASSERT_TRUE(g2.Add("from-a", a));
  g2.Flush();
  EXPECT_EQ(only_a.messages(a), 0);
}

TEST(TxGossipTest, AFullQueueDropsAndCountsNeverBlocks) {
  const PublicKey a = PeerKey(1);
  FakeGossipNet net({a});
  TxGossip gossip(net, TxGossipLimits{.queue_txs_max = 10, .queue_bytes_max = 4096});
  for (int i = 0; i < 15; ++i) EXPECT_EQ(gossip.Add(FakeTx(i, 100), std::nullopt), i < 10);
  TxGossipStats s = gossip.stats();
  EXPECT_EQ(s.added, 10);
  EXPECT_EQ(s.dropped, 5);
  EXPECT_EQ(s.queued_txs, 10);
  EXPECT_EQ(s.queued_bytes, 10 * 104);
  // Bounded in bytes too: after a flush, 4096 bytes hold 39 txs of 104.
  gossip.Flush();
  EXPECT_EQ(net.txs(a).size(), 10u);
  EXPECT_FALSE(gossip.Add(std::string(5000, 'b'), std::nullopt));  // over the queue bytes
  // A tx that could never fit a batch is dropped too, not queued forever.
  TxGossip g2(net);
  EXPECT_FALSE(g2.Add(std::string(static_cast<size_t>(limits::kGossipBatchBytesMax), 'c'), a));
  EXPECT_FALSE(g2.Add("", a));
  EXPECT_EQ(g2.stats().dropped, 2);
  EXPECT_EQ(gossip.stats().dropped, 6);
}

TEST(TxGossipTest, TheFlushThreadSendsWithoutBeingAsked) {
  const PublicKey a = PeerKey(1);
  FakeGossipNet net({a});
  TxGossip gossip(net);
  gossip.Start();
  ASSERT_TRUE(gossip.Add("one", std::nullopt));
  EXPECT_TRUE(WaitFor([&] { return net.txs(a).size() == 1; }, 20000));
  // A full batch goes at once too; whatever the timing, every tx arrives once.
  for (int i = 0; i < 2048; ++i) ASSERT_TRUE(gossip.Add(FakeTx(i), std::nullopt));
  EXPECT_TRUE(WaitFor([&] { return net.txs(a).size() == 2049; }, 20000));
  gossip.Stop();
  EXPECT_EQ(net.txs(a).size(), 2049u);
}

// The relay: a batch of real txs from a peer is admitted tx by tx, and each admitted one is passed
// on with the peer it came from; over-limit and malformed batches are refused and counted.
class TxRelayBatchTest : public ::testing::Test {
 protected:
  TestKeys keys_;
  std::unique_ptr<MemKv> kv_ = GenesisKv(TestGenesis(keys_));
  Mempool mempool_{kChainId, MempoolLimits{100, 1 << 20, 100}};
  std::mutex mu_;
  std::vector<std::pair<std::string, PublicKey>> passed_on_;
  TxRelay relay_{mempool_, *kv_, [this](std::string tx, const PublicKey& from) {
                   std::lock_guard<std::mutex> lock(mu_);
                   passed_on_.emplace_back(std::move(tx), from);
                 }};
  size_t passed_on() {
    std::lock_guard<std::mutex> lock(mu_);
    return passed_on_.size();
  }
};

TEST_F(TxRelayBatchTest, AdmitsEachTxOfABatchAndPassesItOnWithItsOrigin) {
  const PublicKey peer = PeerKey(7);
  std::vector<std::string> txs;
  for (uint64_t n = 1; n <= 5; ++n) txs.push_back(Transfer(keys_.alice, n, keys_.bob, "CNY", 3));
  std::string bad = Transfer(keys_.alice, 6, keys_.bob, "CNY", 3);
  bad.back() = static_cast<char>(bad.back() ^ 1);  // broken signature: not admitted, not passed on
  const uint64_t verified_before = SigCacheVerifications();
  relay_.Start();
  relay_.Offer(peer, EncodeTxBatch({txs[0], txs[1], bad, txs[2], txs[3], txs[4]}));
  ASSERT_TRUE(WaitFor([&] { return relay_.admitted() == 5; }, 20000));
  relay_.Stop();
  // The batch's checks and signatures ran on every core first (Mempool::Prepare), then each tx was
  // admitted in order (AddPrepared): one verification per tx, the forged one included.
  EXPECT_EQ(SigCacheVerifications() - verified_before, 6u);
  EXPECT_EQ(relay_.prepared(), 6);
  for (const auto& tx : txs) EXPECT_TRUE(mempool_.Contains(TxHash(tx)));
  ASSERT_EQ(passed_on(), 5u);
  for (const auto& [tx, from] : passed_on_) EXPECT_EQ(from, peer);
  EXPECT_EQ(relay_.batches_refused(), 0);
}

TEST_F(TxRelayBatchTest, RefusesOverLimitAndMalformedBatchesCountedAgainstThePeer) {
  const PublicKey peer = PeerKey(7), other = PeerKey(8);
  // Over the byte limit: refused on the P2P thread, before it is queued or decoded.
  relay_.Offer(peer, std::string(static_cast<size_t>(limits::kGossipBatchBytesMax) + 1, '\0'));
  EXPECT_EQ(relay_.batches_refused(peer), 1);
  EXPECT_EQ(relay_.Inbox().messages, 0);
  // Over the count, malformed, or an old-style single tx: refused by the relay's thread.
  std::string over_count;
  const uint32_t n = static_cast<uint32_t>(limits::kGossipBatchTxsMax + 1);
  over_count = {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                static_cast<char>(n)};
  for (uint32_t i = 0; i < n; ++i) over_count += std::string("\0\0\0\1x", 5);
  relay_.Offer(peer, over_count);
  relay_.Offer(peer, "garbage");
  relay_.Offer(peer, Transfer(keys_.alice, 1, keys_.bob, "CNY", 1));
  relay_.Start();
  ASSERT_TRUE(WaitFor([&] { return relay_.batches_refused(peer) == 4; }, 20000));
  relay_.Stop();
  EXPECT_EQ(relay_.batches_refused(other), 0);
  EXPECT_EQ(relay_.batches_refused(), 4);
  EXPECT_EQ(relay_.admitted(), 0);
  EXPECT_EQ(passed_on(), 0u);
}

}  // namespace
}  // namespace v2g::nodetest
