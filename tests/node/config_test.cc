// config.toml: an operator's mistake is reported with the file and the key (or the line, for
// broken TOML), and what `init` writes reads back to the same settings.
#include "node/config.h"

#include <gtest/gtest.h>

#include "tests/node/node_test_util.h"

namespace v2g::nodetest {
namespace {

void ExpectConfigError(const std::string& toml, const std::string& message_part) {
  SCOPED_TRACE(toml);
  auto c = ParseConfig(toml, "config.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(c.status().message(), message_part));
}

void ExpectSameConfig(const Config& a, const Config& b) {
  EXPECT_EQ(a.moniker, b.moniker);
  EXPECT_EQ(a.api_listen, b.api_listen);
  EXPECT_EQ(a.p2p_listen, b.p2p_listen);
  EXPECT_EQ(a.block_interval_ms, b.block_interval_ms);
  EXPECT_EQ(a.create_empty_blocks, b.create_empty_blocks);
  EXPECT_EQ(a.mempool_txs_max, b.mempool_txs_max);
  EXPECT_EQ(a.mempool_bytes_max, b.mempool_bytes_max);
  EXPECT_EQ(a.mempool_per_sender_max, b.mempool_per_sender_max);
  EXPECT_EQ(a.api_threads, b.api_threads);
  EXPECT_EQ(a.api_queue_max, b.api_queue_max);
  EXPECT_EQ(a.api_wait_slots, b.api_wait_slots);
  EXPECT_EQ(a.api_connections_max, b.api_connections_max);
  EXPECT_EQ(a.api_connections_per_address_max, b.api_connections_per_address_max);
  EXPECT_EQ(a.api_header_timeout_ms, b.api_header_timeout_ms);
  EXPECT_EQ(a.api_body_timeout_ms, b.api_body_timeout_ms);
  EXPECT_EQ(a.api_idle_timeout_ms, b.api_idle_timeout_ms);
  EXPECT_EQ(a.api_write_timeout_ms, b.api_write_timeout_ms);
  EXPECT_EQ(a.api_private_reads, b.api_private_reads);
  EXPECT_EQ(a.api_full_readers, b.api_full_readers);
  EXPECT_EQ(a.api_explorer, b.api_explorer);
  EXPECT_EQ(a.api_explorer_dir, b.api_explorer_dir);
  EXPECT_EQ(a.log_level, b.log_level);
  EXPECT_EQ(a.log_format, b.log_format);
  EXPECT_EQ(a.prometheus, b.prometheus);
  EXPECT_EQ(a.prometheus_listen_addr, b.prometheus_listen_addr);
  EXPECT_EQ(a.keys_passphrase_file, b.keys_passphrase_file);
}

TEST(ConfigTest, ErrorsNameTheKey) {
  ExpectConfigError("[consensus]\nblock_interval_ms = 10\n",
                    "config.toml: consensus.block_interval_ms: must be between 50 and 60000");
  ExpectConfigError("[consensus]\nblock_interval_ms = 600000\n", "consensus.block_interval_ms: must be between");
  // A typo must not silently fall back to the default.
  ExpectConfigError("[consensus]\nblock_intervall_ms = 500\n", "consensus.block_intervall_ms: unknown key");
  ExpectConfigError("[mempol]\ntxs_max = 5\n", "mempol: unknown key or section");
  // Block time is BFT time now: the old drift setting is refused with the reason, not ignored.
  ExpectConfigError("[consensus]\nmax_time_drift_ms = 10000\n", "consensus.max_time_drift_ms: is no longer used: block time is BFT time");
  ExpectConfigError("api = 5\n", "api: must be a [api] section");
  ExpectConfigError("[api]\nprivate_reads = 1\n", "api.private_reads: must be true or false");
  ExpectConfigError("[api]\nfull_readers = [\"v2g1nope\"]\n", "api.full_readers: 'v2g1nope' is not an address");
  ExpectConfigError("[api]\nexplorer = \"on\"\n", "api.explorer: must be true or false");
  ExpectConfigError("[api]\nexplorer_dir = 1\n", "api.explorer_dir: must be a string");
  ExpectConfigError("[consensus]\nblock_interval_ms = \"fast\"\n", "consensus.block_interval_ms: must be an integer");
  ExpectConfigError("[consensus]\nblock_interval_ms = 1.5\n", "consensus.block_interval_ms: must be an integer");
  ExpectConfigError("[consensus]\ncreate_empty_blocks = \"yes\"\n", "consensus.create_empty_blocks: must be true or false");
  ExpectConfigError("[api]\nlisten = \"localhost\"\n", "config.toml: api.listen: 'localhost' is not host:port");
  ExpectConfigError("[api]\nlisten = \"127.0.0.1:70000\"\n", "api.listen");
  ExpectConfigError("[api]\nlisten = \"127.0.0.1:0\"\n", "api.listen");
  ExpectConfigError("[api]\nlisten = \"127.0.0.1:http\"\n", "api.listen");
  ExpectConfigError("[api]\nlisten = 26657\n", "api.listen: must be a string");
  ExpectConfigError("[api]\nthreads = 1\n", "api.threads: must be between 2 and 256");
  // The API's bounds cannot be switched off: no zero wait slots, no unbounded timeouts.
  ExpectConfigError("[api]\nwait_slots = 0\n", "api.wait_slots: must be between 1 and 1024");
  ExpectConfigError("[api]\nqueue_max = -1\n", "api.queue_max: must be between 0");
  ExpectConfigError("[api]\nconnections_max = 1000000\n", "api.connections_max: must be between 4");
  ExpectConfigError("[api]\nconnections_per_address_max = 0\n",
                    "api.connections_per_address_max: must be between 1");
  ExpectConfigError("[api]\nheader_timeout_ms = 0\n", "api.header_timeout_ms: must be between 100");
  ExpectConfigError("[api]\nbody_timeout_ms = 99999999\n", "api.body_timeout_ms: must be between");
  ExpectConfigError("[api]\nidle_timeout_ms = 10\n", "api.idle_timeout_ms: must be between");
  ExpectConfigError("[api]\nwrite_timeout_ms = 10\n", "api.write_timeout_ms: must be between");
  ExpectConfigError("[api]\nqueue_depth = 5\n", "api.queue_depth: unknown key");
  ExpectConfigError("[p2p]\nlisten = \":26656\"\n", "p2p.listen");
  ExpectConfigError("[log]\nlevel = \"loud\"\n", "config.toml: log.level: must be one of");
  ExpectConfigError("[log]\nlevel = 3\n", "log.level: must be a string");
  ExpectConfigError("[mempool]\ntxs_max = 0\n", "mempool.txs_max: must be between 1");
  ExpectConfigError("[mempool]\nbytes_max = 10\n", "mempool.bytes_max: must be between 1024");
  ExpectConfigError("[mempool]\nper_sender_max = -1\n", "mempool.per_sender_max");
  ExpectConfigError("moniker = 7\n", "moniker: must be a string");
  ExpectConfigError("[log]\nformat = \"xml\"\n", "log.format: must be text or json");
  ExpectConfigError("[instrumentation]\nprometheus = 1\n",
                    "instrumentation.prometheus: must be true or false");
  ExpectConfigError("[instrumentation]\nprometheus_listen_addr = \":26660\"\n",
                    "instrumentation.prometheus_listen_addr");
  ExpectConfigError(
      "[instrumentation]\nprometheus_listen_addr = \"127.0.0.1:26657\"\n",
      "instrumentation.prometheus_listen_addr: must differ from api.listen and p2p.listen");
  ExpectConfigError("[instrumentation]\nnamespace = \"x\"\n",
                    "instrumentation.namespace: unknown key");
  ExpectConfigError("[keys]\npassphrase_file = 1\n", "keys.passphrase_file: must be a string");
  ExpectConfigError("[keys]\npassphrase = \"hunter2\"\n",
                    "keys.passphrase: is not read from config.toml: put the passphrase in a file");
  ExpectConfigError("[keys]\npassphrase_file = \"a\\u0000b\"\n",
                    "keys.passphrase_file: must not contain a NUL character");
}

TEST(ConfigTest, BadTomlGivesTheLine) {
  ExpectConfigError("moniker = \"a\"\n[api\nlisten = \"127.0.0.1:1\"\n", "config.toml:2:");
  ExpectConfigError("moniker = \"a\"\n\n\n[consensus]\nblock_interval_ms = = 5\n", "config.toml:5:");
  ExpectConfigError("moniker = \"unterminated\n", "config.toml:1:");
}

TEST(ConfigTest, DefaultsRoundTrip) {
  const Config d = DefaultConfig();
  EXPECT_GT(d.mempool_txs_max, 0);
  EXPECT_GT(d.mempool_bytes_max, 0);
  EXPECT_GT(d.mempool_per_sender_max, 0);
  auto parsed = ParseConfig(ConfigToToml(d), "config.toml");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString() << "\n" << ConfigToToml(d);
  ExpectSameConfig(*parsed, d);
  // An empty file means all defaults.
  auto empty = ParseConfig("", "config.toml");
  ASSERT_TRUE(empty.ok());
  ExpectSameConfig(*empty, d);
}

TEST(ConfigTest, EveryFieldRoundTrips) {
  Config c = DefaultConfig();
  c.moniker = "charger-depot-7";
  c.api_listen = "0.0.0.0:8080";
  c.p2p_listen = "10.0.0.5:9000";
  c.block_interval_ms = 250;
  c.create_empty_blocks = false;
  c.mempool_txs_max = 1234;
  c.mempool_bytes_max = 1 << 20;
  c.mempool_per_sender_max = 7;
  c.api_threads = 3;
  c.api_queue_max = 5;
  c.api_wait_slots = 6;
  c.api_connections_max = 70;
  c.api_connections_per_address_max = 9;
  c.api_header_timeout_ms = 800;
  c.api_body_timeout_ms = 900;
  c.api_idle_timeout_ms = 1000;
  c.api_write_timeout_ms = 1100;
  c.api_private_reads = false;
  c.api_full_readers = {EncodeAddress(Address{7})};
  c.api_explorer = false;
  c.api_explorer_dir = "/srv/explorer dev";
  c.log_level = "debug";
  c.log_format = "json";
  c.prometheus = false;
  c.prometheus_listen_addr = "127.0.0.1:26660";
  c.keys_passphrase_file = "/run/credentials/v2gd/key passphrase";
  auto parsed = ParseConfig(ConfigToToml(c), "config.toml");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ExpectSameConfig(*parsed, c);
}

// Strings are written escaped: a quote, a backslash or a control character in a moniker or a list
// entry (TOML's "\b" reads as a backspace) used to be written raw, so the file the node wrote
// did not read back, or read back as something else (found by the config fuzzer).
TEST(ConfigTest, StringsWithQuotesBackslashesAndControlCharactersRoundTrip) {
  Config c = DefaultConfig();
  c.moniker = "depot \"7\" \\ east\tline";
  c.p2p_allowed = {std::string("bbbb\bbbbb"), std::string("tab\there"), std::string("nul\0x", 5), "del\x7f"};
  c.p2p_peers = {"quote\"@host:1", "back\\slash@host:2"};
  const std::string toml = ConfigToToml(c);
  auto parsed = ParseConfig(toml, "config.toml");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString() << "\n" << toml;
  EXPECT_EQ(parsed->moniker, c.moniker);
  EXPECT_EQ(parsed->p2p_allowed, c.p2p_allowed);
  EXPECT_EQ(parsed->p2p_peers, c.p2p_peers);
  EXPECT_EQ(ConfigToToml(*parsed), toml);
}

TEST(ConfigTest, LoadConfigNamesTheFile) {
  TempDir dir;
  auto missing = LoadConfig(dir.path() + "/config.toml");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(Contains(missing.status().message(), dir.path() + "/config.toml"));
}

TEST(ConfigTest, SplitHostPort) {
  std::string host;
  int port = 0;
  ASSERT_TRUE(SplitHostPort("127.0.0.1:26657", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 26657);
  EXPECT_FALSE(SplitHostPort("127.0.0.1:", &host, &port).ok());
  EXPECT_FALSE(SplitHostPort("127.0.0.1:65536", &host, &port).ok());
  EXPECT_FALSE(SplitHostPort("127.0.0.1:+80", &host, &port).ok());
}

}  // namespace
}  // namespace v2g::nodetest
