#pragma once
// Interning of path attributes: routes that carry the same attributes share
// one immutable PathAttributes. A full table from one peer typically has a
// few thousand distinct attribute sets for hundreds of thousands of prefixes,
// so sharing is what keeps the RIBs small (issue 3 item 12), and it makes
// "are these the same attributes?" a pointer comparison in the common case.
//
// Every interned set also has a 4-byte id: the RIB stores ids (not 16-byte
// shared_ptrs) per route, counts its references on the id, and compares
// attributes by comparing ids.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "bgp/core/slot_vector.h"
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

// The id of an interned attribute set; kNoAttributes is never one.
using AttrId = uint32_t;
inline constexpr AttrId kNoAttributes = 0;

// Not thread-safe: owned by the BGP thread. Handed-out pointers may be
// released on any thread (only use counts are read when purging).
class AttributeInterner {
 public:
  AttributeInterner();
  AttributeInterner(const AttributeInterner&) = delete;
  AttributeInterner& operator=(const AttributeInterner&) = delete;

  // Returns the shared instance equal to `attrs`, creating it if new.
  AttributesPtr Intern(PathAttributes attrs) { return Get(InternId(std::move(attrs))); }
  // Same, for attributes already behind a pointer (kept if first seen).
  AttributesPtr Intern(const AttributesPtr& attrs) { return Get(InternId(attrs)); }
  // The id of the shared instance (kNoAttributes for null). An id stays
  // valid while it has references (Ref) or its pointer is held elsewhere.
  AttrId InternId(PathAttributes attrs);
  AttrId InternId(const AttributesPtr& attrs);

  const AttributesPtr& Get(AttrId id) const { return slots_[id].attrs; }
  // References held by stored routes; an id with none (and whose pointer
  // nobody else holds) goes at the next purge.
  void Ref(AttrId id) {
    if (id != kNoAttributes) ++slots_[id].refs;
  }
  void Unref(AttrId id) {
    if (id != kNoAttributes) --slots_[id].refs;
  }

  // Drops instances no route refers to any more; returns how many. Also run
  // automatically when the table has doubled since the last purge, so the
  // table stays within about twice the live set at amortised O(1) cost.
  size_t Purge();

  size_t size() const { return table_.size(); }

 private:
  static constexpr size_t kMinPurgeThreshold = 1024;
  struct Slot {
    AttributesPtr attrs;   // null: free
    uint32_t refs = 0;
  };
  // The set holds ids; these look through to the slots.
  struct IdHash {
    using is_transparent = void;
    const AttributeInterner* owner;
    size_t operator()(AttrId id) const { return PathAttributesHash{}(*owner->slots_[id].attrs); }
    size_t operator()(const PathAttributes& attrs) const { return PathAttributesHash{}(attrs); }
  };
  struct IdEq {
    using is_transparent = void;
    const AttributeInterner* owner;
    bool operator()(AttrId a, AttrId b) const { return a == b; }
    bool operator()(AttrId a, const PathAttributes& b) const { return *owner->slots_[a].attrs == b; }
    bool operator()(const PathAttributes& a, AttrId b) const { return a == *owner->slots_[b].attrs; }
  };
  void MaybePurge();
  AttrId Insert(AttributesPtr attrs);

  SlotVector<Slot> slots_;     // [0] is kNoAttributes
  AttrId last_ = kNoAttributes;   // what InternId(pointer) returned last
  absl::flat_hash_set<AttrId, IdHash, IdEq> table_;
  size_t purge_threshold_ = kMinPurgeThreshold;
};

}  // namespace isthmus::bgp
