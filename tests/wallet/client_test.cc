#include "wallet/client.h"

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/bech32.h"
#include "common/bytes.h"
#include "common/crypto.h"
#include "common/read_auth.h"
#include "tests/wallet/test_util.h"

namespace v2g {
namespace {

using nlohmann::json;
using test::ApiError;
using test::FakeNode;
using test::ReplyJson;

json StatusJson() {
  return {{"chain_id", "v2g-test"},
          {"moniker", "val-0"},
          {"node_id", "abcd"},
          {"validator_address", "v2g1xyz"},
          {"latest_height", 42},
          {"latest_block_id", "ff00"},
          {"latest_app_hash", "aa11"},
          {"latest_block_time", "2026-11-26T02:00:00Z"},
          {"earliest_height", 1},
          {"catching_up", false},
          {"mempool", {{"txs", 3}, {"bytes", 540}}},
          {"version", "0.1.0"}};
}

std::string SomeAddress() {
  InitCrypto();
  return EncodeAddress(AddressFromPublicKey(KeyPair::Generate().public_key()));
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override { InitCrypto(); }
  ApiClient Client(const std::string& url) {
    auto c = ApiClient::Create(url, ClientOptions{2000, 5000});
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(c).value();
  }
  FakeNode node_;
};

TEST_F(ClientTest, StatusIsParsed) {
  node_.server().Get("/v1/status", [](const httplib::Request&, httplib::Response& res) {
    ReplyJson(res, 200, StatusJson());
  });
  node_.Start();
  ApiClient c = Client(node_.url());
  auto s = c.GetStatus();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->chain_id, "v2g-test");
  EXPECT_EQ(s->latest_height, 42);
  EXPECT_EQ(s->mempool_txs, 3);
  EXPECT_EQ(s->mempool_bytes, 540);
  EXPECT_EQ(s->latest_block_time, "2026-11-26T02:00:00Z");
  EXPECT_FALSE(s->catching_up);
  EXPECT_EQ(s->raw["moniker"], "val-0");
}

TEST_F(ClientTest, ApiErrorObjectsArePassedThroughVerbatim) {
  node_.server().Post("/v1/txs", [](const httplib::Request&, httplib::Response& res) {
    ReplyJson(res, 400, ApiError("nonce_gap", 21, "nonce 5 skips ahead; next is 3"));
  });
  node_.server().Get("/v1/status", [](const httplib::Request&, httplib::Response& res) {
    ReplyJson(res, 500, ApiError("shiny_new_code", 99, "something only newer nodes say"));
  });
  node_.server().Get(R"(/v1/txs/([0-9a-f]+))", [](const httplib::Request&, httplib::Response& res) {
    ReplyJson(res, 404, ApiError("not_found", 60, "no tx with hash 00ff"));
  });
  node_.Start();
  ApiClient c = Client(node_.url());

  auto submitted = c.SubmitTx("\x0a\x01x", true, 1000);
  ASSERT_FALSE(submitted.ok());
  EXPECT_EQ(submitted.status().code(), Code::kNonceGap);
  EXPECT_EQ(submitted.status().message(), "nonce_gap: nonce 5 skips ahead; next is 3");

  auto status = c.GetStatus();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().code(), Code::kInternal);  // a number this build does not know
  EXPECT_EQ(status.status().message(), "shiny_new_code: something only newer nodes say");

  auto tx = c.GetTx(std::string(64, 'a'));
  EXPECT_EQ(tx.status().code(), Code::kNotFound);
  EXPECT_EQ(tx.status().message(), "not_found: no tx with hash 00ff");
}

TEST_F(ClientTest, NonJsonBodiesGiveClearErrors) {
  node_.server().Get("/v1/status", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("<html>hello from a proxy</html>", "text/html");
  });
  node_.server().Get("/v1/denoms", [](const httplib::Request&, httplib::Response& res) {
    res.status = 502;
    res.set_content("Bad Gateway", "text/plain");
  });
  node_.Start();
  ApiClient c = Client(node_.url());

  auto s = c.GetStatus();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kMalformed);
  EXPECT_EQ(s.status().message(), "node at " + node_.url() +
                                      " answered GET /v1/status with a body that is not JSON: "
                                      "'<html>hello from a proxy</html>'");

  auto d = c.GetDenoms();
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("HTTP 502"), std::string::npos) << d.status().message();
  EXPECT_NE(d.status().message().find("Bad Gateway"), std::string::npos) << d.status().message();
}

TEST_F(ClientTest, UnknownRouteWithoutErrorObjectIsNotFound) {
  node_.Start();  // no handlers: httplib answers 404 with an empty body
  ApiClient c = Client(node_.url());
  auto s = c.GetStatus();
  EXPECT_EQ(s.status().code(), Code::kNotFound);
  EXPECT_NE(s.status().message().find("HTTP 404"), std::string::npos) << s.status().message();
}

TEST_F(ClientTest, ConnectionRefusedSaysSo) {
  const std::string url = "http://127.0.0.1:" + std::to_string(test::ClosedPort());
  ApiClient c = Client(url);
  auto s = c.GetStatus();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kUnavailable);
  EXPECT_EQ(s.status().message(), "cannot reach node at " + url + ": connection refused");
}

TEST_F(ClientTest, MissingOrMistypedFieldsAreMalformed) {
  node_.server().Get("/v1/status", [](const httplib::Request&, httplib::Response& res) {
    json j = StatusJson();
    j.erase("chain_id");
    ReplyJson(res, 200, j);
  });
  node_.server().Get("/v1/denoms", [](const httplib::Request&, httplib::Response& res) {
    ReplyJson(res, 200, {{"denominations", {{{"name", "CNY"}, {"decimals", "two"}}}}});
  });
  node_.Start();
  ApiClient c = Client(node_.url());
  auto s = c.GetStatus();
  EXPECT_EQ(s.status().code(), Code::kMalformed);
  EXPECT_NE(s.status().message().find("'chain_id' is missing"), std::string::npos)
      << s.status().message();
  auto d = c.GetDenoms();
  EXPECT_EQ(d.status().code(), Code::kMalformed);
  EXPECT_NE(d.status().message().find("'decimals'"), std::string::npos) << d.status().message();
}

TEST_F(ClientTest, AccountAndDenomsParseStringIntegers) {
  const std::string addr = SomeAddress();
  node_.server().Get(R"(/v1/accounts/(v2g1[a-z0-9]+))", [&](const httplib::Request& req,
                                                            httplib::Response& res) {
    ReplyJson(
        res, 200,
        {{"address", std::string(req.matches[1])},
         {"nonce", "7"},
         {"next_nonce", "8"},
         {"balances",
          {{{"denom", "CNY"}, {"amount", "9007199254740993"}, {"display", "90071992547409.93"}}}}});
  });
  node_.server().Get("/v1/denoms", [](const httplib::Request&, httplib::Response& res) {
    ReplyJson(res, 200,
              {{"denominations",
                {{{"name", "CNY"},
                  {"decimals", 2},
                  {"issuer", "v2g1q"},
                  {"minted", "100"},
                  {"burned", "1"},
                  {"supply", "99"}},
                 {{"name", "PTS"},
                  {"decimals", 0},
                  {"issuer", "v2g1q"},
                  {"minted", "5"},
                  {"burned", "0"},
                  {"supply", "5"}}}}});
  });
  node_.Start();
  ApiClient c = Client(node_.url());
  auto a = c.GetAccount(addr);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->address, addr);
  EXPECT_EQ(a->nonce, 7u);
  EXPECT_EQ(a->next_nonce, 8u);
  ASSERT_EQ(a->balances.size(), 1u);
  EXPECT_EQ(a->balances[0].amount, 9007199254740993);  // above 2^53: must not pass through a double
  EXPECT_EQ(a->balances[0].display, "90071992547409.93");

  auto d = c.GetDenoms();
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->size(), 2u);
  EXPECT_EQ((*d)[0].decimals, 2u);
  EXPECT_EQ((*d)[0].supply, 99);
  EXPECT_EQ((*d)[1].name, "PTS");

  // A bad address never reaches the node.
  EXPECT_EQ(c.GetAccount("v2g1notanaddress").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c.GetAccount("../status").status().code(), Code::kInvalidArgument);
}

TEST_F(ClientTest, SubmitSendsHexAndWaitParameters) {
  std::mutex mu;
  std::string seen_body, seen_wait, seen_timeout;
  node_.server().Post("/v1/txs", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    seen_body = req.body;
    seen_wait = req.get_param_value("wait");
    seen_timeout = req.get_param_value("timeout_ms");
    if (seen_wait == "commit") {
      ReplyJson(res, 200,
                {{"hash", std::string(64, 'c')},
                 {"status", "committed"},
                 {"height", 9},
                 {"index", 2},
                 {"code", 0},
                 {"code_name", "ok"},
                 {"log", ""}});
    } else {
      ReplyJson(res, 202, {{"hash", std::string(64, 'c')}, {"status", "pending"}});
    }
  });
  node_.Start();
  ApiClient c = Client(node_.url());
  auto r = c.SubmitTx(std::string("\x01\x02\xff", 3), true, 1500);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->committed());
  EXPECT_EQ(r->height, 9);
  EXPECT_EQ(r->index, 2);
  EXPECT_EQ(r->code, 0u);
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(json::parse(seen_body), json({{"tx", "0102ff"}}));
    EXPECT_EQ(seen_wait, "commit");
    EXPECT_EQ(seen_timeout, "1500");
  }
  auto p = c.SubmitTx("x", false, 1000);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->status, "pending");
  EXPECT_FALSE(p->committed());
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seen_wait, "");
}

TEST_F(ClientTest, SubmitBatchSendsHexAndReadsOneVerdictPerTx) {
  std::mutex mu;
  std::string seen_body;
  bool short_answer = false;
  node_.server().Post("/v1/txs/batch", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    seen_body = req.body;
    json results = {{{"index", 0}, {"hash", std::string(64, 'c')}, {"status", "pending"}},
                    {{"index", 1},
                     {"hash", nullptr},
                     {"code", "malformed"},
                     {"code_num", 2},
                     {"message", "txs[1]: not hex"}}};
    if (short_answer) results.erase(1);
    ReplyJson(res, 200, {{"admitted", 1}, {"refused", 1}, {"results", results}});
  });
  node_.Start();
  ApiClient c = Client(node_.url());
  auto r = c.SubmitTxBatch({std::string("\x01\x02", 2), std::string("\xff", 1)});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_TRUE((*r)[0].admitted);
  EXPECT_EQ((*r)[0].hash, std::string(64, 'c'));
  EXPECT_FALSE((*r)[1].admitted);
  EXPECT_EQ((*r)[1].index, 1);
  EXPECT_EQ((*r)[1].hash, "");
  EXPECT_EQ((*r)[1].code_name, "malformed");
  EXPECT_EQ((*r)[1].code, 2u);
  EXPECT_EQ((*r)[1].message, "txs[1]: not hex");
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(json::parse(seen_body), json({{"txs", {"0102", "ff"}}}));
    short_answer = true;
  }
  // An answer without a verdict for every tx is not taken for one.
  auto bad = c.SubmitTxBatch({std::string("\x01", 1), std::string("\x02", 1)});
  EXPECT_EQ(bad.status().code(), Code::kMalformed) << bad.status().ToString();
}

TEST_F(ClientTest, GetTxValidatesTheHash) {
  node_.Start();
  ApiClient c = Client(node_.url());
  EXPECT_EQ(c.GetTx("abc").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c.GetTx(std::string(64, 'g')).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c.GetTx(std::string(62, 'a') + "/x").status().code(), Code::kInvalidArgument);
}

TEST_F(ClientTest, PathPrefixIsKept) {
  node_.server().Get("/proxy/v1/status", [](const httplib::Request&, httplib::Response& res) {
    ReplyJson(res, 200, StatusJson());
  });
  node_.Start();
  ApiClient c = Client(node_.url() + "/proxy/");
  EXPECT_EQ(c.base_url(), node_.url() + "/proxy");
  EXPECT_TRUE(c.GetStatus().ok());
}

// Signed reads (docs/API.md "Signed reads"): a fake node that serves `path` only to reads signed
// by `reader` for chain v2g-test, checking the signature over the target exactly as it arrived.
class SignedReadTest : public ClientTest {
 protected:
  void Serve(const std::string& route, bool refuse) {
    node_.server().Get("/v1/status", [](const httplib::Request&, httplib::Response& res) {
      ReplyJson(res, 200, StatusJson());
    });
    node_.server().Get(route, [this, refuse](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      targets_.push_back(req.target);
      const std::string key = req.get_header_value(kReadKeyHeader);
      if (key.empty()) {
        if (refuse) {
          return ReplyJson(res, 403, {{"error", {{"code", "permission_denied"}, {"code_num", 46},
                                                {"message", "personal data"}, {"readers", {reader_address_}}}}});
        }
        return ReplyJson(res, 200, {{"private", true}, {"readers", {reader_address_}}});
      }
      const std::string message =
          ReadAuthMessage("v2g-test", "GET", req.target, std::stoll(req.get_header_value(kReadTimeHeader)),
                          req.get_header_value(kReadNonceHeader));
      auto pk = HexDecode(key);
      auto sig = HexDecode(req.get_header_value(kReadSignatureHeader));
      PublicKey p{};
      Signature sg{};
      const bool sizes = pk.ok() && sig.ok() && pk->size() == p.size() && sig->size() == sg.size();
      if (sizes) {
        std::copy(pk->begin(), pk->end(), p.begin());
        std::copy(sig->begin(), sig->end(), sg.begin());
      }
      if (!sizes || !Verify(p, AsBytes(message), sg) || p != reader_.public_key()) {
        return ReplyJson(res, 401, {{"error", {{"code", "unauthenticated"}, {"code_num", 45}, {"message", "bad"}}}});
      }
      ReplyJson(res, 200, {{"whole", true}});
    });
    node_.Start();
  }
  KeyPair reader_ = KeyPair::FromSeed(Bytes(kSeedBytes, 5));
  std::string reader_address_ = EncodeAddress(AddressFromPublicKey(reader_.public_key()));
  std::mutex mu_;
  std::vector<std::string> targets_;
};

TEST_F(SignedReadTest, ARefusedReadIsSignedAgainWithTheKeyOfAnAccountTheNodeNames) {
  Serve("/v1/mine", /*refuse=*/true);
  ApiClient c = Client(node_.url());
  std::vector<std::vector<std::string>> asked;
  c.SetReaderSource([&](const std::vector<std::string>& readers) -> std::optional<KeyPair> {
    asked.push_back(readers);
    return reader_;
  });
  // '+' and ',' in the query are encoded once, and the signature covers them as sent.
  auto j = c.GetJson("/v1/mine?from=2026-01-01T08:00:00+08:00&x=a,b");
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ((*j)["whole"], true);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0], std::vector<std::string>{reader_address_});
  // The key stays the reader: the next read is signed at once.
  ASSERT_TRUE(c.GetJson("/v1/mine").ok());
  EXPECT_EQ(asked.size(), 1u);
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(targets_.front(), "/v1/mine?from=2026-01-01T08:00:00%2B08:00&x=a%2Cb");
}

TEST_F(SignedReadTest, AReducedAnswerIsReadAgainSigned) {
  Serve("/v1/reduced", /*refuse=*/false);
  ApiClient c = Client(node_.url());
  c.SetReaderSource([&](const std::vector<std::string>&) -> std::optional<KeyPair> { return reader_; });
  auto j = c.GetJson("/v1/reduced");
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ((*j)["whole"], true);
}

TEST_F(SignedReadTest, WithoutAKeyTheRefusalStands) {
  Serve("/v1/mine", /*refuse=*/true);
  ApiClient c = Client(node_.url());
  auto none = c.GetJson("/v1/mine");  // no source at all
  EXPECT_EQ(none.status().code(), Code::kPermissionDenied) << none.status().ToString();
  c.SetReaderSource([](const std::vector<std::string>&) -> std::optional<KeyPair> { return std::nullopt; });
  EXPECT_EQ(c.GetJson("/v1/mine").status().code(), Code::kPermissionDenied);
  // A key the node does not take (401): dropped, and the request made again unsigned.
  c.SetReader(KeyPair::FromSeed(Bytes(kSeedBytes, 6)));
  EXPECT_EQ(c.GetJson("/v1/mine").status().code(), Code::kPermissionDenied);
  std::lock_guard<std::mutex> lock(mu_);
  ASSERT_GE(targets_.size(), 2u);
  EXPECT_EQ(targets_.size(), 4u);  // two refusals above, then the signed try and the unsigned one
}

TEST(ClientUrlTest, BadUrlsAreRejected) {
  for (const char* bad : {"127.0.0.1:26657", "ftp://host", "http://", "http://:80", "http://h:0",
                          "http://h:99999", "http://h:port", "http://h/x?y=1", "http://a b"}) {
    auto c = ApiClient::Create(bad);
    EXPECT_EQ(c.status().code(), Code::kInvalidArgument) << bad;
  }
  for (const char* good : {"http://127.0.0.1:26657", "http://localhost:26657/", "http://[::1]:26657"}) {
    EXPECT_TRUE(ApiClient::Create(good).ok()) << good;
  }
  // This wallet speaks no TLS: https is refused with what to do instead, not an opaque failure.
  auto https = ApiClient::Create("https://node.example.org");
  ASSERT_FALSE(https.ok());
  EXPECT_NE(https.status().message().find("TLS proxy in front of it"), std::string::npos) << https.status().message();
  EXPECT_NE(https.status().message().find("ssh -L 26657:127.0.0.1:26657"), std::string::npos);
}

}  // namespace
}  // namespace v2g
