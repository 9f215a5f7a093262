#include "bgp/policy/policy_match.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/bgp_policy/policy_test_support.h"

namespace isthmus::bgp {
namespace {

using testing::A;
using testing::Attrs;
using testing::P;
using testing::Seq;

std::string Sanitize(std::string name) {
  for (char& ch : name) {
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

struct PrefixCase {
  std::string description;
  PrefixMatch entry;
  std::string route;
  bool matches;
};

class PrefixMatchTest : public ::testing::TestWithParam<PrefixCase> {};

TEST_P(PrefixMatchTest, Matches) {
  const PrefixCase& c = GetParam();
  EXPECT_EQ(PrefixMatches(c.entry, P(c.route)), c.matches);
}

PrefixMatch Range(const std::string& prefix, std::optional<uint8_t> ge, std::optional<uint8_t> le) {
  return PrefixMatch{P(prefix), ge, le};
}

INSTANTIATE_TEST_SUITE_P(
    Table, PrefixMatchTest,
    ::testing::Values(
        PrefixCase{"exact match", Range("198.1.0.0/16", {}, {}), "198.1.0.0/16", true},
        PrefixCase{"exact rejects longer", Range("198.1.0.0/16", {}, {}), "198.1.2.0/24", false},
        PrefixCase{"exact rejects shorter", Range("198.1.0.0/16", {}, {}), "198.0.0.0/8", false},
        PrefixCase{"outside", Range("198.1.0.0/16", {}, 32), "198.2.0.0/24", false},
        PrefixCase{"le 24 accepts /16", Range("198.1.0.0/16", {}, 24), "198.1.0.0/16", true},
        PrefixCase{"le 24 accepts /24", Range("198.1.0.0/16", {}, 24), "198.1.7.0/24", true},
        PrefixCase{"le 24 rejects /25", Range("198.1.0.0/16", {}, 24), "198.1.7.0/25", false},
        PrefixCase{"ge 20 le 24 rejects /16", Range("198.1.0.0/16", 20, 24), "198.1.0.0/16", false},
        PrefixCase{"ge 20 le 24 accepts /22", Range("198.1.0.0/16", 20, 24), "198.1.4.0/22", true},
        PrefixCase{"ge alone accepts ge", Range("198.1.0.0/16", 24, {}), "198.1.4.0/24", true},
        PrefixCase{"ge alone reaches up to /32", Range("198.1.0.0/16", 24, {}), "198.1.4.0/25", true},
        PrefixCase{"ge alone rejects shorter", Range("198.1.0.0/16", 24, {}), "198.1.4.0/23", false},
        PrefixCase{"default route any le 32", Range("0.0.0.0/0", {}, 32), "203.0.113.7/32", true},
        PrefixCase{"default route exact", Range("0.0.0.0/0", {}, {}), "0.0.0.0/0", true},
        PrefixCase{"default route exact rejects /8", Range("0.0.0.0/0", {}, {}), "198.0.0.0/8", false}),
    [](const auto& info) { return Sanitize(info.param.description); });

struct TermCase {
  std::string description;
  PolicyMatch match;
  bool matches;
};

// The route every TermCase is checked against: 198.1.4.0/24 with path
// "65002 65515" (length 2), community 65001:100, kind kStatic, from peer
// "nva-b".
class TermMatchTest : public ::testing::TestWithParam<TermCase> {
 protected:
  PeerConfig peer_ = testing::Peer("nva-b", testing::kRemoteNvaAs);
};

TEST_P(TermMatchTest, Matches) {
  const TermCase& c = GetParam();
  PolicyContext ctx = testing::ImportFrom(peer_);
  ctx.kind = RouteKind::kStatic;
  const PathAttributes attrs = Attrs(Seq({65002, 65515}), {(65001u << 16) | 100});
  EXPECT_EQ(TermMatches(c.match, P("198.1.4.0/24"), attrs, ctx), c.matches);
}

constexpr uint32_t kCommunity = (65001u << 16) | 100;

INSTANTIATE_TEST_SUITE_P(
    Table, TermMatchTest,
    ::testing::Values(
        TermCase{"empty matches all", PolicyMatch{}, true},
        TermCase{"prefix list any entry", PolicyMatch{.prefixes = {Range("198.9.0.0/16", {}, 32),
                                                                   Range("198.1.0.0/16", {}, 24)}},
                 true},
        TermCase{"prefix list none", PolicyMatch{.prefixes = {Range("198.9.0.0/16", {}, 32)}}, false},
        TermCase{"as path contains", PolicyMatch{.as_path_contains = {65515}}, true},
        TermCase{"as path contains any of", PolicyMatch{.as_path_contains = {1, 65002}}, true},
        TermCase{"as path does not contain", PolicyMatch{.as_path_contains = {65003}}, false},
        TermCase{"length ge 2", PolicyMatch{.as_path_length_ge = 2}, true},
        TermCase{"length ge 3", PolicyMatch{.as_path_length_ge = 3}, false},
        TermCase{"length le 2", PolicyMatch{.as_path_length_le = 2}, true},
        TermCase{"length le 1", PolicyMatch{.as_path_length_le = 1}, false},
        TermCase{"community present", PolicyMatch{.communities = {7, kCommunity}}, true},
        TermCase{"community absent", PolicyMatch{.communities = {7}}, false},
        TermCase{"neighbor named", PolicyMatch{.neighbors = {"ars-0", "nva-b"}}, true},
        TermCase{"neighbor other", PolicyMatch{.neighbors = {"ars-0"}}, false},
        TermCase{"origin static", PolicyMatch{.origins = {RouteKind::kStatic}}, true},
        TermCase{"origin bgp or vip", PolicyMatch{.origins = {RouteKind::kBgp, RouteKind::kServiceVip}}, false},
        TermCase{"all conditions hold", PolicyMatch{.prefixes = {Range("198.1.0.0/16", {}, 24)},
                                                    .as_path_contains = {65515},
                                                    .as_path_length_le = 2,
                                                    .communities = {kCommunity},
                                                    .neighbors = {"nva-b"},
                                                    .origins = {RouteKind::kStatic}},
                 true},
        TermCase{"one condition fails", PolicyMatch{.as_path_contains = {65515}, .neighbors = {"ars-0"}}, false}),
    [](const auto& info) { return Sanitize(info.param.description); });

TEST(TermMatchExportTest, NeighborIsTheTargetOnExport) {
  const PeerConfig target = testing::Peer("ars-0", kAzureRouteServerAsn, PeerRole::kRouteServer);
  const PeerConfig source = testing::Peer("nva-b", testing::kRemoteNvaAs);
  const PolicyContext ctx = testing::ExportTo(target, &source);
  const PathAttributes attrs = Attrs(Seq({65002}));
  EXPECT_TRUE(TermMatches(PolicyMatch{.neighbors = {"ars-0"}}, P("198.2.0.0/16"), attrs, ctx));
  EXPECT_FALSE(TermMatches(PolicyMatch{.neighbors = {"nva-b"}}, P("198.2.0.0/16"), attrs, ctx));
}

}  // namespace
}  // namespace isthmus::bgp
