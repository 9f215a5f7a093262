#include "control/netlink/rtnl_message.h"

#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "control/netlink/ipv4_wire.h"

namespace isthmus::rtnl {
namespace {

constexpr uint16_t kUsableNeighborStates =
    NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP;

// Attributes by type; later duplicates win, as in the kernel's nla_parse.
template <size_t kMaxType>
using AttrTable = std::array<const nlattr*, kMaxType + 1>;

// The fixed family header, or nullptr when the message is too short for it.
template <typename Header>
const Header* FixedHeader(const nlmsghdr& nlh) {
  if (nlh.nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(Header)) return nullptr;
  return static_cast<const Header*>(mnl_nlmsg_get_payload(&nlh));
}

// Walks the attributes after `fixed_len` payload bytes. Unlike
// mnl_attr_parse, which stops quietly at a bad attribute, a length that
// overruns the message is reported.
template <size_t kMaxType>
absl::StatusOr<AttrTable<kMaxType>> CollectAttributes(const nlmsghdr& nlh, size_t fixed_len) {
  AttrTable<kMaxType> table{};
  const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(&nlh));
  const auto* attr = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(&nlh, fixed_len));
  for (;;) {
    const ptrdiff_t left = tail - reinterpret_cast<const char*>(attr);
    if (left <= 0) break;
    if (!mnl_attr_ok(attr, static_cast<int>(left))) {
      return absl::DataLossError(absl::StrFormat(
          "netlink message type %d: attribute overruns the message", nlh.nlmsg_type));
    }
    const uint16_t type = mnl_attr_get_type(attr);
    if (type <= kMaxType) table[type] = attr;
    attr = mnl_attr_next(attr);
  }
  return table;
}

absl::Status TooShort(const nlmsghdr& nlh) {
  return absl::DataLossError(
      absl::StrFormat("netlink message type %d too short (%u bytes) for its header", nlh.nlmsg_type,
                      nlh.nlmsg_len));
}

std::optional<Ipv4Addr> ReadIpv4(const nlattr* attr) {
  if (attr == nullptr || mnl_attr_get_payload_len(attr) != sizeof(uint32_t)) {
    return std::nullopt;
  }
  uint32_t wire = 0;
  std::memcpy(&wire, mnl_attr_get_payload(attr), sizeof(wire));
  return FromNetworkOrder(wire);
}

std::optional<MacAddr> ReadMac(const nlattr* attr) {
  MacAddr mac{};
  if (attr == nullptr || mnl_attr_get_payload_len(attr) != mac.size()) {
    return std::nullopt;
  }
  std::memcpy(mac.data(), mnl_attr_get_payload(attr), mac.size());
  return mac;
}

// The extended-ack text (NETLINK_EXT_ACK) that follows an NLMSG_ERROR, if any.
std::string ExtendedAckText(const nlmsghdr& nlh, const nlmsgerr& err) {
  if ((nlh.nlmsg_flags & NLM_F_ACK_TLVS) == 0) return "";
  // Without NLM_F_CAPPED the whole rejected request is echoed before the TLVs.
  const size_t echoed =
      (nlh.nlmsg_flags & NLM_F_CAPPED) != 0 ? sizeof(nlmsghdr) : MNL_ALIGN(err.msg.nlmsg_len);
  const size_t offset = offsetof(nlmsgerr, msg) + echoed;
  if (offset > mnl_nlmsg_get_payload_len(&nlh)) return "";
  auto attrs = CollectAttributes<NLMSGERR_ATTR_MAX>(nlh, offset);
  if (!attrs.ok()) return "";
  const nlattr* text = (*attrs)[NLMSGERR_ATTR_MSG];
  if (text == nullptr || mnl_attr_validate(text, MNL_TYPE_NUL_STRING) < 0) return "";
  return mnl_attr_get_str(text);
}

}  // namespace

bool IsUsableNeighborState(uint16_t state) { return (state & kUsableNeighborStates) != 0; }

absl::StatusOr<std::optional<NeighborEvent>> ParseNeighbor(const nlmsghdr& nlh) {
  if (nlh.nlmsg_type != RTM_NEWNEIGH && nlh.nlmsg_type != RTM_DELNEIGH) {
    return absl::InvalidArgumentError(
        absl::StrFormat("message type %d is not a neighbour message", nlh.nlmsg_type));
  }
  const auto* ndm = FixedHeader<ndmsg>(nlh);
  if (ndm == nullptr) return TooShort(nlh);
  // Proxy-ARP records (RFC 1027) answer for others; they are not next hops.
  if (ndm->ndm_family != AF_INET || (ndm->ndm_flags & NTF_PROXY) != 0) {
    return std::nullopt;
  }
  auto attrs = CollectAttributes<NDA_MAX>(nlh, sizeof(ndmsg));
  if (!attrs.ok()) return attrs.status();
  const std::optional<Ipv4Addr> ip = ReadIpv4((*attrs)[NDA_DST]);
  if (!ip.has_value()) {
    return absl::DataLossError("IPv4 neighbour message without a 4-byte NDA_DST");
  }
  NeighborEvent event;
  event.ifindex = ndm->ndm_ifindex;
  event.ip = *ip;
  event.state = ndm->ndm_state;
  event.deleted = nlh.nlmsg_type == RTM_DELNEIGH;
  if (!event.deleted && IsUsableNeighborState(event.state)) {
    event.mac = ReadMac((*attrs)[NDA_LLADDR]);
  }
  return event;
}

absl::StatusOr<std::optional<AddressEvent>> ParseAddress(const nlmsghdr& nlh) {
  if (nlh.nlmsg_type != RTM_NEWADDR && nlh.nlmsg_type != RTM_DELADDR) {
    return absl::InvalidArgumentError(
        absl::StrFormat("message type %d is not an address message", nlh.nlmsg_type));
  }
  const auto* ifa = FixedHeader<ifaddrmsg>(nlh);
  if (ifa == nullptr) return TooShort(nlh);
  if (ifa->ifa_family != AF_INET) return std::nullopt;
  if (ifa->ifa_prefixlen > kIpv4Bits) {
    return absl::DataLossError(
        absl::StrFormat("IPv4 address message with prefix length %d", ifa->ifa_prefixlen));
  }
  auto attrs = CollectAttributes<IFA_MAX>(nlh, sizeof(ifaddrmsg));
  if (!attrs.ok()) return attrs.status();
  // IFA_LOCAL is our own address; IFA_ADDRESS is the peer on point-to-point
  // links and equal to IFA_LOCAL elsewhere.
  std::optional<Ipv4Addr> host = ReadIpv4((*attrs)[IFA_LOCAL]);
  if (!host.has_value()) host = ReadIpv4((*attrs)[IFA_ADDRESS]);
  if (!host.has_value()) {
    return absl::DataLossError("IPv4 address message without IFA_LOCAL or IFA_ADDRESS");
  }
  AddressEvent event;
  event.ifindex = static_cast<int>(ifa->ifa_index);
  event.address = InterfaceAddress{*host, SubnetOf(*host, ifa->ifa_prefixlen)};
  event.deleted = nlh.nlmsg_type == RTM_DELADDR;
  return event;
}

absl::StatusOr<std::optional<LinkInfo>> ParseLink(const nlmsghdr& nlh) {
  if (nlh.nlmsg_type != RTM_NEWLINK && nlh.nlmsg_type != RTM_DELLINK) {
    return absl::InvalidArgumentError(
        absl::StrFormat("message type %d is not a link message", nlh.nlmsg_type));
  }
  const auto* ifi = FixedHeader<ifinfomsg>(nlh);
  if (ifi == nullptr) return TooShort(nlh);
  // AF_BRIDGE records describe bridge ports, not the links themselves.
  if (ifi->ifi_family != AF_UNSPEC) return std::nullopt;
  auto attrs = CollectAttributes<IFLA_MAX>(nlh, sizeof(ifinfomsg));
  if (!attrs.ok()) return attrs.status();
  const nlattr* name = (*attrs)[IFLA_IFNAME];
  if (name == nullptr || mnl_attr_validate(name, MNL_TYPE_NUL_STRING) < 0) {
    return absl::DataLossError("link message without a valid IFLA_IFNAME");
  }
  LinkInfo link;
  link.ifindex = ifi->ifi_index;
  link.name = mnl_attr_get_str(name);
  link.mac = ReadMac((*attrs)[IFLA_ADDRESS]).value_or(MacAddr{});
  const nlattr* mtu = (*attrs)[IFLA_MTU];
  if (mtu != nullptr && mnl_attr_validate(mtu, MNL_TYPE_U32) == 0) {
    link.mtu = mnl_attr_get_u32(mtu);
  }
  link.up = (ifi->ifi_flags & IFF_UP) != 0;
  return link;
}

absl::Status StatusFromErrorMessage(const nlmsghdr& nlh) {
  const auto* err = FixedHeader<nlmsgerr>(nlh);
  if (nlh.nlmsg_type != NLMSG_ERROR || err == nullptr) {
    return absl::DataLossError("truncated or mistyped netlink error message");
  }
  if (err->error == 0) return absl::OkStatus();
  const std::string text = ExtendedAckText(nlh, *err);
  return absl::ErrnoToStatus(
      -err->error, text.empty() ? "kernel rejected the request"
                                : absl::StrCat("kernel rejected the request (", text, ")"));
}

absl::Status StatusFromDoneMessage(const nlmsghdr& nlh) {
  int error = 0;
  if (nlh.nlmsg_len >= MNL_NLMSG_HDRLEN + sizeof(error)) {
    std::memcpy(&error, mnl_nlmsg_get_payload(&nlh), sizeof(error));
  }
  if (error >= 0) return absl::OkStatus();
  return absl::ErrnoToStatus(-error, "kernel aborted the dump");
}

absl::Status WithContext(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

}  // namespace isthmus::rtnl
