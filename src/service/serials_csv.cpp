#include "plugmq/service/serials_csv.hpp"

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "plugmq/platform/crypto.hpp"
#include "plugmq/platform/topic.hpp"

namespace plugmq::service {

using nlohmann::json;

std::optional<std::vector<std::string>> split_csv(std::string_view line) {
  std::vector<std::string> fields(1);
  std::size_t i = 0;
  bool field_start = true;
  while (i < line.size()) {
    const char c = line[i];
    if (c == ',') {
      fields.emplace_back();
      field_start = true;
      ++i;
    } else if (c == '"' && field_start) {
      ++i;
      for (;;) {
        if (i >= line.size()) return std::nullopt;  // unterminated
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            fields.back() += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        fields.back() += line[i++];
      }
      if (i < line.size() && line[i] != ',') return std::nullopt;  // text after the quote
      field_start = false;
    } else if (c == '"') {
      return std::nullopt;  // a quote inside an unquoted field
    } else {
      fields.back() += c;
      field_start = false;
      ++i;
    }
  }
  return fields;
}

std::optional<std::vector<CsvSerial>> parse_serials_csv(std::istream& in, std::string_view source,
                                                        std::string& error) {
  std::vector<CsvSerial> out;
  std::map<std::string, std::size_t> line_of;  // hwid -> line, for repeats
  std::string line;
  std::size_t number = 0;
  bool first = true;
  auto fail = [&](const std::string& what) {
    error = std::string(source) + " line " + std::to_string(number) + ": " + what;
    return std::nullopt;
  };
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF files
    if (line.find_first_not_of(" \t") == std::string::npos || line[0] == '#') continue;
    if (first && line.rfind("hwid,", 0) == 0) {
      first = false;
      continue;  // a header
    }
    first = false;
    auto fields = split_csv(line);
    if (!fields) return fail("unbalanced or misplaced double quote");
    if (fields->size() < 2 || fields->size() > 3) {
      return fail("expected hwid,enroll_pass[,control_pass], got " +
                  std::to_string(fields->size()) + " field(s)");
    }
    store::SerialSpec spec;
    spec.hwid = (*fields)[0];
    spec.enroll_pass = (*fields)[1];
    if (fields->size() == 3 && !(*fields)[2].empty()) spec.control_pass = (*fields)[2];
    if (!platform::valid_hwid(spec.hwid)) {
      return fail("hwid must be 1..128 bytes of UTF-8 without '/', '+', '#' or control characters");
    }
    if (!platform::valid_secret(spec.enroll_pass)) {
      return fail("enroll password must be 4..128 bytes");
    }
    if (spec.control_pass && !platform::valid_secret(*spec.control_pass)) {
      return fail("control password must be 4..128 bytes");
    }
    auto [it, fresh] = line_of.emplace(spec.hwid, number);
    if (!fresh) {
      return fail("hwid " + json(spec.hwid).dump() + " repeats line " + std::to_string(it->second));
    }
    out.push_back({std::move(spec), number});
  }
  if (in.bad()) throw std::runtime_error("cannot read " + std::string(source));
  return out;
}

std::optional<std::string> already_registered(const std::vector<store::Serial>& registered,
                                              const std::vector<CsvSerial>& specs,
                                              std::string_view source, std::string_view model) {
  std::set<std::string> hwids;
  for (const auto& s : registered) hwids.insert(s.hwid);
  for (const auto& s : specs) {
    if (hwids.count(s.spec.hwid)) {
      return std::string(source) + " line " + std::to_string(s.line) + ": hwid " +
             json(s.spec.hwid).dump() + " is already registered in " + std::string(model);
    }
  }
  return std::nullopt;
}

}  // namespace plugmq::service
