// Unit tests of the Tendermint engine's rules, driven by hand through a recording env.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "common/bech32.h"
#include "common/limits.h"
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
    const std::string id = HashString(BlockId(b.header()));
    ++validations[id];
    if (not_yet.count(id)) return Error(Code::kUnavailable, "cannot tell yet");
    // As the node's chain does (ValidateBlock checks the body against the header).
    if (!CheckBlockBody(b).ok()) return Error(Code::kInvalidArgument, "body does not match the header");
    return invalid.count(id) ? Error(Code::kInvalidArgument, "invalid") : Status::Ok();
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
  bool Broadcast(const pb::ConsensusMessage& m) override {
    if (fail_broadcast) return false;  // as when the WAL cannot be written: nothing leaves
    sent.push_back(m);
    log.push_back("send:" + Kind(m));
    return true;
  }
  void Persist(const pb::ConsensusMessage& m) override {
    persisted.push_back(m);
    log.push_back("persist:" + Kind(m));
  }
  // "proposal/2", "prevote/1", "precommit/2": what a message is, for the ordered log.
  static std::string Kind(const pb::ConsensusMessage& m) {
    if (m.has_proposal()) return "proposal/" + std::to_string(m.proposal().height());
    const char* type = m.vote().type() == static_cast<int32_t>(VoteType::kPrevote) ? "prevote/" : "precommit/";
    return type + std::to_string(m.vote().height());
  }
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
    b.mutable_header()->set_evidence_hash(HashString(EvidenceHash(b)));
    b.mutable_header()->set_last_commit_hash(HashString(CommitHash(b.last_commit())));
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
  bool fail_broadcast = false;
  std::set<std::string> invalid;
  std::set<std::string> not_yet;               // ValidateBlock says kUnavailable
  std::map<std::string, int> validations;      // block id -> ValidateBlock calls
  std::vector<pb::ConsensusMessage> sent, relayed, persisted;
  std::vector<std::string> log;                // "send:..." and "persist:..." in order
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
  // A validator that proposes neither (1, 0) nor (1, 1).
  int Bystander() const {
    int me = 0;
    while (me == ProposerIndex(1, 0) || me == ProposerIndex(1, 1)) ++me;
    return me;
  }
  // The same vote from every validator but `me` (the first `count` of them).
  void Others(TendermintEngine& e, int me, VoteType type, int64_t h, int32_t r, const std::string& id,
              int count = 3) {
    for (int i = 0, n = 0; i < 4 && n < count; ++i) {
      if (i == me) continue;
      e.HandleMessage(Vote(vals_[i], type, h, r, id));
      ++n;
    }
  }

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

namespace {

pb::ValidatorSet SetOfPowers(const std::vector<int64_t>& powers) {
  pb::ValidatorSet set;
  for (size_t i = 0; i < powers.size(); ++i) {
    auto* v = set.add_validators();
    v->set_address(std::string(20, static_cast<char>('a' + i)));
    v->set_power(powers[i]);
  }
  return set;
}

}  // namespace

// Seed 6629 of the simulation: with four equal validators the old stride schedule (27 of 40) ran
// 0,3,2,0,3,2,0,3,2 before validator 1's turn, and validator 1 alone held the lock the others
// needed, so the height took ten rounds. Between two turns of a validator of power w there are
// now at most total/w + n - 1 other turns, and equal powers take plain turns.
TEST(Proposer, NoValidatorWaitsLongerThanItsShareAllows) {
  InitCrypto();
  const std::vector<std::vector<int64_t>> sets = {
      {10, 10, 10, 10}, {10, 10, 10, 1}, {1, 2, 3, 4}, {1, 1, 1, 1, 1, 1, 1, 100}, {7, 13, 29, 31, 37, 41, 43},
      {1000, 1, 1, 1, 999}, {5}, {3, 3, 3, 3, 3, 3, 3}};
  for (const auto& powers : sets) {
    const pb::ValidatorSet set = SetOfPowers(powers);
    const int64_t total = TotalPower(set);
    const int64_t n = set.validators_size();
    std::map<std::string, std::vector<int64_t>> turns;
    for (int64_t slot = 0; slot < total; ++slot) {
      // (height, round) = (slot + total, 0) and (total, slot) name the same slot.
      const std::string a = ProposerFor(set, slot + total, 0).address();
      ASSERT_EQ(a, ProposerFor(set, total, static_cast<int32_t>(slot)).address());
      turns[a].push_back(slot);
    }
    for (const auto& v : set.validators()) {
      const auto& t = turns[v.address()];
      ASSERT_EQ(static_cast<int64_t>(t.size()), v.power()) << "power " << v.power() << " of total " << total;
      const int64_t bound = (total + v.power() - 1) / v.power() + n - 1;
      for (size_t k = 0; k < t.size(); ++k) {
        const int64_t next = k + 1 < t.size() ? t[k + 1] : t[0] + total;
        EXPECT_LE(next - t[k], bound) << "power " << v.power() << " of total " << total << " at slot " << t[k];
      }
    }
    if (std::all_of(powers.begin(), powers.end(), [&](int64_t p) { return p == powers[0]; })) {
      for (int64_t slot = 0; slot < total; ++slot) {
        EXPECT_EQ(ProposerFor(set, slot + total, 0).address(), set.validators(static_cast<int>(slot % n)).address());
      }
    }
  }
}

// The largest set genesis admits: 150 validators of 2^50 (the arithmetic is 128-bit).
TEST(Proposer, TheLargestPowersGenesisAdmitsDoNotOverflow) {
  InitCrypto();
  std::vector<int64_t> powers(150, int64_t{1} << 50);
  powers[7] = 1;
  const pb::ValidatorSet set = SetOfPowers(powers);
  // The 149 large validators take plain turns (skipping validator 7, whose one turn is mid-way
  // through the period), so slot s (= height s, round 0) is theirs in order.
  for (int64_t slot = 1; slot < 600; ++slot) {
    const int64_t r = slot % 149;
    EXPECT_EQ(ProposerFor(set, slot, 0).address(), set.validators(static_cast<int>(r < 7 ? r : r + 1)).address()) << slot;
  }
  // The period's last slot (height = total - 1 + total, far past int32 rounds) is a large one's.
  const int64_t total = TotalPower(set);
  EXPECT_EQ(ProposerFor(set, 2 * total - 1, 0).address(), set.validators(149).address());
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

// BFT time stays strictly increasing because an honest precommit for a block is stamped after
// the block's time, even when this node's clock is behind it; other votes carry the clock.
TEST_F(EngineTest, APrecommitIsStampedAfterItsBlocksTime) {
  const int me = NonProposer(1, 0);
  RecordingEnv env(&vals_[me]);  // clock reads 1000
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  pb::Block b = RecordingEnv::MakeBlock(1, "x");
  b.mutable_header()->set_time_ms(5000);
  e.HandleMessage(Proposal(vals_[ProposerIndex(1, 0)], b, 0));
  ASSERT_NE(env.LastVote(VoteType::kPrevote), nullptr);
  EXPECT_EQ(env.LastVote(VoteType::kPrevote)->timestamp_ms(), 1000);
  Others(e, me, VoteType::kPrevote, 1, 0, Id(b));
  ASSERT_NE(env.LastVote(VoteType::kPrecommit), nullptr);
  EXPECT_EQ(env.LastVote(VoteType::kPrecommit)->block_id(), Id(b));
  EXPECT_EQ(env.LastVote(VoteType::kPrecommit)->timestamp_ms(), 5001);
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


// ---------------------------------------------------------------- Algorithm 1, rule by rule

TEST_F(EngineTest, L28PrevotesAReproposalBackedByAProofOfLockRound) {
  const int me = Bystander();
  RecordingEnv env(&vals_[me]);
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  pb::Block x = RecordingEnv::MakeBlock(1, "x");
  // Round 0: we never see the proposal; the three others prevote x and precommit nil.
  e.HandleTimeout({1, 0, Step::kPropose});
  Others(e, me, VoteType::kPrevote, 1, 0, Id(x));
  e.HandleTimeout({1, 0, Step::kPrevote});
  Others(e, me, VoteType::kPrecommit, 1, 0, "");
  e.HandleTimeout({1, 0, Step::kPrecommit});
  ASSERT_EQ(e.round(), 1);
  // Round 1 re-proposes x with pol_round 0, which holds 2f+1 prevotes for it: prevote x.
  e.HandleMessage(Proposal(vals_[ProposerIndex(1, 1)], x, 1, /*pol=*/0));
  const pb::Vote* v = env.LastVote(VoteType::kPrevote);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->round(), 1);
  EXPECT_EQ(v->block_id(), Id(x));
}

TEST_F(EngineTest, L28WaitsWhileTheProofOfLockRoundLacksAQuorum) {
  const int me = Bystander();
  RecordingEnv env(&vals_[me]);
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  pb::Block x = RecordingEnv::MakeBlock(1, "x");
  e.HandleTimeout({1, 0, Step::kPropose});
  Others(e, me, VoteType::kPrevote, 1, 0, Id(x), /*count=*/2);
  Others(e, me, VoteType::kPrecommit, 1, 0, "");
  e.HandleTimeout({1, 0, Step::kPrevote});
  e.HandleTimeout({1, 0, Step::kPrecommit});
  ASSERT_EQ(e.round(), 1);
  const size_t sent = env.sent.size();
  e.HandleMessage(Proposal(vals_[ProposerIndex(1, 1)], x, 1, /*pol=*/0));
  EXPECT_EQ(env.sent.size(), sent) << "no prevote on a re-proposal whose proof of lock is not 2f+1";
  e.HandleTimeout({1, 1, Step::kPropose});  // L57: then nil
  ASSERT_NE(env.LastVote(VoteType::kPrevote), nullptr);
  EXPECT_EQ(env.LastVote(VoteType::kPrevote)->round(), 1);
  EXPECT_EQ(env.LastVote(VoteType::kPrevote)->block_id(), "");
}

TEST_F(EngineTest, L34AndL44PrecommitNilOnAPrevoteQuorumForNil) {
  const int me = NonProposer(1, 0);
  RecordingEnv env(&vals_[me]);
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  pb::Block x = RecordingEnv::MakeBlock(1, "x");
  e.HandleMessage(Proposal(vals_[ProposerIndex(1, 0)], x, 0));
  ASSERT_EQ(env.LastVote(VoteType::kPrevote)->block_id(), Id(x));
  Others(e, me, VoteType::kPrevote, 1, 0, "", /*count=*/2);
  // 2f+1 prevotes of any kind (ours for x, two for nil): L34 schedules the prevote timeout.
  bool scheduled = false;
  for (const auto& t : env.timeouts) scheduled |= t.step == Step::kPrevote && t.round == 0;
  EXPECT_TRUE(scheduled);
  EXPECT_EQ(env.LastVote(VoteType::kPrecommit), nullptr);
  Others(e, me, VoteType::kPrevote, 1, 0, "");
  ASSERT_NE(env.LastVote(VoteType::kPrecommit), nullptr);
  EXPECT_EQ(env.LastVote(VoteType::kPrecommit)->block_id(), "");
  EXPECT_EQ(e.Info().locked_round, -1);
}

// L49: a proposal with 2f+1 precommits for it decides, in whatever round it was made: here round
// 0's block, whose precommits arrive late, while the engine is already in round 1.
TEST_F(EngineTest, L49DecidesAnEarlierRoundsProposalOnItsPrecommitQuorum) {
  const int me = NonProposer(1, 0);
  RecordingEnv env(&vals_[me]);
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  pb::Block x = RecordingEnv::MakeBlock(1, "x");
  e.HandleMessage(Proposal(vals_[ProposerIndex(1, 0)], x, 0));
  Others(e, me, VoteType::kPrevote, 1, 0, "", /*count=*/1);
  e.HandleTimeout({1, 0, Step::kPrevote});
  ASSERT_EQ(env.LastVote(VoteType::kPrecommit)->block_id(), "");
  e.HandleTimeout({1, 0, Step::kPrecommit});
  ASSERT_EQ(e.round(), 1);
  ASSERT_TRUE(env.decided.empty());
  // Three others precommit x at round 0 (three of four equal powers: more than 2/3).
  for (int i = 0, n = 0; i < 4 && n < 3; ++i) {
    if (i == me) continue;
    e.HandleMessage(Vote(vals_[i], VoteType::kPrecommit, 1, 0, Id(x)));
    ++n;
  }
  ASSERT_EQ(env.decided.size(), 1u);
  EXPECT_EQ(Id(env.decided[0]), Id(x));
  EXPECT_EQ(env.commits[0].round(), 0);
}

TEST_F(EngineTest, L47SchedulesThePrecommitTimeoutOnAnyPrecommitQuorum) {
  const int me = NonProposer(1, 0);
  RecordingEnv env(&vals_[me]);
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  pb::Block x = RecordingEnv::MakeBlock(1, "x");
  pb::Block y = RecordingEnv::MakeBlock(1, "y");
  const std::string ids[3] = {Id(x), Id(y), ""};
  int n = 0;
  Others(e, me, VoteType::kPrecommit, 1, 0, ids[n++]);
  bool scheduled = false;
  for (const auto& t : env.timeouts) scheduled |= t.step == Step::kPrecommit && t.round == 0;
  EXPECT_TRUE(scheduled);
  EXPECT_TRUE(env.decided.empty());
}

TEST_F(EngineTest, L61PrecommitsNilWhenThePrevoteTimeoutFires) {
  const int me = NonProposer(1, 0);
  RecordingEnv env(&vals_[me]);
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  e.HandleMessage(Proposal(vals_[ProposerIndex(1, 0)], RecordingEnv::MakeBlock(1, "x"), 0));
  ASSERT_NE(env.LastVote(VoteType::kPrevote), nullptr);
  e.HandleTimeout({1, 3, Step::kPrevote});  // another round's timeout: ignored
  EXPECT_EQ(env.LastVote(VoteType::kPrecommit), nullptr);
  e.HandleTimeout({1, 0, Step::kPrevote});
  ASSERT_NE(env.LastVote(VoteType::kPrecommit), nullptr);
  EXPECT_EQ(env.LastVote(VoteType::kPrecommit)->block_id(), "");
  EXPECT_EQ(e.Info().step, Step::kPrecommit);
}

TEST_F(EngineTest, L65StartsTheNextRoundWhenThePrecommitTimeoutFires) {
  const int me = NonProposer(1, 0) == ProposerIndex(1, 1) ? NonProposer(1, 1) : NonProposer(1, 0);
  RecordingEnv env(&vals_[me]);
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  e.HandleTimeout({1, 2, Step::kPrecommit});  // not our round: ignored
  EXPECT_EQ(e.round(), 0);
  e.HandleTimeout({1, 0, Step::kPrecommit});
  EXPECT_EQ(e.round(), 1);
  EXPECT_EQ(e.Info().step, Step::kPropose);
  bool scheduled = false;
  for (const auto& t : env.timeouts) scheduled |= t.step == Step::kPropose && t.round == 1;
  EXPECT_TRUE(scheduled) << "round 1's propose timeout";
  e.HandleTimeout({1, 0, Step::kPrecommit});  // a stale repeat does not skip another round
  EXPECT_EQ(e.round(), 1);
}

// ---------------------------------------------------------------- issue 10 defects

// Defect 1: a proposal's signature covers its header only. A body under a valid header that does
// not match it used to take the round's proposal slot and get the block id cached as invalid for
// the whole height, so the real block could never get this node's prevote.
TEST_F(EngineTest, AWrongBodyUnderAValidHeaderIsNotTheProposal) {
  const int me = NonProposer(1, 0);
  RecordingEnv env(&vals_[me]);
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  pb::Block x = RecordingEnv::MakeBlock(1, "x");
  pb::ConsensusMessage forged = Proposal(vals_[ProposerIndex(1, 0)], x, 0);
  forged.mutable_proposal()->mutable_block()->set_txs(0, "not-x");  // same header, id and signature
  e.HandleMessage(forged);
  EXPECT_EQ(env.LastVote(VoteType::kPrevote), nullptr) << "a forged body is no proposal";
  EXPECT_TRUE(env.persisted.empty()) << "and is never logged";
  EXPECT_EQ(env.validations.count(Id(x)), 0u) << "nor judged, so its id is not marked invalid";
  e.HandleMessage(Proposal(vals_[ProposerIndex(1, 0)], x, 0));  // the real block
  ASSERT_NE(env.LastVote(VoteType::kPrevote), nullptr);
  EXPECT_EQ(env.LastVote(VoteType::kPrevote)->block_id(), Id(x));
}

// Defect 1: a verdict that depends on this node's clock (kUnavailable) is not final: the same
// block re-proposed in a later round is judged again.
TEST_F(EngineTest, AVerdictThatCanChangeIsNotCachedForTheHeight) {
  const int me = Bystander();
  RecordingEnv env(&vals_[me]);
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  pb::Block x = RecordingEnv::MakeBlock(1, "x");
  env.not_yet.insert(Id(x));
  e.HandleMessage(Proposal(vals_[ProposerIndex(1, 0)], x, 0));
  ASSERT_NE(env.LastVote(VoteType::kPrevote), nullptr);
  EXPECT_EQ(env.LastVote(VoteType::kPrevote)->block_id(), "");
  Others(e, me, VoteType::kPrevote, 1, 0, Id(x));
  const int asked_in_round_0 = env.validations[Id(x)];
  EXPECT_LE(asked_in_round_0, 2) << "'not yet' is asked once per round, not on every message";
  e.HandleTimeout({1, 0, Step::kPrevote});
  Others(e, me, VoteType::kPrecommit, 1, 0, "");
  e.HandleTimeout({1, 0, Step::kPrecommit});
  ASSERT_EQ(e.round(), 1);
  env.not_yet.clear();  // this node's clock caught up
  e.HandleMessage(Proposal(vals_[ProposerIndex(1, 1)], x, 1, /*pol=*/0));
  ASSERT_EQ(env.LastVote(VoteType::kPrevote)->round(), 1);
  EXPECT_EQ(env.LastVote(VoteType::kPrevote)->block_id(), Id(x));
}

// Defect 2: votes whose signatures do not verify must not count toward the round skip (L55)
// nor leave any state behind, however many arrive.
TEST_F(EngineTest, GarbageSignedVotesNeitherSkipRoundsNorKeepState) {
  const int me = NonProposer(1, 0);
  RecordingEnv env(&vals_[me]);
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  for (int i = 0; i < 4; ++i) {
    if (i == me) continue;
    pb::ConsensusMessage bad = Vote(vals_[i], VoteType::kPrevote, 1, 5, "");
    bad.mutable_vote()->mutable_signature()->at(0) ^= 1;
    e.HandleMessage(bad);
  }
  EXPECT_EQ(e.round(), 0) << "forged votes of real validators moved us to another round";
  EXPECT_EQ(e.Info().rounds.count(5), 0u);
  for (int k = 0; k < 1000; ++k) {
    pb::ConsensusMessage bad = Vote(vals_[(me + 1 + k % 3) % 4], VoteType::kPrecommit, 1, 1 + k % 64,
                                    std::string(32, static_cast<char>(k)));
    bad.mutable_vote()->mutable_signature()->at(1) ^= 1;
    e.HandleMessage(bad);
    Validator stranger;
    e.HandleMessage(Vote(stranger, VoteType::kPrevote, 1, 1 + k % 64, ""));
  }
  EXPECT_EQ(e.Info().rounds.size(), 1u) << "only round 0 has state";
  EXPECT_TRUE(env.persisted.empty());
  EXPECT_TRUE(env.relayed.empty());
}

// Defect 2: held next-height messages are verified first; garbage is not held at all.
TEST_F(EngineTest, OnlyVerifiedMessagesAreHeldForTheNextHeight) {
  const int me = NonProposer(2, 0);
  RecordingEnv env(&vals_[me]);
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  const int other = (me + 1) % 4;
  for (int k = 0; k < 5000; ++k) {  // a flood of forged votes naming a real validator
    pb::ConsensusMessage bad = Vote(vals_[other], VoteType::kPrevote, 2, k % 64, std::string(32, 'a'), 1000 + k);
    bad.mutable_vote()->mutable_signature()->at(0) ^= 1;
    e.HandleMessage(bad);
  }
  for (int k = 0; k < 200; ++k) {  // and more validly signed ones than its quota
    e.HandleMessage(Vote(vals_[other], VoteType::kPrevote, 2, k % 64, "", 1000 + k));
  }
  pb::Block b2 = RecordingEnv::MakeBlock(2, "h2");
  e.HandleMessage(Proposal(vals_[ProposerIndex(2, 0)], b2, 0));  // another validator's message still fits
  e.StartHeight(2, set_);
  ASSERT_NE(env.LastVote(VoteType::kPrevote), nullptr);
  EXPECT_EQ(env.LastVote(VoteType::kPrevote)->block_id(), Id(b2));
  size_t from_other = 0;
  for (const auto& m : env.persisted) from_other += m.has_vote() && m.vote().validator_address() == vals_[other].address();
  EXPECT_LE(from_other, limits::kConsensusHeldPerValidatorMax);
  EXPECT_GT(from_other, 0u);
}

// Validator set changes (contracts/gov.h): messages that arrive early for the next height are
// checked against that height's set, which the chain knows a height ahead. A validator that joins
// at the next height is held and counted there; one that leaves is not held at all.
TEST_F(EngineTest, HeldMessagesAreCheckedAgainstTheNextHeightsSet) {
  const Validator joiner;
  pb::ValidatorSet next = set_;
  next.mutable_validators()->RemoveLast();  // vals_[3] leaves
  auto* r = next.add_validators();
  r->set_name("joiner");
  r->set_address(joiner.address());
  r->set_consensus_pubkey(
      std::string(joiner.key.public_key().begin(), joiner.key.public_key().end()));
  r->set_power(10);
  int me = 0;
  while (ProposerFor(next, 2, 0).address() == vals_[me].address()) ++me;
  ASSERT_LT(me, 3);
  RecordingEnv env(&vals_[me]);
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_, next);
  e.HandleMessage(Vote(joiner, VoteType::kPrevote, 2, 0, ""));
  e.HandleMessage(Vote(vals_[3], VoteType::kPrevote, 2, 0, ""));
  EXPECT_EQ(e.Stats().held_messages, 1u) << "the joiner's vote is held, the leaver's is not";
  // The proposal of height 2 is the next set's proposer's (a proposal by height 1's proposer of
  // that slot, when it differs, is not).
  pb::Block b2 = RecordingEnv::MakeBlock(2, "h2");
  const pb::ValidatorRecord& proposer = ProposerFor(next, 2, 0);
  const Validator* signer = proposer.address() == joiner.address() ? &joiner : nullptr;
  for (const auto& v : vals_) {
    if (v.address() == proposer.address()) signer = &v;
  }
  ASSERT_NE(signer, nullptr);
  e.HandleMessage(Proposal(*signer, b2, 0));
  EXPECT_EQ(e.Stats().held_messages, 2u);
  e.StartHeight(2, next, next);
  ASSERT_NE(env.LastVote(VoteType::kPrevote), nullptr);
  EXPECT_EQ(env.LastVote(VoteType::kPrevote)->block_id(), Id(b2));
  bool joiner_counted = false;
  for (const auto& m : env.persisted) {
    EXPECT_FALSE(m.has_vote() && m.vote().validator_address() == vals_[3].address())
        << "a leaver's vote was counted";
    joiner_counted |= m.has_vote() && m.vote().validator_address() == joiner.address();
  }
  EXPECT_TRUE(joiner_counted);
  // At height 2 the leaver's votes are strangers' and the joiner's count.
  e.HandleMessage(Vote(vals_[3], VoteType::kPrevote, 2, 0, Id(b2)));
  EXPECT_EQ(e.Info().rounds.at(0).prevotes_by_block.count(Id(b2))
                ? e.Info().rounds.at(0).prevotes_by_block.at(Id(b2))
                : 0,
            10)
      << "only my own prevote for b2 counts";
}

// Defect 3: messages that arrive early for the next height and are replayed when it starts are
// persisted like any other input, before the votes they cause leave the node (so a restart
// rebuilds the lock they gave us).
TEST_F(EngineTest, HeldMessagesArePersistedBeforeTheVotesTheyCause) {
  const int me = NonProposer(2, 0);
  RecordingEnv env(&vals_[me]);
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  pb::Block b2 = RecordingEnv::MakeBlock(2, "h2");
  e.HandleMessage(Proposal(vals_[ProposerIndex(2, 0)], b2, 0));
  Others(e, me, VoteType::kPrevote, 2, 0, Id(b2));
  EXPECT_TRUE(env.persisted.empty()) << "held, not yet accepted";
  env.log.clear();
  e.StartHeight(2, set_);
  ASSERT_NE(env.LastVote(VoteType::kPrecommit), nullptr);
  EXPECT_EQ(env.LastVote(VoteType::kPrecommit)->block_id(), Id(b2));
  EXPECT_EQ(e.Info().locked_round, 0);
  auto at = [&](const std::string& what) {
    return std::find(env.log.begin(), env.log.end(), what) - env.log.begin();
  };
  const auto precommit_sent = at("send:precommit/2");
  ASSERT_LT(precommit_sent, static_cast<long>(env.log.size()));
  EXPECT_LT(at("persist:proposal/2"), precommit_sent);
  long prevotes_before = 0;
  for (long i = 0; i < precommit_sent; ++i) prevotes_before += env.log[static_cast<size_t>(i)] == "persist:prevote/2";
  EXPECT_GE(prevotes_before, 2) << "the prevotes that made the quorum are durable first";
}

// Defect 4: a message that could not be made durable was never cast: it is neither counted nor
// re-sent later.
TEST_F(EngineTest, AVoteThatCouldNotBeMadeDurableIsNeverCounted) {
  const int me = NonProposer(1, 0);
  RecordingEnv env(&vals_[me]);
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  env.fail_broadcast = true;
  pb::Block x = RecordingEnv::MakeBlock(1, "x");
  e.HandleMessage(Proposal(vals_[ProposerIndex(1, 0)], x, 0));
  EXPECT_EQ(e.Info().rounds[0].prevote_power, 0) << "our own prevote counted although it never left";
  Others(e, me, VoteType::kPrevote, 1, 0, Id(x));
  EXPECT_EQ(e.Info().rounds[0].prevote_power, 30);
  env.relayed.clear();
  e.HandleTimeout({1, 0, Step::kTick});
  for (const auto& m : env.relayed) {
    EXPECT_FALSE(m.has_vote() && m.vote().validator_address() == vals_[me].address()) << "re-sent a vote never made durable";
  }
}

// Defect 5: the periodic re-send of our own messages goes out without touching the WAL, so a
// stalled height does not grow it.
TEST_F(EngineTest, ReSendsOfOwnMessagesAreNotLoggedAgain) {
  const int me = NonProposer(1, 0);
  RecordingEnv env(&vals_[me]);
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  e.HandleMessage(Proposal(vals_[ProposerIndex(1, 0)], RecordingEnv::MakeBlock(1, "x"), 0));
  ASSERT_EQ(env.sent.size(), 1u);
  for (int k = 0; k < 10; ++k) e.HandleTimeout({1, 0, Step::kTick});
  EXPECT_EQ(env.sent.size(), 1u) << "each tick made our prevote durable again";
  EXPECT_GE(env.relayed.size(), 10u) << "but it is still re-sent every tick";
  EXPECT_EQ(env.persisted.size(), 1u) << "the proposal, once";
}

// After a restart the engine learns its own earlier messages from the WAL it replays, not from
// signing them again (the signer may refuse): they are re-sent every tick all the same, so peers
// that missed them before the crash still get them.
TEST_F(EngineTest, OwnMessagesReplayedFromTheWalAreReSent) {
  const int me = NonProposer(1, 0);
  RecordingEnv env(&vals_[me]);
  env.refuse_signing = true;  // as after a crash: the signer will not sign anything again
  TendermintEngine e(kChain, vals_[me].address(), {}, env);
  e.StartHeight(1, set_);
  pb::Block x = RecordingEnv::MakeBlock(1, "x");
  const pb::ConsensusMessage mine = Vote(vals_[me], VoteType::kPrevote, 1, 0, Id(x));
  e.HandleMessage(mine);  // replayed from the WAL
  EXPECT_TRUE(env.persisted.empty()) << "our own vote is in the WAL already";
  e.HandleTimeout({1, 0, Step::kTick});
  bool resent = false;
  for (const auto& m : env.relayed) resent |= m.has_vote() && m.vote().signature() == mine.vote().signature();
  EXPECT_TRUE(resent) << "our replayed vote was never re-sent";
  EXPECT_EQ(e.Info().rounds[0].prevote_power, 10);
}

}  // namespace
}  // namespace v2g
