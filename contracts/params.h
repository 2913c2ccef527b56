// The chain's parameters (s/params, ParamsRecord): their ranges, checked where genesis sets them
// and where governance changes them (contracts/gov.h), so both apply one rule.
#pragma once

#include <functional>
#include <string_view>

#include "common/status.h"
#include "contracts/genesis_state.h"
#include "proto/v2g.pb.h"

namespace v2g {

// The record genesis writes for `p`.
pb::ParamsRecord ParamsRecordOf(const GenesisParams& p);

// Every parameter within its range (common/limits.h ceilings) and consistent with the others;
// `is_denom(name)` says whether the chain has that denomination. Errors name the parameter:
// "params.tx_bytes_max: must be between 512 and 65536, got 12".
Status CheckParamsRecord(const pb::ParamsRecord& p,
                         const std::function<bool(std::string_view)>& is_denom);

// params.gov_voting_period_s, or its default in a record written before it existed.
int64_t GovVotingPeriodS(const pb::ParamsRecord& p);

}  // namespace v2g
