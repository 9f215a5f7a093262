// The service snapshot workers read (dataplane/service/service_table.h):
// lookup by (VIP, protocol, port), the VIP check, Maglev over the healthy
// backends only, and publication with an RCU grace period.

#include "dataplane/service/service_table.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <rte_rcu_qsbr.h>

#include <cstdlib>
#include <memory>
#include <set>
#include <vector>

#include "dataplane/service/flow_hash.h"

namespace isthmus {
namespace {

constexpr uint32_t kWebVip = 0xcb00710a;  // 203.0.113.10
constexpr uint32_t kDnsVip = 0xcb00710b;  // 203.0.113.11
constexpr uint32_t kSize = 251;           // small prime: fast tests

ServiceConfig Web() {
  ServiceConfig s;
  s.name = "web";
  s.vip = {kWebVip};
  s.protocol = ServiceProtocol::kTcp;
  s.ports = {80, 443};
  s.backends = {{{0xc0000215}, 8080, 1}, {{0xc0000216}, 8080, 1}, {{0xc0000217}, 0, 2}};
  s.snat_pool = {{0xc6336432}};
  s.on_backend_down = BackendDownPolicy::kReselect;
  s.flow_timeouts.udp_s = 30;
  return s;
}

ServiceConfig Dns() {
  ServiceConfig s;
  s.name = "dns";
  s.vip = {kDnsVip};
  s.protocol = ServiceProtocol::kUdp;
  s.ports = {53};
  s.backends = {{{0xc0000221}, 0, 1}};
  return s;
}

std::unique_ptr<const ServiceSnapshot> BuildAllUp(const std::vector<ServiceConfig>& services) {
  auto snapshot = ServiceSnapshot::Build(services, kSize, [](size_t, size_t) { return true; });
  EXPECT_TRUE(snapshot.ok()) << snapshot.status();
  return snapshot.ok() ? *std::move(snapshot) : ServiceSnapshot::Empty();
}

TEST(ServiceSnapshot, FindsServicesByVipProtocolAndPort) {
  const auto snap = BuildAllUp({Web(), Dns()});
  const ServiceEntry* web80 = snap->Find(kWebVip, IPPROTO_TCP, 80);
  ASSERT_NE(web80, nullptr);
  EXPECT_EQ(web80->id, 0u);
  EXPECT_EQ(snap->Find(kWebVip, IPPROTO_TCP, 443), web80);
  EXPECT_EQ(snap->Find(kWebVip, IPPROTO_UDP, 80), nullptr);
  EXPECT_EQ(snap->Find(kWebVip, IPPROTO_TCP, 8080), nullptr);
  EXPECT_EQ(snap->Find(kWebVip + 5, IPPROTO_TCP, 80), nullptr);
  const ServiceEntry* dns = snap->Find(kDnsVip, IPPROTO_UDP, 53);
  ASSERT_NE(dns, nullptr);
  EXPECT_EQ(dns->id, 1u);
  EXPECT_EQ(dns->protocol, IPPROTO_UDP);
  EXPECT_EQ(snap->Find(0, 0, 0), nullptr);
}

TEST(ServiceSnapshot, CopiesWhatWorkersNeed) {
  const auto snap = BuildAllUp({Web()});
  const ServiceEntry& e = snap->entries()[0];
  EXPECT_EQ(e.vip, kWebVip);
  EXPECT_EQ(e.protocol, IPPROTO_TCP);
  ASSERT_EQ(e.backends.size(), 3u);
  EXPECT_EQ(e.backends[2].address, 0xc0000217u);
  EXPECT_EQ(e.backends[2].port, 0);
  EXPECT_EQ(e.snat_pool, std::vector<uint32_t>{0xc6336432});
  EXPECT_EQ(e.on_backend_down, BackendDownPolicy::kReselect);
  EXPECT_EQ(e.timeouts.udp_s, 30u);
  EXPECT_EQ(e.maglev.size(), kSize);
}

TEST(ServiceSnapshot, IsVipAnswersForEveryVipOnly) {
  ServiceConfig web_udp = Web();
  web_udp.name = "web-quic";
  web_udp.protocol = ServiceProtocol::kUdp;  // same VIP, other protocol
  const auto snap = BuildAllUp({Web(), Dns(), web_udp});
  EXPECT_TRUE(snap->IsVip(kWebVip));
  EXPECT_TRUE(snap->IsVip(kDnsVip));
  EXPECT_FALSE(snap->IsVip(kWebVip + 2));
  EXPECT_FALSE(snap->IsVip(0));
  EXPECT_NE(snap->Find(kWebVip, IPPROTO_UDP, 443), nullptr);
  EXPECT_EQ(snap->Find(kWebVip, IPPROTO_UDP, 443)->id, 2u);
}

TEST(ServiceSnapshot, DrainingServiceTakesNoNewFlows) {
  const std::vector<ServiceConfig> services = {Web(), Dns()};
  auto snap = ServiceSnapshot::Build(services, kSize, [](size_t, size_t) { return true; },
                                     [](size_t service) { return service == 0; });
  ASSERT_TRUE(snap.ok()) << snap.status();
  const ServiceEntry& web = (*snap)->entries()[0];
  EXPECT_TRUE(web.draining);
  EXPECT_EQ(web.PickBackend(12345), kNoBackend);
  EXPECT_TRUE(web.backends[0].healthy);   // established flows keep their backend
  EXPECT_NE((*snap)->entries()[1].PickBackend(12345), kNoBackend);
}

TEST(ServiceSnapshot, MayBeReplyKnowsBackendsAndSnatAddresses) {
  const auto snap = BuildAllUp({Web(), Dns()});
  constexpr uint32_t kClient = 0xc6120102;  // 198.18.1.2
  EXPECT_TRUE(snap->MayBeReply(0xc0000215, kClient));   // from a web backend
  EXPECT_TRUE(snap->MayBeReply(0xc0000221, kClient));   // from the dns backend
  EXPECT_TRUE(snap->MayBeReply(0xc0000216, 0xc6336432));   // to the SNAT address
  EXPECT_FALSE(snap->MayBeReply(kClient, 0xc0000299));
  EXPECT_FALSE(snap->MayBeReply(kClient, kWebVip));      // the VIP is IsVip's
  EXPECT_FALSE(ServiceSnapshot::Empty()->MayBeReply(0xc0000215, kClient));
}

TEST(ServiceSnapshot, ManyServicesAreAllFound) {
  std::vector<ServiceConfig> services;
  for (uint32_t i = 0; i < 300; ++i) {
    ServiceConfig s = Dns();
    s.name = "s" + std::to_string(i);
    s.vip = {0xc6120000 + i};  // 198.18.x.y
    s.ports = {53, static_cast<uint16_t>(1000 + i)};
    services.push_back(s);
  }
  const auto snap = BuildAllUp(services);
  for (uint32_t i = 0; i < 300; ++i) {
    const ServiceEntry* e = snap->Find(0xc6120000 + i, IPPROTO_UDP, static_cast<uint16_t>(1000 + i));
    ASSERT_NE(e, nullptr) << i;
    EXPECT_EQ(e->id, i);
    EXPECT_EQ(snap->Find(0xc6120000 + i, IPPROTO_UDP, 53), e);
    EXPECT_EQ(snap->Find(0xc6120000 + i, IPPROTO_UDP, static_cast<uint16_t>(1001 + i)), nullptr);
  }
}

TEST(ServiceSnapshot, PicksOnlyHealthyBackends) {
  const std::vector<ServiceConfig> services = {Web()};
  auto snap = ServiceSnapshot::Build(services, kSize, [](size_t, size_t backend) { return backend != 1; });
  ASSERT_TRUE(snap.ok()) << snap.status();
  const ServiceEntry& e = (*snap)->entries()[0];
  EXPECT_TRUE(e.backends[0].healthy);
  EXPECT_FALSE(e.backends[1].healthy);
  EXPECT_EQ(e.healthy, (std::vector<uint16_t>{0, 2}));
  std::set<uint32_t> picked;
  for (uint16_t port = 1024; port < 3024; ++port) {
    picked.insert(e.PickBackend(FlowHash(0xc6336401, kWebVip, port, 80, IPPROTO_TCP)));
  }
  EXPECT_EQ(picked, (std::set<uint32_t>{0, 2}));
}

// Flows whose backend stayed healthy keep it when another one dies: the
// Maglev table is over the healthy set, indexes are the config's.
TEST(ServiceSnapshot, SurvivingBackendsKeepMostFlows) {
  const std::vector<ServiceConfig> services = {Web()};
  const auto all = BuildAllUp(services);
  auto degraded = ServiceSnapshot::Build(services, kDefaultMaglevTableSize, [](size_t, size_t b) { return b != 0; });
  const auto full = ServiceSnapshot::Build(services, kDefaultMaglevTableSize, [](size_t, size_t) { return true; });
  ASSERT_TRUE(degraded.ok() && full.ok());
  int kept = 0;
  int on_survivors = 0;
  for (uint16_t port = 1024; port < 11024; ++port) {
    const uint32_t hash = FlowHash(0xc6336401, kWebVip, port, 80, IPPROTO_TCP);
    const uint32_t before = (*full)->entries()[0].PickBackend(hash);
    if (before == 0) continue;
    ++on_survivors;
    kept += (*degraded)->entries()[0].PickBackend(hash) == before;
  }
  EXPECT_GT(kept, on_survivors * 95 / 100);
}

TEST(ServiceSnapshot, NoHealthyBackendPicksNone) {
  const std::vector<ServiceConfig> services = {Dns()};
  auto snap = ServiceSnapshot::Build(services, kSize, [](size_t, size_t) { return false; });
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ((*snap)->entries()[0].PickBackend(12345), kNoBackend);
  EXPECT_NE((*snap)->Find(kDnsVip, IPPROTO_UDP, 53), nullptr);
}

TEST(ServiceSnapshot, RefusesWhatCannotBeServed) {
  ServiceConfig clash = Web();
  clash.name = "clash";
  clash.ports = {443};
  const std::vector<ServiceConfig> clashing = {Web(), clash};
  auto snap = ServiceSnapshot::Build(clashing, kSize, [](size_t, size_t) { return true; });
  ASSERT_FALSE(snap.ok());
  EXPECT_EQ(snap.status().message(), "services web and clash share VIP, protocol and port 443");

  const std::vector<ServiceConfig> web = {Web()};
  snap = ServiceSnapshot::Build(web, 65536, [](size_t, size_t) { return true; });
  ASSERT_FALSE(snap.ok());
  EXPECT_NE(snap.status().message().find("service web: Maglev table size 65536 is not a prime"), std::string::npos);
}

TEST(ServiceSnapshot, EmptyFindsNothing) {
  const auto snap = ServiceSnapshot::Empty();
  EXPECT_TRUE(snap->empty());
  EXPECT_FALSE(snap->IsVip(kWebVip));
  EXPECT_EQ(snap->Find(kWebVip, IPPROTO_TCP, 80), nullptr);
}

struct RcuFree {
  void operator()(rte_rcu_qsbr* v) const { std::free(v); }
};

// rte_rcu_qsbr needs no EAL: cache-aligned memory and rte_rcu_qsbr_init.
std::unique_ptr<rte_rcu_qsbr, RcuFree> MakeRcu(uint32_t threads) {
  const size_t size = rte_rcu_qsbr_get_memsize(threads);
  auto* v = static_cast<rte_rcu_qsbr*>(std::aligned_alloc(RTE_CACHE_LINE_SIZE, size));
  EXPECT_EQ(rte_rcu_qsbr_init(v, threads), 0);
  return std::unique_ptr<rte_rcu_qsbr, RcuFree>(v);
}

TEST(ServiceTable, StartsEmptyAndSwapsSnapshots) {
  ServiceTable table(nullptr);
  ASSERT_NE(table.Get(), nullptr);
  EXPECT_TRUE(table.Get()->empty());
  table.Publish(BuildAllUp({Web()}));
  EXPECT_TRUE(table.Get()->IsVip(kWebVip));
  table.Publish(BuildAllUp({Dns()}));
  EXPECT_FALSE(table.Get()->IsVip(kWebVip));
  EXPECT_TRUE(table.Get()->IsVip(kDnsVip));
  EXPECT_EQ(table.pending(), 0u);
}

TEST(ServiceTable, OldSnapshotLivesUntilEveryReaderIsQuiescent) {
  auto rcu = MakeRcu(1);
  ASSERT_EQ(rte_rcu_qsbr_thread_register(rcu.get(), 0), 0);
  rte_rcu_qsbr_thread_online(rcu.get(), 0);
  ServiceTable table(rcu.get());
  table.Publish(BuildAllUp({Web()}));
  // The reader took the snapshot with the web service and still uses it.
  const ServiceSnapshot* held = table.Get();
  table.Publish(BuildAllUp({Dns()}));
  EXPECT_EQ(table.pending(), 2u);  // the initial empty one and `held`
  table.Reclaim();
  EXPECT_EQ(table.pending(), 2u);
  EXPECT_TRUE(held->IsVip(kWebVip));  // still readable (ASan would catch a free)
  rte_rcu_qsbr_quiescent(rcu.get(), 0);
  table.Reclaim();
  EXPECT_EQ(table.pending(), 0u);
  EXPECT_TRUE(table.Get()->IsVip(kDnsVip));
  rte_rcu_qsbr_thread_offline(rcu.get(), 0);
  rte_rcu_qsbr_thread_unregister(rcu.get(), 0);
}

}  // namespace
}  // namespace isthmus
