#include "dataplane/fib/fib.h"

#include <rte_errno.h>
#include <rte_lpm.h>
#include <rte_rcu_qsbr.h>

#include <algorithm>
#include <atomic>

#include "absl/strings/str_cat.h"

namespace isthmus {

absl::StatusOr<std::unique_ptr<Fib>> Fib::Create(const FibParams& params, rte_rcu_qsbr* rcu) {
  auto fib = std::unique_ptr<Fib>(new Fib());
  fib->params_ = params;
  fib->rcu_ = rcu;
  rte_lpm_config config{};
  config.max_rules = params.max_routes;
  config.number_tbl8s = params.tbl8_groups;
  fib->lpm_ = rte_lpm_create(params.name.c_str(), params.socket_id, &config);
  if (fib->lpm_ == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot create LPM '", params.name, "' for ", params.max_routes,
                                                     " routes: ", rte_strerror(rte_errno)));
  }
  if (rcu != nullptr) {
    rte_lpm_rcu_config rcu_config{};
    rcu_config.v = rcu;
    rcu_config.mode = RTE_LPM_QSBR_MODE_DQ;
    if (rte_lpm_rcu_qsbr_add(fib->lpm_, &rcu_config) != 0) {
      return absl::InternalError(absl::StrCat("rte_lpm_rcu_qsbr_add: ", rte_strerror(rte_errno)));
    }
  }
  // The LPM's next-hop field is 24 bits wide.
  fib->params_.max_groups = std::min<uint32_t>(params.max_groups, 1u << 24);
  fib->groups_ = std::make_unique<NexthopGroup[]>(fib->params_.max_groups);
  fib->nexthops_ = std::make_unique<Nexthop[]>(params.max_nexthops);
  fib->group_refs_.assign(fib->params_.max_groups, 0);
  fib->group_members_.resize(fib->params_.max_groups);
  fib->nexthop_refs_.assign(params.max_nexthops, 0);
  return fib;
}

Fib::~Fib() { rte_lpm_free(lpm_); }

void Fib::Defer(std::deque<Pending>* pending, uint32_t id) {
  const uint64_t token = rcu_ != nullptr ? rte_rcu_qsbr_start(rcu_) : 0;
  pending->push_back({id, token});
}

absl::StatusOr<uint32_t> Fib::Allocate(std::vector<uint32_t>* free_ids, std::deque<Pending>* pending, uint32_t* next,
                                       uint32_t max, const char* what) {
  // Reclaim ids whose readers have all passed a quiescent state.
  while (!pending->empty() && (rcu_ == nullptr || rte_rcu_qsbr_check(rcu_, pending->front().token, false) == 1)) {
    free_ids->push_back(pending->front().id);
    pending->pop_front();
  }
  if (!free_ids->empty()) {
    const uint32_t id = free_ids->back();
    free_ids->pop_back();
    return id;
  }
  if (*next < max) return (*next)++;
  if (!pending->empty() && rcu_ != nullptr) {
    // Out of fresh ids: wait for the oldest grace period (control thread only).
    rte_rcu_qsbr_check(rcu_, pending->front().token, true);
    const uint32_t id = pending->front().id;
    pending->pop_front();
    return id;
  }
  return absl::ResourceExhaustedError(absl::StrCat("FIB out of ", what, " (", max, " in use)"));
}

absl::StatusOr<uint32_t> Fib::AcquireNexthop(const Nexthop& nh) {
  if (auto it = nexthop_ids_.find(nh); it != nexthop_ids_.end()) {
    ++nexthop_refs_[it->second];
    return it->second;
  }
  auto id = Allocate(&free_nexthops_, &pending_nexthops_, &next_nexthop_, params_.max_nexthops, "next hops");
  if (!id.ok()) return id.status();
  nexthops_[*id] = nh;
  nexthop_ids_.emplace(nh, *id);
  nexthop_refs_[*id] = 1;
  return *id;
}

void Fib::ReleaseNexthop(uint32_t id) {
  if (--nexthop_refs_[id] != 0) return;
  nexthop_ids_.erase(nexthops_[id]);
  Defer(&pending_nexthops_, id);
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
  auto gid = Allocate(&free_groups_, &pending_groups_, &next_group_, params_.max_groups, "next-hop groups");
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
  Defer(&pending_groups_, id);
}

absl::Status Fib::Set(uint32_t prefix, uint8_t len, const std::vector<Nexthop>& members) {
  auto gid = AcquireGroup(members);
  if (!gid.ok()) return gid.status();
  const uint64_t key = RouteKey(prefix, len);
  const int rc = rte_lpm_add(lpm_, prefix, len, *gid);
  if (rc < 0) {
    ReleaseGroup(*gid);
    return absl::ResourceExhaustedError(absl::StrCat("LPM add failed: ", rte_strerror(-rc),
                                                     " (raise dataplane.fib_max_routes or fib_tbl8_groups)"));
  }
  auto [it, inserted] = routes_.try_emplace(key, *gid);
  if (!inserted) {
    const uint32_t old = it->second;
    it->second = *gid;
    ReleaseGroup(old);   // after the LPM points elsewhere; reused only after a grace period
  }
  return absl::OkStatus();
}

absl::Status Fib::Delete(uint32_t prefix, uint8_t len) {
  auto it = routes_.find(RouteKey(prefix, len));
  if (it == routes_.end()) return absl::NotFoundError("route not in FIB");
  const int rc = rte_lpm_delete(lpm_, prefix, len);
  if (rc < 0) return absl::InternalError(absl::StrCat("LPM delete failed: ", rte_strerror(-rc)));
  ReleaseGroup(it->second);
  routes_.erase(it);
  return absl::OkStatus();
}

int64_t Fib::GroupOf(uint32_t prefix, uint8_t len) const {
  auto it = routes_.find(RouteKey(prefix, len));
  return it == routes_.end() ? -1 : it->second;
}

}  // namespace isthmus
