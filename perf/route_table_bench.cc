// The control thread's share of a full-table BGP ingest: 1,000,000 best
// paths applied to a RouteTable that programs a real Fib (DIR-24-8 in DPDK
// memory) and tells a KernelRouteMirror about every change, as isthmusd
// wires them (control/daemon). The mirror's writer discards the changes
// (no kernel) and is held shut until the whole table is applied, so the
// heap figure includes a mirror queue holding every prefix: the worst case,
// when the mirror thread (nice 19) gets no CPU during the ingest.
//
// Figures: ns_per_route (CPU time of the applying thread), heap_B_per_route
// (glibc mallinfo2 in-use plus mmap()ed bytes after the apply, minus before, over the
// routes; the FIB's DPDK tables are not on the heap and not counted).
//
//   build-cc/perf/route_table_bench --benchmark_repetitions=5

#include <malloc.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "control/netlink/kernel_route_mirror.h"
#include "control/routing/route_table.h"
#include "dataplane/fib/fib.h"
#include "dataplane/neighbor/neighbor_table.h"
#include "perf/bench_support.h"

namespace isthmus::perf {
namespace {

constexpr uint32_t kRoutes = 1000000;
// Best paths per ApplyBgp call, as control/daemon/bgp_glue.cc slices them.
constexpr size_t kSlice = 1 << 16;
constexpr uint16_t kPort = 1;
constexpr int kIfindexOffset = 10;   // stand-in for the port's kernel interface

// perf/bgp_injector.py LENGTH_MIX: (prefix length, percent), DFZ-like.
constexpr struct {
  uint8_t len;
  int percent;
} kLengthMix[] = {{24, 60}, {23, 10}, {22, 12}, {21, 5}, {20, 5}, {19, 3}, {18, 2}, {17, 1}, {16, 2}};

// Heap bytes in use: small chunks plus the mmap()ed ones (hash tables of a
// million entries are allocated with mmap and are not in uordblks).
size_t HeapInUse() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// Distinct random prefixes with the length mix, all through one gateway on
// the connected subnet 198.18.1.0/24.
const std::vector<BgpRoute>& Table() {
  static const std::vector<BgpRoute> table = [] {
    std::vector<uint8_t> lengths;
    for (const auto& m : kLengthMix) lengths.insert(lengths.end(), static_cast<size_t>(m.percent), m.len);
    std::mt19937 rng(42);
    std::uniform_int_distribution<size_t> pick(0, lengths.size() - 1);
    absl::flat_hash_set<uint64_t> seen;
    std::vector<BgpRoute> routes;
    routes.reserve(kRoutes);
    const GatewayList gateway = {Ipv4Addr{0xc6120102}};   // 198.18.1.2
    while (routes.size() < kRoutes) {
      const uint8_t len = lengths[pick(rng)];
      const uint32_t addr = static_cast<uint32_t>(rng()) & (~uint32_t{0} << (32 - len));
      if (!seen.insert(uint64_t{addr} << 8 | len).second) continue;
      routes.push_back(BgpRoute{Ipv4Prefix{Ipv4Addr{addr}, len}, gateway});
    }
    return routes;
  }();
  return table;
}

// The mirror's writer, shut until Open(): the queue keeps everything.
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return open_; });
  }
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Daemon::MirrorToKernel for a FIB whose next hops are all on one port.
KernelRouteMirror::Target TargetOf(const std::vector<Nexthop>& nexthops) {
  KernelRouteMirror::Target target;
  for (const Nexthop& nh : nexthops) {
    if (nh.kind == NexthopKind::kBlackhole) target.blackhole = true;
    if (nh.kind == NexthopKind::kForward) target.nexthops.push_back({nh.port + kIfindexOffset, Ipv4Addr{nh.gateway}});
  }
  return target;
}

void BM_ApplyBgpFullTable(benchmark::State& state) {
  const std::vector<BgpRoute>& table = Table();
  for (auto _ : state) {
    state.PauseTiming();
    FibParams params;
    params.name = "bench_fib";
    params.max_routes = 2 * kRoutes;
    params.tbl8_groups = 1 << 10;
    params.max_groups = 1 << 10;
    params.max_nexthops = 1 << 10;
    auto fib = Fib::Create(params, nullptr);
    auto neighbors = NeighborTable::Create(256, 64, 0);
    if (!fib.ok() || !neighbors.ok()) {
      state.SkipWithError("cannot create the FIB or the neighbour table");
      return;
    }
    Gate gate;
    bool first_write = true;
    auto mirror = std::make_unique<KernelRouteMirror>(
        [](const Ipv4Prefix&, const absl::Status&) {},
        [&](const Ipv4Prefix&, const KernelRouteMirror::Target*) {
          if (first_write) {
            first_write = false;
            gate.Wait();
          }
          return absl::OkStatus();
        });
    RouteTable routes(fib->get(), neighbors->get(), [](uint16_t, uint32_t) {});
    routes.SetObserver([&](const Ipv4Prefix& prefix, RouteSource, const std::vector<Nexthop>* nexthops) {
      if (nexthops == nullptr) {
        mirror->Remove(prefix);
      } else {
        mirror->Replace(prefix, TargetOf(*nexthops));
      }
    });
    const InterfaceAddress address{Ipv4Addr{0xc6120101}, Ipv4Prefix{Ipv4Addr{0xc6120100}, 24}};
    if (!routes.SetAddresses({{kPort, address}}).ok()) {
      state.SkipWithError("SetAddresses failed");
      return;
    }
    // Before the slices exist: they are freed while they are applied.
    malloc_trim(0);
    const size_t heap_before = HeapInUse();
    std::vector<std::vector<BgpRoute>> slices;
    for (size_t i = 0; i < table.size(); i += kSlice) {
      slices.emplace_back(table.begin() + static_cast<std::ptrdiff_t>(i),
                          table.begin() + static_cast<std::ptrdiff_t>(std::min(table.size(), i + kSlice)));
    }
    state.ResumeTiming();

    const Clocks start = Clocks::Now();
    for (std::vector<BgpRoute>& slice : slices) {
      if (!routes.ApplyBgp(slice).ok()) state.SkipWithError("ApplyBgp failed");
      std::vector<BgpRoute>().swap(slice);   // the daemon frees each slice once applied
    }
    const Clocks spent = Clocks::Now() - start;

    state.PauseTiming();
    const size_t heap_after = HeapInUse();
    const size_t queued = mirror->queued();
    gate.Open();
    mirror->Flush();
    state.counters["ns_per_route"] = static_cast<double>(spent.cpu_ns) / kRoutes;
    state.counters["wall_ns_per_route"] =
        static_cast<double>(spent.tsc) * kNanosPerSecond / static_cast<double>(rte_get_tsc_hz()) / kRoutes;
    state.counters["heap_B_per_route"] = (static_cast<double>(heap_after) - static_cast<double>(heap_before)) / kRoutes;
    state.counters["mirror_queued"] = static_cast<double>(queued);
    state.counters["fib_routes"] = fib.value()->routes();
    mirror.reset();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_ApplyBgpFullTable)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace isthmus::perf

int main(int argc, char** argv) { return isthmus::perf::RunBenchmarksWithEal(argc, argv, "route_table_bench", "300"); }
