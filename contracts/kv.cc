#include "contracts/kv.h"

#include <algorithm>
#include <vector>

#include "common/assert.h"

namespace v2g {

void KvReader::ScanFrom(std::string_view prefix, std::string_view from,
                        const std::function<bool(std::string_view, std::string_view)>& fn) const {
  Scan(prefix, [&](std::string_view k, std::string_view v) { return k < from || fn(k, v); });
}

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

void MemKv::ScanFrom(std::string_view prefix, std::string_view from,
                     const std::function<bool(std::string_view, std::string_view)>& fn) const {
  const std::string_view start = std::max(prefix, from);
  for (auto it = data_.lower_bound(std::string(start)); it != data_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    if (!fn(it->first, it->second)) break;
  }
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

void Overlay::ScanFrom(std::string_view prefix, std::string_view from,
                       const std::function<bool(std::string_view, std::string_view)>& fn) const {
  const std::string_view start = std::max(prefix, from);
  auto w = writes_.lower_bound(start);
  auto in_prefix = [&] { return w != writes_.end() && w->first.compare(0, prefix.size(), prefix) == 0; };
  bool stopped = false;
  // Our writes before base key `k` (or all that are left, k = nullptr) go first; ours win on ties.
  auto ours_before = [&](const std::string_view* k) {
    for (; in_prefix() && (k == nullptr || w->first < *k); ++w) {
      if (w->second && !fn(w->first, *w->second)) {
        stopped = true;
        return false;
      }
    }
    return true;
  };
  if (base_) {
    base_->ScanFrom(prefix, start, [&](std::string_view k, std::string_view v) {
      if (!ours_before(&k)) return false;
      if (in_prefix() && w->first == k) {
        const std::optional<std::string>& mine = w->second;
        ++w;
        if (!mine) return true;  // deleted here
        stopped = !fn(k, *mine);
        return !stopped;
      }
      stopped = !fn(k, v);
      return !stopped;
    });
  }
  if (!stopped) ours_before(nullptr);
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
