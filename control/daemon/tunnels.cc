// Tunnels on the control side: each configured tunnel gets a host TAP (its
// kernel interface, carrying the overlay address, ARP off: a point-to-point
// L3 link), an immutable TunnelEntry in the TunnelTable the workers read,
// its overlay as a connected subnet that resolves to kTunnel next hops, and
// its endpoint in the XDP program's tunnel_endpoints map.

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <rte_ethdev.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "control/daemon/daemon.h"
#include "control/netlink/interface_control.h"
#include "dataplane/port/port.h"
#include "dataplane/tunnel/vxlan.h"
#include "spdlog/spdlog.h"

namespace isthmus {
namespace {

constexpr uint32_t kTcpIpHeaders = 40;  // MSS = MTU - IPv4 and TCP headers (RFC 9293 3.7.1)

// ARP off on the host TAP: the kernel addresses frames to the TAP's own MAC
// (NUD_NOARP) and the data plane writes the inner Ethernet header anyway.
absl::Status SetNoArp(const std::string& ifname) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket for SIOCSIFFLAGS");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  absl::Status status;
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) {
    status = absl::ErrnoToStatus(errno, absl::StrCat(ifname, ": SIOCGIFFLAGS"));
  } else {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_NOARP);
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) status = absl::ErrnoToStatus(errno, absl::StrCat(ifname, ": IFF_NOARP"));
  }
  close(fd);
  return status;
}

uint16_t MssClampValue(const MssClampConfig& c, uint32_t mtu) {
  switch (c.mode) {
    case MssClampConfig::Mode::kOff: return 0;
    case MssClampConfig::Mode::kAuto: return static_cast<uint16_t>(mtu - kTcpIpHeaders);
    case MssClampConfig::Mode::kFixed: return static_cast<uint16_t>(c.value);
  }
  return 0;
}

OuterDf ToOuterDf(TunnelDf df) {
  switch (df) {
    case TunnelDf::kSet: return OuterDf::kSet;
    case TunnelDf::kClear: return OuterDf::kClear;
    case TunnelDf::kInherit: return OuterDf::kInherit;
  }
  return OuterDf::kSet;
}

TunnelKind ToKind(TunnelType t) { return t == TunnelType::kIpsec ? TunnelKind::kIpsec : TunnelKind::kVxlan; }

std::string MssClampText(const MssClampConfig& c) {
  switch (c.mode) {
    case MssClampConfig::Mode::kOff: return "off";
    case MssClampConfig::Mode::kAuto: return "auto";
    case MssClampConfig::Mode::kFixed: return absl::StrCat(c.value);
  }
  return "off";
}

}  // namespace

// The egress port's MTU minus the encapsulation: the port whose kernel
// address is `local`, else the smallest port MTU (a safe guess).
uint32_t Daemon::DefaultTunnelMtu(const TunnelConfig& tc) const {
  uint32_t smallest = UINT32_MAX;
  for (size_t i = 0; i < config_.ports.size() && i < ports_.size(); ++i) {
    const PortConfig& pc = config_.ports[i];
    smallest = std::min(smallest, pc.mtu);
    if (pc.address && pc.address->host == tc.local) return pc.mtu - kVxlanMtuOverhead;
    auto addresses = GetIpv4Addresses(ports_[i].ifindex);
    if (!addresses.ok()) continue;
    for (const InterfaceAddress& a : *addresses) {
      if (a.host == tc.local) return pc.mtu - kVxlanMtuOverhead;
    }
  }
  if (smallest == UINT32_MAX) smallest = 1500;
  spdlog::warn("tunnel {}: local {} is on no data port yet; MTU from the smallest port MTU", tc.name,
               ToString(tc.local));
  return smallest - kVxlanMtuOverhead;
}

TunnelEntry Daemon::MakeTunnelEntry(const TunnelState& t) const {
  TunnelEntry e;
  e.id = t.id;
  e.kind = ToKind(t.config.type);
  e.local = t.config.local.value;
  e.remote = t.config.remote.value;
  e.vni = t.config.vni;
  e.dst_port = t.config.dst_port;
  e.mtu = static_cast<uint16_t>(t.mtu);
  e.mss_clamp = MssClampValue(t.config.mss_clamp, t.mtu);
  e.df = ToOuterDf(t.config.df);
  e.host_port = t.host_port;
  e.inner_mac = DerivedInnerMac(t.config.local.value);
  e.remote_inner_mac = DerivedInnerMac(t.config.remote.value);
  return e;
}

absl::Status Daemon::CreateTunnel(const TunnelConfig& tc, uint32_t id) {
  TunnelState t;
  t.config = tc;
  t.id = id;
  t.mtu = tc.mtu ? *tc.mtu : DefaultTunnelMtu(tc);
  const MacAddr mac = DerivedInnerMac(tc.local.value);
  uint16_t port_id = kNoPort;
  if (absl::Status s = CreateExceptionTap(tc.interface, &mac, kNoPort, &port_id); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("tunnel ", tc.name, ": ", s.message()));
  }
  t.host_port = port_id;
  t.ifindex = ports_.back().ifindex;
  PortInfo& info = port_info_[port_id];
  info.tunnel = id;
  info.mtu = t.mtu;
  // Decapsulated packets for the kernel (to our overlay address) go up the
  // tunnel's own TAP, so the kernel sees them arrive on the overlay link.
  info.exception_port = port_id;
  info.exception_mac = info.mac;
  ports_.back().exception_port = port_id;
  absl::Status s = SetNoArp(tc.interface);
  s.Update(SetLinkMtu(t.ifindex, t.mtu));
  if (absl::Status a = AddIpv4Address(t.ifindex, tc.overlay); !a.ok() && !absl::IsAlreadyExists(a)) s.Update(a);
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat("tunnel ", tc.name, ": ", s.message()));
  if (absl::Status p = tunnels_->Publish(MakeTunnelEntry(t)); !p.ok()) return p;
  spdlog::info("tunnel {}: {} {} -> {} vni {} overlay {}/{} on {} (port {}), mtu {}", tc.name, std::string(ToString(tc.type)),
               ToString(tc.local), ToString(tc.remote), tc.vni, ToString(tc.overlay.host), tc.overlay.subnet.len,
               tc.interface, port_id, t.mtu);
  tunnel_states_.push_back(std::move(t));
  return absl::OkStatus();
}

absl::Status Daemon::CreateTunnels() {
  DecapPorts ports;
  std::map<uint16_t, uint32_t> tunnel_ports;
  for (uint32_t id = 0; id < config_.tunnels.size(); ++id) {
    const TunnelConfig& tc = config_.tunnels[id];
    if (tc.type != TunnelType::kVxlan) {
      return absl::UnimplementedError(absl::StrCat("tunnel ", tc.name, ": type ", std::string(ToString(tc.type)),
                                                   " is not supported by this build"));
    }
    if (!ports.IsVxlan(tc.dst_port)) {
      if (ports.vxlan_count == DecapPorts::kMax) {
        return absl::InvalidArgumentError(
            absl::StrCat("tunnels use more than ", DecapPorts::kMax, " different dst_port values"));
      }
      ports.vxlan[ports.vxlan_count++] = tc.dst_port;
    }
    if (absl::Status s = CreateTunnel(tc, id); !s.ok()) return s;
    tunnel_ports[tunnel_states_.back().host_port] = id;
  }
  routes_->SetTunnelPorts(std::move(tunnel_ports));
  return tunnels_->SetDecapPorts(ports);
}

absl::Status Daemon::ApplyTunnelEndpoints() {
  std::vector<XdpPuntMaps::TunnelEndpoint> endpoints;
  for (const TunnelState& t : tunnel_states_) {
    endpoints.push_back({t.config.local.value, IPPROTO_UDP, t.config.dst_port});
  }
  absl::Status status;
  for (PortState& p : ports_) {
    if (p.xdp) status.Update(p.xdp->SetTunnelEndpoints(endpoints));
  }
  return status;
}

void Daemon::ReloadTunnels(const Config& next, std::vector<std::string>* changes) {
  // CheckReloadable allowed only mss_clamp and df to differ.
  for (TunnelState& t : tunnel_states_) {
    const TunnelConfig& n = next.tunnels[t.id];
    if (n.mss_clamp == t.config.mss_clamp && n.df == t.config.df) continue;
    t.config.mss_clamp = n.mss_clamp;
    t.config.df = n.df;
    if (absl::Status s = tunnels_->Publish(MakeTunnelEntry(t)); !s.ok()) {
      changes->push_back(absl::StrCat("error: tunnel ", t.config.name, ": ", s.message()));
      continue;
    }
    changes->push_back(absl::StrCat("tunnel ", t.config.name, ": mss_clamp ", MssClampText(n.mss_clamp), ", df ", std::string(
                                    ToString(n.df))));
  }
}

// Empty when the tunnel can carry traffic: installed, host interface up, and
// an underlay route to the remote that does not lead into a tunnel.
std::string Daemon::TunnelDownReason(const TunnelState& t) const {
  if (tunnels_->Get(t.id) == nullptr) return "not installed";
  const uint32_t result = fib_->Lookup(t.config.remote.value);
  if (result == kNoGroup) return "no underlay route to remote";
  const NexthopGroup& group = fib_->group(result);
  for (uint32_t i = 0; i < group.count; ++i) {
    switch (fib_->nexthop(group.members[i]).kind) {
      case NexthopKind::kTunnel: return "underlay route to remote leads into a tunnel";
      case NexthopKind::kLocal: return "remote is a local address";
      case NexthopKind::kBlackhole: return "underlay route to remote is a blackhole";
      case NexthopKind::kForward:
      case NexthopKind::kConnected: break;
    }
  }
  return "";
}

void Daemon::SnapshotTunnels(DataplaneSnapshot* snap) const {
  for (const TunnelState& t : tunnel_states_) {
    TunnelSnapshot ts;
    ts.name = t.config.name;
    ts.type = std::string(ToString(t.config.type));
    ts.up = TunnelDownReason(t).empty();
    for (const auto& w : workers_) {
      const TunnelCounters& c = w->counters().tunnels[t.id];
      ts.encap_packets += c.encap_packets.Get();
      ts.encap_bytes += c.encap_bytes.Get();
      ts.decap_packets += c.decap_packets.Get();
      ts.decap_bytes += c.decap_bytes.Get();
      for (size_t r = 0; r < kDropReasonCount; ++r) ts.drops[r] += c.drops[r].Get();
    }
    snap->tunnels.push_back(std::move(ts));
  }
}

nlohmann::json Daemon::ShowTunnels() const {
  DataplaneSnapshot snap;
  SnapshotTunnels(&snap);
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < tunnel_states_.size(); ++i) {
    const TunnelState& t = tunnel_states_[i];
    const TunnelSnapshot& c = snap.tunnels[i];
    nlohmann::json drops = nlohmann::json::object();
    uint64_t errors = 0;
    for (size_t r = 0; r < kDropReasonCount; ++r) {
      if (c.drops[r] == 0) continue;
      drops[std::string(kDropReasonInfo[r].name)] = c.drops[r];
      errors += c.drops[r];
    }
    const std::string down = TunnelDownReason(t);
    nlohmann::json row = {
        {"name", t.config.name},
        {"type", std::string(ToString(t.config.type))},
        {"local", ToString(t.config.local)},
        {"remote", ToString(t.config.remote)},
        {"vni", t.config.vni},
        {"dst_port", t.config.dst_port},
        {"overlay", absl::StrCat(ToString(t.config.overlay.host), "/", t.config.overlay.subnet.len)},
        {"interface", t.config.interface},
        {"mtu", t.mtu},
        {"mss_clamp", MssClampText(t.config.mss_clamp)},
        {"df", std::string(ToString(t.config.df))},
        {"state", down.empty() ? "up" : "down"},
        {"encap_packets", c.encap_packets},
        {"encap_bytes", c.encap_bytes},
        {"decap_packets", c.decap_packets},
        {"decap_bytes", c.decap_bytes},
        {"errors", errors},
        {"drops", drops},
    };
    if (!down.empty()) row["state_reason"] = down;
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace isthmus
