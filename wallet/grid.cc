#include "wallet/grid.h"

#include <algorithm>

#include "common/amount.h"
#include "common/limits.h"

namespace v2g {
namespace {

using nlohmann::json;

constexpr uint32_t kAllHours = (1u << kHoursPerDay) - 1;

std::string Quoted(std::string_view text) { return "'" + std::string(text.substr(0, 64)) + "'"; }

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t at = text.find(sep, start);
    out.push_back(text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

// One hour 0..23.
Result<int> ParseHour(std::string_view text, std::string_view flag, std::string_view whole) {
  if (!AllDigits(text) || text.size() > 2 || std::stoi(std::string(text)) >= kHoursPerDay) {
    return Error(Code::kInvalidArgument, std::string(flag) + " " + Quoted(whole) + ": '" + std::string(text.substr(0, 8)) +
                                             "' is not an hour 0..23 (give hours like 0-6,22-23)");
  }
  return std::stoi(std::string(text));
}

// A decimal with at most `decimals` digits in [lo, hi] (in those units); `what` says what it is.
Result<int64_t> ParseScaled(std::string_view text, uint32_t decimals, int64_t lo, int64_t hi, std::string_view flag,
                            const std::string& what) {
  const std::string f(flag);
  auto v = ParseAmount(text, decimals);
  if (!v.ok()) {
    return Error(Code::kInvalidArgument, f + " " + Quoted(text) + " is not " + what + " (at most " +
                                             std::to_string(decimals) + " decimals)");
  }
  if (*v < lo || *v > hi) {
    return Error(Code::kInvalidArgument, f + " must be " + what + " from " + FormatAmount(lo, decimals) + " to " +
                                             FormatAmount(hi, decimals) + ", got " + Quoted(text));
  }
  return *v;
}

Result<int64_t> MoneyField(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return int64_t{0};
  const json& v = it->is_object() ? it->value("amount", json()) : *it;
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string() && AllDigits(v.get<std::string>()) && v.get<std::string>().size() <= 18) {
    return std::stoll(v.get<std::string>());
  }
  if (v.is_string() && v.get<std::string>().size() > 1 && v.get<std::string>()[0] == '-' &&
      AllDigits(v.get<std::string>().substr(1)) && v.get<std::string>().size() <= 19) {
    return std::stoll(v.get<std::string>());
  }
  return Error(Code::kMalformed, std::string("statement field '") + key + "' is not an amount");
}

}  // namespace

Result<uint32_t> ParseHours(std::string_view text, std::string_view flag) {
  const std::string f(flag);
  if (text == "all") return kAllHours;
  if (text.empty()) return Error(Code::kInvalidArgument, f + " is empty (give hours like 0-6,22-23)");
  uint32_t mask = 0;
  for (std::string_view part : Split(text, ',')) {
    const size_t dash = part.find('-');
    auto lo = ParseHour(part.substr(0, dash), flag, text);
    if (!lo.ok()) return lo.status();
    int hi_h = *lo;
    if (dash != std::string_view::npos) {
      auto hi = ParseHour(part.substr(dash + 1), flag, text);
      if (!hi.ok()) return hi.status();
      hi_h = *hi;
    }
    if (hi_h < *lo) {
      return Error(Code::kInvalidArgument, f + " " + Quoted(text) + ": range '" + std::string(part) +
                                               "' runs backwards; split it at midnight (e.g. 22-23,0-5)");
    }
    for (int h = *lo; h <= hi_h; ++h) mask |= 1u << h;
  }
  V2G_ASSERT(mask != 0 && mask <= kAllHours);
  return mask;
}

std::string FormatHours(uint32_t mask) {
  if (mask == 0) return "none";
  if ((mask & kAllHours) == kAllHours) return "all";
  std::string out;
  for (int h = 0; h < kHoursPerDay;) {
    if ((mask & (1u << h)) == 0) {
      ++h;
      continue;
    }
    int end = h;
    while (end + 1 < kHoursPerDay && (mask & (1u << (end + 1))) != 0) ++end;
    if (!out.empty()) out += ",";
    out += std::to_string(h) + (end > h ? "-" + std::to_string(end) : "");
    h = end + 1;
  }
  return out;
}

Result<int64_t> ParseTariffPrice(std::string_view text, const MarketParams& p, std::string_view flag) {
  auto zero = ParseAmount(text, p.decimals);
  if (zero.ok() && *zero == 0) return int64_t{0};
  return ParsePricePerKwh(text, p, flag);
}

Result<std::vector<int64_t>> ParseTariffPrices(std::string_view prices_csv, std::string_view flat,
                                               const std::vector<std::string>& peaks, const MarketParams& p) {
  if (prices_csv.empty() == flat.empty()) {
    return Error(Code::kInvalidArgument,
                 "give the import prices either as --prices P0,P1,...,P23 (24 hourly prices) or as --flat P "
                 "(with --peak HOURS:P windows), not both");
  }
  if (!prices_csv.empty()) {
    if (!peaks.empty()) return Error(Code::kInvalidArgument, "--peak goes with --flat, not with --prices");
    const auto parts = Split(prices_csv, ',');
    if (parts.size() != kHoursPerDay) {
      return Error(Code::kInvalidArgument, "--prices needs 24 hourly prices (hour 0 to hour 23, UTC), got " +
                                               std::to_string(parts.size()));
    }
    std::vector<int64_t> out;
    for (size_t h = 0; h < parts.size(); ++h) {
      auto v = ParseTariffPrice(parts[h], p, "--prices (hour " + std::to_string(h) + ")");
      if (!v.ok()) return v.status();
      out.push_back(*v);
    }
    return out;
  }
  if (peaks.size() > kPeakWindowsMax) {
    return Error(Code::kInvalidArgument, "--peak at most " + std::to_string(kPeakWindowsMax) + " times");
  }
  auto base = ParseTariffPrice(flat, p, "--flat");
  if (!base.ok()) return base.status();
  std::vector<int64_t> out(kHoursPerDay, *base);
  for (const std::string& peak : peaks) {
    const size_t colon = peak.find(':');
    if (colon == std::string::npos) {
      return Error(Code::kInvalidArgument, "--peak " + Quoted(peak) + " must be HOURS:PRICE, e.g. 18-21:1.20");
    }
    auto mask = ParseHours(std::string_view(peak).substr(0, colon), "--peak");
    if (!mask.ok()) return mask.status();
    auto price = ParseTariffPrice(std::string_view(peak).substr(colon + 1), p, "--peak price");
    if (!price.ok()) return price.status();
    for (int h = 0; h < kHoursPerDay; ++h) {
      if ((*mask & (1u << h)) != 0) out[h] = *price;
    }
  }
  return out;
}

Result<int64_t> ParsePercentBps(std::string_view text, std::string_view flag) {
  return ParseScaled(text, 2, 0, limits::kBpsMax, flag, "a percentage");
}

Result<int64_t> ParseKw(std::string_view text, std::string_view flag) {
  return ParseScaled(text, 3, 1, limits::kMeterPowerWMax, flag, "a power in kW");
}

Result<int64_t> ParseKwh(std::string_view text, std::string_view flag) {
  return ParseScaled(text, 3, 0, limits::kOrderEnergyWhMax, flag, "an energy in kWh");
}

Result<int64_t> ParseBudget(std::string_view text, uint32_t decimals, std::string_view denom, std::string_view flag) {
  V2G_ASSERT(decimals <= kDecimalsMax);
  return ParseScaled(text, decimals, 1, limits::kBudgetMax, flag, "an amount of " + std::string(denom));
}

Result<int64_t> ResolveTime(std::string_view text, const MarketParams& p, int64_t latest_block_time_ms,
                            std::string_view flag) {
  if (text.rfind("next", 0) == 0) return ResolveInterval(text, p, latest_block_time_ms, flag);
  return ParseTimeS(text, flag);
}

std::string FormatKw(int64_t w) { return FormatAmount(w, 3) + " kW"; }
std::string FormatBps(int64_t bps) { return FormatAmount(bps, 2) + " %"; }

int64_t Statement::CashNet() const {
  return market_revenue + event_payout + subsidy + feed_in - market_penalty - market_spent - tariff_charge;
}

Result<Statement> StatementFromJson(const json& answer) {
  if (!answer.is_object()) return Error(Code::kMalformed, "statement answer is not a JSON object");
  const json* tiers = &answer;
  for (const char* key : {"tiers", "totals"}) {
    if (answer.contains(key) && answer[key].is_object()) tiers = &answer[key];
  }
  Statement s;
  for (auto [key, out] : {std::pair<const char*, int64_t*>{"market_revenue", &s.market_revenue},
                          {"market_penalty", &s.market_penalty},
                          {"market_spent", &s.market_spent},
                          {"event_payout", &s.event_payout},
                          {"subsidy", &s.subsidy},
                          {"tariff_charge", &s.tariff_charge},
                          {"feed_in", &s.feed_in},
                          {"debt_incurred", &s.debt_incurred}}) {
    auto v = MoneyField(*tiers, key);
    if (!v.ok()) return v.status();
    *out = *v;
  }
  auto points = MoneyField(tiers->contains("points") ? *tiers : answer, "points");
  if (!points.ok()) return points.status();
  s.points = *points;
  // Outstanding debts: a list of {"amount", "creditor"} (GET .../debts), or one amount.
  if (answer.contains("debts") && answer["debts"].is_array()) {
    for (const json& d : answer["debts"]) {
      auto v = MoneyField(json{{"debt", d}}, "debt");
      if (!v.ok()) return v.status();
      s.debt_outstanding += *v;
    }
  } else {
    auto v = MoneyField(answer, "debt_outstanding");
    if (!v.ok()) return v.status();
    s.debt_outstanding = *v;
  }
  return s;
}

std::string FormatEarnings(const std::string& owner_label, const std::string& period, const Statement& s,
                           const std::vector<WearLine>& wear, const std::vector<std::string>& no_profile,
                           const MarketParams& p, const std::string& points_text) {
  struct Line {
    std::string label;
    int64_t units;
    bool money;
    std::string note;
  };
  const int64_t wear_total = [&] {
    int64_t sum = 0;
    for (const auto& w : wear) sum += w.wear_cost;
    return sum;
  }();
  std::vector<Line> income = {{"Market sales", s.market_revenue, true, ""},
                              {"Demand-response payouts", s.event_payout, true, ""},
                              {"Subsidies and rebates", s.subsidy, true, ""},
                              {"Feed-in", s.feed_in, true, ""}};
  std::vector<Line> costs = {{"Market purchases", -s.market_spent, true, ""},
                             {"Delivery penalties", -s.market_penalty, true, ""},
                             {"Tariff charges", -s.tariff_charge, true,
                              s.debt_incurred > 0 ? "of which " + FormatMoney(s.debt_incurred, p) + " unpaid" : ""}};
  std::vector<Line> wear_lines;
  for (const auto& w : wear) {
    wear_lines.push_back({"  " + w.meter_id, -w.wear_cost, true,
                          FormatKwh(w.export_wh) + " discharged at " + FormatPrice(w.wear_per_kwh, p)});
  }
  // Amounts aligned on the decimal point: signed, with the denomination after them.
  auto amount = [&](int64_t units) {
    return (units < 0 ? "-" : " ") + FormatAmount(units < 0 ? -units : units, p.decimals) + " " + p.denom;
  };
  std::vector<const std::vector<Line>*> groups = {&income, &costs, &wear_lines};
  size_t label_w = std::string("Net after battery wear").size(), amount_w = 0;
  for (const auto* g : groups) {
    for (const auto& l : *g) {
      label_w = std::max(label_w, l.label.size());
      amount_w = std::max(amount_w, amount(l.units).size());
    }
  }
  for (int64_t v : {s.CashNet(), s.CashNet() - wear_total, -wear_total, s.debt_outstanding}) {
    amount_w = std::max(amount_w, amount(v).size());
  }
  auto row = [&](const std::string& label, int64_t units, const std::string& note) {
    const std::string a = amount(units);
    std::string line = "  " + label + std::string(label_w - label.size() + 2, ' ') + std::string(amount_w - a.size(), ' ') + a;
    if (!note.empty()) line += "   (" + note + ")";
    return line + "\n";
  };
  const std::string rule = "  " + std::string(label_w + 2 + amount_w, '-') + "\n";
  std::string out = "Statement for " + owner_label + "\n" + period + "\n\n";
  out += "Income\n";
  for (const auto& l : income) out += row(l.label, l.units, l.note);
  out += "Costs\n";
  for (const auto& l : costs) out += row(l.label, l.units, l.note);
  out += rule + row("Cash net", s.CashNet(), "") + "\n";
  out += "Estimated battery wear\n";
  if (wear.empty()) out += "  (no vehicle with a battery profile)\n";
  for (const auto& l : wear_lines) out += row(l.label, l.units, l.note);
  if (!wear.empty()) out += row("Total wear", -wear_total, "");
  out += rule + row("Net after battery wear", s.CashNet() - wear_total, "") + "\n";
  out += "Outstanding debt: " + FormatMoney(s.debt_outstanding, p) +
         (s.debt_outstanding > 0 ? " (pay with: v2g tariff pay-debt --from KEY; sell orders are blocked until then)"
                                 : "") +
         "\n";
  if (s.points != 0) out += "Reward points: " + points_text + "\n";
  for (const auto& m : no_profile) {
    out += "No battery profile for vehicle '" + m + "': its wear is not counted (set one with: v2g battery profile set " +
           m + " ...)\n";
  }
  return out;
}

}  // namespace v2g
