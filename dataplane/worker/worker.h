#pragma once
// A worker lcore: polls its RX queues, runs the forwarding stage over each
// burst, flushes TX, reports an RCU quiescent state once per round, and backs
// off (sleeps, RCU-offline) when it keeps finding nothing, so several
// appliances can share a small host.

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/worker/forward.h"

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
  uint32_t punt_rate_pps = 20000;
  bool esp = false;                  // ESP tunnels exist: stage their packets
};

// Knobs the control thread may change while the worker runs (reload).
struct WorkerTunables {
  std::atomic<uint32_t> idle_sleep_us{100};
  std::atomic<uint32_t> idle_polls_before_sleep{64};
  std::atomic<uint32_t> punt_rate_pps{20000};
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
