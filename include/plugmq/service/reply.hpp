// The one table at the MQTT edge from an outcome (platform/outcome.hpp) to the `err` number of
// a device's JSON reply {"err":N,"msg":"..."}: the reply to an enrollment session's SUBSCRIBE
// (service/enrollment) and to a property request (service/properties). HTTP maps the same
// outcomes to its statuses in its own one table (http/outcome_status); the numbers agree where
// both protocols carry the same outcome. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "plugmq/platform/outcome.hpp"

namespace plugmq::service {

// The `err` number of the reply: 0 for kOk.
int reply_code(platform::PropOutcome outcome);
int reply_code(platform::EnrollOutcome outcome);

// The reply {"err":N,"msg":"..."} for a refused request.
std::string error_reply(int code, std::string_view msg);
template <class Outcome>
std::string error_reply(Outcome outcome, std::string_view msg) {
  return error_reply(reply_code(outcome), msg);
}

}  // namespace plugmq::service
