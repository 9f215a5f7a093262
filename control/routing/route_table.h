#pragma once
// The routing table of the control plane: routes from every source
// (local addresses, connected subnets, static config, BGP), the choice of
// one source per prefix by administrative distance, next-hop resolution to
// ports, and the programming of the data plane FIB with the difference.
//
// BGP can bring a million prefixes, so its routes are kept compactly: one
// 64-bit word per prefix (prefix key and the id of an interned gateway
// list: a full table has a few distinct lists) in one hash set, 8-byte
// slots. Next hops are resolved once per list, and each list that resolves
// holds its next-hop set and FIB group, so installing a route is pointing
// the FIB at that group (no next hops hashed per route). Whether a BGP
// route is installed is not stored per prefix: the FIB knows (the prefix is
// in the FIB and no route of another source is installed there), and its
// group says with which next hops. The few routes of the other sources
// keep their full entries and their own map of what is installed.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
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
  absl::Status ApplyBgp(absl::Span<const BgpRoute> changes);
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
  // A BGP route in one word: prefix key (40 bits) | gateway list id (24
  // bits). bgp_ hashes and compares the prefix key only.
  static constexpr int kListBits = 24;
  static constexpr uint32_t kListMask = (1u << kListBits) - 1;
  static uint64_t BgpWord(PrefixKey key, uint32_t list) { return key << kListBits | list; }
  static PrefixKey BgpKeyOf(uint64_t word) { return word >> kListBits; }
  static uint32_t ListOf(uint64_t word) { return static_cast<uint32_t>(word) & kListMask; }
  struct BgpKeyHash {
    size_t operator()(uint64_t word) const { return absl::Hash<uint64_t>()(BgpKeyOf(word)); }
  };
  struct BgpKeyEq {
    bool operator()(uint64_t a, uint64_t b) const { return BgpKeyOf(a) == BgpKeyOf(b); }
  };
  using Resolved = absl::StatusOr<std::vector<Nexthop>>;
  // How many changes ahead ApplyBgp starts loading a change's table slots.
  static constexpr size_t kPrefetchDistance = 8;
  static constexpr uint32_t kNoSet = UINT32_MAX;
  struct Installed {
    uint32_t nexthop_set;   // id in nexthop_sets_
    RouteSource source;
    uint32_t group = kNoGroup;   // kBgp (InstalledOf only): the FIB group
  };
  // A gateway list's resolution and, once a route through it is installed,
  // the next-hop set and FIB group it holds for all of them.
  struct BgpList {
    Resolved resolved;
    uint32_t nexthop_set = kNoSet;
    uint32_t group = kNoGroup;
  };
  // Installed BGP routes by FIB group: the next hops reported for them and
  // how many routes use the group (each holds one reference on the set).
  struct BgpGroup {
    uint32_t nexthop_set;
    uint32_t routes;
  };

  // Resolves a route's next hops; an error says why it cannot be installed.
  Resolved Resolve(const RouteEntry& e);
  // A BGP gateway list's next hops, resolved once per list until the
  // addresses or static routes change.
  BgpList& ResolveBgp(uint32_t gateway_list);
  // Takes the list's next-hop set and FIB group when it is first installed.
  absl::Status HoldBgpGroup(BgpList& list);
  void ReleaseBgpList(BgpList& list);
  // Forgets every list's resolution (addresses or static routes changed).
  void ClearBgpResolutions();
  void ReleaseGatewayList(uint32_t id);
  // Interns a next-hop set; a new one has its gateways resolved.
  uint32_t AcquireNexthopSet(const std::vector<Nexthop>& nexthops);
  // Re-evaluates the winner for `prefix` and programs the FIB.
  // `bgp_may_be_installed` false: the caller knows the prefix had no BGP
  // route before (it saves a FIB lookup per route of a full table).
  // `bgp_list`: the prefix's BGP gateway list when the caller has just set
  // it (kNoList: it has none), so that bgp_ is not read back right after
  // the write (the slot is a cache miss until the write completes).
  static constexpr uint32_t kUnknownList = UINT32_MAX;
  static constexpr uint32_t kNoList = UINT32_MAX - 1;
  absl::Status Reconcile(const Ipv4Prefix& prefix, bool bgp_may_be_installed = true,
                         uint32_t bgp_list = kUnknownList);
  absl::Status ReconcileAll();
  // Ports and next hops through which `gw` is reached: directly on a
  // connected subnet, or (one level of recursion, as BGP next hops such as
  // the Route Server's address need) through a static route covering it.
  Resolved ResolveGateway(Ipv4Addr gw, std::optional<uint16_t> port, bool recursive);
  // What the FIB holds for `prefix` and from which source (nullopt: nothing).
  std::optional<Installed> InstalledOf(const Ipv4Prefix& prefix, bool bgp_may_be_installed = true) const;
  void BgpGroupInstalled(uint32_t group, uint32_t nexthop_set);
  void BgpGroupRemoved(uint32_t group);

  Fib* fib_;
  NeighborTable* neighbors_;
  ResolveFn resolve_;
  ChangeFn on_change_;
  std::vector<PortAddress> addresses_;
  std::map<Key, RouteEntry> rib_;          // local, connected, static
  std::map<Key, std::string> inactive_;    // why one of those is not installed
  absl::flat_hash_set<uint64_t, BgpKeyHash, BgpKeyEq> bgp_;   // BgpWord()s
  InternTable<GatewayList> gateway_lists_;
  // Few entries; node-based so that a BgpList& stays valid while more lists resolve.
  absl::node_hash_map<uint32_t, BgpList> bgp_resolved_;   // gateway list id -> next hops
  absl::flat_hash_map<uint32_t, BgpGroup> bgp_groups_;    // FIB group id -> installed BGP routes
  absl::flat_hash_map<PrefixKey, Installed> installed_;   // local, connected, static
  InternTable<std::vector<Nexthop>> nexthop_sets_;
  std::map<uint16_t, uint32_t> tunnel_ports_;
};

}  // namespace isthmus
