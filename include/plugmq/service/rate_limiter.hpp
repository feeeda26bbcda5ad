// Limits attempts that check a secret (a login, an enrollment) per key: a client address, an
// identity (SPEC 5: 429 after too many failed enrollment attempts; failed logins likewise).
//
// A key allows at most `max_failures` failures within a sliding window, and an attempt still in
// flight counts as one until it ends. An attempt takes its place (begin) before its secret is
// checked and gives it back with its outcome (end), so attempts sent in parallel cannot get past
// the limit together: at most max_failures secrets of one key are ever checked per window.
//
// A new attempt is refused at once when failures alone fill the window. When attempts in flight
// hold the remaining places it waits instead: one of them may succeed and give its place back
// (a fleet behind one NAT address logs in together). At most `max_waiting` attempts wait per
// key; more are refused.
//
// Time is a parameter. Thread-safe. Memory is bounded: at most `max_keys` keys without attempts
// in flight are kept; when full, the one whose last failure is oldest is forgotten first.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace plugmq::service {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Admission { kGranted, kBlocked };
  // Tells a waiting attempt its admission, once. Runs on the thread that ended another attempt
  // (or called cancel_waiting), outside the limiter's lock: it must not block.
  using Resume = std::function<void(Admission)>;

  RateLimiter(unsigned max_failures, Clock::duration window, std::size_t max_keys = 65536,
              std::size_t max_waiting = 4096);

  // kGranted: the attempt holds a place, to give back with end(). kBlocked: refused. Nothing:
  // the attempt waits, and `resume` will tell its admission (kGranted holds a place as above).
  std::optional<Admission> begin(const std::string& key, Clock::time_point now, Resume resume);
  // begin() for a caller that cannot wait: true when the attempt holds a place at once.
  bool try_begin(const std::string& key, Clock::time_point now);
  // Gives back the place of an attempt of `key` that begin() granted; a failed one counts as a
  // failure at `now`.
  void end(const std::string& key, Clock::time_point now, bool failed);
  // Refuses every waiting attempt (the server is stopping).
  void cancel_waiting();
  // Changes the failures allowed per window (SIGHUP), for the attempts from now on.
  void set_max_failures(unsigned max_failures);

  std::size_t tracked() const;
  std::size_t in_flight(const std::string& key) const;

 private:
  struct Entry {
    std::deque<Clock::time_point> failures;  // within the window, oldest first
    unsigned in_flight = 0;
    std::deque<Resume> waiting;
    bool idle() const { return in_flight == 0 && waiting.empty(); }
  };
  void prune(Entry& e, Clock::time_point now) const;
  bool full(const Entry& e) const { return e.failures.size() + e.in_flight >= max_failures_; }
  Entry& entry(const std::string& key, Clock::time_point now);  // REQUIRES: mu_ held
  // Admits or refuses waiting attempts as places free up; the calls to make after unlocking.
  void settle(Entry& e, Clock::time_point now, std::vector<std::pair<Resume, Admission>>& out);

  unsigned max_failures_;  // guarded by mu_
  const Clock::duration window_;
  const std::size_t max_keys_;
  const std::size_t max_waiting_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace plugmq::service
