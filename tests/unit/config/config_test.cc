// Tests for the YAML configuration loader: helpers, valid files (every field
// round-trips), every class of error with its exact wording, and reloads.

#include "control/config/config.h"
#include "tests/unit/config/config_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace isthmus {
namespace {

using ::testing::HasSubstr;

using config_testing::Addr;
using config_testing::kSource;
using config_testing::Name;
using config_testing::kMinimal;


// ---------------------------------------------------------------- helpers

struct AddressCase {
  std::string text;
  std::optional<Ipv4Addr> expected;
};

void PrintTo(const AddressCase& c, std::ostream* os) { *os << c.text; }

class ParseIpv4Test : public ::testing::TestWithParam<AddressCase> {};

TEST_P(ParseIpv4Test, ParsesStrictDottedQuad) {
  const AddressCase& c = GetParam();
  EXPECT_EQ(ParseIpv4(c.text), c.expected) << c.text;
  if (c.expected) {
    EXPECT_EQ(ToString(*c.expected), c.text);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseIpv4Test,
    ::testing::Values(AddressCase{"198.51.100.1", Addr(198, 51, 100, 1)},
                      AddressCase{"0.0.0.0", Addr(0, 0, 0, 0)},
                      AddressCase{"255.255.255.255", Addr(255, 255, 255, 255)},
                      AddressCase{"198.51.100.256", std::nullopt},
                      AddressCase{"198.51.100", std::nullopt},
                      AddressCase{"198.51.100.1.2", std::nullopt},
                      AddressCase{"198.51.100.", std::nullopt},
                      AddressCase{"+198.51.100.1", std::nullopt},
                      AddressCase{"198.+51.100.1", std::nullopt},
                      AddressCase{"198.051.100.1", std::nullopt},
                      AddressCase{"198.51.100.1 ", std::nullopt},
                      AddressCase{"0x7f.0.0.1", std::nullopt},
                      AddressCase{"", std::nullopt}));

struct PrefixCase {
  std::string text;
  std::optional<Ipv4Prefix> prefix;           // ParsePrefix
  std::optional<InterfaceAddress> interface;  // ParseInterfaceAddress
};

void PrintTo(const PrefixCase& c, std::ostream* os) { *os << c.text; }

class ParsePrefixTest : public ::testing::TestWithParam<PrefixCase> {};

TEST_P(ParsePrefixTest, ParsesPrefixesAndInterfaceAddresses) {
  const PrefixCase& c = GetParam();
  EXPECT_EQ(ParsePrefix(c.text), c.prefix) << c.text;
  const auto interface = ParseInterfaceAddress(c.text);
  ASSERT_EQ(interface.has_value(), c.interface.has_value()) << c.text;
  if (interface) {
    EXPECT_EQ(interface->host, c.interface->host);
    EXPECT_EQ(interface->subnet, c.interface->subnet);
  }
  if (c.prefix) {
    EXPECT_EQ(ToString(*c.prefix), c.text);
  }
}

constexpr Ipv4Prefix kDocNet{Addr(198, 51, 100, 0), 24};

INSTANTIATE_TEST_SUITE_P(
    Table, ParsePrefixTest,
    ::testing::Values(
        PrefixCase{"198.51.100.0/24", kDocNet,
                   InterfaceAddress{Addr(198, 51, 100, 0), kDocNet}},
        PrefixCase{"198.51.100.1/24", std::nullopt,
                   InterfaceAddress{Addr(198, 51, 100, 1), kDocNet}},
        PrefixCase{"0.0.0.0/0", Ipv4Prefix{Addr(0, 0, 0, 0), 0},
                   InterfaceAddress{Addr(0, 0, 0, 0), {Addr(0, 0, 0, 0), 0}}},
        PrefixCase{
            "203.0.113.7/32", Ipv4Prefix{Addr(203, 0, 113, 7), 32},
            InterfaceAddress{Addr(203, 0, 113, 7), {Addr(203, 0, 113, 7), 32}}},
        PrefixCase{"198.51.100.0/33", std::nullopt, std::nullopt},
        PrefixCase{"198.51.100.0/024", std::nullopt, std::nullopt},
        PrefixCase{"198.51.100.0/+24", std::nullopt, std::nullopt},
        PrefixCase{"198.51.100.0/", std::nullopt, std::nullopt},
        PrefixCase{"198.51.100.0", std::nullopt, std::nullopt},
        PrefixCase{"198.51.100.0/24/1", std::nullopt, std::nullopt}));

TEST(ContainsTest, MatchesOnlyInsideThePrefix) {
  EXPECT_TRUE(kDocNet.Contains(Addr(198, 51, 100, 255)));
  EXPECT_FALSE(kDocNet.Contains(Addr(198, 51, 101, 0)));
  EXPECT_TRUE((Ipv4Prefix{Addr(0, 0, 0, 0), 0}).Contains(Addr(203, 0, 113, 1)));
}

TEST(ListenAddressTest, AcceptsIpv4OrLocalhostWithPort) {
  const auto ip = ParseListenAddress("127.0.0.1:9470");
  ASSERT_TRUE(ip.has_value());
  EXPECT_EQ(ip->host, "127.0.0.1");
  EXPECT_EQ(ip->port, 9470);
  const auto local = ParseListenAddress("localhost:0");
  ASSERT_TRUE(local.has_value());
  EXPECT_EQ(local->host, "localhost");
  EXPECT_EQ(local->port, 0);
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", ":9470", "127.0.0.1:65536",
                          "example.com:80", "127.0.0.1:+80", "[::1]:80"}) {
    EXPECT_FALSE(ParseListenAddress(bad).has_value()) << bad;
  }
}

TEST(PortDriverTest, NamesMatchTheConfigSpelling) {
  EXPECT_EQ(ToString(PortDriver::kAfXdp), "af_xdp");
  EXPECT_EQ(ToString(PortDriver::kAfPacket), "af_packet");
  EXPECT_EQ(ToString(PortDriver::kPmd), "pmd");
}

// ---------------------------------------------------------------- valid

struct ValidCase {
  std::string description;
  std::string yaml;
  std::function<void(const Config&)> check;
};

void PrintTo(const ValidCase& c, std::ostream* os) { *os << c.description; }

class ValidConfigTest : public ::testing::TestWithParam<ValidCase> {};

TEST_P(ValidConfigTest, LoadsAsExpected) {
  const ValidCase& c = GetParam();
  const absl::StatusOr<Config> config = LoadConfigText(c.yaml, kSource);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->source, kSource);
  c.check(*config);
}

constexpr char kFullConfig[] = R"(dataplane:
  workers: 2
  worker_cpus: [1, 1]
  idle_sleep_us: 0
  idle_polls_before_sleep: 1000000
  burst: 256
  mbufs: 1048575
  hugepages: true
  punt_interface: punt0
  punt_rate_pps: 10000000
  punt_class_rate_pps: {control: 0, icmp: 500}
  fib_max_routes: 16777216
  fib_tbl8_groups: 65536
  eal_args: ["--log-level=*:error", --no-telemetry]
ports:
  - name: up_1
    driver: af_packet
    interface: veth-up
    mtu: 9000
  - name: down-0
    driver: pmd
    interface: down0-x
    devargs: net_tap0,iface=tap-down
    address: 198.18.0.1/24
    mtu: 68
  - name: lan
    interface: veth-lan
punt:
  tcp_ports: [179, 22, 65535]
  udp_ports: [1, 3784]
routes:
  - prefix: 0.0.0.0/0
    via: [198.18.0.2, 198.18.0.3]
    port: down-0
  - prefix: 203.0.113.0/24
    via: 192.0.2.1
  - prefix: 198.51.100.128/25
    blackhole: true
metrics:
  listen: 0.0.0.0:9100
admin:
  socket: /tmp/isthmus-test/admin.sock
log:
  level: debug
)";

void CheckFullConfig(const Config& c) {
  DataplaneConfig dp;
  dp.workers = 2;
  dp.worker_cpus = {1, 1};
  dp.idle_sleep_us = 0;
  dp.idle_polls_before_sleep = 1'000'000;
  dp.burst = 256;
  dp.mbufs = 1'048'575;
  dp.hugepages = true;
  dp.punt_interface = "punt0";
  dp.punt_rate_pps = 10'000'000;
  dp.punt_class_rate_pps[static_cast<size_t>(PuntReason::kControl)] = 0;
  dp.punt_class_rate_pps[static_cast<size_t>(PuntReason::kIcmp)] = 500;
  dp.fib_max_routes = 1 << 24;
  dp.fib_tbl8_groups = 1 << 16;
  dp.eal_args = {"--log-level=*:error", "--no-telemetry"};
  EXPECT_EQ(c.dataplane, dp);

  ASSERT_EQ(c.ports.size(), 3u);
  const PortConfig up{.name = "up_1",
                      .driver = PortDriver::kAfPacket,
                      .interface = "veth-up",
                      .devargs = "",
                      .address = std::nullopt,
                      .mtu = 9000};
  EXPECT_EQ(c.ports[0], up);
  EXPECT_EQ(c.ports[1].name, "down-0");
  EXPECT_EQ(c.ports[1].driver, PortDriver::kPmd);
  EXPECT_EQ(c.ports[1].interface, "down0-x");
  EXPECT_EQ(c.ports[1].devargs, "net_tap0,iface=tap-down");
  ASSERT_TRUE(c.ports[1].address.has_value());
  EXPECT_EQ(c.ports[1].address->host, Addr(198, 18, 0, 1));
  EXPECT_EQ(c.ports[1].address->subnet, (Ipv4Prefix{Addr(198, 18, 0, 0), 24}));
  EXPECT_EQ(c.ports[1].mtu, 68u);
  EXPECT_EQ(c.ports[2].driver, PortDriver::kAfXdp);
  EXPECT_EQ(c.ports[2].mtu, 1500u);

  EXPECT_EQ(c.punt.tcp_ports, (std::vector<uint16_t>{179, 22, 65535}));
  EXPECT_EQ(c.punt.udp_ports, (std::vector<uint16_t>{1, 3784}));

  const std::vector<StaticRoute> routes = {
      {.prefix = {Addr(0, 0, 0, 0), 0},
       .via = {Addr(198, 18, 0, 2), Addr(198, 18, 0, 3)},
       .port = "down-0"},
      {.prefix = {Addr(203, 0, 113, 0), 24}, .via = {Addr(192, 0, 2, 1)}},
      {.prefix = {Addr(198, 51, 100, 128), 25}, .blackhole = true},
  };
  EXPECT_EQ(c.routes, routes);
  EXPECT_EQ(c.metrics.listen, "0.0.0.0:9100");
  EXPECT_EQ(c.admin.socket, "/tmp/isthmus-test/admin.sock");
  EXPECT_EQ(c.log_level, "debug");
}

void CheckDefaults(const Config& c) {
  EXPECT_EQ(c.dataplane, DataplaneConfig{});
  EXPECT_EQ(c.punt, PuntConfig{});
  EXPECT_EQ(c.punt.tcp_ports, (std::vector<uint16_t>{179, 22}));
  EXPECT_TRUE(c.routes.empty());
  EXPECT_EQ(c.metrics, MetricsConfig{});
  EXPECT_EQ(c.admin, AdminConfig{});
  EXPECT_EQ(c.log_level, "info");
  ASSERT_EQ(c.ports.size(), 1u);
  const PortConfig p0{.name = "p0", .interface = "veth0"};
  EXPECT_EQ(c.ports[0], p0);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ValidConfigTest,
    ::testing::Values(
        ValidCase{"every field", kFullConfig, CheckFullConfig},
        ValidCase{"defaults", kMinimal, CheckDefaults},
        ValidCase{"empty sections keep defaults",
                  std::string(kMinimal) +
                      "dataplane:\npunt:\nroutes:\nmetrics: {}\nadmin:\nlog:\n",
                  CheckDefaults},
        ValidCase{
            "empty punt list clears the default",
            std::string(kMinimal) + "punt: {tcp_ports: []}\n",
            [](const Config& c) { EXPECT_TRUE(c.punt.tcp_ports.empty()); }},
        ValidCase{"empty listen disables metrics",
                  std::string(kMinimal) + "metrics: {listen: \"\"}\n",
                  [](const Config& c) { EXPECT_EQ(c.metrics.listen, ""); }},
        ValidCase{
            "localhost with port 0",
            std::string(kMinimal) + "metrics: {listen: \"localhost:0\"}\n",
            [](const Config& c) {
              EXPECT_EQ(c.metrics.listen, "localhost:0");
            }},
        ValidCase{"point-to-point /31 pmd address (RFC 3021)",
                  "ports:\n  - {name: p0, driver: pmd, interface: p0-x, "
                  "devargs: net_null0, address: 198.18.0.0/31}\n",
                  [](const Config& c) {
                    ASSERT_TRUE(c.ports[0].address.has_value());
                    EXPECT_EQ(c.ports[0].address->host, Addr(198, 18, 0, 0));
                    EXPECT_EQ(c.ports[0].address->subnet.len, 31);
                  }},
        ValidCase{"blackhole false with via",
                  std::string(kMinimal) +
                      "routes:\n  - {prefix: 192.0.2.0/24, via: 198.18.0.9, "
                      "blackhole: false}\n",
                  [](const Config& c) {
                    ASSERT_EQ(c.routes.size(), 1u);
                    EXPECT_FALSE(c.routes[0].blackhole);
                    EXPECT_EQ(c.routes[0].via,
                              std::vector<Ipv4Addr>{Addr(198, 18, 0, 9)});
                  }}),
    [](const auto& info) { return Name(info.param.description); });

// ---------------------------------------------------------------- errors

struct ErrorCase {
  std::string description;
  std::string yaml;
  std::vector<std::string> expected;  // substrings of the status message
  size_t problems;                    // lines in the message
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.description; }

class InvalidConfigTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(InvalidConfigTest, ReportsEveryProblem) {
  const ErrorCase& c = GetParam();
  const absl::StatusOr<Config> config = LoadConfigText(c.yaml, kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(config.status().message());
  for (const std::string& expected : c.expected) {
    EXPECT_THAT(message, HasSubstr(expected));
  }
  const std::vector<std::string> lines = absl::StrSplit(message, '\n');
  EXPECT_EQ(lines.size(), c.problems) << message;
  for (const std::string& line : lines) {
    EXPECT_EQ(line.rfind(std::string(kSource) + ":", 0), 0u) << line;
  }
}

std::string WithMinimal(const std::string& rest) {
  return absl::StrCat(kMinimal, rest);  // `rest` starts on line 3
}

INSTANTIATE_TEST_SUITE_P(
    Keys, InvalidConfigTest,
    ::testing::Values(
        ErrorCase{
            "unknown top level key with suggestion",
            WithMinimal("rootes: []\n"),
            {"test.yaml:3: rootes: unknown key, did you mean 'routes'? "
             "(accepted: admin, bgp, dataplane, log, metrics, nat, ports, "
             "punt, routes, services, tunnels)"},
            1},
        ErrorCase{"unknown nested key with suggestion",
                  WithMinimal("dataplane:\n  wokers: 2\n"),
                  {"test.yaml:4: dataplane.wokers: unknown key, did you mean "
                   "'workers'? (accepted: burst, eal_args, fib_max_routes,"},
                  1},
        ErrorCase{
            "unknown key without suggestion",
            WithMinimal("log: {level: info, colour_scheme: dark}\n"),
            {"test.yaml:3: log.colour_scheme: unknown key (accepted: level)"},
            1},
        ErrorCase{
            "key given twice",
            WithMinimal("dataplane:\n  burst: 8\n  burst: 16\n"),
            {"test.yaml:5: dataplane.burst: key given twice (first at line 4)"},
            1},
        ErrorCase{"missing ports",
                  "log: {level: info}\n",
                  {"test.yaml:1: ports: missing required key"},
                  1},
        ErrorCase{
            "empty file", "", {"test.yaml: ports: missing required key"}, 1},
        ErrorCase{
            "top level is a list",
            "- ports\n",
            {"test.yaml:1: expected a map, got a list (accepted: a map with "
             "keys admin, bgp, dataplane"},
            1},
        ErrorCase{"two documents",
                  WithMinimal("---\nlog: {level: info}\n"),
                  {"test.yaml:4: found 2 YAML documents (accepted: a single "
                   "document)"},
                  1},
        ErrorCase{"syntax error has line and column",
                  "ports:\n  - name: p0\n    interface: [veth0\nroutes: []\n",
                  {"test.yaml:4:7: end of sequence flow not found"},
                  1}),
    [](const auto& info) { return Name(info.param.description); });

INSTANTIATE_TEST_SUITE_P(
    Values, InvalidConfigTest,
    ::testing::Values(
        ErrorCase{
            "integer wrong type",
            WithMinimal("dataplane:\n  workers: abc\n"),
            {"test.yaml:4: dataplane.workers: expected an integer between 1 "
             "and 64, got 'abc'"},
            1},
        ErrorCase{"integer out of range",
                  WithMinimal("dataplane:\n  workers: 65\n"),
                  {"dataplane.workers: expected an integer between 1 and 64, "
                   "got '65'"},
                  1},
        ErrorCase{
            "integer spellings YAML 1.1 allows",
            WithMinimal("dataplane: {burst: +8, mbufs: 0x4000, workers: 01, "
                        "idle_sleep_us: -1}\n"),
            {"dataplane.burst: expected an integer between 1 and 256, got '+8'",
             "dataplane.mbufs: expected an integer between 1023 and 1048575, "
             "got '0x4000'",
             "dataplane.workers: expected an integer between 1 and 64, got "
             "'01'",
             "dataplane.idle_sleep_us: expected an integer between 0 and "
             "100000, got '-1'"},
            4},
        ErrorCase{"integer given a list",
                  WithMinimal("dataplane: {burst: [8]}\n"),
                  {"dataplane.burst: expected an integer between 1 and 256, "
                   "got a list"},
                  1},
        ErrorCase{
            "every dataplane bound",
            WithMinimal("dataplane:\n  idle_polls_before_sleep: 0\n"
                        "  mbufs: 1022\n  punt_rate_pps: 10000001\n"
                        "  fib_max_routes: 16777217\n  fib_tbl8_groups: 0\n"
                        "  worker_cpus: [1024]\n"),
            {"test.yaml:4: dataplane.idle_polls_before_sleep: expected an "
             "integer between 1 and 1000000, got '0'",
             "test.yaml:5: dataplane.mbufs:",
             "test.yaml:6: dataplane.punt_rate_pps:",
             "test.yaml:7: dataplane.fib_max_routes:",
             "test.yaml:8: dataplane.fib_tbl8_groups: expected an integer "
             "between 1 and 65536",
             "test.yaml:9: dataplane.worker_cpus[0]: expected an integer "
             "between 0 and 1023, got '1024'"},
            6},
        ErrorCase{"punt class rates: unknown class, out of range, not a map",
                  WithMinimal("dataplane:\n  punt_class_rate_pps: {bgp: 10, icmp: 10000001}\n"),
                  {"dataplane.punt_class_rate_pps.bgp", "control", "non_ipv4",
                   "dataplane.punt_class_rate_pps.icmp: expected an integer between 0 and 10000000"},
                  2},
        ErrorCase{"punt class rates given a list",
                  WithMinimal("dataplane: {punt_class_rate_pps: [1]}\n"),
                  {"dataplane.punt_class_rate_pps: expected a map"},
                  1},
        ErrorCase{
            "worker_cpus not matching workers",
            WithMinimal("dataplane: {workers: 2, worker_cpus: [0, 1, 1]}\n"),
            {"dataplane.worker_cpus: lists 3 CPUs for 2 workers (accepted: one "
             "CPU id per worker, or an empty list)"},
            1},
        ErrorCase{
            "worker_cpus not a list",
            WithMinimal("dataplane: {worker_cpus: 3}\n"),
            {"dataplane.worker_cpus: expected a list, got '3' (accepted: a "
             "list of CPU ids)"},
            1},
        ErrorCase{
            "YAML 1.1 boolean",
            WithMinimal("dataplane: {hugepages: yes}\n"),
            {"test.yaml:3: dataplane.hugepages: expected a boolean, got 'yes' "
             "(accepted: true, false)"},
            1},
        ErrorCase{"eal_args entry not a string",
                  WithMinimal("dataplane:\n  eal_args: [-l, {a: 1}]\n"),
                  {"test.yaml:4: dataplane.eal_args[1]: expected a string, got "
                   "a map"},
                  1},
        ErrorCase{
            "bad punt interface name",
            WithMinimal("dataplane: {punt_interface: \"punt/0\"}\n"),
            {"dataplane.punt_interface: 'punt/0' is not a Linux interface name "
             "(accepted: 1 to 15 characters without '/', ':' or whitespace, "
             "not '.' or '..')"},
            1},
        ErrorCase{"bad log level",
                  WithMinimal("log:\n  level: verbose\n"),
                  {"test.yaml:4: log.level: unknown value 'verbose' (accepted: "
                   "trace, debug, info, warn, error, critical, off)"},
                  1},
        ErrorCase{"log level with suggestion",
                  WithMinimal("log: {level: warning}\n"),
                  {"log.level: unknown value 'warning', did you mean 'warn'?"},
                  1},
        ErrorCase{"listen without port",
                  WithMinimal("metrics:\n  listen: 0.0.0.0\n"),
                  {"test.yaml:4: metrics.listen: '0.0.0.0' is not HOST:PORT "
                   "(accepted: IPV4:PORT or localhost:PORT with PORT 0-65535, "
                   "or \"\" "
                   "to disable)"},
                  1},
        ErrorCase{"listen port out of range",
                  WithMinimal("metrics: {listen: \"localhost:65536\"}\n"),
                  {"metrics.listen: 'localhost:65536' is not HOST:PORT"},
                  1},
        ErrorCase{"listen host name",
                  WithMinimal("metrics: {listen: \"example.com:80\"}\n"),
                  {"metrics.listen: 'example.com:80' is not HOST:PORT"},
                  1},
        ErrorCase{"relative admin socket",
                  WithMinimal("admin:\n  socket: run/isthmusd.sock\n"),
                  {"test.yaml:4: admin.socket: 'run/isthmusd.sock' is not an "
                   "absolute "
                   "path (accepted: an absolute path of at most 107 bytes"},
                  1},
        ErrorCase{
            "admin socket too long",
            WithMinimal("admin: {socket: /" + std::string(107, 'a') + "}\n"),
            {"admin.socket: is 108 bytes long, too long for a unix socket"},
            1},
        ErrorCase{
            "punt ports out of range and duplicated",
            WithMinimal(
                "punt:\n  tcp_ports: [179, 0, 179]\n  udp_ports: [65536]\n"),
            {"test.yaml:4: punt.tcp_ports[1]: expected an integer between 1 "
             "and "
             "65535, got '0'",
             "test.yaml:4: punt.tcp_ports[2]: '179' is already used by "
             "punt.tcp_ports[0] (accepted: a port number not used elsewhere)",
             "test.yaml:5: punt.udp_ports[0]: expected an integer between 1 "
             "and "
             "65535, got '65536'"},
            3}),
    [](const auto& info) { return Name(info.param.description); });

INSTANTIATE_TEST_SUITE_P(
    Ports, InvalidConfigTest,
    ::testing::Values(
        ErrorCase{
            "ports is a map",
            "ports: {name: p0}\n",
            {"test.yaml:1: ports: expected a list, got a map (accepted: a list "
             "of ports)"},
            1},
        ErrorCase{
            "ports is empty",
            "ports: []\n",
            {"test.yaml:1: ports: no ports configured (accepted: a list of at "
             "least one port)"},
            1},
        ErrorCase{"port entry is a string",
                  "ports:\n  - veth0\n",
                  {"test.yaml:2: ports[0]: expected a map, got 'veth0'"},
                  1},
        ErrorCase{
            "missing name and interface",
            "ports:\n  - {mtu: 1500}\n",
            {"test.yaml:2: ports[0].name: missing required key (accepted: 1 to "
             "15 characters from a-z, 0-9, '_' and '-')",
             "test.yaml:2: ports[0].interface: missing required key"},
            2},
        ErrorCase{
            "bad port name",
            "ports:\n  - {name: Uplink, interface: veth0}\n",
            {"ports[0].name: 'Uplink' is not a valid port name (accepted: 1 to "
             "15 characters from a-z, 0-9, '_' and '-')"},
            1},
        ErrorCase{
            "interface name too long",
            "ports:\n  - {name: p0, interface: veth0123456789ab}\n",
            {"ports[0].interface: 'veth0123456789ab' is not a Linux interface "
             "name"},
            1},
        ErrorCase{
            "duplicate port name and interface",
            "ports:\n  - {name: p0, interface: veth0}\n"
            "  - {name: p0, interface: veth0}\n",
            {"test.yaml:3: ports[1].name: 'p0' is already used by "
             "ports[0].name "
             "(accepted: a port name not used elsewhere)",
             "test.yaml:3: ports[1].interface: 'veth0' is already used by "
             "ports[0].interface (accepted: an interface name not used "
             "elsewhere)"},
            2},
        ErrorCase{"interface same as punt tap",
                  "dataplane: {punt_interface: tap9}\n"
                  "ports:\n  - {name: p0, interface: tap9}\n",
                  {"test.yaml:3: ports[0].interface: 'tap9' is already used by "
                   "dataplane.punt_interface"},
                  1},
        ErrorCase{
            "bad driver with suggestion",
            "ports:\n  - {name: p0, driver: af-xdp, interface: veth0}\n",
            {"test.yaml:2: ports[0].driver: unknown value 'af-xdp', did you "
             "mean 'af_xdp'? (accepted: af_xdp, af_packet, pmd)"},
            1},
        ErrorCase{
            "pmd without devargs and address",
            "ports:\n  - name: p0\n    driver: pmd\n    interface: p0-x\n",
            {"test.yaml:2: ports[0].devargs: missing required key for driver "
             "pmd "
             "(accepted: EAL device arguments",
             "test.yaml:2: ports[0].address: missing required key for driver "
             "pmd (accepted: HOST/LEN with LEN 1-32, e.g. 198.18.0.1/24)"},
            2},
        ErrorCase{
            "af_xdp with devargs and address",
            "ports:\n  - name: p0\n    interface: veth0\n"
            "    devargs: net_tap0\n    address: 198.18.0.1/24\n",
            {"test.yaml:4: ports[0].devargs: not allowed for driver af_xdp "
             "(accepted: only with driver pmd; af_xdp ports take their "
             "addresses from the kernel interface)",
             "test.yaml:5: ports[0].address: not allowed for driver af_xdp"},
            2},
        ErrorCase{"af_packet with devargs",
                  "ports:\n  - {name: p0, driver: af_packet, interface: v0, "
                  "devargs: x}\n",
                  {"ports[0].devargs: not allowed for driver af_packet"},
                  1},
        ErrorCase{
            "pmd address problems",
            "ports:\n"
            "  - {name: a, driver: pmd, interface: a-x, devargs: x, "
            "address: 198.18.0.0/24}\n"
            "  - {name: b, driver: pmd, interface: b-x, devargs: x, "
            "address: 198.18.1.255/24}\n"
            "  - {name: c, driver: pmd, interface: c-x, devargs: x, "
            "address: 198.18.2.1}\n"
            "  - {name: d, driver: pmd, interface: d-x, devargs: x, "
            "address: 127.0.0.1/8}\n"
            "  - {name: e, driver: pmd, interface: e-x, devargs: \"\", "
            "address: 198.18.3.1/0}\n",
            {"test.yaml:2: ports[0].address: 198.18.0.0/24 is the network "
             "address of its subnet",
             "test.yaml:3: ports[1].address: 198.18.1.255/24 is the broadcast "
             "address of its subnet",
             "test.yaml:4: ports[2].address: '198.18.2.1' is not an IPv4 "
             "interface address (accepted: HOST/LEN with LEN 1-32",
             "test.yaml:5: ports[3].address: 127.0.0.1/8 is a loopback address",
             "test.yaml:6: ports[4].devargs: is empty",
             "test.yaml:6: ports[4].address: '198.18.3.1/0' is not an IPv4 "
             "interface address"},
            6},
        ErrorCase{
            "mtu out of range",
            "ports:\n  - {name: p0, interface: veth0, mtu: 67}\n",
            {"test.yaml:2: ports[0].mtu: expected an integer between 68 and "
             "9000, got '67'"},
            1}),
    [](const auto& info) { return Name(info.param.description); });

INSTANTIATE_TEST_SUITE_P(
    Routes, InvalidConfigTest,
    ::testing::Values(
        ErrorCase{
            "host bits set",
            WithMinimal("routes:\n  - prefix: 198.51.100.1/24\n"
                        "    via: 192.0.2.1\n"),
            {"test.yaml:4: routes[0].prefix: 198.51.100.1/24 has host bits set "
             "(did you mean 198.51.100.0/24?)"},
            1},
        ErrorCase{
            "bad prefix",
            WithMinimal("routes:\n  - {prefix: 198.51.100/24, "
                        "blackhole: true}\n"),
            {"test.yaml:4: routes[0].prefix: '198.51.100/24' is not an IPv4 "
             "prefix (accepted: ADDRESS/LEN with four decimal octets 0-255 and "
             "LEN 0-32"},
            1},
        ErrorCase{
            "bad gateway addresses",
            WithMinimal("routes:\n  - prefix: 203.0.113.0/24\n    via:\n"
                        "      - 192.0.2.1\n      - 192.0.2.300\n"
                        "      - 0.0.0.0\n      - 224.0.0.5\n"
                        "      - 255.255.255.255\n      - 127.0.0.1\n"
                        "      - 192.0.2.1\n"),
            {"test.yaml:7: routes[0].via[1]: '192.0.2.300' is not an IPv4 "
             "address (accepted: four decimal octets 0-255",
             "test.yaml:8: routes[0].via[2]: 0.0.0.0 is in 0.0.0.0/8",
             "test.yaml:9: routes[0].via[3]: 224.0.0.5 is a multicast address",
             "test.yaml:10: routes[0].via[4]: 255.255.255.255 is the limited "
             "broadcast address",
             "test.yaml:11: routes[0].via[5]: 127.0.0.1 is a loopback address",
             "test.yaml:12: routes[0].via[6]: '192.0.2.1' is already used by "
             "routes[0].via[0]"},
            6},
        ErrorCase{
            "too many gateways",
            WithMinimal("routes:\n  - prefix: 203.0.113.0/24\n    via: [" +
                        [] {
                          std::vector<std::string> v;
                          for (int i = 1; i <= 17; ++i) {
                            v.push_back(absl::StrCat("192.0.2.", i));
                          }
                          return absl::StrJoin(v, ", ");
                        }() +
                        "]\n"),
            {"test.yaml:5: routes[0].via: lists 17 gateways (accepted: an IPv4 "
             "address or a list of 1 to 16 distinct IPv4 addresses)"},
            1},
        ErrorCase{"empty via",
                  WithMinimal("routes:\n  - {prefix: 203.0.113.0/24, "
                              "via: []}\n"),
                  {"routes[0].via: lists 0 gateways"},
                  1},
        ErrorCase{"via and blackhole",
                  WithMinimal("routes:\n  - prefix: 203.0.113.0/24\n"
                              "    via: 192.0.2.1\n    blackhole: true\n"),
                  {"test.yaml:4: routes[0]: has both via and blackhole: true "
                   "(accepted: exactly one of via or blackhole: true)"},
                  1},
        ErrorCase{
            "neither via nor blackhole",
            WithMinimal("routes:\n  - {prefix: 203.0.113.0/24, port: p0}\n"),
            {"routes[0]: has neither via nor blackhole: true"},
            1},
        ErrorCase{"port on a blackhole route",
                  WithMinimal(
                      "routes:\n  - {prefix: 203.0.113.0/24, blackhole: true, "
                      "port: p0}\n"),
                  {"routes[0].port: not allowed on a blackhole route"},
                  1},
        ErrorCase{
            "unknown port",
            WithMinimal("routes:\n  - prefix: 203.0.113.0/24\n"
                        "    via: 192.0.2.1\n    port: p9\n"),
            {"test.yaml:6: routes[0].port: no port named 'p9', did you mean "
             "'p0'? (accepted: p0)"},
            1},
        ErrorCase{
            "duplicate prefix and missing prefix",
            WithMinimal(
                "routes:\n  - {prefix: 203.0.113.0/24, blackhole: true}\n"
                "  - {prefix: 203.0.113.0/24, via: 192.0.2.1}\n"
                "  - {via: 192.0.2.1}\n"),
            {"test.yaml:5: routes[1].prefix: '203.0.113.0/24' is already used "
             "by routes[0].prefix",
             "test.yaml:6: routes[2].prefix: missing required key (accepted: "
             "ADDRESS/LEN"},
            2},
        ErrorCase{
            "via is a map",
            WithMinimal("routes:\n  - {prefix: 203.0.113.0/24, via: {a: b}}\n"),
            {"routes[0].via: expected an address or a list, got a map"},
            1}),
    [](const auto& info) { return Name(info.param.description); });

// Several unrelated mistakes in one file: all of them, in file order.
INSTANTIATE_TEST_SUITE_P(
    Many, InvalidConfigTest,
    ::testing::Values(ErrorCase{
        "several errors are all reported",
        "dataplane:\n"                // 1
        "  workers: 0\n"              // 2
        "  hugepages: maybe\n"        // 3
        "ports:\n"                    // 4
        "  - name: p0\n"              // 5
        "    driver: pmd\n"           // 6
        "    interface: veth0\n"      // 7
        "routes:\n"                   // 8
        "  - prefix: 198.0.0.1/8\n"    // 9
        "    via: 192.0.2.1\n"        // 10
        "log:\n"                      // 11
        "  lvl: debug\n"              // 12
        "admin: {socket: x.sock}\n",  // 13
        {"test.yaml:2: dataplane.workers: expected an integer between 1 and 64",
         "test.yaml:3: dataplane.hugepages: expected a boolean",
         "test.yaml:5: ports[0].devargs: missing required key for driver pmd",
         "test.yaml:5: ports[0].address: missing required key for driver pmd",
         "test.yaml:9: routes[0].prefix: 198.0.0.1/8 has host bits set (did you "
         "mean "
         "198.0.0.0/8?)",
         "test.yaml:12: log.lvl: unknown key, did you mean 'level'?",
         "test.yaml:13: admin.socket: 'x.sock' is not an absolute path"},
        7}),
    [](const auto& info) { return Name(info.param.description); });

TEST(InvalidConfigOrderTest, ProblemsAreListedInFileOrder) {
  const auto config = LoadConfigText(
      "log: {level: loud}\nports:\n  - {name: P, interface: v0}\n", kSource);
  ASSERT_FALSE(config.ok());
  const std::vector<std::string> lines =
      absl::StrSplit(config.status().message(), '\n');
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], HasSubstr("test.yaml:1: log.level"));
  EXPECT_THAT(lines[1], HasSubstr("test.yaml:3: ports[0].name"));
}

// A multi-line scalar quoted in a problem must not split it over lines:
// every line of the message names the file (found by
// tests/fuzz/config_fuzz.cc).
TEST(InvalidConfigOrderTest, LineBreaksInQuotedValuesAreEscaped) {
  const auto config = LoadConfigText("first\n\nsecond\n", kSource);
  ASSERT_FALSE(config.ok());
  const std::vector<std::string> lines =
      absl::StrSplit(config.status().message(), '\n');
  ASSERT_EQ(lines.size(), 1u) << config.status();
  EXPECT_THAT(lines[0], HasSubstr("test.yaml:1: expected a map, got 'first\\nsecond'"));
}

// YAML 1.2 5.1: only printable UTF-8. yaml-cpp does not return on some
// inputs with control characters or broken UTF-8 (the config fuzzer's
// regressions/config/yaml_cpp_*), so the loader refuses them first, with
// their position.
TEST(InvalidConfigOrderTest, NonPrintableCharactersAreRefusedWithTheirPosition) {
  const struct {
    std::string text;
    std::string want;
  } cases[] = {
      {",\x19- name1 a/m - s:z\n-,\x19- name1 a/me",
       "test.yaml:1:2: character U+0019 is not allowed: the file is not valid YAML "
       "(accepted: printable UTF-8 text, tabs and line breaks; YAML 1.2 5.1)"},
      {"ports:\n  - {\xff\xff}\n", "test.yaml:2:6: byte 0xFF is not UTF-8"},
      {"a: \xc3", "test.yaml:1:4: UTF-8 sequence cut short"},
      {"a: \xed\xa0\x80\n", "test.yaml:1:4: byte 0xED is not UTF-8"},   // a surrogate
      {"a: \xc0\xaf\n", "test.yaml:1:4: byte 0xC0 is not UTF-8"},         // overlong
      {"a: b\n\x7f", "test.yaml:2:1: character U+007F is not allowed"},
  };
  for (const auto& c : cases) {
    const auto config = LoadConfigText(c.text, kSource);
    ASSERT_FALSE(config.ok()) << c.want;
    EXPECT_THAT(std::string(config.status().message()), HasSubstr(c.want));
  }
  // Printable non-ASCII text (a comment in another script, a BOM at the
  // start) is still read by yaml-cpp, which reports what it finds.
  const auto bom = LoadConfigText("\xef\xbb\xbf# caf\xc3\xa9 \xe2\x82\xac\nfirst\n", kSource);
  ASSERT_FALSE(bom.ok());
  EXPECT_THAT(std::string(bom.status().message()), HasSubstr("expected a map"));
}

// yaml-cpp 0.7 never returns on some printable input too (the config
// fuzzer's regressions/config/yaml_cpp_hangs_on_tag_and_comma): the loader
// has yaml-cpp read the text in a child with a time limit first, so a bad
// file is an error, not a stalled daemon.
TEST(InvalidConfigOrderTest, TextTheYamlParserLoopsOnIsRefusedInTime) {
  const auto config = LoadConfigText("!0keepa,", kSource);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              HasSubstr("test.yaml: the YAML parser (yaml-cpp) did not finish within 3 s: the file is not valid YAML"));
}

// ---------------------------------------------------------------- files

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/isthmus-config-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  std::string dir_;
};

TEST_F(ConfigFileTest, LoadsAFileAndRemembersItsPath) {
  const std::string path = Write("isthmusd.yaml", kFullConfig);
  const auto config = LoadConfigFile(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->source, path);
  CheckFullConfig(*config);
}

TEST_F(ConfigFileTest, ErrorsNameTheFile) {
  const std::string path = Write("bad.yaml", "ports:\n  - {name: p0}\n");
  const auto config = LoadConfigFile(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(),
              HasSubstr(path + ":2: ports[0].interface: missing required key"));
}

TEST_F(ConfigFileTest, MissingFileIsNotFound) {
  const std::string path = dir_ + "/absent.yaml";
  const auto config = LoadConfigFile(path);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(config.status().message(), HasSubstr(path));
  EXPECT_THAT(config.status().message(),
              HasSubstr("No such file or directory"));
}

TEST_F(ConfigFileTest, DirectoryIsAnError) {
  const auto config = LoadConfigFile(dir_);
  EXPECT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr(dir_));
  EXPECT_THAT(config.status().message(), HasSubstr("Is a directory"));
}

// Root reads any file whatever its mode, so as root the load runs in a child
// that has dropped to an unprivileged user first.
bool LoadIsPermissionDenied(const std::string& path) {
  const auto config = LoadConfigFile(path);
  return config.status().code() == absl::StatusCode::kPermissionDenied &&
         absl::StrContains(config.status().message(), path) &&
         absl::StrContains(config.status().message(), "Permission denied");
}

TEST_F(ConfigFileTest, UnreadableFileIsPermissionDenied) {
  constexpr uid_t kNobody = 65534;
  const std::string path = Write("secret.yaml", kMinimal);
  ASSERT_EQ(chmod(path.c_str(), 0), 0);
  if (geteuid() != 0) {
    EXPECT_TRUE(LoadIsPermissionDenied(path));
    return;
  }
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const bool dropped = setgid(kNobody) == 0 && setuid(kNobody) == 0;
    _exit(dropped && LoadIsPermissionDenied(path) ? 0 : 1);
  }
  int wait_status = 0;
  ASSERT_EQ(waitpid(child, &wait_status, 0), child);
  ASSERT_TRUE(WIFEXITED(wait_status));
  EXPECT_EQ(WEXITSTATUS(wait_status), 0);
}

// ---------------------------------------------------------------- reload

using config_testing::ReloadCase;

class CheckReloadableTest : public ::testing::TestWithParam<ReloadCase> {};

TEST_P(CheckReloadableTest, AllowsOnlyLiveChanges) { config_testing::ExpectReloadOutcome(kFullConfig, kSource, GetParam()); }

INSTANTIATE_TEST_SUITE_P(
    Table, CheckReloadableTest,
    ::testing::Values(
        ReloadCase{"nothing changed", [](Config&) {}, {}},
        ReloadCase{"routes, punt, log and idle tuning are live",
                   [](Config& c) {
                     c.routes.pop_back();
                     c.routes[0].via.push_back(Addr(198, 18, 0, 4));
                     c.punt.udp_ports = {};
                     c.punt.tcp_ports.push_back(443);
                     c.log_level = "trace";
                     c.dataplane.idle_sleep_us = 50;
                     c.dataplane.idle_polls_before_sleep = 8;
                     c.dataplane.punt_rate_pps = 1;
                     c.dataplane.punt_class_rate_pps[static_cast<size_t>(PuntReason::kIcmp)] = 5;
                     c.source = "other.yaml";
                   },
                   {}},
        ReloadCase{
            "port mtu", [](Config& c) { c.ports[0].mtu = 1500; }, {"ports"}},
        ReloadCase{"port added",
                   [](Config& c) { c.ports.push_back(c.ports[2]); },
                   {"ports"}},
        ReloadCase{"dataplane sizing",
                   [](Config& c) {
                     c.dataplane.workers = 1;
                     c.dataplane.worker_cpus = {0};
                     c.dataplane.burst = 32;
                     c.dataplane.mbufs = 4095;
                     c.dataplane.hugepages = false;
                     c.dataplane.punt_interface = "p";
                     c.dataplane.fib_max_routes = 1;
                     c.dataplane.fib_tbl8_groups = 1;
                     c.dataplane.eal_args.clear();
                   },
                   {"dataplane.workers", "dataplane.worker_cpus",
                    "dataplane.burst", "dataplane.mbufs", "dataplane.hugepages",
                    "dataplane.punt_interface", "dataplane.fib_max_routes",
                    "dataplane.fib_tbl8_groups", "dataplane.eal_args"}},
        ReloadCase{"endpoints and ports together",
                   [](Config& c) {
                     c.ports[1].address->host = Addr(198, 18, 0, 9);
                     c.metrics.listen = "";
                     c.admin.socket = "/run/other.sock";
                   },
                   {"ports", "metrics.listen", "admin.socket"}}),
    [](const auto& info) { return Name(info.param.description); });

}  // namespace
}  // namespace isthmus
