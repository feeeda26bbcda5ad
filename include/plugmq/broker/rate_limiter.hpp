// Counts failures per key (a client address) over a sliding window (SPEC 5: 429 after too many
// failed enrollment attempts from one address). Time is a parameter. Thread-safe.
//
// Memory is bounded: at most `max_keys` addresses are tracked; when full, the entry whose last
// failure is oldest is forgotten first.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace plugmq::broker {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  RateLimiter(unsigned max_failures, Clock::duration window, std::size_t max_keys = 65536)
      : max_failures_(max_failures), window_(window), max_keys_(max_keys) {}

  // True when `key` already has max_failures failures within the window ending at `now`.
  bool blocked(const std::string& key, Clock::time_point now);
  // Records one failure of `key` at `now`.
  void failed(const std::string& key, Clock::time_point now);

  std::size_t tracked() const;

 private:
  void prune(std::deque<Clock::time_point>& times, Clock::time_point now) const;

  const unsigned max_failures_;
  const Clock::duration window_;
  const std::size_t max_keys_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::deque<Clock::time_point>> failures_;
};

}  // namespace plugmq::broker
