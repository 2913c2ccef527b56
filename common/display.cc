#include "common/display.h"

#include "common/amount.h"
#include "common/time.h"

namespace v2g {

std::string DisplayField(const TextField& f, const DisplayUnits& units) {
  if (f.kind == TextField::Kind::kAmount) {
    std::optional<uint32_t> d = units.decimals ? units.decimals(f.denom) : std::nullopt;
    if (f.denom.empty()) return std::to_string(f.value);  // a chain without a market denomination
    if (!d || *d > kDecimalsMax) return std::to_string(f.value) + " units of " + f.denom;
    return FormatAmount(f.value, *d) + " " + f.denom;
  }
  // A day short of year 10000: the local time of any offset still has four digits.
  constexpr int64_t kDisplayTimeMaxS = kRfc3339MaxS - 86400;
  const int32_t off = units.utc_offset_min;
  const bool ms = f.kind == TextField::Kind::kTimeMs;
  if (f.value < 0 || f.value > (ms ? kDisplayTimeMaxS * 1000 : kDisplayTimeMaxS) || off < -kUtcOffsetMaxMin ||
      off > kUtcOffsetMaxMin) {
    return PlainField(f);
  }
  return FormatRfc3339LocalMs(ms ? f.value : f.value * 1000, off);
}

std::string DisplayText(const std::string& tmpl, const std::vector<TextField>& fields, const DisplayUnits& units) {
  return FillText(tmpl, fields, [&](const TextField& f) { return DisplayField(f, units); });
}

std::string DisplayText(const Text& text, const DisplayUnits& units) {
  return DisplayText(text.tmpl(), text.fields(), units);
}

}  // namespace v2g
