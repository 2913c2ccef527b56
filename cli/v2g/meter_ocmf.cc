// v2g meter verify-ocmf: checks OCMF records (common/ocmf.h) offline against a meter's public key
// and says exactly why each one fails. Needs no node and no keystore.
// v2g meter submit-ocmf: sends a certified charger's records to the ledger (contracts/meters.h
// "OCMF meters") and reports each record's verdict.

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "cli/v2g/families.h"
#include "cli/v2g/output.h"
#include "common/ocmf.h"
#include "common/limits.h"
#include "common/time.h"
#include "cli/v2g/submit.h"
#include "wallet/ocmf_signer.h"

namespace v2g::cli {
namespace {

struct VerifyOcmfArgs {
  std::string pubkey_hex;
  std::string pubkey_file;
  std::string input;  // a file, or "-" for stdin
};

std::string_view RegisterName(OcmfRegister r) {
  switch (r) {
    case OcmfRegister::kImport:
      return "import";
    case OcmfRegister::kExport:
      return "export";
    case OcmfRegister::kOther:
      return "other";
  }
  return "?";
}

// --pubkey, or --pubkey-file holding hex or a PEM "PUBLIC KEY" (as `openssl ec -pubout` writes).
struct SubmitOcmfArgs {
  std::string meter_id;
  std::string input;  // a file, or "-" for stdin
};

}  // namespace

Result<OcmfPublicKey> LoadOcmfPublicKey(const std::string& hex_text, const std::string& file,
                                        const std::string& flags) {
  if (hex_text.empty() == file.empty()) return Error(Code::kInvalidArgument, "give exactly one of " + flags);
  if (!hex_text.empty()) return ParseOcmfPublicKeyHex(hex_text);
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error(Code::kIo, "cannot read " + file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > 16 * 1024) return Error(Code::kTooLarge, file + " is too large for a key");
  if (text.find("-----BEGIN") != std::string::npos) {
    auto der = OcmfPublicKeyDerFromPem(text);
    if (!der.ok()) return der.status();
    return ParseOcmfPublicKeyDer(*der);
  }
  std::string hex;
  for (char c : text) {
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') hex += c;
  }
  return ParseOcmfPublicKeyHex(hex);
}

namespace {

Result<OcmfPublicKey> LoadPublicKey(const VerifyOcmfArgs& a) {
  return LoadOcmfPublicKey(a.pubkey_hex, a.pubkey_file, "--pubkey and --pubkey-file");
}

// Non-blank lines of `input` ("-": stdin), CR stripped: one record each. At most `max` of them
// (a bound on what one call reads), each at most kOcmfRecordBytesMax.
Result<std::vector<std::string>> ReadRecordLines(const std::string& input, size_t max) {
  std::ifstream file;
  if (input != "-") {
    file.open(input, std::ios::binary);
    if (!file) return Error(Code::kIo, "cannot read " + input);
  }
  std::istream& in = input == "-" ? std::cin : file;
  std::vector<std::string> lines;
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (line.size() > kOcmfRecordBytesMax) {
      return Error(Code::kTooLarge, "line " + std::to_string(line_no) + " is " + std::to_string(line.size()) +
                                        " bytes, more than an OCMF record may be (" +
                                        std::to_string(kOcmfRecordBytesMax) + ")");
    }
    if (lines.size() == max) {
      return Error(Code::kTooLarge, input + " has more than " + std::to_string(max) +
                                        " records: one call sends at most that many (split the file)");
    }
    lines.push_back(line);
  }
  if (lines.empty()) return Error(Code::kInvalidArgument, "no OCMF records in " + input);
  return lines;
}

// Records a call reads: a day of 15-minute records from 40 chargers. Each tx carries what fits.
constexpr size_t kSubmitOcmfLinesMax = 4096;

Status CmdSubmitOcmf(Context& ctx, const SubmitOcmfArgs& s, const TxArgs& a) {
  V2G_ASSIGN_OR_RETURN(lines, ReadRecordLines(s.input, kSubmitOcmfLinesMax));
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  // As many records a tx as fit under the chain's tx size (with room for the envelope, fee and
  // memo) and the per-tx count; submitted in order, each waiting for the last (records of one meter
  // are a sequence).
  V2G_ASSIGN_OR_RETURN(params, client->GetJson("/v1/params"));
  const int64_t tx_max = params.value("tx_bytes_max", int64_t{16384});
  const int64_t budget = tx_max - 512 - static_cast<int64_t>(a.memo.size());
  std::vector<std::pair<size_t, size_t>> chunks;  // [first, last) line indexes
  int64_t bytes = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const int64_t size = static_cast<int64_t>(lines[i].size() + s.meter_id.size()) + 16;
    if (size > budget) {
      return Error(Code::kTooLarge, "record " + std::to_string(i + 1) + " (" + std::to_string(lines[i].size()) +
                                        " bytes) does not fit a tx of " + std::to_string(tx_max) + " bytes");
    }
    if (chunks.empty() || bytes + size > budget ||
        chunks.back().second - chunks.back().first == static_cast<size_t>(limits::kOcmfRecordsPerTxMax)) {
      chunks.emplace_back(i, i);
      bytes = 0;
    }
    chunks.back().second = i + 1;
    bytes += size;
  }
  size_t rejected = 0;
  for (const auto& [first, last] : chunks) {
    const std::vector<std::string> part(lines.begin() + first, lines.begin() + last);
    TxDescription d;
    d.summary = "Submit " + std::to_string(part.size()) + " OCMF record(s) of meter '" + s.meter_id + "'" +
                (chunks.size() > 1 ? " (records " + std::to_string(first + 1) + "-" + std::to_string(last) + " of " +
                                         std::to_string(lines.size()) + ")"
                                   : "");
    d.op = {{"type", "submit_ocmf"}, {"meter_id", s.meter_id}, {"count", part.size()}};
    auto after = [&, first = first](ApiClient&, const SubmitResult& r, TxDescription& desc) {
      std::vector<json> verdicts(part.size(), json("accepted"));
      for (const auto& rej : r.raw.value("rejected_readings", json::array())) {
        const size_t i = rej.value("index", size_t{0});
        if (i >= verdicts.size()) continue;
        verdicts[i] = {{"code", rej.value("code_name", "")}, {"message", rej.value("message", "")}};
        ++rejected;
      }
      json list = json::array();
      for (size_t i = 0; i < part.size(); ++i) {
        auto rec = ParseOcmf(part[i]);
        const std::string pg = rec.ok() ? rec->pg : "?";
        const size_t line = first + i + 1;
        list.push_back({{"line", line}, {"pg", pg}, {"verdict", verdicts[i]}});
        desc.results.emplace_back("record " + std::to_string(line) + " (" + pg + ")",
                                  verdicts[i].is_string() ? "accepted"
                                                          : "REJECTED: " + verdicts[i]["code"].get<std::string>() +
                                                                ": " + verdicts[i]["message"].get<std::string>());
      }
      desc.result_json["records"] = list;
    };
    V2G_RETURN_IF_ERROR(SubmitTx(ctx, a, MakeSubmitOcmf(0, s.meter_id, part), d, after));
  }
  if (rejected > 0) {
    return Error(Code::kInvalidArgument, std::to_string(rejected) + " of " + std::to_string(lines.size()) +
                                             " records were rejected");
  }
  if (a.no_wait) {
    std::cerr << "note: --no-wait: the records' verdicts are in the committed tx (v2g tx show HASH)\n";
  }
  return Status::Ok();
}

// A reading's time as the meter showed it: in the zone its TM names (an offline check has no
// market to ask for one, and the receipt a driver compares is in the meter's zone).
std::string MeterTime(const OcmfReading& r) {
  return FormatRfc3339LocalMs(r.time_ms, r.utc_offset_min);
}

json ReadingJson(const OcmfReading& r) {
  return {{"time", FormatRfc3339Ms(r.time_ms)},
          {"meter_time", MeterTime(r)},
          {"time_ms", r.time_ms},
          {"time_status", std::string(1, r.time_status)},
          {"tx", r.tx},
          {"obis", r.ri},
          {"register", RegisterName(r.reg)},
          {"value", r.rv_text},
          {"unit", r.ru},
          {"value_mwh", r.value_mwh},
          {"status", std::string(1, r.st)}};
}

void PrintReadings(const OcmfRecord& rec) {
  std::vector<std::vector<std::string>> rows = {
      {"  TIME (METER'S ZONE)", "SYNC", "TX", "OBIS", "REGISTER", "VALUE", "UNIT", "mWh", "ST"}};
  for (const auto& r : rec.readings) {
    rows.push_back({"  " + MeterTime(r), std::string(1, r.time_status), r.tx.empty() ? "-" : r.tx,
                    r.ri, std::string(RegisterName(r.reg)), r.rv_text, r.ru,
                    std::to_string(r.value_mwh), std::string(1, r.st)});
  }
  PrintTable(rows, {5, 7});
}

// One record: its verdict (and readings when it parsed) on stdout. True when it verified.
bool CheckRecord(const std::string& line, int64_t line_no, const OcmfPublicKey& key, bool as_json,
                 json& out) {
  auto rec = ParseOcmf(line);
  Status st = rec.ok() ? VerifyOcmf(*rec, key.der) : rec.status();
  const std::string where = "line " + std::to_string(line_no);
  json j = {{"line", line_no}, {"ok", st.ok()}};
  if (!st.ok()) j["error"] = {{"code", CodeName(st.code())}, {"message", st.message()}};
  if (rec.ok()) {
    j["meter_serial"] = rec->ms;
    j["pagination"] = rec->pg;
    j["signature_algorithm"] = rec->signature_algorithm;
    j["readings"] = json::array();
    for (const auto& r : rec->readings) j["readings"].push_back(ReadingJson(r));
  }
  if (as_json) {
    out.push_back(std::move(j));
    return st.ok();
  }
  if (st.ok()) {
    std::cout << where << ": ok (meter " << rec->ms << ", PG " << rec->pg << ", "
              << rec->signature_algorithm << ")\n";
  } else {
    std::cout << where << ": FAILED: " << CodeName(st.code()) << ": " << st.message() << "\n";
  }
  if (rec.ok()) PrintReadings(*rec);
  return st.ok();
}

Status CmdVerifyOcmf(Context& ctx, const VerifyOcmfArgs& a) {
  auto key = LoadPublicKey(a);
  if (!key.ok()) return key.status();
  std::ifstream file;
  if (a.input != "-") {
    file.open(a.input, std::ios::binary);
    if (!file) return Error(Code::kIo, "cannot read " + a.input);
  }
  std::istream& in = a.input == "-" ? std::cin : file;
  json results = json::array();
  int64_t line_no = 0, records = 0, failed = 0;
  std::string line;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank lines
    ++records;
    if (!CheckRecord(line, line_no, *key, ctx.json(), results)) ++failed;
  }
  if (ctx.json()) PrintJson({{"records", records}, {"failed", failed}, {"results", results}});
  if (records == 0) return Error(Code::kInvalidArgument, "no OCMF records in " + a.input);
  if (failed > 0)
    return Error(Code::kBadSignature, std::to_string(failed) + " of " + std::to_string(records) +
                                          " records failed verification");
  return Status::Ok();
}

}  // namespace

void AddMeterOcmfCommands(CLI::App* meter, CommandLine& cl) {
  VerifyOcmfArgs& a = cl.Keep<VerifyOcmfArgs>();
  auto* v = cl.Command(meter, "verify-ocmf",
                       "Check OCMF records (one a line) offline against a meter's public key; "
                       "exit 0 only if all verify",
                       [&](Context& c) { return CmdVerifyOcmf(c, a); });
  v->add_option("FILE", a.input, "File of OCMF records, or - for stdin")->required();
  v->add_option("--pubkey", a.pubkey_hex, "Public key: DER SubjectPublicKeyInfo in hex");
  v->add_option("--pubkey-file", a.pubkey_file, "File with the public key (hex, or PEM)");
  SubmitOcmfArgs& s = cl.Keep<SubmitOcmfArgs>();
  TxArgs& tx = cl.Keep<TxArgs>();
  auto* sub = cl.Command(meter, "submit-ocmf",
                         "Submit an OCMF meter's signed records (one a line, in order; as many a tx as fit) and "
                         "report each one's verdict; exit 0 only if every record is accepted (with --no-wait: "
                         "only submitted)",
                         [&](Context& c) { return CmdSubmitOcmf(c, s, tx); });
  sub->add_option("FILE", s.input, "File of OCMF records, or - for stdin")->required();
  sub->add_option("--meter", s.meter_id, "The meter's id on the ledger")->required();
  AddTxOptions(sub, tx, false);
}

}  // namespace v2g::cli
