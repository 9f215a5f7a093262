#pragma once
// Result objects whose shape isthmusctl renders and that can be built from
// data-plane counters alone. Keeping them here keeps the schema next to the
// CLI that reads it.

#include <array>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "dataplane/drop_reason.h"

namespace isthmus {

// `show drops`: {"drops":[{"reason","help","packets"}...],"punts":[...]},
// every reason in enum order, zero counts included.
nlohmann::json MakeDropsResult(const std::array<uint64_t, kDropReasonCount>& drops,
                               const std::array<uint64_t, kPuntReasonCount>& punts);

}  // namespace isthmus
