#pragma once
// The tunnel object the workers read: one immutable entry per configured
// tunnel, addressed by a small dense id (its index in the config's
// `tunnels:` list). Kind-specific behaviour hangs off `kind`: VXLAN
// (RFC 7348) and ESP tunnel mode (RFC 4303) with its SA state; an ESP
// tunnel may carry VXLAN inside (CarriesVxlan, dataplane/tunnel/vxlan_in_esp.h).

#include <array>
#include <cstdint>

namespace isthmus {

class EspSa;

enum class TunnelKind : uint8_t {
  kVxlan,  // RFC 7348, point-to-point: one remote VTEP per tunnel
  kIpsec,  // RFC 4303 ESP tunnel mode (dataplane/ipsec)
};

// Tunnel ids index fixed arrays (entries, per-worker counters).
inline constexpr uint32_t kMaxTunnels = 64;
inline constexpr uint32_t kNoTunnel = UINT32_MAX;
// Inbound SAs one ESP tunnel accepts at once: make-before-break rekey lists
// the old and the new one; a little slack for overlapping rekeys.
inline constexpr uint32_t kMaxEspInboundSas = 4;

// The SAs of an ESP tunnel as the workers see them. All of them belong to
// one worker (`owner_worker`): sequence numbers and replay windows are
// per-SA state without locks (dataplane/ipsec/README.md), so other workers
// hand the tunnel's packets to the owner. The control side owns the SA
// objects and frees a replaced one only after an RCU grace period.
struct EspTunnelSas {
  uint32_t owner_worker = 0;
  EspSa* outbound = nullptr;
  std::array<EspSa*, kMaxEspInboundSas> inbound{};
  uint32_t inbound_count = 0;
  uint32_t inbound_spi[kMaxEspInboundSas] = {};  // inbound[i]'s SPI, for lookups without touching the SA
  EspSa* FindInbound(uint32_t spi) const {
    for (uint32_t i = 0; i < inbound_count; ++i) {
      if (inbound_spi[i] == spi) return inbound[i];
    }
    return nullptr;
  }
};

// DF bit of the outer IPv4 header.
enum class OuterDf : uint8_t {
  kSet,      // always set: the underlay never fragments our packets
  kClear,    // never set
  kInherit,  // copy the inner packet's DF
};

struct TunnelEntry {
  uint32_t id = kNoTunnel;
  TunnelKind kind = TunnelKind::kVxlan;
  uint32_t local = 0;   // underlay source, host order
  uint32_t remote = 0;  // underlay destination, host order
  uint32_t vni = 0;     // 24 bits; kIpsec: non-zero = VXLAN inside ESP with this VNI
  uint16_t dst_port = 4789;  // VXLAN's UDP port (kVxlan, and kIpsec carrying VXLAN)
  uint16_t mtu = 1450;        // largest inner IPv4 packet carried
  uint16_t mss_clamp = 0;     // 0: off; else the largest TCP MSS a SYN may carry
  OuterDf df = OuterDf::kSet;
  uint16_t host_port = 0;     // DPDK port id of the tunnel's host TAP
  std::array<uint8_t, 6> inner_mac{};         // ours (the host TAP's MAC)
  std::array<uint8_t, 6> remote_inner_mac{};  // the peer's inner MAC
  EspTunnelSas esp;                           // kIpsec only
};

// An ESP tunnel whose inner packets are VXLAN packets between the two
// endpoints (the ESP inner IPv4 packet is local -> remote UDP to dst_port)
// rather than the routed IPv4 packets themselves.
inline bool CarriesVxlan(const TunnelEntry& t) { return t.kind == TunnelKind::kIpsec && t.vni != 0; }

// The inner MAC of a VXLAN endpoint, derived from its underlay address so
// both ends agree without configuration: 02:00 (locally administered,
// unicast) followed by the four octets of the address.
inline std::array<uint8_t, 6> DerivedInnerMac(uint32_t underlay_host_order) {
  return {0x02,
          0x00,
          static_cast<uint8_t>(underlay_host_order >> 24),
          static_cast<uint8_t>(underlay_host_order >> 16),
          static_cast<uint8_t>(underlay_host_order >> 8),
          static_cast<uint8_t>(underlay_host_order)};
}

}  // namespace isthmus
