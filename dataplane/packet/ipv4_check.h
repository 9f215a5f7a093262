#pragma once
// Receive-side checks a router applies to an Ethernet/IPv4 frame before it is
// forwarded (RFC 1812 5.2.2 and 5.3.7). Pure: bytes in, verdict out, so the
// whole table of bad packets is unit-tested without DPDK.
//
//   Ethernet II          IPv4 (RFC 791)
//   +--------+--------+  +-------+-------+---------------+---------------+
//   | dst(6) | src(6) |  |Ver|IHL|  TOS  |         Total Length          |
//   +--------+--------+  +-------+-------+-------+-------+---------------+
//   | type(2)|           |   Identification      |Flags|  Frag Offset    |
//   +--------+           +---------------+-------+-------+---------------+
//                        |      TTL      | Proto |     Header Checksum   |
//                        +---------------+-------+-----------------------+
//                        |           Source / Destination Address        |

#include <array>
#include <cstdint>
#include <cstring>

#include "dataplane/drop_reason.h"

namespace isthmus {

inline constexpr uint32_t kEtherHeaderLen = 14;
inline constexpr uint32_t kIpv4MinHeaderLen = 20;
inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kIpFlagMoreFragments = 0x2000;
inline constexpr uint16_t kIpFragOffsetMask = 0x1fff;
// Shared by every L4 parser (VXLAN, UDP-encapsulated ESP).
inline constexpr uint32_t kUdpHeaderLen = 8;
inline constexpr uint8_t kIpProtoUdp = 17;

using MacAddr = std::array<uint8_t, 6>;

enum class Action : uint8_t { kForward, kPunt, kDrop };

struct FrameVerdict {
  Action action = Action::kForward;
  DropReason drop = DropReason::kBug;
  PuntReason punt = PuntReason::kLocal;
  // Valid when action == kForward:
  uint32_t ip_len = 0;   // IPv4 total length (the frame may carry padding beyond it)
  bool fragment = false; // MF set or offset non-zero: ports are not hashable

  static constexpr FrameVerdict Drop(DropReason r) { return {Action::kDrop, r, PuntReason::kLocal, 0, false}; }
  static constexpr FrameVerdict Punt(PuntReason r) { return {Action::kPunt, DropReason::kBug, r, 0, false}; }
};

inline uint16_t LoadBe16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t LoadBe32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
inline void StoreBe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void StoreBe32(uint8_t* p, uint32_t v) {
  StoreBe16(p, static_cast<uint16_t>(v >> 16));
  StoreBe16(p + 2, static_cast<uint16_t>(v));
}

// Complemented one's-complement sum over the header (RFC 1071), as the
// 16-bit value in network order: 0 when the checksum is right, and the
// checksum to store when the field was zeroed. The sum is independent of byte
// order (RFC 1071 2(B)), so it adds 32-bit words in host order into a 64-bit
// accumulator, folds, and swaps once at the end.
inline uint16_t Ipv4HeaderChecksumResidue(const uint8_t* ip, uint32_t header_len) {
  uint64_t sum = 0;
  auto add_words = [&](uint32_t words) {
    for (uint32_t i = 0; i < words; ++i) {
      uint32_t w;
      std::memcpy(&w, ip + 4 * i, sizeof(w));
      sum += w;
    }
  };
  // The common header (no options) gets a loop the compiler unrolls.
  if (header_len == kIpv4MinHeaderLen) {
    add_words(kIpv4MinHeaderLen / 4);
  } else {
    add_words(header_len / 4);
  }
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  const auto residue = static_cast<uint16_t>(~sum & 0xffffu);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return __builtin_bswap16(residue);
#else
  return residue;
#endif
}

// RFC 1812 5.3.7: a router must not forward packets whose source is
// 0.0.0.0/8, 127.0.0.0/8, class D (224/4) or class E (240/4) — the limited
// broadcast 255.255.255.255 is inside 240/4.
inline bool IsMartianSource(uint32_t src) {
  const uint8_t first = static_cast<uint8_t>(src >> 24);
  return first == 0 || first == 127 || first >= 224;
}
inline bool IsMartianDestination(uint32_t dst) {
  const uint8_t first = static_cast<uint8_t>(dst >> 24);
  return first == 0 || first == 127 || (first >= 240 && dst != 0xffffffffu);
}
inline bool IsMulticastOrBroadcast(uint32_t dst) {
  return (dst >> 28) == 0xe || dst == 0xffffffffu;
}

inline bool IsBroadcastMac(const uint8_t* mac) {
  static constexpr uint8_t kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  return std::memcmp(mac, kBroadcast, 6) == 0;
}
inline bool IsGroupMac(const uint8_t* mac) { return (mac[0] & 1) != 0; }

// Classifies a received frame. `port_mac` is the receiving port's address.
// TTL and the local/transit decision are made after the FIB lookup.
inline FrameVerdict CheckFrame(const uint8_t* frame, uint32_t frame_len, const MacAddr& port_mac) {
  if (frame_len < kEtherHeaderLen) return FrameVerdict::Drop(DropReason::kRunt);
  const uint16_t ether_type = LoadBe16(frame + 12);
  if (ether_type == kEtherTypeArp) return FrameVerdict::Punt(PuntReason::kArp);
  if (ether_type != kEtherTypeIpv4) return FrameVerdict::Drop(DropReason::kNotIpv4);
  const bool group_mac = IsGroupMac(frame);
  if (!group_mac && std::memcmp(frame, port_mac.data(), 6) != 0) {
    return FrameVerdict::Drop(DropReason::kNotForUs);
  }
  if (frame_len < kEtherHeaderLen + kIpv4MinHeaderLen) return FrameVerdict::Drop(DropReason::kRunt);

  const uint8_t* ip = frame + kEtherHeaderLen;
  const uint32_t l3_room = frame_len - kEtherHeaderLen;
  if ((ip[0] >> 4) != 4) return FrameVerdict::Drop(DropReason::kBadVersion);
  const uint32_t header_len = (ip[0] & 0x0fu) * 4u;
  if (header_len < kIpv4MinHeaderLen) return FrameVerdict::Drop(DropReason::kBadIhl);
  const uint32_t total_len = LoadBe16(ip + 2);
  if (total_len < header_len || total_len > l3_room) return FrameVerdict::Drop(DropReason::kBadTotalLength);
  if (Ipv4HeaderChecksumResidue(ip, header_len) != 0) return FrameVerdict::Drop(DropReason::kBadChecksum);

  const uint32_t src = LoadBe32(ip + 12);
  const uint32_t dst = LoadBe32(ip + 16);
  if (IsMartianSource(src)) return FrameVerdict::Drop(DropReason::kMartianSource);
  if (IsMartianDestination(dst)) return FrameVerdict::Drop(DropReason::kMartianDestination);
  if (IsMulticastOrBroadcast(dst)) return FrameVerdict::Punt(PuntReason::kMulticastBroadcast);
  // RFC 1812 5.3.4: a unicast datagram in a link-layer broadcast/multicast
  // frame must not be forwarded.
  if (group_mac) return FrameVerdict::Drop(DropReason::kL2BroadcastUnicastIp);
  if (header_len > kIpv4MinHeaderLen) return FrameVerdict::Punt(PuntReason::kIpOptions);

  const uint16_t frag = LoadBe16(ip + 6);
  FrameVerdict v;
  v.action = Action::kForward;
  v.ip_len = total_len;
  v.fragment = (frag & (kIpFlagMoreFragments | kIpFragOffsetMask)) != 0;
  return v;
}

// TTL decrement with the checksum updated incrementally by RFC 1624 eqn. 3,
// HC' = ~(~HC + ~m + m'), where m is the 16-bit word holding TTL and protocol.
// (Eqn. 2, "HC + 0x0100", can yield 0xFFFF where a full recompute gives 0.)
inline void DecrementTtl(uint8_t* ip) {
  const uint32_t old_word = LoadBe16(ip + 8);
  ip[8] = static_cast<uint8_t>(ip[8] - 1);
  const uint32_t new_word = LoadBe16(ip + 8);
  uint32_t sum = (~static_cast<uint32_t>(LoadBe16(ip + 10)) & 0xffffu) + (~old_word & 0xffffu) + new_word;
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  const uint16_t checksum = static_cast<uint16_t>(~sum & 0xffffu);
  ip[10] = static_cast<uint8_t>(checksum >> 8);
  ip[11] = static_cast<uint8_t>(checksum);
}

}  // namespace isthmus
