#pragma once
// isthmusd: owns the EAL, the ports, the tables the workers read, and the
// control thread's event loop (signals, netlink, admin API, timers).

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "bgp/speaker/speaker.h"
#include "control/admin/admin_server.h"
#include "control/config/config.h"
#include "control/daemon/tunnel_kernel_sinks.h"
#include "control/health/prober.h"
#include "control/metrics/dataplane_snapshot.h"
#include "control/metrics/metrics_exporter.h"
#include "control/netlink/kernel_route_mirror.h"
#include "control/netlink/netlink_monitor.h"
#include "control/routing/route_table.h"
#include "dataplane/fib/fib.h"
#include "dataplane/ipsec/esp_context.h"
#include "dataplane/ipsec/esp_sa.h"
#include "dataplane/ipsec/esp_seq_reservations.h"
#include "dataplane/nat/flow_table.h"
#include "dataplane/nat/snat_port_allocator.h"
#include "dataplane/neighbor/neighbor_table.h"
#include "dataplane/service/service_table.h"
#include "dataplane/tunnel/tunnel_table.h"
#include "dataplane/worker/worker.h"
#include "dataplane/xdp/xdp_punt_maps.h"
#include "nlohmann/json.hpp"

struct rte_mempool;
struct rte_rcu_qsbr;
struct rte_ring;

namespace isthmus {

// A data port or exception TAP as the control thread knows it.
struct PortState {
  std::string name;            // config name ("west"), or the TAP's ifname
  PortDriver driver = PortDriver::kAfXdp;
  std::string interface;       // the kernel interface that carries its addresses
  uint16_t port_id = 0;
  int ifindex = 0;             // kernel interface for neighbours and addresses
  bool is_exception = false;
  uint16_t exception_port = kNoPort;
  std::optional<XdpPuntMaps> xdp;
  std::vector<int> xsk_fds;    // af_xdp: the driver's AF_XDP sockets (kernel drop counters)
};

// One ESP SA direction of an ipsec tunnel and the config it came from
// (an SA is replaced when its SPI or key file changes).
struct EspSaState {
  IpsecSaConfig config;
  std::unique_ptr<EspSa> sa;
  // An inbound SA a reload no longer lists stays in service, draining, until
  // no packet has arrived on it for kEspDrainIdle (make-before-break: the
  // peer may still be sending on it while it switches).
  bool draining = false;
  uint64_t drain_packets = 0;                        // stats().packets when last seen moving
  std::chrono::steady_clock::time_point drain_since;  // when it last moved
  // Outbound: the SA's claim on its key's durable sequence numbers
  // (ExtendEspSeqReservations raises the SA's limit ahead of use).
  std::unique_ptr<EspSeqLease> seq_lease;
  bool seq_extend_failing = false;  // logged once per failure streak
};

// A configured tunnel as the control thread knows it (tunnels.cc).
struct TunnelState {
  TunnelConfig config;
  uint32_t id = 0;             // index in config.tunnels, TunnelTable slot
  uint16_t host_port = 0;      // DPDK port id of the host TAP
  int ifindex = 0;             // the host TAP in the kernel
  uint32_t mtu = 0;            // effective (configured or derived)
  // ipsec only; guarded by Daemon::esp_mu_ (the metrics thread reads stats).
  EspSaState esp_outbound;
  std::vector<EspSaState> esp_inbound;
};

// An anycast service as the control thread knows it (services.cc).
enum class ServiceRunState { kDown, kUp, kDegraded, kDrained };
std::string_view ToString(ServiceRunState s);

struct ServiceRuntime {
  // The service's config, with `backends` in slot order: a backend keeps
  // its slot (the backend id flows carry) for as long as it is configured,
  // and a removed one leaves a retired slot (reloads never renumber).
  ServiceConfig config;
  std::vector<bool> backend_up;       // by slot, from the prober's events
  std::vector<bool> backend_removed;  // retired slots: never probed or picked
  bool removed = false;               // a retired service slot (its ports cleared)
  bool drained = false;               // `isthmusctl service drain`
  ServiceRunState last_state = ServiceRunState::kDown;   // for logging transitions

  static ServiceRuntime For(const ServiceConfig& config);
  ServiceConfig Live() const;   // the config without retired backend slots
  void Retire();
  // Takes `next` (same name) keeping slots by address and port; returns the
  // slots it retired.
  std::vector<size_t> Merge(const ServiceConfig& next);
  ServiceRunState State() const;
  uint32_t BackendsUp() const;
};

// Service and backend ids are 16-bit in the flow table.
inline constexpr size_t kMaxServiceSlots = UINT16_MAX;
inline constexpr size_t kMaxBackendSlots = UINT16_MAX;

class Daemon {
 public:
  explicit Daemon(Config config) : config_(std::move(config)) {}
  ~Daemon();
  // Builds everything, then runs the control loop until SIGTERM/SIGINT.
  absl::Status Run();

 private:
  absl::Status InitEal();
  absl::Status CreateTables();
  absl::Status CreatePorts();
  absl::Status CreateExceptionTap(const std::string& ifname, const MacAddr* mac, uint16_t bridge_to,
                                  uint16_t* port_id);
  absl::Status ConfigureKernel();
  // Tunnels (tunnels.cc): host TAPs, table entries, views.
  absl::Status CreateTunnels();
  absl::Status CreateTunnel(const TunnelConfig& tc, uint32_t id);
  uint32_t DefaultTunnelMtu(const TunnelConfig& tc) const;
  TunnelEntry MakeTunnelEntry(const TunnelState& t) const;
  absl::Status ApplyTunnelEndpoints();
  // ESP (tunnels.cc): SAs built from config, replaced on rekey.
  // Outbound SAs also get their lease on durable sequence numbers in `lease`.
  absl::StatusOr<std::unique_ptr<EspSa>> CreateEspSa(const TunnelState& t, const IpsecSaConfig& sa, bool outbound,
                                                     std::unique_ptr<EspSeqLease>* lease);
  absl::Status OpenEspSeqReservations();
  // Control tick: reserves (durably) the next block of every outbound SA
  // that has used more than half of its reservation, then lets it use it.
  void ExtendEspSeqReservations();
  absl::Status BuildEspSas(TunnelState& t, const IpsecConfig& next, std::vector<std::string>* changes);
  void RetireEspSa(std::unique_ptr<EspSa> sa);
  void ReclaimEspSas();
  // Retires draining inbound SAs that have been idle long enough (control tick).
  void DrainEspSas();
  absl::Status CreateEspRings();
  nlohmann::json ShowEsp(const TunnelState& t) const;
  void ReloadTunnels(const Config& next, std::vector<std::string>* changes);
  std::string TunnelDownReason(const TunnelState& t) const;
  nlohmann::json ShowTunnels() const;
  void SnapshotTunnels(DataplaneSnapshot* snap) const;
  // Anycast services (services.cc).
  absl::Status CreateServiceTables();
  absl::Status StartServices();
  static std::vector<health::ProbeTarget> ProbeTargets(const std::vector<ServiceRuntime>& services);
  absl::Status PublishServices();
  void SyncServiceAnnouncements();
  void OnHealthEvents();
  void AgeFlows();
  absl::Status CheckServicesReloadable(const Config& next) const;
  absl::Status ReloadServices(const Config& next, std::vector<std::string>* changes);
  absl::StatusOr<nlohmann::json> DrainService(const std::string& name, bool drain);
  nlohmann::json ShowServices() const;
  nlohmann::json ShowFlows() const;
  void SnapshotServices(DataplaneSnapshot* snap) const;
  absl::Status StartWorkers();
  void StopWorkers();
  absl::Status LoopOnce(int epoll_fd, bool* stop);

  // Control-plane state changes.
  absl::Status ApplyAddresses();
  absl::Status ApplyStaticRoutes(const Config& config, std::vector<std::string>* changes);
  absl::Status ApplyPunt(const Config& config);
  void MirrorToKernel(const Ipv4Prefix& prefix, RouteSource source, const std::vector<Nexthop>* nexthops);
  KernelRouteMirror::Target mirror_scratch_;   // MirrorToKernel's, control thread
  void OnNeighbor(const NeighborEvent& e);
  void OnAddress(const AddressEvent& e);
  void ServiceNeighborRequests();
  absl::StatusOr<std::vector<std::string>> Reload(const std::string& origin);

  // BGP (bgp_glue.cc): the speaker runs its own thread; best paths come
  // back through a queue drained on the control thread.
  absl::Status StartBgp();
  void StopBgp();
  // SIGTERM's first step: withdraws (or GRACEFUL_SHUTDOWN-tags) everything we
  // advertise, waits for the peers' acknowledgement and returns how long to
  // keep forwarding before StopBgp (bgp.shutdown_drain_ms).
  std::chrono::milliseconds DrainBgpForShutdown();
  void DrainBgpRoutes();
  absl::StatusOr<nlohmann::json> ShowBgp(const std::vector<std::string>& args);

  // Views (admin API and metrics).
  absl::StatusOr<nlohmann::json> HandleAdmin(const AdminRequest& request);
  nlohmann::json ShowPorts() const;
  nlohmann::json ShowRoutes() const;
  nlohmann::json ShowFib() const;
  nlohmann::json ShowDrops() const;
  nlohmann::json ShowStats() const;
  DataplaneSnapshot Snapshot() const;    // thread-safe (metrics thread)
  const PortState* PortById(uint16_t port_id) const;
  std::string PortName(uint16_t port_id) const;

  Config config_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  bool eal_ready_ = false;
  rte_mempool* pool_ = nullptr;
  rte_rcu_qsbr* rcu_ = nullptr;
  std::unique_ptr<Fib> fib_;
  std::unique_ptr<NeighborTable> neighbors_;
  std::unique_ptr<RouteTable> routes_;
  std::unique_ptr<TunnelTable> tunnels_;
  TunnelKernelSinks kernel_sinks_;   // see tunnel_kernel_sinks.h
  // Declared before the tunnels: their SAs' leases point into it.
  std::unique_ptr<EspSeqReservations> esp_seq_;  // set when an ipsec tunnel exists
  std::vector<TunnelState> tunnel_states_;
  std::unique_ptr<EspContext> esp_context_;      // set when an ipsec tunnel exists
  std::vector<rte_ring*> esp_rings_;             // per worker, with ipsec tunnels and 2+ workers
  struct RetiredEspSa {
    std::unique_ptr<EspSa> sa;
    uint64_t token;
  };
  std::deque<RetiredEspSa> retired_esp_sas_;     // freed after an RCU grace period
  std::vector<std::unique_ptr<EspSa>> pending_retire_;  // unlisted by BuildEspSas, retired after publishing
  mutable absl::Mutex esp_mu_;                   // SA objects vs the metrics thread
  std::vector<PortState> ports_;                 // data ports first, then TAPs
  std::vector<PortInfo> port_info_;              // indexed by DPDK port id
  std::vector<std::unique_ptr<rte_spinlock_t>> tx_locks_;
  std::unique_ptr<WorkerTunables> tunables_;
  std::atomic<bool> stop_workers_{false};
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<unsigned> worker_lcores_;
  std::unique_ptr<NetlinkMonitor> netlink_;
  std::unique_ptr<AdminServer> admin_;
  std::unique_ptr<MetricsExporter> metrics_;
  std::map<int, std::vector<InterfaceAddress>> kernel_addresses_;  // ifindex -> addresses
  std::map<std::pair<uint16_t, uint32_t>, std::chrono::steady_clock::time_point> last_resolve_;
  std::set<std::pair<uint16_t, uint32_t>> gateways_;
  std::chrono::steady_clock::time_point last_refresh_{};
  std::atomic<uint64_t> fib_routes_{0};
  std::atomic<uint64_t> neighbor_requests_{0};
  std::atomic<uint64_t> neighbors_resolved_{0};
  std::atomic<uint64_t> kernel_route_errors_{0};
  std::unique_ptr<KernelRouteMirror> kernel_mirror_;
  std::unique_ptr<bgp::Speaker> bgp_;
  int bgp_event_fd_ = -1;
  absl::Mutex bgp_mu_;
  std::vector<bgp::FibRoute> bgp_pending_ ABSL_GUARDED_BY(bgp_mu_);
  // Control thread: best paths not yet in the route table, applied from
  // bgp_backlog_next_ on in slices.
  std::vector<BgpRoute> bgp_backlog_;
  size_t bgp_backlog_next_ = 0;
  // Anycast services: the snapshot and flow table the workers read, the
  // prober, and per service its health (guarded: the metrics thread reads).
  std::unique_ptr<ServiceTable> services_;
  std::unique_ptr<SnatPortAllocator> snat_;
  std::unique_ptr<FlowTable> flows_;
  std::unique_ptr<health::Prober> prober_;
  mutable absl::Mutex services_mu_;
  std::vector<ServiceRuntime> service_states_ ABSL_GUARDED_BY(services_mu_);
  std::map<uint32_t, bgp::Announcement> announced_vips_;   // control thread
  std::vector<NatTimeouts> service_timeouts_;              // by service id, for ageing
  std::chrono::steady_clock::time_point last_ageing_{};
};

}  // namespace isthmus
