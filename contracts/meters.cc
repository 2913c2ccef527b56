#include "contracts/meters.h"

#include <algorithm>
#include <limits>

#include "common/checked.h"
#include "common/limits.h"
#include "common/ocmf.h"
#include "common/signbytes.h"
#include "contracts/grid.h"
#include "contracts/market.h"
#include "contracts/pools.h"
#include "contracts/state.h"

namespace v2g {
namespace {

constexpr int64_t kSecondsPerDay = 86400;

bool IdChars(std::string_view s, size_t max, bool allow_colon) {
  if (s.empty() || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || (allow_colon && c == ':');
  });
}

std::string Num(int64_t v) { return std::to_string(v); }

Status CheckIdField(std::string_view what, std::string_view id) {
  if (!ValidMeterId(id)) {
    return Error(Code::kInvalidArgument, std::string(what) + ": meter id '" + std::string(id.substr(0, 80)) +
                                             "' is not 1-64 of A-Z a-z 0-9 . _ : -");
  }
  return Status::Ok();
}

Status CheckPubkeyField(std::string_view what, const std::string& raw) {
  if (raw.size() != kPublicKeyBytes) {
    return Error(Code::kInvalidArgument, std::string(what) + " must be 32 bytes, got " + Num(static_cast<int64_t>(raw.size())));
  }
  return Status::Ok();
}

// An OCMF meter's key and serial: a canonical DER key on a supported curve (one key, one byte
// string, so the device-key index catches reuse), no Ed25519 fields, a charger or site.
Status CheckOcmfRegister(const pb::RegisterMeter& r) {
  if (!r.device_pubkey().empty() || !r.device_signature().empty()) {
    return Error(Code::kInvalidArgument, "register_meter: an OCMF meter has no device_pubkey or device_signature "
                                         "(give ocmf_pubkey and ocmf_meter_serial only)");
  }
  auto key = ParseOcmfPublicKeyDer(r.ocmf_pubkey());
  if (!key.ok()) return Error(Code::kInvalidArgument, "register_meter ocmf_pubkey: " + key.status().message());
  const std::string& ms = r.ocmf_meter_serial();
  if (ms.empty() || ms.size() > limits::kMeterIdMax ||
      !std::all_of(ms.begin(), ms.end(), [](char c) { return c >= ' ' && c < 0x7f; })) {
    return Error(Code::kInvalidArgument, "register_meter ocmf_meter_serial (the records' MS) must be 1-" +
                                             Num(static_cast<int64_t>(limits::kMeterIdMax)) +
                                             " printable ASCII characters");
  }
  if (r.kind() == pb::METER_KIND_VEHICLE) {
    return Error(Code::kInvalidArgument, "register_meter: an OCMF meter is a certified charger or site meter, not a vehicle");
  }
  if (r.ocmf_proof_record().empty() || r.ocmf_proof_record().size() > kOcmfRecordBytesMax) {
    return Error(Code::kInvalidArgument, "register_meter ocmf_proof_record (a record the meter signed with ID = "
                                         "v2g meter ocmf-id) must be 1.." + Num(static_cast<int64_t>(kOcmfRecordBytesMax)) +
                                         " bytes");
  }
  return Status::Ok();
}

Status CheckRegister(const pb::RegisterMeter& r) {
  V2G_RETURN_IF_ERROR(CheckIdField("register_meter", r.meter_id()));
  if (std::string_view kind = PersonalIdForm(r.meter_id()); !kind.empty()) {
    return Error(Code::kInvalidArgument, "register_meter: meter id '" + r.meter_id() + "' has the form of " +
                                             std::string(kind) +
                                             ": ids on the ledger are pseudonyms every validator sees, so nothing "
                                             "in one may identify a vehicle or a person; use an id such as the "
                                             "operator's own serial with a prefix (e.g. ev-7f3a21: 6 or 7 upper-case "
                                             "letters and digits alone read as a plate)");
  }
  if (!r.ocmf_pubkey().empty() || !r.ocmf_meter_serial().empty()) {
    V2G_RETURN_IF_ERROR(CheckOcmfRegister(r));
  } else {
    V2G_RETURN_IF_ERROR(CheckPubkeyField("register_meter device_pubkey", r.device_pubkey()));
  }
  if (r.ocmf_pubkey().empty() && r.device_signature().size() != kSignatureBytes) {
    return Error(Code::kInvalidArgument, "register_meter device_signature (the device's proof that it holds the key) "
                                         "must be 64 bytes, got " + Num(static_cast<int64_t>(r.device_signature().size())));
  }
  if (r.kind() != pb::METER_KIND_CHARGER && r.kind() != pb::METER_KIND_VEHICLE && r.kind() != pb::METER_KIND_SITE) {
    return Error(Code::kInvalidArgument, "register_meter kind must be charger, vehicle or site");
  }
  if (!ValidZone(r.zone())) {
    return Error(Code::kInvalidArgument, "register_meter zone must be 1-32 of A-Z a-z 0-9 . _ -");
  }
  if (auto a = AddressFromBytes(r.owner()); !a.ok()) {
    return Error(Code::kInvalidArgument, "register_meter owner: " + a.status().message());
  }
  for (int64_t w : {r.max_import_w(), r.max_export_w()}) {
    if (w < 0 || w > limits::kMeterPowerWMax) {
      return Error(Code::kInvalidArgument, "register_meter max power must be 0.." + Num(limits::kMeterPowerWMax) +
                                               " W, got " + Num(w));
    }
  }
  if (r.max_import_w() == 0 && r.max_export_w() == 0) {
    return Error(Code::kInvalidArgument, "register_meter: a meter that can neither import nor export measures nothing");
  }
  if (r.kind() == pb::METER_KIND_VEHICLE) {
    if (r.battery_capacity_wh() < limits::kBatteryCapacityWhMin || r.battery_capacity_wh() > limits::kBatteryCapacityWhMax) {
      return Error(Code::kInvalidArgument, "register_meter battery_capacity_wh must be " +
                                               Num(limits::kBatteryCapacityWhMin) + ".." +
                                               Num(limits::kBatteryCapacityWhMax) + " for a vehicle, got " +
                                               Num(r.battery_capacity_wh()));
    }
  } else if (r.battery_capacity_wh() != 0) {
    return Error(Code::kInvalidArgument, "register_meter battery_capacity_wh is for vehicles only");
  }
  return Status::Ok();
}

// The meter named by a registry op, active; kMeterUnregistered / kMeterDeactivated otherwise.
Result<pb::MeterRecord> RequireActiveMeter(const KvReader& state, std::string_view id) {
  auto m = LoadMeter(state, id);
  if (!m) return Error(Code::kMeterUnregistered, "no meter '" + std::string(id) + "' is registered");
  if (!m->active()) {
    return Error(Code::kMeterDeactivated, "meter '" + std::string(id) + "' was deactivated at height " +
                                              Num(m->deactivated_height()));
  }
  return *m;
}

// Custody: only the meter's operator (who installs and certifies it) manages its key and its
// life; the owner, who is paid for what it attests, may ask the operator but never act alone.
// And only while it still holds the operator role: governance that revoked it (contracts/gov.h)
// took its powers over the meters it registered too.
Status RequireOperator(const KvReader& state, const pb::MeterRecord& m, const Address& signer,
                       std::string_view action) {
  if (AddressBytes(signer) != m.operator_address()) {
    return Error(Code::kUnauthorized, EncodeAddress(signer) + " may not " + std::string(action) + " meter '" +
                                          m.meter_id() + "': only its operator may (the owner asks the operator)");
  }
  if (!HasRole(state, "operator", signer)) {
    return Error(Code::kUnauthorized, EncodeAddress(signer) + " may not " + std::string(action) +
                                          " meter '" + m.meter_id() +
                                          "': its operator role was revoked");
  }
  return Status::Ok();
}

std::string MeterKeyIndexKey(std::string_view device_pubkey) {
  return std::string(kMeterKeyIndexPrefix) + std::string(device_pubkey);
}

// A device key names one meter for ever: never two at once, never reused after rotation or
// deactivation (a key that once attested for one meter must not start attesting for another).
Status RequireUnusedKey(const KvReader& state, std::string_view device_pubkey) {
  if (auto other = state.Get(MeterKeyIndexKey(device_pubkey))) {
    return Error(Code::kAlreadyExists, "device key " + HexEncode(device_pubkey) + " is already the key of meter '" +
                                           *other + "' (device keys are never shared or reused)");
  }
  return Status::Ok();
}

// The device's proof that it holds `pubkey` for this meter, owner and operator.
Status RequireProofOfPossession(std::string_view what, const BlockContext& ctx, std::string_view meter_id,
                                const std::string& owner, const Address& op, std::string_view pubkey,
                                std::string_view signature) {
  const std::string msg = MeterKeySignBytes(ctx.chain_id, meter_id, owner, AddressBytes(op));
  if (!VerifyRawCached(pubkey, msg, signature)) {  // re-checked in the mempool and the block: verified once
    return Error(Code::kBadSignature, std::string(what) + ": the device signature does not verify over meter '" +
                                          std::string(meter_id) + "', owner " + EncodeAddress(*AddressFromBytes(owner)) +
                                          " and operator " + EncodeAddress(op) +
                                          " (the device must sign MeterKeySignBytes with the key being registered)");
  }
  return Status::Ok();
}

void StoreMeter(Overlay& state, const pb::MeterRecord& m) {
  V2G_ASSERT(ValidMeterId(m.meter_id()));
  V2G_ASSERT(m.key_type() == pb::METER_KEY_OCMF ? !m.device_pubkey().empty()
                                               : m.device_pubkey().size() == kPublicKeyBytes);
  state.Put(MeterKey(m.meter_id()), Encode(m));
}

void IndexKey(Overlay& state, const pb::MeterRecord& m) {
  state.Put(MeterKeyIndexKey(m.device_pubkey()), m.meter_id());
}

// Registers one meter for operator `op` (whose role the caller checked). `proof_checked`, when
// given, is set once the device's proof of possession is about to be verified.
Status RegisterOne(const pb::RegisterMeter& r, const Address& op, const BlockContext& ctx, Overlay& state,
                   bool* proof_checked = nullptr) {
  if (LoadMeter(state, r.meter_id())) {
    return Error(Code::kAlreadyExists, "meter '" + r.meter_id() + "' is already registered");
  }
  const bool ocmf = !r.ocmf_pubkey().empty();
  const std::string& key = ocmf ? r.ocmf_pubkey() : r.device_pubkey();
  V2G_RETURN_IF_ERROR(RequireUnusedKey(state, key));
  // The device's proof that it holds the key, for this meter, owner and operator: a signed
  // statement from a native device, a signed record carrying the statement's digest as its ID from
  // an OCMF meter (it signs nothing but records).
  uint32_t curve = 0;
  // The zone first: it costs a lookup, the proof a verification.
  V2G_RETURN_IF_ERROR(RequireZone(state, r.zone(), "register_meter").status());
  if (proof_checked) *proof_checked = true;
  if (ocmf) {
    V2G_RETURN_IF_ERROR(RequireOcmfProof(r, ctx, op, &curve));
  } else {
    V2G_RETURN_IF_ERROR(RequireProofOfPossession("register_meter", ctx, r.meter_id(), r.owner(), op,
                                                 r.device_pubkey(), r.device_signature()));
  }
  pb::MeterRecord m;
  m.set_meter_id(r.meter_id());
  m.set_device_pubkey(key);
  if (ocmf) {
    m.set_key_type(pb::METER_KEY_OCMF);
    m.mutable_ocmf()->set_meter_serial(r.ocmf_meter_serial());
    m.mutable_ocmf()->set_curve(curve);
  }
  m.set_kind(r.kind());
  m.set_zone(r.zone());
  m.set_owner(r.owner());
  m.set_operator_address(AddressBytes(op));
  m.set_max_import_w(r.max_import_w());
  m.set_max_export_w(r.max_export_w());
  m.set_battery_capacity_wh(r.battery_capacity_wh());
  m.set_active(true);
  m.set_registered_height(ctx.height);
  m.set_registered_time_ms(ctx.time_ms);
  StoreMeter(state, m);
  IndexKey(state, m);
  if (r.kind() == pb::METER_KIND_VEHICLE) {
    pb::BatteryRecord b;
    b.set_capacity_wh(r.battery_capacity_wh());
    b.set_last_sample_day(-1);
    state.Put(BatteryKey(r.meter_id()), Encode(b));
  }
  return Status::Ok();
}

Status RequireOperatorRole(const KvReader& state, const Address& signer) {
  if (!HasRole(state, "operator", signer)) {
    return Error(Code::kUnauthorized, EncodeAddress(signer) + " does not hold the operator role");
  }
  return Status::Ok();
}

Status ApplyRegister(const CheckedTx& tx, const BlockContext& ctx, Overlay& state) {
  V2G_RETURN_IF_ERROR(RequireOperatorRole(state, tx.signer));
  return RegisterOne(tx.body.register_meter(), tx.signer, ctx, state);
}

// Each meter registered or refused on its own, as a readings batch (ApplySubmitReadings): refusals
// are listed by index, and the tx fails when none is registered. At admission (BlockContext) a
// batch with nothing registered yet is refused whole at its first meter refused after its proof
// was verified, so a batch of forged proofs costs the pool one verification.
Status ApplyRegisterMeters(const CheckedTx& tx, const BlockContext& ctx, Overlay& state, pb::TxResult* result) {
  V2G_RETURN_IF_ERROR(RequireOperatorRole(state, tx.signer));
  const pb::RegisterMeters& batch = tx.body.register_meters();
  int accepted = 0;
  Status first_rejection;
  for (int i = 0; i < batch.meters_size(); ++i) {
    bool proof_checked = false;
    Status st = RegisterOne(batch.meters(i), tx.signer, ctx, state, &proof_checked);
    if (st.ok()) {
      ++accepted;
      continue;
    }
    if (ctx.admission && accepted == 0 && proof_checked) {
      return Error(st.code(), "meter " + std::to_string(i) + ": " + st.message() +
                                  "; a batch is refused at admission when the first meter that gets to its proof "
                                  "check is refused");
    }
    if (first_rejection.ok()) first_rejection = Error(st.code(), "meter " + std::to_string(i) + ": " + st.message());
    AddRejected(result, i, st);
  }
  if (accepted == 0) {
    return Error(first_rejection.code(), "no meter of the batch was registered; " + first_rejection.message());
  }
  if (result) {
    result->set_log(std::to_string(accepted) + " of " + std::to_string(batch.meters_size()) + " meters registered");
  }
  return Status::Ok();
}

Status ApplyRotate(const CheckedTx& tx, const BlockContext& ctx, Overlay& state) {
  const pb::RotateMeterKey& r = tx.body.rotate_meter_key();
  auto m = RequireActiveMeter(state, r.meter_id());
  if (!m.ok()) return m.status();
  V2G_RETURN_IF_ERROR(RequireOperator(state, *m, tx.signer, "rotate the key of"));
  if (m->key_type() == pb::METER_KEY_OCMF) {
    return Error(Code::kInvalidArgument, "meter '" + r.meter_id() + "' is an OCMF meter: its key is the certified "
                                         "meter's own; a new meter is registered as a new meter (deactivate this one)");
  }
  if (m->device_pubkey() == r.new_device_pubkey()) {
    return Error(Code::kInvalidArgument, "meter '" + r.meter_id() + "' already has that device key");
  }
  V2G_RETURN_IF_ERROR(RequireUnusedKey(state, r.new_device_pubkey()));
  V2G_RETURN_IF_ERROR(RequireProofOfPossession("rotate_meter_key", ctx, r.meter_id(), m->owner(), tx.signer,
                                               r.new_device_pubkey(), r.new_device_signature()));
  m->set_device_pubkey(r.new_device_pubkey());
  m->set_key_rotations(m->key_rotations() + 1);
  StoreMeter(state, *m);
  IndexKey(state, *m);  // the old key's entry stays: it is never reused
  return Status::Ok();
}

// What binds a meter to its current owner until settled: a transfer is refused while any is open
// (moving them would pay the new owner for the old owner's promises, or the reverse). Program
// memberships are not promises (nothing is owed if the meter does nothing) and last up to a year:
// they move to the new owner instead (MoveProgramMemberships), as does a tariff enrollment (bills
// go to the meter's owner when an interval settles; with every attested interval settled, the new
// owner is billed only for its own use).
Status RequireNoOpenObligations(const KvReader& state, const pb::MeterRecord& m, const pb::ParamsRecord& p,
                                int64_t now_ms) {
  const std::string& meter_id = m.meter_id();
  std::vector<std::string> open;  // what the error names, at most kMeterObligationsListed
  // The times the list names, as fields of the message ("{t0}", "{t1}", ...).
  std::vector<TextField> times;
  auto at = [&times](int64_t s) {
    const std::string name = "t" + std::to_string(times.size());
    times.push_back({name, TextField::Kind::kTime, s, ""});
    return "{" + name + "}";
  };
  // Attested energy the grid pass has not settled yet: its tariff bill, feed-in and program pay go
  // to whoever owns the meter when it settles, so it must still be the owner who used it.
  const int64_t settled_before = GridSettledBefore(state);
  // The end (seconds, exclusive) of the last reading's span: native, or an OCMF meter's newest point.
  int64_t last_end_s = 0;
  if (m.has_last_reading()) last_end_s = m.last_reading().interval_end_s();
  if (m.ocmf().last_time_ms() > 0) last_end_s = (m.ocmf().last_time_ms() + 999) / 1000;
  if (last_end_s > 0 && settled_before > 0) {
    const int64_t last = SettlementIntervalStart(last_end_s - 1, p.settlement_interval_s());
    if (last >= settled_before) open.push_back("readings for the interval starting " + at(last) + " not yet settled");
  }
  // Energy a charger attested for the meter (corroboration) may sit in an interval its own readings
  // never reached: look at every interval from the first unsettled one to now. Normally a few (the
  // grace over the length); a grid pass far behind (more than kUnsettledIntervalsChecked) counts as
  // open too rather than scanning without bound.
  if (settled_before > 0 && open.empty()) {
    const int64_t len = p.settlement_interval_s();
    const int64_t now_interval = SettlementIntervalStart(std::max<int64_t>(now_ms, 0) / 1000, len);
    constexpr int kUnsettledIntervalsChecked = 64;
    int checked = 0;
    for (int64_t t = settled_before; t <= now_interval; t += len) {
      if (++checked > kUnsettledIntervalsChecked) {
        open.push_back("grid services still settling the intervals from " + at(settled_before));
        break;
      }
      if (LoadMeterInterval(state, meter_id, t)) {
        open.push_back("attested energy in the interval starting " + at(t) + " not yet settled");
        break;
      }
    }
  }
  if (auto pool = PoolOfMeter(state, meter_id)) open.push_back("pool " + std::to_string(*pool));
  for (uint64_t e : OpenEventsOfMeter(state, meter_id)) open.push_back("event " + std::to_string(e));
  size_t sells = 0;
  for (int64_t interval : OpenCommitmentIntervals(state, meter_id, limits::kMeterObligationsListed, &sells)) {
    open.push_back("sells for the interval starting " + at(interval));
  }
  const size_t total = open.size() - std::min(sells, limits::kMeterObligationsListed) + sells;
  if (total == 0) return Status::Ok();
  const size_t listed = std::min(open.size(), limits::kMeterObligationsListed);
  std::string list;
  for (size_t i = 0; i < listed; ++i) list += (i ? ", " : "") + open[i];
  if (total > listed) list += ", and " + std::to_string(total - listed) + " more";
  return Error(Code::kMeterBusy, Text("meter '" + std::string(meter_id) + "' cannot change owner while it has " +
                                          std::to_string(total) + " open obligation(s): " + list +
                                          " (leave the pool; let the events, sells and attested intervals settle first)",
                                      std::move(times)));
}

Status ApplyTransfer(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& p, Overlay& state) {
  const pb::TransferMeter& t = tx.body.transfer_meter();
  auto m = RequireActiveMeter(state, t.meter_id());
  if (!m.ok()) return m.status();
  if (m->owner() != AddressBytes(tx.signer)) {
    return Error(Code::kUnauthorized, EncodeAddress(tx.signer) + " does not own meter '" + t.meter_id() + "'");
  }
  PublicKey new_pk;
  std::copy(t.new_owner_pubkey().begin(), t.new_owner_pubkey().end(), new_pk.begin());
  const std::string to = AddressBytes(AddressFromPublicKey(new_pk));
  if (to == m->owner()) return Error(Code::kInvalidArgument, "meter '" + t.meter_id() + "' already belongs to that owner");
  V2G_RETURN_IF_ERROR(RequireNoOpenObligations(state, *m, p, ctx.time_ms));
  // The new owner's consent: without it anyone could push a meter (and what it attests) onto an
  // account that never asked for it.
  const std::string msg = MeterTransferSignBytes(ctx.chain_id, t.meter_id(), m->owner(), to, tx.body.nonce());
  if (!VerifyRawCached(t.new_owner_pubkey(), msg, t.new_owner_signature())) {
    return Error(Code::kBadSignature, "the new owner's co-signature does not verify over the transfer of meter '" +
                                          t.meter_id() + "' at nonce " + std::to_string(tx.body.nonce()));
  }
  m->set_owner(to);
  // From the first interval not settled on: every earlier one was settled for the previous owner
  // (RequireNoOpenObligations), every later one is billed and paid to the new one.
  const int64_t len = p.settlement_interval_s();
  const int64_t settled_before = GridSettledBefore(state);
  m->set_owner_from_s(settled_before > 0
                          ? settled_before
                          : SettlementIntervalStart(std::max<int64_t>(ctx.time_ms, 0) / 1000, len) +
                                len);
  StoreMeter(state, *m);
  MoveProgramMemberships(state, t.meter_id(), to);
  return Status::Ok();
}

Status ApplyDeactivate(const CheckedTx& tx, const BlockContext& ctx, Overlay& state) {
  const pb::DeactivateMeter& d = tx.body.deactivate_meter();
  auto m = RequireActiveMeter(state, d.meter_id());
  if (!m.ok()) return m.status();
  V2G_RETURN_IF_ERROR(RequireOperator(state, *m, tx.signer, "deactivate"));
  m->set_active(false);
  m->set_deactivated_height(std::max<int64_t>(ctx.height, 1));
  StoreMeter(state, *m);
  return Status::Ok();
}

// Most energy a meter with `max_w` can move in `span_s` seconds, with the tolerance:
// floor(max_w * span_s * (1000 + permille) / 3,600,000) + tolerance_wh, saturating at int64 max.
// Rounding: down, then the absolute tolerance absorbs the register's whole-Wh quantisation.
int64_t EnergyLimitWh(int64_t max_w, int64_t span_s, const pb::ParamsRecord& p) {
  V2G_ASSERT(max_w >= 0 && span_s >= 0);
  Int128 v = static_cast<Int128>(max_w) * span_s * (1000 + p.reading_energy_tolerance_permille()) / 3'600'000 +
             p.reading_energy_tolerance_wh();
  if (v > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(v);
}

Status CheckReadingFields(const pb::MeterReading& r, const pb::ParamsRecord& p, int64_t now_ms) {
  if (r.soc_permille() < 0 || r.soc_permille() > 1000 || r.soh_permille() < 0 || r.soh_permille() > 1000) {
    return Error(Code::kReadingOutOfRange, "soc " + Num(r.soc_permille()) + " / soh " + Num(r.soh_permille()) +
                                               " permille outside 0..1000");
  }
  if (r.import_wh_total() < 0 || r.export_wh_total() < 0) {
    return Error(Code::kReadingOutOfRange, "a register is negative");
  }
  if (r.interval_start_s() < 0 || r.interval_end_s() <= r.interval_start_s()) {
    return Error(Code::kReadingIntervalInvalid, Text("interval [{start}, {end}) is empty or before 1970")
                                                    .Time("start", r.interval_start_s())
                                                    .Time("end", r.interval_end_s()));
  }
  const int64_t s = p.settlement_interval_s();
  if (SettlementIntervalStart(r.interval_start_s(), s) != SettlementIntervalStart(r.interval_end_s() - 1, s)) {
    return Error(Code::kReadingCrossesBoundary, Text("interval [{start}, {end}) crosses the boundary of the " +
                                                     DurationWords(s) + " settlement intervals at {boundary}")
                                                    .Time("start", r.interval_start_s())
                                                    .Time("end", r.interval_end_s())
                                                    .Time("boundary", SettlementIntervalStart(r.interval_start_s(), s) + s));
  }
  if (static_cast<Int128>(r.interval_end_s()) * 1000 > static_cast<Int128>(now_ms) + p.reading_future_skew_s() * 1000) {
    return Error(Code::kReadingInFuture, Text("interval ends at {end}, after the block time {now} (allowed skew " +
                                              DurationWords(p.reading_future_skew_s()) + ")")
                                             .Time("end", r.interval_end_s())
                                             .Time("now", now_ms / 1000));
  }
  return Status::Ok();
}

Status CheckReadingOrder(const pb::MeterReading& r, const pb::MeterRecord& m, const pb::ParamsRecord& p) {
  const bool has_last = m.has_last_reading();
  const pb::MeterReading& last = m.last_reading();  // default instance: seq 0, registers 0
  if (r.seq() <= last.seq()) {
    return Error(Code::kReadingReplayed, "seq " + std::to_string(r.seq()) + " already used; next is " +
                                             std::to_string(last.seq() + 1));
  }
  if (r.seq() != last.seq() + 1) {
    return Error(Code::kReadingSeqGap, "seq " + std::to_string(r.seq()) + " skips ahead; next is " +
                                           std::to_string(last.seq() + 1));
  }
  if (!has_last) return Status::Ok();  // the baseline: nothing to compare with
  if (r.interval_start_s() < last.interval_end_s()) {
    return Error(Code::kReadingOverlap, Text("interval starts at {start}, before the last reading ended ({last_end})")
                                            .Time("start", r.interval_start_s())
                                            .Time("last_end", last.interval_end_s()));
  }
  if (r.import_wh_total() < last.import_wh_total() || r.export_wh_total() < last.export_wh_total()) {
    return Error(Code::kReadingRegisterDecreased,
                 "registers went from import " + Num(last.import_wh_total()) + " / export " +
                     Num(last.export_wh_total()) + " Wh to " + Num(r.import_wh_total()) + " / " +
                     Num(r.export_wh_total()) + " Wh");
  }
  const int64_t span_s = r.interval_end_s() - last.interval_end_s();
  const int64_t imp = r.import_wh_total() - last.import_wh_total();
  const int64_t exp = r.export_wh_total() - last.export_wh_total();
  const int64_t imp_max = EnergyLimitWh(m.max_import_w(), span_s, p);
  const int64_t exp_max = EnergyLimitWh(m.max_export_w(), span_s, p);
  if (imp > imp_max || exp > exp_max) {
    return Error(Code::kReadingEnergyImpossible,
                 "import " + Num(imp) + " Wh / export " + Num(exp) + " Wh in " + DurationWords(span_s) +
                     " exceeds the meter's limits of " + Num(imp_max) + " / " + Num(exp_max) + " Wh");
  }
  return Status::Ok();
}

// The per-interval bound: what a reading adds to its settlement interval, with what the interval
// already holds, is at most max power x (reading end - start of the interval's first attributed
// span) + the tolerance, counted once per interval. The per-reading bound alone let a meter sending 1-second readings claim the
// absolute tolerance on every one. Applies only where the deltas are attributed to the interval
// (AcceptReading); the per-reading bound still covers unattributed spans.
Status CheckIntervalEnergy(const pb::MeterReading& r, const pb::MeterRecord& m, const pb::ParamsRecord& p,
                           const KvReader& state) {
  if (!m.has_last_reading()) return Status::Ok();  // the baseline attests nothing
  const pb::MeterReading& last = m.last_reading();
  const int64_t len = p.settlement_interval_s();
  const int64_t interval = SettlementIntervalStart(r.interval_start_s(), len);
  if (SettlementIntervalStart(last.interval_end_s(), len) != interval) return Status::Ok();
  auto stored = LoadMeterInterval(state, r.meter_id(), interval);
  const pb::MeterIntervalRecord rec = stored.value_or(pb::MeterIntervalRecord());
  // Everything attributed to the interval lies in [first span's start, this reading's end): the
  // bound runs from there, not from the interval's start, or a meter silent until late in the
  // interval could still pack the whole interval's allowance into its last seconds.
  // A record may exist before the meter's own first attributed span (a vehicle's, written by a
  // charger naming it); span_start_s is set by the first own span, counted in readings.
  const int64_t from_s = stored && rec.readings() > 0 ? rec.span_start_s() : last.interval_end_s();
  // Registers and interval sums are bounded by int64 registers; Int128 keeps the sums exact.
  const Int128 imp = static_cast<Int128>(rec.import_wh()) + (r.import_wh_total() - last.import_wh_total());
  const Int128 exp = static_cast<Int128>(rec.export_wh()) + (r.export_wh_total() - last.export_wh_total());
  const int64_t span_s = r.interval_end_s() - from_s;
  const int64_t imp_max = EnergyLimitWh(m.max_import_w(), span_s, p);
  const int64_t exp_max = EnergyLimitWh(m.max_export_w(), span_s, p);
  if (imp > imp_max || exp > exp_max) {
    return Error(Code::kReadingEnergyImpossible,
                 Text("the interval starting {interval} would hold import " + Num(static_cast<int64_t>(imp)) +
                      " / export " + Num(static_cast<int64_t>(exp)) + " Wh, more than the meter's " + Num(imp_max) +
                      " / " + Num(exp_max) + " Wh in the " + DurationWords(span_s) +
                      " from its first attributed span to the reading's end")
                     .Time("interval", interval));
  }
  return Status::Ok();
}

// Rule 16: a vehicle's own reading names nobody (its owner holds its key: a vehicle could
// otherwise corroborate another), nor does a site meter; a charger names only a registered, active
// vehicle in its own zone (corroboration across zones would let one zone's market pay for another's energy).
Status CheckPluggedMeter(const pb::MeterReading& r, const pb::MeterRecord& m, const KvReader& state) {
  const std::string& v = r.plugged_meter_id();
  if (v.empty()) return Status::Ok();
  const std::string what = "plugged_meter_id of meter '" + r.meter_id() + "'";
  if (m.kind() == pb::METER_KIND_VEHICLE) {
    return Error(Code::kReadingPluggedMeterInvalid, what + ": a vehicle's own reading cannot name a plugged meter");
  }
  // A site meter measures a whole connection (the building, other cars): lending all of it to one
  // car would pay that car's owner for energy others moved. Only a charger's point of connection
  // is one car's.
  if (m.kind() != pb::METER_KIND_CHARGER) {
    return Error(Code::kReadingPluggedMeterInvalid, what + ": only a charger names the vehicle plugged into it, "
                                                           "not a " + std::string(MeterKindName(m.kind())) + " meter");
  }
  // Not echoed when invalid: it could be anything up to the tx size.
  if (!ValidMeterId(v)) return Error(Code::kReadingPluggedMeterInvalid, what + " is not a valid meter id");
  auto vm = LoadMeter(state, v);
  if (!vm) return Error(Code::kReadingPluggedMeterInvalid, what + ": no meter '" + v + "' is registered");
  if (!vm->active()) return Error(Code::kReadingPluggedMeterInvalid, what + ": meter '" + v + "' is deactivated");
  if (vm->kind() != pb::METER_KIND_VEHICLE) {
    return Error(Code::kReadingPluggedMeterInvalid, what + ": meter '" + v + "' is a " +
                                                        std::string(MeterKindName(vm->kind())) + ", not a vehicle");
  }
  if (vm->zone() != m.zone()) {
    return Error(Code::kReadingPluggedMeterInvalid, what + ": vehicle '" + v + "' is in zone " + vm->zone() +
                                                        ", the meter in " + m.zone());
  }
  return Status::Ok();
}

// Adds a charger / site reading's attributed deltas to the record of the vehicle it names.
void Corroborate(const std::string& vehicle_id, int64_t interval, int64_t imp, int64_t exp, Overlay& state) {
  V2G_ASSERT(imp >= 0 && exp >= 0);
  auto stored = LoadMeterInterval(state, vehicle_id, interval);
  pb::MeterIntervalRecord rec = stored.value_or(pb::MeterIntervalRecord());
  // span_start_s and readings stay as they are: they belong to the vehicle's own readings (rule 15).
  rec.set_interval_start_s(interval);
  auto i = CheckedAdd(rec.corroborated_import_wh(), imp);
  auto e = CheckedAdd(rec.corroborated_export_wh(), exp);
  V2G_ASSERT(i && e);  // sums of deltas of int64 registers of the chargers naming it
  rec.set_corroborated_import_wh(*i);
  rec.set_corroborated_export_wh(*e);
  state.Put(MeterIntervalKey(vehicle_id, interval), Encode(rec));
}

// Battery bookkeeping of an accepted vehicle reading. `imp`/`exp` are the register deltas (0 for
// the baseline reading).
void UpdateBattery(const pb::MeterReading& r, int64_t imp, int64_t exp, Overlay& state) {
  auto b = LoadBattery(state, r.meter_id());
  V2G_ASSERT(b.has_value());  // written at registration for every vehicle
  auto imp_total = CheckedAdd(b->import_wh(), imp);
  auto exp_total = CheckedAdd(b->export_wh(), exp);
  // Cumulative deltas are at most the current register (an int64), so these cannot overflow.
  V2G_ASSERT(imp_total && exp_total);
  b->set_import_wh(*imp_total);
  b->set_export_wh(*exp_total);
  auto cycles = MulDivFloor(*exp_total, 1000, b->capacity_wh());
  V2G_ASSERT(cycles.has_value());  // capacity >= 1000 Wh, so cycles_milli <= export_wh
  b->set_cycles_milli(*cycles);
  b->set_last_soc_permille(r.soc_permille());
  b->set_last_soh_permille(r.soh_permille());
  const int64_t day = r.interval_start_s() / kSecondsPerDay;
  V2G_ASSERT(day >= b->last_sample_day());  // readings move forward in time
  if (day != b->last_sample_day()) {
    // One sample per day (the day's first reading) keeps the history small whatever the rate.
    pb::BatteryHistory h = LoadBatteryHistory(state, r.meter_id());
    pb::SohSample* s = h.add_samples();
    s->set_day(day);
    s->set_soh_permille(r.soh_permille());
    s->set_soc_permille(r.soc_permille());
    s->set_export_wh(b->export_wh());
    s->set_cycles_milli(b->cycles_milli());
    if (h.samples_size() > limits::kBatterySamplesMax) h.mutable_samples()->DeleteSubrange(0, 1);
    V2G_ASSERT(h.samples_size() <= limits::kBatterySamplesMax);
    state.Put(BatteryHistoryKey(r.meter_id()), Encode(h));
    b->set_last_sample_day(day);
  }
  state.Put(BatteryKey(r.meter_id()), Encode(*b));
}

// Applies a reading that passed CheckReading.
void AcceptReading(const pb::MeterReading& r, pb::MeterRecord m, const pb::ParamsRecord& p, Overlay& state) {
  int64_t imp = 0, exp = 0;
  if (m.has_last_reading()) {
    const pb::MeterReading& last = m.last_reading();
    imp = r.import_wh_total() - last.import_wh_total();
    exp = r.export_wh_total() - last.export_wh_total();
    V2G_ASSERT(imp >= 0 && exp >= 0);
    const int64_t s = p.settlement_interval_s();
    const int64_t interval = SettlementIntervalStart(r.interval_start_s(), s);
    // The deltas cover [last end, this end): attested to the interval only if all of it is there.
    if (SettlementIntervalStart(last.interval_end_s(), s) == interval) {
      auto stored = LoadMeterInterval(state, r.meter_id(), interval);
      pb::MeterIntervalRecord rec = stored.value_or(pb::MeterIntervalRecord());
      if (rec.readings() == 0) rec.set_span_start_s(last.interval_end_s());
      rec.set_interval_start_s(interval);
      auto i = CheckedAdd(rec.import_wh(), imp);
      auto e = CheckedAdd(rec.export_wh(), exp);
      V2G_ASSERT(i && e);  // bounded by the registers
      rec.set_import_wh(*i);
      rec.set_export_wh(*e);
      rec.set_readings(rec.readings() + 1);
      if (!r.plugged_meter_id().empty()) {
        // Lent, not this meter's own: counted for money through the vehicle only.
        rec.set_lent_import_wh(rec.lent_import_wh() + imp);
        rec.set_lent_export_wh(rec.lent_export_wh() + exp);
        V2G_ASSERT(rec.lent_import_wh() <= rec.import_wh() && rec.lent_export_wh() <= rec.export_wh());
        Corroborate(r.plugged_meter_id(), interval, imp, exp, state);
      }
      state.Put(MeterIntervalKey(r.meter_id(), interval), Encode(rec));
    } else {
      auto i = CheckedAdd(m.unattributed_import_wh(), imp);
      auto e = CheckedAdd(m.unattributed_export_wh(), exp);
      V2G_ASSERT(i && e);
      m.set_unattributed_import_wh(*i);
      m.set_unattributed_export_wh(*e);
    }
  }
  if (m.kind() == pb::METER_KIND_VEHICLE) UpdateBattery(r, imp, exp, state);
  *m.mutable_last_reading() = r;
  m.set_readings_accepted(m.readings_accepted() + 1);
  StoreMeter(state, m);
}

Status ApplySubmitReadings(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& p,
                           Overlay& state, pb::TxResult* result) {
  const pb::SubmitReadings& batch = tx.body.submit_readings();
  if (p.settlement_interval_s() <= 0) {
    return Error(Code::kInvalidArgument, "meters are not enabled on this chain (no settlement_interval_s param)");
  }
  int accepted = 0;
  Status first_rejection;
  for (int i = 0; i < batch.readings_size(); ++i) {
    const pb::MeterReading& r = batch.readings(i);
    std::optional<pb::MeterRecord> m;
    if (ValidMeterId(r.meter_id())) m = LoadMeter(state, r.meter_id());
    bool signature_checked = false;
    Status st = CheckReading(r, m, ctx.chain_id, p, ctx.time_ms, &signature_checked);
    if (st.ok()) st = CheckIntervalEnergy(r, *m, p, state);
    if (st.ok()) st = CheckPluggedMeter(r, *m, state);
    if (st.ok()) {
      AcceptReading(r, std::move(*m), p, state);
      ++accepted;
      continue;
    }
    if (ctx.admission && accepted == 0 && signature_checked) {
      // At admission a refused batch pays nothing, so it may cost at most one verification: a
      // batch whose first reading past the cheap checks is refused is refused whole (BlockContext).
      return Error(st.code(), "reading " + std::to_string(i) + ": " + st.message() +
                                  "; a batch is refused at admission when the first reading that gets to its "
                                  "signature check is refused");
    }
    if (first_rejection.ok()) first_rejection = Error(st.code(), "reading " + std::to_string(i) + ": " + st.message());
    AddRejected(result, i, st);
  }
  // A batch that brings nothing fails (at admission, so it never reaches a block): otherwise its
  // verification work and its place in a block would cost the sender nothing (docs/DESIGN.md
  // "The cost of state").
  if (accepted == 0) {
    return Error(first_rejection.code(), "no reading of the batch was accepted; " + first_rejection.message());
  }
  if (result) {
    result->set_log(std::to_string(accepted) + " of " + std::to_string(batch.readings_size()) +
                    " readings accepted");
  }
  return Status::Ok();
}

}  // namespace

std::string MeterKey(std::string_view id) { return std::string(kMeterPrefix) + std::string(id); }
std::string MeterIntervalPrefix(std::string_view id) {
  return std::string(kMeterIntervalPrefix) + std::string(id) + "/";
}
std::string MeterIntervalKey(std::string_view id, int64_t interval_start_s) {
  V2G_ASSERT(interval_start_s >= 0);
  std::string k = MeterIntervalPrefix(id);
  AppendBigEndian64(k, static_cast<uint64_t>(interval_start_s));
  return k;
}
std::string BatteryKey(std::string_view id) { return std::string(kBatteryPrefix) + std::string(id); }
std::string BatteryHistoryKey(std::string_view id) { return std::string(kBatteryHistoryPrefix) + std::string(id); }

std::optional<pb::MeterRecord> LoadMeter(const KvReader& kv, std::string_view id) {
  auto v = kv.Get(MeterKey(id));
  if (!v) return std::nullopt;
  auto m = DecodeRecord<pb::MeterRecord>(*v);
  V2G_ASSERT(m.meter_id() == id);
  return m;
}

std::optional<pb::MeterIntervalRecord> LoadMeterInterval(const KvReader& kv, std::string_view id,
                                                         int64_t interval_start_s) {
  auto v = kv.Get(MeterIntervalKey(id, interval_start_s));
  if (!v) return std::nullopt;
  return DecodeRecord<pb::MeterIntervalRecord>(*v);
}

std::optional<pb::BatteryRecord> LoadBattery(const KvReader& kv, std::string_view id) {
  auto v = kv.Get(BatteryKey(id));
  if (!v) return std::nullopt;
  return DecodeRecord<pb::BatteryRecord>(*v);
}

pb::BatteryHistory LoadBatteryHistory(const KvReader& kv, std::string_view id) {
  auto v = kv.Get(BatteryHistoryKey(id));
  if (!v) return {};
  return DecodeRecord<pb::BatteryHistory>(*v);
}

Result<pb::MeterRecord> RequireOwnedMeter(const KvReader& kv, std::string_view id, const Address& who) {
  auto m = LoadMeter(kv, id);
  if (!m) return Error(Code::kMeterUnregistered, "no meter '" + std::string(id) + "' is registered");
  if (!m->active()) return Error(Code::kMeterDeactivated, "meter '" + std::string(id) + "' is deactivated");
  if (m->owner() != AddressBytes(who)) {
    return Error(Code::kUnauthorized, "meter '" + std::string(id) + "' belongs to " + EncodeAddress(StoredAddress(m->owner())) +
                                          ", not to " + EncodeAddress(who));
  }
  return *m;
}

bool ValidMeterId(std::string_view id) { return IdChars(id, limits::kMeterIdMax, true); }

std::string_view PersonalIdForm(std::string_view id) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto to_upper = [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; };
  // VIN (ISO 3779, GB 16735): 17 of 0-9 and A-Z without I, O and Q, letters and digits both, on
  // its own or between separators ("ev-LSVAU2180N2183294"). Printed in upper case it is taken as
  // one; in lower case only when its check digit (position 9, ISO 3779 / GB 16735) holds, so an
  // operator's "shenzhenchargers1" is not.
  auto vin_char = [&](char c) {
    const char u = to_upper(c);
    return digit(u) || (upper(u) && u != 'I' && u != 'O' && u != 'Q');
  };
  auto check_digit_holds = [&](std::string_view v) {
    static const int kWeights[17] = {8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2};
    static const int kLetters[26] = {1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4, 5, 0, 7, 0, 9, 2, 3, 4, 5, 6, 7, 8, 9};
    int sum = 0;
    for (size_t i = 0; i < 17; ++i) {
      const char u = to_upper(v[i]);
      sum += kWeights[i] * (digit(u) ? u - '0' : kLetters[u - 'A']);
    }
    const int r = sum % 11;
    const char check = to_upper(v[8]);
    return r == 10 ? check == 'X' : check == static_cast<char>('0' + r);
  };
  for (size_t b = 0; b < id.size();) {
    size_t e = b;
    while (e < id.size() && id[e] != '-' && id[e] != '.' && id[e] != '_' && id[e] != ':') ++e;
    const std::string_view run = id.substr(b, e - b);
    if (run.size() == 17 && std::all_of(run.begin(), run.end(), vin_char) &&
        std::any_of(run.begin(), run.end(), digit) && !std::all_of(run.begin(), run.end(), digit) &&
        (std::all_of(run.begin(), run.end(), [&](char c) { return !(c >= 'a' && c <= 'z'); }) ||
         check_digit_holds(run))) {
      return "a vehicle identification number (VIN)";
    }
    b = e + 1;
  }
  // A Chinese plate (GA 36-2018) after its province character (not ASCII, so never in an id):
  // the authority letter and 5 characters (6 for new-energy vehicles, D or F first or last), of
  // 0-9 and A-Z without I and O, as printed: upper case, no separator, mostly digits.
  auto plate_char = [&](char c) { return digit(c) || (upper(c) && c != 'I' && c != 'O'); };
  if ((id.size() == 6 || id.size() == 7) && upper(id[0]) && id[0] != 'I' && id[0] != 'O' &&
      std::all_of(id.begin() + 1, id.end(), plate_char)) {
    const auto digits = std::count_if(id.begin(), id.end(), digit);
    const bool new_energy = id.size() == 7 && (id[1] == 'D' || id[1] == 'F' || id[6] == 'D' || id[6] == 'F');
    if ((id.size() == 6 && digits >= 3) || (new_energy && digits >= 4)) return "a licence plate";
  }
  return "";
}
bool ValidZone(std::string_view zone) { return IdChars(zone, limits::kZoneMax, false); }

std::string_view MeterKindName(pb::MeterKind kind) {
  switch (kind) {
    case pb::METER_KIND_CHARGER: return "charger";
    case pb::METER_KIND_VEHICLE: return "vehicle";
    case pb::METER_KIND_SITE: return "site";
    default: return "unknown";
  }
}

std::optional<pb::MeterKind> ParseMeterKind(std::string_view name) {
  if (name == "charger") return pb::METER_KIND_CHARGER;
  if (name == "vehicle") return pb::METER_KIND_VEHICLE;
  if (name == "site") return pb::METER_KIND_SITE;
  return std::nullopt;
}

void AddRejected(pb::TxResult* result, int index, const Status& st) {
  if (!result) return;
  pb::RejectedReading* rej = result->add_rejected_readings();
  rej->set_index(static_cast<uint32_t>(index));
  SetRefusal(rej, st);
}

ReadingFields ReadingFieldsOf(const pb::MeterReading& r) {
  ReadingFields f;
  f.meter_id = r.meter_id();
  f.seq = r.seq();
  f.interval_start_s = r.interval_start_s();
  f.interval_end_s = r.interval_end_s();
  f.import_wh_total = r.import_wh_total();
  f.export_wh_total = r.export_wh_total();
  f.soc_permille = r.soc_permille();
  f.soh_permille = r.soh_permille();
  f.plugged_meter_id = r.plugged_meter_id();
  return f;
}

int64_t PayableExportWh(const pb::MeterRecord& m, const pb::MeterIntervalRecord* rec) {
  if (!rec) return 0;
  V2G_ASSERT(rec->lent_export_wh() >= 0 && rec->lent_export_wh() <= rec->export_wh());
  if (m.kind() == pb::METER_KIND_VEHICLE) return std::min(rec->export_wh(), rec->corroborated_export_wh());
  return rec->export_wh() - rec->lent_export_wh();
}

int64_t PayableImportWh(const pb::MeterRecord& m, const pb::MeterIntervalRecord* rec) {
  if (!rec) return 0;
  V2G_ASSERT(rec->lent_import_wh() >= 0 && rec->lent_import_wh() <= rec->import_wh());
  if (m.kind() == pb::METER_KIND_VEHICLE) return std::min(rec->import_wh(), rec->corroborated_import_wh());
  return rec->import_wh() - rec->lent_import_wh();
}

int64_t BillableImportWh(const pb::MeterRecord& m, const pb::MeterIntervalRecord* rec) {
  if (!rec) return 0;
  V2G_ASSERT(rec->lent_import_wh() >= 0 && rec->lent_import_wh() <= rec->import_wh());
  if (m.kind() == pb::METER_KIND_VEHICLE) return std::max(rec->import_wh(), rec->corroborated_import_wh());
  return rec->import_wh() - rec->lent_import_wh();
}

IntervalMoneyEnergy LoadIntervalMoneyEnergy(const KvReader& kv, std::string_view meter_id, int64_t interval_start_s) {
  IntervalMoneyEnergy e;
  auto m = LoadMeter(kv, meter_id);
  if (!m) return e;
  auto rec = LoadMeterInterval(kv, meter_id, interval_start_s);
  if (!rec) return e;
  e.attested = true;
  e.payable_export_wh = PayableExportWh(*m, &*rec);
  e.payable_import_wh = PayableImportWh(*m, &*rec);
  e.billable_import_wh = BillableImportWh(*m, &*rec);
  V2G_ASSERT(e.payable_export_wh >= 0 && e.payable_import_wh >= 0 && e.payable_import_wh <= e.billable_import_wh);
  return e;
}

bool IsMeterOp(pb::TxBody::OpCase op) {
  return op == pb::TxBody::kRegisterMeter || op == pb::TxBody::kRegisterMeters || op == pb::TxBody::kRotateMeterKey ||
         op == pb::TxBody::kTransferMeter || op == pb::TxBody::kDeactivateMeter ||
         op == pb::TxBody::kSubmitReadings || op == pb::TxBody::kSubmitOcmf;
}

Status CheckMeterOp(const pb::TxBody& body) {
  switch (body.op_case()) {
    case pb::TxBody::kRegisterMeter:
      return CheckRegister(body.register_meter());
    case pb::TxBody::kRegisterMeters: {
      const auto& meters = body.register_meters().meters();
      if (meters.empty()) return Error(Code::kInvalidArgument, "register_meters carries no meters");
      if (meters.size() > limits::kMetersPerTxMax) {
        return Error(Code::kTooLarge, "register_meters carries " + std::to_string(meters.size()) + " meters, limit " +
                                          std::to_string(limits::kMetersPerTxMax));
      }
      // A malformed meter is the client's mistake, not a state-dependent refusal: the whole tx.
      for (int i = 0; i < meters.size(); ++i) {
        Status st = CheckRegister(meters.Get(i));
        if (!st.ok()) return Error(st.code(), "register_meters meter " + std::to_string(i) + ": " + st.message());
      }
      return Status::Ok();
    }
    case pb::TxBody::kRotateMeterKey:
      V2G_RETURN_IF_ERROR(CheckIdField("rotate_meter_key", body.rotate_meter_key().meter_id()));
      V2G_RETURN_IF_ERROR(
          CheckPubkeyField("rotate_meter_key new_device_pubkey", body.rotate_meter_key().new_device_pubkey()));
      if (body.rotate_meter_key().new_device_signature().size() != kSignatureBytes) {
        return Error(Code::kInvalidArgument, "rotate_meter_key new_device_signature (the new device's proof that it "
                                             "holds the key) must be 64 bytes");
      }
      return Status::Ok();
    case pb::TxBody::kTransferMeter: {
      const auto& t = body.transfer_meter();
      V2G_RETURN_IF_ERROR(CheckIdField("transfer_meter", t.meter_id()));
      V2G_RETURN_IF_ERROR(CheckPubkeyField("transfer_meter new_owner_pubkey", t.new_owner_pubkey()));
      if (t.new_owner_signature().size() != kSignatureBytes) {
        return Error(Code::kInvalidArgument, "transfer_meter new_owner_signature must be 64 bytes");
      }
      return Status::Ok();
    }
    case pb::TxBody::kDeactivateMeter:
      return CheckIdField("deactivate_meter", body.deactivate_meter().meter_id());
    case pb::TxBody::kSubmitOcmf:
      return CheckSubmitOcmf(body.submit_ocmf());
    case pb::TxBody::kSubmitReadings: {
      const int n = body.submit_readings().readings_size();
      if (n == 0) return Error(Code::kInvalidArgument, "submit_readings carries no readings");
      if (n > limits::kReadingsPerTxMax) {
        return Error(Code::kTooLarge, "submit_readings carries " + std::to_string(n) + " readings, limit " +
                                          std::to_string(limits::kReadingsPerTxMax));
      }
      return Status::Ok();
    }
    default:
      break;
  }
  V2G_ASSERT(!IsMeterOp(body.op_case()));
  return Error(Code::kInvalidArgument, "not a meter operation");
}

void WarmReadingSignatures(const pb::TxBody& body, const KvReader& state, std::string_view chain_id,
                           const Address& signer) {
  if (body.op_case() == pb::TxBody::kRegisterMeters) {
    // The native devices' proofs of possession, only for an operator and only past the checks
    // RegisterOne makes before the proof, so nobody gets verifications the tx would not pay for.
    // (OCMF proofs are cached too, by VerifyRecordCached, but not warmed: ECDSA, verified under
    // the locks, as for SubmitOcmf.)
    if (!HasRole(state, "operator", signer)) return;
    bool any_verified = false;
    for (const pb::RegisterMeter& r : body.register_meters().meters()) {
      if (!r.ocmf_pubkey().empty() || LoadMeter(state, r.meter_id())) continue;
      if (state.Get(MeterKeyIndexKey(r.device_pubkey())) || !RequireZone(state, r.zone(), "").ok()) continue;
      const std::string msg = MeterKeySignBytes(chain_id, r.meter_id(), r.owner(), AddressBytes(signer));
      const bool ok = VerifyRawCached(r.device_pubkey(), msg, r.device_signature());
      if (!ok && !any_verified) return;
      any_verified |= ok;
    }
    return;
  }
  if (body.op_case() != pb::TxBody::kSubmitReadings) return;
  bool any_verified = false;
  for (const pb::MeterReading& r : body.submit_readings().readings()) {
    if (!ValidMeterId(r.meter_id())) continue;
    auto m = LoadMeter(state, r.meter_id());
    if (!m || !m->active() || m->key_type() == pb::METER_KEY_OCMF) continue;
    const bool ok = VerifyRawCached(m->device_pubkey(), ReadingSignBytes(chain_id, ReadingFieldsOf(r)), r.signature());
    if (!ok && !any_verified) return;
    any_verified |= ok;
  }
}

Status CheckReading(const pb::MeterReading& r, const std::optional<pb::MeterRecord>& meter,
                    std::string_view chain_id, const pb::ParamsRecord& params, int64_t now_ms,
                    bool* signature_checked) {
  V2G_ASSERT(params.settlement_interval_s() > 0);
  V2G_RETURN_IF_ERROR(CheckReadingFields(r, params, now_ms));
  if (!meter) {
    // An invalid id is not echoed: it could be anything, up to the tx size.
    return Error(Code::kMeterUnregistered, ValidMeterId(r.meter_id()) ? "no meter '" + r.meter_id() + "' is registered"
                                                                      : "meter id is not a valid id");
  }
  if (!meter->active()) {
    return Error(Code::kMeterDeactivated, "meter '" + r.meter_id() + "' was deactivated at height " +
                                              Num(meter->deactivated_height()));
  }
  if (meter->key_type() == pb::METER_KEY_OCMF) {
    return Error(Code::kReadingBadSignature, "meter '" + r.meter_id() + "' signs OCMF records, not native readings "
                                             "(submit its records with submit_ocmf)");
  }
  if (static_cast<Int128>(r.interval_start_s()) * 1000 < meter->registered_time_ms()) {
    return Error(Code::kReadingBeforeRegistration,
                 Text("interval starts at {start}, before meter '" + r.meter_id() + "' was registered ({registered})")
                     .Time("start", r.interval_start_s())
                     .TimeMs("registered", meter->registered_time_ms()));
  }
  // The latest moment a reading for interval I counts: before the block that settles I (market
  // and grid services, at I + length + grace). After that a settled result would change.
  const int64_t len = params.settlement_interval_s();
  const int64_t interval = SettlementIntervalStart(r.interval_start_s(), len);
  const Int128 settles_ms = (static_cast<Int128>(interval) + len + params.market_grace_s()) * 1000;
  if (static_cast<Int128>(now_ms) >= settles_ms) {
    return Error(Code::kReadingIntervalSettled,
                 Text("the interval starting {interval} settled at {settled} (its end + " +
                      DurationWords(params.market_grace_s()) + " grace); block time {now}")
                     .Time("interval", interval)
                     .Time("settled", static_cast<int64_t>(settles_ms / 1000))
                     .TimeMs("now", now_ms));
  }
  // Cached: a reading is checked at mempool admission, at each mempool re-check and in the block;
  // its signature is verified once.
  if (signature_checked) *signature_checked = true;
  if (!VerifyRawCached(meter->device_pubkey(), ReadingSignBytes(chain_id, ReadingFieldsOf(r)), r.signature())) {
    return Error(Code::kReadingBadSignature, "not signed by the current device key of meter '" + r.meter_id() + "'");
  }
  return CheckReadingOrder(r, *meter, params);
}

Status ApplyMeterOp(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params,
                    Overlay& state, pb::TxResult* result) {
  switch (tx.body.op_case()) {
    case pb::TxBody::kRegisterMeter: return ApplyRegister(tx, ctx, state);
    case pb::TxBody::kRegisterMeters: return ApplyRegisterMeters(tx, ctx, state, result);
    case pb::TxBody::kRotateMeterKey: return ApplyRotate(tx, ctx, state);
    case pb::TxBody::kTransferMeter: return ApplyTransfer(tx, ctx, params, state);
    case pb::TxBody::kDeactivateMeter: return ApplyDeactivate(tx, ctx, state);
    case pb::TxBody::kSubmitReadings: return ApplySubmitReadings(tx, ctx, params, state, result);
    case pb::TxBody::kSubmitOcmf: return ApplySubmitOcmf(tx, ctx, params, state, result);
    default: break;
  }
  V2G_ASSERT(false && "ApplyMeterOp called for a non-meter op");
  return Error(Code::kInternal, "not a meter operation");
}

}  // namespace v2g
