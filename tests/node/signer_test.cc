// Signer safety rules: a validator never signs two different blocks at one height/round, never
// goes back, and remembers this across restarts. A damaged record stops signing instead of
// silently starting over.
#include "node/bft/signer.h"

#include <gtest/gtest.h>

#include <fstream>

#include "common/fsutil.h"
#include "tests/node/node_test_util.h"

namespace v2g::nodetest {
namespace {

class SignerTest : public ::testing::Test {
 protected:
  std::string StatePath() const { return dir_.path() + "/signer_state.pb"; }
  std::unique_ptr<Signer> Open() {
    auto s = Signer::Open(key_, kChainId, StatePath());
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }
  static std::string Id(char c) { return std::string(32, c); }
  bool Verifies(const SignedVote& v, int64_t height, int32_t round, const std::string& block_id) const {
    std::string msg = VoteSignBytes(kChainId, VoteType::kPrecommit, height, round, block_id, v.timestamp_ms);
    return Verify(key_.public_key(), AsBytes(msg), v.signature);
  }
  void WriteState(const std::string& bytes) {
    std::ofstream out(StatePath(), std::ios::binary | std::ios::trunc);
    out << bytes;
  }

  TempDir dir_;
  KeyPair key_ = Key(1);
};

TEST_F(SignerTest, SignsAPrecommitThatVerifies) {
  auto s = Open();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->public_key(), key_.public_key());
  auto v = s->SignVote(VoteType::kPrecommit, 1, 0, Id('a'), 1000);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->timestamp_ms, 1000);
  EXPECT_TRUE(Verifies(*v, 1, 0, Id('a')));
  EXPECT_FALSE(Verifies(*v, 1, 0, Id('b')));
  pb::SignState last = s->LastSigned();
  EXPECT_EQ(last.height(), 1);
  EXPECT_EQ(last.round(), 0);
  EXPECT_EQ(last.step(), static_cast<int32_t>(SignStep::kPrecommit));
  EXPECT_EQ(last.block_id(), Id('a'));
  EXPECT_TRUE(FileExists(StatePath()));
}

TEST_F(SignerTest, SameRequestAgainReturnsTheIdenticalSignatureAndStoredTimestamp) {
  auto s = Open();
  ASSERT_TRUE(s);
  auto first = s->SignVote(VoteType::kPrecommit, 3, 1, Id('a'), 5000);
  ASSERT_TRUE(first.ok());
  // Asked again (e.g. after a crash before the block was committed) with a later clock: the
  // answer is the vote already given, not a second signature.
  auto again = s->SignVote(VoteType::kPrecommit, 3, 1, Id('a'), 7777);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->signature, first->signature);
  EXPECT_EQ(again->timestamp_ms, 5000);
  EXPECT_TRUE(Verifies(*again, 3, 1, Id('a')));
}

TEST_F(SignerTest, RefusesADifferentBlockAtTheSameHeightRoundStep) {
  auto s = Open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->SignVote(VoteType::kPrecommit, 3, 0, Id('a'), 5000).ok());
  auto other = s->SignVote(VoteType::kPrecommit, 3, 0, Id('b'), 5000);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), Code::kUnauthorized);
  EXPECT_TRUE(Contains(other.status().message(), "double-sign"));
  EXPECT_EQ(s->LastSigned().block_id(), Id('a'));
  // The next round of the same height is a new vote and may be for another block.
  auto next_round = s->SignVote(VoteType::kPrecommit, 3, 1, Id('b'), 5001);
  ASSERT_TRUE(next_round.ok());
  EXPECT_TRUE(Verifies(*next_round, 3, 1, Id('b')));
}

TEST_F(SignerTest, RefusesAnEarlierHeightOrRound) {
  auto s = Open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->SignVote(VoteType::kPrecommit, 5, 2, Id('a'), 5000).ok());
  auto lower_height = s->SignVote(VoteType::kPrecommit, 4, 9, Id('c'), 5000);
  ASSERT_FALSE(lower_height.ok());
  EXPECT_EQ(lower_height.status().code(), Code::kUnauthorized);
  EXPECT_TRUE(Contains(lower_height.status().message(), "already signed height 5 round 2"));
  auto lower_round = s->SignVote(VoteType::kPrecommit, 5, 1, Id('a'), 5000);
  ASSERT_FALSE(lower_round.ok());
  EXPECT_EQ(lower_round.status().code(), Code::kUnauthorized);
  // A prevote after the precommit of the same round is a step back too.
  auto lower_step = s->SignVote(VoteType::kPrevote, 5, 2, Id('a'), 5000);
  ASSERT_FALSE(lower_step.ok());
  EXPECT_EQ(lower_step.status().code(), Code::kUnauthorized);
  EXPECT_EQ(s->LastSigned().height(), 5);
  EXPECT_EQ(s->LastSigned().round(), 2);
  EXPECT_TRUE(s->SignVote(VoteType::kPrecommit, 6, 0, Id('d'), 6000).ok());
}

TEST_F(SignerTest, StepsOrderProposePrevotePrecommitWithinARound) {
  auto s = Open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->SignProposal(4, 0, -1, Id('a'), 4000).ok());
  ASSERT_TRUE(s->SignVote(VoteType::kPrevote, 4, 0, Id('a'), 4001).ok());
  ASSERT_TRUE(s->SignVote(VoteType::kPrecommit, 4, 0, Id('a'), 4002).ok());
  // Going back to an earlier step of the same round is refused, even for the same block.
  auto proposal = s->SignProposal(4, 0, -1, Id('a'), 4000);
  ASSERT_FALSE(proposal.ok());
  EXPECT_EQ(proposal.status().code(), Code::kUnauthorized);
  auto prevote = s->SignVote(VoteType::kPrevote, 4, 0, Id('a'), 4001);
  ASSERT_FALSE(prevote.ok());
  EXPECT_EQ(prevote.status().code(), Code::kUnauthorized);
  // A proposal in the next round is fine.
  EXPECT_TRUE(s->SignProposal(4, 1, 0, Id('b'), 5000).ok());
}

TEST_F(SignerTest, StatePersistsAcrossReopen) {
  Signature first_sig{};
  {
    auto s = Open();
    ASSERT_TRUE(s);
    auto v = s->SignVote(VoteType::kPrecommit, 7, 0, Id('a'), 9000);
    ASSERT_TRUE(v.ok());
    first_sig = v->signature;
  }
  auto s = Open();  // as after a restart (or kill -9)
  ASSERT_TRUE(s);
  EXPECT_EQ(s->LastSigned().height(), 7);
  auto conflicting = s->SignVote(VoteType::kPrecommit, 7, 0, Id('b'), 9000);
  ASSERT_FALSE(conflicting.ok());
  EXPECT_EQ(conflicting.status().code(), Code::kUnauthorized);
  auto earlier = s->SignVote(VoteType::kPrecommit, 6, 0, Id('b'), 9000);
  ASSERT_FALSE(earlier.ok());
  EXPECT_EQ(earlier.status().code(), Code::kUnauthorized);
  auto same = s->SignVote(VoteType::kPrecommit, 7, 0, Id('a'), 12345);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->signature, first_sig);
  EXPECT_EQ(same->timestamp_ms, 9000);
}

TEST_F(SignerTest, CorruptStateFileFailsOpen) {
  {
    auto s = Open();
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->SignVote(VoteType::kPrecommit, 7, 0, Id('a'), 9000).ok());
  }
  auto good = ReadFile(StatePath());
  ASSERT_TRUE(good.ok());

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"garbage", "\xff\xff\xff\xff not a record"},
      {"truncated", good->substr(0, good->size() - 3)},
      {"trailing byte", *good + std::string(1, '\0')},
      {"empty", ""},
  };
  for (const auto& [name, bytes] : cases) {
    SCOPED_TRACE(name);
    WriteState(bytes);
    auto s = Signer::Open(key_, kChainId, StatePath());
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), Code::kCorruption);
    EXPECT_TRUE(Contains(s.status().message(), StatePath()));
  }
}

TEST_F(SignerTest, NoSignatureLeavesWhenTheStateCannotBeWritten) {
  auto opened = Signer::Open(key_, kChainId, dir_.path() + "/no/such/dir/signer_state.pb");
  ASSERT_TRUE(opened.ok());  // missing = never signed
  auto v = (*opened)->SignVote(VoteType::kPrecommit, 1, 0, Id('a'), 1000);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kIo);
  EXPECT_EQ((*opened)->LastSigned().height(), 0);
}

}  // namespace
}  // namespace v2g::nodetest
