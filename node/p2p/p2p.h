// P2p: the node's peer-to-peer transport. Authenticated, encrypted TCP connections to the peers
// whose Ed25519 node keys are allowed (the genesis validators plus configured nodes), and
// channel-tagged messages over them. It knows nothing about what the messages mean.
//
// Threads: all networking runs on one thread owned by the P2p object (the "P2P thread"); the
// handlers are called on it. Broadcast, Send, Peers, Stats and listen_port may be called from any
// thread, including from inside a handler. Start and Stop must not be called from a handler.
//
// Wire format, protocol version 1 (integers are big-endian):
//   1. hello, both directions, kP2pHelloBytes in the clear:
//        "V2GP" | u16 version | X25519 ephemeral public key (32, libsodium crypto_kx)
//   2. Both sides derive crypto_kx session keys (the dialer is the client, the listener the
//      server) and each sends the 24-byte crypto_secretstream_xchacha20poly1305 header of its
//      sending direction, keyed by its tx session key.
//   3. From then on everything is a frame: u32 length | ciphertext, where the ciphertext is one
//      secretstream push (TAG_MESSAGE) of the plaintext, so length = plaintext + 17 bytes.
//   4. Authentication, as frames: the dialer sends auth = node public key (32) | Ed25519
//      signature (64) of BLAKE2b-256("v2gledger/p2p/v1" || chain_id || dialer ephemeral pk ||
//      listener ephemeral pk || role byte of the signer). The listener checks it and, only if it
//      accepts the dialer, answers with its own auth; the dialer checks that and, only if it
//      accepts the listener, sends an ack frame (one byte 0x01). Neither side reports the peer as
//      connected before this point, so a rejected node never sees a connection come up, and the
//      listener reveals its identity only to an allowed dialer. Binding the ephemeral keys, the
//      chain id and the role into the signed hash means a signature cannot be replayed on another
//      connection, another chain, or reflected back at its sender.
//   5. Messages: plaintext = channel (1 byte) | payload. The transport does not read payloads;
//      what the node puts in them, by channel:
//        kChannelConsensus: a pb::ConsensusMessage (proposal, vote, ...)
//        kChannelMempool:   a tx batch (node/tx_gossip.h), the only format on this channel:
//                           u32 count | count x (u32 length | serialized pb::Tx), count >= 1,
//                           at most limits::kGossipBatchTxsMax txs and kGossipBatchBytesMax bytes
//                           in all (the receiver refuses, unread, a batch over either or one whose
//                           lengths do not add up). There is no single-tx message: no network is
//                           deployed, so one format is simplest.
//        kChannelBlockSync, kChannelEvidence: see node/bft/.
// Anything else (bad magic or version, a frame over the cap, a failed decryption, an empty
// message, a bad signature, a key that is not allowed) closes the connection with a logged reason.
//
// One connection per peer: when a second authenticated connection to the same peer appears, the
// rule below keeps exactly one, and both ends reach the same decision without talking:
//   - different directions (the two nodes dialled each other at once): keep the connection dialled
//     by the node with the smaller public key (bytewise);
//   - same direction (the peer, or we, redialled): keep the newer one, the old one is likely dead.
// Messages queued on the dropped connection move to the kept one; frames in flight on it are lost
// (consensus and gossip above re-send what matters).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto.h"
#include "common/limits.h"
#include "common/status.h"

namespace v2g {

// Channels: the first plaintext byte of every message. Values not listed here are delivered too;
// the receiver decides what to do with them.
constexpr uint8_t kChannelConsensus = 1;
constexpr uint8_t kChannelMempool = 2;
constexpr uint8_t kChannelBlockSync = 3;
constexpr uint8_t kChannelEvidence = 4;

constexpr uint16_t kP2pProtocolVersion = 1;
constexpr char kP2pHelloMagic[4] = {'V', '2', 'G', 'P'};
constexpr size_t kP2pHelloBytes = 4 + 2 + 32;
constexpr size_t kP2pStreamHeaderBytes = 24;   // crypto_secretstream_xchacha20poly1305_HEADERBYTES
constexpr size_t kP2pFrameOverheadBytes = 17;  // crypto_secretstream_xchacha20poly1305_ABYTES
constexpr size_t kP2pAuthBytes = kPublicKeyBytes + kSignatureBytes;
constexpr uint8_t kP2pRoleDialer = 0x01;
constexpr uint8_t kP2pRoleListener = 0x02;
constexpr uint8_t kP2pAck = 0x01;
constexpr std::string_view kP2pTranscriptDomain = "v2gledger/p2p/v1";

// Largest message plaintext (channel byte + payload). The biggest message is a block sent by block
// sync or in a proposal: up to limits::kBlockBytesCeiling of txs (the most any genesis may allow;
// the default is 4 MiB) plus header and commit (150 validators x ~150 bytes ~ 22 KiB) and
// protobuf framing. 1 MiB of headroom covers those with a wide margin. A smaller cap would make
// a chain that raises its block size in genesis unable to sync.
constexpr size_t kP2pMessageBytesMax = limits::kPeerMessageBytesMax;
static_assert(limits::kPeerMessageBytesMax == limits::kBlockBytesCeiling + 1024 * 1024);
// Largest frame length a peer may announce; anything bigger closes the connection before a byte
// of it is buffered, so a peer cannot make us allocate more than this per connection.
constexpr size_t kP2pFrameBytesMax = kP2pMessageBytesMax + kP2pFrameOverheadBytes;
// Per-peer outbound queue, in two lanes (node/p2p/outbound.h): consensus and evidence messages
// go in the priority lane, everything else (tx gossip, block sync, unknown channels) in the bulk
// lane, and the writer always sends the oldest priority message before any bulk one. So a vote or
// a proposal waits for at most the one frame being written, never behind queued gossip or sync
// (within each lane the order is kept). The bounds below count both lanes together. When a Send or
// Broadcast would exceed either bound the peer is dropped, not the oldest message: silently losing
// a consensus vote or a block in the middle of a stream leaves the peer in a state neither side
// can detect, whereas a dropped peer reconnects (the dialler retries from 100 ms) and catches up
// through consensus and block sync. Tx gossip goes in batches of up to kGossipBatchTxsMax txs
// flushed every few ms, so 16384 messages is far more than gossip ever queues (at 10,000 tx/s,
// ~200 batches/s); 64 MiB holds three maximum-size block messages.
constexpr size_t kP2pQueueMessagesMax = 16384;
constexpr size_t kP2pQueueBytesMax = 64 * 1024 * 1024;
static_assert(kP2pQueueBytesMax >= 3 * kP2pMessageBytesMax);
// Tx gossip's share of one peer's queue. A gossip batch that would take the queued gossip past it
// is skipped (counted in gossip_skipped), never queued: gossip is best effort, and it must not
// fill the queue and get a peer dropped that is only slow (a spammer's txs would then cost honest
// validators their connections, votes included). 8 MiB is 32 full batches, ~40,000 transfers:
// seconds of gossip at the block limits' 10,000 tx/s.
constexpr size_t kP2pGossipQueueBytesMax = 8 * 1024 * 1024;
// And in messages: small batches (one tx per 5 ms flush at low rates) would reach the queue's
// message bound long before its bytes. Half of it, so the other half is left for consensus, sync
// and evidence.
constexpr size_t kP2pGossipQueueMessagesMax = kP2pQueueMessagesMax / 2;
static_assert(kP2pGossipQueueBytesMax + 3 * kP2pMessageBytesMax <= kP2pQueueBytesMax,
              "a full gossip share leaves room for three largest blocks");
// Inbound connections that have not finished the handshake. Anyone on the network can open them,
// so they are bounded, in all, per source address and per /24 or /48 (with rates per source, per
// prefix and in all: node/p2p/limiter.h); authenticated connections are bounded by the allowed set
// (one per key).
constexpr size_t kP2pHandshakesPendingMax = 64;
// A handshake is a few small messages; 5 s is generous even across continents.
constexpr int64_t kP2pHandshakeTimeoutMsDefault = 5000;
constexpr int64_t kP2pHandshakeTimeoutMsMax = 60000;
// Redial backoff for configured peers: doubles from min to max; reset after a connection was
// established. 5 s bounds how long a restarted validator waits for its peers.
constexpr int64_t kP2pDialBackoffMinMs = 100;
constexpr int64_t kP2pDialBackoffMaxMs = 5000;

// "<hex node public key>@host:port", host may be a name, an IPv4 address or [IPv6].
struct PeerAddress {
  PublicKey key{};
  std::string host;
  int port = 0;
};
// Errors (kInvalidArgument) name what is wrong with `text`.
Result<PeerAddress> ParsePeerAddress(std::string_view text);

// Meant for designated initializers; every field but node_key has a default ({} included, so
// -Wmissing-field-initializers stays quiet when a caller leaves one out).
struct P2pConfig {
  std::string chain_id{};  // signed into every handshake: nodes of other chains cannot connect
  KeyPair node_key;        // this node's identity
  std::string listen{};    // host:port to accept on; port 0 lets the OS pick (see listen_port())
  // Dialled, and redialled with backoff while the P2p runs, while its key is allowed; an entry
  // with this node's own key is skipped (a shared list of all nodes is fine).
  std::vector<std::string> peers{};
  std::vector<PublicKey> allowed{};  // node keys that may connect (either direction); SetAllowed
  int64_t handshake_timeout_ms = kP2pHandshakeTimeoutMsDefault;  // includes the TCP connect
  // Per source address (an IPv4 address or an IPv6 /64), before authentication: handshakes in
  // progress at once and a token bucket (burst, refilled per second); per prefix and in all, the
  // defaults of p2p::HandshakeLimits. Why these numbers: common/limits.h. All must be >= 1.
  int64_t handshakes_pending_per_ip_max = limits::kHandshakesPendingPerIpMax;
  int64_t handshake_burst_per_ip = limits::kHandshakeBurstPerIp;
  int64_t handshakes_per_ip_per_second = limits::kHandshakesPerIpPerSecond;
  // The clock of those buckets, in monotonic ms, called on the P2P thread; empty: steady_clock.
  // Tests inject one to make the rate limit deterministic.
  std::function<int64_t()> monotonic_ms{};
};

struct PeerInfo {
  PublicKey key{};
  std::string node_id;             // hex of key
  std::string address;             // remote ip:port of the TCP connection
  bool inbound = false;            // true when the peer dialled us
  int64_t connected_since_ms = 0;  // Unix time, informational only
  // Message bytes (channel byte and payload, before encryption) over this connection, and its
  // outbound queue now (node/p2p/outbound.h), for metrics.
  int64_t bytes_in = 0;
  int64_t bytes_out = 0;
  int64_t queue_messages = 0;
  int64_t queue_bytes = 0;
};

// Counters since Start, for metrics and tests (connections_open is a gauge, the rest only grow).
struct P2pStats {
  int64_t connections_open = 0;  // TCP connections, including those still handshaking
  int64_t handshakes_ok = 0;
  int64_t handshakes_failed = 0;  // includes refused keys, timeouts, garbage
  int64_t messages_in = 0;
  int64_t messages_out = 0;
  int64_t peers_dropped_slow = 0;  // outbound queue overflowed
  // Messages the writer sent from the priority lane while bulk messages were waiting: each one
  // a consensus or evidence message that jumped queued gossip or sync.
  int64_t messages_prioritized = 0;
  // Tx gossip batches not queued because the peer's gossip share was full (kP2pGossipQueueBytesMax).
  int64_t gossip_skipped = 0;
  // Inbound connections closed before the handshake: all pending slots taken, or their source
  // address or prefix over its pending or rate limit, or the global rate limit reached.
  int64_t connections_refused = 0;
  int64_t readers_paused = 0;  // gauge: connections whose reads are paused (ReadFlow::kPause)
};

// What the message handler tells the transport about the peer that sent the message.
enum class ReadFlow {
  kContinue,  // read its next message
  kPause,     // read nothing more from it until P2p::ResumeReads(peer): back-pressure by TCP
};

class P2p {
 public:
  // Called for every message received from an authenticated peer, in the order the peer sent
  // them, on the P2P thread. Must not throw (an exception is logged and closes that connection),
  // and must not block: the P2P thread serves every peer. Returning kPause stops reads from that
  // peer's connection (the peer's own sends then back up into its outbound queue) until
  // ResumeReads(from); a ResumeReads that comes before the pause is seen cancels it.
  using Handler =
      std::function<ReadFlow(const PublicKey& from, uint8_t channel, std::string payload)>;
  // connected=true before the first message from that peer, false after its last. A peer whose
  // connection is replaced by a duplicate (see above) stays connected: no events.
  using PeerHandler = std::function<void(const PublicKey& peer, bool connected)>;

  // Validates the config (chain id, listen address, peer list). Opens nothing. Errors are
  // kInvalidArgument and name the field. Both handlers must be set.
  static Result<std::unique_ptr<P2p>> Create(P2pConfig config, Handler on_message,
                                             PeerHandler on_peer_change);
  ~P2p();  // Stop()s
  P2p(const P2p&) = delete;
  P2p& operator=(const P2p&) = delete;

  // Binds the listen address and starts the P2P thread, which accepts and dials. Errors: kIo
  // (cannot bind), kInternal (called twice or after Stop). A P2p is started at most once.
  Status Start();
  // Closes the listener and every connection, waits for the P2P thread to exit. No handler runs
  // after Stop returns; handlers that would start once Stop has begun are skipped (so no
  // disconnect events during Stop). Idempotent. Must not be called from a handler.
  void Stop();

  int listen_port() const;  // the bound port after a successful Start, else 0

  // Queues `payload` on `channel` for every connected peer. Peers whose queue is full are
  // dropped. A payload over kP2pMessageBytesMax - 1 bytes is a caller bug: logged and dropped.
  void Broadcast(uint8_t channel, std::string payload);
  // Queues for one peer. False when the peer is not connected, its queue overflowed (the peer is
  // dropped) or the payload is too large. True means queued, not delivered.
  bool Send(const PublicKey& peer, uint8_t channel, std::string payload);
  // Lets a connection paused by the handler read again. Any thread; no-op for a peer that is not
  // connected.
  void ResumeReads(const PublicKey& peer);
  // Replaces the allowed set (the node calls it as the validator set changes): connected peers no
  // longer in it are closed, configured peers not in it are not dialled until they are. Any thread.
  // `successors` maps configured peers' keys (as config.toml names them) that rotated to their key
  // now (from the chain): such a peer is dialled by that key from now on, however many rotations
  // it went through.
  void SetAllowed(const std::vector<PublicKey>& keys,
                  const std::map<PublicKey, PublicKey>& successors = {});
  // This node's own key rotated (the chain holds the new one): handshakes use `key` from now on,
  // and every connection is closed, so peers (and our dialers) connect again to the new identity.
  // Any thread.
  void ReplaceNodeKey(const KeyPair& key);
  PublicKey NodeKey() const;            // this node's key now
  std::vector<PeerInfo> Peers() const;  // sorted by key
  P2pStats Stats() const;

  struct Impl;  // public so node/p2p/'s helpers can name it; defined in node/p2p/impl.h

 private:
  explicit P2p(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;  // keeps Boost.Asio out of this header
};

}  // namespace v2g
