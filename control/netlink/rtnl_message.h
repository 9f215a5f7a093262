#pragma once
// Decoders for the rtnetlink messages the adapter mirrors. Pure functions
// over a message buffer: no socket, so they are unit-tested with messages
// built by hand.
//
// Every message is a netlink header, a fixed family header, then
// type-length-value attributes (RFC 3549):
//
//   +----------------+----------------------------+-----+-----+---
//   | nlmsghdr (16)  | ndmsg / ifaddrmsg / ifinfo | TLV | TLV | ...
//   +----------------+----------------------------+-----+-----+---
//
// Each decoder returns an error for a message too short for its headers or
// with a malformed attribute, nullopt for a message this adapter does not
// mirror (another address family, proxy-ARP entries, bridge port records),
// and the decoded value otherwise.

#include <linux/netlink.h>

#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "control/netlink/netlink_types.h"

namespace isthmus::rtnl {

// RTM_NEWNEIGH / RTM_DELNEIGH (and RTM_GETNEIGH replies).
absl::StatusOr<std::optional<NeighborEvent>> ParseNeighbor(const nlmsghdr& nlh);
// RTM_NEWADDR / RTM_DELADDR, IPv4 only.
absl::StatusOr<std::optional<AddressEvent>> ParseAddress(const nlmsghdr& nlh);
// RTM_NEWLINK / RTM_DELLINK; whether it was a deletion is the message type.
absl::StatusOr<std::optional<LinkInfo>> ParseLink(const nlmsghdr& nlh);

// Whether a NUD state carries a link-layer address worth forwarding to.
bool IsUsableNeighborState(uint16_t state);

// Decodes an NLMSG_ERROR message: OK for an acknowledgement, otherwise the
// errno as a status, with the kernel's extended-ack text when it sent one.
absl::Status StatusFromErrorMessage(const nlmsghdr& nlh);
// Decodes NLMSG_DONE, whose payload is the dump's final (negative) errno.
absl::Status StatusFromDoneMessage(const nlmsghdr& nlh);

// Prefixes a status message with what was being attempted.
absl::Status WithContext(const absl::Status& status, absl::string_view context);

}  // namespace isthmus::rtnl
