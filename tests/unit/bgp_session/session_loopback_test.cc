// Sessions over real TCP on loopback, inside a private network namespace:
// two Sessions (127.0.0.1 / 127.0.0.2) reaching Established, exchanging an
// UPDATE and a ROUTE-REFRESH, hold timer expiry, Stop() with Cease, graceful
// restart on a TCP drop, and connection collisions.

#include <unistd.h>

#include <memory>
#include <variant>

#include "bgp/session/listener.h"
#include "bgp/session/session.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/bgp_session/session_test_support.h"

namespace isthmus::bgp {
namespace {

using ::testing::HasSubstr;
using testing::MakeOpen;
using testing::RecordingObserver;
using testing::RunFor;
using testing::RunUntil;
using testing::ScriptedPeer;

constexpr Asn kAsA = 65001;
constexpr Asn kAsB = 65002;
constexpr absl::Duration kEstablishTimeout = absl::Seconds(10);
const Ipv4Addr kAddrA = *ParseIpv4("127.0.0.1");
const Ipv4Addr kAddrB = *ParseIpv4("127.0.0.2");
const Ipv4Prefix kPrefix = *ParsePrefix("198.51.100.0/24");

struct Side {
  RecordingObserver observer;
  std::unique_ptr<Listener> listener;
  std::unique_ptr<Session> session;
};

class SessionLoopbackTest : public testing::NetnsTest {
 protected:
  void SetUp() override {
    NetnsTest::SetUp();
    if (HasFatalFailure()) return;
    auto loop = EventLoop::Create();
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = std::move(loop).value();
    a_.listener = Listen(kAddrA, &a_);
    b_.listener = Listen(kAddrB, &b_);
  }
  void TearDown() override {
    a_.session.reset();
    b_.session.reset();
    a_.listener.reset();
    b_.listener.reset();
    peers_.clear();
    loop_.reset();
    NetnsTest::TearDown();
  }

  std::unique_ptr<Listener> Listen(Ipv4Addr addr, Side* side) {
    auto listener = Listener::Create(loop_.get(), addr, 0, [side](int fd, Ipv4Addr) {
      if (side->session != nullptr) {
        side->session->AcceptIncoming(fd);
      } else {
        close(fd);
      }
    });
    EXPECT_TRUE(listener.ok()) << listener.status();
    return std::move(listener).value();
  }

  static PeerConfig Config(const char* name, Ipv4Addr remote, Asn remote_as, Ipv4Addr source,
                           uint16_t port, bool passive, uint16_t hold) {
    PeerConfig p;
    p.name = name;
    p.address = remote;
    p.remote_as = remote_as;
    p.source = source;
    p.port = port;
    p.passive = passive;
    p.hold_time_s = hold;
    p.keepalive_s = 0;          // hold/3
    p.connect_retry_s = 1;
    return p;
  }

  void MakeA(bool passive, uint16_t hold, const char* router_id = "192.0.2.1") {
    a_.session = std::make_unique<Session>(
        Config("b", kAddrB, kAsB, kAddrA, b_.listener->port(), passive, hold), kAsA,
        *ParseIpv4(router_id), 120, loop_.get(), &a_.observer);
  }
  void MakeB(bool passive, uint16_t hold) {
    b_.session = std::make_unique<Session>(
        Config("a", kAddrA, kAsA, kAddrB, a_.listener->port(), passive, hold), kAsB,
        *ParseIpv4("192.0.2.2"), 120, loop_.get(), &b_.observer);
  }

  bool BothEstablished() {
    return a_.session->state() == SessionState::kEstablished &&
           b_.session->state() == SessionState::kEstablished;
  }

  void EstablishPair(uint16_t hold_a = 9, uint16_t hold_b = 6) {
    MakeA(false, hold_a);
    MakeB(true, hold_b);
    b_.session->Start();
    a_.session->Start();
    ASSERT_TRUE(RunUntil(*loop_, [&] { return BothEstablished(); }, kEstablishTimeout))
        << "A: " << ToString(a_.session->state()) << " " << a_.session->last_error()
        << "; B: " << ToString(b_.session->state()) << " " << b_.session->last_error();
  }

  std::unique_ptr<EventLoop> loop_;
  Side a_, b_;
  std::vector<std::unique_ptr<ScriptedPeer>> peers_;
};

TEST_F(SessionLoopbackTest, EstablishesAndNegotiatesCapabilities) {
  EstablishPair(9, 6);
  ASSERT_EQ(a_.observer.established.size(), 1u);
  const NegotiatedSession& n = a_.observer.established[0];
  EXPECT_EQ(n.peer_as, kAsB);
  EXPECT_EQ(n.peer_router_id, *ParseIpv4("192.0.2.2"));
  EXPECT_EQ(n.hold_time, 6);       // min(9, 6)
  EXPECT_EQ(n.keepalive_time, 2);  // 6 / 3
  EXPECT_TRUE(n.four_octet_as);
  EXPECT_TRUE(n.route_refresh);
  EXPECT_TRUE(n.enhanced_route_refresh);
  ASSERT_TRUE(n.peer_graceful_restart.has_value());
  EXPECT_EQ(n.peer_graceful_restart->restart_time, 120);
  EXPECT_TRUE(n.graceful_restart_notification);
  EXPECT_TRUE(n.ebgp);
  EXPECT_EQ(n.local_address, kAddrA);
  ASSERT_NE(b_.session->negotiated(), nullptr);
  EXPECT_EQ(b_.session->negotiated()->local_address, kAddrB);
  EXPECT_EQ(b_.session->negotiated()->peer_as, kAsA);
  EXPECT_EQ(a_.session->counters().established_transitions, 1u);
  EXPECT_EQ(a_.session->counters().messages_out[static_cast<int>(MessageType::kOpen)], 1u);
  EXPECT_NE(a_.session->established_since(), absl::InfinitePast());
}

TEST_F(SessionLoopbackTest, ExchangesUpdateAndRouteRefresh) {
  EstablishPair();
  PathAttributes attrs;
  attrs.origin = Origin::kIgp;
  attrs.as_path.segments.push_back({AsPathSegment::Type::kSequence, {kAsA}});
  attrs.next_hop = *ParseIpv4("192.0.2.1");   // loopback next hops are invalid (RFC 7606 7.3)
  CodecContext ctx;
  for (const auto& message : EncodeUpdates({}, &attrs, {kPrefix}, ctx)) {
    EXPECT_TRUE(a_.session->Send(message));
  }
  EXPECT_TRUE(b_.session->SendRouteRefresh(kRouteRefreshRequest));
  EXPECT_TRUE(b_.session->SendRouteRefresh(kRouteRefreshBegin));   // enhanced negotiated
  ASSERT_TRUE(RunUntil(*loop_, [&] {
    return b_.observer.updates.size() == 1 && a_.observer.refreshes.size() == 2;
  }, absl::Seconds(5)));
  const UpdateMessage& u = b_.observer.updates[0];
  ASSERT_EQ(u.nlri.size(), 1u);
  EXPECT_EQ(u.nlri[0], kPrefix);
  ASSERT_TRUE(u.attrs.has_value());
  EXPECT_EQ(u.attrs->as_path.ToString(), "65001");
  EXPECT_EQ(u.attrs->next_hop, *ParseIpv4("192.0.2.1"));
  EXPECT_EQ(b_.observer.actions[0], ErrorAction::kNone);
  EXPECT_EQ(a_.observer.refreshes[1].subtype, kRouteRefreshBegin);
  EXPECT_EQ(b_.session->counters().messages_in[static_cast<int>(MessageType::kUpdate)], 1u);
  EXPECT_EQ(a_.session->counters().messages_in[static_cast<int>(MessageType::kRouteRefresh)], 2u);
}

TEST_F(SessionLoopbackTest, KeepalivesHoldTheSessionUp) {
  EstablishPair(3, 3);   // keepalive every second
  RunFor(*loop_, absl::Seconds(4));
  EXPECT_TRUE(BothEstablished()) << a_.session->last_error();
  EXPECT_GE(a_.session->counters().messages_in[static_cast<int>(MessageType::kKeepalive)], 3u);
  EXPECT_TRUE(a_.observer.downs.empty());
}

TEST_F(SessionLoopbackTest, StopSendsCeaseWithHardResetWhenNBitNegotiated) {
  EstablishPair();
  a_.session->Stop(kCeaseAdminShutdown, "maintenance window");
  ASSERT_TRUE(RunUntil(*loop_, [&] { return !b_.observer.downs.empty(); }, absl::Seconds(5)));
  EXPECT_EQ((b_.session->counters().notifications_received.at({kErrCease, kCeaseHardReset})), 1u);
  EXPECT_THAT(b_.observer.downs[0].reason, HasSubstr("maintenance window"));
  EXPECT_FALSE(b_.observer.downs[0].graceful_restart);   // RFC 8538: Hard Reset flushes
  ASSERT_EQ(a_.observer.downs.size(), 1u);
  EXPECT_FALSE(a_.observer.downs[0].graceful_restart);
  EXPECT_THAT(a_.session->last_error(), HasSubstr("maintenance window"));
  RunFor(*loop_, absl::Seconds(2));   // A stays down: no reconnect after ManualStop
  EXPECT_EQ(a_.session->state(), SessionState::kIdle);
  EXPECT_EQ(a_.session->counters().established_transitions, 1u);
  EXPECT_NE(b_.session->state(), SessionState::kEstablished);
}

TEST_F(SessionLoopbackTest, StopSendsPlainCeaseWithoutGracefulRestart) {
  MakeA(false, 9);
  MakeB(true, 9);
  PeerConfig no_gr = a_.session->config();
  no_gr.graceful_restart = false;
  a_.session->Reconfigure(no_gr);
  b_.session->Start();
  a_.session->Start();
  ASSERT_TRUE(RunUntil(*loop_, [&] { return BothEstablished(); }, kEstablishTimeout));
  EXPECT_FALSE(b_.session->negotiated()->graceful_restart_notification);
  b_.session->Stop(kCeasePeerDeconfigured, "");
  ASSERT_TRUE(RunUntil(*loop_, [&] { return !a_.observer.downs.empty(); }, absl::Seconds(5)));
  EXPECT_EQ((a_.session->counters().notifications_received.at({kErrCease, kCeasePeerDeconfigured})),
            1u);
  EXPECT_FALSE(a_.observer.downs[0].graceful_restart);
}

TEST_F(SessionLoopbackTest, TcpDropWithoutNotificationKeepsGracefulRestart) {
  EstablishPair();
  b_.session.reset();   // closes the socket without a NOTIFICATION
  ASSERT_TRUE(RunUntil(*loop_, [&] { return !a_.observer.downs.empty(); }, absl::Seconds(5)));
  EXPECT_TRUE(a_.observer.downs[0].graceful_restart);
  EXPECT_THAT(a_.observer.downs[0].reason, HasSubstr("closed"));
  EXPECT_NE(a_.session->state(), SessionState::kEstablished);
}

TEST_F(SessionLoopbackTest, PeerRestartReestablishes) {
  EstablishPair();
  b_.session.reset();
  MakeB(true, 6);
  b_.session->Start();
  // A backs off 1 s, reconnects and comes up again.
  ASSERT_TRUE(RunUntil(*loop_, [&] { return BothEstablished(); }, kEstablishTimeout))
      << a_.session->last_error();
  EXPECT_EQ(a_.session->counters().established_transitions, 2u);
}

TEST_F(SessionLoopbackTest, BothActiveEndUpWithOneSession) {
  MakeA(false, 9);
  MakeB(false, 9);
  a_.session->Start();
  b_.session->Start();
  ASSERT_TRUE(RunUntil(*loop_, [&] { return BothEstablished(); }, kEstablishTimeout))
      << a_.session->last_error() << " / " << b_.session->last_error();
  RunFor(*loop_, absl::Milliseconds(1500));
  EXPECT_TRUE(BothEstablished());
  EXPECT_EQ(a_.session->counters().established_transitions, 1u);
  EXPECT_EQ(b_.session->counters().established_transitions, 1u);
  // The survivor carries traffic.
  EXPECT_TRUE(b_.session->SendRouteRefresh(kRouteRefreshRequest));
  ASSERT_TRUE(RunUntil(*loop_, [&] { return a_.observer.refreshes.size() == 1; }, absl::Seconds(3)));
}

TEST_F(SessionLoopbackTest, HoldTimerExpiresWhenPeerGoesSilent) {
  MakeA(true, 3);
  a_.session->Start();
  auto peer = ScriptedPeer::Connect(loop_.get(), kAddrB, kAddrA, a_.listener->port());
  peer->Send(MakeOpen(kAsB, "192.0.2.2", 3, /*graceful_restart=*/true));
  peer->Send(KeepaliveMessage{});
  ASSERT_TRUE(RunUntil(*loop_, [&] { return a_.session->state() == SessionState::kEstablished; },
                       absl::Seconds(5)))
      << a_.session->last_error();
  const absl::Duration established = EventLoop::MonotonicNow();
  // The peer now says nothing at all.
  ASSERT_TRUE(RunUntil(*loop_, [&] { return !a_.observer.downs.empty(); }, absl::Seconds(6)));
  const absl::Duration waited = EventLoop::MonotonicNow() - established;
  EXPECT_GE(waited, absl::Milliseconds(2900));
  EXPECT_LE(waited, absl::Seconds(4));
  EXPECT_EQ(a_.observer.downs[0].reason, "hold timer expired");
  // RFC 8538: with the N bit, a NOTIFICATION other than Hard Reset keeps GR.
  EXPECT_TRUE(a_.observer.downs[0].graceful_restart);
  EXPECT_EQ((a_.session->counters().notifications_sent.at({kErrHoldTimerExpired, 0})), 1u);
  ASSERT_TRUE(RunUntil(*loop_, [&] { return peer->Count<NotificationMessage>() == 1; },
                       absl::Seconds(2)));
  const auto& n = std::get<NotificationMessage>(peer->received().back());
  EXPECT_EQ(n.code, kErrHoldTimerExpired);
}

TEST_F(SessionLoopbackTest, WrongPeerAsGetsOpenError) {
  MakeA(true, 9);
  a_.session->Start();
  auto peer = ScriptedPeer::Connect(loop_.get(), kAddrB, kAddrA, a_.listener->port());
  peer->Send(MakeOpen(64999, "192.0.2.2", 9, false));
  ASSERT_TRUE(RunUntil(*loop_, [&] { return peer->Count<NotificationMessage>() == 1; },
                       absl::Seconds(5)));
  const auto& n = std::get<NotificationMessage>(peer->received().back());
  EXPECT_EQ(n.code, kErrOpen);
  EXPECT_EQ(n.subcode, kOpenBadPeerAs);
  EXPECT_THAT(a_.session->last_error(), HasSubstr("64999"));
  EXPECT_TRUE(a_.observer.established.empty());
  EXPECT_TRUE(a_.observer.downs.empty());   // never up, so never down
}

// RFC 4271 6.8 with a scripted peer that has both connections up: A's
// outgoing one (accepted by the test's listener) and one towards A.
struct CollisionCase {
  const char* peer_router_id;
  bool incoming_survives;
};

class CollisionTest : public SessionLoopbackTest,
                      public ::testing::WithParamInterface<CollisionCase> {};

TEST_P(CollisionTest, HigherRouterIdsConnectionSurvives) {
  const CollisionCase& c = GetParam();
  std::unique_ptr<ScriptedPeer> out;   // the connection A opened
  auto accept = Listener::Create(loop_.get(), kAddrB, 0, [&](int fd, Ipv4Addr) {
    out = std::make_unique<ScriptedPeer>(loop_.get(), fd);
  });
  ASSERT_TRUE(accept.ok());
  a_.session = std::make_unique<Session>(
      Config("b", kAddrB, kAsB, kAddrA, (*accept)->port(), false, 9), kAsA,
      *ParseIpv4("192.0.2.10"), 120, loop_.get(), &a_.observer);
  a_.session->Start();
  ASSERT_TRUE(RunUntil(*loop_, [&] { return out != nullptr && out->Count<OpenMessage>() == 1; },
                       absl::Seconds(5)));
  auto in = ScriptedPeer::Connect(loop_.get(), kAddrB, kAddrA, a_.listener->port());
  ASSERT_TRUE(RunUntil(*loop_, [&] { return in->Count<OpenMessage>() == 1; }, absl::Seconds(5)));
  out->Send(MakeOpen(kAsB, c.peer_router_id, 9, false));
  ASSERT_TRUE(RunUntil(*loop_, [&] { return out->Count<KeepaliveMessage>() == 1; },
                       absl::Seconds(5)));
  EXPECT_EQ(a_.session->state(), SessionState::kOpenConfirm);
  in->Send(MakeOpen(kAsB, c.peer_router_id, 9, false));

  ScriptedPeer* loser = c.incoming_survives ? out.get() : in.get();
  ScriptedPeer* winner = c.incoming_survives ? in.get() : out.get();
  ASSERT_TRUE(RunUntil(*loop_, [&] { return loser->Count<NotificationMessage>() == 1; },
                       absl::Seconds(5)));
  const auto& n = std::get<NotificationMessage>(loser->received().back());
  EXPECT_EQ(n.code, kErrCease);
  EXPECT_EQ(n.subcode, kCeaseCollisionResolution);
  winner->Send(KeepaliveMessage{});
  ASSERT_TRUE(RunUntil(*loop_, [&] { return a_.session->state() == SessionState::kEstablished; },
                       absl::Seconds(5)))
      << a_.session->last_error();
  EXPECT_EQ(a_.session->counters().collisions_resolved, 1u);
  EXPECT_EQ(winner->Count<NotificationMessage>(), 0);
  EXPECT_EQ(a_.observer.established.size(), 1u);
  EXPECT_TRUE(RunUntil(*loop_, [&] { return loser->closed(); }, absl::Seconds(5)));
  in.reset();
  out.reset();
}

INSTANTIATE_TEST_SUITE_P(Rfc4271, CollisionTest,
                         ::testing::Values(CollisionCase{"192.0.2.20", true},
                                           CollisionCase{"192.0.2.5", false}));

}  // namespace
}  // namespace isthmus::bgp
