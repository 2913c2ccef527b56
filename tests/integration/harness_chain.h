// Test harness for integration tests that drive a whole testnet through the wallet: start N real
// validators with `v2gd testnet`, sign and submit txs with the C++ builders, wait on observed
// chain state (never on fixed sleeps), stop the nodes and run verify-chain. Built on harness.h.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/bech32.h"
#include "common/crypto.h"
#include "proto/v2g.pb.h"
#include "tests/integration/harness.h"
#include "wallet/client.h"

namespace v2g::testing {

// Wall-clock Unix seconds.
int64_t NowS();
// Polls `done` every 200 ms until it holds (true) or the wall clock passes `deadline_s` (false).
bool PollUntil(int64_t deadline_s, const std::function<bool()>& done);
// Sleeps until the wall clock reaches `t_s` (a meter waiting for its reading's interval to end).
void SleepUntilWall(int64_t t_s);

// An int64 the API sends as a number, a decimal string, or an amount {"denom", "amount", ...};
// with `denom` non-empty an amount must be in it. Adds a test failure and returns 0 otherwise.
int64_t JsonInt(const nlohmann::json& v, const std::string& denom = "");

// A key and its address.
struct Party {
  std::string name;
  KeyPair key;
  Address address{};
  std::string text;  // v2g1...
};
Party MakeParty(const std::string& name);

// Signs, submits and waits for the commit (30 s); the tx must succeed (code 0).
::testing::AssertionResult Commit(ApiClient& client, const KeyPair& key, pb::TxBody body,
                                  SubmitResult* out = nullptr);

// One tx of a batch: `key` signs it (not owned; must outlive the call).
struct TxToSend {
  const KeyPair* key = nullptr;
  pb::TxBody body;
};
// Submits every tx without waiting, in order (a signer's txs take consecutive nonces: the node
// counts its pending ones), then waits for each to commit; every one must succeed. `out`, when
// given, receives the results in the same order. Txs of one batch must not depend on each other
// across signers (another node's proposer may see them in a different order).
::testing::AssertionResult CommitAll(ApiClient& client, const std::vector<TxToSend>& txs,
                                     std::vector<SubmitResult>* out = nullptr,
                                     int64_t timeout_s = 60);

// The account's balance of `denom` (0 when it holds none; -1 and a test failure when the API
// does not answer).
int64_t BalanceOn(ApiClient& client, const std::string& address, const std::string& denom);

// Validators started from `v2gd testnet`, always stopped (SIGKILL at the latest in the
// destructor). Node i serves its API on port(i).
class Testnet {
 public:
  struct Options {
    std::string v2gd;  // path of the v2gd binary
    int nodes = 4;
    std::string issuer;  // v2g1... that issues CNY and PTS and holds operator and grid_company
    int block_interval_ms = 250;
    std::vector<std::string> extra_args;  // e.g. {"--settlement-interval", "60"}
    // api.private_reads = false: the tests read every account, meter and block as the operator's
    // own tools would (the wallet's signed reads are tested against private nodes in tests/wallet).
    bool open_reads = true;
    // params.fee_min: 0 by default, so the tests' balance arithmetic is their contracts' alone
    // (SignAndSubmit attaches the fee the chain asks for when it is not).
    int64_t fee_min = 0;
    // Called with each node's home after `v2gd testnet` made it and before the node starts
    // (e.g. to edit its config.toml); a failure stops Start.
    std::function<::testing::AssertionResult(const std::string& home)> before_start;
  };

  // Creates the node homes under `dir`, starts every node and waits until each API answers.
  ::testing::AssertionResult Start(const std::string& dir, Options options);
  ~Testnet();

  int size() const { return static_cast<int>(nodes_.size()); }
  int port(int i) const { return base_port_ + 10 * i; }
  std::string home(int i) const { return dir_ + "/node" + std::to_string(i); }
  ApiClient& client(int i) { return clients_.at(static_cast<size_t>(i)); }
  // Node i's process id (for reading its /proc entries, e.g. VmRSS).
  pid_t pid(int i) const { return nodes_.at(static_cast<size_t>(i))->pid(); }
  const nlohmann::json& genesis() const { return genesis_; }
  const std::string& chain_id() const { return chain_id_; }
  // A genesis parameter (genesis.json "params") as an integer.
  int64_t Param(const std::string& name) const;
  // The latest committed block time on node i, in ms; -1 when it does not answer.
  int64_t BlockTimeMs(int i);
  // Polls until every node has committed a block with time >= t_s (so every timer due by then
  // has run on every node) or the wall clock passes deadline_s.
  bool WaitAllPast(int64_t t_s, int64_t deadline_s);

  // Stops node i (SIGTERM; it must exit 0 within 20 s) and starts it again on its home with
  // `env` ("NAME=value") added to its environment, then waits until its API answers.
  ::testing::AssertionResult Restart(int i, const std::vector<std::string>& env = {});
  // SIGTERM to every node; each must exit 0 within `timeout_ms`.
  ::testing::AssertionResult Stop(int timeout_ms = 20000);
  // `v2gd verify-chain` on node i (stopped).
  ::testing::AssertionResult VerifyChain(int i);

 private:
  std::string v2gd_;
  std::string dir_;
  int base_port_ = 0;
  nlohmann::json genesis_;
  std::string chain_id_;
  std::vector<std::unique_ptr<Process>> nodes_;
  std::vector<ApiClient> clients_;
};

}  // namespace v2g::testing
