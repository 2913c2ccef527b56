// What the energy-market families share (market.cc, market_query.cc, contract.cc, and the help
// text of times for the grid-service families): the delivery an order or a contract proposal is
// about, the records the node keeps of them, and an account's orders and contracts.
#pragma once

#include <cstdint>
#include <string>

#include "cli/v2g/command_line.h"
#include "cli/v2g/context.h"
#include "cli/v2g/output.h"

namespace v2g::cli {

constexpr char kIntervalHelp[] =
    "Delivery interval: its start as Unix seconds or RFC 3339 UTC (2026-01-01T01:00:00Z), 'next' "
    "(the first whose gate closes at least 10 s after the latest block) or 'next+K'";
constexpr char kTimeHelp[] =
    "Unix seconds, RFC 3339 UTC (2026-01-01T01:00:00Z), 'next' or 'next+K' (interval starts)";

// An order's or a contract proposal's delivery, checked and resolved against the market.
struct Delivery {
  MarketContext mk;  // the node's market parameters and latest block time
  std::string zone;
  int64_t energy_wh = 0;
  int64_t price = 0;    // minimal units of the market denomination per kWh
  int64_t start_s = 0;  // the delivery interval's start
};

// Checks `zone` and `energy_wh`, then asks the node for the market and resolves `price` (human
// units per kWh) and `interval` (kIntervalHelp).
// The zone exists on this chain (a case variant of one is refused with its name: "cn-sh" is not
// CN-SH) and, with `warn_if_no_meters`, has meters (else a warning on stderr: nobody there could
// deliver or attest energy).
Status CheckZoneOnChain(Context& ctx, const std::string& zone, bool warn_if_no_meters);

Result<Delivery> ResolveDelivery(Context& ctx, const std::string& zone, int64_t energy_wh,
                                 const std::string& price, const std::string& interval);
// What `energy_wh` at `price` locks (wallet/market.h OrderLock); an error when it overflows.
Result<int64_t> DeliveryValue(bool sell, int64_t energy_wh, int64_t price, const MarketParams& p);
// The op of a place_order or propose_contract tx in the report's JSON: `type`, side, zone,
// interval, energy, the price as `price_key` and the meter that delivers ("" for a buyer).
json DeliveryOp(const std::string& type, bool sell, const Delivery& at, const char* price_key,
                const std::string& meter);
// "<start> (<unix s>), 15 min; gate closes <time>".
std::string IntervalRow(int64_t start, const MarketParams& p);
// One order or contract (`kind` "order" or "contract") as the node has it; null if it is gone.
json FetchRecord(ApiClient& client, const std::string& kind, uint64_t id);

// `market orders` and `contract list`: an account's orders or contracts, newest first.
Status CmdAccountOrders(Context& ctx, const std::string& who, bool contracts);
// market orders|book|trades|results under `market`.
void AddMarketQueryCommands(CLI::App* market, CommandLine& cl);

}  // namespace v2g::cli
