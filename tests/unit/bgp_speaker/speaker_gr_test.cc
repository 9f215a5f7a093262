// Speaker behaviour when peers restart, refresh or overflow: graceful
// restart as helper (RFC 4724) and its RFC 8538 Hard Reset exception, route
// refresh (RFC 2918, RFC 7313), the outbound cap, no re-sending of unchanged
// routes, and the inbound max-prefix actions. Harness in speaker_fixture.h.
//
// A restarting peer runs in a child process (bgp_speaker_peer): SIGKILL
// drops its TCP connection without a NOTIFICATION, as a crash does.

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/unit/bgp_speaker/speaker_fixture.h"

namespace isthmus::bgp {
namespace {

using nlohmann::json;

// Restart Time the restarting peer advertises when the test expects it
// back first: long enough never to expire during the test.
constexpr uint16_t kLongRestartTimeS = 120;
// Restart Time for the "never comes back" case.
constexpr uint16_t kShortRestartTimeS = 4;
// "No UPDATE is sent" is watched for this long.
constexpr auto kNoUpdatePeriod = std::chrono::milliseconds(2000);

// A bgp_speaker_peer child. Killed with SIGKILL (by PID) and reaped when
// the object goes; the kernel also kills it if this thread dies.
class PeerProcess {
 public:
  PeerProcess() = default;
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;
  ~PeerProcess() { Kill(); }

  // `self` runs in the child; `peer` is the in-process node it peers with.
  bool Spawn(const Node& self, const Node& peer, uint16_t restart_time_s, bool restarting,
             const std::vector<std::string>& prefixes) {
    std::vector<std::string> args = {ISTHMUS_BGP_SPEAKER_PEER,
                                     absl::StrCat(self.config.asn),
                                     ToString(*self.config.listen_address),
                                     absl::StrCat(self.config.listen_port),
                                     peer.name,
                                     ToString(*peer.config.listen_address),
                                     absl::StrCat(peer.config.asn),
                                     absl::StrCat(peer.config.listen_port),
                                     absl::StrCat(restart_time_s),
                                     restarting ? "1" : "0"};
    args.insert(args.end(), prefixes.begin(), prefixes.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      execv(argv[0], argv.data());
      _exit(127);
    }
    return pid_ > 0;
  }

  // The crash: no NOTIFICATION, the kernel closes the connection.
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

class SpeakerResilienceTest : public SpeakerTest {
 protected:
  static uint64_t UpdatesReceived(Node& node, const std::string& peer) {
    return PeerEntry(node, peer)["messages"]["received"]["update"].get<uint64_t>();
  }
  static uint64_t UpdatesSent(Node& node, const std::string& peer) {
    return PeerEntry(node, peer)["messages"]["sent"]["update"].get<uint64_t>();
  }
  static uint64_t RefreshesReceived(Node& node, const std::string& peer) {
    return PeerEntry(node, peer)["messages"]["received"]["route_refresh"].get<uint64_t>();
  }
  static bool IsStale(Node& node, const char* prefix) {
    std::optional<json> best = BestPath(node, prefix);
    return best.has_value() && (*best)["stale"].get<bool>();
  }
  static bool IsFresh(Node& node, const char* prefix) {
    std::optional<json> best = BestPath(node, prefix);
    return best.has_value() && !(*best)["stale"].get<bool>();
  }
  // Not on a temporary: the pointer would dangle (ASan found one).
  static const PeerMetrics* FindMetrics(SpeakerMetrics&&, const std::string&) = delete;
  static const PeerMetrics* FindMetrics(const SpeakerMetrics& m, const std::string& peer) {
    for (const PeerMetrics& p : m.peers) {
      if (p.name == peer) return &p;
    }
    return nullptr;
  }
};

// RFC 4724 4.2, helper side: a peer that drops without NOTIFICATION keeps
// its routes (stale, still in the FIB) until it is back and has sent
// End-of-RIB; then what it did not re-send is swept, the rest is fresh.
TEST_F(SpeakerResilienceTest, GracefulRestartKeepsStaleRoutesUntilEndOfRib) {
  Node& a = AddNode("a", 65001, "198.18.0.81");
  Node& b = AddNode("b", 65002, "198.18.0.82");   // runs in a child process
  const Ipv4Prefix kept = Prefix("203.0.113.0/25");
  const Ipv4Prefix dropped = Prefix("203.0.113.128/25");
  Peer(a, b);
  StartNode(a);

  PeerProcess first;
  ASSERT_TRUE(first.Spawn(b, a, kLongRestartTimeS, /*restarting=*/false, {"203.0.113.0/25", "203.0.113.128/25"}));
  ASSERT_TRUE(WaitFor([&] { return a.fib.Get(kept).has_value() && a.fib.Get(dropped).has_value(); }));
  ASSERT_TRUE(IsFresh(a, "203.0.113.0/25"));

  first.Kill();
  ASSERT_TRUE(WaitFor([&] { return PeerEntry(a, "b")["graceful_restart"]["stale"] == true; }));
  EXPECT_FALSE(Established(a, "b"));
  EXPECT_EQ(PeerEntry(a, "b")["graceful_restart"]["stale_routes"], 2);
  EXPECT_TRUE(IsStale(a, "203.0.113.0/25"));
  EXPECT_TRUE(IsStale(a, "203.0.113.128/25"));
  // Forwarding goes on: nothing was taken out of the FIB.
  EXPECT_TRUE(HoldsFor([&] { return a.fib.Get(kept).has_value() && a.fib.Get(dropped).has_value(); }));
  EXPECT_EQ(a.fib.Withdrawals(kept), 0);
  EXPECT_EQ(a.fib.Withdrawals(dropped), 0);

  // Back with the R and F bits, now originating only one of the two.
  PeerProcess second;
  ASSERT_TRUE(second.Spawn(b, a, kLongRestartTimeS, /*restarting=*/true, {"203.0.113.0/25"}));
  ASSERT_TRUE(WaitFor([&] {
    return Established(a, "b") && PeerEntry(a, "b")["graceful_restart"]["end_of_rib_received"] == true;
  }));
  ASSERT_TRUE(WaitFor([&] { return !BestPath(a, "203.0.113.128/25").has_value(); }));
  ASSERT_TRUE(WaitFor([&] { return !a.fib.Get(dropped).has_value(); }));
  const json view = PeerEntry(a, "b");
  EXPECT_EQ(view["capabilities"]["graceful_restart"]["restart_state"], true);
  EXPECT_EQ(view["capabilities"]["graceful_restart"]["forwarding_preserved"], true);
  EXPECT_EQ(view["graceful_restart"]["stale"], false);
  EXPECT_EQ(view["graceful_restart"]["stale_routes"], 0);
  EXPECT_TRUE(IsFresh(a, "203.0.113.0/25"));
  EXPECT_EQ(*a.fib.Get(kept), std::vector<Ipv4Addr>{*b.config.listen_address});
  EXPECT_EQ(a.fib.Withdrawals(kept), 0);
  EXPECT_EQ(a.fib.Withdrawals(dropped), 1);
}

// RFC 4724 4.2: a peer that never comes back loses its routes when the
// Restart Time it advertised has passed.
TEST_F(SpeakerResilienceTest, GracefulRestartTimerExpiryRemovesStaleRoutes) {
  Node& a = AddNode("a", 65001, "198.18.0.83");
  Node& b = AddNode("b", 65002, "198.18.0.84");
  const Ipv4Prefix route = Prefix("203.0.113.0/24");
  Peer(a, b);
  StartNode(a);

  PeerProcess child;
  ASSERT_TRUE(child.Spawn(b, a, kShortRestartTimeS, /*restarting=*/false, {"203.0.113.0/24"}));
  ASSERT_TRUE(WaitFor([&] { return a.fib.Get(route).has_value(); }));
  ASSERT_TRUE(WaitFor([&] {
    return PeerEntry(a, "b")["capabilities"]["graceful_restart"]["restart_time"] == kShortRestartTimeS;
  }));

  child.Kill();
  ASSERT_TRUE(WaitFor([&] { return PeerEntry(a, "b")["graceful_restart"]["stale"] == true; }));
  EXPECT_TRUE(IsStale(a, "203.0.113.0/24"));
  EXPECT_TRUE(a.fib.Get(route).has_value());

  ASSERT_TRUE(WaitFor([&] { return !BestPath(a, "203.0.113.0/24").has_value(); }));
  ASSERT_TRUE(WaitFor([&] { return !a.fib.Get(route).has_value(); }));
  EXPECT_EQ(a.fib.Withdrawals(route), 1);
  const json view = PeerEntry(a, "b");
  EXPECT_EQ(view["graceful_restart"]["stale"], false);
  EXPECT_EQ(view["prefixes_received"], 0);
  EXPECT_FALSE(Established(a, "b"));
}

// RFC 8538 4: with the N bit negotiated most NOTIFICATIONs keep graceful
// restart, but a Hard Reset (which Stop()'s Administrative Shutdown travels
// in, RFC 8538 5) flushes the routes at once: never stale.
TEST_F(SpeakerResilienceTest, HardResetOnStopFlushesRoutesAtOnce) {
  Node& a = AddNode("a", 65001, "198.18.0.85");
  Node& b = AddNode("b", 65002, "198.18.0.86");
  const Ipv4Prefix route = Prefix("203.0.113.0/24");
  b.config.networks = {{route}};
  b.config.graceful_restart_time_s = kLongRestartTimeS;
  Link(a, b);
  StartNode(a);
  StartNode(b);
  ASSERT_TRUE(WaitFor([&] { return a.fib.Get(route).has_value(); }));
  const json caps = PeerEntry(a, "b")["capabilities"];
  ASSERT_EQ(caps["graceful_restart_notification"], true);
  ASSERT_FALSE(caps["graceful_restart"].is_null());

  b.speaker->Stop();
  bool stale_seen = false;
  ASSERT_TRUE(WaitFor([&] {
    const json view = PeerEntry(a, "b");
    stale_seen = stale_seen || view["graceful_restart"]["stale"] == true || IsStale(a, "203.0.113.0/24");
    return !BestPath(a, "203.0.113.0/24").has_value() && !a.fib.Get(route).has_value();
  }));
  EXPECT_FALSE(stale_seen);
  EXPECT_TRUE(CeaseReceived(a, "b", "Hard Reset"));
  EXPECT_TRUE(CeaseReceived(a, "b", "Administrative Shutdown"));
  EXPECT_EQ(PeerEntry(a, "b")["graceful_restart"]["stale_routes"], 0);
  EXPECT_EQ(a.fib.Withdrawals(route), 1);
}

// An export policy change reaches the peer without a reset; a ROUTE-REFRESH
// from the peer makes us re-send Adj-RIB-Out between BoRR and EoRR
// (RFC 7313 4), and the peer ends with the same table.
TEST_F(SpeakerResilienceTest, ExportPolicyChangeAndRouteRefresh) {
  Node& a = AddNode("a", 65001, "198.18.0.87");
  Node& b = AddNode("b", 65002, "198.18.0.88");
  constexpr uint32_t kMed = 50;
  Policy med;
  med.name = "med-50";
  PolicyTerm set_med;
  set_med.name = "set";
  set_med.actions.med = kMed;
  set_med.result = TermResult::kAccept;
  med.terms.push_back(set_med);
  a.config.policies.push_back(med);
  a.config.networks = {{Prefix("198.51.100.0/24")}, {Prefix("192.0.2.0/24")}};
  Link(a, b);
  StartNode(a);
  StartNode(b);
  ASSERT_TRUE(WaitFor([&] { return PeerEntry(b, "a")["prefixes_received"] == 2; }));
  EXPECT_TRUE((*BestPath(b, "198.51.100.0/24"))["med"].is_null());
  const json a_before = PeerEntry(a, "b");
  const json b_before = PeerEntry(b, "a");
  ASSERT_EQ(b_before["capabilities"]["enhanced_route_refresh"], true);

  BgpConfig next = a.config;
  next.peers[0].export_policies = {"med-50"};
  ASSERT_TRUE(a.speaker->Reconfigure(next).ok());
  ASSERT_TRUE(WaitFor([&] {
    std::optional<json> p1 = BestPath(b, "198.51.100.0/24");
    std::optional<json> p2 = BestPath(b, "192.0.2.0/24");
    return p1.has_value() && p2.has_value() && (*p1)["med"] == kMed && (*p2)["med"] == kMed;
  }));
  EXPECT_EQ(PeerEntry(a, "b")["established_since"], a_before["established_since"]);
  EXPECT_EQ(PeerEntry(b, "a")["established_transitions"], b_before["established_transitions"]);

  EXPECT_EQ(b.speaker->RequestRouteRefresh("nobody").code(), absl::StatusCode::kNotFound);
  const uint64_t updates = UpdatesReceived(b, "a");
  const uint64_t refreshes_at_b = RefreshesReceived(b, "a");
  const uint64_t refreshes_at_a = RefreshesReceived(a, "b");
  ASSERT_TRUE(b.speaker->RequestRouteRefresh("a").ok());
  // The request, then BoRR, the table again, EoRR.
  ASSERT_TRUE(WaitFor([&] { return RefreshesReceived(a, "b") == refreshes_at_a + 1; }));
  ASSERT_TRUE(WaitFor([&] { return RefreshesReceived(b, "a") == refreshes_at_b + 2; }));
  EXPECT_GT(UpdatesReceived(b, "a"), updates);
  const json b_after = PeerEntry(b, "a");
  EXPECT_EQ(b_after["prefixes_received"], 2);
  EXPECT_EQ(b_after["graceful_restart"]["stale_routes"], 0);
  EXPECT_EQ(b_after["established_since"], b_before["established_since"]);
  for (const char* prefix : {"198.51.100.0/24", "192.0.2.0/24"}) {
    std::optional<json> path = BestPath(b, prefix);
    ASSERT_TRUE(path.has_value()) << prefix;
    EXPECT_EQ((*path)["med"], kMed) << prefix;
    EXPECT_EQ((*path)["stale"], false) << prefix;
  }
}

// The outbound cap of a Route Server peer: only max_advertised prefixes
// leave, the rest are counted; raising the cap sends them, no reset.
TEST_F(SpeakerResilienceTest, MaxAdvertisedCapsAndRaisingItSendsTheRest) {
  constexpr int kNetworks = 50;
  constexpr uint32_t kCap = 20;
  constexpr uint32_t kSubnetStride = 4;   // /30s inside 198.51.100.0/24
  Node& a = AddNode("a", 65001, "198.18.0.89");
  Node& rs = AddNode("rs", kRouteServerAs, "198.18.0.90");
  for (int i = 0; i < kNetworks; ++i) {
    a.config.networks.push_back({Prefix(absl::StrCat("198.51.100.", i * kSubnetStride, "/30").c_str())});
  }
  PeerConfig& to_rs = Peer(a, rs);
  to_rs.role = PeerRole::kRouteServer;
  to_rs.max_advertised = kCap;
  Peer(rs, a);
  StartNode(a);
  StartNode(rs);

  auto received = [&] { return PeerEntry(rs, "a")["prefixes_received"].get<int>(); };
  ASSERT_TRUE(WaitFor([&] { return PeerEntry(rs, "a")["graceful_restart"]["end_of_rib_received"] == true; }));
  EXPECT_TRUE(HoldsFor([&] { return received() == static_cast<int>(kCap); })) << received();
  const json before = PeerEntry(a, "rs");
  EXPECT_EQ(before["max_advertised"], kCap);
  EXPECT_EQ(before["prefixes_advertised"], kCap);
  EXPECT_EQ(before["prefixes_held_back"], kNetworks - kCap);
  const SpeakerMetrics metrics = a.speaker->Metrics();   // FindMetrics points into it
  const PeerMetrics* m = FindMetrics(metrics, "rs");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->prefixes_advertised, kCap);
  EXPECT_EQ(m->prefixes_not_advertised, kNetworks - kCap);

  BgpConfig next = a.config;
  next.peers[0].max_advertised = kNetworks;
  ASSERT_TRUE(a.speaker->Reconfigure(next).ok());
  ASSERT_TRUE(WaitFor([&] { return received() == kNetworks; }));
  const json after = PeerEntry(a, "rs");
  EXPECT_EQ(after["established_since"], before["established_since"]);
  EXPECT_EQ(after["established_transitions"], before["established_transitions"]);
  EXPECT_EQ(after["prefixes_held_back"], 0);
  const SpeakerMetrics metrics_after = a.speaker->Metrics();
  m = FindMetrics(metrics_after, "rs");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->prefixes_advertised, static_cast<uint64_t>(kNetworks));
  EXPECT_EQ(m->prefixes_not_advertised, 0u);
}

// Adj-RIB-Out diffing: applying the same configuration again sends nothing.
TEST_F(SpeakerResilienceTest, IdenticalReconfigureSendsNoUpdate) {
  Node& a = AddNode("a", 65001, "198.18.0.91");
  Node& b = AddNode("b", 65002, "198.18.0.92");
  a.config.networks = {{Prefix("198.51.100.0/24")}, {Prefix("192.0.2.0/24")}};
  b.config.networks = {{Prefix("203.0.113.0/24")}};
  Link(a, b);
  StartNode(a);
  StartNode(b);
  Announcement vip;
  vip.prefix = Prefix("192.0.2.10/32");
  a.speaker->Announce(vip);
  ASSERT_TRUE(WaitFor([&] {
    return PeerEntry(b, "a")["prefixes_received"] == 3 && PeerEntry(a, "b")["prefixes_received"] == 1 &&
           PeerEntry(b, "a")["graceful_restart"]["end_of_rib_received"] == true &&
           PeerEntry(a, "b")["graceful_restart"]["end_of_rib_received"] == true;
  }));
  const uint64_t at_b = UpdatesReceived(b, "a");
  const uint64_t from_a = UpdatesSent(a, "b");
  ASSERT_TRUE(HoldsFor([&] { return UpdatesReceived(b, "a") == at_b; }));

  ASSERT_TRUE(a.speaker->Reconfigure(a.config).ok());
  ASSERT_TRUE(b.speaker->Reconfigure(b.config).ok());
  a.speaker->Announce(vip);   // the same announcement again
  EXPECT_TRUE(HoldsFor([&] { return UpdatesReceived(b, "a") == at_b; },
                       kNoUpdatePeriod));
  EXPECT_EQ(UpdatesSent(a, "b"), from_a);
  EXPECT_TRUE(Established(a, "b"));
}

// Inbound max-prefix, warn: over the limit is logged and flagged, nothing
// is refused and the session stays up.
TEST_F(SpeakerResilienceTest, MaxPrefixWarnKeepsEverything) {
  Node& a = AddNode("a", 65001, "198.18.0.93");
  Node& b = AddNode("b", 65002, "198.18.0.94");
  a.config.networks = {{Prefix("198.51.100.0/26")}, {Prefix("198.51.100.64/26")}, {Prefix("198.51.100.128/26")}};
  Peer(a, b);
  PeerConfig& limited = Peer(b, a);
  limited.max_prefix.limit = 2;
  limited.max_prefix.action = MaxPrefixAction::kWarn;
  StartNode(a);
  StartNode(b);

  ASSERT_TRUE(WaitFor([&] { return PeerEntry(b, "a")["prefixes_accepted"] == 3; }));
  EXPECT_TRUE(HoldsFor([&] { return Established(b, "a") && Established(a, "b"); }));
  const json view = PeerEntry(b, "a");
  EXPECT_EQ(view["max_prefix"]["exceeded"], true);
  EXPECT_EQ(view["max_prefix"]["dropped"], 0);
  EXPECT_TRUE(view["notifications"]["sent"].empty());
  EXPECT_EQ(view["established_transitions"], 1);
}

// Inbound max-prefix, stop accepting: prefixes over the limit are dropped
// (counted), the session and the prefixes already taken stay.
TEST_F(SpeakerResilienceTest, MaxPrefixStopAcceptingDropsTheExcess) {
  Node& a = AddNode("a", 65001, "198.18.0.95");
  Node& b = AddNode("b", 65002, "198.18.0.96");
  a.config.networks = {{Prefix("198.51.100.0/26")}, {Prefix("198.51.100.64/26")}, {Prefix("198.51.100.128/26")}};
  Peer(a, b);
  PeerConfig& limited = Peer(b, a);
  limited.max_prefix.limit = 2;
  limited.max_prefix.action = MaxPrefixAction::kStopAccepting;
  StartNode(a);
  StartNode(b);

  ASSERT_TRUE(WaitFor([&] { return PeerEntry(b, "a")["graceful_restart"]["end_of_rib_received"] == true; }));
  EXPECT_TRUE(HoldsFor([&] {
    const json v = PeerEntry(b, "a");
    return Established(b, "a") && v["prefixes_received"] == 2 && v["prefixes_accepted"] == 2;
  }));
  const json view = PeerEntry(b, "a");
  EXPECT_EQ(view["max_prefix"]["exceeded"], true);
  EXPECT_EQ(view["max_prefix"]["dropped"], 1);
  EXPECT_EQ(view["prefixes_received_total"], 3);
  EXPECT_TRUE(view["notifications"]["sent"].empty());
  EXPECT_EQ(view["established_transitions"], 1);
  EXPECT_EQ(b.speaker->Summary()["loc_rib_prefixes"], 2);
}

}  // namespace
}  // namespace isthmus::bgp
