// Google Benchmark programs for the IPv4 forwarding stage (ForwardBurst, the
// exact code the workers run) over net_ring ports, beside an io-forward loop
// over the same ports in the same run. See perf/README.md for the design and
// the results.
//
// Each benchmark iteration is one worker poll round: rx_burst of 32 from the
// ingress port, the stage, TX flush to the egress ports. The thread's CPU time
// and the TSC are read around the whole loop (see Clocks); the rare TTL
// refresh (see ring_loop.h) is excluded from both and from Google Benchmark's
// clock. After the
// loop every received packet must have been transmitted, with no drop, no
// punt and no frame missing from the wire, or the run is reported as an error.

#include <benchmark/benchmark.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_fib.h>
#include <rte_lpm.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "dataplane/fib/fib.h"
#include "dataplane/fib/lpm_table.h"
#include "dataplane/neighbor/neighbor_table.h"
#include "dataplane/worker/forward.h"
#include "perf/bench_support.h"
#include "perf/frame_mix.h"
#include "perf/ring_loop.h"
#include "perf/route_mix.h"

namespace isthmus::perf {
namespace {

constexpr uint16_t kBurst = 32;                 // the worker's default burst
constexpr uint32_t kMaxInflight = 32768;
constexpr uint32_t kPoolSize = kMaxInflight + 4096;
// TTL 255 survives 254 passes; refresh well before the stage would punt.
constexpr uint32_t kPassesPerRefresh = 200;
constexpr uint32_t kRcuThreads = 1;
constexpr uint32_t kWorkerRcuId = 0;
constexpr uint32_t kNeighborCapacity = 64;
constexpr uint32_t kNeighborRequests = 64;
constexpr uint64_t kRouteSeed = 0x15b1;
constexpr uint64_t kFrameSeed = 0xf4a3e;
constexpr uint32_t kGateways = 8;
constexpr uint32_t kGatewayBase = 0xcb007101u;  // 203.0.113.1 (RFC 5737 TEST-NET-3)
// Member counts of the next-hop groups routes are spread over: half the
// routes have one next hop, the others 2-, 4- or 8-way ECMP.
constexpr std::array<uint32_t, 8> kGroupSizes = {1, 1, 1, 1, 2, 2, 4, 8};
constexpr MacAddr kIngressMac = {0x02, 0x00, 0x5e, 0x00, 0x00, 0x01};
constexpr std::array<MacAddr, kEgressPorts> kEgressMacs = {{{0x02, 0x00, 0x5e, 0x00, 0x00, 0x02},
                                                           {0x02, 0x00, 0x5e, 0x00, 0x00, 0x03}}};
constexpr uint32_t kLargeTable = 1000000;
constexpr uint32_t kSmallTable = 1000;
constexpr uint32_t kLpmColdDsts = 1 << 20;

// ---------------------------------------------------------------------------
// Shared state: the ring loop, next hops and the route tables, built once.

struct RouteTable {
  std::vector<Route> routes;
  std::unique_ptr<Fib> fib;
};

class World {
 public:
  static absl::StatusOr<World*> Get();
  static void Destroy();   // before rte_eal_cleanup
  ~World();
  absl::StatusOr<const RouteTable*> Table(uint32_t routes);

  const RingLoop& loop() const { return loop_; }
  rte_rcu_qsbr* rcu() const { return rcu_; }
  std::vector<TxQueue> TxQueues() const;
  ForwardContext Context(const Fib& fib, LcoreCounters* counters, TxBuffers* tx, PuntLimiter* limiter);

 private:
  absl::Status Init();
  absl::Status InitNexthops();
  absl::StatusOr<std::unique_ptr<RouteTable>> BuildTable(uint32_t routes);

  RingLoop loop_;
  rte_rcu_qsbr* rcu_ = nullptr;
  std::unique_ptr<NeighborTable> neighbors_;
  std::vector<PortInfo> ports_;
  std::vector<std::vector<Nexthop>> groups_;
  std::map<uint32_t, absl::StatusOr<std::unique_ptr<RouteTable>>> tables_;
};

std::unique_ptr<World>& WorldSlot() {
  static std::unique_ptr<World> world;
  return world;
}

absl::StatusOr<World*> World::Get() {
  static absl::Status init_error;
  if (!init_error.ok()) return init_error;
  if (WorldSlot() == nullptr) {
    auto w = std::make_unique<World>();
    init_error = w->Init();
    if (!init_error.ok()) return init_error;
    WorldSlot() = std::move(w);
  }
  return WorldSlot().get();
}

void World::Destroy() { WorldSlot().reset(); }

World::~World() {
  tables_.clear();
  neighbors_.reset();
  for (uint16_t port : {loop_.ingress, loop_.egress[0], loop_.egress[1]}) {
    if (loop_.pool == nullptr) break;
    if (rte_eth_dev_stop(port) == 0) rte_eth_dev_close(port);
  }
  rte_free(rcu_);
}

absl::StatusOr<const RouteTable*> GetTable(uint32_t routes) {
  auto world = World::Get();
  if (!world.ok()) return world.status();
  return (*world)->Table(routes);
}

absl::Status World::Init() {
  auto loop = CreateRingLoop(kMaxInflight, kPoolSize);
  if (!loop.ok()) return loop.status();
  loop_ = *loop;
  const size_t rcu_size = rte_rcu_qsbr_get_memsize(kRcuThreads);
  rcu_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("fb_rcu", rcu_size, RTE_CACHE_LINE_SIZE));
  if (rcu_ == nullptr || rte_rcu_qsbr_init(rcu_, kRcuThreads) != 0) return absl::ResourceExhaustedError("RCU QSBR");
  rte_rcu_qsbr_thread_register(rcu_, kWorkerRcuId);
  rte_rcu_qsbr_thread_online(rcu_, kWorkerRcuId);

  ports_.assign(loop_.port_count, PortInfo{});
  ports_[loop_.ingress].mac = kIngressMac;
  for (uint32_t i = 0; i < kEgressPorts; ++i) ports_[loop_.egress[i]].mac = kEgressMacs[i];
  return InitNexthops();
}

// Gateways alternate between the two egress ports. Their MAC is the ingress
// port's, so forwarded frames come back acceptable (see ring_loop.h).
absl::Status World::InitNexthops() {
  auto neighbors = NeighborTable::Create(kNeighborCapacity, kNeighborRequests, static_cast<int>(rte_socket_id()));
  if (!neighbors.ok()) return neighbors.status();
  neighbors_ = std::move(*neighbors);
  std::vector<Nexthop> gateways;
  for (uint32_t k = 0; k < kGateways; ++k) {
    Nexthop nh;
    nh.kind = NexthopKind::kForward;
    nh.gateway = kGatewayBase + k;
    nh.port = loop_.egress[k % kEgressPorts];
    auto slot = neighbors_->Intern(nh.port, nh.gateway);
    if (!slot.ok()) return slot.status();
    neighbors_->Set(*slot, kIngressMac);
    nh.neighbor_slot = *slot;
    gateways.push_back(nh);
  }
  for (uint32_t g = 0; g < kGroupSizes.size(); ++g) {
    std::vector<Nexthop> members;
    for (uint32_t j = 0; j < kGroupSizes[g]; ++j) members.push_back(gateways[(g + j) % kGateways]);
    groups_.push_back(std::move(members));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RouteTable>> World::BuildTable(uint32_t count) {
  auto table = std::make_unique<RouteTable>();
  table->routes = GenerateRoutes(count, kRouteSeed + count);
  FibParams params;
  params.name = absl::StrCat("fb_fib", count);
  params.max_routes = count;
  // One tbl8 group per /24 that holds a longer prefix: ~1.1% of the routes.
  params.tbl8_groups = std::max<uint32_t>(256, rte_align32pow2(count / 64));
  auto fib = Fib::Create(params, rcu_);
  if (!fib.ok()) return fib.status();
  table->fib = std::move(*fib);
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < table->routes.size(); ++i) {
    const Route& r = table->routes[i];
    if (absl::Status s = table->fib->Set(r.prefix, r.len, groups_[i % groups_.size()]); !s.ok()) return s;
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  spdlog::info("FIB of {} routes ({} groups, {} next hops) loaded in {:.2f} s ({:.0f} routes/s)", table->fib->routes(),
               table->fib->groups_in_use(), table->fib->nexthops_in_use(), took.count(), count / took.count());
  return table;
}

absl::StatusOr<const RouteTable*> World::Table(uint32_t routes) {
  auto it = tables_.find(routes);
  if (it == tables_.end()) it = tables_.emplace(routes, BuildTable(routes)).first;
  if (!it->second.ok()) return it->second.status();
  return it->second->get();
}

std::vector<TxQueue> World::TxQueues() const {
  std::vector<TxQueue> queues(loop_.port_count);
  for (uint16_t port = 0; port < loop_.port_count; ++port) queues[port] = TxQueue{port, 0, nullptr};
  return queues;
}

ForwardContext World::Context(const Fib& fib, LcoreCounters* counters, TxBuffers* tx, PuntLimiter* limiter) {
  ForwardContext ctx;
  ctx.fib = &fib;
  ctx.neighbors = neighbors_.get();
  ctx.ports = ports_.data();
  ctx.port_count = loop_.port_count;
  ctx.counters = counters;
  ctx.tx = tx;
  ctx.punt_limiter = limiter;
  return ctx;
}

// ---------------------------------------------------------------------------
// Measurement helpers.

// Every packet received went out: no drop, no punt, nothing lost.
absl::Status CheckConservation(const LcoreCounters& c, uint64_t received) {
  for (size_t r = 0; r < kDropReasonCount; ++r) {
    if (const uint64_t n = c.drops[r].Get(); n != 0) {
      return absl::DataLossError(absl::StrCat(n, " packets dropped: ", std::string(Name(static_cast<DropReason>(r)))));
    }
  }
  for (size_t r = 0; r < kPuntReasonCount; ++r) {
    if (const uint64_t n = c.punts[r].Get(); n != 0) {
      return absl::DataLossError(absl::StrCat(n, " packets punted: ", std::string(Name(static_cast<PuntReason>(r)))));
    }
  }
  if (c.tx_packets.Get() != received) {
    return absl::DataLossError(absl::StrCat("received ", received, " but transmitted ", c.tx_packets.Get()));
  }
  return absl::OkStatus();
}

// Frees the frames of one run and checks none went missing or astray.
absl::Status EmptyWire(const RingLoop& loop, uint32_t inflight) {
  uint32_t stray = 0;
  const uint32_t on_wire = DrainWire(loop, &stray);
  if (stray != 0) return absl::DataLossError(absl::StrCat(stray, " frames sent out the wrong way"));
  if (on_wire != inflight) return absl::DataLossError(absl::StrCat(inflight - on_wire, " frames lost from the wire"));
  return absl::OkStatus();
}

absl::StatusOr<World*> PrepareWire(uint32_t inflight, const std::vector<Route>& routes) {
  auto world = World::Get();
  if (!world.ok()) return world.status();
  if (inflight % kBurst != 0 || inflight > kMaxInflight) {
    return absl::InvalidArgumentError(absl::StrCat("in-flight frames must be a multiple of ", kBurst, " up to ",
                                                   kMaxInflight));
  }
  if (absl::Status s = FillWire((*world)->loop(), MakeFrames(routes, inflight, kIngressMac, kFrameSeed)); !s.ok()) {
    return s;
  }
  return world;
}

void Fail(benchmark::State& state, const absl::Status& status) {
  state.SkipWithError(std::string(status.ToString()).c_str());
}

// ---------------------------------------------------------------------------
// Benchmarks.

// The I/O ceiling: the same ring ports, packets moved untouched.
void BM_IoForward(benchmark::State& state) {
  const auto inflight = static_cast<uint32_t>(state.range(0));
  auto table = GetTable(kSmallTable);
  if (!table.ok()) return Fail(state, table.status());
  auto world = PrepareWire(inflight, (*table)->routes);
  if (!world.ok()) return Fail(state, world.status());
  const RingLoop& loop = (*world)->loop();
  rte_mbuf* pkts[kBurst];
  uint64_t received = 0, sent = 0;
  const Clocks start = Clocks::Now();
  for (auto _ : state) {
    const uint16_t n = rte_eth_rx_burst(loop.ingress, 0, pkts, kBurst);
    uint16_t out = 0;
    for (int attempt = 0; attempt < 3 && out < n; ++attempt) {
      out = static_cast<uint16_t>(out + rte_eth_tx_burst(loop.egress[0], 0, pkts + out, static_cast<uint16_t>(n - out)));
    }
    if (out < n) rte_pktmbuf_free_bulk(pkts + out, n - out);
    received += n;
    sent += out;
  }
  const Clocks spent = Clocks::Now() - start;
  absl::Status status = EmptyWire(loop, inflight);
  if (status.ok() && sent != received) status = absl::DataLossError(absl::StrCat(received - sent, " not sent"));
  if (status.ok() && received != static_cast<uint64_t>(state.iterations()) * kBurst) status = absl::DataLossError("the wire ran dry");
  if (!status.ok()) return Fail(state, status);
  ReportRate(state, spent, received);
}

// Touches nothing the stage would not: asks for every mbuf header, then
// every frame's first line, before the stage reads them. net_ring's rx_burst
// never reads an mbuf, so without this the stage pays both cache misses in
// series for each packet.
void PrefetchBurst(rte_mbuf* const* pkts, uint16_t n) {
  for (uint16_t i = 0; i < n; ++i) rte_prefetch0(pkts[i]);
  for (uint16_t i = 0; i < n; ++i) rte_prefetch0(rte_pktmbuf_mtod(pkts[i], const void*));
}

enum class Prefetch : bool { kNo, kYes };

// The pipeline: rx_burst -> ForwardBurst -> TxBuffers::FlushAll -> RCU
// quiescent state, as in Worker::Run.
template <Prefetch kPrefetch>
void RunForward(benchmark::State& state, uint32_t table_size) {
  const auto inflight = static_cast<uint32_t>(state.range(0));
  auto table = GetTable(table_size);
  if (!table.ok()) return Fail(state, table.status());
  auto prepared = PrepareWire(inflight, (*table)->routes);
  if (!prepared.ok()) return Fail(state, prepared.status());
  World& world = **prepared;
  const RingLoop& loop = world.loop();

  LcoreCounters counters;
  TxBuffers tx(world.TxQueues(), &counters);
  PuntLimiter limiter(0);
  ForwardContext ctx = world.Context(*(*table)->fib, &counters, &tx, &limiter);
  const uint64_t refresh_every = uint64_t{kPassesPerRefresh} * inflight / kBurst;
  uint64_t until_refresh = refresh_every, received = 0, refresh_shortfall = 0;
  Clocks excluded;
  rte_mbuf* pkts[kBurst];

  const Clocks start = Clocks::Now();
  for (auto _ : state) {
    const uint16_t n = rte_eth_rx_burst(loop.ingress, 0, pkts, kBurst);
    if constexpr (kPrefetch == Prefetch::kYes) PrefetchBurst(pkts, n);
    ForwardBurst(ctx, loop.ingress, pkts, n);
    tx.FlushAll();
    rte_rcu_qsbr_quiescent(world.rcu(), kWorkerRcuId);
    counters.rx_packets.Add(n);
    received += n;
    if (--until_refresh == 0) {
      const Clocks paused_at = Clocks::Now();
      state.PauseTiming();
      refresh_shortfall += inflight - RefreshTtl(loop, kFreshTtl);
      state.ResumeTiming();
      excluded += Clocks::Now() - paused_at;
      until_refresh = refresh_every;
    }
  }
  const Clocks spent = Clocks::Now() - start - excluded;

  absl::Status status = CheckConservation(counters, received);
  if (status.ok()) status = EmptyWire(loop, inflight);
  if (status.ok() && refresh_shortfall != 0) status = absl::DataLossError("frames missing at a TTL refresh");
  if (status.ok() && received != static_cast<uint64_t>(state.iterations()) * kBurst) status = absl::DataLossError("the wire ran dry");
  if (!status.ok()) return Fail(state, status);
  ReportRate(state, spent, received);
  state.SetLabel(absl::StrCat((*table)->fib->routes(), " routes"));
}

void BM_Forward_1M(benchmark::State& state) { RunForward<Prefetch::kNo>(state, kLargeTable); }
void BM_Forward_1K(benchmark::State& state) { RunForward<Prefetch::kNo>(state, kSmallTable); }
// What a prefetch pass in front of ForwardBurst would buy (not in forward.h).
void BM_Forward_1M_Prefetched(benchmark::State& state) { RunForward<Prefetch::kYes>(state, kLargeTable); }
void BM_Forward_1K_Prefetched(benchmark::State& state) { RunForward<Prefetch::kYes>(state, kSmallTable); }

// ---------------------------------------------------------------------------
// The NAT stage (issue 5): the same pipeline with an anycast service whose
// 1,000,000 flows are all established, beside the very same frames with no
// service configured (ForwardContext::services null), in the same run.
//
// Every frame is a client's TCP ACK to VIP:80 (64 bytes). With the service
// the stage DNATs it to the flow's backend; without, the FIB sends it
// towards the VIP's route. Both the VIP and the backends are hosts of
// routes of the 1M-route table, so both variants forward everything over
// the same FIB. A forwarded frame no longer goes to the VIP, so once per
// pass over the wire (timing paused, as for the TTL refresh) every frame is
// rewritten to the next flow's original frame: the frames sweep all 1M
// flows in turn, as traffic over 1M established flows does.

constexpr uint32_t kServiceFlows = 1000000;
constexpr uint32_t kServiceFlowCapacity = kServiceFlows + kServiceFlows / 8;
constexpr uint32_t kServiceBackends = 8;
constexpr uint32_t kServiceMaglevSize = 65537;
constexpr uint16_t kServicePort = 80;
constexpr uint16_t kClientPortBase = 1024;
constexpr uint32_t kClientHostBits = 17;   // kSourceHostMask: 131072 client hosts, 8 ports each
constexpr uint8_t kTcpAckFlag = 0x10;
constexpr uint64_t kServiceSeed = 0x5e41ce;

class ServiceTraffic {
 public:
  // Built once, with every flow created through the stage itself.
  static absl::StatusOr<ServiceTraffic*> Get(World& world, const RouteTable& table);

  const ServiceTable& services() const { return *services_; }
  FlowTable& flows() { return *flows_; }
  // The first `count` frames, for FillWire.
  std::vector<std::vector<uint8_t>> FirstFrames(uint32_t count);
  // Rewrites every frame on the wire (in FIFO order) to the next flow's
  // original frame; returns how many frames it saw.
  uint32_t Restore(const RingLoop& loop);

 private:
  absl::Status Init(World& world, const RouteTable& table);
  const uint8_t* Frame(uint64_t flow) const { return frames_.data() + (flow % kServiceFlows) * kFrameLen; }

  std::vector<uint8_t> frames_;   // kServiceFlows frames of kFrameLen bytes, back to back
  std::unique_ptr<ServiceTable> services_;
  std::unique_ptr<FlowTable> flows_;
  uint64_t next_flow_ = 0;
};

std::vector<std::vector<uint8_t>> ServiceTraffic::FirstFrames(uint32_t count) {
  std::vector<std::vector<uint8_t>> frames;
  for (next_flow_ = 0; next_flow_ < count; ++next_flow_) frames.emplace_back(Frame(next_flow_), Frame(next_flow_) + kFrameLen);
  return frames;
}

uint32_t ServiceTraffic::Restore(const RingLoop& loop) {
  const uint32_t count = rte_ring_count(loop.wire);
  uint32_t done = 0;
  void* objs[64];
  while (done < count) {
    const unsigned n = rte_ring_sc_dequeue_burst(loop.wire, objs, std::min<uint32_t>(64, count - done), nullptr);
    if (n == 0) break;
    for (unsigned i = 0; i < n; ++i) {
      std::memcpy(rte_pktmbuf_mtod(static_cast<rte_mbuf*>(objs[i]), void*), Frame(next_flow_++), kFrameLen);
    }
    rte_ring_sp_enqueue_bulk(loop.wire, objs, n, nullptr);
    done += n;
  }
  return done;
}

absl::StatusOr<ServiceTraffic*> ServiceTraffic::Get(World& world, const RouteTable& table) {
  static std::unique_ptr<ServiceTraffic> traffic;
  static absl::Status init_error;
  if (!init_error.ok()) return init_error;
  if (traffic == nullptr) {
    auto t = std::make_unique<ServiceTraffic>();
    init_error = t->Init(world, table);
    if (!init_error.ok()) return init_error;
    traffic = std::move(t);
  }
  return traffic.get();
}

absl::Status ServiceTraffic::Init(World& world, const RouteTable& table) {
  std::mt19937_64 rng(kServiceSeed);
  std::uniform_int_distribution<size_t> pick_route(0, table.routes.size() - 1);
  ServiceConfig service;
  service.name = "bench";
  service.vip = {DrawHostIn(table.routes[pick_route(rng)], rng)};
  service.ports = {kServicePort};
  for (uint32_t b = 0; b < kServiceBackends; ++b) {
    service.backends.push_back({{DrawHostIn(table.routes[pick_route(rng)], rng)}, 8080, 1});
  }
  auto snapshot = ServiceSnapshot::Build({&service, 1}, kServiceMaglevSize, [](size_t, size_t) { return true; });
  if (!snapshot.ok()) return snapshot.status();
  services_ = std::make_unique<ServiceTable>(nullptr);
  services_->Publish(*std::move(snapshot));
  auto flows = FlowTable::Create({.capacity = kServiceFlowCapacity, .workers = 1}, nullptr, nullptr);
  if (!flows.ok()) return flows.status();
  flows_ = std::move(*flows);

  frames_.reserve(size_t{kServiceFlows} * kFrameLen);
  for (uint32_t i = 0; i < kServiceFlows; ++i) {
    testing::PacketBuilder b;
    b.DstMac(kIngressMac).SrcMac(kPeerMac).Ttl(kFreshTtl);
    b.Src(kSourceBlock | (i & kSourceHostMask)).Dst(service.vip.value);
    b.Tcp(static_cast<uint16_t>(kClientPortBase + (i >> kClientHostBits)), kServicePort, kTcpAckFlag);
    const std::vector<uint8_t> frame = b.Payload(kFrameLen - kTcpHeadersLen).Build();
    frames_.insert(frames_.end(), frame.begin(), frame.end());
  }

  // Every flow's first packet through the stage, a wire's worth at a time.
  const RingLoop& loop = world.loop();
  if (absl::Status s = FillWire(loop, FirstFrames(kMaxInflight)); !s.ok()) return s;
  LcoreCounters counters;
  TxBuffers tx(world.TxQueues(), &counters);
  PuntLimiter limiter(0);
  ForwardContext ctx = world.Context(*table.fib, &counters, &tx, &limiter);
  ctx.services = services_.get();
  ctx.flows = flows_.get();
  const auto start = std::chrono::steady_clock::now();
  uint64_t received = 0;
  rte_mbuf* pkts[kBurst];
  while (received < kServiceFlows) {
    for (uint32_t i = 0; i < kMaxInflight / kBurst; ++i) {
      const uint16_t n = rte_eth_rx_burst(loop.ingress, 0, pkts, kBurst);
      ForwardBurst(ctx, loop.ingress, pkts, n);
      tx.FlushAll();
      rte_rcu_qsbr_quiescent(world.rcu(), kWorkerRcuId);
      received += n;
    }
    Restore(loop);
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  absl::Status status = CheckConservation(counters, received);
  if (status.ok()) status = EmptyWire(loop, kMaxInflight);
  if (!status.ok()) return status;
  const FlowTableCounters c = flows_->Counters();
  if (c.active != kServiceFlows) {
    return absl::InternalError(absl::StrCat(c.active, " flows active after setup, expected ", kServiceFlows));
  }
  spdlog::info("{} service flows created through the stage in {:.2f} s ({} MiB)", c.active, took.count(),
               flows_->MemoryBytes() >> 20);
  return absl::OkStatus();
}

// rx_burst -> ForwardBurst -> FlushAll -> quiescent, as RunForward, over
// the service traffic, with and without the service.
void BM_ForwardService_1M(benchmark::State& state) {
  const auto inflight = static_cast<uint32_t>(state.range(0));
  const bool with_services = state.range(1) != 0;
  auto table = GetTable(kLargeTable);
  if (!table.ok()) return Fail(state, table.status());
  auto world = World::Get();
  if (!world.ok()) return Fail(state, world.status());
  auto traffic = ServiceTraffic::Get(**world, **table);
  if (!traffic.ok()) return Fail(state, traffic.status());
  const RingLoop& loop = (*world)->loop();
  if (inflight % kBurst != 0 || inflight > kMaxInflight) return Fail(state, absl::InvalidArgumentError("in-flight"));
  if (absl::Status s = FillWire(loop, (*traffic)->FirstFrames(inflight)); !s.ok()) return Fail(state, s);

  LcoreCounters counters;
  TxBuffers tx((*world)->TxQueues(), &counters);
  PuntLimiter limiter(0);
  ForwardContext ctx = (*world)->Context(*(*table)->fib, &counters, &tx, &limiter);
  if (with_services) {
    ctx.services = &(*traffic)->services();
    ctx.flows = &(*traffic)->flows();
  }
  const uint64_t created_before = (*traffic)->flows().Counters().created;
  const uint32_t bursts_per_pass = inflight / kBurst;
  uint32_t until_restore = bursts_per_pass;
  uint64_t received = 0, restore_shortfall = 0;
  Clocks excluded;
  rte_mbuf* pkts[kBurst];

  const Clocks start = Clocks::Now();
  for (auto _ : state) {
    const uint16_t n = rte_eth_rx_burst(loop.ingress, 0, pkts, kBurst);
    ForwardBurst(ctx, loop.ingress, pkts, n);
    tx.FlushAll();
    rte_rcu_qsbr_quiescent((*world)->rcu(), kWorkerRcuId);
    received += n;
    if (--until_restore == 0) {
      const Clocks paused_at = Clocks::Now();
      state.PauseTiming();
      restore_shortfall += inflight - (*traffic)->Restore(loop);
      state.ResumeTiming();
      excluded += Clocks::Now() - paused_at;
      until_restore = bursts_per_pass;
    }
  }
  const Clocks spent = Clocks::Now() - start - excluded;

  absl::Status status = CheckConservation(counters, received);
  if (status.ok()) status = EmptyWire(loop, inflight);
  if (status.ok() && restore_shortfall != 0) status = absl::DataLossError("frames missing at a restore");
  if (status.ok() && received != static_cast<uint64_t>(state.iterations()) * kBurst) status = absl::DataLossError("the wire ran dry");
  // Established flows only: a new flow here would measure setup instead.
  if (status.ok() && (*traffic)->flows().Counters().created != created_before) {
    status = absl::InternalError("flows were created while measuring");
  }
  if (!status.ok()) return Fail(state, status);
  ReportRate(state, spent, received);
  state.SetLabel(with_services ? absl::StrCat((*traffic)->flows().Counters().active, " flows") : "no service");
}

// The FIB lookup (rte_fib_lookup_bulk) alone, over the destinations the frames would carry.
// Which LPM a benchmark measures: ours, or DPDK's as the same-run baseline.
enum class InstallImpl : int64_t { kLpmTable = 0, kRteLpm = 1, kRteFib = 2 };
constexpr uint32_t kInstallTbl8 = 1 << 14;

// The lookup over the destinations the frames would carry: our LpmTable
// (impl 0) and, as the same-run baseline, DPDK's rte_fib DIR24_8 (impl 2,
// its default lookup) filled with the same routes.
void BM_FibLookupBulk_1M(benchmark::State& state) {
  const auto count = static_cast<uint32_t>(state.range(0));
  const auto impl = static_cast<InstallImpl>(state.range(1));
  auto table = GetTable(kLargeTable);
  if (!table.ok()) return Fail(state, table.status());
  std::mt19937_64 rng(kFrameSeed);
  std::uniform_int_distribution<size_t> pick(0, (*table)->routes.size() - 1);
  std::vector<uint32_t> dsts(count);
  for (uint32_t& d : dsts) d = DrawHostIn((*table)->routes[pick(rng)], rng);
  std::unique_ptr<rte_fib, decltype(&rte_fib_free)> dpdk_fib(nullptr, rte_fib_free);
  if (impl == InstallImpl::kRteFib) {
    rte_fib_conf config{};
    config.type = RTE_FIB_DIR24_8;
    config.max_routes = static_cast<int>((*table)->routes.size());
    config.dir24_8.nh_sz = RTE_FIB_DIR24_8_4B;
    config.dir24_8.num_tbl8 = kInstallTbl8;
    dpdk_fib.reset(rte_fib_create("lookup_baseline", 0, &config));
    if (dpdk_fib == nullptr) return Fail(state, absl::ResourceExhaustedError("rte_fib_create failed"));
    for (const Route& r : (*table)->routes) rte_fib_add(dpdk_fib.get(), r.prefix, r.len, 1);
  }
  const Fib& fib = *(*table)->fib;
  uint32_t results[kBurst];
  uint64_t dpdk_results[kBurst];
  uint32_t offset = 0;
  bool found = true;
  const Clocks start = Clocks::Now();
  for (auto _ : state) {
    if (impl == InstallImpl::kRteFib) {
      rte_fib_lookup_bulk(dpdk_fib.get(), dsts.data() + offset, dpdk_results, kBurst);
      for (uint64_t r : dpdk_results) found &= r != 0;
    } else {
      fib.LookupBulk(dsts.data() + offset, results, kBurst);
      for (uint32_t r : results) found &= r != kNoGroup;
    }
    offset = offset + kBurst == count ? 0 : offset + kBurst;
  }
  const Clocks spent = Clocks::Now() - start;
  benchmark::DoNotOptimize(found);
  if (!found) return Fail(state, absl::NotFoundError("a lookup missed"));
  ReportRate(state, spent, static_cast<uint64_t>(state.iterations()) * kBurst);
}

// The receive checks alone (CheckFrame), over frames laid out back to back.
void BM_CheckFrame(benchmark::State& state) {
  const auto count = static_cast<uint32_t>(state.range(0));
  auto table = GetTable(kSmallTable);
  if (!table.ok()) return Fail(state, table.status());
  const auto frames = MakeFrames((*table)->routes, count, kIngressMac, kFrameSeed);
  std::vector<uint8_t> packed;
  for (const auto& f : frames) packed.insert(packed.end(), f.begin(), f.end());
  uint32_t index = 0, bytes = 0, refused = 0;
  const Clocks start = Clocks::Now();
  for (auto _ : state) {
    for (uint16_t i = 0; i < kBurst; ++i) {
      const FrameVerdict v = CheckFrame(packed.data() + size_t{index + i} * kFrameLen, kFrameLen, kIngressMac);
      refused += v.action != Action::kForward;
      bytes += v.ip_len;
    }
    index = index + kBurst == count ? 0 : index + kBurst;
  }
  const Clocks spent = Clocks::Now() - start;
  benchmark::DoNotOptimize(bytes);
  if (refused != 0) return Fail(state, absl::InternalError(absl::StrCat(refused, " frames not forwardable")));
  ReportRate(state, spent, static_cast<uint64_t>(state.iterations()) * kBurst);
}

// ---------------------------------------------------------------------------
// Installing a DFZ-shaped table, in the random order BGP delivers it: our
// LpmTable against DPDK's rte_lpm and rte_fib (DIR24_8) in the same run, the
// reason the FIB has its own table (see dataplane/fib/lpm_table.h).


// Adds `routes` to a fresh table of the kind asked; returns the seconds the
// adds took (creation and teardown excluded).
absl::StatusOr<double> InstallOnce(InstallImpl impl, const std::vector<Route>& routes) {
  static int unique = 0;
  const std::string name = absl::StrCat("install", unique++);
  const uint32_t n = static_cast<uint32_t>(routes.size());
  auto timed = [&](auto&& add) -> absl::StatusOr<double> {
    const auto start = std::chrono::steady_clock::now();
    for (uint32_t i = 0; i < n; ++i) {
      if (!add(routes[i], 1 + i % kGateways)) return absl::InternalError(absl::StrCat("add failed at route ", i));
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  switch (impl) {
    case InstallImpl::kLpmTable: {
      auto table = LpmTable::Create(name, kInstallTbl8, 0, nullptr);
      if (!table.ok()) return table.status();
      return timed([&](const Route& r, uint32_t v) { return (*table)->Add(r.prefix, r.len, v).ok(); });
    }
    case InstallImpl::kRteLpm: {
      rte_lpm_config config{};
      config.max_rules = n;
      config.number_tbl8s = kInstallTbl8;
      std::unique_ptr<rte_lpm, decltype(&rte_lpm_free)> lpm(rte_lpm_create(name.c_str(), 0, &config), rte_lpm_free);
      if (lpm == nullptr) return absl::ResourceExhaustedError("rte_lpm_create failed");
      return timed([&](const Route& r, uint32_t v) { return rte_lpm_add(lpm.get(), r.prefix, r.len, v) == 0; });
    }
    case InstallImpl::kRteFib: {
      rte_fib_conf config{};
      config.type = RTE_FIB_DIR24_8;
      config.max_routes = static_cast<int>(n);
      config.dir24_8.nh_sz = RTE_FIB_DIR24_8_4B;
      config.dir24_8.num_tbl8 = kInstallTbl8;
      std::unique_ptr<rte_fib, decltype(&rte_fib_free)> fib(rte_fib_create(name.c_str(), 0, &config), rte_fib_free);
      if (fib == nullptr) return absl::ResourceExhaustedError("rte_fib_create failed");
      return timed([&](const Route& r, uint32_t v) { return rte_fib_add(fib.get(), r.prefix, r.len, v) == 0; });
    }
  }
  return absl::InvalidArgumentError("unknown implementation");
}

void BM_RouteInstall(benchmark::State& state) {
  const auto impl = static_cast<InstallImpl>(state.range(0));
  const auto routes = GenerateRoutes(static_cast<uint32_t>(state.range(1)), kRouteSeed);
  double total = 0;
  for (auto _ : state) {
    auto seconds = InstallOnce(impl, routes);
    if (!seconds.ok()) return Fail(state, seconds.status());
    state.SetIterationTime(*seconds);
    total += *seconds;
  }
  state.counters["ns_per_route"] = total * 1e9 / (static_cast<double>(routes.size()) * static_cast<double>(state.iterations()));
}

// 200k routes: rte_lpm's linear rule scan is already 15x slower there and
// takes over a minute at 1M; ours and rte_fib also at 1M.
BENCHMARK(BM_RouteInstall)->ArgNames({"impl", "routes"})
    ->Args({static_cast<int64_t>(InstallImpl::kLpmTable), 200000})
    ->Args({static_cast<int64_t>(InstallImpl::kRteLpm), 200000})
    ->Args({static_cast<int64_t>(InstallImpl::kRteFib), 200000})
    ->Args({static_cast<int64_t>(InstallImpl::kLpmTable), 1000000})
    ->Args({static_cast<int64_t>(InstallImpl::kRteFib), 1000000})
    ->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);

// In flight: 256 stays in L2 (the compute floor), 1024 is l3fwd's RX ring,
// 4096 a deep one, 32768 far beyond L2.
BENCHMARK(BM_IoForward)->ArgName("inflight")->Arg(256)->Arg(1024)->Arg(4096)->Arg(kMaxInflight);
BENCHMARK(BM_Forward_1M)->ArgName("inflight")->Arg(256)->Arg(1024)->Arg(4096)->Arg(kMaxInflight);
BENCHMARK(BM_Forward_1M_Prefetched)->ArgName("inflight")->Arg(1024)->Arg(4096)->Arg(kMaxInflight);
BENCHMARK(BM_Forward_1K)->ArgName("inflight")->Arg(1024)->Arg(4096);
BENCHMARK(BM_Forward_1K_Prefetched)->ArgName("inflight")->Arg(1024)->Arg(4096);
// 1M distinct destinations: the LPM lines and pages no longer stay cached.
BENCHMARK(BM_FibLookupBulk_1M)->ArgNames({"dsts", "impl"})
    ->ArgsProduct({{4096, kMaxInflight, kLpmColdDsts},
                   {static_cast<int64_t>(InstallImpl::kLpmTable), static_cast<int64_t>(InstallImpl::kRteFib)}});
BENCHMARK(BM_CheckFrame)->ArgName("frames")->Arg(4096);
// services:0 is the baseline: the same frames, the same FIB, no NAT stage.
BENCHMARK(BM_ForwardService_1M)->ArgNames({"inflight", "services"})
    ->ArgsProduct({{1024, kMaxInflight}, {0, 1}});

}  // namespace
}  // namespace isthmus::perf

int main(int argc, char** argv) {
  // rte_fib preallocates ~420 B per route. Ports, pools and FIBs live until
  // exit; EAL cleanup releases them.
  return isthmus::perf::RunBenchmarksWithEal(argc, argv, "forward_bench", "1536",
                                             [] { isthmus::perf::World::Destroy(); });
}
