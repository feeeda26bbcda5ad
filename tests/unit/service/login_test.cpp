// MQTT logins as a use case (service/login.hpp): the store's check within the limits, and the
// principal a session then acts as.
#include "plugmq/service/login.hpp"

#include <gtest/gtest.h>

#include "live_context.hpp"
#include "plugmq/store/identity.hpp"

namespace plugmq::service {
namespace {

using testing::LiveContext;

TEST(LoginOutcome, FromTheAttemptsAdmissionThenTheStoresStatus) {
  using store::LoginStatus;
  EXPECT_EQ(login_outcome(Admission::kChecked, LoginStatus::kOk), LoginOutcome::kOk);
  EXPECT_EQ(login_outcome(Admission::kChecked, LoginStatus::kDisabled), LoginOutcome::kDisabled);
  EXPECT_EQ(login_outcome(Admission::kChecked, LoginStatus::kBadCredentials),
            LoginOutcome::kBadCredentials);
  // Refused before the store decided: the status is not looked at.
  EXPECT_EQ(login_outcome(Admission::kWrongSecret, LoginStatus::kOk),
            LoginOutcome::kBadCredentials);
  EXPECT_EQ(login_outcome(Admission::kLimited, LoginStatus::kOk), LoginOutcome::kLimited);
  EXPECT_EQ(login_outcome(Admission::kBusy, LoginStatus::kOk), LoginOutcome::kBusy);
  EXPECT_EQ(login_outcome(Admission::kAbandoned, LoginStatus::kOk), LoginOutcome::kAbandoned);
}

class LoginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = store::Db::open(live_.db_file());
    store::Identity ids(db);
    account_ = ids.add_account("a@example.com", "secret1", 0).value().id;
    auto proto = ids.add_prototype(account_, "proto").value();
    device_ = proto.device.id;
    auth_ = proto.auth;
    live_.start();
  }

  Login login(const std::string& user, const std::string& pass) {
    const LoginRequest req{user, pass, "192.0.2.1"};
    auto op = service::login(live_.ctx(), req);
    return live_.run(std::move(op));
  }

  LiveContext live_;
  std::string account_, device_, auth_;
};

TEST_F(LoginTest, ADeviceLogsInWithItsAuthCodeAsTheDirectorysPrincipal) {
  auto l = login(device_, auth_);
  ASSERT_EQ(l.outcome, LoginOutcome::kOk);
  ASSERT_TRUE(l.principal);
  EXPECT_EQ(l.principal->device_id, device_);
  EXPECT_EQ(l.principal->account_id, account_);
  // The snapshot's copy, shared rather than held by each session.
  EXPECT_EQ(l.principal.get(), live_.ctx().directory.get()->find(device_));
  EXPECT_EQ(login(device_, "wrong").outcome, LoginOutcome::kBadCredentials);
}

// SPEC 5: the principal carries the revocations of the device's codes its login saw, and the
// directory rebuilt after a revocation carries the new count, which a live session of the older
// login compares with its own and ends.
TEST_F(LoginTest, ThePrincipalKnowsTheRevocationsItsLoginSaw) {
  EXPECT_EQ(login(device_, auth_).principal->auth_revoked, 0);
  std::string fresh;
  {
    auto db = store::Db::open(live_.db_file());
    store::Identity ids(db);
    ids.revoke_auth(device_).value();
    fresh = ids.new_auth(device_).value().auth;
  }
  EXPECT_EQ(login(device_, auth_).outcome, LoginOutcome::kBadCredentials);
  auto l = login(device_, fresh);  // the login rebuilds the directory first (run_fresh)
  ASSERT_EQ(l.outcome, LoginOutcome::kOk);
  EXPECT_EQ(l.principal->auth_revoked, 1);
  EXPECT_EQ(live_.ctx().directory.get()->find(device_)->auth_revoked, 1);
  EXPECT_EQ(l.principal.get(), live_.ctx().directory.get()->find(device_));
}

TEST_F(LoginTest, AnAccountLogsInWithItsPassword) {
  auto l = login("a@example.com", "secret1");
  ASSERT_EQ(l.outcome, LoginOutcome::kOk);
  EXPECT_EQ(l.principal->account_id, account_);
  EXPECT_TRUE(l.principal->device_id.empty());
  EXPECT_EQ(login("a@example.com", "wrong").outcome, LoginOutcome::kBadCredentials);
  EXPECT_EQ(login("nobody@example.com", "secret1").outcome, LoginOutcome::kBadCredentials);
}

TEST_F(LoginTest, AnAttemptNoLongerWantedIsAbandoned) {
  // An account's password waits for the HashPool: asked afterwards, the caller went away.
  const LoginRequest req{"a@example.com", "secret1", "192.0.2.1", {}, [] { return false; }};
  auto op = service::login(live_.ctx(), req);
  EXPECT_EQ(live_.run(std::move(op)).outcome, LoginOutcome::kAbandoned);
}

}  // namespace
}  // namespace plugmq::service
