// The topic filters one session holds, so that it leaves the router with them at its end; at
// most a limit of them (limits.max_subscriptions). Each operation is O(log n) in the filters
// held, so a SUBSCRIBE or UNSUBSCRIBE costs O(filters x log n), whatever came before it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>

namespace plugmq::broker {

class FilterSet {
 public:
  enum class Added : std::uint8_t {
    kNew,        // now held
    kHeld,       // held already: nothing changes [MQTT-3.8.4-3]
    kOverLimit,  // not held, and `limit` filters are
  };

  Added add(std::string_view filter, std::size_t limit) {
    auto at = filters_.lower_bound(filter);
    if (at != filters_.end() && *at == filter) return Added::kHeld;
    if (filters_.size() >= limit) return Added::kOverLimit;
    filters_.emplace_hint(at, filter);
    return Added::kNew;
  }

  // False when it was not held.
  bool remove(std::string_view filter) {
    auto it = filters_.find(filter);
    if (it == filters_.end()) return false;
    filters_.erase(it);
    return true;
  }

  // Removes one filter and returns it. REQUIRES: !empty().
  std::string take_one() { return std::move(filters_.extract(filters_.begin()).value()); }

  std::size_t size() const { return filters_.size(); }
  bool empty() const { return filters_.empty(); }

 private:
  std::set<std::string, std::less<>> filters_;
};

}  // namespace plugmq::broker
