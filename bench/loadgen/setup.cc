// Nodes, the funder key, the chain, and funding the senders.
#include <dirent.h>
#include <signal.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "bench/loadgen/loadgen.h"
#include "common/assert.h"
#include "common/bech32.h"
#include "common/bytes.h"
#include "wallet/actions.h"
#include "wallet/client.h"
#include "wallet/keystore.h"
#include "wallet/pipeline.h"
#include "wallet/prompt.h"
#include "wallet/tx_builder.h"

namespace v2g::loadgen {
namespace {

std::vector<std::string> SplitList(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

Result<ApiClient> Client(const Options& o, size_t node) {
  V2G_ASSERT(node < o.nodes.size());
  return ApiClient::Create(o.nodes[node].api);
}

// The balance of `denom` of `address` on the node, or an error.
Result<int64_t> BalanceOf(ApiClient& c, const std::string& address, const std::string& denom) {
  auto acc = c.GetAccount(address);
  if (!acc.ok()) return acc.status();
  for (const auto& b : acc->balances) {
    if (b.denom == denom) return b.amount;
  }
  return int64_t{0};
}

Result<KeyPair> LoadFunder(const Options& o) {
  if (!o.seed_file.empty()) {
    auto line = ReadFirstLineOfFile(o.seed_file);
    if (!line.ok()) return line.status();
    std::string text = *line;
    text.erase(text.find_last_not_of(" \t\r\n") + 1);
    auto seed = HexDecode(text);
    SecureWipe(text.data(), text.size());
    if (!seed.ok() || seed->size() != kSeedBytes) {
      return Error(Code::kInvalidArgument, "--seed-file " + o.seed_file +
                                               ": the first line must be 64 hex digits (a seed)");
    }
    KeyPair key = KeyPair::FromSeed(*seed);
    SecureWipe(seed->data(), seed->size());
    return key;
  }
  if (o.from.empty()) {
    return Error(Code::kInvalidArgument,
                 "no funder key: give --from NAME (a wallet key) or --seed-file FILE");
  }
  std::string pass;
  if (!o.passphrase_file.empty()) {
    auto p = ReadFirstLineOfFile(o.passphrase_file);
    if (!p.ok()) return p.status();
    pass = *p;
  } else if (const char* env = std::getenv("V2G_PASSPHRASE"); env != nullptr) {
    pass = env;
  } else {
    auto p = ReadSecretFromTerminal("Passphrase for key '" + o.from + "': ");
    if (!p.ok()) return p.status();
    pass = *p;
  }
  Keystore ks(o.home);
  auto key = ks.Load(o.from, pass);
  SecureWipe(pass.data(), pass.size());
  return key;
}

}  // namespace

Result<std::vector<Node>> NodesFromApiList(const std::string& list) {
  std::vector<Node> nodes;
  for (const auto& url : SplitList(list)) {
    auto c = ApiClient::Create(url);
    if (!c.ok()) return Error(Code::kInvalidArgument, "--api: " + c.status().message());
    nodes.push_back({c->base_url(), 0});
  }
  if (nodes.empty()) return Error(Code::kInvalidArgument, "--api: no URL given");
  if (nodes.size() > kNodesMax) {
    return Error(Code::kInvalidArgument, "--api: more than " + std::to_string(kNodesMax) + " URLs");
  }
  return nodes;
}

Result<std::vector<Node>> NodesFromDevnet(const std::string& dir) {
  std::vector<std::string> homes;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name.starts_with("node")) homes.push_back(dir + "/" + name);
    }
    ::closedir(d);
  } else {
    return Error(Code::kInvalidArgument, "--devnet " + dir + ": no such directory");
  }
  // node0, node1, ..., node10: by the number, as the devnet numbers its ports.
  std::sort(homes.begin(), homes.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  std::vector<Node> nodes;
  for (const auto& home : homes) {
    std::string listen;
    try {
      toml::table t = toml::parse_file(home + "/config.toml");
      listen = t["api"]["listen"].value_or(std::string());
    } catch (const toml::parse_error& err) {
      return Error(Code::kInvalidArgument,
                   home + "/config.toml: " + std::string(err.description()));
    }
    if (listen.empty())
      return Error(Code::kInvalidArgument, home + "/config.toml: no [api] listen");
    Node n{"http://" + listen, 0};
    std::ifstream pidfile(home + "/v2gd.pid");
    long pid = 0;
    if (pidfile >> pid && pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0) {
      n.pid = static_cast<pid_t>(pid);
    }
    nodes.push_back(n);
  }
  if (nodes.empty()) return Error(Code::kInvalidArgument, "--devnet " + dir + ": no node*/ in it");
  if (nodes.size() > kNodesMax) return Error(Code::kInvalidArgument, "--devnet: too many nodes");
  return nodes;
}

Status AttachPids(const std::string& list, std::vector<Node>& nodes) {
  auto items = SplitList(list);
  if (items.size() != nodes.size()) {
    return Error(Code::kInvalidArgument, "--pids: " + std::to_string(items.size()) + " pids for " +
                                             std::to_string(nodes.size()) +
                                             " nodes (one per node, in order)");
  }
  for (size_t i = 0; i < items.size(); ++i) {
    char* end = nullptr;
    long pid = std::strtol(items[i].c_str(), &end, 10);
    if (*end != '\0' || pid <= 0)
      return Error(Code::kInvalidArgument, "--pids: '" + items[i] + "' is not a pid");
    if (::kill(static_cast<pid_t>(pid), 0) != 0) {
      return Error(Code::kInvalidArgument, "--pids: no process " + items[i]);
    }
    nodes[i].pid = static_cast<pid_t>(pid);
  }
  return Status::Ok();
}

Result<Chain> Setup(const Options& o) {
  Chain chain;
  auto key = LoadFunder(o);
  if (!key.ok()) return key.status();
  chain.funder = std::move(key).value();
  chain.funder_address = EncodeAddress(AddressFromPublicKey(chain.funder->public_key()));
  auto c = Client(o, 0);
  if (!c.ok()) return c.status();
  for (size_t i = 0; i < o.nodes.size(); ++i) {
    auto ci = Client(o, i);
    if (!ci.ok()) return ci.status();
    auto st = ci->GetStatus();
    if (!st.ok()) return st.status();
    if (i == 0) chain.chain_id = st->chain_id;
    if (st->chain_id != chain.chain_id) {
      return Error(Code::kInvalidArgument, o.nodes[i].api + " serves chain '" + st->chain_id +
                                               "', " + o.nodes[0].api + " '" + chain.chain_id +
                                               "'");
    }
  }
  auto params = c->GetJson("/v1/params");
  if (!params.ok()) return params.status();
  chain.denom = o.denom;
  if (chain.denom.empty() && params->contains("market_denom") &&
      (*params)["market_denom"].is_string()) {
    chain.denom = (*params)["market_denom"].get<std::string>();
  }
  if (chain.denom.empty()) {
    return Error(Code::kInvalidArgument,
                 "the chain has no market denomination: name one with --denom");
  }
  auto denoms = c->GetDenoms();
  if (!denoms.ok()) return denoms.status();
  auto d = FindDenom(*denoms, chain.denom);
  if (!d.ok()) return d.status();
  chain.funder_is_issuer = d->issuer == chain.funder_address;
  return chain;
}

std::vector<KeyPair> SenderKeys(const Options& o) {
  V2G_ASSERT(o.senders > 0 && o.senders <= kSendersMax);
  std::vector<KeyPair> keys;
  keys.reserve(static_cast<size_t>(o.senders));
  for (int64_t i = 0; i < o.senders; ++i) {
    Hash256 seed = Blake2b256("v2g-loadgen sender\n" + o.sender_seed + "\n" + std::to_string(i));
    keys.push_back(KeyPair::FromSeed(ByteView(seed.data(), seed.size())));
  }
  return keys;
}

Status FundSenders(const Options& o, Chain& chain, const std::vector<KeyPair>& senders,
                   int64_t need) {
  V2G_ASSERT(need > 0);
  auto c = Client(o, 0);
  if (!c.ok()) return c.status();
  // Balances and nonces are personal data: read as their account (docs/API.md "Signed reads").
  std::vector<KeyPair> readers = senders;
  readers.push_back(*chain.funder);
  c->SetReaderSource(ReaderSourceOf(std::move(readers)));
  // Who needs how much.
  std::vector<std::pair<Address, int64_t>> todo;
  for (const auto& k : senders) {
    Address a = AddressFromPublicKey(k.public_key());
    auto bal = BalanceOf(*c, EncodeAddress(a), chain.denom);
    if (!bal.ok()) return bal.status();
    if (*bal < need) todo.emplace_back(a, need - *bal);
  }
  if (!o.quiet) {
    std::printf("funding %zu of %zu senders with %s (%s from %s)\n", todo.size(), senders.size(),
                chain.denom.c_str(), chain.funder_is_issuer ? "mint" : "transfer",
                chain.funder_address.c_str());
  }
  // Pipelined nonces (wallet/pipeline.h): the funding txs go out in batches without a wait per
  // tx, at most kFundBatchMax in flight (under the node's per-sender limit), then are waited for
  // once.
  auto st = c->GetStatus();
  if (!st.ok()) return st.status();
  auto acc = c->GetAccount(chain.funder_address);
  if (!acc.ok()) return acc.status();
  NonceWindowOptions wo;
  wo.window_txs = kFundBatchMax;
  NonceWindow window(*c, chain.funder_address, acc->next_nonce, wo);
  for (const auto& [to, amount] : todo) {
    const uint64_t nonce = window.next_nonce();
    pb::TxBody body = chain.funder_is_issuer ? MakeMint(nonce, to, chain.denom, amount)
                                             : MakeTransfer(nonce, to, chain.denom, amount);
    auto fee = RequiredFeeOf(*c, body, nullptr, limits::kAutoFeeMinMax, st->mempool_fee_per_unit);
    if (!fee.ok()) return fee.status();
    if (*fee) *body.mutable_fee() = **fee;
    Status s = window.Send(SignTx(*chain.funder, chain.chain_id, std::move(body)));
    if (!s.ok()) return Error(s.code(), "funding a sender: " + s.message());
  }
  if (Status s = window.Finish(); !s.ok()) return Error(s.code(), "funding the senders: " + s.message());
  // Every sender's balance is there (the last tx of each batch committed; the ones before it
  // came before it in the funder's nonce order).
  for (int tries = 0;; ++tries) {
    int64_t short_of = 0;
    for (const auto& [a, amount] : todo) {
      auto bal = BalanceOf(*c, EncodeAddress(a), chain.denom);
      if (!bal.ok()) return bal.status();
      if (*bal < need) ++short_of;
    }
    if (short_of == 0) return Status::Ok();
    if (tries >= 30) {
      return Error(Code::kTimeout,
                   std::to_string(short_of) + " senders are still not funded after 30 s");
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

}  // namespace v2g::loadgen
