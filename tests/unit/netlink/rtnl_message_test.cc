#include "control/netlink/rtnl_message.h"

#include <arpa/inet.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "control/netlink/rtnl_socket.h"
#include "gtest/gtest.h"
#include "tests/unit/netlink/message_builder.h"

namespace isthmus::rtnl {
namespace {

using ::isthmus::testing::MakeIpv4;
using ::isthmus::testing::MessageBuilder;

const std::vector<uint8_t> kMacBytes = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
const MacAddr kMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
constexpr int kIfindex = 7;

// ---- neighbours -----------------------------------------------------------

enum class Outcome { kEvent, kIgnored, kMalformed };

struct NeighborCase {
  std::string description;
  uint16_t type = RTM_NEWNEIGH;
  uint8_t family = AF_INET;
  uint16_t state = NUD_REACHABLE;
  uint8_t flags = 0;
  std::optional<std::vector<uint8_t>> dst = std::vector<uint8_t>{198, 18, 0, 2};
  std::optional<std::vector<uint8_t>> lladdr = kMacBytes;
  Outcome outcome = Outcome::kEvent;
  bool expect_mac = true;
};

class NeighborParseTest : public ::testing::TestWithParam<NeighborCase> {};

TEST_P(NeighborParseTest, Decodes) {
  const NeighborCase& c = GetParam();
  MessageBuilder msg(c.type);
  auto* ndm = msg.AddHeader<ndmsg>();
  ndm->ndm_family = c.family;
  ndm->ndm_ifindex = kIfindex;
  ndm->ndm_state = c.state;
  ndm->ndm_flags = c.flags;
  if (c.dst) msg.Put(NDA_DST, *c.dst);
  if (c.lladdr) msg.Put(NDA_LLADDR, *c.lladdr);

  absl::StatusOr<std::optional<NeighborEvent>> got = ParseNeighbor(msg.message());
  if (c.outcome == Outcome::kMalformed) {
    EXPECT_FALSE(got.ok());
    return;
  }
  ASSERT_TRUE(got.ok()) << got.status();
  if (c.outcome == Outcome::kIgnored) {
    EXPECT_FALSE(got->has_value());
    return;
  }
  ASSERT_TRUE(got->has_value());
  const NeighborEvent& event = **got;
  EXPECT_EQ(event.ifindex, kIfindex);
  EXPECT_EQ(event.ip, MakeIpv4(198, 18, 0, 2));
  EXPECT_EQ(event.state, c.state);
  EXPECT_EQ(event.deleted, c.type == RTM_DELNEIGH);
  if (c.expect_mac) {
    ASSERT_TRUE(event.mac.has_value());
    EXPECT_EQ(*event.mac, kMac);
  } else {
    EXPECT_FALSE(event.mac.has_value());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, NeighborParseTest,
    ::testing::Values(
        NeighborCase{.description = "Reachable"},
        NeighborCase{.description = "Stale", .state = NUD_STALE},
        NeighborCase{.description = "Delay", .state = NUD_DELAY},
        NeighborCase{.description = "Probe", .state = NUD_PROBE},
        NeighborCase{.description = "Permanent", .state = NUD_PERMANENT},
        NeighborCase{.description = "Noarp", .state = NUD_NOARP},
        NeighborCase{.description = "IncompleteHasNoMac",
                     .state = NUD_INCOMPLETE,
                     .lladdr = std::nullopt,
                     .expect_mac = false},
        NeighborCase{
            .description = "FailedIgnoresOldMac", .state = NUD_FAILED, .expect_mac = false},
        NeighborCase{.description = "DeletedHasNoMac", .type = RTM_DELNEIGH, .expect_mac = false},
        NeighborCase{
            .description = "ReachableWithoutLladdr", .lladdr = std::nullopt, .expect_mac = false},
        NeighborCase{.description = "NonEthernetLladdr",
                     .state = NUD_NOARP,
                     .lladdr = std::vector<uint8_t>{192, 0, 2, 1},
                     .expect_mac = false},
        NeighborCase{
            .description = "Ipv6Ignored", .family = AF_INET6, .outcome = Outcome::kIgnored},
        NeighborCase{
            .description = "ProxyIgnored", .flags = NTF_PROXY, .outcome = Outcome::kIgnored},
        NeighborCase{
            .description = "MissingDst", .dst = std::nullopt, .outcome = Outcome::kMalformed},
        NeighborCase{.description = "ShortDst",
                     .dst = std::vector<uint8_t>{198, 18},
                     .outcome = Outcome::kMalformed},
        NeighborCase{.description = "NotANeighborMessage",
                     .type = RTM_NEWADDR,
                     .outcome = Outcome::kMalformed}),
    [](const ::testing::TestParamInfo<NeighborCase>& info) { return info.param.description; });

TEST(NeighborParse, RejectsTruncatedHeader) {
  MessageBuilder msg(RTM_NEWNEIGH);
  msg.raw()->nlmsg_len = MNL_NLMSG_HDRLEN + sizeof(ndmsg) - 1;
  EXPECT_FALSE(ParseNeighbor(msg.message()).ok());
}

TEST(NeighborParse, RejectsAttributeOverrunningMessage) {
  MessageBuilder msg(RTM_NEWNEIGH);
  msg.AddHeader<ndmsg>()->ndm_family = AF_INET;
  msg.PutIpv4(NDA_DST, MakeIpv4(198, 18, 0, 2));
  // Claim a longer attribute than the message holds.
  auto* attr = static_cast<nlattr*>(mnl_nlmsg_get_payload_offset(msg.raw(), sizeof(ndmsg)));
  attr->nla_len = 64;
  EXPECT_FALSE(ParseNeighbor(msg.message()).ok());
}

// ---- addresses ------------------------------------------------------------

TEST(AddressParse, UsesLocalAndDerivesSubnet) {
  MessageBuilder msg(RTM_NEWADDR);
  auto* ifa = msg.AddHeader<ifaddrmsg>();
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = 24;
  ifa->ifa_index = kIfindex;
  msg.PutIpv4(IFA_ADDRESS, MakeIpv4(198, 18, 0, 1));
  msg.PutIpv4(IFA_LOCAL, MakeIpv4(198, 18, 0, 1));
  auto got = ParseAddress(msg.message());
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->ifindex, kIfindex);
  EXPECT_EQ((*got)->address.host, MakeIpv4(198, 18, 0, 1));
  EXPECT_EQ((*got)->address.subnet, (Ipv4Prefix{MakeIpv4(198, 18, 0, 0), 24}));
  EXPECT_FALSE((*got)->deleted);
}

TEST(AddressParse, PointToPointPrefersLocalOverPeer) {
  MessageBuilder msg(RTM_DELADDR);
  auto* ifa = msg.AddHeader<ifaddrmsg>();
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = 32;
  msg.PutIpv4(IFA_ADDRESS, MakeIpv4(192, 0, 2, 9));  // the peer
  msg.PutIpv4(IFA_LOCAL, MakeIpv4(192, 0, 2, 8));
  auto got = ParseAddress(msg.message());
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->address.host, MakeIpv4(192, 0, 2, 8));
  EXPECT_EQ((*got)->address.subnet, (Ipv4Prefix{MakeIpv4(192, 0, 2, 8), 32}));
  EXPECT_TRUE((*got)->deleted);
}

TEST(AddressParse, FallsBackToAddressWithoutLocal) {
  MessageBuilder msg(RTM_NEWADDR);
  auto* ifa = msg.AddHeader<ifaddrmsg>();
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = 0;
  msg.PutIpv4(IFA_ADDRESS, MakeIpv4(203, 0, 113, 5));
  auto got = ParseAddress(msg.message());
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->address.host, MakeIpv4(203, 0, 113, 5));
  EXPECT_EQ((*got)->address.subnet, (Ipv4Prefix{Ipv4Addr{0}, 0}));
}

TEST(AddressParse, IgnoresIpv6AndRejectsBadPrefixOrMissingAddress) {
  MessageBuilder v6(RTM_NEWADDR);
  v6.AddHeader<ifaddrmsg>()->ifa_family = AF_INET6;
  auto ignored = ParseAddress(v6.message());
  ASSERT_TRUE(ignored.ok());
  EXPECT_FALSE(ignored->has_value());

  MessageBuilder long_prefix(RTM_NEWADDR);
  auto* ifa = long_prefix.AddHeader<ifaddrmsg>();
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = 33;
  long_prefix.PutIpv4(IFA_LOCAL, MakeIpv4(198, 18, 0, 1));
  EXPECT_FALSE(ParseAddress(long_prefix.message()).ok());

  MessageBuilder no_address(RTM_NEWADDR);
  no_address.AddHeader<ifaddrmsg>()->ifa_family = AF_INET;
  EXPECT_FALSE(ParseAddress(no_address.message()).ok());
}

// ---- links ----------------------------------------------------------------

TEST(LinkParse, DecodesNameMacMtuAndAdminState) {
  MessageBuilder msg(RTM_NEWLINK);
  auto* ifi = msg.AddHeader<ifinfomsg>();
  ifi->ifi_index = kIfindex;
  ifi->ifi_flags = IFF_UP | IFF_BROADCAST;
  msg.PutString(IFLA_IFNAME, "port0");
  msg.Put(IFLA_ADDRESS, kMacBytes);
  msg.PutU32(IFLA_MTU, 9000);
  auto got = ParseLink(msg.message());
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->ifindex, kIfindex);
  EXPECT_EQ((*got)->name, "port0");
  EXPECT_EQ((*got)->mac, kMac);
  EXPECT_EQ((*got)->mtu, 9000u);
  EXPECT_TRUE((*got)->up);
}

TEST(LinkParse, DownLinkWithoutHardwareAddress) {
  MessageBuilder msg(RTM_DELLINK);
  msg.AddHeader<ifinfomsg>()->ifi_flags = IFF_BROADCAST;
  msg.PutString(IFLA_IFNAME, "tun0");
  auto got = ParseLink(msg.message());
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_FALSE((*got)->up);
  EXPECT_EQ((*got)->mac, MacAddr{});
}

TEST(LinkParse, IgnoresBridgePortRecordsAndRejectsBadNames) {
  MessageBuilder bridge(RTM_NEWLINK);
  bridge.AddHeader<ifinfomsg>()->ifi_family = AF_BRIDGE;
  bridge.PutString(IFLA_IFNAME, "br0");
  auto ignored = ParseLink(bridge.message());
  ASSERT_TRUE(ignored.ok());
  EXPECT_FALSE(ignored->has_value());

  MessageBuilder nameless(RTM_NEWLINK);
  nameless.AddHeader<ifinfomsg>();
  EXPECT_FALSE(ParseLink(nameless.message()).ok());

  MessageBuilder unterminated(RTM_NEWLINK);
  unterminated.AddHeader<ifinfomsg>();
  unterminated.Put(IFLA_IFNAME, "eth0", 4);
  EXPECT_FALSE(ParseLink(unterminated.message()).ok());
}

// ---- errors and datagrams -------------------------------------------------

TEST(ErrorMessage, AckIsOkAndErrnoMapsToCode) {
  MessageBuilder ack(NLMSG_ERROR);
  ack.AddHeader<nlmsgerr>()->error = 0;
  EXPECT_TRUE(StatusFromErrorMessage(ack.message()).ok());

  MessageBuilder missing(NLMSG_ERROR);
  missing.AddHeader<nlmsgerr>()->error = -EEXIST;
  EXPECT_TRUE(absl::IsAlreadyExists(StatusFromErrorMessage(missing.message())));
}

TEST(ErrorMessage, CarriesExtendedAckText) {
  MessageBuilder msg(NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS);
  auto* err = msg.AddHeader<nlmsgerr>();
  err->error = -EINVAL;
  err->msg.nlmsg_len = sizeof(nlmsghdr);
  msg.PutString(NLMSGERR_ATTR_MSG, "MTU greater than device maximum");
  const absl::Status status = StatusFromErrorMessage(msg.message());
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_NE(status.message().find("MTU greater than device maximum"), absl::string_view::npos)
      << status;
}

TEST(ErrorMessage, DoneCarriesDumpStatus) {
  MessageBuilder done(NLMSG_DONE);
  *static_cast<int*>(mnl_nlmsg_put_extra_header(done.raw(), sizeof(int))) = 0;
  EXPECT_TRUE(StatusFromDoneMessage(done.message()).ok());
  MessageBuilder aborted(NLMSG_DONE);
  *static_cast<int*>(mnl_nlmsg_put_extra_header(aborted.raw(), sizeof(int))) = -EBUSY;
  EXPECT_FALSE(StatusFromDoneMessage(aborted.message()).ok());
}

TEST(Datagram, VisitsEveryMessageAndRejectsTrailingBytes) {
  alignas(NLMSG_ALIGNTO) std::array<char, 256> datagram{};
  auto* first = mnl_nlmsg_put_header(datagram.data());
  first->nlmsg_type = RTM_NEWLINK;
  auto* second = mnl_nlmsg_put_header(datagram.data() + first->nlmsg_len);
  second->nlmsg_type = RTM_DELLINK;
  const size_t both = first->nlmsg_len + second->nlmsg_len;

  std::vector<uint16_t> seen;
  auto record = [&](const nlmsghdr& nlh) {
    seen.push_back(nlh.nlmsg_type);
    return absl::OkStatus();
  };
  ASSERT_TRUE(ForEachMessage({datagram.data(), both}, record).ok());
  EXPECT_EQ(seen, (std::vector<uint16_t>{RTM_NEWLINK, RTM_DELLINK}));

  seen.clear();
  EXPECT_FALSE(ForEachMessage({datagram.data(), both + 3}, record).ok());
  EXPECT_EQ(seen.size(), 2u);
}

}  // namespace
}  // namespace isthmus::rtnl
