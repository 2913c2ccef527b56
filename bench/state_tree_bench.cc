// The state tree's cost (issue 17; contracts/state_tree.h): per block, the Merkle update over the
// keys the block changed against the chained change hash the app hash was before it, at 1,000,
// 10,000 and 50,000 changed keys, on a LevelDB set up as the node's store (Bloom filter, 32 MiB
// cache) holding a base state; the synced write of the tree's records; then proof sizes and
// the time to make and to verify a proof. Prints the machine's bound (Ed25519 verifications a
// second on one core) beside them. Not a test: numbers only.
//
//   v2g_state_tree_bench [--base-keys N] [--blocks N] [--proofs N]
#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/filter_policy.h>
#include <leveldb/write_batch.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/crypto.h"
#include "contracts/state_tree.h"
#include "node/store/store.h"

namespace v2g {
namespace {

using Clock = std::chrono::steady_clock;
double MsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// The app hash before the state tree: BLAKE2b over the block's changes in key order, chained.
Hash256 ChainedHash(const Hash256& prev, const Overlay::Writes& changes) {
  std::string buf;
  for (const auto& [k, v] : changes) {
    AppendBigEndian64(buf, k.size());
    buf += k;
    buf.push_back(v ? 1 : 0);
    if (v) {
      AppendBigEndian64(buf, v->size());
      buf += *v;
    }
  }
  std::string top = "v2gledger/app/v1";
  top += HashString(prev);
  top += HashString(Blake2b256(buf));
  return Blake2b256(top);
}

std::string AccountLikeKey(std::mt19937_64& rng) {
  std::string k = "s/acct/";
  for (int i = 0; i < 20; ++i) k.push_back(static_cast<char>(rng() & 0xFF));
  return k;
}
std::string AccountLikeValue(std::mt19937_64& rng) {
  std::string v(60, '\0');
  for (char& c : v) c = static_cast<char>(rng() & 0xFF);
  return v;
}

double VerifyRate() {
  KeyPair k = KeyPair::Generate();
  const std::string msg(200, 'm');
  const Signature sig = k.Sign(AsBytes(msg));
  const auto t = Clock::now();
  int n = 0;
  while (MsSince(t) < 500) {
    for (int i = 0; i < 100; ++i) n += Verify(k.public_key(), AsBytes(msg), sig) ? 1 : 0;
  }
  return n / (MsSince(t) / 1000.0);
}

int Main(int argc, char** argv) {
  int64_t base_keys = 200'000;
  int blocks = 3;
  int proofs = 1000;
  CLI::App app{"State tree cost per block, proof size and verification time"};
  app.add_option("--base-keys", base_keys, "Keys in the state before the measured blocks");
  app.add_option("--blocks", blocks, "Blocks measured per size");
  app.add_option("--proofs", proofs, "Proofs made and verified");
  CLI11_PARSE(app, argc, argv);
  InitCrypto();

  const std::string dir =
      std::filesystem::temp_directory_path() / ("v2g-tree-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  leveldb::Options opts;
  opts.create_if_missing = true;
  opts.write_buffer_size = 16 << 20;
  std::unique_ptr<const leveldb::FilterPolicy> filter(leveldb::NewBloomFilterPolicy(10));
  std::unique_ptr<leveldb::Cache> cache(leveldb::NewLRUCache(32 << 20));
  opts.filter_policy = filter.get();
  opts.block_cache = cache.get();
  leveldb::DB* raw = nullptr;
  if (!leveldb::DB::Open(opts, dir, &raw).ok()) {
    std::fprintf(stderr, "cannot open %s\n", dir.c_str());
    return 1;
  }
  std::unique_ptr<leveldb::DB> db(raw);
  DbReader reader(db.get(), nullptr);
  auto write = [&](const Overlay::Writes& w, bool sync) {
    leveldb::WriteBatch b;
    for (const auto& [k, v] : w) {
      if (v)
        b.Put(k, *v);
      else
        b.Delete(k);
    }
    leveldb::WriteOptions wo;
    wo.sync = sync;
    return db->Write(wo, &b).ok();
  };

  std::mt19937_64 rng(17);
  std::vector<std::string> keys;
  keys.reserve(static_cast<size_t>(base_keys) + 200'000);
  int64_t version = 0;
  {
    const auto t = Clock::now();
    Overlay::Writes w;
    for (int64_t i = 0; i < base_keys; ++i) {
      keys.push_back(AccountLikeKey(rng));
      w[keys.back()] = AccountLikeValue(rng);
    }
    auto up = UpdateStateTree(reader, version, w);
    if (!up.ok() || !write(up->writes, true)) return 1;
    std::printf("base state: %lld keys, tree built in %.0f ms (%lld nodes)\n",
                static_cast<long long>(base_keys), MsSince(t),
                static_cast<long long>(up->nodes_written));
  }
  const double v = VerifyRate();
  std::printf("machine bound: V = %.0f Ed25519 verifications/s on one core (%.1f us each)\n\n", v,
              1e6 / v);
  std::printf("%-8s | %-12s | %-14s | %-14s | %-12s | %-14s | %s\n", "changed", "chained hash",
              "tree update", "tree write+fsync", "nodes", "record bytes", "tree us/key");
  Hash256 chained{};
  for (int size : {1'000, 10'000, 50'000}) {
    double t_chain = 0, t_tree = 0, t_write = 0;
    int64_t nodes = 0, bytes = 0;
    for (int b = 0; b < blocks; ++b) {
      Overlay::Writes changes;
      for (int i = 0; i < size; ++i) {
        // 90 % updates of existing keys, 10 % new keys, as a block of transfers to fresh accounts.
        if (rng() % 10 == 0) {
          keys.push_back(AccountLikeKey(rng));
          changes[keys.back()] = AccountLikeValue(rng);
        } else {
          changes[keys[rng() % keys.size()]] = AccountLikeValue(rng);
        }
      }
      auto t = Clock::now();
      chained = ChainedHash(chained, changes);
      t_chain += MsSince(t);
      t = Clock::now();
      auto up = UpdateStateTree(reader, ++version, changes);
      t_tree += MsSince(t);
      if (!up.ok()) {
        std::fprintf(stderr, "%s\n", up.status().ToString().c_str());
        return 1;
      }
      nodes += up->nodes_written;
      for (const auto& [k, val] : up->writes)
        bytes += static_cast<int64_t>(k.size() + (val ? val->size() : 0));
      t = Clock::now();
      if (!write(up->writes, true)) return 1;
      t_write += MsSince(t);
    }
    std::printf("%-8d | %9.2f ms | %11.2f ms | %13.2f ms | %12lld | %11.2f MB | %.1f\n", size,
                t_chain / blocks, t_tree / blocks, t_write / blocks,
                static_cast<long long>(nodes / blocks), static_cast<double>(bytes) / blocks / 1e6,
                t_tree / blocks * 1000.0 / size);
  }
  // Proofs of present keys at the newest version.
  int64_t proof_bytes = 0, proof_max = 0;
  double t_prove = 0, t_verify = 0;
  auto root = StateTreeRoot(reader, version);
  if (!root.ok()) return 1;
  for (int i = 0; i < proofs; ++i) {
    const std::string& key = keys[rng() % keys.size()];
    auto t = Clock::now();
    auto p = ProveStateRange(reader, version, TreeRange::Key(key), 1);
    t_prove += MsSince(t);
    if (!p.ok()) return 1;
    proof_bytes += static_cast<int64_t>(p->proof.size());
    proof_max = std::max<int64_t>(proof_max, static_cast<int64_t>(p->proof.size()));
    t = Clock::now();
    auto e = VerifyStateProof(*root, p->proof, TreeRange::Key(key));
    t_verify += MsSince(t);
    if (!e.ok() || e->size() != 1) return 1;
  }
  std::printf(
      "\nproofs of one key in a state of %zu keys: %lld bytes on average, %lld at most; make %.1f "
      "us, "
      "verify %.1f us (%.2f Ed25519 verifications' time)\n",
      keys.size(), static_cast<long long>(proof_bytes / proofs), static_cast<long long>(proof_max),
      t_prove * 1000.0 / proofs, t_verify * 1000.0 / proofs, t_verify / 1000.0 / proofs * v);
  db.reset();
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace v2g

int main(int argc, char** argv) { return v2g::Main(argc, argv); }
