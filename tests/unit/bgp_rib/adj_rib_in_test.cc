#include "bgp/rib/adj_rib_in.h"

#include <gtest/gtest.h>

#include "tests/unit/bgp_rib/rib_test_util.h"

namespace isthmus::bgp {
namespace {

using testing::MakePtr;
using testing::Pfx;

constexpr PeerId kPeer = 7;

TEST(AdjRibIn, UpdateReplaceWithdraw) {
  LocRib loc;
  AdjRibIn rib(&loc, kPeer);
  AttributesPtr a = MakePtr({.path = {65001}});
  EXPECT_TRUE(rib.Update(Pfx("198.51.100.0/24"), a));
  EXPECT_FALSE(rib.Update(Pfx("198.51.100.0/24"), MakePtr({.path = {65001}})));   // same value
  EXPECT_TRUE(rib.Update(Pfx("198.51.100.0/24"), MakePtr({.path = {65002}})));
  ASSERT_TRUE(rib.Find(Pfx("198.51.100.0/24")).has_value());
  EXPECT_EQ(rib.Find(Pfx("198.51.100.0/24"))->attrs->as_path.FirstAsn(), 65002u);
  EXPECT_FALSE(rib.Find(Pfx("198.51.100.0/25")).has_value());   // length is part of the key
  EXPECT_EQ(rib.size(), 1u);
  EXPECT_TRUE(rib.Withdraw(Pfx("198.51.100.0/24")));
  EXPECT_FALSE(rib.Withdraw(Pfx("198.51.100.0/24")));
  EXPECT_EQ(rib.size(), 0u);
}

TEST(AdjRibIn, IteratesInPrefixOrder) {
  LocRib loc;
  AdjRibIn rib(&loc, kPeer);
  for (const char* p : {"203.0.113.0/24", "192.0.2.128/25", "192.0.2.0/24", "192.0.2.0/25"}) {
    ASSERT_TRUE(rib.Update(Pfx(p), MakePtr({})));
  }
  std::vector<std::string> seen;
  rib.ForEach([&](const Ipv4Prefix& p, const AdjRibIn::Entry&) { seen.push_back(ToString(p)); });
  EXPECT_EQ(seen, (std::vector<std::string>{"192.0.2.0/24", "192.0.2.0/25", "192.0.2.128/25",
                                            "203.0.113.0/24"}));
}

// RFC 4724 4.2: after a restart, routes not re-announced before End-of-RIB go.
TEST(AdjRibIn, GracefulRestartSweepsWhatWasNotRefreshed) {
  LocRib loc;
  AdjRibIn rib(&loc, kPeer);
  AttributesPtr a = MakePtr({.path = {65001}});
  ASSERT_TRUE(rib.Update(Pfx("192.0.2.0/24"), a));
  ASSERT_TRUE(rib.Update(Pfx("198.51.100.0/24"), a));
  EXPECT_EQ(rib.MarkStale(), 2u);
  EXPECT_TRUE(rib.Find(Pfx("192.0.2.0/24"))->stale);
  // Re-announcing the same attributes still refreshes the route.
  EXPECT_TRUE(rib.Update(Pfx("192.0.2.0/24"), a));
  EXPECT_EQ(rib.stale_count(), 1u);
  EXPECT_EQ(rib.SweepStale(), std::vector<Ipv4Prefix>{Pfx("198.51.100.0/24")});
  EXPECT_EQ(rib.size(), 1u);
  EXPECT_FALSE(rib.Find(Pfx("192.0.2.0/24"))->stale);
  EXPECT_EQ(rib.stale_count(), 0u);
}

// The Adj-RIB-In part and the Loc-RIB candidate of one route share a slot:
// each goes only when its own side withdraws it.
TEST(AdjRibIn, SharesTheTableWithTheLocRib) {
  LocRib loc;
  AdjRibIn rib(&loc, kPeer);
  AdjRibIn other(&loc, kPeer + 1);
  const Ipv4Prefix p = Pfx("192.0.2.0/24");
  AttributesPtr received = MakePtr({.path = {65001}});
  AttributesPtr after_policy = MakePtr({.path = {65001}, .local_pref = 200});
  ASSERT_TRUE(rib.Update(p, received));
  EXPECT_EQ(loc.size(), 0u);   // not accepted yet
  EXPECT_FALSE(rib.Find(p)->accepted);
  ASSERT_EQ(loc.Update(Route{p, after_policy, kPeer, RouteKind::kBgp, false}).size(), 1u);
  EXPECT_TRUE(rib.Find(p)->accepted);
  EXPECT_EQ(rib.accepted_count(), 1u);
  // Each side keeps its own attributes.
  EXPECT_EQ(rib.Find(p)->attrs->local_pref, std::nullopt);
  EXPECT_EQ(loc.Best(p)->attrs->local_pref, 200u);
  // Another peer's route for the same prefix is its own.
  ASSERT_TRUE(other.Update(p, received));
  EXPECT_EQ(other.size(), 1u);
  EXPECT_FALSE(other.Find(p)->accepted);
  // Withdrawn from the Adj-RIB-In: the candidate stays until the Loc-RIB drops it.
  bool was_accepted = false;
  ASSERT_TRUE(rib.Withdraw(p, &was_accepted));
  EXPECT_TRUE(was_accepted);
  EXPECT_FALSE(rib.Find(p).has_value());
  EXPECT_EQ(rib.size(), 0u);
  EXPECT_TRUE(loc.Best(p).has_value());
  ASSERT_EQ(loc.Withdraw(p, kPeer).size(), 1u);
  EXPECT_FALSE(loc.Best(p).has_value());
  EXPECT_EQ(loc.size(), 0u);
  EXPECT_EQ(other.size(), 1u);
  other.Clear();
  EXPECT_EQ(other.size(), 0u);
  EXPECT_EQ(loc.CountPeerPaths(kPeer), 0u);
}

TEST(AdjRibIn, ClearEmpties) {
  LocRib loc;
  AdjRibIn rib(&loc, kPeer);
  ASSERT_TRUE(rib.Update(Pfx("192.0.2.0/24"), MakePtr({})));
  rib.MarkStale();
  rib.Clear();
  EXPECT_EQ(rib.size(), 0u);
  EXPECT_EQ(rib.stale_count(), 0u);
}

}  // namespace
}  // namespace isthmus::bgp
