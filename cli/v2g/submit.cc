#include "cli/v2g/submit.h"

#include <cctype>
#include <iostream>
#include <utility>

#include "common/amount.h"
#include "common/limits.h"
#include "wallet/actions.h"

namespace v2g::cli {
namespace {

Status ReportSubmitted(Context& ctx, const Submitted& s, const TxDescription& d, const TxArgs& a) {
  const SubmitResult& r = s.result;
  json fee = d.fee;
  if (fee.is_null() && !s.fee.denom().empty()) {  // the fee the chain required, attached for the user
    fee = {{"denom", s.fee.denom()},
           {"amount", std::to_string(s.fee.amount())},
           {"display", FormatAmount(s.fee.amount(), s.fee_decimals)}};
  }
  if (ctx.json()) {
    json j = r.raw;
    j["nonce"] = std::to_string(s.nonce);
    j["chain_id"] = s.chain_id;
    j["op"] = d.op;
    j["fee"] = fee;
    j["memo"] = a.memo;
    j.update(d.result_json);
    PrintJson(j);
  } else {
    Rows rows = d.details;
    rows.emplace_back("tx", r.hash);
    if (!fee.is_null()) rows.emplace_back("fee", fee["display"].get<std::string>() + " " + fee["denom"].get<std::string>());
    rows.emplace_back("status", r.status);
    if (r.committed()) {
      rows.emplace_back("height", std::to_string(r.height));
      rows.emplace_back("result", ResultText(r.code, r.code_name, NameFlags(r.log)));
      rows.insert(rows.end(), d.results.begin(), d.results.end());
    } else if (a.no_wait) {
      rows.emplace_back("next", "check with: v2g tx show " + r.hash);
    }
    // The rows say what became of it (status, result); with --no-wait nothing is known yet.
    std::cout << (r.committed() ? d.summary : "Submitted, not yet committed: " + d.summary) << "\n";
    PrintRows(rows);
  }
  if (r.committed() && r.code != 0) {
    return Error(static_cast<Code>(r.code),
                 "tx " + r.hash + " " + ResultText(r.code, r.code_name, NameFlags(r.log)));
  }
  if (!r.committed() && !a.no_wait) {
    return Error(Code::kTimeout, "tx " + r.hash + " was accepted but not committed within " +
                                     std::to_string(limits::kWaitCommitMsDefault) +
                                     " ms; it may still be: check with 'v2g tx show " + r.hash +
                                     "'");
  }
  return Status::Ok();
}

}  // namespace

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<uint8_t>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<uint8_t>(s[i + k]) & 0xc0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string ResultText(uint32_t code, const std::string& code_name, const std::string& log) {
  if (code == 0) return "ok";
  return "failed: " + code_name + (log.empty() ? "" : ": " + log);
}

Status SetFeeAndMemo(const TxArgs& a, const std::vector<DenomInfo>& denoms, pb::TxBody& body,
                     TxDescription& d) {
  if (!a.fee.empty()) {
    V2G_ASSIGN_OR_RETURN(fee, ParseFee(Upper(a.fee), denoms));
    *body.mutable_fee() = fee;
    auto fee_denom = FindDenom(denoms, fee.denom());
    d.fee = {{"denom", fee.denom()},
             {"amount", std::to_string(fee.amount())},
             {"display", FormatAmount(fee.amount(), fee_denom->decimals)}};
  }
  body.set_memo(a.memo);
  return Status::Ok();
}

std::string NameFlags(const std::string& message) {
  // The tx field a node's message names, and the option of this wallet that sets it.
  static const std::pair<const char*, const char*> kFlags[] = {
      {"battery_capacity_wh", "--capacity-wh"},
      {"max_import_w", "--max-import-w"},
      {"max_export_w", "--max-export-w"},
      {"energy_wh", "--energy-wh"},
      {"limit_price", "--price"},
      {"fee_bps", "--fee-bps"},
      {"committed_power_w", "--power-kw (sent in W)"},
      {"declared_baseline_wh", "--baseline-kwh (sent in Wh)"},
      {"target_power_w", "--target-kw (sent in W)"},
  };
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  std::string out = message;
  for (const auto& [field, flag] : kFlags) {
    const std::string f = field;
    for (size_t at = out.find(f); at != std::string::npos; at = out.find(f, at + 1)) {
      const bool whole = (at == 0 || !word(out[at - 1])) && (at + f.size() == out.size() || !word(out[at + f.size()]));
      if (!whole) continue;
      const std::string with = std::string(flag) + " [" + f + "]";
      out.replace(at, f.size(), with);
      at += with.size() - 1;
    }
  }
  return out;
}

Status SignSubmitReport(Context& ctx, ApiClient& client, const TxArgs& a, pb::TxBody body,
                        TxDescription d, const AfterCommit& after) {
  V2G_ASSIGN_OR_RETURN(key, ctx.LoadKey(a.from));
  SubmitOptions opts;
  opts.wait_commit = !a.no_wait;
  auto sent = SignAndSubmit(client, key, std::move(body), opts);
  if (!sent.ok()) return Error(sent.status().code(), NameFlags(sent.status().message()));
  Submitted& submitted = *sent;
  if (submitted.result.committed() && submitted.result.code == 0 && after)
    after(client, submitted.result, d);
  return ReportSubmitted(ctx, submitted, d, a);
}

Status SubmitTx(Context& ctx, const TxArgs& a, pb::TxBody body, TxDescription d,
                const AfterCommit& after) {
  V2G_RETURN_IF_ERROR(ctx.ActAs(a.from).status());
  if (!ValidUtf8(a.memo)) return Error(Code::kInvalidArgument, "memo is not valid UTF-8");
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  std::vector<DenomInfo> denoms;  // needed only to parse a fee
  if (!a.fee.empty()) {
    V2G_ASSIGN_OR_RETURN(got, client->GetDenoms());
    denoms = std::move(got);
  }
  V2G_RETURN_IF_ERROR(SetFeeAndMemo(a, denoms, body, d));
  return SignSubmitReport(ctx, *client, a, std::move(body), std::move(d), after);
}

AfterCommit CreatedId(const std::string& what,
                      std::function<std::string(const std::string&)> next) {
  return [what, next = std::move(next)](ApiClient&, const SubmitResult& r, TxDescription& out) {
    if (r.created_id == 0) return;
    const std::string id = std::to_string(r.created_id);
    out.results = {{what, id}};
    if (next) out.results.emplace_back("next", next(id));
    out.result_json = {{what + "_id", r.created_id}};
  };
}

}  // namespace v2g::cli
