// Evidence in blocks (validated, recorded in state once) and the consensus WAL (replayable,
// torn or corrupt tails cut off, reset per height).
#include <gtest/gtest.h>

#include <fstream>

#include "consensus/tendermint.h"
#include "node/store/wal.h"
#include "tests/node/node_test_util.h"

namespace v2g::nodetest {
namespace {

pb::Vote SignedPrecommit(const KeyPair& key, int64_t height, int32_t round, const std::string& block_id) {
  pb::Vote v;
  v.set_type(static_cast<int32_t>(VoteType::kPrecommit));
  v.set_height(height);
  v.set_round(round);
  v.set_block_id(block_id);
  v.set_timestamp_ms(kGenesisTimeMs + 1);
  v.set_validator_address(AddressBytes(AddrOf(key)));
  Signature s = key.Sign(AsBytes(VoteSignBytes(kChainId, VoteType::kPrecommit, height, round, block_id, v.timestamp_ms())));
  v.set_signature(std::string(s.begin(), s.end()));
  return v;
}

// The validator signs two different blocks at height 1, round 0 (directly with its key: the
// Signer would refuse).
pb::DuplicateVoteEvidence Equivocation(const KeyPair& key) {
  pb::DuplicateVoteEvidence ev;
  *ev.mutable_vote_a() = SignedPrecommit(key, 1, 0, std::string(32, 'a'));
  *ev.mutable_vote_b() = SignedPrecommit(key, 1, 0, std::string(32, 'b'));
  return ev;
}

class EvidenceTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(node_.CommitNext().ok()); }
  Status CommitWith(const std::vector<pb::DuplicateVoteEvidence>& evidence) {
    pb::Block b = node_.chain().Propose(node_.NextTime(), AddressBytes(AddrOf(node_.keys().validator)),
                                        node_.LastCommit(), evidence);
    auto c = node_.SignCommit(b);
    if (!c.ok()) return c.status();
    return node_.chain().Commit(b, *c);
  }
  ManualNode node_;
};

TEST_F(EvidenceTest, ABlockRecordsValidEvidenceOnceAgainstTheValidator) {
  pb::DuplicateVoteEvidence ev = Equivocation(node_.keys().validator);
  ASSERT_TRUE(CommitWith({ev}).ok());
  auto rec = node_.store().state().Get(EvidenceKey(ev.vote_a()));
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(*rec, Encode(ev));
  // The same equivocation cannot be punished twice.
  const int64_t height = node_.store().Height();
  Status again = CommitWith({ev});
  EXPECT_EQ(again.code(), Code::kAlreadyExists) << again.ToString();
  EXPECT_EQ(node_.store().Height(), height);
}

TEST_F(EvidenceTest, InvalidEvidenceMakesTheBlockInvalid) {
  const int64_t height = node_.store().Height();
  pb::DuplicateVoteEvidence same = Equivocation(node_.keys().validator);
  *same.mutable_vote_b() = same.vote_a();  // not a conflict
  EXPECT_FALSE(CommitWith({same}).ok());
  pb::DuplicateVoteEvidence forged = Equivocation(node_.keys().validator);
  forged.mutable_vote_b()->mutable_signature()->at(3) ^= 1;
  EXPECT_FALSE(CommitWith({forged}).ok());
  pb::DuplicateVoteEvidence stranger = Equivocation(node_.keys().alice);  // not a validator
  EXPECT_FALSE(CommitWith({stranger}).ok());
  pb::DuplicateVoteEvidence future = Equivocation(node_.keys().validator);
  *future.mutable_vote_a() = SignedPrecommit(node_.keys().validator, 9, 0, std::string(32, 'a'));
  *future.mutable_vote_b() = SignedPrecommit(node_.keys().validator, 9, 0, std::string(32, 'b'));
  EXPECT_FALSE(CommitWith({future}).ok()) << "evidence must be for an earlier height";
  EXPECT_EQ(node_.store().Height(), height);
  EXPECT_FALSE(node_.store().state().Get(EvidenceKey(same.vote_a())).has_value());
}

class WalTest : public ::testing::Test {
 protected:
  std::string path() const { return dir_.path() + "/consensus.wal"; }
  static pb::WalRecord Timeout(int32_t round) {
    pb::WalRecord r;
    r.mutable_timeout()->set_height(7);
    r.mutable_timeout()->set_round(round);
    r.mutable_timeout()->set_step(1);
    return r;
  }
  std::string ReadAll() {
    std::ifstream in(path(), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  void WriteAll(const std::string& data) {
    std::ofstream out(path(), std::ios::binary | std::ios::trunc);
    out << data;
  }
  TempDir dir_;
};

TEST_F(WalTest, RecordsSurviveReopenInOrder) {
  {
    auto wal = Wal::Open(path());
    ASSERT_TRUE(wal.ok());
    EXPECT_TRUE((*wal)->recovered().empty());
    ASSERT_TRUE((*wal)->StartHeight(7).ok());
    for (int32_t r = 0; r < 3; ++r) ASSERT_TRUE((*wal)->Append(Timeout(r), r == 2).ok());
  }
  auto wal = Wal::Open(path());
  ASSERT_TRUE(wal.ok());
  const auto& recs = (*wal)->recovered();
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[0].height(), 7);
  for (int32_t r = 0; r < 3; ++r) EXPECT_EQ(recs[static_cast<size_t>(r + 1)].timeout().round(), r);
}

TEST_F(WalTest, ATornTailIsCutAndNewRecordsFollowTheLastGoodOne) {
  {
    auto wal = Wal::Open(path());
    ASSERT_TRUE((*wal)->StartHeight(7).ok());
    ASSERT_TRUE((*wal)->Append(Timeout(0), true).ok());
    ASSERT_TRUE((*wal)->Append(Timeout(1), true).ok());
  }
  std::string data = ReadAll();
  WriteAll(data.substr(0, data.size() - 3));  // a crash in the middle of the last append
  {
    auto wal = Wal::Open(path());
    ASSERT_TRUE(wal.ok());
    ASSERT_EQ((*wal)->recovered().size(), 2u);
    ASSERT_TRUE((*wal)->Append(Timeout(5), true).ok());
  }
  auto wal = Wal::Open(path());
  ASSERT_EQ((*wal)->recovered().size(), 3u);
  EXPECT_EQ((*wal)->recovered()[2].timeout().round(), 5);
}

TEST_F(WalTest, ACorruptRecordEndsTheLog) {
  {
    auto wal = Wal::Open(path());
    ASSERT_TRUE((*wal)->StartHeight(7).ok());
    for (int32_t r = 0; r < 3; ++r) ASSERT_TRUE((*wal)->Append(Timeout(r), false).ok());
  }
  std::string data = ReadAll();
  data[data.size() - 2] ^= 0x5a;  // flip a byte inside the last record's payload
  WriteAll(data);
  auto wal = Wal::Open(path());
  ASSERT_TRUE(wal.ok());
  EXPECT_EQ((*wal)->recovered().size(), 3u);  // the marker and the two intact timeouts
}

TEST_F(WalTest, StartHeightForgetsThePreviousHeight) {
  {
    auto wal = Wal::Open(path());
    ASSERT_TRUE((*wal)->StartHeight(7).ok());
    ASSERT_TRUE((*wal)->Append(Timeout(0), false).ok());
    ASSERT_TRUE((*wal)->StartHeight(8).ok());
  }
  auto wal = Wal::Open(path());
  ASSERT_EQ((*wal)->recovered().size(), 1u);
  EXPECT_EQ((*wal)->recovered()[0].height(), 8);
}

}  // namespace
}  // namespace v2g::nodetest
