// Key files and secret buffers (control/config/secret_file.h): the
// permission rule for every mode and owner, reading, the no-dump mapping,
// and the process-wide core dump switch.

#include "control/config/secret_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/security/security_test_support.h"

namespace isthmus {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr uid_t kRoot = 0;
constexpr uid_t kDaemon = 998;
constexpr uid_t kStranger = 1234;
constexpr char kWhat[] = "test key file";
constexpr char kPath[] = "/etc/isthmus/k";

struct StatCase {
  std::string description;
  mode_t mode;
  uid_t owner;
  bool accepted;
  std::vector<std::string> message_has;  // when refused
};

class SecretFileStatTest : public ::testing::TestWithParam<StatCase> {};

TEST_P(SecretFileStatTest, AppliesTheRule) {
  const StatCase& c = GetParam();
  const absl::Status s = CheckSecretFileStat(kPath, kWhat, c.mode, c.owner, kDaemon);
  if (c.accepted) {
    EXPECT_TRUE(s.ok()) << s;
    return;
  }
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  const std::string msg(s.message());
  EXPECT_THAT(msg, HasSubstr(kPath));
  EXPECT_THAT(msg, HasSubstr(kWhat));
  EXPECT_THAT(msg, HasSubstr("accepted"));
  for (const std::string& part : c.message_has) EXPECT_THAT(msg, HasSubstr(part));
}

INSTANTIATE_TEST_SUITE_P(
    Rule, SecretFileStatTest,
    ::testing::Values(
        StatCase{"0600 root", S_IFREG | 0600, kRoot, true, {}},
        StatCase{"0400 root", S_IFREG | 0400, kRoot, true, {}},
        StatCase{"0600 daemon user", S_IFREG | 0600, kDaemon, true, {}},
        StatCase{"0000 root", S_IFREG | 0000, kRoot, true, {}},
        StatCase{"0640 group read", S_IFREG | 0640, kRoot, false, {"0640", "0600"}},
        StatCase{"0620 group write", S_IFREG | 0620, kRoot, false, {"0620", "0600"}},
        StatCase{"0604 other read", S_IFREG | 0604, kRoot, false, {"0604"}},
        StatCase{"0602 other write", S_IFREG | 0602, kRoot, false, {"0602"}},
        StatCase{"0644", S_IFREG | 0644, kRoot, false, {"0644"}},
        StatCase{"0601 other exec", S_IFREG | 0601, kRoot, false, {"0601"}},
        StatCase{"another user owns it", S_IFREG | 0600, kStranger, false, {"uid 1234", "root (uid 0)", "uid 998"}},
        StatCase{"directory", S_IFDIR | 0700, kRoot, false, {"not a regular file", "0700"}},
        StatCase{"fifo", S_IFIFO | 0600, kRoot, false, {"not a regular file"}}),
    [](const ::testing::TestParamInfo<StatCase>& info) {
      return security_testing::Name(info.param.description);
    });

class ReadSecretFileTest : public ::testing::Test {
 protected:
  security_testing::TempDir dir_;
};

TEST_F(ReadSecretFileTest, ReadsTheBytesOfAProtectedFile) {
  const std::string path = dir_.Write("k", "pass word\n", 0600);
  absl::StatusOr<SecretBytes> s = ReadSecretFile(path, kWhat, 64);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->view(), "pass word\n");
}

TEST_F(ReadSecretFileTest, ExactlyMaxBytesAcceptedOneMoreRefused) {
  const std::string fits = dir_.Write("fits", std::string(16, 'x'), 0400);
  absl::StatusOr<SecretBytes> ok = ReadSecretFile(fits, kWhat, 16);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->size(), 16u);
  const std::string big = dir_.Write("big", std::string(17, 'y'), 0600);
  absl::StatusOr<SecretBytes> refused = ReadSecretFile(big, kWhat, 16);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr(big));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("16 bytes"));
  EXPECT_THAT(std::string(refused.status().message()), Not(HasSubstr("yyyy")));
}

TEST_F(ReadSecretFileTest, OpenModeRefusedWithoutItsBytes) {
  const std::string path = dir_.Write("open", "topsecretvalue", 0644);
  absl::StatusOr<SecretBytes> s = ReadSecretFile(path, kWhat, 64);
  ASSERT_FALSE(s.ok());
  const std::string msg(s.status().message());
  EXPECT_THAT(msg, HasSubstr(path));
  EXPECT_THAT(msg, HasSubstr("0644"));
  EXPECT_THAT(msg, Not(HasSubstr("topsecret")));
}

TEST_F(ReadSecretFileTest, FileOfAnotherUserRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  const std::string path = dir_.Write("foreign", "x", 0600);
  ASSERT_EQ(chown(path.c_str(), kStranger, static_cast<gid_t>(-1)), 0);
  absl::StatusOr<SecretBytes> s = ReadSecretFile(path, kWhat, 64);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("owned by uid 1234"));
}

TEST_F(ReadSecretFileTest, MissingFileNamed) {
  const std::string path = dir_.path() + "/absent";
  absl::StatusOr<SecretBytes> s = ReadSecretFile(path, kWhat, 64);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr(path));
}

// The VmFlags line of the mapping holding `p` in /proc/self/smaps.
std::string VmFlagsOf(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  const auto addr = reinterpret_cast<uintptr_t>(p);
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2) {
      inside = addr >= lo && addr < hi;
      continue;
    }
    if (inside && line.rfind("VmFlags:", 0) == 0) return line;
  }
  return "";
}

TEST(SecretBytesTest, HeldInNoDumpMemory) {
  absl::StatusOr<SecretBytes> s = SecretBytes::Copy("key bytes");
  ASSERT_TRUE(s.ok()) << s.status();
  const std::string flags = VmFlagsOf(s->data());
  ASSERT_FALSE(flags.empty()) << "mapping not found in /proc/self/smaps";
  // "dd": do not include in core dump (proc(5)).
  EXPECT_THAT(flags, HasSubstr(" dd")) << flags;
}

TEST(SecretBytesTest, ComparesByContentAndMovesOut) {
  absl::StatusOr<SecretBytes> a = SecretBytes::Copy("same");
  absl::StatusOr<SecretBytes> b = SecretBytes::Copy("same");
  absl::StatusOr<SecretBytes> c = SecretBytes::Copy("diff");
  absl::StatusOr<SecretBytes> d = SecretBytes::Copy("same!");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
  EXPECT_TRUE(a->SameBytes(*b));
  EXPECT_FALSE(a->SameBytes(*c));
  EXPECT_FALSE(a->SameBytes(*d));
  SecretBytes moved = *std::move(a);
  EXPECT_EQ(moved.view(), "same");
  EXPECT_TRUE(a->empty());  // NOLINT(bugprone-use-after-move): the moved-from state is the point
}

// In a child: the switch is process-wide and cannot be undone in a test.
TEST(DisableCoreDumpsTest, ProcessBecomesNonDumpableWithNoCoreLimit) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (!DisableCoreDumps().ok()) _exit(2);
    rlimit lim{};
    if (getrlimit(RLIMIT_CORE, &lim) != 0 || lim.rlim_cur != 0 || lim.rlim_max != 0) _exit(3);
    _exit(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0 ? 0 : 4);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "2: call failed, 3: RLIMIT_CORE not 0, 4: still dumpable";
}

}  // namespace
}  // namespace isthmus
