#include "bgp/rib/adj_rib_in.h"

#include <gtest/gtest.h>

#include "tests/unit/bgp_rib/rib_test_util.h"

namespace isthmus::bgp {
namespace {

using testing::MakePtr;
using testing::Pfx;

TEST(AdjRibIn, UpdateReplaceWithdraw) {
  AdjRibIn rib;
  AttributesPtr a = MakePtr({.path = {65001}});
  EXPECT_TRUE(rib.Update(Pfx("198.51.100.0/24"), a));
  EXPECT_FALSE(rib.Update(Pfx("198.51.100.0/24"), MakePtr({.path = {65001}})));   // same value
  EXPECT_TRUE(rib.Update(Pfx("198.51.100.0/24"), MakePtr({.path = {65002}})));
  ASSERT_NE(rib.Find(Pfx("198.51.100.0/24")), nullptr);
  EXPECT_EQ(rib.Find(Pfx("198.51.100.0/24"))->attrs->as_path.FirstAsn(), 65002u);
  EXPECT_EQ(rib.Find(Pfx("198.51.100.0/25")), nullptr);   // length is part of the key
  EXPECT_EQ(rib.size(), 1u);
  EXPECT_TRUE(rib.Withdraw(Pfx("198.51.100.0/24")));
  EXPECT_FALSE(rib.Withdraw(Pfx("198.51.100.0/24")));
  EXPECT_EQ(rib.size(), 0u);
}

TEST(AdjRibIn, IteratesInPrefixOrder) {
  AdjRibIn rib;
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
  AdjRibIn rib;
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

TEST(AdjRibIn, ClearEmpties) {
  AdjRibIn rib;
  ASSERT_TRUE(rib.Update(Pfx("192.0.2.0/24"), MakePtr({})));
  rib.MarkStale();
  rib.Clear();
  EXPECT_EQ(rib.size(), 0u);
  EXPECT_EQ(rib.stale_count(), 0u);
}

}  // namespace
}  // namespace isthmus::bgp
