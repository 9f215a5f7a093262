#include "control/netlink/netlink_monitor.h"

#include <linux/neighbour.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/unit/netlink/message_builder.h"
#include "tests/unit/netlink/netns_fixture.h"

namespace isthmus {
namespace {

using ::isthmus::testing::MakeIpv4;

constexpr absl::Duration kEventTimeout = absl::Seconds(2);
const MacAddr kLocalMac = {0x02, 0x00, 0x00, 0x00, 0x01, 0x00};
const MacAddr kPeerMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x22};
const Ipv4Addr kLocalIp = MakeIpv4(198, 18, 0, 1);
const Ipv4Addr kPeerIp = MakeIpv4(198, 18, 0, 2);
const Ipv4Prefix kSubnet{MakeIpv4(198, 18, 0, 0), 24};

MacAddr Mac(uint8_t last) { return {0x02, 0x00, 0x00, 0x00, 0x00, last}; }

// Everything the handlers saw, in arrival order.
struct Recorder {
  std::vector<NeighborEvent> neighbors;
  std::vector<AddressEvent> addresses;
  std::vector<std::pair<LinkInfo, bool>> links;
  std::string order;  // 'n', 'a', 'l' per event

  NetlinkMonitor::Handlers Handlers() {
    return {
        .neighbor = [this](const NeighborEvent& e) { neighbors.push_back(e), order += 'n'; },
        .address = [this](const AddressEvent& e) { addresses.push_back(e), order += 'a'; },
        .link = [this](const LinkInfo& l,
                       bool deleted) { links.emplace_back(l, deleted), order += 'l'; },
    };
  }
  bool Saw(const std::function<bool(const NeighborEvent&)>& match) const {
    return std::any_of(neighbors.begin(), neighbors.end(), match);
  }
  bool Saw(const std::function<bool(const AddressEvent&)>& match) const {
    return std::any_of(addresses.begin(), addresses.end(), match);
  }
};

class NetlinkMonitorTest : public testing::NetnsTest {
 protected:
  void TearDown() override {
    monitor_.reset();  // close its sockets before the namespace goes
    NetnsTest::TearDown();
  }

  void OpenMonitor() {
    absl::StatusOr<std::unique_ptr<NetlinkMonitor>> monitor = NetlinkMonitor::Open();
    ASSERT_TRUE(monitor.ok()) << monitor.status();
    monitor_ = std::move(*monitor);
  }

  // nl0 (198.18.0.1/24, kLocalMac) with its veth peer nl1 in this namespace.
  void AddVeth() {
    ASSERT_EQ(Ip("link add nl0 address 02:00:00:00:01:00 type veth peer name nl1"), 0);
    ASSERT_EQ(Ip("addr add 198.18.0.1/24 dev nl0"), 0);
    ASSERT_EQ(Ip("link set nl0 up"), 0);
    ASSERT_EQ(Ip("link set nl1 up"), 0);
    ifindex_ = static_cast<int>(if_nametoindex("nl0"));
    ASSERT_GT(ifindex_, 0);
  }

  // Processes events until `done` holds or `timeout` passes.
  bool PumpUntil(const std::function<bool()>& done, absl::Duration timeout = kEventTimeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!done()) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return false;
      pollfd pfd{.fd = monitor_->fd(), .events = POLLIN, .revents = 0};
      const int ready = poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
      if (ready < 0) return false;
      const absl::Status status = monitor_->Process(recorder_.Handlers());
      EXPECT_TRUE(status.ok()) << status;
    }
    return true;
  }

  // Adds `count` permanent neighbours 198.18.<1+i/250>.<1+i%250> with MAC
  // 02:00:00:02:<i/256>:<i%256> in one `ip -batch` run (no reads between).
  void AddPermanentNeighbours(int count) {
    const std::string batch = absl::StrFormat("/tmp/isth-nl-batch-%d", getpid());
    {
      std::ofstream out(batch);
      for (int i = 0; i < count; ++i) {
        out << absl::StrFormat("neigh add %s lladdr 02:00:00:02:%02x:%02x dev nl0 nud permanent\n",
                               NeighbourIp(i), i / 256, i % 256);
      }
    }
    const int rc = Ip("-batch " + batch);
    std::remove(batch.c_str());
    ASSERT_EQ(rc, 0);
  }
  static std::string NeighbourIp(int i) {
    return absl::StrFormat("198.18.%d.%d", 1 + i / kHostsPerSubnet, 1 + i % kHostsPerSubnet);
  }
  static MacAddr NeighbourMac(int i) {
    return {0x02, 0x00, 0x00, 0x02, static_cast<uint8_t>(i / 256), static_cast<uint8_t>(i % 256)};
  }
  static constexpr int kHostsPerSubnet = 250;

  std::unique_ptr<NetlinkMonitor> monitor_;
  Recorder recorder_;
  int ifindex_ = 0;
};

TEST_F(NetlinkMonitorTest, ReportsAddressAddAndDelete) {
  ASSERT_EQ(Ip("link add nl0 type veth peer name nl1"), 0);
  ifindex_ = static_cast<int>(if_nametoindex("nl0"));
  OpenMonitor();
  auto is_ours = [&](bool deleted) {
    return [this, deleted](const AddressEvent& e) {
      return e.ifindex == ifindex_ && e.address.host == kLocalIp && e.address.subnet == kSubnet &&
             e.deleted == deleted;
    };
  };
  ASSERT_EQ(Ip("addr add 198.18.0.1/24 dev nl0"), 0);
  EXPECT_TRUE(PumpUntil([&] { return recorder_.Saw(is_ours(false)); }));
  ASSERT_EQ(Ip("addr del 198.18.0.1/24 dev nl0"), 0);
  EXPECT_TRUE(PumpUntil([&] { return recorder_.Saw(is_ours(true)); }));
}

TEST_F(NetlinkMonitorTest, DumpReplaysNeighboursThenAddresses) {
  AddVeth();
  ASSERT_EQ(Ip("neigh add 198.18.0.2 lladdr 02:00:00:00:00:02 dev nl0 nud permanent"), 0);
  OpenMonitor();
  ASSERT_TRUE(monitor_->RequestDump().ok());
  // A second request while the first runs must queue, not fail with EBUSY.
  ASSERT_TRUE(monitor_->RequestDump().ok());
  auto permanent = [&](const NeighborEvent& e) {
    return e.ifindex == ifindex_ && e.ip == kPeerIp && e.mac == Mac(0x02) &&
           e.state == NUD_PERMANENT && !e.deleted;
  };
  auto address = [&](const AddressEvent& e) {
    return e.ifindex == ifindex_ && e.address.host == kLocalIp && !e.deleted;
  };
  ASSERT_TRUE(PumpUntil([&] {
    return std::count_if(recorder_.neighbors.begin(), recorder_.neighbors.end(), permanent) == 2 &&
           recorder_.Saw(address);
  })) << "order: "
      << recorder_.order;
  // Neighbours come first: both neighbour replays end before the addresses.
  EXPECT_LT(recorder_.order.rfind('n'), recorder_.order.find('a')) << recorder_.order;
}

// A table too large for one datagram keeps the dump running across reads,
// and a second dump request on the socket would fail with EBUSY: this is
// where the neighbour and address dumps must be sequenced.
TEST_F(NetlinkMonitorTest, MultiDatagramDumpsAreSequenced) {
  AddVeth();
  constexpr int kNeighbours = 600;  // ~45 KiB of RTM_NEWNEIGH, > one 32 KiB skb
  AddPermanentNeighbours(kNeighbours);
  OpenMonitor();
  ASSERT_TRUE(monitor_->RequestDump().ok());
  ASSERT_TRUE(monitor_->RequestDump().ok());
  auto address = [&](const AddressEvent& e) { return e.address.host == kLocalIp; };
  // Both neighbour replays complete, then the address dump.
  EXPECT_TRUE(PumpUntil([&] {
    return recorder_.neighbors.size() >= 2 * kNeighbours && recorder_.Saw(address);
  })) << "neighbour events "
      << recorder_.neighbors.size();
  EXPECT_EQ(recorder_.neighbors.size(), 2u * kNeighbours);
  EXPECT_LT(recorder_.order.rfind('n'), recorder_.order.find('a'));
  EXPECT_EQ(monitor_->overruns(), 0u);
}

TEST_F(NetlinkMonitorTest, ReportsNeighbourAddChangeAndDelete) {
  AddVeth();
  OpenMonitor();
  const Ipv4Addr ip = MakeIpv4(198, 18, 0, 3);
  ASSERT_EQ(Ip("neigh add 198.18.0.3 lladdr 02:00:00:00:00:03 dev nl0 nud stale"), 0);
  EXPECT_TRUE(PumpUntil([&] {
    return recorder_.Saw([&](const NeighborEvent& e) {
      return e.ip == ip && e.ifindex == ifindex_ && e.mac == Mac(0x03) && e.state == NUD_STALE;
    });
  }));
  ASSERT_EQ(Ip("neigh change 198.18.0.3 lladdr 02:00:00:00:00:04 dev nl0 nud reachable"), 0);
  EXPECT_TRUE(PumpUntil([&] {
    return recorder_.Saw(
        [&](const NeighborEvent& e) { return e.ip == ip && e.mac == Mac(0x04) && !e.deleted; });
  }));
  ASSERT_EQ(Ip("neigh del 198.18.0.3 dev nl0"), 0);
  EXPECT_TRUE(PumpUntil([&] {
    return recorder_.Saw(
        [&](const NeighborEvent& e) { return e.ip == ip && e.deleted && !e.mac.has_value(); });
  }));
}

TEST_F(NetlinkMonitorTest, ResolveNeighbourLearnsPeerMac) {
  const std::string peer = AddNamespace();
  ASSERT_EQ(Ip("link add nl0 address 02:00:00:00:01:00 type veth peer name nl1 netns " + peer), 0);
  ASSERT_EQ(Ip("addr add 198.18.0.1/24 dev nl0"), 0);
  ASSERT_EQ(Ip("link set nl0 up"), 0);
  ASSERT_EQ(Ip(peer, "link set nl1 address 02:00:00:00:00:22"), 0);
  ASSERT_EQ(Ip(peer, "addr add 198.18.0.2/24 dev nl1"), 0);
  ASSERT_EQ(Ip(peer, "link set nl1 up"), 0);
  ASSERT_TRUE(WaitForCarrier(netns(), "nl0", kEventTimeout));
  ifindex_ = static_cast<int>(if_nametoindex("nl0"));
  OpenMonitor();

  ASSERT_TRUE(monitor_->ResolveNeighbor(ifindex_, kPeerIp).ok());
  EXPECT_TRUE(PumpUntil([&] {
    return recorder_.Saw([&](const NeighborEvent& e) {
      return e.ifindex == ifindex_ && e.ip == kPeerIp && e.mac == kPeerMac && !e.deleted;
    });
  })) << "the kernel did not resolve 198.18.0.2 within 2 s";

  // Asking again must not clobber the learned entry.
  ASSERT_TRUE(monitor_->ResolveNeighbor(ifindex_, kPeerIp).ok());
  const std::string entry = IpOutput(netns(), "neigh show 198.18.0.2 dev nl0");
  EXPECT_NE(entry.find("02:00:00:00:00:22"), std::string::npos) << entry;
  EXPECT_EQ(entry.find("INCOMPLETE"), std::string::npos) << entry;
}

TEST_F(NetlinkMonitorTest, ResolveUnansweredNeighbourEndsWithoutMac) {
  AddVeth();
  // One probe, 100 ms apart: the entry fails quickly (default is 3 s).
  ASSERT_EQ(Sysctl(netns(), "net.ipv4.neigh.nl0.mcast_solicit=1"), 0);
  ASSERT_EQ(Sysctl(netns(), "net.ipv4.neigh.nl0.retrans_time_ms=100"), 0);
  ASSERT_TRUE(WaitForCarrier(netns(), "nl0", kEventTimeout));
  OpenMonitor();
  const Ipv4Addr nobody = MakeIpv4(198, 18, 0, 77);
  ASSERT_TRUE(monitor_->ResolveNeighbor(ifindex_, nobody).ok());
  auto unresolved = [&](const NeighborEvent& e) {
    return e.ip == nobody && !e.mac.has_value() && (e.state & (NUD_INCOMPLETE | NUD_FAILED)) != 0;
  };
  EXPECT_TRUE(PumpUntil([&] { return recorder_.Saw(unresolved); }));
  // Retrying a FAILED entry restarts resolution and still yields no MAC.
  recorder_.neighbors.clear();
  ASSERT_TRUE(monitor_->ResolveNeighbor(ifindex_, nobody).ok());
  EXPECT_TRUE(PumpUntil([&] { return recorder_.Saw(unresolved); }));
  EXPECT_FALSE(recorder_.Saw([&](const NeighborEvent& e) { return e.mac.has_value(); }));
}

TEST_F(NetlinkMonitorTest, ResolveLeavesPermanentEntryAlone) {
  AddVeth();
  ASSERT_EQ(Ip("neigh add 198.18.0.5 lladdr 02:00:00:00:00:05 dev nl0 nud permanent"), 0);
  OpenMonitor();
  ASSERT_TRUE(monitor_->ResolveNeighbor(ifindex_, MakeIpv4(198, 18, 0, 5)).ok());
  const std::string entry = IpOutput(netns(), "neigh show 198.18.0.5 dev nl0");
  EXPECT_NE(entry.find("02:00:00:00:00:05"), std::string::npos) << entry;
  EXPECT_NE(entry.find("PERMANENT"), std::string::npos) << entry;
}

TEST_F(NetlinkMonitorTest, ResolveOnMissingLinkFails) {
  OpenMonitor();
  constexpr int kNoSuchIfindex = 999999;
  const absl::Status status = monitor_->ResolveNeighbor(kNoSuchIfindex, kPeerIp);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("198.18.0.2"), absl::string_view::npos) << status;
  EXPECT_TRUE(absl::IsInvalidArgument(monitor_->ResolveNeighbor(0, kPeerIp)));
}

TEST_F(NetlinkMonitorTest, ReportsLinkChangesAndDeletion) {
  AddVeth();
  OpenMonitor();
  constexpr uint32_t kMtu = 1400;
  ASSERT_TRUE(SetLinkMtu(ifindex_, kMtu).ok());
  auto saw_link = [&](auto match) {
    return std::any_of(recorder_.links.begin(), recorder_.links.end(), match);
  };
  EXPECT_TRUE(PumpUntil([&] {
    return saw_link([&](const auto& l) {
      return l.first.ifindex == ifindex_ && l.first.mtu == kMtu && l.first.name == "nl0" &&
             l.first.mac == kLocalMac && l.first.up && !l.second;
    });
  }));
  ASSERT_EQ(Ip("link del nl0"), 0);
  EXPECT_TRUE(PumpUntil([&] {
    return saw_link([&](const auto& l) { return l.first.ifindex == ifindex_ && l.second; });
  }));
}

TEST_F(NetlinkMonitorTest, OverrunIsCountedAndRepairedByReplay) {
  AddVeth();
  OpenMonitor();
  // Shrink the queue to the kernel's minimum so a burst overflows it.
  const int tiny = 1;
  ASSERT_EQ(setsockopt(monitor_->fd(), SOL_SOCKET, SO_RCVBUF, &tiny, sizeof(tiny)), 0);
  constexpr int kNeighbours = 64;
  AddPermanentNeighbours(kNeighbours);

  auto all_known = [&] {
    for (int i = 0; i < kNeighbours; ++i) {
      const MacAddr mac = NeighbourMac(i);
      if (!recorder_.Saw([&](const NeighborEvent& e) { return e.mac == mac; })) return false;
    }
    return true;
  };
  EXPECT_TRUE(PumpUntil([&] { return monitor_->overruns() > 0 && all_known(); }))
      << "overruns " << monitor_->overruns() << ", neighbour events " << recorder_.neighbors.size();
  EXPECT_GT(monitor_->overruns(), 0u);
  EXPECT_EQ(monitor_->malformed_messages(), 0u);
}

}  // namespace
}  // namespace isthmus
