#pragma once
// One direction of an ESP tunnel-mode SA (RFC 4303, IPv4 in IPv4) with
// AES-GCM (RFC 4106), on DPDK rte_ipsec + synchronous CPU crypto.
//
// Outbound: mbufs start at the inner IPv4 header; on kOk they start at the
// new outer IPv4 header (local -> remote, TTL 64, DF as configured, IP id
// from the sequence number, header checksum set), optionally followed by
// UDP 4500 (RFC 3948, checksum 0).
// Inbound: mbufs start at the outer IPv4 header (ESP or UDP/4500 ESP, either
// accepted); on kOk they start at the inner IPv4 packet.
//
// Thread model: an SA belongs to one worker. Outbound sequence numbers and
// the inbound replay window are plain per-SA state (rte_ipsec without
// RTE_IPSEC_SAFLAG_SQN_ATOM), so Process() must never run on two lcores at
// once for the same SA; packets of one SA that reach another core are
// handed over, not locked. The control side may read stats(), Expired() and
// SoftExpired() at any time (relaxed atomics). Process() never blocks,
// logs, allocates or makes system calls.

#include <rte_ipsec.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "dataplane/ipsec/esp_context.h"
#include "dataplane/ipsec/esp_parse.h"
#include "dataplane/ipsec/esp_types.h"
#include "dataplane/ipsec/replay_window.h"

struct rte_mbuf;

namespace isthmus {

struct EspSaStats {
  uint64_t packets = 0;  // kOk packets
  uint64_t bytes = 0;    // kOk inner IPv4 bytes (before encryption / after decryption)
  uint64_t life_packets = 0;  // lifetime accounting (see EspLifetime)
  uint64_t life_bytes = 0;
  uint64_t highest_seq = 0;  // outbound: last number used; inbound: top of the window
  std::array<uint64_t, kEspVerdictCount> verdicts{};  // per verdict, kOk included
  bool soft_expired = false;
  bool hard_expired = false;
};

class EspSa {
 public:
  enum class Direction : uint8_t { kOutbound, kInbound };

  // Validates `params` (messages name the field and what is accepted) and
  // creates the crypto session. The key is copied into the crypto session
  // only; the SA keeps no copy.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<EspSa>> CreateOutbound(EspContext& ctx,
                                                                             const EspSaParams& params);
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<EspSa>> CreateInbound(EspContext& ctx,
                                                                            const EspSaParams& params);
  ~EspSa();
  EspSa(const EspSa&) = delete;
  EspSa& operator=(const EspSa&) = delete;

  // Processes a burst in place: verdicts[i] tells what happened to pkts[i];
  // pkts[i] keeps pointing at the same mbuf (transformed when kOk, left for
  // the caller to count and free otherwise). Returns the number of kOk.
  // `now_tsc` (rte_rdtsc) drives the seconds lifetime.
  uint16_t Process(rte_mbuf** pkts, uint16_t n, EspVerdict* verdicts, uint64_t now_tsc);
  uint16_t Process(rte_mbuf** pkts, uint16_t n, EspVerdict* verdicts);

  // The last outbound sequence number an SA sends. rte_ipsec keeps the
  // next number in a counter masked to 32 (or 64) bits and refuses a burst
  // once that counter would pass the mask, so the mask itself (2^32-1) is
  // never sent; RFC 4303 3.3.3 only requires that the counter not cycle.
  static constexpr uint64_t MaxSeq(bool esn) { return (esn ? UINT64_MAX : UINT32_MAX) - 1; }

  uint32_t spi() const { return spi_; }
  Direction direction() const { return direction_; }
  uint32_t remote_ip() const { return remote_ip_; }
  uint32_t local_ip() const { return local_ip_; }
  // Hard limit reached (or sequence space exhausted): the SA passes nothing.
  bool Expired() const { return hard_expired_.load(std::memory_order_relaxed); }
  // Soft limit reached: the control side should install a successor SA.
  bool SoftExpired() const { return soft_expired_.load(std::memory_order_relaxed); }
  EspSaStats stats() const;

  // Outbound: the highest sequence number the worker may use. Packets that
  // would need a higher one are dropped as kSeqUnreserved. The control
  // thread raises it only after the new bound is durably recorded
  // (EspSeqReservations), so a crash never leads to a number being reused.
  // Default: no bound. Release store; the worker loads it with acquire.
  void SetSeqLimit(uint64_t limit) { seq_limit_.store(limit, std::memory_order_release); }
  uint64_t seq_limit() const { return seq_limit_.load(std::memory_order_acquire); }

  // Bytes the outbound encapsulation adds in front of / behind the inner
  // packet at most (for MTU decisions): outer IPv4 [+ UDP] + ESP + IV, and
  // padding + trailer + ICV.
  uint32_t MaxOverhead() const;

 private:
  static constexpr uint16_t kChunk = 64;  // rte_ipsec keeps per-burst arrays on the stack

  // A single-writer counter the control side may read.
  struct Counter {
    std::atomic<uint64_t> v{0};
    void Add(uint64_t x) { v.store(v.load(std::memory_order_relaxed) + x, std::memory_order_relaxed); }
    uint64_t Get() const { return v.load(std::memory_order_relaxed); }
  };

  EspSa(Direction direction, const EspSaParams& params);
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<EspSa>> Create(EspContext& ctx, const EspSaParams& params,
                                                                      Direction direction);
  [[nodiscard]] absl::Status InitSession(EspContext& ctx, const EspSaParams& params);

  uint16_t ProcessChunk(rte_mbuf** pkts, uint16_t n, EspVerdict* verdicts, uint64_t now_tsc);
  // rte_ipsec prepare + process over `batch` (k packets, compacted as it
  // drops some); prepared[j] / done[j] say how far orig[j] got.
  uint16_t RunSession(rte_mbuf* const* orig, rte_mbuf** batch, uint16_t k, bool* prepared, bool* done);
  uint16_t OutboundChunk(rte_mbuf** pkts, uint16_t n, EspVerdict* verdicts);
  uint16_t InboundChunk(rte_mbuf** pkts, uint16_t n, EspVerdict* verdicts);
  EspVerdict InboundPrecheck(rte_mbuf* m, uint64_t* seq, uint32_t* life_len);
  void FinishOuterHeader(rte_mbuf* m) const;

  // Lifetime admission inside a burst: `pending_*` count packets already
  // admitted earlier in the same burst.
  bool Admit(uint64_t pending_packets, uint64_t pending_bytes) const;
  // Raises the soft/hard flags from the lifetime totals and the clock.
  void UpdateExpiry(uint64_t now_tsc);
  void CheckTime(uint64_t now_tsc);
  void Count(EspVerdict v) { verdicts_[static_cast<size_t>(v)].Add(1); }

  const Direction direction_;
  const uint32_t spi_;
  const uint32_t local_ip_;
  const uint32_t remote_ip_;
  const bool esn_;
  const bool udp_encap_;
  const EspLifetime soft_;
  const EspLifetime hard_;

  rte_ipsec_session session_{};
  rte_ipsec_sa* sa_ = nullptr;  // rte_zmalloc'd, rte_ipsec_sa_size() bytes
  void* crypto_session_ = nullptr;
  uint8_t dev_id_ = 0;
  uint64_t soft_deadline_tsc_ = 0;  // 0: no time limit
  uint64_t hard_deadline_tsc_ = 0;

  // Worker-owned state.
  uint64_t next_seq_ = 1;  // outbound: mirrors rte_ipsec's counter (RFC 4303 §3.3.3)
  std::atomic<uint64_t> seq_limit_{UINT64_MAX};  // outbound: written by the control thread
  std::unique_ptr<ReplayWindow> window_;  // inbound only

  std::atomic<bool> soft_expired_{false};
  std::atomic<bool> hard_expired_{false};
  Counter packets_, bytes_, life_packets_, life_bytes_, highest_seq_;
  std::array<Counter, kEspVerdictCount> verdicts_;
};

}  // namespace isthmus
