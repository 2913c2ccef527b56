#include "cli/v2g/command_line.h"

#include <utility>

#include "common/assert.h"
#include "wallet/market.h"

namespace v2g::cli {

CommandLine::CommandLine() {
  globals_.node = DefaultNode();
  globals_.home = DefaultHome();
}

void CommandLine::AddGlobalOptions(CLI::App* app) {
  Globals& g = globals_;
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

CLI::App* CommandLine::Group(CLI::App* parent, const std::string& name, const std::string& help) {
  CLI::App* group = parent->add_subcommand(name, help);
  group->require_subcommand(1);
  AddGlobalOptions(group);
  return group;
}

CLI::App* CommandLine::Command(CLI::App* parent, const std::string& name, const std::string& help,
                               Action run) {
  V2G_ASSERT(run != nullptr);
  CLI::App* sub = parent->add_subcommand(name, help);
  AddGlobalOptions(sub);
  sub->callback([this, run = std::move(run)] { action_ = run; });
  return sub;
}

CLI::Validator TimeCheck(const std::string& flag) {
  return CLI::Validator(
      [flag](std::string& text) -> std::string {
        auto t = ParseTimeS(text, flag);
        if (!t.ok()) return t.status().message();
        text = std::to_string(*t);
        return "";
      },
      "TIME", "time");
}

const CLI::Validator& IdCheck() {
  static const CLI::Validator kCheck(
      [](std::string& text) -> std::string {
        const bool digits = !text.empty() && text.size() <= 19 &&
                            text.find_first_not_of("0123456789") == std::string::npos;
        if (!digits || text.find_first_not_of('0') == std::string::npos) {
          return "an id is a whole number from 1 up (as 'list' shows it), got '" + text + "'";
        }
        return "";
      },
      "ID", "id");
  return kCheck;
}

void AddTxOptions(CLI::App* sub, TxArgs& t, bool with_fee_memo) {
  sub->add_option("--from", t.from, "Key that signs (a name in the keystore)")->required();
  if (with_fee_memo) {
    sub->add_option("--fee", t.fee, "Fee (burned), AMOUNT:DENOM (e.g. 0.01:CNY)");
    sub->add_option("--memo", t.memo, "Free text stored with the tx");
  }
  sub->add_flag("--no-wait", t.no_wait,
                "Return once the node accepted the tx, without waiting for the commit");
}

}  // namespace v2g::cli
