#include "dataplane/fib/lpm_table.h"

#include <rte_errno.h>
#include <rte_malloc.h>

#include <atomic>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace isthmus {

absl::StatusOr<std::unique_ptr<LpmTable>> LpmTable::Create(const std::string& name, uint32_t tbl8_blocks,
                                                           int socket_id, rte_rcu_qsbr* rcu) {
  if (tbl8_blocks == 0 || tbl8_blocks > kValueMask) {
    return absl::InvalidArgumentError(absl::StrCat("LPM '", name, "': tbl8 blocks must be 1..", kValueMask));
  }
  auto table = std::unique_ptr<LpmTable>(new LpmTable(tbl8_blocks, rcu));
  // Zeroed memory reads as "no route" everywhere.
  table->tbl24_ = static_cast<uint32_t*>(
      rte_zmalloc_socket(absl::StrCat(name, "_tbl24").c_str(), sizeof(uint32_t) * kTbl24Entries, 64, socket_id));
  table->tbl8_ = static_cast<uint32_t*>(rte_zmalloc_socket(
      absl::StrCat(name, "_tbl8").c_str(), sizeof(uint32_t) * kTbl8Entries * uint64_t{tbl8_blocks}, 64, socket_id));
  const uint64_t bytes = sizeof(uint32_t) * (kTbl24Entries + kTbl8Entries * uint64_t{tbl8_blocks});
  if (table->tbl24_ == nullptr || table->tbl8_ == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat("LPM '", name, "': cannot allocate ", bytes >> 20,
                                                     " MiB of DPDK memory: ", rte_strerror(rte_errno)));
  }
  // Made resident now (without hugepages, fresh DPDK memory is untouched
  // anonymous pages): the table's memory shows at start instead of growing
  // with the first full table, and no route install page-faults.
  std::memset(table->tbl24_, 0, sizeof(uint32_t) * kTbl24Entries);
  std::memset(table->tbl8_, 0, sizeof(uint32_t) * kTbl8Entries * uint64_t{tbl8_blocks});
  return table;
}

LpmTable::~LpmTable() {
  rte_free(tbl24_);
  rte_free(tbl8_);
}

bool LpmTable::Overwritable(uint32_t old, uint8_t len) { return !(old & kValid) || DepthOf(old) <= len; }

// Entries of exactly this length in the route's range are the route's own:
// ranges of equal-length routes never overlap.
bool LpmTable::WrittenBy(uint32_t old, uint8_t len) { return (old & kValid) && DepthOf(old) == len; }

void LpmTable::WriteBlock(uint32_t* block, uint32_t first, uint32_t count, uint8_t len, uint32_t entry,
                          Match match) {
  for (uint32_t j = first; j < first + count; ++j) {
    if (match(Load(block[j]), len)) Store(block[j], entry);
  }
}

void LpmTable::WriteShort(uint32_t prefix, uint8_t len, uint32_t entry, Match match) {
  const uint32_t first = prefix >> 8;
  const uint32_t count = 1u << (kTbl24Bits - len);
  for (uint32_t i = first; i < first + count; ++i) {
    const uint32_t old = Load(tbl24_[i]);
    if (old & kExt) {
      WriteBlock(Block(old & kValueMask), 0, kTbl8Entries, len, entry, match);
    } else if (match(old, len)) {
      Store(tbl24_[i], entry);
    }
  }
}

absl::Status LpmTable::AddLong(uint32_t prefix, uint8_t len, uint32_t entry) {
  const uint32_t i = prefix >> 8;
  uint32_t slot = Load(tbl24_[i]);
  if (!(slot & kExt)) {
    absl::StatusOr<uint32_t> index = tbl8_ids_.Allocate();
    if (!index.ok()) return index.status();
    // The block starts as a copy of what the /24 resolved to, and is
    // complete before any reader can reach it.
    uint32_t* block = Block(*index);
    for (uint32_t j = 0; j < kTbl8Entries; ++j) Store(block[j], slot);
    // The /24 this entry held (if any) is no longer told by tbl24.
    if (IsImplicit24(slot)) rules_.insert(Rule(prefix & Mask(kTbl24Bits), kTbl24Bits, slot & kValueMask));
    std::atomic_thread_fence(std::memory_order_release);
    slot = kValid | kExt | *index;
    Store(tbl24_[i], slot);
    ++tbl8_in_use_;
  }
  WriteBlock(Block(slot & kValueMask), prefix & 0xff, 1u << (32 - len), len, entry, Overwritable);
  return absl::OkStatus();
}

absl::Status LpmTable::Add(uint32_t prefix, uint8_t len, uint32_t value, uint32_t* previous) {
  if (len > 32) return absl::InvalidArgumentError(absl::StrCat("prefix length ", len, " (accepted: 0..32)"));
  if (value == kMiss || value > kMaxValue) {
    return absl::InvalidArgumentError(absl::StrCat("LPM value ", value, " (accepted: 1..", kMaxValue, ")"));
  }
  prefix &= Mask(len);
  const uint32_t entry = Entry(len, value);
  if (len == kTbl24Bits && !(Load(tbl24_[prefix >> 8]) & kExt)) {
    // Kept by its tbl24 entry alone (see the top of lpm_table.h).
    const uint32_t old = Load(tbl24_[prefix >> 8]);
    const bool existed = IsImplicit24(old);
    if (previous != nullptr) *previous = existed ? (old & kValueMask) : kMiss;
    Store(tbl24_[prefix >> 8], entry);
    if (!existed) {
      ++routes_by_len_[len];
      ++routes_;
    }
    return absl::OkStatus();
  }
  if (len <= kTbl24Bits) {
    WriteShort(prefix, len, entry, Overwritable);
  } else if (absl::Status s = AddLong(prefix, len, entry); !s.ok()) {
    return s;
  }
  const uint64_t rule = Rule(prefix, len, value);
  auto [it, inserted] = rules_.insert(rule);
  if (previous != nullptr) *previous = inserted ? kMiss : ValueOf(*it);
  if (inserted) {
    ++routes_by_len_[len];
    ++routes_;
  } else {
    // Set elements are immutable: the value bits change by a new element
    // (a replacement is a best-path change, rare next to additions).
    rules_.erase(it);
    rules_.insert(rule);
  }
  return absl::OkStatus();
}

uint32_t LpmTable::Find(uint32_t prefix, uint8_t len) const {
  if (len == kTbl24Bits) {
    const uint32_t e = Load(tbl24_[prefix >> 8]);
    if (!(e & kExt)) return IsImplicit24(e) ? (e & kValueMask) : kMiss;
  }
  auto it = rules_.find(Key(prefix, len));
  return it == rules_.end() ? kMiss : ValueOf(*it);
}

uint32_t LpmTable::CoverEntry(uint32_t prefix, uint8_t len) const {
  for (int d = len - 1; d >= 0; --d) {
    if (routes_by_len_[d] == 0) continue;
    const auto depth = static_cast<uint8_t>(d);
    if (const uint32_t value = Find(prefix & Mask(depth), depth); value != kMiss) return Entry(depth, value);
  }
  return 0;
}

void LpmTable::MaybeFold(uint32_t tbl24_index) {
  const uint32_t slot = Load(tbl24_[tbl24_index]);
  const uint32_t index = slot & kValueMask;
  const uint32_t* block = Block(index);
  for (uint32_t j = 0; j < kTbl8Entries; ++j) {
    const uint32_t e = Load(block[j]);
    if ((e & kValid) && DepthOf(e) > kTbl24Bits) return;
  }
  // Everything left came from one route of /24 or shorter (or none): the
  // block is uniform. Readers that already hold its index still find the
  // same answers there until the grace period ends.
  const uint32_t folded = Load(block[0]);
  Store(tbl24_[tbl24_index], folded);
  // A /24 that held the block is told by its tbl24 entry again.
  if (IsImplicit24(folded)) rules_.erase(Key(tbl24_index << 8, kTbl24Bits));
  tbl8_ids_.Release(index);
  --tbl8_in_use_;
}

absl::Status LpmTable::Delete(uint32_t prefix, uint8_t len, uint32_t* previous) {
  if (len > 32) return absl::InvalidArgumentError(absl::StrCat("prefix length ", len, " (accepted: 0..32)"));
  prefix &= Mask(len);
  const uint32_t value = Find(prefix, len);
  if (value == kMiss) return absl::NotFoundError("route not in FIB");
  if (previous != nullptr) *previous = value;
  if (len != kTbl24Bits || (Load(tbl24_[prefix >> 8]) & kExt)) rules_.erase(Key(prefix, len));
  --routes_by_len_[len];
  --routes_;
  const uint32_t replacement = CoverEntry(prefix, len);
  if (len > kTbl24Bits) {
    const uint32_t i = prefix >> 8;
    WriteBlock(Block(Load(tbl24_[i]) & kValueMask), prefix & 0xff, 1u << (32 - len), len, replacement, WrittenBy);
    MaybeFold(i);
  } else {
    WriteShort(prefix, len, replacement, WrittenBy);
  }
  return absl::OkStatus();
}

uint32_t LpmTable::Get(uint32_t prefix, uint8_t len) const {
  if (len > 32) return kMiss;
  return Find(prefix & Mask(len), len);
}

void LpmTable::ForEach(absl::FunctionRef<void(uint32_t, uint8_t, uint32_t)> visit) const {
  for (const uint64_t rule : rules_) {
    visit(static_cast<uint32_t>(rule >> 32), static_cast<uint8_t>(rule >> kRuleKeyShift), ValueOf(rule));
  }
  if (routes_by_len_[kTbl24Bits] == 0) return;
  for (uint32_t i = 0; i < kTbl24Entries; ++i) {
    const uint32_t e = Load(tbl24_[i]);
    if (IsImplicit24(e)) visit(i << 8, kTbl24Bits, e & kValueMask);
  }
}

}  // namespace isthmus
