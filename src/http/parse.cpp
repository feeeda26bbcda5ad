#include "plugmq/http/parse.hpp"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "plugmq/http/message.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/json.hpp"
#include "plugmq/platform/payload.hpp"

namespace plugmq::http {

namespace {

// The most of a parser's message a 400 repeats: it quotes the offending token, which may be as
// long as the body.
constexpr std::size_t kMaxParserMessage = 200;

// nlohmann's message without its "[json.exception.parse_error.101] " tag, at most
// kMaxParserMessage bytes.
std::string parser_message(const nlohmann::json::exception& e) {
  std::string_view what = e.what();
  if (const auto close = what.find("] "); close != std::string_view::npos) {
    what.remove_prefix(close + 2);
  }
  if (what.size() <= kMaxParserMessage) return std::string(what);
  return std::string(what.substr(0, kMaxParserMessage)) + "...";
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
           return lower(x) == lower(y);
         });
}

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  unsigned bits = 0;
  int nbits = 0;
  for (unsigned char c : in) {
    bits = (bits << 8) | c;
    nbits += 8;
    while (nbits >= 6) {
      nbits -= 6;
      out += kBase64[(bits >> nbits) & 63];
    }
  }
  if (nbits > 0) out += kBase64[(bits << (6 - nbits)) & 63];
  while (out.size() % 4) out += '=';
  return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  unsigned bits = 0;
  int nbits = 0;
  for (char c : in) {
    const int v = value(c);
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<unsigned>(v);
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      out += static_cast<char>((bits >> nbits) & 0xFF);
    }
  }
  return out;
}

// Appends the Plug-IDs of a comma-separated list; false when an item is not one. Empty items
// ("a,,b", a trailing comma) are skipped: clients build these lists by joining.
bool append_csv(std::string_view csv, std::vector<std::string>& out) {
  std::size_t pos = 0;
  for (;;) {
    const auto comma = std::min(csv.find(',', pos), csv.size());
    const auto item = trim(csv.substr(pos, comma - pos));
    if (!item.empty()) {
      auto id = platform::normalize_plug_id(item, platform::IdKind::kDevice);
      if (!id) return false;
      if (std::find(out.begin(), out.end(), *id) == out.end()) out.push_back(std::move(*id));
    }
    if (comma == csv.size()) return true;
    pos = comma + 1;
  }
}

}  // namespace

const std::string* Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return &v;
  }
  return nullptr;
}

Response json_response(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response error_response(int status, std::string_view msg) {
  nlohmann::json j = {{"err", status}, {"msg", std::string(msg)}};
  return json_response(status, platform::dump_json(j));
}

const char* reason_of(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;  // needs two more characters
    const int hi = platform::hex_value(s[i + 1]);
    const int lo = platform::hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi << 4 | lo);
    i += 2;
  }
  return out;
}

std::optional<Target> split_target(std::string_view target) {
  if (target.empty() || target.front() != '/') return std::nullopt;
  Target t;
  const auto q = target.find('?');
  t.path = std::string(target.substr(0, q));
  if (!percent_decode(t.path)) return std::nullopt;  // checked now, decoded per segment later
  if (q == std::string_view::npos) return t;
  std::string_view query = target.substr(q + 1);
  // A fragment is never sent by clients; tolerate one anyway.
  if (auto hash = query.find('#'); hash != std::string_view::npos) query = query.substr(0, hash);
  std::size_t pos = 0;
  while (pos <= query.size()) {
    const auto amp = std::min(query.find('&', pos), query.size());
    const auto item = query.substr(pos, amp - pos);
    if (!item.empty()) {
      const auto eq = item.find('=');
      auto name = percent_decode(item.substr(0, eq));
      auto value = percent_decode(eq == std::string_view::npos ? std::string_view{}
                                                               : item.substr(eq + 1));
      if (!name || !value) return std::nullopt;
      t.query.emplace_back(std::move(*name), std::move(*value));
    }
    pos = amp + 1;
  }
  return t;
}

std::optional<std::string> query_value(const Target& t, std::string_view name) {
  std::optional<std::string> out;
  for (const auto& [k, v] : t.query) {
    if (k == name) out = v;
  }
  return out;
}

std::optional<std::vector<std::string>> split_list(std::string_view csv) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  for (;;) {
    const auto comma = std::min(csv.find(',', pos), csv.size());
    const auto item = trim(csv.substr(pos, comma - pos));
    if (item.empty()) return std::nullopt;
    out.emplace_back(item);
    if (comma == csv.size()) return out;
    pos = comma + 1;
  }
}

std::optional<std::vector<std::string>> query_list(const Target& t, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [k, v] : t.query) {
    if (k != name) continue;
    auto items = split_list(v);
    if (!items) return std::nullopt;
    out.insert(out.end(), std::make_move_iterator(items->begin()),
               std::make_move_iterator(items->end()));
  }
  return out;
}

std::optional<std::vector<std::string>> plug_id_list(std::string_view text) {
  std::vector<std::string> out;
  const auto body = trim(text);
  if (body.empty()) return std::nullopt;
  if (body.front() == '[' || body.front() == '"') {
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    if (j.is_string()) {
      if (!append_csv(j.get_ref<const std::string&>(), out)) return std::nullopt;
      return out;
    }
    for (const auto& item : j) {
      if (!item.is_string()) return std::nullopt;
      if (!append_csv(item.get_ref<const std::string&>(), out)) return std::nullopt;
    }
    return out;
  }
  if (!append_csv(body, out) || out.empty()) return std::nullopt;
  return out;
}

std::optional<std::pair<std::string, std::string>> basic_credentials(std::string_view header) {
  header = trim(header);
  const auto space = header.find(' ');
  if (space == std::string_view::npos || !iequals(header.substr(0, space), "basic")) {
    return std::nullopt;
  }
  auto decoded = base64_decode(trim(header.substr(space + 1)));
  if (!decoded) return std::nullopt;
  const auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::make_pair(decoded->substr(0, colon), decoded->substr(colon + 1));
}

std::string basic_authorization(std::string_view email, std::string_view password) {
  std::string pair(email);
  pair += ':';
  pair += password;
  return "Basic " + base64_encode(pair);
}

std::optional<Bound> parse_bound(std::string_view text) {
  if (auto oid = platform::normalize_oid(text)) return Bound(std::move(*oid));
  if (auto ms = platform::parse_time_ms(text)) return Bound(*ms);
  return std::nullopt;
}

std::optional<std::int64_t> parse_count(std::string_view text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<nlohmann::ordered_json> parse_json(std::string_view body, std::string* error) {
  using Json = nlohmann::ordered_json;
  std::string why;
  try {
    return Json::parse(body, platform::json_depth_bound());
  } catch (const platform::JsonTooDeep&) {
    why = "body is nested more than 128 levels deep";
  } catch (const Json::out_of_range& e) {
    // "[json.exception.out_of_range.406] number overflow parsing '1e999'"
    why = "body has a number out of range: " + parser_message(e);
  } catch (const Json::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 2: syntax error ..."
    why = "body is not valid JSON: " + parser_message(e);
  }
  if (error) *error = std::move(why);
  return std::nullopt;
}

}  // namespace plugmq::http
