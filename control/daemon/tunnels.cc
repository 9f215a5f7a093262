// Tunnels on the control side: each configured tunnel gets a host TAP (its
// kernel interface, carrying the overlay address, ARP off: a point-to-point
// L3 link), an immutable TunnelEntry in the TunnelTable the workers read,
// its overlay as a connected subnet that resolves to kTunnel next hops, and
// its endpoint in the XDP program's tunnel_endpoints map. An ipsec tunnel
// also owns its ESP SAs (one outbound, one or more inbound), all run by one
// worker (the tunnel's owner; the others hand packets over), replaced
// make-before-break on reload; with `ipsec.vxlan` its ESP inner packets are
// VXLAN packets between the endpoints (dataplane/tunnel/vxlan_in_esp.h).

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dataplane/ipsec/esp_key_file.h"
#include "dataplane/ipsec/esp_parse.h"
#include "control/daemon/daemon.h"
#include "control/netlink/interface_control.h"
#include "dataplane/port/port.h"
#include "dataplane/tunnel/vxlan.h"
#include "dataplane/tunnel/vxlan_in_esp.h"
#include "control/log_format.h"
#include "spdlog/spdlog.h"

namespace isthmus {
namespace {

constexpr uint32_t kTcpIpHeaders = 40;  // MSS = MTU - IPv4 and TCP headers (RFC 9293 3.7.1)
// ESP tunnel mode: outer IPv4 [+ UDP 4500] + SPI/sequence + IV, then at most
// 3 bytes of padding, pad length and next header, and the ICV (RFC 4303 2,
// RFC 4106): 57 bytes, 65 with UDP encapsulation.
constexpr uint32_t kEspMaxPadding = kEspAlign - 1;
constexpr uint32_t EspMtuOverhead(bool udp_encap) {
  return kIpv4MinHeaderLen + (udp_encap ? kUdpHeaderLen : 0) + kEspHeaderLen + kEspGcmIvLen + kEspMaxPadding +
         kEspTrailerLen + kEspGcmIcvLen;
}
// Soft lifetime (time to rekey, shown in `show tunnels`) at 90% of the hard one.
// An inbound SA a reload removed is kept while packets still arrive on it.
constexpr auto kEspDrainIdle = std::chrono::seconds(2);
constexpr uint64_t kSoftLifetimePercent = 90;
constexpr uint64_t kPercent = 100;
constexpr unsigned kEspRingSize = 4096;
// Durable outbound sequence numbers live in the state directory systemd
// gives us (StateDirectory=isthmus sets STATE_DIRECTORY), else here. Not
// /run: it is emptied by a reboot, and a key whose counter restarts at 1
// after a reboot reuses GCM nonces just as after a daemon restart.
constexpr char kDefaultStateDirectory[] = "/var/lib/isthmus";

std::string EspStateDirectory() {
  const char* env = std::getenv("STATE_DIRECTORY");
  if (env == nullptr || *env == '\0') return kDefaultStateDirectory;
  const std::string dirs = env;  // systemd lists several as a:b
  return dirs.substr(0, dirs.find(':'));
}

uint64_t SoftLimit(uint64_t hard) { return hard / kPercent * kSoftLifetimePercent; }

// VXLAN inside ESP pays both: the VXLAN packet is ESP's inner packet.
uint32_t TunnelOverhead(const TunnelConfig& tc) {
  if (tc.type != TunnelType::kIpsec) return kVxlanMtuOverhead;
  const uint32_t esp = EspMtuOverhead(tc.ipsec && tc.ipsec->udp_encap);
  return tc.vni != 0 ? esp + kVxlanInEspOverhead : esp;
}

EspCipher ToEspCipher(IpsecCipher c) { return c == IpsecCipher::kAes256Gcm ? EspCipher::kAes256Gcm : EspCipher::kAes128Gcm; }

std::string SpiText(uint32_t spi) { return absl::StrFormat("0x%08x", spi); }

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
    if (pc.address && pc.address->host == tc.local) return pc.mtu - TunnelOverhead(tc);
    auto addresses = GetIpv4Addresses(ports_[i].ifindex);
    if (!addresses.ok()) continue;
    for (const InterfaceAddress& a : *addresses) {
      if (a.host == tc.local) return pc.mtu - TunnelOverhead(tc);
    }
  }
  if (smallest == UINT32_MAX) smallest = 1500;
  spdlog::warn("tunnel {}: local {} is on no data port yet; MTU from the smallest port MTU", tc.name,
               ToString(tc.local));
  return smallest - TunnelOverhead(tc);
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
  if (e.kind == TunnelKind::kIpsec) {
    // The owner runs every SA of the tunnel (sequence numbers and replay
    // windows are single-writer state); tunnels spread over the workers.
    e.esp.owner_worker = t.id % std::max(1u, config_.dataplane.workers);
    e.esp.outbound = t.esp_outbound.sa.get();
    for (const EspSaState& in : t.esp_inbound) {
      if (e.esp.inbound_count == kMaxEspInboundSas) break;
      e.esp.inbound_spi[e.esp.inbound_count] = in.config.spi;
      e.esp.inbound[e.esp.inbound_count++] = in.sa.get();
    }
  }
  return e;
}

absl::StatusOr<std::unique_ptr<EspSa>> Daemon::CreateEspSa(const TunnelState& t, const IpsecSaConfig& sa,
                                                          bool outbound, std::unique_ptr<EspSeqLease>* lease) {
  const IpsecConfig& c = *t.config.ipsec;
  EspSaParams params;
  params.spi = sa.spi;
  params.cipher = ToEspCipher(c.cipher);
  absl::StatusOr<EspKey> key = LoadEspKeyFile(sa.key_file, params.cipher);
  if (!key.ok()) return key.status();
  params.key = std::move(*key);
  params.local_ip = t.config.local.value;
  params.remote_ip = t.config.remote.value;
  params.esn = c.esn;
  params.replay_window = c.replay_window;
  params.udp_encap = c.udp_encap;
  params.dont_fragment = t.config.df != TunnelDf::kClear;
  params.hard = {c.lifetime_packets, c.lifetime_bytes, c.lifetime_seconds};
  params.soft = {SoftLimit(c.lifetime_packets), SoftLimit(c.lifetime_bytes), SoftLimit(c.lifetime_seconds)};
  // `params.key` wipes itself on every return path (EspKey's destructor).
  if (!outbound) return EspSa::CreateInbound(*esp_context_, params);
  // Outbound: continue above every number this key may have used before
  // (a previous run, or another SPI), never from 1 (RFC 4106 3.1).
  absl::StatusOr<EspKeyFingerprint> fp = FingerprintEspKey(params.cipher, params.key);
  if (!fp.ok()) return fp.status();
  auto claimed = esp_seq_->Begin(t.config.name, sa.spi, *fp, EspSa::MaxSeq(params.esn));
  if (!claimed.ok()) return claimed.status();
  params.first_seq = (*claimed)->first_seq();
  auto created = EspSa::CreateOutbound(*esp_context_, params);
  params.key.Wipe();
  if (!created.ok()) return created;
  (*created)->SetSeqLimit((*claimed)->limit());
  if (params.first_seq != 1) {
    spdlog::info("tunnel {}: outbound SA {} resumes at sequence number {} ({})", t.config.name, SpiText(sa.spi),
                 params.first_seq, esp_seq_->Describe());
  }
  *lease = std::move(*claimed);
  return created;
}

absl::Status Daemon::OpenEspSeqReservations() {
  const std::string dir = EspStateDirectory();
  auto storage = EspSeqFileStorage::Open(dir);
  if (!storage.ok()) return storage.status();
  auto reservations = EspSeqReservations::Open(std::move(*storage));
  if (!reservations.ok()) return reservations.status();
  esp_seq_ = std::move(*reservations);
  spdlog::info("ipsec: outbound sequence numbers reserved in {}", esp_seq_->Describe());
  return absl::OkStatus();
}

void Daemon::ExtendEspSeqReservations() {
  // Only the control thread changes tunnel_states_ and the leases, so no
  // lock: esp_mu_ would hold the metrics thread through an fsync.
  for (TunnelState& t : tunnel_states_) {
    EspSaState& out = t.esp_outbound;
    if (out.sa == nullptr || out.seq_lease == nullptr) continue;
    absl::StatusOr<uint64_t> limit = out.seq_lease->Extend(out.sa->stats().highest_seq);
    if (!limit.ok()) {
      if (!out.seq_extend_failing) {
        spdlog::error("tunnel {}: outbound SA {}: cannot reserve more sequence numbers ({}); it stops at {} "
                      "(esp_seq_unreserved) until the state file can be written",
                      t.config.name, SpiText(out.config.spi), limit.status().message(), out.seq_lease->limit());
      }
      out.seq_extend_failing = true;
      continue;
    }
    if (out.seq_extend_failing) {
      spdlog::info("tunnel {}: outbound SA {}: sequence numbers reserved again up to {}", t.config.name,
                   SpiText(out.config.spi), *limit);
    }
    out.seq_extend_failing = false;
    if (*limit != out.sa->seq_limit()) out.sa->SetSeqLimit(*limit);  // on disk by now
  }
}

// Builds the SAs `next` lists into `t`, keeping every SA whose SPI and key
// file are unchanged (its sequence number or replay window carries on) and
// creating the others. Nothing changes unless every new SA could be made.
// The SAs no longer listed are returned to the caller through `t`'s
// previous vectors being swapped: see ReloadTunnels.
absl::Status Daemon::BuildEspSas(TunnelState& t, const IpsecConfig& next, std::vector<std::string>* changes) {
  // Moves a listed SA (and an outbound SA's sequence lease) into `into`.
  auto reuse = [](std::vector<EspSaState>& pool, EspSaState& into) {
    for (EspSaState& s : pool) {
      if (s.sa != nullptr && s.config == into.config) {
        into.sa = std::move(s.sa);
        into.seq_lease = std::move(s.seq_lease);
        return;
      }
    }
  };
  // Everything the tunnel holds now is a candidate for reuse.
  std::vector<EspSaState> old_out;
  std::vector<EspSaState> old_in;
  {
    absl::MutexLock lock(&esp_mu_);
    if (t.esp_outbound.sa != nullptr) old_out.push_back(std::move(t.esp_outbound));
    old_in = std::move(t.esp_inbound);
    t.esp_inbound.clear();
  }
  EspSaState out{next.outbound};
  reuse(old_out, out);
  absl::Status status;
  if (out.sa == nullptr) {
    auto sa = CreateEspSa(t, next.outbound, /*outbound=*/true, &out.seq_lease);
    if (sa.ok()) {
      out.sa = std::move(*sa);
      if (changes) changes->push_back(absl::StrCat("tunnel ", t.config.name, ": outbound SA ", SpiText(next.outbound.spi)));
    } else {
      status = absl::Status(sa.status().code(), absl::StrCat("outbound SPI ", SpiText(next.outbound.spi), ": ",
                                                              sa.status().message()));
    }
  }
  std::vector<EspSaState> in;
  for (const IpsecSaConfig& want : next.inbound) {
    if (!status.ok()) break;
    EspSaState st{want};
    reuse(old_in, st);
    if (st.sa == nullptr) {
      auto sa = CreateEspSa(t, want, /*outbound=*/false, nullptr);
      if (!sa.ok()) {
        status = absl::Status(sa.status().code(),
                              absl::StrCat("inbound SPI ", SpiText(want.spi), ": ", sa.status().message()));
        break;
      }
      st.sa = std::move(*sa);
      if (changes) changes->push_back(absl::StrCat("tunnel ", t.config.name, ": inbound SA ", SpiText(want.spi), " added"));
    }
    in.push_back(std::move(st));
  }
  absl::MutexLock lock(&esp_mu_);
  if (!status.ok()) {
    // Put back what was taken; the new SAs made so far die here (never published).
    for (EspSaState& s : in) {
      for (EspSaState& o : old_in) {
        if (o.sa == nullptr && o.config == s.config) o.sa = std::move(s.sa);
      }
    }
    for (EspSaState& o : old_out) {
      if (o.sa == nullptr && o.config == out.config) {
        o.sa = std::move(out.sa);
        o.seq_lease = std::move(out.seq_lease);
      }
    }
    if (!old_out.empty()) t.esp_outbound = std::move(old_out.front());
    t.esp_inbound = std::move(old_in);
    return status;
  }
  t.esp_outbound = std::move(out);
  t.esp_inbound = std::move(in);
  // What is left in old_* is no longer listed: retired once the new entry
  // is published (the caller publishes right after).
  for (EspSaState& o : old_out) {
    if (o.sa != nullptr) {
      if (changes) changes->push_back(absl::StrCat("tunnel ", t.config.name, ": outbound SA ", SpiText(o.config.spi), " retired"));
      pending_retire_.push_back(std::move(o.sa));
    }
  }
  for (EspSaState& o : old_in) {
    if (o.sa == nullptr) continue;
    if (t.esp_inbound.size() < kMaxEspInboundSas) {
      // Kept until its traffic stops (DrainEspSas).
      if (changes) {
        changes->push_back(absl::StrCat("tunnel ", t.config.name, ": inbound SA ", SpiText(o.config.spi),
                                        o.draining ? " still draining" : " draining (removed once idle)"));
      }
      if (!o.draining) {
        o.draining = true;
        o.drain_packets = o.sa->stats().packets;
        o.drain_since = std::chrono::steady_clock::now();
      }
      t.esp_inbound.push_back(std::move(o));
      continue;
    }
    if (changes) {
      changes->push_back(absl::StrCat("tunnel ", t.config.name, ": inbound SA ", SpiText(o.config.spi), " removed (no room to drain: ",
                                      kMaxEspInboundSas, " inbound SAs at most)"));
    }
    pending_retire_.push_back(std::move(o.sa));
  }
  return absl::OkStatus();
}

void Daemon::DrainEspSas() {
  const auto now = std::chrono::steady_clock::now();
  for (TunnelState& t : tunnel_states_) {
    std::vector<std::unique_ptr<EspSa>> idle;
    {
      absl::MutexLock lock(&esp_mu_);
      for (auto it = t.esp_inbound.begin(); it != t.esp_inbound.end();) {
        if (!it->draining) {
          ++it;
          continue;
        }
        const uint64_t packets = it->sa->stats().packets;
        if (packets != it->drain_packets) {
          it->drain_packets = packets;
          it->drain_since = now;
        }
        if (now - it->drain_since < kEspDrainIdle) {
          ++it;
          continue;
        }
        spdlog::info("tunnel {}: inbound SA {} idle for {} s: removed", t.config.name, SpiText(it->config.spi),
                     std::chrono::duration_cast<std::chrono::seconds>(kEspDrainIdle).count());
        idle.push_back(std::move(it->sa));
        it = t.esp_inbound.erase(it);
      }
    }
    if (idle.empty()) continue;
    if (absl::Status s = tunnels_->Publish(MakeTunnelEntry(t)); !s.ok()) {
      spdlog::warn("tunnel {}: {}", t.config.name, s.message());
    }
    for (std::unique_ptr<EspSa>& sa : idle) RetireEspSa(std::move(sa));
  }
}

// Called after the entry that no longer points at `sa` is published: the
// SA is freed once every worker has passed a quiescent state.
void Daemon::RetireEspSa(std::unique_ptr<EspSa> sa) {
  const uint64_t token = rte_rcu_qsbr_start(rcu_);
  retired_esp_sas_.push_back({std::move(sa), token});
}

void Daemon::ReclaimEspSas() {
  absl::MutexLock lock(&esp_mu_);
  while (!retired_esp_sas_.empty() && rte_rcu_qsbr_check(rcu_, retired_esp_sas_.front().token, false) == 1) {
    retired_esp_sas_.pop_front();
  }
}

absl::Status Daemon::CreateEspRings() {
  const uint32_t n = config_.dataplane.workers;
  if (!esp_context_ || n < 2) return absl::OkStatus();
  for (uint32_t w = 0; w < n; ++w) {
    rte_ring* r = rte_ring_create(absl::StrCat("esp_handoff_", w).c_str(), kEspRingSize,
                                  static_cast<int>(rte_socket_id()), RING_F_SC_DEQ);
    if (r == nullptr) return absl::ResourceExhaustedError(absl::StrCat("cannot create ESP handoff ring: ", rte_strerror(rte_errno)));
    esp_rings_.push_back(r);
  }
  return absl::OkStatus();
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
  if (tc.type == TunnelType::kIpsec) {
    if (absl::Status e = BuildEspSas(t, *tc.ipsec, nullptr); !e.ok()) {
      return absl::Status(e.code(), absl::StrCat("tunnel ", tc.name, ": ", e.message()));
    }
  }
  if (absl::Status p = tunnels_->Publish(MakeTunnelEntry(t)); !p.ok()) return p;
  const std::string detail = tc.type == TunnelType::kIpsec
                                 ? absl::StrCat("spi out ", SpiText(tc.ipsec->outbound.spi), " ",
                                                std::string(ToString(tc.ipsec->cipher)),
                                                tc.vni != 0 ? absl::StrCat(" carrying vxlan vni ", tc.vni, " port ",
                                                                           tc.dst_port)
                                                            : "")
                                 : absl::StrCat("vni ", tc.vni);
  spdlog::info("tunnel {}: {} {} -> {} {} overlay {}/{} on {} (port {}), mtu {}", tc.name,
               std::string(ToString(tc.type)), ToString(tc.local), ToString(tc.remote), detail,
               ToString(tc.overlay.host), tc.overlay.subnet.len, tc.interface, port_id, t.mtu);
  tunnel_states_.push_back(std::move(t));
  return absl::OkStatus();
}

absl::Status Daemon::CreateTunnels() {
  DecapPorts ports;
  std::map<uint16_t, uint32_t> tunnel_ports;
  for (uint32_t id = 0; id < config_.tunnels.size(); ++id) {
    const TunnelConfig& tc = config_.tunnels[id];
    if (tc.type == TunnelType::kIpsec) {
      if (!esp_context_) {
        // One crypto device and session pool for every SA (dataplane/ipsec).
        auto ctx = EspContext::Create(static_cast<int>(rte_socket_id()));
        if (!ctx.ok()) return absl::Status(ctx.status().code(), absl::StrCat("ipsec: ", ctx.status().message()));
        esp_context_ = std::move(*ctx);
      }
      if (!esp_seq_) {
        if (absl::Status st = OpenEspSeqReservations(); !st.ok()) {
          return absl::Status(st.code(), absl::StrCat("ipsec: ", st.message()));
        }
      }
      ports.esp = true;
    } else if (!ports.IsVxlan(tc.dst_port)) {
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
  if (absl::Status r = CreateEspRings(); !r.ok()) return r;
  return tunnels_->SetDecapPorts(ports);
}

absl::Status Daemon::ApplyTunnelEndpoints() {
  std::vector<XdpPuntMaps::TunnelEndpoint> endpoints;
  for (const TunnelState& t : tunnel_states_) {
    if (t.config.type == TunnelType::kIpsec) {
      // Inbound SAs accept ESP and UDP/4500 ESP alike (NAT may appear).
      endpoints.push_back({t.config.local.value, IPPROTO_ESP, 0});
      endpoints.push_back({t.config.local.value, IPPROTO_UDP, kEspNatTraversalPort});
    } else {
      endpoints.push_back({t.config.local.value, IPPROTO_UDP, t.config.dst_port});
    }
  }
  absl::Status status;
  for (PortState& p : ports_) {
    if (p.xdp) status.Update(p.xdp->SetTunnelEndpoints(endpoints));
  }
  // Ports where the kernel also sees tunnel packets (af_packet) must not
  // make it answer them with ICMP errors; harmless otherwise.
  if (absl::Status s = kernel_sinks_.Set(endpoints); !s.ok()) {
    spdlog::warn("tunnel traffic the kernel also receives may draw ICMP errors: {}", s.message());
  }
  return status;
}

void Daemon::ReloadTunnels(const Config& next, std::vector<std::string>* changes) {
  // CheckReloadable allowed only mss_clamp, df (vxlan) and the SA lists
  // (ipsec) to differ.
  for (TunnelState& t : tunnel_states_) {
    const TunnelConfig& n = next.tunnels[t.id];
    const bool rekey = n.ipsec && t.config.ipsec &&
                       (n.ipsec->outbound != t.config.ipsec->outbound || n.ipsec->inbound != t.config.ipsec->inbound);
    if (n.mss_clamp == t.config.mss_clamp && n.df == t.config.df && !rekey) continue;
    if (rekey) {
      // Make-before-break: the new SAs exist before the entry that uses
      // them is published; the old ones are freed after a grace period.
      if (absl::Status s = BuildEspSas(t, *n.ipsec, changes); !s.ok()) {
        changes->push_back(absl::StrCat("error: tunnel ", t.config.name, ": SAs kept as they were: ", s.message()));
        continue;
      }
      t.config.ipsec->outbound = n.ipsec->outbound;
      t.config.ipsec->inbound = n.ipsec->inbound;
    }
    t.config.mss_clamp = n.mss_clamp;
    t.config.df = n.df;
    absl::Status published = tunnels_->Publish(MakeTunnelEntry(t));
    // Old SAs are unreachable from the new entry; free them after the grace period.
    for (std::unique_ptr<EspSa>& sa : pending_retire_) RetireEspSa(std::move(sa));
    pending_retire_.clear();
    if (!published.ok()) {
      changes->push_back(absl::StrCat("error: tunnel ", t.config.name, ": ", published.message()));
      continue;
    }
    changes->push_back(absl::StrCat("tunnel ", t.config.name, ": mss_clamp ", MssClampText(n.mss_clamp), ", df ",
                                    std::string(ToString(n.df))));
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
    if (t.config.type == TunnelType::kIpsec) {
      absl::MutexLock lock(&esp_mu_);
      auto add = [&ts](const char* direction, const EspSaState& st) {
        if (st.sa == nullptr) return;
        const EspSaStats stats = st.sa->stats();
        ts.esp_sas.push_back({direction, st.config.spi, stats.highest_seq, stats.packets, stats.bytes,
                              stats.soft_expired, stats.hard_expired});
      };
      add("outbound", t.esp_outbound);
      for (const EspSaState& in : t.esp_inbound) add("inbound", in);
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
    if (t.config.type == TunnelType::kIpsec) {
      row["ipsec"] = ShowEsp(t);
      if (t.config.vni != 0) row["vni"] = t.config.vni;  // the VXLAN inside ESP (also ipsec.vxlan)
    } else {
      row["vni"] = t.config.vni;
      row["dst_port"] = t.config.dst_port;
    }
    out.push_back(std::move(row));
  }
  return out;
}

// The SAs of an ipsec tunnel: SPIs, sequence numbers, traffic, replay
// drops and lifetime state. Never a key or a key byte.
nlohmann::json Daemon::ShowEsp(const TunnelState& t) const {
  const IpsecConfig& c = *t.config.ipsec;
  auto lifetime = [](const EspSaStats& s) {
    return s.hard_expired ? "expired" : s.soft_expired ? "rekey_due" : "ok";
  };
  auto sa_json = [&](const EspSaState& st) {
    nlohmann::json j = {{"spi", SpiText(st.config.spi)}, {"key_file", st.config.key_file}, {"draining", st.draining}};
    if (st.sa == nullptr) return j;
    const EspSaStats s = st.sa->stats();
    j["sequence"] = s.highest_seq;
    if (st.seq_lease != nullptr) j["sequence_reserved"] = st.seq_lease->limit();
    j["packets"] = s.packets;
    j["bytes"] = s.bytes;
    j["lifetime"] = lifetime(s);
    j["lifetime_packets"] = s.life_packets;
    j["lifetime_bytes"] = s.life_bytes;
    nlohmann::json drops = nlohmann::json::object();
    for (size_t v = 1; v < kEspVerdictCount; ++v) {
      if (s.verdicts[v] != 0) drops[std::string(kEspVerdictInfo[v].name)] = s.verdicts[v];
    }
    j["drops"] = drops;
    return j;
  };
  absl::MutexLock lock(&esp_mu_);
  nlohmann::json inbound = nlohmann::json::array();
  for (const EspSaState& in : t.esp_inbound) inbound.push_back(sa_json(in));
  return {
      {"cipher", std::string(ToString(c.cipher))},
      {"esn", c.esn},
      {"replay_window", c.replay_window},
      {"udp_encap", c.udp_encap},
      {"vxlan", t.config.vni != 0 ? nlohmann::json{{"vni", t.config.vni}, {"dst_port", t.config.dst_port}}
                                  : nlohmann::json(nullptr)},
      {"owner_worker", t.id % std::max(1u, config_.dataplane.workers)},
      {"lifetime_limits", {{"packets", c.lifetime_packets}, {"bytes", c.lifetime_bytes}, {"seconds", c.lifetime_seconds}}},
      {"outbound", sa_json(t.esp_outbound)},
      {"inbound", inbound},
  };
}

}  // namespace isthmus
