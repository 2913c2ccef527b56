// HTTP API of the energy market's trades and settlements (contracts/market.h; docs/API.md
// "Energy market"): one market's trades or an account's, and the settled trades and contracts
// with their totals. Read-only, like market.cc.
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "common/bytes.h"
#include "common/limits.h"
#include "contracts/market.h"
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
namespace {

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
    auto a = ParseAddress("account", req.get_param_value("account"));
    if (!a.ok()) return a.status();
    q.account = *a;
  }
  return q;
}

// An account's trades (s/acct_t/ index), newest interval first; `before`: intervals < before.
// A page ends at an interval boundary unless one interval alone has more than `limit` trades.
Page<pb::TradeRecord> AccountTrades(const KvReader& st, const Address& a, int64_t before,
                                    int64_t limit) {
  const std::string prefix = AccountTradesPrefix(a);
  std::string start = prefix;
  AppendBigEndian64(start, static_cast<uint64_t>(before));
  // (interval, key), newest first: the limit + 1 keys below `before`.
  std::vector<std::pair<int64_t, std::string>> shown;
  st.ScanFrom(prefix, start, /*reverse=*/true, [&](std::string_view k, std::string_view) {
    V2G_ASSERT(k.size() > prefix.size() + 12);  // interval, index, zone
    const int64_t interval = static_cast<int64_t>(ReadBigEndian64(k.substr(prefix.size())));
    shown.emplace_back(interval, std::string(k));
    return static_cast<int64_t>(shown.size()) <= limit;
  });
  Page<pb::TradeRecord> page;
  const auto cut = CutAtInterval(shown, limit, [](const auto& e) { return e.first; });
  // `before` is exclusive: past the cut interval is `before` = it, at it is it + 1.
  if (cut) page.next = cut->skip_rest ? cut->interval : cut->interval + 1;
  for (const auto& [interval, key] : shown) {
    if (auto t = LoadTradeByAccountKey(st, key)) page.items.push_back(std::move(*t));
  }
  return page;
}

// GET /v1/trades?account=&before=&limit=
void ListAccountTrades(const ApiContext& c, const StateView& v, const Address& account, const httplib::Request& req,
                       int64_t limit, httplib::Response& res) {
  if (req.has_param("after")) {
    return ReplyError(res, Error(Code::kInvalidArgument,
                                 "after pages one market's trades; with account use before"));
  }
  auto before = IntParam(req, "before", kTimeMaxS + 1, 1, kTimeMaxS + 1);
  if (!before.ok()) return ReplyError(res, before.status());
  const Page<pb::TradeRecord> page = AccountTrades(v.state, account, *before, limit);
  Reply(
      res, 200,
      {{"account", EncodeAddress(account)},
       {"trades", JsonList(page.items,
                           [&](const pb::TradeRecord& t) {
                             // Its own side of each (access.h ShowPartiesToReader).
                             json j = TradeJson(v, t);
                             ShowPartiesToReader(c, j, {ZoneGridCompany(v.state, t.zone())});
                             return j;
                           })},
       {"next_before", page.next}});
}

// GET /v1/trades?zone=&interval=&after=&limit=: by index; next_after is the last index shown
// when more remain.
void ListMarketTrades(const ApiContext& c, const StateView& v, const std::string& zone, int64_t interval,
                      const httplib::Request& req, int64_t limit, httplib::Response& res) {
  if (req.has_param("before")) {
    return ReplyError(res,
                      Error(Code::kInvalidArgument,
                            "before pages an account's trades; with zone and interval use after"));
  }
  // A market nobody traded in a zone that exists has no trades (an empty list), as its book is empty.
  auto rec = LoadMarket(v.state, zone, interval);
  json market;
  if (rec) {
    market = MarketJson(v, *rec);
  } else {
    if (!LoadZone(v.state, zone)) {
      return ReplyError(res, Error(Code::kNotFound, "no zone " + zone + " (GET /v1/zones lists them)"));
    }
    pb::MarketRecord empty;
    empty.set_zone(zone);
    empty.set_interval_start_s(interval);
    market = MarketJson(v, empty);
    market["status"] = "empty";
  }
  auto after = IntParam(req, "after", -1, 0, UINT32_MAX);
  if (!after.ok()) return ReplyError(res, after.status());
  json list = json::array();
  json next = nullptr;
  // Who traded is theirs and the zone's grid company's (access.h).
  const std::vector<std::string> gc = {ZoneGridCompany(v.state, zone)};
  int64_t reduced = 0;
  const std::string prefix = MarketTradesPrefix(zone, interval);
  // Keys run by index (4 bytes big-endian): start right after `after`.
  std::string start = prefix;
  const auto first = static_cast<uint64_t>(*after + 1);
  for (int shift = 24; shift >= 0; shift -= 8) start += static_cast<char>((first >> shift) & 0xff);
  if (first > UINT32_MAX) start = PrefixEnd(prefix);
  v.state.ScanFrom(prefix, start, /*reverse=*/false, [&](std::string_view k, std::string_view val) {
    if (k.size() != prefix.size() + 4) return true;
    auto t = DecodeRecord<pb::TradeRecord>(std::string(val));
    if (static_cast<int64_t>(t.index()) <= *after) return true;
    if (static_cast<int64_t>(list.size()) == limit) {
      next = list.back()["index"];
      return false;
    }
    list.push_back(TradeJson(v, t));
    reduced += ShowPartiesToReader(c, list.back(), gc) ? 1 : 0;
    return true;
  });
  Reply(res, 200,
        {{"zone", zone},
         {"interval_start_s", interval},
         {"market", market},
         {"trades", list},
         {"next_after", next},
         {"private_items", reduced}});
}

// The totals over every settled trade and contract that matched (from an index) and the page of
// them to show: the first `limit` of a market, or an account's newest `limit`.
class Settlements {
 public:
  explicit Settlements(int64_t limit) : limit_(limit) {}

  void Show(const pb::TradeRecord& t) { Keep(trades_, t); }
  void Show(const pb::ContractRecord& k) { Keep(contracts_, k); }
  void SetTotals(const index::SettledTotals& t) {
    trades_total_ = t.trades;
    contracts_total_ = t.contracts;
    energy_wh_ = t.energy_wh;
    delivered_wh_ = t.delivered_wh;
    seller_paid_ = t.seller_paid;
    buyer_refund_ = t.buyer_refund;
    penalty_ = t.penalty;
    collateral_returned_ = t.collateral_returned;
  }

  json ToJson(const StateView& v) const {
    auto shown = [&](const auto& list, auto&& render) { return JsonList(list, render); };
    return {{"trades", shown(trades_, [&](const pb::TradeRecord& t) { return TradeJson(v, t); })},
            {"contracts",
             shown(contracts_, [&](const pb::ContractRecord& k) { return ContractJson(v, k); })},
            {"trades_total", trades_total_},
            {"contracts_total", contracts_total_},
            {"totals",
             {{"energy_wh", energy_wh_},
              {"delivered_wh", delivered_wh_},
              {"seller_paid", v.Money(seller_paid_)},
              {"buyer_refund", v.Money(buyer_refund_)},
              {"penalty", v.Money(penalty_)},
              {"collateral_returned", v.Money(collateral_returned_)}}}};
  }

 private:
  template <typename T>
  void Keep(std::deque<T>& list, const T& x) {
    if (static_cast<int64_t>(list.size()) == limit_) return;
    list.push_back(x);
  }

  int64_t limit_;
  std::deque<pb::TradeRecord> trades_;
  std::deque<pb::ContractRecord> contracts_;
  int64_t trades_total_ = 0, contracts_total_ = 0;
  int64_t energy_wh_ = 0, delivered_wh_ = 0, seller_paid_ = 0, buyer_refund_ = 0, penalty_ = 0,
          collateral_returned_ = 0;
};

// One market's first `limit` settled trades (by index) and contracts (by id) and its totals over
// all of them, those of `who` (address bytes) only when not empty, from the node's indexes
// (x/settled_mt/ _mc/ _msum/, or _mat/ _mac/ _masum/ for one party): reads 2 x limit records, not
// the market's (up to kOrdersPerMarketMax).
void AddMarketSettlements(const KvReader& st, const std::string& zone, int64_t interval,
                          const std::string& who, int64_t limit, Settlements& out) {
  out.SetTotals(index::LoadMarketSettledTotals(st, zone, interval, who));
  const std::string trades = index::MarketSettledTradesPrefix(zone, interval, who);
  const std::string trade_prefix = MarketTradesPrefix(zone, interval);
  int64_t shown = 0;
  st.ScanFrom(trades, "", /*reverse=*/false, [&](std::string_view k, std::string_view) {
    V2G_ASSERT(k.size() == trades.size() + 4);  // the trade's index
    auto v = st.Get(trade_prefix + std::string(k.substr(trades.size())));
    V2G_ASSERT(v.has_value());  // indexed when it settled; trades are never deleted
    auto t = DecodeRecord<pb::TradeRecord>(*v);
    V2G_ASSERT(t.settled());
    out.Show(t);
    return ++shown < limit;
  });
  const std::string contracts = index::MarketSettledContractsPrefix(zone, interval, who);
  shown = 0;
  st.ScanFrom(contracts, "", /*reverse=*/false, [&](std::string_view k, std::string_view) {
    V2G_ASSERT(k.size() == contracts.size() + 8);  // the contract's id
    auto ct = LoadContract(st, ReadBigEndian64(k.substr(contracts.size())));
    V2G_ASSERT(ct.has_value() && ct->status() == pb::CONTRACT_SETTLED);
    out.Show(*ct);
    return ++shown < limit;
  });
}

// An account's newest `limit` settled trades and contracts and its totals over all of them, from
// the node's indexes (x/settled_t/, x/settled_c/, x/settled_sum/): reads 2 x limit records.
void AddAccountSettlements(const KvReader& st, const Address& account, int64_t limit,
                           Settlements& out) {
  const std::string who = AddressBytes(account);
  out.SetTotals(index::LoadSettledTotals(st, who));
  const std::string trades = index::SettledTradesPrefix(who);
  int64_t shown = 0;
  st.ScanFrom(trades, "", /*reverse=*/true, [&](std::string_view k, std::string_view) {
    auto t = LoadTradeByAccountKey(
        st, AccountTradesPrefix(account) + std::string(k.substr(trades.size())));
    V2G_ASSERT(t.has_value() && t->settled());  // indexed when it settled
    out.Show(*t);
    return ++shown < limit;
  });
  const std::string contracts = index::SettledContractsPrefix(who);
  shown = 0;
  st.ScanFrom(contracts, "", /*reverse=*/true, [&](std::string_view k, std::string_view) {
    auto ct = LoadContract(st, ReadBigEndian64(k.substr(contracts.size())));
    V2G_ASSERT(ct.has_value() && ct->status() == pb::CONTRACT_SETTLED);
    out.Show(*ct);
    return ++shown < limit;
  });
}

}  // namespace

void ListTrades(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto snap = c.store->Snapshot();
  const StateView v(snap->reader());
  auto q = ParseTradeQuery(req, v.params, false);
  if (!q.ok()) return ReplyError(res, q.status());
  auto limit = LimitParam(req, kPageDefault, limits::kMarketPageMax);
  if (!limit.ok()) return ReplyError(res, limit.status());
  if (q->account) {
    if (auto ok = RequireReader(c, {AddressBytes(*q->account)}, "the trades of " + EncodeAddress(*q->account));
        !ok.ok()) {
      return ReplyError(res, ok);
    }
    return ListAccountTrades(c, v, *q->account, req, *limit, res);
  }
  ListMarketTrades(c, v, q->zone, q->interval, req, *limit, res);
}

void ListSettlements(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto snap = c.store->Snapshot();
  const KvReader& st = snap->reader();
  const StateView v(st);
  auto q = ParseTradeQuery(req, v.params, true);
  if (!q.ok()) return ReplyError(res, q.status());
  auto limit = LimitParam(req, kPageDefault, limits::kMarketPageMax);
  if (!limit.ok()) return ReplyError(res, limit.status());
  const bool market_form = q->interval != 0;
  if (q->account) {
    if (auto ok = RequireReader(c, {AddressBytes(*q->account)}, "the settlements of " + EncodeAddress(*q->account));
        !ok.ok()) {
      return ReplyError(res, ok);
    }
  }
  Settlements out(*limit);
  json market = nullptr;
  if (market_form) {
    auto rec = LoadMarket(st, q->zone, q->interval);
    if (!rec) {
      if (!LoadZone(st, q->zone)) {
        return ReplyError(res, Error(Code::kNotFound, "no zone " + q->zone + " (GET /v1/zones lists them)"));
      }
      // Nobody traded it: nothing settled, and the market shows as an empty book does.
      pb::MarketRecord empty;
      empty.set_zone(q->zone);
      empty.set_interval_start_s(q->interval);
      market = MarketJson(v, empty);
      market["status"] = "empty";
    } else {
      market = MarketJson(v, *rec);
    }
    AddMarketSettlements(st, q->zone, q->interval, q->account ? AddressBytes(*q->account) : "",
                         *limit, out);
  } else {
    AddAccountSettlements(st, *q->account, *limit, out);
  }
  json j = out.ToJson(v);
  {
    // Who took part: the parties' (each its own side of an auction trade) and the zone's company.
    int64_t reduced = 0;
    for (const char* list : {"trades", "contracts"}) {
      for (json& t : j[list]) {
        const std::string zone = t.value("zone", std::string());
        reduced += ShowPartiesToReader(c, t, {ZoneGridCompany(st, zone)}) ? 1 : 0;
      }
    }
    j["private_items"] = reduced;
  }
  if (market_form) j["market"] = market;
  if (q->account) j["account"] = EncodeAddress(*q->account);
  Reply(res, 200, j);
}

}  // namespace v2g::api
