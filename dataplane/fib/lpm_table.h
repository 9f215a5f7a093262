#pragma once
// IPv4 longest-prefix match for the fast path: DIR-24-8 (Gupta, Lin and
// McKeown, "Routing lookups in hardware at memory access speeds", 1998), the
// layout of DPDK's rte_lpm: a 2^24-entry table indexed by the top 24 bits of
// the address, whose entries either hold the result or point to a 256-entry
// block (tbl8) indexed by the last byte, for /25-/32 routes. Every entry
// also stores the length of the route that wrote it, so that adding a
// shorter route never overwrites a longer one.
//
// Why not rte_lpm or rte_fib (DPDK 22.11, measured in perf/README.md):
// rte_lpm keeps its rules in one array that rte_lpm_add scans linearly per
// prefix length, so filling a full table is quadratic (1M DFZ-shaped
// prefixes: 86 s); rte_fib adds in about 1.6 us each (random order) but
// preallocates its rte_rib prefix tree, about 420 bytes per configured
// route, has no RCU hook for its tbl8 blocks, and loses a tbl8 reservation
// when a /25-/32 route has its covering route's value, after which every
// long route fails with ENOSPC. This table keeps its rules in a hash set of
// packed 64-bit words (8-byte slots: 9-17 bytes per rule with the control
// bytes, depending on where between two doublings the set is), except for
// the /24 routes (60% of the Internet's table) whose tbl24 entry is not
// extended into a tbl8 block: that entry already says exactly that the /24
// exists and its value (only a /24 writes length 24 into tbl24), so the
// set does not repeat it. A /24 moves into the set when its entry is
// extended, and back out when the block folds. The table adds and deletes
// in O(1) for /24 and longer (O(2^(24-len)) entries for shorter ones, like
// rte_lpm), and hands tbl8 blocks back only after an RCU grace period.
//
// One writer (the control thread), lock-free readers (workers). Entries
// are 32-bit words written with single atomic stores; a new tbl8 block is
// filled before the tbl24 entry that points to it is published.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "dataplane/fib/rcu_ids.h"

struct rte_rcu_qsbr;

namespace isthmus {

class LpmTable {
 public:
  // Values are 1..kMaxValue; lookups that match no route return kMiss.
  static constexpr uint32_t kMiss = 0;
  static constexpr uint32_t kMaxValue = (1u << 24) - 1;

  // `tbl8_blocks`: how many /24s may hold routes longer than /24 at once.
  // Memory: 64 MiB + 1 KiB per tbl8 block from DPDK's allocator on
  // `socket_id`, plus the rule map on the heap.
  static absl::StatusOr<std::unique_ptr<LpmTable>> Create(const std::string& name, uint32_t tbl8_blocks,
                                                          int socket_id, rte_rcu_qsbr* rcu);
  ~LpmTable();
  LpmTable(const LpmTable&) = delete;
  LpmTable& operator=(const LpmTable&) = delete;

  // --- workers ---
  uint32_t Lookup(uint32_t ip) const {
    uint32_t e = Load(tbl24_[ip >> 8]);
    if (e & kExt) e = Load(tbl8_[(e & kValueMask) << 8 | (ip & 0xff)]);
    return (e & kValid) ? (e & kValueMask) : kMiss;
  }
  // No prefetch pass: the loads of independent iterations already overlap
  // out of order; a pass in front measured slower (BM_FibLookupBulk_1M).
  void LookupBulk(const uint32_t* ips, uint32_t* values, uint32_t n) const {
    for (uint32_t i = 0; i < n; ++i) values[i] = Lookup(ips[i]);
  }

  // --- control thread (host-order prefixes; host bits are ignored) ---
  // Inserts or replaces; `previous` (optional) receives the value it
  // replaced, or kMiss. ResourceExhausted when a /25-/32 route needs a
  // tbl8 block and none is free; nothing changes then.
  absl::Status Add(uint32_t prefix, uint8_t len, uint32_t value, uint32_t* previous = nullptr);
  // NotFound when there is no such route; `previous` (optional) receives
  // the value removed.
  absl::Status Delete(uint32_t prefix, uint8_t len, uint32_t* previous = nullptr);
  // Starts loading what Add/Delete/Get of prefix/len will touch first (its
  // rule's slot, its tbl24 entry): for callers that apply many routes and
  // know the next few.
  void Prefetch(uint32_t prefix, uint8_t len) const {
    prefix &= Mask(len);
    if (len != kTbl24Bits) rules_.prefetch(Key(prefix, len));   // a /24 is usually in tbl24 alone
    __builtin_prefetch(&tbl24_[prefix >> 8], 1);
  }
  // The value of exactly prefix/len, or kMiss.
  uint32_t Get(uint32_t prefix, uint8_t len) const;
  size_t size() const { return routes_; }
  uint32_t tbl8_in_use() const { return tbl8_in_use_; }
  // Every route (prefix, len, value), in no particular order. Reads the
  // whole tbl24 (16M entries, tens of ms) when there are /24 routes.
  void ForEach(absl::FunctionRef<void(uint32_t prefix, uint8_t len, uint32_t value)> visit) const;

 private:
  // Entry layout: valid | ext | 6-bit route length | 24-bit value (for an
  // ext tbl24 entry: the tbl8 block index).
  static constexpr uint32_t kValid = 1u << 31;
  static constexpr uint32_t kExt = 1u << 30;
  static constexpr int kDepthShift = 24;
  static constexpr uint32_t kDepthMask = 0x3fu << kDepthShift;
  static constexpr uint32_t kValueMask = (1u << 24) - 1;
  static constexpr uint32_t kTbl24Entries = 1u << 24;
  static constexpr uint32_t kTbl8Entries = 256;
  static constexpr uint8_t kTbl24Bits = 24;

  LpmTable(uint32_t tbl8_blocks, rte_rcu_qsbr* rcu) : tbl8_ids_(0, tbl8_blocks, rcu, "tbl8 blocks (raise dataplane.fib_tbl8_groups)") {}
  static uint32_t Load(const uint32_t& e) { return __atomic_load_n(&e, __ATOMIC_RELAXED); }
  static void Store(uint32_t& e, uint32_t v) { __atomic_store_n(&e, v, __ATOMIC_RELAXED); }
  static uint32_t Entry(uint8_t len, uint32_t value) { return kValid | uint32_t{len} << kDepthShift | value; }
  static uint8_t DepthOf(uint32_t e) { return static_cast<uint8_t>((e & kDepthMask) >> kDepthShift); }
  static uint32_t Mask(uint8_t len) { return len == 0 ? 0 : ~uint32_t{0} << (32 - len); }

  // A rule in one word: prefix (32 bits) | length (8 bits) | value (24
  // bits). The set hashes and compares the prefix and length only, so a
  // rule is found by a word whose value bits are zero (Key).
  static constexpr int kRuleKeyShift = 24;
  static uint64_t Key(uint32_t prefix, uint8_t len) { return (uint64_t{prefix} << 8 | len) << kRuleKeyShift; }
  static uint64_t Rule(uint32_t prefix, uint8_t len, uint32_t value) { return Key(prefix, len) | value; }
  static uint32_t ValueOf(uint64_t rule) { return static_cast<uint32_t>(rule) & kValueMask; }
  struct RuleKeyHash {
    size_t operator()(uint64_t rule) const { return absl::Hash<uint64_t>()(rule >> kRuleKeyShift); }
  };
  struct RuleKeyEq {
    bool operator()(uint64_t a, uint64_t b) const { return (a >> kRuleKeyShift) == (b >> kRuleKeyShift); }
  };
  uint32_t* Block(uint32_t index) const { return tbl8_ + (index << 8); }

  // Which entries a write touches: those a new route of length `len` may
  // overwrite (nothing longer wrote them), or those a deleted route of
  // length `len` wrote.
  using Match = bool (*)(uint32_t old, uint8_t len);
  static bool Overwritable(uint32_t old, uint8_t len);
  static bool WrittenBy(uint32_t old, uint8_t len);
  // Writes `entry` over the matching entries of [first, first+count) of a block.
  static void WriteBlock(uint32_t* block, uint32_t first, uint32_t count, uint8_t len, uint32_t entry, Match match);
  // Same over the tbl24 range of a route of length `len` <= 24, and inside
  // the blocks that range points to.
  void WriteShort(uint32_t prefix, uint8_t len, uint32_t entry, Match match);
  absl::Status AddLong(uint32_t prefix, uint8_t len, uint32_t entry);
  // The entry the longest route strictly covering prefix/len would write (0 if none).
  uint32_t CoverEntry(uint32_t prefix, uint8_t len) const;
  // A block left with no route longer than /24 folds back into its tbl24 entry.
  void MaybeFold(uint32_t tbl24_index);
  // A /24 route's value when its tbl24 entry holds it (not extended).
  static bool IsImplicit24(uint32_t tbl24_entry) {
    return (tbl24_entry & (kValid | kExt)) == kValid && DepthOf(tbl24_entry) == kTbl24Bits;
  }
  // Get of a masked prefix.
  uint32_t Find(uint32_t prefix, uint8_t len) const;

  uint32_t* tbl24_ = nullptr;
  uint32_t* tbl8_ = nullptr;
  RcuIds tbl8_ids_;
  uint32_t tbl8_in_use_ = 0;
  // Rule() words of every route but the /24s held by unextended tbl24 entries.
  absl::flat_hash_set<uint64_t, RuleKeyHash, RuleKeyEq> rules_;
  size_t routes_ = 0;
  uint32_t routes_by_len_[33] = {};                 // skips absent lengths when looking for a cover
};

}  // namespace isthmus
