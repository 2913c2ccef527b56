#include "wallet/market.h"

#include <algorithm>
#include <atomic>

#include "common/amount.h"
#include "common/limits.h"
#include "contracts/market.h"
#include "common/time.h"

namespace v2g {
namespace {

using nlohmann::json;

// Interval starts the chain accepts (contracts/market.cc): positive, at most 2^40 s.
constexpr int64_t kTimeSMax = int64_t{1} << 40;

std::string Num(int64_t v) { return std::to_string(v); }

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Result<int64_t> IntField(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer()) {
    return Error(Code::kMalformed, std::string("GET /v1/params: market field '") + key +
                                       "' is missing or not an integer");
  }
  return it->get<int64_t>();
}

Result<int64_t> ParseTimeImpl(std::string_view text, std::string_view flag, bool next_allowed) {
  const std::string f(flag), quoted = "'" + std::string(text.substr(0, 64)) + "'";
  if (AllDigits(text)) {
    if (text.size() > 13)
      return Error(Code::kInvalidArgument, f + " " + quoted + " is not a Unix time in seconds");
    const int64_t s = std::stoll(std::string(text));
    if (s <= 0 || s > kTimeSMax)
      return Error(Code::kInvalidArgument, f + " must be a positive Unix time, got " + quoted);
    return s;
  }
  const bool has_offset = text.size() >= 25 && (text[text.size() - 6] == '+' || text[text.size() - 6] == '-');
  if (text.size() >= 20 && (text.back() == 'Z' || text.back() == 'z' || has_offset)) {
    auto ms = ParseRfc3339Ms(text);
    if (!ms.ok()) return Error(Code::kInvalidArgument, f + ": " + ms.status().message());
    if (*ms % 1000 != 0)
      return Error(Code::kInvalidArgument, f + " " + quoted + " is not a whole second");
    if (*ms / 1000 <= 0 || *ms / 1000 > kTimeSMax)
      return Error(Code::kInvalidArgument, f + " " + quoted + " is out of range");
    return *ms / 1000;
  }
  return Error(Code::kInvalidArgument,
               f + " " + quoted + " is not a time: give an RFC 3339 time (e.g. 2026-01-01T09:00:00+08:00 or " +
                   "2026-01-01T01:00:00Z) or Unix seconds (e.g. 1767229200)" +
                   (next_allowed ? ", next or next+K" : ""));
}

}  // namespace

Result<MarketParams> MarketParamsFromJson(const json& params_answer) {
  if (!params_answer.is_object() || !params_answer.contains("market") ||
      !params_answer["market"].is_object()) {
    return Error(Code::kMalformed,
                 "GET /v1/params: no 'market' object (is the node older than the market?)");
  }
  const json& m = params_answer["market"];
  MarketParams p;
  if (!m.contains("enabled") || !m["enabled"].is_boolean() || !m.contains("denom") ||
      !m["denom"].is_string()) {
    return Error(Code::kMalformed,
                 "GET /v1/params: market fields 'enabled' and 'denom' are missing");
  }
  p.enabled = m["enabled"].get<bool>();
  p.denom = m["denom"].get<std::string>();
  int64_t decimals = 0;
  for (auto [key, out] : {std::pair<const char*, int64_t*>{"decimals", &decimals},
                          {"interval_s", &p.interval_s},
                          {"gate_closure_s", &p.gate_closure_s},
                          {"horizon_s", &p.horizon_s},
                          {"grace_s", &p.grace_s},
                          {"collateral_bps", &p.collateral_bps},
                          {"penalty_bps", &p.penalty_bps}}) {
    auto v = IntField(m, key);
    if (!v.ok()) return v.status();
    *out = *v;
  }
  if (decimals < 0 || decimals > kDecimalsMax)
    return Error(Code::kMalformed, "GET /v1/params: market decimals out of range");
  p.decimals = static_cast<uint32_t>(decimals);
  if (p.enabled && (p.interval_s <= 0 || p.gate_closure_s < 0 || p.horizon_s < 0 || p.grace_s < 0 ||
                    p.collateral_bps < 0 || p.penalty_bps < 0)) {
    return Error(Code::kMalformed, "GET /v1/params: market parameters out of range");
  }
  return p;
}

Result<MarketContext> FetchMarket(ApiClient& client) {
  auto doc = client.GetJson("/v1/params");
  if (!doc.ok()) return doc.status();
  auto p = MarketParamsFromJson(*doc);
  if (!p.ok()) return p.status();
  SetDisplayUtcOffsetFrom(*doc);
  if (!p->enabled) {
    return Error(Code::kMarketDisabled,
                 "the chain at " + client.base_url() +
                     " has no energy market (its genesis sets no market_denom)");
  }
  auto status = client.GetStatus();
  if (!status.ok()) return status.status();
  return MarketContext{*p, status->latest_block_time_ms};
}

Result<int64_t> ParsePricePerKwh(std::string_view text, const MarketParams& p,
                                 std::string_view flag) {
  V2G_ASSERT(p.decimals <= kDecimalsMax);
  const std::string f(flag);
  auto units = ParseAmount(text, p.decimals);
  if (!units.ok()) {
    std::string why = units.status().message();
    if (why.rfind("amount ", 0) == 0) why = why.substr(7);
    return Error(Code::kInvalidArgument, f + " " + why + " (a price in " + p.denom + " per kWh, " +
                                             Num(p.decimals) + " decimals)");
  }
  if (*units <= 0) return Error(Code::kInvalidArgument, f + " must be greater than zero");
  if (*units > limits::kOrderPriceMax) {
    return Error(Code::kInvalidArgument,
                 f + " is above the maximum of " + FormatPrice(limits::kOrderPriceMax, p));
  }
  return *units;
}

Status CheckEnergyWh(int64_t energy_wh, std::string_view flag) {
  if (energy_wh < 1 || energy_wh > limits::kOrderEnergyWhMax) {
    return Error(Code::kInvalidArgument, std::string(flag) + " must be 1.." +
                                             Num(limits::kOrderEnergyWhMax) + " (Wh), got " +
                                             Num(energy_wh));
  }
  return Status::Ok();
}

Result<int64_t> ParseTimeS(std::string_view text, std::string_view flag) {
  return ParseTimeImpl(text, flag, false);
}

int64_t NextIntervalStart(const MarketParams& p, int64_t latest_block_time_ms) {
  V2G_ASSERT(p.interval_s > 0 && p.gate_closure_s >= 0);
  const int64_t len_ms = p.interval_s * 1000;
  const int64_t earliest_ms =
      std::max<int64_t>(0, latest_block_time_ms) + kNextGateMarginMs + p.gate_closure_s * 1000;
  return (earliest_ms + len_ms - 1) / len_ms * p.interval_s;
}

Result<int64_t> ResolveInterval(std::string_view text, const MarketParams& p,
                                int64_t latest_block_time_ms, std::string_view flag) {
  V2G_ASSERT(p.interval_s > 0);
  const std::string f(flag);
  if (text.rfind("next", 0) == 0) {
    std::string_view rest = text.substr(4);
    int64_t k = 0;
    if (!rest.empty()) {
      if (rest[0] != '+' || !AllDigits(rest.substr(1)) || rest.size() > 5 ||
          (k = std::stoll(std::string(rest.substr(1)))) > kNextOffsetMax) {
        return Error(Code::kInvalidArgument, f + " '" + std::string(text.substr(0, 64)) +
                                                 "' must be next or next+K with K from 0 to " +
                                                 Num(kNextOffsetMax));
      }
    }
    return NextIntervalStart(p, latest_block_time_ms) + k * p.interval_s;
  }
  auto t = ParseTimeImpl(text, flag, true);
  if (!t.ok()) return t;
  if (*t % p.interval_s != 0) {
    const int64_t before = *t - *t % p.interval_s;
    return Error(Code::kInvalidArgument,
                 f + " " + std::string(text) + " is not the start of a " + Num(p.interval_s) +
                     " s delivery interval: the one containing it starts at " + Num(before) + " (" +
                     FormatTimeS(before) + "), the next at " + Num(before + p.interval_s) + " (" +
                     FormatTimeS(before + p.interval_s) + ")");
  }
  return *t;
}

std::optional<int64_t> OrderLock(bool sell, int64_t energy_wh, int64_t price,
                                 const MarketParams& p) {
  return sell ? EnergyValueBps(energy_wh, price, p.collateral_bps) : EnergyValue(energy_wh, price);
}

std::string FormatPrice(int64_t units, const MarketParams& p) {
  return FormatAmount(units, p.decimals) + " " + p.denom + "/kWh";
}

std::string FormatMoney(int64_t units, const MarketParams& p) {
  return FormatAmount(units, p.decimals) + " " + p.denom;
}

std::string FormatKwh(int64_t wh) { return FormatAmount(wh, 3) + " kWh"; }

namespace {

std::atomic<int32_t> g_display_offset_min{0};
std::atomic<bool> g_display_offset_known{false};

}  // namespace

void SetDisplayUtcOffset(int32_t utc_offset_min) {
  V2G_ASSERT(utc_offset_min >= -kUtcOffsetMaxMin && utc_offset_min <= kUtcOffsetMaxMin);
  g_display_offset_min = utc_offset_min;
  g_display_offset_known = true;
}

bool SetDisplayUtcOffsetFrom(const nlohmann::json& params_answer) {
  if (!params_answer.is_object() || !params_answer.contains("utc_offset") ||
      !params_answer["utc_offset"].is_string()) {
    return false;
  }
  auto off = ParseUtcOffset(params_answer["utc_offset"].get<std::string>());
  if (!off.ok()) return false;
  SetDisplayUtcOffset(*off);
  return true;
}

bool DisplayUtcOffsetKnown() { return g_display_offset_known; }

std::string FormatTimeS(int64_t s) {
  // A time from a node's answer may be anything: outside what a date shows, the number as it is.
  if (s < 0 || s > kRfc3339MaxS - 86400) return "Unix time " + std::to_string(s);
  std::string t = FormatRfc3339LocalMs(s * 1000, g_display_offset_min);
  if (t.size() > 10 && t[10] == 'T') t[10] = ' ';
  return t;
}

std::string FormatTable(const std::vector<std::vector<std::string>>& rows,
                        const std::vector<size_t>& right) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (row.size() > width.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += "  ";
      const size_t pad = width[i] - row[i].size();
      const bool r = std::find(right.begin(), right.end(), i) != right.end();
      line += r ? std::string(pad, ' ') + row[i] : row[i] + std::string(pad, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace v2g
