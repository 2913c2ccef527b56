#include "wallet/keystore.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/bech32.h"
#include "common/bytes.h"
#include "common/fsutil.h"

namespace v2g {
namespace {

using nlohmann::json;

constexpr int kKeystoreVersion = 1;
constexpr std::string_view kFileSuffix = ".json";

std::string ErrnoText() { return std::strerror(errno); }

Status IoError(const std::string& what, const std::string& path) {
  return Error(Code::kIo, what + " " + path + ": " + ErrnoText());
}

// ------------------------------------------------------------------ files

// mkdir -p with mode 0700 for the wallet home and its keys folder (keys are secrets even
// encrypted: the file names say who you are). Existing directories keep their mode.
Status MakeDir(const std::string& dir) {
  size_t slash = dir.rfind('/');
  if (slash != std::string::npos && slash > 0 && ::access(dir.c_str(), F_OK) != 0) {
    V2G_RETURN_IF_ERROR(MakeDir(dir.substr(0, slash)));
  }
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return IoError("cannot stat", dir);
    if (!S_ISDIR(st.st_mode)) return Error(Code::kIo, dir + " exists and is not a directory");
    return Status::Ok();
  }
  return IoError("cannot create directory", dir);
}

// kNotFound for key `name`, whose file would be `path`: names the wallet folder it looked in and
// how to point at another.
Status NoKeyNamed(const std::string& path, std::string_view name) {
  const std::string dir = path.substr(0, path.find_last_of('/'));
  return Error(Code::kNotFound, "no key named '" + std::string(name) + "' in " + dir +
                                    " (another wallet: --home DIR or V2G_HOME; its keys: v2g keys list)");
}

// Reads a key file. kNotFound when it does not exist.
Result<std::string> ReadKeyFile(const std::string& path, std::string_view name) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NoKeyNamed(path, name);
    return IoError("cannot open", path);
  }
  struct stat st {};
  std::string out;
  Status status = Status::Ok();
  if (::fstat(fd, &st) != 0) {
    status = IoError("cannot stat", path);
  } else if (!S_ISREG(st.st_mode)) {
    status = Error(Code::kCorruption, path + " is not a regular file");
  } else if (static_cast<size_t>(st.st_size) > kKeyFileBytesMax) {
    status = Error(Code::kCorruption,
                   path + " is " + std::to_string(st.st_size) + " bytes, too large for a key file");
  } else {
    out.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < out.size()) {
      ssize_t n = ::read(fd, out.data() + got, out.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = IoError("cannot read", path);
        break;
      }
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    out.resize(got);
  }
  ::close(fd);
  if (!status.ok()) return status;
  return out;
}

// ------------------------------------------------------------------ file format

struct KeyFile {
  std::string name;
  std::string kind = "account";
  std::string address;
  PublicKey pubkey{};
  SealedSecret sealed;  // the seed
};

std::string AssociatedData(std::string_view name, std::string_view address,
                           std::string_view pubkey_hex) {
  std::string ad(name);
  ad += '\n';
  ad += address;
  ad += '\n';
  ad += pubkey_hex;
  return ad;
}

// Reads fields of one JSON object, remembering the first problem as a kCorruption naming the file.
class FieldReader {
 public:
  FieldReader(const json& obj, std::string path, std::string prefix)
      : obj_(obj), path_(std::move(path)), prefix_(std::move(prefix)) {}

  std::string String(const char* key) {
    const json* v = Find(key);
    if (v == nullptr) return {};
    if (!v->is_string()) return Fail(key, "must be a string"), std::string();
    return v->get<std::string>();
  }
  Bytes Hex(const char* key, size_t expected_bytes) {
    std::string text = String(key);
    if (!status_.ok()) return {};
    auto bytes = HexDecode(text);
    if (!bytes.ok()) return Fail(key, bytes.status().message()), Bytes();
    if (bytes->size() != expected_bytes) {
      return Fail(key, "must be " + std::to_string(expected_bytes) + " bytes, got " +
                           std::to_string(bytes->size())),
             Bytes();
    }
    return std::move(bytes).value();
  }
  uint64_t Uint(const char* key) {
    const json* v = Find(key);
    if (v == nullptr) return 0;
    if (!v->is_number_unsigned()) return Fail(key, "must be a non-negative integer"), 0;
    return v->get<uint64_t>();
  }
  const json& Object(const char* key) {
    static const json kEmpty = json::object();
    const json* v = Find(key);
    if (v == nullptr) return kEmpty;
    if (!v->is_object()) return Fail(key, "must be an object"), kEmpty;
    return *v;
  }
  void Fail(const std::string& key, const std::string& why) {
    if (status_.ok()) {
      status_ =
          Error(Code::kCorruption, "key file " + path_ + ": field '" + prefix_ + key + "' " + why);
    }
  }
  Status& status() { return status_; }

 private:
  const json* Find(const char* key) {
    if (!status_.ok()) return nullptr;
    auto it = obj_.find(key);
    if (it == obj_.end()) {
      Fail(key, "is missing");
      return nullptr;
    }
    return &*it;
  }

  const json& obj_;
  std::string path_;
  std::string prefix_;
  Status status_;
};

Status CheckPublicFields(const KeyFile& f, std::string_view expected_name,
                         const std::string& path) {
  auto corrupt = [&](const std::string& why) {
    return Error(Code::kCorruption, "key file " + path + ": " + why);
  };
  if (f.name != expected_name) {
    return corrupt("holds key '" + f.name + "', expected '" + std::string(expected_name) + "'");
  }
  auto addr = DecodeAddress(f.address);
  if (!addr.ok()) return corrupt(addr.status().message());
  if (*addr != AddressFromPublicKey(f.pubkey)) return corrupt("address does not match pubkey");
  if (Status st = ValidateSealed(f.sealed, kSeedBytes); !st.ok()) return corrupt(st.message());
  return Status::Ok();
}

Result<KeyFile> ParseKeyFile(std::string_view text, std::string_view expected_name,
                             const std::string& path) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Error(Code::kCorruption, "key file " + path + " is not a JSON object");
  }
  FieldReader top(doc, path, "");
  uint64_t version = top.Uint("version");
  if (top.status().ok() && version != kKeystoreVersion) {
    return Error(Code::kCorruption, "key file " + path + " has version " + std::to_string(version) +
                                        "; this wallet reads version 1");
  }
  KeyFile f;
  f.name = top.String("name");
  if (doc.contains("kind")) {
    f.kind = top.String("kind");
    if (top.status().ok() && !ValidKeyKind(f.kind)) top.Fail("kind", "is '" + f.kind + "', expected account, device or fleet");
  }
  f.address = top.String("address");
  Bytes pk = top.Hex("pubkey", kPublicKeyBytes);
  f.sealed.ciphertext = top.Hex("ciphertext", kSeedBytes + kSealTagBytes);
  const json& kdf = top.Object("kdf");
  const json& cipher = top.Object("cipher");
  V2G_RETURN_IF_ERROR(top.status());
  std::copy(pk.begin(), pk.end(), f.pubkey.begin());

  FieldReader k(kdf, path, "kdf.");
  if (std::string n = k.String("name"); k.status().ok() && n != kSealKdfName)
    k.Fail("name", "is '" + n + "', expected 'argon2id13'");
  f.sealed.salt = k.Hex("salt", kSealSaltBytes);
  f.sealed.opslimit = k.Uint("opslimit");
  f.sealed.memlimit = static_cast<size_t>(std::min<uint64_t>(k.Uint("memlimit"), SIZE_MAX));
  V2G_RETURN_IF_ERROR(k.status());

  FieldReader c(cipher, path, "cipher.");
  if (std::string n = c.String("name"); c.status().ok() && n != kSealCipherName) {
    c.Fail("name", "is '" + n + "', expected 'xchacha20poly1305-ietf'");
  }
  f.sealed.nonce = c.Hex("nonce", kSealNonceBytes);
  V2G_RETURN_IF_ERROR(c.status());

  V2G_RETURN_IF_ERROR(CheckPublicFields(f, expected_name, path));
  return f;
}

std::string SerializeKeyFile(const KeyFile& f) {
  // ordered_json keeps the fields in the documented order for people reading the file.
  nlohmann::ordered_json doc = {
      {"version", kKeystoreVersion},
      {"name", f.name},
      {"kind", f.kind},
      {"address", f.address},
      {"pubkey", HexEncode(ByteView(f.pubkey.data(), f.pubkey.size()))},
      {"kdf",
       {{"name", kSealKdfName},
        {"salt", HexEncode(f.sealed.salt)},
        {"opslimit", f.sealed.opslimit},
        {"memlimit", f.sealed.memlimit}}},
      {"cipher", {{"name", kSealCipherName}, {"nonce", HexEncode(f.sealed.nonce)}}},
      {"ciphertext", HexEncode(f.sealed.ciphertext)},
  };
  return doc.dump(2) + "\n";
}

KeyInfo InfoOf(const KeyFile& f, std::string path) {
  return KeyInfo{f.name, f.address, HexEncode(ByteView(f.pubkey.data(), f.pubkey.size())),
                 std::move(path), f.kind};
}

}  // namespace

Status ValidateKeyName(std::string_view name) {
  if (name.empty()) return Error(Code::kInvalidArgument, "key name is empty");
  if (name.size() > kKeyNameMax) {
    return Error(Code::kInvalidArgument,
                 "key name is " + std::to_string(name.size()) + " characters, at most 64 allowed");
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) {
      return Error(Code::kInvalidArgument,
                   "key name '" + std::string(name) +
                       "' may only contain letters, digits, '_', '.' and '-'");
    }
  }
  return Status::Ok();
}

Keystore::Keystore(std::string home, KdfLimits limits)
    : dir_(std::move(home) + "/keys"), limits_(limits) {
  V2G_ASSERT(limits_.opslimit >= crypto_pwhash_argon2id_OPSLIMIT_MIN);
  V2G_ASSERT(limits_.memlimit >= crypto_pwhash_argon2id_MEMLIMIT_MIN);
}

std::string Keystore::PathOf(std::string_view name) const {
  V2G_ASSERT(ValidateKeyName(name).ok());
  return dir_ + "/" + std::string(name) + std::string(kFileSuffix);
}

bool ValidKeyKind(std::string_view kind) { return kind == "account" || kind == "device" || kind == "fleet"; }

Result<KeyInfo> Keystore::Add(std::string_view name, std::string_view passphrase, std::string_view kind) {
  V2G_RETURN_IF_ERROR(ValidateKeyName(name));
  V2G_ASSERT(ValidKeyKind(kind));
  return Store(name, KeyPair::Generate(), passphrase, kind);
}

Result<KeyInfo> Keystore::Import(std::string_view name, std::string_view seed_hex,
                                 std::string_view passphrase) {
  V2G_RETURN_IF_ERROR(ValidateKeyName(name));
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!seed_hex.empty() && is_space(seed_hex.front())) seed_hex.remove_prefix(1);
  while (!seed_hex.empty() && is_space(seed_hex.back())) seed_hex.remove_suffix(1);
  auto seed = HexDecode(seed_hex);
  if (!seed.ok())
    return Error(Code::kInvalidArgument, "seed is not hex: " + seed.status().message());
  Bytes raw = std::move(seed).value();
  if (raw.size() != kSeedBytes) {
    size_t got = raw.size();
    SecureWipe(raw.data(), raw.size());
    return Error(Code::kInvalidArgument,
                 "seed must be 32 bytes (64 hex digits), got " + std::to_string(got) + " bytes");
  }
  KeyPair key = KeyPair::FromSeed(raw);
  SecureWipe(raw.data(), raw.size());
  return Store(name, key, passphrase, "account");
}

Result<KeyInfo> Keystore::Store(std::string_view name, const KeyPair& key, std::string_view passphrase,
                                std::string_view kind) {
  if (passphrase.empty()) return Error(Code::kInvalidArgument, "passphrase must not be empty");
  const std::string path = PathOf(name);
  // Fail early with a clear message; the no-replace rename below is what actually guarantees it.
  if (::access(path.c_str(), F_OK) == 0) {
    return Error(Code::kAlreadyExists, "a key named '" + std::string(name) + "' already exists");
  }
  V2G_RETURN_IF_ERROR(MakeDir(dir_));

  KeyFile f;
  f.name = std::string(name);
  f.kind = std::string(kind);
  f.pubkey = key.public_key();
  f.address = EncodeAddress(AddressFromPublicKey(f.pubkey));

  SecretBytes seed(kSeedBytes);
  Bytes s = key.Seed();
  std::copy(s.begin(), s.end(), seed.bytes().begin());
  SecureWipe(s.data(), s.size());
  const std::string ad =
      AssociatedData(f.name, f.address, HexEncode(ByteView(f.pubkey.data(), 32)));
  auto sealed = SealWithPassphrase(seed.bytes(), passphrase, ad, limits_);
  if (!sealed.ok()) return sealed.status();
  f.sealed = std::move(sealed).value();

  Status st = WriteFileAtomic(path, SerializeKeyFile(f), 0600, Overwrite::kRefuse);
  if (st.code() == Code::kAlreadyExists) {
    return Error(Code::kAlreadyExists, "a key named '" + std::string(name) + "' already exists");
  }
  V2G_RETURN_IF_ERROR(st);
  return InfoOf(f, path);
}

Result<std::vector<KeyInfo>> Keystore::List() const {
  std::vector<KeyInfo> out;
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return out;
    return IoError("cannot open directory", dir_);
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view file(e->d_name);
    if (file.size() <= kFileSuffix.size() || !file.ends_with(kFileSuffix)) continue;
    std::string_view name = file.substr(0, file.size() - kFileSuffix.size());
    if (ValidateKeyName(name).ok()) names.emplace_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    auto info = Show(name);
    if (!info.ok()) return info.status();
    out.push_back(std::move(info).value());
  }
  return out;
}

Result<KeyInfo> Keystore::Show(std::string_view name) const {
  V2G_RETURN_IF_ERROR(ValidateKeyName(name));
  const std::string path = PathOf(name);
  auto text = ReadKeyFile(path, name);
  if (!text.ok()) return text.status();
  auto f = ParseKeyFile(*text, name, path);
  if (!f.ok()) return f.status();
  return InfoOf(*f, path);
}

Result<KeyPair> Keystore::Load(std::string_view name, std::string_view passphrase) const {
  V2G_RETURN_IF_ERROR(ValidateKeyName(name));
  const std::string path = PathOf(name);
  auto text = ReadKeyFile(path, name);
  if (!text.ok()) return text.status();
  auto parsed = ParseKeyFile(*text, name, path);
  if (!parsed.ok()) return parsed.status();
  const KeyFile& f = *parsed;

  const std::string ad =
      AssociatedData(f.name, f.address, HexEncode(ByteView(f.pubkey.data(), 32)));
  SecretBytes seed(kSeedBytes);
  if (Status st = OpenWithPassphrase(f.sealed, passphrase, ad, seed); !st.ok()) {
    if (st.code() != Code::kUnauthorized) return st;
    return Error(Code::kUnauthorized, "wrong passphrase for key '" + std::string(name) + "'");
  }
  KeyPair key = KeyPair::FromSeed(seed.bytes());
  // The tag covers the pubkey as associated data, so this only fails for a file made by a buggy
  // or hostile writer that encrypted a seed of a different key.
  if (key.public_key() != f.pubkey) {
    return Error(Code::kCorruption, "key file " + path + ": encrypted seed does not match pubkey");
  }
  return key;
}

Status Keystore::Delete(std::string_view name) {
  V2G_RETURN_IF_ERROR(ValidateKeyName(name));
  const std::string path = PathOf(name);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return NoKeyNamed(path, name);
    return IoError("cannot delete", path);
  }
  return SyncDir(dir_);
}

}  // namespace v2g
