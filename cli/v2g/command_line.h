// Building the v2g command tree with CLI11. Each command family registers its subcommands with
// an Add...Commands function (cli/v2g/families.h); main parses, then runs the one action the
// chosen subcommand selected.
//
// CLI11 runs a subcommand's callback while parsing, before the Context exists (its keystore needs
// --home), so a callback only records what to run; the option values live in storage this object
// keeps until the action has run.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cli/v2g/context.h"
#include "cli/v2g/submit.h"

namespace v2g::cli {

using Action = std::function<Status(Context&)>;

class CommandLine {
 public:
  // Globals default to DefaultNode() and DefaultHome() (shown in --help).
  CommandLine();
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  const Globals& globals() const { return globals_; }
  // The action the chosen subcommand selected; null until parsing succeeded.
  Action& action() { return action_; }

  // Storage for a family's option values, alive as long as this object.
  template <class T>
  T& Keep() {
    auto p = std::make_shared<T>();
    kept_.push_back(p);
    return *p;
  }

  // --node, --output, --home and --passphrase-file, on `app`.
  void AddGlobalOptions(CLI::App* app);
  // A group such as `keys`: takes the global options and requires one subcommand.
  CLI::App* Group(CLI::App* parent, const std::string& name, const std::string& help);
  // A command whose callback selects `run` as the action; takes the global options.
  CLI::App* Command(CLI::App* parent, const std::string& name, const std::string& help, Action run);

 private:
  Globals globals_;
  Action action_;
  std::vector<std::shared_ptr<void>> kept_;
};

// A record id on the command line (order, contract, event, pool, program): digits only, at least 1.
// "-1" would otherwise wrap to 18446744073709551615 in the unsigned id.
const CLI::Validator& IdCheck();

// A time option read into Unix seconds: RFC 3339 (2026-12-06T08:00:00+08:00, ...Z) or Unix
// seconds; anything else is refused naming `flag`.
CLI::Validator TimeCheck(const std::string& flag);

// --from, --no-wait and with `with_fee_memo` --fee and --memo of a tx command.
void AddTxOptions(CLI::App* sub, TxArgs& t, bool with_fee_memo);

}  // namespace v2g::cli
