// The multi-region recipe of docs/bgp-policy.md, end to end over a few
// routes: NVA A (AS 65001) peers with both Route Server instances of its
// region and with NVA B (AS 65002) of the other region over a tunnel.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bgp/policy/policy_engine.h"
#include "tests/unit/bgp_policy/policy_test_support.h"

namespace isthmus::bgp {
namespace {

using ::testing::HasSubstr;
using testing::A;
using testing::Attrs;
using testing::P;
using testing::Peer;
using testing::Ptr;
using testing::Seq;

// The recipe's policies, as the YAML in docs/bgp-policy.md spells them.
std::vector<Policy> RecipePolicies() {
  PolicyMatch vnet;
  vnet.prefixes.push_back(PrefixMatch{P("198.1.0.0/16"), std::nullopt, 24});
  return {
      Policy{.name = "from-ars",
             .terms = {PolicyTerm{"vnet", vnet, {}, TermResult::kAccept}},
             .default_result = TermResult::kReject},
      Policy{.name = "to-remote", .terms = {}, .default_result = TermResult::kAccept},
      Policy{.name = "from-remote",
             .terms = {PolicyTerm{"strip-ars", PolicyMatch{.as_path_contains = {kAzureRouteServerAsn}},
                                  PolicyActions{.as_path_exclude = {kAzureRouteServerAsn}}, TermResult::kContinue},
                       PolicyTerm{"all", {}, {}, TermResult::kAccept}},
             .default_result = TermResult::kReject},
      Policy{.name = "to-ars", .terms = {}, .default_result = TermResult::kAccept},
      Policy{.name = "standby",
             .terms = {PolicyTerm{"prepend", {}, PolicyActions{.prepend = 2}, TermResult::kAccept}},
             .default_result = TermResult::kReject},
  };
}

class MultiRegionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ars0_.group = ars1_.group = "ars";
    absl::StatusOr<PolicyEngine> engine = PolicyEngine::Build(RecipePolicies());
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = *std::move(engine);
    for (const PeerConfig* peer : {&ars0_, &ars1_, &nva_b_}) {
      ASSERT_TRUE(engine_.CheckNames(peer->import_policies).ok());
      ASSERT_TRUE(engine_.CheckNames(peer->export_policies).ok());
    }
  }

  PolicyEngine::Result Import(const PeerConfig& from, const std::string& prefix, PathAttributes attrs) const {
    return engine_.Apply(from.import_policies, P(prefix), Ptr(std::move(attrs)), testing::ImportFrom(from));
  }
  PolicyEngine::Result Export(const PeerConfig& to, const PeerConfig* from, const std::string& prefix,
                              const AttributesPtr& attrs, RouteKind kind = RouteKind::kBgp) const {
    return engine_.Apply(to.export_policies, P(prefix), attrs, testing::ExportTo(to, from, kind));
  }

  PeerConfig ars0_ = Peer("ars-0", kAzureRouteServerAsn, PeerRole::kRouteServer, {"from-ars"}, {"to-ars"});
  PeerConfig ars1_ = Peer("ars-1", kAzureRouteServerAsn, PeerRole::kRouteServer, {"from-ars"}, {"to-ars"});
  PeerConfig nva_b_ = Peer("nva-b", testing::kRemoteNvaAs, PeerRole::kPeer, {"from-remote"}, {"to-remote"});
  PolicyEngine engine_;
};

TEST_F(MultiRegionTest, VnetRouteGoesToRemoteRegionButNeverBackToArs) {
  PathAttributes from_ars = Attrs(Seq({kAzureRouteServerAsn}));
  from_ars.next_hop = A("198.18.0.4");
  const PolicyEngine::Result learned = Import(ars0_, "198.1.0.0/16", from_ars);
  ASSERT_TRUE(learned.accepted) << learned.reason;
  EXPECT_EQ(learned.reason, "accepted by policy from-ars term vnet");

  const PolicyEngine::Result to_b = Export(nva_b_, &ars0_, "198.1.0.0/16", learned.attrs);
  ASSERT_TRUE(to_b.accepted) << to_b.reason;
  EXPECT_EQ(to_b.attrs->as_path.ToString(), "65001 65515");
  EXPECT_EQ(ToString(to_b.attrs->next_hop), "192.0.2.10");

  for (const PeerConfig* ars : {&ars0_, &ars1_}) {
    const PolicyEngine::Result echo = Export(*ars, &ars0_, "198.1.0.0/16", learned.attrs);
    EXPECT_FALSE(echo.accepted) << ars->name;
    EXPECT_THAT(echo.reason, HasSubstr("would echo Route Server routes back"));
  }
}

TEST_F(MultiRegionTest, RouteServerRoutesOutsideTheVnetAreNotLearned) {
  const PolicyEngine::Result learned = Import(ars0_, "0.0.0.0/0", Attrs(Seq({kAzureRouteServerAsn})));
  EXPECT_FALSE(learned.accepted);
  EXPECT_EQ(learned.reason, "rejected by policy from-ars (default)");
}

TEST_F(MultiRegionTest, RemoteRouteIsStrippedAndSentIdenticallyToBothInstances) {
  const PolicyEngine::Result learned =
      Import(nva_b_, "198.2.0.0/16", Attrs(Seq({testing::kRemoteNvaAs, kAzureRouteServerAsn})));
  ASSERT_TRUE(learned.accepted) << learned.reason;
  EXPECT_EQ(learned.attrs->as_path.ToString(), "65002");

  const PolicyEngine::Result to_ars0 = Export(ars0_, &nva_b_, "198.2.0.0/16", learned.attrs);
  const PolicyEngine::Result to_ars1 = Export(ars1_, &nva_b_, "198.2.0.0/16", learned.attrs);
  ASSERT_TRUE(to_ars0.accepted) << to_ars0.reason;
  ASSERT_TRUE(to_ars1.accepted) << to_ars1.reason;
  EXPECT_EQ(to_ars0.attrs->as_path.ToString(), "65001 65002");
  EXPECT_FALSE(to_ars0.attrs->as_path.Contains(kAzureRouteServerAsn));
  EXPECT_EQ(*to_ars0.attrs, *to_ars1.attrs);

  // Back to where it came from: NVA B would see its own AS.
  const PolicyEngine::Result back = Export(nva_b_, &nva_b_, "198.2.0.0/16", learned.attrs);
  EXPECT_FALSE(back.accepted);
  EXPECT_THAT(back.reason, HasSubstr("loop prevention"));
}

TEST_F(MultiRegionTest, WithoutTheStripArsWouldDropTheRoute) {
  nva_b_.import_policies = {"to-remote"};   // accept-all, no strip
  const PolicyEngine::Result learned =
      Import(nva_b_, "198.2.0.0/16", Attrs(Seq({testing::kRemoteNvaAs, kAzureRouteServerAsn})));
  ASSERT_TRUE(learned.accepted);
  const PolicyEngine::Result to_ars = Export(ars0_, &nva_b_, "198.2.0.0/16", learned.attrs);
  EXPECT_FALSE(to_ars.accepted);
  EXPECT_THAT(to_ars.reason, HasSubstr("contains AS 65515"));
}

TEST_F(MultiRegionTest, StandbyPrependsTowardsArs) {
  ars0_.export_policies = {"to-ars", "standby"};
  const PolicyEngine::Result learned =
      Import(nva_b_, "198.2.0.0/16", Attrs(Seq({testing::kRemoteNvaAs, kAzureRouteServerAsn})));
  ASSERT_TRUE(learned.accepted);
  const PolicyEngine::Result to_ars = Export(ars0_, &nva_b_, "198.2.0.0/16", learned.attrs);
  ASSERT_TRUE(to_ars.accepted) << to_ars.reason;
  EXPECT_EQ(to_ars.attrs->as_path.ToString(), "65001 65001 65001 65002");
}

TEST_F(MultiRegionTest, ServiceVipIsAnnouncedWithItsMed) {
  PathAttributes vip = Attrs(Seq({}));
  vip.next_hop = Ipv4Addr{};
  vip.med = 10;
  const AttributesPtr attrs = Ptr(vip);
  const PolicyEngine::Result to_ars = Export(ars0_, nullptr, "203.0.113.10/32", attrs, RouteKind::kServiceVip);
  ASSERT_TRUE(to_ars.accepted) << to_ars.reason;
  EXPECT_EQ(to_ars.attrs->as_path.ToString(), "65001");
  EXPECT_EQ(ToString(to_ars.attrs->next_hop), "192.0.2.10");
  EXPECT_EQ(to_ars.attrs->med, 10u);
  const PolicyEngine::Result to_b = Export(nva_b_, nullptr, "203.0.113.10/32", attrs, RouteKind::kServiceVip);
  EXPECT_TRUE(to_b.accepted) << to_b.reason;
}

}  // namespace
}  // namespace isthmus::bgp
