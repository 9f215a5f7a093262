#pragma once
// VXLAN (RFC 7348) on the wire, without DPDK: the outer headers we write on
// encapsulation and the checks we make on receipt. Pure functions over
// bytes, so the unit tests and the fuzz target call exactly what the
// workers run.
//
//  outer Ethernet (14) | outer IPv4 (20, no options) | UDP (8) | VXLAN (8) | inner Ethernet frame
//
//  VXLAN header (RFC 7348 section 5):
//   0                   1                   2                   3
//  |R|R|R|R|I|R|R|R|            Reserved                           |
//  |                VXLAN Network Identifier (VNI) |   Reserved    |

#include <cstdint>
#include <cstring>

#include "dataplane/drop_reason.h"
#include "dataplane/packet/ipv4_check.h"
#include "dataplane/tunnel/tunnel.h"

namespace isthmus {

inline constexpr uint16_t kVxlanDefaultPort = 4789;  // IANA, RFC 7348 section 5
inline constexpr uint32_t kVxlanHeaderLen = 8;
inline constexpr uint8_t kVxlanFlagI = 0x08;          // "VNI is valid"
inline constexpr uint32_t kVxlanMaxVni = 0xffffff;
// The VXLAN packet's own headers: outer IPv4 (no options), UDP, VXLAN.
inline constexpr uint32_t kVxlanPacketHeaderLen = kIpv4MinHeaderLen + kUdpHeaderLen + kVxlanHeaderLen;
// Bytes added in front of the inner Ethernet frame on the wire.
inline constexpr uint32_t kVxlanEncapLen = kEtherHeaderLen + kVxlanPacketHeaderLen;
// Bytes the tunnel costs against the egress port's MTU (the inner Ethernet
// header travels inside the outer IPv4 packet): 50.
inline constexpr uint32_t kVxlanMtuOverhead = kVxlanPacketHeaderLen + kEtherHeaderLen;
// RFC 7348 section 5: the source port SHOULD come from a hash of the inner
// headers and lie in the dynamic/private range 49152-65535 (RFC 6335).
inline constexpr uint16_t kUdpSourcePortBase = 49152;
inline constexpr uint32_t kUdpSourcePortCount = 65536 - kUdpSourcePortBase;
inline constexpr uint8_t kOuterTtl = 64;
inline constexpr uint16_t kIpFlagDontFragment = 0x4000;

inline uint16_t VxlanSourcePort(uint32_t flow_hash) {
  // Multiply-shift keeps every bit of the hash (a modulo would favour the low ones).
  return static_cast<uint16_t>(kUdpSourcePortBase + ((uint64_t{flow_hash} * kUdpSourcePortCount) >> 32));
}

// Writes the outer IPv4, UDP and VXLAN headers (kVxlanPacketHeaderLen
// bytes at `ip`) in front of an inner Ethernet frame of `inner_frame_len`
// bytes. The UDP checksum is 0 (RFC 7348 section 5: SHOULD be zero on
// transmission over IPv4); the IPv4 checksum is complete. A VXLAN tunnel
// puts an Ethernet header in front (WriteVxlanHeaders); an ipsec tunnel
// that carries VXLAN hands this IPv4 packet to its SA as the ESP inner
// packet (dataplane/tunnel/vxlan_in_esp.h).
inline void WriteVxlanPacketHeaders(uint8_t* ip, const TunnelEntry& t, uint32_t inner_frame_len, uint16_t src_port,
                                    bool inner_df) {
  std::memset(ip, 0, kVxlanPacketHeaderLen);
  const uint32_t udp_len = kUdpHeaderLen + kVxlanHeaderLen + inner_frame_len;
  ip[0] = 0x45;  // version 4, IHL 5
  StoreBe16(ip + 2, static_cast<uint16_t>(kIpv4MinHeaderLen + udp_len));
  const bool df = t.df == OuterDf::kSet || (t.df == OuterDf::kInherit && inner_df);
  StoreBe16(ip + 6, df ? kIpFlagDontFragment : 0);
  ip[8] = kOuterTtl;
  ip[9] = kIpProtoUdp;
  StoreBe32(ip + 12, t.local);
  StoreBe32(ip + 16, t.remote);
  StoreBe16(ip + 10, Ipv4HeaderChecksumResidue(ip, kIpv4MinHeaderLen));
  uint8_t* udp = ip + kIpv4MinHeaderLen;
  StoreBe16(udp, src_port);
  StoreBe16(udp + 2, t.dst_port);
  StoreBe16(udp + 4, static_cast<uint16_t>(udp_len));
  uint8_t* vxlan = udp + kUdpHeaderLen;
  vxlan[0] = kVxlanFlagI;
  StoreBe32(vxlan + 4, t.vni << 8);
}

// Writes the kVxlanEncapLen bytes in front of an inner Ethernet frame of
// `inner_frame_len` bytes: an outer Ethernet header whose MACs are left for
// the underlay adjacency (SendUnderlay), then WriteVxlanPacketHeaders.
inline void WriteVxlanHeaders(uint8_t* out, const TunnelEntry& t, uint32_t inner_frame_len, uint16_t src_port,
                              bool inner_df) {
  std::memset(out, 0, kEtherHeaderLen);
  StoreBe16(out + 12, kEtherTypeIpv4);
  WriteVxlanPacketHeaders(out + kEtherHeaderLen, t, inner_frame_len, src_port, inner_df);
}

// The inner Ethernet header of a point-to-point tunnel: to the peer's inner
// MAC, from ours, carrying IPv4.
inline void WriteInnerEthernet(uint8_t* eth, const TunnelEntry& t) {
  std::memcpy(eth, t.remote_inner_mac.data(), 6);
  std::memcpy(eth + 6, t.inner_mac.data(), 6);
  StoreBe16(eth + 12, kEtherTypeIpv4);
}

}  // namespace isthmus
