#pragma once
// What every forwarding stage shares: the per-port facts, the tables a
// worker reads, the ECMP flow hash, and the two non-forward exits (drop with
// a reason, punt to the kernel). Split from forward.h so the tunnel stage
// (tunnel_stage.h) and the IPv4 stage can both use it.

#include <rte_ether.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <cstdint>

#include "dataplane/fib/fib.h"
#include "dataplane/neighbor/neighbor_table.h"
#include "dataplane/packet/ipv4_check.h"
#include "dataplane/tunnel/tunnel_table.h"
#include "dataplane/worker/counters.h"
#include "dataplane/worker/punt_limiter.h"
#include "dataplane/worker/tx_buffer.h"

namespace isthmus {

class FlowTable;
class ServiceTable;
class SnatPortAllocator;

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
  uint32_t tunnel = kNoTunnel;        // a tunnel's host TAP: frames from the kernel are encapsulated
};

// ESP packets of the current burst waiting for their SA (esp_stage.h): the
// SAs run once per run of packets of one tunnel, at the end of the burst.
struct EspStaged {
  rte_mbuf* m;
  const TunnelEntry* tunnel;
  uint32_t hash;  // flow hash of the inner packet (underlay ECMP)
};

struct EspStaging {
  EspStaged encap[kMaxBurst];
  uint16_t encap_count = 0;
  EspStaged decap[kMaxBurst];
  uint16_t decap_count = 0;
};

struct ForwardContext {
  const Fib* fib = nullptr;
  NeighborTable* neighbors = nullptr;
  const PortInfo* ports = nullptr;
  uint16_t port_count = 0;
  LcoreCounters* counters = nullptr;
  TxBuffers* tx = nullptr;
  PuntLimiter* punt_limiter = nullptr;
  const ControlPeers* control_peers = nullptr;  // null: no BGP peers (no control class)
  const TunnelTable* tunnels = nullptr;  // null: no tunnels configured
  // ESP (null/0 without ipsec tunnels): each tunnel's SAs belong to one
  // worker; the others hand its packets over through that worker's ring.
  uint32_t worker_id = 0;
  rte_ring* const* esp_rings = nullptr;  // indexed by worker id (multi-producer, single consumer)
  EspStaging* esp = nullptr;             // this worker's
  // Anycast services (nat_stage.h); null without services in the config.
  const ServiceTable* services = nullptr;
  FlowTable* flows = nullptr;
  SnatPortAllocator* snat = nullptr;
  uint32_t now_s = 0;                    // NatClockSeconds(), set by the worker each round
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
  auto* eth = rte_pktmbuf_mtod(m, uint8_t*);
  // Each class has its own budget (punt_limiter.h): a flood of one kind
  // cannot use up what BGP or ARP need.
  const PuntReason cls = PuntClassOf(reason, eth + kEtherHeaderLen, ctx.control_peers);
  if (!ctx.punt_limiter->Allow(cls)) return Drop(ctx, m, PuntLimitedDrop(cls));
  if (!IsGroupMac(eth)) std::memcpy(eth, in.exception_mac.data(), 6);
  ctx.counters->Punt(cls);
  ctx.tx->Push(in.exception_port, m);
}

}  // namespace forward_internal

namespace forward_internal {

// The MAC of the neighbour a next hop sends to (its gateway, or `dst` on a
// connected subnet). On a miss it asks the control thread to resolve it and
// says which drop reason applies.
inline bool NeighborMac(ForwardContext& ctx, const Nexthop& nh, uint32_t dst, MacAddr* mac, DropReason* why) {
  uint32_t slot = nh.neighbor_slot;
  const uint32_t neighbor_ip = nh.kind == NexthopKind::kForward ? nh.gateway : dst;
  if (nh.kind == NexthopKind::kConnected) slot = ctx.neighbors->Find(nh.port, neighbor_ip);
  if (slot != NeighborTable::kNoSlot && NeighborTable::Load(ctx.neighbors->Word(slot), mac)) return true;
  const bool queued = ctx.neighbors->RequestResolution(nh.port, neighbor_ip);
  *why = queued ? DropReason::kNeighborMissing : DropReason::kNeighborRequestFull;
  return false;
}

}  // namespace forward_internal

}  // namespace isthmus
