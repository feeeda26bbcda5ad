#include "outcome_status.hpp"

namespace plugmq::http {

int status_of(platform::PropOutcome outcome) {
  switch (outcome) {
    case platform::PropOutcome::kOk:
      return 200;
    case platform::PropOutcome::kBadPayload:
      return 400;
    case platform::PropOutcome::kNotAllowed:
      return 403;
    case platform::PropOutcome::kUnknownDevice:
      return 404;
    case platform::PropOutcome::kFailed:
      return 500;
  }
  return 500;
}

int status_of(platform::EnrollOutcome outcome) {
  switch (outcome) {
    case platform::EnrollOutcome::kOk:
      return 200;
    case platform::EnrollOutcome::kMalformed:
      return 400;
    case platform::EnrollOutcome::kWrongPassword:
      return 401;
    case platform::EnrollOutcome::kNotAllowed:
      return 403;
    case platform::EnrollOutcome::kUnknown:
      return 404;
    case platform::EnrollOutcome::kTooManyAttempts:
      return 429;
    case platform::EnrollOutcome::kFailed:
      return 500;
    case platform::EnrollOutcome::kBusy:
      return 503;
  }
  return 500;
}

int status_of(service::LoginOutcome outcome) {
  switch (outcome) {
    case service::LoginOutcome::kOk:
      return 200;
    case service::LoginOutcome::kBadCredentials:
    case service::LoginOutcome::kError:
      return 401;
    case service::LoginOutcome::kDisabled:
      return 403;
    case service::LoginOutcome::kLimited:
      return 429;
    case service::LoginOutcome::kBusy:
    case service::LoginOutcome::kAbandoned:
      return 503;
  }
  return 500;
}

std::optional<int> client_status_of(store::Errc errc) {
  switch (errc) {
    case store::Errc::kInvalid:
      return 400;
    case store::Errc::kNotFound:
      return 404;
    case store::Errc::kExists:
      return 409;
    case store::Errc::kBusy:
    case store::Errc::kDb:
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace plugmq::http
