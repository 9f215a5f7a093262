// libFuzzer target for the admin API request parser (control/admin/
// admin_protocol.h): ParseAdminRequest and AnswerAdminRequestLine, on each
// newline-terminated line of the input as the admin server cuts a client's
// stream (AdminServer::AnswerCompleteLines: split at '\n', surrounding
// whitespace stripped, empty lines skipped). The handler echoes what it was
// given, so DumpJsonLine serializes parsed client strings too.
//
// Invariants: nothing throws (nlohmann::json reports by exception; an
// escaping one aborts here); every answer is one line of JSON, an object
// with a boolean "ok" and a "result" or a string "error"; a request that
// parses has a non-empty command and string args, and its raw object
// serialized again parses to the same request.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "control/admin/admin_protocol.h"

namespace {

[[noreturn]] void Fail(const char* what, absl::string_view line) {
  std::fprintf(stderr, "invariant broken: %s\nline: %.*s\n", what, static_cast<int>(line.size()), line.data());
  std::abort();
}

absl::StatusOr<nlohmann::json> Echo(const isthmus::AdminRequest& request) {
  // An error answer carries client text back too.
  if (request.command == "fail") return absl::InvalidArgumentError("refused: " + isthmus::DumpJsonLine(request.raw));
  return nlohmann::json{{"command", request.command}, {"args", request.args}, {"raw", request.raw}};
}

void CheckAnswer(absl::string_view line, const std::string& answer) {
  if (answer.find('\n') != std::string::npos) Fail("answer spans several lines", line);
  const nlohmann::json parsed = nlohmann::json::parse(answer, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) Fail("answer is not a JSON object", line);
  const auto ok = parsed.find("ok");
  if (ok == parsed.end() || !ok->is_boolean()) Fail("answer without a boolean \"ok\"", line);
  if (ok->get<bool>() ? !parsed.contains("result") : !(parsed.contains("error") && parsed["error"].is_string())) {
    Fail("answer without its result or error", line);
  }
}

void CheckRequest(absl::string_view line) {
  const absl::StatusOr<isthmus::AdminRequest> request = isthmus::ParseAdminRequest(line);
  if (!request.ok()) {
    if (request.status().message().empty()) Fail("refused without a message", line);
    return;
  }
  if (request->command.empty()) Fail("accepted an empty command", line);
  if (!request->raw.is_object()) Fail("raw request is not an object", line);
  const absl::StatusOr<isthmus::AdminRequest> again = isthmus::ParseAdminRequest(isthmus::DumpJsonLine(request->raw));
  if (!again.ok() || again->command != request->command || again->args != request->args) {
    Fail("re-serialized request parses differently", line);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > isthmus::kAdminMaxRequestBytes) return 0;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  const isthmus::AdminHandler handler = Echo;
  for (absl::string_view raw : absl::StrSplit(input, '\n')) {
    const absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty()) continue;
    CheckRequest(line);
    CheckAnswer(line, isthmus::AnswerAdminRequestLine(line, handler));
  }
  return 0;
}
