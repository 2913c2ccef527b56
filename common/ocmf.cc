// OCMF parsing: the record split, the payload and signature sections, readings, RV and TM.
// Signature verification and public keys are in ocmf_verify.cc.
#include "common/ocmf.h"

#include <algorithm>
#include <array>
#include <utility>

#include "common/bytes.h"
#include "common/checked.h"
#include "common/strict_json.h"
#include "common/time.h"

namespace v2g {
namespace {

Status Invalid(const std::string& what) { return Error(Code::kInvalidArgument, what); }

JsonLimits OcmfJsonLimits() {
  JsonLimits l;
  l.depth_max = kOcmfJsonDepthMax;
  l.string_bytes_max = kOcmfStringBytesMax;
  l.number_chars_max = kOcmfNumberCharsMax;
  l.members_max = 64;  // the spec names 21 payload fields; vendors add a few
  l.items_max = kOcmfReadingsMax;
  return l;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool OneOf(std::string_view value, std::initializer_list<std::string_view> allowed) {
  return std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

// Vendor extension keys (spec "Extension Points"): top-level names starting with U-Z, and in the
// signature section also A-F (reserved for later processing, outside the signed bytes).
bool IsPayloadExtensionKey(std::string_view k) { return !k.empty() && k[0] >= 'U' && k[0] <= 'Z'; }
bool IsSignatureExtensionKey(std::string_view k) {
  return IsPayloadExtensionKey(k) || (!k.empty() && k[0] >= 'A' && k[0] <= 'F');
}

Status WantType(const JsonValue& v, JsonValue::Type type, const std::string& field) {
  if (v.type == type) return Status::Ok();
  return Invalid(field + " must be a JSON " + std::string(JsonTypeName(type)) + ", not a " +
                 std::string(JsonTypeName(v.type)));
}

Status GetString(const JsonValue& v, const std::string& field, std::string& out) {
  V2G_RETURN_IF_ERROR(WantType(v, JsonValue::Type::kString, field));
  out = v.text;
  return Status::Ok();
}

// ---- RV ----

// Decimal digits -> int64, or nullopt past int64.
std::optional<int64_t> DigitsToInt64(std::string_view digits) {
  int64_t v = 0;
  for (char c : digits) {
    auto m = CheckedMul(v, 10);
    if (!m) return std::nullopt;
    auto a = CheckedAdd(*m, c - '0');
    if (!a) return std::nullopt;
    v = *a;
  }
  return v;
}

// ---- PG ----

Status ParsePagination(const std::string& pg, OcmfRecord& r) {
  auto bad = [&] {
    return Invalid("PG '" + pg +
                   "' is not a pagination like \"T12\" or \"F3\" (T or F, then a number without "
                   "leading zeros)");
  };
  if (pg.size() < 2 || pg.size() > 19 || (pg[0] != 'T' && pg[0] != 'F')) return bad();
  std::string_view digits = std::string_view(pg).substr(1);
  if (!std::all_of(digits.begin(), digits.end(), IsDigit)) return bad();
  if (digits.size() > 1 && digits[0] == '0') return bad();
  r.pg = pg;
  r.pg_context = pg[0];
  r.pg_counter = static_cast<uint64_t>(*DigitsToInt64(digits));  // <= 18 digits: fits
  return Status::Ok();
}

// ---- payload ----

Status ParseLossCompensation(const JsonValue& lc) {
  V2G_RETURN_IF_ERROR(WantType(lc, JsonValue::Type::kObject, "LC"));
  for (const auto& [k, v] : lc.members) {
    if (k == "LN" || k == "LU") {
      V2G_RETURN_IF_ERROR(WantType(v, JsonValue::Type::kString, "LC." + k));
    } else if (k == "LI" || k == "LR") {
      V2G_RETURN_IF_ERROR(WantType(v, JsonValue::Type::kNumber, "LC." + k));
    } else {
      return Invalid("LC: unknown field '" + k + "'");
    }
  }
  if (!lc.Find("LR") || !lc.Find("LU")) return Invalid("LC: LR and LU are required");
  if (!OneOf(lc.Find("LU")->text, {"mOhm", "uOhm"}))
    return Invalid("LC.LU '" + lc.Find("LU")->text + "' is not mOhm or uOhm");
  return Status::Ok();
}

Status ParseIdentificationFlags(const JsonValue& v, OcmfRecord& r) {
  V2G_RETURN_IF_ERROR(WantType(v, JsonValue::Type::kArray, "IF"));
  if (v.items.size() > 4) return Invalid("IF has more than 4 flags");
  for (size_t i = 0; i < v.items.size(); ++i) {
    std::string flag;
    V2G_RETURN_IF_ERROR(GetString(v.items[i], "IF[" + std::to_string(i) + "]", flag));
    r.identification_flags.push_back(std::move(flag));
  }
  return Status::Ok();
}

// The string-valued payload fields and where each goes.
std::string* PayloadStringField(std::string_view k, OcmfRecord& r) {
  const std::array<std::pair<std::string_view, std::string*>, 15> fields = {{
      {"FV", &r.fv},
      {"GI", &r.gi},
      {"GS", &r.gs},
      {"GV", &r.gv},
      {"MV", &r.mv},
      {"MM", &r.mm},
      {"MS", &r.ms},
      {"MF", &r.mf},
      {"IL", &r.il},
      {"IT", &r.it},
      {"ID", &r.id},
      {"TT", &r.tt},
      {"CT", &r.ct},
      {"CI", &r.ci},
      {"CCV", &r.ccv},
  }};
  for (const auto& [name, dest] : fields) {
    if (name == k) return dest;
  }
  return nullptr;
}

Status ParseReadings(const JsonValue& rd, OcmfRecord& r);

Status ParsePayload(const JsonValue& p, OcmfRecord& r) {
  const JsonValue* rd = nullptr;
  std::string pg;
  bool has_pg = false;
  for (const auto& [k, v] : p.members) {
    if (std::string* dest = PayloadStringField(k, r)) {
      V2G_RETURN_IF_ERROR(GetString(v, k, *dest));
    } else if (k == "PG") {
      V2G_RETURN_IF_ERROR(GetString(v, k, pg));
      has_pg = true;
    } else if (k == "IS") {
      V2G_RETURN_IF_ERROR(WantType(v, JsonValue::Type::kBool, k));
      r.is = v.boolean;
    } else if (k == "IF") {
      V2G_RETURN_IF_ERROR(ParseIdentificationFlags(v, r));
    } else if (k == "LC") {
      V2G_RETURN_IF_ERROR(ParseLossCompensation(v));
    } else if (k == "RD") {
      rd = &v;
    } else if (!IsPayloadExtensionKey(k)) {
      // A field we do not know might change what the readings mean: refuse rather than ignore.
      return Invalid("payload: unknown field '" + k + "' (vendor fields start with U-Z)");
    }
  }
  if (!has_pg) return Invalid("payload: PG (pagination) is required");
  V2G_RETURN_IF_ERROR(ParsePagination(pg, r));
  if (!p.Find("MS") || r.ms.empty()) return Invalid("payload: MS (meter serial) is required");
  if (rd == nullptr) return Invalid("payload: RD (readings) is required");
  return ParseReadings(*rd, r);
}

// ---- readings ----

OcmfRegister RegisterOf(std::string_view ri) {
  if (ri == "1-b:1.8.0" || ri == "1-0:1.8.0") return OcmfRegister::kImport;
  if (ri == "1-b:2.8.0" || ri == "1-0:2.8.0") return OcmfRegister::kExport;
  return OcmfRegister::kOther;
}

// The fields of a reading whose values come from the spec's tables.
Status CheckCodes(const std::string& at, const OcmfReading& r) {
  if (!OneOf(r.ru, {"kWh", "Wh"}))
    return Invalid(at + ".RU '" + r.ru + "' is not an energy unit (kWh or Wh)");
  if (!OneOf(r.tx, {"", "B", "C", "X", "E", "L", "R", "A", "P", "S", "T"}))
    return Invalid(at + ".TX '" + r.tx + "' is not one of B C X E L R A P S T");
  if (!OneOf(r.rt, {"", "AC", "DC"})) return Invalid(at + ".RT '" + r.rt + "' is not AC or DC");
  for (char c : r.ef) {
    if (c != 'E' && c != 't') return Invalid(at + ".EF '" + r.ef + "' has a flag other than E, t");
  }
  return Status::Ok();
}

// One reading's own fields; `prev` (null for the first) supplies what it omits.
Status ParseReading(const JsonValue& v, const std::string& at, const OcmfReading* prev,
                    OcmfReading& out) {
  V2G_RETURN_IF_ERROR(WantType(v, JsonValue::Type::kObject, at));
  if (prev != nullptr) {
    out.tx = prev->tx, out.ri = prev->ri, out.ru = prev->ru, out.rt = prev->rt;
    out.ef = prev->ef, out.st = prev->st;
  }
  const JsonValue *tm = nullptr, *rv = nullptr, *cl = nullptr, *ri = nullptr, *ru = nullptr;
  const JsonValue* st = nullptr;
  for (const auto& [k, f] : v.members) {
    const std::string name = at + "." + k;
    if (k == "TM" || k == "TX" || k == "RI" || k == "RU" || k == "RT" || k == "EF" || k == "ST") {
      V2G_RETURN_IF_ERROR(WantType(f, JsonValue::Type::kString, name));
    } else if (k == "RV" || k == "CL") {
      V2G_RETURN_IF_ERROR(WantType(f, JsonValue::Type::kNumber, name));
    } else {
      return Invalid(at + ": unknown field '" + k + "'");
    }
    if (k == "TM") tm = &f;
    if (k == "RV") rv = &f;
    if (k == "CL") cl = &f;
    if (k == "RI") ri = &f;
    if (k == "RU") ru = &f;
    if (k == "ST") st = &f;
    if (k == "TX") out.tx = f.text;
    if (k == "RT") out.rt = f.text;
    if (k == "EF") out.ef = f.text;
  }
  if (tm == nullptr) return Invalid(at + ": TM (time) is required");
  auto time = ParseOcmfTime(tm->text);
  if (!time.ok()) return Invalid(at + ".TM: " + time.status().message());
  out.time_ms = time->unix_ms;
  out.utc_offset_min = time->utc_offset_min;
  out.time_status = time->status;
  if (rv == nullptr)
    return Invalid(at +
                   ": RV (value) is required (readings that only signal an event are not "
                   "supported)");
  if ((ri == nullptr) != (ru == nullptr))
    return Invalid(at + ": RI and RU must both be present or both omitted (a group in the spec)");
  if (ri != nullptr) out.ri = ri->text, out.ru = ru->text;
  if (ri != nullptr && out.ri.empty()) return Invalid(at + ".RI is empty");
  if (out.ri.empty()) return Invalid(at + ": RI (OBIS id) is required in the first reading");
  out.reg = RegisterOf(out.ri);
  V2G_RETURN_IF_ERROR(CheckCodes(at, out));
  if (st != nullptr) {
    if (st->text.size() != 1 ||
        std::string_view("NGTDRMXIOSEF").find(st->text[0]) == std::string_view::npos)
      return Invalid(at + ".ST '" + st->text + "' is not a meter status (N G T D R M X I O S E F)");
    out.st = st->text[0];
  } else if (prev == nullptr) {
    return Invalid(at + ": ST (meter status) is required in the first reading");
  }
  auto value = ParseOcmfEnergyMwh(rv->text, out.ru);
  if (!value.ok()) return Error(value.status().code(), at + ".RV: " + value.status().message());
  out.rv_text = rv->text;
  out.value_mwh = *value;
  if (cl != nullptr) {
    auto loss = ParseOcmfEnergyMwh(cl->text, out.ru);
    if (!loss.ok()) return Error(loss.status().code(), at + ".CL: " + loss.status().message());
    out.cl_mwh = *loss;
  }
  return Status::Ok();
}

// Time never goes back, and a register (same RI) never goes down, within one record: the meter
// signed both values, so a decrease is a faulty or forged meter, never energy.
Status CheckOrder(const std::vector<OcmfReading>& rs) {
  for (size_t i = 1; i < rs.size(); ++i) {
    const std::string at = "RD[" + std::to_string(i) + "]";
    if (rs[i].time_ms < rs[i - 1].time_ms)
      return Error(Code::kReadingRegisterDecreased,
                   at + ".TM is before RD[" + std::to_string(i - 1) + "].TM: time goes backwards");
    for (size_t j = i; j-- > 0;) {
      if (rs[j].ri != rs[i].ri) continue;
      if (rs[i].value_mwh < rs[j].value_mwh) {
        return Error(Code::kReadingRegisterDecreased,
                     at + ".RV: register " + rs[i].ri + " goes down from " +
                         std::to_string(rs[j].value_mwh) + " mWh (RD[" + std::to_string(j) +
                         "]) to " + std::to_string(rs[i].value_mwh) + " mWh");
      }
      break;
    }
  }
  return Status::Ok();
}

Status ParseReadings(const JsonValue& rd, OcmfRecord& r) {
  V2G_RETURN_IF_ERROR(WantType(rd, JsonValue::Type::kArray, "RD"));
  if (rd.items.empty()) return Invalid("RD has no readings");
  V2G_ASSERT(rd.items.size() <= kOcmfReadingsMax);  // the JSON limit
  for (size_t i = 0; i < rd.items.size(); ++i) {
    OcmfReading reading;
    V2G_RETURN_IF_ERROR(ParseReading(rd.items[i], "RD[" + std::to_string(i) + "]",
                                     r.readings.empty() ? nullptr : &r.readings.back(), reading));
    r.readings.push_back(std::move(reading));
  }
  return CheckOrder(r.readings);
}

// ---- signature section ----

// Strict base64 (RFC 4648 standard alphabet, '=' padding required, unused bits zero).
Result<std::string> Base64Decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  auto bad = [] { return Error(Code::kMalformed, "SD is not canonical base64"); };
  if (in.size() % 4 != 0) return bad();
  std::string out;
  for (size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    const size_t pad = last ? (in[i + 3] == '=') + (in[i + 2] == '=' && in[i + 3] == '=') : 0;
    uint32_t acc = 0;
    for (size_t j = 0; j < 4; ++j) {
      const int v = j >= 4 - pad ? 0 : value(in[i + j]);
      if (v < 0) return bad();
      acc = acc << 6 | static_cast<uint32_t>(v);
    }
    if ((pad == 1 && (acc & 0xFF) != 0) || (pad == 2 && (acc & 0xFFFF) != 0)) return bad();
    out += static_cast<char>(acc >> 16);
    if (pad < 2) out += static_cast<char>((acc >> 8) & 0xFF);
    if (pad < 1) out += static_cast<char>(acc & 0xFF);
  }
  return out;
}

Result<OcmfCurve> CurveOfAlgorithm(std::string_view sa) {
  static constexpr std::array<std::pair<std::string_view, OcmfCurve>, 5> kAlgorithms = {{
      {"ECDSA-secp256r1-SHA256", OcmfCurve::kSecp256r1},
      {"ECDSA-secp256k1-SHA256", OcmfCurve::kSecp256k1},
      {"ECDSA-brainpool256r1-SHA256", OcmfCurve::kBrainpool256r1},
      {"ECDSA-secp384r1-SHA256", OcmfCurve::kSecp384r1},
      {"ECDSA-brainpool384r1-SHA256", OcmfCurve::kBrainpool384r1},
  }};
  for (const auto& [name, curve] : kAlgorithms) {
    if (name == sa) return curve;
  }
  if (sa == "ECDSA-secp192k1-SHA256" || sa == "ECDSA-secp192r1-SHA256")
    return Invalid("SA '" + std::string(sa) + "' is refused: 192-bit curves are too weak");
  return Invalid("SA '" + std::string(sa) + "' is not a supported signature algorithm");
}

Status ParseSignature(const JsonValue& s, OcmfRecord& r) {
  r.signature_algorithm = kOcmfDefaultSignatureAlgorithm;
  r.signature_encoding = kOcmfDefaultSignatureEncoding;
  r.signature_mime = kOcmfDefaultSignatureMime;
  const JsonValue* sd = nullptr;
  for (const auto& [k, v] : s.members) {
    if (k == "SA") {
      V2G_RETURN_IF_ERROR(GetString(v, k, r.signature_algorithm));
    } else if (k == "SE") {
      V2G_RETURN_IF_ERROR(GetString(v, k, r.signature_encoding));
    } else if (k == "SM") {
      V2G_RETURN_IF_ERROR(GetString(v, k, r.signature_mime));
    } else if (k == "SD") {
      V2G_RETURN_IF_ERROR(WantType(v, JsonValue::Type::kString, k));
      sd = &v;
    } else if (!IsSignatureExtensionKey(k)) {
      return Invalid("signature: unknown field '" + k + "' (extensions start with A-F or U-Z)");
    }
  }
  auto curve = CurveOfAlgorithm(r.signature_algorithm);
  if (!curve.ok()) return curve.status();
  r.curve = *curve;
  if (!OneOf(r.signature_encoding, {"hex", "base64"}))
    return Invalid("SE '" + r.signature_encoding + "' is not hex or base64");
  if (r.signature_mime != kOcmfDefaultSignatureMime)
    return Invalid("SM '" + r.signature_mime + "' is not application/x-der");
  if (sd == nullptr) return Invalid("signature: SD (signature data) is required");
  if (sd->text.empty()) return Invalid("signature: SD is empty");
  if (r.signature_encoding == "hex") {
    if (sd->text.size() >= 2 && sd->text[0] == '0' && (sd->text[1] == 'x' || sd->text[1] == 'X'))
      return Error(Code::kMalformed, "SD is not hex (no 0x prefix)");
    auto raw = HexDecode(sd->text);
    if (!raw.ok()) return Error(Code::kMalformed, "SD is not hex: " + raw.status().message());
    r.signature_der = ToString(*raw);
  } else {
    auto raw = Base64Decode(sd->text);
    if (!raw.ok()) return raw.status();
    r.signature_der = std::move(*raw);
  }
  if (r.signature_der.size() > kOcmfSignatureBytesMax)
    return Error(Code::kTooLarge,
                 "SD is longer than " + std::to_string(kOcmfSignatureBytesMax) + " bytes");
  return Status::Ok();
}

}  // namespace

std::string_view OcmfCurveName(OcmfCurve curve) {
  switch (curve) {
    case OcmfCurve::kSecp256r1:
      return "secp256r1";
    case OcmfCurve::kSecp256k1:
      return "secp256k1";
    case OcmfCurve::kBrainpool256r1:
      return "brainpool256r1";
    case OcmfCurve::kSecp384r1:
      return "secp384r1";
    case OcmfCurve::kBrainpool384r1:
      return "brainpool384r1";
  }
  V2G_ASSERT(false);
  return "";
}

Result<int64_t> ParseOcmfEnergyMwh(std::string_view number, std::string_view ru) {
  const std::string shown = "'" + std::string(number) + "'";
  int unit_exp = 0;
  if (ru == "kWh") {
    unit_exp = 6;
  } else if (ru == "Wh") {
    unit_exp = 3;
  } else {
    return Invalid("unit '" + std::string(ru) + "' is not kWh or Wh");
  }
  if (number.size() > kOcmfNumberCharsMax) return Error(Code::kTooLarge, shown + " is too long");
  if (!number.empty() && number[0] == '-') return Invalid(shown + " is negative");
  // digits [. digits] [e|E [+|-] digits]
  size_t pos = 0;
  std::string mantissa;
  while (pos < number.size() && IsDigit(number[pos])) mantissa += number[pos++];
  if (mantissa.empty()) return Invalid(shown + " is not a decimal number");
  int64_t frac_digits = 0;
  if (pos < number.size() && number[pos] == '.') {
    ++pos;
    while (pos < number.size() && IsDigit(number[pos])) mantissa += number[pos++], ++frac_digits;
    if (frac_digits == 0) return Invalid(shown + " is not a decimal number");
  }
  int64_t exp = 0;
  if (pos < number.size() && (number[pos] == 'e' || number[pos] == 'E')) {
    ++pos;
    bool neg = false;
    if (pos < number.size() && (number[pos] == '+' || number[pos] == '-'))
      neg = number[pos++] == '-';
    const size_t start = pos;
    while (pos < number.size() && IsDigit(number[pos])) {
      exp = std::min<int64_t>(exp * 10 + (number[pos++] - '0'), 1000000);  // clamped: still exact
    }
    if (pos == start) return Invalid(shown + " is not a decimal number");
    if (neg) exp = -exp;
  }
  if (pos != number.size()) return Invalid(shown + " is not a decimal number");
  // value_mwh = mantissa x 10^shift, exactly; a negative shift drops digits (truncation).
  const size_t first = mantissa.find_first_not_of('0');
  if (first == std::string::npos) return int64_t{0};
  std::string digits = mantissa.substr(first);
  const int64_t shift = exp - frac_digits + unit_exp;
  if (shift < 0) {
    const auto drop = static_cast<uint64_t>(-shift);
    if (drop >= digits.size()) return int64_t{0};
    digits.resize(digits.size() - drop);
  } else {
    if (static_cast<int64_t>(digits.size()) + shift > 19)
      return Error(Code::kOverflow, shown + " " + std::string(ru) + " is past the int64 mWh range");
    digits.append(static_cast<size_t>(shift), '0');
  }
  auto v = DigitsToInt64(digits);
  if (!v)
    return Error(Code::kOverflow, shown + " " + std::string(ru) + " is past the int64 mWh range");
  V2G_ASSERT(*v >= 0);
  return *v;
}

Result<OcmfTime> ParseOcmfTime(std::string_view tm) {
  // 2018-07-24T13:22:04,000+0200 S
  // 0123456789012345678901234567890
  auto bad = [&](const std::string& why) {
    return Invalid("'" + std::string(tm) +
                   "' is not an OCMF time like 2018-07-24T13:22:04,000+0200 S (" + why + ")");
  };
  if (tm.size() != 30) return bad("wrong length");
  if (tm[19] != ',') return bad("milliseconds follow a ','");
  for (size_t i : {20, 21, 22, 24, 25, 26, 27}) {
    if (!IsDigit(tm[i])) return bad("digits expected");
  }
  if (tm[23] != '+' && tm[23] != '-') return bad("the zone is +hhmm or -hhmm");
  if (tm[28] != ' ') return bad("a space before the time status");
  const char status = tm[29];
  if (status != 'U' && status != 'I' && status != 'S' && status != 'R')
    return bad("time status must be U, I, S or R");
  // The date and clock part through the RFC 3339 parser (exact calendar arithmetic, no impossible
  // dates), as if it were UTC; then the zone offset is taken off.
  std::string utc(tm.substr(0, 19));
  utc += "." + std::string(tm.substr(20, 3)) + "Z";
  auto local_ms = ParseRfc3339Ms(utc);
  if (!local_ms.ok()) return bad("no such date or time");
  const int64_t oh = (tm[24] - '0') * 10 + (tm[25] - '0');
  const int64_t om = (tm[26] - '0') * 10 + (tm[27] - '0');
  if (om > 59 || oh > 14 || (oh == 14 && om > 0)) return bad("zone offset beyond +-14:00");
  const int64_t offset_min = (oh * 60 + om) * (tm[23] == '-' ? -1 : 1);
  OcmfTime t;
  t.unix_ms = *local_ms - offset_min * 60000;  // local = UTC + offset
  t.utc_offset_min = static_cast<int32_t>(offset_min);
  t.status = status;
  if (t.unix_ms < 0) return bad("before 1970-01-01T00:00:00Z");
  return t;
}

Result<OcmfRecord> ParseOcmf(std::string_view text) {
  if (text.size() > kOcmfRecordBytesMax)
    return Error(Code::kTooLarge, "record is " + std::to_string(text.size()) +
                                      " bytes, more than " + std::to_string(kOcmfRecordBytesMax));
  constexpr std::string_view kHeader = "OCMF|";
  if (text.substr(0, kHeader.size()) != kHeader)
    return Error(Code::kMalformed, "record does not start with 'OCMF|'");
  const auto pipes = std::count(text.begin(), text.end(), '|');
  if (pipes != 2)
    return Error(Code::kMalformed, "record has " + std::to_string(pipes) +
                                       " '|' separators, not 2 (the spec allows no '|' inside a "
                                       "section)");
  const size_t second = text.find('|', kHeader.size());
  OcmfRecord r;
  r.text = std::string(text);
  r.payload = std::string(text.substr(kHeader.size(), second - kHeader.size()));
  const std::string_view signature = text.substr(second + 1);

  auto payload = ParseStrictJson(r.payload, OcmfJsonLimits());
  if (!payload.ok())
    return Error(payload.status().code(), "payload: " + payload.status().message());
  if (payload->type != JsonValue::Type::kObject)
    return Error(Code::kMalformed, "payload is a JSON " + std::string(JsonTypeName(payload->type)) +
                                       ", not an object");
  auto sig = ParseStrictJson(signature, OcmfJsonLimits());
  if (!sig.ok()) return Error(sig.status().code(), "signature: " + sig.status().message());
  if (sig->type != JsonValue::Type::kObject)
    return Error(Code::kMalformed, "signature section is a JSON " +
                                       std::string(JsonTypeName(sig->type)) + ", not an object");
  V2G_RETURN_IF_ERROR(ParsePayload(*payload, r));
  V2G_RETURN_IF_ERROR(ParseSignature(*sig, r));
  V2G_ASSERT(!r.readings.empty() && r.readings.size() <= kOcmfReadingsMax);
  return r;
}

}  // namespace v2g
