// Pre-signing a step's transfers and sending them open-loop.
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <map>
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

// How one send of tx `j` (the k-th of its sender, k == `kj`) ended: "" admitted, else the
// refusal's code (API error code, http_*, or transport_* when no answer came) with `detail` for
// the report.
struct Outcome {
  std::string code;
  std::string detail;
};

Outcome OutcomeOfSingle(const httplib::Result& res) {
  if (res && (res->status == 200 || res->status == 202)) return {};
  if (!res) return {"transport_" + httplib::to_string(res.error()), ""};
  const std::string code = ErrorCodeOf(*res);
  return {code, code + " (HTTP " + std::to_string(res->status) + "): " + res->body.substr(0, 200)};
}

// Counts the outcome of tx `j` (its sender's kj-th, sent in the slot due at `due`) and returns
// the sender's next k: past it when admitted (or possibly admitted before: a duplicate, a replayed
// nonce, no answer), the one before when a nonce gap says that one was not admitted after all (a
// transport failure), else the same tx again (a refused tx did not use its nonce).
int64_t Count(const Outcome& out, size_t j, int64_t kj, int64_t due, size_t senders,
              StepTrace& trace, SendTally& tally) {
  if (out.code.empty()) {
    trace.verdict[j] = Verdict::kAccepted;
    trace.sent_ns[j] = due;  // latency counts from the slot that got it in
    ++tally.accepted;
    return kj + 1;
  }
  if (trace.verdict[j] == Verdict::kUnsent) trace.verdict[j] = Verdict::kRejected;
  if (tally.first_error.empty()) tally.first_error = out.detail.empty() ? out.code : out.detail;
  ++tally.rejected[out.code];
  if (out.code.starts_with("transport_") || out.code == "nonce_replayed" ||
      out.code == "duplicate") {
    return kj + 1;
  }
  if (out.code == "nonce_gap" && kj > 0 && trace.verdict[j - senders] != Verdict::kAccepted) {
    return kj - 1;
  }
  return kj;
}

// The verdict of each of `count` txs of a POST /v1/txs/batch answer, in order: a whole-request
// refusal (503, 413, no answer) is every tx's.
std::vector<Outcome> OutcomesOfBatch(const httplib::Result& res, size_t count) {
  if (!res || res->status != 200) return std::vector<Outcome>(count, OutcomeOfSingle(res));
  auto doc = nlohmann::json::parse(res->body, nullptr, false);
  if (!doc.is_object() || !doc.contains("results") || !doc["results"].is_array() ||
      doc["results"].size() != count) {
    return std::vector<Outcome>(count, Outcome{"bad_answer", res->body.substr(0, 200)});
  }
  std::vector<Outcome> outs(count);
  for (size_t i = 0; i < count; ++i) {
    const auto& v = doc["results"][i];
    if (v.is_object() && v.value("status", "") == "pending") continue;
    const std::string code = v.is_object() && v.contains("code") && v["code"].is_string()
                                 ? v["code"].get<std::string>()
                                 : "bad_answer";
    outs[i] = {code, code + " (in a batch): " + (v.is_object() ? v.value("message", "") : "")};
  }
  return outs;
}

// {"txs": [...]} of the given txs' hex, each taken from its pre-built {"tx":"<hex>"} body.
std::string BatchBody(const std::vector<PresignedTx>& txs, const std::vector<size_t>& js) {
  static constexpr std::string_view kPrefix = "{\"tx\":";
  std::string body = "{\"txs\":[";
  for (size_t m = 0; m < js.size(); ++m) {
    const std::string& one = txs[js[m]].body;
    V2G_ASSERT(one.starts_with(kPrefix) && one.back() == '}');
    if (m > 0) body += ',';
    body.append(one, kPrefix.size(), one.size() - kPrefix.size() - 1);  // "<hex>"
  }
  body += "]}";
  return body;
}

// Connection `c`: the slots of its senders (s % connections == c), each at its time, o.batch
// slots per request. Per sender, which of its txs goes next (k: its k-th of the step, tx index
// s + k x senders): a refused tx did not use its nonce, so it goes again at the sender's next
// slot; within a batch a sender's slots take its next txs in nonce order. Nothing is signed while
// sending.
SendTally SendOnConnection(const Options& o, int64_t c, const std::vector<KeyPair>& senders,
                           const std::vector<PresignedTx>& txs, int64_t start_ns,
                           StepTrace& trace) {
  const int64_t conns = Connections(o);
  const auto n = static_cast<int64_t>(senders.size());
  V2G_ASSERT(c >= 0 && c < conns);
  V2G_ASSERT(o.batch >= 1 && o.batch <= kBatchMax);
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
  const bool batched = o.batch > 1;
  const std::string path = prefix + (batched ? "/v1/txs/batch" : "/v1/txs");
  std::vector<int64_t> next_k(senders.size(), 0);
  const int64_t late_ns = o.late_ms * 1'000'000;
  std::vector<size_t> slots;  // this request's slots (indices into txs), in time order
  size_t i = 0;
  while (i < txs.size()) {
    slots.clear();
    for (; i < txs.size() && static_cast<int64_t>(slots.size()) < o.batch; ++i) {
      if (txs[i].sender % conns == c) slots.push_back(i);
    }
    if (slots.empty()) break;
    // Sent when the last slot of the request is due.
    const int64_t due = start_ns + txs[slots.back()].send_at_ns;
    int64_t now = NowNs();
    if (now < due) {
      std::this_thread::sleep_for(std::chrono::nanoseconds(due - now));
      now = NowNs();
    }
    // Each slot's tx: its sender's next, counting the sender's earlier slots in this request.
    std::vector<size_t> js;
    std::vector<int64_t> ks;
    std::map<int64_t, int64_t> used;
    for (size_t slot : slots) {
      const int64_t s = txs[slot].sender;
      const int64_t kj = next_k[static_cast<size_t>(s)] + used[s]++;
      const auto j = static_cast<size_t>(s + kj * n);
      V2G_ASSERT(j <= slot && txs[j].sender == s);
      js.push_back(j);
      ks.push_back(kj);
      tally.lag_ns.push_back(now - due);
      if (now - due > late_ns) ++tally.late;
      ++tally.sent;
    }
    std::vector<Outcome> outs;
    if (batched) {
      outs = OutcomesOfBatch(http.Post(path, BatchBody(txs, js), "application/json"), js.size());
    } else {
      outs.push_back(OutcomeOfSingle(http.Post(path, txs[js[0]].body, "application/json")));
    }
    V2G_ASSERT(outs.size() == js.size());
    // A sender's first refusal that keeps its nonce decides its next k; its later txs in the
    // request were refused for the gap it left (counted, but they move nothing).
    std::map<int64_t, bool> held;
    for (size_t m = 0; m < js.size(); ++m) {
      const int64_t s = txs[js[m]].sender;
      const int64_t slot_due = start_ns + txs[slots[m]].send_at_ns;
      const int64_t k = Count(outs[m], js[m], ks[m], slot_due, senders.size(), trace, tally);
      if (held[s]) continue;
      next_k[static_cast<size_t>(s)] = k;
      if (k <= ks[m]) held[s] = true;
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
    // A balance and nonce are personal data: read as the sender (docs/API.md "Signed reads").
    clients[NodeOfSender(o, s)].SetReader(senders[static_cast<size_t>(s)]);
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
