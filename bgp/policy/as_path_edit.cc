#include "bgp/policy/as_path_edit.h"

#include <algorithm>
#include <iterator>
#include <utility>
#include <vector>

namespace isthmus::bgp {
namespace {

using SegmentType = AsPathSegment::Type;

// Joins neighbouring AS_SEQUENCEs while they fit one segment, so a path
// such as "1 {65515} 2" becomes "1 2" rather than two sequences.
void JoinAdjacentSequences(AsPath& path) {
  std::vector<AsPathSegment> joined;
  for (AsPathSegment& segment : path.segments) {
    if (!joined.empty() && joined.back().type == SegmentType::kSequence &&
        segment.type == SegmentType::kSequence &&
        joined.back().asns.size() + segment.asns.size() <= kMaxSegmentAsns) {
      std::vector<Asn>& tail = joined.back().asns;
      tail.insert(tail.end(), segment.asns.begin(), segment.asns.end());
      continue;
    }
    joined.push_back(std::move(segment));
  }
  path.segments = std::move(joined);
}

}  // namespace

size_t ExcludeAsn(AsPath& path, Asn asn) {
  size_t removed = 0;
  for (AsPathSegment& segment : path.segments) {
    const auto tail = std::remove(segment.asns.begin(), segment.asns.end(), asn);
    removed += static_cast<size_t>(std::distance(tail, segment.asns.end()));
    segment.asns.erase(tail, segment.asns.end());
  }
  if (removed == 0) return 0;
  std::erase_if(path.segments, [](const AsPathSegment& s) { return s.asns.empty(); });
  JoinAdjacentSequences(path);
  return removed;
}

size_t ReplaceAsn(AsPath& path, Asn from, Asn to) {
  size_t replaced = 0;
  for (AsPathSegment& segment : path.segments) {
    for (Asn& asn : segment.asns) {
      if (asn == from) {
        asn = to;
        ++replaced;
      }
    }
  }
  return replaced;
}

void PrependAsn(AsPath& path, Asn asn, uint32_t count) {
  while (count > 0) {
    const bool reuse_first = !path.segments.empty() &&
                             path.segments.front().type == SegmentType::kSequence &&
                             path.segments.front().asns.size() < kMaxSegmentAsns;
    if (!reuse_first) {
      path.segments.insert(path.segments.begin(), AsPathSegment{SegmentType::kSequence, {}});
    }
    std::vector<Asn>& first = path.segments.front().asns;
    const size_t room = kMaxSegmentAsns - first.size();
    const size_t batch = std::min<size_t>(room, count);
    first.insert(first.begin(), batch, asn);
    count -= static_cast<uint32_t>(batch);
  }
}

void RemoveConfedSegments(AsPath& path) {
  std::erase_if(path.segments, [](const AsPathSegment& s) {
    return s.type == SegmentType::kConfedSequence || s.type == SegmentType::kConfedSet;
  });
}

}  // namespace isthmus::bgp
