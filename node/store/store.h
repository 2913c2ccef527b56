// The node's one LevelDB database. Key layout:
//   m/height          last committed height (8 bytes big-endian)
//   m/genesis         BLAKE2b-256 of genesis.json's canonical form (guards against a wrong genesis)
//   m/genesis_app     app hash after genesis
//   b/<height>        Block (encoded)
//   r/<height>        BlockResults: tx results and the app hash after the block
//   c/<height>        the commit that finalised block <height> (the "seen commit")
//   h/<block id>      height of a block id
//   t/<tx hash>       TxLocation
//   s/...             state (contracts/state.h)
//   m/index           layout version of the listing indexes
//   x/...             the API's listing indexes (node/store/index.h), written with the state
//   n/...             the state tree (contracts/state_tree.h): its nodes by version, whose root
//                     after block H is H's app hash; written with the state, pruned behind the tip
// A committed block, its results, commit, tx index, state changes (with their x/ index entries) and
// the new height are written in one WriteBatch with sync=true: after a crash the database is at the
// old height or the new one, never in between. Thread-safety: reads from any thread; CommitBlock
// from one thread at a time.
#pragma once

#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/filter_policy.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/limits.h"
#include "common/status.h"
#include "consensus/block.h"
#include "contracts/kv.h"
#include "proto/v2g.pb.h"

namespace v2g {

// A read view of the database, at a snapshot or live.
class DbReader : public KvReader {
 public:
  DbReader(leveldb::DB* db, const leveldb::Snapshot* snapshot) : db_(db), snapshot_(snapshot) {}
  std::optional<std::string> Get(std::string_view key) const override;
  void Scan(std::string_view prefix,
            const std::function<bool(std::string_view, std::string_view)>& fn) const override;
  void ScanFrom(std::string_view prefix, std::string_view start, bool reverse,
                const std::function<bool(std::string_view, std::string_view)>& fn) const override;

  // Keys read by every DbReader of the process so far (each Get and each key a scan stops on), and
  // the bytes of the values they returned: tests compare them before and after a request to check
  // what a listing costs.
  static uint64_t KeysRead();
  static uint64_t BytesRead();

 private:
  leveldb::DB* db_;
  const leveldb::Snapshot* snapshot_;
};

// A consistent point-in-time view for the API: every read sees one committed height.
class StoreSnapshot {
 public:
  StoreSnapshot(leveldb::DB* db);
  ~StoreSnapshot();
  StoreSnapshot(const StoreSnapshot&) = delete;
  StoreSnapshot& operator=(const StoreSnapshot&) = delete;
  const DbReader& reader() const { return reader_; }

 private:
  leveldb::DB* db_;
  const leveldb::Snapshot* snapshot_;
  DbReader reader_;
};

struct BlockToCommit {
  pb::Block block;
  std::string block_id;
  pb::Commit commit;            // seen commit for this block
  pb::BlockResults results;     // includes the app hash after the block
  std::vector<Hash256> tx_hashes;
  const Overlay::Writes* state_changes = nullptr;
  // The state tree's records for this height (node/chain.h ExecuteFullBlock): n/ keys only.
  const Overlay::Writes* tree_writes = nullptr;
};

struct StoreOptions {
  // Records (state records, x/ keys to delete, block summaries) per WriteBatch when the indexes
  // are rebuilt at open.
  int64_t reindex_batch_records = limits::kReindexBatchRecordsMax;
  // Test hook: a rebuild stops after writing this many batches (0: never), as if the node
  // crashed there, and Open fails with kInternal.
  int64_t reindex_stop_after_batches = 0;
  // false: CommitBlock does not fsync each block. Only for the fixture generator
  // (bench/chaingen.cc), which writes 100,000 blocks of a test chain and is run again after a
  // power loss; never a node, which syncs each commit (a synced LevelDB write fsyncs only the
  // current log file, not the ones it closed when its memtable filled, so unsynced commits
  // followed by a synced one are no guarantee that all of them survive a power loss).
  bool sync_commits = true;
  // Versions of the state tree kept for proofs (contracts/state_tree.h): each commit removes the
  // records that serve only heights below tip + 1 - this, at most kStateTreePruneRecordsPerBlock of
  // them (what is left goes with the next blocks). At least 2: the API proves the state after
  // tip - 1, whose header (tip) is the newest one with a commit.
  int64_t state_versions_kept = limits::kStateVersionsKeptDefault;
};

class Store {
 public:
  // Opens (creating if missing) the database at `path`, first rebuilding the x/ indexes if they
  // were written with another layout or their rebuild did not finish. Fails with kIo if another
  // process holds it or a write fails.
  static Result<std::unique_ptr<Store>> Open(const std::string& path,
                                             const StoreOptions& options = {});
  ~Store();

  int64_t Height() const;  // 0 before the first block
  bool Initialized() const;
  // Writes genesis state, its state tree (version 0, whose root must be `app_hash`), its app hash
  // and genesis hash in one synced batch. Only on an empty db.
  Status InitGenesis(const Hash256& genesis_hash, const Hash256& app_hash, const Overlay::Writes& state);
  std::optional<std::string> GenesisHash() const;
  std::string GenesisAppHash() const;
  Status CommitBlock(const BlockToCommit& b);
  // One synced write: fsyncs LevelDB's current log (see StoreOptions::sync_commits for what it
  // does not cover). For the fixture generator.
  Status Sync();

  std::optional<pb::Block> LoadBlock(int64_t height) const;
  std::optional<pb::Commit> LoadCommit(int64_t height) const;
  std::optional<pb::BlockResults> LoadResults(int64_t height) const;
  std::optional<pb::TxLocation> LoadTxLocation(const Hash256& hash) const;
  std::optional<int64_t> HeightOfBlock(const std::string& block_id) const;
  // The oldest height whose state this store keeps whole for proofs, when its tip is `tip`
  // (StoreOptions::state_versions_kept); older ones may be partly pruned.
  int64_t OldestKeptState(int64_t tip) const {
    return std::max<int64_t>(0, tip + 1 - state_versions_kept_);
  }
  // Reads through to the live database (latest committed state).
  const DbReader& state() const { return live_; }
  std::unique_ptr<StoreSnapshot> Snapshot() const { return std::make_unique<StoreSnapshot>(db_.get()); }

  static std::string HeightKey(char prefix, int64_t height);

 private:
  Store(std::unique_ptr<const leveldb::FilterPolicy> filter, std::unique_ptr<leveldb::Cache> cache,
        std::unique_ptr<leveldb::DB> db, const StoreOptions& options);
  // Rebuilds every x/ index from the state and blocks (Open, on a database written without them,
  // with another layout, or whose last rebuild stopped part-way): deletes the x/ section, then
  // writes the state's entries and the block summaries, in batches of a bounded number of records
  // so that memory does not grow with the state, and the m/index marker last, synced. A crash
  // before the marker leaves it absent or old, and the next open starts over.
  Status Reindex(const StoreOptions& options);
  std::optional<std::string> Get(const std::string& key) const;
  // The database's filter policy and block cache outlive it (declared first, destroyed last).
  std::unique_ptr<const leveldb::FilterPolicy> filter_;
  std::unique_ptr<leveldb::Cache> cache_;
  std::unique_ptr<leveldb::DB> db_;
  DbReader live_;
  const bool sync_commits_;
  const int64_t state_versions_kept_;
  // Where the state tree's next prune starts (PruneStateTree's resume_since): CommitBlock's thread.
  int64_t prune_since_ = 0;
};

}  // namespace v2g
