// The software version this build is ("MAJOR.MINOR.PATCH"), and comparing versions: a governance
// software upgrade (contracts/gov.h "Software upgrades") names the version that must run from its
// height, and a node running an earlier one stops before that height.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace v2g {

inline constexpr std::string_view kSoftwareVersion = "0.1.0";

// Testing only: a node started with this variable set says it runs that version instead of
// kSoftwareVersion (the integration test plays an upgrade without building a second binary). The
// node logs a warning when it is set.
inline constexpr const char* kSoftwareVersionEnv = "V2G_TEST_SOFTWARE_VERSION";

// "MAJOR.MINOR.PATCH": three decimal numbers of 1-9 digits, no leading zeros but "0", nothing
// else (no "v", no pre-release or build suffix).
std::optional<std::array<int64_t, 3>> ParseVersion(std::string_view v);

// a >= b, both valid versions (numerically, part by part: 0.10.0 > 0.9.0).
bool VersionAtLeast(std::string_view a, std::string_view b);

// The version this process runs: $V2G_TEST_SOFTWARE_VERSION when set and valid, else
// kSoftwareVersion. `overridden` says which.
std::string SoftwareVersion(bool* overridden = nullptr);

}  // namespace v2g
