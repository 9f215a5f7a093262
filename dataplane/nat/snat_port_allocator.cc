#include "dataplane/nat/snat_port_allocator.h"

#include <algorithm>
#include <bit>

#include "absl/strings/str_cat.h"
#include "dataplane/packet/ipv4_check.h"   // kIpProtoUdp
#include "dataplane/tunnel/mss_clamp.h"     // kIpProtoTcp

namespace isthmus {
absl::StatusOr<std::unique_ptr<SnatPortAllocator>> SnatPortAllocator::Create(const SnatPortAllocatorConfig& config) {
  if (config.addresses.empty()) return absl::InvalidArgumentError("snat: the address pool is empty");
  if (config.port_min == 0 || config.port_min > config.port_max) {
    return absl::InvalidArgumentError(absl::StrCat("snat: port range ", config.port_min, "-", config.port_max,
                                                   " is empty or includes 0 (expected 1 <= min <= max <= 65535)"));
  }
  if (config.workers == 0) return absl::InvalidArgumentError("snat: at least one worker must allocate");
  std::vector<uint32_t> sorted = config.addresses;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    return absl::InvalidArgumentError("snat: the address pool lists an address twice");
  }
  return std::unique_ptr<SnatPortAllocator>(new SnatPortAllocator(config));
}

SnatPortAllocator::SnatPortAllocator(const SnatPortAllocatorConfig& config)
    : addresses_(config.addresses),
      port_min_(config.port_min),
      port_count_(uint32_t{config.port_max} - config.port_min + 1),
      words_per_pool_((port_count_ + kBitsPerWord - 1) / kBitsPerWord),
      worker_count_(config.workers) {
  const uint32_t pools = static_cast<uint32_t>(addresses_.size()) * kProtocols;
  words_ = std::make_unique<std::atomic<uint64_t>[]>(size_t{pools} * words_per_pool_);
  // Bits past the last port of the range are marked taken once, so the
  // search needs no range check.
  const uint32_t tail_bits = port_count_ % kBitsPerWord;
  const uint64_t tail_mask = tail_bits == 0 ? 0 : ~uint64_t{0} << tail_bits;
  for (uint32_t p = 0; p < pools; ++p) {
    for (uint32_t w = 0; w < words_per_pool_; ++w) PoolWords(p)[w].store(0, std::memory_order_relaxed);
    PoolWords(p)[words_per_pool_ - 1].store(tail_mask, std::memory_order_relaxed);
  }
  workers_ = std::make_unique<WorkerState[]>(worker_count_);
  for (uint32_t w = 0; w < worker_count_; ++w) {
    // Each worker starts in its own slice of every bitmap.
    workers_[w].cursor.assign(pools, static_cast<uint32_t>(uint64_t{w} * words_per_pool_ / worker_count_));
    workers_[w].full_at.assign(pools, kNeverFull);
  }
  release_epoch_ = std::make_unique<std::atomic<uint32_t>[]>(pools);
  for (uint32_t p = 0; p < pools; ++p) release_epoch_[p].store(0, std::memory_order_relaxed);
}

int SnatPortAllocator::ProtocolSlot(uint8_t proto) {
  switch (proto) {
    case kIpProtoTcp:
      return 0;
    case kIpProtoUdp:
      return 1;
    case kIpProtoIcmp:
      return 2;
    default:
      return -1;
  }
}

int SnatPortAllocator::AddressIndex(uint32_t addr) const {
  for (size_t i = 0; i < addresses_.size(); ++i) {
    if (addresses_[i] == addr) return static_cast<int>(i);
  }
  return -1;
}

bool SnatPortAllocator::TakeFromPool(uint32_t pool, WorkerState& worker, uint16_t* port) {
  std::atomic<uint64_t>* words = PoolWords(pool);
  uint32_t w = worker.cursor[pool];
  for (uint32_t scanned = 0; scanned < words_per_pool_; ++scanned) {
    uint64_t v = words[w].load(std::memory_order_relaxed);
    while (v != ~uint64_t{0}) {
      const uint64_t bit = uint64_t{1} << std::countr_one(v);
      // fetch_or tells whether another worker took the same bit first.
      const uint64_t before = words[w].fetch_or(bit, std::memory_order_acq_rel);
      if ((before & bit) == 0) {
        worker.cursor[pool] = w;
        *port = static_cast<uint16_t>(port_min_ + w * kBitsPerWord + std::countr_zero(bit));
        return true;
      }
      v = before | bit;
    }
    if (++w == words_per_pool_) w = 0;
  }
  return false;
}

template <typename IndexOf>
SnatAllocation SnatPortAllocator::AllocateAmong(uint8_t proto, uint32_t worker, uint32_t hint, uint32_t count,
                                                IndexOf index_of) {
  const int slot = ProtocolSlot(proto);
  if (slot < 0 || worker >= worker_count_) return {NatError::kSnatPortsExhausted, 0, 0};
  WorkerState& state = workers_[worker];
  for (uint32_t i = 0; i < count; ++i) {
    const int a = index_of((hint + i) % count);
    if (a < 0) continue;
    const uint32_t pool = static_cast<uint32_t>(a) * kProtocols + static_cast<uint32_t>(slot);
    // Read before the scan: a release during the scan makes it stale.
    const uint32_t epoch = release_epoch_[pool].load(std::memory_order_acquire);
    if (state.full_at[pool] == epoch) continue;
    uint16_t port = 0;
    if (TakeFromPool(pool, state, &port)) {
      state.allocated.store(state.allocated.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return {NatError::kNone, addresses_[static_cast<size_t>(a)], port};
    }
    state.full_at[pool] = epoch;
  }
  state.exhausted.store(state.exhausted.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return {NatError::kSnatPortsExhausted, 0, 0};
}

SnatAllocation SnatPortAllocator::Allocate(uint8_t proto, uint32_t worker, uint32_t hint) {
  return AllocateAmong(proto, worker, hint, static_cast<uint32_t>(addresses_.size()),
                       [](uint32_t i) { return static_cast<int>(i); });
}

SnatAllocation SnatPortAllocator::Allocate(uint8_t proto, uint32_t worker, uint32_t hint,
                                           std::span<const uint32_t> pool) {
  return AllocateAmong(proto, worker, hint, static_cast<uint32_t>(pool.size()),
                       [&](uint32_t i) { return AddressIndex(pool[i]); });
}

void SnatPortAllocator::Release(uint8_t proto, uint32_t addr, uint16_t port) {
  const int slot = ProtocolSlot(proto);
  const int a = AddressIndex(addr);
  if (slot < 0 || a < 0 || port < port_min_ || port - port_min_ >= static_cast<int>(port_count_)) {
    bad_releases_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const uint32_t offset = port - port_min_;
  const uint64_t bit = uint64_t{1} << (offset % kBitsPerWord);
  const uint32_t pool = static_cast<uint32_t>(a) * kProtocols + static_cast<uint32_t>(slot);
  if ((PoolWords(pool)[offset / kBitsPerWord].fetch_and(~bit, std::memory_order_acq_rel) & bit) == 0) {
    bad_releases_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  release_epoch_[pool].fetch_add(1, std::memory_order_release);
  released_.fetch_add(1, std::memory_order_relaxed);
}

bool SnatPortAllocator::IsAllocated(uint8_t proto, uint32_t addr, uint16_t port) const {
  const int slot = ProtocolSlot(proto);
  const int a = AddressIndex(addr);
  if (slot < 0 || a < 0 || port < port_min_ || port - port_min_ >= static_cast<int>(port_count_)) return false;
  const uint32_t offset = port - port_min_;
  const uint64_t v =
      PoolWords(static_cast<uint32_t>(a) * kProtocols + static_cast<uint32_t>(slot))[offset / kBitsPerWord].load(
          std::memory_order_relaxed);
  return (v >> (offset % kBitsPerWord)) & 1;
}

uint64_t SnatPortAllocator::InUse() const {
  uint64_t allocated = 0;
  for (uint32_t w = 0; w < worker_count_; ++w) allocated += workers_[w].allocated.load(std::memory_order_relaxed);
  // Read the releases last: a port released after being counted allocated
  // cannot make the difference negative.
  const uint64_t released = released_.load(std::memory_order_relaxed);
  return allocated >= released ? allocated - released : 0;
}

uint64_t SnatPortAllocator::exhausted() const {
  uint64_t n = 0;
  for (uint32_t w = 0; w < worker_count_; ++w) n += workers_[w].exhausted.load(std::memory_order_relaxed);
  return n;
}

size_t SnatPortAllocator::MemoryBytes() const {
  return addresses_.size() * kProtocols * words_per_pool_ * sizeof(uint64_t) +
         worker_count_ * (sizeof(WorkerState) + 2 * addresses_.size() * kProtocols * sizeof(uint32_t)) +
         addresses_.size() * kProtocols * sizeof(uint32_t);
}

}  // namespace isthmus
