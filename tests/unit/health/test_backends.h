#pragma once
// Real backends on 127.0.0.1 for the prober tests: a server thread that
// accepts and answers like a TCP service, an HTTP server with a chosen
// status, or a silent one. It can die (listener closed: connections are
// refused) or turn into a blackhole (SYNs dropped).

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "control/admin/unix_socket.h"
#include "control/config/ipv4.h"

namespace isthmus::health::testing {

inline constexpr Ipv4Addr kLoopback{0x7f000001};  // 127.0.0.1

class TestBackend {
 public:
  enum class Mode {
    kAcceptAndClose,  // a TCP service
    kHttpStatus,      // reads the request, answers with status() and closes
    kSilent,          // accepts, reads nothing, never answers
  };

  static constexpr int kDefaultBacklog = 64;

  // Listens on 127.0.0.1 with a kernel-chosen port; nullptr on failure.
  // Blackhole() needs backlog 0.
  static std::unique_ptr<TestBackend> Start(Mode mode, int status = 200,
                                            int backlog = kDefaultBacklog);
  ~TestBackend();  // Kill()
  TestBackend(const TestBackend&) = delete;
  TestBackend& operator=(const TestBackend&) = delete;

  uint16_t port() const { return port_; }
  void SetMode(Mode mode, int status = 200) {
    status_.store(status);
    mode_.store(mode);
  }
  // The backend dies: the server thread stops and the listener closes, so
  // new connections are refused. Idempotent.
  void Kill();
  // The backend stops answering without refusing: the server thread stops,
  // the listener stays, and one connection that is never accepted fills
  // its accept queue (backlog 0). Linux then drops every further SYN, so a
  // connect neither completes nor is refused. False on a socket error.
  bool Blackhole();
  // Connections accepted so far and the source address of the last one.
  uint64_t accepted() const { return accepted_.load(); }
  Ipv4Addr last_peer() const;
  // The head of the last HTTP request read.
  std::string last_request() const;

 private:
  TestBackend(ScopedFd listener, ScopedFd stop, uint16_t port, Mode mode, int status);
  void Serve();
  void StopServing();
  void Answer(ScopedFd connection);

  ScopedFd listener_;
  ScopedFd stop_;  // eventfd: wakes Serve() to return
  uint16_t port_;
  std::atomic<Mode> mode_;
  std::atomic<int> status_;
  std::atomic<uint64_t> accepted_{0};
  mutable std::mutex peer_mutex_;
  Ipv4Addr last_peer_;            // guarded by peer_mutex_
  std::string last_request_;      // guarded by peer_mutex_
  std::vector<ScopedFd> silent_;  // server thread only
  ScopedFd queue_filler_;
  std::thread thread_;
};

}  // namespace isthmus::health::testing
