// Values from outside are range-checked before the API does arithmetic on them (issue 12 class
// 6): a client may sign a reading or an order with any int64 time, and rendering it must neither
// overflow (undefined behaviour, which UBSan reports) nor print a garbage date. Before,
// Rfc3339S computed interval_start_s * 1000 unchecked: INT64_MAX wrapped to a negative number of
// milliseconds and rendered as a date in year -292 million.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "node/api/render.h"
#include "tests/node/api_test_util.h"
#include "wallet/tx_builder.h"

namespace v2g::nodetest {
namespace {

using json = nlohmann::json;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

TEST(ApiRenderTest, TimesOutsideTheApiRangeRenderAsNull) {
  for (int64_t s : {kMax, kMin, kMax / 1000 + 1, int64_t{-1}, api::kRenderTimeMaxS + 1}) {
    EXPECT_TRUE(api::Rfc3339S(s).is_null()) << s;
    EXPECT_TRUE(api::DateOfDay(s).is_null()) << s;
  }
  for (int64_t ms : {kMax, kMin, int64_t{-1}, api::kRenderTimeMaxS * 1000 + 1}) {
    EXPECT_TRUE(api::Rfc3339Ms(ms).is_null()) << ms;
  }
  EXPECT_TRUE(api::DateOfDay(api::kRenderTimeMaxS / 86400).is_string());
  EXPECT_TRUE(api::Rfc3339Ms(api::kRenderTimeMaxS * 1000).is_string());
  EXPECT_EQ(api::Rfc3339S(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(api::Rfc3339S(1767225600), "2026-01-01T00:00:00Z");
  EXPECT_EQ(api::Rfc3339Ms(1767225600123), "2026-01-01T00:00:00.123Z");
  EXPECT_EQ(api::DateOfDay(20454), "2026-01-01");
  // The last second in range still renders as a date (year 36812).
  const json last = api::Rfc3339S(api::kRenderTimeMaxS);
  ASSERT_TRUE(last.is_string());
  EXPECT_EQ(last.get<std::string>().substr(0, 6), "36812-");
}

TEST(ApiRenderTest, ReadingWithExtremeTimesRendersWithoutOverflow) {
  for (int64_t start : {kMax, kMin, kMax - 1, kMin + 1}) {
    pb::MeterReading r;
    r.set_meter_id("m1");
    r.set_interval_start_s(start);
    r.set_interval_end_s(start == kMax ? kMin : kMax);
    const json j = api::ReadingJson(r);
    EXPECT_TRUE(j["interval_start"].is_null()) << j.dump();
    EXPECT_EQ(j["interval_start_s"], start);
  }
}

// End to end: a submit_readings tx whose readings carry INT64_MAX and INT64_MIN interval starts
// is committed (the tx is well-formed; its readings are rejected one by one) and rendered by
// GET /v1/txs/{hash} with null times and every reading's rejection listed.
class ApiExtremeValuesTest : public ManualApiTest {
 protected:
  void SetUp() override { StartNode(nullptr, "api-extreme-test"); }
};

TEST_F(ApiExtremeValuesTest, RejectedReadingsWithExtremeTimesRender) {
  ASSERT_FALSE(HasFatalFailure());
  const KeyPair device = Key(50);
  RunOk(k().issuer,
        MakeRegisterMeter(0, kChainId, AddrOf(k().issuer), "site-x", device, pb::METER_KIND_SITE,
                          "Z1", AddrOf(k().issuer), 20000, 20000, 0));
  std::vector<pb::MeterReading> rs;
  uint64_t seq = 1;
  for (auto [start, end] : {std::pair{kMax, kMin}, std::pair{kMin, kMax}, std::pair{kMax - 1, kMax},
                            std::pair{kMin, kMin + 1}}) {
    rs.push_back(SignedReading(device, "site-x", seq++, start, end, 1, 0));
  }
  // And one good reading, in the second after the registration's block (the next block comes a
  // second later): a batch with nothing accepted fails at admission (issue 12), so it would never
  // be committed and rendered.
  const int64_t tip_ms = Get("/v1/status").body["latest_block_time_ms"].get<int64_t>();
  const int64_t good_s = (tip_ms + 999) / 1000;
  rs.push_back(SignedReading(device, "site-x", 1, good_s, good_s + 1, 1, 0));
  json t = Run(k().issuer, MakeSubmitReadings(0, rs));
  ASSERT_TRUE(t.contains("op")) << t.dump();
  ASSERT_EQ(t["op"]["readings"].size(), rs.size()) << t.dump();
  for (size_t i = 0; i + 1 < rs.size(); ++i) {
    EXPECT_TRUE(t["op"]["readings"][i]["interval_start"].is_null()) << t["op"]["readings"][i].dump();
  }
  ASSERT_TRUE(t.contains("rejected_readings")) << t.dump();
  EXPECT_EQ(t["rejected_readings"].size(), rs.size() - 1) << t.dump();
  // The node still serves.
  EXPECT_EQ(Get("/v1/health").status, 200);
}

}  // namespace
}  // namespace v2g::nodetest
