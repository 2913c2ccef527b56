// Node key files (<home>/keys/validator_key.json, node_key.json): one Ed25519 key each, mode 0600,
// written atomically (common/fsutil.h). Two forms, told apart by their fields:
//
//   plain, like CometBFT's priv_validator_key.json (a devnet's, started unattended):
//     {"type": "ed25519", "public_key": "<hex>", "seed": "<hex>"}
//   encrypted, sealed as the wallet keystore seals its keys (common/passphrase_seal.h):
//     {"type": "ed25519", "public_key": "<hex>",
//      "kdf": {"name": "argon2id13", "salt": "<hex, 16 bytes>", "opslimit": n, "memlimit": n},
//      "cipher": {"name": "xchacha20poly1305-ietf", "nonce": "<hex, 24 bytes>"},
//      "ciphertext": "<hex: 32-byte seed + 16-byte tag>"}
//     The AEAD's associated data is "v2gd node key\n" type "\n" public_key-hex: a file given
//     another public key (or type) fails to decrypt, and so does a wallet key pasted into one.
//
// Both keys of a node share one passphrase. The daemon reads it without a person
// (NodeKeyPassphrase): $V2GD_KEY_PASSPHRASE, else [keys] passphrase_file in config.toml.
// Whatever the form, a key file that its group or others may read or write is refused
// (kPermissionDenied naming the file, its mode and `chmod 600`), as ssh refuses such a key.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "common/crypto.h"
#include "common/passphrase_seal.h"
#include "common/status.h"

namespace v2g {

// The environment variable the daemon and `v2gd keys` read the passphrase from.
inline constexpr char kKeyPassphraseEnv[] = "V2GD_KEY_PASSPHRASE";
// A node key file is ~400 bytes; anything much larger is not one.
inline constexpr size_t kNodeKeyFileBytesMax = 64 * 1024;
// A passphrase file holds one line; its first line is the passphrase, at most this long (the
// wallet's bound on a secret line: a longer one is a wrong file).
inline constexpr size_t kPassphraseFileBytesMax = 4 * 1024;
inline constexpr size_t kPassphraseBytesMax = 1024;

// Where the passphrase of encrypted key files comes from. It is read on the first Get() only
// (a node whose keys are plain never reads it), kept for the object's life and wiped with it.
// Not copyable or movable, so the secret never leaves one buffer. Single-threaded.
class KeyPassphrase {
 public:
  using Reader = std::function<Result<std::string>()>;
  // `origin` says where it comes from in errors ("passphrase file /h/pass"); `read` gives it.
  KeyPassphrase(std::string origin, Reader read);
  // No source: Get() fails with `why_none` (how to give one).
  static KeyPassphrase None(std::string why_none);
  ~KeyPassphrase();
  KeyPassphrase(const KeyPassphrase&) = delete;
  KeyPassphrase& operator=(const KeyPassphrase&) = delete;

  // The passphrase (never empty), or why there is none; the same answer every call.
  Result<std::string_view> Get();
  const std::string& origin() const { return origin_; }

 private:
  std::string origin_;
  Reader read_;
  bool read_done_ = false;
  Status status_;
  std::string value_;
};

// The daemon's source: $V2GD_KEY_PASSPHRASE when set, else `passphrase_file` ([keys]
// passphrase_file: absolute, or relative to `home`) when not empty, else none.
KeyPassphrase NodeKeyPassphrase(const std::string& home, const std::string& passphrase_file);

// The first line of `path` without its line ending. Refused like a key file when group or others
// may read or write it; kInvalidArgument when the line is empty or longer than
// kPassphraseBytesMax; kIo naming the file when it cannot be read.
Result<std::string> ReadPassphraseFile(const std::string& path);

// What a key file says without its passphrase.
struct NodeKeyInfo {
  std::string path;
  std::string type;  // "ed25519"
  PublicKey public_key{};
  bool encrypted = false;
  unsigned mode = 0;  // permission bits (st_mode & 07777)
};

// kPermissionDenied when `mode` lets group or others read or write the file at `path`; the
// message names the file, the mode and the fix.
Status CheckKeyFileMode(const std::string& path, unsigned mode);

// Writes `key` as a plain key file, replacing what is at `path`.
Status SaveNodeKey(const std::string& path, const KeyPair& key);
// Writes `key` encrypted under `passphrase` (not empty), replacing what is at `path`.
Status SaveNodeKeyEncrypted(const std::string& path, const KeyPair& key,
                            std::string_view passphrase,
                            KdfLimits limits = KdfLimits::Interactive());

// The public part of a key file, without a passphrase and whatever its mode (`v2gd keys show`
// reports the mode; loading refuses it). Errors name the file: kNotFound when it is missing,
// kCorruption for a file that is not a node key file (not JSON, a field missing or malformed,
// both a seed and a ciphertext, a seed that is not the public key's).
Result<NodeKeyInfo> InspectNodeKey(const std::string& path);

// Loads the key at `path`: refuses a loose mode (CheckKeyFileMode); asks `passphrase` only when
// the file is encrypted. Errors name the file: what InspectNodeKey says; kUnauthorized "wrong
// passphrase" naming the passphrase's origin (a changed file fails the same way); the
// passphrase's own error when there is none. `encrypted`, when given, tells which form it was.
Result<KeyPair> LoadNodeKey(const std::string& path, KeyPassphrase& passphrase,
                            bool* encrypted = nullptr);
// The same without a passphrase: for plain key files (tests, tools).
Result<KeyPair> LoadNodeKey(const std::string& path);

}  // namespace v2g
