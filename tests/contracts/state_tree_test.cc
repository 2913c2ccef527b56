// The authenticated state (contracts/state_tree.h): roots independent of history, proofs of
// present and absent keys and of complete ranges, tampering caught, pruning that keeps the
// versions it should and nothing more.
#include "contracts/state_tree.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "common/bytes.h"

namespace v2g {
namespace {

using Entries = std::vector<std::pair<std::string, std::string>>;

// A node's database: the trie's records, written version after version as a node would.
struct TreeDb {
  MemKv db;
  int64_t version = -1;

  Hash256 Apply(const Overlay::Writes& changes) {
    ++version;
    auto up = UpdateStateTree(db, version, changes);
    EXPECT_TRUE(up.ok()) << up.status().ToString();
    for (const auto& [k, v] : up->writes) {
      if (v)
        db.Put(k, *v);
      else
        db.Delete(k);
    }
    return up->root;
  }
  int64_t Prune(int64_t keep_from) {
    Overlay::Writes del;
    int64_t n = PruneStateTree(db, keep_from, 1'000'000'000, del);
    for (const auto& [k, v] : del) {
      EXPECT_FALSE(v.has_value());
      db.Delete(k);
    }
    return n;
  }
  size_t Count(std::string_view prefix) const {
    size_t n = 0;
    db.Scan(prefix, [&](std::string_view, std::string_view) {
      ++n;
      return true;
    });
    return n;
  }
};

Hash256 RootOf(const std::map<std::string, std::string>& state) {
  TreeDb fresh;
  Overlay::Writes w;
  for (const auto& [k, v] : state) w[k] = v;
  return fresh.Apply(w);
}

Entries ModelRange(const std::map<std::string, std::string>& state, const TreeRange& r) {
  Entries out;
  for (auto it = state.lower_bound(r.lo); it != state.end(); ++it) {
    if (!r.hi.empty() && it->first >= r.hi) break;
    out.emplace_back(it->first, it->second);
  }
  return out;
}

// Keys shaped like the state's: prefixes shared by many, ids of several lengths, keys that are
// prefixes of others, and bytes that differ in one bit.
std::string RandomKey(std::mt19937_64& rng) {
  static const char* kPrefixes[] = {"s/acct/", "s/meter/", "s/meter_e/", "s/m", "s/", ""};
  std::string k = kPrefixes[rng() % 6];
  const size_t len = rng() % 5;
  for (size_t i = 0; i < len; ++i) {
    const uint64_t pick = rng() % 4;
    k.push_back(pick == 0 ? '\0' : pick == 1 ? '\xff' : static_cast<char>('a' + rng() % 3));
  }
  return k;
}

TEST(StateTreeTest, TwoKeysHashAsTheFormatSays) {
  // "a" = 1 01100001 0 and "b" = 1 01100010 0 first differ at bit 7; the node keeps 7 bits: the
  // continuation bit and 0110000, canonical byte 0x60.
  auto leaf = [](std::string_view k, std::string_view v) {
    std::string b(1, '\x00');
    b += std::string("\x00\x00\x00", 3) + static_cast<char>(k.size());
    b += k;
    b += HashString(Blake2b256(v));
    return Blake2b256(b);
  };
  std::string inner = std::string("\x01\x00\x00\x00\x07\x00\x00\x00\x01\x60", 10);
  inner += HashString(leaf("a", "1"));
  inner += HashString(leaf("b", "2"));
  EXPECT_EQ(RootOf({{"a", "1"}, {"b", "2"}}), Blake2b256(inner));
  EXPECT_EQ(RootOf({{"a", "1"}}), leaf("a", "1"));
  EXPECT_EQ(RootOf({}), Hash256{});
}

TEST(StateTreeTest, EveryChangeOfTheStateChangesTheRoot) {
  const std::map<std::string, std::string> base = {{"s/acct/a", "1"}, {"s/acct/b", "22"}};
  std::vector<std::map<std::string, std::string>> variants;
  auto with = [&](auto edit) {
    auto m = base;
    edit(m);
    variants.push_back(m);
  };
  with([](auto& m) { m["s/acct/a"] = "2"; });  // value
  with([](auto& m) { m["s/acct/a"] = ""; });   // empty value
  with([](auto& m) { m.erase("s/acct/a"); });  // deleted
  with([](auto& m) { m["s/acct/c"] = "1"; });  // added
  with([](auto& m) {                           // key renamed
    m.erase("s/acct/b");
    m["s/acct/B"] = "22";
  });
  with([](auto& m) {  // bytes moved across the key/value boundary
    m.erase("s/acct/b");
    m["s/acct/b2"] = "2";
  });
  with([](auto& m) {  // a key that is a prefix of another
    m["s/acct/"] = "1";
  });
  std::set<Hash256> seen = {RootOf(base)};
  EXPECT_EQ(RootOf(base), RootOf(base));
  for (size_t i = 0; i < variants.size(); ++i) {
    EXPECT_TRUE(seen.insert(RootOf(variants[i])).second) << "variant " << i;
  }
}

TEST(StateTreeTest, TheRootDependsOnTheStateNotOnItsHistory) {
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    std::mt19937_64 rng(seed);
    TreeDb tree;
    std::map<std::string, std::string> state;
    for (int block = 0; block < 25; ++block) {
      Overlay::Writes w;
      const int n = static_cast<int>(rng() % 12);
      for (int i = 0; i < n; ++i) {
        std::string k = RandomKey(rng);
        if (rng() % 3 == 0) {
          w[k] = std::nullopt;  // also deletes keys that are not there
          state.erase(k);
        } else {
          std::string v = "v" + std::to_string(rng() % 4);  // rewrites of the same value too
          w[k] = v;
          state[k] = v;
        }
      }
      ASSERT_EQ(tree.Apply(w), RootOf(state)) << "seed " << seed << " block " << block;
      auto root = StateTreeRoot(tree.db, tree.version);
      ASSERT_TRUE(root.ok());
    }
  }
}

TEST(StateTreeTest, ProofsShowPresentAndAbsentKeysAndWholeRanges) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed * 7919);
    TreeDb tree;
    std::map<std::string, std::string> state;
    Hash256 root{};
    for (int block = 0; block < 10; ++block) {
      Overlay::Writes w;
      for (int i = 0; i < 15; ++i) {
        std::string k = RandomKey(rng);
        if (rng() % 4 == 0) {
          w[k] = std::nullopt;
          state.erase(k);
        } else {
          w[k] = "value" + std::to_string(rng());
          state[k] = *w[k];
        }
      }
      root = tree.Apply(w);
    }
    for (int q = 0; q < 60; ++q) {
      TreeRange range;
      size_t limit = 1 + rng() % 6;
      if (q % 3 == 0) {
        range = TreeRange::Key(RandomKey(rng));
      } else if (q % 3 == 1) {
        range = TreeRange::Prefix(RandomKey(rng).substr(0, 1 + rng() % 4));
      } else {
        std::string a = RandomKey(rng), b = RandomKey(rng);
        if (b < a) std::swap(a, b);
        range.lo = a;
        range.hi = b;
      }
      auto proof = ProveStateRange(tree.db, tree.version, range, limit);
      ASSERT_TRUE(proof.ok()) << proof.status().ToString();
      Entries model = ModelRange(state, proof->range);
      ASSERT_LE(proof->entries.size(), limit);
      EXPECT_EQ(proof->entries, model) << "seed " << seed << " query " << q;
      // Cut only when the query held more, and then exactly at the first key left out.
      Entries whole = ModelRange(state, range);
      if (whole.size() > limit) {
        ASSERT_TRUE(proof->next.has_value());
        EXPECT_EQ(*proof->next, whole[limit].first);
      } else {
        EXPECT_FALSE(proof->next.has_value());
      }
      auto verified = VerifyStateProof(root, proof->proof, proof->range);
      ASSERT_TRUE(verified.ok()) << verified.status().ToString();
      EXPECT_EQ(*verified, model);
      // The same proof does not pass for a range wider than it shows (nothing may be left out).
      if (proof->next) {
        TreeRange wider = proof->range;
        wider.hi = range.hi;
        auto cut = VerifyStateProof(root, proof->proof, wider);
        ASSERT_FALSE(cut.ok());
        const std::string& why = cut.status().message();
        EXPECT_TRUE(why.find("leaves out") != std::string::npos ||
                    why.find("shown without its value") != std::string::npos)
            << why;
      }
    }
  }
}

TEST(StateTreeTest, AnAbsentKeyIsProvenAbsentAndAProofOfOneKeyProvesNoOther) {
  TreeDb tree;
  Overlay::Writes w;
  for (std::string k : {"s/acct/a", "s/acct/b", "s/acct/bb", "s/meter/x"}) w[k] = "v:" + k;
  const Hash256 root = tree.Apply(w);
  auto absent = ProveStateRange(tree.db, 0, TreeRange::Key("s/acct/ba"), 10);
  ASSERT_TRUE(absent.ok());
  auto v = VerifyStateProof(root, absent->proof, TreeRange::Key("s/acct/ba"));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_TRUE(v->empty());
  // It places the absent key between neighbours without showing their values.
  for (std::string k : {"s/acct/a", "s/acct/b", "s/acct/bb", "s/meter/x"}) {
    EXPECT_EQ(absent->proof.find("v:" + k), std::string::npos) << k;
  }
  // The absence proof cannot be shown as the absence of a key that exists.
  for (std::string k : {"s/acct/a", "s/acct/b", "s/acct/bb", "s/meter/x"}) {
    EXPECT_FALSE(VerifyStateProof(root, absent->proof, TreeRange::Key(k)).ok()) << k;
  }
  auto present = ProveStateRange(tree.db, 0, TreeRange::Key("s/acct/b"), 10);
  ASSERT_TRUE(present.ok());
  auto pv = VerifyStateProof(root, present->proof, TreeRange::Key("s/acct/b"));
  ASSERT_TRUE(pv.ok());
  EXPECT_EQ(*pv, (Entries{{"s/acct/b", "v:s/acct/b"}}));
}

TEST(StateTreeTest, AnyChangedByteOfAProofOrTheRootFailsVerification) {
  TreeDb tree;
  Overlay::Writes w;
  for (int i = 0; i < 40; ++i)
    w["s/acct/" + std::to_string(i * 37 % 101)] = "balance " + std::to_string(i);
  const Hash256 root = tree.Apply(w);
  for (const TreeRange& range :
       {TreeRange::Key("s/acct/37"), TreeRange::Key("s/acct/38"), TreeRange::Prefix("s/acct/3")}) {
    auto proof = ProveStateRange(tree.db, 0, range, 100);
    ASSERT_TRUE(proof.ok());
    ASSERT_TRUE(VerifyStateProof(root, proof->proof, range).ok());
    for (size_t i = 0; i < proof->proof.size(); ++i) {
      for (int flip : {0x01, 0x80, 0xff}) {
        std::string bad = proof->proof;
        bad[i] = static_cast<char>(static_cast<uint8_t>(bad[i]) ^ flip);
        EXPECT_FALSE(VerifyStateProof(root, bad, range).ok()) << "byte " << i << " ^ " << int(flip);
      }
    }
    EXPECT_FALSE(VerifyStateProof(root, proof->proof + "x", range).ok());
    EXPECT_FALSE(
        VerifyStateProof(root, proof->proof.substr(0, proof->proof.size() - 1), range).ok());
    Hash256 other = root;
    other[31] ^= 1;
    EXPECT_FALSE(VerifyStateProof(other, proof->proof, range).ok());
  }
}

TEST(StateTreeTest, PruningKeepsEveryVersionFromTheCutAndLeavesExactlyTheLiveNodes) {
  std::mt19937_64 rng(42);
  TreeDb tree;
  std::map<std::string, std::string> state;
  std::vector<std::map<std::string, std::string>> states;
  std::vector<Hash256> roots;
  for (int block = 0; block < 40; ++block) {
    Overlay::Writes w;
    for (int i = 0; i < 10; ++i) {
      std::string k = RandomKey(rng);
      if (rng() % 4 == 0) {
        w[k] = std::nullopt;
        state.erase(k);
      } else {
        w[k] = std::to_string(rng());
        state[k] = *w[k];
      }
    }
    roots.push_back(tree.Apply(w));
    states.push_back(state);
  }
  const int64_t keep_from = 30;
  EXPECT_GT(tree.Prune(keep_from), 0);
  for (int64_t v = 0; v <= tree.version; ++v) {
    auto proof = ProveStateRange(tree.db, v, TreeRange::Prefix(""), 1'000'000);
    if (v < keep_from) {
      EXPECT_FALSE(proof.ok()) << "version " << v << " was pruned";
      continue;
    }
    ASSERT_TRUE(proof.ok()) << "version " << v << ": " << proof.status().ToString();
    auto entries =
        VerifyStateProof(roots[static_cast<size_t>(v)], proof->proof, TreeRange::Prefix(""));
    ASSERT_TRUE(entries.ok());
    EXPECT_EQ(*entries, ModelRange(states[static_cast<size_t>(v)], TreeRange::Prefix("")));
  }
  // Pruned to the last version, the store holds one root, one leaf per key and one inner node
  // fewer than the keys: nothing leaks.
  tree.Prune(tree.version);
  EXPECT_EQ(tree.Count("n/R"), 1u);
  EXPECT_EQ(tree.Count("n/L"), state.size());
  EXPECT_EQ(tree.Count("n/I"), state.empty() ? 0 : state.size() - 1);
  EXPECT_EQ(tree.Count("n/S"), 0u);
  // And it keeps working: the next version builds on what is left.
  Overlay::Writes w;
  w["s/acct/new"] = "1";
  state["s/acct/new"] = "1";
  EXPECT_EQ(tree.Apply(w), RootOf(state));
}

TEST(StateTreeTest, AMissingNodeIsReportedNotGuessed) {
  TreeDb tree;
  Overlay::Writes w;
  for (int i = 0; i < 8; ++i) w["k" + std::to_string(i)] = "v";
  tree.Apply(w);
  std::string inner;
  tree.db.Scan("n/I", [&](std::string_view k, std::string_view) {
    inner = k;
    return false;
  });
  ASSERT_FALSE(inner.empty());
  tree.db.Delete(inner);
  Overlay::Writes more;
  for (int i = 0; i < 8; ++i) more["k" + std::to_string(i)] = "w";
  auto up = UpdateStateTree(tree.db, 1, more);
  ASSERT_FALSE(up.ok());
  EXPECT_EQ(up.status().code(), Code::kCorruption);
  EXPECT_FALSE(UpdateStateTree(tree.db, 5, more).ok());  // no root at version 4
  EXPECT_EQ(StateTreeRoot(tree.db, 3).status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace v2g
