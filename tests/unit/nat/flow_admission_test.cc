// New-flow admission in the flow table (dataplane/nat/flow_table.h,
// "New-flow admission"): the exact count of half-open flows through every
// way in and out of the embryonic states, the table-wide and per-service
// limits, the per-worker SYN rate over the fake flow clock, and live
// changes of the limits. The packet path over these is tested in
// tests/unit/worker/nat_stage_test.cc.

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>

#include "dataplane/nat/flow_table.h"
#include "tests/unit/nat/nat_test_support.h"

namespace isthmus {
namespace {

using namespace isthmus::testing;   // addresses of nat_test_support.h

constexpr uint32_t kNow = 7000;
constexpr uint32_t kScanAll = 1 << 20;
constexpr uint8_t kSyn = kTcpFlagSyn;
constexpr uint8_t kSynAck = kTcpFlagSyn | kTcpFlagAck;
constexpr uint8_t kAck = kTcpFlagAck;
constexpr uint16_t kWeb = 3;     // MakeSpec's service
constexpr uint16_t kOther = 4;

class FlowAdmissionTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kWorkers = 2;
  void SetUp() override {
    auto t = FlowTable::Create({.capacity = 1024, .workers = kWorkers}, nullptr, nullptr);
    ASSERT_TRUE(t.ok()) << t.status();
    table_ = std::move(*t);
  }
  // Flow i of `service`, with a distinct client port; inserted, not yet touched.
  FlowRef Insert(uint32_t i, uint16_t service = kWeb, uint32_t worker = 0) {
    FlowSpec spec = MakeSpec(kTcp, false, kClient + service, static_cast<uint16_t>(1024 + i));
    spec.service_id = service;
    const FlowInsertResult r = table_->Insert(worker, spec, kNow);
    EXPECT_EQ(r.error, NatError::kNone);
    return r.ref;
  }
  // What the NAT stage does for a client SYN that misses: admit, insert, touch.
  NatError OpenBySyn(uint32_t i, uint16_t service = kWeb, uint32_t worker = 0, uint32_t now = kNow) {
    const NatError e = table_->AdmitEmbryonic(worker, service, now);
    if (e == NatError::kNone) table_->Touch(Insert(i, service, worker), now, kSyn);
    return e;
  }
  uint64_t Failures(NatError e) const { return table_->Counters().failures[static_cast<size_t>(e)]; }

  NatTimeouts timeouts_;
  std::unique_ptr<FlowTable> table_;
};

TEST_F(FlowAdmissionTest, CountFollowsTheHandshake) {
  const FlowRef r = Insert(0);
  EXPECT_EQ(table_->embryonic(), 0u);   // kNew: not a SYN yet
  table_->Touch(r, kNow, kSyn);
  EXPECT_EQ(table_->embryonic(), 1u);
  EXPECT_EQ(table_->embryonic(kWeb), 1u);
  table_->Touch(r, kNow, kSyn);          // retransmitted SYN: no change
  table_->Touch(r | 1, kNow, kSynAck);   // the backend answers: still half-open
  EXPECT_EQ(table_->embryonic(), 1u);
  table_->Touch(r, kNow, kAck);          // the client completes it
  EXPECT_EQ(table_->flow(r).tcp(), TcpState::kEstablished);
  EXPECT_EQ(table_->embryonic(), 0u);
  EXPECT_EQ(table_->embryonic(kWeb), 0u);
  EXPECT_EQ(table_->Counters().embryonic, 0u);
}

TEST_F(FlowAdmissionTest, ResetAndPortReuseAreCounted) {
  const FlowRef r = Insert(0);
  table_->Touch(r, kNow, kSyn);
  table_->Touch(r | 1, kNow, kTcpFlagRst | kAck);   // refused by the backend
  EXPECT_EQ(table_->embryonic(), 0u);
  table_->Touch(r, kNow, kSyn);                     // the client tries the same port again
  EXPECT_EQ(table_->flow(r).tcp(), TcpState::kSynSent);
  EXPECT_EQ(table_->embryonic(kWeb), 1u);
  // A segment picked up mid-stream is established at once, never half-open.
  table_->Touch(Insert(1), kNow, kAck);
  EXPECT_EQ(table_->embryonic(), 1u);
}

// Ageing uncounts what it removes, and only half-open flows go after the
// embryonic timeout; Remove does the same.
TEST_F(FlowAdmissionTest, AgeingAndRemovalUncount) {
  const FlowRef established = Insert(0);
  table_->Touch(established, kNow, kSyn);
  table_->Touch(established | 1, kNow, kSynAck);
  table_->Touch(established, kNow, kAck);
  for (uint32_t i = 1; i <= 5; ++i) ASSERT_EQ(OpenBySyn(i), NatError::kNone);
  const FlowRef removed = Insert(6);
  table_->Touch(removed, kNow, kSyn);
  EXPECT_EQ(table_->embryonic(), 6u);
  EXPECT_TRUE(table_->Remove(removed));
  EXPECT_EQ(table_->embryonic(), 5u);
  EXPECT_EQ(table_->Age(kNow + timeouts_.tcp_embryonic - 1, kScanAll, timeouts_), 0u);
  EXPECT_EQ(table_->Age(kNow + timeouts_.tcp_embryonic, kScanAll, timeouts_), 5u);
  EXPECT_EQ(table_->embryonic(), 0u);
  EXPECT_EQ(table_->embryonic(kWeb), 0u);
  EXPECT_EQ(table_->Counters().active, 1u);
  EXPECT_EQ(table_->Lookup(table_->flow(established).key[0]), established);
}

// The backend retransmitting its SYN+ACK to a client that never answers
// does not keep a half-open flow; the client's own retransmitted SYN does.
TEST_F(FlowAdmissionTest, OnlyTheClientKeepsAHalfOpenFlow) {
  const FlowRef spoofed = Insert(0);
  table_->Touch(spoofed, kNow, kSyn);
  table_->Touch(spoofed | 1, kNow + 1, kSynAck);
  table_->Touch(spoofed | 1, kNow + 3, kSynAck);
  const FlowRef retrying = Insert(1);
  table_->Touch(retrying, kNow, kSyn);
  table_->Touch(retrying, kNow + 3, kSyn);
  EXPECT_EQ(table_->Age(kNow + timeouts_.tcp_embryonic, kScanAll, timeouts_), 1u);
  EXPECT_EQ(table_->Lookup(table_->flow(spoofed).key[0]), kNoFlow);
  EXPECT_EQ(table_->Lookup(table_->flow(retrying).key[0]), retrying);
  // Once established, either direction keeps the flow.
  table_->Touch(retrying | 1, kNow + 4, kSynAck);
  table_->Touch(retrying, kNow + 4, kAck);
  table_->Touch(retrying | 1, kNow + 20, kAck);
  EXPECT_EQ(table_->flow(retrying).last_seen.load(), kNow + 20);
}

// A Touch on a flow the ager has just removed (a worker still holding its
// reference) neither counts nor revives it.
TEST_F(FlowAdmissionTest, TouchAfterRemovalCountsNothing) {
  const FlowRef r = Insert(0);
  table_->Touch(r, kNow, kSyn);
  ASSERT_TRUE(table_->Remove(r));
  table_->Touch(r | 1, kNow, kTcpFlagRst);
  table_->Touch(r, kNow, kSyn);
  EXPECT_EQ(table_->embryonic(), 0u);
  EXPECT_EQ(table_->embryonic(kWeb), 0u);
}

TEST_F(FlowAdmissionTest, TableLimitRefusesSynsBeyondIt) {
  table_->SetAdmissionLimits({.embryonic_max = 8});
  for (uint32_t i = 0; i < 4; ++i) ASSERT_EQ(OpenBySyn(i, kWeb), NatError::kNone);
  for (uint32_t i = 0; i < 4; ++i) ASSERT_EQ(OpenBySyn(i, kOther), NatError::kNone);
  for (uint32_t i = 4; i < 14; ++i) EXPECT_EQ(OpenBySyn(i, i % 2 ? kWeb : kOther, i % kWorkers), NatError::kEmbryonicFull);
  EXPECT_EQ(table_->embryonic(), 8u);
  EXPECT_EQ(Failures(NatError::kEmbryonicFull), 10u);
  // A completed handshake makes room for exactly one more.
  const FlowRef r = table_->Lookup(MakeSpec(kTcp, false, kClient + kWeb, 1024).original);
  ASSERT_NE(r, kNoFlow);
  table_->Touch(r | 1, kNow, kSynAck);
  table_->Touch(r, kNow, kAck);
  EXPECT_EQ(OpenBySyn(20), NatError::kNone);
  EXPECT_EQ(OpenBySyn(21), NatError::kEmbryonicFull);
}

// A flood at one service takes its own share only: the others still open
// flows until the table-wide limit.
TEST_F(FlowAdmissionTest, ServiceLimitLeavesOtherServicesRoom) {
  table_->SetAdmissionLimits({.embryonic_max = 10, .service_embryonic_max = 6});
  uint32_t refused = 0;
  for (uint32_t i = 0; i < 100; ++i) refused += OpenBySyn(i, kWeb) == NatError::kEmbryonicFull;
  EXPECT_EQ(refused, 94u);
  EXPECT_EQ(table_->embryonic(kWeb), 6u);
  for (uint32_t i = 0; i < 4; ++i) EXPECT_EQ(OpenBySyn(i, kOther), NatError::kNone);
  EXPECT_EQ(OpenBySyn(4, kOther), NatError::kEmbryonicFull);   // the table's limit now
  EXPECT_EQ(table_->embryonic(kOther), 4u);
  EXPECT_EQ(table_->embryonic(), 10u);
}

// Each worker has its own budget of SYN-opened flows per second of the flow
// clock; a SYN refused for lack of room does not spend it.
TEST_F(FlowAdmissionTest, SynRatePerWorkerPerSecond) {
  table_->SetAdmissionLimits({.syn_rate_per_worker = 5});
  uint32_t next = 0;
  for (uint32_t i = 0; i < 5; ++i) EXPECT_EQ(OpenBySyn(next++, kWeb, 0), NatError::kNone);
  for (uint32_t i = 0; i < 7; ++i) EXPECT_EQ(OpenBySyn(next++, kWeb, 0), NatError::kAdmissionLimited);
  for (uint32_t i = 0; i < 5; ++i) EXPECT_EQ(OpenBySyn(next++, kWeb, 1), NatError::kNone);
  EXPECT_EQ(OpenBySyn(next++, kWeb, 1), NatError::kAdmissionLimited);
  EXPECT_EQ(Failures(NatError::kAdmissionLimited), 8u);
  // The next second: a new budget.
  for (uint32_t i = 0; i < 5; ++i) EXPECT_EQ(OpenBySyn(next++, kWeb, 0, kNow + 1), NatError::kNone);
  EXPECT_EQ(OpenBySyn(next++, kWeb, 0, kNow + 1), NatError::kAdmissionLimited);

  // With the table's limit reached, refusals are embryonic_full and leave
  // the budget of the second untouched.
  table_->SetAdmissionLimits({.embryonic_max = 15, .syn_rate_per_worker = 2});
  for (uint32_t i = 0; i < 3; ++i) EXPECT_EQ(OpenBySyn(next++, kWeb, 1, kNow + 2), NatError::kEmbryonicFull);
  table_->SetAdmissionLimits({.syn_rate_per_worker = 2});
  EXPECT_EQ(OpenBySyn(next++, kWeb, 1, kNow + 2), NatError::kNone);
  EXPECT_EQ(OpenBySyn(next++, kWeb, 1, kNow + 2), NatError::kNone);
  EXPECT_EQ(OpenBySyn(next++, kWeb, 1, kNow + 2), NatError::kAdmissionLimited);
}

TEST_F(FlowAdmissionTest, ZeroLimitsAdmitEverything) {
  EXPECT_EQ(table_->admission_limits(), FlowAdmissionLimits{});
  for (uint32_t i = 0; i < 500; ++i) ASSERT_EQ(OpenBySyn(i, kWeb, i % kWorkers), NatError::kNone);
  EXPECT_EQ(table_->embryonic(), 500u);
  EXPECT_EQ(Failures(NatError::kEmbryonicFull) + Failures(NatError::kAdmissionLimited), 0u);
  const FlowAdmissionLimits limits{.embryonic_max = 1, .service_embryonic_max = 2, .syn_rate_per_worker = 3};
  table_->SetAdmissionLimits(limits);
  EXPECT_EQ(table_->admission_limits(), limits);
}

}  // namespace
}  // namespace isthmus
