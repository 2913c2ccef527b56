#include "node/p2p/frame.h"

#include <sodium.h>

#include <array>
#include <cstdint>
#include <vector>

#include "common/assert.h"
#include "node/p2p/p2p.h"

namespace v2g::p2p {
namespace {

static_assert(kP2pStreamHeaderBytes == crypto_secretstream_xchacha20poly1305_HEADERBYTES);
static_assert(kP2pFrameOverheadBytes == crypto_secretstream_xchacha20poly1305_ABYTES);
static_assert(kP2pFrameBytesMax <= UINT32_MAX);

// A frame buffer that grew past this is released after use, so one big block does not pin
// kP2pFrameBytesMax of memory per peer for the life of the connection.
constexpr size_t kBufferKeepBytesMax = 1024 * 1024;

// Maps a socket error to a Status that says what happened.
Status IoStatus(const Conn& c, const error_code& ec, const char* what) {
  if (c.timed_out) return Error(Code::kTimeout, "handshake timed out");
  if (c.close_reason) return *c.close_reason;
  if (ec == asio::error::eof) {
    return Error(Code::kUnavailable,
                 std::string("connection closed by peer (reading ") + what + ")");
  }
  return Error(Code::kIo, std::string(what) + ": " + ec.message());
}

void ReleaseIfBig(std::vector<uint8_t>& buf) {
  if (buf.capacity() > kBufferKeepBytesMax) std::vector<uint8_t>().swap(buf);
}

}  // namespace

Awaitable<Status> ReadExact(Conn& c, asio::mutable_buffer buf, const char* what) {
  error_code ec;
  co_await asio::async_read(c.socket, buf, Redirect(ec));
  if (ec) co_return IoStatus(c, ec, what);
  co_return Status::Ok();
}

Awaitable<Status> WriteExact(Conn& c, asio::const_buffer buf, const char* what) {
  error_code ec;
  co_await asio::async_write(c.socket, buf, Redirect(ec));
  if (ec) co_return IoStatus(c, ec, what);
  co_return Status::Ok();
}

Awaitable<Result<std::string>> ReadFrame(Conn& c, size_t min_len, size_t max_len) {
  std::array<uint8_t, 4> prefix{};
  Status st = co_await ReadExact(c, asio::buffer(prefix), "frame length");
  if (!st.ok()) co_return st;
  const size_t len = (size_t{prefix[0]} << 24) | (size_t{prefix[1]} << 16) |
                     (size_t{prefix[2]} << 8) | size_t{prefix[3]};
  if (len > max_len) {
    co_return Error(Code::kTooLarge, "frame of " + std::to_string(len) +
                                         " bytes exceeds the cap of " + std::to_string(max_len));
  }
  if (len < min_len) {
    co_return Error(Code::kMalformed, "frame of " + std::to_string(len) +
                                          " bytes is shorter than " + std::to_string(min_len));
  }
  c.rbuf.resize(len);
  st = co_await ReadExact(c, asio::buffer(c.rbuf), "frame body");
  if (!st.ok()) co_return st;
  std::string plain(len - kP2pFrameOverheadBytes, '\0');
  unsigned long long plain_len = 0;
  unsigned char tag = 0;
  int rc = crypto_secretstream_xchacha20poly1305_pull(
      &c.pull, reinterpret_cast<unsigned char*>(plain.data()), &plain_len, &tag, c.rbuf.data(), len,
      nullptr, 0);
  ReleaseIfBig(c.rbuf);
  if (rc != 0) co_return Error(Code::kMalformed, "frame decryption failed");
  if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) {
    co_return Error(Code::kMalformed, "unexpected secretstream tag " + std::to_string(tag));
  }
  V2G_ASSERT(plain_len == plain.size());
  co_return plain;
}

Awaitable<Status> WriteFrame(Conn& c, std::string_view plain) {
  V2G_ASSERT(plain.size() <= kP2pMessageBytesMax);
  const size_t len = plain.size() + kP2pFrameOverheadBytes;
  c.wbuf.resize(4 + len);
  c.wbuf[0] = static_cast<uint8_t>(len >> 24);
  c.wbuf[1] = static_cast<uint8_t>(len >> 16);
  c.wbuf[2] = static_cast<uint8_t>(len >> 8);
  c.wbuf[3] = static_cast<uint8_t>(len);
  unsigned long long cipher_len = 0;
  crypto_secretstream_xchacha20poly1305_push(
      &c.push, c.wbuf.data() + 4, &cipher_len, reinterpret_cast<const unsigned char*>(plain.data()),
      plain.size(), nullptr, 0, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
  V2G_ASSERT(cipher_len == len);
  Status st = co_await WriteExact(c, asio::buffer(c.wbuf), "writing a frame");
  ReleaseIfBig(c.wbuf);
  co_return st;
}

}  // namespace v2g::p2p
