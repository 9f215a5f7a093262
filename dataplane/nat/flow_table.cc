#include "dataplane/nat/flow_table.h"

#include <rte_rcu_qsbr.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "absl/strings/str_cat.h"
#include "dataplane/nat/snat_port_allocator.h"

namespace isthmus {
namespace {

// At most half of the index slots are in use when the table is full: with
// 8-slot buckets and linear probing, a key then lands in its home bucket in
// all but a tiny fraction of cases (measured by the unit test that fills
// the table), which keeps a lookup to one bucket line.
constexpr uint32_t kIndexLoadDivisor = 2;
// A worker's private stock of free records, refilled 32 at a time.
constexpr uint32_t kRefill = 32;
constexpr uint32_t kCacheMax = FlowTable::kWorkerCacheRecords;
static_assert(kCacheMax >= 2 * kRefill);

void Bump(std::atomic<uint64_t>& c) { c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }

// Slots whose tag equals `tag`, as bits 0, 2, 4, ... (two mask bits per
// 16-bit tag; the odd ones are cleared). The vector load races benignly
// with a writer's tag store (a tag is only a hint: every match is confirmed
// on the full key behind an acquire load of the reference); ThreadSanitizer
// builds take the atomic loads instead.
inline uint32_t TagMatches(const uint16_t* tags, uint16_t tag) {
#if defined(__SSE2__) && !defined(__SANITIZE_THREAD__)
  const __m128i t = _mm_load_si128(reinterpret_cast<const __m128i*>(tags));
  const __m128i eq = _mm_cmpeq_epi16(t, _mm_set1_epi16(static_cast<short>(tag)));
  return static_cast<uint32_t>(_mm_movemask_epi8(eq)) & 0x5555u;
#else
  uint32_t m = 0;
  for (uint32_t i = 0; i < FlowTable::kSlots; ++i) m |= uint32_t{__atomic_load_n(&tags[i], __ATOMIC_RELAXED) == tag} << (2 * i);
  return m;
#endif
}

inline uint16_t Tag(uint64_t hash) { return static_cast<uint16_t>(hash); }

// The TCP state a removed record holds until it is reused: no transition
// leads out of it (NextTcpState keeps an unknown state), so a worker's
// Touch racing with the removal cannot count the flow's last state change
// after the removal has uncounted it.
constexpr auto kRemovedState = static_cast<uint8_t>(TcpState::kCount);

// Anonymous memory, asked to be backed by transparent huge pages (the
// index and the records are read at random: TLB misses would dominate),
// and faulted in here, at start. Left to the first inserts, every new
// (huge) page of the index would be zeroed on a worker, a stall of its own,
// and the daemon's resident memory would creep up for hours towards what
// the table reserved (tests/soak saw +10 MB within its first minute).
void* MapTable(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  madvise(p, bytes, MADV_HUGEPAGE);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  auto* const memory = static_cast<volatile unsigned char*>(p);
  for (size_t offset = 0; offset < bytes; offset += page) memory[offset] = 0;
  return p;
}

}  // namespace

absl::StatusOr<std::unique_ptr<FlowTable>> FlowTable::Create(const FlowTableConfig& config, rte_rcu_qsbr* rcu,
                                                             SnatPortAllocator* snat) {
  if (config.capacity == 0 || config.capacity > kMaxCapacity) {
    return absl::InvalidArgumentError(
        absl::StrCat("nat flow table: capacity ", config.capacity, " out of range (1..", kMaxCapacity, ")"));
  }
  if (config.workers == 0) return absl::InvalidArgumentError("nat flow table: at least one worker must insert");
  std::unique_ptr<FlowTable> table(new FlowTable(config, rcu, snat));
  if (absl::Status s = table->Allocate(); !s.ok()) return s;
  return table;
}

FlowTable::FlowTable(const FlowTableConfig& config, rte_rcu_qsbr* rcu, SnatPortAllocator* snat)
    : capacity_(config.capacity), worker_count_(config.workers), rcu_(rcu), snat_(snat) {}

absl::Status FlowTable::Allocate() {
  // Records for the capacity plus what the workers' caches may hold back,
  // so `capacity` flows always fit.
  records_ = capacity_ + worker_count_ * kCacheMax;
  // Two keys per record, at most 1/kIndexLoadDivisor of the slots used; at
  // least kMaxProbe buckets so a probe never wraps onto its own start.
  const uint64_t slots = uint64_t{2} * records_ * kIndexLoadDivisor;
  bucket_count_ = static_cast<uint32_t>(std::max<uint64_t>(kMaxProbe, (slots + kSlots - 1) / kSlots));
  buckets_bytes_ = size_t{bucket_count_} * sizeof(Bucket);
  flows_bytes_ = (size_t{records_} + 1) * sizeof(Flow);
  buckets_ = static_cast<Bucket*>(MapTable(buckets_bytes_));
  flows_ = static_cast<Flow*>(MapTable(flows_bytes_));
  if (buckets_ == nullptr || flows_ == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat("nat flow table: cannot map ", buckets_bytes_ + flows_bytes_,
                                                     " bytes for ", capacity_, " flows"));
  }
  // mmap gives zeroed memory: empty buckets. Records are constructed (and
  // so faulted in) here rather than on the first packets.
  for (uint32_t i = 0; i <= records_; ++i) new (&flows_[i]) Flow();
  free_.reserve(records_);
  // Handed out from the back: low indices first, so a small load stays in
  // few pages.
  for (uint32_t i = records_; i >= 1; --i) free_.push_back(i);
  workers_ = std::make_unique<WorkerState[]>(worker_count_);
  for (uint32_t w = 0; w < worker_count_; ++w) workers_[w].free_cache.reserve(kCacheMax);
  embryonic_by_service_ = std::make_unique<std::atomic<uint32_t>[]>(kServiceSlots);
  return absl::OkStatus();
}

FlowTable::~FlowTable() {
  if (buckets_ != nullptr) munmap(buckets_, buckets_bytes_);
  if (flows_ != nullptr) munmap(flows_, flows_bytes_);
}

size_t FlowTable::MemoryBytes() const {
  return buckets_bytes_ + flows_bytes_ + free_.capacity() * sizeof(uint32_t) +
         worker_count_ * (sizeof(WorkerState) + kCacheMax * sizeof(uint32_t)) +
         kServiceSlots * sizeof(std::atomic<uint32_t>);
}

// ---------------------------------------------------------------------------
// Lookups

FlowRef FlowTable::MatchBucket(const Bucket& b, uint16_t tag, const FlowKey& key) const {
  for (uint32_t m = TagMatches(b.tags, tag); m != 0; m &= m - 1) {
    const uint32_t slot = static_cast<uint32_t>(std::countr_zero(m)) / 2;
    const FlowRef ref = __atomic_load_n(&b.refs[slot], __ATOMIC_ACQUIRE);
    if (ref > kReservedRef && flows_[FlowIndex(ref)].key[ref & 1] == key) return ref;
  }
  return kNoFlow;
}

FlowRef FlowTable::Find(const FlowKey& key, uint64_t hash) const {
  const uint16_t tag = Tag(hash);
  uint32_t b = Home(hash);
  for (uint32_t p = 0; p < kMaxProbe; ++p, b = Next(b)) {
    const Bucket& bucket = buckets_[b];
    if (FlowRef r = MatchBucket(bucket, tag, key); r != kNoFlow) return r;
    if (__atomic_load_n(&bucket.overflow, __ATOMIC_RELAXED) == 0) break;
  }
  return kNoFlow;
}

void FlowTable::LookupBurst(const FlowKey* keys, uint32_t n, FlowRef* refs) const {
  constexpr uint32_t kChunk = 32;
  uint64_t hashes[kChunk];
  for (uint32_t base = 0; base < n; base += kChunk) {
    const uint32_t count = std::min(kChunk, n - base);
    // Step 1: hash every key and start loading its home bucket.
    for (uint32_t i = 0; i < count; ++i) {
      hashes[i] = HashFlowKey(keys[base + i]);
      __builtin_prefetch(&buckets_[Home(hashes[i])]);
    }
    // Step 2: first tag match in the home bucket; start loading its record.
    for (uint32_t i = 0; i < count; ++i) {
      const Bucket& b = buckets_[Home(hashes[i])];
      const uint32_t m = TagMatches(b.tags, Tag(hashes[i]));
      FlowRef r = kNoFlow;
      if (m != 0) {
        r = __atomic_load_n(&b.refs[std::countr_zero(m) / 2], __ATOMIC_ACQUIRE);
        __builtin_prefetch(&flows_[FlowIndex(r)]);
      }
      refs[base + i] = r;
    }
    // Step 3: confirm with the full key. Anything else (no candidate, a
    // wrong one, entries past the home bucket) takes the full probe, which
    // finds the home bucket already in cache.
    for (uint32_t i = 0; i < count; ++i) {
      const FlowKey& key = keys[base + i];
      const FlowRef r = refs[base + i];
      if (r > kReservedRef && flows_[FlowIndex(r)].key[r & 1] == key) continue;
      refs[base + i] = Find(key, hashes[i]);
    }
  }
}

void FlowTable::Touch(FlowRef r, uint32_t now, uint8_t tcp_flags) {
  Flow& f = flows_[FlowIndex(r)];
  const bool tcp = f.key[0].proto == kIpProtoTcp;
  uint8_t s = tcp ? f.tcp_state.load(std::memory_order_relaxed) : 0;
  // A half-open flow stays only while its client is there: the backend
  // retransmitting its SYN+ACK (after 1, 2, 4, 8 ... s on Linux) to a client
  // that never answers, a spoofed one, must not keep the flow beyond
  // tcp_embryonic. A real client's retransmitted SYN does refresh it.
  const bool refresh = !tcp || RefDirection(r) == FlowDirection::kOriginal || !IsEmbryonic(static_cast<TcpState>(s));
  if (refresh && f.last_seen.load(std::memory_order_relaxed) != now) f.last_seen.store(now, std::memory_order_relaxed);
  if (!tcp) return;
  // Both directions may update at once on two workers; a lost transition
  // would only pick a different idle timeout, but the CAS costs nothing
  // when the state does not change (the common case: no store at all).
  // The CAS also makes the embryonic count exact: each transition is made
  // by exactly one thread, which counts it.
  for (;;) {
    if (s == kRemovedState) return;   // removed while this worker still held it
    const auto next = static_cast<uint8_t>(NextTcpState(static_cast<TcpState>(s), tcp_flags, RefDirection(r)));
    if (next == s) return;
    if (f.tcp_state.compare_exchange_weak(s, next, std::memory_order_relaxed)) {
      CountEmbryonic(f.service_id, static_cast<TcpState>(s), static_cast<TcpState>(next));
      return;
    }
  }
}

void FlowTable::CountEmbryonic(uint16_t service_id, TcpState from, TcpState to) {
  if (IsEmbryonic(from) == IsEmbryonic(to)) return;
  const uint32_t delta = IsEmbryonic(to) ? 1u : ~0u;   // +1 or -1, wrapping
  embryonic_.fetch_add(delta, std::memory_order_relaxed);
  embryonic_by_service_[service_id].fetch_add(delta, std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------
// Admission

void FlowTable::SetAdmissionLimits(const FlowAdmissionLimits& limits) {
  embryonic_max_.store(limits.embryonic_max, std::memory_order_relaxed);
  service_embryonic_max_.store(limits.service_embryonic_max, std::memory_order_relaxed);
  syn_rate_per_worker_.store(limits.syn_rate_per_worker, std::memory_order_relaxed);
}

FlowAdmissionLimits FlowTable::admission_limits() const {
  return {embryonic_max_.load(std::memory_order_relaxed), service_embryonic_max_.load(std::memory_order_relaxed),
          syn_rate_per_worker_.load(std::memory_order_relaxed)};
}

NatError FlowTable::AdmitEmbryonic(uint32_t worker, uint16_t service_id, uint32_t now) {
  WorkerState& w = workers_[worker];
  // The limits on what is held come first: a SYN refused for lack of room
  // does not spend the worker's rate budget.
  const uint32_t table_max = embryonic_max_.load(std::memory_order_relaxed);
  const uint32_t service_max = service_embryonic_max_.load(std::memory_order_relaxed);
  if ((table_max != 0 && embryonic_.load(std::memory_order_relaxed) >= table_max) ||
      (service_max != 0 && embryonic_by_service_[service_id].load(std::memory_order_relaxed) >= service_max)) {
    Fail(w, NatError::kEmbryonicFull);
    return NatError::kEmbryonicFull;
  }
  const uint32_t rate = syn_rate_per_worker_.load(std::memory_order_relaxed);
  if (rate == 0) return NatError::kNone;
  if (w.syn_window != now) {
    w.syn_window = now;
    w.syn_window_used = 0;
  }
  if (w.syn_window_used >= rate) {
    Fail(w, NatError::kAdmissionLimited);
    return NatError::kAdmissionLimited;
  }
  ++w.syn_window_used;
  return NatError::kNone;
}

// ---------------------------------------------------------------------------
// Inserts

void FlowTable::LockBuckets(uint32_t a, uint32_t b) {
  if (a > b) std::swap(a, b);   // one global order: no deadlock between writers
  for (uint32_t x : {a, b}) {
    while (__atomic_exchange_n(&buckets_[x].lock, 1u, __ATOMIC_ACQUIRE) != 0) {
      while (__atomic_load_n(&buckets_[x].lock, __ATOMIC_RELAXED) != 0) __builtin_ia32_pause();
    }
    if (a == b) break;
  }
}

void FlowTable::UnlockBuckets(uint32_t a, uint32_t b) {
  __atomic_store_n(&buckets_[a].lock, 0u, __ATOMIC_RELEASE);
  if (a != b) __atomic_store_n(&buckets_[b].lock, 0u, __ATOMIC_RELEASE);
}

void FlowTable::AddOverflow(uint32_t home, uint32_t probes, int32_t delta) {
  uint32_t b = home;
  for (uint32_t p = 0; p < probes; ++p, b = Next(b)) {
    __atomic_fetch_add(&buckets_[b].overflow, static_cast<uint32_t>(delta), __ATOMIC_RELAXED);
  }
}

FlowTable::Claimed FlowTable::Claim(uint64_t hash) {
  const uint32_t home = Home(hash);
  uint32_t b = home;
  for (uint32_t p = 0; p < kMaxProbe; ++p, b = Next(b)) {
    Bucket& bucket = buckets_[b];
    for (uint32_t i = 0; i < kSlots; ++i) {
      uint32_t expected = 0;
      if (__atomic_load_n(&bucket.refs[i], __ATOMIC_RELAXED) != 0) continue;
      // Other writers (with other home buckets) may race for the slot.
      if (!__atomic_compare_exchange_n(&bucket.refs[i], &expected, kReservedRef, false, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED)) {
        continue;
      }
      // The tag is written only by the slot's owner, after the claim.
      __atomic_store_n(&bucket.tags[i], Tag(hash), __ATOMIC_RELAXED);
      AddOverflow(home, p, +1);
      return {&bucket.refs[i], home, p};
    }
  }
  return {};
}

uint32_t FlowTable::TakeRecord(WorkerState& w) {
  if (w.free_cache.empty()) {
    while (free_lock_.exchange(true, std::memory_order_acquire)) __builtin_ia32_pause();
    const size_t n = std::min<size_t>(kRefill, free_.size());
    w.free_cache.insert(w.free_cache.end(), free_.end() - static_cast<ptrdiff_t>(n), free_.end());
    free_.resize(free_.size() - n);
    free_lock_.store(false, std::memory_order_release);
    if (w.free_cache.empty()) return 0;
  }
  const uint32_t index = w.free_cache.back();
  w.free_cache.pop_back();
  return index;
}

// A record that was never published goes straight back to its worker.
void FlowTable::ReturnRecord(WorkerState& w, uint32_t index) {
  if (w.free_cache.size() < kCacheMax) {
    w.free_cache.push_back(index);
    return;
  }
  FreeRecords({index});
}

void FlowTable::Fail(WorkerState& w, NatError e) { Bump(w.failures[static_cast<size_t>(e)]); }

FlowInsertResult FlowTable::Insert(uint32_t worker, const FlowSpec& spec, uint32_t now) {
  WorkerState& w = workers_[worker];
  const uint32_t index = TakeRecord(w);
  if (index == 0) {
    Fail(w, NatError::kTableFull);
    return {NatError::kTableFull, kNoFlow};
  }
  Flow& f = flows_[index];
  f.key[0] = spec.original;
  f.key[1] = spec.reply;
  f.last_seen.store(now, std::memory_order_relaxed);
  f.tcp_state.store(static_cast<uint8_t>(TcpState::kNew), std::memory_order_relaxed);
  f.flags = spec.snat ? kFlowSnat : 0;
  f.service_id = spec.service_id;
  f.backend_id = spec.backend_id;
  f.created = now;

  const uint64_t h0 = HashFlowKey(spec.original);
  const uint64_t h1 = HashFlowKey(spec.reply);
  const uint32_t b0 = Home(h0), b1 = Home(h1);
  FlowInsertResult result{NatError::kNone, index << 1};
  LockBuckets(b0, b1);
  if (spec.original == spec.reply) {
    result = {NatError::kReplyConflict, kNoFlow};   // a flow cannot answer itself
  } else if (FlowRef existing = Find(spec.original, h0); existing != kNoFlow) {
    result = {NatError::kExists, existing};
  } else if (Find(spec.reply, h1) != kNoFlow) {
    result = {NatError::kReplyConflict, kNoFlow};
  } else {
    const Claimed c0 = Claim(h0);
    const Claimed c1 = c0.slot != nullptr ? Claim(h1) : Claimed{};
    if (c1.slot == nullptr) {
      if (c0.slot != nullptr) {
        __atomic_store_n(c0.slot, 0u, __ATOMIC_RELAXED);
        AddOverflow(c0.home, c0.probes, -1);
      }
      result = {NatError::kIndexFull, kNoFlow};
    } else {
      // Publishing: the record's writes happen before either reference,
      // and both references before `live`, which is what the ager acts on.
      __atomic_store_n(c0.slot, index << 1, __ATOMIC_RELEASE);
      __atomic_store_n(c1.slot, index << 1 | 1, __ATOMIC_RELEASE);
      f.live.store(1, std::memory_order_release);
    }
  }
  UnlockBuckets(b0, b1);
  if (result.error == NatError::kNone) {
    Bump(w.created);
  } else {
    ReturnRecord(w, index);
    if (result.error != NatError::kExists) Fail(w, result.error);
  }
  return result;
}

// ---------------------------------------------------------------------------
// Removal and ageing (one thread at a time)

bool FlowTable::Unlink(const FlowKey& key, FlowRef ref) {
  const uint64_t hash = HashFlowKey(key);
  const uint32_t home = Home(hash);
  uint32_t b = home;
  for (uint32_t p = 0; p < kMaxProbe; ++p, b = Next(b)) {
    Bucket& bucket = buckets_[b];
    for (uint32_t i = 0; i < kSlots; ++i) {
      uint32_t expected = ref;
      if (__atomic_load_n(&bucket.refs[i], __ATOMIC_RELAXED) != ref) continue;
      if (__atomic_compare_exchange_n(&bucket.refs[i], &expected, 0u, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
        AddOverflow(home, p, -1);
        return true;
      }
    }
  }
  return false;
}

void FlowTable::RemoveRecord(uint32_t index) {
  Flow& f = flows_[index];
  const bool unlinked_original = Unlink(f.key[0], index << 1);
  const bool unlinked_reply = Unlink(f.key[1], index << 1 | 1);
  // Both keys were published together; one missing means the index is
  // corrupt (a bug), counted for the metrics rather than trusted.
  if (!unlinked_original || !unlinked_reply) inconsistencies_.fetch_add(1, std::memory_order_relaxed);
  const uint8_t last = f.tcp_state.exchange(kRemovedState, std::memory_order_relaxed);
  if (last != kRemovedState) CountEmbryonic(f.service_id, static_cast<TcpState>(last), TcpState::kNew);
  f.live.store(0, std::memory_order_relaxed);
  if ((f.flags & kFlowSnat) != 0 && snat_ != nullptr) snat_->Release(f.key[1].proto, f.key[1].dst, f.key[1].dport);
  expired_.fetch_add(1, std::memory_order_relaxed);
  removing_.push_back(index);
}

void FlowTable::FreeRecords(const std::vector<uint32_t>& records) {
  while (free_lock_.exchange(true, std::memory_order_acquire)) __builtin_ia32_pause();
  free_.insert(free_.end(), records.begin(), records.end());
  free_lock_.store(false, std::memory_order_release);
}

void FlowTable::ReclaimRetired() {
  while (!retired_.empty() && rte_rcu_qsbr_check(rcu_, retired_.front().token, false) == 1) {
    FreeRecords(retired_.front().records);
    retired_.pop_front();
  }
}

void FlowTable::RetireRemoved() {
  if (removing_.empty()) return;
  if (rcu_ == nullptr) {
    FreeRecords(removing_);
    removing_.clear();
    return;
  }
  retired_.push_back({rte_rcu_qsbr_start(rcu_), std::move(removing_)});
  removing_ = {};
}

uint32_t FlowTable::Age(uint32_t now, uint32_t max_records, const NatTimeouts& timeouts,
                        std::span<const NatTimeouts> by_service) {
  ReclaimRetired();
  uint32_t removed = 0;
  const uint32_t n = std::min(max_records, records_);
  for (uint32_t k = 0; k < n; ++k) {
    const uint32_t index = age_cursor_;
    age_cursor_ = index == records_ ? 1 : index + 1;
    Flow& f = flows_[index];
    if (f.live.load(std::memory_order_acquire) == 0) continue;
    const NatTimeouts& t = f.service_id < by_service.size() ? by_service[f.service_id] : timeouts;
    const uint32_t timeout = IdleTimeout(t, f.key[0].proto, f.tcp());
    // Signed: a worker's clock may run a little ahead of the caller's.
    const auto idle = static_cast<int32_t>(now - f.last_seen.load(std::memory_order_relaxed));
    if (idle >= 0 && static_cast<uint32_t>(idle) >= timeout) {
      RemoveRecord(index);
      ++removed;
    }
  }
  RetireRemoved();
  return removed;
}

bool FlowTable::Remove(FlowRef r) {
  const uint32_t index = FlowIndex(r);
  if (index == 0 || index > records_ || flows_[index].live.load(std::memory_order_acquire) == 0) return false;
  RemoveRecord(index);
  RetireRemoved();
  return true;
}

uint32_t FlowTable::RemoveBackendFlows(uint16_t service_id, uint16_t backend_id) {
  uint32_t removed = 0;
  for (uint32_t index = 1; index <= records_; ++index) {
    const Flow& f = flows_[index];
    if (f.live.load(std::memory_order_acquire) == 0 || f.service_id != service_id || f.backend_id != backend_id) {
      continue;
    }
    RemoveRecord(index);
    ++removed;
  }
  RetireRemoved();
  return removed;
}

std::vector<FlowView> FlowTable::List(size_t limit) const {
  std::vector<FlowView> out;
  for (uint32_t index = 1; index <= records_ && out.size() < limit; ++index) {
    const Flow& f = flows_[index];
    if (f.live.load(std::memory_order_acquire) == 0) continue;
    out.push_back({f.key[0], f.key[1], f.service_id, f.backend_id, (f.flags & kFlowSnat) != 0, f.tcp(), f.created,
                   f.last_seen.load(std::memory_order_relaxed)});
  }
  return out;
}

FlowTableCounters FlowTable::Counters() const {
  FlowTableCounters c;
  for (uint32_t w = 0; w < worker_count_; ++w) {
    c.created += workers_[w].created.load(std::memory_order_relaxed);
    for (size_t e = 0; e < kNatErrorCount; ++e) c.failures[e] += workers_[w].failures[e].load(std::memory_order_relaxed);
  }
  c.expired = expired_.load(std::memory_order_relaxed);
  c.inconsistencies = inconsistencies_.load(std::memory_order_relaxed);
  c.active = c.created >= c.expired ? c.created - c.expired : 0;
  c.embryonic = embryonic();
  return c;
}

}  // namespace isthmus
