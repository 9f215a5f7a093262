// UPDATE messages (RFC 4271 4.3) with RFC 7606 error handling, and the
// packing of route sets into UPDATEs that fit 4096 bytes.

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bgp/wire/codec_internal.h"

namespace isthmus::bgp::wire_internal {
namespace {

// Two 2-octet length fields: Withdrawn Routes Length, Total Path Attribute Length.
constexpr size_t kUpdateFixedSize = 4;

void MoveAnnouncementsToWithdrawn(UpdateMessage* m) {
  m->withdrawn.insert(m->withdrawn.end(), m->nlri.begin(), m->nlri.end());
  m->nlri.clear();
}

// RFC 7606 3(d): well-known mandatory attributes when there is NLRI; NEXT_HOP
// only for the NLRI field (RFC 4760 3 makes it optional otherwise).
void CheckMandatory(const AttributeBlock& block, bool has_nlri_field, ErrorLog* log) {
  if (!has_nlri_field && block.mp_reach.empty()) return;
  auto missing = [log](const char* name) {
    log->Raise(ErrorAction::kTreatAsWithdraw,
               absl::StrCat("missing well-known attribute ", name, " (treat-as-withdraw)"));
  };
  if (!block.has_origin) missing("ORIGIN");
  if (!block.has_as_path) missing("AS_PATH");
  if (has_nlri_field && !block.has_next_hop) missing("NEXT_HOP");
}

// Folds MP_REACH/MP_UNREACH for IPv4 unicast into the plain fields.
void FoldMultiprotocol(AttributeBlock* block, bool has_nlri_field, UpdateMessage* m,
                       ErrorLog* log) {
  m->withdrawn.insert(m->withdrawn.end(), block->mp_unreach.begin(), block->mp_unreach.end());
  if (!block->has_mp_reach) return;
  const Ipv4Addr nh = *block->mp_next_hop;
  if (!IsValidNextHop(nh)) {
    // RFC 7606 7.3 applied to the MP next hop.
    log->Raise(ErrorAction::kTreatAsWithdraw,
               absl::StrCat("MP_REACH_NLRI: invalid next hop ", ToString(nh),
                            " (treat-as-withdraw)"));
  } else if (has_nlri_field && block->has_next_hop && block->attrs.next_hop != nh) {
    // One UpdateMessage carries one next hop; rather than guess, withdraw.
    log->Raise(ErrorAction::kTreatAsWithdraw,
               absl::StrCat("NEXT_HOP ", ToString(block->attrs.next_hop),
                            " and MP_REACH_NLRI next hop ", ToString(nh),
                            " differ (treat-as-withdraw)"));
  } else {
    block->attrs.next_hop = nh;
  }
  m->nlri.insert(m->nlri.end(), block->mp_reach.begin(), block->mp_reach.end());
}

}  // namespace

//   +-----------------------------------------------------+
//   | Withdrawn Routes Length (2)                         |
//   +-----------------------------------------------------+
//   | Withdrawn Routes (variable)                         |
//   +-----------------------------------------------------+
//   | Total Path Attribute Length (2)                     |
//   +-----------------------------------------------------+
//   | Path Attributes (variable)                          |
//   +-----------------------------------------------------+
//   | Network Layer Reachability Information (variable)   |
//   +-----------------------------------------------------+
void DecodeUpdate(ByteReader body, const CodecContext& ctx, DecodeResult* result) {
  ErrorLog log;
  UpdateMessage m;
  uint16_t withdrawn_len = 0, attrs_len = 0;
  ByteReader withdrawn, attrs;
  // RFC 4271 6.3 / RFC 7606 5.3: if the two length fields do not fit the
  // message, nothing after them can be located.
  if (!body.ReadU16(&withdrawn_len) || !body.ReadSub(withdrawn_len, &withdrawn) ||
      !body.ReadU16(&attrs_len) || !body.ReadSub(attrs_len, &attrs)) {
    log.Reset(kErrUpdate, kUpdateMalformedAttributeList, {},
              "withdrawn routes or path attribute length exceeds the message (session reset)");
  } else if (!DecodePrefixes(withdrawn, &m.withdrawn)) {
    log.Reset(kErrUpdate, kUpdateInvalidNetworkField, {},
              "malformed withdrawn routes (session reset)");
  } else if (!DecodePrefixes(body, &m.nlri)) {
    log.Reset(kErrUpdate, kUpdateInvalidNetworkField, {}, "malformed NLRI (session reset)");
  }
  AttributeBlock block;
  if (log.action != ErrorAction::kSessionReset) {
    const bool has_nlri_field = !m.nlri.empty();
    DecodeAttributes(attrs, ctx, &block, &log);
    CheckMandatory(block, has_nlri_field, &log);
    FoldMultiprotocol(&block, has_nlri_field, &m, &log);
  }
  result->problems = std::move(log.problems);
  result->action = log.action;
  if (log.action == ErrorAction::kSessionReset) {
    result->notification = std::move(log.notification);
    return;
  }
  if (block.any_attribute) m.attrs = std::move(block.attrs);
  if (log.action == ErrorAction::kTreatAsWithdraw) MoveAnnouncementsToWithdrawn(&m);
  result->message = std::move(m);
}

void EncodeUpdateBody(const UpdateMessage& m, const CodecContext& ctx, ByteWriter* w) {
  const size_t withdrawn_at = w->size();
  w->PutU16(0);
  for (const Ipv4Prefix& p : m.withdrawn) EncodePrefix(p, w);
  w->PatchU16(withdrawn_at, static_cast<uint16_t>(w->size() - withdrawn_at - 2));
  const size_t attrs_at = w->size();
  w->PutU16(0);
  if (m.attrs) EncodeAttributes(*m.attrs, ctx, !m.nlri.empty(), w);
  w->PatchU16(attrs_at, static_cast<uint16_t>(w->size() - attrs_at - 2));
  for (const Ipv4Prefix& p : m.nlri) EncodePrefix(p, w);
}

}  // namespace isthmus::bgp::wire_internal

namespace isthmus::bgp {

using wire_internal::PrefixWireSize;

absl::StatusOr<std::vector<std::vector<uint8_t>>> TryEncodeUpdates(
    const std::vector<Ipv4Prefix>& withdrawn, const PathAttributes* attrs,
    const std::vector<Ipv4Prefix>& nlri, const CodecContext& ctx) {
  constexpr size_t kRoom = kMaxMessageSize - kHeaderSize - wire_internal::kUpdateFixedSize;
  size_t attrs_size = 0;
  if (!nlri.empty()) {
    if (attrs == nullptr) return absl::InvalidArgumentError("announcements without attributes");
    std::vector<uint8_t> encoded;
    ByteWriter w(&encoded);
    wire_internal::EncodeAttributes(*attrs, ctx, /*has_nlri=*/true, &w);
    attrs_size = encoded.size();
    if (attrs_size + PrefixWireSize(Ipv4Prefix{{}, 32}) > kRoom) {
      return absl::InvalidArgumentError(
          absl::StrCat("path attributes take ", attrs_size, " bytes: no room for a prefix"));
    }
  }
  std::vector<std::vector<uint8_t>> out;
  size_t wi = 0, ni = 0;
  while (wi < withdrawn.size() || ni < nlri.size()) {
    UpdateMessage m;
    size_t used = 0;
    for (; wi < withdrawn.size() && used + PrefixWireSize(withdrawn[wi]) <= kRoom; ++wi) {
      used += PrefixWireSize(withdrawn[wi]);
      m.withdrawn.push_back(withdrawn[wi]);
    }
    // Announcements join only if the attributes and at least one prefix fit.
    if (ni < nlri.size() && used + attrs_size + PrefixWireSize(nlri[ni]) <= kRoom) {
      used += attrs_size;
      m.attrs = *attrs;
      for (; ni < nlri.size() && used + PrefixWireSize(nlri[ni]) <= kRoom; ++ni) {
        used += PrefixWireSize(nlri[ni]);
        m.nlri.push_back(nlri[ni]);
      }
    }
    out.push_back(Encode(m, ctx));
  }
  return out;
}

std::vector<std::vector<uint8_t>> EncodeUpdates(const std::vector<Ipv4Prefix>& withdrawn,
                                                const PathAttributes* attrs,
                                                const std::vector<Ipv4Prefix>& nlri,
                                                const CodecContext& ctx) {
  auto encoded = TryEncodeUpdates(withdrawn, attrs, nlri, ctx);
  if (encoded.ok()) return *std::move(encoded);
  return *TryEncodeUpdates(withdrawn, nullptr, {}, ctx);
}

}  // namespace isthmus::bgp
