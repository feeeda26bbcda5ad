#include "plugmq/broker/rate_limiter.hpp"

#include <algorithm>

namespace plugmq::broker {

void RateLimiter::prune(std::deque<Clock::time_point>& times, Clock::time_point now) const {
  while (!times.empty() && times.front() + window_ <= now) times.pop_front();
}

bool RateLimiter::blocked(const std::string& key, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = failures_.find(key);
  if (it == failures_.end()) return false;
  prune(it->second, now);
  if (it->second.empty()) {
    failures_.erase(it);
    return false;
  }
  return it->second.size() >= max_failures_;
}

void RateLimiter::failed(const std::string& key, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = failures_.find(key);
  if (it == failures_.end()) {
    if (failures_.size() >= max_keys_) {
      // Forget expired entries first; if none expired, the one that failed longest ago.
      for (auto e = failures_.begin(); e != failures_.end();) {
        prune(e->second, now);
        e = e->second.empty() ? failures_.erase(e) : std::next(e);
      }
      if (failures_.size() >= max_keys_) {
        auto oldest = std::min_element(failures_.begin(), failures_.end(), [](auto& a, auto& b) {
          return a.second.back() < b.second.back();
        });
        failures_.erase(oldest);
      }
    }
    it = failures_.emplace(key, std::deque<Clock::time_point>{}).first;
  }
  prune(it->second, now);
  it->second.push_back(now);
  // Only the last max_failures matter for the decision.
  while (it->second.size() > max_failures_) it->second.pop_front();
}

std::size_t RateLimiter::tracked() const {
  std::lock_guard lock(mu_);
  return failures_.size();
}

}  // namespace plugmq::broker
