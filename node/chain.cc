#include "node/chain.h"

#include <atomic>
#include <chrono>
#include <limits>

#include "common/parallel.h"
#include "contracts/market.h"
#include "contracts/meters.h"
#include "contracts/state.h"
#include "contracts/state_tree.h"

namespace v2g {
namespace {

// The most fee units a block's txs may carry (params.block_units_max; 0 in a record from before it
// existed: no bound beyond block_txs_max).
int64_t BlockUnitsMax(const pb::ParamsRecord& params) {
  return params.block_units_max() > 0 ? params.block_units_max() : std::numeric_limits<int64_t>::max();
}

}  // namespace

Status CheckBlockUnits(const pb::Block& block, const pb::ParamsRecord& params) {
  const int64_t max = BlockUnitsMax(params);
  int64_t units = 0;
  for (const auto& tx : block.txs()) {
    units += TxBytesFeeUnits(tx);
    if (units > max) {
      return Error(Code::kInvalidArgument, "block " + std::to_string(block.header().height()) +
                                               ": its txs carry more than block_units_max = " + std::to_string(max) +
                                               " fee units");
    }
  }
  return Status::Ok();
}

Chain::Chain(Store& store, Mempool& mempool, std::string chain_id, int64_t genesis_time_ms)
    : store_(store), mempool_(mempool), chain_id_(std::move(chain_id)), genesis_time_ms_(genesis_time_ms) {
  tip_ = LoadTip();
  mempool_.SetBlockTime(tip_.time_ms, tip_.height);
}

ChainTip Chain::LoadTip() const {
  ChainTip t;
  t.chain_id = chain_id_;
  t.height = store_.Height();
  t.validators_hash = HashString(ValidatorSetHash(LoadValidators(store_.state())));
  t.next_validators_hash = HashString(ValidatorSetHash(ValidatorsAt(t.height + 2)));
  if (t.height == 0) {
    t.time_ms = genesis_time_ms_;
    t.app_hash = store_.GenesisAppHash();
    return t;
  }
  auto block = store_.LoadBlock(t.height);
  auto results = store_.LoadResults(t.height);
  V2G_ASSERT(block && results);  // written in the same batch as m/height
  t.block_id = HashString(BlockId(block->header()));
  t.time_ms = block->header().time_ms();
  t.app_hash = results->app_hash();
  return t;
}

ChainTip Chain::Tip() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tip_;
}

pb::ValidatorSet Chain::Validators() const { return LoadValidators(store_.state()); }
pb::ValidatorSet Chain::ValidatorsAt(int64_t height) const {
  return v2g::ValidatorsAt(store_.state(), height);
}
pb::ParamsRecord Chain::Params() const { return LoadParams(store_.state()); }

pb::Block Chain::Propose(int64_t time_ms, const std::string& proposer_address, const pb::Commit& last_commit,
                         const std::vector<pb::DuplicateVoteEvidence>& evidence) const {
  const ChainTip tip = Tip();
  const pb::ParamsRecord params = Params();
  pb::Block block;
  std::vector<std::string> txs =
      mempool_.Reap(params.block_txs_max(), params.block_bytes_max(), BlockUnitsMax(params));
  for (const auto& tx : txs) block.add_txs(tx);
  for (const auto& ev : evidence) {
    if (block.evidence_size() >= kBlockEvidenceMax) break;
    *block.add_evidence() = ev;
  }
  pb::Header* h = block.mutable_header();
  h->set_chain_id(chain_id_);
  h->set_height(tip.height + 1);
  h->set_time_ms(time_ms);
  h->set_last_block_id(tip.block_id);
  if (tip.height > 0) *block.mutable_last_commit() = last_commit;
  h->set_last_commit_hash(HashString(CommitHash(block.last_commit())));
  h->set_data_hash(HashString(MerkleRoot(txs)));
  h->set_app_hash(tip.app_hash);
  h->set_validators_hash(tip.validators_hash);
  h->set_next_validators_hash(tip.next_validators_hash);
  h->set_proposer_address(proposer_address);
  h->set_evidence_hash(HashString(EvidenceHash(block)));
  return block;
}

Status Chain::Validate(const pb::Block& block) const {
  const pb::ParamsRecord params = Params();
  V2G_RETURN_IF_ERROR(ValidateBlock(
      block, Tip(), [this](int64_t height) { return ValidatorsAt(height); }, params));
  // The per-block work bound (docs/DESIGN.md "Per-block work"): a proposer that packs more is
  // refused like one that packs too many bytes.
  V2G_RETURN_IF_ERROR(CheckBlockUnits(block, params));
  for (const auto& ev : block.evidence()) {
    if (store_.state().Get(EvidenceKey(ev.vote_a()))) {
      return Error(Code::kAlreadyExists, "block " + std::to_string(block.header().height()) +
                                             ": evidence is already on chain");
    }
  }
  return Status::Ok();
}

Result<pb::BlockResults> ExecuteFullBlock(
    const pb::Block& block, const std::string& chain_id,
    const std::function<bool(const Hash256&)>& already_verified, Overlay& state,
    const KvReader& tree, std::vector<Hash256>* tx_hashes, Overlay::Writes& tree_writes) {
  auto proposer = AddressFromBytes(block.header().proposer_address());
  V2G_ASSERT(proposer.ok());  // ValidateBlock checked it is a validator's address
  BlockContext ctx{chain_id, block.header().height(), block.header().time_ms(), *proposer};
  std::vector<std::string> txs(block.txs().begin(), block.txs().end());
  BlockOutcome outcome = ExecuteBlock(ctx, txs, already_verified, state);
  // Proven equivocations are recorded against the validator (validated before execution).
  for (const auto& ev : block.evidence()) state.Put(EvidenceKey(ev.vote_a()), Encode(ev));
  pb::BlockResults results;
  for (auto& r : outcome.results) *results.add_tx_results() = std::move(r);
  auto updated = UpdateStateTree(tree, block.header().height(), state.writes());
  if (!updated.ok()) return updated.status();
  results.set_app_hash(HashString(updated->root));
  tree_writes = std::move(updated->writes);
  if (tx_hashes) *tx_hashes = std::move(outcome.tx_hashes);
  return results;
}

namespace {

std::atomic<uint64_t> g_txs_warmed{0};

// Verifies, on every core (common/parallel.h), the signatures of the txs of `block` that this node
// has not verified already (not in its mempool: a block from sync, or txs gossip did not bring),
// and their readings' or devices' proofs, into the signature cache; execution, which checks each
// in block order on this thread, then finds the verdicts there. Changes nothing else, so it
// cannot change a result: a tx that fails here fails the same way in execution.
void WarmBlockSignatures(const pb::Block& block, const std::string& chain_id,
                         const std::function<bool(const Hash256&)>& already_verified,
                         const KvReader& committed) {
  // Usually every tx came by gossip and is verified already: then nothing wakes the workers.
  std::vector<const std::string*> unseen;
  for (const std::string& bytes : block.txs()) {
    if (!already_verified(Blake2b256(bytes))) unseen.push_back(&bytes);
  }
  if (unseen.empty()) return;
  g_txs_warmed.fetch_add(unseen.size(), std::memory_order_relaxed);
  const pb::ParamsRecord params = LoadParams(committed);
  ParallelFor(unseen.size(), [&](size_t i) {
    const std::string& bytes = *unseen[i];
    auto checked = CheckTxStateless(bytes, chain_id, params, /*verify_signature=*/true);
    if (!checked.ok()) return;
    WarmReadingSignatures(checked->body, committed, chain_id, checked->signer);
  });
}

}  // namespace

uint64_t Chain::TxsWarmedBeforeExecution() { return g_txs_warmed.load(std::memory_order_relaxed); }

namespace {

int64_t MicrosSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

// The markets a block cleared or settled, read from its state writes (at most the block's own
// work, which its fee units bound).
void CountMarkets(const Overlay::Writes& writes, int64_t height, ChainMetrics& m) {
  for (auto it = writes.lower_bound(kMarketPrefix);
       it != writes.end() && it->first.starts_with(kMarketPrefix); ++it) {
    pb::MarketRecord r;
    if (!it->second || !r.ParseFromString(*it->second)) continue;
    // Both when one block cleared and settled it (a chain that halted past both times).
    if (r.status() >= pb::MARKET_CLEARED && r.cleared_height() == height) {
      m.market_clearings.Inc();
      m.market_trades.Inc(r.trades());
      m.market_cleared_wh.Inc(static_cast<uint64_t>(std::max<int64_t>(r.cleared_energy_wh(), 0)));
    }
    if (r.status() == pb::MARKET_SETTLED && r.settled_height() == height) {
      m.market_settlements.Inc();
      m.market_delivered_wh.Inc(
          static_cast<uint64_t>(std::max<int64_t>(r.delivered_energy_wh(), 0)));
    }
  }
}

}  // namespace

Status Chain::Commit(const pb::Block& block, const pb::Commit& commit, bool commit_verified) {
  const auto started = std::chrono::steady_clock::now();
  const ChainTip tip = Tip();
  V2G_RETURN_IF_ERROR(Validate(block));
  const std::string block_id = HashString(BlockId(block.header()));
  if (!commit_verified) {
    V2G_RETURN_IF_ERROR(VerifyCommit(chain_id_, Validators(), block.header().height(), block_id, commit));
  }
  const auto verified_here = [&](const Hash256& h) { return mempool_.Verified(h); };
  WarmBlockSignatures(block, chain_id_, verified_here, store_.state());
  Overlay state(&store_.state());
  BlockToCommit b;
  b.block = block;
  b.block_id = block_id;
  b.commit = commit;
  Overlay::Writes tree_writes;
  auto results = ExecuteFullBlock(block, chain_id_, verified_here, state, store_.state(),
                                  &b.tx_hashes, tree_writes);
  if (!results.ok()) return results.status();
  b.results = std::move(*results);
  b.state_changes = &state.writes();
  b.tree_writes = &tree_writes;
  {
    auto commit_lock = mempool_.LockForCommit();
    const auto write_started = std::chrono::steady_clock::now();
    V2G_RETURN_IF_ERROR(store_.CommitBlock(b));
    metrics_.store_write_us.Observe(MicrosSince(write_started));
    mempool_.SetBlockTime(block.header().time_ms(), block.header().height());
    std::vector<Hash256> succeeded;
    for (size_t i = 0; i < b.tx_hashes.size() && i < static_cast<size_t>(b.results.tx_results_size()); ++i) {
      if (b.results.tx_results(static_cast<int>(i)).code() == 0) succeeded.push_back(b.tx_hashes[i]);
    }
    mempool_.Update(b.tx_hashes, store_.state(), succeeded);
    // The sets of the next two heights (a governance change in this block names the second).
    const std::string vals_hash = HashString(ValidatorSetHash(LoadValidators(store_.state())));
    const std::string next_vals_hash =
        HashString(ValidatorSetHash(ValidatorsAt(block.header().height() + 2)));
    std::lock_guard<std::mutex> lock(mu_);
    tip_.validators_hash = vals_hash;
    tip_.next_validators_hash = next_vals_hash;
    tip_.height = block.header().height();
    tip_.block_id = block_id;
    tip_.time_ms = block.header().time_ms();
    tip_.app_hash = b.results.app_hash();
  }
  committed_cv_.notify_all();
  CountCommitted(block, b.results, state.writes(), tip.time_ms, started);
  if (listener_) listener_(block, b.results);
  return Status::Ok();
}

void Chain::CountCommitted(const pb::Block& block, const pb::BlockResults& results,
                           const Overlay::Writes& writes, int64_t prev_time_ms,
                           std::chrono::steady_clock::time_point started) {
  metrics_.commit_us.Observe(MicrosSince(started));
  metrics_.blocks.Inc();
  uint64_t failed = 0;
  for (const auto& r : results.tx_results()) failed += r.code() != 0;
  metrics_.txs_failed.Inc(failed);
  metrics_.txs_ok.Inc(static_cast<uint64_t>(results.tx_results_size()) - failed);
  metrics_.evidence.Inc(static_cast<uint64_t>(block.evidence_size()));
  metrics_.block_txs.Observe(block.txs_size());
  metrics_.block_bytes.Observe(static_cast<int64_t>(block.ByteSizeLong()));
  if (block.header().height() > 1) {
    metrics_.block_interval_us.Observe((block.header().time_ms() - prev_time_ms) * 1000);
  }
  CountMarkets(writes, block.header().height(), metrics_);
}

std::optional<pb::TxLocation> Chain::WaitForTx(const Hash256& hash, int64_t timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    // The store is written before tip_ moves, so a commit after `seen` is read either by the load
    // below or wakes the wait: no notification can be missed.
    const int64_t seen = tip_.height;
    lock.unlock();
    auto loc = store_.LoadTxLocation(hash);
    if (loc) return loc;
    lock.lock();
    if (!committed_cv_.wait_until(lock, deadline, [&] { return tip_.height != seen || waits_stopped_; }) ||
        waits_stopped_) {
      lock.unlock();
      return store_.LoadTxLocation(hash);
    }
  }
}

bool Chain::WaitsStopped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waits_stopped_;
}

void Chain::StopWaits() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    waits_stopped_ = true;
  }
  committed_cv_.notify_all();
}

int64_t Chain::WaitForHeightAbove(int64_t height, int64_t timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock<std::mutex> lock(mu_);
  committed_cv_.wait_until(lock, deadline, [&] { return tip_.height > height || waits_stopped_; });
  return tip_.height;
}

}  // namespace v2g
