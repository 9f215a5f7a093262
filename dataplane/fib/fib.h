#pragma once
// The forwarding table workers read: an LpmTable (DIR-24-8, see
// lpm_table.h for why not rte_lpm or rte_fib) whose result is a next-hop
// *group*; groups list up to kMaxEcmp next hops; a next hop says how to
// leave (port + gateway, connected, local, blackhole, or a tunnel:
// encapsulation, then a second lookup for the tunnel's remote).
//
// One writer (the control thread). Groups and next hops live in fixed arrays
// and are immutable while any FIB entry may point at them: a freed id is
// reused only after an RCU grace period (rte_rcu_qsbr), and the LPM hands
// its tbl8 blocks back the same way, so workers never read memory that is
// being rewritten.

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "dataplane/fib/lpm_table.h"
#include "dataplane/fib/rcu_ids.h"



struct rte_rcu_qsbr;

namespace isthmus {

inline constexpr uint32_t kMaxEcmp = 16;
// What a lookup returns for an address no route covers; never a group id.
inline constexpr uint32_t kNoGroup = LpmTable::kMiss;

enum class NexthopKind : uint8_t {
  kForward,    // to `gateway` via `port`
  kConnected,  // to the packet's own destination via `port`
  kLocal,      // addressed to us: hand to the kernel
  kBlackhole,  // drop (counted)
  kTunnel,     // encapsulate into tunnel `tunnel` (toward `gateway` in its overlay)
};

struct Nexthop {
  uint32_t gateway = 0;        // host order; kForward only
  uint32_t neighbor_slot = 0;  // kForward: NeighborTable slot of the gateway
  uint16_t port = 0;           // kTunnel: the tunnel's host TAP
  NexthopKind kind = NexthopKind::kBlackhole;
  uint32_t tunnel = 0;         // kTunnel only: TunnelTable id
  friend bool operator==(const Nexthop& a, const Nexthop& b) {
    return a.gateway == b.gateway && a.port == b.port && a.kind == b.kind && a.tunnel == b.tunnel;
  }
  template <typename H>
  friend H AbslHashValue(H h, const Nexthop& n) {
    return H::combine(std::move(h), n.gateway, n.port, n.kind, n.tunnel);
  }
};

struct NexthopGroup {
  uint32_t count = 0;
  uint32_t members[kMaxEcmp] = {};  // indexes into the next-hop array
};

struct FibParams {
  std::string name = "fib";
  uint32_t max_routes = 1 << 16;
  uint32_t tbl8_groups = 1 << 10;
  uint32_t max_groups = 1 << 16;
  uint32_t max_nexthops = 1 << 16;
  int socket_id = 0;
};

class Fib {
 public:
  static absl::StatusOr<std::unique_ptr<Fib>> Create(const FibParams& params, rte_rcu_qsbr* rcu);
  ~Fib();
  Fib(const Fib&) = delete;
  Fib& operator=(const Fib&) = delete;

  // --- workers ---
  // Group ids of `n` IPv4 destinations (host order); kNoGroup when no route.
  void LookupBulk(const uint32_t* ips, uint32_t* groups, uint32_t n) const { lpm_->LookupBulk(ips, groups, n); }
  uint32_t Lookup(uint32_t ip) const { return lpm_->Lookup(ip); }
  const NexthopGroup& group(uint32_t id) const { return groups_[id]; }
  const Nexthop& nexthop(uint32_t id) const { return nexthops_[id]; }

  // --- control thread ---
  // Points `prefix` (host order) at a group holding `members` (deduplicated:
  // routes with the same next-hop set share one group).
  absl::Status Set(uint32_t prefix, uint8_t len, const std::vector<Nexthop>& members);
  // The same in two steps, for callers that point many prefixes at one
  // next-hop set (a BGP full table): HoldGroup takes a reference on the
  // group of `members` (creating it if needed) and returns its id;
  // SetGroup points `prefix` at a held group, with a reference of its own,
  // without hashing the members again; ReleaseGroup drops the hold.
  absl::StatusOr<uint32_t> HoldGroup(const std::vector<Nexthop>& members) { return AcquireGroup(members); }
  absl::Status SetGroup(uint32_t prefix, uint8_t len, uint32_t group);
  void ReleaseGroup(uint32_t id);
  absl::Status Delete(uint32_t prefix, uint8_t len);
  // See LpmTable::Prefetch.
  void Prefetch(uint32_t prefix, uint8_t len) const { lpm_->Prefetch(prefix, len); }
  uint32_t routes() const { return static_cast<uint32_t>(lpm_->size()); }
  uint32_t groups_in_use() const { return static_cast<uint32_t>(group_ids_.size()); }
  uint32_t nexthops_in_use() const { return static_cast<uint32_t>(nexthop_ids_.size()); }
  // Group id of an installed prefix, or -1.
  int64_t GroupOf(uint32_t prefix, uint8_t len) const;
  // Every installed route as (prefix, len, group id), in no particular order.
  void ForEachRoute(absl::FunctionRef<void(uint32_t prefix, uint8_t len, uint32_t group)> visit) const;

 private:
  explicit Fib(const FibParams& params, rte_rcu_qsbr* rcu);
  absl::StatusOr<uint32_t> AcquireNexthop(const Nexthop& nh);
  void ReleaseNexthop(uint32_t id);
  absl::StatusOr<uint32_t> AcquireGroup(const std::vector<Nexthop>& members);
  // Points prefix/len at `group`, consuming one reference the caller took
  // (dropped again if the route cannot be added).
  absl::Status Point(uint32_t prefix, uint8_t len, uint32_t group);

  std::unique_ptr<LpmTable> lpm_;   // prefix -> group id
  FibParams params_;
  std::unique_ptr<NexthopGroup[]> groups_;
  std::unique_ptr<Nexthop[]> nexthops_;

  // Dedup and reference counts (control only).
  absl::flat_hash_map<std::vector<uint32_t>, uint32_t> group_ids_;
  std::vector<uint32_t> group_refs_;
  std::vector<std::vector<uint32_t>> group_members_;
  absl::flat_hash_map<Nexthop, uint32_t> nexthop_ids_;
  std::vector<uint32_t> nexthop_refs_;
  RcuIds group_id_pool_;
  RcuIds nexthop_id_pool_;
};

}  // namespace isthmus
