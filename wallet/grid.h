// What the wallet needs for grid services and aggregators (contracts/grid.h, contracts/pools.h):
// parsing the hour lists, tariff price lists, percentages, power and energy a person types, and
// turning an owner's statement (GET /v1/accounts/{address}/statement) plus the battery wear of
// their vehicles into the lines of `v2g earnings`. Pure functions; every error names the flag.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "wallet/market.h"

namespace v2g {

inline constexpr int kHoursPerDay = 24;
// --peak may be given this many times (a day has at most 12 separate peak windows).
inline constexpr size_t kPeakWindowsMax = 12;

// "0-6,22-23" -> bit h set for every hour h (UTC) listed; ranges are inclusive ("18-21" is
// 18:00 to 22:00). Hours 0..23; a range must not wrap past midnight (write "22-23,0-5").
Result<uint32_t> ParseHours(std::string_view text, std::string_view flag = "--hours");
// The mask back as "0-6,22-23" ("all" for every hour, "none" for 0).
std::string FormatHours(uint32_t mask);

// A price per kWh in the market denomination that may be zero (tariffs, feed-in); otherwise as
// ParsePricePerKwh.
Result<int64_t> ParseTariffPrice(std::string_view text, const MarketParams& p, std::string_view flag);

// The 24 hourly import prices of a tariff, from either --prices "P0,P1,...,P23" (exactly 24) or
// --flat P with any number of --peak "HOURS:P" windows on top (HOURS as ParseHours, later windows
// win). Exactly one of the two forms.
Result<std::vector<int64_t>> ParseTariffPrices(std::string_view prices_csv, std::string_view flat,
                                               const std::vector<std::string>& peaks,
                                               const MarketParams& p);

// "2.5" percent -> 250 basis points; 0..100 with at most 2 decimals.
Result<int64_t> ParsePercentBps(std::string_view text, std::string_view flag);
// "7.4" kW -> 7400 W; > 0 and at most limits::kMeterPowerWMax W, at most 3 decimals.
Result<int64_t> ParseKw(std::string_view text, std::string_view flag);
// "3.5" kWh -> 3500 Wh; >= 0 and at most limits::kOrderEnergyWhMax, at most 3 decimals.
Result<int64_t> ParseKwh(std::string_view text, std::string_view flag);
// A positive amount of a denomination with `decimals` digits, at most limits::kBudgetMax.
Result<int64_t> ParseBudget(std::string_view text, uint32_t decimals, std::string_view denom,
                            std::string_view flag);
// A time that need not start an interval: Unix seconds, RFC 3339, or `next` / `next+K` (the
// interval start ResolveInterval gives).
Result<int64_t> ResolveTime(std::string_view text, const MarketParams& p,
                            int64_t latest_block_time_ms, std::string_view flag);

// "7.400 kW".
std::string FormatKw(int64_t w);
// "2.50 %".
std::string FormatBps(int64_t bps);

// ---- earnings

// One vehicle meter's battery wear in the statement's period.
struct WearLine {
  std::string meter_id;
  int64_t export_wh = 0;
  int64_t wear_per_kwh = 0;  // minimal units
  int64_t wear_cost = 0;     // WearCostOf(profile, export_wh)
};

// An owner's statement in minimal units of the market denomination (points in their own unit).
struct Statement {
  int64_t market_revenue = 0;
  int64_t market_penalty = 0;
  int64_t market_spent = 0;
  int64_t event_payout = 0;
  int64_t subsidy = 0;
  int64_t points = 0;
  int64_t tariff_charge = 0;
  int64_t feed_in = 0;
  int64_t debt_incurred = 0;
  int64_t debt_outstanding = 0;
  // market revenue + event payouts + subsidies + feed-in - penalties - market spending - tariff
  // charges (debt is part of the tariff charges already; points are not cash).
  int64_t CashNet() const;
};

// Reads a statement answer (GET /v1/accounts/{address}/statement): the tiers under "tiers" (or
// at the top level), each an integer or a {"amount": "123", ...} money object, "points", and the
// outstanding debt as the sum of "debts" (a list of amounts); kMalformed naming a field otherwise.
Result<Statement> StatementFromJson(const nlohmann::json& answer);

// The text of `v2g earnings`: a line per tier, the wear per vehicle, and the totals, amounts
// aligned on the decimal point with the denomination after them; `points_text` is the reward
// points in display units with their denomination ("120 PTS"), shown when s.points is not zero.
std::string FormatEarnings(const std::string& owner_label, const std::string& period, const Statement& s,
                           const std::vector<WearLine>& wear, const std::vector<std::string>& no_profile,
                           const MarketParams& p, const std::string& points_text);

}  // namespace v2g
