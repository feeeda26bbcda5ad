// The operator's side of the identity repositories: account counts and deletion, new auth
// codes, template and serial deletion, and the devices' presence (online, last_seen).
#include <gtest/gtest.h>

#include <algorithm>

#include "plugmq/platform/ids.hpp"
#include "plugmq/store/fleet.hpp"
#include "plugmq/store/identity.hpp"
#include "plugmq/store/session_store.hpp"
#include "store_errors.hpp"

namespace plugmq::store {
namespace {

using testing::error_of;

class IdentityAdminTest : public ::testing::Test {
 protected:
  std::int64_t count(const std::string& sql) {
    auto s = db_.prepare(sql);
    return s.step() ? s.int64(0) : -1;
  }

  Db db_ = Db::open_memory();
  Identity ids_{db_};
  Fleet fleet_{db_};
};

TEST_F(IdentityAdminTest, AccountCountsAndDeletion) {
  const auto a = ids_.add_account("a@b.c", "pass").value();
  const auto other = ids_.add_account("o@b.c", "pass").value();
  const auto p = ids_.add_prototype(a.id, "p").value();
  const auto kept = ids_.add_prototype(other.id, "kept").value();
  const auto t =
      fleet_.add_template(a.id, "t", platform::default_perm(platform::DeviceKind::kThing)).value();
  fleet_.add_serial(t.id, {"hw1", "enroll1", std::nullopt}).value();
  fleet_.add_serial(t.id, {"hw2", "enroll2", std::string("ctrl2")}).value();
  const auto thing = fleet_.enroll_thing(t.id, "hw1", "enroll1", "");
  ASSERT_TRUE(thing.ok()) << thing.msg;
  SessionStore sessions(db_);
  sessions.save(Session{p.device.id, "c1", a.id, {{"#", 1}}, 0, {}, {}, 0, 0, false}).value();
  sessions.save(Session{a.id, "c2", a.id, {}, 0, {}, {}, 0, 0, false}).value();
  db_.exec("INSERT INTO props (device_id, name, value) VALUES ('" + p.device.id + "', 'x', '1')");

  const AccountCounts c = ids_.account_counts(a.id);
  EXPECT_EQ(c.devices, 2);
  EXPECT_EQ(c.templates, 1);
  EXPECT_EQ(c.serials, 2);
  EXPECT_EQ(c.sessions, 2);
  EXPECT_EQ(ids_.account_counts(other.id).devices, 1);

  const DeletedAccount gone = ids_.delete_account("A@B.C").value();
  EXPECT_EQ(gone.account.id, a.id);
  EXPECT_EQ(gone.counts.devices, 2);
  std::vector<std::string> expected{p.device.id, thing.id};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(gone.devices, expected);
  EXPECT_FALSE(ids_.account_by_email("a@b.c"));
  EXPECT_FALSE(ids_.device(p.device.id));
  EXPECT_FALSE(ids_.device(thing.id));
  EXPECT_FALSE(fleet_.template_by_id(t.id));
  EXPECT_EQ(count("SELECT count(*) FROM serials"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM sessions"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM props"), 0);
  EXPECT_TRUE(ids_.device(kept.device.id)) << "another account's device stays";
  EXPECT_EQ(ids_.account_counts(a.id).devices, 0);

  EXPECT_EQ(error_of([&] { ids_.delete_account("a@b.c").value(); }), Error::Code::kNotFound);
}

TEST_F(IdentityAdminTest, NewAuthReplacesTheOldCode) {
  const auto a = ids_.add_account("a@b.c", "pass").value();
  const auto p = ids_.add_prototype(a.id, "p").value();
  const NewDevice renewed = ids_.new_auth(p.device.id).value();
  EXPECT_EQ(renewed.device.id, p.device.id);
  EXPECT_NE(renewed.auth, p.auth);
  EXPECT_EQ(ids_.check_device_login(p.device.id, p.auth).status, LoginStatus::kBadCredentials);
  EXPECT_EQ(ids_.check_device_login(p.device.id, renewed.auth).status, LoginStatus::kOk);

  // A prototype's own password goes too.
  const auto own = ids_.add_prototype(a.id, "own", "", std::string_view("my-password")).value();
  const auto code = ids_.new_auth(own.device.id).value();
  EXPECT_EQ(ids_.check_device_login(own.device.id, code.auth).status, LoginStatus::kOk);
  EXPECT_EQ(ids_.check_device_login(own.device.id, "my-password").status,
            LoginStatus::kBadCredentials);

  EXPECT_EQ(
      error_of([&] { ids_.new_auth(platform::new_plug_id(platform::IdKind::kDevice)).value(); }),
      Error::Code::kNotFound);
  EXPECT_EQ(error_of([&] { ids_.new_auth("junk").value(); }), Error::Code::kNotFound);
}

TEST_F(IdentityAdminTest, RevokeAuthEndsEveryCodeAndCountsIt) {
  const auto a = ids_.add_account("a@b.c", "pass").value();
  const auto p = ids_.add_prototype(a.id, "p").value();
  const auto own = ids_.add_prototype(a.id, "own", "", std::string_view("my-password")).value();
  const auto version = [&] { return count("SELECT n FROM admin_version"); };
  const auto v0 = version();
  EXPECT_EQ(ids_.device(p.device.id)->auth_revoked, 0);
  const Device d = ids_.revoke_auth(p.device.id).value();
  EXPECT_EQ(d.id, p.device.id);
  EXPECT_EQ(d.auth_revoked, 1);
  EXPECT_GT(version(), v0) << "servers see it at their next directory refresh";
  EXPECT_EQ(ids_.check_device_login(p.device.id, p.auth).status, LoginStatus::kBadCredentials);
  EXPECT_EQ(ids_.check_device_login(p.device.id, "").status, LoginStatus::kBadCredentials);
  // A prototype's own password too.
  ids_.revoke_auth(own.device.id).value();
  EXPECT_EQ(ids_.check_device_login(own.device.id, "my-password").status,
            LoginStatus::kBadCredentials);
  // A new code works again, and counts no revocation.
  const auto v1 = version();
  const auto renewed = ids_.new_auth(p.device.id).value();
  EXPECT_EQ(ids_.check_device_login(p.device.id, renewed.auth).status, LoginStatus::kOk);
  EXPECT_EQ(renewed.device.auth_revoked, 1);
  EXPECT_EQ(version(), v1) << "a new code alone changes nothing the directory holds";
  EXPECT_EQ(ids_.revoke_auth("DEV-" + p.device.id.substr(4)).value().auth_revoked, 2);
  EXPECT_EQ(
      error_of([&] { ids_.revoke_auth(platform::new_plug_id(platform::IdKind::kDevice)).value(); }),
      Error::Code::kNotFound);
  EXPECT_EQ(error_of([&] { ids_.revoke_auth("junk").value(); }), Error::Code::kNotFound);
}

TEST_F(IdentityAdminTest, PresenceCountsConnections) {
  const auto a = ids_.add_account("a@b.c", "pass").value();
  const auto p = ids_.add_prototype(a.id, "p").value();
  const auto q = ids_.add_prototype(a.id, "q").value();
  EXPECT_FALSE(ids_.device(p.device.id)->online);
  EXPECT_EQ(ids_.device(p.device.id)->last_seen, 0);

  ids_.record_login(p.device.id, "c1", "", 100);
  ids_.record_login(p.device.id, "c2", "", 200);  // a second client id
  EXPECT_TRUE(ids_.device(p.device.id)->online);
  EXPECT_EQ(ids_.device(p.device.id)->last_seen, 200);
  ids_.record_logout(p.device.id, 300);
  EXPECT_TRUE(ids_.device(p.device.id)->online) << "one connection is still open";
  EXPECT_EQ(ids_.device(p.device.id)->last_seen, 300);
  ids_.record_logout(p.device.id, 400);
  EXPECT_FALSE(ids_.device(p.device.id)->online);
  ids_.record_logout(p.device.id, 500);  // never below zero
  ids_.record_login(p.device.id, "c1", "", 600);
  EXPECT_TRUE(ids_.device(p.device.id)->online);

  ids_.record_login(q.device.id, "c", "", 700);
  EXPECT_EQ(ids_.all_devices_offline(1000), 2);
  for (const auto& d : ids_.devices()) {
    EXPECT_FALSE(d.online) << d.id;
    EXPECT_EQ(d.last_seen, 1000) << d.id;
  }
  EXPECT_EQ(ids_.all_devices_offline(2000), 0);
  EXPECT_EQ(ids_.device(q.device.id)->last_seen, 1000) << "only online devices get the time";
}

TEST_F(IdentityAdminTest, PresenceMovesNoAdminVersion) {
  const auto a = ids_.add_account("a@b.c", "pass").value();
  const auto p = ids_.add_prototype(a.id, "p").value();
  const std::int64_t before = count("SELECT n FROM admin_version");
  ids_.record_login(p.device.id, "c", "", 1);
  ids_.record_logout(p.device.id, 2);
  ids_.all_devices_offline(3);
  EXPECT_EQ(count("SELECT n FROM admin_version"), before);
}

TEST_F(IdentityAdminTest, DeleteTemplateKeepsItsThings) {
  const auto a = ids_.add_account("a@b.c", "pass").value();
  const auto t =
      fleet_.add_template(a.id, "t", platform::default_perm(platform::DeviceKind::kThing)).value();
  fleet_.add_serial(t.id, {"hw1", "enroll1", std::string("ctrl1")}).value();
  fleet_.add_serial(t.id, {"hw2", "enroll2", std::nullopt}).value();
  const auto thing = fleet_.enroll_thing(t.id, "hw1", "enroll1", "");
  ASSERT_TRUE(thing.ok()) << thing.msg;

  const DeletedTemplate gone = fleet_.delete_template(t.id).value();
  EXPECT_EQ(gone.tmpl.id, t.id);
  EXPECT_EQ(gone.serials, 2U);
  EXPECT_EQ(gone.things, 1U);
  EXPECT_FALSE(fleet_.template_by_id(t.id));
  EXPECT_EQ(count("SELECT count(*) FROM serials"), 0);
  const auto d = ids_.device(thing.id);
  ASSERT_TRUE(d) << "the thing stays";
  EXPECT_EQ(d->model, t.id);
  EXPECT_EQ(ids_.check_device_login(thing.id, thing.auth).status, LoginStatus::kOk);
  EXPECT_EQ(fleet_.enroll_thing(t.id, "hw1", "enroll1", "").outcome,
            platform::EnrollOutcome::kUnknown);
  EXPECT_EQ(error_of([&] { fleet_.delete_template(t.id).value(); }), Error::Code::kNotFound);
}

TEST_F(IdentityAdminTest, DeleteSerial) {
  const auto a = ids_.add_account("a@b.c", "pass").value();
  const auto t =
      fleet_.add_template(a.id, "t", platform::default_perm(platform::DeviceKind::kThing)).value();
  fleet_.add_serial(t.id, {"hw1", "enroll1", std::string("ctrl1")}).value();
  fleet_.add_serial(t.id, {"hw2", "enroll2", std::nullopt}).value();
  const auto thing = fleet_.enroll_thing(t.id, "hw1", "enroll1", "");
  ASSERT_TRUE(thing.ok()) << thing.msg;

  const Serial s = fleet_.delete_serial(t.id, "hw1").value();
  EXPECT_EQ(s.hwid, "hw1");
  EXPECT_TRUE(s.control_enabled);
  EXPECT_EQ(s.thing_id, thing.id);
  EXPECT_TRUE(ids_.device(thing.id)) << "the thing stays";
  ASSERT_EQ(fleet_.serials(t.id).size(), 1U);
  EXPECT_EQ(fleet_.serials(t.id)[0].hwid, "hw2");

  EXPECT_EQ(error_of([&] { fleet_.delete_serial(t.id, "hw1").value(); }), Error::Code::kNotFound);
  EXPECT_EQ(error_of([&] { fleet_.delete_serial("mod-junk", "hw2").value(); }),
            Error::Code::kNotFound);
  const auto message = fleet_.delete_serial(t.id, "h\x01").error().message;
  EXPECT_NE(message.find("\\x01"), std::string::npos) << message;
}

}  // namespace
}  // namespace plugmq::store
