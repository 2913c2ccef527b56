// The meter simulator behind `v2g meter-sim`: a fleet of vehicle meters, each with the operator's
// charger it plugs into (its readings name the vehicle, so the vehicle's energy is corroborated,
// contracts/meters.h), whose device keys derive from one fleet seed, a deterministic generator of their readings (arrival, charging up to max
// import, discharging inside an operator's request window, departure), charging sessions read
// from a CSV (the ACN-Data export format), and the tally of attested energy per settlement
// interval the chain must end up with (the rule of contracts/meters.h, mirrored).
//
// Everything here is pure: no clock, network or disk. Time comes in as arguments, randomness
// from the seed, so the same seed and inputs give the same readings byte for byte.
// Integers only: energy in Wh (and joules for sub-Wh remainders), power in W, time in seconds.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto.h"
#include "common/status.h"
#include "proto/v2g.pb.h"

namespace v2g {

// Limits on what one run may ask for; each bounds memory or the work of one step.
constexpr int64_t kSimMetersMax = 10'000;       // one batch per step holds <= this many readings
constexpr int64_t kSimSessionsMax = 1'000'000;  // ACN's 4-month Caltech export has ~30k
constexpr size_t kSessionsFileBytesMax = 256 << 20;  // 256 MiB of CSV
constexpr int64_t kSimIntervalSMin = 1;

// One charging session (CSV row), times in Unix seconds, energy in Wh.
struct Session {
  int64_t arrival_s = 0;
  int64_t departure_s = 0;  // > arrival_s
  int64_t requested_wh = 0;
  int64_t delivered_wh = 0;
  std::string station_id;
  int64_t line = 0;  // 1-based line in the file, for messages
};

// "2019-05-01 07:53:23-07:00" (also 'T' for ' ', 'Z', "+hh:mm", optional fractional seconds,
// which are dropped) -> Unix seconds. kInvalidArgument saying what is wrong.
Result<int64_t> ParseSessionTime(std::string_view text);
// "44.069" kWh -> 44069 Wh, rounded down past three decimals; >= 0, at most 1,000,000 kWh.
Result<int64_t> ParseKwhAsWh(std::string_view text);
// Parses the CSV. Header must contain arrival, departure, requested_energy (kWh),
// delivered_energy (kWh) and station_id (any order; other columns are ignored). A bad row is
// kInvalidArgument "<source>:<line>: column '<name>': <why>". Sessions come back sorted by arrival.
Result<std::vector<Session>> ParseSessionsCsv(std::string_view text, std::string_view source);

// A vehicle meter's registry fields.
struct VehicleSpec {
  std::string meter_id;
  int64_t max_import_w = 0;
  int64_t max_export_w = 0;
  int64_t capacity_wh = 0;
};
// Plausible specs for vehicle `index` of a fleet (fixed by seed and index).
VehicleSpec GenerateVehicleSpec(uint64_t seed, int64_t index, const std::string& meter_id);
// Device key of vehicle `index`: Ed25519 from BLAKE2b-256("v2g/meter-sim/device" 0 fleet_seed
// index).
KeyPair DeviceKey(ByteView fleet_seed, int64_t index);
// Device key of vehicle `index`'s charger: the same with "v2g/meter-sim/charger".
KeyPair ChargerDeviceKey(ByteView fleet_seed, int64_t index);
// Meter id of a vehicle's charger: "<vehicle id>-ch".
std::string ChargerIdOf(const std::string& vehicle_id);
// The charger's reading (unsigned) for the vehicle's reading `vehicle`: the same span and
// registers (every Wh the car moves flows through its charger), seq `seq`, naming the vehicle
// only when it is plugged in (an unplugged car moves nothing, and the charger vouches for nobody).
pb::MeterReading ChargerReading(const pb::MeterReading& vehicle, uint64_t seq, bool plugged);

struct SimConfig {
  uint64_t seed = 1;
  int64_t start_s = 0;         // first reading's start; a multiple of interval_s
  int64_t interval_s = 60;     // reading length; divides settlement_s
  int64_t settlement_s = 900;  // the chain's settlement interval
  // [discharge_from_s, discharge_to_s): plugged-in vehicles above discharge_floor_permille
  // export at max export power (the grid asked for it). Empty window: no discharging.
  int64_t discharge_from_s = 0;
  int64_t discharge_to_s = 0;
  int32_t discharge_floor_permille = 300;
  // Built-in generator only. plugged_in: every vehicle stays plugged in for the whole run (a depot
  // the operator dispatches), so it charges until full and discharges exactly inside the window.
  // start_soc_permille >= 0: every vehicle starts at this state of charge instead of a random one.
  // Neither changes the random draws, so the rest of a seed's behaviour stays the same.
  bool plugged_in = false;
  int32_t start_soc_permille = -1;
};
Status ValidateSimConfig(const SimConfig& c);

// Where a meter's register stands, to continue from (its last accepted reading on chain).
struct MeterResume {
  uint64_t seq = 0;
  int64_t import_wh_total = 0;
  int64_t export_wh_total = 0;
  int64_t interval_end_s = 0;
};

// The fleet's readings, one per vehicle per step. Without sessions the built-in generator drives
// arrivals and departures; with them each session goes to the first vehicle free at its arrival
// (shifted so the first arrival is start_s), charges until it delivered what the row says.
class FleetSim {
 public:
  FleetSim(SimConfig config, std::vector<VehicleSpec> specs, std::vector<Session> sessions = {});
  // Continue meter `index` after its last accepted reading (call before the first Step).
  void Resume(size_t index, const MeterResume& r);
  // Readings (unsigned) for [t, t + interval_s) of every vehicle, in fleet order. A vehicle whose
  // resumed reading ends after t is skipped for this step. `t` must advance by interval_s.
  std::vector<pb::MeterReading> Step(int64_t t);
  // Whether vehicle `index` was plugged in for the last Step's readings.
  bool plugged(size_t index) const;
  const std::vector<VehicleSpec>& specs() const { return specs_; }

 private:
  struct Vehicle {
    uint64_t rng = 0;
    uint64_t seq = 0;
    int64_t import_wh = 0, export_wh = 0;
    int64_t import_rem_j = 0, export_rem_j = 0;  // sub-Wh energy not yet on the registers
    int64_t soc_wh = 0;
    int32_t soh_permille = 1000;
    bool plugged = false;
    int64_t next_change_s = 0;     // built-in: next arrival or departure
    int64_t session_left_wh = -1;  // CSV: energy still to deliver; -1 = up to full
    int64_t resume_end_s = -1;
  };
  void AdvanceBuiltin(Vehicle& v, const VehicleSpec& s, int64_t t);
  void AdvanceSessions(int64_t t);
  pb::MeterReading Meter(Vehicle& v, const VehicleSpec& s, int64_t t);

  SimConfig config_;
  std::vector<VehicleSpec> specs_;
  std::vector<Vehicle> vehicles_;
  std::vector<Session> sessions_;
  size_t next_session_ = 0;
  int64_t session_shift_s_ = 0;
  std::vector<int64_t> session_departure_s_;  // per vehicle, -1 when no session
};

// Attested energy the simulator sent, tallied the way contracts/meters.h attests it: a reading's
// deltas go to the settlement interval of its start when the previous reading ended in that
// interval; otherwise (a gap across a boundary) to unattributed; a meter's first reading is its
// baseline.
struct IntervalEnergy {
  int64_t import_wh = 0;
  int64_t export_wh = 0;
  int64_t readings = 0;
};
struct MeterTally {
  std::map<int64_t, IntervalEnergy> intervals;  // by interval start
  int64_t unattributed_import_wh = 0;
  int64_t unattributed_export_wh = 0;
  int64_t readings_sent = 0;
  std::optional<pb::MeterReading> last;
};
class AttestedTally {
 public:
  explicit AttestedTally(int64_t settlement_s) : settlement_s_(settlement_s) {}
  // `r` was accepted and `prev` (if any) was the meter's previous accepted reading.
  void Seed(const pb::MeterReading& last) { meters_[last.meter_id()].last = last; }
  void Add(const pb::MeterReading& r);
  const std::map<std::string, MeterTally>& meters() const { return meters_; }

 private:
  int64_t settlement_s_;
  std::map<std::string, MeterTally> meters_;
};

}  // namespace v2g
