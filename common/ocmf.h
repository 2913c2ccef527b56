// OCMF (Open Charge Metering Format, S.A.F.E. e.V., revision 1.2): signed meter records from
// certified chargers, the format behind Germany's Eichrecht and OCPP 2.0.1 SignedMeterValue.
//
// A record is the text `OCMF|<payload JSON>|<signature JSON>`. The meter signs the exact payload
// bytes (ECDSA over SHA-256); its public key (DER SubjectPublicKeyInfo) reaches the verifier by
// another path: here, the operator registers it with the meter.
//
// This module reads and verifies records and nothing else: what the ledger does with the readings
// (registers, intervals, replay by PG) belongs to contracts/meters. It runs inside consensus, so it
// is deterministic: integers only (no floating point, no locale, no clock), a strict JSON reader
// (common/strict_json.h) and a bound on everything (the k...Max constants below).
//
// Parsing rules (docs/DESIGN.md "OCMF records" says why):
//   - Split: the record is "OCMF|" + payload + "|" + signature and contains exactly two '|'. The
//     spec forbids '|' inside a section, so any other count is refused rather than guessed at.
//   - Both sections are JSON objects; duplicate keys, unknown keys outside the spec's extension
//     ranges and wrong types are refused.
//   - Within a record, a reading may omit TX, RI, RU, RT, EF and ST: they keep the previous
//     reading's value (spec: "fields that have an identical value to the previous reading are
//     omitted"). TM and RV are required in every reading; readings that only signal an event (no
//     RV) are not supported.
//   - RV is read exactly from its text into milliwatt-hours; digits finer than 1 mWh are dropped
//     (truncation toward zero: rounding never creates energy).
//   - A register (same RI) never decreases within a record, and times never go backwards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace v2g {

// A whole record. Real records are 0.5-2 KiB; 8 KiB leaves room for 64 readings with long
// identification fields while fitting a default-size tx (16 KiB) together with its envelope.
constexpr size_t kOcmfRecordBytesMax = 8 * 1024;
// Readings in one record: a session's begin, end and quarter-hour tariff readings, ~15 hours of
// one register or ~7.5 hours of import and export.
constexpr size_t kOcmfReadingsMax = 64;
// Any string value or key: the longest spec field is TT (250 characters).
constexpr size_t kOcmfStringBytesMax = 256;
// A number token such as "2935.60": 14 integer digits of kWh already overflow int64 mWh; 32
// leaves room for fraction digits and an exponent.
constexpr size_t kOcmfNumberCharsMax = 32;
// The spec's nesting is payload -> RD -> reading (and LC, IF): depth 3; 4 leaves one level for
// vendor extension fields.
constexpr size_t kOcmfJsonDepthMax = 4;
// A DER ECDSA signature on a 384-bit curve is at most 104 bytes.
constexpr size_t kOcmfSignatureBytesMax = 128;
// A DER SubjectPublicKeyInfo of an uncompressed 384-bit EC point is 120 bytes.
constexpr size_t kOcmfPublicKeyBytesMax = 256;

// The curves of the spec's signature algorithms that we accept. secp192k1 and secp192r1 are in
// the spec but refused: 96-bit security is below what anyone may rely on for money.
// Stored on chain by number (OcmfMeterState.curve): append only, never reorder.
enum class OcmfCurve { kSecp256r1, kSecp256k1, kBrainpool256r1, kSecp384r1, kBrainpool384r1 };

// The spec's curve name ("secp256r1", "brainpool256r1", ...).
std::string_view OcmfCurveName(OcmfCurve curve);
// OpenSSL's name of the curve's group ("prime256v1", "brainpoolP256r1", ...).
std::string_view OcmfCurveOpenSslGroup(OcmfCurve curve);

// SA values: "ECDSA-<curve>-SHA256". Every algorithm of the spec hashes with SHA-256, the
// 384-bit curves included.
constexpr std::string_view kOcmfDefaultSignatureAlgorithm = "ECDSA-secp256r1-SHA256";
constexpr std::string_view kOcmfDefaultSignatureEncoding = "hex";
constexpr std::string_view kOcmfDefaultSignatureMime = "application/x-der";

// What a reading measured, from its OBIS id (RI). Import: "1-b:1.8.0" or "1-0:1.8.0" (active
// energy delivered to the vehicle); export: "1-b:2.8.0" or "1-0:2.8.0" (active energy fed back).
// Any other id is kOther: carried and checked for monotonicity but never counted as energy.
enum class OcmfRegister { kImport, kExport, kOther };

struct OcmfReading {
  int64_t time_ms = 0;     // TM as Unix milliseconds (UTC; the +hhmm offset applied exactly)
  int32_t utc_offset_min = 0;  // TM's +hhmm: the zone the meter showed the time in (display only)
  char time_status = 'U';  // TM's suffix: U unknown, I informative, S synchronised, R relative
  std::string tx;          // TX (inherited): "" (no transaction: fiscal), B C X E L R A P S T
  std::string ri;          // RI (inherited): OBIS id as written, e.g. "1-b:1.8.0"
  OcmfRegister reg = OcmfRegister::kOther;
  std::string ru;                 // RU (inherited): "kWh" or "Wh"
  std::string rv_text;            // RV exactly as written, e.g. "2935.60"
  int64_t value_mwh = 0;          // RV in milliwatt-hours, truncated toward zero
  std::string rt;                 // RT (inherited): "", "AC" or "DC"
  std::optional<int64_t> cl_mwh;  // CL (cumulated loss, same unit as RV), truncated; not inherited
  std::string ef;                 // EF (inherited): error flags, each of 'E' (energy), 't' (time)
  char st = 'G';                  // ST (inherited): meter status, table 10 (G good, ...)
};

struct OcmfRecord {
  std::string text;     // the whole record exactly as given
  std::string payload;  // the exact signed bytes between the two '|'
  // General and meter identification (absent fields are ""): format version, gateway
  // identification, serial and version; meter vendor, model, serial (required) and firmware.
  std::string fv, gi, gs, gv, mv, mm, ms, mf;
  // PG (required): context 'T' (transaction) or 'F' (fiscal) and its counter.
  std::string pg;
  char pg_context = 'T';
  uint64_t pg_counter = 0;
  // User assignment and charge point (all optional, kept for display).
  std::optional<bool> is;
  std::string il, it, id, tt, ct, ci, ccv;
  std::vector<std::string> identification_flags;  // IF
  std::vector<OcmfReading> readings;              // RD: 1..kOcmfReadingsMax
  // Signature section, with the spec's defaults applied when a field is absent.
  std::string signature_algorithm;  // SA
  OcmfCurve curve = OcmfCurve::kSecp256r1;
  std::string signature_encoding;  // SE: "hex" or "base64"
  std::string signature_mime;      // SM: "application/x-der"
  std::string signature_der;       // SD decoded (not yet checked to be DER: VerifyOcmf does)
};

// Parses one record (no trailing newline). Never verifies the signature. Errors: kTooLarge (a
// bound above), kMalformed (not "OCMF|..|..", bad JSON, duplicate key, bad hex/base64),
// kInvalidArgument (a missing, unknown or ill-typed field, a bad time or value, an unsupported
// algorithm, encoding or mime type), kOverflow (a value past int64 mWh), kReadingRegisterDecreased
// (a register goes down or time goes backwards within the record). Messages name the field and
// the reading ("RD[2].RV: ...").
Result<OcmfRecord> ParseOcmf(std::string_view text);

// RV text ("2935.60", "1.2345678", "5e3") in unit `ru` ("kWh" or "Wh") -> mWh, exactly, digits
// finer than 1 mWh truncated. Refuses negative values and values past int64.
Result<int64_t> ParseOcmfEnergyMwh(std::string_view number, std::string_view ru);

// TM ("2018-07-24T13:22:04,000+0200 S") -> Unix ms, the zone offset and the time-status letter.
struct OcmfTime {
  int64_t unix_ms = 0;
  int32_t utc_offset_min = 0;  // minutes east of UTC, at most 14 hours either way
  char status = 'U';
};
Result<OcmfTime> ParseOcmfTime(std::string_view tm);

// A meter's public key, validated: an EC key on a supported named curve, the point on the curve,
// in the one canonical encoding (DER SubjectPublicKeyInfo, named curve, uncompressed point), so
// one key has exactly one byte string (the ledger refuses a device key used by two meters).
// Errors: kInvalidArgument (not a DER SubjectPublicKeyInfo, trailing bytes, not EC, an explicit
// or unsupported curve, a point not on the curve, not the canonical encoding, whose hex the
// message shows), kTooLarge.
struct OcmfPublicKey {
  std::string der;  // canonical DER SubjectPublicKeyInfo
  OcmfCurve curve = OcmfCurve::kSecp256r1;
};
Result<OcmfPublicKey> ParseOcmfPublicKeyDer(std::string_view der);
// The same from hex (as OCMF tools and the CLI write keys); also kMalformed (not hex).
Result<OcmfPublicKey> ParseOcmfPublicKeyHex(std::string_view hex);

// Verifies `record`'s signature with `spki_der` (a DER SubjectPublicKeyInfo: the registered key).
// The key must be an EC key on the curve SA names (in any valid DER encoding: the ledger stores
// the canonical one from ParseOcmfPublicKeyDer, which also ran the full key check); SD must be
// strictly DER-encoded (re-encoding gives the same bytes, nothing trailing); ECDSA with SHA-256
// over the exact payload bytes must verify. Errors: kInvalidArgument (the key), kBadSignature
// (curve mismatch, not strict DER, does not verify), each message saying which.
Status VerifyOcmf(const OcmfRecord& record, std::string_view spki_der);

// Signs and verifies on every accepted curve with the linked libcrypto (and sees a changed payload
// fail): a validator whose libcrypto lacks a curve (some distributions build without brainpool or
// secp256k1) would refuse records the others accept and leave consensus, so v2gd refuses to start.
Status OcmfSelfTest();

}  // namespace v2g
