#pragma once
// isthmusctl without the socket: command-line parsing, the table of accepted
// commands, and rendering of each command's result. main() only wires these
// to AdminCall, so all of it is unit-tested directly.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace isthmus {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // daemon error or no daemon
inline constexpr int kExitUsage = 2;    // bad command line

struct CliInvocation {
  enum class Action { kRun, kHelp, kVersion };
  Action action = Action::kRun;
  std::string socket;
  bool json = false;
  absl::Duration timeout = absl::Seconds(5);
  std::vector<std::string> command;  // e.g. {"show", "ports"}
};

// Parses argv (without argv[0]). `env_socket` is $ISTHMUS_SOCKET or null; it
// replaces the default socket, and --socket replaces both. Errors are usage
// errors (exit code 2).
absl::StatusOr<CliInvocation> ParseCommandLine(const std::vector<std::string>& args,
                                               const char* env_socket);

// The admin request for a command, e.g. {"command":"show","args":["ports"]}.
// An unknown command is an error that lists the accepted ones; a known one
// with a missing, extra or malformed argument (a PREFIX that is not one) is
// an error naming the form that command accepts. Both are usage errors.
absl::StatusOr<nlohmann::json> BuildAdminRequest(const std::vector<std::string>& command);

// Some answers are {"ok":true} but report a problem inside the result (the
// BGP speaker answers an unknown peer or a bad prefix that way, with an
// empty list): that text, or nullopt when the result is an answer.
std::optional<std::string> ResultError(const nlohmann::json& result);

// What --json prints on stdout when a command fails: {"error": MESSAGE,
// "exit_status": CODE}, so that a script reading stdout sees the failure.
nlohmann::json ErrorJson(const std::string& message, int exit_status);

// Human-readable rendering of a successful result of `command`.
std::string RenderResult(const std::vector<std::string>& command, const nlohmann::json& result);

std::string UsageText();

}  // namespace isthmus
