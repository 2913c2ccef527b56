#include "cli/v2g/output.h"

#include <algorithm>
#include <charconv>
#include <iostream>

#include "cli/v2g/context.h"
#include "common/amount.h"
#include "common/assert.h"
#include "common/time.h"

namespace v2g::cli {

namespace {
bool g_printed_json = false;
}  // namespace

bool PrintedJson() { return g_printed_json; }

void PrintJson(const json& j) {
  g_printed_json = true;
  std::cout << j.dump(2) << "\n";
}

void PrintRows(const Rows& rows) {
  size_t width = 0;
  for (const auto& [k, v] : rows) width = std::max(width, k.size());
  for (const auto& [k, v] : rows) {
    std::cout << k << std::string(width - k.size() + 2, ' ') << v << "\n";
  }
}

void PrintTable(const std::vector<std::vector<std::string>>& rows,
                const std::vector<size_t>& right) {
  std::cout << FormatTable(rows, right);
}

std::vector<std::string> AlignAmounts(const Rows& amounts) {
  size_t int_w = 0, frac_w = 0;
  for (const auto& [display, denom] : amounts) {
    size_t dot = display.find('.');
    int_w = std::max(int_w, dot == std::string::npos ? display.size() : dot);
    frac_w = std::max(frac_w, dot == std::string::npos ? 0 : display.size() - dot);
  }
  std::vector<std::string> out;
  for (const auto& [display, denom] : amounts) {
    size_t dot = display.find('.');
    size_t ip = dot == std::string::npos ? display.size() : dot;
    size_t fp = display.size() - ip;
    out.push_back(std::string(int_w - ip, ' ') + display + std::string(frac_w - fp, ' ') + " " +
                  denom);
  }
  return out;
}

std::string AccountLabel(const std::string& address, const std::string& key_name) {
  return key_name.empty() ? address : key_name + " (" + address + ")";
}

void LoadDisplayZone(ApiClient& client) {
  if (DisplayUtcOffsetKnown()) return;
  if (auto params = client.GetJson("/v1/params"); params.ok()) SetDisplayUtcOffsetFrom(*params);
}

Status ShowAnswer(Context& ctx, const std::string& path,
                  const std::function<Status(const json&)>& print_text) {
  V2G_ASSERT(print_text != nullptr);
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(j, client->GetJson(path));
  if (ctx.json()) {
    PrintJson(j);
    return Status::Ok();
  }
  LoadDisplayZone(*client);
  return print_text(j);
}

std::string JsonText(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return "";
  return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

int64_t JsonInt(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>() : 0;
}

Result<int64_t> ParseUnits(const json& v, const std::string& what) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    const std::string t = v.get<std::string>();
    int64_t out = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
    if (ec == std::errc() && end == t.data() + t.size() && !t.empty()) return out;
  }
  return Error(Code::kMalformed, "the node answered a malformed " + what + ": " + v.dump());
}

int64_t MoneyUnits(const json& j, const char* key) {
  if (!j.contains(key)) return 0;
  const json& m = j[key];
  const json& v = m.is_object() ? m.value("amount", json()) : m;
  if (v.is_number_integer()) return v.get<int64_t>();
  int64_t out = 0;
  if (v.is_string()) {
    const std::string t = v.get<std::string>();
    std::from_chars(t.data(), t.data() + t.size(), out);
  }
  return out;
}

namespace {
// A total the node hid: the key is there, null, in an answer marked private.
bool Hidden(const json& j, const char* key) {
  return j.contains(key) && j[key].is_null() && j.value("private", false) == true;
}
}  // namespace

std::string HiddenTotalsNote(const json& j) {
  if (!j.is_object() || !j.contains("private_reason") || !j["private_reason"].is_string())
    return "";
  return "(totals hidden: " + j["private_reason"].get<std::string>() + ")";
}

std::string MoneyText(const json& j, const char* key) {
  if (Hidden(j, key)) return kHiddenText;
  if (!j.contains(key) || !j[key].is_object()) return "?";
  const json& m = j[key];
  const std::string amount = m.contains("display") && m["display"].is_string()
                                 ? m["display"].get<std::string>()
                                 : JsonText(m, "amount");
  return amount + " " + JsonText(m, "denom");
}

std::string PriceText(const json& j, const char* key) { return MoneyText(j, key) + "/kWh"; }

std::string Wh(const json& j, const char* key) {
  if (Hidden(j, key)) return kHiddenText;
  if (!j.contains(key) || !j[key].is_number_integer()) return "?";
  int64_t wh = j[key].get<int64_t>();
  return FormatAmount(wh, 3) + " kWh";
}

std::string KwhText(const json& j, const char* key) {
  return Hidden(j, key) ? kHiddenText : FormatKwh(JsonInt(j, key));
}

std::string IntervalText(const json& j) { return FormatTimeS(JsonInt(j, "interval_start_s")); }

std::string TimeText(const json& j, const char* key_s) {
  return j.contains(key_s) && j[key_s].is_number_integer() ? FormatTimeS(j[key_s].get<int64_t>())
                                                           : "-";
}

std::string LocalTime(const std::string& rfc3339) {
  auto ms = ParseRfc3339Ms(rfc3339);
  if (!ms.ok()) return rfc3339;
  return FormatTimeS(*ms >= 0 ? *ms / 1000 : -((-*ms + 999) / 1000));
}

std::string LocalTimeText(const json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_string()) return "-";
  return LocalTime(j[key].get<std::string>());
}

json MoneyJson(int64_t units, const MarketParams& p) {
  return {{"denom", p.denom},
          {"amount", std::to_string(units)},
          {"display", FormatAmount(units, p.decimals)}};
}

}  // namespace v2g::cli
