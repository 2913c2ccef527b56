// The load generator (bench/loadgen) against two real validators: a few seconds at a low rate,
// then its JSON must add up and every tx it reports committed must be committed on the chain.
// Not a benchmark: the only numbers checked are counts, never times.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "common/bytes.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "tests/integration/harness.h"
#include "tests/integration/harness_chain.h"

namespace v2g {
namespace {

using json = nlohmann::json;

const std::string kV2gd = V2GD_PATH;
const std::string kLoadgen = V2G_LOADGEN_PATH;
constexpr int kNodes = 2;
constexpr int64_t kRate = 50;
constexpr int64_t kSeconds = 3;

// A run at kRate for kSeconds against kNodes fresh validators, `batch` txs per request: its JSON
// adds up and what it counts committed is on the chain.
void LowRateRunAddsUp(int64_t batch) {
  testing::TempDir dir;
  testing::Testnet net;
  testing::Party issuer = testing::MakeParty("issuer");
  testing::Testnet::Options opts;
  opts.v2gd = kV2gd;
  opts.nodes = kNodes;
  opts.issuer = issuer.text;
  opts.fee_min = limits::kFeeMinDefault;  // the senders pay fees, as on a real chain
  ASSERT_TRUE(net.Start(dir.path() + "/net", opts));

  const std::string seed_file = dir.path() + "/issuer.seed";
  {
    Bytes seed = issuer.key.Seed();
    std::ofstream(seed_file) << HexEncode(seed) << "\n";
    SecureWipe(seed.data(), seed.size());
  }
  std::string apis, pids;
  for (int i = 0; i < kNodes; ++i) {
    apis += (i ? "," : "") + std::string("http://127.0.0.1:") + std::to_string(net.port(i));
    pids += (i ? "," : "") + std::to_string(net.pid(i));
  }
  const std::string out = dir.path() + "/load.json";
  auto run = testing::Run({kLoadgen,
                           "--api",
                           apis,
                           "--pids",
                           pids,
                           "--seed-file",
                           seed_file,
                           "--rates",
                           std::to_string(kRate),
                           "--step-seconds",
                           std::to_string(kSeconds),
                           "--conns-per-node",
                           "2",
                           "--senders",
                           "8",
                           "--drain-seconds",
                           "20",
                           "--verify-ms",
                           "200",
                           "--batch",
                           std::to_string(batch),
                           "--json",
                           out});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  std::printf("%s", run.output.c_str());
  std::ifstream f(out);
  json doc = json::parse(f, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << run.output;
  EXPECT_GT(doc["verify_per_s"].get<double>(), 0);
  EXPECT_GT(doc["bound_tps"].get<double>(), 0);
  EXPECT_EQ(doc["batch"].get<int64_t>(), batch);
  ASSERT_EQ(doc["steps"].size(), 1u);
  const json& s = doc["steps"][0];

  EXPECT_EQ(s["offered"].get<int64_t>(), kRate * kSeconds);
  EXPECT_EQ(s["sent"].get<int64_t>(), s["offered"].get<int64_t>());
  EXPECT_EQ(s["accepted"].get<int64_t>() + s["rejected"].get<int64_t>(), s["sent"].get<int64_t>());
  int64_t by_code = 0;
  for (const auto& [code, n] : s["rejected_by_code"].items()) by_code += n.get<int64_t>();
  EXPECT_EQ(by_code, s["rejected"].get<int64_t>());
  // Nothing refuses 50 transfers a second with the right nonces and fees.
  EXPECT_EQ(s["rejected"].get<int64_t>(), 0) << s["first_refusal"] << "\n" << run.output;
  EXPECT_LE(s["committed"].get<int64_t>(), s["accepted"].get<int64_t>());
  EXPECT_GT(s["committed"].get<int64_t>(), 0);
  // The drain waits for every admitted tx: none is lost.
  EXPECT_EQ(s["lost"].get<int64_t>(), 0) << run.output;
  EXPECT_EQ(s["failed_in_block"].get<int64_t>(), 0);
  EXPECT_GT(s["blocks"].get<int64_t>(), 0);
  EXPECT_EQ(s["cpu_us_per_committed_tx_per_node"].size(), static_cast<size_t>(kNodes));

  // What it reports committed is committed, at the height it says, on the node it did not watch.
  const json& sample = s["committed_sample"];
  ASSERT_GT(sample.size(), 0u);
  for (const auto& t : sample) {
    auto tx = testing::HttpGet(net.port(1), "/v1/txs/" + t["hash"].get<std::string>());
    ASSERT_EQ(tx.status, 200) << t;
    EXPECT_EQ(tx.body["status"], "committed") << t;
    EXPECT_EQ(tx.body["height"].get<int64_t>(), t["height"].get<int64_t>()) << t;
    EXPECT_EQ(tx.body["code"].get<int64_t>(), 0) << tx.body;
  }
  EXPECT_TRUE(net.Stop());
}

TEST(Loadgen, LowRateRunAddsUpAndWhatItCountsCommittedIsOnTheChain) { LowRateRunAddsUp(1); }

// --batch: each connection's slots go 10 to a POST /v1/txs/batch (each sender's txs of a batch
// in nonce order), and every tx is still counted on its own.
TEST(Loadgen, BatchedRunAddsUpTheSame) { LowRateRunAddsUp(10); }

TEST(Loadgen, BadFlagsAreRefusedWithAReason) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{}, "--api"},
      {{"--api", "127.0.0.1:1"}, "http://"},
      {{"--api", "http://127.0.0.1:1", "--rates", "0"}, "--rates"},
      {{"--api", "http://127.0.0.1:1", "--rates", "100000", "--step-seconds", "3600"},
       "--step-seconds"},
      {{"--api", "http://127.0.0.1:1", "--senders", "2", "--conns-per-node", "4"}, "--senders"},
      {{"--api", "http://127.0.0.1:1", "--pids", "1,2"}, "--pids"},
      {{"--api", "http://127.0.0.1:1", "--devnet", "/nonexistent"}, "excludes"},
      {{"--api", "http://127.0.0.1:1", "--batch", "0"}, "--batch"},
      {{"--api", "http://127.0.0.1:1", "--batch", "301"}, "--batch"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv = {kLoadgen};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    auto r = testing::Run(argv);
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find(c.says), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace v2g
