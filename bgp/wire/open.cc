// OPEN messages (RFC 4271 4.2) and their capabilities (RFC 5492).

#include "absl/strings/str_cat.h"
#include "bgp/wire/codec_internal.h"

namespace isthmus::bgp::wire_internal {
namespace {

constexpr uint16_t kMinHoldTime = 3;  // RFC 4271 4.2: zero or at least three
constexpr size_t kFourOctetAsCapSize = 4;
constexpr size_t kMpCapSize = 4;
constexpr size_t kGrHeaderSize = 2;
constexpr size_t kGrTupleSize = 4;
constexpr uint16_t kGrRestartBit = 0x8000;
constexpr uint16_t kGrNotificationBit = 0x4000;   // RFC 8538 2
constexpr uint16_t kGrTimeMask = 0x0fff;
constexpr uint8_t kGrForwardingBit = 0x80;

// Capability (RFC 5492 4):  +------+--------+-----------------+
//                           | code | length | value (length)  |
//                           +------+--------+-----------------+
// Returns why a capability we know is malformed, or nullopt.
std::optional<std::string> DecodeCapability(uint8_t code, ByteReader v, Capabilities* caps) {
  RawCapability raw{code, {v.current(), v.current() + v.remaining()}};
  switch (code) {
    case kCapMultiprotocol: {
      // AFI (2), reserved (1), SAFI (1).
      uint16_t afi = 0;
      uint8_t reserved = 0, safi = 0;
      if (v.remaining() != kMpCapSize) return "multiprotocol capability length";
      (void)v.ReadU16(&afi);
      (void)v.ReadU8(&reserved);
      (void)v.ReadU8(&safi);
      if (afi == kAfiIpv4 && safi == kSafiUnicast) {
        caps->mp_ipv4_unicast = true;
        return std::nullopt;
      }
      break;  // another family: kept as unknown
    }
    case kCapRouteRefresh:
    case kCapEnhancedRouteRefresh:
      if (!v.empty()) return "route refresh capability length";
      (code == kCapRouteRefresh ? caps->route_refresh : caps->enhanced_route_refresh) = true;
      return std::nullopt;
    case kCapFourOctetAs: {
      uint32_t asn = 0;
      if (v.remaining() != kFourOctetAsCapSize) return "4-octet AS capability length";
      (void)v.ReadU32(&asn);
      caps->four_octet_as = asn;
      return std::nullopt;
    }
    case kCapGracefulRestart: {
      // Restart flags (4 bits) + time (12 bits), then (AFI, SAFI, flags) tuples.
      uint16_t head = 0;
      if (v.remaining() < kGrHeaderSize || (v.remaining() - kGrHeaderSize) % kGrTupleSize != 0) {
        return "graceful restart capability length";
      }
      (void)v.ReadU16(&head);
      GracefulRestartCap gr;
      gr.restart_state = (head & kGrRestartBit) != 0;
      gr.notification = (head & kGrNotificationBit) != 0;
      gr.restart_time = head & kGrTimeMask;
      uint16_t afi = 0;
      uint8_t safi = 0, flags = 0;
      while (v.ReadU16(&afi) && v.ReadU8(&safi) && v.ReadU8(&flags)) {
        if (afi == kAfiIpv4 && safi == kSafiUnicast) {
          gr.ipv4_unicast = true;
          gr.forwarding_preserved = (flags & kGrForwardingBit) != 0;
        }
      }
      caps->graceful_restart = gr;
      return std::nullopt;
    }
    default:
      break;
  }
  caps->unknown.push_back(std::move(raw));
  return std::nullopt;
}

std::optional<std::string> DecodeCapabilities(ByteReader v, Capabilities* caps) {
  while (!v.empty()) {
    uint8_t code = 0, length = 0;
    ByteReader value;
    if (!v.ReadU8(&code) || !v.ReadU8(&length) || !v.ReadSub(length, &value)) {
      return "capability runs past its optional parameter";
    }
    if (auto bad = DecodeCapability(code, value, caps)) return bad;
  }
  return std::nullopt;
}

// Optional parameters (RFC 4271 4.2, RFC 9072 2 for the extended form):
//   +------------+---------------+-------------------+
//   | type (1)   | length (1|2)  | value (length)    |
//   +------------+---------------+-------------------+
void DecodeOptionalParameters(ByteReader params, bool extended, OpenMessage* m, ErrorLog* log) {
  while (!params.empty()) {
    uint8_t type = 0, short_len = 0;
    uint16_t length = 0;
    ByteReader value;
    const bool ok = params.ReadU8(&type) &&
                    (extended ? params.ReadU16(&length) : params.ReadU8(&short_len));
    if (!extended) length = short_len;
    if (!ok || !params.ReadSub(length, &value)) {
      log->Reset(kErrOpen, kOpenUnspecific, {}, "optional parameter overruns its field");
      return;
    }
    if (type != kOptParamCapabilities) {
      log->Reset(kErrOpen, kOpenUnsupportedOptionalParameter, {},
                 absl::StrCat("unsupported optional parameter ", type));
      return;
    }
    if (auto bad = DecodeCapabilities(value, &m->caps)) {
      log->Reset(kErrOpen, kOpenUnspecific, {}, absl::StrCat("malformed capability: ", *bad));
      return;
    }
  }
}

// RFC 4271 6.2 checks that need no configuration; the peer AS and our own
// identifier are compared by the session.
void CheckOpen(const OpenMessage& m, ErrorLog* log) {
  if (m.my_as == 0 || (m.caps.four_octet_as && *m.caps.four_octet_as == 0)) {
    log->Reset(kErrOpen, kOpenBadPeerAs, {}, "peer AS 0 (RFC 7607)");
  }
  if (m.hold_time != 0 && m.hold_time < kMinHoldTime) {
    log->Reset(kErrOpen, kOpenUnacceptableHoldTime, {},
               absl::StrCat("hold time ", m.hold_time, " s"));
  }
  if (m.bgp_id.value == 0) log->Reset(kErrOpen, kOpenBadBgpId, {}, "BGP identifier 0 (RFC 6286)");
}

}  // namespace

//   +-----------+---------------+---------------+----------------+
//   | version 1 | my AS (2)     | hold time (2) | BGP id (4)     |
//   +-----------+---------------+---------------+----------------+
//   | opt param length (1) | optional parameters (variable)      |
//   +------------------------------------------------------------+
void DecodeOpen(ByteReader body, DecodeResult* result) {
  ErrorLog log;
  OpenMessage m;
  uint8_t params_len = 0;
  (void)body.ReadU8(&m.version);
  if (m.version != kBgpVersion) {
    // Data: the largest version we support (RFC 4271 6.2).
    log.Reset(kErrOpen, kOpenUnsupportedVersion, {0, kBgpVersion},
              absl::StrCat("unsupported version ", m.version));
  } else if (!body.ReadU16(&m.my_as) || !body.ReadU16(&m.hold_time) ||
             !body.ReadU32(&m.bgp_id.value) || !body.ReadU8(&params_len)) {
    log.Reset(kErrMessageHeader, kHeaderBadLength, {}, "truncated OPEN");
  } else {
    // RFC 9072 2: a length of 255 followed by type 255 announces 2-octet lengths.
    uint8_t marker = 0;
    uint16_t ext_len = 0;
    ByteReader probe = body;
    const bool extended = params_len == kOptParamExtendedLength && probe.ReadU8(&marker) &&
                          marker == kOptParamExtendedLength && probe.ReadU16(&ext_len);
    if (extended) body = probe;
    ByteReader params;
    if (!body.ReadSub(extended ? ext_len : params_len, &params) || !body.empty()) {
      log.Reset(kErrOpen, kOpenUnspecific, {},
                "optional parameters length does not match the message");
    } else {
      DecodeOptionalParameters(params, extended, &m, &log);
      CheckOpen(m, &log);
    }
  }
  result->action = log.action;
  result->problems = std::move(log.problems);
  result->notification = std::move(log.notification);
  if (log.action != ErrorAction::kSessionReset) result->message = std::move(m);
}

namespace {
void PutCapability(uint8_t code, const std::vector<uint8_t>& value, ByteWriter* w) {
  w->PutU8(code);
  w->PutU8(static_cast<uint8_t>(value.size()));
  w->PutBytes(value);
}

std::vector<uint8_t> GracefulRestartValue(const GracefulRestartCap& gr) {
  std::vector<uint8_t> v;
  ByteWriter w(&v);
  uint16_t head = gr.restart_time & kGrTimeMask;
  if (gr.restart_state) head |= kGrRestartBit;
  if (gr.notification) head |= kGrNotificationBit;
  w.PutU16(head);
  if (gr.ipv4_unicast) {
    w.PutU16(kAfiIpv4);
    w.PutU8(kSafiUnicast);
    w.PutU8(gr.forwarding_preserved ? kGrForwardingBit : 0);
  }
  return v;
}
}  // namespace

void EncodeOpen(const OpenMessage& m, ByteWriter* w) {
  std::vector<uint8_t> caps;
  ByteWriter cw(&caps);
  if (m.caps.mp_ipv4_unicast) PutCapability(kCapMultiprotocol, {0, kAfiIpv4, 0, kSafiUnicast}, &cw);
  if (m.caps.route_refresh) PutCapability(kCapRouteRefresh, {}, &cw);
  if (m.caps.graceful_restart) {
    PutCapability(kCapGracefulRestart, GracefulRestartValue(*m.caps.graceful_restart), &cw);
  }
  if (m.caps.four_octet_as) {
    std::vector<uint8_t> v;
    ByteWriter(&v).PutU32(*m.caps.four_octet_as);
    PutCapability(kCapFourOctetAs, v, &cw);
  }
  if (m.caps.enhanced_route_refresh) PutCapability(kCapEnhancedRouteRefresh, {}, &cw);
  for (const RawCapability& raw : m.caps.unknown) PutCapability(raw.code, raw.value, &cw);

  w->PutU8(m.version);
  w->PutU16(m.my_as);
  w->PutU16(m.hold_time);
  w->PutU32(m.bgp_id.value);
  // One Capabilities parameter (RFC 5492 4); RFC 9072 form when it is long.
  constexpr size_t kParamHeader = 2;
  if (caps.empty()) {
    w->PutU8(0);
  } else if (caps.size() + kParamHeader < kOptParamExtendedLength) {
    w->PutU8(static_cast<uint8_t>(caps.size() + kParamHeader));
    w->PutU8(kOptParamCapabilities);
    w->PutU8(static_cast<uint8_t>(caps.size()));
    w->PutBytes(caps);
  } else {
    w->PutU8(kOptParamExtendedLength);
    w->PutU8(kOptParamExtendedLength);
    w->PutU16(static_cast<uint16_t>(caps.size() + 3));
    w->PutU8(kOptParamCapabilities);
    w->PutU16(static_cast<uint16_t>(caps.size()));
    w->PutBytes(caps);
  }
}

}  // namespace isthmus::bgp::wire_internal
