// The outcomes of a device's property and enrollment requests (SPEC 4, SPEC 5), and the one
// table from an outcome to the `err` number of the device's JSON reply {"err":N,"msg":"..."}.
// HTTP maps the same outcomes to its statuses in its own table (http/outcome_status). Pure;
// thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace plugmq::platform {

enum class PropOutcome {
  kOk,
  kBadPayload,     // not a set or get request the device may send
  kUnknownDevice,  // no such device
  kFailed,         // the server failed (database): nothing applied
};

enum class EnrollOutcome {
  kOk,
  kMalformed,        // model or HWID malformed, or a topic that is no enrollment
  kUnknown,          // unknown model, serial not registered, thing not enrolled, no controller
  kWrongPassword,    // enroll or control password
  kNotAllowed,       // already enrolled, disabled, control disabled, another account's thing
  kTooManyAttempts,  // failures from this address or for this serial over the limit
  kBusy,             // the password checks are saturated, or the attempt was abandoned
  kFailed,           // the server failed (database)
};

// The `err` number of the reply: 0 for kOk.
int reply_code(PropOutcome outcome);
int reply_code(EnrollOutcome outcome);

// The reply {"err":N,"msg":"..."} for a refused request.
std::string error_reply(int code, std::string_view msg);
template <class Outcome>
std::string error_reply(Outcome outcome, std::string_view msg) {
  return error_reply(reply_code(outcome), msg);
}

}  // namespace plugmq::platform
