#include "control/admin/admin_protocol.h"

#include <exception>

#include "absl/strings/str_cat.h"

namespace isthmus {
namespace {

constexpr absl::string_view kCommandKey = "command";
constexpr absl::string_view kArgsKey = "args";

// nlohmann::json reports syntax errors by exception; this is the one place
// the admin code lets one happen, and it is turned into a value right here.
// Not only parse_error: a number beyond double's range ("1e999") throws
// out_of_range, which would otherwise end the control thread.
absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text) {
  try {
    return nlohmann::json::parse(std::string_view(text.data(), text.size()));
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("request is not valid JSON: ", e.what()));
  }
}

absl::StatusOr<std::vector<std::string>> ParseArgs(const nlohmann::json& request) {
  std::vector<std::string> args;
  const auto it = request.find(kArgsKey);
  if (it == request.end() || it->is_null()) return args;
  if (!it->is_array()) {
    return absl::InvalidArgumentError("request \"args\" must be an array of strings");
  }
  for (const nlohmann::json& arg : *it) {
    if (!arg.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("request \"args\" must be an array of strings, found ", DumpJsonLine(arg)));
    }
    args.push_back(arg.get<std::string>());
  }
  return args;
}

}  // namespace

std::string DumpJsonLine(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<AdminRequest> ParseAdminRequest(absl::string_view line) {
  absl::StatusOr<nlohmann::json> parsed = ParseJson(line);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_object()) {
    return absl::InvalidArgumentError(
        "request must be a JSON object such as {\"command\":\"show\",\"args\":[\"ports\"]}");
  }
  const auto command = parsed->find(kCommandKey);
  if (command == parsed->end() || !command->is_string() ||
      command->get_ref<const std::string&>().empty()) {
    return absl::InvalidArgumentError("request needs a non-empty string \"command\"");
  }
  absl::StatusOr<std::vector<std::string>> args = ParseArgs(*parsed);
  if (!args.ok()) return args.status();

  AdminRequest request;
  request.command = command->get<std::string>();
  request.args = *std::move(args);
  request.raw = *std::move(parsed);
  return request;
}

nlohmann::json MakeAdminResponse(const absl::StatusOr<nlohmann::json>& result) {
  if (!result.ok()) {
    return {{"ok", false}, {"error", std::string(result.status().message())}};
  }
  return {{"ok", true}, {"result", *result}};
}

std::string AnswerAdminRequestLine(absl::string_view line, const AdminHandler& handler) {
  absl::StatusOr<AdminRequest> request = ParseAdminRequest(line);
  if (!request.ok()) return DumpJsonLine(MakeAdminResponse(request.status()));
  absl::StatusOr<nlohmann::json> result;
  // The handler is the daemon's code; a stray exception from a JSON accessor
  // there must cost one request, not the control thread.
  try {
    result = handler(*request);
  } catch (const std::exception& e) {
    result = absl::InternalError(absl::StrCat("command \"", request->command, "\" failed: ", e.what()));
  }
  return DumpJsonLine(MakeAdminResponse(result));
}

}  // namespace isthmus
