#include "bgp/rib/adj_rib_out.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "bgp/rib/attribute_interner.h"
#include "tests/unit/bgp_rib/rib_test_util.h"

namespace isthmus::bgp {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::MakePtr;
using testing::Pfx;

const AttributesPtr kA = MakePtr({.path = {65001}});
const AttributesPtr kB = MakePtr({.path = {65002}});

std::vector<std::string> Names(const std::vector<Ipv4Prefix>& prefixes) {
  std::vector<std::string> out;
  for (const Ipv4Prefix& p : prefixes) out.push_back(ToString(p));
  return out;
}

std::vector<std::string> AnnouncedNames(const OutboundUpdate& u) {
  std::vector<std::string> out;
  for (const auto& g : u.announced) {
    for (const std::string& n : Names(g.prefixes)) out.push_back(n);
  }
  return out;
}

TEST(AdjRibOut, FirstDiffAnnouncesGroupedByAttributes) {
  AdjRibOut out;
  // Equal by value but separate objects: still one group.
  const AttributesPtr a_copy = MakePtr({.path = {65001}});
  OutboundUpdate u = out.Diff({{Pfx("192.0.2.0/24"), kA},
                               {Pfx("198.51.100.0/24"), kB},
                               {Pfx("203.0.113.0/24"), a_copy},
                               {Pfx("203.0.113.128/25"), kB}});
  EXPECT_THAT(u.withdrawn, IsEmpty());
  ASSERT_EQ(u.announced.size(), 2u);
  EXPECT_TRUE(SameAttributes(u.announced[0].attrs, kA));
  EXPECT_THAT(Names(u.announced[0].prefixes), ElementsAre("192.0.2.0/24", "203.0.113.0/24"));
  EXPECT_TRUE(SameAttributes(u.announced[1].attrs, kB));
  EXPECT_THAT(Names(u.announced[1].prefixes), ElementsAre("198.51.100.0/24", "203.0.113.128/25"));
  EXPECT_EQ(u.announced_count(), 4u);
  EXPECT_EQ(out.advertised_count(), 4u);
}

TEST(AdjRibOut, NeverResendsUnchangedRoutes) {
  AdjRibOut out;
  const DesiredRoutes desired = {{Pfx("192.0.2.0/24"), kA}, {Pfx("198.51.100.0/24"), kB}};
  ASSERT_FALSE(out.Diff(desired).empty());
  EXPECT_TRUE(out.Diff(desired).empty());
  out.Set(Pfx("192.0.2.0/24"), MakePtr({.path = {65001}}));   // same value, new object
  EXPECT_FALSE(out.has_pending());
  EXPECT_TRUE(out.TakePending().empty());
  // Only the changed route goes out.
  out.Set(Pfx("198.51.100.0/24"), kA);
  OutboundUpdate u = out.TakePending();
  EXPECT_THAT(u.withdrawn, IsEmpty());
  EXPECT_THAT(AnnouncedNames(u), ElementsAre("198.51.100.0/24"));
  // Changed and changed back before being sent: nothing to send.
  out.Set(Pfx("198.51.100.0/24"), kB);
  out.Set(Pfx("198.51.100.0/24"), kA);
  EXPECT_TRUE(out.TakePending().empty());
}

TEST(AdjRibOut, WithdrawalsComeFirst) {
  AdjRibOut out;
  ASSERT_FALSE(out.Diff({{Pfx("192.0.2.0/24"), kA}, {Pfx("198.51.100.0/24"), kA}}).empty());
  OutboundUpdate u = out.Diff({{Pfx("198.51.100.0/24"), kB}, {Pfx("203.0.113.0/24"), kB}});
  EXPECT_THAT(Names(u.withdrawn), ElementsAre("192.0.2.0/24"));
  EXPECT_THAT(AnnouncedNames(u), ElementsAre("198.51.100.0/24", "203.0.113.0/24"));
  // Removing something never advertised sends nothing.
  out.Remove(Pfx("192.0.2.0/24"));
  out.Set(Pfx("192.0.2.0/25"), kA);
  out.Remove(Pfx("192.0.2.0/25"));
  EXPECT_TRUE(out.TakePending().empty());
  EXPECT_EQ(out.advertised_count(), 2u);
}

TEST(AdjRibOut, CapAdvertisesFirstPrefixesAndCountsTheRest) {
  AdjRibOut out(2);
  OutboundUpdate u = out.Diff({{Pfx("198.51.100.0/24"), kA},
                               {Pfx("192.0.2.0/24"), kA},
                               {Pfx("203.0.113.0/24"), kA},
                               {Pfx("198.51.100.0/25"), kA}});
  EXPECT_THAT(AnnouncedNames(u), ElementsAre("192.0.2.0/24", "198.51.100.0/24"));
  EXPECT_EQ(out.advertised_count(), 2u);
  EXPECT_EQ(out.held_back(), 2u);

  // A prefix earlier than the last advertised one takes its place: the
  // withdrawal goes first so the peer never holds more than the cap.
  out.Set(Pfx("192.0.2.0/25"), kA);
  u = out.TakePending();
  EXPECT_THAT(Names(u.withdrawn), ElementsAre("198.51.100.0/24"));
  EXPECT_THAT(AnnouncedNames(u), ElementsAre("192.0.2.0/25"));
  EXPECT_EQ(out.held_back(), 3u);

  // Attribute changes of held-back prefixes send nothing.
  out.Set(Pfx("203.0.113.0/24"), kB);
  EXPECT_TRUE(out.TakePending().empty());

  // Room frees up: the next held-back prefix goes out.
  out.Remove(Pfx("192.0.2.0/24"));
  u = out.TakePending();
  EXPECT_THAT(Names(u.withdrawn), ElementsAre("192.0.2.0/24"));
  EXPECT_THAT(AnnouncedNames(u), ElementsAre("198.51.100.0/24"));

  // The cap rises: held-back prefixes are sent.
  out.SetMaxAdvertised(10);
  u = out.TakePending();
  EXPECT_THAT(u.withdrawn, IsEmpty());
  EXPECT_THAT(AnnouncedNames(u), ElementsAre("198.51.100.0/25", "203.0.113.0/24"));
  EXPECT_EQ(out.held_back(), 0u);
  EXPECT_EQ(out.advertised_count(), 4u);

  // The cap falls: the last prefixes are withdrawn.
  out.SetMaxAdvertised(1);
  u = out.TakePending();
  EXPECT_THAT(Names(u.withdrawn), ElementsAre("198.51.100.0/24", "198.51.100.0/25",
                                              "203.0.113.0/24"));
  EXPECT_THAT(u.announced, IsEmpty());
  EXPECT_EQ(out.advertised_count(), 1u);

  out.SetMaxAdvertised(0);
  u = out.TakePending();
  EXPECT_THAT(Names(u.withdrawn), ElementsAre("192.0.2.0/25"));
  EXPECT_EQ(out.advertised_count(), 0u);
  EXPECT_EQ(out.held_back(), 4u);
}

TEST(AdjRibOut, RefreshResendsEverythingAdvertised) {
  AdjRibOut out(2);
  ASSERT_FALSE(out.Diff({{Pfx("192.0.2.0/24"), kA},
                         {Pfx("198.51.100.0/24"), kB},
                         {Pfx("203.0.113.0/24"), kA}})
                   .empty());
  OutboundUpdate u = out.Refresh();
  EXPECT_THAT(u.withdrawn, IsEmpty());
  EXPECT_THAT(AnnouncedNames(u), ElementsAre("192.0.2.0/24", "198.51.100.0/24"));
}

TEST(AdjRibOut, ClearForgetsThePeerState) {
  AdjRibOut out;
  const DesiredRoutes desired = {{Pfx("192.0.2.0/24"), kA}};
  ASSERT_FALSE(out.Diff(desired).empty());
  out.Clear();
  EXPECT_EQ(out.advertised_count(), 0u);
  EXPECT_EQ(out.Advertised(Pfx("192.0.2.0/24")), nullptr);
  EXPECT_THAT(AnnouncedNames(out.Diff(desired)), ElementsAre("192.0.2.0/24"));
  EXPECT_TRUE(SameAttributes(out.Advertised(Pfx("192.0.2.0/24")), kA));
}

// Random operations against a model: after every TakePending the peer (the
// updates applied in order) holds exactly the first `cap` desired prefixes,
// no announcement repeats what the peer already has, and the result does not
// depend on the history (a fresh Diff of the same set agrees).
TEST(AdjRibOut, RandomOperationsKeepInvariants) {
  std::mt19937 rng(7);
  const std::vector<AttributesPtr> attrs = {kA, kB, MakePtr({.path = {65003}})};
  AdjRibOut out(20);
  std::map<Ipv4Prefix, AttributesPtr> desired, peer;
  for (int step = 0; step < 3000; ++step) {
    const Ipv4Prefix p{Ipv4Addr{0xC0000200u + static_cast<uint32_t>(rng() % 64) * 4}, 30};
    switch (rng() % 5) {
      case 0: out.Remove(p); desired.erase(p); break;
      case 1: out.SetMaxAdvertised(rng() % 40); break;
      default: {
        AttributesPtr a = attrs[rng() % attrs.size()];
        out.Set(p, a);
        desired[p] = a;
      }
    }
    if (rng() % 4 != 0) continue;
    OutboundUpdate u = out.TakePending();
    for (const Ipv4Prefix& w : u.withdrawn) ASSERT_EQ(peer.erase(w), 1u) << "withdrew unknown";
    for (const auto& g : u.announced) {
      for (const Ipv4Prefix& a : g.prefixes) {
        ASSERT_FALSE(peer.contains(a) && SameAttributes(peer[a], g.attrs)) << "re-sent";
        peer[a] = g.attrs;
      }
    }
    std::map<Ipv4Prefix, AttributesPtr> expected;
    for (const auto& [prefix, a] : desired) {
      if (expected.size() == out.max_advertised()) break;
      expected[prefix] = a;
    }
    ASSERT_EQ(peer, expected) << "step " << step;
    ASSERT_EQ(out.advertised_count(), peer.size());
    ASSERT_EQ(out.held_back(), desired.size() - expected.size());
    AdjRibOut fresh(out.max_advertised());
    OutboundUpdate again = fresh.Diff(DesiredRoutes(desired.begin(), desired.end()));
    ASSERT_EQ(again.announced_count(), expected.size());
  }
}

}  // namespace
}  // namespace isthmus::bgp
