// The MQTT edge's table (service/reply.hpp): every outcome's `err` number, and the reply's form.
#include "plugmq/service/reply.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace plugmq::service {
namespace {

using platform::EnrollOutcome;
using platform::PropOutcome;

TEST(Reply, PropertyOutcomes) {
  EXPECT_EQ(reply_code(PropOutcome::kOk), 0);
  EXPECT_EQ(reply_code(PropOutcome::kBadPayload), 400);
  EXPECT_EQ(reply_code(PropOutcome::kNotAllowed), 403);
  EXPECT_EQ(reply_code(PropOutcome::kUnknownDevice), 404);
  EXPECT_EQ(reply_code(PropOutcome::kFailed), 500);
}

TEST(Reply, EnrollmentOutcomes) {
  EXPECT_EQ(reply_code(EnrollOutcome::kOk), 0);
  EXPECT_EQ(reply_code(EnrollOutcome::kMalformed), 400);
  EXPECT_EQ(reply_code(EnrollOutcome::kWrongPassword), 401);
  EXPECT_EQ(reply_code(EnrollOutcome::kNotAllowed), 403);
  EXPECT_EQ(reply_code(EnrollOutcome::kUnknown), 404);
  EXPECT_EQ(reply_code(EnrollOutcome::kTooManyAttempts), 429);
  EXPECT_EQ(reply_code(EnrollOutcome::kFailed), 500);
  EXPECT_EQ(reply_code(EnrollOutcome::kBusy), 503);
}

TEST(Reply, ErrorReplyIsCompactJsonWithErrAndMsg) {
  EXPECT_EQ(error_reply(EnrollOutcome::kWrongPassword, "wrong enroll password"),
            R"({"err":401,"msg":"wrong enroll password"})");
  EXPECT_EQ(error_reply(PropOutcome::kUnknownDevice, "unknown device"),
            R"({"err":404,"msg":"unknown device"})");
  // A message is escaped as JSON text, and one that is not UTF-8 still gives valid JSON.
  const auto quoted = nlohmann::json::parse(error_reply(400, "a \"b\"\n"));
  EXPECT_EQ(quoted.at("msg"), "a \"b\"\n");
  EXPECT_TRUE(nlohmann::json::accept(error_reply(400, "\xff")));
}

}  // namespace
}  // namespace plugmq::service
