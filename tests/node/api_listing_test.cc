// What a listing costs (issue 12): every list endpoint reads the page it returns, not the records
// that do not match. Each test fills the state with thousands of records a page does not show and
// counts the keys the request reads (DbReader::KeysRead), comparing with the same request before
// they were added; and pages are followed by their cursors to check that every record comes once,
// in the documented order, with records added between pages.
#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/limits.h"
#include "contracts/grid.h"
#include "contracts/market.h"
#include "contracts/meters.h"
#include "contracts/pools.h"
#include "contracts/state_tree.h"
#include "node/api/api.h"
#include "node/store/index.h"
#include "proto/encode.h"
#include "tests/node/node_test_util.h"

namespace v2g::nodetest {
namespace {

using json = nlohmann::json;

// Records added in bulk that a page must not pay for.
constexpr int kNoise = 5000;
// Keys a request may read beyond those of the same request before the noise was added: the seek
// of a scan and the key that tells a page more remain.
constexpr uint64_t kSeekSlack = 4;

std::string Be64(uint64_t v) {
  std::string s;
  AppendBigEndian64(s, v);
  return s;
}
std::string Be32(uint32_t v) {
  std::string s;
  for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((v >> shift) & 0xff);
  return s;
}

class ListingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto st = Store::Open(dir_.path() + "/chain.db");
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    store_ = std::move(*st);
    GenesisState g = TestGenesis(keys_);
    EnableMarket(g);
    Overlay init(&store_->state());
    auto app = InitChain(g, init);
    ASSERT_TRUE(app.ok()) << app.status().ToString();
    ASSERT_TRUE(store_->InitGenesis(Blake2b256(GenesisToJson(g)), *app, init.writes()).ok());
    StartApi();
  }
  void TearDown() override { StopApi(); }

  // (Re)starts the API over the store: the chain reads its tip when it starts.
  void StartApi() {
    StopApi();
    mempool_ = std::make_unique<Mempool>(kChainId, MempoolLimits{1000, 16 << 20, 100});
    chain_ = std::make_unique<Chain>(*store_, *mempool_, kChainId, kGenesisTimeMs);
    ApiContext ctx;
    ctx.private_reads = false;  // every record, as the operator's tools read it (access.h)
    ctx.store = store_.get();
    ctx.chain = chain_.get();
    ctx.mempool = mempool_.get();
    ctx.chain_id = kChainId;
    ctx.threads = 1;
    api_ = std::make_unique<ApiServer>(ctx);
    ASSERT_TRUE(api_->Start("127.0.0.1", 0).ok());
    cli_ = MakeClient(api_->port());
  }
  void StopApi() {
    cli_.reset();
    if (api_) api_->Stop();
    api_.reset();
    chain_.reset();
    mempool_.reset();
  }

  // Commits a block of `txs` (opaque bytes) whose state changes are `writes`, as execution would.
  void Commit(const Overlay::Writes& writes, int txs = 0, size_t tx_bytes = 0) {
    const int64_t h = store_->Height() + 1;
    BlockToCommit b;
    b.block.mutable_header()->set_chain_id(kChainId);
    b.block.mutable_header()->set_height(h);
    b.block.mutable_header()->set_time_ms(kGenesisTimeMs + h * 1000);
    for (int i = 0; i < txs; ++i) {
      std::string tx(tx_bytes, 'x');
      tx += std::to_string(h) + "/" + std::to_string(i);
      b.block.add_txs(tx);
      b.results.add_tx_results();
      b.tx_hashes.push_back(Blake2b256(tx));
    }
    b.block_id = HashString(Blake2b256(Encode(b.block.header())));
    b.state_changes = &writes;
    auto tree = UpdateStateTree(store_->state(), h, writes);
    ASSERT_TRUE(tree.ok());
    b.results.set_app_hash(HashString(tree->root));
    b.tree_writes = &tree->writes;
    ASSERT_TRUE(store_->CommitBlock(b).ok());
  }

  // GET `path`, and the keys it read.
  HttpReply Get(const std::string& path, uint64_t* keys_read = nullptr) {
    const uint64_t before = DbReader::KeysRead();
    HttpReply r = HttpGet(*cli_, path);
    if (keys_read) *keys_read = DbReader::KeysRead() - before;
    EXPECT_EQ(r.status, 200) << path << ": " << r.raw;
    return r;
  }

  // Follows `cursor_key` (passed back as `cursor_param`) from `path` until it is null, collecting
  // `item_key` of every item of `items`.
  std::vector<std::string> AllPages(const std::string& path, const std::string& items,
                                    const std::string& item_key, const std::string& cursor_param,
                                    const std::string& cursor_key,
                                    const std::function<void(int page)>& between = nullptr) {
    std::vector<std::string> out;
    json cursor = nullptr;
    for (int page = 0; page < 1000; ++page) {
      std::string p = path;
      if (!cursor.is_null()) {
        p += std::string(p.find('?') == std::string::npos ? "?" : "&") + cursor_param + "=" +
             (cursor.is_string() ? cursor.get<std::string>() : cursor.dump());
      }
      const json body = Get(p).body;
      for (const auto& item : body[items]) {
        out.push_back(item[item_key].is_string() ? item[item_key].get<std::string>()
                                                 : item[item_key].dump());
      }
      cursor = body[cursor_key];
      if (cursor.is_null()) return out;
      if (between) between(page);
    }
    ADD_FAILURE() << "more than 1000 pages";
    return out;
  }

  std::string Owner(const KeyPair& k) const { return AddressBytes(AddrOf(k)); }

  // Every x/ key and value.
  std::map<std::string, std::string> IndexContents() const {
    std::map<std::string, std::string> out;
    store_->state().Scan("x/", [&](std::string_view k, std::string_view v) {
      out.emplace(k, v);
      return true;
    });
    return out;
  }

  // Closes the store, then runs `fn` on the raw database.
  void WithClosedStore(const std::function<void(leveldb::DB&)>& fn) {
    StopApi();
    store_.reset();
    leveldb::DB* raw = nullptr;
    leveldb::Options o;
    ASSERT_TRUE(leveldb::DB::Open(o, dir_.path() + "/chain.db", &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    fn(*db);
  }

  // Closes the store and deletes every x/ key and m/index, as in a database written before the
  // indexes (or, with `marker`, sets m/index to it, as written with another layout).
  void DropIndexes(const std::optional<std::string>& marker = std::nullopt) {
    WithClosedStore([&](leveldb::DB& db) {
      leveldb::WriteBatch drop;
      std::unique_ptr<leveldb::Iterator> it(db.NewIterator({}));
      for (it->Seek("x/"); it->Valid() && it->key().starts_with("x/"); it->Next()) {
        drop.Delete(it->key());
      }
      if (marker) {
        drop.Put("m/index", *marker);
      } else {
        drop.Delete("m/index");
      }
      ASSERT_TRUE(db.Write({}, &drop).ok());
    });
  }

  // Opens the store (which rebuilds the indexes when they need it) and starts the API.
  void OpenStore(const StoreOptions& options = {}) {
    auto st = Store::Open(dir_.path() + "/chain.db", options);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    store_ = std::move(*st);
    EXPECT_FALSE(IndexContents().empty());
    StartApi();
  }

  void ReopenWithoutIndexes() {
    DropIndexes();
    OpenStore();
  }

  // Records of every indexed kind, then changes to half of them (status changes, moves,
  // settlements and deletions), in two blocks.
  void CommitRecordsOfEveryKind() {
    const Address alice = AddrOf(keys_.alice), bob = AddrOf(keys_.bob);
    const int64_t t0 = kGenesisTimeMs / 1000;
    Overlay::Writes w;
    for (int i = 0; i < 20; ++i) {
      PutMeter(w, "m" + std::to_string(i), Owner(i % 2 ? keys_.alice : keys_.bob),
               i % 3 ? "Z1" : "Z2", i % 2 ? pb::METER_KIND_VEHICLE : pb::METER_KIND_CHARGER);
      PutMarket(w, i % 2 ? "Z1" : "Z2", t0 + 900 * i);
      PutEvent(w, 100 + static_cast<uint64_t>(i), "Z1", pb::EVENT_OPEN, Owner(keys_.carol));
      PutProgram(w, 200 + static_cast<uint64_t>(i), pb::PROGRAM_OPEN, i % 2 ? "PTS" : "CNY",
                 Owner(keys_.carol));
      PutOrder(w, 300 + static_cast<uint64_t>(i), alice, i % 2 ? pb::SIDE_SELL : pb::SIDE_BUY,
               90 + i % 4);
      PutContract(w, 400 + static_cast<uint64_t>(i), alice, bob, pb::CONTRACT_ACCEPTED);
      PutTrade(w, "Z1", t0 + 900 * i, 0, alice, bob, /*settled=*/false);
    }
    Commit(w);
    Overlay::Writes change;
    for (int i = 0; i < 20; i += 2) {
      PutMeter(change, "m" + std::to_string(i), Owner(keys_.carol), "Z3", pb::METER_KIND_SITE);
      PutEvent(change, 100 + static_cast<uint64_t>(i), "Z1", pb::EVENT_SETTLED,
               Owner(keys_.carol));
      PutProgram(change, 200 + static_cast<uint64_t>(i), pb::PROGRAM_CLOSED, "CNY",
                 Owner(keys_.carol));
      PutOrder(change, 300 + static_cast<uint64_t>(i), alice, pb::SIDE_BUY, 90,
               pb::ORDER_CANCELLED);
      PutContract(change, 400 + static_cast<uint64_t>(i), alice, bob, pb::CONTRACT_SETTLED);
      PutTrade(change, "Z1", t0 + 900 * i, 0, alice, bob, /*settled=*/true);
      PutTrade(change, "Z1", t0 + 900 * i, 1, bob, AddrOf(keys_.carol), /*settled=*/true, 7 + i);
      // Z2's markets: cleared by block 2, every other one settled by it too (x/mkt_h/).
      PutMarket(change, "Z2", t0 + 900 * i, i % 4 ? pb::MARKET_SETTLED : pb::MARKET_CLEARED, 2,
                i % 4 ? 2 : 0);
    }
    change[MeterKey("m1")] = std::nullopt;
    change[OrderKey(301)] = std::nullopt;
    change[MarketKey("Z1", t0 + 900)] = std::nullopt;
    Commit(change);
  }

  static void PutMeter(Overlay::Writes& w, const std::string& id, const std::string& owner,
                       const std::string& zone, pb::MeterKind kind) {
    pb::MeterRecord m;
    m.set_meter_id(id);
    m.set_owner(owner);
    m.set_zone(zone);
    m.set_kind(kind);
    m.set_active(true);
    w[MeterKey(id)] = Encode(m);
  }
  static void PutPool(Overlay::Writes& w, uint64_t id, const std::string& aggregator) {
    pb::PoolRecord p;
    p.set_id(id);
    p.set_aggregator(aggregator);
    p.set_name("pool" + std::to_string(id));
    w[std::string(kPoolPrefix) + Be64(id)] = Encode(p);
  }
  static void PutEvent(Overlay::Writes& w, uint64_t id, const std::string& zone,
                       pb::EventStatus status, const std::string& company) {
    pb::EventRecord e;
    e.set_id(id);
    e.set_zone(zone);
    e.set_status(status);
    e.set_grid_company(company);
    e.set_start_s(kGenesisTimeMs / 1000);
    e.set_end_s(kGenesisTimeMs / 1000 + 900);
    w[std::string(kEventPrefix) + Be64(id)] = Encode(e);
  }
  static void PutProgram(Overlay::Writes& w, uint64_t id, pb::ProgramStatus status,
                         const std::string& denom, const std::string& sponsor) {
    pb::ProgramRecord p;
    p.set_id(id);
    p.set_status(status);
    p.set_denom(denom);
    p.set_sponsor(sponsor);
    w[std::string(kProgramPrefix) + Be64(id)] = Encode(p);
  }
  static void PutMarket(Overlay::Writes& w, const std::string& zone, int64_t interval,
                        pb::MarketStatus status = pb::MARKET_OPEN, int64_t cleared_height = 0,
                        int64_t settled_height = 0) {
    pb::MarketRecord m;
    m.set_zone(zone);
    m.set_interval_start_s(interval);
    m.set_status(status);
    m.set_cleared_height(cleared_height);
    m.set_settled_height(settled_height);
    w[MarketKey(zone, interval)] = Encode(m);
  }
  // A trade of `zone`/`interval` between buyer and seller, with both accounts' s/acct_t/ keys.
  static void PutTrade(Overlay::Writes& w, const std::string& zone, int64_t interval,
                       uint32_t index, const Address& buyer, const Address& seller, bool settled,
                       int64_t energy_wh = 1000) {
    pb::TradeRecord t;
    t.set_index(index);
    t.set_zone(zone);
    t.set_interval_start_s(interval);
    t.set_buyer(AddressBytes(buyer));
    t.set_seller(AddressBytes(seller));
    t.set_energy_wh(energy_wh);
    t.set_price(100);
    t.set_settled(settled);
    if (settled) {
      t.set_delivered_wh(energy_wh);
      t.set_seller_paid(energy_wh / 10);
    }
    w[MarketTradesPrefix(zone, interval) + Be32(index)] = Encode(t);
    for (const Address& a : {buyer, seller}) {
      w[AccountTradesPrefix(a) + Be64(static_cast<uint64_t>(interval)) + Be32(index) + zone] = "";
    }
  }
  static void PutOrder(Overlay::Writes& w, uint64_t id, const Address& owner,
                       pb::Side side = pb::SIDE_BUY, int64_t price = 100,
                       pb::OrderStatus status = pb::ORDER_OPEN) {
    pb::OrderRecord o;
    o.set_id(id);
    o.set_owner(AddressBytes(owner));
    o.set_zone("Z1");
    o.set_interval_start_s(kGenesisTimeMs / 1000 + 86400);
    o.set_side(side);
    o.set_limit_price(price);
    o.set_energy_wh(1000);
    o.set_status(status);
    w[OrderKey(id)] = Encode(o);
    w[AccountOrdersPrefix(owner) + Be64(id)] = "o";
  }
  static void PutContract(Overlay::Writes& w, uint64_t id, const Address& buyer,
                          const Address& seller, pb::ContractStatus status,
                          int64_t energy_wh = 500) {
    pb::ContractRecord c;
    c.set_id(id);
    c.set_proposer(AddressBytes(buyer));
    c.set_counterparty(AddressBytes(seller));
    c.set_buyer(AddressBytes(buyer));
    c.set_seller(AddressBytes(seller));
    c.set_zone("Z1");
    c.set_interval_start_s(kGenesisTimeMs / 1000 + 86400);
    c.set_energy_wh(energy_wh);
    c.set_status(status);
    if (status == pb::CONTRACT_SETTLED) {
      c.set_seller_paid(40);
      c.set_delivered_wh(energy_wh / 2);
      c.set_penalty(energy_wh % 7);
      c.set_collateral_returned(energy_wh % 11);
    }
    w[ContractKey(id)] = Encode(c);
    w[AccountOrdersPrefix(buyer) + Be64(id)] = "c";
    w[AccountOrdersPrefix(seller) + Be64(id)] = "c";
  }

  // Keys each of `paths` reads now, then after `noise` is committed: they must not grow with it,
  // and the answers must not change (the noise matches nothing they show).
  void ExpectCostIndependentOfNoise(const std::vector<std::string>& paths,
                                    const Overlay::Writes& noise, bool same_answer = true) {
    std::vector<uint64_t> before(paths.size());
    std::vector<json> first;
    for (size_t i = 0; i < paths.size(); ++i) first.push_back(Get(paths[i], &before[i]).body);
    Commit(noise);
    for (size_t i = 0; i < paths.size(); ++i) {
      uint64_t after = 0;
      const json second = Get(paths[i], &after).body;
      if (same_answer) {
        EXPECT_EQ(second, first[i]) << paths[i];
      }
      EXPECT_LE(after, before[i] + kSeekSlack)
          << paths[i] << " read " << after << " keys with " << kNoise
          << " records it does not show, " << before[i] << " without";
    }
  }

  TestKeys keys_;
  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Mempool> mempool_;
  std::unique_ptr<Chain> chain_;
  std::unique_ptr<ApiServer> api_;
  std::unique_ptr<httplib::Client> cli_;
};

TEST_F(ListingTest, MetersByOwnerZoneAndKindReadThePageOnly) {
  Overlay::Writes w;
  for (int i = 0; i < 15; ++i) {
    PutMeter(w, "bob-" + std::to_string(100 + i), Owner(keys_.bob), "Z2",
             i % 2 ? pb::METER_KIND_VEHICLE : pb::METER_KIND_CHARGER);
  }
  Commit(w);
  Overlay::Writes noise;
  for (int i = 0; i < kNoise; ++i) {
    PutMeter(noise, "alice-" + std::to_string(10000 + i), Owner(keys_.alice), "Z1",
             pb::METER_KIND_SITE);
  }
  const std::string bob = EncodeAddress(AddrOf(keys_.bob));
  std::vector<std::string> paths;
  for (const std::string& q :
       std::vector<std::string>{"owner=" + bob, "zone=Z2", "kind=vehicle",
                                "owner=" + bob + "&kind=charger", "zone=Z2&kind=vehicle"}) {
    paths.push_back("/v1/meters?" + q + "&limit=5");
  }
  ExpectCostIndependentOfNoise(paths, noise);
  EXPECT_EQ(Get(paths[0]).body["meters"].size(), 5u);
}

TEST_F(ListingTest, MeterFilterNoIndexServesStopsAtTheSkipBudgetWithACursor) {
  Overlay::Writes w;
  for (int i = 0; i < kNoise; ++i) {
    PutMeter(w, "m" + std::to_string(10000 + i), Owner(keys_.alice), "Z1", pb::METER_KIND_CHARGER);
  }
  PutMeter(w, "z-last", Owner(keys_.alice), "Z2", pb::METER_KIND_CHARGER);  // after every other id
  Commit(w);
  const std::string path =
      "/v1/meters?owner=" + EncodeAddress(AddrOf(keys_.alice)) + "&zone=Z2&limit=10";
  uint64_t read = 0;
  const json first = Get(path, &read).body;
  EXPECT_TRUE(first["meters"].empty());
  EXPECT_FALSE(first["next_after"].is_null());  // where the walk stopped
  EXPECT_LE(read, static_cast<uint64_t>(2 * limits::kApiListSkipMax + 10));
  // Following the cursor reaches the one match.
  EXPECT_EQ(AllPages(path, "meters", "meter_id", "after", "next_after"),
            std::vector<std::string>{"z-last"});
}

TEST_F(ListingTest, MeterPagesShowEveryMeterOnceInIdOrderWithInsertsBetweenPages) {
  Overlay::Writes w;
  for (int i = 0; i < 25; ++i)
    PutMeter(w, "m" + std::to_string(100 + i), Owner(keys_.bob), "Z1", pb::METER_KIND_CHARGER);
  Commit(w);
  const std::vector<std::string> got = AllPages(
      "/v1/meters?zone=Z1&limit=10", "meters", "meter_id", "after", "next_after", [&](int page) {
        if (page != 0) return;
        Overlay::Writes more;  // one before the cursor (not shown), one after it (shown)
        PutMeter(more, "m000", Owner(keys_.bob), "Z1", pb::METER_KIND_CHARGER);
        PutMeter(more, "m999", Owner(keys_.bob), "Z1", pb::METER_KIND_CHARGER);
        Commit(more);
      });
  std::vector<std::string> want;
  for (int i = 0; i < 25; ++i) want.push_back("m" + std::to_string(100 + i));
  want.push_back("m999");
  EXPECT_EQ(got, want);
}

TEST_F(ListingTest, MarketsWithoutAZoneReadThePageOnlyAndPageByInterval) {
  const int64_t t0 = kGenesisTimeMs / 1000;
  Overlay::Writes w;
  for (int i = 0; i < 12; ++i) PutMarket(w, i % 2 ? "ZB" : "ZA", t0 + 900 * (100 + i / 2));
  Commit(w);
  Overlay::Writes noise;  // older markets, before `from`, in ZA and 49 other zones
  for (int i = 0; i < kNoise; ++i) {
    PutMarket(noise, i / 100 == 0 ? "ZA" : "N" + std::to_string(i / 100), t0 + 900 * (i % 100));
  }
  const std::string from = std::to_string(t0 + 900 * 100);
  ExpectCostIndependentOfNoise(
      {"/v1/markets?from=" + from + "&limit=10", "/v1/markets?zone=ZA&from=" + from + "&limit=10"},
      noise);
  // Pages end at interval boundaries and show every market once, by (interval, zone).
  std::vector<std::string> got;
  json cursor = t0 + 900 * 100;
  while (!cursor.is_null()) {
    const json body = Get("/v1/markets?limit=3&from=" + cursor.dump()).body;
    for (const auto& m : body["markets"]) {
      got.push_back(std::to_string(m["interval_start_s"].get<int64_t>()) +
                    m["zone"].get<std::string>());
    }
    cursor = body["next_from"];
  }
  std::vector<std::string> want;
  for (int i = 0; i < 12; ++i)
    want.push_back(std::to_string(t0 + 900 * (100 + i / 2)) + (i % 2 ? "ZB" : "ZA"));
  EXPECT_EQ(got, want);
}

TEST_F(ListingTest, PoolsNewestFirstReadThePageOnlyAndPageOnceWithInsertsBetweenPages) {
  Overlay::Writes w;
  for (uint64_t id = kNoise + 1; id <= kNoise + 15; ++id) PutPool(w, id, Owner(keys_.carol));
  Commit(w);
  Overlay::Writes noise;  // older pools
  for (uint64_t id = 1; id <= kNoise; ++id) PutPool(noise, id, Owner(keys_.carol));
  ExpectCostIndependentOfNoise(
      {"/v1/pools?limit=10", "/v1/pools?limit=5&before=" + std::to_string(kNoise + 11)}, noise);
  const json page = Get("/v1/pools?limit=10").body;
  ASSERT_EQ(page["pools"].size(), 10u);
  EXPECT_EQ(page["pools"][0]["id"], kNoise + 15);
  EXPECT_EQ(page["next_before"], kNoise + 6);
  // Every pool once, newest first; pools added between pages are newer than the cursor.
  const std::vector<std::string> got =
      AllPages("/v1/pools?limit=400", "pools", "id", "before", "next_before", [&](int page_no) {
        Overlay::Writes more;
        PutPool(more, kNoise + 16 + static_cast<uint64_t>(page_no), Owner(keys_.carol));
        Commit(more);
      });
  ASSERT_EQ(got.size(), static_cast<size_t>(kNoise + 15));
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], std::to_string(kNoise + 15 - i));
}

TEST_F(ListingTest, EventsAndProgramsByZoneAndStatusReadThePageOnly) {
  const std::string company = Owner(keys_.carol);
  Overlay::Writes w;
  for (uint64_t id = 1; id <= 15; ++id) PutEvent(w, id, "Z2", pb::EVENT_OPEN, company);
  for (uint64_t id = 16; id <= 30; ++id) PutProgram(w, id, pb::PROGRAM_OPEN, "CNY", company);
  Commit(w);
  Overlay::Writes noise;  // newer, settled or closed, in another zone
  for (uint64_t id = 100; id < 100 + kNoise; ++id) {
    if (id % 2) {
      PutEvent(noise, id, "Z1", pb::EVENT_SETTLED, company);
    } else {
      PutProgram(noise, id, pb::PROGRAM_CLOSED, "CNY", company);
    }
  }
  ExpectCostIndependentOfNoise(
      {"/v1/events?status=open&limit=10", "/v1/events?zone=Z2&limit=10",
       "/v1/events?zone=Z2&status=open&limit=10", "/v1/programs?status=open&limit=10"},
      noise);
  // A status change moves a record between the indexes.
  Overlay::Writes settle;
  PutEvent(settle, 15, "Z2", pb::EVENT_SETTLED, company);
  Commit(settle);
  const json open = Get("/v1/events?zone=Z2&status=open&limit=100").body;
  ASSERT_EQ(open["events"].size(), 14u);
  EXPECT_EQ(open["events"][0]["id"], 14);
  EXPECT_EQ(Get("/v1/events?zone=Z2&status=settled").body["events"][0]["id"], 15);
}

TEST_F(ListingTest, AccountOrdersNewestFirstAndOfOneKindReadThePageOnly) {
  const Address alice = AddrOf(keys_.alice), bob = AddrOf(keys_.bob);
  Overlay::Writes w;
  for (uint64_t id = kNoise + 1; id <= kNoise + 15; ++id)
    PutContract(w, id, alice, bob, pb::CONTRACT_PROPOSED);
  for (uint64_t id = kNoise + 16; id <= kNoise + 30; ++id) PutOrder(w, id, alice);
  Commit(w);
  Overlay::Writes noise;  // older orders
  for (uint64_t id = 1; id <= kNoise; ++id) PutOrder(noise, id, alice);
  const std::string a = "/v1/accounts/" + EncodeAddress(alice) + "/orders?limit=10";
  ExpectCostIndependentOfNoise(
      {a + "&kind=contract", a, a + "&before=" + std::to_string(kNoise + 20)}, noise);
  const json contracts = Get(a + "&kind=contract").body;
  ASSERT_EQ(contracts["orders"].size(), 10u);
  EXPECT_EQ(contracts["orders"][0]["id"], kNoise + 15);
  EXPECT_EQ(Get(a).body["orders"][0]["id"], kNoise + 30);
}

TEST_F(ListingTest, AccountTradesAndSettlementsReadThePageOnly) {
  const Address alice = AddrOf(keys_.alice), bob = AddrOf(keys_.bob);
  const int64_t t0 = kGenesisTimeMs / 1000;
  const int64_t newest = t0 + 900 * (kNoise / 10 + 1);  // the 15 shown: after the noise
  Overlay::Writes w;
  for (uint32_t i = 0; i < 15; ++i)
    PutTrade(w, "Z1", newest + 900 * (i / 5), i % 5, alice, bob, true);
  PutContract(w, 1, alice, bob, pb::CONTRACT_SETTLED);
  PutContract(w, 2, alice, bob, pb::CONTRACT_PROPOSED);
  Commit(w);
  Overlay::Writes noise;  // older trades, half of them settled
  for (uint32_t i = 0; i < kNoise; ++i) {
    PutTrade(noise, "Z1", t0 + 900 * (i / 10), i % 10, alice, bob, /*settled=*/i % 2 == 0);
  }
  const std::string a = EncodeAddress(alice);
  ExpectCostIndependentOfNoise(
      {"/v1/trades?account=" + a + "&limit=10",
       "/v1/trades?account=" + a + "&limit=4&before=" + std::to_string(newest + 1800),
       "/v1/settlements?account=" + a + "&limit=10"},
      noise, /*same_answer=*/false);  // the settlement totals grow
  const json s = Get("/v1/settlements?account=" + a + "&limit=10").body;
  EXPECT_EQ(s["trades_total"], kNoise / 2 + 15);
  EXPECT_EQ(s["contracts_total"], 1);
  EXPECT_EQ(s["totals"]["energy_wh"], 1000 * (kNoise / 2 + 15) + 500);
  EXPECT_EQ(s["totals"]["delivered_wh"], 1000 * (kNoise / 2 + 15) + 250);  // the contract: half
  ASSERT_EQ(s["trades"].size(), 10u);
  EXPECT_EQ(s["trades"][0]["interval_start_s"], newest + 1800);  // newest first
  EXPECT_EQ(s["trades"][0]["index"], 4);
  EXPECT_EQ(s["contracts"].size(), 1u);
  // Bob is the other party of the same trades and contracts.
  EXPECT_EQ(Get("/v1/settlements?account=" + EncodeAddress(bob)).body["totals"], s["totals"]);
  const json t = Get("/v1/trades?account=" + a + "&limit=10").body;
  ASSERT_EQ(t["trades"].size(), 10u);
  EXPECT_EQ(t["trades"][0]["interval_start_s"], newest + 1800);
}

// GET /v1/settlements?zone=&interval=[&account=] the slow way: every trade and contract of the
// market, as the handler did before the market totals were indexed. Totals as the API renders
// them, and the trade indexes and contract ids of the first `limit` of each.
json RecountMarketSettlements(const KvReader& st, const std::string& zone, int64_t interval,
                              const std::string& who, size_t limit) {
  int64_t trades = 0, contracts = 0, energy = 0, delivered = 0, paid = 0, refund = 0, penalty = 0,
          returned = 0;
  json trade_ids = json::array(), contract_ids = json::array();
  auto sum = [&](const auto& r) {
    energy += r.energy_wh();
    delivered += r.delivered_wh();
    paid += r.seller_paid();
    refund += r.buyer_refund();
    penalty += r.penalty();
  };
  auto party = [&](const auto& r) { return who.empty() || r.buyer() == who || r.seller() == who; };
  for (const auto& t : LoadMarketTrades(st, zone, interval)) {
    if (!t.settled() || !party(t)) continue;
    sum(t);
    ++trades;
    if (trade_ids.size() < limit) trade_ids.push_back(t.index());
  }
  // Every contract (the tests' records are not in the market's own contract list), by id.
  st.Scan(kContractPrefix, [&](std::string_view, std::string_view v) {
    const auto c = DecodeRecord<pb::ContractRecord>(std::string(v));
    if (c.zone() != zone || c.interval_start_s() != interval) return true;
    if (c.status() != pb::CONTRACT_SETTLED || !party(c)) return true;
    sum(c);
    returned += c.collateral_returned();
    ++contracts;
    if (contract_ids.size() < limit) contract_ids.push_back(c.id());
    return true;
  });
  auto amount = [](int64_t v) { return std::to_string(v); };
  return {{"trades_total", trades},
          {"contracts_total", contracts},
          {"energy_wh", energy},
          {"delivered_wh", delivered},
          {"seller_paid", amount(paid)},
          {"buyer_refund", amount(refund)},
          {"penalty", amount(penalty)},
          {"collateral_returned", amount(returned)},
          {"trades", trade_ids},
          {"contracts", contract_ids}};
}

// The same fields of an answer of GET /v1/settlements.
json SettlementsSummary(const json& body) {
  json trade_ids = json::array(), contract_ids = json::array();
  for (const auto& t : body["trades"]) trade_ids.push_back(t["index"]);
  for (const auto& c : body["contracts"]) contract_ids.push_back(c["id"]);
  const json& t = body["totals"];
  return {{"trades_total", body["trades_total"]},
          {"contracts_total", body["contracts_total"]},
          {"energy_wh", t["energy_wh"]},
          {"delivered_wh", t["delivered_wh"]},
          {"seller_paid", t["seller_paid"]["amount"]},
          {"buyer_refund", t["buyer_refund"]["amount"]},
          {"penalty", t["penalty"]["amount"]},
          {"collateral_returned", t["collateral_returned"]["amount"]},
          {"trades", trade_ids},
          {"contracts", contract_ids}};
}

TEST_F(ListingTest, MarketSettlementsReadThePageAndTotalsMatchARecount) {
  const Address alice = AddrOf(keys_.alice), bob = AddrOf(keys_.bob), carol = AddrOf(keys_.carol);
  const int64_t interval = kGenesisTimeMs / 1000 + 86400;  // PutContract's market
  Overlay::Writes w;
  PutMarket(w, "Z1", interval);
  PutMarket(w, "Z2", interval);
  for (uint32_t i = 0; i < 15; ++i) PutTrade(w, "Z1", interval, i, alice, bob, true, 100 + i);
  PutTrade(w, "Z1", interval, 15, alice, bob, /*settled=*/false);
  for (uint64_t id = 1; id <= 12; ++id) {  // a full page of contracts before the noise
    PutContract(w, id, id % 2 ? alice : bob, id % 2 ? bob : alice, pb::CONTRACT_SETTLED,
                500 + 37 * static_cast<int64_t>(id));
  }
  PutContract(w, 13, alice, bob, pb::CONTRACT_ACCEPTED);
  Commit(w);
  // Noise: the market's later trades between bob and carol, half of them settled, and settled
  // contracts between them; a trade of alice's in another market.
  Overlay::Writes noise;
  for (uint32_t i = 16; i < 16 + kNoise; ++i) {
    PutTrade(noise, "Z1", interval, i, carol, bob, /*settled=*/i % 2 == 0, 1000 + i);
  }
  for (uint64_t id = 100; id < 300; ++id) {
    PutContract(noise, id, carol, bob, pb::CONTRACT_SETTLED, static_cast<int64_t>(id));
  }
  PutTrade(noise, "Z2", interval, 0, alice, carol, true, 5);
  const std::string market = "/v1/settlements?zone=Z1&interval=" + std::to_string(interval);
  const std::string a = EncodeAddress(alice);
  ExpectCostIndependentOfNoise({market + "&limit=10", market + "&account=" + a + "&limit=10"},
                               noise, /*same_answer=*/false);  // the market's totals grow
  // Totals and pages equal a recount over every trade and contract of the market, for the market
  // and for each party (carol's only in the noise, alice's only before it).
  for (const Address* who : {static_cast<const Address*>(nullptr), &alice, &bob, &carol}) {
    for (int64_t limit : {1, 10, 500}) {
      std::string path = market + "&limit=" + std::to_string(limit);
      if (who) path += "&account=" + EncodeAddress(*who);
      EXPECT_EQ(SettlementsSummary(Get(path).body),
                RecountMarketSettlements(store_->state(), "Z1", interval,
                                         who ? AddressBytes(*who) : "", static_cast<size_t>(limit)))
          << path;
    }
  }
  const json alice_page = Get(market + "&account=" + a + "&limit=10").body;
  EXPECT_EQ(alice_page["trades_total"], 15);
  EXPECT_EQ(alice_page["contracts_total"], 12);
  EXPECT_EQ(alice_page["trades"][0]["index"], 0);
  EXPECT_EQ(Get(market).body["trades_total"], 15 + kNoise / 2);
  // Another market and another account's totals are apart.
  EXPECT_EQ(Get("/v1/settlements?zone=Z2&interval=" + std::to_string(interval)).body["totals"]
                ["energy_wh"],
            5);
}

TEST_F(ListingTest, MarketDepthReadsTheLevelsShownNotTheOrders) {
  const Address alice = AddrOf(keys_.alice);
  const int64_t interval = kGenesisTimeMs / 1000 + 86400;
  Overlay::Writes w;
  PutMarket(w, "Z1", interval);
  PutOrder(w, 1, alice, pb::SIDE_BUY, 100);
  PutOrder(w, 2, alice, pb::SIDE_BUY, 100);
  PutOrder(w, 3, alice, pb::SIDE_BUY, 90);
  PutOrder(w, 4, alice, pb::SIDE_SELL, 130);
  PutOrder(w, 5, alice, pb::SIDE_SELL, 120);
  PutOrder(w, 6, alice, pb::SIDE_SELL, 110, pb::ORDER_CANCELLED);  // not in the book
  Commit(w);
  const std::string path = "/v1/markets/Z1/" + std::to_string(interval) + "?limit=2";
  const json depth = Get(path).body["depth"];
  EXPECT_EQ(depth["orders"], "open");
  ASSERT_EQ(depth["bids"].size(), 2u);
  EXPECT_EQ(depth["bids"][0]["price"]["amount"], "100");
  EXPECT_EQ(depth["bids"][0]["energy_wh"], 2000);
  EXPECT_EQ(depth["bids"][0]["orders"], 2);
  EXPECT_EQ(depth["bids"][1]["price"]["amount"], "90");
  EXPECT_EQ(depth["bids"][1]["cumulative_wh"], 3000);
  ASSERT_EQ(depth["asks"].size(), 2u);
  EXPECT_EQ(depth["asks"][0]["price"]["amount"], "120");
  EXPECT_EQ(depth["asks"][1]["price"]["amount"], "130");
  EXPECT_EQ(depth["bid_levels"], 2);
  EXPECT_EQ(depth["ask_levels"], 2);
  EXPECT_EQ(depth["bid_energy_wh"], 3000);
  EXPECT_EQ(depth["ask_energy_wh"], 2000);
  Overlay::Writes noise;  // worse bids, at 50 other prices
  for (uint64_t id = 100; id < 100 + kNoise; ++id) {
    PutOrder(noise, id, alice, pb::SIDE_BUY, static_cast<int64_t>(id % 50) + 1);
  }
  ExpectCostIndependentOfNoise({path}, noise, /*same_answer=*/false);  // the totals grow
  const json more = Get(path).body["depth"];
  EXPECT_EQ(more["bids"], depth["bids"]);
  EXPECT_EQ(more["bid_levels"], 52);
  EXPECT_EQ(more["bid_energy_wh"], 3000 + 1000 * kNoise);
  // A cancellation leaves its level; the last order of a level takes the level with it.
  Overlay::Writes cancel;
  PutOrder(cancel, 2, alice, pb::SIDE_BUY, 100, pb::ORDER_CANCELLED);
  PutOrder(cancel, 3, alice, pb::SIDE_BUY, 90, pb::ORDER_CANCELLED);
  Commit(cancel);
  const json after = Get(path).body["depth"];
  EXPECT_EQ(after["bids"][0]["orders"], 1);
  EXPECT_EQ(after["bids"][1]["price"]["amount"], "50");
  EXPECT_EQ(after["bid_levels"], 51);
}

TEST_F(ListingTest, StatementReadsThePeriodNotTheHistory) {
  const Address bob = AddrOf(keys_.bob);
  const int64_t t0 = kGenesisTimeMs / 1000;
  Overlay::Writes w;
  PutMeter(w, "bob-car", Owner(keys_.bob), "Z1", pb::METER_KIND_VEHICLE);
  PutProgram(w, 1, pb::PROGRAM_OPEN, "PTS", Owner(keys_.carol));
  Commit(w);
  Overlay::Writes noise;  // chargers of bob's, programs in CNY, statement entries before the period
  for (int i = 0; i < kNoise; ++i) {
    PutMeter(noise, "bob-c" + std::to_string(10000 + i), Owner(keys_.bob), "Z1",
             pb::METER_KIND_CHARGER);
    PutProgram(noise, 100 + static_cast<uint64_t>(i), pb::PROGRAM_CLOSED, "CNY",
               Owner(keys_.carol));
    pb::StatementEntry e;
    e.set_market_revenue(1);
    noise[std::string(kStatementPrefix) + AddressBytes(bob) +
          Be64(static_cast<uint64_t>(t0 + 900 * i))] = Encode(e);
  }
  const int64_t from = t0 + 900 * (kNoise + 10);
  const std::string path = "/v1/accounts/" + EncodeAddress(bob) +
                           "/statement?from=" + std::to_string(from) +
                           "&to=" + std::to_string(from + 3600);
  ExpectCostIndependentOfNoise({path}, noise);
  const json s = Get(path).body;
  EXPECT_EQ(s["points_denoms"], json::array({"PTS"}));
  ASSERT_EQ(s["vehicles"].size(), 1u);
  EXPECT_EQ(s["vehicles"][0]["meter_id"], "bob-car");
}

TEST_F(ListingTest, EvidencePagesOnceInKeyOrder) {
  Overlay::Writes w;
  for (int i = 0; i < 7; ++i) {
    pb::DuplicateVoteEvidence ev;
    ev.mutable_vote_a()->set_height(10 + i);
    ev.mutable_vote_b()->set_height(10 + i);
    w[std::string(kEvidencePrefix) + "validator-" + std::to_string(i)] = Encode(ev);
  }
  Commit(w);
  json cursor = nullptr;
  std::vector<int64_t> heights;
  for (int page = 0; page < 10; ++page) {
    const std::string after = cursor.is_null() ? "" : "&after=" + cursor.get<std::string>();
    const json body = Get("/v1/evidence?limit=3" + after).body;
    EXPECT_LE(body["committed"].size(), 3u);
    for (const auto& e : body["committed"]) heights.push_back(e["height"].get<int64_t>());
    cursor = body["next_after"];
    if (cursor.is_null()) break;
  }
  EXPECT_EQ(heights, (std::vector<int64_t>{10, 11, 12, 13, 14, 15, 16}));
  HttpReply bad = HttpGet(*cli_, "/v1/evidence?after=zz");
  EXPECT_EQ(bad.status, 400);
}

TEST_F(ListingTest, BlockListDecodesNoTx) {
  for (int i = 0; i < 3; ++i) Commit({}, /*txs=*/2000, /*tx_bytes=*/1000);  // ~2 MB each
  StartApi();
  const uint64_t before = DbReader::BytesRead();
  const json page = Get("/v1/blocks?from=1&limit=3").body;
  EXPECT_LT(DbReader::BytesRead() - before, 4096u);  // three headers, not 6 MB of txs
  ASSERT_EQ(page["blocks"].size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(page["blocks"][i]["height"], i + 1);
    EXPECT_EQ(page["blocks"][i]["num_txs"], 2000);
    EXPECT_EQ(page["blocks"][i]["block_id"],
              Get("/v1/blocks/" + std::to_string(i + 1)).body["block_id"]);
  }
}

TEST_F(ListingTest, IndexesAreRebuiltOnOpenWhenMissing) {
  Overlay::Writes w;
  PutMeter(w, "m1", Owner(keys_.bob), "Z7", pb::METER_KIND_SITE);
  PutEvent(w, 3, "Z7", pb::EVENT_OPEN, Owner(keys_.carol));
  Commit(w, /*txs=*/1, /*tx_bytes=*/10);
  ReopenWithoutIndexes();
  EXPECT_EQ(Get("/v1/meters?zone=Z7").body["meters"][0]["meter_id"], "m1");
  EXPECT_EQ(Get("/v1/events?zone=Z7&status=open").body["events"][0]["id"], 3);
  EXPECT_EQ(Get("/v1/blocks?from=1").body["blocks"][0]["num_txs"], 1);
}

TEST_F(ListingTest, IndexesKeptBlockByBlockEqualARebuild) {
  CommitRecordsOfEveryKind();
  const std::map<std::string, std::string> kept = IndexContents();
  EXPECT_GT(kept.size(), 100u);
  ReopenWithoutIndexes();
  EXPECT_EQ(IndexContents(), kept);
  // The same in batches of a few records: the totals and book levels each batch adds to are
  // those the earlier batches wrote.
  DropIndexes();
  OpenStore({.reindex_batch_records = 3});
  EXPECT_EQ(IndexContents(), kept);
}

// The markets each block cleared and settled (x/mkt_h/, GET /v1/stream's market events) follow
// their records' heights, and a rebuilt index has them too.
TEST_F(ListingTest, MarketsAreIndexedByTheBlockThatClearedAndSettledThem) {
  CommitRecordsOfEveryKind();
  auto at = [&](int64_t height) {
    std::vector<std::string> out;
    store_->state().Scan(index::MarketsAtHeightPrefix(height),
                         [&](std::string_view k, std::string_view) {
                           auto m = index::ParseMarketAtHeight(k, height);
                           EXPECT_TRUE(m.has_value()) << k;
                           if (m)
                             out.push_back(std::string(m->settled ? "s " : "c ") + m->zone + " " +
                                           std::to_string(m->interval_start_s));
                           return true;
                         });
    return out;
  };
  const int64_t t0 = kGenesisTimeMs / 1000;
  std::vector<std::string> want;
  for (int i = 0; i < 20; i += 2) want.push_back("c Z2 " + std::to_string(t0 + 900 * i));
  for (int i = 2; i < 20; i += 4) want.push_back("s Z2 " + std::to_string(t0 + 900 * i));
  EXPECT_EQ(at(2), want);
  EXPECT_TRUE(at(1).empty());
  EXPECT_TRUE(at(3).empty());
  EXPECT_FALSE(index::ParseMarketAtHeight(index::MarketsAtHeightPrefix(2) + "x", 2).has_value());
  // Cleared by block 2, settled by block 3: its clearing stays where it was.
  Overlay::Writes settle;
  PutMarket(settle, "Z2", t0, pb::MARKET_SETTLED, 2, 3);
  Commit(settle);
  EXPECT_EQ(at(2), want);
  EXPECT_EQ(at(3), std::vector<std::string>{"s Z2 " + std::to_string(t0)});
  ReopenWithoutIndexes();
  EXPECT_EQ(at(2), want);
  EXPECT_EQ(at(3), std::vector<std::string>{"s Z2 " + std::to_string(t0)});
}

// A rebuild writes the index in batches and its version marker last, so a crash part-way leaves
// no marker (or the old one) and the next open starts over from an emptied x/ section: whatever
// the batch it stopped after (in the deletion of the old entries, the state's, the block
// summaries'), the index is then the one a clean rebuild makes. Before: one batch for the whole
// state, in memory.
TEST_F(ListingTest, IndexRebuildStoppedPartWayIsRedoneOnTheNextOpen) {
  CommitRecordsOfEveryKind();
  for (int i = 0; i < 3; ++i) Commit({}, /*txs=*/1, /*tx_bytes=*/10);  // block summaries
  const std::map<std::string, std::string> kept = IndexContents();
  ASSERT_GT(kept.size(), 100u);
  // ~190 indexed state records and 5 block summaries: over 25 batches of 7.
  constexpr int64_t kBatch = 7;
  for (int64_t stop : {1, 2, 9, 20}) {
    SCOPED_TRACE("stopped after batch " + std::to_string(stop));
    // From an index of another layout (its entries to delete first), or from none.
    DropIndexes(stop % 2 ? std::optional<std::string>("1") : std::nullopt);
    if (stop % 2) {  // a stale entry the deletion must take
      WithClosedStore([](leveldb::DB& db) { ASSERT_TRUE(db.Put({}, "x/stale", "").ok()); });
    }
    auto st = Store::Open(dir_.path() + "/chain.db",
                          {.reindex_batch_records = kBatch, .reindex_stop_after_batches = stop});
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.status().code(), Code::kInternal);
    std::string marker;
    WithClosedStore([&](leveldb::DB& db) {
      std::string v;
      if (db.Get({}, "m/index", &v).ok()) marker = v;
    });
    EXPECT_NE(marker, std::string(index::kVersion));
    OpenStore({.reindex_batch_records = kBatch});
    EXPECT_EQ(IndexContents(), kept);
  }
}

}  // namespace
}  // namespace v2g::nodetest
