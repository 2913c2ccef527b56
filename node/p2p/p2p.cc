#include "node/p2p/p2p.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "node/p2p/conn.h"
#include "node/p2p/impl.h"

namespace v2g {
namespace p2p {

void LogSpawnError(const char* what, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    spdlog::error("p2p: {} ended with an exception: {}", what, x.what());
  } catch (...) {
    spdlog::error("p2p: {} ended with an unknown exception", what);
  }
}

}  // namespace p2p

namespace asio = p2p::asio;
using p2p::error_code;
using p2p::KeyHex;
using p2p::tcp;

namespace {

// Stop() waits this long for the P2P thread to drain before forcing the io_context to stop. A
// correct shutdown takes milliseconds; this is a safety net against a hang in Stop().
constexpr auto kStopDrainTimeout = std::chrono::seconds(5);

// Splits "host:port" / "[v6]:port". Port 0 is accepted only when `allow_port_zero`.
Status SplitHostPort(std::string_view text, bool allow_port_zero, std::string* host, int* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return Error(Code::kInvalidArgument, "missing :port");
  std::string_view h = text.substr(0, colon);
  std::string_view p = text.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty()) return Error(Code::kInvalidArgument, "empty host");
  if (p.empty() || p.size() > 5 ||
      !std::all_of(p.begin(), p.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
    return Error(Code::kInvalidArgument, "port must be a number");
  }
  int value = std::stoi(std::string(p));
  if (value > 65535 || (value == 0 && !allow_port_zero)) {
    return Error(Code::kInvalidArgument, "port out of range");
  }
  *host = std::string(h);
  *port = value;
  return Status::Ok();
}

}  // namespace

Result<PeerAddress> ParsePeerAddress(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Error(Code::kInvalidArgument, "peer \"" + std::string(text) + "\": " + why +
                                             " (want <hex node public key>@host:port)");
  };
  size_t at = text.find('@');
  if (at == std::string_view::npos) return bad("missing @");
  auto key = HexDecode(text.substr(0, at));
  if (!key.ok() || key->size() != kPublicKeyBytes) return bad("node key must be 32 bytes of hex");
  PeerAddress out;
  std::copy(key->begin(), key->end(), out.key.begin());
  Status st = SplitHostPort(text.substr(at + 1), false, &out.host, &out.port);
  if (!st.ok()) return bad(st.message());
  return out;
}

Result<std::unique_ptr<P2p>> P2p::Create(P2pConfig config, Handler on_message,
                                         PeerHandler on_peer_change) {
  V2G_ASSERT(on_message != nullptr && on_peer_change != nullptr);
  InitCrypto();
  auto bad = [](const std::string& what) { return Error(Code::kInvalidArgument, "p2p: " + what); };
  if (config.chain_id.empty() || config.chain_id.size() > limits::kChainIdMax) {
    return bad("chain_id must be 1-" + std::to_string(limits::kChainIdMax) + " bytes");
  }
  std::string host;
  int port = 0;
  if (Status st = SplitHostPort(config.listen, true, &host, &port); !st.ok()) {
    return bad("listen \"" + config.listen + "\": " + st.message());
  }
  if (config.handshake_timeout_ms < 1 || config.handshake_timeout_ms > kP2pHandshakeTimeoutMsMax) {
    return bad("handshake_timeout_ms must be 1-" + std::to_string(kP2pHandshakeTimeoutMsMax));
  }
  if (config.handshakes_pending_per_ip_max < 1 || config.handshake_burst_per_ip < 1 ||
      config.handshakes_per_ip_per_second < 1) {
    return bad("handshake limits per source address must be at least 1");
  }
  std::set<PublicKey> allowed(config.allowed.begin(), config.allowed.end());
  std::vector<PeerAddress> targets;
  std::set<PublicKey> seen;
  for (const std::string& text : config.peers) {
    auto addr = ParsePeerAddress(text);
    if (!addr.ok()) return bad(addr.status().message());
    if (addr->key == config.node_key.public_key()) continue;  // ourselves: a shared list is fine
    if (!seen.insert(addr->key).second) return bad("peer key listed twice: " + text);
    targets.push_back(*addr);
  }
  auto impl = std::make_unique<Impl>(std::move(config), std::move(allowed), std::move(targets),
                                     std::move(on_message), std::move(on_peer_change));
  return std::unique_ptr<P2p>(new P2p(std::move(impl)));
}

P2p::P2p(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

bool P2p::Impl::IsAllowed(const PublicKey& key) const {
  std::lock_guard<std::mutex> lk(mu);
  return allowed.contains(key);
}

void P2p::SetAllowed(const std::vector<PublicKey>& keys,
                     const std::map<PublicKey, PublicKey>& successors) {
  Impl& m = *impl_;
  if (m.stopping) return;
  std::set<PublicKey> next(keys.begin(), keys.end());
  std::vector<p2p::ConnPtr> drop;
  {
    std::lock_guard<std::mutex> lk(m.mu);
    if (next == m.allowed && successors.empty()) return;
    for (const auto& k : next) {
      if (!m.allowed.contains(k)) spdlog::info("p2p: node {} is allowed now", KeyHex(k));
    }
    for (const auto& k : m.allowed) {
      if (!next.contains(k)) spdlog::info("p2p: node {} is no longer allowed", KeyHex(k));
    }
    m.allowed = std::move(next);
    for (const auto& [key, c] : m.peers) {
      if (!m.allowed.contains(key)) drop.push_back(c);
    }
  }
  // Dialers of a key that rotated dial the new one; dialers sleeping on a key that was not allowed
  // look again now (not after their backoff).
  p2p::asio::post(m.io, [&m, successors] {
    for (auto& d : m.dialers) {
      auto it = successors.find(d->configured_key);
      if (it != successors.end() && it->second != m.own_key && it->second != d->target.key) {
        spdlog::info("p2p: configured peer {} rotated its node key: dialling {} at {}:{}",
                     KeyHex(d->target.key), KeyHex(it->second), d->target.host, d->target.port);
        d->target.key = it->second;
        d->skipped_logged = false;
      }
      d->timer.cancel();
    }
  });
  // Connections still handshaking are checked against the new set when they finish (Admit).
  for (auto& c : drop) {
    p2p::asio::post(m.io, [&m, c] {
      m.Close(c, Error(Code::kUnauthorized, "node is no longer in the allowed set"));
    });
  }
}

void P2p::ReplaceNodeKey(const KeyPair& key) {
  Impl& m = *impl_;
  if (m.stopping) return;
  {
    std::lock_guard<std::mutex> lk(m.mu);
    m.public_key = key.public_key();
  }
  p2p::asio::post(m.io, [&m, key] {
    if (m.stopping || key.public_key() == m.own_key) return;
    spdlog::warn(
        "p2p: this node's key rotated: it is node {} from now on (was {}); connecting "
        "again to every peer",
        KeyHex(key.public_key()), KeyHex(m.own_key));
    m.node_key = key;
    m.own_key = key.public_key();
    const std::vector<p2p::ConnPtr> all(m.conns.begin(), m.conns.end());
    for (const auto& c : all) m.Close(c, Error(Code::kUnavailable, "this node's key rotated"));
    for (auto& d : m.dialers) d->timer.cancel();
  });
}

PublicKey P2p::NodeKey() const {
  std::lock_guard<std::mutex> lk(impl_->mu);
  return impl_->public_key;
}

P2p::~P2p() { Stop(); }
Status P2p::Start() { return impl_->Start(); }
void P2p::Stop() { impl_->Stop(); }
int P2p::listen_port() const { return impl_->port.load(); }

P2pStats P2p::Stats() const {
  const auto& s = impl_->stats;
  return P2pStats{.connections_open = s.connections_open.load(),
                  .handshakes_ok = s.handshakes_ok.load(),
                  .handshakes_failed = s.handshakes_failed.load(),
                  .messages_in = s.messages_in.load(),
                  .messages_out = s.messages_out.load(),
                  .peers_dropped_slow = s.peers_dropped_slow.load(),
                  .messages_prioritized = s.messages_prioritized.load(),
                  .gossip_skipped = s.gossip_skipped.load(),
                  .connections_refused = s.connections_refused.load(),
                  .readers_paused = s.readers_paused.load()};
}

int64_t P2p::Impl::MonotonicMs() const {
  if (config.monotonic_ms) return config.monotonic_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

Status P2p::Impl::Start() {
  std::lock_guard<std::mutex> lk(state_mu);
  if (state != State::kNew) return Error(Code::kInternal, "p2p: Start called twice or after Stop");
  std::string host;
  int listen_port = 0;
  Status st = SplitHostPort(config.listen, true, &host, &listen_port);
  V2G_ASSERT(st.ok());  // checked by Create
  error_code ec;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(host, std::to_string(listen_port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return Error(Code::kIo, "p2p: cannot resolve listen address " + config.listen + ": " +
                                (ec ? ec.message() : "no address"));
  }
  tcp::endpoint ep = results.begin()->endpoint();
  acceptor.open(ep.protocol(), ec);
  // SO_REUSEADDR lets a restarted node bind its port while old connections sit in TIME_WAIT.
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    acceptor.close(ignored);
    return Error(Code::kIo, "p2p: cannot listen on " + config.listen + ": " + ec.message());
  }
  port = acceptor.local_endpoint().port();
  state = State::kRunning;
  work.emplace(io.get_executor());
  Spawn("accept loop", AcceptLoop());
  for (auto& d : dialers) Spawn("dialer", DialLoop(d.get()));
  const std::string me = KeyHex(own_key);  // before the thread may change it
  thread = std::thread([this] { Run(); });
  size_t allowed_count = 0;
  {
    std::lock_guard<std::mutex> allowed_lock(mu);
    allowed_count = allowed.size();
  }
  spdlog::info("p2p: node {} listening on {}:{} (chain {}, {} peers to dial, {} keys allowed)", me,
               host, port.load(), config.chain_id, dialers.size(), allowed_count);
  return Status::Ok();
}

void P2p::Impl::Run() {
  for (;;) {
    try {
      io.run();
      break;
    } catch (const std::exception& e) {  // a bug; keep serving the other peers
      spdlog::error("p2p: unexpected exception on the P2P thread: {}", e.what());
    }
  }
  std::lock_guard<std::mutex> lk(drain_mu);
  drained = true;
  drain_cv.notify_all();
}

void P2p::Impl::Stop() {
  std::lock_guard<std::mutex> lk(state_mu);
  if (state != State::kRunning) {
    state = State::kStopped;
    return;
  }
  V2G_ASSERT(std::this_thread::get_id() != thread.get_id());  // not from a handler
  state = State::kStopped;
  stopping = true;
  asio::post(io, [this] { Shutdown(); });
  {
    std::unique_lock<std::mutex> dlk(drain_mu);
    if (!drain_cv.wait_for(dlk, kStopDrainTimeout, [this] { return drained; })) {
      spdlog::warn("p2p: shutdown did not drain in time; stopping the event loop");
      io.stop();
    }
  }
  thread.join();
  spdlog::info("p2p: stopped");
}

// On the P2P thread: closes everything so every coroutine finishes and io.run() returns.
void P2p::Impl::Shutdown() {
  error_code ec;
  acceptor.close(ec);
  accept_retry.cancel();
  for (auto& d : dialers) {
    d->timer.cancel();
    d->resolver.cancel();
  }
  std::vector<ConnPtr> all(conns.begin(), conns.end());
  for (const ConnPtr& c : all) Close(c, Error(Code::kUnavailable, "node shutting down"));
  work.reset();
}

}  // namespace v2g
