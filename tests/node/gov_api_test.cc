// The governance API over a ManualNode (one validator, power 10: its vote alone passes): a
// proposal through POST /v1/txs, its op and created id, GET /v1/proposals and /v1/proposals/{id}
// through voting, passing and execution, GET /v1/roles with paging, GET /v1/zones with a
// suspended market, and bad parameters.
#include <gtest/gtest.h>

#include <string>

#include "common/version.h"
#include "tests/node/api_test_util.h"
#include "wallet/tx_builder.h"

namespace v2g::nodetest {
namespace {

class GovApiTest : public ManualApiTest {};

TEST_F(GovApiTest, AProposalFromSubmissionToExecutionAndTheRolesItChanged) {
  StartNode(nullptr, "gov-test");
  ASSERT_FALSE(HasFatalFailure());
  json submitted = RunOk(k().validator,
                         MakeSubmitProposal(0, "Carol aggregates", "the <b>why</b>",
                                            GovRoleAction("aggregator", AddrOf(k().carol), false)));
  EXPECT_EQ(submitted["op"]["type"], "submit_proposal") << submitted.dump();
  EXPECT_EQ(submitted["op"]["action"]["kind"], "role");
  EXPECT_EQ(submitted["op"]["action"]["address"], Addr(k().carol));
  ASSERT_EQ(submitted.value("created_id", 0), 1) << submitted.dump();

  HttpReply list = Get("/v1/proposals");
  ASSERT_EQ(list.status, 200) << list.raw;
  ASSERT_EQ(list.body["proposals"].size(), 1u);
  const json& p = list.body["proposals"][0];
  EXPECT_EQ(p["status"], "voting");
  EXPECT_EQ(p["title"], "Carol aggregates");
  EXPECT_EQ(p["description"], "the <b>why</b>");  // JSON carries it as given; pages escape it
  EXPECT_EQ(p["proposer"], Addr(k().validator));
  EXPECT_EQ(p["tally"]["total"], 10);  // counted as it answers: no votes yet, of the set's 10
  EXPECT_EQ(p["tally"]["yes"], 0);
  EXPECT_TRUE(p["execute_height"].is_null());
  EXPECT_TRUE(list.body["next_before"].is_null());

  json voted = RunOk(k().validator, MakeVoteProposal(0, 1, pb::GOV_VOTE_YES));
  EXPECT_EQ(voted["op"]["type"], "vote_proposal");
  EXPECT_EQ(voted["op"]["option"], "yes");
  const int64_t passed_at = voted["height"].get<int64_t>();
  HttpReply one = Get("/v1/proposals/1");
  ASSERT_EQ(one.status, 200) << one.raw;
  EXPECT_EQ(one.body["status"], "passed");
  EXPECT_EQ(one.body["execute_height"], passed_at + 1);
  EXPECT_EQ(one.body["tally"]["yes"], 10);
  EXPECT_EQ(one.body["tally"]["total"], 10);
  ASSERT_EQ(one.body["votes"].size(), 1u);
  EXPECT_EQ(one.body["votes"][0]["validator"], "val0");
  EXPECT_EQ(one.body["votes"][0]["option"], "yes");
  EXPECT_EQ(one.body["votes"][0]["power"], 10);
  EXPECT_EQ(Get("/v1/roles?role=aggregator").body["roles"].size(), 0u);

  Tick();
  one = Get("/v1/proposals/1");
  EXPECT_EQ(one.body["status"], "executed");
  EXPECT_EQ(one.body["result"], "aggregator role granted to " + Addr(k().carol));
  HttpReply roles = Get("/v1/roles?role=aggregator");
  ASSERT_EQ(roles.status, 200) << roles.raw;
  ASSERT_EQ(roles.body["roles"].size(), 1u);
  EXPECT_EQ(roles.body["roles"][0]["address"], Addr(k().carol));

  // All roles, one per page: operator and grid_company (the issuer's) and carol's, in key order,
  // each page's next_after leading to the next.
  std::vector<std::string> seen;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    HttpReply r = Get("/v1/roles?limit=1" + (after.empty() ? "" : "&after=" + after));
    ASSERT_EQ(r.status, 200) << r.raw;
    for (const json& e : r.body["roles"])
      seen.push_back(e["role"].get<std::string>() + " " + e["address"].get<std::string>());
    if (r.body["next_after"].is_null()) break;
    after = r.body["next_after"].get<std::string>();
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"aggregator " + Addr(k().carol),
                                            "grid_company " + Addr(k().issuer),
                                            "operator " + Addr(k().issuer)}));
}

TEST_F(GovApiTest, ASuspendedZoneSaysSoAndBadParametersAreRefusedByName) {
  StartNode(nullptr, "gov-test");
  ASSERT_FALSE(HasFatalFailure());
  RunOk(k().validator, MakeSubmitProposal(0, "Brake Z2", "", GovMarketAction("Z2", true)));
  const int64_t voted_at =
      RunOk(k().validator, MakeVoteProposal(0, 1, pb::GOV_VOTE_YES))["height"].get<int64_t>();
  Tick();
  HttpReply zones = Get("/v1/zones");
  ASSERT_EQ(zones.status, 200) << zones.raw;
  ASSERT_EQ(zones.body["zones"].size(), 2u);
  EXPECT_EQ(zones.body["zones"][0]["name"], "Z1");
  EXPECT_EQ(zones.body["zones"][0]["market_suspended"], false);
  EXPECT_TRUE(zones.body["zones"][0]["suspended_height"].is_null());
  EXPECT_EQ(zones.body["zones"][1]["market_suspended"], true);
  EXPECT_EQ(zones.body["zones"][1]["suspended_height"], voted_at + 1);

  ExpectError(Get("/v1/proposals/2"), 404, Code::kNotFound, "no proposal 2");
  ExpectError(Get("/v1/proposals/x"), 400, Code::kInvalidArgument, "id");
  ExpectError(Get("/v1/proposals?limit=0"), 400, Code::kInvalidArgument, "limit");
  ExpectError(Get("/v1/roles?role=king"), 400, Code::kInvalidArgument, "'king' is not a role");
  ExpectError(Get("/v1/roles?after=operator"), 400, Code::kInvalidArgument, "after");
  ExpectError(Get("/v1/roles?role=operator&after=aggregator/" + Addr(k().carol)), 400,
              Code::kInvalidArgument, "of the role asked for");
  // A vote by an account that is no validator is refused at admission, with its reason.
  pb::TxBody vote =
      MakeVoteProposal(Nonce(node_->store().state(), k().alice) + 1, 1, pb::GOV_VOTE_NO);
  ExpectError(HttpPost(*cli_, "/v1/txs", TxBody(SignTx(k().alice, kChainId, std::move(vote)))), 400,
              Code::kUnauthorized, "only validators vote on proposals");
}

TEST_F(GovApiTest, AnUpgradePlanIsShownUntilItsHeightAndThenAmongTheDone) {
  StartNode(nullptr, "gov-test");
  ASSERT_FALSE(HasFatalFailure());
  HttpReply u = Get("/v1/upgrade");
  ASSERT_EQ(u.status, 200) << u.raw;
  EXPECT_TRUE(u.body["plan"].is_null());
  EXPECT_EQ(u.body["done"].size(), 0u);
  EXPECT_TRUE(u.body["halted"].is_null());
  EXPECT_EQ(u.body["version"], std::string(kSoftwareVersion));
  const int64_t at = Get("/v1/status").body["latest_height"].get<int64_t>() + 8;
  json submitted = RunOk(k().validator, MakeSubmitProposal(0, "Release 0.2", "",
                                                           GovUpgradeAction("v0.2", at, "0.2.0")));
  EXPECT_EQ(submitted["op"]["action"], json({{"kind", "upgrade"},
                                             {"name", "v0.2"},
                                             {"cancel", false},
                                             {"height", at},
                                             {"version", "0.2.0"}}));
  RunOk(k().validator, MakeVoteProposal(0, 1, pb::GOV_VOTE_YES));
  Tick();
  u = Get("/v1/upgrade");
  EXPECT_EQ(u.body["plan"], json({{"name", "v0.2"}, {"height", at}, {"version", "0.2.0"}}));
  // A cancel names the plan only: its height and version render as null.
  json cancel =
      RunOk(k().validator, MakeSubmitProposal(0, "Not yet", "", GovCancelUpgradeAction("v0.2")));
  EXPECT_EQ(cancel["op"]["action"]["cancel"], true);
  EXPECT_TRUE(cancel["op"]["action"]["height"].is_null());
  // This node has no consensus engine to halt (a ManualNode): the blocks go on, and the block at
  // the plan's height records it as done.
  while (Get("/v1/status").body["latest_height"].get<int64_t>() < at) Tick();
  u = Get("/v1/upgrade");
  EXPECT_TRUE(u.body["plan"].is_null());
  EXPECT_EQ(u.body["done"],
            json::array({json({{"name", "v0.2"}, {"height", at}, {"version", "0.2.0"}})}));
}

}  // namespace
}  // namespace v2g::nodetest
