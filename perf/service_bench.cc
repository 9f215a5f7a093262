// Google Benchmark programs for the service lookup a worker does for each
// packet of a new flow (dataplane/service): the flow hash, the Maglev pick,
// the VIP check and the (VIP, protocol, port) lookup; and the control
// thread's table rebuild when a backend comes or goes.
//
// Per-packet figures run over 4096 random 5-tuples (an L1-resident input:
// what is measured is the computation, not memory stalls on the tuples),
// beside BM_Baseline, which reads the same tuples and only sums them.
// Quote the median of --benchmark_repetitions=5 runs, in ns per packet
// (items_per_second gives packets per second).

#include <benchmark/benchmark.h>
#include <netinet/in.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "dataplane/service/flow_hash.h"
#include "dataplane/service/maglev.h"
#include "dataplane/service/service_table.h"

namespace isthmus::perf {
namespace {

constexpr size_t kTuples = 4096;  // a power of two: index with a mask
constexpr uint32_t kVip = 0xcb00710a;  // 203.0.113.10
constexpr uint16_t kVipPort = 443;

struct Tuple {
  uint32_t src;
  uint32_t dst;
  uint16_t sport;
  uint16_t dport;
  uint8_t proto;
};

const std::vector<Tuple>& Tuples() {
  static const std::vector<Tuple> tuples = [] {
    std::mt19937 rng(42);
    std::vector<Tuple> out(kTuples);
    for (Tuple& t : out) {
      t = {static_cast<uint32_t>(rng()), kVip, static_cast<uint16_t>(rng() | 1024), kVipPort, IPPROTO_TCP};
    }
    return out;
  }();
  return tuples;
}

std::vector<MaglevBackend> Backends(int64_t n) {
  std::vector<MaglevBackend> out;
  for (int64_t i = 0; i < n; ++i) out.push_back({0xc6120000u + static_cast<uint32_t>(i), 8080, 1});
  return out;
}

void BM_Baseline(benchmark::State& state) {
  const auto& tuples = Tuples();
  size_t i = 0;
  for (auto _ : state) {
    const Tuple& t = tuples[i++ & (kTuples - 1)];
    benchmark::DoNotOptimize(t.src + t.dst + t.sport + t.dport + t.proto);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Baseline);

void BM_FlowHash(benchmark::State& state) {
  const auto& tuples = Tuples();
  size_t i = 0;
  for (auto _ : state) {
    const Tuple& t = tuples[i++ & (kTuples - 1)];
    benchmark::DoNotOptimize(FlowHash(t.src, t.dst, t.sport, t.dport, t.proto));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FlowHash);

// FlowHash + Pick: the choice of a backend for a new flow.
void BM_FlowHashAndPick(benchmark::State& state) {
  const auto& tuples = Tuples();
  const auto table = MaglevTable::Build(Backends(state.range(0)));
  if (!table.ok()) {
    state.SkipWithError(std::string(table.status().message()).c_str());
    return;
  }
  size_t i = 0;
  for (auto _ : state) {
    const Tuple& t = tuples[i++ & (kTuples - 1)];
    benchmark::DoNotOptimize(table->Pick(FlowHash(t.src, t.dst, t.sport, t.dport, t.proto)));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FlowHashAndPick)->Arg(2)->Arg(16)->Arg(256);

// What the NAT stage does for a packet with no flow entry: is the
// destination a VIP, which service, which backend. 64 services.
void BM_ServiceLookupAndPick(benchmark::State& state) {
  constexpr uint32_t kServices = 64;
  std::vector<ServiceConfig> services;
  for (uint32_t s = 0; s < kServices; ++s) {
    ServiceConfig c;
    c.name = "s" + std::to_string(s);
    c.vip = {kVip + s};
    c.ports = {80, kVipPort};
    for (const MaglevBackend& b : Backends(16)) c.backends.push_back({{b.address}, b.port, b.weight});
    services.push_back(std::move(c));
  }
  const auto snapshot =
      ServiceSnapshot::Build(services, kDefaultMaglevTableSize, [](size_t, size_t) { return true; });
  if (!snapshot.ok()) {
    state.SkipWithError(std::string(snapshot.status().message()).c_str());
    return;
  }
  const auto& tuples = Tuples();
  size_t i = 0;
  for (auto _ : state) {
    const Tuple& t = tuples[i++ & (kTuples - 1)];
    const uint32_t dst = t.dst + (t.src & (kServices - 1));
    uint32_t backend = kNoBackend;
    if ((*snapshot)->IsVip(dst)) {
      const ServiceEntry* e = (*snapshot)->Find(dst, t.proto, t.dport);
      if (e != nullptr) backend = e->PickBackend(FlowHash(t.src, dst, t.sport, t.dport, t.proto));
    }
    benchmark::DoNotOptimize(backend);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ServiceLookupAndPick);

// The control thread's cost when a backend's health changes (one service).
void BM_MaglevBuild(benchmark::State& state) {
  const std::vector<MaglevBackend> backends = Backends(state.range(0));
  for (auto _ : state) {
    auto table = MaglevTable::Build(backends, kDefaultMaglevTableSize);
    if (!table.ok()) {
      state.SkipWithError(std::string(table.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(table->slots().data());
  }
}
BENCHMARK(BM_MaglevBuild)->Arg(2)->Arg(16)->Arg(256)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace isthmus::perf

BENCHMARK_MAIN();
