// Checked int64 arithmetic. Money and energy are int64 minimal units; every operation that could
// overflow goes through these and reports overflow instead of wrapping. Products use a 128-bit
// intermediate so a * b / c is exact whenever the final result fits.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>

namespace v2g {

// GCC's 128-bit integer (pedantic mode wants the __extension__ marker).
__extension__ typedef __int128 Int128;

inline std::optional<int64_t> CheckedAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

inline std::optional<int64_t> CheckedSub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) return std::nullopt;
  return r;
}

inline std::optional<int64_t> CheckedMul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// floor(a * b / c) for a, b >= 0 and c > 0, computed in 128 bits. Rounding: toward zero (down),
// the caller accounts for the remainder. nullopt if c <= 0, an input is negative or the result
// does not fit in int64.
inline std::optional<int64_t> MulDivFloor(int64_t a, int64_t b, int64_t c) {
  if (a < 0 || b < 0 || c <= 0) return std::nullopt;
  Int128 r = static_cast<Int128>(a) * static_cast<Int128>(b) / c;
  if (r > std::numeric_limits<int64_t>::max()) return std::nullopt;
  return static_cast<int64_t>(r);
}

// a + b clamped to the int64 range. Only for running totals whose true value may exceed int64
// through many bounded steps (a debt that keeps growing, a statement or lifetime sum): at the
// bound the figure is already more than any supply can pay, so stopping there loses nothing real,
// where wrapping or asserting would corrupt the record or halt every node at the same block.
inline int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t r;
  if (!__builtin_add_overflow(a, b, &r)) return r;
  return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

// a * b clamped to the int64 range (max when the true product is positive, min when negative).
// For a count times a bounded rate (a fee per unit) whose product is far inside int64 for any
// input the rules admit, but whose inputs come from records a bug or a future param could push
// past the bound: saturating keeps the figure too large to pay instead of wrapping to a small one.
inline int64_t MulSaturating(int64_t a, int64_t b) {
  int64_t r;
  if (!__builtin_mul_overflow(a, b, &r)) return r;
  // Overflow means neither is 0, so the signs give the true product's sign.
  return (a < 0) == (b < 0) ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

// floor(a * b / c) for a, b >= 0 and c > 0, clamped at int64 max (a charge or payment larger than
// any supply, later capped by what a payer holds or a budget has). 0 if an input is out of range.
inline int64_t MulDivSaturating(int64_t a, int64_t b, int64_t c) {
  if (a < 0 || b < 0 || c <= 0) return 0;
  const Int128 r = static_cast<Int128>(a) * static_cast<Int128>(b) / c;
  return r > std::numeric_limits<int64_t>::max() ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(r);
}

// An Int128 clamped to the int64 range (sums of many int64 figures).
inline int64_t SaturateToInt64(Int128 v) {
  if (v > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  if (v < std::numeric_limits<int64_t>::min()) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

}  // namespace v2g
