// The receive-side classification of ESP (RFC 4303) and UDP-encapsulated
// ESP (RFC 3948) by ParseTunnelPacket: what the worker claims as ESP, what
// it leaves to the kernel (IKE, keepalives) and what it drops, by name.

#include <gtest/gtest.h>

#include <string>

#include "dataplane/tunnel/decap_parser.h"
#include "tests/unit/common/packet_builder.h"

namespace isthmus {
namespace {

using testing::Bytes;
using testing::InternetChecksum;
using testing::Ip;

constexpr uint32_t kSpi = 0x1000;
constexpr uint32_t kSeq = 7;
constexpr uint16_t kMoreFragments = 0x2000;
// SPI + sequence + IV + 4 bytes of ciphertext (padding + trailer) + ICV.
constexpr uint32_t kSmallestEsp = kEspHeaderLen + kEspGcmIvLen + kEspAlign + kEspGcmIcvLen;

struct EspShape {
  bool udp = false;            // RFC 3948 encapsulation
  uint16_t udp_port = kEspNatTraversalPort;
  uint32_t spi = kSpi;
  uint32_t esp_len = kSmallestEsp + 40;
  uint16_t frag = 0;
};

// Outer IPv4 [+ UDP] + an ESP body of esp_len bytes (contents irrelevant to
// the parser beyond SPI and sequence number).
Bytes OuterEsp(const EspShape& s) {
  const uint32_t l4 = (s.udp ? kUdpHeaderLen : 0) + s.esp_len;
  Bytes p(kIpv4MinHeaderLen + l4, 0);
  p[0] = 0x45;
  p[2] = static_cast<uint8_t>(p.size() >> 8);
  p[3] = static_cast<uint8_t>(p.size());
  p[6] = static_cast<uint8_t>(s.frag >> 8);
  p[7] = static_cast<uint8_t>(s.frag);
  p[8] = 64;
  p[9] = s.udp ? kIpProtoUdp : kIpProtoEsp;
  StoreBe32(&p[12], Ip("192.0.2.2"));
  StoreBe32(&p[16], Ip("192.0.2.1"));
  StoreBe16(&p[10], InternetChecksum(p.data(), kIpv4MinHeaderLen));
  uint8_t* esp = &p[kIpv4MinHeaderLen];
  if (s.udp) {
    StoreBe16(esp, kEspNatTraversalPort);
    StoreBe16(esp + 2, s.udp_port);
    StoreBe16(esp + 4, static_cast<uint16_t>(l4));
    esp += kUdpHeaderLen;
  }
  if (s.esp_len >= kEspHeaderLen) {
    StoreBe32(esp, s.spi);
    StoreBe32(esp + 4, kSeq);
  }
  return p;
}

struct Case {
  std::string name;
  EspShape shape;
  bool esp_enabled;
  TunnelProto proto;
  bool ok;
  DropReason drop;
  uint32_t inner_offset;
};

class EspDecapParseTest : public ::testing::TestWithParam<Case> {};

TEST_P(EspDecapParseTest, Classifies) {
  const Case& c = GetParam();
  DecapPorts ports;
  ports.vxlan[ports.vxlan_count++] = kVxlanDefaultPort;
  ports.esp = c.esp_enabled;
  const Bytes p = OuterEsp(c.shape);
  const DecapParse r = ParseTunnelPacket(p.data(), static_cast<uint32_t>(p.size()), ports);
  EXPECT_EQ(r.proto, c.proto);
  if (c.proto == TunnelProto::kNone) return;
  EXPECT_EQ(r.ok, c.ok);
  EXPECT_EQ(r.outer_src, Ip("192.0.2.2"));
  EXPECT_EQ(r.outer_dst, Ip("192.0.2.1"));
  if (!c.ok) {
    EXPECT_EQ(Name(r.drop), Name(c.drop));
    return;
  }
  EXPECT_EQ(r.spi, c.shape.spi);
  EXPECT_EQ(r.inner_offset, c.inner_offset);
  EXPECT_EQ(r.dst_port, c.shape.udp ? kEspNatTraversalPort : 0);
}

EspShape Udp(EspShape s) {
  s.udp = true;
  return s;
}

const DropReason kNoDrop = DropReason::kBug;

INSTANTIATE_TEST_SUITE_P(
    Esp, EspDecapParseTest,
    ::testing::Values(
        Case{"esp", {}, true, TunnelProto::kEsp, true, kNoDrop, kIpv4MinHeaderLen},
        Case{"esp_without_ipsec_tunnels_is_left_to_the_kernel", {}, false, TunnelProto::kNone, false, kNoDrop, 0},
        Case{"udp_4500", Udp({}), true, TunnelProto::kEsp, true, kNoDrop, kIpv4MinHeaderLen + kUdpHeaderLen},
        Case{"udp_4500_without_ipsec_tunnels", Udp({}), false, TunnelProto::kNone, false, kNoDrop, 0},
        Case{"ike_non_esp_marker_goes_to_the_kernel", Udp({.spi = 0}), true, TunnelProto::kNone, false, kNoDrop, 0},
        Case{"nat_keepalive_goes_to_the_kernel", Udp({.esp_len = 1}), true, TunnelProto::kNone, false, kNoDrop, 0},
        Case{"other_udp_port_is_not_esp", Udp({.udp_port = 500}), true, TunnelProto::kNone, false, kNoDrop, 0},
        Case{"truncated", {.esp_len = kSmallestEsp - kEspAlign}, true, TunnelProto::kEsp, false,
             DropReason::kEspMalformed, 0},
        Case{"ciphertext_not_4_aligned", {.esp_len = kSmallestEsp + 1}, true, TunnelProto::kEsp, false,
             DropReason::kEspMalformed, 0},
        Case{"udp_truncated", Udp({.esp_len = kSmallestEsp - 1}), true, TunnelProto::kEsp, false,
             DropReason::kEspMalformed, 0},
        Case{"first_fragment", {.frag = kMoreFragments}, true, TunnelProto::kEsp, false,
             DropReason::kTunnelOuterFragment, 0},
        Case{"later_fragment", {.frag = 185}, true, TunnelProto::kEsp, false, DropReason::kTunnelOuterFragment,
             0}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

// VXLAN keeps working beside ESP.
TEST(EspDecapParse, VxlanStillParsedWhenEspEnabled) {
  DecapPorts ports;
  ports.vxlan[ports.vxlan_count++] = kVxlanDefaultPort;
  ports.esp = true;
  Bytes p = OuterEsp(Udp({.udp_port = kVxlanDefaultPort, .esp_len = kVxlanHeaderLen + kEtherHeaderLen}));
  p[kIpv4MinHeaderLen + kUdpHeaderLen] = kVxlanFlagI;
  const DecapParse r = ParseTunnelPacket(p.data(), static_cast<uint32_t>(p.size()), ports);
  EXPECT_EQ(r.proto, TunnelProto::kVxlan);
  EXPECT_TRUE(r.ok);
}

}  // namespace
}  // namespace isthmus
