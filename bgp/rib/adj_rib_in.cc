#include "bgp/rib/adj_rib_in.h"

#include <algorithm>
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

bool AdjRibIn::Withdraw(const Ipv4Prefix& prefix, bool* was_accepted) {
  auto it = routes_.find(ToPrefixKey(prefix));
  if (it == routes_.end()) return false;
  if (it->second.stale) --stale_count_;
  if (it->second.accepted) --accepted_count_;
  if (was_accepted != nullptr) *was_accepted = it->second.accepted;
  routes_.erase(it);
  return true;
}

bool AdjRibIn::SetAccepted(const Ipv4Prefix& prefix, bool accepted) {
  auto it = routes_.find(ToPrefixKey(prefix));
  if (it == routes_.end()) return false;
  const bool before = it->second.accepted;
  if (before != accepted) {
    it->second.accepted = accepted;
    if (accepted) {
      ++accepted_count_;
    } else {
      --accepted_count_;
    }
  }
  return before;
}

size_t AdjRibIn::MarkStale() {
  for (auto& entry : routes_) entry.second.stale = true;
  stale_count_ = routes_.size();
  return stale_count_;
}

std::vector<Ipv4Prefix> AdjRibIn::SweepStale(std::vector<Ipv4Prefix>* accepted_removed) {
  std::vector<Ipv4Prefix> removed;
  removed.reserve(stale_count_);
  for (auto it = routes_.begin(); it != routes_.end();) {
    if (it->second.stale) {
      removed.push_back(FromPrefixKey(it->first));
      if (it->second.accepted) {
        --accepted_count_;
        if (accepted_removed != nullptr) accepted_removed->push_back(removed.back());
      }
      routes_.erase(it++);   // erasing leaves the other iterators valid
    } else {
      ++it;
    }
  }
  stale_count_ = 0;
  std::sort(removed.begin(), removed.end());
  if (accepted_removed != nullptr) std::sort(accepted_removed->begin(), accepted_removed->end());
  return removed;
}

const AdjRibIn::Entry* AdjRibIn::Find(const Ipv4Prefix& prefix) const {
  auto it = routes_.find(ToPrefixKey(prefix));
  return it == routes_.end() ? nullptr : &it->second;
}

void AdjRibIn::ForEach(absl::FunctionRef<void(const Ipv4Prefix&, const Entry&)> visit) const {
  std::vector<PrefixKey> keys;
  keys.reserve(routes_.size());
  for (const auto& [key, entry] : routes_) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  for (PrefixKey key : keys) visit(FromPrefixKey(key), routes_.at(key));
}

}  // namespace isthmus::bgp
