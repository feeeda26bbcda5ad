// The JSON forms the command line and the HTTP API's lists share (service/json_views.hpp):
// their members, and that they come out sorted by name (the command line's output).
#include "plugmq/service/json_views.hpp"

#include <gtest/gtest.h>

namespace plugmq::service {
namespace {

TEST(JsonViews, DeviceOfEveryKind) {
  store::Device d;
  d.id = "dev-1";
  d.kind = platform::DeviceKind::kPrototype;
  d.name = "kitchen";
  d.account_id = "com-1";
  d.perm = platform::default_perm(platform::DeviceKind::kPrototype);
  d.status = "ok";
  d.created_at = 5;
  EXPECT_EQ(device_json(d, R"({"b":1,"a":{"channel":"t"}})").dump(),
            R"({"account":"com-1","created_at":5,"hwid":"","id":"dev-1","kind":"prototype",)"
            R"("last_client_id":"","last_seen":null,"model":"","name":"kitchen","online":false,)"
            R"("perm":{"ctrl":"rw","of":{"r":null,"w":null}},"props":{"a":{"channel":"t"},"b":1},)"
            R"("status":"ok"})");
  d.kind = platform::DeviceKind::kController;
  d.controls = {"dev-2"};
  d.online = true;
  d.last_seen = 9;
  auto j = device_json(d, "{}");
  EXPECT_EQ(j["controls"], nlohmann::json::array({"dev-2"}));
  EXPECT_EQ(j["last_seen"], 9);
  EXPECT_EQ(j["online"], true);
}

TEST(JsonViews, TemplateSerialAndSession) {
  store::Template t;
  t.id = "mod-1";
  t.name = "m";
  t.account_id = "com-1";
  t.thing_perm = platform::default_perm(platform::DeviceKind::kThing);
  t.created_at = 3;
  EXPECT_EQ(template_json(t).dump(), R"({"account":"com-1","created_at":3,"id":"mod-1","name":"m",)"
                                     R"("thing_perm":{"ctrl":"rw","of":{"r":[],"w":[]}}})");
  store::Serial s;
  s.hwid = "SN-1";
  EXPECT_EQ(serial_json(s).dump(), R"({"control":false,"hwid":"SN-1","thing":null})");
  s.control_enabled = true;
  s.thing_id = "dev-3";
  EXPECT_EQ(serial_json(s).dump(), R"({"control":true,"hwid":"SN-1","thing":"dev-3"})");
  store::Session session;
  session.identity = "dev-3";
  session.client_id = "SN-1/x";
  session.account_id = "com-1";
  session.subscriptions = {{"+/data/#", 1}};
  session.position = 7;
  session.created_at = 1;
  session.last_seen = 2;
  EXPECT_EQ(session_json(session, 4).dump(),
            R"({"account":"com-1","client_id":"SN-1/x","created_at":1,"id":"dev-3",)"
            R"("last_seen":2,"online":false,"position":7,)"
            R"("subscriptions":[{"filter":"+/data/#","qos":1}],"waiting":4})");
}

}  // namespace
}  // namespace plugmq::service
