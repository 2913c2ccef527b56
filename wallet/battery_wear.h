// An owner's battery profile and the wear cost of discharging it (after Kempton and Tomic 2005,
// "Vehicle-to-grid power fundamentals"): each kWh cycled through the battery uses up
//   replacement cost / (cycle life x usable capacity x depth of discharge)
// of it. Selling V2G energy below that price loses money on the battery, so `v2g market sell`
// refuses such a limit price unless --force.
//
// Profiles are the owner's own estimates, kept in the wallet home (HOME/battery/<meter>.json),
// never on chain. All arithmetic is integer: costs in minimal units of the market denomination,
// capacity in Wh, depth of discharge in permille.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace v2g {

struct BatteryProfile {
  std::string meter_id;
  int64_t replacement_cost = 0;   // minimal units (e.g. fen) to replace the pack
  int64_t capacity_wh = 0;        // usable capacity
  int64_t cycle_life = 0;         // full cycles to end of life at `dod_permille`
  int64_t dod_permille = 0;       // depth of discharge the cycle life was rated at, 1..1000
};

// The largest replacement cost a profile holds, in minimal units (10^12: 10 billion CNY in fen).
inline constexpr int64_t kReplacementCostMax = 1'000'000'000'000;

// Every field in range (names the field otherwise). The CLI checks the replacement cost in display
// units before (cli/v2g/battery.cc), so this bound's minimal units reach nobody typing it.
Status ValidateProfile(const BatteryProfile& p);

// Wear cost per kWh discharged, in minimal units, rounded up (the floor an owner should accept):
// ceil(cost x 10^6 / (cycle_life x capacity_wh x dod_permille)).
int64_t WearCostPerKwh(const BatteryProfile& p);

// Wear cost of discharging `export_wh`, rounded up: ceil(export_wh x cost x 10^6 /
// (cycle_life x capacity_wh x dod_permille x 1000)).
int64_t WearCostOf(const BatteryProfile& p, int64_t export_wh);

// HOME/battery/<meter>.json
Status SaveProfile(const std::string& home, const BatteryProfile& p);
// kNotFound when the meter has no profile.
Result<BatteryProfile> LoadProfile(const std::string& home, const std::string& meter_id);

}  // namespace v2g
