// v2g: the wallet command line. Parses arguments, asks for passphrases, prints results; the work
// is done by wallet/ (keystore, API client, tx building). One file per command family in this
// folder (families.h); this file only wires them and turns the outcome into an exit code.
//
// Exit codes: 0 success, 1 any error ("error: <message>" on stderr), 2 usage error (CLI11's
// message). With --output json every successful command prints one JSON object on stdout.

#include <CLI/CLI.hpp>
#include <csignal>
#include <exception>
#include <iostream>
#include <string>

#include "cli/v2g/command_line.h"
#include "cli/v2g/context.h"
#include "cli/v2g/families.h"
#include "common/assert.h"
#include "common/crypto.h"

namespace v2g::cli {
namespace {

// Runs the chosen action; any exception is an internal error, not a crash.
int Run(const CommandLine& cl, const Action& action) {
  V2G_ASSERT(action != nullptr);
  Context ctx(cl.globals());
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

int Main(int argc, char** argv) {
  // cpp-httplib 0.11.4 (Debian's) sends without MSG_NOSIGNAL: a node that answers 503 at its
  // connection cap and closes while we still write the request would kill the wallet with
  // SIGPIPE, silently (exit 141). Ignored, the write fails and the user sees the node's answer
  // or a connection error.
  std::signal(SIGPIPE, SIG_IGN);
  InitCrypto();
  CommandLine cl;
  CLI::App app{"v2g: wallet for the v2gledger energy-trading ledger"};
  app.name("v2g");
  app.require_subcommand(1);
  cl.AddGlobalOptions(&app);
  AddKeysCommands(app, cl);
  AddBankCommands(app, cl);
  AddTxCommands(app, cl);
  AddMeterCommands(app, cl);
  AddBatteryCommands(app, cl);
  AddMeterSimCommands(app, cl);
  AddMarketCommands(app, cl);
  AddContractCommands(app, cl);
  AddTariffCommands(app, cl);
  AddEventCommands(app, cl);
  AddPoolCommands(app, cl);
  AddProgramCommands(app, cl);
  AddEarningsCommands(app, cl);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  return Run(cl, cl.action());
}

}  // namespace
}  // namespace v2g::cli

int main(int argc, char** argv) { return v2g::cli::Main(argc, argv); }
