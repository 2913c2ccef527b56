#include "contracts/state_tree.h"

#include <algorithm>
#include <bit>
#include <span>

#include "common/assert.h"
#include "common/bytes.h"

namespace v2g {
namespace {

// ---- Bit strings: the first `bits` bits of the 9-bit encoding of `bytes` (state_tree.h). A key is
// (key, 9 len + 1); an inner node's prefix is its canonical bytes and its crit bit.
struct Bits {
  std::string_view bytes;
  uint32_t bits;
};

uint32_t KeyBits(std::string_view key) { return static_cast<uint32_t>(9 * key.size() + 1); }
Bits KeyOf(std::string_view key) { return {key, KeyBits(key)}; }

// Bit i of the encoding (i < the string's bits).
int BitAt(std::string_view bytes, uint32_t i) {
  const size_t j = i / 9;
  const uint32_t r = i % 9;
  if (r == 0) return j < bytes.size() ? 1 : 0;
  return (static_cast<uint8_t>(bytes[j]) >> (8 - r)) & 1;
}

// The number of leading bits on which a and b agree, at most the shorter's length.
uint32_t Agree(Bits a, Bits b) {
  const size_t n = std::min(a.bytes.size(), b.bytes.size());
  size_t j = 0;
  while (j < n && a.bytes[j] == b.bytes[j]) ++j;
  uint64_t agree;
  if (j < n) {
    agree = 9 * j + 1 +
            static_cast<uint64_t>(std::countl_zero(static_cast<uint8_t>(a.bytes[j] ^ b.bytes[j])));
  } else if (a.bytes.size() == b.bytes.size()) {
    agree = UINT64_MAX;
  } else {
    agree = 9 * j;  // one ends here: its terminator 0 against the other's continuation 1
  }
  return static_cast<uint32_t>(std::min<uint64_t>({agree, a.bits, b.bits}));
}

// The canonical bytes of the first b bits of `src` (whose encoding continues past them): the whole
// bytes they cover, then the byte they end in with only its covered bits kept.
std::string PrefixBytes(std::string_view src, uint32_t b) {
  const size_t m = b / 9;
  const uint32_t r = b % 9;
  std::string out(src.substr(0, m));
  if (r >= 1) {
    V2G_ASSERT(src.size() > m);
    out.push_back(
        static_cast<char>(static_cast<uint8_t>(src[m]) & static_cast<uint8_t>(0xFF << (9 - r))));
  }
  return out;
}

bool CanonicalPrefix(std::string_view bytes, uint32_t b) {
  const size_t m = b / 9;
  const uint32_t r = b % 9;
  if (bytes.size() != m + (r >= 1 ? 1 : 0)) return false;
  return r == 0 || PrefixBytes(bytes, b) == bytes;
}

// The region of one child of an inner node at crit bit b with canonical prefix `prefix`: its b bits
// and then `side`. At a byte boundary side 0 is the key that ends there.
std::string Extend(std::string_view prefix, uint32_t b, int side) {
  std::string out(prefix);
  const uint32_t r = b % 9;
  if (r == 0) {
    if (side) out.push_back('\0');
  } else {
    out[b / 9] = static_cast<char>(static_cast<uint8_t>(out[b / 9]) | (side << (8 - r)));
  }
  return out;
}

// Whether some key with bit prefix R may lie in [lo, hi). Conservative: false only when every
// string under R is below lo or at or above hi.
bool PossiblyIntersects(Bits r, const TreeRange& range) {
  {
    const Bits lo = KeyOf(range.lo);
    const uint32_t a = Agree(r, lo);
    if (a < r.bits && a < lo.bits && BitAt(r.bytes, a) < BitAt(range.lo, a)) return false;
  }
  // The smallest key under R is R's canonical bytes themselves (its uncovered bits are zeros, then
  // the key ends), so every key under R is >= hi exactly when they are.
  return range.hi.empty() || r.bytes < std::string_view(range.hi);
}

bool InRange(std::string_view key, const TreeRange& range) {
  return key >= range.lo && (range.hi.empty() || key < range.hi);
}

void AppendU32(std::string& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xFF));
}
uint32_t ReadU32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

Hash256 LeafHashOf(std::string_view key, const Hash256& value_hash) {
  std::string buf;
  buf.reserve(1 + 4 + key.size() + 32);
  buf.push_back('\x00');
  AppendU32(buf, static_cast<uint32_t>(key.size()));
  buf += key;
  buf += HashString(value_hash);
  return Blake2b256(buf);
}

Hash256 LeafHash(std::string_view key, std::string_view value) {
  return LeafHashOf(key, Blake2b256(value));
}

Hash256 InnerHash(uint32_t bit, std::string_view prefix, const Hash256& left,
                  const Hash256& right) {
  std::string buf;
  buf.reserve(1 + 8 + prefix.size() + 64);
  buf.push_back('\x01');
  AppendU32(buf, bit);
  AppendU32(buf, static_cast<uint32_t>(prefix.size()));
  buf += prefix;
  buf += HashString(left);
  buf += HashString(right);
  return Blake2b256(buf);
}

// ---- Stored nodes

enum Kind : uint8_t { kEmpty = 0, kLeaf = 1, kInner = 2 };

// A child as its parent records it.
struct Ref {
  uint8_t kind = kEmpty;
  uint32_t bits = 0;    // leaf: 9 len + 1; inner: the crit bit
  std::string bytes;    // leaf: the key; inner: the canonical prefix
  int64_t version = 0;  // the version of its record
  Hash256 hash{};
};

bool Same(const Ref& a, const Ref& b) {
  return a.kind == b.kind && a.version == b.version && a.hash == b.hash && a.bytes == b.bytes;
}

std::string RecordKey(const Ref& r) {
  std::string k(kTreePrefix);
  if (r.kind == kLeaf) {
    k += 'L';
  } else {
    k += 'I';
    AppendU32(k, r.bits);
  }
  k += r.bytes;
  AppendBigEndian64(k, static_cast<uint64_t>(r.version));
  return k;
}

std::string RootKey(int64_t version) {
  std::string k(kTreePrefix);
  k += 'R';
  AppendBigEndian64(k, static_cast<uint64_t>(version));
  return k;
}

constexpr std::string_view kStaleTag = "n/S";

std::string StaleKey(int64_t since, std::string_view record) {
  std::string k(kStaleTag);
  AppendBigEndian64(k, static_cast<uint64_t>(since));
  k += record;
  return k;
}

void EncodeRef(std::string& out, const Ref& r) {
  out.push_back(static_cast<char>(r.kind));
  if (r.kind == kEmpty) return;
  AppendU32(out, r.bits);
  AppendU32(out, static_cast<uint32_t>(r.bytes.size()));
  out += r.bytes;
  AppendBigEndian64(out, static_cast<uint64_t>(r.version));
  out += HashString(r.hash);
}

// Reads one Ref at `pos`; false on a record that is not one (corruption).
bool DecodeRef(std::string_view in, size_t& pos, Ref& r) {
  if (pos >= in.size()) return false;
  r.kind = static_cast<uint8_t>(in[pos++]);
  if (r.kind == kEmpty) return true;
  if (r.kind != kLeaf && r.kind != kInner) return false;
  if (in.size() - pos < 8) return false;
  r.bits = ReadU32(in.substr(pos));
  const uint32_t len = ReadU32(in.substr(pos + 4));
  pos += 8;
  if (in.size() - pos < static_cast<size_t>(len) + 8 + 32) return false;
  r.bytes.assign(in.substr(pos, len));
  pos += len;
  r.version = static_cast<int64_t>(ReadBigEndian64(in.substr(pos)));
  pos += 8;
  r.hash = HashFromString(in.substr(pos, 32));
  pos += 32;
  return true;
}

Status Corrupt(const std::string& what) { return Error(Code::kCorruption, "state tree: " + what); }

Result<Ref> LoadRoot(const KvReader& db, int64_t version) {
  auto v = db.Get(RootKey(version));
  if (!v)
    return Error(Code::kNotFound, "the state tree holds no version " + std::to_string(version));
  Ref r;
  size_t pos = 0;
  if (!DecodeRef(*v, pos, r) || pos != v->size()) {
    return Corrupt("the root record of version " + std::to_string(version) + " does not decode");
  }
  return r;
}

Status LoadChildren(const KvReader& db, const Ref& node, Ref& left, Ref& right) {
  auto v = db.Get(RecordKey(node));
  if (!v) {
    return Corrupt("inner node at bit " + std::to_string(node.bits) + " of version " +
                   std::to_string(node.version) + " is missing");
  }
  size_t pos = 0;
  if (!DecodeRef(*v, pos, left) || !DecodeRef(*v, pos, right) || pos != v->size() ||
      left.kind == kEmpty || right.kind == kEmpty) {
    return Corrupt("inner node at bit " + std::to_string(node.bits) + " does not decode");
  }
  return Status::Ok();
}

// ---- Updating

struct Change {
  std::string_view key;
  const std::optional<std::string>* value;
};
using Changes = std::span<const Change>;

// The first change whose bit d is 1; every key of `c` shares its first d bits and is longer.
size_t SplitAt(Changes c, uint32_t d) {
  auto it = std::partition_point(c.begin(), c.end(),
                                 [d](const Change& x) { return BitAt(x.key, d) == 0; });
  return static_cast<size_t>(it - c.begin());
}

class Updater {
 public:
  Updater(const KvReader& db, int64_t version, StateTreeUpdate& out)
      : db_(db), version_(version), out_(out) {}

  // The subtree `s` with `c` applied (every key of c is in s's part of the trie or beside it).
  Ref Merge(const Ref& s, Changes c) {
    if (c.empty() || !status_.ok()) return s;
    if (s.kind == kEmpty) return Build(c);
    const Bits sb{s.bytes, s.bits};
    const uint32_t d = std::min(Agree(sb, KeyOf(c.front().key)), Agree(sb, KeyOf(c.back().key)));
    if (d < s.bits) {
      // Some changes leave s's prefix at bit d: a node at d splits them from s (unless they are
      // deletions of keys that do not exist).
      const size_t split = SplitAt(c, d);
      const int side = BitAt(s.bytes, d);
      const Changes with_s = side ? c.subspan(split) : c.first(split);
      const Changes beside = side ? c.first(split) : c.subspan(split);
      Ref merged = Merge(s, with_s);
      Ref built = Build(beside);
      if (!status_.ok()) return {};
      if (built.kind == kEmpty) return merged;
      if (merged.kind == kEmpty) return built;
      std::string prefix = PrefixBytes(s.bytes, d);
      return side ? NewInner(d, std::move(prefix), std::move(built), std::move(merged))
                  : NewInner(d, std::move(prefix), std::move(merged), std::move(built));
    }
    if (s.kind == kLeaf) {
      // d >= the key's whole length: the one change is to this key.
      V2G_ASSERT(c.size() == 1 && c.front().key == s.bytes);
      if (!c.front().value->has_value()) {
        MarkStale(s);
        return {};
      }
      const std::string& value = **c.front().value;
      if (LeafHash(s.bytes, value) == s.hash) return s;
      MarkStale(s);
      return NewLeaf(s.bytes, value);
    }
    Ref left, right;
    status_ = LoadChildren(db_, s, left, right);
    if (!status_.ok()) return {};
    const size_t split = SplitAt(c, s.bits);
    Ref new_left = Merge(left, c.first(split));
    Ref new_right = Merge(right, c.subspan(split));
    if (!status_.ok()) return {};
    if (Same(new_left, left) && Same(new_right, right)) return s;
    MarkStale(s);
    if (new_left.kind == kEmpty) return new_right;
    if (new_right.kind == kEmpty) return new_left;
    return NewInner(s.bits, s.bytes, std::move(new_left), std::move(new_right));
  }

  // A subtree of the puts in `c` (deletions are of keys that are not there).
  Ref Build(Changes c) {
    size_t i = 0, j = c.size();
    while (i < j && !c[i].value->has_value()) ++i;
    while (j > i && !c[j - 1].value->has_value()) --j;
    if (i == j) return {};
    if (j - i == 1) return NewLeaf(c[i].key, **c[i].value);
    const Changes puts = c.subspan(i, j - i);
    const uint32_t d = Agree(KeyOf(puts.front().key), KeyOf(puts.back().key));
    const size_t split = SplitAt(puts, d);
    Ref left = Build(puts.first(split));
    Ref right = Build(puts.subspan(split));
    return NewInner(d, PrefixBytes(puts.front().key, d), std::move(left), std::move(right));
  }

  const Status& status() const { return status_; }

 private:
  Ref NewLeaf(std::string_view key, const std::string& value) {
    Ref r;
    r.kind = kLeaf;
    r.bits = KeyBits(key);
    r.bytes.assign(key);
    r.version = version_;
    r.hash = LeafHash(key, value);
    out_.writes[RecordKey(r)] = value;
    ++out_.nodes_written;
    return r;
  }

  Ref NewInner(uint32_t bit, std::string prefix, Ref left, Ref right) {
    Ref r;
    r.kind = kInner;
    r.bits = bit;
    r.bytes = std::move(prefix);
    r.version = version_;
    r.hash = InnerHash(bit, r.bytes, left.hash, right.hash);
    std::string rec;
    EncodeRef(rec, left);
    EncodeRef(rec, right);
    out_.writes[RecordKey(r)] = std::move(rec);
    ++out_.nodes_written;
    return r;
  }

  void MarkStale(const Ref& r) { out_.writes[StaleKey(version_, RecordKey(r))] = std::string(); }

  const KvReader& db_;
  const int64_t version_;
  StateTreeUpdate& out_;
  Status status_;
};

// ---- Proving

class Prover {
 public:
  Prover(const KvReader& db, const TreeRange& range) : db_(db), range_(range) {}

  // Appends, in key order, the keys of the range under `r` until `keys` holds `cap`.
  void Collect(const Ref& r, size_t cap, std::vector<std::string>& keys) {
    if (!status_.ok() || keys.size() >= cap || r.kind == kEmpty) return;
    if (r.kind == kLeaf) {
      if (InRange(r.bytes, range_)) keys.push_back(r.bytes);
      return;
    }
    if (!PossiblyIntersects({r.bytes, r.bits}, range_)) return;
    Ref left, right;
    status_ = LoadChildren(db_, r, left, right);
    Collect(left, cap, keys);
    Collect(right, cap, keys);
  }

  // Encodes `r`, whose parent puts it in `region`: pruned unless the region may meet the range.
  void Emit(const Ref& r, Bits region, StateProof& out) {
    if (!status_.ok()) return;
    if (!PossiblyIntersects(region, range_)) {
      out.proof.push_back('\x00');
      out.proof += HashString(r.hash);
      return;
    }
    if (r.kind == kLeaf) {
      auto value = db_.Get(RecordKey(r));
      if (!value) {
        status_ = Corrupt("leaf of version " + std::to_string(r.version) + " is missing");
        return;
      }
      if (!InRange(r.bytes, range_)) {
        // A neighbour the proof must place (an absent key's, or a range's end): its key and its
        // value's hash, never its value.
        out.proof.push_back('\x04');
        AppendU32(out.proof, static_cast<uint32_t>(r.bytes.size()));
        out.proof += r.bytes;
        out.proof += HashString(Blake2b256(*value));
        return;
      }
      out.proof.push_back('\x01');
      AppendU32(out.proof, static_cast<uint32_t>(r.bytes.size()));
      out.proof += r.bytes;
      AppendU32(out.proof, static_cast<uint32_t>(value->size()));
      out.proof += *value;
      out.entries.emplace_back(r.bytes, std::move(*value));
      return;
    }
    Ref left, right;
    status_ = LoadChildren(db_, r, left, right);
    if (!status_.ok()) return;
    out.proof.push_back('\x02');
    AppendU32(out.proof, r.bits);
    AppendU32(out.proof, static_cast<uint32_t>(r.bytes.size()));
    out.proof += r.bytes;
    const std::string l = Extend(r.bytes, r.bits, 0);
    const std::string h = Extend(r.bytes, r.bits, 1);
    Emit(left, {l, r.bits + 1}, out);
    Emit(right, {h, r.bits + 1}, out);
  }

  const Status& status() const { return status_; }

 private:
  const KvReader& db_;
  const TreeRange& range_;
  Status status_;
};

// ---- Verifying

class Verifier {
 public:
  Verifier(std::string_view in, const TreeRange& range) : in_(in), range_(range) {}

  // Reads the node the parent puts in `region`; its hash, or nullopt with status() set.
  std::optional<Hash256> Node(Bits region) {
    if (pos_ >= in_.size()) return Fail("the proof ends early");
    const uint8_t tag = static_cast<uint8_t>(in_[pos_++]);
    if (tag == 0x00) {
      if (in_.size() - pos_ < 32) return Fail("the proof ends inside a pruned subtree's hash");
      if (PossiblyIntersects(region, range_)) {
        return Fail("the proof leaves out a subtree at bit " + std::to_string(region.bits) +
                    " that may hold keys of the range (an answer cut short)");
      }
      Hash256 h = HashFromString(in_.substr(pos_, 32));
      pos_ += 32;
      return h;
    }
    if (tag == 0x01) {
      std::string_view key, value;
      if (!Field(key, kTreeKeyBytesMax, "key") || !Field(value, kTreeValueBytesMax, "value")) {
        return std::nullopt;
      }
      if (Agree(KeyOf(key), region) < region.bits) {
        return Fail("a leaf's key is not under its parent's branch (a misplaced key)");
      }
      if (InRange(key, range_)) entries_.emplace_back(key, value);
      return LeafHash(key, value);
    }
    if (tag == 0x04) {
      std::string_view key;
      if (!Field(key, kTreeKeyBytesMax, "key")) return std::nullopt;
      if (in_.size() - pos_ < 32) return Fail("the proof ends inside a leaf's value hash");
      if (Agree(KeyOf(key), region) < region.bits) {
        return Fail("a leaf's key is not under its parent's branch (a misplaced key)");
      }
      if (InRange(key, range_)) return Fail("a key of the range is shown without its value");
      const Hash256 value_hash = HashFromString(in_.substr(pos_, 32));
      pos_ += 32;
      return LeafHashOf(key, value_hash);
    }
    if (tag == 0x02) {
      if (in_.size() - pos_ < 4) return Fail("the proof ends inside an inner node");
      const uint32_t bit = ReadU32(in_.substr(pos_));
      pos_ += 4;
      std::string_view prefix;
      if (!Field(prefix, kTreeKeyBytesMax + 1, "prefix")) return std::nullopt;
      if (bit >= 9 * kTreeKeyBytesMax + 1 || bit < region.bits || !CanonicalPrefix(prefix, bit) ||
          Agree({prefix, bit}, region) < region.bits) {
        return Fail("an inner node's crit bit or prefix does not fit under its parent");
      }
      const std::string l = Extend(prefix, bit, 0);
      const std::string h = Extend(prefix, bit, 1);
      auto left = Node({l, bit + 1});
      if (!left) return std::nullopt;
      auto right = Node({h, bit + 1});
      if (!right) return std::nullopt;
      return InnerHash(bit, prefix, *left, *right);
    }
    return Fail("unknown node tag " + std::to_string(tag));
  }

  bool AtEnd() const { return pos_ == in_.size(); }
  const Status& status() const { return status_; }
  std::vector<std::pair<std::string, std::string>>& entries() { return entries_; }

 private:
  std::nullopt_t Fail(const std::string& why) {
    if (status_.ok()) status_ = Error(Code::kInvalidArgument, "state proof: " + why);
    return std::nullopt;
  }

  bool Field(std::string_view& out, size_t max, const char* what) {
    if (in_.size() - pos_ < 4) {
      Fail(std::string("the proof ends before a ") + what + "'s length");
      return false;
    }
    const uint32_t len = ReadU32(in_.substr(pos_));
    pos_ += 4;
    if (len > max || in_.size() - pos_ < len) {
      Fail(std::string("a ") + what + " of " + std::to_string(len) +
           " bytes runs past the proof or its limit");
      return false;
    }
    out = in_.substr(pos_, len);
    pos_ += len;
    return true;
  }

  std::string_view in_;
  size_t pos_ = 0;
  const TreeRange& range_;
  Status status_;
  std::vector<std::pair<std::string, std::string>> entries_;
};

}  // namespace

TreeRange TreeRange::Key(std::string_view key) {
  TreeRange r;
  r.lo.assign(key);
  r.hi.assign(key);
  r.hi.push_back('\0');
  return r;
}

TreeRange TreeRange::Prefix(std::string_view prefix, std::string_view from) {
  TreeRange r;
  r.lo.assign(prefix);
  r.lo += from;
  r.hi = PrefixEnd(prefix);
  return r;
}

Result<StateTreeUpdate> UpdateStateTree(const KvReader& db, int64_t version,
                                        const Overlay::Writes& changes) {
  V2G_ASSERT(version >= 0);
  Ref root;
  if (version > 0) {
    auto r = LoadRoot(db, version - 1);
    if (!r.ok()) return Corrupt(r.status().message());
    root = std::move(*r);
  }
  std::vector<Change> c;
  c.reserve(changes.size());
  for (const auto& [key, value] : changes) {
    if (key.size() > kTreeKeyBytesMax) {
      return Error(Code::kInvalidArgument, "state key of " + std::to_string(key.size()) +
                                               " bytes is longer than the state tree takes");
    }
    c.push_back({key, &value});
  }
  StateTreeUpdate out;
  Updater u(db, version, out);
  Ref new_root = u.Merge(root, c);
  if (!u.status().ok()) return u.status();
  std::string rec;
  EncodeRef(rec, new_root);
  out.writes[RootKey(version)] = std::move(rec);
  if (version > 0) out.writes[StaleKey(version, RootKey(version - 1))] = std::string();
  out.root = new_root.kind == kEmpty ? Hash256{} : new_root.hash;
  return out;
}

Result<Hash256> StateTreeRoot(const KvReader& db, int64_t version) {
  auto r = LoadRoot(db, version);
  if (!r.ok()) return r.status();
  return r->kind == kEmpty ? Hash256{} : r->hash;
}

int64_t PruneStateTree(const KvReader& db, int64_t keep_from, int64_t max_records,
                       Overlay::Writes& out, int64_t* resume_since) {
  int64_t n = 0;
  const int64_t from = resume_since ? std::max<int64_t>(*resume_since, 0) : 0;
  bool capped = false;
  int64_t last_since = from;
  db.ScanFrom(kStaleTag, StaleKey(from, {}), false, [&](std::string_view k, std::string_view) {
    if (k.size() < kStaleTag.size() + 8) return true;  // not a marker of ours: step over it
    const auto since = static_cast<int64_t>(ReadBigEndian64(k.substr(kStaleTag.size())));
    if (since > keep_from) return false;
    if (n >= max_records) {
      capped = true;
      return false;
    }
    out[std::string(k.substr(kStaleTag.size() + 8))] = std::nullopt;
    out[std::string(k)] = std::nullopt;
    last_since = since;
    ++n;
    return true;
  });
  // What is left starts at the last `since` a capped call reached, else after keep_from (markers
  // written from now on are of later versions).
  if (resume_since) *resume_since = capped ? last_since : std::max(from, keep_from + 1);
  return n;
}

Result<StateProof> ProveStateRange(const KvReader& db, int64_t version, const TreeRange& range,
                                   size_t limit) {
  auto root = LoadRoot(db, version);
  if (!root.ok()) return root.status();
  StateProof out;
  out.range = range;
  if (root->kind == kEmpty) {
    out.proof.push_back('\x03');
    return out;
  }
  {
    Prover collect(db, range);
    std::vector<std::string> keys;
    collect.Collect(*root, limit + 1, keys);
    if (!collect.status().ok()) return collect.status();
    if (keys.size() > limit) {
      out.next = keys[limit];
      out.range.hi = keys[limit];
    }
  }
  Prover prover(db, out.range);
  prover.Emit(*root, {std::string_view(), 0}, out);
  if (!prover.status().ok()) return prover.status();
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> VerifyStateProof(const Hash256& root,
                                                                          std::string_view proof,
                                                                          const TreeRange& range) {
  if (proof.size() > kTreeProofBytesMax) {
    return Error(Code::kTooLarge,
                 "state proof: " + std::to_string(proof.size()) + " bytes is over the limit");
  }
  if (proof.size() == 1 && proof[0] == '\x03') {
    if (root != Hash256{})
      return Error(Code::kInvalidArgument,
                   "state proof: shows an empty state, but the app hash is not the empty tree's");
    return std::vector<std::pair<std::string, std::string>>{};
  }
  Verifier v(proof, range);
  auto h = v.Node({std::string_view(), 0});
  if (!h) return v.status();
  if (!v.AtEnd()) return Error(Code::kInvalidArgument, "state proof: bytes after the trie");
  if (*h != root) {
    return Error(Code::kInvalidArgument,
                 "state proof: its root differs from the app hash it is checked against (a value, "
                 "key or hash in it was changed)");
  }
  return std::move(v.entries());
}

}  // namespace v2g
