// Unit tests for contracts/gov: who may propose and vote, the 2/3-of-power rule counted at each
// vote and at the end of the voting period, execution at the next height (an op needing a role
// fails from that height on, and not before, for every role), proposals that fail at execution
// and change nothing, each action's effect, the bounds, and conservation throughout.
#include "contracts/gov.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "contracts/params.h"
#include "tests/contracts/ledger_fixture.h"

namespace v2g {
namespace {

using namespace testing_ledger;  // NOLINT

constexpr int64_t kPeriodS = 3600;

class GovTest : public LedgerFixture {
 protected:
  GovTest() : v1_(Key(50)), v2_(Key(51)), v3_(Key(52)), proposer_(Key(60)), dave_(Key(13)) {}

  // The validators' fees, for when a test raises fee_min.
  void SetUp() override {
    LedgerFixture::SetUp();
    for (const KeyPair* k : {&validator_, &v1_, &v2_, &v3_, &proposer_}) {
      ASSERT_EQ(CodeOf(Run(grid_, MakeTransfer(0, AddrOf(*k), "CNY", 10'000))), Code::kOk);
    }
  }

  // Four validators of power 10 (val-0 is the fixture's), a proposer, a one-hour voting period.
  void Configure(GenesisState& g) override {
    int n = 1;
    for (const KeyPair* k : {&v1_, &v2_, &v3_}) {
      GenesisValidator v;
      v.name = "val-" + std::to_string(n++);
      v.address = AddrOf(*k);
      v.consensus_pubkey = k->public_key();
      v.node_pubkey = Key(static_cast<uint8_t>(70 + n)).public_key();
      v.power = 10;
      g.validators.push_back(v);
    }
    g.roles.push_back({"proposer", AddrOf(proposer_)});
    g.params.gov_voting_period_s = kPeriodS;
  }

  // One block holding these txs in order (each signer's nonces follow on), at the current time.
  std::vector<pb::TxResult> Block(std::vector<std::pair<const KeyPair*, pb::TxBody>> txs) {
    std::map<Address, uint64_t> next;
    std::vector<std::string> signed_txs;
    for (auto& [k, body] : txs) {
      const Address a = AddrOf(*k);
      if (!next.count(a)) next[a] = LoadAccount(state_, a).nonce() + 1;
      body.set_nonce(next[a]++);
      signed_txs.push_back(SignTx(*k, kChainId, std::move(body)));
    }
    ++ctx_.height;
    BlockOutcome out = ExecuteBlock(ctx_, signed_txs, nullptr, state_);
    ctx_.time_ms += 1;
    return out.results;
  }

  uint64_t Propose(const KeyPair& who, const pb::GovAction& action,
                   const std::string& title = "a proposal") {
    auto r = Run(who, MakeSubmitProposal(0, title, "why", action));
    EXPECT_EQ(CodeOf(r), Code::kOk) << r.log();
    return r.created_id();
  }
  pb::TxResult Vote(const KeyPair& who, uint64_t id, pb::GovVoteOption o = pb::GOV_VOTE_YES) {
    return Run(who, MakeVoteProposal(0, id, o));
  }
  // Three of four validators vote yes: the third vote passes it (30 of 40 > 2/3), in the block
  // returned; it executes in the next one.
  int64_t Pass(uint64_t id) {
    EXPECT_EQ(CodeOf(Vote(validator_, id)), Code::kOk);
    EXPECT_EQ(CodeOf(Vote(v1_, id)), Code::kOk);
    EXPECT_EQ(Proposal(id).status(), pb::PROPOSAL_VOTING);
    auto r = Vote(v2_, id);
    EXPECT_EQ(CodeOf(r), Code::kOk) << r.log();
    EXPECT_EQ(Proposal(id).status(), pb::PROPOSAL_PASSED);
    EXPECT_EQ(Proposal(id).execute_height(), ctx_.height + 1);
    return ctx_.height;
  }
  // Passes `action` and runs the block it executes in.
  uint64_t Enact(const pb::GovAction& action) {
    const uint64_t id = Propose(validator_, action);
    Pass(id);
    Next();
    EXPECT_EQ(Proposal(id).status(), pb::PROPOSAL_EXECUTED) << Proposal(id).result_log();
    return id;
  }
  // Passes `action` by the votes of `voters` (one block) and runs the block it executes in.
  void EnactByAll(const pb::GovAction& action, const std::vector<const KeyPair*>& voters) {
    const uint64_t id = Propose(validator_, action);
    std::vector<std::pair<const KeyPair*, pb::TxBody>> txs;
    for (const KeyPair* k : voters) txs.emplace_back(k, MakeVoteProposal(0, id, pb::GOV_VOTE_YES));
    for (const auto& r : Block(std::move(txs))) EXPECT_EQ(CodeOf(r), Code::kOk) << r.log();
    EXPECT_EQ(Proposal(id).status(), pb::PROPOSAL_PASSED);
    Next();
    EXPECT_EQ(Proposal(id).status(), pb::PROPOSAL_EXECUTED) << Proposal(id).result_log();
  }
  // The tx fails with `code` and `needle` in its log, in a block that changes the state itself
  // (where ExpectRejected's "nothing changed" cannot hold: a new validator set takes over).
  void ExpectRefused(const KeyPair& k, pb::TxBody body, Code code, const std::string& needle) {
    auto r = Run(k, std::move(body));
    EXPECT_EQ(CodeOf(r), code) << r.log();
    EXPECT_NE(r.log().find(needle), std::string::npos) << r.log();
  }
  // An empty block at the next whole second.
  void Next() { Tick((ctx_.time_ms + 999) / 1000); }
  pb::ProposalRecord Proposal(uint64_t id) const {
    auto p = LoadProposal(state_, id);
    EXPECT_TRUE(p.has_value());
    return p.value_or(pb::ProposalRecord());
  }

  KeyPair v1_, v2_, v3_, proposer_, dave_;
};

TEST_F(GovTest, OnlyValidatorsAndProposersSubmitAndOnlyValidatorsVote) {
  ExpectRejected(alice_, MakeSubmitProposal(0, "mine", "", {}), Code::kUnauthorized,
                 "holders of the proposer role may");
  const uint64_t a = Propose(v3_, {});
  const uint64_t b = Propose(proposer_, {});
  EXPECT_EQ(b, a + 1);
  EXPECT_EQ(Proposal(b).proposer(), AddressBytes(AddrOf(proposer_)));
  EXPECT_EQ(Proposal(b).voting_end_ms(), Proposal(b).submit_time_ms() + kPeriodS * 1000);
  ExpectRejected(proposer_, MakeVoteProposal(0, b, pb::GOV_VOTE_YES), Code::kUnauthorized,
                 "only validators vote");
  ExpectRejected(validator_, MakeVoteProposal(0, 99, pb::GOV_VOTE_YES), Code::kNotFound,
                 "no proposal 99");
  ExpectRejected(validator_, MakeVoteProposal(0, b, pb::GOV_VOTE_UNSPECIFIED),
                 Code::kInvalidArgument, "yes, no or abstain");
  CheckInvariants();
}

TEST_F(GovTest, PassesOnlyPastTwoThirdsOfThePowerAndALaterVoteReplacesAnEarlierOne) {
  const uint64_t id = Propose(validator_, {});
  auto tally = [&] { return CountVotes(state_, id); };
  EXPECT_EQ(CodeOf(Vote(validator_, id)), Code::kOk);
  EXPECT_EQ(CodeOf(Vote(v1_, id, pb::GOV_VOTE_NO)), Code::kOk);  // 10 of 40: no veto
  EXPECT_EQ(CodeOf(Vote(v2_, id)), Code::kOk);                   // 20 yes of 40
  EXPECT_EQ(Proposal(id).status(), pb::PROPOSAL_VOTING);
  EXPECT_EQ(tally().yes, 20);
  EXPECT_EQ(tally().no, 10);
  EXPECT_EQ(CodeOf(Vote(v3_, id, pb::GOV_VOTE_ABSTAIN)), Code::kOk);  // 20 of 40 still
  EXPECT_EQ(Proposal(id).status(), pb::PROPOSAL_VOTING);
  EXPECT_EQ(tally().abstain, 10);
  // The same vote again is refused (it would change nothing) and counts once.
  ExpectRejected(validator_, MakeVoteProposal(0, id, pb::GOV_VOTE_YES), Code::kAlreadyExists,
                 "voted yes on proposal");
  EXPECT_EQ(tally().yes, 20);
  auto r = Vote(v1_, id);  // no -> yes: 30 of 40 > 26.67
  EXPECT_EQ(CodeOf(r), Code::kOk) << r.log();
  EXPECT_NE(r.log().find("passed, executes at height"), std::string::npos) << r.log();
  EXPECT_EQ(Proposal(id).status(), pb::PROPOSAL_PASSED);
  EXPECT_EQ(Proposal(id).yes_power(), 30);  // the tally at the close, kept
  EXPECT_EQ(Proposal(id).no_power(), 0);
  EXPECT_EQ(Proposal(id).total_power(), 40);
  // Closed: the block that would hold this vote executes the proposal first.
  auto late = Run(v3_, MakeVoteProposal(0, id, pb::GOV_VOTE_NO));
  EXPECT_EQ(CodeOf(late), Code::kProposalClosed) << late.log();
  EXPECT_NE(late.log().find("is closed (executed)"), std::string::npos) << late.log();
  EXPECT_EQ(Proposal(id).status(), pb::PROPOSAL_EXECUTED);
  EXPECT_EQ(Proposal(id).result_log(), "decision recorded");
  CheckInvariants();
}

// More than 1/3 voting no rejects at once (it could pass only if some of them changed their vote):
// honest validators free the slots spam takes without waiting for the voting period.
TEST_F(GovTest, MoreThanAThirdVotingNoRejectsAtOnce) {
  const uint64_t id = Propose(v3_, GovRoleAction("operator", AddrOf(dave_), false));
  EXPECT_EQ(CodeOf(Vote(v3_, id)), Code::kOk);
  EXPECT_EQ(CodeOf(Vote(validator_, id, pb::GOV_VOTE_NO)), Code::kOk);  // 10 of 40: exactly 1/4
  EXPECT_EQ(Proposal(id).status(), pb::PROPOSAL_VOTING);
  auto r = Vote(v1_, id, pb::GOV_VOTE_NO);  // 20 of 40 > 13.33
  EXPECT_EQ(CodeOf(r), Code::kOk) << r.log();
  EXPECT_NE(r.log().find("rejected (more than 1/3 voted no)"), std::string::npos) << r.log();
  EXPECT_EQ(Proposal(id).status(), pb::PROPOSAL_REJECTED);
  EXPECT_NE(Proposal(id).result_log().find("20 of 40 voting power voted no, more than 1/3"),
            std::string::npos)
      << Proposal(id).result_log();
  ExpectRejected(v2_, MakeVoteProposal(0, id, pb::GOV_VOTE_YES), Code::kProposalClosed, "rejected");
  Tick(ctx_.time_ms / 1000 + kPeriodS);
  EXPECT_FALSE(HasRole(state_, "operator", AddrOf(dave_)));
  GovTally t{.yes = 0, .no = 10, .abstain = 0, .total = 30};
  EXPECT_FALSE(t.Vetoed());  // exactly 1/3
  t.no = 11;
  EXPECT_TRUE(t.Vetoed());
}

// What people read before they vote is what is stored: no control or text-direction characters.
TEST_F(GovTest, TitlesAndDescriptionsHoldNoControlOrDirectionCharacters) {
  ExpectRejected(validator_, MakeSubmitProposal(0, "ok\x1b[2K", "", {}), Code::kInvalidArgument,
                 "proposal title holds a control or text-direction character at byte 2");
  ExpectRejected(validator_, MakeSubmitProposal(0, "ok", "a\tb", {}), Code::kInvalidArgument,
                 "proposal description holds a control");
  ExpectRejected(validator_, MakeSubmitProposal(0, "pay \u202Eevil", "", {}),
                 Code::kInvalidArgument, "text-direction character");
  // Not UTF-8: protobuf's own check of a string field refuses the tx before ours.
  ExpectRejected(validator_, MakeSubmitProposal(0, "\xc3(", "", {}), Code::kMalformed,
                 "not a canonically encoded");
  ExpectRejected(validator_, MakeSubmitProposal(0, "\xc0\xaf", "", {}), Code::kMalformed,
                 "not a canonically encoded");
  const uint64_t id = Propose(validator_, {}, "Zone \u6DF1\u5733 tariff");
  EXPECT_EQ(Proposal(id).title(), "Zone \u6DF1\u5733 tariff");
  auto r = Run(validator_, MakeSubmitProposal(0, "lines", "first\nsecond", {}));
  EXPECT_EQ(CodeOf(r), Code::kOk) << r.log();
  // A long text costs one more fee unit per KiB.
  EXPECT_EQ(TxFeeUnits(MakeSubmitProposal(0, "t", std::string(4000, 'd'), {})), 4);
  EXPECT_EQ(TxFeeUnits(MakeSubmitProposal(0, "t", "", {})), 1);
}

TEST_F(GovTest, ExactlyTwoThirdsIsNotEnoughAndTheEndOfTheVotingPeriodRejects) {
  GovTally t{.yes = 20, .no = 0, .abstain = 0, .total = 30};
  EXPECT_FALSE(t.Passes());  // exactly 2/3
  t.yes = 21;
  EXPECT_TRUE(t.Passes());
  const uint64_t id = Propose(validator_, GovRoleAction("operator", AddrOf(alice_), false));
  EXPECT_EQ(CodeOf(Vote(validator_, id)), Code::kOk);
  EXPECT_EQ(CodeOf(Vote(v1_, id)), Code::kOk);
  const int64_t end_s = (Proposal(id).voting_end_ms() + 999) / 1000;
  Tick(end_s - 1);
  EXPECT_EQ(Proposal(id).status(), pb::PROPOSAL_VOTING);
  Tick(end_s);
  EXPECT_EQ(Proposal(id).status(), pb::PROPOSAL_REJECTED);
  EXPECT_EQ(Proposal(id).yes_power(), 20);
  EXPECT_NE(Proposal(id).result_log().find("more than 2/3 is needed"), std::string::npos);
  ExpectRejected(v2_, MakeVoteProposal(0, id, pb::GOV_VOTE_YES), Code::kProposalClosed, "rejected");
  Tick(end_s + 10);
  EXPECT_FALSE(HasRole(state_, "operator", AddrOf(alice_)));
  CheckInvariants();
}

// For every role: an op that needs it fails in the block the grant passed in and succeeds from the
// next height on; after a revocation it succeeds in the block that passed it and fails from the
// next height on.
TEST_F(GovTest, EveryRoleTakesEffectAtTheExecutionHeightAndNotBefore) {
  ASSERT_EQ(CodeOf(Run(alice_, MakeTransfer(0, AddrOf(dave_), "CNY", 5000))), Code::kOk);
  int meters = 0;
  struct Case {
    std::string role;
    std::function<pb::TxBody()> op;  // signed by dave_
  };
  const std::vector<Case> cases = {
      {"operator",
       [&] {
         const std::string id = "dave-ch-" + std::to_string(meters++);
         return MakeRegisterMeter(0, kChainId, AddrOf(dave_), id,
                                  Key(static_cast<uint8_t>(150 + meters)), pb::METER_KIND_CHARGER,
                                  "GD-SZ", AddrOf(dave_), 7000, 7000, 0);
       }},
      {"aggregator", [] { return MakeCreatePool(0, "dave's pool", 100); }},
      {"proposer", [] { return MakeSubmitProposal(0, "dave's", "", {}); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.role);
    ASSERT_EQ(CodeOf(Run(dave_, c.op())), Code::kUnauthorized);
    const uint64_t grant = Propose(validator_, GovRoleAction(c.role, AddrOf(dave_), false));
    Vote(validator_, grant);
    Vote(v1_, grant);
    // The vote that passes it and dave's op in one block: the role is not his yet.
    auto in_block = Block({{&v2_, MakeVoteProposal(0, grant, pb::GOV_VOTE_YES)}, {&dave_, c.op()}});
    EXPECT_EQ(CodeOf(in_block[0]), Code::kOk) << in_block[0].log();
    EXPECT_EQ(CodeOf(in_block[1]), Code::kUnauthorized) << in_block[1].log();
    EXPECT_EQ(Proposal(grant).status(), pb::PROPOSAL_PASSED);
    auto next = Run(dave_, c.op());  // the execution height
    EXPECT_EQ(CodeOf(next), Code::kOk) << next.log();
    EXPECT_EQ(Proposal(grant).status(), pb::PROPOSAL_EXECUTED);

    const uint64_t revoke = Propose(validator_, GovRoleAction(c.role, AddrOf(dave_), true));
    Vote(validator_, revoke);
    Vote(v1_, revoke);
    in_block = Block({{&v2_, MakeVoteProposal(0, revoke, pb::GOV_VOTE_YES)}, {&dave_, c.op()}});
    EXPECT_EQ(CodeOf(in_block[1]), Code::kOk) << in_block[1].log();
    EXPECT_EQ(CodeOf(Run(dave_, c.op())), Code::kUnauthorized);
    EXPECT_EQ(Proposal(revoke).status(), pb::PROPOSAL_EXECUTED) << Proposal(revoke).result_log();
  }
  // What dave made while he held the roles is no longer his to run: his meters' keys and his
  // pool's sales.
  ExpectRejected(
      dave_, MakeRotateMeterKey(0, kChainId, AddrOf(dave_), "dave-ch-2", AddrOf(dave_), Key(190)),
      Code::kUnauthorized, "its operator role was revoked");
  ExpectRejected(dave_, MakeDeactivateMeter(0, "dave-ch-2"), Code::kUnauthorized,
                 "its operator role was revoked");
  ExpectRejected(dave_, MakePoolSell(0, 1, "GD-SZ", kS, 1000, 50), Code::kUnauthorized,
                 "the aggregator role of " + EncodeAddress(AddrOf(dave_)) + " was revoked");
  // The issuer of a denomination: dave mints PTS from the execution height on.
  ASSERT_EQ(CodeOf(Run(dave_, MakeMint(0, AddrOf(dave_), "PTS", 5))), Code::kUnauthorized);
  const uint64_t issuer = Propose(validator_, GovIssuerAction("PTS", AddrOf(dave_)));
  Vote(validator_, issuer);
  Vote(v1_, issuer);
  auto in_block = Block({{&v2_, MakeVoteProposal(0, issuer, pb::GOV_VOTE_YES)},
                         {&dave_, MakeMint(0, AddrOf(dave_), "PTS", 5)},
                         {&issuer_, MakeMint(0, AddrOf(issuer_), "PTS", 5)}});
  EXPECT_EQ(CodeOf(in_block[1]), Code::kUnauthorized);
  EXPECT_EQ(CodeOf(in_block[2]), Code::kOk);
  in_block = Block({{&dave_, MakeMint(0, AddrOf(dave_), "PTS", 5)},
                    {&issuer_, MakeMint(0, AddrOf(issuer_), "PTS", 5)}});
  EXPECT_EQ(CodeOf(in_block[0]), Code::kOk) << in_block[0].log();
  EXPECT_EQ(CodeOf(in_block[1]), Code::kUnauthorized);
  EXPECT_EQ(BalanceOf(LoadAccount(state_, AddrOf(dave_)), "PTS"), 5);
  Enact(GovIssuerAction("PTS", std::nullopt));  // nobody may mint it now
  EXPECT_EQ(CodeOf(Run(dave_, MakeMint(0, AddrOf(dave_), "PTS", 5))), Code::kUnauthorized);
  CheckInvariants();
}

// grid_company: a moved zone's tariffs are its old owner's to publish in the block that passed
// the move, and its new owner's from the execution height on.
TEST_F(GovTest, AMovedZoneChangesHandsAtTheExecutionHeightAndNotBefore) {
  const std::vector<int64_t> prices(24, 80);
  auto tariff = [&](int day) { return MakeSetTariff(0, "GD-FS", kT0 + day * 86400, prices, 50); };
  const uint64_t id = Propose(validator_, GovZoneAction("GD-FS", AddrOf(grid_)));
  Vote(validator_, id);
  Vote(v1_, id);
  auto in_block = Block({{&v2_, MakeVoteProposal(0, id, pb::GOV_VOTE_YES)},
                         {&grid2_, tariff(1)},
                         {&grid_, tariff(2)}});
  EXPECT_EQ(CodeOf(in_block[0]), Code::kOk) << in_block[0].log();
  EXPECT_EQ(CodeOf(in_block[1]), Code::kOk) << in_block[1].log();
  EXPECT_EQ(CodeOf(in_block[2]), Code::kUnauthorized) << in_block[2].log();
  auto next = Block({{&grid2_, tariff(3)}, {&grid_, tariff(4)}});
  EXPECT_EQ(CodeOf(next[0]), Code::kUnauthorized) << next[0].log();
  EXPECT_EQ(CodeOf(next[1]), Code::kOk) << next[1].log();
  EXPECT_EQ(Proposal(id).status(), pb::PROPOSAL_EXECUTED);
  CheckInvariants();
}

// No governance action moves money: the block each kind executes in writes no account, supply
// or module balance (and conservation and escrow hold after it).
TEST_F(GovTest, NoActionWritesAnAccountOrASupply) {
  ASSERT_EQ(CodeOf(Run(alice_, MakePlaceOrder(0, pb::SIDE_BUY, "GD-SZ", kS, 1000, 100))),
            Code::kOk);
  const std::vector<pb::GovAction> actions = {
      {},
      GovRoleAction("operator", AddrOf(dave_), false),
      GovRoleAction("operator", AddrOf(dave_), true),
      GovIssuerAction("CNY", AddrOf(dave_)),
      GovIssuerAction("CNY", std::nullopt),
      GovZoneAction("GD-NEW", AddrOf(grid2_)),
      GovZoneAction("GD-NEW", AddrOf(grid_)),
      GovParamAction("fee_min", 3),
      GovMarketAction("GD-SZ", true),
      GovMarketAction("GD-SZ", false),
  };
  for (const pb::GovAction& a : actions) {
    SCOPED_TRACE(std::string(GovActionKind(a)));
    const uint64_t id = Propose(validator_, a);
    Pass(id);
    const Overlay::Writes before = state_.writes();
    Next();
    ASSERT_EQ(Proposal(id).status(), pb::PROPOSAL_EXECUTED) << Proposal(id).result_log();
    for (const auto& [k, v] : state_.writes()) {
      auto it = before.find(k);
      if (it != before.end() && it->second == v) continue;
      EXPECT_FALSE(k.starts_with(kAccountPrefix) || k.starts_with(kSupplyPrefix))
          << "the execution wrote " << k;
    }
    CheckInvariants();
  }
}

// grid_company: a zone may only be given to a holder, a holder that owns zones cannot lose the
// role, and after the zones moved it can; set_tariff follows the zone's owner.
TEST_F(GovTest, ZonesAreAddedAndMovedAndTheirOwnersKeepTheGridCompanyRole) {
  ExpectRejected(validator_,
                 MakeSubmitProposal(0, "zone", "", GovZoneAction("GD-DG", AddrOf(dave_))),
                 Code::kInvalidArgument, "does not hold the grid_company role");
  ExpectRejected(
      validator_,
      MakeSubmitProposal(0, "revoke", "", GovRoleAction("grid_company", AddrOf(grid2_), true)),
      Code::kInvalidArgument, "still owns zones GD-FS");
  const std::vector<int64_t> prices(24, 80);
  ExpectRejected(grid_, MakeSetTariff(0, "GD-FS", kT0 + 86400, prices, 50), Code::kUnauthorized,
                 "belongs to");
  Enact(GovZoneAction("GD-FS", AddrOf(grid_)));
  auto tariff = Run(grid_, MakeSetTariff(0, "GD-FS", kT0 + 86400, prices, 50));
  EXPECT_EQ(CodeOf(tariff), Code::kOk) << tariff.log();
  Enact(GovRoleAction("grid_company", AddrOf(grid2_), true));
  EXPECT_FALSE(HasRole(state_, "grid_company", AddrOf(grid2_)));
  ExpectRejected(validator_,
                 MakeSubmitProposal(0, "zone", "", GovZoneAction("GD-DG", AddrOf(grid2_))),
                 Code::kInvalidArgument, "does not hold the grid_company role");
  // A new zone: meters register and orders trade in it from the execution height on.
  ExpectRejected(
      operator_,
      MakeRegisterMeter(0, kChainId, AddrOf(operator_), "ch-dg", Key(160), pb::METER_KIND_CHARGER,
                        "GD-DG", AddrOf(operator_), 7000, 7000, 0),
      Code::kNotFound, "not a zone of this chain");
  Enact(GovZoneAction("GD-DG", AddrOf(grid_)));
  auto reg = Run(operator_, MakeRegisterMeter(0, kChainId, AddrOf(operator_), "ch-dg", Key(160),
                                              pb::METER_KIND_CHARGER, "GD-DG", AddrOf(operator_),
                                              7000, 7000, 0));
  EXPECT_EQ(CodeOf(reg), Code::kOk) << reg.log();
  EXPECT_EQ(LoadZone(state_, "GD-DG")->grid_company(), AddressBytes(AddrOf(grid_)));
  CheckInvariants();
}

TEST_F(GovTest, AProposalThatCannotApplyAtExecutionFailsAndChangesNothing) {
  const uint64_t a = Propose(validator_, GovRoleAction("aggregator", AddrOf(carol_), false));
  const uint64_t b = Propose(v1_, GovRoleAction("aggregator", AddrOf(carol_), false));
  Pass(a);
  Next();
  EXPECT_EQ(Proposal(a).status(), pb::PROPOSAL_EXECUTED);
  EXPECT_TRUE(HasRole(state_, "aggregator", AddrOf(carol_)));
  Pass(b);
  const Overlay::Writes before = state_.writes();
  Next();
  EXPECT_EQ(Proposal(b).status(), pb::PROPOSAL_FAILED);
  EXPECT_NE(Proposal(b).result_log().find("nothing changed: " + EncodeAddress(AddrOf(carol_)) +
                                          " already holds the aggregator role"),
            std::string::npos)
      << Proposal(b).result_log();
  // What changed in that block is the proposal's record and its execution entry, nothing else.
  for (const auto& [k, v] : state_.writes()) {
    auto it = before.find(k);
    if (it != before.end() && it->second == v) continue;
    EXPECT_TRUE(k.starts_with("s/gov/") || k == "s/grid_cursor") << "changed: " << k;
  }
  CheckInvariants();
}

TEST_F(GovTest, ParamsChangeWithinTheirRangeAndOnlyThoseThatAreSafeToChange) {
  ExpectRejected(validator_,
                 MakeSubmitProposal(0, "p", "", GovParamAction("settlement_interval_s", 3600)),
                 Code::kInvalidArgument, "not one governance may change");
  for (const char* fixed :
       {"market_collateral_bps", "market_penalty_bps", "market_denom", "market_grace_s"}) {
    ExpectRejected(validator_, MakeSubmitProposal(0, "p", "", GovParamAction(fixed, 5000)),
                   Code::kInvalidArgument, "not one governance may change");
  }
  ExpectRejected(validator_, MakeSubmitProposal(0, "p", "", GovParamAction("tx_bytes_max", 12)),
                 Code::kInvalidArgument, "params.tx_bytes_max: must be between 512 and");
  ExpectRejected(validator_,
                 MakeSubmitProposal(0, "p", "", GovParamAction("utc_offset_min", int64_t{1} << 40)),
                 Code::kInvalidArgument, "params.utc_offset_min");
  ExpectRejected(validator_, MakeSubmitProposal(0, "p", "", GovParamAction("fee_min", 0)),
                 Code::kAlreadyExists, "params.fee_min is 0 already");
  Enact(GovParamAction("fee_min", 7));
  EXPECT_EQ(LoadParams(state_).fee_min(), 7);
  // From the execution height on, a tx without its fee is refused.
  auto_fee_ = false;
  ExpectRejected(alice_, MakeTransfer(0, AddrOf(bob_), "CNY", 1), Code::kFeeTooLow,
                 "this chain requires");
  auto_fee_ = true;
  Enact(GovParamAction("gov_voting_period_s", 60));
  const uint64_t id = Propose(validator_, {});
  EXPECT_EQ(Proposal(id).voting_end_ms(), Proposal(id).submit_time_ms() + 60'000);
  // Each entry of the table reads and writes the ParamsRecord field of its name.
  const auto* desc = pb::ParamsRecord::descriptor();
  const auto* refl = pb::ParamsRecord::GetReflection();
  for (const GovParam& p : GovParams()) {
    SCOPED_TRACE(std::string(p.name));
    const auto* field = desc->FindFieldByName(std::string(p.name));
    ASSERT_NE(field, nullptr);
    pb::ParamsRecord r = LoadParams(state_);
    p.set(r, p.get(r) + 3);
    const int64_t got = field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_INT32
                            ? refl->GetInt32(r, field)
                            : refl->GetInt64(r, field);
    EXPECT_EQ(got, p.get(LoadParams(state_)) + 3);
  }
  CheckInvariants();
}

// The emergency brake: no new orders or contracts in the zone; a market whose gate closes while
// suspended trades nothing and refunds every order in full; other zones trade on; resumed, it
// trades again.
TEST_F(GovTest, ASuspendedMarketTakesNoOrdersAndClearsNothingAndRefundsEveryOrder) {
  RegisterMeter("ev-sh", 40, AddrOf(bob_), 20000, "CN-SH");
  const int64_t alice0 = Bal(alice_), bob0 = Bal(bob_);
  auto buy = Run(alice_, MakePlaceOrder(0, pb::SIDE_BUY, "GD-SZ", kS, 1000, 100));
  ASSERT_EQ(CodeOf(buy), Code::kOk) << buy.log();
  auto sell = Run(bob_, MakePlaceOrder(0, pb::SIDE_SELL, "GD-SZ", kS, 1000, 90, "ev-b"));
  ASSERT_EQ(CodeOf(sell), Code::kOk) << sell.log();
  ASSERT_EQ(CodeOf(Run(alice_, MakePlaceOrder(0, pb::SIDE_BUY, "CN-SH", kS, 1000, 100))),
            Code::kOk);
  ASSERT_EQ(CodeOf(Run(bob_, MakePlaceOrder(0, pb::SIDE_SELL, "CN-SH", kS, 1000, 90, "ev-sh"))),
            Code::kOk);
  Enact(GovMarketAction("GD-SZ", true));
  EXPECT_TRUE(LoadZone(state_, "GD-SZ")->market_suspended());
  ExpectRejected(alice_, MakePlaceOrder(0, pb::SIDE_BUY, "GD-SZ", kS, 1000, 100),
                 Code::kMarketSuspended,
                 "the market of zone GD-SZ is suspended by governance since height");
  ExpectRejected(alice_, MakeProposeContract(0, AddrOf(bob_), pb::SIDE_BUY, "GD-SZ", kS, 1000, 100),
                 Code::kMarketSuspended, "suspended");
  ExpectRejected(validator_, MakeSubmitProposal(0, "again", "", GovMarketAction("GD-SZ", true)),
                 Code::kAlreadyExists, "is suspended already");
  Tick(kS - kGate);
  const pb::MarketRecord m = Market();
  EXPECT_EQ(m.status(), pb::MARKET_CLEARED);
  EXPECT_TRUE(m.suspended());
  EXPECT_EQ(m.trades(), 0u);
  EXPECT_EQ(Order(buy.created_id()).status(), pb::ORDER_EXPIRED);
  EXPECT_EQ(Order(sell.created_id()).status(), pb::ORDER_EXPIRED);
  const pb::MarketRecord sh = *LoadMarket(state_, "CN-SH", kS);
  EXPECT_FALSE(sh.suspended());
  EXPECT_EQ(sh.cleared_energy_wh(), 1000);
  // Alice paid for CN-SH's 1,000 Wh at the clearing price only; GD-SZ gave everything back.
  EXPECT_EQ(Bal(alice_), alice0 - *EnergyValue(1000, sh.clearing_price()));
  EXPECT_LE(Bal(bob_), bob0);  // his CN-SH collateral is held until settlement
  Enact(GovMarketAction("GD-SZ", false));
  auto again = Run(alice_, MakePlaceOrder(0, pb::SIDE_BUY, "GD-SZ", kS + kLen, 1000, 100));
  EXPECT_EQ(CodeOf(again), Code::kOk) << again.log();
  CheckInvariants();
}

TEST_F(GovTest, OpenProposalsAreBoundedInAllAndPerProposerAndTextsBySize) {
  ExpectRejected(validator_, MakeSubmitProposal(0, "", "", {}), Code::kInvalidArgument,
                 "title must be 1-140 bytes");
  ExpectRejected(validator_, MakeSubmitProposal(0, std::string(141, 't'), "", {}),
                 Code::kInvalidArgument, "title must be 1-140 bytes");
  ExpectRejected(validator_, MakeSubmitProposal(0, "t", std::string(8193, 'd'), {}),
                 Code::kTooLarge, "description is 8193 bytes, limit 8192");
  ExpectRejected(validator_,
                 MakeSubmitProposal(0, "t", "", GovRoleAction("king", AddrOf(dave_), false)),
                 Code::kInvalidArgument,
                 "is not a role (known: operator, grid_company, aggregator, proposer)");
  // Enough proposers to reach the total bound: eight more accounts get the role.
  std::vector<KeyPair> more;
  for (uint8_t n = 0; n < 8; ++n) {
    more.push_back(Key(static_cast<uint8_t>(200 + n)));
    Enact(GovRoleAction("proposer", AddrOf(more.back()), false));
  }
  for (int i = 0; i < limits::kGovOpenProposalsPerProposerMax; ++i) Propose(validator_, {});
  ExpectRejected(validator_, MakeSubmitProposal(0, "t", "", {}), Code::kProposalsFull,
                 "the most one proposer may have");
  int64_t open = 0;
  state_.Scan("s/gov/open/", [&](std::string_view, std::string_view) { return ++open, true; });
  for (const KeyPair* k : {&v1_, &v2_, &v3_, &proposer_}) {
    for (int i = 0;
         i < limits::kGovOpenProposalsPerProposerMax && open < limits::kGovOpenProposalsMax;
         ++i, ++open) {
      Propose(*k, {});
    }
  }
  for (const KeyPair& k : more) {
    for (int i = 0;
         i < limits::kGovOpenProposalsPerProposerMax && open < limits::kGovOpenProposalsMax;
         ++i, ++open) {
      Propose(k, {});
    }
  }
  ASSERT_EQ(open, limits::kGovOpenProposalsMax);
  ExpectRejected(more.back(), MakeSubmitProposal(0, "t", "", {}), Code::kProposalsFull,
                 "64 proposals are open");
  // When their period ends they all close in one block, and the slots are free again.
  Tick((ctx_.time_ms + 999) / 1000 + kPeriodS);
  open = 0;
  state_.Scan("s/gov/open/", [&](std::string_view, std::string_view) { return ++open, true; });
  EXPECT_EQ(open, 0);
  Propose(more.back(), {});
  CheckInvariants();
}

// The addresses of a set, in its order.
std::vector<std::string> Members(const pb::ValidatorSet& set) {
  std::vector<std::string> out;
  for (const auto& v : set.validators()) out.push_back(v.name() + ":" + std::to_string(v.power()));
  return out;
}

TEST_F(GovTest, AValidatorSetChangeTakesEffectTwoHeightsAfterTheBlockItExecutesIn) {
  const KeyPair v4 = Key(80);
  const std::vector<std::string> four = {"val-0:10", "val-1:10", "val-2:10", "val-3:10"};
  const uint64_t text = Propose(validator_, {});
  const uint64_t id =
      Enact(GovAddValidatorAction("val-4", v4.public_key(), Key(81).public_key(), 10));
  const int64_t e = ctx_.height;  // the execution block
  EXPECT_NE(
      Proposal(id).result_log().find("validator val-4 (" + EncodeAddress(AddrOf(v4)) +
                                     ") added with power 10, from height " + std::to_string(e + 2)),
      std::string::npos)
      << Proposal(id).result_log();
  // Known two heights ahead: the set of e+1 (which signs the next block) is unchanged.
  for (int64_t h = 1; h <= e + 1; ++h) EXPECT_EQ(Members(ValidatorsAt(state_, h)), four) << h;
  std::vector<std::string> five = four;
  five.push_back("val-4:10");
  EXPECT_EQ(Members(ValidatorsAt(state_, e + 2)), five);
  EXPECT_EQ(Members(ValidatorsAt(state_, e + 100)), five);
  EXPECT_EQ(Members(LoadValidators(state_)), four);
  // In block e+1 (signed by the four) it is not a validator yet and cannot vote (the block itself
  // changes the state: the set that signs the next one)...
  ExpectRefused(v4, MakeVoteProposal(0, text, pb::GOV_VOTE_YES), Code::kUnauthorized,
                "only validators vote");
  EXPECT_EQ(ctx_.height, e + 1);
  EXPECT_EQ(Members(LoadValidators(state_)), five);  // after block e+1: the set that signs e+2
  // ...and in block e+2 it is.
  ASSERT_EQ(CodeOf(Vote(v4, text)), Code::kOk);
  // The history stays: the set of every earlier height is still known.
  EXPECT_EQ(Members(ValidatorsAt(state_, e + 1)), four);
  EXPECT_EQ(Members(ValidatorsAt(state_, 1)), four);
  // Removed (from five: the floor is four), two heights on; four of five vote now.
  EnactByAll(GovValidatorPowerAction(AddrOf(v1_), 0), {&validator_, &v1_, &v2_, &v3_});
  const int64_t r = ctx_.height;
  EXPECT_EQ(Members(ValidatorsAt(state_, r + 1)), five);
  EXPECT_EQ(Members(ValidatorsAt(state_, r + 2)),
            (std::vector<std::string>{"val-0:10", "val-2:10", "val-3:10", "val-4:10"}));
  // A removed validator votes until its removal takes effect, and not from then on.
  ASSERT_EQ(CodeOf(Vote(v1_, text)), Code::kOk);  // block r+1
  ExpectRejected(v1_, MakeVoteProposal(0, text, pb::GOV_VOTE_NO), Code::kUnauthorized,
                 "only validators vote");
  EXPECT_EQ(ctx_.height, r + 2);
  CheckInvariants();
}

TEST_F(GovTest, AtMostAThirdOfThePowerChangesPerActivationAndTheSetKeepsItsFloor) {
  const PublicKey nk = Key(81).public_key();
  // 4 x 10 = 40: adding 14 would change 14 of 40 (more than a third), refused at submission.
  ExpectRejected(
      validator_,
      MakeSubmitProposal(0, "t", "", GovAddValidatorAction("big", Key(80).public_key(), nk, 14)),
      Code::kInvalidArgument, "this would change 14 of 40 voting power");
  // Removing one of four is refused: governance keeps at least four.
  ExpectRejected(validator_,
                 MakeSubmitProposal(0, "t", "", GovValidatorPowerAction(AddrOf(v3_), 0)),
                 Code::kInvalidArgument, "never takes it below 4");
  // Keys, names and the address rule.
  pb::GovAction wrong = GovAddValidatorAction("x", Key(80).public_key(), nk, 1);
  wrong.mutable_validator()->set_address(AddressBytes(AddrOf(alice_)));
  ExpectRejected(validator_, MakeSubmitProposal(0, "t", "", wrong), Code::kInvalidArgument,
                 "a validator's address must be its consensus key's");
  ExpectRejected(
      validator_,
      MakeSubmitProposal(0, "t", "", GovAddValidatorAction("val-1", Key(80).public_key(), nk, 1)),
      Code::kAlreadyExists, "a validator is named val-1 already");
  ExpectRejected(
      validator_,
      MakeSubmitProposal(0, "t", "",
                         GovAddValidatorAction("y", Key(80).public_key(), Key(5).public_key(), 1)),
      Code::kAlreadyExists, "validator val-0 has that key already");
  ExpectRejected(validator_,
                 MakeSubmitProposal(0, "t", "", GovValidatorPowerAction(AddrOf(v1_), 10)),
                 Code::kAlreadyExists, "has power 10 already");
  ExpectRejected(validator_,
                 MakeSubmitProposal(0, "t", "", GovValidatorPowerAction(AddrOf(alice_), 5)),
                 Code::kInvalidArgument, "adding one needs its name, consensus key and node key");
  pb::GovAction renamed = GovValidatorPowerAction(AddrOf(v1_), 5);
  renamed.mutable_validator()->set_name("other");
  ExpectRejected(validator_, MakeSubmitProposal(0, "t", "", renamed), Code::kInvalidArgument,
                 "names only its address and power");
  // Two additions that pass in one block execute in one block: the second counts the first's
  // change too (20 of 40) and fails, changing nothing.
  const uint64_t a = Propose(validator_, GovAddValidatorAction("a", Key(80).public_key(), nk, 10));
  const uint64_t b = Propose(
      validator_, GovAddValidatorAction("b", Key(82).public_key(), Key(83).public_key(), 10));
  auto votes = Block({{&validator_, MakeVoteProposal(0, a, pb::GOV_VOTE_YES)},
                      {&v1_, MakeVoteProposal(0, a, pb::GOV_VOTE_YES)},
                      {&v2_, MakeVoteProposal(0, a, pb::GOV_VOTE_YES)},
                      {&validator_, MakeVoteProposal(0, b, pb::GOV_VOTE_YES)},
                      {&v1_, MakeVoteProposal(0, b, pb::GOV_VOTE_YES)},
                      {&v2_, MakeVoteProposal(0, b, pb::GOV_VOTE_YES)}});
  for (const auto& r : votes) ASSERT_EQ(CodeOf(r), Code::kOk) << r.log();
  Next();
  EXPECT_EQ(Proposal(a).status(), pb::PROPOSAL_EXECUTED) << Proposal(a).result_log();
  EXPECT_EQ(Proposal(b).status(), pb::PROPOSAL_FAILED);
  EXPECT_NE(Proposal(b).result_log().find("this would change 20 of 40"), std::string::npos)
      << Proposal(b).result_log();
  EXPECT_EQ(ValidatorsAt(state_, ctx_.height + 2).validators_size(), 5);
  // Re-weighting counts the difference: 10 -> 23 changes 13 of the five's 50 (a third is 16).
  Next();
  Next();
  EnactByAll(GovValidatorPowerAction(AddrOf(v1_), 23), {&validator_, &v1_, &v2_, &v3_});
  EXPECT_EQ(ValidatorsAt(state_, ctx_.height + 2).validators(1).power(), 23);
  CheckInvariants();
}

TEST_F(GovTest, AValidatorRotatesItsKeysWithTheOldAndTheNewKeySigningFromTwoHeightsOn) {
  const KeyPair k1 = Key(90), k2 = Key(91), node = Key(92);
  auto rotate = [&](const KeyPair& current, const KeyPair& next,
                    const KeyPair* next_node = nullptr) {
    return MakeRotateValidatorKey(0, SignValidatorKeyRotation(kChainId, current, &next, next_node));
  };
  // Every wrong way is refused and changes nothing.
  ExpectRejected(alice_, rotate(alice_, k2), Code::kUnauthorized,
                 "only a validator rotates its keys");
  ExpectRejected(v1_, rotate(k2, k1), Code::kBadSignature, "current consensus key does not verify");
  ExpectRejected(v1_, rotate(v1_, v1_), Code::kAlreadyExists, "has that consensus key already");
  ExpectRejected(v1_, rotate(v1_, v2_), Code::kAlreadyExists,
                 "validator val-2 has that key already");
  pb::TxBody forged = rotate(v1_, k1);
  forged.mutable_rotate_validator_key()->set_new_consensus_signature(std::string(64, '\x01'));
  ExpectRejected(v1_, forged, Code::kBadSignature,
                 "the new consensus key's signature does not verify");
  pb::TxBody bad_node_sig = rotate(v1_, k1, &node);
  bad_node_sig.mutable_rotate_validator_key()->set_new_node_signature(std::string(64, '\x02'));
  ExpectRejected(v1_, bad_node_sig, Code::kBadSignature,
                 "the new node key's signature does not verify");
  pb::TxBody unsigned_node = rotate(v1_, k1);
  unsigned_node.mutable_rotate_validator_key()->set_new_node_pubkey(std::string(32, '\x03'));
  ExpectRejected(v1_, unsigned_node, Code::kInvalidArgument,
                 "and one by each new key exactly when there is one");
  // Signed by the current consensus key (also the key of val-1's address), and by the new one.
  const uint64_t text = Propose(validator_, {});
  auto r = Run(v1_, rotate(v1_, k1, &node));
  ASSERT_EQ(CodeOf(r), Code::kOk) << r.log();
  const int64_t h = ctx_.height;
  EXPECT_NE(r.log().find("from height " + std::to_string(h + 2)), std::string::npos) << r.log();
  auto record = [&](int64_t at) { return ValidatorsAt(state_, at).validators(1); };
  EXPECT_EQ(record(h + 1).consensus_pubkey(),
            std::string(v1_.public_key().begin(), v1_.public_key().end()));
  EXPECT_EQ(record(h + 2).consensus_pubkey(),
            std::string(k1.public_key().begin(), k1.public_key().end()));
  EXPECT_EQ(record(h + 2).node_pubkey(),
            std::string(node.public_key().begin(), node.public_key().end()));
  EXPECT_EQ(record(h + 2).address(), AddressBytes(AddrOf(v1_)));  // the address never changes
  EXPECT_EQ(record(h + 2).power(), 10);
  // Block h+1 is still signed by the old key: it votes as val-1, the new one does not yet.
  ExpectRefused(k1, MakeVoteProposal(0, text, pb::GOV_VOTE_YES), Code::kUnauthorized,
                "only validators vote");
  ASSERT_EQ(ctx_.height, h + 1);
  // From h+2 the new key votes, as val-1 (its address), and the retired one has no say.
  ExpectRejected(v1_, MakeVoteProposal(0, text, pb::GOV_VOTE_YES), Code::kUnauthorized,
                 "only validators vote");
  ASSERT_EQ(CodeOf(Vote(k1, text)), Code::kOk);
  ASSERT_EQ(LoadProposalVotes(state_, text).size(), 1u);
  EXPECT_EQ(LoadProposalVotes(state_, text)[0].voter(), AddressBytes(AddrOf(v1_)));
  // A retired key cannot come back under another validator (nodes still holding it would sign as
  // that one).
  ExpectRejected(v2_, rotate(v2_, v1_), Code::kAlreadyExists,
                 "validator val-1 has that key already");
  // Once per kValidatorKeyRotationHeightsMin heights; the retired key cannot rotate at all.
  ExpectRejected(v1_, rotate(v1_, k2), Code::kUnauthorized, "only a validator rotates its keys");
  ExpectRejected(k1, rotate(k1, k2), Code::kInvalidArgument,
                 "the next rotation may come from height " +
                     std::to_string(h + limits::kValidatorKeyRotationHeightsMin));
  while (ctx_.height + 1 < h + limits::kValidatorKeyRotationHeightsMin) Next();
  ASSERT_EQ(CodeOf(Run(k1, rotate(k1, k2))), Code::kOk);
  CheckInvariants();
}

TEST_F(GovTest, ANodeKeyRotatesAloneSignedByTheConsensusKeyAndTheNewNodeKey) {
  const KeyPair node = Key(93);
  auto raw = [](const KeyPair& k) {
    return std::string(k.public_key().begin(), k.public_key().end());
  };
  auto rotate_node = [&](const KeyPair& current, const KeyPair& next_node) {
    return MakeRotateValidatorKey(0,
                                  SignValidatorKeyRotation(kChainId, current, nullptr, &next_node));
  };
  // Naming no key, a consensus signature without its key, another validator's node key or the
  // validator's own: refused, nothing changed.
  ExpectRejected(v2_, MakeRotateValidatorKey(0, SignValidatorKeyRotation(kChainId, v2_, nullptr)),
                 Code::kInvalidArgument, "names no new key");
  pb::TxBody stray = rotate_node(v2_, node);
  stray.mutable_rotate_validator_key()->set_new_consensus_signature(std::string(64, '\x04'));
  ExpectRejected(v2_, stray, Code::kInvalidArgument, "exactly when there is one");
  ExpectRejected(v2_, rotate_node(v2_, Key(72)), Code::kAlreadyExists,
                 "validator val-1 has that key already");
  ExpectRejected(v2_, rotate_node(v2_, Key(73)), Code::kAlreadyExists,
                 "val-2 has that node key already");
  pb::TxBody forged = rotate_node(v2_, node);
  forged.mutable_rotate_validator_key()->set_new_node_signature(std::string(64, '\x05'));
  ExpectRejected(v2_, forged, Code::kBadSignature, "the new node key's signature does not verify");
  // A proof over both keys does not pass for the node key alone (their sign-bytes differ).
  pb::TxBody stripped =
      MakeRotateValidatorKey(0, SignValidatorKeyRotation(kChainId, v2_, &dave_, &node));
  stripped.mutable_rotate_validator_key()->clear_new_consensus_pubkey();
  stripped.mutable_rotate_validator_key()->clear_new_consensus_signature();
  ExpectRejected(v2_, stripped, Code::kBadSignature, "current consensus key does not verify");
  // The node key moves from two heights on; the consensus key and the address stay.
  auto r = Run(v2_, rotate_node(v2_, node));
  ASSERT_EQ(CodeOf(r), Code::kOk) << r.log();
  EXPECT_NE(r.log().find("uses node key " + HexEncode(node.public_key())), std::string::npos)
      << r.log();
  EXPECT_EQ(r.log().find("consensus key"), std::string::npos) << r.log();
  const int64_t h = ctx_.height;
  EXPECT_EQ(ValidatorsAt(state_, h + 1).validators(2).node_pubkey(), raw(Key(73)));
  const pb::ValidatorRecord after = ValidatorsAt(state_, h + 2).validators(2);
  EXPECT_EQ(after.node_pubkey(), raw(node));
  EXPECT_EQ(after.consensus_pubkey(), raw(v2_));
  EXPECT_EQ(after.address(), AddressBytes(AddrOf(v2_)));
  // The retired node key names its validator, so a node still dialling it finds the new one.
  EXPECT_EQ(state_.Get(std::string(kRetiredNodeKeyPrefix) + raw(Key(73))),
            AddressBytes(AddrOf(v2_)));
  // It counts as the validator's rotation: the next one waits.
  Next();
  ExpectRejected(v2_, rotate_node(v2_, Key(94)), Code::kInvalidArgument,
                 "the next rotation may come from height");
  // A retired node key is never taken again, by a rotation or by a new validator.
  ExpectRejected(v3_, rotate_node(v3_, Key(73)), Code::kAlreadyExists,
                 "node key " + HexEncode(Key(73).public_key()) + " was retired by a validator");
  ExpectRejected(validator_,
                 MakeSubmitProposal(
                     0, "reuse", "",
                     GovAddValidatorAction("val-9", Key(95).public_key(), Key(73).public_key(), 1)),
                 Code::kAlreadyExists, "was retired by a validator");
  CheckInvariants();
}

TEST_F(GovTest, ASoftwareUpgradeIsPlannedReplacedCancelledAndDoneAtItsHeight) {
  auto submit = [](const pb::GovAction& a) { return MakeSubmitProposal(0, "upgrade", "", a); };
  // Malformed plans are refused at submission, naming what is wrong.
  ExpectRejected(validator_, submit(GovUpgradeAction("bad name", ctx_.height + 50, "0.2.0")),
                 Code::kInvalidArgument, "upgrade name must be");
  for (const char* version :
       {"0.2", "v0.2.0", "01.2.0", "0.2.0-rc1", "0.2.0.0", "1234567890.0.0"}) {
    ExpectRejected(validator_, submit(GovUpgradeAction("u", ctx_.height + 50, version)),
                   Code::kInvalidArgument, "MAJOR.MINOR.PATCH");
  }
  ExpectRejected(validator_, submit(GovUpgradeAction("u", 0, "0.2.0")), Code::kInvalidArgument,
                 "height must be positive");
  pb::GovAction cancel_with_height = GovCancelUpgradeAction("u");
  cancel_with_height.mutable_upgrade()->set_height(5);
  ExpectRejected(validator_, submit(cancel_with_height), Code::kInvalidArgument,
                 "names the plan only");
  // A height not after the block, or too far ahead; cancelling what is not pending.
  ExpectRejected(validator_, submit(GovUpgradeAction("u", ctx_.height + 1, "0.2.0")),
                 Code::kInvalidArgument, "is not after the height it would execute at");
  ExpectRejected(
      validator_,
      submit(GovUpgradeAction("u", ctx_.height + 2 + limits::kUpgradeHeightsAheadMax, "0.2.0")),
      Code::kInvalidArgument, "heights after height");
  ExpectRejected(validator_, submit(GovCancelUpgradeAction("u")), Code::kNotFound,
                 "no upgrade named u is pending");

  // Planned: a node older than the version stops at the plan's height and not before.
  const int64_t h1 = ctx_.height + 100;
  Enact(GovUpgradeAction("v0.2", h1, "0.2.0"));
  ASSERT_TRUE(LoadUpgradePlan(state_).has_value());
  EXPECT_EQ(LoadUpgradePlan(state_)->version(), "0.2.0");
  EXPECT_FALSE(UpgradeHaltReason(state_, h1 - 1, "0.1.0").has_value());
  const auto why = UpgradeHaltReason(state_, h1, "0.1.0");
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("UPGRADE NEEDED: the upgrade v0.2 passed by governance needs version 0.2.0 "
                      "or later from height " +
                      std::to_string(h1) + "; this node runs 0.1.0"),
            std::string::npos)
      << *why;
  EXPECT_TRUE(UpgradeHaltReason(state_, h1 + 5, "0.1.9").has_value());
  EXPECT_FALSE(UpgradeHaltReason(state_, h1, "0.2.0").has_value());
  EXPECT_FALSE(UpgradeHaltReason(state_, h1, "0.10.0").has_value());  // by number, not text
  EXPECT_FALSE(UpgradeHaltReason(state_, h1, "1.0.0").has_value());

  // Replaced by a later plan; a cancel must name the pending one.
  const int64_t h2 = ctx_.height + 100;
  const uint64_t replaced = Enact(GovUpgradeAction("v0.3", h2, "0.3.0"));
  EXPECT_NE(Proposal(replaced).result_log().find("replaces the plan v0.2"), std::string::npos)
      << Proposal(replaced).result_log();
  EXPECT_EQ(LoadUpgradePlan(state_)->name(), "v0.3");
  ExpectRejected(validator_, submit(GovCancelUpgradeAction("v0.2")), Code::kNotFound,
                 "(the pending one is v0.3)");
  Enact(GovCancelUpgradeAction("v0.3"));
  EXPECT_FALSE(LoadUpgradePlan(state_).has_value());
  EXPECT_FALSE(UpgradeHaltReason(state_, h2, "0.1.0").has_value());

  // Planned again and reached: the block at its height records it as done; the name is used up.
  const int64_t h3 = ctx_.height + 10;
  Enact(GovUpgradeAction("v0.3", h3, "0.3.0"));
  while (ctx_.height + 1 < h3) Next();
  EXPECT_TRUE(LoadUpgradePlan(state_).has_value());
  EXPECT_TRUE(LoadDoneUpgrades(state_, 10).empty());
  Next();
  ASSERT_EQ(ctx_.height, h3);
  EXPECT_FALSE(LoadUpgradePlan(state_).has_value());
  const auto done = LoadDoneUpgrades(state_, 10);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].name(), "v0.3");
  EXPECT_EQ(done[0].height(), h3);
  EXPECT_EQ(done[0].version(), "0.3.0");
  // From then on nothing older than its version runs a block (a rolled-back binary stops too),
  // whatever is pending; its version and later ones do.
  const auto after = UpgradeHaltReason(state_, h3 + 1, "0.2.9");
  ASSERT_TRUE(after.has_value());
  EXPECT_NE(after->find("this chain ran the upgrade v0.3 to version 0.3.0 at height " +
                        std::to_string(h3) + "; this node runs 0.2.9"),
            std::string::npos)
      << *after;
  EXPECT_FALSE(UpgradeHaltReason(state_, h3 + 1, "0.3.0").has_value());
  EXPECT_FALSE(UpgradeHaltReason(state_, h3 + 1000, "0.4.1").has_value());
  ASSERT_TRUE(LoadLastUpgrade(state_).has_value());
  EXPECT_EQ(LoadLastUpgrade(state_)->name(), "v0.3");
  ExpectRejected(validator_, submit(GovUpgradeAction("v0.3", ctx_.height + 50, "0.4.0")),
                 Code::kAlreadyExists, "was done at height " + std::to_string(h3));

  // A later plan naming an earlier version lowers nothing.
  const int64_t h4 = ctx_.height + 10;
  Enact(GovUpgradeAction("back", h4, "0.2.0"));
  while (ctx_.height < h4) Next();
  EXPECT_EQ(LoadDoneUpgrades(state_, 10).size(), 2u);
  EXPECT_EQ(LoadLastUpgrade(state_)->name(), "v0.3");
  EXPECT_TRUE(UpgradeHaltReason(state_, h4 + 1, "0.2.5").has_value());

  // A plan whose height passed while it was voted on fails at execution and changes nothing.
  const uint64_t late = Propose(validator_, GovUpgradeAction("late", ctx_.height + 3, "0.4.0"));
  Pass(late);
  Next();
  EXPECT_EQ(Proposal(late).status(), pb::PROPOSAL_FAILED);
  EXPECT_NE(Proposal(late).result_log().find("is not after the height it would execute at"),
            std::string::npos)
      << Proposal(late).result_log();
  EXPECT_FALSE(LoadUpgradePlan(state_).has_value());
  CheckInvariants();
}

TEST_F(GovTest, TheParamsRuleIsTheGenesisRule) {
  // A genesis whose params governance could not set is refused with the same words.
  GenesisParams p = DefaultParams();
  p.gov_voting_period_s = 5;
  const Status st = CheckParamsRecord(ParamsRecordOf(p), [](std::string_view) { return true; });
  EXPECT_EQ(st.message(), "params.gov_voting_period_s: must be between 10 and 2592000, got 5");
  EXPECT_TRUE(CheckParamsRecord(ParamsRecordOf(DefaultParams()), [](std::string_view) {
                return true;
              }).ok());
}

}  // namespace
}  // namespace v2g
