// Framing (step 3 of the wire format in p2p.h; the auth, ack and messages of steps 4 and 5 travel
// in frames): u32 big-endian length | one crypto_secretstream_xchacha20poly1305 push of the
// plaintext. Internal to node/p2p/. P2P thread only; one reader and one writer at a time per
// connection.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"
#include "node/p2p/conn.h"

namespace v2g::p2p {

// Reads/writes exactly `buf` on c.socket. Errors say what happened: kTimeout when the handshake
// timer fired, the reason we closed the connection if we did, kUnavailable when the peer closed
// it (naming `what` we were reading), else kIo with the socket error.
Awaitable<Status> ReadExact(Conn& c, asio::mutable_buffer buf, const char* what);
Awaitable<Status> WriteExact(Conn& c, asio::const_buffer buf, const char* what);

// Reads one frame and decrypts it with c.pull. The announced length is checked against
// [min_len, max_len] before anything is allocated (kTooLarge / kMalformed); a frame that does not
// decrypt or is not a TAG_MESSAGE is kMalformed.
Awaitable<Result<std::string>> ReadFrame(Conn& c, size_t min_len, size_t max_len);
// Encrypts `plain` (at most kP2pMessageBytesMax, asserted) with c.push and writes it as one frame.
Awaitable<Status> WriteFrame(Conn& c, std::string_view plain);

}  // namespace v2g::p2p
