// Human-readable amounts. A denomination has `decimals` digits after the point: with 2 decimals,
// 1250 minimal units print as "12.50" and "12.5" parses to 1250.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace v2g {

constexpr uint32_t kDecimalsMax = 18;

// Always prints exactly `decimals` digits after the point (none when decimals == 0).
std::string FormatAmount(int64_t units, uint32_t decimals);
// Parses "12", "12.5", "12.50"; rejects signs, exponents, empty parts, more digits than
// `decimals` after the point and values that do not fit in int64. Zero is allowed here; callers
// that need a positive amount check that themselves.
Result<int64_t> ParseAmount(std::string_view text, uint32_t decimals);

}  // namespace v2g
