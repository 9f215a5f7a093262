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

// A poll round longer than this (not counting the idle sleep it asked for) is
// a worker stall: packets waited that long, enough to overflow a receive ring
// at any useful rate.
inline constexpr double kWorkerStallSeconds = 0.1;

// A counter only its owner increments; readers on other threads load it.
class OwnedCounter {
 public:
  void Add(uint64_t n) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t Get() const { return value_.load(std::memory_order_relaxed); }
 private:
  std::atomic<uint64_t> value_{0};
};

// The largest value its owner has observed; readers on other threads load it.
class OwnedHighWater {
 public:
  void Observe(uint64_t v) {
    if (v > value_.load(std::memory_order_relaxed)) value_.store(v, std::memory_order_relaxed);
  }
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
  // Time between the starts of two poll rounds (TSC cycles) minus the idle
  // sleep the round asked for: above kWorkerStallSeconds it is a stall (the
  // worker was descheduled, overslept, or a stage took far too long).
  OwnedHighWater longest_loop_gap_cycles;
  OwnedCounter stalls;
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
