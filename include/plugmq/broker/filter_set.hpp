// The topic filters one session holds, with the QoS granted to each, so that it leaves the
// router with them at its end (and, for a persistent session, so that they can be kept); at
// most a limit of them (limits.max_subscriptions). Each operation is O(log n) in the filters
// held, so a SUBSCRIBE or UNSUBSCRIBE costs O(filters x log n), whatever came before it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace plugmq::broker {

class FilterSet {
 public:
  enum class Added : std::uint8_t {
    kNew,        // now held, at `qos`
    kHeld,       // held already at `qos`: nothing changes
    kRegranted,  // held already at another QoS: now at `qos` [MQTT-3.8.4-3]
    kOverLimit,  // not held, and `limit` filters are
  };

  Added add(std::string_view filter, std::uint8_t qos, std::size_t limit) {
    auto at = filters_.lower_bound(filter);
    if (at != filters_.end() && at->first == filter) {
      if (at->second == qos) return Added::kHeld;
      at->second = qos;
      return Added::kRegranted;
    }
    if (filters_.size() >= limit) return Added::kOverLimit;
    filters_.emplace_hint(at, filter, qos);
    return Added::kNew;
  }

  // False when it was not held.
  bool remove(std::string_view filter) {
    auto it = filters_.find(filter);
    if (it == filters_.end()) return false;
    filters_.erase(it);
    return true;
  }

  // The QoS granted to `filter`; nothing when it is not held.
  std::optional<std::uint8_t> qos_of(std::string_view filter) const {
    auto it = filters_.find(filter);
    if (it == filters_.end()) return std::nullopt;
    return it->second;
  }

  // Removes one filter and returns it. REQUIRES: !empty().
  std::string take_one() { return std::move(filters_.extract(filters_.begin()).key()); }

  // Calls f(filter, qos) for each filter held, in filter order.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [filter, qos] : filters_) f(std::string_view(filter), qos);
  }

  std::size_t size() const { return filters_.size(); }
  bool empty() const { return filters_.empty(); }

 private:
  std::map<std::string, std::uint8_t, std::less<>> filters_;
};

}  // namespace plugmq::broker
