#pragma once
// The NAT stage of the anycast services (issue 5), between the frame checks
// and the FIB lookup: packets to a service VIP are DNATed (and SNATed when
// the service has a pool) to the backend their flow is pinned to; replies
// from backends, and ICMP errors about either direction, are translated
// back. Everything else passes untouched, after at most two probes of small
// read-only indexes (IsVip, MayBeReply).
//
// A packet to a VIP that misses the flow table starts a flow: the backend
// is Maglev's pick over the healthy backends for the packet's 5-tuple
// (dataplane/service), so every appliance with the same backends picks the
// same one, also for a TCP flow picked up mid-stream after an ECMP change.
// Both directions go into the shared flow table at once (a reply may reach
// any worker). A flow whose backend has gone down follows the service's
// on_backend_down policy: `reset` answers a TCP packet with a RST to the
// client (so it reconnects at once, to a healthy backend) and marks the
// flow reset (it ages out in tcp_reset); `reselect` flows are removed by
// the control thread, and their next packet picks anew.
//
// A client SYN that would open a flow is admitted first (FlowTable::
// AdmitEmbryonic: limits on half-open flows and a per-worker SYN rate), so
// a SYN flood at a VIP is dropped by name instead of filling the table;
// packets of flows already in the table never pass through admission.

#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include <cstdint>
#include <cstring>

#include "dataplane/nat/flow_table.h"
#include "dataplane/nat/nat_rewrite.h"
#include "dataplane/nat/snat_port_allocator.h"
#include "dataplane/service/flow_hash.h"
#include "dataplane/service/service_table.h"
#include "dataplane/worker/forward_context.h"

namespace isthmus::nat_internal {

inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpAck = 0x10;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kResetTtl = 64;

// Turns a client's TCP segment (to the VIP) into the RST the VIP answers
// it with (RFC 793 3.4 "Reset Generation") and sends it back out of the
// port it came in on, to the MAC it came from.
inline void ReplyWithReset(ForwardContext& ctx, uint16_t in_port, rte_mbuf* m, uint32_t ip_len) {
  uint8_t* eth = rte_pktmbuf_mtod(m, uint8_t*);
  uint8_t* ip = eth + kEtherHeaderLen;
  const uint32_t ihl = (ip[0] & 0x0fu) * 4u;
  const uint8_t* tcp_in = ip + ihl;
  const uint32_t src = LoadBe32(ip + 12), dst = LoadBe32(ip + 16);
  const uint16_t sport = LoadBe16(tcp_in), dport = LoadBe16(tcp_in + 2);
  const uint32_t seq = LoadBe32(tcp_in + 4), ack = LoadBe32(tcp_in + 8);
  const uint8_t flags = tcp_in[13];
  const uint32_t data_len = ip_len - ihl - (tcp_in[12] >> 4) * 4u;
  const uint32_t seg_len = data_len + ((flags & kTcpSyn) ? 1 : 0) + ((flags & kTcpFin) ? 1 : 0);

  std::memcpy(eth, eth + 6, 6);
  std::memcpy(eth + 6, ctx.ports[in_port].mac.data(), 6);
  constexpr uint32_t kIpLen = 20, kTcpLen = 20;
  auto* iph = reinterpret_cast<rte_ipv4_hdr*>(ip);
  std::memset(ip, 0, kIpLen + kTcpLen);
  iph->version_ihl = 0x45;
  iph->total_length = rte_cpu_to_be_16(kIpLen + kTcpLen);
  iph->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
  iph->time_to_live = kResetTtl;
  iph->next_proto_id = IPPROTO_TCP;
  iph->src_addr = rte_cpu_to_be_32(dst);
  iph->dst_addr = rte_cpu_to_be_32(src);
  auto* tcp = reinterpret_cast<rte_tcp_hdr*>(ip + kIpLen);
  tcp->src_port = rte_cpu_to_be_16(dport);
  tcp->dst_port = rte_cpu_to_be_16(sport);
  if (flags & kTcpAck) {
    tcp->sent_seq = rte_cpu_to_be_32(ack);
    tcp->tcp_flags = kTcpRst;
  } else {
    tcp->recv_ack = rte_cpu_to_be_32(seq + seg_len);
    tcp->tcp_flags = kTcpRst | kTcpAck;
  }
  tcp->data_off = (kTcpLen / 4) << 4;
  iph->hdr_checksum = rte_ipv4_cksum(iph);
  tcp->cksum = rte_ipv4_udptcp_cksum(iph, tcp);
  const uint32_t frame_len = kEtherHeaderLen + kIpLen + kTcpLen;
  rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - frame_len));
  ctx.tx->Push(in_port, m);
}

// The outcome for one packet of the burst.
enum class NatOutcome : uint8_t { kPass, kDrop, kConsumed };

// How to put a translated packet back as it arrived, for the exits that
// hand it to the kernel (TTL expired, too big for the egress MTU): the
// kernel's ICMP error must quote what the sender sent, or the sender cannot
// match it (path-MTU discovery through the NAT). Trivial, so a burst's
// array costs nothing to declare.
struct NatUndo {
  unsigned char original[sizeof(FlowKey)];
  uint32_t l4_offset;
  bool valid;
};

inline void UndoTranslation(uint8_t* ip, const NatUndo& u) {
  if (!u.valid) return;
  NatPacket p;
  p.kind = NatPacketKind::kFlow;
  p.l4_offset = u.l4_offset;
  FlowKey original;
  std::memcpy(&original, u.original, sizeof(original));
  RewriteFlowPacket(ip, p, original);
}

// Starts a flow for packet `p` (a miss to a VIP) and translates it.
inline NatOutcome StartFlow(ForwardContext& ctx, const ServiceSnapshot& snap, uint8_t* ip, const NatPacket& p,
                            DropReason* why) {
  const FlowKey& k = p.key;
  const ServiceEntry* service = snap.Find(k.dst, k.proto, k.dport);
  if (service == nullptr) {
    *why = DropReason::kNatNoService;
    return NatOutcome::kDrop;
  }
  const uint32_t hash = FlowHash(k.src, k.dst, k.sport, k.dport, k.proto);
  const uint32_t backend_id = service->PickBackend(hash);
  if (backend_id == kNoBackend) {
    *why = DropReason::kNatNoBackend;
    return NatOutcome::kDrop;
  }
  // A SYN (not a segment picked up mid-stream: that connection is already
  // established somewhere and is never refused here) opens a half-open flow.
  if (k.proto == kIpProtoTcp && (p.tcp_flags & (kTcpSyn | kTcpAck | kTcpRst)) == kTcpSyn) {
    const NatError admitted = ctx.flows->AdmitEmbryonic(ctx.worker_id, static_cast<uint16_t>(service->id), ctx.now_s);
    if (admitted != NatError::kNone) {
      *why = DropReasonFor(admitted);
      return NatOutcome::kDrop;
    }
  }
  const ServiceBackend& backend = service->backends[backend_id];
  const uint16_t backend_port = backend.port != 0 ? backend.port : k.dport;
  FlowSpec spec;
  spec.original = k;
  spec.service_id = static_cast<uint16_t>(service->id);
  spec.backend_id = static_cast<uint16_t>(backend_id);
  if (service->snat_pool.empty()) {
    spec.reply = MakeFlowKey(backend.address, k.src, backend_port, k.sport, k.proto);
  } else {
    const SnatAllocation a = ctx.snat->Allocate(k.proto, ctx.worker_id, hash, service->snat_pool);
    if (a.error != NatError::kNone) {
      *why = DropReasonFor(a.error);
      return NatOutcome::kDrop;
    }
    spec.reply = MakeFlowKey(backend.address, a.addr, backend_port, a.port, k.proto);
    spec.snat = true;
  }
  FlowInsertResult r = ctx.flows->Insert(ctx.worker_id, spec, ctx.now_s);
  if (r.error != NatError::kNone && spec.snat) ctx.snat->Release(k.proto, spec.reply.dst, spec.reply.dport);
  if (r.error != NatError::kNone && r.error != NatError::kExists) {
    *why = DropReasonFor(r.error);
    return NatOutcome::kDrop;
  }
  // kExists: another worker created this very flow a moment ago; use it.
  ctx.flows->Touch(r.ref, ctx.now_s, p.tcp_flags);
  TranslatePacket(ip, p, ctx.flows->flow(r.ref), RefDirection(r.ref));
  return NatOutcome::kPass;
}

// Whether the backend a flow is pinned to is down in the current snapshot.
inline bool BackendDown(const ServiceSnapshot& snap, const Flow& f, BackendDownPolicy* policy) {
  const auto entries = snap.entries();
  if (f.service_id >= entries.size()) return false;
  const ServiceEntry& e = entries[f.service_id];
  if (f.backend_id >= e.backends.size() || e.backends[f.backend_id].healthy) return false;
  *policy = e.on_backend_down;
  return true;
}

// Translates what belongs to a service flow in pkts[0..n) and compacts the
// arrays to the packets that go on to the FIB (with their new destination);
// undo[k] says how to restore the k-th packet that goes on.
inline uint16_t TranslateBurst(ForwardContext& ctx, uint16_t in_port, rte_mbuf** pkts, uint32_t* dst,
                               uint32_t* ip_len, bool* fragment, uint16_t n, NatUndo* undo) {
  const ServiceSnapshot& snap = *ctx.services->Get();
  if (snap.empty()) {
    for (uint16_t i = 0; i < n; ++i) undo[i].valid = false;
    return n;
  }
  NatPacket parsed[kMaxBurst];
  FlowKey keys[kMaxBurst];
  uint16_t at[kMaxBurst];
  bool to_vip[kMaxBurst];
  NatOutcome outcome[kMaxBurst];
  DropReason why[kMaxBurst];
  uint16_t translated_as[kMaxBurst];   // index into parsed[] of a translated flow packet
  constexpr uint16_t kNotTranslated = UINT16_MAX;
  uint16_t candidates = 0;
  for (uint16_t i = 0; i < n; ++i) {
    outcome[i] = NatOutcome::kPass;
    translated_as[i] = kNotTranslated;
    const uint8_t* ip = rte_pktmbuf_mtod_offset(pkts[i], const uint8_t*, kEtherHeaderLen);
    const bool vip = snap.IsVip(dst[i]);
    // ICMP errors about a translated flow may come from any router.
    if (!vip && ip[9] != kIpProtoIcmp && !snap.MayBeReply(LoadBe32(ip + 12), dst[i])) continue;
    NatPacket& p = parsed[candidates];
    ParseNatPacket(ip, ip_len[i], &p);
    if (p.kind == NatPacketKind::kFragment || p.kind == NatPacketKind::kUnsupported) {
      if (vip) {
        outcome[i] = NatOutcome::kDrop;
        why[i] = p.kind == NatPacketKind::kFragment ? DropReason::kNatFragment : DropReason::kNatUnsupported;
      }
      continue;
    }
    keys[candidates] = p.key;
    at[candidates] = i;
    to_vip[candidates] = vip;
    ++candidates;
  }
  if (candidates != 0) {
    FlowRef refs[kMaxBurst];
    ctx.flows->LookupBurst(keys, candidates, refs);
    for (uint16_t c = 0; c < candidates; ++c) {
      const uint16_t i = at[c];
      const NatPacket& p = parsed[c];
      uint8_t* ip = rte_pktmbuf_mtod_offset(pkts[i], uint8_t*, kEtherHeaderLen);
      if (refs[c] == kNoFlow) {
        // Not ours: replies and errors of flows we do not know pass as
        // they are; a new flow needs a VIP (not an error about one).
        if (!to_vip[c] || p.kind != NatPacketKind::kFlow) continue;
        outcome[i] = StartFlow(ctx, snap, ip, p, &why[i]);
      } else {
        const Flow& f = ctx.flows->flow(refs[c]);
        BackendDownPolicy policy;
        if (p.kind == NatPacketKind::kFlow && RefDirection(refs[c]) == FlowDirection::kOriginal &&
            BackendDown(snap, f, &policy) && policy == BackendDownPolicy::kReset) {
          // Once: marking a reset flow again would refresh its idle time,
          // and a client that keeps sending would never be let go. (UDP
          // flows of a dead backend are removed by the control thread.)
          if (p.key.proto == kIpProtoTcp && f.tcp() != TcpState::kReset) {
            ctx.flows->Touch(refs[c], ctx.now_s, kTcpRst);
          }
          ctx.counters->Drop(DropReason::kNatBackendDown);
          if (p.key.proto == kIpProtoTcp && (p.tcp_flags & kTcpRst) == 0) {
            ReplyWithReset(ctx, in_port, pkts[i], ip_len[i]);
          } else {
            rte_pktmbuf_free(pkts[i]);
          }
          outcome[i] = NatOutcome::kConsumed;
          continue;
        }
        if (p.kind == NatPacketKind::kFlow) ctx.flows->Touch(refs[c], ctx.now_s, p.tcp_flags);
        TranslatePacket(ip, p, f, RefDirection(refs[c]));
      }
      if (outcome[i] == NatOutcome::kPass) {
        dst[i] = LoadBe32(ip + 16);
        if (p.kind == NatPacketKind::kFlow) translated_as[i] = c;
      }
    }
  }
  uint16_t kept = 0;
  for (uint16_t i = 0; i < n; ++i) {
    if (outcome[i] == NatOutcome::kConsumed) continue;
    if (outcome[i] == NatOutcome::kDrop) {
      forward_internal::Drop(ctx, pkts[i], why[i]);
      continue;
    }
    pkts[kept] = pkts[i];
    dst[kept] = dst[i];
    ip_len[kept] = ip_len[i];
    fragment[kept] = fragment[i];
    NatUndo& u = undo[kept];
    u.valid = translated_as[i] != kNotTranslated;
    if (u.valid) {
      std::memcpy(u.original, &parsed[translated_as[i]].key, sizeof(FlowKey));
      u.l4_offset = parsed[translated_as[i]].l4_offset;
    }
    ++kept;
  }
  return kept;
}

}  // namespace isthmus::nat_internal
