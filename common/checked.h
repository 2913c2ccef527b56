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

}  // namespace v2g
