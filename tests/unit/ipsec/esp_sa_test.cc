// ESP SAs on rte_ipsec + CPU crypto: our encrypt -> our decrypt, interop
// with the independent Python implementation in both directions, and one
// named verdict per failure class (RFC 4303 §3.4).

#include "dataplane/ipsec/esp_sa.h"

#include <gtest/gtest.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>

#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "dataplane/ipsec/esp_inbound_set.h"
#include "dataplane/ipsec/esp_seq_reservations.h"
#include "tests/unit/common/packet_builder.h"
#include "tests/unit/ipsec/esp_seq_fake_storage.h"
#include "tests/unit/ipsec/esp_test_env.h"

namespace isthmus {
namespace {

using testing::Bytes;
using testing::EspTestEnvironment;
using testing::FromHex;
using testing::Hex;
using testing::InnerPacket;
using testing::InternetChecksum;
using testing::Ip;
using testing::MakeMbuf;
using testing::RunReference;
using testing::ToBytes;

constexpr uint32_t kSpi = 0x1000a001;
constexpr uint64_t k2To32 = uint64_t{1} << 32;
const uint32_t kLocal = Ip("192.0.2.1");   // our end
const uint32_t kRemote = Ip("192.0.2.2");  // the peer

EspContext& Ctx() { return EspTestEnvironment::Instance()->context(); }

EspKey TestKey(EspCipher cipher) {
  EspKey k;
  for (size_t i = 0; i < EspCipherKeyLen(cipher); ++i) k.key.push_back(static_cast<uint8_t>(0x11 * (i % 15) + i));
  k.salt = {0x9a, 0x0b, 0x5c, 0x3d};
  return k;
}

// Our SA with the peer: outbound from us (local -> remote); used as is for
// our inbound SA too, since the peer sends remote -> local.
EspSaParams Params(EspCipher cipher, bool esn, bool udp) {
  EspSaParams p;
  p.spi = kSpi;
  p.cipher = cipher;
  p.key = TestKey(cipher);
  p.local_ip = kLocal;
  p.remote_ip = kRemote;
  p.esn = esn;
  p.udp_encap = udp;
  p.udp_src_port = 4500;
  return p;
}

// The peer's view of the same SA: addresses swapped.
EspSaParams Mirror(EspSaParams p) {
  std::swap(p.local_ip, p.remote_ip);
  return p;
}

std::unique_ptr<EspSa> Outbound(const EspSaParams& p) {
  auto sa = EspSa::CreateOutbound(Ctx(), p);
  EXPECT_TRUE(sa.ok()) << sa.status();
  return sa.ok() ? std::move(*sa) : nullptr;
}

std::unique_ptr<EspSa> Inbound(const EspSaParams& p) {
  auto sa = EspSa::CreateInbound(Ctx(), p);
  EXPECT_TRUE(sa.ok()) << sa.status();
  return sa.ok() ? std::move(*sa) : nullptr;
}

// Runs one burst; returns the verdicts and leaves the (transformed) mbufs
// in `mbufs`.
std::vector<EspVerdict> ProcessBurst(EspSa& sa, std::vector<rte_mbuf*>& mbufs, uint64_t now = 0) {
  std::vector<EspVerdict> v(mbufs.size(), EspVerdict::kCount);
  sa.Process(mbufs.data(), static_cast<uint16_t>(mbufs.size()), v.data(), now != 0 ? now : rte_rdtsc());
  return v;
}

// Single packet through an SA: verdict and resulting bytes.
std::pair<EspVerdict, Bytes> RunOne(EspSa& sa, const Bytes& in) {
  std::vector<rte_mbuf*> m = {MakeMbuf(in)};
  EXPECT_NE(m[0], nullptr);
  const EspVerdict v = ProcessBurst(sa, m)[0];
  Bytes out = ToBytes(m[0]);
  rte_pktmbuf_free(m[0]);
  return {v, out};
}

// Encrypts `inners` with our outbound SA; every packet must pass.
std::vector<Bytes> Encrypt(EspSa& sa, const std::vector<Bytes>& inners) {
  std::vector<rte_mbuf*> m;
  for (const Bytes& b : inners) m.push_back(MakeMbuf(b));
  std::vector<EspVerdict> v = ProcessBurst(sa, m);
  std::vector<Bytes> out;
  for (size_t i = 0; i < m.size(); ++i) {
    EXPECT_EQ(v[i], EspVerdict::kOk) << i << ": " << EspVerdictName(v[i]);
    out.push_back(ToBytes(m[i]));
    rte_pktmbuf_free(m[i]);
  }
  return out;
}

std::string ReferenceArgs(const EspSaParams& p, uint32_t src, uint32_t dst) {
  const auto addr = [](uint32_t a) { return absl::StrFormat("%u.%u.%u.%u", a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255); };
  Bytes key(p.key.key.begin(), p.key.key.end());
  Bytes salt(p.key.salt.begin(), p.key.salt.end());
  std::string args = absl::StrFormat("--key %s --salt %s --spi %u --src %s --dst %s", Hex(key), Hex(salt), p.spi,
                                     addr(src), addr(dst));
  if (p.esn) absl::StrAppend(&args, " --esn");
  if (p.udp_encap) absl::StrAppend(&args, " --udp ", p.udp_src_port);
  return args;
}

// The peer (Python) encrypts `inners` with the given sequence numbers.
std::vector<Bytes> PeerEncrypt(const EspSaParams& p, const std::vector<std::pair<uint64_t, Bytes>>& packets) {
  std::string input;
  for (const auto& [seq, inner] : packets) absl::StrAppend(&input, seq, " ", Hex(inner), "\n");
  std::vector<Bytes> out;
  for (const std::string& line : RunReference("encrypt " + ReferenceArgs(p, kRemote, kLocal), input)) {
    out.push_back(FromHex(line));
  }
  EXPECT_EQ(out.size(), packets.size());
  return out;
}

void CheckOuterHeader(const Bytes& pkt, const EspSaParams& p) {
  ASSERT_GE(pkt.size(), 20u + 8 + 8 + 16);
  EXPECT_EQ(pkt[0], 0x45);
  EXPECT_EQ(pkt[2] << 8 | pkt[3], static_cast<int>(pkt.size()));
  EXPECT_EQ(InternetChecksum(pkt.data(), 20), 0) << "outer header checksum";
  EXPECT_EQ(pkt[8], 64) << "TTL";
  EXPECT_EQ(pkt[6] & 0x40, p.dont_fragment ? 0x40 : 0) << "DF";
  EXPECT_EQ(Ip(absl::StrFormat("%u.%u.%u.%u", pkt[12], pkt[13], pkt[14], pkt[15]).c_str()), p.local_ip);
  EXPECT_EQ(Ip(absl::StrFormat("%u.%u.%u.%u", pkt[16], pkt[17], pkt[18], pkt[19]).c_str()), p.remote_ip);
  size_t esp = 20;
  if (p.udp_encap) {
    EXPECT_EQ(pkt[9], 17);
    EXPECT_EQ(pkt[20] << 8 | pkt[21], p.udp_src_port);
    EXPECT_EQ(pkt[22] << 8 | pkt[23], 4500);
    EXPECT_EQ(pkt[24] << 8 | pkt[25], static_cast<int>(pkt.size() - 20));
    EXPECT_EQ(pkt[26] << 8 | pkt[27], 0) << "UDP checksum must be 0 (RFC 3948)";
    esp = 28;
  } else {
    EXPECT_EQ(pkt[9], 50);
  }
  EXPECT_EQ(static_cast<uint32_t>(pkt[esp] << 24 | pkt[esp + 1] << 16 | pkt[esp + 2] << 8 | pkt[esp + 3]), p.spi);
}

using SaShape = std::tuple<EspCipher, bool /*esn*/, bool /*udp*/>;

std::string ShapeName(const ::testing::TestParamInfo<SaShape>& info) {
  const auto [cipher, esn, udp] = info.param;
  return absl::StrCat(cipher == EspCipher::kAes128Gcm ? "Aes128" : "Aes256", esn ? "Esn" : "Seq32",
                      udp ? "Udp" : "Esp");
}

class EspShapeTest : public ::testing::TestWithParam<SaShape> {
 protected:
  EspSaParams P() const {
    const auto [cipher, esn, udp] = GetParam();
    return Params(cipher, esn, udp);
  }
};

TEST_P(EspShapeTest, OurEncryptOurDecrypt) {
  const EspSaParams p = P();
  auto out = Outbound(p);
  auto in = Inbound(Mirror(p));
  ASSERT_TRUE(out && in);
  std::vector<Bytes> inners;
  for (size_t len : {0, 1, 2, 3, 18, 100, 1372}) inners.push_back(InnerPacket(len, static_cast<uint16_t>(2000 + len)));
  const std::vector<Bytes> wire = Encrypt(*out, inners);
  std::vector<rte_mbuf*> m;
  for (size_t i = 0; i < wire.size(); ++i) {
    CheckOuterHeader(wire[i], p);
    EXPECT_EQ(wire[i][4] << 8 | wire[i][5], static_cast<int>(i + 1)) << "IP id = low bits of the sequence number";
    EXPECT_LE(wire[i].size() - inners[i].size(), out->MaxOverhead());
    m.push_back(MakeMbuf(wire[i]));
  }
  std::vector<EspVerdict> v = ProcessBurst(*in, m);
  for (size_t i = 0; i < m.size(); ++i) {
    EXPECT_EQ(v[i], EspVerdict::kOk) << i << ": " << EspVerdictName(v[i]);
    EXPECT_EQ(ToBytes(m[i]), inners[i]) << i;
    rte_pktmbuf_free(m[i]);
  }
  EXPECT_EQ(out->stats().packets, inners.size());
  EXPECT_EQ(in->stats().packets, inners.size());
  EXPECT_EQ(in->stats().highest_seq, inners.size());
  EXPECT_EQ(out->stats().highest_seq, inners.size());
  EXPECT_EQ(out->stats().bytes, in->stats().bytes);
  EXPECT_EQ(out->stats().life_bytes, in->stats().life_bytes) << "both ends count the same lifetime bytes";
}

TEST_P(EspShapeTest, ReferenceDecryptsOurPackets) {
  const EspSaParams p = P();
  auto out = Outbound(p);
  ASSERT_TRUE(out);
  std::vector<Bytes> inners;
  for (size_t len : {0, 5, 64, 511, 1372}) inners.push_back(InnerPacket(len, static_cast<uint16_t>(3000 + len)));
  const std::vector<Bytes> wire = Encrypt(*out, inners);
  std::string input;
  for (const Bytes& w : wire) absl::StrAppend(&input, Hex(w), "\n");
  const std::vector<std::string> lines = RunReference("decrypt " + ReferenceArgs(p, kLocal, kRemote), input);
  ASSERT_EQ(lines.size(), inners.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    std::vector<std::string> f = absl::StrSplit(lines[i], ' ');
    ASSERT_EQ(f.size(), 3u) << lines[i];
    EXPECT_EQ(f[0], "OK") << lines[i];
    EXPECT_EQ(f[1], std::to_string(i + 1)) << "sequence numbers start at 1 (RFC 4303 3.3.3)";
    EXPECT_EQ(f[2], Hex(inners[i]));
  }
}

TEST_P(EspShapeTest, WeAcceptReferencePackets) {
  EspSaParams p = P();
  auto in = Inbound(p);
  ASSERT_TRUE(in);
  // With ESN, cross the 2^32 boundary (RFC 4303 A2): the high half only
  // exists in the ICV computation, never on the wire.
  const uint64_t first = p.esn ? k2To32 - 3 : 1;
  std::vector<std::pair<uint64_t, Bytes>> packets;
  for (uint64_t i = 0; i < 7; ++i) packets.push_back({first + i, InnerPacket(17 * i + 3, static_cast<uint16_t>(4000 + i))});
  const std::vector<Bytes> wire = PeerEncrypt(p, packets);
  ASSERT_EQ(wire.size(), packets.size());
  // Bursts {0}, {1..5}, {6}: with ESN the middle one crosses 2^32 inside
  // the burst (every number is placed relative to the window before it).
  const std::pair<size_t, size_t> bursts[] = {{0, 1}, {1, 6}, {6, 7}};
  for (const auto& [start, end] : bursts) {
    std::vector<rte_mbuf*> m;
    for (size_t i = start; i < end; ++i) m.push_back(MakeMbuf(wire[i]));
    std::vector<EspVerdict> v = ProcessBurst(*in, m);
    for (size_t i = 0; i < m.size(); ++i) {
      EXPECT_EQ(v[i], EspVerdict::kOk) << "seq " << packets[start + i].first << ": " << EspVerdictName(v[i]);
      EXPECT_EQ(ToBytes(m[i]), packets[start + i].second);
      rte_pktmbuf_free(m[i]);
    }
  }
  EXPECT_EQ(in->stats().highest_seq, first + 6);
  if (p.esn) {
    // Replays from before the wrap are still recognised as replays.
    std::vector<rte_mbuf*> m = {MakeMbuf(wire[1]), MakeMbuf(wire[5])};
    std::vector<EspVerdict> v = ProcessBurst(*in, m);
    EXPECT_EQ(v[0], EspVerdict::kReplayed);
    EXPECT_EQ(v[1], EspVerdict::kReplayed);
    for (rte_mbuf* x : m) rte_pktmbuf_free(x);
  }
}

INSTANTIATE_TEST_SUITE_P(AllShapes, EspShapeTest,
                         ::testing::Combine(::testing::Values(EspCipher::kAes128Gcm, EspCipher::kAes256Gcm),
                                            ::testing::Bool(), ::testing::Bool()),
                         ShapeName);

// --- One named verdict per failure class ---------------------------------

class EspVerdictTest : public ::testing::Test {
 protected:
  void SetUp() override {
    p_ = Params(EspCipher::kAes128Gcm, false, false);
    p_.replay_window = 64;
    in_ = Inbound(p_);
    ASSERT_TRUE(in_);
  }
  // A valid packet from the peer with sequence number `seq`.
  Bytes PeerPacket(uint64_t seq, const EspSaParams* params = nullptr) {
    return PeerEncrypt(params ? *params : p_, {{seq, InnerPacket(40)}})[0];
  }
  EspVerdict Deliver(const Bytes& pkt) { return RunOne(*in_, pkt).first; }
  static void FixOuterChecksum(Bytes& pkt) {
    pkt[10] = pkt[11] = 0;
    const uint16_t c = InternetChecksum(pkt.data(), 20);
    pkt[10] = static_cast<uint8_t>(c >> 8);
    pkt[11] = static_cast<uint8_t>(c);
  }

  EspSaParams p_;
  std::unique_ptr<EspSa> in_;
};

TEST_F(EspVerdictTest, Replayed) {
  const Bytes pkt = PeerPacket(5);
  EXPECT_EQ(Deliver(pkt), EspVerdict::kOk);
  EXPECT_EQ(Deliver(pkt), EspVerdict::kReplayed);
  EXPECT_EQ(in_->stats().verdicts[static_cast<size_t>(EspVerdict::kReplayed)], 1u);
}

TEST_F(EspVerdictTest, ReplayedInsideOneBurst) {
  const Bytes pkt = PeerPacket(9);
  std::vector<rte_mbuf*> m = {MakeMbuf(pkt), MakeMbuf(PeerPacket(10)), MakeMbuf(pkt)};
  std::vector<EspVerdict> v = ProcessBurst(*in_, m);
  EXPECT_EQ(v[0], EspVerdict::kOk);
  EXPECT_EQ(v[1], EspVerdict::kOk);
  EXPECT_EQ(v[2], EspVerdict::kReplayed);
  for (rte_mbuf* x : m) rte_pktmbuf_free(x);
}

// The window moves while a burst is processed: a number the burst's own
// higher packets pushed out of it, or a duplicate right after its twin, is
// refused although the window before the burst would have taken it.
TEST_F(EspVerdictTest, WindowMovesInsideOneBurst) {
  const Bytes twin = PeerPacket(150);
  std::vector<rte_mbuf*> m = {MakeMbuf(PeerPacket(200)), MakeMbuf(PeerPacket(136)), MakeMbuf(twin),
                              MakeMbuf(twin), MakeMbuf(PeerPacket(137))};
  std::vector<EspVerdict> v = ProcessBurst(*in_, m);
  EXPECT_EQ(v[0], EspVerdict::kOk);
  EXPECT_EQ(v[1], EspVerdict::kOutsideWindow);
  EXPECT_EQ(v[2], EspVerdict::kOk);
  EXPECT_EQ(v[3], EspVerdict::kReplayed);
  EXPECT_EQ(v[4], EspVerdict::kOk);
  EXPECT_EQ(in_->stats().packets, 3u);
  for (rte_mbuf* x : m) rte_pktmbuf_free(x);
}

TEST_F(EspVerdictTest, OutsideWindowAndItsEdge) {
  EXPECT_EQ(Deliver(PeerPacket(200)), EspVerdict::kOk);
  EXPECT_EQ(Deliver(PeerPacket(136)), EspVerdict::kOutsideWindow);  // 200 - 136 = 64 = window
  EXPECT_EQ(Deliver(PeerPacket(137)), EspVerdict::kOk);             // 63 behind: inside
  EXPECT_EQ(Deliver(PeerPacket(1)), EspVerdict::kOutsideWindow);
}

TEST_F(EspVerdictTest, OldestNumberInLargeWindowDoesNotShadowNewOnes) {
  // With a 1024 window, 977 is the oldest number inside it when 2000 is
  // the newest. Its bit must not share storage with 2001's (rte_ipsec's
  // bucket ring of exactly 1024 bits would alias them).
  EspSaParams p = p_;
  p.replay_window = 1024;
  auto in = Inbound(p);
  ASSERT_TRUE(in);
  EXPECT_EQ(RunOne(*in, PeerPacket(2000)).first, EspVerdict::kOk);
  EXPECT_EQ(RunOne(*in, PeerPacket(976)).first, EspVerdict::kOutsideWindow);
  EXPECT_EQ(RunOne(*in, PeerPacket(977)).first, EspVerdict::kOk);
  EXPECT_EQ(RunOne(*in, PeerPacket(2001)).first, EspVerdict::kOk);
  EXPECT_EQ(RunOne(*in, PeerPacket(977)).first, EspVerdict::kOutsideWindow);
}

TEST_F(EspVerdictTest, IcvTampered) {
  Bytes pkt = PeerPacket(3);
  Bytes body = pkt;
  body[20 + 8 + 8 + 5] ^= 0x01;  // a ciphertext byte
  EXPECT_EQ(Deliver(body), EspVerdict::kAuthFailed);
  Bytes icv = pkt;
  icv.back() ^= 0x80;  // the ICV itself
  EXPECT_EQ(Deliver(icv), EspVerdict::kAuthFailed);
  Bytes seq = pkt;
  seq[20 + 7] ^= 0x02;  // the sequence number is in the AAD (RFC 4106 5)
  EXPECT_EQ(Deliver(seq), EspVerdict::kAuthFailed);
  // A forgery must not move the window: the genuine packet still passes.
  EXPECT_EQ(Deliver(pkt), EspVerdict::kOk);
}

TEST_F(EspVerdictTest, WrongKeyIsAuthFailure) {
  EspSaParams other = p_;
  other.key.key[0] ^= 1;
  EXPECT_EQ(Deliver(PeerPacket(4, &other)), EspVerdict::kAuthFailed);
}

TEST_F(EspVerdictTest, WrongSpi) {
  EspSaParams other = p_;
  other.spi = kSpi + 1;
  EXPECT_EQ(Deliver(PeerPacket(4, &other)), EspVerdict::kWrongSpi);
}

TEST_F(EspVerdictTest, WrongOuterSource) {
  Bytes pkt = PeerPacket(6);
  pkt[15] = 99;  // 192.0.2.99: not the SA's remote endpoint
  FixOuterChecksum(pkt);
  EXPECT_EQ(Deliver(pkt), EspVerdict::kWrongSource);
}

TEST_F(EspVerdictTest, WrongOuterDestination) {
  Bytes pkt = PeerPacket(6);
  pkt[19] = 77;
  FixOuterChecksum(pkt);
  EXPECT_EQ(Deliver(pkt), EspVerdict::kWrongDestination);
}

TEST_F(EspVerdictTest, MalformedAndTruncated) {
  const Bytes pkt = PeerPacket(7);
  Bytes truncated(pkt.begin(), pkt.begin() + 40);  // total length still says more
  EXPECT_EQ(Deliver(truncated), EspVerdict::kMalformed);
  Bytes tiny(pkt.begin(), pkt.begin() + 12);
  EXPECT_EQ(Deliver(tiny), EspVerdict::kMalformed);
  // Consistent lengths but the ESP payload is cut short of a 4-byte boundary.
  Bytes unaligned(pkt.begin(), pkt.end() - 1);
  unaligned[2] = static_cast<uint8_t>(unaligned.size() >> 8);
  unaligned[3] = static_cast<uint8_t>(unaligned.size());
  FixOuterChecksum(unaligned);
  EXPECT_EQ(Deliver(unaligned), EspVerdict::kMalformed);
  Bytes bad_checksum = pkt;
  bad_checksum[10] ^= 0xff;
  EXPECT_EQ(Deliver(bad_checksum), EspVerdict::kMalformed);
  // Nothing above moved the window.
  EXPECT_EQ(Deliver(pkt), EspVerdict::kOk);
}

TEST_F(EspVerdictTest, AuthenticatedButWrongContentIsMalformed) {
  // The ICV verifies, but the trailer is wrong: next header IPv6 (41) in an
  // IPv4 tunnel, or padding bytes that are not 1, 2, 3, ... (RFC 4303 2.4).
  const std::string sa = ReferenceArgs(p_, kRemote, kLocal);
  const std::string inner = absl::StrCat(Hex(InnerPacket(40)), "\n");
  const Bytes v6 = FromHex(RunReference("encrypt --next-header 41 " + sa, "20 " + inner).at(0));
  EXPECT_EQ(Deliver(v6), EspVerdict::kMalformed);
  const Bytes pad = FromHex(RunReference("encrypt --extra-pad 4 --bad-padding " + sa, "21 " + inner).at(0));
  EXPECT_EQ(Deliver(pad), EspVerdict::kMalformed);
  const Bytes good_pad = FromHex(RunReference("encrypt --extra-pad 8 " + sa, "22 " + inner).at(0));
  EXPECT_EQ(Deliver(good_pad), EspVerdict::kOk) << "extra padding is legal (RFC 4303 2.4)";
}

TEST_F(EspVerdictTest, FragmentAndNotEsp) {
  Bytes frag = PeerPacket(8);
  frag[6] |= 0x20;  // more fragments
  FixOuterChecksum(frag);
  EXPECT_EQ(Deliver(frag), EspVerdict::kFragment);
  Bytes tcp = PeerPacket(8);
  tcp[9] = 6;
  FixOuterChecksum(tcp);
  EXPECT_EQ(Deliver(tcp), EspVerdict::kNotEsp);
}

TEST_F(EspVerdictTest, UdpNonEspMarkerIsNotEsp) {
  EspSaParams udp = p_;
  udp.udp_encap = true;
  Bytes pkt = PeerPacket(8, &udp);
  EXPECT_EQ(Deliver(pkt), EspVerdict::kOk) << "inbound accepts UDP-encapsulated ESP";
  Bytes ike = PeerPacket(9, &udp);
  ike[28] = ike[29] = ike[30] = ike[31] = 0;  // RFC 3948 2.2 non-ESP marker
  EXPECT_EQ(Deliver(ike), EspVerdict::kNotEsp);
  Bytes other_port = PeerPacket(10, &udp);
  other_port[23] = 0x95;  // destination port 4501
  EXPECT_EQ(Deliver(other_port), EspVerdict::kNotEsp);
}

TEST_F(EspVerdictTest, LinkPaddingIsIgnored) {
  Bytes pkt = PeerPacket(11);
  pkt.resize(pkt.size() + 9, 0);  // e.g. Ethernet minimum-size padding
  EXPECT_EQ(Deliver(pkt), EspVerdict::kOk);
}

// --- Lifetimes -------------------------------------------------------------

TEST(EspLifetimeTest, OutboundHardPacketLimit) {
  EspSaParams p = Params(EspCipher::kAes256Gcm, false, false);
  p.hard.packets = 3;
  p.soft.packets = 2;
  auto out = Outbound(p);
  ASSERT_TRUE(out);
  std::vector<rte_mbuf*> m;
  for (int i = 0; i < 5; ++i) m.push_back(MakeMbuf(InnerPacket(10)));
  std::vector<EspVerdict> v = ProcessBurst(*out, m);
  EXPECT_EQ(v, (std::vector<EspVerdict>{EspVerdict::kOk, EspVerdict::kOk, EspVerdict::kOk, EspVerdict::kExpired,
                                        EspVerdict::kExpired}));
  EXPECT_TRUE(out->SoftExpired());
  EXPECT_TRUE(out->Expired());
  EXPECT_EQ(out->stats().verdicts[static_cast<size_t>(EspVerdict::kExpired)], 2u);
  for (rte_mbuf* x : m) rte_pktmbuf_free(x);
  auto [verdict, bytes] = RunOne(*out, InnerPacket(10));
  EXPECT_EQ(verdict, EspVerdict::kExpired);
}

TEST(EspLifetimeTest, InboundHardByteLimit) {
  EspSaParams p = Params(EspCipher::kAes128Gcm, true, false);
  // Inner packets of 100 bytes encrypt to 104 (100 + trailer, 4-aligned):
  // 0, 104, 208 are below 300, so three pass.
  p.hard.bytes = 300;
  auto in = Inbound(p);
  ASSERT_TRUE(in);
  std::vector<std::pair<uint64_t, Bytes>> packets;
  for (uint64_t s = 1; s <= 5; ++s) packets.push_back({s, InnerPacket(100 - 28)});
  const std::vector<Bytes> wire = PeerEncrypt(p, packets);
  std::vector<rte_mbuf*> m;
  for (const Bytes& w : wire) m.push_back(MakeMbuf(w));
  std::vector<EspVerdict> v = ProcessBurst(*in, m);
  EXPECT_EQ(v, (std::vector<EspVerdict>{EspVerdict::kOk, EspVerdict::kOk, EspVerdict::kOk, EspVerdict::kExpired,
                                        EspVerdict::kExpired}));
  EXPECT_TRUE(in->Expired());
  EXPECT_EQ(in->stats().life_bytes, 312u);
  for (rte_mbuf* x : m) rte_pktmbuf_free(x);
}

TEST(EspLifetimeTest, InboundPacketLimitCountsOnlyAuthenticated) {
  EspSaParams p = Params(EspCipher::kAes128Gcm, false, false);
  p.hard.packets = 2;
  auto in = Inbound(p);
  ASSERT_TRUE(in);
  const std::vector<Bytes> wire = PeerEncrypt(p, {{1, InnerPacket(10)}, {2, InnerPacket(10)}, {3, InnerPacket(10)}});
  Bytes forged = wire[2];
  forged.back() ^= 1;
  // Forgeries do not use up the lifetime (else anyone could expire the SA).
  EXPECT_EQ(RunOne(*in, forged).first, EspVerdict::kAuthFailed);
  EXPECT_EQ(RunOne(*in, forged).first, EspVerdict::kAuthFailed);
  EXPECT_EQ(RunOne(*in, wire[0]).first, EspVerdict::kOk);
  EXPECT_FALSE(in->Expired());
  EXPECT_EQ(RunOne(*in, wire[1]).first, EspVerdict::kOk);
  EXPECT_TRUE(in->Expired());
  EXPECT_EQ(RunOne(*in, wire[2]).first, EspVerdict::kExpired);
}

TEST(EspLifetimeTest, HardSeconds) {
  EspSaParams p = Params(EspCipher::kAes128Gcm, false, true);
  p.soft.seconds = 30;
  p.hard.seconds = 60;
  auto out = Outbound(p);
  ASSERT_TRUE(out);
  const uint64_t hz = rte_get_tsc_hz();
  std::vector<rte_mbuf*> m = {MakeMbuf(InnerPacket(10))};
  EXPECT_EQ(ProcessBurst(*out, m, rte_rdtsc() + 31 * hz)[0], EspVerdict::kOk);
  EXPECT_TRUE(out->SoftExpired());
  EXPECT_FALSE(out->Expired());
  rte_pktmbuf_free(m[0]);
  m = {MakeMbuf(InnerPacket(10))};
  EXPECT_EQ(ProcessBurst(*out, m, rte_rdtsc() + 61 * hz)[0], EspVerdict::kExpired);
  EXPECT_TRUE(out->Expired());
  rte_pktmbuf_free(m[0]);
}

// --- Parameters ------------------------------------------------------------

TEST(EspParamsTest, RejectedWithReasons) {
  struct Case {
    const char* what;
    std::function<void(EspSaParams&)> mutate;
    const char* message;
  };
  const Case cases[] = {
      {"reserved SPI", [](EspSaParams& p) { p.spi = 255; }, "reserved"},
      {"short key", [](EspSaParams& p) { p.key.key.resize(15); }, "16-byte key"},
      {"256-bit key for 128", [](EspSaParams& p) { p.key = TestKey(EspCipher::kAes256Gcm); }, "16-byte key"},
      {"window not power of two", [](EspSaParams& p) { p.replay_window = 1000; }, "power of two"},
      {"window too small", [](EspSaParams& p) { p.replay_window = 16; }, "power of two from 32"},
      {"soft above hard", [](EspSaParams& p) { p.soft.bytes = 10; p.hard.bytes = 5; }, "soft lifetime"},
      {"no remote", [](EspSaParams& p) { p.remote_ip = 0; }, "addresses"},
  };
  for (const Case& c : cases) {
    EspSaParams p = Params(EspCipher::kAes128Gcm, false, false);
    c.mutate(p);
    auto sa = EspSa::CreateInbound(Ctx(), p);
    ASSERT_FALSE(sa.ok()) << c.what;
    EXPECT_NE(sa.status().message().find(c.message), std::string::npos) << c.what << ": " << sa.status();
  }
}

TEST(EspParamsTest, WindowSizesAccepted) {
  for (uint32_t w : {32u, 64u, 1024u, 65536u}) {
    for (bool esn : {false, true}) {
      EspSaParams p = Params(EspCipher::kAes128Gcm, esn, false);
      p.replay_window = w;
      auto sa = EspSa::CreateInbound(Ctx(), p);
      EXPECT_TRUE(sa.ok()) << w << " " << sa.status();
    }
  }
}

// --- Resuming the outbound sequence after a restart ------------------------

// The ESP header's sequence number and the GCM IV (RFC 4106 3.1: our IV is
// the 64-bit sequence number) of one of our outbound packets.
std::pair<uint32_t, uint64_t> SeqAndIv(const Bytes& pkt, bool udp) {
  const size_t esp = udp ? 28 : 20;
  uint32_t seq = 0;
  uint64_t iv = 0;
  for (size_t i = 0; i < 4; ++i) seq = seq << 8 | pkt[esp + 4 + i];
  for (size_t i = 0; i < 8; ++i) iv = iv << 8 | pkt[esp + 8 + i];
  return {seq, iv};
}

// One daemon lifetime: reservations read from `disk`, an outbound SA that
// starts where they say and may go as far as they reserved.
struct OutboundLife {
  std::unique_ptr<EspSeqReservations> reservations;
  std::unique_ptr<EspSeqLease> lease;
  std::unique_ptr<EspSa> sa;
};

OutboundLife StartOutbound(testing::FakeSeqDisk* disk, EspSaParams p, uint64_t block) {
  OutboundLife life;
  auto r = EspSeqReservations::Open(testing::FakeStorage(disk), block);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return life;
  life.reservations = std::move(*r);
  auto fp = FingerprintEspKey(p.cipher, p.key);
  EXPECT_TRUE(fp.ok()) << fp.status();
  auto lease = life.reservations->Begin("east", p.spi, *fp, EspSa::MaxSeq(p.esn));
  EXPECT_TRUE(lease.ok()) << lease.status();
  if (!lease.ok()) return life;
  life.lease = std::move(*lease);
  p.first_seq = life.lease->first_seq();
  life.sa = Outbound(p);
  if (life.sa) life.sa->SetSeqLimit(life.lease->limit());
  return life;
}

class EspSeqResumeTest : public ::testing::TestWithParam<bool /*esn*/> {};

TEST_P(EspSeqResumeTest, FirstPacketAfterRestartCarriesThePersistedSequence) {
  const bool esn = GetParam();
  const EspSaParams p = Params(EspCipher::kAes128Gcm, esn, false);
  constexpr uint64_t kBlock = 1000;
  testing::FakeSeqDisk disk;
  std::vector<Bytes> before;
  uint64_t first_life_start = 0;
  {
    EspSaParams first = p;
    if (esn) {
      // Start the previous life just below 2^32 (a preloaded record) so the
      // restarted SA carries a high half the wire never shows (RFC 4106 5).
      auto fp = FingerprintEspKey(p.cipher, p.key);
      ASSERT_TRUE(fp.ok());
      Bytes fpb(fp->begin(), fp->end());
      disk.contents = absl::StrCat("v1\n", Hex(fpb), " ", k2To32 - 3, " 256 east\n");
    }
    OutboundLife life = StartOutbound(&disk, first, kBlock);
    ASSERT_TRUE(life.sa);
    first_life_start = life.lease->first_seq();
    before = Encrypt(*life.sa, {InnerPacket(10), InnerPacket(20), InnerPacket(30)});
    // The daemon dies here: the SA, its lease and its reservations are gone,
    // only the disk stays.
  }
  // The peer's inbound SA lives on with its window at the last number.
  auto peer = Inbound(Mirror(p));
  ASSERT_TRUE(peer);
  for (const Bytes& w : before) EXPECT_EQ(RunOne(*peer, w).first, EspVerdict::kOk);

  OutboundLife life = StartOutbound(&disk, p, kBlock);
  ASSERT_TRUE(life.sa);
  const uint64_t expected = first_life_start - 1 + kBlock + 1;  // one above the first life's reservation
  EXPECT_EQ(life.lease->first_seq(), expected);
  const Bytes inner = InnerPacket(40);
  const std::vector<Bytes> after = Encrypt(*life.sa, {inner});
  ASSERT_EQ(after.size(), 1u);
  const auto [seq_low, iv] = SeqAndIv(after[0], p.udp_encap);
  EXPECT_EQ(seq_low, static_cast<uint32_t>(expected));
  EXPECT_EQ(iv, expected) << "the GCM IV is the full sequence number: never one used before with this key";
  for (const Bytes& w : before) EXPECT_LT(SeqAndIv(w, p.udp_encap).second, expected);
  EXPECT_EQ(life.sa->stats().highest_seq, expected);

  // The independent implementation decrypts it at that number.
  std::string args = "decrypt " + ReferenceArgs(p, kLocal, kRemote);
  if (esn) absl::StrAppend(&args, " --esn-high ", expected >> 32);
  const std::vector<std::string> lines = RunReference(args, Hex(after[0]) + "\n");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], absl::StrCat("OK ", expected, " ", Hex(inner)));
  // And the peer, whose window is ahead of 1, accepts it at once.
  EXPECT_EQ(RunOne(*peer, after[0]).first, EspVerdict::kOk);
}

INSTANTIATE_TEST_SUITE_P(Seq, EspSeqResumeTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "Esn" : "Seq32"; });

TEST(EspSeqLimitTest, WorkerStopsAtTheReservedLimitAndContinuesWithoutGap) {
  EspSaParams p = Params(EspCipher::kAes128Gcm, false, false);
  p.first_seq = 10;
  auto out = Outbound(p);
  ASSERT_TRUE(out);
  out->SetSeqLimit(12);
  std::vector<rte_mbuf*> m;
  for (int i = 0; i < 5; ++i) m.push_back(MakeMbuf(InnerPacket(10)));
  std::vector<EspVerdict> v = ProcessBurst(*out, m);
  EXPECT_EQ(v, (std::vector<EspVerdict>{EspVerdict::kOk, EspVerdict::kOk, EspVerdict::kOk,
                                        EspVerdict::kSeqUnreserved, EspVerdict::kSeqUnreserved}));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(SeqAndIv(ToBytes(m[i]), false).first, static_cast<uint32_t>(10 + i));
  for (rte_mbuf* x : m) rte_pktmbuf_free(x);
  EXPECT_EQ(out->stats().verdicts[static_cast<size_t>(EspVerdict::kSeqUnreserved)], 2u);
  EXPECT_FALSE(out->Expired()) << "a missing reservation is not the end of the SA";
  out->SetSeqLimit(20);
  auto [verdict, bytes] = RunOne(*out, InnerPacket(10));
  EXPECT_EQ(verdict, EspVerdict::kOk);
  EXPECT_EQ(SeqAndIv(bytes, false).first, 13u) << "the dropped packets consumed no numbers";
}

TEST(EspSeqLimitTest, FirstSequenceOutsideTheSpaceRefused) {
  struct Case {
    bool esn;
    uint64_t first;
  };
  for (const Case& c : {Case{false, 0}, Case{false, k2To32 - 1}, Case{false, k2To32}, Case{true, 0}}) {
    EspSaParams p = Params(EspCipher::kAes128Gcm, c.esn, false);
    p.first_seq = c.first;
    auto sa = EspSa::CreateOutbound(Ctx(), p);
    ASSERT_FALSE(sa.ok()) << c.first;
    EXPECT_NE(sa.status().message().find("new key file"), std::string::npos) << sa.status();
  }
  EspSaParams p = Params(EspCipher::kAes128Gcm, false, false);
  p.first_seq = EspSa::MaxSeq(false);  // 2^32-2: the last number rte_ipsec sends
  ASSERT_EQ(p.first_seq, k2To32 - 2);
  auto out = Outbound(p);
  ASSERT_TRUE(out);
  EXPECT_EQ(RunOne(*out, InnerPacket(10)).first, EspVerdict::kOk);
  EXPECT_EQ(RunOne(*out, InnerPacket(10)).first, EspVerdict::kSeqExhausted);
}

// --- Make-before-break: several inbound SAs found by SPI -------------------

TEST(EspInboundSetTest, OldAndNewSaBothAcceptedUntilRemoved) {
  EspSaParams old_p = Params(EspCipher::kAes128Gcm, false, false);
  EspSaParams new_p = Params(EspCipher::kAes256Gcm, true, false);
  new_p.spi = kSpi + 0x100;
  EspInboundSet set;
  ASSERT_TRUE(set.Add(Inbound(old_p)).ok());
  ASSERT_TRUE(set.Add(Inbound(new_p)).ok());
  EXPECT_FALSE(set.Add(Inbound(old_p)).ok()) << "duplicate SPI";
  EXPECT_FALSE(set.Add(Outbound(new_p)).ok()) << "outbound SA";

  const std::vector<Bytes> old_wire = PeerEncrypt(old_p, {{1, InnerPacket(10)}, {2, InnerPacket(11)}});
  const std::vector<Bytes> new_wire = PeerEncrypt(new_p, {{1, InnerPacket(12)}, {2, InnerPacket(13)}});
  EspSaParams stray = old_p;
  stray.spi = 0x7777;
  const Bytes unknown = PeerEncrypt(stray, {{1, InnerPacket(14)}})[0];
  // Interleaved, as during a rekey.
  std::vector<rte_mbuf*> m = {MakeMbuf(new_wire[0]), MakeMbuf(old_wire[0]), MakeMbuf(unknown),
                              MakeMbuf(old_wire[1]), MakeMbuf(new_wire[1])};
  std::vector<EspVerdict> v(m.size());
  EXPECT_EQ(set.Process(m.data(), static_cast<uint16_t>(m.size()), v.data(), rte_rdtsc()), 4);
  EXPECT_EQ(v, (std::vector<EspVerdict>{EspVerdict::kOk, EspVerdict::kOk, EspVerdict::kWrongSpi, EspVerdict::kOk,
                                        EspVerdict::kOk}));
  EXPECT_EQ(ToBytes(m[0]), InnerPacket(12));
  EXPECT_EQ(ToBytes(m[3]), InnerPacket(11));
  for (rte_mbuf* x : m) rte_pktmbuf_free(x);
  EXPECT_EQ(set.Find(old_p.spi)->stats().packets, 2u);
  EXPECT_EQ(set.Find(new_p.spi)->stats().packets, 2u);

  // The old SA's traffic stopped: remove it; its packets now have no SA.
  EXPECT_NE(set.Remove(old_p.spi), nullptr);
  EXPECT_EQ(set.Find(old_p.spi), nullptr);
  const Bytes late = PeerEncrypt(old_p, {{3, InnerPacket(10)}})[0];
  std::vector<rte_mbuf*> m2 = {MakeMbuf(late)};
  EspVerdict v2;
  EXPECT_EQ(set.Process(m2.data(), 1, &v2, rte_rdtsc()), 0);
  EXPECT_EQ(v2, EspVerdict::kWrongSpi);
  rte_pktmbuf_free(m2[0]);
}

}  // namespace
}  // namespace isthmus
