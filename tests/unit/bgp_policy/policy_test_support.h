#pragma once
// Small builders for policy tests: prefixes and AS paths from text, peers,
// attributes and contexts with documentation addresses only.

#include <memory>
#include <string>
#include <vector>

#include "bgp/config/bgp_config.h"
#include "bgp/core/types.h"
#include "bgp/policy/policy_context.h"
#include "control/config/config.h"

namespace isthmus::bgp::testing {

inline constexpr Asn kLocalAs = 65001;
inline constexpr Asn kRemoteNvaAs = 65002;
inline constexpr Asn kOtherAs = 64900;

inline Ipv4Prefix P(const std::string& text) { return ParsePrefix(text).value(); }
inline Ipv4Addr A(const std::string& text) { return ParseIpv4(text).value(); }

// A single AS_SEQUENCE.
inline AsPath Seq(std::vector<Asn> asns) {
  AsPath path;
  if (!asns.empty()) path.segments.push_back({AsPathSegment::Type::kSequence, std::move(asns)});
  return path;
}

inline PeerConfig Peer(const std::string& name, Asn remote_as, PeerRole role = PeerRole::kPeer,
                       std::vector<std::string> import = {}, std::vector<std::string> exports = {}) {
  PeerConfig peer;
  peer.name = name;
  peer.remote_as = remote_as;
  peer.role = role;
  peer.import_policies = std::move(import);
  peer.export_policies = std::move(exports);
  return peer;
}

inline PathAttributes Attrs(AsPath path, std::vector<uint32_t> communities = {}) {
  PathAttributes attrs;
  attrs.origin = Origin::kIgp;
  attrs.as_path = std::move(path);
  attrs.next_hop = A("198.51.100.9");
  attrs.communities = std::move(communities);
  return attrs;
}

inline AttributesPtr Ptr(PathAttributes attrs) { return std::make_shared<const PathAttributes>(std::move(attrs)); }

inline PolicyContext ImportFrom(const PeerConfig& peer) {
  PolicyContext ctx;
  ctx.direction = PolicyContext::Direction::kImport;
  ctx.peer = &peer;
  ctx.local_as = kLocalAs;
  ctx.local_address = A("192.0.2.10");
  return ctx;
}

inline PolicyContext ExportTo(const PeerConfig& target, const PeerConfig* source = nullptr,
                              RouteKind kind = RouteKind::kBgp) {
  PolicyContext ctx;
  ctx.direction = PolicyContext::Direction::kExport;
  ctx.peer = &target;
  ctx.local_as = kLocalAs;
  ctx.local_address = A("192.0.2.10");
  ctx.kind = kind;
  if (source != nullptr) {
    ctx.source_peer_name = source->name;
    ctx.source_peer_role = source->role;
  }
  return ctx;
}

inline Policy AcceptAll(const std::string& name) {
  return Policy{.name = name, .terms = {}, .default_result = TermResult::kAccept};
}

}  // namespace isthmus::bgp::testing
