// Maglev tables (dataplane/service/maglev.h) and the flow hash that feeds
// them: balance by weight, independence from the listing order, bounded
// disruption when a backend leaves, agreement between independently built
// tables (issue 5 item 4), and the refusal of unusable parameters.

#include "dataplane/service/maglev.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "dataplane/service/flow_hash.h"

namespace isthmus {
namespace {

constexpr uint32_t kSize = kDefaultMaglevTableSize;

std::vector<MaglevBackend> Backends(size_t n, uint32_t weight = 1) {
  std::vector<MaglevBackend> out;
  for (size_t i = 0; i < n; ++i) {
    // 192.0.2.x:8080, the documentation range.
    out.push_back({0xc0000200u + static_cast<uint32_t>(i) + 1, 8080, weight});
  }
  return out;
}

MaglevTable Build(const std::vector<MaglevBackend>& backends, uint32_t size = kSize) {
  auto table = MaglevTable::Build(backends, size);
  EXPECT_TRUE(table.ok()) << table.status();
  return table.ok() ? *std::move(table) : MaglevTable();
}

std::vector<uint32_t> Counts(const MaglevTable& table, size_t backends) {
  std::vector<uint32_t> counts(backends, 0);
  for (uint16_t owner : table.slots()) ++counts.at(owner);
  return counts;
}

// The owner of each slot as an identity, so tables built from differently
// ordered lists can be compared.
std::vector<uint64_t> Owners(const MaglevTable& table, const std::vector<MaglevBackend>& backends) {
  std::vector<uint64_t> out;
  for (uint16_t owner : table.slots()) out.push_back(uint64_t{backends[owner].address} << 16 | backends[owner].port);
  return out;
}

double Share(uint32_t count) { return static_cast<double>(count) / kSize; }

TEST(Maglev, EqualWeightsShareTheTableEvenly) {
  for (size_t n : {2u, 3u, 16u, 100u}) {
    const auto backends = Backends(n);
    const MaglevTable table = Build(backends);
    ASSERT_EQ(table.size(), kSize);
    // Turns alternate, so counts differ by at most one slot.
    const auto counts = Counts(table, n);
    const auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
    EXPECT_LE(*hi - *lo, 1u) << n << " backends";
  }
}

TEST(Maglev, WeightsSetTheShares) {
  std::vector<MaglevBackend> backends = Backends(5);
  const uint32_t weights[] = {1, 2, 3, 10, 1000};
  uint32_t sum = 0;
  for (size_t i = 0; i < backends.size(); ++i) {
    backends[i].weight = weights[i];
    sum += weights[i];
  }
  const auto counts = Counts(Build(backends), backends.size());
  for (size_t i = 0; i < backends.size(); ++i) {
    const double expected = static_cast<double>(weights[i]) / sum;
    // Within 3% of the intended share, and at least one slot each.
    EXPECT_NEAR(Share(counts[i]), expected, expected * 0.03 + 1.0 / kSize) << "weight " << weights[i];
    EXPECT_GE(counts[i], 1u);
  }
}

TEST(Maglev, RaisingOneWeightMovesOnlyTheDifference) {
  std::vector<MaglevBackend> backends = Backends(4);
  const MaglevTable before = Build(backends);
  backends[0].weight = 2;  // 1/4 -> 2/5 of the table
  const MaglevTable after = Build(backends);
  const auto counts = Counts(after, backends.size());
  EXPECT_NEAR(Share(counts[0]), 2.0 / 5, 0.01);
  size_t moved = 0;
  size_t moved_elsewhere = 0;  // between backends whose weight did not change
  for (size_t s = 0; s < kSize; ++s) {
    if (before.slots()[s] == after.slots()[s]) continue;
    ++moved;
    if (after.slots()[s] != 0) ++moved_elsewhere;
  }
  // The minimum is 2/5 - 1/4 = 15% of the slots.
  EXPECT_LT(static_cast<double>(moved) / kSize, 0.15 * 1.3);
  EXPECT_LT(static_cast<double>(moved_elsewhere) / kSize, 0.05);
}

TEST(Maglev, ListingOrderDoesNotMatter) {
  std::vector<MaglevBackend> backends = Backends(16);
  backends[3].weight = 5;
  backends[7].port = 0;
  const auto reference = Owners(Build(backends), backends);
  std::mt19937 rng(7);
  for (int round = 0; round < 5; ++round) {
    std::shuffle(backends.begin(), backends.end(), rng);
    EXPECT_EQ(Owners(Build(backends), backends), reference) << "round " << round;
  }
}

// Issue 5 item 4: removing one of N backends moves about 1/N of the
// assignments; slots of the surviving backends mostly stay. Maglev's
// extra disruption grows with N / M (paper, figure 12). Worst case over
// every removed backend, M = 65537, measured with the fixed seeds:
//   N         2     4     10    32    64    100   256
//   moved/N  1.00  1.00  1.04  1.14  1.35  1.62  3.06   (times 1/N)
// so the bounds below leave a little room above the measurement.
struct Disruption {
  size_t backends;
  double max_moved_times_ideal;
};

class MaglevRemoval : public ::testing::TestWithParam<Disruption> {};

TEST_P(MaglevRemoval, MovesAboutTheRemovedShare) {
  const size_t n = GetParam().backends;
  const std::vector<MaglevBackend> all = Backends(n);
  const MaglevTable before = Build(all);
  for (size_t removed : {size_t{0}, n / 2, n - 1}) {
    SCOPED_TRACE("removed backend " + std::to_string(removed));
    std::vector<MaglevBackend> rest = all;
    rest.erase(rest.begin() + static_cast<ptrdiff_t>(removed));
    const auto old_owners = Owners(before, all);
    const auto new_owners = Owners(Build(rest), rest);
    const uint64_t gone = uint64_t{all[removed].address} << 16 | all[removed].port;
    size_t moved = 0;
    size_t survivors_moved = 0;
    for (size_t s = 0; s < kSize; ++s) {
      if (old_owners[s] == new_owners[s]) continue;
      ++moved;
      if (old_owners[s] != gone) ++survivors_moved;
    }
    const double ideal = 1.0 / static_cast<double>(n);
    EXPECT_GE(static_cast<double>(moved) / kSize, ideal * 0.99);  // the removed share always moves
    EXPECT_LT(static_cast<double>(moved) / kSize, GetParam().max_moved_times_ideal * ideal);
    // At most 1% of all flows of surviving backends change backend.
    EXPECT_LT(static_cast<double>(survivors_moved) / kSize, 0.01);
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, MaglevRemoval,
                         ::testing::Values(Disruption{2, 1.01}, Disruption{4, 1.05}, Disruption{10, 1.1},
                                           Disruption{32, 1.2}, Disruption{100, 1.7}),
                         [](const auto& info) { return "n" + std::to_string(info.param.backends); });

TEST(Maglev, IndependentBuildsPickTheSameBackendForEveryFlow) {
  std::vector<MaglevBackend> a = Backends(7);
  a[2].weight = 3;
  std::vector<MaglevBackend> b = a;
  std::reverse(b.begin(), b.end());
  const MaglevTable ta = Build(a);
  const MaglevTable tb = Build(b);
  std::mt19937 rng(2026);
  for (int i = 0; i < 10'000; ++i) {
    const uint32_t hash = FlowHash(static_cast<uint32_t>(rng()), 0xcb00710a /* 203.0.113.10 */,
                                   static_cast<uint16_t>(rng()), 443, 6);
    const MaglevBackend& pa = a[ta.Pick(hash)];
    const MaglevBackend& pb = b[tb.Pick(hash)];
    ASSERT_EQ(pa.address, pb.address) << "flow " << i;
    ASSERT_EQ(pa.port, pb.port);
  }
}

TEST(Maglev, PicksFollowTheSharesForRealFlows) {
  const auto backends = Backends(4);
  const MaglevTable table = Build(backends);
  std::vector<uint32_t> picks(backends.size(), 0);
  constexpr int kFlows = 100'000;
  // Flows differing only in the source port: the hard case for a CRC.
  for (int i = 0; i < kFlows; ++i) {
    ++picks[table.Pick(FlowHash(0xc6336401, 0xcb00710a, static_cast<uint16_t>(i), 80, 6))];
  }
  for (uint32_t p : picks) EXPECT_NEAR(static_cast<double>(p) / kFlows, 0.25, 0.01);
}

TEST(Maglev, SmallPrimeTables) {
  const MaglevTable table = Build(Backends(3), 7);
  EXPECT_EQ(table.size(), 7u);
  const auto counts = Counts(table, 3);
  for (uint32_t c : counts) EXPECT_GE(c, 2u);
  EXPECT_EQ(Build(Backends(1), 2).size(), 2u);
}

TEST(Maglev, NoBackendsGiveAnEmptyTable) {
  const MaglevTable table = Build({});
  EXPECT_TRUE(table.empty());
}

struct BadBuild {
  std::string description;
  std::vector<MaglevBackend> backends;
  uint32_t size;
  std::string expected;
};

void PrintTo(const BadBuild& c, std::ostream* os) { *os << c.description; }

class MaglevRefuses : public ::testing::TestWithParam<BadBuild> {};

TEST_P(MaglevRefuses, WithAReason) {
  const auto table = MaglevTable::Build(GetParam().backends, GetParam().size);
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(table.status().message().find(GetParam().expected), std::string::npos) << table.status();
}

std::vector<BadBuild> BadBuilds() {
  std::vector<MaglevBackend> twice = Backends(3);
  twice[2] = twice[0];
  twice[2].weight = 4;  // the identity is address:port, weight aside
  std::vector<MaglevBackend> zero = Backends(2);
  zero[1].weight = 0;
  return {
      {"size_65536", Backends(2), 65536, "65536 is not a prime"},
      {"size_1", Backends(1), 1, "is not a prime"},
      {"size_0", {}, 0, "is not a prime"},
      {"size_beyond_the_maximum", Backends(2), 16777259, "is not a prime up to 16777216"},
      {"more_backends_than_slots", Backends(8), 7, "8 backends do not fit"},
      {"same_identity_twice", twice, kSize, "192.0.2.1:8080 is listed twice"},
      {"weight_0", zero, kSize, "192.0.2.2:8080 has weight 0"},
  };
}

INSTANTIATE_TEST_SUITE_P(Cases, MaglevRefuses, ::testing::ValuesIn(BadBuilds()),
                         [](const auto& info) { return info.param.description; });

TEST(IsPrime, SmallAndLargeNumbers) {
  const std::vector<uint32_t> primes = {2, 3, 5, 7, 251, 65521, 65537, 1000003, 4294967291u};
  for (uint32_t p : primes) EXPECT_TRUE(IsPrime(p)) << p;
  const std::vector<uint32_t> composites = {0, 1, 4, 9, 65535, 65536, 1000001, 4294967295u};
  for (uint32_t c : composites) EXPECT_FALSE(IsPrime(c)) << c;
}

TEST(FlowHash, InstructionAndPortableCrcAgree) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 10'000; ++i) {
    const uint32_t crc = static_cast<uint32_t>(rng());
    const uint64_t data = rng();
    ASSERT_EQ(Crc32cU64(crc, data), Crc32cU64Portable(crc, data));
  }
}

TEST(FlowHash, CrcMatchesTheCastagnoliCheckValue) {
  // CRC-32C("12345678") with the usual inversions (RFC 3720 B.4 style).
  uint64_t data = 0;
  const char text[] = "12345678";
  for (int i = 7; i >= 0; --i) data = data << 8 | static_cast<uint8_t>(text[i]);
  EXPECT_EQ(~Crc32cU64Portable(~0u, data), 0x6087809au);
}

// Appliances running different builds must agree, so the value is pinned:
// if this changes, flows move when a fleet is upgraded one node at a time.
TEST(FlowHash, IsPinned) {
  EXPECT_EQ(FlowHash(0xc6336401, 0xcb00710a, 40000, 443, 6), 4247466400u);
}

TEST(FlowHash, EveryFieldCounts) {
  const uint32_t base = FlowHash(0xc6336401, 0xcb00710a, 40000, 443, 6);
  EXPECT_NE(FlowHash(0xc6336402, 0xcb00710a, 40000, 443, 6), base);
  EXPECT_NE(FlowHash(0xc6336401, 0xcb00710b, 40000, 443, 6), base);
  EXPECT_NE(FlowHash(0xc6336401, 0xcb00710a, 40001, 443, 6), base);
  EXPECT_NE(FlowHash(0xc6336401, 0xcb00710a, 40000, 444, 6), base);
  EXPECT_NE(FlowHash(0xc6336401, 0xcb00710a, 40000, 443, 17), base);
}

}  // namespace
}  // namespace isthmus
