#include "control/admin/admin_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "control/admin/admin_client.h"
#include "tests/unit/admin/admin_test_support.h"

namespace isthmus {
namespace {

using ::isthmus::testing::PollingThread;
using ::isthmus::testing::RawClient;
using ::isthmus::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using json = nlohmann::json;

constexpr absl::Duration kCallTimeout = absl::Seconds(3);

// Echoes the request; "fail" answers with an error.
absl::StatusOr<json> EchoHandler(const AdminRequest& request) {
  if (request.command == "fail") return absl::FailedPreconditionError("it failed\nsecond line");
  return json{{"command", request.command}, {"args", request.args}};
}

json ParseLine(const std::optional<std::string>& line) {
  if (!line.has_value()) return json("no line");
  return json::parse(*line, nullptr, false);
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode;
}

// Leaves a socket file at `path` that nobody listens on, as a crash would.
void MakeStaleSocket(const std::string& path) {
  absl::StatusOr<sockaddr_un> addr = UnixSocketAddress(path);
  ASSERT_TRUE(addr.ok());
  ScopedFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
  ASSERT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)), 0);
}

class AdminServerTest : public ::testing::Test {
 protected:
  std::unique_ptr<AdminServer> Listen(AdminServerOptions options = {}) {
    absl::StatusOr<std::unique_ptr<AdminServer>> server =
        AdminServer::Listen(socket_path_, EchoHandler, options);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? *std::move(server) : nullptr;
  }

  TempDir dir_;
  std::string socket_path_ = dir_.Child("run/isthmus/isthmusd.sock");
};

TEST_F(AdminServerTest, SocketIs0600AndDirectory0750EvenWithPermissiveUmask) {
  const mode_t old_umask = ::umask(0);
  std::unique_ptr<AdminServer> server = Listen();
  ::umask(old_umask);
  ASSERT_NE(server, nullptr);
  const mode_t mode = ModeOf(socket_path_);
  EXPECT_TRUE(S_ISSOCK(mode));
  EXPECT_EQ(mode & 07777, 0600);
  EXPECT_EQ(ModeOf(dir_.Child("run/isthmus")) & 07777, 0750);
  EXPECT_EQ(ModeOf(dir_.Child("run")) & 07777, 0750);
}

TEST_F(AdminServerTest, AnswersSeveralRequestsOnOneConnectionInOrder) {
  std::unique_ptr<AdminServer> server = Listen();
  ASSERT_NE(server, nullptr);
  PollingThread poller(*server);
  RawClient client(socket_path_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send(
      "{\"command\":\"show\",\"args\":[\"ports\"]}\n\n{\"command\":\"reload\",\"args\":[]}\r\n"));
  EXPECT_EQ(ParseLine(client.ReadLine()),
            (json{{"ok", true}, {"result", {{"command", "show"}, {"args", {"ports"}}}}}));
  EXPECT_EQ(ParseLine(client.ReadLine()),
            (json{{"ok", true}, {"result", {{"command", "reload"}, {"args", json::array()}}}}));
}

TEST_F(AdminServerTest, MalformedJsonIsAnsweredAndConnectionStaysUsable) {
  std::unique_ptr<AdminServer> server = Listen();
  ASSERT_NE(server, nullptr);
  PollingThread poller(*server);
  RawClient client(socket_path_);
  ASSERT_TRUE(client.Send("{\"command\": show}\n"));
  const json error = ParseLine(client.ReadLine());
  EXPECT_EQ(error["ok"], false);
  EXPECT_THAT(error["error"].get<std::string>(), StartsWith("request is not valid JSON: "));
  ASSERT_TRUE(client.Send("{\"command\":\"show\",\"args\":[\"fib\"]}\n"));
  EXPECT_EQ(ParseLine(client.ReadLine())["ok"], true);
}

TEST_F(AdminServerTest, HandlerErrorIsOkFalseWithTheMessage) {
  std::unique_ptr<AdminServer> server = Listen();
  ASSERT_NE(server, nullptr);
  PollingThread poller(*server);
  absl::StatusOr<json> response = AdminCall(socket_path_, {{"command", "fail"}}, kCallTimeout);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(*response, (json{{"ok", false}, {"error", "it failed\nsecond line"}}));
}

TEST_F(AdminServerTest, OversizedRequestIsRejectedAndConnectionClosed) {
  std::unique_ptr<AdminServer> server = Listen();
  ASSERT_NE(server, nullptr);
  PollingThread poller(*server);
  RawClient client(socket_path_);
  ASSERT_TRUE(client.Send(std::string(kAdminMaxRequestBytes + 4096, 'x')));
  const json error = ParseLine(client.ReadLine());
  EXPECT_EQ(error, (json{{"ok", false}, {"error", "request exceeds 65536 bytes"}}));
  EXPECT_TRUE(client.WaitForClose());
}

TEST_F(AdminServerTest, RequestOfExactlyTheLimitIsAccepted) {
  std::unique_ptr<AdminServer> server = Listen();
  ASSERT_NE(server, nullptr);
  PollingThread poller(*server);
  const std::string prefix = R"({"command":"show","args":[")";
  const std::string suffix = R"("]})";
  const std::string padding(kAdminMaxRequestBytes - prefix.size() - suffix.size(), 'p');
  absl::StatusOr<json> response =
      AdminCall(socket_path_, json::parse(prefix + padding + suffix), kCallTimeout);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ((*response)["ok"], true);
  EXPECT_EQ((*response)["result"]["args"][0].get<std::string>().size(), padding.size());
}

TEST_F(AdminServerTest, LastRequestWithoutNewlineIsAnsweredAfterHalfClose) {
  std::unique_ptr<AdminServer> server = Listen();
  ASSERT_NE(server, nullptr);
  PollingThread poller(*server);
  RawClient client(socket_path_);
  ASSERT_TRUE(client.Send(R"({"command":"show","args":["drops"]})"));
  client.ShutdownWrite();
  EXPECT_EQ(ParseLine(client.ReadLine())["result"]["args"], json({"drops"}));
  EXPECT_TRUE(client.WaitForClose());
}

TEST_F(AdminServerTest, SecondListenWhileFirstServesFailsAndLeavesFirstIntact) {
  std::unique_ptr<AdminServer> first = Listen();
  ASSERT_NE(first, nullptr);
  absl::StatusOr<std::unique_ptr<AdminServer>> second =
      AdminServer::Listen(socket_path_, EchoHandler);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr("another isthmusd is already answering on " + socket_path_));
  PollingThread poller(*first);
  absl::StatusOr<json> response = AdminCall(socket_path_, {{"command", "show"}}, kCallTimeout);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ((*response)["ok"], true);
}

TEST_F(AdminServerTest, StaleSocketFileIsReplaced) {
  ASSERT_EQ(::mkdir(dir_.Child("run").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir(dir_.Child("run/isthmus").c_str(), 0700), 0);
  MakeStaleSocket(socket_path_);
  ASSERT_TRUE(S_ISSOCK(ModeOf(socket_path_)));
  std::unique_ptr<AdminServer> server = Listen();
  ASSERT_NE(server, nullptr);
  PollingThread poller(*server);
  absl::StatusOr<json> response = AdminCall(socket_path_, {{"command", "show"}}, kCallTimeout);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ((*response)["ok"], true);
}

TEST_F(AdminServerTest, RefusesToReplaceSomethingThatIsNotASocket) {
  const std::string path = dir_.Child("not-a-socket");
  std::ofstream(path) << "precious";
  absl::StatusOr<std::unique_ptr<AdminServer>> server = AdminServer::Listen(path, EchoHandler);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("is not a socket"));
  EXPECT_TRUE(S_ISREG(ModeOf(path)));
}

TEST_F(AdminServerTest, DestructorRemovesTheSocketFile) {
  std::unique_ptr<AdminServer> server = Listen();
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(S_ISSOCK(ModeOf(socket_path_)));
  server.reset();
  EXPECT_EQ(ModeOf(socket_path_), 0u);
}

TEST_F(AdminServerTest, IdleClientIsDisconnected) {
  AdminServerOptions options;
  options.idle_timeout = absl::Milliseconds(200);
  std::unique_ptr<AdminServer> server = Listen(options);
  ASSERT_NE(server, nullptr);
  PollingThread poller(*server);
  RawClient idle(socket_path_);
  ASSERT_TRUE(idle.connected());
  EXPECT_TRUE(idle.WaitForClose(std::chrono::milliseconds(3000)));
}

TEST_F(AdminServerTest, ConnectionsBeyondTheLimitAreTurnedAway) {
  AdminServerOptions options;
  options.max_clients = 1;
  std::unique_ptr<AdminServer> server = Listen(options);
  ASSERT_NE(server, nullptr);
  PollingThread poller(*server);
  RawClient first(socket_path_);
  ASSERT_TRUE(first.Send("{\"command\":\"show\"}\n"));
  ASSERT_TRUE(first.ReadLine().has_value());  // first is now registered
  RawClient second(socket_path_);
  const json refused = ParseLine(second.ReadLine());
  EXPECT_EQ(refused["ok"], false);
  EXPECT_THAT(refused["error"].get<std::string>(), HasSubstr("too many admin connections"));
}

TEST_F(AdminServerTest, PipelinedRequestsWithLargeAnswersArriveInOrder) {
  // Answers far larger than the socket buffer force the server through its
  // partial-write path while more requests wait in its input buffer.
  constexpr int kRequests = 40;
  constexpr size_t kBlobBytes = 50 * 1024;
  const AdminHandler big = [](const AdminRequest& r) -> absl::StatusOr<json> {
    return json{{"index", r.args.at(0)}, {"blob", std::string(kBlobBytes, 'b')}};
  };
  absl::StatusOr<std::unique_ptr<AdminServer>> server = AdminServer::Listen(socket_path_, big);
  ASSERT_TRUE(server.ok()) << server.status();
  PollingThread poller(**server);
  RawClient client(socket_path_);
  std::string requests;
  for (int i = 0; i < kRequests; ++i) {
    requests += json{{"command", "big"}, {"args", {std::to_string(i)}}}.dump() + "\n";
  }
  ASSERT_TRUE(client.Send(requests));
  for (int i = 0; i < kRequests; ++i) {
    const json answer = ParseLine(client.ReadLine());
    ASSERT_EQ(answer["result"]["index"], std::to_string(i));
    ASSERT_EQ(answer["result"]["blob"].get<std::string>().size(), kBlobBytes);
  }
}

TEST(AdminCallTest, NoDaemonGivesAClearError) {
  TempDir dir;
  const std::string path = dir.Child("isthmusd.sock");
  absl::StatusOr<json> response = AdminCall(path, {{"command", "show"}}, kCallTimeout);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(std::string(response.status().message()),
            "cannot connect to " + path + ": No such file or directory — is isthmusd running?");
}

TEST(AdminCallTest, SilentDaemonTimesOut) {
  TempDir dir;
  const std::string path = dir.Child("isthmusd.sock");
  absl::StatusOr<std::unique_ptr<AdminServer>> server = AdminServer::Listen(path, EchoHandler);
  ASSERT_TRUE(server.ok()) << server.status();
  // Nobody calls Poll(): the connection sits in the backlog unanswered.
  absl::StatusOr<json> response =
      AdminCall(path, {{"command", "show"}}, absl::Milliseconds(200));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(response.status().message()), HasSubstr("no answer from isthmusd"));
}

TEST(AdminServerListenTest, TooLongPathIsRejected) {
  const std::string path = "/tmp/" + std::string(200, 'a') + ".sock";
  absl::StatusOr<std::unique_ptr<AdminServer>> server = AdminServer::Listen(path, EchoHandler);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("must be 1 to 107 bytes long"));
}

}  // namespace
}  // namespace isthmus
