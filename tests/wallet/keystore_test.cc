#include "wallet/keystore.h"

#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/bech32.h"
#include "common/bytes.h"
#include "tests/wallet/test_util.h"

namespace v2g {
namespace {

using nlohmann::json;
using test::ReadAll;
using test::TempDir;
using test::WriteAll;

constexpr char kSeedHex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

class KeystoreTest : public ::testing::Test {
 protected:
  void SetUp() override { InitCrypto(); }
  std::string Home() const { return home_.path() + "/wallet"; }
  Keystore Store() const { return Keystore(Home(), KdfLimits::Min()); }

  // Rewrites one field of alice's key file (the file stays 0600).
  void EditKeyFile(const std::string& name, const std::function<void(json&)>& edit) {
    std::string path = Store().PathOf(name);
    json doc = json::parse(ReadAll(path));
    edit(doc);
    WriteAll(path, doc.dump(2));
  }

  TempDir home_;
};

TEST_F(KeystoreTest, AddListShowLoadDeleteRoundTrip) {
  Keystore ks = Store();
  auto added = ks.Add("alice", "correct horse");
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(added->name, "alice");
  EXPECT_TRUE(added->address.starts_with("v2g1"));
  EXPECT_EQ(added->path, Home() + "/keys/alice.json");

  auto list = ks.List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].address, added->address);

  auto shown = ks.Show("alice");
  ASSERT_TRUE(shown.ok());
  EXPECT_EQ(shown->pubkey_hex, added->pubkey_hex);

  auto key = ks.Load("alice", "correct horse");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(HexEncode(ByteView(key->public_key().data(), 32)), added->pubkey_hex);
  EXPECT_EQ(EncodeAddress(AddressFromPublicKey(key->public_key())), added->address);
  // The loaded key signs for the stored public key.
  Signature sig = key->Sign(AsBytes("hello"));
  EXPECT_TRUE(Verify(key->public_key(), AsBytes("hello"), sig));

  ASSERT_TRUE(ks.Delete("alice").ok());
  EXPECT_EQ(ks.Show("alice").status().code(), Code::kNotFound);
  EXPECT_EQ(ks.Load("alice", "correct horse").status().code(), Code::kNotFound);
  EXPECT_TRUE(ks.List()->empty());
  EXPECT_EQ(ks.Delete("alice").code(), Code::kNotFound);
}

TEST_F(KeystoreTest, ImportGivesTheSameKeyAsTheSeed) {
  Keystore ks = Store();
  auto imported = ks.Import("bob", std::string(" ") + kSeedHex + "\n", "pw");
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  Bytes seed = *HexDecode(kSeedHex);
  KeyPair expected = KeyPair::FromSeed(seed);
  EXPECT_EQ(imported->address, EncodeAddress(AddressFromPublicKey(expected.public_key())));
  auto loaded = ks.Load("bob", "pw");
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->Seed(), seed);
}

TEST_F(KeystoreTest, ImportRejectsBadSeeds) {
  Keystore ks = Store();
  EXPECT_EQ(ks.Import("bob", "abcd", "pw").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ks.Import("bob", std::string(64, 'z'), "pw").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ks.Import("bob", std::string(kSeedHex) + "00", "pw").status().code(),
            Code::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(Home() + "/keys/bob.json"));
}

TEST_F(KeystoreTest, WrongPassphraseIsUnauthorizedAndLeavesTheFileAlone) {
  Keystore ks = Store();
  ASSERT_TRUE(ks.Add("alice", "right").ok());
  const std::string path = ks.PathOf("alice");
  const std::string before = ReadAll(path);
  struct stat st_before {};
  ASSERT_EQ(::stat(path.c_str(), &st_before), 0);

  auto key = ks.Load("alice", "wrong");
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), Code::kUnauthorized);
  EXPECT_EQ(key.status().message(), "wrong passphrase for key 'alice'");
  EXPECT_EQ(ks.Load("alice", "").status().code(), Code::kUnauthorized);

  struct stat st_after {};
  ASSERT_EQ(::stat(path.c_str(), &st_after), 0);
  EXPECT_EQ(ReadAll(path), before);
  EXPECT_EQ(st_after.st_mtim.tv_sec, st_before.st_mtim.tv_sec);
  EXPECT_EQ(st_after.st_mtim.tv_nsec, st_before.st_mtim.tv_nsec);
  EXPECT_TRUE(ks.Load("alice", "right").ok());
}

TEST_F(KeystoreTest, TamperedCiphertextDoesNotDecrypt) {
  Keystore ks = Store();
  ASSERT_TRUE(ks.Add("alice", "pw").ok());
  EditKeyFile("alice", [](json& d) {
    std::string c = d["ciphertext"];
    c[0] = c[0] == '0' ? '1' : '0';
    d["ciphertext"] = c;
  });
  auto key = ks.Load("alice", "pw");
  ASSERT_FALSE(key.ok());
  // Indistinguishable from a wrong passphrase: the AEAD tag fails either way.
  EXPECT_EQ(key.status().code(), Code::kUnauthorized);
}

TEST_F(KeystoreTest, TamperedNonceOrSaltDoesNotDecrypt) {
  Keystore ks = Store();
  ASSERT_TRUE(ks.Add("alice", "pw").ok());
  ASSERT_TRUE(ks.Add("bob", "pw").ok());
  EditKeyFile("alice", [](json& d) { d["cipher"]["nonce"] = std::string(48, 'a'); });
  EditKeyFile("bob", [](json& d) { d["kdf"]["salt"] = std::string(32, 'b'); });
  EXPECT_FALSE(ks.Load("alice", "pw").ok());
  EXPECT_FALSE(ks.Load("bob", "pw").ok());
}

TEST_F(KeystoreTest, TamperedPublicFieldsAreCorruptionNamingTheFile) {
  Keystore ks = Store();
  ASSERT_TRUE(ks.Add("alice", "pw").ok());
  auto other = ks.Add("other", "pw");
  ASSERT_TRUE(other.ok());
  const std::string original = ReadAll(ks.PathOf("alice"));
  const std::string path = ks.PathOf("alice");

  auto expect_corrupt = [&](const std::function<void(json&)>& edit, const std::string& needle) {
    WriteAll(path, original);
    EditKeyFile("alice", edit);
    for (const Status& st : {ks.Load("alice", "pw").status(), ks.Show("alice").status()}) {
      EXPECT_EQ(st.code(), Code::kCorruption) << st.ToString();
      EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
      EXPECT_NE(st.message().find(needle), std::string::npos) << st.message();
    }
  };
  expect_corrupt([&](json& d) { d["address"] = other->address; }, "address does not match");
  expect_corrupt([&](json& d) { d["pubkey"] = other->pubkey_hex; }, "address does not match");
  expect_corrupt([](json& d) { d["pubkey"] = "zz"; }, "pubkey");
  expect_corrupt([](json& d) { d.erase("ciphertext"); }, "'ciphertext' is missing");
  expect_corrupt([](json& d) { d["ciphertext"] = "00"; }, "ciphertext");
  expect_corrupt([](json& d) { d["name"] = "mallory"; }, "expected 'alice'");
  expect_corrupt([](json& d) { d["version"] = 2; }, "version 2");
  expect_corrupt([](json& d) { d["kdf"]["name"] = "scrypt"; }, "kdf.name");
  expect_corrupt([](json& d) { d["cipher"]["name"] = "aes"; }, "cipher.name");
  // A hostile file must not make the wallet allocate without bound.
  expect_corrupt([](json& d) { d["kdf"]["memlimit"] = uint64_t{1} << 40; }, "memlimit");
  expect_corrupt([](json& d) { d["kdf"]["opslimit"] = 1000000; }, "opslimit");

  WriteAll(path, "not json at all");
  EXPECT_EQ(ks.Load("alice", "pw").status().code(), Code::kCorruption);
  EXPECT_NE(ks.Load("alice", "pw").status().message().find(path), std::string::npos);
  // One bad file fails the listing with its name rather than hiding it.
  auto list = ks.List();
  EXPECT_EQ(list.status().code(), Code::kCorruption);
}

TEST_F(KeystoreTest, RenamedFileIsRejected) {
  Keystore ks = Store();
  ASSERT_TRUE(ks.Add("alice", "pw").ok());
  std::filesystem::copy_file(ks.PathOf("alice"), Home() + "/keys/bob.json");
  auto key = ks.Load("bob", "pw");
  EXPECT_EQ(key.status().code(), Code::kCorruption);
}

TEST_F(KeystoreTest, DuplicateNameIsAlreadyExistsAndKeepsTheOriginal) {
  Keystore ks = Store();
  auto first = ks.Add("alice", "pw");
  ASSERT_TRUE(first.ok());
  const std::string before = ReadAll(ks.PathOf("alice"));
  auto again = ks.Add("alice", "pw2");
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists);
  EXPECT_NE(again.status().message().find("alice"), std::string::npos);
  EXPECT_EQ(ks.Import("alice", kSeedHex, "pw").status().code(), Code::kAlreadyExists);
  EXPECT_EQ(ReadAll(ks.PathOf("alice")), before);
  EXPECT_TRUE(ks.Load("alice", "pw").ok());
}

TEST_F(KeystoreTest, KeyNames) {
  Keystore ks = Store();
  for (const std::string& bad :
       {std::string(), std::string(65, 'a'), std::string("a/b"), std::string("../x"),
        std::string("a b"), std::string("é"), std::string("a\nb"), std::string("x:y")}) {
    EXPECT_EQ(ValidateKeyName(bad).code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(ks.Add(bad, "pw").status().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(ks.Show(bad).status().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(ks.Load(bad, "pw").status().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(ks.Delete(bad).code(), Code::kInvalidArgument) << bad;
  }
  for (const std::string& good : {std::string("a"), std::string(64, 'z'), std::string("Op-1_x.y"),
                                  std::string("-dash"), std::string("..")}) {
    EXPECT_TRUE(ks.Add(good, "pw").ok()) << good;
  }
  auto list = ks.List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(list->size(), 5u);
  EXPECT_FALSE(std::filesystem::exists(home_.path() + "/x"));
}

TEST_F(KeystoreTest, EmptyPassphraseIsRejected) {
  Keystore ks = Store();
  EXPECT_EQ(ks.Add("alice", "").status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(Home() + "/keys/alice.json"));
}

TEST_F(KeystoreTest, FilesAreOwnerOnlyAndNoTempFilesRemain) {
  Keystore ks = Store();
  ASSERT_TRUE(ks.Add("alice", "pw").ok());
  ASSERT_TRUE(ks.Import("bob", kSeedHex, "pw").ok());
  struct stat st {};
  for (const std::string name : {"alice", "bob"}) {
    ASSERT_EQ(::stat(ks.PathOf(name).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << name;
  }
  ASSERT_EQ(::stat(ks.dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(ks.dir())) {
    EXPECT_EQ(e.path().extension(), ".json") << e.path();
    ++files;
  }
  EXPECT_EQ(files, 2);
}

TEST_F(KeystoreTest, FileFormatIsAsDocumented) {
  Keystore ks = Store();
  auto info = ks.Add("alice", "pw");
  ASSERT_TRUE(info.ok());
  json doc = json::parse(ReadAll(info->path));
  EXPECT_EQ(doc["version"], 1);
  EXPECT_EQ(doc["name"], "alice");
  EXPECT_EQ(doc["address"], info->address);
  EXPECT_EQ(doc["pubkey"], info->pubkey_hex);
  EXPECT_EQ(doc["kdf"]["name"], "argon2id13");
  EXPECT_EQ(doc["kdf"]["salt"].get<std::string>().size(), 32u);
  EXPECT_EQ(doc["kdf"]["opslimit"], KdfLimits::Min().opslimit);
  EXPECT_EQ(doc["kdf"]["memlimit"], KdfLimits::Min().memlimit);
  EXPECT_EQ(doc["cipher"]["name"], "xchacha20poly1305-ietf");
  EXPECT_EQ(doc["cipher"]["nonce"].get<std::string>().size(), 48u);
  EXPECT_EQ(doc["ciphertext"].get<std::string>().size(), 96u);  // 32-byte seed + 16-byte tag
}

TEST_F(KeystoreTest, DefaultLimitsAreInteractiveAndRoundTrip) {
  Keystore ks(Home());
  auto info = ks.Add("alice", "pw");
  ASSERT_TRUE(info.ok());
  json doc = json::parse(ReadAll(info->path));
  EXPECT_EQ(doc["kdf"]["opslimit"], KdfLimits::Interactive().opslimit);
  EXPECT_EQ(doc["kdf"]["memlimit"], KdfLimits::Interactive().memlimit);
  // Another keystore object with different creation limits still reads it (limits come from the
  // file).
  EXPECT_TRUE(Store().Load("alice", "pw").ok());
}

TEST_F(KeystoreTest, ListIgnoresOtherFilesAndMissingDirectory) {
  Keystore ks = Store();
  auto empty = ks.List();
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  ASSERT_TRUE(ks.Add("b", "pw").ok());
  ASSERT_TRUE(ks.Add("a", "pw").ok());
  WriteAll(ks.dir() + "/notes.txt", "hello");
  WriteAll(ks.dir() + "/c.json.tmp-0011223344556677", "partial");
  WriteAll(ks.dir() + "/bad name.json", "{}");
  auto list = ks.List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "a");
  EXPECT_EQ((*list)[1].name, "b");
}

}  // namespace
}  // namespace v2g
