#include "node/store/store.h"

#include <leveldb/write_batch.h>

#include <algorithm>
#include <set>

#include "contracts/state.h"
#include "contracts/state_tree.h"
#include "node/store/index.h"

namespace v2g {

namespace {
// LevelDB's block cache (its default is 8 MiB): the state's hot blocks (accounts, params,
// denominations) stay in memory across blocks under load. Counted in the node's RSS.
constexpr size_t kStoreBlockCacheBytes = 32 << 20;
}  // namespace

namespace {
// DbReader::KeysRead() and BytesRead(). Relaxed: statistics for tests, ordered by nothing.
std::atomic<uint64_t> g_keys_read{0};
std::atomic<uint64_t> g_bytes_read{0};
void CountKeyRead(size_t value_bytes = 0) {
  g_keys_read.fetch_add(1, std::memory_order_relaxed);
  g_bytes_read.fetch_add(value_bytes, std::memory_order_relaxed);
}
}  // namespace

uint64_t DbReader::KeysRead() { return g_keys_read.load(std::memory_order_relaxed); }
uint64_t DbReader::BytesRead() { return g_bytes_read.load(std::memory_order_relaxed); }

std::optional<std::string> DbReader::Get(std::string_view key) const {
  leveldb::ReadOptions ro;
  ro.snapshot = snapshot_;
  std::string value;
  leveldb::Status st = db_->Get(ro, leveldb::Slice(key.data(), key.size()), &value);
  CountKeyRead(value.size());
  if (st.IsNotFound()) return std::nullopt;
  // A read error of our own database cannot be handled meaningfully mid-execution: stop loudly
  // rather than execute a block against a partial view.
  if (!st.ok()) {
    std::fprintf(stderr, "v2gd: fatal: database read failed: %s\n", st.ToString().c_str());
    std::abort();
  }
  return value;
}

void DbReader::Scan(std::string_view prefix,
                    const std::function<bool(std::string_view, std::string_view)>& fn) const {
  leveldb::ReadOptions ro;
  ro.snapshot = snapshot_;
  ro.fill_cache = false;
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek(leveldb::Slice(prefix.data(), prefix.size())); it->Valid(); it->Next()) {
    leveldb::Slice k = it->key();
    CountKeyRead(it->value().size());
    if (!k.starts_with(leveldb::Slice(prefix.data(), prefix.size()))) break;
    if (!fn(std::string_view(k.data(), k.size()), std::string_view(it->value().data(), it->value().size()))) break;
  }
}

void DbReader::ScanFrom(std::string_view prefix, std::string_view start, bool reverse,
                        const std::function<bool(std::string_view, std::string_view)>& fn) const {
  leveldb::ReadOptions ro;
  ro.snapshot = snapshot_;
  ro.fill_cache = false;
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(ro));
  const leveldb::Slice pre(prefix.data(), prefix.size());
  auto visit = [&]() {
    CountKeyRead(it->value().size());
    const leveldb::Slice k = it->key();
    if (!k.starts_with(pre)) return false;
    const std::string_view key(k.data(), k.size());
    return fn(key, std::string_view(it->value().data(), it->value().size()));
  };
  if (!reverse) {
    it->Seek(start > prefix ? leveldb::Slice(start.data(), start.size()) : pre);
    for (; it->Valid() && visit(); it->Next()) {
    }
    return;
  }
  // Backward: from the last key below min(start, the prefix's end).
  std::string end = PrefixEnd(prefix);
  if (!start.empty() && (end.empty() || start < end)) end = std::string(start);
  if (end.empty()) {
    it->SeekToLast();
  } else {
    it->Seek(end);
    if (it->Valid()) {
      it->Prev();
    } else {
      it->SeekToLast();
    }
  }
  for (; it->Valid() && visit(); it->Prev()) {
  }
}

StoreSnapshot::StoreSnapshot(leveldb::DB* db) : db_(db), snapshot_(db->GetSnapshot()), reader_(db, snapshot_) {}
StoreSnapshot::~StoreSnapshot() { db_->ReleaseSnapshot(snapshot_); }

Store::Store(std::unique_ptr<const leveldb::FilterPolicy> filter,
             std::unique_ptr<leveldb::Cache> cache, std::unique_ptr<leveldb::DB> db,
             const StoreOptions& options)
    : filter_(std::move(filter)),
      cache_(std::move(cache)),
      db_(std::move(db)),
      live_(db_.get(), nullptr),
      sync_commits_(options.sync_commits),
      state_versions_kept_(std::max<int64_t>(options.state_versions_kept, 2)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::Open(const std::string& path, const StoreOptions& options) {
  leveldb::Options opts;
  opts.create_if_missing = true;
  opts.paranoid_checks = true;
  opts.write_buffer_size = 16 << 20;
  // A Bloom filter per table (10 bits a key, ~1% false positives, as Bitcoin Core's LevelDB
  // uses): most reads on the tx path are for keys that do not exist (admission's "t/<hash>", "is
  // it committed already?", accounts and records not yet written), and without filters each such
  // miss reads an index and a data block of every level; with them it usually reads none. Tables
  // written before had no filter and are still read without one.
  auto filter = std::unique_ptr<const leveldb::FilterPolicy>(leveldb::NewBloomFilterPolicy(10));
  auto cache = std::unique_ptr<leveldb::Cache>(leveldb::NewLRUCache(kStoreBlockCacheBytes));
  opts.filter_policy = filter.get();
  opts.block_cache = cache.get();
  leveldb::DB* raw = nullptr;
  leveldb::Status st = leveldb::DB::Open(opts, path, &raw);
  if (!st.ok()) return Error(Code::kIo, "cannot open database " + path + ": " + st.ToString());
  std::unique_ptr<Store> store(
      new Store(std::move(filter), std::move(cache), std::unique_ptr<leveldb::DB>(raw), options));
  if (store->Initialized() && store->Get("m/index") != std::string(index::kVersion)) {
    if (Status s = store->Reindex(options); !s.ok()) return s;
  }
  return store;
}

Status Store::Reindex(const StoreOptions& options) {
  const int64_t batch_max = options.reindex_batch_records;
  V2G_ASSERT(batch_max >= 1);
  int64_t batches = 0;
  // Unsynced: only the marker's write below is synced, and LevelDB's log keeps writes in order, so
  // once the marker is durable every batch before it is too.
  index::BatchWriter write = [&](leveldb::WriteBatch& batch) -> Status {
    if (options.reindex_stop_after_batches > 0 && batches == options.reindex_stop_after_batches) {
      return Error(Code::kInternal, "rebuilding the listing indexes: stopped (test hook)");
    }
    leveldb::Status st = db_->Write(leveldb::WriteOptions(), &batch);
    if (!st.ok()) return Error(Code::kIo, "rebuilding the listing indexes: " + st.ToString());
    ++batches;
    return Status::Ok();
  };
  // Scans below iterate over the database as it was when they started (an iterator's implicit
  // snapshot), whatever the batches write meanwhile.
  leveldb::WriteBatch batch;
  int64_t records = 0;
  Status status = Status::Ok();
  auto add = [&](auto&& op) {
    op(batch);
    if (++records < batch_max) return true;
    status = write(batch);
    batch.Clear();
    records = 0;
    return status.ok();
  };
  live_.Scan(index::kPrefix, [&](std::string_view k, std::string_view) {
    return add([&](leveldb::WriteBatch& b) { b.Delete(leveldb::Slice(k.data(), k.size())); });
  });
  if (status.ok() && records > 0) status = write(batch);
  batch.Clear();
  records = 0;
  if (status.ok()) status = index::AddAll(live_, live_, batch_max, write);
  const int64_t height = Height();
  for (int64_t h = 1; status.ok() && h <= height; ++h) {
    auto block = LoadBlock(h);
    V2G_ASSERT(block.has_value());  // every height up to m/height is stored
    add([&](leveldb::WriteBatch& b) {
      b.Put(index::BlockSummaryKey(h), index::EncodeBlockSummary(*block));
    });
  }
  if (status.ok() && records > 0) status = write(batch);
  if (!status.ok()) return status;
  leveldb::WriteBatch marker;
  marker.Put("m/index", std::string(index::kVersion));
  leveldb::WriteOptions wo;
  wo.sync = true;
  leveldb::Status st = db_->Write(wo, &marker);
  if (!st.ok()) return Error(Code::kIo, "rebuilding the listing indexes: " + st.ToString());
  return Status::Ok();
}

std::string Store::HeightKey(char prefix, int64_t height) {
  std::string k{prefix, '/'};
  AppendBigEndian64(k, static_cast<uint64_t>(height));
  return k;
}

std::optional<std::string> Store::Get(const std::string& key) const { return live_.Get(key); }

int64_t Store::Height() const {
  auto v = Get("m/height");
  if (!v) return 0;
  V2G_ASSERT(v->size() == 8);
  return static_cast<int64_t>(ReadBigEndian64(*v));
}

bool Store::Initialized() const { return Get("m/genesis").has_value(); }

std::optional<std::string> Store::GenesisHash() const { return Get("m/genesis"); }

std::string Store::GenesisAppHash() const {
  auto v = Get("m/genesis_app");
  V2G_ASSERT(v.has_value());
  return *v;
}

namespace {
void PutState(leveldb::WriteBatch& batch, const Overlay::Writes& writes) {
  for (const auto& [k, v] : writes) {
    V2G_ASSERT(k.compare(0, 2, "s/") == 0);  // the contracts only own the state section
    if (v) {
      batch.Put(k, *v);
    } else {
      batch.Delete(k);
    }
  }
}

void PutTree(leveldb::WriteBatch& batch, const Overlay::Writes& writes) {
  for (const auto& [k, v] : writes) {
    V2G_ASSERT(k.starts_with(kTreePrefix));
    if (v) {
      batch.Put(k, *v);
    } else {
      batch.Delete(k);
    }
  }
}
}  // namespace

Status Store::InitGenesis(const Hash256& genesis_hash, const Hash256& app_hash, const Overlay::Writes& state) {
  V2G_ASSERT(!Initialized());
  auto tree = UpdateStateTree(live_, 0, state);
  if (!tree.ok()) return tree.status();
  V2G_ASSERT(tree->root == app_hash);  // InitChain computed the same root
  leveldb::WriteBatch batch;
  PutTree(batch, tree->writes);
  index::AddChanges(live_, state, batch);
  PutState(batch, state);
  batch.Put("m/index", std::string(index::kVersion));
  batch.Put("m/genesis", HashString(genesis_hash));
  batch.Put("m/genesis_app", HashString(app_hash));
  std::string h;
  AppendBigEndian64(h, 0);
  batch.Put("m/height", h);
  leveldb::WriteOptions wo;
  wo.sync = true;
  leveldb::Status st = db_->Write(wo, &batch);
  if (!st.ok()) return Error(Code::kIo, "writing genesis state: " + st.ToString());
  return Status::Ok();
}

Status Store::CommitBlock(const BlockToCommit& b) {
  const int64_t height = b.block.header().height();
  V2G_ASSERT(height == Height() + 1);
  V2G_ASSERT(b.results.tx_results_size() == b.block.txs_size());
  V2G_ASSERT(static_cast<int>(b.tx_hashes.size()) == b.block.txs_size());
  V2G_ASSERT(b.state_changes != nullptr);
  leveldb::WriteBatch batch;
  batch.Put(HeightKey('b', height), Encode(b.block));
  batch.Put(HeightKey('r', height), Encode(b.results));
  batch.Put(HeightKey('c', height), Encode(b.commit));
  batch.Put("h/" + b.block_id, HeightKey('b', height).substr(2));
  std::set<Hash256> indexed;  // a tx repeated within this block: the batch must not overwrite
  for (size_t i = 0; i < b.tx_hashes.size(); ++i) {
    if (!indexed.insert(b.tx_hashes[i]).second) continue;
    pb::TxLocation loc;
    loc.set_height(height);
    loc.set_index(static_cast<uint32_t>(i));
    *loc.mutable_result() = b.results.tx_results(static_cast<int>(i));
    // A tx hash already committed cannot be committed again successfully (its nonce is used), but
    // a failed duplicate could be included by a faulty proposer (in this block or a later one):
    // keep the first location.
    if (!Get("t/" + HashString(b.tx_hashes[i]))) batch.Put("t/" + HashString(b.tx_hashes[i]), Encode(loc));
  }
  // Before PutState: the index changes compare each record with its committed value.
  index::AddChanges(live_, *b.state_changes, batch);
  batch.Put(index::BlockSummaryKey(height), index::EncodeBlockSummary(b.block));
  PutState(batch, *b.state_changes);
  V2G_ASSERT(b.tree_writes != nullptr);
  PutTree(batch, *b.tree_writes);
  // The tree's records that serve only heights no longer kept (read before this batch: what it
  // marks stale is pruned by a later commit).
  Overlay::Writes pruned;
  PruneStateTree(live_, height + 1 - state_versions_kept_, limits::kStateTreePruneRecordsPerBlock,
                 pruned, &prune_since_);
  PutTree(batch, pruned);
  std::string h;
  AppendBigEndian64(h, static_cast<uint64_t>(height));
  batch.Put("m/height", h);
  leveldb::WriteOptions wo;
  wo.sync = sync_commits_;
  leveldb::Status st = db_->Write(wo, &batch);
  if (!st.ok()) return Error(Code::kIo, "committing block " + std::to_string(height) + ": " + st.ToString());
  return Status::Ok();
}

Status Store::Sync() {
  // Rewrites m/height with its own value, synced (StoreOptions::sync_commits says what that
  // leaves out).
  leveldb::WriteBatch batch;
  std::string h;
  AppendBigEndian64(h, static_cast<uint64_t>(Height()));
  batch.Put("m/height", h);
  leveldb::WriteOptions wo;
  wo.sync = true;
  leveldb::Status st = db_->Write(wo, &batch);
  if (!st.ok()) return Error(Code::kIo, "syncing the database: " + st.ToString());
  return Status::Ok();
}

namespace {
template <typename M>
std::optional<M> ParseStored(const std::optional<std::string>& v) {
  if (!v) return std::nullopt;
  return DecodeRecord<M>(*v);
}
}  // namespace

std::optional<pb::Block> Store::LoadBlock(int64_t height) const {
  return ParseStored<pb::Block>(Get(HeightKey('b', height)));
}
std::optional<pb::Commit> Store::LoadCommit(int64_t height) const {
  return ParseStored<pb::Commit>(Get(HeightKey('c', height)));
}
std::optional<pb::BlockResults> Store::LoadResults(int64_t height) const {
  return ParseStored<pb::BlockResults>(Get(HeightKey('r', height)));
}
std::optional<pb::TxLocation> Store::LoadTxLocation(const Hash256& hash) const {
  return ParseStored<pb::TxLocation>(Get("t/" + HashString(hash)));
}
std::optional<int64_t> Store::HeightOfBlock(const std::string& block_id) const {
  auto v = Get("h/" + block_id);
  if (!v) return std::nullopt;
  return static_cast<int64_t>(ReadBigEndian64(*v));
}

}  // namespace v2g
