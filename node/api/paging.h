// Paged lists of the HTTP API. Every list endpoint returns at most `limit` items (a per-endpoint
// ceiling from common/limits.h) and a cursor for the next page, null on the last; the scans here
// keep at most limit + 1 entries in memory whatever the size of the state. Internal to node/api/.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "common/bytes.h"
#include "contracts/kv.h"
#include "proto/encode.h"

namespace v2g::api {

// Items a page holds when the request gives no limit (blocks and book depth have their own).
inline constexpr int64_t kPageDefault = 100;

// A page of items and the cursor of the next page (null on the last page).
template <typename T>
struct Page {
  std::vector<T> items;
  nlohmann::json next = nullptr;
};

// Newest first over the keys `prefix` + 8-byte big-endian id (ascending ids; other keys under the
// prefix are skipped): the `limit` highest ids below `before` (0: no bound) for which `pick`
// returns a value. next is the lowest id shown when more remain: the client's next `before`.
template <typename T>
Page<T> NewestFirst(
    const KvReader& st, std::string_view prefix, uint64_t before, int64_t limit,
    const std::function<std::optional<T>(uint64_t id, std::string_view value)>& pick);

// NewestFirst over records stored under their id, those that pass `keep`.
template <typename Rec>
Page<Rec> NewestRecords(const KvReader& st, std::string_view prefix, uint64_t before, int64_t limit,
                        const std::function<bool(const Rec&)>& keep) {
  return NewestFirst<Rec>(st, prefix, before, limit,
                          [&](uint64_t, std::string_view v) -> std::optional<Rec> {
                            Rec rec = DecodeRecord<Rec>(std::string(v));
                            if (!keep(rec)) return std::nullopt;
                            return rec;
                          });
}

// Where a page that must end at a delivery-interval boundary was cut (see CutAtInterval).
struct IntervalCut {
  int64_t interval = 0;    // the interval of the first entry left out
  bool skip_rest = false;  // true: the page is all `interval`; the next page starts past it
};

// Trims `page` (in the order shown, at most limit + 1 entries) to at most `limit` so that no
// interval is split across pages: the entries of the interval of the first one left out go to the
// next page too, unless that interval fills the whole page (then the rest of it is skipped; the
// client asks for that interval alone). Returns nothing when everything fits.
template <typename T, typename IntervalOf>
std::optional<IntervalCut> CutAtInterval(std::vector<T>& page, int64_t limit,
                                         const IntervalOf& interval_of) {
  V2G_ASSERT(limit >= 1 && static_cast<int64_t>(page.size()) <= limit + 1);
  if (static_cast<int64_t>(page.size()) <= limit) return std::nullopt;
  const int64_t cut = interval_of(page.back());
  page.pop_back();
  if (interval_of(page.front()) == cut) return IntervalCut{cut, true};
  while (interval_of(page.back()) == cut) page.pop_back();
  return IntervalCut{cut, false};
}

// ---- implementation

template <typename T>
Page<T> NewestFirst(
    const KvReader& st, std::string_view prefix, uint64_t before, int64_t limit,
    const std::function<std::optional<T>(uint64_t id, std::string_view value)>& pick) {
  V2G_ASSERT(limit >= 1);
  std::deque<std::pair<uint64_t, T>> newest;  // ascending ids; at most limit + 1
  st.Scan(prefix, [&](std::string_view k, std::string_view v) {
    if (k.size() != prefix.size() + 8) return true;
    const uint64_t id = ReadBigEndian64(k.substr(prefix.size()));
    if (before != 0 && id >= before) return false;
    std::optional<T> item = pick(id, v);
    if (!item) return true;
    newest.emplace_back(id, std::move(*item));
    if (static_cast<int64_t>(newest.size()) > limit + 1) newest.pop_front();
    return true;
  });
  Page<T> page;
  if (static_cast<int64_t>(newest.size()) > limit) {
    newest.pop_front();
    page.next = newest.front().first;
  }
  for (auto it = newest.rbegin(); it != newest.rend(); ++it)
    page.items.push_back(std::move(it->second));
  return page;
}

}  // namespace v2g::api
