#pragma once
// Per-worker counters: written only by their worker, read (relaxed, summed)
// by the control thread at scrape time. One cache line group per worker so
// workers never share a line.

#include <array>
#include <atomic>
#include <cstdint>

#include "dataplane/drop_reason.h"
#include "dataplane/tunnel/tunnel.h"

namespace isthmus {

// A counter only its owner increments; readers on other threads load it.
class OwnedCounter {
 public:
  void Add(uint64_t n) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t Get() const { return value_.load(std::memory_order_relaxed); }
 private:
  std::atomic<uint64_t> value_{0};
};

// One tunnel's traffic through one worker. Errors are the drops charged to
// the tunnel, by reason (the reasons are also in LcoreCounters::drops).
struct TunnelCounters {
  OwnedCounter encap_packets;
  OwnedCounter encap_bytes;   // inner IPv4 bytes
  OwnedCounter decap_packets;
  OwnedCounter decap_bytes;   // inner IPv4 bytes
  std::array<OwnedCounter, kDropReasonCount> drops;
};

struct alignas(64) LcoreCounters {
  OwnedCounter rx_packets;
  OwnedCounter tx_packets;
  OwnedCounter busy_polls;
  OwnedCounter idle_polls;
  OwnedCounter punted;
  std::array<OwnedCounter, kDropReasonCount> drops;
  std::array<OwnedCounter, kPuntReasonCount> punts;
  std::array<TunnelCounters, kMaxTunnels> tunnels;   // indexed by tunnel id
  void Drop(DropReason r, uint64_t n = 1) { drops[static_cast<size_t>(r)].Add(n); }
  void Punt(PuntReason r, uint64_t n = 1) { punts[static_cast<size_t>(r)].Add(n); }
  // A drop that belongs to a tunnel: counted globally and for the tunnel.
  void TunnelDrop(uint32_t tunnel, DropReason r) {
    Drop(r);
    if (tunnel < kMaxTunnels) tunnels[tunnel].drops[static_cast<size_t>(r)].Add(1);
  }
};

}  // namespace isthmus
