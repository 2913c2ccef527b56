// The energy market: one uniform-price call auction per (zone, delivery interval), escrow held by
// the ledger, and settlement against the meters' attested export. Nobody can move the escrow by
// hand: only clearing and settlement (run at the start of a block, on every node alike) release it.
//
// Delivery intervals are settlement intervals (params.settlement_interval_s), so a meter's
// attested export in an interval (contracts/meters.h) is exactly what backs the trades of that
// interval. Prices are minimal units of params.market_denom per kWh; energy is Wh.
//
// Life of a market (zone Z, interval starting at S, length L, gate closure lead G, grace R):
//   until S - G      orders (PlaceOrder / CancelOrder) and bilateral contracts (Propose / Accept /
//                    Cancel) are taken; a buy escrows floor(E x P / 1000), a sell names the meter
//                    that delivers (owned by the seller, in zone Z) and locks collateral
//                    floor(E x P x collateral_bps / 10^7); the open sells and contracts on one meter
//                    and interval never exceed its max export power x L.
//   first block with time >= S - G: clearing (ClearCallAuction below). Every match becomes a
//                    trade; escrow above the clearing price and every unmatched remainder
//                    (escrow and collateral) is refunded; unaccepted contract proposals expire.
//   first block with time >= S + L + R: settlement. Per meter, the attested export of the
//                    interval is allocated to its obligations (trades and accepted contracts) in
//                    arrival order (order or contract id, then trade index), so the same Wh never
//                    backs two of them. The seller receives floor(delivered x price / 1000), the
//                    buyer gets back the rest of that trade's escrow, and a shortfall penalty of
//                    floor(undelivered x price x penalty_bps / 10^7), capped by what is left of the
//                    seller's collateral, moves to the buyer; the rest of the collateral returns.
//                    Readings that arrive later change nothing here.
// Every locked amount sits in the market's module account (MarketModuleAddress), so the ledger's
// conservation check covers it; CheckMarketEscrow checks that account against the records.
//
// Key layout (under s/, see contracts/state.h):
//   s/mkt/<zone>/<interval 8B>                 MarketRecord
//   s/mkt_o/<zone>/<interval 8B><id 8B>        "" (the market's orders)
//   s/mkt_c/<zone>/<interval 8B><id 8B>        "" (the market's contracts)
//   s/mkt_q/<due s 8B><kind 1B><interval 8B><zone>  "" (clearing / settlement timers)
//   s/mkt_m/<meter>/<interval 8B>              MeterCommitment
//   s/mkt_seq                                  next order / contract id (8B)
//   s/ord/<id 8B>                              OrderRecord
//   s/ctr/<id 8B>                              ContractRecord
//   s/trade/<zone>/<interval 8B><index 4B>     TradeRecord
//   s/acct_o/<address 20B><id 8B>              "o" or "c" (an account's orders and contracts)
//   s/acct_t/<address 20B><interval 8B><index 4B><zone>  "" (an account's trades)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bech32.h"
#include "common/limits.h"
#include "common/status.h"
#include "contracts/app.h"
#include "contracts/kv.h"
#include "proto/v2g.pb.h"

namespace v2g {

// ---------------------------------------------------------------- the auction (pure)

struct AuctionOrder {
  uint64_t id = 0;       // arrival order: lower ids arrived first
  int64_t price = 0;     // limit price, > 0
  int64_t energy_wh = 0; // > 0
};

struct AuctionFill {
  uint64_t buy_id = 0;
  uint64_t sell_id = 0;
  int64_t energy_wh = 0;
};

struct AuctionResult {
  int64_t price = 0;      // 0 when nothing crossed
  int64_t volume_wh = 0;  // total matched
  std::vector<AuctionFill> fills;  // in matching order
};

// Uniform-price call auction maximising traded energy. Bids sort by price descending, asks by
// price ascending, ties by id; they match greedily while bid >= ask, partially at the margin.
// With a_k, b_k the last matched ask and bid and a_k+1, b_k+1 the first ask and bid left wholly or
// partly unmatched, the price is floor of the midpoint of [max(a_k, b_k+1), min(b_k, a_k+1)]
// (missing bounds drop out). Inputs are taken by value and sorted.
AuctionResult ClearCallAuction(std::vector<AuctionOrder> bids, std::vector<AuctionOrder> asks);

// ---------------------------------------------------------------- keys and records

inline constexpr std::string_view kMarketPrefix = "s/mkt/";
inline constexpr std::string_view kMarketTimerPrefix = "s/mkt_q/";
inline constexpr std::string_view kOrderPrefix = "s/ord/";
inline constexpr std::string_view kContractPrefix = "s/ctr/";
inline constexpr std::string_view kTradePrefix = "s/trade/";
inline constexpr std::string_view kAccountOrdersPrefix = "s/acct_o/";
inline constexpr std::string_view kAccountTradesPrefix = "s/acct_t/";

// The account that holds every escrow and collateral: its key is unknown to anyone (the address
// is a hash of a fixed label), so only the market's own rules move its funds.
Address MarketModuleAddress();

std::string MarketKey(std::string_view zone, int64_t interval_start_s);
// s/mkt/<zone>/ : every market of a zone, in interval order.
std::string MarketZonePrefix(std::string_view zone);
std::string OrderKey(uint64_t id);
std::string ContractKey(uint64_t id);
// s/trade/<zone>/<interval> : the trades of one market, in index order.
std::string MarketTradesPrefix(std::string_view zone, int64_t interval_start_s);
std::string AccountOrdersPrefix(const Address& a);
std::string AccountTradesPrefix(const Address& a);

std::optional<pb::MarketRecord> LoadMarket(const KvReader& kv, std::string_view zone, int64_t interval_start_s);
std::optional<pb::OrderRecord> LoadOrder(const KvReader& kv, uint64_t id);
std::optional<pb::ContractRecord> LoadContract(const KvReader& kv, uint64_t id);
std::vector<pb::OrderRecord> LoadMarketOrders(const KvReader& kv, std::string_view zone, int64_t interval_start_s);
std::vector<pb::ContractRecord> LoadMarketContracts(const KvReader& kv, std::string_view zone, int64_t interval_start_s);
std::vector<pb::TradeRecord> LoadMarketTrades(const KvReader& kv, std::string_view zone, int64_t interval_start_s);
// Parses a key under s/acct_t/<address> back into (zone, interval, index) and loads the trade.
std::optional<pb::TradeRecord> LoadTradeByAccountKey(const KvReader& kv, std::string_view key);

// The delivery intervals (ascending) for which meter `meter_id` has open sells or accepted
// contracts not yet settled (s/mkt_m/<meter>/: written when a sell is placed, released at clearing
// and settlement). At most `max` of them; `*total` (if given) gets how many there are.
std::vector<int64_t> OpenCommitmentIntervals(const KvReader& kv, std::string_view meter_id, size_t max,
                                             size_t* total = nullptr);

std::string_view SideName(pb::Side side);                 // "buy", "sell"
std::optional<pb::Side> ParseSide(std::string_view name);
std::string_view MarketStatusName(pb::MarketStatus s);    // "open", "cleared", "settled"
std::string_view OrderStatusName(pb::OrderStatus s);      // "open", "cancelled", "expired", ...
std::string_view ContractStatusName(pb::ContractStatus s);

// ---------------------------------------------------------------- money arithmetic

// floor(energy_wh x price / 1000): what `energy_wh` costs at `price` per kWh; nullopt if it does
// not fit in int64.
std::optional<int64_t> EnergyValue(int64_t energy_wh, int64_t price);
// floor(energy_wh x price x bps / 10^7); nullopt on overflow.
std::optional<int64_t> EnergyValueBps(int64_t energy_wh, int64_t price, int64_t bps);

// ---------------------------------------------------------------- execution

// True for the ops this module executes.
bool IsMarketOp(pb::TxBody::OpCase op);
// Stateless checks of a market op's fields (called from CheckTxStateless).
Status CheckMarketOp(const pb::TxBody& body, const pb::ParamsRecord& params);

// Executes a market op for `tx`. Amounts the signer locks or gets back move through `signer_rec`
// (the signer's record, stored by the caller afterwards); other accounts through `state`. On
// error nothing the caller keeps has changed. `result` receives the new order's or contract's id.
Status ApplyMarketOp(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params,
                     pb::AccountRecord& signer_rec, Overlay& state, pb::TxResult* result);

// Runs the clearings and settlements due at ctx.time_ms, oldest first (called before a block's
// txs), until `work_max` orders and contracts have been processed (at least one market); the rest
// stay due for the next blocks. Cannot fail: every amount it moves was locked by the rules above.
void RunMarketTimers(const BlockContext& ctx, const pb::ParamsRecord& params, Overlay& state,
                     int64_t work_max = limits::kMarketWorkPerBlockMax);
// The due time (s) of the earliest clearing or settlement not run yet; nullopt when none is
// pending. Grid services wait for every market due before an interval's settlement
// (contracts/grid.h), so a deferred market settlement is never overtaken.
std::optional<int64_t> FirstMarketTimerDueS(const KvReader& state);

// Audit: the module account's balance of the market denomination equals everything the order
// and contract records say is locked, and no order or contract in a final state holds anything.
Status CheckMarketEscrow(const KvReader& state);

}  // namespace v2g
