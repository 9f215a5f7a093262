// libFuzzer target for ESP decapsulation as the workers run it: a real
// inbound EspSa (dataplane/ipsec/esp_sa.cc: ParseEspOuter on the mbuf,
// replay window, rte_ipsec prepare/process with AES-GCM through CPU crypto
// on the crypto_aesni_gcm vdev, the RFC 4303 2.4 trailer, padding and next
// header checks after decryption) on a real mbuf, then CheckVxlanInEsp on
// what it decrypted, as InnerFrame does for a VXLAN-in-ESP tunnel.
//
// To get past the ICV the target encrypts the fuzzer's plaintext (inner
// packet, padding, pad length and next header, all chosen by the fuzzer)
// with the SA's key, so the parse after decryption sees arbitrary bytes.
// EAL runs once (LLVMFuzzerInitialize) without hugepages or PCI; every
// input gets a fresh SA, so the replay window never carries over.
//
// Input: configuration byte, 4-byte sequence number, then the plaintext
// (its length is rounded down to 4 bytes, as ESP requires).
//   bit 0  UDP-encapsulated (RFC 3948, port 4500)
//   bit 1  extended sequence numbers (RFC 4303 2.2.1; AAD of 12 bytes)
//   bit 2  raw: the rest of the input is the outer IPv4 packet as is
//   bit 3  tamper: XOR the byte after the sequence number into the
//          encrypted packet at the offset the next two bytes give
//   bits 4-5  0-3 bytes of link-layer padding after the packet
//
// Invariants: an untampered packet is accepted exactly when its trailer is
// right (next header 4, pad length within the plaintext, padding 1, 2, 3,
// ...), and then the mbuf holds exactly the inner packet; a tampered or raw
// packet, when accepted, leaves an mbuf no longer than it came; a
// VXLAN-in-ESP inner frame CheckVxlanInEsp accepts lies inside the
// decrypted packet (ASan watches the mbuf's bytes beyond it too).

#include <rte_cryptodev.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/ipsec/esp_context.h"
#include "dataplane/ipsec/esp_parse.h"
#include "dataplane/ipsec/esp_sa.h"
#include "dataplane/tunnel/vxlan_in_esp.h"
#include "tests/unit/common/packet_builder.h"

namespace {

using isthmus::EspVerdict;
using isthmus::testing::Bytes;

constexpr uint8_t kUdpEncap = 0x01;
constexpr uint8_t kEsn = 0x02;
constexpr uint8_t kRaw = 0x04;
constexpr uint8_t kTamper = 0x08;
constexpr uint32_t kLinkPaddingShift = 4;
constexpr uint32_t kLinkPaddingMask = 0x3;

constexpr uint32_t kSpi = 0x00001000;
constexpr uint32_t kLocal = 0xc0000201;   // 192.0.2.1: our end
constexpr uint32_t kRemote = 0xc0000202;  // 192.0.2.2: the peer
constexpr uint32_t kReplayWindow = 64;
constexpr uint8_t kSalt[isthmus::kEspSaltLen] = {0x9a, 0x0b, 0x5c, 0x3d};
constexpr uint8_t kOuterTtl = 64;
constexpr uint16_t kGcmNonceLen = 12;
constexpr uint16_t kAadLen = 8;
constexpr uint16_t kAadLenEsn = 12;
// One mbuf of the default data room holds what the target builds.
constexpr size_t kMaxPlaintext = 1400;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}

struct Globals {
  std::unique_ptr<isthmus::EspContext> ctx;
  rte_mempool* pool = nullptr;
  void* encrypt[2] = {nullptr, nullptr};  // AES-128-GCM encryption sessions: [esn]
};
Globals* g = nullptr;

isthmus::EspKey Key() {
  isthmus::EspKey k;
  for (size_t i = 0; i < isthmus::EspCipherKeyLen(isthmus::EspCipher::kAes128Gcm); ++i) {
    k.key.push_back(static_cast<uint8_t>(0x11 * (i % 15) + i));
  }
  std::memcpy(k.salt.data(), kSalt, sizeof(kSalt));
  return k;
}

isthmus::EspSaParams Params(bool udp, bool esn) {
  isthmus::EspSaParams p;
  p.spi = kSpi;
  p.cipher = isthmus::EspCipher::kAes128Gcm;
  p.key = Key();
  p.local_ip = kLocal;
  p.remote_ip = kRemote;
  p.esn = esn;
  p.udp_encap = udp;
  p.replay_window = kReplayWindow;
  return p;
}

void* EncryptSession(uint8_t dev_id, rte_mempool* session_pool, bool esn) {
  isthmus::EspKey key = Key();
  rte_crypto_sym_xform xform{};
  xform.type = RTE_CRYPTO_SYM_XFORM_AEAD;
  xform.aead.op = RTE_CRYPTO_AEAD_OP_ENCRYPT;
  xform.aead.algo = RTE_CRYPTO_AEAD_AES_GCM;
  xform.aead.key.data = key.key.data();
  xform.aead.key.length = static_cast<uint16_t>(key.key.size());
  xform.aead.iv.offset = 0;  // CPU crypto takes the nonce by pointer
  xform.aead.iv.length = kGcmNonceLen;
  xform.aead.digest_length = isthmus::kEspGcmIcvLen;
  xform.aead.aad_length = esn ? kAadLenEsn : kAadLen;
  return rte_cryptodev_sym_session_create(dev_id, &xform, session_pool);
}

// The peer's side: AES-GCM over `plaintext` (RFC 4106: nonce salt || IV,
// AAD SPI || [seq high ||] seq low) into an outer IPv4 [UDP] ESP packet.
Bytes Encrypt(const Bytes& plaintext, uint32_t seq, bool udp, bool esn) {
  const uint32_t esp_offset = isthmus::kIpv4MinHeaderLen + (udp ? isthmus::kUdpHeaderLen : 0);
  const uint32_t total = esp_offset + isthmus::kEspHeaderLen + isthmus::kEspGcmIvLen +
                         static_cast<uint32_t>(plaintext.size()) + isthmus::kEspGcmIcvLen;
  Bytes pkt(total, 0);
  uint8_t* ip = pkt.data();
  using isthmus::StoreBe16;
  using isthmus::StoreBe32;
  ip[0] = 0x45;
  StoreBe16(ip + 2, static_cast<uint16_t>(total));
  ip[8] = kOuterTtl;
  ip[9] = udp ? isthmus::kIpProtoUdp : isthmus::kIpProtoEsp;
  StoreBe32(ip + 12, kRemote);
  StoreBe32(ip + 16, kLocal);
  StoreBe16(ip + 10, isthmus::testing::InternetChecksum(ip, isthmus::kIpv4MinHeaderLen));
  if (udp) {
    uint8_t* u = ip + isthmus::kIpv4MinHeaderLen;
    StoreBe16(u, isthmus::kEspNatTraversalPort);
    StoreBe16(u + 2, isthmus::kEspNatTraversalPort);
    StoreBe16(u + 4, static_cast<uint16_t>(total - isthmus::kIpv4MinHeaderLen));
  }
  uint8_t* esp = ip + esp_offset;
  StoreBe32(esp, kSpi);
  StoreBe32(esp + 4, seq);
  uint8_t* iv = esp + isthmus::kEspHeaderLen;
  StoreBe32(iv, 0);
  StoreBe32(iv + 4, seq);  // the IV only has to be unique per key
  uint8_t* body = iv + isthmus::kEspGcmIvLen;
  std::memcpy(body, plaintext.data(), plaintext.size());

  uint8_t nonce[kGcmNonceLen];
  std::memcpy(nonce, kSalt, sizeof(kSalt));
  std::memcpy(nonce + sizeof(kSalt), iv, isthmus::kEspGcmIvLen);
  uint8_t aad[kAadLenEsn] = {};
  StoreBe32(aad, kSpi);
  if (esn) {
    StoreBe32(aad + 4, 0);  // a fresh window: the high half is 0
    StoreBe32(aad + 8, seq);
  } else {
    StoreBe32(aad + 4, seq);
  }
  rte_crypto_vec data_vec{};
  data_vec.base = body;
  data_vec.len = static_cast<uint32_t>(plaintext.size());
  data_vec.tot_len = data_vec.len;
  rte_crypto_sgl sgl{&data_vec, 1};
  rte_crypto_va_iova_ptr iv_ptr{nonce, 0};
  rte_crypto_va_iova_ptr digest_ptr{body + plaintext.size(), 0};
  rte_crypto_va_iova_ptr aad_ptr{aad, 0};
  int32_t status = -1;
  rte_crypto_sym_vec vec{};
  vec.num = 1;
  vec.src_sgl = &sgl;
  vec.iv = &iv_ptr;
  vec.digest = &digest_ptr;
  vec.aad = &aad_ptr;
  vec.status = &status;
  rte_crypto_sym_ofs ofs{};
  if (rte_cryptodev_sym_cpu_crypto_process(g->ctx->crypto_dev_id(), g->encrypt[esn ? 1 : 0], ofs, &vec) != 1 ||
      status != 0) {
    Fail("the reference encryption failed");
  }
  return pkt;
}

// RFC 4303 2.4 with the default padding (RFC 4303 2.5: 1, 2, 3, ...) and
// next header 4 (IPv4, tunnel mode): the length of the inner packet, or -1.
int InnerLenIfTrailerValid(const Bytes& pt) {
  if (pt.size() < isthmus::kEspTrailerLen) return -1;
  const uint8_t pad_len = pt[pt.size() - 2];
  const uint8_t next_header = pt[pt.size() - 1];
  if (next_header != isthmus::kIpProtoIpip || pad_len + isthmus::kEspTrailerLen > pt.size()) return -1;
  const size_t pad_start = pt.size() - isthmus::kEspTrailerLen - pad_len;
  for (size_t i = 0; i < pad_len; ++i) {
    if (pt[pad_start + i] != i + 1) return -1;
  }
  return static_cast<int>(pad_start);
}

rte_mbuf* ToMbuf(const Bytes& bytes) {
  rte_mbuf* m = rte_pktmbuf_alloc(g->pool);
  if (m == nullptr) Fail("mbuf pool exhausted: an mbuf leaked");
  char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(bytes.size()));
  if (p == nullptr) Fail("input does not fit one mbuf");
  std::memcpy(p, bytes.data(), bytes.size());
  return m;
}

// InnerFrame on a VXLAN-in-ESP tunnel whose VNI and port are those the
// decrypted packet names, so matching packets are as likely as others.
void CheckVxlanInner(const uint8_t* ip, uint32_t len) {
  if (len < isthmus::kIpv4MinHeaderLen) return;
  isthmus::TunnelEntry t;
  t.kind = isthmus::TunnelKind::kIpsec;
  t.local = kLocal;
  t.remote = kRemote;
  t.dst_port = isthmus::kVxlanDefaultPort;
  const uint32_t ihl = (ip[0] & 0x0fu) * 4u;
  if (ihl + isthmus::kUdpHeaderLen + isthmus::kVxlanHeaderLen <= len) {
    t.vni = isthmus::LoadBe32(ip + ihl + isthmus::kUdpHeaderLen + 4) >> 8;
  }
  const isthmus::VxlanInEspView v = isthmus::CheckVxlanInEsp(ip, len, t);
  if (!v.ok) return;
  if (v.inner_offset > len || v.inner_len > len - v.inner_offset) Fail("VXLAN-in-ESP inner frame beyond the packet");
  if (v.inner_len < isthmus::kEtherHeaderLen) Fail("VXLAN-in-ESP inner frame shorter than Ethernet");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  spdlog::set_level(spdlog::level::warn);  // an SA per input logs "ready" at info
  const std::string prefix = "isthmus-fuzz-" + std::to_string(getpid());
  std::vector<std::string> args = {"esp_decap_fuzz", "-l", "0", "--no-huge", "-m", "128", "--no-pci",
                                   "--no-shconf", "--no-telemetry", "--log-level=*:error",
                                   "--file-prefix=" + prefix};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) Fail("rte_eal_init failed");
  g = new Globals;
  absl::StatusOr<std::unique_ptr<isthmus::EspContext>> ctx = isthmus::EspContext::Create(/*socket_id=*/0);
  if (!ctx.ok()) {
    std::fprintf(stderr, "%s\n", ctx.status().ToString().c_str());
    Fail("no ESP context");
  }
  g->ctx = std::move(*ctx);
  g->pool = rte_pktmbuf_pool_create("fuzz_pool", 63, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  if (g->pool == nullptr) Fail("no mbuf pool");
  for (bool esn : {false, true}) {
    g->encrypt[esn ? 1 : 0] = EncryptSession(g->ctx->crypto_dev_id(), g->ctx->session_pool(), esn);
    if (g->encrypt[esn ? 1 : 0] == nullptr) Fail("no encryption session");
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kHeader = 1 + 4;
  if (size < kHeader) return 0;
  const uint8_t config = data[0];
  const bool udp = (config & kUdpEncap) != 0;
  const bool esn = (config & kEsn) != 0;
  // Sequence number 0 is never sent (RFC 4303 3.3.3): keep to real ones.
  uint32_t seq = isthmus::LoadBe32(data + 1);
  if (seq == 0) seq = 1;
  const uint8_t* rest = data + kHeader;
  size_t rest_len = size - kHeader;

  Bytes pkt;
  Bytes plaintext;
  bool exact = false;  // the outcome is predictable (untampered, encrypted)
  if (config & kRaw) {
    if (rest_len > kMaxPlaintext) return 0;
    pkt.assign(rest, rest + rest_len);
  } else {
    size_t tamper_at = 0;
    uint8_t tamper_xor = 0;
    if (config & kTamper) {
      if (rest_len < 3) return 0;
      tamper_xor = rest[0];
      tamper_at = isthmus::LoadBe16(rest + 1);
      rest += 3;
      rest_len -= 3;
    }
    plaintext.assign(rest, rest + std::min(rest_len, kMaxPlaintext) / isthmus::kEspAlign * isthmus::kEspAlign);
    if (plaintext.empty()) return 0;
    pkt = Encrypt(plaintext, seq, udp, esn);
    if (config & kTamper) {
      pkt[tamper_at % pkt.size()] ^= tamper_xor;
    }
    exact = (config & kTamper) == 0 || tamper_xor == 0;
  }
  pkt.resize(pkt.size() + ((config >> kLinkPaddingShift) & kLinkPaddingMask), 0);
  if (pkt.empty()) return 0;

  absl::StatusOr<std::unique_ptr<isthmus::EspSa>> sa = isthmus::EspSa::CreateInbound(*g->ctx, Params(udp, esn));
  if (!sa.ok()) {
    std::fprintf(stderr, "%s\n", sa.status().ToString().c_str());
    Fail("cannot create the inbound SA");
  }
  rte_mbuf* m = ToMbuf(pkt);
  EspVerdict verdict = EspVerdict::kCount;
  const uint16_t accepted = (*sa)->Process(&m, 1, &verdict);
  if ((accepted == 1) != (verdict == EspVerdict::kOk)) Fail("Process count disagrees with the verdict");
  const isthmus::EspSaStats stats = (*sa)->stats();
  if (stats.verdicts[static_cast<size_t>(verdict)] != 1) Fail("the verdict was not counted once");

  if (exact) {
    const int inner_len = InnerLenIfTrailerValid(plaintext);
    if ((verdict == EspVerdict::kOk) != (inner_len >= 0)) {
      std::fprintf(stderr, "verdict %s, trailer %s\n", std::string(isthmus::EspVerdictName(verdict)).c_str(),
                   inner_len >= 0 ? "valid" : "invalid");
      Fail("accepted iff the trailer is valid");
    }
    if (verdict == EspVerdict::kOk) {
      if (rte_pktmbuf_pkt_len(m) != static_cast<uint32_t>(inner_len) || m->nb_segs != 1 ||
          std::memcmp(rte_pktmbuf_mtod(m, const uint8_t*), plaintext.data(), inner_len) != 0) {
        Fail("the decrypted mbuf is not the inner packet");
      }
      if (stats.bytes != static_cast<uint64_t>(inner_len)) Fail("SA byte count is not the inner length");
    }
  } else if (verdict == EspVerdict::kOk && rte_pktmbuf_pkt_len(m) > pkt.size()) {
    Fail("an accepted packet grew");
  }
  if (verdict == EspVerdict::kOk) {
    CheckVxlanInner(rte_pktmbuf_mtod(m, const uint8_t*), rte_pktmbuf_data_len(m));
  }
  rte_pktmbuf_free(m);
  return 0;
}
