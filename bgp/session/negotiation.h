#pragma once
// What two OPEN messages agree on (RFC 4271 4.2 and 6.2, RFC 5492
// capabilities), and the NOTIFICATIONs a session builds itself: Cease with
// an RFC 8203 shutdown communication, wrapped in an RFC 8538 Hard Reset
// when the peer understands it. Pure functions, no I/O.

#include <cstdint>
#include <optional>
#include <string>

#include "bgp/config/bgp_config.h"
#include "bgp/core/types.h"
#include "bgp/wire/message.h"

namespace isthmus::bgp {

struct NegotiatedSession {
  Asn peer_as = 0;
  Ipv4Addr peer_router_id;
  uint16_t hold_time = 0;          // min of both; 0 = no keepalives, no hold timer
  uint16_t keepalive_time = 0;     // hold/3, or the configured value if smaller
  bool four_octet_as = false;      // RFC 6793, both sides
  bool route_refresh = false;      // RFC 2918, the peer's
  bool enhanced_route_refresh = false;   // RFC 7313, both sides
  std::optional<GracefulRestartCap> peer_graceful_restart;   // RFC 4724, as the peer sent it
  bool graceful_restart_notification = false;   // RFC 8538 N bit, both sides
  bool ebgp = true;
  Ipv4Addr local_address;
  friend bool operator==(const NegotiatedSession&, const NegotiatedSession&) = default;
};

// What we put in our OPEN for this peer.
struct LocalOpenParams {
  Asn local_as = 0;
  Ipv4Addr router_id;
  uint16_t gr_restart_time = 0;
  bool gr_restart_state = false;        // R bit: we are restarting (RFC 4724 3)
  bool gr_forwarding_preserved = false; // F bit for IPv4 unicast
};

OpenMessage BuildOpen(const PeerConfig& peer, const LocalOpenParams& local);

// Either the agreed session or the NOTIFICATION to send (and why, for logs).
struct OpenCheck {
  std::optional<NegotiatedSession> session;
  NotificationMessage error;
  std::string reason;
};
OpenCheck Negotiate(const OpenMessage& ours, const OpenMessage& theirs, const PeerConfig& peer,
                    Asn local_as);

// RFC 4271 4.4/10: a third of the hold time, unless configured smaller.
uint16_t KeepaliveInterval(uint16_t negotiated_hold, uint16_t configured_keepalive);

// Cease with `subcode`; Administrative Shutdown/Reset carry `text` as an
// RFC 8203/9003 shutdown communication. When the RFC 8538
// N bit was negotiated, the subcodes that must flush the peer's routes
// (max prefixes, shutdown, de-configured, reset) go inside a Hard Reset.
NotificationMessage MakeSessionCease(uint8_t subcode, const std::string& text,
                                      bool hard_reset_capable);

// RFC 4724 / RFC 8538: whether the peer's routes are kept as stale after
// the session went down. `notification` is the one sent or received, if any.
bool GracefulRestartApplies(const NegotiatedSession& session, bool local_graceful_restart,
                            const std::optional<NotificationMessage>& notification);

}  // namespace isthmus::bgp
