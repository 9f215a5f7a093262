// LpmTable against a reference: the longest matching rule found by brute
// force over every rule, after random adds, replacements and deletes that
// pile up overlapping routes of every length in a small address range (so
// that tbl8 blocks are created, shared, shadowed and folded back).

#include "dataplane/fib/lpm_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <utility>

namespace isthmus {
namespace {

uint32_t MaskOf(uint8_t len) { return len == 0 ? 0 : ~uint32_t{0} << (32 - len); }

class Reference {
 public:
  void Add(uint32_t prefix, uint8_t len, uint32_t value) { rules_[{prefix & MaskOf(len), len}] = value; }
  bool Delete(uint32_t prefix, uint8_t len) { return rules_.erase({prefix & MaskOf(len), len}) > 0; }
  uint32_t Lookup(uint32_t ip) const {
    int best_len = -1;
    uint32_t value = LpmTable::kMiss;
    for (const auto& [key, v] : rules_) {
      if ((ip & MaskOf(key.second)) == key.first && key.second > best_len) {
        best_len = key.second;
        value = v;
      }
    }
    return value;
  }
  const std::map<std::pair<uint32_t, uint8_t>, uint32_t>& rules() const { return rules_; }

 private:
  std::map<std::pair<uint32_t, uint8_t>, uint32_t> rules_;
};

std::unique_ptr<LpmTable> MakeTable(uint32_t tbl8_blocks) {
  static int unique = 0;
  auto table = LpmTable::Create("lpm_test" + std::to_string(unique++), tbl8_blocks, 0, nullptr);
  EXPECT_TRUE(table.ok()) << table.status();
  return std::move(*table);
}

constexpr uint32_t kBase = 0xC6120000;   // 198.18.0.0/15: everything below lands in it

// Addresses worth probing for a rule set: both ends of every rule and
// their neighbours, plus random ones.
std::vector<uint32_t> Probes(const Reference& ref, std::mt19937& rng) {
  std::vector<uint32_t> probes;
  for (const auto& [key, value] : ref.rules()) {
    const uint32_t first = key.first;
    const uint32_t last = first | ~MaskOf(key.second);
    probes.insert(probes.end(), {first, last, first - 1, last + 1});
  }
  for (int i = 0; i < 256; ++i) probes.push_back(kBase | (rng() & 0x1ffff));
  return probes;
}

TEST(LpmTable, MatchesBruteForceThroughRandomChurn) {
  auto lpm = MakeTable(512);
  Reference ref;
  std::mt19937 rng(2026);
  for (int round = 0; round < 40; ++round) {
    for (int op = 0; op < 150; ++op) {
      // Lengths 15..32 inside 198.18.0.0/15, plus the odd short cover.
      const auto len = static_cast<uint8_t>(rng() % 10 == 0 ? 8 + rng() % 7 : 15 + rng() % 18);
      const uint32_t prefix = (kBase | (rng() & 0x1ffff)) & MaskOf(len);
      if (rng() % 3 == 0 && !ref.rules().empty()) {
        auto it = ref.rules().begin();
        std::advance(it, rng() % ref.rules().size());
        const auto [p, l] = it->first;
        ASSERT_TRUE(lpm->Delete(p, l).ok());
        ref.Delete(p, l);
      } else {
        const uint32_t value = 1 + rng() % 6;   // few values: equal neighbours are common
        ASSERT_TRUE(lpm->Add(prefix, len, value).ok()) << "round " << round;
        ref.Add(prefix, len, value);
      }
    }
    ASSERT_EQ(lpm->size(), ref.rules().size());
    // Every rule reads back, wherever the table keeps it (/24s move
    // between tbl24 and the rule set as blocks come and go).
    std::map<std::pair<uint32_t, uint8_t>, uint32_t> listed;
    lpm->ForEach([&](uint32_t p, uint8_t l, uint32_t v) { listed[{p, l}] = v; });
    ASSERT_EQ(listed, ref.rules()) << "round " << round;
    for (const auto& [key, value] : ref.rules()) ASSERT_EQ(lpm->Get(key.first, key.second), value);
    for (uint32_t ip : Probes(ref, rng)) {
      ASSERT_EQ(lpm->Lookup(ip), ref.Lookup(ip)) << "round " << round << " ip " << std::hex << ip;
    }
  }
  // Removing everything leaves no route and hands every tbl8 block back.
  while (!ref.rules().empty()) {
    const auto [p, l] = ref.rules().begin()->first;
    ASSERT_TRUE(lpm->Delete(p, l).ok());
    ref.Delete(p, l);
  }
  EXPECT_EQ(lpm->size(), 0u);
  EXPECT_EQ(lpm->tbl8_in_use(), 0u);
  EXPECT_EQ(lpm->Lookup(kBase | 0x1234), LpmTable::kMiss);
}

TEST(LpmTable, ShorterRouteNeverOverwritesLongerOneAndDeleteFallsBack) {
  auto lpm = MakeTable(8);
  const uint32_t net = 0xC6336400;   // 198.51.100.0
  ASSERT_TRUE(lpm->Add(net | 0x80, 25, 7).ok());
  ASSERT_TRUE(lpm->Add(net, 16, 3).ok());   // added after, shorter: must not cover the /25
  ASSERT_TRUE(lpm->Add(net, 24, 5).ok());
  EXPECT_EQ(lpm->Lookup(net | 0x81), 7u);
  EXPECT_EQ(lpm->Lookup(net | 0x01), 5u);
  EXPECT_EQ(lpm->Lookup((net & 0xffff0000) | 0x0101), 3u);
  ASSERT_TRUE(lpm->Delete(net, 24).ok());
  EXPECT_EQ(lpm->Lookup(net | 0x01), 3u);   // back to the /16
  ASSERT_TRUE(lpm->Delete(net | 0x80, 25).ok());
  EXPECT_EQ(lpm->Lookup(net | 0x81), 3u);
  EXPECT_EQ(lpm->tbl8_in_use(), 0u);   // folded back into tbl24
  EXPECT_TRUE(absl::IsNotFound(lpm->Delete(net | 0x80, 25)));
}

TEST(LpmTable, LongRouteWithItsCoversValueIsCountedAndRemoved) {
  // The case DPDK 22.11's rte_fib gets wrong (a /25-/32 route with its
  // covering route's value): blocks must not leak over many rounds.
  auto lpm = MakeTable(2);
  for (int round = 0; round < 1000; ++round) {
    ASSERT_TRUE(lpm->Add(0xC6336400, 24, 9).ok());
    ASSERT_TRUE(lpm->Add(0xC6336440, 26, 9).ok()) << round;
    ASSERT_TRUE(lpm->Delete(0xC6336440, 26).ok());
    ASSERT_TRUE(lpm->Delete(0xC6336400, 24).ok());
  }
  EXPECT_EQ(lpm->tbl8_in_use(), 0u);
}

TEST(LpmTable, RefusesBadInputAndRunsOutOfBlocksCleanly) {
  auto lpm = MakeTable(1);
  EXPECT_TRUE(absl::IsInvalidArgument(lpm->Add(0, 33, 1)));
  EXPECT_TRUE(absl::IsInvalidArgument(lpm->Add(0, 8, LpmTable::kMiss)));
  EXPECT_TRUE(absl::IsInvalidArgument(lpm->Add(0, 8, LpmTable::kMaxValue + 1)));
  ASSERT_TRUE(lpm->Add(0xC6120001, 32, 1).ok());
  const absl::Status second = lpm->Add(0xC6120101, 32, 2);   // another /24: no block left
  EXPECT_TRUE(absl::IsResourceExhausted(second)) << second;
  EXPECT_EQ(lpm->Get(0xC6120101, 32), LpmTable::kMiss);       // nothing half-done
  EXPECT_EQ(lpm->Lookup(0xC6120101), LpmTable::kMiss);
  EXPECT_EQ(lpm->size(), 1u);
  ASSERT_TRUE(lpm->Add(0, 0, 4).ok());   // the default route reaches everything else
  EXPECT_EQ(lpm->Lookup(0x01020304), 4u);
  EXPECT_EQ(lpm->Lookup(0xC6120001), 1u);
}

// The rules are packed words (prefix | length | value): the extremes of
// each field must come back intact, and a prefix must not be confused with
// the same address at another length.
TEST(LpmTable, RuleWordsKeepEveryFieldAtItsExtremes) {
  auto lpm = MakeTable(2);
  uint32_t previous = 99;
  ASSERT_TRUE(lpm->Add(0, 0, LpmTable::kMaxValue, &previous).ok());
  EXPECT_EQ(previous, LpmTable::kMiss);
  ASSERT_TRUE(lpm->Add(0xFFFFFFFF, 32, 1).ok());
  ASSERT_TRUE(lpm->Add(0xFFFFFF00, 24, 2).ok());
  ASSERT_TRUE(lpm->Add(0xFFFFFF00, 32, 3).ok());   // same address as the /24, another length
  EXPECT_EQ(lpm->Get(0, 0), LpmTable::kMaxValue);
  EXPECT_EQ(lpm->Get(0x12345678, 0), LpmTable::kMaxValue);   // host bits ignored
  EXPECT_EQ(lpm->Get(0xFFFFFFFF, 32), 1u);
  EXPECT_EQ(lpm->Get(0xFFFFFF00, 24), 2u);
  EXPECT_EQ(lpm->Get(0xFFFFFF00, 32), 3u);
  EXPECT_EQ(lpm->Get(0xFFFFFF00, 31), LpmTable::kMiss);
  EXPECT_EQ(lpm->Lookup(0x01020304), LpmTable::kMaxValue);
  EXPECT_EQ(lpm->Lookup(0xFFFFFFFF), 1u);
  EXPECT_EQ(lpm->Lookup(0xFFFFFF01), 2u);

  // Replacing keeps one rule per prefix and reports the old value.
  ASSERT_TRUE(lpm->Add(0xFFFFFF00, 24, LpmTable::kMaxValue - 1, &previous).ok());
  EXPECT_EQ(previous, 2u);
  EXPECT_EQ(lpm->size(), 4u);
  EXPECT_EQ(lpm->Get(0xFFFFFF00, 24), LpmTable::kMaxValue - 1);
  EXPECT_EQ(lpm->Lookup(0xFFFFFF01), LpmTable::kMaxValue - 1);

  std::map<std::pair<uint32_t, uint8_t>, uint32_t> seen;
  lpm->ForEach([&](uint32_t prefix, uint8_t len, uint32_t value) { seen[{prefix, len}] = value; });
  const std::map<std::pair<uint32_t, uint8_t>, uint32_t> expected = {{{0, 0}, LpmTable::kMaxValue},
                                                                     {{0xFFFFFF00, 24}, LpmTable::kMaxValue - 1},
                                                                     {{0xFFFFFF00, 32}, 3u},
                                                                     {{0xFFFFFFFF, 32}, 1u}};
  EXPECT_EQ(seen, expected);

  // Deleting an absent rule (absent length at a present address, too)
  // changes nothing.
  EXPECT_TRUE(absl::IsNotFound(lpm->Delete(0xFFFFFF00, 25)));
  EXPECT_TRUE(absl::IsNotFound(lpm->Delete(0x0A000000, 8)));
  EXPECT_EQ(lpm->size(), 4u);
  ASSERT_TRUE(lpm->Delete(0, 0, &previous).ok());
  EXPECT_EQ(previous, LpmTable::kMaxValue);
  EXPECT_EQ(lpm->Lookup(0x01020304), LpmTable::kMiss);
  EXPECT_EQ(lpm->Get(0xFFFFFF00, 24), LpmTable::kMaxValue - 1);
}

// A /24 is kept by its tbl24 entry alone until a longer route extends that
// entry into a tbl8 block, then by the rule set until the block folds.
TEST(LpmTable, A24KeepsItsValueAcrossBlockCreationAndFolding) {
  auto lpm = MakeTable(2);
  const uint32_t net = 0xC6336400;   // 198.51.100.0/24
  uint32_t previous = 0;
  ASSERT_TRUE(lpm->Add(net, 24, 5, &previous).ok());
  EXPECT_EQ(previous, LpmTable::kMiss);
  ASSERT_TRUE(lpm->Add(net | 0x80, 25, 6).ok());   // extends the entry
  EXPECT_EQ(lpm->tbl8_in_use(), 1u);
  EXPECT_EQ(lpm->Get(net, 24), 5u);
  ASSERT_TRUE(lpm->Add(net, 25, 7).ok());          // both halves shadowed: no entry says 5 any more
  EXPECT_EQ(lpm->Get(net, 24), 5u);
  EXPECT_EQ(lpm->size(), 3u);
  ASSERT_TRUE(lpm->Add(net, 24, 8, &previous).ok());   // replaced while extended
  EXPECT_EQ(previous, 5u);
  ASSERT_TRUE(lpm->Delete(net, 25).ok());
  ASSERT_TRUE(lpm->Delete(net | 0x80, 25).ok());   // folds back into tbl24
  EXPECT_EQ(lpm->tbl8_in_use(), 0u);
  EXPECT_EQ(lpm->Get(net, 24), 8u);
  EXPECT_EQ(lpm->Lookup(net | 0x99), 8u);
  EXPECT_EQ(lpm->size(), 1u);
  ASSERT_TRUE(lpm->Add(net, 24, 9, &previous).ok());
  EXPECT_EQ(previous, 8u);
  EXPECT_EQ(lpm->size(), 1u);
  // A /16 over it neither creates nor hides the /24.
  ASSERT_TRUE(lpm->Add(net & 0xffff0000, 16, 3).ok());
  EXPECT_EQ(lpm->Get(net, 24), 9u);
  EXPECT_EQ(lpm->Get(net + 0x100, 24), LpmTable::kMiss);
  EXPECT_TRUE(absl::IsNotFound(lpm->Delete(net + 0x100, 24)));
  ASSERT_TRUE(lpm->Delete(net, 24, &previous).ok());
  EXPECT_EQ(previous, 9u);
  EXPECT_EQ(lpm->Lookup(net | 0x99), 3u);
  EXPECT_EQ(lpm->Get(net, 24), LpmTable::kMiss);
  EXPECT_EQ(lpm->size(), 1u);
}

}  // namespace
}  // namespace isthmus
