// `v2g market ...` and `v2g contract ...`: the built v2g binary against a real node in this
// process (Store, Chain, Mempool, a single-validator BftEngine and the HTTP API on 127.0.0.1,
// port 0) whose genesis enables the market. What the CLI signs is checked by the real rules, and
// what it prints is read back from the chain.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "common/signbytes.h"
#include "common/time.h"
#include "contracts/market.h"
#include "contracts/meters.h"
#include "tests/wallet/cli_node_fixture.h"
#include "wallet/ocmf_signer.h"

namespace v2g::nodetest {
namespace {

using json = nlohmann::json;

class MarketCliTest : public CliNodeTest {
 protected:
  MarketCliTest() : CliNodeTest(EnableMarket, "market-cli-test") {}
};

// `v2g meter register`: with a device key in the keystore the CLI signs the device's proof of
// possession itself; with only a public key it needs the proof the device made, and a wrong one is
// refused by the chain.
// The node serves personal data only to signed readers (docs/API.md "Signed reads"); the wallet
// signs for its user with the key of an account the node names, so reads work unchanged, and
// `v2g get` reads any path.
// `v2g watch` follows GET /v1/stream: blocks, and the txs of an account read as its key (the
// wallet holds alice's): SetUp's send is alice's tx 1:1.
TEST_F(MarketCliTest, WatchFollowsBlocksAndTheTxsOfAnAccount) {
  test::CliResult r =
      Run({"--output", "json", "watch", "--from", "1", "--count", "3", "--account", "alice"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> events;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) events.push_back(json::parse(line));
  ASSERT_EQ(events.size(), 3u) << r.out;
  EXPECT_EQ(events[0]["id"], "1:0");
  EXPECT_EQ(events[0]["event"], "block");
  EXPECT_EQ(events[0]["data"]["num_txs"], 1);
  EXPECT_EQ(events[1]["id"], "1:1");
  EXPECT_EQ(events[1]["event"], "tx");
  EXPECT_EQ(events[1]["data"]["op"]["type"], "transfer") << events[1].dump();
  EXPECT_EQ(events[1]["data"]["signer"], EncodeAddress(AddrOf(k().alice)));
  EXPECT_EQ(events[2]["id"], "2:0");  // the meter's registration: the issuer's, not alice's

  test::CliResult text = Run({"watch", "--from", "1", "--count", "2", "--account", "alice"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(Contains(text.out, "block   1  ")) << text.out;
  EXPECT_TRUE(Contains(
      text.out, "tx      1:0  " + events[1]["data"]["hash"].get<std::string>() + "  transfer  ok"))
      << text.out;

  // The next block, as it commits.
  const int64_t next = node_->chain().Tip().height + 1;
  test::CliResult followed;
  // In a folder of its own: RunProgram keeps a program's stdout and stderr in files of its folder.
  const std::string watch_dir = tmp_.path() + "/watch";
  ASSERT_EQ(mkdir(watch_dir.c_str(), 0700), 0);
  std::thread watcher([&] {
    followed = test::RunProgram(
        V2G_CLI_PATH, {"watch", "--from", std::to_string(next), "--count", "1", "--types", "block"},
        {"HOME=" + tmp_.path(), "V2G_HOME=" + home(), "V2G_NODE=" + url(),
         std::string("V2G_PASSPHRASE=") + kPassphrase},
        watch_dir);
  });
  ASSERT_EQ(Run({"send", "carol", "1", "CNY", "--from", "alice"}).exit_code, 0);
  watcher.join();
  ASSERT_EQ(followed.exit_code, 0) << followed.err;
  EXPECT_TRUE(Contains(followed.out, "block   " + std::to_string(next) + "  ")) << followed.out;

  ExpectError({"watch", "--types", "nope"}, "types: 'nope' is not block, tx or market");
  ExpectError({"watch", "--meter", "bad id!"}, "'bad id!' is not a meter id");
}

TEST_F(MarketCliTest, PersonalReadsAreSignedForTheUser) {
  const std::string bob = EncodeAddress(AddrOf(k().bob));
  const std::string stranger = EncodeAddress(AddrOf(k().stranger));
  test::CliResult mine = Run({"get", "/v1/accounts/" + bob});
  ASSERT_EQ(mine.exit_code, 0) << mine.err;
  json j = json::parse(mine.out, nullptr, false);
  EXPECT_EQ(j["address"], bob);
  EXPECT_FALSE(j["balances"].empty()) << mine.out;
  // The wallet has no key of the stranger: the node's refusal, as it said it.
  ExpectError({"get", "/v1/accounts/" + stranger},
              "permission_denied: the balances of " + stranger + " is personal data: sign the request as one of " +
                  stranger);
  // --as signs as the key named, whoever the node would accept.
  ExpectError({"get", "--as", "alice", "/v1/accounts/" + bob},
              EncodeAddress(AddrOf(k().alice)) + " may not read the balances of " + bob);
  ExpectError({"get", "v1/status"}, "PATH must be an API path such as /v1/status");
  // The commands an owner runs read their own data signed: balance, the meter's readings and
  // registry entry (the reading state the public does not see).
  test::CliResult bal = Run({"balance", "bob"});
  EXPECT_EQ(bal.exit_code, 0) << bal.err;
  EXPECT_TRUE(Contains(bal.out, "CNY")) << bal.out;
  test::CliResult readings = Run({"meter", "readings", kMeter});
  EXPECT_EQ(readings.exit_code, 0) << readings.err;
  json shown = RunJson({"meter", "show", kMeter});
  EXPECT_FALSE(shown.contains("private")) << shown.dump();
  json listed = RunJson({"meter", "list", "--owner", "bob"});
  ASSERT_EQ(listed["meters"].size(), 1u) << listed.dump();
  EXPECT_EQ(listed["private_items"], 0) << listed.dump();  // read as bob, whole
  // An anonymous read of the same (no wallet key for it) is reduced, and says so.
  json pub = json::parse(test::RunProgram(V2G_CLI_PATH, {"get", std::string("/v1/meters/") + kMeter},
                                          {"HOME=" + tmp_.path(), "V2G_HOME=" + tmp_.path() + "/empty",
                                           "V2G_NODE=" + url()},
                                          tmp_.path())
                             .out,
                         nullptr, false);
  EXPECT_EQ(pub["private"], true) << pub.dump();
  EXPECT_TRUE(pub["last_reading"].is_null());
  // A tx is its signer's: a wallet of several keys not acting as one sees where it is, and how to
  // see the rest.
  json sent = RunJson({"send", "carol", "1", "CNY", "--from", "alice"});
  const std::string hash = sent.value("hash", "");
  ASSERT_EQ(hash.size(), 64u) << sent.dump();
  test::CliResult shown_tx = Run({"tx", "show", hash});
  EXPECT_EQ(shown_tx.exit_code, 0) << shown_tx.err;
  EXPECT_TRUE(Contains(shown_tx.out, "details  its signer's only: v2g tx show " + hash + " --as KEY")) << shown_tx.out;
  EXPECT_FALSE(Contains(shown_tx.out, "result")) << shown_tx.out;
  json whole = RunJson({"get", "--as", "alice", "/v1/txs/" + hash});
  EXPECT_EQ(whole["op"]["type"], "transfer") << whole.dump();
}

TEST_F(MarketCliTest, MeterRegisterProvesTheDeviceHoldsItsKey) {
  ASSERT_EQ(Run({"meter", "keygen", "dev9"}).exit_code, 0);
  test::CliResult ok = Run({"meter", "register", "ch-9", "--device", "dev9", "--kind", "charger", "--zone", "Z1",
                            "--owner", "bob", "--max-import-w", "7000", "--from", "issuer"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  ASSERT_TRUE(LoadMeter(node_->store().state(), "ch-9").has_value());
  // A public key alone: refused before anything is sent.
  const std::string pk = HexEncode(Key(31).public_key());
  test::CliResult no_proof = Run({"meter", "register", "ch-10", "--device", pk, "--zone", "Z1", "--owner", "bob",
                                  "--max-import-w", "7000", "--from", "issuer"});
  EXPECT_NE(no_proof.exit_code, 0);
  EXPECT_TRUE(Contains(no_proof.err, "--device-signature")) << no_proof.err;
  // A proof made by another key: the chain refuses the registration.
  const Signature wrong = SignMeterKeyProof(Key(32), kChainId, "ch-10", AddressFromPublicKey(Key(11).public_key()),
                                            AddressFromPublicKey(Key(3).public_key()));
  test::CliResult bad = Run({"meter", "register", "ch-10", "--device", pk, "--device-signature", HexEncode(wrong),
                             "--zone", "Z1", "--owner", "bob", "--max-import-w", "7000", "--from", "issuer"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_TRUE(Contains(bad.out + bad.err, "device signature")) << bad.out << bad.err;
  EXPECT_FALSE(LoadMeter(node_->store().state(), "ch-10").has_value());
}

// `v2g meter register --ocmf-pubkey[-file]` and `v2g meter submit-ocmf`: a certified charger's key
// from a PEM file, clear errors for mixed or missing options, and each record's verdict with a
// non-zero exit when any record is rejected.
TEST_F(MarketCliTest, OcmfMeterRegistersAndSubmitsRecordsThroughTheCli) {
  auto signer = OcmfSigner::Generate(OcmfCurve::kSecp256r1);
  ASSERT_TRUE(signer.ok());
  const std::string pem = tmp_.path() + "/oc.pem";
  std::ofstream(pem) << signer->PublicKeyPem();
  ExpectError({"meter", "register", "oc-1", "--ocmf-pubkey", "00ff", "--ocmf-serial", "SN", "--zone", "Z1", "--owner",
               "bob", "--max-import-w", "7000", "--from", "issuer"},
              "--ocmf-pubkey: ");
  ExpectError({"meter", "register", "oc-1", "--ocmf-pubkey-file", pem, "--device", "dev", "--ocmf-serial", "SN",
               "--zone", "Z1", "--owner", "bob", "--max-import-w", "7000", "--from", "issuer"},
              "no --device");
  ExpectError({"meter", "register", "oc-1", "--ocmf-pubkey-file", pem, "--zone", "Z1", "--owner", "bob",
               "--max-import-w", "7000", "--from", "issuer"},
              "--ocmf-serial");
  ExpectError({"meter", "register", "oc-1", "--zone", "Z1", "--owner", "bob", "--max-import-w", "7000", "--from",
               "issuer"},
              "--device");
  ExpectError({"meter", "register", "oc-1", "--ocmf-pubkey-file", pem, "--ocmf-serial", "SN-1", "--zone", "Z1",
               "--owner", "bob", "--max-import-w", "7000", "--from", "issuer"},
              "--ocmf-proof");
  ExpectError({"meter", "register", "oc-1", "--device", "dev", "--ocmf-serial", "SN-1", "--zone", "Z1", "--owner",
               "bob", "--max-import-w", "7000", "--from", "issuer"},
              "--ocmf-pubkey");
  // The meter's proof: a record it signed whose ID is what `v2g meter ocmf-id` prints.
  test::CliResult id = Run({"meter", "ocmf-id", "oc-1", "--owner", "bob", "--from", "issuer"});
  ASSERT_EQ(id.exit_code, 0) << id.err;
  const std::string want_id = OcmfRegistrationId(kChainId, "oc-1", AddressBytes(AddressFromPublicKey(Key(11).public_key())),
                                                 AddressBytes(AddressFromPublicKey(Key(3).public_key())));
  EXPECT_EQ(id.out, want_id + "\n");
  const std::string proof = tmp_.path() + "/proof.ocmf";
  std::ofstream(proof) << SignOcmfProofRecord(*signer, "SN-1", want_id, node_->chain().Tip().time_ms) << "\n";
  test::CliResult reg = Run({"meter", "register", "oc-1", "--ocmf-pubkey-file", pem, "--ocmf-serial", "SN-1",
                             "--ocmf-proof", proof, "--zone", "Z1", "--owner", "bob", "--max-import-w", "7000",
                             "--max-export-w", "7000", "--from", "issuer"});
  ASSERT_EQ(reg.exit_code, 0) << reg.err;
  auto m = LoadMeter(node_->store().state(), "oc-1");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->key_type(), pb::METER_KEY_OCMF);
  EXPECT_EQ(m->device_pubkey(), signer->PublicKeyDer());
  test::CliResult show = Run({"meter", "show", "oc-1"});
  EXPECT_TRUE(Contains(show.out, "ocmf")) << show.out;

  // Two records a second apart after the registration (inside the 60 s skew); the second forged.
  const int64_t t = node_->chain().Tip().time_ms;
  auto record = [&](const std::string& pg, int64_t from_ms, const std::string& from, int64_t to_ms,
                    const std::string& to, const OcmfSigner& key) {
    OcmfPayloadSpec spec;
    spec.pg = pg;
    spec.ms = "SN-1";
    spec.readings = {{FormatOcmfTime(from_ms, 60, 'S'), "B", from}, {FormatOcmfTime(to_ms, 60, 'S'), "E", to}};
    return key.SignRecord(BuildOcmfPayload(spec));
  };
  auto other = OcmfSigner::Generate(OcmfCurve::kSecp256r1);
  ASSERT_TRUE(other.ok());
  const std::string file = tmp_.path() + "/records.ocmf";
  std::ofstream(file) << record("T1", t + 1000, "3.000", t + 2000, "3.001", *signer) << "\r\n\n"
                      << record("T2", t + 2000, "3.001", t + 3000, "3.002", *other) << "\n";
  test::CliResult sub = Run({"meter", "submit-ocmf", file, "--meter", "oc-1", "--from", "alice"});
  EXPECT_EQ(sub.exit_code, 1) << sub.out << sub.err;
  EXPECT_TRUE(Contains(sub.out, "record 1 (T1)  accepted")) << sub.out;
  EXPECT_TRUE(Contains(sub.out, "REJECTED: reading_bad_signature")) << sub.out;
  EXPECT_TRUE(Contains(sub.err, "1 of 2 records were rejected")) << sub.err;
  EXPECT_EQ(LoadMeter(node_->store().state(), "oc-1")->ocmf().records_accepted(), 1u);
  ASSERT_TRUE(LoadOcmfRecord(node_->store().state(), "oc-1", "T1").has_value());
  // More records than one tx carries: sent as several txs, in order, every one accepted.
  std::string many;
  for (int i = 0; i < 40; ++i) {
    OcmfPayloadSpec spec;
    spec.pg = "T" + std::to_string(2 + i);
    spec.ms = "SN-1";
    spec.readings = {{FormatOcmfTime(t + 3000 + 10 * i, 60, 'S'), "T", "3.00" + std::to_string(2 + i / 10)}};
    many += signer->SignRecord(BuildOcmfPayload(spec)) + "\n";
  }
  std::ofstream(tmp_.path() + "/many.ocmf") << many;
  test::CliResult batch = Run({"meter", "submit-ocmf", tmp_.path() + "/many.ocmf", "--meter", "oc-1", "--from", "alice"});
  EXPECT_EQ(batch.exit_code, 0) << batch.out << batch.err;
  EXPECT_TRUE(Contains(batch.out, "(records 33-40 of 40)")) << batch.out;
  EXPECT_FALSE(Contains(batch.out, "REJECTED")) << batch.out;
  EXPECT_EQ(LoadMeter(node_->store().state(), "oc-1")->ocmf().records_accepted(), 41u);
  // Its attested energy per interval, in columns (right-aligned: every row as long as the header).
  test::CliResult readings = Run({"meter", "readings", "oc-1"});
  ASSERT_EQ(readings.exit_code, 0) << readings.err;
  std::vector<std::string> lines;
  for (size_t at = 0, nl; (nl = readings.out.find('\n', at)) != std::string::npos; at = nl + 1) {
    lines.push_back(readings.out.substr(at, nl - at));
  }
  ASSERT_GE(lines.size(), 3u) << readings.out;
  EXPECT_EQ(lines[1].rfind("INTERVAL START", 0), 0u) << readings.out;
  EXPECT_TRUE(Contains(lines[1], "IMPORT     EXPORT  READINGS")) << readings.out;
  // The first interval is the one of the first record, its start in the market's zone.
  EXPECT_EQ(lines[2].rfind(FormatTimeS((t + 1000) / 1000 / 900 * 900) + "  ", 0), 0u) << readings.out;
  for (size_t i = 2; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].size(), lines[1].size()) << readings.out;
    EXPECT_TRUE(Contains(lines[i], " kWh  ")) << readings.out;
  }
  // Nothing to send, or no such file: errors before anything is signed.
  const std::string empty = tmp_.path() + "/empty.ocmf";
  std::ofstream(empty) << "\n";
  ExpectError({"meter", "submit-ocmf", empty, "--meter", "oc-1", "--from", "alice"}, "no OCMF records");
  ExpectError({"meter", "submit-ocmf", tmp_.path() + "/missing", "--meter", "oc-1", "--from", "alice"}, "cannot read");
}

TEST_F(MarketCliTest, BuySellBookOrdersAndCancel) {
  const int64_t s = Next();
  test::CliResult buy = Run({"market", "buy", "--from", "alice", "--zone", "Z1", "--interval",
                             "next", "--energy-wh", "3000", "--price", "1"});
  ASSERT_EQ(buy.exit_code, 0) << buy.err;
  EXPECT_TRUE(Contains(buy.out, "Buy 3.000 kWh at up to 1.00 CNY/kWh in zone Z1 (alice)\n"));
  EXPECT_TRUE(Contains(buy.out, "interval     " + FormatTimeS(s) + ", 15 min; gate closes " +
                                    FormatTimeS(s - 300) + "\n"));
  EXPECT_TRUE(Contains(buy.out, "locks        3.00 CNY escrow until clearing and settlement\n"));
  EXPECT_TRUE(Contains(buy.out, "result       ok\n"));
  EXPECT_TRUE(Contains(buy.out, "order        1\n"));
  EXPECT_TRUE(Contains(buy.out, "locked       3.00 CNY escrow\n"));
  EXPECT_TRUE(Contains(buy.out, "cancel with  v2g market cancel --from alice 1\n"));
  auto o1 = LoadOrder(node_->store().state(), 1);
  ASSERT_TRUE(o1.has_value());
  EXPECT_EQ(o1->side(), pb::SIDE_BUY);
  EXPECT_EQ(o1->interval_start_s(), s);
  EXPECT_EQ(o1->energy_wh(), 3000);
  EXPECT_EQ(o1->limit_price(), 100);
  EXPECT_EQ(o1->locked(), 300);

  // The same interval named three other ways; the sell as JSON.
  json sell = RunJson({"market", "sell", "--from", "bob", "--meter", kMeter, "--zone", "Z1",
                       "--interval", FormatRfc3339Ms(s * 1000), "--energy-wh", "2000", "--price",
                       "0.9", "--memo", "evening"});
  EXPECT_EQ(sell["status"], "committed");
  EXPECT_EQ(sell["code"], 0);
  EXPECT_EQ(sell["created_id"], 2);
  EXPECT_EQ(sell["locked"], json({{"denom", "CNY"}, {"amount", "18"}, {"display", "0.18"}}));
  EXPECT_EQ(sell["order"]["meter_id"], kMeter);
  EXPECT_EQ(sell["order"]["status"], "open");
  EXPECT_EQ(sell["op"]["interval_start_s"], s);
  EXPECT_EQ(sell["op"]["limit_price"]["amount"], "90");
  EXPECT_EQ(sell["memo"], "evening");
  test::CliResult shown = Run({"tx", "show", sell["hash"].get<std::string>(), "--as", "bob"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_TRUE(Contains(shown.out, "created id  2\n"));
  EXPECT_TRUE(Contains(
      shown.out, "op          place_order sell 2.000 kWh at 0.90 CNY/kWh, zone Z1, interval " +
                     FormatTimeS(s) + ", meter ev-bob\n"));
  EXPECT_EQ(Run({"market", "buy", "--from", "carol", "--zone", "Z1", "--interval",
                 std::to_string(s + 900), "--energy-wh", "1000", "--price", "0.01"})
                .err,
            "error: insufficient_funds: " + EncodeAddress(AddrOf(k().carol)) +
                " needs 0.01 CNY of escrow for this buy and has 0.00 CNY\n");
  const int64_t s_later = Next() + 900;
  json later = RunJson({"market", "buy", "--from", "alice", "--zone", "Z1", "--interval", "next+1",
                        "--energy-wh", "500", "--price", "0.5"});
  EXPECT_EQ(later["created_id"], 3);
  EXPECT_EQ(later["op"]["interval_start_s"], s_later);

  test::CliResult book = Run({"market", "book", "--zone", "Z1", "--interval", std::to_string(s)});
  ASSERT_EQ(book.exit_code, 0) << book.err;
  EXPECT_TRUE(Contains(
      book.out, "market        Z1, interval " + FormatTimeS(s) + "\n"));
  EXPECT_TRUE(Contains(book.out, "status        open\n"));
  EXPECT_TRUE(Contains(book.out, "orders        1 buy, 1 sell (ever placed)\n"));
  EXPECT_TRUE(Contains(book.out,
                       "Bids (buy, highest first)\n"
                       "       PRICE     ENERGY  CUMULATIVE  ORDERS\n"
                       "1.00 CNY/kWh  3.000 kWh   3.000 kWh       1\n"));
  EXPECT_TRUE(Contains(book.out,
                       "Asks (sell, lowest first)\n"
                       "       PRICE     ENERGY  CUMULATIVE  ORDERS\n"
                       "0.90 CNY/kWh  2.000 kWh   2.000 kWh       1\n"));
  json book_json = RunJson({"market", "book", "--zone", "Z1", "--interval", std::to_string(s)});
  EXPECT_EQ(book_json["depth"]["bids"][0]["energy_wh"], 3000);

  test::CliResult orders = Run({"market", "orders", "alice"});
  ASSERT_EQ(orders.exit_code, 0) << orders.err;
  EXPECT_TRUE(Contains(orders.out, "alice (" + EncodeAddress(AddrOf(k().alice)) +
                                       ")\n"
                                       "ID  SIDE  ZONE  INTERVAL                 ENERGY   LIMIT "
                                       "PRICE  STATUS     FILLED    LOCKED  METER\n"));
  EXPECT_TRUE(Contains(orders.out, " 1  buy   Z1    " + FormatTimeS(s) +
                                       "  3.000 kWh  1.00 CNY/kWh  open    0.000 kWh  3.00 CNY\n"));
  json all = RunJson({"market", "orders"});
  ASSERT_EQ(all["accounts"].size(), 4u);  // every key

  test::CliResult trades =
      Run({"market", "trades", "--zone", "Z1", "--interval", std::to_string(s)});
  ASSERT_EQ(trades.exit_code, 0) << trades.err;
  EXPECT_TRUE(Contains(trades.out, "No trades\n"));
  test::CliResult results =
      Run({"market", "results", "--zone", "Z1", "--from", std::to_string(s - 900)});
  ASSERT_EQ(results.exit_code, 0) << results.err;
  EXPECT_TRUE(Contains(results.out,
                       "INTERVAL              ZONE  STATUS  PRICE  CLEARED  TRADES  CONTRACTS  "
                       "DELIVERED  ORDERS B/S\n"));
  EXPECT_TRUE(
      Contains(results.out,
               FormatTimeS(s) +
                   "  Z1    open        -        -       -  0.000 kWh          -         1/1\n"));

  test::CliResult cancel = Run({"market", "cancel", "--from", "alice", "1"});
  ASSERT_EQ(cancel.exit_code, 0) << cancel.err;
  EXPECT_TRUE(Contains(cancel.out, "Cancel order 1\n"));
  EXPECT_TRUE(Contains(cancel.out, "refunded  3.00 CNY\n"));
  EXPECT_EQ(LoadOrder(node_->store().state(), 1)->status(), pb::ORDER_CANCELLED);
  ExpectError({"market", "cancel", "--from", "alice", "1"},
              "error: order_not_open: order 1 is cancelled\n");
  ExpectError({"market", "cancel", "--from", "bob", "3"},
              "error: unauthorized: order 3 is not an order of " + EncodeAddress(AddrOf(k().bob)) + "\n");
}

TEST_F(MarketCliTest, ContractsFromProposalToAcceptance) {
  json prop = RunJson({"contract", "propose", "--from", "bob", "--to", "alice", "--side", "sell",
                       "--zone", "Z1", "--interval", "next", "--energy-wh", "1000", "--price",
                       "0.95", "--meter", kMeter});
  EXPECT_EQ(prop["created_id"], 1);
  EXPECT_EQ(prop["contract"]["status"], "proposed");
  EXPECT_EQ(prop["contract"]["seller"], EncodeAddress(AddrOf(k().bob)));
  ExpectError({"contract", "accept", "--from", "alice", "1", "--meter", kMeter},
              "error: you buy in contract 1: only the seller names a meter\n");
  // Only its parties may read it: carol learns it is not hers, not whose it is.
  ExpectError({"contract", "accept", "--from", "carol", "1"},
              "error: contract 1 was not proposed to carol (" + EncodeAddress(AddrOf(k().carol)) +
                  "): only its parties may read or accept it");
  test::CliResult acc = Run({"contract", "accept", "--from", "alice", "1"});
  ASSERT_EQ(acc.exit_code, 0) << acc.err;
  EXPECT_TRUE(
      Contains(acc.out, "Accept contract 1: buy 1.000 kWh at 0.95 CNY/kWh from bob in zone Z1\n"));
  EXPECT_TRUE(Contains(acc.out, "locked    0.95 CNY escrow\n"));
  EXPECT_EQ(LoadContract(node_->store().state(), 1)->status(), pb::CONTRACT_ACCEPTED);
  ExpectError({"contract", "accept", "--from", "alice", "1"},
              "error: contract 1 is accepted: only a proposed contract can be accepted\n");

  // Alice asks to buy from bob; bob must name his meter to accept; alice withdraws instead.
  test::CliResult p2 = Run({"contract", "propose", "--from", "alice", "--to",
                            EncodeAddress(AddrOf(k().bob)), "--side", "buy", "--zone", "Z1",
                            "--interval", "next+2", "--energy-wh", "500", "--price", "1.10"});
  ASSERT_EQ(p2.exit_code, 0) << p2.err;
  EXPECT_TRUE(Contains(
      p2.out, "value          0.55 CNY; nothing is locked until the counterparty accepts\n"));
  EXPECT_TRUE(Contains(p2.out, "contract       2\n"));
  EXPECT_TRUE(Contains(p2.out, "accept with    v2g contract accept --from bob 2 --meter METER\n"));
  ExpectError({"contract", "accept", "--from", "bob", "2"},
              "error: you sell in contract 2: name the meter that delivers with --meter\n");
  test::CliResult list = Run({"contract", "list", "bob"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(Contains(list.out, " 2  sell (offered)   alice"));
  EXPECT_TRUE(Contains(list.out, " 1  sell (proposed)  alice"));
  EXPECT_TRUE(Contains(list.out, "accepted"));
  ASSERT_EQ(Run({"contract", "cancel", "--from", "alice", "2"}).exit_code, 0);
  EXPECT_EQ(LoadContract(node_->store().state(), 2)->status(), pb::CONTRACT_CANCELLED);
  json mine = RunJson({"contract", "list", "alice"});
  ASSERT_EQ(mine["orders"].size(), 2u);
  EXPECT_EQ(mine["orders"][0]["status"], "cancelled");
  EXPECT_EQ(RunJson({"market", "orders", "alice"})["orders"],
            json::array());  // contracts are not orders
}

TEST_F(MarketCliTest, BadArgumentsAreClearErrorsAndSendNothing) {
  const std::vector<std::string> buy{"market", "buy", "--from",      "alice",
                                     "--zone", "Z1",  "--energy-wh", "100"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = buy;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const int64_t height = node_->chain().Tip().height;
  ExpectError(with({"--interval", "next", "--price", "0.855"}),
              "error: --price '0.855' has more than 2 decimal places (a price in CNY per kWh, 2 "
              "decimals)\n");
  ExpectError(with({"--interval", "next", "--price", "0"}),
              "error: --price must be greater than zero\n");
  ExpectError(with({"--interval", "next", "--price=-1"}),
              "error: --price '-1' is not a plain decimal number");
  ExpectError(with({"--interval", "next", "--price", "cheap"}),
              "error: --price 'cheap' is not a plain decimal number");
  ExpectError(with({"--interval", "1767229201", "--price", "1"}),
              "error: --interval 1767229201 is not the start of a 900 s delivery interval");
  ExpectError(with({"--interval", "soon", "--price", "1"}),
              "error: --interval 'soon' is not a time");
  ExpectError(with({"--interval", "next+x", "--price", "1"}),
              "must be next or next+K with K from 0 to 672");
  ExpectError(with({"--interval", "2026-01-01T00:00:00Z", "--price", "1"}),
              "error: gate_closed: orders for the interval starting 2026-01-01T00:00:00Z closed at "
              "2025-12-31T23:55:00Z, 5 minutes before it");
  ExpectError({"market", "buy", "--from", "alice", "--zone", "Z 1", "--energy-wh", "100",
               "--interval", "next", "--price", "1"},
              "error: --zone 'Z 1' is not a zone name");
  ExpectError({"market", "buy", "--from", "alice", "--zone", "Z1", "--energy-wh", "0", "--interval",
               "next", "--price", "1"},
              "error: --energy-wh must be 1..1000000000 (Wh), got 0\n");
  ExpectError({"market", "sell", "--from", "bob", "--meter", "bad meter", "--zone", "Z1",
               "--energy-wh", "1", "--interval", "next", "--price", "1"},
              "is not a meter id");
  ExpectError({"market", "sell", "--from", "alice", "--meter", kMeter, "--zone", "Z1",
               "--energy-wh", "100", "--interval", "next", "--price", "1"},
              "error: unauthorized: meter 'ev-bob' belongs to");
  ExpectError({"market", "buy", "--from", "alice", "--zone", "Z1", "--energy-wh", "1", "--interval", "next",
               "--price", "1"},
              "error: invalid_argument: place_order: 1 Wh at 1.00 CNY per kWh is worth less than 0.01 CNY");
  test::CliResult zero = Run({"market", "cancel", "--from", "alice", "0"});
  EXPECT_EQ(zero.exit_code, 2);  // a usage error: nothing asked of the node
  EXPECT_TRUE(Contains(zero.err, "ORDER_ID: an id is a whole number from 1 up (as 'list' shows it), got '0'")) << zero.err;
  ExpectError({"market", "trades"},
              "error: give --zone and --interval (one market) or --account (one account)");
  ExpectError({"market", "trades", "--zone", "Z1"},
              "error: --zone and --interval go together (one market)\n");
  ExpectError({"market", "trades", "--zone", "Z1", "--interval", "next", "--account", "alice"},
              "not both");
  ExpectError({"market", "trades", "--account", "nobody"}, "no key with that name");
  test::CliResult empty = Run({"market", "book", "--zone", "Z1", "--interval", "next+5"});
  EXPECT_EQ(empty.exit_code, 0) << empty.err;  // an empty book, not an error
  EXPECT_TRUE(Contains(empty.out, "status        empty (no orders or contracts yet)\n")) << empty.out;
  ExpectError({"market", "results", "--from", "yesterday"},
              "error: --from 'yesterday' is not a time");
  ExpectError({"market", "results", "--from", "1767229200", "--to", "1767229200"},
              "--to must be later than --from");
  ExpectError({"contract", "propose", "--from", "alice", "--to", "bob", "--side", "lend", "--zone",
               "Z1", "--interval", "next", "--energy-wh", "1", "--price", "1"},
              "error: --side must be sell or buy");
  ExpectError({"contract", "propose", "--from", "alice", "--to", "bob", "--side", "buy", "--zone",
               "Z1", "--interval", "next", "--energy-wh", "1", "--price", "1", "--meter", kMeter},
              "error: --meter names the meter that delivers: only with --side sell\n");
  ExpectError({"contract", "propose", "--from", "bob", "--to", "alice", "--side", "sell", "--zone",
               "Z1", "--interval", "next", "--energy-wh", "1", "--price", "1"},
              "is not a meter id");
  ExpectError({"contract", "accept", "--from", "alice", "99"}, "error: not_found: no contract 99");
  for (const std::vector<std::string>& usage :
       {std::vector<std::string>{"market"},
        {"market", "buy", "--from", "alice", "--zone", "Z1"},
        {"market", "cancel", "--from", "alice", "abc"},
        {"market", "buy", "--from", "alice", "--zone", "Z1", "--interval", "next", "--energy-wh",
         "lots", "--price", "1"},
        {"contract", "accept", "1"}}) {
    test::CliResult r = Run(usage);
    EXPECT_EQ(r.exit_code, 2) << ::testing::PrintToString(usage) << r.err;
  }
  EXPECT_EQ(node_->chain().Tip().height, height);  // nothing was committed
}

}  // namespace
}  // namespace v2g::nodetest
