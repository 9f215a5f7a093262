#pragma once
// Interning of path attributes: routes that carry the same attributes share
// one immutable PathAttributes. A full table from one peer typically has a
// few thousand distinct attribute sets for hundreds of thousands of prefixes,
// so sharing is what keeps the RIBs small (issue 3 item 12), and it makes
// "are these the same attributes?" a pointer comparison in the common case.

#include <cstddef>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "bgp/core/types.h"

namespace isthmus::bgp {

// Hashes PathAttributes by value. Transparent so a set of AttributesPtr can
// be probed with a plain PathAttributes. Kept as a functor instead of an
// AbslHashValue overload for the shared types so that no other part can
// collide with it.
struct PathAttributesHash {
  using is_transparent = void;
  size_t operator()(const PathAttributes& attrs) const;
  size_t operator()(const AttributesPtr& attrs) const;
};

// Equality by value (null equals only null).
struct PathAttributesEq {
  using is_transparent = void;
  bool operator()(const AttributesPtr& a, const AttributesPtr& b) const;
  bool operator()(const AttributesPtr& a, const PathAttributes& b) const;
  bool operator()(const PathAttributes& a, const AttributesPtr& b) const;
};

// True when both are null or point to equal values; pointer-equal (the
// interned case) short-circuits.
bool SameAttributes(const AttributesPtr& a, const AttributesPtr& b);

// Not thread-safe: owned by the BGP thread. Handed-out pointers may be
// released on any thread (only use counts are read when purging).
class AttributeInterner {
 public:
  // Returns the shared instance equal to `attrs`, creating it if new.
  AttributesPtr Intern(PathAttributes attrs);
  // Same, for attributes already behind a pointer (kept if first seen).
  AttributesPtr Intern(const AttributesPtr& attrs);

  // Drops instances no route refers to any more; returns how many. Also run
  // automatically when the table has doubled since the last purge, so the
  // table stays within about twice the live set at amortised O(1) cost.
  size_t Purge();

  size_t size() const { return table_.size(); }

 private:
  static constexpr size_t kMinPurgeThreshold = 1024;
  void MaybePurge();

  absl::flat_hash_set<AttributesPtr, PathAttributesHash, PathAttributesEq> table_;
  size_t purge_threshold_ = kMinPurgeThreshold;
};

}  // namespace isthmus::bgp
