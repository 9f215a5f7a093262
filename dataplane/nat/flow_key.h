#pragma once
// The key of one direction of a translated flow: the IPv4 5-tuple as the
// packet carries it when it reaches the NAT stage. Every flow has two keys,
// one per direction (see flow_table.h):
//
//   original: client:cport -> VIP:vport          (what the client sends)
//   reply:    backend:bport -> client:cport       (DNAT only)
//             backend:bport -> snat:sport         (DNAT + SNAT)
//
// A packet of one direction leaves with the reverse of the other
// direction's key, which is all the rewrite needs (nat_rewrite.h).
//
// ICMP echo has no ports: the identifier stands in for the port of the side
// that chose it, so a request carries (id, 0) and its reply (0, id), and the
// two directions reverse into each other like TCP and UDP do.

#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace isthmus {

inline constexpr uint8_t kIpProtoIcmp = 1;

enum class FlowDirection : uint8_t { kOriginal = 0, kReply = 1 };

inline constexpr FlowDirection Opposite(FlowDirection d) {
  return d == FlowDirection::kOriginal ? FlowDirection::kReply : FlowDirection::kOriginal;
}

// 16 bytes with the padding zeroed, so keys compare as two 64-bit words.
struct FlowKey {
  uint32_t src = 0;     // host byte order, like the rest of the data plane
  uint32_t dst = 0;
  uint16_t sport = 0;   // ICMP echo: the identifier (see above)
  uint16_t dport = 0;
  uint8_t proto = 0;
  uint8_t pad[3] = {0, 0, 0};

  friend bool operator==(const FlowKey& a, const FlowKey& b) {
    uint64_t wa[2], wb[2];
    std::memcpy(wa, &a, sizeof(wa));
    std::memcpy(wb, &b, sizeof(wb));
    return ((wa[0] ^ wb[0]) | (wa[1] ^ wb[1])) == 0;
  }
};
static_assert(sizeof(FlowKey) == 16);

// The key as two little-endian 64-bit words:
//   w0 = src | dst << 32,  w1 = sport | dport << 16 | proto << 32.
// Keys built at run time are written with one 16-byte store: a key written
// field by field and then read as a whole (the hash, a copy) would stall
// the load on store forwarding for ~20 cycles.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "FlowKey words assume a little-endian host");

inline FlowKey KeyFromWords(uint64_t w0, uint64_t w1) {
  FlowKey k;
#if defined(__SSE2__)
  _mm_storeu_si128(reinterpret_cast<__m128i*>(&k), _mm_set_epi64x(static_cast<long long>(w1), static_cast<long long>(w0)));
#else
  const uint64_t w[2] = {w0, w1};
  std::memcpy(&k, w, sizeof(w));
#endif
  return k;
}

inline constexpr FlowKey MakeFlowKey(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint8_t proto) {
  if (std::is_constant_evaluated()) {
    FlowKey k;
    k.src = src;
    k.dst = dst;
    k.sport = sport;
    k.dport = dport;
    k.proto = proto;
    return k;
  }
  return KeyFromWords(uint64_t{src} | uint64_t{dst} << 32,
                      uint64_t{sport} | uint64_t{dport} << 16 | uint64_t{proto} << 32);
}

// The key of the packet that answers one with key `k`: addresses and
// ports swapped, computed on the two words.
inline FlowKey Reverse(const FlowKey& k) {
  uint64_t w[2];
  std::memcpy(w, &k, sizeof(w));
  const uint64_t w0 = w[0] << 32 | w[0] >> 32;
  const uint64_t w1 = (w[1] & ~uint64_t{0xffffffff}) | (w[1] & 0xffff) << 16 | (w[1] >> 16 & 0xffff);
  return KeyFromWords(w0, w1);
}

// 64-bit hash of a key: the table takes the bucket from the high half and
// the 16-bit tag from the low bits, so the two are independent. A
// multiply-xorshift mix (the finaliser of SplitMix64) over the two words:
// a few cycles, and no need for keyed hashing because bucket overflow only
// costs a named insert failure, never correctness.
inline uint64_t HashFlowKey(const FlowKey& k) {
  uint64_t w[2];
  std::memcpy(w, &k, sizeof(w));
  uint64_t h = w[0] * 0x9e3779b97f4a7c15ull ^ (w[1] + 0x632be59bd9b4e019ull) * 0xc2b2ae3d27d4eb4full;
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 29;
  return h;
}

}  // namespace isthmus
