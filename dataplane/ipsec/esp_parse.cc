#include "dataplane/ipsec/esp_parse.h"

namespace isthmus {
namespace {

constexpr uint8_t kIpVersion4 = 4;
constexpr uint16_t kMoreFragments = 0x2000;
constexpr uint16_t kFragmentOffsetMask = 0x1fff;
// Smallest ciphertext: an empty payload plus the trailer, padded to kEspAlign.
constexpr uint32_t kEspMinEncrypted = kEspAlign;
constexpr uint32_t kEspMinLen = kEspHeaderLen + kEspGcmIvLen + kEspMinEncrypted + kEspGcmIcvLen;
// RFC 3948 §2.2: four zero bytes where the SPI would be mark IKE traffic;
// §2.3: a single 0xFF byte is a NAT keepalive.
constexpr uint32_t kNonEspMarker = 0;

uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Get32(const uint8_t* p) { return static_cast<uint32_t>(Get16(p)) << 16 | Get16(p + 2); }

bool HeaderChecksumOk(const uint8_t* p, uint32_t len) {
  uint32_t sum = 0;
  for (uint32_t i = 0; i < len; i += 2) sum += Get16(p + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

// UDP/4500 (RFC 3948 §2.1). The UDP checksum is not checked: senders
// transmit zero (§3.1.2 lets receivers ignore it) and the ICV covers ESP.
EspVerdict ParseUdp(const uint8_t* p, EspOuterView* out) {
  const uint8_t* udp = p + out->ip_header_len;
  if (out->total_len < out->ip_header_len + kUdpHeaderLen) return EspVerdict::kMalformed;
  if (Get16(udp + 2) != kEspNatTraversalPort) return EspVerdict::kNotEsp;
  if (Get16(udp + 4) != out->total_len - out->ip_header_len) return EspVerdict::kMalformed;
  out->udp = true;
  out->esp_offset = out->ip_header_len + kUdpHeaderLen;
  const uint32_t payload = out->total_len - out->esp_offset;
  if (payload < sizeof(uint32_t) || Get32(p + out->esp_offset) == kNonEspMarker) return EspVerdict::kNotEsp;
  return EspVerdict::kOk;
}

}  // namespace

EspVerdict ParseEspOuter(const uint8_t* p, size_t len, EspOuterView* out) {
  if (len < kIpv4MinHeaderLen || (p[0] >> 4) != kIpVersion4) return EspVerdict::kMalformed;
  out->ip_header_len = static_cast<uint32_t>(p[0] & 0x0f) * 4;
  out->total_len = Get16(p + 2);
  if (out->ip_header_len < kIpv4MinHeaderLen || out->total_len < out->ip_header_len || out->total_len > len ||
      !HeaderChecksumOk(p, out->ip_header_len)) {
    return EspVerdict::kMalformed;
  }
  if ((Get16(p + 6) & (kMoreFragments | kFragmentOffsetMask)) != 0) return EspVerdict::kFragment;
  out->src = Get32(p + 12);
  out->dst = Get32(p + 16);
  out->udp = false;
  const uint8_t proto = p[9];
  if (proto == kIpProtoUdp) {
    const EspVerdict v = ParseUdp(p, out);
    if (v != EspVerdict::kOk) return v;
  } else if (proto == kIpProtoEsp) {
    out->esp_offset = out->ip_header_len;
  } else {
    return EspVerdict::kNotEsp;
  }
  const uint32_t esp_len = out->total_len - out->esp_offset;
  if (esp_len < kEspMinLen || (esp_len - kEspMinLen) % kEspAlign != 0) return EspVerdict::kMalformed;
  out->spi = Get32(p + out->esp_offset);
  out->seq_low = Get32(p + out->esp_offset + 4);
  return EspVerdict::kOk;
}

}  // namespace isthmus
