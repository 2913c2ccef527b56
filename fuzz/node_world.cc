#include "fuzz/node_world.h"

#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "common/assert.h"
#include "common/bech32.h"
#include "common/signbytes.h"
#include "consensus/block.h"
#include "fuzz/world.h"

namespace v2g::fuzz {

pb::Commit CommitFor(const pb::Block& block, int64_t time_ms) {
  const std::string block_id = HashString(BlockId(block.header()));
  pb::Commit c;
  c.set_height(block.header().height());
  c.set_round(0);
  c.set_block_id(block_id);
  auto* sig = c.add_signatures();
  sig->set_validator_address(AddressBytes(AddressFromPublicKey(Account(0).public_key())));
  sig->set_timestamp_ms(time_ms);
  const Signature s = Account(0).Sign(AsBytes(VoteSignBytes(
      kChainId, VoteType::kPrecommit, block.header().height(), 0, block_id, time_ms)));
  sig->set_signature(std::string(s.begin(), s.end()));
  return c;
}

std::unique_ptr<NodeWorld> BuildNodeWorld() {
  auto n = std::make_unique<NodeWorld>();
  char tmpl[] = "/tmp/v2g-fuzz-XXXXXX";
  V2G_ASSERT(mkdtemp(tmpl) != nullptr);
  n->dir = tmpl;
  auto st = Store::Open(n->dir + "/chain.db");
  V2G_ASSERT(st.ok());
  n->store = std::move(*st);
  const GenesisState g = WorldGenesis();
  Overlay init(&n->store->state());
  auto app = InitChain(g, init);
  V2G_ASSERT(app.ok());
  V2G_ASSERT(n->store->InitGenesis(Blake2b256(GenesisToJson(g)), *app, init.writes()).ok());
  n->mempool = std::make_unique<Mempool>(kChainId, kMempoolLimits);
  n->chain = std::make_unique<Chain>(*n->store, *n->mempool, kChainId, g.genesis_time_ms);

  const std::string proposer = AddressBytes(AddressFromPublicKey(Account(0).public_key()));
  const MemWorld w = BuildMemWorld();
  const std::vector<SetupTx> setup = SetupTxs();
  int64_t time_ms = kT0 * 1000 + 1;
  pb::Commit last;
  // Commits a block at time_ms with what the mempool holds, its commit stamped next_ms (the next
  // block's time).
  auto commit_then = [&](int64_t next_ms) {
    pb::Block b = n->chain->Propose(time_ms, proposer, last);
    last = CommitFor(b, next_ms);
    V2G_ASSERT(n->chain->Commit(b, last, true).ok());
    time_ms = next_ms;
  };
  for (size_t i = 0; i < setup.size(); ++i) {
    // Each setup tx goes in a block at its own time. The mempool checks it against the last
    // block's time (a reading's end against that plus the skew, and a batch with nothing accepted
    // is refused), so an empty block a second before brings the chain there first, as a live
    // chain's blocks would be.
    const int64_t at_ms = std::max(time_ms + 1000, setup[i].time_s * 1000);
    if (time_ms < at_ms - 1000) commit_then(at_ms - 1000);
    commit_then(at_ms);
    auto added = n->mempool->Add(w.txs[i], n->store->state());
    if (!added.ok()) fprintf(stderr, "setup tx %zu: %s\n", i, added.status().ToString().c_str());
    V2G_ASSERT(added.ok());
  }
  commit_then(time_ms + 1000);  // the last setup tx's block
  return n;
}

void RemoveNodeWorld(const NodeWorld& w) {
  const std::string cmd = "rm -rf '" + w.dir + "'";
  if (system(cmd.c_str()) != 0) fprintf(stderr, "could not remove %s\n", w.dir.c_str());
}

}  // namespace v2g::fuzz
