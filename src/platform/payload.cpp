#include "plugmq/platform/payload.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "plugmq/platform/json.hpp"
#include "plugmq/platform/saturating.hpp"
#include "plugmq/platform/topic.hpp"

namespace plugmq::platform {
namespace {

// ordered_json keeps the members in the order the device sent them, so the stored and
// delivered data reads like what was published.
using Json = nlohmann::ordered_json;

std::string dump(const Json& j) {
  // Input was validated as UTF-8, so `replace` never fires; it only guarantees no exception.
  return dump_json(j);
}

// A JSON number as int64 (floats truncated toward zero); nothing for other types or when out
// of range.
std::optional<std::int64_t> json_int(const Json& v) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return std::nullopt;
    }
    return static_cast<std::int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_number_float()) {
    const double d = std::trunc(v.get<double>());
    // 2^63 is exactly representable; anything at or beyond it does not fit.
    if (!std::isfinite(d) || d >= 9223372036854775808.0 || d < -9223372036854775808.0) {
      return std::nullopt;
    }
    return static_cast<std::int64_t>(d);
  }
  return std::nullopt;
}

// A member that names something by a string ("of", "id"): nothing when absent or null, "" (which
// names nothing) when it is not a string.
std::optional<std::string> string_or_blank(const Json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return it->is_string() ? it->get<std::string>() : std::string();
}

// "at" and "expire_at": a ms number, a numeric string or an ISO-8601 string.
std::optional<std::int64_t> json_time(const Json& v) {
  if (v.is_string()) return parse_time_ms(v.get_ref<const std::string&>());
  return json_int(v);
}

// Howard Hinnant's days_from_civil: days since 1970-01-01 in the proleptic Gregorian
// calendar, with no dependence on the C library's time zone or locale.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool leap_year(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap_year(y) ? 29 : kDays[m - 1];
}

// "-?DIGITS(.DIGITS)?" as ms, the fraction truncated like a float "at".
std::optional<std::int64_t> parse_ms_number(std::string_view s) {
  const auto dot = s.find('.');
  const std::string_view whole = s.substr(0, dot);
  if (dot != std::string_view::npos) {
    const std::string_view frac = s.substr(dot + 1);
    if (frac.empty() || frac.find_first_not_of("0123456789") != std::string_view::npos) {
      return std::nullopt;
    }
  }
  const std::string_view digits = whole.starts_with('-') ? whole.substr(1) : whole;
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), v);
  if (ec != std::errc{} || end != whole.data() + whole.size()) return std::nullopt;
  return v;
}

// YYYY-MM-DD[(T|t| )HH:MM[:SS[(.|,)F+]]][Z|z|(+|-)HH[[:]MM]], no zone meaning UTC.
std::optional<std::int64_t> parse_iso8601(std::string_view s) {
  std::size_t i = 0;
  auto num = [&](std::size_t n, int& out) {
    if (s.size() - i < n) return false;
    out = 0;
    for (std::size_t k = 0; k < n; ++k, ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  auto lit = [&](char c) {
    if (i < s.size() && s[i] == c) return ++i, true;
    return false;
  };

  int year, month, day;
  if (!num(4, year) || !lit('-') || !num(2, month) || !lit('-') || !num(2, day)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return std::nullopt;
  std::int64_t ms = days_from_civil(year, month, day) * 86'400'000;
  if (i == s.size()) return ms;

  if (!(lit('T') || lit('t') || lit(' '))) return std::nullopt;
  int hour, minute, second = 0, millis = 0;
  if (!num(2, hour) || !lit(':') || !num(2, minute)) return std::nullopt;
  if (lit(':')) {
    if (!num(2, second)) return std::nullopt;
    if (lit('.') || lit(',')) {
      // Any number of fraction digits; the first three are the milliseconds.
      std::size_t digits = 0;
      for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++digits) {
        if (digits < 3) millis = millis * 10 + (s[i] - '0');
      }
      if (digits == 0) return std::nullopt;
      for (; digits < 3; ++digits) millis *= 10;
    }
  }
  // 60: a leap second, which Unix time folds into the next one.
  if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
  ms += (hour * 3600 + minute * 60 + second) * std::int64_t{1000} + millis;

  if (i == s.size()) return ms;  // no zone: UTC
  if (lit('Z') || lit('z')) return i == s.size() ? std::optional(ms) : std::nullopt;
  const bool plus = s[i] == '+';
  if (!(lit('+') || lit('-'))) return std::nullopt;
  int off_h, off_m = 0;
  if (!num(2, off_h)) return std::nullopt;
  if (i < s.size()) {
    lit(':');
    if (!num(2, off_m)) return std::nullopt;
  }
  if (i != s.size() || off_h > 23 || off_m > 59) return std::nullopt;
  const std::int64_t offset = (off_h * 60 + off_m) * std::int64_t{60'000};
  return plus ? ms - offset : ms + offset;
}

}  // namespace

std::optional<std::int64_t> parse_time_ms(std::string_view text) {
  if (text.empty()) return std::nullopt;
  // A date always has '-' after four digits; a ms number never does past its sign.
  if (text.size() >= 10 && text[4] == '-' && text[0] != '-') return parse_iso8601(text);
  return parse_ms_number(text);
}

// Payloads whose compact JSON form is the payload itself, recognised without building a
// document: a string without escapes or control characters, or an integer of up to 18 digits
// (no leading zeros, not "-0"). The result is byte for byte what parse + dump gives
// (payload_test checks the two agree); anything else takes the general path.
namespace {

bool is_compact_scalar(std::string_view p) {
  if (p.size() >= 2 && p.front() == '"' && p.back() == '"') {
    for (std::size_t i = 1; i + 1 < p.size(); ++i) {
      const auto c = static_cast<unsigned char>(p[i]);
      if (c < 0x20 || c == '"' || c == '\\') return false;
    }
    return true;
  }
  std::string_view digits = p;
  if (!digits.empty() && digits.front() == '-') digits.remove_prefix(1);
  if (digits.empty() || digits.size() > 18) return false;
  if (digits.front() == '0' && (digits.size() > 1 || p.front() == '-')) return false;
  return std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

DecodedPayload decode_payload(std::string_view payload, std::int64_t now_ms) {
  DecodedPayload out;
  out.envelope.at = now_ms;
  // JSON is UTF-8 too, so this one check covers steps 1-3 and makes dump() safe.
  if (!valid_utf8(payload)) {
    out.error = PayloadError::kBinary;
    return out;
  }

  if (is_compact_scalar(payload)) {
    out.envelope.data_json = std::string(payload);  // step 2, without a document
    return out;
  }

  Json j = json_depth_ok(payload) ? Json::parse(payload.begin(), payload.end(), nullptr, false)
                                  : Json(Json::value_t::discarded);
  if (j.is_discarded()) {
    // Step 3: text (including the empty payload) is the data, as a JSON string.
    out.envelope.data_json = dump(Json(std::string(payload)));
    return out;
  }

  const auto data = j.is_object() ? j.find("data") : j.end();
  if (data == j.end()) {
    out.envelope.data_json = dump(j);  // step 2: any other JSON value
    return out;
  }

  return decode_envelope(j, now_ms);  // step 1: the envelope
}

DecodedPayload decode_envelope(const nlohmann::ordered_json& j, std::int64_t now_ms) {
  DecodedPayload out;
  Envelope& env = out.envelope;
  env.at = now_ms;
  const auto data = j.is_object() ? j.find("data") : j.end();
  if (data == j.end()) {
    out.error = PayloadError::kBadEnvelope;
    return out;
  }
  env.data_json = dump(*data);
  auto bad = [&out] {
    out.error = PayloadError::kBadEnvelope;
    return out;
  };
  if (auto it = j.find("at"); it != j.end()) {
    auto at = json_time(*it);
    if (!at) return bad();
    env.at = *at;
  }
  if (auto it = j.find("ttl"); it != j.end()) {
    auto ttl = json_int(*it);
    // The cap keeps ttl * 1000 in int64 (callers still add it to "at" saturating).
    if (!ttl || *ttl < 0 || *ttl > std::numeric_limits<std::int64_t>::max() / 1000) {
      return bad();
    }
    env.ttl_s = *ttl;
  }
  if (auto it = j.find("expire_at"); it != j.end()) {
    auto expire_at = json_time(*it);
    if (!expire_at) return bad();
    env.expire_at = *expire_at;
  }
  env.of = string_or_blank(j, "of");
  env.id = string_or_blank(j, "id");
  return out;
}

std::string delivery_json(const Record& r) {
  char at[24];
  const auto res = std::to_chars(at, at + sizeof at, r.at);
  std::string out;
  out.reserve(r.id.size() + r.data_json.size() + 32);
  out += R"({"id":")";
  out += r.id;
  out += R"(","data":)";
  out += r.data_json;
  out += R"(,"at":)";
  out.append(at, res.ptr);
  out += '}';
  return out;
}

std::optional<std::int64_t> expiry_of(const Envelope& e, int retention_days) {
  if (e.expire_at) return e.expire_at;
  if (e.ttl_s) return saturating_add(e.at, saturating_mul(*e.ttl_s, 1000));
  if (retention_days > 0) return saturating_add(e.at, saturating_mul(retention_days, 86'400'000));
  return std::nullopt;
}

}  // namespace plugmq::platform
