#include "control/config/yaml_reader.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace isthmus::config_internal {
namespace {

constexpr uint32_t kIpv4Bits = 32;
constexpr size_t kSuggestionDistance = 2;
constexpr size_t kMinSuggestionPrefix = 3;
constexpr size_t kMaxQuotedValueLen = 60;

bool InBlock(Ipv4Addr a, uint32_t network, uint32_t len) {
  return (a.value & PrefixMask(len)) == network;
}

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
    }
  }
  return row[b.size()];
}

std::string KeyList(std::span<const Field> fields) {
  std::vector<absl::string_view> keys;
  for (const Field& f : fields) keys.push_back(f.key);
  std::sort(keys.begin(), keys.end());
  return absl::StrJoin(keys, ", ");
}

void ReportUnknownKey(const YAML::Node& key, const std::string& path,
                      std::span<const Field> fields, Diagnostics& diag) {
  std::vector<absl::string_view> keys;
  for (const Field& f : fields) keys.push_back(f.key);
  std::string problem = "unknown key";
  if (const auto hint = ClosestMatch(key.Scalar(), keys)) {
    absl::StrAppend(&problem, ", did you mean '", *hint, "'?");
  }
  diag.Add(key, path, problem, KeyList(fields));
}

}  // namespace

// ---------------------------------------------------------------- numbers

// One unsigned decimal number: digits only, no sign, no leading zero (so
// "010" is neither read as octal 8, as inet_aton would, nor as ten).
std::optional<uint64_t> ParseDecimal(absl::string_view text,
                                     size_t max_digits) {
  if (text.empty() || text.size() > max_digits) return std::nullopt;
  if (text.size() > 1 && text.front() == '0') return std::nullopt;
  uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

uint32_t PrefixMask(uint32_t len) {
  return len == 0 ? 0 : ~uint32_t{0} << (kIpv4Bits - len);
}

// Why `a` cannot be a unicast host (a gateway or an interface address), or
// nullopt when it can.
std::optional<std::string> NotUnicastReason(Ipv4Addr a) {
  constexpr uint32_t kThisNetwork = 0x00000000;  // 0.0.0.0/8
  constexpr uint32_t kLoopback = 0x7f000000;     // 127.0.0.0/8
  constexpr uint32_t kMulticast = 0xe0000000;    // 224.0.0.0/4
  constexpr uint32_t kReserved = 0xf0000000;     // 240.0.0.0/4
  constexpr uint32_t kLimitedBroadcast = 0xffffffff;
  if (InBlock(a, kThisNetwork, 8)) {
    return "is in 0.0.0.0/8, which only names this host as a source "
           "(RFC 1122 3.2.1.3)";
  }
  if (InBlock(a, kLoopback, 8)) return "is a loopback address (RFC 1122)";
  if (InBlock(a, kMulticast, 4)) return "is a multicast address (RFC 5771)";
  if (a.value == kLimitedBroadcast) {
    return "is the limited broadcast address (RFC 919)";
  }
  if (InBlock(a, kReserved, 4)) return "is in reserved 240.0.0.0/4 (RFC 1112)";
  return std::nullopt;
}


// ---------------------------------------------------------------- wording

// What a user probably meant: a candidate the word is the start of ("tcp"
// -> "tcp_ports"), else the closest within kSuggestionDistance edits or one
// that the word extends ("warning" -> "warn"), if any.
std::optional<absl::string_view> ClosestMatch(
    absl::string_view word, std::span<const absl::string_view> candidates) {
  std::optional<absl::string_view> best;
  size_t best_distance = kSuggestionDistance + 1;
  for (const absl::string_view candidate : candidates) {
    const bool extends = candidate.size() >= kMinSuggestionPrefix &&
                         absl::StartsWith(word, candidate);
    // A key cut short ("tcp" for "tcp_ports", "mss" for "mss_clamp") is a
    // stronger hint than a word two edits away.
    const bool truncates = word.size() >= kMinSuggestionPrefix &&
                           absl::StartsWith(candidate, word);
    size_t distance = EditDistance(word, candidate);
    if (truncates) {
      distance = 1;
    } else if (extends) {
      distance = kSuggestionDistance;
    }
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string Quote(absl::string_view text) {
  if (text.size() <= kMaxQuotedValueLen) return absl::StrCat("'", text, "'");
  return absl::StrCat("'", text.substr(0, kMaxQuotedValueLen), "...'");
}

std::string OneLine(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"\n", "\\n"}, {"\r", "\\r"}});
}

// What a node holds, for "expected X, got Y".
std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return Quote(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return "an empty value";
  }
}

std::string JoinPath(absl::string_view path, absl::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}

std::string IndexPath(absl::string_view path, size_t index) {
  return absl::StrCat(path, "[", index, "]");
}

// 1-based line of a node, or 0 when yaml-cpp has no position for it.
int LineOf(const YAML::Node& node) {
  if (!node.IsDefined()) return 0;
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

// ---------------------------------------------------------------- errors

void Diagnostics::Add(const YAML::Node& where, absl::string_view path,
                      absl::string_view problem, absl::string_view accepted) {
  const int line = LineOf(where);
  std::string text = source_;
  if (line > 0) absl::StrAppend(&text, ":", line);
  absl::StrAppend(&text, ": ");
  if (!path.empty()) absl::StrAppend(&text, path, ": ");
  absl::StrAppend(&text, problem);
  if (!accepted.empty()) absl::StrAppend(&text, " (accepted: ", accepted, ")");
  // One problem per line: ToStatus joins them with newlines.
  entries_.push_back({line, OneLine(text)});
}

absl::Status Diagnostics::ToStatus() const {
  std::vector<Entry> sorted = entries_;
  std::stable_sort(
      sorted.begin(), sorted.end(),
      [](const Entry& a, const Entry& b) { return a.line < b.line; });
  std::vector<std::string> lines;
  lines.reserve(sorted.size());
  for (Entry& e : sorted) lines.push_back(std::move(e.text));
  return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
}

// ---------------------------------------------------------------- readers

std::optional<uint64_t> ReadUint(const YAML::Node& node,
                                 const std::string& path, UintRange range,
                                 Diagnostics& diag) {
  std::optional<uint64_t> value;
  if (node.IsScalar()) value = ParseDecimal(node.Scalar(), kMaxIntegerDigits);
  if (!value || *value < range.min || *value > range.max) {
    diag.Add(node, path,
             absl::StrFormat("expected an integer between %d and %d, got %s",
                             range.min, range.max, Describe(node)));
    return std::nullopt;
  }
  return value;
}

// YAML 1.2 core booleans only: "yes"/"on" are YAML 1.1 and surprise people.
std::optional<bool> ReadBool(const YAML::Node& node, const std::string& path,
                             Diagnostics& diag) {
  if (node.IsScalar() && node.Scalar() == "true") return true;
  if (node.IsScalar() && node.Scalar() == "false") return false;
  diag.Add(node, path, absl::StrCat("expected a boolean, got ", Describe(node)),
           "true, false");
  return std::nullopt;
}

std::optional<std::string> ReadString(const YAML::Node& node,
                                      const std::string& path,
                                      absl::string_view accepted,
                                      Diagnostics& diag) {
  if (node.IsScalar()) return node.Scalar();
  diag.Add(node, path, absl::StrCat("expected a string, got ", Describe(node)),
           accepted);
  return std::nullopt;
}

// Index into `choices` of the node's value.
std::optional<size_t> ReadChoice(const YAML::Node& node,
                                 const std::string& path,
                                 std::span<const absl::string_view> choices,
                                 Diagnostics& diag) {
  const std::string accepted = absl::StrJoin(choices, ", ");
  const std::optional<std::string> text =
      ReadString(node, path, accepted, diag);
  if (!text) return std::nullopt;
  const auto it = std::find(choices.begin(), choices.end(), *text);
  if (it != choices.end()) return static_cast<size_t>(it - choices.begin());
  std::string problem = absl::StrCat("unknown value ", Quote(*text));
  if (const auto hint = ClosestMatch(*text, choices)) {
    absl::StrAppend(&problem, ", did you mean '", *hint, "'?");
  }
  diag.Add(node, path, problem, accepted);
  return std::nullopt;
}

// Calls read(element, element_path) for each element. An empty value counts
// as an empty list; false when the node is something else.
bool ForEachElement(const YAML::Node& node, const std::string& path,
                    absl::string_view accepted, Diagnostics& diag,
                    const ValueReader& read) {
  if (node.IsNull()) return true;
  if (!node.IsSequence()) {
    diag.Add(node, path, absl::StrCat("expected a list, got ", Describe(node)),
             accepted);
    return false;
  }
  size_t index = 0;
  for (const YAML::Node& element : node)
    read(element, IndexPath(path, index++));
  return true;
}

// Reads each key of a map with its Field; reports unknown and repeated keys.
// An empty value counts as an empty map when allow_empty.
SeenKeys WalkMap(const YAML::Node& map, const std::string& path,
                 std::span<const Field> fields, bool allow_empty,
                 Diagnostics& diag) {
  SeenKeys seen;
  if (allow_empty && map.IsNull()) return seen;
  if (!map.IsMap()) {
    diag.Add(map, path, absl::StrCat("expected a map, got ", Describe(map)),
             absl::StrCat("a map with keys ", KeyList(fields)));
    return seen;
  }
  for (const auto& entry : map) {
    const YAML::Node& key = entry.first;
    if (!key.IsScalar()) {
      diag.Add(key, path,
               absl::StrCat("expected a key name, got ", Describe(key)),
               KeyList(fields));
      continue;
    }
    const std::string key_path = JoinPath(path, key.Scalar());
    const auto field =
        std::find_if(fields.begin(), fields.end(),
                     [&](const Field& f) { return f.key == key.Scalar(); });
    if (field == fields.end()) {
      ReportUnknownKey(key, key_path, fields, diag);
      continue;
    }
    const auto [first, inserted] = seen.emplace(key.Scalar(), entry.second);
    if (!inserted) {
      diag.Add(key, key_path,
               absl::StrCat("key given twice (first at line ",
                            LineOf(first->second), ")"),
               "each key once");
      continue;
    }
    if (field->read) field->read(entry.second, key_path);
  }
  return seen;
}

// Records which path first used a name that must be unique; false (and a
// diagnostic) when `name` was already taken.
bool ClaimUnique(absl::flat_hash_map<std::string, std::string>& owners,
                 const std::string& name, const YAML::Node& where,
                 const std::string& path, absl::string_view what,
                 Diagnostics& diag) {
  const auto [owner, inserted] = owners.emplace(name, path);
  if (inserted) return true;
  diag.Add(where, path,
           absl::StrCat(Quote(name), " is already used by ", owner->second),
           absl::StrCat(what, " not used elsewhere"));
  return false;
}
std::optional<Ipv4Prefix> PrefixFromText(const std::string& text,
                                         const YAML::Node& node,
                                         const std::string& path,
                                         Diagnostics& diag) {
  if (const auto prefix = ParsePrefix(text)) return prefix;
  if (const auto with_host = ParseInterfaceAddress(text)) {
    diag.Add(node, path,
             absl::StrCat(text, " has host bits set (did you mean ",
                          ToString(with_host->subnet), "?)"),
             "ADDRESS/LEN with every bit after LEN zero, e.g. "
             "198.51.100.0/24");
    return std::nullopt;
  }
  diag.Add(node, path, absl::StrCat(Quote(text), " is not an IPv4 prefix"),
           kPrefixRule);
  return std::nullopt;
}

std::optional<Ipv4Prefix> ReadPrefix(const YAML::Node& node,
                                     const std::string& path,
                                     Diagnostics& diag) {
  const auto text = ReadString(node, path, kPrefixRule, diag);
  if (!text) return std::nullopt;
  return PrefixFromText(*text, node, path, diag);
}

std::optional<Ipv4Addr> ReadUnicastAddress(const YAML::Node& node,
                                           const std::string& path,
                                           absl::string_view what,
                                           Diagnostics& diag) {
  const auto text = ReadString(node, path, kAddressRule, diag);
  if (!text) return std::nullopt;
  const auto address = ParseIpv4(*text);
  if (!address) {
    diag.Add(node, path, absl::StrCat(Quote(*text), " is not an IPv4 address"),
             kAddressRule);
    return std::nullopt;
  }
  if (const auto reason = NotUnicastReason(*address)) {
    diag.Add(node, path, absl::StrCat(*text, " ", *reason),
             absl::StrCat("a unicast ", what, " address"));
    return std::nullopt;
  }
  return address;
}

}  // namespace isthmus::config_internal
