#pragma once
// Client side of the admin protocol (admin_protocol.h), used by isthmusctl
// and tests.

#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace isthmus {

inline constexpr char kDefaultAdminSocket[] = "/run/isthmus/isthmusd.sock";

// Sends one request and returns the daemon's whole response object
// ({"ok":...,"result"|"error":...}). The status is an error only when no
// well-formed response arrived: cannot connect, timeout, connection closed,
// or a response that is not a JSON object with a boolean "ok".
absl::StatusOr<nlohmann::json> AdminCall(const std::string& socket_path,
                                         const nlohmann::json& request, absl::Duration timeout);

}  // namespace isthmus
