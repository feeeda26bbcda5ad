// Property requests (service/properties.hpp) as an MQTT session makes them, through
// service::publish_message: the answer goes to the requester alone, nothing is stored as data.
#include "plugmq/service/properties.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "live_context.hpp"
#include "plugmq/service/publish.hpp"
#include "plugmq/store/identity.hpp"

namespace plugmq::service {
namespace {

using testing::LiveContext;

// LiveContext::run() wants a value.
boost::asio::awaitable<bool> finished(boost::asio::awaitable<void> op) {
  co_await std::move(op);
  co_return true;
}

class PropertiesTest : public ::testing::Test {
 protected:
  struct Answer {
    std::string topic;
    std::string payload;
  };

  void SetUp() override {
    auto db = store::Db::open(live_.db_file());
    store::Identity ids(db);
    account_ = ids.add_account("a@example.com", "secret1", 0).value().id;
    const auto other = ids.add_account("b@example.com", "secret2", 0).value().id;
    auto proto = ids.add_prototype(account_, "proto").value().device;
    proto_ = platform::Principal{proto.account_id, proto.id, proto.perm, {}};
    stranger_ = ids.add_prototype(other, "stranger").value().device.id;
    live_.start();
  }

  // Publishes as proto_ and waits until the writer ran everything it queued; `done` (counted
  // in dones_) must have been taken.
  void publish(const std::string& topic, const std::string& payload) {
    store::DataWriter::Done done = [this](bool) { ++dones_; };
    const MakeReply reply_to = [this] {
      return Reply([this](std::string topic, std::string payload) {
        std::lock_guard lock(mu_);
        answers_.push_back({std::move(topic), std::move(payload)});
      });
    };
    const std::string peer = "test", client = "client";
    auto op = publish_message(live_.ctx(), proto_, topic, payload, 1, false, reply_to, done, peer,
                              client);
    auto wrapped = finished(std::move(op));
    live_.run(std::move(wrapped));
    EXPECT_FALSE(done);
    live_.flush();
  }

  std::vector<Answer> answers() {
    std::lock_guard lock(mu_);
    return std::exchange(answers_, {});
  }

  LiveContext live_;
  std::string account_, stranger_;
  platform::Principal proto_;
  std::mutex mu_;
  std::vector<Answer> answers_;
  int dones_ = 0;  // the writer thread's, read after flush()
};

TEST_F(PropertiesTest, SetThenGetAnswersTheRequesterOnTheRequestTopic) {
  const std::string set = proto_.device_id + "/ag/prop/set";
  const std::string get = proto_.device_id + "/ag/prop/get";
  publish(set, R"({"color":"red","n":5})");
  auto got = answers();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, set);
  EXPECT_EQ(got[0].payload, "");  // a successful set
  publish(get, "");
  got = answers();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, get);
  EXPECT_EQ(nlohmann::json::parse(got[0].payload),
            nlohmann::json::parse(R"({"color":"red","n":5})"));
  EXPECT_EQ(live_.ctx().counters.prop_requests, 2u);
  EXPECT_EQ(live_.ctx().metrics.total(Metrics::kReceived), 0u);  // not data
  EXPECT_EQ(dones_, 2);
}

TEST_F(PropertiesTest, RefusalsAreAnsweredAsErrorObjects) {
  auto err_of = [this](const std::string& topic, const std::string& payload) {
    publish(topic, payload);
    auto got = answers();
    EXPECT_EQ(got.size(), 1u);
    if (got.empty()) return 0;
    EXPECT_EQ(got[0].topic, topic);
    return nlohmann::json::parse(got[0].payload).value("err", 0);
  };
  const std::string unknown = platform::new_plug_id(platform::IdKind::kDevice);
  EXPECT_EQ(err_of(unknown + "/ag/prop/get", ""), 404);
  EXPECT_EQ(err_of(stranger_ + "/ag/prop/set", R"({"a":1})"), 403);
  EXPECT_EQ(err_of(stranger_ + "/ag/prop/get", ""), 403);
  EXPECT_EQ(err_of(proto_.device_id + "/ag/prop/set", "[1]"), 400);  // the store's check
  EXPECT_EQ(dones_, 4);
}

TEST_F(PropertiesTest, DataPublishesAskForNoReply) {
  store::DataWriter::Done none;
  const MakeReply reply_to = [] {
    ADD_FAILURE() << "a data publish asked for a reply";
    return Reply([](std::string, std::string) {});
  };
  const std::string topic = proto_.device_id + "/data/t", payload = "1";
  const std::string peer = "test", client = "client";
  auto op =
      publish_message(live_.ctx(), proto_, topic, payload, 0, false, reply_to, none, peer, client);
  auto wrapped = finished(std::move(op));
  live_.run(std::move(wrapped));
  EXPECT_EQ(live_.ctx().metrics.total(Metrics::kReceived), 1u);
}

}  // namespace
}  // namespace plugmq::service
