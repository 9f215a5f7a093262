#include "bgp/rib/loc_rib.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/unit/bgp_rib/rib_test_util.h"

namespace isthmus::bgp {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::Addr;
using testing::AttrSpec;
using testing::MakeAttrs;
using testing::MakePtr;
using testing::Pfx;

constexpr Asn kLocalAs = 65000;

// Peers the tables refer to by number. Router ids and addresses are chosen so
// that each tie-break step can be isolated.
std::vector<PeerInfo> Peers() {
  auto peer = [](PeerId id, Asn as, const char* address, const char* router_id) {
    return PeerInfo{id, as, kLocalAs, Addr(address), Addr(router_id)};
  };
  return {
      peer(1, 65001, "192.0.2.11", "198.51.100.1"),
      peer(2, 65002, "192.0.2.12", "198.51.100.2"),
      peer(3, 65001, "192.0.2.13", "198.51.100.3"),
      peer(4, kLocalAs, "192.0.2.14", "198.51.100.0"),   // iBGP, lowest router id
      peer(5, 65003, "192.0.2.10", "198.51.100.2"),      // same router id as 2, lower address
      peer(6, kLocalAs, "192.0.2.16", "198.51.100.6"),   // iBGP
  };
}

struct PathSpec {
  PeerId peer;
  AttrSpec attrs;
  bool stale = false;
};

LocRib MakeRib(LocRibOptions options = {}) {
  LocRib rib(options);
  for (const PeerInfo& p : Peers()) rib.SetPeer(p);
  return rib;
}

const Ipv4Prefix kPrefix = Pfx("203.0.113.0/24");

Route MakeRoute(const PathSpec& p, const Ipv4Prefix& prefix = kPrefix) {
  return Route{prefix, MakePtr(p.attrs), p.peer, RouteKind::kBgp, p.stale};
}

void Load(LocRib& rib, const std::vector<PathSpec>& paths) {
  for (const PathSpec& p : paths) (void)rib.Update(MakeRoute(p));
}

// ---- Decision process (RFC 4271 9.1.2.2) ----

struct DecisionCase {
  std::string name;
  std::vector<PathSpec> paths;
  PeerId expected_best;
};

class DecisionTest : public ::testing::TestWithParam<DecisionCase> {};

TEST_P(DecisionTest, PicksExpectedBestInAnyArrivalOrder) {
  const DecisionCase& c = GetParam();
  std::vector<PathSpec> order = c.paths;
  for (int round = 0; round < 2; ++round) {
    LocRib rib = MakeRib();
    Load(rib, order);
    std::optional<Route> best = rib.Best(kPrefix);
    ASSERT_TRUE(best.has_value());
    EXPECT_EQ(best->peer, c.expected_best) << (round == 0 ? "given order" : "reversed order");
    std::reverse(order.begin(), order.end());
  }
}

const AttrSpec kPlain{.path = {65001}};

INSTANTIATE_TEST_SUITE_P(
    Rfc4271, DecisionTest,
    ::testing::Values(
        DecisionCase{"HigherLocalPrefWins",
                     {{1, {.path = {65001}, .local_pref = 100}},
                      {2, {.path = {65002, 65010, 65011}, .local_pref = 200}}},
                     2},
        DecisionCase{"MissingLocalPrefCountsAs100AndBeats50",
                     {{1, {.path = {65001}, .local_pref = 50}}, {2, {.path = {65002}}}},
                     2},
        DecisionCase{"MissingLocalPrefLosesTo150",
                     {{1, {.path = {65001}}}, {2, {.path = {65002}, .local_pref = 150}}},
                     2},
        DecisionCase{"ShorterAsPathWins",
                     {{1, {.path = {65001, 65009}}}, {2, {.path = {65002}}}},
                     2},
        DecisionCase{"AsSetCountsAsOne",
                     {{1, {.path = {65001, 65010, 65011}}},
                      {2, {.path = {65002}, .set = {1, 2, 3, 4, 5}}}},
                     2},
        DecisionCase{"IgpOriginBeatsEgp",
                     {{1, {.path = {65001}, .origin = Origin::kEgp}},
                      {2, {.path = {65002}, .origin = Origin::kIgp}}},
                     2},
        DecisionCase{"EgpOriginBeatsIncomplete",
                     {{1, {.path = {65001}, .origin = Origin::kIncomplete}},
                      {2, {.path = {65002}, .origin = Origin::kEgp}}},
                     2},
        DecisionCase{"LowerMedWinsFromSameNeighbourAs",
                     {{1, {.path = {65001}, .med = 10}}, {3, {.path = {65001}, .med = 5}}},
                     3},
        DecisionCase{"MedIgnoredAcrossNeighbourAses",
                     {{1, {.path = {65001}, .med = 10}}, {2, {.path = {65002}, .med = 5}}},
                     1},
        DecisionCase{"MissingMedIsZero",
                     {{1, {.path = {65001}, .med = 1}}, {3, {.path = {65001}}}},
                     3},
        // A beaten by B on MED (same AS); C never compared on MED; B vs C on router id.
        DecisionCase{"MedEliminationIsNotATotalOrder",
                     {{1, {.path = {65001}, .med = 10}},
                      {3, {.path = {65001}, .med = 5}},
                      {2, {.path = {65002}, .med = 0}}},
                     2},
        DecisionCase{"EbgpBeatsIbgp", {{4, kPlain}, {2, {.path = {65002}}}}, 2},
        // MED (c) comes before eBGP/iBGP (d).
        DecisionCase{"MedDecidesBeforeEbgpOverIbgp",
                     {{1, {.path = {65001}, .med = 10}}, {4, {.path = {65001}, .med = 0}}},
                     4},
        DecisionCase{"LowestRouterIdWins", {{3, kPlain}, {2, {.path = {65002}}}}, 2},
        DecisionCase{"LowestPeerAddressWhenRouterIdsTie",
                     {{2, {.path = {65002}}}, {5, {.path = {65003}}}},
                     5},
        DecisionCase{"IbgpTieBrokenByRouterId", {{6, kPlain}, {4, kPlain}}, 4},
        DecisionCase{"LocalOriginationWinsOverAnyLearnedRoute",
                     {{1, {.path = {65001}, .local_pref = 500}},
                      {kLocalPeer, {.path = {}, .origin = Origin::kIncomplete}}},
                     kLocalPeer},
        DecisionCase{"StaleLosesToEqualFreshRoute",
                     {{1, kPlain, /*stale=*/true}, {2, {.path = {65002}}}},
                     2},
        DecisionCase{"StaleStillWinsOnLocalPref",
                     {{1, {.path = {65001}, .local_pref = 200}, /*stale=*/true},
                      {2, {.path = {65002}}}},
                     1},
        DecisionCase{"AllStaleFallsToRouterId",
                     {{2, {.path = {65002}}, true}, {1, kPlain, true}},
                     1}),
    [](const ::testing::TestParamInfo<DecisionCase>& info) { return info.param.name; });

// ---- Multipath ----

struct MultipathCase {
  std::string name;
  LocRibOptions options;
  std::vector<PathSpec> paths;
  std::vector<PeerId> expected;   // best first, then by router id / address
};

class MultipathTest : public ::testing::TestWithParam<MultipathCase> {};

TEST_P(MultipathTest, SelectsExpectedSet) {
  const MultipathCase& c = GetParam();
  LocRib rib = MakeRib(c.options);
  Load(rib, c.paths);
  std::vector<PeerId> got;
  for (const Route& r : rib.Multipath(kPrefix)) got.push_back(r.peer);
  EXPECT_EQ(got, c.expected);
  std::vector<RibPath> paths = rib.Paths(kPrefix);
  ASSERT_EQ(paths.size(), c.paths.size());
  EXPECT_TRUE(paths[0].best);
  EXPECT_EQ(static_cast<size_t>(std::count_if(paths.begin(), paths.end(),
                                               [](const RibPath& p) { return p.multipath; })),
            c.expected.size());
}

AttrSpec Via(std::vector<Asn> path, const char* next_hop) {
  return AttrSpec{.path = std::move(path), .next_hop = next_hop};
}

INSTANTIATE_TEST_SUITE_P(
    Ecmp, MultipathTest,
    ::testing::Values(
        MultipathCase{"DisabledByDefault",
                      {},
                      {{1, Via({65001, 65100}, "192.0.2.11")}, {3, Via({65001, 65100}, "192.0.2.13")}},
                      {1}},
        MultipathCase{"SameNeighbourAs",
                      {.max_paths = 4},
                      {{3, Via({65001, 65100}, "192.0.2.13")}, {1, Via({65001, 65100}, "192.0.2.11")}},
                      {1, 3}},
        MultipathCase{"DifferentNeighbourAsNeedsRelax",
                      {.max_paths = 4},
                      {{1, Via({65001, 65100}, "192.0.2.11")}, {2, Via({65002, 65100}, "192.0.2.12")}},
                      {1}},
        MultipathCase{"RelaxAllowsDifferentNeighbourAs",
                      {.max_paths = 4, .multipath_relax = true},
                      {{1, Via({65001, 65100}, "192.0.2.11")}, {2, Via({65002, 65100}, "192.0.2.12")}},
                      {1, 2}},
        MultipathCase{"DifferentAsPathLengthExcludedEvenWithRelax",
                      {.max_paths = 4, .multipath_relax = true},
                      {{1, Via({65001}, "192.0.2.11")}, {2, Via({65002, 65100}, "192.0.2.12")}},
                      {1}},
        MultipathCase{"CappedAtMaxPathsInTieBreakOrder",
                      {.max_paths = 2, .multipath_relax = true},
                      {{2, Via({65002}, "192.0.2.12")},
                       {1, Via({65001}, "192.0.2.11")},
                       {5, Via({65003}, "192.0.2.10")}},
                      {1, 5}},
        MultipathCase{"Ibgp",
                      {.max_paths = 4},
                      {{6, Via({65001}, "192.0.2.16")}, {4, Via({65001}, "192.0.2.14")}},
                      {4, 6}},
        MultipathCase{"LowerLocalPrefExcluded",
                      {.max_paths = 4},
                      {{1, {.path = {65001}, .local_pref = 200, .next_hop = "192.0.2.11"}},
                       {3, Via({65001}, "192.0.2.13")}},
                      {1}},
        MultipathCase{"HigherMedExcluded",
                      {.max_paths = 4},
                      {{1, {.path = {65001}, .med = 0, .next_hop = "192.0.2.11"}},
                       {3, {.path = {65001}, .med = 10, .next_hop = "192.0.2.13"}}},
                      {1}},
        MultipathCase{"StaleExcludedBesideFreshPaths",
                      {.max_paths = 4},
                      {{1, Via({65001}, "192.0.2.11")}, {3, Via({65001}, "192.0.2.13"), true}},
                      {1}},
        MultipathCase{"EbgpAndIbgpNotMixed",
                      {.max_paths = 4, .multipath_relax = true},
                      {{1, Via({65001}, "192.0.2.11")}, {4, Via({65001}, "192.0.2.14")}},
                      {1}}),
    [](const ::testing::TestParamInfo<MultipathCase>& info) { return info.param.name; });

// ---- Change reporting, withdrawals, peer loss, graceful restart ----

template <typename Routes>
std::vector<PeerId> PeersOf(const Routes& routes) {
  std::vector<PeerId> ids;
  for (const auto& r : routes) ids.push_back(r.peer);
  return ids;
}

TEST(LocRibChanges, ReportsOnlyRealChanges) {
  LocRib rib = MakeRib({.max_paths = 2});
  std::vector<BestChange> c = rib.Update(MakeRoute({1, Via({65001}, "192.0.2.11")}));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].prefix, kPrefix);
  EXPECT_EQ(c[0].best->peer, 1u);
  // Same attributes again, even as a new object: nothing changed.
  EXPECT_THAT(rib.Update(MakeRoute({1, Via({65001}, "192.0.2.11")})), IsEmpty());
  // A worse path: best and multipath unchanged.
  EXPECT_THAT(rib.Update(MakeRoute({2, Via({65002, 65100}, "192.0.2.12")})), IsEmpty());
  // An equal path with the same next hop: the next-hop set is unchanged.
  EXPECT_THAT(rib.Update(MakeRoute({3, Via({65001}, "192.0.2.11")})), IsEmpty());
  EXPECT_EQ(rib.Multipath(kPrefix).size(), 2u);
  // ... with another next hop: the ECMP group changed.
  c = rib.Update(MakeRoute({3, Via({65001}, "192.0.2.13")}));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(PeersOf(c[0].multipath), (std::vector<PeerId>{1, 3}));
  // New attributes on the best path are a change even with the same next hop.
  c = rib.Update(MakeRoute({1, {.path = {65001}, .med = 0, .next_hop = "192.0.2.11"}}));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].best->attrs->med, 0u);
  EXPECT_EQ(rib.path_count(), 3u);
}

TEST(LocRibChanges, WithdrawPromotesNextBest) {
  LocRib rib = MakeRib();
  Load(rib, {{1, kPlain}, {2, {.path = {65002, 65009}}}});
  EXPECT_THAT(rib.Withdraw(kPrefix, 2), IsEmpty());   // not the best
  Load(rib, {{2, {.path = {65002, 65009}}}});
  EXPECT_THAT(rib.Withdraw(kPrefix, 9), IsEmpty());   // unknown peer
  std::vector<BestChange> c = rib.Withdraw(kPrefix, 1);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].best->peer, 2u);
  EXPECT_THAT(PeersOf(c[0].multipath), ElementsAre(2u));
  c = rib.Withdraw(kPrefix, 2);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_FALSE(c[0].best.has_value());
  EXPECT_THAT(c[0].multipath, IsEmpty());
  EXPECT_EQ(rib.size(), 0u);
  EXPECT_EQ(rib.path_count(), 0u);
}

TEST(LocRibChanges, PeerDownPromotesNextBestEverywhere) {
  LocRib rib = MakeRib();
  const std::vector<Ipv4Prefix> prefixes = {Pfx("192.0.2.0/25"), Pfx("198.51.100.0/24"),
                                            Pfx("203.0.113.0/24")};
  for (const Ipv4Prefix& p : prefixes) {
    (void)rib.Update(MakeRoute({1, kPlain}, p));
    (void)rib.Update(MakeRoute({2, {.path = {65002, 65009}}}, p));
  }
  (void)rib.Update(MakeRoute({2, {.path = {65002}}}, Pfx("192.0.2.128/25")));   // only peer 2
  EXPECT_EQ(rib.CountPeerPaths(1), 3u);
  std::vector<BestChange> c = rib.WithdrawPeer(1);
  ASSERT_EQ(c.size(), prefixes.size());
  for (size_t i = 0; i < c.size(); ++i) {
    EXPECT_EQ(c[i].prefix, prefixes[i]);
    EXPECT_EQ(c[i].best->peer, 2u);
  }
  EXPECT_EQ(rib.CountPeerPaths(1), 0u);
  c = rib.WithdrawPeer(2);
  EXPECT_EQ(c.size(), 4u);
  EXPECT_EQ(rib.size(), 0u);
}

TEST(LocRibChanges, GracefulRestartKeepsStaleUntilSweep) {
  LocRib rib = MakeRib();
  Load(rib, {{1, kPlain}});
  // Alone, a stale route stays best: forwarding is preserved (RFC 4724).
  EXPECT_THAT(rib.MarkPeerStale(1), IsEmpty());
  EXPECT_TRUE(rib.Best(kPrefix)->stale);
  // An equal fresh route takes over.
  std::vector<BestChange> c = rib.Update(MakeRoute({2, {.path = {65002}}}));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].best->peer, 2u);
  // The restarted peer re-announces: fresh again, wins on router id.
  c = rib.Update(MakeRoute({1, kPlain}));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].best->peer, 1u);
  EXPECT_THAT(rib.SweepStale(1), IsEmpty());   // nothing stale left
  EXPECT_EQ(rib.path_count(), 2u);
  // Stale again, then swept: the fresh alternative stays.
  c = rib.MarkPeerStale(1);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].best->peer, 2u);
  EXPECT_THAT(rib.SweepStale(1), IsEmpty());
  EXPECT_EQ(rib.path_count(), 1u);
}

TEST(LocRibChanges, RaisingMaxPathsReportsNewGroups) {
  LocRib rib = MakeRib();
  Load(rib, {{1, Via({65001}, "192.0.2.11")}, {3, Via({65001}, "192.0.2.13")}});
  std::vector<BestChange> c = rib.SetOptions({.max_paths = 8});
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(PeersOf(c[0].multipath), (std::vector<PeerId>{1, 3}));
  EXPECT_THAT(rib.SetOptions({.max_paths = 8}), IsEmpty());
}

TEST(LocRibChanges, ForEachBestVisitsInPrefixOrder) {
  LocRib rib = MakeRib();
  (void)rib.Update(MakeRoute({1, kPlain}, Pfx("203.0.113.0/24")));
  (void)rib.Update(MakeRoute({1, kPlain}, Pfx("192.0.2.0/24")));
  std::vector<std::string> seen;
  rib.ForEachBest([&](const Ipv4Prefix& p, const std::vector<Route>& mp) {
    seen.push_back(ToString(p));
    EXPECT_EQ(mp.size(), 1u);
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"192.0.2.0/24", "203.0.113.0/24"}));
}

// ---- One table for Adj-RIB-In and Loc-RIB ----

// A prefix moves between the one-path slot and the many-path list as peers
// come and go; every path keeps its own Adj-RIB-In and Loc-RIB attributes.
TEST(LocRibTable, PathsOfManyPeersShareAPrefix) {
  AttributeInterner interner;
  LocRib rib({.max_paths = 4}, &interner);
  for (const PeerInfo& p : Peers()) rib.SetPeer(p);
  const AttrId received = interner.InternId(MakeAttrs({.path = {65001}, .next_hop = "192.0.2.11"}));
  EXPECT_EQ(rib.InUpdate(kPrefix, 1, received), LocRib::InResult::kNew);
  EXPECT_EQ(rib.InUpdate(kPrefix, 1, received), LocRib::InResult::kSame);
  EXPECT_EQ(rib.InUpdate(kPrefix, 3, received), LocRib::InResult::kNew);   // second path: many
  EXPECT_EQ(rib.size(), 0u);                                             // nothing accepted yet
  (void)rib.Update(MakeRoute({3, Via({65001}, "192.0.2.13")}));
  (void)rib.Update(MakeRoute({1, Via({65001}, "192.0.2.11")}));
  (void)rib.Update(MakeRoute({2, Via({65002, 65100}, "192.0.2.12")}));   // Loc-RIB only
  EXPECT_EQ(rib.size(), 1u);
  EXPECT_EQ(rib.path_count(), 3u);
  EXPECT_EQ(PeersOf(rib.Multipath(kPrefix)), (std::vector<PeerId>{1, 3}));
  EXPECT_EQ(rib.Counts(1).received, 1u);
  EXPECT_EQ(rib.Counts(2).received, 0u);
  EXPECT_EQ(rib.Counts(2).accepted, 1u);
  // Peer 1 leaves the Adj-RIB-In, then the Loc-RIB: 3 is the best.
  ASSERT_TRUE(rib.InWithdraw(kPrefix, 1));
  EXPECT_EQ(rib.Best(kPrefix)->peer, 1u);
  std::vector<BestChange> c = rib.Withdraw(kPrefix, 1);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].best->peer, 3u);
  EXPECT_TRUE(c[0].had_peer_best);
  // Back to one path per peer and then to a single path in the slot.
  (void)rib.WithdrawPeer(2);
  ASSERT_TRUE(rib.InWithdraw(kPrefix, 3));
  EXPECT_EQ(rib.Best(kPrefix)->peer, 3u);   // the candidate stays until withdrawn
  c = rib.Withdraw(kPrefix, 3);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_FALSE(c[0].best.has_value());
  EXPECT_EQ(rib.size(), 0u);
  EXPECT_EQ(rib.path_count(), 0u);
  EXPECT_FALSE(rib.InFind(kPrefix, 3).has_value());
}

// The table holds attributes by id and counts its references: once no route
// uses a set (and nobody else holds it), the interner can drop it.
TEST(LocRibTable, ReleasesAttributeReferences) {
  AttributeInterner interner;
  {
    LocRib rib({}, &interner);
    for (const PeerInfo& p : Peers()) rib.SetPeer(p);
    for (uint32_t i = 0; i < 8; ++i) {
      const Ipv4Prefix p{Ipv4Addr{0xC6336400u + (i << 4)}, 28};   // 198.51.100.0/28 ...
      ASSERT_NE(rib.InUpdate(p, 1, interner.InternId(MakeAttrs({.path = {65001, 64600 + i}}))),
                LocRib::InResult::kSame);
      std::vector<BestChange> changes;
      rib.Update(p, 1, interner.InternId(MakeAttrs({.path = {65001, 64600 + i}, .local_pref = 200})),
                 RouteKind::kBgp, changes);
      EXPECT_EQ(changes.size(), 1u);
    }
    EXPECT_EQ(interner.Purge(), 0u);   // all 16 sets referenced
    EXPECT_EQ(interner.size(), 16u);
    rib.InClear(1);
    EXPECT_EQ(interner.Purge(), 8u);   // the Adj-RIB-In sets
    EXPECT_EQ(rib.size(), 8u);         // candidates stay until the Loc-RIB drops them
  }
  // The table gave the rest back when it went.
  EXPECT_EQ(interner.Purge(), 8u);
  EXPECT_EQ(interner.size(), 0u);
}

// The one-step receive of an accepted route equals InUpdate + Update.
TEST(LocRibTable, InUpdateAcceptedMatchesTheTwoSteps) {
  AttributeInterner interner;
  LocRib one({}, &interner);
  LocRib two({}, &interner);
  for (LocRib* rib : {&one, &two}) {
    for (const PeerInfo& p : Peers()) rib->SetPeer(p);
  }
  const AttrId in = interner.InternId(MakeAttrs({.path = {65001}, .next_hop = "192.0.2.11"}));
  const AttrId loc = interner.InternId(MakeAttrs({.path = {65001}, .local_pref = 300, .next_hop = "192.0.2.11"}));
  const AttrId better = interner.InternId(MakeAttrs({.path = {65002}, .local_pref = 400, .next_hop = "192.0.2.12"}));
  auto both = [&](PeerId peer, AttrId i, AttrId l) {
    std::vector<BestChange> a, b;
    const LocRib::InResult ra = one.InUpdateAccepted(kPrefix, peer, i, l, RouteKind::kBgp, a);
    const LocRib::InResult rb = two.InUpdate(kPrefix, peer, i);
    if (rb != LocRib::InResult::kSame) two.Update(kPrefix, peer, l, RouteKind::kBgp, b);
    EXPECT_EQ(ra, rb);
    ASSERT_EQ(a.size(), b.size());
    for (size_t k = 0; k < a.size(); ++k) {
      EXPECT_EQ(a[k].prefix, b[k].prefix);
      EXPECT_EQ(a[k].best.has_value(), b[k].best.has_value());
      if (a[k].best) {
        EXPECT_EQ(a[k].best->peer, b[k].best->peer);
      }
      EXPECT_EQ(PeersOf(a[k].multipath), PeersOf(b[k].multipath));
    }
    EXPECT_EQ(one.Counts(peer).received, two.Counts(peer).received);
    EXPECT_EQ(one.Counts(peer).accepted, two.Counts(peer).accepted);
  };
  both(1, in, loc);      // new prefix: written in one go
  EXPECT_EQ(one.Best(kPrefix)->attrs->local_pref, 300u);
  EXPECT_EQ(one.InFind(kPrefix, 1)->attrs->local_pref, std::nullopt);
  both(1, in, loc);      // same again: nothing
  both(2, better, better);   // a second peer: many paths, new best
  EXPECT_EQ(one.Best(kPrefix)->peer, 2u);
  EXPECT_EQ(one.size(), 1u);
  EXPECT_EQ(one.path_count(), 2u);
}

}  // namespace
}  // namespace isthmus::bgp
