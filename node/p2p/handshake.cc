#include "node/p2p/handshake.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <iterator>
#include <optional>
#include <string>

#include "common/assert.h"
#include "node/p2p/frame.h"
#include "node/p2p/impl.h"
#include "node/p2p/p2p.h"

namespace v2g {
namespace p2p {
namespace {

static_assert(crypto_kx_PUBLICKEYBYTES == 32 && crypto_kx_SESSIONKEYBYTES == 32);

// Fixed-size secret buffer wiped on destruction.
template <size_t N>
struct Secret {
  std::array<uint8_t, N> bytes{};
  Secret() = default;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  ~Secret() { sodium_memzero(bytes.data(), bytes.size()); }
  uint8_t* data() { return bytes.data(); }
};

}  // namespace

Awaitable<Status> OpenStream(Conn& conn) {
  std::array<uint8_t, crypto_kx_PUBLICKEYBYTES> eph_pk{};
  Secret<crypto_kx_SECRETKEYBYTES> eph_sk;
  crypto_kx_keypair(eph_pk.data(), eph_sk.data());

  std::array<uint8_t, kP2pHelloBytes> hello{};
  std::copy(std::begin(kP2pHelloMagic), std::end(kP2pHelloMagic), hello.begin());
  hello[4] = static_cast<uint8_t>(kP2pProtocolVersion >> 8);
  hello[5] = static_cast<uint8_t>(kP2pProtocolVersion & 0xff);
  std::copy(eph_pk.begin(), eph_pk.end(), hello.begin() + 6);
  Status st = co_await WriteExact(conn, asio::buffer(hello), "hello");
  if (!st.ok()) co_return st;
  std::array<uint8_t, kP2pHelloBytes> peer_hello{};
  st = co_await ReadExact(conn, asio::buffer(peer_hello), "hello");
  if (!st.ok()) co_return st;
  if (!std::equal(std::begin(kP2pHelloMagic), std::end(kP2pHelloMagic), peer_hello.begin())) {
    co_return Error(Code::kMalformed, "not a v2gledger p2p hello (bad magic)");
  }
  const int version = (peer_hello[4] << 8) | peer_hello[5];
  if (version != kP2pProtocolVersion) {
    co_return Error(Code::kMalformed, "unsupported protocol version " + std::to_string(version) +
                                          " (we speak " + std::to_string(kP2pProtocolVersion) +
                                          ")");
  }
  std::array<uint8_t, 32> peer_eph{};
  std::copy(peer_hello.begin() + 6, peer_hello.end(), peer_eph.begin());
  conn.dialer_eph = conn.inbound ? peer_eph : eph_pk;
  conn.listener_eph = conn.inbound ? eph_pk : peer_eph;

  Secret<crypto_kx_SESSIONKEYBYTES> rx, tx;
  int rc = conn.inbound ? crypto_kx_server_session_keys(rx.data(), tx.data(), eph_pk.data(),
                                                        eph_sk.data(), peer_eph.data())
                        : crypto_kx_client_session_keys(rx.data(), tx.data(), eph_pk.data(),
                                                        eph_sk.data(), peer_eph.data());
  if (rc != 0) co_return Error(Code::kMalformed, "peer's ephemeral key is not usable");
  std::array<uint8_t, kP2pStreamHeaderBytes> header{};
  crypto_secretstream_xchacha20poly1305_init_push(&conn.push, header.data(), tx.data());
  st = co_await WriteExact(conn, asio::buffer(header), "stream header");
  if (!st.ok()) co_return st;
  std::array<uint8_t, kP2pStreamHeaderBytes> peer_header{};
  st = co_await ReadExact(conn, asio::buffer(peer_header), "stream header");
  if (!st.ok()) co_return st;
  if (crypto_secretstream_xchacha20poly1305_init_pull(&conn.pull, peer_header.data(), rx.data()) !=
      0) {
    co_return Error(Code::kMalformed, "bad stream header");
  }
  co_return Status::Ok();
}

Hash256 AuthTranscript(std::string_view chain_id, const Conn& c, uint8_t role) {
  std::string t(kP2pTranscriptDomain);
  t += chain_id;  // unambiguous: everything around it has a fixed size
  t.append(reinterpret_cast<const char*>(c.dialer_eph.data()), c.dialer_eph.size());
  t.append(reinterpret_cast<const char*>(c.listener_eph.data()), c.listener_eph.size());
  t.push_back(static_cast<char>(role));
  return Blake2b256(t);
}

std::string MakeAuth(const KeyPair& node_key, std::string_view chain_id, const Conn& c) {
  const Hash256 h = AuthTranscript(chain_id, c, c.inbound ? kP2pRoleListener : kP2pRoleDialer);
  const Signature sig = node_key.Sign(ByteView(h));
  const PublicKey& own_key = node_key.public_key();
  std::string out(reinterpret_cast<const char*>(own_key.data()), own_key.size());
  out.append(reinterpret_cast<const char*>(sig.data()), sig.size());
  V2G_ASSERT(out.size() == kP2pAuthBytes);
  return out;
}

Result<PublicKey> VerifyAuth(std::string_view chain_id, const Conn& c, std::string_view auth) {
  if (auth.size() != kP2pAuthBytes) return Error(Code::kMalformed, "bad auth message size");
  PublicKey key{};
  Signature sig{};
  std::copy(auth.begin(), auth.begin() + kPublicKeyBytes, key.begin());
  std::copy(auth.begin() + kPublicKeyBytes, auth.end(), sig.begin());
  const Hash256 h = AuthTranscript(chain_id, c, c.inbound ? kP2pRoleDialer : kP2pRoleListener);
  if (!Verify(key, ByteView(h), sig)) {
    return Error(Code::kBadSignature, "handshake signature of node " + KeyHex(key) +
                                          " does not verify (different chain id?)");
  }
  return key;
}

}  // namespace p2p

using p2p::Awaitable;
using p2p::Conn;
using p2p::ConnPtr;

Awaitable<Status> P2p::Impl::Handshake(ConnPtr c, std::optional<PublicKey> expected) {
  Status st = co_await p2p::OpenStream(*c);
  if (!st.ok()) co_return st;
  st = co_await Authenticate(c, expected);
  co_return st;
}

// Dialer: auth ->, <- auth, ack ->. Listener: the mirror image. Each side checks the other before
// it answers, so a refused node learns nothing more and never sees the connection come up.
Awaitable<Status> P2p::Impl::Authenticate(ConnPtr c, std::optional<PublicKey> expected) {
  Conn& conn = *c;
  constexpr size_t kAuthFrame = kP2pAuthBytes + kP2pFrameOverheadBytes;
  constexpr size_t kAckFrame = 1 + kP2pFrameOverheadBytes;
  Status st;
  if (!conn.inbound) {
    st = co_await p2p::WriteFrame(conn, p2p::MakeAuth(node_key, config.chain_id, conn));
    if (!st.ok()) co_return st;
  }
  Result<std::string> auth = co_await p2p::ReadFrame(conn, kAuthFrame, kAuthFrame);
  if (!auth.ok()) co_return auth.status();
  st = CheckAuth(conn, *auth, expected);
  if (!st.ok()) co_return st;
  if (conn.inbound) {
    st = co_await p2p::WriteFrame(conn, p2p::MakeAuth(node_key, config.chain_id, conn));
    if (!st.ok()) co_return st;
    Result<std::string> ack = co_await p2p::ReadFrame(conn, kAckFrame, kAckFrame);
    if (!ack.ok()) co_return ack.status();
    if (*ack != std::string(1, static_cast<char>(kP2pAck))) {
      co_return Error(Code::kMalformed, "bad handshake ack");
    }
  } else {
    const std::string ack(1, static_cast<char>(kP2pAck));
    st = co_await p2p::WriteFrame(conn, ack);
    if (!st.ok()) co_return st;
  }
  co_return Status::Ok();
}

Status P2p::Impl::CheckAuth(Conn& c, std::string_view auth, std::optional<PublicKey> expected) {
  Result<PublicKey> key = p2p::VerifyAuth(config.chain_id, c, auth);
  if (!key.ok()) return key.status();
  c.peer = *key;
  c.authenticated = true;
  return Admit(c, expected);
}

}  // namespace v2g
