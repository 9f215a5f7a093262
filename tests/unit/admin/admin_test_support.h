#pragma once
// Test fixtures for the admin server: a private temp directory, a thread that
// drives AdminServer::Poll() the way the daemon's event loop does, and a raw
// line-oriented client for protocol-level checks.

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "control/admin/admin_server.h"
#include "control/admin/unix_socket.h"

namespace isthmus::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "isthmus-admin-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Child(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Calls server.Poll() whenever its epoll fd is readable, until destroyed.
class PollingThread {
 public:
  explicit PollingThread(AdminServer& server)
      : thread_([this, &server] {
          constexpr int kWakeMs = 20;
          while (!stop_.load()) {
            pollfd pfd{server.fd(), POLLIN, 0};
            if (::poll(&pfd, 1, kWakeMs) > 0) server.Poll();
          }
        }) {}
  ~PollingThread() {
    stop_.store(true);
    thread_.join();
  }
  PollingThread(const PollingThread&) = delete;
  PollingThread& operator=(const PollingThread&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A blocking client that speaks raw bytes, for malformed and oversized input.
class RawClient {
 public:
  explicit RawClient(const std::string& path) {
    absl::StatusOr<sockaddr_un> addr = UnixSocketAddress(path);
    if (!addr.ok()) return;
    fd_.Reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
      fd_.Reset();
    }
  }
  bool connected() const { return fd_.valid(); }

  bool Send(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ::send(fd_.get(), data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }
  void ShutdownWrite() { ::shutdown(fd_.get(), SHUT_WR); }

  // The next line without its newline; nullopt on EOF, error or timeout.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout = kDefaultTimeout) {
    while (true) {
      const size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      if (!ReadSome(timeout)) return std::nullopt;
    }
  }

  // True if the server closed the connection (EOF or reset) within `timeout`.
  bool WaitForClose(std::chrono::milliseconds timeout = kDefaultTimeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd pfd{fd_.get(), POLLIN, 0};
      if (::poll(&pfd, 1, 50) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), 0);
      if (n <= 0) return true;
    }
    return false;
  }

 private:
  static constexpr std::chrono::milliseconds kDefaultTimeout{3000};

  bool ReadSome(std::chrono::milliseconds timeout) {
    pollfd pfd{fd_.get(), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char buf[4096];
    const ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), 0);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<size_t>(n));
    return true;
  }

  ScopedFd fd_;
  std::string buffer_;
};

}  // namespace isthmus::testing
