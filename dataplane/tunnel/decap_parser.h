#pragma once
// Receive-side parsing of tunnel packets addressed to one of our tunnel
// endpoints, without DPDK. `ParseTunnelPacket` is the single entry point the
// workers and the fuzz target (tests/fuzz/tunnel_decap_fuzz.cc) call: it
// dispatches on the outer protocol: VXLAN (UDP to a configured port), ESP
// (IP protocol 50) and UDP-encapsulated ESP (RFC 3948, port 4500; the
// outer checks are dataplane/ipsec's ParseEspOuter).
//
// The outer IPv4 header has already passed CheckFrame (version, IHL, total
// length within the frame, checksum); `ip_len` is its total length.

#include <cstdint>

#include "dataplane/drop_reason.h"
#include "dataplane/ipsec/esp_parse.h"
#include "dataplane/packet/ipv4_check.h"
#include "dataplane/tunnel/vxlan.h"

namespace isthmus {

enum class TunnelProto : uint8_t {
  kNone,   // not tunnel traffic: the caller handles it as before (punt local)
  kVxlan,
  kEsp,    // ESP or UDP/4500 ESP; the SA checks the rest
};

// UDP destination ports that carry VXLAN to us (configured dst_port values).
struct DecapPorts {
  static constexpr uint32_t kMax = 8;
  uint16_t vxlan[kMax] = {};
  uint32_t vxlan_count = 0;
  bool esp = false;  // an ipsec tunnel exists: claim ESP and UDP/4500 to our addresses
  bool IsVxlan(uint16_t port) const {
    for (uint32_t i = 0; i < vxlan_count; ++i) {
      if (vxlan[i] == port) return true;
    }
    return false;
  }
};

struct DecapParse {
  TunnelProto proto = TunnelProto::kNone;
  bool ok = false;                      // false: drop with `drop`
  DropReason drop = DropReason::kBug;
  uint32_t outer_src = 0;
  uint32_t outer_dst = 0;
  uint16_t dst_port = 0;
  uint32_t vni = 0;
  uint32_t spi = 0;           // kEsp
  uint32_t inner_offset = 0;  // from the start of the outer IPv4 header
  uint32_t inner_len = 0;     // bytes of the inner Ethernet frame
};

namespace decap_internal {

inline DecapParse Fail(DecapParse p, DropReason r) {
  p.ok = false;
  p.drop = r;
  return p;
}

// RFC 7348 section 5: the I flag must be set; the reserved bits are ignored
// on receipt. The UDP length must cover the VXLAN header and an inner
// Ethernet header and lie within the IPv4 payload.
inline DecapParse ParseVxlan(DecapParse p, const uint8_t* udp, uint32_t l4_len) {
  const uint32_t udp_len = LoadBe16(udp + 4);
  if (udp_len > l4_len || udp_len < kUdpHeaderLen + kVxlanHeaderLen + kEtherHeaderLen) {
    return Fail(p, DropReason::kVxlanMalformed);
  }
  const uint8_t* vxlan = udp + kUdpHeaderLen;
  if ((vxlan[0] & kVxlanFlagI) == 0) return Fail(p, DropReason::kVxlanMalformed);
  p.vni = LoadBe32(vxlan + 4) >> 8;
  p.inner_len = udp_len - kUdpHeaderLen - kVxlanHeaderLen;
  p.ok = true;
  return p;
}

constexpr DropReason EspParseDrop(EspVerdict v) {
  return v == EspVerdict::kFragment ? DropReason::kTunnelOuterFragment : DropReason::kEspMalformed;
}

// ESP or UDP/4500 ESP (RFC 4303 section 2, RFC 3948 section 2.1). The
// RFC 3948 non-ESP marker (IKE) and NAT keepalives are not ESP: the
// kernel gets them (kNone) like any local UDP.
inline DecapParse ParseEsp(const uint8_t* ip, uint32_t ip_len) {
  DecapParse p;
  EspOuterView view;
  const EspVerdict v = ParseEspOuter(ip, ip_len, &view);
  if (v == EspVerdict::kNotEsp) return p;
  p.proto = TunnelProto::kEsp;
  p.outer_src = LoadBe32(ip + 12);
  p.outer_dst = LoadBe32(ip + 16);
  if (v != EspVerdict::kOk) return Fail(p, EspParseDrop(v));
  p.dst_port = view.udp ? kEspNatTraversalPort : 0;
  p.spi = view.spi;
  p.inner_offset = view.esp_offset;
  p.ok = true;
  return p;
}

}  // namespace decap_internal

inline DecapParse ParseTunnelPacket(const uint8_t* ip, uint32_t ip_len, const DecapPorts& ports) {
  DecapParse p;
  if (ip_len < kIpv4MinHeaderLen) return p;
  const uint32_t header_len = (ip[0] & 0x0fu) * 4u;
  if (header_len < kIpv4MinHeaderLen || header_len > ip_len) return p;
  if (ip[9] == kIpProtoEsp) return ports.esp ? decap_internal::ParseEsp(ip, ip_len) : p;
  if (ip[9] != kIpProtoUdp) return p;
  // A later fragment carries no UDP header to classify by.
  const uint16_t frag = LoadBe16(ip + 6);
  if ((frag & kIpFragOffsetMask) != 0) return p;
  const uint32_t l4_len = ip_len - header_len;
  if (l4_len < kUdpHeaderLen) return p;  // not classifiable: not ours to drop
  const uint8_t* udp = ip + header_len;
  const uint16_t dst_port = LoadBe16(udp + 2);
  if (ports.esp && dst_port == kEspNatTraversalPort) return decap_internal::ParseEsp(ip, ip_len);
  if (!ports.IsVxlan(dst_port)) return p;
  p.proto = TunnelProto::kVxlan;
  p.dst_port = dst_port;
  p.outer_src = LoadBe32(ip + 12);
  p.outer_dst = LoadBe32(ip + 16);
  p.inner_offset = header_len + kUdpHeaderLen + kVxlanHeaderLen;
  // Outer fragments are not reassembled (RFC 7348 section 4.3: VTEPs do not
  // fragment; the tunnel MTU keeps our own packets whole).
  if ((frag & kIpFlagMoreFragments) != 0) {
    return decap_internal::Fail(p, DropReason::kTunnelOuterFragment);
  }
  return decap_internal::ParseVxlan(p, udp, l4_len);
}

}  // namespace isthmus
