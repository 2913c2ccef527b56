#include "cli/v2g/context.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "contracts/meters.h"
#include "wallet/prompt.h"

namespace v2g::cli {
namespace {

constexpr char kDefaultNode[] = "http://127.0.0.1:26657";
// Shorter than this, a passphrase falls to guessing by anyone who copies the key file.
constexpr size_t kPassphraseWeakBelow = 10;

// A warning on stderr for a new key's passphrase that is short or all one kind of character.
void WarnIfWeak(const std::string& p) {
  const bool one_kind = std::all_of(p.begin(), p.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) ||
                        std::all_of(p.begin(), p.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); });
  if (p.size() >= kPassphraseWeakBelow && !one_kind) return;
  std::cerr << "warning: this passphrase is weak (" << (p.size() < kPassphraseWeakBelow ? "shorter than 10 characters" : "letters only or digits only")
            << "): anyone who copies the key file can try to guess it; a few unrelated words are stronger\n";
}

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
    client_->SetReaderSource([this](const std::vector<std::string>& readers) { return ReaderFor(readers); });
  }
  return &*client_;
}

Result<KeyInfo> Context::ActAs(const std::string& name) {
  auto info = keystore_.Show(name);
  if (info.ok()) acting_ = info->name;
  return info;
}

std::optional<KeyPair> Context::ReaderFor(const std::vector<std::string>& readers) {
  auto keys = keystore_.List();
  if (!keys.ok() || keys->empty()) return std::nullopt;
  auto usable = [&](const KeyInfo& k) { return failed_.count(k.name) == 0; };
  auto named = [&](const KeyInfo& k) { return std::find(readers.begin(), readers.end(), k.address) != readers.end(); };
  std::string name;
  // A key of an account the node names, the one the command acts as first; else the key the
  // command acts as, else the wallet's only key (a member's own row, an owner's own trade).
  for (const KeyInfo& k : *keys) {
    if (usable(k) && named(k) && (name.empty() || k.name == acting_)) name = k.name;
  }
  for (const KeyInfo& k : *keys) {
    if (name.empty() && usable(k) && k.name == acting_) name = k.name;
  }
  if (name.empty() && keys->size() == 1 && usable(keys->front())) name = keys->front().name;
  if (name.empty()) return std::nullopt;
  auto key = LoadKey(name);
  if (!key.ok()) {
    // The refusal stands; say why the wallet could not sign for it.
    std::fprintf(stderr, "v2g: cannot sign the read with key '%s': %s\n", name.c_str(),
                 key.status().ToString().c_str());
    failed_.insert(name);
    return std::nullopt;
  }
  return *key;
}

Result<std::string> Context::Passphrase(const std::string& key_name, bool confirm) const {
  if (!g_.passphrase_file.empty()) {
    auto p = ReadFirstLineOfFile(g_.passphrase_file);
    if (p.ok() && p->empty())
      return Error(Code::kInvalidArgument, "passphrase file " + g_.passphrase_file + " is empty");
    if (p.ok() && std::isspace(static_cast<unsigned char>(p->back()))) {
      std::cerr << "warning: the passphrase in " << g_.passphrase_file << " ends with whitespace"
                << (p->back() == '\r' ? " (a carriage return: a Windows line ending?)" : "")
                << "; it is part of the passphrase as written\n";
    }
    if (p.ok() && confirm) WarnIfWeak(*p);
    return p;
  }
  if (const char* env = std::getenv("V2G_PASSPHRASE"); env != nullptr) {
    if (confirm) WarnIfWeak(env);
    return std::string(env);
  }
  if (!confirm) return ReadSecretFromTerminal("Passphrase for key '" + key_name + "': ");
  auto first = ReadSecretFromTerminal("New passphrase for key '" + key_name + "': ");
  if (!first.ok()) return first;
  Secret p1(std::move(first).value());
  auto second = ReadSecretFromTerminal("Repeat the passphrase: ");
  if (!second.ok()) return second;
  Secret p2(std::move(second).value());
  if (p1.get() != p2.get()) return Error(Code::kInvalidArgument, "the passphrases do not match");
  WarnIfWeak(p1.get());
  return std::string(p1.get());
}

Result<KeyPair> Context::LoadKey(const std::string& name) {
  if (auto it = loaded_.find(name); it != loaded_.end()) return it->second;
  auto pass = Passphrase(name, false);
  if (!pass.ok()) return pass.status();
  Secret p(std::move(pass).value());
  auto key = keystore_.Load(name, p.get());
  if (key.ok()) loaded_.emplace(name, *key);
  return key;
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

Status Confirm(bool yes, const std::string& question, const std::string& what,
               const std::string& declined) {
  if (yes) return Status::Ok();
  auto answer = ReadLineFromTerminal(question);
  if (!answer.ok()) {
    return Error(Code::kInvalidArgument,
                 "refusing to " + what + " without confirmation: pass --yes");
  }
  if (*answer != "y" && *answer != "Y" && *answer != "yes") {
    return Error(Code::kInvalidArgument, declined);
  }
  return Status::Ok();
}

}  // namespace v2g::cli
