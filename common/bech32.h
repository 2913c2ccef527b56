// Bech32m (BIP-350) encoding, and v2g addresses built on it.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/crypto.h"

namespace v2g {

enum class Bech32Variant { kBech32, kBech32m };

struct Bech32Decoded {
  Bech32Variant variant;
  std::string hrp;
  Bytes data;  // 5-bit groups, checksum removed
};

// Encodes 5-bit groups. hrp must be lower case.
std::string Bech32Encode(std::string_view hrp, const Bytes& values5, Bech32Variant variant);
// Decodes and verifies the checksum; accepts all-lower or all-upper case (not mixed), total
// length <= 90 (BIP-173). Errors name what was wrong.
Result<Bech32Decoded> Bech32Decode(std::string_view str);
// Regroups bits (e.g. 8 -> 5). `pad` adds zero bits at the end; without it leftover bits must be
// zero and fewer than from_bits.
Result<Bytes> ConvertBits(ByteView in, int from_bits, int to_bits, bool pad);

constexpr std::string_view kAddressHrp = "v2g";
constexpr size_t kAddressBytes = 20;
using Address = std::array<uint8_t, kAddressBytes>;

// First 20 bytes of BLAKE2b-256(public key).
Address AddressFromPublicKey(const PublicKey& pk);
// "v2g1..." (bech32m).
std::string EncodeAddress(const Address& addr);
// Parses "v2g1..."; rejects other prefixes, bech32 (non-m) checksums and wrong lengths.
Result<Address> DecodeAddress(std::string_view text);
// For raw bytes from a protobuf field: exactly 20 bytes.
Result<Address> AddressFromBytes(std::string_view raw);
inline std::string AddressBytes(const Address& a) { return {reinterpret_cast<const char*>(a.data()), a.size()}; }

}  // namespace v2g
