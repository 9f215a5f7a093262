// VXLAN inside ESP without DPDK: the VXLAN packet we hand to the outbound
// SA, and CheckVxlanInEsp's verdict on what an inbound SA decrypted, one
// named drop per way the inner packet can be wrong.

#include "dataplane/tunnel/vxlan_in_esp.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <functional>
#include <ostream>
#include <string>

#include "tests/unit/common/packet_builder.h"
#include "tests/unit/tunnel/vxlan_in_esp_tunnel.h"

namespace isthmus {
namespace {

using testing::Bytes;
using testing::InternetChecksum;
using testing::Ip;
using testing::PacketBuilder;

constexpr uint32_t kVni = testing::kTestVni;
constexpr uint16_t kSrcPort = 50123;

// The routed packet, as an Ethernet frame addressed over the tunnel's link.
Bytes InnerFrame(const TunnelEntry& sender) {
  return PacketBuilder()
      .DstMac(sender.remote_inner_mac)
      .SrcMac(sender.inner_mac)
      .Src("198.51.100.10")
      .Dst("198.18.1.2")
      .IcmpEcho(7, 1)
      .Payload(40)
      .Build();
}

// The ESP inner packet `sender` builds: VXLAN headers + the inner frame.
Bytes VxlanPacket(const TunnelEntry& sender, const Bytes& frame) {
  Bytes out(kVxlanPacketHeaderLen);
  WriteVxlanPacketHeaders(out.data(), sender, static_cast<uint32_t>(frame.size()), kSrcPort, /*inner_df=*/false);
  out.insert(out.end(), frame.begin(), frame.end());
  return out;
}

void RefreshIpChecksum(Bytes& ip) {
  ip[10] = ip[11] = 0;
  StoreBe16(ip.data() + 10, InternetChecksum(ip.data(), kIpv4MinHeaderLen));
}

TEST(VxlanInEsp, TheInnerPacketIsVxlanBetweenTheEndpoints) {
  const TunnelEntry t = testing::OurVxlanInEspEnd();
  const Bytes frame = InnerFrame(t);
  const Bytes pkt = VxlanPacket(t, frame);
  ASSERT_EQ(pkt.size(), kVxlanPacketHeaderLen + frame.size());
  EXPECT_EQ(pkt.size(), frame.size() - kEtherHeaderLen + kVxlanInEspOverhead) << "50 bytes on top of the routed packet";
  const uint8_t* ip = pkt.data();
  EXPECT_EQ(ip[0], 0x45);
  EXPECT_EQ(LoadBe16(ip + 2), pkt.size());
  EXPECT_EQ(InternetChecksum(ip, kIpv4MinHeaderLen), 0);
  EXPECT_EQ(ip[9], kIpProtoUdp);
  EXPECT_EQ(LoadBe32(ip + 12), t.local);
  EXPECT_EQ(LoadBe32(ip + 16), t.remote);
  EXPECT_EQ(LoadBe16(ip + 6), kIpFlagDontFragment) << "df: set (the default)";
  const uint8_t* udp = ip + kIpv4MinHeaderLen;
  EXPECT_EQ(LoadBe16(udp), kSrcPort);
  EXPECT_EQ(LoadBe16(udp + 2), kVxlanDefaultPort);
  EXPECT_EQ(LoadBe16(udp + 4), pkt.size() - kIpv4MinHeaderLen);
  EXPECT_EQ(udp[kUdpHeaderLen], kVxlanFlagI);
  EXPECT_EQ(LoadBe32(udp + kUdpHeaderLen + 4) >> 8, kVni);
  EXPECT_EQ(std::memcmp(ip + kVxlanPacketHeaderLen, frame.data(), frame.size()), 0);
}

TEST(VxlanInEsp, WhatWeSendThePeerAccepts) {
  const Bytes frame = InnerFrame(testing::OurVxlanInEspEnd());
  const Bytes pkt = VxlanPacket(testing::OurVxlanInEspEnd(), frame);
  const VxlanInEspView v = CheckVxlanInEsp(pkt.data(), static_cast<uint32_t>(pkt.size()), testing::PeerVxlanInEspEnd());
  ASSERT_TRUE(v.ok) << Name(v.drop);
  EXPECT_EQ(v.inner_offset, kVxlanPacketHeaderLen);
  EXPECT_EQ(v.inner_len, frame.size());
}

TEST(VxlanInEsp, CarriesVxlanOnlyForIpsecWithAVni) {
  TunnelEntry t = testing::OurVxlanInEspEnd();
  EXPECT_TRUE(CarriesVxlan(t));
  t.vni = 0;
  EXPECT_FALSE(CarriesVxlan(t)) << "plain ESP";
  t = testing::OurVxlanInEspEnd();
  t.kind = TunnelKind::kVxlan;
  EXPECT_FALSE(CarriesVxlan(t)) << "a VXLAN tunnel is not ESP";
}

struct DecapCase {
  std::string description;
  std::function<void(Bytes&)> mutate;  // on the peer's VXLAN packet
  bool ok;
  DropReason drop;
};

void PrintTo(const DecapCase& c, std::ostream* os) { *os << c.description; }

class VxlanInEspDecap : public ::testing::TestWithParam<DecapCase> {};

TEST_P(VxlanInEspDecap, Verdict) {
  const DecapCase& c = GetParam();
  const Bytes frame = InnerFrame(testing::PeerVxlanInEspEnd());
  Bytes pkt = VxlanPacket(testing::PeerVxlanInEspEnd(), frame);
  c.mutate(pkt);
  const VxlanInEspView v = CheckVxlanInEsp(pkt.data(), static_cast<uint32_t>(pkt.size()), testing::OurVxlanInEspEnd());
  EXPECT_EQ(v.ok, c.ok) << Name(v.drop);
  if (!c.ok) {
    EXPECT_EQ(Name(v.drop), Name(c.drop));
    return;
  }
  ASSERT_LE(v.inner_offset + v.inner_len, pkt.size());
  EXPECT_EQ(Bytes(pkt.begin() + v.inner_offset, pkt.begin() + v.inner_offset + v.inner_len), frame);
}

constexpr uint32_t kUdp = kIpv4MinHeaderLen;
constexpr uint32_t kVxlan = kUdp + kUdpHeaderLen;
constexpr uint32_t kFrame = kVxlan + kVxlanHeaderLen;

INSTANTIATE_TEST_SUITE_P(
    Cases, VxlanInEspDecap,
    ::testing::Values(
        DecapCase{"valid", [](Bytes&) {}, true, DropReason::kBug},
        DecapCase{"bytes beyond the IPv4 total length are ignored", [](Bytes& p) { p.resize(p.size() + 3, 0); }, true,
                  DropReason::kBug},
        DecapCase{"VNI of another segment",
                  [](Bytes& p) { StoreBe32(p.data() + kVxlan + 4, (kVni + 1) << 8); }, false,
                  DropReason::kEspVxlanWrongVni},
        DecapCase{"VXLAN source is not the remote endpoint",
                  [](Bytes& p) {
                    StoreBe32(p.data() + 12, Ip("192.0.2.9"));
                    RefreshIpChecksum(p);
                  },
                  false, DropReason::kTunnelWrongSource},
        DecapCase{"VXLAN to another address",
                  [](Bytes& p) {
                    StoreBe32(p.data() + 16, Ip("192.0.2.9"));
                    RefreshIpChecksum(p);
                  },
                  false, DropReason::kEspInnerNotVxlan},
        DecapCase{"UDP to another port", [](Bytes& p) { StoreBe16(p.data() + kUdp + 2, 8472); }, false,
                  DropReason::kEspInnerNotVxlan},
        DecapCase{"a bare IPv4 packet (a plain-ESP peer)",
                  [](Bytes& p) { p = Bytes(p.begin() + kFrame + kEtherHeaderLen, p.end()); }, false,
                  DropReason::kEspInnerNotVxlan},
        DecapCase{"fragment",
                  [](Bytes& p) {
                    StoreBe16(p.data() + 6, kIpFlagMoreFragments);
                    RefreshIpChecksum(p);
                  },
                  false, DropReason::kTunnelOuterFragment},
        DecapCase{"bad IPv4 checksum", [](Bytes& p) { p[10] ^= 0x01; }, false, DropReason::kVxlanMalformed},
        DecapCase{"truncated below the IPv4 total length", [](Bytes& p) { p.resize(p.size() - 1); }, false,
                  DropReason::kVxlanMalformed},
        DecapCase{"shorter than an IPv4 header", [](Bytes& p) { p.resize(kIpv4MinHeaderLen - 1); }, false,
                  DropReason::kVxlanMalformed},
        DecapCase{"not IPv4",
                  [](Bytes& p) {
                    p[0] = 0x65;
                    RefreshIpChecksum(p);
                  },
                  false, DropReason::kVxlanMalformed},
        DecapCase{"I flag clear (RFC 7348 section 5)", [](Bytes& p) { p[kVxlan] = 0; }, false,
                  DropReason::kVxlanMalformed},
        DecapCase{"UDP length too short for VXLAN and Ethernet",
                  [](Bytes& p) { StoreBe16(p.data() + kUdp + 4, kUdpHeaderLen + kVxlanHeaderLen); }, false,
                  DropReason::kVxlanMalformed},
        DecapCase{"inner frame is ARP", [](Bytes& p) { StoreBe16(p.data() + kFrame + 12, kEtherTypeArp); }, false,
                  DropReason::kTunnelInnerNotIpv4}),
    [](const ::testing::TestParamInfo<DecapCase>& info) {
      std::string name;
      for (char ch : info.param.description) name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
      return name;
    });

}  // namespace
}  // namespace isthmus
