#include "dataplane/worker/worker.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_rcu_qsbr.h>
#include <time.h>

#include "dataplane/nat/nat_clock.h"

namespace isthmus {
namespace {

// The punt limiter's clock (rte_rdtsc is an inline function).
uint64_t ReadTsc() { return rte_rdtsc(); }

}  // namespace

Worker::Worker(const WorkerParams& params, const ForwardContext& tables, rte_rcu_qsbr* rcu,
               const WorkerTunables* tunables, const std::atomic<bool>* stop)
    : params_(params),
      counters_(std::make_unique<LcoreCounters>()),
      punt_limiter_(tunables->LoadPuntRates(), rte_get_tsc_hz(), &ReadTsc),
      ctx_(tables),
      rcu_(rcu),
      tunables_(tunables),
      stop_(stop) {
  tx_ = std::make_unique<TxBuffers>(params_.tx, counters_.get());
  ctx_.counters = counters_.get();
  ctx_.tx = tx_.get();
  ctx_.punt_limiter = &punt_limiter_;
  ctx_.control_peers = &tunables_->control_peers;
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
  uint32_t punt_generation = tunables_->punt_rates_generation.load(std::memory_order_acquire);
  punt_limiter_.SetRates(tunables_->LoadPuntRates());
  const uint64_t tsc_hz = rte_get_tsc_hz();
  const uint64_t tsc_per_us = tsc_hz / 1'000'000;
  const uint64_t stall_cycles = static_cast<uint64_t>(kWorkerStallSeconds * static_cast<double>(tsc_hz));
  uint64_t round_start = rte_rdtsc();
  while (!stop_->load(std::memory_order_relaxed)) {
    const uint64_t now = rte_rdtsc();
    // After a sleep round_start moves forward by the sleep asked for, which
    // nanosleep never cuts short (tsc_per_us rounds down); still, never wrap.
    const uint64_t gap = now > round_start ? now - round_start : 0;
    round_start = now;
    counters_->longest_loop_gap_cycles.Observe(gap);
    if (gap > stall_cycles) counters_->stalls.Add(1);
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
    // A reload may change the punt rates; busy workers must see it too.
    if (const uint32_t g = tunables_->punt_rates_generation.load(std::memory_order_acquire); g != punt_generation) {
      punt_generation = g;
      punt_limiter_.SetRates(tunables_->LoadPuntRates());
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
    // The sleep asked for is not a stall; waking up late is.
    round_start += sleep_us * tsc_per_us;
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
