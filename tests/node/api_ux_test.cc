// The API speaks its users' language (issue 20): a tx's log and an error's message show money in
// display units and times in the market's time zone (a genesis parameter), with the values beside
// them for machines; an empty market is an empty book; the latest commit has a path; inverted
// ranges are a 400 wherever a range is asked; an address of another chain says "wrong prefix";
// the statement's default period is the wallet's.
#include <gtest/gtest.h>

#include "common/amount.h"
#include "common/bech32.h"
#include "common/time.h"
#include "tests/node/api_test_util.h"

namespace v2g::nodetest {
namespace {

using json = nlohmann::json;

constexpr int64_t kT0 = kGenesisTimeMs / 1000;  // 2026-01-01T00:00:00Z
constexpr int64_t kS = kT0 + 3600;              // a delivery interval that is open at kT0
constexpr int32_t kChina = 8 * 60;              // +08:00

std::string Local(int64_t s) { return FormatRfc3339LocalMs(s * 1000, kChina); }

class ApiUxTest : public ManualApiTest {
 protected:
  void Start() {
    StartNode(
        [](GenesisState& g) {
          EnableMarket(g);
          g.params.utc_offset_min = kChina;
        },
        "api-ux-test");
  }
};

TEST_F(ApiUxTest, ATxLogShowsYuanAndItsValuesBesideIt) {
  Start();
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(Get("/v1/params").body["utc_offset"], "+08:00");
  // 1 kWh at 0.05 CNY/kWh locks 5 minimal units: 0.05 CNY, not "5 CNY".
  json t = RunOk(k().alice, MakePlaceOrder(0, pb::SIDE_BUY, "Z1", kS, 1000, 5));
  EXPECT_EQ(t["log"], "buy order " + std::to_string(t["created_id"].get<uint64_t>()) + " placed; 0.05 CNY locked")
      << t.dump();
  EXPECT_EQ(t["log_fields"], json::parse(R"([{"name": "locked", "kind": "amount", "denom": "CNY", "amount": "5",
                                              "display": "0.05 CNY"}])"))
      << t.dump();
}

TEST_F(ApiUxTest, AFailedTxSaysWhenInTheMarketsTimeZone) {
  Start();
  ASSERT_FALSE(HasFatalFailure());
  // Admitted while the market is open, committed in a block past its gate closure.
  Tick();
  const std::string tx = SignTx(k().alice, kChainId, [&] {
    pb::TxBody b = MakePlaceOrder(0, pb::SIDE_BUY, "Z1", kS, 1000, 5);
    b.set_nonce(1);
    return b;
  }());
  ASSERT_EQ(HttpPost(*cli_, "/v1/txs", TxBody(tx)).status, 202);
  Tick(kS - 100);
  const json t = Get("/v1/txs/" + TxHashHex(TxHash(tx))).body;
  ASSERT_EQ(t.value("code_name", ""), "gate_closed") << t.dump();
  const std::string log = t["log"];
  EXPECT_TRUE(Contains(log, "orders for the interval starting " + Local(kS) + " closed at " + Local(kS - 300)));
  EXPECT_TRUE(Contains(log, "the next interval still open starts at " + Local(kS + 900)));
  EXPECT_FALSE(Contains(log, std::to_string(kS)));  // no Unix seconds
  bool has_time = false;
  for (const json& f : t["log_fields"]) {
    if (f["name"] == "start") {
      has_time = true;
      EXPECT_EQ(f["kind"], "time");
      EXPECT_EQ(f["unix_s"], kS);
      EXPECT_EQ(f["time"], Local(kS));
    }
  }
  EXPECT_TRUE(has_time) << t.dump();
}

TEST_F(ApiUxTest, ARefusalAtAdmissionRendersAmountsForPeopleAndFieldsForMachines) {
  Start();
  ASSERT_FALSE(HasFatalFailure());
  // bob holds nothing: a transfer of 12.50 CNY is refused when admitted.
  pb::TxBody b = MakeTransfer(0, AddrOf(k().alice), "CNY", 1250);
  b.set_nonce(1);
  HttpReply r = HttpPost(*cli_, "/v1/txs", TxBody(SignTx(k().bob, kChainId, std::move(b))));
  ExpectError(r, 400, Code::kInsufficientFunds, "needs 12.50 CNY to transfer and has 0.00 CNY");
  EXPECT_FALSE(Contains(r.body["error"].value("message", ""), "minimal units"));
  ASSERT_TRUE(r.body["error"].contains("fields")) << r.raw;
  EXPECT_EQ(r.body["error"]["fields"][0],
            json::parse(R"({"name": "need", "kind": "amount", "denom": "CNY", "amount": "1250", "display": "12.50 CNY"})"));
}

TEST_F(ApiUxTest, AMarketNobodyTradedIsAnEmptyBook) {
  Start();
  ASSERT_FALSE(HasFatalFailure());
  HttpReply r = Get("/v1/markets/Z1/" + std::to_string(kS));
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["status"], "empty");
  EXPECT_EQ(r.body["buy_orders"], 0);
  EXPECT_EQ(r.body["depth"]["bids"], json::array());
  EXPECT_EQ(r.body["depth"]["asks"], json::array());
  EXPECT_EQ(r.body["depth"]["orders"], "open");
  EXPECT_EQ(r.body["interval_start_s"], kS);
  // A zone that does not exist is still a 404 that says so.
  ExpectError(Get("/v1/markets/NOPE/" + std::to_string(kS)), 404, Code::kNotFound, "no zone NOPE");
}

TEST_F(ApiUxTest, TheLatestCommitHasAPath) {
  Start();
  ASSERT_FALSE(HasFatalFailure());
  ExpectError(Get("/v1/blocks/latest/commit"), 404, Code::kNotFound, "no block committed yet");
  Tick();
  Tick();
  HttpReply r = Get("/v1/blocks/latest/commit");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["height"], 2) << r.raw;
  EXPECT_EQ(r.body, Get("/v1/blocks/2/commit").body);
  // The documented fields that were not: the newest height in a block page, evidence in a block.
  EXPECT_EQ(Get("/v1/blocks").body["latest_height"], 2);
  EXPECT_EQ(Get("/v1/blocks/latest").body["evidence"], json::array());
}

TEST_F(ApiUxTest, InvertedRangesAreA400Everywhere) {
  Start();
  ASSERT_FALSE(HasFatalFailure());
  RunOk(k().issuer, MakeRegisterMeter(0, kChainId, AddrOf(k().issuer), "ch-1", Key(30), pb::METER_KIND_CHARGER, "Z1",
                                      AddrOf(k().bob), 20000, 20000, 0));
  const std::string late = std::to_string(kS + 900), early = std::to_string(kS);
  ExpectError(Get("/v1/markets?from=" + late + "&to=" + early), 400, Code::kInvalidArgument,
              "to (" + Local(kS) + ") must be later than from (" + Local(kS + 900) + ")");
  ExpectError(Get("/v1/markets?from=" + late + "&to=" + late), 400, Code::kInvalidArgument, "must be later than");
  ExpectError(Get("/v1/meters/ch-1/readings?from=" + late + "&to=" + early), 400, Code::kInvalidArgument,
              "must be later than");
  ExpectError(Get("/v1/accounts/" + Addr(k().bob) + "/statement?from=" + late + "&to=" + early), 400,
              Code::kInvalidArgument, "must be later than");
  // The same ranges the right way round answer, and take RFC 3339 with an offset ('+' as %2B).
  EXPECT_EQ(Get("/v1/markets?from=" + early + "&to=" + late).status, 200);
  HttpReply local = Get("/v1/meters/ch-1/readings?from=2026-01-01T09:00:00%2B08:00&to=" + late);
  EXPECT_EQ(local.status, 200) << local.raw;
}

TEST_F(ApiUxTest, AnAddressOfAnotherChainIsAWrongPrefix) {
  Start();
  ASSERT_FALSE(HasFatalFailure());
  auto five = ConvertBits(ByteView(AddrOf(k().alice).data(), 20), 8, 5, true);
  ASSERT_TRUE(five.ok());
  const std::string cosmos = Bech32Encode("cosmos", *five, Bech32Variant::kBech32);
  ExpectError(Get("/v1/accounts/" + cosmos), 400, Code::kInvalidArgument,
              "wrong prefix 'cosmos' (an address of another chain?); v2gledger addresses start with v2g1");
}

TEST_F(ApiUxTest, TheStatementCoversTheWalletsThirtyDaysByDefault) {
  Start();
  ASSERT_FALSE(HasFatalFailure());
  Tick(kT0 + 40 * 86400);
  HttpReply r = Get("/v1/accounts/" + Addr(k().alice) + "/statement");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["to_s"].get<int64_t>() - r.body["from_s"].get<int64_t>(), 30 * 86400) << r.raw;
}

TEST_F(ApiUxTest, DenominationsShowTheirSupplyInHumanUnits) {
  Start();
  ASSERT_FALSE(HasFatalFailure());
  const json d = Get("/v1/denoms").body["denominations"][0];
  EXPECT_EQ(d["name"], "CNY");
  EXPECT_EQ(d["supply_display"], FormatAmount(std::stoll(d["supply"].get<std::string>()), 2));
  EXPECT_EQ(d["minted_display"], FormatAmount(std::stoll(d["minted"].get<std::string>()), 2));
}

}  // namespace
}  // namespace v2g::nodetest
