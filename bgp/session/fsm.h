#pragma once
// The BGP finite state machine of RFC 4271 section 8, for one TCP connection.
// Pure: it owns no socket and no timer. The caller feeds events (a timer
// fired, a message was parsed, the connection failed) and carries out the
// actions returned, in order. Connection collision (RFC 4271 6.8) is modelled
// as in the RFC: every connection has its own Fsm and the session decides
// which one to dump.
//
// Deviations from the RFC text, on purpose:
// - Passive start (events 4/5) does not start the ConnectRetryTimer: a
//   passive peer never initiates a connection, so there is nothing to retry.
// - A NOTIFICATION received in OpenSent is not answered with an FSM-error
//   NOTIFICATION: the peer has already closed its side.
// - Optional events we do not implement (DelayOpen, IdleHold, damping) are
//   absent; idle back-off is the session's job.

#include <cstdint>
#include <string_view>
#include <vector>

#include "bgp/wire/constants.h"

namespace isthmus::bgp {

enum class SessionState : uint8_t { kIdle, kConnect, kActive, kOpenSent, kOpenConfirm, kEstablished };
std::string_view ToString(SessionState s);

// The events of RFC 4271 8.1, numbered as there. kRouteRefreshMsg is ours:
// ROUTE-REFRESH (RFC 2918) is not an FSM event in RFC 4271, but a valid one
// proves the peer alive like any other message.
enum class FsmEvent : uint8_t {
  kManualStart = 1,
  kManualStop = 2,
  kAutomaticStart = 3,
  kManualStartPassive = 4,
  kAutomaticStartPassive = 5,
  kConnectRetryTimerExpires = 9,
  kHoldTimerExpires = 10,
  kKeepaliveTimerExpires = 11,
  kTcpCrAcked = 16,              // our outgoing connection completed
  kTcpConnectionConfirmed = 17,  // an incoming connection was accepted
  kTcpConnectionFails = 18,
  kBgpOpen = 19,                 // a valid OPEN (already checked by the session)
  kBgpHeaderErr = 21,
  kBgpOpenMsgErr = 22,
  kOpenCollisionDump = 23,
  kNotifMsgVerErr = 24,
  kNotifMsg = 25,
  kKeepAliveMsg = 26,
  kUpdateMsg = 27,
  kUpdateMsgErr = 28,
  kRouteRefreshMsg = 200,
};
std::string_view ToString(FsmEvent e);

enum class FsmAction : uint8_t {
  kInitiateConnect,
  kDropConnection,
  kSendOpen,
  kSendKeepalive,
  kSendNotification,      // code/subcode in FsmOutput unless the event carried its own
  kStartConnectRetryTimer,
  kStopConnectRetryTimer,
  kStartLargeHoldTimer,   // OpenSent: "a large value", RFC 4271 8.2.2 suggests 4 minutes
  kStartHoldTimer,        // (re)start with the negotiated hold time; 0 = none
  kStartKeepaliveTimer,   // negotiated keepalive; 0 = none
  kProcessUpdate,
  kProcessRouteRefresh,
  kSessionEstablished,
  kSessionDown,           // left Established
};
std::string_view ToString(FsmAction a);

struct FsmOutput {
  SessionState from = SessionState::kIdle;
  SessionState to = SessionState::kIdle;
  std::vector<FsmAction> actions;
  uint8_t notify_code = 0;       // with kSendNotification
  uint8_t notify_subcode = 0;
  bool Has(FsmAction a) const;
};

class Fsm {
 public:
  // `initial` lets a collision connection start in Active, and tests start
  // anywhere; `passive` as if started by event 4/5.
  explicit Fsm(SessionState initial = SessionState::kIdle, bool passive = false)
      : state_(initial), passive_(passive) {}

  SessionState state() const { return state_; }
  bool passive() const { return passive_; }
  [[nodiscard]] FsmOutput Handle(FsmEvent event);

 private:
  void OnIdle(FsmEvent e, FsmOutput& out);
  void OnConnect(FsmEvent e, FsmOutput& out);
  void OnActive(FsmEvent e, FsmOutput& out);
  void OnOpenSent(FsmEvent e, FsmOutput& out);
  void OnOpenConfirm(FsmEvent e, FsmOutput& out);
  void OnEstablished(FsmEvent e, FsmOutput& out);

  SessionState state_;
  bool passive_;
};

}  // namespace isthmus::bgp
