#include "bgp/policy/export_rules.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "bgp/policy/as_path_edit.h"

namespace isthmus::bgp {
namespace {

bool HasCommunity(const PathAttributes& attrs, uint32_t community) {
  return std::find(attrs.communities.begin(), attrs.communities.end(), community) != attrs.communities.end();
}

void ApplyEbgpTransform(PathAttributes& out, const PolicyContext& ctx, const PolicyActions& applied) {
  RemoveConfedSegments(out.as_path);
  PrependAsn(out.as_path, ctx.local_as, 1 + std::min(applied.prepend, kMaxPrepend));
  // RFC 4271 5.1.3: towards an external peer the next hop is our address on
  // the session (no third-party next hop: the ARS needs the NVA's address).
  out.next_hop = ctx.local_address;
  out.local_pref.reset();
  const bool originated_here = ctx.kind != RouteKind::kBgp;
  if (!applied.med.has_value() && !originated_here) out.med.reset();
}

void ApplyIbgpTransform(PathAttributes& out, const PolicyContext& ctx, const PolicyActions& applied) {
  if (!out.local_pref.has_value()) out.local_pref = kDefaultLocalPref;
  const bool unset_next_hop = out.next_hop.value == 0;
  if (applied.next_hop_self || unset_next_hop) out.next_hop = ctx.local_address;
}

}  // namespace

absl::Status CheckExportBeforePolicy(const PathAttributes& attrs, const PolicyContext& ctx) {
  const std::string name = ctx.peer != nullptr ? ctx.peer->name : "?";
  if (HasCommunity(attrs, kCommunityNoAdvertise)) {
    return absl::FailedPreconditionError(absl::StrCat("NO_ADVERTISE community: not sent to ", name, " (RFC 1997)"));
  }
  if (ctx.ebgp() && (HasCommunity(attrs, kCommunityNoExport) || HasCommunity(attrs, kCommunityNoExportSubconfed))) {
    return absl::FailedPreconditionError(
        absl::StrCat("NO_EXPORT community: not sent to eBGP peer ", name, " (RFC 1997)"));
  }
  if (ctx.source_peer_role == PeerRole::kRouteServer && ctx.peer != nullptr &&
      ctx.peer->role == PeerRole::kRouteServer) {
    return absl::FailedPreconditionError(absl::StrCat("route learned from Route Server peer ", ctx.source_peer_name,
                                                      " not sent to Route Server peer ", name,
                                                      ": would echo Route Server routes back"));
  }
  return absl::OkStatus();
}

absl::Status CheckExportAfterPolicy(const PathAttributes& attrs, const PolicyContext& ctx) {
  if (!ctx.ebgp()) return absl::OkStatus();
  if (attrs.as_path.Contains(ctx.peer->remote_as)) {
    return absl::FailedPreconditionError(absl::StrCat("AS path ", attrs.as_path.ToString(), " contains AS ",
                                                      ctx.peer->remote_as, " of peer ", ctx.peer->name,
                                                      ": not sent (loop prevention, RFC 4271 9.1.2)"));
  }
  return absl::OkStatus();
}

PathAttributes PrepareExport(const PathAttributes& attrs, const PolicyContext& ctx, const PolicyActions& applied) {
  PathAttributes out = attrs;
  if (ctx.ebgp()) {
    ApplyEbgpTransform(out, ctx, applied);
  } else {
    ApplyIbgpTransform(out, ctx, applied);
  }
  return out;
}

}  // namespace isthmus::bgp
