#pragma once
// The BGP-4 message codec (RFC 4271) with the extensions Isthmus speaks:
// capabilities (RFC 5492), 4-octet ASNs (RFC 6793), MP-BGP for IPv4 unicast
// (RFC 4760), route refresh (RFC 2918, RFC 7313), graceful restart (RFC 4724,
// RFC 8538), communities (RFC 1997, RFC 8092) and OTC (RFC 9234).
//
// Decoding never throws and never trusts a length: every problem is reported
// in DecodeResult with its RFC 7606 severity. Pure code, no I/O.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "bgp/core/types.h"
#include "bgp/wire/constants.h"
#include "control/config/config.h"

namespace isthmus::bgp {

enum class MessageType : uint8_t {
  kOpen = 1,
  kUpdate = 2,
  kNotification = 3,
  kKeepalive = 4,
  kRouteRefresh = 5,
};

// RFC 4724 3 (with the RFC 8538 N bit). Only the IPv4 unicast tuple is kept.
struct GracefulRestartCap {
  bool restart_state = false;         // R bit
  bool notification = false;          // N bit, RFC 8538
  uint16_t restart_time = 0;          // seconds, 12 bits on the wire
  bool ipv4_unicast = false;          // an AFI 1 / SAFI 1 tuple is present
  bool forwarding_preserved = false;  // its F bit
  friend bool operator==(const GracefulRestartCap&, const GracefulRestartCap&) = default;
};

struct RawCapability {
  uint8_t code = 0;
  std::vector<uint8_t> value;
  friend bool operator==(const RawCapability&, const RawCapability&) = default;
};

struct Capabilities {
  std::optional<Asn> four_octet_as;
  bool mp_ipv4_unicast = false;
  bool route_refresh = false;
  bool enhanced_route_refresh = false;
  std::optional<GracefulRestartCap> graceful_restart;
  // Everything else, including MP capabilities for other AFI/SAFIs.
  std::vector<RawCapability> unknown;
  friend bool operator==(const Capabilities&, const Capabilities&) = default;
};

struct OpenMessage {
  uint8_t version = kBgpVersion;
  uint16_t my_as = 0;      // AS_TRANS when the real ASN does not fit
  uint16_t hold_time = 0;
  Ipv4Addr bgp_id;
  Capabilities caps;
  // The speaker's ASN: the 4-octet AS capability if present, else my_as.
  Asn AsnOf() const;
  friend bool operator==(const OpenMessage&, const OpenMessage&) = default;
};

// MP_REACH_NLRI / MP_UNREACH_NLRI for IPv4 unicast are folded into `nlri` /
// `withdrawn` on decode (the MP next hop into attrs->next_hop). `attrs` is
// empty when the message carried no path attribute other than MP_UNREACH.
struct UpdateMessage {
  std::vector<Ipv4Prefix> withdrawn;
  std::optional<PathAttributes> attrs;
  std::vector<Ipv4Prefix> nlri;
  // RFC 4724 2: an UPDATE with nothing in it (or only an empty MP_UNREACH).
  bool IsEndOfRib() const { return withdrawn.empty() && nlri.empty() && !attrs.has_value(); }
  friend bool operator==(const UpdateMessage&, const UpdateMessage&) = default;
};

struct NotificationMessage {
  uint8_t code = 0;
  uint8_t subcode = 0;
  std::vector<uint8_t> data;
  friend bool operator==(const NotificationMessage&, const NotificationMessage&) = default;
};

struct KeepaliveMessage {
  friend bool operator==(const KeepaliveMessage&, const KeepaliveMessage&) = default;
};

struct RouteRefreshMessage {
  uint16_t afi = kAfiIpv4;
  uint8_t subtype = kRouteRefreshRequest;  // 0 request, 1 BoRR, 2 EoRR (RFC 7313)
  uint8_t safi = kSafiUnicast;
  friend bool operator==(const RouteRefreshMessage&, const RouteRefreshMessage&) = default;
};

using Message = std::variant<OpenMessage, UpdateMessage, NotificationMessage, KeepaliveMessage,
                             RouteRefreshMessage>;

MessageType TypeOf(const Message& m);
std::string_view ToString(MessageType t);

// What was negotiated with the peer, as far as the encoding is concerned.
struct CodecContext {
  bool four_octet_as = true;  // both sides sent capability 65
  bool ebgp = true;           // LOCAL_PREF is neither sent nor accepted on eBGP
};

// RFC 7606 2 severities, ordered: the worst one found wins.
enum class ErrorAction : uint8_t {
  kNone,
  kAttributeDiscard,
  kTreatAsWithdraw,
  kAfiSafiDisable,  // never produced: IPv4 unicast is our only AFI/SAFI, so
                    // RFC 7606 5.3 / RFC 4760 7 reduce it to a session reset
  kSessionReset,
};
std::string_view ToString(ErrorAction a);

// kNone / kAttributeDiscard: apply `message` as it is.
// kTreatAsWithdraw: already applied to `message`: every announced prefix was
//   moved to `withdrawn` and `nlri` is empty (RFC 7606 2).
// kSessionReset: `message` is empty; send `notification` and close.
// Decoded ROUTE-REFRESH messages with a subtype above 2 are returned with a
// problem line and must be ignored (RFC 7313 5).
struct DecodeResult {
  std::optional<Message> message;
  ErrorAction action = ErrorAction::kNone;
  std::optional<NotificationMessage> notification;
  std::vector<std::string> problems;  // one human line per cause, for logs
};

// The framing layer's view of a receive buffer.
struct Frame {
  size_t length = 0;  // whole message incl. header; 0: need more bytes
  std::optional<NotificationMessage> error;  // bad marker/length/type: send and close
};

// RFC 4271 6.1 header checks on the start of a receive buffer.
Frame PeekFrame(const uint8_t* data, size_t size);

// Decodes one whole message, header included (`size` must equal its length).
DecodeResult Decode(const uint8_t* data, size_t size, const CodecContext& ctx);

// Encodes one message, header included. UPDATEs are written as given, in the
// RFC 4271 form (NLRI field and NEXT_HOP); an UPDATE bigger than 4096 bytes is
// returned as is, so use EncodeUpdates to build UPDATEs from route sets.
std::vector<uint8_t> Encode(const Message& m, const CodecContext& ctx);

// Packs withdrawals and announcements sharing `attrs` into as few UPDATEs as
// fit 4096 bytes. Messages that only withdraw carry no attributes. An empty
// input gives no message (End-of-RIB is Encode(UpdateMessage{})).
// Fails (InvalidArgument) when `nlri` is non-empty and `attrs` is null or too
// big to fit in one message with a prefix.
absl::StatusOr<std::vector<std::vector<uint8_t>>> TryEncodeUpdates(
    const std::vector<Ipv4Prefix>& withdrawn, const PathAttributes* attrs,
    const std::vector<Ipv4Prefix>& nlri, const CodecContext& ctx);
// As TryEncodeUpdates; when the announcements cannot be encoded, only the
// withdrawals are returned.
std::vector<std::vector<uint8_t>> EncodeUpdates(const std::vector<Ipv4Prefix>& withdrawn,
                                                const PathAttributes* attrs,
                                                const std::vector<Ipv4Prefix>& nlri,
                                                const CodecContext& ctx);

// "Cease/Administrative Shutdown: \"maintenance\"" (RFC 8203/9003 text if
// any); RFC 8538 Hard Reset shows the wrapped cause.
std::string Describe(const NotificationMessage& n);

// A Cease NOTIFICATION carrying an RFC 9003 shutdown communication when the
// subcode is Administrative Shutdown or Reset (reason cut to 255 octets).
NotificationMessage MakeCease(uint8_t subcode, std::string_view reason = {});

// Name of a path attribute type ("AS_PATH"; "ATTR_99" when unknown).
std::string AttributeName(uint8_t type);

}  // namespace isthmus::bgp
