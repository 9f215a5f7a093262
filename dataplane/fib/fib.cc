#include "dataplane/fib/fib.h"

#include <rte_errno.h>
#include <rte_rcu_qsbr.h>

#include <algorithm>
#include <atomic>

#include "absl/strings/str_cat.h"

namespace isthmus {

Fib::Fib(const FibParams& params, rte_rcu_qsbr* rcu)
    : params_(params),
      // Group id 0 is kNoGroup; the LPM's values are 24 bits wide.
      group_id_pool_(kNoGroup + 1, std::clamp<uint32_t>(params.max_groups, 2, LpmTable::kMaxValue + 1), rcu,
                     "next-hop groups"),
      nexthop_id_pool_(0, params.max_nexthops, rcu, "next hops") {}

absl::StatusOr<std::unique_ptr<Fib>> Fib::Create(const FibParams& params, rte_rcu_qsbr* rcu) {
  auto fib = std::unique_ptr<Fib>(new Fib(params, rcu));
  auto lpm = LpmTable::Create(params.name, params.tbl8_groups, params.socket_id, rcu);
  if (!lpm.ok()) return lpm.status();
  fib->lpm_ = std::move(*lpm);
  const uint32_t max_groups = fib->group_id_pool_.max();
  fib->groups_ = std::make_unique<NexthopGroup[]>(max_groups);
  fib->nexthops_ = std::make_unique<Nexthop[]>(params.max_nexthops);
  fib->group_refs_.assign(max_groups, 0);
  fib->group_members_.resize(max_groups);
  fib->nexthop_refs_.assign(params.max_nexthops, 0);
  return fib;
}

Fib::~Fib() = default;

absl::StatusOr<uint32_t> Fib::AcquireNexthop(const Nexthop& nh) {
  if (auto it = nexthop_ids_.find(nh); it != nexthop_ids_.end()) {
    ++nexthop_refs_[it->second];
    return it->second;
  }
  auto id = nexthop_id_pool_.Allocate();
  if (!id.ok()) return id.status();
  nexthops_[*id] = nh;
  nexthop_ids_.emplace(nh, *id);
  nexthop_refs_[*id] = 1;
  return *id;
}

void Fib::ReleaseNexthop(uint32_t id) {
  if (--nexthop_refs_[id] != 0) return;
  nexthop_ids_.erase(nexthops_[id]);
  nexthop_id_pool_.Release(id);
}

absl::StatusOr<uint32_t> Fib::AcquireGroup(const std::vector<Nexthop>& members) {
  if (members.empty() || members.size() > kMaxEcmp) {
    return absl::InvalidArgumentError(absl::StrCat("a route needs 1 to ", kMaxEcmp, " next hops, got ", members.size()));
  }
  std::vector<uint32_t> ids;
  ids.reserve(members.size());
  for (const Nexthop& nh : members) {
    auto id = AcquireNexthop(nh);
    if (!id.ok()) {
      for (uint32_t taken : ids) ReleaseNexthop(taken);
      return id.status();
    }
    ids.push_back(*id);
  }
  // Order does not matter for ECMP membership; sort so equal sets share a group.
  std::vector<uint32_t> key = ids;
  std::sort(key.begin(), key.end());
  if (auto it = group_ids_.find(key); it != group_ids_.end()) {
    for (uint32_t taken : ids) ReleaseNexthop(taken);   // the group already holds them
    ++group_refs_[it->second];
    return it->second;
  }
  auto gid = group_id_pool_.Allocate();
  if (!gid.ok()) {
    for (uint32_t taken : ids) ReleaseNexthop(taken);
    return gid.status();
  }
  NexthopGroup& group = groups_[*gid];
  group.count = static_cast<uint32_t>(key.size());
  std::copy(key.begin(), key.end(), group.members);
  group_members_[*gid] = key;
  group_ids_.emplace(std::move(key), *gid);
  group_refs_[*gid] = 1;
  // The group must be visible before any LPM entry that names it.
  std::atomic_thread_fence(std::memory_order_release);
  return *gid;
}

void Fib::ReleaseGroup(uint32_t id) {
  if (--group_refs_[id] != 0) return;
  for (uint32_t nh : group_members_[id]) ReleaseNexthop(nh);
  group_ids_.erase(group_members_[id]);
  group_members_[id].clear();
  group_id_pool_.Release(id);
}

absl::Status Fib::Set(uint32_t prefix, uint8_t len, const std::vector<Nexthop>& members) {
  auto gid = AcquireGroup(members);
  if (!gid.ok()) return gid.status();
  return Point(prefix, len, *gid);
}

absl::Status Fib::SetGroup(uint32_t prefix, uint8_t len, uint32_t group) {
  if (group == kNoGroup || group >= group_refs_.size() || group_refs_[group] == 0) {
    return absl::FailedPreconditionError(absl::StrCat("next-hop group ", group, " is not held"));
  }
  ++group_refs_[group];
  return Point(prefix, len, group);
}

absl::Status Fib::Point(uint32_t prefix, uint8_t len, uint32_t group) {
  // Only a new route can overflow the table (a replacement keeps the count).
  if (lpm_->size() >= params_.max_routes && lpm_->Get(prefix, len) == LpmTable::kMiss) {
    ReleaseGroup(group);
    return absl::ResourceExhaustedError(
        absl::StrCat("FIB full: ", params_.max_routes, " routes (raise dataplane.fib_max_routes)"));
  }
  uint32_t old = LpmTable::kMiss;
  if (absl::Status s = lpm_->Add(prefix, len, group, &old); !s.ok()) {
    ReleaseGroup(group);
    return s;
  }
  // After the LPM points elsewhere; reused only after a grace period.
  if (old != LpmTable::kMiss) ReleaseGroup(old);
  return absl::OkStatus();
}

absl::Status Fib::Delete(uint32_t prefix, uint8_t len) {
  uint32_t old = LpmTable::kMiss;
  if (absl::Status s = lpm_->Delete(prefix, len, &old); !s.ok()) return s;
  ReleaseGroup(old);
  return absl::OkStatus();
}

int64_t Fib::GroupOf(uint32_t prefix, uint8_t len) const {
  const uint32_t group = lpm_->Get(prefix, len);
  // Both arms int64_t: a bare -1 would be converted to the uint32_t of the other.
  return group == LpmTable::kMiss ? int64_t{-1} : int64_t{group};
}

void Fib::ForEachRoute(absl::FunctionRef<void(uint32_t, uint8_t, uint32_t)> visit) const { lpm_->ForEach(visit); }

}  // namespace isthmus
