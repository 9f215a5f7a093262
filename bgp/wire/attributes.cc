// Path attributes (RFC 4271 4.3, 5) in one table, BIRD style: each entry has
// the expected flags, its RFC 7606 severity when malformed, a decoder and an
// encoder. Decoders parse into locals and commit only when the whole value is
// valid, so an attribute that is discarded leaves no trace.

#include <algorithm>
#include <array>
#include <bitset>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bgp/wire/codec_internal.h"

namespace isthmus::bgp::wire_internal {
namespace {

constexpr size_t kAsn2Size = 2;
constexpr size_t kAsn4Size = 4;
constexpr size_t kMaxSegmentAsns = 255;
constexpr size_t kAggregator2Size = 6;
constexpr size_t kAggregator4Size = 8;
constexpr size_t kCommunitySize = 4;
constexpr size_t kLargeCommunitySize = 12;
constexpr size_t kOtcSize = 4;
constexpr size_t kIpv4Size = 4;
constexpr size_t kMaxShortLength = 255;
constexpr uint16_t kAsnMax2Octet = 0xffff;

// Everything a decoder may look at or fill in.
struct DecodeState {
  const CodecContext& ctx;
  AttributeBlock* out;
  std::optional<AsPath> as4_path;
  std::optional<Aggregator> as4_aggregator;
};

// A decoder's complaint; `action` overrides the table's severity.
struct Issue {
  std::string text;
  std::optional<ErrorAction> action;
};
using DecodeOutcome = std::optional<Issue>;
using DecodeFn = DecodeOutcome (*)(ByteReader value, DecodeState& st);

struct EncodeState {
  const CodecContext& ctx;
  bool has_nlri;
};
// Returns false when there is nothing to write for this attribute.
using EncodeFn = bool (*)(const PathAttributes& a, const EncodeState& st,
                          std::vector<uint8_t>* value);

struct AttributeSpec {
  uint8_t type;
  const char* name;
  uint8_t flags;              // expected Optional and Transitive bits
  ErrorAction on_malformed;   // RFC 7606 7.x
  DecodeFn decode;
  EncodeFn encode;            // null: never sent (MP attributes, see EncodeUpdateBody)
};

DecodeOutcome Fail(std::string text) { return Issue{std::move(text), std::nullopt}; }
DecodeOutcome Fail(std::string text, ErrorAction a) { return Issue{std::move(text), a}; }

DecodeOutcome ExpectLength(const ByteReader& v, size_t want) {
  if (v.remaining() == want) return std::nullopt;
  return Fail(absl::StrCat("length ", v.remaining(), ", expected ", want));
}

// ORIGIN (type 1), well-known mandatory:
//   +---------+
//   | origin  |  0 IGP, 1 EGP, 2 INCOMPLETE
//   +---------+
DecodeOutcome DecodeOrigin(ByteReader v, DecodeState& st) {
  if (auto bad = ExpectLength(v, 1)) return bad;
  uint8_t origin = 0;
  (void)v.ReadU8(&origin);
  if (origin > static_cast<uint8_t>(Origin::kIncomplete)) {
    return Fail(absl::StrCat("undefined value ", origin));
  }
  st.out->attrs.origin = static_cast<Origin>(origin);
  st.out->has_origin = true;
  return std::nullopt;
}
bool EncodeOrigin(const PathAttributes& a, const EncodeState&, std::vector<uint8_t>* v) {
  v->push_back(static_cast<uint8_t>(a.origin));
  return true;
}

// AS_PATH (type 2) and AS4_PATH (type 17): a list of segments
//   +--------------+--------------+----------------------------------+
//   | segment type | count (ASNs) | count x ASN (2 or 4 octets each) |
//   +--------------+--------------+----------------------------------+
// RFC 7606 7.2: a zero count, an undefined type or a count that overruns the
// attribute make it malformed.
std::optional<std::string> ParseAsPath(ByteReader v, size_t asn_size, AsPath* path) {
  while (!v.empty()) {
    uint8_t type = 0, count = 0;
    if (!v.ReadU8(&type) || !v.ReadU8(&count)) return "truncated segment header";
    if (type < static_cast<uint8_t>(AsPathSegment::Type::kSet) ||
        type > static_cast<uint8_t>(AsPathSegment::Type::kConfedSet)) {
      return absl::StrCat("undefined segment type ", type);
    }
    if (count == 0) return "empty segment";
    if (v.remaining() < count * asn_size) return "segment overruns the attribute";
    AsPathSegment seg{static_cast<AsPathSegment::Type>(type), {}};
    for (uint8_t i = 0; i < count; ++i) {
      uint32_t asn = 0;
      uint16_t asn16 = 0;
      if (asn_size == kAsn4Size) {
        (void)v.ReadU32(&asn);
      } else {
        (void)v.ReadU16(&asn16);
        asn = asn16;
      }
      seg.asns.push_back(asn);
    }
    path->segments.push_back(std::move(seg));
  }
  return std::nullopt;
}

bool IsConfed(const AsPathSegment& s) {
  return s.type == AsPathSegment::Type::kConfedSequence ||
         s.type == AsPathSegment::Type::kConfedSet;
}

DecodeOutcome DecodeAsPath(ByteReader v, DecodeState& st) {
  AsPath path;
  const size_t asn_size = st.ctx.four_octet_as ? kAsn4Size : kAsn2Size;
  if (auto bad = ParseAsPath(v, asn_size, &path)) return Fail(*bad);
  // RFC 7606 7.2 / RFC 5065 5: we are no confederation member, so an eBGP
  // neighbour cannot send confederation segments.
  if (st.ctx.ebgp && std::any_of(path.segments.begin(), path.segments.end(), IsConfed)) {
    return Fail("confederation segment from an external neighbour");
  }
  st.out->attrs.as_path = std::move(path);
  st.out->has_as_path = true;
  return std::nullopt;
}

// Splits segments longer than 255 ASNs (the count is one octet).
void WriteAsPath(const AsPath& path, bool four_octet, bool skip_confed,
                 std::vector<uint8_t>* v) {
  ByteWriter w(v);
  for (const AsPathSegment& seg : path.segments) {
    if (skip_confed && IsConfed(seg)) continue;
    for (size_t start = 0; start < seg.asns.size(); start += kMaxSegmentAsns) {
      const size_t n = std::min(kMaxSegmentAsns, seg.asns.size() - start);
      w.PutU8(static_cast<uint8_t>(seg.type));
      w.PutU8(static_cast<uint8_t>(n));
      for (size_t i = start; i < start + n; ++i) {
        const Asn asn = seg.asns[i];
        if (four_octet) {
          w.PutU32(asn);
        } else {
          // RFC 6793 4.2.2: ASNs that do not fit become AS_TRANS.
          w.PutU16(static_cast<uint16_t>(asn > kAsnMax2Octet ? kAsTrans : asn));
        }
      }
    }
  }
}

bool EncodeAsPath(const PathAttributes& a, const EncodeState& st, std::vector<uint8_t>* v) {
  WriteAsPath(a.as_path, st.ctx.four_octet_as, /*skip_confed=*/false, v);
  return true;
}

bool NeedsAs4(const AsPath& path) {
  for (const AsPathSegment& seg : path.segments) {
    if (IsConfed(seg)) continue;
    for (Asn asn : seg.asns) {
      if (asn > kAsnMax2Octet) return true;
    }
  }
  return false;
}

// RFC 6793 4.2.2: a 2-octet session gets the real path in AS4_PATH, without
// confederation segments, only when some ASN did not fit.
bool EncodeAs4Path(const PathAttributes& a, const EncodeState& st, std::vector<uint8_t>* v) {
  if (st.ctx.four_octet_as || !NeedsAs4(a.as_path)) return false;
  WriteAsPath(a.as_path, /*four_octet=*/true, /*skip_confed=*/true, v);
  return true;
}

DecodeOutcome DecodeAs4Path(ByteReader v, DecodeState& st) {
  // RFC 6793 4.1: a 4-octet speaker neither sends nor uses AS4_PATH.
  if (st.ctx.four_octet_as) return Fail("received on a 4-octet AS session, ignored");
  AsPath path;
  if (auto bad = ParseAsPath(v, kAsn4Size, &path)) return Fail(*bad);
  // RFC 6793 6: AS4_PATH carries no confederation segments; drop them.
  std::erase_if(path.segments, IsConfed);
  st.as4_path = std::move(path);
  return std::nullopt;
}

// NEXT_HOP (type 3):  +---------------------+
//                     | IPv4 address (4)    |
//                     +---------------------+
DecodeOutcome DecodeNextHop(ByteReader v, DecodeState& st) {
  if (auto bad = ExpectLength(v, kIpv4Size)) return bad;
  uint32_t addr = 0;
  (void)v.ReadU32(&addr);
  if (!IsValidNextHop(Ipv4Addr{addr})) {
    return Fail(absl::StrCat("invalid address ", ToString(Ipv4Addr{addr})));
  }
  st.out->attrs.next_hop = Ipv4Addr{addr};
  st.out->has_next_hop = true;
  return std::nullopt;
}
bool EncodeNextHop(const PathAttributes& a, const EncodeState& st, std::vector<uint8_t>* v) {
  if (!st.has_nlri && a.next_hop.value == 0) return false;
  ByteWriter(v).PutU32(a.next_hop.value);
  return true;
}

// MULTI_EXIT_DISC (type 4) and LOCAL_PREF (type 5): one 4-octet value.
DecodeOutcome DecodeMed(ByteReader v, DecodeState& st) {
  if (auto bad = ExpectLength(v, 4)) return bad;
  uint32_t med = 0;
  (void)v.ReadU32(&med);
  st.out->attrs.med = med;
  return std::nullopt;
}
bool EncodeMed(const PathAttributes& a, const EncodeState&, std::vector<uint8_t>* v) {
  if (!a.med) return false;
  ByteWriter(v).PutU32(*a.med);
  return true;
}

DecodeOutcome DecodeLocalPref(ByteReader v, DecodeState& st) {
  if (auto bad = ExpectLength(v, 4)) return bad;
  // RFC 4271 5.1.5 / RFC 7606 7.5: meaningless from an external neighbour.
  if (st.ctx.ebgp) return Fail("received from an external neighbour", ErrorAction::kAttributeDiscard);
  uint32_t pref = 0;
  (void)v.ReadU32(&pref);
  st.out->attrs.local_pref = pref;
  return std::nullopt;
}
bool EncodeLocalPref(const PathAttributes& a, const EncodeState& st, std::vector<uint8_t>* v) {
  if (!a.local_pref || st.ctx.ebgp) return false;  // RFC 4271 5.1.5
  ByteWriter(v).PutU32(*a.local_pref);
  return true;
}

// ATOMIC_AGGREGATE (type 6): no value.
DecodeOutcome DecodeAtomicAggregate(ByteReader v, DecodeState& st) {
  if (auto bad = ExpectLength(v, 0)) return bad;
  st.out->attrs.atomic_aggregate = true;
  return std::nullopt;
}
bool EncodeAtomicAggregate(const PathAttributes& a, const EncodeState&, std::vector<uint8_t>*) {
  return a.atomic_aggregate;
}

// AGGREGATOR (type 7) / AS4_AGGREGATOR (type 18):
//   +----------------------+------------------+
//   | ASN (2 or 4 octets)  | IPv4 address (4) |
//   +----------------------+------------------+
DecodeOutcome ParseAggregator(ByteReader v, bool four_octet, Aggregator* out) {
  if (auto bad = ExpectLength(v, four_octet ? kAggregator4Size : kAggregator2Size)) return bad;
  uint16_t asn16 = 0;
  if (four_octet) {
    (void)v.ReadU32(&out->asn);
  } else {
    (void)v.ReadU16(&asn16);
    out->asn = asn16;
  }
  (void)v.ReadU32(&out->address.value);
  return std::nullopt;
}
DecodeOutcome DecodeAggregator(ByteReader v, DecodeState& st) {
  Aggregator agg;
  if (auto bad = ParseAggregator(v, st.ctx.four_octet_as, &agg)) return bad;
  st.out->attrs.aggregator = agg;
  return std::nullopt;
}
bool EncodeAggregator(const PathAttributes& a, const EncodeState& st, std::vector<uint8_t>* v) {
  if (!a.aggregator) return false;
  ByteWriter w(v);
  if (st.ctx.four_octet_as) {
    w.PutU32(a.aggregator->asn);
  } else {
    const Asn asn = a.aggregator->asn;
    w.PutU16(static_cast<uint16_t>(asn > kAsnMax2Octet ? kAsTrans : asn));
  }
  w.PutU32(a.aggregator->address.value);
  return true;
}
DecodeOutcome DecodeAs4Aggregator(ByteReader v, DecodeState& st) {
  if (st.ctx.four_octet_as) return Fail("received on a 4-octet AS session, ignored");
  Aggregator agg;
  if (auto bad = ParseAggregator(v, /*four_octet=*/true, &agg)) return bad;
  st.as4_aggregator = agg;
  return std::nullopt;
}
bool EncodeAs4Aggregator(const PathAttributes& a, const EncodeState& st,
                         std::vector<uint8_t>* v) {
  if (st.ctx.four_octet_as || !a.aggregator || a.aggregator->asn <= kAsnMax2Octet) return false;
  ByteWriter w(v);
  w.PutU32(a.aggregator->asn);
  w.PutU32(a.aggregator->address.value);
  return true;
}

// COMMUNITIES (type 8, RFC 1997): n x 4 octets. RFC 7606 7.8: a length of
// zero or not a multiple of four is malformed.
DecodeOutcome DecodeCommunities(ByteReader v, DecodeState& st) {
  if (v.empty() || v.remaining() % kCommunitySize != 0) {
    return Fail(absl::StrCat("length ", v.remaining(), " is not a positive multiple of 4"));
  }
  std::vector<uint32_t> list;
  uint32_t c = 0;
  while (v.ReadU32(&c)) list.push_back(c);
  std::sort(list.begin(), list.end());
  list.erase(std::unique(list.begin(), list.end()), list.end());
  st.out->attrs.communities = std::move(list);
  return std::nullopt;
}
bool EncodeCommunities(const PathAttributes& a, const EncodeState&, std::vector<uint8_t>* v) {
  if (a.communities.empty()) return false;
  ByteWriter w(v);
  for (uint32_t c : a.communities) w.PutU32(c);
  return true;
}

// LARGE_COMMUNITY (type 32, RFC 8092): n x (global, local1, local2), 4 octets
// each. RFC 8092 11: a length of zero or not a multiple of 12 is malformed.
DecodeOutcome DecodeLargeCommunities(ByteReader v, DecodeState& st) {
  if (v.empty() || v.remaining() % kLargeCommunitySize != 0) {
    return Fail(absl::StrCat("length ", v.remaining(), " is not a positive multiple of 12"));
  }
  std::vector<LargeCommunity> list;
  LargeCommunity c;
  while (v.ReadU32(&c.global) && v.ReadU32(&c.local1) && v.ReadU32(&c.local2)) {
    list.push_back(c);
  }
  std::sort(list.begin(), list.end());
  list.erase(std::unique(list.begin(), list.end()), list.end());
  st.out->attrs.large_communities = std::move(list);
  return std::nullopt;
}
bool EncodeLargeCommunities(const PathAttributes& a, const EncodeState&,
                            std::vector<uint8_t>* v) {
  if (a.large_communities.empty()) return false;
  ByteWriter w(v);
  for (const LargeCommunity& c : a.large_communities) {
    w.PutU32(c.global);
    w.PutU32(c.local1);
    w.PutU32(c.local2);
  }
  return true;
}

// OTC (type 35, RFC 9234 5): one 4-octet ASN; any other length is malformed.
DecodeOutcome DecodeOtc(ByteReader v, DecodeState& st) {
  if (auto bad = ExpectLength(v, kOtcSize)) return bad;
  uint32_t asn = 0;
  (void)v.ReadU32(&asn);
  st.out->attrs.otc = asn;
  return std::nullopt;
}
bool EncodeOtc(const PathAttributes& a, const EncodeState&, std::vector<uint8_t>* v) {
  if (!a.otc) return false;
  ByteWriter(v).PutU32(*a.otc);
  return true;
}

// MP_REACH_NLRI (type 14, RFC 4760 3):
//   +---------------------------------------------------------+
//   | AFI (2) | SAFI (1) | Next hop length (1)                |
//   +---------------------------------------------------------+
//   | Next hop (variable) | Reserved (1)                      |
//   +---------------------------------------------------------+
//   | NLRI (variable, prefixes as in the UPDATE NLRI field)   |
//   +---------------------------------------------------------+
// Only AFI 1 / SAFI 1 with a 4-octet next hop is ours; other families were
// not negotiated and are ignored.
DecodeOutcome DecodeMpReach(ByteReader v, DecodeState& st) {
  uint16_t afi = 0;
  uint8_t safi = 0, nh_len = 0, reserved = 0;
  if (!v.ReadU16(&afi) || !v.ReadU8(&safi)) return Fail("truncated AFI/SAFI");
  if (afi != kAfiIpv4 || safi != kSafiUnicast) {
    return Fail(absl::StrCat("AFI ", afi, " SAFI ", safi, " not negotiated, ignored"),
                ErrorAction::kAttributeDiscard);
  }
  if (!v.ReadU8(&nh_len) || nh_len != kIpv4Size) {
    return Fail(absl::StrCat("next hop length ", nh_len, ", expected 4"));
  }
  uint32_t nh = 0;
  if (!v.ReadU32(&nh) || !v.ReadU8(&reserved)) return Fail("truncated next hop");
  std::vector<Ipv4Prefix> prefixes;
  if (!DecodePrefixes(v, &prefixes)) return Fail("malformed NLRI");
  st.out->has_mp_reach = true;
  st.out->mp_reach = std::move(prefixes);
  st.out->mp_next_hop = Ipv4Addr{nh};
  return std::nullopt;
}

// MP_UNREACH_NLRI (type 15, RFC 4760 4):
//   +------------------------------------------------+
//   | AFI (2) | SAFI (1) | Withdrawn routes (var.)   |
//   +------------------------------------------------+
DecodeOutcome DecodeMpUnreach(ByteReader v, DecodeState& st) {
  uint16_t afi = 0;
  uint8_t safi = 0;
  if (!v.ReadU16(&afi) || !v.ReadU8(&safi)) return Fail("truncated AFI/SAFI");
  if (afi != kAfiIpv4 || safi != kSafiUnicast) {
    return Fail(absl::StrCat("AFI ", afi, " SAFI ", safi, " not negotiated, ignored"),
                ErrorAction::kAttributeDiscard);
  }
  std::vector<Ipv4Prefix> prefixes;
  if (!DecodePrefixes(v, &prefixes)) return Fail("malformed withdrawn routes");
  st.out->mp_unreach = std::move(prefixes);
  return std::nullopt;
}

constexpr ErrorAction kDiscard = ErrorAction::kAttributeDiscard;
constexpr ErrorAction kWithdraw = ErrorAction::kTreatAsWithdraw;
constexpr ErrorAction kReset = ErrorAction::kSessionReset;

// The table, in ascending type order (the order we send them, RFC 4271 5).
// Severities from RFC 7606 7.x, RFC 6793 6, RFC 8092 11, RFC 9234 5.
constexpr std::array<AttributeSpec, 14> kAttributes = {{
    {kAttrOrigin, "ORIGIN", kWellKnown, kWithdraw, DecodeOrigin, EncodeOrigin},
    {kAttrAsPath, "AS_PATH", kWellKnown, kWithdraw, DecodeAsPath, EncodeAsPath},
    {kAttrNextHop, "NEXT_HOP", kWellKnown, kWithdraw, DecodeNextHop, EncodeNextHop},
    {kAttrMed, "MULTI_EXIT_DISC", kOptionalNonTransitive, kWithdraw, DecodeMed, EncodeMed},
    {kAttrLocalPref, "LOCAL_PREF", kWellKnown, kWithdraw, DecodeLocalPref, EncodeLocalPref},
    {kAttrAtomicAggregate, "ATOMIC_AGGREGATE", kWellKnown, kDiscard, DecodeAtomicAggregate,
     EncodeAtomicAggregate},
    {kAttrAggregator, "AGGREGATOR", kOptionalTransitive, kDiscard, DecodeAggregator,
     EncodeAggregator},
    {kAttrCommunities, "COMMUNITIES", kOptionalTransitive, kWithdraw, DecodeCommunities,
     EncodeCommunities},
    {kAttrMpReachNlri, "MP_REACH_NLRI", kOptionalNonTransitive, kReset, DecodeMpReach, nullptr},
    {kAttrMpUnreachNlri, "MP_UNREACH_NLRI", kOptionalNonTransitive, kReset, DecodeMpUnreach,
     nullptr},
    {kAttrAs4Path, "AS4_PATH", kOptionalTransitive, kDiscard, DecodeAs4Path, EncodeAs4Path},
    {kAttrAs4Aggregator, "AS4_AGGREGATOR", kOptionalTransitive, kDiscard, DecodeAs4Aggregator,
     EncodeAs4Aggregator},
    {kAttrLargeCommunity, "LARGE_COMMUNITY", kOptionalTransitive, kWithdraw,
     DecodeLargeCommunities, EncodeLargeCommunities},
    {kAttrOtc, "OTC", kOptionalTransitive, kWithdraw, DecodeOtc, EncodeOtc},
}};

const AttributeSpec* FindSpec(uint8_t type) {
  for (const AttributeSpec& s : kAttributes) {
    if (s.type == type) return &s;
  }
  return nullptr;
}

// One attribute as it sat on the wire, for NOTIFICATION data (RFC 4271 6.3).
struct WireAttribute {
  uint8_t flags = 0;
  uint8_t type = 0;
  const uint8_t* start = nullptr;  // flags octet
  size_t total = 0;                // header + value
  ByteReader value;
  std::vector<uint8_t> Bytes() const { return {start, start + total}; }
};

// Header of one attribute (RFC 4271 4.3):
//   +-------+------+------------------------------+-------------+
//   | flags | type | length (1, or 2 if Extended) | value       |
//   +-------+------+------------------------------+-------------+
bool ReadAttribute(ByteReader* block, WireAttribute* a, std::string* why) {
  a->start = block->current();
  const size_t before = block->remaining();
  if (!block->ReadU8(&a->flags) || !block->ReadU8(&a->type)) {
    *why = "truncated attribute header";
    return false;
  }
  uint16_t length = 0;
  uint8_t short_length = 0;
  const bool ext = (a->flags & kAttrExtendedLength) != 0;
  if (ext ? !block->ReadU16(&length) : !block->ReadU8(&short_length)) {
    *why = "truncated attribute header";
    return false;
  }
  if (!ext) length = short_length;
  if (!block->ReadSub(length, &a->value)) {
    *why = absl::StrCat(AttributeName(a->type), " length ", length,
                        " runs past the path attributes");
    return false;
  }
  a->total = before - block->remaining();
  return true;
}

void HandleUnknown(const WireAttribute& a, AttributeBlock* out, ErrorLog* log) {
  if ((a.flags & kAttrOptional) == 0) {
    // RFC 4271 6.3: a well-known attribute we do not know.
    log->Reset(kErrUpdate, kUpdateUnrecognizedWellKnown, a.Bytes(),
               absl::StrCat("unrecognized well-known attribute ", a.type));
    return;
  }
  // RFC 4271 5 / 9: optional non-transitive ones are quietly ignored.
  if ((a.flags & kAttrTransitive) == 0) return;
  out->any_attribute = true;
  RawAttribute raw;
  // Passed on with the Partial bit set, since we did not interpret it.
  raw.flags = static_cast<uint8_t>((a.flags | kAttrPartial) & ~kAttrExtendedLength);
  raw.type = a.type;
  raw.value.assign(a.value.current(), a.value.current() + a.value.remaining());
  out->attrs.unknown.push_back(std::move(raw));
}

// RFC 7606 3(c) / 7.x: a known attribute that is malformed gets the table's
// severity; MP attributes reset the session with the RFC 4271 6.3 subcode.
void HandleIssue(const AttributeSpec& spec, const WireAttribute& a, const Issue& issue,
                 bool flags_error, ErrorLog* log) {
  const ErrorAction action = issue.action.value_or(spec.on_malformed);
  const std::string text = absl::StrCat(spec.name, ": ", issue.text, " (",
                                        std::string(ToString(action)), ")");
  if (action != ErrorAction::kSessionReset) {
    log->Raise(action, text);
    return;
  }
  const uint8_t subcode = flags_error ? kUpdateAttributeFlags : kUpdateOptionalAttribute;
  log->Reset(kErrUpdate, subcode, a.Bytes(), text);
}

void DecodeOne(const WireAttribute& a, DecodeState& st, ErrorLog* log) {
  const AttributeSpec* spec = FindSpec(a.type);
  if (spec == nullptr) {
    HandleUnknown(a, st.out, log);
    return;
  }
  if (a.type != kAttrMpUnreachNlri) st.out->any_attribute = true;
  const uint8_t got = a.flags & (kAttrOptional | kAttrTransitive);
  if (got != spec->flags) {
    Issue issue{absl::StrFormat("flags 0x%02x, expected 0x%02x", a.flags, spec->flags),
                std::nullopt};
    HandleIssue(*spec, a, issue, /*flags_error=*/true, log);
    return;
  }
  if (DecodeOutcome issue = spec->decode(a.value, st)) {
    HandleIssue(*spec, a, *issue, /*flags_error=*/false, log);
  }
}

// RFC 6793 4.2.3 on a 2-octet session: rebuild the real path and aggregator.
void ReconcileAs4(DecodeState& st, ErrorLog* log) {
  PathAttributes& attrs = st.out->attrs;
  if (st.as4_aggregator) {
    if (!attrs.aggregator) {
      log->Raise(kDiscard, "AS4_AGGREGATOR without AGGREGATOR, ignored");
    } else if (attrs.aggregator->asn != kAsTrans) {
      // The aggregator was an old speaker: AS4_PATH is not to be trusted.
      log->Raise(kDiscard, "AS4_AGGREGATOR and AS4_PATH ignored: AGGREGATOR is not AS_TRANS");
      return;
    } else {
      attrs.aggregator = *st.as4_aggregator;
    }
  }
  if (st.as4_path) attrs.as_path = MergeAs4Path(attrs.as_path, *st.as4_path);
}

}  // namespace

std::string AttributeNameImpl(uint8_t type) {
  const AttributeSpec* spec = FindSpec(type);
  return spec != nullptr ? spec->name : absl::StrCat("ATTR_", type);
}

bool DecodePrefixes(ByteReader r, std::vector<Ipv4Prefix>* out) {
  constexpr uint8_t kMaxLen = 32;
  while (!r.empty()) {
    uint8_t len = 0;
    (void)r.ReadU8(&len);
    if (len > kMaxLen) return false;
    const size_t bytes = (len + 7u) / 8u;
    if (r.remaining() < bytes) return false;
    uint32_t addr = 0;
    for (size_t i = 0; i < 4; ++i) {
      uint8_t b = 0;
      if (i < bytes) (void)r.ReadU8(&b);
      addr = addr << 8 | b;
    }
    const uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (kMaxLen - len);
    out->push_back(Ipv4Prefix{Ipv4Addr{addr & mask}, len});
  }
  return true;
}

size_t PrefixWireSize(const Ipv4Prefix& p) { return 1 + (p.len + 7u) / 8u; }

void EncodePrefix(const Ipv4Prefix& p, ByteWriter* w) {
  w->PutU8(p.len);
  const size_t bytes = (p.len + 7u) / 8u;
  for (size_t i = 0; i < bytes; ++i) w->PutU8(static_cast<uint8_t>(p.addr.value >> (24 - 8 * i)));
}

bool IsValidNextHop(Ipv4Addr a) {
  const uint8_t first = static_cast<uint8_t>(a.value >> 24);
  constexpr uint8_t kThisNetwork = 0, kLoopback = 127, kFirstMulticast = 224;
  return first != kThisNetwork && first != kLoopback && first < kFirstMulticast;
}

void DecodeAttributes(ByteReader block, const CodecContext& ctx, AttributeBlock* out,
                      ErrorLog* log) {
  DecodeState st{ctx, out, std::nullopt, std::nullopt};
  std::bitset<256> seen;
  while (!block.empty()) {
    WireAttribute a;
    std::string why;
    if (!ReadAttribute(&block, &a, &why)) {
      // RFC 7606 4: the NLRI is still found through Total Path Attribute
      // Length, so the UPDATE is treated as a withdrawal.
      log->Raise(kWithdraw, absl::StrCat(why, " (treat-as-withdraw)"));
      out->any_attribute = true;  // so the UPDATE cannot pass for End-of-RIB
      break;
    }
    if (seen[a.type]) {
      // RFC 7606 3(g): duplicate MP attributes reset; others keep the first.
      if (a.type == kAttrMpReachNlri || a.type == kAttrMpUnreachNlri) {
        log->Reset(kErrUpdate, kUpdateMalformedAttributeList, {},
                   absl::StrCat("duplicate ", AttributeName(a.type), " (session reset)"));
      } else {
        log->Raise(kDiscard, absl::StrCat("duplicate ", AttributeName(a.type), " discarded"));
      }
      continue;
    }
    seen[a.type] = true;
    DecodeOne(a, st, log);
  }
  if (!ctx.four_octet_as) ReconcileAs4(st, log);
  // Kept in the order we send them (ascending type), so equal sets compare equal.
  std::stable_sort(out->attrs.unknown.begin(), out->attrs.unknown.end(),
                   [](const RawAttribute& x, const RawAttribute& y) { return x.type < y.type; });
}

void EncodeAttributes(const PathAttributes& attrs, const CodecContext& ctx, bool has_nlri,
                      ByteWriter* w) {
  const EncodeState st{ctx, has_nlri};
  auto put = [w](uint8_t flags, uint8_t type, const std::vector<uint8_t>& value) {
    const bool ext = value.size() > kMaxShortLength;
    w->PutU8(static_cast<uint8_t>(ext ? flags | kAttrExtendedLength
                                      : flags & ~kAttrExtendedLength));
    w->PutU8(type);
    if (ext) {
      w->PutU16(static_cast<uint16_t>(value.size()));
    } else {
      w->PutU8(static_cast<uint8_t>(value.size()));
    }
    w->PutBytes(value);
  };
  std::vector<const RawAttribute*> unknown;
  for (const RawAttribute& raw : attrs.unknown) {
    if (FindSpec(raw.type) == nullptr) unknown.push_back(&raw);
  }
  std::stable_sort(unknown.begin(), unknown.end(),
                   [](const RawAttribute* x, const RawAttribute* y) { return x->type < y->type; });
  auto next_unknown = unknown.begin();
  for (const AttributeSpec& spec : kAttributes) {
    for (; next_unknown != unknown.end() && (*next_unknown)->type < spec.type; ++next_unknown) {
      put((*next_unknown)->flags, (*next_unknown)->type, (*next_unknown)->value);
    }
    std::vector<uint8_t> value;
    if (spec.encode != nullptr && spec.encode(attrs, st, &value)) put(spec.flags, spec.type, value);
  }
  for (; next_unknown != unknown.end(); ++next_unknown) {
    put((*next_unknown)->flags, (*next_unknown)->type, (*next_unknown)->value);
  }
}

namespace {
// RFC 6793 4.2.3 counting: a set is one, confederation segments none.
size_t MergeCount(const AsPath& p) {
  size_t n = 0;
  for (const AsPathSegment& s : p.segments) {
    if (s.type == AsPathSegment::Type::kSequence) n += s.asns.size();
    if (s.type == AsPathSegment::Type::kSet) n += 1;
  }
  return n;
}
}  // namespace

AsPath MergeAs4Path(const AsPath& as_path, const AsPath& as4_path) {
  const size_t n2 = MergeCount(as_path), n4 = MergeCount(as4_path);
  if (n2 < n4) return as_path;  // RFC 6793 4.2.3: AS4_PATH is ignored
  size_t need = n2 - n4;
  AsPath merged;
  // Take as many leading ASNs (and the segments around them) as make the
  // counts equal; confederation segments at the front come along.
  for (const AsPathSegment& seg : as_path.segments) {
    if (need == 0 && !IsConfed(seg)) break;
    if (IsConfed(seg)) {
      merged.segments.push_back(seg);
    } else if (seg.type == AsPathSegment::Type::kSet) {
      merged.segments.push_back(seg);
      --need;
    } else {
      const size_t take = std::min(need, seg.asns.size());
      merged.segments.push_back(
          {seg.type, std::vector<Asn>(seg.asns.begin(), seg.asns.begin() + take)});
      need -= take;
    }
  }
  for (const AsPathSegment& seg : as4_path.segments) {
    if (!merged.segments.empty() && seg.type == AsPathSegment::Type::kSequence &&
        merged.segments.back().type == AsPathSegment::Type::kSequence) {
      auto& asns = merged.segments.back().asns;
      asns.insert(asns.end(), seg.asns.begin(), seg.asns.end());
    } else {
      merged.segments.push_back(seg);
    }
  }
  return merged;
}

}  // namespace isthmus::bgp::wire_internal
