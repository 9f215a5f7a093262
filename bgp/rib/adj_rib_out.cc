#include "bgp/rib/adj_rib_out.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "bgp/rib/attribute_interner.h"

namespace isthmus::bgp {
namespace {

// Groups announcements by attribute value, so that each group becomes as few
// UPDATE messages as fit (RFC 4271 4.3: one attribute set per UPDATE).
class Grouper {
 public:
  explicit Grouper(OutboundUpdate& update) : update_(update) {}
  void Add(const Ipv4Prefix& prefix, const AttributesPtr& attrs) {
    auto [it, inserted] = index_.try_emplace(attrs, update_.announced.size());
    if (inserted) update_.announced.push_back(OutboundUpdate::Group{attrs, {}});
    update_.announced[it->second].prefixes.push_back(prefix);
  }

 private:
  OutboundUpdate& update_;
  absl::flat_hash_map<AttributesPtr, size_t, PathAttributesHash, PathAttributesEq> index_;
};

}  // namespace

size_t OutboundUpdate::announced_count() const {
  size_t count = 0;
  for (const Group& g : announced) count += g.prefixes.size();
  return count;
}

bool AdjRibOut::InWindow(PrefixKey key, const Slot& slot) const {
  return slot.desired != nullptr && window_last_.has_value() && key <= *window_last_;
}

std::optional<PrefixKey> AdjRibOut::PrevDesired(PrefixKey key) const {
  // Slots without a desired route are pending withdrawals: few, transient.
  for (auto it = slots_.lower_bound(key); it != slots_.begin();) {
    --it;
    if (it->second.desired != nullptr) return it->first;
  }
  return std::nullopt;
}

std::optional<PrefixKey> AdjRibOut::NextDesired(std::optional<PrefixKey> after) const {
  for (auto it = after ? slots_.upper_bound(*after) : slots_.begin(); it != slots_.end(); ++it) {
    if (it->second.desired != nullptr) return it->first;
  }
  return std::nullopt;
}

void AdjRibOut::ShrinkWindow() {
  while (window_count_ > max_advertised_ || window_count_ > desired_count_) {
    dirty_.insert(*window_last_);
    window_last_ = PrevDesired(*window_last_);
    --window_count_;
  }
}

void AdjRibOut::GrowWindow() {
  while (window_count_ < max_advertised_ && window_count_ < desired_count_) {
    window_last_ = NextDesired(window_last_);
    dirty_.insert(*window_last_);
    ++window_count_;
  }
}

void AdjRibOut::AdmitNew(PrefixKey key) {
  // A new prefix before the window's end takes the place of the window's
  // last prefix; after it, it waits (or fills free room via GrowWindow).
  if (window_last_.has_value() && key < *window_last_) {
    ++window_count_;
    ShrinkWindow();
  }
  GrowWindow();
}

void AdjRibOut::Set(const Ipv4Prefix& prefix, AttributesPtr attrs) {
  if (attrs == nullptr) {
    Remove(prefix);
    return;
  }
  const PrefixKey key = ToPrefixKey(prefix);
  Slot& slot = slots_[key];
  const bool was_desired = slot.desired != nullptr;
  if (was_desired && SameAttributes(slot.desired, attrs)) return;
  slot.desired = std::move(attrs);
  dirty_.insert(key);
  if (!was_desired) {
    ++desired_count_;
    AdmitNew(key);
  }
}

void AdjRibOut::Remove(const Ipv4Prefix& prefix) {
  const PrefixKey key = ToPrefixKey(prefix);
  auto it = slots_.find(key);
  if (it == slots_.end() || it->second.desired == nullptr) return;
  const bool in_window = InWindow(key, it->second);
  it->second.desired = nullptr;
  --desired_count_;
  dirty_.insert(key);
  if (in_window) {
    --window_count_;
    if (key == *window_last_) window_last_ = PrevDesired(key);
    GrowWindow();
  }
}

void AdjRibOut::SetMaxAdvertised(size_t max_advertised) {
  max_advertised_ = max_advertised;
  ShrinkWindow();
  GrowWindow();
}

OutboundUpdate AdjRibOut::TakePending() {
  OutboundUpdate update;
  Grouper grouper(update);
  for (PrefixKey key : dirty_) {
    auto it = slots_.find(key);
    Slot& slot = it->second;
    if (InWindow(key, slot)) {
      if (!SameAttributes(slot.advertised, slot.desired)) {
        if (slot.advertised == nullptr) ++advertised_count_;
        slot.advertised = slot.desired;
        grouper.Add(FromPrefixKey(key), slot.advertised);
      }
      continue;
    }
    if (slot.advertised != nullptr) {
      update.withdrawn.push_back(FromPrefixKey(key));
      slot.advertised = nullptr;
      --advertised_count_;
    }
    if (slot.desired == nullptr) slots_.erase(it);
  }
  dirty_.clear();
  return update;
}

OutboundUpdate AdjRibOut::Diff(const DesiredRoutes& desired) {
  std::vector<Ipv4Prefix> gone;
  for (const auto& [key, slot] : slots_) {
    if (slot.desired == nullptr) continue;
    const Ipv4Prefix prefix = FromPrefixKey(key);
    if (!desired.contains(prefix)) gone.push_back(prefix);
  }
  for (const Ipv4Prefix& prefix : gone) Remove(prefix);
  for (const auto& [prefix, attrs] : desired) Set(prefix, attrs);
  return TakePending();
}

OutboundUpdate AdjRibOut::Refresh() {
  OutboundUpdate update = TakePending();
  update.announced.clear();
  Grouper grouper(update);
  for (const auto& [key, slot] : slots_) {
    if (slot.advertised != nullptr) grouper.Add(FromPrefixKey(key), slot.advertised);
  }
  return update;
}

void AdjRibOut::Clear() {
  slots_.clear();
  dirty_.clear();
  desired_count_ = advertised_count_ = window_count_ = 0;
  window_last_.reset();
}

AttributesPtr AdjRibOut::Advertised(const Ipv4Prefix& prefix) const {
  auto it = slots_.find(ToPrefixKey(prefix));
  return it == slots_.end() ? nullptr : it->second.advertised;
}

void AdjRibOut::ForEachAdvertised(
    absl::FunctionRef<void(const Ipv4Prefix&, const AttributesPtr&)> visit) const {
  for (const auto& [key, slot] : slots_) {
    if (slot.advertised != nullptr) visit(FromPrefixKey(key), slot.advertised);
  }
}

}  // namespace isthmus::bgp
