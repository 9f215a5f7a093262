#include "bgp/session/event_loop.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace isthmus::bgp {
namespace {

std::unique_ptr<EventLoop> MakeLoop() {
  auto loop = EventLoop::Create();
  EXPECT_TRUE(loop.ok()) << loop.status();
  return std::move(loop).value();
}

TEST(EventLoopTest, TimersFireInDeadlineOrder) {
  auto loop = MakeLoop();
  std::string order;
  loop->AddTimer(absl::Milliseconds(30), [&] { order += "c"; loop->Stop(); });
  loop->AddTimer(absl::Milliseconds(10), [&] { order += "a"; });
  loop->AddTimer(absl::Milliseconds(20), [&] { order += "b"; });
  const absl::Duration start = EventLoop::MonotonicNow();
  loop->Run();
  EXPECT_EQ(order, "abc");
  EXPECT_GE(EventLoop::MonotonicNow() - start, absl::Milliseconds(30));
}

TEST(EventLoopTest, CancelledTimerNeverRuns) {
  auto loop = MakeLoop();
  bool fired = false;
  const EventLoop::TimerId id = loop->AddTimer(absl::Milliseconds(5), [&] { fired = true; });
  loop->CancelTimer(id);
  loop->CancelTimer(id);            // twice: no-op
  loop->CancelTimer(id + 1000);     // unknown: no-op
  loop->AddTimer(absl::Milliseconds(20), [&] { loop->Stop(); });
  loop->Run();
  EXPECT_FALSE(fired);
}

TEST(EventLoopTest, TimerCancelsAnotherDueInSameRound) {
  auto loop = MakeLoop();
  bool second = false;
  EventLoop::TimerId victim = 0;
  loop->AddTimer(absl::Milliseconds(5), [&] { loop->CancelTimer(victim); });
  victim = loop->AddTimer(absl::Milliseconds(5), [&] { second = true; });
  loop->AddTimer(absl::Milliseconds(30), [&] { loop->Stop(); });
  absl::SleepFor(absl::Milliseconds(10));   // both due when the loop first looks
  loop->Run();
  EXPECT_FALSE(second);
}

TEST(EventLoopTest, ZeroDelayTimerRunsNextRound) {
  auto loop = MakeLoop();
  int count = 0;
  std::function<void()> again = [&] {
    if (++count == 100) {
      loop->Stop();
      return;
    }
    loop->AddTimer(absl::ZeroDuration(), again);
  };
  loop->AddTimer(absl::ZeroDuration(), again);
  loop->Run();
  EXPECT_EQ(count, 100);
}

TEST(EventLoopTest, PostFromOtherThreadsRunsInOrder) {
  auto loop = MakeLoop();
  std::vector<int> seen;
  std::thread poster([&] {
    for (int i = 0; i < 1000; ++i) loop->Post([&seen, i] { seen.push_back(i); });
    loop->Post([&] { loop->Stop(); });
  });
  loop->Run();
  poster.join();
  ASSERT_EQ(seen.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(seen[i], i);
}

TEST(EventLoopTest, StopBeforeRunReturnsImmediately) {
  auto loop = MakeLoop();
  loop->Stop();
  loop->Run();
  SUCCEED();
}

TEST(EventLoopTest, FdCallbacksAndRemoval) {
  auto loop = MakeLoop();
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  std::string received;
  ASSERT_TRUE(loop->AddFd(fds[0], EPOLLIN, [&](uint32_t events) {
                    ASSERT_TRUE(events & EPOLLIN);
                    char buf[16];
                    const ssize_t n = read(fds[0], buf, sizeof(buf));
                    if (n > 0) received.append(buf, static_cast<size_t>(n));
                    if (received == "hello") {
                      loop->RemoveFd(fds[0]);   // from inside its own callback
                      loop->Stop();
                    }
                  }).ok());
  EXPECT_FALSE(loop->AddFd(fds[0], EPOLLIN, [](uint32_t) {}).ok());   // already there
  loop->AddTimer(absl::Milliseconds(5), [&] { ASSERT_EQ(write(fds[1], "hello", 5), 5); });
  loop->Run();
  EXPECT_EQ(received, "hello");
  EXPECT_FALSE(loop->ModifyFd(fds[0], EPOLLOUT).ok());   // removed
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace isthmus::bgp
