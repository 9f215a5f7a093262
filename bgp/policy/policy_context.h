#pragma once
// What a policy needs to know about the route's journey besides its
// attributes: the direction, the peer on the other side of this step, and
// (on export) where the route came from.

#include <cstdint>
#include <string>

#include "bgp/config/bgp_config.h"
#include "bgp/core/types.h"
#include "control/config/config.h"

namespace isthmus::bgp {

struct PolicyContext {
  enum class Direction : uint8_t { kImport, kExport };
  Direction direction = Direction::kImport;
  // Import: the peer the route was received from. Export: the target peer.
  const PeerConfig* peer = nullptr;
  Asn local_as = 0;
  Ipv4Addr local_address;                 // our end of the session: next-hop-self
  RouteKind kind = RouteKind::kBgp;
  // Export only: the peer the route was learned from ("" when originated by
  // us) and its role, so routes learned from a Route Server are never
  // echoed back to a Route Server nor stripped of its ASN.
  std::string source_peer_name;
  PeerRole source_peer_role = PeerRole::kPeer;

  bool importing() const { return direction == Direction::kImport; }
  bool exporting() const { return direction == Direction::kExport; }
  // eBGP towards/from `peer` (RFC 4271 3: different AS numbers).
  bool ebgp() const { return peer != nullptr && peer->remote_as != local_as; }
  // Role of the peer the route was learned from, in either direction.
  PeerRole SourceRole() const {
    if (exporting()) return source_peer_role;
    return peer != nullptr ? peer->role : PeerRole::kPeer;
  }
};

}  // namespace isthmus::bgp
