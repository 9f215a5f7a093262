#pragma once
// Conversions between the project's host-order IPv4 types and the network
// byte order that rtnetlink carries in IFA_*/NDA_* attributes. Kept here
// (not in control/config) so the netlink adapter links nothing from config.

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <string>

#include "control/config/config.h"

namespace isthmus::rtnl {

inline constexpr uint8_t kIpv4Bits = 32;

inline uint32_t ToNetworkOrder(Ipv4Addr a) { return htonl(a.value); }
inline Ipv4Addr FromNetworkOrder(uint32_t wire) { return Ipv4Addr{ntohl(wire)}; }

// Host-order netmask for a prefix length; lengths above 32 saturate.
inline uint32_t PrefixMask(uint8_t len) {
  if (len == 0) return 0;
  if (len >= kIpv4Bits) return ~uint32_t{0};
  return ~uint32_t{0} << (kIpv4Bits - len);
}

// The subnet an interface address belongs to: host bits cleared.
inline Ipv4Prefix SubnetOf(Ipv4Addr host, uint8_t len) {
  return Ipv4Prefix{Ipv4Addr{host.value & PrefixMask(len)}, len};
}

// Dotted quad, for log lines and status messages (config's ToString lives
// in a library this adapter does not link).
std::string FormatIpv4(Ipv4Addr a);
std::string FormatMac(const std::array<uint8_t, 6>& mac);

}  // namespace isthmus::rtnl
