// Chain: the node's block pipeline over the store and the contracts. Builds proposals from the
// mempool, validates, executes and commits blocks (atomically, durably), keeps the tip, and lets
// API threads wait for a tx or a height. The consensus engine (node/bft/) drives it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "consensus/block.h"
#include "node/mempool.h"
#include "node/metrics.h"
#include "node/store/store.h"

namespace v2g {

// Executes a block's txs and records its evidence over `state`; returns the results with the app
// hash after the block. Shared by Chain::Commit and verify-chain so both compute the same thing.
// The per-block work bound (docs/DESIGN.md "Per-block work and priority by fee"): ok when the
// block's txs carry at most params.block_units_max fee units (contracts/app.h TxBytesFeeUnits; a
// record without the param: no bound). Part of Chain::Validate and of verify-chain.
Status CheckBlockUnits(const pb::Block& block, const pb::ParamsRecord& params);

// The app hash is the root of the state tree (contracts/state_tree.h) at the block's height: the
// tree is read through `tree` (the node's database, where version height - 1 is stored) and the
// records of the new version go to `tree_writes`. Fails only when the tree is damaged (a node it
// needs is missing), never because of what the block holds.
Result<pb::BlockResults> ExecuteFullBlock(
    const pb::Block& block, const std::string& chain_id,
    const std::function<bool(const Hash256&)>& already_verified, Overlay& state,
    const KvReader& tree, std::vector<Hash256>* tx_hashes, Overlay::Writes& tree_writes);

// What Chain::Commit measures (GET /metrics, node/node_metrics.cc). Any thread may read it.
struct ChainMetrics {
  metrics::Counter blocks;
  metrics::Counter txs_ok;
  metrics::Counter txs_failed;
  metrics::Counter evidence;
  metrics::Histogram block_txs{metrics::SizeBuckets(1, 16'384)};
  metrics::Histogram block_bytes{metrics::SizeBuckets(1'024, 64 << 20)};
  // Between the header times of consecutive blocks (BFT time), in microseconds.
  metrics::Histogram block_interval_us{metrics::LatencyBucketsUs()};
  // Commit from validation to the tip moving (verification, execution, the write), and the synced
  // LevelDB write of the block and its state alone.
  metrics::Histogram commit_us{metrics::LatencyBucketsUs()};
  metrics::Histogram store_write_us{metrics::LatencyBucketsUs()};
  // Markets that this node's blocks cleared and settled (contracts/market.h), and their energy.
  metrics::Counter market_clearings;
  metrics::Counter market_trades;
  metrics::Counter market_cleared_wh;
  metrics::Counter market_settlements;
  metrics::Counter market_delivered_wh;
};

class Chain {
 public:
  Chain(Store& store, Mempool& mempool, std::string chain_id, int64_t genesis_time_ms);

  ChainTip Tip() const;
  // The set that signs the next block (tip + 1).
  pb::ValidatorSet Validators() const;
  // The set of `height` (contracts/state.h ValidatorsAt): known up to tip + 2.
  pb::ValidatorSet ValidatorsAt(int64_t height) const;
  pb::ParamsRecord Params() const;

  // A block at height tip+1 with txs from the mempool (a valid sequence, within block limits)
  // and the given evidence (already validated, not yet on chain).
  pb::Block Propose(int64_t time_ms, const std::string& proposer_address, const pb::Commit& last_commit,
                    const std::vector<pb::DuplicateVoteEvidence>& evidence = {}) const;

  // Everything a block must satisfy before it can be committed on top of the tip: header rules
  // (consensus/block.h) and that none of its evidence is already on chain.
  Status Validate(const pb::Block& block) const;

  // Validates `block`, verifies `commit` for it (unless the caller's consensus engine already
  // verified every signature in it), executes it and commits block, commit, results, tx index,
  // state and height in one synced batch. On error nothing changed.
  Status Commit(const pb::Block& block, const pb::Commit& commit, bool commit_verified = false);
  // Txs whose signatures Commit had checked on every core before executing them (not in this
  // node's mempool), since the process started; for tests and metrics.
  static uint64_t TxsWarmedBeforeExecution();
  const ChainMetrics& metrics() const { return metrics_; }

  // Blocks until `hash` is committed or timeout_ms passes; nullopt on timeout.
  std::optional<pb::TxLocation> WaitForTx(const Hash256& hash, int64_t timeout_ms);
  // Blocks until the tip passes `height` or timeout_ms; returns the tip height.
  int64_t WaitForHeightAbove(int64_t height, int64_t timeout_ms);
  // The node is stopping: every wait above returns now, and later ones at once. Without it a
  // client's ?wait=commit (up to 60 s) held the node's shutdown for its whole timeout whenever
  // the chain did not move (found by the fault harness: a node whose disk filled took seconds to
  // stop).
  void StopWaits();
  bool WaitsStopped() const;
  // Called after each commit (on the committing thread), e.g. for logs and streams.
  void SetCommitListener(std::function<void(const pb::Block&, const pb::BlockResults&)> fn) {
    listener_ = std::move(fn);
  }

 private:
  ChainTip LoadTip() const;
  void CountCommitted(const pb::Block& block, const pb::BlockResults& results,
                      const Overlay::Writes& writes, int64_t prev_time_ms,
                      std::chrono::steady_clock::time_point started);

  Store& store_;
  Mempool& mempool_;
  const std::string chain_id_;
  const int64_t genesis_time_ms_;
  mutable std::mutex mu_;
  std::condition_variable committed_cv_;
  bool waits_stopped_ = false;  // guarded by mu_
  ChainTip tip_;
  std::function<void(const pb::Block&, const pb::BlockResults&)> listener_;
  ChainMetrics metrics_;
};

}  // namespace v2g
