#pragma once
// The IPv4 forwarding stage: a burst in, every packet out to a port's TX
// buffer, to the kernel (punt) or to a named drop. Header-only so the worker
// loop and the benchmarks in perf/ run exactly the same code.

#include <rte_ether.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cstdint>

#include "dataplane/fib/fib.h"
#include "dataplane/neighbor/neighbor_table.h"
#include "dataplane/packet/ipv4_check.h"
#include "dataplane/worker/counters.h"
#include "dataplane/worker/tx_buffer.h"

namespace isthmus {

inline constexpr uint16_t kNoPort = UINT16_MAX;
inline constexpr uint32_t kMaxBurst = 256;

// What the stage needs to know about each port; immutable while workers run.
struct PortInfo {
  MacAddr mac{};
  uint32_t mtu = 1500;
  uint16_t exception_port = kNoPort;  // where punted packets go (a TAP)
  MacAddr exception_mac{};            // that TAP's MAC: punted frames are addressed to it
  uint16_t bridge_to = kNoPort;       // for an exception TAP owned by a pmd port: send out there
  bool kernel_sees_rx = false;        // af_packet: the kernel got its own copy of every frame
  bool is_exception = false;          // this port is an exception TAP
};

struct ForwardContext {
  const Fib* fib = nullptr;
  NeighborTable* neighbors = nullptr;
  const PortInfo* ports = nullptr;
  uint16_t port_count = 0;
  LcoreCounters* counters = nullptr;
  TxBuffers* tx = nullptr;
  PuntLimiter* punt_limiter = nullptr;
};

// ECMP flow hash: the same 5-tuple always picks the same member. Fragments
// hash on addresses and protocol only, so all pieces of a datagram stay on
// one path (later fragments carry no ports).
inline uint32_t FlowHash(const uint8_t* ip, uint32_t ip_len, bool fragment) {
  uint32_t hash = rte_hash_crc_4byte(LoadBe32(ip + 12), 0x9e3779b9u);
  hash = rte_hash_crc_4byte(LoadBe32(ip + 16), hash);
  const uint8_t proto = ip[9];
  uint32_t ports = 0;
  const uint32_t header_len = (ip[0] & 0x0fu) * 4u;
  if (!fragment && (proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP) &&
      ip_len >= header_len + 4) {
    ports = LoadBe32(ip + header_len);
  }
  return rte_hash_crc_4byte(ports ^ proto, hash);
}

inline uint32_t PickMember(const NexthopGroup& group, uint32_t hash) {
  return group.members[(uint64_t{hash} * group.count) >> 32];
}

namespace forward_internal {

inline void Drop(ForwardContext& ctx, rte_mbuf* m, DropReason reason) {
  ctx.counters->Drop(reason);
  rte_pktmbuf_free(m);
}

inline void Punt(ForwardContext& ctx, uint16_t in_port, rte_mbuf* m, PuntReason reason) {
  const PortInfo& in = ctx.ports[in_port];
  // af_packet only copies frames: the kernel already has its own copy of
  // what it would accept itself (local, ARP, multicast); transit exceptions
  // (TTL, options, MTU) still need the TAP.
  const bool kernel_took_it =
      reason == PuntReason::kLocal || reason == PuntReason::kArp || reason == PuntReason::kMulticastBroadcast;
  if (in.kernel_sees_rx && kernel_took_it) return Drop(ctx, m, DropReason::kKernelHasCopy);
  if (in.exception_port == kNoPort) return Drop(ctx, m, DropReason::kPuntUnavailable);
  if (!ctx.punt_limiter->Allow()) return Drop(ctx, m, DropReason::kPuntFull);
  auto* eth = rte_pktmbuf_mtod(m, uint8_t*);
  if (!IsGroupMac(eth)) std::memcpy(eth, in.exception_mac.data(), 6);
  ctx.counters->Punt(reason);
  ctx.tx->Push(in.exception_port, m);
}

}  // namespace forward_internal

// Handles `n` packets received on `in_port`.
inline void ForwardBurst(ForwardContext& ctx, uint16_t in_port, rte_mbuf** pkts, uint16_t n) {
  using forward_internal::Drop;
  using forward_internal::Punt;
  const PortInfo& in = ctx.ports[in_port];
  if (in.is_exception) {
    // The kernel transmitted on an exception TAP.
    for (uint16_t i = 0; i < n; ++i) {
      if (in.bridge_to == kNoPort) {
        Drop(ctx, pkts[i], DropReason::kFromKernelUnroutable);
      } else {
        ctx.tx->Push(in.bridge_to, pkts[i]);
      }
    }
    return;
  }

  rte_mbuf* keep[kMaxBurst];
  uint32_t dst[kMaxBurst];
  uint32_t ip_len[kMaxBurst];
  bool fragment[kMaxBurst];
  uint16_t kept = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    const FrameVerdict v = CheckFrame(rte_pktmbuf_mtod(m, const uint8_t*), rte_pktmbuf_data_len(m), in.mac);
    switch (v.action) {
      case Action::kDrop:
        Drop(ctx, m, v.drop);
        continue;
      case Action::kPunt:
        Punt(ctx, in_port, m, v.punt);
        continue;
      case Action::kForward:
        break;
    }
    const uint8_t* ip = rte_pktmbuf_mtod_offset(m, const uint8_t*, kEtherHeaderLen);
    keep[kept] = m;
    dst[kept] = LoadBe32(ip + 16);
    ip_len[kept] = v.ip_len;
    fragment[kept] = v.fragment;
    ++kept;
  }
  if (kept == 0) return;

  uint32_t result[kMaxBurst];
  ctx.fib->LookupBulk(dst, result, kept);

  for (uint16_t i = 0; i < kept; ++i) {
    rte_mbuf* m = keep[i];
    if (result[i] == kNoGroup) {
      Drop(ctx, m, DropReason::kNoRoute);
      continue;
    }
    uint8_t* eth = rte_pktmbuf_mtod(m, uint8_t*);
    uint8_t* ip = eth + kEtherHeaderLen;
    const NexthopGroup& group = ctx.fib->group(result[i]);
    const uint32_t member = group.count == 1 ? group.members[0]
                                             : PickMember(group, FlowHash(ip, ip_len[i], fragment[i]));
    const Nexthop& nh = ctx.fib->nexthop(member);
    if (nh.kind == NexthopKind::kLocal) {
      Punt(ctx, in_port, m, PuntReason::kLocal);
      continue;
    }
    if (nh.kind == NexthopKind::kBlackhole) {
      Drop(ctx, m, DropReason::kBlackhole);
      continue;
    }
    // RFC 1812 5.3.1: a datagram whose TTL would reach 0 is not forwarded;
    // the kernel answers with ICMP time exceeded (traceroute).
    if (ip[8] <= 1) {
      Punt(ctx, in_port, m, PuntReason::kTtlExpired);
      continue;
    }
    const PortInfo& out = ctx.ports[nh.port];
    if (ip_len[i] > out.mtu) {
      Punt(ctx, in_port, m, PuntReason::kFragNeeded);
      continue;
    }
    uint32_t slot = nh.neighbor_slot;
    const uint32_t neighbor_ip = nh.kind == NexthopKind::kForward ? nh.gateway : dst[i];
    if (nh.kind == NexthopKind::kConnected) slot = ctx.neighbors->Find(nh.port, neighbor_ip);
    MacAddr mac;
    if (slot == NeighborTable::kNoSlot || !NeighborTable::Load(ctx.neighbors->Word(slot), &mac)) {
      const bool queued = ctx.neighbors->RequestResolution(nh.port, neighbor_ip);
      Drop(ctx, m, queued ? DropReason::kNeighborMissing : DropReason::kNeighborRequestFull);
      continue;
    }
    std::memcpy(eth, mac.data(), 6);
    std::memcpy(eth + 6, out.mac.data(), 6);
    DecrementTtl(ip);
    // Ethernet padding beyond the IP datagram is not forwarded.
    const uint32_t frame_len = kEtherHeaderLen + ip_len[i];
    if (rte_pktmbuf_pkt_len(m) > frame_len) rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - frame_len));
    ctx.tx->Push(nh.port, m);
  }
}

}  // namespace isthmus
