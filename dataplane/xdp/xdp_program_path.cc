#include "dataplane/xdp/xdp_program_path.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace isthmus {
namespace {

#ifndef ISTHMUS_XDP_INSTALLED_PATH
#error "meson passes ISTHMUS_XDP_INSTALLED_PATH (<prefix>/<libdir>/isthmus/isthmus_xdp.bpf.o)"
#endif

constexpr char kInstalledPath[] = ISTHMUS_XDP_INSTALLED_PATH;
constexpr char kBuildTreeRelativePath[] = "dataplane/xdp/isthmus_xdp.bpf.o";
// Binaries sit at most this deep below the build root
// (build/tests/unit/xdp/xdp_test is three levels down).
constexpr int kMaxBuildTreeDepth = 4;

std::string FindInBuildTree() {
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  std::filesystem::path dir = exe.parent_path();
  for (int depth = 0; depth <= kMaxBuildTreeDepth && !dir.empty(); ++depth) {
    std::filesystem::path candidate = dir / kBuildTreeRelativePath;
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate.string();
    if (dir == dir.root_path()) break;
    dir = dir.parent_path();
  }
  return "";
}

}  // namespace

std::string DefaultXdpProgramPath() {
  if (const char* env = std::getenv(kXdpProgramEnv); env != nullptr && *env != '\0') {
    return env;
  }
  if (std::string built = FindInBuildTree(); !built.empty()) return built;
  return kInstalledPath;
}

}  // namespace isthmus
