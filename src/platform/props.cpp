#include "plugmq/platform/props.hpp"

#include <algorithm>
#include <iterator>
#include <set>

#include "plugmq/platform/json.hpp"
#include "plugmq/platform/topic.hpp"

namespace plugmq::platform {
namespace {

// The channel of a link value {"channel":"CH"}; nothing for any other value.
std::optional<std::string> link_channel(const OrderedJson& v) {
  if (!v.is_object() || v.size() != 1) return std::nullopt;
  auto it = v.find("channel");
  if (it == v.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

bool blank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

PropSet set_error(std::string why) { return PropSet{{}, std::move(why)}; }

constexpr const char* kBadGet = "payload must be empty or a JSON array of property names";

}  // namespace

PropSet parse_prop_set(std::string_view payload) {
  auto parsed = parse_json(payload);
  if (!parsed || !parsed->is_object()) return set_error("payload must be a JSON object");
  PropSet out;
  out.changes.reserve(parsed->size());
  for (const auto& [name, value] : parsed->items()) {
    if (name.empty() || name.size() > kMaxPropName) {
      return set_error("property " + quote_json(name) + ": name must be 1..256 bytes");
    }
    if (value.is_null()) {
      out.changes.push_back({name, std::nullopt});
    } else if (auto channel = link_channel(value)) {
      if (!valid_channel(*channel)) {
        return set_error("property " + quote_json(name) + ": link channel " + quote_json(*channel) +
                         " is not a valid channel");
      }
      out.changes.push_back({name, dump_json(OrderedJson{{"channel", *channel}})});
    } else {
      out.changes.push_back({name, dump_json(value)});
    }
  }
  return out;
}

PropGet parse_prop_get(std::string_view payload) {
  PropGet out;
  if (blank(payload)) return out;
  auto parsed = parse_json(payload);
  if (!parsed || !parsed->is_array()) return PropGet{std::nullopt, kBadGet};
  out.names.emplace();
  std::set<std::string> seen;
  for (const auto& v : *parsed) {
    if (!v.is_string()) return PropGet{std::nullopt, kBadGet};
    if (seen.insert(v.get<std::string>()).second) out.names->push_back(v.get<std::string>());
  }
  return out;
}

std::string check_location(std::string_view value) {
  auto parsed = parse_json(value);
  if (!parsed || !parsed->is_object()) return "location must be a JSON object {x, y, z?, r?, t?}";
  struct Member {
    const char* name;
    bool required;
    double min, max;
  };
  constexpr double kAny = 1e308;
  constexpr Member kMembers[] = {{"x", true, -180, 180}, {"y", true, -90, 90},
                                 {"z", false, -kAny, kAny}, {"r", false, 0, kAny},
                                 {"t", false, 0, kAny}};
  for (const auto& item : parsed->items()) {
    const std::string& name = item.key();  // a named reference: clang's lambdas cannot capture
                                           // a structured binding
    const bool known = std::any_of(std::begin(kMembers), std::end(kMembers),
                                   [&](const Member& m) { return name == m.name; });
    if (!known) return "location: unknown member " + quote_json(name) + " (x, y, z, r, t)";
  }
  for (const Member& m : kMembers) {
    auto it = parsed->find(m.name);
    if (it == parsed->end()) {
      if (m.required) return std::string("location needs \"") + m.name + "\"";
      continue;
    }
    if (!it->is_number() || it->get<double>() < m.min || it->get<double>() > m.max) {
      return std::string("location: \"") + m.name + "\" must be a number" +
             (m.max < kAny ? " within " + std::to_string(static_cast<int>(m.min)) + ".." +
                                 std::to_string(static_cast<int>(m.max))
                           : m.min == 0 ? " >= 0" : "");
    }
  }
  return {};
}

std::optional<std::string> prop_link_channel(std::string_view stored) {
  // Only link values start with {"channel": and parse back to a link; other values are used as
  // stored, without parsing.
  if (!stored.starts_with("{\"channel\":")) return std::nullopt;
  auto v = parse_json(stored);
  if (!v) return std::nullopt;
  return link_channel(*v);
}

}  // namespace plugmq::platform
