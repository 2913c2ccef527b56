#include "node/node.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "common/checked.h"
#include "common/fsutil.h"
#include "common/ocmf.h"
#include "common/version.h"
#include "contracts/gov.h"
#include "contracts/grid.h"
#include "contracts/market.h"
#include "contracts/state.h"
#include "contracts/state_tree.h"
#include "node/api/http_server.h"
#include "node/keys.h"
#include "node/log.h"
#include "node/node_metrics.h"

namespace v2g {
namespace {

Hash256 GenesisHash(const GenesisState& g) { return Blake2b256(GenesisToJson(g)); }

// Once at start: plain key files are a devnet's; a validator's should be encrypted.
void WarnOfPlainKeys(const HomePaths& p, bool validator_plain, bool node_plain) {
  if (!validator_plain && !node_plain) return;
  const bool both = validator_plain && node_plain;
  std::string files = validator_plain ? p.validator_key() : p.node_key();
  if (both) files += " and " + p.node_key();
  spdlog::warn(
      "keys: {} {} not encrypted: whoever reads {} can sign as this validator or pose as this "
      "node; encrypt with 'v2gd keys encrypt --home {}' and give the node its passphrase "
      "([keys] passphrase_file or V2GD_KEY_PASSPHRASE)",
      files, both ? "are" : "is", both ? "them" : "it", p.home);
}

// A key as the records hold it (raw bytes in a string).
std::string KeyBytes(const PublicKey& k) { return std::string(k.begin(), k.end()); }

}  // namespace

Status OpenOrInitStore(Store& store, const GenesisState& genesis) {
  const Hash256 gh = GenesisHash(genesis);
  if (store.Initialized()) {
    if (*store.GenesisHash() != HashString(gh)) {
      return Error(Code::kCorruption, "the database was created from a different genesis.json; refusing to start");
    }
    // Since validator set changes every chain keeps its sets by height from genesis on; a store
    // made before has none, and its blocks' headers lack next_validators_hash.
    bool has_sets = false;
    store.state().ScanFrom(kValidatorSetPrefix, "", false, [&](std::string_view, std::string_view) {
      has_sets = true;
      return false;
    });
    if (!has_sets) {
      return Error(
          Code::kCorruption,
          "the database was made by a version before validator set changes (no s/valset/ records): "
          "re-create this chain's data directories");
    }
    // Since the state tree (issue 17) the app hash is its root; a store made before has no tree,
    // and one whose tree is not the app hash its tip committed to was written by another build.
    const int64_t tip = store.Height();
    auto root = StateTreeRoot(store.state(), tip);
    if (!root.ok() && root.status().code() != Code::kNotFound) return root.status();
    const std::string want =
        tip == 0 ? store.GenesisAppHash()
                 : (store.LoadResults(tip) ? store.LoadResults(tip)->app_hash() : "");
    if (!root.ok() || HashString(*root) != want) {
      return Error(
          Code::kCorruption,
          "the database was made by a version before the state tree, or its tree is not the "
          "app hash of its height " +
              std::to_string(tip) + ": re-create this chain's data directories");
    }
    return Status::Ok();
  }
  Overlay state(&store.state());
  auto app_hash = InitChain(genesis, state);
  if (!app_hash.ok()) return app_hash.status();
  return store.InitGenesis(gh, *app_hash, state.writes());
}

Result<std::unique_ptr<Node>> Node::Open(const std::string& home) {
  std::unique_ptr<Node> n(new Node());
  n->paths_.home = home;
  if (!FileExists(n->paths_.config())) {
    return Error(Code::kNotFound, "no node home at " + home + " (missing config.toml); run 'v2gd init --home " + home + "'");
  }
  auto config = LoadConfig(n->paths_.config());
  if (!config.ok()) return config.status();
  n->config_ = *config;
  V2G_RETURN_IF_ERROR(
      log::Configure(n->config_.log_level, n->config_.log_format, n->config_.moniker));
  auto genesis = LoadGenesisFile(n->paths_.genesis());
  if (!genesis.ok()) return genesis.status();
  n->genesis_ = std::move(*genesis);
  n->passphrase_.reset(new KeyPassphrase(NodeKeyPassphrase(home, n->config_.keys_passphrase_file)));
  KeyPassphrase& passphrase = *n->passphrase_;
  bool vkey_encrypted = false;
  bool nkey_encrypted = false;
  auto vkey = LoadNodeKey(n->paths_.validator_key(), passphrase, &vkey_encrypted);
  if (!vkey.ok()) return vkey.status();
  auto nkey = LoadNodeKey(n->paths_.node_key(), passphrase, &nkey_encrypted);
  if (!nkey.ok()) return nkey.status();
  WarnOfPlainKeys(n->paths_, !vkey_encrypted, !nkey_encrypted);
  if (FileExists(n->paths_.validator_key_next())) {
    auto next = LoadNodeKey(n->paths_.validator_key_next(), passphrase);
    if (!next.ok()) return next.status();
    n->next_key_ = *next;
  }
  n->next_key_tried_ = n->next_key_.has_value();
  n->node_id_ = HexEncode(nkey->public_key());
  n->node_key_ = *nkey;
  V2G_RETURN_IF_ERROR(MakeDirs(n->paths_.data_dir(), 0700));
  auto store = Store::Open(n->paths_.db());
  if (!store.ok()) return store.status();
  n->store_ = std::move(*store);
  V2G_RETURN_IF_ERROR(OpenOrInitStore(*n->store_, n->genesis_));
  // Which validator this node is: the one whose record, in the sets of the next two heights,
  // holds its key (a rotated key included: a validator keeps its address); else a genesis
  // validator's; else none yet: the node follows the chain, and signs from the height a
  // governance proposal adds its key (an added validator's address is its consensus key's).
  {
    const int64_t tip = n->store_->Height();
    for (int64_t h : {tip + 1, tip + 2}) {
      const pb::ValidatorSet set = ValidatorsAt(n->store_->state(), h);
      for (const auto& v : set.validators()) {
        const bool mine =
            v.consensus_pubkey() == KeyBytes(vkey->public_key()) ||
            (n->next_key_ && v.consensus_pubkey() == KeyBytes(n->next_key_->public_key()));
        if (mine && n->validator_address_.empty()) n->validator_address_ = v.address();
      }
    }
  }
  for (const auto& v : n->genesis_.validators) {
    if (n->validator_address_.empty() && v.consensus_pubkey == vkey->public_key()) {
      n->validator_address_ = AddressBytes(v.address);
    }
  }
  if (n->validator_address_.empty()) {
    n->validator_address_ = AddressBytes(AddressFromPublicKey(vkey->public_key()));
    spdlog::info(
        "{} is not the key of a validator: this node follows the chain and votes only at heights "
        "whose "
        "validator set holds {}",
        n->paths_.validator_key(), EncodeAddress(AddressFromPublicKey(vkey->public_key())));
  }
  // The genesis balances are in the store now and nothing reads them again: a genesis that funds
  // a million accounts would otherwise hold ~70 MiB for the node's life, and the freed parse of
  // its JSON (several times the file) would stay in the heap (measured: bench/accounts_bench.cc).
  n->genesis_.balances.clear();
  n->genesis_.balances.shrink_to_fit();
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
  n->mempool_ = std::make_unique<Mempool>(
      n->genesis_.chain_id,
      MempoolLimits{n->config_.mempool_txs_max, n->config_.mempool_bytes_max, n->config_.mempool_per_sender_max,
                    n->config_.mempool_units_max});
  n->chain_ = std::make_unique<Chain>(*n->store_, *n->mempool_, n->genesis_.chain_id, n->genesis_.genesis_time_ms);
  auto signer = Signer::Open(*vkey, n->genesis_.chain_id, n->paths_.signer_state());
  if (!signer.ok()) return signer.status();
  n->signer_ = std::move(*signer);
  int64_t clock_offset_ms = 0;
  if (const char* off = std::getenv("V2GD_TEST_CLOCK_OFFSET_MS"); off != nullptr && *off != '\0') {
    // The fault harness's wrong clock (tests/faults): never set on a real node.
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(off, &end, 10);
    if (errno != 0 || *end != '\0' || v < -86'400'000 || v > 86'400'000) {
      return Error(Code::kInvalidArgument, "V2GD_TEST_CLOCK_OFFSET_MS: must be milliseconds within a day");
    }
    clock_offset_ms = v;
    spdlog::critical("clock: V2GD_TEST_CLOCK_OFFSET_MS: this node's clock runs {} ms off the system clock "
                     "(a test setting, as a wrong NTP would: never on a real validator)",
                     clock_offset_ms);
  }
  n->clock_ = std::make_unique<SystemClock>(clock_offset_ms);
  return n;
}

Node::~Node() { Stop(); }

// At the height a rotation of this validator's consensus key takes effect, the signer moves to the
// new key (its safety record carries over: node/bft/signer.h) and the new key file replaces the
// old one, which is never used again.
void Node::PromoteRotatedKey(int64_t height, const pb::ValidatorSet& vals) {
  if (!signer_) return;
  // `v2gd keys rotate` may have written the next key while the node runs: read when it appears,
  // and again (at most every 100 heights: an encrypted one costs an Argon2id derivation) while the
  // set holds a key for this validator that the node has neither as signer nor as next key (a
  // file rewritten by a second `keys rotate`, or one that could not be read).
  const PublicKey signer_key = signer_->public_key();
  bool unknown_key = false;
  for (const auto& v : vals.validators()) {
    unknown_key |= v.address() == validator_address_ &&
                   v.consensus_pubkey() != KeyBytes(signer_key) &&
                   (!next_key_ || v.consensus_pubkey() != KeyBytes(next_key_->public_key()));
  }
  if (unknown_key && next_key_tried_ && height >= next_key_retry_height_) next_key_tried_ = false;
  if ((!next_key_ || unknown_key) && !next_key_tried_ && FileExists(paths_.validator_key_next())) {
    next_key_tried_ = true;
    next_key_retry_height_ = height + 100;
    next_key_.reset();
    auto next = LoadNodeKey(paths_.validator_key_next(), *passphrase_);
    if (next.ok()) {
      next_key_ = *next;
      spdlog::info("consensus: read the rotated key {}; it signs from the height the chain says",
                   HexEncode(next_key_->public_key()));
    } else {
      spdlog::error(
          "consensus: cannot read the rotated key: {} (restart the node once it is fixed)",
          next.status().ToString());
    }
  }
  if (!next_key_) return;
  for (const auto& v : vals.validators()) {
    const PublicKey& next = next_key_->public_key();
    if (v.consensus_pubkey() != KeyBytes(next)) continue;
    if (::rename(paths_.validator_key_next().c_str(), paths_.validator_key().c_str()) != 0) {
      // The signer still moves: the chain says this key signs now. A restart would find the old
      // key file and the next one again, and move again.
      spdlog::error("consensus: cannot move {} to {}: {}", paths_.validator_key_next(),
                    paths_.validator_key(), std::strerror(errno));
    } else if (Status st = SyncDir(paths_.home + "/keys"); !st.ok()) {
      spdlog::error("consensus: {}", st.ToString());
    }
    signer_->ReplaceKey(*next_key_);
    spdlog::warn("consensus: from height {} this validator signs with its rotated key {}", height,
                 HexEncode(next));
    next_key_.reset();
    next_key_tried_ = false;  // a later rotation's file is read when it appears
    return;
  }
}

// At the height a rotation of this validator's node key can be used (the set of tip + 2 holds it:
// every peer that committed tip allows it), the P2P layer moves to it and the new key file replaces
// the old one. Before Start (a node restarted past its rotation) the key is just swapped.
void Node::PromoteRotatedNodeKey() {
  const int64_t tip = chain_->Tip().height;
  const pb::ValidatorSet ahead = chain_->ValidatorsAt(tip + 2);
  // This validator: the record holding the signer's consensus key (a node restored with only a
  // rotated key learns its address so), else the address found at start.
  std::string address = validator_address_;
  if (signer_) {
    for (const auto& v : ahead.validators()) {
      if (v.consensus_pubkey() == KeyBytes(signer_->public_key())) address = v.address();
    }
  }
  std::string wanted;  // this validator's node key two heights ahead
  for (const auto& v : ahead.validators()) {
    if (v.address() == address) wanted = v.node_pubkey();
  }
  const bool moving = !wanted.empty() && wanted != KeyBytes(node_key_->public_key());
  const bool have = next_node_key_ && wanted == KeyBytes(next_node_key_->public_key());
  // `v2gd keys rotate` writes the next key while the node runs: read it when it appears (before
  // the chain needs it), and again at most every 100 heights (an encrypted one costs an Argon2id
  // derivation) while the chain wants a key the node does not have.
  // The first time the chain wants a key the node lacks, read at once (the file may have been
  // rewritten since it was read): after the next block peers drop the current key, and without
  // peers no later height comes to read it at.
  if (moving && !have && next_node_key_missing_ != wanted) next_node_key_retry_height_ = 0;
  if (!have && (!next_node_key_ || moving) && tip >= next_node_key_retry_height_ &&
      FileExists(paths_.node_key_next())) {
    next_node_key_retry_height_ = tip + 100;
    auto next = LoadNodeKey(paths_.node_key_next(), *passphrase_);
    if (next.ok()) {
      next_node_key_ = *next;
    } else {
      spdlog::error("p2p: cannot read the rotated node key: {}", next.status().ToString());
    }
  }
  if (!moving) return;
  if (!next_node_key_ || wanted != KeyBytes(next_node_key_->public_key())) {
    if (next_node_key_missing_ != wanted) {
      next_node_key_missing_ = wanted;
      spdlog::error(
          "p2p: from height {} the chain holds node key {} for this validator, and {} does not "
          "hold it: peers drop this node's current key after the next block (put the rotated "
          "key there and restart the node)",
          tip + 2, HexEncode(wanted), paths_.node_key_next());
    }
    return;
  }
  if (::rename(paths_.node_key_next().c_str(), paths_.node_key().c_str()) != 0) {
    spdlog::error("p2p: cannot move {} to {}: {}", paths_.node_key_next(), paths_.node_key(),
                  std::strerror(errno));
  } else if (Status st = SyncDir(paths_.home + "/keys"); !st.ok()) {
    spdlog::error("p2p: {}", st.ToString());
  }
  node_key_ = *next_node_key_;
  next_node_key_.reset();
  next_node_key_retry_height_ = 0;  // a later rotation's file is read when it appears
  spdlog::warn("p2p: from height {} this node is {} (its rotated node key)", tip + 2,
               HexEncode(node_key_->public_key()));
  if (p2p_) p2p_->ReplaceNodeKey(*node_key_);
}

std::map<PublicKey, PublicKey> Node::NodeKeySuccessors() const {
  std::map<PublicKey, PublicKey> out;
  const pb::ValidatorSet ahead = chain_->ValidatorsAt(chain_->Tip().height + 2);
  for (const std::string& text : config_.p2p_peers) {
    auto peer = ParsePeerAddress(text);
    if (!peer.ok()) continue;  // refused at Start
    // A key in [p2p] allowed is a full node's the operator vouches for: the chain never re-targets
    // it (governance could otherwise name a full node's key as a validator's and rotate it away).
    if (std::find(allowed_configured_.begin(), allowed_configured_.end(), peer->key) !=
        allowed_configured_.end()) {
      continue;
    }
    const std::string key(peer->key.begin(), peer->key.end());
    auto address = store_->state().Get(std::string(kRetiredNodeKeyPrefix) + key);
    if (!address) continue;  // never rotated away
    for (const auto& v : ahead.validators()) {
      if (v.address() != *address || v.node_pubkey() == key ||
          v.node_pubkey().size() != kPublicKeyBytes) {
        continue;
      }
      PublicKey next{};
      std::copy(v.node_pubkey().begin(), v.node_pubkey().end(), next.begin());
      out[peer->key] = next;
    }
  }
  return out;
}

std::vector<PublicKey> Node::AllowedPeers() const {
  std::vector<PublicKey> keys = allowed_configured_;
  const int64_t tip = chain_->Tip().height;
  const pb::ValidatorSet sets[] = {chain_->Validators(), chain_->ValidatorsAt(tip + 2)};
  for (const pb::ValidatorSet& set : sets) {
    for (const auto& v : set.validators()) {
      PublicKey k{};
      if (v.node_pubkey().size() != k.size()) continue;  // checked when added
      std::copy(v.node_pubkey().begin(), v.node_pubkey().end(), k.begin());
      keys.push_back(k);
    }
  }
  return keys;
}

namespace {
// ConsensusNetwork over the P2P layer (set once P2P exists; before that, sends go nowhere).
class P2pNetwork : public ConsensusNetwork {
 public:
  void Broadcast(uint8_t channel, std::string payload) override {
    if (p2p) p2p->Broadcast(channel, std::move(payload));
  }
  bool Send(const PublicKey& peer, uint8_t channel, std::string payload) override {
    return p2p && p2p->Send(peer, channel, std::move(payload));
  }
  void ResumeReads(const PublicKey& peer) override {
    if (p2p) p2p->ResumeReads(peer);
  }
  P2p* p2p = nullptr;
};

// Where TxGossip sends its batches: the same P2P layer (nothing before it exists).
class P2pGossipNetwork : public GossipNetwork {
 public:
  explicit P2pGossipNetwork(P2pNetwork& net) : net_(net) {}
  std::vector<PublicKey> Peers() const override {
    std::vector<PublicKey> out;
    if (!net_.p2p) return out;
    for (const PeerInfo& p : net_.p2p->Peers()) out.push_back(p.key);
    return out;
  }
  bool Send(const PublicKey& peer, uint8_t channel, std::string payload) override {
    return net_.Send(peer, channel, std::move(payload));
  }

 private:
  P2pNetwork& net_;
};
}  // namespace

Status Node::Start() {
  V2G_RETURN_IF_ERROR(OcmfSelfTest());
  chain_->SetCommitListener([this](const pb::Block& b, const pb::BlockResults& r) {
    // The allowed peers follow the validator set (set before the engine starts committing).
    if (p2p_) {
      PromoteRotatedNodeKey();
      // Successors only when they changed: SetAllowed wakes every dialer when given some.
      std::map<PublicKey, PublicKey> successors = NodeKeySuccessors();
      if (successors == successors_sent_) {
        successors.clear();
      } else {
        successors_sent_ = successors;
      }
      p2p_->SetAllowed(AllowedPeers(), successors);
    }
    int failed = 0;
    for (const auto& t : r.tx_results()) failed += t.code() != 0;
    if (b.txs_size() > 0 || b.evidence_size() > 0 || b.header().height() % 60 == 0) {
      spdlog::info("committed block height={} txs={} failed={} evidence={} app_hash={}", b.header().height(),
                   b.txs_size(), failed, b.evidence_size(), HexEncode(r.app_hash()).substr(0, 16));
    }
  });
  auto net = std::make_unique<P2pNetwork>();
  P2pNetwork* net_raw = net.get();
  net_ = std::move(net);
  BftConfig bc;
  bc.chain_id = genesis_.chain_id;
  bc.my_address = validator_address_;
  bc.timeouts.propose_ms = config_.timeout_propose_ms;
  bc.timeouts.propose_delta_ms = config_.timeout_propose_delta_ms;
  bc.timeouts.prevote_ms = config_.timeout_vote_ms;
  bc.timeouts.prevote_delta_ms = config_.timeout_vote_delta_ms;
  bc.timeouts.precommit_ms = config_.timeout_vote_ms;
  bc.timeouts.precommit_delta_ms = config_.timeout_vote_delta_ms;
  bc.timeouts.tick_ms = std::max<int64_t>(200, config_.timeout_vote_ms);
  bc.block_interval_ms = config_.block_interval_ms;
  bc.create_empty_blocks = config_.create_empty_blocks;
  bc.wal_path = paths_.wal();
  bc.before_height = [this](int64_t height, const pb::ValidatorSet& vals) {
    PromoteRotatedKey(height, vals);
  };
  bool version_overridden = false;
  const std::string version = SoftwareVersion(&version_overridden);
  if (version_overridden) {
    spdlog::warn("{} is set: this node says it runs version {} (for tests only)",
                 kSoftwareVersionEnv, version);
  }
  bc.halt_before = [this, version](int64_t height) {
    return UpgradeHaltReason(store_->state(), height, version);
  };
  engine_ = std::make_unique<BftEngine>(bc, *chain_, *store_, *mempool_, signer_.get(), *clock_, *net_);
  if (on_storage_failure_) engine_->SetStorageFailureHandler(on_storage_failure_);

  PromoteRotatedNodeKey();  // a node restarted past its node key's rotation starts with the new one
  P2pConfig pc{.chain_id = genesis_.chain_id, .node_key = *node_key_};
  pc.listen = config_.p2p_listen;
  pc.peers = config_.p2p_peers;
  for (size_t i = 0; i < config_.p2p_allowed.size(); ++i) {
    auto raw = HexDecode(config_.p2p_allowed[i]);
    if (!raw.ok() || raw->size() != kPublicKeyBytes) {
      return Error(Code::kInvalidArgument, "config.toml: p2p.allowed[" + std::to_string(i) + "]: must be a 64-character hex node id");
    }
    PublicKey k;
    std::copy(raw->begin(), raw->end(), k.begin());
    allowed_configured_.push_back(k);
  }
  pc.allowed = AllowedPeers();
  // Admitted txs, from the API and from peers, go to peers in batches, never back to their origin.
  gossip_net_ = std::make_unique<P2pGossipNetwork>(*net_raw);
  tx_gossip_ = std::make_unique<TxGossip>(*gossip_net_);
  TxGossip* gossip = tx_gossip_.get();
  tx_relay_ = std::make_unique<TxRelay>(
      *mempool_, store_->state(),
      [gossip](std::string tx, const PublicKey& from) { gossip->Add(std::move(tx), from); });
  BftEngine* bft = engine_.get();
  TxRelay* relay = tx_relay_.get();
  // On the P2P thread: both only queue (bounded per peer), so it never waits for the mempool lock
  // or checks a signature; the consensus queue may ask to pause a peer's reads. The two queues are
  // separate and taken by different threads, so consensus messages never wait behind tx batches
  // here; what they can still wait for is the reading itself: frames of one connection are read and
  // decrypted in the order the peer sent them (TCP), and the sender's writer already put its
  // consensus messages ahead of its queued gossip (node/p2p/outbound.h).
  auto on_message = [bft, relay](const PublicKey& from, uint8_t ch, std::string payload) {
    if (ch == kChannelMempool) return relay->Offer(from, std::move(payload));
    return bft->OnPeerMessage(from, ch, std::move(payload));
  };
  auto p2p = P2p::Create(
      std::move(pc), on_message,
      [bft](const PublicKey& peer, bool up) {
        if (up) {
          bft->OnPeerConnected(peer);
        } else {
          bft->OnPeerDisconnected(peer);
        }
      });
  if (!p2p.ok()) return Error(p2p.status().code(), "config.toml: " + p2p.status().message());
  p2p_ = std::move(*p2p);
  // Configured peers that rotated their node key while this node was down are dialled by the key
  // the chain holds for them now.
  successors_sent_ = NodeKeySuccessors();
  if (!successors_sent_.empty()) p2p_->SetAllowed(AllowedPeers(), successors_sent_);
  net_raw->p2p = p2p_.get();
  V2G_RETURN_IF_ERROR(engine_->Start());
  tx_gossip_->Start();
  tx_relay_->Start();
  V2G_RETURN_IF_ERROR(p2p_->Start());

  ApiContext ctx;
  ctx.store = store_.get();
  ctx.chain = chain_.get();
  ctx.mempool = mempool_.get();
  ctx.engine = engine_.get();
  ctx.bft = engine_.get();
  ctx.p2p = p2p_.get();
  ctx.on_tx_admitted = [gossip](const std::string& tx) { gossip->Add(tx, std::nullopt); };
  ctx.chain_id = genesis_.chain_id;
  ctx.moniker = config_.moniker;
  ctx.node_id = node_id_;
  ctx.validator_address = EncodeAddress(*AddressFromBytes(validator_address_));
  ctx.threads = config_.api_threads;
  ctx.limits.queue_max = config_.api_queue_max;
  ctx.limits.wait_slots = config_.api_wait_slots;
  ctx.limits.connections_max = config_.api_connections_max;
  ctx.limits.connections_per_address_max = config_.api_connections_per_address_max;
  ctx.limits.header_timeout_ms = config_.api_header_timeout_ms;
  ctx.limits.body_timeout_ms = config_.api_body_timeout_ms;
  ctx.limits.idle_timeout_ms = config_.api_idle_timeout_ms;
  ctx.limits.write_timeout_ms = config_.api_write_timeout_ms;
  ctx.private_reads = config_.api_private_reads;
  ctx.explorer = config_.api_explorer;
  ctx.explorer_dir = config_.api_explorer_dir;
  for (const std::string& a : config_.api_full_readers) ctx.full_readers.push_back(*DecodeAddress(a));
  if (const char* lie = std::getenv("V2GD_TEST_LIE"); lie != nullptr && *lie != '\0') {
    // The light client's integration test (tests/integration/light_client_test.cc): this node's
    // API lies about proofs. Never on a real node; the light client must catch every lie.
    const std::string mode = lie;
    if (mode != "value" && mode != "proof" && mode != "header") {
      return Error(Code::kInvalidArgument, "V2GD_TEST_LIE: value, proof or header");
    }
    ctx.test_lie = mode;
    spdlog::critical(
        "api: V2GD_TEST_LIE={}: this node's proofs and light blocks lie (a test setting: "
        "never on a real node)",
        mode);
  }
  if (config_.prometheus && config_.prometheus_listen_addr.empty())
    ctx.metrics = [this] { return Metrics(); };
  api_ = std::make_unique<ApiServer>(ctx);
  std::string host;
  int port = 0;
  V2G_RETURN_IF_ERROR(SplitHostPort(config_.api_listen, &host, &port));
  V2G_RETURN_IF_ERROR(api_->Start(host, port));
  if (config_.prometheus && !config_.prometheus_listen_addr.empty())
    V2G_RETURN_IF_ERROR(StartMetricsServer());
  spdlog::info("node {} started: chain {} height {} api http://{}:{} p2p port {} peers configured {}", config_.moniker,
               genesis_.chain_id, chain_->Tip().height, host, api_->port(), p2p_->listen_port(), config_.p2p_peers.size());
  return Status::Ok();
}

std::string Node::Metrics() const {
  NodeMetricsSources s;
  s.chain_id = genesis_.chain_id;
  s.moniker = config_.moniker;
  s.node_id = p2p_ ? HexEncode(p2p_->NodeKey()) : node_id_;
  s.validator_address = EncodeAddress(*AddressFromBytes(validator_address_));
  s.chain = chain_.get();
  s.mempool = mempool_.get();
  s.bft = engine_.get();
  s.p2p = p2p_.get();
  s.api = api_.get();
  s.relay = tx_relay_.get();
  s.gossip = tx_gossip_.get();
  return RenderNodeMetrics(s);
}

// [instrumentation] prometheus_listen_addr: /metrics alone, on a small server of its own (a
// scraper or two, not the public), with the API server's transport and its bounds.
Status Node::StartMetricsServer() {
  api::HttpServerOptions o;
  o.workers = 2;
  o.limits.queue_max = 8;
  o.limits.wait_slots = 1;
  o.limits.batch_threads = 1;
  o.limits.batch_queue_max = 1;
  o.limits.stream_slots = 1;
  o.limits.connections_max = 32;
  o.limits.connections_per_address_max = 8;
  o.serve = [this](httplib::Request& req, httplib::Response& res) {
    if (req.path == "/metrics" && (req.method == "GET" || req.method == "HEAD")) {
      res.status = 200;
      res.set_content(Metrics(), "text/plain; version=0.0.4; charset=utf-8");
    } else {
      res.status = 404;
      res.set_content("only GET /metrics is served here\n", "text/plain; charset=utf-8");
    }
  };
  o.refuse = [](int status, const std::string& message, httplib::Response& res) {
    res.status = status;
    res.set_content(message + "\n", "text/plain; charset=utf-8");
  };
  o.is_long_wait = [](const httplib::Request&) { return false; };
  o.is_batch = [](const httplib::Request&) { return false; };
  metrics_server_ = std::make_unique<api::HttpServer>(std::move(o));
  std::string host;
  int port = 0;
  V2G_RETURN_IF_ERROR(SplitHostPort(config_.prometheus_listen_addr, &host, &port));
  auto bound = metrics_server_->Start(host, port);
  if (!bound.ok()) {
    return Error(bound.status().code(),
                 "instrumentation.prometheus_listen_addr: " + bound.status().message());
  }
  metrics_port_ = *bound;
  spdlog::info("metrics: http://{}:{}/metrics", host, metrics_port_);
  return Status::Ok();
}

void Node::Stop() {
  if (chain_) chain_->StopWaits();  // requests waiting for a commit answer now, not at their timeout
  if (metrics_server_) metrics_server_->Stop();
  if (api_) api_->Stop();
  if (p2p_) p2p_->Stop();
  if (tx_relay_) tx_relay_->Stop();
  if (tx_gossip_) tx_gossip_->Stop();
  if (engine_) engine_->Stop();
}

// ---------------------------------------------------------------- init, testnet

namespace {

struct NodeKeys {
  KeyPair validator = KeyPair::Generate();
  KeyPair node = KeyPair::Generate();
};

// When fees are on, the issuer starts with this much CNY (10,000.00) so that its first mint can
// pay its fee: every tx pays, role holders too.
constexpr int64_t kIssuerFloat = 1'000'000;

// The zones of a generated chain, all owned by the issuer as its grid company: Shanghai, Beijing,
// Shenzhen and Guangzhou, and the one `v2g meter-sim` registers in by default.
constexpr const char* kTestnetZones[] = {"CN-SH", "CN-BJ", "GD-SZ", "GD-GZ", "SIM"};

GenesisState BaseGenesis(const std::string& chain_id, int64_t time_ms, const std::vector<NodeKeys>& keys,
                         const std::vector<std::string>& names, const Address& issuer, int64_t fee_min,
                         int32_t utc_offset_min) {
  GenesisState g;
  g.chain_id = chain_id;
  g.genesis_time_ms = time_ms;
  for (size_t i = 0; i < keys.size(); ++i) {
    GenesisValidator v;
    v.name = names[i];
    v.address = AddressFromPublicKey(keys[i].validator.public_key());
    v.consensus_pubkey = keys[i].validator.public_key();
    v.node_pubkey = keys[i].node.public_key();
    v.power = 10;
    g.validators.push_back(v);
  }
  g.denoms.push_back({"CNY", 2, issuer});
  g.denoms.push_back({"PTS", 0, issuer});
  g.roles.push_back({"operator", issuer});
  g.roles.push_back({"grid_company", issuer});
  g.roles.push_back({"aggregator", issuer});
  for (const char* z : kTestnetZones) g.zones.push_back({z, issuer});
  g.params = DefaultParams();
  g.params.market_denom = "CNY";  // the energy market trades in the issued currency
  g.params.fee_min = fee_min;
  g.params.utc_offset_min = utc_offset_min;
  if (fee_min > 0) g.balances.push_back({issuer, "CNY", kIssuerFloat});
  return g;
}

// Plain key files, or encrypted under `passphrase` when it is not empty.
Status SaveKeys(const HomePaths& p, const NodeKeys& keys, std::string_view passphrase,
                KdfLimits kdf) {
  if (passphrase.empty()) {
    V2G_RETURN_IF_ERROR(SaveNodeKey(p.validator_key(), keys.validator));
    return SaveNodeKey(p.node_key(), keys.node);
  }
  V2G_RETURN_IF_ERROR(SaveNodeKeyEncrypted(p.validator_key(), keys.validator, passphrase, kdf));
  return SaveNodeKeyEncrypted(p.node_key(), keys.node, passphrase, kdf);
}

Status WriteHome(const std::string& home, const NodeKeys& keys, const Config& config,
                 const GenesisState& g, const HomeKeyOptions& key_options) {
  HomePaths p{home};
  if (FileExists(p.config()) || FileExists(p.genesis())) {
    return Error(Code::kAlreadyExists, home + " already holds a node home; refusing to overwrite it");
  }
  V2G_RETURN_IF_ERROR(MakeDirs(home, 0755));
  V2G_RETURN_IF_ERROR(MakeDirs(p.keys_dir(), 0700));
  V2G_RETURN_IF_ERROR(MakeDirs(p.data_dir(), 0700));
  V2G_RETURN_IF_ERROR(SaveKeys(p, keys, key_options.passphrase, key_options.kdf));
  Config c = config;
  c.keys_passphrase_file = key_options.passphrase_file;
  V2G_RETURN_IF_ERROR(WriteFileAtomic(p.config(), ConfigToToml(c)));
  return WriteFileAtomic(p.genesis(), GenesisToJson(g));
}

Result<Address> IssuerOr(const std::string& text, const KeyPair& fallback) {
  if (text.empty()) return AddressFromPublicKey(fallback.public_key());
  auto a = DecodeAddress(text);
  if (!a.ok()) return Error(Code::kInvalidArgument, "--issuer: " + a.status().message());
  return *a;
}

}  // namespace

Status InitHome(const InitOptions& o) {
  std::vector<NodeKeys> keys(1);
  auto issuer = IssuerOr(o.issuer, keys[0].validator);
  if (!issuer.ok()) return issuer.status();
  GenesisState g = BaseGenesis(o.chain_id, o.genesis_time_ms, keys, {o.moniker}, *issuer, o.fee_min, o.utc_offset_min);
  V2G_RETURN_IF_ERROR(ValidateGenesis(g));
  Config c = DefaultConfig();
  c.moniker = o.moniker;
  c.api_listen = o.api_listen;
  c.p2p_listen = o.p2p_listen;
  return WriteHome(o.home, keys[0], c, g, o.keys);
}

Status GenerateTestnet(const TestnetOptions& o) {
  if (o.validators < 1 || o.validators > 64) return Error(Code::kInvalidArgument, "--validators must be between 1 and 64");
  if (o.base_api_port < 2 || o.base_api_port + 10 * o.validators > 65535) {
    return Error(Code::kInvalidArgument, "--base-port leaves no room for the nodes' ports");
  }
  std::vector<NodeKeys> keys(static_cast<size_t>(o.validators));
  std::vector<std::string> names;
  for (int i = 0; i < o.validators; ++i) names.push_back("node" + std::to_string(i));
  auto issuer = IssuerOr(o.issuer, keys[0].validator);
  if (!issuer.ok()) return issuer.status();
  GenesisState g = BaseGenesis(o.chain_id, o.genesis_time_ms, keys, names, *issuer, o.fee_min, o.utc_offset_min);
  for (const auto& text : o.aggregators) {
    auto a = DecodeAddress(text);
    if (!a.ok()) return Error(Code::kInvalidArgument, "--aggregator: " + a.status().message());
    g.roles.push_back({"aggregator", *a});
  }
  for (const std::string& r : o.full_readers) {
    if (auto a = DecodeAddress(r); !a.ok()) return Error(Code::kInvalidArgument, "--full-reader: " + a.status().message());
  }
  if (o.settlement_interval_s > 0) g.params.settlement_interval_s = o.settlement_interval_s;
  if (o.gate_closure_s >= 0) g.params.market_gate_closure_s = o.gate_closure_s;
  if (o.market_grace_s >= 0) g.params.market_grace_s = o.market_grace_s;
  V2G_RETURN_IF_ERROR(ValidateGenesis(g));
  std::vector<std::string> peers;
  for (int i = 0; i < o.validators; ++i) {
    peers.push_back(HexEncode(keys[static_cast<size_t>(i)].node.public_key()) + "@" + o.host + ":" +
                    std::to_string(o.base_api_port - 1 + 10 * i));
  }
  for (int i = 0; i < o.validators; ++i) {
    Config c = DefaultConfig();
    c.moniker = names[static_cast<size_t>(i)];
    c.api_listen = o.host + ":" + std::to_string(o.base_api_port + 10 * i);
    c.p2p_listen = o.host + ":" + std::to_string(o.base_api_port - 1 + 10 * i);
    c.block_interval_ms = o.block_interval_ms;
    c.api_private_reads = !o.open_reads;
    c.api_full_readers = o.full_readers;
    // Every node dials the others (each pair ends up with one connection).
    for (int j = 0; j < o.validators; ++j) {
      if (j != i) c.p2p_peers.push_back(peers[static_cast<size_t>(j)]);
    }
    V2G_RETURN_IF_ERROR(WriteHome(o.output + "/" + names[static_cast<size_t>(i)],
                                  keys[static_cast<size_t>(i)], c, g, o.keys));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- verify-chain

bool SameTxOutcome(const pb::TxResult& a, const pb::TxResult& b) {
  auto same_fields = [](const auto& x, const auto& y) {
    if (x.size() != y.size()) return false;
    for (int i = 0; i < x.size(); ++i) {
      if (x[i].name() != y[i].name() || x[i].kind() != y[i].kind() || x[i].value() != y[i].value() ||
          x[i].denom() != y[i].denom()) {
        return false;
      }
    }
    return true;
  };
  if (a.code() != b.code() || a.created_id() != b.created_id() || !same_fields(a.log_fields(), b.log_fields()) ||
      a.rejected_readings_size() != b.rejected_readings_size()) {
    return false;
  }
  for (int i = 0; i < a.rejected_readings_size(); ++i) {
    const pb::RejectedReading &x = a.rejected_readings(i), &y = b.rejected_readings(i);
    if (x.index() != y.index() || x.code() != y.code() || !same_fields(x.message_fields(), y.message_fields())) {
      return false;
    }
  }
  return true;
}

namespace {

// The same outcome and the same words (log, template, each refused item's message): what the API
// serves is what the contracts wrote. Tx results are under no hash, so this check is all that
// vouches for them in a copied or restored store.
Status CompareResult(const pb::TxResult& replayed, const pb::TxResult& stored, const std::string& what) {
  if (!SameTxOutcome(replayed, stored)) return Error(Code::kCorruption, what + " differs on re-execution");
  if (replayed.SerializeAsString() != stored.SerializeAsString()) {
    return Error(Code::kCorruption, what + " text differs on re-execution (changed, or written by a version "
                                           "that words it otherwise)");
  }
  return Status::Ok();
}

// The re-executed results `out` of block `h` against what the store recorded: the same outcome
// for every tx, and a tx index entry for every tx that points at its first occurrence.
Status CheckTxResults(const Store& store, int64_t h, const pb::BlockResults& out, const pb::BlockResults& recorded,
                      const std::vector<Hash256>& tx_hashes) {
  if (out.tx_results_size() != recorded.tx_results_size()) return Error(Code::kCorruption, "tx result count differs");
  std::map<Hash256, int> first_index;
  for (int i = 0; i < out.tx_results_size(); ++i) {
    const std::string tx = "tx " + std::to_string(i);
    V2G_RETURN_IF_ERROR(CompareResult(out.tx_results(i), recorded.tx_results(i), tx + " result"));
    const Hash256& hash = tx_hashes[static_cast<size_t>(i)];
    auto loc = store.LoadTxLocation(hash);
    if (!loc) return Error(Code::kCorruption, tx + " missing from the tx index");
    // The index points at a tx's first occurrence: earlier, or here at its first index.
    if (loc->height() > h) return Error(Code::kCorruption, tx + " is indexed at a later height");
    if (loc->height() == h && first_index.emplace(hash, i).second) {
      if (loc->index() != static_cast<uint32_t>(i)) return Error(Code::kCorruption, tx + " has a wrong tx index entry");
      V2G_RETURN_IF_ERROR(CompareResult(out.tx_results(i), loc->result(), tx + " has a wrong tx index entry: its result"));
    }
  }
  return Status::Ok();
}

// The stored state must be exactly the replayed state `mem`, which must keep every ledger-wide
// invariant (conservation, and everything the market and grid services hold matches their records).
Status CheckReplayedState(const Store& store, const MemKv& mem) {
  std::map<std::string, std::string> stored;
  store.state().Scan(kStatePrefix, [&](std::string_view k, std::string_view v) {
    stored.emplace(std::string(k), std::string(v));
    return true;
  });
  if (stored != mem.data()) return Error(Code::kCorruption, "stored state differs from the replayed state");
  V2G_RETURN_IF_ERROR(CheckConservation(mem));
  V2G_RETURN_IF_ERROR(CheckMarketEscrow(mem));
  return CheckGridEscrow(mem);
}

}  // namespace

Result<int64_t> VerifyChain(const std::string& home) {
  HomePaths p{home};
  auto genesis = LoadGenesisFile(p.genesis());
  if (!genesis.ok()) return genesis.status();
  auto opened = Store::Open(p.db());
  if (!opened.ok()) return opened.status();
  Store& store = **opened;
  if (!store.Initialized()) return Error(Code::kNotFound, "database at " + p.db() + " is empty");
  if (*store.GenesisHash() != HashString(GenesisHash(*genesis))) {
    return Error(Code::kCorruption, "database was created from a different genesis.json");
  }
  MemKv mem;   // the state
  MemKv tree;  // its tree (contracts/state_tree.h), apart so that mem compares with the store's s/
  auto apply_to = [](MemKv& kv, const Overlay::Writes& w) {
    for (const auto& [k, v] : w) {
      if (v) {
        kv.Put(k, *v);
      } else {
        kv.Delete(k);
      }
    }
  };
  auto apply = [&](const Overlay::Writes& w) { apply_to(mem, w); };
  Overlay init(&mem);
  auto app = InitChain(*genesis, init);
  if (!app.ok()) return app.status();
  if (HashString(*app) != store.GenesisAppHash()) {
    return Error(Code::kCorruption,
                 "genesis app hash differs from the database's (a database made before the state "
                 "tree's app hash: re-create this chain's data directories)");
  }
  apply(init.writes());
  {
    auto genesis_tree = UpdateStateTree(tree, 0, init.writes());
    if (!genesis_tree.ok()) return genesis_tree.status();
    apply_to(tree, genesis_tree->writes);
  }
  // Conservation at every height, not only at the tip: balances summed per denomination, kept up to
  // date from the account records each block writes (the cost of the accounts it touched), checked
  // against every supply record after each block.
  std::map<std::string, Int128> sums;
  auto add_balances = [&sums](const std::string& record, int sign) {
    auto rec = DecodeRecord<pb::AccountRecord>(record);
    for (const auto& c : rec.balances()) sums[c.denom()] += sign * static_cast<Int128>(c.amount());
  };
  mem.Scan(kAccountPrefix, [&](std::string_view, std::string_view v) {
    add_balances(std::string(v), 1);
    return true;
  });
  auto conserved = [&]() -> Status {
    std::map<std::string, Int128> want;
    mem.Scan(kSupplyPrefix, [&](std::string_view k, std::string_view v) {
      auto sup = DecodeRecord<pb::SupplyRecord>(std::string(v));
      want[std::string(k.substr(kSupplyPrefix.size()))] = static_cast<Int128>(sup.minted()) - sup.burned();
      return true;
    });
    for (const auto& [denom, sum] : sums) {
      auto w = want.find(denom);
      const Int128 expected = w == want.end() ? 0 : w->second;
      if (sum != expected) {
        return Error(Code::kCorruption, "conservation broken for " + denom + ": balances sum to " +
                                            std::to_string(static_cast<int64_t>(sum)) + ", minted - burned is " +
                                            std::to_string(static_cast<int64_t>(expected)));
      }
    }
    for (const auto& [denom, w] : want) {
      if (w != 0 && !sums.count(denom)) return Error(Code::kCorruption, "supply of " + denom + " held by no account");
    }
    return Status::Ok();
  };
  ChainTip tip{genesis->chain_id,
               0,
               "",
               genesis->genesis_time_ms,
               HashString(*app),
               HashString(ValidatorSetHash(LoadValidators(mem))),
               ""};
  const int64_t height = store.Height();
  for (int64_t h = 1; h <= height; ++h) {
    auto where = [h](const std::string& what) { return Error(Code::kCorruption, "height " + std::to_string(h) + ": " + what); };
    auto block = store.LoadBlock(h);
    auto commit = store.LoadCommit(h);
    auto results = store.LoadResults(h);
    if (!block || !commit || !results) return where("block, commit or results missing");
    const pb::ValidatorSet vals = LoadValidators(mem);
    const ValidatorSetsAt sets = [&mem](int64_t at) { return ValidatorsAt(mem, at); };
    if (Status st = ValidateBlock(*block, tip, sets, LoadParams(mem)); !st.ok())
      return where(st.message());
    if (Status st = CheckBlockUnits(*block, LoadParams(mem)); !st.ok()) return where(st.message());
    const std::string block_id = HashString(BlockId(block->header()));
    if (Status st = VerifyCommit(tip.chain_id, vals, h, block_id, *commit); !st.ok()) return where("commit: " + st.message());
    for (const auto& ev : block->evidence()) {
      if (mem.Get(EvidenceKey(ev.vote_a()))) return where("evidence recorded twice");
    }
    Overlay state(&mem);
    std::vector<Hash256> tx_hashes;
    Overlay::Writes tree_writes;
    auto executed =
        ExecuteFullBlock(*block, tip.chain_id, nullptr, state, tree, &tx_hashes, tree_writes);
    if (!executed.ok()) return where(executed.status().message());
    const pb::BlockResults& out = *executed;
    if (Status st = CheckTxResults(store, h, out, *results, tx_hashes); !st.ok()) return where(st.message());
    const std::string app_hash = out.app_hash();
    if (app_hash != results->app_hash()) return where("app hash differs on re-execution");
    for (const auto& [k, v] : state.writes()) {
      if (k.rfind(kAccountPrefix, 0) != 0) continue;
      if (auto old = mem.Get(k)) add_balances(*old, -1);
      if (v) add_balances(*v, 1);
    }
    apply(state.writes());
    // The replay keeps only the newest version of the tree (what the next block builds on).
    apply_to(tree, tree_writes);
    Overlay::Writes pruned;
    PruneStateTree(tree, h, std::numeric_limits<int64_t>::max(), pruned);
    apply_to(tree, pruned);
    if (Status st = conserved(); !st.ok()) return where(st.message());
    tip.height = h;
    tip.block_id = block_id;
    tip.time_ms = block->header().time_ms();
    tip.app_hash = app_hash;
  }
  V2G_RETURN_IF_ERROR(CheckReplayedState(store, mem));
  return height;
}

}  // namespace v2g
