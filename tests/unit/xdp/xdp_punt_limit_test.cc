// The XDP program's per-class punt rate limits (BPF_PROG_TEST_RUN): a flood
// of one class is cut at its bucket and counted as limited_<class>, while
// other classes, above all traffic from a configured BGP peer (control),
// keep passing. Each test loads its own copy of the program, so buckets and
// counters start fresh.

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <array>
#include <memory>

#include "dataplane/drop_reason.h"
#include "dataplane/worker/punt_limiter.h"
#include "dataplane/xdp/xdp_abi.h"
#include "dataplane/xdp/xdp_punt_maps.h"
#include "gtest/gtest.h"
#include "tests/unit/xdp/loaded_xdp_object.h"
#include "tests/unit/xdp/test_frame.h"

namespace isthmus::test {
namespace {

constexpr uint32_t kLocal = Ipv4(192, 0, 2, 1);
constexpr uint32_t kPeer = Ipv4(203, 0, 113, 9);
constexpr uint32_t kStranger = Ipv4(198, 51, 100, 66);
constexpr uint16_t kBgp = 179;
constexpr uint16_t kEphemeral = 40000;
// Small enough that a test's frames outrun the bucket by far, large enough
// that refills during the test (a few ms) are a rounding error.
constexpr uint32_t kRate = 10;
// More frames than any bucket of kRate holds.
constexpr uint32_t kFlood = 500;

class XdpPuntLimitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "BPF_PROG_TEST_RUN needs root";
    absl::StatusOr<std::unique_ptr<LoadedXdpObject>> loaded = LoadedXdpObject::Load();
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    object_ = std::move(*loaded);
    absl::StatusOr<XdpPuntMaps> maps = XdpPuntMaps::FromMapFds(object_->MapFds());
    ASSERT_TRUE(maps.ok()) << maps.status();
    maps_ = std::make_unique<XdpPuntMaps>(std::move(*maps));
    ASSERT_TRUE(maps_->SetLocalAddresses({kLocal}).ok());
    ASSERT_TRUE(maps_->SetPuntPorts({kBgp}, {}).ok());
    ASSERT_TRUE(maps_->SetControlPeers({kPeer}).ok());
    ASSERT_TRUE(maps_->SetPuntRates(UniformPuntRates(kRate)).ok());
  }

  // Runs `frame` `times` times (one BPF_PROG_TEST_RUN with repeat, so on
  // one CPU and one bucket).
  void Run(const Bytes& frame, uint32_t times) {
    bpf_test_run_opts opts{};
    opts.sz = sizeof(opts);
    opts.data_in = frame.data();
    opts.data_size_in = static_cast<uint32_t>(frame.size());
    opts.repeat = times;
    ASSERT_EQ(bpf_prog_test_run_opts(object_->ProgramFd(), &opts), 0);
  }

  XdpStats Stats() {
    absl::StatusOr<XdpStats> stats = maps_->ReadStats();
    EXPECT_TRUE(stats.ok()) << stats.status();
    return stats.ok() ? *stats : XdpStats{};
  }

  std::unique_ptr<LoadedXdpObject> object_;
  std::unique_ptr<XdpPuntMaps> maps_;
};

Bytes SynToBgp(uint32_t src) {
  return Ipv4Frame(Ipv4Fields{.src = src, .dst = kLocal}, TcpSyn(kEphemeral, kBgp));
}

TEST_F(XdpPuntLimitTest, AFloodIsCutAtItsClassBurst) {
  Run(SynToBgp(kStranger), kFlood);
  const XdpStats s = Stats();
  // The bucket starts full; the test takes far less than 1/kRate s per
  // extra token, so at most one more frame passes.
  EXPECT_GE(s.to_kernel, PuntBurst(kRate));
  EXPECT_LE(s.to_kernel, PuntBurst(kRate) + 1);
  EXPECT_EQ(s.rate_limited, kFlood - s.to_kernel);
  EXPECT_EQ(s.limited_local, s.rate_limited);
  EXPECT_EQ(s.kernel_local_punt_port, kFlood);  // the reason is still counted
}

TEST_F(XdpPuntLimitTest, APeersTrafficKeepsItsBudgetDuringAFlood) {
  Run(SynToBgp(kStranger), kFlood);
  Run(Ipv4Frame(Ipv4Fields{.src = kStranger, .dst = kLocal}, IcmpEchoRequest()), kFlood);
  const XdpStats flooded = Stats();
  Run(SynToBgp(kPeer), PuntBurst(kRate));
  const XdpStats after = Stats();
  EXPECT_EQ(after.to_kernel - flooded.to_kernel, PuntBurst(kRate)) << "BGP from the peer was limited";
  EXPECT_EQ(after.limited_control, 0u);
  EXPECT_GT(flooded.limited_icmp, 0u);
  EXPECT_GT(flooded.limited_local, 0u);
}

TEST_F(XdpPuntLimitTest, ArpHasItsOwnBucket) {
  Run(SynToBgp(kStranger), kFlood);
  const XdpStats flooded = Stats();
  Run(ArpRequestFrame(kStranger, kLocal), 1);
  EXPECT_EQ(Stats().to_kernel - flooded.to_kernel, 1u);
}

TEST_F(XdpPuntLimitTest, RateZeroIsUnlimited) {
  std::array<uint32_t, kPuntReasonCount> rates = UniformPuntRates(kRate);
  rates[static_cast<size_t>(PuntReason::kLocal)] = 0;
  ASSERT_TRUE(maps_->SetPuntRates(rates).ok());
  Run(SynToBgp(kStranger), kFlood);
  const XdpStats s = Stats();
  EXPECT_EQ(s.to_kernel, kFlood);
  EXPECT_EQ(s.rate_limited, 0u);
}

TEST_F(XdpPuntLimitTest, LimitedCountsMapToPuntLimitedReasons) {
  Run(SynToBgp(kStranger), kFlood);
  const XdpStats s = Stats();
  const auto by_reason = LimitedByPuntReason(s);
  EXPECT_EQ(by_reason[static_cast<size_t>(PuntReason::kLocal)], s.limited_local);
  EXPECT_EQ(by_reason[static_cast<size_t>(PuntReason::kControl)], 0u);
}

}  // namespace
}  // namespace isthmus::test
