#include "bgp/session/negotiation.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace isthmus::bgp {
namespace {

constexpr uint16_t kMaxTwoOctetAs = 0xffff;
constexpr uint16_t kMinNonZeroHoldTime = 3;   // RFC 4271 4.2: 0 or at least 3 s
constexpr uint16_t kKeepaliveDivisor = 3;

OpenCheck Reject(uint8_t subcode, std::vector<uint8_t> data, std::string reason) {
  OpenCheck check;
  check.error.code = kErrOpen;
  check.error.subcode = subcode;
  check.error.data = std::move(data);
  check.reason = std::move(reason);
  return check;
}

// RFC 4760: a peer that sent Multiprotocol capabilities, none of them IPv4
// unicast, will not exchange IPv4 routes with us.
bool PeerOffersIpv4Unicast(const Capabilities& caps) {
  if (caps.mp_ipv4_unicast) return true;
  return std::none_of(caps.unknown.begin(), caps.unknown.end(), [](const RawCapability& c) {
    return c.code == kCapMultiprotocol;
  });
}

std::vector<uint8_t> Ipv4UnicastMpCapability() {
  // Code, length, AFI (2), reserved, SAFI: the capability we could not agree on.
  return {kCapMultiprotocol, 4, 0, static_cast<uint8_t>(kAfiIpv4), 0, kSafiUnicast};
}

bool MustHardReset(uint8_t subcode) {
  // RFC 8538 5: these Cease subcodes mean "flush the routes".
  return subcode == kCeaseMaxPrefixes || subcode == kCeaseAdminShutdown ||
         subcode == kCeasePeerDeconfigured || subcode == kCeaseAdminReset ||
         subcode == kCeaseHardReset;
}

}  // namespace

OpenMessage BuildOpen(const PeerConfig& peer, const LocalOpenParams& local) {
  OpenMessage open;
  open.version = kBgpVersion;
  // RFC 6793 4.1: a 4-octet ASN travels as AS_TRANS in My Autonomous System.
  open.my_as = local.local_as > kMaxTwoOctetAs ? static_cast<uint16_t>(kAsTrans)
                                               : static_cast<uint16_t>(local.local_as);
  open.hold_time = peer.hold_time_s;
  open.bgp_id = local.router_id;
  open.caps.four_octet_as = local.local_as;
  open.caps.mp_ipv4_unicast = true;
  open.caps.route_refresh = true;
  open.caps.enhanced_route_refresh = true;
  if (peer.graceful_restart) {
    GracefulRestartCap gr;
    gr.restart_state = local.gr_restart_state;
    gr.notification = true;
    gr.restart_time = local.gr_restart_time;
    gr.ipv4_unicast = true;
    gr.forwarding_preserved = local.gr_forwarding_preserved;
    open.caps.graceful_restart = gr;
  }
  return open;
}

uint16_t KeepaliveInterval(uint16_t negotiated_hold, uint16_t configured_keepalive) {
  if (negotiated_hold == 0) return 0;
  const uint16_t third = negotiated_hold / kKeepaliveDivisor;
  if (configured_keepalive != 0 && configured_keepalive < third) return configured_keepalive;
  return std::max<uint16_t>(third, 1);
}

// RFC 4271 6.2 checks, in the order the RFC lists them, then capabilities.
OpenCheck Negotiate(const OpenMessage& ours, const OpenMessage& theirs, const PeerConfig& peer,
                    Asn local_as) {
  if (theirs.version != kBgpVersion) {
    return Reject(kOpenUnsupportedVersion, {0, kBgpVersion},
                  absl::StrCat("peer speaks BGP version ", theirs.version));
  }
  const Asn peer_as = theirs.AsnOf();
  if (peer_as != peer.remote_as) {
    return Reject(kOpenBadPeerAs, {},
                  absl::StrCat("peer AS ", peer_as, ", configured ", peer.remote_as));
  }
  const bool ebgp = peer_as != local_as;
  // RFC 6286 2.2: any non-zero identifier; only iBGP peers must differ from us.
  if (theirs.bgp_id.value == 0 || (!ebgp && theirs.bgp_id == ours.bgp_id)) {
    return Reject(kOpenBadBgpId, {},
                  absl::StrCat("bad BGP identifier ", ToString(theirs.bgp_id)));
  }
  if (theirs.hold_time != 0 && theirs.hold_time < kMinNonZeroHoldTime) {
    return Reject(kOpenUnacceptableHoldTime, {},
                  absl::StrCat("hold time ", theirs.hold_time, " s (must be 0 or >= 3)"));
  }
  if (!PeerOffersIpv4Unicast(theirs.caps)) {
    return Reject(kOpenUnsupportedCapability, Ipv4UnicastMpCapability(),
                  "peer does not offer IPv4 unicast");
  }
  NegotiatedSession s;
  s.peer_as = peer_as;
  s.peer_router_id = theirs.bgp_id;
  s.hold_time = std::min(ours.hold_time, theirs.hold_time);
  s.keepalive_time = KeepaliveInterval(s.hold_time, peer.keepalive_s);
  s.four_octet_as = ours.caps.four_octet_as.has_value() && theirs.caps.four_octet_as.has_value();
  s.route_refresh = theirs.caps.route_refresh || theirs.caps.enhanced_route_refresh;
  s.enhanced_route_refresh = ours.caps.enhanced_route_refresh && theirs.caps.enhanced_route_refresh;
  s.peer_graceful_restart = theirs.caps.graceful_restart;
  s.graceful_restart_notification = ours.caps.graceful_restart.has_value() &&
                                    ours.caps.graceful_restart->notification &&
                                    theirs.caps.graceful_restart.has_value() &&
                                    theirs.caps.graceful_restart->notification;
  s.ebgp = ebgp;
  OpenCheck check;
  check.session = s;
  return check;
}

NotificationMessage MakeSessionCease(uint8_t subcode, const std::string& text,
                                      bool hard_reset_capable) {
  NotificationMessage n = MakeCease(subcode, text);
  if (hard_reset_capable && MustHardReset(subcode) && subcode != kCeaseHardReset) {
    // RFC 8538 3: the original code and subcode, then its data, inside.
    std::vector<uint8_t> inner = {n.code, n.subcode};
    inner.insert(inner.end(), n.data.begin(), n.data.end());
    n.subcode = kCeaseHardReset;
    n.data = std::move(inner);
  }
  return n;
}

bool GracefulRestartApplies(const NegotiatedSession& session, bool local_graceful_restart,
                            const std::optional<NotificationMessage>& notification) {
  const auto& gr = session.peer_graceful_restart;
  // RFC 4724 4.2: only for the address families the peer listed.
  if (!local_graceful_restart || !gr.has_value() || !gr->ipv4_unicast) return false;
  if (!notification.has_value()) return true;
  // RFC 8538 4: with the N bit, every NOTIFICATION but Hard Reset keeps GR.
  if (!session.graceful_restart_notification) return false;
  return !(notification->code == kErrCease && notification->subcode == kCeaseHardReset);
}

}  // namespace isthmus::bgp
