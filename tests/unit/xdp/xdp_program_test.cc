// Runs isthmus_xdp.bpf.o on crafted frames with BPF_PROG_TEST_RUN and checks
// where each frame goes. With no AF_XDP socket in xsks_map the redirect falls
// back to XDP_PASS, so the verdict is read from the xdp_stats deltas.

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "dataplane/xdp/xdp_abi.h"
#include "dataplane/xdp/xdp_punt_maps.h"
#include "gtest/gtest.h"
#include "tests/unit/xdp/loaded_xdp_object.h"
#include "tests/unit/xdp/test_frame.h"

namespace isthmus::test {
namespace {

constexpr uint32_t kLocal = Ipv4(192, 0, 2, 1);
constexpr uint32_t kOtherLocal = Ipv4(192, 0, 2, 2);
constexpr uint32_t kTransit = Ipv4(198, 51, 100, 7);
constexpr uint32_t kPeer = Ipv4(203, 0, 113, 9);
constexpr uint32_t kBroadcast = Ipv4(255, 255, 255, 255);
constexpr uint32_t kAllOspfRouters = Ipv4(224, 0, 0, 5);   // RFC 2328 A.1
constexpr uint32_t kTopOfMulticast = Ipv4(239, 255, 255, 250);
constexpr uint16_t kBgp = 179;   // RFC 4271
constexpr uint16_t kSsh = 22;
constexpr uint16_t kBfd = 3784;  // RFC 5881
constexpr uint16_t kVxlan = 4789;  // RFC 7348
constexpr uint16_t kHttp = 80;
constexpr uint16_t kEphemeral = 40000;
constexpr size_t kEspLen = 32;
// Fragment offset 185 * 8 = 1480 bytes: a second fragment.
constexpr uint16_t kSecondFragment = 185;

enum class Verdict { kKernel, kDataplane };

struct Case {
  std::string name;
  Bytes frame;
  Verdict verdict;
  isthmus_xdp_stat reason;
};

// Names the row in failure messages instead of dumping its bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

Bytes Truncated(Bytes frame, size_t len) {
  frame.resize(len);
  return frame;
}

Bytes WithIhl(Bytes frame, uint8_t ihl) {
  frame[kEthernetHeaderLen] = static_cast<uint8_t>((frame[kEthernetHeaderLen] & 0xf0) | ihl);
  return frame;
}

Bytes WithVersion(Bytes frame, uint8_t version) {
  frame[kEthernetHeaderLen] =
      static_cast<uint8_t>((frame[kEthernetHeaderLen] & 0x0f) | (version << 4));
  return frame;
}

Ipv4Fields To(uint32_t dst) { return Ipv4Fields{.src = kPeer, .dst = dst}; }

std::vector<Case> Cases() {
  const Ipv4Fields local = To(kLocal);
  const Ipv4Fields with_options{.src = kPeer, .dst = kLocal, .option_words = 3};
  const Ipv4Fields later_fragment{.src = kPeer, .dst = kLocal,
                                  .flags_fragment = kSecondFragment};
  const Ipv4Fields first_fragment{.src = kPeer, .dst = kLocal,
                                  .flags_fragment = kIpv4MoreFragments};
  const Bytes tcp_to_local = Ipv4Frame(local, TcpSyn(kEphemeral, kHttp));
  using V = Verdict;
  return {
      {"ArpToKernel", ArpRequestFrame(kPeer, kLocal), V::kKernel,
       ISTHMUS_XDP_STAT_KERNEL_ARP},
      {"Ipv6ToKernel", Ipv6Frame(), V::kKernel, ISTHMUS_XDP_STAT_KERNEL_NON_IPV4},
      {"IcmpToLocalToKernel", Ipv4Frame(local, IcmpEchoRequest()), V::kKernel,
       ISTHMUS_XDP_STAT_KERNEL_LOCAL_ICMP},
      {"IcmpToSecondLocalToKernel", Ipv4Frame(To(kOtherLocal), IcmpEchoRequest()),
       V::kKernel, ISTHMUS_XDP_STAT_KERNEL_LOCAL_ICMP},
      {"IcmpTransitToDataplane", Ipv4Frame(To(kTransit), IcmpEchoRequest()),
       V::kDataplane, ISTHMUS_XDP_STAT_DATAPLANE_TRANSIT},
      {"TcpDstBgpToKernel", Ipv4Frame(local, TcpSyn(kEphemeral, kBgp)), V::kKernel,
       ISTHMUS_XDP_STAT_KERNEL_LOCAL_PUNT_PORT},
      {"TcpSrcBgpToKernel", Ipv4Frame(local, TcpSyn(kBgp, kEphemeral)), V::kKernel,
       ISTHMUS_XDP_STAT_KERNEL_LOCAL_PUNT_PORT},
      {"TcpDstSshToKernel", Ipv4Frame(local, TcpSyn(kEphemeral, kSsh)), V::kKernel,
       ISTHMUS_XDP_STAT_KERNEL_LOCAL_PUNT_PORT},
      {"TcpHttpToLocalToDataplane", tcp_to_local, V::kDataplane,
       ISTHMUS_XDP_STAT_DATAPLANE_LOCAL},
      {"TcpBgpTransitToDataplane", Ipv4Frame(To(kTransit), TcpSyn(kEphemeral, kBgp)),
       V::kDataplane, ISTHMUS_XDP_STAT_DATAPLANE_TRANSIT},
      {"UdpBgpPortIsNotTcpToDataplane", Ipv4Frame(local, Udp(kEphemeral, kBgp)),
       V::kDataplane, ISTHMUS_XDP_STAT_DATAPLANE_LOCAL},
      {"UdpVxlanToLocalToDataplane", Ipv4Frame(local, Udp(kEphemeral, kVxlan, 16)),
       V::kDataplane, ISTHMUS_XDP_STAT_DATAPLANE_LOCAL},
      {"UdpDstBfdToKernel", Ipv4Frame(local, Udp(kEphemeral, kBfd)), V::kKernel,
       ISTHMUS_XDP_STAT_KERNEL_LOCAL_PUNT_PORT},
      {"UdpSrcBfdToKernel", Ipv4Frame(local, Udp(kBfd, kEphemeral)), V::kKernel,
       ISTHMUS_XDP_STAT_KERNEL_LOCAL_PUNT_PORT},
      {"TcpSshPortIsNotUdpToDataplane", Ipv4Frame(local, Udp(kEphemeral, kSsh)),
       V::kDataplane, ISTHMUS_XDP_STAT_DATAPLANE_LOCAL},
      {"EspToLocalToDataplane", Ipv4Frame(local, Raw(kProtoEsp, kEspLen)),
       V::kDataplane, ISTHMUS_XDP_STAT_DATAPLANE_LOCAL},
      {"MulticastToKernel", Ipv4Frame(To(kAllOspfRouters), Udp(kEphemeral, kHttp)),
       V::kKernel, ISTHMUS_XDP_STAT_KERNEL_MULTICAST_BROADCAST},
      {"TopOfMulticastToKernel", Ipv4Frame(To(kTopOfMulticast), Udp(kEphemeral, kHttp)),
       V::kKernel, ISTHMUS_XDP_STAT_KERNEL_MULTICAST_BROADCAST},
      {"BroadcastToKernel", Ipv4Frame(To(kBroadcast), Udp(kEphemeral, kHttp)),
       V::kKernel, ISTHMUS_XDP_STAT_KERNEL_MULTICAST_BROADCAST},
      {"OptionsTcpBgpToKernel", Ipv4Frame(with_options, TcpSyn(kEphemeral, kBgp)),
       V::kKernel, ISTHMUS_XDP_STAT_KERNEL_LOCAL_PUNT_PORT},
      {"OptionsTcpHttpToDataplane", Ipv4Frame(with_options, TcpSyn(kBgp + 1, kHttp)),
       V::kDataplane, ISTHMUS_XDP_STAT_DATAPLANE_LOCAL},
      {"MaxOptionsUdpBfdToKernel",
       Ipv4Frame({.src = kPeer, .dst = kLocal, .option_words = 10}, Udp(kEphemeral, kBfd)),
       V::kKernel, ISTHMUS_XDP_STAT_KERNEL_LOCAL_PUNT_PORT},
      {"LaterFragmentToLocalToKernel",
       Ipv4Frame(later_fragment, Raw(kProtoTcp, 64)), V::kKernel,
       ISTHMUS_XDP_STAT_KERNEL_LOCAL_FRAGMENT},
      {"LaterFragmentTransitToDataplane",
       Ipv4Frame({.src = kPeer, .dst = kTransit, .flags_fragment = kSecondFragment},
                 Raw(kProtoTcp, 64)),
       V::kDataplane, ISTHMUS_XDP_STAT_DATAPLANE_TRANSIT},
      {"FirstFragmentHttpToDataplane", Ipv4Frame(first_fragment, TcpSyn(kEphemeral, kHttp)),
       V::kDataplane, ISTHMUS_XDP_STAT_DATAPLANE_LOCAL},
      {"FirstFragmentBgpToKernel", Ipv4Frame(first_fragment, TcpSyn(kEphemeral, kBgp)),
       V::kKernel, ISTHMUS_XDP_STAT_KERNEL_LOCAL_PUNT_PORT},
      {"TruncatedIpv4HeaderToDataplane",
       Truncated(tcp_to_local, kEthernetHeaderLen + kIpv4MinHeaderLen - 1), V::kDataplane,
       ISTHMUS_XDP_STAT_DATAPLANE_MALFORMED},
      {"TotalLengthBeyondFrameToDataplane",
       Truncated(Ipv4Frame(local, Udp(kEphemeral, kBfd, 200)), 100), V::kDataplane,
       ISTHMUS_XDP_STAT_DATAPLANE_MALFORMED},
      {"TruncatedOptionsToDataplane",
       Truncated(Ipv4Frame({.src = kPeer, .dst = kLocal, .option_words = 10},
                           Raw(kProtoEsp, 0)),
                 kEthernetHeaderLen + kIpv4MinHeaderLen + 8),
       V::kDataplane, ISTHMUS_XDP_STAT_DATAPLANE_MALFORMED},
      {"TcpHeaderCutToDataplane",
       Ipv4Frame(local, Raw(kProtoTcp, 10)), V::kDataplane,
       ISTHMUS_XDP_STAT_DATAPLANE_MALFORMED},
      {"IhlBeyondTotalLengthToDataplane", WithIhl(tcp_to_local, 15), V::kDataplane,
       ISTHMUS_XDP_STAT_DATAPLANE_MALFORMED},
      {"UdpHeaderCutToDataplane", Ipv4Frame(local, Raw(kProtoUdp, 4)), V::kDataplane,
       ISTHMUS_XDP_STAT_DATAPLANE_MALFORMED},
      {"IhlBelowFiveToDataplane", WithIhl(tcp_to_local, 4), V::kDataplane,
       ISTHMUS_XDP_STAT_DATAPLANE_MALFORMED},
      {"VersionSixInIpv4EthertypeToDataplane", WithVersion(tcp_to_local, 6),
       V::kDataplane, ISTHMUS_XDP_STAT_DATAPLANE_MALFORMED},
  };
}

XdpStats Delta(const XdpStats& after, const XdpStats& before) {
  XdpStats delta;
  for (const XdpStatInfo& stat : kXdpStatInfo) {
    delta.*stat.field = after.*stat.field - before.*stat.field;
  }
  return delta;
}

XdpStats Expected(Verdict verdict, isthmus_xdp_stat reason) {
  XdpStats expected;
  if (verdict == Verdict::kKernel) {
    expected.to_kernel = 1;
  } else {
    expected.to_dataplane = 1;
  }
  expected.*kXdpStatInfo.at(reason).field = 1;
  return expected;
}

std::string Describe(const XdpStats& stats) {
  std::string out;
  for (const XdpStatInfo& stat : kXdpStatInfo) {
    if (stats.*stat.field != 0) {
      out += std::string(stat.name) + "=" + std::to_string(stats.*stat.field) + " ";
    }
  }
  return out.empty() ? "(nothing counted)" : out;
}

class XdpProgramTest : public ::testing::TestWithParam<Case> {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;
    absl::StatusOr<std::unique_ptr<LoadedXdpObject>> loaded = LoadedXdpObject::Load();
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    object_ = std::move(*loaded);
    absl::StatusOr<XdpPuntMaps> maps = XdpPuntMaps::FromMapFds(object_->MapFds());
    ASSERT_TRUE(maps.ok()) << maps.status();
    ASSERT_TRUE(maps->SetLocalAddresses({kLocal, kOtherLocal}).ok());
    ASSERT_TRUE(maps->SetPuntPorts({kBgp, kSsh}, {kBfd}).ok());
    maps_ = std::make_unique<XdpPuntMaps>(std::move(*maps));
  }
  static void TearDownTestSuite() {
    maps_.reset();
    object_.reset();
  }

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "BPF_PROG_TEST_RUN needs root";
    ASSERT_NE(maps_, nullptr);
  }

  static uint32_t Run(const Bytes& frame) {
    bpf_test_run_opts opts{};
    opts.sz = sizeof(opts);
    opts.data_in = frame.data();
    opts.data_size_in = static_cast<uint32_t>(frame.size());
    opts.repeat = 1;
    int err = bpf_prog_test_run_opts(object_->ProgramFd(), &opts);
    EXPECT_EQ(err, 0) << "bpf_prog_test_run_opts: " << err;
    return opts.retval;
  }

  static std::unique_ptr<LoadedXdpObject> object_;
  static std::unique_ptr<XdpPuntMaps> maps_;
};

std::unique_ptr<LoadedXdpObject> XdpProgramTest::object_;
std::unique_ptr<XdpPuntMaps> XdpProgramTest::maps_;

TEST_P(XdpProgramTest, ClassifiesFrame) {
  const Case& c = GetParam();
  absl::StatusOr<XdpStats> before = maps_->ReadStats();
  ASSERT_TRUE(before.ok()) << before.status();

  // Either way the program returns XDP_PASS here: the kernel itself, or the
  // fallback of bpf_redirect_map when no socket is bound to the queue.
  EXPECT_EQ(Run(c.frame), static_cast<uint32_t>(XDP_PASS));

  absl::StatusOr<XdpStats> after = maps_->ReadStats();
  ASSERT_TRUE(after.ok()) << after.status();
  XdpStats delta = Delta(*after, *before);
  EXPECT_EQ(delta, Expected(c.verdict, c.reason))
      << "counted: " << Describe(delta)
      << " expected reason: " << kXdpStatInfo.at(c.reason).name;
}

INSTANTIATE_TEST_SUITE_P(Frames, XdpProgramTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace isthmus::test
