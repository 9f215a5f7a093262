#include "bgp/session/session.h"

#include <fcntl.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <list>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bgp/session/transport.h"
#include "spdlog/spdlog.h"

namespace isthmus::bgp {
namespace {

// RFC 4271 8.2.2: in OpenSent the hold timer is set to "a large value";
// four minutes is the RFC's suggestion.
constexpr absl::Duration kLargeHoldTime = absl::Minutes(4);
// How long a closed connection may take to flush its NOTIFICATION and see
// the peer's FIN before we close it anyway.
constexpr absl::Duration kCloseLinger = absl::Seconds(3);
constexpr size_t kReadChunk = 64 * 1024;
// Then yield to other peers, timers and the admin API (level-triggered: the
// rest is read on the next round). Everything read is processed before the
// loop moves on, so this bounds how long one flooding peer holds the BGP
// thread: with 1 MB a flood of small UPDATEs kept it for up to 1.8 s
// (keepalives to every peer and `isthmusctl show bgp` waited); 256 KB is a
// quarter of that and still thousands of UPDATEs per round.
constexpr int kMaxReadsPerEvent = 4;
constexpr size_t kTypeOffset = kMarkerSize + 2;

uint8_t TypeByte(const std::vector<uint8_t>& message) {
  return message.size() > kTypeOffset ? message[kTypeOffset] : 0;
}

}  // namespace

struct Session::Connection {
  explicit Connection(Fsm f) : fsm(f) {}
  Fsm fsm;
  int fd = -1;
  uint64_t generation = 0;   // bumped whenever the socket changes
  bool outgoing = false;
  bool connecting = false;
  std::vector<uint8_t> rx;
  size_t rx_offset = 0;
  std::deque<std::vector<uint8_t>> tx;
  size_t tx_offset = 0;      // already written of tx.front()
  size_t tx_bytes = 0;
  uint32_t interest = 0;
  EventLoop::TimerId hold_timer = 0;
  EventLoop::TimerId keepalive_timer = 0;
  EventLoop::TimerId fail_timer = 0;
  std::optional<OpenMessage> our_open;
  std::optional<NegotiatedSession> negotiated;
  std::optional<NotificationMessage> last_notification;   // sent or received
};

// A dropped connection that still writes out its last messages.
struct Session::Closing {
  int fd = -1;
  std::deque<std::vector<uint8_t>> tx;
  size_t tx_offset = 0;
  bool write_shut = false;
  EventLoop::TimerId linger_timer = 0;
};

Session::Session(const PeerConfig& config, Asn local_as, Ipv4Addr router_id,
                 uint16_t gr_restart_time, EventLoop* loop, SessionObserver* observer)
    : config_(config), local_as_(local_as), loop_(loop), observer_(observer) {
  local_.local_as = local_as;
  local_.router_id = router_id;
  local_.gr_restart_time = gr_restart_time;
  primary_ = NewConnection(Fsm());
}

Session::~Session() {
  loop_->CancelTimer(connect_retry_timer_);
  loop_->CancelTimer(auto_start_timer_);
  loop_->CancelTimer(reap_timer_);
  auto close_connection = [this](Connection* c) {
    if (c == nullptr) return;
    CancelTimers(c);
    if (c->fd >= 0) {
      loop_->RemoveFd(c->fd);
      close(c->fd);
    }
  };
  close_connection(primary_.get());
  close_connection(secondary_.get());
  for (auto& c : graveyard_) close_connection(c.get());
  for (auto& closing : closing_) {
    loop_->CancelTimer(closing->linger_timer);
    loop_->RemoveFd(closing->fd);
    close(closing->fd);
  }
}

std::unique_ptr<Session::Connection> Session::NewConnection(Fsm fsm) {
  return std::make_unique<Connection>(fsm);
}

SessionState Session::state() const { return primary_->fsm.state(); }

const NegotiatedSession* Session::negotiated() const {
  return negotiated_.has_value() ? &*negotiated_ : nullptr;
}

size_t Session::queued_bytes() const { return primary_->tx_bytes; }

size_t Session::unacked_bytes() const {
  int outq = 0;
  if (primary_->fd < 0 || ::ioctl(primary_->fd, SIOCOUTQ, &outq) != 0 || outq < 0) return 0;
  return static_cast<size_t>(outq);
}

bool Session::HasPendingOutput() const { return !closing_.empty() || primary_->tx_bytes > 0; }

void Session::SetGracefulRestartFlags(bool restart_state, bool forwarding_preserved) {
  local_.gr_restart_state = restart_state;
  local_.gr_forwarding_preserved = forwarding_preserved;
}

void Session::Reconfigure(const PeerConfig& config) { config_ = config; }

bool Session::NeedsReset(const PeerConfig& before, const PeerConfig& after) {
  auto session_fields = [](const PeerConfig& p) {
    // A new TCP-MD5 password resets the session: the established socket
    // keeps the old key, and both ends rarely change theirs at one instant.
    return std::tie(p.address, p.remote_as, p.source, p.passive, p.multihop_ttl, p.gtsm,
                    p.tcp_md5, p.hold_time_s, p.keepalive_s, p.graceful_restart, p.port);
  };
  return session_fields(before) != session_fields(after);
}

// ---------------------------------------------------------------- control

void Session::Start() {
  if (admin_up_) return;
  admin_up_ = true;
  consecutive_failures_ = 0;
  if (primary_->fsm.state() != SessionState::kIdle) return;
  Feed(primary_.get(), config_.passive ? FsmEvent::kManualStartPassive : FsmEvent::kManualStart);
}

void Session::Stop(uint8_t cease_subcode, std::string reason) {
  admin_up_ = false;
  loop_->CancelTimer(auto_start_timer_);
  auto_start_timer_ = 0;
  ResetWith(cease_subcode, absl::StrCat("stopped: ", reason), reason);
}

void Session::Reset(uint8_t cease_subcode, std::string reason) {
  ResetWith(cease_subcode, absl::StrCat("reset: ", reason), reason);
}

void Session::ResetWith(uint8_t cease_subcode, const std::string& why, const std::string& text) {
  last_error_ = why;
  for (Connection* c : {secondary_.get(), primary_.get()}) {
    if (c == nullptr) continue;
    const bool hard_reset_capable =
        c->negotiated.has_value() && c->negotiated->graceful_restart_notification;
    Feed(c, FsmEvent::kManualStop, MakeSessionCease(cease_subcode, text, hard_reset_capable));
  }
}

bool Session::Send(const std::vector<uint8_t>& message) {
  if (state() != SessionState::kEstablished) return false;
  if (primary_->tx_bytes > kMaxQueuedBytes) {
    spdlog::warn("bgp peer {}: send queue above {} bytes, resetting", config_.name,
                 kMaxQueuedBytes);
    ResetWith(kCeaseOutOfResources, "send queue full (peer not reading)", "");
    return false;
  }
  Queue(primary_.get(), message);
  return true;
}

bool Session::SendRouteRefresh(uint8_t subtype) {
  if (state() != SessionState::kEstablished || !negotiated_->route_refresh) return false;
  if (subtype != kRouteRefreshRequest && !negotiated_->enhanced_route_refresh) return false;
  RouteRefreshMessage refresh;
  refresh.subtype = subtype;
  Queue(primary_.get(), Encode(refresh, Codec(primary_.get())));
  return true;
}

// RFC 4271 6.8 in the shape of one primary connection plus at most one
// incoming connection in OpenSent/OpenConfirm beside it.
void Session::AcceptIncoming(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  SocketOptions options = SocketOptionsFor(config_, ibgp());
  options.source.reset();
  if (absl::Status s = ApplySocketOptions(fd, options); !s.ok()) {
    spdlog::warn("bgp peer {}: incoming connection: {}", config_.name, s.ToString());
    close(fd);
    return;
  }
  if (!admin_up_) {
    ++counters_.connections_refused;
    close(fd);
    return;
  }
  Connection* p = primary_.get();
  switch (p->fsm.state()) {
    case SessionState::kIdle:
      // Waiting out the back-off: take the peer's connection instead, as a
      // session that listens (Active) would.
      loop_->CancelTimer(auto_start_timer_);
      auto_start_timer_ = 0;
      p->fsm = Fsm(SessionState::kActive, config_.passive);
      [[fallthrough]];
    case SessionState::kConnect:
    case SessionState::kActive:
      Drop(p);   // abandons our own connect() in progress, if any
      Adopt(p, fd, /*outgoing=*/false);
      Feed(p, FsmEvent::kTcpConnectionConfirmed);
      return;
    default:
      break;
  }
  if (secondary_ != nullptr) Bury(std::move(secondary_));   // the peer gave up on it
  secondary_ = NewConnection(Fsm(SessionState::kActive, config_.passive));
  Adopt(secondary_.get(), fd, /*outgoing=*/false);
  Feed(secondary_.get(), FsmEvent::kTcpConnectionConfirmed);
}

// ---------------------------------------------------------------- the FSM

FsmOutput Session::Feed(Connection* c, FsmEvent event,
                        const std::optional<NotificationMessage>& notify) {
  const bool was_primary = c == primary_.get();
  const FsmOutput out = c->fsm.Handle(event);
  if (out.from != out.to && was_primary) {
    spdlog::info("bgp peer {}: {} -> {} on {}", config_.name, ToString(out.from), ToString(out.to),
                 ToString(event));
  }
  Execute(c, out, notify);
  AfterTransition(c, was_primary);
  return out;
}

void Session::Execute(Connection* c, const FsmOutput& out,
                      const std::optional<NotificationMessage>& notify) {
  const bool primary = c == primary_.get();
  for (FsmAction action : out.actions) {
    switch (action) {
      case FsmAction::kInitiateConnect:
        InitiateConnect(c);
        break;
      case FsmAction::kDropConnection:
        Drop(c);
        break;
      case FsmAction::kSendOpen:
        c->our_open = BuildOpen(config_, local_);
        Queue(c, Encode(*c->our_open, Codec(c)));
        break;
      case FsmAction::kSendKeepalive:
        Queue(c, Encode(KeepaliveMessage{}, Codec(c)));
        break;
      case FsmAction::kSendNotification:
        SendNotification(c, notify.value_or(NotificationMessage{out.notify_code,
                                                                out.notify_subcode, {}}),
                         !notify.has_value());
        break;
      case FsmAction::kStartConnectRetryTimer:
        if (primary) StartConnectRetryTimer();
        break;
      case FsmAction::kStopConnectRetryTimer:
        if (primary) StopConnectRetryTimer();
        break;
      case FsmAction::kStartLargeHoldTimer:
        ArmHoldTimer(c, kLargeHoldTime);
        break;
      case FsmAction::kStartHoldTimer:
        ArmHoldTimer(c, absl::Seconds(c->negotiated ? c->negotiated->hold_time : 0));
        break;
      case FsmAction::kStartKeepaliveTimer:
        ArmKeepaliveTimer(c);
        break;
      case FsmAction::kProcessUpdate:
      case FsmAction::kProcessRouteRefresh:
        break;   // the caller hands the message over once the FSM accepted it
      case FsmAction::kSessionEstablished:
        OnSessionEstablished(c);
        break;
      case FsmAction::kSessionDown:
        OnSessionDown(c);
        break;
    }
  }
}

void Session::OnSessionEstablished(Connection* c) {
  negotiated_ = c->negotiated;
  established_since_ = loop_->Now();
  ++counters_.established_transitions;
  consecutive_failures_ = 0;
  spdlog::info("bgp peer {}: established, AS {} id {} hold {} s", config_.name,
               negotiated_->peer_as, ToString(negotiated_->peer_router_id),
               negotiated_->hold_time);
  observer_->OnEstablished(*negotiated_);
}

void Session::OnSessionDown(Connection* c) {
  const bool gr = negotiated_.has_value() &&
                  GracefulRestartApplies(*negotiated_, config_.graceful_restart,
                                         c->last_notification);
  negotiated_.reset();
  established_since_ = absl::InfinitePast();
  spdlog::warn("bgp peer {}: session down: {}{}", config_.name, last_error_,
               gr ? " (graceful restart)" : "");
  observer_->OnDown(last_error_, gr);
}

// Housekeeping once the FSM has moved: a lost primary gives way to the
// collision connection, or comes back after the back-off; a secondary that
// lost its connection is discarded.
void Session::AfterTransition(Connection* c, bool was_primary) {
  const SessionState s = c->fsm.state();
  const bool lost = s == SessionState::kIdle || (s == SessionState::kActive && c->fd < 0);
  if (!was_primary) {
    if (c == secondary_.get() && lost) Bury(std::move(secondary_));
    return;
  }
  if (c != primary_.get() || !lost) return;
  if (secondary_ != nullptr) {
    PromoteSecondary();
    return;
  }
  if (s == SessionState::kIdle && admin_up_) {
    ++consecutive_failures_;
    ScheduleAutomaticStart();
  }
}

void Session::PromoteSecondary() {
  StopConnectRetryTimer();
  loop_->CancelTimer(auto_start_timer_);
  auto_start_timer_ = 0;
  Drop(primary_.get());
  Bury(std::move(primary_));
  primary_ = std::move(secondary_);
}

void Session::ScheduleAutomaticStart() {
  loop_->CancelTimer(auto_start_timer_);
  const absl::Duration delay =
      ConnectBackoff(consecutive_failures_ - 1, absl::Seconds(config_.connect_retry_s));
  auto_start_timer_ = loop_->AddTimer(delay, [this] {
    auto_start_timer_ = 0;
    if (!admin_up_ || primary_->fsm.state() != SessionState::kIdle) return;
    Feed(primary_.get(),
         config_.passive ? FsmEvent::kAutomaticStartPassive : FsmEvent::kAutomaticStart);
  });
}

void Session::StartConnectRetryTimer() {
  loop_->CancelTimer(connect_retry_timer_);
  const uint16_t seconds = std::max<uint16_t>(config_.connect_retry_s, 1);
  connect_retry_timer_ = loop_->AddTimer(absl::Seconds(seconds), [this] {
    connect_retry_timer_ = 0;
    Feed(primary_.get(), FsmEvent::kConnectRetryTimerExpires);
  });
}

void Session::StopConnectRetryTimer() {
  loop_->CancelTimer(connect_retry_timer_);
  connect_retry_timer_ = 0;
}

void Session::ArmHoldTimer(Connection* c, absl::Duration after) {
  loop_->CancelTimer(c->hold_timer);
  c->hold_timer = 0;
  if (after <= absl::ZeroDuration()) return;   // hold time 0: no timer (RFC 4271 4.2)
  c->hold_timer = loop_->AddTimer(after, [this, c] {
    c->hold_timer = 0;
    last_error_ = "hold timer expired";
    Feed(c, FsmEvent::kHoldTimerExpires);
  });
}

void Session::ArmKeepaliveTimer(Connection* c) {
  loop_->CancelTimer(c->keepalive_timer);
  c->keepalive_timer = 0;
  const uint16_t seconds = c->negotiated ? c->negotiated->keepalive_time : 0;
  if (seconds == 0) return;
  c->keepalive_timer = loop_->AddTimer(absl::Seconds(seconds), [this, c] {
    c->keepalive_timer = 0;
    Feed(c, FsmEvent::kKeepaliveTimerExpires);
  });
}

void Session::CancelTimers(Connection* c) {
  for (EventLoop::TimerId* t : {&c->hold_timer, &c->keepalive_timer, &c->fail_timer}) {
    loop_->CancelTimer(*t);
    *t = 0;
  }
}

// ---------------------------------------------------------------- sockets

void Session::InitiateConnect(Connection* c) {
  absl::StatusOr<int> fd =
      StartConnect(config_.address, config_.port, SocketOptionsFor(config_, ibgp()));
  if (!fd.ok()) {
    last_error_ = std::string(fd.status().message());
    // Not from inside the FSM's own action list: on the next loop round.
    c->fail_timer = loop_->AddTimer(absl::ZeroDuration(), [this, c] {
      c->fail_timer = 0;
      Feed(c, FsmEvent::kTcpConnectionFails);
    });
    return;
  }
  Adopt(c, *fd, /*outgoing=*/true);
  c->connecting = true;
  UpdateInterest(c);
}

void Session::Adopt(Connection* c, int fd, bool outgoing) {
  c->fd = fd;
  ++c->generation;
  c->outgoing = outgoing;
  c->connecting = false;
  c->rx.clear();
  c->rx_offset = 0;
  c->our_open.reset();
  c->negotiated.reset();
  c->last_notification.reset();
  c->interest = EPOLLIN;
  if (absl::Status s = loop_->AddFd(fd, EPOLLIN, [this, c](uint32_t ev) { OnSocketEvent(c, ev); });
      !s.ok()) {
    spdlog::error("bgp peer {}: {}", config_.name, s.ToString());
  }
}

void Session::OnConnectDone(Connection* c) {
  c->connecting = false;
  if (absl::Status s = ConnectResult(c->fd); !s.ok()) {
    last_error_ = absl::StrCat("connect to ", ToString(config_.address), ":", config_.port, ": ",
                               s.message());
    Drop(c);
    Feed(c, FsmEvent::kTcpConnectionFails);
    return;
  }
  UpdateInterest(c);
  Feed(c, FsmEvent::kTcpCrAcked);
}

// Closes the connection's socket. Whatever is still queued (the last
// NOTIFICATION) is flushed by a Closing entry, which then waits for the
// peer's FIN so that our close does not turn into a RST that could destroy
// the NOTIFICATION in flight.
void Session::Drop(Connection* c) {
  CancelTimers(c);
  ++c->generation;
  if (c->fd >= 0) {
    loop_->RemoveFd(c->fd);
    if (c->connecting) {
      close(c->fd);
    } else {
      auto closing = std::make_unique<Closing>();
      closing->fd = c->fd;
      closing->tx = std::move(c->tx);
      closing->tx_offset = c->tx_offset;
      Closing* raw = closing.get();
      closing_.push_back(std::move(closing));
      StartClosing(raw);
    }
  }
  c->fd = -1;
  c->connecting = false;
  c->tx.clear();
  c->tx_offset = 0;
  c->tx_bytes = 0;
  c->interest = 0;
}

void Session::StartClosing(Closing* closing) {
  closing->linger_timer = loop_->AddTimer(kCloseLinger, [this, closing] {
    closing->linger_timer = 0;
    FinishClosing(closing);
  });
  if (absl::Status s = loop_->AddFd(closing->fd, EPOLLIN | EPOLLOUT,
                                    [this, closing](uint32_t ev) { OnClosingEvent(closing, ev); });
      !s.ok()) {
    FinishClosing(closing);
  }
}

void Session::OnClosingEvent(Closing* closing, uint32_t events) {
  if ((events & EPOLLOUT) != 0 && !closing->write_shut) {
    while (!closing->tx.empty()) {
      const std::vector<uint8_t>& m = closing->tx.front();
      const ssize_t n = send(closing->fd, m.data() + closing->tx_offset,
                             m.size() - closing->tx_offset, MSG_NOSIGNAL);
      if (n < 0 && errno == EAGAIN) return;
      if (n <= 0) return FinishClosing(closing);
      closing->tx_offset += static_cast<size_t>(n);
      if (closing->tx_offset == m.size()) {
        closing->tx.pop_front();
        closing->tx_offset = 0;
      }
    }
    shutdown(closing->fd, SHUT_WR);
    closing->write_shut = true;
    (void)loop_->ModifyFd(closing->fd, EPOLLIN);
  }
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
    uint8_t discard[4096];
    const ssize_t n = recv(closing->fd, discard, sizeof(discard), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN)) FinishClosing(closing);
  }
}

void Session::FinishClosing(Closing* closing) {
  loop_->CancelTimer(closing->linger_timer);
  loop_->RemoveFd(closing->fd);
  close(closing->fd);
  for (auto it = closing_.begin(); it != closing_.end(); ++it) {
    if (it->get() == closing) {
      closing_.erase(it);
      return;
    }
  }
}

// Connections are referenced by timers and callbacks on the stack; they
// are destroyed on the next loop round.
void Session::Bury(std::unique_ptr<Connection> c) {
  if (c == nullptr) return;
  Drop(c.get());
  graveyard_.push_back(std::move(c));
  if (reap_timer_ == 0) {
    reap_timer_ = loop_->AddTimer(absl::ZeroDuration(), [this] {
      reap_timer_ = 0;
      graveyard_.clear();
    });
  }
}

void Session::OnSocketEvent(Connection* c, uint32_t events) {
  if (c->connecting) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) OnConnectDone(c);
    return;
  }
  const uint64_t generation = c->generation;
  if ((events & EPOLLOUT) != 0) Flush(c);
  if (c->generation == generation && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
    ReadAvailable(c);
  }
}

void Session::ReadAvailable(Connection* c) {
  const uint64_t generation = c->generation;
  std::string failure;
  for (int i = 0; i < kMaxReadsPerEvent; ++i) {
    const size_t old_size = c->rx.size();
    c->rx.resize(old_size + kReadChunk);
    const ssize_t n = recv(c->fd, c->rx.data() + old_size, kReadChunk, 0);
    c->rx.resize(old_size + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    if (n > 0) continue;
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
    failure = n == 0 ? "connection closed by peer"
                     : absl::StrCat("connection error: ", std::strerror(errno));
    break;
  }
  // Messages that arrived before the FIN (typically a NOTIFICATION) count.
  ProcessFrames(c);
  if (!failure.empty() && c->generation == generation) {
    last_error_ = failure;
    Drop(c);
    Feed(c, FsmEvent::kTcpConnectionFails);
  }
}

void Session::ProcessFrames(Connection* c) {
  const uint64_t generation = c->generation;
  while (c->generation == generation) {
    const uint8_t* data = c->rx.data() + c->rx_offset;
    const size_t available = c->rx.size() - c->rx_offset;
    const Frame frame = PeekFrame(data, available);
    if (frame.error.has_value()) {
      last_error_ = absl::StrCat("bad message header: ", Describe(*frame.error));
      Feed(c, FsmEvent::kBgpHeaderErr, frame.error);
      return;
    }
    if (frame.length == 0 || frame.length > available) break;
    // Copy out: the handlers may reset the connection under us.
    std::vector<uint8_t> message(data, data + frame.length);
    c->rx_offset += frame.length;
    HandleMessage(c, message);
  }
  if (c->generation == generation && c->rx_offset > 0) {
    c->rx.erase(c->rx.begin(), c->rx.begin() + static_cast<std::ptrdiff_t>(c->rx_offset));
    c->rx_offset = 0;
  }
}

void Session::HandleMessage(Connection* c, const std::vector<uint8_t>& message) {
  const uint8_t type = TypeByte(message);
  if (type < kMessageTypeSlots) ++counters_.messages_in[type];
  DecodeResult r = Decode(message.data(), message.size(), Codec(c));
  for (const std::string& problem : r.problems) {
    spdlog::warn("bgp peer {}: {}", config_.name, problem);
  }
  if (!r.message.has_value()) {
    if (!r.notification.has_value()) return;
    last_error_ = absl::StrCat("malformed message: ", absl::StrJoin(r.problems, "; "));
    const FsmEvent event = type == static_cast<uint8_t>(MessageType::kUpdate) ? FsmEvent::kUpdateMsgErr
                           : type == static_cast<uint8_t>(MessageType::kOpen) ? FsmEvent::kBgpOpenMsgErr
                                                                              : FsmEvent::kBgpHeaderErr;
    Feed(c, event, r.notification);
    return;
  }
  std::visit([&](auto& m) { HandleDecoded(c, m, r.action); }, *r.message);
}

void Session::HandleDecoded(Connection* c, OpenMessage& open, ErrorAction) { HandleOpen(c, open); }

void Session::HandleDecoded(Connection* c, UpdateMessage& update, ErrorAction action) {
  if (Feed(c, FsmEvent::kUpdateMsg).Has(FsmAction::kProcessUpdate)) {
    observer_->OnUpdate(update, action);
  }
}

void Session::HandleDecoded(Connection* c, NotificationMessage& n, ErrorAction) {
  ++counters_.notifications_received[{n.code, n.subcode}];
  c->last_notification = n;
  last_error_ = absl::StrCat("received NOTIFICATION ", Describe(n));
  const bool version_error = c->fsm.state() == SessionState::kOpenSent && n.code == kErrOpen &&
                             n.subcode == kOpenUnsupportedVersion;
  Feed(c, version_error ? FsmEvent::kNotifMsgVerErr : FsmEvent::kNotifMsg);
}

void Session::HandleDecoded(Connection* c, KeepaliveMessage&, ErrorAction) {
  Feed(c, FsmEvent::kKeepAliveMsg);
}

void Session::HandleDecoded(Connection* c, RouteRefreshMessage& refresh, ErrorAction) {
  if (refresh.subtype > kRouteRefreshEnd) return;   // RFC 7313 5: ignore
  if (Feed(c, FsmEvent::kRouteRefreshMsg).Has(FsmAction::kProcessRouteRefresh)) {
    observer_->OnRouteRefresh(refresh);
  }
}

void Session::HandleOpen(Connection* c, const OpenMessage& open) {
  if (c->fsm.state() != SessionState::kOpenSent || !c->our_open.has_value()) {
    Feed(c, FsmEvent::kBgpOpen);   // unexpected OPEN: the FSM answers with an FSM error
    return;
  }
  OpenCheck check = Negotiate(*c->our_open, open, config_, local_as_);
  if (!check.session.has_value()) {
    last_error_ = absl::StrCat("OPEN rejected: ", check.reason);
    Feed(c, FsmEvent::kBgpOpenMsgErr, check.error);
    return;
  }
  if (absl::StatusOr<Ipv4Addr> local = LocalAddress(c->fd); local.ok()) {
    check.session->local_address = *local;
  }
  c->negotiated = *check.session;
  if (c == secondary_.get() && !ResolveCollision(c)) return;
  Feed(c, FsmEvent::kBgpOpen);
}

// RFC 4271 6.8: keep the connection opened by the speaker with the higher
// BGP Identifier. The incoming connection here was opened by the peer; the
// existing one is ours unless it was accepted too, in which case the peer
// abandoned it and the newer one wins. Against an Established session the
// new connection loses, unless the peer does graceful restart: then it is
// the peer coming back (RFC 4724 4.2) and the old session is gone.
bool Session::ResolveCollision(Connection* incoming) {
  Connection* existing = primary_.get();
  const SessionState es = existing->fsm.state();
  ++counters_.collisions_resolved;
  bool keep_incoming = true;
  if (es == SessionState::kEstablished) {
    keep_incoming = negotiated_.has_value() && negotiated_->peer_graceful_restart.has_value();
  } else if (es == SessionState::kOpenSent || es == SessionState::kOpenConfirm) {
    keep_incoming = !existing->outgoing || local_.router_id.value < incoming->negotiated->peer_router_id.value;
  }
  spdlog::info("bgp peer {}: connection collision, keeping the {} connection", config_.name,
               keep_incoming ? "peer's" : "existing");
  if (!keep_incoming) {
    Feed(incoming, FsmEvent::kOpenCollisionDump);
    return false;
  }
  if (es == SessionState::kEstablished) {
    last_error_ = "peer restarted (new connection while Established)";
    Feed(existing, FsmEvent::kTcpConnectionFails);
  } else {
    Feed(existing, FsmEvent::kOpenCollisionDump);
  }
  if (secondary_.get() == incoming) PromoteSecondary();
  return primary_.get() == incoming;
}

// ---------------------------------------------------------------- output

void Session::SendNotification(Connection* c, const NotificationMessage& n, bool set_error) {
  // The connection is about to close: unsent UPDATEs are moot, and the
  // NOTIFICATION must not wait behind them. A half-written message stays.
  while (c->tx.size() > (c->tx_offset > 0 ? 1u : 0u)) {
    c->tx_bytes -= c->tx.back().size();
    c->tx.pop_back();
  }
  ++counters_.notifications_sent[{n.code, n.subcode}];
  c->last_notification = n;
  if (set_error && n.code != kErrHoldTimerExpired) {
    last_error_ = absl::StrCat("sent NOTIFICATION ", Describe(n));
  }
  spdlog::warn("bgp peer {}: sending NOTIFICATION {}", config_.name, Describe(n));
  Queue(c, Encode(n, Codec(c)));
}

void Session::Queue(Connection* c, std::vector<uint8_t> message) {
  if (c->fd < 0 || c->connecting) return;
  const uint8_t type = TypeByte(message);
  if (type < kMessageTypeSlots) ++counters_.messages_out[type];
  c->tx_bytes += message.size();
  c->tx.push_back(std::move(message));
  Flush(c);
}

void Session::Flush(Connection* c) {
  while (!c->tx.empty()) {
    const std::vector<uint8_t>& m = c->tx.front();
    const ssize_t n = send(c->fd, m.data() + c->tx_offset, m.size() - c->tx_offset, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
    if (n <= 0) {
      // The read side reports the failure on the next round.
      shutdown(c->fd, SHUT_RDWR);
      break;
    }
    c->tx_offset += static_cast<size_t>(n);
    if (c->tx_offset == m.size()) {
      c->tx_bytes -= m.size();
      c->tx.pop_front();
      c->tx_offset = 0;
    }
  }
  UpdateInterest(c);
}

void Session::UpdateInterest(Connection* c) {
  if (c->fd < 0) return;
  const uint32_t wanted = c->connecting ? EPOLLOUT : (EPOLLIN | (c->tx.empty() ? 0u : EPOLLOUT));
  if (wanted == c->interest) return;
  c->interest = wanted;
  (void)loop_->ModifyFd(c->fd, wanted);
}

CodecContext Session::Codec(const Connection* c) const {
  CodecContext ctx;
  ctx.four_octet_as = c->negotiated.has_value() ? c->negotiated->four_octet_as : true;
  ctx.ebgp = !ibgp();
  return ctx;
}

}  // namespace isthmus::bgp
