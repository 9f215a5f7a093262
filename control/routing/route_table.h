#pragma once
// The routing table of the control plane: routes from every source
// (local addresses, connected subnets, static config, BGP), the choice of
// one source per prefix by administrative distance, next-hop resolution to
// ports, and the programming of the data plane FIB with the difference.
//
// BGP can bring a million prefixes, so its routes are kept compactly: a
// prefix key and the id of an interned gateway list (a full table has a few
// distinct lists), next hops are resolved once per list, and what the FIB
// holds is a prefix key with an interned next-hop set. The few routes of the
// other sources keep their full entries.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "control/config/config.h"
#include "control/intern_table.h"
#include "dataplane/fib/fib.h"
#include "dataplane/neighbor/neighbor_table.h"

namespace isthmus {

// Lower wins (administrative distance).
enum class RouteSource : uint8_t { kLocal = 0, kConnected = 1, kStatic = 2, kBgp = 3 };
std::string_view ToString(RouteSource s);

struct RouteEntry {
  Ipv4Prefix prefix;
  RouteSource source = RouteSource::kStatic;
  bool blackhole = false;
  std::vector<Ipv4Addr> gateways;          // kStatic, kBgp (BGP next hops may be recursive)
  std::optional<uint16_t> port;            // kConnected/kLocal: the port; kStatic: restriction
  friend bool operator==(const RouteEntry&, const RouteEntry&) = default;
};

// A BGP best path as the speaker hands it over: ECMP gateways (sorted,
// unique); empty when the prefix has no BGP route any more.
using GatewayList = absl::InlinedVector<Ipv4Addr, 2>;
struct BgpRoute {
  Ipv4Prefix prefix;
  GatewayList gateways;
  friend bool operator==(const BgpRoute&, const BgpRoute&) = default;
};

// Where a port's addresses are: connected subnets resolve gateways.
struct PortAddress {
  uint16_t port;
  InterfaceAddress address;
};

class RouteTable {
 public:
  // `resolve` is called for every gateway the FIB starts using.
  using ResolveFn = std::function<void(uint16_t port, uint32_t ip)>;
  RouteTable(Fib* fib, NeighborTable* neighbors, ResolveFn resolve)
      : fib_(fib), neighbors_(neighbors), resolve_(std::move(resolve)) {}

  // Told about every change of what the FIB holds for a prefix (nullptr:
  // removed), e.g. to mirror routes into the kernel for the slow path.
  using ChangeFn = std::function<void(const Ipv4Prefix&, RouteSource, const std::vector<Nexthop>*)>;
  void SetObserver(ChangeFn fn) { on_change_ = std::move(fn); }

  // Ports that are tunnels' host interfaces (port id -> tunnel id): their
  // connected subnets (the overlays) and the gateways on them resolve to
  // kTunnel next hops. Set before the tunnels' addresses are.
  void SetTunnelPorts(std::map<uint16_t, uint32_t> tunnel_ports) { tunnel_ports_ = std::move(tunnel_ports); }

  // Replaces the set of addresses (and so local and connected routes).
  absl::Status SetAddresses(const std::vector<PortAddress>& addresses);
  // Replaces all static routes; `changes` (optional) receives one line per difference.
  absl::Status SetStatic(const std::vector<RouteEntry>& routes, std::vector<std::string>* changes);

  // Applies BGP best-path changes in order: each replaces the prefix's BGP
  // route, or removes it when `gateways` is empty.
  absl::Status ApplyBgp(const std::vector<BgpRoute>& changes);
  size_t bgp_routes() const { return bgp_.size(); }

  struct View {
    RouteEntry entry;
    bool active = false;          // installed in the FIB
    std::string inactive_reason;
    std::vector<Nexthop> nexthops;  // resolved
  };
  std::vector<View> Routes() const;   // every route of every source, by prefix then source
  const std::vector<PortAddress>& addresses() const { return addresses_; }

 private:
  struct Key {
    Ipv4Prefix prefix;
    RouteSource source;
    auto operator<=>(const Key&) const = default;
  };
  using PrefixKey = uint64_t;
  static PrefixKey KeyOf(const Ipv4Prefix& p) { return uint64_t{p.addr.value} << 8 | p.len; }
  static Ipv4Prefix PrefixOf(PrefixKey k) {
    return Ipv4Prefix{Ipv4Addr{static_cast<uint32_t>(k >> 8)}, static_cast<uint8_t>(k & 0xff)};
  }
  using Resolved = absl::StatusOr<std::vector<Nexthop>>;
  struct Installed {
    uint32_t nexthop_set;   // id in nexthop_sets_
    RouteSource source;
  };

  // Resolves a route's next hops; an error says why it cannot be installed.
  Resolved Resolve(const RouteEntry& e);
  // A BGP gateway list's next hops, resolved once per list until the
  // addresses or static routes change.
  const Resolved& ResolveBgp(uint32_t gateway_list);
  void ReleaseGatewayList(uint32_t id);
  // Re-evaluates the winner for `prefix` and programs the FIB.
  absl::Status Reconcile(const Ipv4Prefix& prefix);
  absl::Status ReconcileAll();
  // Ports and next hops through which `gw` is reached: directly on a
  // connected subnet, or (one level of recursion, as BGP next hops such as
  // the Route Server's address need) through a static route covering it.
  Resolved ResolveGateway(Ipv4Addr gw, std::optional<uint16_t> port, bool recursive);
  std::optional<RouteSource> InstalledSource(const Ipv4Prefix& prefix) const;

  Fib* fib_;
  NeighborTable* neighbors_;
  ResolveFn resolve_;
  ChangeFn on_change_;
  std::vector<PortAddress> addresses_;
  std::map<Key, RouteEntry> rib_;          // local, connected, static
  std::map<Key, std::string> inactive_;    // why one of those is not installed
  absl::flat_hash_map<PrefixKey, uint32_t> bgp_;   // prefix -> gateway list id
  InternTable<GatewayList> gateway_lists_;
  absl::flat_hash_map<uint32_t, Resolved> bgp_resolved_;   // gateway list id -> next hops
  absl::flat_hash_map<PrefixKey, Installed> installed_;
  InternTable<std::vector<Nexthop>> nexthop_sets_;
  std::map<uint16_t, uint32_t> tunnel_ports_;
};

}  // namespace isthmus
