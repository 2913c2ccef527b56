// Node-local indexes of the state, for the API's listings (docs/DESIGN.md "Listings"). Each state
// record a listing filters or orders differently from its own key gets index keys under x/ (empty
// values) whose order is the listing's order and whose last bytes name the record. They are not
// state: no contract reads them and they are outside the app hash. Store writes them in the same
// WriteBatch as the state changes they follow (so after a crash they match the state at the height
// the database is at), and rebuilds them all when it opens a database written without them or
// with an older layout (m/index).
//
// Keys (integers fixed-width big-endian; a kind or status is its enum value in one byte):
//   x/meter_o/<owner 20B><meter id>           x/meter_ok/<owner 20B><kind><meter id>
//   x/meter_z/<zone>/<meter id>               x/meter_zk/<zone>/<kind><meter id>
//   x/meter_k/<kind><meter id>
//   x/mkt_i/<interval start 8B><zone>          every market by (interval, zone)
//   x/mkt_h/<height 8B><'c' | 's'><interval start 8B><zone>  the markets a block cleared or settled
//   x/event_s/<status><id 8B>                 x/event_z/<zone>/<id 8B>
//   x/event_zs/<zone>/<status><id 8B>
//   x/program_s/<status><id 8B>               x/program_d/<denom>/<id 8B>
//   x/acct_ok/<address 20B><'o' | 'c'><id 8B>  an account's orders or contracts alone
//   x/settled_t/<address 20B><interval 8B><index 4B><zone>  its settled trades (as s/acct_t/)
//   x/settled_c/<address 20B><id 8B>          its settled contracts
//   x/settled_sum/<address 20B>               the totals over both (SettledTotals, 8 x 8B)
//   x/settled_mt/<zone>/<interval 8B><index 4B>    a market's settled trades (as s/trade/)
//   x/settled_mc/<zone>/<interval 8B><id 8B>       its settled contracts (as s/mkt_c/)
//   x/settled_msum/<zone>/<interval 8B>            the totals over both
//   x/settled_mat/<zone>/<interval 8B><address 20B><index 4B>  those of one party in the market
//   x/settled_mac/<zone>/<interval 8B><address 20B><id 8B>
//   x/settled_masum/<zone>/<interval 8B><address 20B>
//   x/book_l/<zone>/<interval 8B><side><price 8B>  a market's book level: energy, filled, orders
//   x/book_s/<zone>/<interval 8B>              its totals: levels and energy of each side
//   x/block/<height 8B>                       a block's summary: tx count (8B) and header
#pragma once

#include <leveldb/write_batch.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "contracts/kv.h"
#include "proto/v2g.pb.h"

namespace v2g::index {

inline constexpr std::string_view kPrefix = "x/";
// The layout version in m/index; a database without it or with another is re-indexed at open.
// 2: a market's settled trades, contracts and totals (x/settled_m*).
// 3: the markets each block cleared and settled (x/mkt_h/), for GET /v1/stream.
inline constexpr std::string_view kVersion = "3";

std::string MeterOwnerPrefix(std::string_view owner_bytes);
std::string MeterOwnerKindPrefix(std::string_view owner_bytes, pb::MeterKind kind);
std::string MeterZonePrefix(std::string_view zone);
std::string MeterZoneKindPrefix(std::string_view zone, pb::MeterKind kind);
std::string MeterKindPrefix(pb::MeterKind kind);
inline constexpr std::string_view kMarketByIntervalPrefix = "x/mkt_i/";
// The markets block `height` cleared or settled (from each MarketRecord's cleared_height and
// settled_height: derived from the state like every index here).
std::string MarketsAtHeightPrefix(int64_t height);
struct MarketAtHeight {
  bool settled = false;  // else cleared
  int64_t interval_start_s = 0;
  std::string zone;
};
// A key under MarketsAtHeightPrefix(height), or nullopt for another key.
std::optional<MarketAtHeight> ParseMarketAtHeight(std::string_view key, int64_t height);
std::string EventStatusPrefix(pb::EventStatus status);
std::string EventZonePrefix(std::string_view zone);
std::string EventZoneStatusPrefix(std::string_view zone, pb::EventStatus status);
std::string ProgramStatusPrefix(pb::ProgramStatus status);
inline constexpr std::string_view kProgramDenomPrefix = "x/program_d/";
std::string AccountOrdersOfKindPrefix(std::string_view address_bytes, char kind);
std::string BlockSummaryKey(int64_t height);

std::string SettledTradesPrefix(std::string_view address_bytes);
std::string SettledContractsPrefix(std::string_view address_bytes);

// What an account's settled trades and contracts add up to (x/settled_sum/). A trade or contract
// counts once settled; a settled record never changes again, so the totals are never taken back
// (they would be, saturating, if one did).
struct SettledTotals {
  int64_t trades = 0, contracts = 0;
  int64_t energy_wh = 0, delivered_wh = 0, seller_paid = 0, buyer_refund = 0, penalty = 0,
          collateral_returned = 0;
};
SettledTotals LoadSettledTotals(const KvReader& kv, std::string_view address_bytes);

// A market's settled trades (keys ending in the trade's 4-byte index) and contracts (ending in the
// contract's 8-byte id), in the market's order, and their totals; those of one party only when
// `address_bytes` is not empty. The totals are kept like x/settled_sum/'s.
std::string MarketSettledTradesPrefix(std::string_view zone, int64_t interval,
                                      std::string_view address_bytes);
std::string MarketSettledContractsPrefix(std::string_view zone, int64_t interval,
                                         std::string_view address_bytes);
SettledTotals LoadMarketSettledTotals(const KvReader& kv, std::string_view zone, int64_t interval,
                                      std::string_view address_bytes);

// A market's book by price level (x/book_l/, x/book_s/), for its depth: the orders that went into
// the book (all but the cancelled ones: before clearing the open ones, after it those the auction
// took), summed per side and limit price.
struct BookLevel {
  int64_t price = 0, energy_wh = 0, filled_wh = 0, orders = 0;
};
struct BookTotals {
  int64_t bid_levels = 0, ask_levels = 0, bid_energy_wh = 0, ask_energy_wh = 0;
};
// The first `limit` levels of one side of a market, best price first (bids highest).
std::vector<BookLevel> LoadBookLevels(const KvReader& kv, std::string_view zone, int64_t interval,
                                      pb::Side side, int64_t limit);
BookTotals LoadBookTotals(const KvReader& kv, std::string_view zone, int64_t interval);

// The index keys of the state record (key, value); none for a key no listing indexes.
std::vector<std::string> KeysOf(std::string_view key, std::string_view value);

// Adds to `batch` the index changes that applying `changes` over the state `before` makes.
void AddChanges(const KvReader& before, const Overlay::Writes& changes, leveldb::WriteBatch& batch);
// Writes every index entry of the state `state` over an empty x/ section, in batches of the
// entries of at most `batch_records_max` state records each: `write` stores one batch (and must
// make it visible to `written`, the database, from which each batch reads the totals and book
// levels the earlier ones left). Stops at the first batch `write` fails, with its error.
using BatchWriter = std::function<Status(leveldb::WriteBatch&)>;
Status AddAll(const KvReader& state, const KvReader& written, int64_t batch_records_max,
              const BatchWriter& write);

// A block's summary (x/block/): its tx count and header, so a list of blocks decodes no tx.
std::string EncodeBlockSummary(const pb::Block& block);
struct BlockSummary {
  int64_t num_txs = 0;
  pb::Header header;
};
BlockSummary DecodeBlockSummary(std::string_view value);

}  // namespace v2g::index
