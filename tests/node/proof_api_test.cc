// GET /v1/proof/accounts/{address} (node/api/proof.cc): the account record after a height with a
// Merkle proof that verifies against the app hash in the next block's header, an absent account
// proven absent, the readers of GET /v1/accounts, and heights out of range refused by name.
#include <gtest/gtest.h>

#include <string>

#include "common/bytes.h"
#include "contracts/state.h"
#include "contracts/state_tree.h"
#include "proto/encode.h"
#include "tests/node/api_test_util.h"
#include "wallet/tx_builder.h"

namespace v2g::nodetest {
namespace {

class ProofApiTest : public ManualApiTest {
 protected:
  // Checks `proof` (an answer of the endpoint) as a light client would against the header it
  // names, fetched on its own, and returns the proven record (nullopt when proven absent).
  std::optional<pb::AccountRecord> Verified(const json& proof, const Address& who) {
    const int64_t h = proof["height"].get<int64_t>();
    EXPECT_EQ(proof["header_height"].get<int64_t>(), h + 1);
    HttpReply block = Get("/v1/blocks/" + std::to_string(h + 1));
    EXPECT_EQ(block.status, 200) << block.raw;
    const std::string app_hash = block.body["header"]["app_hash"].get<std::string>();
    EXPECT_EQ(proof["app_hash"].get<std::string>(), app_hash);
    auto root = HexDecode(app_hash);
    auto bytes = HexDecode(proof["proof"].get<std::string>());
    EXPECT_TRUE(root.ok() && bytes.ok());
    auto entries = VerifyStateProof(HashFromString(std::string(root->begin(), root->end())),
                                    std::string(bytes->begin(), bytes->end()),
                                    TreeRange::Key(AccountKey(who)));
    EXPECT_TRUE(entries.ok()) << entries.status().ToString();
    if (!entries.ok() || entries->empty()) return std::nullopt;
    return DecodeRecord<pb::AccountRecord>(entries->front().second);
  }
};

TEST_F(ProofApiTest, ABalanceIsProvenAgainstTheNextHeadersAppHashAtEveryHeightKept) {
  StartNode(nullptr, "proof-test");
  ASSERT_FALSE(HasFatalFailure());
  RunOk(k().alice, MakeTransfer(1, AddrOf(k().bob), "CNY", 2500));  // block 1
  RunOk(k().alice, MakeTransfer(2, AddrOf(k().bob), "CNY", 500));   // block 2
  Tick();                                                           // block 3: header of 2's state
  // The newest provable state is tip - 1: after block 2, bob holds 30.00 CNY.
  HttpReply now = Get("/v1/proof/accounts/" + Addr(k().bob));
  ASSERT_EQ(now.status, 200) << now.raw;
  EXPECT_EQ(now.body["height"], 2);
  auto bob = Verified(now.body, AddrOf(k().bob));
  ASSERT_TRUE(bob.has_value());
  EXPECT_EQ(BalanceOf(*bob, "CNY"), 3000);
  EXPECT_EQ(now.body["account"]["balances"][0]["display"], "30.00") << now.raw;
  // After block 1 he held 25.00; at genesis nothing: his account is proven absent.
  HttpReply one = Get("/v1/proof/accounts/" + Addr(k().bob) + "?height=1");
  ASSERT_EQ(one.status, 200) << one.raw;
  bob = Verified(one.body, AddrOf(k().bob));
  ASSERT_TRUE(bob.has_value());
  EXPECT_EQ(BalanceOf(*bob, "CNY"), 2500);
  HttpReply genesis = Get("/v1/proof/accounts/" + Addr(k().bob) + "?height=0");
  ASSERT_EQ(genesis.status, 200) << genesis.raw;
  EXPECT_TRUE(genesis.body["value"].is_null());
  EXPECT_FALSE(Verified(genesis.body, AddrOf(k().bob)).has_value());
  // Alice's nonce is proven too.
  auto alice = Verified(Get("/v1/proof/accounts/" + Addr(k().alice)).body, AddrOf(k().alice));
  ASSERT_TRUE(alice.has_value());
  EXPECT_EQ(alice->nonce(), 2u);
  // A proof of bob's account does not pass as one of alice's.
  auto root_hex = now.body["app_hash"].get<std::string>();
  auto root = HexDecode(root_hex);
  auto bytes = HexDecode(now.body["proof"].get<std::string>());
  EXPECT_FALSE(VerifyStateProof(HashFromString(std::string(root->begin(), root->end())),
                                std::string(bytes->begin(), bytes->end()),
                                TreeRange::Key(AccountKey(AddrOf(k().alice))))
                   .ok());
  // The tip's own state has no committed header yet; heights are checked by name.
  ExpectError(Get("/v1/proof/accounts/" + Addr(k().bob) + "?height=3"), 400, Code::kInvalidArgument,
              "height");
  ExpectError(Get("/v1/proof/accounts/not-an-address"), 400, Code::kInvalidArgument, "address");
}

TEST_F(ProofApiTest, AProofIsServedToTheReadersOfTheAccountOnly) {
  private_reads_ = true;
  StartNode(nullptr, "proof-private");
  ASSERT_FALSE(HasFatalFailure());
  RunOk(k().alice, MakeTransfer(1, AddrOf(k().bob), "CNY", 100));
  Tick();
  const std::string path = "/v1/proof/accounts/" + Addr(k().bob);
  EXPECT_EQ(Get(path).status, 403);
  EXPECT_EQ(As(k().carol, path).status, 403);
  HttpReply mine = As(k().bob, path);
  ASSERT_EQ(mine.status, 200) << mine.raw;
  auto bob = Verified(mine.body, AddrOf(k().bob));
  ASSERT_TRUE(bob.has_value());
  EXPECT_EQ(BalanceOf(*bob, "CNY"), 100);
}

}  // namespace
}  // namespace v2g::nodetest
