#pragma once
// The IPv4 forwarding stage: a burst in, every packet out to a port's TX
// buffer, to the kernel (punt) or to a named drop. Header-only so the worker
// loop and the benchmarks in perf/ run exactly the same code.

#include <rte_mbuf.h>

#include <cstdint>

#include "dataplane/worker/forward_context.h"
#include "dataplane/worker/nat_stage.h"
#include "dataplane/worker/tunnel_stage.h"

namespace isthmus {

namespace forward_internal {

// Inner frames of a burst that were decapsulated, with the host TAP of the
// tunnel they came through (they are forwarded as if received there).
struct DecapBatch {
  rte_mbuf* pkts[kMaxBurst];
  uint16_t host_port[kMaxBurst];
  uint16_t count = 0;
};

// The IPv4 stage over frames received on `in_port` (a data port, or a
// tunnel's host TAP for decapsulated frames; `depth` counts decapsulations).
inline void ForwardFrames(ForwardContext& ctx, uint16_t in_port, rte_mbuf** pkts, uint16_t n, uint32_t depth);

// Forwards each run of inner frames that share a tunnel as one burst.
inline void ForwardDecapsulated(ForwardContext& ctx, DecapBatch& batch, uint32_t depth) {
  uint16_t start = 0;
  for (uint16_t i = 1; i <= batch.count; ++i) {
    if (i == batch.count || batch.host_port[i] != batch.host_port[start]) {
      ForwardFrames(ctx, batch.host_port[start], batch.pkts + start, static_cast<uint16_t>(i - start), depth + 1);
      start = i;
    }
  }
}

// Runs the ESP packets staged during the burst through their SAs; inner
// packets join `decapsulated`.
inline void FlushEsp(ForwardContext& ctx, DecapBatch& decapsulated) {
  if (ctx.esp == nullptr) return;
  if (ctx.esp->encap_count != 0) esp_internal::FlushEncap(ctx);
  if (ctx.esp->decap_count != 0) {
    esp_internal::FlushDecap(ctx, decapsulated.pkts, decapsulated.host_port, &decapsulated.count);
  }
}

inline void ForwardFrames(ForwardContext& ctx, uint16_t in_port, rte_mbuf** pkts, uint16_t n, uint32_t depth) {
  const PortInfo& in = ctx.ports[in_port];
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
  nat_internal::NatUndo nat_undo[kMaxBurst];
  if (ctx.services != nullptr) {
    kept = nat_internal::TranslateBurst(ctx, in_port, keep, dst, ip_len, fragment, kept, nat_undo);
    if (kept == 0) return;
  }
  // Hands a packet to the kernel as it arrived (before NAT), so the ICMP
  // error the kernel sends quotes what the sender sent.
  auto punt_as_received = [&](uint16_t i, rte_mbuf* m, PuntReason reason) {
    if (ctx.services != nullptr) {
      nat_internal::UndoTranslation(rte_pktmbuf_mtod_offset(m, uint8_t*, kEtherHeaderLen), nat_undo[i]);
    }
    Punt(ctx, in_port, m, reason);
  };

  uint32_t result[kMaxBurst];
  ctx.fib->LookupBulk(dst, result, kept);

  DecapBatch decapsulated;
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
      // Tunnel packets to one of our endpoints are decapsulated here;
      // everything else addressed to us goes to the kernel.
      if (ctx.tunnels != nullptr && !ctx.tunnels->empty()) {
        uint16_t host_port = kNoPort;
        const DecapVerdict d = Decapsulate(ctx, m, ip_len[i], depth, &host_port);
        if (d == DecapVerdict::kConsumed) continue;
        if (d == DecapVerdict::kInner) {
          decapsulated.pkts[decapsulated.count] = m;
          decapsulated.host_port[decapsulated.count++] = host_port;
          continue;
        }
      }
      Punt(ctx, in_port, m, PuntReason::kLocal);
      continue;
    }
    if (nh.kind == NexthopKind::kBlackhole) {
      Drop(ctx, m, DropReason::kBlackhole);
      continue;
    }
    if (nh.kind == NexthopKind::kTunnel) {
      PuntReason punt = PuntReason::kLocal;
      if (!ForwardIntoTunnel(ctx, nh, m, ip_len[i], fragment[i], &punt)) punt_as_received(i, m, punt);
      continue;
    }
    // RFC 1812 5.3.1: a datagram whose TTL would reach 0 is not forwarded;
    // the kernel answers with ICMP time exceeded (traceroute).
    if (ip[8] <= 1) {
      punt_as_received(i, m, PuntReason::kTtlExpired);
      continue;
    }
    const PortInfo& out = ctx.ports[nh.port];
    if (ip_len[i] > out.mtu) {
      punt_as_received(i, m, PuntReason::kFragNeeded);
      continue;
    }
    MacAddr mac;
    DropReason why = DropReason::kBug;
    if (!NeighborMac(ctx, nh, dst[i], &mac, &why)) {
      Drop(ctx, m, why);
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
  FlushEsp(ctx, decapsulated);
  if (decapsulated.count != 0) ForwardDecapsulated(ctx, decapsulated, depth);
}

}  // namespace forward_internal

// Packets other workers handed over for the ESP tunnels this worker owns
// (esp_stage.h): staged and flushed like the worker's own.
// Returns how many packets it took.
inline unsigned DrainEspHandoff(ForwardContext& ctx) {
  if (ctx.esp_rings == nullptr) return 0;
  rte_mbuf* pkts[kMaxBurst];
  const unsigned n = rte_ring_sc_dequeue_burst(ctx.esp_rings[ctx.worker_id], reinterpret_cast<void**>(pkts),
                                               kMaxBurst, nullptr);
  if (n == 0) return 0;
  for (unsigned i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    const uint32_t tag = m->hash.fdir.lo;
    const TunnelEntry* t = ctx.tunnels->Get(tag & esp_internal::kHandoffTunnelMask);
    if (t == nullptr || t->kind != TunnelKind::kIpsec) {
      forward_internal::Drop(ctx, m, DropReason::kTunnelDown);
    } else if ((tag & esp_internal::kHandoffDecap) != 0) {
      esp_internal::StageDecap(ctx, *t, m, m->hash.fdir.hi);
    } else {
      esp_internal::StageEncap(ctx, *t, m, m->hash.fdir.hi);
    }
  }
  forward_internal::DecapBatch decapsulated;
  forward_internal::FlushEsp(ctx, decapsulated);
  // Handed-over packets were decapsulated once already (depth 0 -> 1).
  if (decapsulated.count != 0) forward_internal::ForwardDecapsulated(ctx, decapsulated, 0);
  return n;
}

// Handles `n` packets received on `in_port`.
inline void ForwardBurst(ForwardContext& ctx, uint16_t in_port, rte_mbuf** pkts, uint16_t n) {
  const PortInfo& in = ctx.ports[in_port];
  if (in.tunnel != kNoTunnel) {
    FromTunnelHost(ctx, in.tunnel, pkts, n);
    forward_internal::DecapBatch none;
    forward_internal::FlushEsp(ctx, none);  // encapsulations only: nothing is decapsulated here
    return;
  }
  if (in.is_exception) {
    // The kernel transmitted on an exception TAP.
    for (uint16_t i = 0; i < n; ++i) {
      if (in.bridge_to == kNoPort) {
        forward_internal::Drop(ctx, pkts[i], DropReason::kFromKernelUnroutable);
      } else {
        ctx.tx->Push(in.bridge_to, pkts[i]);
      }
    }
    return;
  }
  forward_internal::ForwardFrames(ctx, in_port, pkts, n, 0);
}

}  // namespace isthmus
