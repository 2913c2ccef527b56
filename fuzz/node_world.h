// The world of fuzz/world.h committed to a real node store (LevelDB in a temp directory) block by
// block, with a one-validator commit for each: what the API target reads, and where fuzz_seeds
// takes real blocks and commits from.
#pragma once

#include <memory>
#include <string>

#include "node/chain.h"
#include "node/mempool.h"
#include "node/store/store.h"
#include "proto/v2g.pb.h"

namespace v2g::fuzz {

constexpr MempoolLimits kMempoolLimits{1000, 16 << 20, 100};

struct NodeWorld {
  std::string dir;  // the temp directory; RemoveNodeWorld deletes it
  std::unique_ptr<Store> store;
  std::unique_ptr<Mempool> mempool;
  std::unique_ptr<Chain> chain;
};

// Block 1 empty (its time is fixed), then one block per setup tx at the tx's time. Aborts on any
// failure (the world is fixed: a failure is a bug in it).
std::unique_ptr<NodeWorld> BuildNodeWorld();
void RemoveNodeWorld(const NodeWorld& w);

// The precommit of Account(0) (the one validator) for `block`, stamped `time_ms`.
pb::Commit CommitFor(const pb::Block& block, int64_t time_ms);

}  // namespace v2g::fuzz
