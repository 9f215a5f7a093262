// isthmusd: the Isthmus network virtual appliance daemon.

#include <cstdio>
#include <cstring>
#include <string>

#include "control/config/config.h"
#include "control/config/secret_file.h"
#include "control/daemon/daemon.h"
#include "isthmus_version.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "control/log_format.h"
#include "spdlog/spdlog.h"

namespace {

constexpr int kExitUsage = 2;

void Usage(FILE* out) {
  std::fprintf(out,
               "usage: isthmusd --config FILE      run the appliance\n"
               "       isthmusd --check-config FILE  validate FILE, list every error, exit non-zero if any\n"
               "       isthmusd --version\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--version") {
      std::printf("isthmusd %s\n", ISTHMUS_VERSION);
      return 0;
    }
    if (arg == "--help" || arg == "-h") {
      Usage(stdout);
      return 0;
    }
    if ((arg == "--config" || arg == "--check-config") && i + 1 < argc) {
      check_only = arg == "--check-config";
      config_path = argv[++i];
      continue;
    }
    std::fprintf(stderr, "isthmusd: unknown or incomplete argument '%s'\n", arg.c_str());
    Usage(stderr);
    return kExitUsage;
  }
  if (config_path.empty()) {
    Usage(stderr);
    return kExitUsage;
  }
  // Before any key file is read: key bytes (ESP keys, TCP-MD5 passwords,
  // DPDK's copies in cryptodev sessions) must never reach a core file.
  // docs/security.md explains the choice.
  if (absl::Status s = isthmus::DisableCoreDumps(); !s.ok()) {
    std::fprintf(stderr, "isthmusd: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  auto logger = spdlog::stderr_color_mt("isthmusd");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  auto config = isthmus::LoadConfigFile(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", std::string(config.status().message()).c_str());
    return 1;
  }
  if (check_only) {
    std::printf("%s: configuration is valid\n", config_path.c_str());
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  isthmus::Daemon daemon(std::move(*config));
  if (absl::Status s = daemon.Run(); !s.ok()) {
    spdlog::critical("{}", s.message());
    return 1;
  }
  spdlog::info("stopped");
  return 0;
}
