// common/time.h: RFC 3339 UTC text <-> milliseconds, with exact calendar arithmetic.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>

#include "common/time.h"

namespace v2g {
namespace {

TEST(Rfc3339Test, KnownValues) {
  struct Case {
    const char* text;
    int64_t ms;
  };
  const Case cases[] = {
      {"1970-01-01T00:00:00Z", 0},
      {"1970-01-01T00:00:00.001Z", 1},
      {"1970-01-02T00:00:00Z", 86400000},
      {"1972-02-29T00:00:00Z", 68169600000},   // first leap day after the epoch
      {"2000-02-29T00:00:00Z", 951782400000},  // 2000 is a leap year (divisible by 400)
      {"2000-03-01T00:00:00Z", 951868800000},
      {"2024-02-29T12:34:56.789Z", 1709210096789},
      {"2038-01-19T03:14:08Z", 2147483648000},  // past 32-bit seconds
      {"2100-02-28T23:59:59.999Z", 4107542399999},
      {"2100-03-01T00:00:00Z", 4107542400000},  // 2100 is not a leap year: Feb 28 -> Mar 1
      {"2026-11-26T02:00:00Z", 1795658400000},
      {"9999-12-31T23:59:59.999Z", 253402300799999},
  };
  for (const Case& c : cases) {
    auto ms = ParseRfc3339Ms(c.text);
    ASSERT_TRUE(ms.ok()) << c.text << ": " << ms.status().ToString();
    EXPECT_EQ(*ms, c.ms) << c.text;
    EXPECT_EQ(FormatRfc3339Ms(c.ms), c.text);
  }
}

TEST(Rfc3339Test, FractionsAndLowerCaseT) {
  EXPECT_EQ(*ParseRfc3339Ms("1970-01-01T00:00:01.5Z"), 1500);
  EXPECT_EQ(*ParseRfc3339Ms("1970-01-01T00:00:01.05Z"), 1050);
  EXPECT_EQ(*ParseRfc3339Ms("1970-01-01T00:00:01.000Z"), 1000);
  EXPECT_EQ(*ParseRfc3339Ms("1970-01-01t00:00:01Z"), 1000);
  EXPECT_EQ(FormatRfc3339Ms(1500), "1970-01-01T00:00:01.500Z");
  EXPECT_EQ(FormatRfc3339Ms(1000), "1970-01-01T00:00:01Z");  // no fraction when it is zero
}

TEST(Rfc3339Test, RejectsMalformedAndImpossibleTimes) {
  for (const char* t :
       {"", "1970-01-01T00:00:00", "1970-01-01 00:00:00Z", "1970-01-01T00:00:00.Z",
        "1970-01-01T00:00:00.1234Z", "1970-01-01T00:00:00+24:00", "1970-01-01T00:00:00+0800",
        "1970-01-01T07:59:59+08:00", "2026-01-01T00:00:00 08:00", "1970-1-01T00:00:00Z",
        "1970-01-01T00:00:0aZ", "1969-12-31T23:59:59Z", "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z", "2026-01-00T00:00:00Z", "2026-01-32T00:00:00Z",
        "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z", "2026-01-01T00:00:60Z",
        // Days past the end of their month must not roll over into the next one.
        "2026-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2026-02-30T00:00:00Z",
        "2026-04-31T00:00:00Z", "2026-06-31T00:00:00Z", "2026-09-31T00:00:00Z",
        "2026-11-31T00:00:00Z"}) {
    auto r = ParseRfc3339Ms(t);
    EXPECT_FALSE(r.ok()) << "accepted '" << t << "' as " << (r.ok() ? *r : 0);
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    }
  }
  // The last day of every month is accepted.
  for (const char* t : {"2026-01-31T00:00:00Z", "2024-02-29T00:00:00Z", "2026-02-28T00:00:00Z",
                        "2026-04-30T00:00:00Z", "2026-12-31T00:00:00Z"}) {
    EXPECT_TRUE(ParseRfc3339Ms(t).ok()) << t;
  }
}

TEST(Rfc3339Test, FormatThenParseRoundTripsRandomTimes) {
  std::mt19937_64 rng(20261126);
  std::uniform_int_distribution<int64_t> dist(0, 253402300799999);  // through 9999-12-31
  for (int i = 0; i < 20000; ++i) {
    int64_t ms = dist(rng);
    std::string text = FormatRfc3339Ms(ms);
    auto back = ParseRfc3339Ms(text);
    ASSERT_TRUE(back.ok()) << ms << " -> " << text;
    ASSERT_EQ(*back, ms) << text;
  }
}

TEST(Rfc3339Test, FormatBeforeTheEpochUsesFloorDivision) {
  // Not reachable from ParseRfc3339Ms, but FormatRfc3339Ms is public and must not print garbage
  // such as "1970-01-01T00:00:00.-01Z" for a negative input.
  EXPECT_EQ(FormatRfc3339Ms(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339Ms(-86400000), "1969-12-31T00:00:00Z");
}

}  // namespace

TEST(Rfc3339Test, OffsetsAreParsedAndWritten) {
  // The same instant in three zones.
  auto utc = ParseRfc3339Ms("2026-01-01T00:00:00Z");
  ASSERT_TRUE(utc.ok());
  for (const char* t : {"2026-01-01T08:00:00+08:00", "2025-12-31T19:00:00-05:00", "2026-01-01T00:00:00+00:00",
                        "2026-01-01T05:30:00.000+05:30"}) {
    auto r = ParseRfc3339Ms(t);
    ASSERT_TRUE(r.ok()) << t << ": " << r.status().ToString();
    EXPECT_EQ(*r, *utc) << t;
  }
  EXPECT_EQ(FormatRfc3339LocalMs(*utc, 480), "2026-01-01T08:00:00+08:00");
  EXPECT_EQ(FormatRfc3339LocalMs(*utc, -300), "2025-12-31T19:00:00-05:00");
  EXPECT_EQ(FormatRfc3339LocalMs(*utc + 5, 0), "2026-01-01T00:00:00.005Z");
  EXPECT_EQ(FormatUtcOffset(480), "+08:00");
  EXPECT_EQ(FormatUtcOffset(-570), "-09:30");
  EXPECT_EQ(*ParseUtcOffset("+08:00"), 480);
  EXPECT_EQ(*ParseUtcOffset("Z"), 0);
  EXPECT_EQ(*ParseUtcOffset("-09:30"), -570);
  for (const char* bad : {"", "8", "+8:00", "+24:00", "+08:60", "08:00", "+08-00", "+0800"}) {
    EXPECT_FALSE(ParseUtcOffset(bad).ok()) << bad;
  }
}

}  // namespace v2g
