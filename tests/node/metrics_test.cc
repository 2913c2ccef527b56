// GET /metrics: the exposition primitives (node/metrics.h) on their own, and a real node
// (InitHome + Node::Open/Start, 50 ms blocks) whose /metrics text Prometheus' own parser reads
// (tests/node/check_metrics.py, python3-prometheus-client) before and after txs commit: the text
// parses, and the counters move by what was done.
#include "node/metrics.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "common/fsutil.h"
#include "node/config.h"
#include "node/keys.h"
#include "node/node.h"
#include "tests/node/node_test_util.h"
#include "tests/node/real_node.h"

namespace v2g::nodetest {
namespace {

using metrics::Exposition;
using metrics::FormatMicro;
using metrics::Histogram;
using metrics::Unit;

TEST(MetricsTest, HistogramBucketsAreCumulativeAndTheirSumIsTheCount) {
  Histogram h({10, 100, 1000});
  for (int64_t v : {0, 10, 11, 100, 5000, -3, 1000}) h.Observe(v);
  const Histogram::Snapshot s = h.Read();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{3, 5, 6}));  // -3 counts as 0
  EXPECT_EQ(s.count, 7u);
  EXPECT_EQ(s.sum, 0 + 10 + 11 + 100 + 5000 + 0 + 1000);
  Histogram big({1});
  big.Observe(std::numeric_limits<int64_t>::max());
  big.Observe(5);
  EXPECT_EQ(big.Read().sum,
            std::numeric_limits<int64_t>::max());  // saturates, never wraps negative
}

TEST(MetricsTest, MicrosecondsPrintAsSecondsWithoutFloatingPoint) {
  EXPECT_EQ(FormatMicro(0), "0.000000");
  EXPECT_EQ(FormatMicro(1), "0.000001");
  EXPECT_EQ(FormatMicro(12'000'345), "12.000345");
  EXPECT_EQ(FormatMicro(-1), "-0.000001");
  EXPECT_EQ(FormatMicro(std::numeric_limits<int64_t>::min()), "-9223372036854.775808");
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  Exposition e;
  e.Family("v2g_x", "gauge", "a \\ help\nline");
  e.Sample("v2g_x", {{"moniker", "a\"b\\c\nd"}}, int64_t{-2});
  EXPECT_EQ(e.text(),
            "# HELP v2g_x a \\\\ help\\nline\n# TYPE v2g_x gauge\n"
            "v2g_x{moniker=\"a\\\"b\\\\c\\nd\"} -2\n");
  Exposition h;
  Histogram lat({1'000, 2'000'000});
  lat.Observe(1'500);
  h.Family("v2g_t_seconds", "histogram", "t");
  h.Histo("v2g_t_seconds", {{"step", "propose"}}, lat.Read(), Unit::kMicro);
  EXPECT_EQ(h.text(),
            "# HELP v2g_t_seconds t\n# TYPE v2g_t_seconds histogram\n"
            "v2g_t_seconds_bucket{step=\"propose\",le=\"0.001000\"} 0\n"
            "v2g_t_seconds_bucket{step=\"propose\",le=\"2.000000\"} 1\n"
            "v2g_t_seconds_bucket{step=\"propose\",le=\"+Inf\"} 1\n"
            "v2g_t_seconds_sum{step=\"propose\"} 0.001500\n"
            "v2g_t_seconds_count{step=\"propose\"} 1\n");
}

// Samples by `name{labels}` (labels sorted, as check_metrics.py prints them).
using Samples = std::map<std::string, double>;

// Runs Prometheus' parser over `text`; fails the test with the checker's complaint.
Samples Parse(const std::string& text) {
  TempDir dir;
  const std::string in = dir.path() + "/metrics.txt", out = dir.path() + "/samples.txt",
                    err = dir.path() + "/err.txt";
  std::ofstream(in) << text;
  const std::string cmd = "/usr/bin/python3 " V2G_SOURCE_DIR "/tests/node/check_metrics.py < " +
                          in + " > " + out + " 2> " + err;
  const int rc = std::system(cmd.c_str());
  std::stringstream errors;
  errors << std::ifstream(err).rdbuf();
  EXPECT_EQ(rc, 0) << errors.str() << "\n--- the text:\n" << text.substr(0, 4000);
  Samples s;
  std::ifstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    s[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return s;
}

double Get(const Samples& s, const std::string& key) {
  auto it = s.find(key);
  EXPECT_NE(it, s.end()) << "no sample " << key;
  return it == s.end() ? -1 : it->second;
}

Result<std::unique_ptr<Node>> StartNode(const std::string& home,
                                        const std::function<void(Config&)>& tune) {
  return StartRealNode(home, tune);
}

std::string InitNode(const TempDir& dir) {
  InitOptions o;
  o.home = dir.path() + "/node0";
  o.chain_id = "v2g-metrics-test";
  o.moniker = "metrics0";
  o.genesis_time_ms = kGenesisTimeMs;
  o.fee_min = 0;
  Status init = InitHome(o);
  EXPECT_TRUE(init.ok()) << init.ToString();
  return o.home;
}

TEST(NodeMetricsTest, PrometheusParsesTheTextAndTheCountersMoveAsBlocksAndTxsCommit) {
  TempDir dir;
  const std::string home = InitNode(dir);
  // A quote in the moniker: a label value that must come out escaped.
  auto started = StartNode(home, [](Config& c) { c.moniker = "metrics\"0"; });
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::unique_ptr<Node> node = std::move(*started);
  auto cli = MakeClient(node->api_port());
  ASSERT_GE(node->chain().WaitForHeightAbove(1, 10000), 2);

  HttpReply first = HttpGet(*cli, "/metrics");
  ASSERT_EQ(first.status, 200) << first.raw;
  EXPECT_EQ(first.content_type, "text/plain; version=0.0.4; charset=utf-8");
  const Samples before = Parse(first.raw);
  ASSERT_FALSE(before.empty());
  EXPECT_EQ(Get(before,
                "v2g_node_info{chain_id=\"v2g-metrics-test\",moniker=\"metrics\\\"0\",node_id=\"" +
                    HexEncode(ByteView(LoadNodeKey(HomePaths{home}.node_key())->public_key())) +
                    "\",validator=\"" +
                    EncodeAddress(AddrOf(*LoadNodeKey(HomePaths{home}.validator_key()))) + "\"}"),
            1);

  // Two txs committed, one refused for its signature.
  auto vkey = LoadNodeKey(HomePaths{home}.validator_key());
  ASSERT_TRUE(vkey.ok());
  TestKeys k;
  for (const std::string& tx :
       {SignTx(*vkey, "v2g-metrics-test", MakeMint(1, AddrOf(k.alice), "CNY", 10000)),
        SignTx(*vkey, "v2g-metrics-test", MakeMint(2, AddrOf(k.bob), "CNY", 500))}) {
    HttpReply r = HttpPost(*cli, "/v1/txs?wait=commit", TxBody(tx));
    ASSERT_EQ(r.status, 200) << r.raw;
    ASSERT_EQ(r.body.value("code", -1), 0) << r.raw;
  }
  std::string forged =
      SignTx(k.alice, "v2g-metrics-test", MakeTransfer(1, AddrOf(k.bob), "CNY", 1));
  forged[forged.size() - 3] ^= 1;  // inside the signature, the last field
  EXPECT_EQ(HttpPost(*cli, "/v1/txs", TxBody(forged)).status, 400);
  const int64_t height = node->chain().Tip().height;
  ASSERT_GE(node->chain().WaitForHeightAbove(height, 10000), height + 1);

  HttpReply second = HttpGet(*cli, "/metrics");
  ASSERT_EQ(second.status, 200);
  const Samples after = Parse(second.raw);
  auto moved = [&](const std::string& key) { return Get(after, key) - Get(before, key); };
  EXPECT_GE(Get(after, "v2g_height{}"), static_cast<double>(height + 1));
  EXPECT_GE(moved("v2g_height{}"), 2);
  EXPECT_GE(moved("v2g_blocks_committed_total{}"), 2);
  EXPECT_EQ(moved("v2g_txs_committed_total{result=\"ok\"}"), 2);
  EXPECT_EQ(moved("v2g_txs_committed_total{result=\"failed\"}"), 0);
  EXPECT_EQ(moved("v2g_mempool_admitted_total{}"), 2);
  EXPECT_EQ(moved("v2g_mempool_refused_total{reason=\"bad_signature\"}"), 1);
  EXPECT_GE(moved("v2g_block_txs_count{}"), 2);
  EXPECT_GE(moved("v2g_block_txs_sum{}"), 2);
  EXPECT_GE(moved("v2g_store_write_seconds_count{}"), 2);
  EXPECT_GE(moved("v2g_block_commit_seconds_count{}"), 2);
  EXPECT_GE(moved("v2g_block_interval_seconds_count{}"), 2);
  EXPECT_GE(moved("v2g_consensus_step_duration_seconds_count{step=\"commit\"}"), 2);
  // One validator decides a height within the call that starts it: only its commit steps (the
  // block interval) take time; no height needed a second round.
  EXPECT_EQ(Get(after, "v2g_consensus_rounds_extra_total{}"), 0);
  EXPECT_GE(moved("v2g_wal_write_seconds_count{sync=\"true\"}"),
            2);  // a sync before each signature
  EXPECT_EQ(Get(after, "v2g_api_requests_total{route=\"POST /v1/txs\",status=\"200\"}"), 2);
  EXPECT_EQ(Get(after, "v2g_api_requests_total{route=\"POST /v1/txs\",status=\"400\"}"), 1);
  EXPECT_EQ(Get(after, "v2g_api_request_duration_seconds_count{route=\"POST /v1/txs\"}"), 3);
  EXPECT_EQ(Get(after, "v2g_api_requests_total{route=\"GET /metrics\",status=\"200\"}"),
            1);  // the first scrape
  EXPECT_GT(Get(after, "process_resident_memory_bytes{}"), 1e6);
  EXPECT_GT(Get(after, "process_cpu_seconds_total{}"), 0);
  EXPECT_EQ(Get(after, "v2g_p2p_peers{}"), 0);  // one validator, no peers
  EXPECT_EQ(Get(after, "v2g_sync_lag_blocks{}"), 0);
  // A path nobody routes is counted as "unmatched", never as a label of its own.
  EXPECT_EQ(HttpGet(*cli, "/v1/no/such/path/\"x").status, 404);
  const Samples third = Parse(HttpGet(*cli, "/metrics").raw);
  EXPECT_EQ(Get(third, "v2g_api_requests_total{route=\"unmatched\",status=\"404\"}"), 1);
  for (const auto& [key, value] : third) EXPECT_EQ(key.find("no/such"), std::string::npos) << key;
  node->Stop();
}

TEST(NodeMetricsTest, OnItsOwnAddressMetricsAreServedOnlyThereAndOffMeansNowhere) {
  TempDir dir;
  const std::string home = InitNode(dir);
  {
    auto started = StartNode(home, [](Config& c) {
      c.prometheus_listen_addr = "127.0.0.1:" + std::to_string(v2g::testing::FreePort());
    });
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    std::unique_ptr<Node> node = std::move(*started);
    ASSERT_GT(node->metrics_port(), 0);
    auto api = MakeClient(node->api_port());
    auto own = MakeClient(node->metrics_port());
    EXPECT_EQ(HttpGet(*api, "/metrics").status, 404);
    HttpReply m = HttpGet(*own, "/metrics");
    ASSERT_EQ(m.status, 200);
    EXPECT_FALSE(Parse(m.raw).empty());
    EXPECT_EQ(HttpGet(*own, "/v1/status").status, 404);  // nothing of the API there
    node->Stop();
  }
  auto started = StartNode(home, [](Config& c) { c.prometheus = false; });
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::unique_ptr<Node> node = std::move(*started);
  EXPECT_EQ(node->metrics_port(), 0);
  EXPECT_EQ(HttpGet(*MakeClient(node->api_port()), "/metrics").status, 404);
  node->Stop();
}

}  // namespace
}  // namespace v2g::nodetest
