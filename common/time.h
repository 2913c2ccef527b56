// Calendar time as people and files write it: RFC 3339 UTC text <-> milliseconds since the Unix
// epoch, with exact integer calendar arithmetic (no time zones, no locale, no floating point).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace v2g {

// 9999-12-31T23:59:59Z: the last second RFC 3339's four-digit years can write.
constexpr int64_t kRfc3339MaxS = 253402300799;

// The most a time zone's offset from UTC can be, in minutes (RFC 3339 allows +-23:59; real zones
// span -12:00..+14:00).
constexpr int32_t kUtcOffsetMaxMin = 23 * 60 + 59;

// "2026-11-26T02:00:00Z" or "2026-11-26T10:00:00+08:00" -> milliseconds since the Unix epoch (years
// from 1970; fractional seconds with up to 3 digits are accepted; impossible dates such as
// February 30 are refused).
Result<int64_t> ParseRfc3339Ms(std::string_view text);
// Milliseconds since the Unix epoch -> "2026-11-26T02:00:00Z" (".fff" only when not whole seconds).
std::string FormatRfc3339Ms(int64_t ms);
// The same time in a zone `utc_offset_min` minutes east of UTC: "2026-11-26T10:00:00+08:00" (and
// "...Z" for offset 0). |utc_offset_min| <= kUtcOffsetMaxMin.
std::string FormatRfc3339LocalMs(int64_t ms, int32_t utc_offset_min);
// "+08:00" / "-05:30" / "Z" (or "+00:00") -> minutes east of UTC.
Result<int32_t> ParseUtcOffset(std::string_view text);
// Minutes east of UTC -> "+08:00" ("+00:00" for 0).
std::string FormatUtcOffset(int32_t utc_offset_min);

}  // namespace v2g
