#include "bgp/policy/policy_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "bgp/policy/export_rules.h"
#include "tests/unit/bgp_policy/policy_test_support.h"

namespace isthmus::bgp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::AcceptAll;
using testing::Attrs;
using testing::kLocalAs;
using testing::kRemoteNvaAs;
using testing::P;
using testing::Peer;
using testing::Ptr;
using testing::Seq;

std::string Sanitize(std::string name) {
  for (char& ch : name) {
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

PolicyEngine MustBuild(const std::vector<Policy>& policies) {
  absl::StatusOr<PolicyEngine> engine = PolicyEngine::Build(policies);
  EXPECT_TRUE(engine.ok()) << engine.status();
  return engine.ok() ? *std::move(engine) : PolicyEngine{};
}

PolicyTerm Term(std::string name, PolicyMatch match, PolicyActions actions, TermResult result) {
  return PolicyTerm{std::move(name), std::move(match), std::move(actions), result};
}

// ------------------------------------------------------------- Build --

struct BuildCase {
  std::string description;
  std::vector<Policy> policies;
  std::string error;   // "" = valid
};

class BuildTest : public ::testing::TestWithParam<BuildCase> {};

TEST_P(BuildTest, Validates) {
  const BuildCase& c = GetParam();
  const absl::StatusOr<PolicyEngine> engine = PolicyEngine::Build(c.policies);
  if (c.error.empty()) {
    EXPECT_TRUE(engine.ok()) << engine.status();
  } else {
    ASSERT_FALSE(engine.ok());
    EXPECT_EQ(engine.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(engine.status().message()), HasSubstr(c.error));
  }
}

Policy WithTerm(const std::string& name, PolicyTerm term) {
  return Policy{.name = name, .terms = {std::move(term)}, .default_result = TermResult::kReject};
}

PolicyTerm PrefixTerm(const std::string& prefix, std::optional<uint8_t> ge, std::optional<uint8_t> le) {
  PolicyMatch match;
  match.prefixes.push_back(PrefixMatch{P(prefix), ge, le});
  return Term("t", match, {}, TermResult::kAccept);
}

INSTANTIATE_TEST_SUITE_P(
    Table, BuildTest,
    ::testing::Values(
        BuildCase{"empty list", {}, ""},
        BuildCase{"two valid", {AcceptAll("a"), AcceptAll("b")}, ""},
        BuildCase{"empty name", {AcceptAll("")}, "bgp.policies[0] (): name"},
        BuildCase{"duplicate name", {AcceptAll("a"), AcceptAll("a")}, "bgp.policies[1] (a): name: duplicate"},
        BuildCase{"duplicate term", {Policy{.name = "p", .terms = {Term("x", {}, {}, TermResult::kAccept),
                                                                   Term("x", {}, {}, TermResult::kReject)}}},
                  "duplicate term name 'x'"},
        BuildCase{"unnamed terms get numbers", {Policy{.name = "p", .terms = {Term("", {}, {}, TermResult::kContinue),
                                                                            Term("", {}, {}, TermResult::kAccept)}}},
                  ""},
        BuildCase{"host bits", {WithTerm("p", PolicyTerm{"t", PolicyMatch{.prefixes = {PrefixMatch{
                                                                      Ipv4Prefix{testing::A("198.1.0.1"), 16}}}}})},
                  "host bits"},
        BuildCase{"ge below length", {WithTerm("p", PrefixTerm("198.1.0.0/16", 8, {}))}, "ge <= le"},
        BuildCase{"le below ge", {WithTerm("p", PrefixTerm("198.1.0.0/16", 24, 20))}, "ge <= le"},
        BuildCase{"le above 32", {WithTerm("p", PrefixTerm("198.1.0.0/16", {}, 33))}, "ge <= le"},
        BuildCase{"valid range", {WithTerm("p", PrefixTerm("198.1.0.0/16", 20, 24))}, ""},
        BuildCase{"length bounds inverted",
                  {WithTerm("p", Term("t", PolicyMatch{.as_path_length_ge = 4, .as_path_length_le = 2}, {},
                                      TermResult::kAccept))},
                  "as_path_length_ge"},
        BuildCase{"prepend too large",
                  {WithTerm("p", Term("t", {}, PolicyActions{.prepend = kMaxPrepend + 1}, TermResult::kAccept))},
                  "terms[0] (t) actions.prepend"}),
    [](const auto& info) { return Sanitize(info.param.description); });

TEST(PolicyEngineTest, CheckNames) {
  const PolicyEngine engine = MustBuild({AcceptAll("a")});
  EXPECT_TRUE(engine.CheckNames({"a"}).ok());
  EXPECT_TRUE(engine.Has("a"));
  const absl::Status status = engine.CheckNames({"a", "b"});
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()), HasSubstr("'b'"));
}

// ----------------------------------------------------------- actions --

struct ActionCase {
  std::string description;
  PolicyContext::Direction direction;
  PathAttributes input;
  PolicyActions actions;
  std::string path;
  std::vector<uint32_t> communities;
  std::optional<uint32_t> local_pref;
  std::optional<uint32_t> med;
  std::string next_hop;
};

class ActionTest : public ::testing::TestWithParam<ActionCase> {};

// Import from nva-b (eBGP) or export to nva-b of a route learned from
// another eBGP peer, through one policy with a single accepting term.
TEST_P(ActionTest, Applies) {
  const ActionCase& c = GetParam();
  const PeerConfig nva_b = Peer("nva-b", kRemoteNvaAs, PeerRole::kPeer, {"p"}, {"p"});
  const PeerConfig source = Peer("isp", testing::kOtherAs);
  const PolicyEngine engine = MustBuild({WithTerm("p", Term("t", {}, c.actions, TermResult::kAccept))});
  const PolicyContext ctx = c.direction == PolicyContext::Direction::kImport ? testing::ImportFrom(nva_b)
                                                                              : testing::ExportTo(nva_b, &source);
  const PolicyEngine::Result result = engine.Apply({"p"}, P("198.2.0.0/16"), Ptr(c.input), ctx);
  ASSERT_TRUE(result.accepted) << result.reason;
  EXPECT_EQ(result.reason, "accepted by policy p term t");
  EXPECT_EQ(result.attrs->as_path.ToString(), c.path);
  EXPECT_EQ(result.attrs->communities, c.communities);
  EXPECT_EQ(result.attrs->local_pref, c.local_pref);
  EXPECT_EQ(result.attrs->med, c.med);
  EXPECT_EQ(ToString(result.attrs->next_hop), c.next_hop);
  EXPECT_THAT(result.notes, IsEmpty());
}

constexpr auto kImport = PolicyContext::Direction::kImport;
constexpr auto kExport = PolicyContext::Direction::kExport;

PathAttributes WithCommunities(std::vector<uint32_t> communities) {
  return Attrs(Seq({65002, 65515}), std::move(communities));
}

INSTANTIATE_TEST_SUITE_P(
    Table, ActionTest,
    ::testing::Values(
        ActionCase{"none", kImport, Attrs(Seq({65002, 65515})), {}, "65002 65515", {}, {}, {}, "198.51.100.9"},
        ActionCase{"exclude every occurrence", kImport, Attrs(Seq({65002, 65515, 65515})),
                   PolicyActions{.as_path_exclude = {65515}}, "65002", {}, {}, {}, "198.51.100.9"},
        ActionCase{"exclude two asns", kImport, Attrs(Seq({65002, 64900, 65515})),
                   PolicyActions{.as_path_exclude = {65515, 64900}}, "65002", {}, {}, {}, "198.51.100.9"},
        ActionCase{"local pref", kImport, Attrs(Seq({65002})), PolicyActions{.local_pref = 250}, "65002", {}, 250,
                   {}, "198.51.100.9"},
        ActionCase{"med", kImport, Attrs(Seq({65002})), PolicyActions{.med = 7}, "65002", {}, {}, 7,
                   "198.51.100.9"},
        ActionCase{"add communities sorted unique", kImport, WithCommunities({30}),
                   PolicyActions{.add_communities = {40, 10, 30}}, "65002 65515", {10, 30, 40}, {}, {},
                   "198.51.100.9"},
        ActionCase{"clear communities", kImport, WithCommunities({10, 20}), PolicyActions{.clear_communities = true},
                   "65002 65515", {}, {}, {}, "198.51.100.9"},
        ActionCase{"clear then add", kImport, WithCommunities({10, 20}),
                   PolicyActions{.add_communities = {99}, .clear_communities = true}, "65002 65515", {99}, {}, {},
                   "198.51.100.9"},
        ActionCase{"prepend ignored on import", kImport, Attrs(Seq({65002})), PolicyActions{.prepend = 2}, "65002",
                   {}, {}, {}, "198.51.100.9"},
        ActionCase{"export standard prepend and next hop", kExport, Attrs(Seq({64900})), {}, "65001 64900", {}, {},
                   {}, "192.0.2.10"},
        ActionCase{"export prepend 3", kExport, Attrs(Seq({64900})), PolicyActions{.prepend = 3},
                   "65001 65001 65001 65001 64900", {}, {}, {}, "192.0.2.10"},
        ActionCase{"export as override", kExport, Attrs(Seq({64900, 65002})), PolicyActions{.as_override = true},
                   "65001 64900 65001", {}, {}, {}, "192.0.2.10"},
        ActionCase{"export exclude then prepend", kExport, Attrs(Seq({64900, 65515})),
                   PolicyActions{.as_path_exclude = {65515}, .prepend = 1}, "65001 65001 64900", {}, {}, {},
                   "192.0.2.10"},
        ActionCase{"export local pref removed on eBGP", kExport, Attrs(Seq({64900})), PolicyActions{.local_pref = 300},
                   "65001 64900", {}, {}, {}, "192.0.2.10"},
        ActionCase{"export med set by policy kept", kExport, Attrs(Seq({64900})), PolicyActions{.med = 5},
                   "65001 64900", {}, {}, 5, "192.0.2.10"},
        ActionCase{"export next hop self", kExport, Attrs(Seq({64900})), PolicyActions{.next_hop_self = true},
                   "65001 64900", {}, {}, {}, "192.0.2.10"}),
    [](const auto& info) { return Sanitize(info.param.description); });

TEST(PolicyEngineTest, UnchangedImportKeepsThePointer) {
  const PeerConfig peer = Peer("nva-b", kRemoteNvaAs);
  const PolicyEngine engine = MustBuild({AcceptAll("all")});
  const AttributesPtr attrs = Ptr(Attrs(Seq({65002})));
  const PolicyEngine::Result result = engine.Apply({"all"}, P("198.2.0.0/16"), attrs, testing::ImportFrom(peer));
  ASSERT_TRUE(result.accepted);
  EXPECT_EQ(result.attrs, attrs);
  EXPECT_EQ(result.reason, "accepted by policy all (default)");
}

// The speaker runs a policy once per UPDATE when no term looks at the prefix.
TEST(PolicyEngineTest, UsesPrefixOnlyWithPrefixMatches) {
  PolicyMatch by_as;
  by_as.as_path_contains = {65515};
  PolicyMatch by_prefix;
  by_prefix.prefixes.push_back(PrefixMatch{P("198.18.0.0/15"), std::nullopt, 32});
  const PolicyEngine engine =
      MustBuild({AcceptAll("all"), WithTerm("as", Term("t", by_as, {}, TermResult::kReject)),
                 WithTerm("pfx", Term("t", by_prefix, {}, TermResult::kAccept))});
  EXPECT_FALSE(engine.UsesPrefix({}));
  EXPECT_FALSE(engine.UsesPrefix({"all", "as"}));
  EXPECT_TRUE(engine.UsesPrefix({"as", "pfx"}));
  EXPECT_FALSE(engine.UsesPrefix({"missing"}));   // rejects every prefix alike
}

// ------------------------------------------------- terms and default --

struct TermOrderCase {
  std::string description;
  Policy policy;
  bool accepted;
  std::string reason;
  std::optional<uint32_t> local_pref;
};

class TermOrderTest : public ::testing::TestWithParam<TermOrderCase> {};

// Route 198.2.0.0/16 path "65002 65515" imported from nva-b.
TEST_P(TermOrderTest, FirstDecisiveTermWins) {
  const TermOrderCase& c = GetParam();
  const PeerConfig peer = Peer("nva-b", kRemoteNvaAs);
  const PolicyEngine engine = MustBuild({c.policy});
  const PolicyEngine::Result result =
      engine.Apply({c.policy.name}, P("198.2.0.0/16"), Ptr(Attrs(Seq({65002, 65515}))), testing::ImportFrom(peer));
  EXPECT_EQ(result.accepted, c.accepted);
  EXPECT_EQ(result.reason, c.reason);
  if (c.accepted) {
    EXPECT_EQ(result.attrs->local_pref, c.local_pref);
  } else {
    EXPECT_EQ(result.attrs, nullptr);
  }
}

const PolicyMatch kHas65515{.as_path_contains = {65515}};
const PolicyMatch kHas9{.as_path_contains = {9}};

Policy Terms(std::vector<PolicyTerm> terms, TermResult default_result) {
  return Policy{.name = "p", .terms = std::move(terms), .default_result = default_result};
}

INSTANTIATE_TEST_SUITE_P(
    Table, TermOrderTest,
    ::testing::Values(
        TermOrderCase{"accept before reject",
                      Terms({Term("a", kHas65515, {}, TermResult::kAccept), Term("r", {}, {}, TermResult::kReject)},
                            TermResult::kReject),
                      true, "accepted by policy p term a", {}},
        TermOrderCase{"reject before accept",
                      Terms({Term("r", kHas65515, {}, TermResult::kReject), Term("a", {}, {}, TermResult::kAccept)},
                            TermResult::kAccept),
                      false, "rejected by policy p term r", {}},
        TermOrderCase{"non matching term skipped",
                      Terms({Term("r", kHas9, {}, TermResult::kReject),
                             Term("a", {}, PolicyActions{.local_pref = 5}, TermResult::kAccept)},
                            TermResult::kReject),
                      true, "accepted by policy p term a", 5},
        TermOrderCase{"continue applies actions then later term decides",
                      Terms({Term("c", kHas65515, PolicyActions{.local_pref = 10}, TermResult::kContinue),
                             Term("a", {}, {}, TermResult::kAccept)},
                            TermResult::kReject),
                      true, "accepted by policy p term a", 10},
        TermOrderCase{"later continue overrides set value",
                      Terms({Term("c1", {}, PolicyActions{.local_pref = 10}, TermResult::kContinue),
                             Term("c2", {}, PolicyActions{.local_pref = 20}, TermResult::kContinue)},
                            TermResult::kAccept),
                      true, "accepted by policy p (default)", 20},
        TermOrderCase{"default reject", Terms({Term("a", kHas9, {}, TermResult::kAccept)}, TermResult::kReject), false,
                      "rejected by policy p (default)", {}},
        TermOrderCase{"default accept", Terms({Term("r", kHas9, {}, TermResult::kReject)}, TermResult::kAccept), true,
                      "accepted by policy p (default)", {}},
        TermOrderCase{"continue only chain rejects",
                      Terms({Term("c", {}, PolicyActions{.local_pref = 1}, TermResult::kContinue)},
                            TermResult::kContinue),
                      false, "rejected: no policy of [p] accepted the route", {}},
        TermOrderCase{"no terms default reject", Terms({}, TermResult::kReject), false,
                      "rejected by policy p (default)", {}}),
    [](const auto& info) { return Sanitize(info.param.description); });

// ------------------------------------------------------------ chains --

struct ChainCase {
  std::string description;
  std::vector<std::string> chain;
  bool accepted;
  std::string reason;
  std::optional<uint32_t> local_pref;
  std::vector<uint32_t> communities;
};

class ChainTest : public ::testing::TestWithParam<ChainCase> {};

TEST_P(ChainTest, RunsInOrder) {
  const ChainCase& c = GetParam();
  const std::vector<Policy> policies = {
      Terms({Term("t", {}, PolicyActions{.local_pref = 150, .add_communities = {1}}, TermResult::kAccept)},
            TermResult::kReject),
      Policy{.name = "tag",
             .terms = {Term("t", {}, PolicyActions{.add_communities = {2}}, TermResult::kContinue)},
             .default_result = TermResult::kContinue},
      Policy{.name = "pref-if-tagged",
             .terms = {Term("t", PolicyMatch{.communities = {1}}, PolicyActions{.local_pref = 175},
                            TermResult::kAccept)},
             .default_result = TermResult::kReject},
      Policy{.name = "deny", .terms = {}, .default_result = TermResult::kReject},
      AcceptAll("all"),
  };
  const PolicyEngine engine = MustBuild(policies);
  const PeerConfig peer = Peer("nva-b", kRemoteNvaAs);
  const PolicyEngine::Result result =
      engine.Apply(c.chain, P("198.2.0.0/16"), Ptr(Attrs(Seq({65002}))), testing::ImportFrom(peer));
  EXPECT_EQ(result.accepted, c.accepted);
  EXPECT_EQ(result.reason, c.reason);
  if (c.accepted) {
    EXPECT_EQ(result.attrs->local_pref, c.local_pref);
    EXPECT_EQ(result.attrs->communities, c.communities);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ChainTest,
    ::testing::Values(
        ChainCase{"accept passes rewritten route to next", {"p", "pref-if-tagged"}, true,
                  "accepted by policy pref-if-tagged term t", 175, {1}},
        ChainCase{"order matters", {"pref-if-tagged", "p"}, false, "rejected by policy pref-if-tagged (default)", {},
                  {}},
        ChainCase{"reject stops the chain", {"p", "deny", "all"}, false, "rejected by policy deny (default)", {}, {}},
        ChainCase{"undecided policy passes on", {"tag", "all"}, true, "accepted by policy all (default)", {}, {2}},
        ChainCase{"all three", {"tag", "p", "pref-if-tagged"}, true, "accepted by policy pref-if-tagged term t", 175,
                  {1, 2}},
        ChainCase{"unknown policy rejects", {"p", "missing"}, false, "rejected: unknown policy 'missing'", {}, {}}),
    [](const auto& info) { return Sanitize(info.param.description); });

// ---------------------------------------------------------- RFC 8212 --

struct Rfc8212Case {
  std::string description;
  PolicyContext::Direction direction;
  Asn peer_as;
  std::vector<std::string> chain;
  bool accepted;
  std::string reason;
};

class Rfc8212Test : public ::testing::TestWithParam<Rfc8212Case> {};

TEST_P(Rfc8212Test, EbgpNeedsPolicy) {
  const Rfc8212Case& c = GetParam();
  const PeerConfig peer = Peer("peer-x", c.peer_as);
  const PeerConfig source = Peer("isp", testing::kOtherAs);
  const PolicyEngine engine = MustBuild({AcceptAll("all")});
  const PolicyContext ctx = c.direction == kImport ? testing::ImportFrom(peer) : testing::ExportTo(peer, &source);
  const PolicyEngine::Result result = engine.Apply(c.chain, P("198.2.0.0/16"), Ptr(Attrs(Seq({64900}))), ctx);
  EXPECT_EQ(result.accepted, c.accepted);
  EXPECT_EQ(result.reason, c.reason);
}

INSTANTIATE_TEST_SUITE_P(
    Table, Rfc8212Test,
    ::testing::Values(
        Rfc8212Case{"eBGP import without policy", kImport, kRemoteNvaAs, {}, false,
                    "RFC 8212: no import policy for eBGP peer peer-x"},
        Rfc8212Case{"eBGP export without policy", kExport, kRemoteNvaAs, {}, false,
                    "RFC 8212: no export policy for eBGP peer peer-x"},
        Rfc8212Case{"eBGP import with policy", kImport, kRemoteNvaAs, {"all"}, true,
                    "accepted by policy all (default)"},
        Rfc8212Case{"eBGP export with policy", kExport, kRemoteNvaAs, {"all"}, true,
                    "accepted by policy all (default)"},
        Rfc8212Case{"iBGP import without policy", kImport, kLocalAs, {}, true,
                    "accepted: iBGP peer without import policy"},
        Rfc8212Case{"iBGP export without policy", kExport, kLocalAs, {}, true,
                    "accepted: iBGP peer without export policy"}),
    [](const auto& info) { return Sanitize(info.param.description); });

// ------------------------------------------------- loops and Azure rule --

TEST(PolicyEngineTest, ImportRejectsOwnAsFromEbgp) {
  const PeerConfig peer = Peer("nva-b", kRemoteNvaAs);
  const PolicyEngine engine = MustBuild({AcceptAll("all")});
  const PolicyEngine::Result result =
      engine.Apply({"all"}, P("198.1.0.0/16"), Ptr(Attrs(Seq({65002, kLocalAs}))), testing::ImportFrom(peer));
  EXPECT_FALSE(result.accepted);
  EXPECT_THAT(result.reason, HasSubstr("contains local AS 65001"));
}

TEST(PolicyEngineTest, ExportLoopUnlessOverriddenOrExcluded) {
  const PeerConfig nva_b = Peer("nva-b", kRemoteNvaAs);
  const PeerConfig isp = Peer("isp", testing::kOtherAs);
  const PolicyEngine engine = MustBuild({
      AcceptAll("all"),
      WithTerm("override", Term("t", {}, PolicyActions{.as_override = true}, TermResult::kAccept)),
      WithTerm("exclude", Term("t", {}, PolicyActions{.as_path_exclude = {kRemoteNvaAs}}, TermResult::kAccept)),
  });
  const AttributesPtr attrs = Ptr(Attrs(Seq({64900, kRemoteNvaAs})));
  const PolicyContext ctx = testing::ExportTo(nva_b, &isp);

  const PolicyEngine::Result plain = engine.Apply({"all"}, P("198.3.0.0/16"), attrs, ctx);
  EXPECT_FALSE(plain.accepted);
  EXPECT_THAT(plain.reason, HasSubstr("loop prevention"));

  const PolicyEngine::Result overridden = engine.Apply({"override"}, P("198.3.0.0/16"), attrs, ctx);
  ASSERT_TRUE(overridden.accepted) << overridden.reason;
  EXPECT_EQ(overridden.attrs->as_path.ToString(), "65001 64900 65001");

  const PolicyEngine::Result excluded = engine.Apply({"exclude"}, P("198.3.0.0/16"), attrs, ctx);
  ASSERT_TRUE(excluded.accepted) << excluded.reason;
  EXPECT_EQ(excluded.attrs->as_path.ToString(), "65001 64900");
}

TEST(PolicyEngineTest, WellKnownCommunitiesHonouredBeforePolicy) {
  const PeerConfig nva_b = Peer("nva-b", kRemoteNvaAs);
  const PeerConfig isp = Peer("isp", testing::kOtherAs);
  const PolicyEngine engine = MustBuild(
      {WithTerm("clear", Term("t", {}, PolicyActions{.clear_communities = true}, TermResult::kAccept))});
  for (uint32_t community : {kCommunityNoExport, kCommunityNoAdvertise}) {
    const PolicyEngine::Result result = engine.Apply({"clear"}, P("198.3.0.0/16"),
                                                     Ptr(Attrs(Seq({64900}), {community})),
                                                     testing::ExportTo(nva_b, &isp));
    EXPECT_FALSE(result.accepted) << community;
    EXPECT_THAT(result.reason, HasSubstr("community"));
  }
}

TEST(PolicyEngineTest, RouteServerRoutesAreNeverStripped) {
  const PeerConfig ars = Peer("ars-0", kAzureRouteServerAsn, PeerRole::kRouteServer, {"strip"}, {"strip"});
  const PeerConfig nva_b = Peer("nva-b", kRemoteNvaAs, PeerRole::kPeer, {"strip"}, {"strip"});
  const PolicyEngine engine = MustBuild(
      {WithTerm("strip", Term("t", {}, PolicyActions{.as_path_exclude = {kAzureRouteServerAsn}}, TermResult::kAccept))});
  const AttributesPtr vnet = Ptr(Attrs(Seq({kAzureRouteServerAsn})));

  // Import from the Route Server: accepted, path kept, refusal noted.
  const PolicyEngine::Result imported = engine.Apply({"strip"}, P("198.1.0.0/16"), vnet, testing::ImportFrom(ars));
  ASSERT_TRUE(imported.accepted) << imported.reason;
  EXPECT_EQ(imported.attrs->as_path.ToString(), "65515");
  ASSERT_EQ(imported.notes.size(), 1u);
  EXPECT_THAT(imported.notes[0], HasSubstr("refused: route learned from Route Server peer ars-0"));

  // Export of that route to the remote NVA: still carries 65515.
  const PolicyEngine::Result exported =
      engine.Apply({"strip"}, P("198.1.0.0/16"), vnet, testing::ExportTo(nva_b, &ars));
  ASSERT_TRUE(exported.accepted) << exported.reason;
  EXPECT_EQ(exported.attrs->as_path.ToString(), "65001 65515");
  EXPECT_THAT(exported.notes, ElementsAre(HasSubstr("would echo Route Server routes back")));

  // The same strip on a route from the remote NVA does apply.
  const PolicyEngine::Result remote = engine.Apply({"strip"}, P("198.2.0.0/16"),
                                                   Ptr(Attrs(Seq({kRemoteNvaAs, kAzureRouteServerAsn}))),
                                                   testing::ImportFrom(nva_b));
  ASSERT_TRUE(remote.accepted);
  EXPECT_EQ(remote.attrs->as_path.ToString(), "65002");
  EXPECT_THAT(remote.notes, IsEmpty());
}

TEST(PolicyEngineTest, RouteServerEchoRefusedEvenWithStrip) {
  const PeerConfig ars0 = Peer("ars-0", kAzureRouteServerAsn, PeerRole::kRouteServer);
  const PeerConfig ars1 = Peer("ars-1", kAzureRouteServerAsn, PeerRole::kRouteServer);
  const PolicyEngine engine = MustBuild(
      {WithTerm("strip", Term("t", {}, PolicyActions{.as_path_exclude = {kAzureRouteServerAsn}}, TermResult::kAccept))});
  const PolicyEngine::Result result =
      engine.Apply({"strip"}, P("198.1.0.0/16"), Ptr(Attrs(Seq({kAzureRouteServerAsn}))),
                   testing::ExportTo(ars1, &ars0));
  EXPECT_FALSE(result.accepted);
  EXPECT_EQ(result.reason,
            "route learned from Route Server peer ars-0 not sent to Route Server peer ars-1: would echo Route Server "
            "routes back");
}

TEST(PolicyEngineTest, NullInputsReject) {
  const PolicyEngine engine = MustBuild({AcceptAll("all")});
  PolicyContext ctx;
  EXPECT_FALSE(engine.Apply({"all"}, P("198.1.0.0/16"), Ptr(Attrs(Seq({}))), ctx).accepted);
}

}  // namespace
}  // namespace isthmus::bgp
