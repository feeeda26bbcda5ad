// The two-step check of people's passwords (store/secret.hpp): deferred, then verified.
#include "plugmq/store/secret.hpp"

#include <gtest/gtest.h>

#include "plugmq/platform/crypto.hpp"
#include "plugmq/store/fleet.hpp"
#include "plugmq/store/identity.hpp"

namespace plugmq::store {
namespace {

TEST(Secret, MatchByMode) {
  const std::string slow = platform::hash_secret("right-pass");
  EXPECT_EQ(match_secret(Secret("right-pass"), slow), SecretMatch::kYes);
  EXPECT_EQ(match_secret(Secret("wrong-pass"), slow), SecretMatch::kNo);
  EXPECT_EQ(match_secret(Secret::deferred("wrong-pass"), slow), SecretMatch::kNeedsCheck);
  EXPECT_EQ(match_secret(Secret::verified("right-pass", slow), slow), SecretMatch::kYes);
  // Verified against another hash (a password changed since the check): no.
  EXPECT_EQ(match_secret(Secret::verified("right-pass", platform::hash_secret("right-pass")), slow),
            SecretMatch::kNo);
  // A secret no person could have registered needs no hash.
  EXPECT_EQ(match_secret(Secret::deferred("abc"), slow), SecretMatch::kNo);
  // Device auth codes are a fast hash: checked at once, whatever the mode.
  const std::string fast = platform::sha256_hex("0123456789abcdef0123456789abcdef");
  EXPECT_EQ(match_secret(Secret::deferred("0123456789abcdef0123456789abcdef"), fast),
            SecretMatch::kYes);
  EXPECT_EQ(match_secret(Secret::deferred("nope"), fast), SecretMatch::kNo);
  EXPECT_TRUE(is_slow_hash(slow));
  EXPECT_FALSE(is_slow_hash(fast));
}

class TwoStepTest : public ::testing::Test {
 protected:
  Db db_ = Db::open_memory();
  Identity ids_{db_};
  Fleet fleet_{db_};
};

TEST_F(TwoStepTest, AccountLogin) {
  ids_.add_account("a@example.com", "right-pass").value();
  auto first = ids_.check_account_login("a@example.com", Secret::deferred("right-pass"));
  ASSERT_EQ(first.status, LoginStatus::kNeedsCheck);
  ASSERT_TRUE(platform::verify_secret("right-pass", first.check_hash));
  auto second =
      ids_.check_account_login("a@example.com", Secret::verified("right-pass", first.check_hash));
  EXPECT_EQ(second.status, LoginStatus::kOk);
  EXPECT_EQ(second.account.email, "a@example.com");

  // The password changes between the two steps: the old check no longer lets anyone in.
  ids_.set_account("a@example.com", std::string("new-pass"), std::nullopt, std::nullopt).value();
  auto stale =
      ids_.check_account_login("a@example.com", Secret::verified("right-pass", first.check_hash));
  EXPECT_EQ(stale.status, LoginStatus::kBadCredentials);
}

TEST_F(TwoStepTest, UnknownEmailNeedsACheckLikeAKnownOne) {
  auto r = ids_.check_account_login("nobody@example.com", Secret::deferred("some-pass"));
  ASSERT_EQ(r.status, LoginStatus::kNeedsCheck);
  EXPECT_TRUE(is_slow_hash(r.check_hash));
  EXPECT_FALSE(platform::verify_secret("some-pass", r.check_hash));
  // Even verified against that hash, an unknown email does not log in.
  EXPECT_EQ(ids_.check_account_login("nobody@example.com",
                                     Secret::verified("some-pass", r.check_hash))
                .status,
            LoginStatus::kBadCredentials);
}

TEST_F(TwoStepTest, PrototypeWithAPassword) {
  const Account a = ids_.add_account("p@example.com", "account-pass").value();
  const NewDevice d = ids_.add_prototype(a.id, "proto", "", std::string_view("proto-pass")).value();
  auto first = ids_.check_device_login(d.device.id, Secret::deferred("proto-pass"));
  ASSERT_EQ(first.status, LoginStatus::kNeedsCheck);
  auto second =
      ids_.check_device_login(d.device.id, Secret::verified("proto-pass", first.check_hash));
  EXPECT_EQ(second.status, LoginStatus::kOk);
  EXPECT_EQ(second.device.id, d.device.id);
  // A generated auth code is checked in one step.
  const NewDevice g = ids_.add_prototype(a.id, "generated").value();
  EXPECT_EQ(ids_.check_device_login(g.device.id, Secret::deferred(g.auth)).status,
            LoginStatus::kOk);
}

TEST_F(TwoStepTest, EnrollThing) {
  const Account a = ids_.add_account("m@example.com", "account-pass").value();
  const Template t =
      fleet_.add_template(a.id, "t", platform::default_perm(platform::DeviceKind::kThing)).value();
  fleet_.add_serial(t.id, {"hw-1", "enroll-pass", std::nullopt}).value();
  // Checks before the password come first, as in one step.
  EXPECT_EQ(fleet_.enroll_thing(t.id, "hw-unknown", Secret::deferred("enroll-pass"), "").outcome,
            platform::EnrollOutcome::kUnknown);
  auto first = fleet_.enroll_thing(t.id, "hw-1", Secret::deferred("enroll-pass"), "");
  ASSERT_TRUE(first.needs_check());
  EXPECT_FALSE(first.ok());
  EXPECT_EQ(first.outcome, platform::EnrollOutcome::kOk);
  auto second =
      fleet_.enroll_thing(t.id, "hw-1", Secret::verified("enroll-pass", first.check_hash), "");
  ASSERT_TRUE(second.ok()) << second.msg;
  EXPECT_FALSE(second.needs_check());
  // Verified against a hash the serial does not have: 401.
  fleet_.add_serial(t.id, {"hw-2", "enroll-pass", std::nullopt}).value();
  EXPECT_EQ(fleet_.enroll_thing(t.id, "hw-2", Secret::verified("enroll-pass", first.check_hash), "")
                .outcome,
            platform::EnrollOutcome::kWrongPassword);
}

}  // namespace
}  // namespace plugmq::store
