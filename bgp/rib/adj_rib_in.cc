#include "bgp/rib/adj_rib_in.h"

#include <utility>

#include "bgp/rib/attribute_interner.h"

namespace isthmus::bgp {

bool AdjRibIn::Update(const Ipv4Prefix& prefix, AttributesPtr attrs) {
  auto [it, inserted] = routes_.try_emplace(ToPrefixKey(prefix));
  Entry& entry = it->second;
  if (!inserted && !entry.stale && SameAttributes(entry.attrs, attrs)) return false;
  if (entry.stale) --stale_count_;
  entry.attrs = std::move(attrs);
  entry.stale = false;
  return true;
}

bool AdjRibIn::Withdraw(const Ipv4Prefix& prefix) {
  auto it = routes_.find(ToPrefixKey(prefix));
  if (it == routes_.end()) return false;
  if (it->second.stale) --stale_count_;
  routes_.erase(it);
  return true;
}

size_t AdjRibIn::MarkStale() {
  for (auto& [key, entry] : routes_) entry.stale = true;
  stale_count_ = routes_.size();
  return stale_count_;
}

std::vector<Ipv4Prefix> AdjRibIn::SweepStale() {
  std::vector<Ipv4Prefix> removed;
  removed.reserve(stale_count_);
  for (auto it = routes_.begin(); it != routes_.end();) {
    if (it->second.stale) {
      removed.push_back(FromPrefixKey(it->first));
      it = routes_.erase(it);
    } else {
      ++it;
    }
  }
  stale_count_ = 0;
  return removed;
}

const AdjRibIn::Entry* AdjRibIn::Find(const Ipv4Prefix& prefix) const {
  auto it = routes_.find(ToPrefixKey(prefix));
  return it == routes_.end() ? nullptr : &it->second;
}

void AdjRibIn::ForEach(absl::FunctionRef<void(const Ipv4Prefix&, const Entry&)> visit) const {
  for (const auto& [key, entry] : routes_) visit(FromPrefixKey(key), entry);
}

}  // namespace isthmus::bgp
