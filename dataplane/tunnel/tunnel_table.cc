#include "dataplane/tunnel/tunnel_table.h"

#include <rte_rcu_qsbr.h>

#include "absl/strings/str_cat.h"

namespace isthmus {

TunnelTable::~TunnelTable() {
  // Workers have stopped by now: nothing reads the slots any more.
  for (auto& slot : slots_) delete slot.exchange(nullptr);
}

absl::Status TunnelTable::Publish(const TunnelEntry& entry) {
  if (entry.id >= kMaxTunnels) {
    return absl::InvalidArgumentError(absl::StrCat("tunnel id ", entry.id, " beyond the limit of ", kMaxTunnels));
  }
  Reclaim();
  auto fresh = std::make_unique<const TunnelEntry>(entry);
  const TunnelEntry* old = slots_[entry.id].exchange(fresh.release(), std::memory_order_acq_rel);
  if (entry.id + 1 > limit_.load(std::memory_order_relaxed)) limit_.store(entry.id + 1, std::memory_order_release);
  Retire(old);
  return absl::OkStatus();
}

absl::Status TunnelTable::Remove(uint32_t id) {
  if (id >= kMaxTunnels) return absl::InvalidArgumentError(absl::StrCat("no tunnel id ", id));
  const TunnelEntry* old = slots_[id].exchange(nullptr, std::memory_order_acq_rel);
  if (old == nullptr) return absl::NotFoundError(absl::StrCat("tunnel id ", id, " is not published"));
  Retire(old);
  return absl::OkStatus();
}

absl::Status TunnelTable::SetDecapPorts(const DecapPorts& ports) {
  if (ports.vxlan_count > DecapPorts::kMax) return absl::InvalidArgumentError("too many tunnel ports");
  decap_ports_ = ports;
  return absl::OkStatus();
}

void TunnelTable::Retire(const TunnelEntry* old) {
  if (old == nullptr) return;
  const uint64_t token = rcu_ != nullptr ? rte_rcu_qsbr_start(rcu_) : 0;
  retired_.push_back({std::unique_ptr<const TunnelEntry>(old), token});
  if (rcu_ == nullptr) retired_.clear();  // no readers to wait for (tests)
}

void TunnelTable::Reclaim() {
  while (!retired_.empty() && rte_rcu_qsbr_check(rcu_, retired_.front().token, false) == 1) retired_.pop_front();
}

}  // namespace isthmus
