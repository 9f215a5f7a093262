#pragma once
// VXLAN carried inside ESP (an ipsec tunnel with `ipsec.vxlan`), without
// DPDK. The layering is what a Linux host builds with a `vxlan` device
// whose underlay path between the two endpoints is protected by an ESP
// tunnel-mode SA: the whole VXLAN packet, endpoint to endpoint, is the ESP
// inner packet (RFC 4303 section 3.1.2), next header 4 (IPv4).
//
//  outer IPv4 local->remote, proto 50 [UDP 4500] | ESP SPI, seq | IV |
//    ┌─ encrypted ────────────────────────────────────────────────────────┐
//    │ IPv4 local->remote, proto 17 | UDP src(flow hash)->dst_port |      │
//    │ VXLAN I, VNI | inner Ethernet | inner IPv4 ...                     │
//    └────────────────────────────────────────────────────────────────────┘
//  | padding, pad length, next header 4 | ICV
//
// Sending: WriteVxlanPacketHeaders (vxlan.h) builds the VXLAN packet that
// the outbound SA then encrypts. Receiving: once the inbound SA has
// verified and decrypted a packet, CheckVxlanInEsp checks that the inner
// packet is VXLAN from the tunnel's remote to its local endpoint on the
// tunnel's port with the tunnel's VNI, and says where the inner Ethernet
// frame lies. The ICV already proves who sent it; these checks refuse what
// the peer should not have put in the tunnel (RFC 4301 section 5.2: the
// inner packet must match the SA's selectors, here the VXLAN flow between
// the endpoints).

#include <cstdint>

#include "dataplane/drop_reason.h"
#include "dataplane/packet/ipv4_check.h"
#include "dataplane/tunnel/decap_parser.h"
#include "dataplane/tunnel/tunnel.h"
#include "dataplane/tunnel/vxlan.h"

namespace isthmus {

// Bytes a VXLAN-in-ESP tunnel adds inside ESP in front of the inner IPv4
// packet (and charges against the tunnel MTU on top of ESP's): 50.
inline constexpr uint32_t kVxlanInEspOverhead = kVxlanMtuOverhead;

struct VxlanInEspView {
  bool ok = false;
  DropReason drop = DropReason::kBug;  // when !ok
  uint32_t inner_offset = 0;           // of the inner Ethernet frame, from the ESP inner IPv4 header
  uint32_t inner_len = 0;              // bytes of the inner Ethernet frame
};

namespace vxlan_in_esp_internal {

inline VxlanInEspView Refuse(DropReason r) {
  VxlanInEspView v;
  v.drop = r;
  return v;
}

}  // namespace vxlan_in_esp_internal

// `ip` points at the decrypted ESP inner packet of `len` bytes (what the
// inbound SA leaves). Checks, in order: a well-formed IPv4 header
// (`vxlan_malformed`), not a fragment (`tunnel_outer_fragment`: tunnels do
// not reassemble), UDP to our endpoint on the tunnel's port
// (`esp_inner_not_vxlan`), from the remote endpoint (`tunnel_wrong_source`),
// the RFC 7348 section 5 header (`vxlan_malformed`), the VNI
// (`esp_vxlan_wrong_vni`) and an IPv4 inner frame (`tunnel_inner_not_ipv4`).
inline VxlanInEspView CheckVxlanInEsp(const uint8_t* ip, uint32_t len, const TunnelEntry& t) {
  using vxlan_in_esp_internal::Refuse;
  if (len < kIpv4MinHeaderLen || (ip[0] >> 4) != 4) return Refuse(DropReason::kVxlanMalformed);
  const uint32_t header_len = (ip[0] & 0x0fu) * 4u;
  const uint32_t total_len = LoadBe16(ip + 2);
  if (header_len < kIpv4MinHeaderLen || total_len < header_len || total_len > len ||
      Ipv4HeaderChecksumResidue(ip, header_len) != 0) {
    return Refuse(DropReason::kVxlanMalformed);
  }
  if ((LoadBe16(ip + 6) & (kIpFlagMoreFragments | kIpFragOffsetMask)) != 0) {
    return Refuse(DropReason::kTunnelOuterFragment);
  }
  const uint32_t l4_len = total_len - header_len;
  if (ip[9] != kIpProtoUdp || LoadBe32(ip + 16) != t.local || l4_len < kUdpHeaderLen ||
      LoadBe16(ip + header_len + 2) != t.dst_port) {
    return Refuse(DropReason::kEspInnerNotVxlan);
  }
  if (LoadBe32(ip + 12) != t.remote) return Refuse(DropReason::kTunnelWrongSource);
  DecapParse parse;
  parse = decap_internal::ParseVxlan(parse, ip + header_len, l4_len);
  if (!parse.ok) return Refuse(parse.drop);
  if (parse.vni != t.vni) return Refuse(DropReason::kEspVxlanWrongVni);
  VxlanInEspView v;
  v.inner_offset = header_len + kUdpHeaderLen + kVxlanHeaderLen;
  v.inner_len = parse.inner_len;
  if (LoadBe16(ip + v.inner_offset + 12) != kEtherTypeIpv4) return Refuse(DropReason::kTunnelInnerNotIpv4);
  v.ok = true;
  return v;
}

}  // namespace isthmus
