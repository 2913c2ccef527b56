// Unit tests for common/: hex, BLAKE2b-256, Merkle roots, Ed25519, bech32m and addresses, checked
// arithmetic, amounts, sign-bytes and status codes. Known answers come from the published test
// vectors (BIP-173, BIP-350, RFC 8032) or were computed with an independent implementation
// (Python hashlib / cryptography), never with the code under test.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <iterator>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "common/amount.h"
#include "common/bech32.h"
#include "common/bytes.h"
#include "common/checked.h"
#include "common/crypto.h"
#include "common/signbytes.h"
#include "common/status.h"

namespace v2g {
namespace {

// libsodium must be initialised before any test in this binary touches crypto. The environment is
// registered from a static initializer so it runs even under --gtest_filter; fixtures in other
// files also call InitCrypto() (it is idempotent).
class CryptoEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { InitCrypto(); }
};
[[maybe_unused]] ::testing::Environment* const kCryptoEnv =
    ::testing::AddGlobalTestEnvironment(new CryptoEnvironment);

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

std::string Hex(const Hash256& h) { return HexEncode(ByteView(h.data(), h.size())); }

Bytes Unhex(std::string_view hex) {
  auto b = HexDecode(hex);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return b.ok() ? *b : Bytes{};
}

::testing::AssertionResult Contains(const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "'" << haystack << "' does not contain '" << needle << "'";
}

// ------------------------------------------------------------------------------------------ hex

TEST(HexTest, EncodesLowerCaseTwoCharsPerByte) {
  EXPECT_EQ(HexEncode(ByteView{}), "");
  const Bytes b = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
  EXPECT_EQ(HexEncode(ByteView(b)), "00017f80abff");
  EXPECT_EQ(HexEncode(std::string_view("\x12\xEF", 2)), "12ef");
}

TEST(HexTest, DecodesUpperLowerAndPrefixed) {
  EXPECT_EQ(Unhex("00017f80abff"), (Bytes{0x00, 0x01, 0x7f, 0x80, 0xab, 0xff}));
  EXPECT_EQ(Unhex("ABcDeF"), (Bytes{0xab, 0xcd, 0xef}));
  EXPECT_EQ(Unhex("0xdead"), (Bytes{0xde, 0xad}));
  EXPECT_EQ(Unhex("0XBEEF"), (Bytes{0xbe, 0xef}));
  EXPECT_EQ(Unhex(""), Bytes{});
}

TEST(HexTest, RoundTripsEveryByteValue) {
  Bytes all(256);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(Unhex(HexEncode(ByteView(all))), all);
}

TEST(HexTest, RejectsOddLength) {
  for (const char* s : {"a", "abc", "0x1", "0xabc"}) {
    auto r = HexDecode(s);
    ASSERT_FALSE(r.ok()) << s;
    EXPECT_EQ(r.status().code(), Code::kMalformed) << s;
    EXPECT_TRUE(Contains(r.status().message(), "odd length")) << s;
  }
}

TEST(HexTest, RejectsBadCharacterAndNamesItsPosition) {
  struct Case {
    const char* hex;
    const char* position;
  };
  for (const Case& c :
       {Case{"zz00", "position 0"}, Case{"0g", "position 1"}, Case{"00ab 1", "position 4"},
        Case{"0011-2", "position 4"}, Case{"abcdeG", "position 5"}}) {
    auto r = HexDecode(c.hex);
    ASSERT_FALSE(r.ok()) << c.hex;
    EXPECT_EQ(r.status().code(), Code::kMalformed) << c.hex;
    EXPECT_TRUE(Contains(r.status().message(), c.position)) << c.hex;
  }
  // A "0x" in the middle is not a prefix.
  EXPECT_FALSE(HexDecode("000x").ok());
}

TEST(BigEndianTest, SortsNumericallyAndRoundTrips) {
  std::string a, b, c;
  AppendBigEndian64(a, 1);
  AppendBigEndian64(b, 256);
  AppendBigEndian64(c, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(a, std::string("\0\0\0\0\0\0\0\1", 8));
  EXPECT_EQ(b, std::string("\0\0\0\0\0\0\1\0", 8));
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_EQ(ReadBigEndian64(a), 1u);
  EXPECT_EQ(ReadBigEndian64(b), 256u);
  EXPECT_EQ(ReadBigEndian64(c), std::numeric_limits<uint64_t>::max());
  std::string d;
  AppendBigEndian64(d, 0x0102030405060708ull);
  EXPECT_EQ(HexEncode(d), "0102030405060708");
}

// -------------------------------------------------------------------------------------- hashes

TEST(Blake2bTest, KnownAnswers) {
  EXPECT_EQ(Hex(Blake2b256(std::string_view(""))),
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  EXPECT_EQ(Hex(Blake2b256(std::string_view("abc"))),
            "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  EXPECT_EQ(Blake2b256(ByteView{}), Blake2b256(std::string_view("")));
}

TEST(Blake2bTest, HashStringIsTheRaw32Bytes) {
  Hash256 h = Blake2b256(std::string_view("abc"));
  std::string s = HashString(h);
  ASSERT_EQ(s.size(), 32u);
  EXPECT_EQ(HexEncode(s), Hex(h));
}

Hash256 H(const std::string& s) { return Blake2b256(s); }
Hash256 Leaf(const std::string& item) { return H(std::string(1, '\0') + item); }
Hash256 Node(const Hash256& l, const Hash256& r) {
  return H("\x01" + HashString(l) + HashString(r));
}

// RFC 6962 section 2.1 written as the RFC states it (split at the largest power of two smaller
// than n), independent of the level-by-level code under test.
Hash256 Rfc6962(const std::vector<std::string>& items, size_t lo, size_t hi) {
  size_t n = hi - lo;
  if (n == 1) return Leaf(items[lo]);
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  return Node(Rfc6962(items, lo, lo + k), Rfc6962(items, lo + k, hi));
}

TEST(MerkleRootTest, EmptyIsHashOfEmptyString) {
  EXPECT_EQ(MerkleRoot({}), Blake2b256(ByteView{}));
}

TEST(MerkleRootTest, SingleItemIsItsLeafHash) {
  EXPECT_EQ(MerkleRoot({"a"}), Leaf("a"));
  // Domain separation: a one-item tree is not the plain hash of the item.
  EXPECT_NE(MerkleRoot({"a"}), H("a"));
  EXPECT_EQ(MerkleRoot({""}), Leaf(""));
  EXPECT_NE(MerkleRoot({""}), MerkleRoot({}));
}

TEST(MerkleRootTest, TwoAndThreeItems) {
  EXPECT_EQ(MerkleRoot({"a", "b"}), Node(Leaf("a"), Leaf("b")));
  EXPECT_EQ(MerkleRoot({"a", "b", "c"}), Node(Node(Leaf("a"), Leaf("b")), Leaf("c")));
}

TEST(MerkleRootTest, MatchesRfc6962ForEveryCountUpTo33) {
  std::vector<std::string> items;
  for (int n = 1; n <= 33; ++n) {
    items.push_back("tx" + std::to_string(n));
    EXPECT_EQ(MerkleRoot(items), Rfc6962(items, 0, items.size())) << "n=" << n;
  }
}

TEST(MerkleRootTest, OrderAndContentMatter) {
  EXPECT_NE(MerkleRoot({"a", "b"}), MerkleRoot({"b", "a"}));
  EXPECT_NE(MerkleRoot({"a", "b", "c"}), MerkleRoot({"a", "c", "b"}));
  EXPECT_NE(MerkleRoot({"a", "b", "c"}), MerkleRoot({"a", "b"}));
  // The last odd item is promoted, not duplicated: [a, b, c] differs from [a, b, c, c] (the
  // Bitcoin CVE-2012-2459 mutation).
  EXPECT_NE(MerkleRoot({"a", "b", "c"}), MerkleRoot({"a", "b", "c", "c"}));
}

TEST(MerkleRootTest, LeafCannotPassAsInnerNode) {
  // The concatenation of two leaf hashes, offered as a single item, must not give the same root.
  std::string inner = HashString(Leaf("a")) + HashString(Leaf("b"));
  EXPECT_NE(MerkleRoot({inner}), MerkleRoot({"a", "b"}));
}

// ------------------------------------------------------------------------------------- Ed25519

class Ed25519Test : public ::testing::Test {
 protected:
  void SetUp() override { InitCrypto(); }
};

// RFC 8032 section 7.1, TEST 1.
constexpr std::string_view kRfcSeed =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr std::string_view kRfcPublic =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr std::string_view kRfcSig =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b4"
    "6bd25bf5f0"
    "595bbe24655141438e7a100b";

TEST_F(Ed25519Test, Rfc8032Vector) {
  Bytes seed = Unhex(kRfcSeed);
  KeyPair kp = KeyPair::FromSeed(seed);
  EXPECT_EQ(HexEncode(ByteView(kp.public_key())), kRfcPublic);
  Signature sig = kp.Sign(ByteView{});
  EXPECT_EQ(HexEncode(ByteView(sig)), kRfcSig);
  EXPECT_TRUE(Verify(kp.public_key(), ByteView{}, sig));
  EXPECT_EQ(kp.Seed(), seed);
}

TEST_F(Ed25519Test, FromSeedIsDeterministic) {
  Bytes seed(kSeedBytes, 7);
  KeyPair a = KeyPair::FromSeed(seed);
  KeyPair b = KeyPair::FromSeed(seed);
  EXPECT_EQ(a.public_key(), b.public_key());
  const std::string msg = "same message";
  EXPECT_EQ(a.Sign(AsBytes(msg)), b.Sign(AsBytes(msg)));  // Ed25519 signatures are deterministic
  seed[31] = 8;
  EXPECT_NE(KeyPair::FromSeed(seed).public_key(), a.public_key());
}

TEST_F(Ed25519Test, GenerateGivesDistinctKeysWhoseSeedRecreatesThem) {
  KeyPair a = KeyPair::Generate();
  KeyPair b = KeyPair::Generate();
  EXPECT_NE(a.public_key(), b.public_key());
  EXPECT_EQ(KeyPair::FromSeed(a.Seed()).public_key(), a.public_key());
}

TEST_F(Ed25519Test, SignVerifyAndAnyFlippedBitFails) {
  KeyPair kp = KeyPair::FromSeed(Bytes(kSeedBytes, 1));
  const std::string msg = "transfer 12.50 CNY";
  Signature sig = kp.Sign(AsBytes(msg));
  ASSERT_TRUE(Verify(kp.public_key(), AsBytes(msg), sig));

  for (size_t bit = 0; bit < sig.size() * 8; bit += 37) {
    Signature bad = sig;
    bad[bit / 8] = static_cast<uint8_t>(bad[bit / 8] ^ (1u << (bit % 8)));
    EXPECT_FALSE(Verify(kp.public_key(), AsBytes(msg), bad)) << "signature bit " << bit;
  }
  for (size_t bit = 0; bit < msg.size() * 8; bit += 11) {
    std::string bad = msg;
    bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
    EXPECT_FALSE(Verify(kp.public_key(), AsBytes(bad), sig)) << "message bit " << bit;
  }
  PublicKey other = KeyPair::FromSeed(Bytes(kSeedBytes, 2)).public_key();
  EXPECT_FALSE(Verify(other, AsBytes(msg), sig));
}

TEST_F(Ed25519Test, VerifyRawChecksLengths) {
  KeyPair kp = KeyPair::FromSeed(Bytes(kSeedBytes, 3));
  const std::string msg = "m";
  Signature sig = kp.Sign(AsBytes(msg));
  std::string pk(kp.public_key().begin(), kp.public_key().end());
  std::string s(sig.begin(), sig.end());
  EXPECT_TRUE(VerifyRaw(pk, msg, s));
  EXPECT_FALSE(VerifyRaw(pk.substr(1), msg, s));
  EXPECT_FALSE(VerifyRaw(pk + "x", msg, s));
  EXPECT_FALSE(VerifyRaw(pk, msg, s.substr(1)));
  EXPECT_FALSE(VerifyRaw(pk, msg, s + "x"));
  EXPECT_FALSE(VerifyRaw("", msg, ""));
}

TEST_F(Ed25519Test, SecureWipeZeroes) {
  uint8_t buf[16];
  for (auto& b : buf) b = 0xaa;
  SecureWipe(buf, sizeof(buf));
  for (uint8_t b : buf) EXPECT_EQ(b, 0);
}

// ------------------------------------------------------------------------------------- bech32m

TEST(Bech32Test, Bip350ValidBech32mVectors) {
  for (
      const char* s :
      {"A1LQFN3A", "a1lqfn3a",
       "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
       "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
       "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
       "split1checkupstagehandshakeupstreamerranterredcaperredlc445v", "?1v759aa"}) {
    auto r = Bech32Decode(s);
    ASSERT_TRUE(r.ok()) << s << ": " << r.status().ToString();
    EXPECT_EQ(r->variant, Bech32Variant::kBech32m) << s;
  }
}

TEST(Bech32Test, Bip350DecodedParts) {
  auto r = Bech32Decode("abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->hrp, "abcdef");
  Bytes want;
  for (int v = 31; v >= 0; --v) want.push_back(static_cast<uint8_t>(v));
  EXPECT_EQ(r->data, want);

  auto upper = Bech32Decode("A1LQFN3A");
  ASSERT_TRUE(upper.ok());
  EXPECT_EQ(upper->hrp, "a");  // HRP is returned lower-cased
  EXPECT_TRUE(upper->data.empty());
}

TEST(Bech32Test, Bip173ValidBech32Vectors) {
  for (
      const char* s :
      {"A12UEL5L", "a12uel5l",
       "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
       "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
       "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
       "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w", "?1ezyfcl"}) {
    auto r = Bech32Decode(s);
    ASSERT_TRUE(r.ok()) << s << ": " << r.status().ToString();
    EXPECT_EQ(r->variant, Bech32Variant::kBech32) << s;
  }
}

TEST(Bech32Test, Bip350InvalidVectors) {
  // clang-format off
  const std::vector<std::string> invalid = {
      std::string("\x20") + "1xj0phk",  // HRP character out of range
      std::string("\x7f") + "1g6xzxy",  // HRP character out of range
      std::string("\x80") + "1vctc34",  // HRP character out of range
      "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",  // too long
      "qyrz8wqd2c9m",   // no separator
      "1qyrz8wqd2c9m",  // empty HRP
      "y1b0jsk6g",      // invalid data character
      "lt1igcx5c0",     // invalid data character
      "in1muywd",       // checksum too short
      "mm1crxm3i",      // invalid character in checksum
      "au1s5cgom",      // invalid character in checksum
      "M1VUXWEZ",       // checksum computed over the upper-case HRP
      "16plkw9",        // empty HRP
      "1p2gdwpf",       // empty HRP
  };
  // clang-format on
  ASSERT_EQ(invalid[3].size(), 91u);  // one past the 90-character limit
  for (const std::string& s : invalid) {
    auto r = Bech32Decode(s);
    EXPECT_FALSE(r.ok()) << "accepted invalid " << s;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kMalformed) << s;
    }
  }
}

TEST(Bech32Test, RejectsMixedCaseAndChangedCharacters) {
  EXPECT_FALSE(Bech32Decode("A1lqfn3a").ok());
  EXPECT_FALSE(Bech32Decode("a1LQFN3A").ok());
  // Any single substitution in the data part breaks the checksum (BCH distance guarantees it).
  const std::string good = "split1checkupstagehandshakeupstreamerranterredcaperredlc445v";
  for (size_t i = good.find('1') + 1; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = bad[i] == 'q' ? 'p' : 'q';
    EXPECT_FALSE(Bech32Decode(bad).ok()) << bad;
  }
}

TEST(Bech32Test, EncodeKnownAnswersAndRoundTrip) {
  Bytes v;
  for (uint8_t i = 0; i < 32; ++i) v.push_back(i);
  EXPECT_EQ(Bech32Encode("abcdef", v, Bech32Variant::kBech32),
            "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw");
  Bytes rev(v.rbegin(), v.rend());
  EXPECT_EQ(Bech32Encode("abcdef", rev, Bech32Variant::kBech32m),
            "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx");
  EXPECT_EQ(Bech32Encode("a", {}, Bech32Variant::kBech32m), "a1lqfn3a");
  for (auto variant : {Bech32Variant::kBech32, Bech32Variant::kBech32m}) {
    auto r = Bech32Decode(Bech32Encode("hrp", v, variant));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->variant, variant);
    EXPECT_EQ(r->hrp, "hrp");
    EXPECT_EQ(r->data, v);
  }
}

TEST(ConvertBitsTest, EightToFiveAndBack) {
  const Bytes in = {0xff, 0x00, 0x81};
  auto five = ConvertBits(ByteView(in), 8, 5, true);
  ASSERT_TRUE(five.ok());
  EXPECT_EQ(*five, (Bytes{31, 28, 0, 8, 2}));  // 11111 11100 00000 01000 0001|0 (one pad bit)
  auto back = ConvertBits(ByteView(*five), 5, 8, false);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, in);
}

TEST(ConvertBitsTest, RejectsOutOfRangeAndBadPadding) {
  const Bytes too_big = {32};
  EXPECT_FALSE(ConvertBits(ByteView(too_big), 5, 8, true).ok());
  const Bytes nonzero_pad = {31, 28, 0, 8, 3};  // the padding bit is 1
  EXPECT_FALSE(ConvertBits(ByteView(nonzero_pad), 5, 8, false).ok());
  const Bytes whole_extra_group = {31, 28, 0, 8, 2, 0};  // 30 bits: a full 5-bit group of padding
  EXPECT_FALSE(ConvertBits(ByteView(whole_extra_group), 5, 8, false).ok());
}

// ------------------------------------------------------------------------------------ addresses

class AddressTest : public ::testing::Test {
 protected:
  void SetUp() override { InitCrypto(); }
};

Address TestAddress(uint8_t fill) {
  Address a;
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(fill + i * 13);
  return a;
}

TEST_F(AddressTest, KnownAnswerForRfc8032Key) {
  // Computed with Python: blake2b(pk, digest_size=32)[:20], bech32m with hrp "v2g".
  KeyPair kp = KeyPair::FromSeed(Unhex(kRfcSeed));
  Address a = AddressFromPublicKey(kp.public_key());
  EXPECT_EQ(HexEncode(ByteView(a)), "7849ac3049680be1ef762efe0d36e01733c3464e");
  EXPECT_EQ(EncodeAddress(a), "v2g10py6cvzfdq97rmmk9mlq6dhqzueux3jwfaha7r");
}

TEST_F(AddressTest, RoundTrips) {
  for (int fill = 0; fill < 256; fill += 17) {
    Address a = TestAddress(static_cast<uint8_t>(fill));
    std::string text = EncodeAddress(a);
    EXPECT_EQ(text.substr(0, 4), "v2g1");
    auto back = DecodeAddress(text);
    ASSERT_TRUE(back.ok()) << text << ": " << back.status().ToString();
    EXPECT_EQ(*back, a);
  }
  Address zero{};
  EXPECT_EQ(*DecodeAddress(EncodeAddress(zero)), zero);
}

TEST_F(AddressTest, UpperCaseIsAccepted) {
  // BIP-173: an all-upper-case string is the same address (QR codes use it).
  Address a = TestAddress(5);
  std::string upper = EncodeAddress(a);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto back = DecodeAddress(upper);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, a);
}

TEST_F(AddressTest, RejectsWrongPrefix) {
  auto r = DecodeAddress("btc10py6cvzfdq97rmmk9mlq6dhqzueux3jwz6me0s");  // same 20 bytes, hrp "btc"
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(r.status().message(), "prefix"));
}

TEST_F(AddressTest, RejectsBech32Checksum) {
  auto r = DecodeAddress("v2g10py6cvzfdq97rmmk9mlq6dhqzueux3jwup83mp");  // bech32, not bech32m
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(r.status().message(), "bech32m"));
  Bytes five = *ConvertBits(ByteView(TestAddress(9)), 8, 5, true);
  EXPECT_FALSE(DecodeAddress(Bech32Encode("v2g", five, Bech32Variant::kBech32)).ok());
}

TEST_F(AddressTest, RejectsWrongLength) {
  for (size_t len : {0u, 1u, 19u, 21u, 32u}) {
    Bytes raw(len, 0x42);
    Bytes five = *ConvertBits(ByteView(raw), 8, 5, true);
    auto r = DecodeAddress(Bech32Encode("v2g", five, Bech32Variant::kBech32m));
    ASSERT_FALSE(r.ok()) << len;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_TRUE(Contains(r.status().message(), "20 bytes")) << len;
  }
  // 20 bytes plus one extra 5-bit group of zero padding.
  Bytes five = *ConvertBits(ByteView(TestAddress(1)), 8, 5, true);
  five.push_back(0);
  EXPECT_FALSE(DecodeAddress(Bech32Encode("v2g", five, Bech32Variant::kBech32m)).ok());
}

TEST_F(AddressTest, RejectsMixedCaseAndTypos) {
  std::string text = "v2g10py6cvzfdq97rmmk9mlq6dhqzueux3jwfaha7r";
  std::string mixed = text;
  mixed[5] = static_cast<char>(std::toupper(static_cast<unsigned char>(mixed[5])));
  auto r = DecodeAddress(mixed);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), "mixes upper and lower case"));
  std::string typo = text;
  typo[10] = typo[10] == 'q' ? 'p' : 'q';
  EXPECT_FALSE(DecodeAddress(typo).ok());
  EXPECT_FALSE(DecodeAddress("").ok());
  EXPECT_FALSE(DecodeAddress("v2g1").ok());
}

TEST(AddressFromBytesTest, ExactlyTwentyBytes) {
  Address a = TestAddress(3);
  auto r = AddressFromBytes(AddressBytes(a));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, a);
  EXPECT_EQ(AddressBytes(a).size(), kAddressBytes);
  for (size_t len : {0u, 19u, 21u}) {
    auto bad = AddressFromBytes(std::string(len, 'x'));
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  }
}

// ------------------------------------------------------------------------------ checked integers

TEST(CheckedTest, AddEdges) {
  EXPECT_EQ(CheckedAdd(1, 2), 3);
  EXPECT_EQ(CheckedAdd(kMax, 0), kMax);
  EXPECT_EQ(CheckedAdd(kMax - 1, 1), kMax);
  EXPECT_FALSE(CheckedAdd(kMax, 1).has_value());
  EXPECT_FALSE(CheckedAdd(kMax, kMax).has_value());
  EXPECT_EQ(CheckedAdd(kMin, kMax), -1);
  EXPECT_FALSE(CheckedAdd(kMin, -1).has_value());
  EXPECT_EQ(CheckedAdd(kMin + 1, -1), kMin);
}

TEST(CheckedTest, SubEdges) {
  EXPECT_EQ(CheckedSub(5, 7), -2);
  EXPECT_EQ(CheckedSub(kMin + 1, 1), kMin);
  EXPECT_FALSE(CheckedSub(kMin, 1).has_value());
  EXPECT_FALSE(CheckedSub(0, kMin).has_value());  // -INT64_MIN does not fit
  EXPECT_FALSE(CheckedSub(kMax, -1).has_value());
  EXPECT_EQ(CheckedSub(-1, kMax), kMin);
}

TEST(CheckedTest, MulEdges) {
  EXPECT_EQ(CheckedMul(3, -4), -12);
  EXPECT_EQ(CheckedMul(kMax, 1), kMax);
  EXPECT_EQ(CheckedMul(kMax, 0), 0);
  EXPECT_FALSE(CheckedMul(kMax, 2).has_value());
  EXPECT_FALSE(CheckedMul(kMin, -1).has_value());
  EXPECT_EQ(CheckedMul(int64_t{1} << 31, int64_t{1} << 31), int64_t{1} << 62);
  EXPECT_FALSE(CheckedMul(int64_t{1} << 32, int64_t{1} << 31).has_value());
  EXPECT_EQ(CheckedMul(-(int64_t{1} << 32), int64_t{1} << 31), kMin);
  EXPECT_EQ(CheckedMul(3037000499, 3037000499), 9223372030926249001);  // floor(sqrt(2^63-1))^2
  EXPECT_FALSE(CheckedMul(3037000500, 3037000500).has_value());
}

TEST(CheckedTest, MulSaturatingClampsBySign) {
  EXPECT_EQ(MulSaturating(3, 4), 12);
  EXPECT_EQ(MulSaturating(3, -4), -12);
  EXPECT_EQ(MulSaturating(0, kMax), 0);
  EXPECT_EQ(MulSaturating(kMin, 0), 0);
  EXPECT_EQ(MulSaturating(kMax, 1), kMax);
  EXPECT_EQ(MulSaturating(kMin, 1), kMin);
  EXPECT_EQ(MulSaturating(3037000499, 3037000499), 9223372030926249001);  // the largest exact square
  EXPECT_EQ(MulSaturating(3037000500, 3037000500), kMax);                 // the next one saturates
  EXPECT_EQ(MulSaturating(kMax, 2), kMax);
  EXPECT_EQ(MulSaturating(kMax, kMax), kMax);
  EXPECT_EQ(MulSaturating(kMin, -1), kMax);  // -INT64_MIN does not fit: positive, so max
  EXPECT_EQ(MulSaturating(kMin, kMin), kMax);
  EXPECT_EQ(MulSaturating(kMax, -2), kMin);
  EXPECT_EQ(MulSaturating(-2, kMax), kMin);
  EXPECT_EQ(MulSaturating(kMin, 2), kMin);
  EXPECT_EQ(MulSaturating(-(int64_t{1} << 32), int64_t{1} << 31), kMin);  // exactly INT64_MIN, no clamp
  EXPECT_EQ(MulSaturating(int64_t{1} << 32, int64_t{1} << 31), kMax);     // 2^63: one past max
}

TEST(CheckedTest, MulDivFloorUses128BitProduct) {
  EXPECT_EQ(MulDivFloor(7, 3, 2), 10);  // 21 / 2 = 10.5 -> 10
  EXPECT_EQ(MulDivFloor(0, kMax, 1), 0);
  EXPECT_EQ(MulDivFloor(kMax, kMax, kMax), kMax);  // product ~2^126
  EXPECT_EQ(MulDivFloor(kMax, 2, 2), kMax);
  EXPECT_EQ(MulDivFloor(int64_t{1} << 62, 8, 16), int64_t{1} << 61);  // product 2^65
  // Price x energy / unit: 1.5e18 Wh at 7e9 micro-units per kWh, product ~1e28.
  EXPECT_EQ(MulDivFloor(1'500'000'000'000'000'000, 7'000'000'000, 1'000'000'000'000'000'000),
            10'500'000'000);
  EXPECT_EQ(MulDivFloor(kMax, kMax - 1, kMax), kMax - 1);
  EXPECT_EQ(MulDivFloor(kMax, 3, 4), 6917529027641081855);  // (2^63-1)*3/4 rounded down
}

TEST(CheckedTest, MulDivFloorRejects) {
  EXPECT_FALSE(MulDivFloor(kMax, 3, 2).has_value());  // result does not fit
  EXPECT_FALSE(MulDivFloor(kMax, kMax, 1).has_value());
  EXPECT_FALSE(MulDivFloor(kMax, kMax, kMax - 1).has_value());  // just past INT64_MAX
  EXPECT_FALSE(MulDivFloor(-1, 1, 1).has_value());
  EXPECT_FALSE(MulDivFloor(1, -1, 1).has_value());
  EXPECT_FALSE(MulDivFloor(1, 1, 0).has_value());
  EXPECT_FALSE(MulDivFloor(1, 1, -1).has_value());
}

// -------------------------------------------------------------------------------------- amounts

TEST(AmountTest, FormatPadsToExactlyDecimals) {
  EXPECT_EQ(FormatAmount(1250, 2), "12.50");
  EXPECT_EQ(FormatAmount(5, 2), "0.05");
  EXPECT_EQ(FormatAmount(0, 2), "0.00");
  EXPECT_EQ(FormatAmount(100, 2), "1.00");
  EXPECT_EQ(FormatAmount(0, 0), "0");
  EXPECT_EQ(FormatAmount(1250, 0), "1250");
  EXPECT_EQ(FormatAmount(1, 18), "0.000000000000000001");
  EXPECT_EQ(FormatAmount(kMax, 0), "9223372036854775807");
  EXPECT_EQ(FormatAmount(kMax, 2), "92233720368547758.07");
  EXPECT_EQ(FormatAmount(kMax, 18), "9.223372036854775807");
}

TEST(AmountTest, FormatNegative) {
  EXPECT_EQ(FormatAmount(-1250, 2), "-12.50");
  EXPECT_EQ(FormatAmount(-5, 2), "-0.05");
  EXPECT_EQ(FormatAmount(-7, 0), "-7");
  EXPECT_EQ(FormatAmount(kMin, 0), "-9223372036854775808");
  EXPECT_EQ(FormatAmount(kMin, 3), "-9223372036854775.808");
}

TEST(AmountTest, ParseValid) {
  EXPECT_EQ(*ParseAmount("12.50", 2), 1250);
  EXPECT_EQ(*ParseAmount("12.5", 2), 1250);
  EXPECT_EQ(*ParseAmount("12", 2), 1200);
  EXPECT_EQ(*ParseAmount("0", 2), 0);
  EXPECT_EQ(*ParseAmount("0.01", 2), 1);
  EXPECT_EQ(*ParseAmount("1250", 0), 1250);
  EXPECT_EQ(*ParseAmount("9223372036854775807", 0), kMax);
  EXPECT_EQ(*ParseAmount("92233720368547758.07", 2), kMax);
  EXPECT_EQ(*ParseAmount("9.223372036854775807", 18), kMax);
}

TEST(AmountTest, FormatParseRoundTrip) {
  for (uint32_t decimals : {0u, 1u, 2u, 6u, 18u}) {
    for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{9}, int64_t{10}, int64_t{1250},
                      int64_t{123456789}, kMax - 1, kMax}) {
      auto r = ParseAmount(FormatAmount(v, decimals), decimals);
      ASSERT_TRUE(r.ok()) << v << " @" << decimals << ": " << r.status().ToString();
      EXPECT_EQ(*r, v);
    }
  }
}

TEST(AmountTest, ParseRejectsMalformed) {
  struct Case {
    const char* text;
    uint32_t decimals;
  };
  for (const Case& c :
       {Case{"", 2}, Case{".5", 2}, Case{"5.", 2}, Case{"-1", 2}, Case{"+1", 2}, Case{"1e5", 2},
        Case{"1E5", 0}, Case{" 1", 2}, Case{"1 ", 2}, Case{"1,5", 2}, Case{"1.2.3", 2},
        Case{"0x10", 2}, Case{".", 2}, Case{"-0", 0}, Case{"1.", 0}}) {
    auto r = ParseAmount(c.text, c.decimals);
    ASSERT_FALSE(r.ok()) << "'" << c.text << "'";
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << "'" << c.text << "'";
  }
}

TEST(AmountTest, ParseRejectsTooManyDecimals) {
  auto r = ParseAmount("12.505", 2);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(r.status().message(), "more than 2 decimal places"));
  EXPECT_FALSE(ParseAmount("1.0", 0).ok());
  EXPECT_FALSE(ParseAmount("12.500", 2).ok());  // even trailing zeros: precision is explicit
}

TEST(AmountTest, ParseRejectsOverflow) {
  struct Case {
    const char* text;
    uint32_t decimals;
  };
  for (const Case& c :
       {Case{"9223372036854775808", 0}, Case{"92233720368547758.08", 2},
        Case{"92233720368547759", 2}, Case{"99999999999999999999999", 0}, Case{"10", 18}}) {
    auto r = ParseAmount(c.text, c.decimals);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), Code::kOverflow) << c.text;
  }
}

// ----------------------------------------------------------------------------------- sign bytes

TEST(SignBytesTest, TxLayoutIsExplicit) {
  std::string sb = TxSignBytes("c1", "BODY");
  std::string want = "v2gledger/tx/v1";
  want += std::string("\0\0\0\0\0\0\0\x02", 8) + "c1";
  want += std::string("\0\0\0\0\0\0\0\x04", 8) + "BODY";
  EXPECT_EQ(sb, want);
  // The length prefix keeps (chain, body) pairs from colliding when a boundary shifts.
  EXPECT_NE(TxSignBytes("ab", "c"), TxSignBytes("a", "bc"));
}

TEST(SignBytesTest, VoteCoversEveryField) {
  const std::string base = VoteSignBytes("c", VoteType::kPrevote, 5, 1, "id", 1000);
  EXPECT_EQ(base.substr(0, 17), "v2gledger/vote/v1");
  EXPECT_NE(base, VoteSignBytes("d", VoteType::kPrevote, 5, 1, "id", 1000));
  EXPECT_NE(base, VoteSignBytes("c", VoteType::kPrecommit, 5, 1, "id", 1000));
  EXPECT_NE(base, VoteSignBytes("c", VoteType::kPrevote, 6, 1, "id", 1000));
  EXPECT_NE(base, VoteSignBytes("c", VoteType::kPrevote, 5, 2, "id", 1000));
  EXPECT_NE(base, VoteSignBytes("c", VoteType::kPrevote, 5, 1, "ie", 1000));
  EXPECT_NE(base, VoteSignBytes("c", VoteType::kPrevote, 5, 1, "", 1000));  // nil vote differs
  EXPECT_NE(base, VoteSignBytes("c", VoteType::kPrevote, 5, 1, "id", 1001));
  // A tx signature can never be a vote signature: the domain tags differ.
  EXPECT_NE(TxSignBytes("c", "x").substr(0, 15), base.substr(0, 15));
  // 17 tag + 8 + 1 chain + 1 type + 8 height + 8 round + 8 + 2 block id + 8 time.
  EXPECT_EQ(base.size(), 17u + 8 + 1 + 1 + 8 + 8 + 8 + 2 + 8);
}

// --------------------------------------------------------------------------------------- status

TEST(StatusTest, CodeNamesAreNonEmptyAndDistinct) {
  const Code all[] = {Code::kOk,
                      Code::kMalformed,
                      Code::kInvalidArgument,
                      Code::kWrongChainId,
                      Code::kBadSignature,
                      Code::kTooLarge,
                      Code::kUnknownDenom,
                      Code::kUnauthorized,
                      Code::kOverflow,
                      Code::kNonceReplayed,
                      Code::kNonceGap,
                      Code::kInsufficientFunds,
                      Code::kMempoolFull,
                      Code::kSenderLimit,
                      Code::kDuplicate,
                      Code::kTimeout,
                      Code::kUnavailable,
                      Code::kNotFound,
                      Code::kAlreadyExists,
                      Code::kInternal,
                      Code::kIo,
                      Code::kCorruption,
                      Code::kFeeTooLow,
                      Code::kPoolFull,
                      Code::kUnauthenticated,
                      Code::kPermissionDenied,
                      Code::kMarketSuspended,
                      Code::kProposalClosed,
                      Code::kProposalsFull};
  std::set<std::string_view> names;
  for (Code c : all) {
    std::string_view n = CodeName(c);
    EXPECT_FALSE(n.empty()) << static_cast<uint32_t>(c);
    EXPECT_NE(n, "unknown") << static_cast<uint32_t>(c);
    EXPECT_TRUE(names.insert(n).second) << "duplicate name " << n;
  }
  EXPECT_EQ(names.size(), std::size(all));
  EXPECT_EQ(CodeName(Code::kWrongChainId), "wrong_chain_id");
  EXPECT_EQ(CodeName(Code::kPoolFull), "pool_full");
  EXPECT_EQ(CodeName(static_cast<Code>(999)), "unknown");  // never empty, even for a bad value
}

TEST(StatusTest, StableNumericCodes) {
  // Stored in tx results and shown by the API: renumbering would change history.
  EXPECT_EQ(static_cast<uint32_t>(Code::kMalformed), 1u);
  EXPECT_EQ(static_cast<uint32_t>(Code::kOverflow), 8u);
  EXPECT_EQ(static_cast<uint32_t>(Code::kNonceReplayed), 20u);
  EXPECT_EQ(static_cast<uint32_t>(Code::kInsufficientFunds), 22u);
  EXPECT_EQ(static_cast<uint32_t>(Code::kFeeTooLow), 23u);
  EXPECT_EQ(static_cast<uint32_t>(Code::kMempoolFull), 40u);
  EXPECT_EQ(static_cast<uint32_t>(Code::kCorruption), 82u);
  EXPECT_EQ(static_cast<uint32_t>(Code::kUnauthenticated), 45u);
  EXPECT_EQ(static_cast<uint32_t>(Code::kPermissionDenied), 46u);
}

TEST(StatusTest, ToStringAndResult) {
  EXPECT_EQ(Status::Ok().ToString(), "ok");
  EXPECT_TRUE(Status::Ok().ok());
  Status st = Error(Code::kNonceGap, "nonce 5 skips ahead");
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.ToString(), "nonce_gap: nonce 5 skips ahead");
  Result<int> good = 4;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 4);
  EXPECT_TRUE(good.status().ok());
  Result<int> bad = Error(Code::kIo, "disk");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kIo);
}

TEST(StatusDeathTest, ResultFromOkStatusIsAProgrammerError) {
  EXPECT_DEATH(
      {
        Result<int> r(Status::Ok());
        (void)r;
      },
      "assertion failed");
}

}  // namespace
}  // namespace v2g
