// Tests for the `bgp:` section of the configuration: the documented
// multi-region example, every key with its value read back, defaults (the
// route_server role's in particular), every class of error with its wording,
// and which changes a reload may make.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bgp/config/bgp_config.h"
#include "control/config/config.h"
#include "tests/unit/config/config_test_support.h"

namespace isthmus {
namespace {

using ::testing::HasSubstr;

using config_testing::Addr;
using config_testing::kSource;
using config_testing::Name;
constexpr const char* kPorts = config_testing::kMinimal;


constexpr uint32_t Community(uint32_t asn, uint32_t value) {
  return asn << 16 | value;
}

// The multi-region recipe of docs/configuration.md (region A's NVA): learn
// the VNet routes from both Route Server instances, hand everything to the
// other region's NVA, strip 65515 from what comes back, and never echo ARS's
// own routes to it.
constexpr char kMultiRegion[] = R"(ports:
  - {name: p0, interface: veth0}
bgp:
  asn: 65010
  router_id: 198.18.0.10
  networks: [203.0.113.10/32]
  policies:
    - name: from-ars
      terms:
        - {name: vnet, match: {as_path_contains: [65515]}, result: accept}
    - name: to-remote
      default: accept
    - name: from-remote
      terms:
        - {name: strip, actions: {as_path_exclude: [65515]}, result: accept}
    - name: to-ars
      terms:
        - {name: no-echo, match: {as_path_contains: [65515]}, result: reject}
      default: accept
  peers:
    - {name: ars1, address: 198.18.0.4, remote_as: 65515, role: route_server,
       import: [from-ars], export: [to-ars]}
    - {name: ars2, address: 198.18.0.5, remote_as: 65515, role: route_server,
       import: [from-ars], export: [to-ars]}
    - {name: nva-b, address: 192.0.2.2, remote_as: 65020, source: 192.0.2.1,
       multihop: 2, import: [from-remote], export: [to-remote]}
)";

TEST(BgpExampleTest, MultiRegionRecipeLoads) {
  const absl::StatusOr<Config> config = LoadConfigText(kMultiRegion, kSource);
  ASSERT_TRUE(config.ok()) << config.status();
  const bgp::BgpConfig& b = config->bgp;
  EXPECT_TRUE(b.enabled);
  EXPECT_EQ(b.asn, 65010u);
  ASSERT_EQ(b.policies.size(), 4u);
  EXPECT_EQ(b.policies[1].default_result, bgp::TermResult::kAccept);
  EXPECT_EQ(b.policies[2].terms[0].actions.as_path_exclude,
            std::vector<bgp::Asn>{65515});
  ASSERT_EQ(b.peers.size(), 3u);
  for (const bgp::PeerConfig* ars : {&b.peers[0], &b.peers[1]}) {
    EXPECT_EQ(ars->role, bgp::PeerRole::kRouteServer);
    EXPECT_EQ(ars->group, "route-server");
    EXPECT_EQ(ars->multihop_ttl, 2);
    EXPECT_EQ(ars->max_advertised, 2000u);
  }
  EXPECT_EQ(b.peers[2].role, bgp::PeerRole::kPeer);
  EXPECT_EQ(b.peers[2].group, "");
  EXPECT_EQ(b.peers[2].max_advertised, 0u);
  EXPECT_EQ(b.peers[2].source, Addr(192, 0, 2, 1));
}

// The example in the documentation is this very file, so it is known to load.
TEST(BgpExampleTest, DocumentationShowsTheTestedExample) {
  std::ifstream doc(ISTHMUS_CONFIG_DOC);
  ASSERT_TRUE(doc) << ISTHMUS_CONFIG_DOC;
  std::stringstream text;
  text << doc.rdbuf();
  const std::string markdown = text.str();
  const size_t section =
      markdown.find("#### Example: multi-region with Azure Route Server");
  ASSERT_NE(section, std::string::npos);
  constexpr std::string_view kFence = "```yaml\n";
  const size_t begin = markdown.find(kFence, section);
  ASSERT_NE(begin, std::string::npos);
  const size_t end = markdown.find("```", begin + kFence.size());
  ASSERT_NE(end, std::string::npos);
  EXPECT_EQ(markdown.substr(begin + kFence.size(), end - begin - kFence.size()),
            kMultiRegion);
}

// ---------------------------------------------------------------- every key

constexpr char kFullBgp[] = R"(ports:
  - {name: p0, interface: veth0}
bgp:
  asn: 4200000000
  router_id: 198.18.0.1
  listen_port: 1179
  listen_address: 198.18.0.1
  multipath: false
  max_paths: 4
  graceful_restart_time: 4095
  shutdown_mode: graceful_shutdown
  shutdown_drain_ms: 10000
  networks: [198.51.100.0/24, 203.0.113.0/25]
  policies:
    - name: import-all
      default: accept
    - name: shape_1
      terms:
        - name: doc-nets
          match:
            prefixes:
              - 198.51.100.0/24
              - "198.51.100.0/24 le 32"
              - "203.0.113.0/24 ge 25 le 28"
              - {prefix: 192.0.2.0/24, ge: 26}
              - {prefix: 0.0.0.0/0, le: 8}
            as_path_contains: [65020, 4200000001]
            as_path_length: {ge: 1, le: 3}
            communities: ["65010:100", 4294901862, no-export, no-advertise,
                          no-export-subconfed, "0:0", "65535:65535"]
            neighbors: [nva-b]
            origins: [bgp, static, service_vip]
          actions:
            as_path_exclude: [65515]
            as_override: true
            prepend: 10
            next_hop_self: true
            local_pref: 4294967295
            med: 0
            add_communities: ["65010:1", 7]
            clear_communities: true
          result: continue
        - {match: {}, actions: {}, result: reject}
        - {}
      default: reject
  peers:
    - name: nva-b
      address: 192.0.2.2
      remote_as: 65020
      role: peer
      group: remote
      description: "region B, over the tunnel"
      source: 192.0.2.1
      passive: true
      multihop: 255
      gtsm: false
      hold_time: 90
      keepalive: 30
      connect_retry: 5
      import: [import-all]
      export: [shape_1, import-all]
      max_prefix: {limit: 4000, action: restart, restart_after: 600, warn_percent: 75}
      max_advertised: 100000
      graceful_restart: false
      port: 1790
    - name: lab_1
      address: 198.18.0.9
      remote_as: 1
      gtsm: true
      hold_time: 0
      max_prefix: {limit: 10, action: warn}
    - name: lab-2
      address: 198.18.0.8
      remote_as: 2
      hold_time: 9
      max_prefix: {limit: 1, action: stop}
)";

bgp::BgpConfig ExpectedFullBgp() {
  bgp::BgpConfig b;
  b.enabled = true;
  b.asn = 4'200'000'000u;
  b.router_id = Addr(198, 18, 0, 1);
  b.listen_port = 1179;
  b.listen_address = Addr(198, 18, 0, 1);
  b.multipath = false;
  b.max_paths = 4;
  b.graceful_restart_time_s = 4095;
  b.shutdown_mode = bgp::ShutdownMode::kGracefulShutdown;
  b.shutdown_drain_ms = 10000;
  b.networks = {{{Addr(198, 51, 100, 0), 24}}, {{Addr(203, 0, 113, 0), 25}}};

  bgp::Policy import_all{.name = "import-all",
                         .default_result = bgp::TermResult::kAccept};
  bgp::PolicyTerm doc_nets;
  doc_nets.name = "doc-nets";
  doc_nets.match.prefixes = {
      {{Addr(198, 51, 100, 0), 24}, std::nullopt, std::nullopt},
      {{Addr(198, 51, 100, 0), 24}, std::nullopt, 32},
      {{Addr(203, 0, 113, 0), 24}, 25, 28},
      {{Addr(192, 0, 2, 0), 24}, 26, std::nullopt},
      {{Addr(0, 0, 0, 0), 0}, std::nullopt, 8},
  };
  doc_nets.match.as_path_contains = {65020, 4'200'000'001u};
  doc_nets.match.as_path_length_ge = 1;
  doc_nets.match.as_path_length_le = 3;
  doc_nets.match.communities = {
      Community(65010, 100),         4294901862u,
      bgp::kCommunityNoExport,       bgp::kCommunityNoAdvertise,
      bgp::kCommunityNoExportSubconfed, 0,
      0xFFFFFFFFu};
  doc_nets.match.neighbors = {"nva-b"};
  doc_nets.match.origins = {bgp::RouteKind::kBgp, bgp::RouteKind::kStatic,
                            bgp::RouteKind::kServiceVip};
  doc_nets.actions = {.as_path_exclude = {65515},
                      .as_override = true,
                      .prepend = 10,
                      .next_hop_self = true,
                      .local_pref = 4294967295u,
                      .med = 0,
                      .add_communities = {Community(65010, 1), 7},
                      .clear_communities = true};
  doc_nets.result = bgp::TermResult::kContinue;
  bgp::PolicyTerm reject_rest{.name = "2", .result = bgp::TermResult::kReject};
  bgp::PolicyTerm third{.name = "3"};
  bgp::Policy shape{.name = "shape_1",
                    .terms = {doc_nets, reject_rest, third},
                    .default_result = bgp::TermResult::kReject};
  b.policies = {import_all, shape};

  bgp::PeerConfig nva;
  nva.name = "nva-b";
  nva.address = Addr(192, 0, 2, 2);
  nva.remote_as = 65020;
  nva.description = "region B, over the tunnel";
  nva.group = "remote";
  nva.source = Addr(192, 0, 2, 1);
  nva.passive = true;
  nva.multihop_ttl = 255;
  nva.hold_time_s = 90;
  nva.keepalive_s = 30;
  nva.connect_retry_s = 5;
  nva.import_policies = {"import-all"};
  nva.export_policies = {"shape_1", "import-all"};
  nva.max_prefix = {.limit = 4000,
                    .action = bgp::MaxPrefixAction::kRestart,
                    .restart_after_s = 600,
                    .warn_percent = 75};
  nva.max_advertised = 100000;
  nva.graceful_restart = false;
  nva.port = 1790;

  bgp::PeerConfig lab1;
  lab1.name = "lab_1";
  lab1.address = Addr(198, 18, 0, 9);
  lab1.remote_as = 1;
  lab1.gtsm = true;
  lab1.hold_time_s = 0;
  lab1.keepalive_s = 0;  // follows the hold time: no keepalives
  lab1.max_prefix = {.limit = 10, .action = bgp::MaxPrefixAction::kWarn};

  bgp::PeerConfig lab2;
  lab2.name = "lab-2";
  lab2.address = Addr(198, 18, 0, 8);
  lab2.remote_as = 2;
  lab2.hold_time_s = 9;
  lab2.keepalive_s = 3;  // a third of the hold time (RFC 4271 10)
  lab2.max_prefix = {.limit = 1,
                     .action = bgp::MaxPrefixAction::kStopAccepting};
  b.peers = {nva, lab1, lab2};
  return b;
}

TEST(BgpFullTest, EveryKeyIsReadBack) {
  const absl::StatusOr<Config> config = LoadConfigText(kFullBgp, kSource);
  ASSERT_TRUE(config.ok()) << config.status();
  const bgp::BgpConfig expected = ExpectedFullBgp();
  // Piecewise first, for readable failures; then the whole value.
  ASSERT_EQ(config->bgp.policies.size(), expected.policies.size());
  for (size_t i = 0; i < expected.policies.size(); ++i) {
    EXPECT_EQ(config->bgp.policies[i], expected.policies[i]) << i;
  }
  ASSERT_EQ(config->bgp.peers.size(), expected.peers.size());
  for (size_t i = 0; i < expected.peers.size(); ++i) {
    EXPECT_EQ(config->bgp.peers[i], expected.peers[i]) << i;
  }
  EXPECT_EQ(config->bgp, expected);
}

// ---------------------------------------------------------------- defaults

struct ValidCase {
  std::string description;
  std::string bgp;  // the text after "bgp:\n"
  std::function<void(const bgp::BgpConfig&)> check;
};

void PrintTo(const ValidCase& c, std::ostream* os) { *os << c.description; }

class ValidBgpTest : public ::testing::TestWithParam<ValidCase> {};

TEST_P(ValidBgpTest, LoadsAsExpected) {
  const ValidCase& c = GetParam();
  const absl::StatusOr<Config> config =
      LoadConfigText(absl::StrCat(kPorts, "bgp:\n", c.bgp), kSource);
  ASSERT_TRUE(config.ok()) << config.status();
  c.check(config->bgp);
}

constexpr char kIdentity[] = "  asn: 65010\n  router_id: 198.18.0.1\n";

INSTANTIATE_TEST_SUITE_P(
    Table, ValidBgpTest,
    ::testing::Values(
        ValidCase{"defaults", kIdentity,
                  [](const bgp::BgpConfig& b) {
                    bgp::BgpConfig expected;
                    expected.enabled = true;
                    expected.asn = 65010;
                    expected.router_id = Addr(198, 18, 0, 1);
                    EXPECT_EQ(b, expected);
                    EXPECT_EQ(b.listen_port, 179);
                    EXPECT_TRUE(b.multipath);
                    EXPECT_EQ(b.max_paths, 16u);
                    EXPECT_EQ(b.graceful_restart_time_s, 120);
                    EXPECT_EQ(b.shutdown_mode, bgp::ShutdownMode::kWithdraw);
                    EXPECT_EQ(b.shutdown_drain_ms, 1000u);
                  }},
        ValidCase{"peer defaults",
                  absl::StrCat(kIdentity,
                               "  peers:\n  - {name: a, address: 192.0.2.1, "
                               "remote_as: 65020}\n"),
                  [](const bgp::BgpConfig& b) {
                    ASSERT_EQ(b.peers.size(), 1u);
                    const bgp::PeerConfig& p = b.peers[0];
                    EXPECT_EQ(p.role, bgp::PeerRole::kPeer);
                    EXPECT_EQ(p.group, "");
                    EXPECT_EQ(p.multihop_ttl, 1);
                    EXPECT_EQ(p.hold_time_s, 180);
                    EXPECT_EQ(p.keepalive_s, 60);
                    EXPECT_EQ(p.connect_retry_s, 30);
                    EXPECT_EQ(p.max_advertised, 0u);
                    EXPECT_EQ(p.max_prefix, bgp::MaxPrefix{});
                    EXPECT_TRUE(p.graceful_restart);
                    EXPECT_EQ(p.port, 179);
                  }},
        ValidCase{"route_server defaults can be overridden",
                  absl::StrCat(kIdentity,
                               "  peers:\n  - {name: ars1, address: "
                               "198.18.0.4, remote_as: 65515, role: "
                               "route_server, group: ars, multihop: 3, "
                               "max_advertised: 4000}\n"),
                  [](const bgp::BgpConfig& b) {
                    ASSERT_EQ(b.peers.size(), 1u);
                    EXPECT_EQ(b.peers[0].group, "ars");
                    EXPECT_EQ(b.peers[0].multihop_ttl, 3);
                    EXPECT_EQ(b.peers[0].max_advertised, 4000u);
                  }},
        ValidCase{"4-byte ASN without route_server peers",
                  "  asn: 4200000000\n  router_id: 198.18.0.1\n  peers:\n"
                  "  - {name: a, address: 192.0.2.1, remote_as: 4200000001, "
                  "max_advertised: 5000}\n",
                  [](const bgp::BgpConfig& b) {
                    EXPECT_EQ(b.asn, 4'200'000'000u);
                    EXPECT_EQ(b.peers[0].remote_as, 4'200'000'001u);
                    EXPECT_EQ(b.peers[0].max_advertised, 5000u);
                  }},
        ValidCase{"keepalive with hold time 0 is kept",
                  absl::StrCat(kIdentity,
                               "  peers:\n  - {name: a, address: 192.0.2.1, "
                               "remote_as: 65020, hold_time: 0, keepalive: 9}\n"),
                  [](const bgp::BgpConfig& b) {
                    EXPECT_EQ(b.peers[0].hold_time_s, 0);
                    EXPECT_EQ(b.peers[0].keepalive_s, 9);
                  }},
        ValidCase{"empty lists", absl::StrCat(kIdentity,
                                              "  networks: []\n  policies:\n"
                                              "  peers: []\n"),
                  [](const bgp::BgpConfig& b) {
                    EXPECT_TRUE(b.networks.empty());
                    EXPECT_TRUE(b.policies.empty());
                    EXPECT_TRUE(b.peers.empty());
                  }}),
    [](const auto& info) { return Name(info.param.description); });

// Every peer's address is tracked by the punt class control, which holds
// bgp::kMaxPeers: more peers are refused when the file is read, not
// half-way through a reload.
TEST(BgpLimitsTest, MorePeersThanThePuntClassHoldsAreRefused) {
  const auto peers = [](size_t n) {
    std::string out = "  asn: 65010\n  router_id: 198.18.0.10\n  peers:\n";
    for (size_t i = 0; i < n; ++i) {
      absl::StrAppend(&out, "    - {name: p", i, ", address: 198.18.", 1 + i / 250, ".", 1 + i % 250,
                      ", remote_as: 65020, passive: true}\n");
    }
    return out;
  };
  const auto at_limit = LoadConfigText(absl::StrCat(kPorts, "bgp:\n", peers(bgp::kMaxPeers)), kSource);
  ASSERT_TRUE(at_limit.ok()) << at_limit.status();
  EXPECT_EQ(at_limit->bgp.peers.size(), bgp::kMaxPeers);
  const auto over = LoadConfigText(absl::StrCat(kPorts, "bgp:\n", peers(bgp::kMaxPeers + 1)), kSource);
  ASSERT_FALSE(over.ok());
  EXPECT_THAT(std::string(over.status().message()),
              HasSubstr("bgp.peers: 257 peers (accepted: at most 256 peers (the punt class control tracks "
                        "each peer's address))"));
}

TEST(BgpAbsentTest, NoSectionMeansDisabled) {
  const absl::StatusOr<Config> config = LoadConfigText(kPorts, kSource);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->bgp.enabled);
  EXPECT_EQ(config->bgp, bgp::BgpConfig{});
}

// The refusal message lists the reserved ASNs; it must agree with the
// speaker's own check at every boundary it names.
TEST(BgpReservedAsnTest, MessageMatchesIsReservedAsn) {
  for (const bgp::Asn asn : {0u, 8074u, 8075u, 12076u, 23456u, 64496u, 64511u,
                             65515u, 65517u, 65520u, 65535u, 65536u, 65551u,
                             4294967295u}) {
    EXPECT_TRUE(bgp::IsReservedAsn(asn)) << asn;
  }
  for (const bgp::Asn asn : {1u, 8073u, 8076u, 12075u, 12077u, 23455u, 23457u,
                             64495u, 64512u, 65514u, 65516u, 65521u, 65534u,
                             65552u, 4294967294u}) {
    EXPECT_FALSE(bgp::IsReservedAsn(asn)) << asn;
  }
}

// ---------------------------------------------------------------- errors

struct ErrorCase {
  std::string description;
  std::string bgp;                    // the text after "bgp:\n" (line 4 on)
  std::vector<std::string> expected;  // substrings of the status message
  size_t problems;                    // lines in the message
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.description; }

class InvalidBgpTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(InvalidBgpTest, ReportsEveryProblem) {
  const ErrorCase& c = GetParam();
  const absl::StatusOr<Config> config =
      LoadConfigText(absl::StrCat(kPorts, "bgp:\n", c.bgp), kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(config.status().message());
  for (const std::string& expected : c.expected) {
    EXPECT_THAT(message, HasSubstr(expected));
  }
  const std::vector<std::string> lines = absl::StrSplit(message, '\n');
  EXPECT_EQ(lines.size(), c.problems) << message;
}

// Identity on lines 4-5; `rest` starts on line 6.
std::string WithIdentity(const std::string& rest) {
  return absl::StrCat(kIdentity, rest);
}

INSTANTIATE_TEST_SUITE_P(
    Speaker, InvalidBgpTest,
    ::testing::Values(
        ErrorCase{"reserved ASN refused with the list",
                  "  asn: 65515\n  router_id: 198.18.0.1\n",
                  {"test.yaml:4: bgp.asn: 65515 is reserved and may not be "
                   "used as our own ASN (accepted: any ASN except 0, 8074, "
                   "8075, 12076, 65515, 65517-65520 (Azure Route Server), "
                   "23456 (AS_TRANS, RFC 6793), 64496-64511 and 65536-65551 "
                   "(documentation, RFC 5398), 65535 and 4294967295 "
                   "(RFC 7300))"},
                  1},
        ErrorCase{"ASN 0 and AS_TRANS are reserved",
                  "  asn: 0\n  router_id: 198.18.0.1\n",
                  {"test.yaml:4: bgp.asn: 0 is reserved"},
                  1},
        ErrorCase{"ASN beyond 32 bits",
                  "  asn: 4294967296\n  router_id: 198.18.0.1\n",
                  {"test.yaml:4: bgp.asn: expected an integer between 0 and "
                   "4294967295, got '4294967296'"},
                  1},
        ErrorCase{
            "4-byte ASN with a route_server peer",
            "  asn: 4200000000\n  router_id: 198.18.0.1\n  peers:\n"
            "  - {name: ars1, address: 198.18.0.4, remote_as: 65515, "
            "role: route_server}\n",
            {"test.yaml:4: bgp.asn: 4200000000 is a 4-byte ASN, but peer "
             "'ars1' has role route_server and Azure Route Server supports "
             "16-bit ASNs only (accepted: 1-65535 (not reserved) when a "
             "route_server peer is configured)"},
            1},
        ErrorCase{"missing asn and router_id",
                  "  listen_port: 179\n",
                  {"test.yaml:4: bgp.asn: missing required key when bgp is "
                   "configured",
                   "bgp.router_id: missing required key"},
                  2},
        ErrorCase{"empty section still needs its identity",
                  "",
                  {"bgp.asn: missing required key",
                   "bgp.router_id: missing required key"},
                  2},
        ErrorCase{"bgp is a list",
                  "  - asn\n",
                  {"test.yaml:4: bgp: expected a map, got a list (accepted: a "
                   "map with keys asn, graceful_restart_time, listen_address, "
                   "listen_port, max_paths, multipath, networks, peers, "
                   "policies, router_id, shutdown_drain_ms, shutdown_mode)"},
                  1},
        ErrorCase{"unknown key with suggestion",
                  "  asn: 65010\n  routerid: 198.18.0.1\n",
                  {"test.yaml:5: bgp.routerid: unknown key, did you mean "
                   "'router_id'?",
                   "bgp.router_id: missing required key"},
                  2},
        ErrorCase{
            "speaker value ranges",
            WithIdentity("  max_paths: 17\n  graceful_restart_time: 4096\n"
                         "  listen_port: 65536\n  multipath: yes\n"
                         "  listen_address: 224.0.0.1\n"
                         "  shutdown_drain_ms: 10001\n  shutdown_mode: drain\n"),
            {"test.yaml:6: bgp.max_paths: expected an integer between 1 and 16",
             "test.yaml:7: bgp.graceful_restart_time: expected an integer "
             "between 1 and 4095",
             "test.yaml:8: bgp.listen_port: expected an integer between 0 and "
             "65535",
             "test.yaml:9: bgp.multipath: expected a boolean",
             "test.yaml:10: bgp.listen_address: 224.0.0.1 is a multicast "
             "address (RFC 5771) (accepted: a unicast local address)",
             "test.yaml:11: bgp.shutdown_drain_ms: expected an integer between "
             "0 and 10000",
             "test.yaml:12: bgp.shutdown_mode: unknown value 'drain' "
             "(accepted: withdraw, graceful_shutdown)"},
            7},
        ErrorCase{"router id not unicast",
                  "  asn: 65010\n  router_id: 0.0.0.0\n",
                  {"test.yaml:5: bgp.router_id: 0.0.0.0 is in 0.0.0.0/8"},
                  1},
        ErrorCase{"networks with host bits and duplicates",
                  WithIdentity("  networks:\n  - 198.51.100.1/24\n"
                               "  - 203.0.113.0/24\n  - 203.0.113.0/24\n"),
                  {"test.yaml:7: bgp.networks[0]: 198.51.100.1/24 has host "
                   "bits set (did you mean 198.51.100.0/24?)",
                   "test.yaml:9: bgp.networks[2]: '203.0.113.0/24' is already "
                   "used by bgp.networks[1]"},
                  2}),
    [](const auto& info) { return Name(info.param.description); });

INSTANTIATE_TEST_SUITE_P(
    Policies, InvalidBgpTest,
    ::testing::Values(
        ErrorCase{
            "unknown policy with suggestion",
            WithIdentity("  policies:\n  - {name: from-ars}\n  peers:\n"
                         "  - name: a\n    address: 192.0.2.1\n"
                         "    remote_as: 65020\n    import: [from-arss]\n"
                         "    export: [nope]\n"),
            {"test.yaml:12: bgp.peers[0].import[0]: no policy named "
             "'from-arss', did you mean 'from-ars'? (accepted: from-ars)",
             "test.yaml:13: bgp.peers[0].export[0]: no policy named 'nope' "
             "(accepted: from-ars)"},
            2},
        ErrorCase{"policy named twice in one list",
                  WithIdentity("  policies: [{name: p}]\n  peers:\n"
                               "  - {name: a, address: 192.0.2.1, remote_as: 1, "
                               "import: [p, p]}\n"),
                  {"test.yaml:8: bgp.peers[0].import[1]: 'p' is already used by "
                   "bgp.peers[0].import[0]"},
                  1},
        ErrorCase{"policy without peers defined",
                  WithIdentity("  peers:\n  - {name: a, address: 192.0.2.1, "
                               "remote_as: 1, import: [p]}\n"),
                  {"bgp.peers[0].import[0]: no policy named 'p' (accepted: the "
                   "name of a configured policy)"},
                  1},
        ErrorCase{"duplicate policy and term names, bad name, missing name",
                  WithIdentity("  policies:\n  - name: p\n    terms:\n"
                               "    - {name: t}\n    - {name: t}\n"
                               "  - {name: p}\n  - {name: P1}\n  - {}\n"),
                  {"test.yaml:10: bgp.policies[0].terms[1].name: 't' is already "
                   "used by bgp.policies[0].terms[0].name",
                   "test.yaml:11: bgp.policies[1].name: 'p' is already used by "
                   "bgp.policies[0].name (accepted: a policy name not used "
                   "elsewhere)",
                   "test.yaml:12: bgp.policies[2].name: 'P1' is not a valid "
                   "name (accepted: 1 to 32 characters from a-z, 0-9, '_' and "
                   "'-')",
                   "test.yaml:13: bgp.policies[3].name: missing required key"},
                  4},
        ErrorCase{"unknown neighbor in a match",
                  WithIdentity("  policies:\n  - name: p\n    terms:\n"
                               "    - match: {neighbors: [ars1, arz2]}\n"
                               "  peers:\n"
                               "  - {name: ars1, address: 198.18.0.4, "
                               "remote_as: 65515}\n"
                               "  - {name: ars2, address: 198.18.0.5, "
                               "remote_as: 65515}\n"),
                  {"test.yaml:9: bgp.policies[0].terms[0].match.neighbors[1]: "
                   "no peer named 'arz2', did you mean 'ars2'? (accepted: ars1, "
                   "ars2)"},
                  1},
        ErrorCase{
            "bad communities",
            WithIdentity("  policies:\n  - name: p\n    terms:\n"
                         "    - match:\n        communities:\n"
                         "        - \"65536:1\"\n        - no_export\n"
                         "        - \"1:2:3\"\n        - 4294967296\n"
                         "        - {a: 1}\n"
                         "      actions: {add_communities: [blackhole]}\n"),
            {"test.yaml:11: bgp.policies[0].terms[0].match.communities[0]: "
             "'65536:1' is not a BGP community (RFC 1997) (accepted: "
             "ASN:VALUE with both 0-65535 (e.g. 65010:100), a 32-bit integer, "
             "no-export, no-advertise, no-export-subconfed)",
             "test.yaml:12: bgp.policies[0].terms[0].match.communities[1]: "
             "'no_export' is not a BGP community (RFC 1997), did you mean "
             "'no-export'?",
             "test.yaml:13: bgp.policies[0].terms[0].match.communities[2]: "
             "'1:2:3' is not a BGP community",
             "test.yaml:14: bgp.policies[0].terms[0].match.communities[3]: "
             "'4294967296' is not a BGP community",
             "test.yaml:15: bgp.policies[0].terms[0].match.communities[4]: "
             "expected a string, got a map",
             "test.yaml:16: bgp.policies[0].terms[0].actions.add_communities[0]"
             ": 'blackhole' is not a BGP community"},
            6},
        ErrorCase{
            "prefix match ranges",
            WithIdentity("  policies:\n  - name: p\n    terms:\n"
                         "    - match:\n        prefixes:\n"
                         "        - \"198.51.100.0/24 ge 16\"\n"
                         "        - {prefix: 198.51.100.0/24, ge: 28, le: 26}\n"
                         "        - \"198.51.100.0/24 le 20\"\n"
                         "        - \"198.51.100.0/24 lt 32\"\n"
                         "        - \"198.51.100.0/24 le 32 ge 30\"\n"
                         "        - \"198.51.100.1/24 le 32\"\n"
                         "        - {prefix: 198.51.100.0/24, le: 33}\n"
                         "        - {ge: 30}\n"
                         "        - [198.51.100.0/24]\n"),
            {"test.yaml:11: bgp.policies[0].terms[0].match.prefixes[0]: ge 16 "
             "is less than the prefix length 24 (accepted: prefix length <= "
             "ge <= le <= 32)",
             "test.yaml:12: bgp.policies[0].terms[0].match.prefixes[1]: le 26 "
             "is less than ge 28",
             "test.yaml:13: bgp.policies[0].terms[0].match.prefixes[2]: le 20 "
             "is less than the prefix length 24",
             "test.yaml:14: bgp.policies[0].terms[0].match.prefixes[3]: "
             "'198.51.100.0/24 lt 32' is not a prefix match (accepted: PREFIX, "
             "'PREFIX ge N', 'PREFIX le N', 'PREFIX ge N le M' or a map",
             "test.yaml:15: bgp.policies[0].terms[0].match.prefixes[4]: "
             "'198.51.100.0/24 le 32 ge 30' is not a prefix match",
             "test.yaml:16: bgp.policies[0].terms[0].match.prefixes[5]: "
             "198.51.100.1/24 has host bits set (did you mean "
             "198.51.100.0/24?)",
             "test.yaml:17: bgp.policies[0].terms[0].match.prefixes[6].le: "
             "expected an integer between 0 and 32, got '33'",
             "test.yaml:18: bgp.policies[0].terms[0].match.prefixes[7].prefix: "
             "missing required key",
             "test.yaml:19: bgp.policies[0].terms[0].match.prefixes[8]: "
             "expected a string or a map, got a list"},
            9},
        ErrorCase{
            "term values",
            WithIdentity("  policies:\n  - name: p\n    default: continue\n"
                         "    terms:\n    - result: permit\n"
                         "      match:\n        origins: [connected]\n"
                         "        as_path_length: {ge: 4, le: 2}\n"
                         "        as_path_contains: [0, 23456]\n"
                         "      actions:\n        prepend: 11\n"
                         "        as_override: 1\n        med: -1\n"
                         "        next_hop_selfs: true\n"),
            {"test.yaml:8: bgp.policies[0].default: unknown value 'continue' "
             "(accepted: accept, reject)",
             "test.yaml:10: bgp.policies[0].terms[0].result: unknown value "
             "'permit' (accepted: accept, reject, continue)",
             "test.yaml:12: bgp.policies[0].terms[0].match.origins[0]: unknown "
             "value 'connected' (accepted: bgp, static, service_vip)",
             "test.yaml:13: bgp.policies[0].terms[0].match.as_path_length: ge "
             "4 is more than le 2 (accepted: ge <= le)",
             "test.yaml:14: bgp.policies[0].terms[0].match.as_path_contains[0]:"
             " expected an integer between 1 and 4294967295, got '0'",
             "test.yaml:14: bgp.policies[0].terms[0].match.as_path_contains[1]:"
             " 23456 is AS_TRANS",
             "test.yaml:16: bgp.policies[0].terms[0].actions.prepend: expected "
             "an integer between 0 and 10, got '11'",
             "test.yaml:17: bgp.policies[0].terms[0].actions.as_override: "
             "expected a boolean, got '1'",
             "test.yaml:18: bgp.policies[0].terms[0].actions.med: expected an "
             "integer between 0 and 4294967295, got '-1'",
             "test.yaml:19: bgp.policies[0].terms[0].actions.next_hop_selfs: "
             "unknown key, did you mean 'next_hop_self'?"},
            10}),
    [](const auto& info) { return Name(info.param.description); });

INSTANTIATE_TEST_SUITE_P(
    Peers, InvalidBgpTest,
    ::testing::Values(
        ErrorCase{"gtsm with multihop",
                  WithIdentity("  peers:\n  - name: a\n    address: 192.0.2.1\n"
                               "    remote_as: 65020\n    multihop: 2\n"
                               "    gtsm: true\n"
                               "  - {name: ars1, address: 198.18.0.4, "
                               "remote_as: 65515, role: route_server, "
                               "gtsm: true}\n"),
                  {"test.yaml:11: bgp.peers[0].gtsm: gtsm: true together with "
                   "multihop 2 (accepted: gtsm only with multihop 1: GTSM "
                   "(RFC 5082) expects directly connected peers)",
                   "test.yaml:12: bgp.peers[1].gtsm: gtsm: true together with "
                   "multihop 2 (the route_server default)"},
                  2},
        ErrorCase{"max_advertised above what ARS accepts",
                  WithIdentity("  peers:\n  - name: ars1\n"
                               "    address: 198.18.0.4\n"
                               "    remote_as: 65515\n    role: route_server\n"
                               "    max_advertised: 4001\n"),
                  {"test.yaml:11: bgp.peers[0].max_advertised: 4001 is more "
                   "than Azure Route Server accepts: it drops the session "
                   "above 4000 routes, counting the routes it holds plus those "
                   "in each UPDATE (accepted: 1-4000 for role route_server, "
                   "default 2000 so that a full re-send stays under the "
                   "limit)"},
                  1},
        ErrorCase{"duplicate peer names and addresses",
                  WithIdentity("  peers:\n"
                               "  - {name: a, address: 192.0.2.1, remote_as: 1}\n"
                               "  - {name: a, address: 192.0.2.1, remote_as: 1}\n"),
                  {"test.yaml:8: bgp.peers[1].name: 'a' is already used by "
                   "bgp.peers[0].name (accepted: a peer name not used "
                   "elsewhere)",
                   "test.yaml:8: bgp.peers[1].address: '192.0.2.1' is already "
                   "used by bgp.peers[0].address (accepted: a peer address not "
                   "used elsewhere)"},
                  2},
        ErrorCase{"missing required peer keys and a bad name",
                  WithIdentity("  peers:\n  - {name: Ars_1}\n  - {}\n  - x\n"),
                  {"test.yaml:7: bgp.peers[0].name: 'Ars_1' is not a valid "
                   "name",
                   "test.yaml:7: bgp.peers[0].address: missing required key "
                   "(accepted: four decimal octets",
                   "test.yaml:7: bgp.peers[0].remote_as: missing required key "
                   "(accepted: an ASN 1-4294967295)",
                   "test.yaml:8: bgp.peers[1].name: missing required key",
                   "test.yaml:9: bgp.peers[2]: expected a map, got 'x'"},
                  7},
        ErrorCase{
            "timers",
            WithIdentity("  peers:\n"
                         "  - {name: a, address: 192.0.2.1, remote_as: 1, "
                         "hold_time: 2}\n"
                         "  - {name: b, address: 192.0.2.2, remote_as: 1, "
                         "keepalive: 61}\n"
                         "  - {name: c, address: 192.0.2.3, remote_as: 1, "
                         "hold_time: 90, keepalive: 0}\n"
                         "  - {name: d, address: 192.0.2.4, remote_as: 1, "
                         "connect_retry: 0, hold_time: 65536}\n"),
            {"test.yaml:7: bgp.peers[0].hold_time: 2 is not a hold time "
             "(accepted: 0 (no keepalives) or 3-65535 seconds (RFC 4271 4.2))",
             "test.yaml:8: bgp.peers[1].keepalive: 61 does not fit hold_time "
             "180 (accepted: 1 to a third of hold_time, here 1-60 seconds "
             "(RFC 4271 10))",
             "test.yaml:9: bgp.peers[2].keepalive: 0 does not fit hold_time 90 "
             "(accepted: 1 to a third of hold_time, here 1-30 seconds",
             "test.yaml:10: bgp.peers[3].connect_retry: expected an integer "
             "between 1 and 65535",
             "test.yaml:10: bgp.peers[3].hold_time: expected an integer "
             "between 0 and 65535"},
            5},
        ErrorCase{
            "peer values",
            WithIdentity("  peers:\n  - name: a\n    address: 127.0.0.1\n"
                         "    remote_as: 23456\n    role: routeserver\n"
                         "    multihop: 0\n    source: 192.0.2\n"
                         "    port: 0\n    passive: no\n    group: Ars\n"
                         "    description: [x]\n"),
            {"test.yaml:8: bgp.peers[0].address: 127.0.0.1 is a loopback "
             "address (RFC 1122) (accepted: a unicast peer address)",
             "test.yaml:9: bgp.peers[0].remote_as: 23456 is AS_TRANS, which "
             "only stands in for 4-byte ASNs in 2-byte fields (RFC 6793)",
             "test.yaml:10: bgp.peers[0].role: unknown value 'routeserver', "
             "did you mean 'route_server'? (accepted: peer, route_server)",
             "test.yaml:11: bgp.peers[0].multihop: expected an integer between "
             "1 and 255",
             "test.yaml:12: bgp.peers[0].source: '192.0.2' is not an IPv4 "
             "address",
             "test.yaml:13: bgp.peers[0].port: expected an integer between 1 "
             "and 65535",
             "test.yaml:14: bgp.peers[0].passive: expected a boolean",
             "test.yaml:15: bgp.peers[0].group: 'Ars' is not a valid name",
             "test.yaml:16: bgp.peers[0].description: expected a string, got "
             "a list"},
            9},
        ErrorCase{
            "max_prefix",
            WithIdentity("  peers:\n"
                         "  - name: a\n    address: 192.0.2.1\n"
                         "    remote_as: 1\n"
                         "    max_prefix: {action: drop, warn_percent: 101}\n"
                         "  - name: b\n    address: 192.0.2.2\n"
                         "    remote_as: 1\n"
                         "    max_prefix: {limit: 5, action: warn, "
                         "restart_after: 60}\n"),
            {"test.yaml:10: bgp.peers[0].max_prefix.action: unknown value "
             "'drop', did you mean 'stop'? (accepted: warn, stop, restart)",
             "test.yaml:10: bgp.peers[0].max_prefix.warn_percent: expected an "
             "integer between 1 and 100",
             "test.yaml:10: bgp.peers[0].max_prefix.limit: missing required "
             "key",
             "test.yaml:14: bgp.peers[1].max_prefix.restart_after: only "
             "applies with action: restart"},
            4},
        ErrorCase{
            "group members must be advertised to alike",
            WithIdentity("  policies: [{name: p}, {name: q}]\n  peers:\n"
                         "  - {name: ars1, address: 198.18.0.4, remote_as: "
                         "65515, role: route_server, export: [p]}\n"
                         "  - {name: ars2, address: 198.18.0.5, remote_as: "
                         "65515, role: route_server, export: [q]}\n"
                         "  - {name: x, address: 192.0.2.1, remote_as: 1, "
                         "group: route-server, export: [p]}\n"),
            {"test.yaml:9: bgp.peers[1]: differs from bgp.peers[0] ('ars1') "
             "in export but both are in group 'route-server' (accepted: the "
             "same remote_as, export and max_advertised for every peer of a "
             "group, which all receive identical advertisements)",
             "test.yaml:10: bgp.peers[2]: differs from bgp.peers[0] ('ars1') "
             "in remote_as, max_advertised but both are in group "
             "'route-server'"},
            2}),
    [](const auto& info) { return Name(info.param.description); });

// ---------------------------------------------------------------- reload

using config_testing::ReloadCase;

class BgpReloadTest : public ::testing::TestWithParam<ReloadCase> {};

TEST_P(BgpReloadTest, AllowsOnlyLiveChanges) { config_testing::ExpectReloadOutcome(kFullBgp, kSource, GetParam()); }

INSTANTIATE_TEST_SUITE_P(
    Table, BgpReloadTest,
    ::testing::Values(
        ReloadCase{"peers, policies, networks and tuning are live",
                   [](Config& c) {
                     c.bgp.peers.pop_back();
                     c.bgp.peers[0].hold_time_s = 30;
                     c.bgp.peers[0].export_policies = {"import-all"};
                     c.bgp.policies[1].terms.clear();
                     c.bgp.networks.clear();
                     c.bgp.multipath = true;
                     c.bgp.max_paths = 16;
                     c.bgp.graceful_restart_time_s = 60;
                     c.bgp.shutdown_mode = bgp::ShutdownMode::kGracefulShutdown;
                     c.bgp.shutdown_drain_ms = 0;
                   },
                   {}},
        ReloadCase{"identity and listener need a restart",
                   [](Config& c) {
                     c.bgp.asn = 65010;
                     c.bgp.router_id = Addr(198, 18, 0, 2);
                     c.bgp.listen_port = 179;
                     c.bgp.listen_address.reset();
                   },
                   {"bgp.asn", "bgp.router_id", "bgp.listen_port",
                    "bgp.listen_address"}},
        ReloadCase{"removing the section",
                   [](Config& c) { c.bgp = bgp::BgpConfig{}; },
                   {"bgp"}}),
    [](const auto& info) { return Name(info.param.description); });

TEST(BgpReloadSectionTest, AddingTheSectionNeedsARestart) {
  const auto running = LoadConfigText(kPorts, kSource);
  const auto next = LoadConfigText(kMultiRegion, kSource);
  ASSERT_TRUE(running.ok() && next.ok());
  const absl::Status status = CheckReloadable(*running, *next);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(), "bgp: changing bgp requires a restart of isthmusd");
}

}  // namespace
}  // namespace isthmus
