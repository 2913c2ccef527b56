// Validator set changes on real processes (issue 14): four validators of a six-node testnet (the
// genesis names only node0-3) add node4 by a governance proposal (its node syncs and signs from
// the activation height), remove node0 (its node is no longer let in and its signatures no longer
// count), and node2 rotates its consensus key with `v2gd keys rotate` (its node moves to the new
// key at the activation height, the signer's record carried over); blocks commit throughout, the
// nodes agree on every header and app hash, and node5, a full node with an empty store, syncs the
// whole history across the three changes and passes verify-chain.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include "common/bech32.h"
#include "common/bytes.h"
#include "common/version.h"
#include "tests/integration/harness_chain.h"
#include "wallet/tx_builder.h"

namespace v2g {
namespace {

using json = nlohmann::json;
using testing::HttpGet;
using testing::Process;

const std::string kV2gd = V2GD_PATH;
const std::string kChain = "v2g-valset-test";
constexpr int kNodes = 6;  // node0-3 in genesis, node4 added, node5 a full node
constexpr int kAdded = 4;
constexpr int kFresh = 5;

json ReadJson(const std::string& path) {
  return json::parse(testing::ReadFileOrEmpty(path), nullptr, false);
}

KeyPair SeedKey(const std::string& key_file) {
  const json j = ReadJson(key_file);
  auto seed = HexDecode(j.value("seed", std::string()));
  V2G_ASSERT(seed.ok() && seed->size() == kSeedBytes);
  return KeyPair::FromSeed(ByteView(seed->data(), seed->size()));
}

class ValidatorSetChanges : public ::testing::Test {
 protected:
  void SetUp() override {
    InitCrypto();
    base_ = testing::FreeTestnetBasePort(kNodes);
    auto r = testing::Run({kV2gd, "testnet", "--open-reads", "--validators", std::to_string(kNodes),
                           "--output", dir_.path(), "--chain-id", kChain, "--base-port",
                           std::to_string(base_), "--block-interval-ms", "300", "--fee-min", "0"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    // One genesis of four validators for all six homes.
    json genesis = ReadJson(Home(0) + "/genesis.json");
    ASSERT_FALSE(genesis.is_discarded());
    genesis["validators"].erase(5);
    genesis["validators"].erase(4);
    for (int i = 0; i < kNodes; ++i)
      std::ofstream(Home(i) + "/genesis.json") << genesis.dump(2) << "\n";
    // The full node is let in by configuration (a full node is not on chain); node4 only by
    // the chain, once the proposal adding it executes.
    const std::string fresh_id =
        ReadJson(Home(kFresh) + "/keys/node_key.json").value("public_key", "");
    for (int i = 0; i < kNodes; ++i) {
      std::string config = testing::ReadFileOrEmpty(Home(i) + "/config.toml");
      const size_t at = config.find("allowed = []");
      ASSERT_NE(at, std::string::npos);
      if (i < kAdded) config.replace(at, 12, "allowed = [\"" + fresh_id + "\"]");
      std::ofstream(Home(i) + "/config.toml") << config;
    }
    for (int i = 0; i < kNodes; ++i) {
      keys_.push_back(SeedKey(Home(i) + "/keys/validator_key.json"));
      node_ids_.push_back(ReadJson(Home(i) + "/keys/node_key.json").value("public_key", ""));
    }
    for (int i = 0; i < kAdded; ++i) Start(i);
    for (int i = 0; i < kAdded; ++i) ASSERT_TRUE(testing::WaitHealthy(Port(i), 20000)) << Log(i);
    auto c = ApiClient::Create("http://127.0.0.1:" + std::to_string(Port(1)));
    ASSERT_TRUE(c.ok());
    client_ = std::make_unique<ApiClient>(std::move(c).value());
  }

  int Port(int i) const { return base_ + 10 * i; }
  std::string Home(int i) const { return dir_.path() + "/node" + std::to_string(i); }
  std::string Log(int i) const { return testing::ReadFileOrEmpty(Home(i) + ".log"); }
  std::string AddressOf(int i) const {
    return EncodeAddress(AddressFromPublicKey(keys_[i].public_key()));
  }
  void Start(int i) {
    nodes_[i] = std::make_unique<Process>(
        std::vector<std::string>{kV2gd, "start", "--home", Home(i)}, Home(i) + ".log");
  }
  int64_t Height(int i) {
    auto r = HttpGet(Port(i), "/v1/status");
    return r.status == 200 ? r.body["latest_height"].get<int64_t>() : -1;
  }
  bool WaitHeight(int i, int64_t h, int timeout_s = 60) {
    return testing::PollUntil(testing::NowS() + timeout_s, [&] { return Height(i) >= h; });
  }
  // The addresses whose precommits are in the stored commit of `h` (on node 1).
  std::set<std::string> Signers(int64_t h) {
    std::set<std::string> out;
    auto r = HttpGet(Port(1), "/v1/blocks/" + std::to_string(h) + "/commit");
    if (r.status != 200) return out;
    for (const auto& s : r.body["signatures"])
      out.insert(s["validator_address"].get<std::string>());
    return out;
  }
  std::vector<std::string> SetAt(int64_t h) {
    std::vector<std::string> out;
    auto r = HttpGet(Port(1), "/v1/validators?height=" + std::to_string(h));
    EXPECT_EQ(r.status, 200) << r.body.dump();
    for (const auto& v : r.body["validators"]) out.push_back(v["name"].get<std::string>());
    return out;
  }
  // A proposal submitted by `proposer` and voted yes by `voters` until it passes; returns the
  // height it executed at.
  int64_t Enact(int proposer, const pb::GovAction& action, const std::vector<int>& voters) {
    SubmitResult submitted;
    EXPECT_TRUE(testing::Commit(*client_, keys_[proposer],
                                MakeSubmitProposal(0, "change the set", "", action), &submitted));
    const uint64_t id = submitted.created_id;
    EXPECT_GT(id, 0u) << submitted.raw.dump();
    for (int v : voters) {
      EXPECT_TRUE(testing::Commit(*client_, keys_[v], MakeVoteProposal(0, id, pb::GOV_VOTE_YES)));
    }
    int64_t executed = 0;
    EXPECT_TRUE(testing::PollUntil(testing::NowS() + 30, [&] {
      auto p = HttpGet(Port(1), "/v1/proposals/" + std::to_string(id));
      if (p.status != 200 || p.body.value("status", "") != "executed") return false;
      executed = p.body["execute_height"].get<int64_t>();
      return true;
    })) << HttpGet(Port(1), "/v1/proposals/" + std::to_string(id)).body.dump();
    return executed;
  }
  // Waits up to 90 s for a commit at a height from `from` on that `address` signed; 0 if none came.
  // (A commit holds the first two thirds of precommits node 1 saw, so one validator's may be
  // missing from any one of them: the search goes on over every height committed meanwhile.)
  int64_t FirstSignedFrom(const std::string& address, int64_t from) {
    int64_t found = 0;
    int64_t next = from;
    testing::PollUntil(testing::NowS() + 90, [&] {
      for (const int64_t tip = Height(1); next <= tip; ++next) {
        if (Signers(next).count(address)) {
          found = next;
          return true;
        }
      }
      return false;
    });
    return found;
  }

  testing::TempDir dir_;
  int base_ = 0;
  std::vector<KeyPair> keys_;
  std::vector<std::string> node_ids_;
  std::unique_ptr<Process> nodes_[kNodes];
  std::unique_ptr<ApiClient> client_;
};

TEST_F(ValidatorSetChanges, AddRemoveAndRotateWhileBlocksCommitAndAFreshNodeSyncsThemAll) {
  ASSERT_TRUE(WaitHeight(1, 3)) << Log(1);
  const std::vector<std::string> genesis_set = {"node0", "node1", "node2", "node3"};

  // 1. node4 joins: its node starts now and syncs; the others let it in once the proposal
  // executed, and it signs from two heights after that.
  Start(kAdded);
  const PublicKey node4_key = [&] {
    auto raw = HexDecode(node_ids_[kAdded]);
    PublicKey k{};
    std::copy(raw->begin(), raw->end(), k.begin());
    return k;
  }();
  const int64_t added = Enact(
      0, GovAddValidatorAction("node4", keys_[kAdded].public_key(), node4_key, 10), {0, 1, 2});
  ASSERT_GT(added, 0);
  EXPECT_EQ(SetAt(added + 1), genesis_set);
  EXPECT_EQ(SetAt(added + 2),
            (std::vector<std::string>{"node0", "node1", "node2", "node3", "node4"}));
  for (int64_t h = 1; h < added + 2; ++h) EXPECT_FALSE(Signers(h).count(AddressOf(kAdded))) << h;
  const int64_t node4_signed = FirstSignedFrom(AddressOf(kAdded), added + 2);
  ASSERT_GT(node4_signed, 0) << "node4 never signed a commit\n" << Log(kAdded);

  // 2. node0 leaves: four of five vote (node4 among them). From its activation height its
  // signatures no longer count and the others drop its connections.
  const int64_t removed =
      Enact(1, GovValidatorPowerAction(AddressFromPublicKey(keys_[0].public_key()), 0),
            {1, 2, 3, kAdded});
  ASSERT_GT(removed, 0);
  EXPECT_EQ(SetAt(removed + 2), (std::vector<std::string>{"node1", "node2", "node3", "node4"}));
  ASSERT_TRUE(WaitHeight(1, removed + 8)) << Log(1);
  for (int64_t h = removed + 2; h <= removed + 8; ++h)
    EXPECT_FALSE(Signers(h).count(AddressOf(0))) << h;
  for (int i : {1, 2, 3, kAdded}) {
    EXPECT_TRUE(testing::PollUntil(testing::NowS() + 20,
                                   [&] {
                                     auto peers = HttpGet(Port(i), "/v1/net_info");
                                     if (peers.status != 200) return false;
                                     for (const auto& p : peers.body["peers"]) {
                                       if (p["node_id"] == node_ids_[0]) return false;
                                     }
                                     return true;
                                   }))
        << "node " << i << " still connected to the removed node0";
  }
  EXPECT_TRUE(testing::PollUntil(testing::NowS() + 20, [&] {
    return Log(1).find("node " + node_ids_[0] + " is not in the allowed set") !=
               std::string::npos ||
           Log(1).find("node " + node_ids_[0] + " is no longer allowed") != std::string::npos;
  }));

  // 3. node2 rotates its consensus key and its node key while it runs: `v2gd keys rotate --key
  // all` writes the next keys and prints the rotation the current and new keys signed; node2's
  // account (its first key) submits it.
  auto rotated = testing::Run({kV2gd, "keys", "rotate", "--key", "all", "--home", Home(2)});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.output;
  // stdout has the JSON; stderr, in the same capture, one line without braces.
  const size_t open = rotated.output.find('{'), close = rotated.output.rfind('}');
  ASSERT_TRUE(open != std::string::npos && close != std::string::npos && close > open)
      << rotated.output;
  const json rotation = json::parse(rotated.output.substr(open, close - open + 1), nullptr, false);
  ASSERT_FALSE(rotation.is_discarded()) << rotated.output;
  pb::RotateValidatorKey r;
  for (const auto& [field, set] :
       std::vector<std::pair<std::string, std::function<void(std::string)>>>{
           {"new_consensus_pubkey", [&](std::string v) { r.set_new_consensus_pubkey(v); }},
           {"old_consensus_signature", [&](std::string v) { r.set_old_consensus_signature(v); }},
           {"new_consensus_signature", [&](std::string v) { r.set_new_consensus_signature(v); }},
           {"new_node_pubkey", [&](std::string v) { r.set_new_node_pubkey(v); }},
           {"new_node_signature", [&](std::string v) { r.set_new_node_signature(v); }}}) {
    auto raw = HexDecode(rotation.value(field, std::string()));
    ASSERT_TRUE(raw.ok()) << field;
    set(std::string(raw->begin(), raw->end()));
  }
  SubmitResult rot;
  ASSERT_TRUE(testing::Commit(*client_, keys_[2], MakeRotateValidatorKey(0, r), &rot));
  const int64_t rotates_at = rot.height + 2;
  auto record_of_node2 = [&](int64_t h) {
    auto v = HttpGet(Port(1), "/v1/validators?height=" + std::to_string(h));
    for (const auto& x : v.body["validators"]) {
      if (x["name"] == "node2") return x;
    }
    return json();
  };
  EXPECT_EQ(record_of_node2(rotates_at - 1)["consensus_pubkey"], HexEncode(keys_[2].public_key()));
  EXPECT_EQ(record_of_node2(rotates_at)["consensus_pubkey"], rotation["new_consensus_pubkey"]);
  EXPECT_EQ(record_of_node2(rotates_at)["address"], AddressOf(2));  // its address stays
  // Its precommits in commits from then on verified against the new key (a commit is stored
  // only after every signature in it verified against the set of its height).
  const int64_t node2_signed = FirstSignedFrom(AddressOf(2), rotates_at);
  ASSERT_GT(node2_signed, 0) << "node2 never signed with its new key\n" << Log(2);
  EXPECT_TRUE(testing::PollUntil(testing::NowS() + 10, [&] {
    return ReadJson(Home(2) + "/keys/validator_key.json").value("public_key", "") ==
           rotation["new_consensus_pubkey"].get<std::string>();
  })) << "node2 did not move to its new key file";
  EXPECT_FALSE(testing::ReadFileOrEmpty(Home(2) + "/keys/validator_key.next.json").size() > 0);
  // Its P2P identity moved too: it answers as the new node key, the others let it in under that
  // key (and dial it by it: the chain told them it rotated) and no longer know the old one.
  const std::string new_node_id = rotation["new_node_pubkey"].get<std::string>();
  EXPECT_EQ(record_of_node2(rotates_at - 1)["node_id"], node_ids_[2]);
  EXPECT_EQ(record_of_node2(rotates_at)["node_id"], new_node_id);
  EXPECT_TRUE(testing::PollUntil(testing::NowS() + 20, [&] {
    return HttpGet(Port(2), "/v1/net_info").body.value("node_id", "") == new_node_id &&
           ReadJson(Home(2) + "/keys/node_key.json").value("public_key", "") == new_node_id;
  })) << Log(2);
  EXPECT_FALSE(testing::ReadFileOrEmpty(Home(2) + "/keys/node_key.next.json").size() > 0);
  for (int i : {1, 3, kAdded}) {
    EXPECT_TRUE(testing::PollUntil(testing::NowS() + 30,
                                   [&] {
                                     auto peers = HttpGet(Port(i), "/v1/net_info");
                                     bool new_in = false, old_in = false;
                                     for (const auto& p : peers.body["peers"]) {
                                       new_in |= p["node_id"] == new_node_id;
                                       old_in |= p["node_id"] == node_ids_[2];
                                     }
                                     return new_in && !old_in;
                                   }))
        << "node " << i << " is not connected to node2's new node key\n"
        << HttpGet(Port(i), "/v1/net_info").body.dump() << "\n"
        << Log(i);
  }

  // node1 restarts after the rotation with node2's old id still in its config.toml: the chain
  // says whose key that was (s/gov/nodekey/), so it dials node2 by its new key.
  const size_t log_before = Log(1).size();
  nodes_[1]->Signal(SIGTERM);
  ASSERT_EQ(nodes_[1]->Wait(20000), 0) << Log(1);
  Start(1);
  ASSERT_TRUE(testing::WaitHealthy(Port(1), 20000)) << Log(1);
  const std::string redial =
      "configured peer " + node_ids_[2] + " rotated its node key: dialling " + new_node_id;
  EXPECT_TRUE(testing::PollUntil(testing::NowS() + 20, [&] {
    const std::string log = Log(1);
    return log.find(redial, log.size() >= log_before ? log_before : 0) != std::string::npos;
  })) << Log(1);

  // Blocks kept committing, and the four validators agree on every header and app hash.
  const int64_t tip = Height(1) + 3;
  for (int i : {1, 2, 3, kAdded}) ASSERT_TRUE(WaitHeight(i, tip)) << Log(i);
  auto header = [&](int node, int64_t h) {
    auto b = HttpGet(Port(node), "/v1/blocks/" + std::to_string(h));
    return b.body["block_id"].get<std::string>() + "/" +
           b.body["app_hash_after"].get<std::string>();
  };
  for (int64_t h = 1; h <= tip; ++h) {
    for (int i : {2, 3, kAdded})
      ASSERT_EQ(header(i, h), header(1, h)) << "node " << i << " height " << h;
  }

  // 4. A full node with an empty store syncs all of it, each commit against the set of its height.
  Start(kFresh);
  ASSERT_TRUE(testing::WaitHealthy(Port(kFresh), 20000)) << Log(kFresh);
  ASSERT_TRUE(WaitHeight(kFresh, tip, 90)) << Log(kFresh);
  for (int64_t h = 1; h <= tip; ++h) ASSERT_EQ(header(kFresh, h), header(1, h)) << "height " << h;

  for (auto& n : nodes_) {
    if (!n) continue;
    n->Signal(SIGTERM);
    EXPECT_EQ(n->Wait(20000), 0);
  }
  for (int i : {1, kFresh}) {
    auto v = testing::Run({kV2gd, "verify-chain", "--home", Home(i)});
    EXPECT_EQ(v.exit_code, 0) << v.output;
  }
}

// A software upgrade on real processes: the four validators stop before the upgrade's height
// (their version is too old), a restart on the old version stops there again, and a restart of
// three of them on the new version (more than two thirds of the power) goes on from that height;
// the fourth catches up once it runs the new version too. Every node agrees on every block.
TEST_F(ValidatorSetChanges, ASoftwareUpgradeStopsOldVersionsAtItsHeightAndTheNewVersionGoesOn) {
  ASSERT_TRUE(WaitHeight(1, 3)) << Log(1);
  auto upgrade = HttpGet(Port(1), "/v1/upgrade");
  ASSERT_EQ(upgrade.status, 200);
  const std::string old_version = upgrade.body["version"].get<std::string>();
  EXPECT_TRUE(upgrade.body["plan"].is_null());
  const int64_t at = Height(1) + 40;
  const int64_t executed = Enact(0, GovUpgradeAction("next", at, "99.0.0"), {0, 1, 2});
  ASSERT_GT(executed, 0);
  ASSERT_LT(executed, at);
  upgrade = HttpGet(Port(1), "/v1/upgrade");
  EXPECT_EQ(upgrade.body["plan"]["name"], "next");
  EXPECT_EQ(upgrade.body["plan"]["height"], at);
  EXPECT_EQ(upgrade.body["plan"]["version"], "99.0.0");

  // Every validator stops at at - 1 and says why.
  for (int i = 0; i < kAdded; ++i) {
    EXPECT_TRUE(testing::PollUntil(testing::NowS() + 60, [&] {
      return !HttpGet(Port(i), "/v1/status").body.value("halted", json()).is_null();
    })) << Log(i);
    EXPECT_EQ(Height(i), at - 1) << i;
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  for (int i = 0; i < kAdded; ++i) {
    EXPECT_EQ(Height(i), at - 1) << i;
    const std::string why = HttpGet(Port(i), "/v1/upgrade").body.value("halted", "");
    EXPECT_NE(why.find("needs version 99.0.0 or later from height " + std::to_string(at) +
                       "; this node runs " + old_version),
              std::string::npos)
        << why;
    EXPECT_NE(Log(i).find("UPGRADE NEEDED"), std::string::npos) << i;
  }
  auto stop = [&](int i) {
    nodes_[i]->Signal(SIGTERM);
    EXPECT_EQ(nodes_[i]->Wait(20000), 0) << Log(i);
  };
  // A restart on the old version stops at the same place.
  stop(3);
  Start(3);
  ASSERT_TRUE(testing::WaitHealthy(Port(3), 20000)) << Log(3);
  EXPECT_TRUE(testing::PollUntil(testing::NowS() + 20, [&] {
    return !HttpGet(Port(3), "/v1/status").body.value("halted", json()).is_null();
  }));
  EXPECT_EQ(Height(3), at - 1);
  // Three of four on the new version carry on past the height; the plan is done.
  auto start_new = [&](int i) {
    nodes_[i] = std::make_unique<Process>(
        std::vector<std::string>{"/usr/bin/env", std::string(kSoftwareVersionEnv) + "=99.0.0",
                                 kV2gd, "start", "--home", Home(i)},
        Home(i) + ".log");
  };
  for (int i : {0, 1, 2}) {
    stop(i);
    start_new(i);
  }
  ASSERT_TRUE(WaitHeight(1, at + 3, 60)) << Log(1);
  upgrade = HttpGet(Port(1), "/v1/upgrade");
  EXPECT_EQ(upgrade.body["version"], "99.0.0");
  EXPECT_TRUE(upgrade.body["plan"].is_null());
  ASSERT_EQ(upgrade.body["done"].size(), 1u) << upgrade.body.dump();
  EXPECT_EQ(upgrade.body["done"][0]["name"], "next");
  EXPECT_EQ(upgrade.body["done"][0]["height"], at);
  EXPECT_TRUE(upgrade.body["halted"].is_null());
  EXPECT_EQ(Height(3), at - 1);  // the old version never runs block `at`
  // The fourth, upgraded, catches up; all agree.
  stop(3);
  start_new(3);
  const int64_t tip = Height(1);
  ASSERT_TRUE(WaitHeight(3, tip, 60)) << Log(3);
  for (int64_t h = 1; h <= tip; ++h) {
    const auto want = HttpGet(Port(1), "/v1/blocks/" + std::to_string(h)).body["block_id"];
    for (int i : {0, 2, 3})
      ASSERT_EQ(HttpGet(Port(i), "/v1/blocks/" + std::to_string(h)).body["block_id"], want)
          << "node " << i << " height " << h;
  }
  // A rollback: node2 restarted on the old version runs no block after the upgrade either, while
  // the other three (30 of 40) go on.
  stop(2);
  Start(2);
  ASSERT_TRUE(testing::WaitHealthy(Port(2), 20000)) << Log(2);
  std::string rolled_back;
  EXPECT_TRUE(testing::PollUntil(testing::NowS() + 20, [&] {
    const json h = HttpGet(Port(2), "/v1/status").body.value("halted", json());
    rolled_back = h.is_string() ? h.get<std::string>() : "";
    return !rolled_back.empty();
  })) << Log(2);
  EXPECT_NE(rolled_back.find("this chain ran the upgrade next to version 99.0.0 at height " +
                             std::to_string(at)),
            std::string::npos)
      << rolled_back;
  const int64_t node2_height = Height(2);
  ASSERT_TRUE(WaitHeight(1, Height(1) + 3)) << Log(1);
  EXPECT_EQ(Height(2), node2_height);
  for (int i = 0; i < kAdded; ++i) stop(i);
}

}  // namespace
}  // namespace v2g
