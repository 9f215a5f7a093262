#pragma once
// Next-hop MAC addresses, mirrored from the kernel's neighbour table by the
// control thread (netlink) and read lock-free by workers.
//
// A slot is one atomic 64-bit word: the MAC in the low 48 bits and a valid
// bit, so a worker never sees half an address. Slots are found by
// (port, IPv4) in an rte_hash built for lock-free concurrent readers; only
// the control thread adds keys. Forwarding next hops cache their slot index,
// so only packets to directly connected hosts pay for the hash lookup.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "dataplane/packet/ipv4_check.h"

struct rte_hash;
struct rte_ring;

namespace isthmus {

class NeighborTable {
 public:
  static constexpr uint64_t kValidBit = uint64_t{1} << 63;
  static constexpr uint32_t kNoSlot = UINT32_MAX;

  // capacity: slots; request_ring_size: resolution requests from workers.
  static absl::StatusOr<std::unique_ptr<NeighborTable>> Create(uint32_t capacity, uint32_t request_ring_size,
                                                               int socket_id);
  ~NeighborTable();
  NeighborTable(const NeighborTable&) = delete;
  NeighborTable& operator=(const NeighborTable&) = delete;

  // --- workers (lock-free) ---
  uint32_t Find(uint16_t port, uint32_t ip) const;          // kNoSlot if unknown
  static bool Load(uint64_t word, MacAddr* mac) {
    if (!(word & kValidBit)) return false;
    for (int i = 0; i < 6; ++i) (*mac)[i] = static_cast<uint8_t>(word >> (8 * (5 - i)));
    return true;
  }
  uint64_t Word(uint32_t slot) const { return slots_[slot].load(std::memory_order_acquire); }
  // Asks the control thread to resolve (port, ip); false when the queue is full.
  bool RequestResolution(uint16_t port, uint32_t ip);

  // --- control thread (single writer) ---
  // Returns the slot for (port, ip), creating an unresolved one if needed.
  absl::StatusOr<uint32_t> Intern(uint16_t port, uint32_t ip);
  void Set(uint32_t slot, std::optional<MacAddr> mac);
  // Drains pending resolution requests into `out` (port, ip).
  void DrainRequests(std::vector<std::pair<uint16_t, uint32_t>>* out);

  struct Entry {
    uint16_t port;
    uint32_t ip;
    std::optional<MacAddr> mac;
  };
  std::vector<Entry> Entries() const;   // control thread only
  uint32_t size() const { return static_cast<uint32_t>(keys_.size()); }
  uint64_t requests_dropped() const { return requests_dropped_.load(std::memory_order_relaxed); }

 private:
  NeighborTable() = default;
  static uint64_t Key(uint16_t port, uint32_t ip) { return uint64_t{port} << 32 | ip; }

  rte_hash* hash_ = nullptr;
  rte_ring* requests_ = nullptr;
  std::unique_ptr<std::atomic<uint64_t>[]> slots_;
  uint32_t capacity_ = 0;
  std::vector<uint64_t> keys_;   // slot -> key, for Entries()
  std::atomic<uint64_t> requests_dropped_{0};
};

}  // namespace isthmus
