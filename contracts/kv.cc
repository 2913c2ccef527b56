#include "contracts/kv.h"

#include <vector>

#include "common/assert.h"

namespace v2g {

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (!end.empty()) end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

namespace {

// The key range [lo, hi) a ScanFrom walks ("" hi: no upper bound).
struct KeyRange {
  std::string lo, hi;
};

KeyRange RangeOf(std::string_view prefix, std::string_view start, bool reverse) {
  KeyRange r{std::string(prefix), PrefixEnd(prefix)};
  if (!reverse && start > r.lo) r.lo = std::string(start);
  if (reverse && !start.empty() && (r.hi.empty() || start < r.hi)) r.hi = std::string(start);
  return r;
}

// Calls fn over the map's entries in [range.lo, range.hi), forward or backward, until it returns
// false; returns false when it stopped.
template <typename Map, typename Fn>
bool WalkRange(const Map& m, const KeyRange& range, bool reverse, const Fn& fn) {
  if (!range.hi.empty() && range.lo >= range.hi) return true;  // e.g. a start past the prefix
  auto lo = m.lower_bound(range.lo);
  auto hi = range.hi.empty() ? m.end() : m.lower_bound(range.hi);
  if (!reverse) {
    for (auto it = lo; it != hi; ++it) {
      if (!fn(*it)) return false;
    }
    return true;
  }
  for (auto it = hi; it != lo;) {
    --it;
    if (!fn(*it)) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> MemKv::Get(std::string_view key) const {
  auto it = data_.find(std::string(key));
  if (it == data_.end()) return std::nullopt;
  return it->second;
}

void MemKv::Scan(std::string_view prefix,
                 const std::function<bool(std::string_view, std::string_view)>& fn) const {
  for (auto it = data_.lower_bound(std::string(prefix)); it != data_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    if (!fn(it->first, it->second)) break;
  }
}

void MemKv::ScanFrom(std::string_view prefix, std::string_view start, bool reverse,
                     const std::function<bool(std::string_view, std::string_view)>& fn) const {
  WalkRange(data_, RangeOf(prefix, start, reverse), reverse,
            [&](const auto& kv) { return fn(kv.first, kv.second); });
}

std::optional<std::string> Overlay::Get(std::string_view key) const {
  auto it = writes_.find(key);
  if (it != writes_.end()) return it->second;
  return base_ ? base_->Get(key) : std::nullopt;
}

void Overlay::Scan(std::string_view prefix,
                   const std::function<bool(std::string_view, std::string_view)>& fn) const {
  // Merge the base's keys with ours; ours win. Collect the base first: prefixes scanned here are
  // small state sections (tests, audits), never the hot path.
  std::map<std::string, std::string, std::less<>> merged;
  if (base_) {
    base_->Scan(prefix, [&](std::string_view k, std::string_view v) {
      merged.emplace(std::string(k), std::string(v));
      return true;
    });
  }
  for (auto it = writes_.lower_bound(prefix); it != writes_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    if (it->second) {
      merged[it->first] = *it->second;
    } else {
      merged.erase(it->first);
    }
  }
  for (const auto& [k, v] : merged) {
    if (!fn(k, v)) break;
  }
}

void Overlay::ScanFrom(std::string_view prefix, std::string_view start, bool reverse,
                       const std::function<bool(std::string_view, std::string_view)>& fn) const {
  // Our writes in range, in the walk's order; each base key is preceded by the writes before it
  // and replaced by ours when we wrote it.
  std::vector<const Writes::value_type*> ours;
  WalkRange(writes_, RangeOf(prefix, start, reverse), reverse, [&](const auto& kv) {
    ours.push_back(&kv);
    return true;
  });
  size_t next = 0;
  bool stopped = false;
  auto before = [&](std::string_view a, std::string_view b) { return reverse ? a > b : a < b; };
  auto emit_ours_until = [&](std::string_view key, bool to_end) {
    for (; next < ours.size() && (to_end || before(ours[next]->first, key)); ++next) {
      if (ours[next]->second && !fn(ours[next]->first, *ours[next]->second)) return false;
    }
    return true;
  };
  if (base_) {
    base_->ScanFrom(prefix, start, reverse, [&](std::string_view k, std::string_view v) {
      if (!emit_ours_until(k, false)) return !(stopped = true);
      if (next < ours.size() && ours[next]->first == k) {
        const auto& mine = ours[next++]->second;
        if (mine && !fn(k, *mine)) return !(stopped = true);
        return true;
      }
      if (!fn(k, v)) return !(stopped = true);
      return true;
    });
  }
  if (!stopped) emit_ours_until("", true);
}

void Overlay::Put(std::string_view key, std::string value) {
  V2G_ASSERT(!key.empty());
  writes_.insert_or_assign(std::string(key), std::optional<std::string>(std::move(value)));
}

void Overlay::Delete(std::string_view key) {
  V2G_ASSERT(!key.empty());
  writes_.insert_or_assign(std::string(key), std::optional<std::string>());
}

void Overlay::MergeInto(Overlay& parent) const {
  V2G_ASSERT(base_ == &parent);
  for (const auto& [k, v] : writes_) parent.writes_.insert_or_assign(k, v);
}

}  // namespace v2g
