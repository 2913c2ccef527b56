// The wallet speaks its users' language (issue 20), each item shown with the built v2g against a
// real node in this process: money in yuan with what it is for, times in the market's time zone,
// an empty market as an empty book, mistakes caught before they cost anything (did you mean,
// negative ids, the key's folder, passphrase files, weak passphrases, confirmation, zones), and
// the output conventions (submitted, JSON errors, battery unknown, key kinds, no https).
#include <gtest/gtest.h>

#include <fstream>

#include "common/time.h"
#include "contracts/meters.h"
#include "tests/wallet/cli_node_fixture.h"

namespace v2g::nodetest {
namespace {

constexpr int32_t kChina = 8 * 60;

class UxCliTest : public CliNodeTest {
 protected:
  UxCliTest()
      : CliNodeTest(
            [](GenesisState& g) {
              EnableMarket(g);
              g.params.utc_offset_min = kChina;
            },
            "ux-cli-test") {}
  std::string Local(int64_t s) const {
    std::string t = FormatRfc3339LocalMs(s * 1000, kChina);
    t[10] = ' ';
    return t;
  }
};

// 1. Money in display units, with what it is for.
TEST_F(UxCliTest, InsufficientCollateralIsSaidInYuanWithWhatItIsFor) {
  // 5 kWh at 2,000.00 CNY/kWh: 1,000.00 CNY of collateral (10 %); bob holds 100.00 CNY.
  test::CliResult r = Run({"market", "sell", "--zone", "Z1", "--interval", "next", "--energy-wh", "5000", "--price",
                           "2000", "--meter", kMeter, "--from", "bob"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(Contains(r.err, "needs 1000.00 CNY of collateral for this sell and has 100.00 CNY")) << r.err;
  EXPECT_FALSE(Contains(r.err, "minimal units")) << r.err;
}

TEST_F(UxCliTest, ATxLogSaysCentsAsCents) {
  const int64_t s = Next();
  const json j = RunJson({"market", "buy", "--zone", "Z1", "--interval", std::to_string(s), "--energy-wh", "1000",
                          "--price", "0.05", "--from", "alice"});
  EXPECT_EQ(j.value("log", ""), "buy order 1 placed; 0.05 CNY locked") << j.dump();
  test::CliResult shown = Run({"tx", "show", j.value("hash", ""), "--as", "alice"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_TRUE(Contains(shown.out, "log         buy order 1 placed; 0.05 CNY locked\n")) << shown.out;
  // The op's interval in the market's time zone, as everywhere the wallet prints a time.
  EXPECT_TRUE(Contains(shown.out, "interval " + Local(s))) << shown.out;
}

// 2. Times in the market's time zone, in refusals too, and accepted by every time flag.
TEST_F(UxCliTest, MarketNotOpenSaysWhenInLocalTime) {
  const int64_t far = Next() + 3 * 86400;
  test::CliResult r = Run({"market", "buy", "--zone", "Z1", "--interval", std::to_string(far), "--energy-wh", "1000",
                           "--price", "0.05", "--from", "alice"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(Contains(r.err, "open at " + FormatRfc3339LocalMs((far - 86400) * 1000, kChina) + ", 24 hours before it"))
      << r.err;
  EXPECT_TRUE(Contains(r.err, "the latest interval open now starts at")) << r.err;
}

TEST_F(UxCliTest, StatusAndMeterShowSayTimesInTheMarketsZone) {
  const int64_t block_s = node_->chain().Tip().time_ms / 1000;
  test::CliResult status = Run({"status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_TRUE(Contains(status.out, "block time       " + Local(block_s) + "\n")) << status.out;
  test::CliResult shown = Run({"meter", "show", kMeter});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const int64_t registered_ms = LoadMeter(node_->store().state(), kMeter)->registered_time_ms();
  EXPECT_TRUE(Contains(shown.out, ", " + Local(registered_ms / 1000) + "\n")) << shown.out;
  EXPECT_FALSE(Contains(shown.out, "Z\n")) << shown.out;
}

TEST_F(UxCliTest, MeterReadingsTakeRfc3339Times) {
  test::CliResult ok = Run({"meter", "readings", kMeter, "--from", "2026-01-01T08:00:00+08:00", "--to",
                            "2026-01-02T00:00:00Z"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  test::CliResult bad = Run({"meter", "readings", kMeter, "--from", "2026-13-01T00:00:00Z"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(Contains(bad.err, "--from")) << bad.err;
  test::CliResult inverted = Run({"meter", "readings", kMeter, "--from", "2026-01-02T00:00:00Z", "--to",
                                  "2026-01-01T00:00:00Z"});
  EXPECT_EQ(inverted.exit_code, 1);
  EXPECT_TRUE(Contains(inverted.err, "--to must be later than --from")) << inverted.err;
}

TEST_F(UxCliTest, TheBookShowsTimesInTheMarketsZoneWithoutUnixSeconds) {
  test::CliResult r = Run({"market", "book", "--zone", "Z1", "--interval", "next"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, Local(Next()))) << r.out;
  EXPECT_FALSE(Contains(r.out, std::to_string(Next()))) << r.out;
}

// 3. An empty market is an empty book.
TEST_F(UxCliTest, AnEmptyMarketIsAnEmptyBook) {
  test::CliResult r = Run({"market", "book", "--zone", "Z1", "--interval", "next"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "empty (no orders or contracts yet)")) << r.out;
  EXPECT_FALSE(Contains(r.out, "clearing price")) << r.out;
}

// 4. Mistakes caught before they cost anything.
TEST_F(UxCliTest, UnknownCommandsAndOptionsGetDidYouMean) {
  test::CliResult cmd = Run({"markte", "book"});
  EXPECT_EQ(cmd.exit_code, 2);
  EXPECT_TRUE(Contains(cmd.err, "unknown command 'markte' for v2g: did you mean 'market'?")) << cmd.err;
  test::CliResult sub = Run({"market", "bok", "--zone", "Z1"});
  EXPECT_EQ(sub.exit_code, 2);
  EXPECT_TRUE(Contains(sub.err, "did you mean 'book'?")) << sub.err;
  test::CliResult flag = Run({"market", "book", "--zome", "Z1", "--interval", "next"});
  EXPECT_EQ(flag.exit_code, 2);
  EXPECT_TRUE(Contains(flag.err, "unknown option --zome: did you mean --zone or --home?")) << flag.err;
  test::CliResult close = Run({"market", "book", "--intervall", "next", "--zone", "Z1"});
  EXPECT_EQ(close.exit_code, 2);
  EXPECT_TRUE(Contains(close.err, "unknown option --intervall: did you mean --interval?")) << close.err;
}

TEST_F(UxCliTest, NegativeIdsAreRefusedNotWrapped) {
  test::CliResult r = Run({"market", "cancel", "-1", "--from", "bob"});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_TRUE(Contains(r.err, "an id is a whole number from 1 up")) << r.err;
  EXPECT_FALSE(Contains(r.err + r.out, "18446744073709551615"));
  EXPECT_EQ(Run({"contract", "accept", "0", "--from", "bob"}).exit_code, 2);
}

TEST_F(UxCliTest, ANodeRefusalNamesTheOptionThatSetTheField) {
  test::CliResult r =
      Run({"meter", "register", "ev-x", "--device", HexEncode(Key(31).public_key()), "--device-signature",
           HexEncode(SignMeterKeyProof(Key(31), kChainId, "ev-x", AddressFromPublicKey(Key(11).public_key()),
                                       AddressFromPublicKey(Key(3).public_key()))),
           "--kind", "vehicle", "--zone", "Z1", "--owner", "bob", "--max-import-w", "7000", "--max-export-w", "7000",
           "--capacity-wh", "999999999", "--from", "issuer"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(Contains(r.err, "--capacity-wh [battery_capacity_wh] must be")) << r.err;
}

TEST_F(UxCliTest, AMissingKeyNamesTheWalletFolder) {
  test::CliResult r = Run({"send", "alice", "1", "CNY", "--from", "nobody"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "no key named 'nobody' in " + home() + "/keys (another wallet: --home DIR or V2G_HOME"))
      << r.err;
}

TEST_F(UxCliTest, APassphraseFileEndingInWhitespaceSaysSo) {
  const std::string file = tmp_.path() + "/pass";
  std::ofstream(file) << kPassphrase << " \n";
  test::CliResult r = Run({"send", "alice", "1", "CNY", "--from", "bob", "--passphrase-file", file});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "warning: the passphrase in " + file + " ends with whitespace")) << r.err;
}

TEST_F(UxCliTest, AWeakPassphraseGetsAWarning) {
  const std::string file = tmp_.path() + "/weak";
  std::ofstream(file) << "abc\n";
  test::CliResult r = Run({"keys", "add", "dave", "--passphrase-file", file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.err, "warning: this passphrase is weak (shorter than 10 characters)")) << r.err;
  // A strong one does not.
  test::CliResult strong = Run({"keys", "add", "erin"});  // V2G_PASSPHRASE "open sesame"
  ASSERT_EQ(strong.exit_code, 0) << strong.err;
  EXPECT_FALSE(Contains(strong.err, "weak")) << strong.err;
}

TEST_F(UxCliTest, DeactivatingAMeterAsksFirst) {
  test::CliResult r = Run({"meter", "deactivate", kMeter, "--from", "issuer"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "refusing to deactivate meter 'ev-bob' without confirmation: pass --yes")) << r.err;
  // Nothing was sent: the meter is still active. With --yes it is deactivated.
  EXPECT_EQ(RunJson({"meter", "show", kMeter})["active"], true);
  test::CliResult yes = Run({"meter", "deactivate", kMeter, "--from", "issuer", "--yes"});
  EXPECT_EQ(yes.exit_code, 0) << yes.err;
  EXPECT_EQ(RunJson({"meter", "show", kMeter})["active"], false);
}

TEST_F(UxCliTest, AZoneInAnotherCaseIsRefusedWithItsName) {
  test::CliResult r = Run({"market", "buy", "--zone", "z1", "--interval", "next", "--energy-wh", "1000", "--price",
                           "0.05", "--from", "alice"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "no zone 'z1' on this chain; did you mean Z1? (zone names are case-sensitive)")) << r.err;
  test::CliResult empty = Run({"market", "buy", "--zone", "Z2", "--interval", "next", "--energy-wh", "1000", "--price",
                               "0.05", "--from", "alice"});
  EXPECT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_TRUE(Contains(empty.err, "warning: zone Z2 has no registered meters yet")) << empty.err;
}

// 5. Output conventions.
TEST_F(UxCliTest, NoWaitSaysSubmittedNotSent) {
  test::CliResult r = Run({"send", "alice", "0.01", "CNY", "--from", "bob", "--no-wait"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("Submitted, not yet committed: Send 0.01 CNY from bob", 0), 0u) << r.out;
}

TEST_F(UxCliTest, JsonOutputTurnsErrorsIntoJson) {
  test::CliResult r = Run({"--output", "json", "market", "cancel", "999", "--from", "bob"});
  EXPECT_EQ(r.exit_code, 1);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object() && j.contains("error")) << r.out;
  EXPECT_EQ(j["error"]["code"], "not_found") << r.out;
  EXPECT_TRUE(Contains(j["error"]["message"].get<std::string>(), "999"));
  test::CliResult usage = Run({"--output", "json", "markte"});
  EXPECT_EQ(usage.exit_code, 2);
  const json u = json::parse(usage.out, nullptr, false);
  ASSERT_TRUE(u.is_object() && u.contains("error")) << usage.out;
  EXPECT_EQ(u["error"]["code"], "usage");
  EXPECT_TRUE(Contains(u["error"]["message"].get<std::string>(), "did you mean 'market'?")) << usage.out;
}

TEST_F(UxCliTest, ABatteryWithNoReadingIsUnknownNotZero) {
  test::CliResult r = Run({"battery", kMeter});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "unknown (no reading yet)")) << r.out;
  EXPECT_FALSE(Contains(r.out, "0.0 %")) << r.out;
}

TEST_F(UxCliTest, TheBatteryProfileTakesTheCapacityFromTheLedger) {
  test::CliResult r = Run({"battery", "profile", "set", kMeter, "--replacement-cost", "50000", "--cycle-life", "3000",
                           "--dod", "80"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "60.000 kWh")) << r.out;  // registered with --capacity-wh 60000
  EXPECT_TRUE(Contains(r.out, "as registered on the ledger")) << r.out;
}

TEST_F(UxCliTest, KeysListSeparatesAccountsFromDevicesAndFleets) {
  ASSERT_EQ(Run({"meter", "keygen", "dev-1"}).exit_code, 0);
  test::CliResult r = Run({"keys", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const size_t accounts = r.out.find("Account keys"), devices = r.out.find("Device keys");
  ASSERT_NE(accounts, std::string::npos) << r.out;
  ASSERT_NE(devices, std::string::npos) << r.out;
  EXPECT_GT(r.out.find("dev-1"), devices) << r.out;
  EXPECT_LT(r.out.find("alice"), devices) << r.out;
  EXPECT_EQ(RunJson({"keys", "show", "dev-1"})["kind"], "device");
}

// Tables line up whatever the widths of what they hold: a charger with a long id in another zone
// beside bob's car, key names of different lengths in different groups.
TEST_F(UxCliTest, TablesLineUpColumnsOfDifferentWidths) {
  const std::string id = "ch-depot-0001";
  test::CliResult reg = Run({"meter", "register", id, "--device", HexEncode(Key(32).public_key()),
                             "--device-signature",
                             HexEncode(SignMeterKeyProof(Key(32), kChainId, id, AddressFromPublicKey(Key(11).public_key()),
                                                         AddressFromPublicKey(Key(3).public_key()))),
                             "--kind", "charger", "--zone", "Z2", "--owner", "bob", "--max-import-w", "22000",
                             "--max-export-w", "22000", "--from", "issuer"});
  ASSERT_EQ(reg.exit_code, 0) << reg.err;
  const std::string owner = EncodeAddress(AddrOf(k().bob));
  test::CliResult list = Run({"meter", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  // Read by nobody in particular: the readings are the owner's, and the table says so.
  EXPECT_EQ(list.out, "METER          KIND     ZONE  ACTIVE  READINGS  OWNER\n"
                      "ch-depot-0001  charger  Z2    yes            -  " + owner + "\n"
                      "ev-bob         vehicle  Z1    yes            -  " + owner + "\n"
                      "(READINGS \"-\": private to the meter's owner, operator and pool; --owner KEY "
                      "reads yours)\n");
  test::CliResult mine = Run({"meter", "list", "--owner", "bob"});
  ASSERT_EQ(mine.exit_code, 0) << mine.err;
  EXPECT_TRUE(Contains(mine.out, "ch-depot-0001  charger  Z2    yes            0  " + owner + "\n")) << mine.out;

  ASSERT_EQ(Run({"meter", "keygen", "a-rather-long-device-key-name"}).exit_code, 0);
  test::CliResult keys = Run({"keys", "list"});
  ASSERT_EQ(keys.exit_code, 0) << keys.err;
  // The ADDRESS column starts at the same place in every group.
  const std::string head = "NAME                           ADDRESS\n";
  const size_t first = keys.out.find(head);
  ASSERT_NE(first, std::string::npos) << keys.out;
  EXPECT_NE(keys.out.find(head, first + 1), std::string::npos) << keys.out;
  EXPECT_TRUE(Contains(keys.out, "\nalice                          v2g1")) << keys.out;
  EXPECT_TRUE(Contains(keys.out, "\na-rather-long-device-key-name  v2g1")) << keys.out;
}

TEST_F(UxCliTest, HttpsExplainsThatTlsGoesInFrontOfTheNode) {
  test::CliResult r = Run({"--node", "https://node.example.org", "status"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "TLS proxy in front of it")) << r.err;
}

}  // namespace
}  // namespace v2g::nodetest
