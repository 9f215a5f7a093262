// Kernel route mirror (ReplaceKernelRoute & co.) against a real kernel in a
// private network namespace, checked through iproute2's JSON output as an
// independent oracle.

#include <net/if.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "control/netlink/interface_control.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/unit/netlink/message_builder.h"
#include "tests/unit/netlink/netns_fixture.h"

namespace isthmus {
namespace {

using ::isthmus::testing::MakeIpv4;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

using Json = nlohmann::json;

// Links rt0 (198.18.0.1/24) and rt1 (198.18.1.1/24): gateways .2 and up
// on each are on a connected subnet.
const Ipv4Addr kGateway0 = MakeIpv4(198, 18, 0, 2);
const Ipv4Addr kGateway1 = MakeIpv4(198, 18, 1, 2);
const Ipv4Prefix kRemote = {MakeIpv4(203, 0, 113, 0), 24};
const Ipv4Prefix kOther = {MakeIpv4(198, 51, 100, 0), 24};
const Ipv4Prefix kDiscard = {MakeIpv4(192, 0, 2, 0), 24};

std::string Proto() { return absl::StrFormat("%d", kIsthmusRouteProtocol); }

class KernelRouteTest : public testing::NetnsTest {
 protected:
  void SetUp() override {
    testing::NetnsTest::SetUp();
    if (HasFatalFailure()) return;
    AddLink("rt0", "198.18.0.1/24", ifindex0_);
    AddLink("rt1", "198.18.1.1/24", ifindex1_);
  }

  // A veth with both ends up, so next hops on it are usable.
  void AddLink(const std::string& name, const std::string& address, int& ifindex) {
    ASSERT_EQ(Ip("link add " + name + " type veth peer name " + name + "p"), 0);
    ASSERT_EQ(Ip("addr add " + address + " dev " + name), 0);
    ASSERT_EQ(Ip("link set " + name + "p up"), 0);
    ASSERT_EQ(Ip("link set " + name + " up"), 0);
    ifindex = static_cast<int>(if_nametoindex(name.c_str()));
    ASSERT_GT(ifindex, 0);
  }

  // iproute2's view of the main table, optionally restricted.
  Json Routes(const std::string& filter = "") const {
    const std::string text = IpOutput(netns(), "-j -4 route show " + filter);
    Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(parsed.is_array()) << "ip printed: " << text;
    return parsed.is_array() ? parsed : Json::array();
  }
  Json OurRoutes() const { return Routes("proto " + Proto()); }

  // The single entry for `dst` in `routes`; null when absent. Fails the
  // test when the prefix appears more than once (replace must not append).
  static Json Find(const Json& routes, const std::string& dst) {
    Json found;
    int count = 0;
    for (const Json& route : routes) {
      if (route.value("dst", "") == dst) {
        found = route;
        ++count;
      }
    }
    EXPECT_LE(count, 1) << dst << " listed " << count << " times: " << routes.dump();
    return found;
  }

  int ifindex0_ = 0;
  int ifindex1_ = 0;
};

// The clash check the constant's comment documents: no rt_protos file on
// this machine (iproute2's own, FRR's in rt_protos.d) names our number.
TEST(KernelRouteProtocolTest, NumberIsNotNamedByIproute2OrFrr) {
  std::vector<std::filesystem::path> files = {"/etc/iproute2/rt_protos"};
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/etc/iproute2/rt_protos.d", error)) {
    if (entry.path().extension() == ".conf") files.push_back(entry.path());
  }
  for (const std::filesystem::path& file : files) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      long number = 0;  // comment lines do not start with a number
      if (std::sscanf(line.c_str(), " %li", &number) != 1) continue;
      EXPECT_NE(number, long{kIsthmusRouteProtocol}) << file << ": " << line;
    }
  }
}

TEST_F(KernelRouteTest, SingleNexthopRouteIsInstalledWithOurProtocolAndMetric) {
  ASSERT_TRUE(ReplaceKernelRoute(kRemote, {{ifindex0_, kGateway0}}).ok());

  const Json route = Find(OurRoutes(), "203.0.113.0/24");
  ASSERT_FALSE(route.is_null()) << Routes().dump();
  EXPECT_EQ(route.value("gateway", ""), "198.18.0.2");
  EXPECT_EQ(route.value("dev", ""), "rt0");
  EXPECT_EQ(route.value("metric", 0), static_cast<int>(kIsthmusRouteMetric));
  EXPECT_EQ(route.value("type", "unicast"), "unicast");
  EXPECT_FALSE(route.contains("scope")) << "expected scope universe: " << route.dump();

  absl::StatusOr<std::vector<Ipv4Prefix>> listed = ListKernelRoutes();
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(*listed, ElementsAre(kRemote));
}

TEST_F(KernelRouteTest, ReplaceSwitchesBetweenMultipathAndSingleNexthop) {
  ASSERT_TRUE(ReplaceKernelRoute(kRemote, {{ifindex0_, kGateway0}}).ok());
  ASSERT_TRUE(ReplaceKernelRoute(kRemote, {{ifindex0_, kGateway0}, {ifindex1_, kGateway1}}).ok());
  Json route = Find(OurRoutes(), "203.0.113.0/24");
  ASSERT_TRUE(route.contains("nexthops")) << route.dump();
  const Json& hops = route["nexthops"];
  ASSERT_EQ(hops.size(), 2u) << route.dump();
  EXPECT_EQ(hops[0].value("gateway", ""), "198.18.0.2");
  EXPECT_EQ(hops[0].value("dev", ""), "rt0");
  EXPECT_EQ(hops[1].value("gateway", ""), "198.18.1.2");
  EXPECT_EQ(hops[1].value("dev", ""), "rt1");
  EXPECT_EQ(hops[0].value("weight", 0), 1);  // equal cost
  EXPECT_EQ(hops[1].value("weight", 0), 1);

  const Ipv4Addr new_gateway = MakeIpv4(198, 18, 1, 3);
  ASSERT_TRUE(ReplaceKernelRoute(kRemote, {{ifindex1_, new_gateway}}).ok());
  route = Find(OurRoutes(), "203.0.113.0/24");
  EXPECT_FALSE(route.contains("nexthops")) << route.dump();
  EXPECT_EQ(route.value("gateway", ""), "198.18.1.3");
  EXPECT_EQ(route.value("dev", ""), "rt1");
}

TEST_F(KernelRouteTest, OnLinkAndMixedNexthops) {
  ASSERT_TRUE(ReplaceKernelRoute(kOther, {{ifindex0_, Ipv4Addr{}}}).ok());
  Json route = Find(OurRoutes(), "198.51.100.0/24");
  EXPECT_EQ(route.value("dev", ""), "rt0");
  EXPECT_FALSE(route.contains("gateway")) << route.dump();

  ASSERT_TRUE(ReplaceKernelRoute(kOther, {{ifindex0_, Ipv4Addr{}}, {ifindex1_, kGateway1}}).ok());
  route = Find(OurRoutes(), "198.51.100.0/24");
  ASSERT_EQ(route["nexthops"].size(), 2u) << route.dump();
  EXPECT_FALSE(route["nexthops"][0].contains("gateway")) << route.dump();
  EXPECT_EQ(route["nexthops"][1].value("gateway", ""), "198.18.1.2");
}

TEST_F(KernelRouteTest, WidestEcmpFitsOneRequest) {
  std::vector<KernelNexthop> nexthops;
  for (size_t i = 0; i < kMaxKernelNexthops; ++i) {
    nexthops.push_back({ifindex0_, MakeIpv4(198, 18, 0, static_cast<uint8_t>(10 + i))});
  }
  ASSERT_TRUE(ReplaceKernelRoute(kRemote, nexthops).ok());
  EXPECT_EQ(Find(OurRoutes(), "203.0.113.0/24")["nexthops"].size(), kMaxKernelNexthops);

  nexthops.push_back({ifindex1_, kGateway1});
  EXPECT_TRUE(absl::IsInvalidArgument(ReplaceKernelRoute(kRemote, nexthops)));
}

TEST_F(KernelRouteTest, BlackholeRouteAndBackToUnicast) {
  ASSERT_TRUE(ReplaceKernelRoute(kDiscard, {}, /*blackhole=*/true).ok());
  Json route = Find(OurRoutes(), "192.0.2.0/24");
  EXPECT_EQ(route.value("type", ""), "blackhole") << route.dump();
  EXPECT_FALSE(route.contains("dev")) << route.dump();

  ASSERT_TRUE(ReplaceKernelRoute(kDiscard, {{ifindex0_, kGateway0}}).ok());
  route = Find(OurRoutes(), "192.0.2.0/24");
  EXPECT_EQ(route.value("type", "unicast"), "unicast") << route.dump();
  EXPECT_EQ(route.value("gateway", ""), "198.18.0.2");
}

TEST_F(KernelRouteTest, DefaultRouteIsListed) {
  const Ipv4Prefix kDefault = {Ipv4Addr{}, 0};
  ASSERT_TRUE(ReplaceKernelRoute(kDefault, {{ifindex0_, kGateway0}}).ok());
  EXPECT_FALSE(Find(OurRoutes(), "default").is_null()) << OurRoutes().dump();
  absl::StatusOr<std::vector<Ipv4Prefix>> listed = ListKernelRoutes();
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(*listed, ElementsAre(kDefault));
  EXPECT_TRUE(DeleteKernelRoute(kDefault).ok());
  EXPECT_THAT(OurRoutes(), IsEmpty());
}

TEST_F(KernelRouteTest, DeleteRemovesOursAndReportsNotFoundAfterwards) {
  ASSERT_TRUE(ReplaceKernelRoute(kRemote, {{ifindex0_, kGateway0}}).ok());
  ASSERT_TRUE(ReplaceKernelRoute(kOther, {{ifindex0_, kGateway0}}).ok());
  ASSERT_TRUE(DeleteKernelRoute(kRemote).ok());
  EXPECT_TRUE(Find(OurRoutes(), "203.0.113.0/24").is_null());
  EXPECT_FALSE(Find(OurRoutes(), "198.51.100.0/24").is_null());

  const absl::Status again = DeleteKernelRoute(kRemote);
  EXPECT_TRUE(absl::IsNotFound(again)) << again;
  EXPECT_THAT(std::string(again.message()), HasSubstr("203.0.113.0/24"));
}

TEST_F(KernelRouteTest, RoutesOfOtherProtocolsAndTablesAreNeverTouched) {
  // The administrator's routes: one on a prefix we also install (metric 0
  // by default), one elsewhere, one with our protocol in another table.
  ASSERT_EQ(Ip("route add 203.0.113.0/24 via 198.18.0.3 proto static"), 0);
  ASSERT_EQ(Ip("route add 198.51.100.128/25 via 198.18.1.3"), 0);  // proto boot
  ASSERT_EQ(Ip("route add 198.51.100.0/24 via 198.18.0.3 table 100 proto " + Proto()), 0);

  ASSERT_TRUE(ReplaceKernelRoute(kRemote, {{ifindex1_, kGateway1}}).ok());
  ASSERT_TRUE(ReplaceKernelRoute(kDiscard, {}, /*blackhole=*/true).ok());
  // Ours on the admin's prefix is a separate entry; the admin's is intact.
  const Json admin = Find(Routes("proto static"), "203.0.113.0/24");
  EXPECT_EQ(admin.value("gateway", ""), "198.18.0.3") << Routes().dump();
  // Deleting ours on that prefix leaves the admin's alone.
  ASSERT_TRUE(DeleteKernelRoute(kRemote).ok());
  EXPECT_FALSE(Find(Routes("proto static"), "203.0.113.0/24").is_null()) << Routes().dump();
  EXPECT_TRUE(absl::IsNotFound(DeleteKernelRoute(kRemote)));
  ASSERT_TRUE(ReplaceKernelRoute(kRemote, {{ifindex1_, kGateway1}}).ok());

  absl::StatusOr<std::vector<Ipv4Prefix>> listed = ListKernelRoutes();
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(*listed, UnorderedElementsAre(kRemote, kDiscard));

  ASSERT_TRUE(FlushKernelRoutes().ok());
  EXPECT_THAT(OurRoutes(), IsEmpty());
  listed = ListKernelRoutes();
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(*listed, IsEmpty());

  const Json main = Routes();
  EXPECT_EQ(Find(main, "203.0.113.0/24").value("protocol", ""), "static") << main.dump();
  // iproute2 prints no "protocol" for boot, the default of `ip route add`.
  EXPECT_EQ(Find(main, "198.51.100.128/25").value("gateway", ""), "198.18.1.3") << main.dump();
  EXPECT_EQ(Find(main, "198.18.0.0/24").value("protocol", ""), "kernel") << main.dump();
  EXPECT_FALSE(Find(Routes("table 100"), "198.51.100.0/24").is_null());
  // Nothing left to flush is not an error.
  EXPECT_TRUE(FlushKernelRoutes().ok());
}

TEST_F(KernelRouteTest, GatewayOutsideConnectedSubnetsIsAClearError) {
  const absl::Status status = ReplaceKernelRoute(kOther, {{ifindex0_, MakeIpv4(192, 0, 2, 77)}});
  ASSERT_FALSE(status.ok());
  const std::string message(status.message());
  EXPECT_THAT(message, HasSubstr("198.51.100.0/24"));
  // The kernel's extended-ack text, not just an errno.
  EXPECT_THAT(message, HasSubstr("Nexthop has invalid gateway"));
  EXPECT_THAT(OurRoutes(), IsEmpty());
}

TEST_F(KernelRouteTest, BadArgumentsAreRejectedBeforeTheKernel) {
  const Ipv4Prefix host_bits = {MakeIpv4(203, 0, 113, 1), 24};
  const Ipv4Prefix too_long = {MakeIpv4(203, 0, 113, 0), 33};
  EXPECT_TRUE(absl::IsInvalidArgument(ReplaceKernelRoute(host_bits, {{ifindex0_, kGateway0}})));
  EXPECT_TRUE(absl::IsInvalidArgument(ReplaceKernelRoute(too_long, {{ifindex0_, kGateway0}})));
  EXPECT_TRUE(absl::IsInvalidArgument(ReplaceKernelRoute(kRemote, {})));
  EXPECT_TRUE(absl::IsInvalidArgument(ReplaceKernelRoute(kRemote, {{0, kGateway0}})));
  EXPECT_TRUE(absl::IsInvalidArgument(
      ReplaceKernelRoute(kRemote, {{ifindex0_, kGateway0}}, /*blackhole=*/true)));
  EXPECT_TRUE(absl::IsInvalidArgument(DeleteKernelRoute(host_bits)));
  EXPECT_THAT(OurRoutes(), IsEmpty());
}

}  // namespace
}  // namespace isthmus
