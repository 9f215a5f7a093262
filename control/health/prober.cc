#include "control/health/prober.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <future>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace isthmus::health {

using bgp::EventLoop;

namespace {

// How often a Snapshot() waiting for the loop checks that the loop still runs.
constexpr std::chrono::milliseconds kSnapshotPoll{100};

}  // namespace

struct Prober::Target {
  explicit Target(ProbeTarget t) : health(t.settings.rise, t.settings.fall) {
    status.target = std::move(t);
  }
  const ProbeSettings& settings() const { return status.target.settings; }
  const ProbeKey& key() const { return status.target.key; }

  // The counters and errors of Snapshot(); the health fields live in
  // `health` and are filled in when copied out.
  TargetStatus status;
  RiseFall health;
  ProbeOutcome last_outcome;

  ProbeConnection connection;
  bool in_flight = false;              // the socket is registered with the loop
  uint32_t registered_events = 0;      // what it waits for there
  absl::Duration started;              // monotonic start of the probe in flight
  absl::Duration next_start;           // monotonic slot of the next probe
  EventLoop::TimerId start_timer = 0;  // 0: none armed
  EventLoop::TimerId deadline_timer = 0;
};

absl::StatusOr<std::unique_ptr<Prober>> Prober::Start() {
  absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create();
  if (!loop.ok()) return loop.status();
  absl::StatusOr<std::unique_ptr<HealthEventQueue>> events = HealthEventQueue::Create();
  if (!events.ok()) return events.status();
  std::unique_ptr<Prober> prober(new Prober(*std::move(loop), *std::move(events)));
  std::lock_guard<std::mutex> lock(prober->lifecycle_mutex_);
  prober->thread_ = std::thread([p = prober.get()] {
    p->loop_->Run();
    // Run() also returns when epoll_wait fails, which only a bug causes;
    // then nobody would run posted work and Snapshot() must not wait.
    p->loop_exited_.store(true, std::memory_order_release);
  });
  prober->running_ = true;
  return prober;
}

Prober::Prober(std::unique_ptr<EventLoop> loop, std::unique_ptr<HealthEventQueue> events)
    : loop_(std::move(loop)), events_(std::move(events)), random_(std::random_device{}()) {}

// Probes in flight are closed when targets_ goes, after the thread joined.
Prober::~Prober() { Stop(); }

void Prober::Stop() {
  std::lock_guard<std::mutex> lock(lifecycle_mutex_);
  if (!running_) return;
  loop_->Stop();
  thread_.join();
  running_ = false;
}

absl::Status Prober::SetTargets(std::vector<ProbeTarget> targets) {
  absl::flat_hash_set<Identity> seen;
  for (const ProbeTarget& target : targets) {
    if (absl::Status s = ValidateProbeTarget(target); !s.ok()) return s;
    if (!seen.insert(Identity{target.key.service, target.settings}).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "service ", target.key.service, " probes ", ToString(target.settings.address), ":",
          target.settings.port, " twice with the same settings"));
    }
  }
  std::lock_guard<std::mutex> lock(lifecycle_mutex_);
  if (!running_ || loop_exited_.load(std::memory_order_acquire)) {
    return absl::FailedPreconditionError("health prober is stopped");
  }
  loop_->Post([this, targets = std::move(targets)]() mutable { ApplyTargets(std::move(targets)); });
  return absl::OkStatus();
}

std::vector<TargetStatus> Prober::Snapshot() const {
  std::lock_guard<std::mutex> lock(lifecycle_mutex_);
  if (!running_) return CollectStatus();  // joined: this thread may read
  std::promise<std::vector<TargetStatus>> result;
  std::future<std::vector<TargetStatus>> future = result.get_future();
  loop_->Post([this, &result] { result.set_value(CollectStatus()); });
  // Holding the lock keeps Stop() from ending the loop before it ran this.
  while (future.wait_for(kSnapshotPoll) != std::future_status::ready) {
    if (loop_exited_.load(std::memory_order_acquire)) {
      spdlog::error("health: the prober loop stopped on its own; reporting its last state");
      return CollectStatus();
    }
  }
  return future.get();
}

void Prober::ApplyTargets(std::vector<ProbeTarget> targets) {
  absl::flat_hash_map<Identity, std::unique_ptr<Target>> next;
  std::vector<Target*> order;
  order.reserve(targets.size());
  for (ProbeTarget& config : targets) {
    Identity id{config.key.service, config.settings};
    std::unique_ptr<Target> target;
    if (auto it = targets_.find(id); it != targets_.end()) {
      target = std::move(it->second);
      targets_.erase(it);
      target->status.target.key = std::move(config.key);
    } else {
      target = std::make_unique<Target>(std::move(config));
      // A random start within the first interval spreads the targets
      // (ValidateProbeTarget keeps the interval at 1 ms or more).
      const int64_t interval_us = absl::ToInt64Microseconds(target->settings().interval);
      const absl::Duration offset =
          absl::Microseconds(std::uniform_int_distribution<int64_t>(0, interval_us - 1)(random_));
      target->next_start = EventLoop::MonotonicNow() + offset;
      target->start_timer = loop_->AddTimer(offset, [this, t = target.get()] { StartProbe(*t); });
    }
    order.push_back(target.get());
    next.emplace(std::move(id), std::move(target));
  }
  for (auto& [id, gone] : targets_) DropTarget(*gone);
  targets_ = std::move(next);
  order_ = std::move(order);
}

void Prober::DropTarget(Target& target) {
  loop_->CancelTimer(target.start_timer);
  loop_->CancelTimer(target.deadline_timer);
  if (target.in_flight) loop_->RemoveFd(target.connection.fd());
  target.connection.Close();
}

void Prober::ScheduleNextProbe(Target& target) {
  const absl::Duration interval = target.settings().interval;
  const absl::Duration now = EventLoop::MonotonicNow();
  target.next_start += interval;
  if (target.next_start <= now) {
    absl::Duration remainder;
    const int64_t missed = absl::IDivDuration(now - target.next_start, interval, &remainder);
    target.next_start += (missed + 1) * interval;
  }
  target.start_timer =
      loop_->AddTimer(target.next_start - now, [this, t = &target] { StartProbe(*t); });
}

void Prober::StartProbe(Target& target) {
  target.start_timer = 0;
  // Only possible when timeout == interval and this slot's timer ran first.
  if (target.in_flight) FinishProbe(target, {.error = ProbeError::kTimeout});
  ScheduleNextProbe(target);

  target.started = EventLoop::MonotonicNow();
  ++target.status.probes_sent;
  if (std::optional<ProbeOutcome> done = target.connection.Begin(target.settings())) {
    FinishProbe(target, *done);
    return;
  }
  target.in_flight = true;
  target.registered_events = target.connection.wanted_events();
  absl::Status added =
      loop_->AddFd(target.connection.fd(), target.registered_events,
                   [this, t = &target](uint32_t events) { OnSocketReady(*t, events); });
  if (!added.ok()) {
    spdlog::warn("health: {}: cannot watch a probe socket: {}", target.key().service,
                 added.ToString());
    target.in_flight = false;  // never registered: nothing to remove
    FinishProbe(target, {.error = ProbeError::kLocalError, .sys_errno = EBADF});
    return;
  }
  target.deadline_timer = loop_->AddTimer(target.settings().timeout, [this, t = &target] {
    t->deadline_timer = 0;
    FinishProbe(*t, {.error = ProbeError::kTimeout});
  });
}

void Prober::OnSocketReady(Target& target, uint32_t events) {
  if (std::optional<ProbeOutcome> done = target.connection.OnReady(events)) {
    FinishProbe(target, *done);
    return;
  }
  const uint32_t wanted = target.connection.wanted_events();
  if (wanted == target.registered_events) return;
  if (absl::Status s = loop_->ModifyFd(target.connection.fd(), wanted); !s.ok()) {
    FinishProbe(target, {.error = ProbeError::kLocalError, .sys_errno = EBADF});
    return;
  }
  target.registered_events = wanted;
}

void Prober::FinishProbe(Target& target, const ProbeOutcome& outcome) {
  const absl::Duration now = EventLoop::MonotonicNow();
  loop_->CancelTimer(target.deadline_timer);
  target.deadline_timer = 0;
  if (target.in_flight) loop_->RemoveFd(target.connection.fd());  // before the fd number is reused
  target.in_flight = false;
  target.connection.Close();

  TargetStatus& status = target.status;
  status.last_latency_us = absl::ToInt64Microseconds(now - target.started);
  if (!outcome.ok()) {
    ++status.probes_failed;
    status.last_error = outcome;
    status.last_error_time = absl::Now();
    // Our own trouble (out of fds, a source address that is gone) is logged
    // once per change, not every interval; backend failures go to events.
    if (outcome.error == ProbeError::kLocalError && !(target.last_outcome == outcome)) {
      spdlog::warn("health: service {} backend {}: {}", target.key().service, target.key().backend,
                   Describe(outcome));
    }
  }
  target.last_outcome = outcome;
  if (std::optional<HealthState> changed = target.health.Record(outcome.ok())) {
    status.last_change = absl::Now();
    events_->Push(HealthEvent{
        .key = target.key(), .state = *changed, .reason = outcome, .time = status.last_change});
  }
}

std::vector<TargetStatus> Prober::CollectStatus() const {
  std::vector<TargetStatus> out;
  out.reserve(order_.size());
  for (const Target* t : order_) {
    TargetStatus& status = out.emplace_back(t->status);
    status.state = t->health.state();
    status.consecutive_successes = t->health.consecutive_successes();
    status.consecutive_failures = t->health.consecutive_failures();
  }
  return out;
}

}  // namespace isthmus::health
