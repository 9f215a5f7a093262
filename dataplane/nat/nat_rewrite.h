#pragma once
// Address and port translation of IPv4 packets for the NAT stage: pure,
// over the bytes of one IPv4 packet (header already checked by
// CheckFrame), so every case is unit-tested without mbufs.
//
// A packet of flow direction d leaves with TranslatedKey(flow, d), the
// reverse of the other direction's key (flow_key.h). That one rule covers
// DNAT (dst VIP:port -> backend:port), SNAT (src client:port ->
// snat:port) and both reverses.
//
// ICMP errors (RFC 792; translated as RFC 5508 section 4.2 asks): the
// quoted packet is one the flow sent the other way, so the flow is found by
// the reverse of the INNER tuple. The inner header is rewritten to what
// that packet looked like on the other side of the NAT, the outer
// destination to the endpoint that sent it, and checksums are patched so
// path-MTU discovery (frag-needed, RFC 1191) works through the NAT:
//
//   IPv4 outer | ICMP type code cksum | unused / next-hop MTU | IPv4 inner | inner L4 (>= 8 bytes)
//
// Checksums are updated incrementally (RFC 1624 eqn. 3): the IPv4 header
// checksum for the addresses; the TCP/UDP checksum for the pseudo-header
// addresses and ports (a zero UDP checksum means "none" and stays zero,
// RFC 768); the ICMP checksum, which has no pseudo-header, for every
// changed word of the ICMP message, inner header and inner checksums
// included.

#include <cstdint>

#include "dataplane/nat/flow_key.h"
#include "dataplane/nat/flow_table.h"
#include "dataplane/packet/ipv4_check.h"
#include "dataplane/tunnel/mss_clamp.h"   // kIpProtoTcp, kTcpMinHeaderLen

namespace isthmus {

inline constexpr uint8_t kIcmpEchoReply = 0;
inline constexpr uint8_t kIcmpDestUnreachable = 3;
inline constexpr uint8_t kIcmpEchoRequest = 8;
inline constexpr uint8_t kIcmpTimeExceeded = 11;
inline constexpr uint8_t kIcmpParameterProblem = 12;
inline constexpr uint32_t kIcmpHeaderLen = 8;
inline constexpr uint32_t kTcpChecksumOffset = 16;
inline constexpr uint32_t kUdpChecksumOffset = 6;
inline constexpr uint32_t kIcmpChecksumOffset = 2;
inline constexpr uint32_t kIcmpIdOffset = 4;
inline constexpr uint32_t kTcpFlagsOffset = 13;
inline constexpr uint32_t kIpChecksumOffset = 10;
inline constexpr uint32_t kIpSrcOffset = 12;
inline constexpr uint32_t kIpDstOffset = 16;
// Bytes of the quoted L4 header an ICMP error must carry (RFC 792: 64 bits).
inline constexpr uint32_t kIcmpQuotedL4Len = 8;

enum class NatPacketKind : uint8_t {
  kFlow,          // TCP, UDP or ICMP echo: `key` is the packet's own tuple
  kIcmpError,     // destination unreachable, time exceeded, parameter problem
  kFragment,      // fragment: no ports in every piece, not translated
  kUnsupported,   // other protocol or ICMP type, or an L4 header cut short
};

struct NatPacket {
  NatPacketKind kind = NatPacketKind::kUnsupported;
  // kFlow: the packet's key. kIcmpError: Reverse(inner tuple), the key of
  // the flow direction the error travels in.
  FlowKey key;
  uint8_t tcp_flags = 0;        // kFlow TCP only
  uint32_t l4_offset = 0;       // from the IPv4 header
  uint32_t inner_offset = 0;    // kIcmpError: the quoted IPv4 header
  uint32_t inner_l4_offset = 0;
  uint32_t inner_l4_len = 0;    // quoted L4 bytes present (>= 8)
};

// Accumulates 16-bit word changes and applies them to a checksum
// (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')).
class ChecksumDelta {
 public:
  void Word(uint16_t old_word, uint16_t new_word) { sum_ += static_cast<uint16_t>(~old_word) + uint32_t{new_word}; }
  void Addr(uint32_t old_addr, uint32_t new_addr) {
    Word(static_cast<uint16_t>(old_addr >> 16), static_cast<uint16_t>(new_addr >> 16));
    Word(static_cast<uint16_t>(old_addr), static_cast<uint16_t>(new_addr));
  }
  uint16_t Apply(uint16_t checksum) const {
    uint32_t s = static_cast<uint16_t>(~checksum) + sum_;
    s = (s & 0xffffu) + (s >> 16);
    s = (s & 0xffffu) + (s >> 16);
    return static_cast<uint16_t>(~s);
  }
  void Add(const ChecksumDelta& other) { sum_ += other.sum_; }
  // Rewrites the big-endian checksum at `p`.
  void ApplyAt(uint8_t* p) const { StoreBe16(p, Apply(LoadBe16(p))); }

 private:
  uint32_t sum_ = 0;   // a few dozen words at most: no overflow
};

namespace nat_internal {

// Ports (or the ICMP echo identifier) of an L4 header, as key fields.
inline bool ParseL4(const uint8_t* l4, uint32_t l4_len, uint8_t proto, uint16_t* sport, uint16_t* dport,
                    uint8_t* tcp_flags) {
  if (proto == kIpProtoTcp || proto == kIpProtoUdp) {
    if (l4_len < kIcmpQuotedL4Len) return false;
    *sport = LoadBe16(l4);
    *dport = LoadBe16(l4 + 2);
    if (tcp_flags != nullptr && proto == kIpProtoTcp) *tcp_flags = l4[kTcpFlagsOffset];
    return true;
  }
  if (proto == kIpProtoIcmp && l4_len >= kIcmpHeaderLen) {
    const uint16_t id = LoadBe16(l4 + kIcmpIdOffset);
    if (l4[0] == kIcmpEchoRequest) {
      *sport = id;
      return true;
    }
    if (l4[0] == kIcmpEchoReply) {
      *dport = id;
      return true;
    }
  }
  return false;
}

inline bool IsFragment(const uint8_t* ip) {
  return (LoadBe16(ip + 6) & (kIpFlagMoreFragments | kIpFragOffsetMask)) != 0;
}

// Whether the `len` bytes at `p` are zero apart from the 16-bit word at `skip`.
inline bool AllZeroExcept(const uint8_t* p, uint32_t len, uint32_t skip) {
  for (uint32_t i = 0; i < len; ++i) {
    if (p[i] != 0 && i != skip && i != skip + 1) return false;
  }
  return true;
}

// Sets the ports (or echo identifier) of an L4 header to `to`'s and adds
// the word changes to `delta` (the L4 checksum's; the caller adds the
// pseudo-header). Returns the offset of the L4 checksum.
inline uint32_t RewritePorts(uint8_t* l4, uint8_t proto, const FlowKey& to, ChecksumDelta* delta) {
  if (proto == kIpProtoIcmp) {
    const uint16_t id = l4[0] == kIcmpEchoRequest ? to.sport : to.dport;
    delta->Word(LoadBe16(l4 + kIcmpIdOffset), id);
    StoreBe16(l4 + kIcmpIdOffset, id);
    return kIcmpChecksumOffset;
  }
  delta->Word(LoadBe16(l4), to.sport);
  delta->Word(LoadBe16(l4 + 2), to.dport);
  StoreBe16(l4, to.sport);
  StoreBe16(l4 + 2, to.dport);
  return proto == kIpProtoTcp ? kTcpChecksumOffset : kUdpChecksumOffset;
}

}  // namespace nat_internal

namespace nat_internal {

// The ICMP error part of ParseNatPacket (kept apart: the flow path is the
// one every packet takes).
inline void ParseIcmpError(const uint8_t* ip, uint32_t ihl, uint32_t l4_len, NatPacket* p) {
  const uint8_t* l4 = ip + ihl;
  if (l4_len < kIcmpHeaderLen + kIpv4MinHeaderLen + kIcmpQuotedL4Len) return;
  const uint8_t type = l4[0];
  if (type != kIcmpDestUnreachable && type != kIcmpTimeExceeded && type != kIcmpParameterProblem) return;
  const uint8_t* inner = l4 + kIcmpHeaderLen;
  const uint32_t inner_ihl = (inner[0] & 0x0fu) * 4u;
  const uint32_t inner_room = l4_len - kIcmpHeaderLen;
  if ((inner[0] >> 4) != 4 || inner_ihl < kIpv4MinHeaderLen || inner_room < inner_ihl + kIcmpQuotedL4Len) return;
  if ((LoadBe16(inner + 6) & kIpFragOffsetMask) != 0) return;   // quoted non-first fragment: no ports
  uint16_t sport = 0, dport = 0;
  if (!ParseL4(inner + inner_ihl, inner_room - inner_ihl, inner[9], &sport, &dport, nullptr)) return;
  p->kind = NatPacketKind::kIcmpError;
  p->key = Reverse(MakeFlowKey(LoadBe32(inner + kIpSrcOffset), LoadBe32(inner + kIpDstOffset), sport, dport, inner[9]));
  p->inner_offset = ihl + kIcmpHeaderLen;
  p->inner_l4_offset = p->inner_offset + inner_ihl;
  p->inner_l4_len = inner_room - inner_ihl;
}

}  // namespace nat_internal

// Classifies a packet and extracts the key the flow table is searched
// with, into `p` (filled in place: the stage keeps one per packet of a
// burst and the key is then read whole, see flow_key.h).
inline void ParseNatPacket(const uint8_t* ip, uint32_t ip_len, NatPacket* p) {
  const uint32_t ihl = (ip[0] & 0x0fu) * 4u;
  p->kind = NatPacketKind::kUnsupported;
  p->tcp_flags = 0;
  if (nat_internal::IsFragment(ip)) {
    p->kind = NatPacketKind::kFragment;
    return;
  }
  const uint8_t proto = ip[9];
  p->l4_offset = ihl;
  const uint8_t* l4 = ip + ihl;
  const uint32_t l4_len = ip_len - ihl;
  if (proto == kIpProtoTcp && l4_len < kTcpMinHeaderLen) return;
  uint16_t sport = 0, dport = 0;
  if (nat_internal::ParseL4(l4, l4_len, proto, &sport, &dport, &p->tcp_flags)) {
    p->kind = NatPacketKind::kFlow;
    p->key = MakeFlowKey(LoadBe32(ip + kIpSrcOffset), LoadBe32(ip + kIpDstOffset), sport, dport, proto);
    return;
  }
  if (proto == kIpProtoIcmp) nat_internal::ParseIcmpError(ip, ihl, l4_len, p);
}

inline NatPacket ParseNatPacket(const uint8_t* ip, uint32_t ip_len) {
  NatPacket p;
  ParseNatPacket(ip, ip_len, &p);
  return p;
}

// The tuple a packet of direction `d` of `f` leaves with.
inline FlowKey TranslatedKey(const Flow& f, FlowDirection d) { return Reverse(f.Key(Opposite(d))); }

// Gives a kFlow packet the tuple `to` (addresses, ports or echo identifier).
inline void RewriteFlowPacket(uint8_t* ip, const NatPacket& p, const FlowKey& to) {
  ChecksumDelta addresses;
  addresses.Addr(LoadBe32(ip + kIpSrcOffset), to.src);
  addresses.Addr(LoadBe32(ip + kIpDstOffset), to.dst);
  StoreBe32(ip + kIpSrcOffset, to.src);
  StoreBe32(ip + kIpDstOffset, to.dst);
  addresses.ApplyAt(ip + kIpChecksumOffset);

  uint8_t* l4 = ip + p.l4_offset;
  const uint8_t proto = ip[9];
  // ICMP has no pseudo-header: only its own words count.
  ChecksumDelta l4_delta = proto == kIpProtoIcmp ? ChecksumDelta{} : addresses;
  const uint32_t checksum_offset = nat_internal::RewritePorts(l4, proto, to, &l4_delta);
  if (proto == kIpProtoUdp) {
    const uint16_t old = LoadBe16(l4 + checksum_offset);
    if (old == 0) return;   // sent without a checksum (RFC 768): keep it so
    const uint16_t updated = l4_delta.Apply(old);
    StoreBe16(l4 + checksum_offset, updated == 0 ? 0xffff : updated);
    return;
  }
  uint16_t updated = l4_delta.Apply(LoadBe16(l4 + checksum_offset));
  // Eqn. 3 gives 0x0000, never 0xFFFF, when the other words sum to -0. An
  // ICMP message (no pseudo-header) can be all zeros apart from the
  // checksum (echo reply, identifier and sequence 0, zero payload): its sum
  // is +0 and only 0xFFFF verifies (RFC 1071 compares the total with -0).
  // Rare (1 in 65536 results is 0), so the scan costs nothing on average.
  if (updated == 0 && proto == kIpProtoIcmp &&
      nat_internal::AllZeroExcept(l4, LoadBe16(ip + 2) - p.l4_offset, checksum_offset)) {
    updated = 0xffff;
  }
  StoreBe16(l4 + checksum_offset, updated);
}

// Translates a kIcmpError whose flow direction translates to `out`
// (TranslatedKey of the direction p.key matched): the quoted packet becomes
// Reverse(out), the outer destination out.dst, and when the error comes
// from the flow's own peer (e.g. port unreachable from the backend) the
// outer source out.src, so the receiver sees it from the address it talked
// to.
inline void RewriteIcmpError(uint8_t* ip, const NatPacket& p, const FlowKey& out) {
  const FlowKey inner_to = Reverse(out);
  const uint32_t outer_src = LoadBe32(ip + kIpSrcOffset);
  const uint32_t new_src = outer_src == p.key.src ? out.src : outer_src;
  ChecksumDelta outer;
  outer.Addr(outer_src, new_src);
  outer.Addr(LoadBe32(ip + kIpDstOffset), out.dst);
  StoreBe32(ip + kIpSrcOffset, new_src);
  StoreBe32(ip + kIpDstOffset, out.dst);
  outer.ApplyAt(ip + kIpChecksumOffset);

  uint8_t* icmp = ip + p.l4_offset;
  uint8_t* inner = ip + p.inner_offset;
  uint8_t* inner_l4 = ip + p.inner_l4_offset;
  const uint8_t inner_proto = inner[9];
  ChecksumDelta icmp_delta;   // every word of the ICMP message that changes

  ChecksumDelta inner_addresses;
  inner_addresses.Addr(LoadBe32(inner + kIpSrcOffset), inner_to.src);
  inner_addresses.Addr(LoadBe32(inner + kIpDstOffset), inner_to.dst);
  icmp_delta.Addr(LoadBe32(inner + kIpSrcOffset), inner_to.src);
  icmp_delta.Addr(LoadBe32(inner + kIpDstOffset), inner_to.dst);
  StoreBe32(inner + kIpSrcOffset, inner_to.src);
  StoreBe32(inner + kIpDstOffset, inner_to.dst);
  const uint16_t inner_ip_checksum = LoadBe16(inner + kIpChecksumOffset);
  const uint16_t new_inner_ip_checksum = inner_addresses.Apply(inner_ip_checksum);
  icmp_delta.Word(inner_ip_checksum, new_inner_ip_checksum);
  StoreBe16(inner + kIpChecksumOffset, new_inner_ip_checksum);

  ChecksumDelta ports;
  const uint32_t checksum_offset = nat_internal::RewritePorts(inner_l4, inner_proto, inner_to, &ports);
  icmp_delta.Add(ports);
  // The quoted L4 checksum covers the whole original datagram, most of it
  // not quoted; an incremental update keeps it right for what was there.
  // TCP's sits beyond the 8 bytes RFC 792 guarantees, so only when quoted.
  if (checksum_offset + 2 <= p.inner_l4_len) {
    ChecksumDelta inner_l4_delta = ports;
    if (inner_proto != kIpProtoIcmp) inner_l4_delta.Add(inner_addresses);   // pseudo-header
    uint8_t* at = inner_l4 + checksum_offset;
    const uint16_t old = LoadBe16(at);
    if (!(inner_proto == kIpProtoUdp && old == 0)) {
      uint16_t updated = inner_l4_delta.Apply(old);
      if (inner_proto == kIpProtoUdp && updated == 0) updated = 0xffff;
      icmp_delta.Word(old, updated);
      StoreBe16(at, updated);
    }
  }
  icmp_delta.ApplyAt(icmp + kIcmpChecksumOffset);
}

// Translates a packet of direction `d` of flow `f` (kFlow or kIcmpError).
inline void TranslatePacket(uint8_t* ip, const NatPacket& p, const Flow& f, FlowDirection d) {
  const FlowKey out = TranslatedKey(f, d);
  if (p.kind == NatPacketKind::kIcmpError) {
    RewriteIcmpError(ip, p, out);
  } else {
    RewriteFlowPacket(ip, p, out);
  }
}

}  // namespace isthmus
