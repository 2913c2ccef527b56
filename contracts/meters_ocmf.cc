// OCMF records as meter readings (contracts/meters.h "OCMF meters", docs/DESIGN.md "OCMF
// mapping"): a certified charger's signed record is checked whole, then each of its readings moves
// the meter's import or export register exactly as a native reading would.
#include <cctype>
#include <map>

#include "common/checked.h"
#include "common/limits.h"
#include "common/ocmf.h"
#include "common/signbytes.h"
#include "contracts/meters.h"
#include "contracts/state.h"

namespace v2g {
namespace {

std::string Num(int64_t v) { return std::to_string(v); }
// A length of time in milliseconds, "1500 ms" (never a point in time).
std::string MillisWords(int64_t ms) { return std::to_string(ms) + " ms"; }

// Most energy `max_w` moves in `span_ms` milliseconds, with the chain's tolerance: the native
// EnergyLimitWh at millisecond resolution (OCMF times are milliseconds), saturating.
int64_t EnergyLimitWhMs(int64_t max_w, int64_t span_ms, const pb::ParamsRecord& p) {
  V2G_ASSERT(max_w >= 0 && span_ms >= 0);
  // max_w <= 1e8, span_ms < 2^63, (1000 + permille) small: the product fits in 128 bits.
  const Int128 v = static_cast<Int128>(max_w) * span_ms * (1000 + p.reading_energy_tolerance_permille()) /
                       3'600'000'000 +
                   p.reading_energy_tolerance_wh();
  if (v > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(v);
}

// Whole watt-hours attested by a register at `value_mwh`: counted from the register's baseline
// and truncated, so the energy attested up to any reading is never more than what the meter
// measured since its baseline (rounding never creates energy; a span's share may carry up to
// 1 Wh measured in earlier spans, never more than all spans measured together).
int64_t AttestedWh(const pb::OcmfRegisterState& reg, int64_t value_mwh) {
  V2G_ASSERT(value_mwh >= reg.baseline_mwh());
  return (value_mwh - reg.baseline_mwh()) / 1000;
}

// The settlement interval (start, seconds) holding the instant `time_ms` when it ends a span:
// readings are points in time, and one at an interval's end closes that interval's last span.
int64_t IntervalEndingAt(int64_t time_ms, int64_t len_s) {
  const int64_t s = (time_ms > 0 ? time_ms - 1 : 0) / 1000;
  return SettlementIntervalStart(s, len_s);
}

// The running state of one record's application: nothing reaches `state` unless every reading
// of the record passes.
struct Staged {
  pb::MeterRecord meter;
  std::map<int64_t, pb::MeterIntervalRecord> intervals;  // by interval start; <= readings per record
};

pb::MeterIntervalRecord& StagedInterval(Staged& st, const KvReader& state, int64_t interval_s) {
  auto it = st.intervals.find(interval_s);
  if (it != st.intervals.end()) return it->second;
  pb::MeterIntervalRecord rec;
  if (auto stored = LoadMeterInterval(state, st.meter.meter_id(), interval_s)) {
    rec = *stored;
  } else {
    rec.set_interval_start_s(interval_s);  // span starts stay 0 until each register's first span
  }
  return st.intervals.emplace(interval_s, std::move(rec)).first->second;
}

// One reading of an accepted-so-far record. `index` names it in messages.
Status ApplyOcmfReading(const OcmfReading& rd, size_t index, const BlockContext& ctx, const pb::ParamsRecord& p,
                        const KvReader& state, Staged& st) {
  const std::string at = "RD[" + std::to_string(index) + "]";
  // Time status policy: S (synchronised) and I (informative: the meter's own clock, not legally
  // synchronised) place a reading on the real clock, and the ledger bounds it further (not before
  // registration, not in the future, not into a settled interval, never backwards). U (unknown)
  // and R (relative: time since the meter started) do not say when energy flowed, so they cannot
  // be put in a settlement interval.
  if (rd.time_status != 'S' && rd.time_status != 'I') {
    return Error(Code::kOcmfTimeUnreliable, at + ": time status '" + std::string(1, rd.time_status) +
                                                "' (only S synchronised and I informative times are placed in intervals)");
  }
  if (!rd.ef.empty() || rd.st != 'G') {
    return Error(Code::kOcmfMeterError, at + ": the meter reports error flags '" + rd.ef + "' / status '" +
                                            std::string(1, rd.st) + "' (only good readings attest energy)");
  }
  const pb::MeterRecord& m = st.meter;
  if (rd.time_ms < m.registered_time_ms()) {
    return Error(Code::kReadingBeforeRegistration, Text(at + ": time {time} is before meter '" + m.meter_id() +
                                                        "' was registered ({registered})")
                                                       .TimeMs("time", rd.time_ms)
                                                       .TimeMs("registered", m.registered_time_ms()));
  }
  if (static_cast<Int128>(rd.time_ms) > static_cast<Int128>(ctx.time_ms) + p.reading_future_skew_s() * 1000) {
    return Error(Code::kReadingInFuture, Text(at + ": time {time} is after the block time {now} (allowed skew " +
                                              DurationWords(p.reading_future_skew_s()) + ")")
                                             .TimeMs("time", rd.time_ms)
                                             .TimeMs("now", ctx.time_ms));
  }
  const int64_t len = p.settlement_interval_s();
  const int64_t interval = IntervalEndingAt(rd.time_ms, len);
  const Int128 settles_ms = (static_cast<Int128>(interval) + len + p.market_grace_s()) * 1000;
  if (static_cast<Int128>(ctx.time_ms) >= settles_ms) {
    return Error(Code::kReadingIntervalSettled, Text(at + ": the interval starting {interval} settled at {settled} "
                                                          "(block time {now})")
                                                    .Time("interval", interval)
                                                    .Time("settled", static_cast<int64_t>(settles_ms / 1000))
                                                    .TimeMs("now", ctx.time_ms));
  }
  pb::OcmfMeterState& os = *st.meter.mutable_ocmf();
  if (rd.time_ms < os.last_time_ms()) {
    return Error(Code::kReadingOverlap, Text(at + ": time {time} is before the meter's last accepted reading ({last})")
                                            .TimeMs("time", rd.time_ms)
                                            .TimeMs("last", os.last_time_ms()));
  }
  os.set_last_time_ms(rd.time_ms);
  if (rd.reg == OcmfRegister::kOther) return Status::Ok();  // carried, never counted as energy
  const bool is_import = rd.reg == OcmfRegister::kImport;
  pb::OcmfRegisterState& reg = is_import ? *os.mutable_import() : *os.mutable_export_();
  // One OBIS id per register for the meter's life: a meter that signs two (1-0 and 1-b, or AC and
  // DC) would otherwise have the difference between them counted as energy.
  if (reg.seen() && rd.ri != reg.ri()) {
    return Error(Code::kOcmfInvalid, at + ": " + std::string(is_import ? "import" : "export") + " register '" +
                                         rd.ri + "', the meter's is '" + reg.ri() + "'");
  }
  if (!reg.seen()) {  // the register's baseline attests nothing
    reg.set_seen(true);
    reg.set_ri(rd.ri);
    reg.set_baseline_mwh(rd.value_mwh);
    reg.set_last_mwh(rd.value_mwh);
    reg.set_last_time_ms(rd.time_ms);
    return Status::Ok();
  }
  if (rd.value_mwh < reg.last_mwh()) {
    return Error(Code::kReadingRegisterDecreased, at + ": " + std::string(is_import ? "import" : "export") +
                                                      " register went from " + Num(reg.last_mwh()) + " to " +
                                                      Num(rd.value_mwh) + " mWh");
  }
  const int64_t max_w = is_import ? m.max_import_w() : m.max_export_w();
  const int64_t delta = AttestedWh(reg, rd.value_mwh) - AttestedWh(reg, reg.last_mwh());
  const int64_t span_ms = rd.time_ms - reg.last_time_ms();
  if (const int64_t limit_wh = EnergyLimitWhMs(max_w, span_ms, p); delta > limit_wh) {
    return Error(Code::kReadingEnergyImpossible, at + ": " + Num(delta) + " Wh in " + MillisWords(span_ms) +
                                                     " exceeds the meter's limit of " + Num(limit_wh) + " Wh");
  }
  // The native rule: energy counts for an interval only when its whole span lies inside it.
  const int64_t from_ms = reg.last_time_ms();
  if (span_ms > 0 && SettlementIntervalStart(from_ms / 1000, len) == interval) {
    pb::MeterIntervalRecord& rec = StagedInterval(st, state, interval);
    // Each register is its own chain, with its own first span in the interval: import's start in
    // span_start_s (as a native meter's), export's in export_span_start_s (0: none yet).
    int64_t span_start_s = 0;
    if (is_import) {
      if (rec.span_start_s() == 0 || from_ms / 1000 < rec.span_start_s()) rec.set_span_start_s(from_ms / 1000);
      span_start_s = rec.span_start_s();
    } else {
      if (rec.export_span_start_s() == 0 || from_ms / 1000 < rec.export_span_start_s()) {
        rec.set_export_span_start_s(from_ms / 1000);
      }
      span_start_s = rec.export_span_start_s();
    }
    const int64_t total = (is_import ? rec.import_wh() : rec.export_wh()) + delta;  // both <= register
    // The per-interval bound, from the register's first attributed span in the interval (second
    // resolution: at most a second's power looser than the spans themselves).
    const int64_t limit = EnergyLimitWhMs(max_w, rd.time_ms - span_start_s * 1000, p);
    if (total > limit) {
      return Error(Code::kReadingEnergyImpossible, Text(at + ": the interval starting {interval} would hold " + Num(total) +
                                                        " Wh " + (is_import ? "import" : "export") +
                                                        ", more than the meter's " + Num(limit) + " Wh since {since}")
                                                       .Time("interval", interval)
                                                       .Time("since", span_start_s));
    }
    if (is_import) {
      rec.set_import_wh(total);
    } else {
      rec.set_export_wh(total);
    }
    rec.set_readings(rec.readings() + 1);
  } else if (is_import) {
    st.meter.set_unattributed_import_wh(st.meter.unattributed_import_wh() + delta);
  } else {
    st.meter.set_unattributed_export_wh(st.meter.unattributed_export_wh() + delta);
  }
  reg.set_last_mwh(rd.value_mwh);
  reg.set_last_time_ms(rd.time_ms);
  return Status::Ok();
}

// The PG as the ledger keys it: context letter and counter (the parser already refuses leading
// zeros; rebuilding it from the parsed parts keeps one spelling per counter whatever it allows).
std::string CanonicalPg(const OcmfRecord& r) { return std::string(1, r.pg_context) + std::to_string(r.pg_counter); }

// The record as kept: the signed payload byte for byte and a canonical signature section. What a
// submitter may add to the unsigned section (vendor fields, whitespace, base64 for hex) is dropped.
std::string CanonicalRecordText(const OcmfRecord& r) {
  std::string sd = HexEncode(r.signature_der);
  for (char& c : sd) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return "OCMF|" + r.payload + "|{\"SA\":\"" + r.signature_algorithm + "\",\"SD\":\"" + sd + "\"}";
}

// Pagination is the record's sequence number, per context: exactly the next counter (a skipped
// record would let a submitter drop a session's energy out of its intervals; a repeated one is a
// replay). A context's first record may carry any counter: the meter counted before it was
// registered. Counters from 2^63 are refused so next = counter + 1 never wraps.
Status CheckPagination(const pb::OcmfMeterState& os, const OcmfRecord& r, const std::string& id) {
  const uint64_t next = r.pg_context == 'T' ? os.next_pg_t() : os.next_pg_f();
  const std::string pg = CanonicalPg(r);
  if (r.pg_counter >= (uint64_t{1} << 63)) return Error(Code::kOcmfInvalid, "PG " + pg + " is out of range");
  if (next == 0) return Status::Ok();
  const std::string want = std::string(1, r.pg_context) + std::to_string(next);
  if (r.pg_counter < next) {
    return Error(Code::kOcmfDuplicate, "record " + pg + " of meter '" + id + "' was already accepted (next is " +
                                           want + ")");
  }
  if (r.pg_counter > next) {
    return Error(Code::kReadingSeqGap, "record " + pg + " of meter '" + id + "' skips ahead: the next is " + want);
  }
  return Status::Ok();
}

// The record's signature under `spki_der` (a key on `curve`, checked at registration), verified
// once per (key, signature, payload) however often the record is re-checked: the verdict is cached
// (forged ones too), and on a cache hit the key is not even decoded.
Status VerifyRecordCached(const OcmfRecord& rec, const std::string& spki_der, OcmfCurve curve, const std::string& who) {
  if (rec.curve != curve) {
    return Error(Code::kReadingBadSignature, "record is signed with " + std::string(OcmfCurveName(rec.curve)) + ", " +
                                                 who + " has a " + std::string(OcmfCurveName(curve)) + " key");
  }
  std::string material = "ocmf:";
  material += std::to_string(spki_der.size()) + ":" + std::to_string(rec.signature_der.size()) + ":" +
              std::to_string(rec.payload.size()) + ":";
  material += spki_der;
  material += rec.signature_der;
  material += rec.payload;
  material += rec.signature_algorithm;
  if (!CachedVerdict(material, [&] { return VerifyOcmf(rec, spki_der).ok(); })) {
    return Error(Code::kReadingBadSignature, "record " + CanonicalPg(rec) + " is not a strict-DER ECDSA signature of "
                                             "its payload by " + who + "'s key (v2g meter verify-ocmf says why)");
  }
  return Status::Ok();
}

Status ApplyOneOcmf(const pb::OcmfSubmission& sub, const CheckedTx& tx, const BlockContext& ctx,
                    const pb::ParamsRecord& p, Overlay& state, bool* signature_checked) {
  const std::string& id = sub.meter_id();
  std::optional<pb::MeterRecord> m;
  if (ValidMeterId(id)) m = LoadMeter(state, id);
  if (!m) {
    return Error(Code::kMeterUnregistered, ValidMeterId(id) ? "no meter '" + id + "' is registered"
                                                            : "meter id is not a valid id");
  }
  if (!m->active()) {
    return Error(Code::kMeterDeactivated, "meter '" + id + "' was deactivated at height " + Num(m->deactivated_height()));
  }
  if (m->key_type() != pb::METER_KEY_OCMF) {
    return Error(Code::kOcmfInvalid, "meter '" + id + "' is not an OCMF meter (its device signs native readings)");
  }
  auto rec = ParseOcmf(sub.record());
  if (!rec.ok()) {
    const Code code = rec.status().code() == Code::kReadingRegisterDecreased ? Code::kReadingRegisterDecreased
                                                                             : Code::kOcmfInvalid;
    return Error(code, "record: " + rec.status().message());
  }
  if (rec->ms != m->ocmf().meter_serial()) {
    return Error(Code::kOcmfInvalid, "record is from meter serial '" + rec->ms.substr(0, 64) + "', meter '" + id +
                                         "' is serial '" + m->ocmf().meter_serial() + "'");
  }
  const std::string pg = CanonicalPg(*rec);
  // The signature before the pagination: a forged record must not learn the meter's counters
  // (how many sessions it has had, when a new one starts), which are its owner's to know
  // (docs/DESIGN.md "Who may read what").
  *signature_checked = true;
  V2G_RETURN_IF_ERROR(VerifyRecordCached(*rec, m->device_pubkey(), static_cast<OcmfCurve>(m->ocmf().curve()),
                                         "meter '" + id + "'"));
  V2G_RETURN_IF_ERROR(CheckPagination(m->ocmf(), *rec, id));
  Staged st{*m, {}};
  for (size_t i = 0; i < rec->readings.size(); ++i) {
    V2G_RETURN_IF_ERROR(ApplyOcmfReading(rec->readings[i], i, ctx, p, state, st));
  }
  for (const auto& [interval, r] : st.intervals) state.Put(MeterIntervalKey(id, interval), Encode(r));
  pb::OcmfMeterState& os = *st.meter.mutable_ocmf();
  os.set_records_accepted(os.records_accepted() + 1);
  if (rec->pg_context == 'T') {
    if (os.next_pg_t() == 0) os.set_first_pg_t(rec->pg_counter);
    os.set_next_pg_t(rec->pg_counter + 1);
  } else {
    if (os.next_pg_f() == 0) os.set_first_pg_f(rec->pg_counter);
    os.set_next_pg_f(rec->pg_counter + 1);
  }
  st.meter.set_readings_accepted(st.meter.readings_accepted() + rec->readings.size());
  state.Put(MeterKey(id), Encode(st.meter));
  pb::OcmfRecordEntry e;
  e.set_record(CanonicalRecordText(*rec));
  e.set_height(ctx.height);
  e.set_tx_hash(std::string(tx.hash.begin(), tx.hash.end()));
  e.set_first_time_ms(rec->readings.front().time_ms);
  e.set_last_time_ms(rec->readings.back().time_ms);
  state.Put(OcmfRecordKey(id, pg), Encode(e));
  return Status::Ok();
}

}  // namespace

Status RequireOcmfProof(const pb::RegisterMeter& r, const BlockContext& ctx, const Address& op, uint32_t* curve) {
  auto key = ParseOcmfPublicKeyDer(r.ocmf_pubkey());
  if (!key.ok()) return Error(Code::kInvalidArgument, "register_meter ocmf_pubkey: " + key.status().message());
  auto rec = ParseOcmf(r.ocmf_proof_record());
  if (!rec.ok()) return Error(Code::kInvalidArgument, "register_meter ocmf_proof_record: " + rec.status().message());
  const std::string want = OcmfRegistrationId(ctx.chain_id, r.meter_id(), r.owner(), AddressBytes(op));
  if (rec->ms != r.ocmf_meter_serial() || rec->id != want) {
    return Error(Code::kBadSignature,
                 "register_meter ocmf_proof_record: the meter's proof must be a record of serial '" +
                     r.ocmf_meter_serial() + "' whose ID is " + want +
                     " (chain, meter, owner and this operator: v2g meter ocmf-id), got serial '" + rec->ms.substr(0, 64) +
                     "' and ID '" + rec->id.substr(0, 64) + "'");
  }
  Status st = VerifyRecordCached(*rec, key->der, key->curve, "the registered");
  if (!st.ok()) return Error(Code::kBadSignature, "register_meter ocmf_proof_record: " + st.message());
  *curve = static_cast<uint32_t>(key->curve);
  return Status::Ok();
}

std::string OcmfRecordPrefix(std::string_view meter_id) {
  return std::string(kMeterOcmfPrefix) + std::string(meter_id) + "/";
}
std::string OcmfRecordKey(std::string_view meter_id, std::string_view pg) {
  return OcmfRecordPrefix(meter_id) + std::string(pg);
}

std::optional<pb::OcmfRecordEntry> LoadOcmfRecord(const KvReader& kv, std::string_view meter_id, std::string_view pg) {
  auto raw = kv.Get(OcmfRecordKey(meter_id, pg));
  if (!raw) return std::nullopt;
  pb::OcmfRecordEntry e;
  V2G_ASSERT(e.ParseFromString(*raw));
  return e;
}

Status CheckSubmitOcmf(const pb::SubmitOcmf& s) {
  const int n = s.records_size();
  if (n == 0) return Error(Code::kInvalidArgument, "submit_ocmf carries no records");
  if (n > limits::kOcmfRecordsPerTxMax) {
    return Error(Code::kTooLarge, "submit_ocmf carries " + std::to_string(n) + " records, limit " +
                                      std::to_string(limits::kOcmfRecordsPerTxMax));
  }
  for (int i = 0; i < n; ++i) {
    const size_t size = s.records(i).record().size();
    if (size == 0 || size > kOcmfRecordBytesMax) {
      return Error(Code::kTooLarge, "submit_ocmf record " + std::to_string(i) + " is " + std::to_string(size) +
                                        " bytes (1.." + std::to_string(kOcmfRecordBytesMax) + ")");
    }
  }
  return Status::Ok();
}

Status ApplySubmitOcmf(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& p, Overlay& state,
                       pb::TxResult* result) {
  if (p.settlement_interval_s() <= 0) {
    return Error(Code::kInvalidArgument, "meters are not enabled on this chain (no settlement_interval_s param)");
  }
  const pb::SubmitOcmf& batch = tx.body.submit_ocmf();
  int accepted = 0;
  Status first_rejection;
  for (int i = 0; i < batch.records_size(); ++i) {
    bool signature_checked = false;
    Status st = ApplyOneOcmf(batch.records(i), tx, ctx, p, state, &signature_checked);
    if (st.ok()) {
      ++accepted;
      continue;
    }
    if (ctx.admission && accepted == 0 && signature_checked) {
      // As for native readings (BlockContext): a refused batch costs at most one verification.
      return Error(st.code(), "record " + std::to_string(i) + ": " + st.message() +
                                  "; a batch is refused at admission when the first record that gets to its "
                                  "signature check is refused");
    }
    if (first_rejection.ok()) first_rejection = Error(st.code(), "record " + std::to_string(i) + ": " + st.message());
    AddRejected(result, i, st);
  }
  // A batch that brings nothing fails (at admission, so it never reaches a block): otherwise its
  // verification work and its place in a block would cost the sender nothing (docs/DESIGN.md
  // "The cost of state").
  if (accepted == 0) {
    return Error(first_rejection.code(), "no OCMF record of the batch was accepted; " + first_rejection.message());
  }
  if (result) {
    result->set_log(std::to_string(accepted) + " of " + std::to_string(batch.records_size()) + " OCMF records accepted");
  }
  return Status::Ok();
}

}  // namespace v2g
