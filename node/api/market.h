// What the energy market's route files (market.cc, market_trades.cc) share. Internal to
// node/api/.
#pragma once

#include <cstdint>
#include <string>

#include "common/checked.h"
#include "common/status.h"
#include "proto/v2g.pb.h"

namespace v2g::api {

// acc += v for totals, saturating at INT64_MAX: a long history of payouts may in principle
// exceed int64, and a total shown as the maximum is better than a request that fails.
inline void AddSat(int64_t& acc, int64_t v) {
  const Int128 r = static_cast<Int128>(acc) + v;
  acc = r > INT64_MAX ? INT64_MAX : static_cast<int64_t>(r);
}

// A delivery interval start: a positive Unix time (at most kTimeMaxS) aligned to the settlement
// interval of `p`; the error names `name` and the nearest earlier start.
Result<int64_t> ParseInterval(const std::string& name, const std::string& text,
                              const pb::ParamsRecord& p);


}  // namespace v2g::api
