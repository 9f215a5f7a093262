#pragma once
// The underlay half shared by every tunnel kind (tunnel_stage.h for VXLAN,
// esp_stage.h for ESP): a drop charged to a tunnel, and the lookup of the
// remote endpoint that sends an encapsulated packet.

#include <rte_mbuf.h>

#include <cstdint>
#include <cstring>

#include "dataplane/tunnel/vxlan.h"
#include "dataplane/worker/forward_context.h"

namespace isthmus {
namespace tunnel_internal {

inline void TunnelDrop(ForwardContext& ctx, const TunnelEntry& t, rte_mbuf* m, DropReason r) {
  ctx.counters->TunnelDrop(t.id, r);
  rte_pktmbuf_free(m);
}

inline bool InnerDf(const uint8_t* ip) { return (LoadBe16(ip + 6) & kIpFlagDontFragment) != 0; }

// The underlay half: `m` starts with the outer Ethernet header. One lookup of
// the remote endpoint; a route that leads into a tunnel again is refused
// rather than followed (no recursion on the data plane).
inline void SendUnderlay(ForwardContext& ctx, const TunnelEntry& t, rte_mbuf* m, uint32_t hash) {
  const uint32_t result = ctx.fib->Lookup(t.remote);
  if (result == kNoGroup) return TunnelDrop(ctx, t, m, DropReason::kTunnelNoUnderlayRoute);
  const NexthopGroup& group = ctx.fib->group(result);
  const Nexthop& nh = ctx.fib->nexthop(group.count == 1 ? group.members[0] : PickMember(group, hash));
  switch (nh.kind) {
    case NexthopKind::kTunnel:
      return TunnelDrop(ctx, t, m, DropReason::kTunnelRecursion);
    case NexthopKind::kLocal:
    case NexthopKind::kBlackhole:
      return TunnelDrop(ctx, t, m, DropReason::kTunnelNoUnderlayRoute);
    case NexthopKind::kForward:
    case NexthopKind::kConnected:
      break;
  }
  const PortInfo& out = ctx.ports[nh.port];
  if (rte_pktmbuf_pkt_len(m) - kEtherHeaderLen > out.mtu) return TunnelDrop(ctx, t, m, DropReason::kMtuExceeded);
  MacAddr mac;
  DropReason why = DropReason::kBug;
  if (!forward_internal::NeighborMac(ctx, nh, t.remote, &mac, &why)) return TunnelDrop(ctx, t, m, why);
  auto* eth = rte_pktmbuf_mtod(m, uint8_t*);
  std::memcpy(eth, mac.data(), 6);
  std::memcpy(eth + 6, out.mac.data(), 6);
  ctx.tx->Push(nh.port, m);
}

}  // namespace tunnel_internal
}  // namespace isthmus
