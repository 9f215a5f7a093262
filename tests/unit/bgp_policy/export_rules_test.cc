#include "bgp/policy/export_rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "tests/unit/bgp_policy/policy_test_support.h"

namespace isthmus::bgp {
namespace {

using ::testing::HasSubstr;
using testing::A;
using testing::Attrs;
using testing::kLocalAs;
using testing::kRemoteNvaAs;
using testing::Peer;
using testing::Seq;

std::string Sanitize(std::string name) {
  for (char& ch : name) {
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

const PeerConfig kArs0 = Peer("ars-0", kAzureRouteServerAsn, PeerRole::kRouteServer);
const PeerConfig kArs1 = Peer("ars-1", kAzureRouteServerAsn, PeerRole::kRouteServer);
const PeerConfig kNvaB = Peer("nva-b", kRemoteNvaAs);
const PeerConfig kIbgp = Peer("nva-a2", kLocalAs);

struct GateCase {
  std::string description;
  const PeerConfig* target;
  const PeerConfig* source;   // null: originated here
  PathAttributes attrs;
  std::string refusal;        // "" = allowed
};

class ExportGateTest : public ::testing::TestWithParam<GateCase> {};

TEST_P(ExportGateTest, BeforePolicy) {
  const GateCase& c = GetParam();
  const absl::Status status = CheckExportBeforePolicy(c.attrs, testing::ExportTo(*c.target, c.source));
  if (c.refusal.empty()) {
    EXPECT_TRUE(status.ok()) << status;
  } else {
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.refusal));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ExportGateTest,
    ::testing::Values(
        GateCase{"plain route to eBGP", &kNvaB, &kArs0, Attrs(Seq({65515})), ""},
        GateCase{"NO_ADVERTISE to eBGP", &kNvaB, &kArs0, Attrs(Seq({65515}), {kCommunityNoAdvertise}),
                 "NO_ADVERTISE"},
        GateCase{"NO_ADVERTISE to iBGP", &kIbgp, &kNvaB, Attrs(Seq({65002}), {kCommunityNoAdvertise}),
                 "NO_ADVERTISE"},
        GateCase{"NO_EXPORT to eBGP", &kNvaB, &kIbgp, Attrs(Seq({}), {kCommunityNoExport}), "NO_EXPORT"},
        GateCase{"NO_EXPORT_SUBCONFED to eBGP", &kNvaB, &kIbgp, Attrs(Seq({}), {kCommunityNoExportSubconfed}),
                 "NO_EXPORT"},
        GateCase{"NO_EXPORT to iBGP allowed", &kIbgp, &kNvaB, Attrs(Seq({65002}), {kCommunityNoExport}), ""},
        GateCase{"Route Server route echoed to the other instance", &kArs1, &kArs0, Attrs(Seq({65515})),
                 "would echo Route Server routes back"},
        GateCase{"Route Server route echoed to its own instance", &kArs0, &kArs0, Attrs(Seq({65515})),
                 "would echo Route Server routes back"},
        GateCase{"remote NVA route to Route Server", &kArs0, &kNvaB, Attrs(Seq({65002})), ""},
        GateCase{"local origination to Route Server", &kArs0, nullptr, Attrs(Seq({})), ""}),
    [](const auto& info) { return Sanitize(info.param.description); });

TEST(ExportLoopTest, TargetAsInPathIsNotSent) {
  const PathAttributes attrs = Attrs(Seq({65002, 65515}));
  const absl::Status to_ars = CheckExportAfterPolicy(attrs, testing::ExportTo(kArs0, &kNvaB));
  EXPECT_EQ(to_ars.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(to_ars.message()), HasSubstr("loop prevention"));
  const absl::Status to_nva = CheckExportAfterPolicy(attrs, testing::ExportTo(kNvaB, &kArs0));
  EXPECT_EQ(to_nva.code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ExportLoopTest, OtherAsAndIbgpAreSent) {
  const PathAttributes attrs = Attrs(Seq({64900, 65515}));
  EXPECT_TRUE(CheckExportAfterPolicy(attrs, testing::ExportTo(kNvaB, &kArs0)).ok());
  // Our own AS in an iBGP path is the receiving peer's business, not a loop
  // towards it.
  EXPECT_TRUE(CheckExportAfterPolicy(Attrs(Seq({kLocalAs})), testing::ExportTo(kIbgp, &kNvaB)).ok());
}

struct PrepareCase {
  std::string description;
  const PeerConfig* target;
  RouteKind kind;
  PathAttributes attrs;
  PolicyActions applied;
  std::string path;
  std::string next_hop;
  std::optional<uint32_t> med;
  std::optional<uint32_t> local_pref;
};

class PrepareExportTest : public ::testing::TestWithParam<PrepareCase> {};

TEST_P(PrepareExportTest, Transforms) {
  const PrepareCase& c = GetParam();
  const PathAttributes out = PrepareExport(c.attrs, testing::ExportTo(*c.target, &kNvaB, c.kind), c.applied);
  EXPECT_EQ(out.as_path.ToString(), c.path);
  EXPECT_EQ(ToString(out.next_hop), c.next_hop);
  EXPECT_EQ(out.med, c.med);
  EXPECT_EQ(out.local_pref, c.local_pref);
  EXPECT_EQ(out.communities, c.attrs.communities);
  EXPECT_EQ(out.origin, c.attrs.origin);
}

PathAttributes WithMedAndPref(PathAttributes attrs, std::optional<uint32_t> med, std::optional<uint32_t> pref) {
  attrs.med = med;
  attrs.local_pref = pref;
  return attrs;
}

PathAttributes Originated() {
  PathAttributes attrs = Attrs(Seq({}));
  attrs.next_hop = Ipv4Addr{};
  attrs.med = 50;
  return attrs;
}

INSTANTIATE_TEST_SUITE_P(
    Table, PrepareExportTest,
    ::testing::Values(
        PrepareCase{"eBGP prepends once", &kArs0, RouteKind::kBgp, Attrs(Seq({65002})), {}, "65001 65002",
                    "192.0.2.10", {}, {}},
        PrepareCase{"eBGP prepend 2 gives three", &kArs0, RouteKind::kBgp, Attrs(Seq({65002})),
                    PolicyActions{.prepend = 2}, "65001 65001 65001 65002", "192.0.2.10", {}, {}},
        PrepareCase{"eBGP drops received MED and LOCAL_PREF", &kNvaB, RouteKind::kBgp,
                    WithMedAndPref(Attrs(Seq({65515})), 20, 200), {}, "65001 65515", "192.0.2.10", {}, {}},
        PrepareCase{"eBGP keeps MED set by policy", &kNvaB, RouteKind::kBgp,
                    WithMedAndPref(Attrs(Seq({65515})), 20, 200), PolicyActions{.med = 20}, "65001 65515",
                    "192.0.2.10", 20, {}},
        PrepareCase{"eBGP keeps MED of our own origination", &kArs0, RouteKind::kServiceVip, Originated(), {},
                    "65001", "192.0.2.10", 50, {}},
        PrepareCase{"iBGP keeps path and next hop, defaults LOCAL_PREF", &kIbgp, RouteKind::kBgp,
                    WithMedAndPref(Attrs(Seq({65002})), 20, std::nullopt), {}, "65002", "198.51.100.9", 20, 100},
        PrepareCase{"iBGP keeps LOCAL_PREF", &kIbgp, RouteKind::kBgp,
                    WithMedAndPref(Attrs(Seq({65002})), std::nullopt, 300), {}, "65002", "198.51.100.9", {}, 300},
        PrepareCase{"iBGP next-hop-self", &kIbgp, RouteKind::kBgp, Attrs(Seq({65002})),
                    PolicyActions{.next_hop_self = true}, "65002", "192.0.2.10", {}, 100},
        PrepareCase{"iBGP ignores prepend", &kIbgp, RouteKind::kBgp, Attrs(Seq({65002})),
                    PolicyActions{.prepend = 3}, "65002", "198.51.100.9", {}, 100},
        PrepareCase{"iBGP own origination gets our next hop", &kIbgp, RouteKind::kStatic, Originated(), {}, "",
                    "192.0.2.10", 50, 100}),
    [](const auto& info) { return Sanitize(info.param.description); });

TEST(PrepareExportTest, PrependCapIsKMaxPrepend) {
  const PathAttributes out =
      PrepareExport(Attrs(Seq({})), testing::ExportTo(kArs0, &kNvaB), PolicyActions{.prepend = 1000});
  EXPECT_EQ(out.as_path.Length(), 1 + kMaxPrepend);
}

TEST(PrepareExportTest, EbgpDropsConfederationSegments) {
  PathAttributes attrs = Attrs(Seq({65002}));
  attrs.as_path.segments.insert(attrs.as_path.segments.begin(),
                                AsPathSegment{AsPathSegment::Type::kConfedSequence, {64512}});
  const PathAttributes out = PrepareExport(attrs, testing::ExportTo(kNvaB, &kIbgp), {});
  EXPECT_EQ(out.as_path.ToString(), "65001 65002");
}

}  // namespace
}  // namespace isthmus::bgp
