// HTTP API /v1 (docs/API.md). Every handler reads one consistent snapshot, validates every input
// and answers malformed requests with a 4xx JSON error; no request can crash the node.
// node/api/routes.h lists every endpoint and the file that answers it.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/bech32.h"
#include "common/limits.h"
#include "node/bft/bft.h"
#include "node/bft/engine.h"
#include "node/chain.h"
#include "node/mempool.h"
#include "node/metrics.h"
#include "node/store/store.h"

namespace httplib {
struct Request;
}

namespace v2g {

class P2p;
namespace api {
class ReadNonces;
}

// The API server's bounds (docs/DESIGN.md "API limits"; defaults and reasons in
// common/limits.h). `ApiContext::threads` is the worker count.
struct ApiLimits {
  int64_t queue_max = limits::kApiQueueMaxDefault;          // requests waiting for a worker
  int64_t wait_slots = limits::kApiWaitSlotsDefault;        // concurrent ?wait=commit
  int64_t batch_threads = limits::kApiBatchThreadsDefault;  // POST /v1/txs/batch at once
  int64_t batch_queue_max = limits::kApiBatchQueueMaxDefault;  // batches waiting for one
  int64_t stream_slots = limits::kApiStreamSlotsDefault;       // GET /v1/stream followed at once
  int64_t connections_max = limits::kApiConnectionsMaxDefault;
  // Open connections from one client address (IPv6: its /64); one more gets 503.
  int64_t connections_per_address_max = limits::kApiConnectionsPerAddressMaxDefault;
  int64_t header_timeout_ms = limits::kApiHeaderTimeoutMsDefault;  // first byte to end of header
  int64_t body_timeout_ms = limits::kApiBodyTimeoutMsDefault;      // end of header to end of body
  int64_t idle_timeout_ms = limits::kApiIdleTimeoutMsDefault;      // keep-alive, between requests
  int64_t write_timeout_ms = limits::kApiWriteTimeoutMsDefault;    // one answer (+ its size)
  int64_t answer_bytes_max = limits::kApiAnswerBytesMax;  // answers being written, all at once
};

// Requests the API answered, by route and status, and how long each route's handlers took (from
// the route's match to the answer set: signed-read checks and the handler, not the queue wait or
// the write), for GET /metrics. Routes are the route table's, plus "unmatched" (404, 405, 414:
// no handler ran) and "refused" (the transport's own 413, 431, 400 and 503), so a client's path
// never becomes a label. Any thread.
class RequestMetrics {
 public:
  explicit RequestMetrics(std::vector<std::string> route_names);
  size_t unmatched() const { return names_.size() - 2; }
  size_t refused() const { return names_.size() - 1; }
  void Count(size_t route, int status, int64_t micros);

  struct Row {
    const std::string* route;
    int status;
    uint64_t count;
  };
  std::vector<Row> Counts() const;  // by route index, then status
  const std::vector<std::string>& routes() const { return names_; }
  const metrics::Histogram& Latency(size_t route) const { return *latency_[route]; }

 private:
  const std::vector<std::string> names_;
  std::vector<std::unique_ptr<metrics::Histogram>> latency_;  // per route
  mutable std::mutex mu_;
  // Keys are a route index (names_) and an HTTP status (100-599): bounded.
  std::map<std::pair<size_t, int>, uint64_t> counts_;
};

// What the API server holds right now (for tests and logs).
struct ApiLoad {
  int64_t connections = 0;  // open
  int64_t idle = 0;         // of those, waiting for a next request
  int64_t workers_busy = 0;
  int64_t queued = 0;       // waiting for a worker
  int64_t waiting = 0;      // ?wait=commit requests in their slots
  int64_t batches = 0;      // POST /v1/txs/batch running or waiting for a batch thread
  int64_t streams = 0;      // GET /v1/stream being followed
  int64_t answer_bytes = 0;  // bytes of answers being written (at most limits.answer_bytes_max)
  int64_t connections_max = 0;  // the cap in force (limits.connections_max, or lower to fit fds)
};

struct ApiContext {
  Store* store = nullptr;
  Chain* chain = nullptr;
  Mempool* mempool = nullptr;
  ConsensusEngine* engine = nullptr;
  BftEngine* bft = nullptr;  // consensus detail, evidence pool, peer heights (may be null)
  P2p* p2p = nullptr;        // peers (may be null)
  // Called after a tx was admitted to the mempool through the API (gossip it).
  std::function<void(const std::string&)> on_tx_admitted;
  std::string chain_id;
  std::string moniker;
  std::string node_id;            // hex node public key
  std::string validator_address;  // bech32m, empty for a non-validator
  int64_t threads = 16;  // worker threads running handlers (config api.threads)
  // Personal data (node/api/access.h) only to the accounts entitled to it, by signed reads
  // (config api.private_reads); false serves everything to everyone.
  bool private_reads = true;
  // Accounts that may read everything (config api.full_readers): the node operator's own tools,
  // such as an indexer or an auditor.
  std::vector<Address> full_readers;
  ApiLimits limits;
  // The block explorer at / (config api.explorer) and, when set, the folder its files are read
  // from on every request instead of the copy built in (config api.explorer_dir; for working on
  // the page).
  bool explorer = true;
  std::string explorer_dir;
  // GET /metrics: the node's metrics in the Prometheus text format (node/node_metrics.h); unset
  // (a test's context, or [instrumentation] on its own address or off) answers 404.
  std::function<std::string()> metrics;
  // Tests only (V2GD_TEST_LIE): "value", "proof" or "header" makes GET /v1/proof/... and
  // /v1/light/... lie that way, for the light client's integration test; empty on a real node.
  std::string test_lie;
  // Tests only: runs on the worker thread before every handler (e.g. to hold workers busy).
  std::function<void(const httplib::Request&)> before_handler;
};

// Serves the API with Boost.Beast (node/api/http_server.h): one network thread for every
// connection, `threads` workers for the handlers, `limits.wait_slots` threads for
// ?wait=commit, `limits.batch_threads` for POST /v1/txs/batch. Saturation answers 503 with
// Retry-After; nothing queues without bound.
class ApiServer {
 public:
  explicit ApiServer(ApiContext ctx);
  ~ApiServer();
  // Binds host:port (port 0 picks a free one) and serves on background threads. Call once.
  Status Start(const std::string& host, int port);
  // Closes every connection and joins the threads (a running ?wait=commit handler finishes
  // first, at most its timeout_ms). Idempotent; not from a handler.
  void Stop();
  int port() const { return port_; }
  // A consistent-enough snapshot of the counters (each read atomically). Any thread.
  ApiLoad Load() const;
  const RequestMetrics& requests() const { return *requests_; }

 private:
  class Impl;
  ApiContext ctx_;
  std::unique_ptr<api::ReadNonces> nonces_;  // signed reads' replay record (access.h)
  std::unique_ptr<RequestMetrics> requests_;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace v2g
