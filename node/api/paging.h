// Paged lists of the HTTP API. Every list endpoint returns at most `limit` items (a per-endpoint
// ceiling from common/limits.h) and a cursor for the next page, null on the last; the scans here
// keep at most limit + 1 entries in memory whatever the size of the state. Internal to node/api/.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "common/bytes.h"
#include "common/limits.h"
#include "contracts/kv.h"

namespace v2g::api {

// Items a page holds when the request gives no limit (blocks and book depth have their own).
inline constexpr int64_t kPageDefault = 100;

// Counts the keys a listing passes over without showing them (limits::kApiListSkipMax).
class SkipBudget {
 public:
  // Counts one; false when the budget is spent (the walk stops there with a cursor).
  bool Skip() { return ++skipped_ <= limits::kApiListSkipMax; }

 private:
  int64_t skipped_ = 0;
};

// A page of items and the cursor of the next page (null on the last page).
template <typename T>
struct Page {
  std::vector<T> items;
  nlohmann::json next = nullptr;
};

// Newest first over the keys `prefix` + 8-byte big-endian id (other keys under the prefix are
// skipped): the `limit` highest ids below `before` (0: no bound) for which `pick` returns a value.
// Walks the keys backward from `before` (ScanFrom), so a page costs the page plus the keys `pick`
// refuses, at most limits::kApiListSkipMax of those: then the page ends early. next is the client's
// next `before` when more may remain: the lowest id shown, or the lowest id looked at when the skip
// budget ran out; null when the walk reached the end.
template <typename T>
Page<T> NewestFirst(
    const KvReader& st, std::string_view prefix, uint64_t before, int64_t limit,
    const std::function<std::optional<T>(uint64_t id, std::string_view value)>& pick);

// In key order over the keys `prefix` + suffix: the first `limit` suffixes above `after` ("": from
// the first) for which `pick` returns a value. Costs the page plus the keys `pick` refuses, at most
// limits::kApiListSkipMax of those (then the page ends early). next is the client's next `after`
// when more may remain: the last suffix shown, or the last looked at when the skip budget ran out.
template <typename T>
Page<T> FirstAfter(
    const KvReader& st, std::string_view prefix, std::string_view after, int64_t limit,
    const std::function<std::optional<T>(std::string_view suffix, std::string_view value)>& pick) {
  V2G_ASSERT(limit >= 1);
  std::string start;
  if (!after.empty()) {
    start = std::string(prefix);
    start += after;
    start += '\0';  // the first key above prefix + after
  }
  Page<T> page;
  SkipBudget skips;
  std::string last;  // the last suffix looked at
  st.ScanFrom(prefix, start, /*reverse=*/false, [&](std::string_view k, std::string_view v) {
    if (static_cast<int64_t>(page.items.size()) == limit) {
      page.next = last;  // one more key: more may remain
      return false;
    }
    last = std::string(k.substr(prefix.size()));
    std::optional<T> item = pick(last, v);
    if (item) {
      page.items.push_back(std::move(*item));
      return true;
    }
    if (skips.Skip()) return true;
    page.next = last;
    return false;
  });
  return page;
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
  std::string start;
  if (before != 0) {
    start = std::string(prefix);
    AppendBigEndian64(start, before);
  }
  Page<T> page;
  SkipBudget skips;
  uint64_t last_id = 0;  // the lowest id looked at
  st.ScanFrom(prefix, start, /*reverse=*/true, [&](std::string_view k, std::string_view v) {
    if (k.size() != prefix.size() + 8) {  // not an id: passed over like a refused one
      if (skips.Skip()) return true;
      if (last_id != 0) page.next = last_id;
      return false;
    }
    const uint64_t id = ReadBigEndian64(k.substr(prefix.size()));
    if (static_cast<int64_t>(page.items.size()) == limit) {
      page.next = last_id;  // one more key: more may remain
      return false;
    }
    last_id = id;
    std::optional<T> item = pick(id, v);
    if (!item) {
      if (skips.Skip()) return true;
      page.next = id;
      return false;
    }
    page.items.push_back(std::move(*item));
    return true;
  });
  return page;
}

}  // namespace v2g::api
