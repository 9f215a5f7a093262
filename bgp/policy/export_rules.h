#pragma once
// The export rules that hold whatever the configured policy says
// (RFC 4271 5.1 and 9.1.3, RFC 1997), split in two so the policy runs in
// between:
//   1. CheckExportBeforePolicy: the route may not be offered to this peer at
//      all (well-known communities, Route Server echo).
//   2. policy actions (exclude / override / communities / MED / local-pref)
//   3. CheckExportAfterPolicy: AS-path loop prevention on the rewritten path.
//   4. PrepareExport: the standard eBGP/iBGP transform (prepend our AS
//      1 + prepend times, next hop, LOCAL_PREF and MED handling).

#include "absl/status/status.h"
#include "bgp/config/bgp_config.h"
#include "bgp/core/types.h"
#include "bgp/policy/policy_context.h"

namespace isthmus::bgp {

// RFC 4271 5.1.5: LOCAL_PREF a speaker sends to iBGP peers when the route
// has none (the usual default, also the decision process default).
inline constexpr uint32_t kDefaultLocalPref = 100;
// Upper bound for the prepend action, and for the total a chain may add.
inline constexpr uint32_t kMaxPrepend = 10;   // the config loader's bound too

// FailedPrecondition with the reason when the route must not be sent to
// ctx.peer: NO_ADVERTISE (any peer), NO_EXPORT / NO_EXPORT_SUBCONFED (eBGP
// peers; we run no confederation, so our AS is the whole confederation),
// or a route learned from a Route Server offered to a Route Server.
[[nodiscard]] absl::Status CheckExportBeforePolicy(const PathAttributes& attrs, const PolicyContext& ctx);

// FailedPrecondition when, after the policy's rewrites, the AS path still
// holds the eBGP target's AS: the peer would drop it as a loop (RFC 4271
// 9.1.2), so sending it only costs the peer a route slot (ARS counts them).
[[nodiscard]] absl::Status CheckExportAfterPolicy(const PathAttributes& attrs, const PolicyContext& ctx);

// The standard transform, after policy actions (`applied` is what the
// policy chain did, merged):
//  eBGP: confederation segments dropped, our AS prepended 1 + prepend
//        times, next hop = ctx.local_address, LOCAL_PREF removed (5.1.5),
//        MED kept only when our policy set it or we originated the route
//        (5.1.4: a MED received from a neighbouring AS is not passed on).
//  iBGP: AS path unchanged, LOCAL_PREF defaulted to 100 when absent, next
//        hop unchanged unless next_hop_self or the route is ours (0.0.0.0).
PathAttributes PrepareExport(const PathAttributes& attrs, const PolicyContext& ctx, const PolicyActions& applied);

}  // namespace isthmus::bgp
