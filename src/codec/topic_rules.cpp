// Topic name and topic filter syntax [MQTT-4.7].
#include <cstddef>
#include <string_view>

#include "plugmq/codec/codec.hpp"

namespace plugmq::codec {
namespace {

// Strings are length-prefixed with 16 bits on the wire [MQTT-1.5.3].
constexpr std::size_t kMaxStringLength = 65535;

}  // namespace

bool valid_topic(std::string_view topic) {
  // At least one character [MQTT-4.7.3-1]; wildcards are for filters only [MQTT-4.7.1-1]
  // [MQTT-3.3.2-2]. Empty levels ("a//b", "/a", "a/") are legal topic names.
  if (topic.empty() || topic.size() > kMaxStringLength) return false;
  // Two memchr scans; find_first_of would call memchr once per byte.
  if (topic.find('+') != std::string_view::npos || topic.find('#') != std::string_view::npos) {
    return false;
  }
  return valid_utf8(topic);
}

bool valid_filter(std::string_view filter) {
  if (filter.empty() || filter.size() > kMaxStringLength) return false;  // [MQTT-4.7.3-1]
  const std::size_t n = filter.size();
  for (std::size_t i = 0; i < n; ++i) {
    const char c = filter[i];
    if (c != '+' && c != '#') continue;
    // Both wildcards must occupy an entire level [MQTT-4.7.1-2] [MQTT-4.7.1-3].
    if (i != 0 && filter[i - 1] != '/') return false;
    if (c == '+') {
      if (i + 1 != n && filter[i + 1] != '/') return false;
    } else if (i + 1 != n) {
      return false;  // '#' must be the last character [MQTT-4.7.1-2]
    }
  }
  return valid_utf8(filter);
}

}  // namespace plugmq::codec
