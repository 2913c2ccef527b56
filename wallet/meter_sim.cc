#include "wallet/meter_sim.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include "common/assert.h"
#include "contracts/meters.h"

namespace v2g {
namespace {

// splitmix64: tiny, seedable, and the same on every platform (std distributions are not).
uint64_t NextRandom(uint64_t& s) {
  s += 0x9E3779B97F4A7C15ULL;
  uint64_t z = s;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
// Uniform in [lo, hi] (the modulo bias is irrelevant for a simulation).
int64_t Uniform(uint64_t& s, int64_t lo, int64_t hi) {
  V2G_ASSERT(lo <= hi);
  return lo + static_cast<int64_t>(NextRandom(s) % static_cast<uint64_t>(hi - lo + 1));
}

constexpr int64_t kMinute = 60;
constexpr int64_t kHour = 3600;
// Chargers draw a little under their rating; 95% keeps every reading inside the chain's
// max-power rule with no tolerance at all.
constexpr int64_t kDrawPercent = 95;
// Average drain while away (driving and parked), W.
constexpr int64_t kAwayDrainW = 1500;

int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {  // H. Hinnant's algorithm
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// Reads exactly `n` digits at `pos`.
std::optional<int64_t> Digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return std::nullopt;
  int64_t v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

std::vector<std::string_view> SplitCsvLine(std::string_view line) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t comma = line.find(',', start);
    out.push_back(line.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

Result<int64_t> ParseSessionTime(std::string_view t) {
  const std::string shown(t.substr(0, 40));
  auto bad = [&](const std::string& why) {
    return Error(Code::kInvalidArgument,
                 "'" + shown + "' is not a time like 2019-05-01 07:53:23-07:00: " + why);
  };
  auto y = Digits(t, 0, 4), mo = Digits(t, 5, 2), d = Digits(t, 8, 2);
  auto h = Digits(t, 11, 2), mi = Digits(t, 14, 2), se = Digits(t, 17, 2);
  if (!y || !mo || !d || !h || !mi || !se || t[4] != '-' || t[7] != '-' ||
      (t[10] != ' ' && t[10] != 'T') || t[13] != ':' || t[16] != ':') {
    return bad("expected YYYY-MM-DD hh:mm:ss");
  }
  if (*y < 1970 || *mo < 1 || *mo > 12 || *d < 1 || *d > 31 || *h > 23 || *mi > 59 || *se > 60) {
    return bad("a field is out of range");
  }
  size_t pos = 19;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') ++pos;
  }
  int64_t offset_s = 0;
  if (pos < t.size() && t[pos] == 'Z') {
    ++pos;
  } else if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) {
    auto oh = Digits(t, pos + 1, 2), om = Digits(t, pos + 4, 2);
    if (!oh || !om || t[pos + 3] != ':' || *oh > 23 || *om > 59) return bad("bad UTC offset");
    offset_s = (t[pos] == '-' ? -1 : 1) * (*oh * kHour + *om * kMinute);
    pos += 6;
  } else {
    return bad("no UTC offset (Z or +hh:mm)");
  }
  if (pos != t.size()) return bad("trailing characters");
  return DaysFromCivil(*y, *mo, *d) * 86400 + *h * kHour + *mi * kMinute + *se - offset_s;
}

Result<int64_t> ParseKwhAsWh(std::string_view text) {
  const std::string shown(text.substr(0, 40));
  auto bad = [&] {
    return Error(Code::kInvalidArgument, "'" + shown + "' is not an energy in kWh like 44.069");
  };
  size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (whole.empty() || whole.size() > 7) return bad();  // <= 9,999,999 kWh before the range check
  auto w = Digits(whole, 0, whole.size());
  if (!w) return bad();
  int64_t wh = *w * 1000;
  int64_t scale = 100;
  for (char c : frac) {
    if (c < '0' || c > '9') return bad();
    wh += scale * (c - '0');  // rounded down past three decimals
    scale /= 10;
  }
  if (dot != std::string_view::npos && frac.empty()) return bad();
  if (wh > 1'000'000'000)
    return Error(Code::kInvalidArgument, "'" + shown + "' kWh is more than 1,000,000 kWh");
  return wh;
}

Result<std::vector<Session>> ParseSessionsCsv(std::string_view text, std::string_view source) {
  const std::string src(source);
  size_t pos = 0;
  int64_t line_no = 0;
  auto next_line = [&](std::string_view& line) {
    if (pos >= text.size()) return false;
    size_t nl = text.find('\n', pos);
    line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    return true;
  };
  std::string_view header;
  if (!next_line(header))
    return Error(Code::kInvalidArgument, src + ": empty file, expected a CSV header");
  const std::array<std::string_view, 5> wanted = {"arrival", "departure", "requested_energy (kWh)",
                                                  "delivered_energy (kWh)", "station_id"};
  std::array<size_t, 5> col{};
  auto names = SplitCsvLine(header);
  for (size_t w = 0; w < wanted.size(); ++w) {
    auto it = std::find_if(names.begin(), names.end(),
                           [&](std::string_view n) { return Trim(n) == wanted[w]; });
    if (it == names.end()) {
      return Error(Code::kInvalidArgument,
                   src + ":1: header has no column '" + std::string(wanted[w]) + "'");
    }
    col[w] = static_cast<size_t>(it - names.begin());
  }
  std::vector<Session> out;
  std::string_view line;
  while (next_line(line)) {
    if (Trim(line).empty()) continue;
    if (static_cast<int64_t>(out.size()) >= kSimSessionsMax) {
      return Error(Code::kTooLarge,
                   src + ": more than " + std::to_string(kSimSessionsMax) + " sessions");
    }
    auto cells = SplitCsvLine(line);
    const std::string where = src + ":" + std::to_string(line_no) + ": column '";
    Session s;
    s.line = line_no;
    for (size_t w = 0; w < wanted.size(); ++w) {
      if (col[w] >= cells.size()) {
        return Error(Code::kInvalidArgument, where + std::string(wanted[w]) +
                                                 "': missing (the row has " +
                                                 std::to_string(cells.size()) + " columns)");
      }
      std::string_view cell = Trim(cells[col[w]]);
      Result<int64_t> v = w < 2   ? ParseSessionTime(cell)
                          : w < 4 ? ParseKwhAsWh(cell)
                                  : Result<int64_t>(0);
      if (!v.ok())
        return Error(Code::kInvalidArgument,
                     where + std::string(wanted[w]) + "': " + v.status().message());
      if (w == 0) s.arrival_s = *v;
      if (w == 1) s.departure_s = *v;
      if (w == 2) s.requested_wh = *v;
      if (w == 3) s.delivered_wh = *v;
      if (w == 4) {
        if (cell.empty()) return Error(Code::kInvalidArgument, where + "station_id': empty");
        s.station_id = std::string(cell.substr(0, 64));
      }
    }
    if (s.departure_s <= s.arrival_s) {
      return Error(Code::kInvalidArgument, where + "departure': not after the arrival");
    }
    out.push_back(std::move(s));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Session& a, const Session& b) { return a.arrival_s < b.arrival_s; });
  return out;
}

VehicleSpec GenerateVehicleSpec(uint64_t seed, int64_t index, const std::string& meter_id) {
  uint64_t rng = seed ^ (static_cast<uint64_t>(index) * 0xD1B54A32D192ED03ULL);
  NextRandom(rng);
  static constexpr std::array<int64_t, 3> kChargerW = {3700, 7400, 11000};
  VehicleSpec s;
  s.meter_id = meter_id;
  s.max_import_w = kChargerW[static_cast<size_t>(Uniform(rng, 0, 2))];
  s.max_export_w =
      std::min<int64_t>(s.max_import_w, kChargerW[static_cast<size_t>(Uniform(rng, 0, 1))]);
  s.capacity_wh = Uniform(rng, 40, 100) * 1000;
  return s;
}

namespace {
KeyPair DerivedKey(std::string in, ByteView fleet_seed, int64_t index) {
  V2G_ASSERT(fleet_seed.size() == kSeedBytes && index >= 0);
  in.push_back('\0');
  in.append(reinterpret_cast<const char*>(fleet_seed.data()), fleet_seed.size());
  in += std::to_string(index);
  Hash256 h = Blake2b256(in);
  SecureWipe(in.data(), in.size());
  KeyPair k = KeyPair::FromSeed(ByteView(h.data(), h.size()));
  SecureWipe(h.data(), h.size());
  return k;
}
}  // namespace

KeyPair DeviceKey(ByteView fleet_seed, int64_t index) {
  return DerivedKey("v2g/meter-sim/device", fleet_seed, index);
}

KeyPair ChargerDeviceKey(ByteView fleet_seed, int64_t index) {
  return DerivedKey("v2g/meter-sim/charger", fleet_seed, index);
}

std::string ChargerIdOf(const std::string& vehicle_id) { return vehicle_id + "-ch"; }

pb::MeterReading ChargerReading(const pb::MeterReading& vehicle, uint64_t seq, bool plugged) {
  pb::MeterReading r;
  r.set_meter_id(ChargerIdOf(vehicle.meter_id()));
  r.set_seq(seq);
  r.set_interval_start_s(vehicle.interval_start_s());
  r.set_interval_end_s(vehicle.interval_end_s());
  r.set_import_wh_total(vehicle.import_wh_total());
  r.set_export_wh_total(vehicle.export_wh_total());
  if (plugged) r.set_plugged_meter_id(vehicle.meter_id());
  return r;
}

Status ValidateSimConfig(const SimConfig& c) {
  if (c.settlement_s <= 0)
    return Error(Code::kInvalidArgument, "the settlement interval must be > 0 s");
  if (c.interval_s < kSimIntervalSMin || c.settlement_s % c.interval_s != 0) {
    return Error(Code::kInvalidArgument, "--interval-s " + std::to_string(c.interval_s) +
                                             " must divide the settlement interval of " +
                                             std::to_string(c.settlement_s) + " s");
  }
  if (c.start_s < 0 || c.start_s % c.interval_s != 0) {
    return Error(Code::kInvalidArgument, "the start must be a multiple of the reading interval");
  }
  if (c.discharge_floor_permille < 0 || c.discharge_floor_permille > 1000) {
    return Error(Code::kInvalidArgument, "--discharge-floor-permille must be 0..1000");
  }
  if (c.start_soc_permille < -1 || c.start_soc_permille > 1000) {
    return Error(Code::kInvalidArgument, "--soc-permille must be 0..1000");
  }
  return Status::Ok();
}

FleetSim::FleetSim(SimConfig config, std::vector<VehicleSpec> specs, std::vector<Session> sessions)
    : config_(config), specs_(std::move(specs)), sessions_(std::move(sessions)) {
  V2G_ASSERT(ValidateSimConfig(config_).ok());
  V2G_ASSERT(static_cast<int64_t>(specs_.size()) <= kSimMetersMax);
  vehicles_.resize(specs_.size());
  session_departure_s_.assign(specs_.size(), -1);
  if (!sessions_.empty()) session_shift_s_ = config_.start_s - sessions_.front().arrival_s;
  for (size_t i = 0; i < specs_.size(); ++i) {
    Vehicle& v = vehicles_[i];
    v.rng = config_.seed * 0x9E3779B97F4A7C15ULL + i + 1;
    NextRandom(v.rng);
    const int64_t soc_permille = Uniform(v.rng, 200, 900);
    v.soc_wh = specs_[i].capacity_wh *
               (config_.start_soc_permille >= 0 ? config_.start_soc_permille : soc_permille) / 1000;
    v.soh_permille = static_cast<int32_t>(Uniform(v.rng, 900, 1000));
    if (sessions_.empty()) {
      v.plugged = Uniform(v.rng, 0, 1) == 1;
      v.next_change_s = config_.start_s + Uniform(v.rng, 0, v.plugged ? 4 * kHour : 2 * kHour);
      if (config_.plugged_in) {  // never leaves: no arrival or departure ever comes
        v.plugged = true;
        v.next_change_s = std::numeric_limits<int64_t>::max();
      }
    }
  }
}

void FleetSim::Resume(size_t index, const MeterResume& r) {
  V2G_ASSERT(index < vehicles_.size());
  Vehicle& v = vehicles_[index];
  v.seq = r.seq;
  v.import_wh = r.import_wh_total;
  v.export_wh = r.export_wh_total;
  v.resume_end_s = r.interval_end_s;
}

void FleetSim::AdvanceBuiltin(Vehicle& v, const VehicleSpec& s, int64_t t) {
  while (t >= v.next_change_s) {
    const int64_t at = v.next_change_s;
    v.plugged = !v.plugged;
    if (v.plugged) {  // arrival: the trip drained the battery
      v.next_change_s = at + Uniform(v.rng, 15 * kMinute, 6 * kHour);
    } else {  // departure
      const int64_t away_s = Uniform(v.rng, 10 * kMinute, 3 * kHour);
      v.soc_wh = std::max(s.capacity_wh / 20, v.soc_wh - kAwayDrainW * away_s / kHour);
      v.next_change_s = at + away_s;
    }
  }
}

void FleetSim::AdvanceSessions(int64_t t) {
  for (size_t i = 0; i < vehicles_.size(); ++i) {
    if (session_departure_s_[i] >= 0 && t >= session_departure_s_[i]) {
      vehicles_[i].plugged = false;
      session_departure_s_[i] = -1;
    }
  }
  while (next_session_ < sessions_.size() &&
         sessions_[next_session_].arrival_s + session_shift_s_ <= t) {
    const Session& s = sessions_[next_session_++];
    for (size_t i = 0; i < vehicles_.size(); ++i) {
      if (vehicles_[i].plugged)
        continue;  // busy: try the next vehicle; none free drops the session
      Vehicle& v = vehicles_[i];
      v.plugged = true;
      v.session_left_wh = s.delivered_wh;
      v.soc_wh =
          std::max(specs_[i].capacity_wh / 10, specs_[i].capacity_wh * 9 / 10 - s.delivered_wh);
      session_departure_s_[i] = s.departure_s + session_shift_s_;
      break;
    }
  }
}

pb::MeterReading FleetSim::Meter(Vehicle& v, const VehicleSpec& s, int64_t t) {
  const int64_t dt = config_.interval_s;
  const bool asked = t >= config_.discharge_from_s && t < config_.discharge_to_s;
  const int64_t soc_permille = v.soc_wh * 1000 / s.capacity_wh;
  if (v.plugged && asked && s.max_export_w > 0 && soc_permille > config_.discharge_floor_permille) {
    const int64_t total_j = v.export_rem_j + s.max_export_w * kDrawPercent / 100 * dt;
    const int64_t floor_wh = s.capacity_wh * config_.discharge_floor_permille / 1000;
    const int64_t wh = std::min(
        {total_j / 3600, s.max_export_w * dt / 3600, std::max<int64_t>(0, v.soc_wh - floor_wh)});
    v.export_rem_j = std::min<int64_t>(total_j - wh * 3600, 3599);
    v.export_wh += wh;
    v.soc_wh -= wh;
  } else if (v.plugged && v.session_left_wh != 0 && v.soc_wh < s.capacity_wh) {
    const int64_t total_j = v.import_rem_j + s.max_import_w * kDrawPercent / 100 * dt;
    int64_t wh = std::min({total_j / 3600, s.max_import_w * dt / 3600, s.capacity_wh - v.soc_wh});
    if (v.session_left_wh > 0) wh = std::min(wh, v.session_left_wh);
    v.import_rem_j = std::min<int64_t>(total_j - wh * 3600, 3599);
    v.import_wh += wh;
    v.soc_wh += wh;
    if (v.session_left_wh > 0) v.session_left_wh -= wh;
  }
  V2G_ASSERT(v.soc_wh >= 0 && v.soc_wh <= s.capacity_wh);
  pb::MeterReading r;
  r.set_meter_id(s.meter_id);
  r.set_seq(++v.seq);
  r.set_interval_start_s(t);
  r.set_interval_end_s(t + dt);
  r.set_import_wh_total(v.import_wh);
  r.set_export_wh_total(v.export_wh);
  r.set_soc_permille(static_cast<int32_t>(v.soc_wh * 1000 / s.capacity_wh));
  r.set_soh_permille(v.soh_permille);
  return r;
}

bool FleetSim::plugged(size_t index) const {
  V2G_ASSERT(index < vehicles_.size());
  return vehicles_[index].plugged;
}

std::vector<pb::MeterReading> FleetSim::Step(int64_t t) {
  V2G_ASSERT(t >= config_.start_s && t % config_.interval_s == 0);
  if (!sessions_.empty()) AdvanceSessions(t);
  std::vector<pb::MeterReading> out;
  out.reserve(vehicles_.size());
  for (size_t i = 0; i < vehicles_.size(); ++i) {
    Vehicle& v = vehicles_[i];
    if (sessions_.empty()) AdvanceBuiltin(v, specs_[i], t);
    if (t < v.resume_end_s) continue;  // the chain already has a reading covering t
    out.push_back(Meter(v, specs_[i], t));
  }
  return out;
}

void AttestedTally::Add(const pb::MeterReading& r) {
  MeterTally& m = meters_[r.meter_id()];
  ++m.readings_sent;
  if (m.last) {
    const int64_t imp = r.import_wh_total() - m.last->import_wh_total();
    const int64_t exp = r.export_wh_total() - m.last->export_wh_total();
    V2G_ASSERT(imp >= 0 && exp >= 0);
    const int64_t interval = SettlementIntervalStart(r.interval_start_s(), settlement_s_);
    if (SettlementIntervalStart(m.last->interval_end_s(), settlement_s_) == interval) {
      IntervalEnergy& e = m.intervals[interval];
      e.import_wh += imp;
      e.export_wh += exp;
      ++e.readings;
    } else {
      m.unattributed_import_wh += imp;
      m.unattributed_export_wh += exp;
    }
  }
  m.last = r;
}

}  // namespace v2g
