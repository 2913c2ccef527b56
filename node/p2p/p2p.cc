#include "node/p2p/p2p.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "node/p2p/asio.h"

namespace v2g {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
template <typename T>
using Awaitable = asio::awaitable<T>;

static_assert(kP2pStreamHeaderBytes == crypto_secretstream_xchacha20poly1305_HEADERBYTES);
static_assert(kP2pFrameOverheadBytes == crypto_secretstream_xchacha20poly1305_ABYTES);
static_assert(crypto_kx_PUBLICKEYBYTES == 32 && crypto_kx_SESSIONKEYBYTES == 32);
static_assert(kP2pFrameBytesMax <= UINT32_MAX);

// TCP keepalive: a peer whose machine died (no FIN, no RST) would otherwise keep its slot for as
// long as we have nothing to send. Probing after 15 s idle, every 5 s, 3 times, finds it in ~30 s;
// TCP_USER_TIMEOUT does the same for a connection with unacknowledged data.
constexpr int kKeepAliveIdleS = 15;
constexpr int kKeepAliveIntervalS = 5;
constexpr int kKeepAliveProbes = 3;
constexpr unsigned kTcpUserTimeoutMs = 30000;
// After a failed accept (e.g. out of file descriptors) wait before trying again, so the loop does
// not spin.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);
// A frame buffer that grew past this is released after use, so one big block does not pin
// kP2pFrameBytesMax of memory per peer for the life of the connection.
constexpr size_t kBufferKeepBytesMax = 1024 * 1024;
// Stop() waits this long for the P2P thread to drain before forcing the io_context to stop. A
// correct shutdown takes milliseconds; this is a safety net against a hang in Stop().
constexpr auto kStopDrainTimeout = std::chrono::seconds(5);

std::string KeyHex(const PublicKey& key) { return HexEncode(ByteView(key)); }

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

auto Redirect(error_code& ec) { return asio::redirect_error(asio::use_awaitable, ec); }

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

void TuneSocket(tcp::socket& socket) {
  error_code ec;
  socket.set_option(tcp::no_delay(true), ec);  // votes are small and latency-bound
  socket.set_option(asio::socket_base::keep_alive(true), ec);
#ifdef __linux__
  int fd = socket.native_handle();
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &kKeepAliveIdleS, sizeof(kKeepAliveIdleS));
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &kKeepAliveIntervalS, sizeof(kKeepAliveIntervalS));
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &kKeepAliveProbes, sizeof(kKeepAliveProbes));
  ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &kTcpUserTimeoutMs, sizeof(kTcpUserTimeoutMs));
#endif
}

std::string RemoteAddress(const tcp::socket& socket) {
  error_code ec;
  tcp::endpoint ep = socket.remote_endpoint(ec);
  if (ec) return "?";
  if (ep.address().is_v6())
    return "[" + ep.address().to_string() + "]:" + std::to_string(ep.port());
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

// One TCP connection, from connect/accept to close. Socket, timers and crypto state are touched
// only on the P2P thread; the fields marked "mu_" are shared with Send/Broadcast callers.
struct Conn {
  Conn(asio::io_context& io, tcp::socket s, bool is_inbound)
      : socket(std::move(s)), handshake_timer(io), wake(io), inbound(is_inbound) {}
  ~Conn() {
    sodium_memzero(&push, sizeof(push));
    sodium_memzero(&pull, sizeof(pull));
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  tcp::socket socket;
  asio::steady_timer handshake_timer;  // closes the socket if the handshake is not done in time
  asio::steady_timer wake;             // the writer sleeps on it while the queue is empty
  const bool inbound;
  std::string address = "?";
  std::array<uint8_t, 32> dialer_eph{};
  std::array<uint8_t, 32> listener_eph{};
  crypto_secretstream_xchacha20poly1305_state push{};
  crypto_secretstream_xchacha20poly1305_state pull{};
  std::vector<uint8_t> rbuf;
  std::vector<uint8_t> wbuf;
  std::optional<PublicKey> expected;  // outbound: the key dialled
  PublicKey peer{};                   // valid once `authenticated`
  int64_t since_ms = 0;               // Unix ms, for PeerInfo
  std::chrono::steady_clock::time_point registered_at;
  bool authenticated = false;
  bool handshake_done = false;
  bool timed_out = false;
  bool pending_counted = false;  // counted in Impl::pending_inbound_
  bool registered = false;       // was in peers_ at some point
  bool closed = false;
  std::optional<Status> close_reason;  // why we closed it, if we did
  // Guarded by Impl::mu_.
  std::deque<std::shared_ptr<const std::string>> queue;
  size_t queue_bytes = 0;
  bool writer_waiting = false;
  bool send_closed = false;
};
using ConnPtr = std::shared_ptr<Conn>;

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

void ReleaseIfBig(std::vector<uint8_t>& buf) {
  if (buf.capacity() > kBufferKeepBytesMax) std::vector<uint8_t>().swap(buf);
}

// Reads one frame and decrypts it. The announced length is checked against [min_len, max_len]
// before anything is allocated.
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

struct P2p::Impl {
  struct Dialer {
    Dialer(asio::io_context& io, PeerAddress t) : target(std::move(t)), timer(io), resolver(io) {}
    PeerAddress target;
    asio::steady_timer timer;
    tcp::resolver resolver;
    bool failing = false;  // the last attempt failed; further failures log at debug
  };
  enum class State { kNew, kRunning, kStopped };

  Impl(P2pConfig cfg, std::set<PublicKey> allowed_keys, std::vector<PeerAddress> targets,
       Handler on_msg, PeerHandler on_peer)
      : config(std::move(cfg)),
        own_key(config.node_key.public_key()),
        allowed(std::move(allowed_keys)),
        on_message(std::move(on_msg)),
        on_peer_change(std::move(on_peer)) {
    for (auto& t : targets) dialers.push_back(std::make_unique<Dialer>(io, std::move(t)));
  }

  Status Start();
  void Stop();
  void Run();
  void Shutdown();
  bool Enqueue(const ConnPtr& c, const std::shared_ptr<const std::string>& msg);

  Awaitable<void> AcceptLoop();
  Awaitable<void> DialLoop(Dialer* d);
  Awaitable<bool> DialOnce(Dialer* d);
  Awaitable<void> RunConnection(ConnPtr c, std::optional<PublicKey> expected);
  Awaitable<Status> Handshake(ConnPtr c, std::optional<PublicKey> expected);
  Awaitable<Status> Authenticate(ConnPtr c, std::optional<PublicKey> expected);
  Awaitable<Status> ReadLoop(ConnPtr c);
  Awaitable<void> WriteLoop(ConnPtr c);

  void ArmHandshakeTimer(const ConnPtr& c);
  void EndHandshake(Conn& c);
  Hash256 Transcript(const Conn& c, uint8_t role) const;
  std::string MakeAuth(const Conn& c) const;
  Status CheckAuth(Conn& c, std::string_view auth, std::optional<PublicKey> expected);
  Status Admit(const Conn& c, std::optional<PublicKey> expected) const;
  bool KeepNew(const Conn& existing, const Conn& fresh) const;
  Status Register(const ConnPtr& c);
  void Close(const ConnPtr& c, Status why);
  void Finish(const ConnPtr& c, const Status& st);
  void NotifyPeer(const PublicKey& peer, bool connected);
  bool IsConnected(const PublicKey& peer) const;
  template <typename F>
  void Spawn(const char* what, F&& awaitable) {
    asio::co_spawn(io, std::forward<F>(awaitable),
                   [what](std::exception_ptr e) { LogSpawnError(what, e); });
  }

  const P2pConfig config;
  const PublicKey own_key;
  const std::set<PublicKey> allowed;
  const Handler on_message;
  const PeerHandler on_peer_change;

  // Declared before everything that holds I/O objects, so it is destroyed after them.
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{io};
  asio::steady_timer accept_retry{io};
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

  struct Counters {
    std::atomic<int64_t> connections_open{0}, handshakes_ok{0}, handshakes_failed{0},
        messages_in{0}, messages_out{0}, peers_dropped_slow{0};
  } stats;
};

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
  thread = std::thread([this] { Run(); });
  spdlog::info("p2p: node {} listening on {}:{} (chain {}, {} peers to dial, {} keys allowed)",
               KeyHex(own_key), host, port.load(), config.chain_id, dialers.size(), allowed.size());
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

// ---------------------------------------------------------------------------------------------
// Accepting and dialling

Awaitable<void> P2p::Impl::AcceptLoop() {
  for (;;) {
    error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(Redirect(ec));
    if (stopping || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      spdlog::warn("p2p: accept failed: {}", ec.message());
      accept_retry.expires_after(kAcceptRetryDelay);
      co_await accept_retry.async_wait(Redirect(ec));
      continue;
    }
    if (pending_inbound >= kP2pHandshakesPendingMax) {
      spdlog::warn("p2p: refusing connection from {}: {} handshakes already pending",
                   RemoteAddress(socket), pending_inbound);
      socket.close(ec);
      continue;
    }
    auto c = std::make_shared<Conn>(io, std::move(socket), true);
    c->address = RemoteAddress(c->socket);
    c->pending_counted = true;
    ++pending_inbound;
    conns.insert(c);
    ++stats.connections_open;
    TuneSocket(c->socket);
    ArmHandshakeTimer(c);
    Spawn("inbound connection", RunConnection(c, std::nullopt));
  }
}

Awaitable<void> P2p::Impl::DialLoop(Dialer* d) {
  auto backoff = std::chrono::milliseconds(kP2pDialBackoffMinMs);
  while (!stopping) {
    auto wait = backoff;
    if (IsConnected(d->target.key)) {
      // Connected (maybe inbound): sleep until the peer disconnects (which cancels the timer).
      backoff = std::chrono::milliseconds(kP2pDialBackoffMinMs);
      wait = std::chrono::milliseconds(kP2pDialBackoffMaxMs);
    } else {
      // A connection that stayed up a while resets the backoff; one that drops right after the
      // handshake does not, so a flapping peer is not redialled in a tight loop.
      const bool stable = co_await DialOnce(d);
      if (stopping) break;
      if (stable) backoff = std::chrono::milliseconds(kP2pDialBackoffMinMs);
      wait = backoff;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(kP2pDialBackoffMaxMs));
    }
    error_code ec;
    d->timer.expires_after(wait);
    co_await d->timer.async_wait(Redirect(ec));
  }
}

// One attempt: resolve, connect, handshake and, if that works, run the connection until it ends.
// True when the connection was established and stayed up for at least the maximum backoff.
Awaitable<bool> P2p::Impl::DialOnce(Dialer* d) {
  const PeerAddress& t = d->target;
  const std::string where = t.host + ":" + std::to_string(t.port);
  error_code ec;
  std::vector<tcp::endpoint> endpoints;
  asio::ip::address literal = asio::ip::make_address(t.host, ec);
  if (!ec) {
    endpoints.emplace_back(literal, static_cast<uint16_t>(t.port));
  } else {  // a name: resolved on every attempt, so a moved peer is found again
    auto results = co_await d->resolver.async_resolve(t.host, std::to_string(t.port), Redirect(ec));
    for (const auto& r : results) endpoints.push_back(r.endpoint());
  }
  if (stopping) co_return false;
  auto c = std::make_shared<Conn>(io, tcp::socket(io), false);
  if (!ec) {
    conns.insert(c);
    ++stats.connections_open;
    ArmHandshakeTimer(c);
    co_await asio::async_connect(c->socket, endpoints, Redirect(ec));
    if (ec && c->timed_out) ec = asio::error::timed_out;
  }
  if (ec || stopping) {
    if (!stopping) {
      auto level = d->failing ? spdlog::level::debug : spdlog::level::info;
      spdlog::log(level, "p2p: cannot connect to {} ({}): {}; retrying with backoff", where,
                  KeyHex(t.key), ec.message());
    }
    d->failing = true;
    Close(c, Error(Code::kIo, "connect failed"));
    if (conns.erase(c) > 0) --stats.connections_open;
    co_return false;
  }
  d->failing = false;
  c->expected = t.key;
  c->address = RemoteAddress(c->socket);
  TuneSocket(c->socket);
  co_await RunConnection(c, t.key);
  co_return c->registered&& std::chrono::steady_clock::now() - c->registered_at >=
      std::chrono::milliseconds(kP2pDialBackoffMaxMs);
}

// ---------------------------------------------------------------------------------------------
// One connection

void P2p::Impl::ArmHandshakeTimer(const ConnPtr& c) {
  c->handshake_timer.expires_after(std::chrono::milliseconds(config.handshake_timeout_ms));
  c->handshake_timer.async_wait([c](const error_code& ec) {
    if (ec || c->handshake_done) return;
    c->timed_out = true;
    error_code ignored;
    c->socket.close(ignored);  // the pending read/write fails and the coroutine reports it
  });
}

void P2p::Impl::EndHandshake(Conn& c) {
  c.handshake_done = true;
  c.handshake_timer.cancel();
  if (c.pending_counted) {
    c.pending_counted = false;
    V2G_ASSERT(pending_inbound > 0);
    --pending_inbound;
  }
}

Awaitable<void> P2p::Impl::RunConnection(ConnPtr c, std::optional<PublicKey> expected) {
  Status st;
  try {
    st = co_await Handshake(c, expected);
    EndHandshake(*c);
    if (st.ok()) st = Register(c);
    if (st.ok()) {
      Spawn("writer", WriteLoop(c));
      st = co_await ReadLoop(c);
    }
  } catch (const std::exception& e) {  // a throwing handler, or out of memory
    spdlog::error("p2p: closing the connection with {}: exception: {}", c->address, e.what());
    st = Error(Code::kInternal, std::string("exception: ") + e.what());
  }
  EndHandshake(*c);
  Finish(c, st);
}

Awaitable<Status> P2p::Impl::Handshake(ConnPtr c, std::optional<PublicKey> expected) {
  Conn& conn = *c;
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
    st = co_await WriteFrame(conn, MakeAuth(conn));
    if (!st.ok()) co_return st;
  }
  Result<std::string> auth = co_await ReadFrame(conn, kAuthFrame, kAuthFrame);
  if (!auth.ok()) co_return auth.status();
  st = CheckAuth(conn, *auth, expected);
  if (!st.ok()) co_return st;
  if (conn.inbound) {
    st = co_await WriteFrame(conn, MakeAuth(conn));
    if (!st.ok()) co_return st;
    Result<std::string> ack = co_await ReadFrame(conn, kAckFrame, kAckFrame);
    if (!ack.ok()) co_return ack.status();
    if (*ack != std::string(1, static_cast<char>(kP2pAck))) {
      co_return Error(Code::kMalformed, "bad handshake ack");
    }
  } else {
    const std::string ack(1, static_cast<char>(kP2pAck));
    st = co_await WriteFrame(conn, ack);
    if (!st.ok()) co_return st;
  }
  co_return Status::Ok();
}

Hash256 P2p::Impl::Transcript(const Conn& c, uint8_t role) const {
  std::string t(kP2pTranscriptDomain);
  t += config.chain_id;  // unambiguous: everything around it has a fixed size
  t.append(reinterpret_cast<const char*>(c.dialer_eph.data()), c.dialer_eph.size());
  t.append(reinterpret_cast<const char*>(c.listener_eph.data()), c.listener_eph.size());
  t.push_back(static_cast<char>(role));
  return Blake2b256(t);
}

std::string P2p::Impl::MakeAuth(const Conn& c) const {
  const Hash256 h = Transcript(c, c.inbound ? kP2pRoleListener : kP2pRoleDialer);
  const Signature sig = config.node_key.Sign(ByteView(h));
  std::string out(reinterpret_cast<const char*>(own_key.data()), own_key.size());
  out.append(reinterpret_cast<const char*>(sig.data()), sig.size());
  V2G_ASSERT(out.size() == kP2pAuthBytes);
  return out;
}

Status P2p::Impl::CheckAuth(Conn& c, std::string_view auth, std::optional<PublicKey> expected) {
  if (auth.size() != kP2pAuthBytes) return Error(Code::kMalformed, "bad auth message size");
  PublicKey key{};
  Signature sig{};
  std::copy(auth.begin(), auth.begin() + kPublicKeyBytes, key.begin());
  std::copy(auth.begin() + kPublicKeyBytes, auth.end(), sig.begin());
  const Hash256 h = Transcript(c, c.inbound ? kP2pRoleDialer : kP2pRoleListener);
  if (!Verify(key, ByteView(h), sig)) {
    return Error(Code::kBadSignature, "handshake signature of node " + KeyHex(key) +
                                          " does not verify (different chain id?)");
  }
  c.peer = key;
  c.authenticated = true;
  return Admit(c, expected);
}

Status P2p::Impl::Admit(const Conn& c, std::optional<PublicKey> expected) const {
  V2G_ASSERT(c.authenticated);
  if (c.peer == own_key) return Error(Code::kInvalidArgument, "connected to ourselves");
  if (expected && *expected != c.peer) {
    return Error(Code::kUnauthorized,
                 "expected node " + KeyHex(*expected) + " at this address, got " + KeyHex(c.peer));
  }
  if (!allowed.contains(c.peer)) {
    return Error(Code::kUnauthorized, "node " + KeyHex(c.peer) + " is not in the allowed set");
  }
  std::lock_guard<std::mutex> lk(mu);
  auto it = peers.find(c.peer);
  if (it != peers.end() && !KeepNew(*it->second, c)) {
    return Error(Code::kDuplicate, "already connected to " + KeyHex(c.peer));
  }
  return Status::Ok();
}

// See "One connection per peer" in p2p.h. Must give the same answer on both ends.
bool P2p::Impl::KeepNew(const Conn& existing, const Conn& fresh) const {
  if (existing.inbound == fresh.inbound) return true;
  const bool we_are_smaller = own_key < fresh.peer;
  const bool fresh_dialled_by_us = !fresh.inbound;
  return we_are_smaller == fresh_dialled_by_us;
}

Status P2p::Impl::Register(const ConnPtr& c) {
  if (stopping || c->closed) return Error(Code::kUnavailable, "closed during the handshake");
  Status st = Admit(*c, std::nullopt);  // state may have changed while we waited for the ack
  if (!st.ok()) return st;
  ConnPtr replaced;
  {
    std::lock_guard<std::mutex> lk(mu);
    auto [it, inserted] = peers.try_emplace(c->peer, c);
    if (!inserted) {
      replaced = it->second;
      V2G_ASSERT(replaced != c);
      c->queue = std::move(replaced->queue);
      c->queue_bytes = replaced->queue_bytes;
      replaced->queue.clear();
      replaced->queue_bytes = 0;
      replaced->send_closed = true;
      it->second = c;
    }
    c->registered = true;
    c->since_ms = NowUnixMs();
  }
  c->registered_at = std::chrono::steady_clock::now();
  ++stats.handshakes_ok;
  if (replaced) {
    spdlog::info("p2p: node {}: keeping the new {} connection ({}), closing the {} one ({})",
                 KeyHex(c->peer), c->inbound ? "inbound" : "outbound", c->address,
                 replaced->inbound ? "inbound" : "outbound", replaced->address);
    Close(replaced, Error(Code::kDuplicate, "replaced by a newer connection to the same peer"));
  } else {
    spdlog::info("p2p: node {} connected ({} {})", KeyHex(c->peer),
                 c->inbound ? "inbound from" : "outbound to", c->address);
    NotifyPeer(c->peer, true);
  }
  return Status::Ok();
}

Awaitable<Status> P2p::Impl::ReadLoop(ConnPtr c) {
  constexpr size_t kMessageFrameMin = 1 + kP2pFrameOverheadBytes;  // at least a channel byte
  for (;;) {
    Result<std::string> frame = co_await ReadFrame(*c, kMessageFrameMin, kP2pFrameBytesMax);
    if (!frame.ok()) co_return frame.status();
    if (c->closed || stopping) co_return Error(Code::kUnavailable, "closed");
    std::string& plain = frame.value();
    V2G_ASSERT(!plain.empty());
    const auto channel = static_cast<uint8_t>(plain[0]);
    plain.erase(0, 1);
    ++stats.messages_in;
    on_message(c->peer, channel, std::move(plain));  // an exception closes this connection
  }
}

Awaitable<void> P2p::Impl::WriteLoop(ConnPtr c) {
  while (!c->closed) {
    std::shared_ptr<const std::string> msg;
    {
      std::lock_guard<std::mutex> lk(mu);
      if (c->queue.empty()) {
        c->writer_waiting = true;
      } else {
        msg = std::move(c->queue.front());
        c->queue.pop_front();
        c->queue_bytes -= msg->size();
      }
    }
    if (!msg) {
      // Send/Broadcast cancel `wake` (on this thread) when they queue for a waiting writer.
      error_code ec;
      c->wake.expires_at(asio::steady_timer::time_point::max());
      co_await c->wake.async_wait(Redirect(ec));
      continue;
    }
    Status st = co_await WriteFrame(*c, *msg);
    if (!st.ok()) {
      Close(c, st);
      co_return;
    }
    ++stats.messages_out;
  }
}

// Closes the socket (which ends the reader and writer) and records why. P2P thread only.
void P2p::Impl::Close(const ConnPtr& c, Status why) {
  if (c->closed) return;
  c->closed = true;
  if (!c->close_reason) c->close_reason = std::move(why);
  error_code ec;
  c->socket.shutdown(tcp::socket::shutdown_both, ec);
  c->socket.close(ec);
  c->handshake_timer.cancel();
  c->wake.cancel();
  std::lock_guard<std::mutex> lk(mu);
  c->send_closed = true;
  c->queue.clear();
  c->queue_bytes = 0;
}

// The end of RunConnection: logs, unregisters, tells the handler.
void P2p::Impl::Finish(const ConnPtr& c, const Status& st) {
  const Status why = c->close_reason ? *c->close_reason : st;
  Close(c, why);
  if (conns.erase(c) > 0) --stats.connections_open;
  const std::string who =
      c->authenticated ? "node " + KeyHex(c->peer) + " at " + c->address : c->address;
  if (!c->registered) {
    ++stats.handshakes_failed;
    if (stopping) return;
    if (why.code() == Code::kDuplicate) {
      spdlog::info("p2p: dropping duplicate connection with {}: {}", who, why.ToString());
    } else if (c->expected && IsConnected(*c->expected)) {
      // The listener refused our dial because it keeps the connection it already has with us.
      spdlog::info("p2p: dial to {} closed during the handshake; already connected to it",
                   c->address);
    } else {
      spdlog::warn("p2p: handshake with {} ({}) failed: {}", who,
                   c->inbound ? "inbound" : "outbound", why.ToString());
    }
    return;
  }
  bool was_current = false;
  {
    std::lock_guard<std::mutex> lk(mu);
    auto it = peers.find(c->peer);
    if (it != peers.end() && it->second == c) {
      peers.erase(it);
      was_current = true;
    }
  }
  if (!was_current) return;  // replaced by a newer connection: the peer is still connected
  spdlog::info("p2p: {} disconnected: {}", who, why.ToString());
  NotifyPeer(c->peer, false);
  for (auto& d : dialers) {
    if (d->target.key == c->peer) d->timer.cancel();  // redial without waiting for the backoff
  }
}

void P2p::Impl::NotifyPeer(const PublicKey& peer, bool connected) {
  if (stopping) return;
  try {
    on_peer_change(peer, connected);
  } catch (const std::exception& e) {
    spdlog::error("p2p: peer handler threw: {}", e.what());
  }
}

bool P2p::Impl::IsConnected(const PublicKey& peer) const {
  std::lock_guard<std::mutex> lk(mu);
  return peers.contains(peer);
}

// Any thread, with `mu` held.
bool P2p::Impl::Enqueue(const ConnPtr& c, const std::shared_ptr<const std::string>& msg) {
  if (c->send_closed) return false;
  if (c->queue.size() >= kP2pQueueMessagesMax || c->queue_bytes + msg->size() > kP2pQueueBytesMax) {
    c->send_closed = true;
    c->queue.clear();
    c->queue_bytes = 0;
    ++stats.peers_dropped_slow;
    asio::post(io, [this, c] {
      Close(c, Error(Code::kUnavailable, "outbound queue full: peer does not keep up"));
    });
    return false;
  }
  c->queue.push_back(msg);
  c->queue_bytes += msg->size();
  if (c->writer_waiting) {
    c->writer_waiting = false;
    asio::post(io, [c] { c->wake.cancel(); });
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// P2p

namespace {
std::shared_ptr<const std::string> MakeMessage(uint8_t channel, const std::string& payload) {
  auto msg = std::make_shared<std::string>();
  msg->reserve(1 + payload.size());
  msg->push_back(static_cast<char>(channel));
  msg->append(payload);
  return msg;
}
bool PayloadFits(const std::string& payload) {
  if (payload.size() + 1 <= kP2pMessageBytesMax) return true;
  spdlog::error("p2p: refusing to send a {} byte payload (max {})", payload.size(),
                kP2pMessageBytesMax - 1);
  return false;
}
}  // namespace

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
  std::set<PublicKey> allowed(config.allowed.begin(), config.allowed.end());
  std::vector<PeerAddress> targets;
  std::set<PublicKey> seen;
  for (const std::string& text : config.peers) {
    auto addr = ParsePeerAddress(text);
    if (!addr.ok()) return bad(addr.status().message());
    if (addr->key == config.node_key.public_key()) continue;  // ourselves: a shared list is fine
    if (!allowed.contains(addr->key)) return bad("peer " + text + " is not in the allowed set");
    if (!seen.insert(addr->key).second) return bad("peer key listed twice: " + text);
    targets.push_back(*addr);
  }
  auto impl = std::make_unique<Impl>(std::move(config), std::move(allowed), std::move(targets),
                                     std::move(on_message), std::move(on_peer_change));
  return std::unique_ptr<P2p>(new P2p(std::move(impl)));
}

P2p::P2p(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
P2p::~P2p() { Stop(); }
Status P2p::Start() { return impl_->Start(); }
void P2p::Stop() { impl_->Stop(); }
int P2p::listen_port() const { return impl_->port.load(); }

void P2p::Broadcast(uint8_t channel, std::string payload) {
  if (!PayloadFits(payload)) return;
  auto msg = MakeMessage(channel, payload);
  std::lock_guard<std::mutex> lk(impl_->mu);
  for (auto& [key, conn] : impl_->peers) impl_->Enqueue(conn, msg);
}

bool P2p::Send(const PublicKey& peer, uint8_t channel, std::string payload) {
  if (!PayloadFits(payload)) return false;
  auto msg = MakeMessage(channel, payload);
  std::lock_guard<std::mutex> lk(impl_->mu);
  auto it = impl_->peers.find(peer);
  if (it == impl_->peers.end()) return false;
  return impl_->Enqueue(it->second, msg);
}

std::vector<PeerInfo> P2p::Peers() const {
  std::vector<PeerInfo> out;
  std::lock_guard<std::mutex> lk(impl_->mu);
  for (const auto& [key, conn] : impl_->peers) {
    out.push_back(PeerInfo{.key = key,
                           .node_id = KeyHex(key),
                           .address = conn->address,
                           .inbound = conn->inbound,
                           .connected_since_ms = conn->since_ms});
  }
  return out;
}

P2pStats P2p::Stats() const {
  const auto& s = impl_->stats;
  return P2pStats{.connections_open = s.connections_open.load(),
                  .handshakes_ok = s.handshakes_ok.load(),
                  .handshakes_failed = s.handshakes_failed.load(),
                  .messages_in = s.messages_in.load(),
                  .messages_out = s.messages_out.load(),
                  .peers_dropped_slow = s.peers_dropped_slow.load()};
}

}  // namespace v2g
