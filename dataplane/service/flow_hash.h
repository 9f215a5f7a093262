#pragma once
// The hash that chooses a flow's backend (Maglev slot). It must be the same
// in every isthmusd process and on every appliance: two instances behind
// the same ECMP pick the same backend for a flow only if they hash it
// alike (issue 5 item 4). So: CRC32C with a fixed seed, never a random
// per-process seed (rte_jhash with rte_rand(), absl::Hash), and a finalizer
// because Maglev's Pick uses the high bits, where CRC's linearity shows.
//
// Addresses and ports in host byte order. Built with native args, where
// SSE4.2 gives the CRC32 instruction (3 cycles each); other builds use the
// bitwise form, which gives the same values.

#include <cstdint>

#if defined(__SSE4_2__)
#include <nmmintrin.h>
#endif

namespace isthmus {

inline constexpr uint32_t kFlowHashSeed = 0x49737468;  // "Isth"; changing it moves every flow

// CRC32C (Castagnoli, reflected 0x82F63B78) of the 8 bytes of `data`,
// least significant first, continuing from `crc`: what the SSE4.2
// crc32q instruction computes. The portable path and the tests use it.
uint32_t Crc32cU64Portable(uint32_t crc, uint64_t data);

inline uint32_t Crc32cU64(uint32_t crc, uint64_t data) {
#if defined(__SSE4_2__)
  return static_cast<uint32_t>(_mm_crc32_u64(crc, data));
#else
  return Crc32cU64Portable(crc, data);
#endif
}

// MurmurHash3's 32-bit finalizer: spreads CRC's low-bit structure into
// the high bits.
inline uint32_t FinalizeFlowHash(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bU;
  h ^= h >> 13;
  h *= 0xc2b2ae35U;
  h ^= h >> 16;
  return h;
}

inline uint32_t FlowHash(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint8_t proto) {
  uint32_t h = Crc32cU64(kFlowHashSeed, uint64_t{src} << 32 | dst);
  h = Crc32cU64(h, uint64_t{sport} << 32 | uint64_t{dport} << 16 | proto);
  return FinalizeFlowHash(h);
}

}  // namespace isthmus
