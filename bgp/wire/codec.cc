// Message framing (RFC 4271 4.1, 6.1) and the small messages: NOTIFICATION
// (4.5), KEEPALIVE (4.4) and ROUTE-REFRESH (RFC 2918 3, RFC 7313 3).

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bgp/wire/codec_internal.h"

namespace isthmus::bgp {
namespace {

using wire_internal::ErrorLog;

constexpr uint8_t kMarkerByte = 0xff;
constexpr size_t kLengthOffset = kMarkerSize;
constexpr size_t kTypeOffset = kMarkerSize + 2;
constexpr size_t kMaxDescribedDataBytes = 16;

// RFC 4271 6.1: a length below what the type needs is a Bad Message Length.
bool LengthFitsType(uint8_t type, size_t length) {
  switch (static_cast<MessageType>(type)) {
    case MessageType::kOpen: return length >= kMinOpenSize;
    case MessageType::kUpdate: return length >= kMinUpdateSize;
    case MessageType::kNotification: return length >= kMinNotificationSize;
    case MessageType::kKeepalive: return length == kKeepaliveSize;
    case MessageType::kRouteRefresh: return length >= kRouteRefreshSize;
  }
  return false;
}

bool IsKnownType(uint8_t type) {
  return type >= static_cast<uint8_t>(MessageType::kOpen) &&
         type <= static_cast<uint8_t>(MessageType::kRouteRefresh);
}

//   +-----------------------------------------------+
//   | Marker (16 octets, all ones)                  |
//   +-----------------------+-----------+-----------+
//   | Length (2)            | Type (1)  |
//   +-----------------------+-----------+
std::optional<NotificationMessage> CheckHeader(const uint8_t* data, uint16_t length) {
  if (!std::all_of(data, data + kMarkerSize, [](uint8_t b) { return b == kMarkerByte; })) {
    return NotificationMessage{kErrMessageHeader, kHeaderNotSynchronized, {}};
  }
  const uint8_t type = data[kTypeOffset];
  const std::vector<uint8_t> length_field(data + kLengthOffset, data + kTypeOffset);
  if (length < kHeaderSize || length > kMaxMessageSize) {
    return NotificationMessage{kErrMessageHeader, kHeaderBadLength, length_field};
  }
  if (!IsKnownType(type)) return NotificationMessage{kErrMessageHeader, kHeaderBadType, {type}};
  if (!LengthFitsType(type, length)) {
    return NotificationMessage{kErrMessageHeader, kHeaderBadLength, length_field};
  }
  return std::nullopt;
}

//   +-----------+-------------+----------------------+
//   | code (1)  | subcode (1) | data (variable)      |
//   +-----------+-------------+----------------------+
void DecodeNotification(ByteReader body, DecodeResult* result) {
  NotificationMessage n;
  (void)body.ReadU8(&n.code);
  (void)body.ReadU8(&n.subcode);
  (void)body.ReadBytes(body.remaining(), &n.data);
  result->message = std::move(n);
}

//   +----------+-------------+----------+
//   | AFI (2)  | subtype (1) | SAFI (1) |
//   +----------+-------------+----------+
void DecodeRouteRefresh(const uint8_t* data, size_t size, ByteReader body, DecodeResult* result) {
  if (size != kRouteRefreshSize) {
    // RFC 7313 5: the data is the whole offending message.
    result->action = ErrorAction::kSessionReset;
    result->notification = NotificationMessage{kErrRouteRefresh, kRouteRefreshInvalidLength,
                                               std::vector<uint8_t>(data, data + size)};
    result->problems.push_back(absl::StrCat("ROUTE-REFRESH of ", size, " bytes"));
    return;
  }
  RouteRefreshMessage rr;
  (void)body.ReadU16(&rr.afi);
  (void)body.ReadU8(&rr.subtype);
  (void)body.ReadU8(&rr.safi);
  if (rr.subtype > kRouteRefreshEnd) {
    result->problems.push_back(
        absl::StrCat("ROUTE-REFRESH subtype ", rr.subtype, " is undefined: ignore (RFC 7313 5)"));
  }
  result->message = rr;
}

std::string_view ErrorCodeName(uint8_t code) {
  switch (code) {
    case kErrMessageHeader: return "Message Header Error";
    case kErrOpen: return "OPEN Message Error";
    case kErrUpdate: return "UPDATE Message Error";
    case kErrHoldTimerExpired: return "Hold Timer Expired";
    case kErrFsm: return "Finite State Machine Error";
    case kErrCease: return "Cease";
    case kErrRouteRefresh: return "ROUTE-REFRESH Message Error";
    default: return "";
  }
}

std::string_view SubcodeName(uint8_t code, uint8_t subcode) {
  static constexpr std::string_view kHeader[] = {"", "Connection Not Synchronized",
                                                 "Bad Message Length", "Bad Message Type"};
  static constexpr std::string_view kOpen[] = {
      "Unspecific", "Unsupported Version Number", "Bad Peer AS", "Bad BGP Identifier",
      "Unsupported Optional Parameter", "", "Unacceptable Hold Time",
      "Unsupported Capability", "", "", "", "Role Mismatch"};
  static constexpr std::string_view kUpdate[] = {
      "", "Malformed Attribute List", "Unrecognized Well-known Attribute",
      "Missing Well-known Attribute", "Attribute Flags Error", "Attribute Length Error",
      "Invalid ORIGIN Attribute", "", "Invalid NEXT_HOP Attribute", "Optional Attribute Error",
      "Invalid Network Field", "Malformed AS_PATH"};
  static constexpr std::string_view kFsm[] = {
      "Unspecified", "Unexpected Message in OpenSent", "Unexpected Message in OpenConfirm",
      "Unexpected Message in Established"};
  static constexpr std::string_view kCease[] = {
      "", "Maximum Number of Prefixes Reached", "Administrative Shutdown",
      "Peer De-configured", "Administrative Reset", "Connection Rejected",
      "Other Configuration Change", "Connection Collision Resolution", "Out of Resources",
      "Hard Reset", "BFD Down"};
  static constexpr std::string_view kRouteRefresh[] = {"", "Invalid Message Length"};
  auto pick = [subcode](const auto& names) -> std::string_view {
    return subcode < std::size(names) ? names[subcode] : std::string_view();
  };
  switch (code) {
    case kErrMessageHeader: return pick(kHeader);
    case kErrOpen: return pick(kOpen);
    case kErrUpdate: return pick(kUpdate);
    case kErrFsm: return pick(kFsm);
    case kErrCease: return pick(kCease);
    case kErrRouteRefresh: return pick(kRouteRefresh);
    default: return "";
  }
}

bool CarriesShutdownCommunication(uint8_t code, uint8_t subcode) {
  return code == kErrCease && (subcode == kCeaseAdminShutdown || subcode == kCeaseAdminReset);
}

std::string HexBytes(const std::vector<uint8_t>& data) {
  std::string out;
  const size_t n = std::min(data.size(), kMaxDescribedDataBytes);
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out.push_back(' ');
    absl::StrAppendFormat(&out, "%02x", data[i]);
  }
  if (data.size() > n) absl::StrAppend(&out, " ...");
  return out;
}

// RFC 9003 2: one length octet, then that many octets of UTF-8.
std::optional<std::string> ShutdownCommunication(const std::vector<uint8_t>& data) {
  if (data.empty() || data[0] == 0 || data.size() != 1u + data[0]) return std::nullopt;
  return std::string(data.begin() + 1, data.end());
}

std::string DescribeCodes(uint8_t code, uint8_t subcode) {
  std::string_view code_name = ErrorCodeName(code);
  std::string_view sub_name = SubcodeName(code, subcode);
  return absl::StrCat(code_name.empty() ? absl::StrCat("code ", code) : std::string(code_name),
                      "/",
                      sub_name.empty() ? absl::StrCat("subcode ", subcode) : std::string(sub_name));
}

}  // namespace

Asn OpenMessage::AsnOf() const { return caps.four_octet_as.value_or(my_as); }

MessageType TypeOf(const Message& m) {
  return static_cast<MessageType>(m.index() + static_cast<size_t>(MessageType::kOpen));
}

std::string_view ToString(MessageType t) {
  switch (t) {
    case MessageType::kOpen: return "OPEN";
    case MessageType::kUpdate: return "UPDATE";
    case MessageType::kNotification: return "NOTIFICATION";
    case MessageType::kKeepalive: return "KEEPALIVE";
    case MessageType::kRouteRefresh: return "ROUTE-REFRESH";
  }
  return "UNKNOWN";
}

std::string_view ToString(ErrorAction a) {
  switch (a) {
    case ErrorAction::kNone: return "none";
    case ErrorAction::kAttributeDiscard: return "attribute-discard";
    case ErrorAction::kTreatAsWithdraw: return "treat-as-withdraw";
    case ErrorAction::kAfiSafiDisable: return "afi-safi-disable";
    case ErrorAction::kSessionReset: return "session-reset";
  }
  return "unknown";
}

std::string AttributeName(uint8_t type) { return wire_internal::AttributeNameImpl(type); }

Frame PeekFrame(const uint8_t* data, size_t size) {
  Frame frame;
  if (size < kHeaderSize) return frame;
  const uint16_t length = static_cast<uint16_t>(data[kLengthOffset] << 8 | data[kLengthOffset + 1]);
  frame.error = CheckHeader(data, length);
  if (!frame.error && size >= length) frame.length = length;
  return frame;
}

DecodeResult Decode(const uint8_t* data, size_t size, const CodecContext& ctx) {
  DecodeResult result;
  std::optional<NotificationMessage> header_error;
  if (size < kHeaderSize) {
    header_error = NotificationMessage{kErrMessageHeader, kHeaderBadLength, {}};
  } else {
    const uint16_t length =
        static_cast<uint16_t>(data[kLengthOffset] << 8 | data[kLengthOffset + 1]);
    header_error = CheckHeader(data, length);
    if (!header_error && length != size) {
      header_error = NotificationMessage{kErrMessageHeader, kHeaderBadLength,
                                         {data[kLengthOffset], data[kLengthOffset + 1]}};
    }
  }
  if (header_error) {
    result.action = ErrorAction::kSessionReset;
    result.problems.push_back(absl::StrCat("bad header: ", Describe(*header_error)));
    result.notification = std::move(header_error);
    return result;
  }
  ByteReader body(data + kHeaderSize, size - kHeaderSize);
  switch (static_cast<MessageType>(data[kTypeOffset])) {
    case MessageType::kOpen: wire_internal::DecodeOpen(body, &result); break;
    case MessageType::kUpdate: wire_internal::DecodeUpdate(body, ctx, &result); break;
    case MessageType::kNotification: DecodeNotification(body, &result); break;
    case MessageType::kKeepalive: result.message = KeepaliveMessage{}; break;
    case MessageType::kRouteRefresh: DecodeRouteRefresh(data, size, body, &result); break;
  }
  return result;
}

std::vector<uint8_t> Encode(const Message& m, const CodecContext& ctx) {
  std::vector<uint8_t> out;
  ByteWriter w(&out);
  wire_internal::BeginMessage(TypeOf(m), &w);
  if (const auto* open = std::get_if<OpenMessage>(&m)) {
    wire_internal::EncodeOpen(*open, &w);
  } else if (const auto* update = std::get_if<UpdateMessage>(&m)) {
    wire_internal::EncodeUpdateBody(*update, ctx, &w);
  } else if (const auto* n = std::get_if<NotificationMessage>(&m)) {
    w.PutU8(n->code);
    w.PutU8(n->subcode);
    w.PutBytes(n->data);
  } else if (const auto* rr = std::get_if<RouteRefreshMessage>(&m)) {
    w.PutU16(rr->afi);
    w.PutU8(rr->subtype);
    w.PutU8(rr->safi);
  }
  wire_internal::FinishMessage(&out);
  return out;
}

std::string Describe(const NotificationMessage& n) {
  std::string text = DescribeCodes(n.code, n.subcode);
  if (CarriesShutdownCommunication(n.code, n.subcode)) {
    if (auto message = ShutdownCommunication(n.data)) {
      return absl::StrCat(text, ": \"", *message, "\"");
    }
  }
  if (n.code == kErrCease && n.subcode == kCeaseHardReset && n.data.size() >= 2) {
    // RFC 8538 3: the data is the NOTIFICATION that caused the hard reset.
    NotificationMessage inner{n.data[0], n.data[1], {n.data.begin() + 2, n.data.end()}};
    return absl::StrCat(text, " (", Describe(inner), ")");
  }
  if (!n.data.empty()) absl::StrAppend(&text, " (data: ", HexBytes(n.data), ")");
  return text;
}

NotificationMessage MakeCease(uint8_t subcode, std::string_view reason) {
  NotificationMessage n{kErrCease, subcode, {}};
  if (CarriesShutdownCommunication(kErrCease, subcode) && !reason.empty()) {
    const size_t len = std::min(reason.size(), kMaxShutdownCommunication);
    n.data.assign(len + 1, static_cast<uint8_t>(len));
    std::copy(reason.begin(), reason.begin() + len, n.data.begin() + 1);
  }
  return n;
}

namespace wire_internal {

void BeginMessage(MessageType type, ByteWriter* w) {
  for (size_t i = 0; i < kMarkerSize; ++i) w->PutU8(kMarkerByte);
  w->PutU16(0);
  w->PutU8(static_cast<uint8_t>(type));
}

void FinishMessage(std::vector<uint8_t>* out) {
  ByteWriter(out).PatchU16(kLengthOffset, static_cast<uint16_t>(out->size()));
}

}  // namespace wire_internal
}  // namespace isthmus::bgp
