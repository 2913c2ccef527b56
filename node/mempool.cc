#include "node/mempool.h"

#include "contracts/state.h"

namespace v2g {

Mempool::Mempool(std::string chain_id, MempoolLimits limits)
    : chain_id_(std::move(chain_id)), limits_(limits) {
  V2G_ASSERT(limits_.txs_max > 0 && limits_.bytes_max > 0 && limits_.per_sender_max > 0);
}

Result<Hash256> Mempool::Add(std::string_view tx_bytes, const KvReader& committed) {
  const pb::ParamsRecord params = LoadParams(committed);
  // Cheap policy checks first, before the ~50 us signature check.
  Hash256 hash = Blake2b256(tx_bytes);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (index_.count(hash)) return Error(Code::kDuplicate, "tx " + TxHashHex(hash) + " is already in the mempool");
    if (static_cast<int64_t>(entries_.size()) >= limits_.txs_max ||
        bytes_ + static_cast<int64_t>(tx_bytes.size()) > limits_.bytes_max) {
      return Error(Code::kMempoolFull, "mempool is full (" + std::to_string(entries_.size()) + " txs); retry later");
    }
  }
  if (committed.Get("t/" + HashString(hash))) {
    return Error(Code::kDuplicate, "tx " + TxHashHex(hash) + " is already committed");
  }
  // Verified outside the locks so API threads check signatures in parallel.
  auto checked = CheckTxStateless(tx_bytes, chain_id_, params, /*verify_signature=*/true);
  if (!checked.ok()) return checked.status();
  std::lock_guard<std::mutex> commit_lock(commit_mu_);
  std::lock_guard<std::mutex> lock(mu_);
  if (index_.count(hash)) return Error(Code::kDuplicate, "tx " + TxHashHex(hash) + " is already in the mempool");
  // Again under the lock: other threads may have filled the pool while this one verified.
  if (static_cast<int64_t>(entries_.size()) >= limits_.txs_max ||
      bytes_ + static_cast<int64_t>(tx_bytes.size()) > limits_.bytes_max) {
    return Error(Code::kMempoolFull, "mempool is full (" + std::to_string(entries_.size()) + " txs); retry later");
  }
  if (per_sender_[checked->signer] >= limits_.per_sender_max) {
    return Error(Code::kSenderLimit, EncodeAddress(checked->signer) + " already has " +
                                         std::to_string(limits_.per_sender_max) + " txs pending");
  }
  if (!pending_ || base_ != &committed) {
    base_ = &committed;
    RebuildLocked(committed);
  }
  BlockContext ctx{chain_id_, 0, block_time_ms_, Address{}};
  V2G_RETURN_IF_ERROR(ApplyTx(*checked, ctx, params, *pending_));
  per_sender_[checked->signer]++;
  bytes_ += static_cast<int64_t>(tx_bytes.size());
  index_.insert(hash);
  entries_.push_back(Entry{std::move(*checked)});
  return hash;
}

std::vector<std::string> Mempool::Reap(int64_t max_txs, int64_t max_bytes) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  int64_t bytes = 0;
  for (const auto& e : entries_) {
    if (static_cast<int64_t>(out.size()) >= max_txs) break;
    if (bytes + static_cast<int64_t>(e.tx.bytes.size()) > max_bytes) break;
    bytes += static_cast<int64_t>(e.tx.bytes.size());
    out.push_back(e.tx.bytes);
  }
  return out;
}

bool Mempool::Contains(const Hash256& hash) const {
  std::lock_guard<std::mutex> lock(mu_);
  return index_.count(hash) > 0;
}

void Mempool::Update(const std::vector<Hash256>& committed, const KvReader& new_state) {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<Hash256> done(committed.begin(), committed.end());
  std::deque<Entry> keep;
  for (auto& e : entries_) {
    if (!done.count(e.tx.hash)) keep.push_back(std::move(e));
  }
  entries_ = std::move(keep);
  base_ = &new_state;
  RebuildLocked(new_state);
}

void Mempool::RebuildLocked(const KvReader& state) {
  pending_ = std::make_unique<Overlay>(&state);
  BlockContext ctx{chain_id_, 0, block_time_ms_, Address{}};
  const pb::ParamsRecord params = LoadParams(state);
  std::deque<Entry> keep;
  index_.clear();
  per_sender_.clear();
  bytes_ = 0;
  for (auto& e : entries_) {
    // Signatures were verified on admission; only the state-dependent rules can fail now.
    if (!ApplyTx(e.tx, ctx, params, *pending_).ok()) continue;
    per_sender_[e.tx.signer]++;
    bytes_ += static_cast<int64_t>(e.tx.bytes.size());
    index_.insert(e.tx.hash);
    keep.push_back(std::move(e));
  }
  entries_ = std::move(keep);
}

uint64_t Mempool::NextNonce(const Address& signer, const KvReader& committed) const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t n = LoadAccount(committed, signer).nonce();
  if (pending_ && per_sender_.count(signer)) n = std::max(n, LoadAccount(*pending_, signer).nonce());
  return n + 1;
}

void Mempool::SetBlockTime(int64_t time_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  block_time_ms_ = time_ms;
}

MempoolStats Mempool::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {static_cast<int64_t>(entries_.size()), bytes_};
}

}  // namespace v2g
