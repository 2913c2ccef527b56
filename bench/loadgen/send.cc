// Pre-signing a step's transfers and sending them open-loop.
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "bench/loadgen/loadgen.h"
#include "common/assert.h"
#include "common/bech32.h"
#include "common/bytes.h"
#include "common/limits.h"
#include "contracts/app.h"
#include "wallet/actions.h"
#include "wallet/client.h"
#include "wallet/tx_builder.h"

namespace v2g::loadgen {
namespace {

int64_t Connections(const Options& o) {
  return static_cast<int64_t>(o.nodes.size()) * o.conns_per_node;
}
// The node sender `s` sends to: its connection's (connections are numbered node-major).
size_t NodeOfSender(const Options& o, int64_t s) {
  return static_cast<size_t>((s % Connections(o)) % static_cast<int64_t>(o.nodes.size()));
}

pb::TxBody TransferBody(const Chain& chain, const std::vector<KeyPair>& senders, int64_t s,
                        uint64_t nonce, int64_t amount, int64_t fee) {
  const auto n = static_cast<int64_t>(senders.size());
  const Address to = AddressFromPublicKey(senders[static_cast<size_t>((s + 1) % n)].public_key());
  pb::TxBody body = MakeTransfer(nonce, to, chain.denom, amount);
  if (fee > 0) {
    body.mutable_fee()->set_denom(chain.denom);
    body.mutable_fee()->set_amount(fee);
  }
  return body;
}

void Sign(const Chain& chain, const std::vector<KeyPair>& senders, int64_t amount, int64_t fee,
          PresignedTx& tx) {
  const std::string bytes = SignTx(senders[static_cast<size_t>(tx.sender)], chain.chain_id,
                                   TransferBody(chain, senders, tx.sender, tx.nonce, amount, fee));
  tx.hash = Blake2b256(bytes);
  tx.body = "{\"tx\":\"" + HexEncode(bytes) + "\"}";
}

// The API error code of a refused submission ("unavailable" for a 503 without one).
std::string ErrorCodeOf(const httplib::Response& res) {
  auto doc = nlohmann::json::parse(res.body, nullptr, false);
  if (doc.is_object() && doc.contains("error") && doc["error"].is_object() &&
      doc["error"].contains("code") && doc["error"]["code"].is_string()) {
    return doc["error"]["code"].get<std::string>();
  }
  return "http_" + std::to_string(res.status);
}

// A refused send of tx `j` (the k-th of its sender): counts it, and moves the sender's next tx
// when the refusal says where its nonce stands.
void Refused(const httplib::Result& res, size_t j, size_t senders, int64_t& k, StepTrace& trace,
             SendTally& tally) {
  if (trace.verdict[j] == Verdict::kUnsent) trace.verdict[j] = Verdict::kRejected;
  const std::string code = res ? ErrorCodeOf(*res) : "transport_" + httplib::to_string(res.error());
  if (tally.first_error.empty()) {
    tally.first_error =
        res ? code + " (HTTP " + std::to_string(res->status) + "): " + res->body.substr(0, 200)
            : code;
  }
  ++tally.rejected[code];
  if (!res || code == "nonce_replayed" || code == "duplicate") {
    ++k;  // possibly (or surely) admitted before: go on with the next nonce
  } else if (code == "nonce_gap" && k > 0 && trace.verdict[j - senders] != Verdict::kAccepted) {
    --k;  // the one before was not admitted after all (a transport failure): send it again
  }
}

// Connection `c`: the slots of its senders (s % connections == c), each at its time. Per sender,
// which of its txs goes next (k: its k-th of the step, tx index s + k x senders): a refused tx did
// not use its nonce, so it goes again at the sender's next slot; nothing is signed while sending.
SendTally SendOnConnection(const Options& o, int64_t c, const std::vector<KeyPair>& senders,
                           const std::vector<PresignedTx>& txs, int64_t start_ns,
                           StepTrace& trace) {
  const int64_t conns = Connections(o);
  const auto n = static_cast<int64_t>(senders.size());
  V2G_ASSERT(c >= 0 && c < conns);
  SendTally tally;
  const auto [host, prefix] = SplitBaseUrl(o.nodes[static_cast<size_t>(c) % o.nodes.size()].api);
  httplib::Client http(host);
  http.set_keep_alive(true);
  http.set_tcp_nodelay(true);
  http.set_connection_timeout(std::chrono::seconds(5));
  http.set_read_timeout(std::chrono::seconds(10));
  http.set_write_timeout(std::chrono::seconds(10));
  // A node takes 8 connections per client address (api.connections_per_address_max) and the
  // watcher holds one from 127.0.0.1: past 7 per node, a loopback node sees each group of 7
  // come from its own address (127.0.0.2, .3, ...; all of 127/8 is loopback).
  const int64_t local = c / static_cast<int64_t>(o.nodes.size());
  if (o.conns_per_node > kConnsPerAddressMax && host.starts_with("http://127.")) {
    http.set_interface("127.0.0." + std::to_string(2 + local / kConnsPerAddressMax));
  }
  const std::string path = prefix + "/v1/txs";
  std::vector<int64_t> next_k(senders.size(), 0);
  const int64_t late_ns = o.late_ms * 1'000'000;
  for (size_t i = 0; i < txs.size(); ++i) {
    if (txs[i].sender % conns != c) continue;
    const int64_t due = start_ns + txs[i].send_at_ns;
    int64_t now = NowNs();
    if (now < due) {
      std::this_thread::sleep_for(std::chrono::nanoseconds(due - now));
      now = NowNs();
    }
    tally.lag_ns.push_back(now - due);
    if (now - due > late_ns) ++tally.late;
    const int64_t s = txs[i].sender;
    int64_t& k = next_k[static_cast<size_t>(s)];
    const auto j = static_cast<size_t>(s + k * n);
    V2G_ASSERT(j <= i && txs[j].sender == s);
    ++tally.sent;
    auto res = http.Post(path, txs[j].body, "application/json");
    if (res && (res->status == 200 || res->status == 202)) {
      trace.verdict[j] = Verdict::kAccepted;
      trace.sent_ns[j] = due;  // latency counts from the slot that got it in
      ++tally.accepted;
      ++k;
    } else {
      Refused(res, j, senders.size(), k, trace, tally);
    }
  }
  return tally;
}

}  // namespace

std::pair<std::string, std::string> SplitBaseUrl(const std::string& api) {
  const size_t scheme = api.find("://");
  V2G_ASSERT(scheme != std::string::npos);  // checked by ApiClient::Create when parsing flags
  const size_t slash = api.find('/', scheme + 3);
  if (slash == std::string::npos) return {api, ""};
  return {api.substr(0, slash), api.substr(slash)};
}

Result<int64_t> TransferFee(const Options& o, const Chain& chain) {
  pb::TxBody sample = MakeTransfer(1, Address{}, chain.denom, o.amount);
  if (o.fee_per_unit > 0) return o.fee_per_unit * TxFeeUnits(sample);
  auto c = ApiClient::Create(o.nodes[0].api);
  if (!c.ok()) return c.status();
  auto st = c->GetStatus();
  if (!st.ok()) return st.status();
  auto fee = RequiredFeeOf(*c, sample, nullptr, limits::kAutoFeeMinMax, st->mempool_fee_per_unit);
  if (!fee.ok()) return fee.status();
  if (!*fee) return int64_t{0};
  if ((*fee)->denom() != chain.denom) {
    return Error(Code::kInvalidArgument, "fees are paid in " + (*fee)->denom() +
                                             ", not in --denom " + chain.denom + ": transfer " +
                                             (*fee)->denom());
  }
  return (*fee)->amount();
}

Result<std::vector<PresignedTx>> PresignStep(const Options& o, const Chain& chain,
                                             const std::vector<KeyPair>& senders, int64_t rate,
                                             int64_t fee) {
  const int64_t count = rate * o.step_seconds;
  V2G_ASSERT(count > 0 && count <= kStepTxsMax);
  const auto n = static_cast<int64_t>(senders.size());
  // Each sender's next nonce as its own node counts it (committed and pending there).
  std::vector<uint64_t> first_nonce(static_cast<size_t>(n));
  std::vector<ApiClient> clients;
  for (const auto& node : o.nodes) {
    auto c = ApiClient::Create(node.api);
    if (!c.ok()) return c.status();
    clients.push_back(std::move(c).value());
  }
  for (int64_t s = 0; s < n; ++s) {
    const std::string addr =
        EncodeAddress(AddressFromPublicKey(senders[static_cast<size_t>(s)].public_key()));
    auto acc = clients[NodeOfSender(o, s)].GetAccount(addr);
    if (!acc.ok()) return acc.status();
    first_nonce[static_cast<size_t>(s)] = acc->next_nonce;
  }
  std::vector<PresignedTx> txs(static_cast<size_t>(count));
  // Signing on every core: tx i is sender i % n's (i / n)-th of the step.
  const int64_t threads = std::max<int64_t>(1, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (int64_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int64_t i = t; i < count; i += threads) {
        PresignedTx& tx = txs[static_cast<size_t>(i)];
        tx.sender = i % n;
        tx.nonce = first_nonce[static_cast<size_t>(tx.sender)] + static_cast<uint64_t>(i / n);
        // i / rate seconds, in ns, without overflow (i < kStepTxsMax, rate <= kRateMax).
        tx.send_at_ns = i * 1'000'000'000 / rate;
        Sign(chain, senders, o.amount, fee, tx);
      }
    });
  }
  for (auto& th : pool) th.join();
  return txs;
}

std::vector<SendTally> SendStep(const Options& o, const std::vector<KeyPair>& senders,
                                const std::vector<PresignedTx>& txs, int64_t start_ns,
                                StepTrace& trace) {
  const int64_t conns = Connections(o);
  V2G_ASSERT(conns > 0 && static_cast<int64_t>(senders.size()) >= conns);
  V2G_ASSERT(trace.verdict.size() == txs.size() && trace.sent_ns.size() == txs.size());
  std::vector<SendTally> tallies(static_cast<size_t>(conns));
  std::vector<std::thread> threads;
  for (int64_t c = 0; c < conns; ++c) {
    threads.emplace_back([&, c] {
      tallies[static_cast<size_t>(c)] = SendOnConnection(o, c, senders, txs, start_ns, trace);
    });
  }
  for (auto& t : threads) t.join();
  return tallies;
}

}  // namespace v2g::loadgen
