// The REST API (SPEC 10) through Api::handle(): requests in, responses out, no sockets. The
// context is a real one (store, writer and reader threads over a temporary database), so these
// check the handlers against the same store, directory and router MQTT sessions use.
#include "plugmq/http/api.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api_fixture.hpp"
#include "plugmq/http/parse.hpp"
#include "plugmq/store/data.hpp"
#include "plugmq/store/fleet.hpp"
#include "plugmq/store/identity.hpp"

namespace plugmq::http {
namespace {

using service::testing::Recorder;
using testing::Headers;
using testing::Json;

class ApiTest : public testing::ApiFixture {
 protected:
  void SetUp() override {
    live_.options().http.max_records_per_publish = 5;
    ApiFixture::SetUp();
  }
  void populate(store::Identity&, store::Fleet& fleet) override {
    fleet.add_serial(model_, {"SN-2", "enroll-2", "control-2"}).value();
  }

  static Headers as_device(const std::string& id, const std::string& auth) {
    return {{"X-Plug-Id", id}, {"X-Plug-Auth", auth}};
  }

  // Enrolls SN-1 over HTTP: the thing's id and auth.
  store::NewDevice enroll_thing(const std::string& hwid = "SN-1",
                                const std::string& pass = "enroll-1") {
    auto r = call("POST", "/iot/device",
                  Json{{"model", model_}, {"hwid", hwid}, {"pass", pass}}.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    store::NewDevice out;
    out.device.id = body(r)["id"];
    out.auth = body(r)["auth"];
    return out;
  }

  std::vector<platform::Record> stored(const std::string& mask) {
    live_.flush();
    auto db = store::Db::open(live_.db_file());
    store::DataStore data(db);
    store::DataQuery q;
    q.mask = mask;
    return data.query(q);
  }
};

// ---- authentication ----

TEST_F(ApiTest, EveryAuthenticationModeAndItsFailures) {
  const std::string path = "/iot/device/" + proto_.device.id;
  EXPECT_EQ(call("GET", path, "", as(proto_)).status, 200);
  EXPECT_EQ(call("GET", path, "", owner()).status, 200);
  EXPECT_EQ(call("GET", path, "", owner_basic()).status, 200);
  EXPECT_EQ(call("GET", path, "",
                 {{"X-Plug-Id", proto_.device.id}, {"X-Plug-Master", "owner-pass"}})
                .status,
            200);

  auto none = call("GET", path);
  expect_error(none, 401);
  ASSERT_FALSE(none.headers.empty());
  EXPECT_EQ(none.headers[0].first, "WWW-Authenticate");
  expect_error(call("GET", path, "", as_device(proto_.device.id, "wrong")), 401);
  expect_error(call("GET", path, "",
                    {{"X-Plug-Email", "owner@example.com"}, {"X-Plug-Master", "wrong"}}),
               401);
  expect_error(
      call("GET", path, "", {{"Authorization", basic_authorization("owner@example.com", "x")}}),
      401);
  expect_error(call("GET", path, "", {{"Authorization", "Bearer abc"}}), 401);
  // The hybrid form with another account's password.
  expect_error(call("GET", path, "",
                    {{"X-Plug-Id", proto_.device.id}, {"X-Plug-Master", "other-pass"}}),
               401);
  expect_error(call("GET", path, "", {{"X-Plug-Id", proto_.device.id}}), 401);  // incomplete
}

TEST_F(ApiTest, DisabledDeviceIs403) {
  {
    auto db = store::Db::open(live_.db_file());
    store::Identity(db)
        .set_device(proto_.device.id, std::nullopt, std::string("disabled"), std::nullopt)
        .value();
  }
  expect_error(call("GET", "/iot/device/" + proto_.device.id, "", as(proto_)), 403);
}

// ---- routing ----

TEST_F(ApiTest, UnknownResourcesAndMethods) {
  expect_error(call("GET", "/iot/nothing", "", owner()), 404);
  expect_error(call("GET", "/other", "", owner()), 404);
  auto r = call("PATCH", "/iot/device", "", owner());
  expect_error(r, 405);
  EXPECT_EQ(r.headers[0].first, "Allow");
  expect_error(call("POST", "/iot/data/x", "", owner()), 405);
  expect_error(call("GET", "/iot/data/%zz", "", owner()), 400);
}

TEST_F(ApiTest, MethodOverrideOnPost) {
  const std::string path = "/iot/device/" + proto_.device.id;
  Headers h = as(proto_);
  h.emplace_back("X-HTTP-Method-Override", "patch");
  auto r = call("POST", path, R"({"name":"renamed"})", h);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r)["name"], "renamed");
  // Only POST is overridden.
  Headers g = as(proto_);
  g.emplace_back("X-HTTP-Method-Override", "DELETE");
  EXPECT_EQ(call("GET", path, "", g).status, 200);
}

// ---- devices ----

TEST_F(ApiTest, ThingEnrollment) {
  auto thing = enroll_thing();
  EXPECT_TRUE(platform::normalize_plug_id(thing.device.id, platform::IdKind::kDevice));
  EXPECT_EQ(call("GET", "/iot/device/" + thing.device.id, "", as(thing)).status, 200);
  // SPEC 5 codes become statuses.
  expect_error(call("POST", "/iot/device",
                    Json{{"model", model_}, {"hwid", "SN-1"}, {"pass", "enroll-1"}}.dump()),
               403);  // already enrolled
  expect_error(call("POST", "/iot/device",
                    Json{{"model", model_}, {"hwid", "SN-2"}, {"pass", "wrong"}}.dump()),
               401);
  expect_error(call("POST", "/iot/device",
                    Json{{"model", "mod-000000000000000000000000"}, {"hwid", "SN-2"},
                         {"pass", "enroll-2"}}
                        .dump()),
               404);
  expect_error(call("POST", "/iot/device",
                    Json{{"model", "junk"}, {"hwid", "SN-2"}, {"pass", "enroll-2"}}.dump()),
               400);
  expect_error(call("POST", "/iot/device", R"({"model":1})"), 400);
  expect_error(call("POST", "/iot/device", "{not json"), 400);
}

TEST_F(ApiTest, ThingEnrollmentWithProps) {
  auto r = call("POST", "/iot/device",
                Json{{"model", model_}, {"hwid", "SN-1"}, {"pass", "enroll-1"},
                     {"props", {{"room", "kitchen"}}}}
                    .dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string id = body(r)["id"];
  auto props = call("GET", "/iot/device/" + id + "/room", "", owner());
  EXPECT_EQ(props.status, 200);
  EXPECT_EQ(props.body, "\"kitchen\"");
}

TEST_F(ApiTest, PrototypeCreation) {
  auto r = call("POST", "/iot/device", R"({"name":"p1","perm":{"of":{"r":[],"w":[]}}})",
                owner_basic());
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string id = body(r)["id"];
  const std::string auth = body(r)["auth"];
  auto info = call("GET", "/iot/device/" + id, "", as_device(id, auth));
  ASSERT_EQ(info.status, 200);
  EXPECT_EQ(body(info)["kind"], "prototype");
  EXPECT_EQ(body(info)["perm"]["of"]["r"], Json::array());

  // With a password of its own: that password is its auth.
  r = call("POST", "/iot/device", R"({"name":"p2","hwid":"HW-2","pass":"chosen-pass"})", owner());
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(body(r)["auth"], "chosen-pass");
  EXPECT_EQ(call("GET", "/iot/device/" + std::string(body(r)["id"]), "",
                 as_device(body(r)["id"], "chosen-pass"))
                .status,
            200);

  expect_error(call("POST", "/iot/device", R"({"name":"p3"})"), 401);
  expect_error(call("POST", "/iot/device", R"({"name":"p3"})", as(proto_)), 403);
  expect_error(call("POST", "/iot/device", R"({"hwid":"x"})", owner()), 400);
  expect_error(call("POST", "/iot/device", R"({"name":"p","perm":{"ctrl":7}})", owner()), 400);
}

TEST_F(ApiTest, ControllerEnrollmentAndAddingAThing) {
  auto a = enroll_thing("SN-1", "enroll-1");
  auto b = enroll_thing("SN-2", "enroll-2");
  auto r = call("PUT", "/iot/device",
                Json{{"model", model_}, {"ctrl", "SN-1"}, {"pass", "control-1"},
                     {"hwid", "PHONE"}, {"name", "phone"}}
                    .dump());
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string ctrl = body(r)["id"];
  const std::string auth = body(r)["auth"];

  // With its own credentials, the controller adds a thing (named by its Plug-ID): 200.
  r = call("PUT", "/iot/device",
           Json{{"model", model_}, {"ctrl", b.device.id}, {"pass", "control-2"}}.dump(),
           as_device(ctrl, auth));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r)["id"], ctrl);
  EXPECT_EQ(body(r)["auth"], auth);  // unchanged
  auto info = call("GET", "/iot/device/" + ctrl, "", as_device(ctrl, auth));
  EXPECT_EQ(body(info)["controls"], (Json{a.device.id, b.device.id}));
  // It now reads the things it controls.
  EXPECT_EQ(call("GET", "/iot/device/" + b.device.id, "", as_device(ctrl, auth)).status, 200);

  // A thing is not a controller; a wrong password is 401.
  expect_error(call("PUT", "/iot/device",
                    Json{{"model", model_}, {"ctrl", "SN-2"}, {"pass", "control-2"}}.dump(),
                    as(a)),
               403);
  expect_error(call("PUT", "/iot/device",
                    Json{{"model", model_}, {"ctrl", "SN-2"}, {"pass", "nope"}}.dump(),
                    as_device(ctrl, auth)),
               401);

  // The controller releases one thing, then all.
  r = call("DELETE", "/iot/device/" + ctrl, b.device.id, as_device(ctrl, auth));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "1");
  r = call("DELETE", "/iot/device/" + ctrl, "null", as_device(ctrl, auth));
  EXPECT_EQ(r.body, "1");
  expect_error(call("DELETE", "/iot/device/" + ctrl, "", as(a)), 403);
}

TEST_F(ApiTest, PatchDevice) {
  auto thing = enroll_thing();
  const std::string path = "/iot/device/" + thing.device.id;
  auto r = call("PATCH", path, R"({"name":"kitchen"})", as(thing));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r)["name"], "kitchen");
  // A device cannot widen its own permissions; the account can.
  expect_error(call("PATCH", path, R"({"perm":{"of":{"r":null}}})", as(thing)), 403);
  r = call("PATCH", path, R"({"perm":{"of":{"r":null}},"props":{"a":1}})", owner());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(body(r)["perm"]["of"]["r"].is_null());
  EXPECT_EQ(body(r)["perm"]["of"]["w"], Json::array());  // kept
  EXPECT_EQ(body(r)["props"]["a"], 1);
  expect_error(call("PATCH", path, R"({"status":"sleeping"})", owner()), 400);
  // A member it does not know is refused, naming it, and nothing else applies.
  r = call("PATCH", path, R"({"name":"hall","color":"blue"})", as(thing));
  expect_error(r, 400);
  EXPECT_NE(body(r)["msg"].get<std::string>().find(R"("color")"), std::string::npos) << r.body;
  EXPECT_EQ(body(call("GET", path, "", as(thing)))["name"], "kitchen");
  // "location" is the property of that name.
  r = call("PATCH", path, R"({"location":{"x":1.5,"y":-2}})", as(thing));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r)["props"]["location"], Json::parse(R"({"x":1.5,"y":-2})"));
  EXPECT_EQ(body(r)["props"]["a"], 1);
  expect_error(call("PATCH", path, R"({"location":{"x":1.5}})", as(thing)), 400);
  // A thing may not modify another device; nobody reaches across accounts.
  expect_error(call("PATCH", "/iot/device/" + proto_.device.id, R"({"name":"x"})", as(thing)),
               403);
  expect_error(call("GET", "/iot/device/" + stranger_.device.id, "", owner()), 403);
  expect_error(call("GET", "/iot/device/dev-000000000000000000000000", "", owner()), 404);
}

TEST_F(ApiTest, Properties) {
  const std::string base = "/iot/device/" + proto_.device.id + "/";
  auto first = call("PATCH", base + "room", R"("kitchen")", as(proto_));
  ASSERT_EQ(first.status, 200) << first.body;
  ASSERT_EQ(call("PATCH", base, R"({"floor":2,"last":{"channel":"temp"}})", as(proto_)).status,
            200);
  EXPECT_EQ(call("GET", base + "room", "", as(proto_)).body, R"("kitchen")");
  EXPECT_EQ(body(call("GET", base, "", as(proto_))),
            (Json{{"floor", 2}, {"last", nullptr}, {"room", "kitchen"}}));
  // A name with a '/' travels encoded.
  ASSERT_EQ(call("PATCH", base + "a%2Fb", "true", as(proto_)).status, 200);
  EXPECT_EQ(call("GET", base + "a%2Fb", "", as(proto_)).body, "true");
  ASSERT_EQ(call("DELETE", base + "room", "", as(proto_)).status, 200);
  EXPECT_EQ(call("GET", base + "room", "", as(proto_)).body, "null");
  // The same store MQTT's ag/prop/get reads.
  live_.flush();
  auto db = store::Db::open(live_.db_file());
  store::DataStore data(db);
  EXPECT_EQ(Json::parse(data.properties().get(proto_.device.id, "").json),
            (Json{{"a/b", true}, {"floor", 2}, {"last", nullptr}}));
  expect_error(call("PATCH", base, "[1]", as(proto_)), 400);
  expect_error(call("PATCH", base + "x", "{bad", as(proto_)), 400);
  // Client libraries send a string unquoted, and no body to delete.
  ASSERT_EQ(call("PATCH", base + "word", "kitchen", as(proto_)).status, 200);
  EXPECT_EQ(call("GET", base + "word", "", as(proto_)).body, R"("kitchen")");
  ASSERT_EQ(call("PATCH", base + "word", "", as(proto_)).status, 200);
  EXPECT_EQ(call("GET", base + "word", "", as(proto_)).body, "null");
  ASSERT_EQ(call("PATCH", base, "", as(proto_)).status, 200);  // every property
  EXPECT_EQ(call("GET", base, "", as(proto_)).body, "{}");
  auto thing = enroll_thing();
  expect_error(call("GET", base + "floor", "", as(thing)), 403);
}

TEST_F(ApiTest, Unenroll) {
  auto thing = enroll_thing();
  // The thing publishes, then unenrolls itself with a bare Plug-ID body.
  ASSERT_EQ(call("PUT", "/iot/data/t", R"({"data":1})", as(thing)).status, 200);
  expect_error(call("DELETE", "/iot/device", proto_.device.id, as(thing)), 403);
  auto r = call("DELETE", "/iot/device", thing.device.id, as(thing));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "1");
  expect_error(call("GET", "/iot/device/" + thing.device.id, "", owner()), 404);
  EXPECT_TRUE(stored("#").empty());  // its data went with it
  // The serial may enroll again.
  enroll_thing();
  // The account deletes several; other accounts' devices are not counted.
  r = call("DELETE", "/iot/device",
           Json{proto_.device.id, stranger_.device.id}.dump(), owner_basic());
  EXPECT_EQ(r.body, "1");
  expect_error(call("DELETE", "/iot/device", "garbage", owner()), 400);
}

// ---- data ----

TEST_F(ApiTest, PublishIsDeliveredToSubscribersAndStored) {
  Recorder sub(platform::Principal{account_, "", {}, {}});
  live_.ctx().router.subscribe(account_, "+/data/temp", &sub, 2);
  auto r = call("PUT", "/iot/data/temp", R"({"data":21.5,"at":1700000000000})", as(proto_));
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string id = body(r);
  auto got = sub.got();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, proto_.device.id + "/data/temp");
  EXPECT_EQ(got[0].qos, 1) << "a record published over HTTP counts as QoS 1 (SPEC 11)";
  EXPECT_EQ(got[0].payload, R"({"id":")" + id + R"(","data":21.5,"at":1700000000000})");
  auto records = stored("temp");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].id, id);
  live_.ctx().router.unsubscribe(account_, "+/data/temp", &sub);
}

TEST_F(ApiTest, PublishWithRetainTrueSetsTheRetainedMessage) {
  Recorder sub(platform::Principal{account_, "", {}, {}});
  live_.ctx().router.subscribe(account_, "#", &sub, 2);
  ASSERT_EQ(call("PUT", "/iot/data/r", R"({"data":1,"retain":true})", as(proto_)).status, 200);
  ASSERT_EQ(call("PUT", "/iot/data/r", R"({"data":2,"retain":false})", as(proto_)).status, 200);
  ASSERT_EQ(call("PUT", "/iot/data/s", R"({"data":3,"retain":true})", as(proto_)).status, 200);
  ASSERT_EQ(call("PUT", "/iot/data/s", R"({"data":"","retain":true})", as(proto_)).status, 200);
  live_.ctx().router.unsubscribe(account_, "#", &sub);
  for (const auto& g : sub.got()) EXPECT_FALSE(g.retain) << "live deliveries: RETAIN 0";
  EXPECT_EQ(sub.got().size(), 4u);
  expect_error(call("PUT", "/iot/data/r", R"({"data":4,"retain":"yes"})", as(proto_)), 400);
  expect_error(call("PUT", "/iot/data/r", R"({"data":4,"retain":1})", as(proto_)), 400);
  live_.flush();
  auto db = store::Db::open(live_.db_file());
  store::DataStore data(db);
  auto retained = data.retained(account_, {"#"});
  ASSERT_EQ(retained.size(), 1u) << "r's first record; s's cleared by data \"\"";
  EXPECT_EQ(retained[0].channel, "r");
  EXPECT_EQ(retained[0].data_json, "1");
  EXPECT_EQ(retained[0].qos, 1) << "an HTTP record counts as QoS 1";
}

TEST_F(ApiTest, PublishArraysChannelsInRecordsAndOf) {
  auto thing = enroll_thing();
  // The account publishes as its devices: "of" is required.
  auto r = call("PUT", "/iot/data",
                Json::array({{{"channel", "a"}, {"data", 1}, {"of", thing.device.id}},
                             {{"channel", "b/c"}, {"data", "x"}, {"of", proto_.device.id}}})
                    .dump(),
                owner());
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(body(r).is_array());
  EXPECT_EQ(body(r).size(), 2u);
  EXPECT_EQ(stored("#").size(), 2u);
  expect_error(call("PUT", "/iot/data/a", R"({"data":1})", owner()), 400);  // no "of"
  expect_error(call("PUT", "/iot/data", R"({"data":1})", as(proto_)), 400);  // no channel
  expect_error(call("PUT", "/iot/data/a/+", R"({"data":1})", as(proto_)), 400);
  expect_error(call("PUT", "/iot/data/a", R"({"value":1})", as(proto_)), 400);
  expect_error(call("PUT", "/iot/data/a", R"({"data":1,"at":true})", as(proto_)), 400);
  expect_error(call("PUT", "/iot/data/a", "{oops", as(proto_)), 400);
  expect_error(call("PUT", "/iot/data/a", "[]", as(proto_)), 400);
  // Permissions: a thing writes only itself; unknown devices are 404.
  expect_error(call("PUT", "/iot/data/a", Json{{"data", 1}, {"of", proto_.device.id}}.dump(),
                    as(thing)),
               403);
  expect_error(call("PUT", "/iot/data/a",
                    Json{{"data", 1}, {"of", "dev-000000000000000000000000"}}.dump(), owner()),
               404);
  // More records than http.max_records_per_publish (5 here).
  Json six = Json::array();
  for (int i = 0; i < 6; ++i) six.push_back({{"data", i}});
  expect_error(call("PUT", "/iot/data/a", six.dump(), as(proto_)), 413);
  EXPECT_EQ(stored("#").size(), 2u);
}

TEST_F(ApiTest, HistoryReads) {
  Json records = Json::array();
  for (int i = 1; i <= 5; ++i) records.push_back({{"data", i}, {"at", 1000 * i}});
  ASSERT_EQ(call("PUT", "/iot/data/room/temp", records.dump(), as(proto_)).status, 200);
  ASSERT_EQ(call("PUT", "/iot/data/room%2Fhum", R"({"data":50,"at":2500})", as(proto_)).status,
            200);
  auto get = [&](const std::string& q) {
    auto r = call("GET", q, "", as(proto_));
    EXPECT_EQ(r.status, 200) << q << " " << r.body;
    return body(r);
  };
  auto all = get("/iot/data/room/temp");
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[0]["data"], 5);  // newest first
  EXPECT_EQ(all[0]["channel"], "room/temp");
  EXPECT_EQ(all[0]["of"], proto_.device.id);
  EXPECT_EQ(all[0]["at"], 5000);
  EXPECT_EQ(get("/iot/data/room/temp?limit=1").size(), 1u);
  // Filters in a JSON body, as a client library sends them; the query string wins.
  auto r = call("GET", "/iot/data/room/temp", R"({"limit":2,"of":[")" + proto_.device.id + R"("]})",
                as(proto_));
  EXPECT_EQ(body(r).size(), 2u);
  r = call("GET", "/iot/data/room/temp?limit=3", R"({"limit":2})", as(proto_));
  EXPECT_EQ(body(r).size(), 3u);
  EXPECT_EQ(get("/iot/data/room/temp?limit=2&offset=1")[0]["data"], 4);
  EXPECT_EQ(get("/iot/data/room/temp?before=3000").size(), 2u);
  EXPECT_EQ(get("/iot/data/room/temp?after=3000").size(), 2u);
  EXPECT_EQ(get("/iot/data/room/temp?at=2000,4000").size(), 2u);
  EXPECT_EQ(get("/iot/data/room/temp?at=1970-01-01T00:00:02Z")[0]["data"], 2);
  const std::string third = all[2]["id"];
  EXPECT_EQ(get("/iot/data/room/temp?before=" + third).size(), 2u);
  EXPECT_EQ(get("/iot/data/room/temp?after=" + third).size(), 2u);
  // Masks, with the '/' and '+' percent-encoded or not.
  EXPECT_EQ(get("/iot/data/room%2F%2B").size(), 6u);
  EXPECT_EQ(get("/iot/data/room/%2B?limit=4")[3]["data"], 50);
  EXPECT_EQ(get("/iot/data/%23").size(), 6u);
  EXPECT_EQ(get("/iot/data/room/temp?of=" + proto_.device.id).size(), 5u);
  EXPECT_EQ(get("/iot/channel/%23"), (Json{"room/hum", "room/temp"}));
  EXPECT_EQ(get("/iot/channel/room/%2B?after=2600"), (Json{"room/temp"}));

  EXPECT_EQ(get("/iot/data/room/temp?limit=0").size(), 5u);  // 0: as many as allowed
  expect_error(call("GET", "/iot/data/room/temp?at=", "", as(proto_)), 400);  // names nothing
  expect_error(call("GET", "/iot/data/room/temp?limit=10001", "", as(proto_)), 400);
  expect_error(call("GET", "/iot/data/room/temp?before=soon", "", as(proto_)), 400);
  expect_error(call("GET", "/iot/data/a/%23/b", "", as(proto_)), 400);
  expect_error(call("GET", "/iot/data/room/temp?of=" + stranger_.device.id, "", as(proto_)),
               403);
  // Another account's device sees none of it.
  EXPECT_EQ(call("GET", "/iot/data/%23", "", as(stranger_)).body, "[]");
}

TEST_F(ApiTest, HistoryReadWithAMalformedBodyIs400) {
  ASSERT_EQ(call("PUT", "/iot/data/f", R"([{"data":1},{"data":2}])", as(proto_)).status, 200);
  for (const char* bad :
       {R"({"limit":1)", "limit=1", R"([{"limit":1}])", "7", R"({"limit":1e999})"}) {
    expect_error(call("GET", "/iot/data/f", bad, as(proto_)), 400);
    expect_error(call("GET", "/iot/channel/%23", bad, as(proto_)), 400);
  }
  // Blank, or null: no filters.
  EXPECT_EQ(body(call("GET", "/iot/data/f", " \r\n", as(proto_))).size(), 2u);
  EXPECT_EQ(body(call("GET", "/iot/data/f", "null", as(proto_))).size(), 2u);
}

TEST_F(ApiTest, NumbersBeyondADoubleAre400Everywhere) {
  const std::string props = "/iot/device/" + proto_.device.id + "/";
  expect_error(call("POST", "/iot/device", R"({"model":1e999})"), 400);
  expect_error(call("POST", "/iot/device", R"({"name":"n","props":{"a":-1e999}})", owner()), 400);
  expect_error(call("PUT", "/iot/data/n", R"([{"data":1},{"data":[1e400]}])", as(proto_)), 400);
  expect_error(call("PATCH", props, R"({"a":1e999})", as(proto_)), 400);
  expect_error(call("PATCH", props + "a", R"({"v":1e999})", as(proto_)), 400);
  expect_error(call("PATCH", "/iot/device/" + proto_.device.id, R"({"name":1e999})", owner()), 400);
  expect_error(call("DELETE", "/iot/data/n", R"({"before":1e999})", as(proto_)), 400);
  expect_error(
      call("DELETE", "/iot/device/" + proto_.device.id, R"({"controlled":[1e999]})", as(proto_)),
      400);
  EXPECT_EQ(stored("#").size(), 0u);
  // An integer too long for 64 bits that fits a double is stored as that double.
  ASSERT_EQ(
      call("PUT", "/iot/data/n", R"({"data":123456789012345678901234567890})", as(proto_)).status,
      200);
  auto records = stored("n");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].data_json, "1.2345678901234568e+29");
}

TEST_F(ApiTest, ReadsFollowPermissions) {
  auto thing = enroll_thing();
  ASSERT_EQ(call("PUT", "/iot/data/t", R"({"data":"proto"})", as(proto_)).status, 200);
  ASSERT_EQ(call("PUT", "/iot/data/t", R"({"data":"thing"})", as(thing)).status, 200);
  // A thing reads only itself; a prototype and the account read both.
  auto mine = body(call("GET", "/iot/data/t", "", as(thing)));
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0]["data"], "thing");
  EXPECT_EQ(body(call("GET", "/iot/data/t", "", as(proto_))).size(), 2u);
  EXPECT_EQ(body(call("GET", "/iot/data/t", "", owner())).size(), 2u);
}

TEST_F(ApiTest, DeleteData) {
  Json records = Json::array();
  for (int i = 1; i <= 5; ++i) records.push_back({{"data", i}, {"at", 1000 * i}});
  ASSERT_EQ(call("PUT", "/iot/data/d", records.dump(), as(proto_)).status, 200);
  auto first = body(call("GET", "/iot/data/d?limit=1", "", as(proto_)));
  auto r = call("DELETE", "/iot/data/d", Json{{"id", first[0]["id"]}}.dump(), as(proto_));
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.body, "1");
  r = call("DELETE", "/iot/data/d", R"({"before":3000})", as(proto_));
  EXPECT_EQ(r.body, "2");
  r = call("DELETE", "/iot/data/d", R"({"at":"3000,4000"})", as(proto_));
  EXPECT_EQ(r.body, "2");
  EXPECT_EQ(call("GET", "/iot/data/d", "", as(proto_)).body, "[]");
  expect_error(call("DELETE", "/iot/data/d", R"({"of":"x"})", as(proto_)), 400);
  expect_error(call("DELETE", "/iot/data/d", "{}", as(proto_)), 400);
}

TEST_F(ApiTest, CorsFollowsTheLiveListOfOrigins) {
  const Headers preflight = {{"Origin", "https://app.example.com"},
                             {"Access-Control-Request-Method", "GET"}};
  auto find = [](const Response& r, const std::string& name) -> std::string {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  };
  expect_error(call("OPTIONS", "/iot/data/x", "", preflight), 403);  // off by default
  auto options = live_.options();
  options.http.cors_origins = {"https://app.example.com"};
  live_.ctx().apply_live(options);  // what SIGHUP does
  auto r = call("OPTIONS", "/iot/data/x", "", preflight);
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(find(r, "Access-Control-Allow-Origin"), "https://app.example.com");
  Headers h = owner();
  h.emplace_back("Origin", "https://app.example.com");
  r = call("GET", "/iot/data/x", "", h);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(find(r, "Access-Control-Allow-Origin"), "https://app.example.com");
  EXPECT_EQ(find(call("GET", "/iot/data/x", "", owner()), "Access-Control-Allow-Origin"), "");
}

TEST_F(ApiTest, MetricsForLoopbackOrWithTheToken) {
  auto scrape = [&](const std::string& peer, const Headers& h) {
    Request req;
    req.method = "GET";
    req.target = "/metrics";
    req.headers = h;
    req.peer_address = peer;
    return live_.run(api_->handle(req));
  };
  auto r = scrape("127.0.0.1", {});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("# TYPE plugmq_store_commit_seconds histogram"), std::string::npos);
  EXPECT_NE(r.body.find("plugmq_build_info{version=\"" PLUGMQ_VERSION "\"} 1"), std::string::npos);
  EXPECT_EQ(scrape("::1", {}).status, 200);
  expect_error(scrape("10.0.0.7", {}), 403);
  auto options = live_.options();
  options.http.metrics_token = "tok";
  live_.ctx().apply_live(options);
  expect_error(scrape("127.0.0.1", {}), 401);
  expect_error(scrape("127.0.0.1", {{"Authorization", "Bearer tokk"}}), 403);
  EXPECT_EQ(scrape("10.0.0.7", {{"Authorization", "Bearer tok"}}).status, 200);
}

}  // namespace
}  // namespace plugmq::http
