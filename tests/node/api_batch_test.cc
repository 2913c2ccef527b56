// POST /v1/txs/batch over a real Store, Chain and Mempool on 127.0.0.1 (port 0), nothing committing
// unless a test commits a block: each tx of a batch gets the verdict POST /v1/txs would give it,
// in order, only the admitted ones enter the mempool, a bad batch as a whole gets a named error,
// the worst batches cost what their txs cost one by one (counted in signature verifications), and
// batches run on their own threads, never holding the workers that single txs and reads use.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/crypto.h"
#include "common/limits.h"
#include "node/api/api.h"
#include "tests/node/node_test_util.h"

namespace v2g::nodetest {
namespace {

using json = nlohmann::json;

class ApiBatchTest : public ::testing::Test {
 protected:
  // `limits` may shrink the batch pool; `before_handler` runs on the handler's thread first.
  void StartNode(ApiLimits limits = {},
                 std::function<void(const httplib::Request&)> before_handler = nullptr) {
    node_ = std::make_unique<ManualNode>(MempoolLimits{1000, 16 << 20, 100});
    ASSERT_FALSE(HasFatalFailure());
    ApiContext ctx;
    ctx.private_reads = false;  // every record, as the operator's tools read it (access.h)
    ctx.store = &node_->store();
    ctx.chain = &node_->chain();
    ctx.mempool = &node_->mempool();
    ctx.chain_id = kChainId;
    ctx.moniker = "api-batch-test";
    ctx.threads = 1;
    ctx.limits = limits;
    ctx.before_handler = std::move(before_handler);
    api_ = std::make_unique<ApiServer>(ctx);
    Status st = api_->Start("127.0.0.1", 0);
    ASSERT_TRUE(st.ok()) << st.ToString();
    cli_ = MakeClient(api_->port());
  }
  void TearDown() override {
    cli_.reset();
    if (api_) api_->Stop();
    api_.reset();
    node_.reset();
  }

  const TestKeys& k() const { return node_->keys(); }
  HttpReply Post(const std::string& path, const std::string& body) {
    return HttpPost(*cli_, path, body);
  }
  static std::string BatchBody(const std::vector<std::string>& txs) {
    json list = json::array();
    for (const auto& tx : txs) list.push_back(HexEncode(tx));
    return json{{"txs", list}}.dump();
  }
  // `tx` with one bit of its signature flipped: decodes, passes every policy check, fails verify.
  static std::string Forged(const std::string& tx) {
    pb::Tx t;
    EXPECT_TRUE(t.ParseFromString(tx));
    std::string sig = t.signature();
    sig[5] = static_cast<char>(sig[5] ^ 0x04);
    t.set_signature(sig);
    return Encode(t);
  }
  static void ExpectError(const HttpReply& r, int http_status, Code code,
                          const std::string& message_part) {
    EXPECT_EQ(r.status, http_status) << r.raw;
    ASSERT_TRUE(r.body.is_object() && r.body.contains("error")) << r.raw;
    EXPECT_EQ(r.body["error"].value("code", ""), std::string(CodeName(code))) << r.raw;
    EXPECT_TRUE(Contains(r.body["error"].value("message", ""), message_part));
  }
  static void ExpectRefused(const json& v, size_t index, Code code,
                            const std::string& message_part) {
    EXPECT_EQ(v["index"], index) << v;
    EXPECT_EQ(v.value("code", ""), std::string(CodeName(code))) << v;
    EXPECT_EQ(v.value("code_num", -1), static_cast<int>(code)) << v;
    EXPECT_TRUE(Contains(v.value("message", ""), message_part)) << v;
    EXPECT_FALSE(v.contains("status")) << v;
  }

  std::unique_ptr<ManualNode> node_;
  std::unique_ptr<ApiServer> api_;
  std::unique_ptr<httplib::Client> cli_;
};

TEST_F(ApiBatchTest, MixedBatchGetsOneVerdictPerTxInOrderAndOnlyTheGoodOnesAreAdmitted) {
  StartNode();
  ASSERT_FALSE(HasFatalFailure());
  const std::string a1 = Transfer(k().alice, 1, k().bob, "CNY", 100);
  const std::string a2 = Transfer(k().alice, 2, k().bob, "CNY", 200);
  const std::string forged = Forged(Transfer(k().alice, 2, k().bob, "CNY", 999));
  const std::string gap = Transfer(k().alice, 5, k().bob, "CNY", 1);
  const std::string other_chain = Transfer(k().alice, 3, k().bob, "CNY", 1, "v2g-elsewhere");
  json list = json::array({HexEncode(a1), HexEncode(forged), HexEncode(a1), HexEncode(gap), "zz",
                           12, HexEncode(a2), HexEncode(other_chain)});
  HttpReply r = Post("/v1/txs/batch", json{{"txs", list}}.dump());
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["admitted"], 2);
  EXPECT_EQ(r.body["refused"], 6);
  const json& v = r.body["results"];
  ASSERT_EQ(v.size(), 8u) << r.raw;
  EXPECT_EQ(v[0], json({{"index", 0}, {"hash", TxHashHex(TxHash(a1))}, {"status", "pending"}}));
  ExpectRefused(v[1], 1, Code::kBadSignature, "signature");
  EXPECT_EQ(v[1]["hash"], TxHashHex(TxHash(forged)));
  ExpectRefused(v[2], 2, Code::kDuplicate, "already in the mempool");
  EXPECT_EQ(v[2]["hash"], TxHashHex(TxHash(a1)));
  ExpectRefused(v[3], 3, Code::kNonceGap, "next is 2");  // a1 is pending: the next nonce is 2
  ExpectRefused(v[4], 4, Code::kMalformed, "txs[4]");
  EXPECT_TRUE(v[4]["hash"].is_null());
  ExpectRefused(v[5], 5, Code::kInvalidArgument, "txs[5] is not a hex string");
  EXPECT_TRUE(v[5]["hash"].is_null());
  // A refusal does not stop the rest: a2 comes after five of them and is admitted.
  EXPECT_EQ(v[6], json({{"index", 6}, {"hash", TxHashHex(TxHash(a2))}, {"status", "pending"}}));
  ExpectRefused(v[7], 7, Code::kWrongChainId, "v2g-elsewhere");

  // The same verdicts as the single endpoint gives (the forged one again: its verdict is cached).
  HttpReply single = Post("/v1/txs", TxBody(forged));
  EXPECT_EQ(single.body["error"]["code"], v[1]["code"]);
  EXPECT_EQ(single.body["error"]["message"], v[1]["message"]);

  EXPECT_EQ(node_->mempool().Stats().txs, 2);
  EXPECT_TRUE(node_->mempool().Contains(TxHash(a1)));
  EXPECT_TRUE(node_->mempool().Contains(TxHash(a2)));
  EXPECT_FALSE(node_->mempool().Contains(TxHash(forged)));
  // Both commit, in order, and nothing else does.
  ASSERT_TRUE(node_->CommitNext().ok());
  EXPECT_EQ(Nonce(node_->store().state(), k().alice), 2u);
  EXPECT_EQ(Balance(node_->store().state(), k().bob, "CNY"), 300);
  HttpReply t = HttpGet(*cli_, "/v1/txs/" + TxHashHex(TxHash(a2)));
  EXPECT_EQ(t.body["status"], "committed") << t.raw;
  // Committed txs sent again are refused as such.
  HttpReply again = Post("/v1/txs/batch", BatchBody({a1}));
  ASSERT_EQ(again.status, 200) << again.raw;
  ExpectRefused(again.body["results"][0], 0, Code::kDuplicate, "already committed");
}

TEST_F(ApiBatchTest, BadBatchesAsAWholeGetNamedErrorsAndAdmitNothing) {
  StartNode();
  ASSERT_FALSE(HasFatalFailure());
  const std::string a1 = Transfer(k().alice, 1, k().bob, "CNY", 100);
  ExpectError(Post("/v1/txs/batch", ""), 400, Code::kMalformed, "JSON object");
  ExpectError(Post("/v1/txs/batch", R"({"txs": ["00")"), 400, Code::kMalformed, "JSON object");
  ExpectError(Post("/v1/txs/batch", R"(["00"])"), 400, Code::kMalformed, "JSON object");
  ExpectError(Post("/v1/txs/batch", TxBody(a1)), 400, Code::kInvalidArgument, "\"txs\"");
  ExpectError(Post("/v1/txs/batch", R"({"txs": "00"})"), 400, Code::kInvalidArgument, "array");
  ExpectError(Post("/v1/txs/batch", R"({"txs": []})"), 400, Code::kInvalidArgument, "empty");
  ExpectError(Post("/v1/txs/batch?wait=commit", BatchBody({a1})), 400, Code::kInvalidArgument,
              "not offered on batches");
  // One more than the limit, each entry tiny: refused before any is looked at, naming the limit.
  json many = json::array();
  for (int64_t i = 0; i <= limits::kApiBatchTxsMax; ++i) many.push_back("00");
  const std::string too_many = json{{"txs", many}}.dump();
  ASSERT_LT(too_many.size(), limits::kHttpBodyBytesMax);
  ExpectError(Post("/v1/txs/batch", too_many), 413, Code::kTooLarge,
              "limit " + std::to_string(limits::kApiBatchTxsMax));
  // Over the body limit: refused before it is read, naming that limit.
  const std::string hex = HexEncode(a1);
  std::string huge = R"({"txs": [)";
  while (huge.size() <= limits::kHttpBodyBytesMax) huge += "\"" + hex + "\",";
  huge += "\"" + hex + "\"]}";
  ExpectError(Post("/v1/txs/batch", huge), 413, Code::kTooLarge,
              std::to_string(limits::kHttpBodyBytesMax));
  // A GET of the path is a lookup of a malformed hash; other methods are 405.
  ExpectError(HttpGet(*cli_, "/v1/txs/batch"), 400, Code::kInvalidArgument, "64 hex");
  EXPECT_EQ(node_->mempool().Stats().txs, 0);
  // The limit itself is accepted.
  HttpReply ok = Post("/v1/txs/batch", json{{"txs", json::array({hex})}}.dump());
  EXPECT_EQ(ok.status, 200) << ok.raw;
  EXPECT_EQ(node_->mempool().Stats().txs, 1);
}

// The worst batches an attacker can send, counted in what they cost: every forged tx one
// verification (as it would cost on its own), the same forged batch again none (the verdict is
// cached), a batch of duplicates none; and the largest batch of forgeries that fits in a body is
// bounded by the body limit.
TEST_F(ApiBatchTest, WorstBatchesCostWhatTheirTxsCostOneByOne) {
  StartNode();
  ASSERT_FALSE(HasFatalFailure());
  std::vector<std::string> forged;
  size_t body = 16;
  for (uint64_t nonce = 1;; ++nonce) {
    std::string tx = Forged(Transfer(k().alice, 1, k().bob, "CNY", static_cast<int64_t>(nonce)));
    body += 2 * tx.size() + 3;
    if (body > limits::kHttpBodyBytesMax ||
        static_cast<int64_t>(forged.size()) == limits::kApiBatchTxsMax)
      break;
    forged.push_back(std::move(tx));
  }
  ASSERT_GT(forged.size(), 100u);
  const uint64_t before = SigCacheVerifications();
  HttpReply r = Post("/v1/txs/batch", BatchBody(forged));
  ASSERT_EQ(r.status, 200) << r.raw.substr(0, 500);
  EXPECT_EQ(r.body["refused"], forged.size());
  for (const json& v : r.body["results"]) EXPECT_EQ(v["code"], "bad_signature") << v;
  EXPECT_EQ(SigCacheVerifications() - before, forged.size());
  // Again: every verdict is cached.
  const uint64_t second = SigCacheVerifications();
  ASSERT_EQ(Post("/v1/txs/batch", BatchBody(forged)).status, 200);
  EXPECT_EQ(SigCacheVerifications(), second);
  // Duplicates of a pending tx: refused before any verification.
  const std::string a1 = Transfer(k().alice, 1, k().bob, "CNY", 100);
  ASSERT_EQ(Post("/v1/txs", TxBody(a1)).status, 202);
  const uint64_t third = SigCacheVerifications();
  HttpReply d = Post("/v1/txs/batch", BatchBody(std::vector<std::string>(300, a1)));
  ASSERT_EQ(d.status, 200);
  EXPECT_EQ(d.body["refused"], 300);
  EXPECT_EQ(SigCacheVerifications(), third);
  EXPECT_EQ(node_->mempool().Stats().txs, 1);
}

// A batch runs on the batch pool: while one holds the only batch thread (and there is no batch
// queue), another batch gets 503 naming the batch threads, and single txs and reads still go
// through the one worker.
TEST_F(ApiBatchTest, BatchesHaveTheirOwnThreadsAndNeverHoldTheWorkers) {
  std::atomic<bool> hold{true};
  std::atomic<int> held{0};
  ApiLimits limits;
  limits.batch_threads = 1;
  limits.batch_queue_max = 0;
  StartNode(limits, [&](const httplib::Request& req) {
    if (req.path != "/v1/txs/batch") return;
    ++held;
    while (hold.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  });
  ASSERT_FALSE(HasFatalFailure());
  const std::string a1 = Transfer(k().alice, 1, k().bob, "CNY", 100);
  HttpReply first;
  std::thread sender([&] {
    auto c = MakeClient(api_->port());
    first = HttpPost(*c, "/v1/txs/batch", BatchBody({a1}));
  });
  for (int i = 0; i < 1000 && held.load() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(held.load(), 1);
  EXPECT_EQ(api_->Load().batches, 1);
  HttpReply busy = Post("/v1/txs/batch", BatchBody({Transfer(k().carol, 1, k().bob, "CNY", 1)}));
  ExpectError(busy, 503, Code::kUnavailable, "batch threads");
  // The single worker is free for a single tx and a read.
  HttpReply single = Post(
      "/v1/txs", TxBody(SignTx(k().issuer, kChainId, MakeMint(1, AddrOf(k().carol), "CNY", 5))));
  EXPECT_EQ(single.status, 202) << single.raw;
  EXPECT_EQ(HttpGet(*cli_, "/v1/health").status, 200);
  hold = false;
  sender.join();
  EXPECT_EQ(first.status, 200) << first.raw;
  EXPECT_EQ(first.body["admitted"], 1);
}

}  // namespace
}  // namespace v2g::nodetest
