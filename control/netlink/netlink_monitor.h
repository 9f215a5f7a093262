#pragma once
// Mirrors the kernel's IPv4 neighbour table, IPv4 interface addresses and
// links for the control thread, over rtnetlink (RFC 3549).
//
// Usage: Open(), add fd() to an epoll set (level-triggered), RequestDump()
// once, then call Process() whenever fd() is readable. Events and dump
// replies reach the same handlers; a dump replays the current tables, so a
// handler must treat "new" as "add or replace". When the kernel drops
// events (receive queue overrun) the monitor counts it and replays the
// tables on its own.
//
// Thread-compatible: use one monitor from one thread. Network namespaces
// are per thread: the monitor watches the namespace of the thread that
// called Open().

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "control/config/config.h"
#include "control/netlink/dump_sequencer.h"
#include "control/netlink/interface_control.h"  // GetLink() & co. come with the monitor
#include "control/netlink/netlink_types.h"
#include "control/netlink/rtnl_socket.h"

namespace isthmus {

class NetlinkMonitor {
 public:
  struct Handlers {
    std::function<void(const NeighborEvent&)> neighbor;
    std::function<void(const AddressEvent&)> address;
    std::function<void(const LinkInfo&, bool deleted)> link;
  };

  // Opens a non-blocking socket subscribed to RTNLGRP_NEIGH,
  // RTNLGRP_IPV4_IFADDR and RTNLGRP_LINK, and a second, blocking one for
  // requests so their acknowledgements never mix with the event stream.
  static absl::StatusOr<std::unique_ptr<NetlinkMonitor>> Open();

  int fd() const { return events_.fd(); }

  // Replays the IPv4 neighbour table, then the IPv4 addresses, through
  // Process(). If a replay is already running, a new one follows it.
  [[nodiscard]] absl::Status RequestDump();

  // Reads what is queued without blocking (at most kMaxDatagramsPerProcess
  // datagrams, so a flood cannot starve the caller's other work) and calls
  // the handlers; empty handlers are skipped. A receive overrun (ENOBUFS)
  // is counted and answered with a fresh dump, not an error. Malformed
  // messages are counted, logged and skipped.
  [[nodiscard]] absl::Status Process(const Handlers& handlers);

  // Asks the kernel to resolve `ip` on `ifindex` (RFC 826): an RTM_NEWNEIGH
  // with NTF_USE makes it run neigh_event_send(), which sends the ARP
  // request or re-validates a STALE entry. The outcome arrives later as a
  // NeighborEvent. PERMANENT and NOARP entries are left alone: on Linux 6.x
  // NTF_USE strips NUD_PERMANENT and would turn a static entry INCOMPLETE.
  [[nodiscard]] absl::Status ResolveNeighbor(int ifindex, Ipv4Addr ip);

  uint64_t overruns() const { return overruns_; }
  uint64_t malformed_messages() const { return malformed_messages_; }

  static constexpr int kMaxDatagramsPerProcess = 4096;

 private:
  NetlinkMonitor(rtnl::RtnlSocket events, rtnl::RtnlSocket requests)
      : events_(std::move(events)),
        requests_(std::move(requests)),
        buffer_(rtnl::kReceiveBufferBytes) {}

  absl::Status StartDump(std::optional<rtnl::DumpKind> kind);
  absl::Status ProcessDatagram(std::span<const char> datagram, const Handlers& handlers);
  absl::Status Dispatch(const nlmsghdr& nlh, const Handlers& handlers);
  absl::Status OnDumpEnd(const nlmsghdr& nlh);
  void OnOverrun();
  void DeliverNeighbor(const nlmsghdr& nlh, const Handlers& handlers);
  void DeliverAddress(const nlmsghdr& nlh, const Handlers& handlers);
  void DeliverLink(const nlmsghdr& nlh, const Handlers& handlers);
  void CountMalformed(const nlmsghdr& nlh, const absl::Status& status);
  absl::StatusOr<std::optional<NeighborEvent>> LookupNeighbor(int ifindex, Ipv4Addr ip);

  rtnl::RtnlSocket events_;
  rtnl::RtnlSocket requests_;
  rtnl::DumpSequencer dumps_;
  std::vector<char> buffer_;
  uint64_t overruns_ = 0;
  uint64_t malformed_messages_ = 0;
};

}  // namespace isthmus
