// SNAT ports: no port handed out twice (also across threads), exhaustion as
// a named failure, reuse after release, per-protocol pools, accounting.

#include "dataplane/nat/snat_port_allocator.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "tests/unit/nat/nat_test_support.h"

namespace isthmus {
namespace {

using namespace isthmus::testing;   // addresses of nat_test_support.h

std::unique_ptr<SnatPortAllocator> Make(SnatPortAllocatorConfig config) {
  auto a = SnatPortAllocator::Create(config);
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? std::move(*a) : nullptr;
}

TEST(SnatPortAllocator, TwoThreadsNeverShareAPort) {
  const uint32_t second = kSnat + 1;
  auto alloc = Make({.addresses = {kSnat, second}, .port_min = 1024, .port_max = 65535, .workers = 2});
  const uint64_t total = 2ull * alloc->ports_per_pool();
  std::vector<std::pair<uint32_t, uint16_t>> got[2];
  auto worker = [&](uint32_t id) {
    for (;;) {
      const SnatAllocation a = alloc->Allocate(kTcp, id, id);
      if (a.error != NatError::kNone) break;
      got[id].push_back({a.addr, a.port});
    }
  };
  std::thread t0(worker, 0), t1(worker, 1);
  t0.join();
  t1.join();
  std::set<std::pair<uint32_t, uint16_t>> all(got[0].begin(), got[0].end());
  all.insert(got[1].begin(), got[1].end());
  EXPECT_EQ(got[0].size() + got[1].size(), total);
  EXPECT_EQ(all.size(), total);   // no duplicates
  for (const auto& [addr, port] : all) {
    ASSERT_TRUE(addr == kSnat || addr == second);
    ASSERT_GE(port, 1024);
  }
  EXPECT_EQ(alloc->InUse(), total);
  const SnatAllocation none = alloc->Allocate(kTcp, 0, 0);
  EXPECT_EQ(none.error, NatError::kSnatPortsExhausted);
  EXPECT_EQ(Name(DropReasonFor(none.error)), "nat_snat_ports_exhausted");
  EXPECT_EQ(alloc->exhausted(), 3u);   // each thread's last try, and this one
  // The other protocols have their own ports.
  EXPECT_EQ(alloc->Allocate(kUdp, 0, 0).error, NatError::kNone);
  EXPECT_EQ(alloc->Allocate(kIcmp, 1, 0).error, NatError::kNone);
}

TEST(SnatPortAllocator, ReleasedPortIsReused) {
  constexpr uint16_t kMin = 2000, kMax = 2009;   // ten ports, less than a word
  auto alloc = Make({.addresses = {kSnat}, .port_min = kMin, .port_max = kMax, .workers = 1});
  std::set<uint16_t> ports;
  for (int i = 0; i < 10; ++i) {
    const SnatAllocation a = alloc->Allocate(kUdp, 0, 0);
    ASSERT_EQ(a.error, NatError::kNone);
    ASSERT_GE(a.port, kMin);
    ASSERT_LE(a.port, kMax);
    ports.insert(a.port);
  }
  EXPECT_EQ(ports.size(), 10u);
  EXPECT_EQ(alloc->Allocate(kUdp, 0, 0).error, NatError::kSnatPortsExhausted);
  alloc->Release(kUdp, kSnat, 2004);
  EXPECT_EQ(alloc->InUse(), 9u);
  const SnatAllocation again = alloc->Allocate(kUdp, 0, 0);
  EXPECT_EQ(again.error, NatError::kNone);
  EXPECT_EQ(again.port, 2004);
  EXPECT_EQ(alloc->InUse(), 10u);
}

// A service allocates only from its own pool, a subset of the configured
// addresses; running its pool dry leaves the other addresses untouched.
TEST(SnatPortAllocator, AllocatesOnlyFromTheGivenPool) {
  const uint32_t kOther = kSnat + 1, kUnknown = kSnat + 7;
  auto alloc = Make({.addresses = {kSnat, kOther}, .port_min = 3000, .port_max = 3003, .workers = 1});
  const uint32_t pool[] = {kUnknown, kOther};
  for (uint32_t hint = 0; hint < 4; ++hint) {
    const SnatAllocation a = alloc->Allocate(kTcp, 0, hint, pool);
    ASSERT_EQ(a.error, NatError::kNone);
    EXPECT_EQ(a.addr, kOther);
  }
  EXPECT_EQ(alloc->Allocate(kTcp, 0, 0, pool).error, NatError::kSnatPortsExhausted);
  EXPECT_EQ(alloc->Allocate(kTcp, 0, 0).addr, kSnat);
  EXPECT_EQ(alloc->InUse(), 5u);
}

TEST(SnatPortAllocator, BadReleasesAreCountedNotApplied) {
  auto alloc = Make({.addresses = {kSnat}, .port_min = 1024, .port_max = 2047, .workers = 1});
  const SnatAllocation a = alloc->Allocate(kTcp, 0, 0);
  alloc->Release(kTcp, kSnat + 9, a.port);     // not a pool address
  alloc->Release(kTcp, kSnat, 80);             // outside the range
  alloc->Release(kUdp, kSnat, a.port);         // never allocated on UDP
  EXPECT_EQ(alloc->bad_releases(), 3u);
  EXPECT_TRUE(alloc->IsAllocated(kTcp, kSnat, a.port));
  EXPECT_EQ(alloc->InUse(), 1u);
}

TEST(SnatPortAllocator, ConfigErrorsNameTheProblem) {
  auto empty = SnatPortAllocator::Create({.addresses = {}});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("empty"), std::string::npos);
  EXPECT_FALSE(SnatPortAllocator::Create({.addresses = {kSnat}, .port_min = 3000, .port_max = 2000}).ok());
  EXPECT_FALSE(SnatPortAllocator::Create({.addresses = {kSnat, kSnat}}).ok());
}

}  // namespace
}  // namespace isthmus
