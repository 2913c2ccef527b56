// Renderers of the meter registry, readings, batteries and meter txs (contracts/meters.h). See
// render.h.
#include "common/bytes.h"
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

json RejectedReadingsJson(const pb::TxResult& r) {
  return JsonList(r.rejected_readings(), [](const pb::RejectedReading& rej) {
    return json{{"index", rej.index()},
                {"code", rej.code()},
                {"code_name", std::string(CodeName(static_cast<Code>(rej.code())))},
                {"message", rej.message()}};
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
            {"registered_time", FormatRfc3339Ms(m.registered_time_ms())},
            {"deactivated_height", m.deactivated_height()},
            {"key_rotations", m.key_rotations()},
            {"readings_accepted", m.readings_accepted()},
            {"unattributed_import_wh", m.unattributed_import_wh()},
            {"unattributed_export_wh", m.unattributed_export_wh()},
            {"last_reading", m.has_last_reading() ? ReadingJson(m.last_reading()) : json(nullptr)}};
  if (m.kind() == pb::METER_KIND_VEHICLE) {
    if (auto b = LoadBattery(state, m.meter_id())) j["battery"] = BatteryJson(*b);
  }
  return j;
}

json BatteryJson(const pb::BatteryRecord& b) {
  return {{"import_wh", b.import_wh()},
          {"export_wh", b.export_wh()},
          {"cycles_milli", b.cycles_milli()},
          {"soc_permille", b.last_soc_permille()},
          {"soh_permille", b.last_soh_permille()}};
}

json BatterySampleJson(const pb::SohSample& s) {
  return {{"day", s.day()},
          {"date", FormatRfc3339Ms(s.day() * 86400000).substr(0, 10)},
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

json RegisterMeterOpJson(const pb::RegisterMeter& r) {
  return {{"type", "register_meter"},
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
    default:
      return {{"type", "none"}};
  }
}

}  // namespace v2g::api
