// Shared by the HTTP API tests over a ManualNode (blocks committed by hand at chosen times):
// market_api_test.cc, grid_api_test.cc, api_privacy_test.cc. A fixture base that starts the node and the API on
// 127.0.0.1 port 0 with a client, submits txs through POST /v1/txs and commits blocks.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "common/read_auth.h"
#include "node/api/api.h"
#include "tests/node/node_test_util.h"

namespace v2g::nodetest {

// A reading of `meter` signed by `device` (state of charge 50 %, health 98 %), naming `plugged`.
inline pb::MeterReading SignedReading(const KeyPair& device, const std::string& meter, uint64_t seq, int64_t start,
                                      int64_t end, int64_t import_total, int64_t export_total,
                                      const std::string& plugged = "") {
  pb::MeterReading r;
  r.set_plugged_meter_id(plugged);
  r.set_meter_id(meter);
  r.set_seq(seq);
  r.set_interval_start_s(start);
  r.set_interval_end_s(end);
  r.set_import_wh_total(import_total);
  r.set_export_wh_total(export_total);
  r.set_soc_permille(500);
  r.set_soh_permille(980);
  SignReading(device, kChainId, r);
  return r;
}

class ManualApiTest : public ::testing::Test {
 protected:
  using json = nlohmann::json;

  // Starts the node (`genesis` may customize the test genesis), the API named `moniker` and a
  // client.
  void StartNode(const std::function<void(GenesisState&)>& genesis, const std::string& moniker) {
    node_ = std::make_unique<ManualNode>(MempoolLimits{1000, 16 << 20, 100}, genesis);
    ASSERT_FALSE(HasFatalFailure());
    ApiContext ctx;
    ctx.store = &node_->store();
    ctx.chain = &node_->chain();
    ctx.mempool = &node_->mempool();
    ctx.chain_id = kChainId;
    ctx.moniker = moniker;
    ctx.threads = 2;
    ctx.private_reads = private_reads_;
    ctx.full_readers = full_readers_;
    ctx.limits = limits_;
    api_ = std::make_unique<ApiServer>(ctx);
    ASSERT_TRUE(api_->Start("127.0.0.1", 0).ok());
    cli_ = MakeClient(api_->port());
  }
  void TearDown() override {
    cli_.reset();
    if (api_) api_->Stop();
    api_.reset();
    node_.reset();
  }

  const TestKeys& k() const { return node_->keys(); }
  static std::string Addr(const KeyPair& key) { return EncodeAddress(AddrOf(key)); }

  // The API's read posture (access.h): these tests read everything as the operator's tools
  // would; api_privacy_test.cc turns private reads on and signs as each role.
  bool private_reads_ = false;
  std::vector<Address> full_readers_;
  ApiLimits limits_;
  int64_t read_nonce_ = 0;
  HttpReply Get(const std::string& path) { return HttpGet(*cli_, path); }

  // The headers of a signed read of GET `path` as the account of `key` (docs/API.md "Signed
  // reads"), with a fresh nonce, signed now.
  httplib::Headers SignedReadHeaders(const KeyPair& key, const std::string& path) {
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    const std::string nonce = "00" + std::to_string(1000000000000000 + ++read_nonce_);
    const Signature sig = key.Sign(AsBytes(ReadAuthMessage(kChainId, "GET", path, now_ms, nonce)));
    httplib::Headers h{{kReadKeyHeader, HexEncode(ByteView(key.public_key().data(), key.public_key().size()))},
                       {kReadTimeHeader, std::to_string(now_ms)},
                       {kReadNonceHeader, nonce},
                       {kReadSignatureHeader, HexEncode(ByteView(sig.data(), sig.size()))}};
    return h;
  }
  HttpReply As(const KeyPair& key, const std::string& path) {
    return ToReply(cli_->Get(path.c_str(), SignedReadHeaders(key, path)));
  }

  // Submits `body` signed by `key` through POST /v1/txs, commits a block at `at_s` (default: one
  // second after the tip) and returns GET /v1/txs/{hash} (read as `key` when reads are private).
  json Run(const KeyPair& key, pb::TxBody body, int64_t at_s = 0) {
    body.set_nonce(Nonce(node_->store().state(), key) + 1);
    const std::string tx = SignTx(key, kChainId, std::move(body));
    HttpReply r = HttpPost(*cli_, "/v1/txs", TxBody(tx));
    EXPECT_EQ(r.status, 202) << r.raw;
    Tick(at_s);
    const std::string path = "/v1/txs/" + TxHashHex(TxHash(tx));
    HttpReply t = private_reads_ ? As(key, path) : Get(path);
    EXPECT_EQ(t.status, 200) << t.raw;
    return t.body;
  }
  json RunOk(const KeyPair& key, pb::TxBody body, int64_t at_s = 0) {
    json t = Run(key, std::move(body), at_s);
    EXPECT_EQ(t.value("code", -1), 0) << t.dump();
    return t;
  }
  // An empty block at `at_s` - 1 when the tip is earlier: a tx admitted next is then checked at
  // about the time its block (at `at_s`) will have, as a live meter's readings are (the mempool
  // checks a reading's end against the last block time plus the skew, and refuses a batch with
  // none accepted).
  void Approach(int64_t at_s) {
    if (at_s <= 0) return;
    const int64_t tip_ms = Get("/v1/status").body["latest_block_time_ms"].get<int64_t>();
    if (tip_ms < (at_s - 1) * 1000) Tick(at_s - 1);
  }
  // A block (with whatever is in the mempool) at `at_s`, or one second after the tip.
  void Tick(int64_t at_s = 0) {
    auto b = at_s == 0 ? node_->CommitNext() : node_->CommitAt(at_s * 1000);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
  }

  static void ExpectError(const HttpReply& r, int http_status, Code code, const std::string& message_part) {
    EXPECT_EQ(r.status, http_status) << r.raw;
    ASSERT_TRUE(r.body.is_object() && r.body.contains("error")) << r.raw;
    EXPECT_EQ(r.body["error"].value("code", ""), std::string(CodeName(code))) << r.raw;
    EXPECT_TRUE(Contains(r.body["error"].value("message", ""), message_part));
  }

  std::unique_ptr<ManualNode> node_;
  std::unique_ptr<ApiServer> api_;
  std::unique_ptr<httplib::Client> cli_;
};

}  // namespace v2g::nodetest
