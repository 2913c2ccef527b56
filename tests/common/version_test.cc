// common/version.h: the versions a software upgrade names, and comparing them.
#include "common/version.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <array>

namespace v2g {
namespace {

TEST(VersionTest, OnlyThreeDecimalNumbersParse) {
  EXPECT_EQ(ParseVersion("0.1.0"), (std::array<int64_t, 3>{0, 1, 0}));
  EXPECT_EQ(ParseVersion("12.345.6789"), (std::array<int64_t, 3>{12, 345, 6789}));
  EXPECT_EQ(ParseVersion("999999999.0.0"), (std::array<int64_t, 3>{999999999, 0, 0}));
  for (const char* bad :
       {"", "1", "1.2", "1.2.", ".1.2", "1..2", "v1.2.3", "1.2.3-rc1", "1.2.3.4", "01.2.3",
        "1.02.3", "1.2.03", " 1.2.3", "1.2.3 ", "1.-2.3", "1000000000.0.0", "1.2.x"}) {
    EXPECT_FALSE(ParseVersion(bad).has_value()) << bad;
  }
}

TEST(VersionTest, ComparedNumberByNumber) {
  EXPECT_TRUE(VersionAtLeast("0.2.0", "0.2.0"));
  EXPECT_TRUE(VersionAtLeast("0.10.0", "0.9.0"));  // not as text
  EXPECT_FALSE(VersionAtLeast("0.9.9", "0.10.0"));
  EXPECT_TRUE(VersionAtLeast("1.0.0", "0.99.99"));
  EXPECT_FALSE(VersionAtLeast("0.1.0", "0.1.1"));
  EXPECT_FALSE(VersionAtLeast("bad", "0.0.0"));  // what does not parse is never new enough
  EXPECT_FALSE(VersionAtLeast("0.1.0", "bad"));
}

TEST(VersionTest, TheTestOverrideIsTakenOnlyWhenValid) {
  bool overridden = true;
  ::unsetenv(kSoftwareVersionEnv);
  EXPECT_EQ(SoftwareVersion(&overridden), kSoftwareVersion);
  EXPECT_FALSE(overridden);
  ::setenv(kSoftwareVersionEnv, "7.8.9", 1);
  EXPECT_EQ(SoftwareVersion(&overridden), "7.8.9");
  EXPECT_TRUE(overridden);
  ::setenv(kSoftwareVersionEnv, "latest", 1);
  EXPECT_EQ(SoftwareVersion(&overridden), kSoftwareVersion);
  EXPECT_FALSE(overridden);
  ::unsetenv(kSoftwareVersionEnv);
  EXPECT_TRUE(ParseVersion(kSoftwareVersion).has_value());
}

}  // namespace
}  // namespace v2g
