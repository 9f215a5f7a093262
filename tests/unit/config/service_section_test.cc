// The `nat:` and `services:` sections (issue 5): defaults, every knob, and
// the errors (file:line, key path, what is accepted), including the checks
// across sections (BGP peer names, the appliance's own addresses).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "control/config/config.h"
#include "tests/unit/config/config_test_support.h"

namespace isthmus {
namespace {

using config_testing::Addr;
using config_testing::kSource;
using config_testing::RefusedCase;

constexpr char kPorts[] = "ports:\n  - {name: p0, interface: veth0}\n";
constexpr char kBgp[] =
    "bgp:\n"
    "  asn: 65010\n"
    "  router_id: 192.0.2.1\n"
    "  peers:\n"
    "    - {name: ars-1, address: 198.18.1.4, remote_as: 65515, source: 198.18.1.10}\n"
    "    - {name: ars-2, address: 198.18.1.5, remote_as: 65515}\n";

std::string WithServices(const std::string& services, const std::string& extra = "") {
  return std::string(kPorts) + extra + "services:\n" + services;
}

constexpr char kWeb[] =
    "  - name: web\n"
    "    vip: 203.0.113.10\n"
    "    ports: [80, 443]\n"
    "    backends:\n"
    "      - {address: 192.0.2.21, port: 8080}\n"
    "      - {address: 192.0.2.22, port: 8080, weight: 3}\n";

TEST(ServiceSection, DefaultsAreFilledIn) {
  const auto config = LoadConfigText(WithServices(kWeb), kSource);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->nat, NatConfig{});
  EXPECT_EQ(config->nat.capacity, 1'000'000u);
  EXPECT_EQ(config->nat.maglev_table_size, 65537u);
  ASSERT_EQ(config->services.size(), 1u);
  const ServiceConfig& s = config->services[0];
  EXPECT_EQ(s.name, "web");
  EXPECT_EQ(s.vip, Addr(203, 0, 113, 10));
  EXPECT_EQ(s.protocol, ServiceProtocol::kTcp);
  EXPECT_EQ(s.ports, (std::vector<uint16_t>{80, 443}));
  ASSERT_EQ(s.backends.size(), 2u);
  EXPECT_EQ(s.backends[0], (ServiceBackendConfig{Addr(192, 0, 2, 21), 8080, 1}));
  EXPECT_EQ(s.backends[1], (ServiceBackendConfig{Addr(192, 0, 2, 22), 8080, 3}));
  // A dead backend is found within fall * interval + timeout < 1 s.
  EXPECT_EQ(s.health, HealthCheckConfig{});
  EXPECT_LT(s.health.fall * s.health.interval_ms + s.health.timeout_ms, 1000u);
  EXPECT_EQ(s.health.type, HealthCheckType::kTcp);
  EXPECT_EQ(s.min_up, 1u);
  EXPECT_TRUE(s.snat_pool.empty());
  EXPECT_EQ(s.on_backend_down, BackendDownPolicy::kReset);
  EXPECT_TRUE(s.announce.peers.empty());
  EXPECT_EQ(s.announce.degraded.kind, DegradedAnnounce::Kind::kNone);
  EXPECT_EQ(s.announce.degraded_below, 2u);
  EXPECT_EQ(s.flow_timeouts, FlowTimeouts{});
}

TEST(ServiceSection, EveryKnob) {
  const auto config = LoadConfigText(WithServices(std::string(kWeb) +
                                                      "    protocol: udp\n"
                                                      "    health:\n"
                                                      "      type: http\n"
                                                      "      path: /healthz?full=1\n"
                                                      "      expect_status: 204\n"
                                                      "      port: 8081\n"
                                                      "      interval_ms: 500\n"
                                                      "      timeout_ms: 400\n"
                                                      "      rise: 4\n"
                                                      "      fall: 5\n"
                                                      "    min_up: 1\n"
                                                      "    snat: {pool: [198.51.100.50, 198.51.100.51]}\n"
                                                      "    on_backend_down: reselect\n"
                                                      "    announce:\n"
                                                      "      peers: [ars-2]\n"
                                                      "      degraded: community 65010:666\n"
                                                      "      degraded_below: 2\n"
                                                      "    flow_timeouts: {udp_s: 30}\n",
                                                  std::string(kBgp) +
                                                      "nat:\n"
                                                      "  capacity: 10000000\n"
                                                      "  maglev_table_size: 655373\n"
                                                      "  timeouts: {tcp_established_s: 3600, tcp_transitory_s: 60, tcp_embryonic_s: 4}\n"
                                                      "  admission:\n"
                                                      "    embryonic_max_percent: 20\n"
                                                      "    service_embryonic_max_percent: 2\n"
                                                      "    syn_rate_per_worker: 50000\n"),
                                     kSource);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->nat.capacity, 10'000'000u);
  EXPECT_EQ(config->nat.maglev_table_size, 655373u);
  EXPECT_EQ(config->nat.timeouts, (FlowTimeouts{3600, 60, 300, 4}));
  EXPECT_EQ(config->nat.admission, (NatAdmissionConfig{20, 2, 50000}));
  const ServiceConfig& s = config->services[0];
  EXPECT_EQ(s.protocol, ServiceProtocol::kUdp);
  EXPECT_EQ(s.health, (HealthCheckConfig{HealthCheckType::kHttp, "/healthz?full=1", 204, 8081, 500, 400, 4, 5}));
  EXPECT_EQ(s.snat_pool, (std::vector<Ipv4Addr>{Addr(198, 51, 100, 50), Addr(198, 51, 100, 51)}));
  EXPECT_EQ(s.on_backend_down, BackendDownPolicy::kReselect);
  EXPECT_EQ(s.announce.peers, std::vector<std::string>{"ars-2"});
  EXPECT_EQ(s.announce.degraded, (DegradedAnnounce{DegradedAnnounce::Kind::kCommunity, 65010u << 16 | 666}));
  EXPECT_EQ(s.announce.degraded_below, 2u);
  // The service overrides udp_s and inherits the rest from nat.timeouts.
  EXPECT_EQ(s.flow_timeouts, (FlowTimeouts{3600, 60, 30, 4}));
}

TEST(ServiceSection, AdmissionDefaults) {
  auto config = LoadConfigText(WithServices(kWeb), kSource);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->nat.admission, (NatAdmissionConfig{10, 5, 0}));
  EXPECT_EQ(config->nat.timeouts.tcp_embryonic_s, 10u);
}

TEST(ServiceSection, VipMayBeWrittenAsSlash32AndServicesMayShareIt) {
  const auto config = LoadConfigText(WithServices(std::string(kWeb) +
                                                  "  - name: web-quic\n"
                                                  "    vip: 203.0.113.10/32\n"
                                                  "    protocol: udp\n"
                                                  "    ports: [443]\n"
                                                  "    backends: [{address: 192.0.2.21}]\n"
                                                  "    snat: off\n"
                                                  "    announce: {degraded: prepend 3}\n"),
                                     kSource);
  ASSERT_TRUE(config.ok()) << config.status();
  const ServiceConfig& s = config->services[1];
  EXPECT_EQ(s.vip, Addr(203, 0, 113, 10));
  EXPECT_EQ(s.backends[0].port, 0);  // the VIP port
  EXPECT_TRUE(s.snat_pool.empty());
  EXPECT_EQ(s.announce.degraded, (DegradedAnnounce{DegradedAnnounce::Kind::kPrepend, 3}));
  EXPECT_EQ(s.announce.degraded_below, 1u);
}

TEST(ServiceSection, DegradedMed) {
  const auto config =
      LoadConfigText(WithServices(std::string(kWeb) + "    announce: {degraded: med 4294967295}\n"), kSource);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->services[0].announce.degraded, (DegradedAnnounce{DegradedAnnounce::Kind::kMed, 4294967295u}));
}

std::string Replace(const std::string& text, absl::string_view from, absl::string_view to) {
  return absl::StrReplaceAll(text, {{from, to}});
}

const std::string kApi =
    "  - name: api\n    vip: 203.0.113.20\n    ports: [443]\n    backends: [{address: 192.0.2.31}]\n";

std::vector<RefusedCase> BadServices() {
  const std::string web = kWeb;
  const std::string bgp = kBgp;
  return {
      {"missing vip", WithServices(Replace(web, "    vip: 203.0.113.10\n", "")),
       "test.yaml:4: services[0].vip: missing required key (accepted: an IPv4 address or ADDRESS/32"},
      {"missing backends", WithServices(web.substr(0, web.find("    backends:"))),
       "services[0].backends: missing required key"},
      {"vip prefix", WithServices(Replace(web, "203.0.113.10", "203.0.113.0/24")),
       "test.yaml:5: services[0].vip: '203.0.113.0/24' is not a single IPv4 address (accepted: an IPv4 address or "
       "ADDRESS/32"},
      {"multicast vip", WithServices(Replace(web, "203.0.113.10", "224.0.0.5")),
       "services[0].vip: 224.0.0.5 is a multicast address"},
      {"vip is a port address",
       std::string("ports:\n  - {name: p0, driver: pmd, interface: tap0, devargs: net_tap0, address: 203.0.113.10/24}\n") +
           "services:\n" + web,
       "test.yaml:5: services[0].vip: 203.0.113.10 is an address of this appliance (ports[0].address)"},
      {"vip is a bgp source", WithServices(Replace(web, "203.0.113.10", "198.18.1.10"), bgp),
       "services[0].vip: 198.18.1.10 is an address of this appliance (bgp.peers[0].source)"},
      {"vip is a backend", WithServices(Replace(web, "192.0.2.21", "203.0.113.10")),
       "services[0].backends[0].address: 203.0.113.10 is the service's VIP"},
      {"unknown protocol", WithServices(web + "    protocol: sctp\n"),
       "services[0].protocol: unknown value 'sctp', did you mean 'tcp'? (accepted: tcp, udp)"},
      {"port 0", WithServices(Replace(web, "[80, 443]", "[0, 443]")), "services[0].ports[0]: expected an integer between 1 and 65535"},
      {"no ports", WithServices(Replace(web, "[80, 443]", "[]")), "services[0].ports: lists 0 ports"},
      {"repeated port", WithServices(Replace(web, "[80, 443]", "[80, 80]")), "services[0].ports[1]"},
      {"empty backends", WithServices(web.substr(0, web.find("      - {address: 192.0.2.21")) + "      []\n"),
       "services[0].backends: lists 0 backends (accepted: a list of 1 to 1024"},
      {"backend twice", WithServices(Replace(web, "192.0.2.22", "192.0.2.21")),
       "services[0].backends[1]: '192.0.2.21:8080' is already used"},
      {"weight 0", WithServices(Replace(web, "weight: 3", "weight: 0")),
       "services[0].backends[1].weight: expected an integer between 1 and 1000"},
      {"backend without address", WithServices(Replace(web, "{address: 192.0.2.21, port: 8080}", "{port: 8080}")),
       "services[0].backends[0].address: missing required key"},
      {"min_up above backends", WithServices(web + "    min_up: 3\n"),
       "test.yaml:10: services[0].min_up: is 3, more than the number of backends (2) (accepted: 1 to 2)"},
      {"min_up 0", WithServices(web + "    min_up: 0\n"), "services[0].min_up: expected an integer between 1 and"},
      {"timeout not below interval", WithServices(web + "    health: {interval_ms: 200, timeout_ms: 200}\n"),
       "services[0].health.timeout_ms: is 200 ms, not shorter than interval_ms (200 ms) (accepted: less than "
       "interval_ms, 1-199)"},
      {"default timeout above a short interval", WithServices(web + "    health: {interval_ms: 100}\n"),
       "services[0].health.timeout_ms: is 150 ms, not shorter than interval_ms (100 ms)"},
      {"path on a tcp check", WithServices(web + "    health: {path: /x}\n"),
       "services[0].health.path: applies to type http only"},
      {"relative http path", WithServices(web + "    health: {type: http, path: healthz}\n"),
       "services[0].health.path: 'healthz' is not an HTTP request path"},
      {"http status 600", WithServices(web + "    health: {type: http, expect_status: 600}\n"),
       "services[0].health.expect_status: expected an integer between 100 and 599"},
      {"fall 0", WithServices(web + "    health: {fall: 0}\n"), "services[0].health.fall"},
      {"unknown health type", WithServices(web + "    health: {type: icmp}\n"), "services[0].health.type: unknown value 'icmp'"},
      {"snat on", WithServices(web + "    snat: on\n"), "services[0].snat: unknown value 'on' (accepted: off, or a map"},
      {"snat without pool", WithServices(web + "    snat: {}\n"), "services[0].snat"},
      {"snat bad address", WithServices(web + "    snat: {pool: [198.51.100.300]}\n"), "services[0].snat.pool[0]"},
      {"snat repeated address", WithServices(web + "    snat: {pool: [198.51.100.5, 198.51.100.5]}\n"),
       "services[0].snat.pool[1]"},
      {"snat empty pool", WithServices(web + "    snat: {pool: []}\n"), "services[0].snat.pool: lists 0 addresses"},
      {"unknown policy", WithServices(web + "    on_backend_down: drop\n"),
       "services[0].on_backend_down: unknown value 'drop' (accepted: reset, reselect)"},
      {"peer that does not exist", WithServices(web + "    announce: {peers: [ars-3]}\n", bgp),
       "services[0].announce.peers[0]: no bgp peer named 'ars-3', did you mean 'ars-1'? (accepted: ars-1, ars-2)"},
      {"peers without bgp", WithServices(web + "    announce: {peers: [ars-1]}\n"),
       "services[0].announce.peers: names BGP peers but there is no bgp section"},
      {"peer twice", WithServices(web + "    announce: {peers: [ars-1, ars-1]}\n", bgp), "services[0].announce.peers[1]"},
      {"degraded word", WithServices(web + "    announce: {degraded: withdraw}\n"),
       "services[0].announce.degraded: 'withdraw' is not a degraded announcement (accepted: none, prepend N"},
      {"prepend too long", WithServices(web + "    announce: {degraded: prepend 11}\n"), "services[0].announce.degraded"},
      {"community half too large", WithServices(web + "    announce: {degraded: community 65536:1}\n"),
       "services[0].announce.degraded"},
      {"degraded_below not above min_up", WithServices(web + "    min_up: 2\n    announce: {degraded_below: 2}\n"),
       "services[0].announce.degraded_below: is 2 with min_up 2 and 2 backends"},
      {"flow timeout 0", WithServices(web + "    flow_timeouts: {udp_s: 0}\n"), "services[0].flow_timeouts.udp_s"},
      {"unknown key", WithServices(web + "    backend: []\n"), "services[0].backend"},
      {"duplicate name", WithServices(web + Replace(kApi, "api", "web")), "services[1].name: 'web' is already used"},
      {"bad name", WithServices(Replace(web, "name: web", "name: Web")), "services[0].name: 'Web' is not a valid service name"},
      {"same vip protocol and port", WithServices(web + Replace(kApi, "203.0.113.20", "203.0.113.10")),
       "services[1].ports[0]: '203.0.113.10 tcp port 443' is already used"},
      {"nat capacity too small", WithServices(web, "nat: {capacity: 10}\n"), "nat.capacity: expected an integer between 1024"},
      {"maglev size not prime", WithServices(web, "nat: {maglev_table_size: 65536}\n"),
       "nat.maglev_table_size: 65536 is not a prime (accepted: a prime number 1031-16777213"},
      {"nat unknown key", WithServices(web, "nat: {capcity: 5000}\n"), "nat.capcity"},
      {"nat timeout too long", WithServices(web, "nat: {timeouts: {udp_s: 604801}}\n"), "nat.timeouts.udp_s"},
      {"embryonic timeout 0", WithServices(web + "    flow_timeouts: {tcp_embryonic_s: 0}\n"),
       "services[0].flow_timeouts.tcp_embryonic_s: expected an integer between 1 and 604800"},
      {"embryonic percent 0", WithServices(web, "nat: {admission: {embryonic_max_percent: 0}}\n"),
       "nat.admission.embryonic_max_percent: expected an integer between 1 and 100"},
      {"service embryonic percent above 100", WithServices(web, "nat: {admission: {service_embryonic_max_percent: 101}}\n"),
       "nat.admission.service_embryonic_max_percent: expected an integer between 1 and 100"},
      {"syn rate negative", WithServices(web, "nat: {admission: {syn_rate_per_worker: -1}}\n"),
       "nat.admission.syn_rate_per_worker"},
      {"admission unknown key", WithServices(web, "nat: {admission: {syn_rate: 10}}\n"), "nat.admission.syn_rate"},
  };
}

class BadServiceTest : public ::testing::TestWithParam<RefusedCase> {};

TEST_P(BadServiceTest, IsRefusedWithFileKeyAndAccepted) { config_testing::ExpectRefused(GetParam(), kSource); }

INSTANTIATE_TEST_SUITE_P(Cases, BadServiceTest, ::testing::ValuesIn(BadServices()),
                         [](const auto& info) { return config_testing::Name(info.param.description); });

TEST(ServiceSection, ReloadMayChangeServicesButNotTheFlowCapacity) {
  const std::string base = WithServices(kWeb);
  const std::vector<config_testing::ReloadCase> cases = {
      {"a backend added", [](Config& c) { c.services[0].backends.push_back({Addr(192, 0, 2, 40), 0, 1}); }, {}},
      {"a service removed", [](Config& c) { c.services.clear(); }, {}},
      {"timeouts", [](Config& c) { c.nat.timeouts.udp_s = 60; }, {}},
      {"maglev table size", [](Config& c) { c.nat.maglev_table_size = 1031; }, {}},
      {"admission limits", [](Config& c) { c.nat.admission = {50, 25, 1000}; }, {}},
      {"embryonic timeout", [](Config& c) { c.nat.timeouts.tcp_embryonic_s = 2; }, {}},
      {"capacity", [](Config& c) { c.nat.capacity = 2048; }, {"nat.capacity"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    config_testing::ExpectReloadOutcome(base.c_str(), kSource, c);
  }
}

}  // namespace
}  // namespace isthmus
