// Mempool: txs admitted after full validation (signature, chain id, nonce, balance) against the
// committed state plus the txs already pending, so the pool is always a sequence of txs that
// would all apply in order. Bounded by count, bytes and per sender. Thread-safe.
//
// Signatures are verified once, on admission; block execution asks Verified(hash) to skip them.
// After each committed block, Update() drops committed txs and re-applies the rest over the new
// state (no signature checks), evicting those that no longer apply.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "contracts/app.h"

namespace v2g {

struct MempoolLimits {
  int64_t txs_max = 0;
  int64_t bytes_max = 0;
  int64_t per_sender_max = 0;
};

struct MempoolStats {
  int64_t txs = 0;
  int64_t bytes = 0;
};

class Mempool {
 public:
  Mempool(std::string chain_id, MempoolLimits limits);

  // Validates and admits a tx against `committed` (the latest committed state). Errors: the
  // tx's own (bad signature, nonce, funds, ...) or policy (kDuplicate, kMempoolFull, kSenderLimit).
  Result<Hash256> Add(std::string_view tx_bytes, const KvReader& committed);

  // Up to max_txs / max_bytes txs in admission order (a valid sequence).
  std::vector<std::string> Reap(int64_t max_txs, int64_t max_bytes) const;
  bool Contains(const Hash256& hash) const;
  // True when the signature of this exact tx was verified on admission.
  bool Verified(const Hash256& hash) const { return Contains(hash); }

  // After a block commits: removes `committed` hashes and re-checks the rest against the new
  // committed state. Call with no concurrent Add (the node holds LockForCommit()).
  void Update(const std::vector<Hash256>& committed, const KvReader& new_state);
  // Held by the block committer across "write block" + Update so Add never validates against a
  // state that is about to change under it.
  std::unique_lock<std::mutex> LockForCommit() { return std::unique_lock<std::mutex>(commit_mu_); }

  // The block time the stateful checks assume: the latest committed block's (the next block's is
  // later). Without it a market order's trading window would be judged at time 0 and every order
  // rejected as not open yet. The chain sets it on start and before each Update().
  void SetBlockTime(int64_t time_ms);

  MempoolStats Stats() const;
  // The nonce a new tx from `signer` should carry: one past its last committed or pending tx.
  uint64_t NextNonce(const Address& signer, const KvReader& committed) const;

 private:
  struct Entry {
    CheckedTx tx;
  };
  void RebuildLocked(const KvReader& state);

  const std::string chain_id_;
  const MempoolLimits limits_;
  std::mutex commit_mu_;  // ordering: commit_mu_ before mu_
  mutable std::mutex mu_;
  std::deque<Entry> entries_;
  std::set<Hash256> index_;  // hashes of entries_
  std::map<Address, int64_t> per_sender_;
  int64_t bytes_ = 0;
  int64_t block_time_ms_ = 0;
  // Pending state: committed state + all entries applied in order. Rebuilt after each block.
  const KvReader* base_ = nullptr;
  std::unique_ptr<Overlay> pending_;
};

}  // namespace v2g
