// Byte strings and hex. Bytes is the project's owning byte buffer; std::string is used where
// protobuf or LevelDB hand us bytes.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace v2g {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline ByteView AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string ToString(ByteView b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }
inline Bytes ToBytes(std::string_view s) { return {s.begin(), s.end()}; }

// Lower-case hex, two characters per byte.
std::string HexEncode(ByteView data);
inline std::string HexEncode(std::string_view data) { return HexEncode(AsBytes(data)); }
// Accepts upper or lower case, optional "0x" prefix. Error names the offending position.
Result<Bytes> HexDecode(std::string_view hex);

// Big-endian fixed-width encoding, used for keys that must sort numerically.
void AppendBigEndian64(std::string& out, uint64_t v);
uint64_t ReadBigEndian64(std::string_view in);  // in.size() must be >= 8

}  // namespace v2g
