// Mempool: txs admitted after full validation (signature, chain id, nonce, balance) against the
// committed state plus the txs already pending, so the pool in admission order is always a
// sequence of txs that would all apply in order. Bounded by count, bytes and per sender.
// Thread-safe.
//
// Signatures are verified once, on admission; block execution asks Verified(hash) to skip them.
// After each committed block, Update() drops committed txs and re-applies the rest over the new
// state (no signature checks), evicting those that no longer apply.
//
// Priority (docs/DESIGN.md "Per-block work"): a tx's rate is its fee per fee unit (contracts/app.h
// TxFeeUnits; a fee in another denomination than the market's counts as 0). Reap() fills a block
// by rate, highest first, each sender's txs in nonce order, ties in admission order; so when
// blocks are full (params.block_units_max), a tx that pays more goes first and cheap spam waits.
// A tx's effective rate is the lowest of its own and its sender's earlier pending txs' (it cannot
// go before them): past kMempoolSoftPercent of its limits the pool admits only txs whose
// effective rate beats the cheapest it holds, so a pool filled with cheap spam still takes a tx
// that pays more. SuggestedFeePerUnit() tells a wallet what rate gets a new tx admitted and into
// the next block; it counts effective rates, so dear txs queued behind a cheap one of the same
// sender cannot pin it high. It also looks back: when one of the last few blocks was at least
// 3/4 full (of the fee units this pool held), it is one above the lowest rate that block took, as
// EIP-1559's base fee rises after full blocks. The pool drains with each block and spam comes in
// bursts, so without this a wallet asking in a lull would pay fee_min and queue behind every
// equal-rate tx of the next burst admitted before its own (ties go in admission order).
#pragma once

#include <array>
#include <atomic>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/limits.h"
#include "contracts/app.h"
#include "node/metrics.h"

namespace v2g {

struct MempoolLimits {
  int64_t txs_max = 0;
  int64_t bytes_max = 0;
  int64_t per_sender_max = 0;
  // Fee units pending: bounds the re-check after every block (one application per tx or reading).
  int64_t units_max = limits::kMempoolUnitsDefault;
};

struct MempoolStats {
  int64_t txs = 0;
  int64_t bytes = 0;
  int64_t units = 0;  // fee units of all pending txs (contracts/app.h TxFeeUnits)
};

// A fee per fee unit, kept as the fraction fee / units (units >= 1), compared exactly.
struct FeeRate {
  int64_t fee = 0;
  int64_t units = 1;
  // The smallest whole rate above this one: what a tx must offer per unit to beat it.
  int64_t NextWhole() const {
    const int64_t whole = fee / units;
    return whole < std::numeric_limits<int64_t>::max() ? whole + 1 : whole;
  }
};
bool operator<(const FeeRate& a, const FeeRate& b);
// The rate `body` offers under `params`: its fee (when in the market denomination) per fee unit.
FeeRate RateOf(const pb::TxBody& body, const pb::ParamsRecord& params);

class Mempool {
 public:
  Mempool(std::string chain_id, MempoolLimits limits);

  // Validates and admits a tx against `committed` (the latest committed state). Errors: the
  // tx's own (bad signature, nonce, funds, ...) or policy (kDuplicate, kMempoolFull, kSenderLimit).
  // The policy checks that depend on the fee run before the signature is verified.
  Result<Hash256> Add(std::string_view tx_bytes, const KvReader& committed);
  // Add in two steps, for a relay's batch: Prepare runs Add's checks that come before its locks
  // (duplicate, room at the tx's rate, decoding, the signature and a readings batch's) and admits
  // nothing, so it runs on every core at once (common/parallel.h; thread-safe); AddPrepared then
  // takes the locks and admits, in the batch's order on one thread, re-checking what may have
  // changed meanwhile (room, duplicates; a tx committed meanwhile fails its nonce). A tx Add would
  // refuse before its signature costs no verification in Prepare either. `committed` must be the
  // same reader in both.
  struct Prepared {
    Hash256 hash{};
    int64_t size = 0;
    pb::ParamsRecord params;
    FeeRate rate;
    CheckedTx checked;  // signature verified
  };
  Result<Prepared> Prepare(std::string_view tx_bytes, const KvReader& committed) const;
  Result<Hash256> AddPrepared(Prepared prepared, const KvReader& committed);
  // Txs refused by Add, Prepare or AddPrepared since start, by the code refused with (each
  // refusal counted once: Add is Prepare then AddPrepared), for GET /metrics. Codes past
  // kRefusalCodesMax count under kRefusalCodesMax - 1. Any thread.
  static constexpr size_t kRefusalCodesMax = 256;
  uint64_t Refused(Code code) const;
  uint64_t Admitted() const { return admitted_.Value(); }

  // The next block's txs: up to max_txs / max_bytes / max_units (fee units), by rate (see the top
  // of this file), stopping at the first tx that does not fit. Once that order leaves admission
  // order, each tx is applied in block order over the committed state, and one that would fail
  // there (it relied on another sender's tx left behind) is left out with the rest of its
  // sender's: it costs the block nothing and waits for a later one.
  std::vector<std::string> Reap(int64_t max_txs, int64_t max_bytes, int64_t max_units) const;
  bool Contains(const Hash256& hash) const;
  // True when the signature of this exact tx was verified on admission.
  bool Verified(const Hash256& hash) const { return Contains(hash); }

  // After a block commits: removes `committed` hashes and re-checks the rest against the new
  // committed state. Call with no concurrent Add (the node holds LockForCommit()). `succeeded`:
  // those of `committed` that applied (code 0); only they count for the suggested fee's look back,
  // so a Byzantine proposer cannot fake a full block with txs that fail unpaid (a nonce gap).
  void Update(const std::vector<Hash256>& committed, const KvReader& new_state,
              const std::vector<Hash256>& succeeded = {});
  // Held by the block committer across "write block" + Update so Add never validates against a
  // state that is about to change under it.
  std::unique_lock<std::mutex> LockForCommit() { return std::unique_lock<std::mutex>(commit_mu_); }

  // The block time the stateful checks assume: the latest committed block's (the next block's is
  // later). Without it a market order's trading window would be judged at time 0 and every order
  // rejected as not open yet. The chain sets it on start and before each Update(), with the height
  // of that block: the checks assume the next height (a validator set change or key rotation is
  // judged against the sets the next block sees).
  void SetBlockTime(int64_t time_ms, int64_t height = 0);

  MempoolStats Stats() const;
  // The fee per fee unit (minimal units of params.market_denom) a new tx should offer: fee_min,
  // or more when the pool is past its soft limit (one above its cheapest rate) or holds a quarter
  // of a block's units or more (one above the rate at which the next block fills, or above the
  // cheapest pending when all of it fits), or when one of the last few blocks was at least 3/4
  // full (one above the lowest rate it took). Never below fee_min.
  int64_t SuggestedFeePerUnit(const pb::ParamsRecord& params) const;
  // The nonce a new tx from `signer` should carry: one past its last committed or pending tx.
  uint64_t NextNonce(const Address& signer, const KvReader& committed) const;

 private:
  Result<Prepared> PrepareChecks(std::string_view tx_bytes, const KvReader& committed) const;
  Result<Hash256> AddPreparedChecks(Prepared prepared, const KvReader& committed);
  void CountRefusal(const Status& status) const;

  mutable std::array<metrics::Counter, kRefusalCodesMax> refused_;
  metrics::Counter admitted_;

  struct Entry {
    CheckedTx tx;
    uint64_t seq = 0;  // admission order
    int64_t units = 1;
    FeeRate rate;       // its own
    FeeRate effective;  // the lowest of its own and its sender's earlier pending txs'
  };
  void RebuildLocked(const KvReader& state);
  // kMempoolFull when a tx of `bytes` and `units` at `effective` rate has no room: over the hard
  // limits, or past the soft ones without beating the cheapest rate pending.
  Status RoomLocked(int64_t bytes, int64_t units, const FeeRate& effective) const;
  bool PastSoftLimitLocked(int64_t bytes, int64_t units) const;
  // The effective rate of a new tx of `signer` offering `rate`.
  FeeRate EffectiveLocked(const Address& signer, const FeeRate& rate) const;
  void CountLocked(const Entry& e);

  const std::string chain_id_;
  const MempoolLimits limits_;
  std::mutex commit_mu_;  // ordering: commit_mu_ before mu_
  mutable std::mutex mu_;
  std::deque<Entry> entries_;  // admission order
  std::set<Hash256> index_;    // hashes of entries_
  std::map<Address, int64_t> per_sender_;
  std::map<Address, FeeRate> sender_floor_;   // the lowest rate of each sender's pending txs
  std::map<FeeRate, int64_t> units_by_rate_;  // pending fee units at each effective rate
  int64_t bytes_ = 0;
  int64_t units_ = 0;
  // The last kMempoolFullBlocksRemembered committed blocks, as far as this pool held their txs:
  // each one's fee units and lowest rate (newest last).
  struct BlockFill {
    int64_t units = 0;
    FeeRate floor;
  };
  std::deque<BlockFill> recent_blocks_;
  uint64_t next_seq_ = 0;
  int64_t block_time_ms_ = 0;
  int64_t next_height_ = 1;
  // Pending state: committed state + all entries applied in order. Rebuilt after each block.
  const KvReader* base_ = nullptr;
  std::unique_ptr<Overlay> pending_;
};

}  // namespace v2g
