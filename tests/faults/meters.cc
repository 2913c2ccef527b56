#include "tests/faults/meters.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/bech32.h"
#include "common/bytes.h"
#include "wallet/client.h"
#include "wallet/tx_builder.h"

namespace v2g::faults {

MeterFleet::MeterFleet(Cluster& cluster, MeterOptions o, uint64_t seed)
    : ClientThreads(0), cluster_(cluster), o_(o), seed_(seed) {
  for (int m = 0; m < o_.meters; ++m) {
    const Hash256 d = Blake2b256("v2g-faults-meter-device-" + std::to_string(m));
    const Hash256 w = Blake2b256("v2g-faults-meter-owner-" + std::to_string(m));
    devices_.push_back(KeyPair::FromSeed(ByteView(d.data(), d.size())));
    owners_.push_back(KeyPair::FromSeed(ByteView(w.data(), w.size())));
    const Hash256 g = Blake2b256("v2g-faults-meter-gateway-" + std::to_string(m));
    gateways_.push_back(KeyPair::FromSeed(ByteView(g.data(), g.size())));
  }
  sent_.resize(static_cast<size_t>(o_.meters));
}

MeterFleet::~MeterFleet() { Stop(); }

Status MeterFleet::Setup() {
  auto op = Node0Key(cluster_);
  if (!op.ok()) return op.status();
  const Address op_addr = AddressFromPublicKey(op->public_key());
  auto api = ApiClient::Create(cluster_.Api(0), FaultClientOptions(20000));
  if (!api.ok()) return api.status();
  auto acct = api->GetAccount(EncodeAddress(op_addr));
  if (!acct.ok()) return acct.status();
  uint64_t nonce = acct->next_nonce;
  for (int m = 0; m < o_.meters; ++m) {
    const bool last = m + 1 == o_.meters;
    pb::TxBody body = MakeRegisterMeter(nonce++, cluster_.chain_id(), op_addr, MeterId(m),
                                        devices_[static_cast<size_t>(m)], pb::METER_KIND_SITE, "CN-SH",
                                        AddressFromPublicKey(owners_[static_cast<size_t>(m)].public_key()),
                                        o_.max_import_w, o_.max_export_w, 0);
    auto r = api->SubmitTx(SignTx(*op, cluster_.chain_id(), std::move(body)), last, 20000);
    if (!r.ok()) return Error(r.status().code(), "registering meters: " + r.status().message());
    if (last && (!r->committed() || r->code != 0)) {
      return Error(Code::kInternal, "registering meters: the last registration did not commit (" + r->status + " " +
                                        r->log + ")");
    }
  }
  return Status::Ok();
}

void MeterFleet::Start() {
  StartClients(o_.meters, [this](int m) { Meter(m); });
}

std::vector<std::map<uint64_t, SentReading>> MeterFleet::Sent() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sent_;
}

Result<MeterOnChain> ReadMeter(const std::string& url, const std::string& meter_id) {
  auto api = ApiClient::Create(url, FaultClientOptions(2000));
  if (!api.ok()) return api.status();
  auto m = api->GetJson("/v1/meters/" + meter_id);
  if (!m.ok()) return m.status();
  MeterOnChain out;
  out.readings_accepted = m->value("readings_accepted", int64_t{0});
  out.unattributed_import_wh = m->value("unattributed_import_wh", int64_t{0});
  out.unattributed_export_wh = m->value("unattributed_export_wh", int64_t{0});
  if (m->contains("last_reading") && (*m)["last_reading"].is_object()) {
    const auto& r = (*m)["last_reading"];
    out.last_seq = r.value("seq", uint64_t{0});
    out.last_import_wh_total = r.value("import_wh_total", int64_t{0});
    out.last_export_wh_total = r.value("export_wh_total", int64_t{0});
    out.last_signature = r.value("signature", "");
  }
  int64_t from = 0;
  for (int page = 0; page < 1000; ++page) {
    auto r = api->GetJson("/v1/meters/" + meter_id + "/readings?from=" + std::to_string(from) + "&limit=500");
    if (!r.ok()) return r.status();
    for (const auto& iv : (*r)["intervals"]) {
      out.attested_import_wh += iv.value("import_wh", int64_t{0});
      out.attested_export_wh += iv.value("export_wh", int64_t{0});
      out.import_by_interval[iv.value("interval_start_s", int64_t{0})] += iv.value("import_wh", int64_t{0});
      out.export_by_interval[iv.value("interval_start_s", int64_t{0})] += iv.value("export_wh", int64_t{0});
    }
    if (!(*r)["next_from"].is_number_integer()) return out;
    from = (*r)["next_from"].get<int64_t>();
  }
  return Error(Code::kInternal, meter_id + ": too many pages of readings");
}

void MeterFleet::Meter(int m) {
  Rng rng(seed_ * 7919 + static_cast<uint64_t>(m) + 17);
  const int n = cluster_.size();
  const KeyPair& device = devices_[static_cast<size_t>(m)];
  const KeyPair& gateway = gateways_[static_cast<size_t>(m)];
  const std::string gateway_addr = EncodeAddress(AddressFromPublicKey(gateway.public_key()));
  NodeClients clients(cluster_, o_.wait_ms);
  int home = m % n;
  // The meter's own series: reading k covers [start, start + 1) and carries the register totals.
  pb::MeterReading r;
  r.set_meter_id(MeterId(m));
  r.set_seq(1);
  r.set_interval_start_s(NowMs() / 1000 + 1);  // after its registration's block time
  r.set_interval_end_s(r.interval_start_s() + 1);
  r.set_import_wh_total(rng.Range(0, 1000));
  r.set_export_wh_total(rng.Range(0, 1000));
  SignReading(device, cluster_.chain_id(), r);
  auto record = [&](bool told_accepted, bool sent) {
    std::lock_guard<std::mutex> lock(mu_);
    SentReading& s = sent_[static_cast<size_t>(m)][r.seq()];
    s.seq = r.seq();
    s.import_wh_total = r.import_wh_total();
    s.export_wh_total = r.export_wh_total();
    const std::string sig = HexEncode(std::string_view(r.signature()));
    if (s.versions.empty() || s.versions.back().signature != sig) {
      s.versions.push_back({sig, r.interval_start_s(), r.interval_end_s()});
    }
    s.told_accepted = s.told_accepted || told_accepted;
    if (sent) ++s.sends;
  };
  auto resign = [&](pb::MeterReading next) {
    next.clear_signature();
    SignReading(device, cluster_.chain_id(), next);
    r = std::move(next);
  };
  auto advance = [&] {
    pb::MeterReading next = r;
    next.set_seq(r.seq() + 1);
    next.set_interval_start_s(r.interval_end_s());
    next.set_interval_end_s(r.interval_end_s() + 1);
    next.set_import_wh_total(r.import_wh_total() + rng.Range(0, o_.wh_per_span_max));
    next.set_export_wh_total(r.export_wh_total() + rng.Range(0, o_.wh_per_span_max));
    resign(std::move(next));
  };
  // Its interval settled before the reading got in: the same seq and registers over the last
  // second that has ended (the registers' rise since the last accepted reading then spans a gap).
  auto refresh = [&] {
    pb::MeterReading next = r;
    const int64_t end = std::max<int64_t>(NowMs() / 1000, r.interval_end_s());
    next.set_interval_start_s(end - 1);
    next.set_interval_end_s(end);
    resign(std::move(next));
  };
  // The chain's last accepted seq of this meter: the highest any node reports (a lagging node's
  // lower answer would have the meter remake a reading the chain has; none answered: nullopt).
  // Short timeouts: a paused node must not hold the meter past its readings' grace.
  ClientOptions quick;
  quick.connect_timeout_ms = 300;
  quick.read_timeout_ms = 1000;
  auto chain_seq = [&]() -> std::optional<uint64_t> {
    std::optional<uint64_t> best;
    for (int k = 0; k < n; ++k) {
      auto api = ApiClient::Create(cluster_.Api((home + k) % n), quick);
      if (!api.ok()) continue;
      auto got = api->GetJson("/v1/meters/" + MeterId(m));
      if (!got.ok()) continue;
      uint64_t seq = 0;
      if (got->contains("last_reading") && (*got)["last_reading"].is_object()) {
        seq = (*got)["last_reading"].value("seq", uint64_t{0});
      }
      best = std::max(best.value_or(0), seq);
    }
    return best;
  };
  uint64_t nonce = 0;
  while (!stop_) {
    if (NowMs() / 1000 < r.interval_end_s()) {  // a meter signs a span once it has ended
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (!HaveNonce(clients, n, home, gateway_addr, stop_, &nonce)) continue;
    const std::string bytes = SignTx(gateway, cluster_.chain_id(), MakeSubmitReadings(nonce, {r}));
    record(false, true);
    TxRecord rec;
    rec.nonce = nonce;
    Offer(clients, n, home, bytes, o_.wait_ms, o_.retries, stop_, rec);
    // A committed batch of one: accepted (code 0), or the reading was rejected in the block.
    const bool accepted = rec.outcome == Outcome::kCommitted && rec.code == 0;
    const uint32_t settled = static_cast<uint32_t>(Code::kReadingIntervalSettled);
    // Refusals that say the chain's seq moved (an earlier tx carried the reading) are settled by
    // reading it back, as unknown outcomes are.
    const bool seq_moved = rec.code == static_cast<uint32_t>(Code::kReadingReplayed) ||
                           rec.code == static_cast<uint32_t>(Code::kReadingSeqGap);
    nonce = NextNonce(rec);
    if (accepted) {
      record(true, false);
      advance();
      continue;
    }
    if (rec.outcome == Outcome::kRefused && rec.code != settled && !seq_moved && nonce != 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // not admitted: send it again
      continue;
    }
    // Did an earlier tx carry it? The chain says.
    if (auto seq = chain_seq(); seq && *seq >= r.seq()) {
      advance();
    } else if (rec.code == settled && rec.outcome != Outcome::kUnknown) {
      refresh();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (nonce == 0) home = (home + 1) % n;
  }
}

}  // namespace v2g::faults
