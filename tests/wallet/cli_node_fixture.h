// Shared by the CLI tests that run the built v2g binary against a real node in the test process
// (market_cli_test.cc, grid_cli_test.cc): Store, Chain, Mempool, a single-validator BftEngine and
// the HTTP API on 127.0.0.1 port 0, with a genesis that enables the market (the caller's genesis
// hook may add more). The wallet holds the genesis keys; bob has CNY and a car in zone Z1.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "node/api/api.h"
#include "node/bft/bft.h"
#include "tests/node/node_test_util.h"
#include "tests/wallet/test_util.h"
#include "wallet/keystore.h"
#include "wallet/market.h"
#include "wallet/tx_builder.h"

namespace v2g::nodetest {

inline constexpr char kPassphrase[] = "open sesame";
inline constexpr char kMeter[] = "ev-bob";

// The market parameters EnableMarket (tests/node/node_test_util.h) sets, as the wallet sees them.
inline MarketParams Params() { return test::CnyMarketParams(); }

class CliNodeTest : public ::testing::Test {
 protected:
  using json = nlohmann::json;

  // `genesis` customizes the test genesis (at least EnableMarket); `moniker` names the API node.
  CliNodeTest(std::function<void(GenesisState&)> genesis, std::string moniker)
      : genesis_(std::move(genesis)), moniker_(std::move(moniker)) {}

  void SetUp() override {
    node_ = std::make_unique<ManualNode>(MempoolLimits{1000, 16 << 20, 100}, genesis_);
    ASSERT_FALSE(HasFatalFailure());
    BftConfig bc;
    bc.chain_id = kChainId;
    bc.my_address = AddressBytes(AddrOf(k().validator));
    bc.block_interval_ms = 20;
    bc.create_empty_blocks = false;  // blocks only for txs: the latest block time stays put
    bc.wal_path = node_->wal_path();
    engine_ = std::make_unique<BftEngine>(bc, node_->chain(), node_->store(), node_->mempool(),
                                          &node_->signer(), clock_, net_);
    ASSERT_TRUE(engine_->Start().ok());
    ApiContext ctx;
    ctx.store = &node_->store();
    ctx.chain = &node_->chain();
    ctx.mempool = &node_->mempool();
    ctx.engine = engine_.get();
    ctx.chain_id = kChainId;
    ctx.moniker = moniker_;
    ctx.threads = 4;
    api_ = std::make_unique<ApiServer>(ctx);
    ASSERT_TRUE(api_->Start("127.0.0.1", 0).ok());
    // The wallet holds the genesis keys (fast KDF: the CLI reads the limits from each file).
    Keystore ks(home(), KdfLimits::Min());
    for (auto [name, seed] : {std::pair<const char*, uint8_t>{"alice", 10},
                              {"bob", 11},
                              {"issuer", 3},
                              {"carol", 12}}) {
      ASSERT_TRUE(ks.Import(name, HexEncode(Bytes(kSeedBytes, seed)), kPassphrase).ok());
    }
    // Bob gets CNY for collateral and a car in zone Z1 (the issuer is the operator).
    ASSERT_EQ(Run({"send", "bob", "100", "CNY", "--from", "alice"}).exit_code, 0);
    test::CliResult reg =
        Run({"meter", "register", kMeter, "--device", HexEncode(Key(30).public_key()), "--device-signature",
             HexEncode(SignMeterKeyProof(Key(30), kChainId, kMeter, AddressFromPublicKey(Key(11).public_key()),
                                         AddressFromPublicKey(Key(3).public_key()))),
             "--kind", "vehicle", "--zone", "Z1", "--owner", "bob", "--max-import-w", "20000",
             "--max-export-w", "20000", "--capacity-wh", "60000", "--from", "issuer"});
    ASSERT_EQ(reg.exit_code, 0) << reg.err;
  }
  void TearDown() override {
    if (api_) api_->Stop();
    if (engine_) engine_->Stop();
    api_.reset();
    engine_.reset();
    node_.reset();
  }

  const TestKeys& k() const { return node_->keys(); }
  std::string home() const { return tmp_.path() + "/home"; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(api_->port()); }
  test::CliResult Run(const std::vector<std::string>& args) {
    return test::RunProgram(V2G_CLI_PATH, args,
                            {"HOME=" + tmp_.path(), "V2G_HOME=" + home(), "V2G_NODE=" + url(),
                             std::string("V2G_PASSPHRASE=") + kPassphrase},
                            tmp_.path());
  }
  json RunJson(const std::vector<std::string>& args) {
    std::vector<std::string> a{"--output", "json"};
    a.insert(a.end(), args.begin(), args.end());
    test::CliResult r = Run(a);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }
  // The interval `next` means now (blocks come only with txs, so the latest block stays put).
  int64_t Next() const { return NextIntervalStart(Params(), node_->chain().Tip().time_ms); }
  void ExpectError(const std::vector<std::string>& args, const std::string& message) {
    test::CliResult r = Run(args);
    EXPECT_EQ(r.exit_code, 1) << ::testing::PrintToString(args) << r.out;
    EXPECT_TRUE(Contains(r.err, message)) << ::testing::PrintToString(args);
  }

  std::function<void(GenesisState&)> genesis_;
  std::string moniker_;
  TempDir tmp_;
  SystemClock clock_;
  std::unique_ptr<ManualNode> node_;
  // A single validator needs no peers: its network goes nowhere.
  struct NoNetwork : ConsensusNetwork {
    void Broadcast(uint8_t, std::string) override {}
    bool Send(const PublicKey&, uint8_t, std::string) override { return false; }
  } net_;
  std::unique_ptr<BftEngine> engine_;
  std::unique_ptr<ApiServer> api_;
};

}  // namespace v2g::nodetest
