#include "tests/unit/health/test_backends.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "absl/strings/str_cat.h"

namespace isthmus::health::testing {
namespace {

// A test client that stalls must not hang the server thread for long.
constexpr timeval kReceiveTimeout{.tv_sec = 1, .tv_usec = 0};
constexpr size_t kMaxRequestBytes = 8192;

sockaddr_in LoopbackAddress(uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(kLoopback.value);
  sa.sin_port = htons(port);
  return sa;
}

// A listening socket on 127.0.0.1:0 and the port it got.
std::pair<ScopedFd, uint16_t> Listen(int backlog) {
  ScopedFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const sockaddr_in sa = LoopbackAddress(0);
  sockaddr_in bound{};
  socklen_t len = sizeof(bound);
  if (!fd.valid() || ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) != 0 ||
      ::listen(fd.get(), backlog) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
    return {ScopedFd(), 0};
  }
  return {std::move(fd), ntohs(bound.sin_port)};
}

// Reads until the blank line that ends the request head, EOF or timeout.
std::string ReadRequestHead(int fd) {
  std::string request;
  char buf[1024];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < kMaxRequestBytes) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    request.append(buf, static_cast<size_t>(n));
  }
  return request;
}

}  // namespace

std::unique_ptr<TestBackend> TestBackend::Start(Mode mode, int status, int backlog) {
  auto [listener, port] = Listen(backlog);
  ScopedFd stop(::eventfd(0, EFD_CLOEXEC));
  if (!listener.valid() || !stop.valid()) return nullptr;
  return std::unique_ptr<TestBackend>(
      new TestBackend(std::move(listener), std::move(stop), port, mode, status));
}

TestBackend::TestBackend(ScopedFd listener, ScopedFd stop, uint16_t port, Mode mode, int status)
    : listener_(std::move(listener)),
      stop_(std::move(stop)),
      port_(port),
      mode_(mode),
      status_(status),
      thread_([this] { Serve(); }) {}

TestBackend::~TestBackend() { Kill(); }

void TestBackend::StopServing() {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  (void)!::write(stop_.get(), &one, sizeof(one));
  thread_.join();
}

void TestBackend::Kill() {
  StopServing();
  listener_.Reset();
  silent_.clear();
  queue_filler_.Reset();
}

bool TestBackend::Blackhole() {
  StopServing();
  // The filler's handshake completes at once on loopback when the queue is
  // empty. When a probe's connection already sits there the filler's SYN
  // is dropped instead: the queue is just as full, which is all that
  // matters, so there is nothing to wait for.
  const sockaddr_in sa = LoopbackAddress(port_);
  ScopedFd filler(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!filler.valid()) return false;
  if (::connect(filler.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) != 0 &&
      errno != EINPROGRESS) {
    return false;
  }
  queue_filler_ = std::move(filler);
  return true;
}

std::string TestBackend::last_request() const {
  std::lock_guard<std::mutex> lock(peer_mutex_);
  return last_request_;
}

Ipv4Addr TestBackend::last_peer() const {
  std::lock_guard<std::mutex> lock(peer_mutex_);
  return last_peer_;
}

void TestBackend::Serve() {
  while (true) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    sockaddr_in peer{};
    socklen_t len = sizeof(peer);
    ScopedFd connection(
        ::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC));
    if (!connection.valid()) continue;
    {
      std::lock_guard<std::mutex> lock(peer_mutex_);
      last_peer_ = Ipv4Addr{ntohl(peer.sin_addr.s_addr)};
    }
    accepted_.fetch_add(1);
    Answer(std::move(connection));
  }
}

void TestBackend::Answer(ScopedFd connection) {
  switch (mode_.load()) {
    case Mode::kAcceptAndClose:
      return;
    case Mode::kSilent:
      silent_.push_back(std::move(connection));
      return;
    case Mode::kHttpStatus: {
      ::setsockopt(connection.get(), SOL_SOCKET, SO_RCVTIMEO, &kReceiveTimeout,
                   sizeof(kReceiveTimeout));
      std::string request = ReadRequestHead(connection.get());
      {
        std::lock_guard<std::mutex> lock(peer_mutex_);
        last_request_ = std::move(request);
      }
      const std::string response = absl::StrCat(
          "HTTP/1.1 ", status_.load(), " Test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      (void)!::send(connection.get(), response.data(), response.size(), MSG_NOSIGNAL);
      return;
    }
  }
}

}  // namespace isthmus::health::testing
