// v2g-indexer: follows a node and writes what each block did into PostgreSQL (indexer/,
// docs/INDEXER.md). Thin main over indexer/.
//
//   v2g-indexer --node http://127.0.0.1:26657 --db "dbname=v2g host=/run/postgresql" [--as KEY]
//
// Every block is one transaction with the watermark: kill it at any moment and start it again,
// it goes on from the next block. Exit status: 0 (--stop-at reached, or --migrate done), 1 an
// error (named on stderr), 2 bad arguments.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <thread>

#include "indexer/indexer.h"
#include "wallet/client.h"
#include "wallet/keystore.h"
#include "wallet/prompt.h"

namespace {

int Fail(const v2g::Status& st) {
  std::cerr << "v2g-indexer: " << st.message() << '\n';
  return 1;
}

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

// The wallet home, as v2g finds it: $V2G_HOME, else ~/.v2g.
std::string DefaultHome() {
  if (const char* h = std::getenv("V2G_HOME"); h && *h) return h;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.v2g";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "v2g-indexer: follows a v2gledger node and writes its blocks, txs, transfers, readings, "
      "orders, trades, "
      "settlements and events into PostgreSQL (docs/INDEXER.md)"};
  std::string node = EnvOr("V2G_NODE", "http://127.0.0.1:26657");
  std::string db = EnvOr("V2G_INDEXER_DB", "dbname=v2g_indexer");
  std::string as, home = DefaultHome(), passphrase_file, genesis;
  int64_t stop_at = 0;
  bool migrate_only = false;
  int64_t pace_ms = 0;
  app.add_option("--node", node, "The node's API URL ($V2G_NODE)")->capture_default_str();
  app.add_option("--db", db, "PostgreSQL connection string, libpq's format ($V2G_INDEXER_DB)")
      ->capture_default_str();
  app.add_option("--as", as,
                 "Sign reads as this wallet key: one of the node's [api] full_readers (personal "
                 "data is refused "
                 "to anyone else unless the node has private_reads = false)");
  app.add_option("--home", home, "Wallet home holding --as's key ($V2G_HOME)")
      ->capture_default_str();
  app.add_option("--passphrase-file", passphrase_file,
                 "File whose first line is --as's passphrase (else $V2G_PASSPHRASE)");
  app.add_option("--stop-at", stop_at, "Exit once this height is written (default: follow forever)")
      ->check(CLI::Range(int64_t{1}, INT64_MAX / 4));
  app.add_option(
         "--pace-ms", pace_ms,
         "Wait this long after each block written: spares a busy node a long catch-up (default 0)")
      ->check(CLI::Range(int64_t{0}, int64_t{60'000}));
  app.add_option("--genesis", genesis,
                 "The chain's genesis.json: its balances go into genesis_balances (money that is "
                 "in no block)");
  app.add_flag("--migrate", migrate_only, "Apply the schema migrations and exit");
  CLI11_PARSE(app, argc, argv);

  std::optional<pqxx::connection> conn;
  try {
    conn.emplace(db);
  } catch (const std::exception& e) {
    return Fail(v2g::Error(v2g::Code::kUnavailable,
                           "cannot connect to PostgreSQL (" + db + "): " + e.what()));
  }
  auto stream = v2g::ApiClient::Create(node);
  if (!stream.ok()) return Fail(stream.status());
  auto api = v2g::ApiClient::Create(node);
  if (!api.ok()) return Fail(api.status());
  if (!as.empty()) {
    std::string passphrase;
    if (!passphrase_file.empty()) {
      auto p = v2g::ReadFirstLineOfFile(passphrase_file);
      if (!p.ok()) return Fail(p.status());
      passphrase = *p;
    } else if (const char* env = std::getenv("V2G_PASSPHRASE")) {
      passphrase = env;
    } else {
      return Fail(
          v2g::Error(v2g::Code::kInvalidArgument,
                     "--as " + as + " needs its passphrase: --passphrase-file or $V2G_PASSPHRASE"));
    }
    auto key = v2g::Keystore(home).Load(as, passphrase);
    if (!key.ok()) return Fail(key.status());
    stream->SetReader(*key);
    api->SetReader(*key);
  }
  v2g::indexer::Indexer indexer(*stream, *api, *conn);
  auto version = indexer.Migrate();
  if (!version.ok()) return Fail(version.status());
  if (migrate_only) {
    std::cout << "schema version " << *version << '\n';
    return 0;
  }
  if (!genesis.empty()) {
    if (v2g::Status st = indexer.ImportGenesis(genesis); !st.ok()) return Fail(st);
  }
  auto mark = indexer.Watermark();
  if (!mark.ok()) return Fail(mark.status());
  std::cerr << "v2g-indexer: schema version " << *version << ", indexed up to height " << *mark
            << ", following " << node << '\n';
  v2g::indexer::Options o;
  o.stop_at = stop_at;
  int64_t written = 0;
  o.on_block = [&](int64_t h) {
    if (++written % 1000 == 0) std::cerr << "v2g-indexer: height " << h << '\n';
    if (pace_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(pace_ms));
    return true;
  };
  v2g::Status st = indexer.Run(o);
  if (!st.ok()) return Fail(st);
  auto end = indexer.Watermark();
  std::cerr << "v2g-indexer: indexed up to height " << (end.ok() ? *end : -1) << '\n';
  return 0;
}
