#include "plugmq/store/identity.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "plugmq/platform/crypto.hpp"
#include "plugmq/platform/ids.hpp"
#include "store_errors.hpp"

namespace plugmq::store {
namespace {

using platform::DeviceKind;
using platform::PermFilter;

class IdentityTest : public ::testing::Test {
 protected:
  Db db_ = Db::open_memory();
  Identity ids_{db_};
};

using testing::error_of;
using testing::message_of;

// ---- accounts ----

TEST_F(IdentityTest, AddAccount) {
  const auto before = platform::now_ms();
  const Account a = ids_.add_account("Alice@Example.COM", "secret1", 7).value();
  EXPECT_TRUE(platform::normalize_plug_id(a.id, platform::IdKind::kAccount));
  EXPECT_EQ(a.email, "alice@example.com");
  EXPECT_EQ(a.retention_days, 7);
  EXPECT_FALSE(a.disabled);
  EXPECT_GE(a.created_at, before);

  const auto by_email = ids_.account_by_email("ALICE@example.com");
  ASSERT_TRUE(by_email);
  EXPECT_EQ(by_email->id, a.id);
  EXPECT_EQ(by_email->retention_days, 7);
  EXPECT_EQ(by_email->created_at, a.created_at);
  const auto by_id = ids_.account_by_id(a.id);
  ASSERT_TRUE(by_id);
  EXPECT_EQ(by_id->email, a.email);
  EXPECT_TRUE(ids_.account_by_id("COM-" + a.id.substr(4)));
  EXPECT_FALSE(ids_.account_by_email("bob@example.com"));
  EXPECT_FALSE(ids_.account_by_id("com-000000000000000000000000"));
  EXPECT_FALSE(ids_.account_by_id("garbage"));
}

TEST_F(IdentityTest, AddAccountDefaultRetention) {
  EXPECT_EQ(ids_.add_account("a@b.c", "pass").value().retention_days, kDefaultRetentionDays);
  EXPECT_EQ(ids_.add_account("d@e.f", "pass", 0).value().retention_days, 0);
}

// Expected failures are values, with the code and a message for whoever asked.
TEST_F(IdentityTest, FailuresAreResults) {
  ASSERT_TRUE(ids_.add_account("a@b.c", "secret1"));
  const auto taken = ids_.add_account("A@B.C", "other");
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, Errc::kExists);
  const auto bad = ids_.add_account("no-at-sign", "secret1");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::kInvalid);
  EXPECT_FALSE(bad.error().message.empty());
  const auto nobody = ids_.add_prototype("com-000000000000000000000000", "p");
  ASSERT_FALSE(nobody);
  EXPECT_EQ(nobody.error().code, Errc::kNotFound);
}

TEST_F(IdentityTest, PasswordIsNotStoredInClear) {
  ids_.add_account("a@b.c", "hunter22").value();
  auto s = db_.prepare("SELECT password_hash FROM accounts");
  ASSERT_TRUE(s.step());
  const std::string hash = s.text(0);
  EXPECT_EQ(hash.find("hunter22"), std::string::npos);
  EXPECT_TRUE(platform::verify_secret("hunter22", hash));
}

TEST_F(IdentityTest, DuplicateEmail) {
  ids_.add_account("a@b.c", "pass").value();
  EXPECT_EQ(error_of([&] { ids_.add_account("A@B.C", "other").value(); }), Error::Code::kExists);
  EXPECT_EQ(ids_.accounts().size(), 1u);
}

TEST_F(IdentityTest, InvalidAccount) {
  struct Case {
    std::string email, password;
    int retention;
    const char* field;
  };
  for (const Case& c : {
           Case{"nobody", "pass", 30, "email"},
           Case{"@b", "pass", 30, "email"},
           Case{"a@", "pass", 30, "email"},
           Case{"a@b@c", "pass", 30, "email"},
           Case{"a@", "pass", 30, "email"},
           Case{"", "pass", 30, "email"},
           Case{"a b@c", "pass", 30, "email"},
           Case{"a\xff@b.c", "pass", 30, "email"},
           Case{std::string(250, 'a') + "@b.cd", "pass", 30, "email"},
           Case{"a@b.c", "abc", 30, "password"},
           Case{"a@b.c", std::string(129, 'p'), 30, "password"},
           Case{"a@b.c", "pass", -1, "retention"},
       }) {
    const std::string msg =
        message_of([&] { ids_.add_account(c.email, c.password, c.retention).value(); });
    EXPECT_NE(msg.find(c.field), std::string::npos) << c.email << ": " << msg;
    EXPECT_EQ(error_of([&] { ids_.add_account(c.email, c.password, c.retention).value(); }),
              Error::Code::kInvalid);
  }
  EXPECT_TRUE(ids_.accounts().empty());
  EXPECT_EQ(message_of([&] { ids_.add_account("a@b.c", "abc").value(); }),
            "password must be 4..128 bytes");
}

TEST_F(IdentityTest, SetAccount) {
  const Account a = ids_.add_account("a@b.c", "old-pass").value();
  Account b = ids_.set_account("A@b.c", std::nullopt, 0, std::nullopt).value();
  EXPECT_EQ(b.id, a.id);
  EXPECT_EQ(b.retention_days, 0);
  EXPECT_FALSE(b.disabled);
  EXPECT_EQ(ids_.check_account_login("a@b.c", "old-pass").status, LoginStatus::kOk);

  b = ids_.set_account("a@b.c", std::string("new-pass"), std::nullopt, true).value();
  EXPECT_EQ(b.retention_days, 0);
  EXPECT_TRUE(b.disabled);
  EXPECT_EQ(ids_.check_account_login("a@b.c", "old-pass").status, LoginStatus::kBadCredentials);
  EXPECT_EQ(ids_.check_account_login("a@b.c", "new-pass").status, LoginStatus::kDisabled);

  b = ids_.set_account("a@b.c", std::nullopt, std::nullopt, false).value();
  EXPECT_FALSE(b.disabled);
  EXPECT_EQ(ids_.check_account_login("a@b.c", "new-pass").status, LoginStatus::kOk);

  // No fields: a no-op that still reports the account.
  EXPECT_EQ(ids_.set_account("a@b.c", std::nullopt, std::nullopt, std::nullopt).value().id, a.id);
}

TEST_F(IdentityTest, SetAccountErrors) {
  ids_.add_account("a@b.c", "pass").value();
  EXPECT_EQ(error_of([&] { ids_.set_account("x@y.z", std::nullopt, 1, std::nullopt).value(); }),
            Error::Code::kNotFound);
  EXPECT_EQ(
      error_of([&] { ids_.set_account("a@b.c", std::string("abc"), 1, std::nullopt).value(); }),
      Error::Code::kInvalid);
  EXPECT_EQ(error_of([&] { ids_.set_account("a@b.c", std::nullopt, -5, std::nullopt).value(); }),
            Error::Code::kInvalid);
  EXPECT_EQ(ids_.account_by_email("a@b.c")->retention_days, kDefaultRetentionDays);
}

TEST_F(IdentityTest, AccountsOldestFirst) {
  const auto a = ids_.add_account("a@b.c", "pass").value();
  const auto b = ids_.add_account("b@b.c", "pass").value();
  const auto c = ids_.add_account("c@b.c", "pass").value();
  const auto all = ids_.accounts();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id, a.id);
  EXPECT_EQ(all[1].id, b.id);
  EXPECT_EQ(all[2].id, c.id);
}

TEST_F(IdentityTest, AccountLogin) {
  const auto a = ids_.add_account("a@b.c", "right").value();
  auto login = ids_.check_account_login("A@B.C", "right");
  EXPECT_EQ(login.status, LoginStatus::kOk);
  EXPECT_EQ(login.account.id, a.id);
  EXPECT_EQ(ids_.check_account_login("a@b.c", "wrong").status, LoginStatus::kBadCredentials);
  EXPECT_EQ(ids_.check_account_login("a@b.c", "").status, LoginStatus::kBadCredentials);
  EXPECT_EQ(ids_.check_account_login("nobody@b.c", "right").status, LoginStatus::kBadCredentials);
  EXPECT_EQ(ids_.check_account_login("", "").status, LoginStatus::kBadCredentials);
}

TEST_F(IdentityTest, DisabledAccountLogin) {
  ids_.add_account("a@b.c", "right").value();
  ids_.set_account("a@b.c", std::nullopt, std::nullopt, true).value();
  EXPECT_EQ(ids_.check_account_login("a@b.c", "right").status, LoginStatus::kDisabled);
  // Without the password nobody learns the account is disabled.
  EXPECT_EQ(ids_.check_account_login("a@b.c", "wrong").status, LoginStatus::kBadCredentials);
}

// ---- devices ----

TEST_F(IdentityTest, AddPrototype) {
  const auto a = ids_.add_account("a@b.c", "pass").value();
  const auto before = platform::now_ms();
  const NewDevice nd = ids_.add_prototype(a.id, "Kitchen", "00:11:22:33:44:55").value();
  const Device& d = nd.device;
  EXPECT_TRUE(platform::normalize_plug_id(d.id, platform::IdKind::kDevice));
  EXPECT_EQ(d.account_id, a.id);
  EXPECT_EQ(d.kind, DeviceKind::kPrototype);
  EXPECT_EQ(d.name, "Kitchen");
  EXPECT_EQ(d.hwid, "00:11:22:33:44:55");
  EXPECT_EQ(d.model, "");
  EXPECT_EQ(d.perm, platform::default_perm(DeviceKind::kPrototype));
  EXPECT_EQ(d.perm.read, std::nullopt);
  EXPECT_EQ(d.status, "ok");
  EXPECT_EQ(d.last_client_id, "");
  EXPECT_GE(d.created_at, before);
  EXPECT_EQ(nd.auth.size(), 32u);

  const auto stored = ids_.device(d.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->id, d.id);
  EXPECT_EQ(stored->account_id, a.id);
  EXPECT_EQ(stored->kind, DeviceKind::kPrototype);
  EXPECT_EQ(stored->name, "Kitchen");
  EXPECT_EQ(stored->hwid, d.hwid);
  EXPECT_EQ(stored->perm, d.perm);
  EXPECT_EQ(stored->created_at, d.created_at);

  // The auth code is stored only as its SHA-256.
  auto s = db_.prepare("SELECT auth_hash, perm FROM devices WHERE id = ?1");
  s.bind(1, d.id);
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.text(0), platform::sha256_hex(nd.auth));
  EXPECT_EQ(s.text(1), R"({"of":{"r":null,"w":null},"ctrl":"rw"})");
}

TEST_F(IdentityTest, AddPrototypeWithoutHwid) {
  const auto a = ids_.add_account("a@b.c", "pass").value();
  const auto nd = ids_.add_prototype(a.id, "").value();
  EXPECT_EQ(nd.device.hwid, "");
  EXPECT_EQ(nd.device.name, "");
  EXPECT_NE(nd.auth, ids_.add_prototype(a.id, "").value().auth);
}

TEST_F(IdentityTest, AddPrototypeErrors) {
  const auto a = ids_.add_account("a@b.c", "pass").value();
  EXPECT_EQ(error_of([&] { ids_.add_prototype("com-000000000000000000000000", "x").value(); }),
            Error::Code::kNotFound);
  EXPECT_EQ(error_of([&] { ids_.add_prototype("bogus", "x").value(); }), Error::Code::kNotFound);
  for (const std::string& hwid :
       {std::string("a/b"), std::string("a+b"), std::string("a#"), std::string("tab\there"),
        std::string(129, 'h'), std::string("\xff")}) {
    const auto msg = message_of([&] { ids_.add_prototype(a.id, "x", hwid).value(); });
    EXPECT_NE(msg.find("hwid"), std::string::npos) << msg;
  }
  EXPECT_EQ(error_of([&] { ids_.add_prototype(a.id, std::string(300, 'n')).value(); }),
            Error::Code::kInvalid);
  EXPECT_TRUE(ids_.devices().empty());
  // Uppercase account ids work like any Plug-ID.
  EXPECT_NO_THROW(ids_.add_prototype("COM-" + a.id.substr(4), "x").value());
}

TEST_F(IdentityTest, DeviceLogin) {
  const auto a = ids_.add_account("a@b.c", "pass").value();
  const auto nd = ids_.add_prototype(a.id, "p").value();
  auto login = ids_.check_device_login(nd.device.id, nd.auth);
  EXPECT_EQ(login.status, LoginStatus::kOk);
  EXPECT_EQ(login.device.id, nd.device.id);
  EXPECT_EQ(login.device.account_id, a.id);
  EXPECT_EQ(login.device.perm, platform::default_perm(DeviceKind::kPrototype));

  std::string upper = nd.device.id;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  login = ids_.check_device_login(upper, nd.auth);
  EXPECT_EQ(login.status, LoginStatus::kOk);
  EXPECT_EQ(login.device.id, nd.device.id);

  std::string wrong = nd.auth;
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  EXPECT_EQ(ids_.check_device_login(nd.device.id, wrong).status, LoginStatus::kBadCredentials);
  EXPECT_EQ(ids_.check_device_login(nd.device.id, "").status, LoginStatus::kBadCredentials);
  EXPECT_EQ(
      ids_.check_device_login(platform::new_plug_id(platform::IdKind::kDevice), nd.auth).status,
      LoginStatus::kBadCredentials);
  EXPECT_EQ(ids_.check_device_login("not-a-plug-id", nd.auth).status, LoginStatus::kBadCredentials);
  EXPECT_EQ(ids_.check_device_login("", "").status, LoginStatus::kBadCredentials);
  EXPECT_EQ(ids_.check_device_login(a.id, nd.auth).status, LoginStatus::kBadCredentials);
}

TEST_F(IdentityTest, DeviceLoginDisabledAndReactivate) {
  const auto a = ids_.add_account("a@b.c", "pass").value();
  const auto nd = ids_.add_prototype(a.id, "p").value();
  ids_.set_device(nd.device.id, std::nullopt, std::string("disabled"), std::nullopt).value();
  EXPECT_EQ(ids_.check_device_login(nd.device.id, nd.auth).status, LoginStatus::kDisabled);
  EXPECT_EQ(ids_.check_device_login(nd.device.id, "wrong").status, LoginStatus::kBadCredentials);

  ids_.set_device(nd.device.id, std::nullopt, std::string("reactivate"), std::nullopt).value();
  const auto login = ids_.check_device_login(nd.device.id, nd.auth);
  EXPECT_EQ(login.status, LoginStatus::kOk);
  EXPECT_EQ(login.device.status, "reactivate");

  ids_.set_device(nd.device.id, std::nullopt, std::string("ok"), std::nullopt).value();
  ids_.set_account("a@b.c", std::nullopt, std::nullopt, true).value();
  EXPECT_EQ(ids_.check_device_login(nd.device.id, nd.auth).status, LoginStatus::kDisabled);
  ids_.set_account("a@b.c", std::nullopt, std::nullopt, false).value();
  EXPECT_EQ(ids_.check_device_login(nd.device.id, nd.auth).status, LoginStatus::kOk);
}

TEST_F(IdentityTest, SetDevice) {
  const auto a = ids_.add_account("a@b.c", "pass").value();
  const auto nd = ids_.add_prototype(a.id, "old").value();
  const auto other = ids_.add_prototype(a.id, "other").value();
  const PermFilter perm{std::vector<std::string>{other.device.id}, std::vector<std::string>{}, "r"};

  Device d = ids_.set_device(nd.device.id, perm, std::nullopt, std::nullopt).value();
  EXPECT_EQ(d.perm, perm);
  EXPECT_EQ(d.name, "old");
  EXPECT_EQ(d.status, "ok");
  EXPECT_EQ(ids_.device(nd.device.id)->perm, perm);
  EXPECT_EQ(ids_.check_device_login(nd.device.id, nd.auth).device.perm, perm);

  d = ids_.set_device(nd.device.id, std::nullopt, std::string("disabled"), std::string("new"))
          .value();
  EXPECT_EQ(d.perm, perm);
  EXPECT_EQ(d.name, "new");
  EXPECT_EQ(d.status, "disabled");

  std::string upper = nd.device.id;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  d = ids_.set_device(upper, std::nullopt, std::nullopt, std::string("")).value();
  EXPECT_EQ(d.name, "");
  EXPECT_EQ(ids_.device(upper)->id, nd.device.id);
}

TEST_F(IdentityTest, SetDeviceErrors) {
  const auto a = ids_.add_account("a@b.c", "pass").value();
  const auto nd = ids_.add_prototype(a.id, "p").value();
  EXPECT_EQ(error_of([&] {
              ids_.set_device(platform::new_plug_id(platform::IdKind::kDevice), std::nullopt,
                              std::string("ok"), std::nullopt)
                  .value();
            }),
            Error::Code::kNotFound);
  EXPECT_EQ(error_of([&] {
              ids_.set_device("junk", std::nullopt, std::nullopt, std::string("n")).value();
            }),
            Error::Code::kNotFound);
  const auto msg = message_of([&] {
    ids_.set_device(nd.device.id, std::nullopt, std::string("gone"), std::nullopt).value();
  });
  EXPECT_NE(msg.find("status"), std::string::npos) << msg;
  EXPECT_EQ(error_of([&] {
              ids_.set_device(nd.device.id, PermFilter{std::nullopt, std::nullopt, "x"},
                              std::nullopt, std::nullopt)
                  .value();
            }),
            Error::Code::kInvalid);
  EXPECT_EQ(ids_.device(nd.device.id)->status, "ok");
}

TEST_F(IdentityTest, RecordLogin) {
  const auto a = ids_.add_account("a@b.c", "pass").value();
  const auto nameless = ids_.add_prototype(a.id, "").value();
  const auto named = ids_.add_prototype(a.id, "Mine").value();

  ids_.record_login(nameless.device.id, "hw1/Kitchen", "Kitchen", 1);
  auto d = ids_.device(nameless.device.id);
  EXPECT_EQ(d->last_client_id, "hw1/Kitchen");
  EXPECT_EQ(d->name, "Kitchen");

  ids_.record_login(nameless.device.id, "hw1/Garage", "Garage", 1);  // has a name now
  d = ids_.device(nameless.device.id);
  EXPECT_EQ(d->last_client_id, "hw1/Garage");
  EXPECT_EQ(d->name, "Kitchen");

  ids_.record_login(named.device.id, "hw2/Other", "Other", 1);
  EXPECT_EQ(ids_.device(named.device.id)->name, "Mine");

  const auto third = ids_.add_prototype(a.id, "").value();
  ids_.record_login(third.device.id, "hw3", "", 1);  // empty name changes nothing
  d = ids_.device(third.device.id);
  EXPECT_EQ(d->last_client_id, "hw3");
  EXPECT_EQ(d->name, "");

  std::string upper = third.device.id;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  ids_.record_login(upper, "hw4/N", "N", 1);
  EXPECT_EQ(ids_.device(third.device.id)->name, "N");

  EXPECT_NO_THROW(ids_.record_login(platform::new_plug_id(platform::IdKind::kDevice), "x", "y", 1));
  EXPECT_NO_THROW(ids_.record_login("junk", "x", "y", 1));
}

TEST_F(IdentityTest, DevicesFilteringAndOrder) {
  const auto a = ids_.add_account("a@b.c", "pass").value();
  const auto b = ids_.add_account("b@b.c", "pass").value();
  const auto a1 = ids_.add_prototype(a.id, "a1").value();
  const auto b1 = ids_.add_prototype(b.id, "b1").value();
  const auto a2 = ids_.add_prototype(a.id, "a2").value();

  auto ids_of = [](const std::vector<Device>& v) {
    std::vector<std::string> out;
    for (const auto& d : v) out.push_back(d.id);
    return out;
  };
  EXPECT_EQ(ids_of(ids_.devices()),
            (std::vector<std::string>{a1.device.id, b1.device.id, a2.device.id}));
  EXPECT_EQ(ids_of(ids_.devices(a.id)), (std::vector<std::string>{a1.device.id, a2.device.id}));
  EXPECT_EQ(ids_of(ids_.devices("COM-" + b.id.substr(4))),
            (std::vector<std::string>{b1.device.id}));
  EXPECT_TRUE(ids_.devices(std::string("com-000000000000000000000000")).empty());
  EXPECT_TRUE(ids_.devices(std::string("junk")).empty());
  EXPECT_FALSE(ids_.device("junk"));
  EXPECT_FALSE(ids_.device(platform::new_plug_id(platform::IdKind::kDevice)));
}

TEST(IdentityFile, ReopenedDatabaseKeepsData) {
  namespace fs = std::filesystem;
  std::string tmpl = (fs::temp_directory_path() / "plugmq-identity-test-XXXXXX").string();
  ASSERT_TRUE(mkdtemp(tmpl.data()));
  const fs::path dir = tmpl;
  const auto file = dir / "plugmq.db";
  NewDevice nd;
  {
    Db db = Db::open(file);
    Identity ids(db);
    const auto a = ids.add_account("a@b.c", "pass", 3).value();
    nd = ids.add_prototype(a.id, "p", "hw").value();
    ids.record_login(nd.device.id, "hw/p", "p", 1);
  }
  {
    Db db = Db::open(file);
    Identity ids(db);
    EXPECT_EQ(ids.check_account_login("a@b.c", "pass").status, LoginStatus::kOk);
    EXPECT_EQ(ids.account_by_email("a@b.c")->retention_days, 3);
    const auto login = ids.check_device_login(nd.device.id, nd.auth);
    EXPECT_EQ(login.status, LoginStatus::kOk);
    EXPECT_EQ(login.device.hwid, "hw");
    EXPECT_EQ(login.device.last_client_id, "hw/p");
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace plugmq::store

namespace plugmq::store {
namespace {

std::int64_t admin_version(Db& db) {
  auto s = db.prepare("SELECT n FROM admin_version");
  EXPECT_TRUE(s.step());
  return s.int64(0);
}

// The broker rebuilds its device directory when admin_version changes: every change the
// directory depends on bumps it, logins and new auth codes do not.
TEST_F(IdentityTest, AdminVersionCountsDirectoryChangesOnly) {
  auto v = admin_version(db_);
  auto bumped = [&] {
    const auto now = admin_version(db_);
    const bool changed = now != v;
    v = now;
    return changed;
  };
  const auto a = ids_.add_account("a@b.c", "pass").value();
  EXPECT_TRUE(bumped()) << "account added";
  const auto nd = ids_.add_prototype(a.id, "x").value();
  EXPECT_TRUE(bumped()) << "device added";
  ids_.set_device(nd.device.id, std::nullopt, std::string("disabled"), std::nullopt).value();
  EXPECT_TRUE(bumped()) << "device status";
  PermFilter read_none;
  read_none.read = std::vector<std::string>{};
  ids_.set_device(nd.device.id, read_none, std::nullopt, std::nullopt).value();
  EXPECT_TRUE(bumped()) << "device perm";
  ids_.set_device(nd.device.id, read_none, std::nullopt, std::string("renamed")).value();
  EXPECT_FALSE(bumped()) << "the same perm, a new name";
  ids_.set_account("a@b.c", std::nullopt, 9, std::nullopt).value();
  EXPECT_TRUE(bumped()) << "account retention";
  ids_.set_account("a@b.c", std::nullopt, std::nullopt, true).value();
  EXPECT_TRUE(bumped()) << "account disabled";

  ids_.record_login(nd.device.id, "client", "name", 1);
  EXPECT_FALSE(bumped()) << "a login";
  ids_.set_account("a@b.c", std::string("other-pass"), std::nullopt, std::nullopt).value();
  EXPECT_FALSE(bumped()) << "a password";
  db_.exec("DELETE FROM devices");
  EXPECT_TRUE(bumped()) << "device deleted";
}

TEST_F(IdentityTest, PrototypeWithItsOwnPassword) {
  const auto a = ids_.add_account("a@example.com", "secret1").value();
  auto nd = ids_.add_prototype(a.id, "p", "", std::string_view("my-password")).value();
  EXPECT_EQ(nd.auth, "my-password");
  EXPECT_EQ(ids_.check_device_login(nd.device.id, "my-password").status, LoginStatus::kOk);
  EXPECT_EQ(ids_.check_device_login(nd.device.id, "my-passwore").status,
            LoginStatus::kBadCredentials);
  // Stored as a slow salted hash, never in clear.
  auto s = db_.prepare("SELECT auth_hash FROM devices WHERE id = ?1");
  s.bind(1, nd.device.id);
  ASSERT_TRUE(s.step());
  EXPECT_TRUE(s.text(0).starts_with("pbkdf2-sha256$"));
  EXPECT_EQ(error_of([&] { ids_.add_prototype(a.id, "p", "", std::string_view("abc")).value(); }),
            Error::Code::kInvalid);
}

std::string upper_id(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

TEST_F(IdentityTest, DeleteDevice) {
  const auto a = ids_.add_account("a@example.com", "secret1").value();
  auto nd = ids_.add_prototype(a.id, "p").value();
  db_.exec("INSERT INTO props (device_id, name, value) VALUES ('" + nd.device.id + "', 'x', '1')");
  EXPECT_TRUE(ids_.delete_device(upper_id(nd.device.id)));
  EXPECT_FALSE(ids_.device(nd.device.id));
  EXPECT_EQ(ids_.check_device_login(nd.device.id, nd.auth).status, LoginStatus::kBadCredentials);
  auto s = db_.prepare("SELECT count(*) FROM props");
  s.step();
  EXPECT_EQ(s.int64(0), 0);
  EXPECT_FALSE(ids_.delete_device(nd.device.id));
  EXPECT_FALSE(ids_.delete_device("garbage"));
}

}  // namespace
}  // namespace plugmq::store
