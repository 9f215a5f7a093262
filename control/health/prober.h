#pragma once
// Backend health prober of the anycast services (issue 5). It runs its own
// thread with one epoll loop (bgp::EventLoop: a timerfd for the probe
// schedule, an eventfd for requests from other threads) and non-blocking
// sockets only, so probe timing does not jitter with the control thread's
// work and a slow or silent backend never holds up the others.
//
// Scheduling: each target probes at a fixed rate, every `interval` from a
// start offset drawn at random in [0, interval) when the target is added,
// so many targets do not fire in lockstep. A probe that has not finished
// within `timeout` fails with kTimeout. If the loop ever falls more than an
// interval behind, the missed slots are skipped, keeping the phase.
//
// Health: every target starts down, and goes up after `rise` successful
// probes in a row (nothing is announced for a backend before it has proven
// itself); it goes down after `fall` failures in a row (RiseFall). State
// changes are queued as HealthEvents; the daemon watches event_fd() and
// calls Drain(). A backend that dies right after a successful probe is
// reported down fall × interval later when it refuses connections, and
// fall × interval + timeout later when it falls silent: with the defaults
// (200 ms, 150 ms, fall 3) 600 ms and 750 ms at most, plus scheduling delay.
//
// Thread-safe: every public method may be called from any thread other
// than the prober's own.

#include <atomic>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bgp/session/event_loop.h"
#include "control/health/health_event_queue.h"
#include "control/health/probe_connection.h"
#include "control/health/probe_types.h"
#include "control/health/rise_fall.h"

namespace isthmus::health {

class Prober {
 public:
  // Starts the prober thread with no targets.
  static absl::StatusOr<std::unique_ptr<Prober>> Start();
  ~Prober();  // Stop()
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  // Replaces the target list. A target whose service name and settings
  // (ProbeSettings, which include address and port) match one already
  // probed keeps its health state, counters and schedule, and takes the new
  // key; any other target starts down; targets not in the list are dropped
  // without an event. Fails, changing nothing, when a target is invalid
  // (ValidateProbeTarget) or appears twice, or after Stop(). Applied
  // asynchronously, but before any later Snapshot() or SetTargets().
  [[nodiscard]] absl::Status SetTargets(std::vector<ProbeTarget> targets);

  // Readable while Drain() has events; add it to the daemon's epoll set.
  int event_fd() const { return events_->fd(); }
  // State changes since the last call, oldest first.
  std::vector<HealthEvent> Drain() { return events_->Drain(); }

  // Per-target state and counters, in SetTargets order. Waits for the
  // prober thread to copy them (it never blocks, so this is quick); after
  // Stop() it returns the final state.
  std::vector<TargetStatus> Snapshot() const;

  // Stops and joins the thread; probes in flight are aborted. Idempotent.
  void Stop();

 private:
  struct Target;
  // What makes two targets the same probe (see SetTargets).
  struct Identity {
    std::string service;
    ProbeSettings settings;
    friend bool operator==(const Identity&, const Identity&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const Identity& id) {
      return H::combine(std::move(h), id.service, id.settings);
    }
  };

  Prober(std::unique_ptr<bgp::EventLoop> loop, std::unique_ptr<HealthEventQueue> events);

  // Everything below runs on the prober thread (or after it was joined).
  void ApplyTargets(std::vector<ProbeTarget> targets);
  void DropTarget(Target& target);
  void ScheduleNextProbe(Target& target);
  void StartProbe(Target& target);
  void OnSocketReady(Target& target, uint32_t events);
  void FinishProbe(Target& target, const ProbeOutcome& outcome);
  std::vector<TargetStatus> CollectStatus() const;

  std::unique_ptr<bgp::EventLoop> loop_;
  std::unique_ptr<HealthEventQueue> events_;
  std::thread thread_;

  // Owned by the prober thread.
  absl::flat_hash_map<Identity, std::unique_ptr<Target>> targets_;
  std::vector<Target*> order_;  // SetTargets order, for Snapshot()
  std::mt19937_64 random_;

  // Serialises Stop() with the calls that post to the loop, so nothing
  // waits for a loop that has already stopped.
  mutable std::mutex lifecycle_mutex_;
  bool running_ = false;  // guarded by lifecycle_mutex_
  std::atomic<bool> loop_exited_{false};
};

}  // namespace isthmus::health
