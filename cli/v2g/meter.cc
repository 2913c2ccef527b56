// v2g meter keygen|register|show|list|readings|deactivate: device keys, the meter registry and
// the energy the meters attested.

#include <algorithm>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "cli/v2g/families.h"
#include "cli/v2g/market.h"
#include "cli/v2g/output.h"
#include "cli/v2g/submit.h"
#include "common/limits.h"
#include "common/signbytes.h"
#include "contracts/meters.h"
#include "wallet/market.h"

namespace v2g::cli {
namespace {

struct MeterArgs {
  std::string id;
  std::string device;  // key name or 64 hex digits of a device public key
  std::string device_signature;  // 128 hex digits: a proof the device made elsewhere
  std::string ocmf_pubkey;       // an OCMF meter: DER SubjectPublicKeyInfo in hex
  std::string ocmf_pubkey_file;  // or a file of it (hex or PEM)
  std::string ocmf_serial;       // and its serial, the records' MS
  std::string ocmf_proof;        // a file holding its proof record (ID = v2g meter ocmf-id)
  std::string kind = "charger";
  std::string zone;
  std::string owner;
  int64_t max_import_w = 0;
  int64_t max_export_w = 0;
  int64_t capacity_wh = 0;
  std::string filter_owner;
  std::string filter_zone;
  std::string filter_kind;
  std::string from_t;  // Unix seconds or RFC 3339
  std::string to_t;
  bool yes = false;
};

// A device public key: a key in the keystore (made with 'v2g meter keygen') or 64 hex digits.
Result<PublicKey> DevicePubkey(Context& ctx, const std::string& text) {
  std::string hex = text;
  if (text.size() != 2 * kPublicKeyBytes) {
    auto info = ctx.keystore().Show(text);
    if (!info.ok()) return info.status();
    hex = info->pubkey_hex;
  }
  auto raw = HexDecode(hex);
  if (!raw.ok() || raw->size() != kPublicKeyBytes) {
    return Error(Code::kInvalidArgument,
                 "device '" + text + "' is neither a key name nor 64 hex digits");
  }
  PublicKey pk;
  std::copy(raw->begin(), raw->end(), pk.begin());
  return pk;
}

// An OCMF meter: a certified charger or site meter whose key and serial the operator vouches for.
Status CmdRegisterOcmfMeter(Context& ctx, const MeterArgs& m, pb::MeterKind kind, const TxArgs& a) {
  if (!m.device.empty() || !m.device_signature.empty()) {
    return Error(Code::kInvalidArgument, "an OCMF meter has no --device key: give --ocmf-pubkey (or --ocmf-pubkey-file), "
                                         "--ocmf-serial and --ocmf-proof");
  }
  if (m.ocmf_serial.empty()) return Error(Code::kInvalidArgument, "--ocmf-serial (the records' MS) is required");
  auto key = LoadOcmfPublicKey(m.ocmf_pubkey, m.ocmf_pubkey_file, "--ocmf-pubkey and --ocmf-pubkey-file");
  if (!key.ok()) {
    return Error(key.status().code(), (m.ocmf_pubkey.empty() ? "--ocmf-pubkey-file: " : "--ocmf-pubkey: ") +
                                          key.status().message());
  }
  if (m.ocmf_proof.empty()) {
    return Error(Code::kInvalidArgument, "--ocmf-proof FILE is required: a record the meter signed whose ID is what "
                                         "'v2g meter ocmf-id' prints (start a session with that idTag)");
  }
  std::ifstream pf(m.ocmf_proof, std::ios::binary);
  if (!pf) return Error(Code::kIo, "cannot read " + m.ocmf_proof);
  std::string proof(kOcmfRecordBytesMax + 3, '\0');  // a record, its line end, and one byte to see it is longer
  pf.read(proof.data(), static_cast<std::streamsize>(proof.size()));
  proof.resize(static_cast<size_t>(pf.gcount()));
  while (!proof.empty() && (proof.back() == '\n' || proof.back() == '\r')) proof.pop_back();
  if (proof.empty() || proof.size() > kOcmfRecordBytesMax || proof.find('\n') != std::string::npos) {
    return Error(Code::kInvalidArgument, "--ocmf-proof: " + m.ocmf_proof + " must hold one OCMF record on one line");
  }
  V2G_ASSIGN_OR_RETURN(owner, ResolveAccount(ctx.keystore(), m.owner));
  pb::TxBody body = MakeRegisterOcmfMeter(0, m.id, key->der, m.ocmf_serial, proof, kind, m.zone, owner.address,
                                          m.max_import_w, m.max_export_w);
  TxDescription d;
  d.summary = "Register OCMF " + m.kind + " meter '" + m.id + "' (serial " + m.ocmf_serial + ", " +
              std::string(OcmfCurveName(key->curve)) + ") in zone " + m.zone + " for " +
              AccountLabel(owner.address_text, owner.key_name);
  d.op = {{"type", "register_meter"},
          {"meter_id", m.id},
          {"key_type", "ocmf"},
          {"ocmf_pubkey", HexEncode(key->der)},
          {"ocmf_meter_serial", m.ocmf_serial},
          {"kind", m.kind},
          {"zone", m.zone},
          {"owner", owner.address_text},
          {"max_import_w", m.max_import_w},
          {"max_export_w", m.max_export_w}};
  return SubmitTx(ctx, a, std::move(body), d);
}

Status CmdMeterRegister(Context& ctx, const MeterArgs& m, const TxArgs& a) {
  auto kind = ParseMeterKind(m.kind);
  if (!kind) return Error(Code::kInvalidArgument, "--kind must be charger, vehicle or site");
  V2G_RETURN_IF_ERROR(CheckZoneArg(m.zone));
  V2G_RETURN_IF_ERROR(CheckZoneOnChain(ctx, m.zone, /*warn_if_no_meters=*/false));
  if (!m.ocmf_pubkey.empty() || !m.ocmf_pubkey_file.empty()) return CmdRegisterOcmfMeter(ctx, m, *kind, a);
  if (!m.ocmf_serial.empty() || !m.ocmf_proof.empty()) {
    return Error(Code::kInvalidArgument, "--ocmf-serial and --ocmf-proof are for an OCMF meter: give its key with "
                                         "--ocmf-pubkey or --ocmf-pubkey-file");
  }
  if (m.device.empty()) {
    return Error(Code::kInvalidArgument, "give --device (a native meter) or --ocmf-pubkey / --ocmf-pubkey-file (an OCMF meter)");
  }
  V2G_ASSIGN_OR_RETURN(pk, DevicePubkey(ctx, m.device));
  V2G_ASSIGN_OR_RETURN(owner, ResolveAccount(ctx.keystore(), m.owner));
  // The device's proof that it holds the key: made here when the device key is in this keystore,
  // else made on the device (it signs MeterKeySignBytes) and passed in.
  Signature proof{};
  if (!m.device_signature.empty()) {
    auto raw = HexDecode(m.device_signature);
    if (!raw.ok() || raw->size() != kSignatureBytes) {
      return Error(Code::kInvalidArgument, "--device-signature must be 128 hex digits (a 64-byte Ed25519 signature)");
    }
    std::copy(raw->begin(), raw->end(), proof.begin());
  } else {
    if (m.device.size() == 2 * kPublicKeyBytes && !ctx.keystore().Show(m.device).ok()) {
      return Error(Code::kInvalidArgument,
                   "--device is a public key: pass --device-signature, the device's signature over its "
                   "registration statement (or name a device key in this keystore)");
    }
    V2G_ASSIGN_OR_RETURN(op_info, ctx.ActAs(a.from));
    V2G_ASSIGN_OR_RETURN(op_addr, DecodeAddress(op_info.address));
    V2G_ASSIGN_OR_RETURN(client, ctx.client());
    V2G_ASSIGN_OR_RETURN(status, client->GetStatus());
    V2G_ASSIGN_OR_RETURN(device, ctx.LoadKey(m.device));
    proof = SignMeterKeyProof(device, status.chain_id, m.id, owner.address, op_addr);
  }
  pb::TxBody body = MakeRegisterMeterWithProof(0, m.id, pk, proof, *kind, m.zone, owner.address, m.max_import_w,
                                               m.max_export_w, m.capacity_wh);
  TxDescription d;
  d.summary = "Register " + m.kind + " meter '" + m.id + "' in zone " + m.zone + " for " +
              AccountLabel(owner.address_text, owner.key_name);
  d.op = {{"type", "register_meter"},
          {"meter_id", m.id},
          {"device_pubkey", HexEncode(pk)},
          {"kind", m.kind},
          {"zone", m.zone},
          {"owner", owner.address_text},
          {"max_import_w", m.max_import_w},
          {"max_export_w", m.max_export_w},
          {"battery_capacity_wh", m.capacity_wh}};
  return SubmitTx(ctx, a, std::move(body), d);
}

// The ID an OCMF meter's proof record must carry for registering `m.id` for `m.owner` by --from.
Status CmdOcmfId(Context& ctx, const MeterArgs& m, const TxArgs& a) {
  if (a.from.empty()) return Error(Code::kInvalidArgument, "--from (the registering operator's key) is required");
  V2G_ASSIGN_OR_RETURN(owner, ResolveAccount(ctx.keystore(), m.owner));
  V2G_ASSIGN_OR_RETURN(op, ResolveAccount(ctx.keystore(), a.from));
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(status, client->GetStatus());
  const std::string id =
      OcmfRegistrationId(status.chain_id, m.id, AddressBytes(owner.address), AddressBytes(op.address));
  if (ctx.json()) {
    PrintJson({{"meter_id", m.id}, {"chain_id", status.chain_id}, {"owner", owner.address_text},
               {"operator", op.address_text}, {"ocmf_id", id}});
  } else {
    std::cout << id << "\n";
  }
  return Status::Ok();
}

Status CmdMeterDeactivate(Context& ctx, const MeterArgs& m, const TxArgs& a) {
  V2G_RETURN_IF_ERROR(CheckMeterIdArg(m.id));
  // For good: a deactivated meter never attests again, and its id cannot be registered anew.
  V2G_RETURN_IF_ERROR(Confirm(
      m.yes, "Deactivate meter '" + m.id + "' for good? It will never attest energy again. [y/N] ",
      "deactivate meter '" + m.id + "'", "meter '" + m.id + "' was not deactivated"));
  TxDescription d;
  d.summary = "Deactivate meter '" + m.id + "'";
  d.op = {{"type", "deactivate_meter"}, {"meter_id", m.id}};
  return SubmitTx(ctx, a, MakeDeactivateMeter(0, m.id), d);
}

// "(this key reads the intervals from T on: ...)" when the node served only part of a meter's time
// to this key ("readable": docs/API.md "Entitlement over time"), else "".
std::string ReadableNote(const json& j) {
  if (!j.contains("readable") || !j["readable"].is_array() || j["readable"].empty()) return "";
  std::string spans;
  for (const json& s : j["readable"]) {
    if (!s.is_object()) continue;
    if (!spans.empty()) spans += " and ";
    spans += "from " + TimeText(s, "from_s") +
             (s.value("to_s", json()).is_null() ? " on" : " to " + TimeText(s, "to_s"));
  }
  return "(this key reads the intervals " + spans +
         ": since the meter became its owner's, or while it was in the key's pool)";
}

// `meter show` in text.
Status PrintMeter(const json& j) {
  Rows rows = {{"meter", JsonText(j, "meter_id")},
               {"kind", JsonText(j, "kind")},
               {"zone", JsonText(j, "zone")},
               {"owner", JsonText(j, "owner")},
               {"operator", JsonText(j, "operator")},
               {"key type", JsonText(j, "key_type")},
               {"device key", JsonText(j, "device_pubkey")},
               {"max import", JsonText(j, "max_import_w") + " W"},
               {"max export", JsonText(j, "max_export_w") + " W"},
               {"active", j.value("active", false) ? "yes"
                                                   : "no (deactivated at height " +
                                                         JsonText(j, "deactivated_height") + ")"},
               {"registered", "height " + JsonText(j, "registered_height") + ", " +
                                  LocalTimeText(j, "registered_time")},
               {"readings", JsonText(j, "readings_accepted") + " accepted"}};
  if (j.contains("owner_from") && j["owner_from"].is_string()) {
    rows.insert(rows.begin() + 4, {"owner's from", LocalTimeText(j, "owner_from")});
  }
  if (j.contains("ocmf") && j["ocmf"].is_object()) {
    const json& o = j["ocmf"];
    rows.emplace_back("ocmf", "serial " + JsonText(o, "meter_serial") + ", " + JsonText(o, "curve") + ", " +
                                  JsonText(o, "records_accepted") + " records, last " + LocalTimeText(o, "last_time"));
  }
  if (j.contains("last_reading") && j["last_reading"].is_object()) {
    const json& r = j["last_reading"];
    rows.emplace_back("last reading", "seq " + JsonText(r, "seq") + ", interval from " +
                                          TimeText(r, "interval_start_s") + ", import " +
                                          Wh(r, "import_wh_total") + ", export " +
                                          Wh(r, "export_wh_total"));
  }
  PrintRows(rows);
  if (const std::string note = ReadableNote(j); !note.empty()) std::cout << note << "\n";
  return Status::Ok();
}

Status CmdMeterShow(Context& ctx, const MeterArgs& m) {
  V2G_RETURN_IF_ERROR(CheckMeterIdArg(m.id));
  return ShowAnswer(ctx, "/v1/meters/" + m.id, PrintMeter);
}

Status CmdMeterList(Context& ctx, const MeterArgs& m) {
  std::string q;
  auto add = [&](const char* k, const std::string& v) {
    if (!v.empty()) q += (q.empty() ? "?" : "&") + std::string(k) + "=" + v;
  };
  if (!m.filter_owner.empty()) {
    V2G_ASSIGN_OR_RETURN(owner, ResolveAccount(ctx.keystore(), m.filter_owner));
    add("owner", owner.address_text);
  }
  if (!m.filter_zone.empty() && !ValidZone(m.filter_zone))
    return Error(Code::kInvalidArgument, "--zone is not a zone name");
  add("zone", m.filter_zone);
  if (!m.filter_kind.empty() && !ParseMeterKind(m.filter_kind))
    return Error(Code::kInvalidArgument, "--kind must be charger, vehicle or site");
  add("kind", m.filter_kind);
  add("limit", std::to_string(limits::kMetersPageMax));
  return ShowAnswer(ctx, "/v1/meters" + q, [](const json& j) {
    std::vector<std::vector<std::string>> rows{
        {"METER", "KIND", "ZONE", "ACTIVE", "READINGS", "OWNER"}};
    for (const auto& x : j.value("meters", json::array())) {
      // A meter's readings are its owner's (and operator's, pool's): "-" to anyone else.
      const std::string readings =
          x.value("private", false) ? "-" : JsonText(x, "readings_accepted");
      rows.push_back({JsonText(x, "meter_id"), JsonText(x, "kind"), JsonText(x, "zone"),
                      x.value("active", false) ? "yes" : "no", readings, JsonText(x, "owner")});
    }
    if (rows.size() == 1) {
      std::cout << "No meters match\n";
      return Status::Ok();
    }
    PrintTable(rows, {4});
    if (JsonInt(j, "private_items") > 0) {
      std::cout << "(READINGS \"-\": private to the meter's owner, operator and pool; "
                   "--owner KEY reads yours)\n";
    }
    return Status::Ok();
  });
}

Status CmdMeterReadings(Context& ctx, const MeterArgs& m) {
  V2G_RETURN_IF_ERROR(CheckMeterIdArg(m.id));
  std::string q = "?limit=" + std::to_string(limits::kMetersPageMax);
  int64_t from = -1, to = -1;
  if (!m.from_t.empty()) {
    V2G_ASSIGN_OR_RETURN(f, ParseTimeS(m.from_t, "--from"));
    from = f;
    q += "&from=" + std::to_string(from);
  }
  if (!m.to_t.empty()) {
    V2G_ASSIGN_OR_RETURN(t, ParseTimeS(m.to_t, "--to"));
    to = t;
    q += "&to=" + std::to_string(to);
  }
  if (from >= 0 && to >= 0 && to <= from) return Error(Code::kInvalidArgument, "--to must be later than --from");
  return ShowAnswer(ctx, "/v1/meters/" + m.id + "/readings" + q, [&m](const json& j) {
    // What chargers attested for a vehicle (all of its energy that can earn money), and what a
    // charger lent to vehicles (paid through them): issue 11's corroboration, in columns of their
    // own when any interval has them.
    const json intervals = j.value("intervals", json::array());
    auto any = [&](const char* a, const char* b) {
      for (const auto& x : intervals) {
        if (x.value(a, int64_t{0}) != 0 || x.value(b, int64_t{0}) != 0) return true;
      }
      return false;
    };
    const bool corroborated = any("corroborated_import_wh", "corroborated_export_wh");
    const bool lent = any("lent_import_wh", "lent_export_wh");
    std::vector<std::string> head{"INTERVAL START", "IMPORT", "EXPORT", "READINGS"};
    if (corroborated) head.insert(head.end(), {"CORROBORATED IMPORT", "CORROBORATED EXPORT"});
    if (lent) head.insert(head.end(), {"LENT IMPORT", "LENT EXPORT"});
    std::vector<std::vector<std::string>> rows{head};
    for (const auto& x : intervals) {
      std::vector<std::string> row{TimeText(x, "interval_start_s"), Wh(x, "import_wh"),
                                   Wh(x, "export_wh"), JsonText(x, "readings")};
      if (corroborated)
        row.insert(row.end(), {Wh(x, "corroborated_import_wh"), Wh(x, "corroborated_export_wh")});
      if (lent) row.insert(row.end(), {Wh(x, "lent_import_wh"), Wh(x, "lent_export_wh")});
      rows.push_back(std::move(row));
    }
    std::cout << "Attested energy of meter '" << m.id << "' per "
              << JsonText(j, "settlement_interval_s") << " s settlement interval\n";
    if (const std::string note = ReadableNote(j); !note.empty()) std::cout << note << "\n";
    if (rows.size() == 1) {
      std::cout << "No attested energy in this period\n";
      return Status::Ok();
    }
    std::vector<size_t> right;
    for (size_t c = 1; c < head.size(); ++c) right.push_back(c);
    PrintTable(rows, right);
    return Status::Ok();
  });
}

}  // namespace

void AddMeterCommands(CLI::App& app, CommandLine& cl) {
  MeterArgs& m = cl.Keep<MeterArgs>();
  TxArgs& tx = cl.Keep<TxArgs>();
  CLI::App* meter = cl.Group(&app, "meter", "Meters: device keys, registry, attested energy");
  auto* mkey = cl.Command(meter, "keygen",
                          "Create a device key for a meter (stored encrypted like account keys)",
                          [&](Context& c) { return AddKey(c, m.id, false, "device"); });
  mkey->add_option("NAME", m.id, "Key name")->required();
  auto* mreg = cl.Command(meter, "register", "Register a meter (operators only)",
                          [&](Context& c) { return CmdMeterRegister(c, m, tx); });
  mreg->add_option("ID", m.id, "Meter id: 1-64 of A-Z a-z 0-9 . _ : -")->required();
  mreg->add_option("--device", m.device,
                   "Device key name (it signs its proof of possession here), or its public key (64 hex digits, "
                   "with --device-signature)");
  mreg->add_option("--device-signature", m.device_signature,
                   "The device's Ed25519 signature over its registration statement (chain id, meter id, owner, "
                   "operator), 128 hex digits, when the device key is not in this keystore");
  mreg->add_option("--ocmf-pubkey", m.ocmf_pubkey,
                   "An OCMF meter (certified charger or site meter) instead of --device: its public key, DER "
                   "SubjectPublicKeyInfo in hex");
  mreg->add_option("--ocmf-pubkey-file", m.ocmf_pubkey_file, "The OCMF meter's public key from a file (hex or PEM)");
  mreg->add_option("--ocmf-serial", m.ocmf_serial, "The OCMF meter's serial: its records' MS");
  mreg->add_option("--ocmf-proof", m.ocmf_proof,
                   "A file with one record the OCMF meter signed whose ID is what 'v2g meter ocmf-id' prints "
                   "(its proof that it holds the key, for this meter, owner and operator)");
  mreg->add_option("--kind", m.kind, "charger, vehicle or site")->capture_default_str();
  mreg->add_option("--zone", m.zone, "Zone, e.g. GD-SZ")->required();
  mreg->add_option("--owner", m.owner, "Owner address or key name")->required();
  mreg->add_option("--max-import-w", m.max_import_w, "Maximum import power (W)");
  mreg->add_option("--max-export-w", m.max_export_w, "Maximum export power (W)");
  mreg->add_option("--capacity-wh", m.capacity_wh, "Usable battery capacity (Wh), vehicles only");
  AddTxOptions(mreg, tx, false);
  auto* mid = cl.Command(meter, "ocmf-id",
                         "Print the ID (identification data) an OCMF meter's proof record must carry to be "
                         "registered as ID for --owner by --from",
                         [&](Context& c) { return CmdOcmfId(c, m, tx); });
  mid->add_option("ID", m.id, "Meter id")->required();
  mid->add_option("--owner", m.owner, "Owner address or key name")->required();
  mid->add_option("--from", tx.from, "The registering operator's key name")->required();
  auto* mshow =
      cl.Command(meter, "show", "Show a meter", [&](Context& c) { return CmdMeterShow(c, m); });
  mshow->add_option("ID", m.id, "Meter id")->required();
  auto* mlist =
      cl.Command(meter, "list", "List meters", [&](Context& c) { return CmdMeterList(c, m); });
  mlist->add_option("--zone", m.filter_zone, "Only this zone");
  mlist->add_option("--owner", m.filter_owner, "Only this owner (address or key name)");
  mlist->add_option("--kind", m.filter_kind, "Only this kind");
  auto* mread = cl.Command(meter, "readings", "Attested energy per settlement interval",
                           [&](Context& c) { return CmdMeterReadings(c, m); });
  mread->add_option("ID", m.id, "Meter id")->required();
  mread->add_option("--from", m.from_t, "First interval start (RFC 3339, e.g. 2026-12-06T08:00:00+08:00, or Unix seconds)");
  mread->add_option("--to", m.to_t, "End, exclusive (RFC 3339 or Unix seconds)");
  auto* mdeact =
      cl.Command(meter, "deactivate", "Deactivate a meter for good (its operator only)",
                 [&](Context& c) { return CmdMeterDeactivate(c, m, tx); });
  mdeact->add_option("ID", m.id, "Meter id")->required();
  mdeact->add_flag("--yes,-y", m.yes, "Do not ask for confirmation");
  AddTxOptions(mdeact, tx, false);
  AddMeterOcmfCommands(meter, cl);
}

}  // namespace v2g::cli
