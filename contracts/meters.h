// Meters: the registry of devices whose signed readings are the ledger's only proof of energy
// delivered or consumed, the rules every reading must pass, and the state later modules settle
// against (attested energy per meter and settlement interval, each vehicle's battery history).
//
// Registry and custody: an account with the genesis role "operator" (the party that installs and
// certifies meters) registers a meter (id, device key, kind, zone, owner, power limits, battery
// capacity for vehicles) with the device's proof that it holds the key: a signature over
// MeterKeySignBytes(chain id, meter id, owner, operator). A device key belongs to one meter for
// ever (s/meter_k/ index: never two meters, never reused after rotation or deactivation). Only the
// meter's operator rotates its key (with the new device's proof) or deactivates it; the owner,
// who is paid for what the meter attests, never can. The owner may transfer it to a new owner, who
// co-signs (MeterTransferSignBytes), unless it is in a pool, enrolled in an event not yet settled,
// has sells / contracts not yet settled, or has attested energy grid services have not settled
// (kMeterBusy lists them); its program memberships and tariff enrollment move to the new owner.
//
// Readings: each reading in a SubmitReadings batch is checked on its own; the first rule it
// breaks, in this order, is its reason code (common/status.h, 100..113 and 115):
//   1. soc/soh in 0..1000 and registers >= 0          reading_out_of_range
//   2. 0 <= start < end                               reading_interval_invalid
//   3. [start, end) inside one settlement interval    reading_crosses_boundary
//   4. end <= block time + skew                       reading_in_future
//   5. meter registered                               meter_unregistered
//   6. meter active                                   meter_deactivated
//   7. start >= the meter's registration time         reading_before_registration
//   8. block time < its interval's settlement time    reading_interval_settled
//      (interval start + length + market_grace_s: the block that settles the market and grid
//      services of the interval; a settled result never changes)
//   9. signed by the meter's current device key       reading_bad_signature
//  10. seq > last seq                                 reading_replayed
//  11. seq == last seq + 1                            reading_seq_gap
//  12. start >= the last accepted reading's end       reading_overlap
//  13. registers >= the last accepted registers       reading_register_decreased
//  14. register deltas <= max power x span (+ tol.)   reading_energy_impossible
//  15. the interval's total with this reading <=      reading_energy_impossible
//      max power x (reading end - start of the first span attributed to the interval) +
//      tolerance, once per interval (execution only: it needs the interval's record)
//  16. plugged_meter_id empty on a vehicle's reading;  reading_plugged_meter_invalid
//      otherwise empty or a registered, active vehicle
//      in the same zone (execution only: it needs that vehicle's record)
// Energy: registers are cumulative, so a reading's deltas cover the span from the previous
// reading's end to its own end (its own interval when readings are contiguous). The first
// reading of a meter is its baseline: it attests no energy. A delta is attested to the
// settlement interval holding its span; a span that crosses a boundary (only possible after a
// gap) is counted as unattributed on the meter record, never in any interval. Rejected readings
// change nothing; accepted ones apply in batch order, so a batch may carry several consecutive
// readings of one meter.
//
// Corroboration (issue 11): a vehicle's on-board meter rides in its owner's car, so the owner can
// extract its key and sign anything; energy that earns money must be confirmed by a meter the
// owner does not hold. A charger or site reading may name the vehicle plugged in for the span its
// deltas cover (plugged_meter_id, signed). When its deltas are attributed to interval I they are
// lent: added to the charger's lent_import/export_wh for I and to the vehicle's
// corroborated_import/export_wh for I (the vehicle's record is created if absent; its
// span_start_s stays unset until its own first attributed reading, so rule 15 is unchanged).
// Money is computed from PayableExportWh / PayableImportWh / BillableImportWh below, never from
// the raw registers: a vehicle earns at most what the charger attested (tolerance 0: the grid
// is paid for what reached it through the certified charger; the vehicle meter can only lower it)
// and is billed at least that; the charger's owner is neither paid nor billed for lent energy.
// OCMF records name no plugged vehicle: an OCMF meter (never a vehicle) lends nothing yet.
//
// OCMF meters (key type METER_KEY_OCMF): a certified charger or site meter that signs OCMF records
// (common/ocmf.h) with an ECDSA key. The operator registers it with the key (DER
// SubjectPublicKeyInfo, canonical, unique like any device key), the meter's serial and its proof of
// possession: the meter signs nothing but records, so the proof is a record it signed whose ID
// (identification data, e.g. the idTag a session was started with) is OcmfRegistrationId(chain,
// meter, owner, operator). No rotation (the key is the certified meter's: a new key is a new meter).
// A SubmitOcmf record is accepted or rejected whole, first failure wins:
//   meter registered (meter_unregistered), active (meter_deactivated), an OCMF meter, record parses
//   and its MS is the registered serial (ocmf_invalid; a register going down inside the record is
//   reading_register_decreased), its PG counter exactly the next of its context (T or F) like a
//   native seq (lower: ocmf_duplicate; higher: reading_seq_gap; a context's first record may
//   start anywhere), signed
//   with the meter's curve and key (reading_bad_signature); then every reading in order: time status
//   S or I (ocmf_time_unreliable), no error flags and status G (ocmf_meter_error), time >=
//   registration (reading_before_registration), <= block time + skew (reading_in_future), its
//   interval not settled (reading_interval_settled), >= the meter's last accepted time
//   (reading_overlap), its register's OBIS id the one it first had (ocmf_invalid), its register not
//   lower than before (reading_register_decreased), the span and the interval within max power
//   (reading_energy_impossible; each register's interval bound runs from its own first span).
// Mapping: each register (import 1-b:1.8.0, export 1-b:2.8.0) is its own chain of points; its first
// value is its baseline, and the energy of a span (previous point, this point] is the whole Wh
// counted from the baseline at this point minus the same at the previous point (truncation from the
// baseline: the sum over any spans never exceeds what the meter measured). A span counts for the
// settlement interval holding it whole (a point at an interval's end closes that interval), else it
// is unattributed, as for native readings. Accepted records are kept under s/meter_ocmf/<id>/<PG>
// (context letter + counter) for offline re-verification: the signed payload byte for byte with a
// canonical signature section (the section is unsigned: nothing a submitter adds there is kept).
// Every reading of a record must be in an unsettled interval: a charger sends periodic records
// (OCMF tariff / periodic readings, OCPP sampled values), not one record a long session.
//
// Key layout (under s/, see contracts/state.h): s/meter/<id> MeterRecord, s/meter_e/<id>/<start>
// MeterIntervalRecord, s/meter_b/<id> BatteryRecord, s/meter_h/<id> BatteryHistory,
// s/meter_ocmf/<id>/<PG> OcmfRecordEntry.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/signbytes.h"
#include "common/status.h"
#include "contracts/app.h"
#include "contracts/kv.h"
#include "proto/v2g.pb.h"

namespace v2g {

inline constexpr std::string_view kMeterPrefix = "s/meter/";
inline constexpr std::string_view kMeterIntervalPrefix = "s/meter_e/";
inline constexpr std::string_view kBatteryPrefix = "s/meter_b/";
inline constexpr std::string_view kBatteryHistoryPrefix = "s/meter_h/";
// s/meter_k/<32-byte device key> = meter id: every device key ever registered or rotated to.
inline constexpr std::string_view kMeterKeyIndexPrefix = "s/meter_k/";
inline constexpr std::string_view kMeterOcmfPrefix = "s/meter_ocmf/";

std::string MeterKey(std::string_view meter_id);
// s/meter_e/<id>/ : every interval record of one meter, in time order.
std::string MeterIntervalPrefix(std::string_view meter_id);
std::string MeterIntervalKey(std::string_view meter_id, int64_t interval_start_s);
std::string BatteryKey(std::string_view meter_id);
// s/meter_ocmf/<id>/ : every accepted OCMF record of one meter; <PG> is e.g. "T17".
std::string OcmfRecordPrefix(std::string_view meter_id);
std::string OcmfRecordKey(std::string_view meter_id, std::string_view pg);
std::optional<pb::OcmfRecordEntry> LoadOcmfRecord(const KvReader& kv, std::string_view meter_id, std::string_view pg);
std::string BatteryHistoryKey(std::string_view meter_id);

std::optional<pb::MeterRecord> LoadMeter(const KvReader& kv, std::string_view meter_id);
std::optional<pb::MeterIntervalRecord> LoadMeterInterval(const KvReader& kv, std::string_view meter_id,
                                                         int64_t interval_start_s);
std::optional<pb::BatteryRecord> LoadBattery(const KvReader& kv, std::string_view meter_id);
pb::BatteryHistory LoadBatteryHistory(const KvReader& kv, std::string_view meter_id);  // empty if none

// The meter `id`, registered, active and owned by `who`: kMeterUnregistered, kMeterDeactivated or
// kUnauthorized (naming the owner) otherwise.
Result<pb::MeterRecord> RequireOwnedMeter(const KvReader& kv, std::string_view id, const Address& who);

// 1-64 of A-Z a-z 0-9 . _ : - (no '/', so an id is never a key prefix of another's records).
bool ValidMeterId(std::string_view id);
// 1-32 of A-Z a-z 0-9 . _ -
bool ValidZone(std::string_view zone);
// What personal identifier `id` has the form of ("a vehicle identification number (VIN)", "a
// licence plate"), or "" for none. Registration refuses such ids: a meter id is a pseudonym
// every validator sees (docs/DESIGN.md "Who may read what"). A plate with its province
// character is not ASCII and fails ValidMeterId already.
std::string_view PersonalIdForm(std::string_view id);
// "charger", "vehicle", "site"; "unknown" otherwise.
std::string_view MeterKindName(pb::MeterKind kind);
// Inverse of MeterKindName; nullopt for anything else.
std::optional<pb::MeterKind> ParseMeterKind(std::string_view name);

// The fields a device signs, as common/signbytes.h wants them.
ReadingFields ReadingFieldsOf(const pb::MeterReading& r);

// Stateless checks of a meter op's fields (called from CheckTxStateless). Readings are not
// checked here beyond the batch size: a bad reading is rejected on its own at execution.
Status CheckMeterOp(const pb::TxBody& body);

// True for the ops this module executes.
bool IsMeterOp(pb::TxBody::OpCase op);

// Executes a meter op for `tx` (nonce and fee already handled by ApplyTx). On error `state` is
// untouched. For SubmitReadings, `result` (if not null) receives each rejected reading.
Status ApplyMeterOp(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params,
                    Overlay& state, pb::TxResult* result);

// Checks one reading against the meter's state and the chain's rules without writing anything.
// ok, or the reason code of the first rule it breaks (see the list above).
// Verifies, into the signature cache, the readings of a submit_readings `body` against the device
// keys in `state`, in order, stopping at the first that fails while none has verified (as the
// admission rule does: BlockContext::admission). The mempool calls it before taking its locks, so
// the batch's application under them finds every verdict cached. Changes no state. A
// register_meters `body` signed by `signer` gets its native devices' proofs of possession verified
// the same way.
void WarmReadingSignatures(const pb::TxBody& body, const KvReader& state, std::string_view chain_id,
                           const Address& signer = Address{});

// `signature_checked` (if not null) is set when the check got as far as the signature.
Status CheckReading(const pb::MeterReading& r, const std::optional<pb::MeterRecord>& meter,
                    std::string_view chain_id, const pb::ParamsRecord& params, int64_t now_ms,
                    bool* signature_checked = nullptr);

// What of a meter's attested energy in one interval counts for money (`rec` null: none attested).
// Vehicle: its own figure capped by what chargers naming it attested. Charger / site: its own
// figure less what it lent to named vehicles (paid or billed through them, so never twice).
// Export that earns money (market delivery, reverse discharge, feed-in, pools):
//   vehicle min(export, corroborated_export); charger / site export - lent_export.
int64_t PayableExportWh(const pb::MeterRecord& m, const pb::MeterIntervalRecord* rec);
// Import that earns money (valley-fill performance; a peak-relief baseline, which the owner gains
// by raising): vehicle min(import, corroborated_import); charger / site import - lent_import.
int64_t PayableImportWh(const pb::MeterRecord& m, const pb::MeterIntervalRecord* rec);
// Import that is billed or that lowers pay (tariff charges; peak-relief actual import; a
// valley-fill baseline), which the owner gains by lowering: vehicle max(import,
// corroborated_import), so under-reporting on its own meter bills the charger's figure; charger
// / site import - lent_import.
int64_t BillableImportWh(const pb::MeterRecord& m, const pb::MeterIntervalRecord* rec);

// The three figures above for meter `meter_id` in the interval starting at `interval_start_s`;
// `attested` is false (and all zero) when the interval has no record (or the meter is unknown).
struct IntervalMoneyEnergy {
  bool attested = false;
  int64_t payable_export_wh = 0;
  int64_t payable_import_wh = 0;
  int64_t billable_import_wh = 0;
};
IntervalMoneyEnergy LoadIntervalMoneyEnergy(const KvReader& kv, std::string_view meter_id, int64_t interval_start_s);

// Lists a rejected reading or record (its position `index` in the batch and why) in `result`, if
// not null.
void AddRejected(pb::TxResult* result, int index, const Status& st);

// An OCMF meter's proof of possession at registration by `op`: `r.ocmf_proof_record` parses, is from
// the registered serial, carries ID = OcmfRegistrationId(chain, meter, owner, op) and is signed by
// `r.ocmf_pubkey`. ok with the key's curve (as stored in OcmfMeterState.curve), else why not.
Status RequireOcmfProof(const pb::RegisterMeter& r, const BlockContext& ctx, const Address& op, uint32_t* curve);

// SubmitOcmf: stateless bounds (count, sizes); execution of every record (meters_ocmf.cc), each
// rejected one into `result` like a rejected reading (index = position in the batch).
Status CheckSubmitOcmf(const pb::SubmitOcmf& s);
Status ApplySubmitOcmf(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params, Overlay& state,
                       pb::TxResult* result);

// Start of the settlement interval holding second `t` (t >= 0, interval_s > 0).
inline int64_t SettlementIntervalStart(int64_t t, int64_t interval_s) { return t - t % interval_s; }

}  // namespace v2g
