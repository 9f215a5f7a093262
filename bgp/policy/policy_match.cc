#include "bgp/policy/policy_match.h"

#include <algorithm>
#include <string>

namespace isthmus::bgp {
namespace {

template <typename List, typename Pred>
bool AnyOrEmpty(const List& list, Pred pred) {
  return list.empty() || std::any_of(list.begin(), list.end(), pred);
}

bool PrefixListMatches(const PolicyMatch& match, const Ipv4Prefix& prefix) {
  return AnyOrEmpty(match.prefixes, [&](const PrefixMatch& e) { return PrefixMatches(e, prefix); });
}

bool AsPathMatches(const PolicyMatch& match, const AsPath& path) {
  if (!AnyOrEmpty(match.as_path_contains, [&](Asn asn) { return path.Contains(asn); })) return false;
  const size_t length = path.Length();
  if (match.as_path_length_ge && length < *match.as_path_length_ge) return false;
  if (match.as_path_length_le && length > *match.as_path_length_le) return false;
  return true;
}

bool CommunitiesMatch(const PolicyMatch& match, const PathAttributes& attrs) {
  return AnyOrEmpty(match.communities, [&](uint32_t c) {
    // Linear: a route carries a handful of communities, and a decoder may
    // hand them over unsorted.
    return std::find(attrs.communities.begin(), attrs.communities.end(), c) != attrs.communities.end();
  });
}

bool NeighborMatches(const PolicyMatch& match, const PolicyContext& ctx) {
  if (match.neighbors.empty()) return true;
  if (ctx.peer == nullptr) return false;
  return std::find(match.neighbors.begin(), match.neighbors.end(), ctx.peer->name) != match.neighbors.end();
}

bool OriginMatches(const PolicyMatch& match, const PolicyContext& ctx) {
  return AnyOrEmpty(match.origins, [&](RouteKind k) { return k == ctx.kind; });
}

}  // namespace

bool PrefixMatches(const PrefixMatch& entry, const Ipv4Prefix& route) {
  if (route.len < entry.prefix.len || !entry.prefix.Contains(route.addr)) return false;
  // As in prefix lists everywhere (FRR, IOS, Junos "upto"): no ge/le matches
  // the exact length; `ge` alone reaches up to /32; `le` alone starts at the
  // prefix's own length.
  const uint8_t ge = entry.ge.value_or(entry.prefix.len);
  const uint8_t le = entry.le.value_or(entry.ge ? kMaxIpv4PrefixLength : ge);
  return route.len >= ge && route.len <= le;
}

bool TermMatches(const PolicyMatch& match, const Ipv4Prefix& prefix, const PathAttributes& attrs,
                 const PolicyContext& ctx) {
  return PrefixListMatches(match, prefix) && AsPathMatches(match, attrs.as_path) &&
         CommunitiesMatch(match, attrs) && NeighborMatches(match, ctx) && OriginMatches(match, ctx);
}

}  // namespace isthmus::bgp
