#include "control/cli/cli_commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "control/admin/admin_results.h"
#include "control/cli/table_printer.h"

namespace isthmus {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

TEST(FormatTableTest, AlignsColumnsAndTrimsTrailingBlanks) {
  const std::string table = FormatTable({{"NAME", Align::kLeft}, {"PACKETS", Align::kRight}, {"HELP"}},
                                        {{"west", "5", "a"}, {"east-long", "12345678", ""}});
  EXPECT_EQ(table,
            "NAME        PACKETS  HELP\n"
            "west              5  a\n"
            "east-long  12345678\n");
}

TEST(FormatTableTest, ShortRowsGetEmptyCells) {
  EXPECT_EQ(FormatTable({{"A"}, {"B", Align::kRight}}, {{"x"}}), "A  B\nx\n");
}

struct CommandLineCase {
  std::string description;
  std::vector<std::string> args;
  const char* env_socket;
  bool ok;
  std::string socket;  // when ok
  bool json;
  std::vector<std::string> command;
  std::string error_substring;  // when !ok
};

class ParseCommandLineTest : public ::testing::TestWithParam<CommandLineCase> {};

TEST_P(ParseCommandLineTest, Parses) {
  const CommandLineCase& c = GetParam();
  absl::StatusOr<CliInvocation> inv = ParseCommandLine(c.args, c.env_socket);
  ASSERT_EQ(inv.ok(), c.ok) << inv.status();
  if (!c.ok) {
    EXPECT_THAT(std::string(inv.status().message()), HasSubstr(c.error_substring));
    return;
  }
  EXPECT_EQ(inv->socket, c.socket);
  EXPECT_EQ(inv->json, c.json);
  EXPECT_EQ(inv->command, c.command);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ParseCommandLineTest,
    ::testing::Values(
        CommandLineCase{"defaults", {"show", "ports"}, nullptr, true,
                        "/run/isthmus/isthmusd.sock", false, {"show", "ports"}, ""},
        CommandLineCase{"env_overrides_default", {"reload"}, "/tmp/e.sock", true, "/tmp/e.sock",
                        false, {"reload"}, ""},
        CommandLineCase{"empty_env_ignored", {"reload"}, "", true, "/run/isthmus/isthmusd.sock",
                        false, {"reload"}, ""},
        CommandLineCase{"flag_overrides_env", {"--socket", "/tmp/f.sock", "reload"}, "/tmp/e.sock",
                        true, "/tmp/f.sock", false, {"reload"}, ""},
        CommandLineCase{"equals_form_and_json_after_command",
                        {"--socket=/tmp/g.sock", "show", "fib", "--json"}, nullptr, true,
                        "/tmp/g.sock", true, {"show", "fib"}, ""},
        CommandLineCase{"no_command", {"--json"}, nullptr, false, "", false, {}, "no command given"},
        CommandLineCase{"unknown_option", {"--colour", "show"}, nullptr, false, "", false, {},
                        "unknown option --colour"},
        CommandLineCase{"socket_without_value", {"show", "--socket"}, nullptr, false, "", false,
                        {}, "--socket needs a value"},
        CommandLineCase{"bad_timeout", {"--timeout", "soon", "show"}, nullptr, false, "", false,
                        {}, "--timeout \"soon\""},
        CommandLineCase{"zero_timeout", {"--timeout=0", "show"}, nullptr, false, "", false, {},
                        "above 0"}),
    [](const ::testing::TestParamInfo<CommandLineCase>& info) { return info.param.description; });

TEST(ParseCommandLineTest, TimeoutAndActions) {
  absl::StatusOr<CliInvocation> inv = ParseCommandLine({"--timeout", "0.5", "reload"}, nullptr);
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->timeout, absl::Milliseconds(500));
  EXPECT_EQ(ParseCommandLine({"--version"}, nullptr)->action, CliInvocation::Action::kVersion);
  EXPECT_EQ(ParseCommandLine({"--version", "--help"}, nullptr)->action,
            CliInvocation::Action::kHelp);
}

TEST(BuildAdminRequestTest, KnownCommands) {
  EXPECT_EQ(*BuildAdminRequest({"show", "ports"}),
            (json{{"command", "show"}, {"args", {"ports"}}}));
  EXPECT_EQ(*BuildAdminRequest({"reload"}), (json{{"command", "reload"}, {"args", json::array()}}));
  EXPECT_EQ(*BuildAdminRequest({"show", "bgp", "summary"}),
            (json{{"command", "show"}, {"args", {"bgp", "summary"}}}));
  // Optional trailing arguments are passed on; fixed commands take none.
  EXPECT_EQ(*BuildAdminRequest({"show", "bgp", "routes", "203.0.113.0/24"}),
            (json{{"command", "show"}, {"args", {"bgp", "routes", "203.0.113.0/24"}}}));
  EXPECT_EQ(*BuildAdminRequest({"show", "bgp", "neighbors"}),
            (json{{"command", "show"}, {"args", {"bgp", "neighbors"}}}));
  EXPECT_FALSE(BuildAdminRequest({"show", "bgp", "summary", "extra"}).ok());
  EXPECT_FALSE(BuildAdminRequest({"show", "bgp"}).ok());
}

TEST(RenderResultTest, BgpRoutesExpandPaths) {
  const json routes = json::parse(R"({"routes":[{"prefix":"203.0.113.0/24","paths":[
      {"peer":"remote","next_hop":"198.18.2.2","as_path":"65020","local_pref":100,"best":true,"multipath":true,"stale":false},
      {"peer":"ars1","next_hop":"198.18.10.4","as_path":"65515 65020","local_pref":100,"best":false,"multipath":false,"stale":true}]}]})");
  const std::string text = RenderResult({"show", "bgp", "routes"}, routes);
  EXPECT_THAT(text, HasSubstr("203.0.113.0/24"));
  EXPECT_THAT(text, HasSubstr("65515 65020"));
  EXPECT_THAT(text, HasSubstr("198.18.10.4"));
}

TEST(BuildAdminRequestTest, UnknownCommandsListTheAcceptedOnes) {
  for (const std::vector<std::string>& words : std::vector<std::vector<std::string>>{
           {"show"}, {"show", "bogus"}, {"frobnicate"}}) {
    absl::StatusOr<json> request = BuildAdminRequest(words);
    ASSERT_FALSE(request.ok());
    EXPECT_THAT(std::string(request.status().message()),
                AllOf(HasSubstr("unknown command"),
                      HasSubstr("show ports, show routes, show fib, show drops, show stats, show bgp summary, show bgp neighbors [PEER], show bgp routes [PREFIX], show tunnels, show services, show flows, reload, service drain NAME, service undrain NAME")));
  }
}

struct ArgumentCase {
  std::vector<std::string> words;
  std::string message;  // the whole usage error
};

// A known command with the wrong arguments is refused before anything is
// sent, naming the command and the form it accepts.
TEST(BuildAdminRequestTest, WrongArgumentsNameTheAcceptedForm) {
  const ArgumentCase cases[] = {
      {{"reload", "now"}, "\"reload\" takes no argument, got \"now\" (accepted: reload)"},
      {{"show", "ports", "x", "y"}, "\"show ports\" takes no argument, got \"x y\" (accepted: show ports)"},
      {{"service", "drain"}, "\"service drain\" needs NAME (accepted: service drain NAME)"},
      {{"service", "undrain", "a", "b"},
       "\"service undrain\" takes one NAME, got 2 arguments (accepted: service undrain NAME)"},
      {{"show", "bgp", "routes", "198.51.100.0/33"},
       "\"show bgp routes\": \"198.51.100.0/33\" is not a prefix or an address; accepted: a.b.c.d/len with no "
       "host bits, e.g. 198.51.100.0/24, or an address a.b.c.d"},
      {{"show", "bgp", "routes", "198.51.100.7/24"},
       "\"show bgp routes\": \"198.51.100.7/24\" has host bits set (did you mean 198.51.100.0/24?); accepted: "
       "a.b.c.d/len with no host bits, e.g. 198.51.100.0/24, or an address a.b.c.d"},
  };
  for (const ArgumentCase& c : cases) {
    absl::StatusOr<json> request = BuildAdminRequest(c.words);
    ASSERT_FALSE(request.ok()) << c.message;
    EXPECT_EQ(request.status().message(), c.message);
  }
  EXPECT_TRUE(BuildAdminRequest({"show", "bgp", "routes", "198.51.100.7"}).ok());
  EXPECT_TRUE(BuildAdminRequest({"service", "drain", "web"}).ok());
}

// The speaker answers an unknown peer or a bad prefix inside an "ok"
// result; isthmusctl must treat that as a failure, not an empty table.
TEST(ResultErrorTest, FindsTheErrorInsideAResult) {
  EXPECT_EQ(ResultError(json{{"neighbors", json::array()}, {"error", "no such peer: x"}}), "no such peer: x");
  EXPECT_EQ(ResultError(json{{"neighbors", json::array()}}), std::nullopt);
  EXPECT_EQ(ResultError(json::array()), std::nullopt);
  EXPECT_EQ(ResultError(json{{"error", 3}}), std::nullopt);
  EXPECT_EQ(ErrorJson("boom", kExitFailure), (json{{"error", "boom"}, {"exit_status", 1}}));
}

const json kPorts = json::parse(R"([
  {"name":"west","driver":"af_xdp","interface":"veth-w","port_id":0,"mac":"02:00:00:00:00:01",
   "link_up":true,"mtu":1500,"rx_packets":123456,"rx_bytes":9,"tx_packets":1,"tx_bytes":2,
   "rx_missed":3,"rx_ring_full":6,"rx_errors":4,"tx_errors":5},
  {"name":"east","driver":"pmd","interface":"","port_id":1,"mac":"02:00:00:00:00:02",
   "link_up":false,"mtu":9000,"rx_packets":0,"rx_bytes":0,"tx_packets":0,"tx_bytes":0,
   "rx_missed":0,"rx_ring_full":0,"rx_errors":0,"tx_errors":0}])");

TEST(RenderResultTest, PortsTable) {
  const std::string out = RenderResult({"show", "ports"}, kPorts);
  EXPECT_THAT(out, HasSubstr("NAME  DRIVER  INTERFACE  ID  MAC                LINK   MTU  RX-PACKETS"));
  EXPECT_THAT(out, HasSubstr("west  af_xdp  veth-w      0  02:00:00:00:00:01  up    1500      123456"));
  EXPECT_THAT(out, HasSubstr("east  pmd     -           1  02:00:00:00:00:02  down  9000           0"));
  EXPECT_THAT(out, HasSubstr("RX-MISSED  RING-FULL  RX-ERRORS"));
}

TEST(RenderResultTest, RoutesExpandNexthops) {
  const json routes = json::parse(R"([
    {"prefix":"198.51.100.0/24","source":"static","blackhole":false,
     "nexthops":[{"via":"198.18.1.2","port":"west"},{"via":"198.18.2.2","port":"east"}]},
    {"prefix":"198.18.1.0/24","source":"connected","blackhole":false,
     "nexthops":[{"via":"","port":"west"}]},
    {"prefix":"203.0.113.0/24","source":"static","blackhole":true,"nexthops":[]}])");
  EXPECT_EQ(RenderResult({"show", "routes"}, routes),
            "PREFIX           SOURCE     BLACKHOLE  VIA         PORT\n"
            "198.51.100.0/24  static     no         198.18.1.2  west\n"
            "198.51.100.0/24  static     no         198.18.2.2  east\n"
            "198.18.1.0/24    connected  no         -           west\n"
            "203.0.113.0/24   static     yes        -           -\n");
}

TEST(RenderResultTest, FibShowsCountAndEntries) {
  const json fib = json::parse(R"({"routes":2,"entries":[
    {"prefix":"198.51.100.0/24","group":7,"nexthops":[
      {"kind":"forward","via":"198.18.1.2","port":"west","mac":"02:aa:00:00:00:01","resolved":true}]},
    {"prefix":"203.0.113.0/24","group":8,"nexthops":[
      {"kind":"blackhole","via":"","port":"","mac":"","resolved":false}]}]})");
  const std::string out = RenderResult({"show", "fib"}, fib);
  EXPECT_THAT(out, HasSubstr("routes: 2\n\nPREFIX"));
  EXPECT_THAT(out, HasSubstr("198.51.100.0/24      7  forward    198.18.1.2  west  02:aa:00:00:00:01  yes"));
  EXPECT_THAT(out, HasSubstr("203.0.113.0/24       8  blackhole  -           -     -                  no"));
}

TEST(RenderResultTest, DropsListsEveryReasonIncludingZero) {
  const json drops = json::parse(R"({
    "drops":[{"reason":"no_route","help":"no FIB entry","packets":0},
             {"reason":"bad_checksum","help":"checksum","packets":42}],
    "punts":[{"reason":"arp","help":"ARP","packets":7}]})");
  EXPECT_EQ(RenderResult({"show", "drops"}, drops),
            "Drops:\n"
            "REASON        PACKETS  HELP\n"
            "no_route            0  no FIB entry\n"
            "bad_checksum       42  checksum\n"
            "\n"
            "Punts to the kernel:\n"
            "REASON  PACKETS  HELP\n"
            "arp           7  ARP\n");
}

TEST(RenderResultTest, DropsResultFromCountersRendersEveryReason) {
  std::array<uint64_t, kDropReasonCount> drops{};
  std::array<uint64_t, kPuntReasonCount> punts{};
  drops[static_cast<size_t>(DropReason::kNoRoute)] = 31;
  punts[static_cast<size_t>(PuntReason::kArp)] = 4;
  const json result = MakeDropsResult(drops, punts);
  ASSERT_EQ(result["drops"].size(), kDropReasonCount);
  ASSERT_EQ(result["punts"].size(), kPuntReasonCount);
  const std::string out = RenderResult({"show", "drops"}, result);
  for (const ReasonInfo& info : kDropReasonInfo) {
    EXPECT_THAT(out, HasSubstr(std::string(info.name))) << info.name;
  }
  EXPECT_THAT(out, HasSubstr(std::string(Name(DropReason::kNoRoute))));
  EXPECT_THAT(out, testing::ContainsRegex("\nno_route +31  no FIB entry"));
  EXPECT_THAT(out, testing::ContainsRegex("\narp +4  ARP"));
}

TEST(RenderResultTest, StatsFieldsAndWorkers) {
  const json stats = json::parse(R"({"version":"0.1.0","uptime_seconds":3725,"fib_routes":12,
    "workers":[{"id":0,"lcore":1,"busy_polls":10,"idle_polls":20,"rx_packets":30,"tx_packets":40,
                "stalls":2,"longest_loop_gap_ms":150.5}],
    "mempools":[{"name":"isthmus_mbufs","size":16383,"in_use":4095}]})");
  EXPECT_EQ(RenderResult({"show", "stats"}, stats),
            "version: 0.1.0\n"
            "uptime: 1h2m5s\n"
            "fib routes: 12\n"
            "\n"
            "Workers:\n"
            "WORKER  LCORE  BUSY-POLLS  IDLE-POLLS  RX-PACKETS  TX-PACKETS  STALLS  LONGEST-GAP-MS\n"
            "     0      1          10          20          30          40       2           150.5\n"
            "\n"
            "Mempools:\n"
            "MEMPOOL         SIZE  IN-USE\n"
            "isthmus_mbufs  16383    4095\n");
}

TEST(RenderResultTest, EmptyTablesSayNone) {
  EXPECT_EQ(RenderResult({"show", "ports"}, json::array()).substr(0, 4), "NAME");
  EXPECT_THAT(RenderResult({"show", "ports"}, json::array()), HasSubstr("(none)\n"));
}

TEST(RenderResultTest, ReloadListsChanges) {
  EXPECT_EQ(RenderResult({"reload"}, json{{"changes", {"route 198.51.100.0/24 added",
                                                       "punt.tcp_ports changed"}}}),
            "reloaded: 2 changes\n  route 198.51.100.0/24 added\n  punt.tcp_ports changed\n");
  EXPECT_EQ(RenderResult({"reload"}, json{{"changes", json::array()}}), "reloaded: 0 changes\n");
}

TEST(RenderResultTest, UnexpectedShapesDoNotThrow) {
  EXPECT_THAT(RenderResult({"show", "ports"}, json{{"surprise", 1}}), HasSubstr("(none)"));
  EXPECT_THAT(RenderResult({"show", "fib"}, json("text")), HasSubstr("routes: -"));
  EXPECT_THAT(RenderResult({"show", "ports"}, json::parse(R"([{"name":["a"]}])")),
              AllOf(HasSubstr("[\"a\"]"), Not(HasSubstr("null"))));
}

TEST(UsageTextTest, ListsCommandsAndOptions) {
  const std::string usage = UsageText();
  for (const char* needle : {"show ports", "show routes", "show fib", "show drops", "show stats",
                             "reload", "--socket PATH", "--json", "--timeout SEC",
                             "ISTHMUS_SOCKET"}) {
    EXPECT_THAT(usage, HasSubstr(needle));
  }
}

}  // namespace
}  // namespace isthmus
