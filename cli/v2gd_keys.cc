#include "cli/v2gd_keys.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/bech32.h"
#include "common/fsutil.h"
#include "genesis/genesis.h"
#include "node/config.h"
#include "wallet/prompt.h"
#include "wallet/tx_builder.h"

namespace v2g::v2gd {
namespace {

int Fail(const Status& st) {
  std::fprintf(stderr, "error: %s\n", st.message().c_str());
  return 1;
}

struct KeyFileRef {
  const char* label;  // "validator key", "node key"
  std::string path;
  bool validator;
};

std::vector<KeyFileRef> Selected(const std::string& home, const std::string& which) {
  HomePaths p{home};
  std::vector<KeyFileRef> out;
  if (which != "node") out.push_back({"validator key", p.validator_key(), true});
  if (which != "validator") out.push_back({"node key", p.node_key(), false});
  return out;
}

// Typed on the terminal: once, or twice and compared when `confirm`.
Result<std::string> TypePassphrase(bool confirm) {
  auto no_terminal = [](const Status& st) -> Status {
    if (st.code() != Code::kUnavailable) return st;
    return Error(Code::kUnavailable,
                 std::string("no passphrase: give --passphrase-file FILE or set ") +
                     kKeyPassphraseEnv + " (there is no terminal to ask on)");
  };
  auto first = ReadSecretFromTerminal(confirm ? "New passphrase for the node's keys: "
                                              : "Passphrase of the node's keys: ");
  if (!first.ok()) return no_terminal(first.status());
  std::string p1 = std::move(first).value();
  if (!confirm) return p1;  // moved (C++20): the buffer is not copied
  auto second = ReadSecretFromTerminal("Repeat the passphrase: ");
  if (!second.ok()) {
    SecureWipe(p1.data(), p1.size());
    return no_terminal(second.status());
  }
  const bool same = p1 == *second;
  SecureWipe(second->data(), second->size());
  if (!same) {
    SecureWipe(p1.data(), p1.size());
    return Error(Code::kInvalidArgument, "the passphrases do not match; nothing was changed");
  }
  return p1;
}

// The passphrase of `v2gd keys`: --passphrase-file, else what `v2gd start` would use
// ($V2GD_KEY_PASSPHRASE, then [keys] passphrase_file), else the terminal.
KeyPassphrase KeysPassphrase(const std::string& flag_file, const std::string& home,
                             const std::string& config_file, bool confirm) {
  if (!flag_file.empty()) {
    return KeyPassphrase("passphrase file " + flag_file,
                         [flag_file] { return ReadPassphraseFile(flag_file); });
  }
  if (std::getenv(kKeyPassphraseEnv) != nullptr || !config_file.empty()) {
    return NodeKeyPassphrase(home, config_file);
  }
  return KeyPassphrase("the passphrase typed", [confirm] { return TypePassphrase(confirm); });
}

std::string ModeText(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

// Each selected file's public part, refused (nothing changed) when one is missing, malformed,
// has a loose mode, or is already in the form asked for.
Status CheckAll(const std::vector<KeyFileRef>& files, bool want_encrypted) {
  for (const KeyFileRef& f : files) {
    // The rewrite renames a new file over the path: over a symlink it would replace the link and
    // leave the old form (a plain seed) at the link's target while saying it was encrypted.
    struct stat link {};
    if (::lstat(f.path.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) {
      std::error_code ec;
      const auto target = std::filesystem::read_symlink(f.path, ec);
      return Error(Code::kInvalidArgument,
                   f.path + " is a symlink" + (ec ? "" : " to " + target.string()) +
                       ": run this on the file itself (or replace the link with "
                       "the file); nothing was changed");
    }
    auto info = InspectNodeKey(f.path);
    if (!info.ok()) return info.status();
    V2G_RETURN_IF_ERROR(CheckKeyFileMode(f.path, info->mode));
    if (info->encrypted == want_encrypted) {
      const std::string other = f.validator ? "node" : "validator";
      return Error(Code::kAlreadyExists,
                   f.path + " is already " + (want_encrypted ? "encrypted" : "plain") +
                       "; nothing was changed" +
                       (files.size() > 1 ? " (for the other key only: --key " + other + ")" : ""));
    }
  }
  return Status::Ok();
}

// Rewrites the key file at `path` with `write`, keeping the file's owner: a rewrite makes a new
// file owned by whoever runs it, and `sudo v2gd keys encrypt` would otherwise leave the node's own
// user unable to read its keys.
Status RewriteKeepingOwner(const std::string& path, const std::function<Status()>& write) {
  struct stat before {};
  const bool known = ::stat(path.c_str(), &before) == 0;
  V2G_RETURN_IF_ERROR(write());
  if (known && ::geteuid() == 0 && ::chown(path.c_str(), before.st_uid, before.st_gid) != 0) {
    return Error(Code::kIo, path + " was rewritten but could not be given back to its owner (uid " +
                                std::to_string(before.st_uid) +
                                "): chown it before starting the node");
  }
  return Status::Ok();
}

// The key files `files` does not select (the other key of the home), for checks across both.
std::vector<KeyFileRef> Others(const std::string& home, const std::vector<KeyFileRef>& files) {
  std::vector<KeyFileRef> out;
  for (const KeyFileRef& f : Selected(home, "all")) {
    bool selected = false;
    for (const KeyFileRef& g : files) selected = selected || g.path == f.path;
    if (!selected) out.push_back(f);
  }
  return out;
}

}  // namespace

KeyPassphrase NewKeysPassphrase(const std::string& passphrase_file) {
  if (!passphrase_file.empty()) {
    return KeyPassphrase("passphrase file " + passphrase_file,
                         [passphrase_file] { return ReadPassphraseFile(passphrase_file); });
  }
  if (std::getenv(kKeyPassphraseEnv) != nullptr) return NodeKeyPassphrase(".", "");
  return KeyPassphrase("the passphrase typed", [] { return TypePassphrase(true); });
}

KeysCommands::KeysCommands(CLI::App& app) {
  keys_ = app.add_subcommand(
      "keys", "The validator and node key files of a node home: encrypt, decrypt, show");
  keys_->require_subcommand(1);
  show_ =
      keys_->add_subcommand("show", "Type, public key, address or node id, and whether encrypted");
  encrypt_ = keys_->add_subcommand(
      "encrypt", "Encrypt plain key files (Argon2id + XChaCha20-Poly1305) under a passphrase");
  decrypt_ = keys_->add_subcommand("decrypt", "Decrypt encrypted key files back to plain ones");
  rotate_ =
      keys_->add_subcommand("rotate",
                            "Make a new consensus key (keys/validator_key.next.json), node key "
                            "(keys/node_key.next.json) or both, encrypted as the current ones are, "
                            "and print the rotation the current and new keys signed; submit it "
                            "with 'v2g gov rotate-key FILE --from ACCOUNT'. The node moves to the "
                            "new keys at the height the rotation takes effect");
  for (CLI::App* c : {show_, encrypt_, decrypt_}) {
    c->add_option("--home", home_, "Node home directory")->required();
    c->add_option("--key", which_, "Which key file: validator, node or all")
        ->capture_default_str()
        ->check(CLI::IsMember({"validator", "node", "all"}));
  }
  rotate_->add_option("--home", home_, "Node home directory")->required();
  rotate_->add_option("--key", rotate_which_, "Which key to rotate: validator, node or all")
      ->capture_default_str()
      ->check(CLI::IsMember({"validator", "node", "all"}));
  for (CLI::App* c : {encrypt_, decrypt_, rotate_}) {
    c->add_option("--passphrase-file", passphrase_file_,
                  std::string("File whose first line is the passphrase (mode 0600); else $") +
                      kKeyPassphraseEnv +
                      ", else config.toml's [keys] passphrase_file, else asked on the terminal");
  }
}

int KeysCommands::Run() {
  if (show_->parsed()) return Show();
  if (encrypt_->parsed()) return Encrypt();
  if (rotate_->parsed()) return Rotate();
  return Decrypt();
}

int KeysCommands::Rotate() {
  HomePaths p{home_};
  const bool consensus = rotate_which_ != "node";
  const bool node = rotate_which_ != "validator";
  for (const std::string& next_path : {consensus ? p.validator_key_next() : std::string(),
                                       node ? p.node_key_next() : std::string()}) {
    if (!next_path.empty() && FileExists(next_path)) {
      return Fail(Error(Code::kAlreadyExists, next_path +
                                                  " exists: a rotation is pending (the node moves "
                                                  "to it at the height it takes effect; if that "
                                                  "rotation was never submitted, delete the file); "
                                                  "nothing was changed"));
    }
  }
  auto genesis = LoadGenesisFile(p.genesis());
  if (!genesis.ok()) return Fail(genesis.status());
  std::string config_file;
  if (FileExists(p.config())) {
    auto config = LoadConfig(p.config());
    if (!config.ok()) return Fail(config.status());
    config_file = config->keys_passphrase_file;
  }
  KeyPassphrase pass = KeysPassphrase(passphrase_file_, home_, config_file, false);
  // The current consensus key signs every rotation, of either key.
  auto current = LoadNodeKey(p.validator_key(), pass);
  if (!current.ok()) return Fail(current.status());
  std::vector<std::string> written;
  // Writes `next` beside `current_path`, encrypted as that file is and given to its owner.
  auto write_next = [&](const std::string& current_path, const std::string& next_path,
                        const KeyPair& next) -> Status {
    auto info = InspectNodeKey(current_path);
    if (!info.ok()) return info.status();
    Status saved = Status::Ok();
    if (info->encrypted) {
      auto phrase = pass.Get();
      if (!phrase.ok()) return phrase.status();
      saved = RewriteKeepingOwner(next_path,
                                  [&] { return SaveNodeKeyEncrypted(next_path, next, *phrase); });
    } else {
      saved = RewriteKeepingOwner(next_path, [&] { return SaveNodeKey(next_path, next); });
    }
    V2G_RETURN_IF_ERROR(saved);
    written.push_back(next_path);
    // Run as root, the new file goes to the current key file's owner (the node's user).
    struct stat owner {};
    if (::geteuid() == 0 && ::stat(current_path.c_str(), &owner) == 0 &&
        ::chown(next_path.c_str(), owner.st_uid, owner.st_gid) != 0) {
      return Error(Code::kIo, next_path + " could not be given to the owner of " + current_path);
    }
    return Status::Ok();
  };
  std::optional<KeyPair> next;
  std::optional<KeyPair> next_node;
  Status st = Status::Ok();
  if (consensus) {
    next = KeyPair::Generate();
    st = write_next(p.validator_key(), p.validator_key_next(), *next);
  }
  if (st.ok() && node) {
    next_node = KeyPair::Generate();
    st = write_next(p.node_key(), p.node_key_next(), *next_node);
  }
  if (!st.ok()) {
    for (const std::string& f : written) std::remove(f.c_str());  // all or nothing
    return Fail(Error(st.code(), st.message() + "; nothing was changed"));
  }
  const pb::RotateValidatorKey r = SignValidatorKeyRotation(
      genesis->chain_id, *current, next ? &*next : nullptr, next_node ? &*next_node : nullptr);
  std::printf("{\n  \"chain_id\": \"%s\",\n  \"current_consensus_pubkey\": \"%s\",\n",
              genesis->chain_id.c_str(), HexEncode(current->public_key()).c_str());
  if (consensus) {
    std::printf("  \"new_consensus_pubkey\": \"%s\",\n  \"new_consensus_signature\": \"%s\",\n",
                HexEncode(r.new_consensus_pubkey()).c_str(),
                HexEncode(r.new_consensus_signature()).c_str());
  }
  if (node) {
    std::printf("  \"new_node_pubkey\": \"%s\",\n  \"new_node_signature\": \"%s\",\n",
                HexEncode(r.new_node_pubkey()).c_str(), HexEncode(r.new_node_signature()).c_str());
  }
  std::printf("  \"old_consensus_signature\": \"%s\"\n}\n",
              HexEncode(r.old_consensus_signature()).c_str());
  std::string files;
  for (const std::string& f : written) files += (files.empty() ? "" : " and ") + f;
  std::fprintf(
      stderr,
      "wrote %s; save the rotation above to a file and submit it signed by the current consensus "
      "key (imported into the wallet): v2g gov rotate-key FILE --from KEY\n",
      files.c_str());
  return 0;
}

int KeysCommands::Show() {
  bool first = true;
  for (const KeyFileRef& f : Selected(home_, which_)) {
    auto info = InspectNodeKey(f.path);
    if (!info.ok()) return Fail(info.status());
    if (!first) std::printf("\n");
    first = false;
    std::printf("%s  %s\n", f.label, f.path.c_str());
    std::printf("  type        %s\n", info->type.c_str());
    std::printf("  public key  %s\n", HexEncode(info->public_key).c_str());
    if (f.validator) {
      std::printf("  address     %s\n",
                  EncodeAddress(AddressFromPublicKey(info->public_key)).c_str());
    } else {
      std::printf("  node id     %s\n", HexEncode(info->public_key).c_str());
    }
    std::printf("  encrypted   %s\n", info->encrypted ? "yes (argon2id13, xchacha20poly1305-ietf)"
                                                      : "no (v2gd start warns; v2gd keys encrypt)");
    Status mode = CheckKeyFileMode(f.path, info->mode);
    std::printf("  mode        %s%s\n", ModeText(info->mode).c_str(),
                mode.ok() ? "" : (": v2gd start refuses it; chmod 600 " + f.path).c_str());
  }
  return 0;
}

int KeysCommands::Encrypt() {
  const std::vector<KeyFileRef> files = Selected(home_, which_);
  HomePaths p{home_};
  std::string config_file;
  if (FileExists(p.config())) {
    auto config = LoadConfig(p.config());
    if (!config.ok()) return Fail(config.status());
    config_file = config->keys_passphrase_file;
  }
  if (Status st = CheckAll(files, true); !st.ok()) return Fail(st);
  std::vector<KeyPair> keys;
  for (const KeyFileRef& f : files) {
    auto key = LoadNodeKey(f.path);
    if (!key.ok()) return Fail(key.status());
    keys.push_back(*key);
  }
  KeyPassphrase pass = KeysPassphrase(passphrase_file_, home_, config_file, true);
  auto phrase = pass.Get();
  if (!phrase.ok()) return Fail(phrase.status());
  // Both keys of a node open with one passphrase, the one v2gd start reads: anything else would
  // leave a home that does not start.
  for (const KeyFileRef& other : Others(home_, files)) {
    auto info = InspectNodeKey(other.path);
    if (!info.ok() || !info->encrypted) continue;
    if (auto opened = LoadNodeKey(other.path, pass); !opened.ok()) {
      return Fail(Error(Code::kInvalidArgument,
                        other.path + " is encrypted under another passphrase than " +
                            pass.origin() +
                            ": both keys of a node share one; nothing was changed"));
    }
  }
  if (!passphrase_file_.empty() &&
      (std::getenv(kKeyPassphraseEnv) != nullptr || !config_file.empty())) {
    KeyPassphrase daemon = NodeKeyPassphrase(home_, config_file);
    auto theirs = daemon.Get();
    if (theirs.ok() && *theirs != *phrase) {
      return Fail(Error(Code::kInvalidArgument, "v2gd start would read another passphrase (from " +
                                                    daemon.origin() + ") than " + pass.origin() +
                                                    "; nothing was changed"));
    }
  }
  for (size_t i = 0; i < files.size(); ++i) {
    Status st = RewriteKeepingOwner(
        files[i].path, [&] { return SaveNodeKeyEncrypted(files[i].path, keys[i], *phrase); });
    if (!st.ok()) return Fail(st);
    std::printf("encrypted %s (passphrase: %s)\n", files[i].path.c_str(), pass.origin().c_str());
  }
  if (std::getenv(kKeyPassphraseEnv) == nullptr && config_file.empty()) {
    std::error_code ec;
    const std::string file =
        passphrase_file_.empty()
            ? std::string("FILE")
            : std::filesystem::absolute(passphrase_file_, ec).lexically_normal().string();
    std::printf(
        "v2gd start now needs the passphrase: add [keys] passphrase_file = \"%s\" to %s "
        "(a file whose first line it is, mode 0600), or set %s\n",
        file.c_str(), p.config().c_str(), kKeyPassphraseEnv);
  }
  return 0;
}

int KeysCommands::Decrypt() {
  const std::vector<KeyFileRef> files = Selected(home_, which_);
  HomePaths p{home_};
  std::string config_file;
  if (FileExists(p.config())) {
    auto config = LoadConfig(p.config());
    if (!config.ok()) return Fail(config.status());
    config_file = config->keys_passphrase_file;
  }
  if (Status st = CheckAll(files, false); !st.ok()) return Fail(st);
  KeyPassphrase pass = KeysPassphrase(passphrase_file_, home_, config_file, false);
  // Every file opens before any is rewritten: a wrong passphrase changes nothing.
  std::vector<KeyPair> keys;
  for (const KeyFileRef& f : files) {
    auto key = LoadNodeKey(f.path, pass);
    if (!key.ok()) return Fail(key.status());
    keys.push_back(*key);
  }
  for (size_t i = 0; i < files.size(); ++i) {
    Status st =
        RewriteKeepingOwner(files[i].path, [&] { return SaveNodeKey(files[i].path, keys[i]); });
    if (!st.ok()) return Fail(st);
    std::printf("decrypted %s\n", files[i].path.c_str());
  }
  std::fprintf(stderr,
               "warning: what was decrypted is plain now: whoever reads it can sign as this "
               "validator or pose as this node (v2gd start warns of it; v2gd keys encrypt undoes "
               "it)\n");
  return 0;
}

}  // namespace v2g::v2gd
