#include "dataplane/ipsec/esp_sa.h"

#include <netinet/in.h>
#include <rte_byteorder.h>
#include <rte_cryptodev.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_udp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"

namespace isthmus {
namespace {

// Reserved SPI values (RFC 4303 §2.1): 0 is "no SA", 1..255 are for IANA.
constexpr uint32_t kMinSpi = 256;
constexpr uint8_t kOuterTtl = 64;
constexpr uint8_t kIpv4VersionIhl = 0x45;
constexpr uint32_t kIpv4VersionShift = 4;
constexpr uint32_t kIpv4Version = 4;
// AES-GCM nonce = salt(4) || IV(8) (RFC 4106 §4); CPU crypto reads it from
// the crypto op area that follows the generic op (where ipsec-secgw puts it).
constexpr uint16_t kGcmNonceLen = 12;
constexpr uint16_t kGcmNonceOffset = sizeof(rte_crypto_op) + sizeof(rte_crypto_sym_op);
// RFC 4106 §5: AAD is SPI || seq (8 bytes) or SPI || seq high || seq low (12).
constexpr uint16_t kAadLen = 8;
constexpr uint16_t kAadLenEsn = 12;
// rte_ipsec keeps its window in 64-bit buckets and, for a window of W,
// may alias the oldest bucket with the newest; it gets twice our window
// and our ReplayWindow (exactly W, RFC 4303) decides first.
constexpr uint32_t kRteWindowFactor = 2;

// Outer header template copied by rte_ipsec in front of every packet; it
// fills total length and IP id, we fill the checksums afterwards. UDP
// encapsulation is part of the template rather than rte_ipsec's NAT-T
// option so the header layout is ours (RFC 3948 §2.1).
struct __attribute__((packed)) OuterTemplate {
  rte_ipv4_hdr ip;
  rte_udp_hdr udp;
};

uint32_t AlignUp(uint32_t v, uint32_t a) { return (v + a - 1) / a * a; }

// ESP encrypted length for an inner packet of `len` bytes (lifetime bytes).
uint32_t EncryptedLen(uint32_t len) { return AlignUp(len + kEspTrailerLen, kEspAlign); }

absl::Status ValidateLifetime(const EspLifetime& soft, const EspLifetime& hard) {
  auto check = [](uint64_t s, uint64_t h, const char* unit) -> absl::Status {
    if (s != 0 && h != 0 && s > h) {
      return absl::InvalidArgumentError(
          absl::StrFormat("soft lifetime %u %s exceeds hard lifetime %u %s: soft must be at most hard", s, unit,
                          h, unit));
    }
    return absl::OkStatus();
  };
  for (absl::Status st : {check(soft.packets, hard.packets, "packets"), check(soft.bytes, hard.bytes, "bytes"),
                          check(soft.seconds, hard.seconds, "seconds")}) {
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status ValidateParams(const EspSaParams& p, EspSa::Direction dir) {
  if (p.spi < kMinSpi) {
    return absl::InvalidArgumentError(
        absl::StrFormat("SPI %u is reserved (RFC 4303 2.1): use 256..4294967295", p.spi));
  }
  if (p.key.key.size() != EspCipherKeyLen(p.cipher)) {
    return absl::InvalidArgumentError(absl::StrFormat("SPI 0x%08x: %s needs a %u-byte key, got %u bytes", p.spi,
                                                      EspCipherName(p.cipher), EspCipherKeyLen(p.cipher),
                                                      p.key.key.size()));
  }
  if (p.local_ip == 0 || p.remote_ip == 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("SPI 0x%08x: local and remote tunnel addresses are required", p.spi));
  }
  if (dir == EspSa::Direction::kOutbound) {
    const uint64_t max_seq = EspSa::MaxSeq(p.esn);
    if (p.first_seq == 0 || p.first_seq > max_seq) {
      return absl::OutOfRangeError(absl::StrFormat(
          "SPI 0x%08x: first sequence number %u is outside 1..%u (RFC 4303 3.3.3): the key's sequence space is "
          "used up, configure a new key file",
          p.spi, p.first_seq, max_seq));
    }
  }
  if (dir == EspSa::Direction::kInbound) {
    if (absl::Status st = ReplayWindow::ValidateSize(p.replay_window); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrFormat("SPI 0x%08x: %s", p.spi, st.message()));
    }
  }
  if (p.udp_encap && p.udp_src_port == 0) {
    return absl::InvalidArgumentError(absl::StrFormat("SPI 0x%08x: UDP source port 0 is not allowed", p.spi));
  }
  return ValidateLifetime(p.soft, p.hard);
}

OuterTemplate BuildTemplate(const EspSaParams& p) {
  OuterTemplate t{};
  t.ip.version_ihl = kIpv4VersionIhl;
  t.ip.time_to_live = kOuterTtl;
  t.ip.next_proto_id = p.udp_encap ? kIpProtoUdp : kIpProtoEsp;
  t.ip.fragment_offset = p.dont_fragment ? rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG) : 0;
  t.ip.src_addr = rte_cpu_to_be_32(p.local_ip);
  t.ip.dst_addr = rte_cpu_to_be_32(p.remote_ip);
  t.udp.src_port = rte_cpu_to_be_16(p.udp_src_port);
  t.udp.dst_port = rte_cpu_to_be_16(kEspNatTraversalPort);
  return t;
}

uint64_t SecondsToTsc(uint64_t now, uint64_t seconds) {
  return seconds == 0 ? 0 : now + seconds * rte_get_tsc_hz();
}

// rte_ipsec compacts its array: survivors first, in their original order.
// Marks which of `orig` are among `kept`.
void MarkKept(rte_mbuf* const* orig, uint16_t n, rte_mbuf* const* kept, uint16_t n_kept, bool* out) {
  uint16_t g = 0;
  for (uint16_t j = 0; j < n; ++j) {
    out[j] = g < n_kept && orig[j] == kept[g];
    if (out[j]) ++g;
  }
}

}  // namespace

EspSa::EspSa(Direction direction, const EspSaParams& params)
    : direction_(direction),
      spi_(params.spi),
      local_ip_(params.local_ip),
      remote_ip_(params.remote_ip),
      esn_(params.esn),
      udp_encap_(params.udp_encap),
      soft_(params.soft),
      hard_(params.hard) {
  if (direction == Direction::kInbound) {
    window_ = std::make_unique<ReplayWindow>(params.replay_window,
                                             params.esn ? params.replay_window * kRteWindowFactor : 0);
  }
  if (direction == Direction::kOutbound) {
    next_seq_ = params.first_seq;
    highest_seq_.v.store(params.first_seq - 1, std::memory_order_relaxed);
  }
  const uint64_t now = rte_rdtsc();
  soft_deadline_tsc_ = SecondsToTsc(now, soft_.seconds);
  hard_deadline_tsc_ = SecondsToTsc(now, hard_.seconds);
}

EspSa::~EspSa() {
  if (sa_ != nullptr) {
    rte_ipsec_sa_fini(sa_);
    rte_free(sa_);
  }
  // Freeing the session clears the key schedule held by the PMD.
  if (crypto_session_ != nullptr) rte_cryptodev_sym_session_free(dev_id_, crypto_session_);
}

absl::StatusOr<std::unique_ptr<EspSa>> EspSa::CreateOutbound(EspContext& ctx, const EspSaParams& params) {
  return Create(ctx, params, Direction::kOutbound);
}

absl::StatusOr<std::unique_ptr<EspSa>> EspSa::CreateInbound(EspContext& ctx, const EspSaParams& params) {
  return Create(ctx, params, Direction::kInbound);
}

absl::StatusOr<std::unique_ptr<EspSa>> EspSa::Create(EspContext& ctx, const EspSaParams& params,
                                                     Direction direction) {
  if (absl::Status st = ValidateParams(params, direction); !st.ok()) return st;
  std::unique_ptr<EspSa> sa(new EspSa(direction, params));
  if (absl::Status st = sa->InitSession(ctx, params); !st.ok()) return st;
  spdlog::info("ipsec: {} SA spi 0x{:08x} {} esn={} udp={} ready", direction == Direction::kOutbound ? "outbound" : "inbound",
               params.spi, EspCipherName(params.cipher), params.esn, params.udp_encap);
  return sa;
}

absl::Status EspSa::InitSession(EspContext& ctx, const EspSaParams& params) {
  const bool outbound = direction_ == Direction::kOutbound;
  dev_id_ = ctx.crypto_dev_id();

  rte_crypto_sym_xform xform{};
  xform.type = RTE_CRYPTO_SYM_XFORM_AEAD;
  xform.aead.op = outbound ? RTE_CRYPTO_AEAD_OP_ENCRYPT : RTE_CRYPTO_AEAD_OP_DECRYPT;
  xform.aead.algo = RTE_CRYPTO_AEAD_AES_GCM;
  xform.aead.key.data = params.key.key.data();
  xform.aead.key.length = static_cast<uint16_t>(params.key.key.size());
  xform.aead.iv.offset = kGcmNonceOffset;
  xform.aead.iv.length = kGcmNonceLen;
  xform.aead.digest_length = kEspGcmIcvLen;
  xform.aead.aad_length = params.esn ? kAadLenEsn : kAadLen;
  crypto_session_ = rte_cryptodev_sym_session_create(dev_id_, &xform, ctx.session_pool());
  if (crypto_session_ == nullptr) {
    return absl::ResourceExhaustedError(absl::StrFormat("SPI 0x%08x: cannot create crypto session: %s",
                                                        params.spi, rte_strerror(rte_errno)));
  }

  rte_ipsec_sa_prm prm{};
  rte_security_ipsec_xform& ix = prm.ipsec_xform;
  ix.spi = params.spi;
  // The salt goes into the nonce as stored: keep its wire byte order.
  std::memcpy(&ix.salt, params.key.salt.data(), sizeof(ix.salt));
  ix.options.esn = params.esn ? 1 : 0;
  ix.direction = outbound ? RTE_SECURITY_IPSEC_SA_DIR_EGRESS : RTE_SECURITY_IPSEC_SA_DIR_INGRESS;
  ix.proto = RTE_SECURITY_IPSEC_SA_PROTO_ESP;
  ix.mode = RTE_SECURITY_IPSEC_SA_MODE_TUNNEL;
  ix.tunnel.type = RTE_SECURITY_IPSEC_TUNNEL_IPV4;
  ix.tunnel.ipv4.src_ip.s_addr = rte_cpu_to_be_32(outbound ? params.local_ip : params.remote_ip);
  ix.tunnel.ipv4.dst_ip.s_addr = rte_cpu_to_be_32(outbound ? params.remote_ip : params.local_ip);
  ix.replay_win_sz = outbound ? 0 : params.replay_window * kRteWindowFactor;
  // rte_ipsec (since DPDK 21.11) starts an outbound SA's counter at
  // esn.value, or at 1 when that is 0 or 1 (lib/ipsec/sa.c esp_outb_init).
  // Inbound it would preset the window's top: keep that at 0.
  if (outbound) ix.esn.value = params.first_seq;
  prm.crypto_xform = &xform;
  const OuterTemplate tmpl = BuildTemplate(params);
  prm.tun.hdr = &tmpl;
  prm.tun.hdr_len = static_cast<uint8_t>(params.udp_encap ? sizeof(OuterTemplate) : sizeof(rte_ipv4_hdr));
  prm.tun.hdr_l3_off = 0;
  prm.tun.next_proto = IPPROTO_IPIP;

  const int size = rte_ipsec_sa_size(&prm);
  if (size < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("SPI 0x%08x: rte_ipsec rejects the SA: %s", params.spi, rte_strerror(-size)));
  }
  sa_ = static_cast<rte_ipsec_sa*>(rte_zmalloc_socket("esp_sa", size, RTE_CACHE_LINE_SIZE, ctx.socket_id()));
  if (sa_ == nullptr) {
    return absl::ResourceExhaustedError(absl::StrFormat("SPI 0x%08x: no memory for the SA", params.spi));
  }
  if (const int rc = rte_ipsec_sa_init(sa_, &prm, size); rc < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("SPI 0x%08x: rte_ipsec_sa_init: %s", params.spi, rte_strerror(-rc)));
  }
  session_.sa = sa_;
  session_.type = RTE_SECURITY_ACTION_TYPE_CPU_CRYPTO;
  session_.crypto.ses = static_cast<rte_cryptodev_sym_session*>(crypto_session_);
  session_.crypto.dev_id = dev_id_;
  if (const int rc = rte_ipsec_session_prepare(&session_); rc != 0) {
    return absl::InternalError(
        absl::StrFormat("SPI 0x%08x: rte_ipsec_session_prepare: %s", params.spi, rte_strerror(-rc)));
  }
  return absl::OkStatus();
}

uint32_t EspSa::MaxOverhead() const {
  const uint32_t outer = static_cast<uint32_t>(sizeof(rte_ipv4_hdr)) + (udp_encap_ ? kUdpHeaderLen : 0);
  return outer + kEspHeaderLen + kEspGcmIvLen + (kEspAlign - 1) + kEspTrailerLen + kEspGcmIcvLen;
}

EspSaStats EspSa::stats() const {
  EspSaStats s;
  s.packets = packets_.Get();
  s.bytes = bytes_.Get();
  s.life_packets = life_packets_.Get();
  s.life_bytes = life_bytes_.Get();
  s.highest_seq = highest_seq_.Get();
  for (size_t i = 0; i < kEspVerdictCount; ++i) s.verdicts[i] = verdicts_[i].Get();
  s.soft_expired = SoftExpired();
  s.hard_expired = Expired();
  return s;
}

uint16_t EspSa::Process(rte_mbuf** pkts, uint16_t n, EspVerdict* verdicts) {
  return Process(pkts, n, verdicts, rte_rdtsc());
}

uint16_t EspSa::Process(rte_mbuf** pkts, uint16_t n, EspVerdict* verdicts, uint64_t now_tsc) {
  CheckTime(now_tsc);
  uint16_t ok = 0;
  for (uint16_t off = 0; off < n; off += kChunk) {
    const auto len = static_cast<uint16_t>(std::min<uint16_t>(kChunk, n - off));
    ok += ProcessChunk(pkts + off, len, verdicts + off, now_tsc);
  }
  return ok;
}

uint16_t EspSa::ProcessChunk(rte_mbuf** pkts, uint16_t n, EspVerdict* verdicts, uint64_t now_tsc) {
  if (Expired()) {
    std::fill(verdicts, verdicts + n, EspVerdict::kExpired);
    verdicts_[static_cast<size_t>(EspVerdict::kExpired)].Add(n);
    return 0;
  }
  const uint16_t ok = direction_ == Direction::kOutbound ? OutboundChunk(pkts, n, verdicts)
                                                         : InboundChunk(pkts, n, verdicts);
  UpdateExpiry(now_tsc);
  return ok;
}

void EspSa::CheckTime(uint64_t now_tsc) {
  if (soft_deadline_tsc_ != 0 && now_tsc >= soft_deadline_tsc_) soft_expired_.store(true, std::memory_order_relaxed);
  if (hard_deadline_tsc_ != 0 && now_tsc >= hard_deadline_tsc_) hard_expired_.store(true, std::memory_order_relaxed);
}

bool EspSa::Admit(uint64_t pending_packets, uint64_t pending_bytes) const {
  // The SA carries traffic while its totals are below the hard limits; the
  // packet that crosses a byte limit still passes (RFC 4301 4.4.2.1 leaves
  // the granularity to the implementation).
  if (hard_.packets != 0 && life_packets_.Get() + pending_packets >= hard_.packets) return false;
  if (hard_.bytes != 0 && life_bytes_.Get() + pending_bytes >= hard_.bytes) return false;
  return true;
}

void EspSa::UpdateExpiry(uint64_t now_tsc) {
  const uint64_t p = life_packets_.Get();
  const uint64_t b = life_bytes_.Get();
  auto reached = [](uint64_t used, uint64_t limit) { return limit != 0 && used >= limit; };
  if (reached(p, soft_.packets) || reached(b, soft_.bytes)) soft_expired_.store(true, std::memory_order_relaxed);
  if (reached(p, hard_.packets) || reached(b, hard_.bytes)) hard_expired_.store(true, std::memory_order_relaxed);
  CheckTime(now_tsc);
}

void EspSa::FinishOuterHeader(rte_mbuf* m) const {
  auto* ip = rte_pktmbuf_mtod(m, rte_ipv4_hdr*);
  if (udp_encap_) {
    auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
    udp->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(rte_be_to_cpu_16(ip->total_length) - sizeof(*ip)));
    udp->dgram_cksum = 0;  // RFC 3948 §2.1: zero, ESP carries its own integrity check
  }
  ip->hdr_checksum = 0;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
}

uint16_t EspSa::RunSession(rte_mbuf* const* orig, rte_mbuf** batch, uint16_t k, bool* prepared, bool* done) {
  const uint16_t n_prepared = rte_ipsec_pkt_cpu_prepare(&session_, batch, k);
  MarkKept(orig, k, batch, n_prepared, prepared);
  const uint16_t n_done = rte_ipsec_pkt_process(&session_, batch, n_prepared);
  MarkKept(orig, k, batch, n_done, done);
  return n_done;
}

uint16_t EspSa::OutboundChunk(rte_mbuf** pkts, uint16_t n, EspVerdict* verdicts) {
  rte_mbuf* orig[kChunk];
  rte_mbuf* batch[kChunk];
  uint32_t life[kChunk];
  uint32_t inner_len[kChunk];
  uint16_t index[kChunk];
  const uint64_t max_seq = MaxSeq(esn_);
  const uint64_t reserved = seq_limit();
  uint16_t k = 0;
  uint64_t pending_bytes = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    const auto* ip = rte_pktmbuf_mtod(m, const uint8_t*);
    if (m->data_len < sizeof(rte_ipv4_hdr) || (ip[0] >> kIpv4VersionShift) != kIpv4Version) {
      verdicts[i] = EspVerdict::kMalformed;
    } else if (!Admit(k, pending_bytes)) {
      verdicts[i] = EspVerdict::kExpired;  // the flag follows from the totals (UpdateExpiry)
    } else if (next_seq_ + k > max_seq) {
      // RFC 4303 §3.3.3: the counter must not cycle; the SA is finished.
      verdicts[i] = EspVerdict::kSeqExhausted;
      hard_expired_.store(true, std::memory_order_relaxed);
    } else if (next_seq_ + k > reserved) {
      // Not durably reserved yet: sending it could reuse a (sequence, IV)
      // pair with this key after a crash (RFC 4106 3.1). The control thread
      // extends the reservation well before this point; only a failing
      // state file gets here.
      verdicts[i] = EspVerdict::kSeqUnreserved;
    } else {
      m->l2_len = 0;  // rte_ipsec prepends the outer header at l2_len
      m->ol_flags &= ~RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED;
      inner_len[k] = m->pkt_len;
      life[k] = EncryptedLen(m->pkt_len);
      pending_bytes += life[k];
      index[k] = i;
      orig[k] = batch[k] = m;
      ++k;
      continue;
    }
    Count(verdicts[i]);
  }
  if (k == 0) return 0;
  // rte_ipsec numbers all k packets, including any it then fails.
  next_seq_ += k;
  highest_seq_.v.store(next_seq_ - 1, std::memory_order_relaxed);

  bool prepared[kChunk];
  bool done[kChunk];
  const uint16_t n_done = RunSession(orig, batch, k, prepared, done);

  uint64_t ok_bytes = 0;
  uint64_t ok_life = 0;
  for (uint16_t j = 0; j < k; ++j) {
    EspVerdict v = EspVerdict::kOk;
    if (!prepared[j]) {
      v = EspVerdict::kNoRoom;  // the only outbound prepare failure: ENOSPC
    } else if (!done[j]) {
      v = EspVerdict::kCryptoError;
    } else {
      FinishOuterHeader(orig[j]);
      ok_bytes += inner_len[j];
      ok_life += life[j];
    }
    verdicts[index[j]] = v;
    Count(v);
  }
  packets_.Add(n_done);
  bytes_.Add(ok_bytes);
  life_packets_.Add(n_done);
  life_bytes_.Add(ok_life);
  return n_done;
}

EspVerdict EspSa::InboundPrecheck(rte_mbuf* m, uint64_t* seq, uint32_t* life_len) {
  // Headers are parsed from the first segment; receive paths deliver ESP
  // packets up to the MTU in one segment.
  if (m->nb_segs != 1) return EspVerdict::kMalformed;
  EspOuterView view;
  const EspVerdict parsed = ParseEspOuter(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len, &view);
  if (parsed != EspVerdict::kOk) return parsed;
  // RFC 4303 §3.4.2: the SA is found by SPI; the outer addresses must be
  // the SA's tunnel endpoints (RFC 4301 §5.2, inbound SPD check).
  if (view.spi != spi_) return EspVerdict::kWrongSpi;
  if (view.src != remote_ip_) return EspVerdict::kWrongSource;
  if (view.dst != local_ip_) return EspVerdict::kWrongDestination;
  // Drop link-layer padding: rte_ipsec finds the ICV at the packet's end.
  if (m->pkt_len > view.total_len) rte_pktmbuf_trim(m, static_cast<uint16_t>(m->pkt_len - view.total_len));
  *seq = window_->Reconstruct(view.seq_low);
  switch (window_->Test(*seq)) {
    case ReplayWindow::Check::kReplayed:
      return EspVerdict::kReplayed;
    case ReplayWindow::Check::kTooOld:
      return EspVerdict::kOutsideWindow;
    case ReplayWindow::Check::kNew:
      break;
  }
  m->l2_len = 0;
  m->l3_len = view.esp_offset;  // rte_ipsec finds ESP at l2_len + l3_len
  m->ol_flags &= ~RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED;
  *life_len = view.EncryptedLen();
  return EspVerdict::kOk;
}

uint16_t EspSa::InboundChunk(rte_mbuf** pkts, uint16_t n, EspVerdict* verdicts) {
  rte_mbuf* orig[kChunk];
  rte_mbuf* batch[kChunk];
  uint64_t seqs[kChunk];
  uint32_t life[kChunk];
  uint16_t index[kChunk];
  uint16_t k = 0;
  uint64_t pending_bytes = 0;
  for (uint16_t i = 0; i < n; ++i) {
    EspVerdict v = InboundPrecheck(pkts[i], &seqs[k], &life[k]);
    if (v == EspVerdict::kOk && !Admit(k, pending_bytes)) {
      // Not flagged expired here: packets admitted before it in this burst
      // may still fail their ICV; UpdateExpiry looks at verified totals.
      v = EspVerdict::kExpired;
    }
    if (v != EspVerdict::kOk) {
      verdicts[i] = v;
      Count(v);
      continue;
    }
    pending_bytes += life[k];
    index[k] = i;
    orig[k] = batch[k] = pkts[i];
    ++k;
  }
  if (k == 0) return 0;

  bool prepared[kChunk];
  bool done[kChunk];
  (void)RunSession(orig, batch, k, prepared, done);   // verdicts come from prepared[] and done[]

  uint64_t ok_bytes = 0;
  uint64_t ok_life = 0;
  uint16_t accepted = 0;
  // In arrival order. The pre-check saw the window as it was before this
  // burst: a number repeated within the burst, or pushed out of the window
  // by a higher one earlier in it, is caught here, against the window as
  // the packets before it left it (rte_ipsec's own window is twice as wide,
  // see CreateInbound, so it may let such a packet through).
  for (uint16_t j = 0; j < k; ++j) {
    EspVerdict v = EspVerdict::kOk;
    const ReplayWindow::Check now = window_->Test(seqs[j]);
    if (done[j] && now == ReplayWindow::Check::kNew) {
      window_->Accept(seqs[j]);  // only now: the ICV verified (RFC 4303 §3.4.3)
      ok_bytes += orig[j]->pkt_len;
      ok_life += life[j];
      ++accepted;
    } else if (done[j] || now == ReplayWindow::Check::kReplayed) {
      v = now == ReplayWindow::Check::kReplayed ? EspVerdict::kReplayed : EspVerdict::kOutsideWindow;
    } else if (!prepared[j]) {
      v = EspVerdict::kMalformed;
    } else if (orig[j]->ol_flags & RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED) {
      v = EspVerdict::kAuthFailed;  // CPU crypto flags ICV mismatches this way
    } else if (now == ReplayWindow::Check::kTooOld) {
      v = EspVerdict::kOutsideWindow;  // rte_ipsec refused it as too old
    } else {
      v = EspVerdict::kMalformed;  // bad padding or next header after decryption
    }
    verdicts[index[j]] = v;
    Count(v);
  }
  highest_seq_.v.store(window_->top(), std::memory_order_relaxed);
  packets_.Add(accepted);
  bytes_.Add(ok_bytes);
  life_packets_.Add(accepted);
  life_bytes_.Add(ok_life);
  return accepted;
}

}  // namespace isthmus
