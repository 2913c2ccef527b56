// Catching up on a generated chain (issue 13 item 6; docs/DESIGN.md "Catching up"): v2g_chaingen
// builds kBlocks blocks of signed transfers into four of five validator homes, the four start from
// that height and go on, and the fifth, whose store is empty, syncs from them. It must end with the
// same blocks and app hashes as the others and pass verify-chain. In the second test every
// validator's stored commit of one block is cut below 2/3 of the power (as a store forged or
// damaged on every honest peer would serve it): the syncing node must refuse that block from each
// of them and stay below it. Numbers (blocks/s, tx/s) belong to scripts/catchup; nothing here is
// timed beyond generous bounds on waiting.
#include <gtest/gtest.h>
#include <leveldb/db.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/time.h"
#include "node/store/store.h"
#include "proto/encode.h"
#include "tests/integration/harness.h"

namespace v2g {
namespace {

using testing::HttpGet;
using testing::Process;
using SteadyClock = std::chrono::steady_clock;

const std::string kV2gd = V2GD_PATH;
const std::string kChaingen = V2G_CHAINGEN_PATH;
const std::string kChain = "v2g-catchup-test";
constexpr int kValidators = 5;  // node4 is the one that catches up
constexpr int kGenerators = 4;  // nodes 0-3 hold 40 of 50 power: their commits are > 2/3
constexpr int kLate = 4;
constexpr int64_t kBlocks = 300;
constexpr int64_t kTxsPerBlock = 5;
constexpr int64_t kTamperedHeight = 150;

template <typename F>
bool PollFor(int64_t timeout_ms, F done) {
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  while (SteadyClock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

class CatchUp : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = testing::FreeTestnetBasePort(kValidators);
    // Genesis an hour ago: the generated chain (kBlocks seconds of block time) lies in the past.
    const int64_t genesis_ms = (std::chrono::duration_cast<std::chrono::seconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count() -
                                3600) *
                               1000;
    auto r =
        testing::Run({kV2gd, "testnet", "--open-reads", "--validators", std::to_string(kValidators), "--output",
                      dir_.path(), "--chain-id", kChain, "--base-port", std::to_string(base_),
                      "--block-interval-ms", "200", "--genesis-time", FormatRfc3339Ms(genesis_ms)});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::vector<std::string> argv = {kChaingen,
                                     "--blocks",
                                     std::to_string(kBlocks),
                                     "--txs-per-block",
                                     std::to_string(kTxsPerBlock),
                                     "--senders",
                                     "16",
                                     "--quiet"};
    for (int i = 0; i < kGenerators; ++i) {
      argv.push_back("--home");
      argv.push_back(Home(i));
    }
    r = testing::Run(argv);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ASSERT_NE(r.output.find("chaingen: height " + std::to_string(kBlocks)), std::string::npos)
        << r.output;
  }

  std::string Home(int i) const { return dir_.path() + "/node" + std::to_string(i); }
  std::string Log(int i) const { return testing::ReadFileOrEmpty(Home(i) + ".log"); }
  int Port(int i) const { return base_ + 10 * i; }
  void Start(int i) {
    nodes_[i] = std::make_unique<Process>(
        std::vector<std::string>{kV2gd, "start", "--home", Home(i)}, Home(i) + ".log");
  }
  int64_t Height(int i) {
    auto r = HttpGet(Port(i), "/v1/status");
    return r.status == 200 ? r.body["latest_height"].get<int64_t>() : -1;
  }
  void StartGenerators() {
    for (int i = 0; i < kGenerators; ++i) Start(i);
    for (int i = 0; i < kGenerators; ++i) {
      ASSERT_TRUE(testing::WaitHealthy(Port(i), 20000)) << Log(i);
      // They start where the generator left them, and go on from there (their signer states
      // and the stored last commit let them sign height kBlocks + 1).
      ASSERT_GE(Height(i), kBlocks) << Log(i);
    }
    ASSERT_TRUE(PollFor(30000, [&] { return Height(0) >= kBlocks + 3; }))
        << "no block after the generated chain\n"
        << Log(0);
  }
  void StopAll() {
    for (auto& n : nodes_) {
      if (!n) continue;
      n->Signal(SIGTERM);
      EXPECT_EQ(n->Wait(20000), 0);
    }
  }

  testing::TempDir dir_;
  int base_ = 0;
  std::unique_ptr<Process> nodes_[kValidators];
};

TEST_F(CatchUp, AnEmptyNodeSyncsTheGeneratedChainAndAgreesOnEveryBlock) {
  ASSERT_NO_FATAL_FAILURE(StartGenerators());
  Start(kLate);
  ASSERT_TRUE(testing::WaitHealthy(Port(kLate), 20000)) << Log(kLate);
  const int64_t target = Height(0);
  ASSERT_TRUE(PollFor(60000, [&] { return Height(kLate) >= target; }))
      << "the late node is at " << Height(kLate) << " of " << target << "\n"
      << Log(kLate);
  // It keeps following once it is there (block sync hands over to consensus).
  const int64_t reached = Height(kLate);
  ASSERT_TRUE(PollFor(30000, [&] { return Height(kLate) >= reached + 3; })) << Log(kLate);
  StopAll();

  // Same blocks, commits' targets and app hashes as a validator, height by height.
  auto late = Store::Open(Home(kLate) + "/data/chain.db");
  ASSERT_TRUE(late.ok()) << late.status().ToString();
  auto val = Store::Open(Home(0) + "/data/chain.db");
  ASSERT_TRUE(val.ok()) << val.status().ToString();
  const int64_t common = std::min((*late)->Height(), (*val)->Height());
  ASSERT_GE(common, kBlocks + 3);
  int64_t txs = 0;
  for (int64_t h = 1; h <= common; ++h) {
    auto a = (*late)->LoadBlock(h);
    auto b = (*val)->LoadBlock(h);
    ASSERT_TRUE(a && b) << "height " << h;
    ASSERT_EQ(Encode(*a), Encode(*b)) << "height " << h;
    ASSERT_EQ((*late)->LoadResults(h)->app_hash(), (*val)->LoadResults(h)->app_hash())
        << "height " << h;
    if (h <= kBlocks) txs += a->txs_size();
  }
  // The generated blocks are full of real txs: the senders' funding, then kTxsPerBlock each.
  EXPECT_GE(txs, (kBlocks - 1) * kTxsPerBlock);
  late->reset();
  val->reset();
  auto r = testing::Run({kV2gd, "verify-chain", "--home", Home(kLate)});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = testing::Run({kV2gd, "verify-chain", "--home", Home(0)});
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

// Every validator's stored commit of kTamperedHeight keeps only two of its four signatures (20 of
// 50 power). The validators are past it and never read it again; the syncing node is served it
// by each of them and must refuse it every time.
TEST_F(CatchUp, ACommitWithTooFewSignaturesIsRefused) {
  for (int i = 0; i < kGenerators; ++i) {
    leveldb::DB* raw = nullptr;
    leveldb::Options opts;
    ASSERT_TRUE(leveldb::DB::Open(opts, Home(i) + "/data/chain.db", &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    const std::string key = Store::HeightKey('c', kTamperedHeight);
    std::string value;
    ASSERT_TRUE(db->Get(leveldb::ReadOptions(), key, &value).ok());
    pb::Commit commit;
    ASSERT_TRUE(commit.ParseFromString(value));
    ASSERT_EQ(commit.signatures_size(), kGenerators);
    commit.mutable_signatures()->DeleteSubrange(2, kGenerators - 2);
    leveldb::WriteOptions wo;
    wo.sync = true;
    ASSERT_TRUE(db->Put(wo, key, Encode(commit)).ok());
  }
  ASSERT_NO_FATAL_FAILURE(StartGenerators());
  Start(kLate);
  ASSERT_TRUE(testing::WaitHealthy(Port(kLate), 20000)) << Log(kLate);
  // Everything below the damaged commit is fine and synced.
  ASSERT_TRUE(PollFor(60000, [&] { return Height(kLate) >= kTamperedHeight - 1; })) << Log(kLate);
  // Each of the four is asked for the block once and refused (each ask is answered at once; a
  // refused peer is not asked again for kSyncPeerPenaltyMsMin, 4 s).
  const std::string refusal = "commit has 20 of 50 voting power, needs more than 2/3";
  auto refusals = [&] {
    const std::string log = Log(kLate);
    int n = 0;
    for (size_t at = log.find(refusal); at != std::string::npos; at = log.find(refusal, at + 1))
      ++n;
    return n;
  };
  ASSERT_TRUE(PollFor(30000, [&] { return refusals() >= kGenerators; })) << Log(kLate);
  EXPECT_EQ(Height(kLate), kTamperedHeight - 1) << Log(kLate);
  EXPECT_GT(Height(0), kBlocks);
  StopAll();
}

}  // namespace
}  // namespace v2g
