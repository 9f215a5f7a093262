// The pure parts of the prober: target validation, outcome texts, the HTTP
// status line parser and the errno classification.
#include "control/health/probe_types.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <functional>
#include <string>

#include "control/health/probe_connection.h"

namespace isthmus::health {
namespace {

ProbeTarget ValidHttpTarget() {
  ProbeTarget t;
  t.key = {"web", 0};
  t.settings.address = Ipv4Addr{0xc6120001};  // 198.18.0.1
  t.settings.port = 8080;
  t.settings.type = ProbeType::kHttp;
  t.settings.http_path = "/healthz";
  return t;
}

struct ValidationCase {
  std::string description;
  std::function<void(ProbeSettings&)> change;
  std::string expected_error;  // empty: valid
};

class ValidateProbeTargetTest : public ::testing::TestWithParam<ValidationCase> {};

TEST_P(ValidateProbeTargetTest, AcceptsOrNamesTheField) {
  ProbeTarget target = ValidHttpTarget();
  GetParam().change(target.settings);
  const absl::Status status = ValidateProbeTarget(target);
  if (GetParam().expected_error.empty()) {
    EXPECT_TRUE(status.ok()) << status;
    return;
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find(GetParam().expected_error), absl::string_view::npos) << status;
  EXPECT_NE(status.message().find("service web backend 0 (198.18.0.1:"), absl::string_view::npos)
      << status;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ValidateProbeTargetTest,
    ::testing::Values(
        ValidationCase{"defaults", [](ProbeSettings&) {}, ""},
        ValidationCase{"timeout_equal_to_interval",
                       [](ProbeSettings& s) { s.timeout = s.interval; }, ""},
        ValidationCase{"port_zero", [](ProbeSettings& s) { s.port = 0; }, "port"},
        ValidationCase{"zero_interval", [](ProbeSettings& s) { s.interval = absl::ZeroDuration(); },
                       "interval"},
        ValidationCase{"sub_millisecond_interval",
                       [](ProbeSettings& s) {
                         s.interval = absl::Microseconds(500);
                         s.timeout = absl::Microseconds(100);
                       },
                       "interval must be at least 1 ms"},
        ValidationCase{"negative_timeout",
                       [](ProbeSettings& s) { s.timeout = -absl::Milliseconds(1); }, "timeout"},
        ValidationCase{"timeout_longer_than_interval",
                       [](ProbeSettings& s) { s.timeout = s.interval + absl::Milliseconds(1); },
                       "timeout must not exceed the interval"},
        ValidationCase{"rise_zero", [](ProbeSettings& s) { s.rise = 0; }, "rise"},
        ValidationCase{"fall_zero", [](ProbeSettings& s) { s.fall = 0; }, "fall"},
        ValidationCase{"relative_path", [](ProbeSettings& s) { s.http_path = "healthz"; }, "path"},
        ValidationCase{"path_with_space", [](ProbeSettings& s) { s.http_path = "/a b"; }, "spaces"},
        ValidationCase{"path_with_newline", [](ProbeSettings& s) { s.http_path = "/a\r\nX: y"; },
                       "control"},
        ValidationCase{"status_too_small", [](ProbeSettings& s) { s.expected_status = 99; },
                       "status"},
        ValidationCase{"status_too_large", [](ProbeSettings& s) { s.expected_status = 600; },
                       "status"},
        ValidationCase{"tcp_ignores_http_fields",
                       [](ProbeSettings& s) {
                         s.type = ProbeType::kTcp;
                         s.http_path = "";
                         s.expected_status = 0;
                       },
                       ""}),
    [](const ::testing::TestParamInfo<ValidationCase>& info) { return info.param.description; });

struct StatusLineCase {
  std::string description;
  std::string line;
  std::optional<int> status;
};

class ParseStatusLineTest : public ::testing::TestWithParam<StatusLineCase> {};

TEST_P(ParseStatusLineTest, Parses) {
  EXPECT_EQ(ParseStatusLine(GetParam().line), GetParam().status);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ParseStatusLineTest,
    ::testing::Values(StatusLineCase{"ok", "HTTP/1.1 200 OK", 200},
                      StatusLineCase{"http10", "HTTP/1.0 503 Service Unavailable", 503},
                      StatusLineCase{"empty_reason", "HTTP/1.1 204 ", 204},
                      StatusLineCase{"no_reason", "HTTP/1.1 404", 404},
                      StatusLineCase{"empty", "", std::nullopt},
                      StatusLineCase{"not_http", "SSH-2.0-OpenSSH_9.2", std::nullopt},
                      StatusLineCase{"lowercase", "http/1.1 200 OK", std::nullopt},
                      StatusLineCase{"two_digit_code", "HTTP/1.1 20 OK", std::nullopt},
                      StatusLineCase{"four_digit_code", "HTTP/1.1 2000 OK", std::nullopt},
                      StatusLineCase{"letter_in_code", "HTTP/1.1 2x0 OK", std::nullopt},
                      StatusLineCase{"no_space_after_version", "HTTP/1.1200 OK", std::nullopt},
                      StatusLineCase{"bad_version", "HTTP/one 200 OK", std::nullopt}),
    [](const ::testing::TestParamInfo<StatusLineCase>& info) { return info.param.description; });

TEST(OutcomeOfErrno, ClassifiesConnectErrors) {
  EXPECT_EQ(OutcomeOfErrno(ECONNREFUSED).error, ProbeError::kRefused);
  EXPECT_EQ(OutcomeOfErrno(ECONNRESET).error, ProbeError::kReset);
  EXPECT_EQ(OutcomeOfErrno(EPIPE).error, ProbeError::kReset);
  EXPECT_EQ(OutcomeOfErrno(ETIMEDOUT).error, ProbeError::kTimeout);
  EXPECT_EQ(OutcomeOfErrno(EHOSTUNREACH).error, ProbeError::kUnreachable);
  EXPECT_EQ(OutcomeOfErrno(ENETUNREACH).error, ProbeError::kUnreachable);
  const ProbeOutcome other = OutcomeOfErrno(EPROTO);
  EXPECT_EQ(other.error, ProbeError::kSocketError);
  EXPECT_EQ(other.sys_errno, EPROTO);
}

TEST(Describe, NamesTheReason) {
  EXPECT_EQ(Describe({}), "ok");
  EXPECT_EQ(Describe({.error = ProbeError::kRefused}), "refused");
  EXPECT_EQ(Describe({.error = ProbeError::kTimeout}), "timeout");
  EXPECT_EQ(Describe({.error = ProbeError::kBadStatus, .http_status = 500}), "bad status 500");
  EXPECT_EQ(Describe({.error = ProbeError::kLocalError, .sys_errno = EMFILE}),
            "cannot send probe: Too many open files");
  EXPECT_EQ(ToString(HealthState::kUp), "up");
  EXPECT_EQ(ToString(HealthState::kDown), "down");
}

}  // namespace
}  // namespace isthmus::health
