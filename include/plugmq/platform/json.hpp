// JSON as the platform reads and writes it: one depth bound and one way to dump.
//
// nlohmann parses iteratively but dumps recursively, so a document of a million '[' would
// overflow the stack on dump(): every JSON the server parses from a client is bounded to
// kMaxJsonDepth nested arrays and objects. Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace plugmq::platform {

// ordered_json keeps object members in the order they were sent, so stored and delivered JSON
// reads like what the client wrote.
using OrderedJson = nlohmann::ordered_json;

// The most arrays and objects one inside another.
inline constexpr int kMaxJsonDepth = 128;

// What json_depth_bound() throws from inside the parser.
struct JsonTooDeep {};

// A parser callback for Json::parse that throws JsonTooDeep at an array or object nested deeper
// than kMaxJsonDepth. (`depth` counts the containers around the event: one opening at
// kMaxJsonDepth would be one level too many.)
template <class Json = OrderedJson>
auto json_depth_bound() {
  return [](int depth, typename Json::parse_event_t event, Json&) {
    const bool opens =
        event == Json::parse_event_t::array_start || event == Json::parse_event_t::object_start;
    if (opens && depth >= kMaxJsonDepth) throw JsonTooDeep{};
    return true;
  };
}

// `text` parsed, or nothing when it is malformed or nested deeper than kMaxJsonDepth.
std::optional<OrderedJson> parse_json(std::string_view text);

// Whether `text` nests at most kMaxJsonDepth arrays and objects, without parsing it (brackets
// inside strings do not count); malformed text may pass.
bool json_depth_ok(std::string_view text);

// Compact JSON text. Invalid UTF-8 in strings becomes U+FFFD instead of an exception (input is
// checked before it gets here; this only guarantees dump() never throws).
template <class Json>
std::string dump_json(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// A JSON string literal for `s`.
std::string quote_json(std::string_view s);

}  // namespace plugmq::platform
