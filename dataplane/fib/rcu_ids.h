#pragma once
// Ids of slots in arrays that workers read without locks (next hops,
// next-hop groups, LPM tbl8 blocks). A released id is handed out again only
// after every reader has passed a quiescent state (rte_rcu_qsbr), so a
// worker that still holds it never sees the slot rewritten under it.
// Control thread only.

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

struct rte_rcu_qsbr;

namespace isthmus {

class RcuIds {
 public:
  // Ids first..max-1; `what` names them in errors. `rcu` may be null
  // (single-threaded tests): then ids are reused at once.
  RcuIds(uint32_t first, uint32_t max, rte_rcu_qsbr* rcu, std::string what)
      : next_(first), max_(max), rcu_(rcu), what_(std::move(what)) {}

  // A fresh or safely reclaimed id; when all are taken but some await
  // their grace period, waits for the oldest.
  absl::StatusOr<uint32_t> Allocate();
  // Starts the grace period after which `id` may be reused.
  void Release(uint32_t id);
  uint32_t max() const { return max_; }

 private:
  struct Pending {
    uint32_t id;
    uint64_t token;
  };
  std::vector<uint32_t> free_;
  std::deque<Pending> pending_;
  uint32_t next_;
  uint32_t max_;
  rte_rcu_qsbr* rcu_;
  std::string what_;
};

}  // namespace isthmus
