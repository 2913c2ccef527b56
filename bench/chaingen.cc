// v2g_chaingen: the fixture generator for block sync (issue 13 item 6; docs/DESIGN.md "Catching
// up"). Given validator homes made by `v2gd testnet` and never started, it builds a long chain
// quickly, as the network would have built it but without waiting for real time:
//
//   - blocks of real txs: the issuer (the genesis issuer of the market denomination, whose key
//     must be one of the homes' validator keys, as `v2gd testnet` makes it without --issuer) mints
//     to --senders accounts in the first blocks, then every block carries --txs-per-block signed
//     transfers between them, each admitted to a Mempool (signature and state checked) and reaped
//     by Chain::Propose, exactly as a proposer builds a block;
//   - each block committed by Chain::Commit (validation, execution, the store's one batch) with a
//     commit of precommits signed by every given validator's consensus key, which must hold more
//     than 2/3 of the power (the block after it verifies that commit as its last_commit);
//   - block times are BFT time as block validation demands: block 1 at genesis + 1 ms, block H + 1
//     at the precommit stamp of block H, which is block H's time + --block-ms. The whole chain, and
//     the block the network makes after it, must lie in the past (give `v2gd testnet
//     --genesis-time` early enough); the tool refuses otherwise;
//   - written once, without an fsync per block (StoreOptions::sync_commits off, one Sync at the
//     end), then the database is copied into every other home: every validator starts at height N
//     with the same blocks, commits and state a node would have stored;
//   - each validator's signer state (node/bft/signer.h) records the precommit it signed for
//     block N, so its double-sign protection is consistent with the chain and it signs on from
//     height N + 1.
//
// It prints blocks/s and tx/s achieved. Nothing here is consensus code: a bug makes a chain that
// the nodes refuse (the test in tests/integration/catchup_test.cc syncs one), never a wrong rule.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/assert.h"
#include "common/bech32.h"
#include "common/checked.h"
#include "common/crypto.h"
#include "common/fsutil.h"
#include "common/signbytes.h"
#include "consensus/block.h"
#include "consensus/tendermint.h"
#include "contracts/app.h"
#include "contracts/state.h"
#include "genesis/genesis.h"
#include "node/bft/signer.h"
#include "node/chain.h"
#include "node/config.h"
#include "node/keys.h"
#include "node/mempool.h"
#include "node/node.h"
#include "node/store/store.h"
#include "proto/encode.h"
#include "wallet/tx_builder.h"

namespace v2g::chaingen {
namespace {

// ---- limits (checked on the flags before anything is written)
// Blocks per run: 10 million at ~1 KiB each with 10 txs is ~10 GiB of store; far past the
// benchmark's 100,000.
constexpr int64_t kBlocksMax = 10'000'000;
// Txs per block: also bounded by the chain's block_txs_max and block_units_max (checked too).
constexpr int64_t kTxsPerBlockMax = 10'000;
// Senders: each costs one mint in the first blocks and one key in memory.
constexpr int64_t kSendersMax = 10'000;
// Mints per funding block: under the mempool's usual per-sender limit (256), so the first blocks
// look like what a node's pool would have let one issuer send.
constexpr int64_t kMintsPerBlockMax = 200;
// The homes to fill: a validator set holds at most 150 validators (genesis bound).
constexpr size_t kHomesMax = 150;
// The generator's own pool holds at most one block's txs at a time; these bound it regardless.
constexpr MempoolLimits kPoolLimits{100'000, 256 << 20, 100'000, 100'000};
// Progress lines every this many blocks.
constexpr int64_t kProgressBlocks = 10'000;

struct Options {
  std::vector<std::string> homes;
  int64_t blocks = 100'000;
  int64_t txs_per_block = 10;
  int64_t senders = 64;
  int64_t block_ms = 1000;
  int64_t amount = 1;
  std::string seed = "v2g-chaingen";
  bool quiet = false;
};

// The fee units a block may carry (0 in a params record from before the bound: none, as
// node/chain.cc reads it). A mint or a transfer is one unit.
int64_t UnitsMax(const pb::ParamsRecord& params) {
  return params.block_units_max() > 0 ? params.block_units_max() : kTxsPerBlockMax;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// A validator whose home was given: its key signs every commit.
struct Signing {
  std::string home;
  KeyPair key;
  std::string address;  // raw 20 bytes
};

// Everything the run needs from the homes, checked: the same genesis everywhere, fresh data
// directories, validator keys of the genesis set with more than 2/3 of the power, and the issuer.
struct Setup {
  GenesisState genesis;
  std::vector<Signing> signers;
  std::optional<KeyPair> issuer;
  std::string denom;
};

Result<Setup> LoadHomes(const Options& o) {
  Setup s;
  std::string genesis_json;
  std::map<std::string, int64_t> power;  // raw address -> power
  for (const auto& home : o.homes) {
    HomePaths p{home};
    auto g = LoadGenesisFile(p.genesis());
    if (!g.ok()) return g.status();
    if (genesis_json.empty()) {
      genesis_json = GenesisToJson(*g);
      s.genesis = *g;
      for (const auto& v : g->validators) power[AddressBytes(v.address)] = v.power;
    } else if (GenesisToJson(*g) != genesis_json) {
      return Error(Code::kInvalidArgument,
                   p.genesis() + " differs from " + o.homes[0] + "'s: the homes are not one chain");
    }
    if (FileExists(p.db()) || FileExists(p.signer_state()) || FileExists(p.wal())) {
      return Error(Code::kAlreadyExists,
                   home +
                       " has a database, signer state or WAL already; chaingen fills only "
                       "homes that never ran (make them with v2gd testnet)");
    }
    auto key = LoadNodeKey(p.validator_key());
    if (!key.ok()) return key.status();
    const std::string address = AddressBytes(AddressFromPublicKey(key->public_key()));
    if (!power.count(address))
      return Error(Code::kInvalidArgument, p.validator_key() + " is not a genesis validator's key");
    for (const auto& other : s.signers) {
      if (other.address == address)
        return Error(Code::kInvalidArgument,
                     home + " holds the same validator key as " + other.home);
    }
    s.signers.push_back({home, *key, address});
  }
  Int128 signed_power = 0, total = 0;
  for (const auto& [a, w] : power) total += w;
  for (const auto& v : s.signers) signed_power += power[v.address];
  if (signed_power * 3 <= total * 2) {
    return Error(Code::kInvalidArgument,
                 "the given homes' validators hold " +
                     std::to_string(static_cast<int64_t>(signed_power)) + " of " +
                     std::to_string(static_cast<int64_t>(total)) +
                     " voting power; a commit needs more than 2/3: give more homes");
  }
  s.denom = s.genesis.params.market_denom;
  if (s.denom.empty())
    return Error(Code::kInvalidArgument,
                 "genesis has no market denomination to transfer and pay fees in");
  for (const auto& d : s.genesis.denoms) {
    if (d.name != s.denom) continue;
    for (const auto& v : s.signers) {
      if (AddressFromPublicKey(v.key.public_key()) == d.issuer) s.issuer = v.key;
    }
  }
  if (!s.issuer) {
    return Error(Code::kInvalidArgument,
                 "the issuer of " + s.denom +
                     " is none of the given validators (make the homes with "
                     "v2gd testnet without --issuer, so node0's validator key issues it)");
  }
  return s;
}

std::vector<KeyPair> SenderKeys(const Options& o) {
  std::vector<KeyPair> keys;
  keys.reserve(static_cast<size_t>(o.senders));
  for (int64_t i = 0; i < o.senders; ++i) {
    Hash256 seed = Blake2b256("v2g-chaingen sender\n" + o.seed + "\n" + std::to_string(i));
    keys.push_back(KeyPair::FromSeed(ByteView(seed.data(), seed.size())));
  }
  return keys;
}

// The precommits of every signer for `block_id` at `height` (round 0), stamped `ts_ms`, in
// validator-set order as the engine builds a commit (consensus/tendermint.cc Decide).
pb::Commit MakeCommit(const std::string& chain_id, const pb::ValidatorSet& vals,
                      const std::vector<Signing>& signers, int64_t height,
                      const std::string& block_id, int64_t ts_ms) {
  pb::Commit commit;
  commit.set_height(height);
  commit.set_round(0);
  commit.set_block_id(block_id);
  const std::string bytes =
      VoteSignBytes(chain_id, VoteType::kPrecommit, height, 0, block_id, ts_ms);
  for (const auto& val : vals.validators()) {
    for (const auto& s : signers) {
      if (s.address != val.address()) continue;
      const Signature sig = s.key.Sign(AsBytes(bytes));
      pb::CommitSig* cs = commit.add_signatures();
      cs->set_validator_address(s.address);
      cs->set_timestamp_ms(ts_ms);
      cs->set_signature(std::string(sig.begin(), sig.end()));
    }
  }
  return commit;
}

// One signed tx, admitted to the pool as a node's API would admit it.
Status Admit(Mempool& pool, const Store& store, const std::string& tx) {
  auto added = pool.Add(tx, store.state());
  if (!added.ok())
    return Error(added.status().code(),
                 "the generator's own tx was refused: " + added.status().message());
  return Status::Ok();
}

class Generator {
 public:
  Generator(const Options& o, Setup& s, Store& store)
      : o_(o),
        s_(s),
        store_(store),
        pool_(s.genesis.chain_id, kPoolLimits),
        chain_(store, pool_, s.genesis.chain_id, s.genesis.genesis_time_ms),
        senders_(SenderKeys(o)),
        nonces_(senders_.size(), 1) {}  // nonces start at 1

  // Builds and commits blocks 1..o.blocks; returns the commit of the last one.
  Result<pb::Commit> Run() {
    const pb::ParamsRecord params = chain_.Params();
    const int64_t per_sender_txs = o_.blocks * o_.txs_per_block / o_.senders + 1;
    const int64_t fee =
        std::max<int64_t>(RequiredFee(params, MakeTransfer(0, {}, s_.denom, o_.amount)), 0);
    // Each transfer costs its sender the fee (it gets `amount` back from the sender before it).
    const int64_t fund = (per_sender_txs + 16) * (fee + o_.amount) + 1000;
    int64_t funded = 0;
    pb::Commit last_commit;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t h = 1; h <= o_.blocks; ++h) {
      if (funded < o_.senders) {
        V2G_RETURN_IF_ERROR(AddMints(params, fund, funded));
      } else {
        V2G_RETURN_IF_ERROR(AddTransfers(params));
      }
      auto commit = CommitNext(last_commit);
      if (!commit.ok()) return commit.status();
      last_commit = std::move(*commit);
      if (!o_.quiet && h % kProgressBlocks == 0) {
        std::printf("  %lld blocks, %lld txs, %.1f s\n", static_cast<long long>(h),
                    static_cast<long long>(txs_), Seconds(t0));
        std::fflush(stdout);
      }
    }
    return last_commit;
  }

  int64_t txs() const { return txs_; }
  const Chain& chain() const { return chain_; }

 private:
  Status AddMints(const pb::ParamsRecord& params, int64_t fund, int64_t& funded) {
    const int64_t n = std::min(
        {o_.senders - funded, kMintsPerBlockMax, params.block_txs_max(), UnitsMax(params)});
    for (int64_t i = 0; i < n; ++i, ++funded) {
      const Address to = AddressFromPublicKey(senders_[static_cast<size_t>(funded)].public_key());
      pb::TxBody body = MakeMint(issuer_nonce_++, to, s_.denom, fund);
      SetFee(params, body);
      V2G_RETURN_IF_ERROR(
          Admit(pool_, store_, SignTx(*s_.issuer, s_.genesis.chain_id, std::move(body))));
    }
    return Status::Ok();
  }

  // txs_per_block transfers, round-robin over the senders, each to the next sender.
  Status AddTransfers(const pb::ParamsRecord& params) {
    const auto n = static_cast<int64_t>(senders_.size());
    for (int64_t i = 0; i < o_.txs_per_block; ++i) {
      const int64_t from = next_sender_;
      next_sender_ = (next_sender_ + 1) % n;
      const Address to =
          AddressFromPublicKey(senders_[static_cast<size_t>((from + 1) % n)].public_key());
      pb::TxBody body = MakeTransfer(nonces_[static_cast<size_t>(from)]++, to, s_.denom, o_.amount);
      SetFee(params, body);
      V2G_RETURN_IF_ERROR(
          Admit(pool_, store_,
                SignTx(senders_[static_cast<size_t>(from)], s_.genesis.chain_id, std::move(body))));
    }
    return Status::Ok();
  }

  void SetFee(const pb::ParamsRecord& params, pb::TxBody& body) const {
    const int64_t fee = RequiredFee(params, body);
    if (fee <= 0) return;
    body.mutable_fee()->set_denom(s_.denom);
    body.mutable_fee()->set_amount(fee);
  }

  // Proposes the next block from the pool (as BftEngine::CreateBlock does), signs its commit and
  // commits it through the node's own Chain::Commit.
  Result<pb::Commit> CommitNext(const pb::Commit& last_commit) {
    const ChainTip tip = chain_.Tip();
    const pb::ValidatorSet vals = chain_.Validators();
    const int64_t height = tip.height + 1;
    const int64_t time_ms = BftTime(tip, last_commit, vals);
    const std::string proposer = ProposerFor(vals, height, 0).address();
    const int64_t pending = pool_.Stats().txs;
    pb::Block block = chain_.Propose(time_ms, proposer, last_commit);
    if (block.txs_size() != pending) {
      return Error(Code::kInternal, "block " + std::to_string(height) + " took " +
                                        std::to_string(block.txs_size()) + " of " +
                                        std::to_string(pending) + " pending txs (block limits?)");
    }
    const std::string block_id = HashString(BlockId(block.header()));
    pb::Commit commit =
        MakeCommit(s_.genesis.chain_id, vals, s_.signers, height, block_id, time_ms + o_.block_ms);
    // The commit's signatures are checked when the next block validates it as its last_commit
    // (and the last one by the caller), so Commit need not verify them twice.
    V2G_RETURN_IF_ERROR(chain_.Commit(block, commit, /*commit_verified=*/true));
    txs_ += block.txs_size();
    return commit;
  }

  const Options& o_;
  Setup& s_;
  Store& store_;
  Mempool pool_;
  Chain chain_;
  std::vector<KeyPair> senders_;
  std::vector<uint64_t> nonces_;
  uint64_t issuer_nonce_ = 1;  // nonces start at 1
  int64_t next_sender_ = 0;
  int64_t txs_ = 0;
};

// The signer record of the precommit each validator signed for the last block: what
// Signer::SignVote would have saved, so the validator refuses anything at or below it.
Status SaveSignerStates(const Setup& s, const pb::Commit& commit) {
  for (const auto& v : s.signers) {
    const pb::CommitSig* sig = nullptr;
    for (const auto& cs : commit.signatures()) {
      if (cs.validator_address() == v.address) sig = &cs;
    }
    V2G_ASSERT(sig != nullptr);  // MakeCommit signs for every signer
    pb::SignState st;
    st.set_height(commit.height());
    st.set_round(commit.round());
    st.set_step(static_cast<int32_t>(SignStep::kPrecommit));
    st.set_block_id(commit.block_id());
    st.set_signature(sig->signature());
    st.set_timestamp_ms(sig->timestamp_ms());
    st.set_sign_bytes(VoteSignBytes(s.genesis.chain_id, VoteType::kPrecommit, commit.height(),
                                    commit.round(), commit.block_id(), sig->timestamp_ms()));
    FileSignStateStore file(HomePaths{v.home}.signer_state());
    V2G_RETURN_IF_ERROR(file.Save(st));
  }
  return Status::Ok();
}

Status CopyDatabase(const std::string& from, const std::string& to) {
  std::error_code ec;
  std::filesystem::copy(from, to, std::filesystem::copy_options::recursive, ec);
  if (ec) return Error(Code::kIo, "copying " + from + " to " + to + ": " + ec.message());
  return Status::Ok();
}

Status CheckOptions(const Options& o) {
  auto bad = [](const std::string& why) { return Error(Code::kInvalidArgument, why); };
  if (o.homes.empty() || o.homes.size() > kHomesMax)
    return bad("--home: give 1.." + std::to_string(kHomesMax) + " validator homes");
  if (o.blocks < 1 || o.blocks > kBlocksMax)
    return bad("--blocks: 1.." + std::to_string(kBlocksMax));
  if (o.txs_per_block < 0 || o.txs_per_block > kTxsPerBlockMax) {
    return bad("--txs-per-block: 0.." + std::to_string(kTxsPerBlockMax));
  }
  if (o.senders < 1 || o.senders > kSendersMax)
    return bad("--senders: 1.." + std::to_string(kSendersMax));
  if (o.block_ms < 1 || o.block_ms > 3'600'000) return bad("--block-ms: 1..3600000");
  if (o.amount < 1 || o.amount > 1'000'000) return bad("--amount: 1..1000000");
  return Status::Ok();
}

// The chain, and the block the network makes after it (stamped at the last block's time +
// block_ms by the generated precommits), must lie in the past: a block stamped ahead of the
// validators' clocks would hold their precommits' stamps (never earlier than the block's) ahead
// of them too.
Status CheckTimes(const Options& o, const Setup& s) {
  const Int128 end = static_cast<Int128>(s.genesis.genesis_time_ms) + 1 +
                     static_cast<Int128>(o.blocks) * o.block_ms;
  const int64_t now = NowMs();
  if (end > now) {
    return Error(Code::kInvalidArgument,
                 "--blocks x --block-ms from genesis time ends " +
                     std::to_string(static_cast<int64_t>(end - now) / 1000 + 1) +
                     " s in the future: make the homes with an earlier v2gd testnet "
                     "--genesis-time, or lower --block-ms");
  }
  return Status::Ok();
}

int Fail(const Status& st) {
  std::fprintf(stderr, "v2g_chaingen: %s\n", st.message().c_str());
  return 1;
}

int Run(const Options& o) {
  if (Status st = CheckOptions(o); !st.ok()) return Fail(st);
  auto setup = LoadHomes(o);
  if (!setup.ok()) return Fail(setup.status());
  if (Status st = CheckTimes(o, *setup); !st.ok()) return Fail(st);
  const std::string first_db = HomePaths{o.homes[0]}.db();
  if (Status st = MakeDirs(HomePaths{o.homes[0]}.data_dir(), 0700); !st.ok()) return Fail(st);
  StoreOptions so;
  so.sync_commits = false;
  auto store = Store::Open(first_db, so);
  if (!store.ok()) return Fail(store.status());
  if (Status st = OpenOrInitStore(**store, setup->genesis); !st.ok()) return Fail(st);
  const pb::ParamsRecord params = LoadParams((*store)->state());
  if (o.txs_per_block > std::min(params.block_txs_max(), UnitsMax(params))) {
    return Fail(Error(Code::kInvalidArgument,
                      "--txs-per-block: the chain's blocks hold at most " +
                          std::to_string(std::min(params.block_txs_max(), UnitsMax(params))) +
                          " transfers (block_txs_max, block_units_max)"));
  }
  if (!o.quiet) {
    std::printf(
        "chaingen: %lld blocks of %lld transfers among %lld senders, %zu signing validators, into "
        "%s\n",
        static_cast<long long>(o.blocks), static_cast<long long>(o.txs_per_block),
        static_cast<long long>(o.senders), setup->signers.size(), o.homes[0].c_str());
    std::fflush(stdout);
  }
  const auto t0 = std::chrono::steady_clock::now();
  Generator gen(o, *setup, **store);
  auto last = gen.Run();
  if (!last.ok()) return Fail(last.status());
  // Every other commit was verified as the next block's last_commit; the last one here.
  const ChainTip tip = gen.chain().Tip();
  if (Status st =
          VerifyCommit(tip.chain_id, gen.chain().Validators(), tip.height, tip.block_id, *last);
      !st.ok()) {
    return Fail(Error(st.code(), "the last commit: " + st.message()));
  }
  if (Status st = (*store)->Sync(); !st.ok()) return Fail(st);
  const double build_s = Seconds(t0);
  store->reset();  // closed before its files are copied
  for (size_t i = 1; i < o.homes.size(); ++i) {
    HomePaths p{o.homes[i]};
    if (Status st = MakeDirs(p.data_dir(), 0700); !st.ok()) return Fail(st);
    if (Status st = CopyDatabase(first_db, p.db()); !st.ok()) return Fail(st);
  }
  if (Status st = SaveSignerStates(*setup, *last); !st.ok()) return Fail(st);
  const double total_s = Seconds(t0);
  std::printf(
      "chaingen: height %lld, %lld txs, last block time %lld ms (%lld s ago), app hash %s\n",
      static_cast<long long>(tip.height), static_cast<long long>(gen.txs()),
      static_cast<long long>(tip.time_ms), static_cast<long long>((NowMs() - tip.time_ms) / 1000),
      HexEncode(tip.app_hash).c_str());
  std::printf(
      "chaingen: built in %.1f s: %.0f blocks/s, %.0f tx/s; with the copies into %zu homes %.1f "
      "s\n",
      build_s, static_cast<double>(tip.height) / build_s, static_cast<double>(gen.txs()) / build_s,
      o.homes.size(), total_s);
  return 0;
}

}  // namespace
}  // namespace v2g::chaingen

int main(int argc, char** argv) {
  using v2g::chaingen::Options;
  v2g::InitCrypto();
  Options o;
  CLI::App app{
      "v2g_chaingen: build a long chain into fresh validator homes (v2gd testnet), committed with "
      "the "
      "validators' keys without waiting for real time (docs/DESIGN.md \"Catching up\")"};
  app.add_option(
         "--home", o.homes,
         "A validator home to fill (repeat; their validators sign every commit and must hold "
         "more than 2/3 of the power)")
      ->required();
  app.add_option("--blocks", o.blocks, "Blocks to build")->capture_default_str();
  app.add_option("--txs-per-block", o.txs_per_block,
                 "Signed transfers per block (after the funding blocks)")
      ->capture_default_str();
  app.add_option("--senders", o.senders,
                 "Accounts funded by the issuer in the first blocks, then sending to each other")
      ->capture_default_str();
  app.add_option("--block-ms", o.block_ms,
                 "Block time step (BFT time: each commit's stamps are the block's time + this)")
      ->capture_default_str();
  app.add_option("--amount", o.amount, "Minimal units per transfer")->capture_default_str();
  app.add_option("--seed", o.seed, "Senders' keys derive from this")->capture_default_str();
  app.add_flag("--quiet", o.quiet, "Only the summary");
  CLI11_PARSE(app, argc, argv);
  return v2g::chaingen::Run(o);
}
