#include "control/netlink/interface_control.h"

#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_format.h"
#include "control/netlink/ipv4_wire.h"
#include "control/netlink/rtnl_message.h"
#include "control/netlink/rtnl_socket.h"

namespace isthmus {
namespace {

constexpr absl::Duration kReplyTimeout = absl::Seconds(2);
// RFC 3021: /31 links have no broadcast address; /32 has no subnet at all.
constexpr uint8_t kLongestPrefixWithBroadcast = 30;

absl::StatusOr<rtnl::RtnlSocket> OpenRequestSocket() {
  rtnl::SocketOptions options;
  options.receive_timeout = kReplyTimeout;
  return rtnl::RtnlSocket::Open(options);
}

std::string LinkName(int ifindex) { return absl::StrFormat("ifindex %d", ifindex); }

// Sends an RTM_GETLINK and decodes its single reply.
absl::StatusOr<LinkInfo> QueryLink(rtnl::RtnlRequest& request) {
  absl::StatusOr<rtnl::RtnlSocket> socket = OpenRequestSocket();
  if (!socket.ok()) return socket.status();
  std::optional<LinkInfo> link;
  absl::Status status = socket->Query(request, [&](const nlmsghdr& nlh) -> absl::Status {
    absl::StatusOr<std::optional<LinkInfo>> parsed = rtnl::ParseLink(nlh);
    if (!parsed.ok()) return parsed.status();
    link = *parsed;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!link.has_value()) return absl::InternalError("kernel sent no link record");
  return *link;
}

// Sends an RTM_NEWLINK that changes an existing link; `fill` sets what to
// change on top of the ifindex.
absl::Status ChangeLink(int ifindex, absl::string_view what,
                        absl::FunctionRef<void(rtnl::RtnlRequest&, ifinfomsg&)> fill) {
  absl::StatusOr<rtnl::RtnlSocket> socket = OpenRequestSocket();
  if (!socket.ok()) return socket.status();
  rtnl::RtnlRequest request(RTM_NEWLINK, 0);
  auto* ifi = request.AddHeader<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  fill(request, *ifi);
  return rtnl::WithContext(socket->Execute(request),
                           absl::StrFormat("%s of %s", what, LinkName(ifindex)));
}

absl::Status ValidateInterfaceAddress(const InterfaceAddress& address) {
  const Ipv4Prefix expected = rtnl::SubnetOf(address.host, address.subnet.len);
  if (address.subnet.len > rtnl::kIpv4Bits || expected != address.subnet) {
    return absl::InvalidArgumentError(
        absl::StrFormat("interface address %s: subnet %s/%d is not the host's /%d network",
                        rtnl::FormatIpv4(address.host), rtnl::FormatIpv4(address.subnet.addr),
                        address.subnet.len, address.subnet.len));
  }
  return absl::OkStatus();
}

// --- Kernel route mirror helpers -------------------------------------------

// Fixed part of our largest route request: nlmsghdr, rtmsg, RTA_DST,
// RTA_TABLE, RTA_PRIORITY and the RTA_MULTIPATH attribute header.
constexpr size_t kRouteRequestFixedBytes = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(rtmsg)) +
                                           3 * RTA_SPACE(sizeof(uint32_t)) + RTA_LENGTH(0);
// Each multipath member: rtnexthop plus an RTA_GATEWAY attribute.
constexpr size_t kMultipathMemberBytes =
    RTNH_ALIGN(sizeof(rtnexthop)) + RTA_SPACE(sizeof(uint32_t));
static_assert(kRouteRequestFixedBytes + kMaxKernelNexthops * kMultipathMemberBytes <=
                  rtnl::kRequestBufferBytes,
              "an ECMP route of kMaxKernelNexthops must fit one request");

std::string FormatPrefix(const Ipv4Prefix& prefix) {
  return absl::StrFormat("%s/%d", rtnl::FormatIpv4(prefix.addr), prefix.len);
}

absl::Status ValidateRoutePrefix(const Ipv4Prefix& prefix) {
  if (prefix.len > rtnl::kIpv4Bits || rtnl::SubnetOf(prefix.addr, prefix.len) != prefix) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "kernel route %s: not a network prefix (length 0..32, host bits zero)",
        FormatPrefix(prefix)));
  }
  return absl::OkStatus();
}

absl::Status ValidateNexthops(const Ipv4Prefix& prefix, const std::vector<KernelNexthop>& nexthops,
                              bool blackhole) {
  const std::string route = FormatPrefix(prefix);
  if (blackhole && !nexthops.empty()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("kernel route %s: a blackhole route takes no next hops", route));
  }
  if (!blackhole && (nexthops.empty() || nexthops.size() > kMaxKernelNexthops)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "kernel route %s: %d next hops, expected 1 to %d", route, nexthops.size(),
        kMaxKernelNexthops));
  }
  for (const KernelNexthop& nexthop : nexthops) {
    if (nexthop.ifindex <= 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "kernel route %s: next hop %s has bad ifindex %d", route,
          rtnl::FormatIpv4(nexthop.gateway), nexthop.ifindex));
    }
  }
  return absl::OkStatus();
}

// The route identity every request carries: IPv4, `prefix`, main table,
// our protocol. Returns the rtmsg for the caller to set type and scope.
rtmsg* AddRouteHeader(rtnl::RtnlRequest& request, const Ipv4Prefix& prefix) {
  auto* rtm = request.AddHeader<rtmsg>();
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = prefix.len;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = kIsthmusRouteProtocol;
  request.PutIpv4(RTA_DST, prefix.addr);
  request.PutU32(RTA_TABLE, RT_TABLE_MAIN);
  return rtm;
}

// RTA_MULTIPATH carries one record per next hop (rtnetlink(7)):
//
//   +--------------------------------------+-----------------------+---
//   | rtnexthop: len(2) flags(1) hops(1)   | RTA_GATEWAY (8 bytes, | next
//   |            ifindex(4)                |  only when not on-link)| record
//   +--------------------------------------+-----------------------+---
//
// rtnh_len covers the record with its attributes; rtnh_hops is the weight
// minus one, so 0 everywhere gives equal-cost members.
std::vector<uint8_t> EncodeMultipath(const std::vector<KernelNexthop>& nexthops) {
  std::vector<uint8_t> payload;
  for (const KernelNexthop& nexthop : nexthops) {
    const bool has_gateway = nexthop.gateway != Ipv4Addr{};
    rtnexthop record{};
    record.rtnh_len = static_cast<unsigned short>(
        RTNH_ALIGN(sizeof(rtnexthop)) + (has_gateway ? RTA_SPACE(sizeof(uint32_t)) : 0));
    record.rtnh_ifindex = nexthop.ifindex;
    const size_t at = payload.size();
    payload.resize(at + record.rtnh_len);
    std::memcpy(payload.data() + at, &record, sizeof(record));
    if (has_gateway) {
      rtattr gateway{};
      gateway.rta_len = RTA_LENGTH(sizeof(uint32_t));
      gateway.rta_type = RTA_GATEWAY;
      const uint32_t wire = rtnl::ToNetworkOrder(nexthop.gateway);
      uint8_t* attr = payload.data() + at + RTNH_ALIGN(sizeof(rtnexthop));
      std::memcpy(attr, &gateway, sizeof(gateway));
      std::memcpy(attr + RTA_LENGTH(0), &wire, sizeof(wire));
    }
  }
  return payload;
}

void PutNexthops(rtnl::RtnlRequest& request, const std::vector<KernelNexthop>& nexthops) {
  if (nexthops.size() > 1) {
    const std::vector<uint8_t> multipath = EncodeMultipath(nexthops);
    request.PutBytes(RTA_MULTIPATH, multipath.data(), multipath.size());
    return;
  }
  const KernelNexthop& only = nexthops.front();
  request.PutU32(RTA_OIF, static_cast<uint32_t>(only.ifindex));
  if (only.gateway != Ipv4Addr{}) request.PutIpv4(RTA_GATEWAY, only.gateway);
}

// One of our routes as a dump shows it: enough to delete exactly that entry.
struct OwnedRoute {
  Ipv4Prefix prefix;
  uint8_t tos = 0;
  uint32_t metric = 0;
};

std::optional<uint32_t> ReadU32(const nlattr* attr) {
  if (attr == nullptr || mnl_attr_get_payload_len(attr) != sizeof(uint32_t)) return std::nullopt;
  return mnl_attr_get_u32(attr);
}

struct RouteAttributes {
  const nlattr* dst = nullptr;
  const nlattr* table = nullptr;
  const nlattr* priority = nullptr;
};

// Walks a route message's attributes, reporting one that overruns it.
absl::StatusOr<RouteAttributes> CollectRouteAttributes(const nlmsghdr& nlh) {
  RouteAttributes found;
  const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(&nlh));
  const auto* attr =
      static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(&nlh, sizeof(rtmsg)));
  for (ptrdiff_t left = tail - reinterpret_cast<const char*>(attr); left > 0;
       left = tail - reinterpret_cast<const char*>(attr)) {
    if (!mnl_attr_ok(attr, static_cast<int>(left))) {
      return absl::DataLossError("route message: attribute overruns the message");
    }
    switch (mnl_attr_get_type(attr)) {
      case RTA_DST: found.dst = attr; break;
      case RTA_TABLE: found.table = attr; break;
      case RTA_PRIORITY: found.priority = attr; break;
      default: break;
    }
    attr = mnl_attr_next(attr);
  }
  return found;
}

// Decodes a dumped route; nullopt unless it is IPv4, in the main table and
// has our protocol.
absl::StatusOr<std::optional<OwnedRoute>> ParseOwnedRoute(const nlmsghdr& nlh) {
  if (nlh.nlmsg_type != RTM_NEWROUTE) return std::nullopt;
  if (nlh.nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(rtmsg)) {
    return absl::DataLossError(
        absl::StrFormat("route message too short (%u bytes)", nlh.nlmsg_len));
  }
  const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(&nlh));
  if (rtm->rtm_family != AF_INET || rtm->rtm_protocol != kIsthmusRouteProtocol ||
      rtm->rtm_dst_len > rtnl::kIpv4Bits) {
    return std::nullopt;
  }
  absl::StatusOr<RouteAttributes> attrs = CollectRouteAttributes(nlh);
  if (!attrs.ok()) return attrs.status();
  // Table ids above 255 only fit RTA_TABLE; rtm_table then says COMPAT.
  const uint32_t table = ReadU32(attrs->table).value_or(rtm->rtm_table);
  if (table != RT_TABLE_MAIN) return std::nullopt;
  OwnedRoute route;
  // A default route (length 0) has no RTA_DST.
  route.prefix = Ipv4Prefix{rtnl::FromNetworkOrder(ReadU32(attrs->dst).value_or(0)),
                            rtm->rtm_dst_len};
  route.tos = rtm->rtm_tos;
  route.metric = ReadU32(attrs->priority).value_or(0);
  return route;
}

absl::StatusOr<std::vector<OwnedRoute>> DumpOwnedRoutes() {
  absl::StatusOr<rtnl::RtnlSocket> socket = OpenRequestSocket();
  if (!socket.ok()) return socket.status();
  rtnl::RtnlRequest request(RTM_GETROUTE, NLM_F_DUMP);
  request.AddHeader<rtmsg>()->rtm_family = AF_INET;
  std::vector<OwnedRoute> routes;
  absl::Status status = socket->Query(request, [&](const nlmsghdr& nlh) -> absl::Status {
    absl::StatusOr<std::optional<OwnedRoute>> route = ParseOwnedRoute(nlh);
    if (!route.ok()) return route.status();
    if (route->has_value()) routes.push_back(**route);
    return absl::OkStatus();
  });
  if (!status.ok()) return rtnl::WithContext(status, "dump of IPv4 routes");
  return routes;
}

// RTM_DELROUTE of our route for `prefix`. The kernel deletes the first
// entry whose given fields match (fib_table_delete): the protocol restricts
// it to ours, scope NOWHERE and type UNSPEC match any, and a metric of 0
// (no RTA_PRIORITY) matches any metric.
// `reuse` (optional) is a request socket kept by the caller; without one,
// a socket is opened for this request.
absl::StatusOr<rtnl::RtnlSocket*> RequestSocket(rtnl::RtnlSocket* reuse, std::optional<rtnl::RtnlSocket>& owned) {
  if (reuse != nullptr) return reuse;
  absl::StatusOr<rtnl::RtnlSocket> opened = OpenRequestSocket();
  if (!opened.ok()) return opened.status();
  owned.emplace(std::move(*opened));
  return &*owned;
}

absl::Status DeleteOwnedRoute(const Ipv4Prefix& prefix, uint8_t tos, uint32_t metric,
                              rtnl::RtnlSocket* reuse = nullptr) {
  std::optional<rtnl::RtnlSocket> owned;
  absl::StatusOr<rtnl::RtnlSocket*> socket = RequestSocket(reuse, owned);
  if (!socket.ok()) return socket.status();
  rtnl::RtnlRequest request(RTM_DELROUTE, 0);
  rtmsg* rtm = AddRouteHeader(request, prefix);
  rtm->rtm_tos = tos;
  rtm->rtm_scope = RT_SCOPE_NOWHERE;
  rtm->rtm_type = RTN_UNSPEC;
  if (metric != 0) request.PutU32(RTA_PRIORITY, metric);
  return rtnl::WithContext((*socket)->Execute(request),
                           "delete kernel route " + FormatPrefix(prefix));
}

}  // namespace

absl::StatusOr<LinkInfo> GetLink(const std::string& ifname) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) {
    return absl::InvalidArgumentError(
        absl::StrFormat("interface name '%s' must have 1 to %d characters", ifname, IFNAMSIZ - 1));
  }
  rtnl::RtnlRequest request(RTM_GETLINK, 0);
  request.AddHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
  request.PutString(IFLA_IFNAME, ifname);
  absl::StatusOr<LinkInfo> link = QueryLink(request);
  if (!link.ok()) return rtnl::WithContext(link.status(), "link " + ifname);
  return link;
}

absl::StatusOr<LinkInfo> GetLink(int ifindex) {
  if (ifindex <= 0) {
    return absl::InvalidArgumentError(absl::StrFormat("bad ifindex %d", ifindex));
  }
  rtnl::RtnlRequest request(RTM_GETLINK, 0);
  auto* ifi = request.AddHeader<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  absl::StatusOr<LinkInfo> link = QueryLink(request);
  if (!link.ok()) return rtnl::WithContext(link.status(), LinkName(ifindex));
  return link;
}

absl::StatusOr<std::vector<InterfaceAddress>> GetIpv4Addresses(int ifindex) {
  // A dump of a missing link is merely empty; say NotFound instead.
  if (absl::StatusOr<LinkInfo> link = GetLink(ifindex); !link.ok()) return link.status();
  absl::StatusOr<rtnl::RtnlSocket> socket = OpenRequestSocket();
  if (!socket.ok()) return socket.status();
  rtnl::RtnlRequest request(RTM_GETADDR, NLM_F_DUMP);
  request.AddHeader<ifaddrmsg>()->ifa_family = AF_INET;
  std::vector<InterfaceAddress> addresses;
  absl::Status status = socket->Query(request, [&](const nlmsghdr& nlh) -> absl::Status {
    absl::StatusOr<std::optional<AddressEvent>> event = rtnl::ParseAddress(nlh);
    if (!event.ok()) return event.status();
    if (event->has_value() && (*event)->ifindex == ifindex) {
      addresses.push_back((*event)->address);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) {
    return rtnl::WithContext(status, "IPv4 addresses of " + LinkName(ifindex));
  }
  return addresses;
}

absl::Status AddIpv4Address(int ifindex, const InterfaceAddress& address) {
  if (absl::Status valid = ValidateInterfaceAddress(address); !valid.ok()) return valid;
  absl::StatusOr<rtnl::RtnlSocket> socket = OpenRequestSocket();
  if (!socket.ok()) return socket.status();
  rtnl::RtnlRequest request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifa = request.AddHeader<ifaddrmsg>();
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = address.subnet.len;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<uint32_t>(ifindex);
  request.PutIpv4(IFA_LOCAL, address.host);
  request.PutIpv4(IFA_ADDRESS, address.host);
  // Directed broadcast (RFC 919/922): all host bits set.
  if (address.subnet.len <= kLongestPrefixWithBroadcast) {
    const uint32_t host_bits = ~rtnl::PrefixMask(address.subnet.len);
    request.PutIpv4(IFA_BROADCAST, Ipv4Addr{address.subnet.addr.value | host_bits});
  }
  return rtnl::WithContext(socket->Execute(request),
                           absl::StrFormat("add %s/%d to %s", rtnl::FormatIpv4(address.host),
                                           address.subnet.len, LinkName(ifindex)));
}

absl::Status SetLinkUp(int ifindex, bool up) {
  return ChangeLink(ifindex, up ? "set up" : "set down", [up](rtnl::RtnlRequest&, ifinfomsg& ifi) {
    ifi.ifi_flags = up ? IFF_UP : 0;
    ifi.ifi_change = IFF_UP;  // touch no other flag
  });
}

absl::Status SetLinkMtu(int ifindex, uint32_t mtu) {
  return ChangeLink(
      ifindex, absl::StrFormat("set MTU %u", mtu),
      [mtu](rtnl::RtnlRequest& request, ifinfomsg&) { request.PutU32(IFLA_MTU, mtu); });
}

absl::Status SetLinkMac(int ifindex, const MacAddr& mac) {
  return ChangeLink(ifindex, "set MAC " + rtnl::FormatMac(mac),
                    [&mac](rtnl::RtnlRequest& request, ifinfomsg&) {
                      request.PutBytes(IFLA_ADDRESS, mac.data(), mac.size());
                    });
}

absl::Status ReplaceKernelRoute(const Ipv4Prefix& prefix, const std::vector<KernelNexthop>& nexthops,
                                bool blackhole, rtnl::RtnlSocket* reuse) {
  if (absl::Status valid = ValidateRoutePrefix(prefix); !valid.ok()) return valid;
  if (absl::Status valid = ValidateNexthops(prefix, nexthops, blackhole); !valid.ok()) {
    return valid;
  }
  std::optional<rtnl::RtnlSocket> owned;
  absl::StatusOr<rtnl::RtnlSocket*> socket = RequestSocket(reuse, owned);
  if (!socket.ok()) return socket.status();
  rtnl::RtnlRequest request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
  rtmsg* rtm = AddRouteHeader(request, prefix);
  rtm->rtm_scope = RT_SCOPE_UNIVERSE;
  rtm->rtm_type = blackhole ? RTN_BLACKHOLE : RTN_UNICAST;
  request.PutU32(RTA_PRIORITY, kIsthmusRouteMetric);
  if (!blackhole) PutNexthops(request, nexthops);
  return rtnl::WithContext((*socket)->Execute(request),
                           absl::StrFormat("replace kernel route %s%s", FormatPrefix(prefix),
                                           blackhole ? " (blackhole)" : ""));
}

absl::Status DeleteKernelRoute(const Ipv4Prefix& prefix, rtnl::RtnlSocket* reuse) {
  if (absl::Status valid = ValidateRoutePrefix(prefix); !valid.ok()) return valid;
  return DeleteOwnedRoute(prefix, /*tos=*/0, /*metric=*/0, reuse);
}

absl::Status FlushKernelRoutes() {
  absl::StatusOr<std::vector<OwnedRoute>> routes = DumpOwnedRoutes();
  if (!routes.ok()) return rtnl::WithContext(routes.status(), "flush of kernel routes");
  absl::Status first_error;
  for (const OwnedRoute& route : *routes) {
    absl::Status deleted = DeleteOwnedRoute(route.prefix, route.tos, route.metric);
    // NotFound: gone since the dump (link down, another flush).
    if (!deleted.ok() && !absl::IsNotFound(deleted) && first_error.ok()) first_error = deleted;
  }
  return first_error;
}

absl::StatusOr<rtnl::RtnlSocket> OpenRouteSocket() { return OpenRequestSocket(); }

absl::StatusOr<std::vector<Ipv4Prefix>> ListKernelRoutes() {
  absl::StatusOr<std::vector<OwnedRoute>> routes = DumpOwnedRoutes();
  if (!routes.ok()) return routes.status();
  std::vector<Ipv4Prefix> prefixes;
  prefixes.reserve(routes->size());
  for (const OwnedRoute& route : *routes) prefixes.push_back(route.prefix);
  return prefixes;
}

}  // namespace isthmus
