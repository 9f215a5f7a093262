#include "tests/unit/xdp/test_frame.h"

#include <algorithm>

namespace isthmus::test {
namespace {

constexpr size_t kEthernetMinFrameLen = 60;  // 64 minus the 4-byte FCS
constexpr size_t kMacLen = 6;
constexpr size_t kTcpHeaderLen = 20;
constexpr size_t kUdpHeaderLen = 8;
constexpr size_t kIcmpEchoLen = 8;
constexpr size_t kTcpChecksumOffset = 16;
constexpr size_t kUdpLengthOffset = 4;
constexpr size_t kUdpChecksumOffset = 6;
constexpr size_t kIcmpChecksumOffset = 2;
constexpr size_t kIpv4ChecksumOffset = 10;
constexpr uint8_t kIpv4Version = 4;
constexpr uint8_t kIpv4DefaultTtl = 64;
constexpr uint8_t kIpv4OptionNop = 1;
constexpr uint8_t kTcpFlagSyn = 0x02;
constexpr uint8_t kTcpDataOffsetWords = 5;
constexpr uint8_t kIcmpEchoRequest = 8;
constexpr uint16_t kTcpWindow = 65535;
constexpr uint16_t kArpHardwareEthernet = 1;
constexpr uint16_t kArpOpRequest = 1;
constexpr size_t kIpv6HeaderLen = 40;
constexpr uint8_t kIpv6NextHeaderIcmpv6 = 58;

void Put16(Bytes& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}

void Put32(Bytes& b, size_t at, uint32_t v) {
  Put16(b, at, static_cast<uint16_t>(v >> 16));
  Put16(b, at + 2, static_cast<uint16_t>(v));
}

void Append16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

void Append32(Bytes& b, uint32_t v) {
  Append16(b, static_cast<uint16_t>(v >> 16));
  Append16(b, static_cast<uint16_t>(v));
}

// RFC 1071 one's-complement sum of 16-bit words, odd byte padded with zero.
uint32_t SumWords(const Bytes& b, uint32_t sum = 0) {
  for (size_t i = 0; i < b.size(); i += 2) {
    uint32_t hi = b[i];
    uint32_t lo = i + 1 < b.size() ? b[i + 1] : 0;
    sum += (hi << 8) | lo;
  }
  return sum;
}

uint16_t FoldChecksum(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// The TCP/UDP pseudo-header of RFC 793 3.1 / RFC 768.
uint32_t PseudoHeaderSum(const Ipv4Fields& ip, const Segment& s) {
  Bytes pseudo;
  Append32(pseudo, ip.src);
  Append32(pseudo, ip.dst);
  pseudo.push_back(0);
  pseudo.push_back(s.protocol);
  Append16(pseudo, static_cast<uint16_t>(s.bytes.size()));
  return SumWords(pseudo);
}

Segment WithL4Checksum(const Ipv4Fields& ip, Segment s) {
  // A segment cut short of its checksum field (the truncated-header cases)
  // has no checksum to fill in.
  const auto room_for = [&](size_t offset) { return s.bytes.size() >= offset + 2; };
  switch (s.protocol) {
    case kProtoTcp:
      if (!room_for(kTcpChecksumOffset)) break;
      Put16(s.bytes, kTcpChecksumOffset,
            FoldChecksum(SumWords(s.bytes, PseudoHeaderSum(ip, s))));
      break;
    case kProtoUdp:
      if (!room_for(kUdpChecksumOffset)) break;
      Put16(s.bytes, kUdpChecksumOffset,
            FoldChecksum(SumWords(s.bytes, PseudoHeaderSum(ip, s))));
      break;
    case kProtoIcmp:
      if (!room_for(kIcmpChecksumOffset)) break;
      Put16(s.bytes, kIcmpChecksumOffset, FoldChecksum(SumWords(s.bytes)));
      break;
    default:
      break;
  }
  return s;
}

Bytes BroadcastMac() { return Bytes(kMacLen, 0xff); }
// Locally administered unicast (IEEE 802 U/L bit set).
Bytes SourceMac() { return {0x02, 0x00, 0x00, 0x00, 0x00, 0x01}; }

}  // namespace

Segment TcpSyn(uint16_t src_port, uint16_t dst_port) {
  Segment s{.protocol = kProtoTcp, .bytes = {}};
  Append16(s.bytes, src_port);
  Append16(s.bytes, dst_port);
  Append32(s.bytes, 1);  // sequence number
  Append32(s.bytes, 0);  // acknowledgment number
  s.bytes.push_back(static_cast<uint8_t>(kTcpDataOffsetWords << 4));
  s.bytes.push_back(kTcpFlagSyn);
  Append16(s.bytes, kTcpWindow);
  Append16(s.bytes, 0);  // checksum, filled by Ipv4Packet
  Append16(s.bytes, 0);  // urgent pointer
  return s;
}

Segment Udp(uint16_t src_port, uint16_t dst_port, size_t payload_len) {
  Segment s{.protocol = kProtoUdp, .bytes = Bytes(kUdpHeaderLen + payload_len, 0)};
  Put16(s.bytes, 0, src_port);
  Put16(s.bytes, 2, dst_port);
  Put16(s.bytes, kUdpLengthOffset, static_cast<uint16_t>(s.bytes.size()));
  return s;
}

Segment IcmpEchoRequest() {
  Segment s{.protocol = kProtoIcmp, .bytes = Bytes(kIcmpEchoLen, 0)};
  s.bytes[0] = kIcmpEchoRequest;
  return s;
}

Segment Raw(uint8_t protocol, size_t len) {
  return Segment{.protocol = protocol, .bytes = Bytes(len, 0xab)};
}

Bytes Ipv4Packet(const Ipv4Fields& ip, const Segment& segment) {
  const size_t header_len = kIpv4MinHeaderLen + 4 * size_t{ip.option_words};
  Bytes b(header_len, 0);
  b[0] = static_cast<uint8_t>((kIpv4Version << 4) | (header_len / 4));
  Put16(b, 2, static_cast<uint16_t>(header_len + segment.bytes.size()));
  Put16(b, 4, 0x1234);  // identification
  Put16(b, 6, ip.flags_fragment);
  b[8] = kIpv4DefaultTtl;
  b[9] = segment.protocol;
  Put32(b, 12, ip.src);
  Put32(b, 16, ip.dst);
  std::fill(b.begin() + kIpv4MinHeaderLen, b.end(), kIpv4OptionNop);
  Put16(b, kIpv4ChecksumOffset, FoldChecksum(SumWords(b)));
  Segment l4 = WithL4Checksum(ip, segment);
  b.insert(b.end(), l4.bytes.begin(), l4.bytes.end());
  return b;
}

Bytes EthernetFrame(uint16_t ethertype, const Bytes& payload) {
  Bytes f = BroadcastMac();
  Bytes src = SourceMac();
  f.insert(f.end(), src.begin(), src.end());
  Append16(f, ethertype);
  f.insert(f.end(), payload.begin(), payload.end());
  if (f.size() < kEthernetMinFrameLen) f.resize(kEthernetMinFrameLen, 0);
  return f;
}

Bytes ArpRequestFrame(uint32_t sender, uint32_t target) {
  Bytes arp;
  Append16(arp, kArpHardwareEthernet);
  Append16(arp, kEtherTypeIpv4);
  arp.push_back(kMacLen);
  arp.push_back(4);  // protocol address length
  Append16(arp, kArpOpRequest);
  Bytes mac = SourceMac();
  arp.insert(arp.end(), mac.begin(), mac.end());
  Append32(arp, sender);
  arp.insert(arp.end(), kMacLen, 0);
  Append32(arp, target);
  return EthernetFrame(kEtherTypeArp, arp);
}

Bytes Ipv6Frame() {
  Bytes ip6(kIpv6HeaderLen, 0);
  ip6[0] = 0x60;  // version 6
  ip6[6] = kIpv6NextHeaderIcmpv6;
  ip6[7] = 255;  // hop limit, as neighbour discovery requires (RFC 4861 7.1)
  return EthernetFrame(kEtherTypeIpv6, ip6);
}

}  // namespace isthmus::test
