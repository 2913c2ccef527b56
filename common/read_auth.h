// Signed reads (docs/API.md "Signed reads", docs/DESIGN.md "Who may read what"): a client proves
// which account it reads as by signing the request with that account's Ed25519 key; the node
// checks it against the role model before it answers with personal data. Shared by the node
// (node/api/access.h) and the wallet's client (wallet/client.h) so both build the same bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace v2g {

// The request headers of a signed read.
inline constexpr const char* kReadKeyHeader = "X-V2G-Reader";            // 64 hex: Ed25519 public key
inline constexpr const char* kReadTimeHeader = "X-V2G-Time";             // Unix ms when signed
inline constexpr const char* kReadNonceHeader = "X-V2G-Nonce";           // 16..64 hex, fresh per request
inline constexpr const char* kReadSignatureHeader = "X-V2G-Signature";  // 128 hex

// What is signed: a domain tag, the chain (a signature for one chain is void on another), the
// method, the request target as the node sees it (the path from /v1 on, with the query exactly
// as sent: a proxy that strips a path prefix in front of the node keeps it valid), the time and
// the nonce, one per line.
inline std::string ReadAuthMessage(std::string_view chain_id, std::string_view method, std::string_view target,
                                   int64_t time_ms, std::string_view nonce) {
  std::string m = "v2g-read-v1\n";
  m.append(chain_id).append("\n").append(method).append("\n").append(target).append("\n");
  m.append(std::to_string(time_ms)).append("\n").append(nonce);
  return m;
}

}  // namespace v2g
