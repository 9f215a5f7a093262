#include "control/health/health_event_queue.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "absl/strings/str_cat.h"

namespace isthmus::health {

absl::StatusOr<std::unique_ptr<HealthEventQueue>> HealthEventQueue::Create() {
  ScopedFd fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!fd.valid()) {
    return absl::InternalError(
        absl::StrCat("health: cannot create an eventfd: ", ErrnoText(errno)));
  }
  return std::unique_ptr<HealthEventQueue>(new HealthEventQueue(std::move(fd)));
}

void HealthEventQueue::Push(HealthEvent event) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.push_back(std::move(event));
  }
  // Written after the event is visible, so a reader woken by it finds it.
  // The counter cannot overflow in practice (2^64 - 2 pushes); a failed
  // write would leave the event for the next wake-up, not lose it.
  const uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof(one));
}

std::vector<HealthEvent> HealthEventQueue::Drain() {
  // Cleared before taking the list: an event pushed in between is either
  // taken now (and the next wake-up finds nothing) or signals again.
  uint64_t count = 0;
  (void)!::read(wake_fd_.get(), &count, sizeof(count));
  std::vector<HealthEvent> events;
  std::lock_guard<std::mutex> lock(mutex_);
  events.swap(pending_);
  return events;
}

}  // namespace isthmus::health
