#pragma once
// The conditions of a policy term. Every condition given must hold (AND);
// within one list any entry may match (OR); an empty match matches all.

#include "bgp/config/bgp_config.h"
#include "bgp/core/types.h"
#include "bgp/policy/policy_context.h"
#include "control/config/config.h"

namespace isthmus::bgp {

inline constexpr uint8_t kMaxIpv4PrefixLength = 32;

// `route` lies inside `entry.prefix` and its length is within [ge, le];
// ge defaults to the entry's own length and le to ge (so a bare prefix is
// an exact match and "ge: 24" alone means exactly /24).
bool PrefixMatches(const PrefixMatch& entry, const Ipv4Prefix& route);

bool TermMatches(const PolicyMatch& match, const Ipv4Prefix& prefix, const PathAttributes& attrs,
                 const PolicyContext& ctx);

}  // namespace isthmus::bgp
