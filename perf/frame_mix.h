#pragma once
// 64-byte test frames (as DPDK counts them: pkt_len 64, the 4-byte FCS is
// the NIC's) to destinations spread over a route table, with varied
// 5-tuples so that ECMP groups spread them over their members.

#include <cstdint>
#include <random>
#include <vector>

#include "dataplane/packet/ipv4_check.h"
#include "perf/route_mix.h"
#include "tests/unit/common/packet_builder.h"

namespace isthmus::perf {

inline constexpr uint32_t kFrameLen = 64;
inline constexpr uint32_t kUdpHeadersLen = 14 + 20 + 8;
inline constexpr uint32_t kTcpHeadersLen = 14 + 20 + 20;
inline constexpr uint8_t kFreshTtl = 255;
// Sources come from the benchmarking block 198.18.0.0/15 (RFC 2544).
inline constexpr uint32_t kSourceBlock = 0xc6120000u;
inline constexpr uint32_t kSourceHostMask = 0x0001ffffu;
inline constexpr uint32_t kTcpOneIn = 4;   // every 4th frame is TCP, the rest UDP
inline constexpr MacAddr kPeerMac = {0x02, 0x00, 0x5e, 0x00, 0x00, 0x99};

inline std::vector<std::vector<uint8_t>> MakeFrames(const std::vector<Route>& routes, uint32_t count,
                                                    const MacAddr& router_mac, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick_route(0, routes.size() - 1);
  std::uniform_int_distribution<uint32_t> pick_port(1024, 65535);
  std::vector<std::vector<uint8_t>> frames;
  frames.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    testing::PacketBuilder b;
    b.DstMac(router_mac).SrcMac(kPeerMac).Ttl(kFreshTtl);
    b.Src(kSourceBlock | (static_cast<uint32_t>(rng()) & kSourceHostMask));
    b.Dst(DrawHostIn(routes[pick_route(rng)], rng));
    const auto sport = static_cast<uint16_t>(pick_port(rng));
    const auto dport = static_cast<uint16_t>(pick_port(rng));
    if (i % kTcpOneIn == 0) {
      b.Tcp(sport, dport).Payload(kFrameLen - kTcpHeadersLen);
    } else {
      b.Udp(sport, dport).Payload(kFrameLen - kUdpHeadersLen);
    }
    frames.push_back(b.Build());
  }
  return frames;
}

}  // namespace isthmus::perf
