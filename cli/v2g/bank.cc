// v2g balance, send, mint, burn: tokens (the ledger's bank).

#include <iostream>
#include <string>
#include <vector>

#include "cli/v2g/families.h"
#include "cli/v2g/output.h"
#include "cli/v2g/submit.h"
#include "common/amount.h"
#include "common/assert.h"

namespace v2g::cli {
namespace {

json BalancesJson(const AccountInfo& acct, const std::string& key_name) {
  json balances = json::array();
  for (const auto& b : acct.balances) {
    balances.push_back(
        {{"denom", b.denom}, {"amount", std::to_string(b.amount)}, {"display", b.display}});
  }
  json j = {{"address", acct.address},
            {"nonce", std::to_string(acct.nonce)},
            {"next_nonce", std::to_string(acct.next_nonce)},
            {"balances", balances}};
  if (!key_name.empty()) j["name"] = key_name;
  return j;
}

void PrintBalances(const AccountInfo& acct, const std::string& key_name) {
  std::cout << AccountLabel(acct.address, key_name) << "\n";
  if (acct.balances.empty()) {
    std::cout << "  (no balances)\n";
    return;
  }
  Rows amounts;
  for (const auto& b : acct.balances) {
    amounts.emplace_back(b.display.empty() ? std::to_string(b.amount) : b.display, b.denom);
  }
  for (const auto& line : AlignAmounts(amounts)) std::cout << "  " << line << "\n";
}

Status CmdBalance(Context& ctx, const std::string& who) {
  V2G_ASSIGN_OR_RETURN(
      refs,
      AccountsOrAllKeys(ctx, who, "give an address, or create a key with 'v2g keys add NAME'"));
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  json all = json::array();
  for (size_t i = 0; i < refs.size(); ++i) {
    V2G_ASSIGN_OR_RETURN(acct, client->GetAccount(refs[i].address_text));
    if (ctx.json()) {
      all.push_back(BalancesJson(acct, refs[i].key_name));
      continue;
    }
    if (i > 0) std::cout << "\n";
    PrintBalances(acct, refs[i].key_name);
  }
  if (ctx.json()) PrintJson(who.empty() ? json{{"accounts", all}} : all[0]);
  return Status::Ok();
}

// send, mint and burn: checks, the amount in the denomination's units, then the shared path.
Status RunTx(Context& ctx, const TxArgs& a, const std::string& verb, bool has_to) {
  V2G_ASSERT(verb == "send" || verb == "mint" || verb == "burn");
  V2G_ASSERT(has_to == (verb != "burn"));
  V2G_ASSIGN_OR_RETURN(signer, ctx.ActAs(a.from));
  AccountRef to;
  if (has_to) {
    V2G_ASSIGN_OR_RETURN(ref, ResolveAccount(ctx.keystore(), a.to));
    to = ref;
  }
  if (!ValidUtf8(a.memo)) return Error(Code::kInvalidArgument, "memo is not valid UTF-8");
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(denoms, client->GetDenoms());
  V2G_ASSIGN_OR_RETURN(denom, FindDenom(denoms, Upper(a.denom)));
  V2G_ASSIGN_OR_RETURN(units, ParsePositiveAmount(a.amount, denom));

  pb::TxBody body = verb == "send"   ? MakeTransfer(0, to.address, denom.name, units)
                    : verb == "mint" ? MakeMint(0, to.address, denom.name, units)
                                     : MakeBurn(0, denom.name, units);
  TxDescription d;
  const std::string coin = FormatCoin(units, denom);
  const std::string to_label = AccountLabel(to.address_text, to.key_name);
  d.op = {{"type", verb == "send" ? "transfer" : verb},
          {"denom", denom.name},
          {"amount", std::to_string(units)},
          {"display", FormatAmount(units, denom.decimals)}};
  if (has_to) d.op["to"] = to.address_text;
  d.summary = verb == "send"   ? "Send " + coin + " from " + signer.name + " to " + to_label
              : verb == "mint" ? "Mint " + coin + " to " + to_label
                               : "Burn " + coin + " from " + signer.name;
  V2G_RETURN_IF_ERROR(SetFeeAndMemo(a, denoms, body, d));
  return SignSubmitReport(ctx, *client, a, std::move(body), std::move(d), nullptr);
}

}  // namespace

void AddBankCommands(CLI::App& app, CommandLine& cl) {
  std::string& who = cl.Keep<std::string>();
  TxArgs& tx = cl.Keep<TxArgs>();
  auto* bal = cl.Command(&app, "balance", "Show balances of an address or key (default: every key)",
                         [&who](Context& c) { return CmdBalance(c, who); });
  bal->add_option("ACCOUNT", who, "Address (v2g1...) or key name");

  // send, mint and burn: [TO] AMOUNT DENOM and the tx options.
  auto coin_tx = [&cl, &app, &tx](const std::string& verb, const std::string& help, bool has_to,
                                  const std::string& amount_help, const std::string& denom_help) {
    auto* sub = cl.Command(&app, verb, help,
                           [&tx, verb, has_to](Context& c) { return RunTx(c, tx, verb, has_to); });
    if (has_to) sub->add_option("TO", tx.to, "Recipient address or key name")->required();
    sub->add_option("AMOUNT", tx.amount, amount_help)->required();
    sub->add_option("DENOM", tx.denom, denom_help)->required();
    AddTxOptions(sub, tx, true);
  };
  coin_tx("send", "Transfer tokens", true, "Amount in human units, e.g. 12.5",
          "Denomination, e.g. CNY");
  coin_tx("mint", "Issue new tokens (the denomination's issuer only)", true,
          "Amount in human units", "Denomination");
  coin_tx("burn", "Destroy tokens from the issuer's balance (issuer only)", false,
          "Amount in human units", "Denomination");
}

}  // namespace v2g::cli
