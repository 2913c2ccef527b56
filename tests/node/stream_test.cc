// GET /v1/stream (node/api/stream.cc) over a ManualNode whose blocks are committed by hand: every
// block in order, a resumed stream without gaps or duplicates (Last-Event-ID), txs only to who may
// read them, markets cleared and settled, and bad parameters named. The transport's side (a
// client that never reads is cut off, the stream slots) is in api_limits_test.cc.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include "common/limits.h"
#include "contracts/market.h"
#include "tests/node/api_test_util.h"

namespace v2g::nodetest {
namespace {

using json = nlohmann::json;

struct Event {
  std::string id;
  std::string type;
  json data;
};

// Follows GET `path` as Server-Sent Events on a thread of its own until `enough` says so, the
// stream ends or 20 s pass (the client's read timeout).
class Follower {
 public:
  Follower(int port, std::string path, httplib::Headers headers,
           std::function<bool(const std::vector<Event>&)> enough)
      : thread_([this, port, path = std::move(path), headers = std::move(headers),
                 enough = std::move(enough)] {
          const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
          httplib::Client c("127.0.0.1", port);
          c.set_read_timeout(20, 0);
          std::string buf;
          c.Get(
              path, headers,
              [this](const httplib::Response& r) {
                status_ = r.status;
                return true;
              },
              [&](const char* data, size_t n) {
                buf.append(data, n);
                got_bytes_ = true;
                if (status_ != 200) return true;  // an error's JSON body
                // One read may bring many events: the follower stops at the first event that
                // makes it enough, so what it returns does not depend on how the bytes came.
                for (size_t end = buf.find("\n\n"); end != std::string::npos;
                     end = buf.find("\n\n")) {
                  Parse(buf.substr(0, end));
                  buf.erase(0, end + 2);
                  std::lock_guard<std::mutex> lock(mu_);
                  if (enough(events_)) return false;
                }
                // Keep-alives come every 15 s, within the read timeout: a stream short of
                // events ends here, so the test fails instead of hanging.
                return std::chrono::steady_clock::now() < deadline;
              });
          if (status_ != 200) body_ = json::parse(buf, nullptr, false);
        }) {}
  ~Follower() {
    if (thread_.joinable()) thread_.join();
  }
  std::vector<Event> Wait() {
    thread_.join();
    return events_;
  }
  int status() const { return status_; }
  // Waits until the stream's first bytes came: the node has fixed where it starts (the first
  // piece says so), so a block committed after this is among those it sends.
  bool WaitStarted() const {
    for (int i = 0; i < 2000 && !got_bytes_; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return got_bytes_;
  }
  const json& body() const { return body_; }

 private:
  void Parse(const std::string& block) {
    Event e;
    size_t start = 0;
    while (start < block.size()) {
      const size_t nl = std::min(block.find('\n', start), block.size());
      const std::string line = block.substr(start, nl - start);
      if (line.starts_with("id: ")) e.id = line.substr(4);
      if (line.starts_with("event: ")) e.type = line.substr(7);
      if (line.starts_with("data: ")) e.data = json::parse(line.substr(6));
      start = nl + 1;
    }
    if (e.type.empty()) return;  // a comment or the retry line
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(e));
  }

  std::atomic<int> status_{0};
  std::atomic<bool> got_bytes_{false};
  json body_;
  std::mutex mu_;
  std::vector<Event> events_;
  std::thread thread_;  // last: started once the rest exists
};

// True once a block event at `height` or later is among `events`.
std::function<bool(const std::vector<Event>&)> UntilBlock(int64_t height) {
  return [height](const std::vector<Event>& events) {
    for (const Event& e : events) {
      if (e.type == "block" && e.data.value("height", int64_t{0}) >= height) return true;
    }
    return false;
  };
}
std::function<bool(const std::vector<Event>&)> UntilCount(size_t n) {
  return [n](const std::vector<Event>& events) { return events.size() >= n; };
}

std::vector<std::string> Ids(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const Event& e : events) out.push_back(e.id);
  return out;
}

class StreamTest : public ManualApiTest {
 protected:
  int port() const { return api_->port(); }
};

TEST_F(StreamTest, EveryBlockInOrderAndAResumedStreamHasNoGapOrDuplicate) {
  StartNode(nullptr, "stream-test");
  ASSERT_FALSE(HasFatalFailure());
  for (int i = 0; i < 4; ++i) Tick();
  Follower whole(port(), "/v1/stream?from=1", {}, UntilBlock(8));
  Follower first(port(), "/v1/stream?from=1", {}, UntilCount(3));
  const std::vector<Event> head = first.Wait();
  ASSERT_EQ(Ids(head), (std::vector<std::string>{"1:0", "2:0", "3:0"}));
  for (int i = 0; i < 4; ++i) Tick();  // blocks 5-8 come while the whole stream waits for them
  const std::vector<Event> all = whole.Wait();
  ASSERT_EQ(all.size(), 8u);
  for (int64_t h = 1; h <= 8; ++h) {
    const Event& e = all[static_cast<size_t>(h - 1)];
    EXPECT_EQ(e.type, "block");
    EXPECT_EQ(e.id, std::to_string(h) + ":0");
    EXPECT_EQ(e.data["height"], h);
    EXPECT_EQ(e.data["num_txs"], 0) << e.data.dump();
  }
  // Resumed where the first stopped: the rest, once each.
  Follower rest(port(), "/v1/stream", {{"Last-Event-ID", head.back().id}}, UntilBlock(8));
  std::vector<std::string> joined = Ids(head);
  for (const std::string& id : Ids(rest.Wait())) joined.push_back(id);
  EXPECT_EQ(joined, Ids(all));
  // Without from or Last-Event-ID: from the next block on.
  Follower next(port(), "/v1/stream", {}, UntilCount(1));
  ASSERT_TRUE(next.WaitStarted());
  Tick();
  const std::vector<Event> fresh = next.Wait();
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(fresh[0].id, "9:0");
}

TEST_F(StreamTest, TxsNamingAnAccountGoOnlyToWhoMayReadThem) {
  private_reads_ = true;
  StartNode(nullptr, "stream-test");
  ASSERT_FALSE(HasFatalFailure());
  // Two txs of alice's in one block, then an empty block.
  std::vector<std::string> hashes;
  for (uint64_t nonce = 1; nonce <= 2; ++nonce) {
    const std::string tx =
        SignTx(k().alice, kChainId, MakeTransfer(nonce, AddrOf(k().bob), "CNY", 100));
    ASSERT_EQ(HttpPost(*cli_, "/v1/txs", TxBody(tx)).status, 202);
    hashes.push_back(TxHashHex(TxHash(tx)));
  }
  Tick();
  const int64_t h = node_->chain().Tip().height;
  Tick();
  const std::string path = "/v1/stream?from=" + std::to_string(h) + "&account=" + Addr(k().alice);
  Follower mine(port(), path, SignedReadHeaders(k().alice, path), UntilBlock(h + 1));
  const std::vector<Event> events = mine.Wait();
  ASSERT_EQ(mine.status(), 200);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].id, std::to_string(h) + ":0");
  EXPECT_EQ(events[0].data["num_txs"], 2);
  for (size_t i = 1; i <= 2; ++i) {
    EXPECT_EQ(events[i].type, "tx");
    EXPECT_EQ(events[i].id, std::to_string(h) + ":" + std::to_string(i));
    EXPECT_EQ(events[i].data["hash"], hashes[i - 1]);
    EXPECT_EQ(events[i].data["signer"], Addr(k().alice));
    EXPECT_EQ(events[i].data["code"], 0);
    EXPECT_EQ(events[i].data["op"]["to"], Addr(k().bob)) << events[i].data.dump();
  }
  EXPECT_EQ(events[3].id, std::to_string(h + 1) + ":0");
  // Resumed between the two txs of the block: the second, then the next block.
  Follower resumed(
      port(), path,
      [&] {
        httplib::Headers hs = SignedReadHeaders(k().alice, path);
        hs.emplace("Last-Event-ID", std::to_string(h) + ":1");
        return hs;
      }(),
      UntilBlock(h + 1));
  EXPECT_EQ(Ids(resumed.Wait()),
            (std::vector<std::string>{std::to_string(h) + ":2", std::to_string(h + 1) + ":0"}));
  // Anonymous, or bob (who may not read alice's txs, though he is paid by them): the blocks
  // only; what they may not read names nobody.
  for (const std::string& bob_path :
       {path, "/v1/stream?from=" + std::to_string(h) + "&account=" + Addr(k().bob)}) {
    Follower anonymous(port(), path, {}, UntilBlock(h + 1));
    Follower bob(port(), bob_path, SignedReadHeaders(k().bob, bob_path), UntilBlock(h + 1));
    for (const auto& got : {anonymous.Wait(), bob.Wait()}) {
      ASSERT_EQ(got.size(), 2u);
      EXPECT_EQ(Ids(got),
                (std::vector<std::string>{std::to_string(h) + ":0", std::to_string(h + 1) + ":0"}));
    }
  }
}

TEST_F(StreamTest, BadParametersAreNamed) {
  StartNode(nullptr, "stream-test");
  ASSERT_FALSE(HasFatalFailure());
  auto refused = [&](const std::string& path, const httplib::Headers& h, const std::string& part) {
    Follower f(port(), path, h, UntilCount(1));
    f.Wait();
    EXPECT_EQ(f.status(), 400) << path;
    EXPECT_TRUE(Contains(f.body()["error"].value("message", ""), part)) << f.body().dump();
  };
  refused("/v1/stream?account=v2g1nothing", {}, "account");
  refused("/v1/stream?meter=" + std::string(200, 'm'), {}, "meter");
  refused("/v1/stream?types=block,blocks", {}, "'blocks' is not block, tx or market");
  refused("/v1/stream?types=tx", {}, "tx needs account= or meter=");
  refused("/v1/stream?from=0", {}, "from");
  refused("/v1/stream", {{"Last-Event-ID", "7"}}, "Last-Event-ID");
  refused("/v1/stream", {{"Last-Event-ID", "7:x"}}, "Last-Event-ID index");
}

TEST_F(StreamTest, StreamsBeyondTheirSlotsGet503) {
  limits_.stream_slots = 1;
  StartNode(nullptr, "stream-test");
  ASSERT_FALSE(HasFatalFailure());
  // The one slot, held by a stream waiting for its next block: a second stream gets 503.
  Follower holder(port(), "/v1/stream", {}, UntilCount(1));
  ASSERT_TRUE(holder.WaitStarted());
  EXPECT_EQ(api_->Load().streams, 1);
  HttpReply busy = Get("/v1/stream");
  EXPECT_EQ(busy.status, 503) << busy.raw;
  EXPECT_TRUE(Contains(busy.raw, "stream slots")) << busy.raw;
  Tick();
  EXPECT_EQ(holder.Wait().size(), 1u);
}

// Events of a block that together pass a piece, then one larger than a piece: each goes out
// whole, alone when it does not fit beside the others (before: the piece was checked only after
// an event was added, and a block of large txs passed the writer's bound and aborted the node).
TEST_F(StreamTest, LargeEventsGoOutWholeOneAfterAnother) {
  constexpr int64_t kT0 = kGenesisTimeMs / 1000;
  constexpr char kMeter[] = "ch-bob";
  const KeyPair device = Key(30);
  StartNode(nullptr, "stream-test");
  ASSERT_FALSE(HasFatalFailure());
  RunOk(k().alice, MakeTransfer(0, AddrOf(k().bob), "CNY", 10000));  // bob's fees
  RunOk(k().issuer,
        MakeRegisterMeter(0, kChainId, AddrOf(k().issuer), kMeter, device, pb::METER_KIND_CHARGER,
                          "Z1", AddrOf(k().bob), 20000, 20000, 0));
  // Batches of two-second readings from the next whole hour, all in one settlement interval (an
  // earlier one would have settled by the block), in one block: three of 70, then one of 140.
  const int64_t s0 = (kT0 / 3600 + 2) * 3600;
  const std::vector<int> batches = {70, 70, 70, 140};
  const int total = 350;
  Approach(s0 + 2 * total + 1);
  int n = 0;
  for (size_t b = 0; b < batches.size(); ++b) {
    std::vector<pb::MeterReading> rs;
    for (int i = 0; i < batches[b]; ++i, ++n) {
      rs.push_back(SignedReading(device, kMeter, static_cast<uint64_t>(n + 1), s0 + 2 * n,
                                 s0 + 2 * (n + 1), n, 0));
    }
    const std::string tx =
        SignTx(k().bob, kChainId, MakeSubmitReadings(static_cast<uint64_t>(b + 1), rs));
    HttpReply r = HttpPost(*cli_, "/v1/txs", TxBody(tx));
    ASSERT_EQ(r.status, 202) << r.raw;
  }
  Tick(s0 + 2 * total + 1);
  const int64_t h = node_->chain().Tip().height;
  const std::string path = "/v1/stream?from=" + std::to_string(h) + "&types=tx&meter=" + kMeter;
  Follower f(port(), path, {}, UntilCount(batches.size()));  // private_reads off: all of it
  const std::vector<Event> events = f.Wait();
  ASSERT_EQ(events.size(), batches.size());
  for (size_t b = 0; b < batches.size(); ++b) {
    const Event& e = events[b];
    EXPECT_EQ(e.id, std::to_string(h) + ":" + std::to_string(b));
    EXPECT_EQ(e.data["code"], 0) << e.data.dump().substr(0, 500);
    EXPECT_EQ(e.data["op"]["readings"].size(), static_cast<size_t>(batches[b]));
    const size_t size = e.data.dump().size();
    // Two of the first three pass a piece together (and the 4 KiB the writer once allowed past
    // it); the last passes a piece alone.
    EXPECT_GT(size, b + 1 < batches.size() ? limits::kStreamPieceBytesMax / 2 + 4096
                                           : limits::kStreamPieceBytesMax)
        << "event " << b;
  }
}

// A meter's transfer names its new owner by an address made from the public key in the tx: a
// stream of the new owner's account has it.
TEST_F(StreamTest, AMeterTransferIsATxOfItsNewOwner) {
  StartNode(nullptr, "stream-test");
  ASSERT_FALSE(HasFatalFailure());
  RunOk(k().alice, MakeTransfer(0, AddrOf(k().bob), "CNY", 10000));  // bob's fees
  RunOk(k().issuer,
        MakeRegisterMeter(0, kChainId, AddrOf(k().issuer), "ev-bob", Key(30),
                          pb::METER_KIND_VEHICLE, "Z1", AddrOf(k().bob), 20000, 20000, 60000));
  json moved = RunOk(k().bob, MakeTransferMeter(Nonce(node_->store().state(), k().bob) + 1,
                                                kChainId, "ev-bob", AddrOf(k().bob), k().carol));
  const int64_t h = moved["height"].get<int64_t>();
  const std::string path =
      "/v1/stream?from=" + std::to_string(h) + "&types=tx&account=" + Addr(k().carol);
  Follower f(port(), path, {}, UntilCount(1));
  const std::vector<Event> events = f.Wait();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data["hash"], moved["hash"]);
  EXPECT_EQ(events[0].data["op"]["new_owner"], Addr(k().carol)) << events[0].data.dump();
}

// The markets a block cleared and settled, as events, and the chain's market counters (GET
// /metrics) with them.
TEST_F(StreamTest, MarketsClearedAndSettledAreEventsOfTheirBlocks) {
  constexpr int64_t kT0 = kGenesisTimeMs / 1000, kLen = 900, kGate = 300, kGrace = 300;
  constexpr int64_t kS = kT0 + 3600;
  constexpr char kMeter[] = "ch-bob";
  const KeyPair device = Key(30);
  StartNode(EnableMarket, "stream-test");
  ASSERT_FALSE(HasFatalFailure());
  RunOk(k().alice, MakeTransfer(0, AddrOf(k().bob), "CNY", 10000));
  RunOk(k().issuer,
        MakeRegisterMeter(0, kChainId, AddrOf(k().issuer), kMeter, device, pb::METER_KIND_CHARGER,
                          "Z1", AddrOf(k().bob), 20000, 20000, 0));
  RunOk(k().alice, MakePlaceOrder(0, pb::SIDE_BUY, "Z1", kS, 2000, 100, ""));
  RunOk(k().bob, MakePlaceOrder(0, pb::SIDE_SELL, "Z1", kS, 2000, 90, kMeter));
  Tick(kS - kGate);
  const int64_t cleared_at = node_->chain().Tip().height;
  std::vector<pb::MeterReading> rs = {SignedReading(device, kMeter, 1, kS, kS + 1, 0, 0),
                                      SignedReading(device, kMeter, 2, kS + 1, kS + kLen, 0, 2000)};
  Approach(kS + kLen + 1);
  RunOk(k().bob, MakeSubmitReadings(0, rs), kS + kLen + 1);
  Tick(kS + kLen + kGrace);
  const int64_t settled_at = node_->chain().Tip().height;

  Follower f(port(), "/v1/stream?from=1&types=market", {}, UntilCount(2));
  const std::vector<Event> events = f.Wait();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "market_cleared");
  EXPECT_EQ(events[0].id, std::to_string(cleared_at) + ":0");
  EXPECT_EQ(events[0].data["zone"], "Z1");
  EXPECT_EQ(events[0].data["interval_start_s"], kS);
  EXPECT_EQ(events[0].data["cleared_energy_wh"], 2000) << events[0].data.dump();
  EXPECT_EQ(events[1].type, "market_settled");
  EXPECT_EQ(events[1].id, std::to_string(settled_at) + ":0");
  EXPECT_EQ(events[1].data["delivered_energy_wh"], 2000) << events[1].data.dump();

  // With blocks too, each block event says how many market events follow it (a follower knows
  // the block is complete without waiting for the next), and only with markets asked for.
  Follower both(port(), "/v1/stream?from=1&types=block,market", {},
                [&](const std::vector<Event>& got) {
                  return !got.empty() && got.back().type == "market_settled";
                });
  int64_t announced = 0, market_events = 0;
  for (const Event& e : both.Wait()) {
    if (e.type == "block") {
      ASSERT_TRUE(e.data.contains("market_events")) << e.data.dump();
      const int64_t h = e.data["height"].get<int64_t>();
      EXPECT_EQ(e.data["market_events"], h == cleared_at || h == settled_at ? 1 : 0)
          << "block " << h;
      EXPECT_EQ(e.data["time_ms"].is_number_integer(), true) << e.data.dump();
      announced += e.data["market_events"].get<int64_t>();
    } else {
      ++market_events;
    }
  }
  EXPECT_EQ(announced, 2);
  EXPECT_EQ(market_events, 2);
  Follower blocks_only(port(), "/v1/stream?from=1&types=block", {}, UntilCount(1));
  const std::vector<Event> one = blocks_only.Wait();
  ASSERT_EQ(one.size(), 1u);
  EXPECT_FALSE(one[0].data.contains("market_events")) << one[0].data.dump();

  const ChainMetrics& m = node_->chain().metrics();
  EXPECT_EQ(m.market_clearings.Value(), 1u);
  EXPECT_EQ(m.market_trades.Value(), 1u);
  EXPECT_EQ(m.market_cleared_wh.Value(), 2000u);
  EXPECT_EQ(m.market_settlements.Value(), 1u);
  EXPECT_EQ(m.market_delivered_wh.Value(), 2000u);
}

}  // namespace
}  // namespace v2g::nodetest
