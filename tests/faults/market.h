// The market workload of the fault harness: the meter fleet's owners sell what their meters export
// and a few buyers buy, one client each, through whole market cycles. Each client places orders for
// the next delivery interval still open (and cancels some before gate closure); the chain clears
// each market at gate closure and settles it after the grace against the meters' attested export.
// Only intervals whose settlement is due by the deadline get orders, so every market the workload
// opens settles while the run watches. Every tx is recorded like the bank's (TxRecord, kinds
// place_order and cancel_order); CheckMarket (checker.h) judges the outcome.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/bech32.h"
#include "common/crypto.h"
#include "common/status.h"
#include "tests/faults/bank.h"
#include "tests/faults/cluster.h"
#include "tests/faults/meters.h"

namespace v2g::faults {

struct MarketOptions {
  int buyers = 2;
  int64_t initial = 1'000'000'000;  // minted to every seller and buyer at setup
  int orders_per_interval = 2;      // per client and delivery interval
  int64_t wait_ms = 4000;
  int retries = 3;
  std::string zone = "CN-SH";       // the meter fleet's
  // The genesis's market rules (read from the testnet's genesis.json by Setup).
  int64_t collateral_bps = 0, penalty_bps = 0;
  size_t records_max = 100'000;
};

// One place_order as its client signed it (the chain's order must say the same).
struct SentOrder {
  int participant = 0;
  bool buy = false;
  int64_t interval_s = 0, energy_wh = 0, price = 0;
  std::string meter_id;  // sells
  bool acknowledged = false;  // its tx committed with code 0
};

class MarketWorkload : public ClientThreads {
 public:
  MarketWorkload(Cluster& cluster, const MeterFleet& meters, MarketOptions o, uint64_t seed, int64_t run_start_ms);
  ~MarketWorkload();
  Status Setup();  // funds every seller and buyer from node0's key
  // Starts the clients on the first market: the first delivery interval whose gate closes 4 s or
  // more from now (returned); they order nothing later until SetDeadline.
  int64_t Start();
  // Waits until every client has an acknowledged order for the market of interval `s` (each
  // market the run watches then has buyers and sellers, whatever the faults do later).
  Status WaitOrdersFor(int64_t s);
  // From now on, orders for every interval whose settlement is due at or before `deadline_s`
  // (wall clock, s); it never moves earlier.
  void SetDeadline(int64_t deadline_s);
  std::map<std::string, SentOrder> Orders() const;  // by tx hash
  // Sellers first (participant m owns meter m), then buyers.
  const std::vector<Address>& participants() const { return addresses_; }
  int sellers() const { return sellers_; }
  int64_t initial() const { return o_.initial; }
  std::string denom() const { return "CNY"; }
  const std::string& zone() const { return o_.zone; }
  const MarketOptions& options() const { return o_; }

 private:
  void Client(int p);
  Cluster& cluster_;
  const MeterFleet& meters_;
  MarketOptions o_;
  uint64_t seed_;
  int64_t run_start_ms_;
  int sellers_;
  std::atomic<int64_t> deadline_s_{0};
  int64_t first_s_ = 0;  // no orders for earlier intervals (set before the clients start)
  std::vector<KeyPair> keys_;
  std::vector<Address> addresses_;
  std::map<std::string, SentOrder> orders_;  // guarded by mu_
};

// What one node's API says of the market after the run.
struct OrderView {
  uint64_t id = 0;
  std::string owner, side, zone, meter_id, status;
  int64_t interval_s = 0, energy_wh = 0, limit_price = 0;
  int64_t filled_wh = 0, locked = 0, locked_initial = 0, refunded = 0, paid = 0, penalty = 0, delivered_wh = 0;
};
struct TradeView {
  uint32_t index = 0;
  uint64_t buy_order_id = 0, sell_order_id = 0;
  std::string meter_id;
  int64_t energy_wh = 0, price = 0, escrow = 0;
  bool settled = false;
  int64_t delivered_wh = 0, seller_paid = 0, buyer_refund = 0, penalty = 0;
};
struct MarketIntervalView {
  std::string status;
  int64_t clearing_price = 0;
  std::vector<TradeView> trades;  // in index order
};
struct MarketView {
  std::map<uint64_t, OrderView> orders;              // every order on the chain
  std::map<int64_t, MarketIntervalView> markets;     // interval start -> its market (those with orders)
  std::vector<int64_t> balances;                     // the participants', in the market's denomination
  int64_t module_balance = 0;                        // the market's escrow account
  int64_t collateral_bps = 0, penalty_bps = 0;       // as the node's params say
  std::string fingerprint;                           // the answers read, to compare nodes
};
// Reads every order of the participants (at most `orders_max`), the markets and trades of their
// intervals, the market params and the balances.
Result<MarketView> ReadMarket(const std::string& api, const std::string& zone, const std::string& denom,
                              const std::vector<Address>& participants, size_t orders_max);

}  // namespace v2g::faults
