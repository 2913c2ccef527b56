// The light client on four real validators (issue 17): `v2g verify balance` checks an account's
// balance against a node from a checkpoint taken from another node, and fails, saying why, against
// a node whose API lies (V2GD_TEST_LIE, node/api/api.h) about the value, the proof or the header.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/integration/harness_chain.h"
#include "wallet/tx_builder.h"

namespace v2g {
namespace {

using json = nlohmann::json;
using testing::MakeParty;
using testing::Party;

const std::string kV2gd = V2GD_PATH;
const std::string kV2g = V2G_PATH;
constexpr int kLiar = 3;

TEST(LightClientOnFourValidators, VerifyChecksABalanceAndNamesEachLie) {
  testing::TempDir dir;
  Party issuer = MakeParty("issuer");
  Party owner = MakeParty("owner");
  testing::Testnet net;
  testing::Testnet::Options opts;
  opts.v2gd = kV2gd;
  opts.issuer = issuer.text;
  ASSERT_TRUE(net.Start(dir.path(), opts));
  ApiClient& api = net.client(0);
  SubmitResult minted;
  ASSERT_TRUE(testing::Commit(api, issuer.key, MakeMint(0, owner.address, "CNY", 12'345), &minted));
  // The state after the mint's block is proven by the next header: wait until every node has it.
  for (int i = 0; i < net.size(); ++i) {
    ASSERT_TRUE(testing::PollUntil(testing::NowS() + 30, [&] {
      auto st = net.client(i).GetStatus();
      return st.ok() && st->latest_height > minted.height + 1;
    }));
  }
  const std::string home = dir.path() + "/wallet";
  auto v2g = [&](int node, std::vector<std::string> args) {
    std::vector<std::string> argv = {
        kV2g, "--node", "http://127.0.0.1:" + std::to_string(net.port(node)), "--home", home};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::Run(argv);
  };
  // The checkpoint comes from node 1, not from the node the client then asks.
  auto block1 = testing::HttpGet(net.port(1), "/v1/blocks/1");
  ASSERT_EQ(block1.status, 200);
  const std::string id1 = block1.body["block_id"].get<std::string>();
  std::string wrong = id1;
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  auto refused = v2g(0, {"verify", "trust", "1", wrong});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("another chain"), std::string::npos) << refused.output;
  auto trusted = v2g(0, {"verify", "trust", "1", id1});
  ASSERT_EQ(trusted.exit_code, 0) << trusted.output;

  auto ok = v2g(0, {"verify", "balance", owner.text});
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("verified at height"), std::string::npos) << ok.output;
  EXPECT_NE(ok.output.find("123.45 CNY"), std::string::npos) << ok.output;
  auto as_json = v2g(0, {"--output", "json", "verify", "balance", owner.text});
  ASSERT_EQ(as_json.exit_code, 0) << as_json.output;
  const json j = json::parse(as_json.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << as_json.output;
  EXPECT_EQ(j["verified"], true);
  EXPECT_EQ(j["balances"][0]["amount"], "12345");
  EXPECT_EQ(j["balances"][0]["denom"], "CNY");
  EXPECT_EQ(j["balances"][0]["display"], "123.45");
  // At the mint's own height minus one the account did not exist yet: proven absent.
  auto before =
      v2g(1, {"verify", "balance", owner.text, "--height", std::to_string(minted.height - 1)});
  ASSERT_EQ(before.exit_code, 0) << before.output;
  EXPECT_NE(before.output.find("proven absent"), std::string::npos) << before.output;

  // Node 3 lies, one way at a time; the client says what failed, and the honest node still
  // verifies.
  const std::vector<std::pair<std::string, std::string>> lies = {
      {"value", "root differs from the app hash"},
      {"proof", "root differs from the app hash"},
      {"header", "its commit: commit is for another block"},
  };
  for (const auto& [mode, reason] : lies) {
    ASSERT_TRUE(net.Restart(kLiar, {"V2GD_TEST_LIE=" + mode}));
    ASSERT_TRUE(testing::PollUntil(testing::NowS() + 30, [&] {
      auto st = net.client(kLiar).GetStatus();
      return st.ok() && st->latest_height > minted.height + 1;
    }));
    auto lied = v2g(kLiar, {"verify", "balance", owner.text});
    EXPECT_NE(lied.exit_code, 0) << mode << ": " << lied.output;
    EXPECT_NE(lied.output.find("verification failed"), std::string::npos)
        << mode << ": " << lied.output;
    EXPECT_NE(lied.output.find(reason), std::string::npos) << mode << ": " << lied.output;
    EXPECT_EQ(v2g(0, {"verify", "balance", owner.text}).exit_code, 0) << mode;
  }
  // A lying API changes no stored record: node 3, honest again, and every node verify their chain.
  ASSERT_TRUE(net.Restart(kLiar, {}));
  ASSERT_TRUE(net.Stop());
  for (int i = 0; i < net.size(); ++i) EXPECT_TRUE(net.VerifyChain(i));
}

}  // namespace
}  // namespace v2g
