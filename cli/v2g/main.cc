// v2g: the wallet command line. Parses arguments, asks for passphrases, prints results; the work
// is done by wallet/ (keystore, API client, tx building). One file per command family in this
// folder (families.h); this file only wires them and turns the outcome into an exit code.
//
// Exit codes: 0 success, 1 any error ("error: <message>" on stderr), 2 usage error (CLI11's
// message, and "did you mean ...?" for a mistyped command or option). With --output json every
// command prints one JSON object on stdout: its result, or {"error": {"code", "code_num",
// "message"}} (usage errors too, with code "usage").

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <exception>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/v2g/command_line.h"
#include "cli/v2g/context.h"
#include "cli/v2g/families.h"
#include "cli/v2g/output.h"
#include "common/assert.h"
#include "common/crypto.h"

namespace v2g::cli {
namespace {

// The edit distance of `a` and `b` (insertions, deletions, substitutions, swaps of neighbours).
size_t Distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

// The candidates closest to `word` when close enough to be a typo, in their order and joined by
// " or " when several are as close (or the one `word` is a prefix of), else "".
std::string Closest(const std::string& word, const std::vector<std::string>& candidates) {
  std::vector<std::string> best;
  size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
  for (const std::string& c : candidates) {
    const size_t d = Distance(word, c);
    if (d < best_d) {
      best_d = d;
      best.clear();
    }
    if (d == best_d && std::find(best.begin(), best.end(), c) == best.end()) best.push_back(c);
  }
  if (!best.empty()) {
    std::string out;
    for (size_t i = 0; i < best.size() && i < 3; ++i) out += (i ? " or " : "") + best[i];
    return out;
  }
  std::vector<std::string> prefixed;
  for (const std::string& c : candidates) {
    if (word.size() >= 2 && c.rfind(word, 0) == 0) prefixed.push_back(c);
  }
  return prefixed.size() == 1 ? prefixed[0] : "";
}

// Walks argv down the command tree as CLI11 would and says what a mistyped command or option
// probably meant: "did you mean 'market'?" ("" when nothing is unknown or nothing is close).
std::string DidYouMean(CLI::App& root, int argc, char** argv) {
  CLI::App* app = &root;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    if (arg.rfind("--", 0) == 0) {
      const std::string name = arg.substr(0, arg.find('='));
      const CLI::Option* opt = app->get_option_no_throw(name);
      if (opt == nullptr) {
        // The command's own options before the global ones every command takes.
        static const std::vector<std::string> kGlobal = {"--node", "--output", "--home", "--passphrase-file", "--help"};
        std::vector<std::string> names;
        for (const CLI::Option* o : app->get_options()) {
          for (const std::string& l : o->get_lnames()) {
            if (std::find(kGlobal.begin(), kGlobal.end(), "--" + l) == kGlobal.end()) names.push_back("--" + l);
          }
        }
        names.insert(names.end(), kGlobal.begin(), kGlobal.end());
        const std::string guess = Closest(name, names);
        return guess.empty() ? "" : "unknown option " + name + ": did you mean " + guess + "?";
      }
      // Its value, when it takes one and it was not given with '='.
      if (arg.find('=') == std::string::npos && opt->get_type_size_max() > 0) ++i;
      continue;
    }
    if (arg.rfind("-", 0) == 0) continue;  // a short flag, or a negative number (refused by its check)
    std::vector<std::string> subs;
    CLI::App* next = nullptr;
    for (CLI::App* s : app->get_subcommands([](CLI::App*) { return true; })) {
      subs.push_back(s->get_name());
      if (s->check_name(arg)) next = s;
    }
    if (subs.empty()) continue;  // a positional argument of a command
    if (next != nullptr) {
      app = next;
      continue;
    }
    const std::string guess = Closest(arg, subs);
    const std::string where = app == &root ? "v2g" : "v2g ... " + app->get_name();
    if (guess.empty()) return "";
    return "unknown command '" + arg + "' for " + where + ": did you mean '" + guess + "'?";
  }
  return "";
}

// --output json anywhere on the command line (parsing may have failed before it was read).
bool WantsJson(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--output=json" || (a == "--output" && i + 1 < argc && std::string(argv[i + 1]) == "json")) return true;
  }
  return false;
}

void PrintJsonError(const std::string& code, uint32_t code_num, const std::string& message) {
  const nlohmann::json j = {{"error", {{"code", code}, {"code_num", code_num}, {"message", message}}}};
  std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

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
    if (cl.globals().json()) {
      // A result object already printed (a tx that committed but failed) carries the error.
      if (PrintedJson()) return 1;
      PrintJsonError(std::string(CodeName(st.code())), static_cast<uint32_t>(st.code()), st.message());
    } else {
      std::cerr << "error: " << st.message() << "\n";
    }
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
  AddWatchCommands(app, cl);
  AddGovCommands(app, cl);
  AddVerifyCommands(app, cl);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    const std::string hint = DidYouMean(app, argc, argv);
    if (WantsJson(argc, argv)) {
      std::ostringstream out, err;
      app.exit(e, out, err);
      std::string message = err.str().empty() ? out.str() : err.str();
      while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
      if (!hint.empty()) message += "; " + hint;
      PrintJsonError("usage", 2, message);
      return 2;
    }
    app.exit(e);
    if (!hint.empty()) std::cerr << hint << "\n";
    return 2;
  }
  return Run(cl, cl.action());
}

}  // namespace
}  // namespace v2g::cli

int main(int argc, char** argv) { return v2g::cli::Main(argc, argv); }
