// Tests for wallet/meter_sim: CSV and time parsing (bad rows name line and column), the
// generator's determinism and its respect of the chain's rules (seq, contiguity, boundaries, max
// power, registers), and the attested-energy tally mirroring contracts/meters.h.
#include "wallet/meter_sim.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "contracts/meters.h"

namespace v2g {
namespace {

constexpr int64_t kT0 = 1795658400;  // a multiple of 900 s

TEST(MeterSimTime, ParsesAcnTimesWithOffset) {
  auto t = ParseSessionTime("2019-05-01 07:53:23-07:00");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(*t, 1556722403);  // 2019-05-01T14:53:23Z
  EXPECT_EQ(*ParseSessionTime("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseSessionTime("2019-05-01 14:53:23.5+00:00"), 1556722403);
  EXPECT_FALSE(ParseSessionTime("2019-05-01 07:53:23").ok());  // no offset
  EXPECT_FALSE(ParseSessionTime("2019-13-01 07:53:23Z").ok());
  EXPECT_FALSE(ParseSessionTime("yesterday").ok());
}

TEST(MeterSimTime, ParsesKwhWithoutFloatingPoint) {
  EXPECT_EQ(*ParseKwhAsWh("44.069"), 44069);
  EXPECT_EQ(*ParseKwhAsWh("60.0"), 60000);
  EXPECT_EQ(*ParseKwhAsWh("7"), 7000);
  EXPECT_EQ(*ParseKwhAsWh("1.23456"), 1234);  // rounded down past Wh
  EXPECT_FALSE(ParseKwhAsWh("-1").ok());
  EXPECT_FALSE(ParseKwhAsWh("1e3").ok());
  EXPECT_FALSE(ParseKwhAsWh("").ok());
  EXPECT_FALSE(ParseKwhAsWh("5.").ok());
}

const char kHeader[] =
    "arrival,departure,requested_energy (kWh),delivered_energy (kWh),station_id,session_id,"
    "estimated_departure,claimed\n";

TEST(MeterSimCsv, ParsesAcnRowsSortedByArrival) {
  std::string csv =
      std::string(kHeader) +
      "2019-05-01 06:33:14-07:00,2019-05-01 11:50:55-07:00,21.84,17.666,CA-314,x,2019-05-01 "
      "11:27:14-07:00,True\r\n"
      "2019-05-01 01:18:45-07:00,2019-05-01 15:52:36-07:00,60.0,44.069,CA-305,y,,True\n";
  auto s = ParseSessionsCsv(csv, "s.csv");
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].station_id, "CA-305");
  EXPECT_EQ((*s)[0].delivered_wh, 44069);
  EXPECT_EQ((*s)[0].line, 3);
  EXPECT_EQ((*s)[1].requested_wh, 21840);
  EXPECT_EQ((*s)[1].departure_s - (*s)[1].arrival_s, 5 * 3600 + 17 * 60 + 41);
}

TEST(MeterSimCsv, BadRowNamesLineAndColumn) {
  std::string csv =
      std::string(kHeader) +
      "2019-05-01 06:33:14-07:00,2019-05-01 11:50:55-07:00,21.84,17.666,CA-314,x,,True\n"
      "2019-05-01 06:33:14-07:00,2019-05-01 11:50:55-07:00,21.84,lots,CA-314,x,,True\n";
  auto s = ParseSessionsCsv(csv, "s.csv");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("s.csv:3: column 'delivered_energy (kWh)'"),
            std::string::npos)
      << s.status().message();

  auto back =
      ParseSessionsCsv(std::string(kHeader) +
                           "2019-05-01 06:33:14-07:00,2019-05-01 06:00:00-07:00,1,1,CA-1,x,,True\n",
                       "b.csv");
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.status().message().find("b.csv:2: column 'departure'"), std::string::npos);

  auto short_row = ParseSessionsCsv(std::string(kHeader) + "2019-05-01 06:33:14-07:00\n", "c.csv");
  ASSERT_FALSE(short_row.ok());
  EXPECT_NE(short_row.status().message().find("c.csv:2: column 'departure'"), std::string::npos);

  auto no_header = ParseSessionsCsv("a,b,c\n", "d.csv");
  ASSERT_FALSE(no_header.ok());
  EXPECT_NE(no_header.status().message().find("d.csv:1: header has no column 'arrival'"),
            std::string::npos);
}

std::vector<VehicleSpec> Fleet(int n, uint64_t seed) {
  std::vector<VehicleSpec> f;
  for (int i = 0; i < n; ++i) f.push_back(GenerateVehicleSpec(seed, i, "ev-" + std::to_string(i)));
  return f;
}

SimConfig Config(uint64_t seed) {
  SimConfig c;
  c.seed = seed;
  c.start_s = kT0;
  c.interval_s = 60;
  c.settlement_s = 900;
  c.discharge_from_s = kT0 + 3600;
  c.discharge_to_s = kT0 + 2 * 3600;
  return c;
}

std::vector<pb::MeterReading> RunSteps(FleetSim& sim, int64_t steps) {
  std::vector<pb::MeterReading> all;
  for (int64_t k = 0; k < steps; ++k) {
    auto rs = sim.Step(kT0 + k * 60);
    all.insert(all.end(), rs.begin(), rs.end());
  }
  return all;
}

TEST(MeterSimGenerator, SameSeedSameReadings) {
  FleetSim a(Config(7), Fleet(20, 7)), b(Config(7), Fleet(20, 7)), c(Config(8), Fleet(20, 8));
  auto ra = RunSteps(a, 300), rb = RunSteps(b, 300), rc = RunSteps(c, 300);
  ASSERT_EQ(ra.size(), rb.size());
  for (size_t i = 0; i < ra.size(); ++i)
    EXPECT_EQ(ra[i].SerializeAsString(), rb[i].SerializeAsString());
  bool differs = false;
  for (size_t i = 0; i < ra.size(); ++i)
    differs |= ra[i].SerializeAsString() != rc[i].SerializeAsString();
  EXPECT_TRUE(differs);
}

// Every reading passes the chain's order and power rules, and the fleet both charges and, when
// asked, discharges.
TEST(MeterSimGenerator, ReadingsKeepTheChainsRules) {
  auto specs = Fleet(30, 3);
  FleetSim sim(Config(3), specs);
  auto all = RunSteps(sim, 6 * 60);  // six hours
  std::map<std::string, pb::MeterReading> last;
  std::map<std::string, VehicleSpec> spec;
  for (const auto& s : specs) spec[s.meter_id] = s;
  int64_t imported = 0, exported = 0;
  for (const auto& r : all) {
    const VehicleSpec& s = spec.at(r.meter_id());
    EXPECT_EQ(SettlementIntervalStart(r.interval_start_s(), 900),
              SettlementIntervalStart(r.interval_end_s() - 1, 900));
    EXPECT_GE(r.soc_permille(), 0);
    EXPECT_LE(r.soc_permille(), 1000);
    auto it = last.find(r.meter_id());
    if (it != last.end()) {
      const pb::MeterReading& p = it->second;
      EXPECT_EQ(r.seq(), p.seq() + 1);
      EXPECT_EQ(r.interval_start_s(), p.interval_end_s());
      const int64_t di = r.import_wh_total() - p.import_wh_total();
      const int64_t de = r.export_wh_total() - p.export_wh_total();
      EXPECT_GE(di, 0);
      EXPECT_GE(de, 0);
      EXPECT_LE(di, s.max_import_w * 60 / 3600);  // within the limit even with zero tolerance
      EXPECT_LE(de, s.max_export_w * 60 / 3600);
      if (r.interval_start_s() < kT0 + 3600 || r.interval_start_s() >= kT0 + 7200) {
        EXPECT_EQ(de, 0);
      }
      imported += di;
      exported += de;
    } else {
      EXPECT_EQ(r.seq(), 1u);
    }
    last[r.meter_id()] = r;
  }
  EXPECT_GT(imported, 0);
  EXPECT_GT(exported, 0);
}

// A depot fleet (--plugged-in --soc-permille): every vehicle exports in every step of the window
// and nowhere else, at the same rate, so a market demo knows what each car will deliver.
TEST(MeterSimGenerator, PluggedInFleetDischargesExactlyInTheWindow) {
  auto specs = Fleet(8, 11);
  SimConfig c = Config(11);
  c.plugged_in = true;
  c.start_soc_permille = 800;
  c.discharge_from_s = kT0 + 600;
  c.discharge_to_s = kT0 + 900;
  FleetSim sim(c, specs);
  std::map<std::string, pb::MeterReading> last;
  for (int64_t k = 0; k < 30; ++k) {
    const int64_t t = kT0 + k * 60;
    auto rs = sim.Step(t);
    ASSERT_EQ(rs.size(), specs.size());  // nobody ever leaves
    for (size_t i = 0; i < rs.size(); ++i) {
      const auto& r = rs[i];
      if (k == 0) {  // 800 plus the first minute of charging
        EXPECT_GE(r.soc_permille(), 800);
        EXPECT_LE(r.soc_permille(), 810);
      } else {
        const int64_t de = r.export_wh_total() - last[r.meter_id()].export_wh_total();
        const int64_t di = r.import_wh_total() - last[r.meter_id()].import_wh_total();
        const bool asked = t >= c.discharge_from_s && t < c.discharge_to_s;
        const int64_t per_step = specs[i].max_export_w * 95 / 100 * 60 / 3600;
        if (asked) {
          EXPECT_GE(de, per_step) << r.meter_id() << " at " << t;
          EXPECT_EQ(di, 0);
        } else {
          EXPECT_EQ(de, 0) << r.meter_id() << " at " << t;
          EXPECT_GT(di, 0);  // charging towards full, far from it
        }
      }
      last[r.meter_id()] = r;
    }
  }
  c.start_soc_permille = 1001;
  EXPECT_FALSE(ValidateSimConfig(c).ok());
}

TEST(MeterSimGenerator, SessionsChargeWhatTheRowDelivered) {
  Session s;
  s.arrival_s = 1000;
  s.departure_s = 1000 + 4 * 3600;
  s.delivered_wh = 5000;
  s.station_id = "CA-1";
  VehicleSpec v{"ev-0", 7400, 7400, 60000};
  SimConfig c = Config(1);
  c.discharge_to_s = 0;  // no discharging
  FleetSim sim(c, {v}, {s});
  auto all = RunSteps(sim, 5 * 60);
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.back().import_wh_total(), 5000);
  EXPECT_EQ(all.back().export_wh_total(), 0);
}

TEST(MeterSimGenerator, ResumeContinuesSeqAndRegisters) {
  FleetSim sim(Config(5), Fleet(1, 5));
  MeterResume r{41, 1000, 200, kT0 + 120};
  sim.Resume(0, r);
  EXPECT_TRUE(sim.Step(kT0).empty());  // covered by the chain's last reading
  EXPECT_TRUE(sim.Step(kT0 + 60).empty());
  auto rs = sim.Step(kT0 + 120);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].seq(), 42u);
  EXPECT_GE(rs[0].import_wh_total(), 1000);
  EXPECT_GE(rs[0].export_wh_total(), 200);
}

TEST(MeterSimTally, MirrorsTheChainsAttestation) {
  AttestedTally t(900);
  auto reading = [](uint64_t seq, int64_t start, int64_t end, int64_t imp, int64_t exp) {
    pb::MeterReading r;
    r.set_meter_id("m");
    r.set_seq(seq);
    r.set_interval_start_s(start);
    r.set_interval_end_s(end);
    r.set_import_wh_total(imp);
    r.set_export_wh_total(exp);
    return r;
  };
  t.Add(reading(1, kT0, kT0 + 60, 100, 0));           // baseline: attests nothing
  t.Add(reading(2, kT0 + 60, kT0 + 120, 150, 5));     // +50 / +5 in interval kT0
  t.Add(reading(3, kT0 + 840, kT0 + 900, 160, 5));    // gap inside the interval: still kT0
  t.Add(reading(4, kT0 + 1800, kT0 + 1860, 200, 7));  // gap across a boundary: unattributed
  t.Add(reading(5, kT0 + 1860, kT0 + 1920, 230, 7));  // +30 in interval kT0 + 1800
  const MeterTally& m = t.meters().at("m");
  EXPECT_EQ(m.readings_sent, 5);
  ASSERT_EQ(m.intervals.size(), 2u);
  EXPECT_EQ(m.intervals.at(kT0).import_wh, 60);
  EXPECT_EQ(m.intervals.at(kT0).export_wh, 5);
  EXPECT_EQ(m.intervals.at(kT0).readings, 2);
  EXPECT_EQ(m.intervals.at(kT0 + 1800).import_wh, 30);
  EXPECT_EQ(m.unattributed_import_wh, 40);
  EXPECT_EQ(m.unattributed_export_wh, 2);
}

TEST(MeterSimKeys, DeviceKeysDeriveFromTheFleetSeed) {
  InitCrypto();
  Bytes seed(kSeedBytes, 9), other(kSeedBytes, 10);
  EXPECT_EQ(DeviceKey(seed, 3).public_key(), DeviceKey(seed, 3).public_key());
  EXPECT_NE(DeviceKey(seed, 3).public_key(), DeviceKey(seed, 4).public_key());
  EXPECT_NE(DeviceKey(seed, 3).public_key(), DeviceKey(other, 3).public_key());
}

}  // namespace
}  // namespace v2g
