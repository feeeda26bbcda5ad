#include "plugmq/platform/json.hpp"

namespace plugmq::platform {

std::optional<OrderedJson> parse_json(std::string_view text) {
  try {
    return OrderedJson::parse(text, json_depth_bound());
  } catch (const JsonTooDeep&) {
    return std::nullopt;
  } catch (const OrderedJson::exception&) {
    return std::nullopt;
  }
}

bool json_depth_ok(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

std::string quote_json(std::string_view s) { return dump_json(OrderedJson(std::string(s))); }

}  // namespace plugmq::platform
