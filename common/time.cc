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

Result<int64_t> ParseRfc3339Ms(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.fff]Z
  auto bad = [&] { return Error(Code::kInvalidArgument, "'" + std::string(t) + "' is not an RFC 3339 UTC time like 2026-01-01T00:00:00Z"); };
  if (t.size() < 20 || t.back() != 'Z' || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't') ||
      t[13] != ':' || t[16] != ':') {
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
  if (t[rest] == '.') {
    size_t digits = t.size() - 1 - (rest + 1);
    if (digits == 0 || digits > 3 || !num(rest + 1, digits, ms)) return bad();
    for (size_t i = digits; i < 3; ++i) ms *= 10;
  } else if (rest != t.size() - 1) {
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
  return ((days * 24 + h) * 60 + mi) * 60000 + s * 1000 + ms;
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

}  // namespace v2g
