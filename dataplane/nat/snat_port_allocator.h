#pragma once
// Source ports for SNAT: one atomic bitmap per (SNAT address, protocol), so
// a port is never handed to two flows, whichever worker asks. Each worker
// starts its search in its own slice of the bitmap and remembers where it
// last found a free port, so workers neither contend on the same cache lines
// nor rescan full words in the common case. A port comes back when its flow
// ages out (FlowTable calls Release) or when a flow setup fails.
//
// TCP, UDP and ICMP echo (whose identifier plays the port, flow_key.h) have
// separate bitmaps: the same number on two protocols is two different reply
// keys.

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "dataplane/nat/flow_key.h"
#include "dataplane/nat/nat_error.h"

namespace isthmus {

struct SnatPortAllocatorConfig {
  std::vector<uint32_t> addresses;   // host byte order
  uint16_t port_min = 1024;          // below: well-known ports a backend may treat specially
  uint16_t port_max = 65535;
  uint32_t workers = 1;              // callers of Allocate pass 0..workers-1
};

struct SnatAllocation {
  NatError error = NatError::kNone;  // kNone or kSnatPortsExhausted
  uint32_t addr = 0;
  uint16_t port = 0;
};

class SnatPortAllocator {
 public:
  // Errors name the configuration mistake (no address, empty port range).
  static absl::StatusOr<std::unique_ptr<SnatPortAllocator>> Create(const SnatPortAllocatorConfig& config);

  // A free port for `proto` (TCP, UDP or ICMP). `hint` picks the address
  // tried first (e.g. a hash of the client address, to spread flows over the
  // pool); the others are tried in turn before giving up. Lock-free.
  SnatAllocation Allocate(uint8_t proto, uint32_t worker, uint32_t hint);
  // The same, among `pool` only (a service's SNAT addresses, a subset of
  // the configured ones; others are ignored).
  SnatAllocation Allocate(uint8_t proto, uint32_t worker, uint32_t hint, std::span<const uint32_t> pool);
  // Returns a port Allocate handed out. Any thread; ports not allocated
  // (a bug in the caller) are ignored and counted in bad_releases().
  void Release(uint8_t proto, uint32_t addr, uint16_t port);

  bool IsAllocated(uint8_t proto, uint32_t addr, uint16_t port) const;
  // Ports in use over every address and protocol.
  uint64_t InUse() const;
  uint64_t bad_releases() const { return bad_releases_.load(std::memory_order_relaxed); }
  // Allocations that found no free port (each a nat_snat_ports_exhausted drop).
  uint64_t exhausted() const;
  // Ports per (address, protocol).
  uint32_t ports_per_pool() const { return port_count_; }
  size_t MemoryBytes() const;

 private:
  static constexpr uint32_t kProtocols = 3;  // TCP, UDP, ICMP
  static constexpr uint32_t kBitsPerWord = 64;
  static constexpr uint32_t kNeverFull = ~0u;
  struct alignas(64) WorkerState {
    std::vector<uint32_t> cursor;            // next word to look at, per pool
    // Per pool: the release epoch at which this worker found it full
    // (kNeverFull otherwise). A full pool is skipped until something is
    // released, so exhaustion costs one scan, not one per new flow.
    std::vector<uint32_t> full_at;
    std::atomic<uint64_t> allocated{0};      // only this worker writes these two
    std::atomic<uint64_t> exhausted{0};
  };

  explicit SnatPortAllocator(const SnatPortAllocatorConfig& config);
  // Pool index of (address index, protocol) or -1 for an unknown protocol.
  static int ProtocolSlot(uint8_t proto);
  int AddressIndex(uint32_t addr) const;
  // Tries `count` address indexes from `index_of(i)`, starting at `hint`.
  template <typename IndexOf>
  SnatAllocation AllocateAmong(uint8_t proto, uint32_t worker, uint32_t hint, uint32_t count, IndexOf index_of);
  bool TakeFromPool(uint32_t pool, WorkerState& worker, uint16_t* port);
  std::atomic<uint64_t>* PoolWords(uint32_t pool) { return words_.get() + size_t{pool} * words_per_pool_; }
  const std::atomic<uint64_t>* PoolWords(uint32_t pool) const { return words_.get() + size_t{pool} * words_per_pool_; }

  std::vector<uint32_t> addresses_;
  uint16_t port_min_;
  uint32_t port_count_;
  uint32_t words_per_pool_;
  std::unique_ptr<std::atomic<uint64_t>[]> words_;   // pools back to back
  std::unique_ptr<WorkerState[]> workers_;
  std::unique_ptr<std::atomic<uint32_t>[]> release_epoch_;   // per pool, bumped by Release
  uint32_t worker_count_;
  std::atomic<uint64_t> released_{0};
  std::atomic<uint64_t> bad_releases_{0};
};

}  // namespace isthmus
