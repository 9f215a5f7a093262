#pragma once
// Pieces shared by the codec's source files; not part of the public API.

#include <optional>
#include <string>
#include <vector>

#include "bgp/wire/byte_io.h"
#include "bgp/wire/message.h"

namespace isthmus::bgp::wire_internal {

// Collects every problem of one message; the worst severity wins and the
// first session-reset cause names the NOTIFICATION (RFC 7606 2).
struct ErrorLog {
  ErrorAction action = ErrorAction::kNone;
  std::optional<NotificationMessage> notification;
  std::vector<std::string> problems;

  void Raise(ErrorAction a, std::string problem) {
    if (a > action) action = a;
    problems.push_back(std::move(problem));
  }
  void Reset(uint8_t code, uint8_t subcode, std::vector<uint8_t> data, std::string problem) {
    if (!notification) notification = NotificationMessage{code, subcode, std::move(data)};
    Raise(ErrorAction::kSessionReset, std::move(problem));
  }
};

// NLRI / withdrawn-routes prefix encoding (RFC 4271 4.3):
//   +---------------------------+
//   |   Length (1 octet, bits)  |
//   +---------------------------+
//   |   Prefix (ceil(len/8))    |
//   +---------------------------+
// Returns false on a length above 32 or a truncated prefix. Host bits past
// the length are cleared.
[[nodiscard]] bool DecodePrefixes(ByteReader r, std::vector<Ipv4Prefix>* out);
size_t PrefixWireSize(const Ipv4Prefix& p);
void EncodePrefix(const Ipv4Prefix& p, ByteWriter* w);

// Whether a NEXT_HOP can be a neighbour's address (RFC 4271 6.3): not
// 0.0.0.0/8, loopback, multicast or class E / broadcast.
bool IsValidNextHop(Ipv4Addr a);

// What the path attribute block of one UPDATE held.
struct AttributeBlock {
  PathAttributes attrs;
  bool any_attribute = false;  // any attribute other than MP_UNREACH_NLRI
  bool has_origin = false, has_as_path = false, has_next_hop = false;
  bool has_mp_reach = false;
  std::optional<Ipv4Addr> mp_next_hop;
  std::vector<Ipv4Prefix> mp_reach;
  std::vector<Ipv4Prefix> mp_unreach;
};

// Decodes the Path Attributes field (without its length). Problems go to
// `log`; an attribute with an error never changes `out`.
void DecodeAttributes(ByteReader block, const CodecContext& ctx, AttributeBlock* out,
                      ErrorLog* log);
// Encodes path attributes in ascending type order. NEXT_HOP is written when
// `has_nlri` or a next hop is set.
void EncodeAttributes(const PathAttributes& attrs, const CodecContext& ctx, bool has_nlri,
                      ByteWriter* w);

std::string AttributeNameImpl(uint8_t type);

// RFC 6793 4.2.3: AS_PATH from a 2-octet speaker merged with its AS4_PATH.
AsPath MergeAs4Path(const AsPath& as_path, const AsPath& as4_path);

void DecodeOpen(ByteReader body, DecodeResult* result);
void EncodeOpen(const OpenMessage& m, ByteWriter* w);
void DecodeUpdate(ByteReader body, const CodecContext& ctx, DecodeResult* result);
void EncodeUpdateBody(const UpdateMessage& m, const CodecContext& ctx, ByteWriter* w);

// Writes the 19-octet header with a zero length to be patched by FinishMessage.
void BeginMessage(MessageType type, ByteWriter* w);
void FinishMessage(std::vector<uint8_t>* out);

}  // namespace isthmus::bgp::wire_internal
