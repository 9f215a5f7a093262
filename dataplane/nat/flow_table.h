#pragma once
// The NAT / affinity flow table: one table shared by every worker, because
// RSS does not keep the two directions of a translated flow on one queue (a
// reply may reach any worker). Each flow is one 64-byte record holding both
// of its keys (flow_key.h) and its state; a hash index maps each key to the
// record and the direction.
//
// Index: buckets of one cache line, 8 slots each (a 16-bit tag and a
// 32-bit flow reference per slot), bucketised linear probing over at most
// kMaxProbe buckets from the key's home bucket. A bucket counts the entries
// that probed past it, so a lookup stops at the first bucket with no such
// entries: at the load the table is sized for (at most half the slots used)
// almost every lookup reads one bucket and one flow record.
//
// Concurrency:
//   - Lookups (workers) take no lock and never wait: a slot's reference is
//     published with a release store after the record is written, and a
//     match is confirmed by comparing the full key in the record.
//   - Inserts (any worker) lock the home buckets of the two keys (a
//     per-bucket spin lock taken only by writers, held for a few dozen
//     instructions) so two workers cannot both create the same flow, then
//     claim free slots with compare-and-swap.
//   - Ageing (one thread at a time, normally control) clears both slots of an
//     expired flow and hands the record back to the free list only after an
//     rte_rcu_qsbr grace period, so a worker that still holds the reference
//     never sees the record reused. Workers report quiescence once per loop.
//
// New-flow admission (SYN floods). A flow opened by a SYN holds a record
// until its handshake completes or it idles out, and spoofed SYNs never
// complete one; without limits, a flood of them at a VIP would fill the
// table and refuse every new connection for as long as they live. What a
// NAT load balancer can do (it cannot answer with SYN cookies: the backend
// terminates TCP, not us) is what IPVS, DPVS and Linux conntrack do, and
// Katran for its LRU:
//   - flows never leave the table but by ageing (or a dead backend), so a
//     flood can only be refused, never take an established flow's place;
//   - half-open ("embryonic", IsEmbryonic) flows are counted, table-wide
//     and per service, and a SYN that would exceed either limit is dropped
//     as nat_embryonic_full: a flood at one VIP leaves the rest of the
//     table to established flows and the other services' new ones;
//   - embryonic flows have a short idle timeout of their own
//     (NatTimeouts::tcp_embryonic), so the limit turns over quickly and a
//     legitimate client's retransmitted SYN soon finds room;
//   - each worker admits at most syn_rate_per_worker SYN-opened flows per
//     second of the flow clock (Katran's per-CPU new-connection rate: a
//     fixed one-second window), dropped as nat_admission_limited.
// Only flows opened by a SYN are limited: a segment without SYN that
// misses the table is a connection already established elsewhere (an ECMP
// change, a restart) and is picked up as before, never refused by these
// limits. The counts are exact (every state change is one compare-and-swap
// in Touch, the removal one exchange); the check and the insert are not
// one step, so concurrent workers may overshoot a limit by one each.
//
// Why not rte_hash (RW_CONCURRENCY_LF | MULTI_WRITER_ADD, two keys per
// flow): perf/nat_bench.cc, 1M flows, one core, same run — rte_hash's index
// alone takes 89.5 B per flow (key store, buckets, free-slot ring) before
// any flow record, this whole table 100 B; a burst lookup costs 66 cycles
// here against 90, an insert of both keys 511 against 1204 (perf/README.md).

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "dataplane/nat/flow_key.h"
#include "dataplane/nat/nat_error.h"
#include "dataplane/nat/tcp_state.h"

struct rte_rcu_qsbr;

namespace isthmus {

class SnatPortAllocator;

// (record index << 1) | direction. 0 is never a flow (record 0 is unused).
using FlowRef = uint32_t;
inline constexpr FlowRef kNoFlow = 0;
inline constexpr uint32_t FlowIndex(FlowRef r) { return r >> 1; }
inline constexpr FlowDirection RefDirection(FlowRef r) { return static_cast<FlowDirection>(r & 1); }

inline constexpr uint8_t kFlowSnat = 0x01;   // the reply key's destination is a SNAT address:port

struct alignas(64) Flow {
  FlowKey key[2];                        // indexed by FlowDirection
  std::atomic<uint32_t> last_seen{0};    // seconds of the caller's clock
  std::atomic<uint8_t> tcp_state{0};     // TcpState
  std::atomic<uint8_t> live{0};          // 1 from insert until ageing removes it
  uint8_t flags = 0;                     // kFlow*
  uint8_t reserved = 0;
  uint16_t service_id = 0;
  uint16_t backend_id = 0;
  uint32_t created = 0;                  // seconds, for `show flows`

  const FlowKey& Key(FlowDirection d) const { return key[static_cast<size_t>(d)]; }
  TcpState tcp() const { return static_cast<TcpState>(tcp_state.load(std::memory_order_relaxed)); }
};
static_assert(sizeof(Flow) == 64);

struct FlowSpec {
  FlowKey original;          // client -> VIP
  FlowKey reply;             // backend -> client, or backend -> SNAT address:port
  uint16_t service_id = 0;
  uint16_t backend_id = 0;
  bool snat = false;         // the reply key holds a port from the table's SnatPortAllocator
};

struct FlowInsertResult {
  NatError error = NatError::kNone;   // kNone: inserted; kExists: `ref` is the flow already there
  FlowRef ref = kNoFlow;              // original direction of the flow
};

// The limits of AdmitEmbryonic; 0 disables a limit. Set by the control
// thread (SetAdmissionLimits) at start and on every reload.
struct FlowAdmissionLimits {
  uint32_t embryonic_max = 0;           // half-open flows in the whole table
  uint32_t service_embryonic_max = 0;   // half-open flows of any one service
  uint32_t syn_rate_per_worker = 0;     // SYN-opened flows per worker per second
  friend bool operator==(const FlowAdmissionLimits&, const FlowAdmissionLimits&) = default;
};

struct FlowTableConfig {
  // Flows (each with both directions) that always fit. Each worker keeps a
  // private stock of up to FlowTable::kWorkerCacheRecords free records, so
  // up to workers x that many more may fit before inserts fail.
  uint32_t capacity = 1 << 20;
  uint32_t workers = 1;          // inserting threads, numbered 0..workers-1
};

// A copy of one flow for `show flows` (read while workers run: a flow may
// change or go the moment after).
struct FlowView {
  FlowKey original;
  FlowKey reply;
  uint16_t service_id = 0;
  uint16_t backend_id = 0;
  bool snat = false;
  TcpState tcp = TcpState::kNew;
  uint32_t created = 0;     // seconds of the flow clock
  uint32_t last_seen = 0;
};

// Totals for metrics (isthmus_nat_flows_*), summed over workers.
struct FlowTableCounters {
  uint64_t active = 0;
  uint64_t created = 0;
  uint64_t expired = 0;
  uint64_t embryonic = 0;   // flows in an IsEmbryonic state now
  std::array<uint64_t, kNatErrorCount> failures{};   // insert and admission failures by NatError
  uint64_t inconsistencies = 0;   // removals that did not find both keys (a bug)
};

class FlowTable {
 public:
  static constexpr uint32_t kSlots = 8;
  static constexpr uint32_t kMaxProbe = 8;
  static constexpr uint32_t kWorkerCacheRecords = 64;
  static constexpr uint32_t kMaxCapacity = (1u << 30) - (1u << 20);   // refs are 32-bit; room for caches
  static constexpr uint32_t kServiceSlots = 1u << 16;                  // Flow::service_id is 16-bit

  // `rcu` may be null when no other thread reads the table (tests): removed
  // records are then reused at once. `snat` (may be null) gets the SNAT port
  // of every removed flow with kFlowSnat back.
  static absl::StatusOr<std::unique_ptr<FlowTable>> Create(const FlowTableConfig& config, rte_rcu_qsbr* rcu,
                                                           SnatPortAllocator* snat);
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  // --- workers -------------------------------------------------------------
  FlowRef Lookup(const FlowKey& key) const { return Find(key, HashFlowKey(key)); }
  // Lookups of a burst, with the bucket and record loads of all keys issued
  // before any is used.
  void LookupBurst(const FlowKey* keys, uint32_t n, FlowRef* refs) const;
  Flow& flow(FlowRef r) { return flows_[FlowIndex(r)]; }
  const Flow& flow(FlowRef r) const { return flows_[FlowIndex(r)]; }
  // Records that a packet of flow direction `r` was seen at `now`. The
  // last-seen time is only written when the second changes and the TCP
  // state only on a transition, so busy flows do not bounce their cache
  // line between workers on every packet.
  void Touch(FlowRef r, uint32_t now, uint8_t tcp_flags);
  FlowInsertResult Insert(uint32_t worker, const FlowSpec& spec, uint32_t now);
  // Whether worker `worker` may now open a flow of service `service_id`
  // for a client's SYN (see "New-flow admission" above): kNone, or
  // kEmbryonicFull / kAdmissionLimited, counted as failures. Call before
  // Insert; an admitted SYN spends the worker's budget even if the insert
  // then fails.
  NatError AdmitEmbryonic(uint32_t worker, uint16_t service_id, uint32_t now);

  // --- any thread ------------------------------------------------------------
  // Workers see new limits at their next SYN.
  void SetAdmissionLimits(const FlowAdmissionLimits& limits);
  FlowAdmissionLimits admission_limits() const;
  uint32_t embryonic() const { return embryonic_.load(std::memory_order_relaxed); }
  uint32_t embryonic(uint16_t service_id) const {
    return embryonic_by_service_[service_id].load(std::memory_order_relaxed);
  }

  // --- control (one thread at a time) --------------------------------------
  // Looks at up to `max_records` flow records from where the last call
  // stopped and removes those idle longer than their timeout; also returns
  // records whose grace period has ended to the free list. Never blocks on
  // the workers. Returns the number removed.
  // A flow of service s uses by_service[s] when there is one, `timeouts`
  // otherwise.
  uint32_t Age(uint32_t now, uint32_t max_records, const NatTimeouts& timeouts,
               std::span<const NatTimeouts> by_service = {});
  // Removes one flow now (e.g. its backend died and the policy is reset).
  // False when it was already gone.
  bool Remove(FlowRef r);
  // Removes every flow pinned to (service, backend) — a dead backend of a
  // service whose policy is reselect. A full pass over the records.
  uint32_t RemoveBackendFlows(uint16_t service_id, uint16_t backend_id);
  // Up to `limit` live flows, in record order.
  std::vector<FlowView> List(size_t limit) const;

  FlowTableCounters Counters() const;
  uint32_t capacity() const { return capacity_; }
  uint32_t buckets() const { return bucket_count_; }
  // Every byte this table allocated (index, records, free lists).
  size_t MemoryBytes() const;

 private:
  struct alignas(64) Bucket {
    uint16_t tags[kSlots];
    uint32_t refs[kSlots];     // 0: empty
    uint32_t overflow;         // entries whose probe passed this bucket
    uint32_t lock;             // writers only
    uint32_t unused[2];
  };
  static_assert(sizeof(Bucket) == 64);

  struct alignas(64) WorkerState {
    std::vector<uint32_t> free_cache;   // record indices only this worker hands out
    uint32_t syn_window = 0;            // the second syn_window_used counts
    uint32_t syn_window_used = 0;       // SYN-opened flows admitted in it
    std::atomic<uint64_t> created{0};
    std::array<std::atomic<uint64_t>, kNatErrorCount> failures{};
  };
  struct Retired {
    uint64_t token;
    std::vector<uint32_t> records;
  };

  FlowTable(const FlowTableConfig& config, rte_rcu_qsbr* rcu, SnatPortAllocator* snat);
  absl::Status Allocate();
  uint32_t Home(uint64_t hash) const {
    return static_cast<uint32_t>(((hash >> 32) * bucket_count_) >> 32);
  }
  uint32_t Next(uint32_t b) const { return b + 1 == bucket_count_ ? 0 : b + 1; }
  // A slot reserved by Claim: holds kReservedRef until the flow is
  // published, so a reader never sees a record that may yet be rolled back.
  struct Claimed {
    uint32_t* slot = nullptr;
    uint32_t home = 0;
    uint32_t probes = 0;   // buckets passed before the slot's bucket
  };
  static constexpr FlowRef kReservedRef = 1;

  FlowRef Find(const FlowKey& key, uint64_t hash) const;
  FlowRef MatchBucket(const Bucket& b, uint16_t tag, const FlowKey& key) const;
  Claimed Claim(uint64_t hash);
  void AddOverflow(uint32_t home, uint32_t probes, int32_t delta);
  bool Unlink(const FlowKey& key, FlowRef ref);
  void RemoveRecord(uint32_t index);
  void LockBuckets(uint32_t a, uint32_t b);
  void UnlockBuckets(uint32_t a, uint32_t b);
  uint32_t TakeRecord(WorkerState& w);
  void ReturnRecord(WorkerState& w, uint32_t index);
  void FreeRecords(const std::vector<uint32_t>& records);
  void ReclaimRetired();
  void RetireRemoved();
  void Fail(WorkerState& w, NatError e);
  void CountEmbryonic(uint16_t service_id, TcpState from, TcpState to);

  uint32_t capacity_;
  uint32_t worker_count_;
  uint32_t records_ = 0;   // capacity_ plus the workers' cache stock
  uint32_t bucket_count_ = 0;
  rte_rcu_qsbr* rcu_;
  SnatPortAllocator* snat_;
  Bucket* buckets_ = nullptr;
  Flow* flows_ = nullptr;
  size_t buckets_bytes_ = 0;
  size_t flows_bytes_ = 0;
  std::unique_ptr<WorkerState[]> workers_;

  // Free record indices shared by the workers' caches, under a spin lock
  // (moved 32 at a time, so taken once per 32 new flows).
  std::atomic<bool> free_lock_{false};
  std::vector<uint32_t> free_;

  // Control side: the ageing cursor, removed records in their grace period
  // and the records removed in the current Age call.
  uint32_t age_cursor_ = 1;
  std::deque<Retired> retired_;
  std::vector<uint32_t> removing_;
  std::atomic<uint64_t> expired_{0};
  std::atomic<uint64_t> inconsistencies_{0};

  // Admission: the limits, and the embryonic flows table-wide (its own
  // line: every worker writes it on SYNs and completed handshakes) and per
  // service id.
  std::atomic<uint32_t> embryonic_max_{0};
  std::atomic<uint32_t> service_embryonic_max_{0};
  std::atomic<uint32_t> syn_rate_per_worker_{0};
  alignas(64) std::atomic<uint32_t> embryonic_{0};
  std::unique_ptr<std::atomic<uint32_t>[]> embryonic_by_service_;
};

}  // namespace isthmus
