// libFuzzer target for the REST API's parsing of untrusted request bytes (http/parse.hpp).
//
// The input goes through every parser as a whole, and is also read as the parts of a value to
// encode (a name and a secret, a time). Every result must be well-formed and survive a round
// trip through an encoder written here:
//   - percent_decode: nothing exactly when a '%' does not start an escape; any bytes encoded
//     come back decoded;
//   - split_target: nothing exactly when the target is not an absolute path or an escape is
//     malformed; the path is the text before '?'; the Target encoded again splits to itself;
//     query_value is the last value given, query_list's items are trimmed, non-empty, no ',', one per comma-separated value;
//   - plug_id_list: distinct lowercase device Plug-IDs, the same list again from their CSV
//     (in upper case too) and JSON forms;
//   - basic_credentials: the name has no ':'; basic_authorization(name, secret), padded or not,
//     gives both back;
//   - parse_bound: a record id is 24 lowercase hex digits, a time prints and parses back; any
//     time in years 0000-9999 printed as ISO-8601 (UTC or with an offset) parses back;
//   - parse_count: exactly the decimal numbers up to INT64_MAX, printed back as given;
//   - parse_json: throws nothing; refuses only what nlohmann refuses or nests over 128 deep;
//     what it accepts is at most 128 deep, its numbers finite, and dumps and parses back equal;
//   - error_response: valid JSON {"err","msg"} whatever bytes the message has;
//   - parse_serials_csv (a CSV import's body): throws nothing; refuses with a message naming a
//     line, or gives valid HWIDs (none twice) and passwords on increasing lines; and split_csv's
//     fields of each line, quoted and joined again, split to themselves.
// Any violation aborts, which libFuzzer reports as a crash.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "plugmq/http/message.hpp"
#include "plugmq/http/parse.hpp"
#include "plugmq/platform/crypto.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/topic.hpp"
#include "plugmq/service/serials_csv.hpp"

namespace {

using namespace plugmq::http;
using Json = nlohmann::ordered_json;

constexpr std::string_view kSpace = " \t\r\n";

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "http_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// Every '%' starts "%XX" with two hex digits, escapes read left to right.
bool escapes_ok(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') continue;
    if (s.size() - i < 3 || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
    i += 2;
  }
  return true;
}

// Every byte but the RFC 3986 unreserved ones as "%XX"; `lower` picks the hex digits' case.
std::string percent_encode(std::string_view s, bool lower) {
  const char* digits = lower ? "0123456789abcdef" : "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += digits[b >> 4];
      out += digits[b & 0xF];
    }
  }
  return out;
}

std::string join(const std::vector<std::string>& items, bool upper) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ',';
    for (char c : item) out += upper && c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c;
  }
  return out;
}

void check_percent_decode(std::string_view in) {
  const auto decoded = percent_decode(in);
  check(decoded.has_value() == escapes_ok(in),
        "percent_decode accepts a bad escape or refuses a good one");
  if (decoded) {
    check(decoded->size() <= in.size(), "percent_decode grows the text");
    if (in.find('%') == std::string_view::npos) {
      check(*decoded == in, "percent_decode changes plain text");
    }
  }
  for (bool lower : {false, true}) {
    const auto again = percent_decode(percent_encode(in, lower));
    check(again && *again == in, "percent_decode(percent_encode(x)) != x");
  }
}

void check_query(const Target& t) {
  for (std::size_t i = 0; i < t.query.size() && i < 8; ++i) {
    const std::string& name = t.query[i].first;
    const std::string* last = nullptr;
    std::size_t commas = 0;
    for (const auto& [k, v] : t.query) {
      if (k != name) continue;
      last = &v;
      commas += static_cast<std::size_t>(std::count(v.begin(), v.end(), ',')) + 1;
    }
    const auto value = query_value(t, name);
    check(value && *value == *last, "query_value is not the last value given");
    const auto items = query_list(t, name);
    if (!items) continue;  // a value or an item was empty
    check(items->size() == commas, "query_list has not one item per comma-separated value");
    for (const auto& item : *items) {
      check(!item.empty() && item.find(',') == std::string::npos,
            "query_list item empty or with ','");
      check(kSpace.find(item.front()) == std::string_view::npos &&
                kSpace.find(item.back()) == std::string_view::npos,
            "query_list item not trimmed");
    }
  }
  check(!query_value(t, std::string_view("\0absent", 7)) ||
            std::any_of(t.query.begin(), t.query.end(),
                        [](const auto& kv) { return kv.first == std::string_view("\0absent", 7); }),
        "query_value finds a name never given");
}

void check_split_target(std::string_view in) {
  const auto t = split_target(in);
  const auto q = in.find('?');
  const std::string_view path = in.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view{} : in.substr(q + 1);
  query = query.substr(0, query.find('#'));
  const bool valid = !in.empty() && in.front() == '/' && escapes_ok(path) && escapes_ok(query);
  check(t.has_value() == valid, "split_target accepts a bad target or refuses a good one");
  if (!t) return;
  check(t->path == path, "split_target's path is not the text before '?'");
  std::string rebuilt = t->path;
  for (std::size_t i = 0; i < t->query.size(); ++i) {
    rebuilt += i == 0 ? '?' : '&';
    rebuilt += percent_encode(t->query[i].first, i % 2 == 0);
    rebuilt += '=';
    rebuilt += percent_encode(t->query[i].second, i % 2 == 1);
  }
  const auto again = split_target(rebuilt);
  check(again && again->path == t->path && again->query == t->query,
        "split_target of the encoded Target differs");
  check_query(*t);
}

void check_plug_id_list(std::string_view in) {
  const auto ids = plug_id_list(in);
  if (!ids) return;
  for (std::size_t i = 0; i < ids->size(); ++i) {
    const auto& id = (*ids)[i];
    const auto norm = plugmq::platform::normalize_plug_id(id, plugmq::platform::IdKind::kDevice);
    check(norm && *norm == id, "plug_id_list item is not a lowercase device Plug-ID");
    for (std::size_t k = 0; k < i; ++k) check((*ids)[k] != id, "plug_id_list repeats an item");
  }
  const auto first = in.find_first_not_of(kSpace);
  if (in[first] != '[' && in[first] != '"') check(!ids->empty(), "bare plug_id_list is empty");
  check(plug_id_list(Json(*ids).dump()) == ids, "plug_id_list of the JSON array differs");
  if (ids->empty()) return;
  check(plug_id_list(join(*ids, false)) == ids, "plug_id_list of the CSV differs");
  check(plug_id_list(join(*ids, true)) == ids, "plug_id_list of the upper-case CSV differs");
  check(plug_id_list(Json(join(*ids, false)).dump()) == ids,
        "plug_id_list of the JSON CSV differs");
}

void check_basic_credentials(std::string_view in) {
  if (const auto creds = basic_credentials(in)) {
    check(creds->first.find(':') == std::string::npos, "Basic name holds a ':'");
  }
  const auto colon = in.find(':');
  const std::string name(in.substr(0, colon));
  const std::string secret(colon == std::string_view::npos ? "" : in.substr(colon + 1));
  const std::string header = basic_authorization(name, secret);
  const std::string token = header.substr(std::min(header.size(), std::size_t{6}));
  check(header.starts_with("Basic ") && token.size() % 4 == 0 &&
            token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                    "0123456789+/=") == std::string::npos,
        "basic_authorization is not \"Basic \" and padded base64");
  for (const std::string& form :
       {header, "bAsIc  " + token + " \t", "Basic " + token.substr(0, token.find('='))}) {
    const auto creds = basic_credentials(form);
    check(creds && creds->first == name && creds->second == secret,
          "basic_credentials(basic_authorization(name, secret)) differs");
  }
}

// `ms` as ISO-8601 with `offset_min` minutes east of UTC; `style` picks among the forms that
// must all parse alike (separators, letter case, fraction digits, offset forms).
std::string iso8601(std::int64_t ms, int offset_min, unsigned style) {
  using namespace std::chrono;
  const sys_time<milliseconds> local{milliseconds{ms + std::int64_t{offset_min} * 60'000}};
  const auto day = floor<days>(local);
  const year_month_day ymd{day};
  const hh_mm_ss hms{local - day};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u%c%02d:%02d:%02d%c%03d%s",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), "Tt "[style % 3],
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()), style & 4 ? ',' : '.',
                static_cast<int>(hms.subseconds().count()), style & 8 ? "999" : "");
  std::string out = buf;
  if (offset_min == 0 && !(style & 16)) return out + (style & 32 ? "z" : "Z");
  const int off = std::abs(offset_min);
  const char sign = offset_min < 0 ? '-' : '+';
  if (off % 60 == 0 && style & 32) {
    std::snprintf(buf, sizeof buf, "%c%02d", sign, off / 60);
  } else {
    std::snprintf(buf, sizeof buf, "%c%02d%s%02d", sign, off / 60, style & 64 ? "" : ":", off % 60);
  }
  return out + buf;
}

// Times parse_time_ms reads as ISO-8601: years 0000 to 9999, a day's margin for the offset.
std::int64_t clamp_time(std::int64_t ms) {
  using namespace std::chrono;
  constexpr std::int64_t kDay = 86'400'000;
  const std::int64_t lo = sys_days{year{0} / 1 / 1}.time_since_epoch().count() * kDay + kDay;
  const std::int64_t hi = sys_days{year{9999} / 12 / 31}.time_since_epoch().count() * kDay - kDay;
  if (ms >= lo && ms <= hi) return ms;
  const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
  return lo + static_cast<std::int64_t>(static_cast<std::uint64_t>(ms) % span);
}

void check_parse_bound(std::string_view in) {
  if (const auto b = parse_bound(in)) {
    if (const auto* id = std::get_if<std::string>(&*b)) {
      check(plugmq::platform::normalize_oid(in) == *id, "record id bound is not the normalized id");
    } else {
      const std::int64_t ms = std::get<std::int64_t>(*b);
      const auto again = parse_bound(std::to_string(ms));
      check(again && std::get_if<std::int64_t>(&*again) && std::get<std::int64_t>(*again) == ms,
            "time bound printed as ms parses differently");
    }
  }
  // The input's first bytes as a time and an offset, printed as ISO-8601.
  unsigned char raw[11] = {};
  if (!in.empty()) std::memcpy(raw, in.data(), std::min(in.size(), sizeof raw));
  std::int64_t ms = 0;
  std::memcpy(&ms, raw, sizeof ms);
  ms = clamp_time(ms);
  const int offset_min = static_cast<int>((raw[8] | raw[9] << 8) % (2 * 1440 - 1)) - 1439;
  const std::string text = iso8601(ms, raw[10] & 128 ? 0 : offset_min, raw[10]);
  const auto b = parse_bound(text);
  check(b && std::get_if<std::int64_t>(&*b) && std::get<std::int64_t>(*b) == ms,
        "ISO-8601 time does not parse back");
}

void check_parse_count(std::string_view in) {
  const auto n = parse_count(in);
  const auto nonzero = in.find_first_not_of('0');
  const std::string_view digits =
      nonzero == std::string_view::npos ? std::string_view("0") : in.substr(nonzero);
  const bool fits = digits.size() < 19 || (digits.size() == 19 && digits <= "9223372036854775807");
  check(n.has_value() == (is_digits(in) && fits),
        "parse_count accepts a non-count or refuses a count");
  if (n) check(*n >= 0 && std::to_string(*n) == digits, "parse_count's value prints differently");
}

int depth_of(const Json& j) {
  int deepest = 0;
  if (j.is_structured()) {
    for (const auto& item : j) deepest = std::max(deepest, depth_of(item));
    return deepest + 1;
  }
  return 0;
}

bool numbers_finite(const Json& j) {
  if (j.is_number_float()) return std::isfinite(j.get<double>());
  if (!j.is_structured()) return true;
  return std::all_of(j.begin(), j.end(), [](const Json& item) { return numbers_finite(item); });
}

void check_parse_json(std::string_view in) {
  std::string why;
  std::optional<Json> j;
  try {
    j = parse_json(in, &why);
    check(parse_json(in, nullptr).has_value() == j.has_value(),
          "parse_json depends on its error pointer");
  } catch (...) {
    check(false, "parse_json throws");
  }
  const bool nlohmann_accepts = Json::accept(in);
  if (!j) {
    constexpr std::string_view kDeep = "body is nested more than 128 levels deep";
    const bool too_deep = why == kDeep;
    check(too_deep || why.starts_with("body is not valid JSON: parse error") ||
              why.starts_with("body has a number out of range: number overflow parsing '"),
          "parse_json's message is none of its three");
    check(why.size() <= 240, "parse_json's message repeats more than 200 bytes of the parser's");
    check(too_deep ? std::count_if(in.begin(), in.end(),
                                   [](char c) { return c == '[' || c == '{'; }) > 128
                   : !nlohmann_accepts,
          "parse_json refuses a body nlohmann accepts, or calls a shallow one deep");
    return;
  }
  check(nlohmann_accepts, "parse_json accepts a body nlohmann refuses");
  check(depth_of(*j) <= 128, "parse_json accepts a body over 128 levels deep");
  check(numbers_finite(*j), "parse_json accepts a number that is not finite");
  const std::string text = j->dump();
  const auto again = parse_json(text, nullptr);
  check(again && *again == *j, "parse_json of the dumped body differs");
}

void check_serials_csv(std::string_view in) {
  std::istringstream text{std::string(in)};
  std::string error;
  const auto got = plugmq::service::parse_serials_csv(text, "CSV", error);
  if (!got) {
    check(error.rfind("CSV line ", 0) == 0, "a CSV refusal names its line");
  } else {
    std::set<std::string> seen;
    std::size_t last = 0;
    for (const auto& s : *got) {
      check(plugmq::platform::valid_hwid(s.spec.hwid), "a CSV serial's HWID is valid");
      check(plugmq::platform::valid_secret(s.spec.enroll_pass), "its enroll password is valid");
      check(!s.spec.control_pass || plugmq::platform::valid_secret(*s.spec.control_pass),
            "its control password is valid");
      check(seen.insert(s.spec.hwid).second, "no HWID twice");
      check(s.line > last, "serials on increasing lines");
      last = s.line;
    }
  }
  // Each line's fields, quoted ("" for ") and joined, split back to themselves.
  std::string_view rest = in;
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    const auto fields = plugmq::service::split_csv(line);
    if (!fields) continue;
    check(!fields->empty(), "a line has a field");
    std::string joined;
    for (std::size_t i = 0; i < fields->size(); ++i) {
      joined += i ? ",\"" : "\"";
      for (char c : (*fields)[i]) joined += c == '"' ? std::string("\"\"") : std::string(1, c);
      joined += '"';
    }
    check(plugmq::service::split_csv(joined) == fields, "split_csv's fields quoted split back");
  }
}

void check_error_response(std::string_view in) {
  const Response r = error_response(400, in);
  const Json j = Json::parse(r.body, nullptr, false);
  check(r.status == 400 && j.is_object() && j.size() == 2 && j.contains("err") &&
            j.contains("msg") && j["err"] == 400 && j["msg"].is_string(),
        "error_response is not {\"err\",\"msg\"}");
  if (plugmq::platform::valid_utf8(in)) {
    check(j["msg"] == in, "error_response changes a UTF-8 message");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  check_percent_decode(in);
  check_split_target(in);
  check_plug_id_list(in);
  check_basic_credentials(in);
  check_parse_bound(in);
  check_parse_count(in);
  check_parse_json(in);
  check_error_response(in);
  check_serials_csv(in);
  return 0;
}
