// <home>/config.toml: what an operator may tune on one node. Consensus rules live in genesis.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/limits.h"
#include "common/status.h"

namespace v2g {

struct Config {
  std::string moniker = "node";
  std::string api_listen = "127.0.0.1:26657";  // host:port
  std::string p2p_listen = "127.0.0.1:26656";
  // "<hex node id>@host:port" of peers to dial (and redial with backoff).
  std::vector<std::string> p2p_peers;
  // Hex node ids allowed to connect besides the genesis validators' (e.g. full nodes).
  std::vector<std::string> p2p_allowed;
  // Consensus round timeouts: base + delta * round.
  int64_t timeout_propose_ms = 1000;
  int64_t timeout_propose_delta_ms = 500;
  int64_t timeout_vote_ms = 500;  // prevote and precommit
  int64_t timeout_vote_delta_ms = 250;
  // Pause after a commit before the next height starts.
  int64_t block_interval_ms = 1000;
  bool create_empty_blocks = true;
  int64_t mempool_txs_max = 0;
  int64_t mempool_bytes_max = 0;
  int64_t mempool_per_sender_max = 0;
  int64_t mempool_units_max = 0;  // fee units pending (contracts/app.h TxFeeUnits)
  // The API server (docs/DESIGN.md "API limits"; defaults and why in common/limits.h): worker
  // threads, requests queued for them, concurrent ?wait=commit, open connections, timeouts.
  int64_t api_threads = 16;
  int64_t api_queue_max = limits::kApiQueueMaxDefault;
  int64_t api_wait_slots = limits::kApiWaitSlotsDefault;
  int64_t api_connections_max = limits::kApiConnectionsMaxDefault;
  int64_t api_connections_per_address_max = limits::kApiConnectionsPerAddressMaxDefault;
  int64_t api_header_timeout_ms = limits::kApiHeaderTimeoutMsDefault;
  int64_t api_body_timeout_ms = limits::kApiBodyTimeoutMsDefault;
  int64_t api_idle_timeout_ms = limits::kApiIdleTimeoutMsDefault;
  int64_t api_write_timeout_ms = limits::kApiWriteTimeoutMsDefault;
  // Personal data only to signed readers entitled to it (node/api/access.h); false serves
  // everything to everyone: only for a node nobody but its operator's tools can reach.
  bool api_private_reads = true;
  // Addresses (bech32m) that may read everything: the operator's indexer, auditor, test tools.
  std::vector<std::string> api_full_readers;
  // The block explorer page at / (node/explorer/), and a folder to serve its files from instead
  // of the copy built in (for working on the page; empty: the built-in copy).
  bool api_explorer = true;
  std::string api_explorer_dir;
  std::string log_level = "info";
  // "text" (spdlog's lines) or "json" (one object per line: node/log.h).
  std::string log_format = "text";
  // GET /metrics in the Prometheus text format (node/node_metrics.h), as CometBFT's
  // [instrumentation]: on the API's address when prometheus_listen_addr is empty, else only on
  // that address (host:port), so it can stay off the public network.
  bool prometheus = true;
  std::string prometheus_listen_addr;
  // [keys] passphrase_file: the file (absolute, or relative to the home) whose first line is the
  // passphrase of encrypted key files (node/keys.h); $V2GD_KEY_PASSPHRASE, when set, is used
  // instead. Empty: none, for plain key files.
  std::string keys_passphrase_file;
};

Config DefaultConfig();
// Errors name the key: "config.toml: consensus.block_interval_ms: must be between 50 and 60000".
Result<Config> ParseConfig(std::string_view toml_text, const std::string& source_name);
Result<Config> LoadConfig(const std::string& path);
std::string ConfigToToml(const Config& c);
// "127.0.0.1:26657" -> host, port; port 1-65535.
Status SplitHostPort(const std::string& hostport, std::string* host, int* port);

// Paths inside a node home.
struct HomePaths {
  std::string home;
  std::string config() const { return home + "/config.toml"; }
  std::string genesis() const { return home + "/genesis.json"; }
  std::string keys_dir() const { return home + "/keys"; }
  std::string validator_key() const { return home + "/keys/validator_key.json"; }
  // The key a rotation moves to (v2gd keys rotate): replaces validator_key.json at the height the
  // rotation takes effect.
  std::string validator_key_next() const { return home + "/keys/validator_key.next.json"; }
  // The node key a rotation moves to (v2gd keys rotate --key node|all): replaces node_key.json
  // when the set of two heights ahead holds it (node/node.cc PromoteRotatedNodeKey).
  std::string node_key_next() const { return home + "/keys/node_key.next.json"; }
  std::string node_key() const { return home + "/keys/node_key.json"; }
  std::string data_dir() const { return home + "/data"; }
  std::string db() const { return home + "/data/chain.db"; }
  std::string signer_state() const { return home + "/data/signer_state.pb"; }
  std::string wal() const { return home + "/data/consensus.wal"; }
  std::string pid_file() const { return home + "/v2gd.pid"; }
};

}  // namespace v2g
