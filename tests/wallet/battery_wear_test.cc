// Battery wear cost (Kempton and Tomic 2005): the per-kWh floor, the cost of a given export,
// rounding up, profile validation and the profile file's round trip and errors.
#include "wallet/battery_wear.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/integration/harness.h"

namespace v2g {
namespace {

BatteryProfile Typical() {
  // 60,000.00 CNY pack, 60 kWh usable, 3,000 cycles at 80 % depth of discharge.
  return {"ev-0001", 6'000'000, 60'000, 3'000, 800};
}

TEST(BatteryWear, CostPerKwhFollowsKemptonAndTomic) {
  // 6,000,000 / (3,000 x 60 kWh x 0.8) = 41.67 fen per kWh, rounded up.
  EXPECT_EQ(WearCostPerKwh(Typical()), 42);
  BatteryProfile exact{"m", 1'440'000, 60'000, 3'000, 1000};  // 1,440,000 / 180,000 kWh = 8 exactly
  EXPECT_EQ(WearCostPerKwh(exact), 8);
  BatteryProfile cheap{"m", 1, 10'000'000, 1'000'000, 1000};
  EXPECT_EQ(WearCostPerKwh(cheap), 1);  // never rounds a real cost down to free
}

TEST(BatteryWear, CostOfAnExport) {
  EXPECT_EQ(WearCostOf(Typical(), 0), 0);
  EXPECT_EQ(WearCostOf(Typical(), -5), 0);
  EXPECT_EQ(WearCostOf(Typical(), 144'000), 6'000);  // 144 kWh x 41.67 = 6,000 exactly
  EXPECT_EQ(WearCostOf(Typical(), 1), 1);
  EXPECT_EQ(WearCostOf(Typical(), 1'000), 42);
}

TEST(BatteryWear, ValidationNamesTheField) {
  BatteryProfile p = Typical();
  p.dod_permille = 0;
  EXPECT_NE(ValidateProfile(p).message().find("depth of discharge"), std::string::npos);
  p = Typical();
  p.capacity_wh = 10;
  EXPECT_NE(ValidateProfile(p).message().find("capacity"), std::string::npos);
  p = Typical();
  p.cycle_life = -1;
  EXPECT_NE(ValidateProfile(p).message().find("cycle life"), std::string::npos);
  p = Typical();
  p.replacement_cost = 0;
  EXPECT_NE(ValidateProfile(p).message().find("replacement cost"), std::string::npos);
  p = Typical();
  p.meter_id = "a/b";
  EXPECT_FALSE(ValidateProfile(p).ok());
  EXPECT_TRUE(ValidateProfile(Typical()).ok());
}

TEST(BatteryWear, ProfilesRoundTripThroughTheWalletHome) {
  testing::TempDir home;
  EXPECT_EQ(LoadProfile(home.path(), "ev-0001").status().code(), Code::kNotFound);
  ASSERT_TRUE(SaveProfile(home.path(), Typical()).ok());
  auto p = LoadProfile(home.path(), "ev-0001");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->replacement_cost, 6'000'000);
  EXPECT_EQ(p->dod_permille, 800);
  BatteryProfile bad = Typical();
  bad.cycle_life = 0;
  EXPECT_FALSE(SaveProfile(home.path(), bad).ok());
  std::ofstream(home.path() + "/battery/ev-0002.json") << "{\"meter_id\": \"ev-0002\", \"capacity_wh\": \"x\"}";
  auto broken = LoadProfile(home.path(), "ev-0002");
  EXPECT_EQ(broken.status().code(), Code::kMalformed);
  EXPECT_NE(broken.status().message().find("ev-0002.json"), std::string::npos);
}

}  // namespace
}  // namespace v2g
