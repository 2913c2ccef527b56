// HandshakeLimiter (node/p2p/limiter.h): per source address and per prefix (IPv4 /24, IPv6 /48), a
// bound on handshakes in progress and a token bucket; one bucket over all sources; a bounded memory
// of sources and prefixes. Pure: the clock is an argument.
#include "node/p2p/limiter.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace v2g::p2p {
namespace {

namespace ip = boost::asio::ip;

HandshakeSource Src(const std::string& address) { return SourceKey(ip::make_address(address)); }

TEST(HandshakeLimiterTest, HandshakesInProgressAreBoundedPerSource) {
  HandshakeLimiter l({.pending_per_source_max = 2, .burst = 100, .per_second = 1});
  EXPECT_TRUE(l.Admit(Src("10.0.0.1"), 0));
  EXPECT_TRUE(l.Admit(Src("10.0.0.1"), 0));
  EXPECT_FALSE(l.Admit(Src("10.0.0.1"), 0));
  EXPECT_TRUE(l.Admit(Src("10.0.0.2"), 0));  // another source is not affected
  EXPECT_EQ(l.pending("10.0.0.1"), 2);
  l.Release(Src("10.0.0.1"));
  EXPECT_TRUE(l.Admit(Src("10.0.0.1"), 0));
  EXPECT_FALSE(l.Admit(Src("10.0.0.1"), 0));
}

TEST(HandshakeLimiterTest, ATokenBucketLimitsTheRatePerSource) {
  HandshakeLimiter l({.pending_per_source_max = 1000, .burst = 3, .per_second = 2});
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(l.Admit(Src("10.0.0.1"), 0)) << i;
  EXPECT_FALSE(l.Admit(Src("10.0.0.1"), 0));
  EXPECT_FALSE(l.Admit(Src("10.0.0.1"), 499));  // 0.998 of a handshake refilled
  EXPECT_TRUE(l.Admit(Src("10.0.0.1"), 500));
  EXPECT_FALSE(l.Admit(Src("10.0.0.1"), 500));
  EXPECT_TRUE(l.Admit(Src("10.0.0.2"), 500));
  // A very long pause refills to the burst, no more, and does not overflow.
  const int64_t later = int64_t{1} << 62;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(l.Admit(Src("10.0.0.1"), later)) << i;
  EXPECT_FALSE(l.Admit(Src("10.0.0.1"), later));
  EXPECT_FALSE(l.Admit(Src("10.0.0.1"), later - 1000));  // a clock that goes back refills nothing
}

TEST(HandshakeLimiterTest, RemembersABoundedNumberOfSources) {
  HandshakeLimiter l({.pending_per_source_max = 4, .burst = 1, .per_second = 1, .sources_max = 3});
  for (int i = 1; i <= 3; ++i) {
    const std::string s = "10.0.0." + std::to_string(i);
    ASSERT_TRUE(l.Admit(Src(s), i));
    l.Release(Src(s));
  }
  EXPECT_FALSE(l.Admit(Src("10.0.0.1"), 10));  // its one token is spent
  EXPECT_TRUE(l.Admit(Src("10.0.0.4"), 11));   // forgets 10.0.0.2, the least recently seen
  EXPECT_EQ(l.sources(), 3u);
  EXPECT_TRUE(l.Admit(Src("10.0.0.2"), 12));  // back with a full bucket (forgets 10.0.0.3)
  EXPECT_EQ(l.sources(), 3u);
  // Sources with a handshake in progress are never forgotten; with no room, a new source waits.
  ASSERT_TRUE(l.Admit(Src("10.0.0.1"), 2000));  // refilled; now all three have one in progress
  EXPECT_FALSE(l.Admit(Src("10.0.0.5"), 2001));
  EXPECT_EQ(l.pending("10.0.0.4"), 1);
  EXPECT_EQ(l.pending("10.0.0.2"), 1);
}

TEST(HandshakeLimiterTest, SourcesAreIpv4AddressesOrIpv6Slash64s) {
  EXPECT_EQ(Src("192.0.2.7").address, "192.0.2.7");
  EXPECT_EQ(Src("::ffff:192.0.2.7").address, "192.0.2.7");
  EXPECT_EQ(Src("2001:db8:1:2::1").address, Src("2001:db8:1:2:ffff:ffff:ffff:9").address);
  EXPECT_NE(Src("2001:db8:1:2::1").address, Src("2001:db8:1:3::1").address);
}

TEST(HandshakeLimiterTest, PrefixesAreIpv4Slash24sOrIpv6Slash48s) {
  EXPECT_EQ(Src("192.0.2.7").prefix, "192.0.2.0/24");
  EXPECT_EQ(Src("192.0.2.255").prefix, "192.0.2.0/24");
  EXPECT_EQ(Src("::ffff:192.0.2.7").prefix, "192.0.2.0/24");
  EXPECT_NE(Src("192.0.3.7").prefix, "192.0.2.0/24");
  EXPECT_EQ(Src("2001:db8:1:2::1").prefix, "20010db80001::/48");
  EXPECT_EQ(Src("2001:db8:1:ffff:1:2:3:4").prefix, Src("2001:db8:1::").prefix);
  EXPECT_NE(Src("2001:db8:1::").prefix, Src("2001:db8:2::").prefix);
}

// 6to4 (2002::/16) and Teredo (2001:0::/32) addresses carry an IPv4 address; they are counted as
// it, so one IPv4 host cannot turn itself into 65,536 /64s (or any number of Teredo addresses).
TEST(HandshakeLimiterTest, SixToFourAndTeredoCountAsTheirIpv4Address) {
  // 6to4: 2002:c000:022d::/48 is 192.0.2.45's; any /64 in it is that address.
  EXPECT_EQ(Src("2002:c000:22d::1").address, "192.0.2.45");
  EXPECT_EQ(Src("2002:c000:22d:ffff:1:2:3:4").address, "192.0.2.45");
  EXPECT_EQ(Src("2002:c000:22d::1").prefix, "192.0.2.0/24");
  EXPECT_EQ(Src("2002:c000:2ff::").address, "192.0.2.255");
  // Teredo (RFC 4380's example): server 65.54.227.120, client 192.0.2.45 port 40000, the client
  // address in the last 32 bits XOR 0xffffffff; server, flags and port do not matter.
  EXPECT_EQ(Src("2001:0:4136:e378:8000:63bf:3fff:fdd2").address, "192.0.2.45");
  EXPECT_EQ(Src("2001:0:102:304:0:1:3fff:fdd2").address, "192.0.2.45");
  EXPECT_EQ(Src("2001:0:4136:e378:8000:63bf:3fff:fdd2").prefix, "192.0.2.0/24");
  EXPECT_EQ(Src("2001:0:4136:e378:8000:63bf:ffff:ffff").address, "0.0.0.0");
  // Other 2001:: addresses are plain IPv6 (2001:db8:: is not Teredo).
  EXPECT_EQ(Src("2001:db8::1").address, "20010db800000000::/64");

  // They share the IPv4 address's buckets: 8 handshakes from 192.0.2.45 in any form, then none.
  HandshakeLimiter l({.pending_per_source_max = 1000, .burst = 8, .per_second = 1});
  const char* forms[] = {"192.0.2.45", "::ffff:192.0.2.45", "2002:c000:22d::1",
                         "2001:0:4136:e378:8000:63bf:3fff:fdd2"};
  for (int i = 0; i < 8; ++i) {
    EXPECT_TRUE(l.Admit(Src(forms[i % 4]), 0)) << i;
  }
  for (const char* f : forms) EXPECT_FALSE(l.Admit(Src(f), 0)) << f;
  EXPECT_FALSE(l.Admit(Src("2002:c000:22d:4d2::1"), 0));       // another /64 of its 6to4 /48
  EXPECT_FALSE(l.Admit(Src("2001:0:909:909::3fff:fdd2"), 0));  // another Teredo server and port
  EXPECT_EQ(l.pending("192.0.2.45"), 8);
  EXPECT_EQ(l.sources(), 1u);
}

// One address per connection across a rented IPv4 /24: each address has a fresh bucket, but the
// /24 does not. Default limits, so this is what a node does.
TEST(HandshakeLimiterTest, ASweepOfAnIpv4Slash24IsStoppedByItsPrefixBucket) {
  HandshakeLimiter l(HandshakeLimits{});
  int admitted = 0;
  for (int round = 0; round < 4; ++round) {  // 1,024 connections at one instant
    for (int i = 0; i < 256; ++i) {
      const HandshakeSource s = Src("198.51.100." + std::to_string(i));
      if (l.Admit(s, 0)) {
        ++admitted;
        l.Release(s);  // finished at once: only the rate limits can stop it
      }
    }
  }
  EXPECT_EQ(admitted, limits::kHandshakeBurstPerPrefix);  // not 256 x kHandshakeBurstPerIp
  // Another /24 has its own bucket; the swept one refills at the prefix rate only.
  EXPECT_TRUE(l.Admit(Src("198.51.101.1"), 0));
  const int64_t rate = limits::kHandshakesPerPrefixPerSecond;
  const int64_t one_token_ms = (1000 + rate - 1) / rate;
  EXPECT_FALSE(l.Admit(Src("198.51.100.200"), one_token_ms - 1));  // a fresh address, no matter
  EXPECT_TRUE(l.Admit(Src("198.51.100.200"), one_token_ms));
  EXPECT_FALSE(l.Admit(Src("198.51.100.201"), one_token_ms));
}

TEST(HandshakeLimiterTest, ASweepOfAnIpv6Slash48IsStoppedByItsPrefixBucket) {
  HandshakeLimiter l(HandshakeLimits{});
  int admitted = 0;
  for (int i = 0; i < 4096; ++i) {  // 4,096 distinct /64s of one /48
    char address[64];
    std::snprintf(address, sizeof address, "2001:db8:7:%x::1", static_cast<unsigned>(i));
    const HandshakeSource s = Src(address);
    if (l.Admit(s, 0)) {
      ++admitted;
      l.Release(s);
    }
  }
  EXPECT_EQ(admitted, limits::kHandshakeBurstPerPrefix);
  EXPECT_TRUE(l.Admit(Src("2001:db8:8::1"), 0));  // the next /48 is another prefix
}

TEST(HandshakeLimiterTest, HandshakesInProgressAreBoundedPerPrefix) {
  HandshakeLimiter l({.pending_per_source_max = 2, .burst = 100, .pending_per_prefix_max = 5});
  int admitted = 0;
  for (int i = 1; i <= 10; ++i) {
    for (int k = 0; k < 2; ++k) admitted += l.Admit(Src("10.0.0." + std::to_string(i)), 0) ? 1 : 0;
  }
  EXPECT_EQ(admitted, 5);  // silent connections: each stays pending
  EXPECT_EQ(l.prefix_pending("10.0.0.0/24"), 5);
  EXPECT_TRUE(l.Admit(Src("10.0.1.1"), 0));  // another /24
  l.Release(Src("10.0.0.1"));
  EXPECT_EQ(l.prefix_pending("10.0.0.0/24"), 4);
  EXPECT_TRUE(l.Admit(Src("10.0.0.9"), 0));
  EXPECT_FALSE(l.Admit(Src("10.0.0.10"), 0));
}

// Many prefixes (a botnet), each well within its own limits, still share one global bucket.
TEST(HandshakeLimiterTest, TheGlobalBucketBoundsManyDistinctPrefixes) {
  HandshakeLimiter l(HandshakeLimits{});
  int admitted = 0;
  for (int i = 0; i < 4 * limits::kHandshakeBurstGlobal; ++i) {  // one handshake per /24
    const HandshakeSource s =
        Src("10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".1");
    if (l.Admit(s, 0)) {
      ++admitted;
      l.Release(s);
    }
  }
  EXPECT_EQ(admitted, limits::kHandshakeBurstGlobal);
  EXPECT_FALSE(l.Admit(Src("192.0.2.1"), 0));  // a fresh prefix too
  EXPECT_FALSE(l.Admit(Src("2001:db8::1"), 0));
  // It refills at its own rate: one second later, that many more, from anywhere.
  admitted = 0;
  for (int i = 0; i < 1000; ++i) {
    const HandshakeSource s =
        Src("172." + std::to_string(16 + i / 256) + "." + std::to_string(i % 256) + ".1");
    if (l.Admit(s, 1000)) {
      ++admitted;
      l.Release(s);
    }
  }
  EXPECT_EQ(admitted, limits::kHandshakesGlobalPerSecond);
  // The maps stayed bounded through 4,096 + 1,000 fresh sources and their prefixes.
  EXPECT_LE(l.sources(), limits::kHandshakeIpsTrackedMax);
  EXPECT_LE(l.prefixes(), limits::kHandshakePrefixesTrackedMax);
}

TEST(HandshakeLimiterTest, RemembersABoundedNumberOfPrefixes) {
  HandshakeLimiter l(
      {.pending_per_source_max = 4, .prefix_burst = 1, .prefix_per_second = 1, .prefixes_max = 2});
  ASSERT_TRUE(l.Admit(Src("10.0.1.1"), 1));
  ASSERT_TRUE(l.Admit(Src("10.0.2.1"), 2));
  l.Release(Src("10.0.2.1"));
  EXPECT_FALSE(l.Admit(Src("10.0.2.2"), 3));  // its /24's one token is spent
  // A third /24 forgets 10.0.2.0/24 (the one with no handshake in progress) ...
  EXPECT_TRUE(l.Admit(Src("10.0.3.1"), 4));
  EXPECT_EQ(l.prefixes(), 2u);
  EXPECT_EQ(l.prefix_pending("10.0.1.0/24"), 1);
  // ... and with both remaining /24s in progress, a fourth waits, nothing counted for it.
  EXPECT_FALSE(l.Admit(Src("10.0.4.1"), 5));
  EXPECT_EQ(l.prefixes(), 2u);
  EXPECT_EQ(l.pending("10.0.4.1"), 0);
  EXPECT_EQ(l.sources(), 3u);  // 10.0.1.1, 10.0.2.1, 10.0.3.1: refused ones are not added
}

}  // namespace
}  // namespace v2g::p2p
