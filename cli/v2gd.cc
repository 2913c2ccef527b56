// v2gd: the v2gledger node daemon. Thin main over node/.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <string>

#include "cli/v2gd_keys.h"
#include "common/fsutil.h"
#include "common/time.h"
#include "common/version.h"
#include "genesis/genesis.h"
#include "node/node.h"

namespace {

int Fail(const v2g::Status& st) {
  std::fprintf(stderr, "error: %s\n", st.message().c_str());
  return 1;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Parses --genesis-time (RFC 3339) or uses now, rounded down to the second.
v2g::Result<int64_t> GenesisTime(const std::string& text) {
  if (text.empty()) return NowMs() / 1000 * 1000;
  return v2g::ParseRfc3339Ms(text);
}

// --encrypt-keys [--passphrase-file F] of init and testnet.
struct EncryptKeysFlags {
  bool encrypt = false;
  std::string passphrase_file;
  void Add(CLI::App* cmd) {
    auto* flag =
        cmd->add_flag("--encrypt-keys", encrypt,
                      "Encrypt the key files under a passphrase (default: plain files, as a "
                      "devnet needs to start unattended)");
    cmd->add_option("--passphrase-file", passphrase_file,
                    std::string("File whose first line is the passphrase (mode 0600), also written "
                                "to config.toml's [keys] passphrase_file; else $") +
                        v2g::kKeyPassphraseEnv + ", else asked on the terminal")
        ->needs(flag);
  }
};

// Fills `keys` from `flags` with the passphrase held by `pass` (which must outlive its use).
v2g::Status KeyOptions(const EncryptKeysFlags& flags, v2g::KeyPassphrase& pass,
                       v2g::HomeKeyOptions& keys) {
  if (!flags.encrypt) return v2g::Status::Ok();
  auto phrase = pass.Get();
  if (!phrase.ok()) return phrase.status();
  keys.passphrase = *phrase;
  if (!flags.passphrase_file.empty()) {
    std::error_code ec;
    const auto abs = std::filesystem::absolute(flags.passphrase_file, ec);
    if (ec) return v2g::Error(v2g::Code::kIo, "--passphrase-file: " + ec.message());
    keys.passphrase_file = abs.lexically_normal().string();
  }
  return v2g::Status::Ok();
}

// What init and testnet say of the key files they wrote encrypted.
std::string KeysNote(const v2g::HomeKeyOptions& keys) {
  if (keys.passphrase.empty()) return "";
  if (!keys.passphrase_file.empty()) {
    return "key files encrypted; config.toml's [keys] passphrase_file names " +
           keys.passphrase_file + "\n";
  }
  return std::string(
             "key files encrypted: before starting, set [keys] passphrase_file in config.toml or "
             "$") +
         v2g::kKeyPassphraseEnv + "\n";
}

// Set (once) from the consensus thread when storage fails; the main thread then stops the node.
std::atomic<bool> g_storage_failed{false};
std::mutex g_storage_failure_mu;
std::string g_storage_failure;

int RunStart(const std::string& home) {
  auto node = v2g::Node::Open(home);
  if (!node.ok()) return Fail(node.status());
  // A full or failing disk: stop cleanly (the store holds every committed block, the WAL every
  // signature sent) and exit 74 (EX_IOERR) for the supervisor to restart the node when the disk
  // works again (docs/DESIGN.md "Storage failure").
  (*node)->SetStorageFailureHandler([](const std::string& why) {
    {
      std::lock_guard<std::mutex> lock(g_storage_failure_mu);
      g_storage_failure = why;
    }
    g_storage_failed = true;
    ::kill(::getpid(), SIGTERM);  // to the process: the main thread's sigwait takes it
  });
  // Block SIGINT/SIGTERM in every thread; the main thread waits for them with sigwait.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  v2g::Status st = (*node)->Start();
  if (!st.ok()) return Fail(st);
  v2g::HomePaths paths{home};
  (void)v2g::WriteFileAtomic(paths.pid_file(), std::to_string(::getpid()) + "\n");
  int sig = 0;
  sigwait(&set, &sig);
  if (g_storage_failed) {
    std::lock_guard<std::mutex> lock(g_storage_failure_mu);
    spdlog::critical("storage failed ({}): shutting down; restart the node once the disk has space and works",
                     g_storage_failure);
  } else {
    spdlog::info("received signal {}, shutting down", sig);
  }
  (*node)->Stop();
  ::unlink(paths.pid_file().c_str());
  spdlog::info("stopped cleanly at height {}", (*node)->chain().Tip().height);
  return g_storage_failed ? 74 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  v2g::InitCrypto();
  CLI::App app{"v2gd - v2gledger node daemon"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "v2gd " + std::string(v2g::kSoftwareVersion));

  std::string home;
  auto* init = app.add_subcommand("init", "Create a node home for a new one-validator chain");
  v2g::InitOptions init_opts;
  std::string init_time;
  init->add_option("--home", init_opts.home, "Node home directory")->required();
  init->add_option("--chain-id", init_opts.chain_id, "Chain id")->capture_default_str();
  init->add_option("--moniker", init_opts.moniker, "Node name")->capture_default_str();
  init->add_option("--issuer", init_opts.issuer, "Address that issues CNY and PTS (default: the validator's)");
  init->add_option("--api-listen", init_opts.api_listen, "API host:port")->capture_default_str();
  init->add_option("--genesis-time", init_time, "RFC 3339 UTC time (default: now)");
  std::string init_offset;
  init->add_option("--utc-offset", init_offset, "The market's time zone, as people see times (default +08:00)");
  init->add_option("--fee-min", init_opts.fee_min,
                   "Fee per fee unit in minimal CNY units (a tx has 1 unit, plus 1 per reading or OCMF record); 0 = no fees")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, v2g::limits::kFeeMinMax));
  EncryptKeysFlags init_keys;
  init_keys.Add(init);

  auto* testnet = app.add_subcommand("testnet", "Generate homes for a local network of validators");
  v2g::TestnetOptions tn;
  std::string tn_time;
  testnet->add_option("--validators", tn.validators, "Number of validators")->capture_default_str();
  testnet->add_option("--output", tn.output, "Directory for node0..nodeN-1")->required();
  testnet->add_option("--chain-id", tn.chain_id, "Chain id")->capture_default_str();
  testnet->add_option("--issuer", tn.issuer, "Address that issues CNY and PTS (default: node0's validator)");
  testnet->add_option("--base-port", tn.base_api_port, "API port of node0 (node i: +10*i)")->capture_default_str();
  testnet->add_option("--block-interval-ms", tn.block_interval_ms, "Target block time")->capture_default_str();
  testnet->add_option("--genesis-time", tn_time, "RFC 3339 UTC time (default: now)");
  testnet->add_option("--settlement-interval", tn.settlement_interval_s,
                      "Settlement and market delivery interval in seconds (default 900; must divide a day)");
  testnet->add_option("--gate-closure", tn.gate_closure_s, "Market gate closure lead in seconds (default 300)");
  testnet->add_option("--market-grace", tn.market_grace_s,
                      "Seconds after an interval ends before it settles (default 300)");
  testnet->add_option("--fee-min", tn.fee_min,
                      "Fee per fee unit in minimal CNY units (a tx has 1 unit, plus 1 per reading or OCMF record); 0 = no fees")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, v2g::limits::kFeeMinMax));
  std::string tn_offset;
  testnet->add_option("--utc-offset", tn_offset, "The market's time zone, as people see times (default +08:00)");
  testnet->add_option("--aggregator", tn.aggregators, "Address given the aggregator role (repeatable)");
  testnet->add_flag("--open-reads", tn.open_reads,
                    "Serve personal data to anyone (api.private_reads = false): only for a test network "
                    "nobody but its operator's tools can reach");
  testnet->add_option("--full-reader", tn.full_readers,
                      "Address that may read everything (api.full_readers; repeatable): an indexer, an auditor");
  EncryptKeysFlags tn_keys;
  tn_keys.Add(testnet);

  auto* start = app.add_subcommand("start", "Run the node");
  start->add_option("--home", home, "Node home directory")->required();

  auto* verify = app.add_subcommand("verify-chain", "Re-check every block, commit, app hash and invariant (node stopped)");
  std::string verify_home;
  verify->add_option("--home", verify_home, "Node home directory")->required();

  v2g::v2gd::KeysCommands keys(app);

  CLI11_PARSE(app, argc, argv);

  if (*init) {
    auto t = GenesisTime(init_time);
    if (!t.ok()) return Fail(v2g::Error(t.status().code(), "--genesis-time: " + t.status().message()));
    init_opts.genesis_time_ms = *t;
    if (!init_offset.empty()) {
      auto off = v2g::ParseUtcOffset(init_offset);
      if (!off.ok()) return Fail(v2g::Error(off.status().code(), "--utc-offset: " + off.status().message()));
      init_opts.utc_offset_min = *off;
    }
    v2g::KeyPassphrase pass = v2g::v2gd::NewKeysPassphrase(init_keys.passphrase_file);
    if (v2g::Status st = KeyOptions(init_keys, pass, init_opts.keys); !st.ok()) return Fail(st);
    v2g::Status st = v2g::InitHome(init_opts);
    if (!st.ok()) return Fail(st);
    std::printf("initialised node home %s (chain %s)\n%sstart it with: v2gd start --home %s\n",
                init_opts.home.c_str(), init_opts.chain_id.c_str(),
                KeysNote(init_opts.keys).c_str(), init_opts.home.c_str());
    return 0;
  }
  if (*testnet) {
    auto t = GenesisTime(tn_time);
    if (!t.ok()) return Fail(v2g::Error(t.status().code(), "--genesis-time: " + t.status().message()));
    tn.genesis_time_ms = *t;
    if (!tn_offset.empty()) {
      auto off = v2g::ParseUtcOffset(tn_offset);
      if (!off.ok()) return Fail(v2g::Error(off.status().code(), "--utc-offset: " + off.status().message()));
      tn.utc_offset_min = *off;
    }
    v2g::KeyPassphrase pass = v2g::v2gd::NewKeysPassphrase(tn_keys.passphrase_file);
    if (v2g::Status st = KeyOptions(tn_keys, pass, tn.keys); !st.ok()) return Fail(st);
    v2g::Status st = v2g::GenerateTestnet(tn);
    if (!st.ok()) return Fail(st);
    std::printf("wrote %d node home(s) under %s (chain %s)\n%s", tn.validators, tn.output.c_str(),
                tn.chain_id.c_str(), KeysNote(tn.keys).c_str());
    return 0;
  }
  if (*start) return RunStart(home);
  if (keys.selected()) return keys.Run();
  if (*verify) {
    auto h = v2g::VerifyChain(verify_home);
    if (!h.ok()) return Fail(h.status());
    std::printf("chain verified: %lld blocks, every commit, tx result, app hash and the final state check out; "
                "balances sum to minted - burned\n",
                static_cast<long long>(*h));
    return 0;
  }
  return 0;
}
