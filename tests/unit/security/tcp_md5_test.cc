// RFC 2385 on real loopback sockets (bgp/session/transport.h): a signed
// connection is accepted only with the listener's password for that peer;
// the `tcp_md5_key_file` peer option (control/config/bgp_section.cc); and a
// new password resetting the session (Session::NeedsReset).

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "bgp/session/event_loop.h"
#include "bgp/session/listener.h"
#include "bgp/session/session.h"
#include "bgp/session/transport.h"
#include "control/config/config.h"
#include "tests/unit/security/security_test_support.h"

namespace isthmus {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr Ipv4Addr kLoopback{0x7f000001};
// A SYN with a missing or wrong signature is dropped silently (RFC 2385
// 2.0), so a refused connect() simply never completes.
constexpr int kRefusedWaitMs = 400;
constexpr int kAcceptedWaitMs = 2000;

bgp::TcpMd5Password Password(std::string_view text) {
  absl::StatusOr<SecretBytes> bytes = SecretBytes::Copy(text);
  EXPECT_TRUE(bytes.ok());
  return bgp::TcpMd5Password{std::make_shared<const SecretBytes>(*std::move(bytes))};
}

// Whether a client signing with `password` (nullopt: unsigned) completes
// the handshake with 127.0.0.1:`port` within `wait_ms`. The kernel
// completes it before accept(), so the listener need not accept.
bool Connects(uint16_t port, std::optional<std::string_view> password, int wait_ms) {
  bgp::SocketOptions options;
  if (password.has_value()) options.md5 = Password(*password);
  absl::StatusOr<int> fd = bgp::StartConnect(kLoopback, port, options);
  EXPECT_TRUE(fd.ok()) << fd.status();
  if (!fd.ok()) return false;
  pollfd p{*fd, POLLOUT, 0};
  const bool done = poll(&p, 1, wait_ms) == 1 && bgp::ConnectResult(*fd).ok();
  close(*fd);
  return done;
}

class Md5LoopbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(listen_fd_, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(kLoopback.value);
    ASSERT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)), 0);
    ASSERT_EQ(listen(listen_fd_, kBacklog), 0);
    socklen_t len = sizeof(sin);
    ASSERT_EQ(getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sin), &len), 0);
    port_ = ntohs(sin.sin_port);
  }
  void TearDown() override { close(listen_fd_); }

  bool Connects(std::optional<std::string_view> password, int wait_ms) {
    return ::isthmus::Connects(port_, password, wait_ms);
  }

  static constexpr int kBacklog = 16;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
};

TEST_F(Md5LoopbackTest, SamePasswordConnectsOthersDoNot) {
  ASSERT_TRUE(bgp::SetTcpMd5(listen_fd_, kLoopback, "shared secret").ok());
  EXPECT_TRUE(Connects("shared secret", kAcceptedWaitMs));
  EXPECT_FALSE(Connects("another secret", kRefusedWaitMs));
  EXPECT_FALSE(Connects(std::nullopt, kRefusedWaitMs));
}

TEST_F(Md5LoopbackTest, RemovedKeyAcceptsUnsignedAgain) {
  ASSERT_TRUE(bgp::SetTcpMd5(listen_fd_, kLoopback, "k").ok());
  EXPECT_FALSE(Connects(std::nullopt, kRefusedWaitMs));
  ASSERT_TRUE(bgp::SetTcpMd5(listen_fd_, kLoopback, "").ok());
  EXPECT_TRUE(Connects(std::nullopt, kAcceptedWaitMs));
  // Removing a key that is not there is not an error.
  EXPECT_TRUE(bgp::SetTcpMd5(listen_fd_, kLoopback, "").ok());
}

TEST_F(Md5LoopbackTest, SignedClientRefusedByUnsignedListener) {
  EXPECT_FALSE(Connects("only one side", kRefusedWaitMs));
}

// The BGP listener keeps exactly the keys it is given, per peer address.
TEST(ListenerMd5Test, KeysFollowTheConfiguredPeers) {
  absl::StatusOr<std::unique_ptr<bgp::EventLoop>> loop = bgp::EventLoop::Create();
  ASSERT_TRUE(loop.ok()) << loop.status();
  absl::StatusOr<std::unique_ptr<bgp::Listener>> listener =
      bgp::Listener::Create(loop->get(), kLoopback, 0, [](int fd, Ipv4Addr) { close(fd); });
  ASSERT_TRUE(listener.ok()) << listener.status();
  const uint16_t port = (*listener)->port();
  const Ipv4Addr elsewhere{0xc6120102};  // 198.18.1.2: another peer's key must not matter

  ASSERT_TRUE((*listener)->SetMd5Keys({{kLoopback, Password("first")}, {elsewhere, Password("x")}}).ok());
  EXPECT_TRUE(Connects(port, "first", kAcceptedWaitMs));
  EXPECT_FALSE(Connects(port, std::nullopt, kRefusedWaitMs));
  // A new password replaces the old one.
  ASSERT_TRUE((*listener)->SetMd5Keys({{kLoopback, Password("second")}}).ok());
  EXPECT_TRUE(Connects(port, "second", kAcceptedWaitMs));
  EXPECT_FALSE(Connects(port, "first", kRefusedWaitMs));
  // The peer without a password any more: unsigned connections again.
  ASSERT_TRUE((*listener)->SetMd5Keys({{elsewhere, Password("x")}}).ok());
  EXPECT_TRUE(Connects(port, std::nullopt, kAcceptedWaitMs));
}

TEST(TcpMd5OptionTest, TooLongPasswordRefusedWithoutEchoingIt) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  const std::string long_password(81, 'z');
  const absl::Status s = bgp::SetTcpMd5(fd, kLoopback, long_password);
  close(fd);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("81 bytes"));
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("zzzz")));
}

// ------------------------------------------------------------- config

constexpr char kPeerPath[] = "bgp.peers[0].tcp_md5_key_file";

std::string ConfigWithKeyFile(const std::string& key_file) {
  return absl::StrCat(
      "ports:\n  - {name: p0, interface: veth0}\n"
      "bgp:\n  asn: 65010\n  router_id: 198.18.0.10\n"
      "  peers:\n    - name: frr\n      address: 198.18.1.2\n      remote_as: 65020\n"
      "      tcp_md5_key_file: ",
      key_file, "\n");
}

class Md5ConfigTest : public ::testing::Test {
 protected:
  absl::StatusOr<Config> Load(const std::string& key_file) {
    return LoadConfigText(ConfigWithKeyFile(key_file), "test.yaml");
  }
  security_testing::TempDir dir_;
};

TEST_F(Md5ConfigTest, PasswordReadWithoutTrailingNewline) {
  const std::string file = dir_.Write("md5", "s3cret pw\n", 0600);
  absl::StatusOr<Config> config = Load(file);
  ASSERT_TRUE(config.ok()) << config.status();
  const bgp::PeerConfig& peer = config->bgp.peers.at(0);
  EXPECT_EQ(peer.tcp_md5_key_file, file);
  ASSERT_TRUE(peer.tcp_md5.configured());
  EXPECT_EQ(peer.tcp_md5.bytes->view(), "s3cret pw");
}

TEST_F(Md5ConfigTest, NoKeyFileNoPassword) {
  absl::StatusOr<Config> config = LoadConfigText(
      "ports:\n  - {name: p0, interface: veth0}\n"
      "bgp:\n  asn: 65010\n  router_id: 198.18.0.10\n"
      "  peers:\n    - {name: frr, address: 198.18.1.2, remote_as: 65020}\n",
      "test.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->bgp.peers.at(0).tcp_md5.configured());
}

struct RefusedKeyFile {
  std::string description;
  std::string content;
  mode_t mode;
  bool relative;
  std::string message_has;
};

class Md5ConfigRefusedTest : public Md5ConfigTest, public ::testing::WithParamInterface<RefusedKeyFile> {};

TEST_P(Md5ConfigRefusedTest, NamesFileKeyAndRuleNeverThePassword) {
  const RefusedKeyFile& c = GetParam();
  const std::string file = dir_.Write("md5", c.content, c.mode);
  absl::StatusOr<Config> config = Load(c.relative ? "md5" : file);
  ASSERT_FALSE(config.ok());
  const std::string msg(config.status().message());
  EXPECT_THAT(msg, HasSubstr("test.yaml"));
  EXPECT_THAT(msg, HasSubstr(kPeerPath));
  EXPECT_THAT(msg, HasSubstr("0600 or 0400"));
  EXPECT_THAT(msg, HasSubstr(c.message_has));
  if (c.content.size() >= 6) {
    EXPECT_THAT(msg, Not(HasSubstr(c.content.substr(0, 6))));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Refused, Md5ConfigRefusedTest,
    ::testing::Values(
        RefusedKeyFile{"group readable", "PwGroupReadable", 0640, false, "mode 0640"},
        RefusedKeyFile{"world readable", "PwWorldReadable", 0644, false, "mode 0644"},
        RefusedKeyFile{"empty", "", 0600, false, "0 bytes"},
        RefusedKeyFile{"only a newline", "\n", 0600, false, "0 bytes"},
        RefusedKeyFile{"81 bytes", std::string(81, 'Q'), 0600, false, "81 bytes"},
        RefusedKeyFile{"relative path", "PwRelative", 0600, true, "not an absolute path"}),
    [](const ::testing::TestParamInfo<RefusedKeyFile>& info) {
      return security_testing::Name(info.param.description);
    });

TEST_F(Md5ConfigTest, EightyBytesAccepted) {
  const std::string file = dir_.Write("md5", std::string(80, 'p') + "\r\n", 0400);
  absl::StatusOr<Config> config = Load(file);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->bgp.peers.at(0).tcp_md5.bytes->size(), 80u);
}

// Reload semantics: same bytes (even from a re-read file) change nothing;
// new bytes, a removed or an added password reset the session.
TEST_F(Md5ConfigTest, NewPasswordResetsTheSessionSameBytesDoNot) {
  const std::string a = dir_.Write("a", "alpha\n", 0600);
  const std::string a_again = dir_.Write("a2", "alpha", 0600);
  const std::string b = dir_.Write("b", "bravo\n", 0600);
  absl::StatusOr<Config> ca = Load(a);
  absl::StatusOr<Config> ca2 = Load(a_again);
  absl::StatusOr<Config> cb = Load(b);
  ASSERT_TRUE(ca.ok() && ca2.ok() && cb.ok());
  bgp::PeerConfig none = ca->bgp.peers[0];
  none.tcp_md5 = {};
  none.tcp_md5_key_file.clear();
  EXPECT_FALSE(bgp::Session::NeedsReset(ca->bgp.peers[0], ca2->bgp.peers[0]));
  EXPECT_TRUE(bgp::Session::NeedsReset(ca->bgp.peers[0], cb->bgp.peers[0]));
  EXPECT_TRUE(bgp::Session::NeedsReset(ca->bgp.peers[0], none));
  EXPECT_TRUE(bgp::Session::NeedsReset(none, ca->bgp.peers[0]));
}

}  // namespace
}  // namespace isthmus
