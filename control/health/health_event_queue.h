#pragma once
// Hands health events from the prober thread to the daemon's thread: a
// mutex-guarded list plus an eventfd that is readable while events wait, so
// the daemon can add fd() to its own epoll set (level-triggered) and call
// Drain() when it fires.
//
// Unbounded on purpose: an event is a state change, and a target changes
// state at most once per `rise` or `fall` probes, so the list stays small
// unless the daemon stops draining altogether. Dropping one would leave the
// daemon with a wrong idea of a backend's health.

#include <memory>
#include <mutex>
#include <vector>

#include "absl/status/statusor.h"
#include "control/admin/unix_socket.h"
#include "control/health/probe_types.h"

namespace isthmus::health {

class HealthEventQueue {
 public:
  static absl::StatusOr<std::unique_ptr<HealthEventQueue>> Create();

  // Readable (EPOLLIN) while Drain() has something to return.
  int fd() const { return wake_fd_.get(); }

  // Thread-safe.
  void Push(HealthEvent event);
  // Thread-safe. Returns the pending events, oldest first, and clears fd().
  std::vector<HealthEvent> Drain();

 private:
  explicit HealthEventQueue(ScopedFd wake_fd) : wake_fd_(std::move(wake_fd)) {}

  ScopedFd wake_fd_;
  std::mutex mutex_;
  std::vector<HealthEvent> pending_;  // guarded by mutex_
};

}  // namespace isthmus::health
