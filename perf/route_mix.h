#pragma once
// A synthetic routing table shaped like the IPv4 default-free zone: mostly
// /24s, a long tail of /16-/23 aggregates, and a few more-specifics longer
// than /24 so that the LPM's tbl8 groups are exercised too. Deterministic
// for a given seed, so every run of a benchmark walks the same table.

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "absl/container/flat_hash_set.h"

namespace isthmus::perf {

struct Route {
  uint32_t prefix = 0;   // host order, host bits zero
  uint8_t len = 0;
};

// Share of each prefix length, per 10,000 routes. /24 dominates as in the
// public table; >/24 is rare there but each one costs a 256-entry tbl8 group.
struct LengthShare {
  uint8_t len;
  uint32_t per_10k;
};
inline constexpr std::array<LengthShare, 17> kLengthMix = {{
    {16, 150}, {17, 100}, {18, 200}, {19, 400}, {20, 700}, {21, 700},
    {22, 1200}, {23, 1000}, {24, 5440},
    {25, 2}, {26, 2}, {27, 2}, {28, 20}, {29, 20}, {30, 10}, {31, 4}, {32, 50},
}};
inline constexpr uint32_t kLengthMixTotal = 10000;

// First octets a router would forward to: not 0/8, 127/8 (RFC 1122 3.2.1.3)
// nor 224/4 and above (multicast, reserved) — CheckFrame drops or punts those.
inline constexpr uint32_t kFirstUnicastOctet = 1;
inline constexpr uint32_t kLastUnicastOctet = 223;
inline constexpr uint32_t kLoopbackOctet = 127;

inline uint32_t PrefixMask(uint8_t len) { return len == 0 ? 0 : ~uint32_t{0} << (32 - len); }

inline uint8_t DrawLength(std::mt19937_64& rng) {
  uint32_t pick = std::uniform_int_distribution<uint32_t>(0, kLengthMixTotal - 1)(rng);
  for (const LengthShare& share : kLengthMix) {
    if (pick < share.per_10k) return share.len;
    pick -= share.per_10k;
  }
  return 24;
}

inline uint32_t DrawUnicastAddress(std::mt19937_64& rng) {
  std::uniform_int_distribution<uint32_t> octet(kFirstUnicastOctet, kLastUnicastOctet);
  std::uniform_int_distribution<uint32_t> rest(0, 0xffffffu);
  uint32_t first = octet(rng);
  while (first == kLoopbackOctet) first = octet(rng);
  return first << 24 | rest(rng);
}

// `count` distinct prefixes drawn from kLengthMix.
inline std::vector<Route> GenerateRoutes(uint32_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  absl::flat_hash_set<uint64_t> seen;
  seen.reserve(count);
  std::vector<Route> routes;
  routes.reserve(count);
  while (routes.size() < count) {
    const uint8_t len = DrawLength(rng);
    const uint32_t prefix = DrawUnicastAddress(rng) & PrefixMask(len);
    if (seen.insert(uint64_t{prefix} << 8 | len).second) routes.push_back({prefix, len});
  }
  return routes;
}

// A host address inside `route` (always covered by the table, so every
// lookup hits; a longer installed prefix may be the one that matches).
inline uint32_t DrawHostIn(const Route& route, std::mt19937_64& rng) {
  const uint32_t host_bits = ~PrefixMask(route.len);
  return route.prefix | (std::uniform_int_distribution<uint32_t>(0, ~uint32_t{0})(rng) & host_bits);
}

}  // namespace isthmus::perf
