#pragma once
// Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable
// Software Network Load Balancer", NSDI 2016, section 3.4) with weights.
//
// The lookup table has a prime number of slots M; each backend fills slots
// in the order of its own permutation (offset + j * skip) mod M, taking
// turns with the others until every slot is owned. Removing a backend only
// frees its own slots (plus a few that shift because the turns change), so
// most flows keep their backend.
//
// Two appliances must build the same table from the same backend set with
// no shared state (issue 5 item 4: ECMP may send a flow to either). So the
// table depends only on the SET of backends and their weights:
//  - permutations come from fixed-seed hashes of the backend identity
//    (address:port), never from a per-process random seed;
//  - turns are taken in the order of the identities, not in the order the
//    caller lists them (the original algorithm is order-dependent).
//
// Pure logic: no DPDK, built once by the control thread, read by workers.

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"

namespace isthmus {

inline constexpr uint32_t kDefaultMaglevTableSize = 65537;
// The table stores backend indexes as uint16_t.
inline constexpr uint32_t kMaxMaglevBackends = 65535;
// 2^24 slots (32 MiB of uint16_t) is far beyond any useful table.
inline constexpr uint32_t kMaxMaglevTableSize = 1u << 24;

struct MaglevBackend {
  uint32_t address = 0;  // IPv4, host byte order
  uint16_t port = 0;     // part of the identity (0 is a valid value)
  uint32_t weight = 1;   // relative share of the table, >= 1
};

bool IsPrime(uint32_t n);

class MaglevTable {
 public:
  MaglevTable() = default;  // empty
  // Fails (InvalidArgument) when `size` is not a prime, is smaller than the
  // number of backends or larger than kMaxMaglevTableSize, when two
  // backends share an identity, or when a weight is 0. An empty backend set
  // gives an empty table (Pick must not be called on it).
  static absl::StatusOr<MaglevTable> Build(std::span<const MaglevBackend> backends,
                                           uint32_t size = kDefaultMaglevTableSize);

  // The index (into the span given to Build) of the backend for a flow.
  // Multiply-shift instead of `%`: a division by a runtime prime costs
  // 20-40 cycles per packet; this costs one multiplication and is just as
  // deterministic across instances.
  uint32_t Pick(uint32_t flow_hash) const {
    return slots_[static_cast<uint32_t>((uint64_t{flow_hash} * slots_.size()) >> 32)];
  }
  bool empty() const { return slots_.empty(); }
  uint32_t size() const { return static_cast<uint32_t>(slots_.size()); }
  // Slot -> backend index, for tests and `show services`.
  std::span<const uint16_t> slots() const { return slots_; }

 private:
  explicit MaglevTable(std::vector<uint16_t> slots) : slots_(std::move(slots)) {}
  std::vector<uint16_t> slots_;
};

}  // namespace isthmus
