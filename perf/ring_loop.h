#pragma once
// Three net_ring ethdevs wired into a loop so a benchmark can run the real
// receive/transmit calls of a worker without a NIC:
//
//                 +-------------------- wire ring ---------------------+
//                 v                                                    |
//   ingress port (rx) --> ForwardBurst / io-forward --> egress 0 (tx) -+
//                                                   --> egress 1 (tx) -+
//
// Every frame the pipeline sends comes back to the ingress port, so a fixed
// set of mbufs is forwarded over and over and nothing is allocated while the
// clock runs. The frames' next hop is the ingress port itself (the neighbor
// MAC is the ingress MAC), which keeps them acceptable to CheckFrame on the
// next pass; only TTL runs down, and RefreshTtl() restores it between passes.

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <array>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace isthmus::perf {

inline constexpr uint32_t kEgressPorts = 2;

struct RingLoop {
  uint16_t ingress = 0;
  std::array<uint16_t, kEgressPorts> egress{};
  rte_ring* wire = nullptr;   // egress TX -> ingress RX
  rte_ring* idle = nullptr;   // ingress TX and egress RX: must stay empty
  rte_mempool* pool = nullptr;
  uint16_t port_count = 0;    // highest port id + 1
};

// Creates the rings, the mbuf pool (`pool_size` mbufs) and the three ports,
// configured and started. `wire_size` bounds the frames in flight.
absl::StatusOr<RingLoop> CreateRingLoop(uint32_t wire_size, uint32_t pool_size);

// Copies `frames` into fresh mbufs and puts them on the wire.
absl::Status FillWire(const RingLoop& loop, const std::vector<std::vector<uint8_t>>& frames);

// Frees everything on the wire and the idle ring; returns how many were on
// the wire (frames on the idle ring are counted in *stray).
uint32_t DrainWire(const RingLoop& loop, uint32_t* stray);

// Sets the IPv4 TTL of every frame on the wire back to `ttl` (checksum
// recomputed) and returns how many frames it saw.
uint32_t RefreshTtl(const RingLoop& loop, uint8_t ttl);

}  // namespace isthmus::perf
