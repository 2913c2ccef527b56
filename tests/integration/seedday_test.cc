// The pilots' day driver (bench/seedday) at tiny scale against four real validators, and the
// pipelined sender (wallet/pipeline.h) it and the wallet use. Not a benchmark: only counts are
// checked, never times.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "common/bytes.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "tests/integration/harness.h"
#include "tests/integration/harness_chain.h"
#include "wallet/pipeline.h"
#include "wallet/tx_builder.h"

namespace v2g {
namespace {

using json = nlohmann::json;

const std::string kV2gd = V2GD_PATH;
const std::string kSeedday = V2G_SEEDDAY_PATH;

// 50 EVs x 3 spans of 5 s through 3 gateways into 4 validators: every meter registered, every
// reading sent, committed and accepted on every node.
TEST(SeedDay, TinyDayIsCommittedAndAccountedForOnEveryNode) {
  constexpr int64_t kEvs = 50, kSpans = 3;
  testing::TempDir dir;
  testing::Testnet net;
  testing::Party op = testing::MakeParty("operator");
  testing::Testnet::Options opts;
  opts.v2gd = kV2gd;
  opts.nodes = 4;
  opts.issuer = op.text;
  opts.fee_min = limits::kFeeMinDefault;  // gateways and the operator pay fees, as on a real chain
  ASSERT_TRUE(net.Start(dir.path() + "/net", opts));
  const std::string seed_file = dir.path() + "/operator.seed";
  {
    Bytes seed = op.key.Seed();
    std::ofstream(seed_file) << HexEncode(seed) << "\n";
    SecureWipe(seed.data(), seed.size());
  }
  std::string apis, pids, homes;
  for (int i = 0; i < net.size(); ++i) {
    apis += (i ? "," : "") + std::string("http://127.0.0.1:") + std::to_string(net.port(i));
    pids += (i ? "," : "") + std::to_string(net.pid(i));
    homes += (i ? "," : "") + net.home(i);
  }
  const std::string out = dir.path() + "/day.json";
  auto run = testing::Run({kSeedday, "--api", apis, "--pids", pids, "--homes", homes, "--seed-file",
                           seed_file, "--evs", std::to_string(kEvs), "--spans",
                           std::to_string(kSpans), "--span-s", "5", "--gateways", "3",
                           "--verify-ms", "200", "--drain-seconds", "30", "--prefix", "tiny",
                           "--json", out});
  std::printf("%s", run.output.c_str());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  std::ifstream f(out);
  json doc = json::parse(f, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << run.output;
  EXPECT_EQ(doc["registered"].get<int64_t>(), kEvs);
  EXPECT_GE(doc["register_txs"].get<int64_t>(), 1);
  EXPECT_EQ(doc["sent"].get<int64_t>(), kEvs * kSpans);
  EXPECT_EQ(doc["committed"].get<int64_t>(), kEvs * kSpans);
  EXPECT_TRUE(doc["all_accounted"].get<bool>());
  EXPECT_GT(doc["bound_rps"].get<double>(), 0);
  ASSERT_EQ(doc["span_reports"].size(), static_cast<size_t>(kSpans));
  for (const auto& s : doc["span_reports"]) {
    EXPECT_EQ(s["sent"].get<int64_t>(), kEvs) << s;
    EXPECT_EQ(s["committed"].get<int64_t>(), kEvs) << s;
  }
  ASSERT_EQ(doc["node_reports"].size(), 4u);
  for (const auto& n : doc["node_reports"]) {
    EXPECT_EQ(n["readings_accepted"].get<int64_t>(), kEvs * kSpans) << n;
    EXPECT_EQ(n["meters"].get<int64_t>(), kEvs) << n;
    EXPECT_EQ(n["meters_short"].get<int64_t>(), 0) << n;
    EXPECT_GT(n["disk_bytes_after"].get<int64_t>(), 0) << n;
    EXPECT_GT(n["rss_peak_kib"].get<int64_t>(), 0) << n;
  }
  EXPECT_TRUE(net.Stop());
}

// One signer's 30 transfers through a window of 4 txs in flight, 3 to a request: all admitted in
// nonce order without a wait per tx, all committed once Finish returns.
TEST(NonceWindow, SendsManyTxsInOrderWithinAWindow) {
  constexpr int64_t kTxs = 30;
  testing::TempDir dir;
  testing::Testnet net;
  testing::Party issuer = testing::MakeParty("issuer");
  testing::Party to = testing::MakeParty("to");
  testing::Testnet::Options opts;
  opts.v2gd = kV2gd;
  opts.nodes = 2;
  opts.issuer = issuer.text;
  ASSERT_TRUE(net.Start(dir.path() + "/net", opts));
  ApiClient& c = net.client(0);
  auto acc = c.GetAccount(issuer.text);
  ASSERT_TRUE(acc.ok()) << acc.status().message();
  NonceWindowOptions wo;
  wo.window_txs = 4;
  wo.request_txs_max = 3;
  NonceWindow w(c, issuer.text, acc->next_nonce, wo);
  int64_t committed_seen = 0;
  w.OnCommitted([&](uint64_t, int64_t) { ++committed_seen; });
  for (int64_t i = 0; i < kTxs; ++i) {
    // Never more than the window ahead of what is committed.
    EXPECT_LE(w.next_nonce() - 1 - w.committed_nonce(), 4u + 3u);
    ASSERT_TRUE(w.Send(SignTx(issuer.key, net.chain_id(), MakeMint(w.next_nonce(), to.address, "CNY", 1))).ok());
  }
  Status s = w.Finish();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(w.committed_nonce(), acc->next_nonce + kTxs - 1);
  EXPECT_GE(committed_seen, 1);
  EXPECT_EQ(testing::BalanceOn(c, to.text, "CNY"), kTxs);
  EXPECT_TRUE(net.Stop());
}

}  // namespace
}  // namespace v2g
