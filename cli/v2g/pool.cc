// v2g pool create|join|leave|show: aggregator pools (virtual power plants). An aggregator sells
// and enrolls for its members' meters and keeps a fee of the pool's revenue.

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "cli/v2g/families.h"
#include "cli/v2g/output.h"
#include "cli/v2g/submit.h"
#include "common/limits.h"
#include "wallet/grid.h"

namespace v2g::cli {
namespace {

struct PoolArgs {
  uint64_t id = 0;  // the pool
  std::string meter;
  std::string name;
  std::string fee_percent;
  int64_t fee_bps = -1;
};

Status CmdPoolCreate(Context& ctx, const PoolArgs& g, const TxArgs& a) {
  if (g.name.empty() || g.name.size() > 64 ||
      !std::all_of(g.name.begin(), g.name.end(), [](char c) { return c >= 0x20 && c < 0x7f; }))
    return Error(Code::kInvalidArgument, "--name must be 1-64 printable ASCII characters");
  if (g.fee_percent.empty() == (g.fee_bps < 0))
    return Error(Code::kInvalidArgument,
                 "give the aggregator's fee as --fee-percent X or --fee-bps N (one of them)");
  int64_t fee_bps = g.fee_bps;
  if (!g.fee_percent.empty()) {
    V2G_ASSIGN_OR_RETURN(bps, ParsePercentBps(g.fee_percent, "--fee-percent"));
    fee_bps = bps;
  } else if (fee_bps > limits::kBpsMax) {
    return Error(Code::kInvalidArgument,
                 "--fee-bps must be 0..10000, got " + std::to_string(fee_bps));
  }
  TxDescription d;
  d.summary = "Create pool '" + g.name + "' (aggregator fee " + FormatBps(fee_bps) + " of revenue)";
  d.op = {{"type", "create_pool"}, {"name", g.name}, {"fee_bps", fee_bps}};
  return SubmitTx(ctx, a, MakeCreatePool(0, g.name, fee_bps), d,
                  CreatedId("pool", [](const std::string& id) {
                    return "owners join with: v2g pool join --from KEY " + id + " METER";
                  }));
}

Status CmdPoolMembership(Context& ctx, const PoolArgs& g, const TxArgs& a, bool join) {
  V2G_RETURN_IF_ERROR(CheckMeterIdArg(g.meter));
  TxDescription d;
  d.summary = join ? "Put meter '" + g.meter + "' in pool " + std::to_string(g.id) +
                         " from the next interval"
                   : "Take meter '" + g.meter + "' out of pool " + std::to_string(g.id) +
                         " (once the pool's open obligations have settled)";
  d.op = {{"type", join ? "join_pool" : "leave_pool"}, {"pool_id", g.id}, {"meter_id", g.meter}};
  return SubmitTx(ctx, a, join ? MakeJoinPool(0, g.id, g.meter) : MakeLeavePool(0, g.id, g.meter),
                  d, nullptr);
}

Status CmdPoolShow(Context& ctx, const PoolArgs& g) {
  return ShowAnswer(ctx, "/v1/pools/" + std::to_string(g.id), [&](const json& j) -> Status {
    const KeyNames names(ctx);
    const int64_t until = JsonInt(j, "obligations_until_s");
    PrintRows({{"pool", JsonText(j, "id") + " '" + JsonText(j, "name") + "'"},
               {"aggregator", names(JsonText(j, "aggregator"))},
               {"fee", FormatBps(JsonInt(j, "fee_bps")) + " of revenue"},
               {"members", JsonText(j, "member_count")},
               {"committed until", until > 0 ? FormatTimeS(until) : "nothing open"},
               {"fees earned", MoneyText(j, "fees_earned")},
               {"members earned", MoneyText(j, "members_earned")}});
    if (!HiddenTotalsNote(j).empty()) std::cout << HiddenTotalsNote(j) << "\n";
    const json members = j.value("members", json::array());
    if (members.empty()) return Status::Ok();
    std::cout << "\n";
    std::vector<std::vector<std::string>> rows{
        {"METER", "OWNER", "COUNTS FROM", "LEAVING", "DELIVERED", "EARNED"}};
    for (const auto& m : members) {
      rows.push_back({JsonText(m, "meter_id"), names(JsonText(m, "owner")), TimeText(m, "from_s"),
                      m.value("leaving", false) ? "after " + TimeText(m, "leave_after_s") : "-",
                      KwhText(m, "delivered_wh"), MoneyText(m, "earned")});
    }
    PrintTable(rows, {4, 5});
    return Status::Ok();
  });
}

}  // namespace

void AddPoolCommands(CLI::App& app, CommandLine& cl) {
  PoolArgs& p = cl.Keep<PoolArgs>();
  TxArgs& tx = cl.Keep<TxArgs>();
  CLI::App* pool = cl.Group(&app, "pool", "Aggregator pools (virtual power plants)");
  auto* pcreate = cl.Command(pool, "create", "Create a pool you sell and enroll for, for a fee",
                             [&](Context& c) { return CmdPoolCreate(c, p, tx); });
  pcreate->add_option("--name", p.name, "Pool name (1-64 printable ASCII)")->required();
  pcreate->add_option("--fee-percent", p.fee_percent,
                      "Your fee: percent of the pool's revenue (e.g. 5)");
  pcreate->add_option("--fee-bps", p.fee_bps, "Your fee in basis points (0..10000)");
  AddTxOptions(pcreate, tx, true);
  auto* pjoin = cl.Command(pool, "join", "Put your meter in a pool from the next interval",
                           [&](Context& c) { return CmdPoolMembership(c, p, tx, true); });
  pjoin->add_option("POOL_ID", p.id, "Pool id")->required()->check(IdCheck());
  pjoin->add_option("METER", p.meter, "Your meter")->required();
  AddTxOptions(pjoin, tx, true);
  auto* pleave = cl.Command(pool, "leave", "Take your meter out of a pool",
                            [&](Context& c) { return CmdPoolMembership(c, p, tx, false); });
  pleave->add_option("POOL_ID", p.id, "Pool id")->required()->check(IdCheck());
  pleave->add_option("METER", p.meter, "Your meter")->required();
  AddTxOptions(pleave, tx, true);
  auto* pshow = cl.Command(pool, "show", "A pool, its members and their earnings",
                           [&](Context& c) { return CmdPoolShow(c, p); });
  pshow->add_option("ID", p.id, "Pool id")->required()->check(IdCheck());
}

}  // namespace v2g::cli
