#pragma once
// Adj-RIB-In (RFC 4271 3.2): the routes one peer sent us, before import
// policy. Kept whole so that a policy change can be re-applied without a
// session reset or a route refresh (issue 3 item 11).

#include <cstddef>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "bgp/core/types.h"
#include "bgp/rib/prefix_key.h"

namespace isthmus::bgp {

class AdjRibIn {
 public:
  struct Entry {
    AttributesPtr attrs;
    bool stale = false;      // graceful restart (RFC 4724 4.2): kept until refreshed or swept
    bool accepted = false;   // import policy let it into the Loc-RIB (kept here: no second per-prefix set)
  };

  // Stores or replaces the route. Returns false when it was already there
  // with the same attributes and not stale (nothing to re-evaluate).
  bool Update(const Ipv4Prefix& prefix, AttributesPtr attrs);
  // Returns false when the prefix was unknown; `was_accepted` (optional)
  // receives whether it was in the Loc-RIB.
  bool Withdraw(const Ipv4Prefix& prefix, bool* was_accepted = nullptr);
  void Clear() { routes_.clear(); stale_count_ = 0; accepted_count_ = 0; }
  // Records the import policy's verdict for a stored prefix; returns the
  // previous one (false for an unknown prefix, which is left alone).
  bool SetAccepted(const Ipv4Prefix& prefix, bool accepted);

  // Peer restarting (RFC 4724 4.2): every route becomes stale. Returns the count.
  size_t MarkStale();
  // End-of-RIB or restart timer expiry: removes what was not re-announced.
  // `accepted_removed` (optional) receives those of them that were in the Loc-RIB.
  std::vector<Ipv4Prefix> SweepStale(std::vector<Ipv4Prefix>* accepted_removed = nullptr);

  const Entry* Find(const Ipv4Prefix& prefix) const;
  size_t size() const { return routes_.size(); }
  size_t stale_count() const { return stale_count_; }
  size_t accepted_count() const { return accepted_count_; }

  // In prefix order.
  void ForEach(absl::FunctionRef<void(const Ipv4Prefix&, const Entry&)> visit) const;

 private:
  // A hash map: one cache miss per prefix of a full table; ForEach sorts.
  absl::flat_hash_map<PrefixKey, Entry> routes_;
  size_t stale_count_ = 0;
  size_t accepted_count_ = 0;
};

}  // namespace isthmus::bgp
