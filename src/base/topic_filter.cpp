#include "plugmq/base/topic_filter.hpp"

#include <algorithm>

namespace plugmq::base {

bool filter_matches(std::string_view filter, std::string_view topic, DollarTopics dollar) noexcept {
  if (dollar == DollarTopics::kHidden && topic.starts_with('$') &&
      (filter.starts_with('+') || filter.starts_with('#'))) {
    return false;  // [MQTT-4.7.2-1]
  }
  std::size_t f = 0, t = 0;
  for (;;) {
    const std::size_t f_end = std::min(filter.find('/', f), filter.size());
    const std::string_view level = filter.substr(f, f_end - f);
    if (level == "#") return true;
    if (t > topic.size()) return false;  // the topic has no level left
    const std::size_t t_end = std::min(topic.find('/', t), topic.size());
    if (level != "+" && level != topic.substr(t, t_end - t)) return false;
    if (f_end == filter.size()) return t_end == topic.size();
    f = f_end + 1;
    t = t_end + 1;
  }
}

}  // namespace plugmq::base
