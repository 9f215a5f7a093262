#pragma once
// What the control thread learns from the kernel's rtnetlink tables: one
// value type per table (neighbours, IPv4 addresses, links).

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "control/config/config.h"

namespace isthmus {

using MacAddr = std::array<uint8_t, 6>;

struct NeighborEvent {
  int ifindex = 0;
  Ipv4Addr ip;
  // Set only when `state` says the kernel trusts the link-layer address:
  // REACHABLE, STALE, DELAY, PROBE, PERMANENT or NOARP. INCOMPLETE, FAILED
  // and deletions carry no usable address (RFC 826 resolution not done).
  std::optional<MacAddr> mac;
  uint16_t state = 0;    // NUD_* bits from <linux/neighbour.h>
  bool deleted = false;  // RTM_DELNEIGH
};

struct AddressEvent {
  int ifindex = 0;
  InterfaceAddress address;
  bool deleted = false;  // RTM_DELADDR
};

struct LinkInfo {
  int ifindex = 0;
  std::string name;
  MacAddr mac{};  // all zero for links without a 6-byte hardware address
  uint32_t mtu = 0;
  bool up = false;  // administratively up (IFF_UP)
};

}  // namespace isthmus
