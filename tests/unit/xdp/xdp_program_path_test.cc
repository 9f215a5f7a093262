#include "dataplane/xdp/xdp_program_path.h"

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "gtest/gtest.h"

namespace isthmus {
namespace {

// Restores ISTHMUS_XDP_PROG as the test found it (meson sets it).
class XdpProgramPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* v = std::getenv(kXdpProgramEnv)) saved_ = v;
  }
  void TearDown() override {
    if (saved_) {
      setenv(kXdpProgramEnv, saved_->c_str(), 1);
    } else {
      unsetenv(kXdpProgramEnv);
    }
  }
  std::optional<std::string> saved_;
};

TEST_F(XdpProgramPathTest, EnvironmentWins) {
  setenv(kXdpProgramEnv, "/nonexistent/custom.bpf.o", 1);
  EXPECT_EQ(DefaultXdpProgramPath(), "/nonexistent/custom.bpf.o");
}

TEST_F(XdpProgramPathTest, EmptyEnvironmentIsIgnored) {
  setenv(kXdpProgramEnv, "", 1);
  EXPECT_NE(DefaultXdpProgramPath(), "");
}

// This binary lives in build/tests/unit/xdp/, so the search from
// /proc/self/exe must find the object built in build/dataplane/xdp/.
TEST_F(XdpProgramPathTest, FindsTheObjectOfThisBuildTree) {
  unsetenv(kXdpProgramEnv);
  std::filesystem::path found = DefaultXdpProgramPath();
  EXPECT_TRUE(std::filesystem::is_regular_file(found)) << found;
  EXPECT_EQ(found.filename(), "isthmus_xdp.bpf.o");
  EXPECT_EQ(found.parent_path().filename(), "xdp");
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe");
  std::filesystem::path build_root = exe.parent_path().parent_path().parent_path().parent_path();
  EXPECT_EQ(std::filesystem::weakly_canonical(found),
            std::filesystem::weakly_canonical(build_root / "dataplane/xdp/isthmus_xdp.bpf.o"));
}

}  // namespace
}  // namespace isthmus
