// The graceful shutdown drain (Speaker::DrainForShutdown, RFC 8326 spirit):
// before the Cease, every route we advertise goes away from every peer, or
// stays tagged GRACEFUL_SHUTDOWN, while the sessions stay Established and
// what the peers send still reaches our FIB. Harness in speaker_fixture.h.

#include <cstdint>
#include <optional>

#include "absl/time/time.h"
#include "tests/unit/bgp_speaker/speaker_fixture.h"

namespace isthmus::bgp {
namespace {

using json = nlohmann::json;

constexpr uint32_t kCommunity65001_100 = (65001u << 16) | 100;
constexpr absl::Duration kAckTimeout = absl::Seconds(5);

uint64_t UpdatesReceived(const json& peer_entry) {
  return peer_entry["messages"]["received"]["update"].get<uint64_t>();
}

class SpeakerShutdownTest : public SpeakerTest {
 protected:
  // a originates a network and a VIP, and passes on c's network to b.
  void StartTriangle(ShutdownMode mode, const char* a_addr, const char* b_addr, const char* c_addr, Asn c_asn) {
    a_ = &AddNode("a", 65001, a_addr);
    b_ = &AddNode("b", 65002, b_addr);
    c_ = &AddNode("c", c_asn, c_addr);
    a_->config.shutdown_mode = mode;
    a_->config.networks = {{Prefix("198.51.100.0/24")}};
    b_->config.networks = {{Prefix("203.0.113.0/24")}};
    c_->config.networks = {{Prefix("198.18.30.0/24")}};
    Link(*a_, *b_);
    Link(*a_, *c_);
    StartNode(*a_);
    StartNode(*b_);
    StartNode(*c_);
    Announcement vip;
    vip.prefix = Prefix("192.0.2.10/32");
    vip.communities = {kCommunity65001_100};
    a_->speaker->Announce(vip);
    ASSERT_TRUE(WaitFor([&] {
      return BestPath(*b_, "198.51.100.0/24") && BestPath(*b_, "192.0.2.10/32") && BestPath(*b_, "198.18.30.0/24") &&
             BestPath(*c_, "198.51.100.0/24") && a_->fib.Get(Prefix("203.0.113.0/24")).has_value();
    }));
  }

  Node* a_ = nullptr;
  Node* b_ = nullptr;
  Node* c_ = nullptr;
};

TEST_F(SpeakerShutdownTest, WithdrawModeWithdrawsEveryRouteAndKeepsSessions) {
  StartTriangle(ShutdownMode::kWithdraw, "198.18.0.97", "198.18.0.98", "198.18.0.99", 65003);
  EXPECT_EQ(a_->speaker->Summary()["draining"], false);

  a_->speaker->DrainForShutdown();
  EXPECT_TRUE(a_->speaker->WaitOutputAcknowledged(kAckTimeout));
  // Our network, our VIP and the route we passed on from c: all gone from b.
  ASSERT_TRUE(WaitFor([&] {
    return !BestPath(*b_, "198.51.100.0/24") && !BestPath(*b_, "192.0.2.10/32") && !BestPath(*b_, "198.18.30.0/24");
  }));
  EXPECT_FALSE(BestPath(*c_, "198.51.100.0/24").has_value());
  EXPECT_TRUE(Established(*b_, "a"));
  EXPECT_TRUE(Established(*c_, "a"));
  EXPECT_EQ(a_->speaker->Summary()["draining"], true);
  // The data plane keeps forwarding on what the peers send, new routes too.
  EXPECT_TRUE(a_->fib.Get(Prefix("203.0.113.0/24")).has_value());
  BgpConfig b_next = b_->config;
  b_next.networks.push_back({Prefix("198.18.31.0/24")});
  ASSERT_TRUE(b_->speaker->Reconfigure(b_next).ok());
  ASSERT_TRUE(WaitFor([&] { return a_->fib.Get(Prefix("198.18.31.0/24")).has_value(); }));
  // ... but none of it is passed on.
  EXPECT_TRUE(StaysAbsent(*c_, "198.18.31.0/24"));

  // Everything after the drain goes through the Adj-RIB-Out diff: a
  // re-export (export policy change) and a new VIP send b nothing more.
  const uint64_t updates = UpdatesReceived(PeerEntry(*b_, "a"));
  BgpConfig a_next = a_->config;
  for (PeerConfig& p : a_next.peers) {
    if (p.name == "b") p.export_policies = {"all", "strip-65515"};
  }
  ASSERT_TRUE(a_->speaker->Reconfigure(a_next).ok());
  Announcement vip2;
  vip2.prefix = Prefix("192.0.2.11/32");
  a_->speaker->Announce(vip2);
  EXPECT_TRUE(HoldsFor([&] { return UpdatesReceived(PeerEntry(*b_, "a")) == updates; }));
  EXPECT_FALSE(BestPath(*b_, "192.0.2.11/32").has_value());
  EXPECT_TRUE(Established(*b_, "a"));
}

TEST_F(SpeakerShutdownTest, GracefulShutdownModeTagsEveryRoute) {
  // c is an iBGP peer: it takes our LOCAL_PREF as sent.
  StartTriangle(ShutdownMode::kGracefulShutdown, "198.18.0.100", "198.18.0.101", "198.18.0.102", 65001);
  ASSERT_TRUE(WaitFor([&] { return BestPath(*c_, "192.0.2.10/32").has_value(); }));
  EXPECT_EQ((*BestPath(*b_, "198.51.100.0/24"))["communities"], json::array());

  a_->speaker->DrainForShutdown();
  EXPECT_TRUE(a_->speaker->WaitOutputAcknowledged(kAckTimeout));
  ASSERT_TRUE(WaitFor([&] {
    std::optional<json> path = BestPath(*b_, "198.51.100.0/24");
    return path.has_value() && (*path)["communities"] == json::array({"65535:0"});
  }));
  // Existing communities stay, in order; a route passed on is tagged too.
  EXPECT_EQ((*BestPath(*b_, "192.0.2.10/32"))["communities"], json::array({"65001:100", "65535:0"}));
  EXPECT_EQ((*BestPath(*b_, "198.18.30.0/24"))["communities"], json::array({"65535:0"}));
  EXPECT_EQ((*BestPath(*b_, "198.51.100.0/24"))["local_pref"], nullptr);   // never to an eBGP peer
  ASSERT_TRUE(WaitFor([&] {
    std::optional<json> path = BestPath(*c_, "198.51.100.0/24");
    return path.has_value() && (*path)["communities"] == json::array({"65535:0"});
  }));
  EXPECT_EQ((*BestPath(*c_, "198.51.100.0/24"))["local_pref"], 0);
  EXPECT_EQ((*BestPath(*c_, "192.0.2.10/32"))["local_pref"], 0);
  EXPECT_TRUE(Established(*b_, "a"));
  EXPECT_TRUE(Established(*c_, "a"));
}

}  // namespace
}  // namespace isthmus::bgp
