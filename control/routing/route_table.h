#pragma once
// The routing table of the control plane: routes from every source
// (local addresses, connected subnets, static config; BGP later), the
// choice of one source per prefix by administrative distance, next-hop
// resolution to ports, and the programming of the data plane FIB with the
// difference.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "control/config/config.h"
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

  // Applies BGP best-path changes: each entry replaces the prefix's BGP
  // route, or removes it when `gateways` is empty.
  absl::Status ApplyBgp(const std::vector<RouteEntry>& changes);

  struct View {
    RouteEntry entry;
    bool active = false;          // installed in the FIB
    std::string inactive_reason;
    std::vector<Nexthop> nexthops;  // resolved
  };
  std::vector<View> Routes() const;   // every route of every source
  const std::vector<PortAddress>& addresses() const { return addresses_; }

 private:
  struct Key {
    Ipv4Prefix prefix;
    RouteSource source;
    auto operator<=>(const Key&) const = default;
  };
  // Resolves a route's next hops; an error says why it cannot be installed.
  absl::StatusOr<std::vector<Nexthop>> Resolve(const RouteEntry& e);
  // Re-evaluates the winner for `prefix` and programs the FIB.
  absl::Status Reconcile(const Ipv4Prefix& prefix);
  absl::Status ReconcileAll();
  // Ports and next hops through which `gw` is reached: directly on a
  // connected subnet, or (one level of recursion, as BGP next hops such as
  // the Route Server's address need) through a static route covering it.
  absl::StatusOr<std::vector<Nexthop>> ResolveGateway(Ipv4Addr gw, std::optional<uint16_t> port, bool recursive);

  Fib* fib_;
  NeighborTable* neighbors_;
  ResolveFn resolve_;
  ChangeFn on_change_;
  std::map<Ipv4Prefix, RouteSource> installed_source_;
  std::vector<PortAddress> addresses_;
  std::map<Key, RouteEntry> rib_;
  std::map<Ipv4Prefix, std::vector<Nexthop>> installed_;
  std::map<Key, std::string> inactive_;   // why a route is not installed
  std::map<uint16_t, uint32_t> tunnel_ports_;
};

}  // namespace isthmus
