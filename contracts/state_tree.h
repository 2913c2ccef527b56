// The authenticated state (issue 17): a Merkle crit-bit trie over every state key, whose root is
// the app hash. docs/DESIGN.md "State, storage and the app hash" says why this shape.
//
// Keys are ordered bit strings: each byte b becomes the 9 bits 1,b7..b0 and the key ends with one 0
// bit, so the encoding keeps byte order and no key's encoding is a prefix of another's. The trie is
// binary and path-compressed: an inner node sits at the first bit where the keys below it differ
// (its "crit bit") and carries the bits they share (its prefix); a leaf holds one key. The shape
// depends only on the set of keys, never on the order they were written in, so every node that
// holds the same state computes the same root. Being ordered, one proof can show that a list of
// keys (an owner's settlements, a meter's intervals) is complete: nothing was left out between its
// ends.
//
//   leaf hash  = BLAKE2b-256(0x00 || u32 key length || key || BLAKE2b-256(value))
//   inner hash = BLAKE2b-256(0x01 || u32 crit bit || u32 prefix length || prefix || left || right)
//   empty tree = 32 zero bytes
//
// Versions are block heights (genesis is version 0). Every node is stored once per version in which
// it changed, keyed by its identity and that version, and a parent names each child's version, so
// a read at any version kept is one exact LevelDB get per node (Bloom filters answer the misses).
// Node-local storage beside the state, never part of it (n/ is not under s/):
//   n/R<version 8B>                          the root at that version (written every version)
//   n/I<crit bit 4B><prefix><version 8B>     an inner node: both children (kind, identity,
//                                            version, hash)
//   n/L<key><version 8B>                     a leaf: the value
//   n/S<since 8B><record key>                a record replaced or removed at `since`: it serves
//                                            the versions before it only, so pruning removes it
//                                            once every version before `since` is pruned
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/crypto.h"
#include "common/status.h"
#include "contracts/kv.h"

namespace v2g {

inline constexpr std::string_view kTreePrefix = "n/";
// The longest key the trie takes (state keys are ids of at most a few dozen bytes under their
// prefix); bounds a path's depth at 9 x this + 1 bits, and so the recursion of updates, proofs
// and their verification.
inline constexpr size_t kTreeKeyBytesMax = 1024;
// Values a proof may carry, and the largest proof a verifier reads.
inline constexpr size_t kTreeValueBytesMax = 16u << 20;
inline constexpr size_t kTreeProofBytesMax = 64u << 20;

struct StateTreeUpdate {
  Hash256 root{};
  // n/ records to write beside the block (new nodes, the root, stale markers).
  Overlay::Writes writes;
  int64_t nodes_written = 0;
};

// Applies `changes` (state keys to values, nullopt = deleted, as an Overlay's writes) to the trie
// as of `version` - 1 (the empty trie when `version` is 0) and returns the root at `version` with
// the records to store. Reads nodes through `db`. Fails with kCorruption when a node the trie
// needs is missing (a pruned version, or a damaged store) and kInvalidArgument for a key over
// kTreeKeyBytesMax.
Result<StateTreeUpdate> UpdateStateTree(const KvReader& db, int64_t version,
                                        const Overlay::Writes& changes);

// The root at `version`, or kNotFound when that version is not stored (pruned, or not reached).
Result<Hash256> StateTreeRoot(const KvReader& db, int64_t version);

// Deletes (into `out`) the records that serve only versions below `keep_from`, at most
// `max_records` of them, oldest first; returns how many. Called after each commit with the oldest
// version to keep; what one call leaves is done by the next. `resume_since` (optional) is where
// the scan starts and, after the call, where the next one should: past the markers already
// deleted, which LevelDB would otherwise step over (as tombstones) on every commit until a
// compaction. Start it at 0 when the database opens.
int64_t PruneStateTree(const KvReader& db, int64_t keep_from, int64_t max_records,
                       Overlay::Writes& out, int64_t* resume_since = nullptr);

// A query: the keys k with lo <= k < hi (bytes; an empty hi means no upper end). A single key k is
// lo = k, hi = k + '\0'.
struct TreeRange {
  std::string lo;
  std::string hi;
  static TreeRange Key(std::string_view key);
  static TreeRange Prefix(std::string_view prefix, std::string_view from = {});
};

struct StateProof {
  std::string proof;  // the encoded pruned trie (below)
  // The range the proof shows complete: the query's, cut at `next` when the query held more than
  // the limit; the entries in it, in key order.
  TreeRange range;
  std::vector<std::pair<std::string, std::string>> entries;
  std::optional<std::string> next;  // the first key not shown, when the limit cut the range
};

// Proves, at `version`, every key in `range` (at most `limit` entries: the proof then covers
// [range.lo, next)). The proof is the trie with every subtree that cannot hold a key of the range
// replaced by its hash, encoded in pre-order:
//   0x00 hash(32)                                   a pruned subtree
//   0x01 u32 key length, key, u32 value length, value   a leaf
//   0x02 u32 crit bit, u32 prefix length, prefix, left, right   an inner node
//   0x03                                            the empty trie (the whole proof)
//   0x04 u32 key length, key, BLAKE2b-256(value)    a leaf outside the range (a neighbour that
//                                                   places an absent key): its value not shown
Result<StateProof> ProveStateRange(const KvReader& db, int64_t version, const TreeRange& range,
                                   size_t limit);

// Checks `proof` against `root` for `range`: it must hash to the root, be well formed (every child
// inside its parent's half, prefixes canonical), and every pruned subtree must lie wholly outside
// the range. Returns the entries of the range, in key order: all of them, so an absent key is
// proven absent. Any error names what failed.
Result<std::vector<std::pair<std::string, std::string>>> VerifyStateProof(const Hash256& root,
                                                                          std::string_view proof,
                                                                          const TreeRange& range);

}  // namespace v2g
