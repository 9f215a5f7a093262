#include "bgp/rib/attribute_interner.h"

#include <algorithm>
#include <utility>

namespace isthmus::bgp {
namespace {

// A wrapper that gives PathAttributes an AbslHashValue without declaring one
// for the shared vocabulary types themselves.
struct HashView {
  const PathAttributes& a;

  template <typename H>
  friend H AbslHashValue(H h, const HashView& v) {
    const PathAttributes& a = v.a;
    h = H::combine(std::move(h), static_cast<uint8_t>(a.origin), a.as_path.segments.size());
    for (const AsPathSegment& s : a.as_path.segments) {
      h = H::combine(std::move(h), static_cast<uint8_t>(s.type), s.asns);
    }
    h = H::combine(std::move(h), a.next_hop.value, a.med, a.local_pref, a.atomic_aggregate,
                   a.aggregator.has_value());
    if (a.aggregator) {
      h = H::combine(std::move(h), a.aggregator->asn, a.aggregator->address.value);
    }
    h = H::combine(std::move(h), a.communities, a.large_communities.size());
    for (const LargeCommunity& c : a.large_communities) {
      h = H::combine(std::move(h), c.global, c.local1, c.local2);
    }
    h = H::combine(std::move(h), a.otc, a.unknown.size());
    for (const RawAttribute& r : a.unknown) {
      h = H::combine(std::move(h), r.flags, r.type, r.value);
    }
    return h;
  }
};

}  // namespace

size_t PathAttributesHash::operator()(const PathAttributes& attrs) const {
  return absl::Hash<HashView>{}(HashView{attrs});
}

size_t PathAttributesHash::operator()(const AttributesPtr& attrs) const {
  return attrs == nullptr ? 0 : (*this)(*attrs);
}

bool PathAttributesEq::operator()(const AttributesPtr& a, const AttributesPtr& b) const {
  return SameAttributes(a, b);
}

bool PathAttributesEq::operator()(const AttributesPtr& a, const PathAttributes& b) const {
  return a != nullptr && *a == b;
}

bool PathAttributesEq::operator()(const PathAttributes& a, const AttributesPtr& b) const {
  return b != nullptr && a == *b;
}

bool SameAttributes(const AttributesPtr& a, const AttributesPtr& b) {
  if (a == b) return true;
  return a != nullptr && b != nullptr && *a == *b;
}

AttributeInterner::AttributeInterner()
    : table_(0, IdHash{this}, IdEq{this}) {
  slots_.Add(Slot{});   // kNoAttributes
}

AttrId AttributeInterner::InternId(PathAttributes attrs) {
  if (auto it = table_.find(attrs); it != table_.end()) return *it;
  return Insert(std::make_shared<const PathAttributes>(std::move(attrs)));
}

AttrId AttributeInterner::InternId(const AttributesPtr& attrs) {
  if (attrs == nullptr) return kNoAttributes;
  // The instance interned last, asked for again (one UPDATE's routes after
  // one policy verdict): the slot holding this very object is its id.
  if (slots_[last_].attrs.get() == attrs.get()) return last_;
  if (auto it = table_.find(*attrs); it != table_.end()) {
    last_ = *it;
  } else {
    last_ = Insert(attrs);
  }
  return last_;
}

AttrId AttributeInterner::Insert(AttributesPtr attrs) {
  MaybePurge();
  const AttrId id = slots_.Add(Slot{std::move(attrs), 0});
  table_.insert(id);
  return id;
}

size_t AttributeInterner::Purge() {
  const size_t before = table_.size();
  // No route refers to it and use_count() == 1: only the table still holds
  // it, and nobody can obtain a new reference except through this
  // (single-threaded) interner.
  absl::erase_if(table_, [this](AttrId id) {
    Slot& slot = slots_[id];
    if (slot.refs != 0 || slot.attrs.use_count() != 1) return false;
    slots_.Remove(id);
    return true;
  });
  purge_threshold_ = std::max(kMinPurgeThreshold, 2 * table_.size());
  return before - table_.size();
}

void AttributeInterner::MaybePurge() {
  if (table_.size() >= purge_threshold_) Purge();
}

}  // namespace isthmus::bgp
