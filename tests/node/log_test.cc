// [log] format = "json" (node/log.h): one JSON object per line, with the height and round the
// consensus thread decides and the peer a line is about; and a real node logging that way.
#include "node/log.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/fsutil.h"
#include "node/config.h"
#include "node/keys.h"
#include "node/node.h"
#include "tests/node/captured_log.h"
#include "tests/node/node_test_util.h"
#include "tests/node/real_node.h"

namespace v2g::nodetest {
namespace {

using nlohmann::json;

TEST(LogTest, AJsonLineCarriesWhatItsThreadIsAbout) {
  const json bare = json::parse(log::JsonLine(1767225600123, "info", "n0", "hello"));
  EXPECT_EQ(bare["time"], "2026-01-01T00:00:00.123Z");
  EXPECT_EQ(bare["level"], "info");
  EXPECT_EQ(bare["node"], "n0");
  EXPECT_EQ(bare["msg"], "hello");
  EXPECT_FALSE(bare.contains("height"));  // this thread decides nothing
  EXPECT_FALSE(bare.contains("peer"));

  log::SetConsensus(7, 1);
  {
    PublicKey key{};
    key[0] = 0xab;
    key[31] = 0xcd;
    const log::PeerScope peer(key);
    const json j = json::parse(log::JsonLine(0, "warn", "n0", "x"));
    EXPECT_EQ(j["height"], 7);
    EXPECT_EQ(j["round"], 1);
    EXPECT_EQ(j["peer"], "ab" + std::string(60, '0') + "cd");
    {
      const log::PeerScope none(std::nullopt);  // nested: about no peer, then the outer again
      EXPECT_FALSE(json::parse(log::JsonLine(0, "warn", "n0", "x")).contains("peer"));
    }
    EXPECT_TRUE(json::parse(log::JsonLine(0, "warn", "n0", "x")).contains("peer"));
    std::string other;  // another thread's lines carry none of it
    std::thread([&] { other = log::JsonLine(0, "warn", "n0", "x"); }).join();
    EXPECT_FALSE(json::parse(other).contains("height"));
    EXPECT_FALSE(json::parse(other).contains("peer"));
  }
  EXPECT_FALSE(
      json::parse(log::JsonLine(0, "info", "n0", "x")).contains("peer"));  // the scope ended
  log::SetConsensus(-1, 0);
}

TEST(LogTest, WhatAMessageQuotesCannotBreakTheLine) {
  const std::string line = log::JsonLine(0, "info", "n\"0", "a \"b\"\nc\x01 \xff\xfe end");
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);  // one line, whatever the message held
  const json j = json::parse(line);
  EXPECT_EQ(j["node"], "n\"0");
  EXPECT_EQ(j["msg"], "a \"b\"\nc\x01 \xEF\xBF\xBD\xEF\xBF\xBD end");  // invalid UTF-8 as U+FFFD
}

TEST(LogTest, UnknownLevelOrFormatIsRefusedByName) {
  EXPECT_NE(log::Configure("loud", "text", "").message().find("log.level"), std::string::npos);
  EXPECT_NE(log::Configure("info", "xml", "").message().find("log.format"), std::string::npos);
}

TEST(LogTest, ANodeLoggingJsonWritesOneObjectPerLineWithTheHeightOfEachCommit) {
  CapturedLog captured;
  TempDir dir;
  InitOptions o;
  o.home = dir.path() + "/node0";
  o.chain_id = "v2g-log-test";
  o.moniker = "logger0";
  o.genesis_time_ms = kGenesisTimeMs;
  o.fee_min = 0;
  ASSERT_TRUE(InitHome(o).ok());
  auto started = StartRealNode(o.home, [](Config& c) {
    c.log_level = "info";
    c.log_format = "json";
  });
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::unique_ptr<Node> node = std::move(*started);
  auto vkey = LoadNodeKey(HomePaths{o.home}.validator_key());
  TestKeys k;
  HttpReply r =
      HttpPost(*MakeClient(node->api_port()), "/v1/txs?wait=commit",
               TxBody(SignTx(*vkey, o.chain_id, MakeMint(1, AddrOf(k.alice), "CNY", 100))));
  ASSERT_EQ(r.status, 200) << r.raw;
  const int64_t committed_at = r.body.value("height", int64_t{0});
  node->Stop();
  node.reset();

  std::istringstream lines(captured.text());
  std::string line;
  int parsed = 0;
  bool commit_seen = false;
  while (std::getline(lines, line)) {
    const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: " << line;
    ++parsed;
    EXPECT_EQ(j["node"], "logger0") << line;
    const std::string msg = j["msg"];
    if (msg.starts_with("committed block height=" + std::to_string(committed_at) + " ")) {
      commit_seen = true;
      EXPECT_EQ(j.value("height", int64_t{-1}), committed_at)
          << line;  // the consensus thread's context
      EXPECT_TRUE(j.contains("round")) << line;
    }
  }
  EXPECT_GE(parsed, 2);
  EXPECT_TRUE(commit_seen) << captured.text();
}

}  // namespace
}  // namespace v2g::nodetest
