#pragma once
// Per-worker transmit buffers (one per port). The punt rate limiter the
// forwarding stages use with them is in punt_limiter.h.

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_spinlock.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/worker/counters.h"
#include "dataplane/worker/punt_limiter.h"

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

}  // namespace isthmus
