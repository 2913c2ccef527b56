#include "common/amount.h"

#include "common/checked.h"

namespace v2g {

std::string FormatAmount(int64_t units, uint32_t decimals) {
  V2G_ASSERT(decimals <= kDecimalsMax);
  bool negative = units < 0;
  // Work in unsigned so INT64_MIN prints correctly.
  uint64_t mag = negative ? ~static_cast<uint64_t>(units) + 1 : static_cast<uint64_t>(units);
  std::string digits = std::to_string(mag);
  if (digits.size() <= decimals) digits.insert(0, decimals + 1 - digits.size(), '0');
  std::string out = negative ? "-" : "";
  out += digits.substr(0, digits.size() - decimals);
  if (decimals > 0) {
    out += '.';
    out += digits.substr(digits.size() - decimals);
  }
  return out;
}

Result<int64_t> ParseAmount(std::string_view text, uint32_t decimals) {
  V2G_ASSERT(decimals <= kDecimalsMax);
  const std::string quoted = "'" + std::string(text) + "'";
  if (text.empty()) return Error(Code::kInvalidArgument, "amount is empty");
  size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  if (whole.empty()) return Error(Code::kInvalidArgument, "amount " + quoted + " has no digits before the point");
  if (dot != std::string_view::npos && frac.empty()) {
    return Error(Code::kInvalidArgument, "amount " + quoted + " has no digits after the point");
  }
  for (std::string_view part : {whole, frac}) {
    for (char c : part) {
      if (c < '0' || c > '9') return Error(Code::kInvalidArgument, "amount " + quoted + " is not a plain decimal number");
    }
  }
  if (frac.size() > decimals) {
    return Error(Code::kInvalidArgument, "amount " + quoted + " has more than " +
                                             std::to_string(decimals) + " decimal places");
  }
  int64_t value = 0;
  auto overflow = [&] { return Error(Code::kOverflow, "amount " + quoted + " is too large"); };
  for (char c : whole) {
    auto m = CheckedMul(value, 10);
    if (!m) return overflow();
    auto a = CheckedAdd(*m, c - '0');
    if (!a) return overflow();
    value = *a;
  }
  for (uint32_t i = 0; i < decimals; ++i) {
    auto m = CheckedMul(value, 10);
    if (!m) return overflow();
    int digit = i < frac.size() ? frac[i] - '0' : 0;
    auto a = CheckedAdd(*m, digit);
    if (!a) return overflow();
    value = *a;
  }
  return value;
}

}  // namespace v2g
