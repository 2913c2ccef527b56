// Mempool: what a client submitting txs notices. A tx is admitted only if it would apply after
// everything already pending; every rejection names its reason and leaves the pool as it was.
#include "node/mempool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/node/node_test_util.h"

namespace v2g::nodetest {
namespace {

// No bound on a reaped block's fee units beyond its txs and bytes.
constexpr int64_t kAnyUnits = int64_t{1} << 40;

class MempoolTest : public ::testing::Test {
 protected:
  MempoolTest() : genesis_(TestGenesis(k_)), state_(GenesisKv(genesis_)) {}

  Mempool Make(MempoolLimits limits = {100, 1 << 20, 10}) { return Mempool(kChainId, limits); }
  void ExpectEmpty(const Mempool& m) {
    EXPECT_EQ(m.Stats().txs, 0);
    EXPECT_EQ(m.Stats().bytes, 0);
  }

  TestKeys k_;
  GenesisState genesis_;
  std::unique_ptr<MemKv> state_;
};

TEST_F(MempoolTest, AdmitsAValidTransfer) {
  Mempool m = Make();
  std::string tx = Transfer(k_.alice, 1, k_.bob, "CNY", 1250);
  auto added = m.Add(tx, *state_);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(*added, TxHash(tx));
  EXPECT_TRUE(m.Contains(TxHash(tx)));
  EXPECT_TRUE(m.Verified(TxHash(tx)));
  EXPECT_EQ(m.Stats().txs, 1);
  EXPECT_EQ(m.Stats().bytes, static_cast<int64_t>(tx.size()));
  // Admission does not touch the committed state.
  EXPECT_EQ(Nonce(*state_, k_.alice), 0u);
  EXPECT_EQ(Balance(*state_, k_.alice, "CNY"), kAliceCny);
}

TEST_F(MempoolTest, RejectsABadSignature) {
  Mempool m = Make();
  std::string good = Transfer(k_.alice, 1, k_.bob, "CNY", 1250);
  pb::Tx tx;
  ASSERT_TRUE(tx.ParseFromString(good));
  std::string sig = tx.signature();
  sig[0] = static_cast<char>(sig[0] ^ 0x01);
  tx.set_signature(sig);
  auto added = m.Add(Encode(tx), *state_);
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.status().code(), Code::kBadSignature);
  EXPECT_TRUE(Contains(added.status().message(), "signature"));
  ExpectEmpty(m);
  // The genuine tx is still admissible afterwards.
  EXPECT_TRUE(m.Add(good, *state_).ok());
}

// Issue 12, class 4: a failed signature check is not repeated for the same bytes. A client
// resending one forged tx (or a peer re-gossiping it, or a faulty proposer putting it in blocks)
// used to cost an Ed25519 verification every time; now the verdict is cached like a good one.
TEST_F(MempoolTest, ABadSignatureIsVerifiedOnceHoweverOftenItIsSent) {
  Mempool m = Make();
  pb::Tx tx;
  ASSERT_TRUE(tx.ParseFromString(Transfer(k_.alice, 1, k_.bob, "CNY", 1250)));
  std::string sig = tx.signature();
  sig[5] = static_cast<char>(sig[5] ^ 0x40);
  tx.set_signature(sig);
  const std::string forged = Encode(tx);
  const uint64_t before = Ed25519Verifications();
  for (int i = 0; i < 100; ++i) {
    auto added = m.Add(forged, *state_);
    ASSERT_FALSE(added.ok());
    EXPECT_EQ(added.status().code(), Code::kBadSignature);
  }
  // In a block too (not admitted here, so not "already verified"): the same cached verdict.
  BlockContext ctx{kChainId, 1, genesis_.genesis_time_ms + 1000, AddressFromPublicKey(k_.validator.public_key())};
  Overlay st(state_.get());
  BlockOutcome out = ExecuteBlock(ctx, {forged, forged}, nullptr, st);
  ASSERT_EQ(out.results.size(), 2u);
  EXPECT_EQ(out.results[1].code(), static_cast<uint32_t>(Code::kBadSignature));
  EXPECT_EQ(Ed25519Verifications() - before, 1u);  // not 102
  ExpectEmpty(m);
}

TEST_F(MempoolTest, RejectsATxSignedByAnotherKeyThanItClaims) {
  Mempool m = Make();
  pb::Tx tx;
  ASSERT_TRUE(tx.ParseFromString(Transfer(k_.alice, 1, k_.bob, "CNY", 1250)));
  // Claim to be bob while carrying alice's signature: would let bob's funds move without bob.
  tx.set_signer_pubkey(std::string(k_.bob.public_key().begin(), k_.bob.public_key().end()));
  auto added = m.Add(Encode(tx), *state_);
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.status().code(), Code::kBadSignature);
  ExpectEmpty(m);
}

TEST_F(MempoolTest, RejectsAWrongChainId) {
  Mempool m = Make();
  auto added = m.Add(Transfer(k_.alice, 1, k_.bob, "CNY", 1250, "v2g-other-chain"), *state_);
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.status().code(), Code::kWrongChainId);
  EXPECT_TRUE(Contains(added.status().message(), "v2g-other-chain"));
  ExpectEmpty(m);
}

TEST_F(MempoolTest, RejectsAReplayedNonceAgainstCommittedState) {
  ASSERT_TRUE(CommitToKv(*state_, Transfer(k_.alice, 1, k_.bob, "CNY", 100), AddrOf(k_.validator)).ok());
  Mempool m = Make();
  auto added = m.Add(Transfer(k_.alice, 1, k_.bob, "CNY", 200), *state_);
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.status().code(), Code::kNonceReplayed);
  EXPECT_TRUE(Contains(added.status().message(), "next is 2"));
  ExpectEmpty(m);
}

TEST_F(MempoolTest, RejectsAReplayedNonceAgainstPendingTxs) {
  Mempool m = Make();
  ASSERT_TRUE(m.Add(Transfer(k_.alice, 1, k_.bob, "CNY", 100), *state_).ok());
  // A different tx (other amount) reusing nonce 1: both cannot commit.
  auto added = m.Add(Transfer(k_.alice, 1, k_.carol, "CNY", 100), *state_);
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.status().code(), Code::kNonceReplayed);
  EXPECT_EQ(m.Stats().txs, 1);
}

TEST_F(MempoolTest, RejectsASkippedNonce) {
  Mempool m = Make();
  auto added = m.Add(Transfer(k_.alice, 2, k_.bob, "CNY", 100), *state_);
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.status().code(), Code::kNonceGap);
  EXPECT_TRUE(Contains(added.status().message(), "next is 1"));
  ExpectEmpty(m);
  // With nonce 1 pending, nonce 3 still skips ahead.
  ASSERT_TRUE(m.Add(Transfer(k_.alice, 1, k_.bob, "CNY", 100), *state_).ok());
  auto skip = m.Add(Transfer(k_.alice, 3, k_.bob, "CNY", 100), *state_);
  ASSERT_FALSE(skip.ok());
  EXPECT_EQ(skip.status().code(), Code::kNonceGap);
  EXPECT_TRUE(Contains(skip.status().message(), "next is 2"));
  EXPECT_EQ(m.Stats().txs, 1);
}

TEST_F(MempoolTest, RejectsAnOverspend) {
  Mempool m = Make();
  auto added = m.Add(Transfer(k_.alice, 1, k_.bob, "CNY", kAliceCny + 1), *state_);
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.status().code(), Code::kInsufficientFunds);
  ExpectEmpty(m);
  // Bob has nothing at all.
  auto broke = m.Add(Transfer(k_.bob, 1, k_.alice, "CNY", 1), *state_);
  ASSERT_FALSE(broke.ok());
  EXPECT_EQ(broke.status().code(), Code::kInsufficientFunds);
  ExpectEmpty(m);
}

TEST_F(MempoolTest, RejectsAnOverspendAcrossTwoPendingTxsOfOneSender) {
  Mempool m = Make();
  const int64_t sixty_percent = kAliceCny * 6 / 10;
  std::string first = Transfer(k_.alice, 1, k_.bob, "CNY", sixty_percent);
  ASSERT_TRUE(m.Add(first, *state_).ok());
  // Each tx alone is affordable; both together are not.
  auto second = m.Add(Transfer(k_.alice, 2, k_.carol, "CNY", sixty_percent), *state_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kInsufficientFunds);
  EXPECT_EQ(m.Stats().txs, 1);
  EXPECT_TRUE(m.Contains(TxHash(first)));
  // What is left is still spendable with the next nonce.
  EXPECT_TRUE(m.Add(Transfer(k_.alice, 2, k_.carol, "CNY", kAliceCny - sixty_percent), *state_).ok());
  EXPECT_EQ(m.Stats().txs, 2);
}

TEST_F(MempoolTest, RejectsADuplicate) {
  Mempool m = Make();
  std::string tx = Transfer(k_.alice, 1, k_.bob, "CNY", 100);
  ASSERT_TRUE(m.Add(tx, *state_).ok());
  auto again = m.Add(tx, *state_);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kDuplicate);
  EXPECT_TRUE(Contains(again.status().message(), TxHashHex(TxHash(tx))));
  EXPECT_EQ(m.Stats().txs, 1);
  EXPECT_EQ(m.Stats().bytes, static_cast<int64_t>(tx.size()));
}

TEST_F(MempoolTest, FullByCount) {
  Mempool m = Make({2, 1 << 20, 10});
  ASSERT_TRUE(m.Add(Transfer(k_.alice, 1, k_.bob, "CNY", 100), *state_).ok());
  ASSERT_TRUE(m.Add(Transfer(k_.alice, 2, k_.bob, "CNY", 100), *state_).ok());
  auto full = m.Add(Transfer(k_.alice, 3, k_.bob, "CNY", 100), *state_);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), Code::kMempoolFull);
  EXPECT_TRUE(Contains(full.status().message(), "full"));
  EXPECT_EQ(m.Stats().txs, 2);
}

TEST_F(MempoolTest, LimitsHoldUnderConcurrentSubmissions) {
  // The API checks txs on many threads at once; the pool's bounds must hold all the same.
  constexpr int kSenders = 8;
  std::vector<KeyPair> senders;
  for (int i = 0; i < kSenders; ++i) {
    senders.push_back(Key(static_cast<uint8_t>(40 + i)));
    ASSERT_TRUE(CommitToKv(*state_, Transfer(k_.alice, static_cast<uint64_t>(i + 1), senders.back(), "CNY", 100),
                           AddrOf(k_.validator))
                    .ok());
  }
  for (int round = 0; round < 20; ++round) {
    Mempool m = Make({2, 1 << 20, 10});
    std::vector<std::string> txs;
    for (int i = 0; i < kSenders; ++i) txs.push_back(Transfer(senders[static_cast<size_t>(i)], 1, k_.bob, "CNY", 1 + round));
    std::atomic<int> ready{0};
    std::atomic<int> admitted{0};
    std::atomic<int> full{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kSenders; ++i) {
      threads.emplace_back([&, i] {
        ready++;
        while (ready.load() < kSenders) std::this_thread::yield();
        auto r = m.Add(txs[static_cast<size_t>(i)], *state_);
        if (r.ok()) admitted++;
        if (!r.ok() && r.status().code() == Code::kMempoolFull) full++;
      });
    }
    for (auto& t : threads) t.join();
    ASSERT_EQ(admitted.load(), 2) << "round " << round;
    ASSERT_EQ(full.load(), kSenders - 2);
    ASSERT_EQ(m.Stats().txs, 2);
  }
}

TEST_F(MempoolTest, FullByBytes) {
  std::string t1 = Transfer(k_.alice, 1, k_.bob, "CNY", 100);
  std::string t2 = Transfer(k_.alice, 2, k_.bob, "CNY", 100);
  ASSERT_EQ(t1.size(), t2.size());
  // Room for one and a half txs.
  Mempool m = Make({100, static_cast<int64_t>(t1.size() + t1.size() / 2), 10});
  ASSERT_TRUE(m.Add(t1, *state_).ok());
  auto full = m.Add(t2, *state_);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), Code::kMempoolFull);
  EXPECT_EQ(m.Stats().txs, 1);
  EXPECT_EQ(m.Stats().bytes, static_cast<int64_t>(t1.size()));
}

TEST_F(MempoolTest, PerSenderCap) {
  ASSERT_TRUE(CommitToKv(*state_, Transfer(k_.alice, 1, k_.bob, "CNY", 1000), AddrOf(k_.validator)).ok());
  Mempool m = Make({100, 1 << 20, 2});
  ASSERT_TRUE(m.Add(Transfer(k_.alice, 2, k_.carol, "CNY", 100), *state_).ok());
  ASSERT_TRUE(m.Add(Transfer(k_.alice, 3, k_.carol, "CNY", 100), *state_).ok());
  auto capped = m.Add(Transfer(k_.alice, 4, k_.carol, "CNY", 100), *state_);
  ASSERT_FALSE(capped.ok());
  EXPECT_EQ(capped.status().code(), Code::kSenderLimit);
  EXPECT_TRUE(Contains(capped.status().message(), EncodeAddress(AddrOf(k_.alice))));
  // The cap is per sender: bob can still submit.
  EXPECT_TRUE(m.Add(Transfer(k_.bob, 1, k_.carol, "CNY", 100), *state_).ok());
  EXPECT_EQ(m.Stats().txs, 3);
}

TEST_F(MempoolTest, ReapRespectsLimitsAndAdmissionOrder) {
  ASSERT_TRUE(CommitToKv(*state_, Transfer(k_.alice, 1, k_.bob, "CNY", 1000), AddrOf(k_.validator)).ok());
  Mempool m = Make();
  std::vector<std::string> txs = {
      Transfer(k_.alice, 2, k_.carol, "CNY", 10), Transfer(k_.bob, 1, k_.carol, "CNY", 20),
      Transfer(k_.alice, 3, k_.carol, "CNY", 30), Transfer(k_.bob, 2, k_.carol, "CNY", 40),
      Transfer(k_.alice, 4, k_.carol, "PTS", 5)};
  for (const auto& tx : txs) ASSERT_TRUE(m.Add(tx, *state_).ok());

  EXPECT_EQ(m.Reap(100, 1 << 20, kAnyUnits), txs);
  EXPECT_EQ(m.Reap(3, 1 << 20, kAnyUnits), std::vector<std::string>(txs.begin(), txs.begin() + 3));
  EXPECT_TRUE(m.Reap(0, 1 << 20, kAnyUnits).empty());
  // By bytes: the first two fit, the third would not; reaping stops there (it never skips
  // ahead, which would break the nonce sequence).
  const int64_t two = static_cast<int64_t>(txs[0].size() + txs[1].size());
  EXPECT_EQ(m.Reap(100, two, kAnyUnits), std::vector<std::string>(txs.begin(), txs.begin() + 2));
  EXPECT_EQ(m.Reap(100, two + static_cast<int64_t>(txs[2].size()) - 1, kAnyUnits),
            std::vector<std::string>(txs.begin(), txs.begin() + 2));
  EXPECT_TRUE(m.Reap(100, static_cast<int64_t>(txs[0].size()) - 1, kAnyUnits).empty());
  // Reaping does not remove anything.
  EXPECT_EQ(m.Stats().txs, 5);
}

TEST_F(MempoolTest, UpdateRemovesCommittedAndEvictsWhatNoLongerApplies) {
  ASSERT_TRUE(CommitToKv(*state_, Transfer(k_.alice, 1, k_.bob, "CNY", 5000), AddrOf(k_.validator)).ok());
  Mempool m = Make({100, 1 << 20, 3});
  std::string a2 = Transfer(k_.alice, 2, k_.carol, "CNY", 100);
  std::string a3 = Transfer(k_.alice, 3, k_.carol, "CNY", 100);
  std::string a4 = Transfer(k_.alice, 4, k_.carol, "CNY", 100);
  std::string b1 = Transfer(k_.bob, 1, k_.carol, "CNY", 1000);
  std::string b2 = Transfer(k_.bob, 2, k_.carol, "CNY", 1000);
  for (const auto& tx : {a2, a3, a4, b1, b2}) ASSERT_TRUE(m.Add(tx, *state_).ok());

  // A block (proposed elsewhere) commits alice's 2 and 3 and a different tx of bob's with nonce
  // 1 that spends almost everything he has.
  std::string b1_other = Transfer(k_.bob, 1, k_.alice, "CNY", 4500);
  for (const auto& tx : {a2, a3, b1_other}) ASSERT_TRUE(CommitToKv(*state_, tx, AddrOf(k_.validator)).ok());
  m.Update({TxHash(a2), TxHash(a3), TxHash(b1_other)}, *state_);

  EXPECT_FALSE(m.Contains(TxHash(a2)));  // committed
  EXPECT_FALSE(m.Contains(TxHash(a3)));
  EXPECT_TRUE(m.Contains(TxHash(a4)));   // still the next nonce of alice
  EXPECT_FALSE(m.Contains(TxHash(b1)));  // nonce 1 is used now
  EXPECT_FALSE(m.Contains(TxHash(b2)));  // nonce 2 fits, but bob has 500 left, not 1000
  EXPECT_EQ(m.Stats().txs, 1);
  EXPECT_EQ(m.Stats().bytes, static_cast<int64_t>(a4.size()));
  EXPECT_EQ(m.Reap(100, 1 << 20, kAnyUnits), std::vector<std::string>{a4});

  // New txs are checked against the new state plus what is left pending.
  EXPECT_TRUE(m.Add(Transfer(k_.alice, 5, k_.carol, "CNY", 100), *state_).ok());
  auto replay = m.Add(b2, *state_);
  ASSERT_FALSE(replay.ok());
  EXPECT_EQ(replay.status().code(), Code::kInsufficientFunds);
  EXPECT_TRUE(m.Add(Transfer(k_.bob, 2, k_.carol, "CNY", 500), *state_).ok());
  // Per-sender counts were recomputed: alice has 2 pending (cap 3), so one more fits.
  EXPECT_TRUE(m.Add(Transfer(k_.alice, 6, k_.carol, "CNY", 100), *state_).ok());
  auto capped = m.Add(Transfer(k_.alice, 7, k_.carol, "CNY", 100), *state_);
  ASSERT_FALSE(capped.ok());
  EXPECT_EQ(capped.status().code(), Code::kSenderLimit);
}

// ---------------------------------------------------------------- priority by fee per unit
// Issue 12: on a chain with fees, a full block takes the txs that pay more per fee unit first,
// each sender's in nonce order; cheap spam waits, and past the soft limit only a better rate gets
// into the pool at all.
class MempoolFeeTest : public ::testing::Test {
 protected:
  MempoolFeeTest() : genesis_(TestGenesis(k_)) {
    genesis_.params.market_denom = "CNY";
    genesis_.params.fee_min = 1;
    state_ = GenesisKv(genesis_);
    // bob and carol get CNY of their own (alice's nonce 1 and 2).
    V2G_ASSERT(CommitToKv(*state_, Paid(k_.alice, 1, k_.bob, 10000, 1), AddrOf(k_.validator)).ok());
    V2G_ASSERT(CommitToKv(*state_, Paid(k_.alice, 2, k_.carol, 10000, 1), AddrOf(k_.validator)).ok());
  }
  // A CNY transfer (one fee unit) paying `fee`.
  static std::string Paid(const KeyPair& from, uint64_t nonce, const KeyPair& to, int64_t amount, int64_t fee) {
    pb::TxBody body = MakeTransfer(nonce, AddrOf(to), "CNY", amount);
    body.mutable_fee()->set_denom("CNY");
    body.mutable_fee()->set_amount(fee);
    return SignTx(from, kChainId, std::move(body));
  }
  Mempool Make(MempoolLimits limits = {100, 1 << 20, 10}) { return Mempool(kChainId, limits); }
  pb::ParamsRecord Params() const { return LoadParams(*state_); }

  TestKeys k_;
  GenesisState genesis_;
  std::unique_ptr<MemKv> state_;
};

TEST_F(MempoolFeeTest, ReapTakesTheHighestRateFirstEachSenderInNonceOrder) {
  Mempool m = Make();
  const std::string a3 = Paid(k_.alice, 3, k_.bob, 1, 1);
  const std::string a4 = Paid(k_.alice, 4, k_.bob, 1, 9);  // pays most, but after alice's 3
  const std::string b1 = Paid(k_.bob, 1, k_.alice, 1, 5);
  const std::string c1 = Paid(k_.carol, 1, k_.alice, 1, 3);
  for (const auto& tx : {a3, a4, b1, c1}) ASSERT_TRUE(m.Add(tx, *state_).ok());
  EXPECT_EQ(m.Reap(100, 1 << 20, kAnyUnits), (std::vector<std::string>{b1, c1, a3, a4}));
  // Fee units bound the block like txs and bytes: two units, the two best.
  EXPECT_EQ(m.Reap(100, 1 << 20, 2), (std::vector<std::string>{b1, c1}));
  EXPECT_TRUE(m.Reap(100, 1 << 20, 0).empty());
  // Equal rates keep admission order (the pending sequence itself).
  Mempool same = Make();
  const std::string x = Paid(k_.carol, 1, k_.alice, 1, 2), y = Paid(k_.alice, 3, k_.bob, 1, 2),
                    z = Paid(k_.bob, 1, k_.alice, 1, 2);
  for (const auto& tx : {x, y, z}) ASSERT_TRUE(same.Add(tx, *state_).ok());
  EXPECT_EQ(same.Reap(100, 1 << 20, kAnyUnits), (std::vector<std::string>{x, y, z}));
}

// A tx that relied on another sender's tx of a lower rate (the transfer that funds it) would fail
// if it went first: it is left out and costs the block nothing, so it can never crowd out txs
// that apply (with a block of one unit, the funding tx goes first; the funded one follows in the
// next block).
TEST_F(MempoolFeeTest, ReapLeavesOutATxThatReliesOnOneLeftBehind) {
  const KeyPair dave = Key(60);
  Mempool m = Make();
  const std::string fund = Paid(k_.alice, 3, dave, 100, 1);
  const std::string spend = Paid(dave, 1, k_.bob, 50, 9);  // needs the 100 first
  const std::string other = Paid(k_.carol, 1, k_.bob, 1, 5);
  for (const auto& tx : {fund, spend, other}) ASSERT_TRUE(m.Add(tx, *state_).ok());
  EXPECT_EQ(m.Reap(100, 1 << 20, kAnyUnits), (std::vector<std::string>{other, fund}));
  EXPECT_EQ(m.Reap(100, 1 << 20, 1), (std::vector<std::string>{other}));
  // Once the funding tx is committed, the spend goes first.
  ASSERT_TRUE(CommitToKv(*state_, fund, AddrOf(k_.validator)).ok());
  m.Update({TxHash(fund)}, *state_);
  EXPECT_EQ(m.Reap(100, 1 << 20, kAnyUnits), (std::vector<std::string>{spend, other}));
}

TEST_F(MempoolFeeTest, PastTheSoftLimitOnlyABetterRateIsAdmitted) {
  // 8 txs at most: the soft limit (kMempoolSoftPercent = 75) is at 6.
  static_assert(limits::kMempoolSoftPercent == 75);
  Mempool m = Make({8, 1 << 20, 100});
  EXPECT_EQ(m.SuggestedFeePerUnit(Params()), 1);
  for (uint64_t n = 3; n < 9; ++n) ASSERT_TRUE(m.Add(Paid(k_.alice, n, k_.bob, 1, 1), *state_).ok()) << n;
  EXPECT_EQ(m.SuggestedFeePerUnit(Params()), 2);
  const uint64_t verifications = Ed25519Verifications();
  auto cheap = m.Add(Paid(k_.bob, 1, k_.carol, 1, 1), *state_);
  ASSERT_FALSE(cheap.ok());
  EXPECT_EQ(cheap.status().code(), Code::kMempoolFull);
  EXPECT_TRUE(Contains(cheap.status().message(), "at least 2 per fee unit")) << cheap.status().message();
  // Refused on its rate before its signature was checked.
  EXPECT_EQ(Ed25519Verifications(), verifications);
  // One that pays 2 per unit gets in, and goes first.
  const std::string better = Paid(k_.bob, 1, k_.carol, 1, 2);
  ASSERT_TRUE(m.Add(better, *state_).ok());
  EXPECT_EQ(m.Reap(1, 1 << 20, kAnyUnits), std::vector<std::string>{better});
  EXPECT_EQ(m.Stats().txs, 7);
  EXPECT_EQ(m.Stats().units, 7);
  ASSERT_TRUE(m.Add(Paid(k_.carol, 1, k_.bob, 1, 3), *state_).ok());
  // The hard limit holds whatever a tx pays.
  auto full = m.Add(Paid(k_.carol, 2, k_.bob, 1, 1000), *state_);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), Code::kMempoolFull);
  EXPECT_TRUE(Contains(full.status().message(), "full")) << full.status().message();
}

// What /v1/status suggests: fee_min while less than a quarter of a block is pending; else one
// above the rate at which the next block fills, or above the cheapest pending when all of it fits
// (so the tx goes before spam that keeps arriving at fee_min).
TEST_F(MempoolFeeTest, SuggestedFeeIsOneAboveTheRateThatFillsTheNextBlock) {
  Mempool m = Make();
  ASSERT_TRUE(m.Add(Paid(k_.alice, 3, k_.bob, 1, 1), *state_).ok());
  ASSERT_TRUE(m.Add(Paid(k_.bob, 1, k_.alice, 1, 3), *state_).ok());
  ASSERT_TRUE(m.Add(Paid(k_.carol, 1, k_.alice, 1, 7), *state_).ok());
  pb::ParamsRecord p = Params();
  p.set_block_units_max(12);  // 3 units pending: a quarter of a block, not more
  EXPECT_EQ(m.SuggestedFeePerUnit(p), 1);
  p.set_block_units_max(11);  // more than a quarter; everything fits: beat the cheapest
  EXPECT_EQ(m.SuggestedFeePerUnit(p), 2);
  p.set_block_units_max(3);
  EXPECT_EQ(m.SuggestedFeePerUnit(p), 2);
  p.set_block_units_max(2);  // the 7 and the 3 fill it: beat 3
  EXPECT_EQ(m.SuggestedFeePerUnit(p), 4);
  p.set_block_units_max(1);  // the 7 fills it
  EXPECT_EQ(m.SuggestedFeePerUnit(p), 8);
  p.set_fee_min(10);  // never below fee_min
  EXPECT_EQ(m.SuggestedFeePerUnit(p), 10);
}

// After a block at least 3/4 full the pool has drained, but spam keeps coming at the rate that
// filled it: for the next few blocks the suggestion is one above the lowest rate that block took
// (ties go in admission order, so a tx at that rate would queue behind everything that arrived
// first). A block less full than that says nothing.
TEST_F(MempoolFeeTest, SuggestedFeeIsOneAboveTheLowestRateOfAFullLastBlock) {
  pb::ParamsRecord p = Params();
  p.set_block_units_max(4);
  for (const int in_block : {3, 2}) {
    SCOPED_TRACE(in_block);
    auto state = GenesisKv(genesis_);
    ASSERT_TRUE(CommitToKv(*state, Paid(k_.alice, 1, k_.bob, 10000, 1), AddrOf(k_.validator)).ok());
    ASSERT_TRUE(CommitToKv(*state, Paid(k_.alice, 2, k_.carol, 10000, 1), AddrOf(k_.validator)).ok());
    Mempool m = Make();
    std::vector<std::string> block = {Paid(k_.bob, 1, k_.alice, 1, 5), Paid(k_.carol, 1, k_.alice, 1, 3),
                                      Paid(k_.alice, 3, k_.bob, 1, 4)};
    block.resize(static_cast<size_t>(in_block));
    Mempool unpaid = Make();
    for (const auto& tx : block) {
      ASSERT_TRUE(m.Add(tx, *state).ok());
      ASSERT_TRUE(unpaid.Add(tx, *state).ok());
    }
    EXPECT_EQ(m.SuggestedFeePerUnit(p), 4);  // 3 or 2 units pending: beat the cheapest
    std::vector<Hash256> hashes;
    for (const auto& tx : block) {
      ASSERT_TRUE(CommitToKv(*state, tx, AddrOf(k_.validator)).ok());
      hashes.push_back(TxHash(tx));
    }
    // A block whose txs failed (a Byzantine proposer's nonce gap fails them unpaid) says nothing.
    m.Update(hashes, *state, hashes);
    unpaid.Update(hashes, *state, {});
    EXPECT_EQ(unpaid.SuggestedFeePerUnit(p), 1);
    ASSERT_EQ(m.Stats().txs, 0);
    // 3 of 4 units: beat 3, the lowest it took; 2 of 4: fee_min.
    EXPECT_EQ(m.SuggestedFeePerUnit(p), in_block == 3 ? 4 : 1);
    // The full block counts for kMempoolFullBlocksRemembered blocks, then no more.
    for (size_t empty = 1; empty <= limits::kMempoolFullBlocksRemembered; ++empty) {
      m.Update({}, *state);
      const bool remembered = in_block == 3 && empty < limits::kMempoolFullBlocksRemembered;
      EXPECT_EQ(m.SuggestedFeePerUnit(p), remembered ? 4 : 1) << empty;
    }
  }
}

// The pool is bounded in fee units too (what the re-check after every block costs): a pool of
// few txs can be full when they carry many units.
TEST_F(MempoolFeeTest, UnitsMaxBoundsThePool) {
  Mempool m = Make({100, 1 << 20, 10, /*units_max=*/4});
  ASSERT_TRUE(m.Add(Paid(k_.alice, 3, k_.bob, 1, 50), *state_).ok());
  ASSERT_TRUE(m.Add(Paid(k_.bob, 1, k_.carol, 1, 60), *state_).ok());
  ASSERT_TRUE(m.Add(Paid(k_.carol, 1, k_.alice, 1, 70), *state_).ok());
  // The fourth unit is past the soft limit (75% of 4 units): it must beat the cheapest (50).
  ASSERT_TRUE(m.Add(Paid(k_.bob, 2, k_.carol, 1, 100), *state_).ok());
  EXPECT_EQ(m.Stats().units, 4);
  EXPECT_EQ(m.Stats().txs, 4);
  auto full = m.Add(Paid(k_.carol, 2, k_.alice, 1, 1000), *state_);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), Code::kMempoolFull);
  EXPECT_TRUE(Contains(full.status().message(), "4 fee units")) << full.status().message();
}

// Dear txs queued behind a cheap one of the same sender cannot go first, so they count at the
// cheap rate: they neither pin the suggested fee high nor pass the soft limit on their own rate.
TEST_F(MempoolFeeTest, ATxCountsAtItsSendersCheapestEarlierRate) {
  Mempool m = Make({8, 1 << 20, 100});
  ASSERT_TRUE(m.Add(Paid(k_.alice, 3, k_.bob, 1, 1), *state_).ok());
  for (uint64_t n = 4; n < 6; ++n) ASSERT_TRUE(m.Add(Paid(k_.alice, n, k_.bob, 1, 100), *state_).ok()) << n;
  pb::ParamsRecord p = Params();
  p.set_block_units_max(1);
  EXPECT_EQ(m.SuggestedFeePerUnit(p), 2);  // not 101
  ASSERT_TRUE(m.Add(Paid(k_.alice, 6, k_.bob, 1, 100), *state_).ok());
  ASSERT_TRUE(m.Add(Paid(k_.alice, 7, k_.bob, 1, 100), *state_).ok());
  ASSERT_TRUE(m.Add(Paid(k_.alice, 8, k_.bob, 1, 100), *state_).ok());
  // Past the soft limit (6 of 8): alice's next pays 100 but waits behind her 1.
  auto behind = m.Add(Paid(k_.alice, 9, k_.bob, 1, 100), *state_);
  ASSERT_FALSE(behind.ok());
  EXPECT_EQ(behind.status().code(), Code::kMempoolFull);
  EXPECT_TRUE(m.Add(Paid(k_.bob, 1, k_.carol, 1, 2), *state_).ok());
  // Once the cheap one is committed, the rest count at their own rate again.
  const std::string a3 = Paid(k_.alice, 3, k_.bob, 1, 1);
  ASSERT_TRUE(CommitToKv(*state_, a3, AddrOf(k_.validator)).ok());
  m.Update({TxHash(a3)}, *state_);
  p.set_block_units_max(5);  // alice's five at 100 fill it
  EXPECT_EQ(m.SuggestedFeePerUnit(p), 101);
}

}  // namespace
}  // namespace v2g::nodetest
