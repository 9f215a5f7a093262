// VXLAN inside ESP through real SAs (rte_ipsec + CPU crypto): the VXLAN
// packet each end builds is the ESP tunnel-mode inner packet, the other
// end's inbound SA decrypts it and CheckVxlanInEsp recovers the inner
// frame byte for byte; a valid SA carrying the wrong VNI decrypts fine and
// is then refused under its own reason.

#include <gtest/gtest.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>

#include <memory>
#include <utility>
#include <vector>

#include "dataplane/ipsec/esp_sa.h"
#include "dataplane/tunnel/vxlan_in_esp.h"
#include "tests/unit/common/packet_builder.h"
#include "tests/unit/tunnel/vxlan_in_esp_tunnel.h"
#include "tests/unit/ipsec/esp_test_env.h"

namespace isthmus {
namespace {

using testing::Bytes;
using testing::EspTestEnvironment;
using testing::Ip;
using testing::MakeMbuf;
using testing::PacketBuilder;
using testing::ToBytes;

constexpr uint32_t kSpi = 0x2000b001;
constexpr uint32_t kVni = testing::kTestVni;
constexpr uint16_t kSrcPort = 49999;
// ESP tunnel mode around the VXLAN packet (RFC 4303, RFC 4106): outer IPv4,
// SPI and sequence, IV, at most 3 bytes of padding, pad length and next
// header, ICV.
constexpr uint32_t kEspMaxOverhead = 20 + 8 + 8 + 3 + 2 + 16;
constexpr uint8_t kIpProtoEsp = 50;

// The SA as `end` sees it: outbound from end.local, inbound from end.remote.
EspSaParams Params(const TunnelEntry& end) {
  EspSaParams p;
  p.spi = kSpi;
  p.cipher = EspCipher::kAes256Gcm;
  for (size_t i = 0; i < EspCipherKeyLen(p.cipher); ++i) p.key.key.push_back(static_cast<uint8_t>(0x5a ^ i));
  p.key.salt = {0x01, 0x23, 0x45, 0x67};
  p.local_ip = end.local;
  p.remote_ip = end.remote;
  p.esn = true;
  return p;
}

std::unique_ptr<EspSa> Make(const TunnelEntry& end, bool outbound) {
  auto& ctx = EspTestEnvironment::Instance()->context();
  auto sa = outbound ? EspSa::CreateOutbound(ctx, Params(end)) : EspSa::CreateInbound(ctx, Params(end));
  EXPECT_TRUE(sa.ok()) << sa.status();
  return sa.ok() ? std::move(*sa) : nullptr;
}

std::pair<EspVerdict, Bytes> RunSa(EspSa& sa, const Bytes& in) {
  rte_mbuf* m = MakeMbuf(in);
  EXPECT_NE(m, nullptr);
  EspVerdict v = EspVerdict::kCount;
  sa.Process(&m, 1, &v, rte_rdtsc());
  Bytes out = ToBytes(m);
  rte_pktmbuf_free(m);
  return {v, out};
}

Bytes Frame(const TunnelEntry& sender, size_t payload) {
  return PacketBuilder()
      .DstMac(sender.remote_inner_mac)
      .SrcMac(sender.inner_mac)
      .Src("198.18.1.2")
      .Dst("198.51.100.10")
      .Udp(40000, 9)
      .Payload(payload)
      .Build();
}

Bytes VxlanPacket(const TunnelEntry& sender, const Bytes& frame) {
  Bytes out(kVxlanPacketHeaderLen);
  WriteVxlanPacketHeaders(out.data(), sender, static_cast<uint32_t>(frame.size()), kSrcPort, false);
  out.insert(out.end(), frame.begin(), frame.end());
  return out;
}

// One direction: `from` encrypts, `to` decrypts and unwraps.
void RoundTrip(const TunnelEntry& from, const TunnelEntry& to, size_t payload) {
  SCOPED_TRACE(payload);
  auto out = Make(from, /*outbound=*/true);
  auto in = Make(to, /*outbound=*/false);
  ASSERT_TRUE(out && in);
  const Bytes frame = Frame(from, payload);
  const Bytes vxlan = VxlanPacket(from, frame);
  const auto [ev, wire] = RunSa(*out, vxlan);
  ASSERT_EQ(ev, EspVerdict::kOk) << EspVerdictName(ev);
  EXPECT_EQ(wire[9], kIpProtoEsp);
  EXPECT_EQ(LoadBe32(wire.data() + 12), from.local);
  EXPECT_EQ(LoadBe32(wire.data() + 16), from.remote);
  EXPECT_LE(wire.size(), frame.size() - kEtherHeaderLen + kVxlanInEspOverhead + kEspMaxOverhead)
      << "the tunnel MTU accounts for ESP + VXLAN";
  const auto [dv, plain] = RunSa(*in, wire);
  ASSERT_EQ(dv, EspVerdict::kOk) << EspVerdictName(dv);
  EXPECT_EQ(plain, vxlan) << "the ESP inner packet is the VXLAN packet";
  const VxlanInEspView v = CheckVxlanInEsp(plain.data(), static_cast<uint32_t>(plain.size()), to);
  ASSERT_TRUE(v.ok) << Name(v.drop);
  EXPECT_EQ(Bytes(plain.begin() + v.inner_offset, plain.begin() + v.inner_offset + v.inner_len), frame);
}

TEST(VxlanInEspSa, OursDecryptAndUnwrapAtThePeer) {
  for (size_t payload : {0u, 1u, 2u, 3u, 1300u}) RoundTrip(testing::OurVxlanInEspEnd(), testing::PeerVxlanInEspEnd(), payload);
}

TEST(VxlanInEspSa, PeersDecryptAndUnwrapAtOurs) {
  for (size_t payload : {0u, 5u, 1300u}) RoundTrip(testing::PeerVxlanInEspEnd(), testing::OurVxlanInEspEnd(), payload);
}

TEST(VxlanInEspSa, WrongVniInsideValidEspIsRefusedAfterDecryption) {
  auto out = Make(testing::PeerVxlanInEspEnd(), true);
  auto in = Make(testing::OurVxlanInEspEnd(), false);
  ASSERT_TRUE(out && in);
  TunnelEntry other_segment = testing::PeerVxlanInEspEnd();
  other_segment.vni = kVni + 1;
  const auto [ev, wire] = RunSa(*out, VxlanPacket(other_segment, Frame(testing::PeerVxlanInEspEnd(), 64)));
  ASSERT_EQ(ev, EspVerdict::kOk);
  const auto [dv, plain] = RunSa(*in, wire);
  ASSERT_EQ(dv, EspVerdict::kOk) << "the ICV verifies: the peer did send it";
  const VxlanInEspView v = CheckVxlanInEsp(plain.data(), static_cast<uint32_t>(plain.size()), testing::OurVxlanInEspEnd());
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(Name(v.drop), Name(DropReason::kEspVxlanWrongVni));
}

}  // namespace
}  // namespace isthmus
