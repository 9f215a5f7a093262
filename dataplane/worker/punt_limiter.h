#pragma once
// Punt rate limiting per class. Everything a worker hands to the kernel is
// charged to one punt class (the punt reasons of drop_reason.h, with local
// traffic split further by PuntClassOf) and each class has a token bucket of
// its own. A flood of one kind (UDP to a closed port, pings, SYNs from
// strangers) empties its own bucket and is dropped as punt_limited_<class>;
// the control class (traffic from configured BGP peers) keeps its budget, so
// BGP keepalives still reach the kernel.
//
// Pure logic: the clock is a function pointer (the TSC in the worker, a fake
// clock in tests), nothing here touches DPDK.

#include <netinet/in.h>

#include <array>
#include <cassert>
#include <atomic>
#include <cstdint>
#include <vector>

#include "dataplane/drop_reason.h"

namespace isthmus {

// Packets per second per punt class, indexed by PuntReason; 0 = unlimited.
using PuntRates = std::array<uint32_t, kPuntReasonCount>;

inline PuntRates UniformPuntRates(uint32_t rate_pps) {
  PuntRates rates;
  rates.fill(rate_pps);
  return rates;
}

// The most tokens a bucket of `rate_pps` holds: a tenth of a second's worth
// plus a few packets, so tiny rates still pass a burst. The XDP program's
// buckets use the same (xdp_punt_maps.cc).
constexpr uint64_t PuntBurst(uint32_t rate_pps) {
  constexpr uint32_t kBurstDivisor = 10;
  constexpr uint32_t kBurstFloor = 32;
  return rate_pps / kBurstDivisor + kBurstFloor;
}

// A token bucket of `rate` tokens per second holding PuntBurst(rate). It
// refills only once it is empty: while tokens are left, Allow reads no
// clock.
class TokenBucket {
 public:
  using Clock = uint64_t (*)();

  void Configure(uint32_t rate_pps, uint64_t hz, uint64_t now) {
    rate_ = rate_pps;
    hz_ = hz == 0 ? 1 : hz;
    burst_ = PuntBurst(rate_pps);
    tokens_ = burst_;
    last_ = now;
  }

  bool Allow(Clock clock) {
    if (rate_ == 0) return true;
    if (tokens_ == 0 && !Refill(clock())) return false;
    --tokens_;
    return true;
  }

  uint64_t burst() const { return burst_; }

 private:
  // Adds the tokens earned since the last refill. `last_` advances by the
  // time those whole tokens took, so fractions carry over; an idle second
  // or more just fills the bucket (and bounds the multiplication).
  bool Refill(uint64_t now) {
    uint64_t elapsed = now - last_;
    if (elapsed >= hz_) {
      tokens_ = burst_;
      last_ = now;
      return true;
    }
    const uint64_t earned = elapsed * rate_ / hz_;
    if (earned == 0) return false;
    tokens_ = earned > burst_ ? burst_ : earned;
    last_ += earned * hz_ / rate_;
    return true;
  }

  uint64_t rate_ = 0, hz_ = 1, burst_ = 0, tokens_ = 0, last_ = 0;
};

// The addresses of the configured BGP peers, readable by workers while the
// control thread replaces them (reload). Entries are relaxed atomics: a
// worker that reads during a replacement may classify a packet or two
// against a mix of the old and new lists, which only moves them between
// the control and local budgets.
class ControlPeers {
 public:
  static constexpr size_t kCapacity = 256;

  // Control thread only. Returns false (and changes nothing) if there are
  // more than kCapacity addresses.
  bool Set(const std::vector<uint32_t>& addrs_host_order) {
    if (addrs_host_order.size() > kCapacity) return false;
    const auto n = static_cast<uint32_t>(addrs_host_order.size());
    // Shrink first so readers never scan slots being rewritten past the end.
    if (n < count_.load(std::memory_order_relaxed)) count_.store(n, std::memory_order_release);
    for (uint32_t i = 0; i < n; ++i) addrs_[i].store(addrs_host_order[i], std::memory_order_relaxed);
    count_.store(n, std::memory_order_release);
    return true;
  }

  bool Contains(uint32_t addr_host_order) const {
    const uint32_t n = count_.load(std::memory_order_acquire);
    for (uint32_t i = 0; i < n; ++i) {
      if (addrs_[i].load(std::memory_order_relaxed) == addr_host_order) return true;
    }
    return false;
  }

 private:
  std::array<std::atomic<uint32_t>, kCapacity> addrs_{};
  std::atomic<uint32_t> count_{0};
};

// The class a punt is charged to: its reason, except that traffic for the
// appliance itself (`local`) from a BGP peer is `control` and other ICMP to
// it is `icmp`, so neither pings nor a flood of other local traffic eat the
// budget BGP needs. `ip` is the IPv4 header, already checked (CheckFrame).
inline PuntReason PuntClassOf(PuntReason reason, const uint8_t* ip, const ControlPeers* peers) {
  if (reason != PuntReason::kLocal) return reason;
  constexpr size_t kSourceOffset = 12;   // RFC 791 3.1
  constexpr size_t kProtocolOffset = 9;
  const uint32_t source = uint32_t{ip[kSourceOffset]} << 24 | uint32_t{ip[kSourceOffset + 1]} << 16 |
                          uint32_t{ip[kSourceOffset + 2]} << 8 | ip[kSourceOffset + 3];
  if (peers != nullptr && peers->Contains(source)) return PuntReason::kControl;
  if (ip[kProtocolOffset] == IPPROTO_ICMP) return PuntReason::kIcmp;
  return PuntReason::kLocal;
}

// One token bucket per punt class; owned by one worker.
class PuntLimiter {
 public:
  using Clock = TokenBucket::Clock;

  PuntLimiter(const PuntRates& rates, uint64_t hz, Clock clock) : hz_(hz), clock_(clock) { SetRates(rates); }
  // Every class unlimited (tests and benchmarks): no clock is ever read.
  explicit PuntLimiter(uint32_t rate_pps) : PuntLimiter(UniformPuntRates(rate_pps), 1, nullptr) {
    assert(rate_pps == 0 && "a rate needs a clock");
  }

  // Restarts every bucket full at its new rate.
  void SetRates(const PuntRates& rates) {
    const uint64_t now = clock_ == nullptr ? 0 : clock_();
    for (size_t i = 0; i < kPuntReasonCount; ++i) buckets_[i].Configure(rates[i], hz_, now);
  }

  bool Allow(PuntReason cls) { return buckets_[static_cast<size_t>(cls)].Allow(clock_); }

 private:
  uint64_t hz_;
  Clock clock_;
  std::array<TokenBucket, kPuntReasonCount> buckets_;
};

}  // namespace isthmus
