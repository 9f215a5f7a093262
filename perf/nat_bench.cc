// Google Benchmark programs for the NAT flow table and rewrite
// (dataplane/nat), with 1,000,000 established flows, beside rte_hash doing
// the same lookups and inserts in the same run (the baseline the table was
// chosen against: see dataplane/nat/flow_table.h).
//
//   BM_PacketCopy            the packet source alone: 32 frames copied from a
//                            1M-frame stream into a ring of buffers
//   BM_NatEstablished        the same copy + parse, burst lookup, touch and
//                            DNAT rewrite of every packet (what the stage does)
//   BM_FlowTableLookupBurst  lookups only, 32 keys at a time
//   BM_RteHashLookupBulk     rte_hash_lookup_bulk_data of the same keys
//                            (RW_CONCURRENCY_LF | MULTI_WRITER_ADD, 2 keys/flow)
//   BM_NewFlows/snat:0|1     inserting 1M flows into an empty table, with
//                            SNAT port allocation when snat:1
//   BM_RteHashNewFlows       the two rte_hash_add_key_data a flow would need
//
// Per-packet figures are TSC cycles of the thread's CPU time (the machine
// is shared: see forward_bench.cc) divided by packets; bytes_per_flow counts
// every allocation of the structure (for rte_hash the EAL heap growth, which
// does not include a flow record yet).

#include <benchmark/benchmark.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "dataplane/nat/flow_table.h"
#include "dataplane/nat/nat_rewrite.h"
#include "dataplane/nat/snat_port_allocator.h"
#include "perf/bench_support.h"
#include "tests/unit/common/packet_builder.h"

namespace isthmus::perf {
namespace {

constexpr uint32_t kFlows = 1000000;
constexpr uint32_t kBurst = 32;
constexpr uint32_t kFrameBytes = 64;
constexpr uint32_t kEthLen = 14;
constexpr uint32_t kPayload = kFrameBytes - kEthLen - 20 - 20;
constexpr uint32_t kRingBuffers = 1024;   // 64 KiB of packet buffers, like a warm mbuf cache
constexpr uint32_t kNow = 1000;
constexpr uint8_t kTcp = 6;
constexpr uint32_t kClientBase = 0xc6120000u;    // 198.18.0.0/15 (RFC 2544)
constexpr uint32_t kPortsPerClient = 50000;
constexpr uint32_t kVipBase = 0xcb007100u;       // 203.0.113.0/24
constexpr uint32_t kVips = 4;
constexpr uint32_t kBackendBase = 0xc6336400u;   // 198.51.100.0/24
constexpr uint32_t kBackends = 16;
constexpr uint32_t kSnatBase = 0xc0000200u;      // 192.0.2.0/24
constexpr uint32_t kSnatAddresses = 17;          // 17 x 64512 ports > 1M flows
constexpr uint64_t kSeed = 0x5eed;
constexpr const char* kEalMemoryMb = "1024";

void ReportPerFlow(benchmark::State& state, const Clocks& spent, uint64_t flows, size_t bytes) {
  state.counters["flows_per_s"] =
      static_cast<double>(flows) * static_cast<double>(kNanosPerSecond) / static_cast<double>(spent.cpu_ns);
  state.counters["cycles_per_flow"] = spent.CpuCycles() / static_cast<double>(flows);
  state.counters["bytes_per_flow"] = static_cast<double>(bytes) / kFlows;
}

// ---------------------------------------------------------------------------
// The flows, the packet stream and the tables, built once.

struct World {
  std::vector<FlowSpec> specs;        // flow i, DNAT only
  std::vector<FlowKey> stream_keys;   // original key of each packet, in arrival order
  std::vector<uint8_t> stream;        // kFlows frames of kFrameBytes, in arrival order
  std::unique_ptr<FlowTable> table;   // the 1M flows
  rte_hash* hash = nullptr;           // the same 2M keys in rte_hash
  size_t hash_bytes = 0;
};

FlowSpec MakeFlow(uint32_t i, std::mt19937_64& rng) {
  FlowSpec s;
  const uint32_t client = kClientBase + 1 + i / kPortsPerClient;
  const auto cport = static_cast<uint16_t>(1024 + i % kPortsPerClient);
  const uint32_t vip = kVipBase + 1 + i % kVips;
  const uint32_t backend = kBackendBase + 1 + static_cast<uint32_t>(rng() % kBackends);
  s.original = MakeFlowKey(client, vip, cport, 443, kTcp);
  s.reply = MakeFlowKey(backend, client, 8443, cport, kTcp);
  s.backend_id = static_cast<uint16_t>(backend - kBackendBase);
  return s;
}

absl::StatusOr<rte_hash*> CreateRteHash(const char* name, uint32_t entries, size_t* bytes) {
  rte_malloc_socket_stats before{}, after{};
  rte_malloc_get_socket_stats(static_cast<int>(rte_socket_id()), &before);
  rte_hash_parameters params{};
  params.name = name;
  params.entries = entries;
  params.key_len = sizeof(FlowKey);
  params.hash_func = rte_hash_crc;
  params.socket_id = static_cast<int>(rte_socket_id());
  params.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_MULTI_WRITER_ADD;
  rte_hash* h = rte_hash_create(&params);
  if (h == nullptr) return absl::ResourceExhaustedError(absl::StrCat("rte_hash_create: ", rte_strerror(rte_errno)));
  rte_malloc_get_socket_stats(static_cast<int>(rte_socket_id()), &after);
  *bytes = after.heap_allocsz_bytes - before.heap_allocsz_bytes;
  return h;
}

absl::StatusOr<World*> GetWorld() {
  static std::unique_ptr<World> world;
  static absl::Status error;
  if (world != nullptr) return world.get();
  if (!error.ok()) return error;
  auto w = std::make_unique<World>();
  std::mt19937_64 rng(kSeed);
  w->specs.reserve(kFlows);
  for (uint32_t i = 0; i < kFlows; ++i) w->specs.push_back(MakeFlow(i, rng));
  // Packets arrive in a random order over all flows.
  std::vector<uint32_t> order(kFlows);
  std::iota(order.begin(), order.end(), 0u);
  std::shuffle(order.begin(), order.end(), rng);
  w->stream.resize(size_t{kFlows} * kFrameBytes);
  w->stream_keys.reserve(kFlows);
  for (uint32_t k = 0; k < kFlows; ++k) {
    const FlowKey& key = w->specs[order[k]].original;
    const testing::Bytes frame = testing::PacketBuilder()
                                     .Src(key.src)
                                     .Dst(key.dst)
                                     .Tcp(key.sport, key.dport, kTcpFlagAck)
                                     .Payload(kPayload)
                                     .Build();
    std::memcpy(&w->stream[size_t{k} * kFrameBytes], frame.data(), kFrameBytes);
    w->stream_keys.push_back(key);
  }
  auto table = FlowTable::Create({.capacity = kFlows, .workers = 1}, nullptr, nullptr);
  if (!table.ok()) return error = table.status();
  w->table = std::move(*table);
  auto hash = CreateRteHash("nat_bench_lookup", 2 * kFlows, &w->hash_bytes);
  if (!hash.ok()) return error = hash.status();
  w->hash = *hash;
  for (uint32_t i = 0; i < kFlows; ++i) {
    const FlowSpec& s = w->specs[i];
    if (w->table->Insert(0, s, kNow).error != NatError::kNone ||
        rte_hash_add_key_data(w->hash, &s.original, reinterpret_cast<void*>(uintptr_t{i} << 1)) != 0 ||
        rte_hash_add_key_data(w->hash, &s.reply, reinterpret_cast<void*>(uintptr_t{i} << 1 | 1)) != 0) {
      return error = absl::InternalError(absl::StrCat("could not insert flow ", i));
    }
  }
  world = std::move(w);
  return world.get();
}

#define WORLD_OR_SKIP(state)                              \
  auto world_or = GetWorld();                             \
  if (!world_or.ok()) {                                   \
    (state).SkipWithError(world_or.status().ToString().c_str()); \
    return;                                               \
  }                                                       \
  World& world = **world_or

// ---------------------------------------------------------------------------
// Established flows

// The NAT stage over one burst: parse, look up, account, rewrite. Returns
// the packets that found no flow.
uint32_t NatBurst(FlowTable& table, uint8_t* const* frames, uint32_t n) {
  NatPacket parsed[kBurst];
  FlowKey keys[kBurst];
  FlowRef refs[kBurst];
  for (uint32_t i = 0; i < n; ++i) {
    ParseNatPacket(frames[i] + kEthLen, kFrameBytes - kEthLen, &parsed[i]);
    keys[i] = parsed[i].key;
  }
  table.LookupBurst(keys, n, refs);
  uint32_t misses = 0;
  for (uint32_t i = 0; i < n; ++i) {
    if (refs[i] == kNoFlow) {
      ++misses;
      continue;
    }
    table.Touch(refs[i], kNow, parsed[i].tcp_flags);
    TranslatePacket(frames[i] + kEthLen, parsed[i], table.flow(refs[i]), RefDirection(refs[i]));
  }
  return misses;
}

// Copies the next burst of the stream into the buffer ring, as rx would
// hand over freshly received frames.
class PacketSource {
 public:
  explicit PacketSource(const World& w) : world_(w), ring_(size_t{kRingBuffers} * kFrameBytes) {}
  uint8_t* const* Next() {
    for (uint32_t i = 0; i < kBurst; ++i) {
      uint8_t* buf = &ring_[size_t{(slot_ + i) % kRingBuffers} * kFrameBytes];
      std::memcpy(buf, &world_.stream[size_t{position_ + i} * kFrameBytes], kFrameBytes);
      burst_[i] = buf;
    }
    slot_ = (slot_ + kBurst) % kRingBuffers;
    position_ = position_ + 2 * kBurst > kFlows ? 0 : position_ + kBurst;
    return burst_;
  }

 private:
  const World& world_;
  std::vector<uint8_t> ring_;
  uint8_t* burst_[kBurst];
  uint32_t slot_ = 0;
  uint32_t position_ = 0;
};

void BM_PacketCopy(benchmark::State& state) {
  WORLD_OR_SKIP(state);
  PacketSource source(world);
  uint64_t packets = 0;
  const Clocks start = Clocks::Now();
  for (auto _ : state) {
    benchmark::DoNotOptimize(source.Next());
    packets += kBurst;
  }
  ReportRate(state, Clocks::Now() - start, packets);
}

void BM_NatEstablished(benchmark::State& state) {
  WORLD_OR_SKIP(state);
  PacketSource source(world);
  uint64_t packets = 0, misses = 0;
  const Clocks start = Clocks::Now();
  for (auto _ : state) {
    misses += NatBurst(*world.table, source.Next(), kBurst);
    packets += kBurst;
  }
  ReportRate(state, Clocks::Now() - start, packets);
  if (misses != 0) state.SkipWithError(absl::StrCat(misses, " packets found no flow").c_str());
}

void BM_FlowTableLookupBurst(benchmark::State& state) {
  WORLD_OR_SKIP(state);
  FlowRef refs[kBurst];
  uint32_t position = 0;
  uint64_t packets = 0, misses = 0;
  const Clocks start = Clocks::Now();
  for (auto _ : state) {
    world.table->LookupBurst(&world.stream_keys[position], kBurst, refs);
    for (FlowRef r : refs) misses += r == kNoFlow;
    position = position + 2 * kBurst > kFlows ? 0 : position + kBurst;
    packets += kBurst;
  }
  ReportRate(state, Clocks::Now() - start, packets);
  if (misses != 0) state.SkipWithError("lookup missed");
}

void BM_RteHashLookupBulk(benchmark::State& state) {
  WORLD_OR_SKIP(state);
  const void* keys[kBurst];
  void* data[kBurst];
  uint32_t position = 0;
  uint64_t packets = 0, hits = 0;
  const Clocks start = Clocks::Now();
  for (auto _ : state) {
    for (uint32_t i = 0; i < kBurst; ++i) keys[i] = &world.stream_keys[position + i];
    uint64_t hit_mask = 0;
    rte_hash_lookup_bulk_data(world.hash, keys, kBurst, &hit_mask, data);
    hits += static_cast<uint64_t>(__builtin_popcountll(hit_mask));
    position = position + 2 * kBurst > kFlows ? 0 : position + kBurst;
    packets += kBurst;
  }
  ReportRate(state, Clocks::Now() - start, packets);
  state.counters["bytes_per_flow"] = static_cast<double>(world.hash_bytes) / kFlows;
  if (hits != packets) state.SkipWithError("rte_hash lookup missed");
}

// ---------------------------------------------------------------------------
// New flows

void BM_NewFlows(benchmark::State& state) {
  WORLD_OR_SKIP(state);
  const bool snat = state.range(0) != 0;
  Clocks spent;
  uint64_t flows = 0;
  size_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::unique_ptr<SnatPortAllocator> ports;
    if (snat) {
      SnatPortAllocatorConfig config{.workers = 1};
      for (uint32_t a = 0; a < kSnatAddresses; ++a) config.addresses.push_back(kSnatBase + 1 + a);
      ports = std::move(*SnatPortAllocator::Create(config));
    }
    auto table = FlowTable::Create({.capacity = kFlows, .workers = 1}, nullptr, ports.get());
    if (!table.ok()) {
      state.SkipWithError(table.status().ToString().c_str());
      return;
    }
    state.ResumeTiming();
    uint64_t failed = 0;
    const Clocks start = Clocks::Now();
    for (const FlowSpec& base : world.specs) {
      FlowSpec spec = base;
      if (snat) {
        // The stage spreads flows over the pool by a hash of the flow.
        const auto hint = static_cast<uint32_t>(HashFlowKey(spec.original) >> 32);
        const SnatAllocation a = ports->Allocate(kTcp, 0, hint);
        if (a.error != NatError::kNone) {
          ++failed;
          continue;
        }
        spec.reply.dst = a.addr;
        spec.reply.dport = a.port;
        spec.snat = true;
      }
      if ((*table)->Insert(0, spec, kNow).error != NatError::kNone) {
        ++failed;
        if (snat) ports->Release(kTcp, spec.reply.dst, spec.reply.dport);
      }
    }
    spent += Clocks::Now() - start;
    flows += kFlows;
    bytes = (*table)->MemoryBytes() + (ports != nullptr ? ports->MemoryBytes() : 0);
    state.PauseTiming();
    if (failed != 0) state.SkipWithError(absl::StrCat(failed, " flows not inserted").c_str());
    table->reset();
    ports.reset();
    state.ResumeTiming();
  }
  ReportPerFlow(state, spent, flows, bytes);
}

void BM_RteHashNewFlows(benchmark::State& state) {
  WORLD_OR_SKIP(state);
  Clocks spent;
  uint64_t flows = 0;
  size_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto hash = CreateRteHash("nat_bench_insert", 2 * kFlows, &bytes);
    if (!hash.ok()) {
      state.SkipWithError(hash.status().ToString().c_str());
      return;
    }
    state.ResumeTiming();
    uint64_t failed = 0;
    const Clocks start = Clocks::Now();
    for (uint32_t i = 0; i < kFlows; ++i) {
      const FlowSpec& s = world.specs[i];
      failed += rte_hash_add_key_data(*hash, &s.original, reinterpret_cast<void*>(uintptr_t{i} << 1)) != 0;
      failed += rte_hash_add_key_data(*hash, &s.reply, reinterpret_cast<void*>(uintptr_t{i} << 1 | 1)) != 0;
    }
    spent += Clocks::Now() - start;
    flows += kFlows;
    state.PauseTiming();
    rte_hash_free(*hash);
    if (failed != 0) state.SkipWithError("rte_hash insert failed");
    state.ResumeTiming();
  }
  ReportPerFlow(state, spent, flows, bytes);
}

BENCHMARK(BM_PacketCopy);
BENCHMARK(BM_NatEstablished);
BENCHMARK(BM_FlowTableLookupBurst);
BENCHMARK(BM_RteHashLookupBulk);
BENCHMARK(BM_NewFlows)->ArgName("snat")->Arg(0)->Arg(1)->Iterations(2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RteHashNewFlows)->Iterations(2)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace isthmus::perf

int main(int argc, char** argv) {
  return isthmus::perf::RunBenchmarksWithEal(argc, argv, "nat_bench", isthmus::perf::kEalMemoryMb);
}
