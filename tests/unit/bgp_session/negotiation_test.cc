// Capability negotiation, OPEN checks, Cease construction and graceful
// restart eligibility; socket option rules and back-off of transport.h.

#include "bgp/session/negotiation.h"

#include "bgp/session/session.h"
#include "bgp/session/transport.h"
#include "gtest/gtest.h"

namespace isthmus::bgp {
namespace {

constexpr Asn kLocalAs = 65001;
constexpr Asn kPeerAs = 65515;

PeerConfig Peer() {
  PeerConfig p;
  p.name = "ars0";
  p.address = *ParseIpv4("198.18.0.4");
  p.remote_as = kPeerAs;
  p.hold_time_s = 180;
  p.keepalive_s = 60;
  return p;
}

LocalOpenParams Local() {
  LocalOpenParams l;
  l.local_as = kLocalAs;
  l.router_id = *ParseIpv4("192.0.2.1");
  l.gr_restart_time = 120;
  return l;
}

// What Azure Route Server sends: 16-bit ASN, no 4-octet capability.
OpenMessage RouteServerOpen() {
  OpenMessage o;
  o.my_as = static_cast<uint16_t>(kPeerAs);
  o.hold_time = 180;
  o.bgp_id = *ParseIpv4("198.18.0.4");
  o.caps.mp_ipv4_unicast = true;
  o.caps.route_refresh = true;
  return o;
}

TEST(BuildOpenTest, AdvertisesEverythingWeSpeak) {
  const OpenMessage o = BuildOpen(Peer(), Local());
  EXPECT_EQ(o.version, 4);
  EXPECT_EQ(o.my_as, kLocalAs);
  EXPECT_EQ(o.hold_time, 180);
  EXPECT_EQ(o.bgp_id, Local().router_id);
  ASSERT_TRUE(o.caps.four_octet_as.has_value());
  EXPECT_EQ(*o.caps.four_octet_as, kLocalAs);
  EXPECT_TRUE(o.caps.mp_ipv4_unicast);
  EXPECT_TRUE(o.caps.route_refresh);
  EXPECT_TRUE(o.caps.enhanced_route_refresh);
  ASSERT_TRUE(o.caps.graceful_restart.has_value());
  EXPECT_TRUE(o.caps.graceful_restart->notification);
  EXPECT_TRUE(o.caps.graceful_restart->ipv4_unicast);
  EXPECT_EQ(o.caps.graceful_restart->restart_time, 120);
  EXPECT_FALSE(o.caps.graceful_restart->restart_state);
}

TEST(BuildOpenTest, FourOctetAsUsesAsTransAndGrFlags) {
  LocalOpenParams l = Local();
  l.local_as = 4200000001u;
  l.gr_restart_state = true;
  l.gr_forwarding_preserved = true;
  PeerConfig p = Peer();
  const OpenMessage o = BuildOpen(p, l);
  EXPECT_EQ(o.my_as, kAsTrans);
  EXPECT_EQ(*o.caps.four_octet_as, 4200000001u);
  EXPECT_TRUE(o.caps.graceful_restart->restart_state);
  EXPECT_TRUE(o.caps.graceful_restart->forwarding_preserved);
  p.graceful_restart = false;
  EXPECT_FALSE(BuildOpen(p, l).caps.graceful_restart.has_value());
}

TEST(NegotiateTest, AzureRouteServer) {
  const OpenMessage ours = BuildOpen(Peer(), Local());
  const OpenCheck check = Negotiate(ours, RouteServerOpen(), Peer(), kLocalAs);
  ASSERT_TRUE(check.session.has_value()) << check.reason;
  const NegotiatedSession& s = *check.session;
  EXPECT_EQ(s.peer_as, kPeerAs);
  EXPECT_EQ(s.hold_time, 180);
  EXPECT_EQ(s.keepalive_time, 60);
  EXPECT_FALSE(s.four_octet_as);
  EXPECT_TRUE(s.route_refresh);
  EXPECT_FALSE(s.enhanced_route_refresh);
  EXPECT_FALSE(s.peer_graceful_restart.has_value());
  EXPECT_FALSE(s.graceful_restart_notification);
  EXPECT_TRUE(s.ebgp);
}

struct HoldCase {
  uint16_t ours, theirs, configured_keepalive;
  bool accepted;
  uint16_t hold, keepalive;
};

class HoldTimeTest : public ::testing::TestWithParam<HoldCase> {};

TEST_P(HoldTimeTest, MinOfBothAndKeepalive) {
  const HoldCase& c = GetParam();
  PeerConfig p = Peer();
  p.hold_time_s = c.ours;
  p.keepalive_s = c.configured_keepalive;
  OpenMessage theirs = RouteServerOpen();
  theirs.hold_time = c.theirs;
  const OpenCheck check = Negotiate(BuildOpen(p, Local()), theirs, p, kLocalAs);
  ASSERT_EQ(check.session.has_value(), c.accepted) << check.reason;
  if (!c.accepted) {
    EXPECT_EQ(check.error.code, kErrOpen);
    EXPECT_EQ(check.error.subcode, kOpenUnacceptableHoldTime);
    return;
  }
  EXPECT_EQ(check.session->hold_time, c.hold);
  EXPECT_EQ(check.session->keepalive_time, c.keepalive);
}

INSTANTIATE_TEST_SUITE_P(Rfc4271, HoldTimeTest,
                         ::testing::Values(HoldCase{180, 180, 60, true, 180, 60},
                                           HoldCase{180, 90, 60, true, 90, 30},
                                           HoldCase{9, 180, 60, true, 9, 3},
                                           HoldCase{180, 180, 10, true, 180, 10},
                                           HoldCase{180, 180, 0, true, 180, 60},
                                           HoldCase{180, 0, 60, true, 0, 0},
                                           HoldCase{0, 180, 60, true, 0, 0},
                                           HoldCase{180, 3, 60, true, 3, 1},
                                           HoldCase{180, 1, 60, false, 0, 0},
                                           HoldCase{180, 2, 60, false, 0, 0}));

TEST(NegotiateTest, RejectsBadOpens) {
  const OpenMessage ours = BuildOpen(Peer(), Local());
  OpenMessage v3 = RouteServerOpen();
  v3.version = 3;
  EXPECT_EQ(Negotiate(ours, v3, Peer(), kLocalAs).error.subcode, kOpenUnsupportedVersion);

  OpenMessage wrong_as = RouteServerOpen();
  wrong_as.my_as = 65000;
  EXPECT_EQ(Negotiate(ours, wrong_as, Peer(), kLocalAs).error.subcode, kOpenBadPeerAs);

  OpenMessage zero_id = RouteServerOpen();
  zero_id.bgp_id = Ipv4Addr{0};
  EXPECT_EQ(Negotiate(ours, zero_id, Peer(), kLocalAs).error.subcode, kOpenBadBgpId);

  OpenMessage other_afi = RouteServerOpen();
  other_afi.caps.mp_ipv4_unicast = false;
  other_afi.caps.unknown.push_back(RawCapability{kCapMultiprotocol, {0, 2, 0, 1}});
  const OpenCheck no_afi = Negotiate(ours, other_afi, Peer(), kLocalAs);
  EXPECT_EQ(no_afi.error.subcode, kOpenUnsupportedCapability);
  EXPECT_FALSE(no_afi.reason.empty());

  // No MP capability at all: IPv4 unicast is implied (RFC 4760 1).
  OpenMessage legacy = RouteServerOpen();
  legacy.caps.mp_ipv4_unicast = false;
  EXPECT_TRUE(Negotiate(ours, legacy, Peer(), kLocalAs).session.has_value());
}

TEST(NegotiateTest, IbgpSameRouterIdRejectedEbgpAllowed) {
  PeerConfig ibgp = Peer();
  ibgp.remote_as = kLocalAs;
  OpenMessage theirs = RouteServerOpen();
  theirs.my_as = static_cast<uint16_t>(kLocalAs);
  theirs.bgp_id = Local().router_id;
  EXPECT_EQ(Negotiate(BuildOpen(ibgp, Local()), theirs, ibgp, kLocalAs).error.subcode,
            kOpenBadBgpId);
  OpenMessage ebgp = RouteServerOpen();
  ebgp.bgp_id = Local().router_id;
  EXPECT_TRUE(Negotiate(BuildOpen(Peer(), Local()), ebgp, Peer(), kLocalAs).session.has_value());
}

TEST(NegotiateTest, FourOctetAndGracefulRestart) {
  PeerConfig p = Peer();
  p.remote_as = 4200000002u;
  OpenMessage theirs = RouteServerOpen();
  theirs.my_as = kAsTrans;
  theirs.caps.four_octet_as = 4200000002u;
  theirs.caps.enhanced_route_refresh = true;
  GracefulRestartCap gr;
  gr.notification = true;
  gr.ipv4_unicast = true;
  gr.restart_time = 90;
  theirs.caps.graceful_restart = gr;
  const OpenCheck check = Negotiate(BuildOpen(p, Local()), theirs, p, kLocalAs);
  ASSERT_TRUE(check.session.has_value()) << check.reason;
  EXPECT_EQ(check.session->peer_as, 4200000002u);
  EXPECT_TRUE(check.session->four_octet_as);
  EXPECT_TRUE(check.session->enhanced_route_refresh);
  EXPECT_TRUE(check.session->graceful_restart_notification);
  EXPECT_EQ(check.session->peer_graceful_restart->restart_time, 90);
}

TEST(CeaseTest, ShutdownCommunicationAndHardReset) {
  const NotificationMessage plain = MakeSessionCease(kCeaseAdminShutdown, "maintenance", false);
  EXPECT_EQ(plain.code, kErrCease);
  EXPECT_EQ(plain.subcode, kCeaseAdminShutdown);
  ASSERT_FALSE(plain.data.empty());
  EXPECT_EQ(plain.data[0], 11);   // RFC 8203 length octet
  EXPECT_EQ(std::string(plain.data.begin() + 1, plain.data.end()), "maintenance");

  const NotificationMessage hard = MakeSessionCease(kCeaseAdminShutdown, "maintenance", true);
  EXPECT_EQ(hard.subcode, kCeaseHardReset);
  ASSERT_GE(hard.data.size(), 3u);
  EXPECT_EQ(hard.data[0], kErrCease);
  EXPECT_EQ(hard.data[1], kCeaseAdminShutdown);
  EXPECT_EQ(hard.data[2], 11);

  // Collision resolution keeps graceful restart: never wrapped.
  EXPECT_EQ(MakeSessionCease(kCeaseCollisionResolution, "", true).subcode,
            kCeaseCollisionResolution);
  EXPECT_EQ(MakeSessionCease(kCeaseMaxPrefixes, "", true).subcode, kCeaseHardReset);
}

struct GrCase {
  const char* name;
  bool local_gr, peer_gr, peer_ipv4, n_bit;
  std::optional<NotificationMessage> notification;
  bool applies;
};

class GracefulRestartTest : public ::testing::TestWithParam<GrCase> {};

TEST_P(GracefulRestartTest, Rfc4724And8538) {
  const GrCase& c = GetParam();
  NegotiatedSession s;
  if (c.peer_gr) {
    GracefulRestartCap gr;
    gr.ipv4_unicast = c.peer_ipv4;
    gr.notification = c.n_bit;
    s.peer_graceful_restart = gr;
  }
  s.graceful_restart_notification = c.n_bit;
  EXPECT_EQ(GracefulRestartApplies(s, c.local_gr, c.notification), c.applies) << c.name;
}

const NotificationMessage kHoldExpired{kErrHoldTimerExpired, 0, {}};
const NotificationMessage kHardReset{kErrCease, kCeaseHardReset, {kErrCease, kCeaseAdminShutdown}};

INSTANTIATE_TEST_SUITE_P(
    Cases, GracefulRestartTest,
    ::testing::Values(GrCase{"tcp drop", true, true, true, false, std::nullopt, true},
                      GrCase{"peer without GR", true, false, false, false, std::nullopt, false},
                      GrCase{"GR without ipv4", true, true, false, false, std::nullopt, false},
                      GrCase{"we disabled GR", false, true, true, true, std::nullopt, false},
                      GrCase{"notification, no N bit", true, true, true, false, kHoldExpired, false},
                      GrCase{"notification with N bit", true, true, true, true, kHoldExpired, true},
                      GrCase{"hard reset with N bit", true, true, true, true, kHardReset, false}));

TEST(SocketOptionsTest, TtlRules) {
  PeerConfig p = Peer();
  SocketOptions ebgp = SocketOptionsFor(p, false);
  EXPECT_EQ(ebgp.ttl, 1);
  EXPECT_FALSE(ebgp.min_ttl.has_value());

  p.multihop_ttl = 2;   // Azure Route Server
  p.source = *ParseIpv4("198.18.0.1");
  SocketOptions multihop = SocketOptionsFor(p, false);
  EXPECT_EQ(multihop.ttl, 2);
  EXPECT_EQ(multihop.source, p.source);

  p.gtsm = true;   // RFC 5082: send 255, accept >= 255 - (hops - 1)
  SocketOptions gtsm = SocketOptionsFor(p, false);
  EXPECT_EQ(gtsm.ttl, 255);
  EXPECT_EQ(gtsm.min_ttl, 254);
  p.multihop_ttl = 1;
  EXPECT_EQ(SocketOptionsFor(p, false).min_ttl, 255);

  p.gtsm = false;
  EXPECT_FALSE(SocketOptionsFor(p, true).ttl.has_value());
}

TEST(BackoffTest, DoublesUpToConnectRetry) {
  const absl::Duration cap = absl::Seconds(30);
  EXPECT_EQ(ConnectBackoff(0, cap), absl::Seconds(1));
  EXPECT_EQ(ConnectBackoff(1, cap), absl::Seconds(2));
  EXPECT_EQ(ConnectBackoff(4, cap), absl::Seconds(16));
  EXPECT_EQ(ConnectBackoff(5, cap), cap);
  EXPECT_EQ(ConnectBackoff(1000, cap), cap);
  EXPECT_EQ(ConnectBackoff(3, absl::ZeroDuration()), absl::Seconds(1));
}

TEST(NeedsResetTest, SessionFieldsOnly) {
  PeerConfig a = Peer();
  PeerConfig b = a;
  b.import_policies = {"from-ars"};
  b.description = "changed";
  b.max_prefix.limit = 100;
  EXPECT_FALSE(Session::NeedsReset(a, b));
  b.hold_time_s = 90;
  EXPECT_TRUE(Session::NeedsReset(a, b));
}

}  // namespace
}  // namespace isthmus::bgp
