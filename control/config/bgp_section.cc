// The `bgp:` section: speaker settings, originated networks, routing policies
// and peers. Besides the value checks, it enforces what Azure Route Server
// (ARS) needs from us (see /work/shared/azure-route-server.md): 16-bit local
// ASN, no reserved ASN, a cap on what we advertise below the 4,000 routes at
// which ARS drops the session.

#include "control/config/bgp_section.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string_view>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "control/config/secret_file.h"

namespace isthmus::config_internal {
namespace {

using bgp::Asn;
using bgp::MaxPrefixAction;
using bgp::PeerConfig;
using bgp::PeerRole;
using bgp::Policy;
using bgp::PolicyActions;
using bgp::PolicyMatch;
using bgp::PolicyTerm;
using bgp::PrefixMatch;
using bgp::RouteKind;
using bgp::TermResult;

constexpr uint64_t kMaxAsn = 4294967295u;          // 4-octet ASNs, RFC 6793
constexpr uint64_t kMaxTwoOctetAsn = 65535;
constexpr uint32_t kMaxTcpPort = 65535;
constexpr uint32_t kMaxEcmpPaths = 16;             // FIB ECMP group width
constexpr uint32_t kMaxGracefulRestartTime = 4095;  // 12-bit field, RFC 4724 3
// The drain runs inside systemd's TimeoutStopSec=20 with up to 2 s for the
// peers' acknowledgement and 2 s for the Cease: 10 s leaves room for both.
constexpr uint32_t kMaxShutdownDrainMs = 10000;
constexpr uint32_t kMaxPrefixLen = 32;
constexpr size_t kMaxPrefixLenDigits = 2;
constexpr uint32_t kMaxAsPathLengthMatch = 1024;
constexpr uint32_t kMaxPrepend = 10;
constexpr uint32_t kMaxTtl = 255;
constexpr uint32_t kMinHoldTime = 3;          // RFC 4271 4.2: 0 or at least 3 s
constexpr uint32_t kMaxTimerSeconds = 65535;  // 16-bit fields in OPEN
constexpr uint32_t kKeepalivesPerHoldTime = 3;  // RFC 4271 10
constexpr uint32_t kMaxRestartAfter = 86400;
constexpr uint32_t kMaxPercent = 100;
constexpr uint32_t kMaxUint32 = 4294967295u;
constexpr size_t kMaxNameLen = 32;
constexpr size_t kMaxCommunityHalfDigits = 5;
constexpr uint32_t kCommunityHalfBits = 16;

// ARS sits in its own subnet, one routed hop away (Microsoft's FRR example
// uses ebgp-multihop 2).
constexpr uint32_t kRouteServerMultihop = 2;
// ARS tears the session down above 4,000 routes, counting the routes it
// holds plus those in the incoming UPDATE; half of that lets a full re-send
// through.
constexpr uint32_t kRouteServerRouteLimit = 4000;
constexpr uint32_t kRouteServerMaxAdvertised = 2000;
constexpr char kRouteServerGroup[] = "route-server";

constexpr absl::string_view kNameRule =
    "1 to 32 characters from a-z, 0-9, '_' and '-'";
constexpr absl::string_view kReservedAsnList =
    "any ASN except 0, 8074, 8075, 12076, 65515, 65517-65520 (Azure Route "
    "Server), 23456 (AS_TRANS, RFC 6793), 64496-64511 and 65536-65551 "
    "(documentation, RFC 5398), 65535 and 4294967295 (RFC 7300)";
constexpr absl::string_view kPrefixMatchRule =
    "PREFIX, 'PREFIX ge N', 'PREFIX le N', 'PREFIX ge N le M' or a map with "
    "keys prefix, ge, le; prefix length <= ge <= le <= 32";
constexpr absl::string_view kCommunityRule =
    "ASN:VALUE with both 0-65535 (e.g. 65010:100), a 32-bit integer, "
    "no-export, no-advertise, no-export-subconfed";

constexpr absl::string_view kRoleNames[] = {"peer", "route_server"};
constexpr PeerRole kRoles[] = {PeerRole::kPeer, PeerRole::kRouteServer};
constexpr absl::string_view kResultNames[] = {"accept", "reject", "continue"};
constexpr TermResult kResults[] = {TermResult::kAccept, TermResult::kReject,
                                   TermResult::kContinue};
constexpr absl::string_view kOriginNames[] = {"bgp", "static", "service_vip"};
constexpr RouteKind kOrigins[] = {RouteKind::kBgp, RouteKind::kStatic,
                                  RouteKind::kServiceVip};
constexpr absl::string_view kMaxPrefixActionNames[] = {"warn", "stop",
                                                       "restart"};
constexpr MaxPrefixAction kMaxPrefixActions[] = {
    MaxPrefixAction::kWarn, MaxPrefixAction::kStopAccepting,
    MaxPrefixAction::kRestart};
constexpr absl::string_view kShutdownModeNames[] = {"withdraw",
                                                    "graceful_shutdown"};
constexpr bgp::ShutdownMode kShutdownModes[] = {
    bgp::ShutdownMode::kWithdraw, bgp::ShutdownMode::kGracefulShutdown};
// Well-known communities, RFC 1997.
constexpr absl::string_view kCommunityNames[] = {"no-export", "no-advertise",
                                                 "no-export-subconfed"};
constexpr uint32_t kCommunityValues[] = {bgp::kCommunityNoExport,
                                         bgp::kCommunityNoAdvertise,
                                         bgp::kCommunityNoExportSubconfed};

// The value type of a field that may be optional.
template <typename T>
struct ValueOf {
  using type = T;
};
template <typename T>
struct ValueOf<std::optional<T>> {
  using type = T;
};

bool IsValidName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxNameLen) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

// "65010:100", "4294901761" or a well-known name; nullopt if none of these.
std::optional<uint32_t> ParseCommunity(absl::string_view text) {
  const std::vector<absl::string_view> halves = absl::StrSplit(text, ':');
  if (halves.size() == 2) {
    const auto high = ParseDecimal(halves[0], kMaxCommunityHalfDigits);
    const auto low = ParseDecimal(halves[1], kMaxCommunityHalfDigits);
    if (!high || !low || *high > kMaxTwoOctetAsn || *low > kMaxTwoOctetAsn) {
      return std::nullopt;
    }
    return static_cast<uint32_t>(*high << kCommunityHalfBits | *low);
  }
  if (const auto value = ParseDecimal(text, kMaxIntegerDigits)) {
    if (*value <= kMaxUint32) return static_cast<uint32_t>(*value);
    return std::nullopt;
  }
  const auto* it = std::find(std::begin(kCommunityNames),
                             std::end(kCommunityNames), text);
  if (it == std::end(kCommunityNames)) return std::nullopt;
  return kCommunityValues[it - std::begin(kCommunityNames)];
}

// A name used before the thing it names is read (policy match neighbours
// name peers), checked once everything is known.
struct PendingReference {
  YAML::Node node;
  std::string path;
  std::string name;
};

class BgpSectionParser {
 public:
  BgpSectionParser(Diagnostics& diag, bgp::BgpConfig* out)
      : diag_(diag), bgp_(*out) {}

  void Read(const YAML::Node& node, const std::string& path) {
    bgp_ = bgp::BgpConfig{};
    bgp_.enabled = true;
    const Field fields[] = {
        {"asn", nullptr},
        {"router_id",
         [&](const YAML::Node& v, const std::string& p) {
           if (auto a = ReadUnicastAddress(v, p, "router id", diag_)) {
             bgp_.router_id = *a;
           }
         }},
        UintField("listen_port", {0, kMaxTcpPort}, &bgp_.listen_port),
        {"listen_address",
         [&](const YAML::Node& v, const std::string& p) {
           bgp_.listen_address =
               ReadUnicastAddress(v, p, "local", diag_);
         }},
        BoolField("multipath", &bgp_.multipath),
        UintField("max_paths", {1, kMaxEcmpPaths}, &bgp_.max_paths),
        UintField("graceful_restart_time", {1, kMaxGracefulRestartTime},
                  &bgp_.graceful_restart_time_s),
        ChoiceField("shutdown_mode", kShutdownModeNames, kShutdownModes,
                    &bgp_.shutdown_mode),
        UintField("shutdown_drain_ms", {0, kMaxShutdownDrainMs},
                  &bgp_.shutdown_drain_ms),
        {"networks", nullptr},
        {"policies", nullptr},
        {"peers", nullptr},
    };
    const SeenKeys seen = WalkMap(node, path, fields, /*allow_empty=*/true,
                                  diag_);
    if (!node.IsNull() && !node.IsMap()) return;
    // Dependency order: peers name policies, policies name peers (checked
    // afterwards), and the local ASN's limits depend on the peers' roles.
    if (const auto it = seen.find("networks"); it != seen.end()) {
      ReadNetworks(it->second, JoinPath(path, "networks"));
    }
    if (const auto it = seen.find("policies"); it != seen.end()) {
      ReadPolicies(it->second, JoinPath(path, "policies"));
    }
    if (const auto it = seen.find("peers"); it != seen.end()) {
      ReadPeers(it->second, JoinPath(path, "peers"));
    }
    CheckNeighborReferences();
    CheckGroups();
    if (const auto it = seen.find("asn"); it != seen.end()) {
      ReadLocalAsn(it->second, JoinPath(path, "asn"));
    }
    const std::pair<absl::string_view, absl::string_view> required[] = {
        {"asn", "our ASN, 1-4294967295 except the reserved ones, e.g. 65010"},
        {"router_id", "a unicast IPv4 address, e.g. 198.18.0.1"}};
    for (const auto& [key, rule] : required) {
      if (!seen.contains(key)) {
        diag_.Add(node, JoinPath(path, key),
                  "missing required key when bgp is configured", rule);
      }
    }
  }

 private:
  template <typename T>
  Field UintField(absl::string_view key, UintRange range, T* out) {
    return {key, [this, range, out](const YAML::Node& v, const std::string& p) {
              if (const auto x = ReadUint(v, p, range, diag_)) {
                *out = static_cast<typename ValueOf<T>::type>(*x);
              }
            }};
  }

  Field BoolField(absl::string_view key, bool* out) {
    return {key, [this, out](const YAML::Node& v, const std::string& p) {
              if (const auto x = ReadBool(v, p, diag_)) *out = *x;
            }};
  }

  template <typename T, size_t N>
  Field ChoiceField(absl::string_view key,
                    const absl::string_view (&names)[N], const T (&values)[N],
                    T* out) {
    return {key, [this, &names, &values, out](const YAML::Node& v,
                                              const std::string& p) {
              if (const auto i = ReadChoice(v, p, names, diag_)) {
                *out = values[*i];
              }
            }};
  }

  // -------------------------------------------------------- ASNs

  // RFC 6793 4.2.1: AS_TRANS only stands in for a 4-byte ASN in 2-byte
  // fields; no speaker has it as its own.
  std::optional<Asn> ReadAsn(const YAML::Node& node, const std::string& path) {
    const auto asn = ReadUint(node, path, {1, kMaxAsn}, diag_);
    if (!asn) return std::nullopt;
    if (*asn == bgp::kAsTrans) {
      diag_.Add(node, path,
                "23456 is AS_TRANS, which only stands in for 4-byte ASNs in "
                "2-byte fields (RFC 6793)",
                "an ASN 1-4294967295 other than 23456");
      return std::nullopt;
    }
    return static_cast<Asn>(*asn);
  }

  void ReadLocalAsn(const YAML::Node& node, const std::string& path) {
    const auto asn = ReadUint(node, path, {0, kMaxAsn}, diag_);
    if (!asn) return;
    if (bgp::IsReservedAsn(static_cast<Asn>(*asn))) {
      diag_.Add(node, path,
                absl::StrCat(*asn, " is reserved and may not be used as our "
                                   "own ASN"),
                kReservedAsnList);
      return;
    }
    if (*asn > kMaxTwoOctetAsn) {
      const auto ars = std::find_if(
          bgp_.peers.begin(), bgp_.peers.end(), [](const PeerConfig& p) {
            return p.role == PeerRole::kRouteServer;
          });
      if (ars != bgp_.peers.end()) {
        diag_.Add(node, path,
                  absl::StrCat(*asn, " is a 4-byte ASN, but peer '", ars->name,
                               "' has role route_server and Azure Route "
                               "Server supports 16-bit ASNs only"),
                  "1-65535 (not reserved) when a route_server peer is "
                  "configured");
        return;
      }
    }
    bgp_.asn = static_cast<Asn>(*asn);
  }

  void ReadAsnList(const YAML::Node& node, const std::string& path,
                   std::vector<Asn>* out) {
    ForEachElement(node, path, "a list of ASNs 1-4294967295", diag_,
                   [&](const YAML::Node& v, const std::string& p) {
                     if (const auto asn = ReadAsn(v, p)) out->push_back(*asn);
                   });
  }

  // -------------------------------------------------------- networks

  void ReadNetworks(const YAML::Node& node, const std::string& path) {
    absl::flat_hash_map<std::string, std::string> owners;
    ForEachElement(node, path, "a list of prefixes", diag_,
                   [&](const YAML::Node& v, const std::string& p) {
                     const auto prefix = ReadPrefix(v, p, diag_);
                     if (prefix && ClaimUnique(owners, ToString(*prefix), v, p,
                                               "a network", diag_)) {
                       bgp_.networks.push_back({*prefix});
                     }
                   });
  }

  // -------------------------------------------------------- policies

  void ReadPolicies(const YAML::Node& node, const std::string& path) {
    ForEachElement(
        node, path, "a list of policies", diag_,
        [&](const YAML::Node& v, const std::string& p) { ReadPolicy(v, p); });
  }

  void ReadPolicy(const YAML::Node& node, const std::string& path) {
    Policy policy;
    const absl::string_view defaults[] = {"accept", "reject"};
    const TermResult default_values[] = {TermResult::kAccept,
                                         TermResult::kReject};
    const Field fields[] = {
        {"name",
         [&](const YAML::Node& v, const std::string& p) {
           ReadUniqueName(v, p, policy_owners_, "a policy name", &policy.name);
         }},
        {"terms",
         [&](const YAML::Node& v, const std::string& p) {
           ReadTerms(v, p, &policy.terms);
         }},
        ChoiceField("default", defaults, default_values,
                    &policy.default_result),
    };
    const SeenKeys seen =
        WalkMap(node, path, fields, /*allow_empty=*/false, diag_);
    if (!node.IsMap()) return;
    if (!seen.contains("name")) {
      diag_.Add(node, JoinPath(path, "name"), "missing required key",
                kNameRule);
    }
    bgp_.policies.push_back(std::move(policy));
  }

  bool ReadUniqueName(const YAML::Node& node, const std::string& path,
                      absl::flat_hash_map<std::string, std::string>& owners,
                      absl::string_view what, std::string* out) {
    const auto name = ReadString(node, path, kNameRule, diag_);
    if (!name) return false;
    if (!IsValidName(*name)) {
      diag_.Add(node, path, absl::StrCat(Quote(*name), " is not a valid name"),
                kNameRule);
      return false;
    }
    if (!ClaimUnique(owners, *name, node, path, what, diag_)) return false;
    *out = *name;
    return true;
  }

  void ReadTerms(const YAML::Node& node, const std::string& path,
                 std::vector<PolicyTerm>* out) {
    absl::flat_hash_map<std::string, std::string> owners;
    ForEachElement(node, path, "a list of terms", diag_,
                   [&](const YAML::Node& v, const std::string& p) {
                     ReadTerm(v, p, owners, out);
                   });
  }

  // A term without a name is called by its position, 1-based, so that a
  // log line "rejected by policy X term 2" can be found in the file.
  void ReadTerm(const YAML::Node& node, const std::string& path,
                absl::flat_hash_map<std::string, std::string>& owners,
                std::vector<PolicyTerm>* out) {
    PolicyTerm term;
    term.name = absl::StrCat(out->size() + 1);
    const Field fields[] = {
        {"name",
         [&](const YAML::Node& v, const std::string& p) {
           ReadUniqueName(v, p, owners, "a term name in this policy",
                          &term.name);
         }},
        {"match",
         [&](const YAML::Node& v, const std::string& p) {
           ReadMatch(v, p, &term.match);
         }},
        {"actions",
         [&](const YAML::Node& v, const std::string& p) {
           ReadActions(v, p, &term.actions);
         }},
        ChoiceField("result", kResultNames, kResults, &term.result),
    };
    WalkMap(node, path, fields, /*allow_empty=*/false, diag_);
    if (node.IsMap()) out->push_back(std::move(term));
  }

  void ReadMatch(const YAML::Node& node, const std::string& path,
                 PolicyMatch* match) {
    const Field fields[] = {
        {"prefixes",
         [&](const YAML::Node& v, const std::string& p) {
           ForEachElement(v, p, kPrefixMatchRule, diag_,
                          [&](const YAML::Node& e, const std::string& ep) {
                            if (auto m = ReadPrefixMatch(e, ep)) {
                              match->prefixes.push_back(*m);
                            }
                          });
         }},
        {"as_path_contains",
         [&](const YAML::Node& v, const std::string& p) {
           ReadAsnList(v, p, &match->as_path_contains);
         }},
        {"as_path_length",
         [&](const YAML::Node& v, const std::string& p) {
           ReadAsPathLength(v, p, match);
         }},
        {"communities",
         [&](const YAML::Node& v, const std::string& p) {
           ReadCommunities(v, p, &match->communities);
         }},
        {"neighbors",
         [&](const YAML::Node& v, const std::string& p) {
           ReadNeighbors(v, p, &match->neighbors);
         }},
        {"origins",
         [&](const YAML::Node& v, const std::string& p) {
           ForEachElement(v, p, "a list of bgp, static, service_vip", diag_,
                          [&](const YAML::Node& e, const std::string& ep) {
                            if (auto i = ReadChoice(e, ep, kOriginNames,
                                                    diag_)) {
                              match->origins.push_back(kOrigins[*i]);
                            }
                          });
         }},
    };
    WalkMap(node, path, fields, /*allow_empty=*/true, diag_);
  }

  std::optional<PrefixMatch> ReadPrefixMatch(const YAML::Node& node,
                                             const std::string& path) {
    std::optional<PrefixMatch> match;
    if (node.IsScalar()) {
      match = PrefixMatchFromText(node, path);
    } else if (node.IsMap()) {
      match = PrefixMatchFromMap(node, path);
    } else {
      diag_.Add(node, path,
                absl::StrCat("expected a string or a map, got ",
                             Describe(node)),
                kPrefixMatchRule);
    }
    if (match && !CheckPrefixMatchRange(*match, node, path)) return std::nullopt;
    return match;
  }

  // "198.51.100.0/24", "198.51.100.0/24 le 32", "... ge 25 le 28".
  std::optional<PrefixMatch> PrefixMatchFromText(const YAML::Node& node,
                                                 const std::string& path) {
    const std::vector<absl::string_view> words =
        absl::StrSplit(node.Scalar(), ' ', absl::SkipEmpty());
    const auto bad = [&]() -> std::optional<PrefixMatch> {
      diag_.Add(node, path,
                absl::StrCat(Quote(node.Scalar()), " is not a prefix match"),
                kPrefixMatchRule);
      return std::nullopt;
    };
    if (words.empty() || words.size() % 2 == 0) return bad();
    PrefixMatch match;
    for (size_t i = 1; i < words.size(); i += 2) {
      const auto len = ParseDecimal(words[i + 1], kMaxPrefixLenDigits);
      if (!len || *len > kMaxPrefixLen) return bad();
      const uint8_t value = static_cast<uint8_t>(*len);
      if (words[i] == "ge" && !match.ge && !match.le) {
        match.ge = value;
      } else if (words[i] == "le" && !match.le) {
        match.le = value;
      } else {
        return bad();
      }
    }
    const auto prefix =
        PrefixFromText(std::string(words[0]), node, path, diag_);
    if (!prefix) return std::nullopt;
    match.prefix = *prefix;
    return match;
  }

  std::optional<PrefixMatch> PrefixMatchFromMap(const YAML::Node& node,
                                                const std::string& path) {
    PrefixMatch match;
    bool ok = true;
    const auto length = [&](std::optional<uint8_t>* out) {
      return [&, out](const YAML::Node& v, const std::string& p) {
        const auto x = ReadUint(v, p, {0, kMaxPrefixLen}, diag_);
        ok = ok && x.has_value();
        if (x) *out = static_cast<uint8_t>(*x);
      };
    };
    const Field fields[] = {
        {"prefix",
         [&](const YAML::Node& v, const std::string& p) {
           const auto prefix = ReadPrefix(v, p, diag_);
           ok = ok && prefix.has_value();
           if (prefix) match.prefix = *prefix;
         }},
        {"ge", length(&match.ge)},
        {"le", length(&match.le)},
    };
    const SeenKeys seen =
        WalkMap(node, path, fields, /*allow_empty=*/false, diag_);
    if (!seen.contains("prefix")) {
      diag_.Add(node, JoinPath(path, "prefix"), "missing required key",
                kPrefixRule);
      return std::nullopt;
    }
    if (!ok || seen.size() != node.size()) return std::nullopt;
    return match;
  }

  // prefix length <= ge <= le <= 32, as in route-map prefix lists.
  bool CheckPrefixMatchRange(const PrefixMatch& m, const YAML::Node& node,
                             const std::string& path) {
    const uint8_t ge = m.ge.value_or(m.prefix.len);
    std::string problem;
    if (ge < m.prefix.len) {
      problem = absl::StrCat("ge ", ge, " is less than the prefix length ",
                             m.prefix.len);
    } else if (m.le && *m.le < ge) {
      problem = m.ge ? absl::StrCat("le ", *m.le, " is less than ge ", ge)
                     : absl::StrCat("le ", *m.le,
                                    " is less than the prefix length ", ge);
    }
    if (problem.empty()) return true;
    diag_.Add(node, path, problem, "prefix length <= ge <= le <= 32");
    return false;
  }

  void ReadAsPathLength(const YAML::Node& node, const std::string& path,
                        PolicyMatch* match) {
    const Field fields[] = {
        UintField("ge", {0, kMaxAsPathLengthMatch}, &match->as_path_length_ge),
        UintField("le", {0, kMaxAsPathLengthMatch}, &match->as_path_length_le),
    };
    WalkMap(node, path, fields, /*allow_empty=*/false, diag_);
    if (match->as_path_length_ge && match->as_path_length_le &&
        *match->as_path_length_ge > *match->as_path_length_le) {
      diag_.Add(node, path,
                absl::StrCat("ge ", *match->as_path_length_ge,
                             " is more than le ", *match->as_path_length_le),
                "ge <= le");
    }
  }

  void ReadCommunities(const YAML::Node& node, const std::string& path,
                       std::vector<uint32_t>* out) {
    ForEachElement(node, path, kCommunityRule, diag_,
                   [&](const YAML::Node& v, const std::string& p) {
                     if (const auto c = ReadCommunity(v, p)) out->push_back(*c);
                   });
  }

  std::optional<uint32_t> ReadCommunity(const YAML::Node& node,
                                        const std::string& path) {
    const auto text = ReadString(node, path, kCommunityRule, diag_);
    if (!text) return std::nullopt;
    if (const auto value = ParseCommunity(*text)) return value;
    std::string problem =
        absl::StrCat(Quote(*text), " is not a BGP community (RFC 1997)");
    if (const auto hint = ClosestMatch(*text, kCommunityNames)) {
      absl::StrAppend(&problem, ", did you mean '", *hint, "'?");
    }
    diag_.Add(node, path, problem, kCommunityRule);
    return std::nullopt;
  }

  void ReadNeighbors(const YAML::Node& node, const std::string& path,
                     std::vector<std::string>* out) {
    ForEachElement(node, path, "a list of peer names", diag_,
                   [&](const YAML::Node& v, const std::string& p) {
                     auto name = ReadString(v, p, "a peer name", diag_);
                     if (!name) return;
                     pending_neighbors_.push_back({v, p, *name});
                     out->push_back(std::move(*name));
                   });
  }

  void CheckNeighborReferences() {
    for (const PendingReference& ref : pending_neighbors_) {
      CheckReference(ref.node, ref.path, ref.name, peer_owners_, "peer");
    }
  }

  // `what` names a key in `owners` ("policy", "peer"); suggests the closest.
  bool CheckReference(
      const YAML::Node& node, const std::string& path,
      const std::string& name,
      const absl::flat_hash_map<std::string, std::string>& owners,
      absl::string_view what) {
    if (owners.contains(name)) return true;
    std::vector<absl::string_view> names;
    for (const auto& [known, owner] : owners) names.push_back(known);
    std::sort(names.begin(), names.end());
    const std::string accepted =
        names.empty() ? absl::StrCat("the name of a configured ", what)
                      : absl::StrJoin(names, ", ");
    std::string problem = absl::StrCat("no ", what, " named ", Quote(name));
    if (const auto hint = ClosestMatch(name, names)) {
      absl::StrAppend(&problem, ", did you mean '", *hint, "'?");
    }
    diag_.Add(node, path, problem, accepted);
    return false;
  }

  void ReadActions(const YAML::Node& node, const std::string& path,
                   PolicyActions* actions) {
    const Field fields[] = {
        {"as_path_exclude",
         [&](const YAML::Node& v, const std::string& p) {
           ReadAsnList(v, p, &actions->as_path_exclude);
         }},
        BoolField("as_override", &actions->as_override),
        UintField("prepend", {0, kMaxPrepend}, &actions->prepend),
        BoolField("next_hop_self", &actions->next_hop_self),
        UintField("local_pref", {0, kMaxUint32}, &actions->local_pref),
        UintField("med", {0, kMaxUint32}, &actions->med),
        {"add_communities",
         [&](const YAML::Node& v, const std::string& p) {
           ReadCommunities(v, p, &actions->add_communities);
         }},
        BoolField("clear_communities", &actions->clear_communities),
    };
    WalkMap(node, path, fields, /*allow_empty=*/true, diag_);
  }

  // -------------------------------------------------------- peers

  void ReadPeers(const YAML::Node& node, const std::string& path) {
    if (node.IsSequence() && node.size() > bgp::kMaxPeers) {
      diag_.Add(node, path, absl::StrCat(node.size(), " peers"),
                absl::StrCat("at most ", bgp::kMaxPeers,
                             " peers (the punt class control tracks each peer's address)"));
      return;
    }
    ForEachElement(node, path, "a list of peers", diag_,
                   [&](const YAML::Node& v, const std::string& p) {
                     ReadPeer(v, p);
                   });
  }

  void ReadPeer(const YAML::Node& node, const std::string& path) {
    PeerConfig peer;
    const Field fields[] = {
        {"name",
         [&](const YAML::Node& v, const std::string& p) {
           ReadUniqueName(v, p, peer_owners_, "a peer name", &peer.name);
         }},
        {"address",
         [&](const YAML::Node& v, const std::string& p) {
           const auto a = ReadUnicastAddress(v, p, "peer", diag_);
           if (a && ClaimUnique(address_owners_, ToString(*a), v, p,
                                "a peer address", diag_)) {
             peer.address = *a;
           }
         }},
        {"remote_as",
         [&](const YAML::Node& v, const std::string& p) {
           if (const auto asn = ReadAsn(v, p)) peer.remote_as = *asn;
         }},
        ChoiceField("role", kRoleNames, kRoles, &peer.role),
        {"group",
         [&](const YAML::Node& v, const std::string& p) {
           ReadGroupName(v, p, &peer.group);
         }},
        {"description",
         [&](const YAML::Node& v, const std::string& p) {
           if (auto d = ReadString(v, p, "a string", diag_)) {
             peer.description = std::move(*d);
           }
         }},
        {"source",
         [&](const YAML::Node& v, const std::string& p) {
           peer.source = ReadUnicastAddress(v, p, "local", diag_);
         }},
        BoolField("passive", &peer.passive),
        UintField("multihop", {1, kMaxTtl}, &peer.multihop_ttl),
        BoolField("gtsm", &peer.gtsm),
        {"tcp_md5_key_file",
         [&](const YAML::Node& v, const std::string& p) {
           ReadTcpMd5KeyFile(v, p, &peer);
         }},
        {"hold_time", nullptr},
        {"keepalive", nullptr},
        UintField("connect_retry", {1, kMaxTimerSeconds},
                  &peer.connect_retry_s),
        {"import",
         [&](const YAML::Node& v, const std::string& p) {
           ReadPolicyNames(v, p, &peer.import_policies);
         }},
        {"export",
         [&](const YAML::Node& v, const std::string& p) {
           ReadPolicyNames(v, p, &peer.export_policies);
         }},
        {"max_prefix",
         [&](const YAML::Node& v, const std::string& p) {
           ReadMaxPrefix(v, p, &peer.max_prefix);
         }},
        UintField("max_advertised", {1, kMaxUint32}, &peer.max_advertised),
        BoolField("graceful_restart", &peer.graceful_restart),
        UintField("port", {1, kMaxTcpPort}, &peer.port),
    };
    const SeenKeys seen =
        WalkMap(node, path, fields, /*allow_empty=*/false, diag_);
    if (!node.IsMap()) return;
    RequireKeys(seen, node, path);
    ApplyRoleDefaults(seen, &peer);
    ReadTimers(seen, path, &peer);
    CheckGtsm(seen, path, peer);
    CheckMaxAdvertised(seen, path, peer);
    bgp_.peers.push_back(std::move(peer));
    peer_nodes_.push_back({node, path, bgp_.peers.back().name});
  }

  // RFC 2385: the password lives in a file of its own (mode 0600 or 0400,
  // owned by root or the daemon's user) so that the main configuration
  // holds no secret. Read here, so a bad file refuses the load or reload.
  void ReadTcpMd5KeyFile(const YAML::Node& node, const std::string& path,
                         PeerConfig* peer) {
    constexpr absl::string_view kRule =
        "an absolute path to a regular file of mode 0600 or 0400, owned by "
        "root or the daemon's user, holding the password (1-80 bytes; one "
        "trailing newline is ignored)";
    constexpr char kWhat[] = "TCP-MD5 key file";
    // The password plus a "\r\n" that an editor may have added.
    constexpr size_t kMaxFileBytes = bgp::kTcpMd5MaxPasswordLen + 2;
    const auto file = ReadString(node, path, kRule, diag_);
    if (!file) return;
    if (file->empty() || file->front() != '/') {
      diag_.Add(node, path, absl::StrCat(Quote(*file), " is not an absolute path"), kRule);
      return;
    }
    absl::StatusOr<SecretBytes> text = ReadSecretFile(*file, kWhat, kMaxFileBytes);
    if (!text.ok()) {
      diag_.Add(node, path, text.status().message(), kRule);
      return;
    }
    std::string_view password = text->view();
    if (!password.empty() && password.back() == '\n') {
      password.remove_suffix(1);
      if (!password.empty() && password.back() == '\r') password.remove_suffix(1);
    }
    // Lengths only: the message must not carry any byte of the password.
    if (password.empty() || password.size() > bgp::kTcpMd5MaxPasswordLen) {
      diag_.Add(node, path,
                absl::StrCat(kWhat, " ", *file, " holds a password of ", password.size(),
                             " bytes"),
                kRule);
      return;
    }
    absl::StatusOr<SecretBytes> bytes = SecretBytes::Copy(password);
    if (!bytes.ok()) {
      diag_.Add(node, path, bytes.status().message(), kRule);
      return;
    }
    peer->tcp_md5_key_file = *file;
    peer->tcp_md5.bytes = std::make_shared<const SecretBytes>(*std::move(bytes));
  }

  void RequireKeys(const SeenKeys& seen, const YAML::Node& node,
                   const std::string& path) {
    const std::pair<absl::string_view, absl::string_view> required[] = {
        {"name", kNameRule},
        {"address", kAddressRule},
        {"remote_as", "an ASN 1-4294967295"}};
    for (const auto& [key, rule] : required) {
      if (!seen.contains(key)) {
        diag_.Add(node, JoinPath(path, key), "missing required key", rule);
      }
    }
  }

  void ReadGroupName(const YAML::Node& node, const std::string& path,
                     std::string* out) {
    const auto name = ReadString(node, path, kNameRule, diag_);
    if (!name) return;
    if (!IsValidName(*name)) {
      diag_.Add(node, path, absl::StrCat(Quote(*name), " is not a valid name"),
                kNameRule);
      return;
    }
    *out = *name;
  }

  // Both Route Server instances must receive identical advertisements, so
  // they share a group unless told otherwise; ARS is one hop away and
  // accepts at most 4,000 routes.
  static void ApplyRoleDefaults(const SeenKeys& seen, PeerConfig* peer) {
    if (peer->role != PeerRole::kRouteServer) return;
    if (!seen.contains("group")) peer->group = kRouteServerGroup;
    if (!seen.contains("multihop")) peer->multihop_ttl = kRouteServerMultihop;
    if (!seen.contains("max_advertised")) {
      peer->max_advertised = kRouteServerMaxAdvertised;
    }
  }

  // RFC 4271 4.2: the hold time is 0 (no keepalives) or at least 3 s; 10:
  // keepalives every third of it. A keepalive not given follows the hold
  // time.
  void ReadTimers(const SeenKeys& seen, const std::string& path,
                  PeerConfig* peer) {
    constexpr absl::string_view kHoldRule =
        "0 (no keepalives) or 3-65535 seconds (RFC 4271 4.2)";
    bool hold_ok = true;
    if (const auto it = seen.find("hold_time"); it != seen.end()) {
      const std::string p = JoinPath(path, "hold_time");
      const auto hold = ReadUint(it->second, p, {0, kMaxTimerSeconds}, diag_);
      hold_ok = hold.has_value() && (*hold == 0 || *hold >= kMinHoldTime);
      if (hold && !hold_ok) {
        diag_.Add(it->second, p, absl::StrCat(*hold, " is not a hold time"),
                  kHoldRule);
      }
      if (hold_ok) {
        peer->hold_time_s = static_cast<uint16_t>(*hold);
        peer->keepalive_s =
            static_cast<uint16_t>(*hold / kKeepalivesPerHoldTime);
      }
    }
    const auto it = seen.find("keepalive");
    if (it == seen.end()) return;
    const std::string p = JoinPath(path, "keepalive");
    const auto keepalive =
        ReadUint(it->second, p, {0, kMaxTimerSeconds}, diag_);
    if (!keepalive || !hold_ok) return;
    const uint32_t max = peer->hold_time_s / kKeepalivesPerHoldTime;
    if (peer->hold_time_s != 0 && (*keepalive == 0 || *keepalive > max)) {
      diag_.Add(it->second, p,
                absl::StrCat(*keepalive, " does not fit hold_time ",
                             peer->hold_time_s),
                absl::StrCat("1 to a third of hold_time, here 1-", max,
                             " seconds (RFC 4271 10)"));
      return;
    }
    peer->keepalive_s = static_cast<uint16_t>(*keepalive);
  }

  // RFC 5082 expects TTL 255 on arrival, i.e. a directly connected peer;
  // with multihop the check would drop every packet.
  void CheckGtsm(const SeenKeys& seen, const std::string& path,
                 const PeerConfig& peer) {
    if (!peer.gtsm || peer.multihop_ttl <= 1) return;
    const std::string multihop =
        seen.contains("multihop")
            ? absl::StrCat("multihop ", peer.multihop_ttl)
            : absl::StrCat("multihop ", peer.multihop_ttl,
                           " (the route_server default)");
    diag_.Add(seen.at("gtsm"), JoinPath(path, "gtsm"),
              absl::StrCat("gtsm: true together with ", multihop),
              "gtsm only with multihop 1: GTSM (RFC 5082) expects directly "
              "connected peers");
  }

  void CheckMaxAdvertised(const SeenKeys& seen, const std::string& path,
                          const PeerConfig& peer) {
    if (peer.role != PeerRole::kRouteServer ||
        peer.max_advertised <= kRouteServerRouteLimit) {
      return;
    }
    diag_.Add(seen.at("max_advertised"), JoinPath(path, "max_advertised"),
              absl::StrCat(peer.max_advertised,
                           " is more than Azure Route Server accepts: it drops "
                           "the session above 4000 routes, counting the "
                           "routes it holds plus those in each UPDATE"),
              "1-4000 for role route_server, default 2000 so that a full "
              "re-send stays under the limit");
  }

  void ReadPolicyNames(const YAML::Node& node, const std::string& path,
                       std::vector<std::string>* out) {
    absl::flat_hash_map<std::string, std::string> owners;
    ForEachElement(node, path, "a list of policy names", diag_,
                   [&](const YAML::Node& v, const std::string& p) {
                     auto name = ReadString(v, p, "a policy name", diag_);
                     if (!name ||
                         !CheckReference(v, p, *name, policy_owners_,
                                         "policy") ||
                         !ClaimUnique(owners, *name, v, p,
                                      "a policy once per list", diag_)) {
                       return;
                     }
                     out->push_back(std::move(*name));
                   });
  }

  void ReadMaxPrefix(const YAML::Node& node, const std::string& path,
                     bgp::MaxPrefix* out) {
    bool action_ok = true;
    const Field fields[] = {
        UintField("limit", {1, kMaxUint32}, &out->limit),
        {"action",
         [&](const YAML::Node& v, const std::string& p) {
           const auto i = ReadChoice(v, p, kMaxPrefixActionNames, diag_);
           action_ok = i.has_value();
           if (i) out->action = kMaxPrefixActions[*i];
         }},
        UintField("restart_after", {1, kMaxRestartAfter},
                  &out->restart_after_s),
        UintField("warn_percent", {1, kMaxPercent}, &out->warn_percent),
    };
    const SeenKeys seen =
        WalkMap(node, path, fields, /*allow_empty=*/false, diag_);
    if (!node.IsMap()) return;
    if (!seen.contains("limit")) {
      diag_.Add(node, JoinPath(path, "limit"), "missing required key",
                "1-4294967295 prefixes accepted from the peer");
    }
    if (action_ok && out->action != MaxPrefixAction::kRestart &&
        seen.contains("restart_after")) {
      diag_.Add(seen.at("restart_after"), JoinPath(path, "restart_after"),
                "only applies with action: restart",
                "restart_after together with action: restart");
    }
  }

  // A group's advertisements are computed once and sent to every member,
  // so what shapes them must be the same for all members.
  void CheckGroups() {
    absl::flat_hash_map<std::string, size_t> first_member;
    for (size_t i = 0; i < bgp_.peers.size(); ++i) {
      const PeerConfig& peer = bgp_.peers[i];
      if (peer.group.empty()) continue;
      const auto [it, inserted] = first_member.emplace(peer.group, i);
      if (inserted) continue;
      const PeerConfig& first = bgp_.peers[it->second];
      std::vector<absl::string_view> differing;
      if (peer.remote_as != first.remote_as) differing.push_back("remote_as");
      if (peer.export_policies != first.export_policies) {
        differing.push_back("export");
      }
      if (peer.max_advertised != first.max_advertised) {
        differing.push_back("max_advertised");
      }
      if (differing.empty()) continue;
      diag_.Add(peer_nodes_[i].node, peer_nodes_[i].path,
                absl::StrCat("differs from ", peer_nodes_[it->second].path,
                             " ('", first.name, "') in ",
                             absl::StrJoin(differing, ", "), " but both are in group '",
                             peer.group, "'"),
                "the same remote_as, export and max_advertised for every "
                "peer of a group, which all receive identical "
                "advertisements");
    }
  }

  Diagnostics& diag_;
  bgp::BgpConfig& bgp_;
  absl::flat_hash_map<std::string, std::string> policy_owners_;
  absl::flat_hash_map<std::string, std::string> peer_owners_;
  absl::flat_hash_map<std::string, std::string> address_owners_;
  std::vector<PendingReference> pending_neighbors_;
  std::vector<PendingReference> peer_nodes_;  // parallel to bgp_.peers
};

}  // namespace

void ReadBgpSection(const YAML::Node& node, const std::string& path,
                    Diagnostics& diag, bgp::BgpConfig* out) {
  BgpSectionParser(diag, out).Read(node, path);
}

}  // namespace isthmus::config_internal
