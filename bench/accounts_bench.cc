// v2g_accounts_bench: the memory of a node that holds many funded accounts (issue 13: "a node with
// 1,000,000 funded accounts stays under 512 MiB RSS"). It makes a one-validator testnet with
// `v2gd testnet`, adds --accounts funded accounts to its genesis (addresses derived from a
// counter, each holding 1 minimal unit of CNY), starts the node and reports its peak RSS
// (VmHWM: the initial state write included) after startup, and again after --reads random
// account reads through the API (each touches LevelDB blocks, so a cache that grows with the
// state would show), with the time each part took. It prints numbers; it asserts nothing.
//
//   v2g_accounts_bench --v2gd build-release/cli/v2gd [--accounts 1000000] [--reads 20000]
//                      [--dir DIR] [--port 27657]
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "common/bech32.h"
#include "common/crypto.h"
#include "common/fsutil.h"
#include "genesis/genesis.h"

namespace {

using Clock = std::chrono::steady_clock;

// The largest value of a "Vm...:  N kB" line of /proc/PID/status, in KiB; -1 when unreadable.
long long StatusKiB(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atoll(line.c_str() + field.size() + 1);
  }
  return -1;
}

double Seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Peak RSS of a node holding many funded accounts (docs/DESIGN.md, issue 13)"};
  std::string v2gd;
  long long accounts = 1'000'000;
  long long reads = 20'000;
  std::string dir;
  int port = 27657;
  app.add_option("--v2gd", v2gd, "Path of the v2gd binary")->required();
  app.add_option("--accounts", accounts, "Funded accounts added to genesis")->check(CLI::Range(1LL, 10'000'000LL));
  app.add_option("--reads", reads, "Random account reads through the API after startup")
      ->check(CLI::Range(0LL, 10'000'000LL));
  app.add_option("--dir", dir, "Directory for the testnet (default: a new one under /tmp; removed after)");
  app.add_option("--port", port, "API port of the node")->check(CLI::Range(1024, 65000));
  CLI11_PARSE(app, argc, argv);

  const bool own_dir = dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/v2g-accounts-XXXXXX";
    if (!::mkdtemp(tmpl)) return std::perror("mkdtemp"), 1;
    dir = tmpl;
  }
  const std::string home = dir + "/node0";
  const std::string cmd = "'" + v2gd + "' testnet --open-reads --validators 1 --output '" + dir + "' --base-port " +
                          std::to_string(port) + " > '" + dir + "/testnet.log' 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "v2gd testnet failed: see %s/testnet.log\n", dir.c_str());
    return 1;
  }
  auto genesis = v2g::LoadGenesisFile(home + "/genesis.json");
  if (!genesis.ok()) return std::fprintf(stderr, "%s\n", genesis.status().ToString().c_str()), 1;
  auto t0 = Clock::now();
  std::vector<v2g::Address> addrs;
  addrs.reserve(static_cast<size_t>(accounts));
  for (long long i = 0; i < accounts; ++i) {
    const v2g::Hash256 h = v2g::Blake2b256("v2g-accounts-bench/" + std::to_string(i));
    v2g::Address a{};
    std::copy(h.begin(), h.begin() + static_cast<long>(a.size()), a.begin());
    addrs.push_back(a);
    genesis->balances.push_back(v2g::GenesisBalance{a, "CNY", 1});
  }
  const std::string json = v2g::GenesisToJson(*genesis);
  if (auto s = v2g::WriteFileAtomic(home + "/genesis.json", json); !s.ok()) {
    return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
  }
  std::printf("genesis: %lld funded accounts, %.1f MiB of JSON, made in %.1f s\n", accounts,
              static_cast<double>(json.size()) / (1024.0 * 1024.0), Seconds(t0));

  std::fflush(stdout);  // else the child inherits the buffered lines and prints them again
  t0 = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string log = dir + "/node0.log";
    if (!std::freopen(log.c_str(), "w", stdout) || !std::freopen(log.c_str(), "a", stderr)) _exit(127);
    ::execl(v2gd.c_str(), v2gd.c_str(), "start", "--home", home.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(1, 0);
  cli.set_read_timeout(10, 0);
  long long height = 0;
  for (int tries = 0; tries < 1200 && height < 2; ++tries) {  // up to 10 minutes
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      std::fprintf(stderr, "v2gd exited (status %d): see %s/node0.log\n", status, dir.c_str());
      return 1;
    }
    if (auto r = cli.Get("/v1/status"); r && r->status == 200) {
      auto pos = r->body.find("\"latest_height\":");
      if (pos != std::string::npos) height = std::atoll(r->body.c_str() + pos + 16);
    }
  }
  int rc = 0;
  if (height < 2) {
    std::fprintf(stderr, "the node did not commit 2 blocks within 10 minutes: see %s/node0.log\n", dir.c_str());
    rc = 1;
  } else {
    std::printf("started and committed 2 blocks in %.1f s: RSS %lld KiB, peak (VmHWM) %lld KiB\n", Seconds(t0),
                StatusKiB(pid, "VmRSS"), StatusKiB(pid, "VmHWM"));
    t0 = Clock::now();
    std::mt19937_64 rng(42);
    long long ok = 0;
    for (long long i = 0; i < reads; ++i) {
      const auto& a = addrs[rng() % addrs.size()];
      if (auto r = cli.Get("/v1/accounts/" + v2g::EncodeAddress(a)); r && r->status == 200) ++ok;
    }
    std::printf("%lld random account reads (%lld answered 200) in %.1f s: RSS %lld KiB, peak (VmHWM) %lld KiB\n",
                reads, ok, Seconds(t0), StatusKiB(pid, "VmRSS"), StatusKiB(pid, "VmHWM"));
    if (ok != reads) rc = 1;
    std::printf("bound: 512 MiB = %d KiB (issue 13)\n", 512 * 1024);
  }
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (own_dir) (void)std::system(("rm -rf '" + dir + "'").c_str());
  return rc;
}
