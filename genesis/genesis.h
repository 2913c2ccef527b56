// genesis.json: schema, parsing with errors that name the field, validation, and writing.
//
// {
//   "chain_id": "v2g-devnet",
//   "genesis_time": "2026-11-26T02:00:00Z",          RFC 3339, UTC
//   "validators": [{"name", "address" (v2g1...), "consensus_pubkey" (hex), "node_pubkey" (hex),
//                   "power" (integer > 0)}],
//   "denominations": [{"name": "CNY", "decimals": 2, "issuer": "v2g1..."}],
//   "balances": [{"address", "denom", "amount" (minimal units, as a decimal string)}],
//   "roles": {"operator": ["v2g1..."], "grid_company": [...]}   (contracts/state.h kRoleNames),
//   "params": {"tx_bytes_max", "block_txs_max", "block_bytes_max", "memo_bytes_max",
//              "settlement_interval_s", "reading_future_skew_s",
//              "reading_energy_tolerance_permille", "reading_energy_tolerance_wh",
//              "market_denom" (empty: no market), "market_gate_closure_s", "market_horizon_s",
//              "market_grace_s", "market_collateral_bps", "market_penalty_bps", "baseline_days",
//              "grid_horizon_s", "fee_min", "block_units_max",
//              "utc_offset" (the market's time zone, "+08:00"; display only, default "+00:00"),
//              "gov_voting_period_s" (how long a governance proposal is open)}
//             (optional, each defaults to common/limits.h; ranges in ValidateGenesis)
// }
#pragma once

#include <string>
#include <string_view>

#include "common/crypto.h"
#include "common/status.h"
#include "contracts/genesis_state.h"
#include "contracts/state.h"

namespace v2g {

// Role names genesis may assign: every role the ledger has (contracts/state.h).
inline constexpr const auto& kKnownRoles = kRoleNames;

// Parses and validates. Errors read like "genesis: validators[1].power: must be a positive integer".
Result<GenesisState> ParseGenesis(std::string_view json_text);
Result<GenesisState> LoadGenesisFile(const std::string& path);
// Pretty JSON that ParseGenesis reads back to an equal state.
std::string GenesisToJson(const GenesisState& g);
// Checks what JSON shape cannot: names, ranges, duplicates, issuers, params within ceilings.
Status ValidateGenesis(const GenesisState& g);
// Defaults for params (common/limits.h).
GenesisParams DefaultParams();


}  // namespace v2g
