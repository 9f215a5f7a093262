#pragma once
// One aligned plain-text table printer for every isthmusctl view.

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace isthmus {

enum class Align { kLeft, kRight };

struct TableColumn {
  absl::string_view header;
  Align align = Align::kLeft;
};

// Columns separated by two spaces, widths fitted to the widest cell, no
// trailing blanks. Rows shorter than the header get empty cells.
std::string FormatTable(const std::vector<TableColumn>& columns,
                        const std::vector<std::vector<std::string>>& rows);

}  // namespace isthmus
