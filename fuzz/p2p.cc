// Fuzz target: what a peer's bytes reach (node/p2p/). The input is a byte stream a peer would
// send on an established connection, built from chunks
//   u8 kind | u16 little-endian length | data
// kind even: `data` is sent as one encrypted frame (the harness holds the sender's secretstream
// state, so the plaintext is the fuzzer's); kind odd: `data` is sent raw (lengths past the caps,
// bad ciphertext, truncated frames). The real ReadFrame reads the stream from a socket pair until
// it fails. The first frame is also checked as the handshake's auth message (VerifyAuth); every
// frame is a message (channel byte | payload) decoded as the node does: consensus messages
// (VerifyVote, the proposal's block with CheckBlockBody and ValidateBlock), block sync
// (responses: CheckBlockBody, VerifyCommit), evidence (ValidateEvidence), tx batches
// (DecodeTxBatch, then CheckTxStateless per tx), and queued into a back-pressured PeerInbox. Signatures are skipped.
#include "node/p2p/p2p.h"

#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/assert.h"
#include "common/fuzz_switch.h"
#include "consensus/block.h"
#include "consensus/tendermint.h"
#include "contracts/app.h"
#include "contracts/state.h"
#include "fuzz/world.h"
#include "node/p2p/conn.h"
#include "node/p2p/frame.h"
#include "node/p2p/handshake.h"
#include "node/p2p/inbox.h"
#include "node/tx_gossip.h"

using namespace v2g;
namespace asio = p2p::asio;

namespace {

constexpr size_t kFramesPerInputMax = 64;  // bounds one input's cost

struct Ledger {
  pb::ValidatorSet vals;
  pb::ParamsRecord params;
  ChainTip tip;
};

const Ledger& TheLedger() {
  static const Ledger l = [] {
    fuzz::MemWorld w = fuzz::BuildMemWorld();
    Ledger x;
    x.vals = LoadValidators(*w.kv);
    x.params = LoadParams(*w.kv);
    x.tip.chain_id = fuzz::kChainId;
    x.tip.height = 1;
    x.tip.time_ms = fuzz::kT0 * 1000;
    return x;
  }();
  return l;
}

void HandleMessage(const std::string& plain, PeerInbox& inbox, const PublicKey& from) {
  const Ledger& l = TheLedger();
  const std::string chain_id = fuzz::kChainId;
  if (plain.empty()) return;
  const auto channel = static_cast<uint8_t>(plain[0]);
  const std::string payload = plain.substr(1);
  if (channel == kChannelMempool) {  // a tx batch (node/tx_gossip.h), each tx checked
    auto txs = DecodeTxBatch(payload);
    if (!txs.ok()) return;
    for (const std::string& tx : *txs) (void)CheckTxStateless(tx, chain_id, l.params, true);
    return;
  }
  if (channel == kChannelConsensus) {
    pb::ConsensusMessage m;
    if (!m.ParseFromString(payload)) return;
    if (m.has_vote()) (void)VerifyVote(chain_id, l.vals, m.vote());
    if (m.has_proposal() && m.proposal().has_block()) {
      if (CheckBlockBody(m.proposal().block()).ok()) {
        (void)ValidateBlock(m.proposal().block(), l.tip, l.vals, l.params);
      }
    }
  } else if (channel == kChannelBlockSync) {
    pb::BlockSyncMessage m;
    if (!m.ParseFromString(payload)) return;
    if (m.has_response()) {
      const pb::Block& b = m.response().block();
      if (CheckBlockBody(b).ok()) {
        (void)VerifyCommit(chain_id, l.vals, b.header().height(), HashString(BlockId(b.header())),
                           m.response().commit());
      }
    }
  } else if (channel == kChannelEvidence) {
    pb::DuplicateVoteEvidence ev;
    if (!ev.ParseFromString(payload)) return;
    (void)ValidateEvidence(chain_id, l.vals, ev, 5);
  } else {
    return;
  }
  inbox.Push(InboxMessage{from, channel, payload});
  if (inbox.Pop()) (void)inbox.TakeResumable();
}

asio::awaitable<void> ReadAll(p2p::Conn& c, PeerInbox& inbox, size_t* frames) {
  constexpr size_t kMin = 1 + kP2pFrameOverheadBytes;
  for (; *frames < kFramesPerInputMax; ++*frames) {
    Result<std::string> frame = co_await p2p::ReadFrame(c, kMin, kP2pFrameBytesMax);
    if (!frame.ok()) co_return;
    if (*frames == 0) (void)p2p::VerifyAuth(fuzz::kChainId, c, *frame);
    HandleMessage(*frame, inbox, PublicKey{});
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  InitCrypto();
  FuzzSkipSignatureChecks();
  (void)TheLedger();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The stream the peer sends: frames encrypted with the sender's state, or raw bytes.
  std::array<uint8_t, crypto_secretstream_xchacha20poly1305_KEYBYTES> key{};
  key.fill(7);
  std::array<uint8_t, crypto_secretstream_xchacha20poly1305_HEADERBYTES> header{};
  crypto_secretstream_xchacha20poly1305_state push;
  crypto_secretstream_xchacha20poly1305_init_push(&push, header.data(), key.data());
  std::string stream;
  for (size_t pos = 0; pos + 3 <= size;) {
    const uint8_t kind = data[pos];
    size_t len = size_t{data[pos + 1]} | (size_t{data[pos + 2]} << 8);
    pos += 3;
    len = std::min(len, size - pos);
    const uint8_t* chunk = data + pos;
    pos += len;
    if (kind % 2 == 1) {
      stream.append(reinterpret_cast<const char*>(chunk), len);
      continue;
    }
    const size_t frame_len = len + kP2pFrameOverheadBytes;
    const size_t at = stream.size();
    stream.resize(at + 4 + frame_len);
    auto* out = reinterpret_cast<uint8_t*>(stream.data() + at);
    out[0] = static_cast<uint8_t>(frame_len >> 24);
    out[1] = static_cast<uint8_t>(frame_len >> 16);
    out[2] = static_cast<uint8_t>(frame_len >> 8);
    out[3] = static_cast<uint8_t>(frame_len);
    crypto_secretstream_xchacha20poly1305_push(&push, out + 4, nullptr, chunk, len, nullptr, 0,
                                               crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
  }
  // A socket pair: the whole stream is written and the sending side shut, so the reader ends at
  // the stream's end (deterministically, with no timer).
  int fds[2];
  V2G_ASSERT(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  const int buf = 1 << 21;
  setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
  setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
  size_t sent = 0;
  while (sent < stream.size()) {
    const ssize_t n = write(fds[1], stream.data() + sent, stream.size() - sent);
    if (n <= 0) break;  // larger than the socket buffers: the reader sees a shorter stream
    sent += static_cast<size_t>(n);
  }
  close(fds[1]);
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.assign(asio::ip::tcp::v4(), fds[0]);  // any stream socket; the reader only reads bytes
  p2p::Conn c(io, std::move(s), true);
  crypto_secretstream_xchacha20poly1305_init_pull(&c.pull, header.data(), key.data());
  InboxLimits limits;
  limits.peer_bytes_max = 4 * limits.message_bytes_max;
  limits.total_bytes_max = 8 * limits.message_bytes_max;
  limits.back_pressure = true;
  PeerInbox inbox(limits);
  size_t frames = 0;
  asio::co_spawn(io, ReadAll(c, inbox, &frames), asio::detached);
  io.run();
  return 0;
}
