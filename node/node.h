// Node: wires config, genesis, keys, store, mempool, chain, signer, consensus engine and API.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/limits.h"
#include "common/passphrase_seal.h"
#include "genesis/genesis.h"
#include "node/api/api.h"
#include "node/bft/bft.h"
#include "node/bft/engine.h"
#include "node/bft/signer.h"
#include "node/config.h"
#include "node/keys.h"
#include "node/p2p/p2p.h"
#include "node/tx_gossip.h"
#include "node/tx_relay.h"

namespace v2g {

namespace api {
class HttpServer;
}

class Node {
 public:
  // Loads <home>/config.toml, genesis.json and keys; opens (and on first start initialises) the
  // database. Errors name the file and the problem. Encrypted key files are opened with the
  // passphrase of NodeKeyPassphrase (node/keys.h); without it, with a wrong one, or with a key file
  // its group or others may read or write, the node does not open. Plain key files are warned of.
  static Result<std::unique_ptr<Node>> Open(const std::string& home);
  ~Node();

  Status Start();  // consensus engine and API
  void Stop();     // idempotent
  // Called (once, from the consensus thread) when storage fails: the node has stopped signing
  // and must be stopped and restarted on a working disk (v2gd exits 74). Set before Start.
  void SetStorageFailureHandler(std::function<void(const std::string&)> f) { on_storage_failure_ = std::move(f); }

  int api_port() const { return api_ ? api_->port() : 0; }
  int p2p_port() const { return p2p_ ? p2p_->listen_port() : 0; }
  // The port of [instrumentation] prometheus_listen_addr's server; 0 when /metrics is on the API.
  int metrics_port() const { return metrics_port_; }
  // GET /metrics as served (node/node_metrics.h).
  std::string Metrics() const;
  Store& store() { return *store_; }
  Chain& chain() { return *chain_; }

 private:
  Node() = default;
  Status StartMetricsServer();
  HomePaths paths_;
  Config config_;
  GenesisState genesis_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Mempool> mempool_;
  std::unique_ptr<Chain> chain_;
  std::unique_ptr<Signer> signer_;
  std::unique_ptr<SystemClock> clock_;
  std::unique_ptr<ConsensusNetwork> net_;
  std::unique_ptr<BftEngine> engine_;
  std::unique_ptr<GossipNetwork> gossip_net_;
  std::unique_ptr<TxGossip> tx_gossip_;  // before tx_relay_, which feeds it
  std::unique_ptr<TxRelay> tx_relay_;
  std::unique_ptr<P2p> p2p_;
  std::unique_ptr<ApiServer> api_;
  std::unique_ptr<api::HttpServer> metrics_server_;
  int metrics_port_ = 0;
  std::string validator_address_;
  // Node keys of [p2p] allowed; with the node keys of the validators of the next two heights, the
  // peers allowed in (AllowedPeers, refreshed at every commit).
  std::vector<PublicKey> allowed_configured_;
  std::vector<PublicKey> AllowedPeers() const;
  std::string node_id_;
  std::optional<KeyPair> node_key_;
  // A rotated consensus key waiting for its activation height (keys/validator_key.next.json).
  std::optional<KeyPair> next_key_;
  int64_t next_key_retry_height_ = 0;  // read it again from here while the set wants another key
  bool next_key_tried_ = false;                // the next key file was read (or failed to)
  std::unique_ptr<KeyPassphrase> passphrase_;  // of the key files, for a next key read later
  void PromoteRotatedKey(int64_t height, const pb::ValidatorSet& vals);
  // A rotated node key waiting for the set two heights ahead to hold it (keys/node_key.next.json).
  std::optional<KeyPair> next_node_key_;
  int64_t next_node_key_retry_height_ = 0;  // read the next key file again from this height
  std::string next_node_key_missing_;       // the wanted key already logged as missing
  // Moves the P2P identity to the rotated node key once the set of height tip + 2 holds it (peers
  // allow the new key from then on, and the old one until tip + 1's set drops it).
  void PromoteRotatedNodeKey();
  // Configured peers (not in [p2p] allowed) whose key a validator retired (contracts/gov.h
  // kRetiredNodeKeyPrefix) -> that validator's node key in the set of tip + 2: they are dialled by
  // it.
  std::map<PublicKey, PublicKey> NodeKeySuccessors() const;
  std::map<PublicKey, PublicKey> successors_sent_;  // the last given to P2P (consensus thread)
  std::function<void(const std::string&)> on_storage_failure_;
};

// China Standard Time (+08:00), the pilots' time zone: where `v2gd init` and `testnet` put the
// market unless told otherwise (--utc-offset).
inline constexpr int32_t kChinaUtcOffsetMin = 8 * 60;

// How `init` and `testnet` write key files: plain by default (a devnet starts unattended), or
// encrypted under `passphrase` (node/keys.h). The caller owns the passphrase and wipes it.
struct HomeKeyOptions {
  std::string_view passphrase;  // empty: plain key files
  KdfLimits kdf = KdfLimits::Interactive();
  std::string passphrase_file;  // written to config.toml's [keys] passphrase_file (may be empty)
};

struct InitOptions {
  std::string home;
  std::string chain_id = "v2g-local";
  std::string moniker = "node0";
  std::string issuer;  // bech32m; empty = the validator's own account
  std::string api_listen = "127.0.0.1:26657";
  std::string p2p_listen = "127.0.0.1:26656";
  int64_t genesis_time_ms = 0;
  int64_t fee_min = limits::kFeeMinDefault;  // params.fee_min; 0 = a chain without fees
  int32_t utc_offset_min = kChinaUtcOffsetMin;  // params.utc_offset_min: the market's time zone
  HomeKeyOptions keys;
};
// Creates a home for a one-validator chain: keys, config.toml, genesis.json (CNY with 2
// decimals and PTS reward points with 0, both issued by `issuer`, which also holds the operator,
// grid company and aggregator roles, owns the zones CN-SH, CN-BJ, GD-SZ, GD-GZ and SIM, and, when fees are on, starts
// with kIssuerFloat CNY to pay them). Refuses to overwrite.
Status InitHome(const InitOptions& opts);

struct TestnetOptions {
  std::string output;
  int validators = 1;
  std::string chain_id = "v2g-devnet";
  std::string issuer;
  std::string host = "127.0.0.1";
  int base_api_port = 26657;  // node i gets base + 10*i (API) and base - 1 + 10*i (p2p)
  int64_t genesis_time_ms = 0;
  int64_t block_interval_ms = 1000;
  // Genesis overrides (0 / -1 = the default): a devnet uses short market intervals so a whole
  // order -> clearing -> delivery -> settlement cycle runs in minutes.
  int64_t settlement_interval_s = 0;
  int64_t gate_closure_s = -1;
  int64_t market_grace_s = -1;
  int64_t fee_min = limits::kFeeMinDefault;  // params.fee_min; 0 = a chain without fees
  int32_t utc_offset_min = kChinaUtcOffsetMin;  // params.utc_offset_min: the market's time zone
  std::vector<std::string> aggregators;       // addresses given the aggregator role
  bool open_reads = false;                    // api.private_reads = false in every config
  std::vector<std::string> full_readers;      // api.full_readers of every config
  HomeKeyOptions keys;                        // one passphrase for every node's keys
};
// Writes <output>/node0 ... node{N-1}, each a full home sharing one genesis.
Status GenerateTestnet(const TestnetOptions& opts);

// On an empty store, writes the genesis state (InitChain) and the genesis hash; on an initialised
// one, checks that it was made from this genesis (kCorruption otherwise). Node::Open and the
// fixture generator (bench/chaingen.cc) both start a store this way.
Status OpenOrInitStore(Store& store, const GenesisState& genesis);

// Re-checks a stopped node's chain from genesis: every header link, commit signature, tx
// result, app hash, the final state and conservation. Returns the verified height.
Result<int64_t> VerifyChain(const std::string& home);
// Two results of one tx have the same outcome (verify-chain): the code, the created id, each
// message field's name, kind, value and denomination, and each refused item of a batch. The words
// (log, template, messages) are compared apart from it, so a change of words is told as such.
bool SameTxOutcome(const pb::TxResult& a, const pb::TxResult& b);

}  // namespace v2g
