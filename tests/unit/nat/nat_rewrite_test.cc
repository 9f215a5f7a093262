// NAT rewrite over packet bytes: every expected packet is built from scratch
// by the packet builder (checksums computed in full), so the incremental
// updates are checked against an independent computation, byte for byte.

#include "dataplane/nat/nat_rewrite.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/common/packet_builder.h"
#include "tests/unit/nat/nat_test_support.h"

namespace isthmus {
namespace {

using testing::Bytes;
using testing::Ip;
using testing::PacketBuilder;
using namespace isthmus::testing;   // addresses of nat_test_support.h

constexpr uint32_t kEthLen = 14;
constexpr uint8_t kIcmpFragNeeded = 4;
constexpr uint16_t kNextHopMtu = 1400;
constexpr uint16_t kEchoSeq = 9;

PacketBuilder L4(PacketBuilder b, uint8_t proto, uint16_t sport, uint16_t dport, bool request = true) {
  if (proto == kTcp) return b.Tcp(sport, dport, kTcpFlagAck).Payload(24);
  if (proto == kUdp) return b.Udp(sport, dport).Payload(24);
  // Echo: a request carries the identifier as its source "port".
  return request ? b.IcmpEcho(sport, kEchoSeq).Payload(24)
                 : b.Icmp(kIcmpEchoReply, 0, uint32_t{dport} << 16 | kEchoSeq).Payload(24);
}

Bytes Packet(const FlowKey& k, bool request = true) {
  return L4(PacketBuilder().Src(k.src).Dst(k.dst), k.proto, k.sport, k.dport, request).Build();
}

struct RewriteCase {
  std::string name;
  uint8_t proto;
  bool snat;
  FlowDirection dir;
};

class FlowRewriteTest : public ::testing::TestWithParam<RewriteCase> {};

TEST_P(FlowRewriteTest, MatchesPacketBuiltWithTranslatedTuple) {
  const RewriteCase& c = GetParam();
  Flow flow;
  FillFlow(MakeSpec(c.proto, c.snat), &flow);
  const bool original = c.dir == FlowDirection::kOriginal;
  const FlowKey in_key = flow.Key(c.dir);
  Bytes frame = Packet(in_key, original);
  const NatPacket p = ParseNatPacket(frame.data() + kEthLen, static_cast<uint32_t>(frame.size() - kEthLen));
  ASSERT_EQ(p.kind, NatPacketKind::kFlow);
  EXPECT_EQ(p.key, in_key);

  TranslatePacket(frame.data() + kEthLen, p, flow, c.dir);
  const FlowKey out = TranslatedKey(flow, c.dir);
  // DNAT changes the destination going out and the source coming back; SNAT
  // also the other address.
  if (original) {
    EXPECT_EQ(out.dst, kBackend);
    EXPECT_EQ(out.src, c.snat ? kSnat : kClient);
  } else {
    EXPECT_EQ(out.src, kVip);
    EXPECT_EQ(out.dst, kClient);
  }
  EXPECT_EQ(frame, Packet(out, original));
}

INSTANTIATE_TEST_SUITE_P(
    Nat, FlowRewriteTest,
    ::testing::Values(RewriteCase{"TcpDnat", kTcp, false, FlowDirection::kOriginal},
                      RewriteCase{"TcpDnatReply", kTcp, false, FlowDirection::kReply},
                      RewriteCase{"TcpSnat", kTcp, true, FlowDirection::kOriginal},
                      RewriteCase{"TcpSnatReply", kTcp, true, FlowDirection::kReply},
                      RewriteCase{"UdpDnat", kUdp, false, FlowDirection::kOriginal},
                      RewriteCase{"UdpDnatReply", kUdp, false, FlowDirection::kReply},
                      RewriteCase{"UdpSnat", kUdp, true, FlowDirection::kOriginal},
                      RewriteCase{"UdpSnatReply", kUdp, true, FlowDirection::kReply},
                      RewriteCase{"IcmpEchoDnat", kIcmp, false, FlowDirection::kOriginal},
                      RewriteCase{"IcmpEchoSnat", kIcmp, true, FlowDirection::kOriginal},
                      RewriteCase{"IcmpEchoSnatReply", kIcmp, true, FlowDirection::kReply}),
    [](const ::testing::TestParamInfo<RewriteCase>& info) { return info.param.name; });

// RFC 768: a zero UDP checksum means none was computed; it must stay zero.
TEST(UdpChecksum, ZeroStaysZero) {
  Flow flow;
  FillFlow(MakeSpec(kUdp, true), &flow);
  auto zero_checksum = [](Bytes f) {
    f[kEthLen + 20 + kUdpChecksumOffset] = 0;
    f[kEthLen + 20 + kUdpChecksumOffset + 1] = 0;
    return f;
  };
  Bytes frame = zero_checksum(Packet(flow.key[0]));
  const NatPacket p = ParseNatPacket(frame.data() + kEthLen, static_cast<uint32_t>(frame.size() - kEthLen));
  TranslatePacket(frame.data() + kEthLen, p, flow, FlowDirection::kOriginal);
  EXPECT_EQ(frame, zero_checksum(Packet(TranslatedKey(flow, FlowDirection::kOriginal))));
}

// RFC 1071: an ICMP message whose other words are all zero sums to +0 and
// only a checksum of 0xFFFF verifies; RFC 1624 eqn. 3 alone gives 0x0000
// there. An SNAT echo reply translated back to identifier 0, sequence 0,
// no payload is such a message (found by tests/fuzz/nat_fuzz.cc, input
// tests/fuzz/regressions/nat/icmp_echo_all_zero_checksum_0000).
TEST(IcmpChecksum, AllZeroMessageGetsFfff) {
  Flow flow;
  FillFlow(MakeSpec(kIcmp, /*snat=*/true, kClient, /*cport=*/0), &flow);
  const FlowKey in_key = flow.Key(FlowDirection::kReply);
  Bytes frame = PacketBuilder().Src(in_key.src).Dst(in_key.dst).Icmp(kIcmpEchoReply, 0, uint32_t{in_key.dport} << 16).Build();
  const NatPacket p = ParseNatPacket(frame.data() + kEthLen, static_cast<uint32_t>(frame.size() - kEthLen));
  ASSERT_EQ(p.kind, NatPacketKind::kFlow);
  TranslatePacket(frame.data() + kEthLen, p, flow, FlowDirection::kReply);
  const FlowKey out = TranslatedKey(flow, FlowDirection::kReply);
  EXPECT_EQ(frame, PacketBuilder().Src(out.src).Dst(out.dst).Icmp(kIcmpEchoReply, 0, 0).Build());
  EXPECT_EQ(LoadBe16(frame.data() + kEthLen + 20 + kIcmpChecksumOffset), 0xffff);
}

// ---------------------------------------------------------------------------
// ICMP errors quoting a translated packet.

// An ICMP error from `from` to `to` quoting `quoted` (a whole IPv4 packet,
// cut to the IP header + `quoted_l4` bytes when non-zero, as RFC 792
// routers do; 0 quotes all of it, as RFC 1812 routers may).
Bytes IcmpError(uint32_t from, uint32_t to, uint8_t type, uint8_t code, const FlowKey& quoted, size_t quoted_l4,
                bool request = true) {
  Bytes inner = Packet(quoted, request);
  inner.erase(inner.begin(), inner.begin() + kEthLen);
  if (quoted_l4 != 0) inner.resize(20 + quoted_l4);
  const uint32_t rest = type == kIcmpDestUnreachable && code == kIcmpFragNeeded ? kNextHopMtu : 0;
  return PacketBuilder().Src(from).Dst(to).Icmp(type, code, rest).Payload(inner).Build();
}

struct IcmpErrorCase {
  std::string name;
  uint8_t proto;
  bool snat;
  // The flow direction the quoted packet travelled in after translation;
  // the error travels the other way.
  FlowDirection quoted_dir;
  bool from_peer;      // sent by the quoted packet's destination itself
  uint8_t type, code;
  size_t quoted_l4;    // 0: the whole packet
};

class IcmpErrorTest : public ::testing::TestWithParam<IcmpErrorCase> {};

TEST_P(IcmpErrorTest, TranslatesOuterAndInner) {
  const IcmpErrorCase& c = GetParam();
  Flow flow;
  FillFlow(MakeSpec(c.proto, c.snat), &flow);
  const bool quoted_original = c.quoted_dir == FlowDirection::kOriginal;
  // What the quoted packet looked like beyond the NAT, and before it.
  const FlowKey sent = TranslatedKey(flow, c.quoted_dir);
  const FlowKey before = flow.Key(c.quoted_dir);
  const uint32_t router = quoted_original ? Ip("198.51.100.1") : Ip("198.18.0.1");
  const uint32_t from = c.from_peer ? sent.dst : router;
  Bytes frame = IcmpError(from, sent.src, c.type, c.code, sent, c.quoted_l4, quoted_original);

  const NatPacket p = ParseNatPacket(frame.data() + kEthLen, static_cast<uint32_t>(frame.size() - kEthLen));
  ASSERT_EQ(p.kind, NatPacketKind::kIcmpError);
  // The error is found by the reverse of the quoted tuple: the flow's key
  // in the direction the error travels.
  const FlowDirection error_dir = Opposite(c.quoted_dir);
  ASSERT_EQ(p.key, flow.Key(error_dir));
  TranslatePacket(frame.data() + kEthLen, p, flow, error_dir);

  // The sender of the original packet gets an error quoting it as it sent
  // it, from the address it sent it to when the peer itself complained.
  const uint32_t expected_from = c.from_peer ? before.dst : router;
  EXPECT_EQ(frame, IcmpError(expected_from, before.src, c.type, c.code, before, c.quoted_l4, quoted_original));
}

INSTANTIATE_TEST_SUITE_P(
    Nat, IcmpErrorTest,
    ::testing::Values(
        // Path MTU toward the backend (RFC 1191), DNAT only and with SNAT,
        // minimal and full quotes (the TCP checksum is quoted only in full).
        IcmpErrorCase{"FragNeededDnatTcp", kTcp, false, FlowDirection::kOriginal, false, kIcmpDestUnreachable,
                      kIcmpFragNeeded, 8},
        IcmpErrorCase{"FragNeededDnatTcpFullQuote", kTcp, false, FlowDirection::kOriginal, false,
                      kIcmpDestUnreachable, kIcmpFragNeeded, 0},
        IcmpErrorCase{"FragNeededSnatTcp", kTcp, true, FlowDirection::kOriginal, false, kIcmpDestUnreachable,
                      kIcmpFragNeeded, 8},
        IcmpErrorCase{"FragNeededSnatTcpFullQuote", kTcp, true, FlowDirection::kOriginal, false,
                      kIcmpDestUnreachable, kIcmpFragNeeded, 0},
        // Path MTU toward the client, quoting a reply (backend -> client).
        IcmpErrorCase{"FragNeededSnatReplyTcp", kTcp, true, FlowDirection::kReply, false, kIcmpDestUnreachable,
                      kIcmpFragNeeded, 0},
        // The backend itself says port unreachable (UDP checksum quoted).
        IcmpErrorCase{"PortUnreachableFromBackendSnatUdp", kUdp, true, FlowDirection::kOriginal, true,
                      kIcmpDestUnreachable, 3, 0},
        IcmpErrorCase{"TimeExceededDnatUdp", kUdp, false, FlowDirection::kOriginal, false, kIcmpTimeExceeded, 0, 0},
        // traceroute-style ping through SNAT: the quoted echo's identifier.
        IcmpErrorCase{"TimeExceededSnatEcho", kIcmp, true, FlowDirection::kOriginal, false, kIcmpTimeExceeded, 0,
                      8}),
    [](const ::testing::TestParamInfo<IcmpErrorCase>& info) { return info.param.name; });

// ---------------------------------------------------------------------------
// Classification.

NatPacketKind Classify(const Bytes& frame) {
  return ParseNatPacket(frame.data() + kEthLen, static_cast<uint32_t>(frame.size() - kEthLen)).kind;
}

TEST(ParseNatPacket, FragmentsAreNotTranslated) {
  constexpr uint16_t kMoreFragments = 0x2000;
  constexpr uint16_t kOffset = 0x0010;
  EXPECT_EQ(Classify(PacketBuilder().Udp(1, 2).FragmentField(kMoreFragments).Build()), NatPacketKind::kFragment);
  EXPECT_EQ(Classify(PacketBuilder().Udp(1, 2).FragmentField(kOffset).Build()), NatPacketKind::kFragment);
}

TEST(ParseNatPacket, UnsupportedPackets) {
  constexpr uint8_t kIcmpRedirect = 5;
  Bytes truncated_tcp = PacketBuilder().Tcp(1, 2).Build();
  truncated_tcp.resize(kEthLen + 20 + 12);
  truncated_tcp[kEthLen + 3] = static_cast<uint8_t>(20 + 12);   // total length
  EXPECT_EQ(Classify(truncated_tcp), NatPacketKind::kUnsupported);
  EXPECT_EQ(Classify(PacketBuilder().Icmp(kIcmpRedirect, 0, 0).Payload(28).Build()), NatPacketKind::kUnsupported);
  // An error quoting less than 8 bytes of L4 header.
  Bytes inner = PacketBuilder().Udp(1, 2).Build();
  inner.erase(inner.begin(), inner.begin() + kEthLen);
  inner.resize(20 + 4);
  EXPECT_EQ(Classify(PacketBuilder().Icmp(kIcmpDestUnreachable, 1, 0).Payload(inner).Build()),
            NatPacketKind::kUnsupported);
}

TEST(ParseNatPacket, EchoIdentifierIsThePortOfTheSideThatChoseIt) {
  const Bytes request = PacketBuilder().Src(kClient).Dst(kVip).IcmpEcho(77, 1).Build();
  const Bytes reply = PacketBuilder().Src(kVip).Dst(kClient).Icmp(kIcmpEchoReply, 0, 77u << 16 | 1).Build();
  const FlowKey k = ParseNatPacket(request.data() + kEthLen, static_cast<uint32_t>(request.size() - kEthLen)).key;
  const FlowKey r = ParseNatPacket(reply.data() + kEthLen, static_cast<uint32_t>(reply.size() - kEthLen)).key;
  EXPECT_EQ(k, MakeFlowKey(kClient, kVip, 77, 0, kIcmp));
  EXPECT_EQ(r, Reverse(k));
}

}  // namespace
}  // namespace isthmus
