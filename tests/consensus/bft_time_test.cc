// BFT time: a block's time is the voting-power-weighted median of its last_commit's timestamps
// (consensus/block.h). These tests play a Byzantine proposer and Byzantine co-signers against it:
// whatever subset of signatures the proposer puts in the commit and whatever times the Byzantine
// validators sign, a block that validates carries a time between the earliest and the latest
// timestamp an honest validator signed. Market gate closures and settlements run on block time, so
// neither can be moved by more than the spread of honest precommit stamps.
#include <gtest/gtest.h>

#include <climits>
#include <vector>

#include "common/bech32.h"
#include "common/crypto.h"
#include "common/signbytes.h"
#include "consensus/block.h"

namespace v2g {
namespace {

const std::string kChain = "v2g-bft-time-test";

struct Val {
  KeyPair key = KeyPair::Generate();
  int64_t power = 0;
  bool byzantine = false;
  std::string address() const { return AddressBytes(AddressFromPublicKey(key.public_key())); }
};

class BftTimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitCrypto();
    // Unequal power, 59 in all; the Byzantine one holds 14 (less than a third).
    for (int64_t p : {10, 20, 15, 14}) {
      Val v;
      v.power = p;
      vals_.push_back(v);
    }
    vals_[3].byzantine = true;
    for (const auto& v : vals_) {
      auto* r = set_.add_validators();
      r->set_name("v");
      r->set_address(v.address());
      r->set_consensus_pubkey(std::string(v.key.public_key().begin(), v.key.public_key().end()));
      r->set_power(v.power);
    }
    params_.set_block_txs_max(100);
    params_.set_block_bytes_max(1 << 20);
    tip_.chain_id = kChain;
    tip_.height = 7;
    tip_.block_id = std::string(32, 'b');
    tip_.time_ms = kTipTime;
    tip_.app_hash = "app";
    tip_.validators_hash = HashString(ValidatorSetHash(set_));
  }

  // A commit for the tip signed by the validators in `mask` (bit i = validator i) with `stamps`.
  pb::Commit CommitFor(unsigned mask, const std::vector<int64_t>& stamps) const {
    pb::Commit c;
    c.set_height(tip_.height);
    c.set_round(0);
    c.set_block_id(tip_.block_id);
    for (size_t i = 0; i < vals_.size(); ++i) {
      if (!(mask & (1u << i))) continue;
      auto* sig = c.add_signatures();
      sig->set_validator_address(vals_[i].address());
      sig->set_timestamp_ms(stamps[i]);
      Signature s = vals_[i].key.Sign(
          AsBytes(VoteSignBytes(kChain, VoteType::kPrecommit, tip_.height, 0, tip_.block_id, stamps[i])));
      sig->set_signature(std::string(s.begin(), s.end()));
    }
    return c;
  }
  int64_t PowerOf(unsigned mask) const {
    int64_t p = 0;
    for (size_t i = 0; i < vals_.size(); ++i) p += (mask & (1u << i)) ? vals_[i].power : 0;
    return p;
  }
  pb::Block BlockWith(const pb::Commit& last_commit, int64_t time_ms) const {
    pb::Block b;
    pb::Header* h = b.mutable_header();
    h->set_chain_id(kChain);
    h->set_height(tip_.height + 1);
    h->set_time_ms(time_ms);
    h->set_last_block_id(tip_.block_id);
    *b.mutable_last_commit() = last_commit;
    h->set_last_commit_hash(HashString(CommitHash(b.last_commit())));
    h->set_data_hash(HashString(MerkleRoot({})));
    h->set_app_hash(tip_.app_hash);
    h->set_validators_hash(tip_.validators_hash);
    h->set_next_validators_hash(tip_.validators_hash);  // the set does not change
    h->set_proposer_address(vals_[3].address());  // the Byzantine validator proposes
    h->set_evidence_hash(HashString(EvidenceHash(b)));
    return b;
  }

  // Every block a Byzantine proposer could make from honest precommits stamped `honest` (one per
  // validator; the Byzantine entry is ignored) and Byzantine precommits stamped anything: returns
  // the times of those that validate, after checking that no other time validates for them.
  std::vector<int64_t> ValidTimes(const std::vector<int64_t>& honest) {
    std::vector<int64_t> times;
    const int64_t total = TotalPower(set_);
    for (int64_t byz : {INT64_MIN, int64_t{0}, kTipTime, honest[0] - 3600000, honest[0] + 3600000, INT64_MAX}) {
      std::vector<int64_t> stamps = honest;
      stamps[3] = byz;
      for (unsigned mask = 1; mask < 16; ++mask) {
        if (PowerOf(mask) * 3 <= total * 2) continue;  // not a commit
        const pb::Commit c = CommitFor(mask, stamps);
        const int64_t t = WeightedMedianTime(c, set_);
        EXPECT_TRUE(ValidateBlock(BlockWith(c, t), tip_, set_, params_).ok());
        for (int64_t other : {t - 1, t + 1, byz}) {
          if (other == t) continue;
          Status st = ValidateBlock(BlockWith(c, other), tip_, set_, params_);
          EXPECT_FALSE(st.ok()) << "time " << other << " instead of " << t;
          EXPECT_NE(st.message().find("time"), std::string::npos) << st.message();
        }
        times.push_back(t);
      }
    }
    return times;
  }

  static constexpr int64_t kTipTime = 1767225600000;  // 2026-01-01T00:00:00Z
  std::vector<Val> vals_;
  pb::ValidatorSet set_;
  pb::ParamsRecord params_;
  ChainTip tip_;
};

TEST_F(BftTimeTest, WeightedMedianFollowsPowerNotHeadcount) {
  // Sorted: 100 (power 10), 200 (15), 300 (20), 400 (14). Half of 59 is passed at 300.
  EXPECT_EQ(WeightedMedianTime(CommitFor(0b1111, {100, 300, 200, 400}), set_), 300);
  // Without validator 0 (49 in the commit): 200 (15), 300 (20) passes 24.5.
  EXPECT_EQ(WeightedMedianTime(CommitFor(0b1110, {100, 300, 200, 400}), set_), 300);
  // Without the Byzantine one (45): 100 (10), 200 (15) passes 22.5, though 300 has the most power.
  EXPECT_EQ(WeightedMedianTime(CommitFor(0b0111, {100, 300, 200, 0}), set_), 200);
}

TEST_F(BftTimeTest, AByzantineProposerCannotMoveTimeOutsideTheHonestStamps) {
  const std::vector<int64_t> honest = {kTipTime + 1000, kTipTime + 1250, kTipTime + 1100, 0};
  for (int64_t t : ValidTimes(honest)) {
    EXPECT_GE(t, kTipTime + 1000);
    EXPECT_LE(t, kTipTime + 1250);
  }
}

// A gate closes at G. While every honest validator's clock (so its precommit stamp) is before G, no
// block a Byzantine proposer can make is at or after G: it cannot close the gate early (refusing
// orders honest clocks still accept) nor settle early. Once every honest stamp is at or after G,
// no valid block is before G: it cannot slip a late order in before closure.
TEST_F(BftTimeTest, AByzantineProposerCannotMoveAGateClosure) {
  const int64_t gate = kTipTime + 15 * 60 * 1000;
  for (int64_t t : ValidTimes({gate - 1, gate - 400, gate - 150, 0})) EXPECT_LT(t, gate);
  for (int64_t t : ValidTimes({gate, gate + 400, gate + 1, 0})) EXPECT_GE(t, gate);
}

TEST_F(BftTimeTest, TheFirstBlockIsGenesisTimePlusOne) {
  ChainTip genesis = tip_;
  genesis.height = 0;
  genesis.block_id = "";
  EXPECT_EQ(BftTime(genesis, pb::Commit(), set_), kTipTime + 1);
}

}  // namespace
}  // namespace v2g
