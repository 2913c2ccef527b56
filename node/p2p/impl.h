// P2p::Impl: the state of the P2p transport, and its member functions grouped by the file that
// defines them. Internal to node/p2p/; p2p.h is the interface. The files, by responsibility (all
// on the P2P thread unless a contract says otherwise):
//   p2p.cc        P2p::Create (config checks), Start/Stop and the P2P thread, Stats
//   dial.cc       accepting inbound connections, dialling configured peers with backoff
//   conn.cc       one connection's life: handshake timer, handshake, register, read/write, close
//   handshake.cc  hello, key exchange, secretstream headers, the signed auth exchange
//   frame.cc      length-prefixed secretstream frames: size caps, encrypt/decrypt
//   peers.cc      the peer table: who may connect, the one-connection-per-peer rule, Peers()
//   messages.cc   Broadcast/Send, the per-peer outbound queue (two lanes: outbound.h), the
//                 reader and writer loops,
//                 pausing and resuming reads
//   limiter.cc    the per-source handshake limits (HandshakeLimiter, no Impl)
//   inbox.cc      PeerInbox, the fair byte-bounded inbound queue the node's consumers use (no Impl)
// conn.h holds the per-connection state (Conn) they all share; frame.h and handshake.h the free
// functions that need no Impl.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/crypto.h"
#include "common/status.h"
#include "node/p2p/conn.h"
#include "node/p2p/limiter.h"
#include "node/p2p/p2p.h"

namespace v2g {
namespace p2p {

// Logs how a coroutine started with Impl::Spawn ended, when it ended with an exception.
void LogSpawnError(const char* what, std::exception_ptr e);

}  // namespace p2p

struct P2p::Impl {
  using Conn = p2p::Conn;
  using ConnPtr = p2p::ConnPtr;
  template <typename T>
  using Awaitable = p2p::Awaitable<T>;

  struct Dialer {
    Dialer(p2p::asio::io_context& io, PeerAddress t)
        : configured_key(t.key), target(std::move(t)), timer(io), resolver(io) {}
    const PublicKey configured_key;  // as config.toml names it; successors are keyed by it
    PeerAddress target;              // target.key: the key the chain says it has now
    p2p::asio::steady_timer timer;
    p2p::tcp::resolver resolver;
    bool failing = false;  // the last attempt failed; further failures log at debug
    bool skipped_logged = false;  // "not dialling: not allowed" said once
  };
  enum class State { kNew, kRunning, kStopped };

  Impl(P2pConfig cfg, std::set<PublicKey> allowed_keys, std::vector<PeerAddress> targets,
       Handler on_msg, PeerHandler on_peer)
      : config(std::move(cfg)),
        own_key(config.node_key.public_key()),
        node_key(config.node_key),
        public_key(own_key),
        allowed(std::move(allowed_keys)),
        on_message(std::move(on_msg)),
        on_peer_change(std::move(on_peer)) {
    for (auto& t : targets) dialers.push_back(std::make_unique<Dialer>(io, std::move(t)));
  }

  // p2p.cc
  Status Start();
  void Stop();
  void Run();
  void Shutdown();
  template <typename F>
  void Spawn(const char* what, F&& awaitable) {
    p2p::asio::co_spawn(io, std::forward<F>(awaitable),
                        [what](std::exception_ptr e) { p2p::LogSpawnError(what, e); });
  }

  // dial.cc
  Awaitable<void> AcceptLoop();
  Awaitable<void> DialLoop(Dialer* d);
  Awaitable<bool> DialOnce(Dialer* d);

  // conn.cc
  Awaitable<void> RunConnection(ConnPtr c, std::optional<PublicKey> expected);
  void ArmHandshakeTimer(const ConnPtr& c);
  void EndHandshake(Conn& c);
  void Close(const ConnPtr& c, Status why);

  // handshake.cc
  Awaitable<Status> Handshake(ConnPtr c, std::optional<PublicKey> expected);
  Awaitable<Status> Authenticate(ConnPtr c, std::optional<PublicKey> expected);
  Status CheckAuth(Conn& c, std::string_view auth, std::optional<PublicKey> expected);

  // peers.cc
  Status Admit(const Conn& c, std::optional<PublicKey> expected) const;
  bool KeepNew(const Conn& existing, const Conn& fresh) const;
  Status Register(const ConnPtr& c);
  void Finish(const ConnPtr& c, const Status& st);
  void NotifyPeer(const PublicKey& peer, bool connected);
  bool IsConnected(const PublicKey& peer) const;

  // messages.cc
  bool Enqueue(const ConnPtr& c, const std::shared_ptr<const std::string>& msg);
  Awaitable<Status> ReadLoop(ConnPtr c);
  Awaitable<void> PauseReads(ConnPtr c);
  Awaitable<void> WriteLoop(ConnPtr c);

  const P2pConfig config;
  // This node's identity: config.node_key until ReplaceNodeKey (P2P thread only); public_key is
  // the same key for other threads (guarded by mu).
  PublicKey own_key;
  KeyPair node_key;
  PublicKey public_key;
  std::set<PublicKey> allowed;  // guarded by mu: SetAllowed replaces it as the chain moves
  bool IsAllowed(const PublicKey& key) const;
  const Handler on_message;
  const PeerHandler on_peer_change;

  // Declared before everything that holds I/O objects, so it is destroyed after them.
  p2p::asio::io_context io;
  std::optional<p2p::asio::executor_work_guard<p2p::asio::io_context::executor_type>> work;
  p2p::tcp::acceptor acceptor{io};
  p2p::asio::steady_timer accept_retry{io};
  std::vector<std::unique_ptr<Dialer>> dialers;

  std::mutex state_mu;  // guards state, thread start/join
  State state = State::kNew;
  std::thread thread;
  std::mutex drain_mu;
  std::condition_variable drain_cv;
  bool drained = false;  // guarded by drain_mu

  std::atomic<bool> stopping{false};
  std::atomic<int> port{0};

  mutable std::mutex mu;               // guards peers and the mu_ fields of Conn
  std::map<PublicKey, ConnPtr> peers;  // authenticated; one per key

  // P2P thread only.
  std::set<ConnPtr> conns;  // every open connection, handshaking or not
  size_t pending_inbound = 0;
  // Per-source limits of the pending_inbound ones (config is declared, so initialised, first).
  p2p::HandshakeLimiter limiter{
      p2p::HandshakeLimits{.pending_per_source_max = config.handshakes_pending_per_ip_max,
                           .burst = config.handshake_burst_per_ip,
                           .per_second = config.handshakes_per_ip_per_second}};
  int64_t MonotonicMs() const;

  struct Counters {
    std::atomic<int64_t> connections_open{0}, handshakes_ok{0}, handshakes_failed{0},
        messages_in{0}, messages_out{0}, peers_dropped_slow{0}, messages_prioritized{0},
        gossip_skipped{0},
        connections_refused{0}, readers_paused{0};
  } stats;
};

}  // namespace v2g
