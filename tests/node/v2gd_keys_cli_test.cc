// `v2gd keys encrypt|decrypt|show` and `v2gd init --encrypt-keys`, run as the built v2gd; and
// `v2gd start` on encrypted keys: it starts with the passphrase file its config names, and exits
// non-zero, naming the file, with a wrong passphrase, none, or a key file others may read.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "common/bech32.h"
#include "common/fsutil.h"
#include "node/config.h"
#include "node/keys.h"
#include "tests/integration/harness.h"

#ifndef V2GD_PATH
#error "V2GD_PATH must be defined"
#endif

namespace v2g {
namespace {

using v2g::testing::Run;
using v2g::testing::RunResult;
using v2g::testing::TempDir;

constexpr char kPassphrase[] = "tram depot 3 early shift";

::testing::AssertionResult Has(const RunResult& r, const std::string& needle) {
  if (r.output.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "output (exit " << r.exit_code << ") lacks '" << needle << "':\n"
         << r.output;
}

RunResult V2gd(std::vector<std::string> args) {
  args.insert(args.begin(), V2GD_PATH);
  return Run(args);
}

// Sets an environment variable (inherited by the v2gd the test runs) while alive.
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

std::string SeedHexOf(const std::string& plain_key_file) {
  auto key = LoadNodeKey(plain_key_file);
  EXPECT_TRUE(key.ok()) << key.status().ToString();
  Bytes seed = key->Seed();
  std::string hex = HexEncode(seed);
  SecureWipe(seed.data(), seed.size());
  return hex;
}

class V2gdKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitCrypto();
    RunResult init = V2gd({"init", "--home", home_, "--chain-id", "v2g-keys-cli"});
    ASSERT_EQ(init.exit_code, 0) << init.output;
    ASSERT_TRUE(WriteFileAtomic(pass_file_, std::string(kPassphrase) + "\n", 0600).ok());
    validator_pk_ = HexEncode(InspectNodeKey(paths_.validator_key())->public_key);
    node_pk_ = HexEncode(InspectNodeKey(paths_.node_key())->public_key);
    validator_seed_ = SeedHexOf(paths_.validator_key());
    node_seed_ = SeedHexOf(paths_.node_key());
  }
  bool Encrypted(const std::string& path) {
    auto info = InspectNodeKey(path);
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    return info.ok() && info->encrypted;
  }
  // Free loopback ports, and the passphrase file named in config.toml ("" for none).
  void Configure(const std::string& passphrase_file) {
    auto c = LoadConfig(paths_.config());
    ASSERT_TRUE(c.ok());
    api_port_ = v2g::testing::FreePort();
    c->api_listen = "127.0.0.1:" + std::to_string(api_port_);
    c->p2p_listen = "127.0.0.1:" + std::to_string(v2g::testing::FreePort());
    c->keys_passphrase_file = passphrase_file;
    ASSERT_TRUE(WriteFileAtomic(paths_.config(), ConfigToToml(*c)).ok());
  }

  ScopedEnv no_env_{kKeyPassphraseEnv, nullptr};
  TempDir dir_;
  std::string home_ = dir_.path() + "/node0";
  std::string pass_file_ = dir_.path() + "/passphrase";
  HomePaths paths_{home_};
  std::string validator_pk_, node_pk_, validator_seed_, node_seed_;
  int api_port_ = 0;
};

TEST_F(V2gdKeysTest, ShowEncryptDecryptRoundTripWithoutShowingASeed) {
  RunResult show = V2gd({"keys", "show", "--home", home_});
  ASSERT_EQ(show.exit_code, 0) << show.output;
  EXPECT_TRUE(Has(show, "validator key  " + paths_.validator_key()));
  EXPECT_TRUE(Has(show, "  type        ed25519\n"));
  EXPECT_TRUE(Has(show, "  public key  " + validator_pk_ + "\n"));
  auto pk = HexDecode(validator_pk_);
  PublicKey vpk{};
  std::copy(pk->begin(), pk->end(), vpk.begin());
  EXPECT_TRUE(Has(show, "  address     " + EncodeAddress(AddressFromPublicKey(vpk)) + "\n"));
  EXPECT_TRUE(Has(show, "node key  " + paths_.node_key()));
  EXPECT_TRUE(Has(show, "  node id     " + node_pk_ + "\n"));
  EXPECT_TRUE(Has(show, "  encrypted   no (v2gd start warns; v2gd keys encrypt)"));
  EXPECT_TRUE(Has(show, "  mode        0600\n"));

  RunResult enc = V2gd({"keys", "encrypt", "--home", home_, "--passphrase-file", pass_file_});
  ASSERT_EQ(enc.exit_code, 0) << enc.output;
  EXPECT_TRUE(Has(enc, "encrypted " + paths_.validator_key() + " (passphrase: passphrase file " +
                           pass_file_ + ")"));
  EXPECT_TRUE(Has(enc, "encrypted " + paths_.node_key()));
  EXPECT_TRUE(Has(enc, "v2gd start now needs the passphrase"));
  for (const std::string& path : {paths_.validator_key(), paths_.node_key()}) {
    EXPECT_TRUE(Encrypted(path)) << path;
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u) << path;
    const std::string text = *ReadFile(path);
    EXPECT_EQ(text.find(validator_seed_), std::string::npos);
    EXPECT_EQ(text.find(node_seed_), std::string::npos);
  }
  EXPECT_EQ(HexEncode(InspectNodeKey(paths_.validator_key())->public_key), validator_pk_);

  RunResult again = V2gd({"keys", "encrypt", "--home", home_, "--passphrase-file", pass_file_});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(
      Has(again,
          "error: " + paths_.validator_key() +
              " is already encrypted; nothing was changed (for the other key only: --key node)"));

  show = V2gd({"keys", "show", "--home", home_, "--key", "validator"});
  ASSERT_EQ(show.exit_code, 0) << show.output;
  EXPECT_TRUE(Has(show, "  encrypted   yes (argon2id13, xchacha20poly1305-ietf)"));
  EXPECT_FALSE(Has(show, "node key"));
  for (const RunResult& r : {show, enc}) {
    EXPECT_FALSE(Has(r, validator_seed_));
    EXPECT_FALSE(Has(r, node_seed_));
    EXPECT_FALSE(Has(r, kPassphrase));
  }

  // A wrong passphrase changes nothing.
  const std::string wrong_file = dir_.path() + "/wrong";
  ASSERT_TRUE(WriteFileAtomic(wrong_file, "tram depot 4 early shift\n", 0600).ok());
  RunResult wrong = V2gd({"keys", "decrypt", "--home", home_, "--passphrase-file", wrong_file});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_TRUE(Has(wrong, "error: key file " + paths_.validator_key() +
                             ": wrong passphrase (from passphrase file " + wrong_file +
                             "), or the file was altered"));
  EXPECT_TRUE(Encrypted(paths_.validator_key()));
  EXPECT_TRUE(Encrypted(paths_.node_key()));

  // The passphrase from the environment.
  ScopedEnv env(kKeyPassphraseEnv, kPassphrase);
  RunResult dec = V2gd({"keys", "decrypt", "--home", home_});
  ASSERT_EQ(dec.exit_code, 0) << dec.output;
  EXPECT_TRUE(Has(dec, "decrypted " + paths_.validator_key()));
  EXPECT_TRUE(Has(dec, "warning: what was decrypted is plain now"));
  EXPECT_FALSE(Encrypted(paths_.validator_key()));
  EXPECT_FALSE(Encrypted(paths_.node_key()));
  EXPECT_EQ(SeedHexOf(paths_.validator_key()), validator_seed_);
  EXPECT_EQ(SeedHexOf(paths_.node_key()), node_seed_);

  RunResult plain_again = V2gd({"keys", "decrypt", "--home", home_});
  EXPECT_EQ(plain_again.exit_code, 1);
  EXPECT_TRUE(Has(plain_again, paths_.validator_key() + " is already plain; nothing was changed"));

  // One key only.
  RunResult one = V2gd({"keys", "encrypt", "--home", home_, "--key", "node"});
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_FALSE(Encrypted(paths_.validator_key()));
  EXPECT_TRUE(Encrypted(paths_.node_key()));
}

TEST_F(V2gdKeysTest, BadInputIsAClearErrorAndChangesNothing) {
  RunResult bad_key = V2gd({"keys", "show", "--home", home_, "--key", "consensus"});
  EXPECT_NE(bad_key.exit_code, 0);
  EXPECT_TRUE(Has(bad_key, "--key"));
  RunResult no_home = V2gd({"keys", "show", "--home", dir_.path() + "/nowhere"});
  EXPECT_EQ(no_home.exit_code, 1);
  EXPECT_TRUE(
      Has(no_home, "error: no key file at " + dir_.path() + "/nowhere/keys/validator_key.json"));

  ASSERT_EQ(::chmod(pass_file_.c_str(), 0644), 0);
  RunResult loose_pass =
      V2gd({"keys", "encrypt", "--home", home_, "--passphrase-file", pass_file_});
  EXPECT_EQ(loose_pass.exit_code, 1);
  EXPECT_TRUE(Has(loose_pass, "passphrase file " + pass_file_ + " has mode 0644"));
  EXPECT_FALSE(Encrypted(paths_.validator_key()));
  ASSERT_EQ(::chmod(pass_file_.c_str(), 0600), 0);

  ASSERT_EQ(::chmod(paths_.node_key().c_str(), 0640), 0);
  RunResult loose_key = V2gd({"keys", "encrypt", "--home", home_, "--passphrase-file", pass_file_});
  EXPECT_EQ(loose_key.exit_code, 1);
  EXPECT_TRUE(Has(loose_key, "key file " + paths_.node_key() + " has mode 0640"));
  EXPECT_TRUE(Has(loose_key, "(fix: chmod 600 " + paths_.node_key() + ")"));
  EXPECT_FALSE(Encrypted(paths_.validator_key()));  // checked before anything was written
  RunResult show = V2gd({"keys", "show", "--home", home_});
  EXPECT_EQ(show.exit_code, 0);
  EXPECT_TRUE(
      Has(show, "  mode        0640: v2gd start refuses it; chmod 600 " + paths_.node_key()));
  ASSERT_EQ(::chmod(paths_.node_key().c_str(), 0600), 0);

  // A key file that is a symlink (a mounted secret): the rewrite would replace the link and leave
  // the plain seed at its target, so it is refused and nothing changes.
  const std::string target = dir_.path() + "/node_key.target.json";
  ASSERT_EQ(::rename(paths_.node_key().c_str(), target.c_str()), 0);
  ASSERT_EQ(::symlink(target.c_str(), paths_.node_key().c_str()), 0);
  RunResult linked = V2gd({"keys", "encrypt", "--home", home_, "--passphrase-file", pass_file_});
  EXPECT_EQ(linked.exit_code, 1);
  EXPECT_TRUE(Has(linked, paths_.node_key() + " is a symlink to " + target)) << linked.output;
  EXPECT_FALSE(Encrypted(target));
  EXPECT_FALSE(Encrypted(paths_.validator_key()));
  ASSERT_EQ(::unlink(paths_.node_key().c_str()), 0);
  ASSERT_EQ(::rename(target.c_str(), paths_.node_key().c_str()), 0);

  // No passphrase anywhere and no terminal to ask on (setsid: no controlling terminal).
  RunResult no_tty =
      v2g::testing::Run({"/usr/bin/setsid", "-w", V2GD_PATH, "keys", "encrypt", "--home", home_});
  EXPECT_EQ(no_tty.exit_code, 1);
  EXPECT_TRUE(Has(no_tty,
                  "error: no passphrase: give --passphrase-file FILE or set V2GD_KEY_PASSPHRASE "
                  "(there is no terminal to ask on)"));
  EXPECT_FALSE(Encrypted(paths_.validator_key()));

  // One key encrypted under one passphrase, the other then asked for under another: refused (a
  // node's keys share one passphrase, or it would not start).
  RunResult one = V2gd(
      {"keys", "encrypt", "--home", home_, "--key", "validator", "--passphrase-file", pass_file_});
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const std::string other_file = dir_.path() + "/other-pass";
  ASSERT_TRUE(WriteFileAtomic(other_file, "another depot, another shift\n", 0600).ok());
  RunResult mixed =
      V2gd({"keys", "encrypt", "--home", home_, "--key", "node", "--passphrase-file", other_file});
  EXPECT_EQ(mixed.exit_code, 1);
  EXPECT_TRUE(Has(mixed, paths_.validator_key() +
                             " is encrypted under another passphrase than passphrase file " +
                             other_file + ": both keys of a node share one; nothing was changed"))
      << mixed.output;
  EXPECT_FALSE(Encrypted(paths_.node_key()));
  RunResult same =
      V2gd({"keys", "encrypt", "--home", home_, "--key", "node", "--passphrase-file", pass_file_});
  EXPECT_EQ(same.exit_code, 0) << same.output;
  EXPECT_TRUE(Encrypted(paths_.node_key()));
}

TEST_F(V2gdKeysTest, StartRefusesWithoutTheRightPassphraseOrWithALooseKeyFileAndStartsWithIt) {
  RunResult enc = V2gd({"keys", "encrypt", "--home", home_, "--passphrase-file", pass_file_});
  ASSERT_EQ(enc.exit_code, 0) << enc.output;

  Configure("");
  RunResult none = V2gd({"start", "--home", home_});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_TRUE(
      Has(none, "error: key file " + paths_.validator_key() +
                    " is encrypted: no passphrase was given: set [keys] passphrase_file in " +
                    paths_.config()));

  const std::string wrong_file = dir_.path() + "/wrong";
  ASSERT_TRUE(WriteFileAtomic(wrong_file, "tram depot 4 early shift\n", 0600).ok());
  Configure(wrong_file);
  RunResult wrong = V2gd({"start", "--home", home_});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_TRUE(Has(wrong, "error: key file " + paths_.validator_key() +
                             ": wrong passphrase (from passphrase file " + wrong_file +
                             "), or the file was altered"));

  Configure(pass_file_);
  ASSERT_EQ(::chmod(paths_.validator_key().c_str(), 0644), 0);
  RunResult loose = V2gd({"start", "--home", home_});
  EXPECT_EQ(loose.exit_code, 1);
  EXPECT_TRUE(Has(loose, "error: key file " + paths_.validator_key() + " has mode 0644"));
  EXPECT_TRUE(Has(loose, "(fix: chmod 600 " + paths_.validator_key() + ")"));
  ASSERT_EQ(::chmod(paths_.validator_key().c_str(), 0600), 0);

  const std::string log = dir_.path() + "/v2gd.log";
  {
    v2g::testing::Process node({V2GD_PATH, "start", "--home", home_}, log);
    ASSERT_TRUE(v2g::testing::WaitHealthy(api_port_, 30000)) << v2g::testing::ReadFileOrEmpty(log);
    node.Signal(SIGTERM);
    EXPECT_EQ(node.Wait(30000), std::optional<int>(0)) << v2g::testing::ReadFileOrEmpty(log);
  }
  const std::string out = v2g::testing::ReadFileOrEmpty(log);
  EXPECT_EQ(out.find("not encrypted"), std::string::npos) << out;
  EXPECT_EQ(out.find(kPassphrase), std::string::npos) << out;
}

TEST_F(V2gdKeysTest, RotateWritesTheNextKeysItIsAskedForEncryptedAsTheCurrentOnes) {
  // The node key alone, from encrypted keys: the next file is encrypted too, the current files are
  // untouched, and the printed rotation names only the new node key.
  ASSERT_EQ(V2gd({"keys", "encrypt", "--home", home_, "--passphrase-file", pass_file_}).exit_code,
            0);
  RunResult node =
      V2gd({"keys", "rotate", "--key", "node", "--home", home_, "--passphrase-file", pass_file_});
  ASSERT_EQ(node.exit_code, 0) << node.output;
  EXPECT_TRUE(Has(node, "\"new_node_pubkey\""));
  EXPECT_TRUE(Has(node, "\"new_node_signature\""));
  EXPECT_TRUE(Has(node, "\"old_consensus_signature\""));
  EXPECT_EQ(node.output.find("new_consensus_pubkey"), std::string::npos) << node.output;
  EXPECT_TRUE(Has(node, paths_.node_key_next()));
  ASSERT_TRUE(FileExists(paths_.node_key_next()));
  EXPECT_FALSE(FileExists(paths_.validator_key_next()));
  EXPECT_TRUE(Encrypted(paths_.node_key_next()));
  const auto next = InspectNodeKey(paths_.node_key_next());
  ASSERT_TRUE(next.ok());
  EXPECT_NE(HexEncode(next->public_key), node_pk_);
  EXPECT_TRUE(Has(node, HexEncode(next->public_key)));
  EXPECT_EQ(HexEncode(InspectNodeKey(paths_.node_key())->public_key), node_pk_);
  // A second rotation of that key while one is pending is refused, and changes nothing.
  RunResult again =
      V2gd({"keys", "rotate", "--key", "all", "--home", home_, "--passphrase-file", pass_file_});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_TRUE(Has(again, "node_key.next.json exists: a rotation is pending"));
  EXPECT_FALSE(FileExists(paths_.validator_key_next()));
  // The consensus key (the default) alone is still possible.
  RunResult consensus = V2gd({"keys", "rotate", "--home", home_, "--passphrase-file", pass_file_});
  ASSERT_EQ(consensus.exit_code, 0) << consensus.output;
  EXPECT_TRUE(Has(consensus, "\"new_consensus_pubkey\""));
  EXPECT_EQ(consensus.output.find("new_node_pubkey"), std::string::npos) << consensus.output;
  EXPECT_TRUE(Encrypted(paths_.validator_key_next()));
  // A wrong --key is a usage error.
  EXPECT_NE(V2gd({"keys", "rotate", "--key", "both", "--home", home_}).exit_code, 0);
}

TEST(V2gdInitTest, InitAndTestnetEncryptKeysOnlyWhenAsked) {
  InitCrypto();
  ScopedEnv no_env(kKeyPassphraseEnv, nullptr);
  TempDir dir;
  const std::string pass = dir.path() + "/pass";
  ASSERT_TRUE(WriteFileAtomic(pass, std::string(kPassphrase) + "\n", 0600).ok());
  const std::string home = dir.path() + "/enc";
  RunResult init = V2gd({"init", "--home", home, "--encrypt-keys", "--passphrase-file", pass});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  EXPECT_TRUE(Has(init, "key files encrypted; config.toml's [keys] passphrase_file names " + pass));
  HomePaths p{home};
  EXPECT_TRUE(InspectNodeKey(p.validator_key())->encrypted);
  EXPECT_TRUE(InspectNodeKey(p.node_key())->encrypted);
  EXPECT_EQ(LoadConfig(p.config())->keys_passphrase_file, pass);
  KeyPassphrase from_config = NodeKeyPassphrase(home, LoadConfig(p.config())->keys_passphrase_file);
  EXPECT_TRUE(LoadNodeKey(p.validator_key(), from_config).ok());

  RunResult needs = V2gd({"init", "--home", dir.path() + "/x", "--passphrase-file", pass});
  EXPECT_NE(needs.exit_code, 0);
  EXPECT_TRUE(Has(needs, "--encrypt-keys"));

  {
    ScopedEnv env(kKeyPassphraseEnv, kPassphrase);
    RunResult tn =
        V2gd({"testnet", "--validators", "2", "--output", dir.path() + "/net", "--encrypt-keys"});
    ASSERT_EQ(tn.exit_code, 0) << tn.output;
    EXPECT_TRUE(Has(tn, "key files encrypted: before starting, set [keys] passphrase_file"));
    for (const char* n : {"node0", "node1"}) {
      HomePaths np{dir.path() + "/net/" + n};
      EXPECT_TRUE(InspectNodeKey(np.validator_key())->encrypted) << n;
      EXPECT_TRUE(InspectNodeKey(np.node_key())->encrypted) << n;
      EXPECT_TRUE(LoadConfig(np.config())->keys_passphrase_file.empty());
    }
  }
  // Plain by default: a devnet starts unattended.
  RunResult tn = V2gd({"testnet", "--validators", "1", "--output", dir.path() + "/plain"});
  ASSERT_EQ(tn.exit_code, 0) << tn.output;
  EXPECT_FALSE(InspectNodeKey(HomePaths{dir.path() + "/plain/node0"}.validator_key())->encrypted);
}

}  // namespace
}  // namespace v2g
