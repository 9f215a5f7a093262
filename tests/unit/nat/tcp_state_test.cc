// TCP state transitions (pure) and the idle timeouts they select, applied
// by the flow table's ageing under a fake clock.

#include "dataplane/nat/tcp_state.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dataplane/nat/flow_table.h"
#include "tests/unit/nat/nat_test_support.h"

namespace isthmus {
namespace {

using namespace isthmus::testing;   // addresses of nat_test_support.h

constexpr FlowDirection kOrig = FlowDirection::kOriginal;
constexpr FlowDirection kRep = FlowDirection::kReply;
constexpr uint8_t kSyn = kTcpFlagSyn;
constexpr uint8_t kSynAck = kTcpFlagSyn | kTcpFlagAck;
constexpr uint8_t kAck = kTcpFlagAck;
constexpr uint8_t kFinAck = kTcpFlagFin | kTcpFlagAck;
constexpr uint8_t kRstFlag = kTcpFlagRst;

struct Segment {
  uint8_t flags;
  FlowDirection dir;
  TcpState expected;
};

struct TransitionCase {
  std::string name;
  std::vector<Segment> segments;
};

class TcpTransitionTest : public ::testing::TestWithParam<TransitionCase> {};

TEST_P(TcpTransitionTest, FollowsTheSegments) {
  TcpState s = TcpState::kNew;
  for (size_t i = 0; i < GetParam().segments.size(); ++i) {
    const Segment& seg = GetParam().segments[i];
    s = NextTcpState(s, seg.flags, seg.dir);
    EXPECT_EQ(Name(s), Name(seg.expected)) << "after segment " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Nat, TcpTransitionTest,
    ::testing::Values(
        TransitionCase{"HandshakeAndClientClose",
                       {{kSyn, kOrig, TcpState::kSynSent},
                        {kSyn, kOrig, TcpState::kSynSent},   // retransmitted SYN
                        {kSynAck, kRep, TcpState::kSynReceived},
                        {kAck, kOrig, TcpState::kEstablished},
                        {kAck, kRep, TcpState::kEstablished},
                        {kFinAck, kOrig, TcpState::kFinOriginal},
                        {kAck, kRep, TcpState::kFinOriginal},
                        {kFinAck, kRep, TcpState::kClosing},
                        {kAck, kOrig, TcpState::kClosing}}},
        TransitionCase{"BackendClosesFirst",
                       {{kSyn, kOrig, TcpState::kSynSent},
                        {kSynAck, kRep, TcpState::kSynReceived},
                        {kAck, kOrig, TcpState::kEstablished},
                        {kFinAck, kRep, TcpState::kFinReply},
                        {kFinAck, kOrig, TcpState::kClosing}}},
        TransitionCase{"ResetDuringHandshake",
                       {{kSyn, kOrig, TcpState::kSynSent}, {kRstFlag | kAck, kRep, TcpState::kReset}}},
        TransitionCase{"ResetWhenEstablished",
                       {{kAck, kOrig, TcpState::kEstablished}, {kRstFlag, kOrig, TcpState::kReset}}},
        // A flow created by a mid-stream segment (the other NVA had it
        // before an ECMP change) is taken as established.
        TransitionCase{"PickedUpMidStream", {{kAck, kRep, TcpState::kEstablished}}},
        // The SYN+ACK does not come from the client; the client's SYN
        // reopens a closed 4-tuple (port reuse after time-wait).
        TransitionCase{"SynAckFromClientIgnored",
                       {{kSyn, kOrig, TcpState::kSynSent}, {kSynAck, kOrig, TcpState::kSynSent}}},
        TransitionCase{"ReopenAfterReset",
                       {{kAck, kOrig, TcpState::kEstablished},
                        {kRstFlag, kRep, TcpState::kReset},
                        {kSyn, kOrig, TcpState::kSynSent}}}),
    [](const ::testing::TestParamInfo<TransitionCase>& info) { return info.param.name; });

TEST(IdleTimeout, DefaultsPerProtocolAndState) {
  const NatTimeouts t;
  EXPECT_EQ(IdleTimeout(t, kTcp, TcpState::kEstablished), 7440u);
  EXPECT_EQ(IdleTimeout(t, kTcp, TcpState::kSynSent), 10u);       // embryonic
  EXPECT_EQ(IdleTimeout(t, kTcp, TcpState::kSynReceived), 10u);   // embryonic
  EXPECT_EQ(IdleTimeout(t, kTcp, TcpState::kNew), 240u);
  EXPECT_EQ(IdleTimeout(t, kTcp, TcpState::kFinOriginal), 240u);
  EXPECT_EQ(IdleTimeout(t, kTcp, TcpState::kClosing), 30u);
  EXPECT_EQ(IdleTimeout(t, kTcp, TcpState::kReset), 10u);
  EXPECT_EQ(IdleTimeout(t, kUdp, TcpState::kNew), 300u);
  EXPECT_EQ(IdleTimeout(t, kIcmp, TcpState::kNew), 30u);
}

// The table ages a flow exactly when it has been idle for its timeout, by
// the clock the caller passes (a fake one here).
class AgeingClockTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kStart = 1000;
  static constexpr uint32_t kScanAll = 1 << 20;
  void SetUp() override {
    auto t = FlowTable::Create({.capacity = 64, .workers = 1}, nullptr, nullptr);
    ASSERT_TRUE(t.ok()) << t.status();
    table_ = std::move(*t);
  }
  FlowRef Insert(uint8_t proto) {
    const FlowInsertResult r = table_->Insert(0, MakeSpec(proto, false), kStart);
    EXPECT_EQ(r.error, NatError::kNone);
    return r.ref;
  }
  // The flow is still there at `timeout - 1` seconds idle and gone at `timeout`.
  void ExpectAgesAfter(FlowRef ref, uint32_t last_seen, uint32_t timeout) {
    const FlowKey key = table_->flow(ref).key[0];
    EXPECT_EQ(table_->Age(last_seen + timeout - 1, kScanAll, timeouts_), 0u);
    EXPECT_EQ(table_->Lookup(key), ref);
    EXPECT_EQ(table_->Age(last_seen + timeout, kScanAll, timeouts_), 1u);
    EXPECT_EQ(table_->Lookup(key), kNoFlow);
  }
  NatTimeouts timeouts_;
  std::unique_ptr<FlowTable> table_;
};

TEST_F(AgeingClockTest, UdpAndIcmp) {
  ExpectAgesAfter(Insert(kUdp), kStart, timeouts_.udp);
  ExpectAgesAfter(Insert(kIcmp), kStart, timeouts_.icmp);
}

TEST_F(AgeingClockTest, TcpHandshakeThenEstablished) {
  const FlowRef r = Insert(kTcp);
  table_->Touch(r, kStart, kSyn);
  EXPECT_EQ(table_->Age(kStart + timeouts_.tcp_embryonic - 1, kScanAll, timeouts_), 0u);
  const uint32_t t1 = kStart + timeouts_.tcp_embryonic - 1;
  table_->Touch(r | 1, t1, kSynAck);
  table_->Touch(r, t1, kAck);
  EXPECT_EQ(table_->flow(r).tcp(), TcpState::kEstablished);
  // Past the transitory timeout since the last packet: kept, established.
  EXPECT_EQ(table_->Age(t1 + timeouts_.tcp_transitory, kScanAll, timeouts_), 0u);
  ExpectAgesAfter(r, t1, timeouts_.tcp_established);
}

// A SYN nobody completes (a spoofed source) goes after the short
// embryonic timeout, whether or not the backend answered it.
TEST_F(AgeingClockTest, HandshakeNeverCompletedAgesAfterTheEmbryonicTimeout) {
  const FlowRef syn_sent = Insert(kTcp);
  table_->Touch(syn_sent, kStart, kSyn);
  ExpectAgesAfter(syn_sent, kStart, timeouts_.tcp_embryonic);

  const FlowRef syn_received = Insert(kTcp);
  table_->Touch(syn_received, kStart, kSyn);
  table_->Touch(syn_received | 1, kStart, kSynAck);
  EXPECT_EQ(table_->flow(syn_received).tcp(), TcpState::kSynReceived);
  timeouts_.tcp_embryonic = 3;   // configured
  ExpectAgesAfter(syn_received, kStart, 3);
}

TEST_F(AgeingClockTest, TcpClosingAndReset) {
  const FlowRef closing = Insert(kTcp);
  table_->Touch(closing, kStart, kAck);
  table_->Touch(closing, kStart, kFinAck);
  table_->Touch(closing | 1, kStart, kFinAck);
  EXPECT_EQ(table_->flow(closing).tcp(), TcpState::kClosing);
  ExpectAgesAfter(closing, kStart, timeouts_.tcp_closing);

  const FlowRef reset = Insert(kTcp);
  table_->Touch(reset, kStart, kSyn);
  table_->Touch(reset | 1, kStart, kRstFlag | kAck);
  ExpectAgesAfter(reset, kStart, timeouts_.tcp_reset);
}

TEST_F(AgeingClockTest, ConfiguredTimeoutsApply) {
  timeouts_.udp = 5;
  ExpectAgesAfter(Insert(kUdp), kStart, 5);
}

// A worker whose clock is slightly ahead of the ager's must not make its
// flows look infinitely idle.
TEST_F(AgeingClockTest, LastSeenAheadOfTheAgerKeepsTheFlow) {
  const FlowRef r = Insert(kUdp);
  table_->Touch(r, kStart + 2, 0);
  EXPECT_EQ(table_->Age(kStart, kScanAll, timeouts_), 0u);
  EXPECT_EQ(table_->Lookup(table_->flow(r).key[0]), r);
}

}  // namespace
}  // namespace isthmus
