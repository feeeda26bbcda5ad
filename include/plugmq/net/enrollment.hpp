// Enrollments (SPEC 5) as MQTT sessions and the HTTP API run them: on the store thread,
// within the enrollment limits (failed attempts per client address and per serial, attempts in
// flight included), the enroll or control password checked on the HashPool (net/attempt.hpp).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <string>

#include "plugmq/net/context.hpp"
#include "plugmq/store/fleet.hpp"

namespace plugmq::net {

// The store's part: Fleet::enroll_thing, enroll_controller or control_thing with the password
// as offered. Runs on the store thread (twice when the password is checked in between).
using EnrollStep = std::function<store::EnrollResult(StoreWorker::Repos&, const store::Secret&)>;

struct EnrollAttempt {
  std::string address;  // the client's, without the port
  std::string serial;   // what the password guards: "thing:MODEL/HWID", "ctrl:MODEL/HWID"
  std::string pass;
  const char* wrong_pass;  // the 401 message: "wrong enroll password", ...
  // Whether the enrollment is still wanted after a wait (net/attempt.hpp); empty: while the
  // server runs.
  std::function<bool()> wanted = {};
};

// The enrollment's result: the step's, or 429 (a limit refused it unchecked), 503 (too many
// password checks queued, or no longer wanted: nothing was enrolled), 401 (wrong password),
// 500 (the store failed; log_detail says why).
boost::asio::awaitable<store::EnrollResult> run_enrollment(Context& ctx, const EnrollAttempt& a,
                                                           const EnrollStep& step);

// Whether a refused enrollment counts against the limits: a guess, not a server's trouble.
inline bool counts_as_failure(const store::EnrollResult& r) {
  using platform::EnrollOutcome;
  return !r.ok() && !r.needs_check() && r.outcome != EnrollOutcome::kTooManyAttempts &&
         r.outcome != EnrollOutcome::kFailed && r.outcome != EnrollOutcome::kBusy;
}

}  // namespace plugmq::net
