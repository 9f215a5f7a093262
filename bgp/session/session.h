#pragma once
// One BGP peering: the RFC 4271 FSM (fsm.h) wired to a TCP connection,
// timers on the EventLoop, capability negotiation (negotiation.h) and
// connection collision detection (RFC 4271 6.8). Runs on the loop's
// thread only; every method must be called there. Observer callbacks run
// synchronously from the loop and may call back into the Session, but must
// not destroy it (post the destruction instead).

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "bgp/config/bgp_config.h"
#include "bgp/core/types.h"
#include "bgp/session/event_loop.h"
#include "bgp/session/fsm.h"
#include "bgp/session/negotiation.h"
#include "bgp/wire/message.h"

namespace isthmus::bgp {

inline constexpr size_t kMessageTypeSlots = 6;   // indexed by MessageType (1..5)

struct SessionCounters {
  std::array<uint64_t, kMessageTypeSlots> messages_in{};
  std::array<uint64_t, kMessageTypeSlots> messages_out{};
  std::map<std::pair<uint8_t, uint8_t>, uint64_t> notifications_sent;       // (code, subcode)
  std::map<std::pair<uint8_t, uint8_t>, uint64_t> notifications_received;
  uint64_t established_transitions = 0;
  uint64_t connections_refused = 0;       // incoming while administratively down
  uint64_t collisions_resolved = 0;       // RFC 4271 6.8
};

class SessionObserver {
 public:
  virtual ~SessionObserver() = default;
  virtual void OnEstablished(const NegotiatedSession& session) = 0;
  // `action` is the RFC 7606 outcome; with kTreatAsWithdraw the decoder has
  // already moved the announced prefixes into `withdrawn`.
  virtual void OnUpdate(const UpdateMessage& update, ErrorAction action) = 0;
  virtual void OnRouteRefresh(const RouteRefreshMessage& refresh) = 0;
  // Only after OnEstablished. `graceful_restart_applies`: keep the peer's
  // routes as stale for its restart time (RFC 4724, RFC 8538).
  virtual void OnDown(const std::string& reason, bool graceful_restart_applies) = 0;
};

class Session {
 public:
  // While more than this is queued, Send() refuses and the session is reset
  // with Cease/Out of Resources: a peer that reads nothing for that long is
  // stuck, and an unbounded queue would take the daemon down with it.
  static constexpr size_t kMaxQueuedBytes = 32u << 20;

  Session(const PeerConfig& config, Asn local_as, Ipv4Addr router_id, uint16_t gr_restart_time,
          EventLoop* loop, SessionObserver* observer);
  ~Session();   // closes everything without NOTIFICATION or callbacks
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Start();   // ManualStart (passive peers: with passive TCP establishment)
  // ManualStop: Cease with `cease_subcode` (RFC 4486; shutdown communication
  // for Administrative Shutdown/Reset, RFC 8203; inside a Hard Reset when the
  // RFC 8538 N bit was negotiated). Stays down until Start().
  void Stop(uint8_t cease_subcode, std::string reason);
  // As Stop, then reconnects by itself (max-prefix restart, config change).
  void Reset(uint8_t cease_subcode, std::string reason);
  // An accepted connection from this peer's address; the Session owns `fd`.
  void AcceptIncoming(int fd);

  // Queues one encoded message; false when not Established or the queue is
  // over kMaxQueuedBytes (then the session is reset). Never blocks.
  bool Send(const std::vector<uint8_t>& message);
  // RFC 2918 / RFC 7313 (0 request, 1 BoRR, 2 EoRR); false if not
  // Established or the peer did not negotiate it.
  bool SendRouteRefresh(uint8_t subtype);

  // R and F bits of our graceful-restart capability (RFC 4724 3), used from
  // the next OPEN on.
  void SetGracefulRestartFlags(bool restart_state, bool forwarding_preserved);
  // Takes effect from the next connection; NeedsReset says whether the
  // caller should Reset() for it to apply now.
  void Reconfigure(const PeerConfig& config);
  static bool NeedsReset(const PeerConfig& before, const PeerConfig& after);

  SessionState state() const;
  absl::Time established_since() const { return established_since_; }   // InfinitePast if not
  const std::string& last_error() const { return last_error_; }
  const SessionCounters& counters() const { return counters_; }
  const NegotiatedSession* negotiated() const;   // null unless Established
  const PeerConfig& config() const { return config_; }
  size_t queued_bytes() const;
  // Bytes handed to the kernel that the peer has not acknowledged yet
  // (SIOCOUTQ); 0 without a connection.
  size_t unacked_bytes() const;
  // True while a closed connection still flushes its last NOTIFICATION.
  bool HasPendingOutput() const;

 private:
  struct Connection;
  struct Closing;

  // FSM plumbing.
  FsmOutput Feed(Connection* c, FsmEvent event,
                 const std::optional<NotificationMessage>& notify = std::nullopt);
  void Execute(Connection* c, const FsmOutput& out,
               const std::optional<NotificationMessage>& notify);
  void AfterTransition(Connection* c, bool was_primary);
  void OnSessionEstablished(Connection* c);
  void OnSessionDown(Connection* c);
  void ScheduleAutomaticStart();
  void StartConnectRetryTimer();
  void StopConnectRetryTimer();
  void ArmHoldTimer(Connection* c, absl::Duration after);
  void ArmKeepaliveTimer(Connection* c);
  void CancelTimers(Connection* c);
  void ResetWith(uint8_t cease_subcode, const std::string& why, const std::string& text);

  // Connections.
  std::unique_ptr<Connection> NewConnection(Fsm fsm);
  void InitiateConnect(Connection* c);
  void OnConnectDone(Connection* c);
  void Adopt(Connection* c, int fd, bool outgoing);
  void Drop(Connection* c);
  void Bury(std::unique_ptr<Connection> c);
  void PromoteSecondary();
  void StartClosing(Closing* closing);
  void OnClosingEvent(Closing* closing, uint32_t events);
  void FinishClosing(Closing* closing);

  // Input.
  void OnSocketEvent(Connection* c, uint32_t events);
  void ReadAvailable(Connection* c);
  void ProcessFrames(Connection* c);
  void HandleMessage(Connection* c, const std::vector<uint8_t>& message);
  void HandleDecoded(Connection* c, OpenMessage& open, ErrorAction action);
  void HandleDecoded(Connection* c, UpdateMessage& update, ErrorAction action);
  void HandleDecoded(Connection* c, NotificationMessage& n, ErrorAction action);
  void HandleDecoded(Connection* c, KeepaliveMessage& keepalive, ErrorAction action);
  void HandleDecoded(Connection* c, RouteRefreshMessage& refresh, ErrorAction action);
  void HandleOpen(Connection* c, const OpenMessage& open);
  bool ResolveCollision(Connection* incoming);

  // Output.
  void SendNotification(Connection* c, const NotificationMessage& n, bool set_error);
  void Queue(Connection* c, std::vector<uint8_t> message);
  void Flush(Connection* c);
  void UpdateInterest(Connection* c);

  bool ibgp() const { return config_.remote_as == local_as_; }
  CodecContext Codec(const Connection* c) const;

  PeerConfig config_;
  Asn local_as_;
  LocalOpenParams local_;
  EventLoop* loop_;
  SessionObserver* observer_;

  std::unique_ptr<Connection> primary_;
  std::unique_ptr<Connection> secondary_;              // incoming during a collision
  std::vector<std::unique_ptr<Connection>> graveyard_; // freed on the next loop round
  std::vector<std::unique_ptr<Closing>> closing_;      // flushing a NOTIFICATION
  bool admin_up_ = false;
  uint32_t consecutive_failures_ = 0;
  EventLoop::TimerId connect_retry_timer_ = 0;
  EventLoop::TimerId auto_start_timer_ = 0;
  EventLoop::TimerId reap_timer_ = 0;

  std::optional<NegotiatedSession> negotiated_;
  absl::Time established_since_ = absl::InfinitePast();
  std::string last_error_;
  SessionCounters counters_;
};

}  // namespace isthmus::bgp
