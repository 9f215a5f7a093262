// The NAT stage of the anycast services (dataplane/worker/nat_stage.h)
// through the real forwarding path, SYN floods against its new-flow
// admission included: ForwardBurst over net_ring ports with
// real mbufs, a FIB with a route to the backends' subnet and one to the
// clients', both gateways resolved, a service snapshot published through a
// ServiceTable, and the shared flow table and SNAT allocator the workers
// use. Every translated frame is read back from the egress port's ring and
// its checksums recomputed from scratch.
//
//   client 198.18.1.2 ── west ──[ isthmus ]── east ── backends 198.51.100.0/24
//        via router 198.18.0.1                         via router 198.18.2.2

#include <gtest/gtest.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "control/config/config.h"
#include "dataplane/nat/flow_table.h"
#include "dataplane/nat/snat_port_allocator.h"
#include "dataplane/neighbor/neighbor_table.h"
#include "dataplane/port/port.h"
#include "dataplane/service/service_table.h"
#include "dataplane/worker/forward.h"
#include "tests/unit/common/eal_environment.h"
#include "tests/unit/common/packet_builder.h"

namespace isthmus {
namespace {

using testing::Bytes;
using testing::InternetChecksum;
using testing::Ip;
using testing::PacketBuilder;

// ---- Addresses (documentation ranges only) ----

const uint32_t kClient = Ip("198.18.1.2");
const uint32_t kWebVip = Ip("203.0.113.10");    // two backends, DNAT only, reset
const uint32_t kSnatVip = Ip("203.0.113.11");   // one backend, SNAT
const uint32_t kAgileVip = Ip("203.0.113.12");  // two backends, reselect
const uint32_t kDnsVip = Ip("203.0.113.13");    // UDP, two backends, no port translation, reset
const uint32_t kSnatAddress = Ip("192.0.2.1");
const uint32_t kOtherHost = Ip("198.51.100.50");  // on the backends' subnet, no backend
const uint32_t kEastRouter = Ip("198.18.2.2");
constexpr uint16_t kClientPort = 40000;
constexpr uint16_t kVipPort = 80;
constexpr uint16_t kBackendPort = 8080;
constexpr uint16_t kDnsPort = 53;
constexpr uint8_t kTcp = 6;
constexpr uint8_t kUdp = 17;
constexpr uint8_t kIcmp = 1;
constexpr uint8_t kSyn = 0x02, kRst = 0x04, kAck = 0x10, kFin = 0x01;
constexpr uint8_t kIcmpUnreachable = 3;                             // type
constexpr uint8_t kIcmpPortUnreachable = 3, kIcmpFragNeeded = 4;   // its codes
constexpr uint16_t kNextHopMtu = 1400;
constexpr uint32_t kNow = 1000;
constexpr uint32_t kMaglevSize = 251;  // a small prime: quick snapshots

constexpr size_t kWebService = 0, kSnatService = 1, kAgileService = 2, kDnsService = 3;
const std::vector<uint32_t> kWebBackends = {Ip("198.51.100.20"), Ip("198.51.100.21")};
const std::vector<uint32_t> kSnatBackends = {Ip("198.51.100.30")};
const std::vector<uint32_t> kAgileBackends = {Ip("198.51.100.40"), Ip("198.51.100.41")};
const std::vector<uint32_t> kDnsBackends = {Ip("198.51.100.60"), Ip("198.51.100.61")};

const MacAddr kWestRouterMac = {0x02, 0xaa, 0, 0, 0, 1};
const MacAddr kEastRouterMac = {0x02, 0xbb, 0, 0, 0, 2};
const MacAddr kPortMacs[] = {{0x02, 0, 0, 0, 0, 0x10}, {0x02, 0, 0, 0, 0, 0x11}, {0x02, 0, 0, 0, 0, 0x12}};
const MacAddr& kWestMac = kPortMacs[0];
const MacAddr& kEastMac = kPortMacs[1];

// A client's TCP segment to `dst`:80, as the west router hands it to us.
PacketBuilder ClientFrame(uint32_t dst, uint8_t flags, uint16_t cport = kClientPort) {
  return PacketBuilder().DstMac(kWestMac).SrcMac(kWestRouterMac).Src(kClient).Dst(dst).Tcp(cport, kVipPort, flags);
}
// A frame the east router hands us (from a backend, or the router itself).
PacketBuilder EastFrame() { return PacketBuilder().DstMac(kEastMac).SrcMac(kEastRouterMac); }

std::atomic<int> g_unique{0};
std::string Unique(const char* base) { return std::string(base) + std::to_string(g_unique++); }

ServiceConfig MakeService(const char* name, uint32_t vip, const std::vector<uint32_t>& backends,
                          BackendDownPolicy policy, std::vector<uint32_t> snat_pool = {}) {
  ServiceConfig s;
  s.name = name;
  s.vip = {vip};
  s.protocol = ServiceProtocol::kTcp;
  s.ports = {kVipPort};
  for (uint32_t b : backends) s.backends.push_back({{b}, kBackendPort, 1});
  for (uint32_t a : snat_pool) s.snat_pool.push_back({a});
  s.on_backend_down = policy;
  return s;
}

ServiceConfig MakeDnsService() {
  ServiceConfig s = MakeService("dns", kDnsVip, kDnsBackends, BackendDownPolicy::kReset);
  s.protocol = ServiceProtocol::kUdp;
  s.ports = {kDnsPort};
  for (ServiceBackendConfig& b : s.backends) b.port = 0;   // the VIP's port
  return s;
}

// ---- Reading frames back ----

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Be32(const uint8_t* p) { return uint32_t{Be16(p)} << 16 | Be16(p + 2); }
void Put16(uint8_t* p, uint16_t v) { PacketBuilder::Put16(p, v); }

// One IPv4 packet inside a frame (or quoted inside an ICMP error).
struct Ipv4View {
  const uint8_t* ip;
  uint32_t ihl() const { return (ip[0] & 0x0fu) * 4u; }
  uint32_t total_length() const { return Be16(ip + 2); }
  uint8_t ttl() const { return ip[8]; }
  uint8_t proto() const { return ip[9]; }
  uint32_t src() const { return Be32(ip + 12); }
  uint32_t dst() const { return Be32(ip + 16); }
  const uint8_t* l4() const { return ip + ihl(); }
  uint16_t sport() const { return Be16(l4()); }
  uint16_t dport() const { return Be16(l4() + 2); }
  uint32_t seq() const { return Be32(l4() + 4); }
  uint32_t ack() const { return Be32(l4() + 8); }
  uint8_t tcp_flags() const { return l4()[13]; }
};

Ipv4View IpOf(const Bytes& frame) { return Ipv4View{frame.data() + 14}; }

// The checksum at `at` as a sender computes it from scratch over `len`
// bytes from `start`, with the field zeroed, and `initial` (a pseudo-header).
uint16_t FreshChecksum(const uint8_t* start, size_t len, size_t at, uint32_t initial = 0) {
  Bytes copy(start, start + len);
  copy[at] = copy[at + 1] = 0;
  return InternetChecksum(copy.data(), copy.size(), initial);
}

uint32_t PseudoHeaderSum(const Ipv4View& v, uint32_t l4_len) {
  return (v.src() >> 16) + (v.src() & 0xffff) + (v.dst() >> 16) + (v.dst() & 0xffff) + v.proto() + l4_len;
}

// Every checksum of a frame carrying TCP, or an ICMP error (whose whole
// message the ICMP checksum covers).
void ExpectChecksumsValid(const Bytes& frame) {
  const Ipv4View v = IpOf(frame);
  ASSERT_GE(frame.size(), 14 + v.total_length());
  EXPECT_EQ(Be16(v.ip + 10), FreshChecksum(v.ip, v.ihl(), 10)) << "IPv4 header checksum";
  const uint32_t l4_len = v.total_length() - v.ihl();
  if (v.proto() == kTcp) {
    EXPECT_EQ(Be16(v.l4() + 16), FreshChecksum(v.l4(), l4_len, 16, PseudoHeaderSum(v, l4_len))) << "TCP checksum";
  } else if (v.proto() == kUdp) {
    // RFC 768: a computed 0 is sent as all ones.
    const uint16_t fresh = FreshChecksum(v.l4(), l4_len, 6, PseudoHeaderSum(v, l4_len));
    EXPECT_EQ(Be16(v.l4() + 6), fresh == 0 ? 0xffff : fresh) << "UDP checksum";
  } else if (v.proto() == kIcmp) {
    EXPECT_EQ(Be16(v.l4() + 2), FreshChecksum(v.l4(), l4_len, 2)) << "ICMP checksum";
  }
}

// Sets a built TCP segment's sequence and acknowledgment numbers (the
// builder leaves them 0) and recomputes its checksum.
Bytes WithSeqAck(Bytes frame, uint32_t seq, uint32_t ack) {
  uint8_t* ip = frame.data() + 14;
  const Ipv4View v{ip};
  uint8_t* tcp = ip + v.ihl();
  PacketBuilder::Put32(tcp + 4, seq);
  PacketBuilder::Put32(tcp + 8, ack);
  const uint32_t l4_len = v.total_length() - v.ihl();
  Put16(tcp + 16, FreshChecksum(tcp, l4_len, 16, PseudoHeaderSum(v, l4_len)));
  return frame;
}

// ---- The fixture: ports, FIB, services, flows, two workers ----

// One worker's view: its own counters, TX buffers and context; the tables
// are shared, as in isthmusd.
struct Worker {
  LcoreCounters counters;
  std::unique_ptr<TxBuffers> tx;
  std::unique_ptr<PuntLimiter> limiter;
  ForwardContext ctx;

  uint64_t Drops(DropReason r) const { return counters.drops[static_cast<size_t>(r)].Get(); }
  uint64_t AllDrops() const {
    uint64_t n = 0;
    for (const OwnedCounter& c : counters.drops) n += c.Get();
    return n;
  }
};

class NatStageTest : public ::testing::Test {
 public:
  static constexpr int kWest = 0, kEast = 1, kException = 2, kPorts = 3;

 protected:
  static constexpr uint32_t kWorkers = 2;
  static constexpr uint32_t kMbufs = 2047;      // a power of two minus one: the best mempool size
  static constexpr uint32_t kRingSize = 1024;   // per port: more than any test sends
  static constexpr uint32_t kFlowCapacity = 1024;

  void SetUp() override {
    pool_ = rte_pktmbuf_pool_create(Unique("nat-pool").c_str(), kMbufs, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    ASSERT_NE(pool_, nullptr);
    info_.resize(RTE_MAX_ETHPORTS);
    for (int i = 0; i < kPorts; ++i) {
      rings_[i] = rte_ring_create(Unique("nat-r").c_str(), kRingSize, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
      ASSERT_NE(rings_[i], nullptr);
      const int id = rte_eth_from_ring(rings_[i]);
      ASSERT_GE(id, 0);
      port_ids_[i] = static_cast<uint16_t>(id);
      ASSERT_TRUE(StartPort(port_ids_[i], QueueSetup{}, pool_).ok());
    }
    for (int i = 0; i < kPorts; ++i) {
      PortInfo& p = info_[port_ids_[i]];
      p.mac = kPortMacs[i];
      p.exception_port = port_ids_[kException];
      p.exception_mac = kPortMacs[kException];
    }
    info_[port_ids_[kException]].is_exception = true;
    SetUpRoutes();
    if (HasFatalFailure()) return;
    SetUpNat();
    if (HasFatalFailure()) return;
    for (uint32_t w = 0; w < kWorkers; ++w) SetUpWorker(w);
  }

  void SetUpRoutes() {
    FibParams params;
    params.name = Unique("nat-fib");
    params.max_routes = 1024;
    params.tbl8_groups = 64;
    params.max_groups = 64;
    params.max_nexthops = 64;
    auto fib = Fib::Create(params, nullptr);
    ASSERT_TRUE(fib.ok()) << fib.status();
    fib_ = std::move(*fib);
    auto neighbors = NeighborTable::Create(64, 16, 0);
    ASSERT_TRUE(neighbors.ok()) << neighbors.status();
    neighbors_ = std::move(*neighbors);
    auto route = [&](const char* prefix, uint8_t len, const char* gateway, int port, const MacAddr& mac) {
      auto slot = neighbors_->Intern(port_ids_[port], Ip(gateway));
      ASSERT_TRUE(slot.ok()) << slot.status();
      neighbors_->Set(*slot, mac);
      const Nexthop nh{Ip(gateway), *slot, port_ids_[port], NexthopKind::kForward};
      ASSERT_TRUE(fib_->Set(Ip(prefix), len, {nh}).ok());
    };
    route("198.18.1.0", 24, "198.18.0.1", kWest, kWestRouterMac);        // clients
    route("198.51.100.0", 24, "198.18.2.2", kEast, kEastRouterMac);      // backends
  }

  void SetUpNat() {
    services_config_ = {MakeService("web", kWebVip, kWebBackends, BackendDownPolicy::kReset),
                        MakeService("snat", kSnatVip, kSnatBackends, BackendDownPolicy::kReset, {kSnatAddress}),
                        MakeService("agile", kAgileVip, kAgileBackends, BackendDownPolicy::kReselect),
                        MakeDnsService()};
    for (const ServiceConfig& s : services_config_) up_.emplace_back(s.backends.size(), true);
    draining_.assign(services_config_.size(), false);
    services_ = std::make_unique<ServiceTable>(nullptr);
    Publish();
    auto snat = SnatPortAllocator::Create({.addresses = {kSnatAddress}, .workers = kWorkers});
    ASSERT_TRUE(snat.ok()) << snat.status();
    snat_ = std::move(*snat);
    auto flows = FlowTable::Create({.capacity = kFlowCapacity, .workers = kWorkers}, nullptr, snat_.get());
    ASSERT_TRUE(flows.ok()) << flows.status();
    flows_ = std::move(*flows);
  }

  void SetUpWorker(uint32_t id) {
    auto w = std::make_unique<Worker>();
    std::vector<TxQueue> tx(RTE_MAX_ETHPORTS);
    for (uint16_t p = 0; p < RTE_MAX_ETHPORTS; ++p) tx[p] = TxQueue{p, 0, nullptr};
    w->tx = std::make_unique<TxBuffers>(tx, &w->counters);
    w->limiter = std::make_unique<PuntLimiter>(0);
    ForwardContext& c = w->ctx;
    c.fib = fib_.get();
    c.neighbors = neighbors_.get();
    c.ports = info_.data();
    c.port_count = RTE_MAX_ETHPORTS;
    c.counters = &w->counters;
    c.tx = w->tx.get();
    c.punt_limiter = w->limiter.get();
    c.worker_id = id;
    c.services = services_.get();
    c.flows = flows_.get();
    c.snat = snat_.get();
    c.now_s = kNow;
    workers_.push_back(std::move(w));
  }

  void TearDown() override {
    for (int i = 0; i < kPorts; ++i) {
      rte_eth_dev_stop(port_ids_[i]);
      rte_eth_dev_close(port_ids_[i]);
      rte_ring_free(rings_[i]);
    }
    rte_mempool_free(pool_);
  }

  // Publishes the configured services with the health in up_ and the
  // drains in draining_.
  void Publish() {
    auto snapshot = ServiceSnapshot::Build(
        services_config_, kMaglevSize, [this](size_t s, size_t b) { return static_cast<bool>(up_[s][b]); },
        [this](size_t s) { return static_cast<bool>(draining_[s]); });
    ASSERT_TRUE(snapshot.ok()) << snapshot.status();
    services_->Publish(*std::move(snapshot));
  }

  // One burst received on `port` by worker `w`, then its TX flushed.
  void Receive(int port, std::vector<Bytes> frames, uint32_t w = 0) {
    std::vector<rte_mbuf*> mbufs;
    for (const Bytes& f : frames) {
      rte_mbuf* m = rte_pktmbuf_alloc(pool_);
      ASSERT_NE(m, nullptr);
      std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(f.size())), f.data(), f.size());
      mbufs.push_back(m);
    }
    ForwardBurst(workers_[w]->ctx, port_ids_[port], mbufs.data(), static_cast<uint16_t>(mbufs.size()));
    workers_[w]->tx->FlushAll();
  }
  // Frames transmitted on `port` since the last call.
  std::vector<Bytes> Sent(int port) {
    std::vector<Bytes> out;
    void* obj;
    while (rte_ring_dequeue(rings_[port], &obj) == 0) {
      auto* m = static_cast<rte_mbuf*>(obj);
      const uint8_t* d = rte_pktmbuf_mtod(m, const uint8_t*);
      out.emplace_back(d, d + rte_pktmbuf_data_len(m));
      rte_pktmbuf_free(m);
    }
    return out;
  }
  // The single frame transmitted on `port` (and nothing anywhere else).
  Bytes OnlyFrameOn(int port) {
    std::vector<Bytes> frames[kPorts];
    for (int p = 0; p < kPorts; ++p) frames[p] = Sent(p);
    for (int p = 0; p < kPorts; ++p) {
      EXPECT_EQ(frames[p].size(), p == port ? 1u : 0u) << "frames on port " << p;
    }
    return frames[port].empty() ? Bytes{} : frames[port][0];
  }
  void ExpectNothingSent() {
    for (int p = 0; p < kPorts; ++p) EXPECT_TRUE(Sent(p).empty()) << "port " << p;
  }

  // A client SYN to vip:80 through worker `w`; returns the frame that left
  // towards the backends.
  Bytes Connect(uint32_t vip, uint32_t w = 0, uint16_t cport = kClientPort) {
    Receive(kWest, {ClientFrame(vip, kSyn, cport).Build()}, w);
    return OnlyFrameOn(kEast);
  }
  const Flow* FlowOf(uint32_t vip, uint16_t cport = kClientPort) const {
    const FlowRef r = flows_->Lookup(MakeFlowKey(kClient, vip, cport, kVipPort, kTcp));
    return r == kNoFlow ? nullptr : &flows_->flow(r);
  }

  rte_mempool* pool_ = nullptr;
  rte_ring* rings_[kPorts] = {};
  uint16_t port_ids_[kPorts] = {};
  std::vector<PortInfo> info_;
  std::unique_ptr<Fib> fib_;
  std::unique_ptr<NeighborTable> neighbors_;
  std::vector<ServiceConfig> services_config_;
  std::vector<std::vector<char>> up_;   // [service][backend]
  std::vector<char> draining_;          // [service]
  std::unique_ptr<ServiceTable> services_;
  std::unique_ptr<SnatPortAllocator> snat_;
  std::unique_ptr<FlowTable> flows_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

void ExpectTuple(const Ipv4View& v, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport) {
  EXPECT_EQ(v.src(), src) << "source";
  EXPECT_EQ(v.sport(), sport) << "source port";
  EXPECT_EQ(v.dst(), dst) << "destination";
  EXPECT_EQ(v.dport(), dport) << "destination port";
}

void ExpectMacs(const Bytes& f, const MacAddr& dst, const MacAddr& src) {
  ASSERT_GE(f.size(), 12u);
  EXPECT_TRUE(std::equal(dst.begin(), dst.end(), f.begin())) << "destination MAC";
  EXPECT_TRUE(std::equal(src.begin(), src.end(), f.begin() + 6)) << "source MAC";
}

// ---- 1. DNAT both ways ----

TEST_F(NatStageTest, SynIsDnatedToABackendAndTheSynAckComesBackAsTheVip) {
  const Bytes syn = ClientFrame(kWebVip, kSyn).Build();
  Receive(kWest, {syn});
  const Bytes out = OnlyFrameOn(kEast);
  ASSERT_FALSE(out.empty());
  ExpectMacs(out, kEastRouterMac, kEastMac);
  const Ipv4View o = IpOf(out);
  EXPECT_NE(std::find(kWebBackends.begin(), kWebBackends.end(), o.dst()), kWebBackends.end()) << std::hex << o.dst();
  ExpectTuple(o, kClient, kClientPort, o.dst(), kBackendPort);
  EXPECT_EQ(o.ttl(), IpOf(syn).ttl() - 1);
  EXPECT_EQ(o.tcp_flags(), kSyn);
  ExpectChecksumsValid(out);

  // Both directions are in the shared table, pinned to the backend used.
  const FlowRef original = flows_->Lookup(MakeFlowKey(kClient, kWebVip, kClientPort, kVipPort, kTcp));
  const FlowRef reply = flows_->Lookup(MakeFlowKey(o.dst(), kClient, kBackendPort, kClientPort, kTcp));
  ASSERT_NE(original, kNoFlow);
  ASSERT_NE(reply, kNoFlow);
  EXPECT_EQ(RefDirection(original), FlowDirection::kOriginal);
  EXPECT_EQ(RefDirection(reply), FlowDirection::kReply);
  EXPECT_EQ(FlowIndex(original), FlowIndex(reply));
  const Flow& f = flows_->flow(original);
  EXPECT_EQ(f.service_id, kWebService);
  EXPECT_EQ(kWebBackends[f.backend_id], o.dst());
  EXPECT_EQ(f.tcp(), TcpState::kSynSent);

  const Bytes syn_ack = EastFrame().Src(o.dst()).Dst(kClient).Tcp(kBackendPort, kClientPort, kSyn | kAck).Build();
  Receive(kEast, {syn_ack});
  const Bytes back = OnlyFrameOn(kWest);
  ASSERT_FALSE(back.empty());
  ExpectMacs(back, kWestRouterMac, kWestMac);
  const Ipv4View b = IpOf(back);
  ExpectTuple(b, kWebVip, kVipPort, kClient, kClientPort);
  EXPECT_EQ(b.ttl(), IpOf(syn_ack).ttl() - 1);
  ExpectChecksumsValid(back);
  EXPECT_EQ(flows_->flow(original).tcp(), TcpState::kSynReceived);
  EXPECT_EQ(workers_[0]->AllDrops(), 0u);
}

// Later packets of the flow, with payload, keep their backend and their
// payload; the translated checksum still covers it.
TEST_F(NatStageTest, EstablishedFlowKeepsItsBackendWithPayload) {
  const uint32_t backend = IpOf(Connect(kWebVip)).dst();
  for (int i = 0; i < 3; ++i) {
    const Bytes data = WithSeqAck(ClientFrame(kWebVip, kAck | 0x08).Payload(100 + i).Build(), 1 + 100 * i, 7);
    Receive(kWest, {data});
    const Bytes out = OnlyFrameOn(kEast);
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(IpOf(out).dst(), backend);
    EXPECT_EQ(IpOf(out).seq(), 1u + 100 * i);
    ExpectChecksumsValid(out);
    EXPECT_TRUE(std::equal(out.begin() + 14 + 40, out.end(), data.begin() + 14 + 40)) << "payload";
  }
}

// ---- 2. SNAT ----

TEST_F(NatStageTest, SnatRewritesTheSourceToAPoolPortAndTheReplyBack) {
  const Bytes out = Connect(kSnatVip);
  ASSERT_FALSE(out.empty());
  const Ipv4View o = IpOf(out);
  EXPECT_EQ(o.src(), kSnatAddress);
  EXPECT_EQ(o.dst(), kSnatBackends[0]);
  EXPECT_EQ(o.dport(), kBackendPort);
  const uint16_t snat_port = o.sport();
  EXPECT_GE(snat_port, 1024);
  EXPECT_TRUE(snat_->IsAllocated(kTcp, kSnatAddress, snat_port));
  EXPECT_EQ(snat_->InUse(), 1u);
  ExpectChecksumsValid(out);
  const FlowRef reply = flows_->Lookup(MakeFlowKey(kSnatBackends[0], kSnatAddress, kBackendPort, snat_port, kTcp));
  ASSERT_NE(reply, kNoFlow);
  EXPECT_EQ(flows_->flow(reply).flags & kFlowSnat, kFlowSnat);
  EXPECT_EQ(flows_->flow(reply).service_id, kSnatService);

  const Bytes syn_ack =
      EastFrame().Src(kSnatBackends[0]).Dst(kSnatAddress).Tcp(kBackendPort, snat_port, kSyn | kAck).Build();
  Receive(kEast, {syn_ack});
  const Bytes back = OnlyFrameOn(kWest);
  ASSERT_FALSE(back.empty());
  const Ipv4View b = IpOf(back);
  ExpectTuple(b, kSnatVip, kVipPort, kClient, kClientPort);
  ExpectChecksumsValid(back);
}

// Two clients' flows never share a SNAT port.
TEST_F(NatStageTest, SnatPortsAreDistinctPerFlow) {
  std::vector<uint16_t> ports;
  for (uint16_t cport = 41000; cport < 41016; ++cport) {
    const Bytes out = Connect(kSnatVip, cport % kWorkers, cport);
    ASSERT_FALSE(out.empty());
    ports.push_back(IpOf(out).sport());
  }
  std::sort(ports.begin(), ports.end());
  EXPECT_EQ(std::adjacent_find(ports.begin(), ports.end()), ports.end());
  EXPECT_EQ(snat_->InUse(), ports.size());
}

// ---- 3. Two workers, one flow table ----

TEST_F(NatStageTest, ReplyOnTheOtherWorkerFindsTheFlow) {
  for (const uint32_t vip : {kWebVip, kSnatVip}) {
    SCOPED_TRACE(vip == kWebVip ? "dnat" : "dnat+snat");
    const Bytes out = Connect(vip, /*w=*/0);
    ASSERT_FALSE(out.empty());
    const Ipv4View o = IpOf(out);
    const Bytes reply = EastFrame().Src(o.dst()).Dst(o.src()).Tcp(o.dport(), o.sport(), kSyn | kAck).Build();
    const uint64_t tx_before = workers_[1]->counters.tx_packets.Get();
    Receive(kEast, {reply}, /*w=*/1);
    const Bytes back = OnlyFrameOn(kWest);
    ASSERT_FALSE(back.empty());
    ExpectTuple(IpOf(back), vip, kVipPort, kClient, kClientPort);
    ExpectChecksumsValid(back);
    EXPECT_EQ(workers_[1]->counters.tx_packets.Get(), tx_before + 1);
  }
  // The same SYN arriving on worker 1 as well (a retransmission after an
  // RSS change) finds worker 0's flow: no second flow, no second port.
  const Bytes again = Connect(kSnatVip, /*w=*/1);
  ASSERT_FALSE(again.empty());
  EXPECT_EQ(snat_->InUse(), 1u);
  EXPECT_EQ(flows_->Counters().active, 2u);
}

// ---- 4. The backend dies: reset, or reselect ----

struct ResetCase {
  const char* description;
  uint8_t flags;
  uint32_t seq, ack;
  size_t payload;
  uint8_t rst_flags;   // of the RST the client gets
  uint32_t rst_seq, rst_ack;
};

// RFC 9293 3.10.7.1: a segment with ACK gets <SEQ=SEG.ACK><CTL=RST>; one
// without gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> (SYN and FIN
// count in SEG.LEN).
const ResetCase kResetCases[] = {
    {"ack", kAck, 1001, 5001, 0, kRst, 5001, 0},
    {"data", kAck | 0x08, 1001, 5001, 300, kRst, 5001, 0},
    {"syn_port_reuse", kSyn, 9000, 0, 0, kRst | kAck, 0, 9001},
    {"fin_without_ack", kFin, 1001, 0, 10, kRst | kAck, 0, 1012},
};

void PrintTo(const ResetCase& c, std::ostream* os) { *os << c.description; }

class BackendResetTest : public NatStageTest, public ::testing::WithParamInterface<ResetCase> {};

TEST_P(BackendResetTest, ClientGetsRstFromTheVipOnItsIngressPort) {
  const ResetCase& c = GetParam();
  const Bytes out = Connect(kWebVip);
  ASSERT_FALSE(out.empty());
  const Flow* f = FlowOf(kWebVip);
  ASSERT_NE(f, nullptr);
  up_[kWebService][f->backend_id] = false;
  Publish();

  const Bytes segment = WithSeqAck(ClientFrame(kWebVip, c.flags).Payload(c.payload).PadTo(60).Build(), c.seq, c.ack);
  Receive(kWest, {segment});
  const Bytes rst = OnlyFrameOn(kWest);
  ASSERT_FALSE(rst.empty());
  ExpectMacs(rst, kWestRouterMac, kWestMac);
  EXPECT_EQ(rst.size(), 14u + 20 + 20);
  const Ipv4View r = IpOf(rst);
  EXPECT_EQ(r.total_length(), 40u);
  ExpectTuple(r, kWebVip, kVipPort, kClient, kClientPort);
  EXPECT_EQ(r.tcp_flags(), c.rst_flags);
  EXPECT_EQ(r.seq(), c.rst_seq);
  EXPECT_EQ(r.ack(), c.rst_ack);
  EXPECT_GT(r.ttl(), 1);
  ExpectChecksumsValid(rst);
  EXPECT_EQ(workers_[0]->Drops(DropReason::kNatBackendDown), 1u);
  EXPECT_EQ(f->tcp(), TcpState::kReset);
}

INSTANTIATE_TEST_SUITE_P(Segments, BackendResetTest, ::testing::ValuesIn(kResetCases),
                         [](const auto& info) { return std::string(info.param.description); });

// A RST from the client is not answered (RFC 9293: never a RST for a RST).
TEST_F(NatStageTest, ClientRstToADeadBackendIsDroppedUnanswered) {
  ASSERT_FALSE(Connect(kWebVip).empty());
  up_[kWebService][FlowOf(kWebVip)->backend_id] = false;
  Publish();
  Receive(kWest, {WithSeqAck(ClientFrame(kWebVip, kRst).Build(), 1001, 0)});
  ExpectNothingSent();
  EXPECT_EQ(workers_[0]->Drops(DropReason::kNatBackendDown), 1u);
}

// The other backend's flows are untouched by one backend's death.
TEST_F(NatStageTest, FlowsOfHealthyBackendsContinueWhenAnotherDies) {
  uint16_t on[2] = {0, 0};   // a client port pinned to each backend
  for (uint16_t cport = 42000; cport < 42100 && (on[0] == 0 || on[1] == 0); ++cport) {
    ASSERT_FALSE(Connect(kWebVip, 0, cport).empty());
    on[FlowOf(kWebVip, cport)->backend_id] = cport;
  }
  ASSERT_NE(on[0], 0);
  ASSERT_NE(on[1], 0);
  up_[kWebService][0] = false;
  Publish();
  Receive(kWest, {WithSeqAck(ClientFrame(kWebVip, kAck, on[1]).Build(), 1, 1)});
  const Bytes out = OnlyFrameOn(kEast);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(IpOf(out).dst(), kWebBackends[1]);
  // A new flow avoids the dead backend.
  for (uint16_t cport = 43000; cport < 43020; ++cport) {
    const Bytes fresh = Connect(kWebVip, 0, cport);
    ASSERT_FALSE(fresh.empty());
    EXPECT_EQ(IpOf(fresh).dst(), kWebBackends[1]);
  }
  EXPECT_EQ(workers_[0]->Drops(DropReason::kNatBackendDown), 0u);
}

// reselect: the stage itself keeps sending to the pinned backend until the
// control thread removes the dead backend's flows; the next packet then
// starts a new flow on a healthy backend.
TEST_F(NatStageTest, ReselectPicksAHealthyBackendAfterRemoveBackendFlows) {
  const Bytes first = Connect(kAgileVip);
  ASSERT_FALSE(first.empty());
  const Flow* f = FlowOf(kAgileVip);
  ASSERT_NE(f, nullptr);
  const uint16_t dead = f->backend_id;
  up_[kAgileService][dead] = false;
  Publish();

  const Bytes ack = WithSeqAck(ClientFrame(kAgileVip, kAck).Build(), 1, 1);
  Receive(kWest, {ack});
  Bytes out = OnlyFrameOn(kEast);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(IpOf(out).dst(), kAgileBackends[dead]) << "before the control thread acts";
  EXPECT_EQ(workers_[0]->Drops(DropReason::kNatBackendDown), 0u);

  EXPECT_EQ(flows_->RemoveBackendFlows(kAgileService, dead), 1u);
  EXPECT_EQ(FlowOf(kAgileVip), nullptr);
  Receive(kWest, {ack});
  out = OnlyFrameOn(kEast);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(IpOf(out).dst(), kAgileBackends[1 - dead]);
  EXPECT_EQ(IpOf(out).dport(), kBackendPort);
  ExpectChecksumsValid(out);
  ASSERT_NE(FlowOf(kAgileVip), nullptr);
  EXPECT_EQ(FlowOf(kAgileVip)->backend_id, 1 - dead);
  // Picked up mid-stream: established at once.
  EXPECT_EQ(FlowOf(kAgileVip)->tcp(), TcpState::kEstablished);
}

// ---- 5. Named drops and ICMP errors ----

TEST_F(NatStageTest, VipPortWithoutServiceIsNatNoService) {
  Receive(kWest, {ClientFrame(kWebVip, kSyn).Tcp(kClientPort, 443, kSyn).Build(),
                  ClientFrame(kWebVip, kSyn).Udp(kClientPort, kVipPort).Build()});
  ExpectNothingSent();
  EXPECT_EQ(workers_[0]->Drops(DropReason::kNatNoService), 2u);
  EXPECT_EQ(flows_->Counters().active, 0u);
}

TEST_F(NatStageTest, NewFlowWithNoHealthyBackendIsNatNoBackend) {
  std::fill(up_[kWebService].begin(), up_[kWebService].end(), false);
  Publish();
  Receive(kWest, {ClientFrame(kWebVip, kSyn).Build()});
  ExpectNothingSent();
  EXPECT_EQ(workers_[0]->Drops(DropReason::kNatNoBackend), 1u);
  EXPECT_EQ(flows_->Counters().active, 0u);
}

// UDP, and a backend without a port: the VIP's port is kept.
TEST_F(NatStageTest, UdpIsDnatedWithoutPortTranslation) {
  const Bytes query = ClientFrame(kDnsVip, 0).Udp(kClientPort, kDnsPort).Payload(33).Build();
  Bytes no_checksum = ClientFrame(kDnsVip, 0).Udp(kClientPort + 1, kDnsPort).Payload(33).Build();
  no_checksum[14 + 20 + 6] = no_checksum[14 + 20 + 7] = 0;   // RFC 768: none
  Receive(kWest, {query, no_checksum});
  const std::vector<Bytes> out = Sent(kEast);
  ASSERT_EQ(out.size(), 2u);
  const Ipv4View o = IpOf(out[0]);
  EXPECT_NE(std::find(kDnsBackends.begin(), kDnsBackends.end(), o.dst()), kDnsBackends.end());
  ExpectTuple(o, kClient, kClientPort, o.dst(), kDnsPort);
  ExpectChecksumsValid(out[0]);
  EXPECT_TRUE(std::equal(out[0].begin() + 14 + 28, out[0].end(), query.begin() + 14 + 28)) << "payload";
  EXPECT_EQ(Be16(IpOf(out[1]).l4() + 6), 0) << "a datagram sent without a checksum stays without";
  EXPECT_EQ(Be16(IpOf(out[1]).ip + 10), FreshChecksum(IpOf(out[1]).ip, 20, 10));

  const Bytes answer = EastFrame().Src(o.dst()).Dst(kClient).Udp(kDnsPort, kClientPort).Payload(60).Build();
  Receive(kEast, {answer});
  const Bytes back = OnlyFrameOn(kWest);
  ASSERT_FALSE(back.empty());
  ExpectTuple(IpOf(back), kDnsVip, kDnsPort, kClient, kClientPort);
  ExpectChecksumsValid(back);
}

// An ICMP error as a router (or a host) on `port` sends it, from `src` to
// `dst`, quoting the first `quoted` bytes of `about`'s IPv4 datagram.
Bytes IcmpErrorFrame(int port, uint32_t src, uint32_t dst, uint8_t code, const Bytes& about, size_t quoted) {
  const bool west = port == NatStageTest::kWest;
  return PacketBuilder()
      .DstMac(west ? kWestMac : kEastMac)
      .SrcMac(west ? kWestRouterMac : kEastRouterMac)
      .Src(src)
      .Dst(dst)
      .Icmp(kIcmpUnreachable, code, code == kIcmpFragNeeded ? kNextHopMtu : 0)
      .Payload(Bytes(about.begin() + 14, about.begin() + 14 + static_cast<std::ptrdiff_t>(quoted)))
      .Build();
}

// A translated ICMP error: its outer addresses, every checksum (the ICMP
// one over the whole message), the quoted addresses and header checksum,
// and the quoted L4 header, which must be byte for byte the one the
// receiver sent (`sent`), checksum included.
void ExpectTranslatedError(const Bytes& out, uint32_t src, uint32_t dst, uint32_t inner_src, uint32_t inner_dst,
                           const Bytes& sent, size_t quoted_l4) {
  ASSERT_FALSE(out.empty());
  const Ipv4View o = IpOf(out);
  EXPECT_EQ(o.src(), src);
  EXPECT_EQ(o.dst(), dst);
  ExpectChecksumsValid(out);
  const Ipv4View inner{o.l4() + 8};
  EXPECT_EQ(inner.src(), inner_src);
  EXPECT_EQ(inner.dst(), inner_dst);
  EXPECT_EQ(Be16(inner.ip + 10), FreshChecksum(inner.ip, inner.ihl(), 10)) << "quoted IPv4 header checksum";
  EXPECT_TRUE(std::equal(inner.l4(), inner.l4() + quoted_l4, IpOf(sent).l4())) << "quoted L4 header";
  // Only the quoted TTL shows the hop through us.
  EXPECT_EQ(inner.ttl(), IpOf(sent).ttl() - 1);
}

// Path-MTU discovery across the NAT: a router between us and the backend
// says the DNATed packet (client -> backend:8080) was too big; the client
// must get it about the packet it sent (client -> VIP:80), or it never
// lowers its MSS. The router quotes the whole TCP header, checksum too.
TEST_F(NatStageTest, FragNeededAboutADnatedPacketReachesTheClientAboutTheVip) {
  const Bytes syn = WithSeqAck(ClientFrame(kWebVip, kSyn).Build(), 777, 0);
  Receive(kWest, {syn});
  const Bytes dnated = OnlyFrameOn(kEast);
  ASSERT_FALSE(dnated.empty());
  Receive(kEast, {IcmpErrorFrame(kEast, kEastRouter, kClient, kIcmpFragNeeded, dnated, 40)});
  const Bytes out = OnlyFrameOn(kWest);
  ExpectTranslatedError(out, kEastRouter, kClient, kClient, kWebVip, syn, 20);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(IpOf(out).l4()[1], kIcmpFragNeeded);
  EXPECT_EQ(Be16(IpOf(out).l4() + 6), kNextHopMtu);
}

// The same through SNAT: the router sends the error to the SNAT address,
// quoting RFC 792's minimum (8 bytes of TCP: ports and sequence number).
TEST_F(NatStageTest, FragNeededAboutASnatedPacketReachesTheClient) {
  const Bytes syn = WithSeqAck(ClientFrame(kSnatVip, kSyn).Build(), 555, 0);
  Receive(kWest, {syn});
  const Bytes snated = OnlyFrameOn(kEast);
  ASSERT_FALSE(snated.empty());
  Receive(kEast, {IcmpErrorFrame(kEast, kEastRouter, kSnatAddress, kIcmpFragNeeded, snated, 28)});
  ExpectTranslatedError(OnlyFrameOn(kWest), kEastRouter, kClient, kClient, kSnatVip, syn, 8);
}

// A client-side router tells the VIP that our reply (VIP:80 -> client)
// was too big: the backend must hear it about the segment it sent.
TEST_F(NatStageTest, IcmpErrorToTheVipAboutAReplyReachesTheBackend) {
  const Bytes dnated = Connect(kWebVip);
  ASSERT_FALSE(dnated.empty());
  const uint32_t backend = IpOf(dnated).dst();
  const Bytes syn_ack =
      WithSeqAck(EastFrame().Src(backend).Dst(kClient).Tcp(kBackendPort, kClientPort, kSyn | kAck).Build(), 5000, 1);
  Receive(kEast, {syn_ack});
  const Bytes reply = OnlyFrameOn(kWest);
  ASSERT_FALSE(reply.empty());
  const uint32_t west_router = Ip("198.18.0.1");
  Receive(kWest, {IcmpErrorFrame(kWest, west_router, kWebVip, kIcmpFragNeeded, reply, 40)});
  ExpectTranslatedError(OnlyFrameOn(kEast), west_router, backend, backend, kClient, syn_ack, 20);
}

// The backend itself says "port unreachable": the client hears it from
// the VIP, about the datagram it sent to the VIP.
TEST_F(NatStageTest, PortUnreachableFromTheBackendComesFromTheVip) {
  const Bytes query = ClientFrame(kDnsVip, 0).Udp(kClientPort, kDnsPort).Payload(20).Build();
  Receive(kWest, {query});
  const Bytes dnated = OnlyFrameOn(kEast);
  ASSERT_FALSE(dnated.empty());
  const uint32_t backend = IpOf(dnated).dst();
  Receive(kEast, {IcmpErrorFrame(kEast, backend, kClient, kIcmpPortUnreachable, dnated, 28)});
  ExpectTranslatedError(OnlyFrameOn(kWest), kDnsVip, kClient, kClient, kDnsVip, query, 8);
}

// A drained service keeps serving its flows and takes no new ones.
TEST_F(NatStageTest, DrainingServiceKeepsItsFlowsAndRefusesNewOnes) {
  const Bytes first = Connect(kWebVip);
  ASSERT_FALSE(first.empty());
  draining_[kWebService] = true;
  Publish();
  Receive(kWest, {ClientFrame(kWebVip, kSyn, kClientPort + 1).Build()});
  ExpectNothingSent();
  EXPECT_EQ(workers_[0]->Drops(DropReason::kNatNoBackend), 1u);
  Receive(kWest, {WithSeqAck(ClientFrame(kWebVip, kAck).Build(), 1, 1)});
  const Bytes out = OnlyFrameOn(kEast);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(IpOf(out).dst(), IpOf(first).dst());
}

// Two packets of one new flow in one burst both miss the lookup: the
// second start finds the first's flow, and its SNAT port goes back.
TEST_F(NatStageTest, TwoPacketsOfANewFlowInOneBurstMakeOneFlow) {
  const Bytes syn = ClientFrame(kSnatVip, kSyn).Build();
  Receive(kWest, {syn, syn});
  const std::vector<Bytes> out = Sent(kEast);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], out[1]);
  EXPECT_EQ(flows_->Counters().active, 1u);
  EXPECT_EQ(snat_->InUse(), 1u);
  EXPECT_EQ(snat_->bad_releases(), 0u);
  EXPECT_TRUE(snat_->IsAllocated(kTcp, kSnatAddress, IpOf(out[0]).sport()));
}

// ---- SYN flood: new-flow admission (FlowTable::AdmitEmbryonic) ----

// SYN i of a flood from spoofed sources: distinct addresses (for i below
// 2^15) in 198.18.128.0/17, ports spread by a multiplicative hash.
Bytes FloodSyn(uint32_t vip, uint32_t i) {
  const uint32_t src = Ip("198.18.128.0") + (i & 0x7fff);
  const auto sport = static_cast<uint16_t>(1024 + ((i * 2654435761u) >> 16) % 64000);
  return PacketBuilder().DstMac(kWestMac).SrcMac(kWestRouterMac).Src(src).Dst(vip).Tcp(sport, kVipPort, kSyn).Build();
}

class SynFloodTest : public NatStageTest {
 protected:
  static constexpr uint32_t kFloodBurst = 64;

  // A client connection to the web VIP from kClient:cport through its whole
  // handshake; returns the backend it is pinned to.
  uint32_t Establish(uint16_t cport) {
    const Bytes syn = Connect(kWebVip, 0, cport);
    EXPECT_FALSE(syn.empty());
    if (syn.empty()) return 0;
    const uint32_t backend = IpOf(syn).dst();
    Receive(kEast, {EastFrame().Src(backend).Dst(kClient).Tcp(kBackendPort, cport, kSyn | kAck).Build()});
    EXPECT_EQ(Sent(kWest).size(), 1u);
    Receive(kWest, {WithSeqAck(ClientFrame(kWebVip, kAck, cport).Build(), 1, 1)});
    EXPECT_EQ(Sent(kEast).size(), 1u);
    EXPECT_EQ(FlowOf(kWebVip, cport)->tcp(), TcpState::kEstablished);
    return backend;
  }
  std::vector<uint32_t> EstablishMany(uint16_t count) {
    std::vector<uint32_t> backends;
    for (uint16_t i = 0; i < count; ++i) backends.push_back(Establish(kClientPort + i));
    return backends;
  }
  // Data on connection i (from EstablishMany) reaches backends[i], untouched
  // by any admission limit.
  void ExpectEstablishedForward(const std::vector<uint32_t>& backends, uint32_t w = 0) {
    for (uint16_t i = 0; i < backends.size(); ++i) {
      const auto cport = static_cast<uint16_t>(kClientPort + i);
      Receive(kWest, {WithSeqAck(ClientFrame(kWebVip, kAck | 0x08, cport).Payload(64).Build(), 1, 1)}, w);
      const Bytes out = OnlyFrameOn(kEast);
      ASSERT_FALSE(out.empty()) << "connection " << i;
      ExpectTuple(IpOf(out), kClient, cport, backends[i], kBackendPort);
    }
  }
  // Flood SYNs first..first+count to `vip` in bursts through worker `w`;
  // returns how many left towards the backends (nothing may leave elsewhere).
  size_t Flood(uint32_t vip, uint32_t first, uint32_t count, uint32_t w = 0) {
    size_t forwarded = 0;
    for (uint32_t i = first; i < first + count; i += kFloodBurst) {
      std::vector<Bytes> burst;
      for (uint32_t j = i; j < std::min(first + count, i + kFloodBurst); ++j) burst.push_back(FloodSyn(vip, j));
      Receive(kWest, burst, w);
      forwarded += Sent(kEast).size();
      EXPECT_TRUE(Sent(kWest).empty());
      EXPECT_TRUE(Sent(kException).empty());
    }
    return forwarded;
  }
  uint64_t Drops(DropReason r) const { return workers_[0]->Drops(r) + workers_[1]->Drops(r); }
  void Age(uint32_t now) { flows_->Age(now, 1 << 20, NatTimeouts{}); }
};

// The flood takes the service's share of half-open flows and no more; every
// SYN beyond it is dropped by name, established flows keep their backends,
// another service still opens flows, and refused SYNs take no SNAT port.
TEST_F(SynFloodTest, FloodBeyondTheLimitsIsDroppedAndEstablishedFlowsKeepForwarding) {
  const std::vector<uint32_t> backends = EstablishMany(50);
  flows_->SetAdmissionLimits({.embryonic_max = 200, .service_embryonic_max = 100});

  EXPECT_EQ(Flood(kWebVip, 0, 1000), 100u);
  EXPECT_EQ(Drops(DropReason::kNatEmbryonicFull), 900u);
  EXPECT_EQ(flows_->embryonic(kWebService), 100u);
  EXPECT_EQ(flows_->Counters().active, 150u);
  ExpectEstablishedForward(backends);

  // Another service still has room in the table-wide limit.
  ASSERT_FALSE(Connect(kAgileVip, 1).empty());
  EXPECT_EQ(flows_->embryonic(kAgileService), 1u);
  // A flood at the SNAT service fills what is left of the table's limit;
  // only admitted SYNs take a SNAT port.
  EXPECT_EQ(Flood(kSnatVip, 5000, 300, 1), 99u);
  EXPECT_EQ(Drops(DropReason::kNatEmbryonicFull), 900u + 201u);
  EXPECT_EQ(snat_->InUse(), 99u);
  EXPECT_EQ(flows_->embryonic(), 200u);
  EXPECT_EQ(Drops(DropReason::kNatAdmissionLimited), 0u);
  EXPECT_EQ(Drops(DropReason::kNatTableFull), 0u);
  ExpectEstablishedForward(backends, 1);
  // A segment of an established connection that this table does not hold
  // (moved here by an ECMP change) is picked up, never refused.
  Receive(kWest, {WithSeqAck(ClientFrame(kWebVip, kAck, kClientPort + 900).Build(), 1, 1)});
  ASSERT_FALSE(OnlyFrameOn(kEast).empty());
  EXPECT_EQ(FlowOf(kWebVip, kClientPort + 900)->tcp(), TcpState::kEstablished);
}

// Half-open flows go after the embryonic timeout; established ones stay;
// the legitimate client refused during the flood gets in afterwards.
TEST_F(SynFloodTest, EmbryonicFlowsAgeOutAndALegitimateClientGetsIn) {
  const std::vector<uint32_t> backends = EstablishMany(10);
  flows_->SetAdmissionLimits({.embryonic_max = 100, .service_embryonic_max = 100});
  EXPECT_EQ(Flood(kWebVip, 0, 500), 100u);
  constexpr uint16_t kLegit = kClientPort + 500;
  Receive(kWest, {ClientFrame(kWebVip, kSyn, kLegit).Build()});
  ExpectNothingSent();
  EXPECT_EQ(Drops(DropReason::kNatEmbryonicFull), 401u);

  const NatTimeouts t;
  Age(kNow + t.tcp_embryonic - 1);
  EXPECT_EQ(flows_->Counters().active, 110u);
  Age(kNow + t.tcp_embryonic);
  EXPECT_EQ(flows_->Counters().active, 10u);
  EXPECT_EQ(flows_->embryonic(), 0u);
  EXPECT_EQ(flows_->embryonic(kWebService), 0u);

  for (auto& w : workers_) w->ctx.now_s = kNow + t.tcp_embryonic;
  const uint32_t legit_backend = Establish(kLegit);
  EXPECT_NE(legit_backend, 0u);
  EXPECT_EQ(flows_->embryonic(), 0u);
  ExpectEstablishedForward(backends);
  EXPECT_EQ(Drops(DropReason::kNatEmbryonicFull), 401u);
}

// Each worker admits syn_rate_per_worker SYN-opened flows per second of the
// flow clock; retransmitted SYNs of admitted flows and established flows
// pass whatever the budget.
TEST_F(SynFloodTest, SynRateLimitsEachWorkerPerSecond) {
  const std::vector<uint32_t> backends = EstablishMany(5);
  flows_->SetAdmissionLimits({.syn_rate_per_worker = 20});
  EXPECT_EQ(Flood(kWebVip, 0, 100, 0), 20u);
  EXPECT_EQ(workers_[0]->Drops(DropReason::kNatAdmissionLimited), 80u);
  EXPECT_EQ(Flood(kWebVip, 1000, 100, 1), 20u);
  EXPECT_EQ(workers_[1]->Drops(DropReason::kNatAdmissionLimited), 80u);

  Receive(kWest, {FloodSyn(kWebVip, 0)});   // admitted above: a retransmission
  ASSERT_FALSE(OnlyFrameOn(kEast).empty());
  ExpectEstablishedForward(backends);
  constexpr uint16_t kLegit = kClientPort + 500;
  Receive(kWest, {ClientFrame(kWebVip, kSyn, kLegit).Build()});
  ExpectNothingSent();
  EXPECT_EQ(workers_[0]->Drops(DropReason::kNatAdmissionLimited), 81u);

  workers_[0]->ctx.now_s = kNow + 1;   // a new second, a new budget
  EXPECT_NE(Establish(kLegit), 0u);
  EXPECT_EQ(Drops(DropReason::kNatEmbryonicFull), 0u);
  EXPECT_EQ(flows_->embryonic(), 40u);
}

// DISABLED: fails on nat_stage.h as of bfcb81b (reported to the lead).
// on_backend_down: reset for a UDP service. docs/configuration.md: "reset
// (the flow ends; the client has to open a new connection)". A UDP flow
// cannot be reset, and the stage touches the flow on every packet it drops
// as nat_backend_down, so a client that keeps sending on the same tuple
// (DNS from a fixed port, QUIC, syslog) keeps the flow alive and is
// dropped for as long as it keeps sending, though a healthy backend is
// there. Expected: the flow ends at the latest after its idle timeout
// (udp, 300 s) and the next datagram reaches a healthy backend.
TEST_F(NatStageTest, UdpFlowOfADeadBackendUnderResetEndsWhileTheClientKeepsSending) {
  const Bytes query = ClientFrame(kDnsVip, 0).Udp(kClientPort, kDnsPort).Payload(20).Build();
  Receive(kWest, {query});
  const Bytes first = OnlyFrameOn(kEast);
  ASSERT_FALSE(first.empty());
  const size_t dead = IpOf(first).dst() == kDnsBackends[0] ? 0 : 1;
  up_[kDnsService][dead] = false;
  Publish();
  constexpr uint32_t kInterval = 60, kSends = 15;   // every minute, for a quarter of an hour
  const NatTimeouts timeouts;
  uint32_t delivered = 0;
  Bytes last;
  for (uint32_t i = 1; i <= kSends; ++i) {
    const uint32_t now = kNow + i * kInterval;
    flows_->Age(now, flows_->capacity() * 2, timeouts);   // what the control thread does every tick
    workers_[0]->ctx.now_s = now;
    Receive(kWest, {query});
    for (const Bytes& f : Sent(kEast)) {
      ++delivered;
      last = f;
    }
  }
  ASSERT_GT(delivered, 0u) << "every datagram for " << kSends * kInterval << " s was dropped as nat_backend_down ("
                           << workers_[0]->Drops(DropReason::kNatBackendDown) << "); the udp timeout is "
                           << timeouts.udp << " s";
  EXPECT_EQ(IpOf(last).dst(), kDnsBackends[1 - dead]);
  EXPECT_LE(workers_[0]->Drops(DropReason::kNatBackendDown), (timeouts.udp + kInterval) / kInterval);
}

// DISABLED: fails as of bfcb81b (reported to the lead).
// Path MTU at our own egress: a DNATed packet too big for the backends'
// link is punted so the kernel answers with ICMP frag-needed (forward.h),
// but the NAT stage has already rewritten it: the kernel quotes
// client -> backend:8080, a tuple the client never sent, so the client's
// TCP finds no socket for the error and the path MTU is never learnt
// (a black hole for every DNATed flow crossing a smaller MTU here). The
// punted frame must be the packet as the client sent it (or the data plane
// must answer about the original tuple itself); this checks the former.
TEST_F(NatStageTest, TooBigForTheBackendLinkIsPuntedAsTheClientSentIt) {
  ASSERT_FALSE(Connect(kWebVip).empty());
  constexpr uint32_t kSmallMtu = 1400;
  info_[port_ids_[kEast]].mtu = kSmallMtu;
  const Bytes big = WithSeqAck(ClientFrame(kWebVip, kAck).Payload(kSmallMtu).Build(), 1, 1);
  Receive(kWest, {big});
  const Bytes punted = OnlyFrameOn(kException);
  ASSERT_FALSE(punted.empty());
  EXPECT_EQ(workers_[0]->counters.punts[static_cast<size_t>(PuntReason::kFragNeeded)].Get(), 1u);
  EXPECT_EQ(IpOf(punted).dst(), kWebVip) << "the kernel's frag-needed would quote a backend";
  EXPECT_EQ(IpOf(punted).dport(), kVipPort);
}

// ---- 6. Everything else passes untouched ----

// The IPv4 datagram of a built frame (what an ICMP error quotes).
Bytes Datagram(const PacketBuilder& b) {
  Bytes f = b.Build();
  return Bytes(f.begin() + 14, f.end());
}

struct PassCase {
  const char* description;
  int in_port;   // NatStageTest::kWest or kEast
  PacketBuilder packet;
  int out_port;
};

const PassCase kPassCases[] = {
    {"client_to_other_host", NatStageTest::kWest, ClientFrame(kOtherHost, kSyn), NatStageTest::kEast},
    {"client_udp_to_other_host", NatStageTest::kWest, ClientFrame(kOtherHost, 0).Udp(5000, 53), NatStageTest::kEast},
    {"client_ping_to_backend", NatStageTest::kWest, ClientFrame(kWebBackends[0], 0).IcmpEcho(7, 1),
     NatStageTest::kEast},
    // The live flow's translated tuple, but sent by the client itself
    // straight to the backend: not a key of the flow, so not translated.
    {"client_straight_to_backend", NatStageTest::kWest,
     ClientFrame(kWebBackends[0], kAck).Tcp(kClientPort, kBackendPort, kAck), NatStageTest::kEast},
    // From a backend, but not a reply of any flow: its own connections.
    {"backend_to_client_unknown_flow", NatStageTest::kEast,
     EastFrame().Src(kWebBackends[0]).Dst(kClient).Tcp(kBackendPort, 45000, kSyn | kAck), NatStageTest::kWest},
    {"backend_outbound", NatStageTest::kEast, EastFrame().Src(kWebBackends[1]).Dst(kClient).Tcp(50000, 443, kSyn),
     NatStageTest::kWest},
    // An ICMP error about a flow nobody translated.
    {"icmp_error_unknown_flow", NatStageTest::kEast,
     EastFrame()
         .Src(kEastRouter)
         .Dst(kClient)
         .Icmp(kIcmpUnreachable, kIcmpFragNeeded, kNextHopMtu)
         .Payload(Datagram(ClientFrame(kOtherHost, kSyn))),
     NatStageTest::kWest},
};

void PrintTo(const PassCase& c, std::ostream* os) { *os << c.description; }

class PassThroughTest : public NatStageTest, public ::testing::WithParamInterface<PassCase> {};

TEST_P(PassThroughTest, LeavesWithOnlyTtlAndHeaderChecksumChanged) {
  // A live flow in the table, so the stage has something it could confuse.
  ASSERT_FALSE(Connect(kWebVip).empty());
  const PassCase& c = GetParam();
  const Bytes in = c.packet.Build();
  Receive(c.in_port, {in});
  const Bytes out = OnlyFrameOn(c.out_port);
  ASSERT_EQ(out.size(), in.size());
  EXPECT_EQ(out[14 + 8], in[14 + 8] - 1) << "TTL";
  EXPECT_TRUE(std::equal(out.begin() + 14, out.begin() + 14 + 8, in.begin() + 14)) << "IPv4 header before TTL";
  EXPECT_TRUE(std::equal(out.begin() + 14 + 9, out.begin() + 14 + 10, in.begin() + 14 + 9)) << "protocol";
  EXPECT_TRUE(std::equal(out.begin() + 14 + 12, out.end(), in.begin() + 14 + 12)) << "addresses and L4 untouched";
  ExpectChecksumsValid(out);
  EXPECT_EQ(workers_[0]->AllDrops(), 0u);
  EXPECT_EQ(flows_->Counters().active, 1u);
}

INSTANTIATE_TEST_SUITE_P(Packets, PassThroughTest, ::testing::ValuesIn(kPassCases),
                         [](const auto& info) { return std::string(info.param.description); });

}  // namespace
}  // namespace isthmus

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new isthmus::testing::EalEnvironment);
  return RUN_ALL_TESTS();
}
