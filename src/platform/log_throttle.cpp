#include "plugmq/platform/log_throttle.hpp"

#include <algorithm>
#include <vector>

namespace plugmq::platform {

namespace {

constexpr char kSeparator = '\0';  // between site and key in an entry's name

std::string entry_name(std::string_view site, std::string_view key) {
  std::string name;
  name.reserve(site.size() + 1 + key.size());
  name.append(site).push_back(kSeparator);
  name.append(key);
  return name;
}

}  // namespace

std::string with_thousands(std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string LogThrottle::Pass::suffix() const {
  if (suppressed == 0) return "";
  using std::chrono::seconds;
  const auto s = std::max<seconds::rep>(1, std::chrono::round<seconds>(over).count());
  return " (and " + with_thousands(suppressed) + " more like this in the last " +
         with_thousands(static_cast<std::uint64_t>(s)) + " s)";
}

LogThrottle::LogThrottle(Options options) : options_(options) {}

std::optional<LogThrottle::Pass> LogThrottle::pass(std::string_view site, std::string_view key,
                                                   Clock::time_point now) {
  std::lock_guard lock(mu_);
  std::string name = entry_name(site, key);
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    if (!key.empty()) {
      if (keyed_ >= options_.max_keys && !make_room(now)) {
        return pass_locked(site_entry(site), now);
      }
      ++keyed_;
    }
    it = entries_.emplace(std::move(name), Entry{}).first;
  }
  return pass_locked(it->second, now);
}

std::size_t LogThrottle::entries() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

std::optional<LogThrottle::Pass> LogThrottle::pass_locked(Entry& e, Clock::time_point now) {
  if (e.logged && now - e.last < options_.interval) {
    ++e.suppressed;
    return std::nullopt;
  }
  Pass p;
  p.suppressed = e.suppressed;
  if (e.suppressed > 0) p.over = now - e.since;
  e.last = e.since = now;
  e.suppressed = 0;
  e.logged = true;
  return p;
}

LogThrottle::Entry& LogThrottle::site_entry(std::string_view site) {
  return entries_[entry_name(site, {})];
}

// Drops the keyed entries whose interval has run out (their next line would be let through
// anyway); what they held back moves to their site's entry. False when none could go.
bool LogThrottle::make_room(Clock::time_point now) {
  if (now < next_room_) return false;
  struct Moved {
    std::string site;
    std::uint64_t suppressed;
    Clock::time_point since;
  };
  std::vector<Moved> moved;
  Clock::time_point next = Clock::time_point::max();
  for (auto it = entries_.begin(); it != entries_.end();) {
    const auto sep = it->first.find(kSeparator);
    const bool keyed = sep + 1 < it->first.size();
    if (!keyed) {
      ++it;
    } else if (now - it->second.last < options_.interval) {
      next = std::min(next, it->second.last + options_.interval);
      ++it;
    } else {
      if (it->second.suppressed > 0) {
        moved.push_back({it->first.substr(0, sep), it->second.suppressed, it->second.since});
      }
      it = entries_.erase(it);
      --keyed_;
    }
  }
  for (const auto& m : moved) {
    Entry& e = site_entry(m.site);
    e.since = e.suppressed > 0 ? std::min(e.since, m.since) : m.since;
    e.suppressed += m.suppressed;
  }
  next_room_ = keyed_ < options_.max_keys ? Clock::time_point{} : next;
  return keyed_ < options_.max_keys;
}

std::optional<LogThrottle::Pass> throttle_log(std::string_view site, std::string_view key) {
  static LogThrottle throttle;
  return throttle.pass(site, key, LogThrottle::Clock::now());
}

}  // namespace plugmq::platform
