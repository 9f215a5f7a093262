#pragma once
// The ESP half of the tunnel stage (RFC 4303 tunnel mode through
// dataplane/ipsec). Packets are staged during a burst and each run of one
// tunnel's packets goes through its SA in one EspSa::Process call at the
// end of the burst:
//
//   encap: inner IPv4 (L2 stripped) ─► outbound SA ─► outer IPv4 [UDP 4500] ESP
//          ─► + Ethernet ─► SendUnderlay (the same underlay lookup as VXLAN)
//   decap: outer IPv4 (L2 stripped) ─► inbound SA by SPI (replay, ICV, source…)
//          ─► inner IPv4 ─► + inner Ethernet ─► IPv4 stage as if from the host TAP
//
// With VXLAN inside ESP (dataplane/tunnel/vxlan_in_esp.h) the SA's inner
// packet is the VXLAN packet between the endpoints: tunnel_stage.h builds it
// before staging; after decryption CheckVxlanInEsp checks it and the inner
// Ethernet frame it carries goes to the IPv4 stage as it came.
//
// An SA is per-worker state (sequence numbers, replay window), so each ESP
// tunnel has an owner worker; another worker hands the packet to the
// owner's ring (tag in the mbuf's hash field) instead of touching the SA.

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <cstdint>

#include "dataplane/ipsec/esp_sa.h"
#include "dataplane/tunnel/vxlan.h"
#include "dataplane/tunnel/vxlan_in_esp.h"
#include "dataplane/worker/forward_context.h"
#include "dataplane/worker/tunnel_underlay.h"

namespace isthmus {
namespace esp_internal {

// Tag of a handed-over mbuf (hash.fdir.lo): tunnel id, plus this bit for
// the receive direction; hash.fdir.hi carries the flow hash.
inline constexpr uint32_t kHandoffDecap = 1u << 31;
inline constexpr uint32_t kHandoffTunnelMask = kHandoffDecap - 1;

constexpr DropReason EspDropReason(EspVerdict v) {
  switch (v) {
    case EspVerdict::kReplayed: return DropReason::kEspReplayed;
    case EspVerdict::kOutsideWindow: return DropReason::kEspOutsideWindow;
    case EspVerdict::kAuthFailed: return DropReason::kEspAuthFailed;
    case EspVerdict::kWrongSpi: return DropReason::kEspWrongSpi;
    case EspVerdict::kWrongSource: return DropReason::kEspWrongSource;
    case EspVerdict::kWrongDestination: return DropReason::kEspWrongDestination;
    case EspVerdict::kNotEsp:
    case EspVerdict::kMalformed: return DropReason::kEspMalformed;
    case EspVerdict::kFragment: return DropReason::kTunnelOuterFragment;
    case EspVerdict::kExpired: return DropReason::kEspExpired;
    case EspVerdict::kSeqExhausted: return DropReason::kEspSeqExhausted;
    case EspVerdict::kSeqUnreserved: return DropReason::kEspSeqUnreserved;
    case EspVerdict::kNoRoom: return DropReason::kEspNoRoom;
    case EspVerdict::kCryptoError: return DropReason::kEspCryptoError;
    case EspVerdict::kOk:
    case EspVerdict::kCount: break;
  }
  return DropReason::kBug;
}

inline bool OwnsTunnel(const ForwardContext& ctx, const TunnelEntry& t) {
  return ctx.esp_rings == nullptr || t.esp.owner_worker == ctx.worker_id;
}

inline void HandOff(ForwardContext& ctx, const TunnelEntry& t, rte_mbuf* m, uint32_t hash, bool decap) {
  m->hash.fdir.lo = t.id | (decap ? kHandoffDecap : 0);
  m->hash.fdir.hi = hash;
  if (rte_ring_mp_enqueue(ctx.esp_rings[t.esp.owner_worker], m) != 0) {
    tunnel_internal::TunnelDrop(ctx, t, m, DropReason::kEspHandoffFull);
  }
}

// Stages (or hands over) a packet that starts at its inner IPv4 header.
inline void StageEncap(ForwardContext& ctx, const TunnelEntry& t, rte_mbuf* m, uint32_t hash);
// Stages (or hands over) a received packet that starts at its outer IPv4 header.
inline void StageDecap(ForwardContext& ctx, const TunnelEntry& t, rte_mbuf* m, uint32_t hash);

// Runs every staged outbound packet through its tunnel's SA and sends it.
inline void FlushEncap(ForwardContext& ctx) {
  EspStaging& st = *ctx.esp;
  rte_mbuf* run[kMaxBurst];
  EspVerdict verdicts[kMaxBurst];
  uint32_t inner_len[kMaxBurst];
  uint16_t start = 0;
  while (start < st.encap_count) {
    const TunnelEntry& t = *st.encap[start].tunnel;
    uint16_t n = 0;
    while (start + n < st.encap_count && st.encap[start + n].tunnel == &t) {
      run[n] = st.encap[start + n].m;
      // Counted as the routed IPv4 packet, like a VXLAN tunnel counts it.
      inner_len[n] = rte_pktmbuf_pkt_len(run[n]) - (CarriesVxlan(t) ? kVxlanInEspOverhead : 0);
      ++n;
    }
    if (t.esp.outbound == nullptr) {
      for (uint16_t i = 0; i < n; ++i) tunnel_internal::TunnelDrop(ctx, t, run[i], DropReason::kTunnelDown);
    } else {
      t.esp.outbound->Process(run, n, verdicts, rte_rdtsc());
      TunnelCounters& c = ctx.counters->tunnels[t.id];
      for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = run[i];
        if (verdicts[i] != EspVerdict::kOk) {
          tunnel_internal::TunnelDrop(ctx, t, m, EspDropReason(verdicts[i]));
          continue;
        }
        auto* eth = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, kEtherHeaderLen));
        if (eth == nullptr) {
          tunnel_internal::TunnelDrop(ctx, t, m, DropReason::kTunnelNoHeadroom);
          continue;
        }
        StoreBe16(eth + 12, kEtherTypeIpv4);  // MACs: SendUnderlay
        c.encap_packets.Add(1);
        c.encap_bytes.Add(inner_len[i]);
        tunnel_internal::SendUnderlay(ctx, t, m, st.encap[start + i].hash);
      }
    }
    start = static_cast<uint16_t>(start + n);
  }
  st.encap_count = 0;
}

// A decrypted packet (`m` starts at the ESP inner IPv4 packet) becomes the
// Ethernet frame the IPv4 stage takes as if received on the host TAP, and is
// counted. False: dropped under a named reason.
inline bool InnerFrame(ForwardContext& ctx, const TunnelEntry& t, rte_mbuf* m) {
  TunnelCounters& c = ctx.counters->tunnels[t.id];
  if (CarriesVxlan(t)) {
    const VxlanInEspView v = CheckVxlanInEsp(rte_pktmbuf_mtod(m, const uint8_t*), rte_pktmbuf_data_len(m), t);
    if (!v.ok) {
      tunnel_internal::TunnelDrop(ctx, t, m, v.drop);
      return false;
    }
    // The peer's inner frame goes on as it came (addressed to our inner
    // MAC, which the IPv4 stage checks), like a VXLAN tunnel's.
    rte_pktmbuf_adj(m, static_cast<uint16_t>(v.inner_offset));
    if (rte_pktmbuf_pkt_len(m) > v.inner_len) {
      rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - v.inner_len));
    }
    c.decap_packets.Add(1);
    c.decap_bytes.Add(v.inner_len - kEtherHeaderLen);
    return true;
  }
  const uint32_t inner_len = rte_pktmbuf_pkt_len(m);
  auto* eth = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, kEtherHeaderLen));
  if (eth == nullptr) {
    tunnel_internal::TunnelDrop(ctx, t, m, DropReason::kTunnelNoHeadroom);
    return false;
  }
  // As the peer would address it over a point-to-point link: to our
  // inner MAC (the host TAP's) from the peer's.
  std::memcpy(eth, t.inner_mac.data(), 6);
  std::memcpy(eth + 6, t.remote_inner_mac.data(), 6);
  StoreBe16(eth + 12, kEtherTypeIpv4);
  c.decap_packets.Add(1);
  c.decap_bytes.Add(inner_len);
  return true;
}

// Runs every staged received packet through its tunnel's inbound SAs. Inner
// frames (InnerFrame) are appended to out/out_port for the IPv4 stage.
inline void FlushDecap(ForwardContext& ctx, rte_mbuf** out, uint16_t* out_port, uint16_t* out_count) {
  EspStaging& st = *ctx.esp;
  rte_mbuf* run[kMaxBurst];
  EspVerdict verdicts[kMaxBurst];
  uint16_t start = 0;
  while (start < st.decap_count) {
    const TunnelEntry& t = *st.decap[start].tunnel;
    uint16_t n = 0;
    while (start + n < st.decap_count && st.decap[start + n].tunnel == &t) {
      run[n] = st.decap[start + n].m;
      ++n;
    }
    // SAs are found per packet by SPI: consecutive packets of one SA form
    // one call, the common case (a rekey briefly mixes two SPIs).
    const uint64_t now = rte_rdtsc();
    uint16_t i = 0;
    while (i < n) {
      EspOuterView view;
      EspSa* sa = nullptr;
      if (ParseEspOuter(rte_pktmbuf_mtod(run[i], const uint8_t*), rte_pktmbuf_data_len(run[i]), &view) ==
          EspVerdict::kOk) {
        sa = t.esp.FindInbound(view.spi);
      }
      if (sa == nullptr) {
        // The entry changed between staging and now (a rekey removed the SPI).
        tunnel_internal::TunnelDrop(ctx, t, run[i], DropReason::kEspWrongSpi);
        run[i] = nullptr;
        verdicts[i++] = EspVerdict::kWrongSpi;
        continue;
      }
      uint16_t k = 1;
      while (i + k < n) {
        EspOuterView next;
        if (ParseEspOuter(rte_pktmbuf_mtod(run[i + k], const uint8_t*), rte_pktmbuf_data_len(run[i + k]), &next) !=
                EspVerdict::kOk ||
            next.spi != view.spi) {
          break;
        }
        ++k;
      }
      sa->Process(run + i, k, verdicts + i, now);
      i = static_cast<uint16_t>(i + k);
    }
    for (uint16_t j = 0; j < n; ++j) {
      rte_mbuf* m = run[j];
      if (m == nullptr) continue;
      if (verdicts[j] != EspVerdict::kOk) {
        tunnel_internal::TunnelDrop(ctx, t, m, EspDropReason(verdicts[j]));
        continue;
      }
      if (!InnerFrame(ctx, t, m)) continue;
      out[*out_count] = m;
      out_port[(*out_count)++] = t.host_port;
    }
    start = static_cast<uint16_t>(start + n);
  }
  st.decap_count = 0;
}

inline void StageEncap(ForwardContext& ctx, const TunnelEntry& t, rte_mbuf* m, uint32_t hash) {
  if (!OwnsTunnel(ctx, t)) return HandOff(ctx, t, m, hash, /*decap=*/false);
  EspStaging& st = *ctx.esp;
  if (st.encap_count == kMaxBurst) FlushEncap(ctx);
  st.encap[st.encap_count++] = {m, &t, hash};
}

inline void StageDecap(ForwardContext& ctx, const TunnelEntry& t, rte_mbuf* m, uint32_t hash) {
  if (!OwnsTunnel(ctx, t)) return HandOff(ctx, t, m, hash, /*decap=*/true);
  EspStaging& st = *ctx.esp;
  // Flushed at the end of every burst of at most kMaxBurst packets: never full.
  if (st.decap_count == kMaxBurst) return tunnel_internal::TunnelDrop(ctx, t, m, DropReason::kBug);
  st.decap[st.decap_count++] = {m, &t, hash};
}

}  // namespace esp_internal
}  // namespace isthmus
