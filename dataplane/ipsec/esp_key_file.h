#pragma once
// Reads ESP key material from a file the operator protected. Format: the
// key followed by the 4-byte salt (RFC 4106 §8.1 "KEYMAT"), as hex; an
// optional 0x prefix and any whitespace are ignored. 20 bytes for
// AES-128-GCM, 36 for AES-256-GCM. The file must be a regular file that
// neither group nor others may access (mode 0600, 0400 or stricter), owned
// by root or the daemon's user (control/config/secret_file.h); its text is
// read into a no-dump buffer that is wiped once parsed.
// Error messages name the path, what was found and what is accepted, and
// never contain key bytes.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "dataplane/ipsec/esp_types.h"

namespace isthmus {

[[nodiscard]] absl::StatusOr<EspKey> LoadEspKeyFile(const std::string& path, EspCipher cipher);

// Same parsing on text already in memory (`origin` names it in errors).
[[nodiscard]] absl::StatusOr<EspKey> ParseEspKeyHex(std::string_view text, EspCipher cipher,
                                                    std::string_view origin);

}  // namespace isthmus
