#pragma once
// The admin protocol, independent of sockets. Each request and each response
// is one JSON object on one line (newline-delimited JSON):
//
//   request:  {"command":"show","args":["ports"]}
//   response: {"ok":true,"result":<any JSON>}
//          or {"ok":false,"error":"message"}
//
// A connection may carry several requests; answers come back in order.

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace isthmus {

// Longest request line the server accepts (the newline not counted).
inline constexpr size_t kAdminMaxRequestBytes = 64 * 1024;

struct AdminRequest {
  std::string command;
  std::vector<std::string> args;
  nlohmann::json raw;  // the whole request object, for commands with options
};

// Answers one request. A non-OK status becomes {"ok":false,"error":message};
// the message is shown to the operator as is, so it may span several lines.
using AdminHandler = std::function<absl::StatusOr<nlohmann::json>(const AdminRequest&)>;

// Parses and checks one request line: a JSON object with a non-empty string
// "command" and an optional "args" array of strings.
absl::StatusOr<AdminRequest> ParseAdminRequest(absl::string_view line);

// {"ok":true,"result":...} or {"ok":false,"error":...}.
nlohmann::json MakeAdminResponse(const absl::StatusOr<nlohmann::json>& result);

// Parse, dispatch, and serialize: one request line in, one response line out
// (without the trailing newline). Never throws.
std::string AnswerAdminRequestLine(absl::string_view line, const AdminHandler& handler);

// Serializes without throwing on invalid UTF-8 (replaced by U+FFFD), because
// a port or interface name from a config file must never crash the server.
std::string DumpJsonLine(const nlohmann::json& value);

}  // namespace isthmus
