// What only an account may ask over HTTP (http/account.cpp): its devices, templates and their
// serials (one, or CSV), its persistent sessions. Requests in, responses out through
// Api::handle(), on a real context over a temporary database.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api_fixture.hpp"
#include "plugmq/store/fleet.hpp"
#include "plugmq/store/identity.hpp"
#include "plugmq/store/session_store.hpp"

namespace plugmq::http {
namespace {

using testing::Headers;
using testing::Json;

class AccountApiTest : public testing::ApiFixture {
 protected:
  void populate(store::Identity&, store::Fleet& fleet) override {
    other_model_ =
        fleet.add_template(other_, "o", platform::default_perm(platform::DeviceKind::kThing))
            .value()
            .id;
  }

  // The account's credentials unless the test names others.
  Response call(const std::string& method, const std::string& target, const std::string& body = "",
                const Headers& headers = owner()) {
    return ApiFixture::call(method, target, body, headers);
  }

  Headers device() const { return as(proto_); }
  Headers csv() const {
    Headers h = owner();
    h.emplace_back("Content-Type", "text/csv; charset=utf-8");
    return h;
  }

  std::string serials_path(const std::string& model) const {
    return "/iot/template/" + model + "/serial";
  }

  std::string other_model_;
};

TEST_F(AccountApiTest, DevicesAreTheAccountsOnlyWithTheCommandLinesShape) {
  auto r = call("GET", "/iot/device", "", owner_basic());
  ASSERT_EQ(r.status, 200) << r.body;
  const Json list = body(r);
  ASSERT_EQ(list.size(), 1u) << "the other account's device is not listed";
  const Json& d = list[0];
  EXPECT_EQ(d["id"], proto_.device.id);
  EXPECT_EQ(d["name"], "proto");
  EXPECT_EQ(d["kind"], "prototype");
  EXPECT_EQ(d["online"], false);
  EXPECT_TRUE(d["last_seen"].is_null());
  EXPECT_EQ(d["perm"], Json::parse(R"({"ctrl":"rw","of":{"r":null,"w":null}})"));
  for (const char* member :
       {"hwid", "model", "status", "account", "created_at", "props", "last_client_id"}) {
    EXPECT_TRUE(d.contains(member)) << member;
  }
  // Members sorted by name, as `plugmq device list --json` prints them.
  EXPECT_EQ(r.body.rfind("[{\"account\":", 0), 0u) << r.body;
}

TEST_F(AccountApiTest, OnlyTheAccountMayList) {
  for (const char* path : {"/iot/device", "/iot/template", "/iot/session"}) {
    expect_error(call("GET", path, "", device()), 403, "account's credentials");
    expect_error(call("GET", path, "", {}), 401);
  }
  expect_error(call("GET", serials_path(model_), "", device()), 403);
  expect_error(call("POST", "/iot/template", "{}", device()), 403);
  expect_error(call("POST", serials_path(model_), R"({"hwid":"X","enroll_pass":"abcd"})", device()),
               403);
  expect_error(call("DELETE", "/iot/session/" + proto_.device.id + "/c", "", device()), 403);
  // The account's password vouching for a device is the account's.
  EXPECT_EQ(call("GET", "/iot/template", "",
                 {{"X-Plug-Id", proto_.device.id}, {"X-Plug-Master", "owner-pass"}})
                .status,
            200);
}

TEST_F(AccountApiTest, TemplatesListAndCreate) {
  auto list = body(call("GET", "/iot/template"));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], model_);

  auto r = call("POST", "/iot/template", R"({"name":"thermostat","ctrl":"r"})");
  ASSERT_EQ(r.status, 201) << r.body;
  const Json made = body(r);
  EXPECT_TRUE(made["id"].get<std::string>().starts_with("mod-"));
  EXPECT_EQ(made["name"], "thermostat");
  EXPECT_EQ(made["account"], account_);
  EXPECT_EQ(made["thing_perm"], Json::parse(R"({"ctrl":"r","of":{"r":[],"w":[]}})"));
  EXPECT_EQ(body(call("GET", "/iot/template")).size(), 2u);

  // perm sets the things' defaults; members left out keep theirs.
  auto p = call("POST", "/iot/template", R"({"perm":{"of":{"r":null}}})");
  ASSERT_EQ(p.status, 201) << p.body;
  EXPECT_EQ(body(p)["thing_perm"], Json::parse(R"({"ctrl":"rw","of":{"r":null,"w":[]}})"));
  // No body: a template without a name.
  EXPECT_EQ(call("POST", "/iot/template").status, 201);

  expect_error(call("POST", "/iot/template", R"({"ctrl":"x"})"), 400, "ctrl");
  expect_error(call("POST", "/iot/template", R"({"name":1})"), 400);
  expect_error(call("POST", "/iot/template", R"({"nmae":"x"})"), 400, "\"nmae\"");
  expect_error(call("POST", "/iot/template", R"({"perm":[1]})"), 400, "perm");
  expect_error(call("POST", "/iot/template", "[1]"), 400);
  expect_error(call("PUT", "/iot/template", "{}"), 405);
}

TEST_F(AccountApiTest, RegisterOneSerial) {
  auto r = call("POST", serials_path(model_),
                R"({"hwid":"SN-2","enroll_pass":"enroll-2","control_pass":"control-2"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(body(r), Json::parse(R"({"model":")" + model_ + R"(","hwid":"SN-2","control":true})"));
  auto no_control =
      call("POST", serials_path(model_), R"({"hwid":"SN-3","enroll_pass":"enroll-3"})");
  ASSERT_EQ(no_control.status, 201) << no_control.body;
  EXPECT_EQ(body(no_control)["control"], false);

  auto list = body(call("GET", serials_path(model_)));
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[1], Json::parse(R"({"hwid":"SN-2","control":true,"thing":null})"));

  // The thing enrolls with that password.
  auto enrolled = call("POST", "/iot/device",
                       Json{{"model", model_}, {"hwid", "SN-2"}, {"pass", "enroll-2"}}.dump(), {});
  ASSERT_EQ(enrolled.status, 200) << enrolled.body;
  EXPECT_EQ(body(call("GET", serials_path(model_)))[1]["thing"], body(enrolled)["id"]);

  expect_error(call("POST", serials_path(model_), R"({"hwid":"SN-2","enroll_pass":"enroll-2"})"),
               409, "SN-2");
  expect_error(call("POST", serials_path(model_), R"({"hwid":"SN/4","enroll_pass":"enroll-4"})"),
               400, "hwid");
  expect_error(call("POST", serials_path(model_), R"({"hwid":"SN-4","enroll_pass":"abc"})"), 400,
               "enroll password");
  expect_error(call("POST", serials_path(model_), R"({"hwid":"SN-4"})"), 400, "enroll_pass");
  expect_error(call("POST", serials_path(model_), R"({"hwid":"SN-4","enroll_pass":"abcd","x":1})"),
               400, "\"x\"");
  expect_error(call("POST", serials_path(model_), "not json"), 400);
}

TEST_F(AccountApiTest, AnotherAccountsTemplateIsUnknown) {
  expect_error(call("GET", serials_path(other_model_)), 404, "no template");
  expect_error(
      call("POST", serials_path(other_model_), R"({"hwid":"SN-9","enroll_pass":"enroll-9"})"), 404);
  expect_error(call("POST", serials_path(other_model_), "SN-9,enroll-9\n", csv()), 404);
  expect_error(call("GET", serials_path("mod-000000000000000000000000")), 404);
  expect_error(call("GET", serials_path("nonsense")), 404);
  expect_error(call("GET", "/iot/template/" + model_), 404);
  expect_error(call("GET", "/iot/template/" + model_ + "/other"), 404);
  expect_error(call("DELETE", serials_path(model_)), 405);
  // The template id is case-insensitive, as everywhere.
  std::string upper = model_;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(call("GET", serials_path(upper)).status, 200);
  EXPECT_EQ(call("GET", serials_path(model_) + "/").status, 200);
}

TEST_F(AccountApiTest, CsvImportIsAllOrNone) {
  auto r = call("POST", serials_path(model_),
                "hwid,enroll_pass,control_pass\r\n# batch 1\r\nSN-10,enroll-10,control-10\r\n"
                "SN-11,enroll-11\r\n\"SN,12\",enroll-12,\r\n",
                csv());
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(body(r), Json::parse(R"({"model":")" + model_ + R"(","added":3})"));
  auto list = body(call("GET", serials_path(model_)));
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[1]["control"], true);
  EXPECT_EQ(list[3]["hwid"], "SN,12");
  EXPECT_EQ(list[3]["control"], false);
  auto enrolled =
      call("POST", "/iot/device",
           Json{{"model", model_}, {"hwid", "SN-11"}, {"pass", "enroll-11"}}.dump(), {});
  EXPECT_EQ(enrolled.status, 200) << enrolled.body;

  // A bad line, named; nothing of the file is registered.
  expect_error(call("POST", serials_path(model_), "SN-20,enroll-20\nSN-21,abc\n", csv()), 400,
               "CSV line 2: enroll password must be 4..128 bytes");
  expect_error(call("POST", serials_path(model_), "SN-20,enroll-20\nSN-20,enroll-21\n", csv()), 400,
               "CSV line 2: hwid \"SN-20\" repeats line 1");
  expect_error(call("POST", serials_path(model_), "SN-20,enroll-20\nSN-10,enroll-10\n", csv()), 409,
               "CSV line 2: hwid \"SN-10\" is already registered in " + model_);
  EXPECT_EQ(body(call("GET", serials_path(model_))).size(), 4u);
  // Nothing to register is no error, as with `serial add --csv`.
  auto none = call("POST", serials_path(model_), "hwid,enroll_pass\n", csv());
  ASSERT_EQ(none.status, 201) << none.body;
  EXPECT_EQ(body(none)["added"], 0);
}

TEST_F(AccountApiTest, SessionsListAndDelete) {
  {
    auto db = store::Db::open(live_.db_file());
    store::SessionStore sessions(db);
    store::Session s;
    s.identity = proto_.device.id;
    s.client_id = "SN-1/kitchen";
    s.account_id = account_;
    s.subscriptions = {{"+/data/#", 1}};
    sessions.save(s).value();
    s.client_id = "live";
    s.online = true;
    sessions.save(s).value();
    s.identity = stranger_.device.id;
    s.account_id = other_;
    s.client_id = "theirs";
    s.online = false;
    sessions.save(s).value();
  }
  auto list = body(call("GET", "/iot/session"));
  ASSERT_EQ(list.size(), 2u) << "the other account's session is not listed";
  EXPECT_EQ(list[0]["client_id"], "SN-1/kitchen");
  EXPECT_EQ(list[0]["subscriptions"], Json::parse(R"([{"filter":"+/data/#","qos":1}])"));
  EXPECT_EQ(list[0]["waiting"], 0);

  // The client id is the rest of the path: it may hold '/'.
  auto r = call("DELETE", "/iot/session/" + proto_.device.id + "/SN-1/kitchen");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r), Json::parse(R"({"deleted":true})"));
  EXPECT_EQ(body(call("GET", "/iot/session")).size(), 1u);
  expect_error(call("DELETE", "/iot/session/" + proto_.device.id + "/SN-1%2Fkitchen"), 404,
               "no session");
  // A connected one would be saved again when it ends.
  expect_error(call("DELETE", "/iot/session/" + proto_.device.id + "/live"), 409, "connected");
  expect_error(call("DELETE", "/iot/session/" + stranger_.device.id + "/theirs"), 404);
  expect_error(call("DELETE", "/iot/session/" + proto_.device.id), 404);
  expect_error(call("GET", "/iot/session/" + proto_.device.id + "/live"), 405);
  expect_error(call("POST", "/iot/session"), 405);
}

}  // namespace
}  // namespace plugmq::http
