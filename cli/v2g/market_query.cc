// v2g market orders|book|trades|results, and the table of `contract list`: what the energy
// market's records say, read from the node (docs/API.md "Market").

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "cli/v2g/market.h"
#include "common/limits.h"

namespace v2g::cli {
namespace {

struct QueryArgs {
  std::string zone;
  std::string interval;  // Unix seconds, RFC 3339, next, next+K
  std::string account;   // address or key name
  std::string from_t;    // results: interval starts from / to
  std::string to_t;
};

void PrintOrdersTable(const json& list) {
  std::vector<std::vector<std::string>> rows{{"ID", "SIDE", "ZONE", "INTERVAL", "ENERGY",
                                              "LIMIT PRICE", "STATUS", "FILLED", "LOCKED",
                                              "METER"}};
  for (const auto& o : list) {
    rows.push_back({JsonText(o, "id"), JsonText(o, "side"), JsonText(o, "zone"), IntervalText(o),
                    KwhText(o, "energy_wh"), PriceText(o, "limit_price"), JsonText(o, "status"),
                    KwhText(o, "filled_wh"), MoneyText(o, "locked"), JsonText(o, "meter_id")});
  }
  PrintTable(rows, {0, 4, 5, 7, 8});
}

void PrintContractsTable(const json& list, const std::string& me, const KeyNames& names) {
  std::vector<std::vector<std::string>> rows{{"ID", "YOU", "WITH", "ZONE", "INTERVAL", "ENERGY",
                                              "PRICE", "STATUS", "DELIVERED", "SELLER PAID",
                                              "METER"}};
  for (const auto& k : list) {
    const bool proposer = JsonText(k, "proposer") == me;
    const std::string role = std::string(JsonText(k, "seller") == me ? "sell" : "buy") +
                             (proposer ? " (proposed)" : " (offered)");
    const std::string other = proposer ? JsonText(k, "counterparty") : JsonText(k, "proposer");
    rows.push_back({JsonText(k, "id"), role, names(other), JsonText(k, "zone"), IntervalText(k),
                    KwhText(k, "energy_wh"), PriceText(k, "price"), JsonText(k, "status"),
                    KwhText(k, "delivered_wh"), MoneyText(k, "seller_paid"),
                    JsonText(k, "meter_id")});
  }
  PrintTable(rows, {0, 5, 6, 8, 9});
}

void PrintLevels(const char* title, const json& levels, bool cleared) {
  std::cout << "\n" << title << "\n";
  if (levels.empty()) {
    std::cout << "  (none)\n";
    return;
  }
  std::vector<std::vector<std::string>> rows{{"PRICE", "ENERGY", "CUMULATIVE", "ORDERS"}};
  if (cleared) rows[0].push_back("MATCHED");
  for (const auto& l : levels) {
    rows.push_back({PriceText(l, "price"), KwhText(l, "energy_wh"), KwhText(l, "cumulative_wh"),
                    JsonText(l, "orders")});
    if (cleared) rows.back().push_back(KwhText(l, "filled_wh"));
  }
  PrintTable(rows, {0, 1, 2, 3, 4});
}

// The status rows every market view shares.
std::vector<std::pair<std::string, std::string>> MarketRows(const json& mj) {
  const std::string status = JsonText(mj, "status");
  std::vector<std::pair<std::string, std::string>> rows{
      {"market", JsonText(mj, "zone") + ", interval " + IntervalText(mj)},
      {"status", status == "empty" ? "empty (no orders or contracts yet)" : status},
      {"gate closure", FormatTimeS(JsonInt(mj, "gate_closure_s"))},
      {"settlement", "due " + FormatTimeS(JsonInt(mj, "settlement_due_s"))},
      {"orders",
       JsonText(mj, "buy_orders") + " buy, " + JsonText(mj, "sell_orders") + " sell (ever placed)"},
      {"contracts", JsonText(mj, "contracts") + " proposed, " + KwhText(mj, "contract_energy_wh") +
                        " accepted"}};
  if (status != "open" && status != "empty") {
    rows.emplace_back("clearing price", JsonInt(mj, "cleared_energy_wh") > 0
                                            ? PriceText(mj, "clearing_price")
                                            : "(nothing crossed)");
    const std::string trades = JsonText(mj, "trades");
    rows.emplace_back("cleared", KwhText(mj, "cleared_energy_wh") + " in " + trades +
                                     (trades == "1" ? " trade" : " trades"));
  }
  if (status == "settled") rows.emplace_back("delivered", KwhText(mj, "delivered_energy_wh"));
  return rows;
}

// `market book` in text.
Status PrintBook(const json& j) {
  PrintRows(MarketRows(j));
  const json depth = j.value("depth", json::object());
  const bool cleared = depth.value("orders", "") == "auction";
  std::cout << (cleared ? "\nOrder book at clearing (cancelled orders left out)\n"
                        : "\nOpen orders by price\n");
  PrintLevels("Bids (buy, highest first)", depth.value("bids", json::array()), cleared);
  PrintLevels("Asks (sell, lowest first)", depth.value("asks", json::array()), cleared);
  return Status::Ok();
}

Status CmdMarketBook(Context& ctx, const QueryArgs& m) {
  V2G_RETURN_IF_ERROR(CheckZoneArg(m.zone));
  V2G_ASSIGN_OR_RETURN(mk, NodeMarket(ctx));
  V2G_ASSIGN_OR_RETURN(start, ResolveInterval(m.interval, mk.params, mk.latest_block_time_ms));
  const std::string path = "/v1/markets/" + m.zone + "/" + std::to_string(start) +
                           "?limit=" + std::to_string(limits::kMarketPageMax);
  return ShowAnswer(ctx, path, PrintBook);
}

Status CmdMarketTrades(Context& ctx, const QueryArgs& m) {
  const bool by_market = !m.zone.empty() || !m.interval.empty();
  if (by_market == !m.account.empty()) {
    return Error(Code::kInvalidArgument,
                 "give --zone and --interval (one market) or --account (one account), not both");
  }
  if (by_market && (m.zone.empty() || m.interval.empty())) {
    return Error(Code::kInvalidArgument, "--zone and --interval go together (one market)");
  }
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  const KeyNames names(ctx);
  const std::string page = "&limit=" + std::to_string(limits::kMarketPageMax);
  std::string me;
  json j;
  if (by_market) {
    V2G_RETURN_IF_ERROR(CheckZoneArg(m.zone));
    V2G_ASSIGN_OR_RETURN(mk, FetchMarket(*client));
    V2G_ASSIGN_OR_RETURN(start, ResolveInterval(m.interval, mk.params, mk.latest_block_time_ms));
    V2G_ASSIGN_OR_RETURN(got, client->GetJson("/v1/trades?zone=" + m.zone +
                                              "&interval=" + std::to_string(start) + page));
    j = std::move(got);
  } else {
    V2G_ASSIGN_OR_RETURN(ref, ResolveAccount(ctx.keystore(), m.account));
    me = ref.address_text;
    V2G_ASSIGN_OR_RETURN(got, client->GetJson("/v1/trades?account=" + me + page));
    j = std::move(got);
  }
  if (ctx.json()) {
    PrintJson(j);
    return Status::Ok();
  }
  const json list = j.value("trades", json::array());
  if (by_market) PrintRows(MarketRows(j.value("market", json::object())));
  if (list.empty()) {
    std::cout << (by_market ? "\nNo trades\n" : "No trades\n");
    return Status::Ok();
  }
  std::vector<std::vector<std::string>> rows;
  if (by_market) {
    std::cout << "\n";
    rows.push_back({"#", "BUYER", "SELLER", "METER", "ENERGY", "PRICE", "VALUE", "DELIVERED",
                    "SELLER PAID", "PENALTY"});
  } else {
    rows.push_back({"INTERVAL", "ZONE", "#", "SIDE", "WITH", "ENERGY", "PRICE", "VALUE",
                    "DELIVERED", "SELLER PAID", "PENALTY"});
  }
  for (const auto& t : list) {
    const bool settled = t.value("settled", false);
    const std::string delivered = settled ? KwhText(t, "delivered_wh") : "-";
    const std::string paid = settled ? MoneyText(t, "seller_paid") : "-";
    const std::string penalty = settled ? MoneyText(t, "penalty") : "-";
    if (by_market) {
      rows.push_back({JsonText(t, "index"), names(JsonText(t, "buyer")),
                      names(JsonText(t, "seller")), JsonText(t, "meter_id"),
                      KwhText(t, "energy_wh"), PriceText(t, "price"), MoneyText(t, "escrow"),
                      delivered, paid, penalty});
    } else {
      const bool buyer = JsonText(t, "buyer") == me, seller = JsonText(t, "seller") == me;
      const std::string side = buyer && seller ? "both" : buyer ? "buy" : "sell";
      rows.push_back({IntervalText(t), JsonText(t, "zone"), JsonText(t, "index"), side,
                      names(JsonText(t, buyer ? "seller" : "buyer")), KwhText(t, "energy_wh"),
                      PriceText(t, "price"), MoneyText(t, "escrow"), delivered, paid, penalty});
    }
  }
  PrintTable(rows, by_market ? std::vector<size_t>{0, 4, 5, 6, 7, 8, 9}
                             : std::vector<size_t>{2, 5, 6, 7, 8, 9, 10});
  return Status::Ok();
}

Status CmdMarketResults(Context& ctx, const QueryArgs& m) {
  if (!m.zone.empty()) V2G_RETURN_IF_ERROR(CheckZoneArg(m.zone));
  V2G_ASSIGN_OR_RETURN(mk, NodeMarket(ctx));
  int64_t from = 0;
  if (!m.from_t.empty()) {
    V2G_ASSIGN_OR_RETURN(f, ParseTimeS(m.from_t, "--from"));
    from = f;
  } else {  // the last day
    const int64_t day_ago = mk.latest_block_time_ms / 1000 - 86400;
    from = std::max<int64_t>(0, day_ago - day_ago % mk.params.interval_s);
  }
  std::string q = "/v1/markets?limit=" + std::to_string(limits::kMarketPageMax) +
                  "&from=" + std::to_string(from);
  if (!m.to_t.empty()) {
    V2G_ASSIGN_OR_RETURN(t, ParseTimeS(m.to_t, "--to"));
    if (t <= from) return Error(Code::kInvalidArgument, "--to must be later than --from");
    q += "&to=" + std::to_string(t);
  }
  if (!m.zone.empty()) q += "&zone=" + m.zone;
  return ShowAnswer(ctx, q, [&](const json& j) {
    const json list = j.value("markets", json::array());
    std::cout << "Markets" << (m.zone.empty() ? "" : " in zone " + m.zone) << " from "
              << FormatTimeS(from) << (m.to_t.empty() ? "" : " to " + m.to_t) << " ("
              << mk.params.interval_s / 60 << " min intervals, prices in " << mk.params.denom
              << "/kWh)\n";
    if (list.empty()) {
      std::cout << "(none)\n";
      return Status::Ok();
    }
    std::vector<std::vector<std::string>> rows{{"INTERVAL", "ZONE", "STATUS", "PRICE", "CLEARED",
                                                "TRADES", "CONTRACTS", "DELIVERED", "ORDERS B/S"}};
    for (const auto& x : list) {
      const std::string status = JsonText(x, "status");
      const bool cleared = status != "open";
      const bool crossed = JsonInt(x, "cleared_energy_wh") > 0;
      rows.push_back({IntervalText(x), JsonText(x, "zone"), status,
                      cleared && crossed ? x["clearing_price"].value("display", "?") : "-",
                      cleared ? KwhText(x, "cleared_energy_wh") : "-",
                      cleared ? JsonText(x, "trades") : "-", KwhText(x, "contract_energy_wh"),
                      status == "settled" ? KwhText(x, "delivered_energy_wh") : "-",
                      JsonText(x, "buy_orders") + "/" + JsonText(x, "sell_orders")});
    }
    PrintTable(rows, {3, 4, 5, 6, 7, 8});
    if (!j.value("next_from", json()).is_null()) {
      std::cout << "more: v2g market results --from " << JsonText(j, "next_from")
                << (m.zone.empty() ? "" : " --zone " + m.zone) << "\n";
    }
    return Status::Ok();
  });
}

}  // namespace

// `market orders` and `contract list`: GET /v1/accounts/{address}/orders?kind=...
Status CmdAccountOrders(Context& ctx, const std::string& who, bool contracts) {
  V2G_ASSIGN_OR_RETURN(refs, AccountsOrAllKeys(ctx, who, "give an address or a key name"));
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  const KeyNames names(ctx);
  json all = json::array();
  for (size_t i = 0; i < refs.size(); ++i) {
    V2G_ASSIGN_OR_RETURN(j, client->GetJson("/v1/accounts/" + refs[i].address_text +
                                            "/orders?kind=" + (contracts ? "contract" : "order") +
                                            "&limit=" + std::to_string(limits::kMarketPageMax)));
    if (ctx.json()) {
      all.push_back(j);
      continue;
    }
    if (i > 0) std::cout << "\n";
    std::cout << AccountLabel(refs[i].address_text, refs[i].key_name) << "\n";
    const json list = j.value("orders", json::array());
    if (list.empty()) {
      std::cout << (contracts ? "  (no contracts)\n" : "  (no orders)\n");
      continue;
    }
    if (contracts) {
      PrintContractsTable(list, refs[i].address_text, names);
    } else {
      PrintOrdersTable(list);
    }
    if (!j.value("next_before", json()).is_null()) {
      std::cout << "(the newest " << list.size() << " only)\n";
    }
  }
  if (ctx.json()) PrintJson(who.empty() ? json{{"accounts", all}} : all[0]);
  return Status::Ok();
}

void AddMarketQueryCommands(CLI::App* market, CommandLine& cl) {
  QueryArgs& q = cl.Keep<QueryArgs>();
  auto* morders =
      cl.Command(market, "orders", "An account's orders, newest first (default: every key)",
                 [&](Context& c) { return CmdAccountOrders(c, q.account, false); });
  morders->add_option("ACCOUNT", q.account, "Address (v2g1...) or key name");
  auto* mbook =
      cl.Command(market, "book", "One market: status, clearing result and orders per price level",
                 [&](Context& c) { return CmdMarketBook(c, q); });
  mbook->add_option("--zone", q.zone, "Zone")->required();
  mbook->add_option("--interval", q.interval, kIntervalHelp)->required();
  auto* mtrades =
      cl.Command(market, "trades",
                 "Trades of one market (--zone and --interval) or of one account (--account)",
                 [&](Context& c) { return CmdMarketTrades(c, q); });
  mtrades->add_option("--zone", q.zone, "Zone");
  mtrades->add_option("--interval", q.interval, kIntervalHelp);
  mtrades->add_option("--account", q.account, "Address (v2g1...) or key name");
  auto* mresults = cl.Command(market, "results",
                              "Markets with clearing price, volume, delivered energy and status",
                              [&](Context& c) { return CmdMarketResults(c, q); });
  mresults->add_option("--zone", q.zone, "Only this zone");
  mresults->add_option("--from", q.from_t,
                       "First interval start (Unix seconds or RFC 3339; default a day ago)");
  mresults->add_option("--to", q.to_t, "End (exclusive)");
}

}  // namespace v2g::cli
