#include "control/netlink/ipv4_wire.h"

#include "absl/strings/str_format.h"

namespace isthmus::rtnl {

std::string FormatIpv4(Ipv4Addr a) {
  constexpr int kOctetBits = 8;
  constexpr uint32_t kOctetMask = 0xff;
  return absl::StrFormat("%u.%u.%u.%u", (a.value >> (3 * kOctetBits)) & kOctetMask,
                         (a.value >> (2 * kOctetBits)) & kOctetMask,
                         (a.value >> kOctetBits) & kOctetMask, a.value & kOctetMask);
}

std::string FormatMac(const std::array<uint8_t, 6>& mac) {
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                         mac[5]);
}

}  // namespace isthmus::rtnl
