// PeerInbox (node/p2p/inbox.h): what one peer can queue toward a consumer is bounded in bytes, and
// the consumer serves peers in turn, so a flooding peer fills only its own share and never pushes
// the others' messages back. Pure and deterministic: no threads, no clock.
#include "node/p2p/inbox.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace v2g {
namespace {

using Verdict = PeerInbox::Verdict;

PublicKey Peer(uint8_t b) {
  PublicKey k{};
  k.fill(b);
  return k;
}

InboxMessage Msg(const PublicKey& from, std::string payload) {
  return InboxMessage{from, 1, std::move(payload)};
}

// Messages of at most 100 bytes cost at most 228 (overhead 128); a peer may queue four of them.
constexpr int64_t kMessageMax = 100;
constexpr int64_t kMaxCost = kMessageMax + limits::kInboxMessageOverheadBytes;
constexpr int64_t kPeerMax = 4 * kMaxCost;

InboxLimits Limits(int64_t total, bool back_pressure = true) {
  return InboxLimits{.peer_bytes_max = kPeerMax,
                     .total_bytes_max = total,
                     .message_bytes_max = kMessageMax,
                     .back_pressure = back_pressure};
}

TEST(PeerInboxTest, AFloodingPeerStaysInItsBudgetAndOthersAreServedInTurn) {
  PeerInbox inbox(Limits(3 * kPeerMax));
  const PublicKey h1 = Peer(1), flooder = Peer(2), h3 = Peer(3);
  const std::string full(kMessageMax, 'f');
  std::vector<Verdict> verdicts;
  for (int i = 0; i < 1000; ++i) {  // as fast as it can, ignoring every pause
    verdicts.push_back(inbox.Push(Msg(flooder, full)));
    ASSERT_LE(inbox.peer(flooder).bytes, kPeerMax) << "after push " << i;
  }
  // Three fit with room for a fourth; the fourth fits but leaves no room: pause; the rest drop.
  EXPECT_EQ(verdicts[0], Verdict::kQueued);
  EXPECT_EQ(verdicts[2], Verdict::kQueued);
  EXPECT_EQ(verdicts[3], Verdict::kQueuedPause);
  EXPECT_EQ(verdicts[4], Verdict::kDropped);
  EXPECT_EQ(verdicts[999], Verdict::kDropped);
  EXPECT_EQ(inbox.peer(flooder).bytes, kPeerMax);
  EXPECT_EQ(inbox.peer(flooder).dropped, 996);
  EXPECT_TRUE(inbox.peer(flooder).paused);
  EXPECT_TRUE(inbox.TakeResumable().empty());

  // The honest peers still get in: they have budgets of their own.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(inbox.Push(Msg(h1, "h1-" + std::to_string(i))), Verdict::kQueued);
    EXPECT_EQ(inbox.Push(Msg(h3, "h3-" + std::to_string(i))), Verdict::kQueued);
  }
  // Round-robin in key order, one message per peer per turn, not in arrival order: the flooder's
  // four queued messages came first but get one turn in three.
  std::vector<std::string> order;
  std::vector<PublicKey> resumed;
  while (auto m = inbox.Pop()) {
    order.push_back(m->payload == full ? "F" : m->payload);
    for (const PublicKey& p : inbox.TakeResumable()) resumed.push_back(p);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"h1-0", "F", "h3-0", "h1-1", "F", "h3-1", "h1-2", "F",
                                             "h3-2", "F"}));
  // The flooder's reads resume as soon as one of its messages is taken, exactly once.
  EXPECT_EQ(resumed, std::vector<PublicKey>{flooder});
  EXPECT_FALSE(inbox.peer(flooder).paused);
  // h1's messages waited 0, 3 and 6 messages: (queued ahead + 1) x peers - 1 at most.
  EXPECT_EQ(inbox.peer(h1).max_wait, 6);
  EXPECT_LE(inbox.peer(h1).max_wait, 3 * 3 - 1);
  EXPECT_EQ(inbox.stats().bytes, 0);
  EXPECT_EQ(inbox.stats().peak_bytes, kPeerMax + 6 * (4 + limits::kInboxMessageOverheadBytes));
  EXPECT_EQ(inbox.stats().taken, 10);
}

// A peer told to keep reading holds room for its next message: when the total fills, the peer
// that obeyed loses nothing (it used to be dropped: the total kept one slot for all peers), and
// the one that pushed while paused is dropped.
TEST(PeerInboxTest, TheTotalBoundPausesPeersButNeverDropsOneThatObeyed) {
  PeerInbox inbox(Limits(kPeerMax));  // the total holds one peer's budget
  const PublicKey a = Peer(1), b = Peer(2);
  const std::string full(kMessageMax, 'x');
  EXPECT_EQ(inbox.Push(Msg(a, full)), Verdict::kQueued);
  EXPECT_EQ(inbox.Push(Msg(a, full)), Verdict::kQueued);
  EXPECT_EQ(inbox.stats().reserved, kMaxCost);  // a's next message
  EXPECT_EQ(inbox.Push(Msg(b, full)), Verdict::kQueuedPause);  // fits beside a's reservation, no more
  EXPECT_EQ(inbox.Push(Msg(a, full)), Verdict::kQueuedPause);  // a's reservation holds it
  EXPECT_EQ(inbox.Push(Msg(b, full)), Verdict::kDropped);      // b pushed while paused
  EXPECT_EQ(inbox.stats().bytes, kPeerMax);
  EXPECT_EQ(inbox.stats().reserved, 0);
  EXPECT_EQ(inbox.peer(a).dropped, 0);
  EXPECT_EQ(inbox.peer(b).dropped, 1);
  // Each message taken makes room for one peer's next message: resumed in turn, each once.
  ASSERT_TRUE(inbox.Pop().has_value());
  EXPECT_EQ(inbox.TakeResumable(), std::vector<PublicKey>{a});
  EXPECT_EQ(inbox.stats().reserved, kMaxCost);
  ASSERT_TRUE(inbox.Pop().has_value());
  EXPECT_EQ(inbox.TakeResumable(), std::vector<PublicKey>{b});
  EXPECT_TRUE(inbox.TakeResumable().empty());  // named once per pause
  EXPECT_LE(inbox.stats().bytes + inbox.stats().reserved, kPeerMax);
}

// Seeded: peers that obey their pauses never lose a message while one peer floods as fast as it
// can and the total binds; queued bytes and reservations never pass the total.
TEST(PeerInboxTest, PeersThatObeyPausesLoseNothingUnderAFloodWhateverTheOrder) {
  constexpr int64_t kTotal = 2 * kPeerMax;
  PeerInbox inbox(Limits(kTotal));
  const PublicKey flooder = Peer(9);
  std::map<PublicKey, bool> paused = {{Peer(1), false}, {Peer(2), false}, {Peer(3), false}, {Peer(4), false}};
  std::mt19937_64 rng(20261205);
  int64_t honest_sent = 0;
  // Connected before the flood: a peer's very first message has no reservation yet (one arriving
  // while the total is full is dropped and the peer paused until there is room).
  for (auto& [peer, is_paused] : paused) ASSERT_EQ(inbox.Push(Msg(peer, "hello")), Verdict::kQueued);
  for (int step = 0; step < 200000; ++step) {
    inbox.Push(Msg(flooder, std::string(rng() % (kMessageMax + 1), 'f')));  // ignores every pause
    for (auto& [peer, is_paused] : paused) {
      if (is_paused || rng() % 3 != 0) continue;
      const Verdict v = inbox.Push(Msg(peer, std::string(rng() % (kMessageMax + 1), 'h')));
      ASSERT_NE(v, Verdict::kDropped) << "step " << step;
      is_paused = v == Verdict::kQueuedPause;
      ++honest_sent;
    }
    for (int k = static_cast<int>(rng() % 4); k > 0; --k) inbox.Pop();
    for (const PublicKey& p : inbox.TakeResumable()) {
      if (p != flooder) paused[p] = false;
    }
    ASSERT_LE(inbox.stats().bytes + inbox.stats().reserved, kTotal) << "step " << step;
  }
  for (const auto& [peer, _] : paused) EXPECT_EQ(inbox.peer(peer).dropped, 0);
  EXPECT_GT(inbox.peer(flooder).dropped, 0);  // the flood did bind
  EXPECT_GT(honest_sent, 100000);
}

// A closed connection's queue, reservation and pause go with it.
TEST(PeerInboxTest, ForgetReleasesAPeersQueueReservationAndPause) {
  PeerInbox inbox(Limits(kPeerMax));
  const PublicKey a = Peer(1), b = Peer(2);
  const std::string full(kMessageMax, 'x');
  EXPECT_EQ(inbox.Push(Msg(a, full)), Verdict::kQueued);
  EXPECT_EQ(inbox.Push(Msg(a, full)), Verdict::kQueued);
  EXPECT_EQ(inbox.Push(Msg(b, full)), Verdict::kQueuedPause);
  inbox.Forget(a);
  EXPECT_EQ(inbox.stats().bytes, kMaxCost);
  EXPECT_EQ(inbox.stats().reserved, 0);
  EXPECT_EQ(inbox.stats().messages, 1);
  EXPECT_EQ(inbox.TakeResumable(), std::vector<PublicKey>{b});  // the room a held is b's now
  EXPECT_EQ(inbox.Pop()->from, b);
  EXPECT_FALSE(inbox.Pop().has_value());
  inbox.Forget(Peer(7));  // unknown: nothing happens
  EXPECT_EQ(inbox.stats().bytes, 0);
}

TEST(PeerInboxTest, EmptyMessagesCostTheirOverhead) {
  PeerInbox inbox(Limits(10 * kPeerMax));
  const PublicKey p = Peer(7);
  int queued = 0;
  for (int i = 0; i < 100000; ++i) queued += inbox.Push(Msg(p, "")) != Verdict::kDropped ? 1 : 0;
  EXPECT_EQ(queued, kPeerMax / limits::kInboxMessageOverheadBytes);
  EXPECT_LE(inbox.stats().bytes, kPeerMax);
}

TEST(PeerInboxTest, WithoutBackPressureWhatDoesNotFitIsDroppedAndNothingPauses) {
  PeerInbox inbox(Limits(kPeerMax, /*back_pressure=*/false));
  const PublicKey p = Peer(7);
  const std::string full(kMessageMax, 'x');
  for (int i = 0; i < 4; ++i) EXPECT_EQ(inbox.Push(Msg(p, full)), Verdict::kQueued);
  EXPECT_EQ(inbox.Push(Msg(p, full)), Verdict::kDropped);
  EXPECT_FALSE(inbox.peer(p).paused);
  ASSERT_TRUE(inbox.Pop().has_value());
  EXPECT_TRUE(inbox.TakeResumable().empty());
  EXPECT_EQ(inbox.Push(Msg(p, full)), Verdict::kQueued);
}

TEST(PeerInboxTest, TheNumberOfPeersTrackedIsBounded) {
  InboxLimits l = Limits(10 * kPeerMax);
  l.peers_max = 2;
  PeerInbox inbox(l);
  EXPECT_EQ(inbox.Push(Msg(Peer(1), "a")), Verdict::kQueued);
  EXPECT_EQ(inbox.Push(Msg(Peer(2), "b")), Verdict::kQueued);
  // Both tracked peers are busy: dropped, and not paused (nothing would ever resume it).
  EXPECT_EQ(inbox.Push(Msg(Peer(3), "c")), Verdict::kDroppedUntracked);
  ASSERT_EQ(inbox.Pop()->payload, "a");
  EXPECT_EQ(inbox.Push(Msg(Peer(3), "c")), Verdict::kQueued);  // peer 1, idle, is forgotten
  EXPECT_EQ(inbox.peer(Peer(1)).peak_bytes, 0);
  EXPECT_EQ(inbox.Pop()->payload, "b");
  EXPECT_EQ(inbox.Pop()->payload, "c");
}

// Seeded random schedules of pushes and pops: one peer floods, three send now and then. Whatever
// the schedule, nobody's queued bytes pass the budget, and every message of the honest peers is
// taken within (messages its peer had queued ahead of it + 1) x peers - 1 others.
TEST(PeerInboxTest, HonestMessagesWaitABoundedNumberOfTurnsWhateverTheFlood) {
  const uint32_t seed = 20261205;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  PeerInbox inbox(Limits(3 * kPeerMax));
  const std::vector<PublicKey> peers = {Peer(1), Peer(2), Peer(3), Peer(4)};
  const PublicKey flooder = Peer(3);
  struct Sent {
    int64_t queued_at;
    int64_t ahead;
  };
  std::map<std::string, Sent> sent;
  std::map<PublicKey, std::deque<std::string>> queued;
  int64_t taken = 0, checked = 0;
  for (int step = 0; step < 200000; ++step) {
    const auto r = rng() % 100;
    if (r < 60) {  // the flood: 60 % of all events
      inbox.Push(Msg(flooder, std::string(rng() % (kMessageMax + 1), 'f')));
    } else if (r < 66) {
      const PublicKey& from = peers[rng() % 2 == 0 ? 0 : (rng() % 2 == 0 ? 1 : 3)];
      const std::string id = std::to_string(step);
      const int64_t ahead = static_cast<int64_t>(queued[from].size());
      if (inbox.Push(Msg(from, id)) != Verdict::kDropped) {
        sent[id] = Sent{taken, ahead};
        queued[from].push_back(id);
      }
    } else {
      auto m = inbox.Pop();
      if (m && m->from != flooder) {
        ASSERT_EQ(queued[m->from].front(), m->payload) << "a peer's own messages stay in order";
        queued[m->from].pop_front();
        const Sent& s = sent.at(m->payload);
        ASSERT_LE(taken - s.queued_at, (s.ahead + 1) * 4 - 1) << "message " << m->payload;
        ++checked;
      }
      if (m) ++taken;
      inbox.TakeResumable();
    }
    ASSERT_LE(inbox.peer(flooder).bytes, kPeerMax);
    ASSERT_LE(inbox.stats().bytes, 3 * kPeerMax);
  }
  EXPECT_GT(checked, 1000);
  EXPECT_GT(inbox.peer(flooder).dropped, 0) << "the flood should have hit its budget";
}

}  // namespace
}  // namespace v2g
