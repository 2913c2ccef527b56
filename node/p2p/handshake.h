// The handshake (steps 1, 2 and 4 of the wire format in p2p.h), as pieces that need no peer
// table: opening the encrypted stream, and making and checking the signed auth message. Which
// keys are accepted, and the order of the auth exchange, are P2p::Impl's (handshake.cc).
// Internal to node/p2p/. P2P thread only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/crypto.h"
#include "common/status.h"
#include "node/p2p/conn.h"

namespace v2g::p2p {

// Steps 1 and 2: hello both ways with a fresh X25519 key, crypto_kx session keys (the dialer is
// the client), a secretstream header each way. On success c.push and c.pull are ready and
// c.dialer_eph / c.listener_eph are set. Errors: kMalformed (bad magic, version, key or stream
// header) or what ReadExact/WriteExact report.
Awaitable<Status> OpenStream(Conn& c);

// BLAKE2b-256("v2gledger/p2p/v1" || chain_id || dialer eph || listener eph || role): what the
// node in `role` (kP2pRoleDialer / kP2pRoleListener) signs. Needs OpenStream's keys.
Hash256 AuthTranscript(std::string_view chain_id, const Conn& c, uint8_t role);
// Our auth message for `c`: node public key (32) | signature of the transcript for our role.
std::string MakeAuth(const KeyPair& node_key, std::string_view chain_id, const Conn& c);
// The peer's auth message for `c`: its key when the signature verifies for the peer's role.
// Errors: kMalformed (wrong size), kBadSignature (names the key). Says nothing about whether
// the key is allowed.
Result<PublicKey> VerifyAuth(std::string_view chain_id, const Conn& c, std::string_view auth);

}  // namespace v2g::p2p
