// v2g program create|join|show: incentive programs an operator sponsors from an escrowed budget
// (charging discounts on tariff charges, discharge subsidies, reward points).

#include <iostream>
#include <string>
#include <vector>

#include "cli/v2g/families.h"
#include "cli/v2g/market.h"
#include "cli/v2g/submit.h"
#include "common/amount.h"
#include "contracts/grid.h"
#include "wallet/grid.h"

namespace v2g::cli {
namespace {

struct ProgramArgs {
  std::string kind;
  std::string denom;
  std::string rate, rebate_percent, hours;
  std::string zone;
  std::string budget;
  std::string end;
  uint64_t id = 0;  // the program
  std::string meter;
};

Status CmdProgramCreate(Context& ctx, const ProgramArgs& g, const TxArgs& a) {
  const auto kind = ParseProgramKind(g.kind);
  if (!kind)
    return Error(Code::kInvalidArgument,
                 "--kind must be charging_discount, discharge_subsidy or reward_points");
  const bool discount = *kind == pb::PROGRAM_CHARGING_DISCOUNT;
  if (discount && (g.rebate_percent.empty() || !g.rate.empty()))
    return Error(Code::kInvalidArgument,
                 "a charging_discount rebates a share of tariff charges: give --rebate-percent X "
                 "(not --rate)");
  if (!discount && (g.rate.empty() || !g.rebate_percent.empty()))
    return Error(Code::kInvalidArgument,
                 "--kind " + g.kind + " pays per kWh: give --rate R in " +
                     (g.denom.empty() ? std::string("the program denomination") : g.denom) +
                     " per kWh (not --rebate-percent)");
  if (!discount && !g.hours.empty())
    return Error(Code::kInvalidArgument, "--hours applies to charging_discount programs only");
  if (!g.zone.empty()) V2G_RETURN_IF_ERROR(CheckZoneArg(g.zone));
  V2G_ASSIGN_OR_RETURN(mk, NodeMarket(ctx));
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(denoms, client->GetDenoms());
  V2G_ASSIGN_OR_RETURN(denom,
                       FindDenom(denoms, Upper(g.denom.empty() ? mk.params.denom : g.denom)));
  MarketParams dp = mk.params;  // amounts in the program's denomination
  dp.denom = denom.name;
  dp.decimals = denom.decimals;
  int64_t rate = 0;
  if (discount) {
    V2G_ASSIGN_OR_RETURN(bps, ParsePercentBps(g.rebate_percent, "--rebate-percent"));
    if (bps == 0)
      return Error(Code::kInvalidArgument, "--rebate-percent must be greater than zero");
    rate = bps;
  } else {
    V2G_ASSIGN_OR_RETURN(r, ParsePricePerKwh(g.rate, dp, "--rate"));
    rate = r;
  }
  uint32_t mask = 0;
  if (!g.hours.empty()) {
    V2G_ASSIGN_OR_RETURN(m, ParseHours(g.hours));
    mask = m;
  }
  V2G_ASSIGN_OR_RETURN(budget, ParseBudget(g.budget, dp.decimals, dp.denom, "--budget"));
  V2G_ASSIGN_OR_RETURN(end, ResolveInterval(g.end, mk.params, mk.latest_block_time_ms, "--end"));
  TxDescription d;
  d.summary = "Create a " + g.kind + " program" + (g.zone.empty() ? "" : " in zone " + g.zone) +
              " (budget " + FormatMoney(budget, dp) + " escrowed)";
  d.details = {{"rate", discount ? FormatBps(rate) + " of tariff charges" : FormatPrice(rate, dp)},
               {"ends", FormatTimeS(end)}};
  if (discount) d.details.emplace_back("hours", FormatHours(mask) + " (UTC)");
  d.op = {{"type", "create_program"},
          {"kind", g.kind},
          {"denom", dp.denom},
          {"rate", rate},
          {"hours_mask", mask},
          {"zone", g.zone},
          {"budget", MoneyJson(budget, dp)},
          {"end_s", end}};
  return SubmitTx(ctx, a, MakeCreateProgram(0, *kind, dp.denom, rate, mask, g.zone, budget, end), d,
                  CreatedId("program", [](const std::string& id) {
                    return "owners join with: v2g program join --from KEY " + id + " METER";
                  }));
}

Status CmdProgramJoin(Context& ctx, const ProgramArgs& g, const TxArgs& a) {
  V2G_RETURN_IF_ERROR(CheckMeterIdArg(g.meter));
  TxDescription d;
  d.summary = "Join meter '" + g.meter + "' to program " + std::to_string(g.id);
  d.op = {{"type", "join_program"}, {"program_id", g.id}, {"meter_id", g.meter}};
  return SubmitTx(ctx, a, MakeJoinProgram(0, g.id, g.meter), d, nullptr);
}

Status CmdProgramShow(Context& ctx, const ProgramArgs& g) {
  return ShowAnswer(ctx, "/v1/programs/" + std::to_string(g.id), [&](const json& j) -> Status {
    V2G_ASSIGN_OR_RETURN(client, ctx.client());
    const KeyNames names(ctx);
    const std::string kind = JsonText(j, "kind");
    std::string rate = JsonText(j, "rate");
    if (kind == "charging_discount") {
      rate = FormatBps(JsonInt(j, "rate")) + " of tariff charges, hours " +
             FormatHours(static_cast<uint32_t>(JsonInt(j, "hours_mask"))) + " (UTC)";
    } else if (auto denoms = client->GetDenoms(); denoms.ok()) {
      if (auto d = FindDenom(*denoms, JsonText(j, "denom")); d.ok())
        rate = FormatAmount(JsonInt(j, "rate"), d->decimals) + " " + d->name + "/kWh";
    }
    PrintRows({{"program", JsonText(j, "id") + " (" + kind + ")"},
               {"sponsor", names(JsonText(j, "sponsor"))},
               {"zone", JsonText(j, "zone").empty() ? "every zone" : JsonText(j, "zone")},
               {"rate", rate},
               {"status", JsonText(j, "status") +
                              (JsonText(j, "status") == "open" ? ", ends " : ", ended ") +
                              TimeText(j, "end_s")},
               {"budget", MoneyText(j, "budget")},
               {"paid", MoneyText(j, "paid")},
               {"remaining", MoneyText(j, "remaining")},
               {"members", JsonText(j, "member_count")}});
    if (!HiddenTotalsNote(j).empty()) std::cout << HiddenTotalsNote(j) << "\n";
    const json members = j.value("members", json::array());
    if (members.empty()) return Status::Ok();
    std::cout << "\n";
    std::vector<std::vector<std::string>> rows{{"METER", "OWNER", "PAID"}};
    for (const auto& m : members)
      rows.push_back({JsonText(m, "meter_id"), names(JsonText(m, "owner")), MoneyText(m, "paid")});
    PrintTable(rows, {2});
    return Status::Ok();
  });
}

}  // namespace

void AddProgramCommands(CLI::App& app, CommandLine& cl) {
  ProgramArgs& p = cl.Keep<ProgramArgs>();
  TxArgs& tx = cl.Keep<TxArgs>();
  CLI::App* program = cl.Group(&app, "program", "Incentive programs");
  auto* prcreate = cl.Command(program, "create",
                              "Sponsor an incentive program and escrow its budget (operators only)",
                              [&](Context& c) { return CmdProgramCreate(c, p, tx); });
  prcreate->add_option("--kind", p.kind, "charging_discount, discharge_subsidy or reward_points")
      ->required();
  prcreate->add_option("--denom", p.denom, "What it pays in (default: the market denomination)");
  prcreate->add_option("--rebate-percent", p.rebate_percent,
                       "charging_discount: percent of tariff charges rebated");
  prcreate->add_option("--rate", p.rate,
                       "discharge_subsidy, reward_points: amount of --denom per kWh");
  prcreate->add_option(
      "--hours", p.hours,
      "charging_discount: hours (UTC) whose imports qualify, inclusive ranges (e.g. 0-6,22-23); "
      "default every hour");
  prcreate->add_option("--zone", p.zone, "Only meters in this zone (default: every zone)");
  prcreate->add_option("--budget", p.budget, "Most it pays in total, in --denom (escrowed now)")
      ->required();
  prcreate->add_option("--end", p.end, "Closes at this interval start: " + std::string(kTimeHelp))
      ->required();
  AddTxOptions(prcreate, tx, true);
  auto* prjoin = cl.Command(program, "join", "Join your meter to a program",
                            [&](Context& c) { return CmdProgramJoin(c, p, tx); });
  prjoin->add_option("PROGRAM_ID", p.id, "Program id")->required()->check(IdCheck());
  prjoin->add_option("METER", p.meter, "Your meter")->required();
  AddTxOptions(prjoin, tx, true);
  auto* prshow = cl.Command(program, "show", "A program, its budget and members",
                            [&](Context& c) { return CmdProgramShow(c, p); });
  prshow->add_option("ID", p.id, "Program id")->required()->check(IdCheck());
}

}  // namespace v2g::cli
