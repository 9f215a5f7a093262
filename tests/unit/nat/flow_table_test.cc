// The shared flow table: both directions, duplicates and conflicts, a full
// table, ageing (both keys, the SNAT port, RCU-deferred reuse), burst
// lookups, and workers inserting and looking up at the same time.

#include "dataplane/nat/flow_table.h"

#include <gtest/gtest.h>
#include <rte_rcu_qsbr.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "dataplane/nat/snat_port_allocator.h"
#include "tests/unit/nat/nat_test_support.h"

namespace isthmus {
namespace {

using namespace isthmus::testing;   // addresses of nat_test_support.h

constexpr uint32_t kNow = 5000;
constexpr uint32_t kScanAll = 1 << 24;

std::unique_ptr<FlowTable> MakeTable(uint32_t capacity, uint32_t workers = 1, rte_rcu_qsbr* rcu = nullptr,
                                     SnatPortAllocator* snat = nullptr) {
  auto t = FlowTable::Create({.capacity = capacity, .workers = workers}, rcu, snat);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? std::move(*t) : nullptr;
}

// Flow i: a distinct client address and port to the VIP, DNAT only.
FlowSpec NthFlow(uint32_t i) { return MakeSpec(kTcp, false, kClient + (i >> 12), static_cast<uint16_t>(1024 + (i & 0xfff))); }

TEST(FlowTable, BothDirectionsFindTheFlow) {
  auto table = MakeTable(16);
  const FlowSpec spec = MakeSpec(kTcp, true);
  const FlowInsertResult r = table->Insert(0, spec, kNow);
  ASSERT_EQ(r.error, NatError::kNone);
  EXPECT_EQ(RefDirection(r.ref), FlowDirection::kOriginal);
  const FlowRef reply = table->Lookup(spec.reply);
  EXPECT_EQ(FlowIndex(reply), FlowIndex(r.ref));
  EXPECT_EQ(RefDirection(reply), FlowDirection::kReply);
  EXPECT_EQ(table->Lookup(spec.original), r.ref);
  EXPECT_EQ(table->Lookup(Reverse(spec.original)), kNoFlow);
  const Flow& f = table->flow(reply);
  EXPECT_EQ(f.service_id, spec.service_id);
  EXPECT_EQ(f.backend_id, spec.backend_id);
  EXPECT_EQ(f.flags, kFlowSnat);
  EXPECT_EQ(f.last_seen.load(), kNow);
}

TEST(FlowTable, DuplicateAndConflictingInserts) {
  auto table = MakeTable(16);
  const FlowSpec spec = MakeSpec(kTcp, false);
  const FlowRef first = table->Insert(0, spec, kNow).ref;
  const FlowInsertResult again = table->Insert(0, spec, kNow);
  EXPECT_EQ(again.error, NatError::kExists);
  EXPECT_EQ(again.ref, first);
  // The same client port reaching the same backend through a second VIP
  // would share the reply key.
  FlowSpec other_vip = spec;
  other_vip.original.dst = kVip + 1;
  EXPECT_EQ(table->Insert(0, other_vip, kNow).error, NatError::kReplyConflict);
  FlowSpec self = spec;
  self.reply = self.original;
  EXPECT_EQ(table->Insert(0, self, kNow).error, NatError::kReplyConflict);
  const FlowTableCounters c = table->Counters();
  EXPECT_EQ(c.created, 1u);
  EXPECT_EQ(c.active, 1u);
  EXPECT_EQ(c.failures[static_cast<size_t>(NatError::kReplyConflict)], 2u);
  // The failed inserts did not use up entries.
  for (uint32_t i = 1; i < 16; ++i) EXPECT_EQ(table->Insert(0, NthFlow(i), kNow).error, NatError::kNone) << i;
}

TEST(FlowTable, FullTableFailsWithNamedReason) {
  constexpr uint32_t kCapacity = 100;
  constexpr uint32_t kWorkers = 2;
  auto table = MakeTable(kCapacity, kWorkers);
  // The capacity always fits; the workers' private stocks may add a little.
  uint32_t inserted = 0;
  FlowInsertResult r;
  while ((r = table->Insert(inserted % kWorkers, NthFlow(inserted), kNow)).error == NatError::kNone) ++inserted;
  EXPECT_GE(inserted, kCapacity);
  EXPECT_LE(inserted, kCapacity + kWorkers * FlowTable::kWorkerCacheRecords);
  EXPECT_EQ(r.error, NatError::kTableFull);
  EXPECT_EQ(DropReasonFor(r.error), DropReason::kNatTableFull);
  EXPECT_EQ(Name(DropReasonFor(r.error)), "nat_table_full");
  EXPECT_EQ(table->Counters().failures[static_cast<size_t>(NatError::kTableFull)], 1u);
  for (uint32_t i = 0; i < inserted; ++i) EXPECT_NE(table->Lookup(NthFlow(i).reply), kNoFlow);
}

// Filled to capacity with random keys, the index never runs out of probe
// room (it is sized for at most half its slots), and burst lookups agree
// with single ones, for hits and misses.
TEST(FlowTable, FillsToCapacityAndBurstLookupAgrees) {
  constexpr uint32_t kCapacity = 200000;
  auto table = MakeTable(kCapacity);
  std::mt19937 rng(7);
  std::vector<FlowKey> keys;
  for (uint32_t i = 0; i < kCapacity; ++i) {
    FlowSpec s = MakeSpec(kUdp, false, static_cast<uint32_t>(rng()), static_cast<uint16_t>(rng()));
    const FlowInsertResult r = table->Insert(0, s, kNow);
    ASSERT_TRUE(r.error == NatError::kNone || r.error == NatError::kExists) << Name(r.error);
    keys.push_back(s.reply);
    keys.push_back(Reverse(s.reply));   // (almost surely) a miss
  }
  EXPECT_EQ(table->Counters().failures[static_cast<size_t>(NatError::kIndexFull)], 0u);
  std::vector<FlowRef> burst(keys.size());
  table->LookupBurst(keys.data(), static_cast<uint32_t>(keys.size()), burst.data());
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_EQ(burst[i], table->Lookup(keys[i])) << i;
    if (i % 2 == 0) {
      ASSERT_NE(burst[i], kNoFlow) << i;
    }
  }
}

TEST(FlowTable, AgeingRemovesBothDirectionsAndFreesTheSnatPort) {
  auto snat = SnatPortAllocator::Create({.addresses = {kSnat}, .workers = 1});
  ASSERT_TRUE(snat.ok());
  auto table = MakeTable(16, 1, nullptr, snat->get());
  const SnatAllocation port = (*snat)->Allocate(kTcp, 0, 0);
  ASSERT_EQ(port.error, NatError::kNone);
  FlowSpec spec = MakeSpec(kTcp, true);
  spec.reply.dst = port.addr;
  spec.reply.dport = port.port;
  ASSERT_EQ(table->Insert(0, spec, kNow).error, NatError::kNone);
  EXPECT_EQ((*snat)->InUse(), 1u);

  const NatTimeouts timeouts;
  EXPECT_EQ(table->Age(kNow + timeouts.tcp_transitory, kScanAll, timeouts), 1u);
  EXPECT_EQ(table->Lookup(spec.original), kNoFlow);
  EXPECT_EQ(table->Lookup(spec.reply), kNoFlow);
  EXPECT_FALSE((*snat)->IsAllocated(kTcp, port.addr, port.port));
  EXPECT_EQ((*snat)->InUse(), 0u);
  EXPECT_EQ((*snat)->bad_releases(), 0u);
  const FlowTableCounters c = table->Counters();
  EXPECT_EQ(c.expired, 1u);
  EXPECT_EQ(c.active, 0u);
  EXPECT_EQ(c.inconsistencies, 0u);
}

// Ageing is incremental: each call looks at a bounded number of records
// and continues where the previous one stopped.
TEST(FlowTable, AgeingIsBoundedPerCall) {
  constexpr uint32_t kCapacity = 100;
  constexpr uint32_t kPerCall = 10;
  auto table = MakeTable(kCapacity);
  for (uint32_t i = 0; i < kCapacity; ++i) ASSERT_EQ(table->Insert(0, NthFlow(i), kNow).error, NatError::kNone);
  const NatTimeouts timeouts;
  const uint32_t later = kNow + timeouts.tcp_transitory;
  uint32_t removed = 0;
  for (uint32_t call = 0; call < kCapacity / kPerCall; ++call) {
    const uint32_t n = table->Age(later, kPerCall, timeouts);
    EXPECT_LE(n, kPerCall);
    removed += n;
  }
  EXPECT_EQ(removed, kCapacity);
  EXPECT_EQ(table->Counters().active, 0u);
}

// A service's own timeouts override the defaults for its flows only.
TEST(FlowTable, AgeingUsesTheFlowsServiceTimeouts) {
  auto table = MakeTable(8);
  FlowSpec short_lived = MakeSpec(kUdp, false, 1, 1000);
  short_lived.service_id = 1;
  FlowSpec default_timeouts = MakeSpec(kUdp, false, 2, 2000);
  default_timeouts.service_id = 0;
  ASSERT_EQ(table->Insert(0, short_lived, kNow).error, NatError::kNone);
  ASSERT_EQ(table->Insert(0, default_timeouts, kNow).error, NatError::kNone);
  const NatTimeouts defaults;
  NatTimeouts quick;
  quick.udp = 5;
  const NatTimeouts by_service[] = {defaults, quick};
  EXPECT_EQ(table->Age(kNow + 4, kScanAll, defaults, by_service), 0u);
  EXPECT_EQ(table->Age(kNow + 5, kScanAll, defaults, by_service), 1u);
  EXPECT_EQ(table->Lookup(short_lived.original), kNoFlow);
  EXPECT_NE(table->Lookup(default_timeouts.original), kNoFlow);
  EXPECT_EQ(table->Age(kNow + defaults.udp, kScanAll, defaults, by_service), 1u);
}

TEST(FlowTable, RemoveBackendFlowsTakesOnlyThatBackendsFlows) {
  auto table = MakeTable(16);
  for (uint16_t i = 0; i < 6; ++i) {
    FlowSpec s = MakeSpec(kTcp, false, kClient, static_cast<uint16_t>(1000 + i));
    s.service_id = 1;
    s.backend_id = i % 2;
    ASSERT_EQ(table->Insert(0, s, kNow).error, NatError::kNone);
  }
  EXPECT_EQ(table->RemoveBackendFlows(1, 1), 3u);
  EXPECT_EQ(table->RemoveBackendFlows(0, 0), 0u);
  const std::vector<FlowView> left = table->List(100);
  ASSERT_EQ(left.size(), 3u);
  for (const FlowView& v : left) {
    EXPECT_EQ(v.backend_id, 0);
    EXPECT_EQ(v.created, kNow);
    EXPECT_EQ(table->Lookup(v.original), table->Lookup(v.reply) & ~1u);
  }
  EXPECT_EQ(table->List(2).size(), 2u);
}

TEST(FlowTable, RemoveTakesOneFlowOut) {
  auto table = MakeTable(4);
  const FlowSpec spec = MakeSpec(kUdp, false);
  const FlowRef r = table->Insert(0, spec, kNow).ref;
  EXPECT_TRUE(table->Remove(r | 1));
  EXPECT_FALSE(table->Remove(r));
  EXPECT_EQ(table->Lookup(spec.original), kNoFlow);
  EXPECT_EQ(table->Lookup(spec.reply), kNoFlow);
}

// A removed record is reused only once every reader registered with the
// QSBR variable has reported a quiescent state.
TEST(FlowTable, RemovedRecordWaitsForTheGracePeriod) {
  constexpr uint32_t kReaders = 1;
  const size_t size = rte_rcu_qsbr_get_memsize(kReaders);
  auto* rcu = static_cast<rte_rcu_qsbr*>(std::aligned_alloc(64, (size + 63) / 64 * 64));
  ASSERT_EQ(rte_rcu_qsbr_init(rcu, kReaders), 0);
  ASSERT_EQ(rte_rcu_qsbr_thread_register(rcu, 0), 0);
  rte_rcu_qsbr_thread_online(rcu, 0);
  {
    auto table = MakeTable(1, 1, rcu);
    uint32_t fitted = 0;
    while (table->Insert(0, NthFlow(fitted), kNow).error == NatError::kNone) ++fitted;
    const NatTimeouts timeouts;
    const uint32_t later = kNow + timeouts.tcp_transitory;
    ASSERT_EQ(table->Age(later, kScanAll, timeouts), fitted);
    // The reader has not been quiescent since: the record stays retired.
    EXPECT_EQ(table->Insert(0, NthFlow(fitted), later).error, NatError::kTableFull);
    EXPECT_EQ(table->Age(later, kScanAll, timeouts), 0u);
    EXPECT_EQ(table->Insert(0, NthFlow(fitted), later).error, NatError::kTableFull);
    rte_rcu_qsbr_quiescent(rcu, 0);
    EXPECT_EQ(table->Age(later, kScanAll, timeouts), 0u);   // reclaims
    EXPECT_EQ(table->Insert(0, NthFlow(fitted), later).error, NatError::kNone);
  }
  rte_rcu_qsbr_thread_offline(rcu, 0);
  std::free(rcu);
}

// Two workers: one creates flows, the other receives their replies (RSS
// puts the two directions on different queues) and must find each flow as
// soon as it has been published.
TEST(FlowTable, ReplyOnTheOtherWorkerFindsTheFlow) {
  constexpr uint32_t kFlows = 100000;
  auto table = MakeTable(kFlows, 2);
  std::atomic<uint32_t> published{0};
  std::atomic<uint32_t> misses{0};
  std::thread reader([&] {
    uint32_t checked = 0;
    while (checked < kFlows) {
      const uint32_t upto = published.load(std::memory_order_acquire);
      for (; checked < upto; ++checked) {
        const FlowRef r = table->Lookup(NthFlow(checked).reply);
        if (r == kNoFlow || RefDirection(r) != FlowDirection::kReply ||
            !(table->flow(r).key[0] == NthFlow(checked).original)) {
          misses.fetch_add(1);
        }
      }
    }
  });
  for (uint32_t i = 0; i < kFlows; ++i) {
    ASSERT_EQ(table->Insert(0, NthFlow(i), kNow).error, NatError::kNone);
    published.store(i + 1, std::memory_order_release);
  }
  reader.join();
  EXPECT_EQ(misses.load(), 0u);
}

// Two workers creating the same flows at once: each flow is created once;
// the loser of each race gets kExists and the winner's flow.
TEST(FlowTable, ConcurrentInsertsOfTheSameFlowsCreateEachOnce) {
  constexpr uint32_t kFlows = 50000;
  auto table = MakeTable(kFlows, 2);
  std::atomic<uint32_t> exists{0}, wrong{0};
  auto worker = [&](uint32_t id) {
    for (uint32_t i = 0; i < kFlows; ++i) {
      const FlowInsertResult r = table->Insert(id, NthFlow(i), kNow);
      if (r.error == NatError::kExists) exists.fetch_add(1);
      if ((r.error != NatError::kNone && r.error != NatError::kExists) || r.ref == kNoFlow) wrong.fetch_add(1);
    }
  };
  std::thread a(worker, 0), b(worker, 1);
  a.join();
  b.join();
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_EQ(exists.load(), kFlows);
  EXPECT_EQ(table->Counters().created, kFlows);
  for (uint32_t i = 0; i < kFlows; ++i) {
    const FlowRef r = table->Lookup(NthFlow(i).original);
    ASSERT_NE(r, kNoFlow);
    ASSERT_EQ(FlowIndex(table->Lookup(NthFlow(i).reply)), FlowIndex(r));
  }
}

TEST(FlowTable, CapacityIsValidated) {
  EXPECT_FALSE(FlowTable::Create({.capacity = 0, .workers = 1}, nullptr, nullptr).ok());
  EXPECT_FALSE(FlowTable::Create({.capacity = 8, .workers = 0}, nullptr, nullptr).ok());
}

TEST(FlowTable, MemoryPerFlowWithinBudget) {
  constexpr uint32_t kCapacity = 1 << 16;
  constexpr size_t kBudget = 128;   // bytes per flow, both directions (issue 5, item 8)
  auto table = MakeTable(kCapacity);
  EXPECT_LE(table->MemoryBytes() / kCapacity, kBudget);
}

}  // namespace
}  // namespace isthmus
