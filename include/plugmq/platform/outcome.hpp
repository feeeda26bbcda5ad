// The outcomes of a device's property and enrollment requests (SPEC 4, SPEC 5), as the store
// and the service decide them. Each edge maps them in its one table: service/reply.hpp to the
// `err` number of an MQTT reply, http/outcome_status to an HTTP status. Pure; thread-safe.
#pragma once

namespace plugmq::platform {

enum class PropOutcome {
  kOk,
  kBadPayload,     // not a set or get request the device may send
  kNotAllowed,     // the requester may not write (set) or read (get) that device's properties
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

}  // namespace plugmq::platform
