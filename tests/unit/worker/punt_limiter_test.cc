// The per-class punt limiter (dataplane/worker/punt_limiter.h) on a fake
// clock: each class has its own budget, fractions of a token carry over,
// an idle second refills, reload restarts full; and the classification of
// local punts into control / icmp / local.

#include "dataplane/worker/punt_limiter.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace isthmus {
namespace {

constexpr uint64_t kHz = 1'000'000;  // fake clock: microseconds
uint64_t fake_now = 0;
uint64_t FakeClock() { return fake_now; }

// Sends `n` packets of class `cls` at once; returns how many were allowed.
uint64_t Offer(PuntLimiter& limiter, PuntReason cls, uint64_t n) {
  uint64_t allowed = 0;
  for (uint64_t i = 0; i < n; ++i) allowed += limiter.Allow(cls) ? 1 : 0;
  return allowed;
}

class PuntLimiterTest : public ::testing::Test {
 protected:
  void SetUp() override { fake_now = 1'000'000'000; }
};

TEST_F(PuntLimiterTest, ABurstPassesThenTheRateHolds) {
  PuntLimiter limiter(UniformPuntRates(1000), kHz, &FakeClock);
  EXPECT_EQ(Offer(limiter, PuntReason::kLocal, 10'000), PuntBurst(1000));
  // One second of flood at one packet per microsecond: the rate, not more.
  uint64_t allowed = 0;
  for (int us = 0; us < 1'000'000; ++us) {
    ++fake_now;
    allowed += limiter.Allow(PuntReason::kLocal) ? 1 : 0;
  }
  EXPECT_EQ(allowed, 1000u);
}

TEST_F(PuntLimiterTest, AFloodOfOneClassLeavesTheOthersTheirBudget) {
  PuntRates rates = UniformPuntRates(100);
  rates[static_cast<size_t>(PuntReason::kControl)] = 500;
  PuntLimiter limiter(rates, kHz, &FakeClock);
  EXPECT_EQ(Offer(limiter, PuntReason::kLocal, 1'000'000), PuntBurst(100));
  EXPECT_EQ(Offer(limiter, PuntReason::kIcmp, 1'000'000), PuntBurst(100));
  // Control, ARP and every other class still have their full buckets.
  EXPECT_EQ(Offer(limiter, PuntReason::kControl, 1'000'000), PuntBurst(500));
  for (size_t i = 0; i < kPuntReasonCount; ++i) {
    const auto cls = static_cast<PuntReason>(i);
    if (cls == PuntReason::kLocal || cls == PuntReason::kIcmp || cls == PuntReason::kControl) continue;
    EXPECT_TRUE(limiter.Allow(cls)) << Name(cls);
  }
}

TEST_F(PuntLimiterTest, FractionsOfATokenCarryOver) {
  PuntLimiter limiter(UniformPuntRates(3), kHz, &FakeClock);  // a token every 333333 us
  Offer(limiter, PuntReason::kArp, PuntBurst(3));
  fake_now += 200'000;  // 0.6 token
  EXPECT_FALSE(limiter.Allow(PuntReason::kArp));
  fake_now += 200'000;  // 1.2 tokens
  EXPECT_TRUE(limiter.Allow(PuntReason::kArp));
  EXPECT_FALSE(limiter.Allow(PuntReason::kArp));
  fake_now += 500'000;  // 0.2 carried + 1.5 = 1.7 tokens
  EXPECT_TRUE(limiter.Allow(PuntReason::kArp));
  EXPECT_FALSE(limiter.Allow(PuntReason::kArp));
}

TEST_F(PuntLimiterTest, AnIdleSecondRefillsTheBucket) {
  PuntLimiter limiter(UniformPuntRates(1000), kHz, &FakeClock);
  Offer(limiter, PuntReason::kTtlExpired, PuntBurst(1000));
  EXPECT_FALSE(limiter.Allow(PuntReason::kTtlExpired));
  fake_now += 3'600 * kHz;  // an hour: no overflow, just full
  EXPECT_EQ(Offer(limiter, PuntReason::kTtlExpired, 10'000), PuntBurst(1000));
}

TEST_F(PuntLimiterTest, ZeroIsUnlimitedAndReadsNoClock) {
  PuntLimiter limiter(0);  // no clock at all
  EXPECT_EQ(Offer(limiter, PuntReason::kLocal, 1'000'000), 1'000'000u);
}

TEST_F(PuntLimiterTest, NewRatesApplyAtOnceWithFullBuckets) {
  PuntLimiter limiter(UniformPuntRates(100), kHz, &FakeClock);
  Offer(limiter, PuntReason::kLocal, 1000);
  EXPECT_FALSE(limiter.Allow(PuntReason::kLocal));
  limiter.SetRates(UniformPuntRates(10'000));
  EXPECT_EQ(Offer(limiter, PuntReason::kLocal, 100'000), PuntBurst(10'000));
}

// An IPv4 header (RFC 791) with the given protocol and source.
std::array<uint8_t, 20> Header(uint8_t protocol, uint32_t source) {
  std::array<uint8_t, 20> ip{};
  ip[0] = 0x45;
  ip[9] = protocol;
  for (int i = 0; i < 4; ++i) ip[12 + i] = static_cast<uint8_t>(source >> (24 - 8 * i));
  return ip;
}

struct ClassCase {
  std::string name;
  PuntReason reason;
  uint8_t protocol;
  uint32_t source;
  PuntReason expected;
};

constexpr uint32_t kPeer = 0xc6120202;      // 198.18.2.2
constexpr uint32_t kStranger = 0xc6120102;  // 198.18.1.2

class PuntClassTest : public ::testing::TestWithParam<ClassCase> {};

TEST_P(PuntClassTest, Classifies) {
  ControlPeers peers;
  ASSERT_TRUE(peers.Set({0xc6120909, kPeer}));
  const ClassCase& c = GetParam();
  const auto ip = Header(c.protocol, c.source);
  EXPECT_EQ(Name(PuntClassOf(c.reason, ip.data(), &peers)), Name(c.expected));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, PuntClassTest,
    ::testing::Values(ClassCase{"BgpFromPeerIsControl", PuntReason::kLocal, IPPROTO_TCP, kPeer, PuntReason::kControl},
                      ClassCase{"PingFromPeerIsControl", PuntReason::kLocal, IPPROTO_ICMP, kPeer, PuntReason::kControl},
                      ClassCase{"SynFromStrangerIsLocal", PuntReason::kLocal, IPPROTO_TCP, kStranger, PuntReason::kLocal},
                      ClassCase{"UdpFromStrangerIsLocal", PuntReason::kLocal, IPPROTO_UDP, kStranger, PuntReason::kLocal},
                      ClassCase{"PingFromStrangerIsIcmp", PuntReason::kLocal, IPPROTO_ICMP, kStranger, PuntReason::kIcmp},
                      ClassCase{"TtlExpiredStaysItself", PuntReason::kTtlExpired, IPPROTO_TCP, kPeer,
                                PuntReason::kTtlExpired},
                      ClassCase{"OptionsStayThemselves", PuntReason::kIpOptions, IPPROTO_ICMP, kStranger,
                                PuntReason::kIpOptions}),
    [](const ::testing::TestParamInfo<ClassCase>& info) { return info.param.name; });

TEST(ControlPeers, ReplacingShrinksAndGrows) {
  ControlPeers peers;
  ASSERT_TRUE(peers.Set({1, 2, 3}));
  EXPECT_TRUE(peers.Contains(3));
  ASSERT_TRUE(peers.Set({2}));
  EXPECT_FALSE(peers.Contains(3));
  EXPECT_FALSE(peers.Contains(1));
  EXPECT_TRUE(peers.Contains(2));
  ASSERT_TRUE(peers.Set({}));
  EXPECT_FALSE(peers.Contains(2));
}

TEST(ControlPeers, RefusesMoreThanItsCapacity) {
  ControlPeers peers;
  ASSERT_TRUE(peers.Set({7}));
  std::vector<uint32_t> too_many(ControlPeers::kCapacity + 1, 1);
  EXPECT_FALSE(peers.Set(too_many));
  EXPECT_TRUE(peers.Contains(7));  // unchanged
}

TEST(PuntLimitedDrop, EveryClassHasItsNamedDrop) {
  for (size_t i = 0; i < kPuntReasonCount; ++i) {
    const auto cls = static_cast<PuntReason>(i);
    EXPECT_EQ(std::string(Name(PuntLimitedDrop(cls))), "punt_limited_" + std::string(Name(cls)));
  }
}

}  // namespace
}  // namespace isthmus
