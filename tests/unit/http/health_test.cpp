// GET /health: 200 with every part "ok" while the store thread and the data writer answer,
// 503 once the server is stopping; no credentials; only GET.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../service/live_context.hpp"
#include "plugmq/http/api.hpp"

namespace plugmq::http {
namespace {

using Json = nlohmann::json;
using service::testing::LiveContext;

class HealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    live_.start();
    api_ = std::make_unique<Api>(live_.ctx());
  }
  void TearDown() override { api_.reset(); }

  Response get(const std::string& method = "GET") {
    Request req;
    req.method = method;
    req.target = "/health";
    req.peer_address = "127.0.0.1";
    return live_.run(api_->handle(req));
  }

  LiveContext live_;
  std::unique_ptr<Api> api_;
};

TEST_F(HealthTest, OkWhileTheStoreAndTheWriterAnswer) {
  const Response r = get();
  EXPECT_EQ(r.status, 200) << r.body;
  const Json body = Json::parse(r.body);
  EXPECT_EQ(body["status"], "ok");
  EXPECT_EQ(body["store"], "ok");
  EXPECT_EQ(body["writer"], "ok");
  EXPECT_EQ(body["connections"], 0);
}

TEST_F(HealthTest, UnavailableOnceStopping) {
  live_.ctx().stopping = true;
  const Response r = get();
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(Json::parse(r.body)["status"], "stopping");
  live_.ctx().stopping = false;
}

TEST_F(HealthTest, OnlyGet) {
  const Response r = get("DELETE");
  EXPECT_EQ(r.status, 405);
}

}  // namespace
}  // namespace plugmq::http
