#pragma once
// The BGP thread's event loop: one epoll set, one timerfd armed for the
// earliest timer, one eventfd for work posted from other threads. Everything
// except Post() and Stop() must be called on the loop's own thread.
// Timers run on the monotonic clock, so a wall-clock step never fires or
// delays a hold timer.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace isthmus::bgp {

class EventLoop {
 public:
  using TimerId = uint64_t;
  using FdCallback = std::function<void(uint32_t events)>;

  static absl::StatusOr<std::unique_ptr<EventLoop>> Create();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // `events` are EPOLLIN/EPOLLOUT/...; the callback gets what fired. The
  // loop does not own the fd: remove it before closing it.
  [[nodiscard]] absl::Status AddFd(int fd, uint32_t events, FdCallback callback);
  [[nodiscard]] absl::Status ModifyFd(int fd, uint32_t events);
  void RemoveFd(int fd);

  // One-shot timer; ids are never reused, cancelling a fired or unknown id
  // is a no-op.
  TimerId AddTimer(absl::Duration after, std::function<void()> callback);
  void CancelTimer(TimerId id);

  // Thread-safe: runs `task` on the loop thread, in posting order.
  void Post(std::function<void()> task);
  // Runs until Stop(); Stop() is thread-safe and may come before Run().
  void Run();
  void Stop();

  absl::Time Now() const;                 // wall clock, for display
  static absl::Duration MonotonicNow();   // the timers' clock

 private:
  struct FdEntry {
    uint32_t generation = 0;
    std::shared_ptr<FdCallback> callback;
  };
  using TimerKey = std::pair<absl::Duration, TimerId>;   // deadline, id (FIFO on ties)

  EventLoop(int epoll_fd, int timer_fd, int wake_fd);
  void DispatchFd(uint64_t data, uint32_t events);
  void RunExpiredTimers();
  void RunPosted();
  void ArmTimerFd();

  int epoll_fd_;
  int timer_fd_;
  int wake_fd_;
  uint32_t next_generation_ = 1;
  std::unordered_map<int, FdEntry> fds_;
  TimerId next_timer_id_ = 1;
  std::map<TimerKey, std::function<void()>> timers_;
  std::unordered_map<TimerId, absl::Duration> timer_deadlines_;
  absl::Duration armed_deadline_ = absl::InfiniteDuration();

  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;   // guarded by posted_mutex_
  bool stop_requested_ = false;                 // guarded by posted_mutex_
};

}  // namespace isthmus::bgp
