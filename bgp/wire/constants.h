#pragma once
// Numbers from the BGP RFCs that the codec and the session share: message
// sizes, attribute type codes and flags, capability codes, and NOTIFICATION
// error codes / subcodes.

#include <cstddef>
#include <cstdint>

namespace isthmus::bgp {

// RFC 4271 4.1: 16-octet marker, 2-octet length, 1-octet type.
inline constexpr size_t kMarkerSize = 16;
inline constexpr size_t kHeaderSize = 19;
inline constexpr size_t kMaxMessageSize = 4096;  // RFC 4271 4 (no RFC 8654)
inline constexpr uint8_t kBgpVersion = 4;

// Minimum whole-message lengths (RFC 4271 4.2-4.5, RFC 2918 3).
inline constexpr size_t kMinOpenSize = 29;
inline constexpr size_t kMinUpdateSize = 23;
inline constexpr size_t kKeepaliveSize = 19;
inline constexpr size_t kMinNotificationSize = 21;
inline constexpr size_t kRouteRefreshSize = 23;

inline constexpr uint16_t kAfiIpv4 = 1;    // RFC 4760
inline constexpr uint8_t kSafiUnicast = 1;

// Path attribute flags (RFC 4271 4.3).
inline constexpr uint8_t kAttrOptional = 0x80;
inline constexpr uint8_t kAttrTransitive = 0x40;
inline constexpr uint8_t kAttrPartial = 0x20;
inline constexpr uint8_t kAttrExtendedLength = 0x10;
inline constexpr uint8_t kWellKnown = kAttrTransitive;
inline constexpr uint8_t kOptionalTransitive = kAttrOptional | kAttrTransitive;
inline constexpr uint8_t kOptionalNonTransitive = kAttrOptional;

// Path attribute type codes.
inline constexpr uint8_t kAttrOrigin = 1;
inline constexpr uint8_t kAttrAsPath = 2;
inline constexpr uint8_t kAttrNextHop = 3;
inline constexpr uint8_t kAttrMed = 4;
inline constexpr uint8_t kAttrLocalPref = 5;
inline constexpr uint8_t kAttrAtomicAggregate = 6;
inline constexpr uint8_t kAttrAggregator = 7;
inline constexpr uint8_t kAttrCommunities = 8;        // RFC 1997
inline constexpr uint8_t kAttrMpReachNlri = 14;       // RFC 4760
inline constexpr uint8_t kAttrMpUnreachNlri = 15;
inline constexpr uint8_t kAttrAs4Path = 17;           // RFC 6793
inline constexpr uint8_t kAttrAs4Aggregator = 18;
inline constexpr uint8_t kAttrLargeCommunity = 32;    // RFC 8092
inline constexpr uint8_t kAttrOtc = 35;               // RFC 9234

// OPEN optional parameters and capabilities (RFC 5492, RFC 9072).
inline constexpr uint8_t kOptParamCapabilities = 2;
inline constexpr uint8_t kOptParamExtendedLength = 255;
inline constexpr uint8_t kCapMultiprotocol = 1;        // RFC 4760
inline constexpr uint8_t kCapRouteRefresh = 2;         // RFC 2918
inline constexpr uint8_t kCapGracefulRestart = 64;     // RFC 4724
inline constexpr uint8_t kCapFourOctetAs = 65;         // RFC 6793
inline constexpr uint8_t kCapEnhancedRouteRefresh = 70;  // RFC 7313

// ROUTE-REFRESH message subtypes (RFC 7313 3).
inline constexpr uint8_t kRouteRefreshRequest = 0;
inline constexpr uint8_t kRouteRefreshBegin = 1;
inline constexpr uint8_t kRouteRefreshEnd = 2;

// NOTIFICATION error codes (RFC 4271 4.5, RFC 7313 5).
inline constexpr uint8_t kErrMessageHeader = 1;
inline constexpr uint8_t kErrOpen = 2;
inline constexpr uint8_t kErrUpdate = 3;
inline constexpr uint8_t kErrHoldTimerExpired = 4;
inline constexpr uint8_t kErrFsm = 5;
inline constexpr uint8_t kErrCease = 6;
inline constexpr uint8_t kErrRouteRefresh = 7;

// Message Header Error subcodes (RFC 4271 6.1).
inline constexpr uint8_t kHeaderNotSynchronized = 1;
inline constexpr uint8_t kHeaderBadLength = 2;
inline constexpr uint8_t kHeaderBadType = 3;

// OPEN Message Error subcodes (RFC 4271 6.2, RFC 5492, RFC 9234).
inline constexpr uint8_t kOpenUnspecific = 0;
inline constexpr uint8_t kOpenUnsupportedVersion = 1;
inline constexpr uint8_t kOpenBadPeerAs = 2;
inline constexpr uint8_t kOpenBadBgpId = 3;
inline constexpr uint8_t kOpenUnsupportedOptionalParameter = 4;
inline constexpr uint8_t kOpenUnacceptableHoldTime = 6;
inline constexpr uint8_t kOpenUnsupportedCapability = 7;
inline constexpr uint8_t kOpenRoleMismatch = 11;

// UPDATE Message Error subcodes (RFC 4271 6.3).
inline constexpr uint8_t kUpdateMalformedAttributeList = 1;
inline constexpr uint8_t kUpdateUnrecognizedWellKnown = 2;
inline constexpr uint8_t kUpdateMissingWellKnown = 3;
inline constexpr uint8_t kUpdateAttributeFlags = 4;
inline constexpr uint8_t kUpdateAttributeLength = 5;
inline constexpr uint8_t kUpdateInvalidOrigin = 6;
inline constexpr uint8_t kUpdateInvalidNextHop = 8;
inline constexpr uint8_t kUpdateOptionalAttribute = 9;
inline constexpr uint8_t kUpdateInvalidNetworkField = 10;
inline constexpr uint8_t kUpdateMalformedAsPath = 11;

// Finite State Machine Error subcodes (RFC 6608).
inline constexpr uint8_t kFsmUnspecified = 0;
inline constexpr uint8_t kFsmUnexpectedInOpenSent = 1;
inline constexpr uint8_t kFsmUnexpectedInOpenConfirm = 2;
inline constexpr uint8_t kFsmUnexpectedInEstablished = 3;

// Cease subcodes (RFC 4486, RFC 8538, RFC 9384).
inline constexpr uint8_t kCeaseMaxPrefixes = 1;
inline constexpr uint8_t kCeaseAdminShutdown = 2;
inline constexpr uint8_t kCeasePeerDeconfigured = 3;
inline constexpr uint8_t kCeaseAdminReset = 4;
inline constexpr uint8_t kCeaseConnectionRejected = 5;
inline constexpr uint8_t kCeaseOtherConfigChange = 6;
inline constexpr uint8_t kCeaseCollisionResolution = 7;
inline constexpr uint8_t kCeaseOutOfResources = 8;
inline constexpr uint8_t kCeaseHardReset = 9;
inline constexpr uint8_t kCeaseBfdDown = 10;

// ROUTE-REFRESH Message Error subcode (RFC 7313 5).
inline constexpr uint8_t kRouteRefreshInvalidLength = 1;

// RFC 9003: the shutdown communication is at most 255 octets of UTF-8.
inline constexpr size_t kMaxShutdownCommunication = 255;

}  // namespace isthmus::bgp
