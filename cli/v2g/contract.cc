// v2g contract propose|accept|cancel|list: bilateral energy contracts at a fixed price, settled
// like market trades (contracts/market.h).

#include <string>

#include "cli/v2g/families.h"
#include "cli/v2g/market.h"
#include "cli/v2g/submit.h"
#include "contracts/market.h"

namespace v2g::cli {
namespace {

struct ContractArgs {
  std::string side;  // propose: sell | buy
  std::string meter;
  std::string zone;
  std::string interval;  // Unix seconds, RFC 3339, next, next+K
  std::string price;     // human units of the market denomination per kWh
  int64_t energy_wh = 0;
  uint64_t id = 0;      // accept, cancel: the contract
  std::string account;  // list: address or key name
};

Status CmdContractPropose(Context& ctx, const ContractArgs& m, const TxArgs& a) {
  V2G_ASSIGN_OR_RETURN(signer, ctx.ActAs(a.from));
  const auto side = ParseSide(m.side);
  if (!side)
    return Error(Code::kInvalidArgument, "--side must be sell or buy (your side of the contract)");
  const bool sell = *side == pb::SIDE_SELL;
  V2G_ASSIGN_OR_RETURN(to, ResolveAccount(ctx.keystore(), a.to));
  if (sell) {
    V2G_RETURN_IF_ERROR(CheckMeterIdArg(m.meter));
  } else if (!m.meter.empty()) {
    return Error(Code::kInvalidArgument,
                 "--meter names the meter that delivers: only with --side sell");
  }
  V2G_ASSIGN_OR_RETURN(at, ResolveDelivery(ctx, m.zone, m.energy_wh, m.price, m.interval));
  const MarketContext& mk = at.mk;
  const int64_t price = at.price, start = at.start_s;
  V2G_ASSIGN_OR_RETURN(value, DeliveryValue(false, m.energy_wh, price, mk.params));
  const std::string to_label = AccountLabel(to.address_text, to.key_name);
  TxDescription d;
  d.summary = "Propose to " + std::string(sell ? "sell " : "buy ") + FormatKwh(m.energy_wh) +
              " at " + FormatPrice(price, mk.params) + (sell ? " to " : " from ") + to_label +
              " in zone " + m.zone + (sell ? " from meter " + m.meter : "");
  d.details = {{"interval", IntervalRow(start, mk.params)},
               {"value", FormatMoney(value, mk.params) +
                             "; nothing is locked until the counterparty accepts"}};
  d.op = DeliveryOp("propose_contract", sell, at, "price", sell ? m.meter : "");
  d.op["counterparty"] = to.address_text;
  pb::TxBody body = MakeProposeContract(0, to.address, *side, m.zone, start, m.energy_wh, price,
                                        sell ? m.meter : "");
  const std::string to_key =
      KeyNames(ctx)(to.address_text);  // the counterparty's key, if in this wallet
  return SubmitTx(
      ctx, a, std::move(body), d, [&](ApiClient& c, const SubmitResult& r, TxDescription& out) {
        if (r.created_id == 0) return;
        const std::string id = std::to_string(r.created_id);
        out.results = {{"contract", id},
                       {"accept with", "v2g contract accept --from " +
                                           (to_key == to.address_text ? "KEY" : to_key) + " " + id +
                                           (sell ? "" : " --meter METER")},
                       {"withdraw with", "v2g contract cancel --from " + signer.name + " " + id}};
        out.result_json = {{"contract", FetchRecord(c, "contract", r.created_id)}};
      });
}

Status CmdContractAccept(Context& ctx, const ContractArgs& m, const TxArgs& a) {
  V2G_ASSIGN_OR_RETURN(signer, ctx.ActAs(a.from));
  if (!m.meter.empty()) V2G_RETURN_IF_ERROR(CheckMeterIdArg(m.meter));
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  auto got = client->GetJson("/v1/contracts/" + std::to_string(m.id));
  if (!got.ok() && got.status().code() == Code::kPermissionDenied) {
    // Only its parties may read it (docs/API.md "Signed reads"): it was not proposed to the signer.
    return Error(Code::kUnauthorized, "contract " + std::to_string(m.id) + " was not proposed to " + signer.name +
                                          " (" + signer.address + "): only its parties may read or accept it");
  }
  if (!got.ok()) return got.status();
  const json& k = *got;
  const bool seller = JsonText(k, "seller") == signer.address;
  if (JsonText(k, "status") != "proposed") {
    return Error(Code::kOrderNotOpen, "contract " + std::to_string(m.id) + " is " +
                                          JsonText(k, "status") +
                                          ": only a proposed contract can be accepted");
  }
  if (JsonText(k, "counterparty") != signer.address) {
    return Error(Code::kUnauthorized, "contract " + std::to_string(m.id) + " was proposed to " +
                                          JsonText(k, "counterparty") + ", not to " + signer.name);
  }
  if (seller && m.meter.empty()) {
    return Error(Code::kInvalidArgument, "you sell in contract " + std::to_string(m.id) +
                                             ": name the meter that delivers with --meter");
  }
  if (!seller && !m.meter.empty()) {
    return Error(Code::kInvalidArgument,
                 "you buy in contract " + std::to_string(m.id) + ": only the seller names a meter");
  }
  const KeyNames names(ctx);
  TxDescription d;
  d.summary = "Accept contract " + std::to_string(m.id) + ": " + (seller ? "sell " : "buy ") +
              KwhText(k, "energy_wh") + " at " + PriceText(k, "price") +
              (seller ? " to " : " from ") + names(JsonText(k, "proposer")) + " in zone " +
              JsonText(k, "zone") + (seller ? " from meter " + m.meter : "");
  d.details = {{"interval", IntervalText(k)}};
  d.op = {{"type", "accept_contract"}, {"contract_id", m.id}, {"meter_id", m.meter}};
  return SubmitTx(ctx, a, MakeAcceptContract(0, m.id, m.meter), d,
                  [&](ApiClient& c, const SubmitResult&, TxDescription& out) {
                    const json now = FetchRecord(c, "contract", m.id);
                    if (!now.is_object()) return;
                    out.results = {{"locked", seller ? MoneyText(now, "collateral") + " collateral"
                                                     : MoneyText(now, "escrow") + " escrow"}};
                    out.result_json = {{"contract", now}};
                  });
}

Status CmdContractCancel(Context& ctx, const ContractArgs& m, const TxArgs& a) {
  TxDescription d;
  d.summary = "Withdraw contract proposal " + std::to_string(m.id);
  d.op = {{"type", "cancel_contract"}, {"contract_id", m.id}};
  return SubmitTx(ctx, a, MakeCancelContract(0, m.id), d, nullptr);
}

}  // namespace

void AddContractCommands(CLI::App& app, CommandLine& cl) {
  ContractArgs& k = cl.Keep<ContractArgs>();
  TxArgs& tx = cl.Keep<TxArgs>();
  CLI::App* contract = cl.Group(&app, "contract", "Bilateral energy contracts at a fixed price");
  auto* cprop = cl.Command(contract, "propose",
                           "Propose a fixed-price delivery to another account (it must accept)",
                           [&](Context& c) { return CmdContractPropose(c, k, tx); });
  cprop->add_option("--to", tx.to, "Counterparty: address or key name")->required();
  cprop->add_option("--side", k.side, "Your side: sell or buy")->required();
  cprop->add_option("--zone", k.zone, "Zone")->required();
  cprop->add_option("--interval", k.interval, kIntervalHelp)->required();
  cprop->add_option("--energy-wh", k.energy_wh, "Energy (Wh)")->required();
  cprop->add_option("--price", k.price, "Price per kWh in the market denomination (e.g. 0.85)")
      ->required();
  cprop->add_option("--meter", k.meter, "Your meter that delivers (with --side sell)");
  AddTxOptions(cprop, tx, true);
  auto* caccept = cl.Command(contract, "accept",
                             "Accept a contract proposed to you (locks escrow or collateral)",
                             [&](Context& c) { return CmdContractAccept(c, k, tx); });
  caccept->add_option("CONTRACT_ID", k.id, "Contract id")->required()->check(IdCheck());
  caccept->add_option("--meter", k.meter, "Your meter that delivers (when you sell)");
  AddTxOptions(caccept, tx, true);
  auto* ccancel = cl.Command(contract, "cancel", "Withdraw a proposal that was not accepted",
                             [&](Context& c) { return CmdContractCancel(c, k, tx); });
  ccancel->add_option("CONTRACT_ID", k.id, "Contract id")->required()->check(IdCheck());
  AddTxOptions(ccancel, tx, true);
  auto* clist =
      cl.Command(contract, "list", "An account's contracts, newest first (default: every key)",
                 [&](Context& c) { return CmdAccountOrders(c, k.account, true); });
  clist->add_option("ACCOUNT", k.account, "Address (v2g1...) or key name");
}

}  // namespace v2g::cli
