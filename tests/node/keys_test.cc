// Node key files at rest (node/keys.h): plain and encrypted forms round-trip; an encrypted file
// opens only with its passphrase and every byte it was written with; a key file (or passphrase
// file) its group or others may read or write is refused with its mode and the fix; and a real
// node starts from encrypted keys with a passphrase file, and does not start with a wrong
// passphrase, none, or a world-readable key file.
#include "node/keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "common/fsutil.h"
#include "node/config.h"
#include "node/node.h"
#include "tests/node/captured_log.h"
#include "tests/node/node_test_util.h"
#include "tests/node/real_node.h"

namespace v2g::nodetest {
namespace {

using nlohmann::json;

constexpr char kPassphrase[] = "bus depot 7 night shift";

unsigned ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

void Chmod(const std::string& path, unsigned mode) {
  ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
}

json ReadJson(const std::string& path) {
  auto text = ReadFile(path);
  EXPECT_TRUE(text.ok()) << path;
  return json::parse(text.ok() ? *text : "{}");
}

void WriteText(const std::string& path, const std::string& text, unsigned mode = 0600) {
  ASSERT_TRUE(WriteFileAtomic(path, text, mode).ok()) << path;
}

// Sets an environment variable for the life of the object, as it was before afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::string SeedHex(const KeyPair& key) {
  Bytes seed = key.Seed();
  std::string hex = HexEncode(seed);
  SecureWipe(seed.data(), seed.size());
  return hex;
}

KeyPassphrase Given(std::string passphrase) {
  return KeyPassphrase("the test's passphrase",
                       [p = std::move(passphrase)]() -> Result<std::string> { return p; });
}

class NodeKeysTest : public ::testing::Test {
 protected:
  void SetUp() override { InitCrypto(); }
  std::string Path(const std::string& name = "validator_key.json") const {
    return dir_.path() + "/" + name;
  }
  // An encrypted key file of Key(7) under kPassphrase, with the cheapest KDF (the file records
  // its cost, so loading needs nothing else).
  std::string WriteEncrypted(const std::string& name = "validator_key.json") {
    const std::string path = Path(name);
    Status st = SaveNodeKeyEncrypted(path, key_, kPassphrase, KdfLimits::Min());
    EXPECT_TRUE(st.ok()) << st.ToString();
    return path;
  }
  Result<KeyPair> LoadWith(const std::string& path, const std::string& passphrase) {
    KeyPassphrase p = Given(passphrase);
    return LoadNodeKey(path, p);
  }

  TempDir dir_;
  KeyPair key_ = Key(7);
};

TEST_F(NodeKeysTest, PlainFilesRoundTrip) {
  const std::string path = Path();
  ASSERT_TRUE(SaveNodeKey(path, key_).ok());
  EXPECT_EQ(ModeOf(path), 0600u);
  auto info = InspectNodeKey(path);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_FALSE(info->encrypted);
  EXPECT_EQ(info->type, "ed25519");
  EXPECT_EQ(info->public_key, key_.public_key());
  EXPECT_EQ(info->mode, 0600u);
  bool encrypted = true;
  KeyPassphrase never = KeyPassphrase("nothing", []() -> Result<std::string> {
    ADD_FAILURE() << "a plain key file asked for a passphrase";
    return Error(Code::kInternal, "asked");
  });
  auto loaded = LoadNodeKey(path, never, &encrypted);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_FALSE(encrypted);
  EXPECT_EQ(loaded->public_key(), key_.public_key());
  EXPECT_EQ(SeedHex(*loaded), SeedHex(key_));
}

TEST_F(NodeKeysTest, EncryptedFilesRoundTripAndHoldNoSeed) {
  const std::string path = WriteEncrypted();
  EXPECT_EQ(ModeOf(path), 0600u);
  const json doc = ReadJson(path);
  EXPECT_EQ(doc["type"], "ed25519");
  EXPECT_EQ(doc["public_key"], HexEncode(key_.public_key()));
  EXPECT_EQ(doc["kdf"]["name"], "argon2id13");
  EXPECT_EQ(doc["cipher"]["name"], "xchacha20poly1305-ietf");
  EXPECT_FALSE(doc.contains("seed"));
  EXPECT_EQ(ReadFile(path)->find(SeedHex(key_)), std::string::npos);

  auto info = InspectNodeKey(path);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_TRUE(info->encrypted);
  EXPECT_EQ(info->public_key, key_.public_key());

  KeyPassphrase p = Given(kPassphrase);
  bool encrypted = false;
  auto loaded = LoadNodeKey(path, p, &encrypted);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(encrypted);
  EXPECT_EQ(SeedHex(*loaded), SeedHex(key_));

  // Back to plain and encrypted again (what `v2gd keys decrypt` and `encrypt` do).
  ASSERT_TRUE(SaveNodeKey(path, *loaded).ok());
  EXPECT_FALSE(InspectNodeKey(path)->encrypted);
  ASSERT_TRUE(SaveNodeKeyEncrypted(path, *LoadNodeKey(path), "another", KdfLimits::Min()).ok());
  EXPECT_EQ(SeedHex(*LoadWith(path, "another")), SeedHex(key_));
}

TEST_F(NodeKeysTest, AWrongPassphraseOrNoneNamesTheFile) {
  const std::string path = WriteEncrypted();
  auto wrong = LoadWith(path, "bus depot 7 night shifT");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), Code::kUnauthorized);
  EXPECT_EQ(wrong.status().message(),
            "key file " + path +
                ": wrong passphrase (from the test's passphrase), or the file was altered");

  auto none = LoadNodeKey(path);
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(
      Contains(none.status().message(), "key file " + path + " is encrypted: no passphrase"));

  KeyPassphrase daemon = NodeKeyPassphrase(dir_.path(), "");
  ScopedEnv env(kKeyPassphraseEnv, nullptr);
  auto unattended = LoadNodeKey(path, daemon);
  ASSERT_FALSE(unattended.ok());
  EXPECT_TRUE(Contains(unattended.status().message(),
                       "key file " + path +
                           " is encrypted: no passphrase was given: set [keys] "
                           "passphrase_file in " +
                           dir_.path() + "/config.toml"));
  EXPECT_TRUE(Contains(unattended.status().message(), "V2GD_KEY_PASSPHRASE"));
}

// Every byte the tag covers: the sealed seed, the salt, the nonce, and the public key bound as
// associated data. A changed byte never loads a key, and never crashes.
TEST_F(NodeKeysTest, AnyFlippedByteOfTheCiphertextOrAssociatedDataFails) {
  const std::string path = WriteEncrypted();
  const json good = ReadJson(path);
  struct Field {
    std::vector<std::string> at;
  };
  for (const Field& f : {Field{{"ciphertext"}}, Field{{"kdf", "salt"}}, Field{{"cipher", "nonce"}},
                         Field{{"public_key"}}}) {
    const json* v = &good;
    for (const auto& k : f.at) v = &(*v)[k];
    const Bytes bytes = *HexDecode(v->get<std::string>());
    for (size_t i = 0; i < bytes.size(); ++i) {
      Bytes flipped = bytes;
      flipped[i] ^= 0x20;
      json bad = good;
      json* w = &bad;
      for (const auto& k : f.at) w = &(*w)[k];
      *w = HexEncode(flipped);
      WriteText(path, bad.dump());
      auto loaded = LoadWith(path, kPassphrase);
      ASSERT_FALSE(loaded.ok()) << f.at.back() << " byte " << i;
      EXPECT_EQ(loaded.status().code(), Code::kUnauthorized) << loaded.status().ToString();
      EXPECT_TRUE(Contains(loaded.status().message(), "key file " + path + ": wrong passphrase"));
    }
  }
  // The key type is bound too; a file that names another type is not read at all.
  json bad = good;
  bad["type"] = "ed25518";
  WriteText(path, bad.dump());
  auto loaded = LoadWith(path, kPassphrase);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Code::kCorruption);
  EXPECT_TRUE(Contains(loaded.status().message(), "key file " + path + ": field 'type'"));
  // And the untouched file still loads.
  WriteText(path, good.dump());
  EXPECT_TRUE(LoadWith(path, kPassphrase).ok());
}

TEST_F(NodeKeysTest, GroupOrWorldReadableOrWritableFilesAreRefusedWithTheModeAndTheFix) {
  const std::string plain = Path("node_key.json");
  ASSERT_TRUE(SaveNodeKey(plain, key_).ok());
  const std::string encrypted = WriteEncrypted();
  for (const std::string& path : {plain, encrypted}) {
    for (unsigned mode : {0644u, 0660u, 0640u, 0604u, 0602u, 0620u, 0666u}) {
      Chmod(path, mode);
      auto loaded = LoadWith(path, kPassphrase);
      ASSERT_FALSE(loaded.ok()) << path << " " << std::oct << mode;
      EXPECT_EQ(loaded.status().code(), Code::kPermissionDenied);
      char mode_text[8];
      std::snprintf(mode_text, sizeof mode_text, "%04o", mode);
      EXPECT_EQ(loaded.status().message(),
                "key file " + path + " has mode " + mode_text +
                    ": group or others may read or write it, and it holds a secret key; refusing "
                    "to use it (fix: chmod 600 " +
                    path + ")");
    }
    // The owner's own bits are the owner's business; what show reports is the file's mode.
    for (unsigned mode : {0600u, 0400u, 0700u}) {
      Chmod(path, mode);
      EXPECT_TRUE(LoadWith(path, kPassphrase).ok()) << path << " " << std::oct << mode;
      EXPECT_EQ(InspectNodeKey(path)->mode, mode);
    }
  }
  // Inspecting (v2gd keys show) does not refuse: it reports the mode.
  Chmod(plain, 0644);
  auto info = InspectNodeKey(plain);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->mode, 0644u);
}

TEST_F(NodeKeysTest, MalformedFilesAreRefusedByNameWithoutCrashing) {
  const std::string path = Path();
  const json enc = [&] {
    WriteEncrypted();
    return ReadJson(path);
  }();
  const std::string seed = SeedHex(key_);
  const std::string pk = HexEncode(key_.public_key());
  auto with = [&](const std::function<void(json&)>& change) {
    json j = enc;
    change(j);
    return j.dump();
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not a JSON object"},
      {"[1, 2]", "not a JSON object"},
      {"{\"type\": \"ed25519\"", "not a JSON object"},
      {"{\"type\": \"ed25519\"}", "field 'seed' is missing"},
      {"{\"type\": \"rsa\", \"seed\": \"" + seed + "\"}", "field 'type' must be \"ed25519\""},
      {"{\"type\": \"ed25519\", \"seed\": \"" + seed.substr(2) + "\"}",
       "field 'seed' must be 32 bytes of hex"},
      {"{\"type\": \"ed25519\", \"seed\": 7}", "field 'seed' must be a string"},
      {"{\"type\": \"ed25519\", \"seed\": \"" + seed + "\", \"public_key\": \"" +
           std::string(64, '0') + "\"}",
       "public_key does not match the seed"},
      {with([&](json& j) { j["seed"] = seed; }), "a key file is plain or encrypted"},
      {with([](json& j) { j["kdf"]["memlimit"] = uint64_t{1} << 40; }),
       "kdf.memlimit 1099511627776 is out of range"},
      {with([](json& j) { j["kdf"]["opslimit"] = -1; }),
       "field 'kdf.opslimit' must be a non-negative integer"},
      {with([](json& j) { j["kdf"]["opslimit"] = 1'000'000; }),
       "kdf.opslimit 1000000 is out of range"},
      {with([](json& j) { j["kdf"]["name"] = "scrypt"; }),
       "field 'kdf.name' is 'scrypt', expected 'argon2id13'"},
      {with([](json& j) { j["cipher"]["name"] = "aes"; }), "field 'cipher.name' is 'aes'"},
      {with([](json& j) { j["cipher"] = "x"; }), "field 'cipher' must be an object"},
      {with([](json& j) { j.erase("public_key"); }), "field 'public_key' is missing"},
      {with([](json& j) { j["ciphertext"] = "zz"; }), "field 'ciphertext' must be 48 bytes of hex"},
      {with([](json& j) { j["kdf"]["salt"] = "00"; }), "field 'kdf.salt' must be 16 bytes of hex"},
      {std::string(kNodeKeyFileBytesMax + 1, ' '), "bytes, more than a key file holds"},
  };
  for (const auto& [text, why] : cases) {
    WriteText(path, text);
    auto loaded = LoadWith(path, kPassphrase);
    ASSERT_FALSE(loaded.ok()) << text;
    EXPECT_EQ(loaded.status().code(), Code::kCorruption) << loaded.status().ToString();
    EXPECT_TRUE(Contains(loaded.status().message(), path)) << text;
    EXPECT_TRUE(Contains(loaded.status().message(), why)) << text;
    EXPECT_FALSE(InspectNodeKey(path).ok()) << text;
  }
  std::filesystem::remove(path);
  auto missing = LoadWith(path, kPassphrase);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_EQ(missing.status().message(), "no key file at " + path);
  std::filesystem::create_directory(path);
  EXPECT_TRUE(Contains(LoadWith(path, kPassphrase).status().message(), "is not a regular file"));
}

TEST_F(NodeKeysTest, PassphraseFilesGiveTheirFirstLineAndAreCheckedLikeKeyFiles) {
  const std::string path = Path("passphrase");
  WriteText(path, std::string(kPassphrase) + "\r\nthe second line is not read\n");
  auto read = ReadPassphraseFile(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, kPassphrase);
  WriteText(path, "no newline");
  EXPECT_EQ(*ReadPassphraseFile(path), "no newline");

  for (const std::string& empty : {std::string(""), std::string("\n"), std::string("\r\nx")}) {
    WriteText(path, empty);
    EXPECT_EQ(ReadPassphraseFile(path).status().message(), "passphrase file " + path + " is empty");
  }
  WriteText(path, std::string(kPassphraseBytesMax + 1, 'x') + "\n");
  EXPECT_TRUE(Contains(ReadPassphraseFile(path).status().message(), "longer than 1024 bytes"));
  WriteText(path, std::string(kPassphraseFileBytesMax + 1, 'x'));
  EXPECT_TRUE(Contains(ReadPassphraseFile(path).status().message(), "more than a passphrase file"));

  WriteText(path, "secret\n", 0640);
  auto loose = ReadPassphraseFile(path);
  ASSERT_FALSE(loose.ok());
  EXPECT_EQ(loose.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(loose.status().message(), "passphrase file " + path +
                                          " has mode 0640: group or others may read or write it; "
                                          "refusing to use it (fix: chmod 600 " +
                                          path + ")");
  std::filesystem::remove(path);
  EXPECT_EQ(ReadPassphraseFile(path).status().message(), "no passphrase file at " + path);
}

TEST_F(NodeKeysTest, TheDaemonReadsTheEnvironmentElseTheConfiguredFileRelativeToItsHome) {
  WriteText(Path("pass"), "from the file\n");
  {
    ScopedEnv env(kKeyPassphraseEnv, nullptr);
    KeyPassphrase relative = NodeKeyPassphrase(dir_.path(), "pass");
    EXPECT_EQ(relative.origin(), "passphrase file " + dir_.path() + "/pass");
    EXPECT_EQ(*relative.Get(), "from the file");
    KeyPassphrase absolute = NodeKeyPassphrase("/nonexistent", Path("pass"));
    EXPECT_EQ(*absolute.Get(), "from the file");
    KeyPassphrase missing = NodeKeyPassphrase(dir_.path(), "nope");
    EXPECT_EQ(missing.Get().status().message(), "no passphrase file at " + dir_.path() + "/nope");
  }
  {
    ScopedEnv env(kKeyPassphraseEnv, "from the environment");
    KeyPassphrase p = NodeKeyPassphrase(dir_.path(), "pass");
    EXPECT_EQ(p.origin(), "$V2GD_KEY_PASSPHRASE");
    EXPECT_EQ(*p.Get(), "from the environment");
  }
  {
    ScopedEnv env(kKeyPassphraseEnv, "");
    KeyPassphrase p = NodeKeyPassphrase(dir_.path(), "");
    EXPECT_EQ(p.Get().status().message(), "$V2GD_KEY_PASSPHRASE is empty");
  }
}

// ---------------------------------------------------------------- a real node

class NodeKeysStartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitOptions o;
    o.home = home_;
    o.chain_id = "v2g-keys-test";
    o.genesis_time_ms = kGenesisTimeMs;
    o.fee_min = 0;
    o.keys.passphrase = kPassphrase;
    o.keys.kdf = KdfLimits::Min();
    o.keys.passphrase_file = "key-passphrase";  // relative to the home
    Status st = InitHome(o);
    ASSERT_TRUE(st.ok()) << st.ToString();
    WriteText(home_ + "/key-passphrase", std::string(kPassphrase) + "\n");
  }
  Status OpenError() {
    auto node = Node::Open(home_);
    return node.ok() ? Status::Ok() : node.status();
  }
  void SetPassphraseFile(const std::string& file) {
    auto c = LoadConfig(paths_.config());
    ASSERT_TRUE(c.ok());
    c->keys_passphrase_file = file;
    ASSERT_TRUE(WriteFileAtomic(paths_.config(), ConfigToToml(*c)).ok());
  }

  ScopedEnv no_env_{kKeyPassphraseEnv, nullptr};
  TempDir dir_;
  std::string home_ = dir_.path() + "/node0";
  HomePaths paths_{home_};
};

TEST_F(NodeKeysStartTest, ANodeStartsFromEncryptedKeysWithAPassphraseFileAndSigns) {
  ASSERT_TRUE(InspectNodeKey(paths_.validator_key())->encrypted);
  ASSERT_TRUE(InspectNodeKey(paths_.node_key())->encrypted);
  EXPECT_EQ(LoadConfig(paths_.config())->keys_passphrase_file, "key-passphrase");
  CapturedLog captured;
  auto started = StartRealNode(home_);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::unique_ptr<Node> node = std::move(*started);
  // One validator: a committed block is one its decrypted key signed.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (node->chain().Tip().height < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(node->chain().Tip().height, 2);
  node->Stop();
  node.reset();
  const std::string log = captured.text();
  EXPECT_FALSE(Contains(log, "not encrypted")) << log;
  EXPECT_FALSE(Contains(log, kPassphrase)) << log;
  KeyPassphrase p = Given(kPassphrase);
  EXPECT_FALSE(Contains(log, SeedHex(*LoadNodeKey(paths_.validator_key(), p)))) << log;
}

TEST_F(NodeKeysStartTest, AWrongPassphraseStopsTheNodeNamingTheKeyFile) {
  WriteText(home_ + "/key-passphrase", "bus depot 8 night shift\n");
  Status st = OpenError();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kUnauthorized);
  EXPECT_EQ(st.message(), "key file " + paths_.validator_key() +
                              ": wrong passphrase (from passphrase file " + home_ +
                              "/key-passphrase), or the file was altered");
  // The environment variable, when set, is the passphrase (a wrong one too).
  WriteText(home_ + "/key-passphrase", std::string(kPassphrase) + "\n");
  {
    ScopedEnv env(kKeyPassphraseEnv, "not it");
    Status from_env = OpenError();
    EXPECT_TRUE(Contains(from_env.message(), "wrong passphrase (from $V2GD_KEY_PASSPHRASE)"));
  }
  {
    ScopedEnv env(kKeyPassphraseEnv, kPassphrase);
    SetPassphraseFile("");
    EXPECT_TRUE(OpenError().ok()) << OpenError().ToString();
  }
}

TEST_F(NodeKeysStartTest, NoPassphraseStopsTheNodeSayingHowToGiveOne) {
  SetPassphraseFile("");
  Status st = OpenError();
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), "key file " + paths_.validator_key() +
                                         " is encrypted: no passphrase was given: set [keys] "
                                         "passphrase_file in " +
                                         paths_.config()));
  SetPassphraseFile("missing-file");
  EXPECT_TRUE(Contains(OpenError().message(), "key file " + paths_.validator_key() +
                                                  " is encrypted: no passphrase file at " + home_ +
                                                  "/missing-file"));
}

TEST_F(NodeKeysStartTest, AWorldReadableKeyOrPassphraseFileStopsTheNode) {
  Chmod(paths_.node_key(), 0644);
  Status st = OpenError();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kPermissionDenied);
  EXPECT_TRUE(Contains(st.message(), "key file " + paths_.node_key() + " has mode 0644"));
  EXPECT_TRUE(Contains(st.message(), "(fix: chmod 600 " + paths_.node_key() + ")"));
  Chmod(paths_.node_key(), 0600);
  Chmod(paths_.validator_key(), 0660);
  EXPECT_TRUE(
      Contains(OpenError().message(), "key file " + paths_.validator_key() + " has mode 0660"));
  Chmod(paths_.validator_key(), 0600);
  Chmod(home_ + "/key-passphrase", 0644);
  EXPECT_TRUE(Contains(OpenError().message(),
                       "passphrase file " + home_ + "/key-passphrase has mode 0644"));
  Chmod(home_ + "/key-passphrase", 0600);
  EXPECT_TRUE(OpenError().ok());
}

// Plain keys (a devnet's) still start, with one warning that names them and no secret.
TEST(NodePlainKeysTest, APlainKeyNodeStartsAndWarnsOnce) {
  ScopedEnv no_env(kKeyPassphraseEnv, nullptr);
  TempDir dir;
  InitOptions o;
  o.home = dir.path() + "/node0";
  o.chain_id = "v2g-keys-test";
  o.genesis_time_ms = kGenesisTimeMs;
  o.fee_min = 0;
  ASSERT_TRUE(InitHome(o).ok());
  HomePaths p{o.home};
  EXPECT_FALSE(InspectNodeKey(p.validator_key())->encrypted);
  EXPECT_TRUE(LoadConfig(p.config())->keys_passphrase_file.empty());
  CapturedLog captured;
  auto started = StartRealNode(o.home);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  (*started)->Stop();
  started->reset();
  const std::string log = captured.text();
  const std::string warning =
      "keys: " + p.validator_key() + " and " + p.node_key() + " are not encrypted";
  EXPECT_TRUE(Contains(log, warning));
  EXPECT_EQ(log.find(warning), log.rfind(warning)) << log;
  EXPECT_FALSE(Contains(log, SeedHex(*LoadNodeKey(p.validator_key())))) << log;
  EXPECT_FALSE(Contains(log, SeedHex(*LoadNodeKey(p.node_key())))) << log;
}

}  // namespace
}  // namespace v2g::nodetest
