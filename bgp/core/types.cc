#include "bgp/core/types.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace isthmus::bgp {

size_t AsPath::Length() const {
  size_t length = 0;
  for (const AsPathSegment& s : segments) {
    if (s.type == AsPathSegment::Type::kSequence) length += s.asns.size();
    if (s.type == AsPathSegment::Type::kSet) length += 1;
  }
  return length;
}

bool AsPath::Contains(Asn asn) const {
  for (const AsPathSegment& s : segments) {
    for (Asn a : s.asns) {
      if (a == asn) return true;
    }
  }
  return false;
}

Asn AsPath::FirstAsn() const {
  for (const AsPathSegment& s : segments) {
    if (s.type == AsPathSegment::Type::kSequence && !s.asns.empty()) return s.asns.front();
    if (s.type == AsPathSegment::Type::kSet) return 0;
  }
  return 0;
}

std::string AsPath::ToString() const {
  std::vector<std::string> parts;
  for (const AsPathSegment& s : segments) {
    switch (s.type) {
      case AsPathSegment::Type::kSequence:
        parts.push_back(absl::StrJoin(s.asns, " "));
        break;
      case AsPathSegment::Type::kSet:
        parts.push_back(absl::StrCat("{", absl::StrJoin(s.asns, ","), "}"));
        break;
      case AsPathSegment::Type::kConfedSequence:
        parts.push_back(absl::StrCat("(", absl::StrJoin(s.asns, " "), ")"));
        break;
      case AsPathSegment::Type::kConfedSet:
        parts.push_back(absl::StrCat("[", absl::StrJoin(s.asns, ","), "]"));
        break;
    }
  }
  return absl::StrJoin(parts, " ");
}

}  // namespace isthmus::bgp
