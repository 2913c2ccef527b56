// v2g tx show, v2g status, v2g get: a transaction by hash, the node's chain and sync status, and any
// API path (signed when the data is personal).

#include <algorithm>
#include <charconv>
#include <string>
#include <vector>

#include "cli/v2g/families.h"
#include "cli/v2g/output.h"
#include "cli/v2g/submit.h"
#include "common/limits.h"

namespace v2g::cli {
namespace {

// "set_tariff, zone Z1, export_price 0.30 CNY, ...": the op's fields in the node's order, amounts
// as "display denom", lists by their length.
std::string DescribeFields(const json& op) {
  std::string text = op.value("type", "op");
  for (const auto& [k, v] : op.items()) {
    if (k == "type" || v.is_null()) continue;
    if (v.is_object() && v.contains("display")) {
      text += ", " + k + " " + v.value("display", "") + " " + v.value("denom", "");
    } else if (v.is_array()) {
      text += ", " + k + " (" + std::to_string(v.size()) + ")";
    } else if (v.is_primitive()) {
      text += ", " + k + " " + (v.is_string() ? v.get<std::string>() : v.dump());
    }
  }
  return text;
}

std::string DescribeOp(const json& op) {
  if (!op.is_object()) return op.dump();
  auto str = [&](const char* k) {
    return op.contains(k) && op[k].is_string() ? op[k].get<std::string>() : "";
  };
  std::string amount = str("display").empty() ? str("amount") : str("display");
  std::string type = str("type");
  std::string text = type + " " + amount + " " + str("denom");
  if (!str("to").empty()) text += " to " + str("to");
  if (type == "place_order" || type == "propose_contract") {
    const json price = op.value(type == "place_order" ? "limit_price" : "price", json::object());
    std::string t = type + " " + str("side") + " " + FormatKwh(op.value("energy_wh", int64_t{0})) +
                    " at " + price.value("display", "?") + " " + price.value("denom", "") +
                    "/kWh, zone " + str("zone") + ", interval " +
           (op.contains("interval_start_s") ? FormatTimeS(JsonInt(op, "interval_start_s")) : str("interval_start"));
    if (!str("meter_id").empty()) t += ", meter " + str("meter_id");
    if (!str("counterparty").empty()) t += ", with " + str("counterparty");
    return t;
  }
  if (type == "cancel_order") return type + " " + op.value("order_id", json()).dump();
  if (type == "accept_contract" || type == "cancel_contract") {
    return type + " " + op.value("contract_id", json()).dump() +
           (str("meter_id").empty() ? "" : ", meter " + str("meter_id"));
  }
  if (type != "transfer" && type != "mint" && type != "burn") return DescribeFields(op);
  return text;
}

std::string DescribeFee(ApiClient& client, const json& fee) {
  if (!fee.is_object()) return "none";
  std::string denom = fee.value("denom", "");
  if (fee.contains("display") && fee["display"].is_string())
    return fee["display"].get<std::string>() + " " + denom;
  std::string amount =
      fee.contains("amount")
          ? (fee["amount"].is_string() ? fee["amount"].get<std::string>() : fee["amount"].dump())
          : "?";
  auto denoms = client.GetDenoms();
  int64_t units = 0;
  auto [end, ec] = std::from_chars(amount.data(), amount.data() + amount.size(), units);
  if (denoms.ok() && ec == std::errc() && end == amount.data() + amount.size()) {
    if (auto d = FindDenom(*denoms, denom); d.ok()) return FormatCoin(units, *d);
  }
  return amount + " " + denom + " units (the node did not say its decimals)";
}

Status CmdTxShow(Context& ctx, const std::string& hash, const std::string& as) {
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  // A tx is its signer's to read (docs/API.md "Signed reads"): as KEY, else as the wallet's only
  // key; a wallet of several keys shows where it is and how to see the rest.
  if (!as.empty()) {
    V2G_ASSIGN_OR_RETURN(info, ctx.ActAs(as));
    (void)info;
  }
  V2G_ASSIGN_OR_RETURN(tx, client->GetTx(hash));
  if (!ctx.json()) LoadDisplayZone(*client);
  if (ctx.json()) {
    PrintJson(tx.raw);
    return Status::Ok();
  }
  std::vector<std::pair<std::string, std::string>> rows{{"hash", tx.hash}, {"status", tx.status}};
  if (tx.committed() && tx.reduced) {
    rows.emplace_back("height", std::to_string(tx.height));
    rows.emplace_back("index", std::to_string(tx.index));
    rows.emplace_back("details", "its signer's only: v2g tx show " + tx.hash + " --as KEY");
  } else if (tx.committed()) {
    rows.emplace_back("height", std::to_string(tx.height));
    rows.emplace_back("index", std::to_string(tx.index));
    rows.emplace_back("result", ResultText(tx.code, tx.code_name, tx.log));
    if (tx.code == 0 && !tx.log.empty()) rows.emplace_back("log", tx.log);
    if (tx.created_id != 0) rows.emplace_back("created id", std::to_string(tx.created_id));
    rows.emplace_back("signer", JsonText(tx.raw, "signer"));
    rows.emplace_back("nonce", JsonText(tx.raw, "nonce"));
    if (tx.raw.contains("op")) rows.emplace_back("op", DescribeOp(tx.raw["op"]));
    rows.emplace_back("fee", DescribeFee(*client, tx.raw.value("fee", json())));
    if (!JsonText(tx.raw, "memo").empty()) rows.emplace_back("memo", JsonText(tx.raw, "memo"));
  }
  PrintRows(rows);
  return Status::Ok();
}

Status CmdStatus(Context& ctx) {
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(s, client->GetStatus());
  if (ctx.json()) {
    PrintJson(s.raw);
    return Status::Ok();
  }
  // Times in the market's zone and the suggested fee in its denomination (a chain without a
  // market has no fee denomination: the fee stays in units).
  auto params = client->GetJson("/v1/params");
  if (params.ok()) SetDisplayUtcOffsetFrom(*params);
  std::string fee;
  if (s.mempool_fee_per_unit > 0) {
    auto market = params.ok() ? MarketParamsFromJson(*params) : Result<MarketParams>(params.status());
    fee = ", fee " +
          (market.ok() && market->enabled
               ? FormatMoney(s.mempool_fee_per_unit, *market)
               : std::to_string(s.mempool_fee_per_unit) + " units of the fee denomination") +
          " per fee unit";
  }
  PrintRows({{"node", client->base_url()},
             {"chain id", s.chain_id},
             {"moniker", s.moniker},
             {"node id", s.node_id},
             {"validator", s.validator_address.empty() ? "(not a validator)" : s.validator_address},
             {"latest height", std::to_string(s.latest_height)},
             {"latest block", s.latest_block_id},
             {"block time", LocalTime(s.latest_block_time)},
             {"app hash", s.latest_app_hash},
             {"earliest height", std::to_string(s.earliest_height)},
             {"catching up", s.catching_up ? "yes" : "no"},
             {"mempool", std::to_string(s.mempool_txs) + " txs, " +
                             std::to_string(s.mempool_bytes) + " bytes" + fee},
             {"version", s.version}});
  return Status::Ok();
}

}  // namespace

// `get PATH [--as KEY]`: any GET of the API, printed as JSON, read as KEY when given (else signed
// only when the node says the data is personal and names an account this wallet holds).
Status CmdGet(Context& ctx, const std::string& path, const std::string& as) {
  if (path.rfind("/v1/", 0) != 0 || path.size() > limits::kHttpPathBytesMax ||
      std::any_of(path.begin(), path.end(), [](char ch) { return static_cast<unsigned char>(ch) <= 0x20; })) {
    return Error(Code::kInvalidArgument, "PATH must be an API path such as /v1/status (no spaces), got '" + path + "'");
  }
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  if (!as.empty()) {
    // Read as this key only: a refusal is what that key gets, not a cue to try another.
    V2G_ASSIGN_OR_RETURN(key, ctx.LoadKey(as));
    client->SetReader(key);
    client->SetReaderSource(nullptr);
  }
  V2G_ASSIGN_OR_RETURN(j, client->GetJson(path));
  PrintJson(j);
  return Status::Ok();
}

void AddTxCommands(CLI::App& app, CommandLine& cl) {
  std::string& hash = cl.Keep<std::string>();
  std::string& get_path = cl.Keep<std::string>();
  std::string& get_as = cl.Keep<std::string>();
  CLI::App* tx = cl.Group(&app, "tx", "Look up transactions");
  auto* show = cl.Command(tx, "show", "Show a transaction by hash",
                          [&hash, &get_as](Context& c) { return CmdTxShow(c, hash, get_as); });
  show->add_option("HASH", hash, "Tx hash (64 hex digits)")->required();
  show->add_option("--as", get_as, "Key of its signer, to read all of it (default: the wallet's only key)");

  cl.Command(&app, "status", "Show the node's chain and sync status",
             [](Context& c) { return CmdStatus(c); });

  auto* get = cl.Command(&app, "get",
                         "GET an API path and print its JSON; personal data is read signed (docs/API.md "
                         "\"Signed reads\")",
                         [&get_path, &get_as](Context& c) { return CmdGet(c, get_path, get_as); });
  get->add_option("PATH", get_path, "API path with its query, e.g. /v1/accounts/v2g1.../statement")->required();
  get->add_option("--as", get_as, "Key to sign the read with (default: the wallet's key the node names, if any)");
}

}  // namespace v2g::cli
