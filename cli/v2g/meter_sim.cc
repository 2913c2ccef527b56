// v2g meter-sim: simulates a fleet of vehicle meters (wallet/meter_sim.h), each with the charger
// it plugs into: registers the missing ones with the operator key (a charger is the operator's
// own), then signs their readings with device keys derived from the fleet key (each charger's
// reading names its vehicle while plugged in, which is what makes the vehicle's energy count),
// submits them in batches and reports the vehicles' attested energy per settlement interval.

#include "wallet/meter_sim.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cli/v2g/families.h"
#include "cli/v2g/output.h"
#include "common/assert.h"
#include "common/limits.h"
#include "common/time.h"
#include "contracts/meters.h"
#include "wallet/pipeline.h"
#include "wallet/tx_builder.h"

namespace v2g::cli {
namespace {

struct SimArgs {
  std::string operator_key;  // signs RegisterMeter and the readings txs
  std::string owner;         // address or key name
  std::string fleet = "fleet";
  std::string prefix;  // meter ids <prefix>-0000...; default the fleet name
  std::string zone = "SIM";
  int64_t meters = 10;
  uint64_t seed = 1;
  int64_t duration_s = 300;
  int64_t interval_s = 60;
  int64_t settlement_s = 900;  // used only when the node does not say
  int64_t batch = 100;
  std::string sessions;
  int64_t discharge_from_s = -1;  // offsets from the start
  int64_t discharge_to_s = -1;
  int64_t discharge_from_unix_s = -1;  // or Unix times
  int64_t discharge_to_unix_s = -1;
  int64_t until_s = -1;       // live: stream until this Unix time instead of for duration_s
  bool plugged_in = false;    // SimConfig::plugged_in
  int32_t soc_permille = -1;  // SimConfig::start_soc_permille
  int64_t charger_w = 0;      // > 0: every newly registered vehicle imports and exports this much
  bool backfill = false;
};

// The fleet seed lives in the keystore as key `name` (encrypted exactly like account keys);
// created on first use. Every device key derives from it (wallet/meter_sim.h DeviceKey).
Result<KeyPair> LoadOrCreateFleetKey(Context& ctx, const std::string& name) {
  V2G_RETURN_IF_ERROR(ValidateKeyName(name));
  if (!ctx.keystore().Show(name).ok()) {
    auto pass = ctx.Passphrase(name, true);
    if (!pass.ok()) return pass.status();
    Secret p(std::move(pass).value());
    auto info = ctx.keystore().Add(name, p.get(), "fleet");
    if (!info.ok()) return info.status();
    std::cerr << "Created fleet key '" << name << "' in " << info->path << "\n";
  }
  return ctx.LoadKey(name);
}

Result<std::vector<Session>> ReadSessionsFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(Code::kIo, "cannot open sessions file " + path);
  std::string text;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kSessionsFileBytesMax) {
      return Error(Code::kTooLarge, "sessions file " + path + " is larger than " +
                                        std::to_string(kSessionsFileBytesMax >> 20) + " MiB");
    }
  }
  auto s = ParseSessionsCsv(text, path);
  if (s.ok() && s->empty())
    return Error(Code::kInvalidArgument, "sessions file " + path + " has no sessions");
  return s;
}

Status CheckSimArgs(const SimArgs& a) {
  if (a.meters < 1 || a.meters > kSimMetersMax) {
    return Error(Code::kInvalidArgument, "--meters must be 1.." + std::to_string(kSimMetersMax));
  }
  if (a.duration_s < 1 || a.duration_s > 365 * 86400)
    return Error(Code::kInvalidArgument, "--duration must be 1..31536000 s");
  if (a.interval_s < 1 || a.interval_s > a.duration_s) {
    return Error(Code::kInvalidArgument, "--interval-s must be 1..--duration");
  }
  if (a.batch < 1 || a.batch > limits::kReadingsPerTxMax) {
    return Error(Code::kInvalidArgument,
                 "--batch must be 1.." + std::to_string(limits::kReadingsPerTxMax));
  }
  if ((a.discharge_from_s < 0) != (a.discharge_to_s < 0) ||
      (a.discharge_from_s >= 0 && a.discharge_to_s <= a.discharge_from_s)) {
    return Error(Code::kInvalidArgument,
                 "--discharge-from and --discharge-to go together, with from < to");
  }
  if ((a.discharge_from_unix_s < 0) != (a.discharge_to_unix_s < 0) ||
      (a.discharge_from_unix_s >= 0 && a.discharge_to_unix_s <= a.discharge_from_unix_s)) {
    return Error(Code::kInvalidArgument,
                 "--discharge-from-unix and --discharge-to-unix go together, with from < to");
  }
  if (a.discharge_from_s >= 0 && a.discharge_from_unix_s >= 0) {
    return Error(Code::kInvalidArgument,
                 "give the discharge window either as offsets or as Unix times, not both");
  }
  if (a.until_s >= 0 && a.backfill)
    return Error(Code::kInvalidArgument, "--until is for live runs, not --backfill");
  if (a.plugged_in && !a.sessions.empty()) {
    return Error(
        Code::kInvalidArgument,
        "--plugged-in drives the built-in generator; --sessions says when vehicles plug in");
  }
  if (a.soc_permille < -1 || a.soc_permille > 1000)
    return Error(Code::kInvalidArgument, "--soc-permille must be 0..1000");
  if (a.charger_w < 0 || a.charger_w > limits::kMeterPowerWMax) {
    return Error(Code::kInvalidArgument,
                 "--charger-w must be 1.." + std::to_string(limits::kMeterPowerWMax));
  }
  return Status::Ok();
}

std::string SimMeterId(const SimArgs& a, int64_t i) {
  std::string n = std::to_string(i);
  return (a.prefix.empty() ? a.fleet : a.prefix) + "-" +
         std::string(n.size() < 4 ? 4 - n.size() : 0, '0') + n;
}

// One fleet member and its charger as the chain has them: registered now or before (then they
// resume).
struct SimMeter {
  VehicleSpec spec;
  KeyPair device;
  std::optional<pb::MeterReading> last;  // its last accepted reading on chain
  int64_t registered_ms = 0;             // block time of its registration: no reading starts earlier
  KeyPair charger_device;
  std::optional<pb::MeterReading> charger_last;
  int64_t charger_registered_ms = 0;
};

pb::MeterReading ReadingFromJson(const json& j) {
  pb::MeterReading r;
  r.set_meter_id(j.value("meter_id", ""));
  r.set_seq(j.value("seq", uint64_t{0}));
  r.set_interval_start_s(j.value("interval_start_s", int64_t{0}));
  r.set_interval_end_s(j.value("interval_end_s", int64_t{0}));
  r.set_import_wh_total(j.value("import_wh_total", int64_t{0}));
  r.set_export_wh_total(j.value("export_wh_total", int64_t{0}));
  return r;
}

// Meter `id` as the chain has it, registered first (by `op`, for `owner`) when it is missing;
// refused when the chain has it with another device key or deactivated.
Result<json> EnsureRegistered(ApiClient& client, const std::string& chain_id, const KeyPair& op,
                              const Address& owner, const std::string& id, const KeyPair& device,
                              pb::MeterKind kind, const std::string& zone, const VehicleSpec& spec) {
  auto got = client.GetJson("/v1/meters/" + id);
  if (!got.ok() && got.status().code() != Code::kNotFound) return got.status();
  if (!got.ok()) {
    SubmitOptions opts;
    const int64_t capacity_wh = kind == pb::METER_KIND_VEHICLE ? spec.capacity_wh : 0;
    auto sub = SignAndSubmit(
        client, op,
        MakeRegisterMeter(0, chain_id, AddressFromPublicKey(op.public_key()), id, device, kind, zone, owner,
                          spec.max_import_w, spec.max_export_w, capacity_wh),
        opts);
    if (!sub.ok())
      return Error(sub.status().code(),
                   "registering meter '" + id + "': " + sub.status().message());
    if (!sub->result.committed() || sub->result.code != 0) {
      return Error(Code::kUnavailable,
                   "registering meter '" + id + "': " +
                       (sub->result.committed() ? sub->result.code_name + ": " + sub->result.log
                                                : "not committed in time"));
    }
    got = client.GetJson("/v1/meters/" + id);
    if (!got.ok()) return got.status();
  }
  const json& j = *got;
  if (j.value("device_pubkey", "") != HexEncode(ByteView(device.public_key().data(), kPublicKeyBytes))) {
    return Error(Code::kAlreadyExists,
                 "meter '" + id +
                     "' is registered with another device key (another fleet or "
                     "--fleet/--prefix clash); pick another --prefix");
  }
  if (!j.value("active", false))
    return Error(Code::kMeterDeactivated, "meter '" + id + "' is deactivated");
  return *got;
}

Result<int64_t> RegisteredMs(const json& j, const std::string& id) {
  auto registered = ParseRfc3339Ms(j.value("registered_time", ""));
  if (!registered.ok()) {
    return Error(Code::kMalformed, "meter '" + id + "' on chain has no registration time: " + registered.status().message());
  }
  return *registered;
}

// Registers the fleet's meters the chain does not have yet (vehicles and their chargers) in
// RegisterMeters batches, each as large as the chain's tx_bytes_max allows (at most
// kMetersPerTxMax), every batch submitted before any is waited for (the node's next nonce counts
// the signer's pending txs): a fleet of 1,000 takes a few blocks instead of 2,000 one-meter txs
// waited for one by one (~17 minutes here). What a batch refuses, or anything left when a batch
// cannot be sent, EnsureSimMeter registers alone afterwards, naming the reason.
Status PreRegisterFleet(ApiClient& client, const KeyPair& op, const Address& owner, const SimArgs& a,
                        const KeyPair& fleet) {
  V2G_ASSIGN_OR_RETURN(params, client.GetJson("/v1/params"));
  const int64_t tx_bytes_max = params.value("tx_bytes_max", int64_t{0});
  V2G_ASSIGN_OR_RETURN(status, client.GetStatus());
  // What the signed tx adds to its body: signer key, signature, fee, framing.
  constexpr int64_t kTxOverheadBytes = 512;
  const int64_t budget = tx_bytes_max - kTxOverheadBytes;
  if (budget <= 0) return Status::Ok();
  const Address op_address = AddressFromPublicKey(op.public_key());
  std::vector<pb::TxBody> batches(1);
  int64_t batch_bytes = 0, missing = 0;
  auto add = [&](pb::RegisterMeter r) {
    const auto bytes = static_cast<int64_t>(r.ByteSizeLong()) + 4;
    if (batches.back().register_meters().meters_size() >= limits::kMetersPerTxMax || batch_bytes + bytes > budget) {
      batches.emplace_back();
      batch_bytes = 0;
    }
    *batches.back().mutable_register_meters()->add_meters() = std::move(r);
    batch_bytes += bytes;
    ++missing;
  };
  auto absent = [&](const std::string& id) -> Result<bool> {
    auto got = client.GetJson("/v1/meters/" + id);
    if (got.ok()) return false;
    if (got.status().code() == Code::kNotFound) return true;
    return got.status();
  };
  Bytes seed = fleet.Seed();
  for (int64_t i = 0; i < a.meters; ++i) {
    VehicleSpec spec = GenerateVehicleSpec(a.seed, i, SimMeterId(a, i));
    if (a.charger_w > 0) spec.max_import_w = spec.max_export_w = a.charger_w;
    const std::string& id = spec.meter_id;
    V2G_ASSIGN_OR_RETURN(vehicle_absent, absent(id));
    if (vehicle_absent) {
      add(MakeRegisterMeter(0, status.chain_id, op_address, id, DeviceKey(seed, i), pb::METER_KIND_VEHICLE, a.zone,
                            owner, spec.max_import_w, spec.max_export_w, spec.capacity_wh)
              .register_meter());
    }
    const std::string ch = ChargerIdOf(id);
    V2G_ASSIGN_OR_RETURN(charger_absent, absent(ch));
    if (charger_absent) {
      add(MakeRegisterMeter(0, status.chain_id, op_address, ch, ChargerDeviceKey(seed, i), pb::METER_KIND_CHARGER,
                            a.zone, op_address, spec.max_import_w, spec.max_export_w, 0)
              .register_meter());
    }
  }
  SecureWipe(seed.data(), seed.size());
  if (missing == 0) return Status::Ok();
  // Pipelined nonces through a window (wallet/pipeline.h): every batch is sent before any is
  // waited for, then all are waited for once.
  V2G_ASSIGN_OR_RETURN(account, client.GetAccount(EncodeAddress(op_address)));
  NonceWindow window(client, EncodeAddress(op_address), account.next_nonce);
  Status sent = Status::Ok();
  for (auto& body : batches) {
    body.set_nonce(window.next_nonce());
    auto fee = RequiredFeeOf(client, body, nullptr, limits::kAutoFeeMinMax, status.mempool_fee_per_unit);
    if (!fee.ok()) {
      sent = fee.status();
      break;
    }
    if (*fee) *body.mutable_fee() = **fee;
    sent = window.Send(SignTx(op, status.chain_id, std::move(body)));
    if (!sent.ok()) break;
  }
  if (sent.ok()) sent = window.Finish();
  if (!sent.ok()) {
    std::cerr << "meter-sim: not every batch of registrations was committed (" << sent.ToString()
              << "); the meters left are registered one by one\n";
  }
  std::cerr << "meter-sim: " << missing << " meters to register, sent in " << batches.size() << " RegisterMeters txs\n";
  return Status::Ok();
}

Result<SimMeter> EnsureSimMeter(ApiClient& client, const std::string& chain_id, const KeyPair& op,
                                const Address& owner, const SimArgs& a, const KeyPair& fleet, int64_t i) {
  Bytes seed = fleet.Seed();
  SimMeter m{GenerateVehicleSpec(a.seed, i, SimMeterId(a, i)), DeviceKey(seed, i), std::nullopt, 0,
             ChargerDeviceKey(seed, i), std::nullopt, 0};
  SecureWipe(seed.data(), seed.size());
  if (a.charger_w > 0) m.spec.max_import_w = m.spec.max_export_w = a.charger_w;
  const std::string& id = m.spec.meter_id;
  V2G_ASSIGN_OR_RETURN(j, EnsureRegistered(client, chain_id, op, owner, id, m.device, pb::METER_KIND_VEHICLE, a.zone,
                                           m.spec));
  V2G_ASSIGN_OR_RETURN(registered, RegisteredMs(j, id));
  m.registered_ms = registered;
  m.spec.max_import_w = j.value("max_import_w", int64_t{0});
  m.spec.max_export_w = j.value("max_export_w", int64_t{0});
  m.spec.capacity_wh = j.value("battery_capacity_wh", int64_t{0});
  if (m.spec.capacity_wh <= 0 || m.spec.max_import_w < 0 || m.spec.max_export_w < 0) {
    return Error(Code::kMalformed,
                 "meter '" + id + "' on chain is not a vehicle meter this simulator can drive");
  }
  if (j.contains("last_reading") && j["last_reading"].is_object())
    m.last = ReadingFromJson(j["last_reading"]);
  // Its charger: the operator's own device, as powerful as the car, in the same zone.
  const std::string ch = ChargerIdOf(id);
  V2G_ASSIGN_OR_RETURN(cj, EnsureRegistered(client, chain_id, op, AddressFromPublicKey(op.public_key()), ch,
                                            m.charger_device, pb::METER_KIND_CHARGER, a.zone, m.spec));
  V2G_ASSIGN_OR_RETURN(ch_registered, RegisteredMs(cj, ch));
  m.charger_registered_ms = ch_registered;
  if (cj.value("kind", "") != "charger" || cj.value("zone", "") != j.value("zone", "") ||
      cj.value("max_import_w", int64_t{0}) < m.spec.max_import_w ||
      cj.value("max_export_w", int64_t{0}) < m.spec.max_export_w) {
    return Error(Code::kMalformed, "meter '" + ch + "' on chain is not a charger in the zone of '" + id +
                                       "' at least as powerful as it");
  }
  if (cj.contains("last_reading") && cj["last_reading"].is_object())
    m.charger_last = ReadingFromJson(cj["last_reading"]);
  return m;
}

// A readings tx sent through the window and not yet tallied: its hash and the readings it carries.
struct SentBatch {
  std::string hash;
  std::vector<pb::MeterReading> readings;
};

// Packs `readings` (signed by their devices) into one SubmitReadings tx with the window's next
// nonce and the fee the chain asks, and sends it through the window (pipelined nonces: no wait for
// its commit here).
Status SendSimBatch(ApiClient& client, const KeyPair& op, const std::string& chain_id, NonceWindow& window,
                    std::vector<pb::MeterReading> readings, std::vector<SentBatch>& sent) {
  V2G_ASSIGN_OR_RETURN(status, client.GetStatus());
  std::vector<pb::MeterReading> copy = readings;
  pb::TxBody body = MakeSubmitReadings(window.next_nonce(), std::move(readings));
  V2G_ASSIGN_OR_RETURN(fee, RequiredFeeOf(client, body, nullptr, limits::kAutoFeeMinMax,
                                          status.mempool_fee_per_unit));
  if (fee) *body.mutable_fee() = *fee;
  std::string tx = SignTx(op, chain_id, std::move(body));
  sent.push_back({HexEncode(Blake2b256(tx)), std::move(copy)});
  return window.Send(std::move(tx));
}

// Once the window has every tx committed: reads each tx's verdicts and tallies the accepted
// readings; `rejected` counts the rest per meter. Clears `sent`.
Status TallySent(ApiClient& client, std::vector<SentBatch>& sent, AttestedTally& tally,
                 std::map<std::string, int64_t>& rejected) {
  for (SentBatch& b : sent) {
    V2G_ASSIGN_OR_RETURN(tx, client.GetTx(b.hash));
    if (!tx.committed()) return Error(Code::kInternal, "readings tx " + b.hash + " is not committed");
    if (tx.reduced) {
      return Error(Code::kPermissionDenied, "the node shows readings tx " + b.hash +
                                                " only to its signer, and the operator's key did not sign the read");
    }
    if (tx.code != 0) return Error(Code::kInternal, "readings tx failed: " + tx.code_name + ": " + tx.log);
    std::vector<bool> bad(b.readings.size(), false);
    for (const auto& rej : tx.raw.value("rejected_readings", json::array())) {
      const size_t idx = rej.value("index", size_t{0});
      if (idx >= b.readings.size()) continue;
      bad[idx] = true;
      ++rejected[b.readings[idx].meter_id()];
      std::cerr << "warning: reading " << b.readings[idx].seq() << " of meter '" << b.readings[idx].meter_id()
                << "' rejected: " << rej.value("code_name", "") << ": " << rej.value("message", "") << "\n";
    }
    for (size_t i = 0; i < b.readings.size(); ++i) {
      if (!bad[i]) tally.Add(b.readings[i]);
    }
  }
  sent.clear();
  return Status::Ok();
}

int64_t NowS() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void PrintSimReport(Context& ctx, const SimArgs& a, const SimConfig& c,
                    const std::vector<SimMeter>& fleet, const AttestedTally& tally,
                    const std::map<std::string, int64_t>& rejected) {
  json meters = json::array();
  for (const auto& m : fleet) {
    const std::string& id = m.spec.meter_id;
    auto it = tally.meters().find(id);
    json intervals = json::array();
    json j = {{"meter_id", id}, {"readings_accepted", 0}, {"readings_rejected", 0}};
    if (auto r = rejected.find(id); r != rejected.end()) j["readings_rejected"] = r->second;
    if (it != tally.meters().end()) {
      j["readings_accepted"] = it->second.readings_sent;
      for (const auto& [start, e] : it->second.intervals) {
        intervals.push_back({{"interval_start_s", start},
                             {"interval_end_s", start + c.settlement_s},
                             {"import_wh", e.import_wh},
                             {"export_wh", e.export_wh},
                             {"readings", e.readings}});
      }
      j["unattributed_import_wh"] = it->second.unattributed_import_wh;
      j["unattributed_export_wh"] = it->second.unattributed_export_wh;
    }
    j["intervals"] = intervals;
    meters.push_back(j);
  }
  if (ctx.json()) {
    PrintJson({{"fleet", a.fleet},
               {"settlement_interval_s", c.settlement_s},
               {"interval_s", c.interval_s},
               {"start_s", c.start_s},
               {"seed", a.seed},
               {"meters", meters}});
    return;
  }
  std::cout << "Attested energy sent per " << c.settlement_s << " s settlement interval:\n";
  std::vector<std::vector<std::string>> rows{{"METER", "INTERVAL START", "IMPORT Wh", "EXPORT Wh", "READINGS"}};
  for (const auto& m : meters) {
    for (const auto& i : m["intervals"]) {
      rows.push_back({m["meter_id"].get<std::string>(), FormatTimeS(i["interval_start_s"].get<int64_t>()),
                      i["import_wh"].dump(), i["export_wh"].dump(), i["readings"].dump()});
    }
  }
  PrintTable(rows, {2, 3, 4});
  std::cout << "\nReadings per meter:\n";
  std::vector<std::vector<std::string>> totals{{"METER", "ACCEPTED", "REJECTED"}};
  for (const auto& m : meters) {
    totals.push_back({m["meter_id"].get<std::string>(), m["readings_accepted"].dump(),
                      m["readings_rejected"].dump()});
  }
  PrintTable(totals, {1, 2});
}

// When the fleet runs: the config for wallet/meter_sim.h and the end of the run.
struct SimPlan {
  SimConfig config;
  int64_t end_s = 0;  // no reading reaches past this
};

// The settlement interval the chain reports, the start (now, or --duration back with --backfill,
// never before a reading the chain already has), the end and the discharge window.
Result<SimPlan> PlanSim(ApiClient& client, const SimArgs& a, const std::vector<SimMeter>& fleet) {
  V2G_ASSERT(!fleet.empty());  // CheckSimArgs: --meters >= 1
  SimConfig c;
  c.seed = a.seed;
  c.interval_s = a.interval_s;
  c.settlement_s = a.settlement_s;
  // The chain's settlement interval, as the readings endpoint reports it.
  LoadDisplayZone(client);  // the table's times in the market's time zone
  auto rj = client.GetJson("/v1/meters/" + fleet[0].spec.meter_id + "/readings?limit=1");
  if (rj.ok() && rj->value("settlement_interval_s", int64_t{0}) > 0)
    c.settlement_s = (*rj)["settlement_interval_s"];
  const int64_t now = NowS();
  c.start_s = (a.backfill ? now - a.duration_s : now) / a.interval_s * a.interval_s;
  // Fixed before a resume moves the start.
  const int64_t end_s = a.until_s >= 0 ? a.until_s : c.start_s + a.duration_s;
  if (end_s < c.start_s + a.interval_s) {
    return Error(Code::kInvalidArgument,
                 (a.until_s >= 0 ? "--until " + FormatTimeS(a.until_s) : "--duration " + std::to_string(a.duration_s) + " s") +
                     " leaves no whole reading (now " + FormatTimeS(now) +
                     ", readings of " + std::to_string(a.interval_s) + " s)");
  }
  // Never before what the chain already has, before a meter's registration, or in a settlement
  // interval already settled (its market and grid results are final; such readings are refused).
  auto round_up = [&](int64_t t) { return (t + a.interval_s - 1) / a.interval_s * a.interval_s; };
  for (const auto& m : fleet) {
    if (m.last) c.start_s = std::max(c.start_s, round_up(m.last->interval_end_s()));
    if (m.charger_last) c.start_s = std::max(c.start_s, round_up(m.charger_last->interval_end_s()));
    c.start_s = std::max(c.start_s, round_up((std::max(m.registered_ms, m.charger_registered_ms) + 999) / 1000));
  }
  auto params = client.GetJson("/v1/params");
  if (!params.ok()) return params.status();
  const int64_t grace = params->value("market_grace_s", int64_t{0});
  if (c.settlement_s > 0 && now - c.settlement_s - grace >= 0) {
    const int64_t first_open = (now - c.settlement_s - grace) / c.settlement_s * c.settlement_s + c.settlement_s;
    c.start_s = std::max(c.start_s, round_up(first_open));
  }
  if (a.discharge_from_s >= 0) {
    c.discharge_from_s = c.start_s + a.discharge_from_s;
    c.discharge_to_s = c.start_s + a.discharge_to_s;
  } else if (a.discharge_from_unix_s >= 0) {
    c.discharge_from_s = a.discharge_from_unix_s;
    c.discharge_to_s = a.discharge_to_unix_s;
  }
  c.plugged_in = a.plugged_in;
  c.start_soc_permille = a.soc_permille;
  V2G_RETURN_IF_ERROR(ValidateSimConfig(c));
  return SimPlan{c, end_s};
}

// Steps the fleet from the plan's start to its end (in real time unless --backfill), signs each
// reading with its device key and submits them --batch at a time; `tally` gets what was accepted,
// `rejected` counts the rest per meter.
Status StreamReadings(ApiClient& client, const KeyPair& op, const std::string& chain_id,
                      const SimArgs& a, const SimPlan& plan, const std::vector<SimMeter>& fleet,
                      std::vector<Session> sessions, AttestedTally& tally,
                      std::map<std::string, int64_t>& rejected) {
  const SimConfig& c = plan.config;
  std::vector<VehicleSpec> specs;
  for (const auto& m : fleet) specs.push_back(m.spec);
  FleetSim sim(c, specs, std::move(sessions));
  std::map<std::string, size_t> index_of;
  std::vector<uint64_t> charger_seq(fleet.size(), 0);
  for (size_t i = 0; i < fleet.size(); ++i) {
    index_of[fleet[i].spec.meter_id] = i;
    if (fleet[i].last) {
      sim.Resume(i, {fleet[i].last->seq(), fleet[i].last->import_wh_total(),
                     fleet[i].last->export_wh_total(), fleet[i].last->interval_end_s()});
      tally.Seed(*fleet[i].last);
    }
    if (fleet[i].charger_last) {
      charger_seq[i] = fleet[i].charger_last->seq();
      tally.Seed(*fleet[i].charger_last);
    }
  }
  // Pipelined: every batch of a step is sent before any is waited for (the node's next nonce
  // counts pending txs); the step's batches are waited for once, then tallied in order.
  const std::string op_address = EncodeAddress(AddressFromPublicKey(op.public_key()));
  V2G_ASSIGN_OR_RETURN(account, client.GetAccount(op_address));
  NonceWindow window(client, op_address, account.next_nonce);
  std::vector<SentBatch> sent;
  std::vector<pb::MeterReading> pending;
  auto flush = [&]() -> Status {
    if (pending.empty()) return Status::Ok();
    Status s = SendSimBatch(client, op, chain_id, window, std::move(pending), sent);
    pending.clear();
    return s;
  };
  auto settle = [&]() -> Status {
    V2G_RETURN_IF_ERROR(flush());
    V2G_RETURN_IF_ERROR(window.Finish());
    return TallySent(client, sent, tally, rejected);
  };
  for (int64_t t = c.start_s; t + c.interval_s <= plan.end_s; t += c.interval_s) {
    if (!a.backfill) {  // a reading is sent once its interval is over, never from the future
      while (NowS() < t + c.interval_s) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    for (auto& r : sim.Step(t)) {
      const size_t i = index_of.at(r.meter_id());
      // The charger's reading first: both go in this step (the start is past either's last end,
      // PlanSim), and a batch boundary between them changes nothing on chain.
      pb::MeterReading ch = ChargerReading(r, ++charger_seq[i], sim.plugged(i));
      SignReading(fleet[i].charger_device, chain_id, ch);
      SignReading(fleet[i].device, chain_id, r);
      for (pb::MeterReading* x : {&ch, &r}) {
        pending.push_back(std::move(*x));
        if (static_cast<int64_t>(pending.size()) == a.batch) V2G_RETURN_IF_ERROR(flush());
      }
    }
    if (!a.backfill) V2G_RETURN_IF_ERROR(settle());
  }
  return settle();
}

Status CmdMeterSim(Context& ctx, const SimArgs& a) {
  V2G_RETURN_IF_ERROR(CheckSimArgs(a));
  if (!ValidMeterId(ChargerIdOf(SimMeterId(a, a.meters - 1)))) {
    return Error(Code::kInvalidArgument,
                 "meter ids '" + SimMeterId(a, 0) + "'... are not valid meter ids (--prefix)");
  }
  if (!ValidZone(a.zone))
    return Error(Code::kInvalidArgument, "--zone must be 1-32 of A-Z a-z 0-9 . _ -");
  std::vector<Session> sessions;
  if (!a.sessions.empty()) {
    V2G_ASSIGN_OR_RETURN(s, ReadSessionsFile(a.sessions));
    sessions = std::move(s);
  }
  V2G_ASSIGN_OR_RETURN(owner, ResolveAccount(ctx.keystore(), a.owner));
  V2G_ASSIGN_OR_RETURN(op_info, ctx.ActAs(a.operator_key));
  V2G_ASSIGN_OR_RETURN(op, ctx.LoadKey(op_info.name));
  V2G_ASSIGN_OR_RETURN(fleet_key, LoadOrCreateFleetKey(ctx, a.fleet));
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(status, client->GetStatus());
  V2G_RETURN_IF_ERROR(PreRegisterFleet(*client, op, owner.address, a, fleet_key));
  std::vector<SimMeter> fleet;
  for (int64_t i = 0; i < a.meters; ++i) {
    V2G_ASSIGN_OR_RETURN(m, EnsureSimMeter(*client, status.chain_id, op, owner.address, a, fleet_key, i));
    fleet.push_back(std::move(m));
  }
  V2G_ASSIGN_OR_RETURN(plan, PlanSim(*client, a, fleet));
  AttestedTally tally(plan.config.settlement_s);
  std::map<std::string, int64_t> rejected;
  V2G_RETURN_IF_ERROR(StreamReadings(*client, op, status.chain_id, a, plan, fleet,
                                     std::move(sessions), tally, rejected));
  PrintSimReport(ctx, a, plan.config, fleet, tally, rejected);
  return Status::Ok();
}
}  // namespace

void AddMeterSimCommands(CLI::App& app, CommandLine& cl) {
  SimArgs& sim = cl.Keep<SimArgs>();
  auto* msim = cl.Command(
      &app, "meter-sim",
      "Simulate a fleet of vehicle meters and the chargers they plug into: register them (operator "
      "key), then sign and submit their readings, and report the attested energy sent per "
      "settlement interval",
      [&](Context& c) { return CmdMeterSim(c, sim); });
  msim->add_option("--operator", sim.operator_key,
                   "Key that signs the txs: registers missing meters (needs the operator role) and "
                   "submits the "
                   "readings (any key may)")
      ->required();
  msim->add_option("--owner", sim.owner, "Owner of the vehicles: address or key name")->required();
  msim->add_option(
          "--fleet", sim.fleet,
          "Fleet key name in the keystore (created on first use); device keys derive from it")
      ->capture_default_str();
  msim->add_option("--prefix", sim.prefix,
                   "Meter ids are PREFIX-0000, PREFIX-0001, ... (default: fleet name)");
  msim->add_option("--zone", sim.zone, "Zone of the meters")->capture_default_str();
  msim->add_option("--meters", sim.meters, "Number of vehicle meters")->capture_default_str();
  msim->add_option("--seed", sim.seed, "Generator seed (same seed, same readings)")
      ->capture_default_str();
  msim->add_option("--duration", sim.duration_s, "Seconds of readings to send")
      ->capture_default_str();
  msim->add_option("--interval-s", sim.interval_s,
                   "Reading length (divides the settlement interval)")
      ->capture_default_str();
  msim->add_option("--settlement-s", sim.settlement_s,
                   "Settlement interval if the node does not report it")
      ->capture_default_str();
  msim->add_option("--batch", sim.batch, "Readings per SubmitReadings tx")->capture_default_str();
  msim->add_option("--sessions", sim.sessions,
                   "Charging sessions CSV (ACN-Data format) instead of the generator");
  msim->add_option("--discharge-from", sim.discharge_from_s,
                   "Discharge window start, seconds after the start");
  msim->add_option("--discharge-to", sim.discharge_to_s,
                   "Discharge window end, seconds after the start");
  msim->add_option("--discharge-from-unix", sim.discharge_from_unix_s,
                   "Discharge window start as a time (RFC 3339, e.g. 2026-12-06T18:00:00+08:00, or Unix seconds)")
      ->transform(TimeCheck("--discharge-from-unix"));
  msim->add_option("--discharge-to-unix", sim.discharge_to_unix_s,
                   "Discharge window end as a time (RFC 3339 or Unix seconds)")
      ->transform(TimeCheck("--discharge-to-unix"));
  msim->add_option("--until", sim.until_s, "Stream until this time (RFC 3339 or Unix seconds) instead of for --duration")
      ->transform(TimeCheck("--until"));
  msim->add_flag("--plugged-in", sim.plugged_in,
                 "Every vehicle stays plugged in (a depot): charges until full, discharges exactly "
                 "in the window");
  msim->add_option("--soc-permille", sim.soc_permille,
                   "Every vehicle starts at this state of charge (0..1000)");
  msim->add_option("--charger-w", sim.charger_w,
                   "Import and export power of every newly registered vehicle, W (default: "
                   "generated 3.7-11 kW)");
  msim->add_flag("--backfill", sim.backfill,
                 "Send the last --duration seconds at once instead of streaming in real time");
}

}  // namespace v2g::cli
