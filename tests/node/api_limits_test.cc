// Attack tests of the HTTP API server's limits (issue 12 class 5; docs/DESIGN.md "API limits"),
// over raw sockets on 127.0.0.1 because a well-behaved client cannot trickle a header, send an
// endless chunked body or sit idle on purpose. Each test failed on the cpp-httplib server this
// replaced: idle and trickling connections held its threads (/v1/health took tens of seconds),
// its queue had no bound (no 503), and it read a chunked body without a cap.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include "common/limits.h"
#include "node/api/api.h"
#include "node/api/http_server.h"
#include "tests/node/node_test_util.h"

namespace v2g::nodetest {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

// A TCP connection to the API that does exactly what the test says, byte for byte.
class RawConn {
 public:
  // `rcvbuf_bytes` > 0: a small receive buffer (set before connecting, so the window stays
  // small), for a client that reads slowly or not at all. `source`: the client's address (any
  // of 127.0.0.0/8 is this host's), else 127.0.0.1.
  explicit RawConn(int port, int rcvbuf_bytes = 0, const char* source = nullptr) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf_bytes > 0) {
      setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf_bytes, sizeof rcvbuf_bytes);
    }
    if (source != nullptr) {
      sockaddr_in from{};
      from.sin_family = AF_INET;
      inet_pton(AF_INET, source, &from.sin_addr);
      if (bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) return;
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    timeval tv{10, 0};  // a send the server never drains fails instead of hanging the test
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  ~RawConn() { close(fd_); }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  bool connected() const { return connected_; }
  // False once the server has closed or reset the connection (or stopped reading for 10 s).
  bool Send(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // One HTTP response (header and Content-Length body), or what arrived before EOF, a reset or
  // `timeout_ms`.
  std::string ReadResponse(int64_t timeout_ms) {
    const auto t0 = Clock::now();
    std::string in;
    while (MsSince(t0) < timeout_ms) {
      const size_t end = in.find("\r\n\r\n");
      if (end != std::string::npos) {
        const size_t cl = in.find("Content-Length: ");
        // The number in place: a substr to the end copied the whole body read so far on every
        // recv (quadratic: an 8 MiB answer took over 10 s under ASan on this box).
        const size_t want =
            cl == std::string::npos || cl > end ? 0 : std::strtoul(in.c_str() + cl + 16, nullptr, 10);
        if (in.size() >= end + 4 + want) return in;
      }
      char buf[4096];
      if (!WaitReadable(timeout_ms - MsSince(t0))) break;
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
    }
    return in;
  }
  // The header of one HTTP response (through the blank line), or what arrived before EOF, a
  // reset or `timeout_ms`: for a HEAD, whose Content-Length announces a body that is not sent.
  std::string ReadHeaderOnly(int64_t timeout_ms) {
    const auto t0 = Clock::now();
    std::string in;
    while (MsSince(t0) < timeout_ms && in.find("\r\n\r\n") == std::string::npos) {
      char c;
      if (!WaitReadable(timeout_ms - MsSince(t0))) break;
      if (recv(fd_, &c, 1, 0) <= 0) break;
      in.push_back(c);
    }
    return in;
  }
  // True when the server has closed (EOF or reset) by now, without waiting; what it sent is
  // dropped.
  bool ClosedNow() {
    char buf[4096];
    while (WaitReadable(0)) {
      if (recv(fd_, buf, sizeof buf, 0) <= 0) return true;
    }
    return false;
  }
  // True when the server closes (EOF or reset) within `timeout_ms`; what it sends is dropped.
  bool ClosedWithin(int64_t timeout_ms) {
    const auto t0 = Clock::now();
    while (MsSince(t0) < timeout_ms) {
      if (!WaitReadable(timeout_ms - MsSince(t0))) return false;
      char buf[4096];
      if (recv(fd_, buf, sizeof buf, 0) <= 0) return true;
    }
    return false;
  }

 private:
  bool WaitReadable(int64_t timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    return poll(&p, 1, static_cast<int>(std::max<int64_t>(timeout_ms, 0))) > 0;
  }
  int fd_ = -1;
  bool connected_ = false;
};

int StatusOf(const std::string& response) {
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return 0;
  return std::stoi(response.substr(9, 3));
}
json BodyOf(const std::string& response) {
  const size_t end = response.find("\r\n\r\n");
  if (end == std::string::npos) return json();
  return json::parse(response.substr(end + 4), nullptr, false);
}

// Resident memory of this process (the node runs in it), from /proc.
int64_t RssKib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

const char kPartialHeader[] = "GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n";
const char kHealth[] = "GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

class ApiLimitsTest : public ::testing::Test {
 protected:
  // Starts a node and its API with 2 workers and `tune` applied to the context.
  void Start(const std::function<void(ApiContext&)>& tune) {
    node_ = std::make_unique<ManualNode>();
    ASSERT_FALSE(HasFatalFailure());
    ApiContext ctx;
    ctx.private_reads = false;  // every record, as the operator's tools read it (access.h)
    ctx.store = &node_->store();
    ctx.chain = &node_->chain();
    ctx.mempool = &node_->mempool();
    ctx.chain_id = kChainId;
    ctx.moniker = "api-limits-test";
    ctx.threads = 2;
    // Every client here is 127.0.0.1: no per-address cap but in the test of it.
    ctx.limits.connections_per_address_max = 100'000;
    tune(ctx);
    api_ = std::make_unique<ApiServer>(ctx);
    ASSERT_TRUE(api_->Start("127.0.0.1", 0).ok());
  }
  void TearDown() override {
    Release();
    if (api_) api_->Stop();
    api_.reset();
    node_.reset();
  }

  // GET /v1/health on a fresh connection, with how long it took.
  HttpReply Health(int64_t* took_ms) {
    auto cli = MakeClient(api_->port());
    const auto t0 = Clock::now();
    HttpReply r = HttpGet(*cli, "/v1/health");
    *took_ms = MsSince(t0);
    return r;
  }
  // Polls the server's counters until `pred` holds (at most 10 s): the server's state, not a
  // guess at how long it takes to get there.
  bool LoadReaches(const std::function<bool(const ApiLoad&)>& pred) {
    const auto t0 = Clock::now();
    while (MsSince(t0) < 10000) {
      if (pred(api_->Load())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  }

  // A before_handler that holds every GET /v1/status until Release().
  std::function<void(const httplib::Request&)> HoldStatus() {
    return [this](const httplib::Request& req) {
      if (req.path != "/v1/status") return;
      std::unique_lock<std::mutex> lock(mu_);
      ++held_;
      cv_.notify_all();
      cv_.wait(lock, [this] { return released_; });
    };
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  bool HeldReaches(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return held_ >= n; });
  }

  std::unique_ptr<ManualNode> node_;
  std::unique_ptr<ApiServer> api_;
  std::mutex mu_;
  std::condition_variable cv_;
  int held_ = 0;
  bool released_ = false;
};

// A connection trickling `byte` since `started`.
struct Trickler {
  RawConn* conn;
  Clock::time_point started;
  std::string byte;
};

// Trickles one byte every 100 ms on each of `t` until the server closes it or `give_up_ms`
// passes: for each, the ms from its `started` to the close seen, or -1 if still open.
std::vector<int64_t> TrickleUntilClosed(const std::vector<Trickler>& t, int64_t give_up_ms) {
  std::vector<int64_t> closed_ms(t.size(), -1);
  const auto t0 = Clock::now();
  size_t open = t.size();
  while (open > 0 && MsSince(t0) < give_up_ms) {
    for (size_t i = 0; i < t.size(); ++i) {
      if (closed_ms[i] >= 0) continue;
      if (t[i].conn->ClosedNow() || !t[i].conn->Send(t[i].byte)) {
        closed_ms[i] = MsSince(t[i].started);
        --open;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the trickle's pace
  }
  return closed_ms;
}

// 64 idle connections, 16 that finished a request and stay open (keep-alive), 32 trickling a
// header and 8 a body, against 2 workers: /v1/health still answers at once, the trickling ones
// are cut off at the header or body deadline however slowly the bytes keep coming, and the idle
// ones keep their connections. Before: every connection held a worker thread for 5 s or more,
// so health waited behind all 120 of them (16.7 s).
TEST_F(ApiLimitsTest, IdleAndSlowLorisConnectionsDoNotStarveHealth) {
  // Long enough that all 120 connections are surely open at once even under a sanitizer on a
  // loaded machine, short enough to trickle past.
  constexpr int64_t kTimeoutMs = 3000;
  Start([](ApiContext& c) {
    c.limits.header_timeout_ms = kTimeoutMs;
    c.limits.body_timeout_ms = kTimeoutMs;
    c.limits.idle_timeout_ms = 60000;
  });
  ASSERT_FALSE(HasFatalFailure());
  std::vector<std::unique_ptr<RawConn>> idle, kept, loris, slow_body;
  for (int i = 0; i < 64; ++i) idle.push_back(std::make_unique<RawConn>(api_->port()));
  for (int i = 0; i < 16; ++i) {
    kept.push_back(std::make_unique<RawConn>(api_->port()));
    ASSERT_TRUE(kept.back()->Send(kHealth));
    ASSERT_EQ(StatusOf(kept.back()->ReadResponse(10000)), 200);
  }
  // The server's deadline starts when it reads the first byte, after these times.
  std::vector<Clock::time_point> loris_started, body_started;
  for (int i = 0; i < 32; ++i) {
    loris.push_back(std::make_unique<RawConn>(api_->port()));
    loris_started.push_back(Clock::now());
    ASSERT_TRUE(loris.back()->Send(kPartialHeader));
  }
  for (int i = 0; i < 8; ++i) {
    slow_body.push_back(std::make_unique<RawConn>(api_->port()));
    body_started.push_back(Clock::now());
    ASSERT_TRUE(slow_body.back()->Send(
        "POST /v1/txs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{"));
  }
  for (const auto& c : idle) ASSERT_TRUE(c->connected());
  ASSERT_TRUE(LoadReaches([](const ApiLoad& l) { return l.connections == 120; }));

  int64_t took_ms = 0;
  HttpReply h = Health(&took_ms);
  EXPECT_EQ(h.status, 200) << h.raw;
  EXPECT_LT(took_ms, 5000);  // the old server: 16.7 s

  // A header trickled a byte every 100 ms is cut at header_timeout_ms from its first byte, not
  // kept alive by each byte; a trickled body likewise at body_timeout_ms. Trickling goes on for
  // twice the timeout, so a deadline renewed per read would show as a connection never closed.
  std::vector<Trickler> trickle;
  for (size_t i = 0; i < loris.size(); ++i)
    trickle.push_back({loris[i].get(), loris_started[i], "X"});
  for (size_t i = 0; i < slow_body.size(); ++i) {
    trickle.push_back({slow_body[i].get(), body_started[i], "a"});
  }
  const std::vector<int64_t> closed_ms = TrickleUntilClosed(trickle, 2 * kTimeoutMs);
  for (size_t i = 0; i < closed_ms.size(); ++i) {
    // -1: still open after trickling for twice the timeout. Never before the deadline.
    EXPECT_GE(closed_ms[i], kTimeoutMs) << "connection " << i;
  }
  // The idle and kept-alive connections were not cut (idle_timeout_ms is a minute): they still
  // serve a request.
  ASSERT_TRUE(idle.front()->Send(kHealth));
  EXPECT_EQ(StatusOf(idle.front()->ReadResponse(5000)), 200);
  ASSERT_TRUE(kept.front()->Send(kHealth));
  EXPECT_EQ(StatusOf(kept.front()->ReadResponse(5000)), 200);
  h = Health(&took_ms);
  EXPECT_EQ(h.status, 200) << h.raw;
}

// At connections_max, a newcomer takes the place of the longest-idle connection; with none idle,
// of the slowest part-way through its request (tricklers cannot hold every place; before, eight
// connections mid-header got every newcomer a 503). Every connection in a
// handler: 503, in AtTheCapWithEveryConnectionInAHandlerANewcomerGets503; the slowest rather
// than the oldest: HttpServerLimitsTest.AtTheCapTheSlowestReaderGoesNotTheOldest.
TEST_F(ApiLimitsTest, AtTheConnectionCapTheLongestIdleMakesRoom) {
  Start([](ApiContext& c) {
    c.limits.connections_max = 8;
    c.limits.header_timeout_ms = 60000;
    c.limits.idle_timeout_ms = 60000;
  });
  ASSERT_FALSE(HasFatalFailure());
  std::vector<std::unique_ptr<RawConn>> idle;
  for (int i = 0; i < 8; ++i) {
    idle.push_back(std::make_unique<RawConn>(api_->port()));
    // One at a time, so the first is the longest idle.
    ASSERT_TRUE(LoadReaches([&](const ApiLoad& l) { return l.idle == i + 1; }));
  }
  int64_t took_ms = 0;
  HttpReply h = Health(&took_ms);
  EXPECT_EQ(h.status, 200) << h.raw;
  EXPECT_TRUE(idle.front()->ClosedWithin(5000));
  // The newest idle one survived.
  ASSERT_TRUE(idle.back()->Send(kHealth));
  EXPECT_EQ(StatusOf(idle.back()->ReadResponse(5000)), 200);
  idle.clear();

  // Every connection mid-header (one at a time, so the first has been reading longest and, with
  // the same bytes as the others, is the slowest or, all under kApiEvictAgeMinMs, as slow and
  // the oldest): the newcomer takes the first's place and is served.
  ASSERT_TRUE(LoadReaches([](const ApiLoad& l) { return l.connections == 0; }));
  std::vector<std::unique_ptr<RawConn>> reading;
  for (int i = 0; i < 8; ++i) {
    reading.push_back(std::make_unique<RawConn>(api_->port()));
    ASSERT_TRUE(reading.back()->Send(kPartialHeader));
    ASSERT_TRUE(LoadReaches([&](const ApiLoad& l) { return l.connections == i + 1 && l.idle == 0; }));
  }
  RawConn extra(api_->port());
  ASSERT_TRUE(extra.Send(kHealth));
  const std::string r = extra.ReadResponse(5000);
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_TRUE(reading.front()->ClosedWithin(5000));
  // The others were not dropped: finishing a header gets the answer.
  ASSERT_TRUE(reading.back()->Send("\r\n"));
  EXPECT_EQ(StatusOf(reading.back()->ReadResponse(5000)), 200);
}

// An endless chunked POST /v1/txs (CVE-2025-46728 in cpp-httplib 0.11.4) is cut off at the body
// limit, and the node's memory does not follow it. Before: the server kept reading (and
// buffering) all 256 MiB.
TEST_F(ApiLimitsTest, EndlessChunkedBodyIsCutOff) {
  Start([](ApiContext&) {});
  ASSERT_FALSE(HasFatalFailure());
  const int64_t rss_before = RssKib();
  RawConn c(api_->port());
  ASSERT_TRUE(
      c.Send("POST /v1/txs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             "Transfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk = "10000\r\n" + std::string(0x10000, 'a') + "\r\n";  // 64 KiB
  const int64_t attempt_bytes = int64_t{256} << 20;
  int64_t sent = 0;
  while (sent < attempt_bytes && c.Send(chunk)) sent += static_cast<int64_t>(chunk.size());
  // Cut off: what got through is the body limit plus the drain after the 413 plus what the
  // kernel buffers of a loopback connection (a few MiB), nowhere near the 256 MiB tried.
  EXPECT_LT(sent, int64_t{32} << 20);
  EXPECT_LT(RssKib() - rss_before, 32 * 1024);

  // Just over the limit and then silent: the answer is a 413 in the API's error shape.
  RawConn d(api_->port());
  ASSERT_TRUE(
      d.Send("POST /v1/txs HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const size_t over = limits::kHttpBodyBytesMax / 0x10000 + 1;
  for (size_t i = 0; i < over; ++i) ASSERT_TRUE(d.Send(chunk));
  const std::string r = d.ReadResponse(5000);
  EXPECT_EQ(StatusOf(r), 413) << r.substr(0, 200);
  EXPECT_EQ(BodyOf(r)["error"].value("code", ""), "too_large") << r.substr(0, 200);
  EXPECT_TRUE(d.ClosedWithin(5000));

  // A declared length over the limit is refused before any of the body is sent.
  RawConn e(api_->port());
  ASSERT_TRUE(
      e.Send("POST /v1/txs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000000\r\n\r\n"));
  const std::string r2 = e.ReadResponse(5000);
  EXPECT_EQ(StatusOf(r2), 413) << r2;

  int64_t took_ms = 0;
  EXPECT_EQ(Health(&took_ms).status, 200);
}

// With both workers busy and both queue slots taken, the next request gets 503 with Retry-After
// at once instead of waiting in an unbounded queue; once the workers are free everything queued
// is answered and new requests are served again. Before: no 503, the queue grew without bound.
TEST_F(ApiLimitsTest, SaturatedWorkersAnswer503WithRetryAfter) {
  Start([this](ApiContext& c) {
    c.limits.queue_max = 2;
    c.before_handler = HoldStatus();
  });
  ASSERT_FALSE(HasFatalFailure());
  std::vector<std::unique_ptr<RawConn>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<RawConn>(api_->port()));
    ASSERT_TRUE(held.back()->Send("GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  }
  ASSERT_TRUE(HeldReaches(2));  // both workers
  ASSERT_TRUE(LoadReaches([](const ApiLoad& l) { return l.workers_busy == 2 && l.queued == 2; }));

  int64_t took_ms = 0;
  HttpReply busy = Health(&took_ms);
  EXPECT_EQ(busy.status, 503) << busy.raw;
  EXPECT_EQ(busy.body["error"].value("code", ""), "unavailable") << busy.raw;
  EXPECT_LT(took_ms, 5000);  // refused at once, not after a wait (the old server: 16.7 s)
  RawConn raw(api_->port());
  ASSERT_TRUE(raw.Send(kHealth));
  const std::string r = raw.ReadResponse(5000);
  EXPECT_EQ(StatusOf(r), 503) << r;
  EXPECT_NE(r.find("Retry-After: 1\r\n"), std::string::npos) << r;

  Release();
  for (const auto& c : held) EXPECT_EQ(StatusOf(c->ReadResponse(10000)), 200);
  // The connection that got the 503 is still usable.
  ASSERT_TRUE(raw.Send(kHealth));
  EXPECT_EQ(StatusOf(raw.ReadResponse(5000)), 200);
}

// wait=commit requests have their own slots: with both taken a third gets 503 (and its tx is not
// admitted), while the workers keep answering everything else; a commit answers both waiters and
// an ordinary tx is admitted afterwards. Before: each wait held a worker, so two of them stopped
// the whole API until they timed out.
TEST_F(ApiLimitsTest, WaitCommitBeyondItsSlotsAnswers503) {
  Start([](ApiContext& c) { c.limits.wait_slots = 2; });
  ASSERT_FALSE(HasFatalFailure());
  const TestKeys& k = node_->keys();
  auto post_wait = [&](RawConn& c, const std::string& tx) {
    const std::string body = TxBody(tx);
    return c.Send(
        "POST /v1/txs?wait=commit&timeout_ms=30000 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body);
  };
  // A wait slot is taken before its handler admits the tx: poll the mempool too, so tx 2 does
  // not race ahead of tx 1 (a nonce gap) and the commit below holds both.
  auto admitted = [&](const std::string& tx) {
    const auto t0 = Clock::now();
    while (MsSince(t0) < 10000) {
      if (node_->mempool().Contains(TxHash(tx))) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  };
  RawConn w1(api_->port()), w2(api_->port()), w3(api_->port());
  const std::string first = Transfer(k.alice, 1, k.bob, "CNY", 1);
  const std::string second = Transfer(k.alice, 2, k.bob, "CNY", 1);
  ASSERT_TRUE(post_wait(w1, first));
  ASSERT_TRUE(LoadReaches([](const ApiLoad& l) { return l.waiting == 1; }));
  ASSERT_TRUE(admitted(first));
  ASSERT_TRUE(post_wait(w2, second));
  ASSERT_TRUE(LoadReaches([](const ApiLoad& l) { return l.waiting == 2; }));
  ASSERT_TRUE(admitted(second));

  const std::string third = Transfer(k.alice, 3, k.bob, "CNY", 1);
  ASSERT_TRUE(post_wait(w3, third));
  const std::string r = w3.ReadResponse(5000);
  EXPECT_EQ(StatusOf(r), 503) << r;
  EXPECT_NE(r.find("Retry-After: 1\r\n"), std::string::npos) << r;
  EXPECT_NE(BodyOf(r)["error"].value("message", "").find("wait=commit"), std::string::npos) << r;
  EXPECT_FALSE(node_->mempool().Contains(TxHash(third)));

  // Both workers are free for everything else (2 workers, 2 waits in progress).
  int64_t took_ms = 0;
  HttpReply h = Health(&took_ms);
  EXPECT_EQ(h.status, 200) << h.raw;
  EXPECT_LT(took_ms, 5000);  // not behind the waits (each up to 30 s)

  ASSERT_TRUE(node_->CommitNext().ok());
  for (RawConn* c : {&w1, &w2}) {
    const std::string done = c->ReadResponse(10000);
    EXPECT_EQ(StatusOf(done), 200) << done;
    EXPECT_EQ(BodyOf(done).value("status", ""), "committed") << done;
  }
  auto cli = MakeClient(api_->port());
  HttpReply ok = HttpPost(*cli, "/v1/txs", TxBody(third));
  EXPECT_EQ(ok.status, 202) << ok.raw;
}

// The transport's parsing matches what the handlers were written against: a percent-encoded
// path and query, repeated '?' refused, HEAD answered like GET without a body, a method the
// path does not take a 405 with Allow in the error shape, the longest path and an oversized
// header handled (431, too_large), and Expect: 100-continue honoured for HTTP/1.1 only.
TEST_F(ApiLimitsTest, RequestParsingKeepsTheOldServersBehaviour) {
  Start([](ApiContext&) {});
  ASSERT_FALSE(HasFatalFailure());
  auto cli = MakeClient(api_->port());
  HttpReply a = HttpGet(*cli, "/v1/%68ealth");
  EXPECT_EQ(a.status, 200) << a.raw;
  HttpReply b = HttpGet(*cli, "/v1/blocks?limit=%32");
  EXPECT_EQ(b.status, 200) << b.raw;
  RawConn twice(api_->port());
  ASSERT_TRUE(twice.Send("GET /v1/blocks?limit=2?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  EXPECT_EQ(StatusOf(twice.ReadResponse(5000)), 400);
  auto head = cli->Head("/v1/health");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
  auto del = cli->Delete("/v1/health");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 405) << del->body;
  EXPECT_EQ(del->get_header_value("Allow"), "GET, HEAD");
  EXPECT_EQ(json::parse(del->body, nullptr, false)["error"].value("code", ""), "invalid_argument")
      << del->body;
  // A POST without a length is answered at once with 411, not left waiting for a body.
  RawConn no_length(api_->port());
  ASSERT_TRUE(no_length.Send("POST /v1/txs HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  const std::string r411 = no_length.ReadResponse(5000);
  EXPECT_EQ(StatusOf(r411), 411) << r411;
  EXPECT_NE(r411.find("Content-Length"), std::string::npos) << r411;
  auto get_txs = cli->Get("/v1/txs");  // POST only
  ASSERT_TRUE(get_txs);
  EXPECT_EQ(get_txs->status, 405) << get_txs->body;
  EXPECT_EQ(get_txs->get_header_value("Allow"), "POST");
  HttpReply nowhere = ToReply(cli->Delete("/v1/nowhere"));
  EXPECT_EQ(nowhere.status, 404) << nowhere.raw;
  EXPECT_EQ(nowhere.body["error"].value("code", ""), "not_found") << nowhere.raw;

  // A path up to kHttpPathBytesMax is routed (a bad tx hash: 400); a longer one, up to what a
  // header can hold, is refused with 414 before any route's regex sees it (std::regex recurses
  // per character: 7000 bytes overflowed a worker's stack under ASan); a header over the limit
  // is refused with 431.
  HttpReply routed = HttpGet(*cli, "/v1/txs/" + std::string(limits::kHttpPathBytesMax - 8, 'a'));
  EXPECT_EQ(routed.status, 400) << routed.raw.substr(0, 200);
  HttpReply long_path = HttpGet(*cli, "/v1/txs/" + std::string(7000, 'a'));
  EXPECT_EQ(long_path.status, 414) << long_path.raw.substr(0, 200);
  EXPECT_EQ(long_path.body["error"].value("code", ""), "too_large") << long_path.raw.substr(0, 200);
  RawConn big(api_->port());
  ASSERT_TRUE(big.Send("GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " +
                       std::string(limits::kHttpHeaderBytesMax, 'b') + "\r\n\r\n"));
  const std::string r431 = big.ReadResponse(5000);
  EXPECT_EQ(StatusOf(r431), 431) << r431.substr(0, 200);
  EXPECT_EQ(BodyOf(r431)["error"].value("code", ""), "too_large") << r431.substr(0, 200);
  EXPECT_TRUE(big.ClosedWithin(5000));

  // Nothing of one request carries over to the next on a connection: after a HEAD, a refusal
  // made before the next header is parsed (431) still has its body.
  RawConn after_head(api_->port());
  ASSERT_TRUE(after_head.Send("HEAD /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  EXPECT_EQ(StatusOf(after_head.ReadHeaderOnly(5000)), 200);
  ASSERT_TRUE(after_head.Send("GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " +
                              std::string(limits::kHttpHeaderBytesMax, 'b') + "\r\n\r\n"));
  const std::string r431b = after_head.ReadResponse(5000);
  EXPECT_EQ(StatusOf(r431b), 431) << r431b.substr(0, 200);
  EXPECT_EQ(BodyOf(r431b)["error"].value("code", ""), "too_large") << r431b.substr(0, 200);

  // HTTP/1.0 has no 100 Continue: the client sends its body without one, and the only answer
  // is the request's own.
  RawConn old(api_->port());
  ASSERT_TRUE(
      old.Send("POST /v1/txs HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n"
               "Expect: 100-continue\r\n\r\n"));
  EXPECT_EQ(old.ReadResponse(1000), "");  // a 100 would come at once
  ASSERT_TRUE(old.Send("{}"));
  const std::string r10 = old.ReadResponse(5000);
  EXPECT_EQ(r10.substr(0, 12), "HTTP/1.0 400") << r10;

  RawConn raw(api_->port());
  ASSERT_TRUE(
      raw.Send("POST /v1/txs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n"
               "Expect: 100-continue\r\n\r\n"));
  EXPECT_EQ(StatusOf(raw.ReadResponse(5000)), 100);
  ASSERT_TRUE(raw.Send("{}"));
  const std::string r = raw.ReadResponse(5000);
  EXPECT_EQ(StatusOf(r), 400) << r;
  EXPECT_EQ(BodyOf(r)["error"].value("code", ""), "invalid_argument") << r;
}

// The transport alone (api::HttpServer), with a `serve` that answers 8 MiB for /big.
class HttpServerLimitsTest : public ::testing::Test {
 protected:
  static constexpr size_t kBigBytes = size_t{8} << 20;  // more than loopback buffers hold

  void Start(const std::function<void(api::HttpServerOptions&)>& tune) {
    api::HttpServerOptions o;
    o.workers = 2;
    o.serve = [this](httplib::Request& req, httplib::Response& res) {
      res.status = 200;
      res.set_content(req.path == "/big" ? big_ : std::string("ok"), "text/plain");
    };
    o.refuse = [](int status, const std::string& message, httplib::Response& res) {
      res.status = status;
      res.set_content(json{{"error", {{"code", "refused"}, {"message", message}}}}.dump(),
                      "application/json");
    };
    o.is_long_wait = [](const httplib::Request&) { return false; };
    // Every client here is 127.0.0.1: no per-address cap but in the test of it.
    o.limits.connections_per_address_max = 100'000;
    tune(o);
    server_ = std::make_unique<api::HttpServer>(std::move(o));
    auto port = server_->Start("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.status().message();
    port_ = *port;
  }
  bool LoadReaches(const std::function<bool(const ApiLoad&)>& pred) {
    const auto t0 = Clock::now();
    while (MsSince(t0) < 10000) {
      if (pred(server_->Load())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  }
  std::string Get(RawConn& c, const std::string& path) {
    if (!c.Send("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")) return "";
    return c.ReadResponse(10000);
  }

  const std::string big_ = std::string(kBigBytes, 'x');
  std::unique_ptr<api::HttpServer> server_;
  int port_ = 0;
};

// Clients that ask for a large answer and never read it hold it in the server until the write
// deadline. The bytes so held are bounded (answer_bytes_max): past it a large answer is a small
// 503 with Retry-After, small answers are still written, and the budget comes back when the
// non-readers go. Before: every such connection pinned its whole answer, 256 of them GiBs.
TEST_F(HttpServerLimitsTest, LargeAnswersToNonReadersStayWithinTheAnswerBudget) {
  Start([](api::HttpServerOptions& o) {
    o.limits.answer_bytes_max = 3 * static_cast<int64_t>(kBigBytes);
  });
  ASSERT_FALSE(HasFatalFailure());
  std::vector<std::unique_ptr<RawConn>> stuck;
  for (int i = 0; i < 3; ++i) {
    stuck.push_back(std::make_unique<RawConn>(port_, 4096));
    ASSERT_TRUE(stuck.back()->Send("GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  }
  const auto full = 3 * static_cast<int64_t>(kBigBytes);
  ASSERT_TRUE(LoadReaches([&](const ApiLoad& l) { return l.answer_bytes == full; }));

  RawConn extra(port_);
  const std::string refused = Get(extra, "/big");
  EXPECT_EQ(StatusOf(refused), 503) << refused.substr(0, 300);
  EXPECT_NE(refused.find("Retry-After: 1\r\n"), std::string::npos) << refused.substr(0, 300);
  EXPECT_LT(refused.size(), 1024u);
  // A small answer still goes out, on the same connection.
  EXPECT_EQ(StatusOf(Get(extra, "/small")), 200);
  // Both written and released again (polled: the release follows the write by a moment).
  EXPECT_TRUE(LoadReaches([&](const ApiLoad& l) { return l.answer_bytes == full; }));

  stuck.clear();  // closed with the answers unread: the server's writes fail
  ASSERT_TRUE(LoadReaches([](const ApiLoad& l) { return l.answer_bytes == 0; }));
  const std::string served = Get(extra, "/big");
  EXPECT_EQ(StatusOf(served), 200) << served.substr(0, 300);
  EXPECT_EQ(served.size() - served.find("\r\n\r\n") - 4, kBigBytes);
}

// A stream (GET /v1/stream's transport) to a client that never reads: its stream thread writes
// pieces until the client's and the kernel's buffers are full; the next write is not taken within
// write_timeout_ms (plus the piece at kApiWriteBytesPerSMin), so the connection is closed, Write
// says so, the handler returns and its slot comes back. The server holds one piece at a time, so
// what the client leaves unread costs the node nothing beyond the kernel's socket buffers.
TEST_F(HttpServerLimitsTest, AStreamToAClientThatNeverReadsIsCutOffAndItsSlotComesBack) {
  auto pieces = std::make_shared<std::atomic<int64_t>>(0);
  auto ended = std::make_shared<std::atomic<bool>>(false);
  Start([pieces, ended](api::HttpServerOptions& o) {
    o.limits.write_timeout_ms = 200;
    o.limits.stream_slots = 1;
    o.is_stream = [](const httplib::Request& req) { return req.path == "/stream"; };
    o.serve = [pieces, ended](httplib::Request&, httplib::Response& res) {
      api::StreamWriter* w = api::CurrentStreamWriter();
      if (w == nullptr) {
        res.status = 200;
        res.set_content("ok", "text/plain");
        return;
      }
      if (!w->Begin(200, {{"Content-Type", "text/event-stream"}})) return;
      const std::string piece(limits::kStreamPieceBytesMax, 'x');
      while (w->Write(piece) && ++*pieces < 100'000) {
      }
      *ended = true;
    };
  });
  ASSERT_FALSE(HasFatalFailure());
  RawConn stuck(port_, 4096);
  ASSERT_TRUE(stuck.Send("GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  ASSERT_TRUE(LoadReaches([](const ApiLoad& l) { return l.streams == 1; }));
  // Its one slot is taken: another stream is refused at once, a plain request still served.
  RawConn other(port_);
  const std::string refused = Get(other, "/stream");
  EXPECT_EQ(StatusOf(refused), 503) << refused.substr(0, 300);
  EXPECT_NE(refused.find("stream slots"), std::string::npos) << refused.substr(0, 300);
  RawConn plain(port_);
  EXPECT_EQ(StatusOf(Get(plain, "/small")), 200);
  // Cut off: the handler ended on a failed write, the slot is free.
  ASSERT_TRUE(LoadReaches([](const ApiLoad& l) { return l.streams == 0; }));
  EXPECT_TRUE(ended->load());
  EXPECT_LT(pieces->load(), 1000) << "more than 64 MiB went into a client that reads nothing";
  // The freed slot serves the next stream, which gets its head and its pieces.
  RawConn next(port_);
  ASSERT_TRUE(next.Send("GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  const std::string head = next.ReadHeaderOnly(10000);
  EXPECT_EQ(StatusOf(head), 200) << head;
  EXPECT_NE(head.find("Content-Type: text/event-stream\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("Connection: close\r\n"), std::string::npos) << head;
}

// At connections_max with every connection in a handler (none idle, none still reading its
// request) there is no place to take: a newcomer gets 503 + Retry-After at once, and the busy
// ones are answered when their handlers finish.
TEST_F(HttpServerLimitsTest, AtTheCapWithEveryConnectionInAHandlerANewcomerGets503) {
  auto entered = std::make_shared<std::atomic<int>>(0);
  auto release = std::make_shared<std::atomic<bool>>(false);
  Start([entered, release](api::HttpServerOptions& o) {
    o.workers = 4;
    o.limits.connections_max = 4;
    o.serve = [entered, release](httplib::Request&, httplib::Response& res) {
      entered->fetch_add(1);
      while (!release->load()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
      res.status = 200;
      res.set_content("ok", "text/plain");
    };
  });
  ASSERT_FALSE(HasFatalFailure());
  std::vector<std::unique_ptr<RawConn>> busy;
  for (int i = 0; i < 4; ++i) {
    busy.push_back(std::make_unique<RawConn>(port_));
    ASSERT_TRUE(busy.back()->Send("GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  }
  const auto t0 = Clock::now();
  while (entered->load() < 4 && MsSince(t0) < 10000) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_EQ(entered->load(), 4);
  RawConn extra(port_);
  const std::string r = extra.ReadResponse(5000);
  EXPECT_EQ(StatusOf(r), 503) << r;
  EXPECT_NE(r.find("Retry-After: 1\r\n"), std::string::npos) << r;
  release->store(true);
  for (auto& c : busy) EXPECT_EQ(StatusOf(c->ReadResponse(5000)), 200);
}

// At the cap with every connection reading a request, a newcomer takes the place of the slowest
// (bytes per second, over at least kApiEvictAgeMinMs), not of the oldest: an attacker
// reconnecting its tricklers as fast as they are closed made every newcomer evict the oldest
// reader, an honest upload. Now each of its reconnections closes one of its own tricklers, and
// the upload, older than all of them but sending, stays and is answered.
TEST_F(HttpServerLimitsTest, AtTheCapTheSlowestReaderGoesNotTheOldest) {
  Start([](api::HttpServerOptions& o) {
    o.limits.connections_max = 6;
    // Every client here is one address: a share of connections_max is no per-address cap (as
    // behind a reverse proxy), so its newcomers evict at the cap rather than get 503.
    o.limits.connections_per_address_max = 6;
    o.limits.header_timeout_ms = 60000;
    o.limits.body_timeout_ms = 60000;
  });
  ASSERT_FALSE(HasFatalFailure());
  // The oldest: an upload that has sent its header and half its body.
  RawConn upload(port_);
  ASSERT_TRUE(upload.Send("POST /up HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2000\r\n\r\n" +
                          std::string(1000, 'u')));
  ASSERT_TRUE(LoadReaches([](const ApiLoad& l) { return l.connections == 1 && l.idle == 0; }));
  std::vector<std::unique_ptr<RawConn>> loris;  // tricklers a few bytes in
  for (int i = 0; i < 5; ++i) {
    loris.push_back(std::make_unique<RawConn>(port_));
    ASSERT_TRUE(loris.back()->Send("GET /x HTTP/1.1\r\n"));
    ASSERT_TRUE(LoadReaches([&](const ApiLoad& l) { return l.connections == i + 2 && l.idle == 0; }));
  }
  // The attacker reconnects, each time with a byte or two more: every newcomer closes one
  // trickler (an old one or a fresh one), never the upload.
  for (int i = 0; i < 8; ++i) {
    const size_t before = loris.size();
    loris.push_back(std::make_unique<RawConn>(port_));
    ASSERT_TRUE(loris.back()->Send(std::string(1 + i % 2, 'G')));
    int closed = 0;
    const auto t0 = Clock::now();
    while (closed < i + 1 && MsSince(t0) < 5000) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      closed = 0;
      for (size_t j = 0; j < before; ++j) closed += loris[j]->ClosedNow() ? 1 : 0;
    }
    EXPECT_EQ(closed, i + 1) << "newcomer " << i;
    ASSERT_FALSE(upload.ClosedNow()) << "newcomer " << i;
    ASSERT_TRUE(LoadReaches([](const ApiLoad& l) { return l.connections == 6 && l.idle == 0; }));
  }
  // The upload finishes and is answered.
  ASSERT_TRUE(upload.Send(std::string(1000, 'u')));
  EXPECT_EQ(StatusOf(upload.ReadResponse(5000)), 200);
}

// One client address holds at most connections_per_address_max connections: one more gets 503
// with Retry-After at once, while another address is served and the address's own connections
// go on; when one of them closes, its place is free again. Without it a single address could
// hold every connection (and, at the cap, evict everyone else's).
TEST_F(HttpServerLimitsTest, OneAddressGetsAtMostItsShareOfConnections) {
  Start([](api::HttpServerOptions& o) {
    o.limits.connections_max = 16;
    o.limits.connections_per_address_max = 3;
  });
  ASSERT_FALSE(HasFatalFailure());
  std::vector<std::unique_ptr<RawConn>> mine;
  for (int i = 0; i < 3; ++i) mine.push_back(std::make_unique<RawConn>(port_));
  ASSERT_TRUE(LoadReaches([](const ApiLoad& l) { return l.connections == 3; }));
  {
    RawConn fourth(port_);
    const std::string r = fourth.ReadResponse(5000);
    EXPECT_EQ(StatusOf(r), 503) << r;
    EXPECT_NE(r.find("Retry-After: 1\r\n"), std::string::npos) << r;
    EXPECT_NE(r.find("per client address"), std::string::npos) << r;
    EXPECT_TRUE(fourth.ClosedWithin(5000));
  }
  RawConn other(port_, 0, "127.0.0.2");
  ASSERT_TRUE(other.connected());
  EXPECT_EQ(StatusOf(Get(other, "/small")), 200);
  for (auto& c : mine) EXPECT_EQ(StatusOf(Get(*c, "/small")), 200);
  mine.pop_back();
  ASSERT_TRUE(LoadReaches([](const ApiLoad& l) { return l.connections == 3; }));
  RawConn again(port_);
  EXPECT_EQ(StatusOf(Get(again, "/small")), 200);
}

// An exception escaping a handler on the network thread (here the `refuse` callback, for the
// first malformed request) drops that connection, not the API: later requests are served.
// Before: io_context::run() ended and the API was silently dead.
TEST_F(HttpServerLimitsTest, AnExceptionOnTheNetworkThreadDoesNotStopTheApi) {
  auto thrown = std::make_shared<std::atomic<int>>(0);
  Start([thrown](api::HttpServerOptions& o) {
    auto refuse = o.refuse;
    o.refuse = [thrown, refuse](int status, const std::string& m, httplib::Response& res) {
      if (thrown->fetch_add(1) == 0) throw std::runtime_error("refuse failed");
      refuse(status, m, res);
    };
  });
  ASSERT_FALSE(HasFatalFailure());
  RawConn bad(port_);
  ASSERT_TRUE(bad.Send("NOT HTTP AT ALL\r\n\r\n"));
  EXPECT_TRUE(bad.ClosedWithin(5000));
  EXPECT_EQ(thrown->load(), 1);
  ASSERT_TRUE(LoadReaches([](const ApiLoad& l) { return l.connections == 0; }));
  RawConn good(port_);
  EXPECT_EQ(StatusOf(Get(good, "/small")), 200);
  RawConn bad_again(port_);  // the refusal path itself works again
  ASSERT_TRUE(bad_again.Send("NOT HTTP AT ALL\r\n\r\n"));
  EXPECT_EQ(StatusOf(bad_again.ReadResponse(5000)), 400);
}

// Every connection is a file descriptor. A soft RLIMIT_NOFILE too low for connections_max plus
// the node's reserve is raised (up to the hard limit); a connections_max even the hard limit
// cannot hold is lowered to what fits, instead of accept() later taking the store's fds.
TEST_F(HttpServerLimitsTest, ConnectionsMaxFitsTheOpenFileLimit) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  if (saved.rlim_max == RLIM_INFINITY || saved.rlim_max < 600) {
    GTEST_SKIP() << "needs a finite hard RLIMIT_NOFILE of at least 600";
  }
  rlimit low = saved;
  low.rlim_cur = 300;  // lowering the soft limit is always allowed
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  Start([](api::HttpServerOptions& o) { o.limits.connections_max = 300; });
  ASSERT_FALSE(HasFatalFailure());
  rlimit now{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_GE(now.rlim_cur, static_cast<rlim_t>(300 + limits::kApiFdReserve));
  EXPECT_EQ(server_->Load().connections_max, 300);
  server_.reset();

  const auto over = static_cast<int64_t>(saved.rlim_max) + 1000;
  Start([over](api::HttpServerOptions& o) { o.limits.connections_max = over; });
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(server_->Load().connections_max,
            static_cast<int64_t>(saved.rlim_max) - limits::kApiFdReserve);
  server_.reset();
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
}

}  // namespace
}  // namespace v2g::nodetest
