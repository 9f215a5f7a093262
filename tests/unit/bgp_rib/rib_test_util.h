#pragma once
// Small builders shared by the RIB tests.

#include <optional>
#include <string>
#include <vector>

#include "bgp/core/types.h"
#include "control/config/config.h"

namespace isthmus::bgp::testing {

inline Ipv4Addr Addr(const std::string& text) { return ParseIpv4(text).value(); }
inline Ipv4Prefix Pfx(const std::string& text) { return ParsePrefix(text).value(); }

// Attributes with an AS_SEQUENCE path; `set` adds a trailing AS_SET.
struct AttrSpec {
  std::vector<Asn> path;
  std::vector<Asn> set;
  Origin origin = Origin::kIgp;
  std::optional<uint32_t> med;
  std::optional<uint32_t> local_pref;
  std::string next_hop = "192.0.2.1";
};

inline PathAttributes MakeAttrs(const AttrSpec& spec) {
  PathAttributes a;
  a.origin = spec.origin;
  if (!spec.path.empty()) {
    a.as_path.segments.push_back({AsPathSegment::Type::kSequence, spec.path});
  }
  if (!spec.set.empty()) a.as_path.segments.push_back({AsPathSegment::Type::kSet, spec.set});
  a.next_hop = Addr(spec.next_hop);
  a.med = spec.med;
  a.local_pref = spec.local_pref;
  return a;
}

inline AttributesPtr MakePtr(const AttrSpec& spec) {
  return std::make_shared<const PathAttributes>(MakeAttrs(spec));
}

}  // namespace isthmus::bgp::testing
