#pragma once
// The building blocks of the configuration parser, shared by config.cc and
// bgp_section.cc (internal to control/config: not part of the public API).
//
// The parser walks the yaml-cpp node tree itself instead of calling
// Node::as<T>(): as<T>() throws at the first bad value and accepts YAML 1.1
// spellings ("yes", "0x10", "010") that we do not want to promise. Walking by
// hand lets every problem in the file be collected, each with its line.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "control/config/ipv4.h"

namespace isthmus::config_internal {

// Every config integer fits in 10 digits (uint32_t).
inline constexpr size_t kMaxIntegerDigits = 10;

inline constexpr absl::string_view kAddressRule =
    "four decimal octets 0-255 without leading zeros, e.g. 198.51.100.1";
inline constexpr absl::string_view kPrefixRule =
    "ADDRESS/LEN with four decimal octets 0-255 and LEN 0-32, e.g. "
    "198.51.100.0/24";

// Debian builds abseil with ABSL_OPTION_USE_STD_STRING_VIEW=0:
// absl::string_view is a type of its own, so the parser works in it and
// converts at the public API, which speaks std::string_view.
inline absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view ToStd(absl::string_view s) { return {s.data(), s.size()}; }

// ---------------------------------------------------------------- numbers

// One unsigned decimal number: digits only, no sign, no leading zero (so
// "010" is neither read as octal 8, as inet_aton would, nor as ten).
std::optional<uint64_t> ParseDecimal(absl::string_view text, size_t max_digits);
uint32_t PrefixMask(uint32_t len);
// Why `a` cannot be a unicast host (a gateway or an interface address), or
// nullopt when it can.
std::optional<std::string> NotUnicastReason(Ipv4Addr a);

// ---------------------------------------------------------------- wording

// What a user probably meant: the closest candidate within two edits, or one
// that the word extends ("warning" -> "warn"), if any.
std::optional<absl::string_view> ClosestMatch(
    absl::string_view word, std::span<const absl::string_view> candidates);
std::string Quote(absl::string_view text);
// `text` with line breaks written as escapes ("\\n", "\\r"): an error
// message holds one problem per line, and a quoted value, a key or a
// yaml-cpp message may carry the YAML's own line breaks.
std::string OneLine(absl::string_view text);
// What a node holds, for "expected X, got Y".
std::string Describe(const YAML::Node& node);
std::string JoinPath(absl::string_view path, absl::string_view key);
std::string IndexPath(absl::string_view path, size_t index);
// 1-based line of a node, or 0 when yaml-cpp has no position for it.
int LineOf(const YAML::Node& node);

// ---------------------------------------------------------------- errors

// Every problem found in one file, reported together.
class Diagnostics {
 public:
  explicit Diagnostics(std::string source) : source_(std::move(source)) {}

  // "FILE:LINE: PATH: PROBLEM (accepted: ACCEPTED)".
  void Add(const YAML::Node& where, absl::string_view path,
           absl::string_view problem, absl::string_view accepted = {});
  bool empty() const { return entries_.empty(); }
  // InvalidArgument listing every problem in file order.
  absl::Status ToStatus() const;

 private:
  struct Entry {
    int line;
    std::string text;
  };
  std::string source_;
  std::vector<Entry> entries_;
};

// ---------------------------------------------------------------- readers

using ValueReader =
    std::function<void(const YAML::Node& value, const std::string& path)>;

// One key a map accepts and what to do with its value.
struct Field {
  absl::string_view key;
  ValueReader read;
};

// Keys present in a map, with their values.
using SeenKeys = absl::flat_hash_map<std::string, YAML::Node>;

struct UintRange {
  uint64_t min;
  uint64_t max;
};

std::optional<uint64_t> ReadUint(const YAML::Node& node,
                                 const std::string& path, UintRange range,
                                 Diagnostics& diag);
// YAML 1.2 core booleans only: "yes"/"on" are YAML 1.1 and surprise people.
std::optional<bool> ReadBool(const YAML::Node& node, const std::string& path,
                             Diagnostics& diag);
std::optional<std::string> ReadString(const YAML::Node& node,
                                      const std::string& path,
                                      absl::string_view accepted,
                                      Diagnostics& diag);
// Index into `choices` of the node's value.
std::optional<size_t> ReadChoice(const YAML::Node& node,
                                 const std::string& path,
                                 std::span<const absl::string_view> choices,
                                 Diagnostics& diag);
// Calls read(element, element_path) for each element. An empty value counts
// as an empty list; false when the node is something else.
bool ForEachElement(const YAML::Node& node, const std::string& path,
                    absl::string_view accepted, Diagnostics& diag,
                    const ValueReader& read);
// Reads each key of a map with its Field; reports unknown and repeated keys.
// An empty value counts as an empty map when allow_empty.
SeenKeys WalkMap(const YAML::Node& map, const std::string& path,
                 std::span<const Field> fields, bool allow_empty,
                 Diagnostics& diag);
// A prefix without host bits (a prefix with them gets a did-you-mean).
std::optional<Ipv4Prefix> PrefixFromText(const std::string& text,
                                         const YAML::Node& node,
                                         const std::string& path,
                                         Diagnostics& diag);
std::optional<Ipv4Prefix> ReadPrefix(const YAML::Node& node,
                                     const std::string& path,
                                     Diagnostics& diag);
// An address that can name one host (`what`: "gateway", "router id", ...).
std::optional<Ipv4Addr> ReadUnicastAddress(const YAML::Node& node,
                                           const std::string& path,
                                           absl::string_view what,
                                           Diagnostics& diag);
// Records which path first used a name that must be unique; false (and a
// diagnostic) when `name` was already taken.
bool ClaimUnique(absl::flat_hash_map<std::string, std::string>& owners,
                 const std::string& name, const YAML::Node& where,
                 const std::string& path, absl::string_view what,
                 Diagnostics& diag);

}  // namespace isthmus::config_internal
