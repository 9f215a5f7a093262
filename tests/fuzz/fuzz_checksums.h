#pragma once
// What the packet fuzz targets share: the invariant failure, and checksum
// verification and repair over one IPv4 packet with the unit tests' RFC 1071
// checksum (tests/unit/common/packet_builder.h), so a target checks the data
// plane's incremental updates against an independent full computation.
//
// "Repair" lets a target turn arbitrary bytes into a packet whose checksums
// are right before the code under test sees it: without it almost every
// input would stop at the first checksum check.

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "tests/unit/common/packet_builder.h"

namespace isthmus::fuzz {

[[noreturn]] inline void Fail(const char* what) {
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}

inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint32_t kTcpChecksumAt = 16;
inline constexpr uint32_t kUdpChecksumAt = 6;
inline constexpr uint32_t kIcmpChecksumAt = 2;

inline uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

inline uint32_t HeaderLen(const uint8_t* ip) { return (ip[0] & 0x0fu) * 4u; }

// The IPv4 header checksum verifies (the header lies within `ip_len`).
inline bool Ipv4HeaderChecksumOk(const uint8_t* ip) { return testing::InternetChecksum(ip, HeaderLen(ip)) == 0; }

// Sum of the TCP/UDP pseudo-header (RFC 793 3.1, RFC 768) for `l4_len` bytes.
inline uint32_t PseudoHeaderSum(const uint8_t* ip, uint32_t l4_len) {
  return uint32_t{Get16(ip + 12)} + Get16(ip + 14) + Get16(ip + 16) + Get16(ip + 18) + ip[9] + l4_len;
}

// Where the L4 checksum of a TCP, UDP or ICMP packet lies, from the L4 header;
// 0 when the protocol has none we check or the header is cut short.
inline uint32_t L4ChecksumOffset(uint8_t proto, uint32_t l4_len) {
  if (proto == kProtoTcp && l4_len >= 20) return kTcpChecksumAt;
  if (proto == kProtoUdp && l4_len >= 8) return kUdpChecksumAt;
  if (proto == kProtoIcmp && l4_len >= 8) return kIcmpChecksumAt;
  return 0;
}

// The L4 checksum over the `ip_len - IHL` bytes after the header verifies.
// A UDP checksum of zero means "none" (RFC 768) and counts as correct.
inline bool L4ChecksumOk(const uint8_t* ip, uint32_t ip_len) {
  const uint32_t ihl = HeaderLen(ip);
  const uint8_t proto = ip[9];
  const uint8_t* l4 = ip + ihl;
  const uint32_t l4_len = ip_len - ihl;
  const uint32_t at = L4ChecksumOffset(proto, l4_len);
  if (at == 0) return true;
  if (proto == kProtoUdp && Get16(l4 + at) == 0) return true;
  const uint32_t initial = proto == kProtoIcmp ? 0 : PseudoHeaderSum(ip, l4_len);
  return testing::InternetChecksum(l4, l4_len, initial) == 0;
}

// Rewrites the header checksum, and the L4 checksum when `l4` (a UDP
// checksum of zero stays zero: the sender chose none).
inline void RepairChecksums(uint8_t* ip, uint32_t ip_len, bool l4) {
  const uint32_t ihl = HeaderLen(ip);
  ip[10] = ip[11] = 0;
  testing::PacketBuilder::Put16(ip + 10, testing::InternetChecksum(ip, ihl));
  if (!l4) return;
  const uint8_t proto = ip[9];
  uint8_t* l4p = ip + ihl;
  const uint32_t l4_len = ip_len - ihl;
  const uint32_t at = L4ChecksumOffset(proto, l4_len);
  if (at == 0 || (proto == kProtoUdp && Get16(l4p + at) == 0)) return;
  l4p[at] = l4p[at + 1] = 0;
  const uint32_t initial = proto == kProtoIcmp ? 0 : PseudoHeaderSum(ip, l4_len);
  uint16_t c = testing::InternetChecksum(l4p, l4_len, initial);
  if (proto == kProtoUdp && c == 0) c = 0xffff;
  testing::PacketBuilder::Put16(l4p + at, c);
}

}  // namespace isthmus::fuzz
