// v2g meter verify-ocmf: checks OCMF records (common/ocmf.h) offline against a meter's public key
// and says exactly why each one fails. Needs no node and no keystore.

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "cli/v2g/families.h"
#include "cli/v2g/output.h"
#include "common/ocmf.h"
#include "common/time.h"
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
Result<OcmfPublicKey> LoadPublicKey(const VerifyOcmfArgs& a) {
  if (a.pubkey_hex.empty() == a.pubkey_file.empty())
    return Error(Code::kInvalidArgument, "give exactly one of --pubkey and --pubkey-file");
  if (!a.pubkey_hex.empty()) return ParseOcmfPublicKeyHex(a.pubkey_hex);
  std::ifstream in(a.pubkey_file, std::ios::binary);
  if (!in) return Error(Code::kIo, "cannot read " + a.pubkey_file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > 16 * 1024)
    return Error(Code::kTooLarge, a.pubkey_file + " is too large for a key");
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

json ReadingJson(const OcmfReading& r) {
  return {{"time", FormatRfc3339Ms(r.time_ms)},
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
      {"  TIME", "SYNC", "TX", "OBIS", "REGISTER", "VALUE", "mWh", "ST"}};
  for (const auto& r : rec.readings) {
    rows.push_back({"  " + FormatRfc3339Ms(r.time_ms), std::string(1, r.time_status),
                    r.tx.empty() ? "-" : r.tx, r.ri, std::string(RegisterName(r.reg)),
                    r.rv_text + " " + r.ru, std::to_string(r.value_mwh), std::string(1, r.st)});
  }
  PrintTable(rows, {6});
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
}

}  // namespace v2g::cli
