#include "tests/integration/harness_chain.h"

#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "wallet/actions.h"

namespace v2g::testing {

using json = nlohmann::json;

int64_t NowS() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool PollUntil(int64_t deadline_s, const std::function<bool()>& done) {
  while (!done()) {
    if (NowS() > deadline_s) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return true;
}

void SleepUntilWall(int64_t t_s) {
  while (NowS() < t_s) std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

int64_t JsonInt(const json& v, const std::string& denom) {
  if (v.is_object() && v.contains("amount")) {
    if (!denom.empty()) EXPECT_EQ(v.value("denom", ""), denom) << v.dump();
    return JsonInt(v["amount"]);
  }
  if (v.is_string()) return std::stoll(v.get<std::string>());
  if (v.is_number_integer()) return v.get<int64_t>();
  ADD_FAILURE() << "not an integer: " << v.dump();
  return 0;
}

Party MakeParty(const std::string& name) {
  Party p{name, KeyPair::Generate(), {}, ""};
  p.address = AddressFromPublicKey(p.key.public_key());
  p.text = EncodeAddress(p.address);
  return p;
}

::testing::AssertionResult Commit(ApiClient& client, const KeyPair& key, pb::TxBody body,
                                  SubmitResult* out) {
  SubmitOptions opts;
  opts.timeout_ms = 30000;
  auto s = SignAndSubmit(client, key, std::move(body), opts);
  if (!s.ok()) return ::testing::AssertionFailure() << "submit: " << s.status().message();
  if (!s->result.committed()) {
    return ::testing::AssertionFailure() << "tx " << s->result.hash << " not committed in 30 s";
  }
  if (s->result.code != 0) {
    return ::testing::AssertionFailure()
           << "tx failed: " << s->result.code_name << ": " << s->result.log;
  }
  if (out) *out = s->result;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult CommitAll(ApiClient& client, const std::vector<TxToSend>& txs,
                                     std::vector<SubmitResult>* out, int64_t timeout_s) {
  SubmitOptions opts;
  opts.wait_commit = false;
  std::vector<std::string> hashes;
  for (size_t i = 0; i < txs.size(); ++i) {
    auto s = SignAndSubmit(client, *txs[i].key, txs[i].body, opts);
    if (!s.ok()) {
      return ::testing::AssertionFailure()
             << "submit of tx " << i << " (" << txs[i].body.ShortDebugString().substr(0, 200)
             << "): " << s.status().message();
    }
    hashes.push_back(s->result.hash);
  }
  if (out) out->assign(txs.size(), SubmitResult{});
  const int64_t deadline = NowS() + timeout_s;
  for (size_t i = 0; i < hashes.size(); ++i) {
    TxInfo info;
    const bool done = PollUntil(deadline, [&] {
      auto t = client.GetTx(hashes[i]);
      if (!t.ok()) return false;
      info = *t;
      return info.committed();
    });
    if (!done) {
      return ::testing::AssertionFailure()
             << "tx " << i << " " << hashes[i] << " not committed in " << timeout_s << " s";
    }
    if (info.code != 0) {
      return ::testing::AssertionFailure()
             << "tx " << i << " (" << txs[i].body.ShortDebugString().substr(0, 200)
             << ") failed: " << info.code_name << ": " << info.log;
    }
    if (out) {
      SubmitResult& r = (*out)[i];
      r.hash = info.hash;
      r.status = info.status;
      r.height = info.height;
      r.index = info.index;
      r.code = info.code;
      r.code_name = info.code_name;
      r.log = info.log;
      r.created_id = info.created_id;
      r.raw = info.raw;
    }
  }
  return ::testing::AssertionSuccess();
}

int64_t BalanceOn(ApiClient& client, const std::string& address, const std::string& denom) {
  auto a = client.GetAccount(address);
  EXPECT_TRUE(a.ok()) << a.status().message();
  if (!a.ok()) return -1;
  for (const auto& b : a->balances) {
    if (b.denom == denom) return b.amount;
  }
  return 0;
}

::testing::AssertionResult Testnet::Start(const std::string& dir, Options options) {
  v2gd_ = options.v2gd;
  dir_ = dir;
  base_port_ = FreeTestnetBasePort(options.nodes);
  std::vector<std::string> argv{v2gd_,
                                "testnet",
                                "--validators",
                                std::to_string(options.nodes),
                                "--output",
                                dir,
                                "--issuer",
                                options.issuer,
                                "--base-port",
                                std::to_string(base_port_),
                                "--block-interval-ms",
                                std::to_string(options.block_interval_ms),
                                "--fee-min",
                                std::to_string(options.fee_min)};
  if (options.open_reads) argv.push_back("--open-reads");
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  auto tn = Run(argv);
  if (tn.exit_code != 0) return ::testing::AssertionFailure() << "v2gd testnet: " << tn.output;
  genesis_ = json::parse(ReadFileOrEmpty(dir + "/node0/genesis.json"), nullptr, false);
  if (genesis_.is_discarded()) return ::testing::AssertionFailure() << "node0/genesis.json";
  for (int i = 0; options.before_start && i < options.nodes; ++i) {
    if (auto edited = options.before_start(home(i)); !edited) return edited;
  }
  for (int i = 0; i < options.nodes; ++i) {
    nodes_.push_back(std::make_unique<Process>(
        std::vector<std::string>{v2gd_, "start", "--home", home(i)}, home(i) + ".log"));
  }
  for (int i = 0; i < options.nodes; ++i) {
    if (!WaitHealthy(port(i), 20000)) {
      return ::testing::AssertionFailure() << "node " << i << " not healthy in 20 s";
    }
    auto c = ApiClient::Create("http://127.0.0.1:" + std::to_string(port(i)));
    if (!c.ok()) return ::testing::AssertionFailure() << c.status().message();
    clients_.push_back(std::move(c).value());
  }
  auto status = clients_[0].GetStatus();
  if (!status.ok()) return ::testing::AssertionFailure() << status.status().message();
  chain_id_ = status->chain_id;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult Testnet::Restart(int i, const std::vector<std::string>& env) {
  Process& old = *nodes_.at(static_cast<size_t>(i));
  old.Signal(SIGTERM);
  if (old.Wait(20000) != 0)
    return ::testing::AssertionFailure() << "node " << i << " did not stop cleanly";
  // The child inherits this process's environment at spawn: set, spawn, unset (the test's one
  // thread does it).
  std::vector<std::string> names;
  for (const std::string& kv : env) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos)
      return ::testing::AssertionFailure() << "env entry without '=': " << kv;
    names.push_back(kv.substr(0, eq));
    ::setenv(names.back().c_str(), kv.substr(eq + 1).c_str(), 1);
  }
  nodes_[static_cast<size_t>(i)] = std::make_unique<Process>(
      std::vector<std::string>{v2gd_, "start", "--home", home(i)}, home(i) + ".log");
  for (const std::string& n : names) ::unsetenv(n.c_str());
  if (!WaitHealthy(port(i), 20000))
    return ::testing::AssertionFailure() << "node " << i << " not healthy in 20 s";
  return ::testing::AssertionSuccess();
}

Testnet::~Testnet() = default;  // each Process kills its node if it still runs

int64_t Testnet::Param(const std::string& name) const { return JsonInt(genesis_["params"][name]); }

int64_t Testnet::BlockTimeMs(int i) {
  auto s = client(i).GetStatus();
  return s.ok() ? s->latest_block_time_ms : -1;
}

bool Testnet::WaitAllPast(int64_t t_s, int64_t deadline_s) {
  for (int i = 0; i < size(); ++i) {
    if (!PollUntil(deadline_s, [&] { return BlockTimeMs(i) >= t_s * 1000; })) return false;
  }
  return true;
}

::testing::AssertionResult Testnet::Stop(int timeout_ms) {
  for (auto& n : nodes_) n->Signal(SIGTERM);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    auto code = nodes_[i]->Wait(timeout_ms);
    if (code != 0) {
      return ::testing::AssertionFailure()
             << "node " << i << " exit " << (code ? std::to_string(*code) : "timeout");
    }
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult Testnet::VerifyChain(int i) {
  auto v = Run({v2gd_, "verify-chain", "--home", home(i)});
  if (v.exit_code != 0) return ::testing::AssertionFailure() << "node " << i << ": " << v.output;
  return ::testing::AssertionSuccess();
}

}  // namespace v2g::testing
