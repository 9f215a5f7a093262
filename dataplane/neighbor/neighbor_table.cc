#include "dataplane/neighbor/neighbor_table.h"

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_ring.h>

#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"

namespace isthmus {
namespace {
std::atomic<uint32_t> g_instance{0};
}

absl::StatusOr<std::unique_ptr<NeighborTable>> NeighborTable::Create(uint32_t capacity, uint32_t request_ring_size,
                                                                      int socket_id) {
  auto table = std::unique_ptr<NeighborTable>(new NeighborTable());
  const uint32_t id = g_instance.fetch_add(1);
  const std::string hash_name = absl::StrCat("neigh_h", id);
  rte_hash_parameters params{};
  params.name = hash_name.c_str();
  params.entries = capacity;
  params.key_len = sizeof(uint64_t);
  params.hash_func = rte_jhash;
  params.socket_id = socket_id;
  // Readers on workers, one writer (control): lock-free concurrency.
  params.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF;
  table->hash_ = rte_hash_create(&params);
  if (table->hash_ == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat("neighbor hash: ", rte_strerror(rte_errno)));
  }
  const std::string ring_name = absl::StrCat("neigh_r", id);
  table->requests_ = rte_ring_create_elem(ring_name.c_str(), sizeof(uint64_t), rte_align32pow2(request_ring_size),
                                          socket_id, RING_F_SC_DEQ);
  if (table->requests_ == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat("neighbor request ring: ", rte_strerror(rte_errno)));
  }
  table->slots_ = std::make_unique<std::atomic<uint64_t>[]>(capacity);
  table->capacity_ = capacity;
  return table;
}

NeighborTable::~NeighborTable() {
  rte_hash_free(hash_);
  rte_ring_free(requests_);
}

uint32_t NeighborTable::Find(uint16_t port, uint32_t ip) const {
  const uint64_t key = Key(port, ip);
  void* data = nullptr;
  if (rte_hash_lookup_data(hash_, &key, &data) < 0) return kNoSlot;
  return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(data));
}

bool NeighborTable::RequestResolution(uint16_t port, uint32_t ip) {
  uint64_t key = Key(port, ip);
  if (rte_ring_mp_enqueue_elem(requests_, &key, sizeof(key)) != 0) {
    requests_dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

absl::StatusOr<uint32_t> NeighborTable::Intern(uint16_t port, uint32_t ip) {
  if (const uint32_t slot = Find(port, ip); slot != kNoSlot) return slot;
  if (keys_.size() >= capacity_) {
    return absl::ResourceExhaustedError(absl::StrCat("neighbor table full (", capacity_, " entries)"));
  }
  const auto slot = static_cast<uint32_t>(keys_.size());
  slots_[slot].store(0, std::memory_order_relaxed);
  const uint64_t key = Key(port, ip);
  const int rc = rte_hash_add_key_data(hash_, &key, reinterpret_cast<void*>(uintptr_t{slot}));
  if (rc < 0) return absl::ResourceExhaustedError(absl::StrCat("neighbor hash add: ", rte_strerror(-rc)));
  keys_.push_back(key);
  return slot;
}

void NeighborTable::Set(uint32_t slot, std::optional<MacAddr> mac) {
  uint64_t word = 0;
  if (mac) {
    for (int i = 0; i < 6; ++i) word |= uint64_t{(*mac)[i]} << (8 * (5 - i));
    word |= kValidBit;
  }
  slots_[slot].store(word, std::memory_order_release);
}

void NeighborTable::DrainRequests(std::vector<std::pair<uint16_t, uint32_t>>* out) {
  uint64_t keys[64];
  unsigned n;
  while ((n = rte_ring_sc_dequeue_burst_elem(requests_, keys, sizeof(uint64_t), 64, nullptr)) > 0) {
    for (unsigned i = 0; i < n; ++i) {
      out->emplace_back(static_cast<uint16_t>(keys[i] >> 32), static_cast<uint32_t>(keys[i]));
    }
  }
}

std::vector<NeighborTable::Entry> NeighborTable::Entries() const {
  std::vector<Entry> out;
  out.reserve(keys_.size());
  for (uint32_t slot = 0; slot < keys_.size(); ++slot) {
    Entry e{static_cast<uint16_t>(keys_[slot] >> 32), static_cast<uint32_t>(keys_[slot]), std::nullopt};
    MacAddr mac;
    if (Load(Word(slot), &mac)) e.mac = mac;
    out.push_back(e);
  }
  return out;
}

}  // namespace isthmus
