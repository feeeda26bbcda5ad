// What the store refuses, answered by the handlers from the Failure value through the HTTP
// table: a malformed argument is 400 and a device gone meanwhile 404, each with the store's (or
// the handler's) message, and nothing changed. The directory is refreshed only when asked, so
// that a device deleted behind the server's back is still in its snapshot.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "../service/live_context.hpp"
#include "plugmq/http/api.hpp"
#include "plugmq/store/fleet.hpp"
#include "plugmq/store/identity.hpp"

namespace plugmq::http {
namespace {

using Json = nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;
using service::testing::LiveContext;

class StoreRefusalsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    live_.options().directory_refresh = std::chrono::hours(1);
    auto db = store::Db::open(live_.db_file());
    store::Identity ids(db);
    const auto account = ids.add_account("owner@example.com", "owner-pass", 0).value().id;
    proto_ = ids.add_prototype(account, "proto").value();
    live_.start();
    api_ = std::make_unique<Api>(live_.ctx());
  }
  void TearDown() override { api_.reset(); }

  Response call(const std::string& method, const std::string& target, const std::string& body) {
    Request req;
    req.method = method;
    req.target = target;
    req.body = body;
    req.headers = {{"X-Plug-Email", "owner@example.com"}, {"X-Plug-Master", "owner-pass"}};
    req.peer_address = "127.0.0.1";
    return live_.run(api_->handle(req));
  }

  // `r` is the error form with `status` and `msg`.
  static void expect_refusal(const Response& r, int status, const std::string& msg) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(Json::parse(r.body), (Json{{"err", status}, {"msg", msg}}));
  }

  std::optional<store::Device> stored(const std::string& id) {
    auto db = store::Db::open(live_.db_file());
    return store::Identity(db).device(id);
  }

  LiveContext live_;
  std::unique_ptr<Api> api_;
  store::NewDevice proto_;
};

TEST_F(StoreRefusalsTest, MalformedArgumentsAre400WithTheStoresMessage) {
  expect_refusal(call("POST", "/iot/device", R"({"name":"p","pass":"abc"})"), 400,
                 "password must be 4..128 bytes");
  expect_refusal(call("POST", "/iot/device", Json{{"name", std::string(257, 'n')}}.dump()), 400,
                 "name must be at most 256 bytes of UTF-8");
  const std::string path = "/iot/device/" + proto_.device.id;
  expect_refusal(call("PATCH", path, R"({"status":"sleeping"})"), 400,
                 "status must be ok, disabled or reactivate (got \"sleeping\")");
  EXPECT_EQ(stored(proto_.device.id)->status, "ok");
}

TEST_F(StoreRefusalsTest, TheHandlersOwnChecksInAStoreTaskAreValuesToo) {
  const std::string path = "/iot/device/" + proto_.device.id;
  auto r = call("PATCH", path, R"({"perm":{"ctrl":"x"}})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Json::parse(r.body)["msg"].get<std::string>().rfind("perm: ", 0), 0u) << r.body;
  expect_refusal(call("DELETE", path, "null"), 400, proto_.device.id + " is not a controller");
}

TEST_F(StoreRefusalsTest, ADeviceGoneBehindTheDirectoryIs404) {
  {
    auto db = store::Db::open(live_.db_file());
    ASSERT_TRUE(store::Identity(db).delete_device(proto_.device.id));
  }
  // Still in the directory's snapshot, so the handlers ask the store, which has no such device.
  const std::string path = "/iot/device/" + proto_.device.id;
  expect_refusal(call("PATCH", path, R"({"perm":{"of":{"r":null}}})"), 404, "unknown device");
  expect_refusal(call("PATCH", path, R"({"name":"renamed"})"), 404,
                 "no device " + proto_.device.id);
  expect_refusal(call("DELETE", path, "null"), 404, "unknown device");
  EXPECT_FALSE(stored(proto_.device.id));
}

}  // namespace
}  // namespace plugmq::http
