#pragma once
// AS_PATH rewrites used by policy actions and the eBGP export transform.
// Pure functions on values; segment limits follow RFC 4271 4.3 (a segment
// holds at most 255 ASNs).

#include <cstddef>
#include <cstdint>

#include "bgp/core/types.h"

namespace isthmus::bgp {

inline constexpr size_t kMaxSegmentAsns = 255;

// Removes every occurrence of `asn` from every segment, drops segments left
// empty and joins AS_SEQUENCEs that became adjacent. Returns how many ASNs
// were removed.
size_t ExcludeAsn(AsPath& path, Asn asn);

// Replaces every occurrence of `from` by `to` (as-override). Returns the
// number of replacements.
size_t ReplaceAsn(AsPath& path, Asn from, Asn to);

// Puts `count` copies of `asn` in front of the path (RFC 4271 5.1.2),
// opening a new AS_SEQUENCE when the path starts with an AS_SET or the first
// sequence is full.
void PrependAsn(AsPath& path, Asn asn, uint32_t count);

// Drops AS_CONFED_SEQUENCE / AS_CONFED_SET segments, which must not leave
// the confederation (RFC 5065 5.3).
void RemoveConfedSegments(AsPath& path);

}  // namespace isthmus::bgp
