#pragma once
// Parser for the outer headers of a received ESP packet, directly in IPv4
// or in UDP on port 4500 (RFC 3948). Pure function over bytes (no mbufs),
// so it is shared by SA lookup and processing and can be fuzzed alone.
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |  IPv4 header (IHL*4 bytes), protocol 50 (ESP) or 17 (UDP)     |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |  [UDP: source port | destination port 4500 | length | cksum] |  RFC 3948 §2.1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |               Security Parameters Index (SPI)                 |  RFC 4303 §2
//  |                      Sequence Number                          |
//  |                 IV (8 bytes, RFC 4106 §3.1)                   |
//  ~   encrypted: inner IPv4 packet | padding | pad len | next hdr ~
//  |                 ICV (16 bytes, RFC 4106 §6)                   |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

#include <cstddef>
#include <cstdint>

#include "dataplane/ipsec/esp_types.h"
#include "dataplane/packet/ipv4_check.h"  // kIpv4MinHeaderLen, kUdpHeaderLen, kIpProtoUdp

namespace isthmus {

inline constexpr uint32_t kEspHeaderLen = 8;   // SPI + sequence number
inline constexpr uint32_t kEspGcmIvLen = 8;    // RFC 4106 §3.1
inline constexpr uint32_t kEspGcmIcvLen = 16;  // RFC 4106 §6: we use the 16-octet ICV only
inline constexpr uint32_t kEspTrailerLen = 2;  // pad length + next header
inline constexpr uint32_t kEspAlign = 4;       // RFC 4303 §2.4: ciphertext ends on 4 bytes
inline constexpr uint8_t kIpProtoEsp = 50;
inline constexpr uint8_t kIpProtoIpip = 4;  // ESP next header for an inner IPv4 packet

struct EspOuterView {
  uint32_t src = 0;  // host order
  uint32_t dst = 0;
  uint32_t ip_header_len = 0;
  uint32_t esp_offset = 0;  // ESP header offset from the outer IPv4 header
  uint32_t total_len = 0;   // outer IPv4 total length (frame padding excluded)
  uint32_t spi = 0;
  uint32_t seq_low = 0;  // the 32 bits on the wire
  bool udp = false;      // arrived in UDP/4500
  // Encrypted part: inner packet + padding + trailer (the lifetime byte count).
  uint32_t EncryptedLen() const { return total_len - esp_offset - kEspHeaderLen - kEspGcmIvLen - kEspGcmIcvLen; }
};

// Checks the outer headers of `len` bytes starting at the outer IPv4 header
// and fills `out`. Returns kOk, kFragment, kNotEsp or kMalformed.
EspVerdict ParseEspOuter(const uint8_t* p, size_t len, EspOuterView* out);

}  // namespace isthmus
