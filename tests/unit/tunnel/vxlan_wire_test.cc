// VXLAN wire code without DPDK: the outer headers we write, the receive
// parser's verdicts, the UDP source port range and MSS clamping.

#include <gtest/gtest.h>

#include <cstring>

#include "dataplane/tunnel/decap_parser.h"
#include "dataplane/tunnel/mss_clamp.h"
#include "dataplane/tunnel/vxlan.h"
#include "tests/unit/common/packet_builder.h"

namespace isthmus {
namespace {

using testing::Bytes;
using testing::InternetChecksum;
using testing::Ip;
using testing::PacketBuilder;

TunnelEntry Tunnel() {
  TunnelEntry t;
  t.id = 3;
  t.local = Ip("192.0.2.1");
  t.remote = Ip("192.0.2.2");
  t.vni = 0xabcdef;
  t.dst_port = kVxlanDefaultPort;
  t.inner_mac = DerivedInnerMac(t.local);
  t.remote_inner_mac = DerivedInnerMac(t.remote);
  return t;
}

// Outer headers + `inner` (an Ethernet frame), as the encap stage builds them.
Bytes Encapsulate(const TunnelEntry& t, const Bytes& inner, uint16_t src_port, bool inner_df = true) {
  Bytes out(kVxlanEncapLen);
  WriteVxlanHeaders(out.data(), t, static_cast<uint32_t>(inner.size()), src_port, inner_df);
  out.insert(out.end(), inner.begin(), inner.end());
  return out;
}

TEST(VxlanWire, OuterHeadersFollowRfc7348) {
  const TunnelEntry t = Tunnel();
  const Bytes inner = PacketBuilder().Build();
  const Bytes frame = Encapsulate(t, inner, 50000);
  const uint8_t* ip = frame.data() + kEtherHeaderLen;
  EXPECT_EQ(LoadBe16(frame.data() + 12), kEtherTypeIpv4);
  EXPECT_EQ(ip[0], 0x45);
  EXPECT_EQ(LoadBe16(ip + 2), frame.size() - kEtherHeaderLen);
  EXPECT_EQ(InternetChecksum(ip, kIpv4MinHeaderLen), 0) << "outer IPv4 checksum must verify";
  EXPECT_EQ(LoadBe16(ip + 6), kIpFlagDontFragment);
  EXPECT_EQ(ip[9], kIpProtoUdp);
  EXPECT_EQ(LoadBe32(ip + 12), t.local);
  EXPECT_EQ(LoadBe32(ip + 16), t.remote);
  const uint8_t* udp = ip + kIpv4MinHeaderLen;
  EXPECT_EQ(LoadBe16(udp), 50000);
  EXPECT_EQ(LoadBe16(udp + 2), kVxlanDefaultPort);
  EXPECT_EQ(LoadBe16(udp + 4), kUdpHeaderLen + kVxlanHeaderLen + inner.size());
  EXPECT_EQ(LoadBe16(udp + 6), 0) << "zero UDP checksum over IPv4 (RFC 7348 section 5)";
  const uint8_t* vxlan = udp + kUdpHeaderLen;
  EXPECT_EQ(vxlan[0], kVxlanFlagI);
  EXPECT_EQ(LoadBe32(vxlan + 4) >> 8, 0xabcdefu);
  EXPECT_EQ(vxlan[7], 0);
  EXPECT_EQ(std::memcmp(vxlan + kVxlanHeaderLen, inner.data(), inner.size()), 0);
}

TEST(VxlanWire, OuterCheckFramePassesWithThePortMac) {
  const TunnelEntry t = Tunnel();
  Bytes frame = Encapsulate(t, PacketBuilder().Build(), 50000);
  const MacAddr mac{0x02, 1, 2, 3, 4, 5};
  std::memcpy(frame.data(), mac.data(), 6);
  EXPECT_EQ(CheckFrame(frame.data(), static_cast<uint32_t>(frame.size()), mac).action, Action::kForward);
}

TEST(VxlanWire, DfFollowsTheConfiguredMode) {
  TunnelEntry t = Tunnel();
  const Bytes inner = PacketBuilder().Build();
  auto df_of = [&](bool inner_df) {
    return (LoadBe16(Encapsulate(t, inner, 50000, inner_df).data() + kEtherHeaderLen + 6) & kIpFlagDontFragment) != 0;
  };
  t.df = OuterDf::kSet;
  EXPECT_TRUE(df_of(false));
  t.df = OuterDf::kClear;
  EXPECT_FALSE(df_of(true));
  t.df = OuterDf::kInherit;
  EXPECT_TRUE(df_of(true));
  EXPECT_FALSE(df_of(false));
}

TEST(VxlanWire, SourcePortStaysInTheDynamicRange) {
  uint32_t seen_low = 65535, seen_high = 0;
  for (uint64_t h = 0; h <= 0xffffffffu; h += 0x10001) {
    const uint16_t port = VxlanSourcePort(static_cast<uint32_t>(h));
    ASSERT_GE(port, kUdpSourcePortBase);
    seen_low = std::min<uint32_t>(seen_low, port);
    seen_high = std::max<uint32_t>(seen_high, port);
  }
  EXPECT_EQ(VxlanSourcePort(0), 49152);
  EXPECT_EQ(VxlanSourcePort(0xffffffffu), 65535);
  EXPECT_LT(seen_low, 49200u);
  EXPECT_GT(seen_high, 65500u);
}

// ---- the receive parser, table-driven

struct ParseCase {
  const char* description;
  void (*mutate)(Bytes& outer_ip);  // applied to the outer IPv4 packet
  TunnelProto proto;
  bool ok;
  DropReason drop;
};

Bytes OuterIp() {
  Bytes frame = Encapsulate(Tunnel(), PacketBuilder().Build(), 50000);
  return Bytes(frame.begin() + kEtherHeaderLen, frame.end());
}
void Nothing(Bytes&) {}
void ClearIFlag(Bytes& ip) { ip[kIpv4MinHeaderLen + kUdpHeaderLen] = 0x00; }
void GpeFlags(Bytes& ip) { ip[kIpv4MinHeaderLen + kUdpHeaderLen] = 0x0c; }  // I set, P set: accepted (R ignored)
void OtherPort(Bytes& ip) { testing::PacketBuilder::Put16(ip.data() + kIpv4MinHeaderLen + 2, 8472); }
void UdpLengthTooLong(Bytes& ip) {
  testing::PacketBuilder::Put16(ip.data() + kIpv4MinHeaderLen + 4, static_cast<uint16_t>(ip.size()));
}
void UdpLengthNoInnerEthernet(Bytes& ip) {
  testing::PacketBuilder::Put16(ip.data() + kIpv4MinHeaderLen + 4, kUdpHeaderLen + kVxlanHeaderLen + 13);
}
void FirstFragment(Bytes& ip) { testing::PacketBuilder::Put16(ip.data() + 6, kIpFlagMoreFragments); }
void LaterFragment(Bytes& ip) { testing::PacketBuilder::Put16(ip.data() + 6, 100); }
void Tcp(Bytes& ip) { ip[9] = 6; }
void TruncatedUdp(Bytes& ip) { ip.resize(kIpv4MinHeaderLen + 4); }

const ParseCase kParseCases[] = {
    {"valid VXLAN", Nothing, TunnelProto::kVxlan, true, DropReason::kBug},
    {"I flag clear", ClearIFlag, TunnelProto::kVxlan, false, DropReason::kVxlanMalformed},
    {"reserved flag bits are ignored on receipt", GpeFlags, TunnelProto::kVxlan, true, DropReason::kBug},
    {"UDP to another port is not ours", OtherPort, TunnelProto::kNone, false, DropReason::kBug},
    {"UDP length beyond the IP payload", UdpLengthTooLong, TunnelProto::kVxlan, false, DropReason::kVxlanMalformed},
    {"no room for an inner Ethernet header", UdpLengthNoInnerEthernet, TunnelProto::kVxlan, false,
     DropReason::kVxlanMalformed},
    {"first fragment", FirstFragment, TunnelProto::kVxlan, false, DropReason::kTunnelOuterFragment},
    {"later fragment has no UDP header", LaterFragment, TunnelProto::kNone, false, DropReason::kBug},
    {"TCP", Tcp, TunnelProto::kNone, false, DropReason::kBug},
    {"shorter than a UDP header", TruncatedUdp, TunnelProto::kNone, false, DropReason::kBug},
};

class ParseTest : public ::testing::TestWithParam<ParseCase> {};

TEST_P(ParseTest, Verdict) {
  const ParseCase& c = GetParam();
  Bytes ip = OuterIp();
  c.mutate(ip);
  DecapPorts ports;
  ports.vxlan[ports.vxlan_count++] = kVxlanDefaultPort;
  const DecapParse p = ParseTunnelPacket(ip.data(), static_cast<uint32_t>(ip.size()), ports);
  EXPECT_EQ(p.proto, c.proto);
  if (c.proto == TunnelProto::kNone) return;
  EXPECT_EQ(p.ok, c.ok);
  if (!c.ok) {
    EXPECT_EQ(Name(p.drop), Name(c.drop));
    return;
  }
  EXPECT_EQ(p.vni, 0xabcdefu);
  EXPECT_EQ(p.outer_src, Ip("192.0.2.1"));
  EXPECT_EQ(p.outer_dst, Ip("192.0.2.2"));
  EXPECT_EQ(p.inner_offset, kIpv4MinHeaderLen + kUdpHeaderLen + kVxlanHeaderLen);
  EXPECT_EQ(p.inner_len, ip.size() - p.inner_offset);
}

INSTANTIATE_TEST_SUITE_P(Packets, ParseTest, ::testing::ValuesIn(kParseCases),
                         [](const auto& info) {
                           std::string name;
                           for (const char* p = info.param.description; *p; ++p) {
                             if (std::isalnum(static_cast<unsigned char>(*p))) name += *p;
                           }
                           return name;
                         });

// ---- MSS clamping

// A TCP SYN with an MSS option at `padding` NOPs into the option list.
Bytes SynWithMss(uint16_t mss, int nops) {
  Bytes options;
  for (int i = 0; i < nops; ++i) options.push_back(kTcpOptionNop);
  options.insert(options.end(), {kTcpOptionMss, kTcpOptionMssLen, static_cast<uint8_t>(mss >> 8),
                                 static_cast<uint8_t>(mss)});
  while (options.size() % 4) options.push_back(kTcpOptionEnd);
  Bytes frame = PacketBuilder().Tcp(40000, 443, kTcpFlagSyn).Build();
  uint8_t* ip = frame.data() + kEtherHeaderLen;
  frame.insert(frame.begin() + kEtherHeaderLen + kIpv4MinHeaderLen + kTcpMinHeaderLen, options.begin(),
               options.end());
  ip = frame.data() + kEtherHeaderLen;
  const uint16_t ip_len = static_cast<uint16_t>(frame.size() - kEtherHeaderLen);
  PacketBuilder::Put16(ip + 2, ip_len);
  PacketBuilder::Put16(ip + 10, 0);
  PacketBuilder::Put16(ip + 10, InternetChecksum(ip, kIpv4MinHeaderLen));
  uint8_t* tcp = ip + kIpv4MinHeaderLen;
  tcp[12] = static_cast<uint8_t>(((kTcpMinHeaderLen + options.size()) / 4) << 4);
  PacketBuilder::Put16(tcp + 16, 0);
  const uint32_t tcp_len = ip_len - kIpv4MinHeaderLen;
  const uint32_t pseudo = (LoadBe32(ip + 12) >> 16) + (LoadBe32(ip + 12) & 0xffff) + (LoadBe32(ip + 16) >> 16) +
                          (LoadBe32(ip + 16) & 0xffff) + kIpProtoTcp + tcp_len;
  PacketBuilder::Put16(tcp + 16, InternetChecksum(tcp, tcp_len, pseudo));
  return frame;
}

bool TcpChecksumOk(const Bytes& frame) {
  const uint8_t* ip = frame.data() + kEtherHeaderLen;
  const uint32_t tcp_len = LoadBe16(ip + 2) - kIpv4MinHeaderLen;
  const uint32_t pseudo = (LoadBe32(ip + 12) >> 16) + (LoadBe32(ip + 12) & 0xffff) + (LoadBe32(ip + 16) >> 16) +
                          (LoadBe32(ip + 16) & 0xffff) + kIpProtoTcp + tcp_len;
  return InternetChecksum(ip + kIpv4MinHeaderLen, tcp_len, pseudo) == 0;
}

uint16_t MssOf(const Bytes& frame, int nops) {
  return LoadBe16(frame.data() + kEtherHeaderLen + kIpv4MinHeaderLen + kTcpMinHeaderLen + nops + 2);
}

class MssClampTest : public ::testing::TestWithParam<int> {};

TEST_P(MssClampTest, LowersTheOptionAndKeepsTheChecksumValid) {
  const int nops = GetParam();  // odd counts put the option at an odd offset
  Bytes frame = SynWithMss(1460, nops);
  ASSERT_TRUE(TcpChecksumOk(frame));
  uint8_t* ip = frame.data() + kEtherHeaderLen;
  const uint32_t ip_len = LoadBe16(ip + 2);
  EXPECT_TRUE(ClampTcpMss(ip, ip_len, 1360));
  EXPECT_EQ(MssOf(frame, nops), 1360);
  EXPECT_TRUE(TcpChecksumOk(frame));
  EXPECT_FALSE(ClampTcpMss(ip, ip_len, 1400)) << "a smaller MSS is left alone";
  EXPECT_EQ(MssOf(frame, nops), 1360);
}

INSTANTIATE_TEST_SUITE_P(OptionOffsets, MssClampTest, ::testing::Values(0, 1, 2, 3));

TEST(MssClamp, NonSynIsLeftAlone) {
  Bytes frame = SynWithMss(1460, 0);
  uint8_t* ip = frame.data() + kEtherHeaderLen;
  ip[kIpv4MinHeaderLen + 13] = 0x10;  // ACK only
  EXPECT_FALSE(ClampTcpMss(ip, LoadBe16(ip + 2), 1000));
  EXPECT_EQ(MssOf(frame, 0), 1460);
}

}  // namespace
}  // namespace isthmus
