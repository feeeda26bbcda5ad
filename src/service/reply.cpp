#include "plugmq/service/reply.hpp"

#include <nlohmann/json.hpp>

#include "plugmq/platform/json.hpp"

namespace plugmq::service {

using platform::EnrollOutcome;
using platform::PropOutcome;

int reply_code(PropOutcome outcome) {
  switch (outcome) {
    case PropOutcome::kOk:
      return 0;
    case PropOutcome::kBadPayload:
      return 400;
    case PropOutcome::kNotAllowed:
      return 403;
    case PropOutcome::kUnknownDevice:
      return 404;
    case PropOutcome::kFailed:
      return 500;
  }
  return 500;
}

int reply_code(EnrollOutcome outcome) {
  switch (outcome) {
    case EnrollOutcome::kOk:
      return 0;
    case EnrollOutcome::kMalformed:
      return 400;
    case EnrollOutcome::kWrongPassword:
      return 401;
    case EnrollOutcome::kNotAllowed:
      return 403;
    case EnrollOutcome::kUnknown:
      return 404;
    case EnrollOutcome::kTooManyAttempts:
      return 429;
    case EnrollOutcome::kFailed:
      return 500;
    case EnrollOutcome::kBusy:
      return 503;
  }
  return 500;
}

std::string error_reply(int code, std::string_view msg) {
  return platform::dump_json(nlohmann::json{{"err", code}, {"msg", std::string(msg)}});
}

}  // namespace plugmq::service
