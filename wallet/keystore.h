// The wallet keystore: Ed25519 keys encrypted at rest, one JSON file per key in `<home>/keys/`.
//
// File `<home>/keys/<name>.json` (mode 0600, written atomically: temp file, fsync, rename,
// fsync of the directory):
//   {"version": 1, "name": "alice", "address": "v2g1...", "pubkey": "<hex>",
//    "kdf": {"name": "argon2id13", "salt": "<hex, 16 bytes>", "opslimit": n, "memlimit": n},
//    "cipher": {"name": "xchacha20poly1305-ietf", "nonce": "<hex, 24 bytes>"},
//    "ciphertext": "<hex: 32-byte seed + 16-byte tag>"}
// The encryption key is Argon2id13(passphrase, salt, opslimit, memlimit): the seal of
// common/passphrase_seal.h, which the node's key files share. The AEAD's associated data is
// `name "\n" address "\n" pubkey-hex`, so a file cannot be renamed or given another public key
// without failing to decrypt.
//
// A wrong passphrase and a modified ciphertext/nonce/salt cannot be told apart (both fail the
// AEAD tag); both are reported as a wrong passphrase. Fields that can be checked without the
// passphrase (JSON shape, hex, lengths, address = f(pubkey), name = file name) are, and their
// failures are kCorruption naming the file.
//
// Not thread-safe against concurrent writers of the same name beyond what the filesystem gives:
// Add/Import never overwrite an existing file (rename with RENAME_NOREPLACE).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto.h"
#include "common/passphrase_seal.h"
#include "common/status.h"

namespace v2g {

// A key file is ~600 bytes; anything much larger is not ours.
constexpr size_t kKeyFileBytesMax = 64 * 1024;
constexpr size_t kKeyNameMax = 64;

// Public information about a stored key.
struct KeyInfo {
  std::string name;
  std::string address;     // v2g1...
  std::string pubkey_hex;  // 64 hex digits
  std::string path;        // the key file
  // What the key is for, as its creator said: "account" (signs txs), "device" (a meter's signing
  // key, 'v2g meter keygen') or "fleet" (the seed meter-sim derives device keys from). A label for
  // people: not authenticated with the key, and a file without one is an account key.
  std::string kind = "account";
};

// "account", "device" or "fleet".
bool ValidKeyKind(std::string_view kind);

// OK when `name` is 1-64 characters of [A-Za-z0-9_.-]; else kInvalidArgument saying why.
Status ValidateKeyName(std::string_view name);

class Keystore {
 public:
  // `home` is the wallet home (e.g. ~/.v2g); keys live in `home`/keys, created (0700) on the
  // first write. `limits` is the KDF cost for keys this object creates.
  explicit Keystore(std::string home, KdfLimits limits = KdfLimits::Interactive());

  const std::string& dir() const { return dir_; }
  // Path of the file that holds (or would hold) key `name`. `name` must be valid.
  std::string PathOf(std::string_view name) const;

  // Generates a new key and stores it. kAlreadyExists if the name is taken, kInvalidArgument for
  // a bad name or an empty passphrase, kIo when the file cannot be written.
  Result<KeyInfo> Add(std::string_view name, std::string_view passphrase, std::string_view kind = "account");
  // Stores the key with this seed (64 hex digits; surrounding whitespace is ignored).
  Result<KeyInfo> Import(std::string_view name, std::string_view seed_hex,
                         std::string_view passphrase);
  // All keys, sorted by name. A key file that cannot be read fails the whole list (kCorruption
  // or kIo naming the file). A missing keys directory is an empty list.
  Result<std::vector<KeyInfo>> List() const;
  // Public info without the passphrase. kNotFound if there is no such key.
  Result<KeyInfo> Show(std::string_view name) const;
  // Decrypts the key. kUnauthorized "wrong passphrase for key 'alice'" when the AEAD check fails;
  // never modifies the file.
  Result<KeyPair> Load(std::string_view name, std::string_view passphrase) const;
  // Removes the key file (and syncs the directory). kNotFound if there is no such key.
  Status Delete(std::string_view name);

 private:
  Result<KeyInfo> Store(std::string_view name, const KeyPair& key, std::string_view passphrase,
                        std::string_view kind);

  std::string dir_;
  KdfLimits limits_;
};

}  // namespace v2g
