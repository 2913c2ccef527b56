// v2g earnings: an owner's statement for a period (market, events, programs, tariff, debt) with
// the battery wear of the vehicles that have a battery profile in this wallet, and the net.

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "cli/v2g/families.h"
#include "cli/v2g/output.h"
#include "wallet/battery_wear.h"
#include "wallet/grid.h"

namespace v2g::cli {
namespace {

struct EarningsArgs {
  std::string account;  // address or key name
  std::string from_t, to_t;
};

// Statement periods the node serves (node/api/statement.cc: at most 31 days).
constexpr int64_t kEarningsPeriodDefaultS = 30 * 86400;

// The ACCOUNT given, else the wallet's only key.
Result<AccountRef> AccountOrOnlyKey(Context& ctx, const std::string& account) {
  if (!account.empty()) return ResolveAccount(ctx.keystore(), account);
  V2G_ASSIGN_OR_RETURN(keys, ctx.keystore().List());
  if (keys.size() != 1) {
    return Error(Code::kInvalidArgument,
                 "name the ACCOUNT (an address or key name): the wallet holds " +
                     std::to_string(keys.size()) + " keys");
  }
  return ResolveAccount(ctx.keystore(), keys[0].name);
}

// The battery wear of a statement's vehicles, by the profiles in this wallet.
struct Wear {
  std::vector<WearLine> lines;
  std::vector<std::string> no_profile;  // vehicles without a profile (no wear counted)
  int64_t total = 0;
};

Result<Wear> WearOf(Context& ctx, const json& statement) {
  Wear w;
  for (const auto& v : statement.value("vehicles", json::array())) {
    const std::string id = JsonText(v, "meter_id");
    auto prof = LoadProfile(ctx.globals().home, id);
    if (!prof.ok()) {
      if (prof.status().code() != Code::kNotFound) return prof.status();
      w.no_profile.push_back(id);
      continue;
    }
    const int64_t export_wh = JsonInt(v, "export_wh");
    w.lines.push_back({id, export_wh, WearCostPerKwh(*prof), WearCostOf(*prof, export_wh)});
  }
  for (const auto& line : w.lines) w.total += line.wear_cost;
  return w;
}

// The node's statement `out` with the wear and the nets added, as JSON.
void PrintEarningsJson(json out, const Statement& st, const Wear& w, const MarketParams& p) {
  json lines = json::array();
  for (const auto& line : w.lines) {
    lines.push_back({{"meter_id", line.meter_id},
                     {"export_wh", line.export_wh},
                     {"wear_cost_per_kwh", MoneyJson(line.wear_per_kwh, p)},
                     {"wear_cost", MoneyJson(line.wear_cost, p)}});
  }
  out["battery_wear"] = {
      {"vehicles", lines}, {"no_profile", w.no_profile}, {"total", MoneyJson(w.total, p)}};
  out["cash_net"] = MoneyJson(st.CashNet(), p);
  out["net_after_wear"] = MoneyJson(st.CashNet() - w.total, p);
  out["debt_outstanding"] = MoneyJson(st.debt_outstanding, p);
  PrintJson(out);
}

void PrintEarningsText(const AccountRef& who, int64_t from, int64_t to, const json& j,
                       const Statement& st, const Wear& w, const MarketParams& p) {
  std::string period = "From " + FormatTimeS(from) + " to " + FormatTimeS(to);
  if (JsonInt(j, "settled_before_s") > 0 && JsonInt(j, "settled_before_s") < to) {
    period += " (grid services settled up to " + FormatTimeS(JsonInt(j, "settled_before_s")) + ")";
  }
  // Reward points in their denomination's display units (the node renders them when the chain
  // has one points denomination; with several it sums their units, and says which).
  const json points = j.value("points", json());
  std::string points_text = std::to_string(st.points) + " points";
  auto text = [&](const char* key) {
    return points.is_object() && points.contains(key) && points[key].is_string() ? points[key].get<std::string>()
                                                                                 : std::string();
  };
  if (!text("display").empty() && !text("denom").empty()) {
    points_text = text("display") + " " + text("denom");
  } else if (j.contains("points_denoms") && j["points_denoms"].is_array()) {
    std::string denoms;
    for (const auto& d : j["points_denoms"]) {
      if (d.is_string()) denoms += (denoms.empty() ? "" : ", ") + d.get<std::string>();
    }
    if (!denoms.empty()) points_text += " (" + denoms + " together)";
  }
  std::cout << FormatEarnings(AccountLabel(who.address_text, who.key_name), period, st, w.lines,
                              w.no_profile, p, points_text);
  if (j.value("vehicles_truncated", false)) {
    std::cout << "Only the first vehicles are counted for wear (the node lists at most 32 per "
                 "statement)\n";
  }
}

Status CmdEarnings(Context& ctx, const EarningsArgs& g) {
  V2G_ASSIGN_OR_RETURN(who, AccountOrOnlyKey(ctx, g.account));
  V2G_ASSIGN_OR_RETURN(mk, NodeMarket(ctx));
  int64_t to = mk.latest_block_time_ms / 1000;
  if (!g.to_t.empty()) {
    V2G_ASSIGN_OR_RETURN(t, ParseTimeS(g.to_t, "--to"));
    to = t;
  }
  int64_t from = std::max<int64_t>(1, to - kEarningsPeriodDefaultS);
  if (!g.from_t.empty()) {
    V2G_ASSIGN_OR_RETURN(f, ParseTimeS(g.from_t, "--from"));
    from = f;
  }
  if (to <= from) return Error(Code::kInvalidArgument, "--to must be later than --from");
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(j, client->GetJson("/v1/accounts/" + who.address_text + "/statement?from=" +
                                          std::to_string(from) + "&to=" + std::to_string(to)));
  V2G_ASSIGN_OR_RETURN(st, StatementFromJson(j));
  V2G_ASSIGN_OR_RETURN(wear, WearOf(ctx, j));
  if (ctx.json()) {
    PrintEarningsJson(j, st, wear, mk.params);
  } else {
    PrintEarningsText(who, from, to, j, st, wear, mk.params);
  }
  return Status::Ok();
}

}  // namespace

void AddEarningsCommands(CLI::App& app, CommandLine& cl) {
  EarningsArgs& e = cl.Keep<EarningsArgs>();
  auto* earn = cl.Command(
      &app, "earnings",
      "An owner's statement: market, events, programs, tariff, debt, battery wear and the net",
      [&](Context& c) { return CmdEarnings(c, e); });
  earn->add_option("ACCOUNT", e.account, "Address (v2g1...) or key name (default: the only key)");
  earn->add_option("--from", e.from_t,
                   "Period start (Unix seconds or RFC 3339; default 30 days ago)");
  earn->add_option("--to", e.to_t, "Period end, exclusive (default: now)");
}

}  // namespace v2g::cli
