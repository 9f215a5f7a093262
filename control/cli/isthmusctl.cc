// isthmusctl: the operator's command line for a running isthmusd. It sends
// one admin request over the daemon's Unix socket and prints the answer as a
// table (or as JSON with --json).

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "control/admin/admin_client.h"
#include "control/cli/cli_commands.h"
#include "isthmus_version.h"

namespace isthmus {
namespace {

constexpr int kJsonIndent = 2;

int UsageError(absl::string_view message) {
  std::fprintf(stderr, "isthmusctl: %.*s\n\n%s", static_cast<int>(message.size()),
               message.data(), UsageText().c_str());
  return kExitUsage;
}

// The daemon's error text is shown as is: a reload error spans several lines
// that already name the file and keys.
int DaemonError(const nlohmann::json& response) {
  const auto error = response.find("error");
  const std::string text = (error != response.end() && error->is_string())
                               ? error->get<std::string>()
                               : "isthmusd reported an error without a message";
  std::fprintf(stderr, "%s\n", text.c_str());
  return kExitFailure;
}

int Run(const CliInvocation& inv) {
  absl::StatusOr<nlohmann::json> request = BuildAdminRequest(inv.command);
  if (!request.ok()) return UsageError(request.status().message());
  absl::StatusOr<nlohmann::json> response = AdminCall(inv.socket, *request, inv.timeout);
  if (!response.ok()) {
    std::fprintf(stderr, "isthmusctl: %s\n", std::string(response.status().message()).c_str());
    return kExitFailure;
  }
  if (!response->at("ok").get<bool>()) return DaemonError(*response);
  const auto result = response->find("result");
  const nlohmann::json empty;
  const nlohmann::json& value = result != response->end() ? *result : empty;
  const std::string text =
      inv.json ? value.dump(kJsonIndent, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"
               : RenderResult(inv.command, value);
  std::fputs(text.c_str(), stdout);
  return std::fflush(stdout) == 0 ? kExitOk : kExitFailure;
}

int Main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<CliInvocation> inv = ParseCommandLine(args, std::getenv("ISTHMUS_SOCKET"));
  if (!inv.ok()) return UsageError(inv.status().message());
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
