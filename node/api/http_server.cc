// HttpServer on Boost.Beast: see http_server.h for the life of a connection. Everything touching
// a socket, the idle list or the connection set runs on the one network thread (or, in Stop,
// after it has been joined); workers only run `serve` and post the answer back.
// clang-format off
#include "node/p2p/asio.h"  // first: the project's one way to include Boost.Asio
// clang-format on
#include "node/api/http_server.h"

#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <future>
#include <limits>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "common/assert.h"
#include "node/api/work_pool.h"

namespace v2g::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Ms = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Beast's rate policy hook, used only to count the bytes a connection has received (no limit):
// at the connection cap the slowest reader is evicted (OnAccept).
class CountingRatePolicy {
 public:
  uint64_t read_bytes() const { return read_bytes_; }

 private:
  friend class beast::rate_policy_access;
  size_t available_read_bytes() const noexcept { return std::numeric_limits<size_t>::max(); }
  size_t available_write_bytes() const noexcept { return std::numeric_limits<size_t>::max(); }
  void transfer_read_bytes(size_t n) noexcept { read_bytes_ += n; }
  void transfer_write_bytes(size_t) noexcept {}
  void on_timer() noexcept {}

  uint64_t read_bytes_ = 0;
};
using Stream = beast::basic_stream<tcp, asio::any_io_executor, CountingRatePolicy>;

// What the per-address connection cap counts by: an IPv4 address (an IPv4-mapped IPv6 one too),
// or an IPv6 address's /64 (one subscriber's usual allocation: counting each address of it
// would let one client open 2^64 connections).
std::string AddressKey(const asio::ip::address& a) {
  if (a.is_v4()) {
    const auto b = a.to_v4().to_bytes();
    return std::string(b.begin(), b.end());
  }
  const asio::ip::address_v6 v6 = a.to_v6();
  if (v6.is_v4_mapped()) return AddressKey(asio::ip::make_address_v4(asio::ip::v4_mapped, v6));
  const auto b = v6.to_bytes();
  return std::string(b.begin(), b.begin() + 8);
}

// Bytes read at once while a connection waits for a request.
constexpr size_t kReadChunkBytes = 4096;
// After a refusal that leaves request bytes unread (413, 431, 400), the connection reads and
// drops at most this much, for at most kLingerMs, before closing: closing with unread bytes makes
// the kernel send a reset, which can destroy the answer before the client reads it.
constexpr size_t kLingerBytesMax = 1024 * 1024;
constexpr int64_t kLingerMs = 1000;
// Answers up to this size are written even when limits.answer_bytes_max is reached (they are
// counted): /v1/health and the other small answers keep working while large ones wait, and all
// of them together are at most connections_max x 16 KiB (4 MiB at the default cap).
constexpr int64_t kSmallAnswerBytes = 16 * 1024;
// The handler threads' nice value: when requests saturate the CPU (a flood of txs or reads), the
// consensus, P2P and commit threads still get the CPU they need (CFS gives a nice-10 thread about
// a tenth of a nice-0 one's share), so the flood slows the API and not block production.
constexpr int kApiThreadNice = 10;

// Splits the request target like cpp-httplib 0.11.4's server (the handlers and their tests rely
// on it): the path percent-decoded ('+' kept), the query parsed into params (percent-decoded,
// repeated keys kept). False for a target with more than one '?'.
bool ParseTarget(httplib::Request& req) {
  size_t count = 0;
  httplib::detail::split(req.target.data(), req.target.data() + req.target.size(), '?',
                         [&](const char* b, const char* e) {
                           if (count == 0) {
                             req.path = httplib::detail::decode_url(std::string(b, e), false);
                           } else if (count == 1 && e - b > 0) {
                             httplib::detail::parse_query_text(std::string(b, e), req.params);
                           }
                           ++count;
                         });
  return count <= 2;
}

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category();
}

thread_local StreamWriter* t_stream_writer = nullptr;

}  // namespace

StreamWriter* CurrentStreamWriter() { return t_stream_writer; }

class HttpServer::Impl {
 public:
  class Conn;

  explicit Impl(HttpServerOptions o) : opt_(std::move(o)) {}

  Result<int> Start(const std::string& host, int port);
  void Stop();
  ApiLoad Load() const;

 private:
  friend class Conn;
  void Accept();
  void OnAccept(tcp::socket socket);
  // The connection to close for a newcomer at the cap among those reading a request (nullptr:
  // none may go).
  Conn* SlowestReader() const;
  void RefuseAtCap(tcp::socket& socket, const std::string& message);
  Status FitFileDescriptors();
  void Run();

  HttpServerOptions opt_;
  asio::io_context io_;  // destroyed after the members below, which use it
  tcp::acceptor acceptor_{io_};
  asio::steady_timer accept_retry_{io_};
  std::thread thread_;
  std::unique_ptr<WorkPool> workers_;
  std::unique_ptr<WorkPool> waits_;
  std::unique_ptr<WorkPool> batches_;
  std::unique_ptr<WorkPool> streams_;
  // Set first thing in Stop: a stream thread waiting for its write gives up (the network thread
  // that would finish the write is going).
  std::atomic<bool> stopping_{false};
  std::list<Conn*> idle_;  // idle connections, longest idle first (network thread)
  // Connections part-way through reading a request (header or body), longest first (network
  // thread): at the cap with none idle, the slowest of them makes room (see OnAccept).
  std::list<Conn*> reading_;
  std::set<Conn*> open_;   // every open connection (network thread)
  // Open connections per AddressKey, none with 0 (network thread): at most connections_max keys.
  std::map<std::string, int64_t> per_address_;
  std::atomic<int64_t> connections_{0};
  std::atomic<int64_t> idle_count_{0};
  std::atomic<int64_t> answer_bytes_{0};  // reserved by connections writing an answer
  bool started_ = false;
  bool stopped_ = false;
};

// One connection. Owned by the handlers of its pending operation (shared_from_this), so it lives
// exactly as long as something will still happen on it.
class HttpServer::Impl::Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(Impl& srv, tcp::socket socket, std::string address_key)
      : srv_(srv),
        stream_(std::move(socket)),
        buf_(srv.opt_.header_bytes_max + kReadChunkBytes),
        address_key_(std::move(address_key)) {}
  // Normally closed already; not when an exception dropped its handler (Impl::Run goes on).
  ~Conn() { Close(); }

  void Start() {
    srv_.open_.insert(this);
    srv_.connections_.fetch_add(1);
    ++srv_.per_address_[address_key_];
    WaitForRequest();
  }

  // How long the request being read has been arriving, and its bytes received so far (with those
  // that came while the connection was idle): the rate a newcomer at the cap compares.
  int64_t ReadingMs(Clock::time_point now) const {
    V2G_ASSERT(reading_it_.has_value());
    return std::chrono::duration_cast<Ms>(now - reading_since_).count();
  }
  int64_t ReadingBytes() const {
    V2G_ASSERT(reading_it_.has_value());
    return static_cast<int64_t>(stream_.rate_policy().read_bytes() - reading_bytes_before_);
  }

  // Closes the socket (pending operations end with an error and do nothing more). Idempotent.
  void Close() {
    if (closed_) return;
    closed_ = true;
    SetIdle(false);
    SetReading(false);
    ReleaseAnswer();
    srv_.open_.erase(this);
    srv_.connections_.fetch_sub(1);
    auto it = srv_.per_address_.find(address_key_);
    V2G_ASSERT(it != srv_.per_address_.end() && it->second > 0);  // counted in Start
    if (--it->second == 0) srv_.per_address_.erase(it);
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  // A stream's bytes, from its stream thread: written on the network thread, waited for here.
  // False when the connection closed, the write timed out (then it is closed) or the server stops.
  bool WriteFromStream(std::string bytes) {
    auto data = std::make_shared<std::string>(std::move(bytes));
    auto done = std::make_shared<std::promise<bool>>();
    std::future<bool> written = done->get_future();
    asio::post(srv_.io_, [self = shared_from_this(), data, done] {
      if (self->closed_) return done->set_value(false);
      const auto bytes_n = static_cast<int64_t>(data->size());
      self->stream_.expires_after(Ms(self->srv_.opt_.limits.write_timeout_ms +
                                     bytes_n * 1000 / limits::kApiWriteBytesPerSMin));
      asio::async_write(self->stream_, asio::buffer(*data),
                        [self, data, done](beast::error_code ec, size_t) {
                          const bool ok = !ec && !self->closed_;
                          if (!ok) self->Close();
                          done->set_value(ok);
                        });
    });
    while (written.wait_for(Ms(50)) != std::future_status::ready) {
      if (srv_.stopping_.load()) return false;
    }
    return written.get();
  }
  bool ServerStopping() const { return srv_.stopping_.load(); }
  // A stream's client that vanished without a FIN or reset (a lost network, a NAT that forgot
  // it) would hold its slot until the kernel gives up retransmitting (~15 min): the kernel closes
  // the connection instead once written bytes stay unacknowledged this long, and the stream's
  // next write fails. A slow reader that is there acknowledges (zero-window probes included).
  void LimitUnacknowledged() {
    asio::post(srv_.io_, [self = shared_from_this()] {
      if (self->closed_) return;
      const unsigned int ms = static_cast<unsigned int>(2 * limits::kStreamKeepaliveMs);
      ::setsockopt(self->stream_.socket().native_handle(), IPPROTO_TCP, TCP_USER_TIMEOUT, &ms,
                   sizeof ms);
    });
  }
  // After the stream's handler returned: half-close and drain (Linger), from the network thread.
  void EndStream() {
    asio::post(srv_.io_, [self = shared_from_this()] {
      if (!self->closed_) self->Linger();
    });
  }

  // The StreamWriter of one stream request, on its stream thread.
  class Writer : public StreamWriter {
   public:
    explicit Writer(std::shared_ptr<Conn> conn) : conn_(std::move(conn)) {}
    bool Begin(int status,
               const std::vector<std::pair<std::string, std::string>>& headers) override {
      V2G_ASSERT(!began_);
      began_ = true;
      const auto reason = http::obsolete_reason(static_cast<http::status>(status));
      std::string head = "HTTP/1.1 " + std::to_string(status) + " " +
                         std::string(reason.data(), reason.size()) + "\r\n";
      for (const auto& [name, value] : headers) {
        V2G_ASSERT(name.find_first_of("\r\n:") == std::string::npos &&
                   value.find_first_of("\r\n") == std::string::npos);
        head += name + ": " + value + "\r\n";
      }
      head += "Connection: close\r\n\r\n";
      if (conn_->head_) return false;
      conn_->LimitUnacknowledged();
      return Write(std::move(head));
    }
    bool Write(std::string piece) override {
      V2G_ASSERT(began_);  // the piece's size is the caller's bound (an event may pass a piece's)
      return conn_->WriteFromStream(std::move(piece));
    }
    bool Stopping() const override { return conn_->ServerStopping(); }
    bool began() const { return began_; }

   private:
    std::shared_ptr<Conn> conn_;
    bool began_ = false;
  };

 private:
  void SetIdle(bool idle) {
    if (idle && !idle_it_ && !closed_) {
      idle_it_ = srv_.idle_.insert(srv_.idle_.end(), this);
      srv_.idle_count_.fetch_add(1);
    } else if (!idle && idle_it_) {
      srv_.idle_.erase(*idle_it_);
      idle_it_.reset();
      srv_.idle_count_.fetch_sub(1);
    }
  }

  // Reading: from a request's first byte until it is complete (or refused).
  void SetReading(bool reading) {
    if (reading && !reading_it_ && !closed_) {
      reading_it_ = srv_.reading_.insert(srv_.reading_.end(), this);
      reading_since_ = Clock::now();
      // Bytes of this request already buffered (read while idle, or pipelined) count as received.
      reading_bytes_before_ = stream_.rate_policy().read_bytes() - buf_.size();
    } else if (!reading && reading_it_) {
      srv_.reading_.erase(*reading_it_);
      reading_it_.reset();
    }
  }

  // Idle: no request in progress. Bytes of a pipelined request already read go straight on.
  void WaitForRequest() {
    if (buf_.size() > 0) return ReadHeader();
    SetIdle(true);
    stream_.expires_after(Ms(srv_.opt_.limits.idle_timeout_ms));
    stream_.async_read_some(buf_.prepare(kReadChunkBytes),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->SetIdle(false);
                              if (ec || self->closed_) return self->Close();
                              self->buf_.commit(n);
                              self->ReadHeader();
                            });
  }

  // The header's deadline runs from its first byte, so trickling it (slow loris) does not help.
  void ReadHeader() {
    // Nothing of the previous request carries over (a refusal before this header is parsed
    // answers as HTTP/1.1, without keep-alive, with a body).
    SetReading(true);
    version_ = 11;
    keep_alive_ = false;
    head_ = false;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(srv_.opt_.header_bytes_max));
    parser_->body_limit(srv_.opt_.body_bytes_max);
    stream_.expires_after(Ms(srv_.opt_.limits.header_timeout_ms));
    http::async_read_header(
        stream_, buf_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (closed_) return;
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      return Refuse(431, "request header too large (limit " +
                             std::to_string(srv_.opt_.header_bytes_max) + " bytes)");
    }
    // A declared Content-Length over body_limit is refused by the parser with the header.
    if (ec == http::error::body_limit) return RefuseTooLarge();
    if (ec && IsHttpParseError(ec) && ec != http::error::end_of_stream) {
      return Refuse(400, "malformed HTTP request: " + ec.message());
    }
    if (ec) return Close();  // timeout, end of stream, reset
    const auto& m = parser_->get();
    version_ = m.version();
    keep_alive_ = m.keep_alive();
    const auto length = parser_->content_length();
    if (length && *length > srv_.opt_.body_bytes_max) return RefuseTooLarge();
    // A POST says how long its body is: without a length (or chunks) it has none by HTTP/1.1's
    // rules, and a client that meant to send one would wait for an answer that never comes right.
    if (m.method() == http::verb::post && !length && !parser_->chunked()) {
      return Refuse(411, "POST needs a Content-Length header (or a chunked body)");
    }
    const auto expect = m.find(http::field::expect);
    // HTTP/1.0 has no 100 Continue (RFC 9110 10.1.1): such a client just sends its body.
    if (version_ >= 11 && expect != m.end() && beast::iequals(expect->value(), "100-continue") &&
        !parser_->is_done()) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      stream_.expires_after(Ms(srv_.opt_.limits.write_timeout_ms));
      return asio::async_write(stream_, asio::buffer(kContinue),
                               [self = shared_from_this()](beast::error_code wec, size_t) {
                                 if (wec || self->closed_) return self->Close();
                                 self->ReadBody();
                               });
    }
    ReadBody();
  }

  // Declared or chunked, the body stops at body_bytes_max (the parser's body_limit).
  void ReadBody() {
    if (parser_->is_done()) return OnRequest();
    stream_.expires_after(Ms(srv_.opt_.limits.body_timeout_ms));
    http::async_read(stream_, buf_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (self->closed_) return;
                       if (ec == http::error::body_limit) return self->RefuseTooLarge();
                       if (ec && IsHttpParseError(ec) && ec != http::error::end_of_stream &&
                           ec != http::error::partial_message) {
                         return self->Refuse(400, "malformed HTTP request: " + ec.message());
                       }
                       if (ec) return self->Close();
                       self->OnRequest();
                     });
  }

  void OnRequest() {
    SetReading(false);
    stream_.expires_never();
    auto req = std::make_shared<httplib::Request>();
    auto& m = parser_->get();
    req->method = std::string(m.method_string());
    req->target = std::string(m.target());
    req->version = version_ == 10 ? "HTTP/1.0" : "HTTP/1.1";
    for (const auto& f : m)
      req->headers.emplace(std::string(f.name_string()), std::string(f.value()));
    req->body = std::move(m.body());
    beast::error_code ec;
    const auto remote = stream_.socket().remote_endpoint(ec);
    if (!ec) {
      req->remote_addr = remote.address().to_string();
      req->remote_port = remote.port();
    }
    parser_.reset();
    head_ = req->method == "HEAD";
    if (!ParseTarget(*req)) return Refuse(400, "malformed request target");
    const bool long_wait = srv_.opt_.is_long_wait(*req);
    const bool batch = !long_wait && srv_.opt_.is_batch && srv_.opt_.is_batch(*req);
    const bool stream = !long_wait && !batch && srv_.opt_.is_stream && srv_.opt_.is_stream(*req);
    WorkPool& pool = long_wait ? *srv_.waits_
                     : batch   ? *srv_.batches_
                     : stream  ? *srv_.streams_
                               : *srv_.workers_;
    // The job holds the connection; its answer goes back to the network thread.
    auto job = [self = shared_from_this(), req, stream]() mutable {
      auto res = std::make_shared<httplib::Response>();
      if (stream) {
        Writer writer(self);
        t_stream_writer = &writer;
        self->srv_.opt_.serve(*req, *res);
        t_stream_writer = nullptr;
        if (writer.began()) return self->EndStream();
      } else {
        self->srv_.opt_.serve(*req, *res);
      }
      Impl& srv = self->srv_;
      asio::post(srv.io_, [self = std::move(self), res] { self->Write(std::move(*res), false); });
    };
    if (pool.TrySubmit(std::move(job))) return;
    httplib::Response busy;
    srv_.opt_.refuse(503,
                     long_wait ? "the API's " + std::to_string(srv_.opt_.limits.wait_slots) +
                                     " wait=commit slots are all taken: retry later, or send "
                                     "without wait and poll GET /v1/txs/{hash}"
                     : batch ? "the API's " + std::to_string(srv_.opt_.limits.batch_threads) +
                                   " batch threads and " +
                                   std::to_string(srv_.opt_.limits.batch_queue_max) +
                                   " batch queue slots are all taken: retry later"
                     : stream ? "the API's " + std::to_string(srv_.opt_.limits.stream_slots) +
                                    " stream slots are all taken: retry later"
                              : "the API is busy (every worker and queue slot taken): retry later",
                     busy);
    busy.set_header("Retry-After", std::to_string(limits::kApiRetryAfterS));
    Write(std::move(busy), false);
  }

  void RefuseTooLarge() {
    Refuse(413, "request body too large (limit " + std::to_string(srv_.opt_.body_bytes_max) +
                    " bytes, whatever the transfer encoding)");
  }
  // Answers `status` and closes: what is left of the request cannot be trusted or is too big.
  void Refuse(int status, const std::string& message) {
    httplib::Response res;
    srv_.opt_.refuse(status, message, res);
    Write(std::move(res), true);
  }

  // Takes `bytes` of the global answer budget (limits.answer_bytes_max) for the answer about to
  // be written; false when it would pass the budget (small answers always fit).
  bool ReserveAnswer(int64_t bytes) {
    V2G_ASSERT(reserved_ == 0 && bytes >= 0);
    const int64_t after = srv_.answer_bytes_.fetch_add(bytes) + bytes;
    if (after > srv_.opt_.limits.answer_bytes_max && bytes > kSmallAnswerBytes) {
      srv_.answer_bytes_.fetch_sub(bytes);
      return false;
    }
    reserved_ = bytes;
    return true;
  }
  void ReleaseAnswer() {
    if (reserved_ == 0) return;
    srv_.answer_bytes_.fetch_sub(reserved_);
    reserved_ = 0;
  }

  void Write(httplib::Response r, bool close) {
    if (closed_) return;
    SetReading(false);
    V2G_ASSERT(reserved_ == 0);
    if (!head_ && !ReserveAnswer(static_cast<int64_t>(r.body.size()))) {
      // Too many large answers are being written (to clients that read slowly or not at all):
      // a small 503 instead of pinning more memory.
      const size_t size = r.body.size();
      r = httplib::Response();
      srv_.opt_.refuse(503,
                       "the API is writing too many large answers (" + std::to_string(size) +
                           " bytes more would pass " +
                           std::to_string(srv_.opt_.limits.answer_bytes_max) + "): retry later",
                       r);
      r.set_header("Retry-After", std::to_string(limits::kApiRetryAfterS));
      const bool fits = ReserveAnswer(static_cast<int64_t>(r.body.size()));  // small: always
      V2G_ASSERT(fits);
    }
    res_ = {};
    res_.version(version_ == 10 ? 10 : 11);
    res_.result(static_cast<unsigned>(r.status > 0 ? r.status : 500));
    for (const auto& [name, value] : r.headers) {
      if (beast::iequals(name, "Content-Length") || beast::iequals(name, "Connection") ||
          beast::iequals(name, "Transfer-Encoding")) {
        continue;
      }
      res_.insert(name, value);
    }
    res_.body() = std::move(r.body);
    ++served_;
    const bool keep = !close && keep_alive_ && served_ < limits::kApiRequestsPerConnMax;
    res_.keep_alive(keep);
    res_.prepare_payload();
    if (head_)
      res_.body() = std::string();  // HEAD: the GET's headers (Content-Length too), no body
    // An honest slow reader gets time for the size too (kApiWriteBytesPerSMin); one that reads
    // nothing is cut after write_timeout_ms plus that.
    const auto body_bytes = static_cast<int64_t>(res_.body().size());
    stream_.expires_after(
        Ms(srv_.opt_.limits.write_timeout_ms + body_bytes * 1000 / limits::kApiWriteBytesPerSMin));
    http::async_write(stream_, res_,
                      [self = shared_from_this(), keep, close](beast::error_code ec, size_t) {
                        self->res_ = {};  // written or given up: its memory goes now
                        self->ReleaseAnswer();
                        if (ec || self->closed_) return self->Close();
                        // Request bytes already sent (pipelined) would turn a plain close into
                        // a reset that can destroy the answer before the client reads it.
                        if (close || (!keep && self->HasUnreadBytes())) return self->Linger();
                        if (!keep) return self->Close();
                        self->WaitForRequest();
                      });
  }

  bool HasUnreadBytes() {
    beast::error_code ec;
    return buf_.size() > 0 || stream_.socket().available(ec) > 0;
  }

  // Half-closes, then drops what the client still sends (bounded in bytes and time) so the
  // answer is not lost to a reset; then closes.
  void Linger() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(Ms(kLingerMs));
    DrainSome();
  }
  void DrainSome() {
    buf_.clear();
    stream_.async_read_some(buf_.prepare(kReadChunkBytes),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->drained_ += n;
                              if (ec || self->closed_ || self->drained_ > kLingerBytesMax) {
                                return self->Close();
                              }
                              self->DrainSome();
                            });
  }

  Impl& srv_;
  Stream stream_;
  beast::flat_buffer buf_;  // bounded: a header and one read chunk
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;  // the answer being written
  std::optional<std::list<Conn*>::iterator> idle_it_;
  std::optional<std::list<Conn*>::iterator> reading_it_;
  Clock::time_point reading_since_;  // while reading_it_
  uint64_t reading_bytes_before_ = 0;
  const std::string address_key_;  // AddressKey of the client
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_ = false;
  bool closed_ = false;
  int64_t reserved_ = 0;  // of srv_.answer_bytes_, for res_
  int64_t served_ = 0;
  size_t drained_ = 0;
};

Result<int> HttpServer::Impl::Start(const std::string& host, int port) {
  V2G_ASSERT(!started_);
  if (Status st = FitFileDescriptors(); !st.ok()) return st;
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) {
    // A host name (e.g. "localhost"), as cpp-httplib's server accepted: its first address.
    tcp::resolver resolver(io_);
    const auto found = resolver.resolve(host, std::to_string(port), ec);
    if (ec || found.empty()) {
      return Error(Code::kInvalidArgument,
                   "API listen address '" + host + "': " + (ec ? ec.message() : "no address"));
    }
    address = found.begin()->endpoint().address();
  }
  const tcp::endpoint ep(address, static_cast<uint16_t>(port));
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error(Code::kIo, "cannot bind the API to " + host + ":" + std::to_string(port) + " (" +
                                ec.message() + ")");
  }
  const int bound = acceptor_.local_endpoint().port();
  workers_ = std::make_unique<WorkPool>("api", opt_.workers, opt_.limits.queue_max, kApiThreadNice);
  waits_ = std::make_unique<WorkPool>("api-wait", opt_.limits.wait_slots, 0, kApiThreadNice);
  batches_ = std::make_unique<WorkPool>("api-batch", opt_.limits.batch_threads,
                                        opt_.limits.batch_queue_max, kApiThreadNice);
  streams_ = std::make_unique<WorkPool>("api-stream", opt_.limits.stream_slots, 0, kApiThreadNice);
  started_ = true;
  Accept();
  thread_ = std::thread([this] { Run(); });
  return bound;
}

// Only a bug throws here (every handler takes error codes), but one such request must not stop
// the API for good: the handler that threw is dropped (its connection closes as it goes) and the
// loop runs on. run() returns normally only once Stop() has stopped it.
void HttpServer::Impl::Run() {
  while (true) {
    try {
      io_.run();
      return;
    } catch (const std::exception& e) {
      spdlog::error("api: exception on the network thread (request dropped): {}", e.what());
    } catch (...) {
      spdlog::error("api: unknown exception on the network thread (request dropped)");
    }
  }
}

// Every connection is a file descriptor: the soft RLIMIT_NOFILE must hold connections_max plus
// kApiFdReserve for the rest of the node. Raises the soft limit as far as the hard one allows;
// past that lowers connections_max with a warning (a node whose limits were set low by its
// operator still serves, with fewer connections); refuses only when not even 4 would fit.
Status HttpServer::Impl::FitFileDescriptors() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return Status::Ok();  // unknown: trust the config
  const auto want = static_cast<rlim_t>(opt_.limits.connections_max + limits::kApiFdReserve);
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max == RLIM_INFINITY ? want : std::min(want, rl.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want) return Status::Ok();
  const int64_t fit = static_cast<int64_t>(rl.rlim_cur) - limits::kApiFdReserve;
  if (fit < 4) {
    return Error(Code::kUnavailable,
                 "the open-file limit (RLIMIT_NOFILE " + std::to_string(rl.rlim_cur) +
                     ") leaves no room for API connections: raise it (ulimit -n) to at least " +
                     std::to_string(want));
  }
  spdlog::warn(
      "api: open-file limit {} (hard {}) cannot hold api.connections_max = {} plus {} for the "
      "node: serving at most {} connections (raise ulimit -n to {} for all)",
      rl.rlim_cur, rl.rlim_max, opt_.limits.connections_max, limits::kApiFdReserve, fit, want);
  opt_.limits.connections_max = fit;
  return Status::Ok();
}

void HttpServer::Impl::Accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (!acceptor_.is_open()) return;
    if (ec) {
      // Out of file descriptors and the like: try again shortly instead of spinning.
      spdlog::warn("api: accept: {}", ec.message());
      accept_retry_.expires_after(Ms(100));
      accept_retry_.async_wait([this](beast::error_code) { Accept(); });
      return;
    }
    OnAccept(std::move(socket));
    Accept();
  });
}

void HttpServer::Impl::OnAccept(tcp::socket socket) {
  beast::error_code ec;
  const tcp::endpoint remote = socket.remote_endpoint(ec);
  if (ec) return;  // gone already (the socket closes as it goes)
  std::string key = AddressKey(remote.address());
  // One address cannot take every place: it gets no more than its share, whatever it evicts. A
  // share of connections_max or more is no cap (a node behind a reverse proxy, whose every client
  // is the proxy's address): then the address's newcomers evict at the cap like anyone's.
  const int64_t share = opt_.limits.connections_per_address_max;
  if (auto it = per_address_.find(key); share < opt_.limits.connections_max &&
                                        it != per_address_.end() && it->second >= share) {
    return RefuseAtCap(socket, "the API allows " +
                                   std::to_string(opt_.limits.connections_per_address_max) +
                                   " connections per client address: close one or retry later");
  }
  if (connections_.load() >= opt_.limits.connections_max) {
    // The longest-idle keep-alive connection makes room; else the slowest reader (SlowestReader).
    // A client that sends its request in one go (any honest one) is reading for a moment only;
    // one trickling it (slow loris) is slow. Without this, a client holding every connection
    // mid-header shut everyone else out: each newcomer got 503 until header_timeout_ms cut one,
    // and the trickler reopened it first (attack_test: honest p99 0.4 s -> 16 s). Not the
    // longest reader, as before: an attacker reconnecting as fast as it is evicted then made
    // every newcomer evict the oldest, an honest slow upload
    // (HttpServerLimitsTest.AtTheCapTheSlowestReaderGoesNotTheOldest).
    if (!idle_.empty()) {
      idle_.front()->Close();
    } else if (Conn* slowest = SlowestReader()) {
      slowest->Close();
    } else {
      return RefuseAtCap(socket, "the API has " + std::to_string(opt_.limits.connections_max) +
                                     " connections, all busy: retry later");  // none reading
    }
  }
  socket.set_option(tcp::no_delay(true), ec);  // small JSON answers: no Nagle delay
  std::make_shared<Conn>(*this, std::move(socket), std::move(key))->Start();
}

// The fewest bytes per second among the first kApiEvictScanMax readers (reading_ is in the order
// they started: the oldest), each one's time counted as at least kApiEvictAgeMinMs; the oldest of
// equals. Not only those older than that: an attacker reconnecting faster than that could keep
// every reader of its own young, so that newcomers got 503 or, with an honest upload the only old
// reader, evicted just that.
HttpServer::Impl::Conn* HttpServer::Impl::SlowestReader() const {
  const Clock::time_point now = Clock::now();
  Conn* slowest = nullptr;
  int64_t slowest_bytes = 0, slowest_ms = 1, scanned = 0;
  for (Conn* c : reading_) {
    if (++scanned > limits::kApiEvictScanMax) break;
    const int64_t ms = std::max(c->ReadingMs(now), limits::kApiEvictAgeMinMs);
    const int64_t bytes = c->ReadingBytes();
    V2G_ASSERT(bytes >= 0 && ms > 0);
    // bytes / ms < slowest_bytes / slowest_ms, without division (a request is at most ~140 KiB
    // and its deadlines ~15 s: the products fit in 64 bits with room to spare).
    if (!slowest || bytes * slowest_ms < slowest_bytes * ms) {
      slowest = c;
      slowest_bytes = bytes;
      slowest_ms = ms;
    }
  }
  return slowest;
}

// A short 503 written without waiting (it fits in the socket buffer of a fresh connection), then
// close: every connection is busy with a request, or the client's address has its share.
void HttpServer::Impl::RefuseAtCap(tcp::socket& socket, const std::string& message) {
  httplib::Response res;
  opt_.refuse(503, message, res);
  std::string text =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
      "Retry-After: " +
      std::to_string(limits::kApiRetryAfterS) +
      "\r\nConnection: close\r\nContent-Length: " + std::to_string(res.body.size()) + "\r\n\r\n" +
      res.body;
  beast::error_code ec;
  socket.non_blocking(true, ec);
  socket.write_some(asio::buffer(text), ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

void HttpServer::Impl::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  stopping_ = true;
  io_.stop();
  if (thread_.joinable()) thread_.join();
  // The network thread is gone: this thread may touch the sockets now.
  beast::error_code ec;
  acceptor_.close(ec);
  const std::set<Conn*> open = open_;
  for (Conn* c : open) c->Close();
  workers_->Stop();
  batches_->Stop();
  waits_->Stop();  // a handler in WaitForTx returns at once: Node::Stop called Chain::StopWaits first
  streams_->Stop();  // a stream sees stopping_ within its wait (50 ms) or its next block
}

ApiLoad HttpServer::Impl::Load() const {
  ApiLoad l;
  l.connections = connections_.load();
  l.idle = idle_count_.load();
  l.answer_bytes = answer_bytes_.load();
  l.connections_max = opt_.limits.connections_max;
  if (workers_) {
    l.workers_busy = workers_->busy();
    l.queued = workers_->queued();
    l.waiting = waits_->busy() + waits_->queued();
    l.batches = batches_->busy() + batches_->queued();
    l.streams = streams_->busy();
  }
  return l;
}

HttpServer::HttpServer(HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpServer::~HttpServer() { Stop(); }
Result<int> HttpServer::Start(const std::string& host, int port) {
  return impl_->Start(host, port);
}
void HttpServer::Stop() { impl_->Stop(); }
ApiLoad HttpServer::Load() const { return impl_->Load(); }

}  // namespace v2g::api
