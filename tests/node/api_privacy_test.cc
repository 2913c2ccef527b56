// Who may read what through the API (node/api/access.h, docs/DESIGN.md "Who may read what"), on
// the grid-services scenario (grid_scenario.h) served with private reads on: every personal
// endpoint answers its owner, the meter's operator, the zone's grid company and (for delivery)
// the pool's aggregator, and refuses anybody else and anonymous clients with a 403 that says why;
// replayed, expired and forged signatures are refused with a 401; every public route, walked
// anonymously, shows no per-vehicle reading, battery history or per-owner amount.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "common/bytes.h"
#include "common/limits.h"
#include "common/read_auth.h"
#include "contracts/grid.h"
#include "contracts/market.h"
#include "contracts/meters.h"
#include "contracts/pools.h"
#include "node/api/access.h"
#include "node/api/render.h"
#include "node/api/routes.h"
#include "proto/encode.h"
#include "tests/node/grid_scenario.h"

namespace v2g::nodetest {
namespace {

using json = nlohmann::json;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What a signed read sends; each field can be spoilt on its own.
struct SignedRead {
  std::string key_hex, time, nonce, signature;
};

class ApiPrivacyTest : public GridApiTest {
 protected:
  void SetUp() override {
    private_reads_ = true;
    full_readers_ = {AddrOf(Key(77))};
    GridApiTest::SetUp();
    ids_ = Scenario();
  }

  // The headers of a read of `path` signed by `key` at `time_ms` with `nonce` for `chain_id`.
  static SignedRead Sign(const KeyPair& key, const std::string& path, int64_t time_ms, const std::string& nonce,
                         const std::string& chain_id = kChainId) {
    const Signature sig = key.Sign(AsBytes(ReadAuthMessage(chain_id, "GET", path, time_ms, nonce)));
    return {HexEncode(ByteView(key.public_key().data(), key.public_key().size())), std::to_string(time_ms), nonce,
            HexEncode(ByteView(sig.data(), sig.size()))};
  }
  HttpReply Send(const std::string& path, const SignedRead& s) {
    httplib::Headers h;
    if (!s.key_hex.empty()) h.emplace(kReadKeyHeader, s.key_hex);
    if (!s.time.empty()) h.emplace(kReadTimeHeader, s.time);
    if (!s.nonce.empty()) h.emplace(kReadNonceHeader, s.nonce);
    if (!s.signature.empty()) h.emplace(kReadSignatureHeader, s.signature);
    return ToReply(cli_->Get(path.c_str(), h));
  }
  // 200 for each of `allowed`, 403 permission_denied (naming `what`) anonymously and for each of
  // `refused`.
  void ExpectReaders(const std::string& path, const std::vector<const KeyPair*>& allowed,
                     const std::vector<const KeyPair*>& refused, const std::string& what) {
    SCOPED_TRACE(path);
    HttpReply anon = Get(path);
    ExpectError(anon, 403, Code::kPermissionDenied, what + " is personal data: sign the request as");
    for (const KeyPair* k : refused) {
      HttpReply r = As(*k, path);
      ExpectError(r, 403, Code::kPermissionDenied, Addr(*k) + " may not read " + what);
    }
    for (const KeyPair* k : allowed) {
      HttpReply r = As(*k, path);
      EXPECT_EQ(r.status, 200) << Addr(*k) << " " << r.raw;
    }
  }

  Ids ids_;
  KeyPair full_ = Key(77);
};

TEST_F(ApiPrivacyTest, MeterReadingsAndBatteryOnlyToOwnerOperatorGridCompanyAndAggregator) {
  const KeyPair &bob = k().bob, &alice = k().alice, &carol = k().carol, &op = k().issuer;
  // bob's car: bob, its operator (the issuer) and Z1's grid company; not carol, not the
  // aggregator (bob is not in its pool).
  ExpectReaders("/v1/meters/ev-bob/readings", {&bob, &op, &grid_, &full_}, {&carol, &agg_, &alice},
                "the readings of meter 'ev-bob'");
  ExpectReaders("/v1/meters/ev-bob/battery", {&bob, &op, &grid_}, {&carol, &agg_},
                "the battery of meter 'ev-bob'");
  // Raw OCMF records carry the session's ID (a driver's card): the owner's and operator's only.
  ExpectReaders("/v1/meters/ev-bob/ocmf", {&bob, &op}, {&carol, &agg_, &grid_}, "the OCMF records of meter 'ev-bob'");
  ExpectReaders("/v1/meters/ev-bob/ocmf/T1", {}, {&carol}, "the OCMF records of meter 'ev-bob'");
  EXPECT_EQ(As(bob, "/v1/meters/ev-bob/ocmf/T1").status, 404);  // bob may read it: there is none
  // alice's car is in agg's pool: agg reads its delivery, not its battery.
  ExpectReaders("/v1/meters/ev-alice/readings", {&alice, &agg_}, {&bob, &carol}, "the readings of meter 'ev-alice'");
  ExpectReaders("/v1/meters/ev-alice/battery", {&alice}, {&agg_}, "the battery of meter 'ev-alice'");
  // A refusal names who may read it, for a wallet to pick its key; never the aggregator, which
  // would say the meter is in its pool (the pool's members are its own to know).
  HttpReply r = Get("/v1/meters/ev-bob/readings");
  EXPECT_EQ(r.body["error"]["readers"], json::array({Addr(bob), Addr(op), Addr(grid_)})) << r.raw;
  HttpReply ra = Get("/v1/meters/ev-alice/readings");
  EXPECT_EQ(ra.body["error"]["readers"], json::array({Addr(alice), Addr(op), Addr(grid_)})) << ra.raw;
  EXPECT_EQ(ra.raw.find(Addr(agg_)), std::string::npos) << ra.raw;
  HttpReply pa = Get("/v1/meters/ev-alice");
  EXPECT_EQ(pa.body["readers"], json::array({Addr(alice), Addr(op), Addr(grid_)})) << pa.raw;
  // The aggregator's view of its member's registry entry: the readings, not the battery.
  HttpReply agg = As(agg_, "/v1/meters/ev-alice");
  ASSERT_EQ(agg.status, 200) << agg.raw;
  EXPECT_FALSE(agg.body["last_reading"].is_null()) << agg.raw;
  EXPECT_TRUE(agg.body["battery"].is_null()) << agg.raw;
  // The answer is the data: bob's 4 kWh exported in kS.
  HttpReply mine = As(bob, "/v1/meters/ev-bob/readings?from=" + std::to_string(kS) + "&to=" + std::to_string(kS2));
  ASSERT_EQ(mine.status, 200) << mine.raw;
  ASSERT_EQ(mine.body["intervals"].size(), 1u);
  EXPECT_EQ(mine.body["intervals"][0]["export_wh"], 4000);

  // The registry entry is public without what the readings tell.
  HttpReply pub = Get("/v1/meters/ev-bob");
  ASSERT_EQ(pub.status, 200) << pub.raw;
  EXPECT_EQ(pub.body["owner"], Addr(bob));
  EXPECT_EQ(pub.body["private"], true);
  EXPECT_TRUE(pub.body["last_reading"].is_null());
  EXPECT_TRUE(pub.body["readings_accepted"].is_null());
  EXPECT_TRUE(pub.body["battery"].is_null());
  EXPECT_EQ(pub.body["readers"], json::array({Addr(bob), Addr(op), Addr(grid_)}));
  HttpReply own = As(bob, "/v1/meters/ev-bob");
  ASSERT_EQ(own.status, 200) << own.raw;
  EXPECT_FALSE(own.body.contains("private"));
  EXPECT_EQ(own.body["last_reading"]["seq"], 3);
  EXPECT_EQ(own.body["readings_accepted"], 3);
  EXPECT_TRUE(own.body["battery"].is_object()) << own.raw;
  HttpReply listed = Get("/v1/meters?zone=Z1");
  ASSERT_EQ(listed.status, 200) << listed.raw;
  for (const json& m : listed.body["meters"]) {
    EXPECT_TRUE(m["last_reading"].is_null()) << m.dump();
    EXPECT_TRUE(!m.contains("battery") || m["battery"].is_null()) << m.dump();
  }
  EXPECT_EQ(listed.body["private_items"], listed.body["meters"].size());  // a wallet's cue to sign
  EXPECT_EQ(Get("/v1/meters?owner=" + Addr(bob)).body["readers"], json::array({Addr(bob)}));
  HttpReply bobs = As(bob, "/v1/meters?owner=" + Addr(bob));
  ASSERT_EQ(bobs.body["meters"].size(), 1u);
  EXPECT_EQ(bobs.body["private_items"], 0);
}

TEST_F(ApiPrivacyTest, AccountsOrdersTradesStatementsOnlyToTheirOwner) {
  const KeyPair &bob = k().bob, &carol = k().carol;
  const std::string b = Addr(bob);
  ExpectReaders("/v1/accounts/" + b, {&bob, &full_}, {&carol, &grid_}, "the balances of " + b);
  ExpectReaders("/v1/accounts/" + b + "/statement?from=" + std::to_string(kS) + "&to=" + std::to_string(kS2 + kLen),
                {&bob}, {&carol, &grid_}, "the statement of " + b);
  ExpectReaders("/v1/accounts/" + b + "/debts", {&bob}, {&carol}, "the debts of " + b);
  ExpectReaders("/v1/accounts/" + b + "/orders", {&bob}, {&carol}, "the orders of " + b);
  ExpectReaders("/v1/trades?account=" + b, {&bob}, {&carol}, "the trades of " + b);
  ExpectReaders("/v1/settlements?account=" + b, {&bob}, {&carol}, "the settlements of " + b);
  // A module's account is the ledger's: public.
  EXPECT_EQ(Get("/v1/accounts/" + EncodeAddress(MarketModuleAddress())).status, 200);
  // bob's balance is what bob reads: 100.00 CNY sent, 10.00 of collateral and trading since.
  HttpReply acct = As(bob, "/v1/accounts/" + b);
  ASSERT_EQ(acct.status, 200) << acct.raw;
  EXPECT_EQ(acct.body["address"], b);
  EXPECT_FALSE(acct.body["balances"].empty());

  // An order: only its owner, and the refusal does not say whose it is.
  HttpReply orders = As(bob, "/v1/accounts/" + b + "/orders");
  ASSERT_EQ(orders.status, 200) << orders.raw;
  ASSERT_FALSE(orders.body["orders"].empty());
  const std::string order = "/v1/orders/" + std::to_string(orders.body["orders"][0]["id"].get<uint64_t>());
  HttpReply anon = Get(order);
  ExpectError(anon, 403, Code::kPermissionDenied, "is personal data: sign the request as its owner");
  EXPECT_FALSE(anon.body["error"].contains("readers")) << anon.raw;
  EXPECT_EQ(anon.raw.find(b), std::string::npos) << anon.raw;
  EXPECT_EQ(As(bob, order).status, 200);
  EXPECT_EQ(As(carol, order).status, 403);

  // A contract: only its parties.
  const int64_t start = (node_->chain().Tip().time_ms / 1000 / kLen + 2) * kLen;
  json proposed = RunOk(k().alice, MakeProposeContract(0, AddrOf(bob), pb::SIDE_BUY, "Z1", start, 100, 70));
  const std::string contract = "/v1/contracts/" + std::to_string(proposed.value("created_id", uint64_t{0}));
  HttpReply canon = Get(contract);
  ExpectError(canon, 403, Code::kPermissionDenied, "is personal data: sign the request as its parties");
  EXPECT_EQ(canon.raw.find(Addr(k().alice)), std::string::npos) << canon.raw;
  EXPECT_EQ(As(k().alice, contract).status, 200);
  EXPECT_EQ(As(bob, contract).status, 200);
  ExpectError(As(carol, contract), 403, Code::kPermissionDenied, "only its parties may");
}

// A proof carries raw records, so it goes to those who may read the whole record (issue 17): an
// account's to the account; a meter's energy to its readers; a trade's, which names both parties,
// to the zone's grid company and full readers, not to a party that may see only its own side.
TEST_F(ApiPrivacyTest, ProofsGoOnlyToThoseWhoMayReadTheWholeRecord) {
  const KeyPair &bob = k().bob, &alice = k().alice, &carol = k().carol, &op = k().issuer;
  ExpectReaders("/v1/proof/accounts/" + Addr(bob), {&bob, &full_}, {&carol, &grid_},
                "the balances of " + Addr(bob));
  ExpectReaders(
      "/v1/proof/meters/ev-bob/energy?from=" + std::to_string(kS) + "&to=" + std::to_string(kS + 1),
      {&bob, &op, &grid_, &full_}, {&carol, &agg_, &alice}, "the readings of meter 'ev-bob'");
  const std::string trade = "/v1/proof/trades/Z1/" + std::to_string(kS) + "/0";
  ExpectReaders(trade, {&grid_, &full_}, {&bob, &alice, &carol},
                "the whole record of trade 0 of market Z1");
  // What the grid company gets is the trade, proven.
  HttpReply g = As(grid_, trade);
  ASSERT_EQ(g.status, 200) << g.raw;
  ASSERT_EQ(g.body["entries"].size(), 1u) << g.raw;
  EXPECT_EQ(g.body["entries"][0]["record"]["energy_wh"], 1000);
  // Denominations, parameters and light blocks are public.
  EXPECT_EQ(Get("/v1/proof/denoms/CNY").status, 200);
  EXPECT_EQ(Get("/v1/proof/params").status, 200);
  EXPECT_EQ(Get("/v1/light/2").status, 200);
}

TEST_F(ApiPrivacyTest, MarketTradesShowWhoTradedOnlyToThePartiesAndTheGridCompany) {
  const std::string path = "/v1/trades?zone=Z1&interval=" + std::to_string(kS);
  HttpReply pub = Get(path);
  ASSERT_EQ(pub.status, 200) << pub.raw;
  ASSERT_EQ(pub.body["trades"].size(), 1u);
  const json& t = pub.body["trades"][0];
  EXPECT_TRUE(t["buyer"].is_null() && t["seller"].is_null() && t["meter_id"].is_null()) << t.dump();
  EXPECT_EQ(t["private"], true);
  EXPECT_EQ(t["energy_wh"], 1000);  // the market's own record stays
  // The zone's company sees both sides; each party its own side, not who it was matched with.
  HttpReply g = As(grid_, path);
  EXPECT_EQ(g.body["trades"][0]["seller"], Addr(k().bob)) << g.raw;
  EXPECT_EQ(g.body["trades"][0]["buyer"], Addr(k().alice)) << g.raw;
  EXPECT_EQ(g.body["trades"][0]["meter_id"], "ev-bob");
  HttpReply s = As(k().bob, path);
  EXPECT_EQ(s.body["trades"][0]["seller"], Addr(k().bob)) << s.raw;
  EXPECT_EQ(s.body["trades"][0]["meter_id"], "ev-bob");
  EXPECT_TRUE(s.body["trades"][0]["buyer"].is_null()) << s.raw;
  EXPECT_TRUE(s.body["trades"][0]["buy_order_id"].is_null()) << s.raw;
  HttpReply b = As(k().alice, path);
  EXPECT_EQ(b.body["trades"][0]["buyer"], Addr(k().alice)) << b.raw;
  EXPECT_TRUE(b.body["trades"][0]["seller"].is_null()) << b.raw;
  EXPECT_TRUE(b.body["trades"][0]["meter_id"].is_null()) << b.raw;
  // The same in the buyer's own list of trades and settlements.
  HttpReply mine = As(k().alice, "/v1/trades?account=" + Addr(k().alice));
  ASSERT_EQ(mine.status, 200) << mine.raw;
  ASSERT_FALSE(mine.body["trades"].empty());
  for (const json& x : mine.body["trades"]) EXPECT_TRUE(x["seller"].is_null()) << x.dump();
  HttpReply mines = As(k().alice, "/v1/settlements?account=" + Addr(k().alice));
  ASSERT_EQ(mines.status, 200) << mines.raw;
  for (const json& x : mines.body["trades"]) EXPECT_TRUE(x["seller"].is_null()) << x.dump();
  EXPECT_TRUE(As(k().carol, path).body["trades"][0]["seller"].is_null());
  HttpReply settled = Get("/v1/settlements?zone=Z1&interval=" + std::to_string(kS));
  ASSERT_EQ(settled.status, 200) << settled.raw;
  ASSERT_EQ(settled.body["trades"].size(), 1u);
  EXPECT_TRUE(settled.body["trades"][0]["seller"].is_null());
  EXPECT_EQ(settled.body["totals"]["delivered_wh"], 1000);  // aggregates are public
  // One party's settlements in a market are that party's.
  ExpectReaders("/v1/settlements?zone=Z1&interval=" + std::to_string(kS) + "&account=" + Addr(k().bob), {&k().bob},
                {&k().carol}, "the settlements of " + Addr(k().bob));
}

TEST_F(ApiPrivacyTest, PoolEventAndProgramRowsOnlyToTheirMemberAndTheirManager) {
  const std::string pool = "/v1/pools/" + std::to_string(ids_.pool);
  HttpReply anon = Get(pool);
  ASSERT_EQ(anon.status, 200) << anon.raw;
  EXPECT_EQ(anon.body["members"], json::array());
  EXPECT_EQ(anon.body["hidden_rows"], 2);
  EXPECT_EQ(anon.body["member_count"], 2);
  EXPECT_EQ(anon.body["readers"], json::array({Addr(agg_)}));
  EXPECT_EQ(As(agg_, pool).body["members"].size(), 2u);  // the aggregator sees its pool
  HttpReply alice = As(k().alice, pool);
  ASSERT_EQ(alice.body["members"].size(), 1u);  // a member sees itself
  EXPECT_EQ(alice.body["members"][0]["meter_id"], "ev-alice");
  EXPECT_EQ(alice.body["hidden_rows"], 1);
  EXPECT_EQ(As(k().bob, pool).body["members"], json::array());

  const std::string event = "/v1/events/" + std::to_string(ids_.event);
  EXPECT_EQ(Get(event).body["enrollments"], json::array());
  EXPECT_EQ(Get(event).body["enrollment_count"], 2);
  EXPECT_EQ(As(grid_, event).body["enrollments"].size(), 2u);
  HttpReply bob = As(k().bob, event);
  ASSERT_EQ(bob.body["enrollments"].size(), 1u);
  EXPECT_EQ(bob.body["enrollments"][0]["meter_id"], "ev-bob");
  // The aggregator sees its pool's enrollment, with its members' shares, and not bob's.
  HttpReply agg = As(agg_, event);
  ASSERT_EQ(agg.body["enrollments"].size(), 1u);
  EXPECT_EQ(agg.body["enrollments"][0]["pool_id"], ids_.pool);
  EXPECT_EQ(agg.body["enrollments"][0]["members"].size(), 2u);

  const std::string program = "/v1/programs/" + std::to_string(ids_.program);
  EXPECT_EQ(Get(program).body["members"], json::array());
  EXPECT_EQ(As(k().issuer, program).body["members"].size(), 1u);  // its sponsor
  EXPECT_EQ(As(k().bob, program).body["members"].size(), 1u);
  EXPECT_EQ(As(k().carol, program).body["members"], json::array());
}

// An event's, a program's or a pool's totals are what its participants earned when there are
// few of them: over fewer than 3 contributing owners (or with one holding more than half) only
// the manager (and full readers) see them, not the public and not a participant (who would
// subtract its own). The rule itself, on rows made to test it, is SmallTotalsTest below.
TEST_F(ApiPrivacyTest, TotalsOverFewOwnersOnlyToTheirManager) {
  const std::string fewer =
      "fewer than 3 owners have contributed to it: its totals would say what each of them earned";
  auto expect_hidden = [&](const HttpReply& r, const std::vector<const char*>& keys,
                           const KeyPair& manager) {
    ASSERT_EQ(r.status, 200) << r.raw;
    for (const char* k : keys) {
      ASSERT_TRUE(r.body.contains(k)) << k << " " << r.raw;
      EXPECT_TRUE(r.body[k].is_null()) << k << " " << r.raw;
    }
    EXPECT_EQ(r.body.value("private", json()), true) << r.raw;
    EXPECT_EQ(r.body.value("private_reason", json()), fewer) << r.raw;
    EXPECT_EQ(r.body.value("readers", json()), json::array({Addr(manager)})) << r.raw;
  };
  auto expect_shown = [&](const HttpReply& r, const std::vector<const char*>& keys) {
    ASSERT_EQ(r.status, 200) << r.raw;
    for (const char* k : keys) {
      ASSERT_TRUE(r.body.contains(k)) << k << " " << r.raw;
      EXPECT_FALSE(r.body[k].is_null()) << k << " " << r.raw;
    }
    EXPECT_FALSE(r.body.contains("private")) << r.raw;
  };
  const std::vector<const char*> pool_totals = {"fees_earned", "members_earned"};
  const std::vector<const char*> event_totals = {"performance_wh", "owed", "paid", "returned"};
  const std::vector<const char*> program_totals = {"paid", "remaining", "returned"};
  // The scenario's pool has two earning owners (alice, carol), its event two performing (bob, the
  // pool's aggregator), its program one paid (bob).
  const std::string pool = "/v1/pools/" + std::to_string(ids_.pool);
  const std::string event = "/v1/events/" + std::to_string(ids_.event);
  const std::string program = "/v1/programs/" + std::to_string(ids_.program);
  expect_hidden(Get(pool), pool_totals, agg_);
  expect_hidden(As(k().alice, pool), pool_totals,
                agg_);  // a member: carol's share would be the rest
  expect_shown(As(agg_, pool), pool_totals);
  expect_shown(As(full_, pool), pool_totals);
  // What the aggregator sees is what its members earned together.
  HttpReply whole = As(agg_, pool);
  int64_t earned = 0;
  for (const json& m : whole.body["members"])
    earned += std::stoll(m["earned"]["amount"].get<std::string>());
  EXPECT_GT(earned, 0);
  EXPECT_EQ(whole.body["members_earned"]["amount"], std::to_string(earned));
  expect_hidden(Get(event), event_totals, grid_);
  expect_hidden(As(k().bob, event), event_totals, grid_);
  expect_shown(As(grid_, event), event_totals);
  EXPECT_GT(As(grid_, event).body["performance_wh"].get<int64_t>(), 0);
  expect_hidden(Get(program), program_totals, k().issuer);
  expect_shown(As(k().issuer, program), program_totals);
  // Lists show each record as the page's reader may see it.
  for (const auto& [path, key, total, manager] :
       std::vector<std::tuple<std::string, std::string, std::string, const KeyPair*>>{
           {"/v1/pools", "pools", "members_earned", &agg_},
           {"/v1/events", "events", "paid", &grid_},
           {"/v1/programs", "programs", "paid", &k().issuer}}) {
    SCOPED_TRACE(path);
    HttpReply anon = Get(path);
    ASSERT_EQ(anon.status, 200) << anon.raw;
    ASSERT_EQ(anon.body[key].size(), 1u) << anon.raw;
    const json& rec = anon.body[key][0];
    ASSERT_TRUE(rec.contains(total)) << anon.raw;
    EXPECT_TRUE(rec[total].is_null()) << anon.raw;
    EXPECT_EQ(rec.value("private_reason", json()), fewer) << anon.raw;
    // The list says how many it reduced and who would see them: a wallet's cue to sign.
    EXPECT_EQ(anon.body["private_items"], 1) << anon.raw;
    EXPECT_EQ(anon.body["readers"], json::array({Addr(*manager)})) << anon.raw;
    HttpReply mine = As(*manager, path);
    ASSERT_EQ(mine.body[key].size(), 1u) << mine.raw;
    EXPECT_TRUE(mine.body[key][0].contains(total) && mine.body[key][0][total].is_object())
        << mine.raw;
    EXPECT_FALSE(mine.body[key][0].contains("private")) << mine.raw;
    EXPECT_EQ(mine.body["private_items"], 0) << mine.raw;
    EXPECT_FALSE(mine.body.contains("readers")) << mine.raw;
  }
  // The grid module's balances hold the program's budget (PTS: remaining is its balance): the
  // node's full readers' only.
  const std::string grid_module = "/v1/accounts/" + EncodeAddress(GridModuleAddress());
  ExpectError(Get(grid_module), 403, Code::kPermissionDenied,
              "served to the node's full readers only");
  ExpectError(As(k().issuer, grid_module), 403, Code::kPermissionDenied,
              "served to the node's full readers only");
  EXPECT_EQ(As(full_, grid_module).status, 200);
  EXPECT_EQ(Get("/v1/accounts/" + EncodeAddress(MarketModuleAddress())).status, 200);

  // A pool whose members earned nothing: totals of 0 say nothing of anyone and are public (the
  // rule on members who earned nothing next to one who did is SmallTotalsTest's).
  json created = RunOk(agg_, MakeCreatePool(0, "Z1 VPP 2", 500));
  const uint64_t pool2_id = created.value("created_id", uint64_t{0});
  for (const char* m : {"ch-ev-bob", "ch-ev-alice", "ch-ev-carol"})
    RunOk(k().issuer, MakeJoinPool(0, pool2_id, m));
  RunOk(k().bob, MakeJoinPool(0, pool2_id, "ev-bob"));
  const KeyPair dave = Key(61), dev_dave = Key(62);
  RunOk(k().issuer,
        MakeRegisterMeter(0, kChainId, AddrOf(k().issuer), "ev-dave", dev_dave,
                          pb::METER_KIND_VEHICLE, "Z1", AddrOf(dave), 20000, 20000, 60000));
  RunOk(k().alice, MakeTransfer(0, AddrOf(dave), "CNY", 100));  // its fees
  RunOk(dave, MakeJoinPool(0, pool2_id, "ev-dave"));
  HttpReply pool2 = Get("/v1/pools/" + std::to_string(pool2_id));
  EXPECT_EQ(pool2.body["member_count"], 5);
  expect_shown(pool2, pool_totals);
  EXPECT_EQ(pool2.body["members_earned"]["amount"], "0");
  EXPECT_EQ(pool2.body["members"], json::array());  // who the members are stays theirs
}

// The rule of public totals on rows made for it: owners are counted, not meters; only owners who
// contributed count; one owner holding more than half hides them; the scan stops at its bound.
TEST(SmallTotalsTest, OwnersWhoContributedAndNoDominantOne) {
  MemKv kv;
  auto member = [&](const std::string& meter, const KeyPair& owner, int64_t earned) {
    pb::PoolMember m;
    m.set_pool_id(7);
    m.set_meter_id(meter);
    m.set_owner(AddressBytes(AddrOf(owner)));
    m.set_earned(earned);
    std::string key = "s/pool_m/";
    AppendBigEndian64(key, 7);
    kv.Put(key + meter, Encode(m));
  };
  const KeyPair a = Key(90), b = Key(91), c = Key(92), d = Key(93);
  member("a-1", a, 10);
  member("a-2", a, 0);
  member("a-3", a, 5);
  member("b-1", b, 0);
  OwnerShares s = PoolOwnerShares(kv, 7, 256);
  EXPECT_EQ(s.owners, 1);  // a's three meters are one owner; b earned nothing
  EXPECT_EQ(s.largest, 15);
  EXPECT_EQ(s.rows, 4);
  EXPECT_TRUE(s.complete);
  EXPECT_NE(api::SmallTotalsReason(s, 15).find("fewer than 3 owners"), std::string::npos);
  member("c-1", c, 3);
  member("d-1", d, 4);
  s = PoolOwnerShares(kv, 7, 256);
  EXPECT_EQ(s.owners, 3);
  EXPECT_EQ(api::SmallTotalsReason(s, 22),
            "one owner holds more than half of it: its totals would say about what "
            "that owner earned");
  EXPECT_EQ(api::SmallTotalsReason(s, 30), "");  // a's 15 is exactly half: public
  EXPECT_NE(api::SmallTotalsReason(s, 29), "");  // a's 15 is over half
  // What the rows do not account for (here 60 - 22 = 38: members who left) is one owner's share.
  EXPECT_EQ(s.sum, 22);
  EXPECT_NE(api::SmallTotalsReason(s, 60), "");
  EXPECT_EQ(api::SmallTotalsReason(s, 0), "");  // nothing earned: nothing to hide
  EXPECT_EQ(PoolOwnerShares(kv, 7, 0).complete, false);
  // Another pool's members are not this one's; the bound stops the scan.
  s = PoolOwnerShares(kv, 8, 256);
  EXPECT_EQ(s.rows, 0);
  s = PoolOwnerShares(kv, 7, 2);
  EXPECT_EQ(s.rows, 2);
  EXPECT_FALSE(s.complete);
  EXPECT_EQ(s.owners, 1);
}

// What a meter measured is read over time: its new owner reads from the first interval it is
// billed and paid for (the first grid services had not settled at the transfer), the previous
// owner nothing more, a pool's aggregator only what the membership counts for; the operator and
// the zone's grid company read all of it.
TEST_F(ApiPrivacyTest, ReadsFollowOwnershipAndPoolMembershipOverTime) {
  const KeyPair &bob = k().bob, &op = k().issuer;
  const KeyPair dave = Key(60);
  const std::string readings = "/v1/meters/ev-bob/readings";
  ASSERT_EQ(As(bob, readings).body["intervals"].size(), 2u);
  // A charging discount (the operator sponsors it) that bob's car earns in before the transfer.
  RunOk(k().alice, MakeTransfer(0, AddrOf(op), "CNY", 1000));  // its budget
  json prog = RunOk(op, MakeCreateProgram(0, pb::PROGRAM_CHARGING_DISCOUNT, "CNY", 1000, 0xFFFFFF,
                                          "Z1", 1000, kT0 + 3 * 86400));
  const std::string discount =
      "/v1/programs/" + std::to_string(prog.value("created_id", uint64_t{0}));
  RunOk(bob, MakeJoinProgram(0, prog.value("created_id", uint64_t{0}), "ev-bob"));
  const int64_t i = (node_->chain().Tip().time_ms / 1000 / kLen + 1) * kLen;
  Attest(k().alice, dev_bob_, "ev-bob", 4, {{i, i + 1, 2000, 4500}, {i + 1, i + kLen, 3000, 4500}},
         i + kLen);
  Tick(i + kLen + kGrace);  // i settles: bob is billed for 1 kWh and paid its discount
  const json paid_to_bob = As(op, discount).body["members"][0]["paid"];
  ASSERT_TRUE(paid_to_bob.is_object()) << paid_to_bob;
  ASSERT_NE(paid_to_bob["amount"], "0") << paid_to_bob;
  RunOk(k().alice, MakeTransfer(0, AddrOf(dave), "CNY", 100));  // its fees
  RunOk(bob, MakeTransferMeter(Nonce(node_->store().state(), bob) + 1, kChainId, "ev-bob",
                               AddrOf(bob), dave));
  const int64_t from = LoadMeter(node_->store().state(), "ev-bob")->owner_from_s();
  EXPECT_EQ(from, GridSettledBefore(node_->store().state()));
  EXPECT_EQ(from, i + kLen);  // after bob's last interval
  const json from_transfer = json::array(
      {{{"from", api::Rfc3339S(from)}, {"from_s", from}, {"to", nullptr}, {"to_s", nullptr}}});

  ExpectError(As(bob, readings), 403, Code::kPermissionDenied,
              Addr(bob) + " may not read the readings of meter 'ev-bob'");
  HttpReply mine = As(dave, readings);
  ASSERT_EQ(mine.status, 200) << mine.raw;
  EXPECT_EQ(mine.body["intervals"], json::array()) << "bob's intervals are bob's";
  EXPECT_TRUE(mine.body["last_reading"].is_null()) << mine.raw;
  EXPECT_EQ(mine.body["readable"], from_transfer);
  for (const KeyPair* k : std::vector<const KeyPair*>{&op, &grid_, &full_}) {
    HttpReply all = As(*k, readings);
    EXPECT_EQ(all.body["intervals"].size(), 3u) << all.raw;
    EXPECT_FALSE(all.body.contains("readable")) << all.raw;
  }
  HttpReply shown = As(dave, "/v1/meters/ev-bob");
  ASSERT_EQ(shown.status, 200) << shown.raw;
  EXPECT_EQ(shown.body["owner_from"], api::Rfc3339S(from));
  EXPECT_TRUE(shown.body["last_reading"].is_null()) << shown.raw;
  EXPECT_EQ(shown.body["readable"], from_transfer);
  EXPECT_FALSE(As(op, "/v1/meters/ev-bob").body["last_reading"].is_null());
  // dave's statement counts ev-bob's energy from the same interval on, whatever period it asks.
  const std::string statement = "/v1/accounts/" + Addr(dave) +
                                "/statement?from=" + std::to_string(kS) +
                                "&to=" + std::to_string(kS2 + kLen);
  HttpReply st = As(dave, statement);
  ASSERT_EQ(st.status, 200) << st.raw;
  ASSERT_EQ(st.body["vehicles"].size(), 1u) << st.raw;
  EXPECT_EQ(st.body["vehicles"][0]["export_wh"], 0) << st.raw;
  EXPECT_EQ(st.body["vehicles"][0]["intervals"], 0) << st.raw;
  EXPECT_EQ(st.body["vehicles"][0]["owner_from"], api::Rfc3339S(from));
  // The discount's membership moved to dave with the car; dave's row shows what was paid since
  // (nothing yet), the sponsor's the whole.
  HttpReply dave_prog = As(dave, discount);
  ASSERT_EQ(dave_prog.status, 200) << dave_prog.raw;
  ASSERT_EQ(dave_prog.body["members"].size(), 1u) << dave_prog.raw;
  EXPECT_EQ(dave_prog.body["members"][0]["owner"], Addr(dave));
  EXPECT_EQ(dave_prog.body["members"][0]["paid"]["amount"], "0") << dave_prog.raw;
  const HttpReply sponsor = As(op, discount);
  EXPECT_EQ(sponsor.body["members"][0]["paid"], paid_to_bob) << sponsor.raw;
  EXPECT_EQ(As(bob, discount).body["members"], json::array());  // bob's row is dave's now

  // dave's car joins the pool: its aggregator reads from the first interval the membership
  // counts for, not bob's intervals before it.
  RunOk(dave, MakeJoinPool(0, ids_.pool, "ev-bob"));
  json member;
  const HttpReply pool = As(agg_, "/v1/pools/" + std::to_string(ids_.pool));
  for (const json& m : pool.body["members"]) {
    if (m["meter_id"] == "ev-bob") member = m;
  }
  ASSERT_TRUE(member.is_object()) << pool.raw;
  const int64_t f = member["from_s"].get<int64_t>();
  ASSERT_GE(f, from);
  Attest(k().alice, dev_bob_, "ev-bob", 6, {{f, f + 1, 3000, 4500}, {f + 1, f + kLen, 3000, 5500}},
         f + kLen);
  HttpReply agg = As(agg_, readings);
  ASSERT_EQ(agg.status, 200) << agg.raw;
  ASSERT_EQ(agg.body["intervals"].size(), 1u) << agg.raw;
  EXPECT_EQ(agg.body["intervals"][0]["interval_start_s"], f);
  EXPECT_EQ(agg.body["readable"],
            json::array(
                {{{"from", api::Rfc3339S(f)}, {"from_s", f}, {"to", nullptr}, {"to_s", nullptr}}}));
  EXPECT_EQ(agg.body["last_reading"]["seq"], 7) << agg.raw;
  EXPECT_EQ(As(dave, readings).body["intervals"].size(), 1u);
  EXPECT_EQ(As(op, readings).body["intervals"].size(), 4u);
  // A query inside bob's time finds nothing for dave, and says from when it may read.
  HttpReply old =
      As(dave, readings + "?from=" + std::to_string(kS) + "&to=" + std::to_string(kS2 + kLen));
  ASSERT_EQ(old.status, 200) << old.raw;
  EXPECT_EQ(old.body["intervals"], json::array());
  EXPECT_EQ(old.body["readable"], from_transfer);

  // The battery's state is the car's; its daily history shows the days wholly dave's: not the
  // day of the transfer, the next one.
  const int64_t next_day = (kT0 / 86400 + 1) * 86400 + 3600;
  Attest(k().alice, dev_bob_, "ev-bob", 8,
         {{next_day, next_day + 1, 3000, 5500}, {next_day + 1, next_day + kLen, 3000, 6000}},
         next_day + kLen);
  HttpReply bat = As(dave, "/v1/meters/ev-bob/battery");
  ASSERT_EQ(bat.status, 200) << bat.raw;
  ASSERT_EQ(bat.body["history"].size(), 1u) << bat.raw;
  EXPECT_EQ(bat.body["history"][0]["day"], next_day / 86400) << bat.raw;
  EXPECT_EQ(bat.body["export_wh"], 6000) << bat.raw;
  EXPECT_EQ(bat.body["readable"], from_transfer);
  EXPECT_EQ(As(grid_, "/v1/meters/ev-bob/battery").body["history"].size(), 2u);
}

TEST_F(ApiPrivacyTest, TxOpsOnlyToTheirSigner) {
  const std::string path = "/v1/txs/" + ids_.join_tx["hash"].get<std::string>();  // alice joins the pool
  HttpReply pub = Get(path);
  ASSERT_EQ(pub.status, 200) << pub.raw;
  // Only that it is there: who signed which op, and how it ended, would say who joined a pool,
  // placed an order, or was online when.
  EXPECT_EQ(pub.body, json({{"hash", ids_.join_tx["hash"]},
                            {"status", "committed"},
                            {"height", ids_.join_tx["height"]},
                            {"index", ids_.join_tx["index"]},
                            {"private", true}}));
  HttpReply own = As(k().alice, path);
  ASSERT_EQ(own.status, 200) << own.raw;
  EXPECT_FALSE(own.body.contains("private"));
  EXPECT_EQ(own.body["op"]["meter_id"], "ev-alice");
  EXPECT_TRUE(own.body.contains("tx"));
  // A block shows each tx as its reader may see it.
  const std::string block = "/v1/blocks/" + std::to_string(ids_.join_tx["height"].get<int64_t>());
  HttpReply b = Get(block);
  ASSERT_EQ(b.status, 200) << b.raw;
  for (const json& tx : b.body["txs"]) EXPECT_EQ(tx["private"], true) << tx.dump();
  EXPECT_EQ(b.body["private_items"], b.body["txs"].size());
  HttpReply ba = As(k().alice, block);
  bool shown = false;
  for (const json& tx : ba.body["txs"]) shown |= tx["signer"] == Addr(k().alice) && !tx.contains("private");
  EXPECT_TRUE(shown) << ba.raw;
  EXPECT_EQ(ba.body["private_items"], b.body["txs"].size() - 1);
}

TEST_F(ApiPrivacyTest, FullReadersReadEverything) {
  EXPECT_EQ(As(full_, "/v1/accounts/" + Addr(k().bob) + "/statement").status, 200);
  EXPECT_EQ(As(full_, "/v1/pools/" + std::to_string(ids_.pool)).body["members"].size(), 2u);
  EXPECT_EQ(As(full_, "/v1/trades?zone=Z1&interval=" + std::to_string(kS)).body["trades"][0]["seller"],
            Addr(k().bob));
}

TEST_F(ApiPrivacyTest, ReplayedExpiredAndForgedReadsAreRefused) {
  const std::string path = "/v1/accounts/" + Addr(k().bob);
  const int64_t now = NowMs();
  const SignedRead ok = Sign(k().bob, path, now, "0123456789abcdef");
  EXPECT_EQ(Send(path, ok).status, 200);
  ExpectError(Send(path, ok), 401, Code::kUnauthenticated, "signed read replayed");
  // The same nonce with other case is the same nonce.
  SignedRead upper = Sign(k().bob, path, now, "0123456789ABCDEF");
  ExpectError(Send(path, upper), 401, Code::kUnauthenticated, "signed read replayed");
  // Out of the +-30 s window, either way.
  ExpectError(Send(path, Sign(k().bob, path, now - 31'000, "1111111111111111")), 401, Code::kUnauthenticated,
              "expired or from the future");
  ExpectError(Send(path, Sign(k().bob, path, now + 31'000, "2222222222222222")), 401, Code::kUnauthenticated,
              "expired or from the future");
  // Signed for another path, another chain, or by another key than the one named.
  ExpectError(Send(path, Sign(k().bob, "/v1/accounts/" + Addr(k().carol), now, "3333333333333333")), 401,
              Code::kUnauthenticated, "signature of this read is not valid");
  ExpectError(Send(path, Sign(k().bob, path, now, "4444444444444444", "other-chain")), 401, Code::kUnauthenticated,
              "not valid");
  SignedRead stolen = Sign(k().carol, path, now, "5555555555555555");
  stolen.key_hex = Sign(k().bob, path, now, "5555555555555555").key_hex;
  ExpectError(Send(path, stolen), 401, Code::kUnauthenticated, "not valid");
  // A query changed after signing.
  const SignedRead q = Sign(k().bob, path + "?x=1", now, "6666666666666666");
  ExpectError(Send(path + "?x=2", q), 401, Code::kUnauthenticated, "not valid");
  // Malformed or missing headers, each named.
  SignedRead missing = Sign(k().bob, path, now, "7777777777777777");
  missing.signature.clear();
  ExpectError(Send(path, missing), 401, Code::kUnauthenticated, std::string("needs ") + kReadSignatureHeader);
  SignedRead short_nonce = Sign(k().bob, path, now, "abc");
  ExpectError(Send(path, short_nonce), 401, Code::kUnauthenticated, "must be 16 to 64 hex digits");
  SignedRead bad_time = Sign(k().bob, path, now, "8888888888888888");
  bad_time.time = "soon";
  ExpectError(Send(path, bad_time), 401, Code::kUnauthenticated, "must be Unix milliseconds");
  SignedRead bad_key = Sign(k().bob, path, now, "9999999999999999");
  bad_key.key_hex = "zz";
  ExpectError(Send(path, bad_key), 401, Code::kUnauthenticated, "must be the reader's Ed25519 public key");
  // A bad signature is refused on a public route too: the client learns its signing is broken.
  ExpectError(Send("/v1/status", Sign(k().bob, "/v1/zones", now, "aaaaaaaaaaaaaaaa")), 401,
              Code::kUnauthenticated, "not valid");
}

// The replay record: a pair is a replay until its signed time + 2 x the window by the node's
// clock; one client address (an IPv6 /64) gets a share, the whole record a cap.
TEST(ReadNoncesTest, RepliesUntilExpiryAndBoundsEachClientAndTheWhole) {
  constexpr int64_t kW = limits::kApiReadWindowMs;
  const std::string k(64, 'a');
  api::ReadNonces n(/*max=*/3, /*per_client_max=*/2);
  const int64_t t = 1'000'000;
  ASSERT_TRUE(n.Record(k + "01", "c1", t, t).ok());
  EXPECT_EQ(n.Record(k + "01", "c1", t, t + 2 * kW).code(), Code::kUnauthenticated);  // still a replay
  EXPECT_EQ(n.Record(k + "01", "c2", t, t).code(), Code::kUnauthenticated);           // from anywhere
  ASSERT_TRUE(n.Record(k + "02", "c1", t, t).ok());
  Status share = n.Record(k + "03", "c1", t, t);
  EXPECT_EQ(share.code(), Code::kUnavailable);
  EXPECT_NE(share.message().find("this client has taken too many signed reads"), std::string::npos);
  ASSERT_TRUE(n.Record(k + "04", "c2", t, t).ok());
  Status whole = n.Record(k + "05", "c3", t, t);
  EXPECT_EQ(whole.code(), Code::kUnavailable);
  EXPECT_NE(whole.message().find("the node has taken too many"), std::string::npos);
  EXPECT_EQ(n.size(), 3u);
  // Past signed time + 2 x the window everything is dropped (the time check refuses a replay then).
  ASSERT_TRUE(n.Record(k + "05", "c3", t + 2 * kW + 1, t + 2 * kW + 1).ok());
  EXPECT_EQ(n.size(), 1u);
  EXPECT_TRUE(n.Record(k + "01", "c1", t, t + 2 * kW + 1).ok());

  EXPECT_EQ(api::ReadClientKey("10.0.0.7"), std::string("\x0a\x00\x00\x07", 4));
  EXPECT_EQ(api::ReadClientKey("::ffff:10.0.0.7"), api::ReadClientKey("10.0.0.7"));
  EXPECT_EQ(api::ReadClientKey("2001:db8:1:2::5"), api::ReadClientKey("2001:db8:1:2:ffff::9"));  // one /64
  EXPECT_NE(api::ReadClientKey("2001:db8:1:2::5"), api::ReadClientKey("2001:db8:1:3::5"));
}

// The concrete path each GET route is walked with (a pattern's captures filled from the
// scenario); a route without one fails the walk, so a new route must say what it shows.
// The scenario's records a path names.
struct WalkIds {
  int64_t join_height = 0;
  std::string join_hash;
  uint64_t event = 0, program = 0, pool = 0;
  std::string bob;
};

std::map<std::string, std::string> WalkPaths(const WalkIds& ids) {
  const std::string s = std::to_string(kS);
  const std::string& bob = ids.bob;
  return {
      {"/v1/health", "/v1/health"},
      {"/v1/status", "/v1/status"},
      {"/v1/params", "/v1/params"},
      {"/v1/blocks/latest", "/v1/blocks/latest"},
      {R"(/v1/blocks/([^/]+)/commit)", "/v1/blocks/3/commit"},
      {R"(/v1/blocks/([^/]+))", "/v1/blocks/" + std::to_string(ids.join_height)},
      {"/v1/blocks", "/v1/blocks"},
      {"/v1/validators", "/v1/validators"},
      {"/v1/net_info", "/v1/net_info"},
      {"/v1/consensus_state", "/v1/consensus_state"},
      {"/v1/evidence", "/v1/evidence"},
      {R"(/v1/txs/([^/]+))", "/v1/txs/" + ids.join_hash},
      {R"(/v1/accounts/([^/]+))", "/v1/accounts/" + bob},
      {"/v1/denoms", "/v1/denoms"},
      {"/v1/meters", "/v1/meters"},
      {R"(/v1/meters/([^/]+))", "/v1/meters/ev-bob"},
      {R"(/v1/meters/([^/]+)/readings)", "/v1/meters/ev-bob/readings"},
      {R"(/v1/meters/([^/]+)/battery)", "/v1/meters/ev-bob/battery"},
      {R"(/v1/meters/([^/]+)/ocmf)", "/v1/meters/ev-bob/ocmf"},
      {R"(/v1/meters/([^/]+)/ocmf/([^/]+))", "/v1/meters/ev-bob/ocmf/T1"},
      {"/v1/markets", "/v1/markets"},
      {R"(/v1/markets/([^/]+)/([^/]+))", "/v1/markets/Z1/" + s},
      {R"(/v1/orders/([^/]+))", "/v1/orders/1"},
      {R"(/v1/contracts/([^/]+))", "/v1/contracts/1"},
      {R"(/v1/accounts/([^/]+)/orders)", "/v1/accounts/" + bob + "/orders"},
      {"/v1/trades", "/v1/trades?zone=Z1&interval=" + s},
      {"/v1/settlements", "/v1/settlements?zone=Z1&interval=" + s},
      {"/v1/zones", "/v1/zones"},
      {R"(/v1/tariffs/([^/]+))", "/v1/tariffs/Z1"},
      {"/v1/events", "/v1/events"},
      {R"(/v1/events/([^/]+))", "/v1/events/" + std::to_string(ids.event)},
      {"/v1/programs", "/v1/programs"},
      {R"(/v1/programs/([^/]+))", "/v1/programs/" + std::to_string(ids.program)},
      {"/v1/pools", "/v1/pools"},
      {R"(/v1/pools/([^/]+))", "/v1/pools/" + std::to_string(ids.pool)},
      {R"(/v1/accounts/([^/]+)/statement)", "/v1/accounts/" + bob + "/statement"},
      {R"(/v1/accounts/([^/]+)/debts)", "/v1/accounts/" + bob + "/debts"},
      // Governance: public records of the consortium's decisions and who holds which role (404
      // for a proposal: this scenario makes none; gov_api_test.cc shows one).
      {"/v1/proposals", "/v1/proposals"},
      {R"(/v1/proposals/([^/]+))", "/v1/proposals/1"},
      {"/v1/roles", "/v1/roles"},
      {"/v1/upgrade", "/v1/upgrade"},  // versions and heights: no account at all
      // Proofs: the readers of what they prove (403 to anyone else); light blocks are headers,
      // commits and validator sets, public.
      {R"(/v1/proof/accounts/([^/]+))", "/v1/proof/accounts/" + bob},
      {R"(/v1/proof/meters/([^/]+)/energy)", "/v1/proof/meters/ev-bob/energy"},
      {R"(/v1/proof/trades/([^/]+)/([^/]+)/([^/]+))", "/v1/proof/trades/Z1/" + s + "/0"},
      {R"(/v1/light/([^/]+))", "/v1/light/3"},
      {R"(/v1/proof/denoms/([^/]+))", "/v1/proof/denoms/CNY"},
      {"/v1/proof/params", "/v1/proof/params"},
      // 404 here (no metrics in this fixture); what it holds: tests/node/metrics_test.cc.
      {"/metrics", "/metrics"},
      // The explorer's static files (explorer_test.cc): the same for every reader.
      {"/", "/"},
      {R"(/explorer/([^/]+))", "/explorer/explorer.js"},
      // A stream, read to the block after the scenario's last (StreamedPersonalData).
      {"/v1/stream", "/v1/stream?from=1&account=" + bob + "&meter=ev-bob"},
  };
}

// What an anonymous answer may not hold: a meter's readings or register state, a battery's
// history, balances, a tx's bytes or memo, and any object that names a person (owner, buyer,
// seller, proposer, counterparty, an account address) together with an amount of money or
// energy. Businesses in public roles (a zone's grid company, a pool's aggregator, a program's
// sponsor) are named with their public records. Returns what it found, "" for nothing.
// True when `j` holds, at any depth, a non-null value under one of `keys`.
bool HasAnyDeep(const json& j, const std::set<std::string>& keys) {
  if (j.is_array()) {
    for (const json& x : j) {
      if (HasAnyDeep(x, keys)) return true;
    }
    return false;
  }
  if (!j.is_object()) return false;
  for (const auto& [k, v] : j.items()) {
    if (keys.count(k) > 0 && !v.is_null()) return true;
    if (HasAnyDeep(v, keys)) return true;
  }
  return false;
}

std::string PersonalDataIn(const json& j, const std::string& at) {
  static const std::set<std::string> kNever = {
      "last_reading", "intervals", "history", "balances", "tx",          "memo",         "records",
      "log",          "statement", "debts",   "members",  "enrollments", "battery",      "soc_permille",
      "soh_permille", "signer",    "code",    "op",       "created_id",  "readings_accepted"};
  static const std::set<std::string> kPerson = {"owner", "buyer", "seller", "proposer", "counterparty", "address"};
  static const std::set<std::string> kAmount = {"amount",      "price",        "escrow",  "seller_paid",
                                                "buyer_refund", "penalty",     "paid",    "earned",
                                                "payout",      "collateral",   "limit_price", "energy_wh",
                                                "delivered_wh", "performance_wh", "import_wh", "export_wh"};
  if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) {
      std::string f = PersonalDataIn(j[i], at + "[" + std::to_string(i) + "]");
      if (!f.empty()) return f;
    }
    return "";
  }
  if (!j.is_object()) return "";
  bool person = false;
  for (const auto& [k, v] : j.items()) {
    const bool empty = v.is_null() || (v.is_array() && v.empty()) || (v.is_string() && v.get<std::string>().empty());
    if (kNever.count(k) > 0 && !empty) return at + "." + k;
    if (kPerson.count(k) > 0 && !v.is_null()) person = true;
  }
  if (person && HasAnyDeep(j, kAmount)) return at + " (a person with an amount)";
  // An event's, program's or pool's totals over fewer than 3 participants (the scenario's
  // participants are each another owner) are theirs.
  static const std::set<std::string> kTotals = {
      "paid", "owed", "returned", "remaining", "performance_wh", "fees_earned", "members_earned"};
  for (const char* count : {"member_count", "enrollment_count"}) {
    auto it = j.find(count);
    if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() >= 3) continue;
    for (const auto& [k, v] : j.items()) {
      if (kTotals.count(k) > 0 && !v.is_null())
        return at + "." + k + " (a total over " + it->dump() + ")";
    }
  }
  for (const auto& [k, v] : j.items()) {
    std::string f = PersonalDataIn(v, at + "." + k);
    if (!f.empty()) return f;
  }
  return "";
}

// Reads the stream at `path` anonymously, from its start to the first event of a block committed
// for the purpose after the scenario, and returns the personal data any event holds ("" for
// none); `events` counts them.
std::string StreamedPersonalData(int port, const std::string& path,
                                 const std::function<void()>& tick, int64_t end_height,
                                 int* events) {
  tick();
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(20, 0);
  std::string buf, found;
  const std::string end_id = "id: " + std::to_string(end_height) + ":";
  c.Get(path, [&](const char* data, size_t n) {
    buf.append(data, n);
    for (size_t e = buf.find("\n\n"); e != std::string::npos; e = buf.find("\n\n")) {
      const std::string event = buf.substr(0, e);
      buf.erase(0, e + 2);
      if (event.starts_with(end_id)) return false;
      const size_t d = event.find("\ndata: ");
      if (d == std::string::npos) continue;
      ++*events;
      const std::string f =
          PersonalDataIn(json::parse(event.substr(d + 7)), event.substr(0, event.find('\n')));
      if (found.empty()) found = f;
    }
    return true;
  });
  return found;
}

TEST_F(ApiPrivacyTest, EveryPublicRouteWalkedAnonymouslyShowsNoPersonalData) {
  const auto paths = WalkPaths({ids_.join_tx["height"].get<int64_t>(), ids_.join_tx["hash"].get<std::string>(),
                                ids_.event, ids_.program, ids_.pool, Addr(k().bob)});
  int walked = 0, refused = 0;
  for (const api::Route& r : api::kRoutes) {
    if (std::string(r.method) != "GET") continue;
    auto it = paths.find(r.pattern);
    ASSERT_NE(it, paths.end()) << "no walk path for route " << r.pattern << ": add one (and say what it shows)";
    if (std::string(r.pattern) == "/v1/stream") {
      int events = 0;
      const int64_t end = node_->chain().Tip().height + 1;
      EXPECT_EQ(StreamedPersonalData(
                    api_->port(), it->second, [this] { Tick(); }, end, &events),
                "");
      EXPECT_GE(events, end - 1);  // a block event each, and the scenario's markets
      ++walked;
      continue;
    }
    HttpReply got = Get(it->second);
    SCOPED_TRACE(it->second);
    ASSERT_TRUE(got.status == 200 || got.status == 403 || got.status == 404 || got.status == 503) << got.raw;
    if (got.status == 403) {
      ++refused;
      continue;
    }
    ++walked;
    if (got.status == 200) {
      EXPECT_EQ(PersonalDataIn(got.body, "$"), "") << got.raw;
    }
  }
  EXPECT_EQ(walked + refused, static_cast<int>(paths.size()));
  // An account, its orders, statement and debts, an order, a meter's readings, battery, OCMF
  // records and record; the proofs of an account, a meter's energy and a trade.
  EXPECT_EQ(refused, 12);
  // The walk's detector itself: bob's own answers are what it flags.
  EXPECT_NE(PersonalDataIn(As(k().bob, "/v1/meters/ev-bob").body, "$"), "");
  EXPECT_NE(PersonalDataIn(As(k().bob, "/v1/accounts/" + Addr(k().bob)).body, "$"), "");
  EXPECT_NE(PersonalDataIn(As(grid_, "/v1/trades?zone=Z1&interval=" + std::to_string(kS)).body, "$"), "");
  EXPECT_NE(PersonalDataIn(As(agg_, "/v1/pools").body, "$"),
            "");  // its pool's totals over two owners
}

}  // namespace
}  // namespace v2g::nodetest
