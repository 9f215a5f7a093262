#pragma once
// The services the workers read (issue 5): for a packet's (VIP, protocol,
// destination port), which service it belongs to, its backends and the
// Maglev table over the healthy ones.
//
// One writer (the control thread) builds a complete, immutable
// ServiceSnapshot from the configuration and the health state whenever
// either changes, and publishes it with one release store. A worker loads
// the pointer once per burst and may use it until its next quiescent state;
// the replaced snapshot is freed only after an RCU grace period
// (rte_rcu_qsbr), as TunnelTable does with its entries. A snapshot is a
// few hundred KiB per service (mostly the Maglev table) and backend changes
// are rare, so rebuilding everything keeps the readers trivial.

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "control/config/config.h"
#include "dataplane/service/maglev.h"

struct rte_rcu_qsbr;

namespace isthmus {

inline constexpr uint32_t kNoBackend = UINT32_MAX;

struct ServiceBackend {
  uint32_t address = 0;  // host byte order
  uint16_t port = 0;     // 0: the packet's destination port (no port translation)
  bool healthy = false;
};

struct ServiceEntry {
  uint32_t id = 0;       // index of the service in Config::services
  uint32_t vip = 0;      // host byte order
  uint8_t protocol = 0;  // IPPROTO_TCP or IPPROTO_UDP
  std::vector<ServiceBackend> backends;  // in config order; flows keep these indexes
  std::vector<uint16_t> healthy;         // indexes into backends: the Maglev table's backends
  MaglevTable maglev;                    // over `healthy`; empty when none is
  std::vector<uint32_t> snat_pool;       // host byte order; empty: no SNAT
  BackendDownPolicy on_backend_down = BackendDownPolicy::kReset;
  FlowTimeouts timeouts;

  bool draining = false;  // withdrawn by a drain: established flows only, no new ones

  // The backend (index into `backends`) for a new flow, or kNoBackend when
  // no backend is healthy or the service is draining.
  uint32_t PickBackend(uint32_t flow_hash) const {
    if (maglev.empty() || draining) return kNoBackend;
    return healthy[maglev.Pick(flow_hash)];
  }
};

// An open-addressing map from a non-zero 64-bit key to a 32-bit value,
// built once and then only read: one multiplication and, at the load
// factor kept here (at most 1/2), one or two probes.
class FlatKeyIndex {
 public:
  static constexpr uint32_t kNotFound = UINT32_MAX;
  // Keys must be non-zero (zero marks an empty slot) and distinct.
  explicit FlatKeyIndex(std::span<const std::pair<uint64_t, uint32_t>> entries);
  uint32_t Find(uint64_t key) const {
    if (key == 0) return kNotFound;
    for (uint64_t i = Home(key);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return s.value;
      if (s.key == 0) return kNotFound;
    }
  }

 private:
  struct Slot {
    uint64_t key = 0;
    uint32_t value = kNotFound;
  };
  uint64_t Home(uint64_t key) const { return (key * 0x9e3779b97f4a7c15ULL) >> shift_; }
  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  uint32_t shift_ = 0;
};

class ServiceSnapshot {
 public:
  // Whether backend `backend` of service `service` (indexes into
  // Config::services and its backends) is up.
  using HealthView = absl::FunctionRef<bool(size_t service, size_t backend)>;
  // Whether service `service` is draining (takes no new flows).
  using DrainView = absl::FunctionRef<bool(size_t service)>;

  // Fails when the services cannot be served as given (a Maglev table that
  // cannot be built, a (VIP, protocol, port) listed twice); a validated
  // Config never fails here.
  static absl::StatusOr<std::unique_ptr<const ServiceSnapshot>> Build(std::span<const ServiceConfig> services,
                                                                      uint32_t maglev_table_size, HealthView healthy);
  static absl::StatusOr<std::unique_ptr<const ServiceSnapshot>> Build(std::span<const ServiceConfig> services,
                                                                      uint32_t maglev_table_size, HealthView healthy,
                                                                      DrainView draining);
  // The snapshot with no services: what workers see before the first Publish.
  static std::unique_ptr<const ServiceSnapshot> Empty();

  // --- workers ---
  // The service for a packet to vip:port over `protocol`; null when none.
  const ServiceEntry* Find(uint32_t vip, uint8_t protocol, uint16_t port) const {
    const uint32_t i = by_key_.Find(Key(vip, protocol, port));
    return i == FlatKeyIndex::kNotFound ? nullptr : &entries_[i];
  }
  // Whether `address` is the VIP of any service (any protocol and port):
  // lets the pipeline skip the NAT stage for every other packet.
  bool IsVip(uint32_t address) const { return vips_.Find(address) != FlatKeyIndex::kNotFound; }
  // Whether a packet from `src` to `dst` may be the reply direction of a
  // translated flow: from a backend, or to a SNAT address. Every other
  // packet that is not to a VIP (and not an ICMP error) skips the flow table.
  bool MayBeReply(uint32_t src, uint32_t dst) const {
    return reply_addresses_.Find(src) != FlatKeyIndex::kNotFound ||
           reply_addresses_.Find(dst) != FlatKeyIndex::kNotFound;
  }
  bool empty() const { return entries_.empty(); }
  std::span<const ServiceEntry> entries() const { return entries_; }

 private:
  ServiceSnapshot(std::vector<ServiceEntry> entries, FlatKeyIndex by_key, FlatKeyIndex vips,
                  FlatKeyIndex reply_addresses)
      : entries_(std::move(entries)),
        by_key_(std::move(by_key)),
        vips_(std::move(vips)),
        reply_addresses_(std::move(reply_addresses)) {}
  // Never 0: a VIP is never 0.0.0.0.
  static uint64_t Key(uint32_t vip, uint8_t protocol, uint16_t port) {
    return uint64_t{vip} << 32 | uint64_t{protocol} << 16 | port;
  }

  std::vector<ServiceEntry> entries_;
  FlatKeyIndex by_key_;  // (vip, protocol, port) -> index into entries_
  FlatKeyIndex vips_;    // vip -> any index
  FlatKeyIndex reply_addresses_;  // backend and SNAT addresses -> any index
};

class ServiceTable {
 public:
  // `rcu` may be null (single-threaded tests): replaced snapshots are then
  // freed at once.
  explicit ServiceTable(rte_rcu_qsbr* rcu);
  ~ServiceTable();
  ServiceTable(const ServiceTable&) = delete;
  ServiceTable& operator=(const ServiceTable&) = delete;

  // --- workers --- never null.
  const ServiceSnapshot* Get() const { return current_.load(std::memory_order_acquire); }

  // --- control thread ---
  // Makes `next` the snapshot workers see; the previous one is freed after
  // a grace period (Reclaim, or the next Publish).
  void Publish(std::unique_ptr<const ServiceSnapshot> next);
  void Reclaim();
  size_t pending() const { return retired_.size(); }

 private:
  struct Retired {
    std::unique_ptr<const ServiceSnapshot> snapshot;
    uint64_t token;
  };
  rte_rcu_qsbr* rcu_;
  std::atomic<const ServiceSnapshot*> current_;
  std::deque<Retired> retired_;
};

}  // namespace isthmus
