#pragma once
// TCP MSS clamping for SYNs entering a tunnel: lowers the MSS option
// (RFC 9293 section 3.7.1, option kind 2) so that the peer's segments fit
// the tunnel MTU without fragmentation, and patches the TCP checksum
// incrementally (RFC 1624 eqn. 3). Pure, over the bytes of one IPv4 packet.

#include <cstdint>

#include "dataplane/packet/ipv4_check.h"

namespace isthmus {

inline constexpr uint8_t kIpProtoTcp = 6;
inline constexpr uint8_t kTcpFlagSyn = 0x02;
inline constexpr uint8_t kTcpOptionEnd = 0;
inline constexpr uint8_t kTcpOptionNop = 1;
inline constexpr uint8_t kTcpOptionMss = 2;
inline constexpr uint8_t kTcpOptionMssLen = 4;
inline constexpr uint32_t kTcpMinHeaderLen = 20;
// IPv4 + TCP headers without options: MSS = MTU - 40 (RFC 9293 3.7.1).
inline constexpr uint32_t kTcpIpv4HeadersLen = 40;

// HC' = ~(~HC + ~m + m') for one 16-bit word changing from m to m'.
inline uint16_t ChecksumReplace16(uint16_t checksum, uint16_t old_word, uint16_t new_word) {
  uint32_t sum = (~static_cast<uint32_t>(checksum) & 0xffffu) + (~static_cast<uint32_t>(old_word) & 0xffffu) + new_word;
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffffu);
}

// Lowers the MSS option of a TCP SYN to `max_mss`. Returns true when the
// packet was changed. Fragments, non-SYNs and malformed option lists are
// left alone (clamping is best effort, never a reason to drop).
inline bool ClampTcpMss(uint8_t* ip, uint32_t ip_len, uint16_t max_mss) {
  const uint32_t ip_header_len = (ip[0] & 0x0fu) * 4u;
  if (ip[9] != kIpProtoTcp || (LoadBe16(ip + 6) & (kIpFlagMoreFragments | kIpFragOffsetMask)) != 0) return false;
  if (ip_len < ip_header_len + kTcpMinHeaderLen) return false;
  uint8_t* tcp = ip + ip_header_len;
  if ((tcp[13] & kTcpFlagSyn) == 0) return false;
  const uint32_t tcp_header_len = (tcp[12] >> 4) * 4u;
  if (tcp_header_len < kTcpMinHeaderLen || ip_header_len + tcp_header_len > ip_len) return false;
  uint32_t i = kTcpMinHeaderLen;
  while (i < tcp_header_len) {
    const uint8_t kind = tcp[i];
    if (kind == kTcpOptionEnd) return false;
    if (kind == kTcpOptionNop) {
      ++i;
      continue;
    }
    if (i + 1 >= tcp_header_len) return false;
    const uint8_t len = tcp[i + 1];
    if (len < 2 || i + len > tcp_header_len) return false;
    if (kind == kTcpOptionMss && len == kTcpOptionMssLen) {
      const uint16_t mss = LoadBe16(tcp + i + 2);
      if (mss <= max_mss) return false;
      // The checksum covers 16-bit words aligned to the TCP header: at an
      // even offset the value is one word; at an odd one it straddles two.
      const bool aligned = ((i + 2) & 1u) == 0;
      const uint32_t word = (i + 2) & ~1u;
      const uint32_t words = aligned ? 1 : 2;
      if (ip_header_len + word + 2 * words > ip_len) return false;
      uint16_t old_words[2] = {LoadBe16(tcp + word), words == 2 ? LoadBe16(tcp + word + 2) : uint16_t{0}};
      tcp[i + 2] = static_cast<uint8_t>(max_mss >> 8);
      tcp[i + 3] = static_cast<uint8_t>(max_mss);
      uint16_t checksum = LoadBe16(tcp + 16);
      for (uint32_t w = 0; w < words; ++w) {
        checksum = ChecksumReplace16(checksum, old_words[w], LoadBe16(tcp + word + 2 * w));
      }
      tcp[16] = static_cast<uint8_t>(checksum >> 8);
      tcp[17] = static_cast<uint8_t>(checksum);
      return true;
    }
    i += len;
  }
  return false;
}

}  // namespace isthmus
