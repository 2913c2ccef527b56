// Runs the built `v2g` binary against a fake node that checks submitted txs with the real
// stateless checks (decoding, chain id, signature) and keeps nonces, so what the CLI signs is
// what a node would accept.

#include <map>
#include <mutex>

#include "common/bech32.h"
#include "common/bytes.h"
#include "common/display.h"
#include "common/limits.h"
#include "contracts/app.h"
#include "tests/wallet/test_util.h"
#include "wallet/keystore.h"

extern char** environ;

namespace v2g {
namespace {

using nlohmann::json;
using test::ReadAll;
using test::TempDir;
using test::WriteAll;

constexpr char kChainId[] = "v2g-cli-test";
constexpr char kPassphrase[] = "open sesame";
constexpr int kCommitHeight = 7;

using RunResult = test::CliResult;

// How the node shows a message's amounts to people (common/display.h): CNY has 2 decimals, PTS 0.
DisplayUnits CnyUnits() {
  DisplayUnits u;
  u.decimals = [](const std::string& d) -> std::optional<uint32_t> {
    if (d == "CNY") return 2;
    if (d == "PTS") return 0;
    return std::nullopt;
  };
  return u;
}

// Runs the built v2g (test::RunProgram: a new session, so it never waits on a prompt).
RunResult RunCli(const std::vector<std::string>& args, const std::vector<std::string>& env,
                 const std::string& dir, const std::string& input = "") {
  return test::RunProgram(V2G_CLI_PATH, args, env, dir, input);
}

// A node with just enough behaviour for the wallet: status, denoms, accounts with nonces, tx
// submission (with real signature and chain checks) and lookup.
class FakeChain {
 public:
  explicit FakeChain(test::FakeNode& node) {
    params_.set_tx_bytes_max(limits::kTxBytesDefault);
    params_.set_block_txs_max(limits::kBlockTxsDefault);
    params_.set_block_bytes_max(limits::kBlockBytesDefault);
    params_.set_memo_bytes_max(limits::kMemoBytesDefault);
    auto& s = node.server();
    s.Get("/v1/status", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      json status = {{"chain_id", kChainId}, {"latest_height", kCommitHeight}, {"moniker", "fake"}};
      if (fee_per_unit_ > 0) status["mempool"] = {{"txs", 9000}, {"bytes", 1 << 20}, {"fee_per_unit", fee_per_unit_}};
      test::ReplyJson(res, 200, status);
    });
    // Records a test sets whole (SetRecord): pools, events, programs.
    s.Get(R"(/v1/(pools|events|programs)/([0-9]+))",
          [this](const httplib::Request& req, httplib::Response& res) {
            std::lock_guard<std::mutex> lock(mu_);
            auto it = records_.find(req.path);
            if (it == records_.end())
              return test::ReplyJson(res, 404, test::ApiError("not_found", 60, "no such record"));
            test::ReplyJson(res, 200, it->second);
          });
    s.Get("/v1/denoms", [](const httplib::Request&, httplib::Response& res) {
      test::ReplyJson(res, 200,
                      {{"denominations",
                        {{{"name", "CNY"}, {"decimals", 2}}, {{"name", "PTS"}, {"decimals", 0}}}}});
    });
    s.Get(R"(/v1/accounts/([a-z0-9]+))",
          [this](const httplib::Request& req, httplib::Response& res) {
            std::lock_guard<std::mutex> lock(mu_);
            std::string addr = req.matches[1];
            uint64_t nonce = nonces_[addr];
            test::ReplyJson(res, 200,
                            {{"address", addr},
                             {"nonce", std::to_string(nonce)},
                             {"next_nonce", std::to_string(nonce + 1)},
                             {"balances",
                              {{{"denom", "CNY"}, {"amount", "123456"}, {"display", "1234.56"}},
                               {{"denom", "PTS"}, {"amount", "7"}, {"display", "7"}}}}});
          });
    s.Get("/v1/params", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      test::ReplyJson(res, 200,
                      {{"fee_min", params_.fee_min()},
                       {"market",
                        {{"enabled", true}, {"denom", "CNY"}, {"decimals", 2}, {"interval_s", 900},
                         {"gate_closure_s", 300}, {"horizon_s", 86400}, {"grace_s", 300},
                         {"collateral_bps", 1000}, {"penalty_bps", 1000}}}});
    });
    s.Post("/v1/txs",
           [this](const httplib::Request& req, httplib::Response& res) { Submit(req, res); });
    s.Get(R"(/v1/txs/([0-9a-f]{64}))", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = txs_.find(req.matches[1]);
      if (it == txs_.end()) {
        test::ReplyJson(res, 404,
                        test::ApiError("not_found", 60, "no tx " + std::string(req.matches[1])));
        return;
      }
      test::ReplyJson(res, 200, it->second);
    });
  }

  // How the next submitted txs end: committed ok (default), committed with a failure code, or
  // still pending when the wait times out.
  enum class Outcome { kOk, kFailedInBlock, kPending };
  void SetOutcome(Outcome o) {
    std::lock_guard<std::mutex> lock(mu_);
    outcome_ = o;
  }
  // The chain's params.fee_min (in CNY): its stateless checks then refuse a tx without the fee.
  void SetFeeMin(int64_t fee_min) {
    std::lock_guard<std::mutex> lock(mu_);
    params_.set_fee_min(fee_min);
    params_.set_market_denom("CNY");
  }
  // What GET /v1/status suggests per fee unit (a busy mempool); 0: no mempool section.
  void SetSuggestedFee(int64_t per_unit) {
    std::lock_guard<std::mutex> lock(mu_);
    fee_per_unit_ = per_unit;
  }
  void SetRecord(const std::string& path, json body) {
    std::lock_guard<std::mutex> lock(mu_);
    records_[path] = std::move(body);
  }
  void SetNonce(const std::string& addr, uint64_t nonce) {
    std::lock_guard<std::mutex> lock(mu_);
    nonces_[addr] = nonce;
  }
  std::vector<CheckedTx> accepted() {
    std::lock_guard<std::mutex> lock(mu_);
    return accepted_;
  }

 private:
  void Submit(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu_);
    json body = json::parse(req.body, nullptr, false);
    auto bytes = HexDecode(body.is_object() ? body.value("tx", "") : "");
    if (!bytes.ok())
      return test::ReplyJson(res, 400, test::ApiError("malformed", 1, "tx is not hex"));
    auto tx = CheckTxStateless(ToString(*bytes), kChainId, params_, true);
    if (!tx.ok()) {
      const Status& st = tx.status();
      return test::ReplyJson(res, 400,
                             test::ApiError(std::string(CodeName(st.code())), static_cast<int>(st.code()),
                                            DisplayText(st.text(), CnyUnits())));
    }
    const std::string signer = EncodeAddress(tx->signer);
    if (tx->body.nonce() != nonces_[signer] + 1) {
      return test::ReplyJson(res, 400, test::ApiError("nonce_gap", 21, "wrong nonce"));
    }
    if (tx->body.has_transfer() && tx->body.transfer().amount() > 123456) {
      return test::ReplyJson(res, 400,
                             test::ApiError("insufficient_funds", 22,
                                            signer + " has 123456 CNY, needs " +
                                                std::to_string(tx->body.transfer().amount())));
    }
    nonces_[signer] += 1;
    const std::string hash = TxHashHex(tx->hash);
    json op;
    if (tx->body.has_transfer()) {
      const auto& t = tx->body.transfer();
      op = {{"type", "transfer"},
            {"to", EncodeAddress(*AddressFromBytes(t.to()))},
            {"denom", t.denom()},
            {"amount", std::to_string(t.amount())},
            {"display", "12.50"}};
    } else if (tx->body.has_mint()) {
      op = {{"type", "mint"},
            {"denom", tx->body.mint().denom()},
            {"amount", std::to_string(tx->body.mint().amount())}};
    } else {
      op = {{"type", "burn"},
            {"denom", tx->body.burn().denom()},
            {"amount", std::to_string(tx->body.burn().amount())}};
    }
    json fee = nullptr;
    if (tx->body.has_fee())
      fee = {{"denom", tx->body.fee().denom()},
             {"amount", std::to_string(tx->body.fee().amount())}};
    json committed = {{"hash", hash},
                      {"status", "committed"},
                      {"height", kCommitHeight},
                      {"index", 0},
                      {"code", 0},
                      {"code_name", "ok"},
                      {"log", ""}};
    if (outcome_ == Outcome::kFailedInBlock) {
      committed["code"] = 22;
      committed["code_name"] = "insufficient_funds";
      committed["log"] = "balance changed before the block";
    }
    json full = committed;
    full.update({{"signer", signer},
                 {"nonce", std::to_string(tx->body.nonce())},
                 {"fee", fee},
                 {"memo", tx->body.memo()},
                 {"op", op},
                 {"tx", body["tx"]}});
    txs_[hash] = full;
    accepted_.push_back(std::move(tx).value());
    bool wait = req.get_param_value("wait") == "commit" && outcome_ != Outcome::kPending;
    test::ReplyJson(res, wait ? 200 : 202,
                    wait ? committed : json{{"hash", hash}, {"status", "pending"}});
  }

  std::mutex mu_;
  Outcome outcome_ = Outcome::kOk;
  int64_t fee_per_unit_ = 0;
  pb::ParamsRecord params_;
  std::map<std::string, uint64_t> nonces_;
  std::map<std::string, json> txs_;
  std::map<std::string, json> records_;
  std::vector<CheckedTx> accepted_;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitCrypto();
    Keystore ks(home(), KdfLimits::Min());  // fast KDF; the CLI reads the limits from the file
    auto a = ks.Add("alice", kPassphrase);
    auto b = ks.Add("bob", kPassphrase);
    ASSERT_TRUE(a.ok() && b.ok());
    alice_ = a->address;
    bob_ = b->address;
    node_.Start();
    chain_.SetNonce(alice_, 4);
  }
  // Stop serving before chain_ (which the handlers use) is destroyed.
  void TearDown() override { node_.Stop(); }
  std::string home() const { return tmp_.path() + "/home"; }
  std::vector<std::string> Env(bool with_passphrase = true) const {
    std::vector<std::string> env{"HOME=" + tmp_.path(), "V2G_HOME=" + home(),
                                 "V2G_NODE=" + node_.url()};
    if (with_passphrase) env.push_back(std::string("V2G_PASSPHRASE=") + kPassphrase);
    return env;
  }
  RunResult Run(const std::vector<std::string>& args, const std::string& input = "") {
    return RunCli(args, Env(), tmp_.path(), input);
  }

  TempDir tmp_;
  test::FakeNode node_;
  FakeChain chain_{node_};
  std::string alice_, bob_;
};

// Totals a node hid from this reader (issue 21: over fewer than 3 contributing owners, or one
// holding more than half) print as "hidden" with the node's reason, never as 0 or "?".
TEST_F(CliTest, TotalsTheNodeHidPrintAsHiddenWithItsReason) {
  const std::string reason =
      "fewer than 3 owners have contributed to it: its totals would say what each of them earned";
  const std::string manager = EncodeAddress(AddressFromPublicKey(
      KeyPair::FromSeed(Bytes(kSeedBytes, 44)).public_key()));  // not a key of this wallet
  const json cny = {{"denom", "CNY"}, {"amount", "1000"}, {"display", "10.00"}};
  chain_.SetRecord("/v1/pools/7", {{"id", 7},
                                   {"aggregator", manager},
                                   {"name", "vpp"},
                                   {"fee_bps", 500},
                                   {"member_count", 2},
                                   {"obligations_until_s", 0},
                                   {"fees_earned", nullptr},
                                   {"members_earned", nullptr},
                                   {"members", json::array()},
                                   {"hidden_rows", 2},
                                   {"private", true},
                                   {"private_reason", reason},
                                   {"readers", json::array({manager})}});
  RunResult pool = Run({"pool", "show", "7"});
  ASSERT_EQ(pool.exit_code, 0) << pool.err;
  EXPECT_NE(pool.out.find("fees earned      hidden\nmembers earned   hidden\n(totals hidden: " +
                          reason + ")\n"),
            std::string::npos)
      << pool.out;
  chain_.SetRecord("/v1/events/3", {{"id", 3},
                                    {"kind", "reverse_discharge"},
                                    {"zone", "Z1"},
                                    {"start_s", 1767225600},
                                    {"end_s", 1767226500},
                                    {"enrollment_deadline_s", 1767224700},
                                    {"baseline", ""},
                                    {"target_power_w", 50000},
                                    {"price", cny},
                                    {"budget", cny},
                                    {"grid_company", manager},
                                    {"enrollment_count", 2},
                                    {"status", "settled"},
                                    {"performance_wh", nullptr},
                                    {"owed", nullptr},
                                    {"paid", nullptr},
                                    {"returned", nullptr},
                                    {"enrollments", json::array()},
                                    {"hidden_rows", 2},
                                    {"private", true},
                                    {"private_reason", reason},
                                    {"readers", json::array({manager})}});
  RunResult event = Run({"event", "results", "3"});
  ASSERT_EQ(event.exit_code, 0) << event.err;
  for (const char* row : {"performance  hidden\n", "owed         hidden\n", "paid         hidden\n",
                          "returned     hidden\n"}) {
    EXPECT_NE(event.out.find(row), std::string::npos) << row << event.out;
  }
  EXPECT_NE(event.out.find("(totals hidden: " + reason + ")\n"), std::string::npos) << event.out;
}

TEST_F(CliTest, SendSignsAValidTransferAndPrintsTheResult) {
  RunResult r = Run({"send", "bob", "12.5", "CNY", "--from", "alice", "--memo", "lunch"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto txs = chain_.accepted();
  ASSERT_EQ(txs.size(), 1u);
  const CheckedTx& tx = txs[0];
  EXPECT_EQ(EncodeAddress(tx.signer), alice_);
  EXPECT_EQ(tx.body.nonce(), 5u);
  EXPECT_EQ(tx.body.memo(), "lunch");
  ASSERT_TRUE(tx.body.has_transfer());
  EXPECT_EQ(EncodeAddress(*AddressFromBytes(tx.body.transfer().to())), bob_);
  EXPECT_EQ(tx.body.transfer().denom(), "CNY");
  EXPECT_EQ(tx.body.transfer().amount(), 1250);
  EXPECT_NE(r.out.find("12.50 CNY"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(TxHashHex(tx.hash)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("height  7"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("result  ok"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "");
}

// Issue 12: every tx pays params.fee_min per fee unit; the wallet reads it from GET /v1/params and
// attaches it when the user names no --fee, and says so. Without it the node refuses the tx.
TEST_F(CliTest, SendAttachesTheFeeTheChainRequires) {
  chain_.SetFeeMin(3);
  RunResult r = Run({"send", "bob", "1", "CNY", "--from", "alice"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto txs = chain_.accepted();
  ASSERT_EQ(txs.size(), 1u);
  EXPECT_EQ(txs[0].body.fee().denom(), "CNY");
  EXPECT_EQ(txs[0].body.fee().amount(), 3);
  EXPECT_NE(r.out.find("fee     0.03 CNY"), std::string::npos) << r.out;
  RunResult j = Run({"--output", "json", "send", "bob", "1", "CNY", "--from", "alice"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  EXPECT_EQ(json::parse(j.out)["fee"]["amount"], "3");
  // A fee the user names is used as given; too little is the node's error, shown verbatim.
  RunResult low = Run({"send", "bob", "1", "CNY", "--from", "alice", "--fee", "0.01:CNY"});
  EXPECT_NE(low.exit_code, 0);
  EXPECT_NE(low.err.find("fee is 0.01 CNY; this chain requires at least 0.03 CNY"), std::string::npos) << low.err;
  // A node that claims a fee above what the wallet pays on its own (a lying node would have the
  // signer's balance burned) gets nothing signed; naming the fee still works.
  chain_.SetFeeMin(limits::kAutoFeeMinMax + 1);
  const size_t sent = chain_.accepted().size();
  RunResult dear = Run({"send", "bob", "1", "CNY", "--from", "alice"});
  EXPECT_NE(dear.exit_code, 0);
  EXPECT_NE(dear.err.find("requires a fee of 1.01 CNY per fee unit, more than the 1.00 CNY the wallet pays on its own"),
            std::string::npos)
      << dear.err;
  EXPECT_EQ(chain_.accepted().size(), sent);
  EXPECT_EQ(Run({"send", "bob", "1", "CNY", "--from", "alice", "--fee", "1.01:CNY"}).exit_code, 0);
}

// Issue 12: when the node's mempool is busy it suggests a higher rate (GET /v1/status
// mempool.fee_per_unit); the wallet pays it, up to kAutoFeeMinMax per unit on the node's word
// alone, and never less than fee_min.
TEST_F(CliTest, SendPaysTheRateABusyNodeSuggestsUpToTheCap) {
  chain_.SetFeeMin(3);
  chain_.SetSuggestedFee(7);
  ASSERT_EQ(Run({"send", "bob", "1", "CNY", "--from", "alice"}).exit_code, 0);
  chain_.SetSuggestedFee(1);  // below fee_min: fee_min
  ASSERT_EQ(Run({"send", "bob", "1", "CNY", "--from", "alice"}).exit_code, 0);
  chain_.SetSuggestedFee(limits::kAutoFeeMinMax * 50);  // a lying or flooded node: the cap
  ASSERT_EQ(Run({"send", "bob", "1", "CNY", "--from", "alice"}).exit_code, 0);
  auto txs = chain_.accepted();
  ASSERT_EQ(txs.size(), 3u);
  EXPECT_EQ(txs[0].body.fee().amount(), 7);
  EXPECT_EQ(txs[1].body.fee().amount(), 3);
  EXPECT_EQ(txs[2].body.fee().amount(), limits::kAutoFeeMinMax);
}

// `v2g status` says the suggested fee in the market denomination, not in its minimal units.
TEST_F(CliTest, StatusSaysTheSuggestedFeeInYuan) {
  chain_.SetSuggestedFee(150);
  RunResult r = Run({"status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(", fee 1.50 CNY per fee unit\n"), std::string::npos) << r.out;
}

TEST_F(CliTest, SendToAnAddressWithFeeAsJson) {
  RunResult r =
      Run({"--output", "json", "send", bob_, "3", "cny", "--from", "alice", "--fee", "0.01:CNY"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["status"], "committed");
  EXPECT_EQ(j["height"], kCommitHeight);
  EXPECT_EQ(j["op"]["to"], bob_);
  EXPECT_EQ(j["op"]["amount"], "300");
  EXPECT_EQ(j["op"]["display"], "3.00");
  EXPECT_EQ(j["fee"]["amount"], "1");
  auto txs = chain_.accepted();
  ASSERT_EQ(txs.size(), 1u);
  EXPECT_EQ(txs[0].body.fee().amount(), 1);
  EXPECT_EQ(txs[0].body.fee().denom(), "CNY");
}

TEST_F(CliTest, RejectedTxPrintsTheNodesErrorVerbatim) {
  RunResult r = Run({"send", "bob", "5000", "CNY", "--from", "alice"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: insufficient_funds: " + alice_ + " has 123456 CNY, needs 500000\n");
}

TEST_F(CliTest, TxThatFailsInTheBlockExitsOne) {
  chain_.SetOutcome(FakeChain::Outcome::kFailedInBlock);
  RunResult r = Run({"send", "bob", "1", "CNY", "--from", "alice"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("result  failed: insufficient_funds: balance changed before the block"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.err.find("failed: insufficient_funds"), std::string::npos) << r.err;
}

TEST_F(CliTest, TxNotCommittedInTimeSaysHowToCheck) {
  chain_.SetOutcome(FakeChain::Outcome::kPending);
  RunResult r = Run({"send", "bob", "1", "CNY", "--from", "alice"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("status  pending"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("not committed within 10000 ms"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("v2g tx show"), std::string::npos) << r.err;
}

TEST_F(CliTest, WrongPassphraseFailsCleanlyAndSendsNothing) {
  std::vector<std::string> env = Env(false);
  env.push_back("V2G_PASSPHRASE=nope");
  RunResult r = RunCli({"send", "bob", "1", "CNY", "--from", "alice"}, env, tmp_.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: wrong passphrase for key 'alice'\n");
  EXPECT_TRUE(chain_.accepted().empty());
}

TEST_F(CliTest, PassphraseFileWins) {
  WriteAll(tmp_.path() + "/pass", std::string(kPassphrase) + "\n");
  std::vector<std::string> env = Env(false);
  env.push_back("V2G_PASSPHRASE=nope");
  RunResult r =
      RunCli({"burn", "2", "PTS", "--from", "alice", "--passphrase-file", tmp_.path() + "/pass"},
             env, tmp_.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(chain_.accepted().size(), 1u);
  EXPECT_EQ(chain_.accepted()[0].body.burn().amount(), 2);
  EXPECT_NE(r.out.find("Burn 2 PTS from alice"), std::string::npos) << r.out;
}

TEST_F(CliTest, NoPassphraseAndNoTerminalIsAnError) {
  RunResult r = RunCli({"mint", "bob", "1", "CNY", "--from", "alice"}, Env(false), tmp_.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no terminal"), std::string::npos) << r.err;
}

TEST_F(CliTest, MintAndNoWait) {
  RunResult r = Run({"mint", "bob", "100", "PTS", "--from", "alice", "--no-wait"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(chain_.accepted().size(), 1u);
  EXPECT_TRUE(chain_.accepted()[0].body.has_mint());
  EXPECT_NE(r.out.find("status  pending"), std::string::npos) << r.out;
}

TEST_F(CliTest, BadAmountsAndDenomsAreErrors) {
  RunResult r = Run({"send", "bob", "12.555", "CNY", "--from", "alice"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("more than 2 decimal places"), std::string::npos) << r.err;
  r = Run({"send", "bob", "0", "CNY", "--from", "alice"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("greater than zero"), std::string::npos) << r.err;
  r = Run({"send", "bob", "1", "USD", "--from", "alice"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: unknown denomination 'USD' (this chain has: CNY, PTS)\n");
  r = Run({"send", "carol", "1", "CNY", "--from", "alice"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no key with that name"), std::string::npos) << r.err;
  r = Run({"send", "bob", "1", "CNY", "--from", "nobody"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: no key named 'nobody' in " + home() +
                       "/keys (another wallet: --home DIR or V2G_HOME; its keys: v2g keys list)\n");
  EXPECT_TRUE(chain_.accepted().empty());
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{},
                                               {"send", "bob"},
                                               {"send", "bob", "1", "CNY"},
                                               {"frobnicate"},
                                               {"keys"},
                                               {"--output", "yaml", "status"},
                                               {"status", "--bogus"}}) {
    RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 2) << ::testing::PrintToString(args) << r.err;
    EXPECT_FALSE(r.err.empty());
  }
  RunResult help = Run({"send", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--from"), std::string::npos);
}

TEST_F(CliTest, BalanceTextAndJson) {
  RunResult r = Run({"balance", "alice"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "alice (" + alice_ + ")\n  1234.56 CNY\n     7    PTS\n");
  r = Run({"balance", bob_, "--output", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["address"], bob_);
  EXPECT_EQ(j["balances"][0]["amount"], "123456");
  r = Run({"balance", "--output", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["accounts"].size(), 2u);
}

TEST_F(CliTest, TxShowAfterSend) {
  RunResult sent = Run(
      {"--output", "json", "send", "bob", "12.5", "CNY", "--from", "alice", "--fee", "0.05:CNY"});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  std::string hash = json::parse(sent.out)["hash"];
  RunResult r = Run({"tx", "show", hash});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("op      transfer 12.50 CNY to " + bob_), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fee     0.05 CNY"), std::string::npos) << r.out;
  r = Run({"tx", "show", std::string(64, '0')});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: not_found: no tx " + std::string(64, '0') + "\n");
}

TEST_F(CliTest, NodeDownIsAClearError) {
  const std::string url = "http://127.0.0.1:" + std::to_string(test::ClosedPort());
  RunResult r = Run({"status", "--node", url});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: cannot reach node at " + url + ": connection refused\n");
  r = Run({"status"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(kChainId), std::string::npos);
}

TEST_F(CliTest, KeysLifecycle) {
  // `keys add` uses the default (interactive) KDF cost: one of these is fine for a test.
  RunResult r = Run({"keys", "add", "carol"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Created key 'carol'"), std::string::npos);
  r = Run({"keys", "add", "carol"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: a key named 'carol' already exists\n");
  r = Run({"keys", "add", "bad/name"});
  EXPECT_EQ(r.exit_code, 1);

  r = Run({"keys", "list", "--output", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["keys"].size(), 3u);

  r = Run({"keys", "export", "alice"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string seed = r.out.substr(0, r.out.find('\n'));
  ASSERT_TRUE(Run({"keys", "delete", "alice", "--yes"}).exit_code == 0);
  r = Run({"keys", "show", "alice"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: no key named 'alice' in " + home() +
                       "/keys (another wallet: --home DIR or V2G_HOME; its keys: v2g keys list)\n");

  // Recover from the exported seed on stdin gives back the same address.
  r = Run({"keys", "add", "alice2", "--recover", "--output", "json"}, seed + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["address"], alice_);

  // Without --yes and without a terminal, delete refuses.
  r = Run({"keys", "delete", "bob"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--yes"), std::string::npos) << r.err;
  EXPECT_EQ(Run({"keys", "show", "bob"}).exit_code, 0);
}


// meter-sim refuses bad input before it touches a key or the node.
TEST_F(CliTest, MeterSimRejectsBadArgumentsAndBadCsvRows) {
  RunResult r = Run({"meter-sim", "--operator", "alice", "--owner", "bob", "--meters", "0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--meters must be 1.."), std::string::npos) << r.err;
  r = Run({"meter-sim", "--operator", "alice", "--owner", "bob", "--discharge-from", "60"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--discharge-from and --discharge-to go together"), std::string::npos) << r.err;
  r = Run({"meter-sim", "--operator", "alice", "--owner", "bob", "--discharge-from-unix", "1700000060",
           "--discharge-to-unix", "1700000000"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--discharge-from-unix and --discharge-to-unix go together"), std::string::npos) << r.err;
  r = Run({"meter-sim", "--operator", "alice", "--owner", "bob", "--until", "1700000000", "--backfill"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--until is for live runs"), std::string::npos) << r.err;
  r = Run({"meter-sim", "--operator", "alice", "--owner", "bob", "--soc-permille", "1001"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--soc-permille must be 0..1000"), std::string::npos) << r.err;
  const std::string csv = tmp_.path() + "/sessions.csv";
  WriteAll(csv,
           "arrival,departure,requested_energy (kWh),delivered_energy (kWh),station_id\n"
           "2019-05-01 01:18:45-07:00,2019-05-01 15:52:36,60.0,44.1,CA-1\n");
  r = Run({"meter-sim", "--operator", "alice", "--owner", "bob", "--sessions", csv});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(csv + ":2: column 'departure'"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace v2g
