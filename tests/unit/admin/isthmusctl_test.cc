// Runs the built isthmusctl binary (path from meson: ISTHMUSCTL_PATH) against
// an AdminServer with canned answers, checking output and exit codes.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "control/admin/admin_server.h"
#include "isthmus_version.h"
#include "tests/unit/admin/admin_test_support.h"

extern char** environ;

namespace isthmus {
namespace {

using ::isthmus::testing::PollingThread;
using ::isthmus::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using json = nlohmann::json;

constexpr int kSpawnFailed = -1;

struct RunResult {
  int exit_code = kSpawnFailed;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs isthmusctl with `args`; `extra_env` entries ("K=V") are added to the
// environment, and ISTHMUS_SOCKET is removed unless given there.
RunResult RunCtl(const TempDir& dir, const std::vector<std::string>& args,
                 const std::vector<std::string>& extra_env = {}) {
  const std::string out_path = dir.Child("stdout");
  const std::string err_path = dir.Child("stderr");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);

  std::vector<std::string> argv_storage = {ISTHMUSCTL_PATH};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::vector<std::string> env_storage = extra_env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string(*e).rfind("ISTHMUS_SOCKET=", 0) != 0) env_storage.emplace_back(*e);
  }
  std::vector<char*> envp;
  for (std::string& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  RunResult result;
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, ISTHMUSCTL_PATH, &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return result;
  int status = 0;
  if (::waitpid(pid, &status, 0) == pid && WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  return result;
}

const json kPorts = json::parse(R"([
  {"name":"west-uplink","driver":"af_xdp","interface":"veth-w","port_id":0,
   "mac":"02:00:00:00:00:01","link_up":true,"mtu":1500,"rx_packets":11,"rx_bytes":22,
   "tx_packets":33,"tx_bytes":44,"rx_missed":0,"rx_ring_full":0,"rx_errors":0,"tx_errors":0}])");

constexpr char kReloadError[] =
    "/etc/isthmus/isthmusd.yaml: ports[0].mtu: must be 68..9000 (accepted: an integer)\n"
    "/etc/isthmus/isthmusd.yaml: routes[2].via: not an IPv4 address";

absl::StatusOr<json> CannedHandler(const AdminRequest& request) {
  if (request.command == "show" && request.args == std::vector<std::string>{"ports"}) {
    return kPorts;
  }
  if (request.command == "reload") return absl::FailedPreconditionError(kReloadError);
  return absl::InvalidArgumentError("unexpected request");
}

class IsthmusctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<AdminServer>> server =
        AdminServer::Listen(socket_path_, CannedHandler);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    poller_ = std::make_unique<PollingThread>(*server_);
  }
  void TearDown() override {
    poller_.reset();
    server_.reset();
  }

  TempDir dir_;
  std::string socket_path_ = dir_.Child("isthmusd.sock");
  std::unique_ptr<AdminServer> server_;
  std::unique_ptr<PollingThread> poller_;
};

TEST_F(IsthmusctlTest, JsonOutputIsTheResult) {
  const RunResult r = RunCtl(dir_, {"--socket", socket_path_, "--json", "show", "ports"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out, nullptr, false), kPorts);
  EXPECT_THAT(r.err, IsEmpty());
}

TEST_F(IsthmusctlTest, TableOutputNamesThePort) {
  const RunResult r = RunCtl(dir_, {"show", "ports"}, {"ISTHMUS_SOCKET=" + socket_path_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("NAME"));
  EXPECT_THAT(r.out, HasSubstr("west-uplink"));
  EXPECT_THAT(r.out, HasSubstr("02:00:00:00:00:01"));
}

TEST_F(IsthmusctlTest, DaemonErrorIsPrintedAsIsWithExitCode1) {
  const RunResult r = RunCtl(dir_, {"--socket", socket_path_, "reload"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, std::string(kReloadError) + "\n");
  EXPECT_THAT(r.out, IsEmpty());
}

TEST_F(IsthmusctlTest, JsonDaemonErrorIsAnErrorObjectOnStdout) {
  const RunResult r = RunCtl(dir_, {"--socket", socket_path_, "--json", "reload"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, std::string(kReloadError) + "\n");
  EXPECT_EQ(json::parse(r.out, nullptr, false), (json{{"error", kReloadError}, {"exit_status", 1}}));
}

TEST_F(IsthmusctlTest, UnknownCommandIsAUsageErrorWithExitCode2) {
  const RunResult r = RunCtl(dir_, {"--socket", socket_path_, "show", "bogus"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown command \"show bogus\""));
  EXPECT_THAT(r.err, HasSubstr("show ports, show routes, show fib, show drops, show stats, show bgp summary, show bgp neighbors [PEER], show bgp routes [PREFIX], show tunnels, show services, show flows, reload, service drain NAME, service undrain NAME"));
}

TEST_F(IsthmusctlTest, BadOptionIsAUsageErrorWithExitCode2) {
  const RunResult r = RunCtl(dir_, {"--timeout", "-3", "show", "ports"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "isthmusctl: --timeout \"-3\" must be a number of seconds above 0 and at most 3600; see isthmusctl "
            "--help\n");
  EXPECT_THAT(r.out, IsEmpty());
}

TEST(IsthmusctlStandaloneTest, NoDaemonExitsWith1AndSaysWhy) {
  TempDir dir;
  const std::string missing = dir.Child("absent.sock");
  const RunResult r = RunCtl(dir, {"--socket", missing, "show", "stats"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot connect to " + missing));
  EXPECT_THAT(r.err, HasSubstr("is isthmusd running?"));
}

TEST(IsthmusctlStandaloneTest, VersionAndHelp) {
  TempDir dir;
  const RunResult version = RunCtl(dir, {"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out, std::string("isthmusctl ") + ISTHMUS_VERSION + "\n");
  const RunResult help = RunCtl(dir, {"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("show drops"));
}

}  // namespace
}  // namespace isthmus
