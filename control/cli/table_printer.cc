#include "control/cli/table_printer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace isthmus {
namespace {

constexpr absl::string_view kColumnGap = "  ";

absl::string_view Cell(const std::vector<std::string>& row, size_t column) {
  return column < row.size() ? absl::string_view(row[column]) : absl::string_view();
}

void AppendRow(const std::vector<TableColumn>& columns, const std::vector<size_t>& widths,
               const std::vector<absl::string_view>& cells, std::string& out) {
  std::string line;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) absl::StrAppend(&line, kColumnGap);
    const std::string padding(widths[i] - cells[i].size(), ' ');
    if (columns[i].align == Align::kRight) {
      absl::StrAppend(&line, padding, cells[i]);
    } else {
      absl::StrAppend(&line, cells[i], padding);
    }
  }
  line.erase(line.find_last_not_of(' ') + 1);
  out += line;
  out += '\n';
}

}  // namespace

std::string FormatTable(const std::vector<TableColumn>& columns,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const TableColumn& column : columns) widths.push_back(column.header.size());
  for (const auto& row : rows) {
    for (size_t i = 0; i < columns.size(); ++i) {
      widths[i] = std::max(widths[i], Cell(row, i).size());
    }
  }
  std::string out;
  std::vector<absl::string_view> cells;
  for (const TableColumn& column : columns) cells.push_back(column.header);
  AppendRow(columns, widths, cells, out);
  for (const auto& row : rows) {
    for (size_t i = 0; i < columns.size(); ++i) cells[i] = Cell(row, i);
    AppendRow(columns, widths, cells, out);
  }
  return out;
}

}  // namespace isthmus
