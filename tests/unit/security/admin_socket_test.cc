// Where the admin socket may live (control/admin/admin_server.h): the
// directory rule for every mode and owner, and Listen refusing a directory
// others may write.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "control/admin/admin_server.h"
#include "tests/unit/security/security_test_support.h"

namespace isthmus {
namespace {

using ::testing::HasSubstr;

constexpr uid_t kRoot = 0;
constexpr uid_t kDaemon = 998;
constexpr uid_t kStranger = 1234;
constexpr char kDir[] = "/run/isthmus";

struct DirCase {
  std::string description;
  mode_t mode;
  uid_t owner;
  bool accepted;
  std::string message_has;  // when refused
};

class SocketDirectoryTest : public ::testing::TestWithParam<DirCase> {};

TEST_P(SocketDirectoryTest, AppliesTheRule) {
  const DirCase& c = GetParam();
  const absl::Status s = CheckSocketDirectory(kDir, c.mode, c.owner, kDaemon);
  if (c.accepted) {
    EXPECT_TRUE(s.ok()) << s;
    return;
  }
  ASSERT_FALSE(s.ok());
  const std::string msg(s.message());
  EXPECT_THAT(msg, HasSubstr(kDir));
  EXPECT_THAT(msg, HasSubstr("accepted"));
  EXPECT_THAT(msg, HasSubstr(c.message_has));
}

INSTANTIATE_TEST_SUITE_P(
    Rule, SocketDirectoryTest,
    ::testing::Values(DirCase{"0750 root", S_IFDIR | 0750, kRoot, true, ""},
                      DirCase{"0755 root", S_IFDIR | 0755, kRoot, true, ""},
                      DirCase{"0700 daemon user", S_IFDIR | 0700, kDaemon, true, ""},
                      DirCase{"0777", S_IFDIR | 0777, kRoot, false, "mode 0777"},
                      DirCase{"1777 like /tmp", S_IFDIR | 01777, kRoot, false, "mode 1777"},
                      DirCase{"0770 group write", S_IFDIR | 0770, kRoot, false, "mode 0770"},
                      DirCase{"another user owns it", S_IFDIR | 0755, kStranger, false, "uid 1234"},
                      DirCase{"not a directory", S_IFREG | 0600, kRoot, false, "not a directory"}),
    [](const ::testing::TestParamInfo<DirCase>& info) {
      return security_testing::Name(info.param.description);
    });

absl::StatusOr<nlohmann::json> Echo(const AdminRequest&) { return nlohmann::json::object(); }

TEST(AdminListenTest, WorldWritableDirectoryRefused) {
  security_testing::TempDir dir;
  const std::string open_dir = dir.path() + "/open";
  ASSERT_EQ(mkdir(open_dir.c_str(), 0700), 0);
  ASSERT_EQ(chmod(open_dir.c_str(), 01777), 0);
  absl::StatusOr<std::unique_ptr<AdminServer>> server = AdminServer::Listen(open_dir + "/isthmusd.sock", Echo);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(server.status().message()), HasSubstr(open_dir));
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("1777"));
  struct stat st {};
  EXPECT_NE(lstat((open_dir + "/isthmusd.sock").c_str(), &st), 0) << "nothing may be created there";
}

TEST(AdminListenTest, CreatedDirectoryIs0750AndSocket0600) {
  security_testing::TempDir dir;
  const std::string sock = dir.path() + "/run/isthmus/isthmusd.sock";
  absl::StatusOr<std::unique_ptr<AdminServer>> server = AdminServer::Listen(sock, Echo);
  ASSERT_TRUE(server.ok()) << server.status();
  struct stat st {};
  ASSERT_EQ(stat((dir.path() + "/run/isthmus").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  ASSERT_EQ(lstat(sock.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

}  // namespace
}  // namespace isthmus
