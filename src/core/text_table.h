// Aligned plain-text tables for terminals: a header row and left-aligned columns.
#pragma once

#include <string>
#include <vector>

namespace memvisor {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add_row(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // Columns separated by two spaces, padded to the widest cell (counted in UTF-8 code points);
  // no trailing spaces.
  std::string render() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace memvisor
