#include "control/health/probe_types.h"

#include "absl/strings/str_cat.h"
#include "control/admin/unix_socket.h"

namespace isthmus::health {
namespace {

// RFC 9110 section 15: status codes are three digits, 100 to 599.
constexpr int kMinHttpStatus = 100;
constexpr int kMaxHttpStatus = 599;
// Below a millisecond a probe schedule is a flood, not a health check.
constexpr absl::Duration kMinInterval = absl::Milliseconds(1);

std::string TargetName(const ProbeTarget& target) {
  return absl::StrCat("service ", target.key.service, " backend ", target.key.backend, " (",
                      ToString(target.settings.address), ":", target.settings.port, ")");
}

}  // namespace

absl::Status ValidateProbeTarget(const ProbeTarget& target) {
  const ProbeSettings& s = target.settings;
  auto invalid = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(TargetName(target), ": ", what));
  };
  if (s.port == 0) return invalid("port must be 1 to 65535");
  if (s.interval < kMinInterval) return invalid("interval must be at least 1 ms");
  if (s.timeout <= absl::ZeroDuration()) return invalid("timeout must be positive");
  // One probe in flight per target: a longer timeout would overlap the next.
  if (s.timeout > s.interval) return invalid("timeout must not exceed the interval");
  if (s.rise == 0) return invalid("rise must be at least 1");
  if (s.fall == 0) return invalid("fall must be at least 1");
  if (s.type == ProbeType::kHttp) {
    if (s.http_path.empty() || s.http_path.front() != '/') {
      return invalid("HTTP path must start with '/'");
    }
    // The path goes into the request line verbatim (RFC 9112 section 3).
    for (const char c : s.http_path) {
      if (c <= ' ' || c == '\x7f')
        return invalid("HTTP path must not contain spaces or control characters");
    }
    if (s.expected_status < kMinHttpStatus || s.expected_status > kMaxHttpStatus) {
      return invalid("expected HTTP status must be 100 to 599");
    }
  }
  return absl::OkStatus();
}

std::string Describe(const ProbeOutcome& outcome) {
  switch (outcome.error) {
    case ProbeError::kNone:
      return "ok";
    case ProbeError::kRefused:
      return "refused";
    case ProbeError::kTimeout:
      return "timeout";
    case ProbeError::kReset:
      return "reset";
    case ProbeError::kUnreachable:
      return "unreachable";
    case ProbeError::kBadStatus:
      return absl::StrCat("bad status ", outcome.http_status);
    case ProbeError::kNoStatusLine:
      return "closed before the status line";
    case ProbeError::kMalformedStatus:
      return "malformed status line";
    case ProbeError::kSocketError:
      return absl::StrCat("socket error: ", ErrnoText(outcome.sys_errno));
    case ProbeError::kLocalError:
      return absl::StrCat("cannot send probe: ", ErrnoText(outcome.sys_errno));
  }
  return "unknown";
}

std::string_view ToString(HealthState state) { return state == HealthState::kUp ? "up" : "down"; }

}  // namespace isthmus::health
