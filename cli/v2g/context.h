// What every command family of the v2g wallet CLI shares at run time: the global options, the
// keystore, the API client (made on first use), passphrases, and the checks of arguments that
// several families take (meter ids, zones, record ids, accounts).
//
// One Context per run, made by main after the command line was parsed; single-threaded.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/crypto.h"
#include "common/status.h"
#include "wallet/actions.h"
#include "wallet/client.h"
#include "wallet/keystore.h"
#include "wallet/market.h"

namespace v2g::cli {

// The options every (sub)command accepts: --node, --output, --home, --passphrase-file.
struct Globals {
  std::string node;
  std::string output = "text";
  std::string home;
  std::string passphrase_file;
  bool json() const { return output == "json"; }
};

// $V2G_HOME, else $HOME/.v2g (the passwd entry's home when $HOME is unset).
std::string DefaultHome();
// $V2G_NODE, else http://127.0.0.1:26657.
std::string DefaultNode();

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

class Context {
 public:
  explicit Context(const Globals& g) : g_(g), keystore_(g.home) {}
  const Globals& globals() const { return g_; }
  bool json() const { return g_.json(); }
  Keystore& keystore() { return keystore_; }

  // The client of --node, made on the first call; an error if the URL is unusable. Its reads are
  // signed for the user (docs/API.md "Signed reads"): a GET refused or reduced as personal data
  // is signed again with the wallet's key of an account the node names as entitled, else the key
  // the command acts as (ActAs), else the wallet's only key; its passphrase is asked once a run.
  Result<ApiClient*> client();

  // --passphrase-file, else $V2G_PASSPHRASE, else the terminal (twice when `confirm`).
  Result<std::string> Passphrase(const std::string& key_name, bool confirm) const;

  // The command acts as key `name` (its --from): the key's public information, and from now on
  // a read the node refuses without naming who may read it (an order, a contract) is signed as
  // this key, and so is one where it is among those named.
  Result<KeyInfo> ActAs(const std::string& name);

  // Key `name` from the keystore, decrypted with its passphrase (asked as above, once per run).
  Result<KeyPair> LoadKey(const std::string& name);

 private:
  // The key to sign a refused read with (client() above), or nothing.
  std::optional<KeyPair> ReaderFor(const std::vector<std::string>& readers);

  Globals g_;
  Keystore keystore_;
  std::optional<ApiClient> client_;
  std::map<std::string, KeyPair> loaded_;  // keys decrypted this run, by name
  std::string acting_;                     // ActAs's key name, "" before
  std::set<std::string> failed_;           // keys whose passphrase failed this run
};

// Declares `auto& lhs` as the value of the Result `expr`, or returns its error.
#define V2G_ASSIGN_OR_RETURN(lhs, expr)                 \
  auto lhs##_result = (expr);                           \
  if (!lhs##_result.ok()) return lhs##_result.status(); \
  auto& lhs = lhs##_result.value()

// Shows the addresses of this wallet's keys by their names.
class KeyNames {
 public:
  explicit KeyNames(Context& ctx);
  // The key name of `address`, or the address itself when no key of this wallet has it.
  std::string operator()(const std::string& address) const;

 private:
  std::map<std::string, std::string> names_;
};

// The account named on the command line (`who`: an address or a key name), or when `who` is
// empty every key in the wallet; with no keys an error "no keys in DIR: <no_keys_hint>".
Result<std::vector<AccountRef>> AccountsOrAllKeys(Context& ctx, const std::string& who,
                                                  const std::string& no_keys_hint);

// The market parameters (denomination, interval) and the latest block time, from the node.
Result<MarketContext> NodeMarket(Context& ctx);

// Argument checks before anything is asked of the node; the errors name the argument.
Status CheckMeterIdArg(const std::string& id);
Status CheckZoneArg(const std::string& zone);
// (Ids are checked as the command line is parsed: command_line.h IdCheck.)

// A step that cannot be undone asks first: `question` ("... [y/N] ") on the terminal, and goes on
// only on "y" or "yes", or at once when `yes` (--yes). Without a terminal it refuses with
// "refusing to <what> without confirmation: pass --yes"; an answer other than yes is
// "<declined>".
Status Confirm(bool yes, const std::string& question, const std::string& what,
               const std::string& declined);

}  // namespace v2g::cli
