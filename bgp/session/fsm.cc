#include "bgp/session/fsm.h"

#include <algorithm>

namespace isthmus::bgp {
namespace {

using A = FsmAction;
using E = FsmEvent;
using S = SessionState;

void Add(FsmOutput& out, std::initializer_list<FsmAction> actions) {
  out.actions.insert(out.actions.end(), actions.begin(), actions.end());
}

// Every path back to Idle from OpenSent/OpenConfirm/Established with a
// NOTIFICATION: send it, stop the retry timer, drop the connection.
void NotifyAndClose(FsmOutput& out, uint8_t code, uint8_t subcode) {
  out.notify_code = code;
  out.notify_subcode = subcode;
  Add(out, {A::kSendNotification, A::kStopConnectRetryTimer, A::kDropConnection});
  out.to = S::kIdle;
}

void CloseSilently(FsmOutput& out) {
  Add(out, {A::kStopConnectRetryTimer, A::kDropConnection});
  out.to = S::kIdle;
}

bool IsConnected(E e) { return e == E::kTcpCrAcked || e == E::kTcpConnectionConfirmed; }

// Events whose NOTIFICATION is supplied by the session (the decoder's error).
bool IsMessageError(E e) {
  return e == E::kBgpHeaderErr || e == E::kBgpOpenMsgErr || e == E::kUpdateMsgErr;
}

}  // namespace

bool FsmOutput::Has(FsmAction a) const {
  return std::find(actions.begin(), actions.end(), a) != actions.end();
}

FsmOutput Fsm::Handle(FsmEvent event) {
  FsmOutput out;
  out.from = state_;
  out.to = state_;
  switch (state_) {
    case S::kIdle: OnIdle(event, out); break;
    case S::kConnect: OnConnect(event, out); break;
    case S::kActive: OnActive(event, out); break;
    case S::kOpenSent: OnOpenSent(event, out); break;
    case S::kOpenConfirm: OnOpenConfirm(event, out); break;
    case S::kEstablished: OnEstablished(event, out); break;
  }
  state_ = out.to;
  return out;
}

// RFC 4271 8.2.2, Idle: only the start events do anything; an incoming
// connection is refused.
void Fsm::OnIdle(FsmEvent e, FsmOutput& out) {
  switch (e) {
    case E::kManualStart:
    case E::kAutomaticStart:
      passive_ = false;
      Add(out, {A::kStartConnectRetryTimer, A::kInitiateConnect});
      out.to = S::kConnect;
      return;
    case E::kManualStartPassive:
    case E::kAutomaticStartPassive:
      passive_ = true;
      out.to = S::kActive;
      return;
    case E::kTcpCrAcked:
    case E::kTcpConnectionConfirmed:
      Add(out, {A::kDropConnection});
      return;
    default:
      return;
  }
}

// Connect: waiting for our outgoing connection.
void Fsm::OnConnect(FsmEvent e, FsmOutput& out) {
  if (e == E::kManualStop) {
    Add(out, {A::kDropConnection, A::kStopConnectRetryTimer});
    out.to = S::kIdle;
  } else if (e == E::kConnectRetryTimerExpires) {
    Add(out, {A::kDropConnection, A::kStartConnectRetryTimer, A::kInitiateConnect});
  } else if (IsConnected(e)) {
    Add(out, {A::kStopConnectRetryTimer, A::kSendOpen, A::kStartLargeHoldTimer});
    out.to = S::kOpenSent;
  } else if (e == E::kManualStart || e == E::kAutomaticStart || e == E::kManualStartPassive ||
             e == E::kAutomaticStartPassive) {
    return;   // RFC: start events are ignored outside Idle
  } else {
    CloseSilently(out);   // failure or any other event
  }
}

// Active: listening; a non-passive session retries when the timer fires.
void Fsm::OnActive(FsmEvent e, FsmOutput& out) {
  if (e == E::kManualStop) {
    Add(out, {A::kDropConnection, A::kStopConnectRetryTimer});
    out.to = S::kIdle;
  } else if (e == E::kConnectRetryTimerExpires) {
    if (passive_) return;
    Add(out, {A::kStartConnectRetryTimer, A::kInitiateConnect});
    out.to = S::kConnect;
  } else if (IsConnected(e)) {
    Add(out, {A::kStopConnectRetryTimer, A::kSendOpen, A::kStartLargeHoldTimer});
    out.to = S::kOpenSent;
  } else if (e == E::kManualStart || e == E::kAutomaticStart || e == E::kManualStartPassive ||
             e == E::kAutomaticStartPassive) {
    return;
  } else {
    CloseSilently(out);
  }
}

// OpenSent: our OPEN is out, waiting for the peer's.
void Fsm::OnOpenSent(FsmEvent e, FsmOutput& out) {
  switch (e) {
    case E::kManualStart: case E::kAutomaticStart:
    case E::kManualStartPassive: case E::kAutomaticStartPassive:
    case E::kTcpCrAcked: case E::kTcpConnectionConfirmed:   // collision: the session's business
      return;
    case E::kManualStop:
      NotifyAndClose(out, kErrCease, kCeaseAdminShutdown);
      return;
    case E::kHoldTimerExpires:
      NotifyAndClose(out, kErrHoldTimerExpired, 0);
      return;
    case E::kTcpConnectionFails:
      // RFC 4271: close, restart the retry timer and go back to listening.
      Add(out, {A::kDropConnection});
      if (!passive_) Add(out, {A::kStartConnectRetryTimer});
      out.to = S::kActive;
      return;
    case E::kBgpOpen:
      Add(out, {A::kStopConnectRetryTimer, A::kSendKeepalive, A::kStartKeepaliveTimer,
                A::kStartHoldTimer});
      out.to = S::kOpenConfirm;
      return;
    case E::kBgpHeaderErr: case E::kBgpOpenMsgErr:
      NotifyAndClose(out, 0, 0);
      return;
    case E::kOpenCollisionDump:
      NotifyAndClose(out, kErrCease, kCeaseCollisionResolution);
      return;
    case E::kNotifMsgVerErr: case E::kNotifMsg:
      CloseSilently(out);
      return;
    default:
      NotifyAndClose(out, kErrFsm, kFsmUnexpectedInOpenSent);
      return;
  }
}

// OpenConfirm: both OPENs exchanged, waiting for the peer's KEEPALIVE.
void Fsm::OnOpenConfirm(FsmEvent e, FsmOutput& out) {
  switch (e) {
    case E::kManualStart: case E::kAutomaticStart:
    case E::kManualStartPassive: case E::kAutomaticStartPassive:
    case E::kTcpCrAcked: case E::kTcpConnectionConfirmed:
      return;
    case E::kManualStop:
      NotifyAndClose(out, kErrCease, kCeaseAdminShutdown);
      return;
    case E::kHoldTimerExpires:
      NotifyAndClose(out, kErrHoldTimerExpired, 0);
      return;
    case E::kKeepaliveTimerExpires:
      Add(out, {A::kSendKeepalive, A::kStartKeepaliveTimer});
      return;
    case E::kTcpConnectionFails: case E::kNotifMsg: case E::kNotifMsgVerErr:
      CloseSilently(out);
      return;
    case E::kBgpHeaderErr: case E::kBgpOpenMsgErr:
      NotifyAndClose(out, 0, 0);
      return;
    case E::kOpenCollisionDump:
      NotifyAndClose(out, kErrCease, kCeaseCollisionResolution);
      return;
    case E::kKeepAliveMsg:
      Add(out, {A::kStartHoldTimer, A::kSessionEstablished});
      out.to = S::kEstablished;
      return;
    default:
      NotifyAndClose(out, kErrFsm, kFsmUnexpectedInOpenConfirm);
      return;
  }
}

void Fsm::OnEstablished(FsmEvent e, FsmOutput& out) {
  switch (e) {
    case E::kManualStart: case E::kAutomaticStart:
    case E::kManualStartPassive: case E::kAutomaticStartPassive:
    case E::kTcpCrAcked: case E::kTcpConnectionConfirmed:
      return;
    case E::kKeepaliveTimerExpires:
      Add(out, {A::kSendKeepalive, A::kStartKeepaliveTimer});
      return;
    case E::kKeepAliveMsg:
      Add(out, {A::kStartHoldTimer});
      return;
    case E::kUpdateMsg:
      Add(out, {A::kProcessUpdate, A::kStartHoldTimer});
      return;
    case E::kRouteRefreshMsg:
      Add(out, {A::kProcessRouteRefresh, A::kStartHoldTimer});
      return;
    case E::kManualStop:
      NotifyAndClose(out, kErrCease, kCeaseAdminShutdown);
      break;
    case E::kHoldTimerExpires:
      NotifyAndClose(out, kErrHoldTimerExpired, 0);
      break;
    case E::kOpenCollisionDump:
      NotifyAndClose(out, kErrCease, kCeaseCollisionResolution);
      break;
    case E::kTcpConnectionFails: case E::kNotifMsg: case E::kNotifMsgVerErr:
      CloseSilently(out);
      break;
    default:
      if (IsMessageError(e)) {
        NotifyAndClose(out, 0, 0);
      } else {
        NotifyAndClose(out, kErrFsm, kFsmUnexpectedInEstablished);
      }
      break;
  }
  Add(out, {A::kSessionDown});
}

std::string_view ToString(SessionState s) {
  switch (s) {
    case S::kIdle: return "Idle";
    case S::kConnect: return "Connect";
    case S::kActive: return "Active";
    case S::kOpenSent: return "OpenSent";
    case S::kOpenConfirm: return "OpenConfirm";
    case S::kEstablished: return "Established";
  }
  return "?";
}

std::string_view ToString(FsmEvent e) {
  switch (e) {
    case E::kManualStart: return "ManualStart";
    case E::kManualStop: return "ManualStop";
    case E::kAutomaticStart: return "AutomaticStart";
    case E::kManualStartPassive: return "ManualStart_with_PassiveTcpEstablishment";
    case E::kAutomaticStartPassive: return "AutomaticStart_with_PassiveTcpEstablishment";
    case E::kConnectRetryTimerExpires: return "ConnectRetryTimer_Expires";
    case E::kHoldTimerExpires: return "HoldTimer_Expires";
    case E::kKeepaliveTimerExpires: return "KeepaliveTimer_Expires";
    case E::kTcpCrAcked: return "Tcp_CR_Acked";
    case E::kTcpConnectionConfirmed: return "TcpConnectionConfirmed";
    case E::kTcpConnectionFails: return "TcpConnectionFails";
    case E::kBgpOpen: return "BGPOpen";
    case E::kBgpHeaderErr: return "BGPHeaderErr";
    case E::kBgpOpenMsgErr: return "BGPOpenMsgErr";
    case E::kOpenCollisionDump: return "OpenCollisionDump";
    case E::kNotifMsgVerErr: return "NotifMsgVerErr";
    case E::kNotifMsg: return "NotifMsg";
    case E::kKeepAliveMsg: return "KeepAliveMsg";
    case E::kUpdateMsg: return "UpdateMsg";
    case E::kUpdateMsgErr: return "UpdateMsgErr";
    case E::kRouteRefreshMsg: return "RouteRefreshMsg";
  }
  return "?";
}

std::string_view ToString(FsmAction a) {
  switch (a) {
    case A::kInitiateConnect: return "InitiateConnect";
    case A::kDropConnection: return "DropConnection";
    case A::kSendOpen: return "SendOpen";
    case A::kSendKeepalive: return "SendKeepalive";
    case A::kSendNotification: return "SendNotification";
    case A::kStartConnectRetryTimer: return "StartConnectRetryTimer";
    case A::kStopConnectRetryTimer: return "StopConnectRetryTimer";
    case A::kStartLargeHoldTimer: return "StartLargeHoldTimer";
    case A::kStartHoldTimer: return "StartHoldTimer";
    case A::kStartKeepaliveTimer: return "StartKeepaliveTimer";
    case A::kProcessUpdate: return "ProcessUpdate";
    case A::kProcessRouteRefresh: return "ProcessRouteRefresh";
    case A::kSessionEstablished: return "SessionEstablished";
    case A::kSessionDown: return "SessionDown";
  }
  return "?";
}

}  // namespace isthmus::bgp
