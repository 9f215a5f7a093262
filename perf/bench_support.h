#pragma once
// Pieces every benchmark program in perf/ shares: the two clocks a figure
// is taken with, the per-packet report, and a private EAL without
// hugepages or devices.

#include <benchmark/benchmark.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace isthmus::perf {

inline constexpr uint64_t kNanosPerSecond = 1000000000;
inline constexpr double kMega = 1e6;

// Two clocks: the TSC (wall time, what a dedicated core would see) and this
// thread's CPU time, which excludes the time the scheduler gave to other
// processes — on a shared 2-vCPU machine the two differ.
struct Clocks {
  uint64_t tsc = 0;
  uint64_t cpu_ns = 0;
  static Clocks Now() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return {rte_rdtsc_precise(), static_cast<uint64_t>(ts.tv_sec) * kNanosPerSecond + static_cast<uint64_t>(ts.tv_nsec)};
  }
  Clocks operator-(const Clocks& o) const { return {tsc - o.tsc, cpu_ns - o.cpu_ns}; }
  Clocks& operator+=(const Clocks& o) {
    tsc += o.tsc;
    cpu_ns += o.cpu_ns;
    return *this;
  }
  // TSC cycles of the CPU time.
  double CpuCycles() const {
    return static_cast<double>(cpu_ns) * static_cast<double>(rte_get_tsc_hz()) / kNanosPerSecond;
  }
};

// cycles_per_pkt counts TSC cycles of CPU time the thread actually ran;
// wall_cycles_per_pkt counts elapsed TSC cycles. Mpps follows the former.
inline void ReportRate(benchmark::State& state, const Clocks& spent, uint64_t packets) {
  if (packets == 0 || spent.tsc == 0 || spent.cpu_ns == 0) return;
  const double hz = static_cast<double>(rte_get_tsc_hz());
  const double per_packet = spent.CpuCycles() / static_cast<double>(packets);
  state.counters["cycles_per_pkt"] = per_packet;
  state.counters["wall_cycles_per_pkt"] = static_cast<double>(spent.tsc) / static_cast<double>(packets);
  state.counters["Mpps"] = hz / per_packet / kMega;
  state.SetItemsProcessed(static_cast<int64_t>(packets));
}

// EAL, once per process (a second rte_eal_init fails), with its runtime
// files in a fresh directory under /tmp that the caller removes at exit.
inline absl::StatusOr<std::filesystem::path> StartEal(const char* program, const std::string& name,
                                                      const std::string& memory_mb) {
  std::string dir_template = "/tmp/" + name + ".XXXXXX";
  if (mkdtemp(dir_template.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  // EAL keeps its runtime files here instead of /var/run/dpdk.
  setenv("RUNTIME_DIRECTORY", dir_template.c_str(), 1);
  const std::string prefix = absl::StrCat("--file-prefix=", name, getpid());
  std::vector<std::string> args = {program, "--no-huge", "-m", memory_mb, "--no-pci", "--no-shconf",
                                   "--no-telemetry", prefix, "-l", "0", "--log-level=*:error"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
    return absl::InternalError(absl::StrCat("rte_eal_init: ", rte_strerror(rte_errno)));
  }
  return std::filesystem::path(dir_template);
}

// A benchmark program's main: flags, the EAL, the benchmarks, then
// `before_cleanup` (what must go before the EAL does), EAL cleanup and the
// runtime directory.
inline int RunBenchmarksWithEal(int argc, char** argv, const std::string& name, const std::string& memory_mb,
                                const std::function<void()>& before_cleanup = {}) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  auto runtime_dir = StartEal(argv[0], name, memory_mb);
  if (!runtime_dir.ok()) {
    spdlog::error("{}", runtime_dir.status().ToString());
    return 1;
  }
  spdlog::info("TSC {:.3f} GHz", static_cast<double>(rte_get_tsc_hz()) / 1e9);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (before_cleanup) before_cleanup();
  rte_eal_cleanup();
  std::error_code ignored;
  std::filesystem::remove_all(*runtime_dir, ignored);
  return 0;
}

}  // namespace isthmus::perf
