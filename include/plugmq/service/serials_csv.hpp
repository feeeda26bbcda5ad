// Serial numbers from CSV text, as `plugmq serial add MODEL --csv FILE` and
// `POST /iot/template/MODEL/serial` (Content-Type: text/csv) read them: one serial a line,
// `hwid,enroll_pass[,control_pass]`, an optional `hwid,…` header line, blank lines and lines
// starting with '#' skipped, RFC 4180 quoting within a line, CRLF or LF. Every line is checked
// (the HWID and password rules of SPEC 1, no HWID twice) before anything is registered, and a
// HWID already registered in the template is refused by its line: the import is all or none.
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugmq/store/fleet.hpp"

namespace plugmq::service {

// One CSV line split into fields; RFC 4180 quoting ("a,b", "say ""hi""") within the line.
// Nothing when a quote is unbalanced or stray.
std::optional<std::vector<std::string>> split_csv(std::string_view line);

struct CsvSerial {
  store::SerialSpec spec;
  std::size_t line = 0;  // where it was read, for messages
};

// The serials of CSV text, or nothing with `error` set to "SOURCE line N: why" for the first
// bad line. Throws std::runtime_error("cannot read SOURCE") when the stream fails.
std::optional<std::vector<CsvSerial>> parse_serials_csv(std::istream& in, std::string_view source,
                                                        std::string& error);

// "SOURCE line N: hwid "H" is already registered in MODEL" for the first serial of `specs`
// whose HWID is among `registered` (the template's serials); nothing when none is.
std::optional<std::string> already_registered(const std::vector<store::Serial>& registered,
                                              const std::vector<CsvSerial>& specs,
                                              std::string_view source, std::string_view model);

}  // namespace plugmq::service
