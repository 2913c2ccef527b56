// Renderers of the meter registry, readings, batteries and meter txs (contracts/meters.h). See
// render.h.
#include "common/bytes.h"
#include "common/ocmf.h"
#include "common/time.h"
#include "contracts/meters.h"
#include "node/api/render.h"

namespace v2g::api {

json ReadingJson(const pb::MeterReading& r) {
  return {{"meter_id", r.meter_id()},
          {"seq", r.seq()},
          {"interval_start", Rfc3339S(r.interval_start_s())},
          {"interval_start_s", r.interval_start_s()},
          {"interval_end_s", r.interval_end_s()},
          {"import_wh_total", r.import_wh_total()},
          {"export_wh_total", r.export_wh_total()},
          {"soc_permille", r.soc_permille()},
          {"soh_permille", r.soh_permille()},
          {"plugged_meter_id", r.plugged_meter_id().empty() ? json(nullptr) : json(r.plugged_meter_id())},
          {"signature", HexEncode(r.signature())}};
}

namespace {

// A refusal's message for people, and its values for machines when it carries any.
void AddRefusalText(json& j, const pb::RejectedReading& rej, const DisplayUnits& units) {
  const Text text = StoredText(rej.message(), rej.message_template(), rej.message_fields());
  j["message"] = DisplayText(text, units);
  if (!text.fields().empty()) j["message_fields"] = TextFieldsJson(text.fields(), units);
}

}  // namespace

json RejectedReadingsJson(const pb::TxResult& r, const DisplayUnits& units) {
  return JsonList(r.rejected_readings(), [&](const pb::RejectedReading& rej) {
    json j = {{"index", rej.index()},
              {"code", rej.code()},
              {"code_name", std::string(CodeName(static_cast<Code>(rej.code())))}};
    AddRefusalText(j, rej, units);
    return j;
  });
}

json MeterJson(const KvReader& state, const pb::MeterRecord& m) {
  json j = {{"meter_id", m.meter_id()},
            {"device_pubkey", HexEncode(m.device_pubkey())},
            {"kind", std::string(MeterKindName(m.kind()))},
            {"zone", m.zone()},
            {"owner", AddressText(m.owner())},
            {"operator", AddressText(m.operator_address())},
            {"max_import_w", m.max_import_w()},
            {"max_export_w", m.max_export_w()},
            {"battery_capacity_wh", m.battery_capacity_wh()},
            {"active", m.active()},
            {"registered_height", m.registered_height()},
            {"registered_time", Rfc3339Ms(m.registered_time_ms())},
            // The first interval that is its owner's (null: its first owner, all of them): the
            // owner reads what it measured from then on.
            {"owner_from", m.owner_from_s() > 0 ? Rfc3339S(m.owner_from_s()) : json(nullptr)},
            {"deactivated_height", m.deactivated_height()},
            {"key_rotations", m.key_rotations()},
            {"readings_accepted", m.readings_accepted()},
            {"unattributed_import_wh", m.unattributed_import_wh()},
            {"unattributed_export_wh", m.unattributed_export_wh()},
            {"last_reading", m.has_last_reading() ? ReadingJson(m.last_reading()) : json(nullptr)},
            {"key_type", m.key_type() == pb::METER_KEY_OCMF ? "ocmf" : "ed25519"}};
  if (m.key_type() == pb::METER_KEY_OCMF) {
    const pb::OcmfMeterState& o = m.ocmf();
    auto reg = [](const pb::OcmfRegisterState& r) {
      if (!r.seen()) return json(nullptr);
      return json{{"baseline_mwh", r.baseline_mwh()},
                  {"last_mwh", r.last_mwh()},
                  // Measured since the baseline, attributed or not (per-interval energy is in
                  // /v1/meters/{id}/readings).
                  {"measured_wh", (r.last_mwh() - r.baseline_mwh()) / 1000},
                  {"ri", r.ri()},
                  {"last_time", Rfc3339Ms(r.last_time_ms())}};
    };
    auto pg = [](char context, uint64_t first, uint64_t next) {
      if (next == 0) return json(nullptr);
      return json{{"first", std::string(1, context) + std::to_string(first)},
                  {"last", std::string(1, context) + std::to_string(next - 1)}};
    };
    j["ocmf"] = {{"meter_serial", o.meter_serial()},
                 {"curve", std::string(OcmfCurveName(static_cast<OcmfCurve>(o.curve())))},
                 {"pg_t", pg('T', o.first_pg_t(), o.next_pg_t())},
                 {"pg_f", pg('F', o.first_pg_f(), o.next_pg_f())},
                 {"records_accepted", o.records_accepted()},
                 {"last_time", o.last_time_ms() > 0 ? Rfc3339Ms(o.last_time_ms()) : json(nullptr)},
                 {"import", reg(o.import())},
                 {"export", reg(o.export_())}};
  }
  if (m.kind() == pb::METER_KIND_VEHICLE) {
    if (auto b = LoadBattery(state, m.meter_id())) j["battery"] = BatteryJson(*b);
  }
  return j;
}

json BatteryJson(const pb::BatteryRecord& b) {
  // Before its first reading nothing is known of the battery's state: null, not 0 %.
  const bool read = b.last_sample_day() >= 0;
  return {{"import_wh", b.import_wh()},
          {"export_wh", b.export_wh()},
          {"cycles_milli", b.cycles_milli()},
          {"soc_permille", read ? json(b.last_soc_permille()) : json(nullptr)},
          {"soh_permille", read ? json(b.last_soh_permille()) : json(nullptr)}};
}

json BatterySampleJson(const pb::SohSample& s) {
  return {{"day", s.day()},
          {"date", DateOfDay(s.day())},
          {"soh_permille", s.soh_permille()},
          {"soc_permille", s.soc_permille()},
          {"export_wh", s.export_wh()},
          {"cycles_milli", s.cycles_milli()}};
}

json MeterIntervalJson(const pb::MeterIntervalRecord& rec, int64_t interval_s) {
  return {{"interval_start", Rfc3339S(rec.interval_start_s())},
          {"interval_start_s", rec.interval_start_s()},
          {"interval_end_s", rec.interval_start_s() + interval_s},
          {"import_wh", rec.import_wh()},
          {"export_wh", rec.export_wh()},
          {"readings", rec.readings()},
          {"corroborated_import_wh", rec.corroborated_import_wh()},
          {"corroborated_export_wh", rec.corroborated_export_wh()},
          {"lent_import_wh", rec.lent_import_wh()},
          {"lent_export_wh", rec.lent_export_wh()}};
}

namespace {

json OcmfSubmissionJson(const pb::OcmfSubmission& sub) {
  json j = {{"meter_id", sub.meter_id()}, {"record", sub.record()}};
  auto rec = ParseOcmf(sub.record());
  if (!rec.ok()) {
    j["parse_error"] = rec.status().message();
    return j;
  }
  j["meter_serial"] = rec->ms;
  j["pg"] = std::string(1, rec->pg_context) + std::to_string(rec->pg_counter);
  j["signature_algorithm"] = rec->signature_algorithm;
  j["readings"] = JsonList(rec->readings, [](const OcmfReading& r) {
    const char* reg = r.reg == OcmfRegister::kImport ? "import" : r.reg == OcmfRegister::kExport ? "export" : "other";
    return json{{"time", Rfc3339Ms(r.time_ms)},
                {"time_ms", r.time_ms},
                {"time_status", std::string(1, r.time_status)},
                {"type", r.tx},
                {"ri", r.ri},
                {"register", reg},
                {"rv", r.rv_text},
                {"ru", r.ru},
                {"value_mwh", r.value_mwh},
                {"status", std::string(1, r.st)},
                {"error_flags", r.ef}};
  });
  return j;
}

json RegisterMeterOpJson(const pb::RegisterMeter& r) {
  if (!r.ocmf_pubkey().empty() || !r.ocmf_meter_serial().empty()) {
    return {{"type", "register_meter"},
            {"meter_id", r.meter_id()},
            {"key_type", "ocmf"},
            {"ocmf_pubkey", HexEncode(r.ocmf_pubkey())},
            {"ocmf_meter_serial", r.ocmf_meter_serial()},
            {"ocmf_proof_record", r.ocmf_proof_record()},
            {"kind", std::string(MeterKindName(r.kind()))},
            {"zone", r.zone()},
            {"owner", AddressText(r.owner())},
            {"max_import_w", r.max_import_w()},
            {"max_export_w", r.max_export_w()}};
  }
  return {{"type", "register_meter"},
          {"key_type", "ed25519"},
          {"meter_id", r.meter_id()},
          {"device_pubkey", HexEncode(r.device_pubkey())},
          {"kind", std::string(MeterKindName(r.kind()))},
          {"zone", r.zone()},
          {"owner", AddressText(r.owner())},
          {"max_import_w", r.max_import_w()},
          {"max_export_w", r.max_export_w()},
          {"battery_capacity_wh", r.battery_capacity_wh()},
          // The device's proof of possession, so anyone can re-check it (common/signbytes.h
          // MeterKeySignBytes).
          {"device_signature", HexEncode(r.device_signature())}};
}

json TransferMeterOpJson(const pb::TransferMeter& t) {
  json j = {{"type", "transfer_meter"},
            {"meter_id", t.meter_id()},
            {"new_owner_pubkey", HexEncode(t.new_owner_pubkey())}};
  // The new owner's address only when the key is well formed: the op is shown even when invalid.
  if (auto owner = PublicKeyAddressText(t.new_owner_pubkey())) j["new_owner"] = *owner;
  return j;
}

}  // namespace

json MeterOpJson(const pb::TxBody& body) {
  switch (body.op_case()) {
    case pb::TxBody::kRegisterMeter:
      return RegisterMeterOpJson(body.register_meter());
    case pb::TxBody::kRegisterMeters:
      return {{"type", "register_meters"}, {"meters", JsonList(body.register_meters().meters(), [](const pb::RegisterMeter& r) {
                 json m = RegisterMeterOpJson(r);
                 m.erase("type");
                 return m;
               })}};
    case pb::TxBody::kRotateMeterKey:
      return {{"type", "rotate_meter_key"},
              {"meter_id", body.rotate_meter_key().meter_id()},
              {"new_device_pubkey", HexEncode(body.rotate_meter_key().new_device_pubkey())},
              {"new_device_signature", HexEncode(body.rotate_meter_key().new_device_signature())}};
    case pb::TxBody::kTransferMeter:
      return TransferMeterOpJson(body.transfer_meter());
    case pb::TxBody::kDeactivateMeter:
      return {{"type", "deactivate_meter"}, {"meter_id", body.deactivate_meter().meter_id()}};
    case pb::TxBody::kSubmitReadings: {
      json list = JsonList(body.submit_readings().readings(), ReadingJson);
      return {{"type", "submit_readings"}, {"count", list.size()}, {"readings", list}};
    }
    case pb::TxBody::kSubmitOcmf: {
      json list = JsonList(body.submit_ocmf().records(), OcmfSubmissionJson);
      return {{"type", "submit_ocmf"}, {"count", list.size()}, {"records", list}};
    }
    default:
      return {{"type", "none"}};
  }
}

json OcmfRecordEntryJson(std::string_view meter_id, std::string_view pg, const pb::OcmfRecordEntry& e) {
  return {{"meter_id", std::string(meter_id)},
          {"pg", std::string(pg)},
          {"height", e.height()},
          {"tx_hash", HexEncode(e.tx_hash())},
          {"first_time", Rfc3339Ms(e.first_time_ms())},
          {"last_time", Rfc3339Ms(e.last_time_ms())},
          {"record", e.record()}};
}

void AddBatchVerdicts(json& op, const char* items, const pb::TxResult& r, const DisplayUnits& units) {
  if (!op.contains(items) || !op[items].is_array()) return;
  json& records = op[items];
  for (auto& rec : records) rec["verdict"] = r.code() == 0 ? json("accepted") : json("tx_failed");
  if (r.code() != 0) return;
  for (const pb::RejectedReading& rej : r.rejected_readings()) {
    if (rej.index() >= records.size()) continue;
    json verdict = {{"code", rej.code()}, {"code_name", std::string(CodeName(static_cast<Code>(rej.code())))}};
    AddRefusalText(verdict, rej, units);
    records[rej.index()]["verdict"] = std::move(verdict);
  }
}

}  // namespace v2g::api
