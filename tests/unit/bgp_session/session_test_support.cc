#include "tests/unit/bgp_session/session_test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>

#include "absl/strings/str_format.h"

namespace isthmus::bgp::testing {
namespace {

constexpr absl::Duration kPollInterval = absl::Milliseconds(10);

std::string UniqueNamespaceName() {
  static std::atomic<int> counter{0};
  static const uint32_t tag = std::random_device{}() & 0xffff;
  return absl::StrFormat("isth-bgps-%d-%04x-%d", getpid(), tag, counter++);
}

}  // namespace

int NetnsTest::Shell(const std::string& command) {
  const int status = std::system(command.c_str());
  if (status < 0 || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

void NetnsTest::SetUp() {
  ASSERT_EQ(geteuid(), 0u) << "session tests need root (network namespaces)";
  original_netns_fd_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(original_netns_fd_, 0) << std::strerror(errno);
  const std::string name = AddNamespace();
  ASSERT_FALSE(name.empty());
  ASSERT_EQ(Shell("ip -n " + name + " link set lo up"), 0);
  const int target = open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(target, 0) << std::strerror(errno);
  const int rc = setns(target, CLONE_NEWNET);
  close(target);
  ASSERT_EQ(rc, 0) << "setns: " << std::strerror(errno);
}

void NetnsTest::TearDown() {
  if (original_netns_fd_ >= 0) {
    EXPECT_EQ(setns(original_netns_fd_, CLONE_NEWNET), 0) << std::strerror(errno);
    close(original_netns_fd_);
    original_netns_fd_ = -1;
  }
  for (const std::string& name : namespaces_) {
    EXPECT_EQ(Shell("ip netns del " + name), 0) << "leaked network namespace " << name;
  }
  namespaces_.clear();
}

std::string NetnsTest::AddNamespace() {
  const std::string name = UniqueNamespaceName();
  if (Shell("ip netns add " + name) != 0) {
    ADD_FAILURE() << "ip netns add " << name;
    return "";
  }
  namespaces_.push_back(name);
  return name;
}

bool RunUntil(EventLoop& loop, const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Duration deadline = EventLoop::MonotonicNow() + timeout;
  bool result = done();
  if (result) return true;
  EventLoop::TimerId timer = 0;
  std::function<void()> check = [&] {
    timer = 0;
    result = done();
    if (result || EventLoop::MonotonicNow() >= deadline) {
      loop.Stop();
      return;
    }
    timer = loop.AddTimer(kPollInterval, check);
  };
  timer = loop.AddTimer(kPollInterval, check);
  loop.Run();
  loop.CancelTimer(timer);
  return result;
}

void RunFor(EventLoop& loop, absl::Duration duration) {
  loop.AddTimer(duration, [&loop] { loop.Stop(); });
  loop.Run();
}

ScriptedPeer::ScriptedPeer(EventLoop* loop, int fd) : loop_(loop), fd_(fd) {
  fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
  EXPECT_TRUE(loop_->AddFd(fd_, EPOLLIN, [this](uint32_t) { OnReadable(); }).ok());
}

ScriptedPeer::~ScriptedPeer() {
  loop_->RemoveFd(fd_);
  close(fd_);
}

std::unique_ptr<ScriptedPeer> ScriptedPeer::Connect(EventLoop* loop, Ipv4Addr source,
                                                    Ipv4Addr addr, uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(source.value);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)), 0) << strerror(errno);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(addr.value);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)), 0) << strerror(errno);
  return std::make_unique<ScriptedPeer>(loop, fd);
}

void ScriptedPeer::Send(const Message& m) {
  const std::vector<uint8_t> bytes = Encode(m, CodecContext{});
  EXPECT_EQ(send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
}

void ScriptedPeer::OnReadable() {
  uint8_t chunk[4096];
  const ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
  if (n <= 0) {
    if (n == 0 || errno != EAGAIN) {
      closed_ = true;
      loop_->RemoveFd(fd_);
    }
    return;
  }
  buffer_.insert(buffer_.end(), chunk, chunk + n);
  while (true) {
    const Frame frame = PeekFrame(buffer_.data(), buffer_.size());
    if (frame.error.has_value() || frame.length == 0 || frame.length > buffer_.size()) return;
    DecodeResult r = Decode(buffer_.data(), frame.length, CodecContext{});
    if (r.message.has_value()) received_.push_back(*r.message);
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(frame.length));
  }
}

OpenMessage MakeOpen(Asn as, const char* router_id, uint16_t hold, bool graceful_restart) {
  OpenMessage o;
  o.my_as = static_cast<uint16_t>(as);
  o.hold_time = hold;
  o.bgp_id = *ParseIpv4(router_id);
  o.caps.four_octet_as = as;
  o.caps.mp_ipv4_unicast = true;
  o.caps.route_refresh = true;
  if (graceful_restart) {
    GracefulRestartCap gr;
    gr.notification = true;
    gr.ipv4_unicast = true;
    gr.restart_time = 60;
    o.caps.graceful_restart = gr;
  }
  return o;
}

}  // namespace isthmus::bgp::testing
