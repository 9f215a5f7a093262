#pragma once
// A compact, ordered key for an IPv4 prefix: address in the high bits, length
// in the low byte. Ordering the keys orders prefixes as Ipv4Prefix's operator<=>
// does (address, then length), so ordered maps iterate in prefix order.

#include <cstdint>

#include "control/config/config.h"

namespace isthmus::bgp {

using PrefixKey = uint64_t;

inline constexpr int kPrefixKeyLenBits = 8;
inline constexpr PrefixKey kPrefixKeyLenMask = (PrefixKey{1} << kPrefixKeyLenBits) - 1;

inline constexpr PrefixKey ToPrefixKey(const Ipv4Prefix& p) {
  return (PrefixKey{p.addr.value} << kPrefixKeyLenBits) | p.len;
}

inline constexpr Ipv4Prefix FromPrefixKey(PrefixKey key) {
  return Ipv4Prefix{Ipv4Addr{static_cast<uint32_t>(key >> kPrefixKeyLenBits)},
                    static_cast<uint8_t>(key & kPrefixKeyLenMask)};
}

}  // namespace isthmus::bgp
