#include "control/metrics/metrics_exporter.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "isthmus_version.h"

namespace isthmus {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kPromtool[] = "/usr/bin/promtool";
constexpr uint64_t kBigCounter = uint64_t{1} << 40;  // exact in a double

DataplaneSnapshot SampleSnapshot() {
  DataplaneSnapshot s;
  s.ports.push_back({.name = "west", .driver = "af_xdp", .interface = "veth-w",
                     .rx_packets = 1000, .rx_bytes = kBigCounter, .tx_packets = 900,
                     .tx_bytes = 64000, .rx_missed = 3, .rx_ring_full = 7, .rx_errors = 2, .tx_errors = 1,
                     .link_up = true});
  s.ports.push_back({.name = "east", .driver = "pmd", .interface = "", .link_up = false});
  s.workers.push_back({.id = 0, .busy_polls = 40, .idle_polls = 60, .rx_packets = 1000,
                       .tx_packets = 900, .stalls = 2, .longest_loop_gap_seconds = 0.25});
  s.mempools.push_back({.name = "isthmus_mbufs", .size = 16383, .in_use = 4096});
  s.drops[static_cast<size_t>(DropReason::kNoRoute)] = 17;
  s.punts[static_cast<size_t>(PuntReason::kArp)] = 5;
  s.fib_routes = 12;
  s.neighbors_resolved = 2;
  s.neighbor_requests = 9;
  s.xdp.push_back({.port = "west", .to_kernel = 7, .to_dataplane = 1000});
  s.uptime_seconds = 42.5;
  return s;
}

DataplaneSnapshot SnapshotWithBgp() {
  DataplaneSnapshot s = SampleSnapshot();
  bgp::SpeakerMetrics m;
  bgp::PeerMetrics ars;
  ars.name = "ars1";
  ars.address = "198.18.10.4";
  ars.state = 5;
  ars.uptime_seconds = 12;
  ars.prefixes_received = 3;
  ars.prefixes_accepted = 2;
  ars.prefixes_advertised = 4;
  ars.messages_in[2] = 7;
  ars.notifications_received[{6, 2}] = 1;
  m.peers.push_back(ars);
  m.vips.push_back({Ipv4Prefix{Ipv4Addr{0xcb007107}, 32}, "ars1", true});
  m.loc_rib_prefixes = 5;
  s.bgp = m;
  return s;
}

// One sample line: name{labels} value.
std::string Sample(const std::string& name, const std::string& labels, const std::string& value) {
  return absl::StrCat("\n", name, labels.empty() ? "" : absl::StrCat("{", labels, "}"), " ",
                      value, "\n");
}

TEST(BuildMetricFamiliesTest, PortWorkerAndGlobalSamples) {
  const std::string text = "\n" + RenderMetricsText(SampleSnapshot(), "9.9.9");
  const std::string west = R"(port="west",driver="af_xdp",interface="veth-w")";
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_port_rx_packets_total", west, "1000")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_port_rx_bytes_total", west, "1099511627776")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_port_tx_packets_total", west, "900")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_port_tx_bytes_total", west, "64000")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_port_rx_missed_total", west, "3")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_port_rx_ring_full_total", west, "7")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_port_rx_errors_total", west, "2")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_port_tx_errors_total", west, "1")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_port_up", west, "1")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_port_up",
                                     R"(port="east",driver="pmd",interface="")", "0")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_worker_polls_total", R"(worker="0",result="busy")", "40")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_worker_polls_total", R"(worker="0",result="idle")", "60")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_worker_rx_packets_total", R"(worker="0")", "1000")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_worker_tx_packets_total", R"(worker="0")", "900")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_worker_stalls_total", R"(worker="0")", "2")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_worker_longest_loop_gap_seconds", R"(worker="0")", "0.25")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_mempool_in_use", R"(pool="isthmus_mbufs")", "4096")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_mempool_size", R"(pool="isthmus_mbufs")", "16383")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_fib_routes", "", "12")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_neighbor_resolved", "", "2")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_neighbor_resolution_requests_total", "", "9")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_xdp_decisions_total", R"(port="west",decision="kernel")", "7")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_xdp_decisions_total", R"(port="west",decision="dataplane")", "1000")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_daemon_uptime_seconds", "", "42.5")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_build_info", R"(version="9.9.9")", "1")));
}

TEST(BuildMetricFamiliesTest, EveryDropAndPuntReasonIsExportedEvenAtZero) {
  const std::string text = "\n" + RenderMetricsText(SampleSnapshot(), "x");
  for (size_t i = 0; i < kDropReasonCount; ++i) {
    const std::string reason(kDropReasonInfo[i].name);
    const std::string value = i == static_cast<size_t>(DropReason::kNoRoute) ? "17" : "0";
    EXPECT_THAT(text, HasSubstr(Sample("isthmus_dataplane_drops_total",
                                       absl::StrCat("reason=\"", reason, "\""), value)));
  }
  for (size_t i = 0; i < kPuntReasonCount; ++i) {
    const std::string reason(kPuntReasonInfo[i].name);
    const std::string value = i == static_cast<size_t>(PuntReason::kArp) ? "5" : "0";
    EXPECT_THAT(text, HasSubstr(Sample("isthmus_dataplane_punts_total",
                                       absl::StrCat("reason=\"", reason, "\""), value)));
  }
}

TEST(BuildMetricFamiliesTest, DropHelpCarriesEveryReasonsHelpText) {
  for (const prometheus::MetricFamily& family : BuildMetricFamilies(SampleSnapshot(), "x")) {
    if (family.name != "isthmus_dataplane_drops_total") continue;
    for (const ReasonInfo& info : kDropReasonInfo) {
      EXPECT_THAT(family.help, HasSubstr(absl::StrCat(std::string(info.name), ": ",
                                                      std::string(info.help))));
    }
    return;
  }
  FAIL() << "no drops family";
}

TEST(BuildMetricFamiliesTest, NamingConventions) {
  for (const prometheus::MetricFamily& family : BuildMetricFamilies(SampleSnapshot(), "x")) {
    SCOPED_TRACE(family.name);
    EXPECT_EQ(family.name.rfind("isthmus_", 0), 0u);
    EXPECT_THAT(family.help, Not(IsEmpty()));
    const bool ends_total = family.name.size() > 6 &&
                            family.name.compare(family.name.size() - 6, 6, "_total") == 0;
    EXPECT_EQ(ends_total, family.type == prometheus::MetricType::Counter);
  }
}

// Writes `text` to a file and runs `promtool check metrics` on it; returns
// the exit status and everything promtool printed.
std::pair<int, std::string> Promtool(const std::string& text) {
  char path[] = "/tmp/isthmus-metrics-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) return {-1, "mkstemp failed"};
  ::close(fd);
  std::ofstream(path) << text;
  const std::string command = absl::StrCat(kPromtool, " check metrics < ", path, " 2>&1");
  FILE* pipe = ::popen(command.c_str(), "r");
  std::string output;
  char buf[4096];
  size_t n = 0;
  while (pipe != nullptr && (n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) output.append(buf, n);
  const int status = pipe != nullptr ? ::pclose(pipe) : -1;
  ::unlink(path);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST(BuildMetricFamiliesTest, BgpPeerAndVipSamples) {
  const std::string text = "\n" + RenderMetricsText(SnapshotWithBgp(), "x");
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_bgp_peer_state", "peer=\"ars1\",address=\"198.18.10.4\"", "5")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_bgp_prefixes", "peer=\"ars1\",stage=\"accepted\"", "2")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_bgp_messages_total", "peer=\"ars1\",direction=\"in\",type=\"update\"", "7")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_bgp_notifications_total",
                                     "peer=\"ars1\",direction=\"received\",code=\"6\",subcode=\"2\"", "1")));
  EXPECT_THAT(text, HasSubstr(Sample("isthmus_bgp_vip_advertised", "vip=\"203.0.113.7/32\",peer=\"ars1\"", "1")));
  // Without BGP configured there is no BGP family at all.
  EXPECT_THAT(RenderMetricsText(SampleSnapshot(), "x"), Not(HasSubstr("isthmus_bgp_")));
}

TEST(PromtoolTest, RenderedTextPassesWithoutWarnings) {
  ASSERT_TRUE(std::filesystem::exists(kPromtool)) << "promtool is required";
  for (const DataplaneSnapshot& snapshot : {SampleSnapshot(), DataplaneSnapshot{}, SnapshotWithBgp()}) {
    const auto [status, output] = Promtool(RenderMetricsText(snapshot, ISTHMUS_VERSION));
    EXPECT_EQ(status, 0) << output;
    EXPECT_THAT(output, IsEmpty());
  }
}

TEST(PromtoolTest, CatchesABadExposition) {
  // Guards the check above: promtool must complain about a counter without
  // _total and HELP, or an empty output would prove nothing.
  const auto [status, output] = Promtool("# TYPE isthmus_bad counter\nisthmus_bad 1\n");
  EXPECT_NE(status, 0);
  EXPECT_THAT(output, HasSubstr("\"_total\" suffix"));
  EXPECT_THAT(output, HasSubstr("no help text"));
}

// A plain HTTP/1.0 GET, returning the body; empty on failure.
std::string HttpGet(uint16_t port, const std::string& path, std::string* status_line) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buf[4096];
      ssize_t n = 0;
      while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) response.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  const size_t header_end = response.find("\r\n\r\n");
  if (header_end == std::string::npos) return "";
  if (status_line != nullptr) *status_line = response.substr(0, response.find("\r\n"));
  return response.substr(header_end + 4);
}

TEST(MetricsExporterTest, ServesFreshSnapshotOnEveryScrape) {
  std::atomic<uint64_t> calls{0};
  absl::StatusOr<std::unique_ptr<MetricsExporter>> exporter =
      MetricsExporter::Start("127.0.0.1:0", [&calls] {
        DataplaneSnapshot s = SampleSnapshot();
        s.fib_routes = ++calls;
        return s;
      });
  ASSERT_TRUE(exporter.ok()) << exporter.status();
  ASSERT_NE((*exporter)->port(), 0);

  std::string status;
  const std::string first = HttpGet((*exporter)->port(), "/metrics", &status);
  EXPECT_THAT(status, HasSubstr("200"));
  EXPECT_THAT(first, HasSubstr("\nisthmus_fib_routes 1\n"));
  EXPECT_THAT(first, HasSubstr(R"(isthmus_port_rx_packets_total{port="west",driver="af_xdp",interface="veth-w"} 1000)"));
  EXPECT_THAT(first, HasSubstr(R"(isthmus_dataplane_drops_total{reason="no_route"} 17)"));
  EXPECT_THAT(first, HasSubstr("# HELP isthmus_dataplane_drops_total "));
  EXPECT_THAT(first, HasSubstr("# TYPE isthmus_port_up gauge"));
  EXPECT_THAT(first, HasSubstr(absl::StrCat(R"(isthmus_build_info{version=")", ISTHMUS_VERSION, "\"} 1")));

  const std::string second = HttpGet((*exporter)->port(), "/metrics", nullptr);
  EXPECT_THAT(second, HasSubstr("\nisthmus_fib_routes 2\n"));
  EXPECT_THAT((*exporter)->Render(), HasSubstr("\nisthmus_fib_routes 3\n"));
}

TEST(MetricsExporterTest, BusyPortIsAClearError) {
  absl::StatusOr<std::unique_ptr<MetricsExporter>> first =
      MetricsExporter::Start("127.0.0.1:0", [] { return DataplaneSnapshot{}; });
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string listen = absl::StrCat("127.0.0.1:", (*first)->port());
  absl::StatusOr<std::unique_ptr<MetricsExporter>> second =
      MetricsExporter::Start(listen, [] { return DataplaneSnapshot{}; });
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("cannot serve metrics on " + listen));
}

struct ListenCase {
  std::string listen;
  std::string problem;  // empty: accepted
};

class ValidateMetricsListenTest : public ::testing::TestWithParam<ListenCase> {};

TEST_P(ValidateMetricsListenTest, AcceptsOrNamesTheProblem) {
  const ListenCase& c = GetParam();
  absl::StatusOr<std::string> result = ValidateMetricsListen(c.listen);
  if (c.problem.empty()) {
    EXPECT_TRUE(result.ok()) << result.status();
    return;
  }
  ASSERT_FALSE(result.ok());
  const std::string message(result.status().message());
  EXPECT_THAT(message, HasSubstr("\"" + c.listen + "\""));
  EXPECT_THAT(message, HasSubstr(c.problem));
  EXPECT_THAT(message, HasSubstr("IPV4:PORT or [IPV6]:PORT"));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ValidateMetricsListenTest,
    ::testing::Values(ListenCase{"127.0.0.1:9470", ""}, ListenCase{"0.0.0.0:0", ""},
                      ListenCase{"[::1]:9470", ""}, ListenCase{"", "no \":PORT\""},
                      ListenCase{"127.0.0.1", "no \":PORT\""},
                      ListenCase{"127.0.0.1:", "invalid port"},
                      ListenCase{"127.0.0.1:70000", "invalid port"},
                      ListenCase{"127.0.0.1:94s", "invalid port"},
                      ListenCase{"127.0.0.1:+80", "invalid port"},
                      ListenCase{":9470", "invalid IPv4 address"},
                      ListenCase{"localhost:9470", "invalid IPv4 address"},
                      ListenCase{"198.51.100:9470", "invalid IPv4 address"},
                      ListenCase{"[::1:9470", "no \"]:PORT\""},
                      ListenCase{"[zz::1]:9470", "invalid IPv6 address"}));

TEST(MetricsExporterTest, StartRejectsAnInvalidAddress) {
  absl::StatusOr<std::unique_ptr<MetricsExporter>> exporter =
      MetricsExporter::Start("metrics.example:9470", [] { return DataplaneSnapshot{}; });
  ASSERT_FALSE(exporter.ok());
  EXPECT_EQ(exporter.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace isthmus
