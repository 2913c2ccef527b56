// The part of genesis.json that becomes state at height 0. Parsed and validated by genesis/;
// turned into state records by InitChain (contracts/app.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/bech32.h"
#include "common/crypto.h"
#include "common/limits.h"

namespace v2g {

struct GenesisDenom {
  std::string name;
  uint32_t decimals = 0;
  Address issuer{};
};

struct GenesisBalance {
  Address address{};
  std::string denom;
  int64_t amount = 0;
};

struct GenesisValidator {
  std::string name;
  Address address{};
  PublicKey consensus_pubkey{};
  PublicKey node_pubkey{};
  int64_t power = 0;
};

// An address holding a named role (e.g. "operator", "grid_company"); later modules check them.
struct GenesisRole {
  std::string role;
  Address address{};
};

struct GenesisParams {
  int64_t tx_bytes_max = 0;
  int64_t block_txs_max = 0;
  int64_t block_bytes_max = 0;
  int64_t memo_bytes_max = 0;
  // Meters (contracts/meters.h); defaults from common/limits.h.
  int64_t settlement_interval_s = limits::kSettlementIntervalSDefault;
  int64_t reading_future_skew_s = limits::kReadingFutureSkewSDefault;
  int64_t reading_energy_tolerance_permille = limits::kReadingEnergyTolerancePermilleDefault;
  int64_t reading_energy_tolerance_wh = limits::kReadingEnergyToleranceWhDefault;
  // Energy market (contracts/market.h); an empty denomination leaves the market off.
  std::string market_denom;
  int64_t market_gate_closure_s = limits::kGateClosureSDefault;
  int64_t market_horizon_s = limits::kMarketHorizonSDefault;
  int64_t market_grace_s = limits::kMarketGraceSDefault;
  int64_t market_collateral_bps = limits::kCollateralBpsDefault;
  int64_t market_penalty_bps = limits::kPenaltyBpsDefault;
  // Grid services (contracts/grid.h).
  int64_t baseline_days = limits::kBaselineDaysDefault;
  int64_t grid_horizon_s = limits::kGridHorizonSDefault;
  // Every tx pays fee_min per fee unit in market_denom (contracts/app.h); 0 = no fee.
  int64_t fee_min = 0;
  // Fee units all of a block's txs may carry together (contracts/app.h TxFeeUnits).
  int64_t block_units_max = limits::kBlockUnitsDefault;
  // The market's time zone, minutes east of UTC: display only (the API and wallet show times in it).
  int32_t utc_offset_min = 0;
  // How long a governance proposal is open for votes (contracts/gov.h).
  int64_t gov_voting_period_s = limits::kGovVotingPeriodSDefault;
};

// A grid zone and the grid company that owns it (contracts/state.h ZoneRecord).
struct GenesisZone {
  std::string name;
  Address grid_company{};
};

struct GenesisState {
  std::string chain_id;
  int64_t genesis_time_ms = 0;
  std::vector<GenesisValidator> validators;
  std::vector<GenesisDenom> denoms;
  std::vector<GenesisBalance> balances;
  std::vector<GenesisRole> roles;
  std::vector<GenesisZone> zones;
  GenesisParams params;
};

}  // namespace v2g
