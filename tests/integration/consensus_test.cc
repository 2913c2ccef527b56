// Four real v2gd validators on loopback: a tx sent to any node commits on all; after kill -9 of one
// validator the others keep committing; restarted, it catches up by block sync and votes again;
// with 2 of 4 killed the chain halts without forking and resumes when they return; block ids and
// app hashes are identical on every node at every height; verify-chain passes on every node.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "common/bech32.h"
#include "tests/integration/harness.h"
#include "wallet/tx_builder.h"

namespace v2g {
namespace {

using json = nlohmann::json;
using testing::HttpGet;
using testing::HttpPost;
using testing::Process;

const std::string kV2gd = V2GD_PATH;
const std::string kChain = "v2g-bft-test";
constexpr int kNodes = 4;

class FourValidators : public ::testing::Test {
 protected:
  void SetUp() override {
    InitCrypto();
    base_ = testing::FreeTestnetBasePort(kNodes);
    auto r = testing::Run({kV2gd, "testnet", "--open-reads", "--validators", std::to_string(kNodes), "--output", dir_.path(),
                           "--chain-id", kChain, "--issuer", EncodeAddress(Addr(issuer_)), "--base-port",
                           std::to_string(base_), "--block-interval-ms", "200", "--fee-min", "0"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    for (int i = 0; i < kNodes; ++i) Start(i);
    for (int i = 0; i < kNodes; ++i) ASSERT_TRUE(testing::WaitHealthy(Port(i), 20000)) << Log(i);
  }

  static Address Addr(const KeyPair& k) { return AddressFromPublicKey(k.public_key()); }
  int Port(int i) const { return base_ + 10 * i; }
  std::string Home(int i) const { return dir_.path() + "/node" + std::to_string(i); }
  std::string Log(int i) const { return testing::ReadFileOrEmpty(Home(i) + ".log"); }
  void Start(int i) {
    nodes_[i] = std::make_unique<Process>(std::vector<std::string>{kV2gd, "start", "--home", Home(i)}, Home(i) + ".log");
  }
  void Kill(int i) {
    nodes_[i]->Signal(SIGKILL);
    ASSERT_EQ(nodes_[i]->Wait(10000), 128 + SIGKILL);
  }
  int64_t Height(int i) {
    auto r = HttpGet(Port(i), "/v1/status");
    return r.status == 200 ? r.body["latest_height"].get<int64_t>() : -1;
  }
  // Waits until node i's height reaches `h`; false on timeout.
  bool WaitHeight(int i, int64_t h, int timeout_ms = 30000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Height(i) >= h) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  std::string ValidatorAddress(int i) {
    auto r = HttpGet(Port(i), "/v1/status");
    return r.body["validator_address"];
  }

  testing::TempDir dir_;
  int base_ = 0;
  KeyPair issuer_ = KeyPair::Generate();
  std::unique_ptr<Process> nodes_[kNodes];
};

TEST_F(FourValidators, CommitEverywhereSurviveCrashesHaltWithoutForkAndResume) {
  // 1. A tx sent to any node commits on all of them.
  KeyPair alice = KeyPair::Generate();
  uint64_t nonce = 1;
  auto post = [&](int node, const std::string& tx) {
    return HttpPost(Port(node), "/v1/txs?wait=commit&timeout_ms=20000", {{"tx", HexEncode(tx)}});
  };
  std::vector<std::string> hashes;
  for (int i = 0; i < kNodes; ++i) {
    auto r = post(i, SignTx(issuer_, kChain, MakeMint(nonce++, Addr(alice), "CNY", 1000 + i)));
    ASSERT_EQ(r.status, 200) << r.body.dump();
    ASSERT_EQ(r.body["status"], "committed") << r.body.dump();
    ASSERT_EQ(r.body["code"], 0) << r.body.dump();
    hashes.push_back(r.body["hash"]);
  }
  for (const auto& h : hashes) {
    for (int i = 0; i < kNodes; ++i) {
      bool found = false;
      for (int tries = 0; tries < 200 && !found; ++tries) {
        auto q = HttpGet(Port(i), "/v1/txs/" + h);
        found = q.status == 200 && q.body["status"] == "committed";
        if (!found) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      EXPECT_TRUE(found) << "tx " << h << " not committed on node " << i;
    }
  }

  // 2. kill -9 one validator: the other three keep committing.
  Kill(3);
  int64_t h = Height(0);
  ASSERT_TRUE(WaitHeight(0, h + 5)) << "3 of 4 validators stopped committing\n" << Log(0);
  auto r = post(1, SignTx(issuer_, kChain, MakeMint(nonce++, Addr(alice), "CNY", 7)));
  EXPECT_EQ(r.body["status"], "committed") << r.body.dump();

  // 3. Restarted, it catches up by block sync and votes again.
  int64_t others = Height(0);
  Start(3);
  ASSERT_TRUE(testing::WaitHealthy(Port(3), 20000)) << Log(3);
  ASSERT_TRUE(WaitHeight(3, others + 2)) << Log(3);
  const std::string addr3 = ValidatorAddress(3);
  bool voted = false;
  for (int tries = 0; tries < 400 && !voted; ++tries) {
    int64_t tip = Height(0);
    auto c = HttpGet(Port(0), "/v1/blocks/" + std::to_string(tip) + "/commit");
    if (c.status == 200) {
      for (const auto& sig : c.body["signatures"]) voted |= sig["validator_address"] == addr3;
    }
    if (!voted) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(voted) << "the restarted validator never signed a commit again\n" << Log(3);

  // 4. With 2 of 4 killed the chain halts (no 2/3 quorum) and does not fork.
  Kill(1);
  Kill(2);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let an in-flight height finish
  int64_t halted0 = Height(0), halted3 = Height(3);
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  EXPECT_LE(Height(0), halted0 + 1) << "committed without a quorum";
  EXPECT_LE(Height(3), halted3 + 1) << "committed without a quorum";

  // 5. They come back: it resumes.
  Start(1);
  Start(2);
  int64_t resume_from = std::max(Height(0), Height(3));
  for (int i = 0; i < kNodes; ++i) ASSERT_TRUE(WaitHeight(i, resume_from + 3)) << "node " << i << " did not resume\n" << Log(i);

  // 6. Identical block ids and app hashes on every node at every height.
  int64_t common = INT64_MAX;
  for (int i = 0; i < kNodes; ++i) common = std::min(common, Height(i));
  ASSERT_GT(common, 10);
  for (int64_t height = 1; height <= common; ++height) {
    json first;
    for (int i = 0; i < kNodes; ++i) {
      auto b = HttpGet(Port(i), "/v1/blocks/" + std::to_string(height));
      ASSERT_EQ(b.status, 200) << "node " << i << " height " << height;
      json key = {b.body["block_id"], b.body["app_hash_after"]};
      if (i == 0) {
        first = key;
      } else {
        ASSERT_EQ(key, first) << "node " << i << " differs at height " << height;
      }
    }
  }

  // 7. Clean stop, then every node's chain verifies from genesis.
  for (int i = 0; i < kNodes; ++i) nodes_[i]->Signal(SIGTERM);
  for (int i = 0; i < kNodes; ++i) ASSERT_EQ(nodes_[i]->Wait(20000), 0) << Log(i);
  for (int i = 0; i < kNodes; ++i) {
    auto v = testing::Run({kV2gd, "verify-chain", "--home", Home(i)});
    EXPECT_EQ(v.exit_code, 0) << v.output;
  }
}

TEST_F(FourValidators, ApiShowsValidatorsPeersAndConsensusState) {
  // Every node queried below must have committed block 1 itself: one node at height 2 says nothing
  // of the others (CI once asked node 2 for block 1's commit a moment before it had it: a 404).
  for (int i = 0; i < kNodes; ++i) ASSERT_TRUE(WaitHeight(i, 2)) << "node " << i;
  auto v = HttpGet(Port(0), "/v1/validators");
  ASSERT_EQ(v.status, 200);
  EXPECT_EQ(v.body["validators"].size(), static_cast<size_t>(kNodes));
  EXPECT_EQ(v.body["total_power"], 40);
  bool all_peers = false;
  for (int tries = 0; tries < 200 && !all_peers; ++tries) {
    auto n = HttpGet(Port(0), "/v1/net_info");
    all_peers = n.status == 200 && n.body["n_peers"] == kNodes - 1;
    if (!all_peers) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(all_peers);
  auto cs = HttpGet(Port(1), "/v1/consensus_state");
  ASSERT_EQ(cs.status, 200);
  EXPECT_GE(cs.body["height"].get<int64_t>(), 2);
  auto commit = HttpGet(Port(2), "/v1/blocks/1/commit");
  ASSERT_EQ(commit.status, 200);
  EXPECT_GE(commit.body["signatures"].size(), 3u);  // more than 2/3 of 4 equal validators
  auto ev = HttpGet(Port(3), "/v1/evidence");
  ASSERT_EQ(ev.status, 200);
  EXPECT_TRUE(ev.body["committed"].empty());  // honest validators never equivocate
}

}  // namespace
}  // namespace v2g
