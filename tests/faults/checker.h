// The fault harness's checker: reads each stopped node's store and judges the recorded history
// against the chains (docs/DESIGN.md "Fault harness" lists every verdict).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "common/status.h"
#include "tests/faults/bank.h"
#include "tests/faults/market.h"
#include "tests/faults/meters.h"

namespace v2g::faults {

struct Verdict {
  std::string name;
  bool ok = true;
  std::string detail;
};

// One node's chain, read from its stopped store.
struct ChainView {
  int node = 0;
  int64_t height = 0;
  std::vector<std::string> block_ids;   // [h - 1], hex
  std::vector<std::string> app_hashes;  // [h - 1], hex: the state after block h
  std::vector<int64_t> times_ms;        // [h - 1]
  // tx hash (hex) -> every (height, code) it appears at
  std::map<std::string, std::vector<std::pair<int64_t, uint32_t>>> txs;
  int64_t evidence = 0;  // duplicate-vote evidence committed
  // [h - 1]: the validators (bech32 addresses) whose precommit for block h is in this store (the
  // last commit of block h + 1, or the stored commit of the tip)
  std::vector<std::vector<std::string>> signers;
};
Result<ChainView> ReadChain(int node, const std::string& home);

// Every node agrees on every block and app hash at every height they share.
Verdict CheckSameChain(const std::vector<ChainView>& chains);
// What nodes reported while running, (node, height, block id hex), is in the final chain: a node
// that acknowledged a block and lost it (or replaced it) after a crash is caught even when it
// caught up again before the end.
Verdict CheckObserved(const std::vector<std::tuple<int, int64_t, std::string>>& seen, const ChainView& chain);
// The history against the chain (the longest): acknowledged commits are in it exactly once at the
// height and with the code the client was told, refused txs never, unknown ones at most once, and
// no tx twice.
std::vector<Verdict> CheckHistory(const std::vector<TxRecord>& history, const ChainView& chain);
// The bank's accounts on each node: they sum to what was minted, and each holds exactly what the
// committed transfers in the chain leave it.
Verdict CheckBalances(const std::vector<TxRecord>& history, const ChainView& chain, int accounts, int64_t initial,
                      const std::vector<std::vector<int64_t>>& balances_per_node);

// The meters on each node ([node][meter]) against what each meter sent: the chain's last reading is
// one the meter made (same registers, one of its signatures for that seq), every seq up to it was
// accepted once and none the client was told accepted lies beyond it, the energy attested over the
// intervals (plus any unattributed) is exactly each register's rise from the meter's first reading
// to that one, each interval holds what the meter's spans put there (`interval_s`: the settlement
// interval) and every node says the same.
Verdict CheckMeters(const std::vector<std::map<uint64_t, SentReading>>& sent,
                    const std::vector<std::vector<MeterOnChain>>& per_node, int64_t interval_s);

// The market workload against the chain's markets (`views`: one per node, which must all say the
// same), four verdicts:
//  - cycle: every market it traded in settled; every order is final with nothing locked; each
//    acknowledged order is on the chain as its client placed it, each other order matches one
//    whose tx's outcome was unknown (once), each acknowledged cancel took; at least one trade;
//  - clearing: the call auction (ClearCallAuction) recomputed over each market's orders that were
//    not cancelled gives the trades (buy, sell, energy) and price the chain has, on the sell's meter;
//    every order's filled energy is its trades';
//  - paid: per meter and interval the trades, in arrival order (sell order id, then index), take
//    min(their energy, what is left of the meter's attested export); the seller gets
//    floor(delivered x price / 1000), the buyer the rest of the escrow floor(energy x price / 1000)
//    and a penalty of min(the rate on the undelivered energy, what is left of the sell's
//    collateral kept at clearing);
//  - money: each order locked what the rules say and accounts for it (escrow paid or refunded,
//    collateral paid as penalties or refunded), its totals are its trades', each trader holds its
//    funding plus its sells' pay minus its buys' (penalties the other way), the market's account
//    holds exactly what orders still lock, and the chain's rates are genesis's.
// `rules`: zone, initial funding and the genesis's rates. `export_by_meter`: meter id -> interval
// start -> attested export (CheckMeters holds it to what the meters sent).
std::vector<Verdict> CheckMarket(const std::vector<TxRecord>& history, const std::map<std::string, SentOrder>& sent,
                                 const std::vector<MarketView>& views, const std::vector<Address>& participants,
                                 const MarketOptions& rules,
                                 const std::map<std::string, std::map<int64_t, int64_t>>& export_by_meter);

}  // namespace v2g::faults
