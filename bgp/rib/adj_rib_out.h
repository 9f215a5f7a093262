#pragma once
// Adj-RIB-Out (RFC 4271 3.2): what we advertise to one peer (or one group of
// peers that must receive identical routes, such as both Route Server
// instances). It remembers what the peer holds so that an unchanged route is
// never sent twice: Azure Route Server counts re-sent routes against its
// 4,000-route limit and drops the session above it (issue 3 item 1).
//
// Outbound cap: at most max_advertised prefixes are advertised, always the
// first ones in prefix order among those we would like to send. The choice
// depends only on the desired set, never on history, so a peer that resyncs
// after a reset ends with exactly what its group partner has. The rest is
// held back and counted, and sent when room frees up or the cap rises.

#include <cstddef>
#include <limits>
#include <optional>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/functional/function_ref.h"
#include "bgp/core/types.h"
#include "bgp/rib/prefix_key.h"

namespace isthmus::bgp {

// What to send next. Withdrawals go first, and are never held back by the
// cap: the peer must drop a route at once when we lose it.
struct OutboundUpdate {
  struct Group {
    AttributesPtr attrs;
    std::vector<Ipv4Prefix> prefixes;   // in prefix order
  };
  std::vector<Ipv4Prefix> withdrawn;   // in prefix order
  std::vector<Group> announced;        // one group per distinct attribute set
  bool empty() const { return withdrawn.empty() && announced.empty(); }
  size_t announced_count() const;
};

using DesiredRoutes = absl::btree_map<Ipv4Prefix, AttributesPtr>;

class AdjRibOut {
 public:
  static constexpr size_t kUnlimited = std::numeric_limits<size_t>::max();

  explicit AdjRibOut(size_t max_advertised = kUnlimited) : max_advertised_(max_advertised) {}

  // Incremental form: what we would like the peer to have. Changes become
  // pending and are returned by TakePending(). Setting a null pointer removes.
  void Set(const Ipv4Prefix& prefix, AttributesPtr attrs);
  void Remove(const Ipv4Prefix& prefix);
  // Lowering the cap withdraws the last advertised prefixes; raising it sends
  // held-back ones.
  void SetMaxAdvertised(size_t max_advertised);
  [[nodiscard]] OutboundUpdate TakePending();
  bool has_pending() const { return !dirty_.empty(); }

  // Whole-table form: replaces the desired set, then takes what is pending.
  [[nodiscard]] OutboundUpdate Diff(const DesiredRoutes& desired);

  // ROUTE-REFRESH (RFC 2918 3): the peer asked for everything again. Takes
  // what is pending and re-announces every advertised route.
  [[nodiscard]] OutboundUpdate Refresh();

  // Session down: the peer holds nothing and we forget what we wanted.
  void Clear();

  AttributesPtr Advertised(const Ipv4Prefix& prefix) const;   // null if not advertised
  void ForEachAdvertised(
      absl::FunctionRef<void(const Ipv4Prefix&, const AttributesPtr&)> visit) const;
  size_t advertised_count() const { return advertised_count_; }
  size_t desired_count() const { return desired_count_; }
  size_t held_back() const { return desired_count_ - window_count_; }
  size_t max_advertised() const { return max_advertised_; }

 private:
  struct Slot {
    AttributesPtr desired;      // null: we no longer want to advertise it
    AttributesPtr advertised;   // null: the peer does not have it
  };
  using Slots = absl::btree_map<PrefixKey, Slot>;

  bool InWindow(PrefixKey key, const Slot& slot) const;
  void AdmitNew(PrefixKey key);
  void ShrinkWindow();
  void GrowWindow();
  std::optional<PrefixKey> PrevDesired(PrefixKey key) const;
  std::optional<PrefixKey> NextDesired(std::optional<PrefixKey> after) const;

  size_t max_advertised_;
  Slots slots_;
  absl::btree_set<PrefixKey> dirty_;
  size_t desired_count_ = 0;
  size_t advertised_count_ = 0;   // what the peer holds
  // The window is the desired prefixes up to and including window_last_;
  // it always holds min(max_advertised_, desired_count_) of them.
  std::optional<PrefixKey> window_last_;
  size_t window_count_ = 0;
};

}  // namespace isthmus::bgp
