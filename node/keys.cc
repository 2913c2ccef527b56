#include "node/keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/fsutil.h"

namespace v2g {
namespace {

using nlohmann::json;

constexpr std::string_view kKeyType = "ed25519";

// A file's bytes and permission bits, read through one descriptor (the mode is the file's that
// was read, not one at the same path a moment later). The text is wiped when this dies.
struct FileText {
  std::string text;
  unsigned mode = 0;
  FileText() = default;
  FileText(const FileText&) = delete;
  FileText& operator=(const FileText&) = delete;
  ~FileText() { SecureWipe(text.data(), text.size()); }
};

Status IoError(const std::string& what, const std::string& path) {
  return Error(Code::kIo, what + " " + path + ": " + std::strerror(errno));
}

// Reads the regular file at `path` of at most `bytes_max` bytes into `out` (reserved up front, so
// a secret is never left behind by a reallocation). `what` names it in errors ("key file").
Status ReadSmallFile(const std::string& path, size_t bytes_max, const std::string& what,
                     FileText& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) return Error(Code::kNotFound, "no " + what + " at " + path);
    return IoError("cannot open " + what, path);
  }
  struct stat st {};
  Status status = Status::Ok();
  if (::fstat(fd, &st) != 0) {
    status = IoError("cannot stat " + what, path);
  } else if (!S_ISREG(st.st_mode)) {
    status = Error(Code::kCorruption, what + " " + path + " is not a regular file");
  } else if (static_cast<uint64_t>(st.st_size) > bytes_max) {
    status = Error(Code::kCorruption, what + " " + path + " is " + std::to_string(st.st_size) +
                                          " bytes, more than a " + what + " holds");
  } else {
    out.mode = static_cast<unsigned>(st.st_mode & 07777);
    out.text.reserve(bytes_max + 1);
    out.text.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < out.text.size()) {
      ssize_t n = ::read(fd, out.text.data() + got, out.text.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = IoError("cannot read " + what, path);
        break;
      }
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    out.text.resize(got);
  }
  ::close(fd);
  return status;
}

std::string ModeText(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

std::string AssociatedData(std::string_view type, const PublicKey& public_key) {
  std::string ad = "v2gd node key\n";
  ad += type;
  ad += '\n';
  ad += HexEncode(public_key);
  return ad;
}

// A parsed key file: its public part, and either its seed (plain) or its sealed seed.
struct ParsedKey {
  NodeKeyInfo info;
  std::unique_ptr<SecretBytes> seed;  // plain files
  SealedSecret sealed;                // encrypted files
};

// The first problem with a field of `doc`, as kCorruption naming the file and the field.
class Fields {
 public:
  explicit Fields(const std::string& path) : path_(path) {}
  const json* Get(const json& obj, const std::string& name, const char* key) {
    if (!status_.ok()) return nullptr;
    auto it = obj.find(key);
    if (it == obj.end()) return Fail(name, "is missing"), nullptr;
    return &*it;
  }
  std::string String(const json& obj, const std::string& name, const char* key) {
    const json* v = Get(obj, name, key);
    if (v == nullptr) return {};
    if (!v->is_string()) return Fail(name, "must be a string"), std::string();
    return v->get<std::string>();
  }
  // Hex of exactly `bytes` bytes.
  Bytes Hex(const json& obj, const std::string& name, const char* key, size_t bytes) {
    const json* v = Get(obj, name, key);
    if (v == nullptr) return {};
    if (!v->is_string()) return Fail(name, "must be a string"), Bytes();
    auto decoded = HexDecode(v->get_ref<const std::string&>());
    if (!decoded.ok() || decoded->size() != bytes) {
      if (decoded.ok()) SecureWipe(decoded->data(), decoded->size());
      return Fail(name, "must be " + std::to_string(bytes) + " bytes of hex"), Bytes();
    }
    return std::move(decoded).value();
  }
  uint64_t Uint(const json& obj, const std::string& name, const char* key) {
    const json* v = Get(obj, name, key);
    if (v == nullptr) return 0;
    if (!v->is_number_unsigned()) return Fail(name, "must be a non-negative integer"), 0;
    return v->get<uint64_t>();
  }
  const json& Object(const json& obj, const std::string& name, const char* key) {
    static const json kEmpty = json::object();
    const json* v = Get(obj, name, key);
    if (v == nullptr) return kEmpty;
    if (!v->is_object()) return Fail(name, "must be an object"), kEmpty;
    return *v;
  }
  void Fail(const std::string& name, const std::string& why) {
    if (status_.ok()) {
      status_ = Error(Code::kCorruption, "key file " + path_ + ": field '" + name + "' " + why);
    }
  }
  const Status& status() const { return status_; }

 private:
  const std::string& path_;
  Status status_;
};

void ParseSealed(const json& doc, Fields& f, SealedSecret& s) {
  const json& kdf = f.Object(doc, "kdf", "kdf");
  if (std::string n = f.String(kdf, "kdf.name", "name"); f.status().ok() && n != kSealKdfName) {
    f.Fail("kdf.name", "is '" + n + "', expected '" + std::string(kSealKdfName) + "'");
  }
  s.salt = f.Hex(kdf, "kdf.salt", "salt", kSealSaltBytes);
  s.opslimit = f.Uint(kdf, "kdf.opslimit", "opslimit");
  s.memlimit =
      static_cast<size_t>(std::min<uint64_t>(f.Uint(kdf, "kdf.memlimit", "memlimit"), SIZE_MAX));
  const json& cipher = f.Object(doc, "cipher", "cipher");
  if (std::string n = f.String(cipher, "cipher.name", "name");
      f.status().ok() && n != kSealCipherName) {
    f.Fail("cipher.name", "is '" + n + "', expected '" + std::string(kSealCipherName) + "'");
  }
  s.nonce = f.Hex(cipher, "cipher.nonce", "nonce", kSealNonceBytes);
  s.ciphertext = f.Hex(doc, "ciphertext", "ciphertext", kSeedBytes + kSealTagBytes);
}

// The seed of a plain file; its hex in `doc` is wiped.
std::unique_ptr<SecretBytes> ParseSeed(json& doc, Fields& f) {
  Bytes raw = f.Hex(doc, "seed", "seed", kSeedBytes);
  if (json* v = doc.contains("seed") ? &doc["seed"] : nullptr; v != nullptr && v->is_string()) {
    std::string& hex = v->get_ref<std::string&>();
    SecureWipe(hex.data(), hex.size());
  }
  if (!f.status().ok()) {
    SecureWipe(raw.data(), raw.size());
    return nullptr;
  }
  auto seed = std::make_unique<SecretBytes>(kSeedBytes);
  std::copy(raw.begin(), raw.end(), seed->bytes().begin());
  SecureWipe(raw.data(), raw.size());
  return seed;
}

Result<ParsedKey> ParseKeyFile(const std::string& path, const FileText& file) {
  auto corrupt = [&](const std::string& why) {
    return Error(Code::kCorruption, "key file " + path + ": " + why);
  };
  json doc = json::parse(file.text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return corrupt("not a JSON object");
  ParsedKey out;
  out.info.path = path;
  out.info.mode = file.mode;
  Fields f(path);
  out.info.type = f.String(doc, "type", "type");
  if (f.status().ok() && out.info.type != kKeyType) f.Fail("type", "must be \"ed25519\"");
  const bool has_seed = doc.contains("seed");
  const bool has_ciphertext = doc.contains("ciphertext");
  if (has_seed && has_ciphertext) {
    f.Fail("seed", "and a ciphertext are both there: a key file is plain or encrypted");
  } else if (!has_seed && !has_ciphertext) {
    f.Fail("seed", "is missing (an encrypted key file has a ciphertext instead)");
  }
  out.info.encrypted = has_ciphertext;
  Bytes pk;
  // A plain file from before may lack its public key (the seed gives it); an encrypted one may not.
  if (has_ciphertext || doc.contains("public_key")) {
    pk = f.Hex(doc, "public_key", "public_key", kPublicKeyBytes);
  }
  if (has_ciphertext) {
    ParseSealed(doc, f, out.sealed);
  } else {
    out.seed = ParseSeed(doc, f);
  }
  V2G_RETURN_IF_ERROR(f.status());
  if (out.info.encrypted) {
    if (Status st = ValidateSealed(out.sealed, kSeedBytes); !st.ok()) return corrupt(st.message());
    std::copy(pk.begin(), pk.end(), out.info.public_key.begin());
    return out;
  }
  KeyPair key = KeyPair::FromSeed(out.seed->bytes());
  if (!pk.empty() && !std::equal(pk.begin(), pk.end(), key.public_key().begin())) {
    return corrupt("public_key does not match the seed");
  }
  out.info.public_key = key.public_key();
  return out;
}

Status WriteKeyFile(const std::string& path, std::string& text) {
  Status st = WriteFileAtomic(path, text, 0600);
  SecureWipe(text.data(), text.size());
  return st;
}

}  // namespace

// ------------------------------------------------------------------ passphrases

KeyPassphrase::KeyPassphrase(std::string origin, Reader read)
    : origin_(std::move(origin)), read_(std::move(read)) {}

KeyPassphrase KeyPassphrase::None(std::string why_none) {
  return KeyPassphrase("no passphrase", [why = std::move(why_none)]() -> Result<std::string> {
    return Error(Code::kUnauthenticated, why);
  });
}

KeyPassphrase::~KeyPassphrase() { SecureWipe(value_.data(), value_.size()); }

Result<std::string_view> KeyPassphrase::Get() {
  if (!read_done_) {
    read_done_ = true;
    auto r = read_();
    if (!r.ok()) {
      status_ = r.status();
    } else {
      value_ = std::move(r).value();
      if (value_.empty()) status_ = Error(Code::kInvalidArgument, origin_ + " is empty");
    }
  }
  if (!status_.ok()) return status_;
  return std::string_view(value_);
}

KeyPassphrase NodeKeyPassphrase(const std::string& home, const std::string& passphrase_file) {
  if (std::getenv(kKeyPassphraseEnv) != nullptr) {
    return KeyPassphrase(std::string("$") + kKeyPassphraseEnv, []() -> Result<std::string> {
      const char* env = std::getenv(kKeyPassphraseEnv);
      const size_t n = env == nullptr ? 0 : std::strlen(env);
      if (n > kPassphraseBytesMax) {
        return Error(Code::kInvalidArgument, std::string(kKeyPassphraseEnv) + " is longer than " +
                                                 std::to_string(kPassphraseBytesMax) + " bytes");
      }
      std::string out;
      out.reserve(kPassphraseBytesMax + 1);  // on the heap: moving it leaves no copy behind
      out.assign(env == nullptr ? "" : env, n);
      return out;
    });
  }
  if (!passphrase_file.empty()) {
    std::string path =
        passphrase_file.front() == '/' ? passphrase_file : home + "/" + passphrase_file;
    return KeyPassphrase("passphrase file " + path, [path] { return ReadPassphraseFile(path); });
  }
  return KeyPassphrase::None(
      "no passphrase was given: set [keys] passphrase_file in " + home +
      "/config.toml (a file holding it, mode 0600) or the environment variable " +
      kKeyPassphraseEnv);
}

Result<std::string> ReadPassphraseFile(const std::string& path) {
  FileText file;
  V2G_RETURN_IF_ERROR(ReadSmallFile(path, kPassphraseFileBytesMax, "passphrase file", file));
  if ((file.mode & 066) != 0) {
    return Error(Code::kPermissionDenied,
                 "passphrase file " + path + " has mode " + ModeText(file.mode) +
                     ": group or others may read or write it; refusing to use it (fix: chmod "
                     "600 " +
                     path + ")");
  }
  size_t end = file.text.find('\n');
  if (end == std::string::npos) end = file.text.size();
  if (end > 0 && file.text[end - 1] == '\r') --end;
  if (end == 0) return Error(Code::kInvalidArgument, "passphrase file " + path + " is empty");
  if (end > kPassphraseBytesMax) {
    return Error(Code::kInvalidArgument, "passphrase file " + path + ": its first line is longer " +
                                             "than " + std::to_string(kPassphraseBytesMax) +
                                             " bytes");
  }
  std::string out;
  out.reserve(kPassphraseBytesMax + 1);  // on the heap: moving it leaves no copy behind
  out.assign(file.text, 0, end);
  return out;
}

// ------------------------------------------------------------------ key files

Status CheckKeyFileMode(const std::string& path, unsigned mode) {
  if ((mode & 066) == 0) return Status::Ok();
  return Error(Code::kPermissionDenied,
               "key file " + path + " has mode " + ModeText(mode) +
                   ": group or others may read or write it, and it holds a secret key; refusing "
                   "to use it (fix: chmod 600 " +
                   path + ")");
}

Status SaveNodeKey(const std::string& path, const KeyPair& key) {
  Bytes seed = key.Seed();
  std::string seed_hex = HexEncode(seed);
  SecureWipe(seed.data(), seed.size());
  std::string text = "{\n  \"type\": \"ed25519\",\n  \"public_key\": \"" +
                     HexEncode(key.public_key()) + "\",\n  \"seed\": \"" + seed_hex + "\"\n}\n";
  SecureWipe(seed_hex.data(), seed_hex.size());
  return WriteKeyFile(path, text);
}

Status SaveNodeKeyEncrypted(const std::string& path, const KeyPair& key,
                            std::string_view passphrase, KdfLimits limits) {
  SecretBytes seed(kSeedBytes);
  Bytes s = key.Seed();
  std::copy(s.begin(), s.end(), seed.bytes().begin());
  SecureWipe(s.data(), s.size());
  auto sealed = SealWithPassphrase(seed.bytes(), passphrase,
                                   AssociatedData(kKeyType, key.public_key()), limits);
  if (!sealed.ok()) return sealed.status();
  nlohmann::ordered_json doc = {
      {"type", kKeyType},
      {"public_key", HexEncode(key.public_key())},
      {"kdf",
       {{"name", kSealKdfName},
        {"salt", HexEncode(sealed->salt)},
        {"opslimit", sealed->opslimit},
        {"memlimit", sealed->memlimit}}},
      {"cipher", {{"name", kSealCipherName}, {"nonce", HexEncode(sealed->nonce)}}},
      {"ciphertext", HexEncode(sealed->ciphertext)},
  };
  std::string text = doc.dump(2) + "\n";
  return WriteKeyFile(path, text);
}

Result<NodeKeyInfo> InspectNodeKey(const std::string& path) {
  FileText file;
  V2G_RETURN_IF_ERROR(ReadSmallFile(path, kNodeKeyFileBytesMax, "key file", file));
  auto parsed = ParseKeyFile(path, file);
  if (!parsed.ok()) return parsed.status();
  return parsed->info;
}

Result<KeyPair> LoadNodeKey(const std::string& path, KeyPassphrase& passphrase, bool* encrypted) {
  FileText file;
  V2G_RETURN_IF_ERROR(ReadSmallFile(path, kNodeKeyFileBytesMax, "key file", file));
  V2G_RETURN_IF_ERROR(CheckKeyFileMode(path, file.mode));
  auto parsed = ParseKeyFile(path, file);
  if (!parsed.ok()) return parsed.status();
  if (encrypted != nullptr) *encrypted = parsed->info.encrypted;
  if (!parsed->info.encrypted) return KeyPair::FromSeed(parsed->seed->bytes());

  auto pass = passphrase.Get();
  if (!pass.ok()) {
    return Error(pass.status().code(),
                 "key file " + path + " is encrypted: " + pass.status().message());
  }
  SecretBytes seed(kSeedBytes);
  const std::string ad = AssociatedData(parsed->info.type, parsed->info.public_key);
  if (Status st = OpenWithPassphrase(parsed->sealed, *pass, ad, seed); !st.ok()) {
    if (st.code() != Code::kUnauthorized)
      return Error(st.code(), "key file " + path + ": " + st.message());
    return Error(Code::kUnauthorized, "key file " + path + ": wrong passphrase (from " +
                                          passphrase.origin() + "), or the file was altered");
  }
  KeyPair key = KeyPair::FromSeed(seed.bytes());
  // The tag covers the public key, so this fails only for a file whose writer sealed the seed of
  // another key (a bug or a forgery made with the passphrase).
  if (key.public_key() != parsed->info.public_key) {
    return Error(Code::kCorruption,
                 "key file " + path + ": the encrypted seed is not public_key's");
  }
  return key;
}

Result<KeyPair> LoadNodeKey(const std::string& path) {
  KeyPassphrase none = KeyPassphrase::None("no passphrase was given");
  return LoadNodeKey(path, none);
}

}  // namespace v2g
