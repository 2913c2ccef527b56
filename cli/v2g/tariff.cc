// v2g tariff set|enroll|show|pay-debt: a zone's time-of-use tariffs (the grid company publishes
// them, owners have their meters billed under them) and the debts unpaid charges leave.

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "cli/v2g/families.h"
#include "cli/v2g/market.h"
#include "cli/v2g/submit.h"
#include "common/amount.h"
#include "common/checked.h"
#include "wallet/grid.h"

namespace v2g::cli {
namespace {

struct TariffArgs {
  std::string zone;
  std::string from_interval;  // set: first interval
  std::string prices;         // 24 comma-separated hourly prices
  std::string flat;
  std::vector<std::string> peaks;  // HOURS:PRICE
  std::string export_price;
  std::string meter;
};

// "00-17 0.60, 18-21 1.20, 22-23 0.60" (CNY/kWh): the hours that share a price, in order.
std::string TariffHoursText(const std::vector<int64_t>& prices, const MarketParams& p) {
  std::string out;
  for (size_t h = 0; h < prices.size();) {
    size_t end = h;
    while (end + 1 < prices.size() && prices[end + 1] == prices[h]) ++end;
    if (!out.empty()) out += ", ";
    char hours[16];
    std::snprintf(hours, sizeof hours, end > h ? "%02zu-%02zu" : "%02zu", h, end);
    out += std::string(hours) + " " + FormatAmount(prices[h], p.decimals);
    h = end + 1;
  }
  return out + " " + p.denom + "/kWh (hours UTC)";
}

json PricesJson(const std::vector<int64_t>& prices, const MarketParams& p) {
  json out = json::array();
  for (int64_t v : prices) out.push_back(MoneyJson(v, p));
  return out;
}

Status CmdTariffSet(Context& ctx, const TariffArgs& g, const TxArgs& a) {
  V2G_RETURN_IF_ERROR(CheckZoneArg(g.zone));
  V2G_ASSIGN_OR_RETURN(mk, NodeMarket(ctx));
  V2G_ASSIGN_OR_RETURN(prices, ParseTariffPrices(g.prices, g.flat, g.peaks, mk.params));
  V2G_ASSIGN_OR_RETURN(export_price, ParseTariffPrice(g.export_price, mk.params, "--export-price"));
  V2G_ASSIGN_OR_RETURN(from, ResolveInterval(g.from_interval, mk.params, mk.latest_block_time_ms,
                                             "--from-interval"));
  TxDescription d;
  d.summary = "Publish the time-of-use tariff of zone " + g.zone + " from " + FormatTimeS(from);
  d.details = {{"import", TariffHoursText(prices, mk.params)},
               {"feed-in", FormatPrice(export_price, mk.params) +
                               " for export not sold in the market or an event"}};
  d.op = {{"type", "set_tariff"},
          {"zone", g.zone},
          {"effective_from_s", from},
          {"import_prices", PricesJson(prices, mk.params)},
          {"export_price", MoneyJson(export_price, mk.params)}};
  return SubmitTx(ctx, a, MakeSetTariff(0, g.zone, from, prices, export_price), d, nullptr);
}

Status CmdTariffEnroll(Context& ctx, const TariffArgs& g, const TxArgs& a) {
  V2G_RETURN_IF_ERROR(CheckMeterIdArg(g.meter));
  TxDescription d;
  d.summary =
      "Bill meter '" + g.meter + "' under its zone's time-of-use tariff from the next interval";
  d.op = {{"type", "enroll_tariff"}, {"meter_id", g.meter}};
  return SubmitTx(ctx, a, MakeEnrollTariff(0, g.meter), d, nullptr);
}

// An account's outstanding debts (GET /v1/accounts/{address}/debts) as a money JSON total.
Result<int64_t> FetchDebtTotal(ApiClient& client, const std::string& address) {
  V2G_ASSIGN_OR_RETURN(j, client.GetJson("/v1/accounts/" + address + "/debts"));
  if (j.contains("total")) {
    const json& t = j["total"];
    const json& v = t.is_object() ? t.value("amount", json()) : t;
    return ParseUnits(v, "debt total");
  }
  int64_t sum = 0;
  for (const auto& x : j.value("debts", json::array())) {
    const json& v = x.contains("amount") && x["amount"].is_object()
                        ? x["amount"].value("amount", json())
                        : x.value("amount", json());
    V2G_ASSIGN_OR_RETURN(amount, ParseUnits(v, "debt amount"));
    auto total = CheckedAdd(sum, amount);
    if (!total) return Error(Code::kMalformed, "the node answered debts that sum past int64");
    sum = *total;
  }
  return sum;
}

Status CmdTariffPayDebt(Context& ctx, const TxArgs& a) {
  V2G_ASSIGN_OR_RETURN(signer, ctx.ActAs(a.from));
  V2G_ASSIGN_OR_RETURN(mk, NodeMarket(ctx));
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  TxDescription d;
  d.summary = "Pay the tariff debts of " + signer.name + " in " + mk.params.denom +
              ", oldest creditor first";
  if (auto owed = FetchDebtTotal(*client, signer.address); owed.ok()) {
    d.details = {{"owed", FormatMoney(*owed, mk.params)}};
  }
  d.op = {{"type", "pay_debt"}, {"denom", mk.params.denom}};
  const MarketParams p = mk.params;
  const std::string address = signer.address;
  return SubmitTx(ctx, a, MakePayDebt(0, mk.params.denom), d,
                  [p, address](ApiClient& c, const SubmitResult&, TxDescription& out) {
                    auto left = FetchDebtTotal(c, address);
                    if (!left.ok()) return;
                    out.results = {{"still owed", FormatMoney(*left, p)}};
                    out.result_json = {{"still_owed", MoneyJson(*left, p)}};
                  });
}

Status CmdTariffShow(Context& ctx, const TariffArgs& g) {
  V2G_RETURN_IF_ERROR(CheckZoneArg(g.zone));
  return ShowAnswer(ctx, "/v1/tariffs/" + g.zone, [&](const json& j) -> Status {
    V2G_ASSIGN_OR_RETURN(mk, NodeMarket(ctx));
    const KeyNames names(ctx);
    std::cout << "Time-of-use tariffs of zone " << g.zone << " (prices per kWh, hours UTC)\n";
    const json now = j.value("in_effect", json());
    if (now.is_object()) {
      std::cout << "In effect now (hour " << JsonText(now, "hour") << "): import "
                << PriceText(now, "import_price") << ", feed-in " << PriceText(now, "export_price")
                << "\n";
    } else {
      std::cout << "None in effect yet\n";
    }
    std::vector<std::vector<std::string>> rows{
        {"FROM", "IMPORT BY HOUR", "FEED-IN", "GRID COMPANY"}};
    for (const auto& t : j.value("tariffs", json::array())) {
      std::vector<int64_t> prices;
      for (const auto& p : t.value("import_prices", json::array()))
        prices.push_back(MoneyUnits(json{{"p", p}}, "p"));
      std::string hours = TariffHoursText(prices, mk.params);
      hours = hours.substr(0, hours.find(" " + mk.params.denom + "/kWh"));
      rows.push_back({TimeText(t, "effective_from_s"), hours, PriceText(t, "export_price"),
                      names(JsonText(t, "grid_company"))});
    }
    std::cout << "\n";
    PrintTable(rows, {2});
    return Status::Ok();
  });
}

}  // namespace

void AddTariffCommands(CLI::App& app, CommandLine& cl) {
  TariffArgs& t = cl.Keep<TariffArgs>();
  TxArgs& tx = cl.Keep<TxArgs>();
  CLI::App* tariff = cl.Group(&app, "tariff", "Time-of-use tariffs and tariff debts");
  auto* tset = cl.Command(tariff, "set", "Publish a zone's time-of-use tariff (grid company only)",
                          [&](Context& c) { return CmdTariffSet(c, t, tx); });
  tset->add_option("--zone", t.zone, "Zone")->required();
  tset->add_option("--from-interval", t.from_interval,
                   "First interval it applies to: " + std::string(kTimeHelp))
      ->required();
  tset->add_option(
      "--prices", t.prices,
      "24 hourly import prices per kWh, hour 0 to 23 UTC, comma-separated (e.g. 0.40,0.40,...)");
  tset->add_option("--flat", t.flat,
                   "One import price per kWh for every hour (with --peak windows on top)");
  tset->add_option(
      "--peak", t.peaks,
      "HOURS:PRICE on top of --flat, hours inclusive and UTC (e.g. 18-21:1.20); repeatable");
  tset->add_option(
          "--export-price", t.export_price,
          "Feed-in price per kWh of export not sold in the market or an event (0 for none)")
      ->required();
  AddTxOptions(tset, tx, true);
  auto* tenroll = cl.Command(tariff, "enroll", "Have your meter billed under its zone's tariff",
                             [&](Context& c) { return CmdTariffEnroll(c, t, tx); });
  tenroll->add_option("METER", t.meter, "Your meter")->required();
  AddTxOptions(tenroll, tx, true);
  auto* tshow = cl.Command(tariff, "show", "A zone's tariffs (import price per hour, feed-in)",
                           [&](Context& c) { return CmdTariffShow(c, t); });
  tshow->add_option("ZONE", t.zone, "Zone")->required();
  auto* tpay = cl.Command(tariff, "pay-debt", "Pay your tariff debts (they block your sell orders)",
                          [&](Context& c) { return CmdTariffPayDebt(c, tx); });
  AddTxOptions(tpay, tx, true);
}

}  // namespace v2g::cli
