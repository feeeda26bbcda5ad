// Keeps a log line that can repeat without bound (an attacker's bad logins, a failing disk, a
// listener out of descriptors) from filling the log: a line is logged at most once per interval
// for its site and key, and the next one that is logged says how many were held back meanwhile.
//
// The throttle only decides; the caller logs:
//
//   if (auto t = platform::throttle_log("bad credentials", address))
//     spdlog::info("{}: bad credentials for {}{}", peer, user, t->suffix());
//
// The first occurrence of a site and key is always let through. Memory is bounded: at most
// max_keys keyed entries (the oldest quiet ones make room), plus one entry per site; an
// occurrence that finds no room counts under its site's own entry (key "").
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace plugmq::platform {

// 1234567 -> "1,234,567".
std::string with_thousands(std::uint64_t n);

class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    Clock::duration interval = std::chrono::seconds(10);  // one line per site and key per this
    std::size_t max_keys = 1024;                          // keyed entries held at most
  };

  // A line to log now, with the ones of its site and key held back since the previous one.
  struct Pass {
    std::uint64_t suppressed = 0;
    Clock::duration over{};  // how long those were held back over
    // "" when none were; else " (and 1,234 more like this in the last 10 s)".
    std::string suffix() const;
  };

  LogThrottle() : LogThrottle(Options{}) {}
  explicit LogThrottle(Options options);

  // `site` names the log statement (a fixed string: there is one entry per site); `key` tells
  // its lines apart (an address), or is empty. Nothing: hold this one back (it is counted).
  // Thread-safe.
  std::optional<Pass> pass(std::string_view site, std::string_view key, Clock::time_point now);

  // Entries held, keyed and per site.
  std::size_t entries() const;

 private:
  struct Entry {
    Clock::time_point last{};   // when the last line was let through
    Clock::time_point since{};  // when the count of held-back lines started
    std::uint64_t suppressed = 0;
    bool logged = false;  // false: the next occurrence is let through at once
  };

  std::optional<Pass> pass_locked(Entry& e, Clock::time_point now);
  Entry& site_entry(std::string_view site);
  bool make_room(Clock::time_point now);

  const Options options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // "site\0key"
  std::size_t keyed_ = 0;                           // entries with a key
  Clock::time_point next_room_{};  // no keyed entry can be quiet long enough before this
};

// The process's throttle (10 s, 1024 keys) at the current time: what the server's repeated log
// lines go through.
std::optional<LogThrottle::Pass> throttle_log(std::string_view site, std::string_view key = {});

}  // namespace plugmq::platform
