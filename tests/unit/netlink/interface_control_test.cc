#include "control/netlink/interface_control.h"

#include <net/if.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/netlink/message_builder.h"
#include "tests/unit/netlink/netns_fixture.h"

namespace isthmus {
namespace {

using ::isthmus::testing::MakeIpv4;

const MacAddr kVethMac = {0x02, 0x00, 0x00, 0x00, 0x01, 0x00};
constexpr uint32_t kDefaultMtu = 1500;

InterfaceAddress Address(Ipv4Addr host, uint8_t len) {
  const uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
  return InterfaceAddress{host, Ipv4Prefix{Ipv4Addr{host.value & mask}, len}};
}

bool Same(const InterfaceAddress& a, const InterfaceAddress& b) {
  return a.host == b.host && a.subnet == b.subnet;
}

class InterfaceControlTest : public testing::NetnsTest {
 protected:
  // nl0 (down, kVethMac) with its peer nl1, both in this namespace.
  void AddVeth() {
    ASSERT_EQ(Ip("link add nl0 address 02:00:00:00:01:00 type veth peer name nl1"), 0);
    ifindex_ = static_cast<int>(if_nametoindex("nl0"));
    ASSERT_GT(ifindex_, 0);
  }
  int ifindex_ = 0;
};

TEST_F(InterfaceControlTest, GetLinkByNameAndByIndexAgree) {
  AddVeth();
  ASSERT_EQ(Ip("addr add 198.18.0.1/24 dev nl0"), 0);
  absl::StatusOr<LinkInfo> by_name = GetLink("nl0");
  ASSERT_TRUE(by_name.ok()) << by_name.status();
  EXPECT_EQ(by_name->ifindex, ifindex_);
  EXPECT_EQ(by_name->name, "nl0");
  EXPECT_EQ(by_name->mac, kVethMac);
  EXPECT_EQ(by_name->mtu, kDefaultMtu);
  EXPECT_FALSE(by_name->up);

  absl::StatusOr<LinkInfo> by_index = GetLink(ifindex_);
  ASSERT_TRUE(by_index.ok()) << by_index.status();
  EXPECT_EQ(by_index->name, "nl0");
  EXPECT_EQ(by_index->mac, kVethMac);

  absl::StatusOr<std::vector<InterfaceAddress>> addresses = GetIpv4Addresses(ifindex_);
  ASSERT_TRUE(addresses.ok()) << addresses.status();
  ASSERT_EQ(addresses->size(), 1u);
  EXPECT_TRUE(Same((*addresses)[0], Address(MakeIpv4(198, 18, 0, 1), 24)));
  // The peer has no address: its list is empty, not the whole namespace's.
  absl::StatusOr<std::vector<InterfaceAddress>> peer =
      GetIpv4Addresses(static_cast<int>(if_nametoindex("nl1")));
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_TRUE(peer->empty());
}

TEST_F(InterfaceControlTest, UnknownLinksAreNotFound) {
  EXPECT_TRUE(absl::IsNotFound(GetLink("isth-none0").status()));
  constexpr int kNoSuchIfindex = 999999;
  EXPECT_TRUE(absl::IsNotFound(GetLink(kNoSuchIfindex).status()));
  EXPECT_TRUE(absl::IsNotFound(GetIpv4Addresses(kNoSuchIfindex).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(GetLink("").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(GetLink(std::string(IFNAMSIZ, 'x')).status()));
}

TEST_F(InterfaceControlTest, AddIpv4AddressIsListedWithBroadcast) {
  AddVeth();
  const InterfaceAddress first = Address(MakeIpv4(198, 18, 0, 1), 24);
  const InterfaceAddress second = Address(MakeIpv4(203, 0, 113, 9), 31);
  ASSERT_TRUE(AddIpv4Address(ifindex_, first).ok());
  ASSERT_TRUE(AddIpv4Address(ifindex_, second).ok());
  absl::StatusOr<std::vector<InterfaceAddress>> addresses = GetIpv4Addresses(ifindex_);
  ASSERT_TRUE(addresses.ok()) << addresses.status();
  ASSERT_EQ(addresses->size(), 2u);
  EXPECT_TRUE(Same((*addresses)[0], first));
  EXPECT_TRUE(Same((*addresses)[1], second));
  // Independent oracle: iproute2 sees the directed broadcast we set.
  const std::string shown = IpOutput(netns(), "-4 addr show dev nl0");
  EXPECT_NE(shown.find("198.18.0.1/24 brd 198.18.0.255"), std::string::npos) << shown;
  EXPECT_NE(shown.find("203.0.113.9/31 scope global"), std::string::npos) << shown;
}

TEST_F(InterfaceControlTest, AddIpv4AddressRejectsDuplicatesAndBadSubnets) {
  AddVeth();
  const InterfaceAddress address = Address(MakeIpv4(198, 18, 0, 1), 24);
  ASSERT_TRUE(AddIpv4Address(ifindex_, address).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(AddIpv4Address(ifindex_, address)));

  InterfaceAddress host_bits_in_subnet = address;
  host_bits_in_subnet.subnet.addr = MakeIpv4(198, 18, 0, 1);
  EXPECT_TRUE(absl::IsInvalidArgument(AddIpv4Address(ifindex_, host_bits_in_subnet)));
  InterfaceAddress too_long = address;
  too_long.subnet.len = 33;
  EXPECT_TRUE(absl::IsInvalidArgument(AddIpv4Address(ifindex_, too_long)));
  EXPECT_FALSE(AddIpv4Address(999999, Address(MakeIpv4(198, 18, 1, 1), 24)).ok());
}

TEST_F(InterfaceControlTest, SetLinkUpAndDown) {
  AddVeth();
  ASSERT_TRUE(SetLinkUp(ifindex_, true).ok());
  absl::StatusOr<LinkInfo> link = GetLink(ifindex_);
  ASSERT_TRUE(link.ok());
  EXPECT_TRUE(link->up);
  EXPECT_NE(IpOutput(netns(), "link show dev nl0").find(",UP"), std::string::npos);
  ASSERT_TRUE(SetLinkUp(ifindex_, false).ok());
  link = GetLink(ifindex_);
  ASSERT_TRUE(link.ok());
  EXPECT_FALSE(link->up);
}

TEST_F(InterfaceControlTest, SetLinkMtuAndRejectOutOfRange) {
  AddVeth();
  constexpr uint32_t kJumbo = 9000;
  ASSERT_TRUE(SetLinkMtu(ifindex_, kJumbo).ok());
  absl::StatusOr<LinkInfo> link = GetLink(ifindex_);
  ASSERT_TRUE(link.ok());
  EXPECT_EQ(link->mtu, kJumbo);
  constexpr uint32_t kAboveVethMax = 70000;
  const absl::Status too_big = SetLinkMtu(ifindex_, kAboveVethMax);
  EXPECT_TRUE(absl::IsInvalidArgument(too_big)) << too_big;
  EXPECT_NE(too_big.message().find("ifindex"), absl::string_view::npos) << too_big;
  link = GetLink(ifindex_);
  ASSERT_TRUE(link.ok());
  EXPECT_EQ(link->mtu, kJumbo);
}

TEST_F(InterfaceControlTest, SetLinkMacAndRejectMulticast) {
  AddVeth();
  const MacAddr mac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x42};
  ASSERT_TRUE(SetLinkMac(ifindex_, mac).ok());
  absl::StatusOr<LinkInfo> link = GetLink("nl0");
  ASSERT_TRUE(link.ok());
  EXPECT_EQ(link->mac, mac);
  EXPECT_NE(IpOutput(netns(), "link show dev nl0").find("02:00:00:00:00:42"), std::string::npos);
  // The I/G bit set: a group address cannot be a station address (IEEE 802).
  const MacAddr multicast = {0x03, 0x00, 0x00, 0x00, 0x00, 0x42};
  EXPECT_FALSE(SetLinkMac(ifindex_, multicast).ok());
}

}  // namespace
}  // namespace isthmus
