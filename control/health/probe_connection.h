#pragma once
// One probe's socket, driven by its owner's epoll loop: a non-blocking TCP
// connect and, for HTTP, one request and the status line of the answer. It
// never blocks and keeps no timer: the owner enforces the timeout by calling
// Close() when it expires.
//
// Every close is an abortive one (SO_LINGER 0, so the kernel sends RST):
// probes every 200 ms to many backends would otherwise leave thousands of
// sockets in TIME_WAIT on our side. The cost is that a backend may log the
// reset of a probe connection.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "control/admin/unix_socket.h"
#include "control/health/probe_types.h"

namespace isthmus::health {

class ProbeConnection {
 public:
  ProbeConnection() = default;
  ProbeConnection(ProbeConnection&&) = default;
  ProbeConnection& operator=(ProbeConnection&&) = default;

  // Opens a socket and starts connecting to the target. Returns the outcome
  // when the probe ended at once (a local error, or a refusal the kernel
  // knew right away), nullopt while it is in progress: then wait for
  // wanted_events() on fd() and call OnReady().
  std::optional<ProbeOutcome> Begin(const ProbeSettings& settings);

  // Advances on what epoll reported; returns the outcome once the probe has
  // ended, nullopt while it goes on. An ended probe keeps its socket until
  // Close(), so the owner can take fd() out of its epoll set first.
  std::optional<ProbeOutcome> OnReady(uint32_t events);

  int fd() const { return fd_.get(); }
  bool open() const { return fd_.valid(); }
  uint32_t wanted_events() const;

  // Closes the socket, aborting a probe still in progress (RST if
  // connected). Safe to call when closed.
  void Close();

  // The longest first line of an answer the prober reads before it gives up
  // with kMalformedStatus.
  static constexpr size_t kMaxStatusLineBytes = 1024;

 private:
  enum class Phase : uint8_t { kClosed, kConnecting, kSending, kReading, kDone };

  std::optional<ProbeOutcome> OnConnected();
  std::optional<ProbeOutcome> SendRequest();
  std::optional<ProbeOutcome> ReadStatusLine();
  ProbeOutcome Finish(ProbeOutcome outcome);

  ScopedFd fd_;
  Phase phase_ = Phase::kClosed;
  bool http_ = false;
  int expected_status_ = 0;
  std::string request_;
  size_t sent_ = 0;
  std::string response_;
};

// The status code of an HTTP/1.x status line (RFC 9112 section 4:
// HTTP-version SP status-code SP [reason-phrase]), given without its line
// ending; nullopt when the line does not have that form.
std::optional<int> ParseStatusLine(std::string_view line);

// The outcome a socket errno stands for (connect or I/O errors).
ProbeOutcome OutcomeOfErrno(int err);

}  // namespace isthmus::health
