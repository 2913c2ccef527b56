// HTTP API /v1 over a real Store, Chain, Mempool and BftEngine on 127.0.0.1 (port 0). Every bad
// request gets the documented status and {"error": {"code", "code_num", "message"}} naming the
// problem, and changes nothing on the chain; the read endpoints show what was committed.
#include "node/api/api.h"

#include <gtest/gtest.h>

#include "common/amount.h"
#include "common/limits.h"
#include "common/time.h"
#include "node/bft/bft.h"
#include "tests/node/node_test_util.h"

namespace v2g::nodetest {
namespace {

using json = nlohmann::json;

class ApiTest : public ::testing::Test {
 protected:
  // `run_engine` false: nothing commits, so pending states and timeouts are deterministic.
  void StartNode(bool run_engine, MempoolLimits limits = {1000, 16 << 20, 100}) {
    node_ = std::make_unique<ManualNode>(limits);
    ASSERT_FALSE(HasFatalFailure());
    if (run_engine) {
      BftConfig bc;
      bc.chain_id = kChainId;
      bc.my_address = AddressBytes(AddrOf(k().validator));
      bc.block_interval_ms = 20;
      bc.create_empty_blocks = false;  // blocks only when there are txs: states stay predictable
      bc.wal_path = node_->wal_path();
      engine_ = std::make_unique<BftEngine>(bc, node_->chain(), node_->store(), node_->mempool(), &node_->signer(),
                                            clock_, net_);
      ASSERT_TRUE(engine_->Start().ok());
    }
    ApiContext ctx;
    ctx.private_reads = false;  // every record, as the operator's tools read it (access.h)
    ctx.store = &node_->store();
    ctx.chain = &node_->chain();
    ctx.mempool = &node_->mempool();
    ctx.engine = engine_.get();
    ctx.chain_id = kChainId;
    ctx.moniker = "api-test";
    ctx.node_id = HexEncode(k().validator_node.public_key());
    ctx.validator_address = EncodeAddress(AddrOf(k().validator));
    ctx.threads = 4;
    api_ = std::make_unique<ApiServer>(ctx);
    Status st = api_->Start("127.0.0.1", 0);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_GT(api_->port(), 0);
    cli_ = MakeClient(api_->port());
  }
  void TearDown() override {
    cli_.reset();
    if (api_) api_->Stop();
    if (engine_) engine_->Stop();
    api_.reset();
    engine_.reset();
    node_.reset();
  }

  const TestKeys& k() const { return keys_; }
  HttpReply Get(const std::string& path) { return HttpGet(*cli_, path); }
  HttpReply Post(const std::string& path, const std::string& body) { return HttpPost(*cli_, path, body); }
  static std::string Addr(const KeyPair& key) { return EncodeAddress(AddrOf(key)); }

  static void ExpectError(const HttpReply& r, int http_status, Code code, const std::string& message_part) {
    EXPECT_EQ(r.status, http_status) << r.raw;
    EXPECT_EQ(r.content_type, "application/json");
    ASSERT_TRUE(r.body.is_object() && r.body.contains("error") && r.body["error"].is_object()) << r.raw;
    const json& e = r.body["error"];
    EXPECT_EQ(e.value("code", ""), std::string(CodeName(code))) << r.raw;
    EXPECT_EQ(e.value("code_num", -1), static_cast<int>(code)) << r.raw;
    ASSERT_TRUE(e.contains("message") && e["message"].is_string()) << r.raw;
    EXPECT_TRUE(Contains(e["message"].get<std::string>(), message_part));
  }

  // Alice as genesis made her, seen through the API and the store; nothing in the pool and no
  // block (the engine only makes blocks when there are txs).
  void ExpectGenesisState() {
    HttpReply a = Get("/v1/accounts/" + Addr(k().alice));
    ASSERT_EQ(a.status, 200) << a.raw;
    EXPECT_EQ(a.body["nonce"], "0");
    EXPECT_EQ(a.body["next_nonce"], "1");
    EXPECT_EQ(a.body["balances"], json::parse(R"([{"denom":"CNY","amount":"100000","display":"1000.00"},
                                                  {"denom":"PTS","amount":"50","display":"50"}])"));
    HttpReply b = Get("/v1/accounts/" + Addr(k().bob));
    ASSERT_EQ(b.status, 200) << b.raw;
    EXPECT_EQ(b.body["nonce"], "0");
    EXPECT_EQ(b.body["balances"], json::array());
    EXPECT_EQ(Nonce(node_->store().state(), k().alice), 0u);
    EXPECT_EQ(Balance(node_->store().state(), k().alice, "CNY"), kAliceCny);
    EXPECT_EQ(node_->mempool().Stats().txs, 0);
    EXPECT_EQ(node_->store().Height(), 0);
  }

  TestKeys keys_;
  SystemClock clock_;
  std::unique_ptr<ManualNode> node_;
  // A single validator needs no peers: its network goes nowhere.
  struct NoNetwork : ConsensusNetwork {
    void Broadcast(uint8_t, std::string) override {}
    bool Send(const PublicKey&, uint8_t, std::string) override { return false; }
  } net_;
  std::unique_ptr<BftEngine> engine_;
  std::unique_ptr<ApiServer> api_;
  std::unique_ptr<httplib::Client> cli_;
};

// ------------------------------------------------------------------------------- bad requests

TEST_F(ApiTest, RejectedSubmissionsAnswerWithNamedErrorsAndChangeNothing) {
  StartNode(/*run_engine=*/true);
  ASSERT_FALSE(HasFatalFailure());

  ExpectError(Post("/v1/txs", R"({"tx": "00)"), 400, Code::kMalformed, "JSON object");
  ExpectError(Post("/v1/txs", "[1, 2]"), 400, Code::kMalformed, "JSON object");
  ExpectError(Post("/v1/txs", ""), 400, Code::kMalformed, "JSON object");
  ExpectError(Post("/v1/txs", R"({"transaction": "00"})"), 400, Code::kInvalidArgument, "\"tx\"");
  ExpectError(Post("/v1/txs", R"({"tx": 12})"), 400, Code::kInvalidArgument, "\"tx\"");
  ExpectError(Post("/v1/txs", R"({"tx": "zz"})"), 400, Code::kMalformed, "field \"tx\"");
  ExpectError(Post("/v1/txs", R"({"tx": "abc"})"), 400, Code::kMalformed, "field \"tx\"");
  ExpectError(Post("/v1/txs", R"({"tx": ""})"), 400, Code::kMalformed, "signer_pubkey");
  ExpectError(Post("/v1/txs", R"({"tx": "0a0b0c"})"), 400, Code::kMalformed, "canonically encoded");

  const std::string good = Transfer(k().alice, 1, k().bob, "CNY", 1250);
  ExpectError(Post("/v1/txs", TxBody(Transfer(k().alice, 1, k().bob, "CNY", 1250, "v2g-elsewhere"))), 400,
              Code::kWrongChainId, "v2g-elsewhere");
  {
    pb::Tx tx;
    ASSERT_TRUE(tx.ParseFromString(good));
    std::string sig = tx.signature();
    sig[5] = static_cast<char>(sig[5] ^ 0x04);
    tx.set_signature(sig);
    ExpectError(Post("/v1/txs", TxBody(Encode(tx))), 400, Code::kBadSignature, "signature");
  }
  {
    // Fits in an HTTP body, but the tx itself is over tx_bytes_max.
    pb::TxBody body = MakeTransfer(1, AddrOf(k().bob), "CNY", 1250);
    body.set_memo(std::string(limits::kTxBytesDefault + 100, 'm'));
    std::string big = SignTx(k().alice, kChainId, body);
    ASSERT_LT(TxBody(big).size(), limits::kHttpBodyBytesMax);
    ExpectError(Post("/v1/txs", TxBody(big)), 413, Code::kTooLarge, "limit " + std::to_string(limits::kTxBytesDefault));
  }
  {
    // Over the HTTP body limit: refused before it is parsed.
    std::string huge = R"({"tx": ")" + std::string(limits::kHttpBodyBytesMax + 1000, 'a') + R"("})";
    ExpectError(Post("/v1/txs", huge), 413, Code::kTooLarge, "too large");
  }
  ExpectError(Post("/v1/txs", TxBody(Transfer(k().alice, 2, k().bob, "CNY", 1))), 400, Code::kNonceGap, "next is 1");
  ExpectError(Post("/v1/txs", TxBody(Transfer(k().alice, 1, k().bob, "CNY", kAliceCny + 1))), 400,
              Code::kInsufficientFunds, "needs 1000.01 CNY to transfer and has 1000.00 CNY");
  ExpectError(Post("/v1/txs", TxBody(Transfer(k().alice, 1, k().bob, "EUR", 1))), 400, Code::kUnknownDenom, "EUR");
  ExpectError(Post("/v1/txs", TxBody(SignTx(k().alice, kChainId, MakeMint(1, AddrOf(k().alice), "CNY", 1)))), 400,
              Code::kUnauthorized, "not the issuer");
  ExpectError(Post("/v1/txs?wait=maybe", TxBody(good)), 400, Code::kInvalidArgument, "wait");
  ExpectError(Post("/v1/txs?wait=commit&timeout_ms=-5", TxBody(good)), 400, Code::kInvalidArgument, "timeout_ms");
  ExpectError(Post("/v1/txs?wait=commit&timeout_ms=600000", TxBody(good)), 400, Code::kInvalidArgument,
              "between 0 and 60000");

  ExpectGenesisState();
  // The server is still healthy after all that.
  HttpReply h = Get("/v1/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body["status"], "ok");
}

TEST_F(ApiTest, BadReadRequestsAnswerWithNamedErrors) {
  StartNode(/*run_engine=*/true);
  ASSERT_FALSE(HasFatalFailure());

  HttpReply unknown = Get("/v1/nope");
  ExpectError(unknown, 404, Code::kNotFound, "no route GET /v1/nope");
  ExpectError(Get("/v2"), 404, Code::kNotFound, "no route");
  ExpectError(Post("/v1/nope", "{}"), 404, Code::kNotFound, "no route POST /v1/nope");

  ExpectError(Get("/v1/blocks/abc"), 400, Code::kInvalidArgument, "height must be a non-negative integer, got 'abc'");
  ExpectError(Get("/v1/blocks/-1"), 400, Code::kInvalidArgument, "got '-1'");
  ExpectError(Get("/v1/blocks/0"), 400, Code::kInvalidArgument, "height must be between 1");
  ExpectError(Get("/v1/blocks/1.5"), 400, Code::kInvalidArgument, "height");
  ExpectError(Get("/v1/blocks/99999999999999999999"), 400, Code::kInvalidArgument, "height");
  ExpectError(Get("/v1/blocks/12345"), 404, Code::kNotFound, "no block at height 12345");

  ExpectError(Get("/v1/accounts/not-an-address"), 400, Code::kInvalidArgument, "bad address 'not-an-address'");
  std::string addr = Addr(k().alice);
  std::string broken = addr.substr(0, addr.size() - 1) + (addr.back() == 'q' ? 'p' : 'q');
  ExpectError(Get("/v1/accounts/" + broken), 400, Code::kInvalidArgument, "checksum");

  ExpectError(Get("/v1/txs/xyz"), 400, Code::kInvalidArgument, "64 hex characters, got 'xyz'");
  ExpectError(Get("/v1/txs/" + std::string(62, 'a')), 400, Code::kInvalidArgument, "64 hex");
  ExpectError(Get("/v1/txs/" + std::string(64, 'a')), 404, Code::kNotFound, "not found");

  ExpectError(Get("/v1/blocks?limit=0"), 400, Code::kInvalidArgument, "limit must be between 1 and 100");
  ExpectError(Get("/v1/blocks?limit=1000"), 400, Code::kInvalidArgument, "limit must be between 1 and 100");
  ExpectError(Get("/v1/blocks?limit=ten"), 400, Code::kInvalidArgument, "limit");
  ExpectError(Get("/v1/blocks?from=0"), 400, Code::kInvalidArgument, "from");
  ExpectError(Get("/v1/blocks?from=-3&limit=2"), 400, Code::kInvalidArgument, "from");
  ExpectError(Get("/v1/blocks/latest"), 404, Code::kNotFound, "no block");

  ExpectGenesisState();
}

TEST_F(ApiTest, DuplicateAndPoolLimitsAreTheirOwnStatuses) {
  StartNode(/*run_engine=*/false, MempoolLimits{2, 1 << 20, 1});
  ASSERT_FALSE(HasFatalFailure());
  const std::string a1 = Transfer(k().alice, 1, k().bob, "CNY", 100);
  HttpReply first = Post("/v1/txs", TxBody(a1));
  EXPECT_EQ(first.status, 202) << first.raw;
  EXPECT_EQ(first.body["status"], "pending");
  EXPECT_EQ(first.body["hash"], TxHashHex(TxHash(a1)));
  EXPECT_FALSE(first.body.contains("height"));
  ExpectError(Post("/v1/txs", TxBody(a1)), 409, Code::kDuplicate, "already in the mempool");
  ExpectError(Post("/v1/txs", TxBody(Transfer(k().alice, 2, k().bob, "CNY", 100))), 429, Code::kSenderLimit,
              Addr(k().alice));
  // Give carol something to send, then fill the pool (2 txs) with it.
  ASSERT_EQ(Post("/v1/txs", TxBody(SignTx(k().issuer, kChainId, MakeMint(1, AddrOf(k().carol), "CNY", 500)))).status,
            202);
  ExpectError(Post("/v1/txs", TxBody(SignTx(k().issuer, kChainId, MakeMint(2, AddrOf(k().carol), "CNY", 1)))), 429,
              Code::kMempoolFull, "full");
  EXPECT_EQ(node_->mempool().Stats().txs, 2);
  EXPECT_EQ(node_->store().Height(), 0);
}

TEST_F(ApiTest, PendingTxAndWaitTimeout) {
  StartNode(/*run_engine=*/false);
  ASSERT_FALSE(HasFatalFailure());
  const std::string a1 = Transfer(k().alice, 1, k().bob, "CNY", 100);
  // Nothing commits here, so ?wait=commit ends at its timeout with "pending".
  HttpReply r = Post("/v1/txs?wait=commit&timeout_ms=50", TxBody(a1));
  EXPECT_EQ(r.status, 202) << r.raw;
  EXPECT_EQ(r.body["status"], "pending");
  HttpReply t = Get("/v1/txs/" + TxHashHex(TxHash(a1)));
  EXPECT_EQ(t.status, 200) << t.raw;
  EXPECT_EQ(t.body, json({{"hash", TxHashHex(TxHash(a1))}, {"status", "pending"}}));
  HttpReply s = Get("/v1/status");
  EXPECT_EQ(s.body["mempool"]["txs"], 1);
  EXPECT_EQ(s.body["mempool"]["bytes"], a1.size());
  EXPECT_EQ(s.body["latest_height"], 0);
  // Pending is not committed: the account is unchanged.
  EXPECT_EQ(Get("/v1/accounts/" + Addr(k().alice)).body["nonce"], "0");
}

// ------------------------------------------------------------------------------ good requests

TEST_F(ApiTest, SubmitWaitForCommitAndReadItBack) {
  StartNode(/*run_engine=*/true);
  ASSERT_FALSE(HasFatalFailure());
  const std::string t1 = Transfer(k().alice, 1, k().bob, "CNY", 1250);
  const std::string hash1 = TxHashHex(TxHash(t1));

  HttpReply r = Post("/v1/txs?wait=commit", TxBody(t1));
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["hash"], hash1);
  EXPECT_EQ(r.body["status"], "committed");
  EXPECT_EQ(r.body["height"], 1);
  EXPECT_EQ(r.body["index"], 0);
  EXPECT_EQ(r.body["code"], 0);
  EXPECT_EQ(r.body["code_name"], "ok");
  EXPECT_EQ(r.body["log"], "");

  HttpReply tx = Get("/v1/txs/" + hash1);
  ASSERT_EQ(tx.status, 200) << tx.raw;
  EXPECT_EQ(tx.body["hash"], hash1);
  EXPECT_EQ(tx.body["status"], "committed");
  EXPECT_EQ(tx.body["height"], 1);
  EXPECT_EQ(tx.body["index"], 0);
  EXPECT_EQ(tx.body["code"], 0);
  EXPECT_EQ(tx.body["code_name"], "ok");
  EXPECT_EQ(tx.body["signer"], Addr(k().alice));
  EXPECT_EQ(tx.body["nonce"], "1");
  EXPECT_TRUE(tx.body["fee"].is_null());
  EXPECT_EQ(tx.body["memo"], "");
  EXPECT_EQ(tx.body["op"], json({{"type", "transfer"},
                                 {"to", Addr(k().bob)},
                                 {"denom", "CNY"},
                                 {"amount", "1250"},
                                 {"display", "12.50"}}));
  EXPECT_EQ(tx.body["tx"], HexEncode(t1));
  // Upper-case hash works too.
  std::string upper = hash1;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(Get("/v1/txs/" + upper).status, 200);

  HttpReply bob = Get("/v1/accounts/" + Addr(k().bob));
  ASSERT_EQ(bob.status, 200) << bob.raw;
  EXPECT_EQ(bob.body, json::parse(R"({"address": ")" + Addr(k().bob) + R"(", "nonce": "0", "next_nonce": "1",
      "balances": [{"denom": "CNY", "amount": "1250", "display": "12.50"}]})"));
  HttpReply alice = Get("/v1/accounts/" + Addr(k().alice));
  ASSERT_EQ(alice.status, 200) << alice.raw;
  EXPECT_EQ(alice.body["nonce"], "1");
  EXPECT_EQ(alice.body["next_nonce"], "2");
  EXPECT_EQ(alice.body["balances"][0]["display"], "987.50");

  // A second tx, submitted without waiting; it commits in the next block.
  const std::string t2 = Transfer(k().alice, 2, k().carol, "PTS", 7);
  HttpReply r2 = Post("/v1/txs", TxBody(t2));
  ASSERT_EQ(r2.status, 202) << r2.raw;
  EXPECT_EQ(r2.body["status"], "pending");
  ASSERT_TRUE(node_->chain().WaitForTx(TxHash(t2), 10000).has_value());
  HttpReply tx2 = Get("/v1/txs/" + TxHashHex(TxHash(t2)));
  ASSERT_EQ(tx2.status, 200);
  EXPECT_EQ(tx2.body["status"], "committed");
  EXPECT_EQ(tx2.body["height"], 2);
  EXPECT_EQ(tx2.body["op"]["display"], "7");
  ASSERT_EQ(node_->chain().Tip().height, 2);  // no empty blocks

  auto b1 = node_->store().LoadBlock(1);
  auto b2 = node_->store().LoadBlock(2);
  ASSERT_TRUE(b1 && b2);
  const std::string id1 = HexEncode(BlockId(b1->header()));
  const std::string id2 = HexEncode(BlockId(b2->header()));

  HttpReply page = Get("/v1/blocks?from=1&limit=2");
  ASSERT_EQ(page.status, 200) << page.raw;
  ASSERT_EQ(page.body["blocks"].size(), 2u) << page.raw;
  EXPECT_EQ(page.body["blocks"][0]["height"], 1);
  EXPECT_EQ(page.body["blocks"][0]["block_id"], id1);
  EXPECT_EQ(page.body["blocks"][0]["num_txs"], 1);
  EXPECT_EQ(page.body["blocks"][0]["proposer_address"], Addr(k().validator));
  EXPECT_EQ(page.body["blocks"][0]["time"], FormatRfc3339Ms(b1->header().time_ms()));
  EXPECT_EQ(page.body["blocks"][1]["height"], 2);
  EXPECT_EQ(page.body["blocks"][1]["block_id"], id2);
  EXPECT_EQ(page.body["latest_height"], 2);
  HttpReply newest = Get("/v1/blocks");
  ASSERT_EQ(newest.body["blocks"].size(), 2u);
  EXPECT_EQ(newest.body["blocks"][0]["height"], 2);
  EXPECT_EQ(newest.body["blocks"][1]["height"], 1);
  EXPECT_EQ(Get("/v1/blocks?limit=1").body["blocks"].size(), 1u);
  EXPECT_EQ(Get("/v1/blocks?from=2&limit=100").body["blocks"].size(), 1u);
  EXPECT_EQ(Get("/v1/blocks?from=50").body["blocks"], json::array());

  HttpReply latest = Get("/v1/blocks/latest");
  ASSERT_EQ(latest.status, 200) << latest.raw;
  EXPECT_EQ(latest.body["block_id"], id2);
  EXPECT_EQ(latest.body["header"]["height"], 2);
  EXPECT_EQ(latest.body["header"]["chain_id"], kChainId);
  EXPECT_EQ(latest.body["header"]["last_block_id"], id1);
  EXPECT_EQ(latest.body["header"]["proposer_address"], Addr(k().validator));
  EXPECT_EQ(latest.body["header"]["time_ms"], b2->header().time_ms());
  ASSERT_EQ(latest.body["txs"].size(), 1u);
  EXPECT_EQ(latest.body["txs"][0]["hash"], TxHashHex(TxHash(t2)));
  EXPECT_EQ(latest.body["last_commit"]["height"], 1);
  EXPECT_EQ(latest.body["last_commit"]["block_id"], id1);
  ASSERT_EQ(latest.body["last_commit"]["signatures"].size(), 1u);
  EXPECT_EQ(latest.body["last_commit"]["signatures"][0]["validator_address"], Addr(k().validator));
  EXPECT_EQ(latest.body["app_hash_after"], HexEncode(node_->chain().Tip().app_hash));
  HttpReply one = Get("/v1/blocks/1");
  ASSERT_EQ(one.status, 200) << one.raw;
  EXPECT_EQ(one.body["block_id"], id1);
  EXPECT_EQ(one.body["header"]["last_block_id"], "");
  EXPECT_EQ(one.body["txs"][0]["op"]["display"], "12.50");
  EXPECT_EQ(one.body["last_commit"]["signatures"], json::array());

  HttpReply status = Get("/v1/status");
  ASSERT_EQ(status.status, 200) << status.raw;
  EXPECT_EQ(status.body["chain_id"], kChainId);
  EXPECT_EQ(status.body["moniker"], "api-test");
  EXPECT_EQ(status.body["node_id"], HexEncode(k().validator_node.public_key()));
  EXPECT_EQ(status.body["validator_address"], Addr(k().validator));
  EXPECT_EQ(status.body["latest_height"], 2);
  EXPECT_EQ(status.body["latest_block_id"], id2);
  EXPECT_EQ(status.body["latest_app_hash"], HexEncode(node_->chain().Tip().app_hash));
  EXPECT_EQ(status.body["latest_block_time"], FormatRfc3339Ms(b2->header().time_ms()));
  EXPECT_EQ(status.body["earliest_height"], 1);
  EXPECT_EQ(status.body["catching_up"], false);
  EXPECT_EQ(status.body["mempool"]["txs"], 0);
  EXPECT_TRUE(status.body["version"].is_string());

  HttpReply denoms = Get("/v1/denoms");
  ASSERT_EQ(denoms.status, 200) << denoms.raw;
  const std::string issuer = Addr(k().issuer);
  EXPECT_EQ(denoms.body, json::parse(R"({"denominations": [
      {"name": "CNY", "decimals": 2, "issuer": ")" + issuer + R"(", "minted": "100000", "burned": "0", "supply": "100000",
       "minted_display": "1000.00", "burned_display": "0.00", "supply_display": "1000.00"},
      {"name": "PTS", "decimals": 0, "issuer": ")" + issuer + R"(", "minted": "50", "burned": "0", "supply": "50",
       "minted_display": "50", "burned_display": "0", "supply_display": "50"}]})"));

  HttpReply health = Get("/v1/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body["height"], 2);
}

TEST_F(ApiTest, MintAndBurnShowInSupplyAndTxs) {
  StartNode(/*run_engine=*/true);
  ASSERT_FALSE(HasFatalFailure());
  HttpReply mint = Post("/v1/txs?wait=commit",
                        TxBody(SignTx(k().issuer, kChainId, MakeMint(1, AddrOf(k().issuer), "CNY", 10000))));
  ASSERT_EQ(mint.status, 200) << mint.raw;
  EXPECT_EQ(mint.body["code"], 0);
  HttpReply burn = Post("/v1/txs?wait=commit", TxBody(SignTx(k().issuer, kChainId, MakeBurn(2, "CNY", 2500))));
  ASSERT_EQ(burn.status, 200) << burn.raw;
  HttpReply denoms = Get("/v1/denoms");
  EXPECT_EQ(denoms.body["denominations"][0]["minted"], "110000");
  EXPECT_EQ(denoms.body["denominations"][0]["burned"], "2500");
  EXPECT_EQ(denoms.body["denominations"][0]["supply"], "107500");
  HttpReply tx = Get("/v1/txs/" + burn.body["hash"].get<std::string>());
  EXPECT_EQ(tx.body["op"], json({{"type", "burn"}, {"denom", "CNY"}, {"amount", "2500"}, {"display", "25.00"}}));
}

TEST_F(ApiTest, StartAndStopWithoutRequests) {
  // Stopping right after starting must not hang (the listener thread may not be running yet).
  for (int i = 0; i < 20; ++i) {
    StartNode(/*run_engine=*/false);
    ASSERT_FALSE(HasFatalFailure());
    TearDown();
  }
}

}  // namespace
}  // namespace v2g::nodetest
