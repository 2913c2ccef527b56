// v2g battery METER: a vehicle's state of health trend, throughput and cycles (from the node).
// v2g battery profile set|show: the owner's estimate of its battery's wear cost, kept in the
// wallet home and never on chain (wallet/battery_wear.h).

#include <iostream>
#include <string>

#include "cli/v2g/families.h"
#include "cli/v2g/output.h"
#include "common/amount.h"
#include "wallet/battery_wear.h"
#include "wallet/grid.h"

namespace v2g::cli {
namespace {

struct BatteryArgs {
  std::string meter;
  std::string replacement_cost;  // human units of the market denomination
  std::string capacity_kwh;
  int64_t capacity_wh = 0;
  int64_t cycle_life = 0;
  std::string dod;  // percent, one decimal
};

// `battery METER` in text.
Status PrintBattery(const json& j) {
  auto permille = [&](const json& x, const char* k) {
    if (x.contains(k) && x[k].is_null()) return std::string("unknown (no reading yet)");
    return x.contains(k) && x[k].is_number_integer() ? FormatAmount(x[k].get<int64_t>(), 1) + " %"
                                                     : std::string("?");
  };
  auto cycles = [&](const json& x) {
    return x.contains("cycles_milli") && x["cycles_milli"].is_number_integer()
               ? FormatAmount(x["cycles_milli"].get<int64_t>(), 3)
               : "?";
  };
  PrintRows({{"vehicle", JsonText(j, "meter_id")},
             {"capacity", Wh(j, "capacity_wh")},
             {"state of health", permille(j, "soh_permille")},
             {"state of charge", permille(j, "soc_permille")},
             {"charged (import)", Wh(j, "import_wh")},
             {"V2G discharged", Wh(j, "export_wh")},
             {"equivalent cycles", cycles(j)}});
  const json history = j.value("history", json::array());
  if (history.empty()) return Status::Ok();
  std::cout << "\nState of health by day (first reading of each UTC day)\n";
  std::vector<std::vector<std::string>> rows{{"DATE", "SOH", "CYCLES", "V2G DISCHARGED"}};
  for (const auto& x : history) {
    rows.push_back(
        {JsonText(x, "date"), permille(x, "soh_permille"), cycles(x), Wh(x, "export_wh")});
  }
  PrintTable(rows, {1, 2, 3});
  return Status::Ok();
}

Status CmdBattery(Context& ctx, const std::string& meter) {
  if (meter.empty())
    return Error(Code::kInvalidArgument,
                 "give a vehicle METER (or: v2g battery profile set|show METER)");
  V2G_RETURN_IF_ERROR(CheckMeterIdArg(meter));
  return ShowAnswer(ctx, "/v1/meters/" + meter + "/battery", PrintBattery);
}

json ProfileJson(const BatteryProfile& b, const MarketParams& p) {
  return {{"meter_id", b.meter_id},         {"replacement_cost", MoneyJson(b.replacement_cost, p)},
          {"capacity_wh", b.capacity_wh},   {"cycle_life", b.cycle_life},
          {"dod_permille", b.dod_permille}, {"wear_cost_per_kwh", MoneyJson(WearCostPerKwh(b), p)}};
}

void PrintProfile(const BatteryProfile& b, const MarketParams& p) {
  PrintRows({{"vehicle", b.meter_id},
             {"replacement cost", FormatMoney(b.replacement_cost, p)},
             {"usable capacity", FormatKwh(b.capacity_wh)},
             {"cycle life", std::to_string(b.cycle_life) + " cycles at " +
                                FormatAmount(b.dod_permille, 1) + " % depth of discharge"},
             {"wear cost", FormatPrice(WearCostPerKwh(b), p) + " discharged"}});
  std::cout << "(replacement cost / (cycle life x capacity x depth of discharge), Kempton and "
               "Tomic 2005; "
               "'v2g market sell' refuses a lower price unless --force)\n";
}

Status CmdBatteryProfileSet(Context& ctx, const BatteryArgs& b) {
  V2G_RETURN_IF_ERROR(CheckMeterIdArg(b.meter));
  if (!b.capacity_kwh.empty() && b.capacity_wh != 0)
    return Error(Code::kInvalidArgument,
                 "give the usable capacity as --capacity-kwh X or --capacity-wh N, not both");
  V2G_ASSIGN_OR_RETURN(mk, NodeMarket(ctx));
  BatteryProfile prof;
  prof.meter_id = b.meter;
  V2G_ASSIGN_OR_RETURN(cost, ParseBudget(b.replacement_cost, mk.params.decimals, mk.params.denom,
                                         "--replacement-cost"));
  if (cost < 1 || cost > kReplacementCostMax) {
    return Error(Code::kInvalidArgument, "--replacement-cost must be from " + FormatMoney(1, mk.params) + " to " +
                                             FormatMoney(kReplacementCostMax, mk.params));
  }
  prof.replacement_cost = cost;
  prof.capacity_wh = b.capacity_wh;
  bool from_ledger = false;
  if (!b.capacity_kwh.empty()) {
    V2G_ASSIGN_OR_RETURN(wh, ParseKwh(b.capacity_kwh, "--capacity-kwh"));
    prof.capacity_wh = wh;
  } else if (b.capacity_wh == 0) {
    // The capacity the vehicle was registered with, when it has one.
    V2G_ASSIGN_OR_RETURN(client, ctx.client());
    V2G_ASSIGN_OR_RETURN(meter, client->GetJson("/v1/meters/" + b.meter));
    prof.capacity_wh = JsonInt(meter, "battery_capacity_wh");
    if (prof.capacity_wh <= 0) {
      return Error(Code::kInvalidArgument, "meter '" + b.meter +
                                               "' has no battery capacity on the ledger: give the usable capacity as "
                                               "--capacity-kwh X (or --capacity-wh N)");
    }
    from_ledger = true;
  }
  prof.cycle_life = b.cycle_life;
  auto dod = ParseAmount(b.dod, 1);
  if (!dod.ok() || *dod < 1 || *dod > 1000)
    return Error(
        Code::kInvalidArgument,
        "--dod must be the depth of discharge in percent, 0.1..100 (e.g. 80), got '" + b.dod + "'");
  prof.dod_permille = *dod;
  V2G_RETURN_IF_ERROR(SaveProfile(ctx.globals().home, prof));
  if (ctx.json()) {
    PrintJson(ProfileJson(prof, mk.params));
    return Status::Ok();
  }
  std::cout << "Saved the battery profile of '" << prof.meter_id << "' in " << ctx.globals().home
            << "/battery\n";
  if (from_ledger) std::cout << "(usable capacity as registered on the ledger; --capacity-kwh to set another)\n";
  PrintProfile(prof, mk.params);
  return Status::Ok();
}

Status CmdBatteryProfileShow(Context& ctx, const BatteryArgs& b) {
  V2G_RETURN_IF_ERROR(CheckMeterIdArg(b.meter));
  V2G_ASSIGN_OR_RETURN(prof, LoadProfile(ctx.globals().home, b.meter));
  V2G_ASSIGN_OR_RETURN(mk, NodeMarket(ctx));
  if (ctx.json()) {
    PrintJson(ProfileJson(prof, mk.params));
    return Status::Ok();
  }
  PrintProfile(prof, mk.params);
  return Status::Ok();
}

}  // namespace

void AddBatteryCommands(CLI::App& app, CommandLine& cl) {
  BatteryArgs& b = cl.Keep<BatteryArgs>();
  std::string& vehicle = cl.Keep<std::string>();
  // `v2g battery METER` or `v2g battery profile ...`: the parent's action only when no
  // subcommand ran (CLI11 runs the parent's callback after the subcommand's).
  CLI::App* batt = app.add_subcommand("battery",
                                      "A vehicle's state of health trend, throughput and cycles; "
                                      "'battery profile' for its wear cost");
  cl.AddGlobalOptions(batt);
  batt->callback([&cl, &vehicle, batt] {
    if (batt->get_subcommands().empty())
      cl.action() = [&vehicle](Context& c) { return CmdBattery(c, vehicle); };
  });
  batt->add_option("METER", vehicle, "Vehicle meter id");
  CLI::App* bprof = cl.Group(batt, "profile",
                             "Your estimate of a vehicle battery's wear cost (kept in the wallet)");
  auto* bset = cl.Command(bprof, "set", "Save a vehicle's battery profile",
                          [&](Context& c) { return CmdBatteryProfileSet(c, b); });
  bset->add_option("METER", b.meter, "Vehicle meter id")->required();
  bset->add_option("--replacement-cost", b.replacement_cost,
                   "What replacing the pack costs, in the market denomination (e.g. 60000)")
      ->required();
  bset->add_option("--capacity-kwh", b.capacity_kwh, "Usable capacity (kWh; default: as registered on the ledger)");
  bset->add_option("--capacity-wh", b.capacity_wh, "Usable capacity (Wh)");
  bset->add_option("--cycle-life", b.cycle_life, "Full cycles to end of life at --dod")->required();
  bset->add_option("--dod", b.dod,
                   "Depth of discharge the cycle life is rated at, percent (e.g. 80)")
      ->required();
  auto* bshow = cl.Command(bprof, "show", "Show a vehicle's battery profile and wear cost per kWh",
                           [&](Context& c) { return CmdBatteryProfileShow(c, b); });
  bshow->add_option("METER", b.meter, "Vehicle meter id")->required();
}

}  // namespace v2g::cli
