#include "dataplane/worker/worker.h"

#include <rte_ethdev.h>
#include <rte_rcu_qsbr.h>
#include <time.h>

#include "dataplane/nat/nat_clock.h"

namespace isthmus {

Worker::Worker(const WorkerParams& params, const ForwardContext& tables, rte_rcu_qsbr* rcu,
               const WorkerTunables* tunables, const std::atomic<bool>* stop)
    : params_(params),
      counters_(std::make_unique<LcoreCounters>()),
      punt_limiter_(params.punt_rate_pps),
      ctx_(tables),
      rcu_(rcu),
      tunables_(tunables),
      stop_(stop) {
  tx_ = std::make_unique<TxBuffers>(params_.tx, counters_.get());
  ctx_.counters = counters_.get();
  ctx_.tx = tx_.get();
  ctx_.punt_limiter = &punt_limiter_;
  ctx_.worker_id = params_.id;
  if (params_.esp) {
    esp_staging_ = std::make_unique<EspStaging>();
    ctx_.esp = esp_staging_.get();
  }
  if (params_.burst > kMaxBurst) params_.burst = kMaxBurst;
}

int Worker::Main(void* self) { return static_cast<Worker*>(self)->Run(); }

int Worker::Run() {
  if (rcu_ != nullptr) {
    rte_rcu_qsbr_thread_register(rcu_, params_.id);
    rte_rcu_qsbr_thread_online(rcu_, params_.id);
  }
  rte_mbuf* pkts[kMaxBurst];
  uint32_t empty_rounds = 0;
  uint32_t punt_rate = tunables_->punt_rate_pps.load(std::memory_order_relaxed);
  punt_limiter_.SetRate(punt_rate);
  while (!stop_->load(std::memory_order_relaxed)) {
    uint32_t received = 0;
    if (ctx_.flows != nullptr) ctx_.now_s = NatClockSeconds();
    for (const RxQueue& q : params_.rx) {
      const uint16_t n = rte_eth_rx_burst(q.port_id, q.queue_id, pkts, static_cast<uint16_t>(params_.burst));
      if (n == 0) continue;
      received += n;
      ForwardBurst(ctx_, q.port_id, pkts, n);
    }
    received += DrainEspHandoff(ctx_);
    tx_->FlushAll();
    if (rcu_ != nullptr) rte_rcu_qsbr_quiescent(rcu_, params_.id);
    // A reload may change the punt rate; busy workers must see it too.
    if (const uint32_t rate = tunables_->punt_rate_pps.load(std::memory_order_relaxed); rate != punt_rate) {
      punt_rate = rate;
      punt_limiter_.SetRate(rate);
    }
    if (received != 0) {
      counters_->rx_packets.Add(received);
      counters_->busy_polls.Add(1);
      empty_rounds = 0;
      continue;
    }
    counters_->idle_polls.Add(1);
    const uint32_t sleep_us = tunables_->idle_sleep_us.load(std::memory_order_relaxed);
    if (sleep_us == 0 || ++empty_rounds < tunables_->idle_polls_before_sleep.load(std::memory_order_relaxed)) {
      continue;
    }
    // Sleeping: go RCU-offline so the control thread never waits on us.
    if (rcu_ != nullptr) rte_rcu_qsbr_thread_offline(rcu_, params_.id);
    const timespec ts{0, static_cast<long>(sleep_us) * 1000};
    nanosleep(&ts, nullptr);
    if (rcu_ != nullptr) rte_rcu_qsbr_thread_online(rcu_, params_.id);
  }
  tx_->FlushAll();
  if (rcu_ != nullptr) {
    rte_rcu_qsbr_thread_offline(rcu_, params_.id);
    rte_rcu_qsbr_thread_unregister(rcu_, params_.id);
  }
  return 0;
}

}  // namespace isthmus
