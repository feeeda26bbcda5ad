// Enrollments (SPEC 5) as MQTT sessions and the HTTP API run them: on the store thread,
// within the enrollment limits (failed attempts per client address and per serial, attempts in
// flight included), the enroll or control password checked on the HashPool (service/attempt.hpp).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <string>
#include <string_view>

#include "plugmq/service/context.hpp"
#include "plugmq/store/fleet.hpp"

namespace plugmq::service {

// The store's part: Fleet::enroll_thing, enroll_controller or control_thing with the password
// as offered. Runs on the store thread (twice when the password is checked in between).
using EnrollStep = std::function<store::EnrollResult(StoreExecutor::Repos&, const store::Secret&)>;

struct EnrollAttempt {
  std::string address;  // the client's, without the port
  std::string serial;   // what the password guards: "thing:MODEL/HWID", "ctrl:MODEL/HWID"
  std::string pass;
  const char* wrong_pass;  // the 401 message: "wrong enroll password", ...
  // Whether the enrollment is still wanted after a wait (service/attempt.hpp); empty: while the
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

// Counts an enrollment's outcome (counters.enrolled, counters.enroll_failed) and logs it,
// as "{who}: enrolled {what} {id}{detail}"; a refusal at most every few seconds per `address`
// (`site` names the log throttle: one per protocol), a store failure always, as an error.
void record_enrollment(Context& ctx, const store::EnrollResult& r, std::string_view who,
                       std::string_view what, std::string_view detail, std::string_view site,
                       const std::string& address);

// What an MQTT enrollment session publishes back on its enrollment topic.
struct EnrollReply {
  bool ok = false;
  std::string json;  // {"id":...,"auth":...}, or {"err":...,"msg":...}
};

// An MQTT enrollment session's one SUBSCRIBE (SPEC 5): `topic` is "MODEL/thing/PASS" or
// "MODEL/ctrl/THING_HWID/PASS" (it holds a password: never logged), `client_id` the session's
// ("HWID" or "HWID/NAME"; empty when the server assigned it). Enrolls within the limits, while
// `wanted` holds; counts and logs the outcome (prefixed by `log_peer` and `log_client`); a new
// device joins the directory at once.
// REQUIRES: the referenced arguments outlive the await.
boost::asio::awaitable<EnrollReply> enroll_by_topic(Context& ctx, const std::string& topic,
                                                    const std::string& client_id,
                                                    const std::string& address,
                                                    const std::function<bool()>& wanted,
                                                    const std::string& log_peer,
                                                    std::string_view log_client);

}  // namespace plugmq::service
