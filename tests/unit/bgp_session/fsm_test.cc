// RFC 4271 8.2.2 transition table for the events the FSM implements: one
// row per {state, event} with the next state and the exact actions.

#include "bgp/session/fsm.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace isthmus::bgp {
namespace {

using A = FsmAction;
using E = FsmEvent;
using S = SessionState;

struct Row {
  S state;
  bool passive;
  E event;
  S next;
  std::vector<A> actions;
  uint8_t notify_code = 0;
  uint8_t notify_subcode = 0;
};

std::string Name(const ::testing::TestParamInfo<Row>& info) {
  std::string name = absl::StrCat(info.index, "_", std::string(ToString(info.param.state)), "_",
                                  std::string(ToString(info.param.event)),
                                  info.param.passive ? "_passive" : "");
  for (char& ch : name) {
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

std::string Actions(const std::vector<A>& actions) {
  return absl::StrJoin(actions, ",", [](std::string* out, A a) { absl::StrAppend(out, std::string(ToString(a))); });
}

// The close sequences the RFC repeats for many events.
const std::vector<A> kNotifyClose = {A::kSendNotification, A::kStopConnectRetryTimer,
                                     A::kDropConnection};
const std::vector<A> kNotifyCloseDown = {A::kSendNotification, A::kStopConnectRetryTimer,
                                         A::kDropConnection, A::kSessionDown};
const std::vector<A> kSilentClose = {A::kStopConnectRetryTimer, A::kDropConnection};
const std::vector<A> kSilentCloseDown = {A::kStopConnectRetryTimer, A::kDropConnection,
                                         A::kSessionDown};
const std::vector<A> kOpenSentEntry = {A::kStopConnectRetryTimer, A::kSendOpen,
                                       A::kStartLargeHoldTimer};

const Row kRows[] = {
    // Idle
    {S::kIdle, false, E::kManualStart, S::kConnect, {A::kStartConnectRetryTimer, A::kInitiateConnect}},
    {S::kIdle, false, E::kAutomaticStart, S::kConnect, {A::kStartConnectRetryTimer, A::kInitiateConnect}},
    {S::kIdle, false, E::kManualStartPassive, S::kActive, {}},
    {S::kIdle, false, E::kAutomaticStartPassive, S::kActive, {}},
    {S::kIdle, false, E::kManualStop, S::kIdle, {}},
    {S::kIdle, false, E::kTcpConnectionConfirmed, S::kIdle, {A::kDropConnection}},
    {S::kIdle, false, E::kHoldTimerExpires, S::kIdle, {}},
    {S::kIdle, false, E::kBgpOpen, S::kIdle, {}},
    {S::kIdle, false, E::kKeepAliveMsg, S::kIdle, {}},
    // Connect
    {S::kConnect, false, E::kManualStart, S::kConnect, {}},
    {S::kConnect, false, E::kManualStop, S::kIdle, {A::kDropConnection, A::kStopConnectRetryTimer}},
    {S::kConnect, false, E::kConnectRetryTimerExpires, S::kConnect,
     {A::kDropConnection, A::kStartConnectRetryTimer, A::kInitiateConnect}},
    {S::kConnect, false, E::kTcpCrAcked, S::kOpenSent, kOpenSentEntry},
    {S::kConnect, false, E::kTcpConnectionConfirmed, S::kOpenSent, kOpenSentEntry},
    {S::kConnect, false, E::kTcpConnectionFails, S::kIdle, kSilentClose},
    {S::kConnect, false, E::kHoldTimerExpires, S::kIdle, kSilentClose},
    {S::kConnect, false, E::kBgpOpen, S::kIdle, kSilentClose},
    {S::kConnect, false, E::kNotifMsg, S::kIdle, kSilentClose},
    {S::kConnect, false, E::kUpdateMsg, S::kIdle, kSilentClose},
    // Active
    {S::kActive, false, E::kManualStop, S::kIdle, {A::kDropConnection, A::kStopConnectRetryTimer}},
    {S::kActive, false, E::kConnectRetryTimerExpires, S::kConnect,
     {A::kStartConnectRetryTimer, A::kInitiateConnect}},
    {S::kActive, true, E::kConnectRetryTimerExpires, S::kActive, {}},
    {S::kActive, false, E::kTcpConnectionConfirmed, S::kOpenSent, kOpenSentEntry},
    {S::kActive, true, E::kTcpConnectionConfirmed, S::kOpenSent, kOpenSentEntry},
    {S::kActive, false, E::kTcpConnectionFails, S::kIdle, kSilentClose},
    {S::kActive, false, E::kKeepAliveMsg, S::kIdle, kSilentClose},
    {S::kActive, false, E::kAutomaticStart, S::kActive, {}},
    // OpenSent
    {S::kOpenSent, false, E::kManualStop, S::kIdle, kNotifyClose, 6, 2},
    {S::kOpenSent, false, E::kHoldTimerExpires, S::kIdle, kNotifyClose, 4, 0},
    {S::kOpenSent, false, E::kTcpConnectionFails, S::kActive,
     {A::kDropConnection, A::kStartConnectRetryTimer}},
    {S::kOpenSent, true, E::kTcpConnectionFails, S::kActive, {A::kDropConnection}},
    {S::kOpenSent, false, E::kBgpOpen, S::kOpenConfirm,
     {A::kStopConnectRetryTimer, A::kSendKeepalive, A::kStartKeepaliveTimer, A::kStartHoldTimer}},
    {S::kOpenSent, false, E::kBgpHeaderErr, S::kIdle, kNotifyClose},
    {S::kOpenSent, false, E::kBgpOpenMsgErr, S::kIdle, kNotifyClose},
    {S::kOpenSent, false, E::kOpenCollisionDump, S::kIdle, kNotifyClose, 6, 7},
    {S::kOpenSent, false, E::kNotifMsgVerErr, S::kIdle, kSilentClose},
    {S::kOpenSent, false, E::kNotifMsg, S::kIdle, kSilentClose},
    {S::kOpenSent, false, E::kKeepAliveMsg, S::kIdle, kNotifyClose, 5, 1},
    {S::kOpenSent, false, E::kUpdateMsg, S::kIdle, kNotifyClose, 5, 1},
    {S::kOpenSent, false, E::kConnectRetryTimerExpires, S::kIdle, kNotifyClose, 5, 1},
    {S::kOpenSent, false, E::kTcpConnectionConfirmed, S::kOpenSent, {}},
    // OpenConfirm
    {S::kOpenConfirm, false, E::kManualStop, S::kIdle, kNotifyClose, 6, 2},
    {S::kOpenConfirm, false, E::kHoldTimerExpires, S::kIdle, kNotifyClose, 4, 0},
    {S::kOpenConfirm, false, E::kKeepaliveTimerExpires, S::kOpenConfirm,
     {A::kSendKeepalive, A::kStartKeepaliveTimer}},
    {S::kOpenConfirm, false, E::kTcpConnectionFails, S::kIdle, kSilentClose},
    {S::kOpenConfirm, false, E::kNotifMsg, S::kIdle, kSilentClose},
    {S::kOpenConfirm, false, E::kNotifMsgVerErr, S::kIdle, kSilentClose},
    {S::kOpenConfirm, false, E::kBgpHeaderErr, S::kIdle, kNotifyClose},
    {S::kOpenConfirm, false, E::kOpenCollisionDump, S::kIdle, kNotifyClose, 6, 7},
    {S::kOpenConfirm, false, E::kKeepAliveMsg, S::kEstablished,
     {A::kStartHoldTimer, A::kSessionEstablished}},
    {S::kOpenConfirm, false, E::kUpdateMsg, S::kIdle, kNotifyClose, 5, 2},
    {S::kOpenConfirm, false, E::kBgpOpen, S::kIdle, kNotifyClose, 5, 2},
    // Established
    {S::kEstablished, false, E::kManualStop, S::kIdle, kNotifyCloseDown, 6, 2},
    {S::kEstablished, false, E::kHoldTimerExpires, S::kIdle, kNotifyCloseDown, 4, 0},
    {S::kEstablished, false, E::kKeepaliveTimerExpires, S::kEstablished,
     {A::kSendKeepalive, A::kStartKeepaliveTimer}},
    {S::kEstablished, false, E::kKeepAliveMsg, S::kEstablished, {A::kStartHoldTimer}},
    {S::kEstablished, false, E::kUpdateMsg, S::kEstablished,
     {A::kProcessUpdate, A::kStartHoldTimer}},
    {S::kEstablished, false, E::kRouteRefreshMsg, S::kEstablished,
     {A::kProcessRouteRefresh, A::kStartHoldTimer}},
    {S::kEstablished, false, E::kUpdateMsgErr, S::kIdle, kNotifyCloseDown},
    {S::kEstablished, false, E::kBgpHeaderErr, S::kIdle, kNotifyCloseDown},
    {S::kEstablished, false, E::kTcpConnectionFails, S::kIdle, kSilentCloseDown},
    {S::kEstablished, false, E::kNotifMsg, S::kIdle, kSilentCloseDown},
    {S::kEstablished, false, E::kOpenCollisionDump, S::kIdle, kNotifyCloseDown, 6, 7},
    {S::kEstablished, false, E::kBgpOpen, S::kIdle, kNotifyCloseDown, 5, 3},
    {S::kEstablished, false, E::kConnectRetryTimerExpires, S::kIdle, kNotifyCloseDown, 5, 3},
    {S::kEstablished, false, E::kTcpConnectionConfirmed, S::kEstablished, {}},
};

class FsmTransitionTest : public ::testing::TestWithParam<Row> {};

TEST_P(FsmTransitionTest, FollowsRfc4271) {
  const Row& row = GetParam();
  Fsm fsm(row.state, row.passive);
  const FsmOutput out = fsm.Handle(row.event);
  EXPECT_EQ(out.from, row.state);
  EXPECT_EQ(out.to, row.next) << ToString(out.to);
  EXPECT_EQ(fsm.state(), row.next);
  EXPECT_EQ(Actions(out.actions), Actions(row.actions));
  if (out.Has(A::kSendNotification)) {
    EXPECT_EQ(out.notify_code, row.notify_code);
    EXPECT_EQ(out.notify_subcode, row.notify_subcode);
  }
}

INSTANTIATE_TEST_SUITE_P(Rfc4271, FsmTransitionTest, ::testing::ValuesIn(kRows), Name);

TEST(FsmTest, FullHandshakeActive) {
  Fsm fsm;
  for (E e : {E::kManualStart, E::kTcpCrAcked, E::kBgpOpen, E::kKeepAliveMsg}) {
    (void)fsm.Handle(e);
  }
  EXPECT_EQ(fsm.state(), S::kEstablished);
  EXPECT_FALSE(fsm.passive());
}

TEST(FsmTest, PassiveStartNeverInitiates) {
  Fsm fsm;
  EXPECT_TRUE(fsm.Handle(E::kManualStartPassive).actions.empty());
  EXPECT_TRUE(fsm.passive());
  const FsmOutput out = fsm.Handle(E::kConnectRetryTimerExpires);
  EXPECT_FALSE(out.Has(A::kInitiateConnect));
  EXPECT_EQ(fsm.state(), S::kActive);
}

TEST(FsmTest, SessionDownOnlyLeavingEstablished) {
  for (S s : {S::kIdle, S::kConnect, S::kActive, S::kOpenSent, S::kOpenConfirm}) {
    Fsm fsm(s);
    EXPECT_FALSE(fsm.Handle(E::kTcpConnectionFails).Has(A::kSessionDown)) << ToString(s);
  }
}

}  // namespace
}  // namespace isthmus::bgp
