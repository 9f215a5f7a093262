#pragma once
// IPv4 address and prefix values with their strict text forms. Split out of
// config.h so that the BGP vocabulary (bgp/core/types.h, bgp/config/
// bgp_config.h) can use them while config.h itself includes the BGP config:
// both sides include this header, neither includes the other's.
// Defined in config.cc (library isthmus_config).

#include <cstdint>
#include <utility>
#include <optional>
#include <string>
#include <string_view>

namespace isthmus {

// IPv4 address in host byte order.
struct Ipv4Addr {
  uint32_t value = 0;
  friend bool operator==(const Ipv4Addr&, const Ipv4Addr&) = default;
  friend auto operator<=>(const Ipv4Addr&, const Ipv4Addr&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const Ipv4Addr& a) {
    return H::combine(std::move(h), a.value);
  }
};

struct Ipv4Prefix {
  Ipv4Addr addr;   // network address (host bits zero)
  uint8_t len = 0;
  friend bool operator==(const Ipv4Prefix&, const Ipv4Prefix&) = default;
  friend auto operator<=>(const Ipv4Prefix&, const Ipv4Prefix&) = default;
  bool Contains(Ipv4Addr a) const {
    const uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
    return (a.value & mask) == addr.value;
  }
};

std::string ToString(Ipv4Addr a);
std::string ToString(const Ipv4Prefix& p);
std::optional<Ipv4Addr> ParseIpv4(std::string_view text);
// "a.b.c.d/len"; host bits must be zero unless allow_host_bits (interface
// addresses such as 198.18.0.1/24 keep them in `host`).
struct InterfaceAddress {
  Ipv4Addr host;
  Ipv4Prefix subnet;
  // Needed by PortConfig's defaulted operator==, which is otherwise deleted.
  friend bool operator==(const InterfaceAddress&, const InterfaceAddress&) = default;
};
std::optional<Ipv4Prefix> ParsePrefix(std::string_view text);
std::optional<InterfaceAddress> ParseInterfaceAddress(std::string_view text);

}  // namespace isthmus
