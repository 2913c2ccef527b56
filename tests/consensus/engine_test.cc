// Unit tests of the Tendermint engine's rules, driven by hand through a recording env.
#include <gtest/gtest.h>

#include <map>

#include "common/bech32.h"
#include "consensus/block.h"
#include "consensus/tendermint.h"
#include "contracts/state.h"

namespace v2g {
namespace {

const std::string kChain = "v2g-engine-test";

struct Validator {
  KeyPair key = KeyPair::Generate();
  std::string address() const { return AddressBytes(AddressFromPublicKey(key.public_key())); }
};

// Records everything the engine asks for; signs with the validator's key without safety rules
// (those are tested in tests/node/signer_test.cc).
class RecordingEnv : public EngineEnv {
 public:
  explicit RecordingEnv(const Validator* me) : me_(me) {}
  int64_t NowMs() override { return 1000; }
  pb::Block CreateBlock(int64_t height) override { return MakeBlock(height, "proposed-by-me"); }
  Status ValidateBlock(const pb::Block& b) override {
    return invalid.count(HashString(BlockId(b.header()))) ? Error(Code::kInvalidArgument, "invalid") : Status::Ok();
  }
  Result<SignedMessage> SignVote(VoteType type, int64_t h, int32_t r, const std::string& id, int64_t ts) override {
    if (refuse_signing) return Error(Code::kUnauthorized, "refused");
    Signature s = me_->key.Sign(AsBytes(VoteSignBytes(kChain, type, h, r, id, ts)));
    return SignedMessage{std::string(s.begin(), s.end()), ts};
  }
  Result<SignedMessage> SignProposal(int64_t h, int32_t r, int32_t pol, const std::string& id, int64_t ts) override {
    if (refuse_signing) return Error(Code::kUnauthorized, "refused");
    Signature s = me_->key.Sign(AsBytes(ProposalSignBytes(kChain, h, r, pol, id, ts)));
    return SignedMessage{std::string(s.begin(), s.end()), ts};
  }
  void Broadcast(const pb::ConsensusMessage& m) override { sent.push_back(m); }
  void ScheduleTimeout(const TimeoutEvent& t, int64_t) override { timeouts.push_back(t); }
  void Decide(const pb::Block& b, const pb::Commit& c) override {
    decided.push_back(b);
    commits.push_back(c);
  }
  void OnEvidence(const pb::DuplicateVoteEvidence& ev) override { evidence.push_back(ev); }
  void Relay(const pb::ConsensusMessage& m) override { relayed.push_back(m); }

  static pb::Block MakeBlock(int64_t height, const std::string& tag) {
    pb::Block b;
    b.mutable_header()->set_chain_id(kChain);
    b.mutable_header()->set_height(height);
    b.mutable_header()->set_time_ms(1000);
    b.add_txs(tag);
    b.mutable_header()->set_data_hash(HashString(MerkleRoot({tag})));  // distinct blocks, distinct ids
    return b;
  }
  // The last vote of `type` we sent, if any.
  const pb::Vote* LastVote(VoteType type) const {
    for (auto it = sent.rbegin(); it != sent.rend(); ++it) {
      if (it->has_vote() && it->vote().type() == static_cast<int32_t>(type)) return &it->vote();
    }
    return nullptr;
  }

  const Validator* me_;
  bool refuse_signing = false;
  std::set<std::string> invalid;
  std::vector<pb::ConsensusMessage> sent, relayed;
  std::vector<TimeoutEvent> timeouts;
  std::vector<pb::Block> decided;
  std::vector<pb::Commit> commits;
  std::vector<pb::DuplicateVoteEvidence> evidence;
};

pb::ConsensusMessage Vote(const Validator& v, VoteType type, int64_t h, int32_t r, const std::string& id,
                          int64_t ts = 1000) {
  pb::ConsensusMessage m;
  pb::Vote* vote = m.mutable_vote();
  vote->set_type(static_cast<int32_t>(type));
  vote->set_height(h);
  vote->set_round(r);
  vote->set_block_id(id);
  vote->set_timestamp_ms(ts);
  vote->set_validator_address(v.address());
  Signature s = v.key.Sign(AsBytes(VoteSignBytes(kChain, type, h, r, id, ts)));
  vote->set_signature(std::string(s.begin(), s.end()));
  return m;
}

pb::ConsensusMessage Proposal(const Validator& v, const pb::Block& b, int32_t r, int32_t pol = -1) {
  pb::ConsensusMessage m;
  pb::Proposal* p = m.mutable_proposal();
  p->set_height(b.header().height());
  p->set_round(r);
  p->set_pol_round(pol);
  *p->mutable_block() = b;
  p->set_timestamp_ms(b.header().time_ms());
  p->set_proposer_address(v.address());
  std::string id = HashString(BlockId(b.header()));
  Signature s = v.key.Sign(AsBytes(ProposalSignBytes(kChain, b.header().height(), r, pol, id, b.header().time_ms())));
  p->set_signature(std::string(s.begin(), s.end()));
  return m;
}

std::string Id(const pb::Block& b) { return HashString(BlockId(b.header())); }

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitCrypto();
    vals_.resize(4);
    for (auto& v : vals_) {
      auto* r = set_.add_validators();
      r->set_name("v");
      r->set_address(v.address());
      r->set_consensus_pubkey(std::string(v.key.public_key().begin(), v.key.public_key().end()));
      r->set_power(10);
    }
  }
  // Index of the validator that proposes (h, r).
  int ProposerIndex(int64_t h, int32_t r) const {
    const auto& p = ProposerFor(set_, h, r);
    for (int i = 0; i < 4; ++i) {
      if (vals_[i].address() == p.address()) return i;
    }
    return -1;
  }
  // A validator that is NOT the proposer of (h, r), for the engine under test.
  int NonProposer(int64_t h, int32_t r) const { return (ProposerIndex(h, r) + 1) % 4; }

  std::vector<Validator> vals_;
  pb::ValidatorSet set_;
};

TEST(Proposer, EachValidatorProposesInProportionToPower) {
  InitCrypto();
  pb::ValidatorSet set;
  for (int i = 1; i <= 4; ++i) {
    auto* v = set.add_validators();
    v->set_address(std::string(20, static_cast<char>('a' + i)));
    v->set_power(i);  // total 10
  }
  for (int64_t start = 1; start < 40; start += 7) {  // any window of 10 consecutive slots
    std::map<std::string, int> count;
    for (int64_t h = start; h < start + 10; ++h) count[ProposerFor(set, h, 0).address()]++;
    for (const auto& v : set.validators()) EXPECT_EQ(count[v.address()], v.power());
  }
  // Rounds move the slot too: the proposer of (h, r+1) is the one of (h+1, r).
  EXPECT_EQ(ProposerFor(set, 5, 1).address(), ProposerFor(set, 6, 0).address());
}

TEST_F(EngineTest, SingleValidatorDecidesAlone) {
  pb::ValidatorSet one;
  *one.add_validators() = set_.validators(0);
  RecordingEnv env(&vals_[0]);
  TendermintEngine e(kChain, vals_[0].address(), {}, env);
  e.StartHeight(1, one);
  ASSERT_EQ(env.decided.size(), 1u);
  EXPECT_EQ(env.decided[0].header().height(), 1);
  ASSERT_EQ(env.commits[0].signatures_size(), 1);
  EXPECT_TRUE(VerifyCommit(kChain, one, 1, Id(env.decided[0]), env.commits[0]).ok());
  // Proposal, prevote and precommit went out.
  EXPECT_EQ(env.sent.size(), 3u);
}

TEST_F(EngineTest, DecidesWithTwoThirdsAndBuildsAVerifiableCommit) {
  const int me = NonProposer(1, 0);
  RecordingEnv env(&vals_[me]);
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  pb::Block b = RecordingEnv::MakeBlock(1, "x");
  e.HandleMessage(Proposal(vals_[ProposerIndex(1, 0)], b, 0));
  ASSERT_NE(env.LastVote(VoteType::kPrevote), nullptr);
  EXPECT_EQ(env.LastVote(VoteType::kPrevote)->block_id(), Id(b));
  for (int i = 0; i < 4; ++i) {
    if (i != me) e.HandleMessage(Vote(vals_[i], VoteType::kPrevote, 1, 0, Id(b)));
  }
  ASSERT_NE(env.LastVote(VoteType::kPrecommit), nullptr);
  EXPECT_EQ(env.LastVote(VoteType::kPrecommit)->block_id(), Id(b));
  EXPECT_TRUE(env.decided.empty());
  int others = 0;
  for (int i = 0; i < 4 && others < 1; ++i) {
    if (i == me) continue;
    e.HandleMessage(Vote(vals_[i], VoteType::kPrecommit, 1, 0, Id(b)));
    ++others;
  }
  EXPECT_TRUE(env.decided.empty()) << "2 of 4 precommits is not more than 2/3";
  for (int i = 0, n = 0; i < 4 && n < 2; ++i) {
    if (i == me) continue;
    if (n++ == 0) continue;  // already sent above
    e.HandleMessage(Vote(vals_[i], VoteType::kPrecommit, 1, 0, Id(b)));
  }
  ASSERT_EQ(env.decided.size(), 1u);
  EXPECT_EQ(Id(env.decided[0]), Id(b));
  EXPECT_TRUE(VerifyCommit(kChain, set_, 1, Id(b), env.commits[0]).ok());
}

TEST_F(EngineTest, InvalidProposalGetsANilPrevote) {
  const int me = NonProposer(1, 0);
  RecordingEnv env(&vals_[me]);
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  pb::Block b = RecordingEnv::MakeBlock(1, "bad");
  env.invalid.insert(Id(b));
  e.HandleMessage(Proposal(vals_[ProposerIndex(1, 0)], b, 0));
  ASSERT_NE(env.LastVote(VoteType::kPrevote), nullptr);
  EXPECT_EQ(env.LastVote(VoteType::kPrevote)->block_id(), "");
}

TEST_F(EngineTest, ProposalFromTheWrongProposerOrWithABadSignatureIsIgnored) {
  const int me = NonProposer(1, 0);
  RecordingEnv env(&vals_[me]);
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  pb::Block b = RecordingEnv::MakeBlock(1, "x");
  int wrong = (ProposerIndex(1, 0) + 2) % 4;
  e.HandleMessage(Proposal(vals_[wrong], b, 0));
  pb::ConsensusMessage forged = Proposal(vals_[ProposerIndex(1, 0)], b, 0);
  forged.mutable_proposal()->mutable_signature()->at(0) ^= 1;
  e.HandleMessage(forged);
  EXPECT_EQ(env.LastVote(VoteType::kPrevote), nullptr) << "no prevote before a valid proposal or the timeout";
  e.HandleTimeout({1, 0, Step::kPropose});
  ASSERT_NE(env.LastVote(VoteType::kPrevote), nullptr);
  EXPECT_EQ(env.LastVote(VoteType::kPrevote)->block_id(), "");
}

TEST_F(EngineTest, LockedValidatorPrevotesNilForAnotherBlock) {
  const int me = NonProposer(1, 0) == ProposerIndex(1, 1) ? NonProposer(1, 1) : NonProposer(1, 0);
  ASSERT_NE(me, ProposerIndex(1, 0));
  ASSERT_NE(me, ProposerIndex(1, 1));
  RecordingEnv env(&vals_[me]);
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  pb::Block x = RecordingEnv::MakeBlock(1, "x");
  e.HandleMessage(Proposal(vals_[ProposerIndex(1, 0)], x, 0));
  for (int i = 0; i < 4; ++i) {
    if (i != me) e.HandleMessage(Vote(vals_[i], VoteType::kPrevote, 1, 0, Id(x)));
  }
  EXPECT_EQ(e.Info().locked_round, 0);
  // Round 0 fails to decide: nil precommits from the others, then the precommit timeout.
  for (int i = 0; i < 4; ++i) {
    if (i != me) e.HandleMessage(Vote(vals_[i], VoteType::kPrecommit, 1, 0, ""));
  }
  e.HandleTimeout({1, 0, Step::kPrecommit});
  ASSERT_EQ(e.round(), 1);
  // A fresh proposal for another block: locked on x, we prevote nil.
  pb::Block y = RecordingEnv::MakeBlock(1, "y");
  e.HandleMessage(Proposal(vals_[ProposerIndex(1, 1)], y, 1));
  ASSERT_NE(env.LastVote(VoteType::kPrevote), nullptr);
  EXPECT_EQ(env.LastVote(VoteType::kPrevote)->round(), 1);
  EXPECT_EQ(env.LastVote(VoteType::kPrevote)->block_id(), "");
  EXPECT_TRUE(env.decided.empty());
}

TEST_F(EngineTest, EquivocationYieldsEvidenceOnceAndCountsForBothBlocks) {
  const int me = NonProposer(1, 0);
  RecordingEnv env(&vals_[me]);
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  const int byz = (me + 1) % 4;
  pb::Block x = RecordingEnv::MakeBlock(1, "x");
  e.HandleMessage(Vote(vals_[byz], VoteType::kPrevote, 1, 0, ""));
  e.HandleMessage(Vote(vals_[byz], VoteType::kPrevote, 1, 0, Id(x)));
  e.HandleMessage(Vote(vals_[byz], VoteType::kPrevote, 1, 0, Id(x)));  // exact duplicate: nothing new
  e.HandleMessage(Vote(vals_[byz], VoteType::kPrevote, 1, 0, "", 2000));  // a third: dropped
  ASSERT_EQ(env.evidence.size(), 1u);
  const auto& ev = env.evidence[0];
  EXPECT_EQ(ev.vote_a().validator_address(), vals_[byz].address());
  EXPECT_LT(ev.vote_a().block_id(), ev.vote_b().block_id());
  EXPECT_TRUE(ValidateEvidence(kChain, set_, ev, 2).ok());
  auto info = e.Info();
  EXPECT_EQ(info.rounds[0].prevote_power, 10) << "a validator counts once toward the round's total";
  // Both conflicting votes were relayed so every honest node can see the equivocation.
  EXPECT_EQ(env.relayed.size(), 2u);
}

TEST_F(EngineTest, VotesWithBadSignaturesOrFromStrangersAreIgnored) {
  const int me = NonProposer(1, 0);
  RecordingEnv env(&vals_[me]);
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  Validator stranger;
  e.HandleMessage(Vote(stranger, VoteType::kPrevote, 1, 0, ""));
  pb::ConsensusMessage bad = Vote(vals_[(me + 1) % 4], VoteType::kPrevote, 1, 0, "");
  bad.mutable_vote()->set_block_id(std::string(32, 'z'));  // signature no longer matches
  e.HandleMessage(bad);
  EXPECT_TRUE(env.relayed.empty());
  EXPECT_EQ(e.Info().rounds[0].prevote_power, 0);
}

TEST_F(EngineTest, SkipsToAHigherRoundOnMoreThanAThirdOfItsVotes) {
  const int me = NonProposer(1, 0);
  RecordingEnv env(&vals_[me]);
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  int sent = 0;
  for (int i = 0; i < 4 && sent < 2; ++i) {
    if (i == me) continue;
    e.HandleMessage(Vote(vals_[i], VoteType::kPrevote, 1, 5, ""));
    ++sent;
    if (sent == 1) {
      EXPECT_EQ(e.round(), 0) << "1 of 4 is not more than 1/3";
    }
  }
  EXPECT_EQ(e.round(), 5);
}

TEST_F(EngineTest, RefusedSignatureMeansSilenceNotAVote) {
  const int me = NonProposer(1, 0);
  RecordingEnv env(&vals_[me]);
  env.refuse_signing = true;
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  e.HandleMessage(Proposal(vals_[ProposerIndex(1, 0)], RecordingEnv::MakeBlock(1, "x"), 0));
  e.HandleTimeout({1, 0, Step::kPropose});
  EXPECT_TRUE(env.sent.empty());
}

TEST_F(EngineTest, MessagesForTheNextHeightWaitUntilItStarts) {
  const int me = NonProposer(2, 0);
  RecordingEnv env(&vals_[me]);
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  pb::Block b2 = RecordingEnv::MakeBlock(2, "h2");
  e.HandleMessage(Proposal(vals_[ProposerIndex(2, 0)], b2, 0));
  const pb::Vote* before = env.LastVote(VoteType::kPrevote);
  EXPECT_TRUE(before == nullptr || before->height() == 1) << "no vote at height 2 before it starts";
  e.StartHeight(2, set_);
  ASSERT_NE(env.LastVote(VoteType::kPrevote), nullptr);
  EXPECT_EQ(env.LastVote(VoteType::kPrevote)->height(), 2);
  EXPECT_EQ(env.LastVote(VoteType::kPrevote)->block_id(), Id(b2));
}

}  // namespace
}  // namespace v2g
