#include "cli/v2g/context.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

#include "contracts/meters.h"
#include "wallet/prompt.h"

namespace v2g::cli {
namespace {

constexpr char kDefaultNode[] = "http://127.0.0.1:26657";

}  // namespace

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

Result<ApiClient*> Context::client() {
  if (!client_) {
    auto c = ApiClient::Create(g_.node);
    if (!c.ok()) return c.status();
    client_.emplace(std::move(c).value());
  }
  return &*client_;
}

Result<std::string> Context::Passphrase(const std::string& key_name, bool confirm) const {
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

Result<KeyPair> Context::LoadKey(const std::string& name) {
  auto pass = Passphrase(name, false);
  if (!pass.ok()) return pass.status();
  Secret p(std::move(pass).value());
  return keystore_.Load(name, p.get());
}

KeyNames::KeyNames(Context& ctx) {
  auto keys = ctx.keystore().List();
  if (!keys.ok()) return;
  for (const auto& k : *keys) names_[k.address] = k.name;
}

std::string KeyNames::operator()(const std::string& address) const {
  auto it = names_.find(address);
  return it == names_.end() ? address : it->second;
}

Result<std::vector<AccountRef>> AccountsOrAllKeys(Context& ctx, const std::string& who,
                                                  const std::string& no_keys_hint) {
  std::vector<AccountRef> refs;
  if (!who.empty()) {
    V2G_ASSIGN_OR_RETURN(ref, ResolveAccount(ctx.keystore(), who));
    refs.push_back(ref);
    return refs;
  }
  V2G_ASSIGN_OR_RETURN(keys, ctx.keystore().List());
  if (keys.empty()) {
    return Error(Code::kInvalidArgument,
                 "no keys in " + ctx.keystore().dir() + ": " + no_keys_hint);
  }
  for (const auto& k : keys) {
    V2G_ASSIGN_OR_RETURN(ref, ResolveAccount(ctx.keystore(), k.name));
    refs.push_back(ref);
  }
  return refs;
}

Result<MarketContext> NodeMarket(Context& ctx) {
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  return FetchMarket(*client);
}

Status CheckMeterIdArg(const std::string& id) {
  if (!ValidMeterId(id)) {
    return Error(Code::kInvalidArgument,
                 "'" + id + "' is not a meter id (1-64 of A-Z a-z 0-9 . _ : -)");
  }
  return Status::Ok();
}

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

}  // namespace v2g::cli
