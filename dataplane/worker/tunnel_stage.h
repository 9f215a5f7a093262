#pragma once
// The tunnel stage of the worker: encapsulation of packets whose next hop is
// a tunnel (or that the kernel sent on a tunnel's host interface), the
// second (underlay) lookup that sends them, and decapsulation of tunnel
// packets addressed to one of our endpoints. Per tunnel kind the stage calls
// that kind's encap/decap functions: VXLAN (RFC 7348) here, ESP (RFC 4303)
// in esp_stage.h, and VXLAN inside ESP (vxlan_in_esp.h) as a variant of ESP.
//
//   FIB next hop kTunnel ─► TTL/MTU ─► MSS clamp ─► inner Ethernet ─► outer IPv4/UDP/VXLAN
//        ─► underlay lookup of `remote` (a tunnel again: drop tunnel_recursion) ─► neighbour MAC ─► TX
//   FIB result local + UDP to a tunnel port ─► parse ─► VNI ─► outer source ─► strip
//        ─► inner frame through the IPv4 stage again, as if received on the tunnel's host TAP

#include <rte_mbuf.h>

#include <cstdint>
#include <cstring>

#include "dataplane/tunnel/decap_parser.h"
#include "dataplane/tunnel/mss_clamp.h"
#include "dataplane/tunnel/vxlan.h"
#include "dataplane/worker/esp_stage.h"
#include "dataplane/worker/forward_context.h"
#include "dataplane/worker/tunnel_underlay.h"

namespace isthmus {
namespace tunnel_internal {

// VXLAN encapsulation of an inner IPv4 packet of `ip_len` bytes that follows
// a 14-byte Ethernet header at the start of `m` (TTL already handled).
inline void EncapVxlan(ForwardContext& ctx, const TunnelEntry& t, rte_mbuf* m, uint32_t ip_len, uint32_t hash) {
  const uint32_t frame_len = kEtherHeaderLen + ip_len;
  if (rte_pktmbuf_pkt_len(m) > frame_len) {
    rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - frame_len));
  }
  auto* eth = rte_pktmbuf_mtod(m, uint8_t*);
  uint8_t* ip = eth + kEtherHeaderLen;
  if (t.mss_clamp != 0) ClampTcpMss(ip, ip_len, t.mss_clamp);
  const bool inner_df = InnerDf(ip);
  WriteInnerEthernet(eth, t);
  auto* outer = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, kVxlanEncapLen));
  if (outer == nullptr) return TunnelDrop(ctx, t, m, DropReason::kTunnelNoHeadroom);
  WriteVxlanHeaders(outer, t, frame_len, VxlanSourcePort(hash), inner_df);
  TunnelCounters& c = ctx.counters->tunnels[t.id];
  c.encap_packets.Add(1);
  c.encap_bytes.Add(ip_len);
  SendUnderlay(ctx, t, m, hash);
}

// ESP tunnel mode carries the IPv4 packet itself: the Ethernet header goes,
// the SA (at the end of the burst, esp_stage.h) adds the outer headers. A
// tunnel carrying VXLAN inside ESP (vxlan_in_esp.h) keeps the frame, gives
// it the inner Ethernet header and VXLAN's IPv4/UDP/VXLAN headers, and the
// SA encrypts that VXLAN packet instead.
inline void EncapEsp(ForwardContext& ctx, const TunnelEntry& t, rte_mbuf* m, uint32_t ip_len, uint32_t hash) {
  const uint32_t frame_len = kEtherHeaderLen + ip_len;
  if (rte_pktmbuf_pkt_len(m) > frame_len) {
    rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - frame_len));
  }
  uint8_t* eth = rte_pktmbuf_mtod(m, uint8_t*);
  uint8_t* ip = eth + kEtherHeaderLen;
  if (t.mss_clamp != 0) ClampTcpMss(ip, ip_len, t.mss_clamp);
  if (ctx.esp == nullptr) return TunnelDrop(ctx, t, m, DropReason::kTunnelDown);
  if (!CarriesVxlan(t)) {
    rte_pktmbuf_adj(m, static_cast<uint16_t>(kEtherHeaderLen));
    return esp_internal::StageEncap(ctx, t, m, hash);
  }
  const bool inner_df = InnerDf(ip);
  WriteInnerEthernet(eth, t);
  auto* vxlan_ip = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, kVxlanPacketHeaderLen));
  if (vxlan_ip == nullptr) return TunnelDrop(ctx, t, m, DropReason::kTunnelNoHeadroom);
  WriteVxlanPacketHeaders(vxlan_ip, t, frame_len, VxlanSourcePort(hash), inner_df);
  esp_internal::StageEncap(ctx, t, m, hash);
}

// Encapsulates by kind.
inline void Encapsulate(ForwardContext& ctx, const TunnelEntry& t, rte_mbuf* m, uint32_t ip_len, uint32_t hash) {
  switch (t.kind) {
    case TunnelKind::kVxlan:
      return EncapVxlan(ctx, t, m, ip_len, hash);
    case TunnelKind::kIpsec:
      return EncapEsp(ctx, t, m, ip_len, hash);
  }
  TunnelDrop(ctx, t, m, DropReason::kTunnelDown);
}

}  // namespace tunnel_internal

// A packet whose FIB next hop is tunnel `nh.tunnel`: RFC 1812 TTL handling
// as for any forwarded packet, then the tunnel MTU (too big: punted like an
// oversized packet on a port, and the kernel, which sees the tunnel MTU on
// the host interface, sends ICMP fragmentation needed or fragments).
// Returns false when the caller must punt the packet with *punt.
inline bool ForwardIntoTunnel(ForwardContext& ctx, const Nexthop& nh, rte_mbuf* m, uint32_t ip_len, bool fragment,
                              PuntReason* punt) {
  const TunnelEntry* t = ctx.tunnels != nullptr ? ctx.tunnels->Get(nh.tunnel) : nullptr;
  if (t == nullptr) {
    forward_internal::Drop(ctx, m, DropReason::kTunnelDown);
    return true;
  }
  uint8_t* ip = rte_pktmbuf_mtod_offset(m, uint8_t*, kEtherHeaderLen);
  if (ip[8] <= 1) {
    *punt = PuntReason::kTtlExpired;
    return false;
  }
  if (ip_len > t->mtu) {
    *punt = PuntReason::kFragNeeded;
    return false;
  }
  DecrementTtl(ip);
  tunnel_internal::Encapsulate(ctx, *t, m, ip_len, FlowHash(ip, ip_len, fragment));
  return true;
}

// Frames the kernel sent on tunnel `tunnel_id`'s host interface: the kernel
// routed them already (TTL included); only IPv4 crosses the tunnel.
inline void FromTunnelHost(ForwardContext& ctx, uint32_t tunnel_id, rte_mbuf** pkts, uint16_t n) {
  const TunnelEntry* t = ctx.tunnels != nullptr ? ctx.tunnels->Get(tunnel_id) : nullptr;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    if (t == nullptr) {
      forward_internal::Drop(ctx, m, DropReason::kTunnelDown);
      continue;
    }
    const auto* eth = rte_pktmbuf_mtod(m, const uint8_t*);
    const uint32_t len = rte_pktmbuf_data_len(m);
    if (len < kEtherHeaderLen + kIpv4MinHeaderLen || LoadBe16(eth + 12) != kEtherTypeIpv4) {
      tunnel_internal::TunnelDrop(ctx, *t, m, DropReason::kTunnelHostNotIpv4);
      continue;
    }
    const uint8_t* ip = eth + kEtherHeaderLen;
    const uint32_t ip_len = LoadBe16(ip + 2);
    if (ip_len < kIpv4MinHeaderLen || ip_len > len - kEtherHeaderLen) {
      tunnel_internal::TunnelDrop(ctx, *t, m, DropReason::kBadTotalLength);
      continue;
    }
    if (ip_len > t->mtu) {
      tunnel_internal::TunnelDrop(ctx, *t, m, DropReason::kMtuExceeded);
      continue;
    }
    const bool fragment = (LoadBe16(ip + 6) & (kIpFlagMoreFragments | kIpFragOffsetMask)) != 0;
    tunnel_internal::Encapsulate(ctx, *t, m, ip_len, FlowHash(ip, ip_len, fragment));
  }
}

// The outcome of looking at a packet addressed to us.
enum class DecapVerdict : uint8_t {
  kNotTunnel,  // not tunnel traffic: punt it as local
  kConsumed,   // dropped under a named reason, or staged for its ESP SA
  kInner,      // stripped: `m` now starts with the inner Ethernet frame
};

// ESP to one of our endpoints: the tunnel is found by (outer destination,
// SPI) (RFC 4303 section 3.4.2); the SA checks the rest once the packet,
// its Ethernet header stripped, is staged on the tunnel's owner worker.
inline DecapVerdict DecapsulateEsp(ForwardContext& ctx, const DecapParse& p, rte_mbuf* m, const uint8_t* ip,
                                   uint32_t ip_len, uint32_t depth) {
  const TunnelEntry* any_at_local = nullptr;
  const TunnelEntry* t = p.ok ? ctx.tunnels->FindEsp(p.outer_dst, p.spi, &any_at_local) : nullptr;
  if (t == nullptr) {
    const DropReason why = p.ok ? DropReason::kEspWrongSpi : p.drop;
    if (any_at_local != nullptr) {
      tunnel_internal::TunnelDrop(ctx, *any_at_local, m, why);
    } else {
      forward_internal::Drop(ctx, m, why);
    }
    return DecapVerdict::kConsumed;
  }
  if (depth != 0) {
    tunnel_internal::TunnelDrop(ctx, *t, m, DropReason::kTunnelNested);
    return DecapVerdict::kConsumed;
  }
  if (ctx.esp == nullptr) {
    tunnel_internal::TunnelDrop(ctx, *t, m, DropReason::kTunnelDown);
    return DecapVerdict::kConsumed;
  }
  rte_pktmbuf_adj(m, static_cast<uint16_t>(kEtherHeaderLen));
  esp_internal::StageDecap(ctx, *t, m, FlowHash(ip, ip_len, false));
  return DecapVerdict::kConsumed;
}

// Checks and strips a tunnel packet (RFC 7348 section 4.1: a VTEP accepts
// only its VNIs; we also require the configured remote as outer source).
inline DecapVerdict Decapsulate(ForwardContext& ctx, rte_mbuf* m, uint32_t ip_len, uint32_t depth,
                                uint16_t* host_port) {
  const uint8_t* ip = rte_pktmbuf_mtod_offset(m, const uint8_t*, kEtherHeaderLen);
  const DecapParse p = ParseTunnelPacket(ip, ip_len, ctx.tunnels->decap_ports());
  if (p.proto == TunnelProto::kNone) return DecapVerdict::kNotTunnel;
  if (p.proto == TunnelProto::kEsp) return DecapsulateEsp(ctx, p, m, ip, ip_len, depth);
  if (!p.ok) {
    forward_internal::Drop(ctx, m, p.drop);
    return DecapVerdict::kConsumed;
  }
  const TunnelEntry* t = ctx.tunnels->FindVxlan(p.outer_dst, p.dst_port, p.vni);
  if (t == nullptr) {
    forward_internal::Drop(ctx, m, DropReason::kVxlanUnknownVni);
    return DecapVerdict::kConsumed;
  }
  if (p.outer_src != t->remote) {
    tunnel_internal::TunnelDrop(ctx, *t, m, DropReason::kTunnelWrongSource);
    return DecapVerdict::kConsumed;
  }
  if (depth != 0) {
    tunnel_internal::TunnelDrop(ctx, *t, m, DropReason::kTunnelNested);
    return DecapVerdict::kConsumed;
  }
  const uint8_t* inner = ip + p.inner_offset;
  if (LoadBe16(inner + 12) != kEtherTypeIpv4) {
    tunnel_internal::TunnelDrop(ctx, *t, m, DropReason::kTunnelInnerNotIpv4);
    return DecapVerdict::kConsumed;
  }
  rte_pktmbuf_adj(m, static_cast<uint16_t>(kEtherHeaderLen + p.inner_offset));
  if (rte_pktmbuf_pkt_len(m) > p.inner_len) {
    rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - p.inner_len));
  }
  TunnelCounters& c = ctx.counters->tunnels[t->id];
  c.decap_packets.Add(1);
  c.decap_bytes.Add(p.inner_len - kEtherHeaderLen);
  *host_port = t->host_port;
  return DecapVerdict::kInner;
}

}  // namespace isthmus
