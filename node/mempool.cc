#include "node/mempool.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <queue>

#include "common/checked.h"
#include "common/limits.h"
#include "common/signbytes.h"
#include "contracts/meters.h"
#include "contracts/state.h"

namespace v2g {

bool operator<(const FeeRate& a, const FeeRate& b) {
  // fee <= int64 max and units <= 1 + kReadingsPerTxMax: the products fit in 128 bits.
  return static_cast<Int128>(a.fee) * b.units < static_cast<Int128>(b.fee) * a.units;
}

FeeRate RateOf(const pb::TxBody& body, const pb::ParamsRecord& params) {
  FeeRate r;
  r.units = std::max<int64_t>(1, TxFeeUnits(body));
  if (body.has_fee() && body.fee().denom() == params.market_denom()) r.fee = std::max<int64_t>(0, body.fee().amount());
  return r;
}

Mempool::Mempool(std::string chain_id, MempoolLimits limits)
    : chain_id_(std::move(chain_id)), limits_(limits) {
  V2G_ASSERT(limits_.txs_max > 0 && limits_.bytes_max > 0 && limits_.per_sender_max > 0);
}

bool Mempool::PastSoftLimitLocked(int64_t bytes, int64_t units) const {
  const auto txs = static_cast<int64_t>(entries_.size());
  return txs * 100 >= limits_.txs_max * limits::kMempoolSoftPercent ||
         (bytes_ + bytes) * 100 > limits_.bytes_max * limits::kMempoolSoftPercent ||
         (units_ + units) * 100 > limits_.units_max * limits::kMempoolSoftPercent;
}

Status Mempool::RoomLocked(int64_t bytes, int64_t units, const FeeRate& effective) const {
  const auto txs = static_cast<int64_t>(entries_.size());
  if (txs >= limits_.txs_max || bytes_ + bytes > limits_.bytes_max || units_ + units > limits_.units_max) {
    return Error(Code::kMempoolFull, "mempool is full (" + std::to_string(txs) + " txs, " + std::to_string(units_) +
                                         " fee units); retry later");
  }
  // Past the soft limit only a better rate than the cheapest pending gets in (node/mempool.h).
  if (PastSoftLimitLocked(bytes, units) && !units_by_rate_.empty() && !(units_by_rate_.begin()->first < effective)) {
    const FeeRate& low = units_by_rate_.begin()->first;
    return Error(Code::kMempoolFull, "mempool is busy (" + std::to_string(txs) + " txs): past " +
                                         std::to_string(limits::kMempoolSoftPercent) +
                                         "% of its limit it admits only txs paying at least " +
                                         std::to_string(low.NextWhole()) +
                                         " per fee unit (GET /v1/status: mempool.fee_per_unit), and not queued "
                                         "behind a cheaper tx of the same sender; this tx pays " +
                                         std::to_string(effective.fee) + " for " + std::to_string(effective.units) +
                                         " units; retry later or pay more");
  }
  return Status::Ok();
}

FeeRate Mempool::EffectiveLocked(const Address& signer, const FeeRate& rate) const {
  auto it = sender_floor_.find(signer);
  return it != sender_floor_.end() && it->second < rate ? it->second : rate;
}

void Mempool::CountRefusal(const Status& status) const {
  const auto code = static_cast<size_t>(status.code());
  refused_[std::min(code, kRefusalCodesMax - 1)].Inc();
}

uint64_t Mempool::Refused(Code code) const {
  return refused_[std::min(static_cast<size_t>(code), kRefusalCodesMax - 1)].Value();
}

Result<Mempool::Prepared> Mempool::Prepare(std::string_view tx_bytes, const KvReader& committed) const {
  auto p = PrepareChecks(tx_bytes, committed);
  if (!p.ok()) CountRefusal(p.status());
  return p;
}

Result<Hash256> Mempool::AddPrepared(Prepared prepared, const KvReader& committed) {
  auto added = AddPreparedChecks(std::move(prepared), committed);
  if (added.ok()) {
    admitted_.Inc();
  } else {
    CountRefusal(added.status());
  }
  return added;
}

// Add's checks before its locks: everything that needs no pending state, the signature last.
Result<Mempool::Prepared> Mempool::PrepareChecks(std::string_view tx_bytes,
                                                 const KvReader& committed) const {
  const pb::ParamsRecord params = LoadParams(committed);
  const auto size = static_cast<int64_t>(tx_bytes.size());
  // Cheap policy checks first, before the ~50 us signature check.
  Hash256 hash = Blake2b256(tx_bytes);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (index_.count(hash)) return Error(Code::kDuplicate, "tx " + TxHashHex(hash) + " is already in the mempool");
    V2G_RETURN_IF_ERROR(RoomLocked(size, 1, FeeRate{std::numeric_limits<int64_t>::max(), 1}));
  }
  if (committed.Get("t/" + HashString(hash))) {
    return Error(Code::kDuplicate, "tx " + TxHashHex(hash) + " is already committed");
  }
  // Decoded and checked first without the signature, so a tx the pool has no room for at its
  // rate costs no verification.
  auto checked = CheckTxStateless(tx_bytes, chain_id_, params, /*verify_signature=*/false);
  if (!checked.ok()) return checked.status();
  Prepared p;
  p.hash = hash;
  p.size = size;
  p.rate = RateOf(checked->body, params);
  {
    std::lock_guard<std::mutex> lock(mu_);
    V2G_RETURN_IF_ERROR(RoomLocked(size, p.rate.units, EffectiveLocked(checked->signer, p.rate)));
  }
  // Verified outside the locks so API threads check signatures in parallel (cached, also when it
  // fails: contracts/app.cc CheckTxStateless).
  if (!VerifyRawCached(checked->tx.signer_pubkey(), TxSignBytes(chain_id_, checked->tx.body()),
                       checked->tx.signature())) {
    return Error(Code::kBadSignature, "signature does not verify against signer_pubkey");
  }
  // A readings batch's signatures too, so its application under the locks below finds them
  // cached: the API threads that run this are niced (node/api/http_server.cc), and the block
  // committer waits for these locks.
  WarmReadingSignatures(checked->body, committed, chain_id_, checked->signer);
  p.params = params;
  p.checked = std::move(*checked);
  return p;
}

Result<Hash256> Mempool::Add(std::string_view tx_bytes, const KvReader& committed) {
  auto prepared = Prepare(tx_bytes, committed);
  if (!prepared.ok()) return prepared.status();
  return AddPrepared(std::move(*prepared), committed);
}

Result<Hash256> Mempool::AddPreparedChecks(Prepared prepared, const KvReader& committed) {
  const Hash256 hash = prepared.hash;
  const int64_t size = prepared.size;
  const pb::ParamsRecord& params = prepared.params;
  Entry entry;
  entry.rate = prepared.rate;
  entry.units = prepared.rate.units;
  CheckedTx* checked = &prepared.checked;
  std::lock_guard<std::mutex> commit_lock(commit_mu_);
  std::lock_guard<std::mutex> lock(mu_);
  if (index_.count(hash)) return Error(Code::kDuplicate, "tx " + TxHashHex(hash) + " is already in the mempool");
  // Again under the lock: other threads may have filled the pool while this one verified.
  entry.effective = EffectiveLocked(checked->signer, entry.rate);
  V2G_RETURN_IF_ERROR(RoomLocked(size, entry.units, entry.effective));
  if (per_sender_[checked->signer] >= limits_.per_sender_max) {
    return Error(Code::kSenderLimit, EncodeAddress(checked->signer) + " already has " +
                                         std::to_string(limits_.per_sender_max) + " txs pending");
  }
  if (!pending_ || base_ != &committed) {
    base_ = &committed;
    RebuildLocked(committed);
  }
  BlockContext ctx{chain_id_, next_height_, block_time_ms_, Address{}, /*admission=*/true};
  V2G_RETURN_IF_ERROR(ApplyTx(*checked, ctx, params, *pending_));
  entry.tx = std::move(*checked);
  entry.seq = next_seq_++;
  CountLocked(entry);
  entries_.push_back(std::move(entry));
  return hash;
}

void Mempool::CountLocked(const Entry& e) {
  per_sender_[e.tx.signer]++;
  sender_floor_[e.tx.signer] = e.effective;  // effective <= every earlier one of the sender's
  bytes_ += static_cast<int64_t>(e.tx.bytes.size());
  units_ += e.units;
  units_by_rate_[e.effective] += e.units;
  index_.insert(e.tx.hash);
}

std::vector<std::string> Mempool::Reap(int64_t max_txs, int64_t max_bytes, int64_t max_units) const {
  std::lock_guard<std::mutex> lock(mu_);
  // Each sender's txs in admission order, which is their nonce order.
  std::map<Address, std::vector<size_t>> queues;
  for (size_t i = 0; i < entries_.size(); ++i) queues[entries_[i].tx.signer].push_back(i);
  struct Head {
    const std::vector<size_t>* queue;
    size_t pos;
    size_t entry() const { return (*queue)[pos]; }
  };
  // Lower priority: a lower rate, or the same rate admitted later.
  auto lower = [this](const Head& a, const Head& b) {
    const Entry& x = entries_[a.entry()];
    const Entry& y = entries_[b.entry()];
    if (x.rate < y.rate) return true;
    if (y.rate < x.rate) return false;
    return x.seq > y.seq;
  };
  std::priority_queue<Head, std::vector<Head>, decltype(lower)> heads(lower);
  for (const auto& [signer, queue] : queues) heads.push(Head{&queue, 0});
  std::vector<size_t> picked;
  int64_t bytes = 0, units = 0;
  // While the picks follow admission order they are a prefix of the pending sequence, known to
  // apply. From the first one out of that order on, each pick is applied here in block order:
  // one that fails (it relied on another sender's tx left behind, such as the transfer that funds
  // it) is left out, counts nothing, and holds back the rest of its sender's txs, so txs that
  // could not apply never fill a block in place of ones that can.
  std::optional<Overlay> sim;
  std::optional<pb::ParamsRecord> params;
  const BlockContext ctx{chain_id_, next_height_, block_time_ms_, Address{}};
  while (!heads.empty() && static_cast<int64_t>(picked.size()) < max_txs) {
    const Head h = heads.top();
    heads.pop();
    const Entry& e = entries_[h.entry()];
    if (bytes + static_cast<int64_t>(e.tx.bytes.size()) > max_bytes || units + e.units > max_units) break;
    if (!sim && h.entry() != picked.size()) {
      V2G_ASSERT(base_ != nullptr);  // entries exist, so Add has set it
      sim.emplace(base_);
      params = LoadParams(*base_);
      for (size_t i : picked) (void)ApplyTx(entries_[i].tx, ctx, *params, *sim);
    }
    if (sim && !ApplyTx(e.tx, ctx, *params, *sim).ok()) continue;
    bytes += static_cast<int64_t>(e.tx.bytes.size());
    units += e.units;
    picked.push_back(h.entry());
    if (h.pos + 1 < h.queue->size()) heads.push(Head{h.queue, h.pos + 1});
  }
  std::vector<std::string> out;
  out.reserve(picked.size());
  for (size_t i : picked) out.push_back(entries_[i].tx.bytes);
  return out;
}

bool Mempool::Contains(const Hash256& hash) const {
  std::lock_guard<std::mutex> lock(mu_);
  return index_.count(hash) > 0;
}

void Mempool::Update(const std::vector<Hash256>& committed, const KvReader& new_state,
                     const std::vector<Hash256>& succeeded) {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<Hash256> done(committed.begin(), committed.end());
  const std::set<Hash256> paid(succeeded.begin(), succeeded.end());
  std::deque<Entry> keep;
  BlockFill fill{0, FeeRate{std::numeric_limits<int64_t>::max(), 1}};
  for (auto& e : entries_) {
    if (!done.count(e.tx.hash)) {
      keep.push_back(std::move(e));
      continue;
    }
    if (!paid.count(e.tx.hash)) continue;
    fill.units += e.units;  // at most the pool's units_max
    if (e.rate < fill.floor) fill.floor = e.rate;
  }
  recent_blocks_.push_back(fill);
  if (recent_blocks_.size() > limits::kMempoolFullBlocksRemembered) recent_blocks_.pop_front();
  entries_ = std::move(keep);
  base_ = &new_state;
  RebuildLocked(new_state);
}

void Mempool::RebuildLocked(const KvReader& state) {
  pending_ = std::make_unique<Overlay>(&state);
  BlockContext ctx{chain_id_, next_height_, block_time_ms_, Address{}, /*admission=*/true};
  const pb::ParamsRecord params = LoadParams(state);
  std::deque<Entry> keep;
  index_.clear();
  per_sender_.clear();
  sender_floor_.clear();
  units_by_rate_.clear();
  bytes_ = 0;
  units_ = 0;
  for (auto& e : entries_) {
    // Signatures were verified on admission; only the state-dependent rules can fail now.
    if (!ApplyTx(e.tx, ctx, params, *pending_).ok()) continue;
    e.effective = EffectiveLocked(e.tx.signer, e.rate);  // its earlier txs may have left
    CountLocked(e);
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

void Mempool::SetBlockTime(int64_t time_ms, int64_t height) {
  std::lock_guard<std::mutex> lock(mu_);
  block_time_ms_ = time_ms;
  next_height_ = height + 1;
}

MempoolStats Mempool::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {static_cast<int64_t>(entries_.size()), bytes_, units_};
}

int64_t Mempool::SuggestedFeePerUnit(const pb::ParamsRecord& params) const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t want = std::clamp<int64_t>(params.fee_min(), 0, limits::kFeeMinMax);
  // Beat the lowest rate of every recent block that was nearly full (see node/mempool.h).
  const int64_t block_max = params.block_units_max();
  for (const BlockFill& b : recent_blocks_) {
    if (block_max > 0 && b.units > 0 && b.units * 100 >= block_max * limits::kMempoolFullBlockPercent) {
      want = std::max(want, b.floor.NextWhole());
    }
  }
  if (units_by_rate_.empty()) return want;
  // Past the soft limit (RoomLocked, for a one-unit tx of the largest size): beat the cheapest
  // pending.
  if (PastSoftLimitLocked(params.tx_bytes_max(), 1)) {
    want = std::max(want, units_by_rate_.begin()->first.NextWhole());
  }
  // A quarter of a block or more pending: beat the rate at which the next block fills (or, when
  // all that is pending fits in it, the cheapest pending), counting effective rates (a tx waits
  // for its sender's cheaper earlier ones). A tx paying that goes before every tx pending now and
  // every cheaper one that comes after it, on whichever validator proposes: it makes the next
  // block even when spam keeps arriving at fee_min. At most one step per distinct rate pending.
  const int64_t block_units = params.block_units_max() > 0 ? params.block_units_max() : units_;
  if (units_ * 4 > block_units) {
    int64_t filled = 0;
    FeeRate cutoff = units_by_rate_.begin()->first;
    for (auto it = units_by_rate_.rbegin(); it != units_by_rate_.rend(); ++it) {
      filled += it->second;
      if (filled >= block_units) {
        cutoff = it->first;
        break;
      }
    }
    want = std::max(want, cutoff.NextWhole());
  }
  return want;
}

}  // namespace v2g
