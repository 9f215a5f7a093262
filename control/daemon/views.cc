// The daemon's read-only views: admin API answers and the metrics snapshot.

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "control/daemon/daemon.h"
#include "dataplane/port/port.h"
#include "dataplane/port/xsk_stats.h"
#include "isthmus_version.h"

namespace isthmus {

absl::StatusOr<nlohmann::json> Daemon::HandleAdmin(const AdminRequest& request) {
  if (request.command == "show") {
    static constexpr const char* kAccepted = "ports, routes, fib, drops, stats, bgp, tunnels, services, flows";
    if (request.args.empty()) return absl::InvalidArgumentError(absl::StrCat("show what? (accepted: ", kAccepted, ")"));
    const std::string& what = request.args[0];
    if (what == "ports") return ShowPorts();
    if (what == "routes") return ShowRoutes();
    if (what == "fib") return ShowFib();
    if (what == "drops") return ShowDrops();
    if (what == "stats") return ShowStats();
    if (what == "bgp") return ShowBgp(request.args);
    if (what == "tunnels") return ShowTunnels();
    if (what == "services") return ShowServices();
    if (what == "flows") return ShowFlows();
    return absl::InvalidArgumentError(absl::StrCat("unknown show target '", what, "' (accepted: ", kAccepted, ")"));
  }
  if (request.command == "reload") {
    auto changes = Reload("admin API");
    if (!changes.ok()) return changes.status();
    return nlohmann::json{{"changes", *changes}};
  }
  if (request.command == "service") {
    if (request.args.size() != 2 || (request.args[0] != "drain" && request.args[0] != "undrain")) {
      return absl::InvalidArgumentError("usage: service drain NAME | service undrain NAME");
    }
    return DrainService(request.args[1], request.args[0] == "drain");
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown command '", request.command, "' (accepted: show, reload, service)"));
}

namespace {

// The port's counters as the driver reports them, plus what the kernel
// dropped in front of its AF_XDP sockets.
PortCounters ReadPortCounters(const PortState& p) {
  rte_eth_stats stats{};
  rte_eth_stats_get(p.port_id, &stats);
  rte_eth_link link{};
  rte_eth_link_get_nowait(p.port_id, &link);
  PortCounters pc;
  pc.name = p.name;
  pc.driver = p.is_exception ? "tap" : std::string(ToString(p.driver));
  pc.interface = p.interface;
  pc.rx_packets = stats.ipackets;
  pc.rx_bytes = stats.ibytes;
  pc.tx_packets = stats.opackets;
  pc.tx_bytes = stats.obytes;
  pc.rx_missed = stats.imissed;
  pc.rx_errors = stats.ierrors;
  pc.tx_errors = stats.oerrors;
  pc.rx_ring_full = ReadXskCounters(p.xsk_fds).rx_ring_full;
  pc.link_up = link.link_status == RTE_ETH_LINK_UP;
  return pc;
}

WorkerCounters ReadWorkerCounters(const Worker& w) {
  const LcoreCounters& c = w.counters();
  return {.id = w.id(),
          .busy_polls = c.busy_polls.Get(),
          .idle_polls = c.idle_polls.Get(),
          .rx_packets = c.rx_packets.Get(),
          .tx_packets = c.tx_packets.Get(),
          .stalls = c.stalls.Get(),
          .longest_loop_gap_seconds =
              static_cast<double>(c.longest_loop_gap_cycles.Get()) / static_cast<double>(rte_get_tsc_hz())};
}

// Every mempool of the process (the mbuf pool, crypto session pools, any a
// driver made), by name. rte_mempool_in_use_count counts what sits in the
// per-lcore caches as free, so an idle data plane reads a stable number.
std::vector<MempoolSnapshot> ReadMempools() {
  std::vector<MempoolSnapshot> pools;
  rte_mempool_walk(
      [](rte_mempool* mp, void* arg) {
        static_cast<std::vector<MempoolSnapshot>*>(arg)->push_back(
            {mp->name, mp->size, rte_mempool_in_use_count(mp)});
      },
      &pools);
  std::sort(pools.begin(), pools.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return pools;
}

}  // namespace

nlohmann::json Daemon::ShowPorts() const {
  nlohmann::json out = nlohmann::json::array();
  for (const PortState& p : ports_) {
    const PortCounters pc = ReadPortCounters(p);
    uint16_t mtu = 0;
    rte_eth_dev_get_mtu(p.port_id, &mtu);
    out.push_back({
        {"name", pc.name},
        {"driver", pc.driver},
        {"interface", pc.interface},
        {"port_id", p.port_id},
        {"mac", FormatMac(port_info_[p.port_id].mac)},
        {"link_up", pc.link_up},
        {"mtu", mtu},
        {"rx_packets", pc.rx_packets},
        {"rx_bytes", pc.rx_bytes},
        {"tx_packets", pc.tx_packets},
        {"tx_bytes", pc.tx_bytes},
        {"rx_missed", pc.rx_missed},
        {"rx_ring_full", pc.rx_ring_full},
        {"rx_errors", pc.rx_errors},
        {"tx_errors", pc.tx_errors},
    });
  }
  return out;
}

nlohmann::json Daemon::ShowRoutes() const {
  nlohmann::json out = nlohmann::json::array();
  for (const RouteTable::View& v : routes_->Routes()) {
    nlohmann::json nexthops = nlohmann::json::array();
    if ((v.entry.source == RouteSource::kStatic || v.entry.source == RouteSource::kBgp) && !v.entry.blackhole) {
      for (const Ipv4Addr& gw : v.entry.gateways) {
        std::string port;
        for (const Nexthop& nh : v.nexthops) {
          if (nh.gateway == gw.value) port = PortName(nh.port);
        }
        nexthops.push_back({{"via", ToString(gw)}, {"port", port}});
      }
    } else if (v.entry.port) {
      nexthops.push_back({{"via", ""}, {"port", PortName(*v.entry.port)}});
    }
    nlohmann::json route = {{"prefix", ToString(v.entry.prefix)},
                            {"source", std::string(ToString(v.entry.source))},
                            {"blackhole", v.entry.blackhole},
                            {"active", v.active},
                            {"nexthops", nexthops}};
    if (!v.inactive_reason.empty()) route["inactive_reason"] = v.inactive_reason;
    out.push_back(std::move(route));
  }
  return out;
}

nlohmann::json Daemon::ShowFib() const {
  static constexpr const char* kKind[] = {"forward", "connected", "local", "blackhole", "tunnel"};
  nlohmann::json entries = nlohmann::json::array();
  std::vector<std::tuple<uint32_t, uint8_t, uint32_t>> rows;
  fib_->ForEachRoute([&](uint32_t prefix, uint8_t len, uint32_t group) { rows.emplace_back(prefix, len, group); });
  std::sort(rows.begin(), rows.end());
  for (const auto& [prefix, len, gid] : rows) {
    nlohmann::json nexthops = nlohmann::json::array();
    const NexthopGroup& group = fib_->group(gid);
    for (uint32_t i = 0; i < group.count; ++i) {
      const Nexthop& nh = fib_->nexthop(group.members[i]);
      MacAddr mac;
      const bool resolved = nh.kind == NexthopKind::kForward && NeighborTable::Load(neighbors_->Word(nh.neighbor_slot), &mac);
      nexthops.push_back({{"kind", kKind[static_cast<int>(nh.kind)]},
                          {"via", nh.kind == NexthopKind::kForward || (nh.kind == NexthopKind::kTunnel && nh.gateway != 0)
                                      ? ToString(Ipv4Addr{nh.gateway})
                                      : ""},
                          {"port", nh.kind == NexthopKind::kBlackhole ? "" : PortName(nh.port)},
                          {"mac", resolved ? FormatMac(mac) : ""},
                          {"resolved", resolved}});
    }
    entries.push_back({{"prefix", ToString(Ipv4Prefix{Ipv4Addr{prefix}, len})}, {"group", gid}, {"nexthops", nexthops}});
  }
  return {{"routes", fib_->routes()}, {"entries", entries}};
}

nlohmann::json Daemon::ShowDrops() const {
  const DataplaneSnapshot snap = Snapshot();
  nlohmann::json drops = nlohmann::json::array(), punts = nlohmann::json::array();
  for (size_t i = 0; i < kDropReasonCount; ++i) {
    drops.push_back({{"reason", kDropReasonInfo[i].name}, {"help", kDropReasonInfo[i].help}, {"packets", snap.drops[i]}});
  }
  for (size_t i = 0; i < kPuntReasonCount; ++i) {
    punts.push_back({{"reason", kPuntReasonInfo[i].name}, {"help", kPuntReasonInfo[i].help}, {"packets", snap.punts[i]}});
  }
  return {{"drops", drops}, {"punts", punts}};
}

nlohmann::json Daemon::ShowStats() const {
  nlohmann::json workers = nlohmann::json::array();
  for (size_t i = 0; i < workers_.size(); ++i) {
    const WorkerCounters c = ReadWorkerCounters(*workers_[i]);
    workers.push_back({{"id", c.id},
                       {"lcore", worker_lcores_.size() > i ? worker_lcores_[i] : 0},
                       {"busy_polls", c.busy_polls},
                       {"idle_polls", c.idle_polls},
                       {"rx_packets", c.rx_packets},
                       {"tx_packets", c.tx_packets},
                       {"stalls", c.stalls},
                       {"longest_loop_gap_ms", c.longest_loop_gap_seconds * 1000}});
  }
  nlohmann::json mempools = nlohmann::json::array();
  for (const MempoolSnapshot& p : ReadMempools()) {
    mempools.push_back({{"name", p.name}, {"size", p.size}, {"in_use", p.in_use}});
  }
  const auto uptime = std::chrono::steady_clock::now() - started_;
  return {{"version", ISTHMUS_VERSION},
          {"uptime_seconds", std::chrono::duration_cast<std::chrono::seconds>(uptime).count()},
          {"fib_routes", fib_routes_.load()},
          {"neighbors", neighbors_->size()},
          {"workers", workers},
          {"mempools", mempools}};
}

DataplaneSnapshot Daemon::Snapshot() const {
  DataplaneSnapshot snap;
  for (const PortState& p : ports_) {
    snap.ports.push_back(ReadPortCounters(p));
    if (p.xdp) {
      auto xdp = p.xdp->ReadStats();
      if (xdp.ok()) {
        snap.xdp.push_back({p.name, xdp->to_kernel, xdp->to_dataplane});
        // XDP's rate-limit drops count under the same punt_limited_* reasons.
        const auto limited = LimitedByPuntReason(*xdp);
        for (size_t r = 0; r < kPuntReasonCount; ++r) {
          snap.drops[static_cast<size_t>(PuntLimitedDrop(static_cast<PuntReason>(r)))] += limited[r];
        }
      }
    }
  }
  for (const auto& w : workers_) {
    const LcoreCounters& c = w->counters();
    snap.workers.push_back(ReadWorkerCounters(*w));
    for (size_t i = 0; i < kDropReasonCount; ++i) snap.drops[i] += c.drops[i].Get();
    for (size_t i = 0; i < kPuntReasonCount; ++i) snap.punts[i] += c.punts[i].Get();
  }
  snap.mempools = ReadMempools();
  snap.fib_routes = fib_routes_.load(std::memory_order_relaxed);
  snap.neighbor_requests = neighbor_requests_.load(std::memory_order_relaxed);
  snap.neighbors_resolved = neighbors_resolved_.load(std::memory_order_relaxed);
  SnapshotTunnels(&snap);
  SnapshotServices(&snap);
  snap.uptime_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  if (bgp_ != nullptr) snap.bgp = bgp_->Metrics();
  return snap;
}

}  // namespace isthmus
