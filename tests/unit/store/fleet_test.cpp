#include "plugmq/store/fleet.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "plugmq/platform/ids.hpp"
#include "plugmq/store/identity.hpp"
#include "store_errors.hpp"

namespace plugmq::store {
namespace {

using platform::DeviceKind;
using platform::EnrollOutcome;
using platform::PermFilter;

using testing::error_of;
using testing::message_of;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

class FleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    account_ = ids_.add_account("maker@example.com", "secret1").value();
    model_ =
        fleet_.add_template(account_.id, "Sensor v1", platform::default_perm(DeviceKind::kThing))
            .value();
  }

  // A thing registered with an enroll password and a control password, then enrolled.
  EnrollResult enrolled_thing(const std::string& hwid) {
    fleet_.add_serial(model_.id, {hwid, "enroll-" + hwid, "control-" + hwid}).value();
    auto r = fleet_.enroll_thing(model_.id, hwid, "enroll-" + hwid, "");
    EXPECT_TRUE(r.ok()) << r.msg;
    return r;
  }

  Db db_ = Db::open_memory();
  Identity ids_{db_};
  Fleet fleet_{db_};
  Account account_;
  Template model_;
};

// ---- templates ----

TEST_F(FleetTest, AddTemplate) {
  const auto before = platform::now_ms();
  const Template t =
      fleet_.add_template(account_.id, "Lamp", platform::default_perm(DeviceKind::kThing)).value();
  EXPECT_TRUE(platform::normalize_plug_id(t.id, platform::IdKind::kModel));
  EXPECT_EQ(t.account_id, account_.id);
  EXPECT_EQ(t.name, "Lamp");
  EXPECT_EQ(t.thing_perm, platform::default_perm(DeviceKind::kThing));
  EXPECT_GE(t.created_at, before);

  auto found = fleet_.template_by_id(upper(t.id));  // case-insensitive
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, t.id);
  EXPECT_EQ(found->name, "Lamp");
  EXPECT_EQ(found->thing_perm, t.thing_perm);
  EXPECT_EQ(found->created_at, t.created_at);

  EXPECT_FALSE(fleet_.template_by_id("mod-000000000000000000000000"));
  EXPECT_FALSE(fleet_.template_by_id("dev-" + t.id.substr(4)));
  EXPECT_FALSE(fleet_.template_by_id("nonsense"));
}

TEST_F(FleetTest, AddTemplateCustomPermAndEmptyName) {
  PermFilter perm = platform::default_perm(DeviceKind::kThing);
  perm.ctrl = "r";
  perm.read = std::nullopt;  // its things read the whole account
  const Template t = fleet_.add_template(account_.id, "", perm).value();
  auto found = fleet_.template_by_id(t.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->name, "");
  EXPECT_EQ(found->thing_perm.ctrl, "r");
  EXPECT_FALSE(found->thing_perm.read);
  ASSERT_TRUE(found->thing_perm.write);
  EXPECT_TRUE(found->thing_perm.write->empty());
}

TEST_F(FleetTest, AddTemplateErrors) {
  const auto perm = platform::default_perm(DeviceKind::kThing);
  EXPECT_EQ(
      error_of([&] { fleet_.add_template("com-000000000000000000000000", "x", perm).value(); }),
      Error::Code::kNotFound);
  EXPECT_EQ(error_of([&] { fleet_.add_template("maker@example.com", "x", perm).value(); }),
            Error::Code::kNotFound);
  EXPECT_EQ(
      error_of([&] { fleet_.add_template(account_.id, std::string(257, 'n'), perm).value(); }),
      Error::Code::kInvalid);
  EXPECT_EQ(error_of([&] { fleet_.add_template(account_.id, "\xff", perm).value(); }),
            Error::Code::kInvalid);
  PermFilter bad = perm;
  bad.ctrl = "w";
  EXPECT_EQ(error_of([&] { fleet_.add_template(account_.id, "x", bad).value(); }),
            Error::Code::kInvalid);
  // 256 bytes is fine.
  EXPECT_NO_THROW(fleet_.add_template(account_.id, std::string(256, 'n'), perm).value());
}

TEST_F(FleetTest, ListTemplates) {
  const auto other = ids_.add_account("other@example.com", "secret2").value();
  const auto t2 =
      fleet_.add_template(other.id, "B", platform::default_perm(DeviceKind::kThing)).value();
  const auto t3 =
      fleet_.add_template(account_.id, "C", platform::default_perm(DeviceKind::kThing)).value();

  auto all = fleet_.templates();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id, model_.id);  // oldest first
  EXPECT_EQ(all[1].id, t2.id);
  EXPECT_EQ(all[2].id, t3.id);

  auto mine = fleet_.templates(upper(account_.id));
  ASSERT_EQ(mine.size(), 2u);
  EXPECT_EQ(mine[0].id, model_.id);
  EXPECT_EQ(mine[1].id, t3.id);
  EXPECT_TRUE(fleet_.templates(std::string("garbage")).empty());
}

// ---- serials ----

TEST_F(FleetTest, AddSerial) {
  const Serial s =
      fleet_.add_serial(upper(model_.id), {"SN-0001", "enroll-pass", "ctrl-pass"}).value();
  EXPECT_EQ(s.model, model_.id);
  EXPECT_EQ(s.hwid, "SN-0001");
  EXPECT_TRUE(s.control_enabled);
  EXPECT_TRUE(s.thing_id.empty());

  const Serial n = fleet_.add_serial(model_.id, {"SN-0002", "enroll-pass", std::nullopt}).value();
  EXPECT_FALSE(n.control_enabled);

  auto list = fleet_.serials(model_.id);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].hwid, "SN-0001");
  EXPECT_TRUE(list[0].control_enabled);
  EXPECT_EQ(list[1].hwid, "SN-0002");
  EXPECT_FALSE(list[1].control_enabled);
  EXPECT_TRUE(list[1].thing_id.empty());
}

TEST_F(FleetTest, PasswordsAreStoredHashed) {
  fleet_.add_serial(model_.id, {"SN-1", "enroll-pass", "ctrl-pass"}).value();
  auto s = db_.prepare("SELECT enroll_hash, control_hash FROM serials");
  ASSERT_TRUE(s.step());
  EXPECT_FALSE(contains(s.text(0), "enroll-pass"));
  EXPECT_FALSE(contains(s.text(1), "ctrl-pass"));
  EXPECT_EQ(s.text(0).rfind("pbkdf2-sha256$", 0), 0u);
  EXPECT_EQ(s.text(1).rfind("pbkdf2-sha256$", 0), 0u);
}

// Registration failures are values: the code and the message; value() throws them as Error.
TEST_F(FleetTest, RegistrationFailuresAreResults) {
  ASSERT_TRUE(fleet_.add_serial(model_.id, {"SN-1", "enroll-pass", std::nullopt}));
  const auto again = fleet_.add_serial(model_.id, {"SN-1", "other-pass", std::nullopt});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kExists);
  EXPECT_EQ(again.error().error_code(), make_error_code(Errc::kExists));
  EXPECT_EQ(again.error().error_code().category().name(), std::string("plugmq.store"));
  EXPECT_EQ(again.error().message.rfind("hwid \"SN-1\": ", 0), 0u) << again.error().message;
  EXPECT_EQ(error_of([&] { again.value(); }), Error::Code::kExists);
  const auto none = fleet_.add_template("com-000000000000000000000000", "x",
                                        platform::default_perm(DeviceKind::kThing));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, Errc::kNotFound);
}

TEST_F(FleetTest, AddSerialErrors) {
  fleet_.add_serial(model_.id, {"SN-1", "enroll-pass", std::nullopt}).value();
  EXPECT_EQ(error_of([&] {
              fleet_.add_serial(model_.id, {"SN-1", "other-pass", std::nullopt}).value();
            }),
            Error::Code::kExists);
  // The same HWID in another template is another serial.
  const auto t2 =
      fleet_.add_template(account_.id, "B", platform::default_perm(DeviceKind::kThing)).value();
  EXPECT_NO_THROW(fleet_.add_serial(t2.id, {"SN-1", "enroll-pass", std::nullopt}).value());

  EXPECT_EQ(
      error_of([&] {
        fleet_.add_serial("mod-000000000000000000000000", {"SN-2", "pass1", std::nullopt}).value();
      }),
      Error::Code::kNotFound);
  EXPECT_EQ(error_of([&] {
              fleet_.add_serial("nonsense", {"SN-2", "pass1", std::nullopt}).value();
            }),
            Error::Code::kNotFound);
  for (const std::string& hwid :
       std::vector<std::string>{"", "a/b", "a+b", "a#b", "tab\there", std::string(129, 'h')}) {
    EXPECT_EQ(error_of([&] {
                fleet_.add_serial(model_.id, {hwid, "pass1", std::nullopt}).value();
              }),
              Error::Code::kInvalid)
        << hwid;
  }
  EXPECT_EQ(error_of([&] {
              fleet_.add_serial(model_.id, {"SN-2", "abc", std::nullopt}).value();
            }),
            Error::Code::kInvalid);
  EXPECT_EQ(error_of([&] {
              fleet_.add_serial(model_.id, {"SN-2", std::string(129, 'p'), std::nullopt}).value();
            }),
            Error::Code::kInvalid);
  EXPECT_EQ(error_of([&] {
              fleet_.add_serial(model_.id, {"SN-2", "pass1", "abc"}).value();
            }),
            Error::Code::kInvalid);
  EXPECT_EQ(error_of([&] {
              fleet_.add_serial(model_.id, {"SN-2", "pass1", std::string(129, 'c')}).value();
            }),
            Error::Code::kInvalid);
  // A password error never echoes the password.
  EXPECT_FALSE(contains(message_of([&] {
                          fleet_.add_serial(model_.id, {"SN-2", "pass1", "xyz"}).value();
                        }),
                        "xyz"));
  // Bounds are inclusive.
  EXPECT_NO_THROW(
      fleet_.add_serial(model_.id, {std::string(128, 'h'), "abcd", std::string(128, 'c')}).value());
  EXPECT_EQ(fleet_.serials(model_.id).size(), 2u);
}

TEST_F(FleetTest, AddSerialsAllOrNothing) {
  const std::vector<SerialSpec> good = {{"A-1", "pass-a1", std::nullopt},
                                        {"A-2", "pass-a2", "ctrl-a2"},
                                        {"A-3", "pass-a3", std::nullopt},
                                        {"A-4", "pass-a4", "ctrl-a4"},
                                        {"A-5", "pass-a5", std::nullopt}};
  EXPECT_EQ(fleet_.add_serials(model_.id, good).value(), 5u);
  auto list = fleet_.serials(model_.id);
  ASSERT_EQ(list.size(), 5u);
  EXPECT_EQ(list[1].hwid, "A-2");
  EXPECT_TRUE(list[1].control_enabled);
  EXPECT_FALSE(list[2].control_enabled);
  // The parallel hashing kept each password with its serial.
  EXPECT_TRUE(fleet_.enroll_thing(model_.id, "A-4", "pass-a4", "").ok());
  EXPECT_EQ(fleet_.enroll_thing(model_.id, "A-5", "pass-a4", "").outcome,
            EnrollOutcome::kWrongPassword);
  EXPECT_TRUE(fleet_.enroll_thing(model_.id, "A-5", "pass-a5", "").ok());

  const std::vector<SerialSpec> bad_third = {{"B-1", "pass-b1", std::nullopt},
                                             {"B-2", "pass-b2", std::nullopt},
                                             {"B/3", "pass-b3", std::nullopt},
                                             {"B-4", "pass-b4", std::nullopt}};
  try {
    fleet_.add_serials(model_.id, bad_third).value();
    FAIL() << "accepted an invalid HWID";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kInvalid);
    EXPECT_TRUE(contains(e.what(), "serial 3 of 4")) << e.what();
    EXPECT_TRUE(contains(e.what(), "\"B/3\"")) << e.what();
  }
  EXPECT_EQ(fleet_.serials(model_.id).size(), 5u);

  const std::vector<SerialSpec> bad_pass = {{"C-1", "pass-c1", std::nullopt},
                                            {"C-2", "pass-c2", std::nullopt},
                                            {"C-3", "abc", std::nullopt}};
  auto msg = message_of([&] { fleet_.add_serials(model_.id, bad_pass).value(); });
  EXPECT_TRUE(contains(msg, "serial 3 of 3")) << msg;
  EXPECT_TRUE(contains(msg, "\"C-3\"")) << msg;

  // Already registered: found inside the transaction, which then rolls back.
  const std::vector<SerialSpec> dup_db = {{"D-1", "pass-d1", std::nullopt},
                                          {"D-2", "pass-d2", std::nullopt},
                                          {"A-3", "pass-d3", std::nullopt}};
  try {
    fleet_.add_serials(model_.id, dup_db).value();
    FAIL() << "accepted a registered HWID";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kExists);
    EXPECT_TRUE(contains(e.what(), "serial 3 of 3")) << e.what();
    EXPECT_TRUE(contains(e.what(), "\"A-3\"")) << e.what();
  }
  EXPECT_EQ(fleet_.serials(model_.id).size(), 5u);

  // Repeated inside the batch.
  const std::vector<SerialSpec> dup_batch = {{"E-1", "pass-e1", std::nullopt},
                                             {"E-2", "pass-e2", std::nullopt},
                                             {"E-1", "pass-e3", std::nullopt}};
  try {
    fleet_.add_serials(model_.id, dup_batch).value();
    FAIL() << "accepted a repeated HWID";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kExists);
    EXPECT_TRUE(contains(e.what(), "serial 3 of 3")) << e.what();
    EXPECT_TRUE(contains(e.what(), "\"E-1\"")) << e.what();
  }
  EXPECT_EQ(fleet_.serials(model_.id).size(), 5u);

  EXPECT_EQ(error_of([&] { fleet_.add_serials("mod-000000000000000000000000", good).value(); }),
            Error::Code::kNotFound);
  EXPECT_EQ(fleet_.add_serials(model_.id, {}).value(), 0u);
}

TEST_F(FleetTest, InvalidHwidIsEscapedInMessages) {
  auto msg = message_of([&] {
    fleet_.add_serial(model_.id, {"a\nb\xff", "pass1", std::nullopt}).value();
  });
  EXPECT_TRUE(contains(msg, "\"a\\x0ab\\xff\"")) << msg;
}

// ---- thing enrollment ----

TEST_F(FleetTest, EnrollThing) {
  fleet_.add_serial(model_.id, {"SN-1", "enroll-pass", std::nullopt}).value();
  const auto before = platform::now_ms();
  auto r = fleet_.enroll_thing(upper(model_.id), "SN-1", "enroll-pass", "Kitchen");
  ASSERT_TRUE(r.ok()) << r.msg;
  EXPECT_EQ(r.outcome, EnrollOutcome::kOk);
  EXPECT_TRUE(platform::normalize_plug_id(r.id, platform::IdKind::kDevice));
  EXPECT_EQ(r.auth.size(), 32u);

  auto d = ids_.device(r.id);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->kind, DeviceKind::kThing);
  EXPECT_EQ(d->account_id, account_.id);
  EXPECT_EQ(d->name, "Kitchen");
  EXPECT_EQ(d->hwid, "SN-1");
  EXPECT_EQ(d->model, model_.id);
  EXPECT_EQ(d->perm, platform::default_perm(DeviceKind::kThing));
  EXPECT_EQ(d->status, "ok");
  EXPECT_GE(d->created_at, before);
  EXPECT_TRUE(d->controls.empty());

  auto login = ids_.check_device_login(r.id, r.auth);
  EXPECT_EQ(login.status, LoginStatus::kOk);
  EXPECT_EQ(login.device.id, r.id);

  auto serials = fleet_.serials(model_.id);
  ASSERT_EQ(serials.size(), 1u);
  EXPECT_EQ(serials[0].thing_id, r.id);
}

TEST_F(FleetTest, EnrollThingGetsTemplatePerm) {
  PermFilter perm = platform::default_perm(DeviceKind::kThing);
  perm.ctrl = "";
  perm.read = std::nullopt;
  const auto t = fleet_.add_template(account_.id, "Private", perm).value();
  fleet_.add_serial(t.id, {"P-1", "pass1", std::nullopt}).value();
  auto r = fleet_.enroll_thing(t.id, "P-1", "pass1", "");
  ASSERT_TRUE(r.ok());
  auto d = ids_.device(r.id);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->perm, perm);
  EXPECT_EQ(d->name, "");
}

TEST_F(FleetTest, EnrollThingBadNameIsIgnored) {
  fleet_.add_serial(model_.id, {"SN-1", "pass1", std::nullopt}).value();
  auto r = fleet_.enroll_thing(model_.id, "SN-1", "pass1", std::string(257, 'n'));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ids_.device(r.id)->name, "");
}

TEST_F(FleetTest, EnrollThingErrorsInOrder) {
  fleet_.add_serial(model_.id, {"SN-1", "enroll-pass", std::nullopt}).value();
  const std::string unknown_model = "mod-000000000000000000000000";

  // 400 first: even an unknown model with a bad HWID is malformed.
  for (const std::string& model :
       std::vector<std::string>{"mod-zz", std::string("dev-") + model_.id.substr(4), "", "x"}) {
    auto r = fleet_.enroll_thing(model, "SN-1", "enroll-pass", "");
    EXPECT_EQ(r.outcome, EnrollOutcome::kMalformed) << model;
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(r.id.empty());
    EXPECT_TRUE(r.auth.empty());
  }
  EXPECT_EQ(fleet_.enroll_thing(model_.id, "SN/1", "enroll-pass", "").outcome,
            EnrollOutcome::kMalformed);
  EXPECT_EQ(fleet_.enroll_thing(unknown_model, "SN/1", "wrong", "").outcome,
            EnrollOutcome::kMalformed);
  EXPECT_EQ(fleet_.enroll_thing(model_.id, "", "enroll-pass", "").outcome,
            EnrollOutcome::kMalformed);

  // 404: unknown model, then a HWID not registered in it (even with a wrong password).
  EXPECT_EQ(fleet_.enroll_thing(unknown_model, "SN-1", "enroll-pass", "").outcome,
            EnrollOutcome::kUnknown);
  const auto t2 =
      fleet_.add_template(account_.id, "B", platform::default_perm(DeviceKind::kThing)).value();
  EXPECT_EQ(fleet_.enroll_thing(t2.id, "SN-1", "enroll-pass", "").outcome, EnrollOutcome::kUnknown);
  EXPECT_EQ(fleet_.enroll_thing(model_.id, "SN-2", "wrong", "").outcome, EnrollOutcome::kUnknown);

  // 401: wrong password, including ones no serial could have.
  EXPECT_EQ(fleet_.enroll_thing(model_.id, "SN-1", "wrong-pass", "").outcome,
            EnrollOutcome::kWrongPassword);
  EXPECT_EQ(fleet_.enroll_thing(model_.id, "SN-1", "", "").outcome, EnrollOutcome::kWrongPassword);
  EXPECT_EQ(fleet_.enroll_thing(model_.id, "SN-1", std::string(200, 'p'), "").outcome,
            EnrollOutcome::kWrongPassword);
  EXPECT_EQ(fleet_.enroll_thing(model_.id, "sn-1", "enroll-pass", "").outcome,
            EnrollOutcome::kUnknown);  // HWIDs are exact
  EXPECT_TRUE(ids_.devices().empty());

  // 403 account disabled (right password).
  ids_.set_account(account_.email, std::nullopt, std::nullopt, true).value();
  auto disabled = fleet_.enroll_thing(model_.id, "SN-1", "enroll-pass", "");
  EXPECT_EQ(disabled.outcome, EnrollOutcome::kNotAllowed);
  EXPECT_TRUE(contains(disabled.msg, "account")) << disabled.msg;
  // ...but a wrong password still says 401.
  EXPECT_EQ(fleet_.enroll_thing(model_.id, "SN-1", "wrong-pass", "").outcome,
            EnrollOutcome::kWrongPassword);
  ids_.set_account(account_.email, std::nullopt, std::nullopt, false).value();
  EXPECT_TRUE(ids_.devices().empty());

  // 403 already enrolled, and the first enrollment's auth keeps working.
  auto first = fleet_.enroll_thing(model_.id, "SN-1", "enroll-pass", "");
  ASSERT_TRUE(first.ok());
  auto again = fleet_.enroll_thing(model_.id, "SN-1", "enroll-pass", "");
  EXPECT_EQ(again.outcome, EnrollOutcome::kNotAllowed);
  EXPECT_TRUE(contains(again.msg, "already enrolled")) << again.msg;
  EXPECT_EQ(fleet_.enroll_thing(model_.id, "SN-1", "wrong-pass", "").outcome,
            EnrollOutcome::kWrongPassword);
  EXPECT_EQ(ids_.check_device_login(first.id, first.auth).status, LoginStatus::kOk);
  // A disabled thing is enrolled too.
  ids_.set_device(first.id, std::nullopt, std::string("disabled"), std::nullopt).value();
  EXPECT_EQ(fleet_.enroll_thing(model_.id, "SN-1", "enroll-pass", "").outcome,
            EnrollOutcome::kNotAllowed);
  EXPECT_EQ(ids_.devices().size(), 1u);
}

TEST_F(FleetTest, ReactivateThing) {
  fleet_.add_serial(model_.id, {"SN-1", "enroll-pass", std::nullopt}).value();
  auto first = fleet_.enroll_thing(model_.id, "SN-1", "enroll-pass", "Old");
  ASSERT_TRUE(first.ok());
  PermFilter custom = platform::default_perm(DeviceKind::kThing);
  custom.ctrl = "r";
  ids_.set_device(first.id, custom, std::string("reactivate"), std::nullopt).value();
  // A reactivated thing still needs its password.
  EXPECT_EQ(fleet_.enroll_thing(model_.id, "SN-1", "wrong-pass", "").outcome,
            EnrollOutcome::kWrongPassword);

  auto second = fleet_.enroll_thing(model_.id, "SN-1", "enroll-pass", "New");
  ASSERT_TRUE(second.ok()) << second.msg;
  EXPECT_EQ(second.id, first.id);
  EXPECT_NE(second.auth, first.auth);
  EXPECT_EQ(ids_.check_device_login(first.id, first.auth).status, LoginStatus::kBadCredentials);
  EXPECT_EQ(ids_.check_device_login(second.id, second.auth).status, LoginStatus::kOk);
  auto d = ids_.device(first.id);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, "ok");
  EXPECT_EQ(d->name, "Old");   // it had one
  EXPECT_EQ(d->perm, custom);  // the operator's change stays
  EXPECT_EQ(ids_.devices().size(), 1u);
  // Once only.
  EXPECT_EQ(fleet_.enroll_thing(model_.id, "SN-1", "enroll-pass", "").outcome,
            EnrollOutcome::kNotAllowed);

  // Reactivation in a disabled account is refused.
  ids_.set_device(first.id, std::nullopt, std::string("reactivate"), std::nullopt).value();
  ids_.set_account(account_.email, std::nullopt, std::nullopt, true).value();
  EXPECT_EQ(fleet_.enroll_thing(model_.id, "SN-1", "enroll-pass", "").outcome,
            EnrollOutcome::kNotAllowed);
  EXPECT_EQ(ids_.device(first.id)->status, "reactivate");
}

TEST_F(FleetTest, DeletedThingFreesItsSerial) {
  fleet_.add_serial(model_.id, {"SN-1", "enroll-pass", "ctrl-pass"}).value();
  auto first = fleet_.enroll_thing(model_.id, "SN-1", "enroll-pass", "");
  ASSERT_TRUE(first.ok());
  auto ctrl = fleet_.enroll_controller(model_.id, "SN-1", "ctrl-pass", "PHONE", "");
  ASSERT_TRUE(ctrl.ok());
  auto del = db_.prepare("DELETE FROM devices WHERE id = ?1");
  del.bind(1, first.id);
  del.step();
  EXPECT_TRUE(fleet_.serials(model_.id)[0].thing_id.empty());
  EXPECT_TRUE(fleet_.controlled_things(ctrl.id).empty());
  auto second = fleet_.enroll_thing(model_.id, "SN-1", "enroll-pass", "");
  ASSERT_TRUE(second.ok());
  EXPECT_NE(second.id, first.id);
}

// ---- controllers ----

TEST_F(FleetTest, EnrollController) {
  auto thing = enrolled_thing("SN-1");
  const auto before = platform::now_ms();
  auto r = fleet_.enroll_controller(upper(model_.id), "SN-1", "control-SN-1", "PHONE-1", "Phone");
  ASSERT_TRUE(r.ok()) << r.msg;
  EXPECT_NE(r.id, thing.id);
  EXPECT_EQ(r.auth.size(), 32u);

  auto d = ids_.device(r.id);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->kind, DeviceKind::kController);
  EXPECT_EQ(d->account_id, account_.id);
  EXPECT_EQ(d->name, "Phone");
  EXPECT_EQ(d->hwid, "PHONE-1");
  EXPECT_EQ(d->model, model_.id);
  EXPECT_EQ(d->perm, platform::default_perm(DeviceKind::kController));
  ASSERT_TRUE(d->perm.read);
  EXPECT_TRUE(d->perm.read->empty());
  ASSERT_TRUE(d->perm.write);
  EXPECT_TRUE(d->perm.write->empty());
  EXPECT_EQ(d->status, "ok");
  EXPECT_GE(d->created_at, before);
  EXPECT_EQ(d->controls, std::vector<std::string>{thing.id});

  auto login = ids_.check_device_login(r.id, r.auth);
  EXPECT_EQ(login.status, LoginStatus::kOk);
  EXPECT_EQ(login.device.controls, std::vector<std::string>{thing.id});

  EXPECT_EQ(fleet_.controlled_things(r.id), std::vector<std::string>{thing.id});
  EXPECT_EQ(fleet_.controlled_things(upper(r.id)), std::vector<std::string>{thing.id});
  EXPECT_TRUE(fleet_.controlled_things(thing.id).empty());
  EXPECT_TRUE(fleet_.controlled_things("garbage").empty());
  // The thing itself is unchanged.
  EXPECT_EQ(ids_.check_device_login(thing.id, thing.auth).status, LoginStatus::kOk);
}

// SPEC 5: every phone that enrolled as the controller keeps its code, up to
// kControllerAuthCodes codes, the oldest dropped first; revoking ends them all, and the next
// enrollment starts again from one.
TEST_F(FleetTest, ARepeatedControllerEnrollmentKeepsTheEarlierCodes) {
  auto thing = enrolled_thing("SN-1");
  std::vector<std::string> codes;
  std::string id;
  for (std::size_t i = 0; i < kControllerAuthCodes + 2; ++i) {
    auto r = fleet_.enroll_controller(model_.id, "SN-1", "control-SN-1", "SN-1", "");
    ASSERT_TRUE(r.ok()) << r.msg;
    if (id.empty()) id = r.id;
    EXPECT_EQ(r.id, id);
    codes.push_back(r.auth);
  }
  auto status = [&](const std::string& code) { return ids_.check_device_login(id, code).status; };
  EXPECT_EQ(status(codes[0]), LoginStatus::kBadCredentials) << "the oldest went first";
  EXPECT_EQ(status(codes[1]), LoginStatus::kBadCredentials);
  for (std::size_t i = 2; i < codes.size(); ++i) EXPECT_EQ(status(codes[i]), LoginStatus::kOk) << i;
  EXPECT_EQ(status("00000000000000000000000000000000"), LoginStatus::kBadCredentials);
  EXPECT_EQ(status(""), LoginStatus::kBadCredentials);
  // The thing keeps its one code; the controller's did not spread to it.
  EXPECT_EQ(ids_.check_device_login(thing.id, codes.back()).status, LoginStatus::kBadCredentials);

  const auto before = ids_.device(id)->auth_revoked;
  const Device revoked = ids_.revoke_auth(id).value();
  EXPECT_EQ(revoked.auth_revoked, before + 1);
  for (const auto& code : codes) EXPECT_EQ(status(code), LoginStatus::kBadCredentials);
  auto after = fleet_.enroll_controller(model_.id, "SN-1", "control-SN-1", "SN-1", "");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after.id, id);
  EXPECT_EQ(status(after.auth), LoginStatus::kOk);
  auto next = fleet_.enroll_controller(model_.id, "SN-1", "control-SN-1", "SN-1", "");
  EXPECT_EQ(status(after.auth), LoginStatus::kOk);
  EXPECT_EQ(status(next.auth), LoginStatus::kOk);
  EXPECT_EQ(status(codes.back()), LoginStatus::kBadCredentials) << "revoked for good";
  // A new code from the operator (--new-auth): one code, every other one refused.
  const auto renewed = ids_.new_auth(id).value();
  EXPECT_EQ(status(renewed.auth), LoginStatus::kOk);
  EXPECT_EQ(status(after.auth), LoginStatus::kBadCredentials);
  EXPECT_EQ(status(next.auth), LoginStatus::kBadCredentials);
}

TEST_F(FleetTest, RepeatedControllerEnrollment) {
  auto a = enrolled_thing("SN-1");
  auto b = enrolled_thing("SN-2");
  // Another template of the same account: same controller.
  const auto t2 =
      fleet_.add_template(account_.id, "Other", platform::default_perm(DeviceKind::kThing)).value();
  fleet_.add_serial(t2.id, {"X-1", "enroll-x1", "control-x1"}).value();
  auto c = fleet_.enroll_thing(t2.id, "X-1", "enroll-x1", "");
  ASSERT_TRUE(c.ok());

  auto first = fleet_.enroll_controller(model_.id, "SN-1", "control-SN-1", "PHONE", "Phone");
  ASSERT_TRUE(first.ok());
  auto second = fleet_.enroll_controller(model_.id, "SN-2", "control-SN-2", "PHONE", "Renamed");
  ASSERT_TRUE(second.ok()) << second.msg;
  EXPECT_EQ(second.id, first.id);
  EXPECT_NE(second.auth, first.auth);
  // Both codes log in: several phones may be this controller (SPEC 5).
  EXPECT_EQ(ids_.check_device_login(first.id, first.auth).status, LoginStatus::kOk);
  EXPECT_EQ(ids_.check_device_login(second.id, second.auth).status, LoginStatus::kOk);
  auto third = fleet_.enroll_controller(t2.id, "X-1", "control-x1", "PHONE", "");
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third.id, first.id);

  const std::vector<std::string> all{a.id, b.id, c.id};
  EXPECT_EQ(fleet_.controlled_things(first.id), all);
  auto d = ids_.device(first.id);
  EXPECT_EQ(d->name, "Phone");  // NAME only names a controller that has none
  EXPECT_EQ(d->controls, all);

  // The same thing again: a new auth code, no duplicate pair.
  auto again = fleet_.enroll_controller(model_.id, "SN-1", "control-SN-1", "PHONE", "");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(fleet_.controlled_things(first.id), all);

  // Another controller HWID is another controller; the same HWID in another account too.
  auto tablet = fleet_.enroll_controller(model_.id, "SN-1", "control-SN-1", "TABLET", "");
  ASSERT_TRUE(tablet.ok());
  EXPECT_NE(tablet.id, first.id);
  const auto other = ids_.add_account("other@example.com", "secret2").value();
  const auto t3 =
      fleet_.add_template(other.id, "", platform::default_perm(DeviceKind::kThing)).value();
  fleet_.add_serial(t3.id, {"O-1", "enroll-o1", "control-o1"}).value();
  auto o = fleet_.enroll_thing(t3.id, "O-1", "enroll-o1", "");
  ASSERT_TRUE(o.ok());
  auto foreign = fleet_.enroll_controller(t3.id, "O-1", "control-o1", "PHONE", "");
  ASSERT_TRUE(foreign.ok());
  EXPECT_NE(foreign.id, first.id);
  EXPECT_EQ(ids_.device(foreign.id)->account_id, other.id);

  // A prototype with that HWID is not the controller.
  ids_.add_prototype(account_.id, "proto", "PROTO-HW").value();
  auto p = fleet_.enroll_controller(model_.id, "SN-1", "control-SN-1", "PROTO-HW", "");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(ids_.device(p.id)->kind, DeviceKind::kController);

  // devices() fills controls for controllers.
  for (const auto& dev : ids_.devices()) {
    if (dev.id == first.id) {
      EXPECT_EQ(dev.controls, all);
    } else if (dev.id == tablet.id || dev.id == p.id) {
      EXPECT_EQ(dev.controls, std::vector<std::string>{a.id});
    } else if (dev.id == foreign.id) {
      EXPECT_EQ(dev.controls, std::vector<std::string>{o.id});
    } else {
      EXPECT_TRUE(dev.controls.empty()) << dev.id;
    }
  }

  const std::vector<std::pair<std::string, std::string>> pairs = {
      {first.id, a.id},  {first.id, b.id},   {first.id, c.id},
      {tablet.id, a.id}, {foreign.id, o.id}, {p.id, a.id}};
  EXPECT_EQ(fleet_.all_controls(), pairs);
}

TEST_F(FleetTest, EnrollControllerErrorsInOrder) {
  fleet_.add_serial(model_.id, {"SN-1", "enroll-1", "control-1"}).value();
  fleet_.add_serial(model_.id, {"SN-2", "enroll-2", std::nullopt}).value();  // control disabled
  const std::string unknown_model = "mod-000000000000000000000000";

  // 400
  EXPECT_EQ(fleet_.enroll_controller("mod-zz", "SN-1", "control-1", "PHONE", "").outcome,
            EnrollOutcome::kMalformed);
  EXPECT_EQ(fleet_.enroll_controller("dev-" + model_.id.substr(4), "SN-1", "control-1", "PHONE", "")
                .outcome,
            EnrollOutcome::kMalformed);
  EXPECT_EQ(fleet_.enroll_controller(model_.id, "SN/1", "control-1", "PHONE", "").outcome,
            EnrollOutcome::kMalformed);
  EXPECT_EQ(fleet_.enroll_controller(model_.id, "SN-1", "control-1", "PH/ONE", "").outcome,
            EnrollOutcome::kMalformed);
  EXPECT_EQ(fleet_.enroll_controller(model_.id, "SN-1", "control-1", "", "").outcome,
            EnrollOutcome::kMalformed);
  EXPECT_EQ(fleet_.enroll_controller(unknown_model, "SN-1", "x", "PH#", "").outcome,
            EnrollOutcome::kMalformed);

  // 404: unknown model, unregistered thing, thing not enrolled yet.
  EXPECT_EQ(fleet_.enroll_controller(unknown_model, "SN-1", "control-1", "PHONE", "").outcome,
            EnrollOutcome::kUnknown);
  EXPECT_EQ(fleet_.enroll_controller(model_.id, "SN-9", "control-1", "PHONE", "").outcome,
            EnrollOutcome::kUnknown);
  auto not_yet = fleet_.enroll_controller(model_.id, "SN-1", "control-1", "PHONE", "");
  EXPECT_EQ(not_yet.outcome, EnrollOutcome::kUnknown);
  EXPECT_TRUE(contains(not_yet.msg, "not enrolled")) << not_yet.msg;
  EXPECT_EQ(fleet_.enroll_controller(model_.id, "SN-1", "wrong", "PHONE", "").outcome,
            EnrollOutcome::kUnknown);

  auto t1 = fleet_.enroll_thing(model_.id, "SN-1", "enroll-1", "");
  auto t2 = fleet_.enroll_thing(model_.id, "SN-2", "enroll-2", "");
  ASSERT_TRUE(t1.ok());
  ASSERT_TRUE(t2.ok());

  // 403 control disabled: no control password registered (whatever the password)...
  auto no_pass = fleet_.enroll_controller(model_.id, "SN-2", "control-1", "PHONE", "");
  EXPECT_EQ(no_pass.outcome, EnrollOutcome::kNotAllowed);
  EXPECT_TRUE(contains(no_pass.msg, "control disabled")) << no_pass.msg;
  // ...or the thing's perm.ctrl is "" (checked before the password).
  PermFilter closed = platform::default_perm(DeviceKind::kThing);
  closed.ctrl = "";
  ids_.set_device(t1.id, closed, std::nullopt, std::nullopt).value();
  EXPECT_EQ(fleet_.enroll_controller(model_.id, "SN-1", "control-1", "PHONE", "").outcome,
            EnrollOutcome::kNotAllowed);
  EXPECT_EQ(fleet_.enroll_controller(model_.id, "SN-1", "wrong", "PHONE", "").outcome,
            EnrollOutcome::kNotAllowed);
  // "r" still allows control.
  closed.ctrl = "r";
  ids_.set_device(t1.id, closed, std::nullopt, std::nullopt).value();

  // 403 thing disabled, account disabled.
  ids_.set_device(t1.id, std::nullopt, std::string("disabled"), std::nullopt).value();
  auto thing_off = fleet_.enroll_controller(model_.id, "SN-1", "control-1", "PHONE", "");
  EXPECT_EQ(thing_off.outcome, EnrollOutcome::kNotAllowed);
  EXPECT_TRUE(contains(thing_off.msg, "thing disabled")) << thing_off.msg;
  ids_.set_device(t1.id, std::nullopt, std::string("ok"), std::nullopt).value();
  ids_.set_account(account_.email, std::nullopt, std::nullopt, true).value();
  auto account_off = fleet_.enroll_controller(model_.id, "SN-1", "control-1", "PHONE", "");
  EXPECT_EQ(account_off.outcome, EnrollOutcome::kNotAllowed);
  EXPECT_TRUE(contains(account_off.msg, "account disabled")) << account_off.msg;
  ids_.set_account(account_.email, std::nullopt, std::nullopt, false).value();

  // 401 wrong control password (the enroll password is not the control password).
  EXPECT_EQ(fleet_.enroll_controller(model_.id, "SN-1", "wrong-pass", "PHONE", "").outcome,
            EnrollOutcome::kWrongPassword);
  EXPECT_EQ(fleet_.enroll_controller(model_.id, "SN-1", "enroll-1", "PHONE", "").outcome,
            EnrollOutcome::kWrongPassword);
  EXPECT_EQ(fleet_.enroll_controller(model_.id, "SN-1", "", "PHONE", "").outcome,
            EnrollOutcome::kWrongPassword);

  // Nothing was created so far.
  EXPECT_EQ(ids_.devices().size(), 2u);
  EXPECT_TRUE(fleet_.all_controls().empty());

  // A disabled existing controller is refused, and keeps its auth code and things.
  auto c = fleet_.enroll_controller(model_.id, "SN-1", "control-1", "PHONE", "");
  ASSERT_TRUE(c.ok()) << c.msg;
  ids_.set_device(c.id, std::nullopt, std::string("disabled"), std::nullopt).value();
  auto off = fleet_.enroll_controller(model_.id, "SN-1", "control-1", "PHONE", "");
  EXPECT_EQ(off.outcome, EnrollOutcome::kNotAllowed);
  EXPECT_TRUE(contains(off.msg, "controller disabled")) << off.msg;
  EXPECT_TRUE(off.id.empty());
  EXPECT_TRUE(off.auth.empty());
  EXPECT_EQ(ids_.check_device_login(c.id, c.auth).status, LoginStatus::kDisabled);
  EXPECT_EQ(fleet_.controlled_things(c.id), std::vector<std::string>{t1.id});
}

TEST_F(FleetTest, DatabaseFailureIs500WithDetailForTheLog) {
  fleet_.add_serial(model_.id, {"SN-1", "enroll-pass", std::nullopt}).value();
  // A second writer holding the lock would make BEGIN IMMEDIATE wait; simpler: an open
  // transaction makes the nested BEGIN fail.
  db_.exec("BEGIN");
  auto r = fleet_.enroll_thing(model_.id, "SN-1", "enroll-pass", "");
  db_.exec("ROLLBACK");
  EXPECT_EQ(r.outcome, EnrollOutcome::kFailed);
  EXPECT_EQ(r.msg, "internal error");
  EXPECT_FALSE(r.log_detail.empty());
  EXPECT_TRUE(r.auth.empty());
  EXPECT_TRUE(ids_.devices().empty());
}

// The server's data writer commits on its own connection all the time; an enrollment must
// still get the write lock after its (slow) password check.
TEST(FleetConcurrency, EnrollWhileAnotherConnectionCommits) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("plugmq-fleet-" + std::to_string(::getpid()) + "-" + platform::new_oid());
  std::filesystem::create_directories(dir);
  const auto file = dir / "plugmq.db";
  {
    Db db = Db::open(file);
    Identity ids(db);
    Fleet fleet(db);
    const Account account = ids.add_account("maker@example.com", "secret1").value();
    const Template model =
        fleet.add_template(account.id, "Sensor v1", platform::default_perm(DeviceKind::kThing))
            .value();
    for (int i = 0; i < 5; ++i) {
      const std::string hwid = "SN-" + std::to_string(i);
      fleet.add_serial(model.id, {hwid, "enroll-" + hwid, std::nullopt}).value();
    }
    db.exec("CREATE TABLE scratch (x INTEGER)");

    std::atomic<bool> done{false};
    std::atomic<int> commits{0};
    std::thread other([&] {
      Db writer = Db::open(file);
      while (!done) {
        writer.exec("INSERT INTO scratch VALUES (1)");
        ++commits;
      }
    });
    for (int i = 0; i < 5; ++i) {
      const std::string hwid = "SN-" + std::to_string(i);
      auto r = fleet.enroll_thing(model.id, hwid, "enroll-" + hwid, "");
      EXPECT_TRUE(r.ok()) << hwid << ": " << r.msg << " (" << r.log_detail << ")";
    }
    done = true;
    other.join();
    EXPECT_GT(commits.load(), 5);
  }
  std::filesystem::remove_all(dir);
}

// ---- schema ----

TEST(FleetSchema, Version1DatabaseIsMigrated) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("plugmq-fleet-" + std::to_string(::getpid()) + "-" + platform::new_oid());
  std::filesystem::create_directories(dir);
  const auto file = dir / "plugmq.db";
  {
    // What migration 1 left, with a device in it.
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(file.string().c_str(), &raw), SQLITE_OK);
    const char* v1 = R"(
      CREATE TABLE accounts (id TEXT PRIMARY KEY, email TEXT UNIQUE NOT NULL,
        password_hash TEXT NOT NULL, retention_days INTEGER NOT NULL DEFAULT 30,
        disabled INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);
      CREATE TABLE devices (id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        kind TEXT NOT NULL, name TEXT NOT NULL DEFAULT '', hwid TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL DEFAULT '', perm TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'ok',
        auth_hash TEXT NOT NULL, last_client_id TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL);
      CREATE INDEX devices_account ON devices(account_id);
      INSERT INTO accounts (id, email, password_hash, created_at)
        VALUES ('com-000000000000000000000001', 'a@b.c', 'h', 1);
      INSERT INTO devices (id, account_id, kind, perm, auth_hash, created_at)
        VALUES ('dev-000000000000000000000001', 'com-000000000000000000000001', 'prototype',
                '{"of":{"r":null,"w":null},"ctrl":"rw"}', 'h', 1);
      PRAGMA user_version = 1;)";
    ASSERT_EQ(sqlite3_exec(raw, v1, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(raw);
  }
  {
    Db db = Db::open(file);
    EXPECT_EQ(db.user_version(), 15);
    Identity ids(db);
    Fleet fleet(db);
    EXPECT_TRUE(ids.device("dev-000000000000000000000001"));
    auto t = fleet
                 .add_template("com-000000000000000000000001", "",
                               platform::default_perm(DeviceKind::kThing))
                 .value();
    EXPECT_EQ(fleet.templates().size(), 1u);
  }
  std::filesystem::remove_all(dir);
}

TEST(FleetSchema, DeletingAnAccountDeletesItsTemplatesAndSerials) {
  Db db = Db::open_memory();
  Identity ids(db);
  Fleet fleet(db);
  auto a = ids.add_account("a@b.c", "secret1").value();
  auto t = fleet.add_template(a.id, "", platform::default_perm(DeviceKind::kThing)).value();
  fleet.add_serial(t.id, {"SN-1", "pass1", std::nullopt}).value();
  auto del = db.prepare("DELETE FROM accounts WHERE id = ?1");
  del.bind(1, a.id);
  del.step();
  EXPECT_TRUE(fleet.templates().empty());
  auto s = db.prepare("SELECT count(*) FROM serials");
  s.step();
  EXPECT_EQ(s.int64(0), 0);
}

}  // namespace
}  // namespace plugmq::store

namespace plugmq::store {
namespace {

TEST_F(FleetTest, ControllerCreatedFlag) {
  enrolled_thing("SN-1");
  enrolled_thing("SN-2");
  auto first = fleet_.enroll_controller(model_.id, "SN-1", "control-SN-1", "PHONE", "");
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first.created);
  auto again = fleet_.enroll_controller(model_.id, "SN-2", "control-SN-2", "PHONE", "");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again.created);
}

TEST_F(FleetTest, ControlThingAddsWithoutNewAuth) {
  auto a = enrolled_thing("SN-1");
  auto b = enrolled_thing("SN-2");
  auto ctrl = fleet_.enroll_controller(model_.id, "SN-1", "control-SN-1", "PHONE", "");
  ASSERT_TRUE(ctrl.ok());
  auto r = fleet_.control_thing(ctrl.id, model_.id, "SN-2", "control-SN-2");
  ASSERT_TRUE(r.ok()) << r.msg;
  EXPECT_EQ(r.id, ctrl.id);
  EXPECT_TRUE(r.auth.empty());
  EXPECT_EQ(ids_.check_device_login(ctrl.id, ctrl.auth).status, LoginStatus::kOk);
  EXPECT_EQ(fleet_.controlled_things(ctrl.id), (std::vector<std::string>{a.id, b.id}));
  // Again: nothing changes.
  EXPECT_TRUE(fleet_.control_thing(ctrl.id, model_.id, "SN-2", "control-SN-2").ok());
  EXPECT_EQ(fleet_.controlled_things(ctrl.id).size(), 2u);
}

TEST_F(FleetTest, ControlThingErrors) {
  auto a = enrolled_thing("SN-1");
  enrolled_thing("SN-2");
  fleet_.add_serial(model_.id, {"SN-3", "enroll-3", std::nullopt}).value();  // never enrolled
  auto ctrl = fleet_.enroll_controller(model_.id, "SN-1", "control-SN-1", "PHONE", "");
  ASSERT_TRUE(ctrl.ok());
  EXPECT_EQ(fleet_.control_thing("dev-000000000000000000000000", model_.id, "SN-2", "control-SN-2")
                .outcome,
            EnrollOutcome::kUnknown);
  EXPECT_EQ(fleet_.control_thing(a.id, model_.id, "SN-2", "control-SN-2").outcome,
            EnrollOutcome::kNotAllowed);  // a thing
  EXPECT_EQ(fleet_.control_thing(ctrl.id, "garbage", "SN-2", "control-SN-2").outcome,
            EnrollOutcome::kMalformed);
  EXPECT_EQ(fleet_.control_thing(ctrl.id, model_.id, "SN-9", "control-SN-2").outcome,
            EnrollOutcome::kUnknown);
  EXPECT_EQ(fleet_.control_thing(ctrl.id, model_.id, "SN-3", "whatever").outcome,
            EnrollOutcome::kUnknown);
  EXPECT_EQ(fleet_.control_thing(ctrl.id, model_.id, "SN-2", "wrong-pass").outcome,
            EnrollOutcome::kWrongPassword);

  // A thing of another account, with the right password, stays out of reach.
  const auto other = ids_.add_account("other@example.com", "secret2").value();
  const auto t =
      fleet_.add_template(other.id, "", platform::default_perm(DeviceKind::kThing)).value();
  fleet_.add_serial(t.id, {"O-1", "enroll-o1", "control-o1"}).value();
  ASSERT_TRUE(fleet_.enroll_thing(t.id, "O-1", "enroll-o1", "").ok());
  EXPECT_EQ(fleet_.control_thing(ctrl.id, t.id, "O-1", "control-o1").outcome,
            EnrollOutcome::kNotAllowed);

  ids_.set_device(ctrl.id, std::nullopt, std::string("disabled"), std::nullopt).value();
  EXPECT_EQ(fleet_.control_thing(ctrl.id, model_.id, "SN-2", "control-SN-2").outcome,
            EnrollOutcome::kNotAllowed);
}

TEST_F(FleetTest, ReleaseThings) {
  auto a = enrolled_thing("SN-1");
  auto b = enrolled_thing("SN-2");
  auto c = enrolled_thing("SN-3");
  auto ctrl = fleet_.enroll_controller(model_.id, "SN-1", "control-SN-1", "PHONE", "");
  ASSERT_TRUE(fleet_.control_thing(ctrl.id, model_.id, "SN-2", "control-SN-2").ok());
  ASSERT_TRUE(fleet_.control_thing(ctrl.id, model_.id, "SN-3", "control-SN-3").ok());
  EXPECT_EQ(
      fleet_.release_things(
          ctrl.id, std::vector<std::string>{upper(b.id), "junk", "dev-000000000000000000000000"}),
      1u);
  EXPECT_EQ(fleet_.controlled_things(ctrl.id), (std::vector<std::string>{a.id, c.id}));
  EXPECT_EQ(fleet_.release_things(ctrl.id, std::nullopt), 2u);
  EXPECT_TRUE(fleet_.controlled_things(ctrl.id).empty());
  EXPECT_EQ(fleet_.release_things("junk", std::nullopt), 0u);
}

}  // namespace
}  // namespace plugmq::store
