// Speakers peering with each other over loopback in one process: route
// exchange, policy, origination, FIB output, reconfiguration and shutdown,
// observed through the public views (harness in speaker_fixture.h).

#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/bgp_speaker/speaker_fixture.h"

namespace isthmus::bgp {
namespace {

using nlohmann::json;

TEST_F(SpeakerTest, PeersExchangeNetworksAndWithdrawalPropagates) {
  Node& a = AddNode("a", 65001, "198.18.0.1");
  Node& b = AddNode("b", 65002, "198.18.0.2");
  a.config.networks = {{Prefix("198.51.100.0/24")}};
  b.config.networks = {{Prefix("203.0.113.0/24")}};
  Link(a, b);
  StartNode(a);
  StartNode(b);

  ASSERT_TRUE(WaitFor([&] { return Established(a, "b") && Established(b, "a"); }));
  ASSERT_TRUE(WaitFor([&] { return BestAsPath(b, "198.51.100.0/24") == "65001"; }));
  ASSERT_TRUE(WaitFor([&] { return BestAsPath(a, "203.0.113.0/24") == "65002"; }));
  EXPECT_EQ((*BestPath(b, "198.51.100.0/24"))["next_hop"], "198.18.0.1");

  // Peer-learned routes reach the FIB; our own network does not.
  ASSERT_TRUE(WaitFor([&] { return b.fib.Get(Prefix("198.51.100.0/24")).has_value(); }));
  EXPECT_EQ(*b.fib.Get(Prefix("198.51.100.0/24")), std::vector<Ipv4Addr>{Addr("198.18.0.1")});
  EXPECT_FALSE(b.fib.Get(Prefix("203.0.113.0/24")).has_value());

  json summary = b.speaker->Summary();
  EXPECT_EQ(summary["asn"], 65002);
  ASSERT_EQ(summary["peers"].size(), 1u);
  EXPECT_EQ(summary["peers"][0]["prefixes_received"], 1);
  EXPECT_EQ(summary["peers"][0]["prefixes_accepted"], 1);
  EXPECT_EQ(summary["peers"][0]["prefixes_advertised"], 1);

  // A drops its network: the withdrawal reaches B's RIB and FIB.
  BgpConfig next = a.config;
  next.networks.clear();
  ASSERT_TRUE(a.speaker->Reconfigure(next).ok());
  ASSERT_TRUE(WaitFor([&] { return !BestPath(b, "198.51.100.0/24").has_value(); }));
  ASSERT_TRUE(WaitFor([&] { return !b.fib.Get(Prefix("198.51.100.0/24")).has_value(); }));
}

// Multi-region recipe: R1 (a Route Server, AS 65515) -> A -> B -> R2 (AS
// 65515). B strips 65515 on import from A, so R2 accepts the route.
TEST_F(SpeakerTest, AsPathExcludeOnImportAndReexport) {
  Node& r1 = AddNode("r1", kRouteServerAs, "198.18.0.11");
  Node& a = AddNode("a", 65001, "198.18.0.12");
  Node& b = AddNode("b", 65002, "198.18.0.13");
  Node& r2 = AddNode("r2", kRouteServerAs, "198.18.0.14");
  r1.config.networks = {{Prefix("198.18.10.0/24")}};
  Link(r1, a);
  Peer(a, b);
  Peer(b, a, {"strip-65515"}, {"all"});
  Link(b, r2);
  for (Node* n : {&r1, &a, &b, &r2}) StartNode(*n);

  ASSERT_TRUE(WaitFor([&] { return BestAsPath(a, "198.18.10.0/24") == "65515"; }));
  ASSERT_TRUE(WaitFor([&] { return BestAsPath(b, "198.18.10.0/24") == "65001"; }));
  ASSERT_TRUE(WaitFor([&] { return BestAsPath(r2, "198.18.10.0/24") == "65002 65001"; }));
  // R1's own route is never echoed back to it.
  json r1_view = PeerEntry(r1, "a");
  EXPECT_EQ(r1_view["prefixes_received"], 0);

  // Withdrawal propagates along the whole chain.
  BgpConfig next = r1.config;
  next.networks.clear();
  ASSERT_TRUE(r1.speaker->Reconfigure(next).ok());
  ASSERT_TRUE(WaitFor([&] { return !BestPath(r2, "198.18.10.0/24").has_value(); }));
  EXPECT_FALSE(BestPath(a, "198.18.10.0/24").has_value());
}

TEST_F(SpeakerTest, AnnounceWaitsForDataplaneAndRespectsPeerList) {
  Node& a = AddNode("a", 65001, "198.18.0.21");
  Node& b = AddNode("b", 65002, "198.18.0.22");
  Node& c = AddNode("c", 65003, "198.18.0.23");
  a.config.networks = {{Prefix("198.51.100.0/24")}};
  Link(a, b);
  Link(a, c);
  StartNode(a, /*dataplane_ready=*/false);
  StartNode(b);
  StartNode(c);

  Announcement vip;
  vip.prefix = Prefix("192.0.2.10/32");
  vip.prepend = 2;
  vip.med = 50;
  vip.communities = {(65001u << 16) | 100};
  vip.peers = {"b"};
  a.speaker->Announce(vip);

  ASSERT_TRUE(WaitFor([&] { return Established(b, "a") && Established(c, "a"); }));
  ASSERT_TRUE(WaitFor([&] { return PeerEntry(b, "a")["graceful_restart"]["end_of_rib_received"] == true; }));
  EXPECT_TRUE(StaysAbsent(b, "192.0.2.10/32"));
  EXPECT_FALSE(BestPath(b, "198.51.100.0/24").has_value());

  a.speaker->SetDataplaneReady(true);
  ASSERT_TRUE(WaitFor([&] { return BestPath(b, "192.0.2.10/32").has_value(); }));
  json path = *BestPath(b, "192.0.2.10/32");
  EXPECT_EQ(path["as_path"], "65001 65001 65001");
  EXPECT_EQ(path["med"], 50);
  EXPECT_EQ(path["communities"], json::array({"65001:100"}));
  ASSERT_TRUE(WaitFor([&] { return BestPath(c, "198.51.100.0/24").has_value(); }));
  EXPECT_TRUE(StaysAbsent(c, "192.0.2.10/32"));

  SpeakerMetrics m = a.speaker->Metrics();
  ASSERT_EQ(m.vips.size(), 2u);
  for (const VipAdvertisedMetric& v : m.vips) EXPECT_EQ(v.advertised, v.peer == "b") << v.peer;

  a.speaker->Withdraw(Prefix("192.0.2.10/32"));
  // A drain waits for this: the UPDATE has left and b's kernel acknowledged it.
  EXPECT_TRUE(a.speaker->WaitOutputAcknowledged(absl::Seconds(5)));
  ASSERT_TRUE(WaitFor([&] { return !BestPath(b, "192.0.2.10/32").has_value(); }));
  EXPECT_TRUE(BestPath(b, "198.51.100.0/24").has_value());
}

// Both Route Server instances form one group: identical advertisements,
// the default outbound cap, and a route learned from one instance is not
// echoed to the other.
TEST_F(SpeakerTest, RouteServerGroupGetsIdenticalTable) {
  Node& a = AddNode("a", 65001, "198.18.0.24");
  Node& r1 = AddNode("r1", kRouteServerAs, "198.18.0.25");
  Node& r2 = AddNode("r2", kRouteServerAs, "198.18.0.26");
  Node& b = AddNode("b", 65002, "198.18.0.27");
  a.config.networks = {{Prefix("198.51.100.0/24")}};
  b.config.networks = {{Prefix("203.0.113.0/24")}};
  r1.config.networks = {{Prefix("198.18.20.0/24")}};
  for (Node* rs : {&r1, &r2}) {
    PeerConfig& p = Peer(a, *rs);
    p.role = PeerRole::kRouteServer;
    p.group = "ars";
    Peer(*rs, a);
  }
  Link(a, b);
  for (Node* n : {&a, &r1, &r2, &b}) StartNode(*n);

  for (Node* rs : {&r1, &r2}) {
    ASSERT_TRUE(WaitFor([&] { return BestAsPath(*rs, "198.51.100.0/24") == "65001"; })) << rs->name;
    ASSERT_TRUE(WaitFor([&] { return BestAsPath(*rs, "203.0.113.0/24") == "65001 65002"; })) << rs->name;
  }
  ASSERT_TRUE(WaitFor([&] { return BestAsPath(b, "198.18.20.0/24") == "65001 65515"; }));
  EXPECT_TRUE(StaysAbsent(r2, "198.18.20.0/24"));
  const json to_r1 = PeerEntry(a, "r1");
  const json to_r2 = PeerEntry(a, "r2");
  EXPECT_EQ(to_r1["prefixes_advertised"], 2);
  EXPECT_EQ(to_r2["prefixes_advertised"], 2);
  EXPECT_EQ(to_r1["max_advertised"], 2000);
  for (const char* prefix : {"198.51.100.0/24", "203.0.113.0/24"}) {
    json p1 = *BestPath(r1, prefix);
    json p2 = *BestPath(r2, prefix);
    for (const char* field : {"as_path", "next_hop", "origin", "med", "communities"}) {
      EXPECT_EQ(p1[field], p2[field]) << prefix << " " << field;
    }
  }
}

TEST_F(SpeakerTest, FibGetsMultipathNextHops) {
  Node& a = AddNode("a", 65001, "198.18.0.31");
  Node& b = AddNode("b", 65002, "198.18.0.32");
  Node& c = AddNode("c", 65002, "198.18.0.33");
  b.config.networks = {{Prefix("203.0.113.0/24")}};
  c.config.networks = {{Prefix("203.0.113.0/24")}};
  Link(a, b);
  Link(a, c);
  for (Node* n : {&a, &b, &c}) StartNode(*n);

  const std::vector<Ipv4Addr> both = {Addr("198.18.0.32"), Addr("198.18.0.33")};
  ASSERT_TRUE(WaitFor([&] { return a.fib.Get(Prefix("203.0.113.0/24")) == both; }));
  json paths = Paths(a, "203.0.113.0/24");
  ASSERT_EQ(paths.size(), 2u);
  int best = 0;
  for (const json& p : paths) {
    EXPECT_TRUE(p["multipath"].get<bool>());
    best += p["best"].get<bool>() ? 1 : 0;
  }
  EXPECT_EQ(best, 1);

  // One path leaves: the FIB keeps the other.
  BgpConfig next = c.config;
  next.networks.clear();
  ASSERT_TRUE(c.speaker->Reconfigure(next).ok());
  ASSERT_TRUE(WaitFor([&] {
    return a.fib.Get(Prefix("203.0.113.0/24")) == std::vector<Ipv4Addr>{Addr("198.18.0.32")};
  }));
}

TEST_F(SpeakerTest, ReconfigureKeepsUnchangedSessionAndDeconfiguresRemovedPeer) {
  Node& a = AddNode("a", 65001, "198.18.0.41");
  Node& b = AddNode("b", 65002, "198.18.0.42");
  Node& c = AddNode("c", 65003, "198.18.0.43");
  Link(a, b);
  Link(a, c);
  for (Node* n : {&a, &b, &c}) StartNode(*n);
  ASSERT_TRUE(WaitFor([&] { return Established(a, "b") && Established(a, "c"); }));
  const json before = PeerEntry(a, "b");

  BgpConfig next = a.config;
  next.peers.erase(next.peers.begin() + 1);   // drop c
  ASSERT_EQ(next.peers.size(), 1u);
  next.networks = {{Prefix("198.51.100.0/24")}};
  ASSERT_TRUE(a.speaker->Reconfigure(next).ok());

  ASSERT_TRUE(WaitFor([&] { return CeaseReceived(c, "a", "Peer De-configured"); }));
  ASSERT_TRUE(WaitFor([&] { return BestPath(b, "198.51.100.0/24").has_value(); }));
  const json after = PeerEntry(a, "b");
  EXPECT_EQ(after["state"], "Established");
  EXPECT_EQ(after["established_since"], before["established_since"]);
  EXPECT_EQ(after["established_transitions"], before["established_transitions"]);
  EXPECT_EQ(a.speaker->Summary()["peers"].size(), 1u);
}

// RFC 8212: no import policy for an eBGP peer, nothing accepted; adding one
// re-evaluates Adj-RIB-In without resetting the session.
TEST_F(SpeakerTest, ImportPolicyChangeIsReevaluatedWithoutReset) {
  Node& a = AddNode("a", 65001, "198.18.0.51");
  Node& b = AddNode("b", 65002, "198.18.0.52");
  a.config.networks = {{Prefix("198.51.100.0/24")}};
  Peer(a, b);
  Peer(b, a, /*import=*/{}, {"all"});
  StartNode(a);
  StartNode(b);

  ASSERT_TRUE(WaitFor([&] { return PeerEntry(b, "a")["prefixes_received"] == 1; }));
  json view = PeerEntry(b, "a");
  EXPECT_EQ(view["prefixes_accepted"], 0);
  EXPECT_GE(view["policy"]["rejected_total"].get<int>(), 1);
  EXPECT_NE(view["policy"]["last_reject_reason"].get<std::string>().find("8212"), std::string::npos)
      << view["policy"]["last_reject_reason"];
  EXPECT_FALSE(BestPath(b, "198.51.100.0/24").has_value());

  BgpConfig next = b.config;
  next.peers[0].import_policies = {"all"};
  ASSERT_TRUE(b.speaker->Reconfigure(next).ok());
  ASSERT_TRUE(WaitFor([&] { return BestPath(b, "198.51.100.0/24").has_value(); }));
  json after = PeerEntry(b, "a");
  EXPECT_EQ(after["established_since"], view["established_since"]);
  EXPECT_EQ(after["prefixes_accepted"], 1);
}

TEST_F(SpeakerTest, MaxPrefixRestartSendsCease) {
  Node& a = AddNode("a", 65001, "198.18.0.61");
  Node& b = AddNode("b", 65002, "198.18.0.62");
  a.config.networks = {{Prefix("198.51.100.0/26")}, {Prefix("198.51.100.64/26")}, {Prefix("198.51.100.128/26")}};
  Peer(a, b);
  PeerConfig& limited = Peer(b, a);
  limited.max_prefix.limit = 2;
  limited.max_prefix.action = MaxPrefixAction::kRestart;
  limited.max_prefix.restart_after_s = 60;
  StartNode(a);
  StartNode(b);
  ASSERT_TRUE(WaitFor([&] { return CeaseReceived(a, "b", "Maximum Number of Prefixes Reached"); }));
  ASSERT_TRUE(WaitFor([&] { return !Established(b, "a"); }));
  EXPECT_FALSE(BestPath(b, "198.51.100.0/26").has_value());
  EXPECT_TRUE(PeerEntry(b, "a")["max_prefix"]["exceeded"].get<bool>());
}

TEST_F(SpeakerTest, StopSendsCeaseToPeers) {
  Node& a = AddNode("a", 65001, "198.18.0.71");
  Node& b = AddNode("b", 65002, "198.18.0.72");
  a.config.networks = {{Prefix("198.51.100.0/24")}};
  Link(a, b);
  StartNode(a);
  StartNode(b);
  ASSERT_TRUE(WaitFor([&] { return BestPath(b, "198.51.100.0/24").has_value(); }));

  a.speaker->Stop();
  ASSERT_TRUE(WaitFor([&] { return CeaseReceived(b, "a", "Administrative Shutdown"); }));
  ASSERT_TRUE(WaitFor([&] { return !BestPath(b, "198.51.100.0/24").has_value(); }));
}

}  // namespace
}  // namespace isthmus::bgp
