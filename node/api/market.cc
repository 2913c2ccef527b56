// HTTP API of the energy market (contracts/market.h; docs/API.md "Energy market"): markets with
// their order book depth, orders, bilateral contracts and an account's orders. Trades and
// settlements are in market_trades.cc. Read-only: every handler reads one store snapshot,
// validates each parameter with an error that names it, and shows nothing that is not already in
// the public order, contract and trade records.
#include "contracts/market.h"

#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "common/limits.h"
#include "contracts/state.h"
#include "node/api/market.h"
#include "node/api/access.h"
#include "node/api/paging.h"
#include "node/api/params.h"
#include "node/api/render.h"
#include "node/api/reply.h"
#include "node/api/routes.h"
#include "node/store/index.h"
#include "proto/encode.h"

namespace v2g::api {

Result<int64_t> ParseInterval(const std::string& name, const std::string& text,
                              const pb::ParamsRecord& p) {
  auto v = ParseTime(name, text);
  if (!v.ok()) return v;
  if (*v < 1) return Error(Code::kInvalidArgument, name + " must be after 1970-01-01T00:00:00Z");
  const int64_t len = p.settlement_interval_s();
  if (len > 0 && *v % len != 0) {
    return Error(Code::kInvalidArgument, Text(name + " {start} is not aligned to the " + DurationWords(len) +
                                              " delivery intervals (the interval holding it starts at {earlier})")
                                             .Time("start", *v)
                                             .Time("earlier", *v - *v % len));
  }
  return v;
}

namespace {

// Price levels a side GET /v1/markets/{zone}/{interval} shows when the request gives no limit.
constexpr int64_t kDepthLevelsDefault = 50;

// Price levels of one side: energy, order count and (after clearing) the matched energy per
// limit price, best price first, with the energy available at that price or better.
json LevelsJson(const StateView& v, const std::vector<index::BookLevel>& levels, bool cleared) {
  json out = json::array();
  int64_t cumulative = 0;
  for (const auto& l : levels) {
    AddSat(cumulative, l.energy_wh);
    json j = {{"price", v.Money(l.price)},
              {"energy_wh", l.energy_wh},
              {"orders", l.orders},
              {"cumulative_wh", cumulative}};
    if (cleared) j["filled_wh"] = l.filled_wh;
    out.push_back(std::move(j));
  }
  return out;
}

// Before clearing: the open orders. After: every order that went into the auction (all but the
// cancelled ones), with what each level matched. From the node's book index (node/store/index.h):
// `limit` levels a side and the totals, however many orders the market holds.
json DepthJson(const StateView& v, const pb::MarketRecord& m, int64_t limit) {
  const bool cleared = m.status() != pb::MARKET_OPEN;
  const index::BookTotals t = index::LoadBookTotals(v.state, m.zone(), m.interval_start_s());
  auto side = [&](pb::Side s) {
    return LevelsJson(v, index::LoadBookLevels(v.state, m.zone(), m.interval_start_s(), s, limit),
                      cleared);
  };
  return {{"orders", cleared ? "auction" : "open"},
          {"bids", side(pb::SIDE_BUY)},
          {"asks", side(pb::SIDE_SELL)},
          {"bid_levels", t.bid_levels},
          {"ask_levels", t.ask_levels},
          {"bid_energy_wh", t.bid_energy_wh},
          {"ask_energy_wh", t.ask_energy_wh}};
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
  auto from = TimeParam(req, "from", q.from);
  if (!from.ok()) return from.status();
  auto to = TimeParam(req, "to", q.to);
  if (!to.ok()) return to.status();
  q.from = *from;
  q.to = *to;
  if (q.from >= q.to) {
    return Error(Code::kInvalidArgument,
                 Text("to ({to}) must be later than from ({from})").Time("to", q.to).Time("from", q.from));
  }
  auto limit = LimitParam(req, kPageDefault, limits::kMarketPageMax);
  if (!limit.ok()) return limit.status();
  q.limit = *limit;
  return q;
}

// The limit + 1 first markets `q` asks for, by (interval, zone): the extra one tells whether more
// remain. One zone: its own keys from `from` on; every zone: the x/mkt_i/ index, in the same order.
// Either way a page reads limit + 1 records.
std::vector<pb::MarketRecord> FirstMarkets(const KvReader& st, const MarketQuery& q) {
  std::vector<pb::MarketRecord> out;
  auto full = [&] { return static_cast<int64_t>(out.size()) > q.limit; };
  if (!q.zone.empty()) {
    st.ScanFrom(MarketZonePrefix(q.zone), MarketKey(q.zone, q.from), /*reverse=*/false,
                [&](std::string_view, std::string_view val) {
                  auto rec = DecodeRecord<pb::MarketRecord>(std::string(val));
                  if (rec.interval_start_s() >= q.to) return false;
                  out.push_back(std::move(rec));
                  return !full();
                });
    return out;
  }
  const std::string_view prefix = index::kMarketByIntervalPrefix;
  std::string start(prefix);
  AppendBigEndian64(start, static_cast<uint64_t>(q.from));
  st.ScanFrom(prefix, start, /*reverse=*/false, [&](std::string_view k, std::string_view) {
    V2G_ASSERT(k.size() > prefix.size() + 8);  // index.h: interval then zone
    const auto interval = static_cast<int64_t>(ReadBigEndian64(k.substr(prefix.size())));
    if (interval >= q.to) return false;
    auto rec = LoadMarket(st, k.substr(prefix.size() + 8), interval);
    V2G_ASSERT(rec.has_value());  // written with the market, in the same batch
    out.push_back(std::move(*rec));
    return !full();
  });
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
  if (!rec && !v.market_enabled()) {
    return ReplyError(res, Error(Code::kMarketDisabled, "this chain has no energy market (its genesis sets no market_denom)"));
  }
  if (!rec) {
    // Nobody has placed an order or proposed a contract for it: an empty book, in a zone that
    // exists (a zone that does not is a 404).
    if (!LoadZone(snap->reader(), *zone)) {
      return ReplyError(res, Error(Code::kNotFound, "no zone " + *zone + " (GET /v1/zones lists them)"));
    }
    pb::MarketRecord empty;
    empty.set_zone(*zone);
    empty.set_interval_start_s(*interval);
    empty.set_status(pb::MARKET_OPEN);  // its depth is of open orders (none), not an auction
    json j = MarketJson(v, empty);
    j["status"] = "empty";
    j["depth"] = DepthJson(v, empty, *limit);
    j["params"] = MarketParamsJson(v);
    return Reply(res, 200, j);
  }
  json j = MarketJson(v, *rec);
  j["depth"] = DepthJson(v, *rec, *limit);
  j["params"] = MarketParamsJson(v);
  Reply(res, 200, j);
}

void GetOrder(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  ReplyLookup<uint64_t>(c, IdParam(req), res, [&](const StateView& v, uint64_t id) -> Result<json> {
    if (auto o = LoadOrder(v.state, id)) {
      if (auto st = RequireReader(c, {o->owner()}, "order " + std::to_string(id), /*reveal=*/false); !st.ok()) return st;
      return OrderJson(v, *o);
    }
    const bool is_contract = LoadContract(v.state, id).has_value();
    return NotFoundById("order", id, "a contract", "/v1/contracts/", is_contract);
  });
}

void GetContract(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  ReplyLookup<uint64_t>(c, IdParam(req), res, [&](const StateView& v, uint64_t id) -> Result<json> {
    if (auto k = LoadContract(v.state, id)) {
      if (auto st = RequireReader(c, {k->proposer(), k->counterparty(), k->buyer(), k->seller()},
                                  "contract " + std::to_string(id), /*reveal=*/false, "its parties");
          !st.ok()) {
        return st;
      }
      return ContractJson(v, *k);
    }
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
  if (auto ok = RequireReader(c, {AddressBytes(*addr)}, "the orders of " + EncodeAddress(*addr)); !ok.ok()) {
    return ReplyError(res, ok);
  }
  auto snap = c.store->Snapshot();
  const KvReader& st = snap->reader();
  using IdKind = std::pair<uint64_t, char>;
  // One kind: its own index (node/store/index.h), whose entries all match.
  const std::string prefix = kind == 0
                                 ? AccountOrdersPrefix(*addr)
                                 : index::AccountOrdersOfKindPrefix(AddressBytes(*addr), kind);
  const Page<IdKind> page = NewestFirst<IdKind>(
      st, prefix, *before, *limit, [&](uint64_t id, std::string_view v) -> std::optional<IdKind> {
        if (kind != 0) return IdKind{id, kind};
        if (v.size() != 1) return std::nullopt;
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
