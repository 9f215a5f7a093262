#pragma once
// A tiny frame builder for the XDP tests: Ethernet + IPv4 (header checksum
// computed, RFC 791 3.1) + TCP/UDP (checksum over the pseudo-header, RFC 793
// 3.1 / RFC 768) or ICMP echo (RFC 792). Multi-byte inputs are host order.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace isthmus::test {

using Bytes = std::vector<uint8_t>;

inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoEsp = 50;
inline constexpr size_t kEthernetHeaderLen = 14;
inline constexpr size_t kIpv4MinHeaderLen = 20;
// RFC 791 3.1 flags/fragment-offset word.
inline constexpr uint16_t kIpv4MoreFragments = 0x2000;

// An L4 header (and payload) before it is wrapped in IPv4.
struct Segment {
  uint8_t protocol = 0;
  Bytes bytes;
};

Segment TcpSyn(uint16_t src_port, uint16_t dst_port);
Segment Udp(uint16_t src_port, uint16_t dst_port, size_t payload_len = 0);
Segment IcmpEchoRequest();
Segment Raw(uint8_t protocol, size_t len);

struct Ipv4Fields {
  uint32_t src = 0;
  uint32_t dst = 0;
  // Flags and fragment offset (in 8-byte units) as on the wire, host order.
  uint16_t flags_fragment = 0;
  // Extra 32-bit option words (NOP-filled, RFC 791 option type 1).
  uint8_t option_words = 0;
};

// IPv4 header + `segment`, with total length and every checksum filled in.
Bytes Ipv4Packet(const Ipv4Fields& ip, const Segment& segment);
// Ethernet II frame, padded to the 60-byte minimum (IEEE 802.3, no FCS).
Bytes EthernetFrame(uint16_t ethertype, const Bytes& payload);
// Broadcast ARP request (RFC 826) for `target` from `sender`.
Bytes ArpRequestFrame(uint32_t sender, uint32_t target);
// IPv6 neighbour solicitation-sized frame; only the ethertype matters here.
Bytes Ipv6Frame();

inline Bytes Ipv4Frame(const Ipv4Fields& ip, const Segment& segment) {
  return EthernetFrame(kEtherTypeIpv4, Ipv4Packet(ip, segment));
}

// Builds a host-order IPv4 address from its dotted parts.
constexpr uint32_t Ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return (uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d;
}

}  // namespace isthmus::test
