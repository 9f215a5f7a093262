#include "control/daemon/daemon.h"

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dataplane/port/port.h"
#include "dataplane/port/xsk_stats.h"
#include "dataplane/xdp/xdp_program_path.h"
#include "isthmus_version.h"
#include "control/log_format.h"
#include "spdlog/spdlog.h"
#include <bpf/libbpf.h>

namespace isthmus {
namespace {

constexpr auto kTick = std::chrono::milliseconds(100);
constexpr auto kResolveRetry = std::chrono::seconds(1);
// Re-confirm in-use gateways well before the kernel's neighbour GC could
// drop an entry that only the data plane (invisible to the kernel) uses.
constexpr auto kGatewayRefresh = std::chrono::seconds(20);
constexpr uint32_t kNeighborCapacity = 1 << 16;
constexpr uint32_t kNeighborRequestRing = 4096;
constexpr uint32_t kMbufCache = 256;
constexpr uint64_t kKernelRouteErrorsLogged = 20;

// Removes whatever XDP program a crashed run left on the interface.
void DetachXdp(int ifindex) {
  if (bpf_xdp_detach(ifindex, 0, nullptr) == 0) spdlog::debug("detached stale XDP program from ifindex {}", ifindex);
}

absl::Status WriteSysctl(const std::string& path, const std::string& value) {
  std::ofstream f(path);
  if (!(f << value)) return absl::InternalError(absl::StrCat("cannot write ", value, " to ", path));
  return absl::OkStatus();
}

std::string IfSysctl(const std::string& family, const std::string& ifname, const std::string& key) {
  return absl::StrCat("/proc/sys/net/", family, "/conf/", ifname, "/", key);
}

// Descriptor ring size: deep rings absorb bursts (AF_XDP on veth drops what
// does not fit in its ring: with 1,024 on a busy host, TCP through the testbed saw ~10k
// retransmits per 3 s; with 2,048, none), but every RX ring must be able to
// fill from the pool with half of it left for packets in flight.
uint16_t RingSize(const Config& config) {
  constexpr uint16_t kLargest = 2048, kSmallest = 256;
  // Each port, one TAP per pmd port, one TAP shared by the others.
  const size_t pmd = std::count_if(config.ports.begin(), config.ports.end(),
                                   [](const PortConfig& p) { return p.driver == PortDriver::kPmd; });
  // and one host TAP per tunnel.
  const size_t rx_rings = config.ports.size() + pmd + (pmd < config.ports.size() ? 1 : 0) + config.tunnels.size();
  const size_t budget = config.dataplane.mbufs / (2 * std::max<size_t>(rx_rings, 1));
  uint16_t size = kLargest;
  while (size > kSmallest && size > budget) size /= 2;
  return size;
}

// EAL memory (--no-huge -m): mbufs, the FIB's 64 MiB tbl24 and its tbl8
// blocks (256 entries of 4 bytes), slack. The FIB's rules live on the heap.
constexpr uint64_t kFibTbl24Bytes = uint64_t{1} << 26;
constexpr uint64_t kFibBytesPerTbl8 = 256 * 4;

uint32_t EalMemoryMb(const DataplaneConfig& dp) {
  const uint64_t bytes = uint64_t{dp.mbufs} * (RTE_MBUF_DEFAULT_BUF_SIZE + 256) + kFibTbl24Bytes +
                         uint64_t{dp.fib_tbl8_groups} * kFibBytesPerTbl8;
  return static_cast<uint32_t>(bytes >> 20) + 128;
}

}  // namespace

Daemon::~Daemon() {
  StopBgp();
  StopWorkers();
  metrics_.reset();
  admin_.reset();
  for (const PortState& p : ports_) RemovePort(p.port_id);
  ports_.clear();
  routes_.reset();
  kernel_mirror_.reset();
  tunnels_.reset();
  // SAs hold crypto sessions from the ESP context: they go first.
  tunnel_states_.clear();
  retired_esp_sas_.clear();
  esp_seq_.reset();  // after the leases (tunnel_states_); releases the state file's lock
  esp_context_.reset();
  for (rte_ring* r : esp_rings_) rte_ring_free(r);
  esp_rings_.clear();
  fib_.reset();
  neighbors_.reset();
  if (pool_ != nullptr) rte_mempool_free(pool_);
  rte_free(rcu_);
  if (eal_ready_) {
    // EAL leaves its (by now empty) runtime directory behind: remove it so a
    // stopped appliance leaves nothing under RUNTIME_DIRECTORY.
    const std::string runtime_dir = rte_eal_get_runtime_dir();
    rte_eal_cleanup();
    if (rmdir(runtime_dir.c_str()) != 0 && errno != ENOENT) {
      spdlog::warn("cannot remove {}: {}", runtime_dir, strerror(errno));
    }
  }
}

absl::Status Daemon::InitEal() {
  const DataplaneConfig& dp = config_.dataplane;
  std::vector<std::string> args = {"isthmusd"};
  // lcore 0 is this (control) thread; workers are lcores 1..N.
  const unsigned ncpu = std::max(1u, std::thread::hardware_concurrency());
  const std::string all_cpus = absl::StrCat("(0-", ncpu - 1, ")");
  std::string lcores = absl::StrCat("0@", all_cpus);
  for (uint32_t w = 0; w < dp.workers; ++w) {
    const std::string cpus =
        dp.worker_cpus.empty() ? all_cpus : absl::StrCat(dp.worker_cpus[w % dp.worker_cpus.size()]);
    absl::StrAppend(&lcores, ",", w + 1, "@", cpus);
  }
  args.push_back(absl::StrCat("--lcores=", lcores));
  const bool has_pmd = std::any_of(config_.ports.begin(), config_.ports.end(),
                                   [](const PortConfig& p) { return p.driver == PortDriver::kPmd; });
  if (!has_pmd) args.push_back("--no-pci");
  if (dp.hugepages) {
    args.push_back("--in-memory");   // no hugepage files survive us, even after SIGKILL
  } else {
    args.insert(args.end(), {"--no-huge", "-m", absl::StrCat(EalMemoryMb(dp)), "--no-shconf"});
  }
  args.push_back(absl::StrCat("--file-prefix=isthmusd-", getpid()));
  args.push_back("--no-telemetry");
  args.push_back("--log-level=*:warning");
  args.insert(args.end(), dp.eal_args.begin(), dp.eal_args.end());
  spdlog::info("EAL arguments: {}", absl::StrJoin(args, " "));
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
    return absl::InternalError(absl::StrCat("rte_eal_init failed: ", rte_strerror(rte_errno)));
  }
  eal_ready_ = true;
  return absl::OkStatus();
}

absl::Status Daemon::CreateTables() {
  const DataplaneConfig& dp = config_.dataplane;
  pool_ = rte_pktmbuf_pool_create("isthmus_mbufs", dp.mbufs, kMbufCache, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                  static_cast<int>(rte_socket_id()));
  if (pool_ == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot allocate ", dp.mbufs,
                                                     " mbufs: ", rte_strerror(rte_errno),
                                                     " (lower dataplane.mbufs or enable hugepages)"));
  }
  const size_t rcu_size = rte_rcu_qsbr_get_memsize(dp.workers);
  rcu_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("isthmus_rcu", rcu_size, RTE_CACHE_LINE_SIZE));
  if (rcu_ == nullptr || rte_rcu_qsbr_init(rcu_, dp.workers) != 0) {
    return absl::ResourceExhaustedError("cannot allocate the RCU QSBR variable");
  }
  FibParams params;
  params.name = "isthmus_fib";
  params.max_routes = dp.fib_max_routes;
  params.tbl8_groups = dp.fib_tbl8_groups;
  auto fib = Fib::Create(params, rcu_);
  if (!fib.ok()) return fib.status();
  fib_ = std::move(*fib);
  auto neighbors = NeighborTable::Create(kNeighborCapacity, kNeighborRequestRing, static_cast<int>(rte_socket_id()));
  if (!neighbors.ok()) return neighbors.status();
  neighbors_ = std::move(*neighbors);
  routes_ = std::make_unique<RouteTable>(fib_.get(), neighbors_.get(), [this](uint16_t port, uint32_t ip) {
    gateways_.insert({port, ip});
    last_resolve_.erase({port, ip});
    if (!neighbors_->RequestResolution(port, ip)) spdlog::warn("neighbor request queue full");
  });
  kernel_mirror_ = std::make_unique<KernelRouteMirror>([this](const Ipv4Prefix& prefix, const absl::Status& s) {
    // Mirror thread. One line per refused route would flood the log when a
    // whole table is refused (e.g. its gateway's link went away): the count
    // is in isthmus_kernel_route_errors_total; log the first few.
    const uint64_t errors = kernel_route_errors_.fetch_add(1, std::memory_order_relaxed);
    if (errors < kKernelRouteErrorsLogged) spdlog::warn("kernel route {}: {}", ToString(prefix), s.message());
  });
  tunnels_ = std::make_unique<TunnelTable>(rcu_);
  if (absl::Status st = CreateServiceTables(); !st.ok()) return st;
  routes_->SetObserver([this](const Ipv4Prefix& prefix, RouteSource source, const std::vector<Nexthop>* nexthops) {
    MirrorToKernel(prefix, source, nexthops);
  });
  tunables_ = std::make_unique<WorkerTunables>();
  tunables_->idle_sleep_us = dp.idle_sleep_us;
  tunables_->idle_polls_before_sleep = dp.idle_polls_before_sleep;
  tunables_->SetPuntRates(EffectivePuntRates(dp));
  return absl::OkStatus();
}

absl::Status Daemon::CreateExceptionTap(const std::string& ifname, const MacAddr* mac, uint16_t bridge_to,
                                        uint16_t* port_id) {
  auto id = ProbePort(TapDevargs(ifname, ifname, mac));
  if (!id.ok()) return id.status();
  QueueSetup setup;
  setup.tx_queues = 1;
  setup.rx_descriptors = setup.tx_descriptors = RingSize(config_);
  if (absl::Status s = StartPort(*id, setup, pool_); !s.ok()) return s;
  auto link = GetLink(ifname);
  if (!link.ok()) return link.status();
  PortState state;
  state.name = ifname;
  state.driver = PortDriver::kPmd;
  state.interface = ifname;
  state.port_id = *id;
  state.ifindex = link->ifindex;
  state.is_exception = true;
  ports_.push_back(std::move(state));
  if (port_info_.size() <= *id) port_info_.resize(*id + 1);
  PortInfo& info = port_info_[*id];
  info.mac = PortMac(*id);
  info.is_exception = true;
  info.bridge_to = bridge_to;
  *port_id = *id;
  // The kernel forwards what we punt (TTL expiry, options): forwarding on the
  // TAP only; no reverse-path filter (sources are remote); no IPv6 chatter.
  absl::Status s;
  s.Update(WriteSysctl(IfSysctl("ipv4", ifname, "forwarding"), "1"));
  s.Update(WriteSysctl(IfSysctl("ipv4", ifname, "rp_filter"), "0"));
  s.Update(WriteSysctl(IfSysctl("ipv4", "all", "rp_filter"), "0"));
  (void)WriteSysctl(IfSysctl("ipv6", ifname, "disable_ipv6"), "1");
  s.Update(SetLinkUp(link->ifindex, true));
  return s;
}

absl::Status Daemon::CreatePorts() {
  const std::string xdp_program = DefaultXdpProgramPath();
  spdlog::info("ports: {} descriptors per ring", RingSize(config_));
  const uint16_t tx_queues = 1;   // veth/AF_XDP have one; workers share it under a lock
  for (const PortConfig& pc : config_.ports) {
    if (pc.driver == PortDriver::kAfXdp) {
      if (access(xdp_program.c_str(), R_OK) != 0) {
        return absl::NotFoundError(absl::StrCat("XDP program ", xdp_program, " not readable (set ",
                                                kXdpProgramEnv, " or install isthmus_xdp.bpf.o)"));
      }
      auto link = GetLink(pc.interface);
      if (!link.ok()) return absl::NotFoundError(absl::StrCat("port ", pc.name, ": ", link.status().message()));
      // A program left by a crashed run would make DPDK's attach fail.
      DetachXdp(link->ifindex);
    }
    const XskSocketWatch xsk_watch;
    auto id = ProbePort(PortDevargs(pc, xdp_program));
    if (!id.ok()) return absl::Status(id.status().code(), absl::StrCat("port ", pc.name, ": ", id.status().message()));
    QueueSetup setup;
    setup.tx_queues = tx_queues;
    setup.mtu = pc.mtu;
    setup.rx_descriptors = setup.tx_descriptors = RingSize(config_);
    if (absl::Status s = StartPort(*id, setup, pool_); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("port ", pc.name, ": ", s.message()));
    }
    PortState state;
    state.name = pc.name;
    state.driver = pc.driver;
    state.interface = pc.interface;
    state.port_id = *id;
    if (pc.driver == PortDriver::kAfXdp) {
      state.xsk_fds = xsk_watch.Added();
      if (state.xsk_fds.empty()) {
        spdlog::warn("port {}: no AF_XDP socket found; rx_ring_full will stay 0", pc.name);
      }
    }
    if (port_info_.size() <= *id) port_info_.resize(*id + 1);
    PortInfo& info = port_info_[*id];
    info.mac = PortMac(*id);
    info.mtu = pc.mtu;
    info.kernel_sees_rx = pc.driver == PortDriver::kAfPacket;
    if (pc.driver != PortDriver::kPmd) {
      auto link = GetLink(pc.interface);
      if (!link.ok()) return link.status();
      state.ifindex = link->ifindex;
    }
    ports_.push_back(std::move(state));
  }
  // Exception TAPs: one per pmd port (it is that port's kernel side, with its
  // MAC and address); one shared by af_xdp/af_packet ports, whose kernel
  // interfaces already exist.
  const size_t data_ports = ports_.size();
  uint16_t shared_tap = kNoPort;
  for (size_t i = 0; i < data_ports; ++i) {
    // By value: creating a TAP appends to ports_ and may move its elements.
    const uint16_t port_id = ports_[i].port_id;
    const PortConfig& pc = config_.ports[i];
    uint16_t tap = kNoPort;
    if (pc.driver == PortDriver::kPmd) {
      const MacAddr mac = port_info_[port_id].mac;
      if (absl::Status s = CreateExceptionTap(pc.interface, &mac, port_id, &tap); !s.ok()) return s;
      PortState& tap_state = ports_.back();
      ports_[i].ifindex = tap_state.ifindex;
      if (absl::Status s = SetLinkMtu(tap_state.ifindex, pc.mtu); !s.ok()) return s;
      if (pc.address) {
        if (absl::Status s = AddIpv4Address(tap_state.ifindex, *pc.address); !s.ok() && !absl::IsAlreadyExists(s)) {
          return s;
        }
      }
    } else {
      if (shared_tap == kNoPort) {
        if (absl::Status s = CreateExceptionTap(config_.dataplane.punt_interface, nullptr, kNoPort, &shared_tap);
            !s.ok()) {
          return s;
        }
      }
      tap = shared_tap;
    }
    PortState& p = ports_[i];
    p.exception_port = tap;
    port_info_[p.port_id].exception_port = tap;
    port_info_[p.port_id].exception_mac = port_info_[tap].mac;
  }
  // Tunnel host TAPs are ports too: made before the TX locks are.
  if (absl::Status s = CreateTunnels(); !s.ok()) return s;
  // One lock per port's TX queue when workers share it.
  tx_locks_.clear();
  for (size_t i = 0; i < port_info_.size(); ++i) {
    auto lock = std::make_unique<rte_spinlock_t>();
    rte_spinlock_init(lock.get());
    tx_locks_.push_back(std::move(lock));
  }
  return absl::OkStatus();
}

absl::Status Daemon::ConfigureKernel() {
  for (PortState& p : ports_) {
    if (p.is_exception) continue;
    if (p.driver == PortDriver::kAfPacket) {
      // af_packet copies frames: the kernel must not forward them a second time.
      if (absl::Status s = WriteSysctl(IfSysctl("ipv4", p.interface, "forwarding"), "0"); !s.ok()) return s;
    }
    if (p.driver == PortDriver::kAfXdp) {
      auto maps = XdpPuntMaps::FromInterface(p.ifindex);
      if (!maps.ok()) return absl::Status(maps.status().code(), absl::StrCat("port ", p.name, ": ", maps.status().message()));
      p.xdp.emplace(std::move(*maps));
    }
    auto addresses = GetIpv4Addresses(p.ifindex);
    if (!addresses.ok()) return addresses.status();
    kernel_addresses_[p.ifindex] = *addresses;
  }
  if (absl::Status s = ApplyPunt(config_); !s.ok()) return s;
  if (absl::Status s = ApplyTunnelEndpoints(); !s.ok()) return s;
  return ApplyAddresses();
}

absl::Status Daemon::ApplyAddresses() {
  std::vector<PortAddress> addresses;
  std::vector<uint32_t> local;
  for (const PortState& p : ports_) {
    if (p.is_exception) continue;
    auto it = kernel_addresses_.find(p.ifindex);
    if (it == kernel_addresses_.end()) continue;
    for (const InterfaceAddress& a : it->second) {
      addresses.push_back({p.port_id, a});
      local.push_back(a.host.value);
    }
  }
  // Each tunnel's overlay is a connected subnet on its host TAP (RouteTable
  // knows those ports as tunnels: routes via the overlay resolve to kTunnel).
  for (const TunnelState& t : tunnel_states_) addresses.push_back({t.host_port, t.config.overlay});
  absl::Status status = routes_->SetAddresses(addresses);
  for (PortState& p : ports_) {
    if (p.xdp) status.Update(p.xdp->SetLocalAddresses(local));
  }
  fib_routes_.store(fib_->routes(), std::memory_order_relaxed);
  return status;
}

// The config refuses more peers than the punt class control can hold, so the
// check below only guards against that limit and this one drifting apart.
static_assert(ControlPeers::kCapacity >= bgp::kMaxPeers);

// Punt ports, per-class punt rates and the BGP peers whose traffic is punt
// class control, for the workers and every XDP program.
absl::Status Daemon::ApplyPunt(const Config& config) {
  const std::array<uint32_t, kPuntReasonCount> rates = EffectivePuntRates(config.dataplane);
  std::vector<uint32_t> peers;
  for (const bgp::PeerConfig& peer : config.bgp.peers) peers.push_back(peer.address.value);
  absl::Status status;
  if (!tunables_->control_peers.Set(peers)) {
    status.Update(absl::InvalidArgumentError(absl::StrCat("bgp.peers: ", peers.size(),
                                                          " peers, but punt class control holds at most ",
                                                          ControlPeers::kCapacity, " addresses")));
  }
  tunables_->SetPuntRates(rates);
  for (PortState& p : ports_) {
    if (!p.xdp) continue;
    status.Update(p.xdp->SetPuntPorts(config.punt.tcp_ports, config.punt.udp_ports));
    status.Update(p.xdp->SetControlPeers(peers));
    status.Update(p.xdp->SetPuntRates(rates));
  }
  return status;
}

absl::Status Daemon::ApplyStaticRoutes(const Config& config, std::vector<std::string>* changes) {
  std::vector<RouteEntry> entries;
  for (const StaticRoute& r : config.routes) {
    RouteEntry e;
    e.prefix = r.prefix;
    e.source = RouteSource::kStatic;
    e.blackhole = r.blackhole;
    e.gateways = r.via;
    if (!r.port.empty()) {
      for (const PortState& p : ports_) {
        if (!p.is_exception && p.name == r.port) e.port = p.port_id;
      }
    }
    entries.push_back(std::move(e));
  }
  absl::Status s = routes_->SetStatic(entries, changes);
  fib_routes_.store(fib_->routes(), std::memory_order_relaxed);
  return s;
}

// The kernel gets our routes too: it is the slow path for what we punt (it
// must find a route before it answers TTL expiry with time exceeded) and it
// originates the appliance's own traffic. Local and connected routes it has.
void Daemon::MirrorToKernel(const Ipv4Prefix& prefix, RouteSource source, const std::vector<Nexthop>* nexthops) {
  if (source == RouteSource::kLocal || source == RouteSource::kConnected) return;
  if (nexthops == nullptr) {
    kernel_mirror_->Remove(prefix);
    return;
  }
  // Reused: a full table is a million calls (clear() keeps the capacity).
  KernelRouteMirror::Target& target = mirror_scratch_;
  target.clear();
  for (const Nexthop& nh : *nexthops) {
    if (nh.kind == NexthopKind::kBlackhole) target.blackhole = true;
    const PortState* port = PortById(nh.port);
    // A tunnel's overlay gateway is reached through the tunnel's host interface.
    if ((nh.kind == NexthopKind::kForward || nh.kind == NexthopKind::kTunnel) && port != nullptr) {
      target.nexthops.push_back({port->ifindex, Ipv4Addr{nh.gateway}});
    }
  }
  kernel_mirror_->Replace(prefix, target);
}

absl::Status Daemon::StartWorkers() {
  const uint32_t n = config_.dataplane.workers;
  std::vector<WorkerParams> params(n);
  std::vector<RxQueue> sources;
  for (const PortState& p : ports_) sources.push_back({p.port_id, 0});
  for (size_t i = 0; i < sources.size(); ++i) params[i % n].rx.push_back(sources[i]);
  ForwardContext tables;
  tables.fib = fib_.get();
  tables.neighbors = neighbors_.get();
  tables.ports = port_info_.data();
  tables.port_count = static_cast<uint16_t>(port_info_.size());
  tables.tunnels = tunnel_states_.empty() ? nullptr : tunnels_.get();
  if (flows_ != nullptr) {
    tables.services = services_.get();
    tables.flows = flows_.get();
    tables.snat = snat_.get();
  }
  tables.esp_rings = esp_rings_.empty() ? nullptr : esp_rings_.data();
  unsigned lcore = rte_get_next_lcore(-1, 1, 0);
  for (uint32_t w = 0; w < n; ++w) {
    if (lcore >= RTE_MAX_LCORE) return absl::InternalError("not enough worker lcores");
    WorkerParams& wp = params[w];
    wp.id = w;
    wp.burst = config_.dataplane.burst;
    wp.esp = esp_context_ != nullptr;
    wp.tx.resize(port_info_.size());
    for (uint16_t port = 0; port < port_info_.size(); ++port) {
      wp.tx[port] = TxQueue{port, 0, n > 1 ? tx_locks_[port].get() : nullptr};
    }
    workers_.push_back(std::make_unique<Worker>(wp, tables, rcu_, tunables_.get(), &stop_workers_));
    worker_lcores_.push_back(lcore);
    if (rte_eal_remote_launch(&Worker::Main, workers_.back().get(), lcore) != 0) {
      return absl::InternalError(absl::StrCat("cannot launch worker on lcore ", lcore));
    }
    lcore = rte_get_next_lcore(lcore, 1, 0);
  }
  return absl::OkStatus();
}

void Daemon::StopWorkers() {
  stop_workers_.store(true);
  for (unsigned lcore : worker_lcores_) rte_eal_wait_lcore(lcore);
  worker_lcores_.clear();
}

void Daemon::OnNeighbor(const NeighborEvent& e) {
  for (const PortState& p : ports_) {
    if (p.is_exception || p.ifindex != e.ifindex) continue;
    const uint32_t slot = neighbors_->Find(p.port_id, e.ip.value);
    if (slot == NeighborTable::kNoSlot) {
      if (!e.mac || e.deleted) return;
      auto interned = neighbors_->Intern(p.port_id, e.ip.value);
      if (!interned.ok()) {
        spdlog::warn("neighbor {} on {}: {}", ToString(e.ip), p.name, interned.status().message());
        return;
      }
      neighbors_->Set(*interned, e.mac);
    } else {
      neighbors_->Set(slot, e.deleted ? std::nullopt : e.mac);
    }
    spdlog::debug("neighbor {} on {} {}", ToString(e.ip), p.name, e.mac ? FormatMac(*e.mac) : "unresolved");
    if (e.deleted && gateways_.contains({p.port_id, e.ip.value})) {
      last_resolve_.erase({p.port_id, e.ip.value});
      (void)neighbors_->RequestResolution(p.port_id, e.ip.value);
    }
  }
}

void Daemon::OnAddress(const AddressEvent& e) {
  auto port = std::find_if(ports_.begin(), ports_.end(),
                           [&](const PortState& p) { return !p.is_exception && p.ifindex == e.ifindex; });
  if (port == ports_.end()) return;
  auto& list = kernel_addresses_[e.ifindex];
  auto same = [&](const InterfaceAddress& a) {
    return a.host == e.address.host && a.subnet == e.address.subnet;
  };
  list.erase(std::remove_if(list.begin(), list.end(), same), list.end());
  if (!e.deleted) list.push_back(e.address);
  spdlog::info("address {}/{} {} on {}", ToString(e.address.host), e.address.subnet.len,
               e.deleted ? "removed" : "added", port->name);
  if (absl::Status s = ApplyAddresses(); !s.ok()) spdlog::error("applying addresses: {}", s.message());
}

void Daemon::ServiceNeighborRequests() {
  std::vector<std::pair<uint16_t, uint32_t>> requests;
  neighbors_->DrainRequests(&requests);
  const auto now = std::chrono::steady_clock::now();
  if (now - last_refresh_ > kGatewayRefresh) {
    last_refresh_ = now;
    for (const auto& gw : gateways_) {
      last_resolve_.erase(gw);
      requests.push_back(gw);
    }
  }
  for (const auto& [port_id, ip] : requests) {
    auto& last = last_resolve_[{port_id, ip}];
    if (last != std::chrono::steady_clock::time_point{} && now - last < kResolveRetry) continue;
    last = now;
    const PortState* p = PortById(port_id);
    if (p == nullptr || p->ifindex == 0) continue;
    neighbor_requests_.fetch_add(1, std::memory_order_relaxed);
    if (absl::Status s = netlink_->ResolveNeighbor(p->ifindex, Ipv4Addr{ip}); !s.ok()) {
      spdlog::debug("resolve {} on {}: {}", ToString(Ipv4Addr{ip}), p->name, s.message());
    }
  }
  // Bound the bookkeeping of one-off destinations.
  if (last_resolve_.size() > 4 * kNeighborCapacity) last_resolve_.clear();
  uint64_t resolved = 0;
  for (const auto& gw : gateways_) {
    const uint32_t slot = neighbors_->Find(gw.first, gw.second);
    MacAddr mac;
    if (slot != NeighborTable::kNoSlot && NeighborTable::Load(neighbors_->Word(slot), &mac)) ++resolved;
  }
  neighbors_resolved_.store(resolved, std::memory_order_relaxed);
}

absl::StatusOr<std::vector<std::string>> Daemon::Reload(const std::string& origin) {
  spdlog::info("reload requested ({})", origin);
  auto next = LoadConfigFile(config_.source);
  if (!next.ok()) {
    spdlog::error("reload rejected, running configuration unchanged:\n{}", next.status().message());
    return next.status();
  }
  if (absl::Status s = CheckReloadable(config_, *next); !s.ok()) {
    spdlog::error("reload rejected, running configuration unchanged:\n{}", s.message());
    return s;
  }
  if (absl::Status s = CheckServicesReloadable(*next); !s.ok()) {
    spdlog::error("reload rejected, running configuration unchanged:\n{}", s.message());
    return s;
  }
  std::vector<std::string> changes;
  if (absl::Status s = ApplyStaticRoutes(*next, &changes); !s.ok()) {
    // Static routes were validated; what fails here is capacity. Keep going
    // with what applied and say so.
    spdlog::error("reload: {}", s.message());
    changes.push_back(absl::StrCat("error: ", s.message()));
  }
  const DataplaneConfig& dp = next->dataplane;
  if (!(next->punt == config_.punt) || EffectivePuntRates(dp) != EffectivePuntRates(config_.dataplane) ||
      !(next->bgp.peers == config_.bgp.peers)) {
    if (absl::Status s = ApplyPunt(*next); !s.ok()) return s;
    changes.push_back("punt ports, rates or control peers changed");
  }
  if (dp.idle_sleep_us != config_.dataplane.idle_sleep_us ||
      dp.idle_polls_before_sleep != config_.dataplane.idle_polls_before_sleep) {
    tunables_->idle_sleep_us = dp.idle_sleep_us;
    tunables_->idle_polls_before_sleep = dp.idle_polls_before_sleep;
    changes.push_back("dataplane tunables changed");
  }
  if (bgp_ != nullptr && !(next->bgp == config_.bgp)) {
    if (absl::Status s = bgp_->Reconfigure(next->bgp); !s.ok()) return s;
    changes.push_back("bgp configuration changed");
  }
  ReloadTunnels(*next, &changes);
  if (absl::Status s = ReloadServices(*next, &changes); !s.ok()) return s;
  if (next->log_level != config_.log_level) {
    spdlog::set_level(spdlog::level::from_str(next->log_level));
    changes.push_back(absl::StrCat("log level ", next->log_level));
  }
  config_ = std::move(*next);
  spdlog::info("reload applied: {} change(s)", changes.size());
  for (const std::string& c : changes) spdlog::info("  {}", c);
  return changes;
}

const PortState* Daemon::PortById(uint16_t port_id) const {
  for (const PortState& p : ports_) {
    if (p.port_id == port_id) return &p;
  }
  return nullptr;
}

std::string Daemon::PortName(uint16_t port_id) const {
  const PortState* p = PortById(port_id);
  return p == nullptr ? absl::StrCat("port", port_id) : p->name;
}

absl::Status Daemon::Run() {
  // Signals arrive through a signalfd in the control loop; block them first
  // so that threads created later (EAL, metrics) inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (absl::Status s = InitEal(); !s.ok()) return s;
  if (absl::Status s = CreateTables(); !s.ok()) return s;
  auto netlink = NetlinkMonitor::Open();
  if (!netlink.ok()) return netlink.status();
  netlink_ = std::move(*netlink);
  if (absl::Status s = CreatePorts(); !s.ok()) return s;
  // Routes a previous run left (after SIGKILL) are ours to replace.
  if (absl::Status s = FlushKernelRoutes(); !s.ok()) spdlog::warn("flushing old kernel routes: {}", s.message());
  if (absl::Status s = ConfigureKernel(); !s.ok()) return s;
  if (absl::Status s = ApplyStaticRoutes(config_, nullptr); !s.ok()) return s;
  if (absl::Status s = netlink_->RequestDump(); !s.ok()) return s;
  if (absl::Status s = StartWorkers(); !s.ok()) return s;

  if (absl::Status s = StartBgp(); !s.ok()) return s;
  // After the workers (they serve the VIPs) and BGP (it announces them).
  if (absl::Status s = StartServices(); !s.ok()) return s;

  auto admin = AdminServer::Listen(config_.admin.socket,
                                   [this](const AdminRequest& r) { return HandleAdmin(r); });
  if (!admin.ok()) return admin.status();
  admin_ = std::move(*admin);
  if (!config_.metrics.listen.empty()) {
    auto metrics = MetricsExporter::Start(config_.metrics.listen, [this] { return Snapshot(); });
    if (!metrics.ok()) return metrics.status();
    metrics_ = std::move(*metrics);
  }

  const int sfd = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
  const int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  const itimerspec tick{{0, 100'000'000}, {0, 100'000'000}};
  timerfd_settime(tfd, 0, &tick, nullptr);
  const int efd = epoll_create1(EPOLL_CLOEXEC);
  const int health_fd = prober_ != nullptr ? prober_->event_fd() : -1;
  for (int fd : {sfd, tfd, netlink_->fd(), admin_->fd(), bgp_event_fd_, health_fd}) {
    if (fd < 0) continue;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(efd, EPOLL_CTL_ADD, fd, &ev);
  }

  uint64_t watchdog_usec = 0;
  const bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
  auto last_watchdog = std::chrono::steady_clock::now();
  sd_notifyf(0, "READY=1\nSTATUS=forwarding on %zu port(s) with %u worker(s)", config_.ports.size(),
             config_.dataplane.workers);
  spdlog::info("isthmusd {} ready: {} port(s), {} worker(s), {} FIB route(s)", ISTHMUS_VERSION, config_.ports.size(),
               config_.dataplane.workers, fib_->routes());

  bool stop = false;
  // Set by SIGTERM/SIGINT: until then the loop goes on as usual (workers
  // forward, peers' UPDATEs reach the FIB, neighbours resolve) while the
  // peers move their traffic away from us.
  std::optional<std::chrono::steady_clock::time_point> drain_until;
  while (!stop) {
    epoll_event events[8];
    auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(kTick);
    if (drain_until.has_value()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*drain_until - std::chrono::steady_clock::now());
      timeout = std::clamp(left, std::chrono::milliseconds(0), timeout);
    }
    const int n = epoll_wait(efd, events, 8, static_cast<int>(timeout.count()));
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == sfd) {
        signalfd_siginfo info;
        while (read(sfd, &info, sizeof(info)) == sizeof(info)) {
          const char* name = strsignal(static_cast<int>(info.ssi_signo));
          if (info.ssi_signo == SIGHUP) {
            if (drain_until.has_value()) {
              spdlog::info("signal {}: reload ignored while shutting down", name);
            } else {
              (void)Reload("SIGHUP");
            }
          } else if (drain_until.has_value()) {
            spdlog::info("signal {}: drain cut short", name);
            stop = true;
          } else {
            spdlog::info("signal {}: shutting down", name);
            sd_notify(0, "STOPPING=1");
            drain_until = std::chrono::steady_clock::now() + DrainBgpForShutdown();
          }
        }
      } else if (fd == tfd) {
        uint64_t expirations;
        (void)!read(tfd, &expirations, sizeof(expirations));
      } else if (fd == netlink_->fd()) {
        NetlinkMonitor::Handlers handlers;
        handlers.neighbor = [this](const NeighborEvent& e) { OnNeighbor(e); };
        handlers.address = [this](const AddressEvent& e) { OnAddress(e); };
        if (absl::Status s = netlink_->Process(handlers); !s.ok()) spdlog::warn("netlink: {}", s.message());
      } else if (fd == admin_->fd()) {
        admin_->Poll();
      } else if (fd == bgp_event_fd_) {
        DrainBgpRoutes();
      } else if (fd == health_fd) {
        OnHealthEvents();
      }
    }
    if (std::chrono::steady_clock::now() - last_ageing_ >= kTick) {
      AgeFlows();
      last_ageing_ = std::chrono::steady_clock::now();
    }
    ServiceNeighborRequests();
    tunnels_->Reclaim();
    ExtendEspSeqReservations();
    DrainEspSas();
    ReclaimEspSas();
    if (watchdog && std::chrono::steady_clock::now() - last_watchdog > std::chrono::microseconds(watchdog_usec / 3)) {
      sd_notify(0, "WATCHDOG=1");
      last_watchdog = std::chrono::steady_clock::now();
    }
    if (drain_until.has_value() && std::chrono::steady_clock::now() >= *drain_until) stop = true;
  }
  metrics_.reset();   // no scrape may reach the speaker while it stops
  // Drained: now the Cease, then the data plane stops.
  if (prober_ != nullptr) prober_->Stop();
  StopBgp();
  kernel_mirror_.reset();   // nothing may write routes while they are removed
  if (absl::Status s = FlushKernelRoutes(); !s.ok()) spdlog::warn("removing kernel routes: {}", s.message());
  close(efd);
  close(tfd);
  close(sfd);
  StopWorkers();
  return absl::OkStatus();
}

}  // namespace isthmus
