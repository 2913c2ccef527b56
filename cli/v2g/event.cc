// v2g event create|enroll|show|list|results: demand-response events. A grid company escrows a
// budget, owners (or aggregators for their pools) enroll committed power, and once the event's
// last interval has settled each enrollment is paid for its measured performance.

#include <iostream>
#include <string>
#include <vector>

#include "cli/v2g/families.h"
#include "cli/v2g/market.h"
#include "cli/v2g/submit.h"
#include "common/limits.h"
#include "contracts/grid.h"
#include "wallet/grid.h"

namespace v2g::cli {
namespace {

struct EventArgs {
  std::string kind;
  std::string zone;
  std::string start, end, deadline;  // times as typed
  std::string target_kw, power_kw, baseline_kwh;
  std::string price, budget;
  std::string baseline;
  std::string meter;
  uint64_t id = 0;     // the event
  uint64_t pool = 0;   // enroll --pool
  std::string status;  // list filter
};

Status CmdEventCreate(Context& ctx, const EventArgs& g, const TxArgs& a) {
  const auto kind = ParseEventKind(g.kind);
  if (!kind)
    return Error(Code::kInvalidArgument,
                 "--kind must be peak_relief, valley_fill or reverse_discharge");
  V2G_RETURN_IF_ERROR(CheckZoneArg(g.zone));
  pb::BaselineMethod baseline = pb::BASELINE_UNSPECIFIED;
  if (*kind == pb::EVENT_REVERSE_DISCHARGE) {
    if (!g.baseline.empty())
      return Error(Code::kInvalidArgument,
                   "--baseline: reverse discharge is measured by export and takes no baseline");
  } else {
    const auto b = ParseBaseline(g.baseline.empty() ? "declared" : g.baseline);
    if (!b) return Error(Code::kInvalidArgument, "--baseline must be declared or prior_days");
    baseline = *b;
  }
  V2G_ASSIGN_OR_RETURN(mk, NodeMarket(ctx));
  const MarketParams& p = mk.params;
  V2G_ASSIGN_OR_RETURN(start, ResolveInterval(g.start, p, mk.latest_block_time_ms, "--start"));
  V2G_ASSIGN_OR_RETURN(end, ResolveInterval(g.end, p, mk.latest_block_time_ms, "--end"));
  if (end <= start) return Error(Code::kInvalidArgument, "--end must be later than --start");
  if (end - start > limits::kEventDurationSMax)
    return Error(Code::kInvalidArgument, "--end: an event lasts at most " +
                                             std::to_string(limits::kEventDurationSMax / 86400) +
                                             " days");
  int64_t deadline = start;
  if (!g.deadline.empty()) {
    V2G_ASSIGN_OR_RETURN(t, ResolveTime(g.deadline, p, mk.latest_block_time_ms, "--deadline"));
    deadline = t;
  }
  if (deadline > start)
    return Error(Code::kInvalidArgument, "--deadline must not be after --start");
  V2G_ASSIGN_OR_RETURN(target_w, ParseKw(g.target_kw, "--target-kw"));
  V2G_ASSIGN_OR_RETURN(price, ParsePricePerKwh(g.price, p));
  V2G_ASSIGN_OR_RETURN(budget, ParseBudget(g.budget, p.decimals, p.denom, "--budget"));
  TxDescription d;
  d.summary = "Create a " + g.kind + " event in zone " + g.zone + " (budget " +
              FormatMoney(budget, p) + " escrowed)";
  d.details = {
      {"window", FormatTimeS(start) + " to " + FormatTimeS(end)},
      {"enrollment", "until " + FormatTimeS(deadline)},
      {"target", FormatKw(target_w)},
      {"pays", FormatPrice(price, p) + " of performance"},
      {"baseline", baseline == pb::BASELINE_UNSPECIFIED ? "none (export)"
                                                        : std::string(BaselineName(baseline))}};
  d.op = {{"type", "create_event"},
          {"kind", g.kind},
          {"zone", g.zone},
          {"start_s", start},
          {"end_s", end},
          {"target_power_w", target_w},
          {"price", MoneyJson(price, p)},
          {"budget", MoneyJson(budget, p)},
          {"enrollment_deadline_s", deadline},
          {"baseline",
           baseline == pb::BASELINE_UNSPECIFIED ? "" : std::string(BaselineName(baseline))}};
  return SubmitTx(
      ctx, a,
      MakeCreateEvent(0, *kind, g.zone, start, end, target_w, price, budget, deadline, baseline), d,
      CreatedId("event", [](const std::string& id) {
        return "owners enroll with: v2g event enroll --from KEY " + id +
               " --meter METER --power-kw X";
      }));
}

Status CmdEventEnroll(Context& ctx, const EventArgs& g, const TxArgs& a) {
  if (g.meter.empty() == (g.pool == 0))
    return Error(Code::kInvalidArgument,
                 "enroll one meter (--meter METER) or, as its aggregator, a pool (--pool ID)");
  if (!g.meter.empty()) V2G_RETURN_IF_ERROR(CheckMeterIdArg(g.meter));
  if (g.pool != 0 && !g.baseline_kwh.empty())
    return Error(Code::kInvalidArgument,
                 "--baseline-kwh: a pool's baseline comes from its members' history");
  V2G_ASSIGN_OR_RETURN(power_w, ParseKw(g.power_kw, "--power-kw"));
  int64_t baseline_wh = 0;
  if (!g.baseline_kwh.empty()) {
    V2G_ASSIGN_OR_RETURN(wh, ParseKwh(g.baseline_kwh, "--baseline-kwh"));
    baseline_wh = wh;
  }
  const std::string who =
      g.pool != 0 ? "pool " + std::to_string(g.pool) : "meter '" + g.meter + "'";
  TxDescription d;
  d.summary = "Enroll " + who + " in event " + std::to_string(g.id) + " with " + FormatKw(power_w);
  if (!g.baseline_kwh.empty())
    d.details = {{"baseline", FormatKwh(baseline_wh) + " per interval (declared)"}};
  d.op = {{"type", "enroll_event"},       {"event_id", g.id},
          {"meter_id", g.meter},          {"pool_id", g.pool},
          {"committed_power_w", power_w}, {"declared_baseline_wh", baseline_wh}};
  return SubmitTx(ctx, a, MakeEnrollEvent(0, g.id, g.meter, power_w, baseline_wh, g.pool), d,
                  nullptr);
}

std::string EventWho(const json& e, const KeyNames& names) {
  return e.value("pool_id", json()).is_number()
             ? "pool " + JsonText(e, "pool_id")
             : JsonText(e, "meter_id") + " (" + names(JsonText(e, "owner")) + ")";
}

// Per enrollment (and per member of a pool): committed power, performance and payout.
void PrintEnrollments(const json& ev, const KeyNames& names) {
  const bool settled = JsonText(ev, "status") == "settled";
  const json list = ev.value("enrollments", json::array());
  if (list.empty()) {
    std::cout << "No enrollments\n";
    return;
  }
  std::vector<std::vector<std::string>> rows{
      {"ENROLLED", "COMMITTED", "BASELINE", "PERFORMANCE", "PAYOUT"}};
  for (const auto& e : list) {
    const int64_t baseline = JsonInt(e, "declared_baseline_wh");
    rows.push_back({EventWho(e, names), FormatKw(JsonInt(e, "committed_power_w")),
                    baseline > 0 ? FormatKwh(baseline) : "-",
                    settled ? KwhText(e, "performance_wh") : "-",
                    settled ? MoneyText(e, "payout") : "-"});
    if (!e.contains("members")) continue;
    rows.push_back({"  aggregator fee", "", "", "", settled ? MoneyText(e, "fee") : "-"});
    for (const auto& m : e.value("members", json::array())) {
      rows.push_back({"  " + JsonText(m, "meter_id") + " (" + names(JsonText(m, "owner")) + ")", "",
                      "", settled ? KwhText(m, "performance_wh") : "-",
                      settled ? MoneyText(m, "payout") : "-"});
    }
  }
  PrintTable(rows, {1, 2, 3, 4});
  if (!settled)
    std::cout << "(performance and payouts appear once the event's last interval has settled)\n";
}

Status CmdEventShow(Context& ctx, const EventArgs& g, bool results_only) {
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(j, client->GetJson("/v1/events/" + std::to_string(g.id)));
  if (ctx.json()) {
    PrintJson(results_only ? json{{"id", j.value("id", json())},
                                  {"status", j.value("status", json())},
                                  {"performance_wh", j.value("performance_wh", json())},
                                  {"owed", j.value("owed", json())},
                                  {"paid", j.value("paid", json())},
                                  {"returned", j.value("returned", json())},
                                  {"enrollments", j.value("enrollments", json::array())}}
                           : j);
    return Status::Ok();
  }
  const KeyNames names(ctx);
  const bool settled = JsonText(j, "status") == "settled";
  std::vector<std::pair<std::string, std::string>> rows{
      {"event",
       JsonText(j, "id") + " (" + JsonText(j, "kind") + ", zone " + JsonText(j, "zone") + ")"},
      {"status", JsonText(j, "status")}};
  if (!results_only) {
    rows.insert(
        rows.end(),
        {{"window", TimeText(j, "start_s") + " to " + TimeText(j, "end_s")},
         {"enrollment", "until " + TimeText(j, "enrollment_deadline_s")},
         {"baseline", JsonText(j, "baseline").empty() ? "none (export)" : JsonText(j, "baseline")},
         {"target", FormatKw(JsonInt(j, "target_power_w"))},
         {"pays", PriceText(j, "price") + " of performance"},
         {"budget", MoneyText(j, "budget")},
         {"grid company", names(JsonText(j, "grid_company"))},
         {"enrollments", JsonText(j, "enrollment_count")}});
  }
  if (settled) {
    rows.insert(
        rows.end(),
        {{"performance", KwhText(j, "performance_wh")},
         {"owed", MoneyText(j, "owed") == kHiddenText
                      ? std::string(kHiddenText)
                      : MoneyText(j, "owed") + " (performance x price, before the budget cap)"},
         {"paid", MoneyText(j, "paid")},
         {"returned", MoneyText(j, "returned") == kHiddenText
                          ? std::string(kHiddenText)
                          : MoneyText(j, "returned") + " to the grid company"}});
  }
  PrintRows(rows);
  if (settled && !HiddenTotalsNote(j).empty()) std::cout << HiddenTotalsNote(j) << "\n";
  std::cout << "\n";
  PrintEnrollments(j, names);
  return Status::Ok();
}

Status CmdEventList(Context& ctx, const EventArgs& g) {
  std::string q = "/v1/events?limit=" + std::to_string(limits::kMarketPageMax);
  if (!g.zone.empty()) {
    V2G_RETURN_IF_ERROR(CheckZoneArg(g.zone));
    q += "&zone=" + g.zone;
  }
  if (!g.status.empty()) q += "&status=" + g.status;
  return ShowAnswer(ctx, q, [&](const json& j) -> Status {
    const json list = j.value("events", json::array());
    if (list.empty()) {
      std::cout << "No events\n";
      return Status::Ok();
    }
    std::vector<std::vector<std::string>> rows{{"ID", "KIND", "ZONE", "START", "END", "STATUS",
                                                "TARGET", "PRICE", "BUDGET", "ENROLLED", "PAID"}};
    for (const auto& e : list) {
      rows.push_back({JsonText(e, "id"), JsonText(e, "kind"), JsonText(e, "zone"),
                      TimeText(e, "start_s"), TimeText(e, "end_s"), JsonText(e, "status"),
                      FormatKw(JsonInt(e, "target_power_w")), PriceText(e, "price"),
                      MoneyText(e, "budget"), JsonText(e, "enrollment_count"),
                      JsonText(e, "status") == "settled" ? MoneyText(e, "paid") : "-"});
    }
    PrintTable(rows, {0, 6, 7, 8, 9, 10});
    if (!j.value("next_before", json()).is_null()) std::cout << "(more: older events not shown)\n";
    return Status::Ok();
  });
}

}  // namespace

void AddEventCommands(CLI::App& app, CommandLine& cl) {
  EventArgs& e = cl.Keep<EventArgs>();
  TxArgs& tx = cl.Keep<TxArgs>();
  CLI::App* event = cl.Group(&app, "event", "Demand-response events");
  auto* ecreate =
      cl.Command(event, "create", "Create an event and escrow its budget (grid company only)",
                 [&](Context& c) { return CmdEventCreate(c, e, tx); });
  ecreate->add_option("--kind", e.kind, "peak_relief, valley_fill or reverse_discharge")
      ->required();
  ecreate->add_option("--zone", e.zone, "Zone")->required();
  ecreate->add_option("--start", e.start, "First interval: " + std::string(kTimeHelp))->required();
  ecreate
      ->add_option("--end", e.end, "End (an interval start, exclusive): " + std::string(kTimeHelp))
      ->required();
  ecreate->add_option("--target-kw", e.target_kw, "Power the grid wants (kW)")->required();
  ecreate
      ->add_option("--price", e.price, "Payout per kWh of performance, in the market denomination")
      ->required();
  ecreate->add_option("--budget", e.budget, "Most the event pays in total (escrowed now)")
      ->required();
  ecreate->add_option("--deadline", e.deadline,
                      "Enrollment closes (default: at --start): " + std::string(kTimeHelp));
  ecreate->add_option(
      "--baseline", e.baseline,
      "declared (owners declare it) or prior_days (their average of the previous days); default "
      "declared; none for reverse_discharge");
  AddTxOptions(ecreate, tx, true);
  auto* eenroll =
      cl.Command(event, "enroll", "Enroll your meter, or your pool as its aggregator, in an event",
                 [&](Context& c) { return CmdEventEnroll(c, e, tx); });
  eenroll->add_option("EVENT_ID", e.id, "Event id")->required()->check(IdCheck());
  eenroll->add_option("--meter", e.meter, "Your meter (in the event's zone)");
  eenroll->add_option("--pool", e.pool, "Your pool (you are its aggregator)")->check(IdCheck());
  eenroll->add_option("--power-kw", e.power_kw, "Power you commit (kW); caps the performance paid")
      ->required();
  eenroll->add_option("--baseline-kwh", e.baseline_kwh,
                      "Your usual import per interval (kWh), for events with declared baselines");
  AddTxOptions(eenroll, tx, true);
  auto* eshow = cl.Command(event, "show", "An event and its totals",
                           [&](Context& c) { return CmdEventShow(c, e, false); });
  eshow->add_option("ID", e.id, "Event id")->required()->check(IdCheck());
  auto* elist = cl.Command(event, "list", "Events, newest first",
                           [&](Context& c) { return CmdEventList(c, e); });
  elist->add_option("--zone", e.zone, "Only this zone");
  elist->add_option("--status", e.status, "open or settled")
      ->check(CLI::IsMember({"open", "settled"}));
  auto* eres =
      cl.Command(event, "results", "Performance and payout of every enrollment (pools by member)",
                 [&](Context& c) { return CmdEventShow(c, e, true); });
  eres->add_option("ID", e.id, "Event id")->required()->check(IdCheck());
}

}  // namespace v2g::cli
