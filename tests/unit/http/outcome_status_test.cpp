// The HTTP edge's one table (http/outcome_status) and the responses built from it: every outcome
// and store code to its status, an expected store Failure answered with its status and message,
// and what is not the client's doing answered 500 without its cause.
#include "../../../src/http/outcome_status.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "../../../src/http/handlers.hpp"
#include "plugmq/store/db.hpp"

namespace plugmq::http {
namespace {

using platform::EnrollOutcome;
using platform::PropOutcome;
using store::Errc;

TEST(OutcomeStatus, PropertyOutcomes) {
  EXPECT_EQ(status_of(PropOutcome::kOk), 200);
  EXPECT_EQ(status_of(PropOutcome::kBadPayload), 400);
  EXPECT_EQ(status_of(PropOutcome::kNotAllowed), 403);
  EXPECT_EQ(status_of(PropOutcome::kUnknownDevice), 404);
  EXPECT_EQ(status_of(PropOutcome::kFailed), 500);
}

TEST(OutcomeStatus, EnrollmentOutcomes) {
  EXPECT_EQ(status_of(EnrollOutcome::kOk), 200);
  EXPECT_EQ(status_of(EnrollOutcome::kMalformed), 400);
  EXPECT_EQ(status_of(EnrollOutcome::kWrongPassword), 401);
  EXPECT_EQ(status_of(EnrollOutcome::kNotAllowed), 403);
  EXPECT_EQ(status_of(EnrollOutcome::kUnknown), 404);
  EXPECT_EQ(status_of(EnrollOutcome::kTooManyAttempts), 429);
  EXPECT_EQ(status_of(EnrollOutcome::kFailed), 500);
  EXPECT_EQ(status_of(EnrollOutcome::kBusy), 503);
}

TEST(OutcomeStatus, LoginOutcomes) {
  using service::LoginOutcome;
  EXPECT_EQ(status_of(LoginOutcome::kBadCredentials), 401);
  EXPECT_EQ(status_of(LoginOutcome::kError), 401);
  EXPECT_EQ(status_of(LoginOutcome::kDisabled), 403);
  EXPECT_EQ(status_of(LoginOutcome::kLimited), 429);
  EXPECT_EQ(status_of(LoginOutcome::kBusy), 503);
  EXPECT_EQ(status_of(LoginOutcome::kAbandoned), 503);
}

TEST(OutcomeStatus, StoreCodes) {
  EXPECT_EQ(client_status_of(Errc::kInvalid), 400);
  EXPECT_EQ(client_status_of(Errc::kNotFound), 404);
  EXPECT_EQ(client_status_of(Errc::kExists), 409);
  EXPECT_EQ(client_status_of(Errc::kBusy), std::nullopt);
  EXPECT_EQ(client_status_of(Errc::kDb), std::nullopt);
}

nlohmann::json body_of(const Response& r) { return nlohmann::json::parse(r.body); }

TEST(OutcomeStatus, AnExpectedFailureIsItsStatusWithItsMessage) {
  const struct {
    Errc code;
    int status;
  } cases[] = {{Errc::kInvalid, 400}, {Errc::kNotFound, 404}, {Errc::kExists, 409}};
  for (const auto& c : cases) {
    const Response r = detail::failure_response({c.code, "what went wrong"}, "testing");
    EXPECT_EQ(r.status, c.status);
    EXPECT_EQ(body_of(r), (nlohmann::json{{"err", c.status}, {"msg", "what went wrong"}}));
  }
}

TEST(OutcomeStatus, ServerFailuresAre500WithoutTheirCause) {
  const nlohmann::json internal = {{"err", 500}, {"msg", "internal error"}};
  for (Errc code : {Errc::kBusy, Errc::kDb}) {
    const Response r = detail::failure_response({code, "disk I/O error"}, "testing");
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(body_of(r), internal);
  }
  // What the store throws is never the client's doing, whatever its code.
  for (Errc code : {Errc::kInvalid, Errc::kDb}) {
    const Response r = detail::store_failure(store::Error(code, "disk I/O error"), "testing");
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(body_of(r), internal);
  }
  const Response r = detail::store_failure(std::runtime_error("bug"), "testing");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(body_of(r), internal);
}

}  // namespace
}  // namespace plugmq::http
