// Test support for the REST API through Api::handle(): a real context (store, writer and
// reader threads over a temporary database) holding two accounts, owner@example.com and
// other@example.com, a prototype of each, and the owner's template with the serial SN-1; a
// request in, its response out, no sockets.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "../service/live_context.hpp"
#include "plugmq/http/api.hpp"
#include "plugmq/http/parse.hpp"
#include "plugmq/store/fleet.hpp"
#include "plugmq/store/identity.hpp"

namespace plugmq::http::testing {

using Json = nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

class ApiFixture : public ::testing::Test {
 protected:
  // A test's options go in live_.options() before this runs.
  void SetUp() override {
    auto db = store::Db::open(live_.db_file());
    store::Identity ids(db);
    store::Fleet fleet(db);
    // Retention 0 (forever): records dated in 1970 are not swept away.
    account_ = ids.add_account("owner@example.com", "owner-pass", 0).value().id;
    other_ = ids.add_account("other@example.com", "other-pass", 0).value().id;
    proto_ = ids.add_prototype(account_, "proto").value();
    stranger_ = ids.add_prototype(other_, "stranger").value();
    model_ = fleet.add_template(account_, "m", platform::default_perm(platform::DeviceKind::kThing))
                 .value()
                 .id;
    fleet.add_serial(model_, {"SN-1", "enroll-1", "control-1"}).value();
    populate(ids, fleet);
    live_.start();
    api_ = std::make_unique<Api>(live_.ctx());
  }
  void TearDown() override { api_.reset(); }

  // What a test's fixture adds to the database before the server starts.
  virtual void populate(store::Identity&, store::Fleet&) {}

  Response call(const std::string& method, const std::string& target, const std::string& body = "",
                const Headers& headers = {}) {
    Request req;
    req.method = method;
    req.target = target;
    req.body = body;
    req.headers = headers;
    req.peer_address = "127.0.0.1";
    return live_.run(api_->handle(req));
  }

  // A device's own credentials.
  static Headers as(const store::NewDevice& d) {
    return {{"X-Plug-Id", d.device.id}, {"X-Plug-Auth", d.auth}};
  }
  static Headers owner() {
    return {{"X-Plug-Email", "owner@example.com"}, {"X-Plug-Master", "owner-pass"}};
  }
  static Headers owner_basic() {
    return {{"Authorization", basic_authorization("owner@example.com", "owner-pass")}};
  }

  static Json body(const Response& r) { return Json::parse(r.body); }

  // Asserts `r` is the error form with `status`, its message containing `msg_part` when given.
  static void expect_error(const Response& r, int status, const std::string& msg_part = "") {
    EXPECT_EQ(r.status, status) << r.body;
    auto j = Json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r.body;
    EXPECT_EQ(j["err"], status) << r.body;
    ASSERT_TRUE(j["msg"].is_string()) << r.body;
    if (!msg_part.empty()) {
      EXPECT_NE(j["msg"].get<std::string>().find(msg_part), std::string::npos) << r.body;
    }
  }

  service::testing::LiveContext live_;
  std::unique_ptr<Api> api_;
  std::string account_, other_, model_;
  store::NewDevice proto_, stranger_;
};

}  // namespace plugmq::http::testing
