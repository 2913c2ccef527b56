// Node key files (<home>/keys/validator_key.json, node_key.json): {"type": "ed25519",
// "public_key": hex, "seed": hex}, mode 0600, like CometBFT's priv_validator_key.json. The daemon
// must start unattended, so these are protected by file permissions rather than a passphrase;
// owners' account keys live in the wallet's encrypted keystore instead.
#pragma once

#include <string>

#include "common/crypto.h"
#include "common/status.h"

namespace v2g {

Status SaveNodeKey(const std::string& path, const KeyPair& key);
// Errors name the file and what is wrong (missing, not JSON, wrong length, key mismatch).
Result<KeyPair> LoadNodeKey(const std::string& path);

}  // namespace v2g
