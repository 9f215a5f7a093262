#pragma once
// Shared by the config tests: the source name, the smallest valid file, test
// name and address helpers, a table row for CheckReloadable and the check
// that a change is live or names exactly the keys that need a restart.

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "control/config/config.h"

namespace isthmus::config_testing {

inline constexpr char kSource[] = "test.yaml";
// The smallest valid file: one port.
inline constexpr char kMinimal[] = "ports:\n  - {name: p0, interface: veth0}\n";

// A gtest parameter name from a description.
inline std::string Name(std::string description) {
  std::replace_if(
      description.begin(), description.end(),
      [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
  return description;
}

constexpr Ipv4Addr Addr(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return Ipv4Addr{uint32_t{a} << 24 | uint32_t{b} << 16 | uint32_t{c} << 8 | d};
}

// A file that must be refused: `expected` is a substring of the error.
struct RefusedCase {
  std::string description;
  std::string yaml;
  std::string expected;
};

inline void PrintTo(const RefusedCase& c, std::ostream* os) { *os << c.description; }

inline void ExpectRefused(const RefusedCase& c, const char* source) {
  const auto config = LoadConfigText(c.yaml, source);
  ASSERT_FALSE(config.ok()) << c.yaml;
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(config.status().message().find(c.expected), std::string::npos)
      << "expected: " << c.expected << "\nactual: " << config.status().message();
}

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
