// The `tunnels:` section: defaults, every knob, and the errors (file:line,
// key path, what is accepted), including the refusal of a tunnel whose
// underlay endpoint would be routed into a tunnel (issue 4 item 4).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "control/config/config.h"
#include "tests/unit/config/config_test_support.h"

namespace isthmus {
namespace {

using config_testing::Addr;
using config_testing::kSource;
using ::testing::HasSubstr;

constexpr char kPorts[] = "ports:\n  - {name: p0, interface: veth0}\n";

std::string WithTunnels(const std::string& tunnels, const std::string& extra = "") {
  return std::string(kPorts) + extra + "tunnels:\n" + tunnels;
}

constexpr char kOneTunnel[] =
    "  - name: west\n"
    "    type: vxlan\n"
    "    local: 192.0.2.1\n"
    "    remote: 192.0.2.2\n"
    "    vni: 4100\n"
    "    overlay: 198.18.250.1/30\n";

TEST(TunnelSection, DefaultsAreFilledIn) {
  const auto config = LoadConfigText(WithTunnels(kOneTunnel), kSource);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->tunnels.size(), 1u);
  const TunnelConfig& t = config->tunnels[0];
  EXPECT_EQ(t.name, "west");
  EXPECT_EQ(t.type, TunnelType::kVxlan);
  EXPECT_EQ(t.local, Addr(192, 0, 2, 1));
  EXPECT_EQ(t.remote, Addr(192, 0, 2, 2));
  EXPECT_EQ(t.vni, 4100u);
  EXPECT_EQ(t.overlay.host, Addr(198, 18, 250, 1));
  EXPECT_EQ(t.overlay.subnet.len, 30);
  EXPECT_FALSE(t.mtu.has_value());
  EXPECT_EQ(t.mss_clamp.mode, MssClampConfig::Mode::kOff);
  EXPECT_EQ(t.dst_port, 4789);
  EXPECT_EQ(t.interface, "tun-west");
  EXPECT_EQ(t.df, TunnelDf::kSet);
}

TEST(TunnelSection, EveryKnob) {
  const auto config = LoadConfigText(WithTunnels(std::string(kOneTunnel) +
                                                 "    mtu: 1400\n"
                                                 "    mss_clamp: 1300\n"
                                                 "    dst_port: 8472\n"
                                                 "    interface: ovl0\n"
                                                 "    df: inherit\n"),
                                     kSource);
  ASSERT_TRUE(config.ok()) << config.status();
  const TunnelConfig& t = config->tunnels[0];
  EXPECT_EQ(t.mtu, 1400u);
  EXPECT_EQ(t.mss_clamp, (MssClampConfig{MssClampConfig::Mode::kFixed, 1300}));
  EXPECT_EQ(t.dst_port, 8472);
  EXPECT_EQ(t.interface, "ovl0");
  EXPECT_EQ(t.df, TunnelDf::kInherit);
}

struct BadTunnel {
  std::string description;
  std::string yaml;
  std::string expected;  // substring of the error
};

void PrintTo(const BadTunnel& c, std::ostream* os) { *os << c.description; }

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  text.replace(text.find(from), from.size(), to);
  return text;
}

const std::string kSecond =
    "  - name: east\n    type: vxlan\n    local: 192.0.2.1\n    remote: 192.0.2.3\n    vni: 4101\n"
    "    overlay: 198.18.250.5/30\n";

std::vector<BadTunnel> BadTunnels() {
  const std::string one = kOneTunnel;
  return {
      {"ipsec without its ipsec block", WithTunnels(Replace(Replace(one, "vxlan", "ipsec"), "    vni: 4100\n", "")),
       "tunnels[0].ipsec: missing required key"},
      {"unknown type", WithTunnels(Replace(one, "vxlan", "gre")),
       "test.yaml:5: tunnels[0].type: unknown value 'gre' (accepted: vxlan, ipsec)"},
      {"vni 0", WithTunnels(Replace(one, "4100", "0")), "test.yaml:8: tunnels[0].vni: "},
      {"vni beyond 24 bits", WithTunnels(Replace(one, "4100", "16777216")), "tunnels[0].vni"},
      {"bad remote", WithTunnels(Replace(one, "192.0.2.2", "192.0.2")), "test.yaml:7: tunnels[0].remote: "},
      {"multicast remote", WithTunnels(Replace(one, "192.0.2.2", "224.0.0.1")), "tunnels[0].remote"},
      {"remote equals local", WithTunnels(Replace(one, "192.0.2.2", "192.0.2.1")), "is the same address as local"},
      {"overlay without a length", WithTunnels(Replace(one, "198.18.250.1/30", "198.18.250.1")),
       "tunnels[0].overlay: '198.18.250.1' is not an overlay interface address (accepted: HOST/LEN"},
      {"overlay /32 has no peer", WithTunnels(Replace(one, "/30", "/32")), "tunnels[0].overlay"},
      {"overlay network address", WithTunnels(Replace(one, "198.18.250.1/30", "198.18.250.0/30")),
       "is the network address of its subnet"},
      {"missing vni", WithTunnels(Replace(one, "    vni: 4100\n", "")),
       "tunnels[0].vni: missing required key (accepted: a VNI 1-16777215)"},
      {"unknown key", WithTunnels(one + "    vnid: 3\n"), "tunnels[0].vnid"},
      {"duplicate name", WithTunnels(one + Replace(kSecond, "east", "west")), "tunnels[1].name"},
      {"duplicate vni", WithTunnels(one + Replace(kSecond, "4101", "4100")), "tunnels[1].vni"},
      {"overlapping overlays", WithTunnels(one + Replace(kSecond, "198.18.250.5/30", "198.18.250.2/30")),
       "overlaps 198.18.250.0/30 of tunnel 'west'"},
      {"interface taken by a port", WithTunnels(one + "    interface: veth0\n"), "tunnels[0].interface"},
      {"mtu too large", WithTunnels(one + "    mtu: 8951\n"), "tunnels[0].mtu"},
      {"mss_clamp word", WithTunnels(one + "    mss_clamp: on\n"),
       "tunnels[0].mss_clamp: 'on' is not an MSS clamp setting (accepted: off, auto"},
      {"mss_clamp too small", WithTunnels(one + "    mss_clamp: 100\n"), "tunnels[0].mss_clamp"},
      {"df word", WithTunnels(one + "    df: yes\n"), "tunnels[0].df"},
      {"dst_port 0", WithTunnels(one + "    dst_port: 0\n"), "tunnels[0].dst_port"},
      {"remote inside another tunnel's overlay",
       WithTunnels(one + Replace(kSecond, "192.0.2.3", "198.18.250.2")),
       "198.18.250.2 lies inside the overlay 198.18.250.0/30 of tunnel 'west'"},
      {"remote routed into a tunnel by a static route",
       WithTunnels(one, "routes:\n  - {prefix: 192.0.2.0/24, via: 198.18.250.2}\n"),
       "test.yaml:9: tunnels[0].remote: 192.0.2.2 lies inside 192.0.2.0/24, which the static route sends into "
       "tunnel 'west' (via 198.18.250.2)"},
      {"remote advertised by bgp",
       WithTunnels(one, "bgp:\n  asn: 65001\n  router_id: 192.0.2.1\n  networks: [192.0.2.0/25]\n"),
       "192.0.2.2 lies inside 192.0.2.0/25, which bgp.networks advertises"},
  };
}

class BadTunnelTest : public ::testing::TestWithParam<BadTunnel> {};

TEST_P(BadTunnelTest, IsRefusedWithFileLineKeyAndAccepted) {
  const BadTunnel& c = GetParam();
  const auto config = LoadConfigText(c.yaml, kSource);
  ASSERT_FALSE(config.ok()) << c.yaml;
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()), HasSubstr(c.expected));
}

INSTANTIATE_TEST_SUITE_P(Cases, BadTunnelTest, ::testing::ValuesIn(BadTunnels()),
                         [](const auto& info) { return config_testing::Name(info.param.description); });

TEST(TunnelSection, RouteOutsideTheEndpointIsFine) {
  const auto config =
      LoadConfigText(WithTunnels(kOneTunnel, "routes:\n  - {prefix: 203.0.113.0/24, via: 198.18.250.2}\n"), kSource);
  EXPECT_TRUE(config.ok()) << config.status();
}

TEST(TunnelSection, ReloadMayChangeOnlyMssClampAndDf) {
  const std::string base = WithTunnels(kOneTunnel);
  const std::vector<config_testing::ReloadCase> cases = {
      {"mss_clamp", [](Config& c) { c.tunnels[0].mss_clamp = {MssClampConfig::Mode::kAuto, 0}; }, {}},
      {"df", [](Config& c) { c.tunnels[0].df = TunnelDf::kClear; }, {}},
      {"vni", [](Config& c) { c.tunnels[0].vni = 7; }, {"tunnels"}},
      {"remote", [](Config& c) { c.tunnels[0].remote = Addr(192, 0, 2, 9); }, {"tunnels"}},
      {"a tunnel added", [](Config& c) { c.tunnels.push_back(c.tunnels[0]); }, {"tunnels"}},
      {"the tunnel removed", [](Config& c) { c.tunnels.clear(); }, {"tunnels"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    config_testing::ExpectReloadOutcome(base.c_str(), kSource, c);
  }
}

}  // namespace
}  // namespace isthmus
