#include "bgp/session/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace isthmus::bgp {
namespace {

constexpr int kMaxEventsPerWait = 64;
// Reserved epoll data values for the loop's own fds; user fds carry
// (generation << 32 | fd) with generation >= 1.
constexpr uint64_t kTimerTag = 1;
constexpr uint64_t kWakeTag = 2;

absl::Status ErrnoStatus(const char* what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create() {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return ErrnoStatus("epoll_create1");
  const int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  const int wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (tfd < 0 || wfd < 0) {
    absl::Status s = ErrnoStatus("timerfd/eventfd");
    close(ep);
    if (tfd >= 0) close(tfd);
    if (wfd >= 0) close(wfd);
    return s;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kTimerTag;
  const int rc1 = epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
  ev.data.u64 = kWakeTag;
  const int rc2 = epoll_ctl(ep, EPOLL_CTL_ADD, wfd, &ev);
  std::unique_ptr<EventLoop> loop(new EventLoop(ep, tfd, wfd));
  if (rc1 != 0 || rc2 != 0) return ErrnoStatus("epoll_ctl");
  return loop;
}

EventLoop::EventLoop(int epoll_fd, int timer_fd, int wake_fd)
    : epoll_fd_(epoll_fd), timer_fd_(timer_fd), wake_fd_(wake_fd) {}

EventLoop::~EventLoop() {
  close(epoll_fd_);
  close(timer_fd_);
  close(wake_fd_);
}

absl::Status EventLoop::AddFd(int fd, uint32_t events, FdCallback callback) {
  if (fds_.count(fd) != 0) return absl::AlreadyExistsError(absl::StrCat("fd ", fd, " already added"));
  const uint32_t generation = next_generation_++;
  if (next_generation_ == 0) next_generation_ = 1;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = (uint64_t{generation} << 32) | static_cast<uint32_t>(fd);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return ErrnoStatus("epoll_ctl(ADD)");
  fds_[fd] = FdEntry{generation, std::make_shared<FdCallback>(std::move(callback))};
  return absl::OkStatus();
}

absl::Status EventLoop::ModifyFd(int fd, uint32_t events) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return absl::NotFoundError(absl::StrCat("fd ", fd, " not added"));
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = (uint64_t{it->second.generation} << 32) | static_cast<uint32_t>(fd);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) return ErrnoStatus("epoll_ctl(MOD)");
  return absl::OkStatus();
}

void EventLoop::RemoveFd(int fd) {
  if (fds_.erase(fd) == 0) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

absl::Duration EventLoop::MonotonicNow() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return absl::DurationFromTimespec(ts);
}

absl::Time EventLoop::Now() const { return absl::Now(); }

EventLoop::TimerId EventLoop::AddTimer(absl::Duration after, std::function<void()> callback) {
  const TimerId id = next_timer_id_++;
  const absl::Duration deadline = MonotonicNow() + std::max(after, absl::ZeroDuration());
  timers_.emplace(TimerKey{deadline, id}, std::move(callback));
  timer_deadlines_[id] = deadline;
  if (deadline < armed_deadline_) ArmTimerFd();
  return id;
}

void EventLoop::CancelTimer(TimerId id) {
  auto it = timer_deadlines_.find(id);
  if (it == timer_deadlines_.end()) return;
  timers_.erase(TimerKey{it->second, id});
  timer_deadlines_.erase(it);
  // A stale earlier arming only causes one spurious wake-up.
}

void EventLoop::ArmTimerFd() {
  itimerspec spec{};
  if (timers_.empty()) {
    armed_deadline_ = absl::InfiniteDuration();
  } else {
    armed_deadline_ = timers_.begin()->first.first;
    spec.it_value = absl::ToTimespec(armed_deadline_);
    // An all-zero it_value disarms: the epoch itself is never a deadline.
    if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  }
  timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
}

void EventLoop::RunExpiredTimers() {
  uint64_t expirations = 0;
  (void)!read(timer_fd_, &expirations, sizeof(expirations));
  const absl::Duration now = MonotonicNow();
  // Timers added by callbacks with a zero delay run on the next round, so a
  // callback that re-arms itself cannot starve file descriptors.
  std::vector<TimerId> due;
  for (const auto& [key, callback] : timers_) {
    if (key.first > now) break;
    due.push_back(key.second);
  }
  for (TimerId id : due) {
    auto it = timer_deadlines_.find(id);
    if (it == timer_deadlines_.end()) continue;   // cancelled by an earlier callback
    auto node = timers_.extract(TimerKey{it->second, id});
    timer_deadlines_.erase(it);
    node.mapped()();
  }
  ArmTimerFd();
}

void EventLoop::Post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    posted_.push_back(std::move(task));
  }
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

void EventLoop::Stop() {
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    stop_requested_ = true;
  }
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

void EventLoop::RunPosted() {
  uint64_t count = 0;
  (void)!read(wake_fd_, &count, sizeof(count));
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    tasks.swap(posted_);
  }
  for (auto& task : tasks) task();
}

void EventLoop::DispatchFd(uint64_t data, uint32_t events) {
  const int fd = static_cast<int>(data & 0xffffffffu);
  const uint32_t generation = static_cast<uint32_t>(data >> 32);
  auto it = fds_.find(fd);
  // The fd may have been removed, or closed and reused, by an earlier
  // callback in this batch.
  if (it == fds_.end() || it->second.generation != generation) return;
  std::shared_ptr<FdCallback> callback = it->second.callback;   // survives RemoveFd inside
  (*callback)(events);
}

void EventLoop::Run() {
  epoll_event events[kMaxEventsPerWait];
  while (true) {
    {
      std::lock_guard<std::mutex> lock(posted_mutex_);
      if (stop_requested_) {
        stop_requested_ = false;
        return;
      }
    }
    const int n = epoll_wait(epoll_fd_, events, kMaxEventsPerWait, -1);
    if (n < 0 && errno != EINTR) return;
    for (int i = 0; i < n; ++i) {
      const uint64_t data = events[i].data.u64;
      if (data == kTimerTag) {
        RunExpiredTimers();
      } else if (data == kWakeTag) {
        RunPosted();
      } else {
        DispatchFd(data, events[i].events);
      }
    }
  }
}

}  // namespace isthmus::bgp
