// Interoperability with a real FRR bgpd: two network namespaces joined by a
// veth pair (198.18.0.1 us, 198.18.0.2 FRR), a session to Established, FRR's
// UPDATE for its `network` statement received, ours installed in FRR's RIB.
// Skipped when FRR is not installed.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bgp/session/listener.h"
#include "bgp/session/session.h"
#include "gtest/gtest.h"
#include "tests/unit/bgp_session/session_test_support.h"

namespace isthmus::bgp {
namespace {

constexpr const char* kBgpd = "/usr/lib/frr/bgpd";
constexpr Asn kOurAs = 65001;
constexpr Asn kFrrAs = 65002;
constexpr uint16_t kBgpPort = 179;
const Ipv4Addr kOurAddr = *ParseIpv4("198.18.0.1");
const Ipv4Addr kFrrAddr = *ParseIpv4("198.18.0.2");
const Ipv4Prefix kFrrNetwork = *ParsePrefix("203.0.113.0/24");
const Ipv4Prefix kOurNetwork = *ParsePrefix("198.51.100.0/24");

std::string CommandOutput(const std::string& command) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return output;
  std::array<char, 512> chunk;
  size_t got = 0;
  while ((got = fread(chunk.data(), 1, chunk.size(), pipe)) > 0) output.append(chunk.data(), got);
  pclose(pipe);
  return output;
}

class FrrInteropTest : public testing::NetnsTest {
 protected:
  void SetUp() override {
    if (access(kBgpd, X_OK) != 0) GTEST_SKIP() << kBgpd << " not found";
    NetnsTest::SetUp();
    if (HasFatalFailure()) return;
    frr_ns_ = AddNamespace();
    ASSERT_FALSE(frr_ns_.empty());
    ASSERT_EQ(Shell(absl::StrCat("ip -n ", netns(), " link add isb0 type veth peer name isb1 netns ",
                                 frr_ns_)), 0);
    ASSERT_EQ(Shell(absl::StrCat("ip -n ", netns(), " addr add 198.18.0.1/30 dev isb0")), 0);
    ASSERT_EQ(Shell(absl::StrCat("ip -n ", netns(), " link set isb0 up")), 0);
    ASSERT_EQ(Shell(absl::StrCat("ip -n ", frr_ns_, " addr add 198.18.0.2/30 dev isb1")), 0);
    ASSERT_EQ(Shell(absl::StrCat("ip -n ", frr_ns_, " link set isb1 up")), 0);
    ASSERT_EQ(Shell(absl::StrCat("ip -n ", frr_ns_, " link set lo up")), 0);
    char dir_template[] = "/tmp/isth-frr-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    StartFrr();
  }

  void TearDown() override {
    session_.reset();
    listener_.reset();
    loop_.reset();
    StopFrr();
    if (!dir_.empty()) {
      if (HasFailure()) {
        std::ifstream log(dir_ + "/bgpd.log");
        std::cerr << "--- bgpd.log ---\n" << log.rdbuf() << "\n";
      }
      std::filesystem::remove_all(dir_);
    }
    NetnsTest::TearDown();
  }

  void StartFrr() {
    std::ofstream conf(dir_ + "/bgpd.conf");
    conf << "frr defaults traditional\n"
         << "hostname isthmus-frr-test\n"
         << "log file " << dir_ << "/bgpd.log\n"
         << "router bgp " << kFrrAs << "\n"
         << " bgp router-id 198.18.0.2\n"
         << " no bgp ebgp-requires-policy\n"
         << " no bgp network import-check\n"
         << " neighbor 198.18.0.1 remote-as " << kOurAs << "\n"
         << " neighbor 198.18.0.1 timers connect 1\n"
         << " address-family ipv4 unicast\n"
         << "  network " << ToString(kFrrNetwork) << "\n"
         << " exit-address-family\n";
    conf.close();
    const std::string command =
        absl::StrCat("ip netns exec ", frr_ns_, " ", kBgpd, " -d -Z -S -P 0 -l 198.18.0.2 -f ",
                     dir_, "/bgpd.conf --vty_socket ", dir_, " -i ", dir_, "/bgpd.pid");
    ASSERT_EQ(Shell(command), 0) << command;
    // -d returns once daemonized; the pid file may come a moment later.
    for (int i = 0; i < 100 && frr_pid_ <= 0; ++i) {
      std::ifstream pidfile(dir_ + "/bgpd.pid");
      pidfile >> frr_pid_;
      if (frr_pid_ <= 0) absl::SleepFor(absl::Milliseconds(50));
    }
    ASSERT_GT(frr_pid_, 0) << "bgpd wrote no pid file";
  }

  void StopFrr() {
    if (frr_pid_ <= 0) return;
    kill(frr_pid_, SIGTERM);
    for (int i = 0; i < 100 && kill(frr_pid_, 0) == 0; ++i) absl::SleepFor(absl::Milliseconds(50));
    if (kill(frr_pid_, 0) == 0) kill(frr_pid_, SIGKILL);
    frr_pid_ = -1;
  }

  std::string Vtysh(const std::string& command) {
    return CommandOutput(absl::StrCat("vtysh --vty_socket ", dir_, " -d bgpd -c '", command,
                                      "' 2>/dev/null"));
  }

  std::string frr_ns_;
  std::string dir_;
  pid_t frr_pid_ = -1;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<Session> session_;
};

TEST_F(FrrInteropTest, EstablishesAndExchangesRoutes) {
  auto loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  loop_ = std::move(loop).value();
  testing::RecordingObserver observer;
  PeerConfig peer;
  peer.name = "frr";
  peer.address = kFrrAddr;
  peer.remote_as = kFrrAs;
  peer.source = kOurAddr;
  peer.hold_time_s = 9;
  peer.connect_retry_s = 2;
  session_ = std::make_unique<Session>(peer, kOurAs, *ParseIpv4("192.0.2.1"), 120, loop_.get(),
                                       &observer);
  // FRR connects to us too: accept, so collisions with a real peer happen.
  auto listener = Listener::Create(loop_.get(), kOurAddr, kBgpPort, [&](int fd, Ipv4Addr from) {
    if (from == kFrrAddr) {
      session_->AcceptIncoming(fd);
    } else {
      close(fd);
    }
  });
  ASSERT_TRUE(listener.ok()) << listener.status();
  listener_ = std::move(listener).value();
  session_->Start();

  ASSERT_TRUE(testing::RunUntil(*loop_, [&] {
    return session_->state() == SessionState::kEstablished;
  }, absl::Seconds(30))) << ToString(session_->state()) << ": " << session_->last_error();
  const NegotiatedSession* n = session_->negotiated();
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->peer_as, kFrrAs);
  EXPECT_EQ(n->peer_router_id, kFrrAddr);
  EXPECT_EQ(n->hold_time, 9);
  EXPECT_TRUE(n->four_octet_as);
  EXPECT_TRUE(n->route_refresh);
  EXPECT_EQ(n->local_address, kOurAddr);

  // FRR's `network` statement arrives as an UPDATE.
  auto has_frr_route = [&] {
    for (const UpdateMessage& u : observer.updates) {
      for (const Ipv4Prefix& p : u.nlri) {
        if (p == kFrrNetwork) return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(testing::RunUntil(*loop_, has_frr_route, absl::Seconds(30)))
      << observer.updates.size() << " UPDATEs";
  for (const UpdateMessage& u : observer.updates) {
    if (u.nlri.empty()) continue;
    ASSERT_TRUE(u.attrs.has_value());
    EXPECT_EQ(u.attrs->as_path.ToString(), "65002");
    EXPECT_EQ(u.attrs->next_hop, kFrrAddr);
  }

  // Ours reaches FRR's RIB.
  PathAttributes attrs;
  attrs.origin = Origin::kIgp;
  attrs.as_path.segments.push_back({AsPathSegment::Type::kSequence, {kOurAs}});
  attrs.next_hop = kOurAddr;
  CodecContext ctx;
  ctx.four_octet_as = n->four_octet_as;
  for (const auto& m : EncodeUpdates({}, &attrs, {kOurNetwork}, ctx)) {
    EXPECT_TRUE(session_->Send(m));
  }
  std::string rib;
  ASSERT_TRUE(testing::RunUntil(*loop_, [&] {
    rib = Vtysh("show bgp ipv4 unicast " + ToString(kOurNetwork) + " json");
    return rib.find("\"65001\"") != std::string::npos || rib.find("65001") != std::string::npos;
  }, absl::Seconds(15))) << rib;

  // A route refresh request is answered with FRR's table again.
  const size_t before = observer.updates.size();
  EXPECT_TRUE(session_->SendRouteRefresh(kRouteRefreshRequest));
  EXPECT_TRUE(testing::RunUntil(*loop_, [&] { return observer.updates.size() > before; },
                                absl::Seconds(15)));

  // Stop: FRR records our Cease.
  session_->Stop(kCeaseAdminShutdown, "interop test done");
  std::string neighbor;
  EXPECT_TRUE(testing::RunUntil(*loop_, [&] {
    neighbor = Vtysh("show bgp neighbors 198.18.0.1 json");
    return !neighbor.empty() &&
           neighbor.find("\"bgpState\":\"Established\"") == std::string::npos;
  }, absl::Seconds(10))) << neighbor;
  // RFC 8538: FRR negotiated the N bit, so the shutdown came as a Hard Reset.
  EXPECT_NE(neighbor.find("Administrative Shutdown"), std::string::npos) << neighbor;
  EXPECT_NE(neighbor.find("\"lastNotificationHardReset\":true"), std::string::npos) << neighbor;
}

}  // namespace
}  // namespace isthmus::bgp
