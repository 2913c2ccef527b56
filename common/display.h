// How a person reads a message (common/status.h Text): amounts in the display units of their
// denomination ("799.92 CNY", never minimal units) and times in the market's local time
// ("2026-12-06T18:15:00+08:00", never Unix seconds). The node's API and the wallet render with it;
// the deterministic code that writes messages never does.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace v2g {

struct DisplayUnits {
  // A denomination's decimals (common/amount.h), or nothing for a denomination nobody defined.
  std::function<std::optional<uint32_t>(const std::string& denom)> decimals;
  // The market's time zone: minutes east of UTC (genesis parameter utc_offset_min).
  int32_t utc_offset_min = 0;
};

// One field: "799.92 CNY" (an unknown denomination: "79992 units of XYZ"); a time as RFC 3339 in
// the local offset, or "Unix time N" outside the range a date can show.
std::string DisplayField(const TextField& f, const DisplayUnits& units);
// The whole message, its placeholders filled by DisplayField.
std::string DisplayText(const Text& text, const DisplayUnits& units);
std::string DisplayText(const std::string& tmpl, const std::vector<TextField>& fields, const DisplayUnits& units);

}  // namespace v2g
