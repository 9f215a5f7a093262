#include "dataplane/service/maglev.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace isthmus {
namespace {

// Fixed seeds: the table must be the same in every process and on every
// appliance. Changing them moves every flow of every service: never do it
// in a release that may run next to an older one behind the same ECMP.
constexpr uint64_t kOffsetSeed = 0x6d61676c65762d6fULL;  // "maglev-o"
constexpr uint64_t kSkipSeed = 0x6d61676c65762d73ULL;    // "maglev-s"
constexpr uint16_t kNoOwner = 0xffff;

// MurmurHash3's 64-bit finalizer: a bijection with full avalanche, enough to
// turn a 48-bit identity into two independent-looking permutation seeds.
uint64_t Mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

uint64_t Identity(const MaglevBackend& b) { return uint64_t{b.address} << 16 | b.port; }

std::string IdentityText(const MaglevBackend& b) {
  return absl::StrCat(b.address >> 24, ".", (b.address >> 16) & 0xff, ".", (b.address >> 8) & 0xff, ".",
                      b.address & 0xff, ":", b.port);
}

absl::Status Validate(std::span<const MaglevBackend> backends, uint32_t size) {
  if (size > kMaxMaglevTableSize || !IsPrime(size)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Maglev table size ", size, " is not a prime up to ", kMaxMaglevTableSize, " (e.g. 65537)"));
  }
  if (backends.size() > kMaxMaglevBackends || backends.size() > size) {
    return absl::InvalidArgumentError(absl::StrCat(backends.size(), " backends do not fit a Maglev table of ", size,
                                                   " slots (at most ", std::min(size, kMaxMaglevBackends), ")"));
  }
  for (const MaglevBackend& b : backends) {
    if (b.weight == 0) return absl::InvalidArgumentError(absl::StrCat("backend ", IdentityText(b), " has weight 0"));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsPrime(uint32_t n) {
  if (n < 2) return false;
  if (n % 2 == 0) return n == 2;
  for (uint64_t d = 3; d * d <= n; d += 2) {
    if (n % d == 0) return false;
  }
  return true;
}

absl::StatusOr<MaglevTable> MaglevTable::Build(std::span<const MaglevBackend> backends, uint32_t size) {
  if (absl::Status s = Validate(backends, size); !s.ok()) return s;
  if (backends.empty()) return MaglevTable();

  // Turns go in identity order so that the caller's order does not matter.
  std::vector<uint32_t> order(backends.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return Identity(backends[a]) < Identity(backends[b]); });
  for (size_t i = 1; i < order.size(); ++i) {
    if (Identity(backends[order[i]]) == Identity(backends[order[i - 1]])) {
      return absl::InvalidArgumentError(absl::StrCat("backend ", IdentityText(backends[order[i]]), " is listed twice"));
    }
  }

  struct Cursor {
    uint64_t position;  // the next slot of this backend's permutation
    uint64_t skip;
    uint64_t credit = 0;
  };
  std::vector<Cursor> cursors;
  cursors.reserve(order.size());
  uint32_t max_weight = 0;
  for (uint32_t index : order) {
    const uint64_t id = Identity(backends[index]);
    cursors.push_back({Mix64(id ^ kOffsetSeed) % size, Mix64(id ^ kSkipSeed) % (size - 1) + 1});
    max_weight = std::max(max_weight, backends[index].weight);
  }

  // Weighted turns (as Katran's MaglevV2): each round a backend earns its
  // weight in credit and takes a slot per max_weight of credit, so a
  // backend's share of the slots is weight / sum of weights.
  std::vector<uint16_t> slots(size, kNoOwner);
  uint32_t filled = 0;
  while (true) {
    for (size_t k = 0; k < order.size(); ++k) {
      Cursor& c = cursors[k];
      c.credit += backends[order[k]].weight;
      if (c.credit < max_weight) continue;
      c.credit -= max_weight;
      // Every skip is in 1..size-1 and size is prime, so the permutation
      // visits every slot: the search ends while any slot is free.
      while (slots[c.position] != kNoOwner) {
        c.position += c.skip;
        if (c.position >= size) c.position -= size;
      }
      slots[c.position] = static_cast<uint16_t>(order[k]);
      if (++filled == size) return MaglevTable(std::move(slots));
    }
  }
}

}  // namespace isthmus
