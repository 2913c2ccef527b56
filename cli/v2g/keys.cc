// v2g keys add|list|show|delete|export: the encrypted keystore (wallet/keystore.h).

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "cli/v2g/families.h"
#include "cli/v2g/output.h"
#include "wallet/prompt.h"

namespace v2g::cli {
namespace {

struct KeysArgs {
  std::string name;
  bool recover = false;
  bool yes = false;
};

json KeyJson(const KeyInfo& k) {
  return {{"name", k.name}, {"kind", k.kind}, {"address", k.address}, {"pubkey", k.pubkey_hex}, {"file", k.path}};
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
  // Account keys sign txs; device keys and fleet seeds are meters' (shown apart, so nobody sends
  // money from a meter's key by mistake).
  const std::pair<const char*, const char*> kGroups[] = {
      {"account", "Account keys (sign txs: --from NAME)"},
      {"device", "Device keys (meters sign readings with them: v2g meter register --device NAME)"},
      {"fleet", "Fleet seeds (v2g meter-sim derives its meters' device keys from them)"}};
  // One NAME column for every group (the header padded to the longest name of them all), so the
  // addresses line up across groups.
  size_t name_width = 4;
  for (const auto& k : keys) name_width = std::max(name_width, k.name.size());
  bool first = true;
  for (const auto& [kind, title] : kGroups) {
    Rows rows;
    for (const auto& k : keys) {
      if (k.kind == kind) rows.emplace_back(k.name, k.address);
    }
    if (rows.empty()) continue;
    if (!first) std::cout << "\n";
    first = false;
    std::cout << title << "\n";
    rows.insert(rows.begin(), {"NAME" + std::string(name_width - 4, ' '), "ADDRESS"});
    PrintRows(rows);
  }
  return Status::Ok();
}

Status CmdKeysShow(Context& ctx, const KeysArgs& a) {
  V2G_ASSIGN_OR_RETURN(info, ctx.keystore().Show(a.name));
  if (ctx.json()) {
    PrintJson(KeyJson(info));
    return Status::Ok();
  }
  PrintRows({{"name", info.name},
             {"kind", info.kind},
             {"address", info.address},
             {"pubkey", info.pubkey_hex},
             {"file", info.path}});
  return Status::Ok();
}

Status CmdKeysDelete(Context& ctx, const KeysArgs& a) {
  V2G_ASSIGN_OR_RETURN(info, ctx.keystore().Show(a.name));
  V2G_RETURN_IF_ERROR(Confirm(
      a.yes, "Delete key '" + info.name + "' (" + info.address + ")? This cannot be undone. [y/N] ",
      "delete key '" + a.name + "'", "key '" + a.name + "' was not deleted"));
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

}  // namespace

Status AddKey(Context& ctx, const std::string& name, bool recover, const std::string& kind) {
  V2G_RETURN_IF_ERROR(ValidateKeyName(name));
  if (ctx.keystore().Show(name).ok()) {
    return Error(Code::kAlreadyExists, "a key named '" + name + "' already exists");
  }
  Result<std::string> seed_text = std::string();
  if (recover) {
    if (::isatty(0)) std::cerr << "Seed of the key to recover (64 hex digits): " << std::flush;
    seed_text = ReadSecretLine(0, "seed");
    if (!seed_text.ok()) return seed_text.status();
  }
  Secret seed(std::move(seed_text).value());
  auto pass = ctx.Passphrase(name, true);
  if (!pass.ok()) return pass.status();
  Secret p(std::move(pass).value());
  Result<KeyInfo> info = recover ? ctx.keystore().Import(name, seed.get(), p.get())
                                 : ctx.keystore().Add(name, p.get(), kind);
  if (!info.ok()) return info.status();
  if (ctx.json()) {
    json j = KeyJson(*info);
    j["recovered"] = recover;
    PrintJson(j);
    return Status::Ok();
  }
  std::cout << (recover ? "Recovered" : "Created") << " key '" << info->name << "'\n";
  PrintRows({{"address", info->address}, {"pubkey", info->pubkey_hex}, {"file", info->path}});
  std::cout << "The key is encrypted with your passphrase; without it the file is useless.\n"
               "Back it up with: v2g keys export "
            << info->name << "\n";
  return Status::Ok();
}

void AddKeysCommands(CLI::App& app, CommandLine& cl) {
  KeysArgs& a = cl.Keep<KeysArgs>();
  CLI::App* keys = cl.Group(&app, "keys", "Manage the encrypted keystore");
  auto* add = cl.Command(keys, "add", "Create a key (or --recover one from its seed on stdin)",
                         [&a](Context& c) { return AddKey(c, a.name, a.recover); });
  add->add_option("NAME", a.name, "Key name: 1-64 of A-Z a-z 0-9 _ . -")->required();
  add->add_flag("--recover", a.recover, "Read the key's seed (64 hex digits) from stdin");
  cl.Command(keys, "list", "List keys", [](Context& c) { return CmdKeysList(c); });
  auto* show = cl.Command(keys, "show", "Show a key's address and public key",
                          [&a](Context& c) { return CmdKeysShow(c, a); });
  show->add_option("NAME", a.name, "Key name")->required();
  auto* del = cl.Command(keys, "delete", "Delete a key file",
                         [&a](Context& c) { return CmdKeysDelete(c, a); });
  del->add_option("NAME", a.name, "Key name")->required();
  del->add_flag("--yes,-y", a.yes, "Do not ask for confirmation");
  auto* exp = cl.Command(keys, "export", "Print a key's unencrypted seed (hex) for backup",
                         [&a](Context& c) { return CmdKeysExport(c, a); });
  exp->add_option("NAME", a.name, "Key name")->required();
}

}  // namespace v2g::cli
