#include "node/metrics.h"

#include <algorithm>
#include <limits>

#include "common/assert.h"

namespace v2g::metrics {

Histogram::Histogram(std::vector<int64_t> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  V2G_ASSERT(!bounds_.empty());
  V2G_ASSERT(std::is_sorted(bounds_.begin(), bounds_.end()) &&
             std::adjacent_find(bounds_.begin(), bounds_.end()) == bounds_.end());
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(int64_t value) {
  value = std::max<int64_t>(value, 0);
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);  // first bound >= value
  buckets_[static_cast<size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  // Saturating add: a sum cannot wrap into a negative number a dashboard would divide by.
  int64_t old = sum_.load(std::memory_order_relaxed);
  int64_t next = 0;
  do {
    next = old > std::numeric_limits<int64_t>::max() - value ? std::numeric_limits<int64_t>::max()
                                                             : old + value;
  } while (!sum_.compare_exchange_weak(old, next, std::memory_order_relaxed));
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.bounds = bounds_;
  s.cumulative.reserve(bounds_.size());
  uint64_t running = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running + buckets_[bounds_.size()].load(std::memory_order_relaxed);
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<int64_t> LatencyBucketsUs() {
  return {100,     250,     500,     1'000,     2'500,     5'000,     10'000,     25'000,    50'000,
          100'000, 250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000, 30'000'000};
}

std::vector<int64_t> SizeBuckets(int64_t first, int64_t last) {
  V2G_ASSERT(first >= 1 && last >= first);
  std::vector<int64_t> out;
  for (int64_t b = first; b < last; b *= 4) out.push_back(b);
  out.push_back(last);
  return out;
}

std::string FormatMicro(int64_t millionths) {
  // Magnitude as unsigned, so INT64_MIN prints too.
  const bool negative = millionths < 0;
  const uint64_t m =
      negative ? 0 - static_cast<uint64_t>(millionths) : static_cast<uint64_t>(millionths);
  std::string frac = std::to_string(m % 1'000'000);
  frac.insert(0, 6 - frac.size(), '0');
  return (negative ? "-" : "") + std::to_string(m / 1'000'000) + "." + frac;
}

namespace {

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

void AppendEscaped(std::string& out, std::string_view value) {
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

}  // namespace

void Exposition::Family(std::string_view name, std::string_view type, std::string_view help) {
  V2G_ASSERT(ValidName(name));
  V2G_ASSERT(type == "counter" || type == "gauge" || type == "histogram");
  V2G_ASSERT(type != "counter" || (name.size() > 6 && name.substr(name.size() - 6) == "_total"));
  // HELP text escapes only \ and newline.
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  for (const char c : help) {
    if (c == '\\') {
      out_ += "\\\\";
    } else if (c == '\n') {
      out_ += "\\n";
    } else {
      out_ += c;
    }
  }
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void Exposition::Head(std::string_view name, const Labels& labels, std::string_view le) {
  V2G_ASSERT(ValidName(name));
  out_ += name;
  if (!labels.empty() || !le.empty()) {
    out_ += '{';
    bool first = true;
    for (const auto& [k, v] : labels) {
      V2G_ASSERT(ValidName(k) && k != "le");
      if (!first) out_ += ',';
      first = false;
      out_ += k;
      out_ += "=\"";
      AppendEscaped(out_, v);
      out_ += '"';
    }
    if (!le.empty()) {
      if (!first) out_ += ',';
      out_ += "le=\"";
      out_ += le;
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
}

void Exposition::Sample(std::string_view name, const Labels& labels, int64_t value, Unit unit) {
  Head(name, labels, {});
  out_ += unit == Unit::kMicro ? FormatMicro(value) : std::to_string(value);
  out_ += '\n';
}

void Exposition::Sample(std::string_view name, const Labels& labels, uint64_t value) {
  Head(name, labels, {});
  out_ += std::to_string(value);
  out_ += '\n';
}

void Exposition::Histo(std::string_view name, const Labels& labels, const Histogram::Snapshot& h,
                       Unit unit) {
  const std::string n(name);
  for (size_t i = 0; i < h.bounds.size(); ++i) {
    const std::string le =
        unit == Unit::kMicro ? FormatMicro(h.bounds[i]) : std::to_string(h.bounds[i]);
    Head(n + "_bucket", labels, le);
    out_ += std::to_string(h.cumulative[i]);
    out_ += '\n';
  }
  Head(n + "_bucket", labels, "+Inf");
  out_ += std::to_string(h.count);
  out_ += '\n';
  Sample(n + "_sum", labels, h.sum, unit);
  Sample(n + "_count", labels, h.count);
}

}  // namespace v2g::metrics
