#include "common/version.h"

#include <cstdlib>

namespace v2g {

std::optional<std::array<int64_t, 3>> ParseVersion(std::string_view v) {
  std::array<int64_t, 3> parts{};
  size_t i = 0;
  for (size_t part = 0; part < 3; ++part) {
    if (part > 0) {
      if (i >= v.size() || v[i] != '.') return std::nullopt;
      ++i;
    }
    const size_t start = i;
    int64_t n = 0;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9' && i - start < 9) {
      n = n * 10 + (v[i] - '0');
      ++i;
    }
    const size_t digits = i - start;
    if (digits == 0 || (digits > 1 && v[start] == '0')) return std::nullopt;
    if (i < v.size() && v[i] >= '0' && v[i] <= '9') return std::nullopt;  // more than 9 digits
    parts[part] = n;
  }
  if (i != v.size()) return std::nullopt;
  return parts;
}

bool VersionAtLeast(std::string_view a, std::string_view b) {
  const auto pa = ParseVersion(a);
  const auto pb = ParseVersion(b);
  if (!pa || !pb) return false;
  return *pa >= *pb;
}

std::string SoftwareVersion(bool* overridden) {
  const char* env = std::getenv(kSoftwareVersionEnv);
  const bool use = env != nullptr && ParseVersion(env).has_value();
  if (overridden != nullptr) *overridden = use;
  return use ? std::string(env) : std::string(kSoftwareVersion);
}

}  // namespace v2g
