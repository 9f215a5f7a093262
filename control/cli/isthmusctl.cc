// isthmusctl: the operator's command line for a running isthmusd. It sends
// one admin request over the daemon's Unix socket and prints the answer as a
// table (or as JSON with --json).

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "control/admin/admin_client.h"
#include "control/cli/cli_commands.h"
#include "isthmus_version.h"

namespace isthmus {
namespace {

constexpr int kJsonIndent = 2;

std::string DumpJson(const nlohmann::json& value) {
  return value.dump(kJsonIndent, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// Every failure ends here: the message on stderr (one line, or the daemon's
// own lines for a rejected reload) and, with --json, an error object on
// stdout so that a script parsing stdout does not mistake it for a result.
int Fail(const std::string& message, int exit_status, bool json) {
  std::fprintf(stderr, "%s\n", message.c_str());
  if (json) std::fputs(DumpJson(ErrorJson(message, exit_status)).c_str(), stdout);
  return exit_status;
}

int UsageError(absl::string_view message, bool json) {
  return Fail(absl::StrCat("isthmusctl: ", message, "; see isthmusctl --help"), kExitUsage, json);
}

// The daemon's error text is shown as is: a reload error spans several lines
// that already name the file and keys.
int DaemonError(const nlohmann::json& response, bool json) {
  const auto error = response.find("error");
  const std::string text = (error != response.end() && error->is_string())
                               ? error->get<std::string>()
                               : "isthmusd reported an error without a message";
  return Fail(text, kExitFailure, json);
}

// " (configured peers: a, b)" for an unknown-peer answer, which names only
// the peer that was asked for; empty if the daemon cannot say.
std::string ConfiguredPeers(const CliInvocation& inv) {
  const nlohmann::json request = {{"command", "show"}, {"args", {"bgp", "summary"}}};
  absl::StatusOr<nlohmann::json> response = AdminCall(inv.socket, request, inv.timeout);
  if (!response.ok() || !response->value("ok", false)) return "";
  const nlohmann::json result = response->value("result", nlohmann::json::object());
  std::vector<std::string> names;
  if (result.is_object()) {
    for (const nlohmann::json& peer : result.value("peers", nlohmann::json::array())) {
      if (peer.is_object() && peer.value("name", nlohmann::json()).is_string()) names.push_back(peer["name"]);
    }
  }
  if (names.empty()) return " (no peers are configured)";
  return absl::StrCat(" (configured peers: ", absl::StrJoin(names, ", "), ")");
}

int Run(const CliInvocation& inv) {
  absl::StatusOr<nlohmann::json> request = BuildAdminRequest(inv.command);
  if (!request.ok()) return UsageError(request.status().message(), inv.json);
  absl::StatusOr<nlohmann::json> response = AdminCall(inv.socket, *request, inv.timeout);
  if (!response.ok()) {
    return Fail(absl::StrCat("isthmusctl: ", response.status().message()), kExitFailure, inv.json);
  }
  if (!response->at("ok").get<bool>()) return DaemonError(*response, inv.json);
  const auto result = response->find("result");
  const nlohmann::json empty;
  const nlohmann::json& value = result != response->end() ? *result : empty;
  if (const std::optional<std::string> error = ResultError(value)) {
    const bool about_a_peer = inv.command.size() > 2 && inv.command[1] == "bgp" && inv.command[2] == "neighbors";
    return Fail(about_a_peer ? *error + ConfiguredPeers(inv) : *error, kExitFailure, inv.json);
  }
  const std::string text = inv.json ? DumpJson(value) : RenderResult(inv.command, value);
  std::fputs(text.c_str(), stdout);
  return std::fflush(stdout) == 0 ? kExitOk : kExitFailure;
}

// Whether --json was asked for, for reporting a command line that did not
// parse in the form the caller expects.
bool WantsJson(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--") return false;
    if (arg == "--json") return true;
  }
  return false;
}

int Main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<CliInvocation> inv = ParseCommandLine(args, std::getenv("ISTHMUS_SOCKET"));
  if (!inv.ok()) return UsageError(inv.status().message(), WantsJson(args));
  switch (inv->action) {
    case CliInvocation::Action::kHelp:
      std::fputs(UsageText().c_str(), stdout);
      return kExitOk;
    case CliInvocation::Action::kVersion:
      std::printf("isthmusctl %s\n", ISTHMUS_VERSION);
      return kExitOk;
    case CliInvocation::Action::kRun:
      break;
  }
  return Run(*inv);
}

}  // namespace
}  // namespace isthmus

int main(int argc, char** argv) { return isthmus::Main(argc, argv); }
