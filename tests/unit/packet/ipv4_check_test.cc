// RFC 1812 receive checks: every bad-packet class with its expected verdict.

#include "dataplane/packet/ipv4_check.h"

#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "tests/unit/common/packet_builder.h"

namespace isthmus {
namespace {

using testing::Bytes;
using testing::Ip;
using testing::PacketBuilder;

const MacAddr kPortMac = {0x02, 0, 0, 0, 0, 0x01};

struct Case {
  std::string name;
  std::function<Bytes()> frame;
  Action action;
  DropReason drop = DropReason::kBug;
  PuntReason punt = PuntReason::kLocal;
};

Bytes Valid() { return PacketBuilder().Udp(1000, 2000).Payload(18).Build(); }

Bytes WithByte(Bytes f, size_t offset, uint8_t value, bool fix_checksum) {
  f[offset] = value;
  if (fix_checksum) {
    uint8_t* ip = f.data() + 14;
    const size_t ihl = (ip[0] & 0xf) * 4u;
    ip[10] = ip[11] = 0;
    PacketBuilder::Put16(ip + 10, testing::InternetChecksum(ip, ihl));
  }
  return f;
}

std::vector<Case> Cases() {
  return {
      {"valid_udp", Valid, Action::kForward},
      {"valid_tcp", [] { return PacketBuilder().Tcp(1, 80).Build(); }, Action::kForward},
      {"padded_to_60", [] { return PacketBuilder().Udp(1, 2).PadTo(60).Build(); }, Action::kForward},
      {"fragment_mf", [] { return PacketBuilder().FragmentField(0x2000).Build(); }, Action::kForward},
      {"fragment_offset", [] { return PacketBuilder().FragmentField(0x0010).Build(); }, Action::kForward},
      {"runt_ethernet", [] { return Bytes(10, 0); }, Action::kDrop, DropReason::kRunt},
      {"runt_ip", [] { Bytes f = Valid(); f.resize(14 + 19); return f; }, Action::kDrop, DropReason::kRunt},
      {"arp", [] { return PacketBuilder().EtherType(0x0806).Build(); }, Action::kPunt, DropReason::kBug,
       PuntReason::kArp},
      {"ipv6", [] { return PacketBuilder().EtherType(0x86dd).Build(); }, Action::kDrop, DropReason::kNotIpv4},
      {"vlan", [] { return PacketBuilder().EtherType(0x8100).Build(); }, Action::kDrop, DropReason::kNotIpv4},
      {"other_mac", [] { return PacketBuilder().DstMac({0x02, 9, 9, 9, 9, 9}).Build(); }, Action::kDrop,
       DropReason::kNotForUs},
      {"bad_version", [] { return WithByte(Valid(), 14, 0x65, true); }, Action::kDrop, DropReason::kBadVersion},
      {"ihl_4", [] { return WithByte(Valid(), 14, 0x44, false); }, Action::kDrop, DropReason::kBadIhl},
      {"total_length_beyond_frame", [] { return WithByte(Valid(), 16, 0x05, true); }, Action::kDrop,
       DropReason::kBadTotalLength},
      {"total_length_below_header", [] { Bytes f = WithByte(Valid(), 16, 0, false); return WithByte(f, 17, 19, true); },
       Action::kDrop, DropReason::kBadTotalLength},
      {"bad_checksum", [] { Bytes f = Valid(); f[14 + 10] ^= 0x01; return f; }, Action::kDrop,
       DropReason::kBadChecksum},
      {"options_punted", [] { return PacketBuilder().Options({0x07, 0x07, 0x04, 0x00}).Build(); }, Action::kPunt,
       DropReason::kBug, PuntReason::kIpOptions},
      {"martian_src_zero", [] { return PacketBuilder().Src("0.1.2.3").Build(); }, Action::kDrop,
       DropReason::kMartianSource},
      {"martian_src_loopback", [] { return PacketBuilder().Src("127.0.0.1").Build(); }, Action::kDrop,
       DropReason::kMartianSource},
      {"martian_src_multicast", [] { return PacketBuilder().Src("224.0.0.5").Build(); }, Action::kDrop,
       DropReason::kMartianSource},
      {"martian_src_class_e", [] { return PacketBuilder().Src("240.0.0.1").Build(); }, Action::kDrop,
       DropReason::kMartianSource},
      {"martian_src_broadcast", [] { return PacketBuilder().Src("255.255.255.255").Build(); }, Action::kDrop,
       DropReason::kMartianSource},
      {"martian_dst_loopback", [] { return PacketBuilder().Dst("127.0.0.1").Build(); }, Action::kDrop,
       DropReason::kMartianDestination},
      {"martian_dst_zero", [] { return PacketBuilder().Dst("0.0.0.1").Build(); }, Action::kDrop,
       DropReason::kMartianDestination},
      {"martian_dst_class_e", [] { return PacketBuilder().Dst("250.1.1.1").Build(); }, Action::kDrop,
       DropReason::kMartianDestination},
      {"multicast_dst", [] { return PacketBuilder().Dst("224.0.0.5").DstMac({0x01, 0, 0x5e, 0, 0, 5}).Build(); },
       Action::kPunt, DropReason::kBug, PuntReason::kMulticastBroadcast},
      {"limited_broadcast", [] {
         return PacketBuilder().Dst("255.255.255.255").DstMac({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}).Build();
       }, Action::kPunt, DropReason::kBug, PuntReason::kMulticastBroadcast},
      {"unicast_ip_in_l2_broadcast", [] {
         return PacketBuilder().DstMac({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}).Build();
       }, Action::kDrop, DropReason::kL2BroadcastUnicastIp},
  };
}

class CheckFrameTest : public ::testing::TestWithParam<Case> {};

TEST_P(CheckFrameTest, Verdict) {
  const Case& c = GetParam();
  const Bytes frame = c.frame();
  const FrameVerdict v = CheckFrame(frame.data(), static_cast<uint32_t>(frame.size()), kPortMac);
  ASSERT_EQ(v.action, c.action);
  if (c.action == Action::kDrop) {
    EXPECT_EQ(Name(v.drop), Name(c.drop));
  }
  if (c.action == Action::kPunt) {
    EXPECT_EQ(Name(v.punt), Name(c.punt));
  }
}

INSTANTIATE_TEST_SUITE_P(Rfc1812, CheckFrameTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param.name; });

TEST(CheckFrame, ForwardReportsLengthAndFragment) {
  const Bytes padded = PacketBuilder().Udp(1, 2).PadTo(60).Build();
  FrameVerdict v = CheckFrame(padded.data(), static_cast<uint32_t>(padded.size()), kPortMac);
  EXPECT_EQ(v.ip_len, 28u);
  EXPECT_FALSE(v.fragment);
  const Bytes frag = PacketBuilder().FragmentField(0x2000).Build();
  v = CheckFrame(frag.data(), static_cast<uint32_t>(frag.size()), kPortMac);
  EXPECT_TRUE(v.fragment);
}

// The incremental update must equal a full recompute for every TTL and
// every starting checksum, including the 0x0000/0xFFFF corner RFC 1624 fixes.
TEST(DecrementTtl, MatchesFullRecompute) {
  for (uint32_t ttl = 2; ttl <= 255; ttl += 1) {
    for (uint32_t id = 0; id < 65536; id += 251) {
      Bytes f = PacketBuilder().Ttl(static_cast<uint8_t>(ttl)).Id(static_cast<uint16_t>(id)).Build();
      uint8_t* ip = f.data() + 14;
      DecrementTtl(ip);
      const uint16_t incremental = static_cast<uint16_t>(ip[10] << 8 | ip[11]);
      ip[10] = ip[11] = 0;
      const uint16_t full = testing::InternetChecksum(ip, 20);
      ASSERT_EQ(incremental, full) << "ttl " << ttl << " id " << id;
      ASSERT_EQ(ip[8], ttl - 1);
    }
  }
}

TEST(DropReasons, NamesAreUniqueLabelValues) {
  std::set<std::string_view> names;
  for (const ReasonInfo& r : kDropReasonInfo) {
    EXPECT_TRUE(names.insert(r.name).second) << r.name;
    EXPECT_FALSE(r.help.empty()) << r.name;
    for (char ch : r.name) EXPECT_TRUE((ch >= 'a' && ch <= 'z') || ch == '_' || (ch >= '0' && ch <= '9')) << r.name;
  }
}

}  // namespace
}  // namespace isthmus

namespace isthmus {
namespace {

// With the checksum field zeroed, the residue is the checksum to store
// (network order), equal to a plain RFC 1071 computation.
TEST(Ipv4HeaderChecksumResidue, ComputesTheChecksumOfAZeroedField) {
  for (uint16_t id = 0; id < 2000; id += 7) {
    testing::Bytes f = testing::PacketBuilder().Id(id).Ttl(static_cast<uint8_t>(id)).Build();
    uint8_t* ip = f.data() + 14;
    const uint16_t stored = static_cast<uint16_t>(ip[10] << 8 | ip[11]);
    EXPECT_EQ(Ipv4HeaderChecksumResidue(ip, 20), 0);
    ip[10] = ip[11] = 0;
    EXPECT_EQ(Ipv4HeaderChecksumResidue(ip, 20), stored);
  }
}

}  // namespace
}  // namespace isthmus
