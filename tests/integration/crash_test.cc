// kill -9 of a real v2gd during a stream of transfers, then restart: the node resumes from its
// last committed height, every tx the API reported committed is still there with the same
// height, balances sum to minted - burned, it keeps committing, and verify-chain passes.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "common/amount.h"
#include "common/bech32.h"
#include "tests/integration/harness.h"
#include "wallet/tx_builder.h"

namespace v2g {
namespace {

using testing::HttpGet;
using testing::HttpPost;
using testing::Process;
using json = nlohmann::json;

const std::string kV2gd = V2GD_PATH;
const std::string kChain = "v2g-crash-test";

struct Sender {
  KeyPair key = KeyPair::Generate();
  Address address() const { return AddressFromPublicKey(key.public_key()); }
};

json PostTx(int port, const std::string& tx, bool wait) {
  auto r = HttpPost(port, wait ? "/v1/txs?wait=commit&timeout_ms=5000" : "/v1/txs", {{"tx", HexEncode(tx)}});
  json out = r.body;
  if (!out.is_object()) out = json::object();
  out["http_status"] = r.status;
  return out;
}

uint64_t NextNonce(int port, const Address& a) {
  auto r = HttpGet(port, "/v1/accounts/" + EncodeAddress(a));
  EXPECT_EQ(r.status, 200);
  return std::stoull(r.body["next_nonce"].get<std::string>());
}

int64_t BalanceOf(int port, const Address& a, const std::string& denom) {
  auto r = HttpGet(port, "/v1/accounts/" + EncodeAddress(a));
  EXPECT_EQ(r.status, 200);
  for (const auto& b : r.body["balances"]) {
    if (b["denom"] == denom) return std::stoll(b["amount"].get<std::string>());
  }
  return 0;
}

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitCrypto();
    port_ = testing::FreeTestnetBasePort(1);
    home_ = dir_.path() + "/node0";
    auto r = testing::Run({kV2gd, "testnet", "--open-reads", "--validators", "1", "--output", dir_.path(), "--chain-id", kChain,
                           "--issuer", EncodeAddress(issuer_.address()), "--base-port", std::to_string(port_),
                           "--block-interval-ms", "150", "--fee-min", "0"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  std::unique_ptr<Process> StartNode() {
    auto p = std::make_unique<Process>(std::vector<std::string>{kV2gd, "start", "--home", home_}, dir_.path() + "/node.log");
    EXPECT_TRUE(testing::WaitHealthy(port_, 15000)) << testing::ReadFileOrEmpty(dir_.path() + "/node.log");
    return p;
  }

  int64_t Height() {
    auto r = HttpGet(port_, "/v1/status");
    return r.status == 200 ? r.body["latest_height"].get<int64_t>() : -1;
  }

  testing::TempDir dir_;
  int port_ = 0;
  std::string home_;
  Sender issuer_;
};

TEST_F(CrashTest, Kill9DuringTransfersLosesNothing) {
  constexpr int kSenders = 4;
  constexpr int kCycles = 3;
  std::vector<Sender> senders(kSenders);
  std::vector<Sender> receivers(3);
  auto node = StartNode();

  // Fund the senders (one mint each, waited for).
  uint64_t issuer_nonce = 1;
  for (auto& s : senders) {
    json r = PostTx(port_, SignTx(issuer_.key, kChain, MakeMint(issuer_nonce++, s.address(), "CNY", 1'000'000)), true);
    ASSERT_EQ(r["status"], "committed") << r.dump();
    ASSERT_EQ(r["code"], 0) << r.dump();
  }

  std::map<std::string, int64_t> reported;  // tx hash -> height the API reported it committed at
  std::mutex reported_mu;
  std::mt19937_64 rng(20261126);
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < kSenders; ++i) {
      uint64_t start_nonce = NextNonce(port_, senders[i].address());
      threads.emplace_back([&, i, start_nonce] {
        uint64_t nonce = start_nonce;
        // Two of the senders wait for commit on every tx; the others stream without waiting and
        // record what a later query reports committed.
        const bool wait = i % 2 == 0;
        std::vector<std::string> unconfirmed;
        while (!stop) {
          const Address& to = receivers[(nonce + static_cast<uint64_t>(i)) % receivers.size()].address();
          std::string tx = SignTx(senders[i].key, kChain, MakeTransfer(nonce, to, "CNY", 1 + static_cast<int64_t>(nonce % 7)));
          json r = PostTx(port_, tx, wait);
          if (r["http_status"] == 0) break;  // node is gone
          if (r["http_status"] != 200 && r["http_status"] != 202) break;
          ++nonce;
          std::string hash = r["hash"];
          if (r["status"] == "committed") {
            std::lock_guard<std::mutex> lock(reported_mu);
            reported[hash] = r["height"];
          } else if (!wait) {
            unconfirmed.push_back(hash);
            if (unconfirmed.size() >= 20) {  // ask the API which have committed
              for (const auto& h : unconfirmed) {
                auto q = HttpGet(port_, "/v1/txs/" + h);
                if (q.status == 200 && q.body["status"] == "committed") {
                  std::lock_guard<std::mutex> lock(reported_mu);
                  reported[h] = q.body["height"];
                }
              }
              unconfirmed.clear();
            }
          }
        }
      });
    }
    // Kill mid-stream: once this cycle has seen at least 20 more txs committed (however slow the
    // machine is), plus a random extra moment so the kill lands at varying points of a block.
    size_t want;
    {
      std::lock_guard<std::mutex> lock(reported_mu);
      want = reported.size() + 20;
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> lock(reported_mu);
        if (reported.size() >= want) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 400));
    int64_t height_before = Height();
    node->Signal(SIGKILL);
    ASSERT_EQ(node->Wait(10000), 128 + SIGKILL);
    stop = true;
    for (auto& t : threads) t.join();
    ASSERT_GT(height_before, 0);

    node = StartNode();
    int64_t height_after = Height();
    EXPECT_GE(height_after, height_before) << "restarted below a height it had reported";
    {
      std::lock_guard<std::mutex> lock(reported_mu);
      ASSERT_GE(reported.size(), want) << "the stream did not get going before the kill";
      std::printf("cycle %d: killed at height >= %lld, %zu txs reported committed so far\n", cycle,
                  static_cast<long long>(height_before), reported.size());
      for (const auto& [hash, height] : reported) {
        auto q = HttpGet(port_, "/v1/txs/" + hash);
        ASSERT_EQ(q.status, 200) << "tx " << hash << " reported committed at " << height << " is gone";
        EXPECT_EQ(q.body["status"], "committed");
        EXPECT_EQ(q.body["height"], height) << hash;
        EXPECT_EQ(q.body["code"], 0) << q.body.dump();
      }
    }
    // Conservation over every account that can hold CNY.
    int64_t sum = BalanceOf(port_, issuer_.address(), "CNY");
    for (auto& s : senders) sum += BalanceOf(port_, s.address(), "CNY");
    for (auto& r : receivers) sum += BalanceOf(port_, r.address(), "CNY");
    auto denoms = HttpGet(port_, "/v1/denoms");
    ASSERT_EQ(denoms.status, 200);
    int64_t supply = -1;
    for (const auto& d : denoms.body["denominations"]) {
      if (d["name"] == "CNY") supply = std::stoll(d["supply"].get<std::string>());
    }
    EXPECT_EQ(supply, kSenders * 1'000'000);
    EXPECT_EQ(sum, supply);
    // And it keeps committing: the chain grows and a fresh transfer commits.
    uint64_t n = NextNonce(port_, senders[1].address());
    json r = PostTx(port_, SignTx(senders[1].key, kChain, MakeTransfer(n, receivers[0].address(), "CNY", 5)), true);
    EXPECT_EQ(r["status"], "committed") << r.dump();
    EXPECT_EQ(r["code"], 0) << r.dump();
    EXPECT_GT(Height(), height_after);
  }

  node->Signal(SIGTERM);
  ASSERT_EQ(node->Wait(15000), 0) << testing::ReadFileOrEmpty(dir_.path() + "/node.log");
  auto verify = testing::Run({kV2gd, "verify-chain", "--home", home_});
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_NE(verify.output.find("chain verified"), std::string::npos) << verify.output;
}

TEST_F(CrashTest, RefusesSecondInstanceOnSameHome) {
  auto node = StartNode();
  auto second = testing::Run({kV2gd, "start", "--home", home_});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.output.find("cannot open database"), std::string::npos) << second.output;
  EXPECT_TRUE(node->Running());
}

// SIGTERM while a client waits for a commit that cannot come (one of two validators is up: the
// chain cannot move): the node answers the wait and stops at once. It used to wait out the
// request's timeout_ms (up to 60 s) first (found by the fault harness: its full-disk node took
// seconds to stop).
TEST(StopTest, AStopDoesNotWaitOutAClientsCommitWait) {
  InitCrypto();
  testing::TempDir dir;
  const int port = testing::FreeTestnetBasePort(2);
  Sender issuer;
  auto r = testing::Run({kV2gd, "testnet", "--open-reads", "--validators", "2", "--output", dir.path(), "--chain-id", kChain,
                         "--issuer", EncodeAddress(issuer.address()), "--base-port", std::to_string(port),
                         "--fee-min", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string log = dir.path() + "/node0.log";
  Process node({kV2gd, "start", "--home", dir.path() + "/node0"}, log);
  ASSERT_TRUE(testing::WaitHealthy(port, 15000)) << testing::ReadFileOrEmpty(log);
  const std::string tx = SignTx(issuer.key, kChain, MakeMint(1, Sender().address(), "CNY", 1));
  std::atomic<bool> answered{false};
  std::thread waiter([&] {
    HttpPost(port, "/v1/txs?wait=commit&timeout_ms=60000", {{"tx", HexEncode(tx)}});
    answered = true;
  });
  // The tx is in the mempool (admitted) and its wait has begun.
  auto pending = [&]() -> int64_t {
    const json b = HttpGet(port, "/v1/status").body;
    return b.is_object() && b.contains("mempool") ? b["mempool"].value("txs", int64_t{0}) : 0;
  };
  for (int i = 0; i < 100 && pending() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_FALSE(answered.load()) << "the chain committed with one of two validators?";
  const auto start = std::chrono::steady_clock::now();
  node.Signal(SIGTERM);
  auto code = node.Wait(20000);
  const auto took = std::chrono::steady_clock::now() - start;
  waiter.join();
  ASSERT_TRUE(code.has_value()) << "still running 20 s after SIGTERM";
  EXPECT_EQ(*code, 0) << testing::ReadFileOrEmpty(log);
  EXPECT_LT(took, std::chrono::seconds(10)) << "the stop waited for the client's wait";
}

}  // namespace
}  // namespace v2g
