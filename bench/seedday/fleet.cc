// The fleet: its keys, its registration, the gateways that carry its readings, and every node's
// account of them.
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

#include "bench/seedday/seedday.h"
#include "common/assert.h"
#include "common/limits.h"
#include "contracts/app.h"
#include "contracts/meters.h"
#include "wallet/client.h"
#include "wallet/meter_sim.h"
#include "wallet/pipeline.h"
#include "wallet/tx_builder.h"

namespace v2g::seedday {
namespace {

// CPU seconds of the calling thread.
double ThreadCpuS() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

Hash256 FleetSeed(const Options& o) { return Blake2b256("v2g-seedday fleet\n" + o.fleet_seed); }

// Runs f(i) for i in [0, n) on every core.
template <typename F>
void ParallelFor(int64_t n, F f) {
  const int64_t threads = std::max<int64_t>(1, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (int64_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int64_t i = t; i < n; i += threads) f(i);
    });
  }
  for (auto& th : pool) th.join();
}

// The fee a tx pays: per_unit x its fee units (contracts/app.h), in the chain's denomination.
void AttachFee(pb::TxBody& body, const std::string& denom, int64_t per_unit) {
  if (per_unit <= 0) return;
  body.mutable_fee()->set_denom(denom);
  body.mutable_fee()->set_amount(per_unit * TxFeeUnits(body));
}

// What a sender pays per fee unit now: fee_min, or the node's suggestion when higher (as the
// wallet does, wallet/actions.h RequiredFeeOf), capped where the wallet caps it.
Result<int64_t> FeePerUnit(ApiClient& c) {
  SEEDDAY_ASSIGN_OR_RETURN(params, c.GetJson("/v1/params"));
  SEEDDAY_ASSIGN_OR_RETURN(status, c.GetStatus());
  const int64_t fee_min = params.value("fee_min", int64_t{0});
  if (fee_min <= 0) return int64_t{0};
  return std::max(fee_min, std::min(status.mempool_fee_per_unit, limits::kAutoFeeMinMax));
}

Result<int64_t> TxBytesMax(ApiClient& c) {
  SEEDDAY_ASSIGN_OR_RETURN(params, c.GetJson("/v1/params"));
  const int64_t b = params.value("tx_bytes_max", int64_t{0});
  if (b <= kTxOverheadBytes + 1024) {
    return Error(Code::kMalformed, "GET /v1/params: tx_bytes_max " + std::to_string(b) +
                                       " leaves no room for a batch");
  }
  return b;
}

VehicleSpec SpecOf(const Options& o, int64_t i) {
  return GenerateVehicleSpec(o.sim_seed, i, EvMeterId(o, i));
}

}  // namespace

std::string EvMeterId(const Options& o, int64_t i) {
  std::string n = std::to_string(i);
  return o.prefix + "-" + std::string(n.size() < 6 ? 6 - n.size() : 0, '0') + n;
}

Address FleetOwner(const Options& o) {
  Hash256 s = Blake2b256("v2g-seedday owner\n" + o.fleet_seed);
  return AddressFromPublicKey(KeyPair::FromSeed(ByteView(s.data(), s.size())).public_key());
}

std::vector<KeyPair> DeviceKeys(const Options& o) {
  V2G_ASSERT(o.evs >= 1 && o.evs <= kEvsMax);
  const Hash256 seed = FleetSeed(o);
  const ByteView sv(seed.data(), seed.size());
  std::vector<KeyPair> keys(static_cast<size_t>(o.evs), DeviceKey(sv, 0));
  ParallelFor(o.evs, [&](int64_t i) { keys[static_cast<size_t>(i)] = DeviceKey(sv, i); });
  return keys;
}

std::vector<KeyPair> GatewayKeys(const Options& o) {
  V2G_ASSERT(o.gateways >= 1 && o.gateways <= kGatewaysMax);
  std::vector<KeyPair> keys;
  for (int64_t g = 0; g < o.gateways; ++g) {
    Hash256 s = Blake2b256("v2g-seedday gateway\n" + o.fleet_seed + "\n" + std::to_string(g));
    keys.push_back(KeyPair::FromSeed(ByteView(s.data(), s.size())));
  }
  return keys;
}

Status RegisterFleet(const Options& o, const loadgen::Chain& chain,
                     const std::vector<KeyPair>& devices, RunReport& report) {
  V2G_ASSERT(static_cast<int64_t>(devices.size()) == o.evs && chain.funder);
  const KeyPair& op = *chain.funder;
  const Address op_address = AddressFromPublicKey(op.public_key());
  const Address owner = FleetOwner(o);
  SEEDDAY_ASSIGN_OR_RETURN(client, ApiClient::Create(o.nodes[0].api));
  SEEDDAY_ASSIGN_OR_RETURN(tx_bytes_max, TxBytesMax(client));
  SEEDDAY_ASSIGN_OR_RETURN(fee, FeePerUnit(client));
  SEEDDAY_ASSIGN_OR_RETURN(account, client.GetAccount(chain.funder_address));
  const double t0 = static_cast<double>(WallMs()) / 1e3;
  // The devices' proofs of possession, on every core (each device signs its own in reality).
  std::vector<pb::RegisterMeter> entries(devices.size());
  ParallelFor(o.evs, [&](int64_t i) {
    const VehicleSpec s = SpecOf(o, i);
    entries[static_cast<size_t>(i)] =
        MakeRegisterMeter(0, chain.chain_id, op_address, s.meter_id, devices[static_cast<size_t>(i)],
                          pb::METER_KIND_VEHICLE, o.zone, owner, s.max_import_w, s.max_export_w,
                          s.capacity_wh)
            .register_meter();
  });
  // Packed into txs by size (as v2g meter-sim does), each signed by the operator.
  std::vector<std::string> txs;
  uint64_t nonce = account.next_nonce;
  pb::TxBody body;
  int64_t body_bytes = 0;
  auto seal = [&] {
    if (body.register_meters().meters_size() == 0) return;
    pb::TxBody b = MakeRegisterMeters(nonce++, {});
    b.mutable_register_meters()->Swap(body.mutable_register_meters());
    AttachFee(b, chain.denom, fee);
    txs.push_back(SignTx(op, chain.chain_id, std::move(b)));
    body = pb::TxBody();
    body_bytes = 0;
  };
  for (auto& e : entries) {
    const auto bytes = static_cast<int64_t>(e.ByteSizeLong()) + 4;
    if (body.register_meters().meters_size() >= limits::kMetersPerTxMax ||
        body_bytes + bytes > tx_bytes_max - kTxOverheadBytes) {
      seal();
    }
    *body.mutable_register_meters()->add_meters() = std::move(e);
    body_bytes += bytes;
  }
  seal();
  const double t1 = static_cast<double>(WallMs()) / 1e3;
  NonceWindowOptions wo;
  wo.window_txs = o.window_txs;
  NonceWindow window(client, chain.funder_address, account.next_nonce, wo);
  for (auto& tx : txs) V2G_RETURN_IF_ERROR(window.Send(std::move(tx)));
  V2G_RETURN_IF_ERROR(window.Finish());
  const double t2 = static_cast<double>(WallMs()) / 1e3;
  report.register_sign_s = t1 - t0;
  report.register_submit_s = t2 - t1;
  report.register_total_s = t2 - t0;
  report.register_txs = static_cast<int64_t>(txs.size());
  report.register_refusals = window.refusals();
  // How many the chain has: the owner's vehicle meters, page by page.
  std::string after;
  const std::string owner_text = EncodeAddress(owner);
  for (int64_t pages = 0; pages <= o.evs / 500 + 1; ++pages) {
    SEEDDAY_ASSIGN_OR_RETURN(page, client.GetJson("/v1/meters?owner=" + owner_text + "&kind=vehicle&limit=500" +
                                              (after.empty() ? "" : "&after=" + after)));
    report.registered += static_cast<int64_t>(page.value("meters", nlohmann::json::array()).size());
    if (!page.contains("next_after") || !page["next_after"].is_string()) break;
    after = page["next_after"].get<std::string>();
  }
  if (report.registered != o.evs) {
    return Error(Code::kInternal, std::to_string(report.registered) + " of " + std::to_string(o.evs) +
                                      " meters registered (a fresh fleet needs a fresh --prefix or chain)");
  }
  return Status::Ok();
}

namespace {

// Shared by the gateways and the tracker.
struct Shared {
  std::mutex mu;  // guards every trace's txs
  std::vector<GatewayTrace> traces;
  std::atomic<int64_t> gateways_done{0};
  std::atomic<int64_t> give_up_at{-1};  // set by the first gateway that gives up
};

// One gateway: EVs [begin, end) of the fleet. At each span's end it has each EV sign its reading
// for the span just ended, packs them into SubmitReadings txs and sends them through its window.
void RunGateway(const Options& o, const loadgen::Chain& chain, const std::vector<KeyPair>& devices,
                const KeyPair& key, int64_t g, int64_t t0_s, int64_t settlement_s, Shared& shared) {
  GatewayTrace& trace = shared.traces[static_cast<size_t>(g)];
  auto fail = [&](const Status& s) {
    trace.error = s.ToString();
    shared.gateways_done.fetch_add(1);
  };
  const int64_t begin = o.evs * g / o.gateways, end = o.evs * (g + 1) / o.gateways;
  auto client = ApiClient::Create(o.nodes[trace.node].api);
  if (!client.ok()) return fail(client.status());
  auto tx_bytes_max = TxBytesMax(*client);
  if (!tx_bytes_max.ok()) return fail(tx_bytes_max.status());
  std::vector<VehicleSpec> specs;
  for (int64_t i = begin; i < end; ++i) specs.push_back(SpecOf(o, i));
  SimConfig c;
  c.seed = o.sim_seed + static_cast<uint64_t>(g);
  c.start_s = t0_s;
  c.interval_s = o.span_s;
  c.settlement_s = settlement_s;
  FleetSim sim(c, std::move(specs));
  NonceWindowOptions wo;
  wo.window_txs = o.window_txs;
  NonceWindow window(*client, trace.address, trace.first_nonce, wo);
  const int64_t budget = *tx_bytes_max - kTxOverheadBytes;
  for (int64_t k = 0; k < o.spans; ++k) {
    const int64_t span_end_ms = (t0_s + (k + 1) * o.span_s) * 1000;
    // Far behind (its window stayed full): every gateway stops before this span.
    int64_t none = -1;
    if (o.give_up_s > 0 && WallMs() > span_end_ms + o.give_up_s * 1000)
      shared.give_up_at.compare_exchange_strong(none, k);
    if (const int64_t at = shared.give_up_at.load(); at >= 0 && k >= at) {
      trace.gave_up_at_span = k;
      break;
    }
    // Live: nothing of span k exists before it ends.
    while (WallMs() < span_end_ms) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(50, span_end_ms - WallMs())));
    }
    auto fee = FeePerUnit(*client);
    if (!fee.ok()) return fail(fee.status());
    std::vector<pb::MeterReading> readings = sim.Step(t0_s + k * o.span_s);
    std::vector<pb::MeterReading> batch;
    int64_t batch_bytes = 0, sent = 0;
    double sign_s = 0, tx_s = 0;
    auto seal = [&]() -> Status {
      if (batch.empty()) return Status::Ok();
      const double c0 = ThreadCpuS();
      const int64_t n = static_cast<int64_t>(batch.size());
      pb::TxBody body = MakeSubmitReadings(window.next_nonce(), std::move(batch));
      AttachFee(body, chain.denom, *fee);
      std::string tx = SignTx(key, chain.chain_id, std::move(body));
      {
        std::lock_guard<std::mutex> lock(shared.mu);
        trace.txs.push_back({k, n, 0});
      }
      batch.clear();
      batch_bytes = 0;
      sent += n;
      Status s = window.Send(std::move(tx));
      tx_s += ThreadCpuS() - c0;
      return s;
    };
    for (size_t j = 0; j < readings.size(); ++j) {
      pb::MeterReading& r = readings[j];
      const double c0 = ThreadCpuS();
      SignReading(devices[static_cast<size_t>(begin) + j], chain.chain_id, r);
      sign_s += ThreadCpuS() - c0;
      const auto bytes = static_cast<int64_t>(r.ByteSizeLong()) + 4;
      if (static_cast<int64_t>(batch.size()) >= limits::kReadingsPerTxMax || batch_bytes + bytes > budget) {
        if (Status s = seal(); !s.ok()) return fail(s);
      }
      batch.push_back(std::move(r));
      batch_bytes += bytes;
    }
    if (Status s = seal(); !s.ok()) return fail(s);
    const double c0 = ThreadCpuS();
    if (Status s = window.Flush(); !s.ok()) return fail(s);
    tx_s += ThreadCpuS() - c0;
    trace.sent_readings.push_back(sent);
    trace.flushed_wall_ms.push_back(WallMs());
    if (g == 0) {  // progress, from one gateway: how far behind the live schedule it sends
      std::printf("span %lld/%lld: gateway 0 sent %lld readings, done %.1f s after the span's end\n",
                  static_cast<long long>(k + 1), static_cast<long long>(o.spans),
                  static_cast<long long>(sent),
                  static_cast<double>(trace.flushed_wall_ms.back() - span_end_ms) / 1e3);
      std::fflush(stdout);
    }
    trace.sign_cpu_s += sign_s;
    trace.tx_cpu_s += tx_s;
  }
  trace.refusals = window.refusals();
  shared.gateways_done.fetch_add(1);
}

// Polls the committed nonce of every gateway on node `node` and stamps its txs, until `stop`
// (one tracker per node, so a slow node does not delay the stamps of the others).
void Track(const Options& o, size_t node, Shared& shared, const std::atomic<bool>& stop) {
  auto client = ApiClient::Create(o.nodes[node].api);
  V2G_ASSERT(client.ok());  // the same URL was used already
  std::vector<uint64_t> committed(shared.traces.size(), 0);
  while (!stop.load()) {
    for (size_t g = 0; g < shared.traces.size(); ++g) {
      GatewayTrace& t = shared.traces[g];
      if (t.node != node) continue;
      auto acc = client->GetAccount(t.address);
      if (!acc.ok() || acc->nonce < t.first_nonce || acc->nonce <= committed[g]) continue;
      const int64_t now = WallMs();
      std::lock_guard<std::mutex> lock(shared.mu);
      const uint64_t from = std::max(committed[g] + 1, t.first_nonce);
      for (uint64_t n = from; n <= acc->nonce && n - t.first_nonce < t.txs.size(); ++n) {
        t.txs[n - t.first_nonce].commit_wall_ms = now;
      }
      committed[g] = acc->nonce;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(o.poll_ms));
  }
}

bool AllCommitted(Shared& shared) {
  std::lock_guard<std::mutex> lock(shared.mu);
  for (const auto& t : shared.traces) {
    for (const auto& r : t.txs) {
      if (r.commit_wall_ms == 0) return false;
    }
  }
  return true;
}

}  // namespace

Result<std::vector<GatewayTrace>> RunSpans(const Options& o, const loadgen::Chain& chain,
                                           const std::vector<KeyPair>& devices,
                                           const std::vector<KeyPair>& gateways, int64_t t0_s,
                                           int64_t settlement_s) {
  V2G_ASSERT(static_cast<int64_t>(gateways.size()) == o.gateways);
  Shared shared;
  shared.traces.resize(gateways.size());
  for (size_t g = 0; g < gateways.size(); ++g) {
    GatewayTrace& t = shared.traces[g];
    t.address = EncodeAddress(AddressFromPublicKey(gateways[g].public_key()));
    t.node = g % o.nodes.size();
    SEEDDAY_ASSIGN_OR_RETURN(c, ApiClient::Create(o.nodes[t.node].api));
    SEEDDAY_ASSIGN_OR_RETURN(acc, c.GetAccount(t.address));
    t.first_nonce = acc.next_nonce;
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> trackers;
  for (size_t n = 0; n < o.nodes.size(); ++n)
    trackers.emplace_back(Track, std::cref(o), n, std::ref(shared), std::cref(stop));
  std::vector<std::thread> threads;
  for (size_t g = 0; g < gateways.size(); ++g) {
    threads.emplace_back(RunGateway, std::cref(o), std::cref(chain), std::cref(devices),
                         std::cref(gateways[g]), static_cast<int64_t>(g), t0_s, settlement_s,
                         std::ref(shared));
  }
  for (auto& th : threads) th.join();
  const int64_t drain_until = WallMs() + o.drain_s * 1000;
  while (WallMs() < drain_until && !AllCommitted(shared)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(o.poll_ms));
  }
  // One more round of polls so the last commits are stamped.
  std::this_thread::sleep_for(std::chrono::milliseconds(2 * o.poll_ms));
  stop.store(true);
  for (auto& th : trackers) th.join();
  return std::move(shared.traces);
}

void Account(const Options& o, int64_t spans_sent, std::vector<NodeReport>& nodes) {
  const std::string owner = EncodeAddress(FleetOwner(o));
  for (size_t i = 0; i < o.nodes.size(); ++i) {
    NodeReport& n = nodes[i];
    auto c = ApiClient::Create(o.nodes[i].api);
    if (!c.ok()) {
      n.error = c.status().ToString();
      continue;
    }
    std::string after;
    for (int64_t pages = 0; pages <= o.evs / 500 + 1; ++pages) {
      auto page = c->GetJson("/v1/meters?owner=" + owner + "&kind=vehicle&limit=500" +
                             (after.empty() ? "" : "&after=" + after));
      if (!page.ok()) {
        n.error = page.status().ToString();
        break;
      }
      for (const auto& m : page->value("meters", nlohmann::json::array())) {
        const int64_t got = m.value("readings_accepted", int64_t{0});
        n.readings_accepted += got;
        ++n.meters;
        if (got < spans_sent) ++n.meters_short;
      }
      if (!page->contains("next_after") || !(*page)["next_after"].is_string()) break;
      after = (*page)["next_after"].get<std::string>();
    }
  }
}

}  // namespace v2g::seedday
