#include "control/admin/admin_results.h"

#include <string>

namespace isthmus {
namespace {

template <size_t N>
nlohmann::json ReasonRows(const std::array<ReasonInfo, N>& info,
                          const std::array<uint64_t, N>& counts) {
  nlohmann::json rows = nlohmann::json::array();
  for (size_t i = 0; i < N; ++i) {
    rows.push_back({{"reason", std::string(info[i].name)},
                    {"help", std::string(info[i].help)},
                    {"packets", counts[i]}});
  }
  return rows;
}

}  // namespace

nlohmann::json MakeDropsResult(const std::array<uint64_t, kDropReasonCount>& drops,
                               const std::array<uint64_t, kPuntReasonCount>& punts) {
  return {{"drops", ReasonRows(kDropReasonInfo, drops)},
          {"punts", ReasonRows(kPuntReasonInfo, punts)}};
}

}  // namespace isthmus
