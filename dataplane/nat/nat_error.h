#pragma once
// Why a NAT operation did not produce a translated flow. Each failure that
// drops the packet has a DropReason of the same name (drop_reason.h).

#include <array>
#include <cstdint>
#include <string_view>

#include "dataplane/drop_reason.h"

namespace isthmus {

enum class NatError : uint8_t {
  kNone,
  kExists,               // another worker inserted the same flow first: use the returned one
  kTableFull,            // no free flow entry
  kIndexFull,            // the key's probe window in the index is full
  kReplyConflict,        // the reply key already belongs to another flow
  kSnatPortsExhausted,   // no free SNAT port for the protocol
  kEmbryonicFull,        // too many half-open TCP flows, table-wide or of the service (flow_table.h)
  kAdmissionLimited,     // the worker's SYN budget for this second is spent (flow_table.h)
  kCount
};

inline constexpr size_t kNatErrorCount = static_cast<size_t>(NatError::kCount);

inline constexpr std::array<std::string_view, kNatErrorCount> kNatErrorNames = {
    "none", "exists", "table_full", "index_full", "reply_conflict", "snat_ports_exhausted",
    "embryonic_full", "admission_limited"};

inline constexpr std::string_view Name(NatError e) { return kNatErrorNames[static_cast<size_t>(e)]; }

// The drop a failed flow setup causes. kNone and kExists do not drop.
inline constexpr DropReason DropReasonFor(NatError e) {
  switch (e) {
    case NatError::kTableFull:
      return DropReason::kNatTableFull;
    case NatError::kIndexFull:
      return DropReason::kNatIndexFull;
    case NatError::kReplyConflict:
      return DropReason::kNatReplyConflict;
    case NatError::kSnatPortsExhausted:
      return DropReason::kNatSnatPortsExhausted;
    case NatError::kEmbryonicFull:
      return DropReason::kNatEmbryonicFull;
    case NatError::kAdmissionLimited:
      return DropReason::kNatAdmissionLimited;
    default:
      return DropReason::kBug;
  }
}

}  // namespace isthmus
