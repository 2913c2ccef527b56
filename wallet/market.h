// What the wallet needs to trade on the energy market (contracts/market.h, docs/API.md "Energy
// market"): the market's parameters as a node reports them, parsing a price and a delivery
// interval the way a person types them, and the human formatting of prices, energy and tables.
// Pure functions except FetchMarket (one API client, one thread).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "wallet/client.h"

namespace v2g {

// GET /v1/params "market" plus the latest block time (GET /v1/status).
struct MarketParams {
  bool enabled = false;
  std::string denom;
  uint32_t decimals = 0;
  int64_t interval_s = 0;      // delivery interval = settlement interval
  int64_t gate_closure_s = 0;  // orders close this long before the interval starts
  int64_t horizon_s = 0;       // and open this long before it
  int64_t grace_s = 0;         // settlement waits this long after the interval ends
  int64_t collateral_bps = 0;
  int64_t penalty_bps = 0;
};

// Reads the "market" object of a GET /v1/params answer; kMalformed naming the field otherwise.
Result<MarketParams> MarketParamsFromJson(const nlohmann::json& params_answer);

struct MarketContext {
  MarketParams params;
  int64_t latest_block_time_ms = 0;
};
// GET /v1/params and /v1/status. kMarketDisabled when the chain has no market.
Result<MarketContext> FetchMarket(ApiClient& client);

// `next` leaves at least this much between the latest block and the chosen interval's gate
// closure, so a tx sent now still lands before the gate (blocks come about every second).
inline constexpr int64_t kNextGateMarginMs = 10'000;
// `next+K`: K up to this many intervals (a week of 15-minute intervals; the horizon is shorter).
inline constexpr int64_t kNextOffsetMax = 7 * 96;

// "0.85" in human units of the market denomination per kWh -> minimal units per kWh. Rejects
// zero, signs, garbage, more decimals than the denomination has and prices above
// limits::kOrderPriceMax; the message names `flag`.
Result<int64_t> ParsePricePerKwh(std::string_view text, const MarketParams& p,
                                 std::string_view flag = "--price");

// 1 .. limits::kOrderEnergyWhMax; the message names `flag`.
Status CheckEnergyWh(int64_t energy_wh, std::string_view flag = "--energy-wh");

// Unix seconds ("1767229200") or an RFC 3339 UTC time in whole seconds ("2026-01-01T01:00:00Z").
Result<int64_t> ParseTimeS(std::string_view text, std::string_view flag);

// The first interval start S whose gate closure S - gate_closure_s is at least kNextGateMarginMs
// after `latest_block_time_ms`.
int64_t NextIntervalStart(const MarketParams& p, int64_t latest_block_time_ms);

// A delivery interval as typed: Unix seconds or RFC 3339 (must be an interval start), `next`, or
// `next+K`. Errors name `flag` and, for a time that is not an interval start, the nearest ones.
Result<int64_t> ResolveInterval(std::string_view text, const MarketParams& p,
                                int64_t latest_block_time_ms, std::string_view flag = "--interval");

// What an order locks, as the chain computes it: a buy's escrow floor(E x P / 1000), a sell's
// collateral floor(E x P x collateral_bps / 10^7). nullopt on overflow.
std::optional<int64_t> OrderLock(bool sell, int64_t energy_wh, int64_t price,
                                 const MarketParams& p);

// "0.85 CNY/kWh".
std::string FormatPrice(int64_t units, const MarketParams& p);
// "12.50 CNY".
std::string FormatMoney(int64_t units, const MarketParams& p);
// "2.500 kWh".
std::string FormatKwh(int64_t wh);
// "2026-01-01 01:00:00Z" (the RFC 3339 time, readable in a column).
std::string FormatTimeS(int64_t s);
// The time zone FormatTimeS shows times in: the market's (GET /v1/params "utc_offset", minutes
// east of UTC), set once the wallet has read it (FetchMarket, SetDisplayUtcOffsetFrom); UTC until
// then. The CLI is single-threaded; the value is atomic so the library stays safe anywhere.
void SetDisplayUtcOffset(int32_t utc_offset_min);
// From a GET /v1/params answer; nothing when it has no valid "utc_offset" (an older node). True
// when it was set.
bool SetDisplayUtcOffsetFrom(const nlohmann::json& params_answer);
bool DisplayUtcOffsetKnown();

// Rows of cells as aligned columns separated by two spaces; rows[0] is the header. Columns whose
// index is in `right` are right-aligned (numbers). No trailing spaces; every line ends in '\n'.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows,
                        const std::vector<size_t>& right = {});

}  // namespace v2g
