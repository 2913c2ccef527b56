// Store + Chain: blocks built the way the solo engine builds them (Propose, precommit through the
// Signer, Commit) are durable across reopening the database; a block or commit that breaks any
// rule is refused and leaves the height, the tip and the state exactly as they were.
#include "node/chain.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <optional>
#include <thread>

#include "tests/node/node_test_util.h"

namespace v2g::nodetest {
namespace {

class ChainTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(HasFatalFailure()); }

  const TestKeys& k() { return node_.keys(); }
  void Submit(const std::string& tx) {
    auto added = node_.Submit(tx);
    ASSERT_TRUE(added.ok()) << added.status().ToString();
  }
  // Everything a rejected block must not have changed.
  struct Snapshot {
    ChainTip tip;
    int64_t height;
    std::map<std::string, std::string> state;
  };
  Snapshot Take() {
    Snapshot s{node_.chain().Tip(), node_.store().Height(), {}};
    node_.store().state().Scan(kStatePrefix, [&](std::string_view key, std::string_view v) {
      s.state.emplace(std::string(key), std::string(v));
      return true;
    });
    return s;
  }
  void ExpectUnchanged(const Snapshot& before) {
    Snapshot now = Take();
    EXPECT_EQ(now.height, before.height);
    EXPECT_EQ(now.tip.height, before.tip.height);
    EXPECT_EQ(now.tip.block_id, before.tip.block_id);
    EXPECT_EQ(now.tip.app_hash, before.tip.app_hash);
    EXPECT_EQ(now.tip.time_ms, before.tip.time_ms);
    EXPECT_TRUE(now.state == before.state) << "state changed by a rejected block";
    EXPECT_FALSE(node_.store().LoadBlock(before.height + 1).has_value());
  }
  // Re-signs a block after a test changed its header (a byzantine proposer would sign its own
  // bad block); the commit is genuine, the block is not.
  pb::Commit CommitFor(const pb::Block& block, int32_t round = 5) {
    return SignCommitWith(k().validator, block, round, block.header().time_ms());
  }
  static void ResetDataHash(pb::Block& b) {
    std::vector<std::string> txs(b.txs().begin(), b.txs().end());
    b.mutable_header()->set_data_hash(HashString(MerkleRoot(txs)));
  }

  ManualNode node_;
};

TEST_F(ChainTest, GenesisTipBeforeAnyBlock) {
  ChainTip tip = node_.chain().Tip();
  EXPECT_EQ(tip.height, 0);
  EXPECT_EQ(tip.chain_id, kChainId);
  EXPECT_EQ(tip.time_ms, kGenesisTimeMs);
  EXPECT_TRUE(tip.block_id.empty());
  EXPECT_EQ(tip.app_hash, node_.store().GenesisAppHash());
  EXPECT_EQ(node_.store().Height(), 0);
  EXPECT_TRUE(node_.store().Initialized());
  EXPECT_EQ(*node_.store().GenesisHash(), HashString(Blake2b256(GenesisToJson(node_.genesis()))));
  EXPECT_EQ(Balance(node_.store().state(), k().alice, "CNY"), kAliceCny);
  EXPECT_FALSE(node_.store().LoadBlock(1).has_value());
}

TEST_F(ChainTest, CommitsBlocksWithTransfersAndTheyPersistAcrossReopen) {
  std::string t1 = Transfer(k().alice, 1, k().bob, "CNY", 1250);
  std::string t2 = Transfer(k().alice, 2, k().carol, "PTS", 7);
  Submit(t1);
  Submit(t2);
  auto b1 = node_.CommitNext();
  ASSERT_TRUE(b1.ok()) << b1.status().ToString();
  EXPECT_EQ(b1->txs_size(), 2);
  EXPECT_EQ(node_.mempool().Stats().txs, 0);  // committed txs leave the pool

  std::string t3 = Transfer(k().bob, 1, k().carol, "CNY", 250);
  Submit(t3);
  auto b2 = node_.CommitNext();
  ASSERT_TRUE(b2.ok()) << b2.status().ToString();
  auto b3 = node_.CommitNext();  // empty block
  ASSERT_TRUE(b3.ok()) << b3.status().ToString();
  EXPECT_EQ(b3->txs_size(), 0);
  EXPECT_EQ(b3->header().last_block_id(), HashString(BlockId(b2->header())));

  const ChainTip tip_before = node_.chain().Tip();
  EXPECT_EQ(tip_before.height, 3);
  EXPECT_EQ(tip_before.block_id, HashString(BlockId(b3->header())));

  node_.Close();
  node_.Open();
  ASSERT_FALSE(HasFatalFailure());
  Store& store = node_.store();
  EXPECT_EQ(store.Height(), 3);
  ChainTip tip = node_.chain().Tip();
  EXPECT_EQ(tip.height, 3);
  EXPECT_EQ(tip.block_id, tip_before.block_id);
  EXPECT_EQ(tip.app_hash, tip_before.app_hash);
  EXPECT_EQ(tip.time_ms, tip_before.time_ms);

  auto loaded = store.LoadBlock(1);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(Encode(*loaded), Encode(*b1));
  ASSERT_EQ(loaded->txs_size(), 2);
  EXPECT_EQ(loaded->txs(0), t1);
  EXPECT_EQ(loaded->txs(1), t2);
  EXPECT_FALSE(store.LoadBlock(4).has_value());
  EXPECT_FALSE(store.LoadBlock(0).has_value());
  EXPECT_EQ(store.HeightOfBlock(HashString(BlockId(b2->header()))), 2);
  auto commit2 = store.LoadCommit(2);
  ASSERT_TRUE(commit2.has_value());
  EXPECT_TRUE(VerifyCommit(kChainId, node_.chain().Validators(), 2, HashString(BlockId(b2->header())), *commit2).ok());

  auto loc2 = store.LoadTxLocation(TxHash(t2));
  ASSERT_TRUE(loc2.has_value());
  EXPECT_EQ(loc2->height(), 1);
  EXPECT_EQ(loc2->index(), 1u);
  EXPECT_EQ(loc2->result().code(), 0u);
  auto loc3 = store.LoadTxLocation(TxHash(t3));
  ASSERT_TRUE(loc3.has_value());
  EXPECT_EQ(loc3->height(), 2);
  EXPECT_EQ(loc3->index(), 0u);
  EXPECT_FALSE(store.LoadTxLocation(TxHash(Transfer(k().bob, 2, k().carol, "CNY", 1))).has_value());

  const KvReader& s = store.state();
  EXPECT_EQ(Balance(s, k().alice, "CNY"), kAliceCny - 1250);
  EXPECT_EQ(Balance(s, k().alice, "PTS"), kAlicePts - 7);
  EXPECT_EQ(Balance(s, k().bob, "CNY"), 1000);
  EXPECT_EQ(Balance(s, k().carol, "CNY"), 250);
  EXPECT_EQ(Balance(s, k().carol, "PTS"), 7);
  EXPECT_EQ(Nonce(s, k().alice), 2u);
  EXPECT_EQ(Nonce(s, k().bob), 1u);
  EXPECT_TRUE(CheckConservation(s).ok());

  // The reopened chain keeps going from where it was.
  Submit(Transfer(k().alice, 3, k().bob, "CNY", 1));
  auto b4 = node_.CommitNext();
  ASSERT_TRUE(b4.ok()) << b4.status().ToString();
  EXPECT_EQ(b4->header().height(), 4);
}

TEST_F(ChainTest, AlreadyCommittedTxIsADuplicate) {
  std::string t1 = Transfer(k().alice, 1, k().bob, "CNY", 1250);
  Submit(t1);
  ASSERT_TRUE(node_.CommitNext().ok());
  auto again = node_.Submit(t1);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kDuplicate);
  EXPECT_TRUE(Contains(again.status().message(), "committed"));
}

TEST_F(ChainTest, FailingTxIsRecordedWithItsCodeAndChangesNothing) {
  // A proposer may include a tx that fails on execution (here: bob has no funds); the block is
  // valid, the tx is recorded as failed and moves nothing.
  Submit(Transfer(k().alice, 1, k().bob, "CNY", 1000));
  pb::Block block = node_.Propose();
  std::string bad = Transfer(k().bob, 1, k().carol, "CNY", 5000);
  block.add_txs(bad);
  ResetDataHash(block);
  auto commit = node_.SignCommit(block);
  ASSERT_TRUE(commit.ok());
  ASSERT_TRUE(node_.chain().Commit(block, *commit).ok());
  auto loc = node_.store().LoadTxLocation(TxHash(bad));
  ASSERT_TRUE(loc.has_value());
  EXPECT_EQ(loc->index(), 1u);
  EXPECT_EQ(loc->result().code(), static_cast<uint32_t>(Code::kInsufficientFunds));
  EXPECT_FALSE(loc->result().log().empty());
  EXPECT_EQ(Balance(node_.store().state(), k().bob, "CNY"), 1000);
  EXPECT_EQ(Balance(node_.store().state(), k().carol, "CNY"), 0);
  EXPECT_EQ(Nonce(node_.store().state(), k().bob), 0u);
}

TEST_F(ChainTest, TxsThisNodeNeverSawAreVerifiedOnceEachOnEveryCoreBeforeExecution) {
  // A block from another proposer (or from sync) whose txs never reached this node's mempool:
  // Commit verifies their signatures first on every core (common/parallel.h), and execution finds
  // each verdict in the signature cache. One verification per tx, not two; a forged one fails in
  // execution exactly as it would without the warm-up.
  pb::Block block = node_.Propose();
  std::vector<std::string> txs;
  for (uint64_t n = 1; n <= 40; ++n) txs.push_back(Transfer(k().alice, n, k().bob, "CNY", 10));
  std::string forged = Transfer(k().alice, 41, k().carol, "CNY", 10);
  forged[forged.size() - 3] ^= 1;  // the signature is the last field
  for (const auto& tx : txs) block.add_txs(tx);
  block.add_txs(forged);
  ResetDataHash(block);
  auto commit = node_.SignCommit(block);
  ASSERT_TRUE(commit.ok());
  const uint64_t before = SigCacheVerifications();
  const uint64_t warmed_before = Chain::TxsWarmedBeforeExecution();
  ASSERT_TRUE(node_.chain().Commit(block, *commit).ok());
  // The 41 txs' signatures, once each, and the commit's own (one validator).
  ASSERT_EQ(commit->signatures_size(), 1);
  EXPECT_EQ(SigCacheVerifications() - before, 41u + 1u);
  EXPECT_EQ(Chain::TxsWarmedBeforeExecution() - warmed_before, 41u);  // none was in the mempool
  for (const auto& tx : txs) {
    auto loc = node_.store().LoadTxLocation(TxHash(tx));
    ASSERT_TRUE(loc.has_value());
    EXPECT_EQ(loc->result().code(), 0u) << loc->result().log();
  }
  auto bad = node_.store().LoadTxLocation(TxHash(forged));
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->result().code(), static_cast<uint32_t>(Code::kBadSignature));
  EXPECT_EQ(Nonce(node_.store().state(), k().alice), 40u);
}

TEST_F(ChainTest, TxIndexPointsAtTheFirstInclusionOfARepeatedTx) {
  // A faulty proposer may include one tx twice in a block, or again in a later block: only the
  // first inclusion applies (the others fail on their nonce), and GET /v1/txs/{hash} must report
  // that one, not a failed repeat.
  std::string t1 = Transfer(k().alice, 1, k().bob, "CNY", 1250);
  Submit(t1);
  pb::Block block = node_.Propose();
  ASSERT_EQ(block.txs_size(), 1);
  block.add_txs(t1);
  ResetDataHash(block);
  auto commit = node_.SignCommit(block);
  ASSERT_TRUE(commit.ok());
  ASSERT_TRUE(node_.chain().Commit(block, *commit).ok());
  auto results = node_.store().LoadResults(1);
  ASSERT_TRUE(results.has_value());
  EXPECT_EQ(results->tx_results(0).code(), 0u);
  EXPECT_EQ(results->tx_results(1).code(), static_cast<uint32_t>(Code::kNonceReplayed));
  EXPECT_EQ(Balance(node_.store().state(), k().bob, "CNY"), 1250);  // applied once
  auto loc = node_.store().LoadTxLocation(TxHash(t1));
  ASSERT_TRUE(loc.has_value());
  EXPECT_EQ(loc->height(), 1);
  EXPECT_EQ(loc->index(), 0u);
  EXPECT_EQ(loc->result().code(), 0u);

  pb::Block again = node_.Propose();
  again.add_txs(t1);
  ResetDataHash(again);
  auto commit2 = node_.SignCommit(again);
  ASSERT_TRUE(commit2.ok());
  ASSERT_TRUE(node_.chain().Commit(again, *commit2).ok());
  loc = node_.store().LoadTxLocation(TxHash(t1));
  ASSERT_TRUE(loc.has_value());
  EXPECT_EQ(loc->height(), 1);
  EXPECT_EQ(loc->index(), 0u);
  EXPECT_EQ(loc->result().code(), 0u);
  EXPECT_EQ(Balance(node_.store().state(), k().bob, "CNY"), 1250);
}

TEST_F(ChainTest, RejectsAWrongAppHash) {
  ASSERT_TRUE(node_.CommitNext().ok());
  Submit(Transfer(k().alice, 1, k().bob, "CNY", 1250));
  const Snapshot before = Take();
  pb::Block block = node_.Propose();
  block.mutable_header()->set_app_hash(std::string(32, '\x42'));
  Status st = node_.chain().Commit(block, CommitFor(block));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(st.message(), "app_hash"));
  ExpectUnchanged(before);
  // The tx stays pending and the honest block still commits.
  EXPECT_EQ(node_.mempool().Stats().txs, 1);
  ASSERT_TRUE(node_.CommitNext().ok());
  EXPECT_EQ(Balance(node_.store().state(), k().bob, "CNY"), 1250);
}

TEST_F(ChainTest, RejectsAWrongHeight) {
  ASSERT_TRUE(node_.CommitNext().ok());
  const Snapshot before = Take();
  for (int64_t height : {int64_t{1}, int64_t{3}}) {
    SCOPED_TRACE(height);
    pb::Block block = node_.Propose();
    block.mutable_header()->set_height(height);
    Status st = node_.chain().Commit(block, CommitFor(block));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.code(), Code::kInvalidArgument);
    EXPECT_TRUE(Contains(st.message(), "height does not follow 1"));
    ExpectUnchanged(before);
  }
}

TEST_F(ChainTest, RejectsABadDataHash) {
  Submit(Transfer(k().alice, 1, k().bob, "CNY", 1250));
  const Snapshot before = Take();
  // A tx slipped into the block after the header was made.
  pb::Block block = node_.Propose();
  block.add_txs(Transfer(k().alice, 2, k().carol, "CNY", 99));
  Status st = node_.chain().Commit(block, CommitFor(block));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(st.message(), "data_hash"));
  // A tx swapped for another.
  pb::Block swapped = node_.Propose();
  swapped.set_txs(0, Transfer(k().alice, 1, k().carol, "CNY", 1250));
  st = node_.chain().Commit(swapped, CommitFor(swapped));
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), "data_hash"));
  ExpectUnchanged(before);
  EXPECT_EQ(node_.mempool().Stats().txs, 1);
}

// Block time is BFT time: the weighted median of last_commit's timestamps, nothing else, however
// much later or earlier (and also not at or before the previous block).
TEST_F(ChainTest, RejectsATimeOtherThanTheBftTime) {
  ASSERT_TRUE(node_.CommitNext().ok());
  const Snapshot before = Take();
  const int64_t want = node_.NextTime();
  ASSERT_EQ(want, before.tip.time_ms + 1000);  // the commit was stamped one second after the tip
  for (int64_t t : {before.tip.time_ms, before.tip.time_ms - 1, want - 1, want + 1, want + 10000}) {
    SCOPED_TRACE(t);
    pb::Block block = node_.Propose();
    block.mutable_header()->set_time_ms(t);
    Status st = node_.chain().Commit(block, CommitFor(block));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.code(), Code::kInvalidArgument);
    EXPECT_TRUE(Contains(st.message(), "is not the BFT time " + std::to_string(want))) << st.message();
    ExpectUnchanged(before);
  }
}

TEST_F(ChainTest, TheFirstBlockIsStampedGenesisTimePlusOneMillisecond) {
  const Snapshot before = Take();
  for (int64_t t : {kGenesisTimeMs, kGenesisTimeMs + 2, kGenesisTimeMs + 1000}) {
    SCOPED_TRACE(t);
    pb::Block block = node_.Propose();
    block.mutable_header()->set_time_ms(t);
    Status st = node_.chain().Commit(block, CommitFor(block));
    ASSERT_FALSE(st.ok());
    EXPECT_TRUE(Contains(st.message(), "is not the BFT time " + std::to_string(kGenesisTimeMs + 1))) << st.message();
    ExpectUnchanged(before);
  }
  pb::Block block = node_.Propose();
  EXPECT_EQ(block.header().time_ms(), kGenesisTimeMs + 1);
  EXPECT_TRUE(node_.chain().Commit(block, CommitFor(block)).ok());
}

TEST_F(ChainTest, RejectsACommitWithABadSignature) {
  Submit(Transfer(k().alice, 1, k().bob, "CNY", 1250));
  const Snapshot before = Take();
  pb::Block block = node_.Propose();
  pb::Commit commit = CommitFor(block);
  std::string sig = commit.signatures(0).signature();
  sig[10] = static_cast<char>(sig[10] ^ 0x80);
  commit.mutable_signatures(0)->set_signature(sig);
  Status st = node_.chain().Commit(block, commit);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kBadSignature);
  EXPECT_TRUE(Contains(st.message(), "val0"));
  ExpectUnchanged(before);
  // A signature over another timestamp than the one the commit claims is just as bad.
  pb::Commit shifted = CommitFor(block);
  shifted.mutable_signatures(0)->set_timestamp_ms(shifted.signatures(0).timestamp_ms() + 1);
  st = node_.chain().Commit(block, shifted);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kBadSignature);
  ExpectUnchanged(before);
  EXPECT_EQ(node_.mempool().Stats().txs, 1);
}

TEST_F(ChainTest, RejectsACommitFromANonValidator) {
  const Snapshot before = Take();
  pb::Block block = node_.Propose();
  Status st = node_.chain().Commit(block, SignCommitWith(k().stranger, block, 0, block.header().time_ms()));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(st.message(), "non-validator"));
  ExpectUnchanged(before);
  // No signatures at all: no voting power.
  pb::Commit empty = CommitFor(block);
  empty.clear_signatures();
  st = node_.chain().Commit(block, empty);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), "voting power"));
  ExpectUnchanged(before);
}

TEST_F(ChainTest, RejectsACommitForAnotherBlockOrHeight) {
  ASSERT_TRUE(node_.CommitNext().ok());
  const Snapshot before = Take();
  pb::Block block = node_.Propose();
  pb::Block other = block;
  other.mutable_header()->set_time_ms(block.header().time_ms() + 1);
  Status st = node_.chain().Commit(block, CommitFor(other));
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), "another block"));
  ExpectUnchanged(before);
  pb::Commit wrong_height = CommitFor(block);
  wrong_height.set_height(1);
  st = node_.chain().Commit(block, wrong_height);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), "height"));
  ExpectUnchanged(before);
}

TEST_F(ChainTest, RejectsAProposerOutsideTheValidatorSet) {
  const Snapshot before = Take();
  pb::Block block = node_.chain().Propose(node_.NextTime(), AddressBytes(AddrOf(k().stranger)), pb::Commit());
  Status st = node_.chain().Commit(block, CommitFor(block));
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), "proposer is not a validator"));
  ExpectUnchanged(before);
}

TEST_F(ChainTest, RejectsATamperedLastCommit) {
  ASSERT_TRUE(node_.CommitNext().ok());
  const Snapshot before = Take();
  // Block 2 must carry a valid commit of block 1.
  pb::Commit forged = node_.LastCommit();
  forged.mutable_signatures(0)->set_timestamp_ms(forged.signatures(0).timestamp_ms() + 1);
  pb::Block block = node_.chain().Propose(node_.NextTime(), AddressBytes(AddrOf(k().validator)), forged);
  Status st = node_.chain().Commit(block, CommitFor(block));
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), "last_commit"));
  ExpectUnchanged(before);
}

// A validator added by governance in block E signs from E+2 on: the headers of E+1 and E+2 name
// the sets of their next heights and of themselves, a header naming another set is refused, and
// from E+2 on a commit is counted against the set of its height (the old set's signatures alone,
// then, are not enough for a block whose set has more power).
TEST_F(ChainTest, ASetChangeTakesEffectTwoHeightsAfterItsBlockAndEveryHeaderNamesItsSets) {
  const KeyPair added = KeyPair::FromSeed(Bytes(kSeedBytes, 77));
  const pb::ValidatorSet before = node_.chain().Validators();
  // The one genesis validator (power 10) proposes and votes: 10 of 10 passes at once.
  Submit(SignTx(k().validator, kChainId,
                MakeSubmitProposal(1, "add", "",
                                   GovAddValidatorAction(
                                       "val1", added.public_key(),
                                       KeyPair::FromSeed(Bytes(kSeedBytes, 78)).public_key(), 3))));
  ASSERT_TRUE(node_.CommitNext().ok());
  Submit(SignTx(k().validator, kChainId, MakeVoteProposal(2, 1, pb::GOV_VOTE_YES)));
  ASSERT_TRUE(node_.CommitNext().ok());  // passed here
  ASSERT_TRUE(node_.CommitNext().ok());  // executed here: E
  const int64_t e = node_.chain().Tip().height;
  ASSERT_EQ(node_.chain().ValidatorsAt(e + 2).validators_size(), 2);
  const std::string old_hash = HashString(ValidatorSetHash(before));
  const std::string new_hash = HashString(ValidatorSetHash(node_.chain().ValidatorsAt(e + 2)));
  // Block E+1: signed by the old set, names the new one as next.
  {
    pb::Block b = node_.Propose();
    EXPECT_EQ(b.header().validators_hash(), old_hash);
    EXPECT_EQ(b.header().next_validators_hash(), new_hash);
    const Snapshot snap = Take();
    pb::Block stale = b;
    stale.mutable_header()->set_next_validators_hash(old_hash);
    Status st = node_.chain().Commit(stale, CommitFor(stale));
    EXPECT_EQ(st.code(), Code::kInvalidArgument);
    EXPECT_TRUE(Contains(st.message(), "next_validators_hash does not match")) << st.message();
    ExpectUnchanged(snap);
  }
  ASSERT_TRUE(node_.CommitNext().ok());
  // Block E+2: signed by the new set (val0 has 10 of 13: still more than 2/3 alone).
  pb::Block b = node_.Propose();
  EXPECT_EQ(b.header().validators_hash(), new_hash);
  EXPECT_EQ(b.header().next_validators_hash(), new_hash);
  {
    const Snapshot snap = Take();
    pb::Block stale = b;
    stale.mutable_header()->set_validators_hash(old_hash);
    Status st = node_.chain().Commit(stale, CommitFor(stale));
    EXPECT_EQ(st.code(), Code::kInvalidArgument);
    EXPECT_TRUE(
        Contains(st.message(), "validators_hash does not match the validator set of its height"))
        << st.message();
    // The added validator's signature alone (3 of 13) does not commit it.
    st = node_.chain().Commit(b, SignCommitWith(added, b, 0, b.header().time_ms() + 1000));
    EXPECT_TRUE(Contains(st.message(), "commit has 3 of 13 voting power")) << st.message();
    ExpectUnchanged(snap);
  }
  // Both signatures: 13 of 13.
  pb::Commit both = SignCommitWith(k().validator, b, 5, b.header().time_ms() + 1000);
  pb::Commit theirs = SignCommitWith(added, b, 5, b.header().time_ms() + 1000);
  *both.add_signatures() = theirs.signatures(0);
  ASSERT_TRUE(node_.chain().Commit(b, both).ok());
  // The next block carries that commit as its last_commit, checked (and its time taken) against
  // the set of E+2.
  auto next = node_.CommitNext();
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(node_.store().LoadBlock(e + 3)->last_commit().signatures_size(), 2);
}

TEST_F(ChainTest, WaitForTxAndHeight) {
  std::string t1 = Transfer(k().alice, 1, k().bob, "CNY", 1250);
  // Not committed: times out with nothing.
  EXPECT_FALSE(node_.chain().WaitForTx(TxHash(t1), 0).has_value());
  EXPECT_EQ(node_.chain().WaitForHeightAbove(0, 0), 0);
  Submit(t1);
  ASSERT_TRUE(node_.CommitNext().ok());
  auto loc = node_.chain().WaitForTx(TxHash(t1), 0);
  ASSERT_TRUE(loc.has_value());
  EXPECT_EQ(loc->height(), 1);
  EXPECT_EQ(node_.chain().WaitForHeightAbove(0, 0), 1);
}

// A stopping node answers requests waiting for a commit at once: a client's ?wait=commit (up to
// 60 s) held shutdown for its whole timeout when the chain did not move (the fault harness's
// full-disk node took seconds to stop).
TEST_F(ChainTest, StopWaitsEndsEveryWaitAtOnce) {
  const std::string t1 = Transfer(k().alice, 1, k().bob, "CNY", 1250);
  std::optional<pb::TxLocation> got;
  int64_t height = -1;
  const auto start = std::chrono::steady_clock::now();
  std::thread tx_waiter([&] { got = node_.chain().WaitForTx(TxHash(t1), 60'000); });
  std::thread height_waiter([&] { height = node_.chain().WaitForHeightAbove(5, 60'000); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  node_.chain().StopWaits();
  tx_waiter.join();
  height_waiter.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_FALSE(got.has_value());
  EXPECT_EQ(height, 0);
  // Later waits do not block either.
  const auto again = std::chrono::steady_clock::now();
  EXPECT_FALSE(node_.chain().WaitForTx(TxHash(t1), 60'000).has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - again, std::chrono::seconds(10));
}

// Issue 12, per-block work: a block's txs carry at most params.block_units_max fee units. The
// proposer packs up to the bound and leaves the rest pending; a block past it (a faulty
// proposer's) is refused like one with too many bytes, and changes nothing.
TEST(ChainUnitsTest, BlocksCarryAtMostBlockUnitsMaxFeeUnits) {
  ManualNode node({1000, 16 << 20, 1000},
                  [](GenesisState& g) { g.params.block_units_max = limits::kBlockUnitsMin; });
  const TestKeys& k = node.keys();
  const int64_t units_max = limits::kBlockUnitsMin;
  std::vector<std::string> txs;
  for (int64_t n = 1; n <= units_max + 20; ++n) {
    txs.push_back(Transfer(k.alice, static_cast<uint64_t>(n), k.bob, "CNY", 1));
    ASSERT_TRUE(node.Submit(txs.back()).ok()) << n;
  }
  // Each transfer is one fee unit: the proposal stops at the bound.
  pb::Block block = node.Propose();
  EXPECT_EQ(block.txs_size(), units_max);

  // A faulty proposer adds one more (and fixes the data hash): refused, nothing changes.
  pb::Block over = block;
  over.add_txs(txs[static_cast<size_t>(units_max)]);
  std::vector<std::string> over_txs(over.txs().begin(), over.txs().end());
  over.mutable_header()->set_data_hash(HashString(MerkleRoot(over_txs)));
  const int64_t height = node.chain().Tip().height;
  auto commit = node.SignCommit(over);
  ASSERT_TRUE(commit.ok()) << commit.status().ToString();
  Status st = node.chain().Commit(over, *commit);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(st.message(), "block_units_max = " + std::to_string(units_max))) << st.message();
  EXPECT_EQ(node.chain().Tip().height, height);
  EXPECT_EQ(Nonce(node.store().state(), k.alice), 0u);

  // The honest proposal commits; the 20 left over go in the next block.
  ASSERT_TRUE(node.CommitNext().ok());
  EXPECT_EQ(Nonce(node.store().state(), k.alice), static_cast<uint64_t>(units_max));
  EXPECT_EQ(node.mempool().Stats().txs, 20);
  ASSERT_TRUE(node.CommitNext().ok());
  EXPECT_EQ(Nonce(node.store().state(), k.alice), static_cast<uint64_t>(units_max + 20));
}

}  // namespace
}  // namespace v2g::nodetest
