#include "node/store/index.h"

#include <algorithm>
#include <initializer_list>
#include <map>
#include <memory>

#include "common/assert.h"
#include "common/bytes.h"
#include "common/checked.h"
#include "contracts/grid.h"
#include "contracts/market.h"
#include "contracts/meters.h"
#include "proto/encode.h"

namespace v2g::index {
namespace {

std::string With(std::string_view prefix, std::string_view a) {
  std::string k(prefix);
  k += a;
  return k;
}
std::string WithByte(std::string prefix, int value) {
  V2G_ASSERT(value >= 0 && value < 256);
  prefix += static_cast<char>(value);
  return prefix;
}
std::string WithId(std::string prefix, uint64_t id) {
  AppendBigEndian64(prefix, id);
  return prefix;
}

std::string EncodeInts(std::initializer_list<int64_t> values) {
  std::string v;
  for (int64_t x : values) AppendBigEndian64(v, static_cast<uint64_t>(x));
  return v;
}
int64_t IntAt(std::string_view v, size_t i) {
  V2G_ASSERT(v.size() >= (i + 1) * 8);  // written by EncodeInts
  return static_cast<int64_t>(ReadBigEndian64(v.substr(i * 8)));
}

// The 8-byte id after `prefix` in a state key of exactly that shape (nullopt otherwise).
std::optional<uint64_t> IdAfter(std::string_view key, std::string_view prefix) {
  if (key.size() != prefix.size() + 8 || key.substr(0, prefix.size()) != prefix)
    return std::nullopt;
  return ReadBigEndian64(key.substr(prefix.size()));
}

bool Under(std::string_view key, std::string_view prefix) {
  return key.size() > prefix.size() && key.substr(0, prefix.size()) == prefix;
}

std::vector<std::string> MeterKeys(const pb::MeterRecord& m) {
  const std::string& id = m.meter_id();
  V2G_ASSERT(!id.empty());
  return {MeterOwnerPrefix(m.owner()) + id, MeterOwnerKindPrefix(m.owner(), m.kind()) + id,
          MeterZonePrefix(m.zone()) + id, MeterZoneKindPrefix(m.zone(), m.kind()) + id,
          MeterKindPrefix(m.kind()) + id};
}

// s/mkt/<zone>/<interval 8B> -> x/mkt_i/<interval 8B><zone>, and once cleared (settled)
// x/mkt_h/<cleared (settled) height 8B><'c' ('s')><interval 8B><zone>.
std::vector<std::string> MarketKeys(std::string_view key, std::string_view value) {
  const std::string_view rest = key.substr(kMarketPrefix.size());
  if (rest.size() < 10 || rest[rest.size() - 9] != '/') return {};
  const std::string_view interval = rest.substr(rest.size() - 8);
  const std::string_view zone = rest.substr(0, rest.size() - 9);
  std::string k(kMarketByIntervalPrefix);
  k += interval;
  k += zone;
  std::vector<std::string> keys = {k};
  const auto m = DecodeRecord<pb::MarketRecord>(std::string(value));
  auto at = [&](int64_t height, char kind) {
    std::string h = MarketsAtHeightPrefix(height);
    h += kind;
    h += interval;
    h += zone;
    keys.push_back(std::move(h));
  };
  if (m.status() >= pb::MARKET_CLEARED && m.cleared_height() > 0) at(m.cleared_height(), 'c');
  if (m.status() == pb::MARKET_SETTLED && m.settled_height() > 0) at(m.settled_height(), 's');
  return keys;
}

std::vector<std::string> EventKeys(const pb::EventRecord& e) {
  return {WithId(EventStatusPrefix(e.status()), e.id()), WithId(EventZonePrefix(e.zone()), e.id()),
          WithId(EventZoneStatusPrefix(e.zone(), e.status()), e.id())};
}

std::vector<std::string> ProgramKeys(const pb::ProgramRecord& p) {
  return {WithId(ProgramStatusPrefix(p.status()), p.id()),
          WithId(With(kProgramDenomPrefix, p.denom() + "/"), p.id())};
}

// s/acct_o/<address 20B><id 8B> = 'o' | 'c'
std::vector<std::string> AccountOrderKeys(std::string_view key, std::string_view value) {
  const size_t base = kAccountOrdersPrefix.size();
  if (key.size() != base + kAddressBytes + 8 || value.size() != 1) return {};
  return {With(AccountOrdersOfKindPrefix(key.substr(base, kAddressBytes), value[0]),
               key.substr(base + kAddressBytes))};
}

// Buyer and seller, once each; a party not yet named (an empty address) has no entry.
std::vector<std::string> Parties(const std::string& buyer, const std::string& seller) {
  std::vector<std::string> out;
  for (const std::string* a : {&buyer, &seller}) {
    if (a->size() == kAddressBytes && (out.empty() || out[0] != *a)) out.push_back(*a);
  }
  return out;
}

std::string WithIndex(std::string prefix, uint32_t index) {
  for (int shift = 24; shift >= 0; shift -= 8) prefix += static_cast<char>((index >> shift) & 0xff);
  return prefix;
}

// <zone>/<interval 8B>: a market in the x/settled_m* keys.
std::string MarketPart(std::string_view prefix, std::string_view zone, int64_t interval) {
  return WithId(With(prefix, zone) + "/", static_cast<uint64_t>(interval));
}

std::string MarketSumKey(std::string_view zone, int64_t interval, std::string_view address_bytes) {
  if (address_bytes.empty()) return MarketPart("x/settled_msum/", zone, interval);
  return With(MarketPart("x/settled_masum/", zone, interval), address_bytes);
}

std::vector<std::string> SettledTradeKeys(const pb::TradeRecord& t) {
  if (!t.settled()) return {};
  const int64_t interval = t.interval_start_s();
  std::vector<std::string> out = {
      WithIndex(MarketSettledTradesPrefix(t.zone(), interval, ""), t.index())};
  for (const auto& a : Parties(t.buyer(), t.seller())) {
    out.push_back(WithIndex(WithId(SettledTradesPrefix(a), static_cast<uint64_t>(interval)),
                            t.index()) +
                  t.zone());
    out.push_back(WithIndex(MarketSettledTradesPrefix(t.zone(), interval, a), t.index()));
  }
  return out;
}

std::vector<std::string> SettledContractKeys(const pb::ContractRecord& c) {
  if (c.status() != pb::CONTRACT_SETTLED) return {};
  const int64_t interval = c.interval_start_s();
  std::vector<std::string> out = {
      WithId(MarketSettledContractsPrefix(c.zone(), interval, ""), c.id())};
  for (const auto& a : Parties(c.buyer(), c.seller())) {
    out.push_back(WithId(SettledContractsPrefix(a), c.id()));
    out.push_back(WithId(MarketSettledContractsPrefix(c.zone(), interval, a), c.id()));
  }
  return out;
}

// s/trade/<zone>/<interval 8B><index 4B>, s/ctr/<id 8B>
bool IsTradeKey(std::string_view key) {
  return Under(key, kTradePrefix) && key.size() > kTradePrefix.size() + 13 &&
         key[key.size() - 13] == '/';
}

std::string SettledSumKey(std::string_view address_bytes) {
  return With("x/settled_sum/", address_bytes);
}

void AddTo(SettledTotals& sum, const SettledTotals& x, int sign) {
  auto add = [&](int64_t& acc, int64_t v) { acc = SaturatingAdd(acc, sign > 0 ? v : -v); };
  add(sum.trades, x.trades);
  add(sum.contracts, x.contracts);
  add(sum.energy_wh, x.energy_wh);
  add(sum.delivered_wh, x.delivered_wh);
  add(sum.seller_paid, x.seller_paid);
  add(sum.buyer_refund, x.buyer_refund);
  add(sum.penalty, x.penalty);
  add(sum.collateral_returned, x.collateral_returned);
}

// The totals a settled trade or contract counts in: each party's, its market's and each party's in
// its market (each once, a self-trade included).
std::vector<std::string> SumKeys(const std::string& buyer, const std::string& seller,
                                 std::string_view zone, int64_t interval) {
  std::vector<std::string> out = {MarketSumKey(zone, interval, "")};
  for (const auto& a : Parties(buyer, seller)) {
    out.push_back(SettledSumKey(a));
    out.push_back(MarketSumKey(zone, interval, a));
  }
  return out;
}

// What a settled trade or contract adds to each totals key it counts in (nothing before).
std::pair<std::vector<std::string>, SettledTotals> SettledPart(std::string_view key,
                                                               std::string_view value) {
  if (IsTradeKey(key)) {
    auto t = DecodeRecord<pb::TradeRecord>(std::string(value));
    if (!t.settled()) return {};
    return {
        SumKeys(t.buyer(), t.seller(), t.zone(), t.interval_start_s()),
        {1, 0, t.energy_wh(), t.delivered_wh(), t.seller_paid(), t.buyer_refund(), t.penalty(), 0}};
  }
  if (IdAfter(key, kContractPrefix)) {
    auto c = DecodeRecord<pb::ContractRecord>(std::string(value));
    if (c.status() != pb::CONTRACT_SETTLED) return {};
    return {SumKeys(c.buyer(), c.seller(), c.zone(), c.interval_start_s()),
            {0, 1, c.energy_wh(), c.delivered_wh(), c.seller_paid(), c.buyer_refund(), c.penalty(),
             c.collateral_returned()}};
  }
  return {};
}

SettledTotals LoadTotalsAt(const KvReader& kv, const std::string& key) {
  auto v = kv.Get(key);
  if (!v) return {};
  V2G_ASSERT(v->size() == 64);  // EncodeTotals
  return {IntAt(*v, 0), IntAt(*v, 1), IntAt(*v, 2), IntAt(*v, 3),
          IntAt(*v, 4), IntAt(*v, 5), IntAt(*v, 6), IntAt(*v, 7)};
}

std::string EncodeTotals(const SettledTotals& t) {
  return EncodeInts({t.trades, t.contracts, t.energy_wh, t.delivered_wh, t.seller_paid,
                     t.buyer_refund, t.penalty, t.collateral_returned});
}

// Whether a state key is in a section KeysOf, SettledPart or BookPartOf reads.
bool IndexedSection(std::string_view key) {
  for (std::string_view p : {kMeterPrefix, kMarketPrefix, kEventPrefix, kProgramPrefix,
                             kAccountOrdersPrefix, kTradePrefix, kContractPrefix, kOrderPrefix}) {
    if (Under(key, p)) return true;
  }
  return false;
}

// ---- market books

std::string BookMarketKey(std::string_view base, std::string_view zone, int64_t interval) {
  return WithId(With(base, zone) + "/", static_cast<uint64_t>(interval));
}
std::string BookSidePrefix(std::string_view zone, int64_t interval, pb::Side side) {
  return WithByte(BookMarketKey("x/book_l/", zone, interval), side);
}
// Prices in key order, best first: asks ascending, bids descending (signed order kept).
uint64_t PriceKey(int64_t price, pb::Side side) {
  const uint64_t u = static_cast<uint64_t>(price) ^ (uint64_t{1} << 63);
  return side == pb::SIDE_BUY ? ~u : u;
}
int64_t PriceOfKey(uint64_t key, pb::Side side) {
  const uint64_t u = side == pb::SIDE_BUY ? ~key : key;
  return static_cast<int64_t>(u ^ (uint64_t{1} << 63));
}

// What an order adds to its market's book: its level key and side, or nothing when it is not in
// the book.
struct BookPart {
  std::string level_key, market;
  pb::Side side = pb::SIDE_UNSPECIFIED;
  int64_t energy_wh = 0, filled_wh = 0;
};
std::optional<BookPart> BookPartOf(std::string_view key, std::string_view value) {
  if (!IdAfter(key, kOrderPrefix)) return std::nullopt;
  auto o = DecodeRecord<pb::OrderRecord>(std::string(value));
  if (o.status() == pb::ORDER_CANCELLED || o.status() == pb::ORDER_STATUS_UNSPECIFIED) {
    return std::nullopt;
  }
  BookPart p;
  p.side = o.side();
  p.level_key = WithId(BookSidePrefix(o.zone(), o.interval_start_s(), o.side()),
                       PriceKey(o.limit_price(), o.side()));
  p.market = BookMarketKey("x/book_s/", o.zone(), o.interval_start_s());
  p.energy_wh = o.energy_wh();
  p.filled_wh = o.filled_wh();
  return p;
}

// The book changes of one batch, summed per level and applied to the stored levels and totals.
class BookChanges {
 public:
  void Count(std::string_view key, std::string_view value, int sign) {
    auto p = BookPartOf(key, value);
    if (!p) return;
    Level& l = levels_[p->level_key];
    l.market = p->market;
    l.bid = p->side == pb::SIDE_BUY;
    l.energy_wh = SaturatingAdd(l.energy_wh, sign * p->energy_wh);
    l.filled_wh = SaturatingAdd(l.filled_wh, sign * p->filled_wh);
    l.orders += sign;
  }

  void Finish(const KvReader& before, leveldb::WriteBatch& batch) {
    std::map<std::string, BookTotals> totals;  // deltas per market
    for (const auto& [key, d] : levels_) {
      const auto old = before.Get(key);
      const int64_t orders = (old ? IntAt(*old, 2) : 0) + d.orders;
      V2G_ASSERT(orders >= 0);
      BookTotals& t = totals[d.market];
      const int64_t level_change = (orders > 0) - (old.has_value());
      (d.bid ? t.bid_levels : t.ask_levels) += level_change;
      int64_t& side_wh = d.bid ? t.bid_energy_wh : t.ask_energy_wh;
      side_wh = SaturatingAdd(side_wh, d.energy_wh);
      if (orders == 0) {
        batch.Delete(key);
        continue;
      }
      batch.Put(key, EncodeInts({SaturatingAdd(old ? IntAt(*old, 0) : 0, d.energy_wh),
                                 SaturatingAdd(old ? IntAt(*old, 1) : 0, d.filled_wh), orders}));
    }
    for (const auto& [market, d] : totals) {
      const auto old = before.Get(market);
      const int64_t bid_levels = (old ? IntAt(*old, 0) : 0) + d.bid_levels;
      const int64_t ask_levels = (old ? IntAt(*old, 1) : 0) + d.ask_levels;
      V2G_ASSERT(bid_levels >= 0 && ask_levels >= 0);
      if (bid_levels == 0 && ask_levels == 0) {
        batch.Delete(market);
        continue;
      }
      batch.Put(market, EncodeInts({bid_levels, ask_levels,
                                    SaturatingAdd(old ? IntAt(*old, 2) : 0, d.bid_energy_wh),
                                    SaturatingAdd(old ? IntAt(*old, 3) : 0, d.ask_energy_wh)}));
    }
  }

 private:
  struct Level {
    std::string market;
    bool bid = false;
    int64_t energy_wh = 0, filled_wh = 0, orders = 0;
  };
  std::map<std::string, Level> levels_;
};

// Index changes of one batch: entries go straight to the batch, the totals' changes are summed
// per totals key (account, market, account in a market) and applied to the stored totals at the
// end.
class Indexer {
 public:
  Indexer(const KvReader& before, leveldb::WriteBatch& batch) : before_(before), batch_(batch) {}

  void Change(std::string_view key, const std::optional<std::string>& old_value,
              const std::optional<std::string>& new_value) {
    std::vector<std::string> old_keys, new_keys;
    if (old_value) old_keys = KeysOf(key, *old_value);
    if (new_value) new_keys = KeysOf(key, *new_value);
    for (const auto& k : old_keys) {
      if (std::find(new_keys.begin(), new_keys.end(), k) == new_keys.end()) batch_.Delete(k);
    }
    for (const auto& k : new_keys) {
      V2G_ASSERT(k.compare(0, kPrefix.size(), kPrefix) == 0);
      batch_.Put(k, "");
    }
    if (old_value) Count(key, *old_value, -1);
    if (new_value) Count(key, *new_value, +1);
  }

  void Finish() {
    for (const auto& [sum_key, delta] : deltas_) {
      SettledTotals t = LoadTotalsAt(before_, sum_key);
      AddTo(t, delta, +1);
      batch_.Put(sum_key, EncodeTotals(t));
    }
    book_.Finish(before_, batch_);
  }

 private:
  void Count(std::string_view key, std::string_view value, int sign) {
    auto [sum_keys, part] = SettledPart(key, value);
    for (const auto& k : sum_keys) AddTo(deltas_[k], part, sign);
    book_.Count(key, value, sign);
  }

  const KvReader& before_;
  leveldb::WriteBatch& batch_;
  std::map<std::string, SettledTotals> deltas_;  // by totals key
  BookChanges book_;
};

}  // namespace

std::string SettledTradesPrefix(std::string_view address_bytes) {
  return With("x/settled_t/", address_bytes);
}
std::string SettledContractsPrefix(std::string_view address_bytes) {
  return With("x/settled_c/", address_bytes);
}

SettledTotals LoadSettledTotals(const KvReader& kv, std::string_view address_bytes) {
  V2G_ASSERT(address_bytes.size() == kAddressBytes);
  return LoadTotalsAt(kv, SettledSumKey(address_bytes));
}

std::string MarketSettledTradesPrefix(std::string_view zone, int64_t interval,
                                      std::string_view address_bytes) {
  V2G_ASSERT(address_bytes.empty() || address_bytes.size() == kAddressBytes);
  if (address_bytes.empty()) return MarketPart("x/settled_mt/", zone, interval);
  return With(MarketPart("x/settled_mat/", zone, interval), address_bytes);
}
std::string MarketSettledContractsPrefix(std::string_view zone, int64_t interval,
                                         std::string_view address_bytes) {
  V2G_ASSERT(address_bytes.empty() || address_bytes.size() == kAddressBytes);
  if (address_bytes.empty()) return MarketPart("x/settled_mc/", zone, interval);
  return With(MarketPart("x/settled_mac/", zone, interval), address_bytes);
}
SettledTotals LoadMarketSettledTotals(const KvReader& kv, std::string_view zone, int64_t interval,
                                      std::string_view address_bytes) {
  V2G_ASSERT(address_bytes.empty() || address_bytes.size() == kAddressBytes);
  return LoadTotalsAt(kv, MarketSumKey(zone, interval, address_bytes));
}

std::vector<BookLevel> LoadBookLevels(const KvReader& kv, std::string_view zone, int64_t interval,
                                      pb::Side side, int64_t limit) {
  V2G_ASSERT(limit >= 1);
  const std::string prefix = BookSidePrefix(zone, interval, side);
  std::vector<BookLevel> out;
  kv.ScanFrom(prefix, "", /*reverse=*/false, [&](std::string_view k, std::string_view v) {
    V2G_ASSERT(k.size() == prefix.size() + 8);
    out.push_back({PriceOfKey(ReadBigEndian64(k.substr(prefix.size())), side), IntAt(v, 0),
                   IntAt(v, 1), IntAt(v, 2)});
    return static_cast<int64_t>(out.size()) < limit;
  });
  return out;
}

BookTotals LoadBookTotals(const KvReader& kv, std::string_view zone, int64_t interval) {
  auto v = kv.Get(BookMarketKey("x/book_s/", zone, interval));
  if (!v) return {};
  return {IntAt(*v, 0), IntAt(*v, 1), IntAt(*v, 2), IntAt(*v, 3)};
}

std::string MeterOwnerPrefix(std::string_view owner) { return With("x/meter_o/", owner); }
std::string MeterOwnerKindPrefix(std::string_view owner, pb::MeterKind kind) {
  return WithByte(With("x/meter_ok/", owner), kind);
}
std::string MeterZonePrefix(std::string_view zone) { return With("x/meter_z/", zone) + "/"; }
std::string MeterZoneKindPrefix(std::string_view zone, pb::MeterKind kind) {
  return WithByte(With("x/meter_zk/", zone) + "/", kind);
}
std::string MeterKindPrefix(pb::MeterKind kind) { return WithByte("x/meter_k/", kind); }
std::string EventStatusPrefix(pb::EventStatus status) { return WithByte("x/event_s/", status); }
std::string EventZonePrefix(std::string_view zone) { return With("x/event_z/", zone) + "/"; }
std::string EventZoneStatusPrefix(std::string_view zone, pb::EventStatus status) {
  return WithByte(With("x/event_zs/", zone) + "/", status);
}
std::string ProgramStatusPrefix(pb::ProgramStatus status) {
  return WithByte("x/program_s/", status);
}
std::string AccountOrdersOfKindPrefix(std::string_view address_bytes, char kind) {
  V2G_ASSERT(address_bytes.size() == kAddressBytes);
  return With("x/acct_ok/", address_bytes) + kind;
}
std::string MarketsAtHeightPrefix(int64_t height) {
  V2G_ASSERT(height >= 1);
  return WithId("x/mkt_h/", static_cast<uint64_t>(height));
}

std::optional<MarketAtHeight> ParseMarketAtHeight(std::string_view key, int64_t height) {
  const std::string prefix = MarketsAtHeightPrefix(height);
  if (!key.starts_with(prefix) || key.size() < prefix.size() + 1 + 8 + 1) return std::nullopt;
  const char kind = key[prefix.size()];
  if (kind != 'c' && kind != 's') return std::nullopt;
  MarketAtHeight m;
  m.settled = kind == 's';
  uint64_t interval = 0;
  for (size_t i = 0; i < 8; ++i)
    interval = (interval << 8) | static_cast<uint8_t>(key[prefix.size() + 1 + i]);
  m.interval_start_s = static_cast<int64_t>(interval);
  m.zone = std::string(key.substr(prefix.size() + 9));
  return m;
}

std::string BlockSummaryKey(int64_t height) {
  V2G_ASSERT(height >= 1);
  return WithId("x/block/", static_cast<uint64_t>(height));
}

std::vector<std::string> KeysOf(std::string_view key, std::string_view value) {
  const std::string v(value);
  if (Under(key, kMeterPrefix)) return MeterKeys(DecodeRecord<pb::MeterRecord>(v));
  if (Under(key, kMarketPrefix)) return MarketKeys(key, value);
  if (IdAfter(key, kEventPrefix)) return EventKeys(DecodeRecord<pb::EventRecord>(v));
  if (IdAfter(key, kProgramPrefix)) return ProgramKeys(DecodeRecord<pb::ProgramRecord>(v));
  if (Under(key, kAccountOrdersPrefix)) return AccountOrderKeys(key, value);
  if (IsTradeKey(key)) return SettledTradeKeys(DecodeRecord<pb::TradeRecord>(v));
  if (IdAfter(key, kContractPrefix))
    return SettledContractKeys(DecodeRecord<pb::ContractRecord>(v));
  return {};
}

void AddChanges(const KvReader& before, const Overlay::Writes& changes,
                leveldb::WriteBatch& batch) {
  Indexer indexer(before, batch);
  for (const auto& [key, value] : changes) {
    // Only the sections some index follows cost a read of the old value.
    if (IndexedSection(key)) indexer.Change(key, before.Get(key), value);
  }
  indexer.Finish();
}

Status AddAll(const KvReader& state, const KvReader& written, int64_t batch_records_max,
              const BatchWriter& write) {
  V2G_ASSERT(batch_records_max >= 1);
  leveldb::WriteBatch batch;
  int64_t records = 0;
  Status status = Status::Ok();
  // The totals and levels of a batch are summed in its Indexer and added, at Finish, to what the
  // earlier batches wrote: they start from zero on the empty x/ section.
  auto indexer = std::make_unique<Indexer>(written, batch);
  auto flush = [&] {
    indexer->Finish();
    status = write(batch);
    batch.Clear();
    indexer = std::make_unique<Indexer>(written, batch);
    records = 0;
    return status.ok();
  };
  state.Scan("s/", [&](std::string_view k, std::string_view v) {
    if (!IndexedSection(k)) return true;
    indexer->Change(k, std::nullopt, std::string(v));
    return ++records < batch_records_max || flush();
  });
  if (status.ok() && records > 0) flush();
  return status;
}

std::string EncodeBlockSummary(const pb::Block& block) {
  std::string v;
  AppendBigEndian64(v, static_cast<uint64_t>(block.txs_size()));
  v += Encode(block.header());
  return v;
}

BlockSummary DecodeBlockSummary(std::string_view value) {
  V2G_ASSERT(value.size() >= 8);  // written by EncodeBlockSummary only
  BlockSummary s;
  s.num_txs = static_cast<int64_t>(ReadBigEndian64(value));
  V2G_ASSERT(s.header.ParseFromString(std::string(value.substr(8))));
  return s;
}

}  // namespace v2g::index
