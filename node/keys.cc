#include "node/keys.h"

#include <nlohmann/json.hpp>

#include "common/fsutil.h"

namespace v2g {

Status SaveNodeKey(const std::string& path, const KeyPair& key) {
  Bytes seed = key.Seed();
  nlohmann::json j = {{"type", "ed25519"}, {"public_key", HexEncode(key.public_key())}, {"seed", HexEncode(seed)}};
  SecureWipe(seed.data(), seed.size());
  std::string text = j.dump(2) + "\n";
  Status st = WriteFileAtomic(path, text, 0600);
  SecureWipe(text.data(), text.size());
  return st;
}

Result<KeyPair> LoadNodeKey(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  auto bad = [&](const std::string& what) { return Error(Code::kCorruption, "key file " + path + ": " + what); };
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  SecureWipe(text->data(), text->size());
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  if (j.value("type", "") != "ed25519") return bad("type must be \"ed25519\"");
  if (!j.contains("seed") || !j["seed"].is_string()) return bad("missing seed");
  auto seed = HexDecode(j["seed"].get<std::string>());
  if (!seed.ok() || seed->size() != kSeedBytes) return bad("seed must be 32 bytes of hex");
  KeyPair key = KeyPair::FromSeed(*seed);
  SecureWipe(seed->data(), seed->size());
  if (j.contains("public_key") && j["public_key"] != HexEncode(key.public_key())) {
    return bad("public_key does not match the seed");
  }
  return key;
}

}  // namespace v2g
