// Enrollment as an MQTT enrollment session runs it (service::enroll_by_topic): the topic read,
// the enrollment run, its outcome counted and answered as JSON.
#include "plugmq/service/enrollment.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "live_context.hpp"
#include "plugmq/store/fleet.hpp"
#include "plugmq/store/identity.hpp"

namespace plugmq::service {
namespace {

using testing::LiveContext;

class EnrollmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = store::Db::open(live_.db_file());
    store::Identity ids(db);
    store::Fleet fleet(db);
    const auto account = ids.add_account("a@example.com", "secret1", 0).value().id;
    model_ = fleet.add_template(account, "m", platform::default_perm(platform::DeviceKind::kThing))
                 .value()
                 .id;
    fleet.add_serial(model_, {"SN-1", "enroll1", std::nullopt}).value();
    live_.start();
  }

  EnrollReply enroll(const std::string& topic, const std::string& client_id) {
    const std::string address = "192.0.2.1", peer = "192.0.2.1:1234";
    const std::function<bool()> wanted = [] { return true; };
    auto op = enroll_by_topic(live_.ctx(), topic, client_id, address, wanted, peer, client_id);
    return live_.run(std::move(op));
  }

  LiveContext live_;
  std::string model_;
};

TEST_F(EnrollmentTest, AThingEnrollsWithItsModelAndPassword) {
  auto r = enroll(model_ + "/thing/enroll1", "SN-1");
  ASSERT_TRUE(r.ok) << r.json;
  auto j = nlohmann::json::parse(r.json);
  EXPECT_EQ(j["id"].get<std::string>().substr(0, 4), "dev-");
  EXPECT_FALSE(j["auth"].get<std::string>().empty());
  EXPECT_EQ(live_.ctx().counters.enrolled, 1u);
  EXPECT_EQ(live_.ctx().counters.enroll_failed, 0u);
}

TEST_F(EnrollmentTest, RefusalsAreAnsweredAndCounted) {
  auto err_of = [this](const std::string& topic, const std::string& client_id) {
    auto r = enroll(topic, client_id);
    EXPECT_FALSE(r.ok);
    return nlohmann::json::parse(r.json).value("err", 0);
  };
  EXPECT_EQ(err_of("not-an-enrollment-topic", "SN-1"), 400);
  EXPECT_EQ(err_of(model_ + "/thing/wrong", "SN-1"), 401);
  EXPECT_EQ(live_.ctx().counters.enroll_failed, 2u);
  EXPECT_EQ(live_.ctx().counters.enrolled, 0u);
}

}  // namespace
}  // namespace plugmq::service
