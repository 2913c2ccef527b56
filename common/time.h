// Calendar time as people and files write it: RFC 3339 UTC text <-> milliseconds since the Unix
// epoch, with exact integer calendar arithmetic (no time zones, no locale, no floating point).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace v2g {

// "2026-11-26T02:00:00Z" -> milliseconds since the Unix epoch (UTC only, years from 1970; fractional
// seconds with up to 3 digits are accepted; impossible dates such as February 30 are refused).
Result<int64_t> ParseRfc3339Ms(std::string_view text);
// Milliseconds since the Unix epoch -> "2026-11-26T02:00:00Z" (".fff" only when not whole seconds).
std::string FormatRfc3339Ms(int64_t ms);

}  // namespace v2g
