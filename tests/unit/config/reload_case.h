#pragma once
// Shared by the config tests: a table row for CheckReloadable and the check
// that a change is live or names exactly the keys that need a restart.

#include <gtest/gtest.h>

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "control/config/config.h"

namespace isthmus::config_testing {

struct ReloadCase {
  std::string description;
  std::function<void(Config&)> change;
  std::vector<std::string> restart_keys;  // empty: reload allowed
};

inline void PrintTo(const ReloadCase& c, std::ostream* os) { *os << c.description; }

// Loads `base_yaml`, applies the case's change and checks CheckReloadable.
inline void ExpectReloadOutcome(const char* base_yaml, const char* source, const ReloadCase& c) {
  const auto running = LoadConfigText(base_yaml, source);
  ASSERT_TRUE(running.ok()) << running.status();
  Config next = *running;
  c.change(next);
  const absl::Status status = CheckReloadable(*running, next);
  if (c.restart_keys.empty()) {
    EXPECT_TRUE(status.ok()) << status;
    return;
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  const std::vector<std::string> lines = absl::StrSplit(status.message(), '\n');
  ASSERT_EQ(lines.size(), c.restart_keys.size()) << status;
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i], absl::StrCat(c.restart_keys[i], ": changing ", c.restart_keys[i],
                                     " requires a restart of isthmusd"));
  }
}

}  // namespace isthmus::config_testing
