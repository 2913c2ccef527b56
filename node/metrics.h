// Metrics for Prometheus (GET /metrics): counters and histograms that any thread updates without
// a lock, and a writer of the text exposition format 0.0.4 they are scraped in. Hand-written rather
// than prometheus-cpp: Debian 12 does not package prometheus-cpp, and its exposer would bring a
// second HTTP server (civetweb) with threads and limits of its own, beside the one the API already
// bounds (node/api/http_server.h). What the node measures, and the names: node/node_metrics.h.
//
// Values are integers in their natural unit (microseconds, bytes, counts) until they are written:
// a histogram of microseconds is exposed in seconds, as Prometheus' conventions ask, by printing
// the integer with six decimals, so no floating point is involved anywhere.
//
// Labels are bounded by construction at every use: a label's values come from a fixed set (routes,
// status codes, refusal codes, consensus steps) or from the allow-listed peers, never from a
// client, a tx or a meter (a zone, an account or a meter id as a label would let anyone grow the
// node's memory and every scrape).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace v2g::metrics {

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// Observations of a non-negative integer quantity against fixed, ascending upper bounds.
// Negative observations count as 0 (a clock that stepped back is not a reason to crash).
class Histogram {
 public:
  explicit Histogram(std::vector<int64_t> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Observe(int64_t value);

  struct Snapshot {
    std::vector<int64_t> bounds;
    std::vector<uint64_t> cumulative;  // per bound: observations <= bound
    uint64_t count = 0;                // all observations (the +Inf bucket)
    int64_t sum = 0;                   // saturates at INT64_MAX
  };
  // Each bucket read atomically; `count` is the sum of the buckets read, so the +Inf bucket and
  // _count always agree and every bucket is <= the next, as parsers check.
  Snapshot Read() const;

 private:
  const std::vector<int64_t> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1 (the last is +Inf)
  std::atomic<int64_t> sum_{0};
};

// Bucket bounds: latencies in microseconds from 100 us to 30 s; sizes (txs, bytes) in powers of 4.
std::vector<int64_t> LatencyBucketsUs();
std::vector<int64_t> SizeBuckets(int64_t first, int64_t last);

using Labels = std::vector<std::pair<std::string_view, std::string>>;

// How an integer value is printed: as it is, or in millionths (microseconds as seconds).
enum class Unit { kOne, kMicro };

// Writes families one after another (a family's samples must be contiguous). Names must match
// [a-zA-Z_:][a-zA-Z0-9_:]*, asserted; label values are escaped (\\, \", \n) as the format asks.
class Exposition {
 public:
  // `type`: "counter", "gauge" or "histogram". Counter names end in _total.
  void Family(std::string_view name, std::string_view type, std::string_view help);
  void Sample(std::string_view name, const Labels& labels, int64_t value, Unit unit = Unit::kOne);
  void Sample(std::string_view name, const Labels& labels, uint64_t value);
  // name_bucket{le=...}, name_sum and name_count of one histogram of the current family.
  void Histo(std::string_view name, const Labels& labels, const Histogram::Snapshot& h, Unit unit);
  const std::string& text() const { return out_; }

 private:
  void Head(std::string_view name, const Labels& labels, std::string_view le);
  std::string out_;
};

// "12.000345" for 12000345 millionths; "-0.000001" for -1.
std::string FormatMicro(int64_t millionths);

}  // namespace v2g::metrics
