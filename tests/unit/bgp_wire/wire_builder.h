#pragma once
// Builds raw BGP messages byte by byte for tests, independently of the
// encoder under test: lengths are computed, never typed in.

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "bgp/wire/constants.h"

namespace isthmus::bgp::testing {

using Bytes = std::vector<uint8_t>;

inline void Append(Bytes* out, const Bytes& more) { out->insert(out->end(), more.begin(), more.end()); }
inline Bytes U16(uint16_t v) { return {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}; }
inline Bytes U32(uint32_t v) {
  return {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
          static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
}
inline Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) Append(&out, p);
  return out;
}

// Header + body; `length_override` forces a wrong length field.
inline Bytes Msg(uint8_t type, const Bytes& body, int length_override = -1) {
  Bytes out(kMarkerSize, 0xff);
  const size_t length = length_override >= 0 ? static_cast<size_t>(length_override)
                                             : kHeaderSize + body.size();
  Append(&out, U16(static_cast<uint16_t>(length)));
  out.push_back(type);
  Append(&out, body);
  return out;
}

// One path attribute; the Extended Length bit picks a 2-octet length.
inline Bytes Attr(uint8_t flags, uint8_t type, const Bytes& value) {
  Bytes out{flags, type};
  if (flags & kAttrExtendedLength) {
    Append(&out, U16(static_cast<uint16_t>(value.size())));
  } else {
    out.push_back(static_cast<uint8_t>(value.size()));
  }
  Append(&out, value);
  return out;
}

// Prefix in NLRI encoding: a.b.c.d/len.
inline Bytes Prefix(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint8_t len) {
  Bytes out{len};
  const uint8_t octets[] = {a, b, c, d};
  for (size_t i = 0; i < (len + 7u) / 8u; ++i) out.push_back(octets[i]);
  return out;
}

inline Bytes UpdateBody(const Bytes& withdrawn, const Bytes& attrs, const Bytes& nlri) {
  return Cat({U16(static_cast<uint16_t>(withdrawn.size())), withdrawn,
              U16(static_cast<uint16_t>(attrs.size())), attrs, nlri});
}
inline Bytes Update(const Bytes& withdrawn, const Bytes& attrs, const Bytes& nlri) {
  return Msg(2, UpdateBody(withdrawn, attrs, nlri));
}

// Frequently used valid attributes.
inline Bytes OriginIgp() { return Attr(kWellKnown, kAttrOrigin, {0}); }
inline Bytes AsPath4(std::initializer_list<uint32_t> asns) {
  Bytes v{2, static_cast<uint8_t>(asns.size())};
  for (uint32_t a : asns) Append(&v, U32(a));
  return Attr(kWellKnown, kAttrAsPath, v);
}
inline Bytes AsPath2(std::initializer_list<uint16_t> asns) {
  Bytes v{2, static_cast<uint8_t>(asns.size())};
  for (uint16_t a : asns) Append(&v, U16(a));
  return Attr(kWellKnown, kAttrAsPath, v);
}
inline Bytes NextHop(uint32_t addr) { return Attr(kWellKnown, kAttrNextHop, U32(addr)); }

}  // namespace isthmus::bgp::testing
