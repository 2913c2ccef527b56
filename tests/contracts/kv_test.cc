// KvReader::ScanFrom (keyset paging) on MemKv and on overlays over it: against a reference
// computed from the whole map, for every start key, both directions and an early stop.
#include "contracts/kv.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace v2g {
namespace {

using KV = std::vector<std::pair<std::string, std::string>>;

KV ScanFromAll(const KvReader& kv, std::string_view prefix, std::string_view start, bool reverse,
               size_t max = SIZE_MAX) {
  KV out;
  kv.ScanFrom(prefix, start, reverse, [&](std::string_view k, std::string_view v) {
    out.emplace_back(k, v);
    return out.size() < max;
  });
  return out;
}

// What ScanFrom must return, from the full contents.
KV Reference(const std::map<std::string, std::string>& all, std::string_view prefix,
             std::string_view start, bool reverse, size_t max) {
  KV out;
  for (const auto& [k, v] : all) {
    if (k.compare(0, prefix.size(), prefix) != 0) continue;
    if (!reverse && k < start) continue;
    if (reverse && !start.empty() && k >= start) continue;
    out.emplace_back(k, v);
  }
  if (reverse) out = KV(out.rbegin(), out.rend());
  if (out.size() > max) out.resize(max);
  return out;
}

TEST(KvScanFromTest, PrefixEndIsTheFirstKeyPastThePrefix) {
  EXPECT_EQ(PrefixEnd("p/"), "p0");
  EXPECT_EQ(PrefixEnd(std::string("a\xff\xff", 3)), "b");
  EXPECT_EQ(PrefixEnd(std::string("\xff", 1)), "");
  EXPECT_EQ(PrefixEnd(""), "");
}

TEST(KvScanFromTest, MemKvAndOverlaysMatchTheReferenceForEveryStart) {
  std::mt19937 rng(12);  // fixed seed: a failure replays
  const std::string alphabet = std::string("ab/\xff", 4);
  auto random_key = [&] {
    std::string k;
    const size_t n = 1 + rng() % 4;
    for (size_t i = 0; i < n; ++i) k += alphabet[rng() % alphabet.size()];
    return k;
  };
  for (int round = 0; round < 50; ++round) {
    MemKv base;
    for (int i = 0; i < 30; ++i) base.Put(random_key(), "b" + std::to_string(i));
    Overlay mid(&base);
    Overlay top(&mid);
    std::map<std::string, std::string> truth = base.data();
    for (int i = 0; i < 15; ++i) {
      Overlay& o = i % 2 ? mid : top;
      const std::string k = random_key();
      if (rng() % 3 == 0) {
        o.Delete(k);
      } else {
        o.Put(k, "w" + std::to_string(i));
      }
    }
    // The truth: mid's writes, then top's.
    for (const Overlay* o : {&mid, &top}) {
      for (const auto& [k, v] : o->writes()) {
        if (v) {
          truth[k] = *v;
        } else {
          truth.erase(k);
        }
      }
    }
    std::vector<std::string> starts = {""};
    for (int i = 0; i < 10; ++i) starts.push_back(random_key());
    for (const std::string& prefix :
         {std::string(""), std::string("a"), std::string("a/"), std::string("\xff", 1)}) {
      for (const auto& start : starts) {
        for (bool reverse : {false, true}) {
          for (size_t max : {size_t{1}, size_t{3}, SIZE_MAX}) {
            SCOPED_TRACE("round " + std::to_string(round) + " prefix '" + prefix + "' start '" +
                         start + "' reverse " + std::to_string(reverse));
            EXPECT_EQ(ScanFromAll(base, prefix, start, reverse, max),
                      Reference(base.data(), prefix, start, reverse, max));
            EXPECT_EQ(ScanFromAll(top, prefix, start, reverse, max),
                      Reference(truth, prefix, start, reverse, max));
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace v2g
