// Pure pieces of the REST API: request-targets, percent-decoding, query values, Plug-ID lists,
// Basic credentials, time bounds, JSON bodies. No I/O, no store; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace plugmq::http {

// RFC 3986 percent-decoding: "%2F" is '/', "%2b" is '+', "%23" is '#' (hex digits in either
// case). '+' stays '+' (form encoding is not used: a '+' in a channel mask is a wildcard, in a
// time zone an offset). Nothing for a '%' not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view s);

// A request-target split at '?': the path as sent (segments are decoded by the router, so an
// encoded '/' stays inside its segment) and the query's name=value pairs, both decoded, in
// order. Nothing when the target is not an absolute path or an escape is malformed.
struct Target {
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
};
std::optional<Target> split_target(std::string_view target);

// The value of query parameter `name`: the last one given; repeated parameters of a list
// (of, at) are joined with ',' by query_list().
std::optional<std::string> query_value(const Target& t, std::string_view name);
// The items of a comma-separated list, each trimmed of blanks. Nothing when the list or one of
// its items is empty ("", "a,,b", "a,"): a list filter that names nothing is refused, never
// read as "no filter" (which a client's stray comma, or "at=%2C", would otherwise select).
std::optional<std::vector<std::string>> split_list(std::string_view csv);
// Every value of `name`, each split by split_list(); empty when absent, nothing when a value
// or an item is empty.
std::optional<std::vector<std::string>> query_list(const Target& t, std::string_view name);

// A list of Plug-IDs (devices), as a body may carry it (SPEC 10): a JSON array of strings, a
// JSON string with one Plug-ID or a comma-separated list, or the same bare and unquoted
// ("dev-a,dev-b"; spaces around items are ignored). Lowercase, in order, without repeats.
// Nothing when an item is not a device Plug-ID or the text is none of these forms; an empty
// list for "[]".
std::optional<std::vector<std::string>> plug_id_list(std::string_view text);

// "Basic base64(EMAIL:PASSWORD)" (scheme case-insensitive): the two halves, split at the first
// ':'. Nothing when malformed.
std::optional<std::pair<std::string, std::string>> basic_credentials(std::string_view header);
// The header basic_credentials() reads: "Basic " and base64(EMAIL:PASSWORD), padded. For
// clients (tests, benches).
std::string basic_authorization(std::string_view email, std::string_view password);

// A history bound (before/after): a record id (24 hex digits) or a time (ms number, numeric
// string, ISO-8601). Nothing when it is neither.
using Bound = std::variant<std::int64_t, std::string>;
std::optional<Bound> parse_bound(std::string_view text);

// A non-negative decimal integer (offset, limit); nothing when malformed or over int64.
std::optional<std::int64_t> parse_count(std::string_view text);

// A request body as JSON, members in the order sent. Nothing, with the message for the 400 in
// `error` (when given), when it is not valid JSON, nests more than 128 levels deep (nlohmann
// dumps recursively) or has a number beyond a double's range (1e999): a refusal, never an
// exception. An integer too long for 64 bits that fits a double is that double.
std::optional<nlohmann::ordered_json> parse_json(std::string_view body, std::string* error);

}  // namespace plugmq::http
