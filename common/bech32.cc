#include "common/bech32.h"

#include <algorithm>
#include <cctype>

namespace v2g {
namespace {

constexpr char kCharset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
constexpr uint32_t kBech32Const = 1;
constexpr uint32_t kBech32mConst = 0x2bc830a3;
constexpr size_t kMaxLength = 90;

uint32_t PolyMod(const Bytes& values) {
  static constexpr uint32_t kGen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
  uint32_t chk = 1;
  for (uint8_t v : values) {
    uint32_t top = chk >> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (int i = 0; i < 5; ++i) {
      if ((top >> i) & 1) chk ^= kGen[i];
    }
  }
  return chk;
}

Bytes HrpExpand(std::string_view hrp) {
  Bytes out;
  out.reserve(hrp.size() * 2 + 1);
  for (char c : hrp) out.push_back(static_cast<uint8_t>(c) >> 5);
  out.push_back(0);
  for (char c : hrp) out.push_back(static_cast<uint8_t>(c) & 31);
  return out;
}

int CharsetIndex(char c) {
  const char* p = std::find(kCharset, kCharset + 32, c);
  return p == kCharset + 32 ? -1 : static_cast<int>(p - kCharset);
}

}  // namespace

std::string Bech32Encode(std::string_view hrp, const Bytes& values5, Bech32Variant variant) {
  Bytes enc = HrpExpand(hrp);
  enc.insert(enc.end(), values5.begin(), values5.end());
  enc.insert(enc.end(), 6, 0);
  uint32_t mod = PolyMod(enc) ^ (variant == Bech32Variant::kBech32m ? kBech32mConst : kBech32Const);
  std::string out(hrp);
  out.push_back('1');
  for (uint8_t v : values5) out.push_back(kCharset[v]);
  for (int i = 0; i < 6; ++i) out.push_back(kCharset[(mod >> (5 * (5 - i))) & 31]);
  return out;
}

Result<Bech32Decoded> Bech32Decode(std::string_view str) {
  if (str.size() > kMaxLength) return Error(Code::kMalformed, "bech32 string longer than 90 characters");
  bool lower = false, upper = false;
  for (char c : str) {
    if (c < 33 || c > 126) return Error(Code::kMalformed, "bech32 string has a character out of range");
    if (c >= 'a' && c <= 'z') lower = true;
    if (c >= 'A' && c <= 'Z') upper = true;
  }
  if (lower && upper) return Error(Code::kMalformed, "bech32 string mixes upper and lower case");
  size_t sep = str.rfind('1');
  if (sep == std::string_view::npos || sep == 0) return Error(Code::kMalformed, "bech32 string has no human-readable part");
  if (sep + 7 > str.size()) return Error(Code::kMalformed, "bech32 checksum too short");
  std::string hrp(str.substr(0, sep));
  std::transform(hrp.begin(), hrp.end(), hrp.begin(), [](char c) { return static_cast<char>(std::tolower(c)); });
  Bytes values;
  for (size_t i = sep + 1; i < str.size(); ++i) {
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(str[i])));
    int idx = CharsetIndex(c);
    if (idx < 0) return Error(Code::kMalformed, std::string("invalid bech32 character '") + str[i] + "'");
    values.push_back(static_cast<uint8_t>(idx));
  }
  Bytes check = HrpExpand(hrp);
  check.insert(check.end(), values.begin(), values.end());
  uint32_t mod = PolyMod(check);
  Bech32Variant variant;
  if (mod == kBech32Const) {
    variant = Bech32Variant::kBech32;
  } else if (mod == kBech32mConst) {
    variant = Bech32Variant::kBech32m;
  } else {
    return Error(Code::kMalformed, "bech32 checksum mismatch");
  }
  values.resize(values.size() - 6);
  return Bech32Decoded{variant, hrp, std::move(values)};
}

Result<Bytes> ConvertBits(ByteView in, int from_bits, int to_bits, bool pad) {
  uint32_t acc = 0;
  int bits = 0;
  const uint32_t maxv = (1u << to_bits) - 1;
  Bytes out;
  for (uint8_t v : in) {
    if ((v >> from_bits) != 0) return Error(Code::kMalformed, "value out of range for bit conversion");
    acc = (acc << from_bits) | v;
    bits += from_bits;
    while (bits >= to_bits) {
      bits -= to_bits;
      out.push_back(static_cast<uint8_t>((acc >> bits) & maxv));
    }
  }
  if (pad) {
    if (bits > 0) out.push_back(static_cast<uint8_t>((acc << (to_bits - bits)) & maxv));
  } else if (bits >= from_bits || ((acc << (to_bits - bits)) & maxv) != 0) {
    return Error(Code::kMalformed, "invalid padding in bech32 data");
  }
  return out;
}

Address AddressFromPublicKey(const PublicKey& pk) {
  Hash256 h = Blake2b256(ByteView(pk.data(), pk.size()));
  Address a;
  std::copy(h.begin(), h.begin() + kAddressBytes, a.begin());
  return a;
}

std::string EncodeAddress(const Address& addr) {
  auto five = ConvertBits(ByteView(addr.data(), addr.size()), 8, 5, true);
  V2G_ASSERT(five.ok());
  return Bech32Encode(kAddressHrp, *five, Bech32Variant::kBech32m);
}

Result<Address> DecodeAddress(std::string_view text) {
  auto dec = Bech32Decode(text);
  if (!dec.ok()) return Error(Code::kInvalidArgument, "bad address '" + std::string(text) + "': " + dec.status().message());
  if (dec->hrp != kAddressHrp) {
    return Error(Code::kInvalidArgument, "bad address '" + std::string(text) + "': wrong prefix '" + dec->hrp +
                                             "' (an address of another chain?); v2gledger addresses start with v2g1");
  }
  if (dec->variant != Bech32Variant::kBech32m) {
    return Error(Code::kInvalidArgument, "bad address '" + std::string(text) + "': bech32 checksum, expected bech32m");
  }
  auto raw = ConvertBits(dec->data, 5, 8, false);
  if (!raw.ok() || raw->size() != kAddressBytes) {
    return Error(Code::kInvalidArgument, "bad address '" + std::string(text) + "': must encode 20 bytes");
  }
  Address a;
  std::copy(raw->begin(), raw->end(), a.begin());
  return a;
}

Result<Address> AddressFromBytes(std::string_view raw) {
  if (raw.size() != kAddressBytes) {
    return Error(Code::kInvalidArgument, "address must be 20 bytes, got " + std::to_string(raw.size()));
  }
  Address a;
  std::copy(raw.begin(), raw.end(), a.begin());
  return a;
}

}  // namespace v2g
