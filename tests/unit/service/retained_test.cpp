// Retained messages through the publish path and to new subscriptions (service/retained.hpp,
// SPEC 11): set by a publish with RETAIN 1, removed by an empty one, read after the
// subscription on a reader thread and handed over with RETAIN 1.
#include "plugmq/service/retained.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "live_context.hpp"
#include "plugmq/store/data.hpp"
#include "plugmq/store/fleet.hpp"
#include "plugmq/store/identity.hpp"

namespace plugmq::service {
namespace {

using testing::LiveContext;
using testing::Recorder;

TEST(MayMatchDataTopic, OnlyFiltersThatCanMatchPDataChannel) {
  for (const char* f : {"#", "+/#", "+/data/#", "dev-1/data/t", "+/+/t", "dev-1/+/#", "a/#",
                        "+/data/a/b", "dev-1/data/+"}) {
    EXPECT_TRUE(may_match_data_topic(f)) << f;
  }
  for (const char* f :
       {"a", "+", "dev-1/data", "+/data", "dev-1/ag/prop/get", "a/b/c", "dev-1/datum/#"}) {
    EXPECT_FALSE(may_match_data_topic(f)) << f;
  }
}

class RetainedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = store::Db::open(live_.db_file());
    store::Identity ids(db);
    store::Fleet fleet(db);
    account_ = ids.add_account("a@example.com", "secret1", 0).value().id;
    proto_ = ids.add_prototype(account_, "proto").value().device;
    auto model =
        fleet.add_template(account_, "m", platform::default_perm(platform::DeviceKind::kThing))
            .value();
    fleet.add_serial(model.id, {"SN-1", "enroll1", std::nullopt}).value();
    thing_id_ = fleet.enroll_thing(model.id, "SN-1", "enroll1", "").id;
    live_.start();
  }

  platform::Principal proto() const { return {proto_.account_id, proto_.id, proto_.perm, {}}; }
  platform::Principal account() const { return {account_, "", {}, {}}; }

  void publish(const std::string& channel, const std::string& payload, std::uint8_t qos,
               bool retain) {
    const std::string topic = proto_.id + "/data/" + channel;
    auto parsed = platform::parse_topic(topic);
    const std::string peer = "test", client = "client";
    const auto who = proto();
    store::DataWriter::Done none;
    auto op =
        publish_topic(live_.ctx(), who, parsed, topic, payload, qos, retain, none, peer, client);
    ASSERT_EQ(live_.run(std::move(op)), PublishStatus::kStored);
  }

  // Runs `sender` to its end for `who`, delivering to `to`; returns the turns it took.
  int send_all(RetainedSender& sender, const platform::Principal& who, Recorder& to) {
    int turns = 0;
    for (;;) {
      ++turns;
      auto op = sender.send_some(live_.ctx(), who, to);
      if (live_.run(std::move(op))) return turns;
    }
  }

  std::vector<Recorder::Got> subscribe(const platform::Principal& who,
                                       const std::vector<std::pair<std::string, int>>& filters) {
    RetainedSender sender;
    for (const auto& [f, qos] : filters) sender.add(f, static_cast<std::uint8_t>(qos));
    Recorder to(who);
    send_all(sender, who, to);
    return to.got();
  }

  LiveContext live_;
  std::string account_, thing_id_;
  store::Device proto_;
};

TEST_F(RetainedTest, MQTT_3_3_1_6_NewSubscriptionGetsTheRetainedMessagesWithRetain1) {
  Recorder live(account());
  live_.ctx().router.subscribe(account_, "#", &live, 2);
  publish("t/a", "1", 1, true);
  publish("t/b", "2", 0, false);  // not retained
  publish("u", "3", 2, true);
  // Live deliveries carry RETAIN 0 [MQTT-3.3.1-9].
  auto got = live.got();
  ASSERT_EQ(got.size(), 3u);
  for (const auto& g : got) EXPECT_FALSE(g.retain) << g.topic;
  live_.ctx().router.unsubscribe(account_, "#", &live);

  auto retained = subscribe(account(), {{"+/data/t/+", 2}, {proto_.id + "/data/#", 2}});
  ASSERT_EQ(retained.size(), 2u) << "each once, oldest first";
  EXPECT_EQ(retained[0].topic, proto_.id + "/data/t/a");
  EXPECT_TRUE(retained[0].retain);
  EXPECT_EQ(retained[0].qos, 1) << "min(record QoS 1, granted 2)";
  EXPECT_EQ(nlohmann::json::parse(retained[0].payload)["data"], 1);
  EXPECT_EQ(retained[1].topic, proto_.id + "/data/u");
  EXPECT_EQ(retained[1].qos, 2);
  EXPECT_EQ(retained[1].payload, got[2].payload) << "the same record as delivered live";
}

TEST_F(RetainedTest, MQTT_3_8_4_6_DeliveredAtTheLowerQosAndTheHighestMatchingFilter) {
  publish("q", "1", 2, true);
  auto at1 = subscribe(account(), {{"+/data/q", 1}});
  ASSERT_EQ(at1.size(), 1u);
  EXPECT_EQ(at1[0].qos, 1);
  auto both = subscribe(account(), {{"+/data/q", 0}, {"#", 2}});
  ASSERT_EQ(both.size(), 1u);
  EXPECT_EQ(both[0].qos, 2);
  // The same filter twice in one SUBSCRIBE: read once, at the QoS granted last.
  auto twice = subscribe(account(), {{"#", 2}, {"#", 0}});
  ASSERT_EQ(twice.size(), 1u);
  EXPECT_EQ(twice[0].qos, 0);
}

TEST_F(RetainedTest, MQTT_3_3_1_5_ANewRetainedPublishReplacesTheLast) {
  publish("r", "1", 1, true);
  publish("r", "2", 1, true);
  publish("r", "3", 1, false);  // not retained: the retained message stays 2
  auto got = subscribe(account(), {{"#", 1}});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(got[0].payload)["data"], 2);
}

TEST_F(RetainedTest, MQTT_3_3_1_10_AnEmptyRetainedPayloadClearsAndIsStoredAsEmptyText) {
  publish("c", "1", 0, true);
  Recorder live(account());
  live_.ctx().router.subscribe(account_, "#", &live, 0);
  publish("c", "", 0, true);
  live_.ctx().router.unsubscribe(account_, "#", &live);
  auto got = live.got();
  ASSERT_EQ(got.size(), 1u) << "delivered to current subscribers as a normal publish";
  EXPECT_EQ(nlohmann::json::parse(got[0].payload)["data"], "");
  EXPECT_TRUE(subscribe(account(), {{"#", 0}}).empty());
  // An empty payload without RETAIN is stored as before (data ""), and clears nothing.
  publish("d", "5", 0, true);
  publish("d", "", 0, false);
  auto d = subscribe(account(), {{"#", 0}});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(d[0].payload)["data"], 5);
}

TEST_F(RetainedTest, OnlyDevicesTheSubscriberMayRead) {
  publish("p", "1", 0, true);
  // A thing reads only itself (of.r = []).
  platform::Principal thing{
      account_, thing_id_, platform::default_perm(platform::DeviceKind::kThing), {}};
  EXPECT_TRUE(subscribe(thing, {{"#", 0}}).empty());
  EXPECT_EQ(subscribe(proto(), {{"#", 0}}).size(), 1u);
  // Another account's session: none of this account's.
  platform::Principal stranger{"com-000000000000000000000000", "", {}, {}};
  EXPECT_TRUE(subscribe(stranger, {{"#", 0}}).empty());
}

TEST_F(RetainedTest, ManyFiltersAndMessagesAreSentInTurns) {
  const std::size_t topics = RetainedSender::kMessagesPerTurn + 10;
  for (std::size_t i = 0; i < topics; ++i) publish("m/" + std::to_string(i), "1", 0, true);
  RetainedSender sender;
  sender.add("#", 0);
  Recorder to(account());
  EXPECT_EQ(send_all(sender, account(), to), 2);
  EXPECT_EQ(to.got().size(), topics);

  RetainedSender filters;
  const std::size_t n = RetainedSender::kFiltersPerRead + 6;
  for (std::size_t i = 0; i < n; ++i) filters.add("+/data/m/" + std::to_string(i), 0);
  filters.add(proto_.id + "/ag/prop/get", 0);  // cannot match a data topic: no read for it
  Recorder by_filter(account());
  EXPECT_EQ(send_all(filters, account(), by_filter), 2) << "two reads";
  EXPECT_EQ(by_filter.got().size(), n);
}

}  // namespace
}  // namespace plugmq::service
