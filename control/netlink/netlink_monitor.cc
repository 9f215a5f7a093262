#include "control/netlink/netlink_monitor.h"

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_format.h"
#include "control/netlink/ipv4_wire.h"
#include "control/netlink/rtnl_message.h"
#include "spdlog/spdlog.h"

namespace isthmus {
namespace {

// Room for a full neighbour-table burst (a /16 of hosts answering at once)
// before the kernel has to drop events.
constexpr int kEventReceiveBufferBytes = 4 * 1024 * 1024;
constexpr absl::Duration kRequestTimeout = absl::Seconds(2);
// States that need no resolution; NTF_USE would clear NUD_PERMANENT.
constexpr uint16_t kStaticNeighborStates = NUD_PERMANENT | NUD_NOARP;

rtnl::SocketOptions EventSocketOptions() {
  rtnl::SocketOptions options;
  options.nonblocking = true;
  options.groups = {RTNLGRP_NEIGH, RTNLGRP_IPV4_IFADDR, RTNLGRP_LINK};
  options.receive_buffer_bytes = kEventReceiveBufferBytes;
  return options;
}

rtnl::SocketOptions RequestSocketOptions() {
  rtnl::SocketOptions options;
  options.receive_timeout = kRequestTimeout;
  return options;
}

bool IsQueueFullError(const nlmsghdr& nlh) {
  if (nlh.nlmsg_type != NLMSG_ERROR || nlh.nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(nlmsgerr)) {
    return false;
  }
  return static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(&nlh))->error == -ENOBUFS;
}

std::string Describe(int ifindex, Ipv4Addr ip) {
  return absl::StrFormat("neighbour %s on ifindex %d", rtnl::FormatIpv4(ip), ifindex);
}

}  // namespace

absl::StatusOr<std::unique_ptr<NetlinkMonitor>> NetlinkMonitor::Open() {
  absl::StatusOr<rtnl::RtnlSocket> events = rtnl::RtnlSocket::Open(EventSocketOptions());
  if (!events.ok()) return rtnl::WithContext(events.status(), "netlink event socket");
  absl::StatusOr<rtnl::RtnlSocket> requests = rtnl::RtnlSocket::Open(RequestSocketOptions());
  if (!requests.ok()) return rtnl::WithContext(requests.status(), "netlink request socket");
  return std::unique_ptr<NetlinkMonitor>(
      new NetlinkMonitor(*std::move(events), *std::move(requests)));
}

absl::Status NetlinkMonitor::RequestDump() { return StartDump(dumps_.Request()); }

absl::Status NetlinkMonitor::StartDump(std::optional<rtnl::DumpKind> kind) {
  if (!kind.has_value()) return absl::OkStatus();
  const bool neighbors = *kind == rtnl::DumpKind::kNeighbors;
  rtnl::RtnlRequest request(neighbors ? RTM_GETNEIGH : RTM_GETADDR, NLM_F_DUMP);
  if (neighbors) {
    request.AddHeader<ndmsg>()->ndm_family = AF_INET;
  } else {
    request.AddHeader<ifaddrmsg>()->ifa_family = AF_INET;
  }
  absl::StatusOr<uint32_t> seq = events_.Send(request);
  if (!seq.ok()) {
    dumps_.Reset();
    return rtnl::WithContext(seq.status(), neighbors ? "neighbour dump" : "address dump");
  }
  dumps_.Started(*seq);
  return absl::OkStatus();
}

absl::Status NetlinkMonitor::Process(const Handlers& handlers) {
  absl::Status first_error;
  for (int i = 0; i < kMaxDatagramsPerProcess; ++i) {
    absl::StatusOr<size_t> got = events_.Receive(buffer_);
    if (absl::IsResourceExhausted(got.status())) {
      OnOverrun();
      continue;
    }
    if (!got.ok()) return got.status();
    if (*got == 0) break;
    first_error.Update(ProcessDatagram({buffer_.data(), *got}, handlers));
  }
  return first_error;
}

void NetlinkMonitor::OnOverrun() {
  // The kernel dropped events we can never see again (netlink multicast is
  // unreliable by design, RFC 3549): replay the tables.
  ++overruns_;
  spdlog::warn("netlink: event queue overrun #{}, replaying neighbour and address tables",
               overruns_);
  if (absl::Status status = RequestDump(); !status.ok()) {
    spdlog::error("netlink: cannot request a resync dump: {}", status.ToString());
  }
}

absl::Status NetlinkMonitor::ProcessDatagram(std::span<const char> datagram,
                                             const Handlers& handlers) {
  return rtnl::ForEachMessage(datagram,
                              [&](const nlmsghdr& nlh) { return Dispatch(nlh, handlers); });
}

absl::Status NetlinkMonitor::Dispatch(const nlmsghdr& nlh, const Handlers& handlers) {
  // The table changed while our dump walked it: what we got may be
  // inconsistent, so replay again once this dump ends.
  if ((nlh.nlmsg_flags & NLM_F_DUMP_INTR) != 0 && dumps_.IsRunning(nlh.nlmsg_seq)) {
    (void)dumps_.Request();  // a dump is running, so nothing to send now
  }
  switch (nlh.nlmsg_type) {
    case NLMSG_DONE:
    case NLMSG_ERROR:
      return OnDumpEnd(nlh);
    case RTM_NEWNEIGH:
    case RTM_DELNEIGH:
      DeliverNeighbor(nlh, handlers);
      break;
    case RTM_NEWADDR:
    case RTM_DELADDR:
      DeliverAddress(nlh, handlers);
      break;
    case RTM_NEWLINK:
    case RTM_DELLINK:
      DeliverLink(nlh, handlers);
      break;
    default:
      break;  // NLMSG_NOOP and types we did not subscribe to
  }
  return absl::OkStatus();
}

absl::Status NetlinkMonitor::OnDumpEnd(const nlmsghdr& nlh) {
  if (nlh.nlmsg_pid != events_.port_id() || !dumps_.IsRunning(nlh.nlmsg_seq)) {
    return absl::OkStatus();
  }
  if (IsQueueFullError(nlh)) {
    // The dump could not start because our queue was full; the kernel keeps
    // it running (cb_running in net/netlink/af_netlink.c) and resumes it as
    // soon as we read, ending with NLMSG_DONE as usual. Rare: the error ack
    // is itself usually dropped on a full queue.
    return absl::OkStatus();
  }
  const absl::Status outcome = nlh.nlmsg_type == NLMSG_DONE ? rtnl::StatusFromDoneMessage(nlh)
                                                            : rtnl::StatusFromErrorMessage(nlh);
  absl::Status next = StartDump(dumps_.Finished(nlh.nlmsg_seq));
  if (!outcome.ok()) return rtnl::WithContext(outcome, "netlink dump");
  return next;
}

void NetlinkMonitor::DeliverNeighbor(const nlmsghdr& nlh, const Handlers& handlers) {
  absl::StatusOr<std::optional<NeighborEvent>> event = rtnl::ParseNeighbor(nlh);
  if (!event.ok()) {
    CountMalformed(nlh, event.status());
    return;
  }
  if (event->has_value() && handlers.neighbor) handlers.neighbor(**event);
}

void NetlinkMonitor::DeliverAddress(const nlmsghdr& nlh, const Handlers& handlers) {
  absl::StatusOr<std::optional<AddressEvent>> event = rtnl::ParseAddress(nlh);
  if (!event.ok()) {
    CountMalformed(nlh, event.status());
    return;
  }
  if (event->has_value() && handlers.address) handlers.address(**event);
}

void NetlinkMonitor::DeliverLink(const nlmsghdr& nlh, const Handlers& handlers) {
  absl::StatusOr<std::optional<LinkInfo>> link = rtnl::ParseLink(nlh);
  if (!link.ok()) {
    CountMalformed(nlh, link.status());
    return;
  }
  if (link->has_value() && handlers.link) {
    handlers.link(**link, nlh.nlmsg_type == RTM_DELLINK);
  }
}

void NetlinkMonitor::CountMalformed(const nlmsghdr& nlh, const absl::Status& status) {
  ++malformed_messages_;
  spdlog::warn("netlink: skipping malformed message type {} ({} bytes): {}", nlh.nlmsg_type,
               nlh.nlmsg_len, status.ToString());
}

absl::StatusOr<std::optional<NeighborEvent>> NetlinkMonitor::LookupNeighbor(int ifindex,
                                                                            Ipv4Addr ip) {
  rtnl::RtnlRequest request(RTM_GETNEIGH, 0);
  auto* ndm = request.AddHeader<ndmsg>();
  ndm->ndm_family = AF_INET;
  ndm->ndm_ifindex = ifindex;
  request.PutIpv4(NDA_DST, ip);
  std::optional<NeighborEvent> found;
  absl::Status status = requests_.Query(request, [&](const nlmsghdr& nlh) -> absl::Status {
    if (nlh.nlmsg_type != RTM_NEWNEIGH) return absl::OkStatus();
    absl::StatusOr<std::optional<NeighborEvent>> event = rtnl::ParseNeighbor(nlh);
    if (!event.ok()) return event.status();
    found = *event;
    return absl::OkStatus();
  });
  // ENOENT: no entry yet, the usual case for a next hop never used.
  if (absl::IsNotFound(status)) return std::nullopt;
  if (!status.ok()) return status;
  return found;
}

absl::Status NetlinkMonitor::ResolveNeighbor(int ifindex, Ipv4Addr ip) {
  if (ifindex <= 0) {
    return absl::InvalidArgumentError(absl::StrFormat("bad ifindex %d", ifindex));
  }
  absl::StatusOr<std::optional<NeighborEvent>> existing = LookupNeighbor(ifindex, ip);
  if (!existing.ok()) return rtnl::WithContext(existing.status(), Describe(ifindex, ip));
  if (existing->has_value() && ((*existing)->state & kStaticNeighborStates) != 0) {
    return absl::OkStatus();
  }
  // CREATE so a first use makes an entry; REPLACE as `ip neigh replace`.
  // With NTF_USE the kernel keeps an entry's state and address and only
  // starts resolution (verified on 6.x: a REACHABLE entry stays REACHABLE).
  rtnl::RtnlRequest request(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE);
  auto* ndm = request.AddHeader<ndmsg>();
  ndm->ndm_family = AF_INET;
  ndm->ndm_ifindex = ifindex;
  ndm->ndm_state = NUD_NONE;
  ndm->ndm_flags = NTF_USE;
  request.PutIpv4(NDA_DST, ip);
  return rtnl::WithContext(requests_.Execute(request), Describe(ifindex, ip));
}

}  // namespace isthmus
