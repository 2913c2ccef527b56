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
// one the meter made (same register, same signature), every seq up to it was accepted once and
// none the client was told accepted lies beyond it, the energy attested over the intervals (plus
// any unattributed) is exactly the register's rise from the meter's first reading to that one,
// and every node says the same.
Verdict CheckMeters(const std::vector<std::map<uint64_t, SentReading>>& sent,
                    const std::vector<std::vector<MeterOnChain>>& per_node);

// The market workload against the chain's markets (`views`: one per node, which must agree):
//  - every market it traded in cleared and settled; every order is final with nothing locked; each
//    acknowledged order is on the chain as its client placed it, each acknowledged cancel took;
//  - every trade is paid for exactly the attested export that backs it: per meter and interval the
//    trades, in arrival order (sell order id, then index), take min(their energy, what is left of
//    the meter's attested export); seller paid floor(delivered x price / 1000), the rest of the
//    escrow back to the buyer, a penalty only for undelivered energy and at most its rate;
//  - the market's money is conserved: each trader holds its funding plus what its sells were paid
//    minus what its buys paid (penalties the other way), orders and trades agree, and the market's
//    account holds exactly what the orders still lock.
// `export_by_meter`: meter id -> interval start -> attested export (CheckMeters holds it to the
// meters' registers).
std::vector<Verdict> CheckMarket(const std::vector<TxRecord>& history, const std::map<std::string, SentOrder>& sent,
                                 const std::vector<MarketView>& views, const std::vector<Address>& participants,
                                 int64_t initial,
                                 const std::map<std::string, std::map<int64_t, int64_t>>& export_by_meter);

}  // namespace v2g::faults
