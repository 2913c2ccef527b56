// HTTP API of the energy market (contracts/market.h; docs/API.md "Energy market"). Read-only:
// every handler reads one store snapshot, validates each parameter with an error that names it,
// and shows nothing that is not already in the public order, contract and trade records.
#include <algorithm>
#include <deque>
#include <iterator>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "common/amount.h"
#include "common/bytes.h"
#include "common/checked.h"
#include "common/limits.h"
#include "contracts/grid.h"
#include "contracts/market.h"
#include "contracts/meters.h"
#include "contracts/state.h"
#include "common/time.h"
#include "node/api/util.h"

namespace v2g::api {
namespace {

constexpr int64_t kPageDefault = 100;
// Interval starts the market accepts (contracts/market.cc CheckIntervalField): 1 .. 2^40 s.
constexpr int64_t kIntervalMax = int64_t{1} << 40;
constexpr int64_t kIdMax = 999'999'999'999'999'999;  // 18 digits: what ParseInt reads

std::string Num(int64_t v) { return std::to_string(v); }

std::string Rfc3339S(int64_t s) { return FormatRfc3339Ms(s * 1000); }

// Sums for totals: saturating, because a long history of payouts may in principle exceed int64.
void AddSat(int64_t& acc, int64_t v) {
  Int128 r = static_cast<Int128>(acc) + v;
  acc = r > INT64_MAX ? INT64_MAX : static_cast<int64_t>(r);
}

// The market's parameters and the decimals of its denomination, read once per request.
struct MarketCtx {
  const KvReader& state;
  pb::ParamsRecord params;
  uint32_t decimals = 0;

  explicit MarketCtx(const KvReader& s) : state(s), params(LoadParams(s)) {
    if (auto d = LoadDenom(s, params.market_denom())) decimals = d->decimals();
  }
  bool enabled() const {
    return !params.market_denom().empty() && params.settlement_interval_s() > 0;
  }
  json Money(int64_t amount) const { return AmountJson(state, params.market_denom(), amount); }
};

Result<std::string> ParseZone(const std::string& name, const std::string& text) {
  if (!ValidZone(text)) {
    return Error(Code::kInvalidArgument,
                 name + " must be a zone name (1-32 of A-Z a-z 0-9 . _ -), got '" +
                     (text.size() > 40 ? text.substr(0, 40) + "..." : text) + "'");
  }
  return text;
}

// A delivery interval start: a positive Unix time aligned to the settlement interval.
Result<int64_t> ParseInterval(const std::string& name, const std::string& text,
                              const pb::ParamsRecord& p) {
  auto v = ParseInt(name, text, 1, kIntervalMax);
  if (!v.ok()) return v;
  const int64_t len = p.settlement_interval_s();
  if (len > 0 && *v % len != 0) {
    return Error(Code::kInvalidArgument,
                 name + " " + text + " is not aligned to the " + Num(len) +
                     " s delivery interval (nearest earlier start: " + Num(*v - *v % len) + ")");
  }
  return v;
}

Result<int64_t> LimitParam(const httplib::Request& req, const char* name, int64_t def) {
  if (!req.has_param(name)) return def;
  return ParseInt(name, req.get_param_value(name), 1, limits::kMarketPageMax);
}

// ------------------------------------------------------------------ records as JSON

json ParamsMarketJson(const MarketCtx& m) {
  const pb::ParamsRecord& p = m.params;
  return {{"enabled", m.enabled()},
          {"denom", p.market_denom()},
          {"decimals", m.decimals},
          {"interval_s", p.settlement_interval_s()},
          {"gate_closure_s", p.market_gate_closure_s()},
          {"horizon_s", p.market_horizon_s()},
          {"grace_s", p.market_grace_s()},
          {"collateral_bps", p.market_collateral_bps()},
          {"penalty_bps", p.market_penalty_bps()}};
}

json MarketJson(const MarketCtx& c, const pb::MarketRecord& m) {
  const int64_t s = m.interval_start_s();
  const int64_t len = c.params.settlement_interval_s();
  const int64_t gate = s - c.params.market_gate_closure_s();
  const int64_t due = s + len + c.params.market_grace_s();
  return {{"zone", m.zone()},
          {"interval_start", Rfc3339S(s)},
          {"interval_start_s", s},
          {"interval_end_s", s + len},
          {"gate_closure", Rfc3339S(gate)},
          {"gate_closure_s", gate},
          {"settlement_due", Rfc3339S(due)},
          {"settlement_due_s", due},
          {"status", std::string(MarketStatusName(m.status()))},
          {"buy_orders", m.buy_orders()},
          {"sell_orders", m.sell_orders()},
          {"contracts", m.contracts()},
          {"clearing_price", c.Money(m.clearing_price())},
          {"cleared_energy_wh", m.cleared_energy_wh()},
          {"contract_energy_wh", m.contract_energy_wh()},
          {"trades", m.trades()},
          {"cleared_height", m.cleared_height()},
          {"settled_height", m.settled_height()},
          {"delivered_energy_wh", m.delivered_energy_wh()}};
}

json OrderJson(const MarketCtx& c, const pb::OrderRecord& o) {
  return {{"kind", "order"},
          {"id", o.id()},
          {"owner", AddressText(o.owner())},
          {"side", std::string(SideName(o.side()))},
          {"zone", o.zone()},
          {"interval_start", Rfc3339S(o.interval_start_s())},
          {"interval_start_s", o.interval_start_s()},
          {"energy_wh", o.energy_wh()},
          {"limit_price", c.Money(o.limit_price())},
          {"meter_id", o.meter_id()},
          {"status", std::string(OrderStatusName(o.status()))},
          {"height", o.height()},
          {"filled_wh", o.filled_wh()},
          {"locked", c.Money(o.locked())},
          {"locked_initial", c.Money(o.locked_initial())},
          {"refunded", c.Money(o.refunded())},
          {"paid", c.Money(o.paid())},
          {"penalty", c.Money(o.penalty())},
          {"delivered_wh", o.delivered_wh()},
          {"pool_id", o.pool_id() != 0 ? json(o.pool_id()) : json(nullptr)}};
}

json ContractJson(const MarketCtx& c, const pb::ContractRecord& k) {
  return {{"kind", "contract"},
          {"id", k.id()},
          {"proposer", AddressText(k.proposer())},
          {"counterparty", AddressText(k.counterparty())},
          {"buyer", AddressText(k.buyer())},
          {"seller", AddressText(k.seller())},
          {"zone", k.zone()},
          {"interval_start", Rfc3339S(k.interval_start_s())},
          {"interval_start_s", k.interval_start_s()},
          {"energy_wh", k.energy_wh()},
          {"price", c.Money(k.price())},
          {"meter_id", k.meter_id()},
          {"status", std::string(ContractStatusName(k.status()))},
          {"proposed_height", k.proposed_height()},
          {"accepted_height", k.accepted_height()},
          {"escrow", c.Money(k.escrow())},
          {"collateral", c.Money(k.collateral())},
          {"delivered_wh", k.delivered_wh()},
          {"seller_paid", c.Money(k.seller_paid())},
          {"buyer_refund", c.Money(k.buyer_refund())},
          {"penalty", c.Money(k.penalty())},
          {"collateral_returned", c.Money(k.collateral_returned())}};
}

json TradeJson(const MarketCtx& c, const pb::TradeRecord& t) {
  return {{"zone", t.zone()},
          {"interval_start", Rfc3339S(t.interval_start_s())},
          {"interval_start_s", t.interval_start_s()},
          {"index", t.index()},
          {"buy_order_id", t.buy_order_id()},
          {"sell_order_id", t.sell_order_id()},
          {"buyer", AddressText(t.buyer())},
          {"seller", AddressText(t.seller())},
          {"meter_id", t.meter_id()},
          {"energy_wh", t.energy_wh()},
          {"price", c.Money(t.price())},
          {"escrow", c.Money(t.escrow())},
          {"settled", t.settled()},
          {"delivered_wh", t.delivered_wh()},
          {"seller_paid", c.Money(t.seller_paid())},
          {"buyer_refund", c.Money(t.buyer_refund())},
          {"penalty", c.Money(t.penalty())},
          {"pool_id", t.pool_id() != 0 ? json(t.pool_id()) : json(nullptr)}};
}

// Price levels of one side: energy, order count and (after clearing) the matched energy per
// limit price, best price first, with the energy available at that price or better.
struct Level {
  int64_t energy_wh = 0;
  int64_t filled_wh = 0;
  int64_t orders = 0;
};

template <typename Map>
json LevelsJson(const MarketCtx& c, const Map& levels, int64_t limit, bool cleared) {
  json out = json::array();
  int64_t cumulative = 0;
  for (const auto& [price, l] : levels) {
    if (static_cast<int64_t>(out.size()) == limit) break;
    AddSat(cumulative, l.energy_wh);
    json j = {{"price", c.Money(price)},
              {"energy_wh", l.energy_wh},
              {"orders", l.orders},
              {"cumulative_wh", cumulative}};
    if (cleared) j["filled_wh"] = l.filled_wh;
    out.push_back(std::move(j));
  }
  return out;
}

// Before clearing: the open orders. After: every order that went into the auction (all but the
// cancelled ones), with what each level matched.
json DepthJson(const MarketCtx& c, const pb::MarketRecord& m,
               const std::vector<pb::OrderRecord>& orders, int64_t limit) {
  const bool cleared = m.status() != pb::MARKET_OPEN;
  std::map<int64_t, Level, std::greater<>> bids;
  std::map<int64_t, Level> asks;
  int64_t bid_wh = 0, ask_wh = 0;
  for (const auto& o : orders) {
    const bool in_book = cleared ? o.status() != pb::ORDER_CANCELLED : o.status() == pb::ORDER_OPEN;
    if (!in_book) continue;
    Level& l = o.side() == pb::SIDE_BUY ? bids[o.limit_price()] : asks[o.limit_price()];
    AddSat(l.energy_wh, o.energy_wh());
    AddSat(l.filled_wh, o.filled_wh());
    ++l.orders;
    AddSat(o.side() == pb::SIDE_BUY ? bid_wh : ask_wh, o.energy_wh());
  }
  return {{"orders", cleared ? "auction" : "open"},
          {"bids", LevelsJson(c, bids, limit, cleared)},
          {"asks", LevelsJson(c, asks, limit, cleared)},
          {"bid_levels", bids.size()},
          {"ask_levels", asks.size()},
          {"bid_energy_wh", bid_wh},
          {"ask_energy_wh", ask_wh}};
}

// Keeps the `limit + 1` smallest keys seen (the extra one tells whether there is a next page).
template <typename Key, typename Value>
void KeepSmallest(std::map<Key, Value>& page, Key key, Value value, int64_t limit) {
  page.emplace(std::move(key), std::move(value));
  if (static_cast<int64_t>(page.size()) > limit + 1) page.erase(std::prev(page.end()));
}

// ------------------------------------------------------------------ handlers

void GetParams(ApiContext& c, const httplib::Request&, httplib::Response& res) {
  auto snap = c.store->Snapshot();
  MarketCtx m(snap->reader());
  const pb::ParamsRecord& p = m.params;
  Reply(res, 200,
        {{"tx_bytes_max", p.tx_bytes_max()},
         {"block_txs_max", p.block_txs_max()},
         {"block_bytes_max", p.block_bytes_max()},
         {"memo_bytes_max", p.memo_bytes_max()},
         {"settlement_interval_s", p.settlement_interval_s()},
         {"reading_future_skew_s", p.reading_future_skew_s()},
         {"reading_energy_tolerance_permille", p.reading_energy_tolerance_permille()},
         {"reading_energy_tolerance_wh", p.reading_energy_tolerance_wh()},
         {"market_denom", p.market_denom()},
         {"market_gate_closure_s", p.market_gate_closure_s()},
         {"market_horizon_s", p.market_horizon_s()},
         {"market_grace_s", p.market_grace_s()},
         {"market_collateral_bps", p.market_collateral_bps()},
         {"market_penalty_bps", p.market_penalty_bps()},
         {"baseline_days", p.baseline_days()},
         {"market", ParamsMarketJson(m)},
         // Where escrow, collateral and budgets are held: anyone can audit these balances
         // against the open records (GET /v1/accounts/{address}).
         {"module_accounts",
          {{"market", EncodeAddress(MarketModuleAddress())}, {"grid", EncodeAddress(GridModuleAddress())}}}});
}

// GET /v1/markets?zone=&from=&to=&limit=: by interval, then zone. A page ends at an interval
// boundary (so next_from resumes exactly) unless one interval alone has more than `limit` markets.
void ListMarkets(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  std::string zone;
  if (req.has_param("zone")) {
    auto z = ParseZone("zone", req.get_param_value("zone"));
    if (!z.ok()) return ReplyError(res, z.status());
    zone = *z;
  }
  int64_t from = 0, to = kIntervalMax + 1;
  for (auto [name, out] : {std::pair<const char*, int64_t*>{"from", &from}, {"to", &to}}) {
    if (!req.has_param(name)) continue;
    auto v = ParseInt(name, req.get_param_value(name), 0, kIntervalMax + 1);
    if (!v.ok()) return ReplyError(res, v.status());
    *out = *v;
  }
  if (from >= to)
    return ReplyError(res, Error(Code::kInvalidArgument, "to must be greater than from"));
  auto limit = LimitParam(req, "limit", kPageDefault);
  if (!limit.ok()) return ReplyError(res, limit.status());
  auto snap = c.store->Snapshot();
  MarketCtx m(snap->reader());
  std::map<std::pair<int64_t, std::string>, pb::MarketRecord> page;
  snap->reader().Scan(zone.empty() ? std::string(kMarketPrefix) : MarketZonePrefix(zone),
                      [&](std::string_view, std::string_view v) {
                        auto rec = DecodeRecord<pb::MarketRecord>(std::string(v));
                        if (rec.interval_start_s() >= to)
                          return zone.empty();  // one zone: in interval order
                        if (rec.interval_start_s() >= from) {
                          auto key = std::make_pair(rec.interval_start_s(), rec.zone());
                          KeepSmallest(page, std::move(key), std::move(rec), *limit);
                        }
                        return true;
                      });
  json next = nullptr;
  if (static_cast<int64_t>(page.size()) > *limit) {
    const int64_t cut = std::prev(page.end())->first.first;
    page.erase(std::prev(page.end()));
    if (page.begin()->first.first == cut) {
      next = cut + 1;  // one interval fills the page: the rest of it is skipped (ask with zone=)
    } else {
      while (std::prev(page.end())->first.first == cut) page.erase(std::prev(page.end()));
      next = cut;
    }
  }
  json list = json::array();
  for (const auto& [key, rec] : page) list.push_back(MarketJson(m, rec));
  Reply(res, 200, {{"markets", list}, {"next_from", next}, {"params", ParamsMarketJson(m)}});
}

void GetMarket(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto zone = ParseZone("zone", req.matches[1]);
  if (!zone.ok()) return ReplyError(res, zone.status());
  auto snap = c.store->Snapshot();
  MarketCtx m(snap->reader());
  auto interval = ParseInterval("interval", req.matches[2], m.params);
  if (!interval.ok()) return ReplyError(res, interval.status());
  auto limit = LimitParam(req, "limit", 50);
  if (!limit.ok()) return ReplyError(res, limit.status());
  auto rec = LoadMarket(snap->reader(), *zone, *interval);
  if (!rec) {
    return ReplyError(res, Error(Code::kNotFound,
                                 "no market for zone " + *zone + " interval " + Num(*interval) +
                                     ": nobody has placed an order or proposed a contract for it"));
  }
  json j = MarketJson(m, *rec);
  j["depth"] = DepthJson(m, *rec, LoadMarketOrders(snap->reader(), *zone, *interval), *limit);
  j["params"] = ParamsMarketJson(m);
  Reply(res, 200, j);
}

void GetOrder(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto id = ParseInt("id", req.matches[1], 1, kIdMax);
  if (!id.ok()) return ReplyError(res, id.status());
  auto snap = c.store->Snapshot();
  auto o = LoadOrder(snap->reader(), static_cast<uint64_t>(*id));
  if (!o) {
    const bool is_contract = LoadContract(snap->reader(), static_cast<uint64_t>(*id)).has_value();
    return ReplyError(
        res, Error(Code::kNotFound,
                   "no order " + Num(*id) +
                       (is_contract ? " (it is a contract: /v1/contracts/" + Num(*id) + ")" : "")));
  }
  Reply(res, 200, OrderJson(MarketCtx(snap->reader()), *o));
}

void GetContract(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto id = ParseInt("id", req.matches[1], 1, kIdMax);
  if (!id.ok()) return ReplyError(res, id.status());
  auto snap = c.store->Snapshot();
  auto k = LoadContract(snap->reader(), static_cast<uint64_t>(*id));
  if (!k) {
    const bool is_order = LoadOrder(snap->reader(), static_cast<uint64_t>(*id)).has_value();
    return ReplyError(
        res, Error(Code::kNotFound,
                   "no contract " + Num(*id) +
                       (is_order ? " (it is an order: /v1/orders/" + Num(*id) + ")" : "")));
  }
  Reply(res, 200, ContractJson(MarketCtx(snap->reader()), *k));
}

// GET /v1/accounts/{address}/orders?kind=&before=&limit=: newest (highest id) first.
void AccountOrders(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto addr = DecodeAddress(std::string(req.matches[1]));
  if (!addr.ok()) return ReplyError(res, addr.status());
  char kind = 0;
  if (req.has_param("kind")) {
    const std::string k = req.get_param_value("kind");
    if (k != "order" && k != "contract")
      return ReplyError(res, Error(Code::kInvalidArgument, "kind must be order or contract"));
    kind = k == "order" ? 'o' : 'c';
  }
  uint64_t before = 0;  // 0 = from the newest
  if (req.has_param("before")) {
    auto b = ParseInt("before", req.get_param_value("before"), 1, kIdMax);
    if (!b.ok()) return ReplyError(res, b.status());
    before = static_cast<uint64_t>(*b);
  }
  auto limit = LimitParam(req, "limit", kPageDefault);
  if (!limit.ok()) return ReplyError(res, limit.status());
  auto snap = c.store->Snapshot();
  const std::string prefix = AccountOrdersPrefix(*addr);
  std::deque<std::pair<uint64_t, char>> newest;  // ascending ids; at most limit + 1
  snap->reader().Scan(prefix, [&](std::string_view k, std::string_view v) {
    if (k.size() != prefix.size() + 8 || v.size() != 1) return true;
    const uint64_t id = ReadBigEndian64(k.substr(prefix.size()));
    if (before != 0 && id >= before) return false;
    if (kind != 0 && v[0] != kind) return true;
    newest.emplace_back(id, v[0]);
    if (static_cast<int64_t>(newest.size()) > *limit + 1) newest.pop_front();
    return true;
  });
  json next = nullptr;
  if (static_cast<int64_t>(newest.size()) > *limit) {
    newest.pop_front();
    next = newest.front().first;
  }
  MarketCtx m(snap->reader());
  json list = json::array();
  for (auto it = newest.rbegin(); it != newest.rend(); ++it) {
    if (it->second == 'o') {
      if (auto o = LoadOrder(snap->reader(), it->first)) list.push_back(OrderJson(m, *o));
    } else if (auto k = LoadContract(snap->reader(), it->first)) {
      list.push_back(ContractJson(m, *k));
    }
  }
  Reply(res, 200, {{"address", EncodeAddress(*addr)}, {"orders", list}, {"next_before", next}});
}

// Which market or account a /v1/trades or /v1/settlements request is about.
struct TradeQuery {
  std::string zone;
  int64_t interval = 0;  // 0: no market given
  std::optional<Address> account;
};

Result<TradeQuery> ParseTradeQuery(const httplib::Request& req, const pb::ParamsRecord& params,
                                   bool allow_both) {
  TradeQuery q;
  const bool has_zone = req.has_param("zone"), has_interval = req.has_param("interval");
  const bool has_account = req.has_param("account");
  if (has_zone != has_interval) {
    return Error(Code::kInvalidArgument,
                 std::string(has_zone ? "interval" : "zone") +
                     " is missing: zone and interval go together (one market)");
  }
  if (!has_zone && !has_account) {
    return Error(Code::kInvalidArgument, "give zone and interval (one market) or account");
  }
  if (has_zone && has_account && !allow_both) {
    return Error(Code::kInvalidArgument,
                 "give either zone and interval (one market) or account, not both");
  }
  if (has_zone) {
    auto z = ParseZone("zone", req.get_param_value("zone"));
    if (!z.ok()) return z.status();
    q.zone = *z;
    auto i = ParseInterval("interval", req.get_param_value("interval"), params);
    if (!i.ok()) return i.status();
    q.interval = *i;
  }
  if (has_account) {
    auto a = DecodeAddress(req.get_param_value("account"));
    if (!a.ok()) return Error(Code::kInvalidArgument, "account: " + a.status().message());
    q.account = *a;
  }
  return q;
}

// An account's trades (s/acct_t/ index), newest interval first; `before`: intervals < before.
// A page ends at an interval boundary unless one interval alone has more than `limit` trades.
std::pair<std::vector<pb::TradeRecord>, json> AccountTrades(const KvReader& st, const Address& a,
                                                            int64_t before, int64_t limit) {
  const std::string prefix = AccountTradesPrefix(a);
  std::deque<std::pair<int64_t, std::string>> newest;  // (interval, key), ascending
  st.Scan(prefix, [&](std::string_view k, std::string_view) {
    if (k.size() <= prefix.size() + 12) return true;
    const int64_t interval = static_cast<int64_t>(ReadBigEndian64(k.substr(prefix.size())));
    if (interval >= before) return false;
    newest.emplace_back(interval, std::string(k));
    if (static_cast<int64_t>(newest.size()) > limit + 1) newest.pop_front();
    return true;
  });
  json next = nullptr;
  if (static_cast<int64_t>(newest.size()) > limit) {
    const int64_t cut = newest.front().first;
    newest.pop_front();
    if (newest.back().first == cut) {
      next = cut;  // one interval fills the page: the rest of it is skipped
    } else {
      while (newest.front().first == cut) newest.pop_front();
      next = cut + 1;
    }
  }
  std::vector<pb::TradeRecord> out;
  for (auto it = newest.rbegin(); it != newest.rend(); ++it) {
    if (auto t = LoadTradeByAccountKey(st, it->second)) out.push_back(std::move(*t));
  }
  return {std::move(out), next};
}

// GET /v1/trades?zone=&interval=&after=&limit= | ?account=&before=&limit=.
void ListTrades(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto snap = c.store->Snapshot();
  MarketCtx m(snap->reader());
  auto q = ParseTradeQuery(req, m.params, false);
  if (!q.ok()) return ReplyError(res, q.status());
  auto limit = LimitParam(req, "limit", kPageDefault);
  if (!limit.ok()) return ReplyError(res, limit.status());
  json list = json::array();
  if (q->account) {
    if (req.has_param("after"))
      return ReplyError(res, Error(Code::kInvalidArgument,
                                   "after pages one market's trades; with account use before"));
    int64_t before = kIntervalMax + 1;
    if (req.has_param("before")) {
      auto b = ParseInt("before", req.get_param_value("before"), 1, kIntervalMax + 1);
      if (!b.ok()) return ReplyError(res, b.status());
      before = *b;
    }
    auto [trades, next] = AccountTrades(snap->reader(), *q->account, before, *limit);
    for (const auto& t : trades) list.push_back(TradeJson(m, t));
    return Reply(
        res, 200,
        {{"account", EncodeAddress(*q->account)}, {"trades", list}, {"next_before", next}});
  }
  if (req.has_param("before"))
    return ReplyError(res,
                      Error(Code::kInvalidArgument,
                            "before pages an account's trades; with zone and interval use after"));
  auto rec = LoadMarket(snap->reader(), q->zone, q->interval);
  if (!rec)
    return ReplyError(res, Error(Code::kNotFound, "no market for zone " + q->zone + " interval " +
                                                      Num(q->interval)));
  int64_t after = -1;
  if (req.has_param("after")) {
    auto a = ParseInt("after", req.get_param_value("after"), 0, UINT32_MAX);
    if (!a.ok()) return ReplyError(res, a.status());
    after = *a;
  }
  json next = nullptr;
  const std::string prefix = MarketTradesPrefix(q->zone, q->interval);
  snap->reader().Scan(prefix, [&](std::string_view k, std::string_view v) {
    if (k.size() != prefix.size() + 4) return true;
    auto t = DecodeRecord<pb::TradeRecord>(std::string(v));
    if (static_cast<int64_t>(t.index()) <= after) return true;
    if (static_cast<int64_t>(list.size()) == *limit) {
      next = list.back()["index"];
      return false;
    }
    list.push_back(TradeJson(m, t));
    return true;
  });
  Reply(res, 200,
        {{"zone", q->zone},
         {"interval_start_s", q->interval},
         {"market", MarketJson(m, *rec)},
         {"trades", list},
         {"next_after", next}});
}

// Sums over every settled trade and contract that matched, and the page of them to show: the
// first `limit` of a market, or an account's newest `limit`.
class Settlements {
 public:
  Settlements(int64_t limit, bool keep_newest) : limit_(limit), keep_newest_(keep_newest) {}

  void Add(const pb::TradeRecord& t) {
    Sum(t.energy_wh(), t.delivered_wh(), t.seller_paid(), t.buyer_refund(), t.penalty(), 0);
    ++trades_total_;
    Keep(trades_, t);
  }
  void Add(const pb::ContractRecord& k) {
    Sum(k.energy_wh(), k.delivered_wh(), k.seller_paid(), k.buyer_refund(), k.penalty(),
        k.collateral_returned());
    ++contracts_total_;
    Keep(contracts_, k);
  }

  json ToJson(const MarketCtx& m) const {
    json tlist = json::array(), clist = json::array();
    auto emit = [&](const auto& list, json& out, auto&& render) {
      if (keep_newest_) {
        for (auto it = list.rbegin(); it != list.rend(); ++it) out.push_back(render(*it));
      } else {
        for (const auto& x : list) out.push_back(render(x));
      }
    };
    emit(trades_, tlist, [&](const pb::TradeRecord& t) { return TradeJson(m, t); });
    emit(contracts_, clist, [&](const pb::ContractRecord& k) { return ContractJson(m, k); });
    return {{"trades", tlist},
            {"contracts", clist},
            {"trades_total", trades_total_},
            {"contracts_total", contracts_total_},
            {"totals",
             {{"energy_wh", energy_wh_},
              {"delivered_wh", delivered_wh_},
              {"seller_paid", m.Money(seller_paid_)},
              {"buyer_refund", m.Money(buyer_refund_)},
              {"penalty", m.Money(penalty_)},
              {"collateral_returned", m.Money(collateral_returned_)}}}};
  }

 private:
  void Sum(int64_t energy, int64_t delivered, int64_t paid, int64_t refund, int64_t penalty,
           int64_t returned) {
    AddSat(energy_wh_, energy);
    AddSat(delivered_wh_, delivered);
    AddSat(seller_paid_, paid);
    AddSat(buyer_refund_, refund);
    AddSat(penalty_, penalty);
    AddSat(collateral_returned_, returned);
  }
  template <typename T>
  void Keep(std::deque<T>& list, const T& x) {
    if (!keep_newest_ && static_cast<int64_t>(list.size()) == limit_) return;
    list.push_back(x);
    if (static_cast<int64_t>(list.size()) > limit_) list.pop_front();
  }

  int64_t limit_;
  bool keep_newest_;  // records arrive oldest first
  std::deque<pb::TradeRecord> trades_;
  std::deque<pb::ContractRecord> contracts_;
  int64_t trades_total_ = 0, contracts_total_ = 0;
  int64_t energy_wh_ = 0, delivered_wh_ = 0, seller_paid_ = 0, buyer_refund_ = 0, penalty_ = 0,
          collateral_returned_ = 0;
};

// GET /v1/settlements?zone=&interval=[&account=] | ?account=: the settled trades and contracts.
void ListSettlements(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto snap = c.store->Snapshot();
  const KvReader& st = snap->reader();
  MarketCtx m(st);
  auto q = ParseTradeQuery(req, m.params, true);
  if (!q.ok()) return ReplyError(res, q.status());
  auto limit = LimitParam(req, "limit", kPageDefault);
  if (!limit.ok()) return ReplyError(res, limit.status());
  const std::string who = q->account ? AddressBytes(*q->account) : "";
  const bool market_form = q->interval != 0;
  Settlements out(*limit, /*keep_newest=*/!market_form);
  json market = nullptr;
  if (market_form) {
    auto rec = LoadMarket(st, q->zone, q->interval);
    if (!rec)
      return ReplyError(res, Error(Code::kNotFound, "no market for zone " + q->zone + " interval " +
                                                        Num(q->interval)));
    market = MarketJson(m, *rec);
    for (const auto& t : LoadMarketTrades(st, q->zone, q->interval)) {
      if (t.settled() && (who.empty() || t.buyer() == who || t.seller() == who)) out.Add(t);
    }
    for (const auto& k : LoadMarketContracts(st, q->zone, q->interval)) {
      if (k.status() == pb::CONTRACT_SETTLED &&
          (who.empty() || k.buyer() == who || k.seller() == who))
        out.Add(k);
    }
  } else {
    st.Scan(AccountTradesPrefix(*q->account), [&](std::string_view k, std::string_view) {
      if (auto t = LoadTradeByAccountKey(st, k); t && t->settled()) out.Add(*t);
      return true;
    });
    const std::string prefix = AccountOrdersPrefix(*q->account);
    st.Scan(prefix, [&](std::string_view k, std::string_view v) {
      if (k.size() != prefix.size() + 8 || v != "c") return true;
      auto ct = LoadContract(st, ReadBigEndian64(k.substr(prefix.size())));
      if (ct && ct->status() == pb::CONTRACT_SETTLED) out.Add(*ct);
      return true;
    });
  }
  json j = out.ToJson(m);
  if (market_form) j["market"] = market;
  if (q->account) j["account"] = EncodeAddress(*q->account);
  Reply(res, 200, j);
}

}  // namespace

json MarketOpJson(const KvReader& state, const pb::TxBody& body) {
  const MarketCtx m(state);
  switch (body.op_case()) {
    case pb::TxBody::kPlaceOrder: {
      const auto& o = body.place_order();
      return {{"type", "place_order"},
              {"side", std::string(SideName(o.side()))},
              {"zone", o.zone()},
              {"interval_start", Rfc3339S(o.interval_start_s())},
              {"interval_start_s", o.interval_start_s()},
              {"energy_wh", o.energy_wh()},
              {"limit_price", m.Money(o.limit_price())},
              {"meter_id", o.meter_id()},
              {"pool_id", o.pool_id() != 0 ? json(o.pool_id()) : json(nullptr)}};
    }
    case pb::TxBody::kCancelOrder:
      return {{"type", "cancel_order"}, {"order_id", body.cancel_order().order_id()}};
    case pb::TxBody::kProposeContract: {
      const auto& p = body.propose_contract();
      return {{"type", "propose_contract"},
              {"counterparty", AddressText(p.counterparty())},
              {"side", std::string(SideName(p.side()))},
              {"zone", p.zone()},
              {"interval_start", Rfc3339S(p.interval_start_s())},
              {"interval_start_s", p.interval_start_s()},
              {"energy_wh", p.energy_wh()},
              {"price", m.Money(p.price())},
              {"meter_id", p.meter_id()}};
    }
    case pb::TxBody::kAcceptContract:
      return {{"type", "accept_contract"},
              {"contract_id", body.accept_contract().contract_id()},
              {"meter_id", body.accept_contract().meter_id()}};
    case pb::TxBody::kCancelContract:
      return {{"type", "cancel_contract"}, {"contract_id", body.cancel_contract().contract_id()}};
    default:
      return {{"type", "none"}};
  }
}

void AddMarketRoutes(httplib::Server& s, ApiContext& c) {
  auto route = [&c](void (*fn)(ApiContext&, const httplib::Request&, httplib::Response&)) {
    return [&c, fn](const httplib::Request& req, httplib::Response& res) { fn(c, req, res); };
  };
  s.Get("/v1/params", route(GetParams));
  s.Get("/v1/markets", route(ListMarkets));
  s.Get(R"(/v1/markets/([^/]+)/([^/]+))", route(GetMarket));
  s.Get(R"(/v1/orders/([^/]+))", route(GetOrder));
  s.Get(R"(/v1/contracts/([^/]+))", route(GetContract));
  s.Get(R"(/v1/accounts/([^/]+)/orders)", route(AccountOrders));
  s.Get("/v1/trades", route(ListTrades));
  s.Get("/v1/settlements", route(ListSettlements));
}

}  // namespace v2g::api
