#pragma once
// A worker lcore: polls its RX queues, runs the forwarding stage over each
// burst, flushes TX, reports an RCU quiescent state once per round, and backs
// off (sleeps, RCU-offline) when it keeps finding nothing, so several
// appliances can share a small host.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/worker/forward.h"
#include "dataplane/worker/punt_limiter.h"

struct rte_rcu_qsbr;

namespace isthmus {

struct RxQueue {
  uint16_t port_id = 0;
  uint16_t queue_id = 0;
};

struct WorkerParams {
  uint32_t id = 0;                   // also the RCU thread id
  std::vector<RxQueue> rx;
  std::vector<TxQueue> tx;           // indexed by port id
  uint32_t burst = 32;
  bool esp = false;                  // ESP tunnels exist: stage their packets
};

// Knobs the control thread may change while the worker runs (reload).
struct WorkerTunables {
  std::atomic<uint32_t> idle_sleep_us{100};
  std::atomic<uint32_t> idle_polls_before_sleep{64};
  // Per-class punt rates: the control thread stores them, then bumps the
  // generation (release); a worker that sees a new generation reloads all.
  std::array<std::atomic<uint32_t>, kPuntReasonCount> punt_rates{};
  std::atomic<uint32_t> punt_rates_generation{0};
  // Addresses of the configured BGP peers: their traffic is punt class
  // `control` (punt_limiter.h).
  ControlPeers control_peers;

  void SetPuntRates(const PuntRates& rates) {
    for (size_t i = 0; i < kPuntReasonCount; ++i) punt_rates[i].store(rates[i], std::memory_order_relaxed);
    punt_rates_generation.fetch_add(1, std::memory_order_release);
  }
  PuntRates LoadPuntRates() const {
    PuntRates rates;
    for (size_t i = 0; i < kPuntReasonCount; ++i) rates[i] = punt_rates[i].load(std::memory_order_relaxed);
    return rates;
  }
};

class Worker {
 public:
  Worker(const WorkerParams& params, const ForwardContext& tables, rte_rcu_qsbr* rcu, const WorkerTunables* tunables,
         const std::atomic<bool>* stop);
  // lcore entry point (rte_eal_remote_launch); returns 0.
  static int Main(void* self);
  int Run();
  const LcoreCounters& counters() const { return *counters_; }
  uint32_t id() const { return params_.id; }

 private:
  WorkerParams params_;
  std::unique_ptr<LcoreCounters> counters_;
  std::unique_ptr<TxBuffers> tx_;
  std::unique_ptr<EspStaging> esp_staging_;
  PuntLimiter punt_limiter_;
  ForwardContext ctx_;
  rte_rcu_qsbr* rcu_;
  const WorkerTunables* tunables_;
  const std::atomic<bool>* stop_;
};

}  // namespace isthmus
