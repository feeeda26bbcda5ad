// Serials from CSV (`plugmq serial add MODEL --csv FILE`).
#pragma once

#include <cstddef>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugmq/store/fleet.hpp"

namespace plugmq::app {

// One CSV line split into fields; RFC 4180 quoting ("a,b", "say ""hi""") within the line.
// Nothing when a quote is unbalanced or stray.
std::optional<std::vector<std::string>> split_csv(std::string_view line);

struct CsvSerial {
  store::SerialSpec spec;
  std::size_t line = 0;  // where it was read, for messages
};

// Reads serials from CSV text; a bad line is a UsageError naming `source` and its line number.
std::vector<CsvSerial> parse_serials_csv(std::istream& in, const std::string& source);

}  // namespace plugmq::app
