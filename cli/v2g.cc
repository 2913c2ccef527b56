// v2g: the wallet command line. Parses arguments, asks for passphrases, prints results; the work
// is done by wallet/ (keystore, API client, tx building).
//
// Exit codes: 0 success, 1 any error ("error: <message>" on stderr), 2 usage error (CLI11's
// message). With --output json every successful command prints one JSON object on stdout.

#include <pwd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/amount.h"
#include "common/bech32.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "wallet/actions.h"
#include "wallet/battery_wear.h"
#include "wallet/client.h"
#include "wallet/grid.h"
#include "wallet/keystore.h"
#include "wallet/market.h"
#include "wallet/meter_sim.h"
#include "wallet/prompt.h"
#include "contracts/grid.h"
#include "contracts/market.h"
#include "contracts/meters.h"
#include "common/time.h"
#include "wallet/tx_builder.h"

namespace v2g {
namespace {

using nlohmann::json;

constexpr char kDefaultNode[] = "http://127.0.0.1:26657";

struct Globals {
  std::string node;
  std::string output = "text";
  std::string home;
  std::string passphrase_file;
  bool json() const { return output == "json"; }
};

// A secret string that is wiped when it goes out of scope.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string s) : value_(std::move(s)) {}
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  ~Secret() { SecureWipe(value_.data(), value_.size()); }
  const std::string& get() const { return value_; }

 private:
  std::string value_;
};

std::string DefaultHome() {
  if (const char* h = std::getenv("V2G_HOME"); h != nullptr && *h != '\0') return h;
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') {
    const passwd* pw = ::getpwuid(::getuid());
    home = pw != nullptr ? pw->pw_dir : ".";
  }
  return std::string(home) + "/.v2g";
}

std::string DefaultNode() {
  if (const char* n = std::getenv("V2G_NODE"); n != nullptr && *n != '\0') return n;
  return kDefaultNode;
}

// ------------------------------------------------------------------ output helpers

void PrintJson(const json& j) { std::cout << j.dump(2) << "\n"; }

// Prints "key  value" rows with the values in one column.
void PrintRows(const std::vector<std::pair<std::string, std::string>>& rows) {
  size_t width = 0;
  for (const auto& [k, v] : rows) width = std::max(width, k.size());
  for (const auto& [k, v] : rows) {
    std::cout << k << std::string(width - k.size() + 2, ' ') << v << "\n";
  }
}

// Lines "12.50 CNY" with the decimal points of all amounts in one column.
std::vector<std::string> AlignAmounts(
    const std::vector<std::pair<std::string, std::string>>& amounts) {
  size_t int_w = 0, frac_w = 0;
  for (const auto& [display, denom] : amounts) {
    size_t dot = display.find('.');
    int_w = std::max(int_w, dot == std::string::npos ? display.size() : dot);
    frac_w = std::max(frac_w, dot == std::string::npos ? 0 : display.size() - dot);
  }
  std::vector<std::string> out;
  for (const auto& [display, denom] : amounts) {
    size_t dot = display.find('.');
    size_t ip = dot == std::string::npos ? display.size() : dot;
    size_t fp = display.size() - ip;
    out.push_back(std::string(int_w - ip, ' ') + display + std::string(frac_w - fp, ' ') + " " +
                  denom);
  }
  return out;
}

std::string AccountLabel(const std::string& address, const std::string& key_name) {
  return key_name.empty() ? address : key_name + " (" + address + ")";
}

json KeyJson(const KeyInfo& k) {
  return {{"name", k.name}, {"address", k.address}, {"pubkey", k.pubkey_hex}, {"file", k.path}};
}

// ------------------------------------------------------------------ context

class Context {
 public:
  explicit Context(const Globals& g) : g_(g), keystore_(g.home) {}
  const Globals& globals() const { return g_; }
  bool json() const { return g_.json(); }
  Keystore& keystore() { return keystore_; }

  Result<ApiClient*> client() {
    if (!client_) {
      auto c = ApiClient::Create(g_.node);
      if (!c.ok()) return c.status();
      client_.emplace(std::move(c).value());
    }
    return &*client_;
  }

  // --passphrase-file, else $V2G_PASSPHRASE, else the terminal (twice when `confirm`).
  Result<std::string> Passphrase(const std::string& key_name, bool confirm) const {
    if (!g_.passphrase_file.empty()) {
      auto p = ReadFirstLineOfFile(g_.passphrase_file);
      if (p.ok() && p->empty())
        return Error(Code::kInvalidArgument, "passphrase file " + g_.passphrase_file + " is empty");
      return p;
    }
    if (const char* env = std::getenv("V2G_PASSPHRASE"); env != nullptr) return std::string(env);
    if (!confirm) return ReadSecretFromTerminal("Passphrase for key '" + key_name + "': ");
    auto first = ReadSecretFromTerminal("New passphrase for key '" + key_name + "': ");
    if (!first.ok()) return first;
    Secret p1(std::move(first).value());
    auto second = ReadSecretFromTerminal("Repeat the passphrase: ");
    if (!second.ok()) return second;
    Secret p2(std::move(second).value());
    if (p1.get() != p2.get()) return Error(Code::kInvalidArgument, "the passphrases do not match");
    return std::string(p1.get());
  }

  Result<KeyPair> LoadKey(const std::string& name) {
    auto pass = Passphrase(name, false);
    if (!pass.ok()) return pass.status();
    Secret p(std::move(pass).value());
    return keystore_.Load(name, p.get());
  }

 private:
  Globals g_;
  Keystore keystore_;
  std::optional<ApiClient> client_;
};

#define V2G_ASSIGN_OR_RETURN(lhs, expr)                 \
  auto lhs##_result = (expr);                           \
  if (!lhs##_result.ok()) return lhs##_result.status(); \
  auto& lhs = lhs##_result.value()

// ------------------------------------------------------------------ keys

struct KeysArgs {
  std::string name;
  bool recover = false;
  bool yes = false;
};

Status CmdKeysAdd(Context& ctx, const KeysArgs& a) {
  V2G_RETURN_IF_ERROR(ValidateKeyName(a.name));
  if (ctx.keystore().Show(a.name).ok()) {
    return Error(Code::kAlreadyExists, "a key named '" + a.name + "' already exists");
  }
  Result<std::string> seed_text = std::string();
  if (a.recover) {
    if (::isatty(0)) std::cerr << "Seed of the key to recover (64 hex digits): " << std::flush;
    seed_text = ReadSecretLine(0, "seed");
    if (!seed_text.ok()) return seed_text.status();
  }
  Secret seed(std::move(seed_text).value());
  auto pass = ctx.Passphrase(a.name, true);
  if (!pass.ok()) return pass.status();
  Secret p(std::move(pass).value());
  Result<KeyInfo> info = a.recover ? ctx.keystore().Import(a.name, seed.get(), p.get())
                                   : ctx.keystore().Add(a.name, p.get());
  if (!info.ok()) return info.status();
  if (ctx.json()) {
    json j = KeyJson(*info);
    j["recovered"] = a.recover;
    PrintJson(j);
    return Status::Ok();
  }
  std::cout << (a.recover ? "Recovered" : "Created") << " key '" << info->name << "'\n";
  PrintRows({{"address", info->address}, {"pubkey", info->pubkey_hex}, {"file", info->path}});
  std::cout << "The key is encrypted with your passphrase; without it the file is useless.\n"
               "Back it up with: v2g keys export "
            << info->name << "\n";
  return Status::Ok();
}

Status CmdKeysList(Context& ctx) {
  V2G_ASSIGN_OR_RETURN(keys, ctx.keystore().List());
  if (ctx.json()) {
    json list = json::array();
    for (const auto& k : keys) list.push_back(KeyJson(k));
    PrintJson({{"keys", list}});
    return Status::Ok();
  }
  if (keys.empty()) {
    std::cout << "No keys in " << ctx.keystore().dir() << " (create one with: v2g keys add NAME)\n";
    return Status::Ok();
  }
  std::vector<std::pair<std::string, std::string>> rows{{"NAME", "ADDRESS"}};
  for (const auto& k : keys) rows.emplace_back(k.name, k.address);
  PrintRows(rows);
  return Status::Ok();
}

Status CmdKeysShow(Context& ctx, const KeysArgs& a) {
  V2G_ASSIGN_OR_RETURN(info, ctx.keystore().Show(a.name));
  if (ctx.json()) {
    PrintJson(KeyJson(info));
    return Status::Ok();
  }
  PrintRows({{"name", info.name},
             {"address", info.address},
             {"pubkey", info.pubkey_hex},
             {"file", info.path}});
  return Status::Ok();
}

Status CmdKeysDelete(Context& ctx, const KeysArgs& a) {
  V2G_ASSIGN_OR_RETURN(info, ctx.keystore().Show(a.name));
  if (!a.yes) {
    auto answer = ReadLineFromTerminal("Delete key '" + info.name + "' (" + info.address +
                                       ")? This cannot be undone. [y/N] ");
    if (!answer.ok()) {
      return Error(Code::kInvalidArgument,
                   "refusing to delete key '" + a.name + "' without confirmation: pass --yes");
    }
    if (*answer != "y" && *answer != "Y" && *answer != "yes") {
      return Error(Code::kInvalidArgument, "key '" + a.name + "' was not deleted");
    }
  }
  V2G_RETURN_IF_ERROR(ctx.keystore().Delete(a.name));
  if (ctx.json()) {
    PrintJson({{"deleted", info.name}, {"address", info.address}});
  } else {
    std::cout << "Deleted key '" << info.name << "' (" << info.address << ")\n";
  }
  return Status::Ok();
}

Status CmdKeysExport(Context& ctx, const KeysArgs& a) {
  V2G_ASSIGN_OR_RETURN(info, ctx.keystore().Show(a.name));
  V2G_ASSIGN_OR_RETURN(key, ctx.LoadKey(a.name));
  Bytes seed = key.Seed();
  Secret hex(HexEncode(seed));
  SecureWipe(seed.data(), seed.size());
  if (ctx.json()) {
    PrintJson({{"name", info.name}, {"address", info.address}, {"seed", hex.get()}});
  } else {
    std::cerr << "warning: this is the unencrypted secret key of '" << info.name
              << "'; anyone who sees it controls the account\n";
    std::cout << hex.get() << "\n";
  }
  return Status::Ok();
}

// ------------------------------------------------------------------ balance

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
  std::vector<std::pair<std::string, std::string>> amounts;
  for (const auto& b : acct.balances) {
    amounts.emplace_back(b.display.empty() ? std::to_string(b.amount) : b.display, b.denom);
  }
  for (const auto& line : AlignAmounts(amounts)) std::cout << "  " << line << "\n";
}

Status CmdBalance(Context& ctx, const std::string& who) {
  std::vector<AccountRef> refs;
  if (!who.empty()) {
    V2G_ASSIGN_OR_RETURN(ref, ResolveAccount(ctx.keystore(), who));
    refs.push_back(ref);
  } else {
    V2G_ASSIGN_OR_RETURN(keys, ctx.keystore().List());
    if (keys.empty()) {
      return Error(Code::kInvalidArgument,
                   "no keys in " + ctx.keystore().dir() +
                       ": give an address, or create a key with 'v2g keys add NAME'");
    }
    for (const auto& k : keys) {
      V2G_ASSIGN_OR_RETURN(ref, ResolveAccount(ctx.keystore(), k.name));
      refs.push_back(ref);
    }
  }
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

// ------------------------------------------------------------------ send / mint / burn

struct TxArgs {
  std::string to;
  std::string amount;
  std::string denom;
  std::string from;
  std::string fee;
  std::string memo;
  bool no_wait = false;
};

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<uint8_t>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<uint8_t>(s[i + k]) & 0xc0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// What the user asked for, in words and as JSON, for the report after submitting.
struct TxDescription {
  std::string summary;  // "Sent 12.50 CNY from alice to bob (v2g1...)"
  json op;
  json fee = nullptr;
  std::vector<std::pair<std::string, std::string>> details;  // rows printed before the tx's
  // Set once the tx committed successfully: rows after the result, fields added to the JSON.
  std::vector<std::pair<std::string, std::string>> results;
  json result_json = json::object();
};

std::string ResultText(uint32_t code, const std::string& code_name, const std::string& log) {
  if (code == 0) return "ok";
  return "failed: " + code_name + (log.empty() ? "" : ": " + log);
}

Status ReportSubmitted(Context& ctx, const Submitted& s, const TxDescription& d, const TxArgs& a) {
  const SubmitResult& r = s.result;
  if (ctx.json()) {
    json j = r.raw;
    j["nonce"] = std::to_string(s.nonce);
    j["chain_id"] = s.chain_id;
    j["op"] = d.op;
    j["fee"] = d.fee;
    j["memo"] = a.memo;
    j.update(d.result_json);
    PrintJson(j);
  } else {
    std::vector<std::pair<std::string, std::string>> rows = d.details;
    rows.emplace_back("tx", r.hash);
    rows.emplace_back("status", r.status);
    if (r.committed()) {
      rows.emplace_back("height", std::to_string(r.height));
      rows.emplace_back("result", ResultText(r.code, r.code_name, r.log));
      rows.insert(rows.end(), d.results.begin(), d.results.end());
    } else if (a.no_wait) {
      rows.emplace_back("next", "check with: v2g tx show " + r.hash);
    }
    std::cout << d.summary << "\n";
    PrintRows(rows);
  }
  if (r.committed() && r.code != 0) {
    return Error(static_cast<Code>(r.code),
                 "tx " + r.hash + " " + ResultText(r.code, r.code_name, r.log));
  }
  if (!r.committed() && !a.no_wait) {
    return Error(Code::kTimeout, "tx " + r.hash + " was accepted but not committed within " +
                                     std::to_string(limits::kWaitCommitMsDefault) +
                                     " ms; it may still be: check with 'v2g tx show " + r.hash +
                                     "'");
  }
  return Status::Ok();
}

// The shared path of send, mint and burn: checks, passphrase, sign, submit, report.
Status RunTx(Context& ctx, const TxArgs& a, const std::string& verb, bool has_to) {
  V2G_ASSIGN_OR_RETURN(signer, ctx.keystore().Show(a.from));
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
  d.summary = verb == "send"   ? "Sent " + coin + " from " + signer.name + " to " + to_label
              : verb == "mint" ? "Minted " + coin + " to " + to_label
                               : "Burned " + coin + " from " + signer.name;
  if (!a.fee.empty()) {
    V2G_ASSIGN_OR_RETURN(fee, ParseFee(Upper(a.fee), denoms));
    *body.mutable_fee() = fee;
    auto fee_denom = FindDenom(denoms, fee.denom());
    d.fee = {{"denom", fee.denom()},
             {"amount", std::to_string(fee.amount())},
             {"display", FormatAmount(fee.amount(), fee_denom->decimals)}};
  }
  body.set_memo(a.memo);

  V2G_ASSIGN_OR_RETURN(key, ctx.LoadKey(a.from));
  SubmitOptions opts;
  opts.wait_commit = !a.no_wait;
  V2G_ASSIGN_OR_RETURN(submitted, SignAndSubmit(*client, key, std::move(body), opts));
  return ReportSubmitted(ctx, submitted, d, a);
}

// ------------------------------------------------------------------ tx show / status

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
                    "/kWh, zone " + str("zone") + ", interval " + str("interval_start");
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
  return amount + " (minimal units) " + denom;
}

std::string JsonText(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return "";
  return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

Status CmdTxShow(Context& ctx, const std::string& hash) {
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(tx, client->GetTx(hash));
  if (ctx.json()) {
    PrintJson(tx.raw);
    return Status::Ok();
  }
  std::vector<std::pair<std::string, std::string>> rows{{"hash", tx.hash}, {"status", tx.status}};
  if (tx.committed()) {
    rows.emplace_back("height", std::to_string(tx.height));
    rows.emplace_back("index", std::to_string(tx.index));
    rows.emplace_back("result", ResultText(tx.code, tx.code_name, tx.log));
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
  PrintRows({{"node", client->base_url()},
             {"chain id", s.chain_id},
             {"moniker", s.moniker},
             {"node id", s.node_id},
             {"validator", s.validator_address.empty() ? "(not a validator)" : s.validator_address},
             {"latest height", std::to_string(s.latest_height)},
             {"latest block", s.latest_block_id},
             {"block time", s.latest_block_time},
             {"app hash", s.latest_app_hash},
             {"earliest height", std::to_string(s.earliest_height)},
             {"catching up", s.catching_up ? "yes" : "no"},
             {"mempool", std::to_string(s.mempool_txs) + " txs, " +
                             std::to_string(s.mempool_bytes) + " bytes"},
             {"version", s.version}});
  return Status::Ok();
}

// ------------------------------------------------------------------ meters

struct MeterArgs {
  std::string id;
  std::string device;  // key name or 64 hex digits of a device public key
  std::string kind = "charger";
  std::string zone;
  std::string owner;
  int64_t max_import_w = 0;
  int64_t max_export_w = 0;
  int64_t capacity_wh = 0;
  std::string filter_owner;
  std::string filter_zone;
  std::string filter_kind;
  int64_t from_s = -1;
  int64_t to_s = -1;
};

// A device public key: a key in the keystore (made with 'v2g meter keygen') or 64 hex digits.
Result<PublicKey> DevicePubkey(Context& ctx, const std::string& text) {
  std::string hex = text;
  if (text.size() != 2 * kPublicKeyBytes) {
    auto info = ctx.keystore().Show(text);
    if (!info.ok()) return info.status();
    hex = info->pubkey_hex;
  }
  auto raw = HexDecode(hex);
  if (!raw.ok() || raw->size() != kPublicKeyBytes) {
    return Error(Code::kInvalidArgument, "device '" + text + "' is neither a key name nor 64 hex digits");
  }
  PublicKey pk;
  std::copy(raw->begin(), raw->end(), pk.begin());
  return pk;
}

// Signs `body` with key `a.from`, submits and reports like send/mint/burn.
Status SubmitMeterTx(Context& ctx, const TxArgs& a, pb::TxBody body, TxDescription d) {
  V2G_ASSIGN_OR_RETURN(signer, ctx.keystore().Show(a.from));
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(key, ctx.LoadKey(signer.name));
  SubmitOptions opts;
  opts.wait_commit = !a.no_wait;
  V2G_ASSIGN_OR_RETURN(submitted, SignAndSubmit(*client, key, std::move(body), opts));
  return ReportSubmitted(ctx, submitted, d, a);
}

Status CmdMeterKeygen(Context& ctx, const MeterArgs& m) {
  KeysArgs k;
  k.name = m.id;
  return CmdKeysAdd(ctx, k);
}

Status CmdMeterRegister(Context& ctx, const MeterArgs& m, const TxArgs& a) {
  auto kind = ParseMeterKind(m.kind);
  if (!kind) return Error(Code::kInvalidArgument, "--kind must be charger, vehicle or site");
  V2G_ASSIGN_OR_RETURN(pk, DevicePubkey(ctx, m.device));
  V2G_ASSIGN_OR_RETURN(owner, ResolveAccount(ctx.keystore(), m.owner));
  pb::TxBody body = MakeRegisterMeter(0, m.id, pk, *kind, m.zone, owner.address, m.max_import_w, m.max_export_w,
                                      m.capacity_wh);
  TxDescription d;
  d.summary = "Registered " + m.kind + " meter '" + m.id + "' in zone " + m.zone + " for " +
              AccountLabel(owner.address_text, owner.key_name);
  d.op = {{"type", "register_meter"}, {"meter_id", m.id}, {"device_pubkey", HexEncode(pk)}, {"kind", m.kind},
          {"zone", m.zone}, {"owner", owner.address_text}, {"max_import_w", m.max_import_w},
          {"max_export_w", m.max_export_w}, {"battery_capacity_wh", m.capacity_wh}};
  return SubmitMeterTx(ctx, a, std::move(body), d);
}

Status CmdMeterDeactivate(Context& ctx, const MeterArgs& m, const TxArgs& a) {
  TxDescription d;
  d.summary = "Deactivated meter '" + m.id + "'";
  d.op = {{"type", "deactivate_meter"}, {"meter_id", m.id}};
  return SubmitMeterTx(ctx, a, MakeDeactivateMeter(0, m.id), d);
}

Status CheckMeterIdArg(const std::string& id) {
  if (!ValidMeterId(id)) return Error(Code::kInvalidArgument, "'" + id + "' is not a meter id (1-64 of A-Z a-z 0-9 . _ : -)");
  return Status::Ok();
}

std::string Wh(const json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_number_integer()) return "?";
  int64_t wh = j[key].get<int64_t>();
  return FormatAmount(wh, 3) + " kWh";
}

Status CmdMeterShow(Context& ctx, const MeterArgs& m) {
  V2G_RETURN_IF_ERROR(CheckMeterIdArg(m.id));
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(j, client->GetJson("/v1/meters/" + m.id));
  if (ctx.json()) {
    PrintJson(j);
    return Status::Ok();
  }
  std::vector<std::pair<std::string, std::string>> rows = {
      {"meter", JsonText(j, "meter_id")},
      {"kind", JsonText(j, "kind")},
      {"zone", JsonText(j, "zone")},
      {"owner", JsonText(j, "owner")},
      {"operator", JsonText(j, "operator")},
      {"device key", JsonText(j, "device_pubkey")},
      {"max import", JsonText(j, "max_import_w") + " W"},
      {"max export", JsonText(j, "max_export_w") + " W"},
      {"active", j.value("active", false) ? "yes" : "no (deactivated at height " + JsonText(j, "deactivated_height") + ")"},
      {"registered", "height " + JsonText(j, "registered_height") + ", " + JsonText(j, "registered_time")},
      {"readings", JsonText(j, "readings_accepted") + " accepted"}};
  if (j.contains("last_reading") && j["last_reading"].is_object()) {
    const json& r = j["last_reading"];
    rows.emplace_back("last reading", "seq " + JsonText(r, "seq") + ", interval from " + JsonText(r, "interval_start") +
                                          ", import " + Wh(r, "import_wh_total") + ", export " + Wh(r, "export_wh_total"));
  }
  PrintRows(rows);
  return Status::Ok();
}

Status CmdMeterList(Context& ctx, const MeterArgs& m) {
  std::string q;
  auto add = [&](const char* k, const std::string& v) {
    if (!v.empty()) q += (q.empty() ? "?" : "&") + std::string(k) + "=" + v;
  };
  if (!m.filter_owner.empty()) {
    V2G_ASSIGN_OR_RETURN(owner, ResolveAccount(ctx.keystore(), m.filter_owner));
    add("owner", owner.address_text);
  }
  if (!m.filter_zone.empty() && !ValidZone(m.filter_zone)) return Error(Code::kInvalidArgument, "--zone is not a zone name");
  add("zone", m.filter_zone);
  if (!m.filter_kind.empty() && !ParseMeterKind(m.filter_kind)) return Error(Code::kInvalidArgument, "--kind must be charger, vehicle or site");
  add("kind", m.filter_kind);
  add("limit", std::to_string(limits::kMetersPageMax));
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(j, client->GetJson("/v1/meters" + q));
  if (ctx.json()) {
    PrintJson(j);
    return Status::Ok();
  }
  std::vector<std::pair<std::string, std::string>> rows{{"METER", "KIND  ZONE  ACTIVE  READINGS  OWNER"}};
  for (const auto& x : j.value("meters", json::array())) {
    rows.emplace_back(JsonText(x, "meter_id"), JsonText(x, "kind") + "  " + JsonText(x, "zone") + "  " +
                                                   (x.value("active", false) ? "yes" : "no") + "  " +
                                                   JsonText(x, "readings_accepted") + "  " + JsonText(x, "owner"));
  }
  if (rows.size() == 1) {
    std::cout << "No meters match\n";
    return Status::Ok();
  }
  PrintRows(rows);
  return Status::Ok();
}

Status CmdMeterReadings(Context& ctx, const MeterArgs& m) {
  V2G_RETURN_IF_ERROR(CheckMeterIdArg(m.id));
  std::string q = "?limit=" + std::to_string(limits::kMetersPageMax);
  if (m.from_s >= 0) q += "&from=" + std::to_string(m.from_s);
  if (m.to_s >= 0) q += "&to=" + std::to_string(m.to_s);
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(j, client->GetJson("/v1/meters/" + m.id + "/readings" + q));
  if (ctx.json()) {
    PrintJson(j);
    return Status::Ok();
  }
  std::vector<std::pair<std::string, std::string>> rows{{"INTERVAL START", "IMPORT  EXPORT  READINGS"}};
  for (const auto& x : j.value("intervals", json::array())) {
    rows.emplace_back(JsonText(x, "interval_start"), Wh(x, "import_wh") + "  " + Wh(x, "export_wh") + "  " +
                                                         JsonText(x, "readings"));
  }
  std::cout << "Attested energy of meter '" << m.id << "' per " << JsonText(j, "settlement_interval_s")
            << " s settlement interval\n";
  PrintRows(rows);
  return Status::Ok();
}

Status CmdBattery(Context& ctx, const MeterArgs& m) {
  if (m.id.empty()) return Error(Code::kInvalidArgument, "give a vehicle METER (or: v2g battery profile set|show METER)");
  V2G_RETURN_IF_ERROR(CheckMeterIdArg(m.id));
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(j, client->GetJson("/v1/meters/" + m.id + "/battery"));
  if (ctx.json()) {
    PrintJson(j);
    return Status::Ok();
  }
  auto permille = [&](const json& x, const char* k) {
    return x.contains(k) && x[k].is_number_integer() ? FormatAmount(x[k].get<int64_t>(), 1) + " %" : "?";
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
  std::cout << "\nState of health by day (first reading of each day)\n";
  std::vector<std::pair<std::string, std::string>> rows{{"DATE", "SOH     CYCLES  V2G DISCHARGED"}};
  for (const auto& x : history) {
    rows.emplace_back(JsonText(x, "date"), permille(x, "soh_permille") + "  " + cycles(x) + "  " + Wh(x, "export_wh"));
  }
  PrintRows(rows);
  return Status::Ok();
}

// ------------------------------------------------------------------ meter-sim

struct SimArgs {
  std::string operator_key;  // signs RegisterMeter and the readings txs
  std::string owner;         // address or key name
  std::string fleet = "fleet";
  std::string prefix;  // meter ids <prefix>-0000...; default the fleet name
  std::string zone = "SIM";
  int64_t meters = 10;
  uint64_t seed = 1;
  int64_t duration_s = 300;
  int64_t interval_s = 60;
  int64_t settlement_s = 900;  // used only when the node does not say
  int64_t batch = 100;
  std::string sessions;
  int64_t discharge_from_s = -1;  // offsets from the start
  int64_t discharge_to_s = -1;
  int64_t discharge_from_unix_s = -1;  // or Unix times
  int64_t discharge_to_unix_s = -1;
  int64_t until_s = -1;       // live: stream until this Unix time instead of for duration_s
  bool plugged_in = false;    // SimConfig::plugged_in
  int32_t soc_permille = -1;  // SimConfig::start_soc_permille
  int64_t charger_w = 0;      // > 0: every newly registered vehicle imports and exports this much
  bool backfill = false;
};

// The fleet seed lives in the keystore as key `name` (encrypted exactly like account keys);
// created on first use. Every device key derives from it (wallet/meter_sim.h DeviceKey).
Result<KeyPair> LoadOrCreateFleetKey(Context& ctx, const std::string& name) {
  V2G_RETURN_IF_ERROR(ValidateKeyName(name));
  if (!ctx.keystore().Show(name).ok()) {
    auto pass = ctx.Passphrase(name, true);
    if (!pass.ok()) return pass.status();
    Secret p(std::move(pass).value());
    auto info = ctx.keystore().Add(name, p.get());
    if (!info.ok()) return info.status();
    std::cerr << "Created fleet key '" << name << "' in " << info->path << "\n";
  }
  return ctx.LoadKey(name);
}

Result<std::vector<Session>> ReadSessionsFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(Code::kIo, "cannot open sessions file " + path);
  std::string text;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kSessionsFileBytesMax) {
      return Error(Code::kTooLarge, "sessions file " + path + " is larger than " +
                                        std::to_string(kSessionsFileBytesMax >> 20) + " MiB");
    }
  }
  auto s = ParseSessionsCsv(text, path);
  if (s.ok() && s->empty()) return Error(Code::kInvalidArgument, "sessions file " + path + " has no sessions");
  return s;
}

Status CheckSimArgs(const SimArgs& a) {
  if (a.meters < 1 || a.meters > kSimMetersMax) {
    return Error(Code::kInvalidArgument, "--meters must be 1.." + std::to_string(kSimMetersMax));
  }
  if (a.duration_s < 1 || a.duration_s > 365 * 86400) return Error(Code::kInvalidArgument, "--duration must be 1..31536000 s");
  if (a.interval_s < 1 || a.interval_s > a.duration_s) {
    return Error(Code::kInvalidArgument, "--interval-s must be 1..--duration");
  }
  if (a.batch < 1 || a.batch > limits::kReadingsPerTxMax) {
    return Error(Code::kInvalidArgument, "--batch must be 1.." + std::to_string(limits::kReadingsPerTxMax));
  }
  if ((a.discharge_from_s < 0) != (a.discharge_to_s < 0) || (a.discharge_from_s >= 0 && a.discharge_to_s <= a.discharge_from_s)) {
    return Error(Code::kInvalidArgument, "--discharge-from and --discharge-to go together, with from < to");
  }
  if ((a.discharge_from_unix_s < 0) != (a.discharge_to_unix_s < 0) ||
      (a.discharge_from_unix_s >= 0 && a.discharge_to_unix_s <= a.discharge_from_unix_s)) {
    return Error(Code::kInvalidArgument, "--discharge-from-unix and --discharge-to-unix go together, with from < to");
  }
  if (a.discharge_from_s >= 0 && a.discharge_from_unix_s >= 0) {
    return Error(Code::kInvalidArgument, "give the discharge window either as offsets or as Unix times, not both");
  }
  if (a.until_s >= 0 && a.backfill) return Error(Code::kInvalidArgument, "--until is for live runs, not --backfill");
  if (a.plugged_in && !a.sessions.empty()) {
    return Error(Code::kInvalidArgument, "--plugged-in drives the built-in generator; --sessions says when vehicles plug in");
  }
  if (a.soc_permille < -1 || a.soc_permille > 1000) return Error(Code::kInvalidArgument, "--soc-permille must be 0..1000");
  if (a.charger_w < 0 || a.charger_w > limits::kMeterPowerWMax) {
    return Error(Code::kInvalidArgument, "--charger-w must be 1.." + std::to_string(limits::kMeterPowerWMax));
  }
  return Status::Ok();
}

std::string SimMeterId(const SimArgs& a, int64_t i) {
  std::string n = std::to_string(i);
  return (a.prefix.empty() ? a.fleet : a.prefix) + "-" + std::string(n.size() < 4 ? 4 - n.size() : 0, '0') + n;
}

// One fleet member as the chain has it: registered now or before (then it resumes).
struct SimMeter {
  VehicleSpec spec;
  KeyPair device;
  std::optional<pb::MeterReading> last;  // its last accepted reading on chain
};

pb::MeterReading ReadingFromJson(const json& j) {
  pb::MeterReading r;
  r.set_meter_id(j.value("meter_id", ""));
  r.set_seq(j.value("seq", uint64_t{0}));
  r.set_interval_start_s(j.value("interval_start_s", int64_t{0}));
  r.set_interval_end_s(j.value("interval_end_s", int64_t{0}));
  r.set_import_wh_total(j.value("import_wh_total", int64_t{0}));
  r.set_export_wh_total(j.value("export_wh_total", int64_t{0}));
  return r;
}

Result<SimMeter> EnsureSimMeter(ApiClient& client, const KeyPair& op, const Address& owner, const SimArgs& a,
                                const KeyPair& fleet, int64_t i) {
  Bytes seed = fleet.Seed();
  SimMeter m{GenerateVehicleSpec(a.seed, i, SimMeterId(a, i)), DeviceKey(seed, i), std::nullopt};
  SecureWipe(seed.data(), seed.size());
  if (a.charger_w > 0) m.spec.max_import_w = m.spec.max_export_w = a.charger_w;
  const std::string& id = m.spec.meter_id;
  auto got = client.GetJson("/v1/meters/" + id);
  if (!got.ok() && got.status().code() != Code::kNotFound) return got.status();
  if (!got.ok()) {
    SubmitOptions opts;
    auto sub = SignAndSubmit(client, op,
                             MakeRegisterMeter(0, id, m.device.public_key(), pb::METER_KIND_VEHICLE, a.zone, owner,
                                               m.spec.max_import_w, m.spec.max_export_w, m.spec.capacity_wh),
                             opts);
    if (!sub.ok()) return Error(sub.status().code(), "registering meter '" + id + "': " + sub.status().message());
    if (!sub->result.committed() || sub->result.code != 0) {
      return Error(Code::kUnavailable, "registering meter '" + id + "': " +
                                           (sub->result.committed() ? sub->result.code_name + ": " + sub->result.log
                                                                    : "not committed in time"));
    }
    return m;
  }
  const json& j = *got;
  if (j.value("device_pubkey", "") != HexEncode(ByteView(m.device.public_key().data(), kPublicKeyBytes))) {
    return Error(Code::kAlreadyExists, "meter '" + id + "' is registered with another device key (another fleet or "
                                           "--fleet/--prefix clash); pick another --prefix");
  }
  if (!j.value("active", false)) return Error(Code::kMeterDeactivated, "meter '" + id + "' is deactivated");
  m.spec.max_import_w = j.value("max_import_w", int64_t{0});
  m.spec.max_export_w = j.value("max_export_w", int64_t{0});
  m.spec.capacity_wh = j.value("battery_capacity_wh", int64_t{0});
  if (m.spec.capacity_wh <= 0 || m.spec.max_import_w < 0 || m.spec.max_export_w < 0) {
    return Error(Code::kMalformed, "meter '" + id + "' on chain is not a vehicle meter this simulator can drive");
  }
  if (j.contains("last_reading") && j["last_reading"].is_object()) m.last = ReadingFromJson(j["last_reading"]);
  return m;
}

// Signs `readings` with their devices, submits them as one SubmitReadings tx, waits for the commit
// and tallies the accepted ones. Returns the number rejected.
Result<int64_t> SubmitSimBatch(ApiClient& client, const KeyPair& op, std::vector<pb::MeterReading> readings,
                               AttestedTally& tally, std::map<std::string, int64_t>& rejected) {
  std::vector<pb::MeterReading> sent = readings;
  SubmitOptions opts;
  opts.timeout_ms = limits::kWaitCommitMsMax;
  auto sub = SignAndSubmit(client, op, MakeSubmitReadings(0, std::move(readings)), opts);
  if (!sub.ok()) return sub.status();
  if (!sub->result.committed()) {
    return Error(Code::kUnavailable, "readings tx " + sub->result.hash + " was not committed within " +
                                         std::to_string(opts.timeout_ms) + " ms");
  }
  if (sub->result.code != 0) {
    return Error(Code::kInternal, "readings tx failed: " + sub->result.code_name + ": " + sub->result.log);
  }
  std::vector<bool> bad(sent.size(), false);
  for (const auto& rej : sub->result.raw.value("rejected_readings", json::array())) {
    const size_t idx = rej.value("index", size_t{0});
    if (idx >= sent.size()) continue;
    bad[idx] = true;
    ++rejected[sent[idx].meter_id()];
    std::cerr << "warning: reading " << sent[idx].seq() << " of meter '" << sent[idx].meter_id()
              << "' rejected: " << rej.value("code_name", "") << ": " << rej.value("message", "") << "\n";
  }
  int64_t n = 0;
  for (size_t i = 0; i < sent.size(); ++i) {
    if (bad[i]) {
      ++n;
    } else {
      tally.Add(sent[i]);
    }
  }
  return n;
}

int64_t NowS() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void PrintSimReport(Context& ctx, const SimArgs& a, const SimConfig& c, const std::vector<SimMeter>& fleet,
                    const AttestedTally& tally, const std::map<std::string, int64_t>& rejected) {
  json meters = json::array();
  for (const auto& m : fleet) {
    const std::string& id = m.spec.meter_id;
    auto it = tally.meters().find(id);
    json intervals = json::array();
    json j = {{"meter_id", id}, {"readings_accepted", 0}, {"readings_rejected", 0}};
    if (auto r = rejected.find(id); r != rejected.end()) j["readings_rejected"] = r->second;
    if (it != tally.meters().end()) {
      j["readings_accepted"] = it->second.readings_sent;
      for (const auto& [start, e] : it->second.intervals) {
        intervals.push_back({{"interval_start_s", start}, {"interval_end_s", start + c.settlement_s},
                             {"import_wh", e.import_wh}, {"export_wh", e.export_wh}, {"readings", e.readings}});
      }
      j["unattributed_import_wh"] = it->second.unattributed_import_wh;
      j["unattributed_export_wh"] = it->second.unattributed_export_wh;
    }
    j["intervals"] = intervals;
    meters.push_back(j);
  }
  if (ctx.json()) {
    PrintJson({{"fleet", a.fleet}, {"settlement_interval_s", c.settlement_s}, {"interval_s", c.interval_s},
               {"start_s", c.start_s}, {"seed", a.seed}, {"meters", meters}});
    return;
  }
  std::cout << "Attested energy sent per " << c.settlement_s << " s settlement interval (Wh):\n";
  std::vector<std::pair<std::string, std::string>> rows{{"METER / INTERVAL START", "IMPORT  EXPORT  READINGS"}};
  for (const auto& m : meters) {
    rows.emplace_back(m["meter_id"].get<std::string>(), "accepted " + m["readings_accepted"].dump() + ", rejected " +
                                                            m["readings_rejected"].dump());
    for (const auto& i : m["intervals"]) {
      rows.emplace_back("  " + i["interval_start_s"].dump(),
                        i["import_wh"].dump() + "  " + i["export_wh"].dump() + "  " + i["readings"].dump());
    }
  }
  PrintRows(rows);
}

Status CmdMeterSim(Context& ctx, const SimArgs& a) {
  V2G_RETURN_IF_ERROR(CheckSimArgs(a));
  if (!ValidMeterId(SimMeterId(a, a.meters - 1))) {
    return Error(Code::kInvalidArgument, "meter ids '" + SimMeterId(a, 0) + "'... are not valid meter ids (--prefix)");
  }
  if (!ValidZone(a.zone)) return Error(Code::kInvalidArgument, "--zone must be 1-32 of A-Z a-z 0-9 . _ -");
  std::vector<Session> sessions;
  if (!a.sessions.empty()) {
    V2G_ASSIGN_OR_RETURN(s, ReadSessionsFile(a.sessions));
    sessions = std::move(s);
  }
  V2G_ASSIGN_OR_RETURN(owner, ResolveAccount(ctx.keystore(), a.owner));
  V2G_ASSIGN_OR_RETURN(op_info, ctx.keystore().Show(a.operator_key));
  V2G_ASSIGN_OR_RETURN(op, ctx.LoadKey(op_info.name));
  V2G_ASSIGN_OR_RETURN(fleet_key, LoadOrCreateFleetKey(ctx, a.fleet));
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(status, client->GetStatus());
  std::vector<SimMeter> fleet;
  for (int64_t i = 0; i < a.meters; ++i) {
    V2G_ASSIGN_OR_RETURN(m, EnsureSimMeter(*client, op, owner.address, a, fleet_key, i));
    fleet.push_back(std::move(m));
  }
  SimConfig c;
  c.seed = a.seed;
  c.interval_s = a.interval_s;
  c.settlement_s = a.settlement_s;
  // The chain's settlement interval, as the readings endpoint reports it.
  auto rj = client->GetJson("/v1/meters/" + fleet[0].spec.meter_id + "/readings?limit=1");
  if (rj.ok() && rj->value("settlement_interval_s", int64_t{0}) > 0) c.settlement_s = (*rj)["settlement_interval_s"];
  const int64_t now = NowS();
  c.start_s = (a.backfill ? now - a.duration_s : now) / a.interval_s * a.interval_s;
  // Fixed before a resume moves the start.
  const int64_t end_s = a.until_s >= 0 ? a.until_s : c.start_s + a.duration_s;
  if (end_s < c.start_s + a.interval_s) {
    return Error(Code::kInvalidArgument, "--until " + std::to_string(a.until_s) + " leaves no whole reading (now " +
                                             std::to_string(now) + ", readings of " + std::to_string(a.interval_s) + " s)");
  }
  for (const auto& m : fleet) {  // never before what the chain already has
    if (m.last) c.start_s = std::max(c.start_s, (m.last->interval_end_s() + a.interval_s - 1) / a.interval_s * a.interval_s);
  }
  if (a.discharge_from_s >= 0) {
    c.discharge_from_s = c.start_s + a.discharge_from_s;
    c.discharge_to_s = c.start_s + a.discharge_to_s;
  } else if (a.discharge_from_unix_s >= 0) {
    c.discharge_from_s = a.discharge_from_unix_s;
    c.discharge_to_s = a.discharge_to_unix_s;
  }
  c.plugged_in = a.plugged_in;
  c.start_soc_permille = a.soc_permille;
  V2G_RETURN_IF_ERROR(ValidateSimConfig(c));
  std::vector<VehicleSpec> specs;
  for (const auto& m : fleet) specs.push_back(m.spec);
  FleetSim sim(c, specs, std::move(sessions));
  AttestedTally tally(c.settlement_s);
  std::map<std::string, size_t> index_of;
  for (size_t i = 0; i < fleet.size(); ++i) {
    index_of[fleet[i].spec.meter_id] = i;
    if (fleet[i].last) {
      sim.Resume(i, {fleet[i].last->seq(), fleet[i].last->import_wh_total(), fleet[i].last->export_wh_total(),
                     fleet[i].last->interval_end_s()});
      tally.Seed(*fleet[i].last);
    }
  }
  std::map<std::string, int64_t> rejected;
  std::vector<pb::MeterReading> pending;
  auto flush = [&]() -> Status {
    if (pending.empty()) return Status::Ok();
    auto n = SubmitSimBatch(*client, op, std::move(pending), tally, rejected);
    pending.clear();
    return n.status();
  };
  for (int64_t t = c.start_s; t + c.interval_s <= end_s; t += c.interval_s) {
    if (!a.backfill) {  // a reading is sent once its interval is over, never from the future
      while (NowS() < t + c.interval_s) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    for (auto& r : sim.Step(t)) {
      SignReading(fleet[index_of.at(r.meter_id())].device, status.chain_id, r);
      pending.push_back(std::move(r));
      if (static_cast<int64_t>(pending.size()) == a.batch) V2G_RETURN_IF_ERROR(flush());
    }
    if (!a.backfill) V2G_RETURN_IF_ERROR(flush());
  }
  V2G_RETURN_IF_ERROR(flush());
  PrintSimReport(ctx, a, c, fleet, tally, rejected);
  return Status::Ok();
}

// ------------------------------------------------------------------ energy market

struct MarketArgs {
  std::string side;  // contract propose: sell | buy
  std::string meter;
  std::string zone;
  std::string interval;  // Unix seconds, RFC 3339, next, next+K
  std::string price;     // human units of the market denomination per kWh
  int64_t energy_wh = 0;
  uint64_t id = 0;      // order or contract id
  std::string account;  // address or key name
  std::string from_t;   // results: interval starts from / to
  std::string to_t;
  uint64_t pool = 0;    // sell: the pool an aggregator sells for (instead of --meter)
  bool force = false;   // sell: below the battery wear cost anyway
};

// {"denom", "amount", "display"} of an API answer as "12.50 CNY".
std::string MoneyText(const json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_object()) return "?";
  const json& m = j[key];
  const std::string amount = m.contains("display") && m["display"].is_string()
                                 ? m["display"].get<std::string>()
                                 : JsonText(m, "amount");
  return amount + " " + JsonText(m, "denom");
}
std::string PriceText(const json& j, const char* key) { return MoneyText(j, key) + "/kWh"; }
int64_t JsonInt(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>() : 0;
}
std::string KwhText(const json& j, const char* key) { return FormatKwh(JsonInt(j, key)); }
std::string IntervalText(const json& j) { return FormatTimeS(JsonInt(j, "interval_start_s")); }
void PrintTable(const std::vector<std::vector<std::string>>& rows,
                const std::vector<size_t>& right) {
  std::cout << FormatTable(rows, right);
}

// Shows the addresses of this wallet's keys by their names.
class KeyNames {
 public:
  explicit KeyNames(Context& ctx) {
    auto keys = ctx.keystore().List();
    if (!keys.ok()) return;
    for (const auto& k : *keys) names_[k.address] = k.name;
  }
  std::string operator()(const std::string& address) const {
    auto it = names_.find(address);
    return it == names_.end() ? address : it->second;
  }

 private:
  std::map<std::string, std::string> names_;
};

Status CheckZoneArg(const std::string& zone) {
  if (!ValidZone(zone)) {
    return Error(Code::kInvalidArgument, "--zone '" + zone.substr(0, 40) +
                                             "' is not a zone name (1-32 of A-Z a-z 0-9 . _ -)");
  }
  return Status::Ok();
}

Status CheckIdArg(uint64_t id, const char* what) {
  if (id == 0)
    return Error(Code::kInvalidArgument, std::string(what) + " must be a positive integer");
  return Status::Ok();
}

std::string IntervalRow(int64_t start, const MarketParams& p) {
  return FormatTimeS(start) + " (" + std::to_string(start) + "), " +
         std::to_string(p.interval_s / 60) + " min; gate closes " +
         FormatTimeS(start - p.gate_closure_s);
}

json MoneyJson(int64_t units, const MarketParams& p) {
  return {{"denom", p.denom},
          {"amount", std::to_string(units)},
          {"display", FormatAmount(units, p.decimals)}};
}

// The battery-wear floor (wallet/battery_wear.h): a sell from a vehicle whose owner keeps a
// battery profile in this wallet is refused below the wear cost per kWh, unless --force.
Status CheckSellAgainstWear(Context& ctx, const MarketArgs& m, const MarketContext& mk, int64_t price) {
  auto profile = LoadProfile(ctx.globals().home, m.meter);
  if (!profile.ok()) {
    if (profile.status().code() != Code::kNotFound) return profile.status();
    if (!ctx.json()) {
      std::cerr << "hint: meter '" << m.meter << "' has no battery profile; with one (v2g battery profile set "
                << m.meter << " ...) a price below its battery wear cost is refused\n";
    }
    return Status::Ok();
  }
  const int64_t wear = WearCostPerKwh(*profile);
  if (price >= wear) return Status::Ok();
  const std::string what = "the limit price " + FormatPrice(price, mk.params) +
                           " is below the battery wear cost of meter '" + m.meter + "', " +
                           FormatPrice(wear, mk.params) + " (its battery profile)";
  if (!m.force) {
    return Error(Code::kInvalidArgument,
                 what + ": every kWh sold at this price loses money on the battery; raise --price to at least " +
                     FormatAmount(wear, mk.params.decimals) + " or pass --force to sell anyway");
  }
  std::cerr << "warning: " << what << "; selling anyway (--force)\n";
  return Status::Ok();
}

using AfterCommit = std::function<void(ApiClient&, const SubmitResult&, TxDescription&)>;

// Fee and memo, passphrase, signature, submission and the report, as for send; `after` adds what
// a committed, successful tx created (ids, locked amounts) to the report.
Status SubmitMarketTx(Context& ctx, const TxArgs& a, pb::TxBody body, TxDescription d,
                      const AfterCommit& after) {
  V2G_ASSIGN_OR_RETURN(signer, ctx.keystore().Show(a.from));
  if (!ValidUtf8(a.memo)) return Error(Code::kInvalidArgument, "memo is not valid UTF-8");
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  if (!a.fee.empty()) {
    V2G_ASSIGN_OR_RETURN(denoms, client->GetDenoms());
    V2G_ASSIGN_OR_RETURN(fee, ParseFee(Upper(a.fee), denoms));
    *body.mutable_fee() = fee;
    auto fee_denom = FindDenom(denoms, fee.denom());
    d.fee = {{"denom", fee.denom()},
             {"amount", std::to_string(fee.amount())},
             {"display", FormatAmount(fee.amount(), fee_denom->decimals)}};
  }
  body.set_memo(a.memo);
  V2G_ASSIGN_OR_RETURN(key, ctx.LoadKey(signer.name));
  SubmitOptions opts;
  opts.wait_commit = !a.no_wait;
  V2G_ASSIGN_OR_RETURN(submitted, SignAndSubmit(*client, key, std::move(body), opts));
  if (submitted.result.committed() && submitted.result.code == 0 && after)
    after(*client, submitted.result, d);
  return ReportSubmitted(ctx, submitted, d, a);
}

// What the market's fields say about one order or contract, from the node (null if it is gone).
json FetchRecord(ApiClient& client, const std::string& kind, uint64_t id) {
  auto r = client.GetJson("/v1/" + kind + "s/" + std::to_string(id));
  return r.ok() ? *r : json(nullptr);
}

Status CmdMarketPlace(Context& ctx, const MarketArgs& m, const TxArgs& a, pb::Side side) {
  const bool sell = side == pb::SIDE_SELL;
  const bool pool = sell && m.pool != 0;
  V2G_ASSIGN_OR_RETURN(signer, ctx.keystore().Show(a.from));
  if (sell && m.meter.empty() == (m.pool == 0)) {
    return Error(Code::kInvalidArgument,
                 "name the seller's energy source: --meter METER (your meter) or --pool POOL_ID (an aggregator "
                 "selling for its pool), not both");
  }
  if (pool && m.force) return Error(Code::kInvalidArgument, "--force is about your own meter's battery; not with --pool");
  if (sell && !pool) V2G_RETURN_IF_ERROR(CheckMeterIdArg(m.meter));
  V2G_RETURN_IF_ERROR(CheckZoneArg(m.zone));
  V2G_RETURN_IF_ERROR(CheckEnergyWh(m.energy_wh));
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(mk, FetchMarket(*client));
  V2G_ASSIGN_OR_RETURN(price, ParsePricePerKwh(m.price, mk.params));
  V2G_ASSIGN_OR_RETURN(start, ResolveInterval(m.interval, mk.params, mk.latest_block_time_ms));
  if (sell && !pool) V2G_RETURN_IF_ERROR(CheckSellAgainstWear(ctx, m, mk, price));
  const auto lock = OrderLock(sell, m.energy_wh, price, mk.params);
  if (!lock) {
    return Error(Code::kOverflow,
                 FormatKwh(m.energy_wh) + " at " + FormatPrice(price, mk.params) + " overflows");
  }
  const std::string lock_kind = sell ? "collateral" : "escrow";
  TxDescription d;
  d.summary = std::string(sell ? "Sell " : "Buy ") + FormatKwh(m.energy_wh) +
              (sell ? " at no less than " : " at up to ") + FormatPrice(price, mk.params) +
              " in zone " + m.zone +
              (pool ? " for pool " + std::to_string(m.pool) : sell ? " from meter " + m.meter : "") + " (" +
              signer.name + ")";
  d.details = {{"interval", IntervalRow(start, mk.params)},
               {"locks", FormatMoney(*lock, mk.params) + " " + lock_kind +
                             " until clearing and settlement"}};
  d.op = {{"type", "place_order"},
          {"side", sell ? "sell" : "buy"},
          {"zone", m.zone},
          {"interval_start", FormatRfc3339Ms(start * 1000)},
          {"interval_start_s", start},
          {"energy_wh", m.energy_wh},
          {"limit_price", MoneyJson(price, mk.params)},
          {"meter_id", sell ? m.meter : ""}};
  if (pool) d.op["pool_id"] = m.pool;
  pb::TxBody body = pool ? MakePoolSell(0, m.pool, m.zone, start, m.energy_wh, price)
                         : MakePlaceOrder(0, side, m.zone, start, m.energy_wh, price, sell ? m.meter : "");
  return SubmitMarketTx(
      ctx, a, std::move(body), d, [&](ApiClient& c, const SubmitResult& r, TxDescription& out) {
        if (r.created_id == 0) return;
        const json order = FetchRecord(c, "order", r.created_id);
        const std::string locked =
            order.is_object() ? MoneyText(order, "locked_initial") : FormatMoney(*lock, mk.params);
        out.results = {{"order", std::to_string(r.created_id)},
                       {"locked", locked + " " + lock_kind},
                       {"cancel with", "v2g market cancel --from " + signer.name + " " +
                                           std::to_string(r.created_id)}};
        out.result_json = {
            {"order", order},
            {"locked", order.is_object() ? order["locked_initial"] : MoneyJson(*lock, mk.params)}};
      });
}

Status CmdMarketCancel(Context& ctx, const MarketArgs& m, const TxArgs& a) {
  V2G_RETURN_IF_ERROR(CheckIdArg(m.id, "ORDER_ID"));
  TxDescription d;
  d.summary = "Cancel order " + std::to_string(m.id);
  d.op = {{"type", "cancel_order"}, {"order_id", m.id}};
  return SubmitMarketTx(ctx, a, MakeCancelOrder(0, m.id), d,
                        [&](ApiClient& c, const SubmitResult&, TxDescription& out) {
                          const json order = FetchRecord(c, "order", m.id);
                          if (!order.is_object()) return;
                          out.results = {{"refunded", MoneyText(order, "refunded")}};
                          out.result_json = {{"order", order}};
                        });
}

// An account named on the command line, or every key in the wallet.
Result<std::vector<AccountRef>> AccountsOrAllKeys(Context& ctx, const std::string& who) {
  std::vector<AccountRef> refs;
  if (!who.empty()) {
    V2G_ASSIGN_OR_RETURN(ref, ResolveAccount(ctx.keystore(), who));
    refs.push_back(ref);
    return refs;
  }
  V2G_ASSIGN_OR_RETURN(keys, ctx.keystore().List());
  if (keys.empty()) {
    return Error(Code::kInvalidArgument,
                 "no keys in " + ctx.keystore().dir() + ": give an address or a key name");
  }
  for (const auto& k : keys) {
    V2G_ASSIGN_OR_RETURN(ref, ResolveAccount(ctx.keystore(), k.name));
    refs.push_back(ref);
  }
  return refs;
}

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

// `market orders` and `contract list`: GET /v1/accounts/{address}/orders?kind=...
Status CmdAccountOrders(Context& ctx, const std::string& who, bool contracts) {
  V2G_ASSIGN_OR_RETURN(refs, AccountsOrAllKeys(ctx, who));
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
      {"market", JsonText(mj, "zone") + ", interval " + IntervalText(mj) + " (" +
                     JsonText(mj, "interval_start_s") + ")"},
      {"status", status},
      {"gate closure", FormatTimeS(JsonInt(mj, "gate_closure_s"))},
      {"settlement", "due " + FormatTimeS(JsonInt(mj, "settlement_due_s"))},
      {"orders",
       JsonText(mj, "buy_orders") + " buy, " + JsonText(mj, "sell_orders") + " sell (ever placed)"},
      {"contracts", JsonText(mj, "contracts") + " proposed, " + KwhText(mj, "contract_energy_wh") +
                        " accepted"}};
  if (status != "open") {
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

Status CmdMarketBook(Context& ctx, const MarketArgs& m) {
  V2G_RETURN_IF_ERROR(CheckZoneArg(m.zone));
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(mk, FetchMarket(*client));
  V2G_ASSIGN_OR_RETURN(start, ResolveInterval(m.interval, mk.params, mk.latest_block_time_ms));
  V2G_ASSIGN_OR_RETURN(j, client->GetJson("/v1/markets/" + m.zone + "/" + std::to_string(start) +
                                          "?limit=" + std::to_string(limits::kMarketPageMax)));
  if (ctx.json()) {
    PrintJson(j);
    return Status::Ok();
  }
  PrintRows(MarketRows(j));
  const json depth = j.value("depth", json::object());
  const bool cleared = depth.value("orders", "") == "auction";
  std::cout << (cleared ? "\nOrder book at clearing (cancelled orders left out)\n"
                        : "\nOpen orders by price\n");
  PrintLevels("Bids (buy, highest first)", depth.value("bids", json::array()), cleared);
  PrintLevels("Asks (sell, lowest first)", depth.value("asks", json::array()), cleared);
  return Status::Ok();
}

Status CmdMarketTrades(Context& ctx, const MarketArgs& m) {
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

Status CmdMarketResults(Context& ctx, const MarketArgs& m) {
  if (!m.zone.empty()) V2G_RETURN_IF_ERROR(CheckZoneArg(m.zone));
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(mk, FetchMarket(*client));
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
  V2G_ASSIGN_OR_RETURN(j, client->GetJson(q));
  if (ctx.json()) {
    PrintJson(j);
    return Status::Ok();
  }
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
}

// ---- bilateral contracts

Status CmdContractPropose(Context& ctx, const MarketArgs& m, const TxArgs& a) {
  V2G_ASSIGN_OR_RETURN(signer, ctx.keystore().Show(a.from));
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
  V2G_RETURN_IF_ERROR(CheckZoneArg(m.zone));
  V2G_RETURN_IF_ERROR(CheckEnergyWh(m.energy_wh));
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(mk, FetchMarket(*client));
  V2G_ASSIGN_OR_RETURN(price, ParsePricePerKwh(m.price, mk.params));
  V2G_ASSIGN_OR_RETURN(start, ResolveInterval(m.interval, mk.params, mk.latest_block_time_ms));
  const auto value = OrderLock(false, m.energy_wh, price, mk.params);
  if (!value)
    return Error(Code::kOverflow,
                 FormatKwh(m.energy_wh) + " at " + FormatPrice(price, mk.params) + " overflows");
  const std::string to_label = AccountLabel(to.address_text, to.key_name);
  TxDescription d;
  d.summary = "Propose to " + std::string(sell ? "sell " : "buy ") + FormatKwh(m.energy_wh) +
              " at " + FormatPrice(price, mk.params) + (sell ? " to " : " from ") + to_label +
              " in zone " + m.zone + (sell ? " from meter " + m.meter : "");
  d.details = {{"interval", IntervalRow(start, mk.params)},
               {"value", FormatMoney(*value, mk.params) +
                             "; nothing is locked until the counterparty accepts"}};
  d.op = {{"type", "propose_contract"},
          {"counterparty", to.address_text},
          {"side", sell ? "sell" : "buy"},
          {"zone", m.zone},
          {"interval_start", FormatRfc3339Ms(start * 1000)},
          {"interval_start_s", start},
          {"energy_wh", m.energy_wh},
          {"price", MoneyJson(price, mk.params)},
          {"meter_id", sell ? m.meter : ""}};
  pb::TxBody body = MakeProposeContract(0, to.address, *side, m.zone, start, m.energy_wh, price,
                                        sell ? m.meter : "");
  const std::string to_key =
      KeyNames(ctx)(to.address_text);  // the counterparty's key, if in this wallet
  return SubmitMarketTx(
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

Status CmdContractAccept(Context& ctx, const MarketArgs& m, const TxArgs& a) {
  V2G_RETURN_IF_ERROR(CheckIdArg(m.id, "CONTRACT_ID"));
  V2G_ASSIGN_OR_RETURN(signer, ctx.keystore().Show(a.from));
  if (!m.meter.empty()) V2G_RETURN_IF_ERROR(CheckMeterIdArg(m.meter));
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(k, client->GetJson("/v1/contracts/" + std::to_string(m.id)));
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
  d.details = {{"interval", IntervalText(k) + " (" + JsonText(k, "interval_start_s") + ")"}};
  d.op = {{"type", "accept_contract"}, {"contract_id", m.id}, {"meter_id", m.meter}};
  return SubmitMarketTx(
      ctx, a, MakeAcceptContract(0, m.id, m.meter), d,
      [&](ApiClient& c, const SubmitResult&, TxDescription& out) {
        const json now = FetchRecord(c, "contract", m.id);
        if (!now.is_object()) return;
        out.results = {{"locked", seller ? MoneyText(now, "collateral") + " collateral"
                                         : MoneyText(now, "escrow") + " escrow"}};
        out.result_json = {{"contract", now}};
      });
}

Status CmdContractCancel(Context& ctx, const MarketArgs& m, const TxArgs& a) {
  V2G_RETURN_IF_ERROR(CheckIdArg(m.id, "CONTRACT_ID"));
  TxDescription d;
  d.summary = "Withdraw contract proposal " + std::to_string(m.id);
  d.op = {{"type", "cancel_contract"}, {"contract_id", m.id}};
  return SubmitMarketTx(ctx, a, MakeCancelContract(0, m.id), d, nullptr);
}

// ------------------------------------------------------------------ grid services and pools

struct GridArgs {
  std::string zone;
  std::string from_interval;  // tariff set: first interval
  std::string prices;         // 24 comma-separated hourly prices
  std::string flat;
  std::vector<std::string> peaks;  // HOURS:PRICE
  std::string export_price;
  std::string meter;
  std::string kind;
  std::string start, end, deadline;  // times as typed
  std::string target_kw, power_kw, baseline_kwh;
  std::string price, budget;
  std::string baseline;
  uint64_t id = 0;       // event, pool or program id
  uint64_t pool = 0;     // event enroll --pool
  std::string name;
  std::string fee_percent;
  int64_t fee_bps = -1;
  std::string denom;
  std::string rate, rebate_percent, hours;
  std::string status;  // event list filter
  std::string account;
  std::string from_t, to_t;
};

// The market parameters (denomination, interval) every grid command needs, from the node.
Result<MarketContext> GridMarket(Context& ctx) {
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  return FetchMarket(*client);
}

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

// The id a committed create tx reports, as the next command to run.
AfterCommit CreatedId(const std::string& what, std::function<std::string(const std::string&)> next) {
  return [what, next = std::move(next)](ApiClient&, const SubmitResult& r, TxDescription& out) {
    if (r.created_id == 0) return;
    const std::string id = std::to_string(r.created_id);
    out.results = {{what, id}};
    if (next) out.results.emplace_back("next", next(id));
    out.result_json = {{what + "_id", r.created_id}};
  };
}

Status CmdTariffSet(Context& ctx, const GridArgs& g, const TxArgs& a) {
  V2G_RETURN_IF_ERROR(CheckZoneArg(g.zone));
  V2G_ASSIGN_OR_RETURN(mk, GridMarket(ctx));
  V2G_ASSIGN_OR_RETURN(prices, ParseTariffPrices(g.prices, g.flat, g.peaks, mk.params));
  V2G_ASSIGN_OR_RETURN(export_price, ParseTariffPrice(g.export_price, mk.params, "--export-price"));
  V2G_ASSIGN_OR_RETURN(from, ResolveInterval(g.from_interval, mk.params, mk.latest_block_time_ms, "--from-interval"));
  TxDescription d;
  d.summary = "Publish the time-of-use tariff of zone " + g.zone + " from " + FormatTimeS(from);
  d.details = {{"import", TariffHoursText(prices, mk.params)},
               {"feed-in", FormatPrice(export_price, mk.params) + " for export not sold in the market or an event"}};
  d.op = {{"type", "set_tariff"},
          {"zone", g.zone},
          {"effective_from_s", from},
          {"import_prices", PricesJson(prices, mk.params)},
          {"export_price", MoneyJson(export_price, mk.params)}};
  return SubmitMarketTx(ctx, a, MakeSetTariff(0, g.zone, from, prices, export_price), d, nullptr);
}

Status CmdTariffEnroll(Context& ctx, const GridArgs& g, const TxArgs& a) {
  V2G_RETURN_IF_ERROR(CheckMeterIdArg(g.meter));
  TxDescription d;
  d.summary = "Bill meter '" + g.meter + "' under its zone's time-of-use tariff from the next interval";
  d.op = {{"type", "enroll_tariff"}, {"meter_id", g.meter}};
  return SubmitMarketTx(ctx, a, MakeEnrollTariff(0, g.meter), d, nullptr);
}

// An account's outstanding debts (GET /v1/accounts/{address}/debts) as a money JSON total.
Result<int64_t> FetchDebtTotal(ApiClient& client, const std::string& address) {
  V2G_ASSIGN_OR_RETURN(j, client.GetJson("/v1/accounts/" + address + "/debts"));
  if (j.contains("total")) {
    const json& t = j["total"];
    const json& v = t.is_object() ? t.value("amount", json()) : t;
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_string()) return static_cast<int64_t>(std::stoll(v.get<std::string>()));
  }
  int64_t sum = 0;
  for (const auto& x : j.value("debts", json::array())) {
    const json& v = x.contains("amount") && x["amount"].is_object() ? x["amount"].value("amount", json()) : x.value("amount", json());
    if (v.is_number_integer()) sum += v.get<int64_t>();
    if (v.is_string()) sum += std::stoll(v.get<std::string>());
  }
  return sum;
}

Status CmdTariffPayDebt(Context& ctx, const TxArgs& a) {
  V2G_ASSIGN_OR_RETURN(signer, ctx.keystore().Show(a.from));
  V2G_ASSIGN_OR_RETURN(mk, GridMarket(ctx));
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  TxDescription d;
  d.summary = "Pay the tariff debts of " + signer.name + " in " + mk.params.denom + ", oldest creditor first";
  if (auto owed = FetchDebtTotal(*client, signer.address); owed.ok()) {
    d.details = {{"owed", FormatMoney(*owed, mk.params)}};
  }
  d.op = {{"type", "pay_debt"}, {"denom", mk.params.denom}};
  const MarketParams p = mk.params;
  const std::string address = signer.address;
  return SubmitMarketTx(ctx, a, MakePayDebt(0, mk.params.denom), d,
                        [p, address](ApiClient& c, const SubmitResult&, TxDescription& out) {
                          auto left = FetchDebtTotal(c, address);
                          if (!left.ok()) return;
                          out.results = {{"still owed", FormatMoney(*left, p)}};
                          out.result_json = {{"still_owed", MoneyJson(*left, p)}};
                        });
}

Status CmdEventCreate(Context& ctx, const GridArgs& g, const TxArgs& a) {
  const auto kind = ParseEventKind(g.kind);
  if (!kind) return Error(Code::kInvalidArgument, "--kind must be peak_relief, valley_fill or reverse_discharge");
  V2G_RETURN_IF_ERROR(CheckZoneArg(g.zone));
  pb::BaselineMethod baseline = pb::BASELINE_UNSPECIFIED;
  if (*kind == pb::EVENT_REVERSE_DISCHARGE) {
    if (!g.baseline.empty())
      return Error(Code::kInvalidArgument, "--baseline: reverse discharge is measured by export and takes no baseline");
  } else {
    const auto b = ParseBaseline(g.baseline.empty() ? "declared" : g.baseline);
    if (!b) return Error(Code::kInvalidArgument, "--baseline must be declared or prior_days");
    baseline = *b;
  }
  V2G_ASSIGN_OR_RETURN(mk, GridMarket(ctx));
  const MarketParams& p = mk.params;
  V2G_ASSIGN_OR_RETURN(start, ResolveInterval(g.start, p, mk.latest_block_time_ms, "--start"));
  V2G_ASSIGN_OR_RETURN(end, ResolveInterval(g.end, p, mk.latest_block_time_ms, "--end"));
  if (end <= start) return Error(Code::kInvalidArgument, "--end must be later than --start");
  if (end - start > limits::kEventDurationSMax)
    return Error(Code::kInvalidArgument, "--end: an event lasts at most " + std::to_string(limits::kEventDurationSMax / 86400) + " days");
  int64_t deadline = start;
  if (!g.deadline.empty()) {
    V2G_ASSIGN_OR_RETURN(t, ResolveTime(g.deadline, p, mk.latest_block_time_ms, "--deadline"));
    deadline = t;
  }
  if (deadline > start) return Error(Code::kInvalidArgument, "--deadline must not be after --start");
  V2G_ASSIGN_OR_RETURN(target_w, ParseKw(g.target_kw, "--target-kw"));
  V2G_ASSIGN_OR_RETURN(price, ParsePricePerKwh(g.price, p));
  V2G_ASSIGN_OR_RETURN(budget, ParseBudget(g.budget, p.decimals, p.denom, "--budget"));
  TxDescription d;
  d.summary = "Create a " + g.kind + " event in zone " + g.zone + " (budget " + FormatMoney(budget, p) + " escrowed)";
  d.details = {{"window", FormatTimeS(start) + " to " + FormatTimeS(end)},
               {"enrollment", "until " + FormatTimeS(deadline)},
               {"target", FormatKw(target_w)},
               {"pays", FormatPrice(price, p) + " of performance"},
               {"baseline", baseline == pb::BASELINE_UNSPECIFIED ? "none (export)" : std::string(BaselineName(baseline))}};
  d.op = {{"type", "create_event"}, {"kind", g.kind}, {"zone", g.zone}, {"start_s", start}, {"end_s", end},
          {"target_power_w", target_w}, {"price", MoneyJson(price, p)}, {"budget", MoneyJson(budget, p)},
          {"enrollment_deadline_s", deadline},
          {"baseline", baseline == pb::BASELINE_UNSPECIFIED ? "" : std::string(BaselineName(baseline))}};
  return SubmitMarketTx(ctx, a, MakeCreateEvent(0, *kind, g.zone, start, end, target_w, price, budget, deadline, baseline),
                        d, CreatedId("event", [](const std::string& id) {
                          return "owners enroll with: v2g event enroll --from KEY " + id + " --meter METER --power-kw X";
                        }));
}

Status CmdEventEnroll(Context& ctx, const GridArgs& g, const TxArgs& a) {
  V2G_RETURN_IF_ERROR(CheckIdArg(g.id, "EVENT_ID"));
  if (g.meter.empty() == (g.pool == 0))
    return Error(Code::kInvalidArgument, "enroll one meter (--meter METER) or, as its aggregator, a pool (--pool ID)");
  if (!g.meter.empty()) V2G_RETURN_IF_ERROR(CheckMeterIdArg(g.meter));
  if (g.pool != 0 && !g.baseline_kwh.empty())
    return Error(Code::kInvalidArgument, "--baseline-kwh: a pool's baseline comes from its members' history");
  V2G_ASSIGN_OR_RETURN(power_w, ParseKw(g.power_kw, "--power-kw"));
  int64_t baseline_wh = 0;
  if (!g.baseline_kwh.empty()) {
    V2G_ASSIGN_OR_RETURN(wh, ParseKwh(g.baseline_kwh, "--baseline-kwh"));
    baseline_wh = wh;
  }
  const std::string who = g.pool != 0 ? "pool " + std::to_string(g.pool) : "meter '" + g.meter + "'";
  TxDescription d;
  d.summary = "Enroll " + who + " in event " + std::to_string(g.id) + " with " + FormatKw(power_w);
  if (!g.baseline_kwh.empty()) d.details = {{"baseline", FormatKwh(baseline_wh) + " per interval (declared)"}};
  d.op = {{"type", "enroll_event"}, {"event_id", g.id}, {"meter_id", g.meter}, {"pool_id", g.pool},
          {"committed_power_w", power_w}, {"declared_baseline_wh", baseline_wh}};
  return SubmitMarketTx(ctx, a, MakeEnrollEvent(0, g.id, g.meter, power_w, baseline_wh, g.pool), d, nullptr);
}

Status CmdPoolCreate(Context& ctx, const GridArgs& g, const TxArgs& a) {
  if (g.name.empty() || g.name.size() > 64 ||
      !std::all_of(g.name.begin(), g.name.end(), [](char c) { return c >= 0x20 && c < 0x7f; }))
    return Error(Code::kInvalidArgument, "--name must be 1-64 printable ASCII characters");
  if (g.fee_percent.empty() == (g.fee_bps < 0))
    return Error(Code::kInvalidArgument, "give the aggregator's fee as --fee-percent X or --fee-bps N (one of them)");
  int64_t fee_bps = g.fee_bps;
  if (!g.fee_percent.empty()) {
    V2G_ASSIGN_OR_RETURN(bps, ParsePercentBps(g.fee_percent, "--fee-percent"));
    fee_bps = bps;
  } else if (fee_bps > limits::kBpsMax) {
    return Error(Code::kInvalidArgument, "--fee-bps must be 0..10000, got " + std::to_string(fee_bps));
  }
  TxDescription d;
  d.summary = "Create pool '" + g.name + "' (aggregator fee " + FormatBps(fee_bps) + " of revenue)";
  d.op = {{"type", "create_pool"}, {"name", g.name}, {"fee_bps", fee_bps}};
  return SubmitMarketTx(ctx, a, MakeCreatePool(0, g.name, fee_bps), d, CreatedId("pool", [](const std::string& id) {
                          return "owners join with: v2g pool join --from KEY " + id + " METER";
                        }));
}

Status CmdPoolMembership(Context& ctx, const GridArgs& g, const TxArgs& a, bool join) {
  V2G_RETURN_IF_ERROR(CheckIdArg(g.id, "POOL_ID"));
  V2G_RETURN_IF_ERROR(CheckMeterIdArg(g.meter));
  TxDescription d;
  d.summary = join ? "Put meter '" + g.meter + "' in pool " + std::to_string(g.id) + " from the next interval"
                   : "Take meter '" + g.meter + "' out of pool " + std::to_string(g.id) +
                         " (once the pool's open obligations have settled)";
  d.op = {{"type", join ? "join_pool" : "leave_pool"}, {"pool_id", g.id}, {"meter_id", g.meter}};
  return SubmitMarketTx(ctx, a, join ? MakeJoinPool(0, g.id, g.meter) : MakeLeavePool(0, g.id, g.meter), d, nullptr);
}

Status CmdProgramCreate(Context& ctx, const GridArgs& g, const TxArgs& a) {
  const auto kind = ParseProgramKind(g.kind);
  if (!kind) return Error(Code::kInvalidArgument, "--kind must be charging_discount, discharge_subsidy or reward_points");
  const bool discount = *kind == pb::PROGRAM_CHARGING_DISCOUNT;
  if (discount && (g.rebate_percent.empty() || !g.rate.empty()))
    return Error(Code::kInvalidArgument, "a charging_discount rebates a share of tariff charges: give --rebate-percent X (not --rate)");
  if (!discount && (g.rate.empty() || !g.rebate_percent.empty()))
    return Error(Code::kInvalidArgument, "--kind " + g.kind + " pays per kWh: give --rate R in " +
                                             (g.denom.empty() ? std::string("the program denomination") : g.denom) +
                                             " per kWh (not --rebate-percent)");
  if (!discount && !g.hours.empty()) return Error(Code::kInvalidArgument, "--hours applies to charging_discount programs only");
  if (!g.zone.empty()) V2G_RETURN_IF_ERROR(CheckZoneArg(g.zone));
  V2G_ASSIGN_OR_RETURN(mk, GridMarket(ctx));
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(denoms, client->GetDenoms());
  V2G_ASSIGN_OR_RETURN(denom, FindDenom(denoms, Upper(g.denom.empty() ? mk.params.denom : g.denom)));
  MarketParams dp = mk.params;  // amounts in the program's denomination
  dp.denom = denom.name;
  dp.decimals = denom.decimals;
  int64_t rate = 0;
  if (discount) {
    V2G_ASSIGN_OR_RETURN(bps, ParsePercentBps(g.rebate_percent, "--rebate-percent"));
    if (bps == 0) return Error(Code::kInvalidArgument, "--rebate-percent must be greater than zero");
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
  d.summary = "Create a " + g.kind + " program" + (g.zone.empty() ? "" : " in zone " + g.zone) + " (budget " +
              FormatMoney(budget, dp) + " escrowed)";
  d.details = {{"rate", discount ? FormatBps(rate) + " of tariff charges" : FormatPrice(rate, dp)},
               {"ends", FormatTimeS(end)}};
  if (discount) d.details.emplace_back("hours", FormatHours(mask) + " (UTC)");
  d.op = {{"type", "create_program"}, {"kind", g.kind}, {"denom", dp.denom}, {"rate", rate}, {"hours_mask", mask},
          {"zone", g.zone}, {"budget", MoneyJson(budget, dp)}, {"end_s", end}};
  return SubmitMarketTx(ctx, a, MakeCreateProgram(0, *kind, dp.denom, rate, mask, g.zone, budget, end), d,
                        CreatedId("program", [](const std::string& id) {
                          return "owners join with: v2g program join --from KEY " + id + " METER";
                        }));
}

Status CmdProgramJoin(Context& ctx, const GridArgs& g, const TxArgs& a) {
  V2G_RETURN_IF_ERROR(CheckIdArg(g.id, "PROGRAM_ID"));
  V2G_RETURN_IF_ERROR(CheckMeterIdArg(g.meter));
  TxDescription d;
  d.summary = "Join meter '" + g.meter + "' to program " + std::to_string(g.id);
  d.op = {{"type", "join_program"}, {"program_id", g.id}, {"meter_id", g.meter}};
  return SubmitMarketTx(ctx, a, MakeJoinProgram(0, g.id, g.meter), d, nullptr);
}

// ---- read commands (docs/API.md "Grid services")

// Minimal units of a {"amount": "123", ...} money object (0 when missing).
int64_t MoneyUnits(const json& j, const char* key) {
  if (!j.contains(key)) return 0;
  const json& m = j[key];
  const json& v = m.is_object() ? m.value("amount", json()) : m;
  if (v.is_number_integer()) return v.get<int64_t>();
  int64_t out = 0;
  if (v.is_string()) {
    const std::string t = v.get<std::string>();
    std::from_chars(t.data(), t.data() + t.size(), out);
  }
  return out;
}

std::string TimeText(const json& j, const char* key_s) {
  return j.contains(key_s) && j[key_s].is_number_integer() ? FormatTimeS(j[key_s].get<int64_t>()) : "-";
}

Status CmdTariffShow(Context& ctx, const GridArgs& g) {
  V2G_RETURN_IF_ERROR(CheckZoneArg(g.zone));
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(j, client->GetJson("/v1/tariffs/" + g.zone));
  if (ctx.json()) {
    PrintJson(j);
    return Status::Ok();
  }
  V2G_ASSIGN_OR_RETURN(mk, GridMarket(ctx));
  const KeyNames names(ctx);
  std::cout << "Time-of-use tariffs of zone " << g.zone << " (prices per kWh, hours UTC)\n";
  const json now = j.value("in_effect", json());
  if (now.is_object()) {
    std::cout << "In effect now (hour " << JsonText(now, "hour") << "): import " << PriceText(now, "import_price")
              << ", feed-in " << PriceText(now, "export_price") << "\n";
  } else {
    std::cout << "None in effect yet\n";
  }
  std::vector<std::vector<std::string>> rows{{"FROM", "IMPORT BY HOUR", "FEED-IN", "GRID COMPANY"}};
  for (const auto& t : j.value("tariffs", json::array())) {
    std::vector<int64_t> prices;
    for (const auto& p : t.value("import_prices", json::array())) prices.push_back(MoneyUnits(json{{"p", p}}, "p"));
    std::string hours = TariffHoursText(prices, mk.params);
    hours = hours.substr(0, hours.find(" " + mk.params.denom + "/kWh"));
    rows.push_back({TimeText(t, "effective_from_s"), hours, PriceText(t, "export_price"),
                    names(JsonText(t, "grid_company"))});
  }
  std::cout << "\n";
  PrintTable(rows, {});
  return Status::Ok();
}

std::string EventWho(const json& e, const KeyNames& names) {
  return e.value("pool_id", json()).is_number() ? "pool " + JsonText(e, "pool_id")
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
  std::vector<std::vector<std::string>> rows{{"ENROLLED", "COMMITTED", "BASELINE", "PERFORMANCE", "PAYOUT"}};
  for (const auto& e : list) {
    const int64_t baseline = JsonInt(e, "declared_baseline_wh");
    rows.push_back({EventWho(e, names), FormatKw(JsonInt(e, "committed_power_w")),
                    baseline > 0 ? FormatKwh(baseline) : "-", settled ? KwhText(e, "performance_wh") : "-",
                    settled ? MoneyText(e, "payout") : "-"});
    if (!e.contains("members")) continue;
    rows.push_back({"  aggregator fee", "", "", "", settled ? MoneyText(e, "fee") : "-"});
    for (const auto& m : e.value("members", json::array())) {
      rows.push_back({"  " + JsonText(m, "meter_id") + " (" + names(JsonText(m, "owner")) + ")", "", "",
                      settled ? KwhText(m, "performance_wh") : "-", settled ? MoneyText(m, "payout") : "-"});
    }
  }
  PrintTable(rows, {1, 2, 3, 4});
  if (!settled) std::cout << "(performance and payouts appear once the event's last interval has settled)\n";
}

Status CmdEventShow(Context& ctx, const GridArgs& g, bool results_only) {
  V2G_RETURN_IF_ERROR(CheckIdArg(g.id, "ID"));
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
      {"event", JsonText(j, "id") + " (" + JsonText(j, "kind") + ", zone " + JsonText(j, "zone") + ")"},
      {"status", JsonText(j, "status")}};
  if (!results_only) {
    rows.insert(rows.end(),
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
    rows.insert(rows.end(), {{"performance", KwhText(j, "performance_wh")},
                             {"owed", MoneyText(j, "owed") + " (performance x price, before the budget cap)"},
                             {"paid", MoneyText(j, "paid")},
                             {"returned", MoneyText(j, "returned") + " to the grid company"}});
  }
  PrintRows(rows);
  std::cout << "\n";
  PrintEnrollments(j, names);
  return Status::Ok();
}

Status CmdEventList(Context& ctx, const GridArgs& g) {
  std::string q = "/v1/events?limit=" + std::to_string(limits::kMarketPageMax);
  if (!g.zone.empty()) {
    V2G_RETURN_IF_ERROR(CheckZoneArg(g.zone));
    q += "&zone=" + g.zone;
  }
  if (!g.status.empty()) q += "&status=" + g.status;
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(j, client->GetJson(q));
  if (ctx.json()) {
    PrintJson(j);
    return Status::Ok();
  }
  const json list = j.value("events", json::array());
  if (list.empty()) {
    std::cout << "No events\n";
    return Status::Ok();
  }
  std::vector<std::vector<std::string>> rows{
      {"ID", "KIND", "ZONE", "START", "END", "STATUS", "TARGET", "PRICE", "BUDGET", "ENROLLED", "PAID"}};
  for (const auto& e : list) {
    rows.push_back({JsonText(e, "id"), JsonText(e, "kind"), JsonText(e, "zone"), TimeText(e, "start_s"),
                    TimeText(e, "end_s"), JsonText(e, "status"), FormatKw(JsonInt(e, "target_power_w")),
                    PriceText(e, "price"), MoneyText(e, "budget"), JsonText(e, "enrollment_count"),
                    JsonText(e, "status") == "settled" ? MoneyText(e, "paid") : "-"});
  }
  PrintTable(rows, {0, 6, 7, 8, 9, 10});
  if (!j.value("next_before", json()).is_null()) std::cout << "(more: older events not shown)\n";
  return Status::Ok();
}

Status CmdPoolShow(Context& ctx, const GridArgs& g) {
  V2G_RETURN_IF_ERROR(CheckIdArg(g.id, "ID"));
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(j, client->GetJson("/v1/pools/" + std::to_string(g.id)));
  if (ctx.json()) {
    PrintJson(j);
    return Status::Ok();
  }
  const KeyNames names(ctx);
  const int64_t until = JsonInt(j, "obligations_until_s");
  PrintRows({{"pool", JsonText(j, "id") + " '" + JsonText(j, "name") + "'"},
             {"aggregator", names(JsonText(j, "aggregator"))},
             {"fee", FormatBps(JsonInt(j, "fee_bps")) + " of revenue"},
             {"members", JsonText(j, "member_count")},
             {"committed until", until > 0 ? FormatTimeS(until) : "nothing open"},
             {"fees earned", MoneyText(j, "fees_earned")},
             {"members earned", MoneyText(j, "members_earned")}});
  const json members = j.value("members", json::array());
  if (members.empty()) return Status::Ok();
  std::cout << "\n";
  std::vector<std::vector<std::string>> rows{{"METER", "OWNER", "COUNTS FROM", "LEAVING", "DELIVERED", "EARNED"}};
  for (const auto& m : members) {
    rows.push_back({JsonText(m, "meter_id"), names(JsonText(m, "owner")), TimeText(m, "from_s"),
                    m.value("leaving", false) ? "after " + TimeText(m, "leave_after_s") : "-",
                    KwhText(m, "delivered_wh"), MoneyText(m, "earned")});
  }
  PrintTable(rows, {4, 5});
  return Status::Ok();
}

Status CmdProgramShow(Context& ctx, const GridArgs& g) {
  V2G_RETURN_IF_ERROR(CheckIdArg(g.id, "ID"));
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(j, client->GetJson("/v1/programs/" + std::to_string(g.id)));
  if (ctx.json()) {
    PrintJson(j);
    return Status::Ok();
  }
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
             {"status", JsonText(j, "status") + (JsonText(j, "status") == "open" ? ", ends " : ", ended ") +
                            TimeText(j, "end_s")},
             {"budget", MoneyText(j, "budget")},
             {"paid", MoneyText(j, "paid")},
             {"remaining", MoneyText(j, "remaining")},
             {"members", JsonText(j, "member_count")}});
  const json members = j.value("members", json::array());
  if (members.empty()) return Status::Ok();
  std::cout << "\n";
  std::vector<std::vector<std::string>> rows{{"METER", "OWNER", "PAID"}};
  for (const auto& m : members) rows.push_back({JsonText(m, "meter_id"), names(JsonText(m, "owner")), MoneyText(m, "paid")});
  PrintTable(rows, {2});
  return Status::Ok();
}

// ---- earnings

// Statement periods the node serves (node/api/grid.cc: at most 31 days).
constexpr int64_t kEarningsPeriodDefaultS = 30 * 86400;

Status CmdEarnings(Context& ctx, const GridArgs& g) {
  AccountRef who;
  if (!g.account.empty()) {
    V2G_ASSIGN_OR_RETURN(ref, ResolveAccount(ctx.keystore(), g.account));
    who = ref;
  } else {
    V2G_ASSIGN_OR_RETURN(keys, ctx.keystore().List());
    if (keys.size() != 1) {
      return Error(Code::kInvalidArgument, "name the ACCOUNT (an address or key name): the wallet holds " +
                                               std::to_string(keys.size()) + " keys");
    }
    V2G_ASSIGN_OR_RETURN(ref, ResolveAccount(ctx.keystore(), keys[0].name));
    who = ref;
  }
  V2G_ASSIGN_OR_RETURN(mk, GridMarket(ctx));
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
  std::vector<WearLine> wear;
  std::vector<std::string> no_profile;
  for (const auto& v : j.value("vehicles", json::array())) {
    const std::string id = JsonText(v, "meter_id");
    auto prof = LoadProfile(ctx.globals().home, id);
    if (!prof.ok()) {
      if (prof.status().code() != Code::kNotFound) return prof.status();
      no_profile.push_back(id);
      continue;
    }
    const int64_t export_wh = JsonInt(v, "export_wh");
    wear.push_back({id, export_wh, WearCostPerKwh(*prof), WearCostOf(*prof, export_wh)});
  }
  int64_t wear_total = 0;
  for (const auto& w : wear) wear_total += w.wear_cost;
  if (ctx.json()) {
    json out = j;
    json lines = json::array();
    for (const auto& w : wear) {
      lines.push_back({{"meter_id", w.meter_id}, {"export_wh", w.export_wh},
                       {"wear_cost_per_kwh", MoneyJson(w.wear_per_kwh, mk.params)},
                       {"wear_cost", MoneyJson(w.wear_cost, mk.params)}});
    }
    out["battery_wear"] = {{"vehicles", lines}, {"no_profile", no_profile}, {"total", MoneyJson(wear_total, mk.params)}};
    out["cash_net"] = MoneyJson(st.CashNet(), mk.params);
    out["net_after_wear"] = MoneyJson(st.CashNet() - wear_total, mk.params);
    out["debt_outstanding"] = MoneyJson(st.debt_outstanding, mk.params);
    PrintJson(out);
    return Status::Ok();
  }
  std::string period = "From " + FormatTimeS(from) + " to " + FormatTimeS(to);
  if (JsonInt(j, "settled_before_s") > 0 && JsonInt(j, "settled_before_s") < to) {
    period += " (grid services settled up to " + FormatTimeS(JsonInt(j, "settled_before_s")) + ")";
  }
  std::string points_unit = "points";
  if (j.contains("points_denoms") && j["points_denoms"].is_array() && !j["points_denoms"].empty()) {
    points_unit = "";
    for (const auto& d : j["points_denoms"]) points_unit += (points_unit.empty() ? "" : "/") + d.get<std::string>();
    points_unit += " (minimal units)";
  }
  std::cout << FormatEarnings(AccountLabel(who.address_text, who.key_name), period, st, wear, no_profile, mk.params,
                              points_unit);
  if (j.value("vehicles_truncated", false)) {
    std::cout << "Only the first vehicles are counted for wear (the node lists at most 32 per statement)\n";
  }
  return Status::Ok();
}

// ---- battery profiles (kept in the wallet home, never on chain)

struct BatteryArgs {
  std::string meter;
  std::string replacement_cost;  // human units of the market denomination
  std::string capacity_kwh;
  int64_t capacity_wh = 0;
  int64_t cycle_life = 0;
  std::string dod;  // percent, one decimal
};

json ProfileJson(const BatteryProfile& b, const MarketParams& p) {
  return {{"meter_id", b.meter_id},
          {"replacement_cost", MoneyJson(b.replacement_cost, p)},
          {"capacity_wh", b.capacity_wh},
          {"cycle_life", b.cycle_life},
          {"dod_permille", b.dod_permille},
          {"wear_cost_per_kwh", MoneyJson(WearCostPerKwh(b), p)}};
}

void PrintProfile(const BatteryProfile& b, const MarketParams& p) {
  PrintRows({{"vehicle", b.meter_id},
             {"replacement cost", FormatMoney(b.replacement_cost, p)},
             {"usable capacity", FormatKwh(b.capacity_wh)},
             {"cycle life", std::to_string(b.cycle_life) + " cycles at " + FormatAmount(b.dod_permille, 1) +
                                " % depth of discharge"},
             {"wear cost", FormatPrice(WearCostPerKwh(b), p) + " discharged"}});
  std::cout << "(replacement cost / (cycle life x capacity x depth of discharge), Kempton and Tomic 2005; "
               "'v2g market sell' refuses a lower price unless --force)\n";
}

Status CmdBatteryProfileSet(Context& ctx, const BatteryArgs& b) {
  V2G_RETURN_IF_ERROR(CheckMeterIdArg(b.meter));
  if (b.capacity_kwh.empty() == (b.capacity_wh == 0))
    return Error(Code::kInvalidArgument, "give the usable capacity as --capacity-kwh X or --capacity-wh N (one of them)");
  V2G_ASSIGN_OR_RETURN(mk, GridMarket(ctx));
  BatteryProfile prof;
  prof.meter_id = b.meter;
  V2G_ASSIGN_OR_RETURN(cost, ParseBudget(b.replacement_cost, mk.params.decimals, mk.params.denom, "--replacement-cost"));
  prof.replacement_cost = cost;
  prof.capacity_wh = b.capacity_wh;
  if (!b.capacity_kwh.empty()) {
    V2G_ASSIGN_OR_RETURN(wh, ParseKwh(b.capacity_kwh, "--capacity-kwh"));
    prof.capacity_wh = wh;
  }
  prof.cycle_life = b.cycle_life;
  auto dod = ParseAmount(b.dod, 1);
  if (!dod.ok() || *dod < 1 || *dod > 1000)
    return Error(Code::kInvalidArgument, "--dod must be the depth of discharge in percent, 0.1..100 (e.g. 80), got '" + b.dod + "'");
  prof.dod_permille = *dod;
  V2G_RETURN_IF_ERROR(SaveProfile(ctx.globals().home, prof));
  if (ctx.json()) {
    PrintJson(ProfileJson(prof, mk.params));
    return Status::Ok();
  }
  std::cout << "Saved the battery profile of '" << prof.meter_id << "' in " << ctx.globals().home << "/battery\n";
  PrintProfile(prof, mk.params);
  return Status::Ok();
}

Status CmdBatteryProfileShow(Context& ctx, const BatteryArgs& b) {
  V2G_RETURN_IF_ERROR(CheckMeterIdArg(b.meter));
  V2G_ASSIGN_OR_RETURN(prof, LoadProfile(ctx.globals().home, b.meter));
  V2G_ASSIGN_OR_RETURN(mk, GridMarket(ctx));
  if (ctx.json()) {
    PrintJson(ProfileJson(prof, mk.params));
    return Status::Ok();
  }
  PrintProfile(prof, mk.params);
  return Status::Ok();
}

// ------------------------------------------------------------------ command line

void AddGlobalOptions(CLI::App* app, Globals& g) {
  app->add_option("--node", g.node, "Node API URL (env V2G_NODE)")->capture_default_str();
  app->add_option("--output", g.output, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app->add_option("--home", g.home, "Wallet home; keys live in HOME/keys (env V2G_HOME)")
      ->capture_default_str();
  app->add_option("--passphrase-file", g.passphrase_file,
                  "Read the key passphrase from the first line of this file (else env "
                  "V2G_PASSPHRASE, else ask on the terminal)");
}

using Action = std::function<Status(Context&)>;

// Registers a subcommand whose callback selects `run` as the action.
CLI::App* Command(CLI::App* parent, const std::string& name, const std::string& help, Globals& g,
                  Action& action, Action run) {
  CLI::App* sub = parent->add_subcommand(name, help);
  AddGlobalOptions(sub, g);
  sub->callback([&action, run = std::move(run)] { action = run; });
  return sub;
}

void AddTxOptions(CLI::App* sub, TxArgs& t, bool with_fee_memo) {
  sub->add_option("--from", t.from, "Key that signs (a name in the keystore)")->required();
  if (with_fee_memo) {
    sub->add_option("--fee", t.fee, "Fee paid to the block proposer, AMOUNT:DENOM (e.g. 0.01:CNY)");
    sub->add_option("--memo", t.memo, "Free text stored with the tx");
  }
  sub->add_flag("--no-wait", t.no_wait,
                "Return once the node accepted the tx, without waiting for the commit");
}

int Main(int argc, char** argv) {
  InitCrypto();
  Globals g;
  g.node = DefaultNode();
  g.home = DefaultHome();
  KeysArgs keys_args;
  TxArgs tx_args;
  std::string who, hash;
  Action action;

  CLI::App app{"v2g: wallet for the v2gledger energy-trading ledger"};
  app.name("v2g");
  app.require_subcommand(1);
  AddGlobalOptions(&app, g);

  CLI::App* keys = app.add_subcommand("keys", "Manage the encrypted keystore");
  keys->require_subcommand(1);
  AddGlobalOptions(keys, g);
  auto* add = Command(keys, "add", "Create a key (or --recover one from its seed on stdin)", g,
                      action, [&](Context& c) { return CmdKeysAdd(c, keys_args); });
  add->add_option("NAME", keys_args.name, "Key name: 1-64 of A-Z a-z 0-9 _ . -")->required();
  add->add_flag("--recover", keys_args.recover, "Read the key's seed (64 hex digits) from stdin");
  Command(keys, "list", "List keys", g, action, [](Context& c) { return CmdKeysList(c); });
  auto* show = Command(keys, "show", "Show a key's address and public key", g, action,
                       [&](Context& c) { return CmdKeysShow(c, keys_args); });
  show->add_option("NAME", keys_args.name, "Key name")->required();
  auto* del = Command(keys, "delete", "Delete a key file", g, action,
                      [&](Context& c) { return CmdKeysDelete(c, keys_args); });
  del->add_option("NAME", keys_args.name, "Key name")->required();
  del->add_flag("--yes,-y", keys_args.yes, "Do not ask for confirmation");
  auto* exp = Command(keys, "export", "Print a key's unencrypted seed (hex) for backup", g, action,
                      [&](Context& c) { return CmdKeysExport(c, keys_args); });
  exp->add_option("NAME", keys_args.name, "Key name")->required();

  auto* bal = Command(&app, "balance", "Show balances of an address or key (default: every key)", g,
                      action, [&](Context& c) { return CmdBalance(c, who); });
  bal->add_option("ACCOUNT", who, "Address (v2g1...) or key name");

  auto* send = Command(&app, "send", "Transfer tokens", g, action,
                       [&](Context& c) { return RunTx(c, tx_args, "send", true); });
  send->add_option("TO", tx_args.to, "Recipient address or key name")->required();
  send->add_option("AMOUNT", tx_args.amount, "Amount in human units, e.g. 12.5")->required();
  send->add_option("DENOM", tx_args.denom, "Denomination, e.g. CNY")->required();
  AddTxOptions(send, tx_args, true);

  auto* mint = Command(&app, "mint", "Issue new tokens (the denomination's issuer only)", g, action,
                       [&](Context& c) { return RunTx(c, tx_args, "mint", true); });
  mint->add_option("TO", tx_args.to, "Recipient address or key name")->required();
  mint->add_option("AMOUNT", tx_args.amount, "Amount in human units")->required();
  mint->add_option("DENOM", tx_args.denom, "Denomination")->required();
  AddTxOptions(mint, tx_args, true);

  auto* burn = Command(&app, "burn", "Destroy tokens from the issuer's balance (issuer only)", g,
                       action, [&](Context& c) { return RunTx(c, tx_args, "burn", false); });
  burn->add_option("AMOUNT", tx_args.amount, "Amount in human units")->required();
  burn->add_option("DENOM", tx_args.denom, "Denomination")->required();
  AddTxOptions(burn, tx_args, true);

  CLI::App* tx = app.add_subcommand("tx", "Look up transactions");
  tx->require_subcommand(1);
  AddGlobalOptions(tx, g);
  auto* tx_show = Command(tx, "show", "Show a transaction by hash", g, action,
                          [&](Context& c) { return CmdTxShow(c, hash); });
  tx_show->add_option("HASH", hash, "Tx hash (64 hex digits)")->required();

  Command(&app, "status", "Show the node's chain and sync status", g, action,
          [](Context& c) { return CmdStatus(c); });

  MeterArgs meter_args;
  CLI::App* meter = app.add_subcommand("meter", "Meters: device keys, registry, attested energy");
  meter->require_subcommand(1);
  AddGlobalOptions(meter, g);
  auto* mkey = Command(meter, "keygen", "Create a device key for a meter (stored encrypted like account keys)", g,
                       action, [&](Context& c) { return CmdMeterKeygen(c, meter_args); });
  mkey->add_option("NAME", meter_args.id, "Key name")->required();
  auto* mreg = Command(meter, "register", "Register a meter (operators only)", g, action,
                       [&](Context& c) { return CmdMeterRegister(c, meter_args, tx_args); });
  mreg->add_option("ID", meter_args.id, "Meter id: 1-64 of A-Z a-z 0-9 . _ : -")->required();
  mreg->add_option("--device", meter_args.device, "Device key name, or its public key (64 hex digits)")->required();
  mreg->add_option("--kind", meter_args.kind, "charger, vehicle or site")->capture_default_str();
  mreg->add_option("--zone", meter_args.zone, "Zone, e.g. GD-SZ")->required();
  mreg->add_option("--owner", meter_args.owner, "Owner address or key name")->required();
  mreg->add_option("--max-import-w", meter_args.max_import_w, "Maximum import power (W)");
  mreg->add_option("--max-export-w", meter_args.max_export_w, "Maximum export power (W)");
  mreg->add_option("--capacity-wh", meter_args.capacity_wh, "Usable battery capacity (Wh), vehicles only");
  AddTxOptions(mreg, tx_args, false);
  auto* mshow = Command(meter, "show", "Show a meter", g, action, [&](Context& c) { return CmdMeterShow(c, meter_args); });
  mshow->add_option("ID", meter_args.id, "Meter id")->required();
  auto* mlist = Command(meter, "list", "List meters", g, action, [&](Context& c) { return CmdMeterList(c, meter_args); });
  mlist->add_option("--zone", meter_args.filter_zone, "Only this zone");
  mlist->add_option("--owner", meter_args.filter_owner, "Only this owner (address or key name)");
  mlist->add_option("--kind", meter_args.filter_kind, "Only this kind");
  auto* mread = Command(meter, "readings", "Attested energy per settlement interval", g, action,
                        [&](Context& c) { return CmdMeterReadings(c, meter_args); });
  mread->add_option("ID", meter_args.id, "Meter id")->required();
  mread->add_option("--from", meter_args.from_s, "First interval start (Unix seconds)");
  mread->add_option("--to", meter_args.to_s, "End (Unix seconds, exclusive)");
  auto* mdeact = Command(meter, "deactivate", "Deactivate a meter for good (its operator or owner)", g, action,
                         [&](Context& c) { return CmdMeterDeactivate(c, meter_args, tx_args); });
  mdeact->add_option("ID", meter_args.id, "Meter id")->required();
  AddTxOptions(mdeact, tx_args, false);
  // `v2g battery METER` or `v2g battery profile ...`: the parent's action only when no
  // subcommand ran (CLI11 runs the parent's callback after the subcommand's).
  CLI::App* batt = app.add_subcommand("battery", "A vehicle's state of health trend, throughput and cycles; "
                                                 "'battery profile' for its wear cost");
  AddGlobalOptions(batt, g);
  batt->callback([&action, &meter_args, batt] {
    if (batt->get_subcommands().empty()) action = [&meter_args](Context& c) { return CmdBattery(c, meter_args); };
  });
  batt->add_option("METER", meter_args.id, "Vehicle meter id");
  BatteryArgs battery_args;
  CLI::App* bprof = batt->add_subcommand("profile", "Your estimate of a vehicle battery's wear cost (kept in the wallet)");
  bprof->require_subcommand(1);
  AddGlobalOptions(bprof, g);
  auto* bset = Command(bprof, "set", "Save a vehicle's battery profile", g, action,
                       [&](Context& c) { return CmdBatteryProfileSet(c, battery_args); });
  bset->add_option("METER", battery_args.meter, "Vehicle meter id")->required();
  bset->add_option("--replacement-cost", battery_args.replacement_cost,
                   "What replacing the pack costs, in the market denomination (e.g. 60000)")
      ->required();
  bset->add_option("--capacity-kwh", battery_args.capacity_kwh, "Usable capacity (kWh)");
  bset->add_option("--capacity-wh", battery_args.capacity_wh, "Usable capacity (Wh)");
  bset->add_option("--cycle-life", battery_args.cycle_life, "Full cycles to end of life at --dod")->required();
  bset->add_option("--dod", battery_args.dod, "Depth of discharge the cycle life is rated at, percent (e.g. 80)")
      ->required();
  auto* bshow = Command(bprof, "show", "Show a vehicle's battery profile and wear cost per kWh", g, action,
                        [&](Context& c) { return CmdBatteryProfileShow(c, battery_args); });
  bshow->add_option("METER", battery_args.meter, "Vehicle meter id")->required();

  SimArgs sim_args;
  auto* msim = Command(&app, "meter-sim",
                       "Simulate a fleet of vehicle meters: register them (operator key), then sign and submit "
                       "their readings, and report the attested energy sent per settlement interval",
                       g, action, [&](Context& c) { return CmdMeterSim(c, sim_args); });
  msim->add_option("--operator", sim_args.operator_key,
                   "Key that signs the txs: registers missing meters (needs the operator role) and submits the "
                   "readings (any key may)")
      ->required();
  msim->add_option("--owner", sim_args.owner, "Owner of the vehicles: address or key name")->required();
  msim->add_option("--fleet", sim_args.fleet,
                   "Fleet key name in the keystore (created on first use); device keys derive from it")
      ->capture_default_str();
  msim->add_option("--prefix", sim_args.prefix, "Meter ids are PREFIX-0000, PREFIX-0001, ... (default: fleet name)");
  msim->add_option("--zone", sim_args.zone, "Zone of the meters")->capture_default_str();
  msim->add_option("--meters", sim_args.meters, "Number of vehicle meters")->capture_default_str();
  msim->add_option("--seed", sim_args.seed, "Generator seed (same seed, same readings)")->capture_default_str();
  msim->add_option("--duration", sim_args.duration_s, "Seconds of readings to send")->capture_default_str();
  msim->add_option("--interval-s", sim_args.interval_s, "Reading length (divides the settlement interval)")
      ->capture_default_str();
  msim->add_option("--settlement-s", sim_args.settlement_s, "Settlement interval if the node does not report it")
      ->capture_default_str();
  msim->add_option("--batch", sim_args.batch, "Readings per SubmitReadings tx")->capture_default_str();
  msim->add_option("--sessions", sim_args.sessions, "Charging sessions CSV (ACN-Data format) instead of the generator");
  msim->add_option("--discharge-from", sim_args.discharge_from_s, "Discharge window start, seconds after the start");
  msim->add_option("--discharge-to", sim_args.discharge_to_s, "Discharge window end, seconds after the start");
  msim->add_option("--discharge-from-unix", sim_args.discharge_from_unix_s, "Discharge window start as a Unix time");
  msim->add_option("--discharge-to-unix", sim_args.discharge_to_unix_s, "Discharge window end as a Unix time");
  msim->add_option("--until", sim_args.until_s, "Stream until this Unix time instead of for --duration");
  msim->add_flag("--plugged-in", sim_args.plugged_in,
                 "Every vehicle stays plugged in (a depot): charges until full, discharges exactly in the window");
  msim->add_option("--soc-permille", sim_args.soc_permille, "Every vehicle starts at this state of charge (0..1000)");
  msim->add_option("--charger-w", sim_args.charger_w,
                   "Import and export power of every newly registered vehicle, W (default: generated 3.7-11 kW)");
  msim->add_flag("--backfill", sim_args.backfill,
                 "Send the last --duration seconds at once instead of streaming in real time");

  MarketArgs market_args;
  const std::string interval_help =
      "Delivery interval: its start as Unix seconds or RFC 3339 UTC (2026-01-01T01:00:00Z), 'next' "
      "(the first "
      "whose gate closes at least 10 s after the latest block) or 'next+K'";
  CLI::App* market = app.add_subcommand(
      "market", "Energy market: buy and sell orders, order book, trades, results");
  market->require_subcommand(1);
  AddGlobalOptions(market, g);
  auto order_options = [&](CLI::App* sub, bool sell) {
    if (sell) {
      sub->add_option("--meter", market_args.meter, "Your meter that delivers (in the zone)");
      sub->add_option("--pool", market_args.pool,
                      "Sell for this pool as its aggregator (its members deliver; instead of --meter)");
      sub->add_flag("--force", market_args.force,
                    "Sell even below the battery wear cost in the meter's battery profile");
    }
    sub->add_option("--zone", market_args.zone, "Zone, e.g. GD-SZ")->required();
    sub->add_option("--interval", market_args.interval, interval_help)->required();
    sub->add_option("--energy-wh", market_args.energy_wh, "Energy (Wh)")->required();
    sub->add_option("--price", market_args.price,
                    sell ? "Lowest price you accept per kWh, in the market denomination (e.g. 0.85)"
                         : "Highest price you pay per kWh, in the market denomination (e.g. 0.85)")
        ->required();
    AddTxOptions(sub, tx_args, true);
  };
  order_options(
      Command(market, "sell",
              "Offer energy from your meter in one zone and interval (locks collateral)", g, action,
              [&](Context& c) { return CmdMarketPlace(c, market_args, tx_args, pb::SIDE_SELL); }),
      true);
  order_options(
      Command(market, "buy", "Bid for energy in one zone and interval (locks the escrow)", g,
              action,
              [&](Context& c) { return CmdMarketPlace(c, market_args, tx_args, pb::SIDE_BUY); }),
      false);
  auto* mcancel = Command(
      market, "cancel", "Withdraw an open order before gate closure (refunds what it locked)", g,
      action, [&](Context& c) { return CmdMarketCancel(c, market_args, tx_args); });
  mcancel->add_option("ORDER_ID", market_args.id, "Order id")->required();
  AddTxOptions(mcancel, tx_args, true);
  auto* morders =
      Command(market, "orders", "An account's orders, newest first (default: every key)", g, action,
              [&](Context& c) { return CmdAccountOrders(c, market_args.account, false); });
  morders->add_option("ACCOUNT", market_args.account, "Address (v2g1...) or key name");
  auto* mbook =
      Command(market, "book", "One market: status, clearing result and orders per price level", g,
              action, [&](Context& c) { return CmdMarketBook(c, market_args); });
  mbook->add_option("--zone", market_args.zone, "Zone")->required();
  mbook->add_option("--interval", market_args.interval, interval_help)->required();
  auto* mtrades =
      Command(market, "trades",
              "Trades of one market (--zone and --interval) or of one account (--account)", g,
              action, [&](Context& c) { return CmdMarketTrades(c, market_args); });
  mtrades->add_option("--zone", market_args.zone, "Zone");
  mtrades->add_option("--interval", market_args.interval, interval_help);
  mtrades->add_option("--account", market_args.account, "Address (v2g1...) or key name");
  auto* mresults =
      Command(market, "results", "Markets with clearing price, volume, delivered energy and status",
              g, action, [&](Context& c) { return CmdMarketResults(c, market_args); });
  mresults->add_option("--zone", market_args.zone, "Only this zone");
  mresults->add_option("--from", market_args.from_t,
                       "First interval start (Unix seconds or RFC 3339; default a day ago)");
  mresults->add_option("--to", market_args.to_t, "End (exclusive)");

  CLI::App* contract =
      app.add_subcommand("contract", "Bilateral energy contracts at a fixed price");
  contract->require_subcommand(1);
  AddGlobalOptions(contract, g);
  auto* cprop = Command(
      contract, "propose", "Propose a fixed-price delivery to another account (it must accept)", g,
      action, [&](Context& c) { return CmdContractPropose(c, market_args, tx_args); });
  cprop->add_option("--to", tx_args.to, "Counterparty: address or key name")->required();
  cprop->add_option("--side", market_args.side, "Your side: sell or buy")->required();
  cprop->add_option("--zone", market_args.zone, "Zone")->required();
  cprop->add_option("--interval", market_args.interval, interval_help)->required();
  cprop->add_option("--energy-wh", market_args.energy_wh, "Energy (Wh)")->required();
  cprop
      ->add_option("--price", market_args.price,
                   "Price per kWh in the market denomination (e.g. 0.85)")
      ->required();
  cprop->add_option("--meter", market_args.meter, "Your meter that delivers (with --side sell)");
  AddTxOptions(cprop, tx_args, true);
  auto* caccept =
      Command(contract, "accept", "Accept a contract proposed to you (locks escrow or collateral)",
              g, action, [&](Context& c) { return CmdContractAccept(c, market_args, tx_args); });
  caccept->add_option("CONTRACT_ID", market_args.id, "Contract id")->required();
  caccept->add_option("--meter", market_args.meter, "Your meter that delivers (when you sell)");
  AddTxOptions(caccept, tx_args, true);
  auto* ccancel =
      Command(contract, "cancel", "Withdraw a proposal that was not accepted", g, action,
              [&](Context& c) { return CmdContractCancel(c, market_args, tx_args); });
  ccancel->add_option("CONTRACT_ID", market_args.id, "Contract id")->required();
  AddTxOptions(ccancel, tx_args, true);
  auto* clist =
      Command(contract, "list", "An account's contracts, newest first (default: every key)", g,
              action, [&](Context& c) { return CmdAccountOrders(c, market_args.account, true); });
  clist->add_option("ACCOUNT", market_args.account, "Address (v2g1...) or key name");


  GridArgs grid_args;
  const std::string time_help =
      "Unix seconds, RFC 3339 UTC (2026-01-01T01:00:00Z), 'next' or 'next+K' (interval starts)";
  CLI::App* tariff = app.add_subcommand("tariff", "Time-of-use tariffs and tariff debts");
  tariff->require_subcommand(1);
  AddGlobalOptions(tariff, g);
  auto* tset = Command(tariff, "set", "Publish a zone's time-of-use tariff (grid company only)", g, action,
                       [&](Context& c) { return CmdTariffSet(c, grid_args, tx_args); });
  tset->add_option("--zone", grid_args.zone, "Zone")->required();
  tset->add_option("--from-interval", grid_args.from_interval, "First interval it applies to: " + time_help)->required();
  tset->add_option("--prices", grid_args.prices,
                   "24 hourly import prices per kWh, hour 0 to 23 UTC, comma-separated (e.g. 0.40,0.40,...)");
  tset->add_option("--flat", grid_args.flat, "One import price per kWh for every hour (with --peak windows on top)");
  tset->add_option("--peak", grid_args.peaks,
                   "HOURS:PRICE on top of --flat, hours inclusive and UTC (e.g. 18-21:1.20); repeatable");
  tset->add_option("--export-price", grid_args.export_price,
                   "Feed-in price per kWh of export not sold in the market or an event (0 for none)")
      ->required();
  AddTxOptions(tset, tx_args, true);
  auto* tenroll = Command(tariff, "enroll", "Have your meter billed under its zone's tariff", g, action,
                          [&](Context& c) { return CmdTariffEnroll(c, grid_args, tx_args); });
  tenroll->add_option("METER", grid_args.meter, "Your meter")->required();
  AddTxOptions(tenroll, tx_args, true);
  auto* tshow = Command(tariff, "show", "A zone's tariffs (import price per hour, feed-in)", g, action,
                        [&](Context& c) { return CmdTariffShow(c, grid_args); });
  tshow->add_option("ZONE", grid_args.zone, "Zone")->required();
  auto* tpay = Command(tariff, "pay-debt", "Pay your tariff debts (they block your sell orders)", g, action,
                       [&](Context& c) { return CmdTariffPayDebt(c, tx_args); });
  AddTxOptions(tpay, tx_args, true);

  CLI::App* event = app.add_subcommand("event", "Demand-response events");
  event->require_subcommand(1);
  AddGlobalOptions(event, g);
  auto* ecreate = Command(event, "create", "Create an event and escrow its budget (grid company only)", g, action,
                          [&](Context& c) { return CmdEventCreate(c, grid_args, tx_args); });
  ecreate->add_option("--kind", grid_args.kind, "peak_relief, valley_fill or reverse_discharge")->required();
  ecreate->add_option("--zone", grid_args.zone, "Zone")->required();
  ecreate->add_option("--start", grid_args.start, "First interval: " + time_help)->required();
  ecreate->add_option("--end", grid_args.end, "End (an interval start, exclusive): " + time_help)->required();
  ecreate->add_option("--target-kw", grid_args.target_kw, "Power the grid wants (kW)")->required();
  ecreate->add_option("--price", grid_args.price, "Payout per kWh of performance, in the market denomination")
      ->required();
  ecreate->add_option("--budget", grid_args.budget, "Most the event pays in total (escrowed now)")->required();
  ecreate->add_option("--deadline", grid_args.deadline, "Enrollment closes (default: at --start): " + time_help);
  ecreate->add_option("--baseline", grid_args.baseline,
                      "declared (owners declare it) or prior_days (their average of the previous days); default "
                      "declared; none for reverse_discharge");
  AddTxOptions(ecreate, tx_args, true);
  auto* eenroll = Command(event, "enroll", "Enroll your meter, or your pool as its aggregator, in an event", g,
                          action, [&](Context& c) { return CmdEventEnroll(c, grid_args, tx_args); });
  eenroll->add_option("EVENT_ID", grid_args.id, "Event id")->required();
  eenroll->add_option("--meter", grid_args.meter, "Your meter (in the event's zone)");
  eenroll->add_option("--pool", grid_args.pool, "Your pool (you are its aggregator)");
  eenroll->add_option("--power-kw", grid_args.power_kw, "Power you commit (kW); caps the performance paid")
      ->required();
  eenroll->add_option("--baseline-kwh", grid_args.baseline_kwh,
                      "Your usual import per interval (kWh), for events with declared baselines");
  AddTxOptions(eenroll, tx_args, true);
  auto* eshow = Command(event, "show", "An event and its totals", g, action,
                        [&](Context& c) { return CmdEventShow(c, grid_args, false); });
  eshow->add_option("ID", grid_args.id, "Event id")->required();
  auto* elist = Command(event, "list", "Events, newest first", g, action,
                        [&](Context& c) { return CmdEventList(c, grid_args); });
  elist->add_option("--zone", grid_args.zone, "Only this zone");
  elist->add_option("--status", grid_args.status, "open or settled")->check(CLI::IsMember({"open", "settled"}));
  auto* eres = Command(event, "results", "Performance and payout of every enrollment (pools by member)", g,
                       action, [&](Context& c) { return CmdEventShow(c, grid_args, true); });
  eres->add_option("ID", grid_args.id, "Event id")->required();

  CLI::App* pool = app.add_subcommand("pool", "Aggregator pools (virtual power plants)");
  pool->require_subcommand(1);
  AddGlobalOptions(pool, g);
  auto* pcreate = Command(pool, "create", "Create a pool you sell and enroll for, for a fee", g, action,
                          [&](Context& c) { return CmdPoolCreate(c, grid_args, tx_args); });
  pcreate->add_option("--name", grid_args.name, "Pool name (1-64 printable ASCII)")->required();
  pcreate->add_option("--fee-percent", grid_args.fee_percent, "Your fee: percent of the pool's revenue (e.g. 5)");
  pcreate->add_option("--fee-bps", grid_args.fee_bps, "Your fee in basis points (0..10000)");
  AddTxOptions(pcreate, tx_args, true);
  auto* pjoin = Command(pool, "join", "Put your meter in a pool from the next interval", g, action,
                        [&](Context& c) { return CmdPoolMembership(c, grid_args, tx_args, true); });
  pjoin->add_option("POOL_ID", grid_args.id, "Pool id")->required();
  pjoin->add_option("METER", grid_args.meter, "Your meter")->required();
  AddTxOptions(pjoin, tx_args, true);
  auto* pleave = Command(pool, "leave", "Take your meter out of a pool", g, action,
                         [&](Context& c) { return CmdPoolMembership(c, grid_args, tx_args, false); });
  pleave->add_option("POOL_ID", grid_args.id, "Pool id")->required();
  pleave->add_option("METER", grid_args.meter, "Your meter")->required();
  AddTxOptions(pleave, tx_args, true);
  auto* pshow = Command(pool, "show", "A pool, its members and their earnings", g, action,
                        [&](Context& c) { return CmdPoolShow(c, grid_args); });
  pshow->add_option("ID", grid_args.id, "Pool id")->required();

  CLI::App* program = app.add_subcommand("program", "Incentive programs");
  program->require_subcommand(1);
  AddGlobalOptions(program, g);
  auto* prcreate = Command(program, "create", "Sponsor an incentive program and escrow its budget (operators only)",
                           g, action, [&](Context& c) { return CmdProgramCreate(c, grid_args, tx_args); });
  prcreate->add_option("--kind", grid_args.kind, "charging_discount, discharge_subsidy or reward_points")->required();
  prcreate->add_option("--denom", grid_args.denom, "What it pays in (default: the market denomination)");
  prcreate->add_option("--rebate-percent", grid_args.rebate_percent,
                       "charging_discount: percent of tariff charges rebated");
  prcreate->add_option("--rate", grid_args.rate, "discharge_subsidy, reward_points: amount of --denom per kWh");
  prcreate->add_option("--hours", grid_args.hours,
                       "charging_discount: hours (UTC) whose imports qualify, inclusive ranges (e.g. 0-6,22-23); "
                       "default every hour");
  prcreate->add_option("--zone", grid_args.zone, "Only meters in this zone (default: every zone)");
  prcreate->add_option("--budget", grid_args.budget, "Most it pays in total, in --denom (escrowed now)")->required();
  prcreate->add_option("--end", grid_args.end, "Closes at this interval start: " + time_help)->required();
  AddTxOptions(prcreate, tx_args, true);
  auto* prjoin = Command(program, "join", "Join your meter to a program", g, action,
                         [&](Context& c) { return CmdProgramJoin(c, grid_args, tx_args); });
  prjoin->add_option("PROGRAM_ID", grid_args.id, "Program id")->required();
  prjoin->add_option("METER", grid_args.meter, "Your meter")->required();
  AddTxOptions(prjoin, tx_args, true);
  auto* prshow = Command(program, "show", "A program, its budget and members", g, action,
                         [&](Context& c) { return CmdProgramShow(c, grid_args); });
  prshow->add_option("ID", grid_args.id, "Program id")->required();

  auto* earn = Command(&app, "earnings",
                       "An owner's statement: market, events, programs, tariff, debt, battery wear and the net", g,
                       action, [&](Context& c) { return CmdEarnings(c, grid_args); });
  earn->add_option("ACCOUNT", grid_args.account, "Address (v2g1...) or key name (default: the only key)");
  earn->add_option("--from", grid_args.from_t, "Period start (Unix seconds or RFC 3339; default 30 days ago)");
  earn->add_option("--to", grid_args.to_t, "Period end, exclusive (default: now)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  V2G_ASSERT(action != nullptr);
  Context ctx(g);
  Status st;
  try {
    st = action(ctx);
  } catch (const std::exception& e) {
    st = Error(Code::kInternal, std::string("unexpected failure: ") + e.what());
  }
  if (!st.ok()) {
    std::cout.flush();
    std::cerr << "error: " << st.message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace v2g

int main(int argc, char** argv) { return v2g::Main(argc, argv); }
