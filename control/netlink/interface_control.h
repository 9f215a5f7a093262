#pragma once
// One-shot rtnetlink queries and changes for single interfaces and for the
// routes isthmusd mirrors into the kernel, each over its own short-lived
// socket in the calling thread's network namespace. Every wait for the
// kernel is bounded (two seconds).

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "control/config/config.h"
#include "control/netlink/netlink_types.h"
#include "control/netlink/rtnl_socket.h"

namespace isthmus {

// NotFound when no such link exists.
absl::StatusOr<LinkInfo> GetLink(const std::string& ifname);
absl::StatusOr<LinkInfo> GetLink(int ifindex);

// The link's IPv4 addresses in kernel order (primary first); NotFound when
// the link does not exist.
absl::StatusOr<std::vector<InterfaceAddress>> GetIpv4Addresses(int ifindex);

// Adds `address` (for exception taps). InvalidArgument when subnet does not
// match host/len; AlreadyExists when the link already has it.
absl::Status AddIpv4Address(int ifindex, const InterfaceAddress& address);

absl::Status SetLinkUp(int ifindex, bool up);
absl::Status SetLinkMtu(int ifindex, uint32_t mtu);
absl::Status SetLinkMac(int ifindex, const MacAddr& mac);

// --- Kernel route mirror ---------------------------------------------------
// Packets the data plane punts (TTL expiry, IP options) are answered by the
// kernel, which looks up the route before it checks the TTL (RFC 1812
// 5.3.1): without the data plane's routes it would send "net unreachable"
// instead of "time exceeded", and its own traffic (multihop BGP) could not
// reach remote prefixes. isthmusd therefore copies its static and BGP routes
// into the main table, marked with its own protocol so that routes made by
// the kernel (connected), the administrator (`ip route`, protocol static)
// or other daemons are never changed.

// rtm_protocol of every route isthmusd installs. 212 is unused by the
// kernel UAPI (<linux/rtnetlink.h>), by iproute2's rt_protos and by FRR
// (186-198, /etc/iproute2/rt_protos.d/frr.conf; 0xc4 = 196 is FRR's
// "static"). Name it for `ip route show proto isthmus` with a line
// "212 isthmus" in /etc/iproute2/rt_protos.d/isthmus.conf.
inline constexpr uint8_t kIsthmusRouteProtocol = 0xd4;
// Metric (RTA_PRIORITY) of isthmusd's routes. The kernel's NLM_F_REPLACE
// replaces whichever route has the same prefix, TOS and metric, whatever
// its protocol; a metric of our own keeps an administrator's route for the
// same prefix (`ip route add` defaults to metric 0) intact, and lets it win.
inline constexpr uint32_t kIsthmusRouteMetric = 50;
// Most next hops in one multipath route; equals the data plane's ECMP width
// (dataplane/fib/fib.h kMaxEcmp) and fits one request buffer.
inline constexpr size_t kMaxKernelNexthops = 16;

struct KernelNexthop {
  int ifindex = 0;
  Ipv4Addr gateway;  // 0.0.0.0 = destination is on-link on `ifindex`
  friend bool operator==(const KernelNexthop&, const KernelNexthop&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const KernelNexthop& n) {
    return H::combine(std::move(h), n.ifindex, n.gateway);
  }
};

// Installs or replaces `prefix` in the main table: RTM_NEWROUTE with
// NLM_F_CREATE|NLM_F_REPLACE, scope universe, type unicast. More than one
// next hop becomes one RTA_MULTIPATH route with equal weights (ECMP). A
// blackhole route (RTN_BLACKHOLE) takes no next hops. InvalidArgument for
// a prefix with host bits, no/too many next hops or ifindex <= 0; the
// kernel's errors (e.g. a gateway outside every connected subnet) come back
// with the prefix and the kernel's extended-ack text.
// `socket` (optional): a request socket to reuse (see OpenRouteSocket), for
// callers that install many routes; otherwise one is opened per call.
absl::Status ReplaceKernelRoute(const Ipv4Prefix& prefix, const std::vector<KernelNexthop>& nexthops,
                                bool blackhole = false, rtnl::RtnlSocket* socket = nullptr);
// Deletes isthmusd's route for `prefix` in the main table (only a route
// with kIsthmusRouteProtocol); NotFound when there is none, which callers
// withdrawing a route may ignore.
absl::Status DeleteKernelRoute(const Ipv4Prefix& prefix, rtnl::RtnlSocket* socket = nullptr);
// A request socket for ReplaceKernelRoute / DeleteKernelRoute to reuse.
absl::StatusOr<rtnl::RtnlSocket> OpenRouteSocket();
// Deletes every IPv4 route of kIsthmusRouteProtocol in the main table
// (dump, then delete one by one), at start and at shutdown. Routes that
// vanish meanwhile are not an error; other failures do not stop the flush,
// and the first one is returned.
absl::Status FlushKernelRoutes();
// The prefixes of isthmusd's routes in the main table, in kernel order.
absl::StatusOr<std::vector<Ipv4Prefix>> ListKernelRoutes();

}  // namespace isthmus
