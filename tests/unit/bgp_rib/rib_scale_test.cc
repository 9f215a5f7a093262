// Scale check for issue 3 item 12: one peer sends 1,000,000 prefixes. Prints
// the RIB bytes per prefix (beyond the shared attributes) measured with
// mallinfo2, and asserts only generous sanity bounds; perf/ holds the real
// benchmark.

#include <malloc.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <random>
#include <vector>

#include "bgp/rib/adj_rib_in.h"
#include "bgp/rib/adj_rib_out.h"
#include "bgp/rib/attribute_interner.h"
#include "bgp/rib/loc_rib.h"
#include "tests/unit/bgp_rib/rib_test_util.h"

namespace isthmus::bgp {
namespace {

constexpr size_t kPrefixes = 1'000'000;
constexpr size_t kDistinctAttributes = 10'000;
constexpr uint32_t kFirstSlash24 = 0x100000;   // 16.0.0.0/24 onwards: keys only, no traffic
constexpr double kSanitySeconds = 10.0;
// The RIBs' memory budget, a regression guard: Adj-RIB-In and Loc-RIB share
// one 16-byte slot per prefix, 35.6 B at 1M where the hash table sits at its
// lowest load (0.48, just after growing; about 19 B at 0.85).
constexpr double kBytesPerPrefixBound = 40.0;
constexpr PeerId kPeer = 1;

size_t HeapInUse() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::vector<AttributesPtr> MakeAttributes(AttributeInterner& interner) {
  std::vector<AttributesPtr> attrs;
  for (uint32_t i = 0; i < kDistinctAttributes; ++i) {
    // Distinct origin AS per attribute set, paths of 2 to 7 ASNs.
    std::vector<Asn> path = {65001};
    for (uint32_t hop = 0; hop < i % 6; ++hop) path.push_back(64512 + hop);
    path.push_back(100000 + i);
    attrs.push_back(interner.Intern(
        testing::MakeAttrs({.path = path, .med = i % 3 == 0 ? std::optional<uint32_t>(i) : std::nullopt})));
  }
  return attrs;
}

// Param: scrambled arrival (the worse case for ordered maps) or prefix order.
class RibScale : public ::testing::TestWithParam<bool> {};

TEST_P(RibScale, MillionPrefixesFromOnePeer) {
  const bool scrambled = GetParam();
  AttributeInterner interner;
  const std::vector<AttributesPtr> attrs = MakeAttributes(interner);
  std::vector<uint32_t> order(kPrefixes);
  std::iota(order.begin(), order.end(), 0);
  if (scrambled) std::shuffle(order.begin(), order.end(), std::mt19937(42));
  auto prefix_of = [](uint32_t i) { return Ipv4Prefix{Ipv4Addr{(kFirstSlash24 + i) << 8}, 24}; };

  LocRib loc({}, &interner);
  AdjRibIn in(&loc, kPeer);
  loc.SetPeer(PeerInfo{kPeer, 65001, 65000, testing::Addr("192.0.2.11"), testing::Addr("192.0.2.11")});
  const size_t heap_before = HeapInUse();
  const auto start = std::chrono::steady_clock::now();
  size_t changes = 0;
  for (uint32_t i : order) {
    const Ipv4Prefix prefix = prefix_of(i);
    const AttributesPtr& a = attrs[(i * 2654435761u) % kDistinctAttributes];
    ASSERT_TRUE(in.Update(prefix, a));
    changes += loc.Update(Route{prefix, a, kPeer}).size();
  }
  const double ingest_seconds = SecondsSince(start);
  const size_t heap_in_loc = HeapInUse();
  const double in_loc_bytes = static_cast<double>(heap_in_loc - heap_before) / kPrefixes;

  AdjRibOut out;
  for (uint32_t i = 0; i < kPrefixes; ++i) out.Set(prefix_of(i), in.Find(prefix_of(i))->attrs);
  const OutboundUpdate update = out.TakePending();
  const double total_seconds = SecondsSince(start);
  const double out_bytes =
      static_cast<double>(HeapInUse() - heap_in_loc) / kPrefixes;   // includes `update`

  std::printf("RIB scale: %zu prefixes (%s), %zu distinct attribute sets\n", kPrefixes,
              scrambled ? "scrambled order" : "prefix order", interner.size());
  std::printf("  Adj-RIB-In + Loc-RIB ingest: %.2f s, %.1f bytes/prefix\n", ingest_seconds,
              in_loc_bytes);
  std::printf("  + Adj-RIB-Out (incl. pending update): %.2f s total, %.1f bytes/prefix\n",
              total_seconds, out_bytes);
  EXPECT_EQ(changes, kPrefixes);
  EXPECT_EQ(in.size(), kPrefixes);
  EXPECT_EQ(loc.size(), kPrefixes);
  EXPECT_EQ(update.announced_count(), kPrefixes);
  EXPECT_LE(update.announced.size(), kDistinctAttributes);
  EXPECT_LT(ingest_seconds, kSanitySeconds);
  EXPECT_LT(in_loc_bytes, kBytesPerPrefixBound);

  // Peer loss: every prefix goes in one pass.
  const auto down = std::chrono::steady_clock::now();
  EXPECT_EQ(loc.WithdrawPeer(kPeer).size(), kPrefixes);
  std::printf("  WithdrawPeer: %.2f s\n", SecondsSince(down));
  EXPECT_EQ(loc.size(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Arrival, RibScale, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Scrambled" : "InOrder";
                         });

}  // namespace
}  // namespace isthmus::bgp
