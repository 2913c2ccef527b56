#include "contracts/params.h"

#include <string>

#include "common/limits.h"
#include "common/time.h"

namespace v2g {
namespace {

Status CheckRange(const char* name, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi) {
    return Error(Code::kInvalidArgument, std::string("params.") + name + ": must be between " +
                                             std::to_string(lo) + " and " + std::to_string(hi) +
                                             ", got " + std::to_string(v));
  }
  return Status::Ok();
}

}  // namespace

pb::ParamsRecord ParamsRecordOf(const GenesisParams& g) {
  pb::ParamsRecord p;
  p.set_tx_bytes_max(g.tx_bytes_max);
  p.set_block_txs_max(g.block_txs_max);
  p.set_block_bytes_max(g.block_bytes_max);
  p.set_memo_bytes_max(g.memo_bytes_max);
  p.set_settlement_interval_s(g.settlement_interval_s);
  p.set_reading_future_skew_s(g.reading_future_skew_s);
  p.set_reading_energy_tolerance_permille(g.reading_energy_tolerance_permille);
  p.set_reading_energy_tolerance_wh(g.reading_energy_tolerance_wh);
  p.set_market_denom(g.market_denom);
  p.set_market_gate_closure_s(g.market_gate_closure_s);
  p.set_market_horizon_s(g.market_horizon_s);
  p.set_market_grace_s(g.market_grace_s);
  p.set_market_collateral_bps(g.market_collateral_bps);
  p.set_market_penalty_bps(g.market_penalty_bps);
  p.set_baseline_days(g.baseline_days);
  p.set_grid_horizon_s(g.grid_horizon_s);
  p.set_fee_min(g.fee_min);
  p.set_block_units_max(g.block_units_max);
  p.set_utc_offset_min(g.utc_offset_min);
  // 0 when it is the default (GovVotingPeriodS): a genesis written before governance keeps its
  // app hash, which verify-chain recomputes.
  if (g.gov_voting_period_s != limits::kGovVotingPeriodSDefault)
    p.set_gov_voting_period_s(g.gov_voting_period_s);
  return p;
}

Status CheckParamsRecord(const pb::ParamsRecord& p,
                         const std::function<bool(std::string_view)>& is_denom) {
  V2G_RETURN_IF_ERROR(CheckRange("tx_bytes_max", p.tx_bytes_max(), 512, limits::kTxBytesCeiling));
  V2G_RETURN_IF_ERROR(CheckRange("block_txs_max", p.block_txs_max(), 1, limits::kBlockTxsCeiling));
  V2G_RETURN_IF_ERROR(CheckRange("block_bytes_max", p.block_bytes_max(), p.tx_bytes_max(),
                                 limits::kBlockBytesCeiling));
  V2G_RETURN_IF_ERROR(
      CheckRange("memo_bytes_max", p.memo_bytes_max(), 0, limits::kMemoBytesCeiling));
  V2G_RETURN_IF_ERROR(CheckRange("settlement_interval_s", p.settlement_interval_s(),
                                 limits::kSettlementIntervalSMin, limits::kSettlementIntervalSMax));
  if (86400 % p.settlement_interval_s() != 0) {
    // Days and settlement intervals must share boundaries (battery history is per day, markets
    // per interval): 900 and 3600 divide a day, 1000 does not.
    return Error(Code::kInvalidArgument,
                 "params.settlement_interval_s: must divide a day (86400 s) evenly, got " +
                     DurationWords(p.settlement_interval_s()));
  }
  V2G_RETURN_IF_ERROR(CheckRange("reading_future_skew_s", p.reading_future_skew_s(), 0,
                                 limits::kReadingFutureSkewSMax));
  V2G_RETURN_IF_ERROR(CheckRange("reading_energy_tolerance_permille",
                                 p.reading_energy_tolerance_permille(), 0,
                                 limits::kReadingEnergyTolerancePermilleMax));
  V2G_RETURN_IF_ERROR(CheckRange("reading_energy_tolerance_wh", p.reading_energy_tolerance_wh(), 0,
                                 limits::kReadingEnergyToleranceWhMax));
  if (!p.market_denom().empty() && !is_denom(p.market_denom())) {
    return Error(Code::kInvalidArgument,
                 "params.market_denom: '" + p.market_denom() + "' is not one of the denominations");
  }
  V2G_RETURN_IF_ERROR(
      CheckRange("market_gate_closure_s", p.market_gate_closure_s(), 0, limits::kGateClosureSMax));
  // Orders must open before gate closure, at least one interval ahead.
  V2G_RETURN_IF_ERROR(CheckRange("market_horizon_s", p.market_horizon_s(),
                                 p.market_gate_closure_s() + p.settlement_interval_s(),
                                 limits::kMarketHorizonSMax));
  V2G_RETURN_IF_ERROR(
      CheckRange("market_grace_s", p.market_grace_s(), 0, limits::kMarketGraceSMax));
  V2G_RETURN_IF_ERROR(
      CheckRange("market_collateral_bps", p.market_collateral_bps(), 0, limits::kBpsMax));
  V2G_RETURN_IF_ERROR(CheckRange("market_penalty_bps", p.market_penalty_bps(), 0, limits::kBpsMax));
  V2G_RETURN_IF_ERROR(CheckRange("baseline_days", p.baseline_days(), 1, limits::kBaselineDaysMax));
  V2G_RETURN_IF_ERROR(CheckRange("grid_horizon_s", p.grid_horizon_s(), p.settlement_interval_s(),
                                 limits::kGridHorizonSMax));
  V2G_RETURN_IF_ERROR(CheckRange("fee_min", p.fee_min(), 0, limits::kFeeMinMax));
  V2G_RETURN_IF_ERROR(CheckRange("block_units_max", p.block_units_max(), limits::kBlockUnitsMin,
                                 limits::kBlockUnitsCeiling));
  V2G_RETURN_IF_ERROR(
      CheckRange("utc_offset_min", p.utc_offset_min(), -kUtcOffsetMaxMin, kUtcOffsetMaxMin));
  V2G_RETURN_IF_ERROR(CheckRange("gov_voting_period_s", GovVotingPeriodS(p),
                                 limits::kGovVotingPeriodSMin, limits::kGovVotingPeriodSMax));
  if (p.fee_min() > 0 && p.market_denom().empty()) {
    return Error(Code::kInvalidArgument,
                 "params.fee_min: fees are paid in market_denom, and this chain has none");
  }
  return Status::Ok();
}

int64_t GovVotingPeriodS(const pb::ParamsRecord& p) {
  return p.gov_voting_period_s() > 0 ? p.gov_voting_period_s() : limits::kGovVotingPeriodSDefault;
}

}  // namespace v2g
