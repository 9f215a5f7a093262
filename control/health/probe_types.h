#pragma once
// Vocabulary of the backend health prober: what to probe (ProbeTarget), how
// one probe ended (ProbeOutcome), the state changes it reports (HealthEvent)
// and what `show services` and the metrics read (TargetStatus).

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "control/config/ipv4.h"

namespace isthmus::health {

enum class ProbeType : uint8_t {
  kTcp,   // success = the TCP handshake completes within the timeout
  kHttp,  // success = the HTTP status line arrives in time with the expected status
};

// Which backend a target checks. The prober does not interpret it: it comes
// back unchanged in events and snapshots so the daemon can find the backend.
struct ProbeKey {
  std::string service;
  uint32_t backend = 0;  // index or id of the backend, as the daemon numbers them

  friend bool operator==(const ProbeKey&, const ProbeKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const ProbeKey& k) {
    return H::combine(std::move(h), k.service, k.backend);
  }
};

// Defaults detect a dead backend within 1 s (issue 5): three failed probes
// 200 ms apart, the first one starting at most one interval after the death.
inline constexpr absl::Duration kDefaultProbeInterval = absl::Milliseconds(200);
inline constexpr absl::Duration kDefaultProbeTimeout = absl::Milliseconds(150);
inline constexpr uint32_t kDefaultRise = 2;
inline constexpr uint32_t kDefaultFall = 3;
inline constexpr int kDefaultExpectedStatus = 200;

// How to probe one backend. Everything here except key.backend is the
// target's identity: SetTargets keeps the health state of a target whose
// service name and settings are unchanged, and starts any other from
// scratch (down).
struct ProbeSettings {
  Ipv4Addr address;
  uint16_t port = 0;
  std::optional<Ipv4Addr> source;  // local address to bind (the kernel picks the port)
  ProbeType type = ProbeType::kTcp;
  std::string http_path = "/";
  int expected_status = kDefaultExpectedStatus;
  absl::Duration interval = kDefaultProbeInterval;
  absl::Duration timeout = kDefaultProbeTimeout;  // at most `interval`: one probe in flight
  uint32_t rise = kDefaultRise;                   // consecutive successes that bring a backend up
  uint32_t fall = kDefaultFall;                   // consecutive failures that take it down

  friend bool operator==(const ProbeSettings&, const ProbeSettings&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const ProbeSettings& s) {
    // absl 20220623 cannot hash std::optional of a user type.
    return H::combine(std::move(h), s.address, s.port, s.source.has_value(),
                      s.source.value_or(Ipv4Addr{}), s.type, s.http_path, s.expected_status,
                      s.interval, s.timeout, s.rise, s.fall);
  }
};

struct ProbeTarget {
  ProbeKey key;
  ProbeSettings settings;
};

// Checks what the prober relies on; the message names the target and the
// field. The config loader validates user input first, with file and key.
[[nodiscard]] absl::Status ValidateProbeTarget(const ProbeTarget& target);

enum class ProbeError : uint8_t {
  kNone,             // the probe succeeded
  kRefused,          // RST in answer to the SYN: nothing listens
  kTimeout,          // no complete answer within the timeout (silent or blackholed)
  kReset,            // the connection was reset after it was established
  kUnreachable,      // ICMP unreachable, or no route
  kBadStatus,        // an HTTP status other than the expected one
  kNoStatusLine,     // the peer closed before sending a whole status line
  kMalformedStatus,  // the first line is not an HTTP/1.x status line
  kSocketError,      // another error reported by the socket (errno set)
  kLocalError,       // the probe could not be sent (socket, bind...; errno set)
};

struct ProbeOutcome {
  ProbeError error = ProbeError::kNone;
  int http_status = 0;  // the status received, for kBadStatus
  int sys_errno = 0;    // for kSocketError and kLocalError

  bool ok() const { return error == ProbeError::kNone; }
  friend bool operator==(const ProbeOutcome&, const ProbeOutcome&) = default;
};

// "ok", "refused", "timeout", "bad status 500", "socket error: ..." — the
// reason shown in logs, `show services` and events.
std::string Describe(const ProbeOutcome& outcome);

// Every target starts down: nothing is announced for a backend before it
// has answered `rise` probes in a row.
enum class HealthState : uint8_t { kDown, kUp };

std::string_view ToString(HealthState state);

// A backend changed state. `reason` is the probe that completed the rise
// (ok) or the fall (the last failure).
struct HealthEvent {
  ProbeKey key;
  HealthState state = HealthState::kDown;
  ProbeOutcome reason;
  absl::Time time;  // wall clock, for display
};

struct TargetStatus {
  ProbeTarget target;
  HealthState state = HealthState::kDown;
  uint32_t consecutive_successes = 0;
  uint32_t consecutive_failures = 0;
  std::optional<int64_t> last_latency_us;  // of the last finished probe; none yet before it
  ProbeOutcome last_error;                 // the most recent failure (kNone: never failed)
  absl::Time last_error_time = absl::InfinitePast();
  absl::Time last_change = absl::InfinitePast();  // last up/down transition
  uint64_t probes_sent = 0;
  uint64_t probes_failed = 0;
};

}  // namespace isthmus::health
