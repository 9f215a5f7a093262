#pragma once
// Adj-RIB-In (RFC 4271 3.2): the routes one peer sent us, before import
// policy. Kept whole so that a policy change can be re-applied without a
// session reset or a route refresh (issue 3 item 11).
//
// A view: the routes live in the shared table of loc_rib.h, next to the
// Loc-RIB candidates made of them, so that a full table costs one slot per
// prefix rather than one per RIB.

#include <cstddef>
#include <optional>
#include <vector>

#include "absl/functional/function_ref.h"
#include "bgp/core/types.h"
#include "bgp/rib/loc_rib.h"

namespace isthmus::bgp {

class AdjRibIn {
 public:
  using Entry = LocRib::InRoute;

  AdjRibIn(LocRib* rib, PeerId peer) : rib_(rib), peer_(peer) {}

  // Stores or replaces the route. Returns false when it was already there
  // with the same attributes and not stale (nothing to re-evaluate).
  bool Update(const Ipv4Prefix& prefix, const AttributesPtr& attrs) {
    return Update(prefix, rib_->interner().InternId(attrs)) != LocRib::InResult::kSame;
  }
  LocRib::InResult Update(const Ipv4Prefix& prefix, AttrId attrs) { return rib_->InUpdate(prefix, peer_, attrs); }
  // Returns false when the prefix was unknown; `was_accepted` (optional)
  // receives whether it is in the Loc-RIB (the caller withdraws it there).
  bool Withdraw(const Ipv4Prefix& prefix, bool* was_accepted = nullptr) {
    return rib_->InWithdraw(prefix, peer_, was_accepted);
  }
  void Clear() { rib_->InClear(peer_); }

  // Peer restarting (RFC 4724 4.2): every route becomes stale. Returns the count.
  size_t MarkStale() { return rib_->InMarkStale(peer_); }
  // End-of-RIB or restart timer expiry: removes what was not re-announced.
  // `accepted_removed` (optional) receives those of them that were in the Loc-RIB.
  std::vector<Ipv4Prefix> SweepStale(std::vector<Ipv4Prefix>* accepted_removed = nullptr) {
    return rib_->InSweepStale(peer_, accepted_removed);
  }

  std::optional<Entry> Find(const Ipv4Prefix& prefix) const { return rib_->InFind(prefix, peer_); }
  bool Contains(const Ipv4Prefix& prefix) const { return rib_->InContains(prefix, peer_); }
  size_t size() const { return rib_->Counts(peer_).received; }
  size_t stale_count() const { return rib_->Counts(peer_).stale; }
  size_t accepted_count() const { return rib_->Counts(peer_).accepted; }

  // In prefix order.
  void ForEach(absl::FunctionRef<void(const Ipv4Prefix&, const Entry&)> visit) const { rib_->InForEach(peer_, visit); }

 private:
  LocRib* rib_;
  PeerId peer_;
};

}  // namespace isthmus::bgp
