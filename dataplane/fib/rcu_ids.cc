#include "dataplane/fib/rcu_ids.h"

#include <rte_rcu_qsbr.h>

#include "absl/strings/str_cat.h"

namespace isthmus {

void RcuIds::Release(uint32_t id) {
  const uint64_t token = rcu_ != nullptr ? rte_rcu_qsbr_start(rcu_) : 0;
  pending_.push_back({id, token});
}

absl::StatusOr<uint32_t> RcuIds::Allocate() {
  // Reclaim ids whose readers have all passed a quiescent state.
  while (!pending_.empty() && (rcu_ == nullptr || rte_rcu_qsbr_check(rcu_, pending_.front().token, false) == 1)) {
    free_.push_back(pending_.front().id);
    pending_.pop_front();
  }
  if (!free_.empty()) {
    const uint32_t id = free_.back();
    free_.pop_back();
    return id;
  }
  if (next_ < max_) return next_++;
  if (!pending_.empty()) {
    // Out of fresh ids: wait for the oldest grace period (control thread only).
    rte_rcu_qsbr_check(rcu_, pending_.front().token, true);
    const uint32_t id = pending_.front().id;
    pending_.pop_front();
    return id;
  }
  return absl::ResourceExhaustedError(absl::StrCat("FIB out of ", what_, " (", max_, " in use)"));
}

}  // namespace isthmus
