// FIB, neighbour table, route selection and the forwarding stage, with real
// DPDK objects (LPM, hash, rings, mbufs) under an EAL without hugepages.

#include "dataplane/fib/fib.h"

#include <gtest/gtest.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <atomic>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "control/routing/route_table.h"
#include "dataplane/neighbor/neighbor_table.h"
#include "dataplane/port/port.h"
#include "dataplane/worker/forward.h"
#include "tests/unit/common/eal_environment.h"
#include "tests/unit/common/packet_builder.h"

namespace isthmus {
namespace {

using testing::Bytes;
using testing::Ip;
using testing::PacketBuilder;

std::atomic<int> g_unique{0};
std::string Unique(const char* base) { return std::string(base) + std::to_string(g_unique++); }

struct RcuDeleter {
  void operator()(rte_rcu_qsbr* v) const { rte_free(v); }
};
std::unique_ptr<rte_rcu_qsbr, RcuDeleter> MakeRcu(uint32_t threads) {
  auto* v = static_cast<rte_rcu_qsbr*>(rte_zmalloc("rcu", rte_rcu_qsbr_get_memsize(threads), RTE_CACHE_LINE_SIZE));
  rte_rcu_qsbr_init(v, threads);
  return std::unique_ptr<rte_rcu_qsbr, RcuDeleter>(v);
}

std::unique_ptr<Fib> MakeFib(rte_rcu_qsbr* rcu, uint32_t routes = 1 << 16, uint32_t tbl8 = 1 << 10) {
  FibParams p;
  p.name = Unique("fib");
  p.max_routes = routes;
  p.tbl8_groups = tbl8;
  p.max_groups = 1024;
  p.max_nexthops = 1024;
  auto fib = Fib::Create(p, rcu);
  EXPECT_TRUE(fib.ok()) << fib.status();
  return std::move(*fib);
}

uint32_t Lookup(const Fib& fib, uint32_t ip) {
  const uint32_t group = fib.Lookup(ip);
  return group == kNoGroup ? UINT32_MAX : group;
}

Nexthop Gw(uint32_t gw, uint16_t port) { return Nexthop{gw, 0, port, NexthopKind::kForward}; }

TEST(Fib, LongestPrefixWinsAndDeleteFallsBack) {
  auto fib = MakeFib(nullptr);
  ASSERT_TRUE(fib->Set(Ip("198.51.100.0"), 24, {Gw(Ip("198.18.2.2"), 1)}).ok());
  ASSERT_TRUE(fib->Set(Ip("198.51.100.128"), 25, {Gw(Ip("198.18.3.2"), 2)}).ok());
  const uint32_t g24 = Lookup(*fib, Ip("198.51.100.1"));
  const uint32_t g25 = Lookup(*fib, Ip("198.51.100.200"));
  ASSERT_NE(g24, UINT32_MAX);
  ASSERT_NE(g25, g24);
  EXPECT_EQ(fib->nexthop(fib->group(g25).members[0]).port, 2);
  ASSERT_TRUE(fib->Delete(Ip("198.51.100.128"), 25).ok());
  EXPECT_EQ(Lookup(*fib, Ip("198.51.100.200")), g24);
  EXPECT_EQ(Lookup(*fib, Ip("203.0.113.1")), UINT32_MAX);
  EXPECT_EQ(fib->routes(), 1u);
  EXPECT_TRUE(absl::IsNotFound(fib->Delete(Ip("203.0.113.0"), 24)));
}

TEST(Fib, EqualNexthopSetsShareOneGroupInAnyOrder) {
  auto fib = MakeFib(nullptr);
  const Nexthop a = Gw(Ip("198.18.2.2"), 1), b = Gw(Ip("198.18.3.2"), 2);
  ASSERT_TRUE(fib->Set(Ip("198.51.100.0"), 24, {a, b}).ok());
  ASSERT_TRUE(fib->Set(Ip("203.0.113.0"), 24, {b, a}).ok());
  EXPECT_EQ(fib->GroupOf(Ip("198.51.100.0"), 24), fib->GroupOf(Ip("203.0.113.0"), 24));
  EXPECT_EQ(fib->groups_in_use(), 1u);
  EXPECT_EQ(fib->nexthops_in_use(), 2u);
  ASSERT_TRUE(fib->Delete(Ip("198.51.100.0"), 24).ok());
  ASSERT_TRUE(fib->Delete(Ip("203.0.113.0"), 24).ok());
  EXPECT_EQ(fib->groups_in_use(), 0u);
  EXPECT_EQ(fib->nexthops_in_use(), 0u);
}

TEST(Fib, RejectsEmptyAndTooWideGroups) {
  auto fib = MakeFib(nullptr);
  EXPECT_FALSE(fib->Set(Ip("198.51.100.0"), 24, {}).ok());
  std::vector<Nexthop> wide;
  for (uint32_t i = 0; i <= kMaxEcmp; ++i) wide.push_back(Gw(Ip("198.18.2.2") + i, 1));
  EXPECT_FALSE(fib->Set(Ip("198.51.100.0"), 24, wide).ok());
  EXPECT_EQ(fib->nexthops_in_use(), 0u);   // nothing leaked on failure
}

// HoldGroup/SetGroup: many prefixes on one held group without passing the
// members again; the group lives while the hold or any prefix has it.
TEST(Fib, HeldGroupIsSharedAndFreedWithItsLastUser) {
  auto fib = MakeFib(nullptr);
  const Nexthop a = Gw(Ip("198.18.2.2"), 1), b = Gw(Ip("198.18.3.2"), 2);
  auto held = fib->HoldGroup({a, b});
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(fib->GroupOf(Ip("198.51.100.0"), 24), -1);   // absent prefixes are -1, not 2^32-1
  ASSERT_TRUE(fib->SetGroup(Ip("198.51.100.0"), 24, *held).ok());
  ASSERT_TRUE(fib->SetGroup(Ip("203.0.113.0"), 24, *held).ok());
  ASSERT_TRUE(fib->Set(Ip("192.0.2.0"), 24, {b, a}).ok());   // the same set by members
  EXPECT_EQ(fib->GroupOf(Ip("192.0.2.0"), 24), int64_t{*held});
  EXPECT_EQ(Lookup(*fib, Ip("203.0.113.9")), *held);
  EXPECT_EQ(fib->groups_in_use(), 1u);
  ASSERT_TRUE(fib->SetGroup(Ip("203.0.113.0"), 24, *held).ok());   // same group again: no extra reference
  fib->ReleaseGroup(*held);
  ASSERT_TRUE(fib->Delete(Ip("198.51.100.0"), 24).ok());
  ASSERT_TRUE(fib->Delete(Ip("203.0.113.0"), 24).ok());
  EXPECT_EQ(fib->groups_in_use(), 1u);
  ASSERT_TRUE(fib->Delete(Ip("192.0.2.0"), 24).ok());
  EXPECT_EQ(fib->groups_in_use(), 0u);
  EXPECT_EQ(fib->nexthops_in_use(), 0u);
  // A group nobody holds cannot be pointed at.
  EXPECT_TRUE(absl::IsFailedPrecondition(fib->SetGroup(Ip("198.51.100.0"), 24, *held)));
  EXPECT_TRUE(absl::IsFailedPrecondition(fib->SetGroup(Ip("198.51.100.0"), 24, kNoGroup)));
  EXPECT_EQ(fib->routes(), 0u);
}

// A /25-/32 route with its covering route's next hops: same group, both
// removable, no tbl8 block leaked (rte_fib in DPDK 22.11 gets this wrong).
TEST(Fib, LongRoutesUnderSameNexthopCoverDoNotLeakTbl8Blocks) {
  auto fib = MakeFib(nullptr, 1 << 12, 64);
  const Nexthop via = Gw(Ip("198.18.2.2"), 1);
  for (int round = 0; round < 200; ++round) {
    ASSERT_TRUE(fib->Set(Ip("198.51.100.0"), 24, {via}).ok()) << round;
    const absl::Status long_route = fib->Set(Ip("198.51.100.64"), 26, {via});
    ASSERT_TRUE(long_route.ok()) << "round " << round << ": " << long_route;
    EXPECT_EQ(Lookup(*fib, Ip("198.51.100.70")), Lookup(*fib, Ip("198.51.100.1")));
    EXPECT_EQ(fib->GroupOf(Ip("198.51.100.64"), 26), fib->GroupOf(Ip("198.51.100.0"), 24));
    ASSERT_TRUE(fib->Delete(Ip("198.51.100.64"), 26).ok());
    ASSERT_TRUE(fib->Delete(Ip("198.51.100.0"), 24).ok());
  }
  EXPECT_EQ(fib->routes(), 0u);
}

// Readers keep resolving a prefix nobody touches while the writer adds and
// removes thousands of others (covering, more-specific and disjoint, so
// tbl8 groups are allocated and freed): the reader must never miss or see
// the wrong next hop, and freed memory is only reused after grace periods.
TEST(Fib, UpdatesUnderConcurrentLookupsNeverDisturbUnaffectedPrefix) {
  auto rcu = MakeRcu(1);
  // Enough tbl8 groups that a descheduled reader (2 shared CPUs) delaying
  // reclamation cannot exhaust them.
  auto fib = MakeFib(rcu.get(), 1 << 16, 1 << 13);
  const uint32_t stable_dst = Ip("203.0.113.77");
  ASSERT_TRUE(fib->Set(Ip("203.0.113.0"), 24, {Gw(Ip("198.18.9.9"), 3)}).ok());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> lookups{0}, wrong{0};
  std::thread reader([&] {
    rte_rcu_qsbr_thread_register(rcu.get(), 0);
    rte_rcu_qsbr_thread_online(rcu.get(), 0);
    while (!stop.load(std::memory_order_relaxed)) {
      uint32_t ips[4] = {stable_dst, stable_dst + 1, stable_dst - 1, stable_dst + 100};
      uint32_t out[4];
      fib->LookupBulk(ips, out, 4);
      for (uint32_t r : out) {
        const bool ok = r != kNoGroup && fib->nexthop(fib->group(r).members[0]).gateway == Ip("198.18.9.9");
        if (!ok) wrong.fetch_add(1, std::memory_order_relaxed);
      }
      lookups.fetch_add(4, std::memory_order_relaxed);
      rte_rcu_qsbr_quiescent(rcu.get(), 0);
    }
    rte_rcu_qsbr_thread_offline(rcu.get(), 0);
    rte_rcu_qsbr_thread_unregister(rcu.get(), 0);
  });
  struct JoinOnExit {
    std::atomic<bool>& stop;
    std::thread& t;
    ~JoinOnExit() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } join_on_exit{stop, reader};
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    std::vector<std::pair<uint32_t, uint8_t>> added;
    for (int i = 0; i < 500; ++i) {
      uint8_t len = static_cast<uint8_t>(16 + rng() % 17);   // /16../32: many need tbl8 groups
      uint32_t prefix = (Ip("198.18.0.0") | (rng() & 0x1ffff)) & (len == 0 ? 0 : ~0u << (32 - len));
      if ((prefix & 0xffffff00u) == Ip("203.0.113.0")) continue;
      const absl::Status set = fib->Set(prefix, len, {Gw(Ip("198.18.1.1") + static_cast<uint32_t>(i % 8), 1)});
      ASSERT_TRUE(set.ok()) << set;
      added.emplace_back(prefix, len);
    }
    // A covering route and a more-specific elsewhere, then remove them.
    ASSERT_TRUE(fib->Set(Ip("203.0.0.0"), 8, {Gw(Ip("198.18.7.7"), 2)}).ok());
    for (auto [p, l] : added) (void)fib->Delete(p, l);
    ASSERT_TRUE(fib->Delete(Ip("203.0.0.0"), 8).ok());
  }
  // Let the reader run a little after the last update too.
  const uint64_t before = lookups.load();
  while (lookups.load() < before + 1000) std::this_thread::yield();
  stop = true;
  reader.join();
  EXPECT_GT(lookups.load(), 1000u);
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_EQ(fib->routes(), 1u);
}

TEST(NeighborTable, InternSetFindAndRequests) {
  auto table = NeighborTable::Create(64, 16, 0);
  ASSERT_TRUE(table.ok());
  NeighborTable& t = **table;
  EXPECT_EQ(t.Find(1, Ip("198.18.2.2")), NeighborTable::kNoSlot);
  auto slot = t.Intern(1, Ip("198.18.2.2"));
  ASSERT_TRUE(slot.ok());
  EXPECT_EQ(t.Find(1, Ip("198.18.2.2")), *slot);
  EXPECT_EQ(*t.Intern(1, Ip("198.18.2.2")), *slot);
  EXPECT_NE(*t.Intern(2, Ip("198.18.2.2")), *slot);   // per port
  MacAddr mac;
  EXPECT_FALSE(NeighborTable::Load(t.Word(*slot), &mac));
  t.Set(*slot, MacAddr{2, 0, 0, 0, 0, 9});
  ASSERT_TRUE(NeighborTable::Load(t.Word(*slot), &mac));
  EXPECT_EQ(mac, (MacAddr{2, 0, 0, 0, 0, 9}));
  for (int i = 0; i < 40; ++i) t.RequestResolution(1, Ip("198.18.2.3"));
  EXPECT_GT(t.requests_dropped(), 0u);   // bounded queue, overflow counted
  std::vector<std::pair<uint16_t, uint32_t>> requests;
  t.DrainRequests(&requests);
  EXPECT_FALSE(requests.empty());
  EXPECT_EQ(requests[0], std::make_pair(uint16_t{1}, Ip("198.18.2.3")));
}

class RouteTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fib_ = MakeFib(nullptr);
    auto n = NeighborTable::Create(256, 64, 0);
    ASSERT_TRUE(n.ok());
    neighbors_ = std::move(*n);
    routes_ = std::make_unique<RouteTable>(fib_.get(), neighbors_.get(),
                                           [this](uint16_t port, uint32_t ip) { resolved_.emplace_back(port, ip); });
    ASSERT_TRUE(routes_
                    ->SetAddresses({{1, {Ipv4Addr{Ip("198.18.1.1")}, {Ipv4Addr{Ip("198.18.1.0")}, 24}}},
                                    {2, {Ipv4Addr{Ip("198.18.2.1")}, {Ipv4Addr{Ip("198.18.2.0")}, 24}}}})
                    .ok());
  }
  RouteEntry Static(const char* prefix, uint8_t len, std::vector<const char*> via) {
    RouteEntry e;
    e.prefix = {Ipv4Addr{Ip(prefix)}, len};
    e.source = RouteSource::kStatic;
    for (const char* v : via) e.gateways.push_back(Ipv4Addr{Ip(v)});
    return e;
  }
  std::unique_ptr<Fib> fib_;
  std::unique_ptr<NeighborTable> neighbors_;
  std::unique_ptr<RouteTable> routes_;
  std::vector<std::pair<uint16_t, uint32_t>> resolved_;
};

TEST_F(RouteTableTest, ConnectedAndLocalRoutes) {
  const uint32_t local = Lookup(*fib_, Ip("198.18.1.1"));
  ASSERT_NE(local, UINT32_MAX);
  EXPECT_EQ(fib_->nexthop(fib_->group(local).members[0]).kind, NexthopKind::kLocal);
  const uint32_t conn = Lookup(*fib_, Ip("198.18.2.9"));
  EXPECT_EQ(fib_->nexthop(fib_->group(conn).members[0]).kind, NexthopKind::kConnected);
  EXPECT_EQ(fib_->nexthop(fib_->group(conn).members[0]).port, 2);
}

// A tunnel's host TAP (port 9, tunnel 5) carries the overlay: static routes
// via the peer's overlay address, and BGP routes recursing through them,
// resolve to kTunnel next hops; nothing is asked of the neighbour table.
TEST_F(RouteTableTest, RoutesViaATunnelOverlayResolveToTheTunnel) {
  routes_->SetTunnelPorts({{9, 5}});
  ASSERT_TRUE(routes_
                  ->SetAddresses({{1, {Ipv4Addr{Ip("198.18.1.1")}, {Ipv4Addr{Ip("198.18.1.0")}, 24}}},
                                  {9, {Ipv4Addr{Ip("198.18.250.1")}, {Ipv4Addr{Ip("198.18.250.0")}, 30}}}})
                  .ok());
  ASSERT_TRUE(routes_->SetStatic({Static("203.0.113.0", 24, {"198.18.250.2"})}, nullptr).ok());
  const Nexthop& via = fib_->nexthop(fib_->group(Lookup(*fib_, Ip("203.0.113.7"))).members[0]);
  EXPECT_EQ(via.kind, NexthopKind::kTunnel);
  EXPECT_EQ(via.tunnel, 5u);
  EXPECT_EQ(via.gateway, Ip("198.18.250.2"));
  const Nexthop& peer = fib_->nexthop(fib_->group(Lookup(*fib_, Ip("198.18.250.2"))).members[0]);
  EXPECT_EQ(peer.kind, NexthopKind::kTunnel);
  EXPECT_EQ(fib_->nexthop(fib_->group(Lookup(*fib_, Ip("198.18.250.1"))).members[0]).kind, NexthopKind::kLocal);
  const BgpRoute bgp{{Ipv4Addr{Ip("198.51.100.0")}, 24}, {Ipv4Addr{Ip("203.0.113.9")}}};
  ASSERT_TRUE(routes_->ApplyBgp({bgp}).ok());
  const Nexthop& recursive = fib_->nexthop(fib_->group(Lookup(*fib_, Ip("198.51.100.1"))).members[0]);
  EXPECT_EQ(recursive.kind, NexthopKind::kTunnel);
  EXPECT_EQ(recursive.tunnel, 5u);
  for (const auto& [port, ip] : resolved_) EXPECT_NE(port, 9) << "no ARP on a tunnel";
}

TEST_F(RouteTableTest, StaticResolvesGatewayToPortAndRequestsResolution) {
  std::vector<std::string> changes;
  ASSERT_TRUE(routes_->SetStatic({Static("198.51.100.0", 24, {"198.18.2.2", "198.18.1.2"})}, &changes).ok());
  ASSERT_EQ(changes.size(), 1u);
  const uint32_t g = Lookup(*fib_, Ip("198.51.100.5"));
  ASSERT_NE(g, UINT32_MAX);
  EXPECT_EQ(fib_->group(g).count, 2u);
  EXPECT_EQ(resolved_.size(), 2u);
  EXPECT_NE(neighbors_->Find(2, Ip("198.18.2.2")), NeighborTable::kNoSlot);
  // Unchanged routes are not reprogrammed; removal takes it out.
  changes.clear();
  ASSERT_TRUE(routes_->SetStatic({Static("198.51.100.0", 24, {"198.18.2.2", "198.18.1.2"})}, &changes).ok());
  EXPECT_TRUE(changes.empty());
  ASSERT_TRUE(routes_->SetStatic({}, &changes).ok());
  EXPECT_EQ(Lookup(*fib_, Ip("198.51.100.5")), UINT32_MAX);
}

TEST_F(RouteTableTest, UnreachableGatewayIsInactiveUntilItsSubnetAppears) {
  ASSERT_TRUE(routes_->SetStatic({Static("203.0.113.0", 24, {"198.18.5.2"})}, nullptr).ok());
  EXPECT_EQ(Lookup(*fib_, Ip("203.0.113.1")), UINT32_MAX);
  bool found = false;
  for (const auto& v : routes_->Routes()) {
    if (v.entry.prefix.addr.value == Ip("203.0.113.0")) {
      found = true;
      EXPECT_FALSE(v.active);
      EXPECT_NE(v.inactive_reason.find("198.18.5.2"), std::string::npos);
    }
  }
  EXPECT_TRUE(found);
  ASSERT_TRUE(routes_->SetAddresses({{3, {Ipv4Addr{Ip("198.18.5.1")}, {Ipv4Addr{Ip("198.18.5.0")}, 24}}}}).ok());
  EXPECT_NE(Lookup(*fib_, Ip("203.0.113.1")), UINT32_MAX);
}

TEST_F(RouteTableTest, ConnectedBeatsStaticForTheSamePrefix) {
  ASSERT_TRUE(routes_->SetStatic({Static("198.18.2.0", 24, {"198.18.1.2"})}, nullptr).ok());
  const uint32_t g = Lookup(*fib_, Ip("198.18.2.9"));
  EXPECT_EQ(fib_->nexthop(fib_->group(g).members[0]).kind, NexthopKind::kConnected);
}

TEST_F(RouteTableTest, BgpNextHopResolvesRecursivelyThroughAStaticRoute) {
  // The Route Server's address (the BGP next hop) sits behind a gateway.
  ASSERT_TRUE(routes_->SetStatic({Static("203.0.113.0", 24, {"198.18.2.2"})}, nullptr).ok());
  BgpRoute bgp;
  bgp.prefix = {Ipv4Addr{Ip("192.0.2.0")}, 24};
  bgp.gateways = {Ipv4Addr{Ip("203.0.113.4")}};
  ASSERT_TRUE(routes_->ApplyBgp({bgp}).ok());
  const uint32_t g = Lookup(*fib_, Ip("192.0.2.1"));
  ASSERT_NE(g, UINT32_MAX);
  EXPECT_EQ(fib_->nexthop(fib_->group(g).members[0]).gateway, Ip("198.18.2.2"));
  // Removing the covering static route takes the BGP route out too.
  ASSERT_TRUE(routes_->SetStatic({}, nullptr).ok());
  EXPECT_EQ(Lookup(*fib_, Ip("192.0.2.1")), UINT32_MAX);
  EXPECT_EQ(Lookup(*fib_, Ip("203.0.113.1")), UINT32_MAX);
  // Directly connected BGP next hops; an empty gateway list withdraws.
  bgp.gateways = {Ipv4Addr{Ip("198.18.1.2")}, Ipv4Addr{Ip("198.18.2.2")}};
  ASSERT_TRUE(routes_->ApplyBgp({bgp}).ok());
  EXPECT_EQ(fib_->group(Lookup(*fib_, Ip("192.0.2.1"))).count, 2u);
  bgp.gateways.clear();
  ASSERT_TRUE(routes_->ApplyBgp({bgp}).ok());
  EXPECT_EQ(Lookup(*fib_, Ip("192.0.2.1")), UINT32_MAX);
}

// Gateway lists are interned and their ids recycled: a recycled id must not
// bring back the next hops resolved for the list that had it before.
TEST_F(RouteTableTest, BgpGatewayListIdReuseResolvesTheNewGateway) {
  BgpRoute first{{Ipv4Addr{Ip("192.0.2.0")}, 24}, {Ipv4Addr{Ip("198.18.1.2")}}};
  ASSERT_TRUE(routes_->ApplyBgp({first}).ok());
  EXPECT_EQ(fib_->nexthop(fib_->group(Lookup(*fib_, Ip("192.0.2.1"))).members[0]).gateway, Ip("198.18.1.2"));
  ASSERT_TRUE(routes_->ApplyBgp({BgpRoute{first.prefix, {}}}).ok());   // the list's last route: id freed
  BgpRoute second{{Ipv4Addr{Ip("203.0.113.0")}, 24}, {Ipv4Addr{Ip("198.18.2.2")}}};
  ASSERT_TRUE(routes_->ApplyBgp({second}).ok());
  const uint32_t g = Lookup(*fib_, Ip("203.0.113.1"));
  ASSERT_NE(g, UINT32_MAX);
  EXPECT_EQ(fib_->nexthop(fib_->group(g).members[0]).gateway, Ip("198.18.2.2"));
  EXPECT_EQ(fib_->nexthop(fib_->group(g).members[0]).port, 2);
}

TEST_F(RouteTableTest, StaticBeatsBgpForTheSamePrefix) {
  ASSERT_TRUE(routes_->SetStatic({Static("198.51.100.0", 24, {"198.18.1.2"})}, nullptr).ok());
  BgpRoute bgp;
  bgp.prefix = {Ipv4Addr{Ip("198.51.100.0")}, 24};
  bgp.gateways = {Ipv4Addr{Ip("198.18.2.2")}};
  ASSERT_TRUE(routes_->ApplyBgp({bgp}).ok());
  EXPECT_EQ(fib_->nexthop(fib_->group(Lookup(*fib_, Ip("198.51.100.1"))).members[0]).port, 1);
  ASSERT_TRUE(routes_->SetStatic({}, nullptr).ok());
  EXPECT_EQ(fib_->nexthop(fib_->group(Lookup(*fib_, Ip("198.51.100.1"))).members[0]).port, 2);
}

// A BGP route shadowed by a static route and back: the FIB, the observer
// (what the kernel mirror hears) and Routes() follow each step, and
// nothing is leaked once every route is gone.
TEST_F(RouteTableTest, BgpShadowedByStaticAndBackKeepsViewsObserverAndGroups) {
  std::vector<std::string> heard;
  routes_->SetObserver([&](const Ipv4Prefix& p, RouteSource source, const std::vector<Nexthop>* nexthops) {
    const std::string what =
        nexthops == nullptr ? "removed" : absl::StrCat(nexthops->size(), " via port ", nexthops->front().port);
    heard.push_back(ToString(p) + " " + std::string(ToString(source)) + " " + what);
  });
  const uint32_t groups_before = fib_->groups_in_use();
  const Ipv4Prefix prefix{Ipv4Addr{Ip("198.51.100.0")}, 24};
  const Ipv4Prefix other{Ipv4Addr{Ip("203.0.113.0")}, 24};
  ASSERT_TRUE(routes_->ApplyBgp({{prefix, {Ipv4Addr{Ip("198.18.2.2")}}}, {other, {Ipv4Addr{Ip("198.18.2.2")}}}}).ok());
  EXPECT_EQ(routes_->bgp_routes(), 2u);
  EXPECT_EQ(fib_->GroupOf(prefix.addr.value, 24), fib_->GroupOf(other.addr.value, 24));   // one group for both
  ASSERT_TRUE(routes_->SetStatic({Static("198.51.100.0", 24, {"198.18.1.2"})}, nullptr).ok());
  EXPECT_EQ(fib_->nexthop(fib_->group(Lookup(*fib_, Ip("198.51.100.1"))).members[0]).port, 1);
  auto view_of = [&](RouteSource source) {
    for (const RouteTable::View& v : routes_->Routes()) {
      if (v.entry.prefix == prefix && v.entry.source == source) return v;
    }
    ADD_FAILURE() << "no " << ToString(source) << " route";
    return RouteTable::View{};
  };
  RouteTable::View bgp = view_of(RouteSource::kBgp);
  EXPECT_FALSE(bgp.active);
  EXPECT_EQ(bgp.inactive_reason, "a route from a preferred source exists");
  EXPECT_TRUE(view_of(RouteSource::kStatic).active);

  ASSERT_TRUE(routes_->SetStatic({}, nullptr).ok());   // BGP comes back
  EXPECT_EQ(fib_->nexthop(fib_->group(Lookup(*fib_, Ip("198.51.100.1"))).members[0]).port, 2);
  bgp = view_of(RouteSource::kBgp);
  EXPECT_TRUE(bgp.active);
  ASSERT_EQ(bgp.nexthops.size(), 1u);
  EXPECT_EQ(bgp.nexthops[0].gateway, Ip("198.18.2.2"));
  EXPECT_EQ(bgp.entry.gateways, std::vector<Ipv4Addr>{Ipv4Addr{Ip("198.18.2.2")}});

  // Another gateway list for the prefix, then a withdrawal of both.
  ASSERT_TRUE(routes_->ApplyBgp({{prefix, {Ipv4Addr{Ip("198.18.1.3")}}}}).ok());
  EXPECT_EQ(fib_->nexthop(fib_->group(Lookup(*fib_, Ip("198.51.100.1"))).members[0]).port, 1);
  ASSERT_TRUE(routes_->ApplyBgp({{prefix, {}}, {other, {}}, {other, {}}}).ok());   // a second withdrawal is a no-op
  EXPECT_EQ(routes_->bgp_routes(), 0u);
  EXPECT_EQ(Lookup(*fib_, Ip("198.51.100.1")), UINT32_MAX);
  EXPECT_EQ(fib_->groups_in_use(), groups_before);
  EXPECT_EQ(heard, (std::vector<std::string>{
                       "198.51.100.0/24 bgp 1 via port 2", "203.0.113.0/24 bgp 1 via port 2",
                       "198.51.100.0/24 static 1 via port 1", "198.51.100.0/24 bgp 1 via port 2",
                       "198.51.100.0/24 bgp 1 via port 1", "198.51.100.0/24 bgp removed",
                       "203.0.113.0/24 bgp removed"}));
}

// A BGP gateway whose subnet goes away makes its routes inactive (out of
// the FIB, with the reason in Routes()); the subnet's return brings them back.
TEST_F(RouteTableTest, BgpRoutesFollowTheirGatewaysSubnet) {
  const Ipv4Prefix prefix{Ipv4Addr{Ip("192.0.2.0")}, 24};
  ASSERT_TRUE(routes_->ApplyBgp({{prefix, {Ipv4Addr{Ip("198.18.2.2")}}}}).ok());
  ASSERT_NE(Lookup(*fib_, Ip("192.0.2.1")), UINT32_MAX);
  const std::vector<PortAddress> both = routes_->addresses();
  ASSERT_TRUE(routes_->SetAddresses({both[0]}).ok());   // port 2's subnet is gone
  EXPECT_EQ(Lookup(*fib_, Ip("192.0.2.1")), UINT32_MAX);
  for (const RouteTable::View& v : routes_->Routes()) {
    if (v.entry.prefix != prefix) continue;
    EXPECT_FALSE(v.active);
    EXPECT_NE(v.inactive_reason.find("198.18.2.2"), std::string::npos) << v.inactive_reason;
  }
  ASSERT_TRUE(routes_->SetAddresses(both).ok());
  const uint32_t g = Lookup(*fib_, Ip("192.0.2.1"));
  ASSERT_NE(g, UINT32_MAX);
  EXPECT_EQ(fib_->nexthop(fib_->group(g).members[0]).port, 2);
}

// ---- The forwarding stage over ring ports with real mbufs ----

class ForwardTest : public ::testing::Test {
 protected:
  static constexpr int kPorts = 3;   // 0: west, 1: east, 2: exception TAP stand-in
  void SetUp() override {
    pool_ = rte_pktmbuf_pool_create(Unique("pool").c_str(), 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    ASSERT_NE(pool_, nullptr);
    for (int i = 0; i < kPorts; ++i) {
      rings_[i] = rte_ring_create(Unique("r").c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
      const int id = rte_eth_from_ring(rings_[i]);
      ASSERT_GE(id, 0);
      port_ids_[i] = static_cast<uint16_t>(id);
      ASSERT_TRUE(StartPort(port_ids_[i], QueueSetup{}, pool_).ok());
    }
    fib_ = MakeFib(nullptr);
    auto n = NeighborTable::Create(256, 64, 0);
    ASSERT_TRUE(n.ok());
    neighbors_ = std::move(*n);
    info_.resize(RTE_MAX_ETHPORTS);
    for (int i = 0; i < kPorts; ++i) {
      PortInfo& p = info_[port_ids_[i]];
      p.mac = {0x02, 0, 0, 0, 0, static_cast<uint8_t>(0x10 + i)};
      p.exception_port = port_ids_[2];
      p.exception_mac = {0x02, 0, 0, 0, 0, 0x12};
    }
    info_[port_ids_[2]].is_exception = true;
    std::vector<TxQueue> tx(RTE_MAX_ETHPORTS);
    for (uint16_t p = 0; p < RTE_MAX_ETHPORTS; ++p) tx[p] = TxQueue{p, 0, nullptr};
    tx_ = std::make_unique<TxBuffers>(tx, &counters_);
    limiter_ = std::make_unique<PuntLimiter>(0);
    ctx_.fib = fib_.get();
    ctx_.neighbors = neighbors_.get();
    ctx_.ports = info_.data();
    ctx_.port_count = RTE_MAX_ETHPORTS;
    ctx_.counters = &counters_;
    ctx_.tx = tx_.get();
    ctx_.punt_limiter = limiter_.get();
    // 198.51.100.0/24 via 198.18.2.2 on east (resolved), 203.0.113.0/24 via an unresolved gateway.
    auto slot = neighbors_->Intern(port_ids_[1], Ip("198.18.2.2"));
    neighbors_->Set(*slot, MacAddr{0x02, 0xbb, 0, 0, 0, 2});
    ASSERT_TRUE(fib_->Set(Ip("198.51.100.0"), 24, {Nexthop{Ip("198.18.2.2"), *slot, port_ids_[1], NexthopKind::kForward}}).ok());
    auto unresolved = neighbors_->Intern(port_ids_[1], Ip("198.18.2.3"));
    ASSERT_TRUE(fib_->Set(Ip("203.0.113.0"), 24, {Nexthop{Ip("198.18.2.3"), *unresolved, port_ids_[1], NexthopKind::kForward}}).ok());
    ASSERT_TRUE(fib_->Set(Ip("198.18.1.1"), 32, {Nexthop{0, 0, port_ids_[0], NexthopKind::kLocal}}).ok());
    ASSERT_TRUE(fib_->Set(Ip("192.0.2.0"), 24, {Nexthop{0, 0, 0, NexthopKind::kBlackhole}}).ok());
  }
  void TearDown() override {
    for (int i = 0; i < kPorts; ++i) {
      rte_eth_dev_stop(port_ids_[i]);
      rte_eth_dev_close(port_ids_[i]);
      rte_ring_free(rings_[i]);
    }
    rte_mempool_free(pool_);
  }
  rte_mbuf* Mbuf(const Bytes& frame) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())), frame.data(), frame.size());
    return m;
  }
  PacketBuilder FromWest() { return PacketBuilder().DstMac(info_[port_ids_[0]].mac); }
  void Run(std::vector<Bytes> frames) {
    std::vector<rte_mbuf*> mbufs;
    for (const Bytes& f : frames) mbufs.push_back(Mbuf(f));
    ForwardBurst(ctx_, port_ids_[0], mbufs.data(), static_cast<uint16_t>(mbufs.size()));
    tx_->FlushAll();
  }
  // Frames transmitted on test port i.
  std::vector<Bytes> Sent(int i) {
    std::vector<Bytes> out;
    void* obj;
    while (rte_ring_dequeue(rings_[i], &obj) == 0) {
      auto* m = static_cast<rte_mbuf*>(obj);
      const uint8_t* d = rte_pktmbuf_mtod(m, const uint8_t*);
      out.emplace_back(d, d + rte_pktmbuf_data_len(m));
      rte_pktmbuf_free(m);
    }
    return out;
  }
  uint64_t Drops(DropReason r) { return counters_.drops[static_cast<size_t>(r)].Get(); }
  uint64_t Punts(PuntReason r) { return counters_.punts[static_cast<size_t>(r)].Get(); }

  rte_mempool* pool_ = nullptr;
  rte_ring* rings_[kPorts] = {};
  uint16_t port_ids_[kPorts] = {};
  std::unique_ptr<Fib> fib_;
  std::unique_ptr<NeighborTable> neighbors_;
  std::vector<PortInfo> info_;
  LcoreCounters counters_;
  std::unique_ptr<TxBuffers> tx_;
  std::unique_ptr<PuntLimiter> limiter_;
  ForwardContext ctx_;
};

TEST_F(ForwardTest, ForwardsWithTtlChecksumAndMacRewrite) {
  const Bytes in = FromWest().Dst("198.51.100.10").Ttl(64).Udp(5000, 53).Payload(10).PadTo(60).Build();
  Run({in});
  const auto out = Sent(1);
  ASSERT_EQ(out.size(), 1u);
  const Bytes& f = out[0];
  EXPECT_EQ(f.size(), in.size() - (60 - (14 + 20 + 8 + 10)));   // Ethernet padding trimmed
  EXPECT_TRUE(std::equal(f.begin(), f.begin() + 6, MacAddr{0x02, 0xbb, 0, 0, 0, 2}.begin()));
  EXPECT_TRUE(std::equal(f.begin() + 6, f.begin() + 12, info_[port_ids_[1]].mac.begin()));
  EXPECT_EQ(f[14 + 8], 63);
  EXPECT_EQ(testing::InternetChecksum(f.data() + 14, 20), 0);   // header checksum still valid
  // Everything after TTL/checksum is untouched.
  EXPECT_TRUE(std::equal(f.begin() + 14 + 12, f.end(), in.begin() + 14 + 12));
  EXPECT_EQ(counters_.tx_packets.Get(), 1u);
}

TEST_F(ForwardTest, ExceptionsAndDropsAreNamed) {
  Run({
      FromWest().Dst("198.51.100.10").Ttl(1).Build(),            // TTL expiry -> kernel
      FromWest().Dst("198.18.1.1").Build(),                      // local -> kernel
      FromWest().Dst("203.0.113.9").Build(),                     // gateway unresolved
      FromWest().Dst("192.0.2.1").Build(),                       // blackhole
      FromWest().Dst("100.64.0.1").Build(),                      // no route
      Bytes(5, 0),                                               // runt
  });
  EXPECT_EQ(Punts(PuntReason::kTtlExpired), 1u);
  EXPECT_EQ(Punts(PuntReason::kLocal), 1u);
  EXPECT_EQ(Drops(DropReason::kNeighborMissing), 1u);
  EXPECT_EQ(Drops(DropReason::kBlackhole), 1u);
  EXPECT_EQ(Drops(DropReason::kNoRoute), 1u);
  EXPECT_EQ(Drops(DropReason::kRunt), 1u);
  const auto punted = Sent(2);
  ASSERT_EQ(punted.size(), 2u);
  for (const Bytes& f : punted) {
    EXPECT_TRUE(std::equal(f.begin(), f.begin() + 6, info_[port_ids_[0]].exception_mac.begin()));
  }
  EXPECT_EQ(punted[0][14 + 8], 1);
  std::vector<std::pair<uint16_t, uint32_t>> requests;
  neighbors_->DrainRequests(&requests);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].second, Ip("198.18.2.3"));
  EXPECT_TRUE(Sent(1).empty());
}

TEST_F(ForwardTest, EcmpKeepsAFlowOnOnePathAndSpreadsFlows) {
  auto s1 = neighbors_->Intern(port_ids_[1], Ip("198.18.2.2"));
  auto s2 = neighbors_->Intern(port_ids_[2], Ip("198.18.3.2"));
  neighbors_->Set(*s2, MacAddr{0x02, 0xcc, 0, 0, 0, 2});
  info_[port_ids_[2]].is_exception = false;
  ASSERT_TRUE(fib_->Set(Ip("198.51.100.0"), 24,
                        {Nexthop{Ip("198.18.2.2"), *s1, port_ids_[1], NexthopKind::kForward},
                         Nexthop{Ip("198.18.3.2"), *s2, port_ids_[2], NexthopKind::kForward}}).ok());
  std::vector<Bytes> same(50, FromWest().Dst("198.51.100.10").Udp(4000, 53).Build());
  Run(same);
  const size_t a = Sent(1).size(), b = Sent(2).size();
  EXPECT_TRUE((a == 50 && b == 0) || (a == 0 && b == 50)) << a << "/" << b;
  std::vector<Bytes> flows;
  for (uint16_t sport = 1000; sport < 1200; ++sport) flows.push_back(FromWest().Dst("198.51.100.10").Udp(sport, 53).Build());
  Run(flows);
  const size_t fa = Sent(1).size(), fb = Sent(2).size();
  EXPECT_EQ(fa + fb, 200u);
  EXPECT_GT(fa, 60u);
  EXPECT_GT(fb, 60u);
}

}  // namespace
}  // namespace isthmus

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new isthmus::testing::EalEnvironment);
  return RUN_ALL_TESTS();
}
