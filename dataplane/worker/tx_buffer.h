#pragma once
// Per-worker transmit buffers (one per port) and the punt rate limiter.

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_spinlock.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/worker/counters.h"

namespace isthmus {

// A port's TX queue. When there are fewer TX queues than workers (veth and
// AF_XDP have one), the workers share it under a lock.
struct TxQueue {
  uint16_t port_id = 0;
  uint16_t queue_id = 0;
  rte_spinlock_t* lock = nullptr;   // null when this worker owns the queue
};

class TxBuffers {
 public:
  static constexpr uint32_t kCapacity = 256;

  TxBuffers(std::vector<TxQueue> queues, LcoreCounters* counters)
      : queues_(std::move(queues)), counters_(counters), buffers_(queues_.size()) {}

  // Queues `m` for `port`; sends a full buffer at once.
  void Push(uint16_t port, rte_mbuf* m) {
    Buffer& b = buffers_[port];
    b.pkts[b.count++] = m;
    if (b.count == kCapacity) Flush(port);
  }

  void FlushAll() {
    for (uint16_t port = 0; port < buffers_.size(); ++port) {
      if (buffers_[port].count != 0) Flush(port);
    }
  }

 private:
  struct Buffer {
    uint32_t count = 0;
    rte_mbuf* pkts[kCapacity];
  };

  void Flush(uint16_t port) {
    Buffer& b = buffers_[port];
    const TxQueue& q = queues_[port];
    uint32_t sent = 0;
    if (q.lock != nullptr) rte_spinlock_lock(q.lock);
    // A couple of retries absorb a momentarily full ring; then count the rest.
    for (int attempt = 0; attempt < 3 && sent < b.count; ++attempt) {
      sent += rte_eth_tx_burst(q.port_id, q.queue_id, b.pkts + sent, static_cast<uint16_t>(b.count - sent));
    }
    if (q.lock != nullptr) rte_spinlock_unlock(q.lock);
    counters_->tx_packets.Add(sent);
    if (sent < b.count) {
      counters_->Drop(DropReason::kTxFull, b.count - sent);
      rte_pktmbuf_free_bulk(b.pkts + sent, b.count - sent);
    }
    b.count = 0;
  }

  std::vector<TxQueue> queues_;   // indexed by port id
  LcoreCounters* counters_;
  std::vector<Buffer> buffers_;
};

// Token bucket bounding what one worker hands to the kernel, so a flood of
// exceptions cannot starve the control plane (BGP, health probes).
class PuntLimiter {
 public:
  explicit PuntLimiter(uint32_t rate_pps) { SetRate(rate_pps); }
  void SetRate(uint32_t rate_pps) {
    rate_ = rate_pps;
    burst_ = rate_pps / 10 + 32;
    tokens_ = burst_;
    hz_ = rte_get_tsc_hz();
    last_ = rte_rdtsc();
  }
  bool Allow() {
    if (rate_ == 0) return true;   // 0 = unlimited
    if (tokens_ == 0) {
      const uint64_t now = rte_rdtsc();
      const uint64_t add = (now - last_) * rate_ / hz_;
      if (add == 0) return false;
      tokens_ = add > burst_ ? burst_ : add;
      last_ = now;
    }
    --tokens_;
    return true;
  }

 private:
  uint64_t rate_ = 0, burst_ = 0, tokens_ = 0, hz_ = 1, last_ = 0;
};

}  // namespace isthmus
