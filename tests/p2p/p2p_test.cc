// P2p transport tests: real TCP on 127.0.0.1, OS-chosen ports. Every wait is on a condition with a
// deadline; nothing sleeps to synchronise. RawPeer speaks the wire protocol by hand (libsodium
// directly) to send what a well-behaved node never would.
#include "node/p2p/p2p.h"
#include "node/p2p/outbound.h"
#include "tests/integration/harness.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace v2g {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Generous: the deadline only matters when a test fails (it then fails instead of hanging).
constexpr auto kDeadline = 20s;
constexpr int64_t kShortHandshakeMs = 500;
const std::string kChain = "v2g-p2p-test";

KeyPair KeyFromByte(uint8_t b) {
  Bytes seed(kSeedBytes, b);
  return KeyPair::FromSeed(seed);
}

std::string Addr(int port) { return "127.0.0.1:" + std::to_string(port); }
std::string PeerString(const KeyPair& k, int port) {
  return HexEncode(ByteView(k.public_key())) + "@" + Addr(port);
}

// A port that was free a moment ago: used only where two nodes must know each other's port
// before either starts (simultaneous dial).
using v2g::testing::FreePort;

// Polls `pred` until it holds or the deadline passes.
bool Eventually(const std::function<bool()>& pred, std::chrono::milliseconds deadline = kDeadline) {
  const auto end = Clock::now() + deadline;
  while (Clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

struct Received {
  PublicKey from;
  uint8_t channel;
  std::string payload;
};

// A P2p plus everything its handlers saw.
class TestNode {
 public:
  struct Options {
    std::vector<PublicKey> allowed{};
    std::vector<std::string> peers{};
    std::string chain_id = kChain;
    std::string listen = "127.0.0.1:0";
    int64_t handshake_timeout_ms = kP2pHandshakeTimeoutMsDefault;
    bool echo = false;  // answer every message with the same payload, from inside the handler
    bool pause_after_each = false;  // the handler answers every message with ReadFlow::kPause
    bool pause_first = false;       // the handler answers the first message with ReadFlow::kPause
    int64_t handshakes_pending_per_ip_max = limits::kHandshakesPendingPerIpMax;
    int64_t handshake_burst_per_ip = limits::kHandshakeBurstPerIp;
    int64_t handshakes_per_ip_per_second = limits::kHandshakesPerIpPerSecond;
    std::function<int64_t()> monotonic_ms{};
  };

  TestNode(const KeyPair& key, Options opts)
      : key_(key), pause_after_each_(opts.pause_after_each), pause_first_(opts.pause_first) {
    const bool echo = opts.echo;
    P2pConfig cfg{.chain_id = opts.chain_id,
                  .node_key = key,
                  .listen = opts.listen,
                  .peers = opts.peers,
                  .allowed = opts.allowed,
                  .handshake_timeout_ms = opts.handshake_timeout_ms,
                  .handshakes_pending_per_ip_max = opts.handshakes_pending_per_ip_max,
                  .handshake_burst_per_ip = opts.handshake_burst_per_ip,
                  .handshakes_per_ip_per_second = opts.handshakes_per_ip_per_second,
                  .monotonic_ms = opts.monotonic_ms};
    auto created = P2p::Create(
        std::move(cfg),
        [this, echo](const PublicKey& from, uint8_t channel, std::string payload) {
          if (echo) p2p_->Send(from, channel, payload);
          std::lock_guard<std::mutex> lk(mu_);
          received_.push_back({from, channel, std::move(payload)});
          cv_.notify_all();
          const bool first = received_.size() == 1;
          return pause_after_each_ || (pause_first_ && first) ? ReadFlow::kPause
                                                              : ReadFlow::kContinue;
        },
        [this](const PublicKey& peer, bool connected) {
          std::lock_guard<std::mutex> lk(mu_);
          events_.emplace_back(peer, connected);
          if (connected) {
            EXPECT_TRUE(connected_.insert(peer).second) << "connected twice without disconnect";
          } else {
            EXPECT_EQ(connected_.erase(peer), 1u) << "disconnected while not connected";
          }
          cv_.notify_all();
        });
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    p2p_ = std::move(created).value();
    Status st = p2p_->Start();
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  ~TestNode() { p2p_->Stop(); }

  P2p& p2p() { return *p2p_; }
  const PublicKey& key() const { return key_.public_key(); }
  int port() const { return p2p_->listen_port(); }

  bool Wait(const std::function<bool()>& pred, std::chrono::milliseconds deadline = kDeadline) {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, deadline, pred);
  }
  bool WaitConnected(const PublicKey& peer) {
    return Wait([&] { return connected_.contains(peer); });
  }
  bool WaitDisconnected(const PublicKey& peer) {
    return Wait([&] { return !connected_.contains(peer); });
  }
  bool WaitReceived(size_t n) {
    return Wait([&] { return received_.size() >= n; });
  }
  std::vector<Received> received() {
    std::lock_guard<std::mutex> lk(mu_);
    return received_;
  }
  size_t events() {
    std::lock_guard<std::mutex> lk(mu_);
    return events_.size();
  }
  bool IsConnected(const PublicKey& peer) {
    std::lock_guard<std::mutex> lk(mu_);
    return connected_.contains(peer);
  }

 private:
  KeyPair key_;
  const bool pause_after_each_;
  const bool pause_first_;
  std::unique_ptr<P2p> p2p_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Received> received_;
  std::vector<std::pair<PublicKey, bool>> events_;
  std::set<PublicKey> connected_;
};

// A hand-driven TCP client speaking the wire format of p2p.h as the dialer.
class RawPeer {
 public:
  // `source` picks the local address (any of 127.0.0.0/8 is loopback on Linux), so tests can
  // connect from several source addresses.
  explicit RawPeer(int port, int rcvbuf_bytes = 0, const char* source = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf_bytes > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf_bytes, sizeof(rcvbuf_bytes));
    }
    if (source) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, source, &local.sin_addr);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) return;
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~RawPeer() { ::close(fd_); }
  RawPeer(const RawPeer&) = delete;
  RawPeer& operator=(const RawPeer&) = delete;
  bool connected() const { return connected_; }

  void ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

  bool SendAll(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  std::optional<std::string> ReadExact(size_t n) {
    std::string out;
    const auto end = Clock::now() + kDeadline;
    while (out.size() < n) {
      if (!PollIn(end)) return std::nullopt;
      char buf[65536];
      ssize_t got = ::recv(fd_, buf, std::min(sizeof(buf), n - out.size()), 0);
      if (got <= 0) return std::nullopt;
      out.append(buf, static_cast<size_t>(got));
    }
    return out;
  }

  // True when the node closed the connection (EOF or reset) before the deadline. Data the node
  // sent before closing (its hello, say) is read and discarded.
  bool WaitClosed() {
    const auto end = Clock::now() + kDeadline;
    for (;;) {
      if (!PollIn(end)) return false;
      char buf[65536];
      ssize_t got = ::recv(fd_, buf, sizeof(buf), 0);
      if (got <= 0) return true;
    }
  }

  std::string Hello(uint16_t version = kP2pProtocolVersion) {
    crypto_kx_keypair(eph_pk_.data(), eph_sk_.data());
    std::string h(kP2pHelloMagic, 4);
    h.push_back(static_cast<char>(version >> 8));
    h.push_back(static_cast<char>(version & 0xff));
    h.append(reinterpret_cast<const char*>(eph_pk_.data()), eph_pk_.size());
    return h;
  }

  // Hello and stream headers. False if the node closed or sent something unexpected.
  bool KeyExchange() {
    if (!SendAll(Hello())) return false;
    auto node_hello = ReadExact(kP2pHelloBytes);
    if (!node_hello || node_hello->compare(0, 4, std::string(kP2pHelloMagic, 4)) != 0) return false;
    std::copy(node_hello->begin() + 6, node_hello->end(), node_eph_.begin());
    std::array<uint8_t, 32> rx{}, tx{};
    if (crypto_kx_client_session_keys(rx.data(), tx.data(), eph_pk_.data(), eph_sk_.data(),
                                      node_eph_.data()) != 0) {
      return false;
    }
    std::array<uint8_t, kP2pStreamHeaderBytes> header{};
    crypto_secretstream_xchacha20poly1305_init_push(&push_, header.data(), tx.data());
    if (!SendAll(std::string(reinterpret_cast<const char*>(header.data()), header.size()))) {
      return false;
    }
    auto node_header = ReadExact(kP2pStreamHeaderBytes);
    if (!node_header) return false;
    return crypto_secretstream_xchacha20poly1305_init_pull(
               &pull_, reinterpret_cast<const uint8_t*>(node_header->data()), rx.data()) == 0;
  }

  // The full dialer handshake. True when the node accepted us (its auth verified, ack sent).
  bool Handshake(const KeyPair& key, const std::string& chain_id) {
    if (!KeyExchange()) return false;
    Hash256 mine = Transcript(chain_id, kP2pRoleDialer);
    Signature sig = key.Sign(ByteView(mine));
    std::string auth(reinterpret_cast<const char*>(key.public_key().data()), kPublicKeyBytes);
    auth.append(reinterpret_cast<const char*>(sig.data()), sig.size());
    if (!SendFrame(auth)) return false;
    auto reply = ReadFrame();
    if (!reply || reply->size() != kP2pAuthBytes) return false;
    PublicKey node_key{};
    Signature node_sig{};
    std::copy(reply->begin(), reply->begin() + 32, node_key.begin());
    std::copy(reply->begin() + 32, reply->end(), node_sig.begin());
    Hash256 theirs = Transcript(chain_id, kP2pRoleListener);
    if (!Verify(node_key, ByteView(theirs), node_sig)) return false;
    return SendFrame(std::string(1, static_cast<char>(kP2pAck)));
  }

  std::string EncryptFrame(std::string_view plain) {
    std::string out(4 + plain.size() + kP2pFrameOverheadBytes, '\0');
    const uint32_t len = static_cast<uint32_t>(plain.size() + kP2pFrameOverheadBytes);
    out[0] = static_cast<char>(len >> 24);
    out[1] = static_cast<char>(len >> 16);
    out[2] = static_cast<char>(len >> 8);
    out[3] = static_cast<char>(len);
    crypto_secretstream_xchacha20poly1305_push(
        &push_, reinterpret_cast<uint8_t*>(out.data() + 4), nullptr,
        reinterpret_cast<const uint8_t*>(plain.data()), plain.size(), nullptr, 0,
        crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
    return out;
  }
  bool SendFrame(std::string_view plain) { return SendAll(EncryptFrame(plain)); }

  std::optional<std::string> ReadFrame() {
    auto prefix = ReadExact(4);
    if (!prefix) return std::nullopt;
    const auto* p = reinterpret_cast<const uint8_t*>(prefix->data());
    const size_t len = (size_t{p[0]} << 24) | (size_t{p[1]} << 16) | (size_t{p[2]} << 8) | p[3];
    if (len < kP2pFrameOverheadBytes || len > kP2pFrameBytesMax) return std::nullopt;
    auto body = ReadExact(len);
    if (!body) return std::nullopt;
    std::string plain(len - kP2pFrameOverheadBytes, '\0');
    unsigned char tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(
            &pull_, reinterpret_cast<uint8_t*>(plain.data()), nullptr, &tag,
            reinterpret_cast<const uint8_t*>(body->data()), len, nullptr, 0) != 0) {
      return std::nullopt;
    }
    return plain;
  }

 private:
  bool PollIn(Clock::time_point end) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(left.count())) > 0;
  }
  Hash256 Transcript(const std::string& chain_id, uint8_t role) const {
    std::string t = "v2gledger/p2p/v1" + chain_id;
    t.append(reinterpret_cast<const char*>(eph_pk_.data()), 32);    // dialer (us)
    t.append(reinterpret_cast<const char*>(node_eph_.data()), 32);  // listener
    t.push_back(static_cast<char>(role));
    return Blake2b256(t);
  }

  int fd_ = -1;
  bool connected_ = false;
  std::array<uint8_t, crypto_kx_PUBLICKEYBYTES> eph_pk_{};
  std::array<uint8_t, crypto_kx_SECRETKEYBYTES> eph_sk_{};
  std::array<uint8_t, 32> node_eph_{};
  crypto_secretstream_xchacha20poly1305_state push_{};
  crypto_secretstream_xchacha20poly1305_state pull_{};
};

// A TCP forwarder to 127.0.0.1:upstream that accepts and connects upstream at once but holds all
// bytes until Open(). Two of them make two nodes' dials meet truly at the same time.
class GatedProxy {
 public:
  // `upstream` 0: accepts nothing until SetUpstream names it (dials wait in the backlog).
  explicit GatedProxy(int upstream = 0) : upstream_(upstream) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = Loopback(0);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(listen_fd_, 16), 0);
    socklen_t len = sizeof(a);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    threads_.emplace_back([this] { AcceptLoop(); });
  }
  ~GatedProxy() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
      open_ = true;
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    for (int fd : fds_) ::close(fd);
    ::close(listen_fd_);
  }
  GatedProxy(const GatedProxy&) = delete;
  GatedProxy& operator=(const GatedProxy&) = delete;

  int port() const { return port_; }
  void SetUpstream(int upstream) {
    std::lock_guard<std::mutex> lk(mu_);
    upstream_ = upstream;
  }
  int accepted() {
    std::lock_guard<std::mutex> lk(mu_);
    return accepted_;
  }
  void Open() {
    std::lock_guard<std::mutex> lk(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  static sockaddr_in Loopback(int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    return a;
  }
  void AcceptLoop() {
    for (;;) {
      pollfd p{listen_fd_, POLLIN, 0};
      int ready = ::poll(&p, 1, 20);
      std::lock_guard<std::mutex> lk(mu_);
      if (stop_) return;
      if (ready <= 0 || upstream_ == 0) continue;
      int down = ::accept(listen_fd_, nullptr, nullptr);
      if (down < 0) continue;
      int up = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a = Loopback(upstream_);
      if (::connect(up, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
        ::close(down);
        ::close(up);
        continue;
      }
      ++accepted_;
      fds_.push_back(down);
      fds_.push_back(up);
      threads_.emplace_back([this, down, up] { Pump(down, up); });
      threads_.emplace_back([this, down, up] { Pump(up, down); });
    }
  }
  void Pump(int from, int to) {
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [this] { return open_; });
    }
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(from, buf, sizeof(buf), 0);
      if (n <= 0) break;
      if (::send(to, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
    }
    ::shutdown(to, SHUT_RDWR);
    ::shutdown(from, SHUT_RDWR);
  }

  int upstream_;  // guarded by mu_ once the accept thread runs
  int listen_fd_ = -1;
  int port_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  bool stop_ = false;
  int accepted_ = 0;
  std::vector<int> fds_;  // closed in the destructor, after every thread has stopped using them
  std::vector<std::thread> threads_;  // AcceptLoop adds to it; joined after it has returned
};

class P2pTest : public ::testing::Test {
 protected:
  void SetUp() override { InitCrypto(); }
  const KeyPair a_ = KeyFromByte(1);
  const KeyPair b_ = KeyFromByte(2);
  const KeyPair c_ = KeyFromByte(3);
  const KeyPair x_ = KeyFromByte(9);  // never allowed unless a test says so
  std::vector<PublicKey> abc() const { return {a_.public_key(), b_.public_key(), c_.public_key()}; }
};

// Two connected nodes: B dials A. Checks both directions are up and reported with the right
// direction.
void ExpectPair(TestNode& a, TestNode& b) {
  ASSERT_TRUE(a.WaitConnected(b.key()));
  ASSERT_TRUE(b.WaitConnected(a.key()));
}

TEST_F(P2pTest, TwoNodesExchangeMessagesBothWaysOnAllChannels) {
  TestNode a(a_, {.allowed = abc()});
  TestNode b(b_, {.allowed = abc(), .peers = {PeerString(a_, a.port())}});
  ExpectPair(a, b);

  auto a_peers = a.p2p().Peers();
  ASSERT_EQ(a_peers.size(), 1u);
  EXPECT_EQ(a_peers[0].key, b_.public_key());
  EXPECT_EQ(a_peers[0].node_id, HexEncode(ByteView(b_.public_key())));
  EXPECT_TRUE(a_peers[0].inbound);
  EXPECT_GT(a_peers[0].connected_since_ms, 0);
  auto b_peers = b.p2p().Peers();
  ASSERT_EQ(b_peers.size(), 1u);
  EXPECT_FALSE(b_peers[0].inbound);
  EXPECT_EQ(b_peers[0].address, Addr(a.port()));

  const std::vector<uint8_t> channels = {
      kChannelConsensus, kChannelMempool, kChannelBlockSync, kChannelEvidence, 0, 200};
  for (uint8_t ch : channels) {
    EXPECT_TRUE(a.p2p().Send(b_.public_key(), ch, "a->b " + std::to_string(ch)));
    EXPECT_TRUE(b.p2p().Send(a_.public_key(), ch, "b->a " + std::to_string(ch)));
  }
  EXPECT_TRUE(a.p2p().Send(b_.public_key(), kChannelMempool, ""));  // empty payload is fine
  ASSERT_TRUE(b.WaitReceived(channels.size() + 1));
  ASSERT_TRUE(a.WaitReceived(channels.size()));
  auto at_b = b.received();
  auto at_a = a.received();
  // Each from the right peer, on its channel, in the order sent within each lane of the outbound
  // queue (consensus and evidence may pass the others: node/p2p/outbound.h).
  auto lane_order = [](const std::vector<Received>& got, bool priority) {
    std::vector<uint8_t> out;
    for (const auto& r : got) {
      if (p2p::IsPriorityChannel(r.channel) == priority) out.push_back(r.channel);
    }
    return out;
  };
  at_b.pop_back();  // the empty mempool message, checked below (a bulk message: it stays last)
  for (const auto* got : {&at_a, &at_b}) {
    ASSERT_EQ(got->size(), channels.size());
    EXPECT_EQ(lane_order(*got, true), (std::vector<uint8_t>{kChannelConsensus, kChannelEvidence}));
    EXPECT_EQ(lane_order(*got, false),
              (std::vector<uint8_t>{kChannelMempool, kChannelBlockSync, 0, 200}));
  }
  for (const auto& r : at_b) {
    EXPECT_EQ(r.from, a_.public_key());
    EXPECT_EQ(r.payload, "a->b " + std::to_string(r.channel));
  }
  for (const auto& r : at_a) {
    EXPECT_EQ(r.from, b_.public_key());
    EXPECT_EQ(r.payload, "b->a " + std::to_string(r.channel));
  }
  EXPECT_EQ(b.received().back().payload, "");
  EXPECT_FALSE(a.p2p().Send(c_.public_key(), kChannelConsensus, "nobody"));  // not connected
}

TEST_F(P2pTest, HandlerMaySendFromInsideTheCallback) {
  TestNode a(a_, {.allowed = abc(), .echo = true});
  TestNode b(b_, {.allowed = abc(), .peers = {PeerString(a_, a.port())}});
  ExpectPair(a, b);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(b.p2p().Send(a_.public_key(), kChannelMempool, "ping " + std::to_string(i)));
  }
  ASSERT_TRUE(b.WaitReceived(100));
  auto echoed = b.received();
  for (int i = 0; i < 100; ++i) EXPECT_EQ(echoed[i].payload, "ping " + std::to_string(i));
}

TEST_F(P2pTest, BroadcastReachesEveryConnectedPeerInAMesh) {
  TestNode a(a_, {.allowed = abc()});
  TestNode b(b_, {.allowed = abc(), .peers = {PeerString(a_, a.port())}});
  TestNode c(c_, {.allowed = abc(), .peers = {PeerString(a_, a.port()), PeerString(b_, b.port())}});
  ASSERT_TRUE(a.WaitConnected(b_.public_key()) && a.WaitConnected(c_.public_key()));
  ASSERT_TRUE(b.WaitConnected(a_.public_key()) && b.WaitConnected(c_.public_key()));
  ASSERT_TRUE(c.WaitConnected(a_.public_key()) && c.WaitConnected(b_.public_key()));

  a.p2p().Broadcast(kChannelConsensus, "from a");
  b.p2p().Broadcast(kChannelEvidence, "from b");
  c.p2p().Broadcast(kChannelMempool, "from c");
  ASSERT_TRUE(a.WaitReceived(2));
  ASSERT_TRUE(b.WaitReceived(2));
  ASSERT_TRUE(c.WaitReceived(2));
  auto froms = [](const std::vector<Received>& got) {
    std::map<PublicKey, std::pair<uint8_t, std::string>> m;
    for (const auto& r : got) m[r.from] = {r.channel, r.payload};
    return m;
  };
  auto at_a = froms(a.received());
  auto at_b = froms(b.received());
  auto at_c = froms(c.received());
  EXPECT_EQ(at_a[b_.public_key()], std::make_pair(kChannelEvidence, std::string("from b")));
  EXPECT_EQ(at_a[c_.public_key()], std::make_pair(kChannelMempool, std::string("from c")));
  EXPECT_EQ(at_b[a_.public_key()], std::make_pair(kChannelConsensus, std::string("from a")));
  EXPECT_EQ(at_b[c_.public_key()], std::make_pair(kChannelMempool, std::string("from c")));
  EXPECT_EQ(at_c[a_.public_key()], std::make_pair(kChannelConsensus, std::string("from a")));
  EXPECT_EQ(at_c[b_.public_key()], std::make_pair(kChannelEvidence, std::string("from b")));
  EXPECT_EQ(a.received().size(), 2u);  // nothing delivered twice
}

TEST_F(P2pTest, NodeNotAllowedIsRejectedInbound) {
  TestNode a(a_, {.allowed = abc()});  // x is not allowed by a
  TestNode x(x_, {.allowed = {a_.public_key()}, .peers = {PeerString(a_, a.port())}});
  // Both ends see at least one failed handshake (x keeps redialling); neither ever connects.
  ASSERT_TRUE(Eventually([&] {
    return a.p2p().Stats().handshakes_failed >= 2 && x.p2p().Stats().handshakes_failed >= 2;
  }));
  x.p2p().Broadcast(kChannelConsensus, "let me in");
  EXPECT_EQ(a.events(), 0u);
  EXPECT_EQ(x.events(), 0u);
  EXPECT_TRUE(a.p2p().Peers().empty());
  EXPECT_TRUE(x.p2p().Peers().empty());
  EXPECT_TRUE(a.received().empty());
  EXPECT_EQ(a.p2p().Stats().handshakes_ok, 0);
}

// The allowed set follows the validator set (node/node.cc AllowedPeers): SetAllowed lets a key in
// (its node connects), and taking it out again closes the connection and keeps it out; a
// configured peer that is not allowed is not dialled until it is.
TEST_F(P2pTest, AllowedSetFollowsSetAllowed) {
  TestNode a(a_, {.allowed = abc()});
  TestNode x(x_, {.allowed = {a_.public_key()}, .peers = {PeerString(a_, a.port())}});
  ASSERT_TRUE(Eventually([&] { return a.p2p().Stats().handshakes_failed >= 1; }));
  EXPECT_TRUE(a.p2p().Peers().empty());
  std::vector<PublicKey> with_x = abc();
  with_x.push_back(x_.public_key());
  a.p2p().SetAllowed(with_x);
  ExpectPair(a, x);
  a.p2p().SetAllowed(abc());
  ASSERT_TRUE(a.WaitDisconnected(x.key()));
  const int64_t refused = a.p2p().Stats().handshakes_failed;
  ASSERT_TRUE(Eventually(
      [&] { return a.p2p().Stats().handshakes_failed > refused; }));  // x redials: refused
  EXPECT_TRUE(a.p2p().Peers().empty());

  // c lists a as a peer but does not allow it yet: no dial, so a sees no handshake from it.
  TestNode c(c_, {.allowed = {}, .peers = {PeerString(a_, a.port())}});
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(a.p2p().Peers().size() > 0 && a.p2p().Peers()[0].key == c_.public_key());
  EXPECT_EQ(c.p2p().Stats().handshakes_ok + c.p2p().Stats().handshakes_failed, 0);
  c.p2p().SetAllowed({a_.public_key()});
  ASSERT_TRUE(c.WaitConnected(a.key()));
}

TEST_F(P2pTest, ANodeKeyRotationReconnectsUnderTheNewKeyAndDialersFollowTheSuccessor) {
  const KeyPair b2 = KeyFromByte(4);
  TestNode b(b_, {.allowed = {a_.public_key()}});
  TestNode a(a_,
             {.allowed = {b_.public_key(), b2.public_key()}, .peers = {PeerString(b_, b.port())}});
  ExpectPair(a, b);
  // b moves to its new key: every connection closes, and from now on it is b2 to everyone.
  b.p2p().ReplaceNodeKey(b2);
  EXPECT_EQ(b.p2p().NodeKey(), b2.public_key());
  ASSERT_TRUE(a.WaitDisconnected(b_.public_key()));
  // a's dialer still expects b's old key at that address: refused, whatever b2 answers.
  const int64_t failed = a.p2p().Stats().handshakes_failed;
  ASSERT_TRUE(Eventually([&] { return a.p2p().Stats().handshakes_failed > failed; }));
  EXPECT_FALSE(a.IsConnected(b2.public_key()));
  // The chain says b's key rotated: a dials b2 at the same address, and only b2 is allowed.
  a.p2p().SetAllowed({b2.public_key()}, {{b_.public_key(), b2.public_key()}});
  ASSERT_TRUE(a.WaitConnected(b2.public_key()));
  ASSERT_TRUE(b.WaitConnected(a_.public_key()));
  for (const PeerInfo& p : a.p2p().Peers()) EXPECT_NE(p.key, b_.public_key());
  // Messages flow under the new identity.
  ASSERT_TRUE(a.p2p().Send(b2.public_key(), kChannelConsensus, "to the new key"));
  ASSERT_TRUE(b.WaitReceived(1));
  EXPECT_EQ(b.received().back().from, a_.public_key());
  EXPECT_EQ(b.received().back().payload, "to the new key");
  // A second rotation: the chain maps the configured key (b's first) to the newest one, and the
  // dialer, already moved once, follows.
  const KeyPair b3 = KeyFromByte(5);
  b.p2p().ReplaceNodeKey(b3);
  ASSERT_TRUE(a.WaitDisconnected(b2.public_key()));
  a.p2p().SetAllowed({b3.public_key()}, {{b_.public_key(), b3.public_key()}});
  ASSERT_TRUE(a.WaitConnected(b3.public_key()));
}

TEST_F(P2pTest, NodeNotAllowedIsRejectedOutbound) {
  // a dials an address where it expects b, but x answers: x's key is not allowed by a (and is not
  // the expected one). x allows a, so only a's check stands between them.
  TestNode x(x_, {.allowed = {a_.public_key()}});
  TestNode a(a_, {.allowed = abc(), .peers = {PeerString(b_, x.port())}});
  ASSERT_TRUE(Eventually([&] {
    return a.p2p().Stats().handshakes_failed >= 2 && x.p2p().Stats().handshakes_failed >= 2;
  }));
  EXPECT_EQ(a.events(), 0u);
  EXPECT_EQ(x.events(), 0u);
  EXPECT_TRUE(x.received().empty());

  // Raw client with the key x: a listener that does not allow x never sends its auth.
  RawPeer raw(a.port());
  ASSERT_TRUE(raw.connected());
  EXPECT_FALSE(raw.Handshake(x_, kChain));
  EXPECT_TRUE(raw.WaitClosed());
  EXPECT_EQ(a.events(), 0u);
}

TEST_F(P2pTest, WrongChainIdFailsTheHandshake) {
  TestNode a(a_, {.allowed = abc()});
  TestNode b(b_, {.allowed = abc(), .peers = {PeerString(a_, a.port())}, .chain_id = "v2g-other"});
  ASSERT_TRUE(Eventually([&] {
    return a.p2p().Stats().handshakes_failed >= 2 && b.p2p().Stats().handshakes_failed >= 2;
  }));
  EXPECT_EQ(a.events(), 0u);
  EXPECT_EQ(b.events(), 0u);
  EXPECT_EQ(a.p2p().Stats().handshakes_ok + b.p2p().Stats().handshakes_ok, 0);
}

TEST_F(P2pTest, ConnectionToOurselvesIsDropped) {
  // a's peer list points at its own port under b's key: a dials itself.
  int port = FreePort();
  TestNode a(a_, {.allowed = abc(), .peers = {PeerString(b_, port)}, .listen = Addr(port)});
  ASSERT_TRUE(Eventually([&] { return a.p2p().Stats().handshakes_failed >= 4; }));
  EXPECT_EQ(a.events(), 0u);
  EXPECT_TRUE(a.p2p().Peers().empty());
}

// After each bad client, the good peer b must still exchange messages with a.
void ExpectStillServing(TestNode& a, TestNode& b, int round) {
  const std::string msg = "still here " + std::to_string(round);
  size_t before_a = a.received().size();
  size_t before_b = b.received().size();
  ASSERT_TRUE(a.p2p().Send(b.key(), kChannelConsensus, msg));
  ASSERT_TRUE(b.p2p().Send(a.key(), kChannelConsensus, msg));
  ASSERT_TRUE(b.WaitReceived(before_b + 1));
  ASSERT_TRUE(a.WaitReceived(before_a + 1));
  EXPECT_EQ(a.received().back().payload, msg);
  EXPECT_EQ(b.received().back().payload, msg);
}

TEST_F(P2pTest, MisbehavingClientsAreDisconnectedAndTheNodeKeepsServing) {
  TestNode a(a_, {.allowed = abc(), .handshake_timeout_ms = kShortHandshakeMs});
  TestNode b(b_, {.allowed = abc(), .peers = {PeerString(a_, a.port())}});
  ExpectPair(a, b);
  const int port = a.port();
  int round = 0;

  {  // garbage instead of a hello
    RawPeer raw(port);
    ASSERT_TRUE(raw.SendAll(std::string(kP2pHelloBytes, '\xab')));
    EXPECT_TRUE(raw.WaitClosed());
  }
  ExpectStillServing(a, b, ++round);
  {  // truncated hello: closed by the handshake timeout
    RawPeer raw(port);
    ASSERT_TRUE(raw.SendAll(raw.Hello().substr(0, 10)));
    EXPECT_TRUE(raw.WaitClosed());
  }
  ExpectStillServing(a, b, ++round);
  {  // connect and say nothing
    RawPeer raw(port);
    EXPECT_TRUE(raw.WaitClosed());
  }
  {  // unsupported protocol version
    RawPeer raw(port);
    ASSERT_TRUE(raw.SendAll(raw.Hello(kP2pProtocolVersion + 1)));
    EXPECT_TRUE(raw.WaitClosed());
  }
  {  // a low-order X25519 point (all zeros) as the ephemeral key
    RawPeer raw(port);
    std::string hello = raw.Hello();
    std::fill(hello.begin() + 6, hello.end(), '\0');
    ASSERT_TRUE(raw.SendAll(hello));
    EXPECT_TRUE(raw.WaitClosed());
  }
  ExpectStillServing(a, b, ++round);
  {  // valid hello and header, then an oversized length prefix where the auth frame belongs
    RawPeer raw(port);
    ASSERT_TRUE(raw.KeyExchange());
    ASSERT_TRUE(raw.SendAll(std::string("\xff\xff\xff\xff", 4)));
    EXPECT_TRUE(raw.WaitClosed());
  }
  {  // valid hello and header, then a garbage auth frame of the right length
    RawPeer raw(port);
    ASSERT_TRUE(raw.KeyExchange());
    std::string frame(4 + kP2pAuthBytes + kP2pFrameOverheadBytes, '\x5a');
    frame[0] = 0;
    frame[1] = 0;
    frame[2] = 0;
    frame[3] = static_cast<char>(kP2pAuthBytes + kP2pFrameOverheadBytes);
    ASSERT_TRUE(raw.SendAll(frame));
    EXPECT_TRUE(raw.WaitClosed());
  }
  {  // a correctly encrypted auth with a bad signature
    RawPeer raw(port);
    ASSERT_TRUE(raw.KeyExchange());
    std::string auth(reinterpret_cast<const char*>(c_.public_key().data()), 32);
    auth.append(64, '\x01');
    ASSERT_TRUE(raw.SendFrame(auth));
    EXPECT_TRUE(raw.WaitClosed());
  }
  ExpectStillServing(a, b, ++round);
  EXPECT_EQ(a.events(), 1u);  // only b's connect so far

  // Authenticated (c is allowed), then misbehaving frames.
  auto authenticated = [&](const std::function<void(RawPeer&)>& misbehave) {
    RawPeer raw(port);
    ASSERT_TRUE(raw.Handshake(c_, kChain));
    ASSERT_TRUE(a.WaitConnected(c_.public_key()));
    misbehave(raw);
    EXPECT_TRUE(raw.WaitClosed());
    ASSERT_TRUE(a.WaitDisconnected(c_.public_key()));
  };
  authenticated([](RawPeer& raw) {  // length prefix over the cap
    const uint32_t len = static_cast<uint32_t>(kP2pFrameBytesMax + 1);
    std::string prefix = {static_cast<char>(len >> 24), static_cast<char>(len >> 16),
                          static_cast<char>(len >> 8), static_cast<char>(len)};
    ASSERT_TRUE(raw.SendAll(prefix));
  });
  ExpectStillServing(a, b, ++round);
  authenticated([](RawPeer& raw) {  // a frame that does not decrypt
    std::string frame = raw.EncryptFrame("\x01hello");
    frame.back() = static_cast<char>(frame.back() ^ 1);
    ASSERT_TRUE(raw.SendAll(frame));
  });
  authenticated([](RawPeer& raw) {  // an empty plaintext: no channel byte
    ASSERT_TRUE(raw.SendFrame(""));
  });
  authenticated([](RawPeer& raw) {  // zero-length frame
    ASSERT_TRUE(raw.SendAll(std::string(4, '\0')));
  });
  authenticated([](RawPeer& raw) {  // a valid message, then a replayed (re-sent) frame
    std::string frame = raw.EncryptFrame("\x02tx");
    ASSERT_TRUE(raw.SendAll(frame));
    ASSERT_TRUE(raw.SendAll(frame));
  });
  ExpectStillServing(a, b, ++round);
  // The one valid message from c was delivered; the replay was not.
  int from_c = 0;
  for (const auto& r : a.received()) from_c += r.from == c_.public_key() ? 1 : 0;
  EXPECT_EQ(from_c, 1);
  EXPECT_TRUE(a.IsConnected(b_.public_key()));
}

TEST_F(P2pTest, RandomBytesAtEveryStageNeverCrashTheNode) {
  // Many connections from one address, on purpose: the per-address limits have their own tests.
  TestNode a(a_, {.allowed = abc(),
                  .handshake_timeout_ms = kShortHandshakeMs,
                  .handshake_burst_per_ip = 1000});
  TestNode b(b_, {.allowed = abc(), .peers = {PeerString(a_, a.port())}});
  ExpectPair(a, b);
  const uint32_t seed = 20240601;
  std::mt19937 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  // Stages: 0 = instead of the hello, 1 = a random "hello" with the right magic and version,
  // 2 = after hello and stream headers, 3 = after a full authenticated handshake. Half of the
  // time the junk carries a length prefix matching its size, so it reaches decryption.
  for (int i = 0; i < 40; ++i) {
    RawPeer raw(a.port());
    const int stage = i % 4;
    std::string junk(rng() % 5000 + 1, '\0');
    for (char& ch : junk) ch = static_cast<char>(rng());
    if (stage == 1) {
      junk = raw.Hello().substr(0, 6) + junk;
    } else if (stage == 2) {
      ASSERT_TRUE(raw.KeyExchange());
    } else if (stage == 3) {
      ASSERT_TRUE(raw.Handshake(c_, kChain));
    }
    if (stage >= 2 && rng() % 2 == 0) {
      const auto n = static_cast<uint32_t>(junk.size());
      junk = std::string{static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                         static_cast<char>(n >> 8), static_cast<char>(n)} +
             junk;
    }
    raw.SendAll(junk);    // may fail once the node has closed
    raw.ShutdownWrite();  // a length prefix that promises more than we sent then meets EOF
    EXPECT_TRUE(raw.WaitClosed()) << "iteration " << i;
  }
  ExpectStillServing(a, b, 1);
}

TEST_F(P2pTest, ReconnectsByItselfWhenThePeerRestartsOnTheSamePort) {
  auto a = std::make_unique<TestNode>(a_, TestNode::Options{.allowed = abc()});
  const int port = a->port();
  TestNode b(b_, {.allowed = abc(), .peers = {PeerString(a_, port)}});
  ExpectPair(*a, b);
  a.reset();  // stops a
  ASSERT_TRUE(b.WaitDisconnected(a_.public_key()));
  EXPECT_FALSE(b.p2p().Send(a_.public_key(), kChannelConsensus, "into the void"));

  a = std::make_unique<TestNode>(a_, TestNode::Options{.allowed = abc(), .listen = Addr(port)});
  ASSERT_EQ(a->port(), port);
  ExpectPair(*a, b);  // b redialled on its own
  ASSERT_TRUE(b.p2p().Send(a_.public_key(), kChannelConsensus, "welcome back"));
  ASSERT_TRUE(a->WaitReceived(1));
  EXPECT_EQ(a->received()[0].payload, "welcome back");
}

TEST_F(P2pTest, SimultaneousDialEndsWithExactlyOneConnectionPerPair) {
  for (uint8_t round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const KeyPair k1 = KeyFromByte(static_cast<uint8_t>(100 + 2 * round));
    const KeyPair k2 = KeyFromByte(static_cast<uint8_t>(101 + 2 * round));
    const std::vector<PublicKey> allowed = {k1.public_key(), k2.public_key()};
    // Each node dials the other through a proxy that holds the bytes until both dials are in, so
    // both handshakes run at the same time. The nodes listen on ports the kernel picks (a port
    // probed free and bound later can be taken in between by a parallel test), told to the
    // proxies once the nodes have them.
    GatedProxy to1;
    GatedProxy to2;
    TestNode n1(k1, {.allowed = allowed, .peers = {PeerString(k2, to2.port())}});
    TestNode n2(k2, {.allowed = allowed, .peers = {PeerString(k1, to1.port())}});
    to1.SetUpstream(n1.port());
    to2.SetUpstream(n2.port());
    // Both dials are in and both nodes hold two connections (one dialled, one accepted).
    ASSERT_TRUE(Eventually([&] {
      return to1.accepted() == 1 && to2.accepted() == 1 && n1.p2p().Stats().connections_open == 2 &&
             n2.p2p().Stats().connections_open == 2;
    }));
    to1.Open();
    to2.Open();
    ASSERT_TRUE(Eventually([&] {
      auto s1 = n1.p2p().Stats();
      auto s2 = n2.p2p().Stats();
      auto peers1 = n1.p2p().Peers();
      auto peers2 = n2.p2p().Peers();
      return s1.connections_open == 1 && s2.connections_open == 1 && peers1.size() == 1 &&
             peers2.size() == 1 && peers1[0].inbound != peers2[0].inbound;
    }));
    // The survivor is the connection dialled by the smaller key, on both sides.
    const bool k1_smaller = k1.public_key() < k2.public_key();
    EXPECT_EQ(n1.p2p().Peers()[0].inbound, !k1_smaller);
    EXPECT_EQ(n2.p2p().Peers()[0].inbound, k1_smaller);
    ASSERT_TRUE(n1.IsConnected(k2.public_key()));
    ASSERT_TRUE(n2.IsConnected(k1.public_key()));
    ASSERT_TRUE(n1.p2p().Send(k2.public_key(), kChannelConsensus, "one"));
    ASSERT_TRUE(n2.p2p().Send(k1.public_key(), kChannelConsensus, "two"));
    ASSERT_TRUE(n2.WaitReceived(1));
    ASSERT_TRUE(n1.WaitReceived(1));
  }
}

TEST_F(P2pTest, MutualPeersWithoutCoordinationEndWithOneConnection) {
  const int pa = FreePort();
  const int pb = FreePort();
  TestNode a(a_, {.allowed = abc(), .peers = {PeerString(b_, pb)}, .listen = Addr(pa)});
  TestNode b(b_, {.allowed = abc(), .peers = {PeerString(a_, pa)}, .listen = Addr(pb)});
  ASSERT_TRUE(Eventually([&] {
    auto pa_peers = a.p2p().Peers();
    auto pb_peers = b.p2p().Peers();
    return a.p2p().Stats().connections_open == 1 && b.p2p().Stats().connections_open == 1 &&
           pa_peers.size() == 1 && pb_peers.size() == 1 &&
           pa_peers[0].inbound != pb_peers[0].inbound;
  }));
}

TEST_F(P2pTest, LargeMessagesArriveIntactAndInOrder) {
  TestNode a(a_, {.allowed = abc()});
  TestNode b(b_, {.allowed = abc(), .peers = {PeerString(a_, a.port())}});
  ExpectPair(a, b);
  std::mt19937 rng(7);
  std::string big(4 * 1024 * 1024, '\0');
  for (char& ch : big) ch = static_cast<char>(rng());
  std::string big2 = big;
  std::reverse(big2.begin(), big2.end());
  ASSERT_TRUE(a.p2p().Send(b_.public_key(), kChannelBlockSync, big));
  ASSERT_TRUE(a.p2p().Send(b_.public_key(), kChannelBlockSync, big2));
  // Same lane (bulk) as the blocks: a consensus message would overtake them (outbound.h).
  ASSERT_TRUE(a.p2p().Send(b_.public_key(), kChannelBlockSync, "after"));
  ASSERT_TRUE(b.WaitReceived(3));
  auto got = b.received();
  EXPECT_TRUE(got[0].payload == big);
  EXPECT_TRUE(got[1].payload == big2);
  EXPECT_EQ(got[2].payload, "after");
  EXPECT_EQ(got[0].channel, kChannelBlockSync);

  // The largest allowed payload goes through; one byte more is refused locally.
  std::string max_payload(kP2pMessageBytesMax - 1, 'm');
  ASSERT_TRUE(a.p2p().Send(b_.public_key(), kChannelBlockSync, max_payload));
  ASSERT_TRUE(b.WaitReceived(4));
  EXPECT_EQ(b.received()[3].payload.size(), max_payload.size());
  EXPECT_FALSE(a.p2p().Send(b_.public_key(), kChannelBlockSync, max_payload + "x"));
}

TEST_F(P2pTest, PeerThatDoesNotReadIsDroppedWhenItsQueueIsFull) {
  TestNode a(a_, {.allowed = abc()});
  RawPeer raw(a.port(), 4096);  // small receive buffer; it never reads after the handshake
  ASSERT_TRUE(raw.Handshake(c_, kChain));
  ASSERT_TRUE(a.WaitConnected(c_.public_key()));
  const std::string chunk(64 * 1024, 'q');
  bool refused = false;
  // The queue holds 64 MiB; the kernel buffers add a few MiB. 8000 x 64 KiB = 500 MiB is far
  // more than both, so Send must start failing.
  for (int i = 0; i < 8000 && !refused; ++i) {
    refused = !a.p2p().Send(c_.public_key(), kChannelBlockSync, chunk);
  }
  EXPECT_TRUE(refused);
  ASSERT_TRUE(a.WaitDisconnected(c_.public_key()));
  EXPECT_EQ(a.p2p().Stats().peers_dropped_slow, 1);
  EXPECT_FALSE(a.p2p().Send(c_.public_key(), kChannelBlockSync, "x"));
}

// Tx gossip is best effort: past its share of the queue (kP2pGossipQueueBytesMax) a gossip message
// is skipped and counted, and the peer stays connected, its consensus messages still queued.
TEST_F(P2pTest, GossipToAPeerThatDoesNotReadIsSkippedAndThePeerIsKept) {
  TestNode a(a_, {.allowed = abc()});
  RawPeer raw(a.port(), 4096);  // small receive buffer; it never reads after the handshake
  ASSERT_TRUE(raw.Handshake(c_, kChain));
  ASSERT_TRUE(a.WaitConnected(c_.public_key()));
  const std::string chunk(64 * 1024, 'q');
  int sent = 0, skipped = 0;
  // 2,000 x 64 KiB = 125 MiB: past the gossip share and the kernel's buffers, and past the whole
  // queue's 64 MiB, which would drop the peer if gossip could fill it.
  for (int i = 0; i < 2000; ++i) {
    if (a.p2p().Send(c_.public_key(), kChannelMempool, chunk)) {
      ++sent;
    } else {
      ++skipped;
    }
  }
  EXPECT_GT(skipped, 0);
  EXPECT_EQ(a.p2p().Stats().gossip_skipped, skipped);
  // What was queued is the share at most, plus what the socket buffers took.
  EXPECT_LT(static_cast<int64_t>(sent) * static_cast<int64_t>(chunk.size()),
            static_cast<int64_t>(kP2pGossipQueueBytesMax) + 48 * 1024 * 1024);
  EXPECT_EQ(a.p2p().Stats().peers_dropped_slow, 0);
  EXPECT_TRUE(a.p2p().Send(c_.public_key(), kChannelConsensus, "vote"));
  bool connected = false;
  for (const PeerInfo& p : a.p2p().Peers()) connected |= p.key == c_.public_key();
  EXPECT_TRUE(connected);
}

// Small batches (a tx per 5 ms flush at low rates) would reach the queue's message bound long
// before the gossip share's bytes: the share is bounded in messages too. 6,000 sync messages of
// 8 KiB (more than the socket buffers take) plus 20,000 tiny gossip batches are 26,000 messages,
// past the queue's 16,384; with gossip capped at kP2pGossipQueueMessagesMax the peer is kept.
TEST_F(P2pTest, SmallGossipBatchesAreCappedInMessagesAndThePeerIsKept) {
  TestNode a(a_, {.allowed = abc()});
  RawPeer raw(a.port(), 4096);  // small receive buffer; it never reads after the handshake
  ASSERT_TRUE(raw.Handshake(c_, kChain));
  ASSERT_TRUE(a.WaitConnected(c_.public_key()));
  const std::string chunk(8 * 1024, 's');
  for (int i = 0; i < 6000; ++i) ASSERT_TRUE(a.p2p().Send(c_.public_key(), kChannelBlockSync, chunk));
  int64_t refused = 0;
  for (int i = 0; i < 20000; ++i) refused += a.p2p().Send(c_.public_key(), kChannelMempool, "tiny") ? 0 : 1;
  EXPECT_GE(refused, 20000 - static_cast<int64_t>(kP2pGossipQueueMessagesMax));
  EXPECT_EQ(a.p2p().Stats().gossip_skipped, refused);
  EXPECT_EQ(a.p2p().Stats().peers_dropped_slow, 0);
  EXPECT_TRUE(a.p2p().Send(c_.public_key(), kChannelConsensus, "vote"));
}

TEST_F(P2pTest, UnfinishedHandshakesAreBounded) {
  TestNode a(a_, {.allowed = abc(), .handshake_timeout_ms = kP2pHandshakeTimeoutMsMax});
  std::vector<std::unique_ptr<RawPeer>> silent;
  // From as many source addresses as it takes to fill every slot within the per-address limit,
  // each in a /24 of its own (so within the per-prefix limit too).
  std::vector<std::string> sources;
  for (size_t i = 0; i < kP2pHandshakesPendingMax; ++i) {
    const size_t per_source = static_cast<size_t>(limits::kHandshakesPendingPerIpMax);
    sources.push_back("127.0." + std::to_string(1 + i / per_source) + ".1");
    silent.push_back(std::make_unique<RawPeer>(a.port(), 0, sources.back().c_str()));
    ASSERT_TRUE(silent.back()->connected());
  }
  ASSERT_TRUE(Eventually([&] {
    return a.p2p().Stats().connections_open == static_cast<int64_t>(kP2pHandshakesPendingMax);
  }));
  {  // one more, from a fresh address, is closed at once (long before the 60 s handshake timeout)
    RawPeer extra(a.port(), 0, "127.0.100.1");
    EXPECT_TRUE(extra.WaitClosed());
  }
  EXPECT_EQ(a.p2p().Stats().connections_refused, 1);
  silent.clear();  // the slots free up as the node sees these close
  TestNode b(b_, {.allowed = abc(), .peers = {PeerString(a_, a.port())}});
  ExpectPair(a, b);
}

TEST_F(P2pTest, HandshakesInProgressAreBoundedPerSourceAddress) {
  TestNode a(a_, {.allowed = abc(),
                  .handshake_timeout_ms = kP2pHandshakeTimeoutMsMax,
                  .handshakes_pending_per_ip_max = 2});
  // Two silent connections from one address take its two slots ...
  auto s1 = std::make_unique<RawPeer>(a.port(), 0, "127.0.0.5");
  RawPeer s2(a.port(), 0, "127.0.0.5");
  ASSERT_TRUE(s1->connected() && s2.connected());
  ASSERT_TRUE(Eventually([&] { return a.p2p().Stats().connections_open == 2; }));
  {  // ... so a third from it is closed at once, long before the 60 s handshake timeout
    RawPeer third(a.port(), 0, "127.0.0.5");
    EXPECT_TRUE(third.WaitClosed());
  }
  EXPECT_EQ(a.p2p().Stats().connections_refused, 1);
  // Another address is served as usual, and an allowed node authenticates from it.
  RawPeer other(a.port(), 0, "127.0.0.6");
  ASSERT_TRUE(other.Handshake(c_, kChain));
  ASSERT_TRUE(a.WaitConnected(c_.public_key()));
  // Once one of the silent connections ends, its address may start a handshake again.
  s1.reset();
  ASSERT_TRUE(Eventually([&] { return a.p2p().Stats().connections_open == 2; }));
  RawPeer again(a.port(), 0, "127.0.0.5");
  EXPECT_TRUE(again.KeyExchange());
  EXPECT_EQ(a.p2p().Stats().connections_refused, 1);
}

TEST_F(P2pTest, HandshakeRateIsLimitedPerSourceAddress) {
  // The limiter's clock stands still unless the test moves it: no refill from real time passing.
  auto now_ms = std::make_shared<std::atomic<int64_t>>(1'000'000);
  TestNode a(a_, {.allowed = abc(),
                  .handshake_burst_per_ip = 3,
                  .handshakes_per_ip_per_second = 1,
                  .monotonic_ms = [now_ms] { return now_ms->load(); }});
  // An admitted connection gets the node's hello; a refused one is closed without a byte.
  auto admitted = [&](const char* source) {
    RawPeer raw(a.port(), 0, source);
    return raw.connected() && raw.ReadExact(kP2pHelloBytes).has_value();
  };
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(admitted("127.0.0.7")) << "burst connection " << i;
  EXPECT_FALSE(admitted("127.0.0.7"));
  EXPECT_FALSE(admitted("127.0.0.7"));
  EXPECT_EQ(a.p2p().Stats().connections_refused, 2);
  EXPECT_TRUE(admitted("127.0.0.8"));  // other addresses have buckets of their own
  now_ms->fetch_add(1000);             // one second refills one handshake
  EXPECT_TRUE(admitted("127.0.0.7"));
  EXPECT_FALSE(admitted("127.0.0.7"));
  EXPECT_EQ(a.p2p().Stats().connections_refused, 3);
  // An honest node dialling from a limited address still gets in once the bucket refills.
  now_ms->fetch_add(1000);
  TestNode b(b_, {.allowed = abc(), .peers = {PeerString(a_, a.port())}});
  ExpectPair(a, b);
}

TEST_F(P2pTest, PausedReadsDeliverNothingUntilResumed) {
  TestNode a(a_, {.allowed = abc(), .pause_after_each = true});
  TestNode b(b_, {.allowed = abc(), .peers = {PeerString(a_, a.port())}});
  ExpectPair(a, b);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(b.p2p().Send(a_.public_key(), kChannelConsensus, "m" + std::to_string(i)));
  }
  // Each message pauses the reader; while it is paused nothing more is delivered, however long
  // the others have been waiting in the socket.
  for (size_t k = 1; k <= 3; ++k) {
    ASSERT_TRUE(a.WaitReceived(k));
    ASSERT_TRUE(Eventually([&] { return a.p2p().Stats().readers_paused == 1; }));
    EXPECT_EQ(a.received().size(), k);
    a.p2p().ResumeReads(b_.public_key());
  }
  ASSERT_TRUE(a.WaitReceived(3));
  auto got = a.received();
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(got[i].payload, "m" + std::to_string(i));
  // Replies still flow the other way while a's reads from b are paused.
  ASSERT_TRUE(a.p2p().Send(b_.public_key(), kChannelConsensus, "reply"));
  ASSERT_TRUE(b.WaitReceived(1));
  a.p2p().ResumeReads(c_.public_key());  // not connected: nothing happens
}

TEST_F(P2pTest, AConsensusMessageQueuedBehindGossipIsSentFirst) {
  TestNode a(a_, {.allowed = abc(), .pause_first = true});
  TestNode b(b_, {.allowed = abc(), .peers = {PeerString(a_, a.port())}});
  ExpectPair(a, b);
  // a reads b's first message and pauses, so b's writer fills the socket buffers and stops; the
  // rest waits in b's outbound queue. 6,000 x 8 KiB = 48 MiB is more than loopback buffers can
  // hold (a few MiB in practice, 36 MiB at most with this box's tcp_rmem and tcp_wmem maxima), so
  // gossip is still queued when the vote comes.
  constexpr int kGossip = 6000;
  const std::string chunk(8 * 1024, 'g');
  ASSERT_TRUE(b.p2p().Send(a_.public_key(), kChannelMempool, "first"));
  ASSERT_TRUE(a.WaitReceived(1));
  for (int i = 0; i < kGossip; ++i) {  // block sync: bulk lane too, and not capped like gossip
    ASSERT_TRUE(b.p2p().Send(a_.public_key(), kChannelBlockSync, chunk));
  }
  ASSERT_TRUE(b.p2p().Send(a_.public_key(), kChannelConsensus, "vote"));
  a.p2p().ResumeReads(b_.public_key());
  ASSERT_TRUE(a.WaitReceived(kGossip + 2));
  auto got = a.received();
  size_t vote_at = got.size();
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i].channel == kChannelConsensus) vote_at = i;
  }
  ASSERT_LT(vote_at, got.size());
  EXPECT_EQ(got[vote_at].payload, "vote");
  // Only what had already left b's queue (the socket buffers' worth) came before it; without the
  // priority lane it would be the very last.
  EXPECT_LT(vote_at, static_cast<size_t>(kGossip));
  EXPECT_EQ(b.p2p().Stats().messages_prioritized, 1);
  EXPECT_EQ(b.p2p().Stats().peers_dropped_slow, 0);
}

TEST_F(P2pTest, StopWhileBusyReturnsPromptly) {
  auto a = std::make_unique<TestNode>(a_, TestNode::Options{.allowed = abc()});
  TestNode b(b_, {.allowed = abc(), .peers = {PeerString(a_, a->port())}});
  ExpectPair(*a, b);
  RawPeer stuck(a->port(), 4096);  // an authenticated peer that never reads
  ASSERT_TRUE(stuck.Handshake(c_, kChain));
  ASSERT_TRUE(a->WaitConnected(c_.public_key()));
  RawPeer half(a->port());  // and one stuck in the handshake
  ASSERT_TRUE(half.SendAll(half.Hello().substr(0, 3)));
  const std::string chunk(256 * 1024, 'z');
  for (int i = 0; i < 64; ++i) a->p2p().Send(c_.public_key(), kChannelBlockSync, chunk);
  std::atomic<bool> spam{true};
  std::thread spammer([&] {
    while (spam) b.p2p().Broadcast(kChannelMempool, "spam");  // may overflow: that is fine
  });
  ASSERT_TRUE(a->WaitReceived(1));

  const auto t0 = Clock::now();
  a->p2p().Stop();
  const auto took = Clock::now() - t0;
  // Not a performance check: a hang would take the 5 s drain safety net or forever.
  EXPECT_LT(took, 3s);
  a->p2p().Stop();  // idempotent
  EXPECT_TRUE(a->p2p().Peers().empty());
  EXPECT_FALSE(a->p2p().Send(b_.public_key(), kChannelConsensus, "after stop"));
  ASSERT_TRUE(b.WaitDisconnected(a_.public_key()));
  EXPECT_TRUE(stuck.WaitClosed());
  spam = false;
  spammer.join();
  const size_t events_after_stop = a->events();
  a.reset();  // destructor after Stop is fine
  EXPECT_GE(events_after_stop, 2u);
}

TEST_F(P2pTest, CreateValidatesTheConfig) {
  auto make = [&](P2pConfig cfg) {
    return P2p::Create(
        std::move(cfg), [](const PublicKey&, uint8_t, std::string) { return ReadFlow::kContinue; },
        [](const PublicKey&, bool) {});
  };
  auto base = [&] {
    return P2pConfig{
        .chain_id = kChain, .node_key = a_, .listen = "127.0.0.1:0", .peers = {}, .allowed = abc()};
  };
  EXPECT_TRUE(make(base()).ok());
  auto cfg = base();
  cfg.chain_id = "";
  EXPECT_EQ(make(cfg).status().code(), Code::kInvalidArgument);
  cfg = base();
  cfg.listen = "127.0.0.1";
  EXPECT_EQ(make(cfg).status().code(), Code::kInvalidArgument);
  for (const std::string& bad :
       std::vector<std::string>{"nonsense", "abcd@127.0.0.1:1", PeerString(b_, 0),
                                HexEncode(ByteView(b_.public_key())) + "@:5",
                                HexEncode(ByteView(b_.public_key())) + "@h:99999"}) {
    cfg = base();
    cfg.peers = {bad};
    EXPECT_EQ(make(cfg).status().code(), Code::kInvalidArgument) << bad;
  }
  // A peer whose key is not allowed (yet: the allowed set follows the validator set) is taken,
  // and dialled once SetAllowed lets it in (AllowedSetFollowsSetAllowed).
  cfg = base();
  cfg.peers = {PeerString(x_, 26656)};
  EXPECT_TRUE(make(cfg).ok());
  cfg = base();
  cfg.peers = {PeerString(b_, 1000), PeerString(b_, 1001)};
  EXPECT_EQ(make(cfg).status().code(), Code::kInvalidArgument);
  cfg = base();
  cfg.peers = {PeerString(a_, 1000), "[" + HexEncode(ByteView(b_.public_key())) + "]@x:1"};
  EXPECT_FALSE(make(cfg).ok());
  cfg.peers = {PeerString(a_, 1000), HexEncode(ByteView(b_.public_key())) + "@[::1]:1"};
  EXPECT_TRUE(make(cfg).ok());  // our own entry is skipped; IPv6 literal accepted
  auto parsed = ParsePeerAddress(HexEncode(ByteView(b_.public_key())) + "@[::1]:26656");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->host, "::1");
  EXPECT_EQ(parsed->port, 26656);
  EXPECT_EQ(parsed->key, b_.public_key());

  // Start twice, listen on a taken port.
  auto p = make(base());
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE((*p)->Start().ok());
  EXPECT_EQ((*p)->Start().code(), Code::kInternal);
  auto cfg2 = base();
  cfg2.listen = Addr((*p)->listen_port());
  auto q = make(cfg2);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ((*q)->Start().code(), Code::kIo);
  (*p)->Stop();
  EXPECT_EQ((*p)->Start().code(), Code::kInternal);
}

}  // namespace
}  // namespace v2g
