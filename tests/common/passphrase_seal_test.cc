// common/passphrase_seal.h: the Argon2id + XChaCha20-Poly1305 seal the wallet keystore and the
// node's key files share. It opens only with the passphrase and associated data it was sealed
// with and every byte it was sealed into; a hostile KDF cost is refused before the KDF runs.
#include "common/passphrase_seal.h"

#include <gtest/gtest.h>

#include <string>

#include "common/crypto.h"

namespace v2g {
namespace {

const Bytes kSecret(32, 0x5a);
constexpr char kAd[] = "v2gd node key\ned25519\n00ff";

SealedSecret Seal(std::string_view passphrase = "correct horse") {
  InitCrypto();
  auto s = SealWithPassphrase(kSecret, passphrase, kAd, KdfLimits::Min());
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return *s;
}

Status Open(const SealedSecret& s, std::string_view passphrase, std::string_view ad,
            Bytes* out = nullptr) {
  SecretBytes secret(kSecret.size());
  Status st = OpenWithPassphrase(s, passphrase, ad, secret);
  if (out != nullptr) *out = secret.bytes();
  return st;
}

TEST(PassphraseSealTest, OpensWithItsPassphraseAndAssociatedData) {
  const SealedSecret s = Seal();
  ASSERT_TRUE(ValidateSealed(s, kSecret.size()).ok());
  EXPECT_EQ(s.ciphertext.size(), kSecret.size() + kSealTagBytes);
  EXPECT_EQ(s.opslimit, KdfLimits::Min().opslimit);
  Bytes out;
  ASSERT_TRUE(Open(s, "correct horse", kAd, &out).ok());
  EXPECT_EQ(out, kSecret);
  // Fresh salt and nonce each time: the same secret never seals to the same bytes.
  const SealedSecret again = Seal();
  EXPECT_NE(again.salt, s.salt);
  EXPECT_NE(again.nonce, s.nonce);
  EXPECT_NE(again.ciphertext, s.ciphertext);
}

TEST(PassphraseSealTest, AWrongPassphraseIsUnauthorizedAndLeavesNoPlaintext) {
  const SealedSecret s = Seal();
  Bytes out;
  Status st = Open(s, "correct horsE", kAd, &out);
  EXPECT_EQ(st.code(), Code::kUnauthorized);
  EXPECT_EQ(st.message(), "wrong passphrase");
  EXPECT_EQ(out, Bytes(kSecret.size(), 0));
  EXPECT_EQ(Open(s, "", kAd).code(), Code::kUnauthorized);
}

TEST(PassphraseSealTest, EveryFlippedBitOfCiphertextSaltNonceOrAssociatedDataFails) {
  const SealedSecret s = Seal();
  for (Bytes SealedSecret::*field :
       {&SealedSecret::ciphertext, &SealedSecret::salt, &SealedSecret::nonce}) {
    for (size_t i = 0; i < (s.*field).size(); ++i) {
      for (uint8_t bit : {uint8_t{0x01}, uint8_t{0x80}}) {
        SealedSecret bad = s;
        (bad.*field)[i] ^= bit;
        EXPECT_EQ(Open(bad, "correct horse", kAd).code(), Code::kUnauthorized) << i;
      }
    }
  }
  const std::string ad = kAd;
  for (size_t i = 0; i < ad.size(); ++i) {
    std::string bad = ad;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    EXPECT_EQ(Open(s, "correct horse", bad).code(), Code::kUnauthorized) << i;
  }
  EXPECT_EQ(Open(s, "correct horse", ad + "x").code(), Code::kUnauthorized);
  EXPECT_EQ(Open(s, "correct horse", ad.substr(0, ad.size() - 1)).code(), Code::kUnauthorized);
}

// A sealed secret is input: its KDF cost and lengths are checked before anything runs.
TEST(PassphraseSealTest, HostileParametersAreRefusedBeforeTheKdf) {
  const SealedSecret s = Seal();
  auto expect_refused = [&](SealedSecret bad, const std::string& why) {
    Status st = ValidateSealed(bad, kSecret.size());
    EXPECT_EQ(st.code(), Code::kCorruption) << why;
    EXPECT_NE(st.message().find(why), std::string::npos) << st.message();
  };
  SealedSecret bad = s;
  bad.memlimit = size_t{1} << 40;  // 1 TiB
  expect_refused(bad, "kdf.memlimit 1099511627776 is out of range");
  bad = s;
  bad.opslimit = 1'000'000;
  expect_refused(bad, "kdf.opslimit 1000000 is out of range");
  bad = s;
  bad.opslimit = 0;
  expect_refused(bad, "kdf.opslimit 0 is out of range");
  bad = s;
  bad.salt.pop_back();
  expect_refused(bad, "kdf.salt");
  bad = s;
  bad.nonce.push_back(0);
  expect_refused(bad, "cipher.nonce");
  bad = s;
  bad.ciphertext.pop_back();
  expect_refused(bad, "ciphertext has the wrong length");
  EXPECT_FALSE(ValidateSealed(s, kSecret.size() + 1).ok());
}

TEST(PassphraseSealTest, AnEmptyPassphraseIsRefused) {
  InitCrypto();
  auto s = SealWithPassphrase(kSecret, "", kAd, KdfLimits::Min());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace v2g
