// v2g market sell|buy|cancel: orders in the energy market's double auction (contracts/market.h
// tells the life of a market). The read commands are in market_query.cc.

#include "cli/v2g/market.h"

#include <algorithm>
#include <cctype>
#include <iostream>
#include <string>
#include <vector>

#include "cli/v2g/families.h"
#include "cli/v2g/submit.h"
#include "common/amount.h"
#include "common/time.h"
#include "wallet/battery_wear.h"

namespace v2g::cli {
namespace {

struct OrderArgs {
  std::string meter;
  std::string zone;
  std::string interval;  // Unix seconds, RFC 3339, next, next+K
  std::string price;     // human units of the market denomination per kWh
  int64_t energy_wh = 0;
  uint64_t id = 0;     // cancel: the order
  uint64_t pool = 0;   // sell: the pool an aggregator sells for (instead of --meter)
  bool force = false;  // sell: below the battery wear cost anyway
};

// The battery-wear floor (wallet/battery_wear.h): a sell from a vehicle whose owner keeps a
// battery profile in this wallet is refused below the wear cost per kWh, unless --force.
Status CheckSellAgainstWear(Context& ctx, const OrderArgs& m, const MarketContext& mk,
                            int64_t price) {
  auto profile = LoadProfile(ctx.globals().home, m.meter);
  if (!profile.ok()) {
    if (profile.status().code() != Code::kNotFound) return profile.status();
    if (!ctx.json()) {
      std::cerr << "hint: meter '" << m.meter
                << "' has no battery profile; with one (v2g battery profile set " << m.meter
                << " ...) a price below its battery wear cost is refused\n";
    }
    return Status::Ok();
  }
  const int64_t wear = WearCostPerKwh(*profile);
  if (price >= wear) return Status::Ok();
  const std::string what = "the limit price " + FormatPrice(price, mk.params) +
                           " is below the battery wear cost of meter '" + m.meter + "', " +
                           FormatPrice(wear, mk.params) + " (its battery profile)";
  if (!m.force) {
    return Error(Code::kInvalidArgument, what +
                                             ": every kWh sold at this price loses money on the "
                                             "battery; raise --price to at least " +
                                             FormatAmount(wear, mk.params.decimals) +
                                             " or pass --force to sell anyway");
  }
  std::cerr << "warning: " << what << "; selling anyway (--force)\n";
  return Status::Ok();
}

Status CmdMarketPlace(Context& ctx, const OrderArgs& m, const TxArgs& a, pb::Side side) {
  const bool sell = side == pb::SIDE_SELL;
  const bool pool = sell && m.pool != 0;
  V2G_ASSIGN_OR_RETURN(signer, ctx.ActAs(a.from));
  if (sell && m.meter.empty() == (m.pool == 0)) {
    return Error(Code::kInvalidArgument,
                 "name the seller's energy source: --meter METER (your meter) or --pool POOL_ID "
                 "(an aggregator "
                 "selling for its pool), not both");
  }
  if (pool && m.force)
    return Error(Code::kInvalidArgument,
                 "--force is about your own meter's battery; not with --pool");
  if (sell && !pool) V2G_RETURN_IF_ERROR(CheckMeterIdArg(m.meter));
  V2G_ASSIGN_OR_RETURN(at, ResolveDelivery(ctx, m.zone, m.energy_wh, m.price, m.interval));
  const MarketContext& mk = at.mk;
  const int64_t price = at.price, start = at.start_s;
  if (sell && !pool) V2G_RETURN_IF_ERROR(CheckSellAgainstWear(ctx, m, mk, price));
  V2G_ASSIGN_OR_RETURN(lock, DeliveryValue(sell, m.energy_wh, price, mk.params));
  const std::string lock_kind = sell ? "collateral" : "escrow";
  TxDescription d;
  d.summary = std::string(sell ? "Sell " : "Buy ") + FormatKwh(m.energy_wh) +
              (sell ? " at no less than " : " at up to ") + FormatPrice(price, mk.params) +
              " in zone " + m.zone +
              (pool   ? " for pool " + std::to_string(m.pool)
               : sell ? " from meter " + m.meter
                      : "") +
              " (" + signer.name + ")";
  d.details = {
      {"interval", IntervalRow(start, mk.params)},
      {"locks", FormatMoney(lock, mk.params) + " " + lock_kind + " until clearing and settlement"}};
  d.op = DeliveryOp("place_order", sell, at, "limit_price", sell ? m.meter : "");
  if (pool) d.op["pool_id"] = m.pool;
  pb::TxBody body =
      pool ? MakePoolSell(0, m.pool, m.zone, start, m.energy_wh, price)
           : MakePlaceOrder(0, side, m.zone, start, m.energy_wh, price, sell ? m.meter : "");
  return SubmitTx(
      ctx, a, std::move(body), d, [&](ApiClient& c, const SubmitResult& r, TxDescription& out) {
        if (r.created_id == 0) return;
        const json order = FetchRecord(c, "order", r.created_id);
        const std::string locked =
            order.is_object() ? MoneyText(order, "locked_initial") : FormatMoney(lock, mk.params);
        out.results = {{"order", std::to_string(r.created_id)},
                       {"locked", locked + " " + lock_kind},
                       {"cancel with", "v2g market cancel --from " + signer.name + " " +
                                           std::to_string(r.created_id)}};
        out.result_json = {
            {"order", order},
            {"locked", order.is_object() ? order["locked_initial"] : MoneyJson(lock, mk.params)}};
      });
}

Status CmdMarketCancel(Context& ctx, const OrderArgs& m, const TxArgs& a) {
  TxDescription d;
  d.summary = "Cancel order " + std::to_string(m.id);
  d.op = {{"type", "cancel_order"}, {"order_id", m.id}};
  return SubmitTx(ctx, a, MakeCancelOrder(0, m.id), d,
                  [&](ApiClient& c, const SubmitResult&, TxDescription& out) {
                    const json order = FetchRecord(c, "order", m.id);
                    if (!order.is_object()) return;
                    out.results = {{"refunded", MoneyText(order, "refunded")}};
                    out.result_json = {{"order", order}};
                  });
}

}  // namespace

Status CheckZoneOnChain(Context& ctx, const std::string& zone, bool warn_if_no_meters) {
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(zones, client->GetJson("/v1/zones"));
  std::vector<std::string> names;
  for (const auto& z : zones.value("zones", json::array())) names.push_back(JsonText(z, "name"));
  if (std::find(names.begin(), names.end(), zone) == names.end()) {
    auto lower = [](std::string s) {
      for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return s;
    };
    for (const std::string& n : names) {
      if (lower(n) == lower(zone)) {
        return Error(Code::kNotFound, "no zone '" + zone + "' on this chain; did you mean " + n +
                                          "? (zone names are case-sensitive)");
      }
    }
    std::string list;
    for (size_t i = 0; i < names.size() && i < 20; ++i) list += (i ? ", " : "") + names[i];
    if (names.size() > 20) list += ", ...";
    return Error(Code::kNotFound, "no zone '" + zone + "' on this chain (its zones: " + list + ")");
  }
  if (!warn_if_no_meters) return Status::Ok();
  V2G_ASSIGN_OR_RETURN(meters, client->GetJson("/v1/meters?zone=" + zone + "&limit=1"));
  if (meters.value("meters", json::array()).empty() && JsonInt(meters, "private_items") == 0) {
    std::cerr << "warning: zone " << zone
              << " has no registered meters yet: nobody there can deliver or attest energy\n";
  }
  return Status::Ok();
}

Result<Delivery> ResolveDelivery(Context& ctx, const std::string& zone, int64_t energy_wh,
                                 const std::string& price, const std::string& interval) {
  V2G_RETURN_IF_ERROR(CheckZoneArg(zone));
  V2G_RETURN_IF_ERROR(CheckEnergyWh(energy_wh));
  V2G_RETURN_IF_ERROR(CheckZoneOnChain(ctx, zone, /*warn_if_no_meters=*/true));
  V2G_ASSIGN_OR_RETURN(mk, NodeMarket(ctx));
  V2G_ASSIGN_OR_RETURN(units, ParsePricePerKwh(price, mk.params));
  V2G_ASSIGN_OR_RETURN(start, ResolveInterval(interval, mk.params, mk.latest_block_time_ms));
  return Delivery{mk, zone, energy_wh, units, start};
}

json DeliveryOp(const std::string& type, bool sell, const Delivery& at, const char* price_key,
                const std::string& meter) {
  return {{"type", type},
          {"side", sell ? "sell" : "buy"},
          {"zone", at.zone},
          {"interval_start", FormatRfc3339Ms(at.start_s * 1000)},
          {"interval_start_s", at.start_s},
          {"energy_wh", at.energy_wh},
          {price_key, MoneyJson(at.price, at.mk.params)},
          {"meter_id", meter}};
}

Result<int64_t> DeliveryValue(bool sell, int64_t energy_wh, int64_t price, const MarketParams& p) {
  const auto value = OrderLock(sell, energy_wh, price, p);
  if (!value) {
    return Error(Code::kOverflow,
                 FormatKwh(energy_wh) + " at " + FormatPrice(price, p) + " overflows");
  }
  return *value;
}

std::string IntervalRow(int64_t start, const MarketParams& p) {
  return FormatTimeS(start) + ", " + std::to_string(p.interval_s / 60) + " min; gate closes " +
         FormatTimeS(start - p.gate_closure_s);
}

json FetchRecord(ApiClient& client, const std::string& kind, uint64_t id) {
  auto r = client.GetJson("/v1/" + kind + "s/" + std::to_string(id));
  return r.ok() ? *r : json(nullptr);
}

void AddMarketCommands(CLI::App& app, CommandLine& cl) {
  OrderArgs& o = cl.Keep<OrderArgs>();
  TxArgs& tx = cl.Keep<TxArgs>();
  CLI::App* market =
      cl.Group(&app, "market", "Energy market: buy and sell orders, order book, trades, results");
  auto order_options = [&](CLI::App* sub, bool sell) {
    if (sell) {
      sub->add_option("--meter", o.meter, "Your meter that delivers (in the zone)");
      sub->add_option(
          "--pool", o.pool,
          "Sell for this pool as its aggregator (its members deliver; instead of --meter)")->check(IdCheck());
      sub->add_flag("--force", o.force,
                    "Sell even below the battery wear cost in the meter's battery profile");
    }
    sub->add_option("--zone", o.zone, "Zone, e.g. GD-SZ")->required();
    sub->add_option("--interval", o.interval, kIntervalHelp)->required();
    sub->add_option("--energy-wh", o.energy_wh, "Energy (Wh)")->required();
    sub->add_option("--price", o.price,
                    sell ? "Lowest price you accept per kWh, in the market denomination (e.g. 0.85)"
                         : "Highest price you pay per kWh, in the market denomination (e.g. 0.85)")
        ->required();
    AddTxOptions(sub, tx, true);
  };
  order_options(
      cl.Command(market, "sell",
                 "Offer energy from your meter in one zone and interval (locks collateral)",
                 [&](Context& c) { return CmdMarketPlace(c, o, tx, pb::SIDE_SELL); }),
      true);
  order_options(
      cl.Command(market, "buy", "Bid for energy in one zone and interval (locks the escrow)",
                 [&](Context& c) { return CmdMarketPlace(c, o, tx, pb::SIDE_BUY); }),
      false);
  auto* mcancel = cl.Command(market, "cancel",
                             "Withdraw an open order before gate closure (refunds what it locked)",
                             [&](Context& c) { return CmdMarketCancel(c, o, tx); });
  mcancel->add_option("ORDER_ID", o.id, "Order id")->required()->check(IdCheck());
  AddTxOptions(mcancel, tx, true);
  AddMarketQueryCommands(market, cl);
}

}  // namespace v2g::cli
