// HandshakeLimiter (node/p2p/limiter.h): per source address, a bound on handshakes in progress and
// a token bucket; a bounded memory of sources. Pure: the clock is an argument.
#include "node/p2p/limiter.h"

#include <gtest/gtest.h>

namespace v2g::p2p {
namespace {

namespace ip = boost::asio::ip;

TEST(HandshakeLimiterTest, HandshakesInProgressAreBoundedPerSource) {
  HandshakeLimiter l({.pending_per_source_max = 2, .burst = 100, .per_second = 1});
  EXPECT_TRUE(l.Admit("10.0.0.1", 0));
  EXPECT_TRUE(l.Admit("10.0.0.1", 0));
  EXPECT_FALSE(l.Admit("10.0.0.1", 0));
  EXPECT_TRUE(l.Admit("10.0.0.2", 0));  // another source is not affected
  EXPECT_EQ(l.pending("10.0.0.1"), 2);
  l.Release("10.0.0.1");
  EXPECT_TRUE(l.Admit("10.0.0.1", 0));
  EXPECT_FALSE(l.Admit("10.0.0.1", 0));
}

TEST(HandshakeLimiterTest, ATokenBucketLimitsTheRatePerSource) {
  HandshakeLimiter l({.pending_per_source_max = 1000, .burst = 3, .per_second = 2});
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(l.Admit("10.0.0.1", 0)) << i;
  EXPECT_FALSE(l.Admit("10.0.0.1", 0));
  EXPECT_FALSE(l.Admit("10.0.0.1", 499));  // 0.998 of a handshake refilled
  EXPECT_TRUE(l.Admit("10.0.0.1", 500));
  EXPECT_FALSE(l.Admit("10.0.0.1", 500));
  EXPECT_TRUE(l.Admit("10.0.0.2", 500));
  // A very long pause refills to the burst, no more, and does not overflow.
  const int64_t later = int64_t{1} << 62;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(l.Admit("10.0.0.1", later)) << i;
  EXPECT_FALSE(l.Admit("10.0.0.1", later));
  EXPECT_FALSE(l.Admit("10.0.0.1", later - 1000));  // a clock that goes back refills nothing
}

TEST(HandshakeLimiterTest, RemembersABoundedNumberOfSources) {
  HandshakeLimiter l({.pending_per_source_max = 4, .burst = 1, .per_second = 1, .sources_max = 3});
  for (int i = 1; i <= 3; ++i) {
    const std::string s = "10.0.0." + std::to_string(i);
    ASSERT_TRUE(l.Admit(s, i));
    l.Release(s);
  }
  EXPECT_FALSE(l.Admit("10.0.0.1", 10));  // its one token is spent
  EXPECT_TRUE(l.Admit("10.0.0.4", 11));   // forgets 10.0.0.2, the least recently seen
  EXPECT_EQ(l.sources(), 3u);
  EXPECT_TRUE(l.Admit("10.0.0.2", 12));  // back with a full bucket (forgets 10.0.0.3)
  EXPECT_EQ(l.sources(), 3u);
  // Sources with a handshake in progress are never forgotten; with no room, a new source waits.
  ASSERT_TRUE(l.Admit("10.0.0.1", 2000));  // refilled; now all three have one in progress
  EXPECT_FALSE(l.Admit("10.0.0.5", 2001));
  EXPECT_EQ(l.pending("10.0.0.4"), 1);
  EXPECT_EQ(l.pending("10.0.0.2"), 1);
}

TEST(HandshakeLimiterTest, SourcesAreIpv4AddressesOrIpv6Slash64s) {
  EXPECT_EQ(SourceKey(ip::make_address("192.0.2.7")), "192.0.2.7");
  EXPECT_EQ(SourceKey(ip::make_address("::ffff:192.0.2.7")), "192.0.2.7");
  EXPECT_EQ(SourceKey(ip::make_address("2001:db8:1:2::1")),
            SourceKey(ip::make_address("2001:db8:1:2:ffff:ffff:ffff:9")));
  EXPECT_NE(SourceKey(ip::make_address("2001:db8:1:2::1")),
            SourceKey(ip::make_address("2001:db8:1:3::1")));
}

}  // namespace
}  // namespace v2g::p2p
