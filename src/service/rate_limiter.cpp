#include "plugmq/service/rate_limiter.hpp"

#include <algorithm>
#include <utility>

namespace plugmq::service {

namespace {

using Calls = std::vector<std::pair<RateLimiter::Resume, RateLimiter::Admission>>;

void run(Calls& calls) {
  for (auto& [resume, admission] : calls) resume(admission);
}

}  // namespace

RateLimiter::RateLimiter(unsigned max_failures, Clock::duration window, std::size_t max_keys,
                         std::size_t max_waiting)
    : max_failures_(std::max(1u, max_failures)),
      window_(window),
      max_keys_(max_keys),
      max_waiting_(max_waiting) {}

void RateLimiter::set_max_failures(unsigned max_failures) {
  std::lock_guard lock(mu_);
  max_failures_ = std::max(1u, max_failures);
}

void RateLimiter::prune(Entry& e, Clock::time_point now) const {
  while (!e.failures.empty() && e.failures.front() + window_ <= now) e.failures.pop_front();
}

RateLimiter::Entry& RateLimiter::entry(const std::string& key, Clock::time_point now) {
  if (auto it = entries_.find(key); it != entries_.end()) return it->second;
  if (entries_.size() >= max_keys_) {
    // Forget keys with nothing in the window first; if none, the one that failed longest ago.
    // Keys with attempts in flight or waiting are kept: they are bounded by the connections.
    auto oldest = entries_.end();
    for (auto e = entries_.begin(); e != entries_.end();) {
      prune(e->second, now);
      if (e->second.idle() && e->second.failures.empty()) {
        e = entries_.erase(e);
        continue;
      }
      if (e->second.idle() && (oldest == entries_.end() ||
                               e->second.failures.back() < oldest->second.failures.back())) {
        oldest = e;
      }
      ++e;
    }
    if (entries_.size() >= max_keys_ && oldest != entries_.end()) entries_.erase(oldest);
  }
  return entries_[key];
}

std::optional<RateLimiter::Admission> RateLimiter::begin(const std::string& key,
                                                         Clock::time_point now, Resume resume) {
  Calls calls;  // waiting attempts whose failures left the window meanwhile
  std::optional<Admission> admission;
  {
    std::lock_guard lock(mu_);
    Entry& e = entry(key, now);
    settle(e, now, calls);
    if (!full(e) && e.waiting.empty()) {
      ++e.in_flight;
      admission = Admission::kGranted;
    } else if (e.failures.size() >= max_failures_ || e.in_flight == 0 ||
               e.waiting.size() >= max_waiting_) {
      // Failures alone fill the window: refused. Else an attempt in flight may still succeed
      // and give its place back.
      admission = Admission::kBlocked;
      if (e.idle() && e.failures.empty()) entries_.erase(key);
    } else {
      e.waiting.push_back(std::move(resume));
    }
  }
  run(calls);
  return admission;
}

bool RateLimiter::try_begin(const std::string& key, Clock::time_point now) {
  Calls calls;
  bool granted = false;
  {
    std::lock_guard lock(mu_);
    Entry& e = entry(key, now);
    settle(e, now, calls);
    if (!full(e) && e.waiting.empty()) {
      ++e.in_flight;
      granted = true;
    } else if (e.idle() && e.failures.empty()) {
      entries_.erase(key);
    }
  }
  run(calls);
  return granted;
}

void RateLimiter::settle(Entry& e, Clock::time_point now, Calls& out) {
  prune(e, now);
  while (!e.waiting.empty()) {
    if (!full(e)) {
      ++e.in_flight;
      out.emplace_back(std::move(e.waiting.front()), Admission::kGranted);
    } else if (e.in_flight == 0) {
      out.emplace_back(std::move(e.waiting.front()), Admission::kBlocked);
    } else {
      return;  // the attempts in flight decide
    }
    e.waiting.pop_front();
  }
}

void RateLimiter::end(const std::string& key, Clock::time_point now, bool failed) {
  Calls calls;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    Entry& e = it->second;
    if (e.in_flight > 0) --e.in_flight;
    if (failed) {
      prune(e, now);
      e.failures.push_back(now);
      // Only the last max_failures matter for the decision.
      while (e.failures.size() > max_failures_) e.failures.pop_front();
    }
    settle(e, now, calls);
    if (e.idle() && e.failures.empty()) entries_.erase(it);
  }
  run(calls);
}

void RateLimiter::cancel_waiting() {
  Calls calls;
  {
    std::lock_guard lock(mu_);
    for (auto& [_, e] : entries_) {
      for (auto& r : e.waiting) calls.emplace_back(std::move(r), Admission::kBlocked);
      e.waiting.clear();
    }
  }
  run(calls);
}

std::size_t RateLimiter::tracked() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

std::size_t RateLimiter::in_flight(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  return it == entries_.end() ? 0 : it->second.in_flight;
}

}  // namespace plugmq::service
