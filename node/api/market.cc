// HTTP API of the energy market (contracts/market.h; docs/API.md "Energy market"): markets with
// their order book depth, orders, bilateral contracts and an account's orders. Trades and
// settlements are in market_trades.cc. Read-only: every handler reads one store snapshot,
// validates each parameter with an error that names it, and shows nothing that is not already in
// the public order, contract and trade records.
#include "contracts/market.h"

#include <functional>
#include <iterator>
#include <map>
#include <utility>
#include <vector>

#include "common/limits.h"
#include "node/api/market.h"
#include "node/api/paging.h"
#include "node/api/params.h"
#include "node/api/render.h"
#include "node/api/reply.h"
#include "node/api/routes.h"
#include "proto/encode.h"

namespace v2g::api {

Result<int64_t> ParseInterval(const std::string& name, const std::string& text,
                              const pb::ParamsRecord& p) {
  auto v = ParseInt(name, text, 1, kTimeMaxS);
  if (!v.ok()) return v;
  const int64_t len = p.settlement_interval_s();
  if (len > 0 && *v % len != 0) {
    return Error(
        Code::kInvalidArgument,
        name + " " + text + " is not aligned to the " + std::to_string(len) +
            " s delivery interval (nearest earlier start: " + std::to_string(*v - *v % len) + ")");
  }
  return v;
}

std::string NoMarketMessage(const std::string& zone, int64_t interval_start_s) {
  return "no market for zone " + zone + " interval " + std::to_string(interval_start_s);
}

namespace {

// Price levels a side GET /v1/markets/{zone}/{interval} shows when the request gives no limit.
constexpr int64_t kDepthLevelsDefault = 50;

// Price levels of one side: energy, order count and (after clearing) the matched energy per
// limit price, best price first, with the energy available at that price or better.
struct Level {
  int64_t energy_wh = 0;
  int64_t filled_wh = 0;
  int64_t orders = 0;
};

template <typename Map>
json LevelsJson(const StateView& v, const Map& levels, int64_t limit, bool cleared) {
  json out = json::array();
  int64_t cumulative = 0;
  for (const auto& [price, l] : levels) {
    if (static_cast<int64_t>(out.size()) == limit) break;
    AddSat(cumulative, l.energy_wh);
    json j = {{"price", v.Money(price)},
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
json DepthJson(const StateView& v, const pb::MarketRecord& m,
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
          {"bids", LevelsJson(v, bids, limit, cleared)},
          {"asks", LevelsJson(v, asks, limit, cleared)},
          {"bid_levels", bids.size()},
          {"ask_levels", asks.size()},
          {"bid_energy_wh", bid_wh},
          {"ask_energy_wh", ask_wh}};
}

// The markets of GET /v1/markets: zone ("" = all), interval starts in [from, to).
struct MarketQuery {
  std::string zone;
  int64_t from = 0;
  int64_t to = kTimeMaxS + 1;
  int64_t limit = 0;
};

Result<MarketQuery> ParseMarketQuery(const httplib::Request& req) {
  MarketQuery q;
  if (req.has_param("zone")) {
    auto z = ParseZone("zone", req.get_param_value("zone"));
    if (!z.ok()) return z.status();
    q.zone = *z;
  }
  auto from = IntParam(req, "from", q.from, 0, kTimeMaxS + 1);
  if (!from.ok()) return from.status();
  auto to = IntParam(req, "to", q.to, 0, kTimeMaxS + 1);
  if (!to.ok()) return to.status();
  q.from = *from;
  q.to = *to;
  if (q.from >= q.to) return Error(Code::kInvalidArgument, "to must be greater than from");
  auto limit = LimitParam(req, kPageDefault, limits::kMarketPageMax);
  if (!limit.ok()) return limit.status();
  q.limit = *limit;
  return q;
}

// The limit + 1 first markets `q` asks for, by (interval, zone): the extra one tells whether more
// remain.
std::vector<pb::MarketRecord> FirstMarkets(const KvReader& st, const MarketQuery& q) {
  std::map<std::pair<int64_t, std::string>, pb::MarketRecord> first;
  st.Scan(q.zone.empty() ? std::string(kMarketPrefix) : MarketZonePrefix(q.zone),
          [&](std::string_view, std::string_view val) {
            auto rec = DecodeRecord<pb::MarketRecord>(std::string(val));
            if (rec.interval_start_s() >= q.to) return q.zone.empty();  // one zone: in order
            if (rec.interval_start_s() < q.from) return true;
            auto key = std::make_pair(rec.interval_start_s(), rec.zone());
            first.emplace(std::move(key), std::move(rec));
            if (static_cast<int64_t>(first.size()) > q.limit + 1)
              first.erase(std::prev(first.end()));
            return true;
          });
  std::vector<pb::MarketRecord> out;
  for (auto& [key, rec] : first) out.push_back(std::move(rec));
  return out;
}

}  // namespace

void ListMarkets(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto q = ParseMarketQuery(req);
  if (!q.ok()) return ReplyError(res, q.status());
  auto snap = c.store->Snapshot();
  const StateView v(snap->reader());
  std::vector<pb::MarketRecord> page = FirstMarkets(snap->reader(), *q);
  json next = nullptr;
  const auto cut =
      CutAtInterval(page, q->limit, [](const pb::MarketRecord& m) { return m.interval_start_s(); });
  // When one interval fills the page the rest of it is skipped (ask for it with zone=).
  if (cut) next = cut->skip_rest ? cut->interval + 1 : cut->interval;
  Reply(res, 200,
        {{"markets", JsonList(page, [&](const pb::MarketRecord& m) { return MarketJson(v, m); })},
         {"next_from", next},
         {"params", MarketParamsJson(v)}});
}

void GetMarket(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto zone = ParseZone("zone", req.matches[1]);
  if (!zone.ok()) return ReplyError(res, zone.status());
  auto snap = c.store->Snapshot();
  const StateView v(snap->reader());
  auto interval = ParseInterval("interval", req.matches[2], v.params);
  if (!interval.ok()) return ReplyError(res, interval.status());
  auto limit = LimitParam(req, kDepthLevelsDefault, limits::kMarketPageMax);
  if (!limit.ok()) return ReplyError(res, limit.status());
  auto rec = LoadMarket(snap->reader(), *zone, *interval);
  if (!rec) {
    return ReplyError(res, Error(Code::kNotFound,
                                 NoMarketMessage(*zone, *interval) +
                                     ": nobody has placed an order or proposed a contract for it"));
  }
  json j = MarketJson(v, *rec);
  j["depth"] = DepthJson(v, *rec, LoadMarketOrders(snap->reader(), *zone, *interval), *limit);
  j["params"] = MarketParamsJson(v);
  Reply(res, 200, j);
}

void GetOrder(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  ReplyLookup<uint64_t>(c, IdParam(req), res, [](const StateView& v, uint64_t id) -> Result<json> {
    if (auto o = LoadOrder(v.state, id)) return OrderJson(v, *o);
    const bool is_contract = LoadContract(v.state, id).has_value();
    return NotFoundById("order", id, "a contract", "/v1/contracts/", is_contract);
  });
}

void GetContract(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  ReplyLookup<uint64_t>(c, IdParam(req), res, [](const StateView& v, uint64_t id) -> Result<json> {
    if (auto k = LoadContract(v.state, id)) return ContractJson(v, *k);
    const bool is_order = LoadOrder(v.state, id).has_value();
    return NotFoundById("contract", id, "an order", "/v1/orders/", is_order);
  });
}

void AccountOrders(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto addr = DecodeAddress(std::string(req.matches[1]));
  if (!addr.ok()) return ReplyError(res, addr.status());
  char kind = 0;  // any
  if (req.has_param("kind")) {
    const std::string k = req.get_param_value("kind");
    if (k != "order" && k != "contract") {
      return ReplyError(res, Error(Code::kInvalidArgument, "kind must be order or contract"));
    }
    kind = k == "order" ? 'o' : 'c';
  }
  auto before = BeforeParam(req);
  if (!before.ok()) return ReplyError(res, before.status());
  auto limit = LimitParam(req, kPageDefault, limits::kMarketPageMax);
  if (!limit.ok()) return ReplyError(res, limit.status());
  auto snap = c.store->Snapshot();
  const KvReader& st = snap->reader();
  using IdKind = std::pair<uint64_t, char>;
  const Page<IdKind> page =
      NewestFirst<IdKind>(st, AccountOrdersPrefix(*addr), *before, *limit,
                          [&](uint64_t id, std::string_view v) -> std::optional<IdKind> {
                            if (v.size() != 1 || (kind != 0 && v[0] != kind)) return std::nullopt;
                            return IdKind{id, v[0]};
                          });
  const StateView v(st);
  json list = json::array();
  for (const auto& [id, k] : page.items) {
    if (k == 'o') {
      if (auto o = LoadOrder(st, id)) list.push_back(OrderJson(v, *o));
    } else if (auto ct = LoadContract(st, id)) {
      list.push_back(ContractJson(v, *ct));
    }
  }
  Reply(res, 200,
        {{"address", EncodeAddress(*addr)}, {"orders", list}, {"next_before", page.next}});
}

}  // namespace v2g::api
