#include "common/time.h"

#include <cstdio>

#include "common/assert.h"

namespace v2g {
namespace {

bool IsLeapYear(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int64_t DaysInMonth(int64_t y, int64_t month) {
  static constexpr int64_t kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  V2G_ASSERT(month >= 1 && month <= 12);
  return month == 2 && IsLeapYear(y) ? 29 : kDays[month - 1];
}

}  // namespace

Result<int32_t> ParseUtcOffset(std::string_view t) {
  auto bad = [&] {
    return Error(Code::kInvalidArgument, "'" + std::string(t) + "' is not a UTC offset like +08:00, -05:30 or Z");
  };
  if (t == "Z" || t == "z") return 0;
  if (t.size() != 6 || (t[0] != '+' && t[0] != '-') || t[3] != ':') return bad();
  for (size_t i : {1, 2, 4, 5}) {
    if (t[i] < '0' || t[i] > '9') return bad();
  }
  const int32_t h = (t[1] - '0') * 10 + (t[2] - '0');
  const int32_t m = (t[4] - '0') * 10 + (t[5] - '0');
  if (h > 23 || m > 59) return bad();
  return (t[0] == '-' ? -1 : 1) * (h * 60 + m);
}

std::string FormatUtcOffset(int32_t utc_offset_min) {
  V2G_ASSERT(utc_offset_min >= -kUtcOffsetMaxMin && utc_offset_min <= kUtcOffsetMaxMin);
  const int32_t a = utc_offset_min < 0 ? -utc_offset_min : utc_offset_min;
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%c%02d:%02d", utc_offset_min < 0 ? '-' : '+', a / 60, a % 60);
  return buf;
}

Result<int64_t> ParseRfc3339Ms(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)
  const std::string_view full = text;
  auto bad = [&] {
    return Error(Code::kInvalidArgument, "'" + std::string(full) +
                                             "' is not an RFC 3339 time like 2026-01-01T00:00:00Z or 2026-01-01T08:00:00+08:00");
  };
  int64_t offset_ms = 0;
  std::string_view t = text;
  if (t.size() >= 25 && (t[t.size() - 6] == '+' || t[t.size() - 6] == '-')) {
    auto off = ParseUtcOffset(t.substr(t.size() - 6));
    if (!off.ok()) return bad();
    offset_ms = int64_t{*off} * 60000;
    t = t.substr(0, t.size() - 6);
  } else if (t.empty() || (t.back() != 'Z' && t.back() != 'z')) {
    return bad();
  } else {
    t = t.substr(0, t.size() - 1);
  }
  if (t.size() < 19 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't') || t[13] != ':' ||
      t[16] != ':') {
    return bad();
  }
  auto num = [&](size_t pos, size_t len, int64_t& out) {
    out = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
      out = out * 10 + (t[i] - '0');
    }
    return true;
  };
  int64_t y, mo, d, h, mi, s, ms = 0;
  if (!num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d) || !num(11, 2, h) || !num(14, 2, mi) || !num(17, 2, s)) return bad();
  size_t rest = 19;
  if (rest < t.size() && t[rest] == '.') {
    size_t digits = t.size() - (rest + 1);
    if (digits == 0 || digits > 3 || !num(rest + 1, digits, ms)) return bad();
    for (size_t i = digits; i < 3; ++i) ms *= 10;
  } else if (rest != t.size()) {
    return bad();
  }
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return bad();
  // Without this, "2026-02-30" would silently become March 2 (the day arithmetic below rolls over).
  if (d > DaysInMonth(y, mo)) return bad();
  // Days from civil (Howard Hinnant's algorithm): exact integer calendar arithmetic.
  int64_t yy = y - (mo <= 2);
  int64_t era = yy / 400;
  int64_t yoe = yy - era * 400;
  int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  int64_t days = era * 146097 + doe - 719468;
  const int64_t utc_ms = ((days * 24 + h) * 60 + mi) * 60000 + s * 1000 + ms - offset_ms;
  if (utc_ms < 0) return bad();  // before the epoch once the offset is taken off
  return utc_ms;
}

std::string FormatRfc3339Ms(int64_t ms) {
  // Floor division: C++ truncates toward zero, which for ms < 0 gave a negative remainder and
  // printed garbage like "1970-01-01T00:00:00.-01Z".
  int64_t days = ms / 86400000;
  int64_t rem = ms % 86400000;
  if (rem < 0) {
    rem += 86400000;
    days -= 1;
  }
  // Civil from days (Hinnant).
  int64_t z = days + 719468;
  int64_t era = z / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp + (mp < 10 ? 3 : -9);
  y += (m <= 2);
  char buf[96];
  int64_t msec = rem % 1000;
  std::snprintf(buf, sizeof(buf), "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld", static_cast<long long>(y),
                static_cast<long long>(m), static_cast<long long>(d), static_cast<long long>(rem / 3600000),
                static_cast<long long>(rem / 60000 % 60), static_cast<long long>(rem / 1000 % 60));
  std::string out = buf;
  if (msec != 0) {
    std::snprintf(buf, sizeof(buf), ".%03lld", static_cast<long long>(msec));
    out += buf;
  }
  return out + "Z";
}

std::string FormatRfc3339LocalMs(int64_t ms, int32_t utc_offset_min) {
  if (utc_offset_min == 0) return FormatRfc3339Ms(ms);
  std::string out = FormatRfc3339Ms(ms + int64_t{utc_offset_min} * 60000);
  out.pop_back();  // the 'Z'
  return out + FormatUtcOffset(utc_offset_min);
}

}  // namespace v2g
