#pragma once
// The tunnels the workers read. One writer (the control thread) publishes
// immutable TunnelEntry objects into fixed slots indexed by tunnel id with a
// release store; workers load a slot with acquire and use the entry until
// their next quiescent state. A replaced or removed entry is freed only after
// an RCU grace period (rte_rcu_qsbr), like FIB next hops.

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>

#include "absl/status/status.h"
#include "dataplane/tunnel/decap_parser.h"
#include "dataplane/tunnel/tunnel.h"

struct rte_rcu_qsbr;

namespace isthmus {

class TunnelTable {
 public:
  explicit TunnelTable(rte_rcu_qsbr* rcu) : rcu_(rcu) {}
  ~TunnelTable();
  TunnelTable(const TunnelTable&) = delete;
  TunnelTable& operator=(const TunnelTable&) = delete;

  // --- workers ---
  const TunnelEntry* Get(uint32_t id) const {
    return id < kMaxTunnels ? slots_[id].load(std::memory_order_acquire) : nullptr;
  }
  bool empty() const { return limit_.load(std::memory_order_acquire) == 0; }
  const DecapPorts& decap_ports() const { return decap_ports_; }
  // The VXLAN tunnel terminating at (local, port) with `vni`; null when none.
  // A linear scan: tunnels are few (kMaxTunnels) and this runs only for
  // packets already known to be addressed to a tunnel port of ours.
  const TunnelEntry* FindVxlan(uint32_t local, uint16_t port, uint32_t vni) const {
    const uint32_t limit = limit_.load(std::memory_order_acquire);
    for (uint32_t id = 0; id < limit; ++id) {
      const TunnelEntry* t = slots_[id].load(std::memory_order_acquire);
      if (t != nullptr && t->kind == TunnelKind::kVxlan && t->vni == vni && t->local == local &&
          t->dst_port == port) {
        return t;
      }
    }
    return nullptr;
  }

  // The ESP tunnel terminating at `local` with an inbound SA `spi`. When
  // none has that SPI, *any_at_local is the tunnel at `local` (first one)
  // so the drop can be charged to it; null when no ESP tunnel ends there.
  const TunnelEntry* FindEsp(uint32_t local, uint32_t spi, const TunnelEntry** any_at_local) const {
    *any_at_local = nullptr;
    const uint32_t limit = limit_.load(std::memory_order_acquire);
    for (uint32_t id = 0; id < limit; ++id) {
      const TunnelEntry* t = slots_[id].load(std::memory_order_acquire);
      if (t == nullptr || t->kind != TunnelKind::kIpsec || t->local != local) continue;
      if (t->esp.FindInbound(spi) != nullptr) return t;
      if (*any_at_local == nullptr) *any_at_local = t;
    }
    return nullptr;
  }

  // --- control thread ---
  // Installs or replaces the entry with id entry.id. The set of VXLAN
  // destination ports must be complete before workers start (SetDecapPorts).
  [[nodiscard]] absl::Status Publish(const TunnelEntry& entry);
  [[nodiscard]] absl::Status Remove(uint32_t id);
  // Only before workers start: the ports ParseTunnelPacket recognises.
  [[nodiscard]] absl::Status SetDecapPorts(const DecapPorts& ports);
  // Frees replaced entries whose grace period has passed.
  void Reclaim();
  size_t pending() const { return retired_.size(); }

 private:
  struct Retired {
    std::unique_ptr<const TunnelEntry> entry;
    uint64_t token;
  };
  void Retire(const TunnelEntry* old);

  rte_rcu_qsbr* rcu_;
  std::array<std::atomic<const TunnelEntry*>, kMaxTunnels> slots_{};
  std::atomic<uint32_t> limit_{0};  // one past the highest id ever published
  DecapPorts decap_ports_;
  std::deque<Retired> retired_;
};

}  // namespace isthmus
