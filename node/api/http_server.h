// HttpServer: the API's HTTP/1.1 transport, Boost.Beast on one Asio thread (docs/DESIGN.md "API
// limits"). It owns the sockets and the timeouts; what a request means is the `serve` callback's
// business (server.cc routes it to a handler). Why not cpp-httplib's server: it gives every
// connection a pool thread for its whole life, so idle keep-alive and trickling clients hold the
// workers, its task queue has no bound, and 0.11.4 reads chunked bodies without a cap.
//
// Life of a connection, every step on the network thread and bounded:
//   start       connections_max is fitted to RLIMIT_NOFILE (soft limit raised towards the hard
//               one, else the cap lowered with a warning; kApiFdReserve stays for the node).
//   accept      a client address (IPv6: its /64) with limits.connections_per_address_max open
//               gets 503 and is closed. At limits.connections_max, the longest-idle connection is
//               closed to make room; with none idle, the slowest (fewest bytes per second, over
//               at least kApiEvictAgeMinMs) of those reading a request (a slow loris); with none
//               of those either (all in handlers or writing) the newcomer gets 503 and is closed.
//   idle        waiting for the first byte of a request: limits.idle_timeout_ms, then closed.
//   header      first byte to the end of the header: header_timeout_ms, at most
//               kHttpHeaderBytesMax (else 431 and close). Nothing of the previous request
//               (version, keep-alive, HEAD) carries over.
//   body        declared length over kHttpBodyBytesMax: 413 before reading it; chunked bodies
//               are cut at the same size (413); all of it within body_timeout_ms.
//   serve       the request goes to a worker pool (`workers` threads, queue_max waiting) or, when
//               `is_long_wait` says so, to the wait pool (wait_slots threads, no queue), or, when
//               `is_batch` says so, to the batch pool (batch_threads, batch_queue_max waiting); a
//               full pool answers 503 with Retry-After at once. The connection reads nothing more
//               until the answer is written.
//   write       the answer takes its size from a global budget (limits.answer_bytes_max; an
//               answer over it becomes a small 503 with Retry-After, answers up to 16 KiB are
//               always written) until written or the connection closes; within
//               write_timeout_ms + size / kApiWriteBytesPerSMin; then idle again (keep-alive),
//               or closed: lingering (half-close, drain) when request bytes are left unread.
// An exception escaping a handler on the network thread (a bug) drops that handler and its
// connection; the loop runs on.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "node/api/api.h"

namespace httplib {
struct Response;
}

namespace v2g::api {

// A long answer written piece by piece (Server-Sent Events, GET /v1/stream) by the stream thread
// that serves it. Begin writes the status line and headers (no Content-Length: the body ends when
// the connection closes, so a stream always closes its connection), Write one piece of the body.
// Each returns once the client has taken the bytes, or false: the client is gone, it did not take
// them within limits.write_timeout_ms plus their size at kApiWriteBytesPerSMin, or the server is
// stopping; the handler then returns. One piece in flight per stream, so a stream holds at most one
// piece of memory whatever its client does.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  virtual bool Begin(int status,
                     const std::vector<std::pair<std::string, std::string>>& headers) = 0;
  virtual bool Write(std::string piece) = 0;
  virtual bool Stopping() const = 0;
};
// The writer of the request the calling thread serves, when `is_stream` sent it to a stream
// thread; nullptr otherwise.
StreamWriter* CurrentStreamWriter();

struct HttpServerOptions {
  int64_t workers = 16;
  ApiLimits limits;
  size_t header_bytes_max = limits::kHttpHeaderBytesMax;
  size_t body_bytes_max = limits::kHttpBodyBytesMax;
  // Answers a request (on a worker or wait thread; many at once). Must not throw.
  std::function<void(httplib::Request&, httplib::Response&)> serve;
  // The transport's own refusals (413, 431, 400, 503) as the API's error shape: sets `res`
  // for `status` with `message`, a small body. Any thread.
  std::function<void(int status, const std::string& message, httplib::Response&)> refuse;
  // True for requests that may wait long (POST /v1/txs?wait=commit): they get a wait slot.
  std::function<bool(const httplib::Request&)> is_long_wait;
  // True for requests that admit many txs (POST /v1/txs/batch): they go to the batch pool, so
  // they never hold the workers that single txs and reads need.
  std::function<bool(const httplib::Request&)> is_batch;
  // True for requests answered by a stream (GET /v1/stream): they get a stream slot
  // (limits.stream_slots threads, no queue) and `serve` runs with CurrentStreamWriter() set. A
  // `serve` that never calls Begin answers with `res` as usual (its errors). May be empty.
  std::function<bool(const httplib::Request&)> is_stream;
};

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  ~HttpServer();  // Stop()
  // Fits connections_max to RLIMIT_NOFILE (see above; an error when not even 4 connections fit),
  // binds host:port (0: any free port) and starts the threads; the port bound, or an error.
  Result<int> Start(const std::string& host, int port);
  // Closes the listener and every connection, lets running handlers finish, joins. Idempotent.
  void Stop();
  ApiLoad Load() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace v2g::api
