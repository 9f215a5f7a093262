#pragma once
// The vocabulary shared by the BGP speaker's parts (wire codec, sessions,
// RIBs, policy): ASNs, AS paths, path attributes and routes. Plain values,
// no I/O.

#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control/config/ipv4.h"

namespace isthmus::bgp {

using Asn = uint32_t;
inline constexpr Asn kAsTrans = 23456;         // RFC 6793
inline constexpr Asn kAzureRouteServerAsn = 65515;

enum class Origin : uint8_t { kIgp = 0, kEgp = 1, kIncomplete = 2 };

struct AsPathSegment {
  enum class Type : uint8_t { kSet = 1, kSequence = 2, kConfedSequence = 3, kConfedSet = 4 };
  Type type = Type::kSequence;
  std::vector<Asn> asns;
  friend bool operator==(const AsPathSegment&, const AsPathSegment&) = default;
};

struct AsPath {
  std::vector<AsPathSegment> segments;
  // RFC 4271 9.1.2.2 a): a set counts as one, confederation segments as zero.
  size_t Length() const;
  bool Contains(Asn asn) const;
  // The neighbour AS: first ASN of the first AS_SEQUENCE, 0 if none.
  Asn FirstAsn() const;
  std::string ToString() const;   // "65001 65002 {65003,65004}"
  friend bool operator==(const AsPath&, const AsPath&) = default;
};

struct LargeCommunity {
  uint32_t global = 0, local1 = 0, local2 = 0;
  friend auto operator<=>(const LargeCommunity&, const LargeCommunity&) = default;
};

struct Aggregator {
  Asn asn = 0;
  Ipv4Addr address;
  friend bool operator==(const Aggregator&, const Aggregator&) = default;
};

// An attribute we do not interpret, kept to pass on when optional transitive
// (with the Partial bit set on the way out, RFC 4271 5).
struct RawAttribute {
  uint8_t flags = 0;
  uint8_t type = 0;
  std::vector<uint8_t> value;
  friend bool operator==(const RawAttribute&, const RawAttribute&) = default;
};

// Well-known communities (RFC 1997).
inline constexpr uint32_t kCommunityNoExport = 0xFFFFFF01;
inline constexpr uint32_t kCommunityNoAdvertise = 0xFFFFFF02;
inline constexpr uint32_t kCommunityNoExportSubconfed = 0xFFFFFF03;
// GRACEFUL_SHUTDOWN, 65535:0 (RFC 8326 3): the path is about to go away;
// receivers lower its LOCAL_PREF so that they move to another path first.
inline constexpr uint32_t kCommunityGracefulShutdown = 0xFFFF0000;

struct PathAttributes {
  Origin origin = Origin::kIncomplete;
  AsPath as_path;
  Ipv4Addr next_hop;
  std::optional<uint32_t> med;
  std::optional<uint32_t> local_pref;
  bool atomic_aggregate = false;
  std::optional<Aggregator> aggregator;
  std::vector<uint32_t> communities;             // sorted, unique
  std::vector<LargeCommunity> large_communities; // sorted, unique
  std::optional<Asn> otc;                        // Only to Customer, RFC 9234
  std::vector<RawAttribute> unknown;             // optional transitive ones we pass on
  friend bool operator==(const PathAttributes&, const PathAttributes&) = default;
};
using AttributesPtr = std::shared_ptr<const PathAttributes>;

// Where a route came from, for policy "route origin" matches.
enum class RouteKind : uint8_t { kBgp, kStatic, kServiceVip };

using PeerId = uint32_t;               // index of a configured peer
inline constexpr PeerId kLocalPeer = 0xffffffffu;   // originated by us

// What the decision process needs to know about the peer a route came from.
struct PeerInfo {
  PeerId id = kLocalPeer;
  Asn peer_as = 0;
  Asn local_as = 0;
  Ipv4Addr address;
  Ipv4Addr router_id;
  bool ebgp() const { return peer_as != local_as; }
};

struct Route {
  Ipv4Prefix prefix;
  AttributesPtr attrs;
  PeerId peer = kLocalPeer;
  RouteKind kind = RouteKind::kBgp;
  bool stale = false;                  // graceful restart: kept, marked stale
};

}  // namespace isthmus::bgp
