// Shared helpers for the node/ unit tests: temp directories, fixed keys, a test genesis, and a
// node assembled by hand from its parts (Store, Mempool, Chain, Signer) so tests can drive block
// production step by step, as the consensus engine does for a single validator.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/bech32.h"
#include "common/crypto.h"
#include "common/signbytes.h"
#include "consensus/block.h"
#include "contracts/app.h"
#include "contracts/state.h"
#include "genesis/genesis.h"
#include "node/chain.h"
#include "tests/integration/harness.h"
#include "node/mempool.h"
#include "node/bft/signer.h"
#include "node/store/store.h"
#include "wallet/tx_builder.h"

namespace v2g::nodetest {

inline constexpr char kChainId[] = "v2g-node-test";
inline constexpr int64_t kGenesisTimeMs = 1767225600000;  // 2026-01-01T00:00:00Z
inline constexpr int64_t kAliceCny = 100000;              // 1000.00 CNY
inline constexpr int64_t kAlicePts = 50;

inline ::testing::AssertionResult Contains(const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << haystack << "' does not contain '" << needle << "'";
}

// Temp directories and free ports come from the shared test harness.
using TempDir = v2g::testing::TempDir;

inline KeyPair Key(uint8_t n) {
  InitCrypto();
  return KeyPair::FromSeed(Bytes(kSeedBytes, n));
}
inline Address AddrOf(const KeyPair& k) { return AddressFromPublicKey(k.public_key()); }

// Enables the market in a test genesis: CNY, 15-minute intervals, gate closure and grace 5
// minutes, a day's horizon, 10 % collateral and penalty.
inline void EnableMarket(GenesisState& g) {
  g.params.market_denom = "CNY";
  g.params.settlement_interval_s = 900;
  g.params.market_gate_closure_s = 300;
  g.params.market_horizon_s = 86400;
  g.params.market_grace_s = 300;
  g.params.market_collateral_bps = 1000;
  g.params.market_penalty_bps = 1000;
}

// Fixed keys: one validator, one issuer of CNY and PTS, and three users.
struct TestKeys {
  KeyPair validator = Key(1);
  KeyPair validator_node = Key(2);
  KeyPair issuer = Key(3);
  KeyPair alice = Key(10);
  KeyPair bob = Key(11);
  KeyPair carol = Key(12);
  KeyPair stranger = Key(99);  // not a validator
};

// One validator (power 10); CNY (2 decimals) and PTS (0) issued by `issuer`; alice starts with
// 1000.00 CNY and 50 PTS, bob and carol with nothing.
inline GenesisState TestGenesis(const TestKeys& k) {
  GenesisState g;
  g.chain_id = kChainId;
  g.genesis_time_ms = kGenesisTimeMs;
  GenesisValidator v;
  v.name = "val0";
  v.address = AddrOf(k.validator);
  v.consensus_pubkey = k.validator.public_key();
  v.node_pubkey = k.validator_node.public_key();
  v.power = 10;
  g.validators.push_back(v);
  g.denoms.push_back({"CNY", 2, AddrOf(k.issuer)});
  g.denoms.push_back({"PTS", 0, AddrOf(k.issuer)});
  g.balances.push_back({AddrOf(k.alice), "CNY", kAliceCny});
  g.balances.push_back({AddrOf(k.alice), "PTS", kAlicePts});
  g.roles.push_back({"operator", AddrOf(k.issuer)});
  g.roles.push_back({"grid_company", AddrOf(k.issuer)});
  for (const char* z : {"Z1", "Z2"}) g.zones.push_back({z, AddrOf(k.issuer)});
  g.params = DefaultParams();
  return g;
}

// The genesis state in memory (for tests that only need a committed state, e.g. the mempool's).
inline std::unique_ptr<MemKv> GenesisKv(const GenesisState& g) {
  auto kv = std::make_unique<MemKv>();
  Overlay o(kv.get());
  auto h = InitChain(g, o);
  V2G_ASSERT(h.ok());
  for (const auto& [key, value] : o.writes()) kv->Put(key, *value);
  return kv;
}

// Applies `tx` to a MemKv as if a block had committed it.
inline Status CommitToKv(MemKv& kv, const std::string& tx, const Address& proposer) {
  auto checked = CheckTxStateless(tx, kChainId, LoadParams(kv), true);
  if (!checked.ok()) return checked.status();
  Overlay o(&kv);
  BlockContext ctx{kChainId, 1, kGenesisTimeMs + 1, proposer};
  V2G_RETURN_IF_ERROR(ApplyTx(*checked, ctx, o));
  for (const auto& [key, value] : o.writes()) {
    if (value) {
      kv.Put(key, *value);
    } else {
      kv.Delete(key);
    }
  }
  return Status::Ok();
}

inline std::string Transfer(const KeyPair& from, uint64_t nonce, const KeyPair& to, const std::string& denom,
                            int64_t amount, const std::string& chain_id = kChainId) {
  return SignTx(from, chain_id, MakeTransfer(nonce, AddrOf(to), denom, amount));
}

inline Hash256 TxHash(const std::string& tx) { return Blake2b256(tx); }

inline int64_t Balance(const KvReader& kv, const KeyPair& who, const std::string& denom) {
  return BalanceOf(LoadAccount(kv, AddrOf(who)), denom);
}
inline uint64_t Nonce(const KvReader& kv, const KeyPair& who) { return LoadAccount(kv, AddrOf(who)).nonce(); }

// A precommit commit for `block` signed directly with `key` (bypassing the Signer), so tests can
// build commits the Signer would refuse to produce.
inline pb::Commit SignCommitWith(const KeyPair& key, const pb::Block& block, int32_t round, int64_t timestamp_ms) {
  const std::string block_id = HashString(BlockId(block.header()));
  pb::Commit c;
  c.set_height(block.header().height());
  c.set_round(round);
  c.set_block_id(block_id);
  auto* sig = c.add_signatures();
  sig->set_validator_address(AddressBytes(AddrOf(key)));
  sig->set_timestamp_ms(timestamp_ms);
  Signature s = key.Sign(AsBytes(VoteSignBytes(kChainId, VoteType::kPrecommit, block.header().height(), round,
                                               block_id, timestamp_ms)));
  sig->set_signature(std::string(s.begin(), s.end()));
  return c;
}

// A node assembled from its parts in a temp directory, with block production done by hand:
// Propose -> Signer::SignVote(precommit) -> Chain::Commit: a single validator's decision by hand.
class ManualNode {
 public:
  // `customize` may change the test genesis (e.g. enable the market) before the chain starts.
  explicit ManualNode(MempoolLimits limits = {1000, 16 << 20, 100},
                      const std::function<void(GenesisState&)>& customize = nullptr)
      : limits_(limits), genesis_(TestGenesis(keys_)) {
    if (customize) customize(genesis_);
    Open();
  }
  ~ManualNode() { Close(); }

  // Opens the store (initialising genesis on first open), mempool, chain and signer.
  void Open() {
    auto st = Store::Open(db_path());
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    store_ = std::move(*st);
    if (!store_->Initialized()) {
      Overlay init(&store_->state());
      auto app = InitChain(genesis_, init);
      ASSERT_TRUE(app.ok()) << app.status().ToString();
      ASSERT_TRUE(store_->InitGenesis(Blake2b256(GenesisToJson(genesis_)), *app, init.writes()).ok());
    }
    mempool_ = std::make_unique<Mempool>(kChainId, limits_);
    chain_ = std::make_unique<Chain>(*store_, *mempool_, kChainId, kGenesisTimeMs);
    auto signer = Signer::Open(keys_.validator, kChainId, signer_path());
    ASSERT_TRUE(signer.ok()) << signer.status().ToString();
    signer_ = std::move(*signer);
  }
  // Closes everything (the LevelDB lock is released), keeping the files.
  void Close() {
    chain_.reset();
    mempool_.reset();
    signer_.reset();
    store_.reset();
  }

  // Next block time: BFT time, the median of the last commit's timestamps (genesis + 1 ms for
  // block 1). SignCommit stamps the commit one second after its block, so blocks come 1 s apart.
  int64_t NextTime() const {
    const ChainTip tip = chain_->Tip();
    return BftTime(tip, LastCommit(), chain_->ValidatorsAt(tip.height));
  }
  pb::Commit LastCommit() const {
    const int64_t h = chain_->Tip().height;
    if (h == 0) return pb::Commit();
    auto c = store_->LoadCommit(h);
    V2G_ASSERT(c.has_value());
    return *c;
  }
  pb::Block Propose() const { return chain_->Propose(NextTime(), AddressBytes(AddrOf(keys_.validator)), LastCommit()); }

  // Signs a precommit for `block` through the Signer at the next unused round of its height,
  // stamped `timestamp_ms` (default: one second after the block), which makes it the next block's
  // time.
  Result<pb::Commit> SignCommit(const pb::Block& block, std::optional<int64_t> timestamp_ms = std::nullopt) {
    const int64_t height = block.header().height();
    pb::SignState last = signer_->LastSigned();
    const int32_t round = last.height() == height ? last.round() + 1 : 0;
    const std::string block_id = HashString(BlockId(block.header()));
    auto vote = signer_->SignVote(VoteType::kPrecommit, height, round, block_id,
                                  timestamp_ms.value_or(block.header().time_ms() + 1000));
    if (!vote.ok()) return vote.status();
    pb::Commit c;
    c.set_height(height);
    c.set_round(round);
    c.set_block_id(block_id);
    auto* sig = c.add_signatures();
    sig->set_validator_address(AddressBytes(AddrOf(keys_.validator)));
    sig->set_timestamp_ms(vote->timestamp_ms);
    sig->set_signature(std::string(vote->signature.begin(), vote->signature.end()));
    return c;
  }

  // Proposes a block from the mempool, signs and commits it. Returns the committed block.
  Result<pb::Block> CommitNext() {
    pb::Block block = Propose();
    auto commit = SignCommit(block);
    if (!commit.ok()) return commit.status();
    Status st = chain_->Commit(block, *commit);
    if (!st.ok()) return st;
    return block;
  }

  // Like CommitNext, with the block at `time_ms` (later than the tip): block time is BFT time, so
  // the tip is committed again (at a later round) with its precommit stamped `time_ms`, and the
  // block carries that commit. Block 1's time is fixed (genesis + 1 ms): on a fresh chain an
  // empty block 1 is committed first (with txs pending it would carry them, so that is refused).
  Result<pb::Block> CommitAt(int64_t time_ms) {
    if (chain_->Tip().height == 0) {
      if (mempool_->Stats().txs != 0) return Error(Code::kInvalidArgument, "block 1's time is genesis time + 1 ms");
      auto first = CommitNext();
      if (!first.ok()) return first.status();
    }
    const int64_t h = chain_->Tip().height;
    auto tip_block = store_->LoadBlock(h);
    V2G_ASSERT(tip_block.has_value());
    auto last = SignCommit(*tip_block, time_ms);
    if (!last.ok()) return last.status();
    pb::Block block = chain_->Propose(time_ms, AddressBytes(AddrOf(keys_.validator)), *last);
    auto commit = SignCommit(block);
    if (!commit.ok()) return commit.status();
    Status st = chain_->Commit(block, *commit);
    if (!st.ok()) return st;
    return block;
  }

  Result<Hash256> Submit(const std::string& tx) { return mempool_->Add(tx, store_->state()); }

  std::string db_path() const { return dir_.path() + "/chain.db"; }
  std::string signer_path() const { return dir_.path() + "/signer_state.pb"; }
  std::string wal_path() const { return dir_.path() + "/consensus.wal"; }
  const TestKeys& keys() const { return keys_; }
  const GenesisState& genesis() const { return genesis_; }
  Store& store() { return *store_; }
  Mempool& mempool() { return *mempool_; }
  Chain& chain() { return *chain_; }
  Signer& signer() { return *signer_; }

 private:
  TempDir dir_;
  MempoolLimits limits_;
  TestKeys keys_;
  GenesisState genesis_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Mempool> mempool_;
  std::unique_ptr<Chain> chain_;
  std::unique_ptr<Signer> signer_;
};

// JSON-over-HTTP calls against the node API.
struct HttpReply {
  int status = 0;  // 0 = no answer (connection failed)
  std::string content_type;
  std::string raw;
  nlohmann::json body;
};
inline HttpReply ToReply(const httplib::Result& res) {
  HttpReply r;
  if (!res) return r;
  r.status = res->status;
  r.content_type = res->get_header_value("Content-Type");
  r.raw = res->body;
  r.body = nlohmann::json::parse(res->body, nullptr, false);
  return r;
}
inline std::unique_ptr<httplib::Client> MakeClient(int port) {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
  c->set_connection_timeout(5, 0);
  c->set_read_timeout(20, 0);
  c->set_write_timeout(5, 0);
  return c;
}
inline HttpReply HttpGet(httplib::Client& c, const std::string& path) { return ToReply(c.Get(path.c_str())); }
inline HttpReply HttpPost(httplib::Client& c, const std::string& path, const std::string& body) {
  return ToReply(c.Post(path.c_str(), body, "application/json"));
}
inline std::string TxBody(const std::string& tx) { return nlohmann::json{{"tx", HexEncode(tx)}}.dump(); }

}  // namespace v2g::nodetest
