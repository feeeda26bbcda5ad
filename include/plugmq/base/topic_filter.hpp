// MQTT topic filter matching, the one implementation behind channel masks (store) and the
// reference the broker's topic trie is tested against. Freestanding: usable by every module.
#pragma once

#include <string_view>

namespace plugmq::base {

// Whether a filter that begins with a wildcard matches a topic that begins with '$'.
enum class DollarTopics {
  kHidden,  // MQTT topics: it does not [MQTT-4.7.2-1]
  kPlain,   // data channels: '$' is an ordinary character there
};

// MQTT filter matching by levels (MQTT 3.1.1 section 4.7): '+' is one level, possibly empty; a
// last '#' is every remaining level, including none ("a/#" matches "a") [MQTT-4.7.1-2].
// REQUIRES: `filter` is a valid filter (wildcards only as whole levels, '#' last). No
// allocation; thread-safe, never throws.
bool filter_matches(std::string_view filter, std::string_view topic,
                    DollarTopics dollar = DollarTopics::kHidden) noexcept;

}  // namespace plugmq::base
