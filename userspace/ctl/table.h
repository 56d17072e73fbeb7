// Plain-text tables for synwardenctl's human output: a header row, columns padded to their
// widest cell, numbers right-aligned. No colours or box drawing, so output pipes and diffs well.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace synwarden::ctl {

class Table {
 public:
  // `right_aligned[i]`: column i holds numbers.
  Table(std::vector<std::string> headers, std::vector<bool> right_aligned);
  void add_row(std::vector<std::string> cells);  // missing cells print empty
  std::string render() const;
  bool empty() const noexcept { return rows_.empty(); }

 private:
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

// 1234567 -> "1234567"; rates: one decimal below 100, none above ("3.5", "1250").
std::string format_count(uint64_t value);
std::string format_rate(double per_second);
// Milliseconds as a short age: "850ms", "12.3s", "5m03s", "2h10m", "3d04h".
std::string format_age_ms(uint64_t ms);

}  // namespace synwarden::ctl
